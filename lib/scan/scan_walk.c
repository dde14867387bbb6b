/* The order (host, port) pairs are drawn in, and the streaming of hosts
 * that are finished.
 *
 * One permutation over every pair of the target set spreads the probes
 * best, but then every host's last pair comes near the end, so every host
 * keeps its state until then: a silent /16 with -Pn held 600 bytes for
 * each of its 65,536 hosts. Instead the hosts are cut into groups in
 * target order (nmap's host groups); the pairs of one group are permuted
 * among themselves and the groups follow one another. The cursor leaves a
 * group once all of its pairs (in this shard) were drawn, the next group
 * starts at once, and the hosts left behind finish with their last
 * answers or timeouts. So the hosts holding state are those of the pairs
 * in flight, and memory follows the in-flight window, not the target set.
 *
 * A group is as many hosts as make about a million pairs, at most 4,096
 * and at least 16, so a group is always far larger than what is in flight
 * for one host, and one host's ports still come in a random order. A
 * scan of at most one group walks exactly as one permutation of all pairs.
 * Shards split positions, as before: each pair still belongs to exactly
 * one shard. Host discovery walks hosts the same way, in groups of 4,096
 * (scan_discovery.c), so with it too hosts are streamed as they finish. */
#include <stdlib.h>

#include "scan/scan_impl.h"

#define GROUP_PAIRS (1u << 20)
#define GROUP_MAX_HOSTS 4096u
#define GROUP_MIN_HOSTS 16u

static void gperm_enter(struct scan_gperm *g, uint64_t k)
{
    uint64_t first = k * g->group;
    uint64_t n = g->n - first < g->group ? g->n - first : g->group;
    /* Group 0 keeps the seed itself: a scan of one group walks as before. */
    pk_perm_init(&g->perm, n, k ? g->seed ^ pk_hash64(k) : g->seed);
    g->cur = k;
}

void pks_gperm_init(struct scan_gperm *g, uint64_t n, uint64_t group, uint64_t seed)
{
    g->n = n;
    g->group = group ? group : 1;
    g->seed = seed;
    gperm_enter(g, 0);
}

uint64_t pks_gperm_at(struct scan_gperm *g, uint64_t position)
{
    uint64_t k = position / g->group;
    if (k != g->cur)
        gperm_enter(g, k);
    return k * g->group + pk_perm_at(&g->perm, position - k * g->group);
}

void pks_walk_init(struct pk_scan *s)
{
    uint64_t g = (GROUP_PAIRS + s->nslots - 1) / s->nslots;
    if (g > GROUP_MAX_HOSTS)
        g = GROUP_MAX_HOSTS;
    if (g < GROUP_MIN_HOSTS)
        g = GROUP_MIN_HOSTS;
    s->group_hosts = g;
    pks_gperm_init(&s->pairs, s->nhosts * s->nslots, g * s->nslots, s->cfg.seed);
}

uint64_t pks_pair_at(struct pk_scan *s, uint64_t position)
{
    return pks_gperm_at(&s->pairs, position);
}

/* Hosts below the result have every pair of this shard drawn. */
static uint64_t drawn_hosts(const struct pk_scan *s)
{
    if (s->cursor >= s->shard_size)
        return s->nhosts;
    return pks_gperm_floor(&s->pairs, pk_shard_position(&s->shard, s->cursor)) / s->nslots;
}

void pks_host_free(struct scan_host *h)
{
    free(h->deferred[0].v);
    free(h->deferred[1].v);
    free(h->states);
    for (size_t d = 0; d < h->ndetails; d++) {
        struct scan_detail *x = &h->details[d];
        free(x->service);
        free(x->product);
        free(x->version);
        free(x->extra);
        free(x->banner);
        free(x->cert);
    }
    free(h->details);
    free(h->udp);
    free(h);
}

void pks_stream(struct pk_scan *s, bool all)
{
    if (!s->cfg.on_host)
        return;
    uint64_t limit = all ? s->nhosts : s->discd ? s->discd->drawn(s) : drawn_hosts(s);
    while (s->report_next < limit && !s->failed) {
        uint64_t i = s->report_next;
        struct scan_host *h = s->hosts[i];
        /* In target order: a host still at work (waiting for discovery's
         * verdict, or with ports to decide) holds back those after it. */
        if (!all && s->disc && pks_host_status(s, i) == HOST_PENDING)
            return;
        if (h && !all && (h->jobs || h->active || h->ready))
            return;
        struct pk_host_report rep;
        struct pk_err err = {0};
        if (pk_scan_host_report(s, i, &rep, &err) < 0) {
            pks_fail(s, err.code, err.msg);
            return;
        }
        s->cfg.on_host(s->cfg.arg, &rep);
        pk_host_report_free(&rep);
        if (h) {
            if (h->udp)
                pk_loop_timer_stop(s->loop, &h->udp->timer);
            pk_loop_timer_stop(s->loop, &h->deadline);
            s->hosts[i] = NULL;
            pks_host_free(h);
        }
        s->report_next++;
    }
}
