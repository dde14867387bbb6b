/* The scan's public face: configuration and the run loop. The scheduler
 * and the probe modules live in scan_sched.c, scan_tcp.c and scan_udp.c;
 * decided results and per-host reports in scan_result.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "scan/rawnet.h"
#include "scan/scan_impl.h"
#include "portkit/registry.h"

static const char *const state_names[PK_STATE_COUNT] = {
    [PK_STATE_UNKNOWN] = "unknown",
    [PK_STATE_OPEN] = "open",
    [PK_STATE_CLOSED] = "closed",
    [PK_STATE_FILTERED] = "filtered",
    [PK_STATE_OPEN_FILTERED] = "open|filtered",
};

const char *pk_state_name(enum pk_port_state st)
{
    return (unsigned)st < PK_STATE_COUNT ? state_names[st] : "unknown";
}

static const char *const reason_names[PK_REASON_COUNT] = {
    [PK_REASON_NONE] = "unknown",
    [PK_REASON_SYN_ACK] = "syn-ack",
    [PK_REASON_CONN_REFUSED] = "conn-refused",
    [PK_REASON_NO_RESPONSE] = "no-response",
    [PK_REASON_UDP_RESPONSE] = "udp-response",
    [PK_REASON_PORT_UNREACH] = "port-unreach",
    [PK_REASON_HOST_UNREACH] = "host-unreach",
    [PK_REASON_NET_UNREACH] = "net-unreach",
    [PK_REASON_PROTO_UNREACH] = "proto-unreach",
    [PK_REASON_NET_PROHIBITED] = "net-prohibited",
    [PK_REASON_HOST_PROHIBITED] = "host-prohibited",
    [PK_REASON_ADMIN_PROHIBITED] = "admin-prohibited",
    [PK_REASON_TIME_EXCEEDED] = "time-exceeded",
    [PK_REASON_PERM_DENIED] = "perm-denied",
    [PK_REASON_RESET] = "reset",
    [PK_REASON_ECHO_REPLY] = "echo-reply",
    [PK_REASON_TIMESTAMP_REPLY] = "timestamp-reply",
    [PK_REASON_ARP_RESPONSE] = "arp-response",
    [PK_REASON_ND_RESPONSE] = "nd-response",
    [PK_REASON_LOCALHOST] = "localhost-response",
    [PK_REASON_USER_SET] = "user-set",
};

const char *pk_host_status_name(enum pk_host_status st)
{
    return st == PK_HOST_UP ? "up" : st == PK_HOST_DOWN ? "down" : "unknown";
}

bool pk_scan_raw_available(void)
{
    return raw_available();
}

void pk_ping_config_default(struct pk_ping_config *p)
{
    memset(p, 0, sizeof *p);
    p->enabled = true;
    p->icmp_echo = true;
    p->icmp_timestamp = true;
    p->neighbour = true;
    p->syn_ports[p->nsyn++] = 443;
    p->ack_ports[p->nack++] = 80;
}

const char *pk_reason_name(enum pk_reason r)
{
    return (unsigned)r < PK_REASON_COUNT ? reason_names[r] : "unknown";
}

void pk_scan_config_init(struct pk_scan_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->tcp = true;
    cfg->shard.index = 1;
    cfg->shard.count = 1;
    cfg->max_retries = 10;
    cfg->min_rtt_timeout_ms = 50;
    cfg->max_rtt_timeout_ms = 1000;
    cfg->initial_rtt_timeout_ms = 1000;
    cfg->service_timeout_ms = 5000;
}

/* Raises the soft open-file limit to the hard one and returns how many
 * descriptors probes may use, leaving room for outputs and the rest. */
static unsigned fd_budget(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 1000;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl.rlim_cur = rl.rlim_max;
    }
    rlim_t limit = rl.rlim_cur == RLIM_INFINITY ? 1u << 20 : rl.rlim_cur;
    if (limit > (1u << 20))
        limit = 1u << 20;
    /* Descriptors already open (outputs, the loop, inherited ones) plus a
     * margin for files opened later. */
    int highest = 0;
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            highest = fd;
    rlim_t reserve = (rlim_t)highest + 1 + 64;
    return limit > reserve + 16 ? (unsigned)(limit - reserve) : 16;
}

