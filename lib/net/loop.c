#include "portkit/loop.h"
#include "portkit/buf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

struct watch {
    pk_io_fn *fn;
    void *arg;
    unsigned mask;
    bool active;
    /* Bumped on every unwatch. Events carry the generation they were
     * registered under, so an event already fetched for an fd that a callback
     * closed (and accept() then reused) in the same batch is dropped instead
     * of reaching the new owner. */
    uint32_t gen;
};

/* The due time sits beside its timer in the heap: a sift compares within
 * the array instead of reaching into each timer's (cold) memory. */
struct heap_node {
    uint64_t when_us;
    struct pk_timer *t;
};

struct pk_loop {
    int epfd;
    struct watch *watches; /* indexed by fd */
    size_t nwatches_cap;
    size_t nwatched;
    struct heap_node *heap;
    size_t heap_len, heap_cap;
    uint64_t now_us;
    bool stop;
    struct epoll_event events[256];
};

uint64_t pk_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

struct pk_loop *pk_loop_new(struct pk_err *err)
{
    struct pk_loop *loop = calloc(1, sizeof *loop);
    if (!loop) {
        pk_err_set(err, PK_ENOMEM, "out of memory");
        return NULL;
    }
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        pk_err_sys(err, "epoll_create1");
        free(loop);
        return NULL;
    }
    loop->now_us = pk_monotonic_us();
    return loop;
}

void pk_loop_free(struct pk_loop *loop)
{
    if (!loop)
        return;
    close(loop->epfd);
    free(loop->watches);
    free(loop->heap);
    free(loop);
}

static uint32_t to_epoll(unsigned mask)
{
    return (mask & PK_EV_READ ? EPOLLIN | EPOLLRDHUP : 0) | (mask & PK_EV_WRITE ? EPOLLOUT : 0);
}

int pk_loop_watch(struct pk_loop *loop, int fd, unsigned mask, pk_io_fn *fn, void *arg,
                  struct pk_err *err)
{
    if (fd < 0)
        return pk_err_set(err, PK_EINVAL, "bad file descriptor %d", fd);
    if ((size_t)fd >= loop->nwatches_cap) {
        size_t old = loop->nwatches_cap;
        if (PK_ARRAY_RESERVE(loop->watches, loop->nwatches_cap, (size_t)fd + 1, 64) < 0)
            return pk_err_set(err, PK_ENOMEM, "out of memory");
        memset(loop->watches + old, 0, (loop->nwatches_cap - old) * sizeof *loop->watches);
    }
    struct watch *w = &loop->watches[fd];
    struct epoll_event ev = {.events = to_epoll(mask),
                             .data.u64 = (uint64_t)(uint32_t)fd | (uint64_t)w->gen << 32};
    if (!w->active || w->mask != mask) {
        int op = w->active ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        if (epoll_ctl(loop->epfd, op, fd, &ev) < 0)
            return pk_err_sys(err, "epoll_ctl(fd %d)", fd);
    }
    if (!w->active)
        loop->nwatched++;
    w->fn = fn;
    w->arg = arg;
    w->mask = mask;
    w->active = true;
    return 0;
}

void pk_loop_unwatch(struct pk_loop *loop, int fd)
{
    if (fd < 0 || (size_t)fd >= loop->nwatches_cap || !loop->watches[fd].active)
        return;
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
    loop->watches[fd].active = false;
    loop->watches[fd].gen++;
    loop->nwatched--;
}

unsigned pk_loop_mask(const struct pk_loop *loop, int fd)
{
    if (fd < 0 || (size_t)fd >= loop->nwatches_cap || !loop->watches[fd].active)
        return 0;
    return loop->watches[fd].mask;
}

size_t pk_loop_watched(const struct pk_loop *loop)
{
    return loop->nwatched;
}

/* ---- timers: a 4-ary min-heap on when_us ----
 * A scan keeps one timer per probe in flight (tens of thousands); four
 * children side by side halve the depth of a binary heap, and each sift
 * step reads one cache line. */

#define HEAP_ARITY 4

void pk_timer_init(struct pk_timer *t, pk_timer_fn *fn, void *arg)
{
    t->when_us = 0;
    t->heap_index = SIZE_MAX;
    t->fn = fn;
    t->arg = arg;
}

static void heap_set(struct pk_loop *loop, size_t i, struct heap_node n)
{
    loop->heap[i] = n;
    n.t->heap_index = i;
}

