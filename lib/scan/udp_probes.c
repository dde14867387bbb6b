/* UDP payload modules, part one: the table and the text and DNS-family
 * protocols (DNS, mDNS, NTP, memcached, TFTP, SSDP, SIP). The binary
 * ones (SNMP, NetBIOS, RPC, OpenVPN, STUN, Source, IPMI) are in
 * udp_probes_bin.c. */
#include "portkit/udp_probes.h"

#include <stdio.h>
#include <string.h>

#include "banner/banner_impl.h"
#include "banner/dnsmsg.h"
#include "portkit/error.h"
#include "scan/udp_probes_impl.h"


static int put(uint8_t *out, size_t cap, const void *bytes, size_t n)
{
    if (n > cap)
        return PK_EINVAL;
    memcpy(out, bytes, n);
    return (int)n;
}

/* ---- DNS: version.bind CH TXT names the server software ------------------------ */

static int dns_build(const struct pk_probe_params *p, uint8_t *out, size_t cap)
{
    size_t n = dns_query(out, cap, udpp_id16(p), "version.bind", PK_DNS_TXT, PK_DNS_CLASS_CH,
                            false);
    return n ? (int)n : PK_EINVAL;
}

static enum pk_id_status dns_identify(const uint8_t *sent, size_t sent_len, const uint8_t *r,
                                      size_t n, struct pk_service_id *out)
{
    struct dns_reply rep;
    if (!dns_parse_reply(r, n, sent, sent_len, &rep))
        return PK_ID_UNKNOWN;
    BN_SET(out, service, "domain");
    dns_product(rep.txt, rep.txt_len, out);
    if (rep.txt_len)
        BN_FIELD(out, banner, rep.txt, rep.txt_len);
    return PK_ID_MATCH;
}

/* ---- mDNS: the DNS-SD service enumeration (RFC 6763, 9), unicast answer
 * requested (QU bit, RFC 6762 5.4) ------------------------------------------------- */

static int mdns_build(const struct pk_probe_params *p, uint8_t *out, size_t cap)
{
    size_t n = dns_query(out, cap, udpp_id16(p), "_services._dns-sd._udp.local", PK_DNS_PTR,
                            0x8000 | PK_DNS_CLASS_IN, false);
    return n ? (int)n : PK_EINVAL;
}

static enum pk_id_status mdns_identify(const uint8_t *sent, size_t sent_len, const uint8_t *r,
                                       size_t n, struct pk_service_id *out)
{
    struct dns_reply rep;
    if (!dns_parse_reply(r, n, sent, sent_len, &rep))
        return PK_ID_UNKNOWN;
    BN_SET(out, service, "mdns");
    if (rep.ptr[0])
        BN_FIELD(out, extra, rep.ptr, strlen(rep.ptr));
    return PK_ID_MATCH;
}

/* ---- NTP: a client (mode 3) packet; the server's reply carries our transmit
 * timestamp as its originate timestamp (RFC 5905) --------------------------------- */

static int ntp_build(const struct pk_probe_params *p, uint8_t *out, size_t cap)
{
    if (cap < 48)
        return PK_EINVAL;
    memset(out, 0, 48);
    out[0] = 0x23; /* LI 0, version 4, mode 3 (client) */
    uint64_t s = p ? p->nonce : 0;
    bn_fill_random(&s, out + 40, 8);
    return 48;
}

static enum pk_id_status ntp_identify(const uint8_t *sent, size_t sent_len, const uint8_t *r,
                                      size_t n, struct pk_service_id *out)
{
    if (n < 48 || sent_len < 48 || (r[0] & 7) != 4 || memcmp(r + 24, sent + 40, 8) != 0)
        return PK_ID_UNKNOWN;
    char v[16], extra[48];
    snprintf(v, sizeof v, "v%u", (r[0] >> 3) & 7);
    unsigned stratum = r[1];
    if (stratum == 0 && r[12] >= 'A' && r[12] <= 'Z')  /* kiss-o'-death: refid is the code */
        snprintf(extra, sizeof extra, "kiss code %.4s", (const char *)r + 12);
    else if (stratum == 1 && r[12] >= 0x20 && r[12] < 0x7F)
        snprintf(extra, sizeof extra, "stratum 1, refid %.4s", (const char *)r + 12);
    else
        snprintf(extra, sizeof extra, "stratum %u", stratum);
    BN_SET(out, service, "ntp");
    BN_SET(out, version, v);
    BN_FIELD(out, extra, extra, strlen(extra)); /* the refid bytes are the server's */
    return PK_ID_MATCH;
}

