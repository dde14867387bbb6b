/* The forwarder: listeners, reconfiguration, admission and draining. The
 * TCP relay and UDP sessions live in forward_tcp.c and forward_udp.c. */
#include "forward/forward_impl.h"

#include <errno.h>
#include <stdint.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define LISTEN_BACKLOG 4096
#define ACCEPT_PAUSE_US 100000       /* after EMFILE: let connections end first */
#define DENY_LOG_QUIET_US 10000000   /* one log line per denied UDP client per 10 s */
#define FD_WARN_QUIET_US 10000000    /* and one about running out of descriptors */
/* Descriptors kept out of the connection budget: stdio, the loop, the log,
 * signalfd, a resolver, and spares to accept a client over the limit and
 * close it at once. Listeners come on top. */
#define FD_RESERVE 16
#define DEFAULT_UDP_BUFFER (4u << 20)

uint64_t fw_unix_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

socklen_t fw_sa_len(const union fw_sa *a)
{
    return a->sa.sa_family == AF_INET ? sizeof a->in : sizeof a->in6;
}

void fw_log(struct pk_fw *fw, const struct pk_fw_event *ev)
{
    if (fw->opts.log)
        fw->opts.log(fw->opts.log_arg, ev);
}

void fw_warn(struct pk_fw *fw, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct pk_fw_event ev = {.kind = PK_FW_EV_WARN, .reason = msg};
    fw_log(fw, &ev);
}

static bool same_client(const union fw_sa *a, const struct sockaddr *b)
{
    if (a->sa.sa_family != b->sa_family)
        return false;
    if (b->sa_family == AF_INET)
        return a->in.sin_addr.s_addr == ((const struct sockaddr_in *)(const void *)b)->sin_addr.s_addr;
    return memcmp(&a->in6.sin6_addr, &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr,
                  sizeof a->in6.sin6_addr) == 0;
}

/* A UDP client turned away keeps sending: one log line per client per
 * DENY_LOG_QUIET_US, not one per datagram. */
static bool quiet_repeat(struct pk_fw *fw, struct fw_listener *l, const struct sockaddr *client)
{
    if (l->rule.proto != PK_UDP)
        return false;
    uint64_t now = pk_loop_now(fw->loop);
    if (same_client(&l->last_denied, client) && now - l->last_denied_us < DENY_LOG_QUIET_US)
        return true;
    memcpy(&l->last_denied, client,
           client->sa_family == AF_INET ? sizeof l->last_denied.in : sizeof l->last_denied.in6);
    l->last_denied_us = now;
    return false;
}

static size_t units_used(const struct pk_fw *fw)
{
    return 2 * fw_tcp_count(fw) + fw_udp_count(fw);
}

static void compute_budget(struct pk_fw *fw)
{
    if (fw->opts.max_conns) {
        fw->budget = 2 * fw->opts.max_conns;
        return;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY) {
        fw->budget = SIZE_MAX;
        return;
    }
    size_t listeners = 0;
    for (struct fw_listener *l = fw->listeners; l; l = l->next)
        listeners++;
    /* Splice pipes are not reserved: without a descriptor for one, a
     * connection copies through memory instead. */
    size_t reserve = FD_RESERVE + listeners;
    fw->budget = rl.rlim_cur > reserve + 2 ? (size_t)rl.rlim_cur - reserve : 2;
}

void fw_log_open(struct pk_fw *fw, struct fw_listener *l, const struct sockaddr *client)
{
    struct pk_fw_event ev = {
        .kind = PK_FW_EV_OPEN, .proto = l->rule.proto, .line = l->rule.line, .client = client,
        .listen = &l->bound.sa, .target = (const struct sockaddr *)&l->rule.target.ss,
        .start_unix_us = fw_unix_us(),
    };
    fw_log(fw, &ev);
}

