/* TLS: the ClientHello probe and the recogniser for what a TLS server
 * sends back (ServerHello, HelloRetryRequest or an alert). Formats from
 * RFC 8446 (TLS 1.3) and RFC 5246 (TLS 1.2). */
#include <stdio.h>
#include <string.h>

#include "banner/banner_impl.h"
#include "portkit/error.h"

/* TLS 1.3 suites first, then the ECDHE AEAD suites every TLS 1.2 server
 * has, then a few older ones so that old servers still answer. */
static const uint16_t cipher_suites[] = {
    0x1301, 0x1302, 0x1303,                 /* TLS_AES_128_GCM, AES_256_GCM, CHACHA20 */
    0xC02B, 0xC02F, 0xC02C, 0xC030,         /* ECDHE-{ECDSA,RSA}-AES{128,256}-GCM */
    0xCCA9, 0xCCA8,                         /* ECDHE-{ECDSA,RSA}-CHACHA20-POLY1305 */
    0xC009, 0xC013, 0xC00A, 0xC014,         /* ECDHE-{ECDSA,RSA}-AES{128,256}-SHA */
    0x009E, 0x009F,                         /* DHE-RSA-AES{128,256}-GCM */
    0x009C, 0x009D, 0x002F, 0x0035,         /* RSA-AES{128,256}-{GCM,SHA} */
    0x000A,                                 /* RSA-3DES-EDE-CBC-SHA */
};

