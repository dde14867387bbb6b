/* The live ruleset from the kernel: chains, sets and their elements, then
 * rules, each one netlink dump (fw_nl.h says why not libnftables). */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "portkit/buf.h"

#include "firewall/fw_impl.h"
#include "firewall/fw_nl.h"
#include "firewall/fw_value.h"

struct nl {
    struct mnl_socket *sock;
    uint32_t portid, seq;
    char *buf;
    size_t bufsize;
};

struct dump {
    struct pk_firewall *fw;
    struct nftnl_set *elems; /* GETSETELEM: the set receiving them */
    int rc;
    int last_chain;          /* rules arrive grouped by chain */
};

static int family_of(uint32_t nfproto)
{
    switch (nfproto) {
    case NFPROTO_IPV4: return FW_FAM_IP;
    case NFPROTO_IPV6: return FW_FAM_IP6;
    case NFPROTO_INET: return FW_FAM_INET;
    case NFPROTO_NETDEV: return FW_FAM_NETDEV;
    case NFPROTO_BRIDGE: return FW_FAM_BRIDGE;
    case NFPROTO_ARP: return FW_FAM_ARP;
    default: return FW_FAM_OTHER;
    }
}

/* Hook numbers are per family; nft names them, and the JSON reader goes by
 * those names. */
static enum fw_hook hook_of(int family, uint32_t num)
{
    if (family == FW_FAM_NETDEV)
        return num == NF_NETDEV_INGRESS ? FH_INGRESS : FH_NONE;
    if (family == FW_FAM_ARP)
        return num == 0 ? FH_INPUT : num == 1 ? FH_OUTPUT : num == 2 ? FH_FORWARD : FH_NONE;
    switch (num) {
    case NF_INET_PRE_ROUTING: return FH_PREROUTING;
    case NF_INET_LOCAL_IN: return FH_INPUT;
    case NF_INET_FORWARD: return FH_FORWARD;
    case NF_INET_LOCAL_OUT: return FH_OUTPUT;
    case NF_INET_POST_ROUTING: return FH_POSTROUTING;
    case NF_INET_INGRESS: return FH_INGRESS;
    default: return FH_NONE;
    }
}

static int dump(struct nl *nl, uint16_t type, struct nftnl_set *elems_of, mnl_cb_t cb, struct dump *d,
                struct pk_err *err)
{
    struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(nl->buf, type, NFPROTO_UNSPEC, NLM_F_DUMP, ++nl->seq);
    if (elems_of) {
        nftnl_set_elems_nlmsg_build_payload(nlh, elems_of);
        /* the family of the set, not "any": element dumps name one set */
        ((struct nfgenmsg *)mnl_nlmsg_get_payload(nlh))->nfgen_family =
            (uint8_t)nftnl_set_get_u32(elems_of, NFTNL_SET_FAMILY);
    }
    if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
        return pk_err_sys(err, "cannot read the nftables ruleset: netlink send");
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl->sock, nl->buf, nl->bufsize);
        if (n < 0)
            return pk_err_sys(err, "cannot read the nftables ruleset: netlink receive");
        int rc = mnl_cb_run(nl->buf, (size_t)n, nl->seq, nl->portid, cb, d);
        if (d->rc)
            return d->rc;
        if (rc == MNL_CB_STOP)
            return 0;
        if (rc < 0) {
            if (errno == EPERM || errno == EACCES)
                return pk_err_set(err, PK_ESYS, "cannot read the nftables ruleset: %s (needs root)",
                                  strerror(errno));
            /* a set that went away between the two dumps */
            if (elems_of && errno == ENOENT)
                return 0;
            return pk_err_sys(err, "cannot read the nftables ruleset");
        }
    }
}

static char *dup_str(const char *s)
{
    return strdup(s ? s : "");
}

