#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "portkit/forward.h"

/* ---- LISTEN / TARGET ---- */

static struct pk_fw_addr addr_ok(const char *s, enum pk_proto proto, bool target)
{
    struct pk_fw_addr a;
    struct pk_err err = {0};
    if (pk_fw_addr_parse(s, strlen(s), proto, target, NULL, PK_FW_NUMERIC, &a, &err) < 0)
        fail_msg("'%s' should parse: %s", s, err.msg);
    return a;
}

static void addr_is(const char *s, bool target, const char *want)
{
    struct pk_fw_addr a = addr_ok(s, PK_TCP, target);
    char buf[PK_FW_ADDRSTRLEN];
    pk_fw_addr_format(&a, buf, sizeof buf);
    if (strcmp(buf, want) != 0)
        fail_msg("'%s' parsed as '%s', expected '%s'", s, buf, want);
}

static void addr_bad(const char *s, bool target, const char *must_mention)
{
    struct pk_fw_addr a;
    struct pk_err err = {0};
    assert_int_equal(pk_fw_addr_parse(s, strlen(s), PK_TCP, target, NULL, PK_FW_NUMERIC, &a, &err),
                     PK_EINVAL);
    if (!strstr(err.msg, must_mention))
        fail_msg("error for '%s' was '%s', expected it to mention '%s'", s, err.msg, must_mention);
}

static void listen_and_target_forms(void **state)
{
    (void)state;
    addr_is(":8080", false, "*:8080");
    addr_is("8080", false, "*:8080");
    addr_is("*:8080", false, "*:8080");
    addr_is("127.0.0.1:8080", false, "127.0.0.1:8080");
    addr_is("[::1]:53", false, "[::1]:53");
    addr_is("[::]:5353", false, "[::]:5353");
    addr_is("0.0.0.0:0", false, "0.0.0.0:0"); /* port 0: the kernel picks */
    addr_is("127.0.0.1:80", true, "127.0.0.1:80");
    addr_is(":80", true, "127.0.0.1:80"); /* a target without host: loopback */
    addr_is("[2001:db8::7]:443", true, "[2001:db8::7]:443");
    struct pk_fw_addr a = addr_ok(":8080", PK_TCP, false);
    assert_true(a.any);
    a = addr_ok("[::]:8080", PK_TCP, false);
    assert_false(a.any); /* an explicit address is taken as written */
}

static void service_names_from_the_registry(void **state)
{
    (void)state;
    addr_is(":http", false, "*:80");
    addr_is("127.0.0.1:https", true, "127.0.0.1:443");
    struct pk_fw_addr a = addr_ok("127.0.0.1:domain", PK_UDP, true);
    assert_int_equal(ntohs(((struct sockaddr_in *)&a.ss)->sin_port), 53);
    struct pk_err err = {0};
    assert_int_equal(pk_fw_addr_parse(":no-such-service", 16, PK_TCP, false, NULL, 0, &a, &err),
                     PK_EINVAL);
    assert_non_null(strstr(err.msg, "no-such-service"));
}

static void bad_addresses_say_why(void **state)
{
    (void)state;
    addr_bad("", false, "empty");
    addr_bad("127.0.0.1:70000", false, "out of range");
    addr_bad("127.0.0.1:", false, "missing port");
    addr_bad("::1:80", false, "brackets");
    addr_bad("[::1:80", false, "']'");
    addr_bad("[::1]80", false, "':PORT'");
    addr_bad("[]:80", false, "empty IPv6");
    addr_bad("[127.0.0.1]:80", false, "not an IPv6");
    addr_bad("127.0.0.1:0", true, "port 0");
    addr_bad("*:80", true, "needs an address");
    addr_bad("300.1.1.1:80", false, "not an IPv4 address");
    addr_bad("localhost:80", false, "not a numeric address"); /* PK_FW_NUMERIC */
    addr_bad("a b:80", false, "blank");
    addr_bad("127.0.0.1:8\n0", false, "control");
}

static void durations(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint64_t ms;
    } ok[] = {{"0", 0}, {"30", 30000}, {"1.5s", 1500}, {"250ms", 250}, {"2m", 120000},
              {"1h", 3600000}, {".5", 500}, {"0.0015s", 1}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t ms = 99;
        struct pk_err err = {0};
        if (pk_fw_duration_parse(ok[i].s, strlen(ok[i].s), &ms, &err) < 0)
            fail_msg("'%s': %s", ok[i].s, err.msg);
        assert_int_equal(ms, ok[i].ms);
    }
    static const char *const bad[] = {"", "s", "-1", "1x", "1.5.5", "10d", "99999999999999h",
                                      "31d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t ms;
        struct pk_err err = {0};
        assert_int_equal(pk_fw_duration_parse(bad[i], strlen(bad[i]), &ms, &err), PK_EINVAL);
    }
    uint64_t ms;
    struct pk_err err = {0};
    assert_int_equal(pk_fw_duration_parse("800h", 4, &ms, &err), PK_EINVAL);
    assert_non_null(strstr(err.msg, "30 days"));
}

