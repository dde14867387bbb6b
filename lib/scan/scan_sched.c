/* The scheduler: pulls (host, port) pairs from the permutation, starts a
 * job for each when capacity allows, parks it in its host's queue when the
 * host has its share, and handles retries and decisions.
 *
 * Capacity is counted in sockets: every live probe holds one descriptor, so
 * the in-flight limit derived from RLIMIT_NOFILE can never be exceeded.
 * Each host gets a fair share of it (or --max-host-inflight), so a host
 * that drops everything holds at most its share while the others run. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scan/scan_impl.h"

#define CHUNK 1024

static int add_chunk(struct pk_scan *s, void *p)
{
    /* Two parallel arrays: chunks_cap is raised only once both have room. */
    size_t cap = s->chunks_cap, cap2 = s->chunks_cap;
    if (PK_ARRAY_RESERVE(s->chunks, cap, s->nchunks + 1, 16) < 0 ||
        PK_ARRAY_RESERVE(s->chunk_is_jobs, cap2, s->nchunks + 1, 16) < 0)
        return -1;
    s->chunks_cap = cap;
    s->chunk_is_jobs[s->nchunks] = false;
    s->chunks[s->nchunks++] = p;
    return 0;
}

static struct scan_job *job_alloc(struct pk_scan *s)
{
    if (!s->free_jobs) {
        struct scan_job *block = calloc(CHUNK, sizeof *block);
        if (!block || add_chunk(s, block) < 0) {
            free(block);
            return NULL;
        }
        s->chunk_is_jobs[s->nchunks - 1] = true;
        for (size_t i = 0; i < CHUNK; i++) {
            block[i].next = s->free_jobs;
            s->free_jobs = &block[i];
        }
    }
    struct scan_job *j = s->free_jobs;
    s->free_jobs = j->next;
    memset(j, 0, sizeof *j);
    return j;
}

struct scan_sock *pks_sock_alloc(struct pk_scan *s)
{
    if (!s->dead) {
        struct scan_sock *block = calloc(CHUNK, sizeof *block);
        if (!block || add_chunk(s, block) < 0) {
            free(block);
            return NULL;
        }
        for (size_t i = 0; i < CHUNK; i++) {
            block[i].fd = -1;
            block[i].next = s->dead;
            s->dead = &block[i];
        }
    }
    struct scan_sock *k = s->dead;
    s->dead = k->next;
    k->next = NULL;
    k->job = NULL;
    return k;
}

void pks_sock_free(struct pk_scan *s, struct scan_sock *k)
{
    if (k->fd >= 0)
        close(k->fd); /* also leaves the epoll set */
    k->fd = -1;
    k->job = NULL;
    k->next = s->dead;
    s->dead = k;
}

/* ---- hosts ---- */

static int slots_push(struct slot_queue *q, uint32_t slot)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        uint32_t *v = malloc(cap * sizeof *v);
        if (!v)
            return -1;
        for (size_t i = 0; i < q->len; i++)
            v[i] = q->v[(q->head + i) % q->cap];
        free(q->v);
        q->v = v;
        q->head = 0;
        q->cap = cap;
    }
    q->v[(q->head + q->len) % q->cap] = slot;
    q->len++;
    return 0;
}

