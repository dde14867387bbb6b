/* The TCP connect probe module on io_uring: the same probes as
 * scan_tcp.c, but each is one IORING_OP_CONNECT submitted in batches, and
 * its outcome comes back as one completion (0: open, -ECONNREFUSED:
 * closed, ...) instead of an epoll wake-up plus a connect() to read it.
 * Sockets are reused the same way. Measured on a veth test host, a full
 * 65,535-port scan costs about a fifth less kernel time than the epoll
 * module; where io_uring is missing or disallowed the scan falls back to
 * that module.
 *
 * A probe being dropped (given up, or answered by another probe of the
 * same port) has its connect cancelled; its socket returns to the pool
 * once the cancelled connect has completed. */
#include "scan/scan_impl.h"

#ifdef PK_HAVE_URING

#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RING_ENTRIES 4096
#define CANCEL_TAG 1 /* user_data of cancel requests (socket pointers are never 1) */

struct uring {
    struct io_uring ring;
    unsigned queued; /* SQEs prepared, not yet submitted */
    struct scan_sock *idle[2];
};

static struct uring *U(struct pk_scan *s)
{
    return s->uring;
}

static struct io_uring_sqe *get_sqe(struct pk_scan *s)
{
    struct uring *u = U(s);
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (!sqe) { /* the ring is full: hand it to the kernel first */
        io_uring_submit(&u->ring);
        u->queued = 0;
        sqe = io_uring_get_sqe(&u->ring);
    }
    if (sqe)
        u->queued++;
    return sqe;
}

static struct scan_sock *sock_get(struct pk_scan *s, int family, int *err)
{
    struct uring *u = U(s);
    int fi = family == AF_INET6;
    struct scan_sock *k = u->idle[fi];
    if (k) {
        u->idle[fi] = k->next;
        k->next = NULL;
        return k;
    }
    k = pks_sock_open(s, family, PK_TCP, err);
    if (!k)
        return NULL;
    k->busy = false;
    return k;
}

static void sock_put(struct pk_scan *s, struct scan_sock *k)
{
    if (!pks_more_to_start(s)) {
        pks_sock_free(s, k);
        return;
    }
    struct uring *u = U(s);
    int fi = k->family == AF_INET6;
    k->job = NULL;
    k->next = u->idle[fi];
    u->idle[fi] = k;
}

/* A socket whose connect has completed and that nobody waits for: keep it
 * if it is unconnected again, else close it. */
static void sock_settle(struct pk_scan *s, struct scan_sock *k, int res)
{
    if (res == 0 || res == -EISCONN) {
        pks_tcp_close_reset(k->fd);
        k->fd = -1;
        pks_sock_free(s, k);
        return;
    }
    if (res == -ECONNREFUSED || res == -EHOSTUNREACH || res == -ENETUNREACH) {
        sock_put(s, k); /* the failed connect left it unconnected */
        return;
    }
    struct sockaddr sa = {.sa_family = AF_UNSPEC}; /* still connecting: dissolve it */
    if (connect(k->fd, &sa, sizeof sa) == 0)
        sock_put(s, k);
    else
        pks_sock_free(s, k);
}

/* Stops the probe on k: cancel its connect; the completion settles k. */
static void sock_cancel(struct pk_scan *s, struct scan_sock *k)
{
    k->job = NULL;
    /* Until its completion arrives the socket still holds a descriptor:
     * it keeps counting against the in-flight limit. */
    s->inflight++;
    struct io_uring_sqe *sqe = get_sqe(s);
    if (sqe) {
        io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)k, 0);
        io_uring_sqe_set_data64(sqe, CANCEL_TAG);
    }
}

