/* LISTEN/TARGET addresses and option durations as users write them. */
#include "portkit/forward.h"
#include "portkit/duration.h"
#include "portkit/registry.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define ADDR_TEXT_MAX 256

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

static int parse_port(const char *p, enum pk_proto proto, bool target,
                      const struct pk_registry *reg, const char *whole, unsigned *port,
                      struct pk_err *err)
{
    if (!*p)
        return pk_err_set(err, PK_EINVAL, "'%s': missing port", whole);
    if (all_digits(p)) {
        if (pk_port_parse(p, strlen(p), port) < 0)
            return pk_err_set(err, PK_EINVAL, "'%s': port %s is out of range (0-65535)", whole, p);
    } else {
        if (!reg)
            reg = pk_registry_builtin();
        if (pk_registry_resolve(reg, p, proto, port) < 0)
            return pk_err_set(err, PK_EINVAL, "'%s': no %s service named '%s'%s", whole,
                              pk_proto_name(proto), p,
                              strchr(whole, ':') ? ""
                              : target ? " (a TARGET is HOST:PORT)" : " (a LISTEN is [ADDR]:PORT)");
    }
    if (target && *port == 0)
        return pk_err_set(err, PK_EINVAL, "'%s': target port 0 cannot be connected to", whole);
    return 0;
}

static void set_port(struct pk_fw_addr *a, unsigned port)
{
    if (a->ss.ss_family == AF_INET)
        ((struct sockaddr_in *)(void *)&a->ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)(void *)&a->ss)->sin6_port = htons((uint16_t)port);
}

/* A numeric host, IPv6 scope ("fe80::1%lo") included; never touches DNS.
 * IPv4-mapped IPv6 becomes the IPv4 address it carries. */
static bool numeric_host(const char *host, struct pk_fw_addr *a)
{
    struct pk_addr addr;
    if (pk_addr_parse(host, &addr) < 0)
        return false;
    a->len = pk_addr_sockaddr(&addr, 0, &a->ss);
    return true;
}

static int resolve_host(const char *host, enum pk_proto proto, const char *whole,
                        struct pk_fw_addr *a, struct pk_err *err)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = proto == PK_UDP ? SOCK_DGRAM : SOCK_STREAM,
    };
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || !res)
        return pk_err_set(err, PK_EINVAL, "'%s': cannot resolve '%s': %s", whole, host,
                          rc ? gai_strerror(rc) : "no address");
    /* The first answer, as getaddrinfo orders them (RFC 6724). */
    struct pk_addr addr;
    pk_addr_from_sockaddr(res->ai_addr, &addr);
    a->len = pk_addr_sockaddr(&addr, 0, &a->ss);
    freeaddrinfo(res);
    return 0;
}

int pk_fw_addr_parse(const char *s, size_t len, enum pk_proto proto, bool target,
                     const struct pk_registry *reg, unsigned flags, struct pk_fw_addr *out,
                     struct pk_err *err)
{
    char text[ADDR_TEXT_MAX];
    const char *what = target ? "target" : "listen address";
    memset(out, 0, sizeof *out);
    if (len == 0)
        return pk_err_set(err, PK_EINVAL, "empty %s", what);
    if (len >= sizeof text)
        return pk_err_set(err, PK_EINVAL, "%s '%.20s...' is too long", what, s);
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\0' || isspace((unsigned char)s[i]) || !isprint((unsigned char)s[i]))
            return pk_err_set(err, PK_EINVAL, "%s contains a blank or control character", what);
    memcpy(text, s, len);
    text[len] = '\0';

    char hostbuf[ADDR_TEXT_MAX], portbuf[ADDR_TEXT_MAX];
    if (text[0] == '[') {
        char *close = strchr(text, ']');
        if (!close)
            return pk_err_set(err, PK_EINVAL, "'%s': missing ']' after the IPv6 address", text);
        if (close[1] != ':')
            return pk_err_set(err, PK_EINVAL, "'%s': expected ':PORT' after ']'", text);
        snprintf(hostbuf, sizeof hostbuf, "%.*s", (int)(close - text - 1), text + 1);
        snprintf(portbuf, sizeof portbuf, "%s", close + 2);
        if (!hostbuf[0])
            return pk_err_set(err, PK_EINVAL, "'%s': empty IPv6 address in []", text);
    } else {
        char *colon = strrchr(text, ':');
        if (colon && colon != strchr(text, ':'))
            return pk_err_set(err, PK_EINVAL,
                              "'%s': put an IPv6 address in brackets, e.g. [::1]:80", text);
        if (colon) {
            snprintf(hostbuf, sizeof hostbuf, "%.*s", (int)(colon - text), text);
            snprintf(portbuf, sizeof portbuf, "%s", colon + 1);
        } else {
            hostbuf[0] = '\0';
            snprintf(portbuf, sizeof portbuf, "%s", text);
        }
    }

