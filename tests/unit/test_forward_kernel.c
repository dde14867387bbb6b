/* forward --kernel without the kernel: the nft script written for a
 * configuration, which rules the kernel can take, and the `kernel` option.
 * (Loading the script is tests/net/test_forward_kernel.py's job.) The
 * addresses here are documentation blocks; no packet is sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "portkit/forward.h"

static struct pk_fw_config *parse(const char *text)
{
    struct pk_fw_config *cfg = pk_fw_config_new();
    struct pk_err err = {0};
    if (pk_fw_config_parse(cfg, text, strlen(text), "t.conf", NULL, NULL, PK_FW_NUMERIC, &err) < 0)
        fail_msg("config should parse: %s", err.msg);
    return cfg;
}

static char *script(const char *text)
{
    struct pk_fw_config *cfg = parse(text);
    struct pk_buf out = PK_BUF_INIT;
    struct pk_err err = {0};
    if (pk_fw_kernel_ruleset(cfg, "portkit_fwd_42", 7, "c", &out, &err) < 0)
        fail_msg("ruleset: %s", err.msg);
    pk_fw_config_free(cfg);
    return out.data;
}

static void has(const char *s, const char *want)
{
    if (!strstr(s, want))
        fail_msg("expected '%s' in:\n%s", want, s);
}

static void lacks(const char *s, const char *unwanted)
{
    if (strstr(s, unwanted))
        fail_msg("did not expect '%s' in:\n%s", unwanted, s);
}

static void loopback_target_is_a_redirect(void **state)
{
    (void)state;
    char *s = script(":8080 127.0.0.1:80 kernel\n");
    /* Replacing is one transaction: declare, delete, define. */
    has(s, "table inet portkit_fwd_42\ndelete table inet portkit_fwd_42\ntable inet portkit_fwd_42 {");
    has(s, "meta l4proto tcp meta nfproto ipv4 fib daddr type local th dport 8080 "
           "ct mark set 0x00070001 ct timeout set \"r1\" redirect to :80");
    has(s, "type nat hook prerouting priority dstnat");
    has(s, "type nat hook output priority -100");
    has(s, "policy = { established : 600, time_wait : 1, close : 1 }");
    lacks(s, "masquerade");
    lacks(s, "admit_"); /* no allow/deny, no limit: no filter chains */
    free(s);
}

static void remote_target_is_dnat_and_masquerade(void **state)
{
    (void)state;
    char *s = script("10.1.2.3:8080 192.0.2.10:80 kernel max-conns=3\n"
                     "0.0.0.0:8081 192.0.2.10:81 kernel\n");
    has(s, "ip daddr 10.1.2.3 th dport 8080 ct mark set 0x00070001 ct timeout set \"r1\" "
           "dnat ip to 192.0.2.10:80");
    has(s, "ct mark 0x00070001 masquerade");
    has(s, "ct mark 0x00070002 masquerade");
    has(s, "ct count over 3 counter name \"limited\" drop");
    has(s, "ct state new jump admit_r1");
    /* From this host, loopback sources cannot go to another host. */
    has(s, "fib daddr type local ip daddr != 127.0.0.0/8 th dport 8081");
    free(s);
    s = script("10.1.2.3:8080 192.0.2.10:80 kernel src=10.1.2.3\n");
    has(s, "ct mark 0x00070001 snat ip to 10.1.2.3");
    lacks(s, "masquerade");
    free(s);
}

static void ipv6_and_udp(void **state)
{
    (void)state;
    char *s = script("[2001:db8::1]:53 [2001:db8::2]:5353 udp kernel idle-timeout=1500ms\n");
    has(s, "meta l4proto udp ip6 daddr 2001:db8::1 th dport 53");
    has(s, "dnat ip6 to [2001:db8::2]:5353");
    has(s, "protocol udp\n\t\tl3proto ip6\n\t\tpolicy = { unreplied : 2, replied : 2 }");
    free(s);
}