static int chain_cb(const struct nlmsghdr *nlh, void *arg)
{
    struct dump *d = arg;
    struct pk_firewall *fw = d->fw;
    struct nftnl_chain *c = nftnl_chain_alloc();
    if (!c || nftnl_chain_nlmsg_parse(nlh, c) < 0) {
        nftnl_chain_free(c);
        d->rc = c ? 0 : PK_ENOMEM;
        return c ? MNL_CB_OK : MNL_CB_ERROR;
    }
    if (pk_array_reserve(&fw->chains, &fw->cap_chains, fw->nchains + 1, sizeof *fw->chains, 16)) {
        nftnl_chain_free(c);
        d->rc = PK_ENOMEM;
        return MNL_CB_ERROR;
    }
    struct fw_chain *ch = &fw->chains[fw->nchains];
    memset(ch, 0, sizeof *ch);
    ch->family = family_of(nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY));
    ch->name = dup_str(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
    ch->table = dup_str(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE));
    ch->policy = FV_ACCEPT;
    ch->first_rule = fw->nrules;
    if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) {
        ch->hook = hook_of(ch->family, nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM));
        ch->prio = nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO);
        const char *type = nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE);
        ch->is_nat = type && strcmp(type, "nat") == 0;
        if (nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) && nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) == NF_DROP)
            ch->policy = FV_DROP;
    }
    const char *dev = nftnl_chain_is_set(c, NFTNL_CHAIN_DEV) ? nftnl_chain_get_str(c, NFTNL_CHAIN_DEV) : NULL;
    const char *const *devs = nftnl_chain_is_set(c, NFTNL_CHAIN_DEVICES)
                                  ? nftnl_chain_get(c, NFTNL_CHAIN_DEVICES) : NULL;
    size_t ndev = dev ? 1 : 0;
    while (devs && devs[ndev])
        ndev++;
    if (ndev && (ch->devs = calloc(ndev, sizeof *ch->devs)))
        for (size_t i = 0; i < ndev; i++)
            if ((ch->devs[ch->ndevs] = strdup(dev ? dev : devs[i])))
                ch->ndevs++;
    fw->nchains++;
    nftnl_chain_free(c);
    if (!ch->name || !ch->table || (ndev && ch->ndevs != ndev)) {
        d->rc = PK_ENOMEM;
        return MNL_CB_ERROR;
    }
    return MNL_CB_OK;
}

static int set_cb(const struct nlmsghdr *nlh, void *arg)
{
    struct dump *d = arg;
    struct pk_firewall *fw = d->fw;
    struct nftnl_set *ns = nftnl_set_alloc();
    struct fw_set *s = calloc(1, sizeof *s);
    if (!ns || !s || pk_array_reserve(&fw->sets, &fw->cap_sets, fw->nsets + 1, sizeof *fw->sets, 16)) {
        nftnl_set_free(ns);
        free(s);
        d->rc = PK_ENOMEM;
        return MNL_CB_ERROR;
    }
    if (nftnl_set_nlmsg_parse(nlh, ns) < 0) {
        nftnl_set_free(ns);
        free(s);
        return MNL_CB_OK;
    }
    fw->sets[fw->nsets++] = s;
    s->family = family_of(nftnl_set_get_u32(ns, NFTNL_SET_FAMILY));
    s->name = dup_str(nftnl_set_get_str(ns, NFTNL_SET_NAME));
    s->table = dup_str(nftnl_set_get_str(ns, NFTNL_SET_TABLE));
    uint32_t flags = nftnl_set_get_u32(ns, NFTNL_SET_FLAGS);
    s->is_vmap = (flags & NFT_SET_MAP) && nftnl_set_get_u32(ns, NFTNL_SET_DATA_TYPE) == NFT_DATA_VERDICT;
    fw_nl_set_shape(s, nftnl_set_get_u32(ns, NFTNL_SET_KEY_TYPE), nftnl_set_get_u32(ns, NFTNL_SET_KEY_LEN));
    nftnl_set_free(ns);
    if (!s->name || !s->table) {
        d->rc = PK_ENOMEM;
        return MNL_CB_ERROR;
    }
    return MNL_CB_OK;
}

void fw_nl_set_shape(struct fw_set *s, uint32_t key_type, uint32_t key_len)
{
    /* Concatenations pack one 6-bit datatype per field, first field highest. */
    unsigned n = 1;
    while (n < FW_CONCAT_MAX + 1 && (key_type >> (6 * n)))
        n++;
    s->nfields = (uint8_t)(n > FW_CONCAT_MAX ? FW_CONCAT_MAX : n);
    uint32_t total = 0;
    for (unsigned i = 0; i < s->nfields; i++) {
        uint32_t t = n == 1 ? key_type : (key_type >> (6 * (n - 1 - i))) & 0x3f;
        int ft;
        bool host, ifx;
        s->flen[i] = fw_nl_type_len(t, &ft, &host, &ifx);
        s->ftype[i] = ft;
        s->nl_conv[i] = ifx ? FW_NL_IFINDEX : host ? FW_NL_HOST_ORDER : FW_NL_AS_IS;
        total += ifx ? 4 : (s->flen[i] + 3u) & ~3u;
    }
    if (n == 1 && !s->flen[0] && key_len && key_len <= FW_VAL_MAX) {
        s->flen[0] = (uint8_t)key_len; /* a plain integer of the key's size */
        total = (key_len + 3u) & ~3u;
    }
    /* types this reader does not know (or a layout it cannot split) leave
     * the set unreadable: matches on it are undecided, never guessed */
    s->broken = n > FW_CONCAT_MAX || ((total != ((key_len + 3u) & ~3u)) && n > 1) || !s->flen[0];
    for (unsigned i = 0; i < s->nfields; i++)
        s->broken |= !s->flen[i];
}

