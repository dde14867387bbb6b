/* One rule's JSON statements (libnftables-json(5)) into fw_stmt records.
 * What a packet description cannot decide becomes FS_UNDECIDED, never a
 * guess; iptables-nft's xt matches are read from nft's text of the rule. */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "firewall/fw_impl.h"
#include "firewall/fw_value.h"

static void set_field(struct fw_field *f, enum fw_key k, enum fw_need need, enum fw_type t, uint8_t len)
{
    memset(f, 0, sizeof *f);
    f->key = k;
    f->need = need;
    f->type = t;
    f->len = len;
}

/* The left side of a match; false when the key is one no packet
 * description answers. */
static bool compile_field(json_t *j, int chain_family, struct fw_field *f)
{
    json_t *o;
    if (json_is_object(o = json_object_get(j, "meta"))) {
        const char *k = json_string_value(json_object_get(o, "key"));
        if (!k)
            return false;
        if (strcmp(k, "l4proto") == 0)
            set_field(f, FK_L4PROTO, FN_ANY, FT_PROTO, 1);
        else if (strcmp(k, "nfproto") == 0)
            set_field(f, FK_NFPROTO, FN_ANY, FT_NFPROTO, 1);
        else if (strcmp(k, "iif") == 0 || strcmp(k, "iifname") == 0)
            set_field(f, FK_IIFNAME, FN_ANY, FT_IFNAME, 16);
        else if (strcmp(k, "oif") == 0 || strcmp(k, "oifname") == 0)
            set_field(f, FK_OIFNAME, FN_ANY, FT_IFNAME, 16);
        else if (strcmp(k, "iiftype") == 0)
            set_field(f, FK_IIFTYPE, FN_ANY, FT_IFTYPE, 2);
        else if (strcmp(k, "mark") == 0)
            set_field(f, FK_MARK, FN_ANY, FT_INT, 4);
        else if (strcmp(k, "pkttype") == 0)
            set_field(f, FK_PKTTYPE, FN_ANY, FT_PKTTYPE, 1);
        else
            return false;
        return true;
    }
    if (json_is_object(o = json_object_get(j, "payload"))) {
        const char *p = json_string_value(json_object_get(o, "protocol"));
        const char *fl = json_string_value(json_object_get(o, "field"));
        if (!p || !fl)
            return false;
        bool ip4 = strcmp(p, "ip") == 0, ip6 = strcmp(p, "ip6") == 0;
        if (ip4 || ip6) {
            enum fw_need need = ip4 ? FN_IP4 : FN_IP6;
            enum fw_type t = ip4 ? FT_ADDR4 : FT_ADDR6;
            uint8_t len = ip4 ? 4 : 16;
            if (strcmp(fl, "saddr") == 0)
                set_field(f, FK_SADDR, need, t, len);
            else if (strcmp(fl, "daddr") == 0)
                set_field(f, FK_DADDR, need, t, len);
            else if ((ip4 && strcmp(fl, "protocol") == 0) || (ip6 && strcmp(fl, "nexthdr") == 0))
                set_field(f, FK_L4PROTO, need, FT_PROTO, 1);
            else
                return false;
            return true;
        }
        enum fw_need need = strcmp(p, "tcp") == 0 ? FN_TCP : strcmp(p, "udp") == 0 ? FN_UDP
                          : strcmp(p, "th") == 0 ? FN_TCPUDP : FN_ANY;
        if (need == FN_ANY)
            return false;
        if (strcmp(fl, "dport") == 0)
            set_field(f, FK_DPORT, need, FT_PORT, 2);
        else if (strcmp(fl, "sport") == 0)
            set_field(f, FK_SPORT, need, FT_PORT, 2);
        else if (need == FN_TCP && strcmp(fl, "flags") == 0)
            set_field(f, FK_TCP_FLAGS, need, FT_TCPFLAGS, 1);
        else
            return false;
        return true;
    }
    if (json_is_object(o = json_object_get(j, "ct"))) {
        const char *k = json_string_value(json_object_get(o, "key"));
        if (!k || json_object_get(o, "dir") || json_object_get(o, "family"))
            return false;
        if (strcmp(k, "state") == 0)
            set_field(f, FK_CT_STATE, FN_ANY, FT_CTSTATE, 4);
        else if (strcmp(k, "status") == 0)
            set_field(f, FK_CT_STATUS, FN_ANY, FT_CTSTATUS, 4);
        else if (strcmp(k, "direction") == 0)
            set_field(f, FK_CT_DIRECTION, FN_ANY, FT_CTDIR, 1);
        else if (strcmp(k, "mark") == 0)
            set_field(f, FK_CT_MARK, FN_ANY, FT_INT, 4);
        else
            return false;
        return true;
    }
    if (json_is_object(o = json_object_get(j, "fib"))) {
        const char *res = json_string_value(json_object_get(o, "result"));
        json_t *flags = json_object_get(o, "flags");
        bool saddr = false, daddr = false;
        size_t i;
        json_t *x;
        json_array_foreach(flags, i, x) {
            const char *s = json_string_value(x);
            saddr |= s && strcmp(s, "saddr") == 0;
            daddr |= s && strcmp(s, "daddr") == 0;
        }
        if (!res || saddr == daddr)
            return false;
        if (strcmp(res, "type") == 0)
            set_field(f, daddr ? FK_FIB_DADDR_TYPE : FK_FIB_SADDR_TYPE, FN_ANY, FT_FIBTYPE, 4);
        else if (saddr && (strcmp(res, "oif") == 0 || strcmp(res, "oifname") == 0))
            set_field(f, FK_FIB_RPF, FN_ANY, FT_BOOL, 1);
        else
            return false;
        return true;
    }
    if (json_is_array(o = json_object_get(j, "&")) && json_array_size(o) == 2) {
        if (!compile_field(json_array_get(o, 0), chain_family, f))
            return false;
        struct fw_val lo, hi;
        if (fw_parse_value(json_array_get(o, 1), (enum fw_type)f->type, f->len, &lo, &hi))
            return false;
        f->masked = true;
        memcpy(f->mask, lo.b, FW_VAL_MAX);
        return true;
    }
    (void)chain_family;
    return false;
}

