/* The history library on hand-made runs in files and in memory: schema
 * creation and refusal of a future one, naming runs, the diff engine's
 * verdicts, XML import of nmap's format, pruning, listener snapshots and
 * the HTML report's escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "portkit/history.h"

static struct pk_history *mem(void)
{
    struct pk_history *h;
    struct pk_err err = {0};
    assert_int_equal(pk_history_open(":memory:", 0, &h, &err), 0);
    return h;
}

struct port {
    unsigned port;
    enum pk_proto proto;
    enum pk_port_state state;
    const char *product, *version;
};

/* One scan run: hosts "addr:up" each with its ports. */
static int64_t add_run(struct pk_history *h, const char *label, const char *ports_asked, size_t nhosts,
                       const char *const *addrs, const bool *up, const struct port *const *ports,
                       const size_t *nports)
{
    struct pk_err err = {0};
    struct pk_run info = {.kind = PK_RUN_SCAN, .label = label, .source = "test", .ports = ports_asked,
                          .start_us = 1000000};
    struct pk_history_run *w;
    assert_int_equal(pk_history_begin(h, &info, &w, &err), 0);
    for (size_t i = 0; i < nhosts; i++) {
        struct pk_history_host host = {.addr = addrs[i], .up = up[i], .closed = {10, 0}};
        assert_int_equal(pk_history_add_host(w, &host, &err), 0);
        for (size_t k = 0; k < nports[i]; k++) {
            const struct port *p = &ports[i][k];
            struct pk_history_port hp = {.proto = p->proto, .port = (uint16_t)p->port, .state = p->state,
                                         .service = "svc", .service_probed = true, .product = p->product,
                                         .version = p->version};
            assert_int_equal(pk_history_add_port(w, &hp, &err), 0);
        }
    }
    int64_t id;
    assert_int_equal(pk_history_commit(w, &id, &err), 0);
    return id;
}

struct seen {
    char lines[32][160];
    int n;
};

static int collect(void *arg, const struct pk_change *c)
{
    struct seen *s = arg;
    if (s->n < 32)
        snprintf(s->lines[s->n++], sizeof s->lines[0], "%s %s %u/%s %s>%s", pk_change_name(c->kind), c->host,
                 c->port, c->port || c->kind == PK_CHANGE_STATE ? pk_proto_name(c->proto) : "-", c->before,
                 c->after);
    return 0;
}

