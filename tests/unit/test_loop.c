/* The event loop against real descriptors (pipes, socketpairs, an eventfd,
 * a loopback listener): timers fire in deadline order however they were
 * armed, stopped and moved; an event fetched for a descriptor that an
 * earlier callback of the same batch closed never reaches the descriptor
 * that took its number; watch masks; pk_loop_stop; pk_loop_once's wait.
 *
 * Sleeps below only make timers due; no assertion depends on how fast the
 * machine is, except one bound with a 30,000x margin (see there). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "portkit/loop.h"

static void sleep_us(uint64_t us)
{
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000u), .tv_nsec = (long)(us % 1000000u) * 1000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* A fixed pseudo-random sequence, so a failure replays. */
static uint32_t next_rand(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

static struct pk_loop *new_loop(void)
{
    struct pk_err err = {0};
    struct pk_loop *loop = pk_loop_new(&err);
    assert_non_null(loop);
    return loop;
}

/* ---- timers ---- */

struct fire_log {
    size_t n;
    uint64_t delay[1024]; /* delay each firing timer was armed with, in firing order */
    unsigned fired[1024]; /* per timer id */
};

struct tagged_timer {
    struct pk_timer t;
    unsigned id;
    uint64_t delay;
    struct fire_log *log;
};

static void record_firing(struct pk_loop *loop, struct pk_timer *t, void *arg)
{
    (void)loop;
    struct tagged_timer *tt = arg;
    assert_ptr_equal(t, &tt->t);
    assert_false(pk_timer_armed(t)); /* disarmed before its callback runs */
    tt->log->delay[tt->log->n++] = tt->delay;
    tt->log->fired[tt->id]++;
}

static void arm(struct pk_loop *loop, struct tagged_timer *tt, uint64_t delay)
{
    tt->delay = delay;
    assert_int_equal(pk_loop_timer_start(loop, &tt->t, delay), 0);
    assert_true(pk_timer_armed(&tt->t));
}

static void assert_fired_in_order(const struct fire_log *log)
{
    for (size_t i = 1; i < log->n; i++)
        if (log->delay[i] < log->delay[i - 1])
            fail_msg("firing %zu: deadline +%llu us came after +%llu us", i,
                     (unsigned long long)log->delay[i], (unsigned long long)log->delay[i - 1]);
}

static void timers_fire_in_deadline_order_with_equal_deadlines(void **state)
{
    (void)state;
    enum { N = 600 };
    struct pk_loop *loop = new_loop();
    static struct fire_log log;
    static struct tagged_timer tt[N];
    memset(&log, 0, sizeof log);
    uint32_t rnd = 7;
    pk_loop_update_time(loop);
    /* 40 distinct deadlines for 600 timers: about 15 share each. */
    for (unsigned i = 0; i < N; i++) {
        tt[i] = (struct tagged_timer){.id = i, .log = &log};
        pk_timer_init(&tt[i].t, record_firing, &tt[i]);
        assert_false(pk_timer_armed(&tt[i].t));
        arm(loop, &tt[i], (next_rand(&rnd) % 40) * 100);
    }
    /* All due at once: one pk_loop_once pops them all, so the order is the
     * heap's alone, not that of separate wakeups. */
    sleep_us(6000);
    assert_int_equal(pk_loop_once(loop, 0, NULL), N);
    assert_int_equal(log.n, N);
    assert_fired_in_order(&log);
    for (unsigned i = 0; i < N; i++) {
        assert_int_equal(log.fired[i], 1);
        assert_false(pk_timer_armed(&tt[i].t));
    }
    assert_int_equal(pk_loop_once(loop, 0, NULL), 0); /* nothing left */
    pk_loop_free(loop);
}

static void stopped_and_moved_timers_mid_heap(void **state)
{
    (void)state;
    enum { N = 400 };
    struct pk_loop *loop = new_loop();
    static struct fire_log log;
    static struct tagged_timer tt[N];
    memset(&log, 0, sizeof log);
    uint32_t rnd = 12345;
    bool armed[N];
    pk_loop_update_time(loop);
    for (unsigned i = 0; i < N; i++) {
        tt[i] = (struct tagged_timer){.id = i, .log = &log};
        pk_timer_init(&tt[i].t, record_firing, &tt[i]);
        arm(loop, &tt[i], next_rand(&rnd) % 8000);
        armed[i] = true;
    }
    /* Stopping a timer that was never armed is a no-op. */
    struct tagged_timer idle = {.id = 1000, .log = &log};
    pk_timer_init(&idle.t, record_firing, &idle);
    pk_loop_timer_stop(loop, &idle.t);
    /* Stop a third of them wherever they sit in the heap, twice for some;
     * move a fifth (armed ones move, stopped ones come back). */
    for (unsigned i = 0; i < N; i += 3) {
        pk_loop_timer_stop(loop, &tt[i].t);
        if (i % 2)
            pk_loop_timer_stop(loop, &tt[i].t);
        assert_false(pk_timer_armed(&tt[i].t));
        armed[i] = false;
    }
    for (unsigned i = 0; i < N; i += 5) {
        arm(loop, &tt[i], next_rand(&rnd) % 8000);
        armed[i] = true;
    }
    /* Moving an armed timer to the same deadline and to the very front. */
    arm(loop, &tt[1], tt[1].delay);
    arm(loop, &tt[2], 0);
    unsigned want = 0;
    for (unsigned i = 0; i < N; i++)
        want += armed[i];
    sleep_us(10000);
    assert_int_equal(pk_loop_once(loop, 0, NULL), (int)want);
    assert_int_equal(log.n, want);
    assert_fired_in_order(&log);
    assert_int_equal(log.delay[0], 0);
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(log.fired[i], armed[i] ? 1 : 0);
    pk_loop_free(loop);
}

/* A callback that stops one due timer and pushes another far out: neither
 * may fire in the batch that is running. */
struct meddler {
    struct tagged_timer base;
    struct pk_timer *stop, *move;
};

static void meddle(struct pk_loop *loop, struct pk_timer *t, void *arg)
{
    struct meddler *m = arg;
    record_firing(loop, t, &m->base);
    pk_loop_timer_stop(loop, m->stop);
    assert_int_equal(pk_loop_timer_start(loop, m->move, 60u * 1000000u), 0);
}

static void timer_callback_stops_and_moves_due_timers(void **state)
{
    (void)state;
    struct pk_loop *loop = new_loop();
    static struct fire_log log;
    memset(&log, 0, sizeof log);
    struct tagged_timer tt[4];
    struct meddler m = {.base = {.id = 10, .log = &log}, .stop = &tt[2].t, .move = &tt[3].t};
    pk_timer_init(&m.base.t, meddle, &m);
    pk_loop_update_time(loop);
    assert_int_equal(pk_loop_timer_start(loop, &m.base.t, 0), 0);
    for (unsigned i = 0; i < 4; i++) {
        tt[i] = (struct tagged_timer){.id = i, .log = &log};
        pk_timer_init(&tt[i].t, record_firing, &tt[i]);
        arm(loop, &tt[i], 100 + 100 * i);
    }
    sleep_us(2000);
    assert_int_equal(pk_loop_once(loop, 0, NULL), 3); /* meddler, tt[0], tt[1] */
    assert_int_equal(log.fired[10], 1);
    assert_int_equal(log.fired[0], 1);
    assert_int_equal(log.fired[1], 1);
    assert_int_equal(log.fired[2], 0);
    assert_int_equal(log.fired[3], 0);
    assert_false(pk_timer_armed(&tt[2].t));
    assert_true(pk_timer_armed(&tt[3].t));
    pk_loop_free(loop);
}

/* ---- descriptors ---- */

struct io_log {
    unsigned calls;
    unsigned events; /* of the last call */
    int fd;
};

static void record_io(struct pk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    struct io_log *l = arg;
    l->calls++;
    l->events = events;
    l->fd = fd;
}

static void put_byte(int fd)
{
    assert_int_equal(write(fd, "x", 1), 1);
}

/* Two readable descriptors fetched in one batch. Whichever callback runs
 * first unwatches and closes the other one and lets `reuse` take its
 * number for a new, quiet descriptor watched with record_io. The event
 * already fetched for the old descriptor must not reach the new one. */
enum reuse_kind { REUSE_DUP, REUSE_EVENTFD, REUSE_ACCEPT, REUSE_NONE };

struct batch {
    enum reuse_kind kind;
    int fds[2];
    int quiet_pipe[2];      /* REUSE_DUP: dup of this empty read end */
    int listener;           /* REUSE_ACCEPT: a connection is waiting */
    bool first_done;
    unsigned first_calls, later_calls;
    int victim, newfd;
    struct io_log on_new;
};

static void first_closes_the_other(struct pk_loop *loop, int fd, unsigned events, void *arg)
{
    struct batch *b = arg;
    assert_true(events & PK_EV_READ);
    if (b->first_done) {
        b->later_calls++; /* the survivor, on a later turn */
        return;
    }
    b->first_done = true;
    b->first_calls++;
    b->victim = fd == b->fds[0] ? b->fds[1] : b->fds[0];
    pk_loop_unwatch(loop, b->victim);
    close(b->victim);
    switch (b->kind) {
    case REUSE_DUP:
        b->newfd = dup(b->quiet_pipe[0]);
        break;
    case REUSE_EVENTFD:
        b->newfd = eventfd(0, EFD_NONBLOCK);
        break;
    case REUSE_ACCEPT:
        b->newfd = accept(b->listener, NULL, NULL);
        break;
    case REUSE_NONE:
        b->newfd = -1;
        return;
    }
    /* The lowest free number is the one just closed: the stale event now
     * points at the new descriptor. */
    assert_int_equal(b->newfd, b->victim);
    assert_int_equal(pk_loop_watch(loop, b->newfd, PK_EV_READ, record_io, &b->on_new, NULL), 0);
}

static void stale_event_after_reuse(enum reuse_kind kind)
{
    struct pk_loop *loop = new_loop();
    struct batch b = {.kind = kind, .listener = -1, .quiet_pipe = {-1, -1}, .newfd = -1};
    int client = -1;
    int pa[2], pb[2];
    if (kind == REUSE_DUP)
        assert_int_equal(pipe(b.quiet_pipe), 0);
    if (kind == REUSE_ACCEPT) {
        b.listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(b.listener >= 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t alen = sizeof a;
        assert_int_equal(bind(b.listener, (struct sockaddr *)&a, sizeof a), 0);
        assert_int_equal(listen(b.listener, 4), 0);
        assert_int_equal(getsockname(b.listener, (struct sockaddr *)&a, &alen), 0);
        client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_int_equal(connect(client, (struct sockaddr *)&a, sizeof a), 0);
    }
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pa), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pb), 0);
    b.fds[0] = pa[0];
    b.fds[1] = pb[0];
    put_byte(pa[1]);
    put_byte(pb[1]);
    assert_int_equal(pk_loop_watch(loop, b.fds[0], PK_EV_READ, first_closes_the_other, &b, NULL), 0);
    assert_int_equal(pk_loop_watch(loop, b.fds[1], PK_EV_READ, first_closes_the_other, &b, NULL), 0);
    assert_int_equal(pk_loop_watched(loop), 2);

    assert_int_equal(pk_loop_once(loop, 0, NULL), 1);
    assert_int_equal(b.first_calls, 1);
    assert_int_equal(b.later_calls, 0); /* not the victim's old callback either */
    assert_int_equal(b.on_new.calls, 0);
    assert_int_equal(pk_loop_watched(loop), kind == REUSE_NONE ? 1 : 2);

    if (kind != REUSE_NONE) {
        /* The new descriptor's own events do arrive, with its callback. */
        assert_int_equal(pk_loop_once(loop, 0, NULL), 1); /* the survivor is still readable */
        assert_int_equal(b.later_calls, 1);
        assert_int_equal(b.on_new.calls, 0);
        if (kind == REUSE_EVENTFD) {
            uint64_t one = 1;
            assert_int_equal(write(b.newfd, &one, sizeof one), sizeof one);
        } else if (kind == REUSE_DUP) {
            put_byte(b.quiet_pipe[1]);
        } else {
            put_byte(client);
        }
        assert_int_equal(pk_loop_once(loop, 0, NULL), 2);
        assert_int_equal(b.on_new.calls, 1);
        assert_int_equal(b.on_new.fd, b.newfd);
        assert_int_equal(b.on_new.events, PK_EV_READ);
        pk_loop_unwatch(loop, b.newfd);
        close(b.newfd);
    }
    int survivor = b.victim == b.fds[0] ? b.fds[1] : b.fds[0];
    pk_loop_unwatch(loop, survivor);
    close(survivor);
    assert_int_equal(pk_loop_watched(loop), 0);
    close(pa[1]);
    close(pb[1]);
    if (b.quiet_pipe[0] >= 0) {
        close(b.quiet_pipe[0]);
        close(b.quiet_pipe[1]);
    }
    if (client >= 0) {
        close(client);
        close(b.listener);
    }
    pk_loop_free(loop);
}

