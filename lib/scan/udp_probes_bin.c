/* UDP payload modules, part two: binary protocols. Each request carries an
 * id or cookie derived from the nonce, and identify() insists the reply
 * echoes it, so a reply from something else is never taken for a match. */
#include <stdio.h>
#include <string.h>

#include "banner/banner_impl.h"
#include "portkit/error.h"
#include "scan/udp_probes_impl.h"


static uint32_t id32(const struct pk_probe_params *p)
{
    uint64_t s = p ? p->nonce : 0;
    return (uint32_t)(bn_mix64(&s) >> 32);
}

/* ---- SNMP v2c GetRequest for sysDescr.0, community "public" (RFC 3416) -------------- */

/* One BER TLV with a single-byte tag and a short or 1-2 byte long length. */
static bool ber_next(const uint8_t **p, const uint8_t *end, unsigned *tag, const uint8_t **val,
                     size_t *len)
{
    const uint8_t *q = *p;
    if (end - q < 2)
        return false;
    *tag = *q++;
    size_t l = *q++;
    if (l & 0x80) {
        size_t nb = l & 0x7F;
        if (nb == 0 || nb > 2 || (size_t)(end - q) < nb)
            return false;
        l = 0;
        while (nb--)
            l = l << 8 | *q++;
    }
    if ((size_t)(end - q) < l)
        return false;
    *val = q;
    *len = l;
    *p = q + l;
    return true;
}

static bool ber_int(const uint8_t *v, size_t n, long long *out)
{
    if (n == 0 || n > 8)
        return false;
    long long x = (v[0] & 0x80) ? -1 : 0;
    for (size_t i = 0; i < n; i++)
        x = (long long)((unsigned long long)x << 8 | v[i]);
    *out = x;
    return true;
}

static int snmp_build(const struct pk_probe_params *p, uint8_t *out, size_t cap)
{
    /* request-id as a positive 4-byte INTEGER with a non-zero first byte, so
     * its encoding is minimal DER as strict agents want */
    uint32_t rid = (id32(p) & 0x7FFFFFFFu) | 0x01000000u;
    uint8_t m[] = {
        0x30, 0x29,                                     /* SEQUENCE, 41 bytes */
        0x02, 0x01, 0x01,                               /* version: 1 = v2c */
        0x04, 0x06, 'p', 'u', 'b', 'l', 'i', 'c',       /* community */
        0xA0, 0x1C,                                     /* GetRequest-PDU, 28 bytes */
        0x02, 0x04, 0, 0, 0, 0,                         /* request-id */
        0x02, 0x01, 0x00,                               /* error-status */
        0x02, 0x01, 0x00,                               /* error-index */
        0x30, 0x0E,                                     /* variable bindings */
        0x30, 0x0C,                                     /* one binding */
        0x06, 0x08, 0x2B, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, /* 1.3.6.1.2.1.1.1.0 */
        0x05, 0x00,                                     /* NULL */
    };
    bn_put32(m + 17, rid);
    if (cap < sizeof m)
        return PK_EINVAL;
    memcpy(out, m, sizeof m);
    return (int)sizeof m;
}