static int elem_cb(const struct nlmsghdr *nlh, void *arg)
{
    struct dump *d = arg;
    if (nftnl_set_elems_nlmsg_parse(nlh, d->elems) < 0)
        d->rc = PK_ENOMEM;
    return d->rc ? MNL_CB_ERROR : MNL_CB_OK;
}

static int rule_cb(const struct nlmsghdr *nlh, void *arg)
{
    struct dump *d = arg;
    struct pk_firewall *fw = d->fw;
    struct nftnl_rule *nr = nftnl_rule_alloc();
    if (!nr) {
        d->rc = PK_ENOMEM;
        return MNL_CB_ERROR;
    }
    if (nftnl_rule_nlmsg_parse(nlh, nr) < 0) {
        nftnl_rule_free(nr);
        return MNL_CB_OK;
    }
    int family = family_of(nftnl_rule_get_u32(nr, NFTNL_RULE_FAMILY));
    const char *table = nftnl_rule_get_str(nr, NFTNL_RULE_TABLE), *chain = nftnl_rule_get_str(nr, NFTNL_RULE_CHAIN);
    int ci = d->last_chain;
    if (!table || !chain) {
        nftnl_rule_free(nr);
        return MNL_CB_OK;
    }
    if (ci < 0 || fw->chains[ci].family != family || strcmp(fw->chains[ci].name, chain) != 0 ||
        strcmp(fw->chains[ci].table, table) != 0)
        ci = d->last_chain = fw_find_chain(fw, family, table, chain);
    struct fw_chain *c = ci >= 0 ? &fw->chains[ci] : NULL;
    /* a chain added between the dumps, or rules not grouped by chain */
    if (!c || (c->nrules && c->first_rule + c->nrules != fw->nrules)) {
        nftnl_rule_free(nr);
        return MNL_CB_OK;
    }
    if (pk_array_reserve(&fw->rules, &fw->cap_rules, fw->nrules + 1, sizeof *fw->rules, 64)) {
        nftnl_rule_free(nr);
        d->rc = PK_ENOMEM;
        return MNL_CB_ERROR;
    }
    if (!c->nrules)
        c->first_rule = fw->nrules;
    struct fw_rule *r = &fw->rules[fw->nrules];
    memset(r, 0, sizeof *r);
    r->chain = ci;
    r->handle = nftnl_rule_get_u64(nr, NFTNL_RULE_HANDLE);
    int rc = fw_nl_compile_rule(fw, r, nr);
    nftnl_rule_free(nr);
    if (rc) {
        d->rc = rc;
        return MNL_CB_ERROR;
    }
    fw->nrules++;
    c->nrules++;
    return MNL_CB_OK;
}

/* nft's datatype numbers (nftables' datatype.h; stable, they are stored in
 * the kernel with every set). */
uint8_t fw_nl_type_len(uint32_t type, int *fw_type, bool *host_order, bool *ifindex)
{
    static const struct { uint8_t id, len, host, ifx; int t; } types[] = {
        {2, 1, 0, 0, FT_NFPROTO},  {4, 0, 0, 0, FT_INT},       {5, 16, 0, 0, FT_IFNAME},
        {7, 4, 0, 0, FT_ADDR4},    {8, 16, 0, 0, FT_ADDR6},    {12, 1, 0, 0, FT_PROTO},
        {13, 2, 0, 0, FT_PORT},    {15, 1, 0, 0, FT_TCPFLAGS}, {19, 4, 1, 0, FT_INT},
        {20, 16, 1, 1, FT_IFNAME}, {21, 2, 1, 0, FT_IFTYPE},   {26, 4, 1, 0, FT_CTSTATE},
        {27, 1, 0, 0, FT_CTDIR},   {28, 4, 1, 0, FT_CTSTATUS}, {31, 1, 0, 0, FT_PKTTYPE},
        {38, 4, 1, 0, FT_FIBTYPE}, {39, 1, 0, 0, FT_BOOL},     {41, 16, 0, 0, FT_IFNAME},
    };
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (types[i].id == type) {
            *fw_type = types[i].t;
            *host_order = types[i].host;
            *ifindex = types[i].ifx;
            return types[i].len;
        }
    *fw_type = FT_UNKNOWN;
    *host_order = *ifindex = false;
    return 0;
}

