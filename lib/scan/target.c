#include "portkit/target.h"
#include "portkit/buf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/quote.h"

/* Every host is a 128-bit number (IPv4 in the low 32 bits), so ranges,
 * merging and exclusion are the same arithmetic for both families. */
typedef unsigned __int128 u128;

struct trange {
    int family;
    uint32_t scope;
    u128 lo, hi; /* inclusive */
};

struct tname {
    struct pk_addr addr;
    char *name;
};

struct rvec {
    struct trange *v;
    size_t n, cap;
};

struct pk_targets {
    struct pk_target_opts opts;
    struct rvec inc, exc;
    struct tname *names;
    size_t nnames, names_cap;
    /* after finish: disjoint ranges in order and the index of each one's
     * first host */
    uint64_t *starts;
    uint64_t count;
    bool finished;
};

#define SPEC_MAX 1024
#define OCTET_COMBOS_MAX (1u << 18)
#define SHOW(s) QUOTE_STR(s)

static u128 addr_value(const struct pk_addr *a)
{
    u128 v = 0;
    int n = a->family == AF_INET ? 4 : 16;
    for (int i = 0; i < n; i++)
        v = (v << 8) | a->bytes[i];
    return v;
}

static void value_addr(int family, u128 v, uint32_t scope, struct pk_addr *out)
{
    memset(out, 0, sizeof *out);
    out->family = family;
    out->scope_id = scope;
    int n = family == AF_INET ? 4 : 16;
    for (int i = n - 1; i >= 0; i--) {
        out->bytes[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

/* ---- building ---- */

struct pk_targets *pk_targets_new(const struct pk_target_opts *opts)
{
    struct pk_targets *t = calloc(1, sizeof *t);
    if (t && opts)
        t->opts = *opts;
    return t;
}

void pk_targets_free(struct pk_targets *t)
{
    if (!t)
        return;
    free(t->inc.v);
    free(t->exc.v);
    for (size_t i = 0; i < t->nnames; i++)
        free(t->names[i].name);
    free(t->names);
    free(t->starts);
    free(t);
}

static int rvec_push(struct rvec *r, int family, uint32_t scope, u128 lo, u128 hi, struct pk_err *err)
{
    if (PK_ARRAY_RESERVE(r->v, r->cap, r->n + 1, 16) < 0)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    r->v[r->n++] = (struct trange){family, scope, lo, hi};
    return 0;
}

static bool overlaps(u128 lo, u128 hi, u128 a, u128 b)
{
    return lo <= b && a <= hi;
}

/* Only unicast hosts are scanned: a connect to a multicast or broadcast
 * address would reach many machines, or none the user meant. */
static int check_unicast(int family, u128 lo, u128 hi, const char *spec, struct pk_err *err)
{
    if (family == AF_INET) {
        if (overlaps(lo, hi, 0xe0000000u, 0xefffffffu))
            return pk_err_set(err, PK_EINVAL,
                              "'%s' is or includes multicast addresses (224.0.0.0/4): "
                              "only unicast hosts can be scanned", SHOW(spec));
        if (hi == 0xffffffffu)
            return pk_err_set(err, PK_EINVAL,
                              "'%s' is or includes the broadcast address 255.255.255.255",
                              SHOW(spec));
    } else {
        u128 mlo = (u128)0xff << 120;
        if (hi >= mlo)
            return pk_err_set(err, PK_EINVAL,
                              "'%s' is or includes multicast addresses (ff00::/8): "
                              "only unicast hosts can be scanned", SHOW(spec));
    }
    return 0;
}

static int add_range(struct pk_targets *t, int family, uint32_t scope, u128 lo, u128 hi,
                     bool exclude, const char *spec, struct pk_err *err)
{
    if (t->finished)
        return pk_err_set(err, PK_EINVAL, "targets already finished");
    if (!exclude) {
        if (t->opts.family && t->opts.family != family)
            return pk_err_set(err, PK_EINVAL, "'%s' is an %s target but only %s was asked for",
                              SHOW(spec), family == AF_INET ? "IPv4" : "IPv6",
                              t->opts.family == AF_INET ? "IPv4 (-4)" : "IPv6 (-6)");
        int rc = check_unicast(family, lo, hi, spec, err);
        if (rc < 0)
            return rc;
        /* A wide IPv6 block (::/1, ::ffff:0:0/95) also holds ::ffff:0:0/96,
         * whose hosts are IPv4 ones: its multicast and broadcast part is
         * left out, as an IPv4 block's would be refused. */
        u128 mapped = (u128)0xffff << 32;
        if (family == AF_INET6 && overlaps(lo, hi, mapped | 0xe0000000u, mapped | 0xffffffffu)) {
            if ((rc = rvec_push(&t->exc, AF_INET6, 0, mapped | 0xe0000000u, mapped | 0xefffffffu,
                                err)) < 0 ||
                (rc = rvec_push(&t->exc, AF_INET6, 0, mapped | 0xffffffffu, mapped | 0xffffffffu,
                                err)) < 0)
                return rc;
        }
    }
    return rvec_push(exclude ? &t->exc : &t->inc, family, scope, lo, hi, err);
}

static u128 prefix_mask(int family, unsigned plen)
{
    unsigned bits = family == AF_INET ? 32 : 128;
    u128 all = family == AF_INET ? (u128)0xffffffffu : ~(u128)0;
    if (plen == 0)
        return 0;
    return (all << (bits - plen)) & all;
}

static int add_cidr(struct pk_targets *t, const struct pk_addr *a, int plen, bool exclude,
                    const char *spec, struct pk_err *err)
{
    u128 v = addr_value(a);
    if (plen < 0)
        return add_range(t, a->family, a->scope_id, v, v, exclude, spec, err);
    u128 all = a->family == AF_INET ? (u128)0xffffffffu : ~(u128)0;
    u128 mask = prefix_mask(a->family, (unsigned)plen);
    u128 lo = v & mask, hi = lo | (all & ~mask);
    return add_range(t, a->family, a->scope_id, lo, hi, exclude, spec, err);
}

static int add_name(struct pk_targets *t, const struct pk_addr *a, const char *name, struct pk_err *err)
{
    if (PK_ARRAY_RESERVE(t->names, t->names_cap, t->nnames + 1, 8) < 0)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    char *copy = strdup(name);
    if (!copy)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    t->names[t->nnames++] = (struct tname){*a, copy};
    return 0;
}

static int default_resolve(void *arg, const char *name, int family, struct pk_addr *out,
                           size_t max, struct pk_err *err)
{
    (void)arg;
    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(name, NULL, &hints, &res);
    if (rc != 0)
        return pk_err_set(err, PK_EINVAL, "cannot resolve '%s': %s", SHOW(name), gai_strerror(rc));
    size_t n = 0;
    for (struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
        struct pk_addr a = {0};
        if (ai->ai_family == AF_INET) {
            a.family = AF_INET;
            memcpy(a.bytes, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
        } else if (ai->ai_family == AF_INET6) {
            a.family = AF_INET6;
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ai->ai_addr;
            memcpy(a.bytes, &s6->sin6_addr, 16);
            a.scope_id = s6->sin6_scope_id;
        } else {
            continue;
        }
        pk_addr_unmap(&a);
        bool dup = false;
        for (size_t i = 0; i < n && !dup; i++)
            dup = pk_addr_cmp(&out[i], &a) == 0;
        if (!dup)
            out[n++] = a;
    }
    freeaddrinfo(res);
    return (int)n;
}

static bool hostname_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253 || s[0] == '-' || s[0] == '.')
        return false;
    bool letter = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalpha(c) || c == '_')
            letter = true;
        else if (!isdigit(c) && c != '-' && c != '.')
            return false;
    }
    return letter;
}