static enum pk_id_status snmp_identify(const uint8_t *sent, size_t sent_len, const uint8_t *r,
                                       size_t n, struct pk_service_id *out)
{
    if (sent_len < 21)
        return PK_ID_UNKNOWN;
    const uint8_t *p = r, *end = r + n, *v, *msg_end, *pdu_end;
    size_t l;
    unsigned tag;
    long long version, rid, want = (long long)bn_get32(sent + 17);
    if (!ber_next(&p, end, &tag, &v, &l) || tag != 0x30)
        return PK_ID_UNKNOWN;
    p = v;
    msg_end = v + l;
    if (!ber_next(&p, msg_end, &tag, &v, &l) || tag != 0x02 || !ber_int(v, l, &version))
        return PK_ID_UNKNOWN;
    if (!ber_next(&p, msg_end, &tag, &v, &l) || tag != 0x04)        /* community */
        return PK_ID_UNKNOWN;
    if (!ber_next(&p, msg_end, &tag, &v, &l) || tag != 0xA2)        /* Response-PDU */
        return PK_ID_UNKNOWN;
    p = v;
    pdu_end = v + l;
    if (!ber_next(&p, pdu_end, &tag, &v, &l) || tag != 0x02 || !ber_int(v, l, &rid) || rid != want)
        return PK_ID_UNKNOWN;
    BN_SET(out, service, "snmp");
    BN_SET(out, version, version == 0 ? "v1" : version == 1 ? "v2c" : "v3");
    long long err = 0;
    if (ber_next(&p, pdu_end, &tag, &v, &l) && tag == 0x02)
        ber_int(v, l, &err);
    if (!ber_next(&p, pdu_end, &tag, &v, &l))                        /* error-index */
        return PK_ID_MATCH;
    const uint8_t *vb;
    if (!ber_next(&p, pdu_end, &tag, &vb, &l) || tag != 0x30)        /* binding list */
        return PK_ID_MATCH;
    const uint8_t *q = vb, *list_end = vb + l;
    if (!ber_next(&q, list_end, &tag, &v, &l) || tag != 0x30)         /* first binding */
        return PK_ID_MATCH;
    const uint8_t *b = v, *b_end = v + l;
    if (!ber_next(&b, b_end, &tag, &v, &l) || tag != 0x06)            /* its OID */
        return PK_ID_MATCH;
    if (ber_next(&b, b_end, &tag, &v, &l) && tag == 0x04 && err == 0) { /* sysDescr */
        BN_FIELD(out, banner, v, l);
        BN_FIELD(out, extra, v, l);
    }
    return PK_ID_MATCH;
}

static const uint16_t p_snmp[] = {161};
const struct pk_udp_probe udpp_snmp = {
    .name = "snmp",
    .service = "snmp",
    UDPP_PORTS(p_snmp),
    .flags = 0,
    .build = snmp_build,
    .identify = snmp_identify,
};

/* ---- NetBIOS name service: node status (NBSTAT) of "*" (RFC 1002, 4.2.17) ------------- */

static int netbios_build(const struct pk_probe_params *p, uint8_t *out, size_t cap)
{
    if (cap < 50)
        return PK_EINVAL;
    bn_put16(out, udpp_id16(p));
    static const uint8_t rest[] = {
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* "*" padded with NULs, first-level encoded: 'C','K' then "AA" x 15 */
        0x20, 'C', 'K', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A',
        'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 0x00,
        0x00, 0x21, 0x00, 0x01, /* NBSTAT, IN */
    };
    memcpy(out + 2, rest, sizeof rest);
    return 2 + (int)sizeof rest;
}

static enum pk_id_status netbios_identify(const uint8_t *sent, size_t sent_len, const uint8_t *r,
                                          size_t n, struct pk_service_id *out)
{
    if (n < 12 || sent_len < 2 || memcmp(r, sent, 2) != 0 || !(r[2] & 0x80) || bn_get16(r + 6) < 1)
        return PK_ID_UNKNOWN;
    size_t off = 12;
    if (off < n && r[off] == 0x20)
        off += 34;
    else if (off < n && (r[off] & 0xC0) == 0xC0)
        off += 2;
    else
        return PK_ID_UNKNOWN;
    if (off + 11 > n || bn_get16(r + off) != 0x21)
        return PK_ID_UNKNOWN;
    BN_SET(out, service, "netbios-ns");
    size_t count = r[off + 10];
    const uint8_t *e = r + off + 11;
    char host[16] = "", group[16] = "";
    for (size_t i = 0; i < count && e + 18 <= r + n; i++, e += 18) {
        if (e[15] != 0x00)
            continue;
        char *dst = (e[16] & 0x80) ? group : host;
        if (dst[0])
            continue;
        size_t l = 15;
        while (l && e[l - 1] == ' ')
            l--;
        bn_id_field(dst, 16, e, l);
    }
    char extra[96] = "";
    if (host[0] && group[0])
        snprintf(extra, sizeof extra, "name %s, workgroup %s", host, group);
    else if (host[0])
        snprintf(extra, sizeof extra, "name %s", host);
    BN_SET(out, extra, extra);
    return PK_ID_MATCH;
}

static const uint16_t p_netbios[] = {137};
const struct pk_udp_probe udpp_netbios = {
    .name = "netbios-ns",
    .service = "netbios-ns",
    UDPP_PORTS(p_netbios),
    .flags = 0,
    .build = netbios_build,
    .identify = netbios_identify,
};

/* ---- ONC RPC: the NULL procedure of portmapper v2 (RFC 5531, RFC 1833) -------------------- */

