/* A small epoll event loop shared by scan and forward: fd readiness
 * callbacks plus one-shot timers kept in a binary heap. Timers are intrusive
 * (the caller owns struct pk_timer), so arming thousands costs no malloc. */
#ifndef PORTKIT_LOOP_H
#define PORTKIT_LOOP_H

#include "portkit/export.h"

#include <stddef.h>
#include <stdint.h>

#include "portkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pk_loop;

enum {
    PK_EV_READ = 1u << 0,
    PK_EV_WRITE = 1u << 1,
    PK_EV_ERROR = 1u << 2, /* EPOLLERR or EPOLLHUP: reported whatever mask asked */
};

typedef void pk_io_fn(struct pk_loop *loop, int fd, unsigned events, void *arg);

struct pk_timer;
typedef void pk_timer_fn(struct pk_loop *loop, struct pk_timer *t, void *arg);

struct pk_timer {
    uint64_t when_us;   /* absolute, on the loop's monotonic clock */
    size_t heap_index;  /* position in the heap, SIZE_MAX when not armed */
    pk_timer_fn *fn;
    void *arg;
};

PK_EXPORT struct pk_loop *pk_loop_new(struct pk_err *err);
PK_EXPORT void pk_loop_free(struct pk_loop *loop);

/* Watch fd for the events in mask (PK_EV_READ|PK_EV_WRITE); calling it again
 * for the same fd changes the mask and callback. mask 0 keeps the fd
 * registered but quiet (backpressure without the cost of re-adding). */
PK_EXPORT int pk_loop_watch(struct pk_loop *loop, int fd, unsigned mask, pk_io_fn *fn, void *arg,
                  struct pk_err *err);
/* Forget fd; call before close(fd). Safe on an fd that is not watched.
 * Events the current iteration already fetched for fd are dropped, even if
 * a later callback in the batch watches a new fd with the same number. */
PK_EXPORT void pk_loop_unwatch(struct pk_loop *loop, int fd);
PK_EXPORT unsigned pk_loop_mask(const struct pk_loop *loop, int fd);

PK_EXPORT void pk_timer_init(struct pk_timer *t, pk_timer_fn *fn, void *arg);
/* (Re)arm t to fire after delay_us; re-arming an armed timer moves it. A
 * timer armed from a timer callback never fires in the same pass, even with
 * delay 0 (it waits for the next loop iteration). */
PK_EXPORT int pk_loop_timer_start(struct pk_loop *loop, struct pk_timer *t, uint64_t delay_us);
PK_EXPORT void pk_loop_timer_stop(struct pk_loop *loop, struct pk_timer *t);
static inline int pk_timer_armed(const struct pk_timer *t) { return t->heap_index != SIZE_MAX; }

/* Monotonic time in microseconds, refreshed once per loop iteration (cheap);
 * pk_loop_update_time refreshes it on demand. */
PK_EXPORT uint64_t pk_loop_now(const struct pk_loop *loop);
PK_EXPORT uint64_t pk_loop_update_time(struct pk_loop *loop);
PK_EXPORT uint64_t pk_monotonic_us(void);

/* One iteration: wait at most max_wait_us (or until the next timer), run
 * ready callbacks and due timers. Returns the number of callbacks run, or a
 * negative PK_E* code. */
PK_EXPORT int pk_loop_once(struct pk_loop *loop, int64_t max_wait_us, struct pk_err *err);
/* Iterate until pk_loop_stop is called or nothing is watched and no timer
 * is armed. */
PK_EXPORT int pk_loop_run(struct pk_loop *loop, struct pk_err *err);
PK_EXPORT void pk_loop_stop(struct pk_loop *loop);
PK_EXPORT size_t pk_loop_watched(const struct pk_loop *loop);

#ifdef __cplusplus
}
#endif
#endif