    /* "127.0.0.1" alone is an address without its port, not a service
     * name: say so rather than "no tcp service named '127.0.0.1'". */
    struct pk_addr bare;
    if (!strchr(text, ':') && !all_digits(text) &&
        (pk_addr_parse(text, &bare) == 0 || pk_addr_is_aton_form(text, &bare)))
        return pk_err_set(err, PK_EINVAL, "'%s': the %s lacks :PORT (write %s:PORT)", text, what,
                          text);
    unsigned port;
    int rc = parse_port(portbuf, proto, target, reg, text, &port, err);
    if (rc < 0)
        return rc;

    if (!hostbuf[0] || strcmp(hostbuf, "*") == 0) {
        if (target && hostbuf[0])
            return pk_err_set(err, PK_EINVAL, "'%s': a target needs an address, not '*'", text);
        if (target) {
            struct sockaddr_in *in = (struct sockaddr_in *)(void *)&out->ss;
            in->sin_family = AF_INET;
            in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            out->len = sizeof *in;
        } else {
            /* Dual-stack "::" here; the listener falls back to 0.0.0.0 when
             * the host has no IPv6. */
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)&out->ss;
            in6->sin6_family = AF_INET6;
            in6->sin6_addr = in6addr_any;
            out->len = sizeof *in6;
            out->any = true;
        }
    } else if (!numeric_host(hostbuf, out) ||
               (text[0] == '[' && !strchr(hostbuf, ':'))) {
        if (text[0] == '[')
            return pk_err_set(err, PK_EINVAL, "'%s': '%s' is not an IPv6 address", text, hostbuf);
        struct pk_addr meant;
        if (pk_addr_is_aton_form(hostbuf, &meant)) { /* refused, never resolved */
            struct pk_err sub = {0};
            pk_addr_parse_err(hostbuf, &meant, &sub);
            return pk_err_set(err, PK_EINVAL, "'%s': %s", text, sub.msg);
        }
        if (strspn(hostbuf, "0123456789.") == strlen(hostbuf))
            return pk_err_set(err, PK_EINVAL, "'%s': '%s' is not an IPv4 address", text, hostbuf);
        if (flags & PK_FW_NUMERIC)
            return pk_err_set(err, PK_EINVAL, "'%s': '%s' is not a numeric address", text, hostbuf);
        rc = resolve_host(hostbuf, proto, text, out, err);
        if (rc < 0)
            return rc;
        snprintf(out->host, sizeof out->host, "%s", hostbuf);
    }
    set_port(out, port);
    return 0;
}

void pk_fw_sockaddr_format(const struct sockaddr *sa, char *buf, size_t size)
{
    pk_sockaddr_format(sa, buf, size);
}

void pk_fw_addr_format(const struct pk_fw_addr *a, char *buf, size_t size)
{
    if (a->any) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)&a->ss;
        snprintf(buf, size, "*:%u", ntohs(in6->sin6_port));
        return;
    }
    pk_sockaddr_format((const struct sockaddr *)&a->ss, buf, size);
}

bool pk_fw_addr_equal(const struct pk_fw_addr *a, const struct pk_fw_addr *b)
{
    if (a->any != b->any || a->ss.ss_family != b->ss.ss_family)
        return false;
    if (a->ss.ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)&a->ss, *y = (const void *)&b->ss;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)&a->ss, *y = (const void *)&b->ss;
        return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
    }
    return false;
}

int pk_fw_duration_parse(const char *s, size_t len, uint64_t *ms, struct pk_err *err)
{
    return pk_duration_parse(s, len, 0, ms, err);
}
