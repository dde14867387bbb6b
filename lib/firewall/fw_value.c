/* Constants of a ruleset as byte strings: addresses, ports, interface
 * names, symbolic names (ct states, fib address types ...) and the sets
 * holding them. */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portkit/buf.h"

#include "firewall/fw_impl.h"
#include "firewall/fw_value.h"

struct sym {
    const char *name;
    uint32_t v;
};

static const struct sym protos[] = {
    {"icmp", 1}, {"igmp", 2}, {"tcp", 6}, {"udp", 17}, {"dccp", 33}, {"ipv6-icmp", 58}, {"icmpv6", 58},
    {"gre", 47}, {"esp", 50}, {"ah", 51}, {"sctp", 132}, {"udplite", 136}, {"ospf", 89}, {"vrrp", 112},
    {"ipip", 4}, {"ipv6", 41}, {"comp", 108}, {"pim", 103}, {NULL, 0}};
static const struct sym ct_states[] = {{"invalid", 1},    {"established", 2}, {"related", 4},
                                       {"new", 8},        {"untracked", 64},  {NULL, 0}};
static const struct sym ct_status[] = {{"expected", 1}, {"seen-reply", 2}, {"assured", 4}, {"confirmed", 8},
                                       {"snat", 16},    {"dnat", 32},       {"dying", 512}, {NULL, 0}};
static const struct sym fib_types[] = {{"unspec", 0},    {"unicast", 1},     {"local", 2},      {"broadcast", 3},
                                       {"anycast", 4},   {"multicast", 5},   {"blackhole", 6},  {"unreachable", 7},
                                       {"prohibit", 8},  {"throw", 9},       {"nat", 10},       {"xresolve", 11},
                                       {NULL, 0}};
static const struct sym pkt_types[] = {{"host", 0}, {"unicast", 0}, {"broadcast", 1}, {"multicast", 2},
                                       {"other", 3}, {NULL, 0}};
static const struct sym nf_protos[] = {{"ipv4", 2}, {"ipv6", 10}, {NULL, 0}};
static const struct sym tcp_flags[] = {{"fin", 1}, {"syn", 2},  {"rst", 4},   {"psh", 8}, {"ack", 16},
                                       {"urg", 32}, {"ecn", 64}, {"cwr", 128}, {NULL, 0}};
static const struct sym ct_dirs[] = {{"original", 0}, {"reply", 1}, {NULL, 0}};
static const struct sym if_types[] = {{"ether", 1}, {"ppp", 512}, {"ipip", 768}, {"ipip6", 769},
                                      {"loopback", 772}, {"sit", 776}, {"ipgre", 778}, {NULL, 0}};

static const struct { const char *name; enum fw_type t; uint8_t len; } set_types[] = {
    {"ipv4_addr", FT_ADDR4, 4},  {"ipv6_addr", FT_ADDR6, 16}, {"inet_service", FT_PORT, 2},
    {"inet_proto", FT_PROTO, 1}, {"ifname", FT_IFNAME, 16},    {"iface_index", FT_IFNAME, 16},
    {"mark", FT_INT, 4},         {"ct_state", FT_CTSTATE, 4},  {"ct_status", FT_CTSTATUS, 4},
    {"nf_proto", FT_NFPROTO, 1}, {"pkt_type", FT_PKTTYPE, 1},  {"fib_addrtype", FT_FIBTYPE, 4},
    {"tcp_flag", FT_TCPFLAGS, 1}, {"ct_dir", FT_CTDIR, 1},     {"iface_type", FT_IFTYPE, 2},
    {"boolean", FT_BOOL, 1},
};

int fw_type_from_name(const char *name, uint8_t *len)
{
    for (size_t i = 0; i < sizeof set_types / sizeof *set_types; i++)
        if (strcmp(name, set_types[i].name) == 0) {
            *len = set_types[i].len;
            return set_types[i].t;
        }
    *len = 0;
    return FT_UNKNOWN;
}