static void stale_event_dropped_after_dup_reuse(void **state)
{
    (void)state;
    stale_event_after_reuse(REUSE_DUP);
}

static void stale_event_dropped_after_eventfd_reuse(void **state)
{
    (void)state;
    stale_event_after_reuse(REUSE_EVENTFD);
}

static void stale_event_dropped_after_accept_reuse(void **state)
{
    (void)state;
    stale_event_after_reuse(REUSE_ACCEPT);
}

static void stale_event_dropped_after_close(void **state)
{
    (void)state;
    stale_event_after_reuse(REUSE_NONE);
}

static void watch_mask_changes(void **state)
{
    (void)state;
    struct pk_loop *loop = new_loop();
    struct pk_err err = {0};
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct io_log a = {0}, b = {0};

    assert_int_equal(pk_loop_watch(loop, -1, PK_EV_READ, record_io, &a, &err), PK_EINVAL);
    assert_int_equal(pk_loop_watched(loop), 0);
    assert_int_equal(pk_loop_mask(loop, sv[0]), 0);
    pk_loop_unwatch(loop, sv[0]); /* not watched: nothing happens */

    assert_int_equal(pk_loop_watch(loop, sv[0], PK_EV_READ, record_io, &a, NULL), 0);
    assert_int_equal(pk_loop_mask(loop, sv[0]), PK_EV_READ);
    assert_int_equal(pk_loop_once(loop, 0, NULL), 0); /* nothing to read */

    /* Writable all along: only now asked. */
    assert_int_equal(pk_loop_watch(loop, sv[0], PK_EV_WRITE, record_io, &a, NULL), 0);
    assert_int_equal(pk_loop_mask(loop, sv[0]), PK_EV_WRITE);
    assert_int_equal(pk_loop_once(loop, 0, NULL), 1);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.events, PK_EV_WRITE);
    assert_int_equal(pk_loop_watched(loop), 1);

    /* Mask 0: registered but quiet, even with bytes to read. */
    put_byte(sv[1]);
    assert_int_equal(pk_loop_watch(loop, sv[0], 0, record_io, &a, NULL), 0);
    assert_int_equal(pk_loop_mask(loop, sv[0]), 0);
    assert_int_equal(pk_loop_watched(loop), 1);
    assert_int_equal(pk_loop_once(loop, 0, NULL), 0);
    assert_int_equal(a.calls, 1);

    /* Both, with another callback argument. */
    assert_int_equal(pk_loop_watch(loop, sv[0], PK_EV_READ | PK_EV_WRITE, record_io, &b, NULL), 0);
    assert_int_equal(pk_loop_once(loop, 0, NULL), 1);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.events, PK_EV_READ | PK_EV_WRITE);

    /* Same mask, new argument: the callback changes without a re-register. */
    assert_int_equal(pk_loop_watch(loop, sv[0], PK_EV_READ | PK_EV_WRITE, record_io, &a, NULL), 0);
    assert_int_equal(pk_loop_once(loop, 0, NULL), 1);
    assert_int_equal(a.calls, 2);
    assert_int_equal(b.calls, 1);

    assert_int_equal(pk_loop_watch(loop, sv[0], PK_EV_READ, record_io, &a, NULL), 0);
    assert_int_equal(pk_loop_once(loop, 0, NULL), 1);
    assert_int_equal(a.events, PK_EV_READ);

    pk_loop_unwatch(loop, sv[0]);
    pk_loop_unwatch(loop, sv[0]);
    assert_int_equal(pk_loop_watched(loop), 0);
    assert_int_equal(pk_loop_mask(loop, sv[0]), 0);
    assert_int_equal(pk_loop_once(loop, 0, NULL), 0);
    assert_int_equal(a.calls, 3);
    close(sv[0]);
    close(sv[1]);
    pk_loop_free(loop);
}

