#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "portkit/frequency.h"
#include "portkit/portspec.h"
#include "portkit/registry.h"

#define TCP PK_PROTO_MASK(PK_TCP)
#define UDP PK_PROTO_MASK(PK_UDP)

static struct pk_ports *parse_ok(const char *spec, unsigned protos, unsigned *named)
{
    struct pk_ports *p = pk_ports_new();
    struct pk_err err = {0};
    int rc = pk_ports_parse(p, spec, pk_registry_builtin(), protos, named, &err);
    if (rc != 0)
        fail_msg("'%s' failed: %s", spec, err.msg);
    return p;
}

static void parse_bad(const char *spec, const char *needle)
{
    struct pk_ports *p = pk_ports_new();
    pk_ports_add_range(p, PK_TCP, 7, 7);
    struct pk_err err = {0};
    int rc = pk_ports_parse(p, spec, pk_registry_builtin(), TCP, NULL, &err);
    if (rc != PK_EINVAL)
        fail_msg("'%s' should fail, rc %d", spec, rc);
    if (!strstr(err.msg, needle))
        fail_msg("'%s': message '%s' lacks '%s'", spec, err.msg, needle);
    assert_null(strchr(err.msg, '\n'));
    /* a failed parse leaves the set as it was */
    assert_int_equal(pk_ports_count(p, PK_TCP), 1);
    assert_int_equal(pk_ports_count(p, PK_UDP), 0);
    pk_ports_free(p);
}

static void test_numbers_and_ranges(void **state)
{
    (void)state;
    struct pk_ports *p = parse_ok("22,80,8000-8100", TCP, NULL);
    assert_int_equal(pk_ports_count(p, PK_TCP), 2 + 101);
    assert_true(pk_ports_has(p, PK_TCP, 22));
    assert_true(pk_ports_has(p, PK_TCP, 8100));
    assert_false(pk_ports_has(p, PK_TCP, 8101));
    assert_int_equal(pk_ports_count(p, PK_UDP), 0);
    pk_ports_free(p);

    p = parse_ok("-", TCP, NULL);
    assert_int_equal(pk_ports_count(p, PK_TCP), 65535);
    assert_false(pk_ports_has(p, PK_TCP, 0));
    pk_ports_free(p);

    p = parse_ok("-100, 65530-", TCP, NULL);
    assert_int_equal(pk_ports_count(p, PK_TCP), 100 + 6);
    pk_ports_free(p);

    p = parse_ok("0,65535", TCP | UDP, NULL);
    assert_true(pk_ports_has(p, PK_TCP, 0));
    assert_true(pk_ports_has(p, PK_UDP, 65535));
    pk_ports_free(p);
}

static void test_prefixes(void **state)
{
    (void)state;
    unsigned named = 0;
    struct pk_ports *p = parse_ok("1,T:22,23,U:53,161,T:80", TCP, &named);
    assert_int_equal(named, TCP | UDP);
    uint16_t tcp[8], udp[8];
    assert_int_equal(pk_ports_list(p, PK_TCP, tcp, 8), 4);
    assert_int_equal(tcp[0], 1);
    assert_int_equal(tcp[1], 22);
    assert_int_equal(tcp[2], 23);
    assert_int_equal(tcp[3], 80);
    assert_int_equal(pk_ports_list(p, PK_UDP, udp, 8), 2);
    assert_int_equal(udp[0], 53);
    assert_int_equal(udp[1], 161);
    pk_ports_free(p);

    /* unprefixed ports go to every default transport */
    p = parse_ok("53", TCP | UDP, &named);
    assert_int_equal(named, 0);
    assert_true(pk_ports_has(p, PK_TCP, 53));
    assert_true(pk_ports_has(p, PK_UDP, 53));
    pk_ports_free(p);
}