static void test_diff_verdicts(void **state)
{
    (void)state;
    struct pk_history *h = mem();
    const char *addrs_a[] = {"10.0.0.2", "10.0.0.10", "fd00::1"};
    const char *addrs_b[] = {"10.0.0.2", "10.0.0.10", "10.0.0.99", "fd00::1"};
    bool up_a[] = {true, true, true}, up_b[] = {true, false, true, true};
    const struct port a0[] = {{22, PK_TCP, PK_STATE_OPEN, "OpenSSH", "9.2"},
                              {80, PK_TCP, PK_STATE_OPEN, "nginx", "1.22"},
                              {53, PK_UDP, PK_STATE_OPEN_FILTERED, "", ""},
                              {8080, PK_TCP, PK_STATE_FILTERED, "", ""}};
    const struct port b0[] = {{22, PK_TCP, PK_STATE_OPEN, "OpenSSH", "9.2"},
                              {80, PK_TCP, PK_STATE_OPEN, "nginx", "1.24"},
                              {443, PK_TCP, PK_STATE_OPEN, "", ""},
                              {8080, PK_TCP, PK_STATE_OPEN, "", ""}};
    const struct port a1[] = {{25, PK_TCP, PK_STATE_OPEN, "", ""}};
    const struct port b2[] = {{21, PK_TCP, PK_STATE_OPEN, "", ""}};
    const struct port a3[] = {{9999, PK_TCP, PK_STATE_OPEN, "", ""}};
    const struct port *pa[] = {a0, a1, a3}, *pb[] = {b0, NULL, b2, a3};
    size_t na[] = {4, 1, 1}, nb[] = {4, 0, 1, 1};
    int64_t a = add_run(h, "a", "", 3, addrs_a, up_a, pa, na);
    int64_t b = add_run(h, "b", "", 4, addrs_b, up_b, pb, nb);
    struct seen s = {0};
    uint64_t count;
    struct pk_err err = {0};
    assert_int_equal(pk_history_diff(h, a, h, b, collect, &s, &count, &err), 0);
    const char *want[] = {
        "opened 10.0.0.2 8080/tcp filtered>open",      /* open now: whatever it was */
        "closed 10.0.0.2 53/udp open|filtered>closed",
        "service 10.0.0.2 80/tcp svc nginx 1.22>svc nginx 1.24",
        "opened 10.0.0.2 443/tcp closed>open",
        "host-down 10.0.0.10 0/- up>down",             /* its ports are unknown now: nothing about 25 */
        "host-up 10.0.0.99 0/- absent>up",
        "opened 10.0.0.99 21/tcp >open",
    };
    assert_int_equal(count, sizeof want / sizeof want[0]);
    /* port order within a host is transport then port; compare as sets */
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        bool found = false;
        for (int k = 0; k < s.n; k++)
            found = found || strcmp(s.lines[k], want[i]) == 0;
        if (!found) {
            for (int k = 0; k < s.n; k++)
                fprintf(stderr, "got: %s\n", s.lines[k]);
            fail_msg("missing: %s", want[i]);
        }
    }
    /* a run against itself: nothing */
    assert_int_equal(pk_history_diff(h, b, h, b, collect, &s, &count, &err), 0);
    assert_int_equal(count, 0);
    /* ports one run did not ask about are not compared */
    const char *one[] = {"10.0.0.2"};
    bool up1[] = {true};
    const struct port x[] = {{22, PK_TCP, PK_STATE_OPEN, "", ""}}, y[] = {{80, PK_TCP, PK_STATE_OPEN, "", ""}};
    const struct port *px[] = {x}, *py[] = {y};
    size_t n1[] = {1};
    int64_t c = add_run(h, NULL, "T:22", 1, one, up1, px, n1);
    int64_t d = add_run(h, NULL, "T:80", 1, one, up1, py, n1);
    assert_int_equal(pk_history_diff(h, c, h, d, collect, &s, &count, &err), 0);
    assert_int_equal(count, 0);
    pk_history_close(h);
}


/* A host whose ports mostly share a state other than closed (a firewall
 * dropping everything) is stored as that "rest" state plus the exceptions,
 * and a port that disappears from a run took the rest state there. */
static int port_rows(void *arg, const struct pk_history_host *h, const struct pk_history_port *p);

static void test_rest_state(void **state)
{
    (void)state;
    struct pk_history *h = mem();
    struct pk_err err = {0};
    int64_t ids[3];
    for (int round = 0; round < 3; round++) {
        struct pk_run info = {.kind = PK_RUN_SCAN, .start_us = 1};
        struct pk_history_run *w;
        assert_int_equal(pk_history_begin(h, &info, &w, &err), 0);
        /* a full-range report: round 0 refuses all but 80; rounds 1, 2 drop
         * all but 443 (open) and 22 (closed); round 2 did not answer at all */
        static struct pk_scan_result res[65535];
        struct pk_host_report r = {.answered = round < 2, .ports = res, .nports = 65535};
        pk_addr_parse("192.0.2.50", &r.addr);
        for (unsigned p = 1; p <= 65535; p++) {
            enum pk_port_state st = round == 0 ? (p == 80 ? PK_STATE_OPEN : PK_STATE_CLOSED)
                                               : (p == 443 ? PK_STATE_OPEN : p == 22 ? PK_STATE_CLOSED : PK_STATE_FILTERED);
            res[p - 1] = (struct pk_scan_result){.port = (uint16_t)p, .proto = PK_TCP, .state = st,
                                                 .product = "", .version = "", .extra = "", .banner = ""};
            r.counts[0][st]++;
        }
        assert_int_equal(pk_history_add_report(w, &r, &err), 0);
        assert_int_equal(pk_history_commit(w, &ids[round], &err), 0);
    }
    struct pk_buf b = PK_BUF_INIT;
    assert_int_equal(pk_history_walk(h, ids[1], port_rows, &b, &err), 0);
    /* two rows, not 65,533 filtered ones */
    assert_string_equal(b.data, "[192.0.2.50  up 0 1][22/tcp closed   ][443/tcp open   ]");
    pk_buf_reset(&b);
    assert_int_equal(pk_history_walk(h, ids[2], port_rows, &b, &err), 0);
    assert_string_equal(b.data, "[192.0.2.50  down 0 1]");
    pk_buf_free(&b);
    struct seen s = {0};
    uint64_t count;
    assert_int_equal(pk_history_diff(h, ids[0], h, ids[1], collect, &s, &count, &err), 0);
    assert_int_equal(count, 3);
    assert_string_equal(s.lines[0], "state 192.0.2.50 0/tcp closed>filtered");
    assert_string_equal(s.lines[1], "state 192.0.2.50 80/tcp open>filtered");
    assert_string_equal(s.lines[2], "opened 192.0.2.50 443/tcp closed>open");
    /* 22 was closed in both: no change, though stored only in run 1 */
    s.n = 0;
    assert_int_equal(pk_history_diff(h, ids[1], h, ids[2], collect, &s, &count, &err), 0);
    assert_int_equal(count, 1);
    assert_string_equal(s.lines[0], "host-down 192.0.2.50 0/- up>down");
    pk_history_close(h);
}

