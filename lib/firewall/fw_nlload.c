/* The netlink reader's loads: which packet field each register holds
 * after payload, meta, ct, fib and bitwise expressions (fw_nlexpr.c has
 * the tests that use them). */
#include <stdio.h> /* libnftnl/expr.h uses FILE */
#include <libnftnl/expr.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>

#include "firewall/fw_nl.h"
#include "firewall/fw_nlcx.h"
#include "firewall/fw_value.h"

void fw_nl_host_to_be(uint8_t *b, size_t len)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (size_t i = 0; i < len / 2; i++) {
        uint8_t t = b[i];
        b[i] = b[len - 1 - i];
        b[len - 1 - i] = t;
    }
#else
    (void)b;
    (void)len;
#endif
}

void fw_nl_ifindex_name(uint32_t index, uint8_t out[16])
{
    char name[IF_NAMESIZE + 1] = {0};
    memset(out, 0, 16);
    /* an index with no interface now names no packet's interface */
    if (!if_indextoname(index, name))
        snprintf(name, sizeof name, "#%u", index);
    memcpy(out, name, strnlen(name, 15));
}


static struct reg *load(struct cx *x, uint32_t dreg, enum fw_key key, enum fw_need need, enum fw_type t,
                        uint8_t len, const char *name)
{
    int i = reg_index(dreg);
    if (i < 0)
        return NULL;
    struct reg *g = &x->regs[i];
    memset(g, 0, sizeof *g);
    g->kind = R_FIELD;
    g->f.key = key;
    g->f.need = need;
    g->f.type = t;
    g->f.len = len;
    g->width = len;
    g->name = name;
    return g;
}

void fw_nl_load_unknown(struct cx *x, uint32_t dreg)
{
    struct reg *g = reg_at(x, dreg);
    if (g) {
        memset(g, 0, sizeof *g);
        g->kind = R_UNKNOWN;
    }
}

/* A protocol dependency ("meta l4proto tcp" before "tcp dport") is kept as
 * a match but not said: nft prints the two as "tcp dport". */
static void drop_dependency_text(struct cx *x)
{
    if (x->dep && x->text.len == x->dep_end) {
        x->text.len = x->dep_start;
        if (x->text.data)
            x->text.data[x->text.len] = '\0';
    }
    x->dep = false;
}

/* Dependencies in a row (nfproto, then l4proto) go together. */
void fw_nl_note_dependency(struct cx *x, size_t start)
{
    if (!x->dep || x->dep_end != start)
        x->dep_start = start;
    x->dep = true;
    x->dep_end = x->text.len;
}

static void load_address(struct cx *x, uint32_t dreg, enum fw_key key, bool v6, uint32_t off_in, uint32_t len)
{
    static const char *const names[2][2] = {{"ip saddr", "ip daddr"}, {"ip6 saddr", "ip6 daddr"}};
    uint8_t full = v6 ? 16 : 4;
    struct reg *g = load(x, dreg, key, v6 ? FN_IP6 : FN_IP4, v6 ? FT_ADDR6 : FT_ADDR4, full,
                         names[v6][key == FK_DADDR]);
    if (!g)
        return;
    g->width = (uint8_t)len;
    if (off_in != 0 || len > full || len == 0) {
        g->kind = R_UNKNOWN;
    } else if (len < full) { /* nft loads only the bytes a byte-aligned prefix needs */
        g->prefixed = true;
        memset(g->pmask, 0xff, len);
    }
    drop_dependency_text(x);
}