static uint32_t slots_pop(struct slot_queue *q)
{
    uint32_t v = q->v[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    return v;
}

static bool host_has_fresh(const struct pk_scan *s, const struct scan_host *h)
{
    return h->fresh_on && h->fresh < s->nslots;
}

void pks_host_update_active(struct pk_scan *s, struct scan_host *h)
{
    bool active = h->jobs > 0 || h->deferred[0].len > 0 || h->deferred[1].len > 0 || host_has_fresh(s, h);
    if (active != h->active) {
        h->active = active;
        if (active)
            s->active_hosts++;
        else
            s->active_hosts--;
    }
}

static void host_deadline_fired(struct pk_loop *loop, struct pk_timer *t, void *arg);

struct scan_host *pks_host_get(struct pk_scan *s, uint64_t index)
{
    struct scan_host *h = s->hosts[index];
    if (h)
        return h;
    h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    if (!s->disc) { /* -Pn: every host probed counts as up */
        h->up_reason = PK_REASON_USER_SET;
        s->st.hosts_up++;
    }
    h->index = index;
    h->scan = s;
    pk_targets_get(s->cfg.targets, index, &h->addr);
    struct sockaddr_storage ss;
    h->salen = pk_addr_sockaddr(&h->addr, 0, &ss);
    memcpy(&h->sa, &ss, h->salen < sizeof h->sa ? h->salen : sizeof h->sa);
    h->hostname = pk_targets_name(s->cfg.targets, index);
    if (s->nudp) {
        h->udp = calloc(1, sizeof *h->udp);
        if (!h->udp) {
            free(h);
            return NULL;
        }
        pk_timer_init(&h->udp->timer, NULL, NULL);
    }
    pk_timer_init(&h->deadline, host_deadline_fired, h);
    s->hosts[index] = h;
    return h;
}

socklen_t pks_sockaddr_to(const struct scan_host *h, uint16_t port, union scan_sa *out)
{
    memcpy(out, &h->sa, h->salen);
    if (h->addr.family == AF_INET)
        out->in.sin_port = htons(port);
    else
        out->in6.sin6_port = htons(port);
    return h->salen;
}

void pks_sockaddr(const struct scan_host *h, uint16_t port, struct sockaddr_storage *ss,
                   socklen_t *len)
{
    union scan_sa sa;
    *len = pks_sockaddr_to(h, port, &sa);
    memcpy(ss, &sa, *len);
}

static unsigned host_cap(const struct pk_scan *s)
{
    if (s->cfg.max_host_inflight)
        return s->cfg.max_host_inflight;
    uint64_t share = s->max_inflight / (s->active_hosts ? s->active_hosts : 1);
    return share < 16 ? 16 : (unsigned)share;
}

static bool host_can_take(struct pk_scan *s, struct scan_host *h, enum pk_proto proto)
{
    const struct scan_probe_module *m = s->mod[scan_proto_index(proto)];
    if (m->can_start)
        return m->can_start(s, h);
    return h->inflight < host_cap(s);
}

void pks_host_wake(struct pk_scan *s, struct scan_host *h)
{
    if (h->ready || (h->deferred[0].len == 0 && h->deferred[1].len == 0 && !host_has_fresh(s, h)))
        return;
    h->ready = true;
    h->ready_next = NULL;
    if (s->ready_tail)
        s->ready_tail->ready_next = h;
    else
        s->ready_head = h;
    s->ready_tail = h;
}

static struct scan_host *ready_pop(struct pk_scan *s)
{
    struct scan_host *h = s->ready_head;
    if (!h)
        return NULL;
    s->ready_head = h->ready_next;
    if (!s->ready_head)
        s->ready_tail = NULL;
    h->ready = false;
    return h;
}

/* ---- jobs ---- */

void pks_attach(struct pk_scan *s, struct scan_job *j, struct scan_sock *k)
{
    int n = j->att[0] ? (j->att[1] ? 2 : 1) : 0;
    k->job = j;
    k->tryno = j->tries;
    k->sent_us = pk_loop_now(s->loop);
    j->att[n] = k;
    s->inflight++;
    j->host->inflight++;
}

void pks_detach(struct pk_scan *s, struct scan_job *j, struct scan_sock *k)
{
    if (j->att[0] == k) {
        j->att[0] = j->att[1];
        j->att[1] = NULL;
    } else if (j->att[1] == k) {
        j->att[1] = NULL;
    } else {
        return;
    }
    k->job = NULL;
    s->inflight--;
    j->host->inflight--;
}

static void job_timer_fired(struct pk_loop *loop, struct pk_timer *t, void *arg);

void pks_arm(struct pk_scan *s, struct scan_job *j, uint64_t delay_us)
{
    pk_loop_timer_start(s->loop, &j->timer, delay_us);
}

static void retry_unlink(struct pk_scan *s, struct scan_job *j)
{
    if (!j->queued)
        return;
    if (j->prev)
        j->prev->next = j->next;
    else
        s->retry_head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        s->retry_tail = j->prev;
    j->next = j->prev = NULL;
    j->queued = false;
}

static void retry_push(struct pk_scan *s, struct scan_job *j)
{
    if (j->queued)
        return;
    j->queued = true;
    j->next = NULL;
    j->prev = s->retry_tail;
    if (s->retry_tail)
        s->retry_tail->next = j;
    else
        s->retry_head = j;
    s->retry_tail = j;
}

static void job_release(struct pk_scan *s, struct scan_job *j)
{
    struct scan_host *h = j->host;
    pk_loop_timer_stop(s->loop, &j->timer);
    retry_unlink(s, j);
    h->jobs--;
    s->jobs_live--;
    j->host = NULL;
    j->next = s->free_jobs;
    s->free_jobs = j;
    pks_host_update_active(s, h);
    pks_host_wake(s, h);
}

bool pks_rate_take(struct pk_scan *s)
{
    return pks_rate_take_n(s, 1);
}

bool pks_rate_take_n(struct pk_scan *s, unsigned n)
{
    if (s->cfg.rate <= 0)
        return true;
    uint64_t now = pk_loop_now(s->loop);
    /* 50 ms of credit: a process the scheduler kept waiting that long
     * catches up, so the rate holds on a busy machine. */
    double burst = s->cfg.rate / 20.0;
    if (burst < 1)
        burst = 1;
    s->tokens += (double)(now - s->tokens_us) * s->cfg.rate / 1e6;
    s->tokens_us = now;
    if (burst < n)
        burst = n;
    if (s->tokens > burst)
        s->tokens = burst;
    if (s->tokens >= n) {
        s->tokens -= n;
        return true;
    }
    uint64_t wait = (uint64_t)((n - s->tokens) * 1e6 / s->cfg.rate) + 1;
    if (!pk_timer_armed(&s->wake_timer) || s->wake_timer.when_us > now + wait)
        pk_loop_timer_start(s->loop, &s->wake_timer, wait);
    return false;
}

/* Sends one probe of j. May decide (and free) j: callers must not touch j
 * after a return of 1. */
static int send_probe(struct pk_scan *s, struct scan_job *j)
{
    const struct scan_probe_module *m = s->mod[scan_proto_index(j->proto)];
    struct scan_host *h = j->host;
    if (s->cfg.host_timeout_ms && !h->deadline_set) {
        h->deadline_set = true;
        if (pk_loop_timer_start(s->loop, &h->deadline, (uint64_t)s->cfg.host_timeout_ms * 1000u) < 0)
            pks_fail(s, PK_ENOMEM, "out of memory");
    }
    j->tries++;
    j->last_us = pk_loop_now(s->loop);
    if (j->tries == 1)
        j->first_us = j->last_us;
    s->st.probes++;
    s->st.last_send_us = j->last_us - s->start_mono_us;
    int rc = m->start(s, j);
    if (rc == SCAN_AGAIN) {
        j->tries--;
        s->st.probes--;
        s->again_until_us = pk_loop_now(s->loop) + 20000;
        return rc;
    }
    if (rc == 0) {
        uint64_t wait = pks_timeout_us(s, h);
        /* The last try --max-retries allows: wake once, when the job will
         * be decided (its horizon may be later than one timeout), rather
         * than at the timeout only to be put back to sleep - a second
         * timer per probe in a scan of silence. */
        if (j->tries > s->max_retries) {
            uint64_t horizon = j->first_us + pks_horizon_us(s, h);
            if (horizon > j->last_us + wait)
                wait = horizon - j->last_us;
        }
        pks_arm(s, j, wait);
    }
    return rc;
}

static bool start_job(struct pk_scan *s, struct scan_host *h, uint32_t slot)
{
    if (h->timed_out)
        return true; /* given up: the pair is skipped, nothing allocated */
    struct scan_job *j = job_alloc(s);
    if (!j) {
        pks_fail(s, PK_ENOMEM, "out of memory");
        return false;
    }
    j->host = h;
    j->slot = slot;
    if (slot < s->ntcp) {
        j->proto = PK_TCP;
        j->port = s->tcp_ports[slot];
    } else {
        j->proto = PK_UDP;
        j->port = s->udp_ports[slot - s->ntcp];
    }
    pk_timer_init(&j->timer, job_timer_fired, j);
    h->jobs++;
    s->jobs_live++;
    pks_host_update_active(s, h);
    if (send_probe(s, j) == SCAN_AGAIN) {
        /* Park the pair again; the pause keeps us from spinning. */
        j->tries = 0;
        h->jobs--;
        s->jobs_live--;
        j->host = NULL;
        j->next = s->free_jobs;
        s->free_jobs = j;
        if (slots_push(&h->deferred[scan_proto_index(j->proto)], slot) == 0)
            s->deferred_total++;
        pks_host_update_active(s, h);
        pks_host_wake(s, h);
        return false;
    }
    return true;
}

static void job_timer_fired(struct pk_loop *loop, struct pk_timer *t, void *arg)
{
    (void)loop;
    (void)t;
    struct scan_job *j = arg;
    struct pk_scan *s = j->host->scan;
    s->mod[scan_proto_index(j->proto)]->timeout(s, j);
}

void pks_send_retry(struct pk_scan *s, struct scan_job *j)
{
    if (pk_loop_now(s->loop) < s->again_until_us || !pks_rate_take(s)) {
        retry_push(s, j);
        return;
    }
    /* Out of descriptors: the new probe replaces this job's older one
     * rather than waiting for a free descriptor. */
    if (j->att[0] && !j->att[SCAN_MAX_ATTEMPTS - 1] && s->inflight >= s->max_inflight)
        s->mod[scan_proto_index(j->proto)]->recycle(s, j);
    if (!j->att[SCAN_MAX_ATTEMPTS - 1] && s->inflight >= s->max_inflight) {
        retry_push(s, j);
        return;
    }
    if (send_probe(s, j) == SCAN_AGAIN)
        retry_push(s, j); /* sent once the pause is over */
}

void pks_retry_or_give_up(struct pk_scan *s, struct scan_job *j, enum pk_port_state give_up)
{
    struct scan_host *h = j->host;
    uint64_t now = pk_loop_now(s->loop);
    uint64_t to = pks_timeout_us(s, h);
    if (j->tries < pks_tries_needed(s, h)) {
        if (now - j->last_us >= to)
            pks_send_retry(s, j);
        else
            pks_arm(s, j, j->last_us + to - now);
        return;
    }
    uint64_t until = j->last_us + to;
    uint64_t horizon = j->first_us + pks_horizon_us(s, h);
    if (horizon > until)
        until = horizon;
    if (now < until) {
        pks_arm(s, j, until - now);
        return;
    }
    pks_decide(s, j, give_up, PK_REASON_NO_RESPONSE, 0);
}

void pks_answer(struct pk_scan *s, struct scan_job *j, const struct scan_sock *k, enum pk_port_state st,
                 enum pk_reason why)
{
    struct scan_host *h = j->host;
    uint64_t now = pk_loop_now(s->loop);
    uint64_t rtt = now > k->sent_us ? now - k->sent_us : 1;
    /* Beyond a second the kernel may have resent the SYN: the sample could
     * belong to either copy, so it is not taken (Karn's rule). */
    if (rtt < 1000000) {
        pks_timing_sample(&h->tm, rtt);
        pks_timing_sample(&s->global, rtt);
    }
    pks_timing_answered(s, h, k->tryno, j->tries);
    if (!h->answered) {
        h->answered = true;
        s->st.hosts_answered++;
    }
    pks_decide(s, j, st, why, (uint32_t)(rtt > UINT32_MAX ? UINT32_MAX : rtt));
}

void pks_decide(struct pk_scan *s, struct scan_job *j, enum pk_port_state st, enum pk_reason why,
                 uint32_t rtt_us)
{
    s->mod[scan_proto_index(j->proto)]->drop(s, j);
    pk_loop_timer_stop(s->loop, &j->timer);
    retry_unlink(s, j);
    j->state = (uint8_t)st;
    j->reason = (uint8_t)why;
    j->rtt_us = rtt_us;
    if (j->phase == JOB_IDENTIFYING)
        return; /* the service stage finishes it */
    pks_record(s, j, NULL, false, NULL, NULL, NULL, NULL);
    job_release(s, j);
}

void pks_service_done(struct pk_scan *s, struct scan_job *j, const char *service,
                       const char *product, const char *version, const char *extra,
                       const char *banner)
{
    j->phase = JOB_PROBING;
    pks_record(s, j, service, service != NULL, product, version, extra, banner);
    job_release(s, j);
}

/* ---- --host-timeout ---- */

/* As nmap: a host not finished in time is given up whole. Its probes in
 * flight are dropped, its parked and future pairs skipped, and what was
 * decided is taken out of the totals, since none of it is reported. */
static void host_time_out(struct pk_scan *s, struct scan_host *h)
{
    h->timed_out = true;
    s->st.hosts_timed_out++;
    h->last_wall_us = pks_wall_us(); /* the report's end time: when it was given up */
    if (!h->first_wall_us)
        h->first_wall_us = h->last_wall_us;
    if (h->udp)
        pk_loop_timer_stop(s->loop, &h->udp->timer);
    for (int t = 0; t < 2; t++) {
        s->deferred_total -= h->deferred[t].len;
        h->deferred[t].len = 0;
        h->deferred[t].head = 0;
        for (int st = 1; st < PK_STATE_COUNT; st++) {
            s->st.states[st] -= h->counts[t][st];
            s->st.done -= h->counts[t][st];
        }
    }
    if (host_has_fresh(s, h)) {
        s->fresh_total -= s->nslots - h->fresh;
        h->fresh = s->nslots;
    }
    for (size_t c = 0; c < s->nchunks && h->jobs; c++) {
        if (!s->chunk_is_jobs[c])
            continue;
        struct scan_job *block = s->chunks[c];
        for (size_t i = 0; i < CHUNK; i++) {
            struct scan_job *j = &block[i];
            if (j->host != h)
                continue;
            if (j->phase == JOB_IDENTIFYING) {
                s->svc->abort(s, j);
                j->phase = JOB_PROBING;
            } else {
                s->mod[scan_proto_index(j->proto)]->drop(s, j);
            }
            job_release(s, j);
        }
    }
    pks_host_update_active(s, h);
}

static void host_deadline_fired(struct pk_loop *loop, struct pk_timer *t, void *arg)
{
    (void)loop;
    (void)t;
    struct scan_host *h = arg;
    /* A host with nothing in hand may still have pairs to come from the
     * permutation (which ones this shard holds is not known here): the
     * first of them to arrive gives it up. */
    h->late = true;
    if (h->jobs || h->deferred[0].len || h->deferred[1].len || host_has_fresh(h->scan, h))
        host_time_out(h->scan, h);
}

/* ---- filling the pipe ---- */

bool pks_fill(struct pk_scan *s)
{
    if (s->stop || s->failed)
        return false;
    uint64_t now = pk_loop_update_time(s->loop);
    if (now < s->again_until_us) {
        if (!pk_timer_armed(&s->wake_timer))
            pk_loop_timer_start(s->loop, &s->wake_timer, s->again_until_us - now);
        return false;
    }
    unsigned budget = SCAN_FILL_BATCH;

    /* Retries first: their jobs already hold a place. */
    while (s->retry_head && budget) {
        struct scan_job *j = s->retry_head;
        bool room = j->att[SCAN_MAX_ATTEMPTS - 1] != NULL || s->inflight < s->max_inflight;
        if (!room || !pks_rate_take(s))
            return false;
        retry_unlink(s, j);
        budget--;
        if (send_probe(s, j) == SCAN_AGAIN) {
            retry_push(s, j);
            return false;
        }
    }

    /* Then hosts whose parked pairs can go now. */
    struct scan_host *stop_at = NULL;
    while (s->ready_head && budget && s->inflight < s->max_inflight) {
        struct scan_host *h = ready_pop(s);
        bool more = false;
        for (int t = 0; t < 2; t++) {
            enum pk_proto proto = t ? PK_UDP : PK_TCP;
            struct slot_queue *q = &h->deferred[t];
            while (q->len && budget && s->inflight < s->max_inflight && host_can_take(s, h, proto)) {
                if (!pks_rate_take(s)) {
                    pks_host_wake(s, h);
                    return false;
                }
                uint32_t slot = slots_pop(q);
                s->deferred_total--;
                budget--;
                if (!start_job(s, h, slot))
                    return false;
            }
            if (q->len && (!budget || s->inflight >= s->max_inflight))
                more = true;
        }
        /* Then its ports not yet started (a host found by discovery). */
        while (host_has_fresh(s, h) && budget && s->inflight < s->max_inflight) {
            uint32_t slot = (uint32_t)pk_perm_at(&s->slot_perm, (h->fresh + h->rot) % s->nslots);
            enum pk_proto proto = slot < s->ntcp ? PK_TCP : PK_UDP;
            if (!host_can_take(s, h, proto))
                break;
            if (!pks_rate_take(s)) {
                pks_host_wake(s, h);
                return false;
            }
            h->fresh++;
            s->fresh_total--;
            budget--;
            if (!start_job(s, h, slot))
                return false;
        }
        if (host_has_fresh(s, h) && (!budget || s->inflight >= s->max_inflight))
            more = true;
        if (more) { /* out of budget or capacity: keep its place */
            pks_host_wake(s, h);
            if (!stop_at)
                stop_at = h;
            else if (stop_at == h)
                break;
        }
        pks_host_update_active(s, h);
    }

    /* Then discovery of more hosts. */
    if (s->discd && budget)
        budget -= s->discd->fill(s, budget);

    /* Then fresh pairs from the permutation. */
    while (s->cursor < s->shard_size && budget && s->inflight < s->max_inflight &&
           s->deferred_total < SCAN_DEFER_MAX) {
        uint64_t pair = pks_pair_at(s, pk_shard_position(&s->shard, s->cursor));
        uint64_t hi = pair / s->nslots;
        uint32_t slot = (uint32_t)(pair % s->nslots);
        struct scan_host *h = pks_host_get(s, hi);
        if (!h) {
            pks_fail(s, PK_ENOMEM, "out of memory");
            return false;
        }
        if (h->late && !h->timed_out)
            host_time_out(s, h);
        if (h->timed_out) {
            s->cursor++;
            budget--;
            continue;
        }
        enum pk_proto proto = slot < s->ntcp ? PK_TCP : PK_UDP;
        int t = scan_proto_index(proto);
        if (h->deferred[t].len == 0 && host_can_take(s, h, proto)) {
            if (!pks_rate_take(s))
                return false;
            s->cursor++;
            budget--;
            if (!start_job(s, h, slot))
                return false;
        } else {
            s->cursor++;
            if (slots_push(&h->deferred[t], slot) < 0) {
                pks_fail(s, PK_ENOMEM, "out of memory");
                return false;
            }
            s->deferred_total++;
            pks_host_update_active(s, h);
            /* Nothing in flight will wake this host: put it in line now. */
            if (h->jobs == 0 && proto == PK_TCP)
                pks_host_wake(s, h);
        }
    }
    return budget == 0; /* more may be waiting: do not sleep */
}

bool pks_more_to_start(const struct pk_scan *s)
{
    return s->cursor < s->shard_size || s->deferred_total > 0 || s->retry_head || s->fresh_total > 0 ||
           (s->discd && !s->discd->finished(s));
}

bool pks_finished(const struct pk_scan *s)
{
    return s->cursor >= s->shard_size && s->jobs_live == 0 && s->deferred_total == 0 &&
           s->fresh_total == 0 && (!s->discd || s->discd->finished(s));
}

void pks_abandon_all(struct pk_scan *s)
{
    for (uint64_t i = 0; i < s->nhosts; i++) {
        struct scan_host *h = s->hosts[i];
        if (!h)
            continue;
        if (h->udp)
            pk_loop_timer_stop(s->loop, &h->udp->timer);
        pk_loop_timer_stop(s->loop, &h->deadline);
        for (int t = 0; t < 2; t++) {
            s->deferred_total -= h->deferred[t].len;
            h->deferred[t].len = 0;
        }
        if (h->fresh_on)
            h->fresh = s->nslots;
    }
    s->ready_head = s->ready_tail = NULL;
    s->fresh_total = 0;
    if (s->discd)
        s->discd->abandon(s);
    for (size_t c = 0; c < s->nchunks; c++) {
        if (!s->chunk_is_jobs[c])
            continue;
        struct scan_job *block = s->chunks[c];
        for (size_t i = 0; i < CHUNK; i++) {
            struct scan_job *j = &block[i];
            if (!j->host)
                continue;
            if (j->phase == JOB_IDENTIFYING) {
                /* Found open; only the service is unknown. */
                s->svc->abort(s, j);
                pks_service_done(s, j, NULL, NULL, NULL, NULL, NULL);
                continue;
            }
            s->mod[scan_proto_index(j->proto)]->drop(s, j);
            job_release(s, j);
        }
    }
}

int pks_sched_init(struct pk_scan *s, struct pk_err *err)
{
    s->hosts = calloc(s->nhosts, sizeof *s->hosts);
    if (!s->hosts)
        return pk_err_set(err, PK_ENOMEM, "out of memory for %llu hosts",
                          (unsigned long long)s->nhosts);
    return 0;
}

void pks_sched_fini(struct pk_scan *s)
{
    for (uint64_t i = 0; s->hosts && i < s->nhosts; i++)
        if (s->hosts[i])
            pks_host_free(s->hosts[i]);
    free(s->hosts);
    for (size_t c = 0; c < s->nchunks; c++)
        free(s->chunks[c]);
    free(s->chunks);
    free(s->chunk_is_jobs);
}
