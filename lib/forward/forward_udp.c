/* UDP forwarding: one session per (listener, client address). A session
 * owns a socket connected to the target, so the kernel sorts the target's
 * replies by session; each reply goes back to its client from the
 * listening socket (the address the client talks to), with the client's
 * destination address as source when the listener is bound to a wildcard.
 * A session ends after idle-timeout without a datagram either way.
 * Datagrams are never queued: when a socket buffer is full the datagram is
 * dropped, as the network would. */
#include "forward/forward_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DATAGRAM_BATCH 64

struct fw_session {
    struct fw_session *hnext;        /* hash chain */
    struct fw_session *prev, *next;  /* every session */
    struct pk_fw *fw;
    struct fw_listener *l;
    int fd;
    uint32_t hash;
    int local_family;                /* 0 until a datagram told us */
    union {
        struct in_pktinfo v4;
        struct in6_pktinfo v6;
    } local;
    struct pk_timer timer;
    uint64_t idle_us, last_us, start_us, start_unix_us;
    uint64_t bytes_up, bytes_down, packets_up, packets_down;
    union fw_sa client, target;
};

struct fw_udp {
    struct fw_session **buckets;
    size_t nbuckets, count;
    struct fw_session *all;
};

int fw_udp_new(struct pk_fw *fw, struct pk_err *err)
{
    struct fw_udp *u = calloc(1, sizeof *u);
    if (u) {
        u->nbuckets = 64;
        u->buckets = calloc(u->nbuckets, sizeof *u->buckets);
    }
    if (!u || !u->buckets) {
        free(u);
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    }
    fw->udp = u;
    return 0;
}

void fw_udp_free(struct pk_fw *fw)
{
    if (!fw->udp)
        return;
    free(fw->udp->buckets);
    free(fw->udp);
    fw->udp = NULL;
}

size_t fw_udp_count(const struct pk_fw *fw)
{
    return fw->udp ? fw->udp->count : 0;
}

/* ---- the session table ---- */

static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

static uint32_t session_hash(const struct fw_listener *l, const union fw_sa *client)
{
    uint32_t h = fnv(2166136261u, &l, sizeof l);
    if (client->sa.sa_family == AF_INET) {
        h = fnv(h, &client->in.sin_addr, sizeof client->in.sin_addr);
        return fnv(h, &client->in.sin_port, sizeof client->in.sin_port);
    }
    h = fnv(h, &client->in6.sin6_addr, sizeof client->in6.sin6_addr);
    return fnv(h, &client->in6.sin6_port, sizeof client->in6.sin6_port);
}

static bool same_addr(const union fw_sa *a, const union fw_sa *b)
{
    if (a->sa.sa_family != b->sa.sa_family)
        return false;
    if (a->sa.sa_family == AF_INET)
        return a->in.sin_port == b->in.sin_port && a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
    return a->in6.sin6_port == b->in6.sin6_port &&
           memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof a->in6.sin6_addr) == 0;
}

static struct fw_session *lookup(struct fw_udp *u, const struct fw_listener *l,
                                 const union fw_sa *client, uint32_t hash)
{
    for (struct fw_session *s = u->buckets[hash & (u->nbuckets - 1)]; s; s = s->hnext)
        if (s->hash == hash && s->l == l && same_addr(&s->client, client))
            return s;
    return NULL;
}

static void grow(struct fw_udp *u)
{
    size_t n = u->nbuckets * 2;
    struct fw_session **b = calloc(n, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < u->nbuckets; i++) {
        struct fw_session *s = u->buckets[i], *next;
        for (; s; s = next) {
            next = s->hnext;
            s->hnext = b[s->hash & (n - 1)];
            b[s->hash & (n - 1)] = s;
        }
    }
    free(u->buckets);
    u->buckets = b;
    u->nbuckets = n;
}

/* ---- sessions ---- */