static const struct {
    uint16_t id;
    const char *name;
} suite_names[] = {
    {0x1301, "TLS_AES_128_GCM_SHA256"},
    {0x1302, "TLS_AES_256_GCM_SHA384"},
    {0x1303, "TLS_CHACHA20_POLY1305_SHA256"},
    {0xC02B, "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {0xC02F, "ECDHE-RSA-AES128-GCM-SHA256"},
    {0xC02C, "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {0xC030, "ECDHE-RSA-AES256-GCM-SHA384"},
    {0xCCA9, "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {0xCCA8, "ECDHE-RSA-CHACHA20-POLY1305"},
    {0xC009, "ECDHE-ECDSA-AES128-SHA"},
    {0xC013, "ECDHE-RSA-AES128-SHA"},
    {0xC00A, "ECDHE-ECDSA-AES256-SHA"},
    {0xC014, "ECDHE-RSA-AES256-SHA"},
    {0x009E, "DHE-RSA-AES128-GCM-SHA256"},
    {0x009F, "DHE-RSA-AES256-GCM-SHA384"},
    {0x009C, "AES128-GCM-SHA256"},
    {0x009D, "AES256-GCM-SHA384"},
    {0x002F, "AES128-SHA"},
    {0x0035, "AES256-SHA"},
    {0x000A, "DES-CBC3-SHA"},
};

static const uint16_t sig_algs[] = {
    0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0807, 0x0201, 0x0203,
};

/* SHA-256("HelloRetryRequest"): the random a TLS 1.3 server puts in a
 * ServerHello that is really a HelloRetryRequest (RFC 8446, 4.1.3). */
static const uint8_t hrr_random[32] = {
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
};

struct wbuf {
    uint8_t *p;
    size_t cap, len;
    bool overflow;
};

static void w_bytes(struct wbuf *w, const void *src, size_t n)
{
    if (w->len + n > w->cap) {
        w->overflow = true;
        return;
    }
    memcpy(w->p + w->len, src, n);
    w->len += n;
}
static void w_u8(struct wbuf *w, unsigned v)
{
    uint8_t b = (uint8_t)v;
    w_bytes(w, &b, 1);
}
static void w_u16(struct wbuf *w, unsigned v)
{
    uint8_t b[2];
    bn_put16(b, v);
    w_bytes(w, b, 2);
}
/* Reserves a length field of `width` bytes; fill it with w_close. */
static size_t w_open(struct wbuf *w, size_t width)
{
    size_t at = w->len;
    for (size_t i = 0; i < width; i++)
        w_u8(w, 0);
    return at;
}
static void w_close(struct wbuf *w, size_t at, size_t width)
{
    if (w->overflow)
        return;
    size_t n = w->len - at - width;
    for (size_t i = 0; i < width; i++)
        w->p[at + i] = (uint8_t)(n >> (8 * (width - 1 - i)));
}

/* An SNI host name must be a DNS name: address literals are not allowed
 * (RFC 6066, 3), so a scan of an IP sends none. */
static bool is_dns_name(const char *h)
{
    size_t n = h ? strlen(h) : 0;
    if (n == 0 || n > 253)
        return false;
    bool alpha = false;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_')
            alpha = true;
        else if (!(c >= '0' && c <= '9') && c != '.')
            return false;
    }
    return alpha;
}

static void ext_begin(struct wbuf *w, unsigned type, size_t *at)
{
    w_u16(w, type);
    *at = w_open(w, 2);
}

int bn_tls_client_hello(const struct pk_probe_params *p, uint8_t *out, size_t cap)
{
    struct wbuf w = {out, cap, 0, false};
    uint64_t rng = p ? p->nonce : 0;
    uint8_t rnd[32];

    w_u8(&w, 0x16);        /* handshake record */
    w_u16(&w, 0x0301);     /* record version 1.0: what every client sends for compatibility */
    size_t rec = w_open(&w, 2);
    w_u8(&w, 0x01);        /* ClientHello */
    size_t hs = w_open(&w, 3);
    w_u16(&w, 0x0303);     /* legacy_version TLS 1.2; 1.3 goes in supported_versions */
    bn_fill_random(&rng, rnd, 32);
    w_bytes(&w, rnd, 32);
    w_u8(&w, 32);          /* a session id: TLS 1.3 middlebox compatibility mode */
    bn_fill_random(&rng, rnd, 32);
    w_bytes(&w, rnd, 32);
    w_u16(&w, sizeof cipher_suites);
    for (size_t i = 0; i < sizeof cipher_suites / sizeof cipher_suites[0]; i++)
        w_u16(&w, cipher_suites[i]);
    w_u8(&w, 1);           /* compression methods: null only */
    w_u8(&w, 0);

    size_t exts = w_open(&w, 2), e, l;
    const char *host = p ? p->host : NULL;
    if (is_dns_name(host)) {
        size_t hn = strlen(host);
        if (host[hn - 1] == '.')
            hn--;          /* SNI carries no trailing dot */
        ext_begin(&w, 0x0000, &e);                 /* server_name */
        l = w_open(&w, 2);
        w_u8(&w, 0);                               /* host_name */
        w_u16(&w, (unsigned)hn);
        w_bytes(&w, host, hn);
        w_close(&w, l, 2);
        w_close(&w, e, 2);
    }
    ext_begin(&w, 0x000A, &e);                     /* supported_groups */
    w_u16(&w, 6);
    w_u16(&w, 0x001D);                             /* x25519 */
    w_u16(&w, 0x0017);                             /* secp256r1 */
    w_u16(&w, 0x0018);                             /* secp384r1 */
    w_close(&w, e, 2);
    ext_begin(&w, 0x000B, &e);                     /* ec_point_formats: uncompressed */
    w_u8(&w, 1);
    w_u8(&w, 0);
    w_close(&w, e, 2);
    ext_begin(&w, 0x000D, &e);                     /* signature_algorithms */
    w_u16(&w, sizeof sig_algs);
    for (size_t i = 0; i < sizeof sig_algs / sizeof sig_algs[0]; i++)
        w_u16(&w, sig_algs[i]);
    w_close(&w, e, 2);
    ext_begin(&w, 0x0017, &e);                     /* extended_master_secret */
    w_close(&w, e, 2);
    ext_begin(&w, 0xFF01, &e);                     /* renegotiation_info: initial handshake */
    w_u8(&w, 0);
    w_close(&w, e, 2);
    ext_begin(&w, 0x002B, &e);                     /* supported_versions */
    w_u8(&w, 4);
    w_u16(&w, 0x0304);
    w_u16(&w, 0x0303);
    w_close(&w, e, 2);
    ext_begin(&w, 0x002D, &e);                     /* psk_key_exchange_modes: psk_dhe_ke */
    w_u8(&w, 1);
    w_u8(&w, 1);
    w_close(&w, e, 2);
    ext_begin(&w, 0x0033, &e);                     /* key_share */
    l = w_open(&w, 2);
    w_u16(&w, 0x001D);
    w_u16(&w, 32);
    /* Any 32 bytes are an X25519 public key; we never finish the handshake,
     * we only need the server to answer with a real ServerHello instead of
     * a HelloRetryRequest. */
    bn_fill_random(&rng, rnd, 32);
    rnd[31] &= 0x7F;
    w_bytes(&w, rnd, 32);
    w_close(&w, l, 2);
    w_close(&w, e, 2);
    /* Some servers hang on a ClientHello of 256-511 bytes (RFC 7685): pad
     * such a hello to 512. */
    size_t hello_len = w.len - 5 + 4;              /* handshake length plus the padding header */
    if (hello_len >= 256 && hello_len < 512) {
        size_t pad = 512 - hello_len;
        ext_begin(&w, 0x0015, &e);
        for (size_t i = 0; i < pad; i++)
            w_u8(&w, 0);
        w_close(&w, e, 2);
    }
    w_close(&w, exts, 2);
    w_close(&w, hs, 3);
    w_close(&w, rec, 2);
    if (w.overflow)
        return PK_EINVAL;
    return (int)w.len;
}

const char *bn_tls_version_name(unsigned v)
{
    switch (v) {
    case 0x0300: return "3.0";
    case 0x0301: return "1.0";
    case 0x0302: return "1.1";
    case 0x0303: return "1.2";
    case 0x0304: return "1.3";
    default: return NULL;
    }
}

static const char *suite_name(unsigned id)
{
    for (size_t i = 0; i < sizeof suite_names / sizeof suite_names[0]; i++)
        if (suite_names[i].id == id)
            return suite_names[i].name;
    return NULL;
}

static const char *alert_name(unsigned desc)
{
    switch (desc) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 40: return "handshake_failure";
    case 42: return "bad_certificate";
    case 47: return "illegal_parameter";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 86: return "inappropriate_fallback";
    case 109: return "missing_extension";
    case 110: return "unsupported_extension";
    case 112: return "unrecognized_name";
    case 116: return "certificate_required";
    case 120: return "no_application_protocol";
    default: return NULL;
    }
}

static void set_version(struct pk_service_id *out, unsigned v)
{
    const char *name = bn_tls_version_name(v);
    bn_id_const(out->product, sizeof out->product, v == 0x0300 ? "SSL" : "TLS");
    if (name)
        bn_id_const(out->version, sizeof out->version, name);
}

/* Parses the ServerHello body h[0..n) (after the 4-byte handshake header). */
static enum pk_id_status server_hello(const uint8_t *h, size_t n, unsigned record_version,
                                      struct pk_service_id *out)
{
    if (n < 2 + 32 + 1)
        return PK_ID_NONE;
    unsigned version = bn_get16(h);
    bool hrr = memcmp(h + 2, hrr_random, 32) == 0;
    size_t i = 34;
    size_t sid = h[i++];
    if (i + sid + 3 > n)
        return PK_ID_NONE;
    i += sid;
    unsigned suite = bn_get16(h + i);
    i += 3; /* suite + compression */
    char alpn[32] = "";
    if (i + 2 <= n) {
        size_t elen = bn_get16(h + i);
        i += 2;
        size_t end = i + elen <= n ? i + elen : n;
        while (i + 4 <= end) {
            unsigned type = bn_get16(h + i), len = bn_get16(h + i + 2);
            const uint8_t *v = h + i + 4;
            if (i + 4 + len > end)
                break;
            if (type == 0x002B && len == 2)
                version = bn_get16(v);
            else if (type == 0x0010 && len >= 3 && (size_t)v[2] + 3 <= len)
                bn_id_field(alpn, sizeof alpn, v + 3, v[2]);
            i += 4 + len;
        }
    }
    if (!bn_tls_version_name(version) && !bn_tls_version_name(record_version))
        return PK_ID_NONE;
    bn_id_const(out->service, sizeof out->service, "tls");
    set_version(out, bn_tls_version_name(version) ? version : record_version);
    const char *sn = suite_name(suite);
    char extra[sizeof out->extra];
    size_t k = 0;
    if (hrr)
        k += (size_t)snprintf(extra + k, sizeof extra - k, "HelloRetryRequest");
    if (sn)
        k += (size_t)snprintf(extra + k, sizeof extra - k, "%scipher %s", k ? ", " : "", sn);
    else
        k += (size_t)snprintf(extra + k, sizeof extra - k, "%scipher 0x%04x", k ? ", " : "", suite);
    if (alpn[0] && k < sizeof extra)
        snprintf(extra + k, sizeof extra - k, ", alpn %s", alpn);
    bn_id_const(out->extra, sizeof out->extra, extra);
    return PK_ID_MATCH;
}

enum pk_id_status bn_ident_tls(unsigned port, enum pk_probe_id sent, const uint8_t *d, size_t n,
                               struct pk_service_id *out)
{
    if (n < 3 || (d[0] != 0x16 && d[0] != 0x15) || d[1] != 0x03 || d[2] > 0x04)
        return PK_ID_NONE;
    unsigned record_version = bn_get16(d + 1);
    if (n < 5)
        return PK_ID_MORE;
    size_t rlen = bn_get16(d + 3);
    if (rlen == 0 || rlen > 16384 + 2048)
        return PK_ID_NONE;
    const uint8_t *body = d + 5;
    size_t have = n - 5 < rlen ? n - 5 : rlen;
    if (d[0] == 0x15) {
        if (rlen != 2)
            return PK_ID_NONE; /* a plaintext alert is exactly level + description */
        if (have < 2)
            return PK_ID_MORE;
        if (body[0] != 1 && body[0] != 2)
            return PK_ID_NONE;
        bn_id_const(out->service, sizeof out->service, "tls");
        set_version(out, record_version);
        const char *an = alert_name(body[1]);
        char extra[64];
        if (an)
            snprintf(extra, sizeof extra, "alert %s", an);
        else
            snprintf(extra, sizeof extra, "alert %u", body[1]);
        bn_id_const(out->extra, sizeof out->extra, extra);
        return PK_ID_MATCH;
    }
    if (have < 4)
        return PK_ID_MORE;
    if (body[0] != 0x02)
        return PK_ID_NONE; /* the first message a server sends is its ServerHello */
    size_t hlen = (size_t)body[1] << 16 | (size_t)body[2] << 8 | body[3];
    if (hlen < 38 || hlen > rlen - 4) {
        /* a ServerHello split over records is legal but unheard of */
        if (hlen < 38 || hlen > 65536)
            return PK_ID_NONE;
    }
    if (have < 4 + hlen && have < rlen) {
        /* a guess while the rest is on its way */
        bn_id_const(out->service, sizeof out->service, "tls");
        set_version(out, record_version);
        return PK_ID_MORE;
    }
    size_t hn = have - 4 < hlen ? have - 4 : hlen;
    enum pk_id_status st = server_hello(body + 4, hn, record_version, out);
    return st;
}
