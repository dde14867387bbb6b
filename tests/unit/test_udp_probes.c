/* UDP payload modules: payload layouts, and reply matching on replies
 * captured from real daemons (dnsmasq, chrony, net-snmp, memcached,
 * tftpd-hpa started by tests/lib/servers.py and probed with nonce 1 by
 * tests/tools/pk_svcprobe) and on replies built here by each protocol's
 * specification for services Debian cannot run cheaply. The live exchange
 * with real servers is tests/net/test_banner_live.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "portkit/error.h"
#include "portkit/udp_probes.h"

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = hex; p[0] && p[1] && n < cap; p += 2) {
        unsigned v;
        sscanf(p, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

struct sent {
    uint8_t b[PK_UDP_PAYLOAD_MAX];
    size_t n;
};

static struct sent payload(unsigned port, uint64_t nonce)
{
    struct sent s;
    struct pk_probe_params p = {NULL, nonce};
    int n = pk_udp_payload(port, &p, s.b, sizeof s.b);
    assert_true(n > 0);
    s.n = (size_t)n;
    return s;
}

static void test_table(void **state)
{
    size_t count = pk_udp_probe_count();
    assert_true(count >= 14);
    for (size_t i = 0; i < count; i++) {
        const struct pk_udp_probe *m = pk_udp_probe_get(i);
        assert_non_null(m);
        assert_true(m->nports > 0);
        uint8_t a[PK_UDP_PAYLOAD_MAX], b[PK_UDP_PAYLOAD_MAX];
        struct pk_probe_params p = {"host.example", 5};
        int n = m->build(&p, a, sizeof a);
        assert_true(n > 0 && n <= PK_UDP_PAYLOAD_MAX);
        assert_int_equal(m->build(&p, b, sizeof b), n);       /* deterministic */
        assert_memory_equal(a, b, (size_t)n);
        assert_int_equal(m->build(&p, b, (size_t)n - 1), PK_EINVAL);
        /* a module does not take its own request for an answer, nor garbage */
        struct pk_service_id id;
        assert_int_not_equal(m->identify(a, (size_t)n, a, (size_t)n, &id), PK_ID_MATCH);
        assert_int_equal(m->identify(a, (size_t)n, (const uint8_t *)"\xff", 1, &id), PK_ID_UNKNOWN);
        for (size_t j = 0; j < m->nports; j++)
            assert_ptr_equal(pk_udp_probe_for_port(m->ports[j]), m);
    }
    assert_null(pk_udp_probe_get(count));
    assert_null(pk_udp_probe_for_port(40000));
    uint8_t b[16];
    assert_int_equal(pk_udp_payload(40000, NULL, b, sizeof b), 0);
    assert_int_equal(pk_udp_payload(123, NULL, b, sizeof b), PK_EINVAL);
}

static void test_payload_layouts(void **state)
{
    struct sent s = payload(123, 1);                          /* NTP v4 client */
    assert_int_equal(s.n, 48);
    assert_int_equal(s.b[0], 0x23);
    s = payload(3478, 1);                                     /* STUN binding request */
    assert_int_equal(s.n, 20);
    assert_memory_equal(s.b, "\x00\x01\x00\x00\x21\x12\xa4\x42", 8);
    s = payload(623, 1);                                      /* IPMI: a fixed message */
    assert_memory_equal(s.b, "\x06\x00\xff\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x09\x20\x18"
                             "\xc8\x81\x00\x38\x8e\x04\xb5", 23);
    s = payload(137, 1);                                      /* NBSTAT "*" */
    assert_int_equal(s.n, 50);
    assert_memory_equal(s.b + 12, "\x20" "CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\x00\x00\x21\x00\x01", 38);
    s = payload(1194, 1);                                     /* OpenVPN hard reset v2 */
    assert_int_equal(s.n, 14);
    assert_int_equal(s.b[0], 0x38);
    s = payload(69, 1);                                       /* TFTP RRQ */
    assert_memory_equal(s.b, "\x00\x01portkit-probe\x00octet\x00", s.n);
    s = payload(27015, 1);
    assert_memory_equal(s.b, "\xff\xff\xff\xffTSource Engine Query\x00", s.n);
    s = payload(161, 1);                                      /* SNMP v2c, BER lengths agree */
    assert_int_equal(s.b[0], 0x30);
    assert_int_equal(s.b[1] + 2, s.n);
    assert_memory_equal(s.b + 2, "\x02\x01\x01\x04\x06public\xa0", 12);
    assert_true(s.b[17] >= 0x01 && s.b[17] <= 0x7f);          /* minimal positive INTEGER */
    s = payload(5060, 1);
    s.b[s.n] = 0;
    assert_true(strncmp((char *)s.b, "OPTIONS sip:", 12) == 0);
    assert_non_null(strstr((char *)s.b, "\r\nCall-ID: "));
    assert_true(strcmp((char *)s.b + s.n - 4, "\r\n\r\n") == 0);
    s = payload(1900, 1);
    assert_true(memcmp(s.b, "M-SEARCH * HTTP/1.1\r\n", 21) == 0);
    struct sent a = payload(53, 1), b = payload(53, 2);       /* ids follow the nonce */
    assert_memory_not_equal(a.b, b.b, 2);
    assert_memory_equal(a.b + 2, b.b + 2, a.n - 2);
}