static void sift_up(struct pk_loop *loop, size_t i)
{
    struct heap_node n = loop->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / HEAP_ARITY;
        if (loop->heap[parent].when_us <= n.when_us)
            break;
        heap_set(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_set(loop, i, n);
}

static void sift_down(struct pk_loop *loop, size_t i)
{
    struct heap_node n = loop->heap[i];
    for (;;) {
        size_t first = HEAP_ARITY * i + 1;
        if (first >= loop->heap_len)
            break;
        size_t end = first + HEAP_ARITY < loop->heap_len ? first + HEAP_ARITY : loop->heap_len;
        size_t best = first;
        for (size_t c = first + 1; c < end; c++)
            if (loop->heap[c].when_us < loop->heap[best].when_us)
                best = c;
        if (loop->heap[best].when_us >= n.when_us)
            break;
        heap_set(loop, i, loop->heap[best]);
        i = best;
    }
    heap_set(loop, i, n);
}

void pk_loop_timer_stop(struct pk_loop *loop, struct pk_timer *t)
{
    size_t i = t->heap_index;
    if (i == SIZE_MAX || i >= loop->heap_len || loop->heap[i].t != t)
        return;
    t->heap_index = SIZE_MAX;
    struct heap_node last = loop->heap[--loop->heap_len];
    if (i == loop->heap_len)
        return;
    heap_set(loop, i, last);
    sift_down(loop, i);
    sift_up(loop, last.t->heap_index);
}

int pk_loop_timer_start(struct pk_loop *loop, struct pk_timer *t, uint64_t delay_us)
{
    pk_loop_timer_stop(loop, t);
    if (PK_ARRAY_RESERVE(loop->heap, loop->heap_cap, loop->heap_len + 1, 64) < 0)
        return PK_ENOMEM;
    /* At least 1 us: the due-timer pass runs while when_us <= now_us, and
     * now_us only moves between iterations, so a callback re-arming itself
     * with 0 would otherwise spin in that pass forever. */
    t->when_us = loop->now_us + (delay_us ? delay_us : 1);
    heap_set(loop, loop->heap_len++, (struct heap_node){t->when_us, t});
    sift_up(loop, t->heap_index);
    return 0;
}

uint64_t pk_loop_now(const struct pk_loop *loop)
{
    return loop->now_us;
}

uint64_t pk_loop_update_time(struct pk_loop *loop)
{
    loop->now_us = pk_monotonic_us();
    return loop->now_us;
}

static int run_due_timers(struct pk_loop *loop)
{
    int ran = 0;
    while (loop->heap_len > 0 && loop->heap[0].when_us <= loop->now_us) {
        struct pk_timer *t = loop->heap[0].t;
        pk_loop_timer_stop(loop, t);
        t->fn(loop, t, t->arg);
        ran++;
    }
    return ran;
}

int pk_loop_once(struct pk_loop *loop, int64_t max_wait_us, struct pk_err *err)
{
    int64_t wait = max_wait_us;
    if (loop->heap_len > 0) {
        uint64_t next = loop->heap[0].when_us;
        int64_t until = next > loop->now_us ? (int64_t)(next - loop->now_us) : 0;
        if (wait < 0 || until < wait)
            wait = until;
    }
    /* Round up so a timer 300 us away does not spin on a 0 ms wait. */
    int timeout_ms = wait < 0 ? -1 : (int)((wait + 999) / 1000);
    int n = epoll_wait(loop->epfd, loop->events, (int)(sizeof loop->events / sizeof loop->events[0]),
                       timeout_ms);
    if (n < 0 && errno != EINTR)
        return pk_err_sys(err, "epoll_wait");
    loop->now_us = pk_monotonic_us();
    int ran = 0;
    for (int i = 0; i < n; i++) {
        int fd = (int)(uint32_t)loop->events[i].data.u64;
        uint32_t gen = (uint32_t)(loop->events[i].data.u64 >> 32);
        uint32_t e = loop->events[i].events;
        /* An earlier callback in this batch may have closed the fd, or closed
         * it and handed the number to a new watcher. */
        if ((size_t)fd >= loop->nwatches_cap || !loop->watches[fd].active ||
            loop->watches[fd].gen != gen)
            continue;
        struct watch *w = &loop->watches[fd];
        unsigned ev = (e & (EPOLLIN | EPOLLRDHUP) ? PK_EV_READ : 0) | (e & EPOLLOUT ? PK_EV_WRITE : 0) |
                      (e & (EPOLLERR | EPOLLHUP) ? PK_EV_ERROR : 0);
        w->fn(loop, fd, ev, w->arg);
        ran++;
    }
    ran += run_due_timers(loop);
    return ran;
}

int pk_loop_run(struct pk_loop *loop, struct pk_err *err)
{
    loop->stop = false;
    while (!loop->stop && (loop->nwatched > 0 || loop->heap_len > 0)) {
        int rc = pk_loop_once(loop, -1, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void pk_loop_stop(struct pk_loop *loop)
{
    loop->stop = true;
}