int pk_scan_new(const struct pk_scan_config *cfg, struct pk_scan **out, struct pk_err *err)
{
    *out = NULL;
    if (!cfg->targets || !cfg->ports)
        return pk_err_set(err, PK_EINVAL, "scan: no targets or no ports");
    if (!cfg->tcp && !cfg->udp)
        return pk_err_set(err, PK_EINVAL, "scan: neither TCP nor UDP asked for");
    if (cfg->shard.count > 1 && (cfg->shard.index < 1 || cfg->shard.index > cfg->shard.count))
        return pk_err_set(err, PK_EINVAL, "scan: bad shard %llu/%llu",
                          (unsigned long long)cfg->shard.index, (unsigned long long)cfg->shard.count);
    struct pk_scan *s = calloc(1, sizeof *s);
    if (!s)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    s->cfg = *cfg;
    s->epfd = -1;
    if (s->cfg.shard.count == 0)
        s->cfg.shard = (struct pk_shard){1, 1};
    s->shard = s->cfg.shard;
    size_t nt = cfg->tcp ? pk_ports_count(cfg->ports, PK_TCP) : 0;
    size_t nu = cfg->udp ? pk_ports_count(cfg->ports, PK_UDP) : 0;
    if (nt + nu == 0) {
        free(s);
        return pk_err_set(err, PK_EINVAL, "scan: no ports to scan");
    }
    s->tcp_ports = malloc((nt + 1) * sizeof *s->tcp_ports);
    s->udp_ports = malloc((nu + 1) * sizeof *s->udp_ports);
    if (!s->tcp_ports || !s->udp_ports) {
        pk_scan_free(s);
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    }
    if (nt)
        pk_ports_list(cfg->ports, PK_TCP, s->tcp_ports, nt);
    if (nu)
        pk_ports_list(cfg->ports, PK_UDP, s->udp_ports, nu);
    s->ntcp = (uint32_t)nt;
    s->nudp = (uint32_t)nu;
    s->nslots = (uint32_t)(nt + nu);
    s->nhosts = pk_targets_count(cfg->targets);
    if (s->nhosts == 0) {
        pk_scan_free(s);
        return pk_err_set(err, PK_EINVAL, "scan: no hosts");
    }
    pks_walk_init(s);
    s->shard_size = pk_shard_size(s->nhosts * s->nslots, &s->shard);

    unsigned budget = fd_budget();
    s->max_inflight = cfg->max_inflight && cfg->max_inflight < budget ? cfg->max_inflight : budget;
    bool syn = cfg->tcp && cfg->method == PK_SCAN_SYN;
    /* Probes hold no descriptor: in flight is bounded by memory, ~230
     * bytes a probe (30 MiB for 131,072). Into silence the window is what
     * holds the rate: 65,536 over n4's 300 ms timeout capped it at 218,000
     * packets/s on one core; 131,072 gave 272,000, CPU-bound (262,144 no
     * faster: more memory to walk). */
    if (syn)
        s->max_inflight = cfg->max_inflight ? cfg->max_inflight : 131072;
    s->min_rto_us = (uint64_t)(cfg->min_rtt_timeout_ms ? cfg->min_rtt_timeout_ms : 1) * 1000;
    s->max_rto_us = (uint64_t)cfg->max_rtt_timeout_ms * 1000;
    if (s->max_rto_us < s->min_rto_us)
        s->max_rto_us = s->min_rto_us;
    s->initial_rto_us = (uint64_t)cfg->initial_rtt_timeout_ms * 1000;
    if (s->initial_rto_us < s->min_rto_us)
        s->initial_rto_us = s->min_rto_us;
    s->max_retries = cfg->max_retries;
    s->mod[0] = &pks_tcp_module;
    s->mod[1] = &pks_udp_module;
    s->svc = &pks_banner_stage;

    s->loop = pk_loop_new(err);
    if (!s->loop) {
        pk_scan_free(s);
        return err ? err->code : PK_ESYS;
    }
    /* io_uring's batched connects are cheaper; without it (an old kernel,
     * a sandbox that forbids it) the epoll module does the same job. */
    struct pk_err uerr = {0};
    if (cfg->tcp && !syn && pks_tcp_uring_module.init(s, &uerr) == 0)
        s->mod[0] = &pks_tcp_uring_module;
    /* Raw sockets are opened now, before the caller may drop privileges. */
    if (syn || (cfg->ping.enabled && cfg->raw)) {
        int rc = pks_raw_open(s, err);
        if (rc < 0) {
            pk_scan_free(s);
            return rc;
        }
    }
    if (syn) {
        s->mod[0] = &pks_syn_module;
        int rc = pks_syn_table_init(s, err);
        if (rc < 0) {
            pk_scan_free(s);
            return rc;
        }
    }
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->epfd < 0) {
        pk_scan_free(s);
        return pk_err_sys(err, "epoll_create1");
    }
    int rc = pks_sched_init(s, err);
    if (rc < 0) {
        pk_scan_free(s);
        return rc;
    }
    if (cfg->ping.enabled) {
        /* Pairs come from the hosts discovery finds, not the permutation. */
        s->shard_size = 0;
        pk_perm_init(&s->slot_perm, s->nslots, cfg->seed ^ 0x5bd1e995u);
        rc = pks_disc_init(s, s->raw ? &pks_disc_raw : &pks_disc_connect, err);
        if (rc < 0) {
            pk_scan_free(s);
            return rc;
        }
        s->discd = &pks_disc_driver;
    }
    s->st.hosts = s->nhosts;
    s->st.total = s->shard_size;
    s->st.max_inflight = s->max_inflight;
    *out = s;
    return 0;
}