struct reply_case {
    const char *what;
    unsigned port;
    const char *hex;
    const char *service, *product, *version, *extra, *banner;
};

/* Real replies to the nonce-1 payload. */
static const struct reply_case captured[] = {
    {"dnsmasq version.bind", 53,
     "5cc1848000010001000000000776657273696f6e0462696e640000100003c00c"
     "0010000300000000000d0c646e736d6173712d322e3930",
     "domain", "dnsmasq", "2.90", "", "dnsmasq-2.90"},
    {"chronyd", 123,
     "240a00e600000000000000007f7f0101eeae9c677292300bc15c0289ec2d0a91"
     "eeae9c68c666cf69eeae9c68c66b0342",
     "ntp", "", "v4", "stratum 10", ""},
    {"net-snmp sysDescr", 161,
     "303b02010104067075626c6963a22e0204110a2dec0201000201003020301e06"
     "082b060102010101000412706f72746b69742074657374206167656e74",
     "snmp", "", "v2c", "portkit test agent", "portkit test agent"},
    {"memcached over UDP", 11211, "5cc100000001000056455253494f4e20312e362e31380d0a",
     "memcached", "memcached", "1.6.18", "", "VERSION 1.6.18"},
    {"tftpd-hpa file not found", 69, "0005000146696c65206e6f7420666f756e6400",
     "tftp", "", "", "error 1: File not found", "File not found"},
};

static void check_reply(const struct reply_case *c, const struct sent *s, enum pk_id_status want)
{
    uint8_t r[1024];
    size_t n = unhex(c->hex, r, sizeof r);
    struct pk_service_id id;
    enum pk_id_status st = pk_udp_reply_identify(c->port, s->b, s->n, r, n, "fallback", &id);
    if (st != want)
        fail_msg("%s: status %d, want %d", c->what, st, want);
    if (want == PK_ID_MATCH &&
        (strcmp(id.service, c->service) || strcmp(id.product, c->product) ||
         strcmp(id.version, c->version) || strcmp(id.extra, c->extra) ||
         strcmp(id.banner, c->banner)))
        fail_msg("%s: service '%s' product '%s' version '%s' extra '%s' banner '%s'", c->what,
                 id.service, id.product, id.version, id.extra, id.banner);
    if (want != PK_ID_MATCH)
        assert_string_equal(id.service, "fallback");
    for (size_t k = 0; k < n; k++)   /* truncated replies are safe */
        pk_udp_reply_identify(c->port, s->b, s->n, r, k, "fallback", &id);
}

static void test_captured_replies(void **state)
{
    for (size_t i = 0; i < sizeof captured / sizeof captured[0]; i++) {
        const struct reply_case *c = &captured[i];
        struct sent s = payload(c->port, 1);
        check_reply(c, &s, PK_ID_MATCH);
        assert_true(pk_udp_reply_matches(c->port, s.b, s.n, NULL, 0) == false);
        if (c->port != 69) {     /* TFTP replies carry no id of ours */
            struct sent other = payload(c->port, 2);
            check_reply(c, &other, PK_ID_UNKNOWN);
        }
    }
}

