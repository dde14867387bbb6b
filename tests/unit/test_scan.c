/* The scan engine through its library API, against real sockets on
 * loopback: listeners this test opens are open, bound-but-silent sockets
 * are closed, results stream to the callback, reports hold every port,
 * a stop from the tick ends the scan early, and hosts stream to on_host in
 * target order while a scan of several host groups runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "portkit/scan.h"
#include "portkit/registry.h"

struct seen {
    unsigned open, closed, other, total;
    uint16_t open_ports[64];
    struct pk_scan *scan;
    unsigned ticks;
    bool stop_on_tick;
};

static void on_result(void *arg, const struct pk_scan_result *r)
{
    struct seen *s = arg;
    s->total++;
    if (r->state == PK_STATE_OPEN) {
        if (s->open < 64)
            s->open_ports[s->open] = r->port;
        s->open++;
        assert_int_equal(r->reason, PK_REASON_SYN_ACK);
        assert_true(r->rtt_us > 0);
    } else if (r->state == PK_STATE_CLOSED) {
        s->closed++;
        assert_int_equal(r->reason, PK_REASON_CONN_REFUSED);
    } else {
        s->other++;
    }
    assert_int_equal(r->proto, PK_TCP);
    assert_int_equal(r->addr->family, AF_INET);
}

static void on_tick(void *arg)
{
    struct seen *s = arg;
    s->ticks++;
    if (s->stop_on_tick && s->scan)
        pk_scan_stop(s->scan);
}

static int listener(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 64), 0);
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A port nothing listens on: bound (so nobody else takes it) but not
 * listening, which refuses connections. */
static int refuser(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    *port = ntohs(a.sin_port);
    return fd;
}

static struct pk_targets *loopback(void)
{
    struct pk_targets *t = pk_targets_new(NULL);
    struct pk_err err = {0};
    assert_int_equal(pk_targets_add(t, "127.0.0.1", false, &err), 0);
    assert_int_equal(pk_targets_finish(t, 16, &err), 0);
    return t;
}

static void test_loopback_states(void **state)
{
    (void)state;
    uint16_t lp[3], rp[5];
    int lfd[3], rfd[5];
    struct pk_ports *ports = pk_ports_new();
    for (int i = 0; i < 3; i++) {
        lfd[i] = listener(&lp[i]);
        pk_ports_add_range(ports, PK_TCP, lp[i], lp[i]);
    }
    for (int i = 0; i < 5; i++) {
        rfd[i] = refuser(&rp[i]);
        pk_ports_add_range(ports, PK_TCP, rp[i], rp[i]);
    }
    struct pk_targets *t = loopback();
    struct seen seen = {0};
    struct pk_scan_config cfg;
    pk_scan_config_init(&cfg);
    cfg.targets = t;
    cfg.ports = ports;
    cfg.reg = pk_registry_builtin();
    cfg.seed = 42;
    cfg.on_result = on_result;
    cfg.arg = &seen;
    struct pk_scan *s;
    struct pk_err err = {0};
    assert_int_equal(pk_scan_new(&cfg, &s, &err), 0);
    assert_int_equal(pk_scan_run(s, &err), 0);
    assert_int_equal(seen.open, 3);
    assert_int_equal(seen.closed, 5);
    assert_int_equal(seen.other, 0);

    struct pk_scan_stats st;
    pk_scan_get_stats(s, &st);
    assert_int_equal(st.total, 8);
    assert_int_equal(st.done, 8);
    assert_int_equal(st.states[PK_STATE_OPEN], 3);
    assert_int_equal(st.hosts_answered, 1);
    assert_false(st.interrupted);
    assert_true(st.probes >= 8);

    struct pk_host_report rep;
    assert_int_equal(pk_scan_host_report(s, 0, &rep, &err), 0);
    assert_int_equal(rep.nports, 8);
    assert_true(rep.answered);
    assert_int_equal(rep.counts[0][PK_STATE_OPEN], 3);
    assert_int_equal(rep.counts[0][PK_STATE_CLOSED], 5);
    for (size_t i = 1; i < rep.nports; i++)
        assert_true(rep.ports[i].port > rep.ports[i - 1].port); /* sorted */
    for (size_t i = 0; i < rep.nports; i++) {
        bool is_listener = rep.ports[i].port == lp[0] || rep.ports[i].port == lp[1] ||
                           rep.ports[i].port == lp[2];
        assert_int_equal(rep.ports[i].state, is_listener ? PK_STATE_OPEN : PK_STATE_CLOSED);
    }
    pk_host_report_free(&rep);
    assert_int_equal(pk_scan_host_report(s, 1, &rep, &err), PK_EINVAL);

    pk_scan_free(s);
    pk_targets_free(t);
    pk_ports_free(ports);
    for (int i = 0; i < 3; i++)
        close(lfd[i]);
    for (int i = 0; i < 5; i++)
        close(rfd[i]);
}

static void test_stop_from_tick(void **state)
{
    (void)state;
    /* A slow scan: one try per second at most; the first tick stops it. */
    struct pk_ports *ports = pk_ports_new();
    pk_ports_add_range(ports, PK_TCP, 1, 65535);
    struct pk_targets *t = loopback();
    struct seen seen = {.stop_on_tick = true};
    struct pk_scan_config cfg;
    pk_scan_config_init(&cfg);
    cfg.targets = t;
    cfg.ports = ports;
    cfg.rate = 200; /* probes per second: far from done after 100 ms */
    cfg.on_result = on_result;
    cfg.on_tick = on_tick;
    cfg.arg = &seen;
    struct pk_scan *s;
    struct pk_err err = {0};
    assert_int_equal(pk_scan_new(&cfg, &s, &err), 0);
    seen.scan = s;
    assert_int_equal(pk_scan_run(s, &err), 0);
    struct pk_scan_stats st;
    pk_scan_get_stats(s, &st);
    assert_true(st.interrupted);
    assert_true(st.done < st.total);
    assert_int_equal(st.done, seen.total);
    assert_true(seen.ticks >= 1);
    assert_true(st.probes <= 200); /* the rate held */
    pk_scan_free(s);
    pk_targets_free(t);
    pk_ports_free(ports);
}

