/* pk_banner_identify: tries the recognisers from the most self-describing
 * (TLS records, MySQL handshakes, SSH lines) to those that only mean
 * something as the answer to a probe, and falls back to the registry's
 * name plus the sanitised first line. Binary protocols live here; the
 * line-based ones in banner_text.c, TLS in banner_tls.c. */
#include <stdio.h>
#include <string.h>

#include "banner/banner_impl.h"
#include "banner/dnsmsg.h"


/* MySQL/MariaDB: the server speaks first with a packet (3-byte little-endian
 * length, sequence 0) holding either the v10 handshake, whose first field
 * is the NUL-terminated server version, or an error packet (0xFF, code,
 * message), e.g. "Host ... is not allowed to connect". */
static enum pk_id_status ident_mysql(unsigned port, enum pk_probe_id sent, const uint8_t *d,
                                     size_t n, struct pk_service_id *out)
{
    if (n < 5)
        return PK_ID_NONE;
    size_t plen = (size_t)d[0] | (size_t)d[1] << 8 | (size_t)d[2] << 16;
    if (d[3] != 0 || plen < 2 || plen > 4096)
        return PK_ID_NONE;
    size_t have = n - 4 < plen ? n - 4 : plen;
    const uint8_t *p = d + 4;
    if (p[0] == 0x0A || p[0] == 0x09) {
        const uint8_t *nul = memchr(p + 1, 0, have - 1);
        size_t vlen = nul ? (size_t)(nul - p - 1) : have - 1;
        const uint8_t *v = p + 1;
        if (vlen == 0 || vlen > 80 || !(v[0] >= '0' && v[0] <= '9'))
            return PK_ID_NONE;
        for (size_t i = 0; i < vlen; i++)
            if (v[i] < 0x20 || v[i] >= 0x7F)
                return PK_ID_NONE;
        if (!nul)
            return have == plen ? PK_ID_NONE : PK_ID_MORE;
        BN_SET(out, service, "mysql");
        BN_FIELD(out, banner, v, vlen);
        /* MariaDB prefixes "5.5.5-" so old replication clients accept it */
        if (vlen > 6 && memcmp(v, "5.5.5-", 6) == 0) {
            v += 6;
            vlen -= 6;
        }
        const uint8_t *maria = bn_memcasemem(v, vlen, "-MariaDB");
        if (maria) {
            BN_SET(out, product, "MariaDB");
            BN_FIELD(out, version, v, (size_t)(maria - v));
            size_t after = (size_t)(maria - v) + 8;
            if (after + 1 < vlen && v[after] == '-')
                BN_FIELD(out, extra, v + after + 1, vlen - after - 1);
        } else {
            BN_SET(out, product, "MySQL");
            const uint8_t *dash = memchr(v, '-', vlen);
            size_t cut = dash ? (size_t)(dash - v) : vlen;
            BN_FIELD(out, version, v, cut);
            if (dash && cut + 1 < vlen)
                BN_FIELD(out, extra, dash + 1, vlen - cut - 1);
        }
        return PK_ID_MATCH;
    }
    if (p[0] == 0xFF && plen >= 4) {
        if (have < plen)
            return PK_ID_MORE;
        unsigned code = (unsigned)p[1] | (unsigned)p[2] << 8;
        if (code < 1000 || code > 2999)
            return PK_ID_NONE;
        const uint8_t *msg = p + 3;
        size_t mlen = plen - 3;
        if (mlen > 6 && msg[0] == '#') { /* SQL state */
            msg += 6;
            mlen -= 6;
        }
        if (!bn_is_text(msg, mlen))
            return PK_ID_NONE;
        BN_SET(out, service, "mysql");
        BN_SET(out, product, bn_memcasemem(msg, mlen, "MariaDB") ? "MariaDB" : "MySQL");
        char extra[sizeof out->extra];
        int k = snprintf(extra, sizeof extra, "error %u: ", code);
        bn_id_field(extra + k, sizeof extra - (size_t)k, msg, mlen);
        BN_SET(out, extra, extra);
        BN_FIELD(out, banner, msg, mlen);
        return PK_ID_MATCH;
    }
    return PK_ID_NONE;
}

/* Telnet servers open with option negotiation: IAC (255) then WILL, WONT,
 * DO or DONT (251-254) and an option (RFC 854). The text after the
 * negotiation, if any, is the login banner. */
static enum pk_id_status ident_telnet(unsigned port, enum pk_probe_id sent, const uint8_t *d,
                                      size_t n, struct pk_service_id *out)
{
    if (n < 3 || d[0] != 0xFF || d[1] < 0xFB || d[1] > 0xFE)
        return PK_ID_NONE;
    BN_SET(out, service, "telnet");
    size_t i = 0;
    while (i < n && d[i] == 0xFF) {
        if (i + 1 < n && d[i + 1] == 0xFA) { /* subnegotiation: up to IAC SE */
            size_t j = i + 2;
            while (j + 1 < n && !(d[j] == 0xFF && d[j + 1] == 0xF0))
                j++;
            i = j + 2;
        } else if (i + 1 < n && d[i + 1] >= 0xFB) {
            i += 3;
        } else {
            i += 2;
        }
    }
    if (i < n)
        bn_id_banner(out, d + i, n - i);
    return PK_ID_MATCH;
}