/* Replies built from each specification, answering payload(port, 1). */
static size_t build_reply(unsigned port, const struct sent *s, uint8_t *r)
{
    size_t n = 0;
    switch (port) {
    case 137: {  /* NBSTAT response: name echoed, 2 names, 6-byte MAC */
        memcpy(r, s->b, 2);
        memcpy(r + 2, "\x84\x00\x00\x00\x00\x01\x00\x00\x00\x00", 10);
        memcpy(r + 12, s->b + 12, 34);
        memcpy(r + 46, "\x00\x21\x00\x01\x00\x00\x00\x00\x00\x41\x02", 11);
        memcpy(r + 57, "PKHOST         \x00\x04\x00", 18);
        memcpy(r + 75, "WORKGROUP      \x00\x84\x00", 18);
        memset(r + 93, 0, 6);
        n = 99;
        break;
    }
    case 111:    /* accepted, AUTH_NONE verifier, SUCCESS */
        memcpy(r, s->b, 4);
        memcpy(r + 4, "\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                      "\x00\x00\x00\x00", 20);
        n = 24;
        break;
    case 1194:   /* HARD_RESET_SERVER_V2, acking packet 0 of our session */
        r[0] = 8 << 3;
        memset(r + 1, 0xAB, 8);
        r[9] = 1;
        memset(r + 10, 0, 4);
        memcpy(r + 14, s->b + 1, 8);
        memset(r + 22, 0, 4);
        n = 26;
        break;
    case 3478:   /* success with SOFTWARE "coturn-4.6" */
        memcpy(r, "\x01\x01\x00\x10", 4);
        memcpy(r + 4, s->b + 4, 16);
        memcpy(r + 20, "\x80\x22\x00\x0a" "coturn-4.6\x00\x00", 16);
        n = 36;
        break;
    case 27015:  /* A2S_INFO reply: 'I', protocol 17, name */
        memcpy(r, "\xff\xff\xff\xffI\x11My Server\x00" "de_dust2\x00", 25);
        n = 25;
        break;
    case 623:    /* Get Channel Auth Capabilities response, IPMI 2.0 */
        memcpy(r, "\x06\x00\xff\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10\x81\x1c\x63\x20\x00"
                  "\x38\x00\x01\x97\x04\x03\x00\x00\x00\x00\x09", 30);
        n = 30;
        break;
    case 5060: { /* 200 OK repeating our Call-ID */
        const char *cid = strstr((const char *)s->b, "Call-ID: ");
        const char *end = strstr(cid, "\r\n");
        n = (size_t)sprintf((char *)r, "SIP/2.0 200 OK\r\n%.*s\r\nServer: Asterisk PBX 20.5.0\r\n"
                            "Content-Length: 0\r\n\r\n", (int)(end - cid), cid);
        break;
    }
    case 1900:
        n = (size_t)sprintf((char *)r, "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n"
                            "ST: upnp:rootdevice\r\nSERVER: Linux/6.1 UPnP/1.1 MiniUPnPd/2.3.3\r\n\r\n");
        break;
    case 5353: { /* legacy unicast answer: our id and question, one PTR */
        size_t q = s->n;
        memcpy(r, s->b, q);
        r[2] = 0x84;
        r[7] = 1;                             /* ancount */
        memcpy(r + q, "\xc0\x0c\x00\x0c\x00\x01\x00\x00\x00\x0a\x00\x11"
                      "\x04_ssh\x04_tcp\x05local\x00", 29);
        n = q + 29;
        break;
    }
    }
    return n;
}

static void test_specified_replies(void **state)
{
    static const struct {
        unsigned port;
        const char *line;
    } cases[] = {
        {137, "netbios-ns name PKHOST, workgroup WORKGROUP"},
        {111, "rpcbind"},
        {1194, "openvpn OpenVPN"},
        {3478, "stun coturn-4.6"},
        {27015, "source-engine My Server"},
        {623, "ipmi 2.0"},
        {5060, "sip Asterisk PBX 20.5.0"},
        {1900, "ssdp MiniUPnPd 2.3.3 Linux/6.1"},
        {5353, "mdns _ssh._tcp.local"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned port = cases[i].port;
        struct sent s = payload(port, 1);
        uint8_t r[512];
        size_t n = build_reply(port, &s, r);
        struct pk_service_id id;
        enum pk_id_status st = pk_udp_reply_identify(port, s.b, s.n, r, n, "fallback", &id);
        char line[256];
        pk_service_id_format(&id, line, sizeof line);
        if (st != PK_ID_MATCH || strcmp(line, cases[i].line))
            fail_msg("port %u: status %d line '%s', want '%s'", port, st, line, cases[i].line);
        /* the same reply to someone else's request is not ours */
        struct sent other = payload(port, 2);
        bool keyed = port != 27015 && port != 623 && port != 1900;
        if (keyed && pk_udp_reply_matches(port, other.b, other.n, r, n))
            fail_msg("port %u: matched a reply to another request", port);
        for (size_t k = 0; k < n; k++)
            pk_udp_reply_identify(port, s.b, s.n, r, k, "fallback", &id);
    }
}

static void test_unknown_reply(void **state)
{
    struct pk_service_id id;
    const uint8_t r[] = "hello\x1b[2J\r\nworld";
    assert_int_equal(pk_udp_reply_identify(40000, NULL, 0, r, sizeof r - 1, "x-svc", &id),
                     PK_ID_UNKNOWN);
    assert_string_equal(id.service, "x-svc");
    assert_string_equal(id.banner, "hello\\x1b[2J");
    assert_int_equal(pk_udp_reply_identify(40000, NULL, 0, r, 0, "x-svc", &id), PK_ID_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_payload_layouts),
        cmocka_unit_test(test_captured_replies),
        cmocka_unit_test(test_specified_replies),
        cmocka_unit_test(test_unknown_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
