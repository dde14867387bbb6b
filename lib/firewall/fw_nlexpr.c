/* One rule as the kernel holds it (libnftnl expressions) into fw_stmt
 * records and a text in nft's syntax. The kernel's rule is a register
 * machine: loads (payload, meta, ct, fib) put a packet field in a
 * register; cmp, range and lookup test it; immediate gives a verdict or a
 * constant for NAT and marks. Registers are tracked per rule, so a test
 * knows which field it is about. What cannot be tied to a field the
 * evaluator knows becomes FS_UNDECIDED, as in the JSON reader. */
#include <arpa/inet.h>
#include <stdio.h> /* libnftnl/expr.h uses FILE */
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "portkit/buf.h"

#include "firewall/fw_impl.h"
#include "firewall/fw_nl.h"
#include "firewall/fw_nlcx.h"
#include "firewall/fw_value.h"


void fw_nl_say(struct cx *x, const char *fmt, ...)
{
    if (x->text.len)
        pk_buf_putc(&x->text, ' ');
    va_list ap;
    va_start(ap, fmt);
    pk_buf_vprintf(&x->text, fmt, ap);
    va_end(ap);
}

static struct fw_stmt *new_stmt(struct cx *x, enum fw_skind kind)
{
    struct fw_rule *r = x->r;
    if (r->nstmts == UINT16_MAX)
        return NULL;
    if (PK_ARRAY_RESERVE(r->stmts, x->cap, (size_t)r->nstmts + 1, 4)) {
        x->rc = PK_ENOMEM;
        return NULL;
    }
    struct fw_stmt *s = &r->stmts[r->nstmts++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    return s;
}

static void undecided(struct cx *x, const char *why)
{
    struct fw_stmt *s = new_stmt(x, FS_UNDECIDED);
    if (s)
        s->why = why;
}

static void unsupported(struct cx *x, const char *why)
{
    struct fw_stmt *s = new_stmt(x, FS_UNSUPPORTED_VERDICT);
    if (s)
        s->why = why;
}

/* ---- tests ---------------------------------------------------------------------- */

static const char *op_text(enum fw_op op)
{
    static const char *const ops[] = {"", "!= ", "< ", "> ", "<= ", ">= ", ""};
    return ops[op];
}

/* The value bytes a cmp/range compares with, as [lo, hi] of the field. */
static bool to_range(const struct reg *g, const uint8_t *data, uint32_t dlen, struct fw_val *lo,
                     struct fw_val *hi)
{
    uint8_t buf[FW_VAL_MAX] = {0};
    uint8_t len = g->f.len;
    memset(lo, 0, sizeof *lo);
    memset(hi, 0, sizeof *hi);
    lo->len = hi->len = len;
    if (dlen > FW_VAL_MAX || dlen > g->width)
        return false;
    memcpy(buf, data, dlen);
    if (g->ethertype) {
        uint16_t et = (uint16_t)(buf[0] << 8 | buf[1]);
        lo->b[0] = hi->b[0] = et == 0x0800 ? 2 : et == 0x86dd ? 10 : 0;
        return dlen == 2;
    }
    if (g->rpf) {
        bool any = false;
        for (uint32_t i = 0; i < dlen; i++)
            any |= buf[i] != 0;
        lo->b[0] = hi->b[0] = any;
        return true;
    }
    if (g->ifindex) {
        uint32_t idx;
        if (dlen != 4)
            return false;
        memcpy(&idx, buf, 4);
        fw_nl_ifindex_name(idx, lo->b);
        *hi = *lo;
        return true;
    }
    if (g->host_order)
        fw_nl_host_to_be(buf, dlen);
    if (g->prefixed) {
        for (uint8_t i = 0; i < len; i++) {
            lo->b[i] = buf[i] & g->pmask[i];
            hi->b[i] = lo->b[i] | (uint8_t)~g->pmask[i];
        }
        return true;
    }
    memcpy(lo->b, buf, len);
    memcpy(hi->b, buf, len);
    if (dlen < len) /* iifname "eth*": the bytes given, then anything */
        memset(hi->b + dlen, 0xff, len - dlen);
    return true;
}

static struct fw_set *one_range(struct cx *x, const struct fw_field *f, const struct fw_val *lo,
                                const struct fw_val *hi)
{
    struct fw_set *set = calloc(1, sizeof *set);
    if (set) {
        set->nfields = 1;
        set->ftype[0] = f->type;
        set->flen[0] = f->len;
        set->family = x->c->family;
    }
    if (!set || fw_set_add(set, lo, hi, NULL)) {
        free(set);
        x->rc = PK_ENOMEM;
        return NULL;
    }
    return set;
}

/* A test of one register against [lo, hi] with op. */
static void match_range(struct cx *x, const struct reg *g, enum fw_op op, const uint8_t *data, uint32_t dlen,
                        const uint8_t *data_hi, uint32_t dlen_hi)
{
    struct fw_val lo, hi, lo2, hi2;
    if (!g || g->kind != R_FIELD || !to_range(g, data, dlen, &lo, &hi) ||
        (data_hi && !to_range(g, data_hi, dlen_hi, &lo2, &hi2)) ||
        ((g->prefixed || memcmp(lo.b, hi.b, lo.len) != 0) && op != FO_EQ && op != FO_NE)) {
        undecided(x, "a match portkit cannot decide");
        fw_nl_say(x, "<match>");
        return;
    }
    if (data_hi)
        hi = hi2;
    struct fw_field f = g->f;
    enum fw_type t = (enum fw_type)f.type;
    bool flags_any = false;
    /* nft writes "dport 1000-1003" as ">= 1000" then "<= 1003": one range
     * again, so the rule is gated by its ports like the JSON reader's */
    struct fw_stmt *ge = x->ge_stmt >= 0 && x->ge_stmt == x->r->nstmts - 1 ? &x->r->stmts[x->ge_stmt] : NULL;
    x->ge_stmt = -1;
    if (ge && op == FO_LE && !data_hi && !f.masked && !g->prefixed && ge->f[0].key == f.key &&
        ge->f[0].need == f.need && !ge->f[0].masked && memcmp(ge->set->elems[0].lo[0].b, hi.b, hi.len) <= 0) {
        ge->op = FO_EQ;
        ge->flags_any = false;
        ge->set->elems[0].hi[0] = hi;
        x->text.len = x->ge_start;
        x->text.data[x->text.len] = '\0';
        fw_nl_say(x, "%s ", g->name);
        fw_put_value(&x->text, &f, &ge->set->elems[0].lo[0], &hi);
        return;
    }
    if (fw_type_is_flags(t) && f.masked && !data_hi && fw_val_to_uint(&lo) == 0 && (op == FO_EQ || op == FO_NE)) {
        /* (state & bits) != 0: any of the bits; == 0: none of them */
        flags_any = true;
        op = op == FO_NE ? FO_EQ : FO_NE;
        memset(&lo, 0, sizeof lo);
        lo.len = f.len;
        memcpy(lo.b, f.mask, f.len);
        hi = lo;
        f.masked = false;
    } else if (fw_type_is_flags(t) && !f.masked && t != FT_TCPFLAGS && !data_hi) {
        flags_any = op == FO_EQ || op == FO_NE;
    }
    struct fw_stmt *s = new_stmt(x, FS_MATCH);
    if (!s)
        return;
    s->op = op;
    s->nfields = 1;
    s->f[0] = f;
    s->flags_any = flags_any;
    s->set = one_range(x, &f, &lo, &hi);
    s->set_owned = true;
    if (!s->set) {
        x->r->nstmts--;
        return;
    }
    size_t start = x->text.len;
    if (op == FO_GE && !data_hi && !flags_any && !f.masked && !g->prefixed) {
        x->ge_stmt = x->r->nstmts - 1;
        x->ge_start = start;
    }
    fw_nl_say(x, "%s %s", g->name, op_text(op));
    fw_put_value(&x->text, &f, &lo, &hi);
    if (op == FO_EQ && f.key == FK_L4PROTO && memcmp(lo.b, hi.b, 1) == 0) {
        x->l4 = lo.b[0];
        fw_nl_note_dependency(x, start);
    } else if (op == FO_EQ && f.key == FK_NFPROTO && memcmp(lo.b, hi.b, 1) == 0 && !flags_any) {
        x->l3 = lo.b[0] == 2 ? AF_INET : lo.b[0] == 10 ? AF_INET6 : x->l3;
        fw_nl_note_dependency(x, start);
    }
}

static void cmp(struct cx *x, const struct nftnl_expr *e)
{
    static const enum fw_op ops[] = {[NFT_CMP_EQ] = FO_EQ, [NFT_CMP_NEQ] = FO_NE, [NFT_CMP_LT] = FO_LT,
                                     [NFT_CMP_LTE] = FO_LE, [NFT_CMP_GT] = FO_GT, [NFT_CMP_GTE] = FO_GE};
    uint32_t op = nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP), dlen = 0;
    const uint8_t *data = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &dlen);
    if (op > NFT_CMP_GTE || !data) {
        undecided(x, "a match portkit cannot decide");
        return;
    }
    match_range(x, reg_at(x, nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_SREG)), ops[op], data, dlen, NULL, 0);
}