static int rpc_build(const struct pk_probe_params *p, uint8_t *out, size_t cap)
{
    if (cap < 40)
        return PK_EINVAL;
    memset(out, 0, 40);
    bn_put32(out, id32(p));          /* xid */
    /* msg_type CALL (0) */
    bn_put32(out + 8, 2);            /* RPC version */
    bn_put32(out + 12, 100000);      /* program: portmapper */
    bn_put32(out + 16, 2);           /* version */
    /* procedure 0 (NULL), credentials and verifier AUTH_NONE, empty */
    return 40;
}

static enum pk_id_status rpc_identify(const uint8_t *sent, size_t sent_len, const uint8_t *r,
                                      size_t n, struct pk_service_id *out)
{
    if (n < 12 || sent_len < 4 || memcmp(r, sent, 4) != 0 || bn_get32(r + 4) != 1)
        return PK_ID_UNKNOWN;
    BN_SET(out, service, "rpcbind");
    uint32_t stat = bn_get32(r + 8);
    if (stat == 1) {
        BN_SET(out, extra, "call denied");
    } else if (n >= 24) {
        size_t vlen = bn_get32(r + 16);
        if (vlen <= 400 && 20 + vlen + 4 <= n && bn_get32(r + 20 + vlen) == 2)
            BN_SET(out, extra, "program version mismatch");
    }
    return PK_ID_MATCH;
}

static const uint16_t p_rpc[] = {111};
const struct pk_udp_probe udpp_rpcbind = {
    .name = "rpcbind",
    .service = "rpcbind",
    UDPP_PORTS(p_rpc),
    .flags = 0,
    .build = rpc_build,
    .identify = rpc_identify,
};

/* ---- OpenVPN: P_CONTROL_HARD_RESET_CLIENT_V2; a server without tls-auth
 * answers P_CONTROL_HARD_RESET_SERVER_V2 acknowledging our session id ------------------------ */

static int openvpn_build(const struct pk_probe_params *p, uint8_t *out, size_t cap)
{
    if (cap < 14)
        return PK_EINVAL;
    out[0] = 7 << 3;                 /* opcode 7, key id 0 */
    uint64_t s = p ? p->nonce : 0;
    bn_fill_random(&s, out + 1, 8);  /* our session id */
    out[9] = 0;                      /* no acks */
    bn_put32(out + 10, 0);           /* message packet id 0 */
    return 14;
}

static enum pk_id_status openvpn_identify(const uint8_t *sent, size_t sent_len, const uint8_t *r,
                                          size_t n, struct pk_service_id *out)
{
    if (n < 14 || sent_len < 9 || (r[0] >> 3) != 8)
        return PK_ID_UNKNOWN;
    size_t acks = r[9];
    if (acks == 0 || acks > 8 || 10 + 4 * acks + 8 > n)
        return PK_ID_UNKNOWN;
    if (memcmp(r + 10 + 4 * acks, sent + 1, 8) != 0)
        return PK_ID_UNKNOWN;
    BN_SET(out, service, "openvpn");
    BN_SET(out, product, "OpenVPN");
    return PK_ID_MATCH;
}

static const uint16_t p_openvpn[] = {1194};
const struct pk_udp_probe udpp_openvpn = {
    .name = "openvpn",
    .service = "openvpn",
    UDPP_PORTS(p_openvpn),
    .flags = 0,
    .build = openvpn_build,
    .identify = openvpn_identify,
};

/* ---- STUN binding request (RFC 8489); the answer repeats our transaction id ------------------ */

static int stun_build(const struct pk_probe_params *p, uint8_t *out, size_t cap)
{
    if (cap < 20)
        return PK_EINVAL;
    bn_put16(out, 0x0001);           /* Binding request */
    bn_put16(out + 2, 0);            /* no attributes */
    bn_put32(out + 4, 0x2112A442);   /* magic cookie */
    uint64_t s = p ? p->nonce : 0;
    bn_fill_random(&s, out + 8, 12);
    return 20;
}

