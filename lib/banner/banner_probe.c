/* What to send to a TCP port that waits for its client, and the plan per
 * port: how long to wait for a greeting, which probes to try in order. */
#include <stdio.h>
#include <string.h>

#include "banner/banner_impl.h"
#include "banner/dnsmsg.h"
#include "portkit/error.h"

static const char *const probe_names[PK_PROBE_COUNT] = {
    [PK_PROBE_NULL] = "null",       [PK_PROBE_HTTP] = "http",
    [PK_PROBE_TLS] = "tls",         [PK_PROBE_REDIS] = "redis",
    [PK_PROBE_MEMCACHED] = "memcached", [PK_PROBE_PGSQL] = "pgsql",
    [PK_PROBE_DNS] = "dns",
};

const char *pk_probe_name(enum pk_probe_id id)
{
    return (unsigned)id < PK_PROBE_COUNT ? probe_names[id] : "?";
}

static int put(uint8_t *out, size_t cap, const void *bytes, size_t n)
{
    if (n > cap)
        return PK_EINVAL;
    memcpy(out, bytes, n);
    return (int)n;
}

/* The Host header value: the name the user gave, or a bracketed IPv6
 * literal; without either, HTTP/1.0 lets us send none. Anything that could
 * split the header is refused rather than sent. */
static bool host_is_safe(const char *h)
{
    for (; *h; h++)
        if ((unsigned char)*h <= 0x20 || *h == 0x7F)
            return false;
    return true;
}

static int build_http(const struct pk_probe_params *p, uint8_t *out, size_t cap)
{
    const char *host = p && p->host && p->host[0] && strlen(p->host) < 256 && host_is_safe(p->host)
                           ? p->host : NULL;
    char buf[512];
    int n;
    if (!host)
        n = snprintf(buf, sizeof buf, "HEAD / HTTP/1.0\r\nUser-Agent: portkit/%s\r\n"
                                      "Accept: */*\r\n\r\n", PK_VERSION);
    else if (strchr(host, ':') && host[0] != '[')
        n = snprintf(buf, sizeof buf, "HEAD / HTTP/1.0\r\nHost: [%s]\r\nUser-Agent: portkit/%s\r\n"
                                      "Accept: */*\r\n\r\n", host, PK_VERSION);
    else
        n = snprintf(buf, sizeof buf, "HEAD / HTTP/1.0\r\nHost: %s\r\nUser-Agent: portkit/%s\r\n"
                                      "Accept: */*\r\n\r\n", host, PK_VERSION);
    if (n < 0 || (size_t)n >= sizeof buf)
        return PK_EINVAL;
    return put(out, cap, buf, (size_t)n);
}

int pk_banner_probe_build(enum pk_probe_id id, const struct pk_probe_params *p, uint8_t *out,
                          size_t cap)
{
    static const char redis[] = "PING\r\nINFO server\r\n";
    static const char memcached[] = "version\r\n";
    /* length 8, code 80877103 (1234 in the high half, 5679 in the low) */
    static const uint8_t ssl_request[] = {0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F};
    switch (id) {
    case PK_PROBE_NULL:
        return 0;
    case PK_PROBE_HTTP:
        return build_http(p, out, cap);
    case PK_PROBE_TLS:
        return bn_tls_client_hello(p, out, cap);
    case PK_PROBE_REDIS:
        return put(out, cap, redis, sizeof redis - 1);
    case PK_PROBE_MEMCACHED:
        return put(out, cap, memcached, sizeof memcached - 1);
    case PK_PROBE_PGSQL:
        return put(out, cap, ssl_request, sizeof ssl_request);
    case PK_PROBE_DNS: {
        if (cap < 2)
            return PK_EINVAL;
        uint64_t rng = p ? p->nonce : 0;
        uint16_t qid = (uint16_t)bn_mix64(&rng);
        size_t n = dns_query(out + 2, cap - 2, qid, "version.bind", PK_DNS_TXT,
                                PK_DNS_CLASS_CH, false);
        if (n == 0)
            return PK_EINVAL;
        bn_put16(out, (unsigned)n);
        return (int)n + 2;
    }
    case PK_PROBE_COUNT:
        break;
    }
    return PK_EINVAL;
}

/* ---- plans ------------------------------------------------------------------ */

/* Services that talk first. A long wait costs nothing when they do. */
static const uint16_t speak_first[] = {
    21, 22, 23, 25, 106, 110, 119, 143, 220, 587, 873, 2121, 2222, 2525, 3306, 4190,
    5900, 5901, 5902, 5903, 6600, 6667, 6697,
};
/* TLS from the first byte. */
static const uint16_t tls_first[] = {
    261, 443, 465, 563, 585, 636, 853, 989, 990, 992, 993, 994, 995, 1443, 2376, 3269, 4443,
    5061, 5223, 5986, 6443, 6679, 8443, 8883, 9443, 10443,
};
/* HTTP servers and HTTP APIs. */
static const uint16_t http_first[] = {
    80, 81, 591, 631, 2375, 3000, 3128, 4000, 5000, 5601, 5984, 7000, 7001, 8000, 8008, 8080,
    8081, 8086, 8088, 8161, 8888, 9000, 9090, 9200, 10000,
};

static bool in(const uint16_t *list, size_t n, unsigned port)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == port)
            return true;
    return false;
}
#define IN(list, port) in(list, sizeof list / sizeof list[0], port)

static void plan(struct pk_banner_plan *out, unsigned greeting_ms, enum pk_probe_id a,
                 enum pk_probe_id b)
{
    out->greeting_ms = greeting_ms;
    out->reply_ms = 3000;
    out->nprobes = 0;
    if (a != PK_PROBE_NULL)
        out->probes[out->nprobes++] = a;
    if (b != PK_PROBE_NULL)
        out->probes[out->nprobes++] = b;
}

void pk_banner_plan_for(unsigned port, struct pk_banner_plan *out)
{
    memset(out, 0, sizeof *out);
    switch (port) {
    case 53: plan(out, 0, PK_PROBE_DNS, PK_PROBE_NULL); return;
    case 5432: plan(out, 0, PK_PROBE_PGSQL, PK_PROBE_NULL); return;
    case 6379: plan(out, 0, PK_PROBE_REDIS, PK_PROBE_NULL); return;
    case 11211: plan(out, 0, PK_PROBE_MEMCACHED, PK_PROBE_NULL); return;
    case 5672: plan(out, 0, PK_PROBE_HTTP, PK_PROBE_NULL); return; /* AMQP answers junk with its header */
    default: break;
    }
    if (IN(speak_first, port))
        plan(out, 5000, PK_PROBE_HTTP, PK_PROBE_TLS);  /* probes only if it stays silent */
    else if (IN(tls_first, port))
        plan(out, 0, PK_PROBE_TLS, PK_PROBE_HTTP);
    else if (IN(http_first, port))
        plan(out, 0, PK_PROBE_HTTP, PK_PROBE_TLS);
    else
        plan(out, 1000, PK_PROBE_HTTP, PK_PROBE_TLS);
}

int pk_banner_probe_for(unsigned port, const struct pk_probe_params *p, uint8_t *out, size_t cap,
                        unsigned *greeting_ms)
{
    struct pk_banner_plan pl;
    pk_banner_plan_for(port, &pl);
    if (greeting_ms)
        *greeting_ms = pl.greeting_ms;
    if (pl.nprobes == 0)
        return 0;
    return pk_banner_probe_build(pl.probes[0], p, out, cap);
}