void fw_nl_load_payload(struct cx *x, const struct nftnl_expr *e)
{
    uint32_t dreg = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_DREG);
    uint32_t base = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE);
    uint32_t off = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET);
    uint32_t len = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN);
    if (base == NFT_PAYLOAD_NETWORK_HEADER && x->l3 == AF_INET) {
        if (off >= 12 && off < 16)
            return load_address(x, dreg, FK_SADDR, false, off - 12, len);
        if (off >= 16 && off < 20)
            return load_address(x, dreg, FK_DADDR, false, off - 16, len);
        if (off == 9 && len == 1) {
            load(x, dreg, FK_L4PROTO, FN_IP4, FT_PROTO, 1, "ip protocol");
            drop_dependency_text(x);
            return;
        }
    } else if (base == NFT_PAYLOAD_NETWORK_HEADER && x->l3 == AF_INET6) {
        if (off >= 8 && off < 24)
            return load_address(x, dreg, FK_SADDR, true, off - 8, len);
        if (off >= 24 && off < 40)
            return load_address(x, dreg, FK_DADDR, true, off - 24, len);
        if (off == 6 && len == 1) {
            load(x, dreg, FK_L4PROTO, FN_IP6, FT_PROTO, 1, "ip6 nexthdr");
            drop_dependency_text(x);
            return;
        }
    } else if (base == NFT_PAYLOAD_TRANSPORT_HEADER && len == 2 && (off == 0 || off == 2)) {
        enum fw_need need = x->l4 == 6 ? FN_TCP : x->l4 == 17 ? FN_UDP : FN_TCPUDP;
        static const char *const names[3][2] = {{"tcp sport", "tcp dport"}, {"udp sport", "udp dport"},
                                                {"th sport", "th dport"}};
        int n = need == FN_TCP ? 0 : need == FN_UDP ? 1 : 2;
        load(x, dreg, off ? FK_DPORT : FK_SPORT, need, FT_PORT, 2, names[n][off == 2]);
        drop_dependency_text(x);
        return;
    } else if (base == NFT_PAYLOAD_TRANSPORT_HEADER && off == 13 && len == 1 && x->l4 == 6) {
        load(x, dreg, FK_TCP_FLAGS, FN_TCP, FT_TCPFLAGS, 1, "tcp flags");
        drop_dependency_text(x);
        return;
    }
    fw_nl_load_unknown(x, dreg);
}

void fw_nl_load_meta(struct cx *x, uint32_t key, uint32_t dreg)
{
    struct reg *g = NULL;
    switch (key) {
    case NFT_META_L4PROTO: g = load(x, dreg, FK_L4PROTO, FN_ANY, FT_PROTO, 1, "meta l4proto"); break;
    case NFT_META_NFPROTO: g = load(x, dreg, FK_NFPROTO, FN_ANY, FT_NFPROTO, 1, "meta nfproto"); break;
    case NFT_META_PROTOCOL:
        if ((g = load(x, dreg, FK_NFPROTO, FN_ANY, FT_NFPROTO, 1, "meta protocol")))
            g->ethertype = true, g->width = 2;
        break;
    case NFT_META_IIF:
    case NFT_META_OIF:
        g = load(x, dreg, key == NFT_META_IIF ? FK_IIFNAME : FK_OIFNAME, FN_ANY, FT_IFNAME, 16,
                 key == NFT_META_IIF ? "iif" : "oif");
        if (g)
            g->ifindex = true, g->host_order = true, g->width = 4;
        break;
    case NFT_META_IIFNAME: g = load(x, dreg, FK_IIFNAME, FN_ANY, FT_IFNAME, 16, "iifname"); break;
    case NFT_META_OIFNAME: g = load(x, dreg, FK_OIFNAME, FN_ANY, FT_IFNAME, 16, "oifname"); break;
    case NFT_META_IIFTYPE:
        if ((g = load(x, dreg, FK_IIFTYPE, FN_ANY, FT_IFTYPE, 2, "meta iiftype")))
            g->host_order = true;
        break;
    case NFT_META_MARK:
        if ((g = load(x, dreg, FK_MARK, FN_ANY, FT_INT, 4, "meta mark")))
            g->host_order = true;
        break;
    case NFT_META_PKTTYPE: g = load(x, dreg, FK_PKTTYPE, FN_ANY, FT_PKTTYPE, 1, "meta pkttype"); break;
    default: fw_nl_load_unknown(x, dreg); return;
    }
}

void fw_nl_load_ct(struct cx *x, const struct nftnl_expr *e)
{
    uint32_t key = nftnl_expr_get_u32(e, NFTNL_EXPR_CT_KEY), dreg = nftnl_expr_get_u32(e, NFTNL_EXPR_CT_DREG);
    struct reg *g = NULL;
    if (nftnl_expr_is_set(e, NFTNL_EXPR_CT_DIR)) {
        fw_nl_load_unknown(x, dreg);
        return;
    }
    switch (key) {
    case NFT_CT_STATE: g = load(x, dreg, FK_CT_STATE, FN_ANY, FT_CTSTATE, 4, "ct state"); break;
    case NFT_CT_STATUS: g = load(x, dreg, FK_CT_STATUS, FN_ANY, FT_CTSTATUS, 4, "ct status"); break;
    case NFT_CT_DIRECTION: load(x, dreg, FK_CT_DIRECTION, FN_ANY, FT_CTDIR, 1, "ct direction"); return;
    case NFT_CT_MARK: g = load(x, dreg, FK_CT_MARK, FN_ANY, FT_INT, 4, "ct mark"); break;
    default: fw_nl_load_unknown(x, dreg); return;
    }
    if (g)
        g->host_order = true;
}