static void range(struct cx *x, const struct nftnl_expr *e)
{
    uint32_t op = nftnl_expr_get_u32(e, NFTNL_EXPR_RANGE_OP), l1 = 0, l2 = 0;
    const uint8_t *from = nftnl_expr_get(e, NFTNL_EXPR_RANGE_FROM_DATA, &l1);
    const uint8_t *to = nftnl_expr_get(e, NFTNL_EXPR_RANGE_TO_DATA, &l2);
    if (!from || !to) {
        undecided(x, "a match portkit cannot decide");
        return;
    }
    match_range(x, reg_at(x, nftnl_expr_get_u32(e, NFTNL_EXPR_RANGE_SREG)), op == NFT_RANGE_NEQ ? FO_NE : FO_EQ,
                from, l1, to, l2);
}

static void say_set(struct cx *x, const struct fw_stmt *s)
{
    const struct fw_set *set = s->set;
    if (strncmp(set->name, "__", 2) != 0) {
        pk_buf_printf(&x->text, "@%s", set->name);
        return;
    }
    pk_buf_puts(&x->text, "{ ");
    for (size_t i = 0; i < set->n && i < 8; i++) {
        if (i)
            pk_buf_puts(&x->text, ", ");
        for (uint8_t k = 0; k < s->nfields; k++) {
            if (k)
                pk_buf_puts(&x->text, " . ");
            fw_put_value(&x->text, &s->f[k], &set->elems[i].lo[k], &set->elems[i].hi[k]);
        }
    }
    pk_buf_puts(&x->text, set->n > 8 ? ", ... }" : " }");
}

