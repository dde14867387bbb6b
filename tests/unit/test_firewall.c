/* The firewall evaluator on real rulesets (saved from the namespaces of
 * tests/net/test_audit.py: fuzz/corpus/firewall/) and on small inline
 * ones. The network test proves verdicts against real packets; these pin
 * the semantics one rule at a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "portkit/firewall.h"

/* The test bed's addresses (slot 2, index 60) baked into the saved rulesets. */
#define IF_A "pk2auda"
#define IF_B "pk2audb"
#define HOST_A4 "10.243.60.2"
#define HOST_B4 "10.243.61.2"
#define OUT_A4 "10.243.60.1"
#define OUT_B4 "10.243.61.1"
#define HOST_A6 "fd00:f3:3c::2"
#define OUT_A6 "fd00:f3:3c::1"

static char *slurp(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/fuzz/corpus/firewall/%s", PK_SOURCE_DIR, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void add_ifaces(struct pk_firewall *fw)
{
    unsigned char a[16];
    inet_pton(AF_INET, HOST_A4, a);
    pk_firewall_add_iface(fw, IF_A, false, AF_INET, a);
    inet_pton(AF_INET6, HOST_A6, a);
    pk_firewall_add_iface(fw, IF_A, false, AF_INET6, a);
    inet_pton(AF_INET, HOST_B4, a);
    pk_firewall_add_iface(fw, IF_B, false, AF_INET, a);
    inet_pton(AF_INET, "10.202.60.2", a); /* the "container" address */
    pk_firewall_add_iface(fw, "dockerc", false, AF_INET, a);
    inet_pton(AF_INET, "127.0.0.1", a);
    pk_firewall_add_iface(fw, "lo", true, AF_INET, a);
}

/* name.both: JSON, "\n#TEXT\n", text; name.json: JSON alone */
static struct pk_firewall *load(const char *name)
{
    size_t len;
    char *buf = slurp(name, &len);
    const char *sep = strstr(buf, "\n#TEXT\n");
    struct pk_firewall_options opt = {.ruleset_json = buf, .ruleset_json_len = sep ? (size_t)(sep - buf) : len,
                                      .ruleset_text = sep ? sep + 7 : NULL,
                                      .ruleset_text_len = sep ? len - (size_t)(sep + 7 - buf) : 0,
                                      .no_host = true};
    struct pk_firewall *fw = NULL;
    struct pk_err err = {0};
    if (pk_firewall_open(&opt, &fw, &err) < 0)
        fail_msg("%s: %s", name, err.msg);
    free(buf);
    add_ifaces(fw);
    return fw;
}

static struct pk_firewall *load_inline(const char *json)
{
    struct pk_firewall_options opt = {.ruleset_json = json, .ruleset_json_len = strlen(json), .no_host = true};
    struct pk_firewall *fw = NULL;
    struct pk_err err = {0};
    if (pk_firewall_open(&opt, &fw, &err) < 0)
        fail_msg("inline: %s", err.msg);
    add_ifaces(fw);
    return fw;
}

/* Evaluates proto/port from src (NULL = any) arriving on iface to daddr. */
static enum pk_firewall_verdict judge(const struct pk_firewall *fw, enum pk_proto proto, const char *iface,
                                      const char *src, const char *daddr, unsigned port, char *rule)
{
    struct pk_firewall_packet p = {.proto = proto, .iifname = iface, .any_source = src == NULL,
                                   .dport = (uint16_t)port};
    p.family = strchr(daddr, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(p.family, daddr, p.daddr), 1);
    if (src) {
        assert_int_equal(inet_pton(p.family, src, p.saddr), 1);
        p.saddr_prefix = p.family == AF_INET ? 32 : 128;
    }
    struct pk_firewall_result r;
    pk_firewall_eval(fw, &p, &r);
    if (rule)
        snprintf(rule, PK_FIREWALL_RULE_MAX, "%s", r.rule);
    return r.verdict;
}

static void test_sets_jumps_vmaps(void **state)
{
    (void)state;
    struct pk_firewall *fw = load("handwritten.both");
    char rule[PK_FIREWALL_RULE_MAX];
    /* jump to admin: the interval set of admin sources decides */
    assert_int_equal(judge(fw, PK_TCP, IF_A, OUT_A4, HOST_A4, 22, rule), PK_FIREWALL_REACHABLE);
    assert_non_null(strstr(rule, "pkfilter/admin"));
    assert_non_null(strstr(rule, "@admins4"));
    assert_int_equal(judge(fw, PK_TCP, IF_A, NULL, HOST_A4, 22, rule), PK_FIREWALL_BLOCKED);
    assert_non_null(strstr(rule, "counter drop"));
    /* a concatenation of source and port */
    assert_int_equal(judge(fw, PK_TCP, IF_B, OUT_B4, HOST_B4, 7000, NULL), PK_FIREWALL_REACHABLE);
    assert_int_equal(judge(fw, PK_TCP, IF_A, OUT_A4, HOST_A4, 7000, rule), PK_FIREWALL_BLOCKED);
    assert_non_null(strstr(rule, "reject"));
    /* a verdict map */
    assert_int_equal(judge(fw, PK_UDP, IF_A, NULL, HOST_A4, 10053, NULL), PK_FIREWALL_REACHABLE);
    assert_int_equal(judge(fw, PK_UDP, IF_A, NULL, HOST_A4, 10054, rule), PK_FIREWALL_BLOCKED);
    assert_non_null(strstr(rule, "vmap @udpv"));
    /* goto: the services chain drops what arrives on B */
    assert_int_equal(judge(fw, PK_TCP, IF_A, NULL, HOST_A4, 9000, NULL), PK_FIREWALL_REACHABLE);
    assert_int_equal(judge(fw, PK_TCP, IF_B, NULL, HOST_B4, 9000, rule), PK_FIREWALL_BLOCKED);
    assert_non_null(strstr(rule, "services"));
    /* accepted in one table, dropped by a later base chain of another: an
     * accept ends only its own base chain */
    assert_int_equal(judge(fw, PK_TCP, IF_A, NULL, HOST_A4, 8443, rule), PK_FIREWALL_BLOCKED);
    assert_non_null(strstr(rule, "ip pkextra/in4"));
    assert_int_equal(judge(fw, PK_TCP, IF_A, NULL, HOST_A6, 8443, NULL), PK_FIREWALL_REACHABLE);
    /* policy */
    assert_int_equal(judge(fw, PK_TCP, IF_A, NULL, HOST_A4, 5000, rule), PK_FIREWALL_BLOCKED);
    pk_firewall_free(fw);
}

static void test_ufw_rules(void **state)
{
    (void)state;
    struct pk_firewall *fw = load("ufw.both");
    char rule[PK_FIREWALL_RULE_MAX];
    assert_true(pk_firewall_rule_count(fw) > 100);
    assert_int_equal(judge(fw, PK_TCP, IF_A, NULL, HOST_A4, 22, rule), PK_FIREWALL_REACHABLE);
    assert_non_null(strstr(rule, "ufw-user-input"));
    assert_int_equal(judge(fw, PK_TCP, IF_A, NULL, HOST_A4, 8080, rule), PK_FIREWALL_BLOCKED);
    assert_non_null(strstr(rule, "dport 8080"));
    assert_int_equal(judge(fw, PK_TCP, IF_A, OUT_A4, HOST_A4, 9000, NULL), PK_FIREWALL_REACHABLE);
    assert_int_equal(judge(fw, PK_TCP, IF_B, OUT_B4, HOST_B4, 9000, rule), PK_FIREWALL_BLOCKED);
    assert_int_equal(judge(fw, PK_TCP, IF_A, OUT_A6, HOST_A6, 22, NULL), PK_FIREWALL_REACHABLE);
    pk_firewall_free(fw);
}

/* Without nft's text, iptables-nft's xt matches (conntrack, addrtype)
 * cannot be read: the verdicts that depend on them are unknown, naming the
 * first such rule, never a guess. */
static void test_xt_without_text(void **state)
{
    (void)state;
    struct pk_firewall *fw = load("ufw.json");
    char rule[PK_FIREWALL_RULE_MAX];
    assert_int_equal(judge(fw, PK_TCP, IF_A, NULL, HOST_A4, 22, rule), PK_FIREWALL_UNKNOWN);
    assert_non_null(strstr(rule, "ip filter/ufw-before-input handle"));
    assert_non_null(strstr(rule, "iptables match"));
    assert_int_equal(judge(fw, PK_TCP, IF_A, NULL, HOST_A4, 8080, rule), PK_FIREWALL_UNKNOWN);
    pk_firewall_free(fw);
}

static void test_docker_virtual_listeners(void **state)
{
    (void)state;
    struct pk_firewall *fw = load("docker.both");
    struct pk_socklist *l = pk_socklist_new();
    struct pk_sock s;
    memset(&s, 0, sizeof s);
    s.proto = PK_TCP;
    s.family = AF_INET;
    s.state = PK_SS_LISTEN;
    s.pid = -1;
    s.local_port = 80;
    inet_pton(AF_INET, "10.202.60.2", s.local);
    pk_socklist_add(l, &s);
    s.local_port = 6379;
    inet_pton(AF_INET, "127.0.0.1", s.local);
    pk_socklist_add(l, &s);
    struct pk_firewall_source src = {.iface = IF_A};
    struct pk_firewall_finding *f;
    size_t n;
    struct pk_err err;
    assert_int_equal(pk_firewall_audit(fw, l, &src, &f, &n, &err), 0);
    bool via8888 = false, via16379 = false;
    for (size_t i = 0; i < n; i++) {
        if (!f[i].via || f[i].family != AF_INET)
            continue;
        if (f[i].sock_index == 0 && f[i].via_port == 8888) {
            via8888 = true;
            assert_int_equal(f[i].verdict, PK_FIREWALL_REACHABLE);
        }
        if (f[i].sock_index == 1 && f[i].via_port == 16379) {
            via16379 = true;
            /* no route_localnet on this (declared) host: a martian */
            assert_int_equal(f[i].verdict, PK_FIREWALL_BLOCKED);
            assert_non_null(strstr(f[i].rule, "route_localnet"));
        }
    }
    assert_true(via8888);
    assert_true(via16379);
    free(f);
    pk_socklist_free(l);
    pk_firewall_free(fw);
}

#define RULESET_HEAD                                                                              \
    "{\"nftables\": [{\"table\": {\"family\": \"inet\", \"name\": \"t\", \"handle\": 1}},"        \
    "{\"chain\": {\"family\": \"inet\", \"table\": \"t\", \"name\": \"in\", \"handle\": 1, "      \
    "\"type\": \"filter\", \"hook\": \"input\", \"prio\": 0, \"policy\": \"drop\"}}"
#define DPORT(p) "{\"match\": {\"op\": \"==\", \"left\": {\"payload\": {\"protocol\": \"tcp\", \"field\": \"dport\"}}, \"right\": " #p "}}"
#define RULE(h, exprs) ",{\"rule\": {\"family\": \"inet\", \"table\": \"t\", \"chain\": \"in\", \"handle\": " #h ", \"expr\": [" exprs "]}}"
#define LIMIT "{\"limit\": {\"rate\": 10, \"burst\": 5, \"per\": \"second\"}}"

/* A rate limit decides nothing a packet description can know: unknown,
 * unless both ways end alike; with no verdict of its own it changes nothing. */
static void test_undecided_matches(void **state)
{
    (void)state;
    static const char json[] = RULESET_HEAD
        RULE(2, DPORT(1000) "," LIMIT ", {\"accept\": null}")
        RULE(3, DPORT(1001) "," LIMIT ", {\"accept\": null}")
        RULE(4, DPORT(1001) ", {\"accept\": null}")
        RULE(5, LIMIT ", {\"counter\": null}")
        RULE(6, DPORT(1002) ", {\"accept\": null}") "]}";
    struct pk_firewall *fw = load_inline(json);
    char rule[PK_FIREWALL_RULE_MAX];
    assert_int_equal(judge(fw, PK_TCP, IF_A, NULL, HOST_A4, 1000, rule), PK_FIREWALL_UNKNOWN);
    assert_non_null(strstr(rule, "handle 2"));
    assert_non_null(strstr(rule, "rate limit"));
    assert_int_equal(judge(fw, PK_TCP, IF_A, NULL, HOST_A4, 1001, NULL), PK_FIREWALL_REACHABLE);
    assert_int_equal(judge(fw, PK_TCP, IF_A, NULL, HOST_A4, 1002, NULL), PK_FIREWALL_REACHABLE);
    assert_int_equal(judge(fw, PK_TCP, IF_A, NULL, HOST_A4, 1003, rule), PK_FIREWALL_BLOCKED);
    assert_string_equal(rule, "inet t/in policy drop");
    pk_firewall_free(fw);
}

static void test_redirect_and_loopback(void **state)
{
    (void)state;
    static const char json[] =
        "{\"nftables\": [{\"table\": {\"family\": \"ip\", \"name\": \"n\", \"handle\": 1}},"
        "{\"chain\": {\"family\": \"ip\", \"table\": \"n\", \"name\": \"pre\", \"handle\": 1, \"type\": \"nat\", "
        "\"hook\": \"prerouting\", \"prio\": -100, \"policy\": \"accept\"}},"
        "{\"rule\": {\"family\": \"ip\", \"table\": \"n\", \"chain\": \"pre\", \"handle\": 2, \"expr\": ["
        DPORT(80) ", {\"redirect\": {\"port\": 8080}}]}}]}";
    struct pk_firewall *fw = load_inline(json);
    struct pk_firewall_packet p = {.family = AF_INET, .proto = PK_TCP, .iifname = IF_A, .any_source = true,
                                   .dport = 80};
    inet_pton(AF_INET, HOST_A4, p.daddr);
    struct pk_firewall_result r;
    pk_firewall_eval(fw, &p, &r);
    assert_int_equal(r.verdict, PK_FIREWALL_REACHABLE);
    assert_true(r.nat);
    assert_int_equal(r.nat_dport, 8080);
    assert_memory_equal(r.nat_daddr, p.daddr, 4);
    assert_non_null(strstr(r.nat_rule, "ip n/pre handle 2"));
    /* a loopback address from outside is a martian */
    char rule[PK_FIREWALL_RULE_MAX];
    assert_int_equal(judge(fw, PK_TCP, IF_A, NULL, "127.0.0.1", 22, rule), PK_FIREWALL_BLOCKED);
    assert_non_null(strstr(rule, "kernel"));
    pk_firewall_free(fw);
}

/* The tables `portkit forward --kernel` installs: an allow-list filter
 * chain just before NAT, then redirect/DNAT with ct mark and ct timeout. */
static void test_forward_kernel_tables(void **state)
{
    (void)state;
    struct pk_firewall *fw = load("kfwd_style.json");
    struct pk_firewall_packet p = {.family = AF_INET, .proto = PK_TCP, .iifname = IF_A, .saddr_prefix = 32,
                                   .dport = 8080};
    inet_pton(AF_INET, HOST_A4, p.daddr);
    inet_pton(AF_INET, OUT_A4, p.saddr);
    struct pk_firewall_result r;
    pk_firewall_eval(fw, &p, &r);
    assert_int_equal(r.verdict, PK_FIREWALL_REACHABLE);
    assert_true(r.nat);
    assert_int_equal(r.nat_dport, 80);
    assert_non_null(strstr(r.nat_rule, "redirect to :80"));
    p.any_source = true; /* not in the allow list */
    pk_firewall_eval(fw, &p, &r);
    assert_int_equal(r.verdict, PK_FIREWALL_BLOCKED);
    assert_non_null(strstr(r.rule, "@r0_allow4"));
    p.proto = PK_UDP;
    p.dport = 5353;
    pk_firewall_eval(fw, &p, &r);
    assert_int_equal(r.verdict, PK_FIREWALL_REACHABLE);
    assert_true(r.nat);
    assert_int_equal(r.nat_dport, 53);
    pk_firewall_free(fw);
}

/* An ingress chain filters only what arrives on its device. */
static void test_ingress_device(void **state)
{
    (void)state;
    static const char json[] =
        "{\"nftables\": [{\"table\": {\"family\": \"netdev\", \"name\": \"n\", \"handle\": 1}},"
        "{\"chain\": {\"family\": \"netdev\", \"table\": \"n\", \"name\": \"ing\", \"handle\": 1, "
        "\"type\": \"filter\", \"hook\": \"ingress\", \"prio\": 0, \"dev\": \"" IF_B "\", \"policy\": \"accept\"}},"
        "{\"rule\": {\"family\": \"netdev\", \"table\": \"n\", \"chain\": \"ing\", \"handle\": 2, \"expr\": ["
        DPORT(22) ", {\"drop\": null}]}}]}";
    struct pk_firewall *fw = load_inline(json);
    char rule[PK_FIREWALL_RULE_MAX];
    assert_int_equal(judge(fw, PK_TCP, IF_A, NULL, HOST_A4, 22, NULL), PK_FIREWALL_REACHABLE);
    assert_int_equal(judge(fw, PK_TCP, IF_B, NULL, HOST_B4, 22, rule), PK_FIREWALL_BLOCKED);
    assert_string_equal(rule, "netdev n/ing handle 2: tcp dport 22 drop");
    pk_firewall_free(fw);
}

static void test_bad_input(void **state)
{
    (void)state;
    static const char *const bad[] = {"", "{", "[]", "{\"nftables\": 3}", "{\"x\": []}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct pk_firewall_options opt = {.ruleset_json = bad[i], .ruleset_json_len = strlen(bad[i]),
                                          .no_host = true};
        struct pk_firewall *fw = NULL;
        struct pk_err err = {0};
        assert_int_equal(pk_firewall_open(&opt, &fw, &err), PK_EINVAL);
        assert_null(fw);
        assert_true(err.msg[0] != '\0');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sets_jumps_vmaps),       cmocka_unit_test(test_ufw_rules),
        cmocka_unit_test(test_xt_without_text),        cmocka_unit_test(test_docker_virtual_listeners),
        cmocka_unit_test(test_undecided_matches),      cmocka_unit_test(test_redirect_and_loopback),
        cmocka_unit_test(test_forward_kernel_tables), cmocka_unit_test(test_ingress_device),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