/* ---- config files ---- */

static struct pk_fw_config *parse_ok(const char *text)
{
    struct pk_fw_config *cfg = pk_fw_config_new();
    struct pk_err err = {0};
    if (pk_fw_config_parse(cfg, text, strlen(text), "t.conf", NULL, NULL, PK_FW_NUMERIC, &err) < 0)
        fail_msg("config should parse:\n%s\nerror: %s", text, err.msg);
    return cfg;
}

static void parse_bad(const char *text, const char *must_mention)
{
    struct pk_fw_config *cfg = pk_fw_config_new();
    struct pk_err err = {0};
    assert_int_equal(
        pk_fw_config_parse(cfg, text, strlen(text), "t.conf", NULL, NULL, PK_FW_NUMERIC, &err),
        PK_EINVAL);
    if (!strstr(err.msg, must_mention))
        fail_msg("error for\n%s\nwas '%s', expected it to mention '%s'", text, err.msg,
                 must_mention);
    pk_fw_config_free(cfg);
}

static const char *fmt_listen(const struct pk_fw_rule *r, char *buf)
{
    pk_fw_addr_format(&r->listen, buf, PK_FW_ADDRSTRLEN);
    return buf;
}

static const char *fmt_target(const struct pk_fw_rule *r, char *buf)
{
    pk_fw_addr_format(&r->target, buf, PK_FW_ADDRSTRLEN);
    return buf;
}

static void both_rule_forms(void **state)
{
    (void)state;
    struct pk_fw_config *cfg = parse_ok(
        "# comment line\n"
        "\n"
        ":8080 127.0.0.1:80\n"
        "0.0.0.0 8443 127.0.0.1 443   # rinetd's four words\n"
        "127.0.0.1 5353/udp 127.0.0.1 53/udp\n"
        "[::1]:5300 127.0.0.1:53 udp\n"
        ":: 2222 ::1 22\n"
        "\t127.0.0.1:http\t127.0.0.1:8081\tTCP\r\n");
    assert_int_equal(pk_fw_config_count(cfg), 6);
    char l[PK_FW_ADDRSTRLEN], t[PK_FW_ADDRSTRLEN];
    const struct pk_fw_rule *r = pk_fw_config_rule(cfg, 0);
    assert_string_equal(fmt_listen(r, l), "*:8080");
    assert_string_equal(fmt_target(r, t), "127.0.0.1:80");
    assert_int_equal(r->proto, PK_TCP);
    assert_int_equal(r->line, 3);
    assert_int_equal(r->connect_timeout_ms, 10000); /* the built-in defaults */
    assert_int_equal(r->idle_timeout_ms, 600000); /* issue 8: idle TCP clients time out */
    r = pk_fw_config_rule(cfg, 1);
    assert_string_equal(fmt_listen(r, l), "0.0.0.0:8443");
    assert_false(r->listen.any);
    r = pk_fw_config_rule(cfg, 2);
    assert_int_equal(r->proto, PK_UDP);
    assert_int_equal(r->idle_timeout_ms, 60000); /* UDP sessions expire by default */
    assert_string_equal(fmt_listen(r, l), "127.0.0.1:5353");
    r = pk_fw_config_rule(cfg, 3);
    assert_int_equal(r->proto, PK_UDP);
    assert_string_equal(fmt_listen(r, l), "[::1]:5300");
    r = pk_fw_config_rule(cfg, 4);
    assert_string_equal(fmt_listen(r, l), "[::]:2222");
    assert_string_equal(fmt_target(r, t), "[::1]:22");
    r = pk_fw_config_rule(cfg, 5);
    assert_string_equal(fmt_listen(r, l), "127.0.0.1:80");
    assert_int_equal(r->line, 8);
    pk_fw_config_free(cfg);
}