static void session_end(struct fw_session *s, const char *reason)
{
    struct pk_fw *fw = s->fw;
    struct fw_udp *u = fw->udp;
    pk_loop_timer_stop(fw->loop, &s->timer);
    pk_loop_unwatch(fw->loop, s->fd);
    close(s->fd);
    if (reason) {
        struct pk_fw_event ev = {
            .kind = PK_FW_EV_END, .proto = PK_UDP, .line = s->l->rule.line,
            .client = &s->client.sa, .listen = &s->l->bound.sa, .target = &s->target.sa,
            .start_unix_us = s->start_unix_us,
            .duration_us = pk_loop_update_time(fw->loop) - s->start_us,
            .bytes_up = s->bytes_up, .bytes_down = s->bytes_down,
            .packets_up = s->packets_up, .packets_down = s->packets_down, .reason = reason,
        };
        fw_log(fw, &ev);
    }
    for (struct fw_session **p = &u->buckets[s->hash & (u->nbuckets - 1)]; *p; p = &(*p)->hnext) {
        if (*p == s) {
            *p = s->hnext;
            break;
        }
    }
    if (s->prev)
        s->prev->next = s->next;
    else
        u->all = s->next;
    if (s->next)
        s->next->prev = s->prev;
    u->count--;
    s->l->active--;
    fw_listener_put(s->l);
    free(s);
    fw_active_changed(fw);
}

void fw_udp_close_sessions(struct pk_fw *fw, struct fw_listener *l, const char *reason)
{
    struct fw_session *s = fw->udp ? fw->udp->all : NULL, *next;
    for (; s; s = next) {
        next = s->next;
        if (!l || s->l == l)
            session_end(s, reason);
    }
}

static void on_idle(struct pk_loop *loop, struct pk_timer *t, void *arg)
{
    struct fw_session *s = arg;
    uint64_t idle = pk_loop_now(loop) - s->last_us;
    if (idle >= s->idle_us)
        session_end(s, "idle-timeout");
    else
        pk_loop_timer_start(loop, t, s->idle_us - idle);
}

