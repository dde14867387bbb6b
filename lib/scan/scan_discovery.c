/* Host discovery: which of the target hosts answer at all, before their
 * ports are probed (nmap's "ping scan").
 *
 * Hosts are walked in a keyed pseudo-random order, 4,096 hosts at a time
 * in target order (scan_walk.c), so finished hosts can be handed to the
 * outputs and freed while the scan goes on (one shard of it with --shard:
 * with discovery on, shards split hosts, not (host, port) pairs, so a host
 * found in one shard is probed there). Each host gets its probe
 * set from a discovery module, then waits in a FIFO ring: every host waits
 * the same time, so the ring's head is always the next to expire and no
 * timer per host is needed. A host that answers is up at once and its port
 * probes start right away, while discovery goes on for the others. A host
 * whose time runs out is down.
 *
 * Memory: two bits of status per target host, the ring (hosts waiting
 * now, bounded by the rate times the timeout), and a scan_host only for
 * hosts that answered, until they are finished and streamed (on_host). An
 * answer that comes after its host was streamed as down is ignored.
 *
 * This file also holds the connect module: without raw sockets a host is
 * up when a TCP connect to one of a few ports is accepted or refused. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scan/scan_impl.h"

#define DISC_GROUP 4096u

struct scan_disc {
    const struct scan_disc_module *mod;
    struct scan_gperm hosts;
    struct pk_shard shard;
    uint64_t nshard, cursor;
    struct disc_wait *ring;
    uint64_t cap, head, tail;     /* seq numbers: live entries are [head, tail) */
    uint16_t cports[DISC_MAX_CONNECTS];
    unsigned ncports;
    int epfd;                     /* connect module */
    uint64_t pending;             /* hosts asked and not yet decided */
};

static void status_set(struct pk_scan *s, uint64_t i, unsigned v)
{
    unsigned old = pks_host_status(s, i);
    if (s->disc && old == HOST_PENDING && v != HOST_PENDING)
        s->disc->pending--;
    else if (s->disc && old != HOST_PENDING && v == HOST_PENDING)
        s->disc->pending++;
    uint8_t *b = &s->host_status[i / 4];
    unsigned sh = 2 * (unsigned)(i % 4);
    *b = (uint8_t)((*b & ~(3u << sh)) | (v << sh));
}