static void test_names_and_previous(void **state)
{
    (void)state;
    struct pk_history *h = mem();
    const char *x[] = {"192.0.2.1"}, *y[] = {"192.0.2.2"};
    bool up[] = {true};
    const struct port *none[] = {NULL};
    size_t n0[] = {0};
    int64_t r1 = add_run(h, "mon", "", 1, x, up, none, n0);
    int64_t r2 = add_run(h, "tue", "", 1, y, up, none, n0);
    int64_t r3 = add_run(h, "mon", "", 1, x, up, none, n0);
    struct pk_err err = {0};
    int64_t id;
    assert_int_equal(pk_history_resolve(h, "last", &id, &err), 0);
    assert_int_equal(id, r3);
    assert_int_equal(pk_history_resolve(h, "last~2", &id, &err), 0);
    assert_int_equal(id, r1);
    assert_int_equal(pk_history_resolve(h, "mon", &id, &err), 0);
    assert_int_equal(id, r3);
    assert_int_equal(pk_history_resolve(h, "2", &id, &err), 0);
    assert_int_equal(id, r2);
    assert_int_equal(pk_history_resolve(h, "last~3", &id, &err), PK_ENOTFOUND);
    assert_int_equal(pk_history_resolve(h, "last~", &id, &err), PK_EINVAL);
    assert_int_equal(pk_history_resolve(h, "nope", &id, &err), PK_ENOTFOUND);
    /* the previous run over the same hosts skips run 2 */
    assert_int_equal(pk_history_previous(h, r3, &id, &err), 0);
    assert_int_equal(id, r1);
    assert_int_equal(pk_history_previous(h, r1, &id, &err), PK_ENOTFOUND);
    assert_int_equal(pk_history_remove(h, r1, &err), 0);
    assert_int_equal(pk_history_remove(h, r1, &err), PK_ENOTFOUND);
    uint64_t removed = 0;
    assert_int_equal(pk_history_prune(h, 2000000, &removed, &err), 0);
    assert_int_equal(removed, 2);
    pk_history_close(h);
}

static void test_schema_versions(void **state)
{
    (void)state;
    char path[] = "/tmp/pk-test-history-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    struct pk_history *h;
    struct pk_err err = {0};
    /* read-only on a missing file: "no history", and nothing created */
    assert_int_equal(pk_history_open(path, PK_HISTORY_READONLY, &h, &err), PK_ENOTFOUND);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(pk_history_open(path, 0, &h, &err), 0);
    pk_history_close(h);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    int version = 0;
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    assert_int_equal(version, PK_HISTORY_SCHEMA);
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=7", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(pk_history_open(path, 0, &h, &err), PK_EUNSUPP);
    assert_non_null(strstr(err.msg, "schema version 7"));
    assert_int_equal(pk_history_open(path, PK_HISTORY_READONLY, &h, &err), PK_EUNSUPP);
    char side[64];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    unlink(path);
}