/* One key as the fields of the set: each field padded to 4 bytes in the
 * kernel's key, host-order ones turned big-endian, indexes into names. */
static bool split_key(const struct fw_set *s, const uint8_t *key, uint32_t len, struct fw_val *out)
{
    uint32_t off = 0;
    for (unsigned i = 0; i < s->nfields; i++) {
        bool host = s->nl_conv[i] == FW_NL_HOST_ORDER, ifx = s->nl_conv[i] == FW_NL_IFINDEX;
        uint32_t width = ifx ? 4 : s->flen[i];
        if (off + width > len)
            return false;
        memset(&out[i], 0, sizeof out[i]);
        out[i].len = s->flen[i];
        if (ifx) {
            uint32_t idx;
            memcpy(&idx, key + off, 4);
            fw_nl_ifindex_name(idx, out[i].b);
        } else {
            memcpy(out[i].b, key + off, width);
            if (host)
                fw_nl_host_to_be(out[i].b, width);
        }
        off += (width + 3u) & ~3u;
    }
    return true;
}

struct raw_elem {
    struct fw_val key[FW_CONCAT_MAX], end[FW_CONCAT_MAX];
    bool is_end, has_end;
    struct fw_verdict verdict;
};

struct elem_acc {
    struct pk_firewall *fw;
    struct fw_set *s;
    struct raw_elem *v;
    size_t n, cap;
    bool bad;
};

static int collect_elem(struct nftnl_set_elem *e, void *arg)
{
    struct elem_acc *a = arg;
    if (pk_array_reserve(&a->v, &a->cap, a->n + 1, sizeof *a->v, 64))
        return -1;
    struct raw_elem *r = &a->v[a->n];
    memset(r, 0, sizeof *r);
    uint32_t len = 0, flags = 0;
    const uint8_t *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS))
        flags = nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS);
    r->is_end = flags & NFT_SET_ELEM_INTERVAL_END;
    if (!key || !split_key(a->s, key, len, r->key)) {
        a->bad = true;
        return 0;
    }
    const uint8_t *end = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_KEY_END)
                             ? nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END, &len) : NULL;
    if (end && !(r->has_end = split_key(a->s, end, len, r->end)))
        a->bad = true;
    r->verdict.chain = -1;
    if (a->s->is_vmap && nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT)) {
        int code = (int)nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT);
        const char *chain = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN)
                                ? nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN) : NULL;
        r->verdict.kind = code == NF_ACCEPT ? FV_ACCEPT : code == NF_DROP ? FV_DROP
                        : code == NFT_JUMP ? FV_JUMP : code == NFT_GOTO ? FV_GOTO
                        : code == NFT_RETURN ? FV_RETURN : code == NFT_CONTINUE ? FV_CONTINUE : FV_QUEUE;
        if (chain)
            r->verdict.chain = fw_find_chain(a->fw, a->s->family, a->s->table, chain);
    }
    a->n++;
    return 0;
}

static int cmp_raw(const void *x, const void *y)
{
    const struct raw_elem *a = x, *b = y;
    int c = memcmp(a->key[0].b, b->key[0].b, FW_VAL_MAX);
    /* an interval's end sorts before a start at the same key (the next
     * interval starting where this one stops) */
    return c ? c : (int)b->is_end - (int)a->is_end;
}

/* Interval sets hold a start element and an end element (one past the
 * interval, flagged) per interval; an interval reaching the top of the
 * key space has no end element. */
static int build_intervals(struct fw_set *s, struct raw_elem *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_raw);
    for (size_t i = 0; i < n; i++) {
        if (v[i].is_end)
            continue;
        struct fw_val hi = v[i].key[0];
        if (i + 1 < n && v[i + 1].is_end) {
            hi = v[i + 1].key[0];
            int k = hi.len - 1; /* hi - 1, big-endian */
            while (k >= 0 && hi.b[k] == 0)
                hi.b[k--] = 0xff;
            if (k < 0)
                continue;
            hi.b[k]--;
        } else {
            memset(hi.b, 0xff, hi.len);
        }
        if (fw_set_add(s, v[i].key, &hi, &v[i].verdict))
            return PK_ENOMEM;
    }
    return 0;
}

