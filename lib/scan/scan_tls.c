/* -sV inside TLS: when a port answers a ClientHello, or a mail service
 * offers STARTTLS (SMTP 25/587, POP3 110, IMAP 143), a fresh connection
 * completes the handshake with OpenSSL, records the server's certificate
 * (nmap's ssl-cert) and identifies what speaks inside: HTTP for HTTPS and
 * any port that is TLS only, the greeting of IMAPS 993, POP3S 995 and
 * SMTPS 465. Everything is non-blocking in the scan's event loop and ends
 * within --service-timeout; certificates are never verified (a scanner
 * reports them, it does not trust them). */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "portkit/banner.h"
#include "portkit/buf.h"
#include "scan/scan_impl.h"

enum tls_phase { T_CONNECT, T_PLAIN, T_HANDSHAKE, T_INNER };

struct tls_stage {
    int kind;                       /* SVC_TLS: j->svc may point to either stage */
    struct pk_scan *s;
    struct scan_job *j;
    int fd;
    SSL *ssl;
    enum tls_phase phase;
    char starttls;                  /* 0, 'S' SMTP, 'I' IMAP, 'P' POP3 */
    int plain_step;
    bool inner_greeting;            /* the service inside speaks first */
    bool inner_sent;
    struct pk_service_id base;      /* what was known before TLS */
    uint8_t buf[PK_BANNER_READ_MAX];
    size_t len;
    char *cert;
    char version[16];
    struct pk_timer total, step;
    char host[PK_ADDR_STRLEN];
};

void pks_tls_ctx_free(struct pk_scan *s)
{
    SSL_CTX_free(s->ssl_ctx);
    s->ssl_ctx = NULL;
}

static SSL_CTX *ctx_get(struct pk_scan *s)
{
    if (s->ssl_ctx)
        return s->ssl_ctx;
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    if (!c)
        return NULL;
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    /* Old servers are reported, not refused. */
    SSL_CTX_set_security_level(c, 0);
    SSL_CTX_set_min_proto_version(c, 0);
    s->ssl_ctx = c;
    return c;
}

static void stage_end(struct tls_stage *t, bool inner_matched, const struct pk_service_id *inner)
{
    struct pk_scan *s = t->s;
    struct scan_job *j = t->j;
    pk_loop_timer_stop(s->loop, &t->total);
    pk_loop_timer_stop(s->loop, &t->step);
    if (t->fd >= 0) {
        pk_loop_unwatch(s->loop, t->fd);
        if (t->ssl && t->phase == T_INNER)
            SSL_shutdown(t->ssl);
        pks_tcp_close_reset(t->fd);
    }
    SSL_free(t->ssl);
    s->inflight--;
    j->svc = NULL;
    struct pk_service_id r = t->base;
    if (inner_matched)
        r = *inner;
    /* "TLSv1.3; <what the service inside said>", cut to fit */
    char extra[sizeof r.extra];
    struct pk_buf eb = PK_BUF_INIT;
    pk_buf_printf(&eb, "%s%s%s", t->version, t->version[0] && r.extra[0] ? "; " : "", r.extra);
    size_t el = eb.len < sizeof extra - 1 ? eb.len : sizeof extra - 1;
    memcpy(extra, eb.data ? eb.data : "", el);
    extra[el] = 0;
    pk_buf_free(&eb);
    j->cert = t->cert;
    j->tunnel = !t->starttls && t->version[0];
    free(t);
    pks_service_done(s, j, r.service[0] ? r.service : NULL, r.product, r.version, extra, r.banner);
}

static void on_total(struct pk_loop *loop, struct pk_timer *tm, void *arg)
{
    (void)loop;
    (void)tm;
    stage_end(arg, false, NULL);
}

static void record_cert(struct tls_stage *t)
{
    snprintf(t->version, sizeof t->version, "%s", SSL_get_version(t->ssl));
    X509 *x = SSL_get1_peer_certificate(t->ssl);
    if (!x)
        return;
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    X509_free(x);
    struct pk_cert_info ci;
    if (len > 0 && pk_cert_parse(der, (size_t)len, (int64_t)time(NULL), &ci) == 0) {
        char text[2048];
        pk_cert_format(&ci, text, sizeof text);
        t->cert = strdup(text);
    }
    OPENSSL_free(der);
}

