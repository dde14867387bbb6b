#include "portkit/portspec.h"
#include "portkit/registry.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "util/quote.h"

#define NWORDS (65536 / 64)

/* One bit per port and transport: 8 KiB each, so any spec (even
 * "1-65535" twice) costs the same and membership is O(1). */
struct pk_ports {
    uint64_t bits[2][NWORDS]; /* [0] tcp, [1] udp */
};

static int proto_index(enum pk_proto proto)
{
    return proto == PK_UDP ? 1 : 0;
}

struct pk_ports *pk_ports_new(void)
{
    return calloc(1, sizeof(struct pk_ports));
}

void pk_ports_free(struct pk_ports *p)
{
    free(p);
}

void pk_ports_add_range(struct pk_ports *p, enum pk_proto proto, unsigned lo, unsigned hi)
{
    if (proto != PK_TCP && proto != PK_UDP)
        return;
    uint64_t *b = p->bits[proto_index(proto)];
    for (unsigned port = lo; port <= hi && port <= 65535; port++)
        b[port / 64] |= 1ull << (port % 64);
}

void pk_ports_remove(struct pk_ports *p, const struct pk_ports *ex)
{
    for (int t = 0; t < 2; t++)
        for (size_t i = 0; i < NWORDS; i++)
            p->bits[t][i] &= ~ex->bits[t][i];
}

bool pk_ports_has(const struct pk_ports *p, enum pk_proto proto, unsigned port)
{
    if ((proto != PK_TCP && proto != PK_UDP) || port > 65535)
        return false;
    return (p->bits[proto_index(proto)][port / 64] >> (port % 64)) & 1;
}

size_t pk_ports_count(const struct pk_ports *p, enum pk_proto proto)
{
    if (proto != PK_TCP && proto != PK_UDP)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < NWORDS; i++)
        n += (size_t)__builtin_popcountll(p->bits[proto_index(proto)][i]);
    return n;
}

size_t pk_ports_list(const struct pk_ports *p, enum pk_proto proto, uint16_t *out, size_t max)
{
    if (proto != PK_TCP && proto != PK_UDP)
        return 0;
    const uint64_t *b = p->bits[proto_index(proto)];
    size_t n = 0;
    for (size_t i = 0; i < NWORDS; i++) {
        uint64_t w = b[i];
        while (w) {
            unsigned bit = (unsigned)__builtin_ctzll(w);
            w &= w - 1;
            if (n < max)
                out[n] = (uint16_t)(i * 64 + bit);
            n++;
        }
    }
    return n;
}

void pk_ports_format_array(const uint16_t *ports, size_t n, struct pk_buf *out)
{
    bool first = true;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && ports[j + 1] == ports[j] + 1)
            j++;
        if (j == i)
            pk_buf_printf(out, "%s%u", first ? "" : ",", ports[i]);
        else
            pk_buf_printf(out, "%s%u-%u", first ? "" : ",", ports[i], ports[j]);
        first = false;
        i = j + 1;
    }
}

void pk_ports_format(const struct pk_ports *p, enum pk_proto proto, struct pk_buf *out)
{
    size_t n = pk_ports_count(p, proto);
    uint16_t *arr = malloc((n ? n : 1) * sizeof *arr);
    if (!arr)
        return;
    pk_ports_list(p, proto, arr, n);
    pk_ports_format_array(arr, n, out);
    free(arr);
}

/* ---- the spec parser ---- */

#define SHOW(s, n) QUOTE(s, n)

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int parse_number(const char *s, size_t n, unsigned *out, const char *tok, size_t toklen,
                        struct pk_err *err)
{
    if (n == 0)
        return pk_err_set(err, PK_EINVAL, "missing port number in '%s'", SHOW(tok, toklen));
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return pk_err_set(err, PK_EINVAL, "'%s' is not a port number or range",
                              SHOW(tok, toklen));
        v = v * 10 + (unsigned long)(s[i] - '0');
        if (v > 65535)
            return pk_err_set(err, PK_EINVAL, "port %s in '%s' is out of range (0-65535)",
                              SHOW(s, n), SHOW(tok, toklen));
    }
    *out = (unsigned)v;
    return 0;
}

/* "N", "N-M", "-M", "N-", "-" */
static int parse_range(const char *s, size_t n, unsigned *lo, unsigned *hi, struct pk_err *err)
{
    const char *dash = memchr(s, '-', n);
    if (!dash) {
        if (parse_number(s, n, lo, s, n, err) < 0)
            return PK_EINVAL;
        *hi = *lo;
        return 0;
    }
    size_t a = (size_t)(dash - s), b = n - a - 1;
    *lo = 1;
    *hi = 65535;
    if (a && parse_number(s, a, lo, s, n, err) < 0)
        return PK_EINVAL;
    if (b && parse_number(dash + 1, b, hi, s, n, err) < 0)
        return PK_EINVAL;
    if (*lo > *hi)
        return pk_err_set(err, PK_EINVAL, "port range '%s' is backwards (%u > %u)", SHOW(s, n),
                          *lo, *hi);
    return 0;
}

static bool name_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' || c == '+' || c == '/' ||
           c == '*' || c == '?';
}

/* Every registry (port, proto) whose IANA or curated name matches a shell
 * pattern. Adds to `into` (may be NULL to only count); returns matches. */