static const struct sym *sym_table(enum fw_type t)
{
    switch (t) {
    case FT_PROTO: return protos;
    case FT_CTSTATE: return ct_states;
    case FT_CTSTATUS: return ct_status;
    case FT_FIBTYPE: return fib_types;
    case FT_PKTTYPE: return pkt_types;
    case FT_NFPROTO: return nf_protos;
    case FT_TCPFLAGS: return tcp_flags;
    case FT_CTDIR: return ct_dirs;
    case FT_IFTYPE: return if_types;
    default: return NULL;
    }
}

bool fw_type_is_flags(enum fw_type t)
{
    return t == FT_CTSTATE || t == FT_CTSTATUS || t == FT_TCPFLAGS;
}

void fw_val_uint(struct fw_val *v, uint8_t len, uint64_t x)
{
    memset(v, 0, sizeof *v);
    v->len = len;
    for (int i = len - 1; i >= 0; i--, x >>= 8)
        v->b[i] = (uint8_t)x;
}

uint64_t fw_val_to_uint(const struct fw_val *v)
{
    uint64_t x = 0;
    for (uint8_t i = 0; i < v->len && i < 8; i++)
        x = (x << 8) | v->b[i];
    return x;
}

/* The name of v in t's table ("tcp", "established"), or NULL. Flag types
 * are names joined by commas, as nft prints them. */
int fw_sym_format(enum fw_type t, uint64_t v, char *out, size_t size)
{
    const struct sym *tab = sym_table(t);
    if (!tab || size == 0)
        return -1;
    out[0] = '\0';
    if (fw_type_is_flags(t) && v) {
        size_t n = 0;
        for (; tab->name; tab++)
            if ((v & tab->v) == tab->v && tab->v) {
                int w = snprintf(out + n, size - n, "%s%s", n ? "," : "", tab->name);
                if (w < 0 || (size_t)w >= size - n)
                    return -1;
                n += (size_t)w;
                v &= ~(uint64_t)tab->v;
            }
        return v ? -1 : 0;
    }
    for (; tab->name; tab++)
        if (tab->v == v) {
            snprintf(out, size, "%s", tab->name);
            return 0;
        }
    return -1;
}

/* A name of t's table, or a number. */
int fw_sym_lookup(enum fw_type t, const char *s, uint64_t *out)
{
    const struct sym *tab = sym_table(t);
    for (; tab && tab->name; tab++)
        if (strcmp(tab->name, s) == 0) {
            *out = tab->v;
            return 0;
        }
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    if (*s && !*end) {
        *out = v;
        return 0;
    }
    return -1;
}

static int parse_scalar(json_t *j, enum fw_type t, uint8_t len, struct fw_val *lo, struct fw_val *hi)
{
    memset(lo, 0, sizeof *lo);
    lo->len = len;
    if (json_is_integer(j)) {
        fw_val_uint(lo, len, (uint64_t)json_integer_value(j));
    } else if (json_is_boolean(j)) {
        fw_val_uint(lo, len, json_is_true(j));
    } else if (json_is_array(j) && fw_type_is_flags(t)) {
        uint64_t bits = 0, b;
        size_t i;
        json_t *e;
        json_array_foreach(j, i, e) {
            if (!json_is_string(e) || fw_sym_lookup(t, json_string_value(e), &b))
                return -1;
            bits |= b;
        }
        fw_val_uint(lo, len, bits);
    } else if (json_is_string(j)) {
        const char *s = json_string_value(j);
        if (t == FT_ADDR4 || t == FT_ADDR6) {
            if (inet_pton(t == FT_ADDR4 ? AF_INET : AF_INET6, s, lo->b) != 1)
                return -1;
        } else if (t == FT_IFNAME) {
            size_t n = strlen(s);
            if (n > 15)
                return -1;
            /* "eth*" is every name starting with eth */
            if (n && s[n - 1] == '*' && (n < 2 || s[n - 2] != '\\')) {
                memcpy(lo->b, s, n - 1);
                *hi = *lo;
                memset(hi->b + n - 1, 0xff, FW_VAL_MAX - (n - 1));
                return 0;
            }
            memcpy(lo->b, s, n);
        } else {
            uint64_t v;
            if (t == FT_UNKNOWN || fw_sym_lookup(t, s, &v))
                return -1;
            fw_val_uint(lo, len, v);
        }
    } else {
        return -1;
    }
    *hi = *lo;
    return 0;
}

