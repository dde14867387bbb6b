/* The scan's timing arithmetic (lib/scan/scan_timing.c) on a bare scan and
 * host: RFC 6298 smoothing, the timeout's clamps, the schedule of a host
 * that has not answered yet, loss accounting and the tries that loss calls
 * for. Every expected number is worked out by hand in the comment above
 * its assertion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scan/scan_impl.h"

/* Only the fields the timing functions read, set as pk_scan_new would from
 * the defaults (--min-rtt-timeout 50ms, --max-rtt-timeout 1s,
 * --initial-rtt-timeout 1s, --max-retries 10). */
struct bench {
    struct pk_scan s;
    struct scan_host h;
};

static struct bench *bench_new(uint32_t ports)
{
    struct bench *b = calloc(1, sizeof *b);
    assert_non_null(b);
    b->s.min_rto_us = 50000;
    b->s.max_rto_us = 1000000;
    b->s.initial_rto_us = 1000000;
    b->s.max_retries = 10;
    b->s.nslots = ports;
    b->h.scan = &b->s;
    return b;
}

static void assert_near(double got, double want)
{
    if (got < want - 1e-9 || got > want + 1e-9)
        fail_msg("got %.9f, want %.9f", got, want);
}

static void first_sample_sets_srtt_and_half_variance(void **state)
{
    (void)state;
    struct scan_timing t = {0};
    pks_timing_sample(&t, 1000);
    assert_int_equal(t.samples, 1);
    assert_near(t.srtt_us, 1000);
    assert_near(t.rttvar_us, 500);
}

static void later_samples_smooth_with_the_old_srtt(void **state)
{
    (void)state;
    struct scan_timing t = {0};
    pks_timing_sample(&t, 1000);
    /* rttvar = 3/4 * 500 + 1/4 * |1000 - 2000| = 625 (from the old srtt)
     * srtt   = 7/8 * 1000 + 1/8 * 2000 = 1125 */
    pks_timing_sample(&t, 2000);
    assert_near(t.rttvar_us, 625);
    assert_near(t.srtt_us, 1125);
    /* rttvar = 3/4 * 625 + 1/4 * |1125 - 600| = 600
     * srtt   = 7/8 * 1125 + 1/8 * 600 = 1059.375 */
    pks_timing_sample(&t, 600);
    assert_near(t.rttvar_us, 600);
    assert_near(t.srtt_us, 1059.375);
    assert_int_equal(t.samples, 3);
}

static void steady_rtt_converges_and_variance_fades(void **state)
{
    (void)state;
    struct bench *b = bench_new(1);
    b->s.min_rto_us = 1000;
    /* 7/8 * 20000 + 1/8 * 20000 stays 20000 exactly; rttvar shrinks by 3/4
     * a sample from 10000 to nothing, so the timeout falls to the RTT. */
    pks_timing_sample(&b->h.tm, 20000);
    assert_int_equal(pks_timeout_us(&b->s, &b->h), 20000 + 4 * 10000);
    for (int i = 0; i < 200; i++)
        pks_timing_sample(&b->h.tm, 20000);
    assert_near(b->h.tm.srtt_us, 20000);
    assert_true(b->h.tm.rttvar_us < 1e-9);
    assert_int_equal(pks_timeout_us(&b->s, &b->h), 20000);
    free(b);
}

static void timeout_is_srtt_plus_four_rttvar_within_clamps(void **state)
{
    (void)state;
    struct bench *b = bench_new(1);
    b->s.min_rto_us = 100;
    pks_timing_sample(&b->h.tm, 1000);
    pks_timing_sample(&b->h.tm, 2000);
    pks_timing_sample(&b->h.tm, 600);
    /* 1059.375 + 4 * 600 = 3459.375, truncated */
    assert_int_equal(pks_timeout_us(&b->s, &b->h), 3459);
    b->s.min_rto_us = 5000; /* raised to the floor */
    assert_int_equal(pks_timeout_us(&b->s, &b->h), 5000);
    b->s.min_rto_us = 100;
    b->s.max_rto_us = 2000; /* cut to the ceiling */
    assert_int_equal(pks_timeout_us(&b->s, &b->h), 2000);
    free(b);
}