int64_t pks_host_index(const struct pk_scan *s, const struct pk_addr *a)
{
    uint64_t lo = 0, hi = s->nhosts;
    size_t n = a->family == AF_INET6 ? 16 : 4;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        struct pk_addr m;
        pk_targets_get(s->cfg.targets, mid, &m);
        int c = m.family != a->family ? (m.family == AF_INET ? -1 : 1) : memcmp(m.bytes, a->bytes, n);
        if (c == 0)
            return (int64_t)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static bool is_loopback(const struct pk_addr *a)
{
    static const uint8_t v6lo[16] = {[15] = 1};
    return a->family == AF_INET ? a->bytes[0] == 127 : memcmp(a->bytes, v6lo, 16) == 0;
}

void pks_host_up(struct pk_scan *s, uint64_t index, enum pk_reason why, uint64_t rtt_us)
{
    unsigned st = pks_host_status(s, index);
    if (st == HOST_UP || index < s->report_next)
        return; /* known, or already reported (down) and freed */
    if (st == HOST_DOWN)
        s->st.hosts_down--; /* a late answer: it is up after all */
    status_set(s, index, HOST_UP);
    s->st.hosts_up++;
    struct scan_host *h = pks_host_get(s, index);
    if (!h) {
        pks_fail(s, PK_ENOMEM, "out of memory");
        return;
    }
    h->up_reason = (uint8_t)why;
    if (!h->answered) {
        h->answered = true;
        s->st.hosts_answered++;
    }
    if (rtt_us > 0 && rtt_us < 10000000) {
        pks_timing_sample(&h->tm, rtt_us);
        pks_timing_sample(&s->global, rtt_us);
    }
    if (s->cfg.ping_only || h->fresh_on)
        return;
    h->fresh_on = true;
    h->fresh = 0;
    h->rot = (uint32_t)(pk_hash64(index ^ s->cfg.seed) % s->nslots);
    s->fresh_total += s->nslots;
    s->st.total += s->nslots;
    pks_host_update_active(s, h);
    pks_host_wake(s, h);
}

static void host_down(struct pk_scan *s, uint64_t index)
{
    status_set(s, index, HOST_DOWN);
    s->st.hosts_down++;
}

/* ---- the wait ring ---- */

struct disc_wait *pks_disc_wait_at(struct pk_scan *s, uint64_t seq)
{
    struct scan_disc *d = s->disc;
    if (seq < d->head || seq >= d->tail)
        return NULL;
    return &d->ring[seq % d->cap];
}

static struct disc_wait *ring_push(struct pk_scan *s)
{
    struct scan_disc *d = s->disc;
    if (d->tail - d->head == d->cap) {
        uint64_t cap = d->cap ? d->cap * 2 : 1024;
        struct disc_wait *v = malloc(cap * sizeof *v);
        if (!v)
            return NULL;
        /* Live entries keep their seq: each lands at seq % cap. */
        for (uint64_t q = d->head; q < d->tail; q++)
            v[q % cap] = d->ring[q % d->cap];
        free(d->ring);
        d->ring = v;
        d->cap = cap;
    }
    struct disc_wait *w = &d->ring[d->tail % d->cap];
    memset(w, 0, sizeof *w);
    w->seq = d->tail++;
    for (int i = 0; i < DISC_MAX_CONNECTS; i++)
        w->fd[i] = -1;
    return w;
}

/* How long a host may take to answer: the initial timeout until some host
 * has answered, then a generous multiple of the measured round trip. */
static uint64_t disc_timeout_us(const struct pk_scan *s)
{
    if (s->global.samples < 4)
        return s->initial_rto_us;
    double to = 4 * (s->global.srtt_us + 4 * s->global.rttvar_us);
    double floor = s->min_rto_us > 200000 ? (double)s->min_rto_us : 200000.0;
    if (to < floor)
        to = floor;
    if (to > (double)s->initial_rto_us)
        to = (double)s->initial_rto_us;
    return (uint64_t)to;
}

void pks_disc_answered(struct pk_scan *s, struct disc_wait *w, enum pk_reason why)
{
    uint64_t rtt = pk_loop_now(s->loop) - w->sent_us;
    s->disc->mod->forget(s, w);
    pks_host_up(s, w->host, why, rtt ? rtt : 1);
}

/* One probe of w failed for sure (unreachable): with none left, down now. */
void pks_disc_probe_failed(struct pk_scan *s, struct disc_wait *w)
{
    if (w->open == 0 && pks_host_status(s, w->host) == HOST_PENDING)
        host_down(s, w->host);
}

static void expire(struct pk_scan *s)
{
    struct scan_disc *d = s->disc;
    uint64_t now = pk_loop_now(s->loop), to = disc_timeout_us(s);
    while (d->head < d->tail) {
        struct disc_wait *w = &d->ring[d->head % d->cap];
        if (w->sent_us + to > now) {
            /* Wake up when it expires, even if nothing else happens. */
            uint64_t wait = w->sent_us + to - now;
            if (!pk_timer_armed(&s->wake_timer) || s->wake_timer.when_us > now + wait)
                pk_loop_timer_start(s->loop, &s->wake_timer, wait);
            break;
        }
        d->mod->forget(s, w);
        if (pks_host_status(s, w->host) == HOST_PENDING)
            host_down(s, w->host);
        d->head++;
    }
}

static unsigned disc_fill(struct pk_scan *s, unsigned budget)
{
    struct scan_disc *d = s->disc;
    unsigned used = 0;
    expire(s);
    unsigned cost = d->mod->cost ? d->mod->cost(s) : 0;
    unsigned nprobes = cost ? cost
                            : (unsigned)(s->cfg.ping.icmp_echo + s->cfg.ping.icmp_timestamp +
                                         s->cfg.ping.nsyn + s->cfg.ping.nack + s->cfg.ping.nudp);
    while (d->cursor < d->nshard && used < budget && !s->failed) {
        if (cost && s->inflight + cost > s->max_inflight)
            break;
        uint64_t host = pks_gperm_at(&d->hosts, pk_shard_position(&d->shard, d->cursor));
        struct pk_addr a;
        pk_targets_get(s->cfg.targets, host, &a);
        if (is_loopback(&a)) { /* this machine: up, nothing to ask */
            d->cursor++;
            status_set(s, host, HOST_PENDING);
            pks_host_up(s, host, PK_REASON_LOCALHOST, 0);
            continue;
        }
        if (!pks_rate_take_n(s, nprobes ? nprobes : 1))
            break;
        struct disc_wait *w = ring_push(s);
        if (!w) {
            pks_fail(s, PK_ENOMEM, "out of memory");
            break;
        }
        w->host = host;
        w->sent_us = pk_loop_now(s->loop);
        status_set(s, host, HOST_PENDING);
        int n = d->mod->send(s, w);
        if (n == DISC_AGAIN) {
            status_set(s, host, HOST_UNSEEN);
            d->tail--;
            break;
        }
        d->cursor++;
        used++;
        s->st.hosts_pinged++;
        s->st.ping_probes += (uint64_t)(n > 0 ? n : 0);
        s->st.last_send_us = w->sent_us - s->start_mono_us;
        if (n == 0 && pks_host_status(s, host) == HOST_PENDING)
            host_down(s, host);
    }
    return used;
}

static uint64_t disc_drawn(const struct pk_scan *s)
{
    const struct scan_disc *d = s->disc;
    if (d->cursor >= d->nshard)
        return s->nhosts;
    return pks_gperm_floor(&d->hosts, pk_shard_position(&d->shard, d->cursor));
}

static bool disc_finished(const struct pk_scan *s)
{
    const struct scan_disc *d = s->disc;
    if (!d)
        return true;
    /* Waiting hosts that already answered need not keep the scan alive. */
    return d->cursor >= d->nshard && d->pending == 0;
}

static void disc_abandon(struct pk_scan *s)
{
    struct scan_disc *d = s->disc;
    if (!d)
        return;
    for (uint64_t q = d->head; q < d->tail; q++)
        d->mod->forget(s, &d->ring[q % d->cap]);
    d->head = d->tail;
}

const struct scan_disc_driver pks_disc_driver = {
    .fill = disc_fill,
    .finished = disc_finished,
    .abandon = disc_abandon,
    .drawn = disc_drawn,
};

int pks_disc_init(struct pk_scan *s, const struct scan_disc_module *mod, struct pk_err *err)
{
    struct scan_disc *d = calloc(1, sizeof *d);
    s->host_status = calloc(s->nhosts / 4 + 1, 1);
    if (!d || !s->host_status) {
        free(d);
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    }
    d->epfd = -1;
    s->disc = d;
    d->mod = mod;
    pks_gperm_init(&d->hosts, s->nhosts, DISC_GROUP, s->cfg.seed ^ 0x9e3779b97f4a7c15ULL);
    d->shard = s->shard;
    d->nshard = pk_shard_size(s->nhosts, &d->shard);
    /* Without raw sockets: connects to the SYN and ACK ping ports (nmap's
     * unprivileged default is 80 and 443). */
    const struct pk_ping_config *p = &s->cfg.ping;
    for (unsigned i = 0; i < p->nsyn && d->ncports < DISC_MAX_CONNECTS; i++)
        d->cports[d->ncports++] = p->syn_ports[i];
    for (unsigned i = 0; i < p->nack && d->ncports < DISC_MAX_CONNECTS; i++) {
        bool dup = false;
        for (unsigned k = 0; k < d->ncports; k++)
            dup |= d->cports[k] == p->ack_ports[i];
        if (!dup)
            d->cports[d->ncports++] = p->ack_ports[i];
    }
    if (d->ncports == 0) {
        d->cports[d->ncports++] = 80;
        d->cports[d->ncports++] = 443;
    }
    return d->mod->init ? d->mod->init(s, err) : 0;
}

void pks_disc_fini(struct pk_scan *s)
{
    struct scan_disc *d = s->disc;
    if (d) {
        disc_abandon(s);
        if (d->mod->fini)
            d->mod->fini(s);
        free(d->ring);
        free(d);
    }
    s->disc = NULL;
    free(s->host_status);
    s->host_status = NULL;
}

/* ---- the connect module ---- */

static void conn_close(struct pk_scan *s, struct disc_wait *w, unsigned i)
{
    if (w->fd[i] < 0)
        return;
    struct linger lg = {1, 0}; /* RST: no TIME_WAIT on the target */
    setsockopt(w->fd[i], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(w->fd[i]);
    w->fd[i] = -1;
    w->open--;
    s->inflight--;
}

static void conn_forget(struct pk_scan *s, struct disc_wait *w)
{
    for (unsigned i = 0; i < w->nfd; i++)
        conn_close(s, w, i);
}

static void conn_events(struct pk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)events;
    struct pk_scan *s = arg;
    struct epoll_event ev[256];
    int n = epoll_wait(fd, ev, 256, 0);
    for (int e = 0; e < n; e++) {
        uint64_t seq = ev[e].data.u64 >> 8;
        unsigned i = (unsigned)(ev[e].data.u64 & 0xff);
        struct disc_wait *w = pks_disc_wait_at(s, seq);
        if (!w || i >= w->nfd || w->fd[i] < 0)
            continue; /* closed since */
        int soerr = 0;
        socklen_t len = sizeof soerr;
        getsockopt(w->fd[i], SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr == 0 || soerr == ECONNREFUSED) {
            pks_disc_answered(s, w, soerr ? PK_REASON_CONN_REFUSED : PK_REASON_SYN_ACK);
        } else if (soerr != EINPROGRESS && soerr != EALREADY) {
            conn_close(s, w, i);
            pks_disc_probe_failed(s, w);
        }
    }
}

static int conn_init(struct pk_scan *s, struct pk_err *err)
{
    struct scan_disc *d = s->disc;
    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (d->epfd < 0)
        return pk_err_sys(err, "epoll_create1");
    return pk_loop_watch(s->loop, d->epfd, PK_EV_READ, conn_events, s, err);
}

static void conn_fini(struct pk_scan *s)
{
    struct scan_disc *d = s->disc;
    if (d->epfd >= 0) {
        pk_loop_unwatch(s->loop, d->epfd);
        close(d->epfd);
    }
    d->epfd = -1;
}

static int conn_send(struct pk_scan *s, struct disc_wait *w)
{
    struct scan_disc *d = s->disc;
    struct pk_addr a;
    pk_targets_get(s->cfg.targets, w->host, &a);
    int sent = 0;
    for (unsigned i = 0; i < d->ncports; i++) {
        int fd = socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            if (sent == 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM))
                return DISC_AGAIN;
            break;
        }
        struct sockaddr_storage ss;
        socklen_t sl = pk_addr_sockaddr(&a, d->cports[i], &ss);
        w->fd[i] = fd;
        w->nfd = (uint8_t)(i + 1);
        w->open++;
        s->inflight++;
        sent++;
        if (connect(fd, (struct sockaddr *)&ss, sl) == 0 || errno == ECONNREFUSED) {
            pks_disc_answered(s, w, errno == ECONNREFUSED ? PK_REASON_CONN_REFUSED : PK_REASON_SYN_ACK);
            return sent;
        }
        if (errno != EINPROGRESS) {
            conn_close(s, w, i);
            continue;
        }
        struct epoll_event ev = {.events = EPOLLOUT | EPOLLET, .data.u64 = w->seq << 8 | i};
        if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            conn_close(s, w, i);
    }
    return w->open ? sent : 0;
}

static unsigned conn_cost(const struct pk_scan *s)
{
    return s->disc->ncports;
}

const struct scan_disc_module pks_disc_connect = {
    .name = "tcp-connect-ping",
    .init = conn_init,
    .fini = conn_fini,
    .send = conn_send,
    .forget = conn_forget,
    .cost = conn_cost,
};