static void lookup(struct cx *x, const struct nftnl_expr *e)
{
    const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);
    bool has_dreg = nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG);
    uint32_t dreg = has_dreg ? nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_DREG) : 0;
    bool vmap = has_dreg && dreg == NFT_REG_VERDICT;
    struct fw_set *set = name ? fw_find_set(x->fw, x->c->family, x->c->table, name) : NULL;
    int at = reg_index(nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_SREG));
    struct fw_stmt tmp = {.kind = vmap ? FS_VMAP : FS_MATCH, .set = set};
    const char *names[FW_CONCAT_MAX] = {0};
    bool ok = set && !set->broken && at >= 0 && set->is_vmap == vmap && set->nfields <= FW_CONCAT_MAX;
    for (uint8_t i = 0; ok && i < set->nfields; i++) {
        const struct reg *g = at < NREG ? &x->regs[at] : NULL;
        ok = g && g->kind == R_FIELD && !g->prefixed && !g->ethertype && !g->rpf &&
             (!set->flen[i] || set->flen[i] == g->f.len);
        if (ok) {
            tmp.f[i] = g->f;
            names[i] = g->name;
            at += (g->width + 3) / 4;
        }
    }
    if (has_dreg && !vmap)
        fw_nl_load_unknown(x, dreg); /* a map's value: NAT or marks from it are not followed */
    if (!ok) {
        if (vmap)
            unsupported(x, "a verdict map portkit cannot read");
        else
            undecided(x, "a match portkit cannot decide");
        fw_nl_say(x, "%s", vmap ? "vmap <map>" : "<lookup>");
        return;
    }
    tmp.nfields = set->nfields;
    if (!vmap && (nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_FLAGS) & NFT_LOOKUP_F_INV))
        tmp.op = FO_NE;
    struct fw_stmt *s = new_stmt(x, tmp.kind);
    if (!s)
        return;
    *s = tmp;
    size_t before = x->text.len;
    for (uint8_t i = 0; i < s->nfields; i++)
        pk_buf_printf(&x->text, "%s%s", i ? " . " : before ? " " : "", names[i]);
    pk_buf_puts(&x->text, vmap ? " vmap " : s->op == FO_NE ? " != " : " ");
    say_set(x, s);
}