static const char nmap_xml[] =
    "<?xml version=\"1.0\"?><!DOCTYPE nmaprun>"
    "<nmaprun scanner=\"nmap\" args=\"nmap -p 1-100 192.0.2.5\" start=\"1700000000\" version=\"7.93\">"
    "<scaninfo type=\"connect\" protocol=\"tcp\" numservices=\"100\" services=\"1-100\"/>"
    "<host><status state=\"up\"/><address addr=\"192.0.2.5\" addrtype=\"ipv4\"/>"
    "<hostnames><hostname name=\"a.example\" type=\"user\"/></hostnames><ports>"
    "<extraports state=\"closed\" count=\"97\"><extrareasons reason=\"conn-refused\" count=\"97\" proto=\"tcp\" ports=\"1-21,23-79,81-99\"/></extraports>"
    "<port protocol=\"tcp\" portid=\"22\"><state state=\"open\" reason=\"syn-ack\"/>"
    "<service name=\"ssh\" product=\"OpenSSH\" version=\"9.2\" method=\"probed\"/>"
    "<script id=\"x\" output=\"&lt;script&gt;\"><elem>whatever</elem></script></port>"
    "<port protocol=\"tcp\" portid=\"80\"><state state=\"filtered\" reason=\"no-response\"/></port>"
    "<port protocol=\"tcp\" portid=\"100\"><state state=\"closed\" reason=\"conn-refused\"/></port>"
    "</ports><times srtt=\"350\" rttvar=\"50\" to=\"100000\"/></host>"
    "<runstats><finished time=\"1700000005\"/></runstats></nmaprun>";

static int run_copy(void *arg, const struct pk_run *r)
{
    struct pk_run *out = arg;
    *out = *r;
    out->label = out->source = out->targets = out->ports = out->command = NULL;
    return 0;
}

static int port_rows(void *arg, const struct pk_history_host *h, const struct pk_history_port *p)
{
    struct pk_buf *b = arg;
    if (!p)
        pk_buf_printf(b, "[%s %s %s %u %llu]", h->addr, h->hostname, h->up ? "up" : "down", h->rtt_us,
                      (unsigned long long)h->closed[0]);
    else
        pk_buf_printf(b, "[%u/%s %s %s %s %s]", p->port, pk_proto_name(p->proto), pk_state_name(p->state),
                      p->service, p->product, p->version);
    return 0;
}

static void test_import(void **state)
{
    (void)state;
    struct pk_history *h = mem();
    struct pk_err err = {0};
    int64_t id;
    assert_int_equal(pk_history_import_xml_mem(h, nmap_xml, sizeof nmap_xml - 1, "t.xml", "lbl", &id, &err), 0);
    struct pk_run r;
    assert_int_equal(pk_history_run(h, id, run_copy, &r, &err), 0);
    assert_int_equal(r.hosts, 1);
    assert_int_equal(r.open, 1);
    assert_int_equal(r.start_us, 1700000000ull * 1000000u);
    assert_int_equal(r.end_us, 1700000005ull * 1000000u);
    struct pk_buf b = PK_BUF_INIT;
    assert_int_equal(pk_history_walk(h, id, port_rows, &b, &err), 0);
    assert_string_equal(b.data, "[192.0.2.5 a.example up 350 98][22/tcp open ssh OpenSSH 9.2]"
                                "[80/tcp filtered   ]");
    pk_buf_free(&b);
    /* malformed, foreign or hostile input: refused, nothing stored */
    static const char *const bad[] = {
        "<nmaprun><host>",
        "<svg/>",
        "<!DOCTYPE nmaprun [<!ENTITY a \"b\">]><nmaprun/>",
        "<nmaprun><host><ports><extraports state=\"filtered\"><extrareasons ports=\"70000\"/></extraports></ports></host></nmaprun>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t x = 0;
        assert_int_equal(pk_history_import_xml_mem(h, bad[i], strlen(bad[i]), "bad.xml", NULL, &x, &err), PK_EINVAL);
        assert_non_null(strstr(err.msg, "bad.xml"));
        assert_int_equal(pk_history_resolve(h, "last", &x, &err), 0);
        assert_int_equal(x, id);
    }
    pk_history_close(h);
}