static struct fw_set *anon_set(const struct fw_stmt *s, bool vmap)
{
    struct fw_set *set = calloc(1, sizeof *set);
    if (!set)
        return NULL;
    set->nfields = s->nfields;
    for (uint8_t i = 0; i < s->nfields; i++) {
        set->ftype[i] = s->f[i].type;
        set->flen[i] = s->f[i].len;
    }
    set->is_vmap = vmap;
    return set;
}

/* The right side: "@name", {"set": [...]}, or one value, prefix or range. */
static int compile_right(struct pk_firewall *fw, const struct fw_chain *c, json_t *right, struct fw_stmt *s,
                         bool vmap)
{
    const char *ref = json_string_value(right);
    if (ref && ref[0] == '@') {
        s->set = fw_find_set(fw, c->family, c->table, ref + 1);
        if (!s->set || s->set->broken || s->set->nfields != s->nfields || s->set->is_vmap != vmap)
            return PK_EINVAL;
        for (uint8_t i = 0; i < s->nfields; i++)
            if (s->set->flen[i] && s->set->flen[i] != s->f[i].len)
                return PK_EINVAL;
        return 0;
    }
    s->set = anon_set(s, vmap);
    if (!s->set)
        return PK_ENOMEM;
    s->set_owned = true;
    s->set->family = c->family;
    /* the anonymous set names chains of the rule's table (verdict maps) */
    s->set->table = c->table;
    json_t *elems = json_object_get(right, "set");
    int rc = 0;
    if (json_is_array(elems)) {
        size_t i;
        json_t *e;
        json_array_foreach(elems, i, e) {
            if ((rc = fw_set_add_json(s->set, e, fw)) < 0)
                break;
        }
    } else if (json_is_object(elems) || json_is_string(elems) || json_is_integer(elems)) {
        rc = fw_set_add_json(s->set, elems, fw); /* a set of one */
    } else {
        rc = fw_set_add_json(s->set, right, fw);
    }
    s->set->table = NULL;
    if (rc == 0)
        fw_set_finish(s->set);
    return rc;
}

static int compile_left(json_t *left, const struct fw_chain *c, struct fw_stmt *s)
{
    json_t *cc = json_object_get(left, "concat");
    if (json_is_array(cc)) {
        if (json_array_size(cc) > FW_CONCAT_MAX || json_array_size(cc) == 0)
            return PK_EINVAL;
        s->nfields = (uint8_t)json_array_size(cc);
        for (uint8_t i = 0; i < s->nfields; i++)
            if (!compile_field(json_array_get(cc, i), c->family, &s->f[i]))
                return PK_EINVAL;
        return 0;
    }
    s->nfields = 1;
    return compile_field(left, c->family, &s->f[0]) ? 0 : PK_EINVAL;
}