void fw_udp_buffers(struct pk_fw *fw, int fd)
{
    int want = (int)(fw->opts.udp_buffer ? fw->opts.udp_buffer : DEFAULT_UDP_BUFFER);
    /* The FORCE variants pass rmem_max/wmem_max with CAP_NET_ADMIN; without
     * it the plain ones give what the kernel allows. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) < 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
}

int fw_bind_source(const struct fw_listener *l, int fd)
{
    if (!l->rule.has_source)
        return 0;
    return bind(fd, (const struct sockaddr *)&l->rule.source.ss, l->rule.source.len);
}

bool fw_admit(struct pk_fw *fw, struct fw_listener *l, const struct sockaddr *client)
{
    struct pk_fw_event ev = {
        .proto = l->rule.proto, .line = l->rule.line, .client = client, .listen = &l->bound.sa,
        .target = (const struct sockaddr *)&l->rule.target.ss,
    };
    char why[160];
    bool global_ok = pk_acl_permits(fw->acl, client);
    if (!global_ok || !pk_acl_permits(l->rule.acl, client)) {
        fw->denied++;
        if (quiet_repeat(fw, l, client))
            return false;
        ev.kind = PK_FW_EV_DENY;
        ev.reason = global_ok ? "rule allow/deny" : "global allow/deny";
        fw_log(fw, &ev);
        return false;
    }
    if (l->rule.max_conns && l->active >= l->rule.max_conns) {
        fw->limited++;
        if (quiet_repeat(fw, l, client))
            return false;
        snprintf(why, sizeof why, "max-conns %u reached", l->rule.max_conns);
        ev.kind = PK_FW_EV_LIMIT;
        ev.reason = why;
        fw_log(fw, &ev);
        return false;
    }
    size_t need = l->rule.proto == PK_UDP ? 1 : 2;
    if (units_used(fw) + need > fw->budget) {
        fw->limited++;
        /* A crowd is over the limit at once: one line per quiet period. */
        uint64_t now = pk_loop_now(fw->loop);
        if (fw->limit_warned_us && now - fw->limit_warned_us < FD_WARN_QUIET_US)
            return false;
        fw->limit_warned_us = now;
        if (fw->opts.max_conns)
            snprintf(why, sizeof why, "forwarder max-conns %zu reached", fw->opts.max_conns);
        else
            snprintf(why, sizeof why,
                     "%zu connections at once reached (from the open-file limit, ulimit -n); "
                     "new clients are reset", fw->budget / 2);
        ev.kind = PK_FW_EV_LIMIT;
        ev.reason = why;
        fw_log(fw, &ev);
        return false;
    }
    return true;
}

/* ---- listeners ---- */

static void listener_free(struct fw_listener *l)
{
    pk_acl_free(l->rule.acl);
    free(l);
}

void fw_listener_put(struct fw_listener *l)
{
    if (--l->refs == 0)
        listener_free(l);
}

static int open_socket(struct fw_listener *l, int family, bool *no_family, struct pk_err *err)
{
    bool udp = l->rule.proto == PK_UDP;
    char text[PK_FW_ADDRSTRLEN];
    pk_fw_addr_format(&l->rule.listen, text, sizeof text);
    const char *proto = pk_proto_name(l->rule.proto);
    int fd = socket(family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *no_family = errno == EAFNOSUPPORT;
        return pk_err_sys(err, "%s %s: socket", proto, text);
    }
    int one = 1, zero = 0;
    /* For TCP, SO_REUSEADDR only skips TIME_WAIT leftovers of a previous
     * run. For UDP it would let two sockets share the port: never. */
    if (!udp)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6 && l->rule.listen.any)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    union fw_sa addr;
    memcpy(&addr, &l->rule.listen.ss, sizeof addr);
    if (family == AF_INET && l->rule.listen.any) {
        uint16_t port = addr.in6.sin6_port;
        memset(&addr, 0, sizeof addr);
        addr.in.sin_family = AF_INET;
        addr.in.sin_port = port;
    }
    int rc = 0;
    if (bind(fd, &addr.sa, fw_sa_len(&addr)) < 0)
        rc = pk_err_sys(err, "%s %s: cannot listen", proto, text);
    else if (!udp && listen(fd, LISTEN_BACKLOG) < 0)
        rc = pk_err_sys(err, "%s %s: listen", proto, text);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    socklen_t len = sizeof l->bound;
    getsockname(fd, &l->bound.sa, &len);
    bool wildcard = l->rule.listen.any ||
                    (family == AF_INET && addr.in.sin_addr.s_addr == htonl(INADDR_ANY)) ||
                    (family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&addr.in6.sin6_addr));
    if (udp && wildcard) {
        l->pktinfo = true;
        if (family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
        else
            setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
    }
    if (udp)
        fw_udp_buffers(l->fw, fd);
    l->fd = fd;
    return 0;
}

