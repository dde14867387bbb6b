/* The TCP relay. Each connection is two directions (client→target "up",
 * target→client "down"); each direction moves bytes src → dst either with
 * splice() through a pipe borrowed from a small pool while bytes are in it
 * (zero-copy: the pages go from one socket to the other), or with
 * read()/write() through the forwarder's scratch buffer when splice cannot
 * be used. At most one pipe (or one read) worth of bytes is ever held per
 * direction: when dst is slow, src is simply not read (backpressure; the
 * kernel's socket buffers and TCP flow control do the rest).
 *
 * A FIN read from src becomes shutdown(dst, SHUT_WR) once everything before
 * it is written; the connection ends when both directions have done that,
 * or on a reset, an error or a timeout. A reset from one side is passed on
 * as a reset to the other. */
#include "forward/forward_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPT_BATCH 64
#define FD_RETRY_US 50000 /* out of descriptors: try the target socket again after */
#define PUMP_BUDGET (1u << 21) /* bytes one direction moves before others get a turn */
#define DEFAULT_POOL 16
#define ACCEPT_PAUSE_US 100000       /* after EMFILE: let connections end first */
#define FD_WARN_QUIET_US 10000000    /* one warning about running out of descriptors per 10 s */
/* Measured on loopback with one iperf3 stream (2 cores): 64 KiB pipes gave
 * 0.6-0.7x a direct connection, 256 KiB 0.7-0.8x, 1 MiB 0.8-0.9x. The pages
 * are held only while bytes are in flight. 1 MiB is also the default
 * /proc/sys/fs/pipe-max-size. */
#define DEFAULT_PIPE_SIZE (1u << 20)
/* copy=auto: small messages (requests, replies) cost less through
 * read/write than through a pipe; bulk transfers cost less spliced. A read
 * that fills the whole scratch buffer switches a direction to splice; a run
 * of small splices switches it back. */
#define SMALL_READ (16u << 10)
#define SMALL_READS_TO_COPY 8

struct fw_pipe {
    int rd, wr;
    size_t size; /* what the kernel granted, which may be less than asked */
    struct fw_pipe *next;
};

struct fw_tcp {
    struct fw_conn *conns;  /* every connection, for shutdown */
    size_t nconns;
    struct fw_pipe *idle;   /* empty pipes ready for reuse */
    size_t nidle, nbusy, pool_max;
    size_t pipe_size;       /* what we asked F_SETPIPE_SZ for */
    bool warned_no_pipe;
};

enum dir_state {
    DIR_OPEN,  /* reading src */
    DIR_EOF,   /* src said FIN: flush what is held, then shut dst */
    DIR_DONE,  /* dst shut for writing */
};

struct fw_dir {
    int src, dst;
    struct fw_pipe *pipe; /* splice: holds `pending` bytes */
    char *buf;            /* read/write: holds `pending` bytes at buf + off */
    size_t pending, off;
    uint8_t state;
    bool splice;     /* splice now (else read/write) */
    bool adaptive;   /* copy=auto: choose by how much each read brings */
    uint8_t small;   /* consecutive small splices */
    uint64_t bytes;
};

struct fw_conn {
    struct fw_conn *prev, *next;
    struct pk_fw *fw;
    struct fw_listener *l;
    int cfd, tfd;
    unsigned cmask, tmask;    /* what the loop watches on each (0: not watched) */
    bool connecting;
    struct fw_dir up, down;
    struct pk_timer timer;    /* connect timeout, then idle timeout */
    uint64_t idle_us, last_us, start_us, start_unix_us, connect_deadline_us;
    union fw_sa client, target;
};

/* ---- the pipe pool ---- */

int fw_tcp_new(struct pk_fw *fw, struct pk_err *err)
{
    struct fw_tcp *t = calloc(1, sizeof *t);
    if (!t)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    t->pool_max = fw->opts.pipe_pool ? fw->opts.pipe_pool : DEFAULT_POOL;
    t->pipe_size = fw->opts.pipe_size ? fw->opts.pipe_size : DEFAULT_PIPE_SIZE;
    fw->tcp = t;
    return 0;
}

static void pipe_close(struct fw_pipe *p)
{
    close(p->rd);
    close(p->wr);
    free(p);
}

