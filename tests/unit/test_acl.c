#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "portkit/acl.h"

static struct sockaddr_storage addr(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(40000);
    } else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(40000);
    } else {
        fail_msg("bad test address %s", text);
    }
    return ss;
}

static bool permits(const struct pk_acl *acl, const char *client)
{
    struct sockaddr_storage ss = addr(client);
    return pk_acl_permits(acl, (struct sockaddr *)&ss);
}

static void add(struct pk_acl *acl, bool allow, const char *pattern)
{
    struct pk_err err = {0};
    if (pk_acl_add_list(acl, allow, pattern, strlen(pattern), &err) < 0)
        fail_msg("'%s' should parse: %s", pattern, err.msg);
}

static void bad_cidr(const char *s, const char *must_mention)
{
    struct pk_cidr c;
    struct pk_err err = {0};
    assert_int_equal(pk_cidr_parse(s, strlen(s), &c, &err), PK_EINVAL);
    if (!strstr(err.msg, must_mention))
        fail_msg("error for '%s' was '%s', expected it to mention '%s'", s, err.msg, must_mention);
}

static void cidr_parsing(void **state)
{
    (void)state;
    struct pk_cidr c;
    struct pk_err err = {0};
    char buf[64];
    assert_int_equal(pk_cidr_parse("10.0.0.0/8", 10, &c, &err), 0);
    assert_int_equal(c.family, AF_INET);
    assert_int_equal(c.prefix, 8);
    pk_cidr_format(&c, buf, sizeof buf);
    assert_string_equal(buf, "10.0.0.0/8");
    assert_int_equal(pk_cidr_parse("192.0.2.7", 9, &c, &err), 0);
    assert_int_equal(c.prefix, 32);
    assert_int_equal(pk_cidr_parse("fd00::/8", 8, &c, &err), 0);
    assert_int_equal(c.family, AF_INET6);
    assert_int_equal(c.prefix, 8);
    assert_int_equal(pk_cidr_parse("::/0", 4, &c, &err), 0);
    assert_int_equal(c.prefix, 0);
    /* the length argument bounds the text: no NUL needed */
    assert_int_equal(pk_cidr_parse("127.0.0.1,junk", 9, &c, &err), 0);
    pk_cidr_format(&c, buf, sizeof buf);
    assert_string_equal(buf, "127.0.0.1/32");

    bad_cidr("10.1.0.0/8", "host bits");
    bad_cidr("10.0.0.0/33", "prefix");
    bad_cidr("::1/129", "prefix");
    bad_cidr("10.0.0.0/", "prefix");
    bad_cidr("10.0.0.0/-1", "prefix");
    bad_cidr("10.0.0", "not an IPv4 or IPv6");
    bad_cidr("example.com", "not an IPv4 or IPv6");
    bad_cidr("", "empty");
    bad_cidr("1111:2222:3333:4444:5555:6666:7777:8888/128xxxxxxxxxxxxxx", "too long");
}

static void prefix_matching(void **state)
{
    (void)state;
    struct pk_cidr c;
    struct pk_err err = {0};
    assert_int_equal(pk_cidr_parse("192.168.0.0/23", 14, &c, &err), 0);
    struct sockaddr_storage in = addr("192.168.1.200"), out = addr("192.168.2.1");
    assert_true(pk_cidr_match(&c, (struct sockaddr *)&in));
    assert_false(pk_cidr_match(&c, (struct sockaddr *)&out));
    /* an IPv4-mapped client (dual-stack listener) matches the IPv4 block */
    struct sockaddr_storage mapped = addr("::ffff:192.168.1.5");
    assert_true(pk_cidr_match(&c, (struct sockaddr *)&mapped));
    /* an IPv6 block covering ::ffff:0:0/96 covers IPv4 clients too (issue
     * 8: "deny ::/0" on a dual-stack listener admitted them); one that
     * merely shares bits does not */
    assert_int_equal(pk_cidr_parse("::/0", 4, &c, &err), 0);
    assert_true(pk_cidr_match(&c, (struct sockaddr *)&mapped));
    struct sockaddr_storage plain4 = addr("192.168.1.5");
    assert_true(pk_cidr_match(&c, (struct sockaddr *)&plain4));
    assert_int_equal(pk_cidr_parse("2000::/3", 8, &c, &err), 0);
    assert_false(pk_cidr_match(&c, (struct sockaddr *)&mapped));
    struct sockaddr_storage v6 = addr("2001:db8::1");
    assert_true(pk_cidr_match(&c, (struct sockaddr *)&v6));
    assert_int_equal(pk_cidr_parse("2001:db8:8000::/33", 18, &c, &err), 0);
    assert_false(pk_cidr_match(&c, (struct sockaddr *)&v6));
    struct sockaddr_storage v6b = addr("2001:db8:8000::1");
    assert_true(pk_cidr_match(&c, (struct sockaddr *)&v6b));
}