static void watch(struct tls_stage *t, unsigned mask);

/* The STARTTLS dialogue: after the answer to step N, the command of step
 * N+1; NULL: the handshake starts. */
static const char *plain_cmd(char kind, int step)
{
    switch (kind) {
    case 'S': return step == 1 ? "EHLO portkit.invalid\r\n" : step == 2 ? "STARTTLS\r\n" : NULL;
    case 'I': return step == 1 ? "a1 STARTTLS\r\n" : NULL;
    default: return step == 1 ? "STLS\r\n" : NULL;
    }
}

/* Whether buf holds a complete, positive answer for this step. */
static int plain_answer(const struct tls_stage *t)
{
    const char *b = (const char *)t->buf;
    if (t->len < 2 || b[t->len - 1] != '\n')
        return 0; /* wait for the whole line */
    switch (t->starttls) {
    case 'S': { /* multi-line 250-... ends with "NNN " */
        const char *last = b, *p;
        for (p = b; p < b + t->len - 1; p++)
            if (*p == '\n')
                last = p + 1;
        if (t->len - (size_t)(last - b) < 4 || last[3] == '-')
            return 0;
        return last[0] == '2' ? 1 : -1;
    }
    case 'I':
        if (t->plain_step == 0)
            return b[0] == '*' ? 1 : -1;
        return strstr(b, "a1 OK") ? 1 : strstr(b, "a1 ") ? -1 : 0;
    default:
        return b[0] == '+' ? 1 : -1;
    }
}

static void handshake(struct tls_stage *t);
static void inner(struct tls_stage *t);

static void plain_io(struct tls_stage *t)
{
    ssize_t n = recv(t->fd, t->buf + t->len, sizeof t->buf - 1 - t->len, MSG_DONTWAIT);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n <= 0) {
        stage_end(t, false, NULL);
        return;
    }
    t->len += (size_t)n;
    t->buf[t->len] = 0;
    int ok = plain_answer(t);
    if (ok == 0 && t->len < sizeof t->buf - 1)
        return;
    if (ok < 0 || ok == 0) {
        stage_end(t, false, NULL); /* no STARTTLS offered: plaintext it stays */
        return;
    }
    t->len = 0;
    t->plain_step++;
    const char *cmd = plain_cmd(t->starttls, t->plain_step);
    if (!cmd) {
        t->phase = T_HANDSHAKE;
        handshake(t);
        return;
    }
    if (send(t->fd, cmd, strlen(cmd), MSG_NOSIGNAL) != (ssize_t)strlen(cmd))
        stage_end(t, false, NULL);
}

static void handshake(struct tls_stage *t)
{
    if (!t->ssl) {
        SSL_CTX *c = ctx_get(t->s);
        t->ssl = c ? SSL_new(c) : NULL;
        if (!t->ssl || SSL_set_fd(t->ssl, t->fd) != 1) {
            stage_end(t, false, NULL);
            return;
        }
        struct pk_addr lit;
        if (t->host[0] && pk_addr_parse(t->host, &lit) != 0)
            SSL_set_tlsext_host_name(t->ssl, t->host); /* SNI for names, never for addresses */
    }
    ERR_clear_error();
    int rc = SSL_connect(t->ssl);
    if (rc == 1) {
        record_cert(t);
        t->phase = T_INNER;
        t->len = 0;
        inner(t);
        return;
    }
    int e = SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_WANT_READ)
        watch(t, PK_EV_READ);
    else if (e == SSL_ERROR_WANT_WRITE)
        watch(t, PK_EV_WRITE);
    else
        stage_end(t, false, NULL);
}

static void on_step(struct pk_loop *loop, struct pk_timer *tm, void *arg)
{
    (void)loop;
    (void)tm;
    struct tls_stage *t = arg;
    struct pk_service_id id;
    enum pk_id_status st = t->len ? pk_banner_identify(t->j->port, t->inner_sent ? PK_PROBE_HTTP : PK_PROBE_NULL,
                                                       t->buf, t->len, t->base.service, &id)
                                  : PK_ID_NONE;
    if (st == PK_ID_MATCH || !t->inner_greeting || t->inner_sent) {
        stage_end(t, st == PK_ID_MATCH, &id);
        return;
    }
    /* No greeting inside: ask in HTTP. */
    t->inner_greeting = false;
    inner(t);
}

