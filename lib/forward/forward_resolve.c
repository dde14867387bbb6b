/* Host-name targets, looked up again: when the name's DNS TTL runs out, and
 * at once when a connect to the target fails (the host may have moved).
 * getaddrinfo blocks, so lookups run on one worker thread fed through a
 * pipe; answers come back through another pipe the event loop watches. A
 * listener with a lookup under way holds a reference, so a reload that
 * drops it cannot free it under the worker's answer. */
#include "forward/forward_impl.h"

#include <arpa/nameser.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIN_RECHECK_US 1000000ull        /* a TTL of 0 must not spin */
#define MAX_RECHECK_US 3600000000ull
#define NO_TTL_RECHECK_US 60000000ull    /* /etc/hosts names carry no TTL */
#define FAILED_RECHECK_US 10000000ull    /* after a failed lookup */
#define CONNECT_FAIL_QUIET_US 1000000ull /* one lookup a second on refusals */

struct fw_resolver {
    pthread_t thread;
    int req_wr, req_rd, res_wr, res_rd;
};

/* Both messages fit in PIPE_BUF, so each write and read is whole. */
struct resolve_req {
    struct fw_listener *l;
    int socktype;
    char host[PK_FW_HOSTMAX];
};

struct resolve_res {
    struct fw_listener *l;
    union fw_sa addr;
    int gai;                /* getaddrinfo's error, 0 when addr holds the answer */
    uint64_t ttl_s;
    bool have_ttl;
};

_Static_assert(sizeof(struct resolve_req) <= 512 && sizeof(struct resolve_res) <= 512,
               "pipe messages must be written whole");

/* The smallest TTL of the name's A or AAAA records, through the stub
 * resolver (getaddrinfo does not say). False when DNS did not answer. */
static bool dns_ttl(res_state st, const char *host, int family, uint64_t *ttl)
{
    unsigned char answer[4096];
    int n = res_nquery(st, host, ns_c_in, family == AF_INET6 ? ns_t_aaaa : ns_t_a, answer,
                       sizeof answer);
    ns_msg msg;
    if (n <= 0 || ns_initparse(answer, n, &msg) < 0)
        return false;
    bool found = false;
    for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
        ns_rr rr;
        if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
            break;
        uint64_t t = ns_rr_ttl(rr);
        if (!found || t < *ttl)
            *ttl = t;
        found = true;
    }
    return found;
}

static void *worker(void *arg)
{
    struct fw_resolver *r = arg;
    struct __res_state st;
    memset(&st, 0, sizeof st);
    bool have_res = res_ninit(&st) == 0;
    struct resolve_req q;
    while (read(r->req_rd, &q, sizeof q) == (ssize_t)sizeof q) {
        struct resolve_res a = {.l = q.l};
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = q.socktype}, *ai = NULL;
        a.gai = getaddrinfo(q.host, NULL, &hints, &ai);
        if (a.gai == 0 && ai) {
            /* The first answer, as at load (RFC 6724 order). */
            memcpy(&a.addr, ai->ai_addr,
                   ai->ai_addrlen < sizeof a.addr ? ai->ai_addrlen : sizeof a.addr);
            if (have_res)
                a.have_ttl = dns_ttl(&st, q.host, ai->ai_family, &a.ttl_s);
        } else if (a.gai == 0) {
            a.gai = EAI_NONAME;
        }
        if (ai)
            freeaddrinfo(ai);
        if (write(r->res_wr, &a, sizeof a) != (ssize_t)sizeof a)
            break;
    }
    if (have_res)
        res_nclose(&st);
    return NULL;
}

static void on_recheck(struct pk_loop *loop, struct pk_timer *t, void *arg);

static void sa_set_port(union fw_sa *a, uint16_t port_be)
{
    if (a->sa.sa_family == AF_INET)
        a->in.sin_port = port_be;
    else
        a->in6.sin6_port = port_be;
}

static uint16_t sa_port_be(const union fw_sa *a)
{
    return a->sa.sa_family == AF_INET ? a->in.sin_port : a->in6.sin6_port;
}

static bool same_addr(const union fw_sa *a, const union fw_sa *b)
{
    if (a->sa.sa_family != b->sa.sa_family)
        return false;
    if (a->sa.sa_family == AF_INET)
        return a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
    return memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof a->in6.sin6_addr) == 0 &&
           a->in6.sin6_scope_id == b->in6.sin6_scope_id;
}