static void options(void **state)
{
    (void)state;
    struct pk_fw_config *cfg = parse_ok(
        ":8080 127.0.0.1:80 tcp connect-timeout=2s idle-timeout=10m max-conns=500 copy=read\n"
        "127.0.0.1 5353 127.0.0.1 53 udp [timeout=30,max-conns=7]\n"
        ":8081 127.0.0.1:81 [connect-timeout=250ms, copy=splice]\n"
        ":8082 127.0.0.1:82 allow=127.0.0.0/8,::1 deny=127.0.0.9\n");
    const struct pk_fw_rule *r = pk_fw_config_rule(cfg, 0);
    assert_int_equal(r->connect_timeout_ms, 2000);
    assert_int_equal(r->idle_timeout_ms, 600000);
    assert_int_equal(r->max_conns, 500);
    assert_int_equal(r->copy, PK_FW_COPY_READ);
    r = pk_fw_config_rule(cfg, 1);
    assert_int_equal(r->idle_timeout_ms, 30000);
    assert_int_equal(r->max_conns, 7);
    r = pk_fw_config_rule(cfg, 2);
    assert_int_equal(r->connect_timeout_ms, 250);
    assert_int_equal(r->copy, PK_FW_COPY_SPLICE);
    r = pk_fw_config_rule(cfg, 3);
    assert_non_null(r->acl);
    assert_int_equal(pk_acl_count(r->acl, true), 2);
    assert_int_equal(pk_acl_count(r->acl, false), 1);
    pk_fw_config_free(cfg);
}

static void defaults_come_from_the_caller(void **state)
{
    (void)state;
    struct pk_fw_defaults d;
    pk_fw_defaults_init(&d);
    d.connect_timeout_ms = 1234;
    d.tcp_idle_ms = 5000;
    d.udp_idle_ms = 7000;
    d.max_conns = 9;
    const char *text = ":1 127.0.0.1:2\n:3 127.0.0.1:4 udp idle-timeout=1s\n";
    struct pk_fw_config *cfg = pk_fw_config_new();
    struct pk_err err = {0};
    assert_int_equal(pk_fw_config_parse(cfg, text, strlen(text), NULL, NULL, &d, 0, &err), 0);
    const struct pk_fw_rule *r = pk_fw_config_rule(cfg, 0);
    assert_int_equal(r->connect_timeout_ms, 1234);
    assert_int_equal(r->idle_timeout_ms, 5000);
    assert_int_equal(r->max_conns, 9);
    r = pk_fw_config_rule(cfg, 1);
    assert_int_equal(r->idle_timeout_ms, 1000); /* the rule's own wins */
    assert_int_equal(r->max_conns, 9);
    pk_fw_config_free(cfg);
}

static void allow_deny_scope(void **state)
{
    (void)state;
    struct pk_fw_config *cfg = parse_ok(
        "allow 127.0.0.0/8 ::1\n"
        "deny 127.0.0.66\n"
        ":8080 127.0.0.1:80\n"
        "allow 127.0.0.5/32   # this rule only\n"
        "deny 127.0.0.6,127.0.0.7\n"
        ":8081 127.0.0.1:81\n");
    const struct pk_acl *g = pk_fw_config_acl_const(cfg);
    assert_int_equal(pk_acl_count(g, true), 2);
    assert_int_equal(pk_acl_count(g, false), 1);
    const struct pk_fw_rule *r = pk_fw_config_rule(cfg, 0);
    assert_non_null(r->acl);
    assert_int_equal(pk_acl_count(r->acl, true), 1);
    assert_int_equal(pk_acl_count(r->acl, false), 2);
    assert_null(pk_fw_config_rule(cfg, 1)->acl);
    pk_fw_config_free(cfg);
}

