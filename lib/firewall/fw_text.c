/* How a rule is named in explanations: "inet filter/input handle 7: tcp
 * dport 22 accept", with nft's own text of the rule when it was read. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portkit/buf.h"

#include "firewall/fw_impl.h"
#include "firewall/fw_value.h"

void fw_rule_describe(const struct pk_firewall *fw, const struct fw_rule *r, char *out, size_t size)
{
    const struct fw_chain *c = &fw->chains[r->chain];
    int n = snprintf(out, size, "%s %s/%s handle %" PRIu64, fw_family_name(c->family), c->table, c->name,
                     r->handle);
    if (r->text && n >= 0 && (size_t)n < size)
        snprintf(out + n, size - (size_t)n, ": %s", r->text);
}

void fw_policy_describe(const struct pk_firewall *fw, const struct fw_chain *c, char *out, size_t size)
{
    (void)fw;
    snprintf(out, size, "%s %s/%s policy %s", fw_family_name(c->family), c->table, c->name,
             c->policy == FV_DROP ? "drop" : "accept");
}

/* ---- nft-like text from JSON ----------------------------------------------
 * When nft's own listing was not read (a saved JSON file, or a live ruleset
 * without iptables-nft rules, where one listing is enough), a rule's text is
 * rendered from its JSON in nft's syntax. It names the rule for a person;
 * nothing is evaluated from it. */

static void put_value(struct pk_buf *b, json_t *v, bool quote);

static void put_expr(struct pk_buf *b, json_t *e)
{
    json_t *o;
    const char *k;
    if (json_is_object(o = json_object_get(e, "payload"))) {
        const char *p = json_string_value(json_object_get(o, "protocol"));
        const char *f = json_string_value(json_object_get(o, "field"));
        pk_buf_printf(b, "%s %s", p ? p : "?", f ? f : "?");
    } else if (json_is_object(o = json_object_get(e, "meta"))) {
        k = json_string_value(json_object_get(o, "key"));
        k = k ? k : "?";
        bool bare = strcmp(k, "iif") == 0 || strcmp(k, "iifname") == 0 || strcmp(k, "oif") == 0 ||
                    strcmp(k, "oifname") == 0;
        pk_buf_printf(b, "%s%s", bare ? "" : "meta ", k);
    } else if (json_is_object(o = json_object_get(e, "ct"))) {
        k = json_string_value(json_object_get(o, "key"));
        pk_buf_printf(b, "ct %s", k ? k : "?");
    } else if (json_is_object(o = json_object_get(e, "fib"))) {
        pk_buf_puts(b, "fib ");
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(o, "flags"), i, f) {
            pk_buf_printf(b, "%s%s", i ? " . " : "", json_string_value(f) ? json_string_value(f) : "?");
        }
        k = json_string_value(json_object_get(o, "result"));
        pk_buf_printf(b, " %s", k ? k : "?");
    } else if (json_is_array(o = json_object_get(e, "&")) && json_array_size(o) == 2) {
        put_expr(b, json_array_get(o, 0));
        pk_buf_puts(b, " & ");
        put_value(b, json_array_get(o, 1), false);
    } else if (json_is_array(o = json_object_get(e, "concat"))) {
        size_t i;
        json_t *f;
        json_array_foreach(o, i, f) {
            if (i)
                pk_buf_puts(b, " . ");
            put_expr(b, f);
        }
    } else if (json_is_object(e)) {
        const char *key = json_object_iter_key(json_object_iter(e));
        pk_buf_puts(b, key ? key : "?");
    } else {
        put_value(b, e, false);
    }
}

