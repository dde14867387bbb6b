/* The service-identification stage (-sV): talks to an open TCP port as
 * banner.h's contract says -- wait for a greeting where the service speaks
 * first, else send the plan's probes (HTTP HEAD, a TLS ClientHello, ...),
 * one connection each -- and names what answered. It runs in the scan's
 * own event loop, alongside the probing, so identification of the first
 * open ports overlaps the rest of the scan. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "portkit/banner.h"
#include "portkit/registry.h"
#include "scan/scan_impl.h"

struct session {
    int kind;                  /* SVC_BANNER (scan_tls.c has the other kind) */
    struct pk_scan *s;
    struct scan_job *j;
    int fd;
    bool connecting;           /* a fresh connection for a later probe */
    struct pk_banner_plan plan;
    int step;                  /* -1: the greeting; else the probe index */
    enum pk_probe_id sent;
    uint8_t buf[PK_BANNER_READ_MAX];
    size_t len;
    bool have_unknown;         /* bytes we could not name, kept in case nothing matches */
    struct pk_service_id unknown;
    struct pk_timer step_timer, total_timer;
    char host[PK_ADDR_STRLEN];
};

static void close_fd(struct session *x)
{
    if (x->fd < 0)
        return;
    pk_loop_unwatch(x->s->loop, x->fd);
    struct linger lg = {1, 0};
    setsockopt(x->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(x->fd);
    x->fd = -1;
}

static void end_session(struct session *x)
{
    close_fd(x);
    pk_loop_timer_stop(x->s->loop, &x->step_timer);
    pk_loop_timer_stop(x->s->loop, &x->total_timer);
    x->s->inflight--;
    x->j->svc = NULL;
    free(x);
}

static void finish(struct session *x, const struct pk_service_id *id, bool matched)
{
    struct pk_scan *s = x->s;
    struct scan_job *j = x->j;
    struct pk_service_id fb;
    const char *table = s->cfg.reg ? pk_registry_name(s->cfg.reg, j->port, PK_TCP) : NULL;
    if (!id) {
        pk_banner_identify(j->port, PK_PROBE_NULL, NULL, 0, table, &fb);
        id = &fb;
    }
    /* Copy out before the session (and id, when it lives there) is freed. */
    struct pk_service_id r = *id;
    end_session(x);
    /* TLS answered, or a mail service that may offer STARTTLS: look
     * inside (scan_tls.c), which finishes the job itself. */
    char starttls = 0;
    if (matched && strcmp(r.service, "smtp") == 0 && (j->port == 25 || j->port == 587))
        starttls = 'S';
    else if (matched && strcmp(r.service, "imap") == 0 && j->port == 143)
        starttls = 'I';
    else if (matched && strcmp(r.service, "pop3") == 0 && j->port == 110)
        starttls = 'P';
    if (matched && (starttls || strcmp(r.service, "tls") == 0) && pks_tls_start(s, j, &r, starttls) == 0)
        return;
    pks_service_done(s, j, matched && r.service[0] ? r.service : NULL, r.product, r.version, r.extra,
                     r.banner);
}

static void next_step(struct session *x);
static void on_io(struct pk_loop *loop, int fd, unsigned events, void *arg);

static void on_step_timer(struct pk_loop *loop, struct pk_timer *t, void *arg)
{
    (void)loop;
    (void)t;
    struct session *x = arg;
    if (x->len > 0 && !x->connecting) {
        /* Out of time with bytes in hand: take what they say. */
        struct pk_service_id id;
        const char *table = x->s->cfg.reg ? pk_registry_name(x->s->cfg.reg, x->j->port, PK_TCP) : NULL;
        enum pk_id_status st = pk_banner_identify(x->j->port, x->sent, x->buf, x->len, table, &id);
        if (st == PK_ID_MATCH || x->step < 0) {
            finish(x, &id, st == PK_ID_MATCH);
            return;
        }
        if (!x->have_unknown) {
            x->unknown = id;
            x->have_unknown = true;
        }
    }
    next_step(x);
}

static void on_total_timer(struct pk_loop *loop, struct pk_timer *t, void *arg)
{
    (void)loop;
    (void)t;
    struct session *x = arg;
    finish(x, x->have_unknown ? &x->unknown : NULL, false);
}

static int send_probe_bytes(struct session *x)
{
    uint8_t probe[PK_PROBE_MAX];
    struct pk_probe_params pp = {.host = x->host,
                                 .nonce = pk_hash64(x->s->cfg.seed ^ x->j->port ^ (uint64_t)x->step)};
    int n = pk_banner_probe_build(x->sent, &pp, probe, sizeof probe);
    if (n < 0)
        return -1;
    if (n > 0 && send(x->fd, probe, (size_t)n, MSG_NOSIGNAL) != n)
        return -1; /* a fresh socket takes a probe this small at once */
    return 0;
}

/* Starts probe `step` on the current connection. */
static void start_probe(struct session *x)
{
    x->sent = x->plan.probes[x->step];
    x->len = 0;
    if (send_probe_bytes(x) < 0) {
        next_step(x);
        return;
    }
    struct pk_err err;
    if (pk_loop_watch(x->s->loop, x->fd, PK_EV_READ, on_io, x, &err) < 0) {
        next_step(x);
        return;
    }
    pk_loop_timer_start(x->s->loop, &x->step_timer, (uint64_t)x->plan.reply_ms * 1000);
}

static void next_step(struct session *x)
{
    pk_loop_timer_stop(x->s->loop, &x->step_timer);
    bool first_probe = x->step < 0;
    x->step++;
    if ((size_t)x->step >= x->plan.nprobes) {
        finish(x, x->have_unknown ? &x->unknown : NULL, false);
        return;
    }
    if (first_probe && x->fd >= 0) { /* the first probe rides the greeting's connection */
        start_probe(x);
        return;
    }
    /* Every later probe gets a connection of its own. */
    close_fd(x);
    struct scan_host *h = x->j->host;
    int fd = socket(h->addr.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        finish(x, x->have_unknown ? &x->unknown : NULL, false);
        return;
    }
    x->fd = fd;
    struct sockaddr_storage ss;
    socklen_t len;
    pks_sockaddr(h, x->j->port, &ss, &len);
    struct pk_err err;
    if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
        start_probe(x);
        return;
    }
    if (errno != EINPROGRESS || pk_loop_watch(x->s->loop, fd, PK_EV_WRITE, on_io, x, &err) < 0) {
        next_step(x);
        return;
    }
    x->connecting = true;
    pk_loop_timer_start(x->s->loop, &x->step_timer, (uint64_t)x->plan.reply_ms * 1000);
}