static void errors_reported_whatever_the_mask(void **state)
{
    (void)state;
    struct pk_loop *loop = new_loop();
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct io_log l = {0};
    assert_int_equal(pk_loop_watch(loop, p[1], 0, record_io, &l, NULL), 0);
    assert_int_equal(pk_loop_once(loop, 0, NULL), 0);
    close(p[0]); /* the write end now has no reader: EPOLLERR */
    assert_int_equal(pk_loop_once(loop, 0, NULL), 1);
    assert_int_equal(l.events, PK_EV_ERROR);
    assert_int_equal(pk_loop_watch(loop, p[1], PK_EV_WRITE, record_io, &l, NULL), 0);
    assert_int_equal(pk_loop_once(loop, 0, NULL), 1);
    assert_int_equal(l.events, PK_EV_WRITE | PK_EV_ERROR);
    pk_loop_unwatch(loop, p[1]);
    close(p[1]);
    pk_loop_free(loop);
}

/* ---- pk_loop_run, pk_loop_stop, pk_loop_once ---- */

struct stopper {
    int efd;
    unsigned calls, stop_every, give_up_at;
    struct pk_timer far;
};

static void stop_every_n(struct pk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)fd;
    (void)events;
    struct stopper *s = arg;
    s->calls++;
    if (s->calls % s->stop_every == 0)
        pk_loop_stop(loop);
    if (s->calls == s->give_up_at) {
        /* pk_loop_stop did not work: end the run another way so the
         * assertions fail instead of the test hanging. */
        pk_loop_unwatch(loop, s->efd);
        pk_loop_timer_stop(loop, &s->far);
    }
}