static void slow_host_is_capped_at_max_timeout(void **state)
{
    (void)state;
    struct bench *b = bench_new(1);
    /* 800 ms + 4 * 400 ms = 2.4 s > the 1 s ceiling */
    pks_timing_sample(&b->h.tm, 800000);
    assert_int_equal(pks_timeout_us(&b->s, &b->h), 1000000);
    /* A fast loopback answer: 10 µs + 4 * 5 µs lifts to the 50 ms floor */
    struct bench *fast = bench_new(1);
    pks_timing_sample(&fast->h.tm, 10);
    assert_int_equal(pks_timeout_us(&fast->s, &fast->h), 50000);
    free(b);
    free(fast);
}

static void silent_host_tries_within_the_initial_timeout(void **state)
{
    (void)state;
    struct bench *b = bench_new(1);
    /* No sample yet: a quarter of the initial timeout per try (250 ms),
     * within a horizon of the whole initial timeout (1 s). */
    assert_int_equal(pks_timeout_us(&b->s, &b->h), 250000);
    assert_int_equal(pks_horizon_us(&b->s, &b->h), 1000000);
    /* A quarter below the floor is raised to it: 100 ms / 4 < 50 ms. */
    b->s.initial_rto_us = 100000;
    assert_int_equal(pks_timeout_us(&b->s, &b->h), 50000);
    assert_int_equal(pks_horizon_us(&b->s, &b->h), 100000);
    /* Once the host answered, its RTT rules and the horizon goes. */
    pks_timing_sample(&b->h.tm, 100000);
    assert_int_equal(pks_horizon_us(&b->s, &b->h), 0);
    assert_int_equal(pks_timeout_us(&b->s, &b->h), 100000 + 4 * 50000);
    free(b);
}

static void answered_counts_only_tries_before_the_answer_as_lost(void **state)
{
    (void)state;
    struct bench *b = bench_new(1);
    pks_timing_answered(&b->s, &b->h, 1, 1); /* first try answered */
    assert_int_equal(b->h.tm.tries, 1);
    assert_int_equal(b->h.tm.lost, 0);
    pks_timing_answered(&b->s, &b->h, 3, 3); /* tries 1 and 2 were lost */
    assert_int_equal(b->h.tm.tries, 4);
    assert_int_equal(b->h.tm.lost, 2);
    /* Try 1 answered while tries 2 and 3 were out: those say nothing. */
    pks_timing_answered(&b->s, &b->h, 1, 3);
    assert_int_equal(b->h.tm.tries, 5);
    assert_int_equal(b->h.tm.lost, 2);
    pks_timing_answered(&b->s, &b->h, 0, 1); /* unknown try: one, not lost */
    assert_int_equal(b->h.tm.tries, 6);
    assert_int_equal(b->h.tm.lost, 2);
    /* The scan-wide totals follow the host's. */
    assert_int_equal(b->s.global.tries, 6);
    assert_int_equal(b->s.global.lost, 2);
    free(b);
}

/* Loss p comes from the host's count with the scan's loss as a prior
 * worth 20 tries, the scan's own with a 1% prior worth 100:
 *   global = (g.lost + 1) / (g.tries + 100)
 *   p      = (h.lost + 20 * global) / (h.tries + 20), within [1e-9, 0.9]
 * and the tries are the least k >= 2 with M * p^k < 1%:
 *   k = ceil(ln(0.01 / M) / ln p), at most 64 and max_retries + 1. */
static unsigned tries_for(uint32_t ports, uint64_t host_lost, uint64_t host_tries, uint64_t all_lost,
                          uint64_t all_tries, unsigned max_retries)
{
    struct bench *b = bench_new(ports);
    b->s.max_retries = max_retries;
    b->h.tm.lost = host_lost;
    b->h.tm.tries = host_tries;
    b->s.global.lost = all_lost;
    b->s.global.tries = all_tries;
    unsigned k = pks_tries_needed(&b->s, &b->h);
    free(b);
    return k;
}

static void fresh_scan_assumes_one_percent_loss(void **state)
{
    (void)state;
    /* p = 0.01: 1000 ports need ln(1e-5)/ln(0.01) = 2.5 → 3 tries,
     * 65535 ports ln(1.53e-7)/ln(0.01) = 3.41 → 4, one port 1 → at least 2. */
    assert_int_equal(tries_for(1000, 0, 0, 0, 0, 10), 3);
    assert_int_equal(tries_for(65535, 0, 0, 0, 0, 10), 4);
    assert_int_equal(tries_for(1, 0, 0, 0, 0, 10), 2);
}

