/* The kernel-ruleset reader (libnftnl objects into compiled rules) on
 * arbitrary input. The kernel only hands out well-formed expressions, but
 * their registers, lengths and order are whatever a ruleset made them, so
 * the input is read as: a set (key datatype, key length, map flag, then
 * elements with interval-end flags and key ends) and one rule of
 * expressions built through libnftnl's own setters. Whatever compiles must
 * evaluate and be described. */
#include <arpa/inet.h>
#include <stdio.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "firewall/fw_impl.h"
#include "firewall/fw_nl.h"
#include "portkit/firewall.h"

#include "fuzz_fw_packets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct in {
    const uint8_t *p;
    size_t n;
};

static uint8_t u8(struct in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static uint32_t u32(struct in *in)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | u8(in);
    return v;
}

/* up to 16 bytes, length first */
static uint32_t bytes(struct in *in, uint8_t *out)
{
    uint32_t len = u8(in) % 17;
    for (uint32_t i = 0; i < len; i++)
        out[i] = u8(in);
    return len ? len : 1;
}

static void add_chain(struct pk_firewall *fw, const char *name, enum fw_hook hook)
{
    struct fw_chain *c = &fw->chains[fw->nchains++];
    memset(c, 0, sizeof *c);
    c->name = strdup(name);
    c->table = strdup("t");
    c->family = FW_FAM_INET;
    c->hook = hook;
    c->policy = FV_DROP;
}

static struct nftnl_expr *expr(struct in *in)
{
    static const char *const names[] = {"payload", "meta", "ct", "fib", "bitwise", "cmp", "range", "lookup",
                                        "immediate", "nat", "redir", "reject", "counter", "limit", "objref",
                                        "queue", "connlimit", "dynset", "exthdr"};
    const char *name = names[u8(in) % (sizeof names / sizeof *names)];
    struct nftnl_expr *e = nftnl_expr_alloc(name);
    if (!e)
        return NULL;
    uint8_t buf[16];
    uint32_t len;
    /* register numbers: mostly valid ones, sometimes anything */
#define REG() (u8(in) % 2 ? (uint32_t)(NFT_REG32_00 + u8(in) % 16) : (uint32_t)u8(in) % 24)
    if (!strcmp(name, "payload")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, REG());
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, u8(in) % 4);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, u8(in) % 48);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, u8(in) % 20);
    } else if (!strcmp(name, "meta")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, u8(in) % 32);
        nftnl_expr_set_u32(e, u8(in) % 4 ? NFTNL_EXPR_META_DREG : NFTNL_EXPR_META_SREG, REG());
    } else if (!strcmp(name, "ct")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, u8(in) % 8);
        nftnl_expr_set_u32(e, u8(in) % 4 ? NFTNL_EXPR_CT_DREG : NFTNL_EXPR_CT_SREG, REG());
    } else if (!strcmp(name, "fib")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, REG());
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, u8(in) % 4);
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, u8(in) % 64);
    } else if (!strcmp(name, "bitwise")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, REG());
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, REG());
        len = bytes(in, buf);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, buf, len);
        len = bytes(in, buf);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, buf, len);
    } else if (!strcmp(name, "cmp")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, REG());
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, u8(in) % 7);
        len = bytes(in, buf);
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, buf, len);
    } else if (!strcmp(name, "range")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, REG());
        nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, u8(in) % 3);
        len = bytes(in, buf);
        nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, buf, len);
        len = bytes(in, buf);
        nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, buf, len);
    } else if (!strcmp(name, "lookup")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, REG());
        nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, u8(in) % 4 ? "s" : "none");
        if (u8(in) % 2)
            nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, REG());
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, u8(in) % 2);
    } else if (!strcmp(name, "immediate")) {
        uint32_t dreg = u8(in) % 2 ? NFT_REG_VERDICT : REG();
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, dreg);
        if (dreg == NFT_REG_VERDICT) {
            static const int verdicts[] = {NF_ACCEPT, NF_DROP, NFT_JUMP, NFT_GOTO, NFT_RETURN, NFT_CONTINUE, 3};
            int v = verdicts[u8(in) % 7];
            nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)v);
            if (v == NFT_JUMP || v == NFT_GOTO)
                nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, u8(in) % 4 ? "sub" : "nosuch");
        } else {
            len = bytes(in, buf);
            nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, buf, len);
        }
    } else if (!strcmp(name, "nat")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, u8(in) % 2);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, u8(in) % 2 ? 2 : 10);
        if (u8(in) % 2)
            nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, REG());
        if (u8(in) % 2)
            nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, REG());
    } else if (!strcmp(name, "redir")) {
        if (u8(in) % 2)
            nftnl_expr_set_u32(e, NFTNL_EXPR_REDIR_REG_PROTO_MIN, REG());
    } else if (!strcmp(name, "objref")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, u8(in) % 12);
        nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, "o");
    } else if (!strcmp(name, "dynset")) {
        nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, "s");
    }