static void allow_and_deny(void **state)
{
    (void)state;
    struct pk_acl *acl = pk_acl_new();
    assert_non_null(acl);
    assert_true(permits(acl, "203.0.113.9")); /* empty: everyone */
    add(acl, false, "10.0.0.0/8");
    assert_true(permits(acl, "203.0.113.9"));  /* deny only: everyone else */
    assert_false(permits(acl, "10.20.30.40"));
    add(acl, true, "127.0.0.0/8, ::1");
    assert_true(permits(acl, "127.0.0.1"));
    assert_true(permits(acl, "::1"));
    assert_true(permits(acl, "::ffff:127.0.0.1"));
    assert_false(permits(acl, "203.0.113.9")); /* allow present: only those */
    add(acl, false, "127.0.0.2");               /* deny wins over allow */
    assert_false(permits(acl, "127.0.0.2"));
    assert_true(permits(acl, "127.0.0.3"));
    assert_int_equal(pk_acl_count(acl, true), 2);
    assert_int_equal(pk_acl_count(acl, false), 2);

    struct pk_acl *copy = pk_acl_clone(acl);
    pk_acl_free(acl);
    assert_false(permits(copy, "127.0.0.2"));
    assert_true(permits(copy, "127.0.0.3"));
    pk_acl_free(copy);

    struct sockaddr_storage any = addr("198.51.100.1");
    assert_true(pk_acl_permits(NULL, (struct sockaddr *)&any));
}

static void list_errors(void **state)
{
    (void)state;
    struct pk_acl *acl = pk_acl_new();
    struct pk_err err = {0};
    assert_int_equal(pk_acl_add_list(acl, true, " , ", 3, &err), PK_EINVAL);
    assert_non_null(strstr(err.msg, "allow"));
    assert_int_equal(pk_acl_add_list(acl, false, "10.0.0.0/8,nope", 15, &err), PK_EINVAL);
    assert_non_null(strstr(err.msg, "nope"));
    pk_acl_free(acl);
}


/* Issue 8: an IPv4-mapped entry is the IPv4 entry it carries, whichever way
 * the client arrives (IPv4 socket or dual-stack). */
static void mapped_entries(void **state)
{
    (void)state;
    struct pk_acl *acl = pk_acl_new();
    add(acl, false, "::ffff:127.0.0.3");
    assert_false(permits(acl, "127.0.0.3"));
    assert_false(permits(acl, "::ffff:127.0.0.3"));
    assert_true(permits(acl, "127.0.0.4"));
    char buf[64];
    pk_acl_format(acl, false, 0, buf, sizeof buf);
    assert_string_equal(buf, "127.0.0.3/32");
    add(acl, false, "::ffff:10.0.0.0/104");
    pk_acl_format(acl, false, 1, buf, sizeof buf);
    assert_string_equal(buf, "10.0.0.0/8");
    assert_false(permits(acl, "10.9.9.9"));
    pk_acl_free(acl);

    acl = pk_acl_new();
    add(acl, true, "::ffff:127.0.0.2");
    assert_true(permits(acl, "127.0.0.2"));
    assert_true(permits(acl, "::ffff:127.0.0.2"));
    assert_false(permits(acl, "127.0.0.5"));
    pk_acl_free(acl);

    acl = pk_acl_new();
    add(acl, false, "::/0");
    assert_false(permits(acl, "127.0.0.1"));
    assert_false(permits(acl, "::ffff:127.0.0.1"));
    assert_false(permits(acl, "::1"));
    pk_acl_free(acl);
}

/* rinetd's patterns: * any run, ? one character, over the address text. */
static void glob_patterns(void **state)
{
    (void)state;
    struct pk_acl *acl = pk_acl_new();
    add(acl, true, "192.168.2.*");
    add(acl, true, "FE80:*");
    add(acl, false, "192.168.2.1?");
    assert_true(permits(acl, "192.168.2.7"));
    assert_true(permits(acl, "::ffff:192.168.2.7"));
    assert_false(permits(acl, "192.168.2.15"));
    assert_true(permits(acl, "192.168.2.150")); /* ? is exactly one character */
    assert_false(permits(acl, "192.168.3.7"));
    assert_true(permits(acl, "fe80::1"));
    assert_int_equal(pk_acl_count(acl, true), 2);
    assert_null(pk_acl_get(acl, true, 0));
    char buf[64];
    pk_acl_format(acl, true, 1, buf, sizeof buf);
    assert_string_equal(buf, "fe80:*");
    pk_acl_free(acl);

    acl = pk_acl_new();
    add(acl, false, "10.?.*");
    assert_false(permits(acl, "10.1.2.3"));
    assert_true(permits(acl, "10.10.2.3"));
    struct pk_err err = {0};
    assert_int_equal(pk_acl_add(acl, true, "host*.example", 13, &err), PK_EINVAL);
    assert_int_equal(pk_acl_add(acl, true, "10.[1].*", 8, &err), PK_EINVAL);
    pk_acl_free(acl);
}

/* Issue 8: one rule for inet_aton's short forms: refused, naming the
 * address they would have meant. */
static void aton_forms(void **state)
{
    (void)state;
    bad_cidr("127.1", "127.0.0.1");
    bad_cidr("0x7f.1", "127.0.0.1");
    bad_cidr("010.0.0.1", "8.0.0.1");
    bad_cidr("2130706433", "127.0.0.1");
    struct pk_addr a;
    assert_int_equal(pk_addr_parse("0x7f.1", &a), PK_EINVAL);
    assert_true(pk_addr_is_aton_form("127.1", &a));
    assert_false(pk_addr_is_aton_form("127.0.0.1", &a));
    assert_false(pk_addr_is_aton_form("example.com", &a));
    assert_int_equal(pk_addr_parse("::ffff:224.0.0.1", &a), 0);
    assert_int_equal(a.family, AF_INET);
    assert_true(pk_addr_is_multicast(&a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cidr_parsing),
        cmocka_unit_test(prefix_matching),
        cmocka_unit_test(allow_and_deny),
        cmocka_unit_test(mapped_entries),
        cmocka_unit_test(glob_patterns),
        cmocka_unit_test(aton_forms),
        cmocka_unit_test(list_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
