#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "portkit/target.h"

/* A resolver that knows three names and never touches the network. */
static int fake_resolve(void *arg, const char *name, int family, struct pk_addr *out, size_t max,
                        struct pk_err *err)
{
    (void)arg;
    size_t n = 0;
    if (strcmp(name, "dual.test") == 0) {
        if (family != AF_INET6 && n < max)
            pk_addr_parse("192.0.2.7", &out[n++]);
        if (family != AF_INET && n < max)
            pk_addr_parse("2001:db8::7", &out[n++]);
        return (int)n;
    }
    if (strcmp(name, "v4.test") == 0) {
        pk_addr_parse("198.51.100.5", &out[0]);
        return 1;
    }
    return pk_err_set(err, PK_EINVAL, "cannot resolve '%s': Name or service not known", name);
}

static struct pk_targets *mk(int family)
{
    struct pk_target_opts o = {.family = family, .resolve = fake_resolve};
    return pk_targets_new(&o);
}

static void add_ok(struct pk_targets *t, const char *spec, bool exclude)
{
    struct pk_err err = {0};
    if (pk_targets_add(t, spec, exclude, &err) != 0)
        fail_msg("'%s' failed: %s", spec, err.msg);
}

static void add_bad(const char *spec, int family, const char *needle)
{
    struct pk_targets *t = mk(family);
    struct pk_err err = {0};
    int rc = pk_targets_add(t, spec, false, &err);
    if (rc != PK_EINVAL)
        fail_msg("'%s' should fail (rc %d)", spec, rc);
    if (!strstr(err.msg, needle))
        fail_msg("'%s': message '%s' lacks '%s'", spec, err.msg, needle);
    assert_null(strchr(err.msg, '\n'));
    pk_targets_free(t);
}

static void host_str(const struct pk_targets *t, uint64_t i, char *buf)
{
    struct pk_addr a;
    pk_targets_get(t, i, &a);
    pk_addr_format(&a, buf, PK_ADDR_STRLEN);
}

static void test_forms(void **state)
{
    (void)state;
    struct pk_targets *t = mk(AF_UNSPEC);
    add_ok(t, "192.0.2.1-20", false);        /* 20 */
    add_ok(t, "198.51.100.0/30", false);     /* 4 */
    add_ok(t, "10.1.0-1.5", false);          /* 2 */
    add_ok(t, "203.0.113.250-203.0.113.252", false); /* 3 */
    add_ok(t, "[2001:db8::1]", false);       /* 1 */
    add_ok(t, "2001:db8:1::/126", false);    /* 4 */
    add_ok(t, "fd00::1-fd00::3", false);     /* 3 */
    struct pk_err err = {0};
    assert_int_equal(pk_targets_finish(t, 65536, &err), 0);
    assert_int_equal(pk_targets_count(t), 20 + 4 + 2 + 3 + 1 + 4 + 3);
    char buf[PK_ADDR_STRLEN];
    host_str(t, 0, buf);
    assert_string_equal(buf, "10.1.0.5");
    host_str(t, 1, buf);
    assert_string_equal(buf, "10.1.1.5");
    host_str(t, 2, buf);
    assert_string_equal(buf, "192.0.2.1");
    host_str(t, 21, buf);
    assert_string_equal(buf, "192.0.2.20");
    host_str(t, 22, buf);
    assert_string_equal(buf, "198.51.100.0");
    host_str(t, pk_targets_count(t) - 1, buf);
    assert_string_equal(buf, "fd00::3");
    pk_targets_free(t);
}

static void test_merge_and_exclude(void **state)
{
    (void)state;
    struct pk_targets *t = mk(AF_UNSPEC);
    add_ok(t, "10.0.0.0/24", false);
    add_ok(t, "10.0.0.5", false);  /* duplicate */
    add_ok(t, "10.0.1.0/25", false); /* adjacent: merges */
    add_ok(t, "10.0.0.10-19", true);
    add_ok(t, "10.0.0.0", true);
    add_ok(t, "10.0.1.127", true);
    struct pk_err err = {0};
    assert_int_equal(pk_targets_finish(t, 65536, &err), 0);
    assert_int_equal(pk_targets_count(t), 256 + 128 - 10 - 1 - 1);
    char buf[PK_ADDR_STRLEN];
    host_str(t, 0, buf);
    assert_string_equal(buf, "10.0.0.1");
    host_str(t, 8, buf);
    assert_string_equal(buf, "10.0.0.9");
    host_str(t, 9, buf);
    assert_string_equal(buf, "10.0.0.20");
    host_str(t, pk_targets_count(t) - 1, buf);
    assert_string_equal(buf, "10.0.1.126");
    pk_targets_free(t);

    t = mk(AF_UNSPEC);
    add_ok(t, "10.0.0.1", false);
    add_ok(t, "10.0.0.0/8", true);
    assert_int_equal(pk_targets_finish(t, 65536, &err), PK_ENOTFOUND);
    pk_targets_free(t);
}