static int read_elements(struct nl *nl, struct pk_firewall *fw, struct fw_set *s, struct pk_err *err)
{
    static const uint32_t nfproto[] = {[FW_FAM_IP] = NFPROTO_IPV4, [FW_FAM_IP6] = NFPROTO_IPV6,
                                       [FW_FAM_INET] = NFPROTO_INET, [FW_FAM_NETDEV] = NFPROTO_NETDEV,
                                       [FW_FAM_BRIDGE] = NFPROTO_BRIDGE, [FW_FAM_ARP] = NFPROTO_ARP};
    if (s->family >= FW_FAM_OTHER)
        return 0;
    struct nftnl_set *ns = nftnl_set_alloc();
    if (!ns)
        return PK_ENOMEM;
    nftnl_set_set_str(ns, NFTNL_SET_NAME, s->name);
    nftnl_set_set_str(ns, NFTNL_SET_TABLE, s->table);
    nftnl_set_set_u32(ns, NFTNL_SET_FAMILY, nfproto[s->family]);
    struct dump d = {.fw = fw, .elems = ns, .last_chain = -1};
    int rc = dump(nl, NFT_MSG_GETSETELEM, ns, elem_cb, &d, err);
    if (rc == 0)
        rc = fw_nl_fill_set(fw, s, ns);
    nftnl_set_free(ns);
    return rc == PK_ENOMEM ? pk_err_set(err, PK_ENOMEM, "out of memory reading the ruleset") : rc;
}

int fw_nl_fill_set(struct pk_firewall *fw, struct fw_set *s, struct nftnl_set *ns)
{
    struct elem_acc a = {.fw = fw, .s = s};
    int rc = 0;
    if (nftnl_set_elem_foreach(ns, collect_elem, &a) < 0)
        rc = PK_ENOMEM;
    bool interval = false;
    for (size_t i = 0; i < a.n; i++)
        interval |= a.v[i].is_end;
    if (rc == 0 && !a.bad && s->nfields == 1 && interval) {
        rc = build_intervals(s, a.v, a.n);
    } else if (rc == 0 && !a.bad) {
        for (size_t i = 0; i < a.n && rc == 0; i++)
            rc = fw_set_add(s, a.v[i].key, a.v[i].has_end ? a.v[i].end : a.v[i].key, &a.v[i].verdict);
    }
    s->broken |= a.bad;
    free(a.v);
    if (rc == 0)
        fw_set_finish(s);
    return rc;
}

int fw_nl_read(struct pk_firewall *fw, struct pk_err *err)
{
    struct nl nl = {.bufsize = 65536};
    if (!(nl.buf = malloc(nl.bufsize)))
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    nl.sock = mnl_socket_open(NETLINK_NETFILTER);
    if (!nl.sock || mnl_socket_bind(nl.sock, 0, MNL_SOCKET_AUTOPID) < 0) {
        int rc = pk_err_sys(err, "cannot read the nftables ruleset: netlink socket");
        if (nl.sock)
            mnl_socket_close(nl.sock);
        free(nl.buf);
        return rc;
    }
    nl.portid = mnl_socket_get_portid(nl.sock);
    nl.seq = (uint32_t)time(NULL);
    struct dump d = {.fw = fw, .last_chain = -1};
    int rc = dump(&nl, NFT_MSG_GETCHAIN, NULL, chain_cb, &d, err);
    if (rc == 0)
        rc = dump(&nl, NFT_MSG_GETSET, NULL, set_cb, &d, err);
    for (size_t i = 0; rc == 0 && i < fw->nsets; i++)
        if (!fw->sets[i]->broken)
            rc = read_elements(&nl, fw, fw->sets[i], err);
    if (rc == 0)
        rc = dump(&nl, NFT_MSG_GETRULE, NULL, rule_cb, &d, err);
    if (rc == 0)
        rc = fw_index(fw);
    mnl_socket_close(nl.sock);
    free(nl.buf);
    if (rc == PK_ENOMEM)
        return pk_err_set(err, PK_ENOMEM, "out of memory reading the ruleset");
    return rc;
}