static int ur_start(struct pk_scan *s, struct scan_job *j)
{
    struct scan_host *h = j->host;
    if (j->att[SCAN_MAX_ATTEMPTS - 1]) {
        struct scan_sock *old = j->att[0];
        pks_detach(s, j, old);
        sock_cancel(s, old);
    }
    int err = 0;
    struct scan_sock *k = sock_get(s, h->addr.family, &err);
    if (!k)
        return SCAN_AGAIN;
    struct io_uring_sqe *sqe = get_sqe(s);
    if (!sqe) {
        sock_put(s, k);
        return SCAN_AGAIN;
    }
    socklen_t len;
    struct sockaddr_storage ss;
    pks_sockaddr(h, j->port, &ss, &len);
    memcpy(&k->sa, &ss, len <= sizeof k->sa ? len : sizeof k->sa); /* read by the kernel at submission */
    io_uring_prep_connect(sqe, k->fd, (struct sockaddr *)&k->sa, len);
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)k);
    k->busy = true;
    pks_attach(s, j, k);
    return 0;
}

static void ur_reprobe(struct pk_scan *s, struct scan_job *j)
{
    /* SCAN_AGAIN: the job's timer retries later. */
    ur_start(s, j);
}

static void completion(struct pk_scan *s, struct scan_sock *k, int res)
{
    k->busy = false;
    struct scan_job *j = k->job;
    if (!j) {
        s->inflight--; /* out of limbo (see sock_cancel) */
        sock_settle(s, k, res);
        return;
    }
    switch (-res) {
    case 0:
    case EISCONN: {
        int fd = k->fd;
        struct scan_sock sent = *k;
        struct sockaddr_storage peer;
        socklen_t pl = sizeof peer;
        if (getpeername(fd, (struct sockaddr *)&peer, &pl) < 0) {
            /* Not connected after all: an ICMP error queued on the socket
             * (while its connect was being issued) woke the request, and
             * io_uring reports the empty pending error as success. */
            enum pk_reason why;
            bool icmp = pks_tcp_queued_icmp(fd, k->family, &why);
            pks_detach(s, j, k);
            sock_settle(s, k, -EALREADY);
            if (icmp)
                pks_answer(s, j, &sent, PK_STATE_FILTERED, why);
            return;
        }
        pks_detach(s, j, k);
        k->fd = -1;
        pks_sock_free(s, k);
        if (!pks_tcp_connected(s, j, &sent, fd))
            ur_reprobe(s, j);
        return;
    }
    case ECONNREFUSED:
        pks_detach(s, j, k);
        sock_put(s, k);
        pks_answer(s, j, k, PK_STATE_CLOSED, PK_REASON_CONN_REFUSED);
        return;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case EPROTO:
    case ENONET:
    case EHOSTDOWN:
    case EACCES:
    case EPERM: {
        enum pk_reason why = pks_tcp_local_reason(-res);
        bool icmp = pks_tcp_queued_icmp(k->fd, k->family, &why);
        pks_detach(s, j, k);
        sock_put(s, k);
        if (icmp || -res == ENETUNREACH || -res == EHOSTUNREACH)
            pks_answer(s, j, k, PK_STATE_FILTERED, why);
        else
            pks_decide(s, j, PK_STATE_FILTERED, why, 0);
        return;
    }
    case EADDRNOTAVAIL:
    case EAGAIN:
    case ENOBUFS:
    case ENOMEM:
        /* Not sent: the job's timer will try again. */
        pks_detach(s, j, k);
        sock_put(s, k);
        return;
    default: /* ETIMEDOUT, ECANCELED, ...: this probe learnt nothing */
        pks_detach(s, j, k);
        sock_settle(s, k, res);
        return;
    }
}

static bool ur_flush(struct pk_scan *s)
{
    struct uring *u = U(s);
    bool any = false;
    /* Handling a completion may queue more requests (cancels, a probe
     * again after a self-connect): go round until the ring is quiet. */
    for (int round = 0; round < 64; round++) {
        /* Asking for many completions with a zero timeout makes the kernel
         * run all the deferred work (a bare "get events" runs only ~20). */
        struct __kernel_timespec zero = {0, 0};
        struct io_uring_cqe *first;
        io_uring_submit_and_wait_timeout(&u->ring, &first, RING_ENTRIES, &zero, NULL);
        u->queued = 0;
        pk_loop_update_time(s->loop); /* the answers' time, for their RTT */
        struct io_uring_cqe *cqes[256];
        unsigned n = io_uring_peek_batch_cqe(&u->ring, cqes, 256);
        if (n == 0)
            return any;
        any = true;
        struct {
            struct scan_sock *k;
            int res;
        } done[256];
        unsigned m = 0;
        for (unsigned i = 0; i < n; i++) {
            uint64_t tag = io_uring_cqe_get_data64(cqes[i]);
            if (tag && tag != CANCEL_TAG) {
                done[m].k = (struct scan_sock *)(uintptr_t)tag;
                done[m].res = cqes[i]->res;
                m++;
            }
        }
        io_uring_cq_advance(&u->ring, n);
        for (unsigned i = 0; i < m; i++)
            completion(s, done[i].k, done[i].res);
    }
    return any;
}

