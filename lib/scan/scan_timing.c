/* How long to wait for a probe and how often to try.
 *
 * Timeouts follow the host's round-trip time (RFC 6298's smoothed RTT and
 * variance). A host that has answered nothing yet gets the initial timeout
 * as its horizon, tried a few times within it.
 *
 * Retries follow measured loss, never guesses: every answered job tells how
 * many of its probes went unanswered before one got through. From that loss
 * rate p and the number of ports M the host has, a silent port gets the
 * smallest number of tries k (at least 2) for which M * p^k, the expected
 * number of ports wrongly called filtered, stays below 1%. A clean link
 * needs 2 tries, 5% random loss on 65,535 ports about 6. Loss only adds
 * tries; it never lowers the rate, so a lossy link is not mistaken for a
 * congested one. */
#include <math.h>

#include "scan/scan_impl.h"

void pks_timing_sample(struct scan_timing *t, uint64_t rtt_us)
{
    double r = (double)rtt_us;
    if (t->samples == 0) {
        t->srtt_us = r;
        t->rttvar_us = r / 2;
    } else {
        t->rttvar_us = 0.75 * t->rttvar_us + 0.25 * fabs(t->srtt_us - r);
        t->srtt_us = 0.875 * t->srtt_us + 0.125 * r;
    }
    t->samples++;
}

void pks_timing_answered(struct pk_scan *s, struct scan_host *h, unsigned tryno, unsigned tries)
{
    /* The answering try says the ones before it were lost; later tries were
     * sent before the answer came and say nothing. */
    unsigned lost = tryno > 0 ? tryno - 1 : 0;
    (void)tries;
    h->tm.tries += lost + 1;
    h->tm.lost += lost;
    s->global.tries += lost + 1;
    s->global.lost += lost;
}

uint64_t pks_timeout_us(const struct pk_scan *s, const struct scan_host *h)
{
    const struct scan_timing *t = &h->tm;
    double to;
    if (t->samples)
        to = t->srtt_us + 4 * t->rttvar_us;
    else
        return s->initial_rto_us / 4 > s->min_rto_us ? s->initial_rto_us / 4 : s->min_rto_us;
    if (to < (double)s->min_rto_us)
        to = (double)s->min_rto_us;
    if (to > (double)s->max_rto_us)
        to = (double)s->max_rto_us;
    return (uint64_t)to;
}

uint64_t pks_horizon_us(const struct pk_scan *s, const struct scan_host *h)
{
    return h->tm.samples ? 0 : s->initial_rto_us;
}

static double loss_rate(const struct pk_scan *s, const struct scan_host *h)
{
    /* The whole scan's loss (with a 1% prior) is the prior for each host. */
    double global = ((double)s->global.lost + 1.0) / ((double)s->global.tries + 100.0);
    double p = ((double)h->tm.lost + 20.0 * global) / ((double)h->tm.tries + 20.0);
    if (p < 1e-9)
        p = 1e-9;
    if (p > 0.9)
        p = 0.9;
    return p;
}

unsigned pks_tries_needed(const struct pk_scan *s, const struct scan_host *h)
{
    double p = loss_rate(s, h);
    double ports = s->nslots ? (double)s->nslots : 1.0;
    double k = ceil(log(0.01 / ports) / log(p));
    unsigned tries = k < 2 ? 2 : k > 64 ? 64 : (unsigned)k;
    if (tries > s->max_retries + 1)
        tries = s->max_retries + 1; /* --max-retries 0: one try */
    return tries;
}
