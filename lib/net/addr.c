/* The address vocabulary: see portkit/addr.h for the two rules it enforces
 * (IPv4-mapped is IPv4; IPv4 is a dotted quad). */
#include "portkit/addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/quote.h"

/* ---- transports and ports ---- */

static const char *const proto_names[PK_PROTO_COUNT] = {"tcp", "udp", "sctp", "dccp"};

const char *pk_proto_name(enum pk_proto p)
{
    return (unsigned)p < PK_PROTO_COUNT ? proto_names[p] : "?";
}

int pk_proto_parse(const char *s, size_t len, enum pk_proto *out)
{
    for (int i = 0; i < PK_PROTO_COUNT; i++) {
        if (strlen(proto_names[i]) == len && strncasecmp(s, proto_names[i], len) == 0) {
            *out = (enum pk_proto)i;
            return 0;
        }
    }
    return PK_EINVAL;
}

enum pk_range pk_port_range(unsigned port)
{
    if (port <= 1023)
        return PK_RANGE_WELL_KNOWN;
    if (port <= 49151)
        return PK_RANGE_REGISTERED;
    return PK_RANGE_DYNAMIC;
}

const char *pk_range_name(enum pk_range r)
{
    switch (r) {
    case PK_RANGE_WELL_KNOWN: return "well-known";
    case PK_RANGE_REGISTERED: return "registered";
    default: return "dynamic";
    }
}

int pk_port_parse(const char *s, size_t len, unsigned *out)
{
    if (len == 0 || len > 5)
        return PK_EINVAL;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return PK_EINVAL;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535)
        return PK_EINVAL;
    *out = v;
    return 0;
}

int pk_portrange_parse(const char *text, unsigned *lo, unsigned *hi, struct pk_err *err)
{
    const char *dash = strchr(text, '-');
    size_t n1 = dash ? (size_t)(dash - text) : strlen(text);
    if (pk_port_parse(text, n1, lo) < 0 || *lo == 0)
        goto bad;
    if (!dash) {
        *hi = *lo;
        return 0;
    }
    if (pk_port_parse(dash + 1, strlen(dash + 1), hi) < 0 || *hi == 0)
        goto bad;
    if (*lo > *hi)
        return pk_err_set(err, PK_EINVAL, "range '%.40s' runs backwards (LO must not exceed HI)",
                          QUOTE_STR(text));
    return 0;
bad:
    return pk_err_set(err, PK_EINVAL, "bad port range '%.40s' (expected LO-HI, ports 1-65535)",
                      QUOTE_STR(text));
}

/* ---- addresses ---- */

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void pk_addr_unmap(struct pk_addr *a)
{
    if (a->family != AF_INET6 || memcmp(a->bytes, v4mapped_prefix, 12) != 0)
        return;
    uint8_t v4[4];
    memcpy(v4, a->bytes + 12, 4);
    memset(a, 0, sizeof *a);
    a->family = AF_INET;
    memcpy(a->bytes, v4, 4);
}

bool pk_addr_is_aton_form(const char *s, struct pk_addr *meant)
{
    /* inet_aton also takes trailing blanks and junk after them; only a
     * token made of its own characters counts here. */
    if (!*s || strspn(s, "0123456789abcdefABCDEFxX.") != strlen(s))
        return false;
    struct in_addr in;
    unsigned char quad[4];
    if (inet_aton(s, &in) != 1 || inet_pton(AF_INET, s, quad) == 1)
        return false;
    if (meant) {
        memset(meant, 0, sizeof *meant);
        meant->family = AF_INET;
        memcpy(meant->bytes, &in, 4);
    }
    return true;
}

int pk_addr_parse(const char *s, struct pk_addr *out)
{
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, s, out->bytes) == 1) {
        out->family = AF_INET;
        return 0;
    }
    char buf[PK_ADDR_STRLEN];
    size_t n = strlen(s);
    if (n >= sizeof buf)
        return PK_EINVAL;
    memcpy(buf, s, n + 1);
    char *pct = strchr(buf, '%');
    if (pct)
        *pct++ = '\0';
    if (inet_pton(AF_INET6, buf, out->bytes) != 1)
        return PK_EINVAL;
    out->family = AF_INET6;
    if (pct) {
        if (!*pct)
            return PK_EINVAL;
        char *end;
        unsigned long idx = strtoul(pct, &end, 10);
        if (*end || !isdigit((unsigned char)*pct))
            idx = if_nametoindex(pct);
        if (idx == 0 || idx > UINT32_MAX)
            return PK_EINVAL;
        out->scope_id = (uint32_t)idx;
    }
    pk_addr_unmap(out);
    return 0;
}