static void never_fires(struct pk_loop *loop, struct pk_timer *t, void *arg)
{
    (void)loop;
    (void)t;
    (void)arg;
    fail_msg("a timer 60 s away fired");
}

static void stop_ends_run_and_run_resumes(void **state)
{
    (void)state;
    struct pk_loop *loop = new_loop();
    struct stopper s = {.stop_every = 5, .give_up_at = 200};
    s.efd = eventfd(1, EFD_NONBLOCK); /* readable on every turn: never read */
    assert_true(s.efd >= 0);
    pk_timer_init(&s.far, never_fires, NULL);
    assert_int_equal(pk_loop_watch(loop, s.efd, PK_EV_READ, stop_every_n, &s, NULL), 0);
    assert_int_equal(pk_loop_timer_start(loop, &s.far, 60u * 1000000u), 0);
    struct pk_err err = {0};
    assert_int_equal(pk_loop_run(loop, &err), 0);
    assert_int_equal(s.calls, 5);
    /* Stopping tears nothing down, and a new run goes on. */
    assert_int_equal(pk_loop_watched(loop), 1);
    assert_true(pk_timer_armed(&s.far));
    assert_int_equal(pk_loop_run(loop, &err), 0);
    assert_int_equal(s.calls, 10);
    pk_loop_unwatch(loop, s.efd);
    pk_loop_timer_stop(loop, &s.far);
    close(s.efd);
    pk_loop_free(loop);
}