void fw_tcp_free(struct pk_fw *fw)
{
    struct fw_tcp *t = fw->tcp;
    if (!t)
        return;
    while (t->idle) {
        struct fw_pipe *p = t->idle;
        t->idle = p->next;
        pipe_close(p);
    }
    free(t);
    fw->tcp = NULL;
}

static struct fw_pipe *pipe_get(struct pk_fw *fw)
{
    struct fw_tcp *t = fw->tcp;
    struct fw_pipe *p = t->idle;
    if (p) {
        t->idle = p->next;
        t->nidle--;
        t->nbusy++;
        return p;
    }
    p = malloc(sizeof *p);
    int fds[2];
    if (!p || pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
        /* Out of descriptors (or of the per-user pipe budget): this
         * direction reads and writes instead, which needs no pipe. */
        if (!t->warned_no_pipe)
            fw_warn(fw, "cannot make a splice pipe (%s): copying through memory instead",
                    p ? strerror(errno) : "out of memory");
        t->warned_no_pipe = true;
        free(p);
        return NULL;
    }
    /* Bigger than the 64 KiB default: fewer trips through the loop per
     * megabyte. May fail beyond the per-user pipe budget; then the default
     * size is fine too. */
    int size = fcntl(fds[1], F_SETPIPE_SZ, (int)t->pipe_size);
    if (size < 0)
        size = fcntl(fds[1], F_GETPIPE_SZ);
    p->size = size > 0 ? (size_t)size : 4096;
    p->rd = fds[0];
    p->wr = fds[1];
    p->next = NULL;
    t->nbusy++;
    return p;
}

/* Returns an empty pipe to the pool; one still holding bytes is closed. */
static void pipe_put(struct pk_fw *fw, struct fw_pipe *p, bool empty)
{
    struct fw_tcp *t = fw->tcp;
    t->nbusy--;
    if (empty && t->nidle < t->pool_max) {
        p->next = t->idle;
        t->idle = p;
        t->nidle++;
        return;
    }
    pipe_close(p);
}

void fw_tcp_pipe_stats(const struct pk_fw *fw, size_t *busy, size_t *idle)
{
    *busy = fw->tcp ? fw->tcp->nbusy : 0;
    *idle = fw->tcp ? fw->tcp->nidle : 0;
}

size_t fw_tcp_count(const struct pk_fw *fw)
{
    return fw->tcp ? fw->tcp->nconns : 0;
}

/* ---- ending a connection ---- */