static void on_io(struct pk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)events;
    struct session *x = arg;
    if (x->connecting) {
        int e = 0;
        socklen_t el = sizeof e;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
        x->connecting = false;
        pk_loop_timer_stop(x->s->loop, &x->step_timer);
        if (e) {
            next_step(x);
            return;
        }
        start_probe(x);
        return;
    }
    ssize_t n = recv(fd, x->buf + x->len, sizeof x->buf - x->len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n > 0)
        x->len += (size_t)n;
    const char *table = x->s->cfg.reg ? pk_registry_name(x->s->cfg.reg, x->j->port, PK_TCP) : NULL;
    struct pk_service_id id;
    enum pk_id_status st = x->len ? pk_banner_identify(x->j->port, x->sent, x->buf, x->len, table, &id)
                                  : PK_ID_NONE;
    bool closed = n <= 0 || x->len == sizeof x->buf;
    if (st == PK_ID_MATCH || (x->step < 0 && st == PK_ID_UNKNOWN) ||
        (x->step < 0 && closed && x->len)) {
        /* A service that speaks first has said what it is. */
        finish(x, &id, st == PK_ID_MATCH);
        return;
    }
    if (st == PK_ID_UNKNOWN || (closed && x->len)) {
        if (!x->have_unknown) {
            x->unknown = id;
            x->have_unknown = true;
        }
        next_step(x);
        return;
    }
    if (closed) /* nothing at all: try the next probe */
        next_step(x);
    /* PK_ID_MORE: keep reading until the step's time is up */
}

static int stage_start(struct pk_scan *s, struct scan_job *j, int fd)
{
    struct session *x = calloc(1, sizeof *x);
    if (!x)
        return -1;
    x->kind = SVC_BANNER;
    x->s = s;
    x->j = j;
    x->fd = fd;
    x->step = -1;
    j->svc = x;
    if (j->host->hostname)
        snprintf(x->host, sizeof x->host, "%s", j->host->hostname);
    else
        pk_addr_format(&j->host->addr, x->host, sizeof x->host);
    pk_banner_plan_for(j->port, &x->plan);
    pk_timer_init(&x->step_timer, on_step_timer, x);
    pk_timer_init(&x->total_timer, on_total_timer, x);
    pk_loop_timer_start(s->loop, &x->total_timer, (uint64_t)s->cfg.service_timeout_ms * 1000);
    struct pk_err err;
    if (x->plan.greeting_ms > 0) {
        x->sent = PK_PROBE_NULL;
        if (pk_loop_watch(s->loop, fd, PK_EV_READ, on_io, x, &err) < 0) {
            x->fd = -1; /* the caller closes it */
            pk_loop_timer_stop(s->loop, &x->total_timer);
            j->svc = NULL;
            free(x);
            return -1;
        }
        pk_loop_timer_start(s->loop, &x->step_timer, (uint64_t)x->plan.greeting_ms * 1000);
        return 0;
    }
    next_step(x);
    return 0;
}

static void stage_abort(struct pk_scan *s, struct scan_job *j)
{
    struct session *x = j->svc;
    if (x && x->kind == SVC_TLS)
        pks_tls_abort(s, j);
    else if (x)
        end_session(x);
}

const struct scan_service_stage pks_banner_stage = {
    .start = stage_start,
    .abort = stage_abort,
};