static enum pk_id_status stun_identify(const uint8_t *sent, size_t sent_len, const uint8_t *r,
                                       size_t n, struct pk_service_id *out)
{
    if (n < 20 || sent_len < 20 || (bn_get16(r) != 0x0101 && bn_get16(r) != 0x0111) ||
        memcmp(r + 4, sent + 4, 16) != 0)
        return PK_ID_UNKNOWN;
    BN_SET(out, service, "stun");
    size_t end = 20 + (size_t)bn_get16(r + 2);
    if (end > n)
        end = n;
    for (size_t off = 20; off + 4 <= end;) {
        unsigned type = bn_get16(r + off), len = bn_get16(r + off + 2);
        if (off + 4 + len > end)
            break;
        if (type == 0x8022 && len)   /* SOFTWARE */
            BN_FIELD(out, product, r + off + 4, len);
        off += 4 + ((len + 3u) & ~3u);
    }
    if (bn_get16(r) == 0x0111)
        BN_SET(out, extra, "error response");
    return PK_ID_MATCH;
}

static const uint16_t p_stun[] = {3478};
const struct pk_udp_probe udpp_stun = {
    .name = "stun",
    .service = "stun",
    UDPP_PORTS(p_stun),
    .flags = 0,
    .build = stun_build,
    .identify = stun_identify,
};

/* ---- Source engine (Valve) A2S_INFO ---------------------------------------------------------- */

static int source_build(const struct pk_probe_params *p, uint8_t *out, size_t cap)
{
    static const uint8_t q[] = "\xFF\xFF\xFF\xFFTSource Engine Query";
    if (cap < sizeof q)
        return PK_EINVAL;
    memcpy(out, q, sizeof q); /* with its final NUL */
    return (int)sizeof q;
}

static enum pk_id_status source_identify(const uint8_t *sent, size_t sent_len, const uint8_t *r,
                                         size_t n, struct pk_service_id *out)
{
    if (n < 5 || memcmp(r, "\xFF\xFF\xFF\xFF", 4) != 0)
        return PK_ID_UNKNOWN;
    if (r[4] == 'I' && n > 6) {
        const uint8_t *name = r + 6, *nul = memchr(name, 0, n - 6);
        BN_SET(out, service, "source-engine");
        if (nul)
            BN_FIELD(out, extra, name, (size_t)(nul - name));
        return PK_ID_MATCH;
    }
    if (r[4] == 'A' || r[4] == 'm') {
        BN_SET(out, service, "source-engine");
        if (r[4] == 'A')
            BN_SET(out, extra, "challenge");
        return PK_ID_MATCH;
    }
    return PK_ID_UNKNOWN;
}

static const uint16_t p_source[] = {27015};
const struct pk_udp_probe udpp_source = {
    .name = "source-engine",
    .service = "source-engine",
    UDPP_PORTS(p_source),
    .flags = 0,
    .build = source_build,
    .identify = source_identify,
};

/* ---- IPMI over RMCP: Get Channel Authentication Capabilities (IPMI v2.0, 22.13) -------------- */

static int ipmi_build(const struct pk_probe_params *p, uint8_t *out, size_t cap)
{
    static const uint8_t q[] = {
        0x06, 0x00, 0xFF, 0x07,                         /* RMCP v1.0, no ack, class IPMI */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* auth none, seq 0, session 0 */
        0x09,                                           /* message length */
        0x20, 0x18, 0xC8,                               /* BMC, netFn App, checksum */
        0x81, 0x00, 0x38,                               /* remote console, seq, command */
        0x8E, 0x04,                                     /* this channel + v2 data, admin */
        0xB5,                                           /* checksum */
    };
    if (cap < sizeof q)
        return PK_EINVAL;
    memcpy(out, q, sizeof q);
    return (int)sizeof q;
}

static enum pk_id_status ipmi_identify(const uint8_t *sent, size_t sent_len, const uint8_t *r,
                                       size_t n, struct pk_service_id *out)
{
    /* RMCP header, then an IPMI response addressed to us (0x81) with the
     * App response netFn (0x07 << 2) for our command */
    if (n < 21 || memcmp(r, "\x06\x00\xFF\x07", 4) != 0 || r[14] != 0x81 || (r[15] >> 2) != 0x07 ||
        r[19] != 0x38)
        return PK_ID_UNKNOWN;
    BN_SET(out, service, "ipmi");
    if (n >= 23 && r[20] == 0x00)
        BN_SET(out, version, (r[22] & 0x80) ? "2.0" : "1.5");
    return PK_ID_MATCH;
}

static const uint16_t p_ipmi[] = {623};
const struct pk_udp_probe udpp_ipmi = {
    .name = "ipmi",
    .service = "ipmi",
    UDPP_PORTS(p_ipmi),
    .flags = 0,
    .build = ipmi_build,
    .identify = ipmi_identify,
};