static void clean_link_needs_two_tries(void **state)
{
    (void)state;
    /* 10,000 answered on the first try: global = 1/10100,
     * p = 20 * global / 10020 = 1.98e-7, k = 15.70 / 15.44 = 1.02 → 2. */
    assert_int_equal(tries_for(65535, 0, 10000, 0, 10000, 10), 2);
}

static void loss_adds_tries(void **state)
{
    (void)state;
    /* 5% of 100,000 lost: p = 0.05, ln(1.53e-7)/ln(0.05) = 5.24 → 6. */
    assert_int_equal(tries_for(65535, 5000, 100000, 5000, 100000, 10), 6);
    /* 30%: ln(1.53e-7)/ln(0.3) = 13.04 → 14, or max_retries + 1 below that. */
    assert_int_equal(tries_for(65535, 30000, 100000, 30000, 100000, 100), 14);
    assert_int_equal(tries_for(65535, 30000, 100000, 30000, 100000, 10), 11);
    assert_int_equal(tries_for(65535, 30000, 100000, 30000, 100000, 12), 13);
    assert_int_equal(tries_for(65535, 30000, 100000, 30000, 100000, 13), 14);
    /* --max-retries 0: one try, whatever the loss. */
    assert_int_equal(tries_for(65535, 30000, 100000, 30000, 100000, 0), 1);
}

static void loss_is_capped_at_ninety_percent(void **state)
{
    (void)state;
    /* Everything lost: global = 101/200, p = (100 + 20 * 0.505) / 120 =
     * 0.92 → 0.9. One port: ln(0.01)/ln(0.9) = 43.7 → 44 (0.92 would give
     * 54); 65535 ports: 149 → the cap of 64. */
    assert_int_equal(tries_for(1, 100, 100, 100, 100, 100), 44);
    assert_int_equal(tries_for(65535, 100, 100, 100, 100, 100), 64);
}

static void host_history_outweighs_the_scan_prior(void **state)
{
    (void)state;
    /* The scan lost 200 of 1000: global = 201/1100 = 0.1827. A host not
     * heard from takes that: ln(1e-4)/ln(0.1827) = 5.42 → 6. A host with
     * 1000 clean answers: p = 20 * 0.1827 / 1020 = 0.00358 → 1.64 → 2. */
    assert_int_equal(tries_for(100, 0, 0, 200, 1000, 10), 6);
    assert_int_equal(tries_for(100, 0, 1000, 200, 1000, 10), 2);
}

static void answers_drive_the_tries(void **state)
{
    (void)state;
    struct bench *b = bench_new(1000);
    assert_int_equal(pks_tries_needed(&b->s, &b->h), 3); /* the 1% prior, as above */
    /* 950 ports answered on the first try: global = 1/1050,
     * p = 20 * global / 970 = 1.96e-5, ln(1e-5)/ln(1.96e-5) = 1.06 → 2. */
    for (int i = 0; i < 950; i++)
        pks_timing_answered(&b->s, &b->h, 1, 1);
    assert_int_equal(pks_tries_needed(&b->s, &b->h), 2);
    /* Then 50 only on the second: tries 950 + 2 * 50 = 1050, lost 50;
     * global = 51/1150 = 0.04435, p = (50 + 0.887) / 1070 = 0.04756,
     * ln(1e-5)/ln(0.04756) = 3.78 → 4. */
    for (int i = 0; i < 50; i++)
        pks_timing_answered(&b->s, &b->h, 2, 2);
    assert_int_equal(b->h.tm.tries, 1050);
    assert_int_equal(b->h.tm.lost, 50);
    assert_int_equal(pks_tries_needed(&b->s, &b->h), 4);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_sample_sets_srtt_and_half_variance),
        cmocka_unit_test(later_samples_smooth_with_the_old_srtt),
        cmocka_unit_test(steady_rtt_converges_and_variance_fades),
        cmocka_unit_test(timeout_is_srtt_plus_four_rttvar_within_clamps),
        cmocka_unit_test(slow_host_is_capped_at_max_timeout),
        cmocka_unit_test(silent_host_tries_within_the_initial_timeout),
        cmocka_unit_test(answered_counts_only_tries_before_the_answer_as_lost),
        cmocka_unit_test(fresh_scan_assumes_one_percent_loss),
        cmocka_unit_test(clean_link_needs_two_tries),
        cmocka_unit_test(loss_adds_tries),
        cmocka_unit_test(loss_is_capped_at_ninety_percent),
        cmocka_unit_test(host_history_outweighs_the_scan_prior),
        cmocka_unit_test(answers_drive_the_tries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