/* After the handshake: read what the service inside says, or ask it. */
static void inner(struct tls_stage *t)
{
    if (t->starttls) {
        stage_end(t, false, NULL); /* the service is the one that offered STARTTLS */
        return;
    }
    if (!t->inner_greeting && !t->inner_sent) {
        uint8_t probe[PK_PROBE_MAX];
        struct pk_probe_params pp = {.host = t->host, .nonce = t->s->cfg.seed ^ t->j->port};
        int n = pk_banner_probe_build(PK_PROBE_HTTP, &pp, probe, sizeof probe);
        if (n <= 0 || SSL_write(t->ssl, probe, n) != n) {
            stage_end(t, false, NULL);
            return;
        }
        t->inner_sent = true;
        pk_loop_timer_start(t->s->loop, &t->step, 2000000);
    }
    for (;;) {
        ERR_clear_error();
        int n = SSL_read(t->ssl, t->buf + t->len, (int)(sizeof t->buf - t->len));
        if (n > 0) {
            t->len += (size_t)n;
            struct pk_service_id id;
            enum pk_id_status st = pk_banner_identify(t->j->port, t->inner_sent ? PK_PROBE_HTTP : PK_PROBE_NULL,
                                                      t->buf, t->len, t->base.service, &id);
            if (st == PK_ID_MATCH || t->len == sizeof t->buf) {
                stage_end(t, st == PK_ID_MATCH, &id);
                return;
            }
            continue;
        }
        int e = SSL_get_error(t->ssl, n);
        if (e == SSL_ERROR_WANT_READ) {
            watch(t, PK_EV_READ);
            return;
        }
        if (e == SSL_ERROR_WANT_WRITE) {
            watch(t, PK_EV_WRITE);
            return;
        }
        on_step(t->s->loop, &t->step, t); /* closed: take what came */
        return;
    }
}

static void on_io(struct pk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)events;
    struct tls_stage *t = arg;
    switch (t->phase) {
    case T_CONNECT: {
        int e = 0;
        socklen_t el = sizeof e;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
        if (e) {
            stage_end(t, false, NULL);
            return;
        }
        t->phase = t->starttls ? T_PLAIN : T_HANDSHAKE;
        if (t->starttls)
            watch(t, PK_EV_READ);
        else
            handshake(t);
        return;
    }
    case T_PLAIN: plain_io(t); return;
    case T_HANDSHAKE: handshake(t); return;
    case T_INNER: inner(t); return;
    }
}

static void watch(struct tls_stage *t, unsigned mask)
{
    struct pk_err err;
    if (pk_loop_watch(t->s->loop, t->fd, mask, on_io, t, &err) < 0)
        stage_end(t, false, NULL);
}

int pks_tls_start(struct pk_scan *s, struct scan_job *j, const struct pk_service_id *base, char starttls)
{
    struct tls_stage *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    t->kind = SVC_TLS;
    t->s = s;
    t->j = j;
    t->base = *base;
    t->starttls = starttls;
    unsigned p = j->port;
    t->inner_greeting = p == 993 || p == 995 || p == 465 || p == 990 || p == 992;
    if (j->host->hostname)
        snprintf(t->host, sizeof t->host, "%s", j->host->hostname);
    t->fd = socket(j->host->addr.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (t->fd < 0) {
        free(t);
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t len;
    pks_sockaddr(j->host, j->port, &ss, &len);
    if (connect(t->fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
        close(t->fd);
        free(t);
        return -1;
    }
    s->inflight++;
    j->svc = t;
    pk_timer_init(&t->total, on_total, t);
    pk_timer_init(&t->step, on_step, t);
    pk_loop_timer_start(s->loop, &t->total, (uint64_t)s->cfg.service_timeout_ms * 1000);
    t->phase = T_CONNECT;
    watch(t, PK_EV_WRITE);
    return 0;
}

void pks_tls_abort(struct pk_scan *s, struct scan_job *j)
{
    struct tls_stage *t = j->svc;
    pk_loop_timer_stop(s->loop, &t->total);
    pk_loop_timer_stop(s->loop, &t->step);
    if (t->fd >= 0) {
        pk_loop_unwatch(s->loop, t->fd);
        close(t->fd);
    }
    SSL_free(t->ssl);
    free(t->cert);
    s->inflight--;
    j->svc = NULL;
    free(t);
}