static size_t add_pattern(struct pk_ports *into, const struct pk_registry *reg, const char *pat,
                          enum pk_proto proto)
{
    size_t n = 0;
    for (size_t i = 0; i < pk_registry_count(reg); i++) {
        struct pk_service s;
        pk_registry_get(reg, i, &s);
        if (s.proto != proto || !s.name[0] || fnmatch(pat, s.name, FNM_CASEFOLD) != 0)
            continue;
        if (into)
            pk_ports_add_range(into, proto, s.port, s.port);
        n++;
    }
    for (size_t i = 0; i < pk_registry_note_count(reg); i++) {
        struct pk_note note;
        pk_registry_note_get(reg, i, &note);
        if (note.proto != proto || !note.name[0] || fnmatch(pat, note.name, FNM_CASEFOLD) != 0)
            continue;
        if (into)
            pk_ports_add_range(into, proto, note.port, note.port);
        n++;
    }
    return n;
}

static size_t add_name(struct pk_ports *into, const struct pk_registry *reg, const char *name,
                       enum pk_proto proto)
{
    struct pk_port_proto found[128];
    size_t total = pk_registry_find_name(reg, name, found, 128);
    size_t n = 0;
    for (size_t i = 0; i < total && i < 128; i++) {
        if (found[i].proto != proto)
            continue;
        pk_ports_add_range(into, proto, found[i].port, found[i].port);
        n++;
    }
    return n;
}

static int parse_name(struct pk_ports *into, const struct pk_registry *reg, const char *s, size_t n,
                      unsigned protos, struct pk_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (!name_char(s[i]))
            return pk_err_set(err, PK_EINVAL, "'%s' is not a port, range or service name",
                              SHOW(s, n));
    if (!reg)
        return pk_err_set(err, PK_EINVAL, "service name '%s' needs the port registry", SHOW(s, n));
    char name[128];
    if (n >= sizeof name)
        return pk_err_set(err, PK_EINVAL, "service name '%s' is too long", SHOW(s, n));
    memcpy(name, s, n);
    name[n] = '\0';
    bool pattern = strpbrk(name, "*?") != NULL;
    size_t found = 0;
    for (int t = PK_TCP; t <= PK_UDP; t++) {
        if (!(protos & PK_PROTO_MASK(t)))
            continue;
        found += pattern ? add_pattern(into, reg, name, (enum pk_proto)t)
                         : add_name(into, reg, name, (enum pk_proto)t);
    }
    if (!found) {
        const char *which = protos == PK_PROTO_MASK(PK_UDP)   ? " for udp"
                            : protos == PK_PROTO_MASK(PK_TCP) ? " for tcp"
                                                              : "";
        return pk_err_set(err, PK_EINVAL, "no service %s '%s'%s in the port registry",
                          pattern ? "matches" : "named", SHOW(name, n), which);
    }
    return 0;
}

int pk_ports_parse(struct pk_ports *p, const char *spec, const struct pk_registry *reg,
                   unsigned default_protos, unsigned *named, struct pk_err *err)
{
    default_protos &= PK_PROTO_MASK(PK_TCP) | PK_PROTO_MASK(PK_UDP);
    if (!default_protos)
        default_protos = PK_PROTO_MASK(PK_TCP);
    /* Parse into a scratch set so a bad element leaves p untouched. */
    struct pk_ports *tmp = pk_ports_new();
    if (!tmp)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    unsigned protos = default_protos, prefixed = 0;
    int rc = 0;
    size_t len = strlen(spec);
    const char *s = spec, *end = spec + len;
    while (is_blank(*s))
        s++;
    if (s == end) {
        rc = pk_err_set(err, PK_EINVAL, "empty port list");
        goto out;
    }
    for (;;) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *tend = comma ? comma : end;
        const char *t = s;
        while (t < tend && is_blank(*t))
            t++;
        const char *te = tend;
        while (te > t && is_blank(te[-1]))
            te--;
        size_t n = (size_t)(te - t);
        if (n == 0) {
            rc = pk_err_set(err, PK_EINVAL, "empty element in port list '%s'", SHOW(spec, len));
            goto out;
        }
        if (n >= 2 && t[1] == ':') {
            char c = (char)toupper((unsigned char)t[0]);
            if (c == 'T')
                protos = PK_PROTO_MASK(PK_TCP);
            else if (c == 'U')
                protos = PK_PROTO_MASK(PK_UDP);
            else if (c == 'S') {
                rc = pk_err_set(err, PK_EINVAL, "SCTP ports ('%s') are not supported", SHOW(t, n));
                goto out;
            } else {
                rc = pk_err_set(err, PK_EINVAL, "unknown prefix in '%s' (use T: or U:)", SHOW(t, n));
                goto out;
            }
            prefixed |= protos;
            t += 2;
            n -= 2;
            while (n && is_blank(*t)) {
                t++;
                n--;
            }
            if (n == 0) {
                rc = pk_err_set(err, PK_EINVAL, "no ports after '%c:' in '%s'", c, SHOW(spec, len));
                goto out;
            }
        }
        if (t[0] == '[') {
            rc = pk_err_set(err, PK_EINVAL, "bracketed ports ('%s') are not supported", SHOW(t, n));
            goto out;
        }
        if (isdigit((unsigned char)t[0]) || t[0] == '-') {
            unsigned lo, hi;
            if ((rc = parse_range(t, n, &lo, &hi, err)) < 0)
                goto out;
            for (int pr = PK_TCP; pr <= PK_UDP; pr++)
                if (protos & PK_PROTO_MASK(pr))
                    pk_ports_add_range(tmp, (enum pk_proto)pr, lo, hi);
        } else if ((rc = parse_name(tmp, reg, t, n, protos, err)) < 0) {
            goto out;
        }
        if (!comma)
            break;
        s = comma + 1;
    }
    for (int t = 0; t < 2; t++)
        for (size_t i = 0; i < NWORDS; i++)
            p->bits[t][i] |= tmp->bits[t][i];
    if (named)
        *named = prefixed;
out:
    pk_ports_free(tmp);
    return rc;
}
