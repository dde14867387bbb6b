#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "portkit/query.h"
#include "portkit/registry.h"

static struct pk_query parse_ok(const char *s)
{
    struct pk_query q;
    struct pk_err err = {0};
    int rc = pk_query_parse(s, strlen(s), &q, &err);
    if (rc != 0)
        fail_msg("'%s' should parse, got: %s", s, err.msg);
    return q;
}

static void parse_bad(const char *s, const char *must_mention)
{
    struct pk_query q;
    struct pk_err err = {0};
    assert_int_equal(pk_query_parse(s, strlen(s), &q, &err), PK_EINVAL);
    if (!strstr(err.msg, must_mention))
        fail_msg("error for '%s' was '%s', expected it to mention '%s'", s, err.msg, must_mention);
}

static void ports_and_protocols(void **state)
{
    (void)state;
    struct pk_query q = parse_ok("80");
    assert_int_equal(q.kind, PK_QUERY_PORTS);
    assert_int_equal(q.lo, 80);
    assert_int_equal(q.hi, 80);
    assert_int_equal(q.proto_mask, 0);
    q = parse_ok("53/udp");
    assert_int_equal(q.lo, 53);
    assert_int_equal(q.proto_mask, PK_PROTO_MASK(PK_UDP));
    q = parse_ok(" 0 ");
    assert_int_equal(q.lo, 0);
    q = parse_ok("65535/TCP");
    assert_int_equal(q.lo, 65535);
    assert_int_equal(q.proto_mask, PK_PROTO_MASK(PK_TCP));
}

static void ranges(void **state)
{
    (void)state;
    struct pk_query q = parse_ok("6000-6010/tcp");
    assert_int_equal(q.kind, PK_QUERY_PORTS);
    assert_int_equal(q.lo, 6000);
    assert_int_equal(q.hi, 6010);
    q = parse_ok("7-7");
    assert_int_equal(q.lo, 7);
    assert_int_equal(q.hi, 7);
}

static void names(void **state)
{
    (void)state;
    struct pk_query q = parse_ok("ssh");
    assert_int_equal(q.kind, PK_QUERY_NAME);
    assert_string_equal(q.name, "ssh");
    q = parse_ok("ms-sql-s/tcp");
    assert_string_equal(q.name, "ms-sql-s");
    q = parse_ok("x11");
    assert_string_equal(q.name, "x11");
    q = parse_ok("whois++");
    assert_string_equal(q.name, "whois++");
}

static void invalid_queries_name_the_problem(void **state)
{
    (void)state;
    parse_bad("70000", "70000");
    parse_bad("-1", "-1");
    parse_bad("80/xyz", "xyz");
    parse_bad("6000-", "no end");
    parse_bad("9-3", "backwards");
    parse_bad("", "empty");
    parse_bad("/tcp", "no port");
    parse_bad("80:90", "not a port");
    parse_bad("99999999999999999999", "out of range");
}

static void range_classes_and_port_parsing(void **state)
{
    (void)state;
    assert_int_equal(pk_port_range(0), PK_RANGE_WELL_KNOWN);
    assert_int_equal(pk_port_range(1023), PK_RANGE_WELL_KNOWN);
    assert_int_equal(pk_port_range(1024), PK_RANGE_REGISTERED);
    assert_int_equal(pk_port_range(49151), PK_RANGE_REGISTERED);
    assert_int_equal(pk_port_range(49152), PK_RANGE_DYNAMIC);
    assert_int_equal(pk_port_range(65535), PK_RANGE_DYNAMIC);
    assert_string_equal(pk_range_name(PK_RANGE_DYNAMIC), "dynamic");
    unsigned p;
    assert_int_equal(pk_port_parse("65536", 5, &p), PK_EINVAL);
    assert_int_equal(pk_port_parse("+1", 2, &p), PK_EINVAL);
    assert_int_equal(pk_port_parse("00080", 5, &p), 0);
    assert_int_equal(p, 80);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ports_and_protocols),
        cmocka_unit_test(ranges),
        cmocka_unit_test(names),
        cmocka_unit_test(invalid_queries_name_the_problem),
        cmocka_unit_test(range_classes_and_port_parsing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