static int add_hostname(struct pk_targets *t, const char *name, int plen, bool exclude,
                        const char *spec, struct pk_err *err)
{
    if (!hostname_ok(name))
        return pk_err_set(err, PK_EINVAL, "'%s' is not an address, range, CIDR block or host name",
                          SHOW(spec));
    if (t->opts.no_resolve)
        return pk_err_set(err, PK_EINVAL, "'%s' is a host name and names are not resolved here",
                          SHOW(spec));
    struct pk_addr addrs[64];
    pk_resolve_fn *fn = t->opts.resolve ? t->opts.resolve : default_resolve;
    int n = fn(t->opts.resolve_arg, name, t->opts.family, addrs, 64, err);
    if (n < 0)
        return n;
    int used = 0;
    for (int i = 0; i < n && i < 64; i++) {
        pk_addr_unmap(&addrs[i]); /* a plugged-in resolver may answer ::ffff:a.b.c.d */
        if (t->opts.family && addrs[i].family != t->opts.family)
            continue;
        if (plen > (addrs[i].family == AF_INET ? 32 : 128))
            continue;
        int rc = add_cidr(t, &addrs[i], plen, exclude, spec, err);
        if (rc < 0)
            return rc;
        if (!exclude && (rc = add_name(t, &addrs[i], name, err)) < 0)
            return rc;
        used++;
    }
    if (!used)
        return pk_err_set(err, PK_EINVAL, "'%s' has no %saddress%s", SHOW(name),
                          t->opts.family == AF_INET ? "IPv4 " : t->opts.family == AF_INET6 ? "IPv6 " : "",
                          plen >= 0 ? " that fits the prefix" : "");
    return 0;
}