static void put_value(struct pk_buf *b, json_t *v, bool quote)
{
    json_t *o;
    if (json_is_string(v)) {
        pk_buf_printf(b, quote ? "\"%s\"" : "%s", json_string_value(v));
    } else if (json_is_integer(v)) {
        pk_buf_printf(b, "%lld", (long long)json_integer_value(v));
    } else if (json_is_boolean(v)) {
        pk_buf_puts(b, json_is_true(v) ? "exists" : "missing");
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            if (i)
                pk_buf_putc(b, json_is_array(x) ? ' ' : ',');
            if (json_is_array(x) && json_array_size(x) == 2) { /* map element */
                put_value(b, json_array_get(x, 0), quote);
                pk_buf_puts(b, " : ");
                put_value(b, json_array_get(x, 1), quote);
            } else {
                put_value(b, x, quote);
            }
        }
    } else if (json_is_object(o = json_object_get(v, "prefix"))) {
        put_value(b, json_object_get(o, "addr"), false);
        pk_buf_printf(b, "/%lld", (long long)json_integer_value(json_object_get(o, "len")));
    } else if (json_is_array(o = json_object_get(v, "range")) && json_array_size(o) == 2) {
        put_value(b, json_array_get(o, 0), quote);
        pk_buf_putc(b, '-');
        put_value(b, json_array_get(o, 1), quote);
    } else if (json_is_array(o = json_object_get(v, "set"))) {
        pk_buf_puts(b, "{ ");
        size_t i;
        json_t *x;
        json_array_foreach(o, i, x) {
            if (i)
                pk_buf_puts(b, ", ");
            if (json_is_array(x) && json_array_size(x) == 2) {
                put_value(b, json_array_get(x, 0), quote);
                pk_buf_puts(b, " : ");
                put_value(b, json_array_get(x, 1), quote);
            } else {
                put_value(b, x, quote);
            }
        }
        pk_buf_puts(b, " }");
    } else if (json_is_object(o = json_object_get(v, "elem"))) {
        put_value(b, json_object_get(o, "val"), quote);
    } else if (json_is_array(o = json_object_get(v, "concat"))) {
        size_t i;
        json_t *x;
        json_array_foreach(o, i, x) {
            if (i)
                pk_buf_puts(b, " . ");
            put_value(b, x, quote);
        }
    } else if (json_is_object(v) && json_object_size(v) == 1) {
        const char *k = json_object_iter_key(json_object_iter(v));
        json_t *arg = json_object_iter_value(json_object_iter(v));
        const char *target = json_is_object(arg) ? json_string_value(json_object_get(arg, "target")) : NULL;
        if (target)
            pk_buf_printf(b, "%s %s", k, target);   /* jump/goto in a map */
        else if (json_is_null(arg))
            pk_buf_puts(b, k);                      /* accept, drop in a map */
        else
            put_expr(b, v);
    } else {
        pk_buf_puts(b, "?");
    }
}

static bool names_interface(json_t *left)
{
    json_t *m = json_object_get(left, "meta");
    const char *k = json_string_value(json_object_get(m, "key"));
    return k && (strcmp(k, "iifname") == 0 || strcmp(k, "oifname") == 0 || strcmp(k, "iif") == 0 ||
                 strcmp(k, "oif") == 0);
}

static void put_stmt(struct pk_buf *b, json_t *e)
{
    const char *k = json_object_iter_key(json_object_iter(e));
    json_t *a = json_object_iter_value(json_object_iter(e));
    if (!k)
        return;
    if (strcmp(k, "match") == 0) {
        json_t *left = json_object_get(a, "left");
        const char *op = json_string_value(json_object_get(a, "op"));
        put_expr(b, left);
        if (op && strcmp(op, "==") != 0 && strcmp(op, "in") != 0)
            pk_buf_printf(b, " %s", op);
        pk_buf_putc(b, ' ');
        put_value(b, json_object_get(a, "right"), names_interface(left));
    } else if (strcmp(k, "jump") == 0 || strcmp(k, "goto") == 0) {
        const char *t = json_string_value(json_object_get(a, "target"));
        pk_buf_printf(b, "%s %s", k, t ? t : "?");
    } else if (strcmp(k, "vmap") == 0) {
        put_expr(b, json_object_get(a, "key"));
        pk_buf_puts(b, " vmap ");
        put_value(b, json_object_get(a, "data"), false);
    } else if (strcmp(k, "dnat") == 0 || strcmp(k, "snat") == 0) {
        pk_buf_printf(b, "%s to ", k);
        json_t *addr = json_object_get(a, "addr"), *port = json_object_get(a, "port");
        if (addr)
            put_value(b, addr, false);
        if (port) {
            pk_buf_putc(b, ':');
            put_value(b, port, false);
        }
    } else if (strcmp(k, "redirect") == 0) {
        pk_buf_puts(b, "redirect");
        json_t *port = json_object_get(a, "port");
        if (port) {
            pk_buf_puts(b, " to :");
            put_value(b, port, false);
        }
    } else if (strcmp(k, "limit") == 0) {
        pk_buf_printf(b, "limit rate %s%lld/%s", json_is_true(json_object_get(a, "inv")) ? "over " : "",
                      (long long)json_integer_value(json_object_get(a, "rate")),
                      json_string_value(json_object_get(a, "per")) ? json_string_value(json_object_get(a, "per"))
                                                                    : "second");
    } else if (strcmp(k, "log") == 0) {
        const char *prefix = json_string_value(json_object_get(a, "prefix"));
        if (prefix)
            pk_buf_printf(b, "log prefix \"%s\"", prefix);
        else
            pk_buf_puts(b, "log");
    } else if (strcmp(k, "mangle") == 0) {
        put_expr(b, json_object_get(a, "key"));
        pk_buf_puts(b, " set ");
        put_value(b, json_object_get(a, "value"), false);
    } else if (strcmp(k, "xt") == 0) {
        const char *n = json_string_value(json_object_get(a, "name"));
        pk_buf_printf(b, "xt %s", n ? n : "?");
    } else {
        pk_buf_puts(b, k); /* accept, drop, reject, return, counter, ... */
    }
}