static void count_down(struct pk_loop *loop, struct pk_timer *t, void *arg)
{
    unsigned *left = arg;
    if (--*left > 0)
        assert_int_equal(pk_loop_timer_start(loop, t, 200), 0);
}

static void run_returns_when_nothing_is_left(void **state)
{
    (void)state;
    struct pk_loop *loop = new_loop();
    unsigned left = 4;
    struct pk_timer t;
    pk_timer_init(&t, count_down, &left);
    assert_int_equal(pk_loop_timer_start(loop, &t, 200), 0);
    assert_int_equal(pk_loop_run(loop, NULL), 0);
    assert_int_equal(left, 0);
    assert_false(pk_timer_armed(&t));
    assert_int_equal(pk_loop_run(loop, NULL), 0); /* empty: returns at once */
    pk_loop_free(loop);
}

static void count_fire(struct pk_loop *loop, struct pk_timer *t, void *arg)
{
    (void)loop;
    (void)t;
    ++*(unsigned *)arg;
}

/* A timer that re-arms itself with delay 0 fires once per iteration, not in
 * a loop inside one pass (which would never return). */
static unsigned rearm_count;
static void rearm_zero(struct pk_loop *loop, struct pk_timer *t, void *arg)
{
    (void)arg;
    if (++rearm_count < 1000)
        pk_loop_timer_start(loop, t, 0);
}