/* nmap's octet ranges: 10.0.0-3.1-254, 192.168.*.1, 192.0.2.1-20 */
static int parse_octet(const char *s, size_t n, unsigned *lo, unsigned *hi)
{
    if (n == 1 && s[0] == '*') {
        *lo = 0;
        *hi = 255;
        return 0;
    }
    const char *dash = memchr(s, '-', n);
    size_t a = dash ? (size_t)(dash - s) : n;
    unsigned v[2] = {0, 255};
    for (int k = 0; k < (dash ? 2 : 1); k++) {
        const char *p = k ? dash + 1 : s;
        size_t len = k ? n - a - 1 : a;
        if (len == 0) {
            if (!dash)
                return -1;
            continue; /* open end */
        }
        if (len > 3)
            return -1;
        unsigned x = 0;
        for (size_t i = 0; i < len; i++) {
            if (!isdigit((unsigned char)p[i]))
                return -1;
            x = x * 10 + (unsigned)(p[i] - '0');
        }
        if (x > 255)
            return -1;
        v[k] = x;
    }
    if (!dash)
        v[1] = v[0];
    *lo = v[0];
    *hi = v[1];
    return *lo <= *hi ? 0 : -1;
}

static bool looks_octets(const char *s)
{
    for (; *s; s++)
        if (!isdigit((unsigned char)*s) && *s != '.' && *s != '-' && *s != '*')
            return false;
    return true;
}

static int add_octets(struct pk_targets *t, const char *s, bool exclude, const char *spec,
                      struct pk_err *err)
{
    unsigned lo[4], hi[4];
    const char *p = s;
    for (int i = 0; i < 4; i++) {
        const char *dot = strchr(p, '.');
        if ((i < 3) != (dot != NULL))
            return pk_err_set(err, PK_EINVAL, "'%s' is not a valid IPv4 address or range", SHOW(spec));
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (parse_octet(p, n, &lo[i], &hi[i]) < 0)
            return pk_err_set(err, PK_EINVAL, "'%s' is not a valid IPv4 address or range", SHOW(spec));
        p = dot ? dot + 1 : p + n;
    }
    uint64_t combos = (uint64_t)(hi[0] - lo[0] + 1) * (hi[1] - lo[1] + 1) * (hi[2] - lo[2] + 1);
    if (combos > OCTET_COMBOS_MAX)
        return pk_err_set(err, PK_EINVAL, "'%s' spans too many ranges; use a CIDR block", SHOW(spec));
    for (unsigned a = lo[0]; a <= hi[0]; a++)
        for (unsigned b = lo[1]; b <= hi[1]; b++)
            for (unsigned c = lo[2]; c <= hi[2]; c++) {
                u128 base = ((u128)a << 24) | ((u128)b << 16) | ((u128)c << 8);
                int rc = add_range(t, AF_INET, 0, base | lo[3], base | hi[3], exclude, spec, err);
                if (rc < 0)
                    return rc;
            }
    return 0;
}