static void test_config_errors(void **state)
{
    (void)state;
    struct pk_scan_config cfg;
    pk_scan_config_init(&cfg);
    struct pk_scan *s = NULL;
    struct pk_err err = {0};
    assert_int_equal(pk_scan_new(&cfg, &s, &err), PK_EINVAL); /* no targets */
    assert_null(s);
    struct pk_targets *t = loopback();
    struct pk_ports *ports = pk_ports_new();
    cfg.targets = t;
    cfg.ports = ports;
    assert_int_equal(pk_scan_new(&cfg, &s, &err), PK_EINVAL); /* no ports */
    pk_ports_add_range(ports, PK_UDP, 53, 53);
    assert_int_equal(pk_scan_new(&cfg, &s, &err), PK_EINVAL); /* UDP ports, TCP scan */
    cfg.udp = true;
    cfg.tcp = false;
    cfg.shard = (struct pk_shard){3, 2};
    assert_int_equal(pk_scan_new(&cfg, &s, &err), PK_EINVAL);
    cfg.shard = (struct pk_shard){2, 2};
    assert_int_equal(pk_scan_new(&cfg, &s, &err), 0);
    struct pk_scan_stats st;
    pk_scan_get_stats(s, &st);
    assert_true(st.total <= 1); /* one pair, split in two shards */
    assert_true(st.max_inflight >= 16);
    pk_scan_free(s);
    pk_targets_free(t);
    pk_ports_free(ports);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(pk_state_name(PK_STATE_OPEN_FILTERED), "open|filtered");
    assert_string_equal(pk_state_name(PK_STATE_COUNT), "unknown");
    assert_string_equal(pk_reason_name(PK_REASON_CONN_REFUSED), "conn-refused");
    assert_string_equal(pk_reason_name(PK_REASON_ADMIN_PROHIBITED), "admin-prohibited");
    assert_string_equal(pk_reason_name(PK_REASON_COUNT), "unknown");
    for (int a = 1; a < PK_REASON_COUNT; a++)
        for (int b = a + 1; b < PK_REASON_COUNT; b++)
            assert_string_not_equal(pk_reason_name((enum pk_reason)a), pk_reason_name((enum pk_reason)b));
}

struct streamed {
    struct pk_scan *scan;
    uint64_t next, closed;
    uint64_t done_at_first; /* ports decided when host 0 was handed over */
};

static void on_host(void *arg, const struct pk_host_report *r)
{
    struct streamed *x = arg;
    assert_int_equal(r->index, x->next); /* target order, each host once */
    x->next++;
    assert_int_equal(r->status, PK_HOST_UP);
    assert_int_equal(r->nports, 1);
    x->closed += r->counts[0][PK_STATE_CLOSED];
    if (r->index == 0) {
        struct pk_scan_stats st;
        pk_scan_get_stats(x->scan, &st);
        x->done_at_first = st.done;
    }
}

static void stream_run(bool discovery)
{
    /* 8,192 loopback addresses x one refused port: two host groups of
     * 4,096 (scan_walk.c), so the first group is handed over and freed
     * while the second is probed. With discovery every loopback address is
     * up at once (localhost-response). */
    uint16_t port;
    int fd = refuser(&port);
    struct pk_ports *ports = pk_ports_new();
    pk_ports_add_range(ports, PK_TCP, port, port);
    struct pk_targets *t = pk_targets_new(NULL);
    struct pk_err err = {0};
    assert_int_equal(pk_targets_add(t, "127.0.0.0/19", false, &err), 0);
    assert_int_equal(pk_targets_finish(t, 1u << 20, &err), 0);
    struct streamed x = {0};
    struct pk_scan_config cfg;
    pk_scan_config_init(&cfg);
    cfg.targets = t;
    cfg.ports = ports;
    cfg.seed = 7;
    cfg.on_host = on_host;
    cfg.arg = &x;
    if (discovery)
        pk_ping_config_default(&cfg.ping);
    struct pk_scan *s;
    assert_int_equal(pk_scan_new(&cfg, &s, &err), 0);
    x.scan = s;
    assert_int_equal(pk_scan_run(s, &err), 0);
    assert_int_equal(x.next, 8192);
    assert_int_equal(x.closed, 8192);
    assert_true(x.done_at_first < 8192); /* during the scan, not after it */
    /* Handed over means freed: the report knows nothing more. */
    struct pk_host_report rep;
    assert_int_equal(pk_scan_host_report(s, 0, &rep, &err), 0);
    assert_int_equal(rep.nports, 0);
    pk_host_report_free(&rep);
    pk_scan_free(s);
    pk_targets_free(t);
    pk_ports_free(ports);
    close(fd);
}

static void test_hosts_stream_in_order(void **state)
{
    (void)state;
    stream_run(false);
    stream_run(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback_states),
        cmocka_unit_test(test_stop_from_tick),
        cmocka_unit_test(test_hosts_stream_in_order),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