static void zero_delay_rearm_waits_for_the_next_iteration(void **state)
{
    (void)state;
    struct pk_loop *loop = new_loop();
    struct pk_timer t;
    pk_timer_init(&t, rearm_zero, NULL);
    rearm_count = 0;
    /* Each turn may wait (up to 1 s) for the timer to come due: what
     * matters is that one turn runs it once, not that no time passed. */
    assert_int_equal(pk_loop_timer_start(loop, &t, 0), 0);
    assert_true(pk_loop_once(loop, 1000000, NULL) >= 0);
    assert_int_equal(rearm_count, 1);
    assert_true(pk_loop_once(loop, 1000000, NULL) >= 0);
    assert_int_equal(rearm_count, 2);
    pk_loop_timer_stop(loop, &t);
    pk_loop_free(loop);
}

static void once_waits_for_the_nearer_of_timer_and_max_wait(void **state)
{
    (void)state;
    struct pk_loop *loop = new_loop();
    unsigned fired = 0;
    struct pk_timer t;
    pk_timer_init(&t, count_fire, &fired);

    /* Nothing at all: the wait ends and nothing ran. */
    assert_int_equal(pk_loop_once(loop, 1000, NULL), 0);

    /* A far timer does not outlast a short max wait. */
    assert_int_equal(pk_loop_timer_start(loop, &t, 60u * 1000000u), 0);
    assert_int_equal(pk_loop_once(loop, 1000, NULL), 0);
    assert_int_equal(fired, 0);
    assert_true(pk_timer_armed(&t));

    /* A near timer cuts a long max wait short. Had the loop slept the full
     * 60 s the timer would still have fired, so the time is the only tell:
     * the bound is 30,000 times what the wait should take. */
    uint64_t t0 = pk_loop_update_time(loop);
    assert_int_equal(pk_loop_timer_start(loop, &t, 1000), 0);
    assert_int_equal(pk_loop_once(loop, 60 * 1000000, NULL), 1);
    assert_int_equal(fired, 1);
    assert_true(pk_loop_now(loop) - t0 < 30u * 1000000u);

    /* A timer under a millisecond away is waited for, not spun on: the
     * first turn already runs it. */
    pk_loop_update_time(loop);
    assert_int_equal(pk_loop_timer_start(loop, &t, 300), 0);
    assert_int_equal(pk_loop_once(loop, -1, NULL), 1);
    assert_int_equal(fired, 2);

    /* A ready descriptor and a due timer in one turn: both counted. */
    int efd = eventfd(1, EFD_NONBLOCK);
    assert_true(efd >= 0);
    struct io_log l = {0};
    assert_int_equal(pk_loop_watch(loop, efd, PK_EV_READ, record_io, &l, NULL), 0);
    assert_int_equal(pk_loop_timer_start(loop, &t, 0), 0);
    assert_int_equal(pk_loop_once(loop, -1, NULL), 2);
    assert_int_equal(fired, 3);
    assert_int_equal(l.calls, 1);
    pk_loop_unwatch(loop, efd);
    close(efd);
    pk_loop_free(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timers_fire_in_deadline_order_with_equal_deadlines),
        cmocka_unit_test(stopped_and_moved_timers_mid_heap),
        cmocka_unit_test(timer_callback_stops_and_moves_due_timers),
        cmocka_unit_test(stale_event_dropped_after_dup_reuse),
        cmocka_unit_test(stale_event_dropped_after_eventfd_reuse),
        cmocka_unit_test(stale_event_dropped_after_accept_reuse),
        cmocka_unit_test(stale_event_dropped_after_close),
        cmocka_unit_test(watch_mask_changes),
        cmocka_unit_test(errors_reported_whatever_the_mask),
        cmocka_unit_test(stop_ends_run_and_run_resumes),
        cmocka_unit_test(run_returns_when_nothing_is_left),
        cmocka_unit_test(once_waits_for_the_nearer_of_timer_and_max_wait),
        cmocka_unit_test(zero_delay_rearm_waits_for_the_next_iteration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