static void errors_name_file_and_line(void **state)
{
    (void)state;
    parse_bad(":8080 127.0.0.1:80\n:8081 127.0.0.1:99999\n", "t.conf:2:");
    parse_bad(":8080 127.0.0.1:99999\n", "out of range");
    parse_bad("\n\n:8080\n", "t.conf:3: expected a rule");
    parse_bad(":8080 127.0.0.1:80 sctp\n", "unexpected 'sctp'");
    parse_bad(":8080 127.0.0.1:80 speed=9\n", "unknown option 'speed'");
    parse_bad(":8080 127.0.0.1:80 idle-timeout=soon\n", "bad duration");
    parse_bad(":8080 127.0.0.1:80 max-conns=-1\n", "max-conns");
    parse_bad(":8080 127.0.0.1:80 copy=fast\n", "copy");
    parse_bad(":8080 127.0.0.1:80 connect-timeout=0\n", "more than 0");
    parse_bad(":8080 127.0.0.1:80 [timeout=3\n", "missing ']'");
    parse_bad(":8080 127.0.0.1:80 timeout=3]\n", "without '['");
    parse_bad(":8080 127.0.0.1:80 [[timeout=3]]\n", "'[timeout'");
    parse_bad(":8080 127.0.0.1:80 [timeout=3 [max-conns=3]\n", "inside");
    parse_bad("127.0.0.1 53/udp 127.0.0.1 53/tcp\n", "both tcp and udp");
    parse_bad("127.0.0.1 53/udp 127.0.0.1 53 tcp\n", "both tcp and udp");
    parse_bad("127.0.0.1 53/sctp 127.0.0.1 53\n", "/tcp or /udp");
    parse_bad("allow\n", "allow: expected");
    parse_bad("deny 10.0.0.0/33\n", "t.conf:1:");
    parse_bad(":8080 127.0.0.1:80\n*:8080 127.0.0.1:81\n", "already forwarded (line 1)");
    parse_bad(":8080 ::1 80\n", "expected a rule");
    char nul[] = ":8080 127.0.0.1:80\n:1\0 x\n";
    struct pk_fw_config *cfg = pk_fw_config_new();
    struct pk_err err = {0};
    assert_int_equal(pk_fw_config_parse(cfg, nul, sizeof nul - 1, "t.conf", NULL, NULL,
                                        PK_FW_NUMERIC, &err),
                     PK_EINVAL);
    assert_non_null(strstr(err.msg, "t.conf:2: NUL"));
    pk_fw_config_free(cfg);
    /* the same listener for tcp and for udp is two rules, not a clash */
    cfg = parse_ok(":53 127.0.0.1:5353\n:53 127.0.0.1:5353 udp\n");
    assert_int_equal(pk_fw_config_count(cfg), 2);
    pk_fw_config_free(cfg);
}

static void load_files(void **state)
{
    (void)state;
    char path[] = "/tmp/pk-fwconf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "allow 127.0.0.1\n:9000 127.0.0.1:9001 udp\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct pk_fw_config *cfg = pk_fw_config_new();
    struct pk_err err = {0};
    assert_int_equal(pk_fw_config_load(cfg, path, NULL, NULL, &err), 0);
    assert_int_equal(pk_fw_config_count(cfg), 1);
    pk_fw_config_free(cfg);
    unlink(path);
    cfg = pk_fw_config_new();
    assert_int_equal(pk_fw_config_load(cfg, path, NULL, NULL, &err), PK_ESYS);
    assert_non_null(strstr(err.msg, path));
    pk_fw_config_free(cfg);

    /* the example shipped in doc/ parses */
    cfg = pk_fw_config_new();
    if (pk_fw_config_load(cfg, PK_SOURCE_DIR "/doc/forward.conf.example", NULL, NULL, &err) < 0)
        fail_msg("doc/forward.conf.example: %s", err.msg);
    assert_true(pk_fw_config_count(cfg) >= 3);
    pk_fw_config_free(cfg);
}

static void add_rule_copies(void **state)
{
    (void)state;
    struct pk_fw_config *cfg = pk_fw_config_new();
    struct pk_fw_rule r = {.proto = PK_TCP, .connect_timeout_ms = 1000};
    r.listen = addr_ok("127.0.0.1:7000", PK_TCP, false);
    r.target = addr_ok("127.0.0.1:7001", PK_TCP, true);
    r.acl = pk_acl_new();
    struct pk_err err = {0};
    assert_int_equal(pk_acl_add(r.acl, true, "127.0.0.1", 9, &err), 0);
    assert_int_equal(pk_fw_config_add_rule(cfg, &r, &err), 0);
    pk_acl_free(r.acl); /* the config holds its own copy */
    assert_int_equal(pk_acl_count(pk_fw_config_rule(cfg, 0)->acl, true), 1);
    r.acl = NULL;
    assert_int_equal(pk_fw_config_add_rule(cfg, &r, &err), PK_EINVAL);
    assert_non_null(strstr(err.msg, "already forwarded"));
    pk_fw_config_free(cfg);
}