/* ---- memcached: UDP frame header (request id, sequence 0, 1 datagram) ---------------- */

static int memcached_build(const struct pk_probe_params *p, uint8_t *out, size_t cap)
{
    static const char cmd[] = "version\r\n";
    if (cap < 8 + sizeof cmd - 1)
        return PK_EINVAL;
    bn_put16(out, udpp_id16(p));
    bn_put16(out + 2, 0);
    bn_put16(out + 4, 1);
    bn_put16(out + 6, 0);
    memcpy(out + 8, cmd, sizeof cmd - 1);
    return (int)(8 + sizeof cmd - 1);
}

static enum pk_id_status memcached_identify(const uint8_t *sent, size_t sent_len, const uint8_t *r,
                                            size_t n, struct pk_service_id *out)
{
    if (n < 8 + 8 || sent_len < 2 || memcmp(r, sent, 2) != 0)
        return PK_ID_UNKNOWN;
    const uint8_t *body = r + 8;
    size_t bn = n - 8;
    if (!bn_has_prefix(body, bn, "VERSION "))
        return PK_ID_UNKNOWN;
    BN_SET(out, service, "memcached");
    BN_SET(out, product, "memcached");
    bool complete;
    size_t l = bn_line_len(body + 8, bn - 8, &complete);
    BN_FIELD(out, version, body + 8, bn_version_len(body + 8, l));
    bn_id_banner(out, body, bn);
    return PK_ID_MATCH;
}

/* ---- TFTP: a read request for a file that should not exist; a server answers
 * ERROR (or DATA) from a port of its own (RFC 1350) ------------------------------------- */

static int tftp_build(const struct pk_probe_params *p, uint8_t *out, size_t cap)
{
    static const uint8_t rrq[] = "\x00\x01portkit-probe\x00octet";
    return put(out, cap, rrq, sizeof rrq); /* sizeof keeps the final NUL */
}

static enum pk_id_status tftp_identify(const uint8_t *sent, size_t sent_len, const uint8_t *r,
                                       size_t n, struct pk_service_id *out)
{
    if (n < 4 || r[0] != 0)
        return PK_ID_UNKNOWN;
    if (r[1] == 5) {
        const uint8_t *msg = r + 4;
        const uint8_t *nul = memchr(msg, 0, n - 4);
        size_t ml = nul ? (size_t)(nul - msg) : n - 4;
        char extra[96];
        int k = snprintf(extra, sizeof extra, "error %u: ", bn_get16(r + 2));
        bn_id_field(extra + k, sizeof extra - (size_t)k, msg, ml);
        BN_SET(out, service, "tftp");
        BN_SET(out, extra, extra);
        BN_FIELD(out, banner, msg, ml);
        return PK_ID_MATCH;
    }
    if (r[1] == 3 && bn_get16(r + 2) == 1) {
        BN_SET(out, service, "tftp");
        BN_SET(out, extra, "file served");
        return PK_ID_MATCH;
    }
    return PK_ID_UNKNOWN;
}

/* ---- SSDP: an M-SEARCH, answered by an HTTP-over-UDP 200 ---------------------------------- */

static int ssdp_build(const struct pk_probe_params *p, uint8_t *out, size_t cap)
{
    static const char msearch[] = "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
                                  "MAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n";
    return put(out, cap, msearch, sizeof msearch - 1);
}

/* UPnP's SERVER header is "OS/version UPnP/1.x product/version": the
 * product is the last token, the OS the first. */