/* One value of type t: a scalar, a prefix or a range, as [lo, hi]. */
int fw_parse_value(json_t *j, enum fw_type t, uint8_t len, struct fw_val *lo, struct fw_val *hi)
{
    if (len == 0 || len > FW_VAL_MAX)
        return -1;
    json_t *p;
    if (json_is_object(j) && json_is_object(p = json_object_get(j, "prefix"))) {
        json_t *plen = json_object_get(p, "len");
        if (parse_scalar(json_object_get(p, "addr"), t, len, lo, hi) || !json_is_integer(plen))
            return -1;
        long long bits = json_integer_value(plen);
        if (bits < 0 || bits > len * 8)
            return -1;
        for (int i = 0; i < len; i++) {
            int keep = (int)bits - i * 8;
            uint8_t m = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
            lo->b[i] &= m;
            hi->b[i] = lo->b[i] | (uint8_t)~m;
        }
        return 0;
    }
    if (json_is_object(j) && json_is_array(p = json_object_get(j, "range")) && json_array_size(p) == 2) {
        struct fw_val x;
        if (parse_scalar(json_array_get(p, 0), t, len, lo, &x) ||
            parse_scalar(json_array_get(p, 1), t, len, &x, hi))
            return -1;
        return 0;
    }
    return parse_scalar(j, t, len, lo, hi);
}

/* ---- sets ------------------------------------------------------------------ */


static int parse_verdict(json_t *j, struct pk_firewall *fw, const struct fw_set *s, struct fw_verdict *v)
{
    static const struct { const char *k; enum fw_vkind v; } kinds[] = {
        {"accept", FV_ACCEPT}, {"drop", FV_DROP}, {"reject", FV_REJECT}, {"jump", FV_JUMP},
        {"goto", FV_GOTO}, {"return", FV_RETURN}, {"continue", FV_CONTINUE}, {"queue", FV_QUEUE}};
    v->kind = FV_NONE;
    v->chain = -1;
    if (!json_is_object(j))
        return -1;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        json_t *a = json_object_get(j, kinds[i].k);
        if (!a)
            continue;
        v->kind = kinds[i].v;
        if (v->kind == FV_JUMP || v->kind == FV_GOTO) {
            const char *target = json_is_object(a) ? json_string_value(json_object_get(a, "target")) : NULL;
            if (target && s)
                v->chain = fw_find_chain(fw, s->family, s->table, target);
        }
        return 0;
    }
    return -1;
}

int fw_set_add(struct fw_set *s, const struct fw_val *lo, const struct fw_val *hi, const struct fw_verdict *v)
{
    /* from one element: most sets are a rule's single constant, and a
     * big ruleset has thousands of them */
    if (PK_ARRAY_RESERVE(s->elems, s->cap, s->n + 1, 1))
        return PK_ENOMEM;
    struct fw_elem *el = &s->elems[s->n++];
    memset(el, 0, sizeof *el);
    for (uint8_t i = 0; i < (s->nfields ? s->nfields : 1); i++) {
        el->lo[i] = lo[i];
        el->hi[i] = hi[i];
    }
    el->verdict = v ? *v : (struct fw_verdict){FV_NONE, -1};
    return 0;
}