static void allow_deny_become_sets_with_mapped_addresses_as_ipv4(void **state)
{
    (void)state;
    char *s = script("allow ::ffff:10.0.0.0/104 10.1.0.0/16\n"
                     "deny 192.0.2.0/24\n"
                     ":8080 127.0.0.1:80 kernel\n"
                     "deny 2001:db8::/32\n"
                     ":8081 127.0.0.1:81 kernel deny=::/0\n");
    /* ::/0 covers ::ffff:0:0/96: every IPv4 client too, as in the relay. */
    has(s, "set r2_deny4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\tauto-merge\n"
           "\t\telements = { 0.0.0.0/0 }");
    has(s, "set r2_deny6 {\n\t\ttype ipv6_addr\n\t\tflags interval\n\t\tauto-merge\n"
           "\t\telements = { ::/0 }");
    has(s, "set global_allow4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\tauto-merge\n"
           "\t\telements = { 10.0.0.0/8, 10.1.0.0/16 }");
    /* Allow entries exist, none IPv6: every IPv6 client is turned away. */
    has(s, "set global_allow6 {\n\t\ttype ipv6_addr\n\t\tflags interval\n\t\tauto-merge\n\t}");
    has(s, "ip saddr != @global_allow4 counter name \"denied\" drop");
    has(s, "ip6 saddr != @global_allow6 counter name \"denied\" drop");
    has(s, "ip saddr @global_deny4 counter name \"denied\" drop");
    has(s, "counter denied {\n\t}\n\tcounter limited {\n\t}");
    has(s, "elements = { 192.0.2.0/24 }");
    has(s, "ip6 saddr @r1_deny6 counter name \"denied\" drop");
    has(s, "chain admit_r1 {\n\t\tjump admit_global\n");
    has(s, "type filter hook prerouting priority -110");
    free(s);
}

static void relay_rules_are_left_out(void **state)
{
    (void)state;
    char *s = script(":8080 127.0.0.1:80\n:8081 127.0.0.1:81 [kernel]\n:8082 127.0.0.1:82 kernel=no\n");
    lacks(s, "dport 8080");
    has(s, "dport 8081 ct mark set 0x00070002");
    lacks(s, "dport 8082");
    free(s);
}

static void rule_of(const char *text, struct pk_fw_config **cfg, const struct pk_fw_rule **r)
{
    *cfg = parse(text);
    *r = pk_fw_config_rule(*cfg, 0);
}