static void on_ring(struct pk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    ur_flush(arg);
}

static void ur_drop(struct pk_scan *s, struct scan_job *j)
{
    while (j->att[0]) {
        struct scan_sock *k = j->att[0];
        pks_detach(s, j, k);
        sock_cancel(s, k);
    }
}

static void ur_recycle(struct pk_scan *s, struct scan_job *j)
{
    struct scan_sock *k = j->att[0];
    if (k) {
        pks_detach(s, j, k);
        sock_cancel(s, k);
    }
}

static void ur_timeout(struct pk_scan *s, struct scan_job *j)
{
    /* An ICMP error that met the socket while its connect was being issued
     * only reached the error queue; look before trying again. */
    for (int i = 0; i < SCAN_MAX_ATTEMPTS && j->att[i]; i++) {
        enum pk_reason why;
        struct scan_sock *k = j->att[i];
        if (pks_tcp_queued_icmp(k->fd, k->family, &why)) {
            struct scan_sock sent = *k;
            pks_answer(s, j, &sent, PK_STATE_FILTERED, why);
            return;
        }
    }
    pks_retry_or_give_up(s, j, PK_STATE_FILTERED);
}

static int ur_init(struct pk_scan *s, struct pk_err *err)
{
    const char *force = getenv("PORTKIT_IO");
    if (force && strcmp(force, "epoll") == 0)
        return pk_err_set(err, PK_EUNSUPP, "io_uring turned off by PORTKIT_IO=epoll");
    struct uring *u = calloc(1, sizeof *u);
    if (!u)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    struct io_uring_params p = {0};
    /* Completions are reaped by this thread only, when it asks: the
     * cheapest mode, on Linux 6.1 and later. */
    p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int rc = io_uring_queue_init_params(RING_ENTRIES, &u->ring, &p);
    if (rc < 0) {
        memset(&p, 0, sizeof p);
        p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
        rc = io_uring_queue_init_params(RING_ENTRIES, &u->ring, &p);
    }
    if (rc < 0) {
        free(u);
        return pk_err_set(err, PK_EUNSUPP, "io_uring: %s", strerror(-rc));
    }
    s->uring = u;
    rc = pk_loop_watch(s->loop, u->ring.ring_fd, PK_EV_READ, on_ring, s, err);
    if (rc < 0) {
        io_uring_queue_exit(&u->ring);
        free(u);
        s->uring = NULL;
        return rc;
    }
    return 0;
}

static void ur_fini(struct pk_scan *s)
{
    struct uring *u = U(s);
    if (!u)
        return;
    pk_loop_unwatch(s->loop, u->ring.ring_fd);
    io_uring_queue_exit(&u->ring); /* cancels what is left */
    free(u);
    s->uring = NULL;
}

const struct scan_probe_module pks_tcp_uring_module = {
    .name = "tcp-connect-io_uring",
    .proto = PK_TCP,
    .start = ur_start,
    .drop = ur_drop,
    .timeout = ur_timeout,
    .can_start = NULL,
    .recycle = ur_recycle,
    .event = NULL,
    .init = ur_init,
    .fini = ur_fini,
    .flush = ur_flush,
};

#else /* no liburing at build time: the epoll module does the work */

static int ur_init(struct pk_scan *s, struct pk_err *err)
{
    (void)s;
    return pk_err_set(err, PK_EUNSUPP, "built without io_uring");
}

const struct scan_probe_module pks_tcp_uring_module = {
    .name = "tcp-connect-io_uring",
    .proto = PK_TCP,
    .init = ur_init,
};

#endif