static void test_listeners(void **state)
{
    (void)state;
    struct pk_history *h = mem();
    struct pk_err err = {0};
    int64_t ids[2];
    for (int round = 0; round < 2; round++) {
        struct pk_run info = {.kind = PK_RUN_SOCKETS, .start_us = 1};
        struct pk_history_run *w;
        assert_int_equal(pk_history_begin(h, &info, &w, &err), 0);
        struct pk_history_listener l = {.proto = PK_TCP, .family = AF_INET, .addr = "0.0.0.0", .port = 80,
                                        .pid = 10, .process = round ? "nginx" : "apache2", .user = "www"};
        assert_int_equal(pk_history_add_listener(w, &l, &err), 0);
        assert_int_equal(pk_history_add_listener(w, &l, &err), 0); /* SO_REUSEPORT twin: once */
        l.port = round ? 443 : 22;
        assert_int_equal(pk_history_add_listener(w, &l, &err), 0);
        struct pk_history_host host = {.addr = "192.0.2.1"};
        assert_int_equal(pk_history_add_host(w, &host, &err), PK_EINVAL);
        assert_int_equal(pk_history_commit(w, &ids[round], &err), 0);
    }
    struct seen s = {0};
    uint64_t count;
    assert_int_equal(pk_history_diff(h, ids[0], h, ids[1], collect, &s, &count, &err), 0);
    assert_int_equal(count, 3);
    assert_string_equal(s.lines[0], "removed 0.0.0.0 22/tcp apache2[10] www>");
    assert_string_equal(s.lines[1], "process 0.0.0.0 80/tcp apache2[10] www>nginx[10] www");
    assert_string_equal(s.lines[2], "added 0.0.0.0 443/tcp >nginx[10] www");
    struct pk_change c = {.kind = PK_CHANGE_ADDED, .host = "::1", .hostname = "", .proto = PK_UDP, .port = 53,
                          .before = "", .after = "x\"y", .service = "domain", .pid = 7, .process = "dnsmasq",
                          .user = "", .flags = PK_SF_EXPOSED};
    struct pk_buf b = PK_BUF_INIT;
    pk_change_json(&c, &b);
    assert_string_equal(b.data, "{\"change\":\"added\",\"host\":\"::1\",\"port\":53,\"proto\":\"udp\",\"before\":\"\","
                                "\"after\":\"x\\\"y\",\"service\":\"domain\",\"pid\":7,\"process\":\"dnsmasq\","
                                "\"user\":null,\"flags\":[\"EXPOSED\"]}");
    pk_buf_free(&b);
    pk_history_close(h);
}

static long to_buf(void *arg, const void *data, size_t len)
{
    return pk_buf_append(arg, data, len) == 0 ? (long)len : -1;
}

static void test_report_escapes(void **state)
{
    (void)state;
    struct pk_history *h = mem();
    struct pk_err err = {0};
    struct pk_run info = {.kind = PK_RUN_SCAN, .label = "<b>label", .start_us = 1};
    struct pk_history_run *w;
    assert_int_equal(pk_history_begin(h, &info, &w, &err), 0);
    struct pk_history_host host = {.addr = "192.0.2.9", .hostname = "\"><script>x()</script>", .up = true};
    assert_int_equal(pk_history_add_host(w, &host, &err), 0);
    struct pk_history_port p = {.proto = PK_TCP, .port = 21, .state = PK_STATE_OPEN,
                                .banner = "220 <img src=x onerror=alert(1)> \x01\xff\xfe caf\xc3\xa9 &amp;"};
    assert_int_equal(pk_history_add_port(w, &p, &err), 0);
    int64_t id;
    assert_int_equal(pk_history_commit(w, &id, &err), 0);
    struct pk_buf b = PK_BUF_INIT;
    assert_int_equal(pk_history_report_html(h, id, NULL, 0, NULL, to_buf, &b, &err), 0);
    assert_null(strstr(b.data, "<img"));
    assert_null(strstr(b.data, "<b>"));
    assert_null(strstr(b.data, "<script>x"));
    assert_non_null(strstr(b.data, "220 &lt;img src=x onerror=alert(1)&gt; ??? caf\xc3\xa9 &amp;amp;"));
    assert_non_null(strstr(b.data, "&quot;&gt;&lt;script&gt;x()&lt;/script&gt;"));
    assert_null(strstr(b.data, "http:"));
    assert_null(strstr(b.data, "https:"));
    pk_buf_free(&b);
    pk_history_close(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diff_verdicts),     cmocka_unit_test(test_rest_state),
        cmocka_unit_test(test_names_and_previous),
        cmocka_unit_test(test_schema_versions),   cmocka_unit_test(test_import),
        cmocka_unit_test(test_listeners),         cmocka_unit_test(test_report_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