static void reset_on_close(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

static void dir_release(struct pk_fw *fw, struct fw_dir *d)
{
    if (d->pipe)
        pipe_put(fw, d->pipe, d->pending == 0);
    d->pipe = NULL;
    free(d->buf);
    d->buf = NULL;
    d->pending = 0;
}

enum { RST_NONE = 0, RST_CLIENT = 1, RST_TARGET = 2 };

static void conn_end(struct fw_conn *c, const char *reason, unsigned rst)
{
    struct pk_fw *fw = c->fw;
    struct fw_tcp *t = fw->tcp;
    pk_loop_timer_stop(fw->loop, &c->timer);
    if (c->cmask)
        pk_loop_unwatch(fw->loop, c->cfd);
    if (c->tmask)
        pk_loop_unwatch(fw->loop, c->tfd);
    if (rst & RST_CLIENT)
        reset_on_close(c->cfd);
    if (rst & RST_TARGET)
        reset_on_close(c->tfd);
    close(c->cfd);
    if (c->tfd >= 0)
        close(c->tfd);
    dir_release(fw, &c->up);
    dir_release(fw, &c->down);
    if (reason) {
        struct pk_fw_event ev = {
            .kind = PK_FW_EV_END, .proto = PK_TCP, .line = c->l->rule.line,
            .client = &c->client.sa, .listen = &c->l->bound.sa, .target = &c->target.sa,
            .start_unix_us = c->start_unix_us,
            .duration_us = pk_loop_update_time(fw->loop) - c->start_us,
            .bytes_up = c->up.bytes, .bytes_down = c->down.bytes, .reason = reason,
        };
        fw_log(fw, &ev);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    t->nconns--;
    c->l->active--;
    fw_listener_put(c->l);
    free(c);
    fw_active_changed(fw);
}

void fw_tcp_close_all(struct pk_fw *fw, const char *reason)
{
    while (fw->tcp && fw->tcp->conns)
        conn_end(fw->tcp->conns, reason, RST_CLIENT | RST_TARGET);
}

/* Why a connection ended, from the errno of the side that failed. */
static void end_on_error(struct fw_conn *c, bool client_side, int e)
{
    char reason[96];
    if (e == ECONNRESET || e == EPIPE) {
        /* Pass the reset on: the other side learns the truth, not a
         * clean end of stream. */
        conn_end(c, client_side ? "client-reset" : "target-reset",
                 client_side ? RST_TARGET : RST_CLIENT);
        return;
    }
    snprintf(reason, sizeof reason, "error: %s: %s", client_side ? "client" : "target",
             strerror(e));
    conn_end(c, reason, RST_CLIENT | RST_TARGET);
}

/* ---- moving bytes ---- */

enum pump_result { PUMP_OK, PUMP_SRC_ERROR, PUMP_DST_ERROR };

/* Writes what d holds. Returns bytes written or -1 with errno. */
static ssize_t flush_out(struct fw_dir *d)
{
    if (d->pipe)
        return splice(d->pipe->rd, NULL, d->dst, NULL, d->pending,
                      SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    return send(d->dst, d->buf + d->off, d->pending, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* One read from src into d: through a pipe when splicing, else through the
 * scratch buffer, written on at once and only what dst would not take kept
 * on the heap. Returns bytes read, 0 at EOF, -1 with errno. *asked is the
 * most the read could have returned. */
static ssize_t fill(struct fw_conn *c, struct fw_dir *d, size_t *asked, enum pump_result *fail)
{
    struct pk_fw *fw = c->fw;
    *fail = PUMP_SRC_ERROR;
    if (d->splice) {
        if (!d->pipe)
            d->pipe = pipe_get(fw);
        if (d->pipe) {
            *asked = d->pipe->size;
            ssize_t n = splice(d->src, NULL, d->pipe->wr, NULL, *asked,
                               SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
            if (n > 0)
                d->pending = (size_t)n;
            if (n > 0 && d->adaptive)
                d->small = (size_t)n < SMALL_READ ? d->small + 1 : 0;
            if (d->small >= SMALL_READS_TO_COPY)
                d->splice = false; /* after this pipe drains */
            if (n >= 0 || errno != EINVAL) {
                if (n <= 0) {
                    int e = errno;
                    pipe_put(fw, d->pipe, true);
                    d->pipe = NULL;
                    errno = e;
                }
                return n;
            }
            /* EINVAL: this socket pair cannot splice. Copy from now on. */
            pipe_put(fw, d->pipe, true);
            d->pipe = NULL;
            d->splice = d->adaptive = false;
        }
    }
    *asked = sizeof fw->scratch;
    ssize_t n = recv(d->src, fw->scratch, sizeof fw->scratch, MSG_DONTWAIT);
    if (n <= 0)
        return n;
    if (d->adaptive && (size_t)n == sizeof fw->scratch) {
        d->splice = true; /* a full buffer: bulk data, go zero-copy */
        d->small = 0;
    }
    ssize_t w = send(d->dst, fw->scratch, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        *fail = PUMP_DST_ERROR;
        return -1;
    }
    if (w < 0)
        w = 0;
    d->bytes += (uint64_t)w;
    if (w < n) {
        d->buf = malloc((size_t)(n - w));
        if (!d->buf) {
            errno = ENOMEM;
            *fail = PUMP_DST_ERROR;
            return -1;
        }
        memcpy(d->buf, fw->scratch + w, (size_t)(n - w));
        d->off = 0;
        d->pending = (size_t)(n - w);
    }
    return n;
}

/* Moves what it can from d->src to d->dst without blocking. */
static enum pump_result pump(struct fw_conn *c, struct fw_dir *d, int *err)
{
    size_t budget = PUMP_BUDGET;
    for (;;) {
        if (d->pending) {
            ssize_t w = flush_out(d);
            if (w < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    return PUMP_OK;
                if (errno == EINTR)
                    continue;
                *err = errno;
                return PUMP_DST_ERROR;
            }
            d->pending -= (size_t)w;
            d->off += (size_t)w;
            d->bytes += (uint64_t)w;
            c->last_us = pk_loop_now(c->fw->loop);
            if (d->pending)
                return PUMP_OK; /* dst is full: wait until it can take more */
            if (d->pipe) {
                pipe_put(c->fw, d->pipe, true);
                d->pipe = NULL;
            }
            free(d->buf);
            d->buf = NULL;
            d->off = 0;
        }
        if (d->state != DIR_OPEN || budget == 0)
            break;
        size_t asked;
        enum pump_result fail;
        ssize_t n = fill(c, d, &asked, &fail);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            *err = errno;
            return fail;
        }
        if (n == 0) {
            d->state = DIR_EOF;
            break;
        }
        c->last_us = pk_loop_now(c->fw->loop);
        if (d->buf)
            return PUMP_OK; /* the copy path met a full dst: wait for it */
        budget = (size_t)n >= budget ? 0 : budget - (size_t)n;
        /* Small messages: a short read means src had no more just now, so
         * skip the read that would only say EAGAIN (the loop reports when
         * more arrives). Bulk data: the sender is likely writing while we
         * splice, so read again until EAGAIN; measured, that moves more
         * bytes per wakeup for the same CPU. */
        if ((size_t)n < asked && !d->splice)
            break;
    }
    if (d->state == DIR_EOF && !d->pending) {
        shutdown(d->dst, SHUT_WR);
        d->state = DIR_DONE;
    }
    return PUMP_OK;
}

static void conn_io(struct pk_loop *loop, int fd, unsigned events, void *arg);

static int set_mask(struct fw_conn *c, int fd, unsigned *cur, unsigned want)
{
    if (*cur == want)
        return 0;
    /* Nothing wanted: stop watching altogether. A quiet but registered
     * socket would still wake the loop with EPOLLHUP once the peer is gone,
     * again and again while we wait on the other side. */
    if (want == 0)
        pk_loop_unwatch(c->fw->loop, fd);
    else if (pk_loop_watch(c->fw->loop, fd, want, conn_io, c, NULL) < 0)
        return -1;
    *cur = want;
    return 0;
}

/* Watches for what the two directions wait on next; returns -1 if the loop
 * could not take it (the connection was ended). */
static int update_masks(struct fw_conn *c)
{
    unsigned cm = (c->up.state == DIR_OPEN && !c->up.pending ? PK_EV_READ : 0) |
                  (c->down.pending ? PK_EV_WRITE : 0);
    unsigned tm = (c->down.state == DIR_OPEN && !c->down.pending ? PK_EV_READ : 0) |
                  (c->up.pending ? PK_EV_WRITE : 0);
    if (set_mask(c, c->cfd, &c->cmask, cm) < 0 || set_mask(c, c->tfd, &c->tmask, tm) < 0) {
        conn_end(c, "error: event loop: out of memory", RST_CLIENT | RST_TARGET);
        return -1;
    }
    return 0;
}

/* Runs one direction; returns false when that ended the connection. */
static bool run_dir(struct fw_conn *c, struct fw_dir *d)
{
    int e = 0;
    enum pump_result r = pump(c, d, &e);
    if (r == PUMP_OK)
        return true;
    bool src_failed = r == PUMP_SRC_ERROR;
    bool client_side = (d == &c->up) == src_failed;
    end_on_error(c, client_side, e);
    return false;
}

static void after_io(struct fw_conn *c)
{
    if (c->up.state == DIR_DONE && c->down.state == DIR_DONE)
        conn_end(c, "closed", RST_NONE);
    else
        update_masks(c);
}

static void start_relay(struct fw_conn *c)
{
    c->connecting = false;
    enum pk_fw_copy mode = c->l->rule.copy;
    bool splice_first = mode == PK_FW_COPY_SPLICE, adaptive = mode == PK_FW_COPY_AUTO;
    c->up = (struct fw_dir){
        .src = c->cfd, .dst = c->tfd, .splice = splice_first, .adaptive = adaptive};
    c->down = (struct fw_dir){
        .src = c->tfd, .dst = c->cfd, .splice = splice_first, .adaptive = adaptive};
    c->last_us = pk_loop_now(c->fw->loop);
    pk_loop_timer_stop(c->fw->loop, &c->timer);
    if (c->idle_us)
        pk_loop_timer_start(c->fw->loop, &c->timer, c->idle_us);
    /* A client usually speaks first (a request): it may already be here. */
    if (!run_dir(c, &c->up))
        return;
    after_io(c);
}

static void on_connected(struct fw_conn *c)
{
    int e = 0;
    socklen_t len = sizeof e;
    if (getsockopt(c->tfd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
        e = errno;
    if (e == 0) {
        start_relay(c);
        return;
    }
    char reason[96];
    if (e == ECONNREFUSED)
        snprintf(reason, sizeof reason, "refused");
    else
        snprintf(reason, sizeof reason, "connect-error: %s", strerror(e));
    fw_resolve_failed(c->fw, c->l); /* a host-name target may have moved */
    conn_end(c, reason, RST_CLIENT);
}

static void conn_io(struct pk_loop *loop, int fd, unsigned events, void *arg)
{
    struct fw_conn *c = arg;
    if (c->connecting) {
        if (fd == c->tfd)
            on_connected(c);
        return;
    }
    bool client = fd == c->cfd;
    struct fw_dir *in = client ? &c->up : &c->down;   /* fd is its src */
    struct fw_dir *out = client ? &c->down : &c->up;  /* fd is its dst */
    if ((events & (PK_EV_READ | PK_EV_ERROR)) && !run_dir(c, in))
        return;
    if ((events & (PK_EV_WRITE | PK_EV_ERROR)) && !run_dir(c, out))
        return;
    after_io(c);
}

static void connect_target(struct fw_conn *c);

static void on_timer(struct pk_loop *loop, struct pk_timer *t, void *arg)
{
    struct fw_conn *c = arg;
    uint64_t now = pk_loop_now(loop);
    if (c->connecting && c->tfd < 0 && now < c->connect_deadline_us) {
        connect_target(c); /* waited for a free descriptor: try again */
        return;
    }
    if (c->connecting) {
        if (c->tfd >= 0)
            fw_resolve_failed(c->fw, c->l);
        conn_end(c, c->tfd < 0 ? "error: out of file descriptors" : "connect-timeout", RST_CLIENT);
        return;
    }
    uint64_t idle = now - c->last_us;
    if (idle >= c->idle_us) {
        conn_end(c, "idle-timeout", RST_NONE);
        return;
    }
    /* Traffic since the timer was set: sleep for the rest. Re-arming on
     * every byte would cost a heap operation per read. */
    pk_loop_timer_start(loop, t, c->idle_us - idle);
}

/* ---- new connections ---- */

static void connect_target(struct fw_conn *c)
{
    struct pk_fw *fw = c->fw;
    c->connecting = true;
    c->tfd = socket(c->target.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->tfd < 0) {
        int e = errno;
        if (e == EMFILE || e == ENFILE) {
            /* The client is ours already; rather than reset it, let it
             * wait as it would have in the listen queue, and take no one
             * else meanwhile. */
            fw_pause_accepting(fw);
            pk_loop_timer_start(fw->loop, &c->timer, FD_RETRY_US);
            return;
        }
        char reason[96];
        snprintf(reason, sizeof reason, "error: socket: %s", strerror(e));
        conn_end(c, reason, RST_CLIENT);
        return;
    }
    /* We pass on whatever arrives as soon as it arrives: the endpoints
     * already chose how to batch, a second Nagle delay would only add
     * latency. */
    int one = 1;
    setsockopt(c->tfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fw_bind_source(c->l, c->tfd) < 0) {
        char reason[96];
        snprintf(reason, sizeof reason, "connect-error: src: %s", strerror(errno));
        conn_end(c, reason, RST_CLIENT);
        return;
    }
    if (connect(c->tfd, &c->target.sa, fw_sa_len(&c->target)) == 0) {
        start_relay(c);
        return;
    }
    if (errno != EINPROGRESS) {
        int e = errno;
        char reason[96];
        if (e == ECONNREFUSED)
            snprintf(reason, sizeof reason, "refused");
        else
            snprintf(reason, sizeof reason, "connect-error: %s", strerror(e));
        fw_resolve_failed(fw, c->l);
        conn_end(c, reason, RST_CLIENT);
        return;
    }
    if (set_mask(c, c->tfd, &c->tmask, PK_EV_WRITE) < 0) {
        conn_end(c, "error: event loop: out of memory", RST_CLIENT);
        return;
    }
    uint64_t now = pk_loop_now(fw->loop);
    pk_loop_timer_start(fw->loop, &c->timer,
                        c->connect_deadline_us > now ? c->connect_deadline_us - now : 0);
}

static void conn_start(struct pk_fw *fw, struct fw_listener *l, int cfd, const union fw_sa *client)
{
    struct fw_conn *c = calloc(1, sizeof *c);
    if (!c) {
        reset_on_close(cfd);
        close(cfd);
        fw_warn(fw, "out of memory: connection dropped");
        return;
    }
    struct fw_tcp *t = fw->tcp;
    c->fw = fw;
    c->l = l;
    l->refs++;
    l->active++;
    c->cfd = cfd;
    c->tfd = -1;
    c->client = *client;
    memcpy(&c->target, &l->rule.target.ss, sizeof c->target);
    c->idle_us = l->rule.idle_timeout_ms * 1000;
    c->start_us = pk_loop_now(fw->loop);
    c->connect_deadline_us = c->start_us + l->rule.connect_timeout_ms * 1000;
    c->start_unix_us = fw_unix_us();
    pk_timer_init(&c->timer, on_timer, c);
    c->next = t->conns;
    if (t->conns)
        t->conns->prev = c;
    t->conns = c;
    t->nconns++;
    int one = 1;
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    connect_target(c);
}

void fw_tcp_on_accept(struct pk_loop *loop, int fd, unsigned events, void *arg)
{
    struct fw_listener *l = arg;
    struct pk_fw *fw = l->fw;
    for (int i = 0; i < ACCEPT_BATCH && l->fd >= 0 && !fw->accept_paused; i++) {
        union fw_sa client;
        socklen_t len = sizeof client;
        int cfd = accept4(fd, &client.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                fw_pause_accepting(fw);
            return;
        }
        fw->accepted++;
        if (!fw_admit(fw, l, &client.sa)) {
            /* Turned away at once: a reset, not a connection that looks
             * open and then says nothing. */
            reset_on_close(cfd);
            close(cfd);
            continue;
        }
        fw_log_open(fw, l, &client.sa);
        conn_start(fw, l, cfd, &client);
    }
}

/* ---- running out of file descriptors ---- */

static void on_accept_resume(struct pk_loop *loop, struct pk_timer *t, void *arg)
{
    struct pk_fw *fw = arg;
    fw->accept_paused = false;
    for (struct fw_listener *l = fw->listeners; l; l = l->next)
        if (l->rule.proto == PK_TCP)
            pk_loop_watch(loop, l->fd, PK_EV_READ, fw_tcp_on_accept, l, NULL);
}

void fw_pause_accepting(struct pk_fw *fw)
{
    if (fw->accept_paused)
        return;
    fw->accept_paused = true;
    /* Level-triggered: a listener with a queue we cannot take from would
     * wake the loop forever. Quiet them and retry shortly. */
    for (struct fw_listener *l = fw->listeners; l; l = l->next)
        if (l->rule.proto == PK_TCP)
            pk_loop_watch(fw->loop, l->fd, 0, fw_tcp_on_accept, l, NULL);
    uint64_t now = pk_loop_now(fw->loop);
    if (!fw->fd_warned_us || now - fw->fd_warned_us >= FD_WARN_QUIET_US) {
        fw_warn(fw, "out of file descriptors: new clients wait (checked every %d ms)",
                ACCEPT_PAUSE_US / 1000);
        fw->fd_warned_us = now;
    }
    pk_timer_init(&fw->accept_timer, on_accept_resume, fw);
    pk_loop_timer_start(fw->loop, &fw->accept_timer, ACCEPT_PAUSE_US);
}