char *fw_render_rule(const void *json_expr_array)
{
    json_t *expr = (json_t *)json_expr_array;
    struct pk_buf b = PK_BUF_INIT;
    size_t i;
    json_t *e;
    json_array_foreach(expr, i, e) {
        if (!json_is_object(e))
            continue;
        if (b.len)
            pk_buf_putc(&b, ' ');
        put_stmt(&b, e);
    }
    if (!b.data)
        return strdup("");
    return b.data;
}

/* A constant or range of field f as nft prints it (the netlink reader's
 * rule text). */
void fw_put_value(struct pk_buf *b, const struct fw_field *f, const struct fw_val *lo,
                      const struct fw_val *hi)
{
    char s[INET6_ADDRSTRLEN + 8];
    bool one = memcmp(lo->b, hi->b, f->len) == 0;
    enum fw_type t = (enum fw_type)f->type;
    if (t == FT_ADDR4 || t == FT_ADDR6) {
        int fam = t == FT_ADDR4 ? AF_INET : AF_INET6;
        inet_ntop(fam, lo->b, s, sizeof s);
        int plen = 0;
        bool is_prefix = true;
        for (int i = 0; i < f->len * 8; i++) {
            int bit = i / 8, m = 0x80 >> (i % 8);
            bool same = (lo->b[bit] & m) == (hi->b[bit] & m);
            if (same && plen == i)
                plen++;
            else if (same || (lo->b[bit] & m) || !(hi->b[bit] & m))
                is_prefix = false;
        }
        if (one)
            pk_buf_puts(b, s);
        else if (is_prefix)
            pk_buf_printf(b, "%s/%d", s, plen);
        else {
            char h[INET6_ADDRSTRLEN];
            inet_ntop(fam, hi->b, h, sizeof h);
            pk_buf_printf(b, "%s-%s", s, h);
        }
        return;
    }
    if (t == FT_IFNAME) {
        size_t n = strnlen((const char *)lo->b, 16);
        bool wild = !one;
        pk_buf_printf(b, "\"%.*s%s\"", (int)n, (const char *)lo->b, wild ? "*" : "");
        return;
    }
    if (t == FT_BOOL) {
        pk_buf_puts(b, fw_val_to_uint(lo) ? "exists" : "missing");
        return;
    }
    uint64_t a = fw_val_to_uint(lo), z = fw_val_to_uint(hi);
    if (one && fw_sym_format(t, a, s, sizeof s) == 0 && s[0]) {
        pk_buf_puts(b, s);
        return;
    }
    const char *fmt = t == FT_INT && f->len == 4 ? "0x%08llx" : "%llu";
    pk_buf_printf(b, fmt, (unsigned long long)a);
    if (!one) {
        pk_buf_putc(b, '-');
        pk_buf_printf(b, fmt, (unsigned long long)z);
    }
}