static void verdict(struct cx *x, const struct nftnl_expr *e)
{
    int code = (int)nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT);
    const char *chain = nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN);
    struct fw_stmt *s = new_stmt(x, FS_VERDICT);
    if (!s)
        return;
    s->verdict.chain = -1;
    switch (code) {
    case NF_ACCEPT: s->verdict.kind = FV_ACCEPT; fw_nl_say(x, "accept"); return;
    case NF_DROP: s->verdict.kind = FV_DROP; fw_nl_say(x, "drop"); return;
    case NFT_RETURN: s->verdict.kind = FV_RETURN; fw_nl_say(x, "return"); return;
    case NFT_CONTINUE: s->verdict.kind = FV_CONTINUE; fw_nl_say(x, "continue"); return;
    case NFT_JUMP:
    case NFT_GOTO:
        s->verdict.kind = code == NFT_JUMP ? FV_JUMP : FV_GOTO;
        s->verdict.chain = chain ? fw_find_chain(x->fw, x->c->family, x->c->table, chain) : -1;
        fw_nl_say(x, "%s %s", code == NFT_JUMP ? "jump" : "goto", chain ? chain : "?");
        if (s->verdict.chain < 0) {
            s->kind = FS_UNSUPPORTED_VERDICT;
            s->why = "a jump to a chain that is not in the ruleset";
        }
        return;
    default:
        s->kind = FS_UNSUPPORTED_VERDICT;
        s->why = (code & NF_VERDICT_MASK) == NF_QUEUE ? "queue to a user-space program"
                                                       : "a verdict portkit cannot follow";
        fw_nl_say(x, "%s", (code & NF_VERDICT_MASK) == NF_QUEUE ? "queue" : "<verdict>");
        return;
    }
}

static void immediate(struct cx *x, const struct nftnl_expr *e)
{
    uint32_t dreg = nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG), len = 0;
    if (dreg == NFT_REG_VERDICT)
        return verdict(x, e);
    const uint8_t *data = nftnl_expr_get(e, NFTNL_EXPR_IMM_DATA, &len);
    struct reg *g = reg_at(x, dreg);
    if (!g)
        return;
    memset(g, 0, sizeof *g);
    g->kind = data && len <= FW_VAL_MAX ? R_CONST : R_UNKNOWN;
    if (g->kind == R_CONST) {
        memcpy(g->data, data, len);
        g->data_len = (uint8_t)len;
    }
}

/* meta mark set / ct mark set: from a constant, or not followed. */
static void mark_set(struct cx *x, const struct reg *g, bool ct)
{
    if (!g || g->kind != R_CONST || g->data_len != 4) {
        unsupported(x, "a mark set from a computed value");
        fw_nl_say(x, "%s mark set <value>", ct ? "ct" : "meta");
        return;
    }
    struct fw_stmt *s = new_stmt(x, ct ? FS_CTMARK_SET : FS_MARK_SET);
    if (!s)
        return;
    memcpy(&s->mark, g->data, 4); /* marks are host order in registers */
    fw_nl_say(x, "%s mark set 0x%08x", ct ? "ct" : "meta", s->mark);
}