void pk_scan_free(struct pk_scan *s)
{
    if (!s)
        return;
    if (s->loop && s->hosts)
        pks_abandon_all(s);
    pks_disc_fini(s);
    pks_raw_close(s);
    pks_tls_ctx_free(s);
    free(s->syn_table);
    for (int t = 0; t < 2; t++)
        if (s->mod[t] && s->mod[t]->fini)
            s->mod[t]->fini(s);
    /* The epoll set goes first: closing its members is then cheaper. */
    if (s->epfd >= 0)
        close(s->epfd);
    s->epfd = -1;
    /* Close every descriptor the pools still hold. */
    for (size_t c = 0; c < s->nchunks; c++) {
        if (s->chunk_is_jobs[c])
            continue;
        struct scan_sock *block = s->chunks[c];
        for (size_t i = 0; i < 1024; i++)
            if (block[i].fd >= 0) {
                close(block[i].fd);
                block[i].fd = -1;
            }
    }
    pks_sched_fini(s);
    if (s->epfd >= 0)
        close(s->epfd);
    pk_loop_free(s->loop);
    free(s->tcp_ports);
    free(s->udp_ports);
    free(s);
}

void pk_scan_stop(struct pk_scan *s)
{
    s->stop = 1;
}

void pk_scan_get_stats(const struct pk_scan *s, struct pk_scan_stats *out)
{
    *out = s->st;
    out->inflight = s->inflight;
    if (s->start_mono_us && !s->st.elapsed_us)
        out->elapsed_us = pk_monotonic_us() - s->start_mono_us;
}

static void on_probe_events(struct pk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)events;
    struct pk_scan *s = arg;
    struct epoll_event ev[512];
    for (;;) {
        int n = epoll_wait(fd, ev, 512, 0);
        if (n <= 0)
            return;
        for (int i = 0; i < n; i++) {
            struct scan_sock *k = ev[i].data.ptr;
            s->mod[scan_proto_index(k->proto)]->event(s, k, ev[i].events);
        }
        if (n < 512)
            return;
    }
}

static void on_raw(struct pk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    pks_raw_read(arg);
}

static void on_tick(struct pk_loop *loop, struct pk_timer *t, void *arg)
{
    struct pk_scan *s = arg;
    if (s->cfg.on_tick)
        s->cfg.on_tick(s->cfg.arg);
    pk_loop_timer_start(loop, t, 100000);
}

static void on_wake(struct pk_loop *loop, struct pk_timer *t, void *arg)
{
    (void)loop;
    (void)t;
    (void)arg; /* the loop turn itself refills */
}

int pk_scan_run(struct pk_scan *s, struct pk_err *err)
{
    s->start_mono_us = pk_monotonic_us();
    s->st.start_wall_us = pks_wall_us();
    pk_loop_update_time(s->loop);
    s->tokens_us = pk_loop_now(s->loop);
    s->tokens = 1;
    int rc = pk_loop_watch(s->loop, s->epfd, PK_EV_READ, on_probe_events, s, err);
    if (rc < 0)
        return rc;
    for (int w = 0; w < 2; w++)
        if (pks_raw_fd(s, w) >= 0 && (rc = pk_loop_watch(s->loop, pks_raw_fd(s, w), PK_EV_READ, on_raw, s, err)) < 0)
            return rc;
    pk_timer_init(&s->tick_timer, on_tick, s);
    pk_timer_init(&s->wake_timer, on_wake, s);
    pk_loop_timer_start(s->loop, &s->tick_timer, 100000);
    while (!s->stop && !s->failed) {
        bool more = pks_fill(s);
        pks_raw_flush(s);
        for (int t = 0; t < 2; t++)
            if (s->mod[t]->flush && s->mod[t]->flush(s))
                more = true; /* answers freed room: fill again before sleeping */
        pks_stream(s, false);
        if (pks_finished(s) || s->stop || s->failed)
            break;
        /* io_uring's deferred completions do not wake an epoll wait: while
         * its connects are in flight, look again every millisecond. */
        int64_t wait = more ? 0 : (s->uring && s->inflight > 0) ? 1000 : 100000;
        rc = pk_loop_once(s->loop, wait, err);
        if (rc < 0) {
            pks_fail(s, rc, err ? err->msg : "event loop failed");
            break;
        }
    }
    if (s->stop)
        s->st.interrupted = true;
    pks_abandon_all(s);
    pk_loop_timer_stop(s->loop, &s->tick_timer);
    pk_loop_timer_stop(s->loop, &s->wake_timer);
    pk_loop_unwatch(s->loop, s->epfd);
    for (int w = 0; w < 2; w++)
        if (pks_raw_fd(s, w) >= 0)
            pk_loop_unwatch(s->loop, pks_raw_fd(s, w));
    s->st.elapsed_us = pk_monotonic_us() - s->start_mono_us;
    pks_stream(s, true);
    if (s->failed) {
        if (err)
            *err = s->fail;
        return s->fail.code ? s->fail.code : PK_ESYS;
    }
    return 0;
}
