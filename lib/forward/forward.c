/* The forwarder: listeners, reconfiguration and draining. The TCP relay and
 * UDP sessions live in forward_tcp.c and forward_udp.c; what they call back
 * (admission, logging, the end of a drain) in forward_svc.c. */
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
/* Descriptors kept out of the connection budget: stdio, the loop, the log,
 * signalfd, a resolver, and spares to accept a client over the limit and
 * close it at once. Listeners come on top. */
#define FD_RESERVE 16

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


/* ---- listeners ---- */

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
    pk_timer_init(&l->resolve_timer, NULL, l);
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
        fw_listener_put(l); /* the only reference: frees it */
        return rc;
    }
    *out = l;
    return 0;
}

static void listener_close(struct pk_fw *fw, struct fw_listener *l, const char *reason)
{
    l->next = NULL;
    fw_resolve_forget(fw, l);
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
            int sys = err ? err->sys_errno : 0;
            pk_err_set(err, rc, "rule on line %u: %s", r->line, msg);
            if (err)
                err->sys_errno = sys; /* EADDRINUSE or EACCES, for the caller to explain */
        }
    }
    if (rc < 0) {
        for (size_t i = 0; i < n; i++) {
            if (fresh && fresh[i]) {
                pk_loop_unwatch(fw->loop, fresh[i]->fd);
                close(fresh[i]->fd);
                fw_listener_put(fresh[i]); /* never shared yet: frees it */
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
    /* Host-name targets: learn their TTL now (they were resolved at load). */
    for (struct fw_listener *l = fw->listeners; l; l = l->next)
        if (l->rule.target.host[0])
            fw_resolve_watch(fw, l);
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
    fw->live_count[0] = fw_tcp_count;
    fw->live_count[1] = fw_udp_count;
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
    fw_resolve_free(fw);
    fw_tcp_free(fw);
    fw_udp_free(fw);
    pk_acl_free(fw->acl);
    free(fw);
}

/* ---- draining ---- */

static void on_drain_deadline(struct pk_loop *loop, struct pk_timer *t, void *arg)
{
    struct pk_fw *fw = arg;
    fw_tcp_close_all(fw, "shutdown");
    fw_udp_close_sessions(fw, NULL, "shutdown");
    fw_finish_drain(fw);
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
        fw_finish_drain(fw);
        return;
    }
    pk_timer_init(&fw->drain_timer, on_drain_deadline, fw);
    pk_loop_timer_start(fw->loop, &fw->drain_timer, deadline_ms * 1000);
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