static void test_names(void **state)
{
    (void)state;
    struct pk_targets *t = mk(AF_UNSPEC);
    add_ok(t, "dual.test", false);
    add_ok(t, "v4.test/31", false);
    struct pk_err err = {0};
    assert_int_equal(pk_targets_finish(t, 65536, &err), 0);
    assert_int_equal(pk_targets_count(t), 1 + 2 + 1);
    char buf[PK_ADDR_STRLEN];
    host_str(t, 0, buf);
    assert_string_equal(buf, "192.0.2.7");
    assert_string_equal(pk_targets_name(t, 0), "dual.test");
    assert_null(pk_targets_name(t, 1)); /* 198.51.100.4: in the /31, not the name's address */
    assert_string_equal(pk_targets_name(t, 2), "v4.test");
    assert_string_equal(pk_targets_name(t, 3), "dual.test");
    pk_targets_free(t);

    t = mk(AF_INET6);
    add_ok(t, "dual.test", false);
    assert_int_equal(pk_targets_finish(t, 65536, &err), 0);
    assert_int_equal(pk_targets_count(t), 1);
    pk_targets_free(t);

    add_bad("nosuch.test", AF_UNSPEC, "cannot resolve");
    add_bad("v4.test", AF_INET6, "no IPv6 address");
    add_bad("192.0.2.1", AF_INET6, "-6");

    struct pk_target_opts o = {.no_resolve = true};
    t = pk_targets_new(&o);
    assert_int_equal(pk_targets_add(t, "dual.test", false, &err), PK_EINVAL);
    pk_targets_free(t);
}

static void test_bad(void **state)
{
    (void)state;
    add_bad("10.0.0.0/33", AF_UNSPEC, "/33");
    add_bad("fd00::/129", AF_UNSPEC, "/129");
    add_bad("10.0.0.256", AF_UNSPEC, "10.0.0.256");
    add_bad("10.0.0.9-3", AF_UNSPEC, "10.0.0.9-3");
    add_bad("224.0.0.1", AF_UNSPEC, "multicast");
    add_bad("200.0.0.0/2", AF_UNSPEC, "multicast");
    add_bad("255.255.255.255", AF_UNSPEC, "broadcast");
    add_bad("ff02::1", AF_UNSPEC, "multicast");
    add_bad("10.0.0.1/x", AF_UNSPEC, "prefix");
    add_bad("bad host!", AF_UNSPEC, "bad host!");
    add_bad("", AF_UNSPEC, "empty");
    add_bad("10.0.0.1-fd00::1", AF_UNSPEC, "families");
    add_bad("10.0.0.9-10.0.0.1", AF_UNSPEC, "backwards");
}

static void test_limits(void **state)
{
    (void)state;
    struct pk_targets *t = mk(AF_UNSPEC);
    add_ok(t, "10.0.0.0/15", false);
    struct pk_err err = {0};
    assert_int_equal(pk_targets_finish(t, 65536, &err), PK_EINVAL);
    assert_non_null(strstr(err.msg, "--force"));
    assert_non_null(strstr(err.msg, "131072"));
    pk_targets_free(t);

    t = mk(AF_UNSPEC);
    add_ok(t, "10.0.0.0/15", false);
    assert_int_equal(pk_targets_finish(t, UINT64_MAX, &err), 0);
    assert_int_equal(pk_targets_count(t), 131072);
    pk_targets_free(t);

    t = mk(AF_UNSPEC);
    add_ok(t, "2001:db8::/32", false);
    assert_int_equal(pk_targets_finish(t, UINT64_MAX, &err), PK_EINVAL);
    assert_non_null(strstr(err.msg, "2^32"));
    pk_targets_free(t);

    t = mk(AF_UNSPEC);
    add_ok(t, "::/1", false);
    assert_int_equal(pk_targets_finish(t, UINT64_MAX, &err), PK_EINVAL);
    pk_targets_free(t);
}