static void apply_answer(struct pk_fw *fw, struct resolve_res *a)
{
    struct fw_listener *l = a->l;
    l->resolving = false;
    if (l->fd < 0 || fw->draining) {
        fw_listener_put(l);
        return;
    }
    uint64_t next_us;
    union fw_sa *now = (union fw_sa *)(void *)&l->rule.target.ss;
    char was[PK_FW_ADDRSTRLEN], is[PK_FW_ADDRSTRLEN];
    if (a->gai) {
        pk_fw_sockaddr_format(&now->sa, was, sizeof was);
        fw_warn(fw, "cannot look up %s again: %s; connecting to %s meanwhile", l->rule.target.host,
                gai_strerror(a->gai), was);
        next_us = FAILED_RECHECK_US;
    } else {
        sa_set_port(&a->addr, sa_port_be(now));
        if (!same_addr(&a->addr, now)) {
            pk_fw_sockaddr_format(&now->sa, was, sizeof was);
            pk_fw_sockaddr_format(&a->addr.sa, is, sizeof is);
            fw_warn(fw, "target %s is now %s (was %s)", l->rule.target.host, is, was);
            memset(&l->rule.target.ss, 0, sizeof l->rule.target.ss);
            memcpy(&l->rule.target.ss, &a->addr, fw_sa_len(&a->addr));
            l->rule.target.len = fw_sa_len(&a->addr);
        }
        next_us = a->have_ttl ? a->ttl_s * 1000000ull : NO_TTL_RECHECK_US;
    }
    if (next_us < MIN_RECHECK_US)
        next_us = MIN_RECHECK_US;
    if (next_us > MAX_RECHECK_US)
        next_us = MAX_RECHECK_US;
    pk_timer_init(&l->resolve_timer, on_recheck, l);
    pk_loop_timer_start(fw->loop, &l->resolve_timer, next_us);
    fw_listener_put(l);
}

static void on_answers(struct pk_loop *loop, int fd, unsigned events, void *arg)
{
    struct pk_fw *fw = arg;
    struct resolve_res a;
    while (read(fd, &a, sizeof a) == (ssize_t)sizeof a)
        apply_answer(fw, &a);
}

static struct fw_resolver *resolver_start(struct pk_fw *fw)
{
    struct fw_resolver *r = calloc(1, sizeof *r);
    int req[2] = {-1, -1}, res[2] = {-1, -1};
    if (!r || pipe2(req, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC | O_NONBLOCK) < 0)
        goto fail;
    r->req_rd = req[0];
    r->req_wr = req[1];
    r->res_rd = res[0];
    r->res_wr = res[1];
    /* The loop must never wait on the worker: a full request pipe drops
     * the request (the timer asks again). The worker blocks on reads. */
    fcntl(r->req_wr, F_SETFL, O_NONBLOCK);
    fcntl(r->res_wr, F_SETFL, 0);
    if (pk_loop_watch(fw->loop, r->res_rd, PK_EV_READ, on_answers, fw, NULL) < 0)
        goto fail;
    if (pthread_create(&r->thread, NULL, worker, r) != 0) {
        pk_loop_unwatch(fw->loop, r->res_rd);
        goto fail;
    }
    return r;
fail:
    for (int i = 0; i < 2; i++) {
        if (req[i] >= 0)
            close(req[i]);
        if (res[i] >= 0)
            close(res[i]);
    }
    free(r);
    return NULL;
}

static void ask(struct pk_fw *fw, struct fw_listener *l)
{
    if (l->resolving || l->fd < 0 || !l->rule.target.host[0])
        return;
    if (!fw->resolver && !(fw->resolver = resolver_start(fw))) {
        fw_warn(fw, "cannot start the resolver thread: %s is not looked up again",
                l->rule.target.host);
        return;
    }
    struct resolve_req q = {.l = l, .socktype = l->rule.proto == PK_UDP ? SOCK_DGRAM : SOCK_STREAM};
    snprintf(q.host, sizeof q.host, "%s", l->rule.target.host);
    l->resolve_asked_us = pk_loop_now(fw->loop);
    if (write(fw->resolver->req_wr, &q, sizeof q) != (ssize_t)sizeof q) {
        pk_timer_init(&l->resolve_timer, on_recheck, l);
        pk_loop_timer_start(fw->loop, &l->resolve_timer, FAILED_RECHECK_US);
        return;
    }
    l->resolving = true;
    l->refs++;
}

static void on_recheck(struct pk_loop *loop, struct pk_timer *t, void *arg)
{
    struct fw_listener *l = arg;
    ask(l->fw, l);
}

void fw_resolve_watch(struct pk_fw *fw, struct fw_listener *l)
{
    fw_resolve_forget(fw, l);
    ask(fw, l);
}

void fw_resolve_failed(struct pk_fw *fw, struct fw_listener *l)
{
    if (!l->rule.target.host[0] || l->resolving)
        return;
    if (pk_loop_now(fw->loop) - l->resolve_asked_us < CONNECT_FAIL_QUIET_US)
        return;
    fw_resolve_forget(fw, l);
    ask(fw, l);
}

void fw_resolve_forget(struct pk_fw *fw, struct fw_listener *l)
{
    if (pk_timer_armed(&l->resolve_timer))
        pk_loop_timer_stop(fw->loop, &l->resolve_timer);
}

void fw_resolve_free(struct pk_fw *fw)
{
    struct fw_resolver *r = fw->resolver;
    if (!r)
        return;
    /* End of requests: the worker finishes the lookup in hand and exits. */
    close(r->req_wr);
    pthread_join(r->thread, NULL);
    pk_loop_unwatch(fw->loop, r->res_rd);
    struct resolve_res a;
    while (read(r->res_rd, &a, sizeof a) == (ssize_t)sizeof a) {
        a.l->resolving = false;
        fw_listener_put(a.l);
    }
    close(r->req_rd);
    close(r->res_rd);
    close(r->res_wr);
    free(r);
    fw->resolver = NULL;
}