static void nat(struct cx *x, const struct nftnl_expr *e, bool redirect)
{
    uint16_t attr_port = redirect ? NFTNL_EXPR_REDIR_REG_PROTO_MIN : NFTNL_EXPR_NAT_REG_PROTO_MIN;
    struct fw_stmt st = {.kind = FS_NAT, .redirect = redirect};
    bool ok = true;
    if (nftnl_expr_is_set(e, attr_port)) {
        const struct reg *g = reg_at(x, nftnl_expr_get_u32(e, attr_port));
        ok = g && g->kind == R_CONST && g->data_len >= 2;
        if (ok)
            st.nat_port = (uint16_t)(g->data[0] << 8 | g->data[1]);
    }
    if (ok && !redirect && nftnl_expr_is_set(e, NFTNL_EXPR_NAT_REG_ADDR_MIN)) {
        const struct reg *g = reg_at(x, nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN));
        st.nat_family = nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_FAMILY) == NFPROTO_IPV6 ? AF_INET6 : AF_INET;
        uint8_t want = st.nat_family == AF_INET6 ? 16 : 4;
        ok = g && g->kind == R_CONST && g->data_len == want;
        if (ok) {
            memcpy(st.nat_addr, g->data, want);
            st.has_addr = true;
        }
    }
    if (!ok) {
        unsupported(x, "a NAT rule whose target portkit cannot follow");
        fw_nl_say(x, "%s", redirect ? "redirect" : "dnat");
        return;
    }
    struct fw_stmt *s = new_stmt(x, FS_NAT);
    if (!s)
        return;
    *s = st;
    char a[INET6_ADDRSTRLEN] = "";
    if (st.has_addr)
        inet_ntop(st.nat_family, st.nat_addr, a, sizeof a);
    if (redirect)
        fw_nl_say(x, st.nat_port ? "redirect to :%u" : "redirect", st.nat_port);
    else if (st.nat_port)
        fw_nl_say(x, st.nat_family == AF_INET6 ? "dnat to [%s]:%u" : "dnat to %s:%u", a, st.nat_port);
    else
        fw_nl_say(x, "dnat to %s", a);
}

static void objref(struct cx *x, const struct nftnl_expr *e)
{
    uint32_t type = nftnl_expr_is_set(e, NFTNL_EXPR_OBJREF_IMM_TYPE)
                        ? nftnl_expr_get_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE) : NFT_OBJECT_COUNTER;
    const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_OBJREF_IMM_NAME);
    if (type == NFT_OBJECT_QUOTA)
        undecided(x, "a quota");
    else if (type == NFT_OBJECT_LIMIT)
        undecided(x, "a rate limit");
    else if (type == NFT_OBJECT_SYNPROXY)
        unsupported(x, "a statement that steers the packet");
    fw_nl_say(x, "%s \"%s\"", type == NFT_OBJECT_QUOTA ? "quota name" : type == NFT_OBJECT_LIMIT ? "limit name"
                       : type == NFT_OBJECT_COUNTER ? "counter name" : "object", name ? name : "?");
}