/* Sends one reply to the client from the listening socket. */
static void reply(struct fw_session *s, const void *data, size_t len)
{
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    struct msghdr mh = {
        .msg_name = &s->client, .msg_namelen = fw_sa_len(&s->client), .msg_iov = &iov,
        .msg_iovlen = 1,
    };
    union {
        char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
        struct cmsghdr align;
    } ctl;
    if (s->local_family) {
        memset(&ctl, 0, sizeof ctl);
        mh.msg_control = ctl.buf;
        struct cmsghdr *cm = (struct cmsghdr *)ctl.buf;
        if (s->local_family == AF_INET) {
            mh.msg_controllen = CMSG_SPACE(sizeof(struct in_pktinfo));
            cm->cmsg_level = IPPROTO_IP;
            cm->cmsg_type = IP_PKTINFO;
            cm->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
            memcpy(CMSG_DATA(cm), &s->local.v4, sizeof s->local.v4);
        } else {
            mh.msg_controllen = CMSG_SPACE(sizeof(struct in6_pktinfo));
            cm->cmsg_level = IPPROTO_IPV6;
            cm->cmsg_type = IPV6_PKTINFO;
            cm->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
            memcpy(CMSG_DATA(cm), &s->local.v6, sizeof s->local.v6);
        }
    }
    if (sendmsg(s->l->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
        s->bytes_down += len;
        s->packets_down++;
    }
}

static void session_io(struct pk_loop *loop, int fd, unsigned events, void *arg)
{
    struct fw_session *s = arg;
    struct pk_fw *fw = s->fw;
    for (int i = 0; i < DATAGRAM_BATCH; i++) {
        ssize_t n = recv(fd, fw->scratch, sizeof fw->scratch, MSG_DONTWAIT);
        if (n < 0) {
            /* ECONNREFUSED: an ICMP port unreachable from the target for
             * an earlier datagram. Nothing to relay; the client will retry
             * or give up as it would without us. */
            if (errno == EINTR || errno == ECONNREFUSED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            char reason[96];
            snprintf(reason, sizeof reason, "error: target: %s", strerror(errno));
            session_end(s, reason);
            return;
        }
        s->last_us = pk_loop_now(loop);
        reply(s, fw->scratch, (size_t)n);
    }
}

static struct fw_session *session_new(struct pk_fw *fw, struct fw_listener *l,
                                      const union fw_sa *client, uint32_t hash)
{
    struct fw_udp *u = fw->udp;
    struct fw_session *s = calloc(1, sizeof *s);
    if (!s) {
        fw_warn(fw, "out of memory: UDP datagram dropped");
        return NULL;
    }
    memcpy(&s->target, &l->rule.target.ss, sizeof s->target);
    s->fd = socket(s->target.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd >= 0)
        fw_udp_buffers(fw, s->fd);
    if (s->fd < 0 || fw_bind_source(l, s->fd) < 0 ||
        connect(s->fd, &s->target.sa, fw_sa_len(&s->target)) < 0 ||
        pk_loop_watch(fw->loop, s->fd, PK_EV_READ, session_io, s, NULL) < 0) {
        char t[PK_FW_ADDRSTRLEN];
        pk_fw_sockaddr_format(&s->target.sa, t, sizeof t);
        fw_warn(fw, "udp session to %s: %s", t, strerror(errno));
        if (s->fd >= 0)
            close(s->fd);
        free(s);
        return NULL;
    }
    s->fw = fw;
    s->l = l;
    l->refs++;
    l->active++;
    s->client = *client;
    s->hash = hash;
    s->idle_us = l->rule.idle_timeout_ms * 1000;
    s->start_us = s->last_us = pk_loop_now(fw->loop);
    s->start_unix_us = fw_unix_us();
    pk_timer_init(&s->timer, on_idle, s);
    if (s->idle_us)
        pk_loop_timer_start(fw->loop, &s->timer, s->idle_us);
    if (u->count >= u->nbuckets)
        grow(u);
    size_t b = hash & (u->nbuckets - 1);
    s->hnext = u->buckets[b];
    u->buckets[b] = s;
    s->next = u->all;
    if (u->all)
        u->all->prev = s;
    u->all = s;
    u->count++;
    return s;
}

/* Remembers which local address the client wrote to, for the replies. */
static void note_local(struct fw_session *s, struct msghdr *mh)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(cm), sizeof pi);
            s->local.v4 = (struct in_pktinfo){.ipi_spec_dst = pi.ipi_addr};
            s->local_family = AF_INET;
        } else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
            struct in6_pktinfo pi;
            memcpy(&pi, CMSG_DATA(cm), sizeof pi);
            s->local.v6.ipi6_addr = pi.ipi6_addr;
            /* The interface matters only for a link-local source. */
            s->local.v6.ipi6_ifindex =
                IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr) ? pi.ipi6_ifindex : 0;
            s->local_family = AF_INET6;
        }
    }
}

void fw_udp_on_datagram(struct pk_loop *loop, int fd, unsigned events, void *arg)
{
    struct fw_listener *l = arg;
    struct pk_fw *fw = l->fw;
    for (int i = 0; i < DATAGRAM_BATCH; i++) {
        union fw_sa client;
        union {
            char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo))];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = {.iov_base = fw->scratch, .iov_len = sizeof fw->scratch};
        struct msghdr mh = {
            .msg_name = &client, .msg_namelen = sizeof client, .msg_iov = &iov, .msg_iovlen = 1,
            .msg_control = l->pktinfo ? ctl.buf : NULL,
            .msg_controllen = l->pktinfo ? sizeof ctl.buf : 0,
        };
        ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (client.sa.sa_family != AF_INET && client.sa.sa_family != AF_INET6)
            continue;
        uint32_t hash = session_hash(l, &client);
        struct fw_session *s = lookup(fw->udp, l, &client, hash);
        if (!s) {
            if (!fw_admit(fw, l, &client.sa) || !(s = session_new(fw, l, &client, hash)))
                continue;
            fw->accepted++;
            fw_log_open(fw, l, &client.sa);
        }
        if (l->pktinfo)
            note_local(s, &mh);
        s->last_us = pk_loop_now(loop);
        ssize_t w = send(s->fd, fw->scratch, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
        /* A refusal from the target for an earlier datagram is reported
         * here instead of sending this one: try once more. */
        if (w < 0 && errno == ECONNREFUSED)
            w = send(s->fd, fw->scratch, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w >= 0) {
            s->bytes_up += (uint64_t)n;
            s->packets_up++;
        }
    }
}