int pk_addr_parse_err(const char *s, struct pk_addr *out, struct pk_err *err)
{
    if (pk_addr_parse(s, out) == 0)
        return 0;
    struct pk_addr meant;
    if (pk_addr_is_aton_form(s, &meant)) {
        char text[PK_ADDR_STRLEN];
        pk_addr_format(&meant, text, sizeof text);
        return pk_err_set(err, PK_EINVAL,
                          "'%s' is not an IPv4 or IPv6 address (did you mean %s? write all four "
                          "numbers in decimal)", QUOTE_STR(s), text);
    }
    const char *pct = strchr(s, '%');
    if (pct && strchr(s, ':'))
        return pk_err_set(err, PK_EINVAL, "'%s': no network interface '%s' here", QUOTE_STR(s),
                          QUOTE_STR(pct + 1));
    return pk_err_set(err, PK_EINVAL, "'%s' is not an IPv4 or IPv6 address", QUOTE_STR(s));
}

int pk_addr_from_sockaddr(const struct sockaddr *sa, struct pk_addr *out)
{
    memset(out, 0, sizeof *out);
    if (sa->sa_family == AF_INET) {
        out->family = AF_INET;
        memcpy(out->bytes, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        out->family = AF_INET6;
        memcpy(out->bytes, &in6->sin6_addr, 16);
        out->scope_id = in6->sin6_scope_id;
        pk_addr_unmap(out);
        return 0;
    }
    return PK_EINVAL;
}

void pk_addr_format(const struct pk_addr *a, char *buf, size_t len)
{
    if (!len)
        return;
    if (!inet_ntop(a->family, a->bytes, buf, (socklen_t)len)) {
        snprintf(buf, len, "?");
        return;
    }
    if (a->family == AF_INET6 && a->scope_id) {
        char ifname[IF_NAMESIZE];
        size_t used = strlen(buf);
        if (if_indextoname(a->scope_id, ifname))
            snprintf(buf + used, len - used, "%%%s", ifname);
        else
            snprintf(buf + used, len - used, "%%%u", a->scope_id);
    }
}

socklen_t pk_addr_sockaddr(const struct pk_addr *a, uint16_t port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (a->family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        memcpy(&sin->sin_addr, a->bytes, 4);
        return sizeof *sin;
    }
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    memcpy(&sin6->sin6_addr, a->bytes, 16);
    sin6->sin6_scope_id = a->scope_id;
    return sizeof *sin6;
}

int pk_addr_cmp(const struct pk_addr *a, const struct pk_addr *b)
{
    if (a->family != b->family)
        return a->family == AF_INET ? -1 : 1;
    /* The interface first: link-local addresses of one link stay together,
     * the order the finished target set uses. */
    if (a->scope_id != b->scope_id)
        return a->scope_id < b->scope_id ? -1 : 1;
    return memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16);
}

bool pk_addr_is_loopback(const struct pk_addr *a)
{
    static const uint8_t one[16] = {[15] = 1};
    if (a->family == AF_INET)
        return a->bytes[0] == 127;
    return memcmp(a->bytes, one, 16) == 0;
}

bool pk_addr_is_multicast(const struct pk_addr *a)
{
    if (a->family == AF_INET)
        return (a->bytes[0] & 0xf0) == 0xe0;
    return a->bytes[0] == 0xff;
}

bool pk_addr_is_unspecified(const struct pk_addr *a)
{
    static const uint8_t zero[16];
    return memcmp(a->bytes, zero, a->family == AF_INET ? 4 : 16) == 0;
}

bool pk_addr_is_local_broadcast(const struct pk_addr *a)
{
    if (a->family != AF_INET)
        return false; /* IPv6 has no broadcast */
    /* Connecting a UDP socket routes without sending; the kernel refuses a
     * broadcast route to a socket without SO_BROADCAST. */
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_storage ss;
    socklen_t len = pk_addr_sockaddr(a, 9, &ss);
    bool bcast = connect(fd, (struct sockaddr *)&ss, len) < 0 && errno == EACCES;
    close(fd);
    return bcast;
}