int fw_set_add_json(struct fw_set *s, const void *elem_json, struct pk_firewall *fw)
{
    json_t *e = (json_t *)elem_json, *data = NULL;
    if (json_is_array(e) && json_array_size(e) == 2) { /* map: [key, data] */
        data = json_array_get(e, 1);
        e = json_array_get(e, 0);
    }
    json_t *inner;
    if (json_is_object(e) && json_is_object(inner = json_object_get(e, "elem")))
        e = json_object_get(inner, "val");
    if (PK_ARRAY_RESERVE(s->elems, s->cap, s->n + 1, 8))
        return PK_ENOMEM;
    struct fw_elem *el = &s->elems[s->n];
    memset(el, 0, sizeof *el);
    json_t *cc;
    if (s->nfields > 1) {
        if (!json_is_object(e) || !json_is_array(cc = json_object_get(e, "concat")) ||
            json_array_size(cc) != s->nfields)
            return PK_EINVAL;
        for (uint8_t i = 0; i < s->nfields; i++)
            if (fw_parse_value(json_array_get(cc, i), s->ftype[i], s->flen[i], &el->lo[i], &el->hi[i]))
                return PK_EINVAL;
    } else if (fw_parse_value(e, s->ftype[0], s->flen[0], &el->lo[0], &el->hi[0])) {
        return PK_EINVAL;
    }
    if (s->is_vmap && parse_verdict(data, fw, s, &el->verdict))
        return PK_EINVAL;
    s->n++;
    return 0;
}

static int cmp_elem(const void *a, const void *b)
{
    const struct fw_elem *x = a, *y = b;
    return memcmp(x->lo[0].b, y->lo[0].b, FW_VAL_MAX);
}

/* Single-field sets are sorted for binary search when their ranges do not
 * overlap (nft's interval sets never do; anonymous sets may). */
void fw_set_finish(struct fw_set *s)
{
    s->sorted = false;
    if (s->nfields != 1 || s->n < 8)
        return;
    qsort(s->elems, s->n, sizeof *s->elems, cmp_elem);
    for (size_t i = 1; i < s->n; i++)
        if (memcmp(s->elems[i - 1].hi[0].b, s->elems[i].lo[0].b, FW_VAL_MAX) >= 0)
            return;
    s->sorted = true;
}

static bool in_range(const struct fw_val *v, const struct fw_val *lo, const struct fw_val *hi, uint8_t len)
{
    return memcmp(v->b, lo->b, len) >= 0 && memcmp(v->b, hi->b, len) <= 0;
}

/* The element holding the key (one value per field), or NULL. */
const struct fw_elem *fw_set_lookup(const struct fw_set *s, const struct fw_val *key, uint8_t nfields)
{
    if (nfields != s->nfields)
        return NULL;
    if (s->sorted) {
        size_t lo = 0, hi = s->n;
        uint8_t len = s->flen[0] ? s->flen[0] : key[0].len;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            const struct fw_elem *e = &s->elems[mid];
            if (memcmp(key[0].b, e->lo[0].b, len) < 0)
                hi = mid;
            else if (memcmp(key[0].b, e->hi[0].b, len) > 0)
                lo = mid + 1;
            else
                return e;
        }
        return NULL;
    }
    for (size_t i = 0; i < s->n; i++) {
        const struct fw_elem *e = &s->elems[i];
        bool all = true;
        for (uint8_t f = 0; f < nfields && all; f++)
            all = in_range(&key[f], &e->lo[f], &e->hi[f], key[f].len);
        if (all)
            return e;
    }
    return NULL;
}

/* Whether every value of [lo, hi] lies in the set's field-0 ranges taken
 * together, none does, or some do: how a source prefix meets a set. */
int fw_set_cover(const struct fw_set *s, const struct fw_val *lo, const struct fw_val *hi)
{
    bool any = false;
    uint8_t len = lo->len;
    for (size_t i = 0; i < s->n; i++) {
        const struct fw_elem *e = &s->elems[i];
        if (memcmp(hi->b, e->lo[0].b, len) < 0 || memcmp(lo->b, e->hi[0].b, len) > 0)
            continue;
        if (memcmp(lo->b, e->lo[0].b, len) >= 0 && memcmp(hi->b, e->hi[0].b, len) <= 0)
            return FW_COVER_ALL;
        any = true;
    }
    return any ? FW_COVER_SOME : FW_COVER_NONE;
}