static void test_names(void **state)
{
    (void)state;
    struct pk_ports *p = parse_ok("http,https,ssh", TCP, NULL);
    assert_true(pk_ports_has(p, PK_TCP, 80));
    assert_true(pk_ports_has(p, PK_TCP, 443));
    assert_true(pk_ports_has(p, PK_TCP, 22));
    pk_ports_free(p);

    p = parse_ok("U:domain", TCP, NULL);
    assert_true(pk_ports_has(p, PK_UDP, 53));
    assert_int_equal(pk_ports_count(p, PK_TCP), 0);
    pk_ports_free(p);

    p = parse_ok("http*", TCP, NULL);
    assert_true(pk_ports_has(p, PK_TCP, 80));
    assert_true(pk_ports_has(p, PK_TCP, 443));  /* https */
    assert_true(pk_ports_count(p, PK_TCP) > 3); /* http-alt, http-mgmt, ... */
    assert_false(pk_ports_has(p, PK_TCP, 22));
    pk_ports_free(p);
}

static void test_errors(void **state)
{
    (void)state;
    parse_bad("0-70000", "70000");
    parse_bad("9-3", "backwards");
    parse_bad("22,,80", "empty");
    parse_bad("22,", "empty");
    parse_bad("", "empty");
    parse_bad("nosuchservicexyz", "nosuchservicexyz");
    parse_bad("80a", "80a");
    parse_bad("S:80", "SCTP");
    parse_bad("X:80", "prefix");
    parse_bad("T:", "no ports");
    parse_bad("[1-1024]", "bracket");
    parse_bad("1-2-3", "1-2-3");
    parse_bad("99999999999999999999", "out of range");
    parse_bad("ht tp", "ht tp");
}

static void test_format_remove(void **state)
{
    (void)state;
    struct pk_ports *p = parse_ok("1-10,12,14-15", TCP, NULL);
    struct pk_ports *ex = parse_ok("5,14", TCP, NULL);
    pk_ports_remove(p, ex);
    struct pk_buf b = PK_BUF_INIT;
    pk_ports_format(p, PK_TCP, &b);
    assert_string_equal(b.data, "1-4,6-10,12,15");
    pk_buf_free(&b);
    pk_ports_free(p);
    pk_ports_free(ex);
}

static void test_top_builtin(void **state)
{
    (void)state;
    struct pk_ports *p = pk_ports_new();
    const char *src = NULL;
    struct pk_err err = {0};
    assert_int_equal(pk_ports_add_top(p, PK_TCP, 1000, "/nonexistent/services", &src, &err), 0);
    assert_string_equal(src, "built-in");
    assert_int_equal(pk_ports_count(p, PK_TCP), 1000);
    assert_true(pk_ports_has(p, PK_TCP, 22));
    assert_true(pk_ports_has(p, PK_TCP, 443));
    assert_int_equal(pk_ports_count(p, PK_UDP), 0);
    assert_int_equal(pk_ports_add_top(p, PK_UDP, 10, NULL, &src, &err), 0);
    assert_int_equal(pk_ports_count(p, PK_UDP), 10);
    assert_true(pk_ports_has(p, PK_UDP, 53));
    pk_ports_free(p);
}

static void test_top_nmap_services(void **state)
{
    (void)state;
    FILE *f = fopen(PK_NMAP_SERVICES_PATH, "r");
    if (!f)
        skip();
    fclose(f);
    struct pk_ports *p = pk_ports_new();
    const char *src;
    struct pk_err err = {0};
    assert_int_equal(pk_ports_add_top(p, PK_TCP, 1000, PK_NMAP_SERVICES_PATH, &src, &err), 0);
    assert_string_equal(src, PK_NMAP_SERVICES_PATH);
    assert_int_equal(pk_ports_count(p, PK_TCP), 1000);
    assert_true(pk_ports_has(p, PK_TCP, 80));
    assert_int_equal(pk_ports_add_top(p, PK_UDP, 100, PK_NMAP_SERVICES_PATH, &src, &err), 0);
    assert_int_equal(pk_ports_count(p, PK_UDP), 100);
    assert_true(pk_ports_has(p, PK_UDP, 53));
    pk_ports_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_and_ranges), cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_names),              cmocka_unit_test(test_errors),
        cmocka_unit_test(test_format_remove),      cmocka_unit_test(test_top_builtin),
        cmocka_unit_test(test_top_nmap_services),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