static void upnp_server(const uint8_t *r, size_t n, struct pk_service_id *out)
{
    const uint8_t *h = bn_memcasemem(r, n, "\nSERVER:");
    if (!h)
        return;
    h += 8;
    size_t rest = (size_t)(r + n - h);
    bool complete;
    while (rest && *h == ' ') {
        h++;
        rest--;
    }
    size_t l = bn_line_len(h, rest, &complete);
    while (l && h[l - 1] == ' ')
        l--;
    const uint8_t *first_sp = memchr(h, ' ', l), *last_sp = NULL;
    for (size_t i = l; i > 0; i--)
        if (h[i - 1] == ' ') {
            last_sp = h + i - 1;
            break;
        }
    if (!first_sp || !last_sp) {
        BN_FIELD(out, product, h, l);
        return;
    }
    const uint8_t *prod = last_sp + 1;
    size_t pl = (size_t)(h + l - prod);
    const uint8_t *slash = memchr(prod, '/', pl);
    BN_FIELD(out, product, prod, slash ? (size_t)(slash - prod) : pl);
    if (slash)
        BN_FIELD(out, version, slash + 1, (size_t)(prod + pl - slash - 1));
    BN_FIELD(out, extra, h, (size_t)(first_sp - h));
}

static enum pk_id_status ssdp_identify(const uint8_t *sent, size_t sent_len, const uint8_t *r,
                                       size_t n, struct pk_service_id *out)
{
    if (!bn_has_prefix(r, n, "HTTP/1.1 200") && !bn_has_prefix(r, n, "HTTP/1.0 200"))
        return PK_ID_UNKNOWN;
    BN_SET(out, service, "ssdp");
    bn_id_banner(out, r, n);
    upnp_server(r, n, out);
    return PK_ID_MATCH;
}

/* ---- SIP: OPTIONS (RFC 3261, 11); the answer repeats our Call-ID ---------------------------- */

static int sip_build(const struct pk_probe_params *p, uint8_t *out, size_t cap)
{
    uint64_t s = p ? p->nonce : 0;
    unsigned long long a = bn_mix64(&s), b = bn_mix64(&s);
    char buf[512];
    int n = snprintf(buf, sizeof buf,
                     "OPTIONS sip:portkit@invalid SIP/2.0\r\n"
                     "Via: SIP/2.0/UDP portkit.invalid:5060;branch=z9hG4bK%016llx\r\n"
                     "Max-Forwards: 70\r\n"
                     "To: <sip:portkit@invalid>\r\n"
                     "From: <sip:portkit@invalid>;tag=%08llx\r\n"
                     "Call-ID: %016llx@portkit.invalid\r\n"
                     "CSeq: 1 OPTIONS\r\n"
                     "Contact: <sip:portkit@portkit.invalid>\r\n"
                     "Accept: application/sdp\r\n"
                     "Content-Length: 0\r\n\r\n",
                     a, b & 0xFFFFFFFFull, b);
    if (n < 0 || (size_t)n >= sizeof buf)
        return PK_EINVAL;
    return put(out, cap, buf, (size_t)n);
}

static enum pk_id_status sip_identify(const uint8_t *sent, size_t sent_len, const uint8_t *r,
                                      size_t n, struct pk_service_id *out)
{
    if (!bn_has_prefix(r, n, "SIP/2.0 "))
        return PK_ID_UNKNOWN;
    const uint8_t *cid = bn_memcasemem(sent, sent_len, "Call-ID: ");
    if (!cid)
        return PK_ID_UNKNOWN;
    cid += 9;
    bool complete;
    size_t cl = bn_line_len(cid, (size_t)(sent + sent_len - cid), &complete);
    char want[64];
    if (cl >= sizeof want)
        return PK_ID_UNKNOWN;
    memcpy(want, cid, cl);
    want[cl] = '\0';
    if (!bn_memcasemem(r, n, want))
        return PK_ID_UNKNOWN;
    bn_ident_http(r, n, out);
    BN_SET(out, service, "sip");
    return PK_ID_MATCH;
}

/* ---- the table -------------------------------------------------------------------------- */