static int compile_match(struct pk_firewall *fw, const struct fw_chain *c, json_t *m, struct fw_stmt *s)
{
    const char *op = json_string_value(json_object_get(m, "op"));
    static const struct { const char *s; enum fw_op op; } ops[] = {
        {"==", FO_EQ}, {"!=", FO_NE}, {"<", FO_LT}, {">", FO_GT}, {"<=", FO_LE}, {">=", FO_GE}, {"in", FO_IN}};
    s->kind = FS_MATCH;
    s->op = FO_EQ;
    for (size_t i = 0; op && i < sizeof ops / sizeof *ops; i++)
        if (strcmp(op, ops[i].s) == 0)
            s->op = ops[i].op;
    int rc = compile_left(json_object_get(m, "left"), c, s);
    if (rc == 0)
        rc = compile_right(fw, c, json_object_get(m, "right"), s, false);
    if (rc == PK_ENOMEM)
        return rc;
    if (rc < 0 || ((s->op >= FO_LT && s->op <= FO_GE) && (s->nfields != 1 || s->set->n != 1))) {
        fw_stmt_release(s);
        memset(s, 0, sizeof *s);
        s->kind = FS_UNDECIDED;
        s->why = "a match portkit cannot decide";
        return 0;
    }
    enum fw_type t = (enum fw_type)s->f[0].type;
    /* "ct state established,related" and "tcp flags syn" test bits; an
     * explicit mask (flags & (syn|ack) == syn) compares exactly. */
    s->flags_any = s->nfields == 1 && fw_type_is_flags(t) && !s->f[0].masked &&
                   (s->op == FO_IN || t != FT_TCPFLAGS);
    if (s->op == FO_IN && !s->flags_any)
        s->op = FO_EQ;
    return 0;
}

static int compile_verdict(struct pk_firewall *fw, const struct fw_chain *c, const char *key, json_t *arg,
                           struct fw_stmt *s)
{
    static const struct { const char *k; enum fw_vkind v; } kinds[] = {
        {"accept", FV_ACCEPT}, {"drop", FV_DROP}, {"reject", FV_REJECT}, {"jump", FV_JUMP},
        {"goto", FV_GOTO}, {"return", FV_RETURN}, {"continue", FV_CONTINUE}};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        if (strcmp(key, kinds[i].k) != 0)
            continue;
        s->kind = FS_VERDICT;
        s->verdict.kind = kinds[i].v;
        s->verdict.chain = -1;
        if (s->verdict.kind == FV_JUMP || s->verdict.kind == FV_GOTO) {
            const char *target = json_string_value(json_object_get(arg, "target"));
            s->verdict.chain = target ? fw_find_chain(fw, c->family, c->table, target) : -1;
            if (s->verdict.chain < 0) {
                s->kind = FS_UNSUPPORTED_VERDICT;
                s->why = "a jump to a chain that is not in the ruleset";
            }
        }
        return 1;
    }
    return 0;
}

static int compile_nat(const struct fw_chain *c, const char *key, json_t *arg, struct fw_stmt *s)
{
    s->kind = FS_NAT;
    s->redirect = strcmp(key, "redirect") == 0;
    json_t *port = json_object_get(arg, "port"), *addr = json_object_get(arg, "addr");
    if (json_is_object(port) && json_is_array(json_object_get(port, "range")))
        port = json_array_get(json_object_get(port, "range"), 0);
    if (json_is_integer(port))
        s->nat_port = (uint16_t)json_integer_value(port);
    else if (port)
        goto unsupported;
    if (!s->redirect && addr) {
        const char *a = json_string_value(addr);
        const char *fam = json_string_value(json_object_get(arg, "family"));
        int family = fam ? (strcmp(fam, "ip6") == 0 ? AF_INET6 : AF_INET)
                         : c->family == FW_FAM_IP6 ? AF_INET6 : AF_INET;
        if (!a || inet_pton(family, a, s->nat_addr) != 1)
            goto unsupported;
        s->has_addr = true;
        s->nat_family = family;
    }
    return 0;
unsupported:
    memset(s, 0, sizeof *s);
    s->kind = FS_UNSUPPORTED_VERDICT;
    s->why = "a NAT rule whose target portkit cannot follow";
    return 0;
}

#include "firewall/fw_xt.h"