static int add_one(struct pk_targets *t, const char *spec, bool exclude, struct pk_err *err)
{
    char buf[SPEC_MAX];
    size_t len = strlen(spec);
    if (len == 0)
        return pk_err_set(err, PK_EINVAL, "empty target");
    if (len >= sizeof buf)
        return pk_err_set(err, PK_EINVAL, "target '%s' is too long", SHOW(spec));
    memcpy(buf, spec, len + 1);

    int plen = -1;
    char *slash = strrchr(buf, '/');
    if (slash) {
        *slash = '\0';
        const char *p = slash + 1;
        size_t n = strlen(p);
        if (n == 0 || n > 3)
            return pk_err_set(err, PK_EINVAL, "bad prefix length in '%s'", SHOW(spec));
        plen = 0;
        for (size_t i = 0; i < n; i++) {
            if (!isdigit((unsigned char)p[i]))
                return pk_err_set(err, PK_EINVAL, "bad prefix length in '%s'", SHOW(spec));
            plen = plen * 10 + (p[i] - '0');
        }
    }
    char *host = buf;
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') { /* [fd00::1] */
        host[hl - 1] = '\0';
        host++;
    }
    struct pk_addr a;
    if (pk_addr_parse(host, &a) == 0) {
        if (a.family == AF_INET && strchr(host, ':') && plen >= 0) {
            /* ::ffff:a.b.c.d/P: an IPv4 block when P reaches into the
             * IPv4 part, else the IPv6 block it is. */
            if (plen >= 96) {
                plen -= 96;
            } else {
                inet_pton(AF_INET6, host, a.bytes);
                a.family = AF_INET6;
            }
        }
        int max = a.family == AF_INET ? 32 : 128;
        if (plen > max)
            return pk_err_set(err, PK_EINVAL, "prefix /%d in '%s' is too long for %s (0-%d)", plen,
                              SHOW(spec), a.family == AF_INET ? "IPv4" : "IPv6", max);
        return add_cidr(t, &a, plen, exclude, spec, err);
    }
    char *dash = strchr(host, '-');
    if (dash && plen < 0) { /* full-address range: A-B */
        *dash = '\0';
        struct pk_addr b;
        bool ok = pk_addr_parse(host, &a) == 0 && pk_addr_parse(dash + 1, &b) == 0;
        *dash = '-';
        if (ok) {
            if (a.family != b.family || a.scope_id != b.scope_id)
                return pk_err_set(err, PK_EINVAL, "range '%s' mixes address families", SHOW(spec));
            u128 lo = addr_value(&a), hi = addr_value(&b);
            if (lo > hi)
                return pk_err_set(err, PK_EINVAL, "range '%s' is backwards", SHOW(spec));
            return add_range(t, a.family, a.scope_id, lo, hi, exclude, spec, err);
        }
    }
    if (pk_addr_is_aton_form(host, &a))
        return pk_addr_parse_err(host, &a, err); /* refused, never resolved */
    if (looks_octets(host)) {
        if (plen >= 0)
            return pk_err_set(err, PK_EINVAL, "'%s' is not a valid IPv4 address or CIDR block",
                              SHOW(spec));
        return add_octets(t, host, exclude, spec, err);
    }
    if (plen > 128)
        return pk_err_set(err, PK_EINVAL, "bad prefix length in '%s'", SHOW(spec));
    return add_hostname(t, host, plen, exclude, spec, err);
}

int pk_targets_add(struct pk_targets *t, const char *spec, bool exclude, struct pk_err *err)
{
    return add_one(t, spec, exclude, err);
}

int pk_targets_add_text(struct pk_targets *t, const char *text, size_t len, bool exclude,
                        const char *origin, struct pk_err *err)
{
    const char *s = text, *end = text + len;
    unsigned line = 1;
    while (s < end) {
        char c = *s;
        if (c == '\n') {
            line++;
            s++;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == ',' || c == '\0') {
            s++;
            continue;
        }
        if (c == '#') {
            while (s < end && *s != '\n')
                s++;
            continue;
        }
        const char *w = s;
        while (s < end && *s != ' ' && *s != '\t' && *s != '\r' && *s != '\n' && *s != ',' &&
               *s != '#' && *s != '\0')
            s++;
        size_t n = (size_t)(s - w);
        char tok[SPEC_MAX];
        if (n >= sizeof tok)
            return pk_err_set(err, PK_EINVAL, "%s:%u: target is too long", origin ? origin : "-", line);
        memcpy(tok, w, n);
        tok[n] = '\0';
        int rc = add_one(t, tok, exclude, err);
        if (rc < 0) {
            if (err && origin) {
                char msg[PK_ERR_MSG_MAX];
                snprintf(msg, sizeof msg, "%s", err->msg);
                pk_err_set(err, rc, "%s:%u: %s", origin, line, msg);
            }
            return rc;
        }
    }
    return 0;
}

/* ---- finishing: sort, merge, exclude, index ---- */

static int range_cmp(const void *pa, const void *pb)
{
    const struct trange *a = pa, *b = pb;
    if (a->family != b->family)
        return a->family == AF_INET ? -1 : 1;
    if (a->scope != b->scope)
        return a->scope < b->scope ? -1 : 1;
    if (a->lo != b->lo)
        return a->lo < b->lo ? -1 : 1;
    return a->hi < b->hi ? -1 : a->hi > b->hi;
}

static void merge(struct rvec *r)
{
    if (r->n == 0)
        return;
    qsort(r->v, r->n, sizeof r->v[0], range_cmp);
    size_t w = 0;
    for (size_t i = 1; i < r->n; i++) {
        struct trange *cur = &r->v[w], *x = &r->v[i];
        bool same = cur->family == x->family && cur->scope == x->scope;
        if (same && (x->lo <= cur->hi || x->lo == cur->hi + 1)) {
            if (x->hi > cur->hi)
                cur->hi = x->hi;
        } else {
            r->v[++w] = *x;
        }
    }
    r->n = w + 1;
}