static const uint16_t p_dns[] = {53}, p_mdns[] = {5353}, p_ntp[] = {123}, p_mc[] = {11211},
                      p_tftp[] = {69}, p_ssdp[] = {1900}, p_sip[] = {5060};

static const struct pk_udp_probe dns = {
    .name = "dns",
    .service = "domain",
    UDPP_PORTS(p_dns),
    .flags = 0,
    .build = dns_build,
    .identify = dns_identify,
};
static const struct pk_udp_probe mdns = {
    .name = "mdns",
    .service = "mdns",
    UDPP_PORTS(p_mdns),
    .flags = 0,
    .build = mdns_build,
    .identify = mdns_identify,
};
static const struct pk_udp_probe ntp = {
    .name = "ntp",
    .service = "ntp",
    UDPP_PORTS(p_ntp),
    .flags = 0,
    .build = ntp_build,
    .identify = ntp_identify,
};
static const struct pk_udp_probe memcached = {
    .name = "memcached",
    .service = "memcached",
    UDPP_PORTS(p_mc),
    .flags = 0,
    .build = memcached_build,
    .identify = memcached_identify,
};
static const struct pk_udp_probe tftp = {
    .name = "tftp",
    .service = "tftp",
    UDPP_PORTS(p_tftp),
    .flags = PK_UDP_REPLY_OTHER_PORT,
    .build = tftp_build,
    .identify = tftp_identify,
};
static const struct pk_udp_probe ssdp = {
    .name = "ssdp",
    .service = "ssdp",
    UDPP_PORTS(p_ssdp),
    .flags = 0,
    .build = ssdp_build,
    .identify = ssdp_identify,
};
static const struct pk_udp_probe sip = {
    .name = "sip",
    .service = "sip",
    UDPP_PORTS(p_sip),
    .flags = 0,
    .build = sip_build,
    .identify = sip_identify,
};

static const struct pk_udp_probe *const probes[] = {
    &dns, &mdns, &ntp, &memcached, &tftp, &ssdp, &sip,
    &udpp_snmp, &udpp_netbios, &udpp_rpcbind, &udpp_openvpn, &udpp_stun,
    &udpp_source, &udpp_ipmi,
};

size_t pk_udp_probe_count(void) { return sizeof probes / sizeof probes[0]; }

const struct pk_udp_probe *pk_udp_probe_get(size_t index)
{
    return index < pk_udp_probe_count() ? probes[index] : NULL;
}

const struct pk_udp_probe *pk_udp_probe_for_port(unsigned port)
{
    for (size_t i = 0; i < pk_udp_probe_count(); i++)
        for (size_t j = 0; j < probes[i]->nports; j++)
            if (probes[i]->ports[j] == port)
                return probes[i];
    return NULL;
}

int pk_udp_payload(unsigned port, const struct pk_probe_params *p, uint8_t *out, size_t cap)
{
    const struct pk_udp_probe *m = pk_udp_probe_for_port(port);
    return m ? m->build(p, out, cap) : 0;
}

enum pk_id_status pk_udp_reply_identify(unsigned port, const uint8_t *sent, size_t sent_len,
                                        const uint8_t *reply, size_t reply_len,
                                        const char *fallback, struct pk_service_id *out)
{
    bn_id_reset(out, fallback);
    if (!reply || reply_len == 0)
        return PK_ID_NONE;
    const struct pk_udp_probe *m = pk_udp_probe_for_port(port);
    if (m && sent && sent_len) {
        struct pk_service_id tmp;
        bn_id_reset(&tmp, fallback);
        if (m->identify(sent, sent_len, reply, reply_len, &tmp) == PK_ID_MATCH) {
            *out = tmp;
            return PK_ID_MATCH;
        }
    }
    bn_id_banner(out, reply, reply_len);
    return PK_ID_UNKNOWN;
}

bool pk_udp_reply_matches(unsigned port, const uint8_t *sent, size_t sent_len,
                          const uint8_t *reply, size_t reply_len)
{
    struct pk_service_id id;
    return pk_udp_reply_identify(port, sent, sent_len, reply, reply_len, NULL, &id) == PK_ID_MATCH;
}