static void test_text(void **state)
{
    (void)state;
    struct pk_targets *t = mk(AF_UNSPEC);
    const char *list = "# a target list\n192.0.2.1 192.0.2.2,192.0.2.3\n\n  192.0.2.10-12 # tail\n";
    struct pk_err err = {0};
    assert_int_equal(pk_targets_add_text(t, list, strlen(list), false, "list.txt", &err), 0);
    assert_int_equal(pk_targets_add_text(t, "192.0.2.11", 10, true, "--exclude", &err), 0);
    assert_int_equal(pk_targets_finish(t, 65536, &err), 0);
    assert_int_equal(pk_targets_count(t), 5);
    pk_targets_free(t);

    t = mk(AF_UNSPEC);
    const char *bad = "192.0.2.1\n\n10.0.0.0/40\n";
    assert_int_equal(pk_targets_add_text(t, bad, strlen(bad), false, "list.txt", &err), PK_EINVAL);
    assert_non_null(strstr(err.msg, "list.txt:3:"));
    pk_targets_free(t);
}

static void test_addr_helpers(void **state)
{
    (void)state;
    struct pk_addr a, b;
    assert_int_equal(pk_addr_parse("fe80::1%1", &a), 0);
    assert_int_equal(a.scope_id, 1);
    assert_int_equal(pk_addr_parse("fe80::1%", &a), PK_EINVAL);
    assert_int_equal(pk_addr_parse("fe80::1%nosuchif0", &a), PK_EINVAL);
    assert_int_equal(pk_addr_parse("1.2.3.4", &a), 0);
    assert_int_equal(pk_addr_parse("::1", &b), 0);
    assert_true(pk_addr_cmp(&a, &b) < 0);
    struct sockaddr_storage ss;
    assert_int_equal(pk_addr_sockaddr(&a, 80, &ss), sizeof(struct sockaddr_in));
    assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 80);
    assert_int_equal(pk_addr_sockaddr(&b, 443, &ss), sizeof(struct sockaddr_in6));
}


/* Issue 8: IPv4-mapped targets obey the IPv4 rules (multicast, broadcast,
 * exclusions), and inet_aton's short forms are refused, never resolved. */
static void test_mapped_and_aton(void **state)
{
    (void)state;
    add_bad("::ffff:224.0.0.1", AF_UNSPEC, "multicast");
    add_bad("[::ffff:239.1.2.3]", AF_UNSPEC, "multicast");
    add_bad("::ffff:224.0.0.0/100", AF_UNSPEC, "multicast");
    add_bad("::ffff:255.255.255.255", AF_UNSPEC, "broadcast");
    add_bad("::ffff:224.0.0.1-::ffff:224.0.0.9", AF_UNSPEC, "multicast");
    add_bad("0x7f.1", AF_UNSPEC, "127.0.0.1");
    add_bad("127.1", AF_UNSPEC, "127.0.0.1");
    add_bad("010.0.0.1", AF_UNSPEC, "8.0.0.1");

    struct pk_targets *t = mk(AF_UNSPEC);
    struct pk_err err = {0};
    char buf[PK_ADDR_STRLEN];
    add_ok(t, "::ffff:192.0.2.1", false);
    add_ok(t, "192.0.2.2", false);
    add_ok(t, "::ffff:192.0.2.2", true); /* excludes the IPv4 host it is */
    assert_int_equal(pk_targets_finish(t, 65536, &err), 0);
    assert_int_equal(pk_targets_count(t), 1);
    host_str(t, 0, buf);
    assert_string_equal(buf, "192.0.2.1");
    pk_targets_free(t);

    /* A wide IPv6 block leaves out the mapped multicast hosts it holds. */
    t = mk(AF_UNSPEC);
    add_ok(t, "::ffff:0.0.0.0/95", false);
    add_ok(t, "::fffe:0:0/96", true);
    assert_int_equal(pk_targets_finish(t, UINT64_MAX, &err), 0);
    /* 2^32 mapped hosts minus 224.0.0.0/4 and 255.255.255.255 */
    assert_int_equal(pk_targets_count(t), (1ull << 32) - (1ull << 28) - 1);
    pk_targets_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms), cmocka_unit_test(test_merge_and_exclude),
        cmocka_unit_test(test_names), cmocka_unit_test(test_bad),
        cmocka_unit_test(test_limits), cmocka_unit_test(test_text),
        cmocka_unit_test(test_addr_helpers),
        cmocka_unit_test(test_mapped_and_aton),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