/* `forward -n` prints what parses back to itself, rinetd's lines included. */
static void format_round_trip(void **state)
{
    (void)state;
    const char *text =
        "logfile \"/var/log/my rinetd.log\"\n"
        "logcommon\n"
        "pidlogfile /run/rinetd.pid\n"
        "allow 192.168.2.* ::ffff:10.0.0.0/104\n"
        "deny 10.?.*\n"
        "0.0.0.0 80 127.0.0.1 8080 [src=127.0.0.1,timeout=90]\n"
        "deny 127.0.0.66\n"
        "[::1]:5300 127.0.0.1:53 udp copy=read max-conns=7\n";
    struct pk_fw_config *cfg = parse_ok(text);
    assert_string_equal(pk_fw_config_logfile(cfg), "/var/log/my rinetd.log");
    assert_true(pk_fw_config_logcommon(cfg));
    assert_string_equal(pk_fw_config_pidfile(cfg), "/run/rinetd.pid");
    struct pk_buf first = PK_BUF_INIT, second = PK_BUF_INIT;
    assert_int_equal(pk_fw_config_format(cfg, &first), 0);
    assert_non_null(strstr(first.data, "logfile \"/var/log/my rinetd.log\"\nlogcommon\n"
                                       "pidlogfile /run/rinetd.pid\n"
                                       "allow 192.168.2.*\nallow 10.0.0.0/8\ndeny 10.?.*\n"));
    assert_non_null(strstr(first.data, "idle-timeout=90s max-conns=0 copy=auto src=127.0.0.1\n"
                                       "deny 127.0.0.66/32\n"));
    assert_non_null(strstr(first.data, "udp connect-timeout=10s idle-timeout=60s max-conns=7 "
                                       "copy=read\n"));
    struct pk_fw_config *again = parse_ok(first.data);
    assert_int_equal(pk_fw_config_format(again, &second), 0);
    assert_string_equal(first.data, second.data);
    pk_buf_free(&first);
    pk_buf_free(&second);
    pk_fw_config_free(again);
    pk_fw_config_free(cfg);
}

static void copy_names(void **state)
{
    (void)state;
    enum pk_fw_copy c;
    for (int i = 0; i < PK_FW_COPY_COUNT; i++) {
        const char *name = pk_fw_copy_name((enum pk_fw_copy)i);
        assert_int_equal(pk_fw_copy_parse(name, strlen(name), &c), 0);
        assert_int_equal(c, i);
    }
    assert_int_equal(pk_fw_copy_parse("SPLICE", 6, &c), 0);
    assert_int_equal(c, PK_FW_COPY_SPLICE);
    assert_int_equal(pk_fw_copy_parse("fast", 4, &c), PK_EINVAL);
    assert_string_equal(pk_fw_copy_name(PK_FW_COPY_COUNT), "?");
}

static void include_lines(void **state)
{
    (void)state;
    char dir[] = "/tmp/pk-fwinc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], main_path[128];
    snprintf(path, sizeof path, "%s/a.conf", dir);
    FILE *f = fopen(path, "w");
    fputs(":18001 127.0.0.1:80\ndeny 127.0.0.9\n", f);
    fclose(f);
    snprintf(main_path, sizeof main_path, "%s/main.conf", dir);
    f = fopen(main_path, "w");
    fputs("include *.conf.none\ninclude a.conf\n:18002 127.0.0.1:81\n", f);
    fclose(f);
    struct pk_fw_config *cfg = pk_fw_config_new();
    struct pk_err err = {0};
    assert_int_equal(pk_fw_config_load(cfg, main_path, NULL, NULL, &err), 0);
    assert_int_equal(pk_fw_config_count(cfg), 2);
    /* the included file's deny belongs to its rule */
    assert_int_equal(pk_acl_count(pk_fw_config_rule(cfg, 0)->acl, false), 1);
    assert_int_equal(pk_fw_config_rule(cfg, 0)->line, 1);
    pk_fw_config_free(cfg);
    parse_bad("include a.conf\n", "include");
    cfg = pk_fw_config_new();
    const char *t = "include /etc/hostname\n";
    assert_int_equal(pk_fw_config_parse(cfg, t, strlen(t), "t.conf", NULL, NULL,
                                        PK_FW_NUMERIC | PK_FW_NO_INCLUDE, &err), PK_EINVAL);
    assert_non_null(strstr(err.msg, "not allowed"));
    pk_fw_config_free(cfg);
    unlink(path);
    unlink(main_path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(listen_and_target_forms),
        cmocka_unit_test(service_names_from_the_registry),
        cmocka_unit_test(bad_addresses_say_why),
        cmocka_unit_test(durations),
        cmocka_unit_test(both_rule_forms),
        cmocka_unit_test(options),
        cmocka_unit_test(defaults_come_from_the_caller),
        cmocka_unit_test(allow_deny_scope),
        cmocka_unit_test(errors_name_file_and_line),
        cmocka_unit_test(load_files),
        cmocka_unit_test(add_rule_copies),
        cmocka_unit_test(format_round_trip),
        cmocka_unit_test(copy_names),
        cmocka_unit_test(include_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