#undef REG
    return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct in in = {data, size};
    struct pk_firewall *fw = calloc(1, sizeof *fw);
    fw->chains = calloc(2, sizeof *fw->chains);
    fw->cap_chains = 2;
    add_chain(fw, "input", FH_INPUT);
    add_chain(fw, "sub", FH_NONE);
    fw->sets = calloc(1, sizeof *fw->sets);
    fw->cap_sets = 1;
    struct fw_set *s = calloc(1, sizeof *s);
    fw->sets[fw->nsets++] = s;
    s->name = strdup("s");
    s->table = strdup("t");
    s->family = FW_FAM_INET;
    uint32_t key_type = u32(&in);
    fw_nl_set_shape(s, key_type, u8(&in) % 65);
    uint8_t flags = u8(&in);
    s->is_vmap = flags & 1;
    struct nftnl_set *ns = nftnl_set_alloc();
    for (unsigned n = u8(&in) % 32; n > 0 && in.n; n--) {
        struct nftnl_set_elem *el = nftnl_set_elem_alloc();
        uint8_t kb[16], eb[16], f = u8(&in);
        uint32_t kl = bytes(&in, kb);
        nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, kb, kl);
        nftnl_set_elem_set_u32(el, NFTNL_SET_ELEM_FLAGS, f & 1);
        if (f & 2) {
            uint32_t el_len = bytes(&in, eb);
            nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY_END, eb, el_len);
        }
        if (s->is_vmap) {
            nftnl_set_elem_set_u32(el, NFTNL_SET_ELEM_VERDICT, f & 4 ? (uint32_t)NFT_JUMP : (uint32_t)(f >> 4) % 2);
            if (f & 4)
                nftnl_set_elem_set_str(el, NFTNL_SET_ELEM_CHAIN, "sub");
        }
        nftnl_set_elem_add(ns, el);
    }
    if (!s->broken)
        fw_nl_fill_set(fw, s, ns);
    nftnl_set_free(ns);

    struct nftnl_rule *nr = nftnl_rule_alloc();
    for (unsigned n = 0; n < 24 && in.n; n++) {
        struct nftnl_expr *e = expr(&in);
        if (e)
            nftnl_rule_add_expr(nr, e);
    }
    fw->rules = calloc(1, sizeof *fw->rules);
    fw->cap_rules = 1;
    struct fw_rule *r = &fw->rules[0];
    r->chain = 0;
    r->handle = 7;
    if (fw_nl_compile_rule(fw, r, nr) == 0) {
        fw->nrules = 1;
        fw->chains[0].nrules = 1;
        if (fw_index(fw) != 0)
            __builtin_trap();
        fuzz_fw_eval_packets(fw);
        char desc[512];
        fw_rule_describe(fw, r, desc, sizeof desc);
    }
    nftnl_rule_free(nr);
    pk_firewall_free(fw);
    return 0;
}