static void what_the_kernel_cannot_express(void **state)
{
    (void)state;
    struct pk_fw_defaults d;
    pk_fw_defaults_init(&d);
    static const struct {
        const char *rule, *why; /* NULL: fits */
    } cases[] = {
        {":8080 127.0.0.1:80 kernel", NULL},
        {":8080 127.0.0.1:80 udp kernel idle-timeout=5s", NULL},
        {":8080 127.0.0.1:80 kernel idle-timeout=5m", NULL},
        {":8080 127.0.0.1:80 kernel idle-timeout=0", NULL},
        {":8080 127.0.0.1:80 kernel connect-timeout=2s", "connect-timeout"},
        {"10.0.0.1:8080 [2001:db8::1]:80 kernel", "IPv4 and IPv6"},
        {"127.0.0.1:8080 192.0.2.1:80 kernel", "loopback"},
        {"127.0.0.1:0 127.0.0.1:80 kernel", "port of 0"},
        {":8080 127.0.0.1:80 kernel src=127.0.0.1", "src="},
        {":8080 127.0.0.1:80 kernel allow=10.1.*", "glob"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pk_fw_config *cfg;
        const struct pk_fw_rule *r;
        rule_of(cases[i].rule, &cfg, &r);
        const char *why = pk_fw_kernel_unfit(r, &d);
        if (!cases[i].why && why)
            fail_msg("'%s' should fit the kernel, got '%s'", cases[i].rule, why);
        if (cases[i].why && (!why || !strstr(why, cases[i].why)))
            fail_msg("'%s': expected a reason with '%s', got '%s'", cases[i].rule, cases[i].why,
                     why ? why : "(fits)");
        /* The script refuses what does not fit rather than write half of it. */
        struct pk_buf out = PK_BUF_INIT;
        struct pk_err err = {0};
        int rc = pk_fw_kernel_ruleset(cfg, "t", 1, "", &out, &err);
        if (cases[i].why && !strstr(cases[i].why, "connect-timeout"))
            assert_int_equal(rc, PK_EINVAL);
        pk_buf_free(&out);
        pk_fw_config_free(cfg);
    }
}

struct log_capture {
    int warns;
    char last[512];
};

static void capture(void *arg, const struct pk_fw_event *ev)
{
    struct log_capture *c = arg;
    if (ev->kind == PK_FW_EV_WARN) {
        c->warns++;
        snprintf(c->last, sizeof c->last, "%s", ev->reason);
    }
}

static void partition_says_which_rule_goes_to_the_relay(void **state)
{
    (void)state;
    struct pk_fw_config *cfg = parse("allow 10.0.0.0/8\n"
                                     "10.1.1.1:80 127.0.0.1:8080 kernel\n"
                                     "10.1.1.1:81 127.0.0.1:8081 kernel connect-timeout=1s\n"
                                     "10.1.1.1:82 127.0.0.1:8082\n");
    struct pk_fw_defaults d;
    pk_fw_defaults_init(&d);
    struct pk_fw_config *k = NULL, *r = NULL;
    struct log_capture cap = {0};
    assert_int_equal(pk_fw_kernel_partition(cfg, &d, &k, &r, capture, &cap, NULL), 0);
    assert_int_equal(pk_fw_config_count(k), 1);
    assert_int_equal(pk_fw_config_count(r), 2);
    assert_false(pk_fw_config_rule(r, 0)->kernel);
    assert_int_equal(pk_fw_config_rule(r, 0)->line, 3);
    assert_int_equal(pk_acl_count(pk_fw_config_acl_const(k), true), 1);
    assert_int_equal(pk_acl_count(pk_fw_config_acl_const(r), true), 1);
    assert_int_equal(cap.warns, 1);
    has(cap.last, "tcp 10.1.1.1:81: forwarded by the relay");
    pk_fw_config_free(k);
    pk_fw_config_free(r);
    pk_fw_config_free(cfg);
}

static void a_global_glob_keeps_every_rule_in_the_relay(void **state)
{
    (void)state;
    struct pk_fw_config *cfg = parse("allow 10.1.*\n:80 127.0.0.1:8080 kernel\n");
    struct pk_fw_config *k = NULL, *r = NULL;
    struct log_capture cap = {0};
    assert_int_equal(pk_fw_kernel_partition(cfg, NULL, &k, &r, capture, &cap, NULL), 0);
    assert_int_equal(pk_fw_config_count(k), 0);
    assert_int_equal(pk_fw_config_count(r), 1);
    has(cap.last, "glob");
    /* and the writer refuses rather than drop the list */
    struct pk_buf out = PK_BUF_INIT;
    struct pk_err err = {0};
    assert_int_equal(pk_fw_kernel_ruleset(cfg, "t", 1, "", &out, &err), PK_EINVAL);
    has(err.msg, "glob");
    assert_int_equal(out.len, 0);
    pk_buf_free(&out);
    pk_fw_config_free(k);
    pk_fw_config_free(r);
    pk_fw_config_free(cfg);
}

static void kernel_option_errors_and_table_names(void **state)
{
    (void)state;
    struct pk_fw_config *cfg = pk_fw_config_new();
    struct pk_err err = {0};
    const char *bad = ":8080 127.0.0.1:80 kernel=maybe\n";
    assert_int_equal(pk_fw_config_parse(cfg, bad, strlen(bad), "t.conf", NULL, NULL, PK_FW_NUMERIC,
                                        &err),
                     PK_EINVAL);
    has(err.msg, "t.conf:1: kernel: expected yes or no");
    struct pk_buf out = PK_BUF_INIT;
    assert_int_equal(pk_fw_kernel_ruleset(cfg, "bad name; flush ruleset", 1, "", &out, &err),
                     PK_EINVAL);
    char name[64];
    pk_fw_kernel_table_name(1234, name, sizeof name);
    assert_string_equal(name, "portkit_fwd_1234");
    pk_buf_free(&out);
    pk_fw_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loopback_target_is_a_redirect),
        cmocka_unit_test(remote_target_is_dnat_and_masquerade),
        cmocka_unit_test(ipv6_and_udp),
        cmocka_unit_test(allow_deny_become_sets_with_mapped_addresses_as_ipv4),
        cmocka_unit_test(relay_rules_are_left_out),
        cmocka_unit_test(what_the_kernel_cannot_express),
        cmocka_unit_test(partition_says_which_rule_goes_to_the_relay),
        cmocka_unit_test(a_global_glob_keeps_every_rule_in_the_relay),
        cmocka_unit_test(kernel_option_errors_and_table_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
