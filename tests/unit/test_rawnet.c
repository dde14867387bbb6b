/* The SYN scan's packet layer without a network: SipHash against the
 * reference vector, the keyed cookies, and parsing replies built by hand
 * (fuzz/corpus/rawpkt holds the same kinds of packets). Certificates are
 * parsed from the fuzz corpus' DER seeds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "portkit/banner.h"
#include "scan/rawnet.h"

static void test_siphash_vector(void **state)
{
    (void)state;
    /* SipHash-2-4, key 00..0f, message 00..0e: the paper's vector. */
    uint8_t key[16], msg[15];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 15; i++)
        msg[i] = (uint8_t)i;
    uint64_t k0 = 0, k1 = 0;
    for (int i = 7; i >= 0; i--) {
        k0 = k0 << 8 | key[i];
        k1 = k1 << 8 | key[8 + i];
    }
    assert_true(raw_siphash(k0, k1, msg, sizeof msg) == 0xa129ca6149be45e5ULL);
    assert_true(raw_siphash(k0, k1, "", 0) == 0x726fdb47dd0e0e31ULL);
}

static void test_cookie(void **state)
{
    (void)state;
    struct raw_net r = {.k0 = 1, .k1 = 2};
    struct pk_addr a, b;
    assert_int_equal(pk_addr_parse("192.0.2.7", &a), 0);
    assert_int_equal(pk_addr_parse("192.0.2.8", &b), 0);
    uint32_t c = raw_cookie(&r, &a, 80, 40000, 5);
    assert_int_equal(c, raw_cookie(&r, &a, 80, 40000, 5));
    assert_int_not_equal(c, raw_cookie(&r, &b, 80, 40000, 5));
    assert_int_not_equal(c, raw_cookie(&r, &a, 81, 40000, 5));
    assert_int_not_equal(c, raw_cookie(&r, &a, 80, 40000, 6));
    r.k0 = 3; /* another key, another cookie: a reply cannot be forged blind */
    assert_int_not_equal(c, raw_cookie(&r, &a, 80, 40000, 5));
}

static size_t load(const char *dir, const char *name, uint8_t *buf, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/fuzz/corpus/%s/%s", PK_SOURCE_DIR, dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void test_parse_replies(void **state)
{
    (void)state;
    uint8_t buf[512];
    struct raw_pkt p;
    size_t n = load("rawpkt", "synack4", buf, sizeof buf);
    assert_true(raw_parse(buf, n, &p));
    assert_int_equal(p.kind, RAW_TCP);
    assert_int_equal(p.src.family, AF_INET);
    assert_int_equal(p.sport, 22);
    assert_int_equal(p.dport, 40000);
    assert_int_equal(p.flags, RAW_TCP_SYN | RAW_TCP_ACK);
    assert_true(p.ack == 0x55667789u);
    n = load("rawpkt", "unreach4", buf, sizeof buf);
    assert_true(raw_parse(buf, n, &p));
    assert_int_equal(p.kind, RAW_ICMP_ERROR);
    assert_int_equal(p.icmp_code, 13);
    assert_int_equal(p.qproto, 6);
    assert_int_equal(p.qdport, 80);
    assert_true(p.qseq == 0xdeadbeefu);
    n = load("rawpkt", "echo4", buf, sizeof buf);
    assert_true(raw_parse(buf, n, &p));
    assert_int_equal(p.kind, RAW_ECHO_REPLY);
    assert_int_equal(p.icmp_id, 0x1234);
    n = load("rawpkt", "na6", buf, sizeof buf);
    assert_true(raw_parse(buf, n, &p));
    assert_int_equal(p.kind, RAW_NEIGHBOUR);
    assert_int_equal(p.src.family, AF_INET6);
    n = load("rawpkt", "synack6", buf, sizeof buf);
    assert_true(raw_parse(buf, n, &p));
    assert_int_equal(p.kind, RAW_TCP);
    n = load("rawpkt", "short", buf, sizeof buf);
    assert_false(raw_parse(buf, n, &p));
    /* Every truncation of a good packet is refused or parsed, never read past. */
    n = load("rawpkt", "unreach4", buf, sizeof buf);
    for (size_t k = 0; k < n; k++) {
        uint8_t *copy = malloc(k ? k : 1);
        memcpy(copy, buf, k);
        raw_parse(copy, k, &p);
        free(copy);
    }
}

static void test_cert(void **state)
{
    (void)state;
    uint8_t der[4096];
    size_t n = load("cert", "rsa_san.der", der, sizeof der);
    struct pk_cert_info c;
    assert_int_equal(pk_cert_parse(der, n, 1800000000, &c), 0);
    assert_string_equal(c.subject, "commonName=seed.portkit.test/organizationName=portkit");
    assert_string_equal(c.san, "DNS:seed.portkit.test, DNS:www.portkit.test, IP Address:192.0.2.7, "
                               "IP Address:2001:db8:0:0:0:0:0:1");
    assert_string_equal(c.key_type, "rsa");
    assert_int_equal(c.key_bits, 2048);
    assert_true(c.self_signed);
    assert_false(c.expired);
    assert_int_equal(strlen(c.sha256), 64);
    char out[1024];
    pk_cert_format(&c, out, sizeof out);
    assert_non_null(strstr(out, "Subject Alternative Name: DNS:seed.portkit.test"));
    assert_non_null(strstr(out, ", self-signed"));
    /* Long after its end: expired, counted in days. */
    assert_int_equal(pk_cert_parse(der, n, c.not_after + 3 * 86400 + 5, &c), 0);
    assert_true(c.expired);
    assert_true(c.days_left == -4);
    pk_cert_format(&c, out, sizeof out);
    assert_non_null(strstr(out, "EXPIRED 4 days ago"));
    n = load("cert", "truncated.der", der, sizeof der);
    assert_int_equal(pk_cert_parse(der, n, 0, &c), PK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash_vector),
        cmocka_unit_test(test_cookie),
        cmocka_unit_test(test_parse_replies),
        cmocka_unit_test(test_cert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