void fw_nl_load_fib(struct cx *x, const struct nftnl_expr *e)
{
    uint32_t dreg = nftnl_expr_get_u32(e, NFTNL_EXPR_FIB_DREG);
    uint32_t result = nftnl_expr_get_u32(e, NFTNL_EXPR_FIB_RESULT);
    uint32_t flags = nftnl_expr_get_u32(e, NFTNL_EXPR_FIB_FLAGS);
    bool saddr = flags & NFTA_FIB_F_SADDR, daddr = flags & NFTA_FIB_F_DADDR;
    struct reg *g = NULL;
    if (saddr != daddr && result == NFT_FIB_RESULT_ADDRTYPE) {
        g = load(x, dreg, daddr ? FK_FIB_DADDR_TYPE : FK_FIB_SADDR_TYPE, FN_ANY, FT_FIBTYPE, 4,
                 daddr ? "fib daddr type" : "fib saddr type");
        if (g)
            g->host_order = true;
    } else if (saddr && !daddr && (result == NFT_FIB_RESULT_OIF || result == NFT_FIB_RESULT_OIFNAME)) {
        g = load(x, dreg, FK_FIB_RPF, FN_ANY, FT_BOOL, 1, "fib saddr . iif oif");
        if (g)
            g->rpf = true, g->width = 4; /* "present" is a bool, still compared as 4 bytes */
    } else {
        fw_nl_load_unknown(x, dreg);
    }
}

void fw_nl_bitwise(struct cx *x, const struct nftnl_expr *e)
{
    struct reg *src = reg_at(x, nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_SREG));
    uint32_t dreg = nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_DREG);
    uint32_t mlen = 0, xlen = 0;
    const uint8_t *mask = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_MASK, &mlen);
    const uint8_t *xr = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_XOR, &xlen);
    bool plain = !nftnl_expr_is_set(e, NFTNL_EXPR_BITWISE_OP) ||
                 nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_OP) == NFT_BITWISE_BOOL;
    bool xor_zero = true;
    for (uint32_t i = 0; xr && i < xlen; i++)
        xor_zero &= xr[i] == 0;
    struct reg *dst = reg_at(x, dreg);
    if (!src || !dst || src->kind != R_FIELD || !plain || !mask || !xor_zero || mlen != src->width ||
        mlen > FW_VAL_MAX || src->ifindex || src->ethertype || src->rpf) {
        fw_nl_load_unknown(x, dreg);
        return;
    }
    struct reg g = *src;
    if (g.f.key == FK_SADDR || g.f.key == FK_DADDR) {
        /* only a prefix mask (ones, then zeros) keeps the value a range */
        bool zero_seen = false, prefix = true;
        for (uint32_t i = 0; i < mlen * 8; i++) {
            bool bit = mask[i / 8] & (0x80 >> (i % 8));
            prefix &= !(bit && zero_seen);
            zero_seen |= !bit;
        }
        if (!prefix) {
            fw_nl_load_unknown(x, dreg);
            return;
        }
        memset(g.pmask, 0, sizeof g.pmask);
        for (uint32_t i = 0; i < mlen; i++)
            g.pmask[i] = mask[i] & (src->prefixed ? src->pmask[i] : 0xff);
        g.prefixed = true;
    } else {
        uint8_t m[FW_VAL_MAX] = {0};
        memcpy(m, mask, mlen);
        if (g.host_order)
            fw_nl_host_to_be(m, mlen);
        for (uint32_t i = 0; i < mlen; i++)
            g.f.mask[i] = g.f.masked ? (uint8_t)(g.f.mask[i] & m[i]) : m[i];
        g.f.masked = true;
    }
    *dst = g;
}