void pk_sockaddr_format(const struct sockaddr *sa, char *buf, size_t size)
{
    struct pk_addr a;
    if (!sa) {
        snprintf(buf, size, "-");
        return;
    }
    if (pk_addr_from_sockaddr(sa, &a) < 0) {
        snprintf(buf, size, "?");
        return;
    }
    char host[PK_ADDR_STRLEN];
    pk_addr_format(&a, host, sizeof host);
    unsigned port = sa->sa_family == AF_INET
                        ? ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port)
                        : ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
    snprintf(buf, size, a.family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
}

/* ---- CIDR blocks ---- */

int pk_cidr_parse(const char *s, size_t len, struct pk_cidr *out, struct pk_err *err)
{
    char text[INET6_ADDRSTRLEN + 8];
    if (len == 0)
        return pk_err_set(err, PK_EINVAL, "empty address");
    if (memchr(s, '\0', len))
        return pk_err_set(err, PK_EINVAL, "address contains a NUL byte");
    if (len >= sizeof text)
        return pk_err_set(err, PK_EINVAL, "'%.20s...' is too long for an address or CIDR",
                          QUOTE(s, 20));
    memcpy(text, s, len);
    text[len] = '\0';
    char *slash = strchr(text, '/');
    if (slash)
        *slash = '\0';
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, text, out->addr) == 1) {
        out->family = AF_INET;
        out->prefix = 32;
    } else if (inet_pton(AF_INET6, text, out->addr) == 1) {
        out->family = AF_INET6;
        out->prefix = 128;
    } else {
        struct pk_addr unused;
        if (pk_addr_is_aton_form(text, &unused))
            return pk_addr_parse_err(text, &unused, err); /* the one message for them */
        return pk_err_set(err, PK_EINVAL, "'%s' is not an IPv4 or IPv6 address", QUOTE_STR(text));
    }
    if (slash) {
        unsigned prefix;
        const char *p = slash + 1;
        if (pk_port_parse(p, strlen(p), &prefix) < 0 || prefix > out->prefix)
            return pk_err_set(err, PK_EINVAL, "bad prefix length '/%s' (0-%u)", QUOTE_STR(p),
                              out->prefix);
        out->prefix = prefix;
    }
    unsigned nbytes = out->family == AF_INET ? 4 : 16;
    for (unsigned bit = out->prefix; bit < nbytes * 8; bit++) {
        if (out->addr[bit / 8] & (0x80u >> (bit % 8))) {
            if (slash)
                *slash = '/';
            return pk_err_set(err, PK_EINVAL, "'%s' has host bits set beyond the /%u prefix",
                              QUOTE_STR(text), out->prefix);
        }
    }
    /* A block inside ::ffff:0:0/96 is an IPv4 block: one model for both
     * families, so "deny ::ffff:127.0.0.3" matches the client 127.0.0.3. */
    if (out->family == AF_INET6 && out->prefix >= 96 &&
        memcmp(out->addr, v4mapped_prefix, 12) == 0) {
        uint8_t v4[4];
        memcpy(v4, out->addr + 12, 4);
        memset(out->addr, 0, sizeof out->addr);
        memcpy(out->addr, v4, 4);
        out->family = AF_INET;
        out->prefix -= 96;
    }
    return 0;
}

static bool prefix_equal(const uint8_t *net, const uint8_t *a, unsigned prefix)
{
    unsigned full = prefix / 8, rest = prefix % 8;
    if (memcmp(net, a, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (a[full] & mask) == net[full];
}

bool pk_cidr_contains(const struct pk_cidr *c, const struct pk_addr *addr)
{
    struct pk_addr a = *addr;
    pk_addr_unmap(&a);
    if (c->family == a.family)
        return prefix_equal(c->addr, a.bytes, c->prefix);
    if (c->family == AF_INET6 && a.family == AF_INET) {
        /* An IPv6 block wide enough to hold ::ffff:0:0/96 holds IPv4 too. */
        uint8_t mapped[16];
        memcpy(mapped, v4mapped_prefix, 12);
        memcpy(mapped + 12, a.bytes, 4);
        return prefix_equal(c->addr, mapped, c->prefix);
    }
    return false;
}

bool pk_cidr_match(const struct pk_cidr *c, const struct sockaddr *sa)
{
    struct pk_addr a;
    return pk_addr_from_sockaddr(sa, &a) == 0 && pk_cidr_contains(c, &a);
}

void pk_cidr_format(const struct pk_cidr *c, char *buf, size_t size)
{
    char addr[INET6_ADDRSTRLEN];
    if (!inet_ntop(c->family, c->addr, addr, sizeof addr))
        snprintf(addr, sizeof addr, "?");
    snprintf(buf, size, "%s/%u", addr, c->prefix);
}