/* PostgreSQL answers an SSLRequest with one byte: 'S' (TLS next) or 'N';
 * very old servers send an ErrorResponse ('E', length, fields). */
static enum pk_id_status ident_pgsql(unsigned port, enum pk_probe_id sent, const uint8_t *d,
                                     size_t n, struct pk_service_id *out)
{
    if (sent != PK_PROBE_PGSQL)
        return PK_ID_NONE;
    if (n == 1 && (d[0] == 'S' || d[0] == 'N')) {
        BN_SET(out, service, "postgresql");
        BN_SET(out, product, "PostgreSQL");
        BN_SET(out, extra, d[0] == 'S' ? "TLS available" : "no TLS");
        return PK_ID_MATCH;
    }
    if (n >= 5 && d[0] == 'E') {
        uint32_t len = bn_get32(d + 1);
        if (len < 4 || len > 8192)
            return PK_ID_NONE;
        BN_SET(out, service, "postgresql");
        BN_SET(out, product, "PostgreSQL");
        /* fields: type byte + NUL-terminated text; 'M' is the message */
        for (size_t i = 5; i < n && i < 5 + len - 4 && d[i]; ) {
            const uint8_t *nul = memchr(d + i + 1, 0, n - i - 1);
            if (!nul)
                break;
            if (d[i] == 'M')
                BN_FIELD(out, banner, d + i + 1, (size_t)(nul - d - i - 1));
            i = (size_t)(nul - d) + 1;
        }
        return PK_ID_MATCH;
    }
    return PK_ID_NONE;
}

/* DNS over TCP: a 2-byte length, then a response to our version.bind query. */
static enum pk_id_status ident_dns_tcp(unsigned port, enum pk_probe_id sent, const uint8_t *d,
                                       size_t n, struct pk_service_id *out)
{
    if (sent != PK_PROBE_DNS)
        return PK_ID_NONE;
    if (n < 2)
        return PK_ID_MORE;
    size_t mlen = bn_get16(d);
    if (mlen < 12)
        return PK_ID_NONE;
    if (n - 2 < mlen)
        return n - 2 >= 12 && (d[4] & 0x80) ? PK_ID_MORE : PK_ID_NONE;
    uint8_t q[64];
    size_t ql = dns_query(q, sizeof q, bn_get16(d + 2), "version.bind", PK_DNS_TXT,
                             PK_DNS_CLASS_CH, false);
    struct dns_reply r;
    if (!dns_parse_reply(d + 2, mlen, q, ql, &r) || !r.question_matches)
        return PK_ID_NONE;
    BN_SET(out, service, "domain");
    dns_product(r.txt, r.txt_len, out);
    if (r.txt_len)
        BN_FIELD(out, banner, r.txt, r.txt_len);
    return PK_ID_MATCH;
}

/* AMQP brokers answer anything that is not their protocol header with
 * their own: "AMQP" 0 0 9 1 (0-9-1) or "AMQP" 0 1 0 0 (1.0). */
static enum pk_id_status ident_amqp(unsigned port, enum pk_probe_id sent, const uint8_t *d,
                                    size_t n, struct pk_service_id *out)
{
    if (n < 8 || memcmp(d, "AMQP", 4) != 0 || d[5] > 9 || d[6] > 9 || d[7] > 9)
        return PK_ID_NONE;
    char extra[32];
    if (d[4] == 0 && d[5] == 0)
        snprintf(extra, sizeof extra, "protocol 0-%u-%u", d[6], d[7]);
    else
        snprintf(extra, sizeof extra, "protocol %u.%u.%u", d[5], d[6], d[7]);
    BN_SET(out, service, "amqp");
    BN_SET(out, extra, extra);
    return PK_ID_MATCH;
}

/* Order matters: self-describing formats first, then answers to our probe,
 * then text, whose loose patterns must not shadow a binary match. */
static bn_recogniser_fn *const recognisers[] = {
    bn_ident_tls, ident_mysql, ident_telnet, ident_amqp, ident_pgsql, ident_dns_tcp, bn_ident_text,
};

enum pk_id_status pk_banner_identify(unsigned port, enum pk_probe_id sent, const void *data,
                                     size_t len, const char *fallback, struct pk_service_id *out)
{
    bn_id_reset(out, fallback);
    if (!data || len == 0)
        return PK_ID_NONE;
    const uint8_t *d = data;
    if (len > PK_BANNER_READ_MAX)
        len = PK_BANNER_READ_MAX;
    for (size_t i = 0; i < sizeof recognisers / sizeof recognisers[0]; i++) {
        struct pk_service_id tmp;
        bn_id_reset(&tmp, fallback);
        enum pk_id_status st = recognisers[i](port, sent, d, len, &tmp);
        if (st == PK_ID_NONE)
            continue;
        *out = tmp;
        if (!out->banner[0] && bn_is_text(d, len))
            bn_id_banner(out, d, len);
        return st;
    }
    bn_id_banner(out, d, len);
    return PK_ID_UNKNOWN;
}