static int compile_stmt(struct pk_firewall *fw, const struct fw_chain *c, json_t *e, struct fw_xt_cursor *xt,
                        struct fw_stmt *s)
{
    const char *key = json_object_iter_key(json_object_iter(e));
    json_t *arg = json_object_iter_value(json_object_iter(e));
    if (!key)
        return 0;
    static const char *const nops[] = {"counter", "log", "notrack", "set", "map", "snat", "masquerade",
                                       "dup", "meta", "ct helper", "ct timeout", "ct expectation",
                                       "flow", "secmark", "last"};
    for (size_t i = 0; i < sizeof nops / sizeof *nops; i++)
        if (strcmp(key, nops[i]) == 0)
            return 1; /* no statement: no effect on this packet's fate */
    if (strcmp(key, "match") == 0)
        return compile_match(fw, c, arg, s);
    if (compile_verdict(fw, c, key, arg, s))
        return 0;
    if (strcmp(key, "queue") == 0 || strcmp(key, "tproxy") == 0 || strcmp(key, "fwd") == 0 ||
        strcmp(key, "synproxy") == 0) {
        s->kind = FS_UNSUPPORTED_VERDICT;
        s->why = key[0] == 'q' ? "queue to a user-space program" : "a statement that steers the packet";
        return 0;
    }
    if (strcmp(key, "dnat") == 0 || strcmp(key, "redirect") == 0)
        return compile_nat(c, key, arg, s);
    if (strcmp(key, "vmap") == 0) {
        s->kind = FS_VMAP;
        int rc = compile_left(json_object_get(arg, "key"), c, s);
        if (rc == 0)
            rc = compile_right(fw, c, json_object_get(arg, "data"), s, true);
        if (rc == PK_ENOMEM)
            return rc;
        if (rc < 0) {
            fw_stmt_release(s);
            memset(s, 0, sizeof *s);
            s->kind = FS_UNSUPPORTED_VERDICT;
            s->why = "a verdict map portkit cannot read";
        }
        return 0;
    }
    if (strcmp(key, "mangle") == 0) {
        json_t *k = json_object_get(arg, "key"), *v = json_object_get(arg, "value");
        const char *mk = json_string_value(json_object_get(json_object_get(k, "meta"), "key"));
        const char *ck = json_string_value(json_object_get(json_object_get(k, "ct"), "key"));
        bool mark = mk && strcmp(mk, "mark") == 0, ctmark = ck && strcmp(ck, "mark") == 0;
        if (!mark && !ctmark)
            return 1;
        if (!json_is_integer(v)) {
            s->kind = FS_UNSUPPORTED_VERDICT;
            s->why = "a mark set from a computed value";
            return 0;
        }
        s->kind = mark ? FS_MARK_SET : FS_CTMARK_SET;
        s->mark = (uint32_t)json_integer_value(v);
        return 0;
    }
    if (strcmp(key, "xt") == 0)
        return fw_xt_compile(xt, c, arg, s);
    s->kind = FS_UNDECIDED;
    s->why = strcmp(key, "limit") == 0 ? "a rate limit" : strcmp(key, "quota") == 0 ? "a quota"
           : "a statement portkit cannot decide";
    return 0;
}

/* The first statements up to a positive dport match only test the packet,
 * so a packet outside that match's ports cannot be affected by the rule. */
static void set_gate(struct fw_rule *r)
{
    r->gate = (struct fw_gate){0, 65535, FN_ANY};
    for (uint16_t i = 0; i < r->nstmts; i++) {
        const struct fw_stmt *s = &r->stmts[i];
        if (s->kind != FS_MATCH && s->kind != FS_UNDECIDED)
            return;
        if (s->kind != FS_MATCH || s->nfields != 1 || s->f[0].key != FK_DPORT || s->f[0].masked ||
            s->op != FO_EQ || !s->set || s->set->n == 0)
            continue;
        uint64_t lo = UINT64_MAX, hi = 0;
        for (size_t k = 0; k < s->set->n; k++) {
            uint64_t a = fw_val_to_uint(&s->set->elems[k].lo[0]), b = fw_val_to_uint(&s->set->elems[k].hi[0]);
            lo = a < lo ? a : lo;
            hi = b > hi ? b : hi;
        }
        r->gate = (struct fw_gate){(uint16_t)lo, (uint16_t)(hi > 65535 ? 65535 : hi), (uint8_t)s->f[0].need};
        return;
    }
}

int fw_compile_rule(struct pk_firewall *fw, struct fw_rule *r, const void *json_expr_array, const char *text,
                    struct pk_err *err)
{
    json_t *expr = (json_t *)json_expr_array;
    size_t n = json_array_size(expr);
    r->stmts = calloc(n ? n : 1, sizeof *r->stmts);
    if (!r->stmts)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    const struct fw_chain *c = &fw->chains[r->chain];
    struct fw_xt_cursor xt = {.text = text, .pos = 0};
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(expr, i);
        if (!json_is_object(e))
            continue;
        struct fw_stmt *s = &r->stmts[r->nstmts];
        memset(s, 0, sizeof *s);
        int rc = compile_stmt(fw, c, e, &xt, s);
        if (rc < 0) {
            for (uint16_t k = 0; k <= r->nstmts; k++)
                fw_stmt_release(&r->stmts[k]);
            free(r->stmts);
            r->stmts = NULL;
            return pk_err_set(err, PK_ENOMEM, "out of memory");
        }
        if (rc == 1)
            continue;
        r->nstmts++;
    }
    fw_rule_finish(r);
    return 0;
}

void fw_rule_finish(struct fw_rule *r)
{
    for (uint16_t i = 0; i < r->nstmts; i++) {
        enum fw_skind k = r->stmts[i].kind;
        if (k == FS_VERDICT || k == FS_VMAP || k == FS_NAT || k == FS_MARK_SET || k == FS_CTMARK_SET ||
            k == FS_UNSUPPORTED_VERDICT)
            r->has_effect = true;
    }
    set_gate(r);
}