/* inc minus exc, both merged; the result replaces inc. */
static int subtract(struct pk_targets *t, struct pk_err *err)
{
    struct rvec out = {0};
    for (size_t i = 0; i < t->inc.n; i++) {
        struct trange r = t->inc.v[i];
        bool alive = true;
        for (size_t j = 0; j < t->exc.n && alive; j++) {
            const struct trange *x = &t->exc.v[j];
            if (x->family != r.family || (x->scope && x->scope != r.scope) || x->hi < r.lo ||
                x->lo > r.hi)
                continue;
            if (x->lo > r.lo) { /* the part before the exclusion survives */
                int rc = rvec_push(&out, r.family, r.scope, r.lo, x->lo - 1, err);
                if (rc < 0) {
                    free(out.v);
                    return rc;
                }
            }
            if (x->hi >= r.hi)
                alive = false;
            else
                r.lo = x->hi + 1;
        }
        if (alive) {
            int rc = rvec_push(&out, r.family, r.scope, r.lo, r.hi, err);
            if (rc < 0) {
                free(out.v);
                return rc;
            }
        }
    }
    free(t->inc.v);
    t->inc = out;
    return 0;
}

static int name_cmp(const void *pa, const void *pb)
{
    const struct tname *a = pa, *b = pb;
    return pk_addr_cmp(&a->addr, &b->addr);
}

int pk_targets_finish(struct pk_targets *t, uint64_t max_hosts, struct pk_err *err)
{
    if (t->finished)
        return 0;
    if (t->inc.n == 0)
        return pk_err_set(err, PK_EINVAL, "no targets given");
    merge(&t->inc);
    merge(&t->exc);
    int rc = subtract(t, err);
    if (rc < 0)
        return rc;
    /* Sizes saturate: an IPv6 /0 holds 2^128 hosts, one more than fits. */
    const u128 top = ~(u128)0;
    u128 total = 0;
    for (size_t i = 0; i < t->inc.n; i++) {
        u128 span = t->inc.v[i].hi - t->inc.v[i].lo;
        u128 size = span == top ? top : span + 1;
        total = total > top - size ? top : total + size;
    }
    if (t->inc.n == 0)
        return pk_err_set(err, PK_ENOTFOUND, "no hosts left to scan after the exclusions");
    const u128 hard = (u128)1 << 32;
    if (total > max_hosts || total > hard) {
        char num[48];
        if (total > (u128)UINT64_MAX)
            snprintf(num, sizeof num, "more than 2^64");
        else
            snprintf(num, sizeof num, "%llu", (unsigned long long)total);
        if (total > hard)
            return pk_err_set(err, PK_EINVAL, "%s hosts: portkit scans at most 2^32 hosts at once", num);
        return pk_err_set(err, PK_EINVAL, "%s hosts is more than %llu; pass --force to scan them all",
                          num, (unsigned long long)max_hosts);
    }
    t->count = (uint64_t)total;
    t->starts = malloc(t->inc.n * sizeof *t->starts);
    if (!t->starts)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    uint64_t at = 0;
    for (size_t i = 0; i < t->inc.n; i++) {
        t->starts[i] = at;
        at += (uint64_t)(t->inc.v[i].hi - t->inc.v[i].lo + 1);
    }
    if (t->nnames)
        qsort(t->names, t->nnames, sizeof *t->names, name_cmp);
    t->finished = true;
    return 0;
}

uint64_t pk_targets_count(const struct pk_targets *t)
{
    return t->finished ? t->count : 0;
}

void pk_targets_get(const struct pk_targets *t, uint64_t index, struct pk_addr *out)
{
    size_t lo = 0, hi = t->inc.n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->starts[mid] <= index)
            lo = mid;
        else
            hi = mid;
    }
    const struct trange *r = &t->inc.v[lo];
    value_addr(r->family, r->lo + (index - t->starts[lo]), r->scope, out);
}

const char *pk_targets_name(const struct pk_targets *t, uint64_t index)
{
    if (!t->nnames)
        return NULL;
    struct tname key;
    pk_targets_get(t, index, &key.addr);
    const struct tname *hit = bsearch(&key, t->names, t->nnames, sizeof key, name_cmp);
    return hit ? hit->name : NULL;
}