static int expr_cb(struct nftnl_expr *e, void *arg)
{
    struct cx *x = arg;
    const char *n = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
    if (!n)
        return 0;
    if (strcmp(n, "match") == 0 || strcmp(n, "target") == 0) {
        x->rc = FW_NL_FALLBACK;
        return -1;
    }
    if (strcmp(n, "payload") == 0) {
        if (nftnl_expr_is_set(e, NFTNL_EXPR_PAYLOAD_SREG))
            fw_nl_say(x, "payload set"); /* a rewrite: the JSON reader does not follow it either */
        else
            fw_nl_load_payload(x, e);
    } else if (strcmp(n, "meta") == 0) {
        uint32_t key = nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY);
        if (!nftnl_expr_is_set(e, NFTNL_EXPR_META_SREG))
            fw_nl_load_meta(x, key, nftnl_expr_get_u32(e, NFTNL_EXPR_META_DREG));
        else if (key == NFT_META_MARK)
            mark_set(x, reg_at(x, nftnl_expr_get_u32(e, NFTNL_EXPR_META_SREG)), false);
    } else if (strcmp(n, "ct") == 0) {
        if (!nftnl_expr_is_set(e, NFTNL_EXPR_CT_SREG))
            fw_nl_load_ct(x, e);
        else if (nftnl_expr_get_u32(e, NFTNL_EXPR_CT_KEY) == NFT_CT_MARK)
            mark_set(x, reg_at(x, nftnl_expr_get_u32(e, NFTNL_EXPR_CT_SREG)), true);
    } else if (strcmp(n, "fib") == 0) {
        fw_nl_load_fib(x, e);
    } else if (strcmp(n, "bitwise") == 0) {
        fw_nl_bitwise(x, e);
    } else if (strcmp(n, "cmp") == 0) {
        cmp(x, e);
    } else if (strcmp(n, "range") == 0) {
        range(x, e);
    } else if (strcmp(n, "lookup") == 0) {
        lookup(x, e);
    } else if (strcmp(n, "immediate") == 0) {
        immediate(x, e);
    } else if (strcmp(n, "nat") == 0) {
        if (nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_TYPE) == NFT_NAT_DNAT)
            nat(x, e, false);
        else
            fw_nl_say(x, "snat");
    } else if (strcmp(n, "redir") == 0) {
        nat(x, e, true);
    } else if (strcmp(n, "reject") == 0) {
        struct fw_stmt *s = new_stmt(x, FS_VERDICT);
        if (s)
            s->verdict = (struct fw_verdict){FV_REJECT, -1};
        fw_nl_say(x, "reject");
    } else if (strcmp(n, "queue") == 0) {
        unsupported(x, "queue to a user-space program");
        fw_nl_say(x, "queue");
    } else if (strcmp(n, "tproxy") == 0 || strcmp(n, "fwd") == 0 || strcmp(n, "synproxy") == 0) {
        unsupported(x, "a statement that steers the packet");
        fw_nl_say(x, "%s", n);
    } else if (strcmp(n, "limit") == 0 || strcmp(n, "quota") == 0) {
        undecided(x, n[0] == 'l' ? "a rate limit" : "a quota");
        fw_nl_say(x, "%s", n);
    } else if (strcmp(n, "connlimit") == 0) {
        undecided(x, "a statement portkit cannot decide");
        fw_nl_say(x, "ct count");
    } else if (strcmp(n, "objref") == 0) {
        objref(x, e);
    } else if (strcmp(n, "counter") == 0 || strcmp(n, "log") == 0 || strcmp(n, "notrack") == 0 ||
               strcmp(n, "masq") == 0 || strcmp(n, "dup") == 0 || strcmp(n, "last") == 0) {
        fw_nl_say(x, "%s", strcmp(n, "masq") == 0 ? "masquerade" : n);
    } else if (strcmp(n, "dynset") == 0) {
        fw_nl_say(x, "update @%s", nftnl_expr_get_str(e, NFTNL_EXPR_DYNSET_SET_NAME)
                                 ? nftnl_expr_get_str(e, NFTNL_EXPR_DYNSET_SET_NAME) : "?");
    } else if (strcmp(n, "flow_offload") == 0) {
        fw_nl_say(x, "flow add");
    } else {
        /* exthdr, socket, osf, hash, numgen, rt, xfrm ...: whatever they
         * loaded is unknown, so every register is */
        for (int i = 0; i < NREG; i++)
            x->regs[i].kind = R_UNKNOWN;
    }
    return x->rc < 0 ? -1 : 0;
}

int fw_nl_compile_rule(struct pk_firewall *fw, struct fw_rule *r, struct nftnl_rule *nr)
{
    struct cx x = {.fw = fw, .r = r, .c = &fw->chains[r->chain], .text = PK_BUF_INIT, .ge_stmt = -1};
    x.l3 = x.c->family == FW_FAM_IP ? AF_INET : x.c->family == FW_FAM_IP6 ? AF_INET6 : 0;
    nftnl_expr_foreach(nr, expr_cb, &x);
    if (x.rc == 0 && !x.text.data && pk_buf_puts(&x.text, "") < 0)
        x.rc = PK_ENOMEM;
    if (x.rc != 0) {
        for (uint16_t i = 0; i < r->nstmts; i++)
            fw_stmt_release(&r->stmts[i]);
        free(r->stmts);
        r->stmts = NULL;
        r->nstmts = 0;
        pk_buf_free(&x.text);
        return x.rc;
    }
    r->text = x.text.data;
    fw_rule_finish(r);
    return 0;
}