/* Opens and watches a listener for rule; nothing is logged yet. */
static int listener_open(struct pk_fw *fw, const struct pk_fw_rule *rule, struct fw_listener **out,
                         struct pk_err *err)
{
    struct fw_listener *l = calloc(1, sizeof *l);
    if (!l)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    l->fw = fw;
    l->fd = -1;
    l->refs = 1;
    l->rule = *rule;
    l->rule.acl = NULL;
    if (rule->acl && !(l->rule.acl = pk_acl_clone(rule->acl))) {
        free(l);
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    }
    bool no_family = false;
    int rc = open_socket(l, rule->listen.ss.ss_family, &no_family, err);
    if (rc < 0 && no_family && rule->listen.any)
        rc = open_socket(l, AF_INET, &no_family, err); /* a host without IPv6 */
    if (rc == 0) {
        pk_io_fn *fn = rule->proto == PK_UDP ? fw_udp_on_datagram : fw_tcp_on_accept;
        rc = pk_loop_watch(fw->loop, l->fd, PK_EV_READ, fn, l, err);
        if (rc < 0)
            close(l->fd);
    }
    if (rc < 0) {
        listener_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

static void listener_close(struct pk_fw *fw, struct fw_listener *l, const char *reason)
{
    l->next = NULL;
    if (l->rule.proto == PK_UDP)
        fw_udp_close_sessions(fw, l, reason); /* the reply path is this socket */
    pk_loop_unwatch(fw->loop, l->fd);
    close(l->fd);
    l->fd = -1;
    struct pk_fw_event ev = {
        .kind = PK_FW_EV_UNLISTEN, .proto = l->rule.proto, .line = l->rule.line,
        .listen = &l->bound.sa, .target = (const struct sockaddr *)&l->rule.target.ss,
        .reason = reason,
    };
    fw_log(fw, &ev);
    fw_listener_put(l);
}

static void log_listen(struct pk_fw *fw, struct fw_listener *l)
{
    struct pk_fw_event ev = {
        .kind = PK_FW_EV_LISTEN, .proto = l->rule.proto, .line = l->rule.line,
        .listen = &l->bound.sa, .target = (const struct sockaddr *)&l->rule.target.ss,
    };
    fw_log(fw, &ev);
}

static struct fw_listener *find_open(struct pk_fw *fw, const struct pk_fw_rule *rule)
{
    for (struct fw_listener *l = fw->listeners; l; l = l->next)
        if (l->rule.proto == rule->proto && pk_fw_addr_equal(&l->rule.listen, &rule->listen))
            return l;
    return NULL;
}

int pk_fw_apply(struct pk_fw *fw, const struct pk_fw_config *cfg, struct pk_err *err)
{
    if (fw->draining)
        return pk_err_set(err, PK_EINVAL, "shutting down: configuration not applied");
    size_t n = pk_fw_config_count(cfg);
    /* Phase one does everything that can fail: new sockets, copies of the
     * allow/deny lists. Phase two only swaps pointers. */
    struct fw_listener **fresh = calloc(n ? n : 1, sizeof *fresh);
    struct pk_acl **acls = calloc(n ? n : 1, sizeof *acls);
    struct pk_acl *global = pk_acl_clone(pk_fw_config_acl_const(cfg));
    int rc = 0;
    if (!fresh || !acls || !global)
        rc = pk_err_set(err, PK_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct pk_fw_rule *r = pk_fw_config_rule(cfg, i);
        if (find_open(fw, r)) {
            if (r->acl && !(acls[i] = pk_acl_clone(r->acl)))
                rc = pk_err_set(err, PK_ENOMEM, "out of memory");
            continue;
        }
        rc = listener_open(fw, r, &fresh[i], err);
        if (rc < 0 && r->line) {
            char msg[PK_ERR_MSG_MAX];
            snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
            pk_err_set(err, rc, "rule on line %u: %s", r->line, msg);
        }
    }
    if (rc < 0) {
        for (size_t i = 0; i < n; i++) {
            if (fresh && fresh[i]) {
                pk_loop_unwatch(fw->loop, fresh[i]->fd);
                close(fresh[i]->fd);
                listener_free(fresh[i]);
            }
            if (acls)
                pk_acl_free(acls[i]);
        }
        free(fresh);
        free(acls);
        pk_acl_free(global);
        return rc;
    }

    /* Phase two. The running listeners are taken off fw->listeners; each
     * rule claims its own or a fresh one, in configuration order; what is
     * left over was removed from the configuration and closes. */
    struct fw_listener *old = fw->listeners, *list = NULL, **tail = &list;
    fw->listeners = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct pk_fw_rule *r = pk_fw_config_rule(cfg, i);
        struct fw_listener *l = fresh[i];
        if (!l) {
            for (struct fw_listener **p = &old; *p; p = &(*p)->next) {
                if ((*p)->rule.proto == r->proto && pk_fw_addr_equal(&(*p)->rule.listen, &r->listen)) {
                    l = *p;
                    *p = l->next;
                    break;
                }
            }
            /* New options and target apply to connections from now on. */
            pk_acl_free(l->rule.acl);
            l->rule = *r;
            l->rule.acl = acls[i];
        }
        l->next = NULL;
        *tail = l;
        tail = &l->next;
    }
    while (old) {
        struct fw_listener *l = old;
        old = l->next;
        listener_close(fw, l, "reload");
    }
    fw->listeners = list;
    compute_budget(fw);
    for (size_t i = 0; i < n; i++)
        if (fresh[i])
            log_listen(fw, fresh[i]);
    free(fresh);
    free(acls);
    pk_acl_free(fw->acl);
    fw->acl = global;
    return 0;
}

/* ---- lifetime ---- */

struct pk_fw *pk_fw_new(struct pk_loop *loop, const struct pk_fw_options *opts,
                        struct pk_err *err)
{
    struct pk_fw *fw = calloc(1, sizeof *fw);
    if (!fw) {
        pk_err_set(err, PK_ENOMEM, "out of memory");
        return NULL;
    }
    fw->loop = loop;
    if (opts)
        fw->opts = *opts;
    fw->acl = pk_acl_new();
    pk_timer_init(&fw->drain_timer, NULL, fw);
    pk_timer_init(&fw->accept_timer, NULL, fw);
    if (!fw->acl || fw_tcp_new(fw, err) < 0 || fw_udp_new(fw, err) < 0) {
        if (!fw->acl)
            pk_err_set(err, PK_ENOMEM, "out of memory");
        pk_fw_free(fw);
        return NULL;
    }
    return fw;
}

static void close_listeners(struct pk_fw *fw, const char *reason)
{
    while (fw->listeners) {
        struct fw_listener *l = fw->listeners;
        fw->listeners = l->next;
        listener_close(fw, l, reason);
    }
}

void pk_fw_free(struct pk_fw *fw)
{
    if (!fw)
        return;
    pk_loop_timer_stop(fw->loop, &fw->drain_timer);
    pk_loop_timer_stop(fw->loop, &fw->accept_timer);
    fw->opts.log = NULL; /* pk_fw_free is silent */
    if (fw->tcp)
        fw_tcp_close_all(fw, NULL);
    if (fw->udp)
        fw_udp_close_sessions(fw, NULL, NULL);
    close_listeners(fw, "shutdown");
    fw_tcp_free(fw);
    fw_udp_free(fw);
    pk_acl_free(fw->acl);
    free(fw);
}

/* ---- draining ---- */

static void finish_drain(struct pk_fw *fw)
{
    if (fw->drained)
        return;
    fw->drained = true;
    pk_loop_timer_stop(fw->loop, &fw->drain_timer);
    pk_loop_timer_stop(fw->loop, &fw->accept_timer);
    if (fw->opts.drained)
        fw->opts.drained(fw->opts.drained_arg);
}

void fw_active_changed(struct pk_fw *fw)
{
    if (fw->draining && fw_tcp_count(fw) == 0 && fw_udp_count(fw) == 0)
        finish_drain(fw);
}

static void on_drain_deadline(struct pk_loop *loop, struct pk_timer *t, void *arg)
{
    struct pk_fw *fw = arg;
    fw_tcp_close_all(fw, "shutdown");
    fw_udp_close_sessions(fw, NULL, "shutdown");
    finish_drain(fw);
}

void pk_fw_shutdown(struct pk_fw *fw, uint64_t deadline_ms)
{
    if (fw->draining) {
        on_drain_deadline(fw->loop, &fw->drain_timer, fw);
        return;
    }
    fw->draining = true;
    /* UDP sessions have no end of their own to wait for: they end now. */
    close_listeners(fw, "shutdown");
    fw_udp_close_sessions(fw, NULL, "shutdown");
    if (fw_tcp_count(fw) == 0) {
        finish_drain(fw);
        return;
    }
    pk_timer_init(&fw->drain_timer, on_drain_deadline, fw);
    pk_loop_timer_start(fw->loop, &fw->drain_timer, deadline_ms * 1000);
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

void pk_fw_stats(const struct pk_fw *fw, struct pk_fw_stats *out)
{
    memset(out, 0, sizeof *out);
    for (const struct fw_listener *l = fw->listeners; l; l = l->next)
        out->listeners++;
    out->tcp_conns = fw_tcp_count(fw);
    out->udp_sessions = fw_udp_count(fw);
    fw_tcp_pipe_stats(fw, &out->pipes_busy, &out->pipes_idle);
    out->max_conns = fw->budget / 2;
    out->accepted = fw->accepted;
    out->denied = fw->denied;
    out->limited = fw->limited;
}

long pk_fw_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? -1 : (long)rl.rlim_cur;
}
