/* The TCP connect probe module: no privilege needed.
 *
 * Non-blocking connects are watched with an edge-triggered epoll set. A
 * probe's outcome is read by calling connect() again on the same socket:
 * it returns the pending error (ECONNREFUSED: closed), EISCONN (open) or
 * EALREADY (still waiting), and after an error leaves the socket ready for
 * the next connect. Closed ports are the bulk of any scan, so one socket
 * serves many probes and costs two system calls per probe instead of five.
 * A probe given up on is dissolved with connect(AF_UNSPEC), again keeping
 * the socket. Open ports are closed with SO_LINGER 0 (a RST, no TIME_WAIT),
 * or handed to the service stage.
 *
 * IP_RECVERR makes ICMP errors readable from the socket's error queue, so
 * an unreachable answer is told apart precisely (admin-prohibited versus
 * host-unreach) without a raw socket. */
#include <errno.h>
#include <time.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scan/scan_impl.h"

static int family_index(int family)
{
    return family == AF_INET6 ? 1 : 0;
}

/* A fresh non-blocking socket that reports ICMP errors (IP_RECVERR),
 * wrapped in a scan_sock: shared by the TCP (epoll, io_uring) and UDP
 * probe modules. */
struct scan_sock *pks_sock_open(struct pk_scan *s, int family, enum pk_proto proto, int *err)
{
    int type = proto == PK_UDP ? SOCK_DGRAM : SOCK_STREAM;
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    int one = 1;
    if (family == AF_INET)
        setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof one);
    else
        setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof one);
    struct scan_sock *k = pks_sock_alloc(s);
    if (!k) {
        close(fd);
        *err = ENOMEM;
        return NULL;
    }
    k->fd = fd;
    k->family = (uint8_t)family;
    k->proto = proto;
    return k;
}

static struct scan_sock *sock_get(struct pk_scan *s, int family, int *err)
{
    int fi = family_index(family);
    struct scan_sock *k = s->idle[fi];
    if (k) {
        s->idle[fi] = k->next;
        k->next = NULL;
        return k;
    }
    k = pks_sock_open(s, family, PK_TCP, err);
    if (!k)
        return NULL;
    int fd = k->fd;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLET, .data.ptr = k};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        *err = errno;
        pks_sock_free(s, k);
        return NULL;
    }
    return k;
}

/* The socket is unconnected again (refused, unreachable, or dissolved):
 * keep it for the next probe, unless no probe is left to send. */
static void sock_put(struct pk_scan *s, struct scan_sock *k)
{
    if (!pks_more_to_start(s)) {
        pks_sock_free(s, k);
        return;
    }
    int fi = family_index(k->family);
    k->job = NULL;
    k->next = s->idle[fi];
    s->idle[fi] = k;
}

/* Stops a probe still waiting for its answer. */
static void sock_abort(struct pk_scan *s, struct scan_sock *k)
{
    struct sockaddr sa = {.sa_family = AF_UNSPEC};
    if (connect(k->fd, &sa, sizeof sa) == 0)
        sock_put(s, k);
    else
        pks_sock_free(s, k);
}

/* Reads the socket's error queue for an ICMP error and maps it to nmap's
 * reason; false when the queue holds none. */
bool pks_tcp_queued_icmp(int fd, int family, enum pk_reason *why)
{
    bool found = false;
    char cbuf[512];
    for (int guard = 0; guard < 16; guard++) {
        struct msghdr m = {.msg_control = cbuf, .msg_controllen = sizeof cbuf};
        if (recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
            break;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
            bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
            if (!v4 && !v6)
                continue;
            struct sock_extended_err ee;
            memcpy(&ee, CMSG_DATA(c), sizeof ee);
            enum pk_reason r = PK_REASON_HOST_UNREACH;
            if (ee.ee_origin == SO_EE_ORIGIN_ICMP && family == AF_INET && ee.ee_type == 3) {
                switch (ee.ee_code) {
                case 0: r = PK_REASON_NET_UNREACH; break;
                case 1: r = PK_REASON_HOST_UNREACH; break;
                case 2: r = PK_REASON_PROTO_UNREACH; break;
                case 3: r = PK_REASON_PORT_UNREACH; break;
                case 9: r = PK_REASON_NET_PROHIBITED; break;
                case 10: r = PK_REASON_HOST_PROHIBITED; break;
                case 13: r = PK_REASON_ADMIN_PROHIBITED; break;
                default: r = PK_REASON_HOST_UNREACH; break;
                }
            } else if (ee.ee_origin == SO_EE_ORIGIN_ICMP && ee.ee_type == 11) {
                r = PK_REASON_TIME_EXCEEDED;
            } else if (ee.ee_origin == SO_EE_ORIGIN_ICMP6 && ee.ee_type == 1) {
                switch (ee.ee_code) {
                case 0: r = PK_REASON_NET_UNREACH; break;
                case 1: r = PK_REASON_ADMIN_PROHIBITED; break;
                case 3: r = PK_REASON_HOST_UNREACH; break;
                case 4: r = PK_REASON_PORT_UNREACH; break;
                default: r = PK_REASON_HOST_UNREACH; break;
                }
            } else if (ee.ee_origin == SO_EE_ORIGIN_ICMP6 && ee.ee_type == 3) {
                r = PK_REASON_TIME_EXCEEDED;
            } else {
                continue; /* not an ICMP error (e.g. a local one) */
            }
            *why = r;
            found = true;
        }
    }
    return found;
}

/* Errors connect() reports on the spot, before any packet was answered. */
enum pk_reason pks_tcp_local_reason(int err)
{
    switch (err) {
    case ENETUNREACH: return PK_REASON_NET_UNREACH;
    case EACCES:
    case EPERM: return PK_REASON_PERM_DENIED;
    default: return PK_REASON_HOST_UNREACH;
    }
}

static bool self_connected(int fd)
{
    struct sockaddr_storage a, b;
    socklen_t la = sizeof a, lb = sizeof b;
    if (getsockname(fd, (struct sockaddr *)&a, &la) < 0 || getpeername(fd, (struct sockaddr *)&b, &lb) < 0)
        return false;
    return la == lb && memcmp(&a, &b, la) == 0;
}

void pks_tcp_close_reset(int fd)
{
    struct linger lg = {1, 0}; /* RST: no TIME_WAIT left behind */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

static int tcp_start(struct pk_scan *s, struct scan_job *j);

bool pks_tcp_connected(struct pk_scan *s, struct scan_job *j, const struct scan_sock *sent, int fd)
{
    if (self_connected(fd)) {
        /* On loopback a connect to a port in the ephemeral range can land on
         * its own source port (TCP simultaneous open). That says nothing
         * about the port: the caller probes again, from another port. */
        pks_tcp_close_reset(fd);
        s->st.self_connects++;
        return false;
    }
    if (s->cfg.service_detect && s->svc) {
        j->phase = JOB_IDENTIFYING;
        pks_answer(s, j, sent, PK_STATE_OPEN, PK_REASON_SYN_ACK);
        s->inflight++; /* the session holds the descriptor */
        if (s->svc->start(s, j, fd) < 0) {
            s->inflight--;
            pks_tcp_close_reset(fd);
            pks_service_done(s, j, NULL, NULL, NULL, NULL, NULL);
        }
        return true;
    }
    pks_tcp_close_reset(fd);
    pks_answer(s, j, sent, PK_STATE_OPEN, PK_REASON_SYN_ACK);
    return true;
}

/* The connect of k succeeded. Returns 1 when j is decided, else what
 * probing again returned. */
static int tcp_open(struct pk_scan *s, struct scan_job *j, struct scan_sock *k)
{
    int fd = k->fd;
    struct scan_sock sent = *k; /* its send time and try number, for the RTT */
    pks_detach(s, j, k);
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
    k->fd = -1;
    pks_sock_free(s, k);
    if (pks_tcp_connected(s, j, &sent, fd))
        return 1;
    return tcp_start(s, j);
}

static int tcp_start(struct pk_scan *s, struct scan_job *j)
{
    struct scan_host *h = j->host;
    if (j->att[SCAN_MAX_ATTEMPTS - 1]) { /* keep the newest probes only */
        struct scan_sock *old = j->att[0];
        pks_detach(s, j, old);
        sock_abort(s, old);
    }
    int err = 0;
    struct scan_sock *k = sock_get(s, h->addr.family, &err);
    if (!k)
        return SCAN_AGAIN; /* out of descriptors or memory for now */
    struct sockaddr_storage ss;
    socklen_t len;
    pks_sockaddr(h, j->port, &ss, &len);
    pks_attach(s, j, k);
    if (connect(k->fd, (struct sockaddr *)&ss, len) == 0)
        return tcp_open(s, j, k);
    err = errno;
    switch (err) {
    case EINPROGRESS:
        return 0;
    case ECONNREFUSED:
        pks_detach(s, j, k);
        sock_put(s, k);
        pks_answer(s, j, k, PK_STATE_CLOSED, PK_REASON_CONN_REFUSED);
        return 1;
    case EADDRNOTAVAIL: /* no free source port to this host */
    case EAGAIN:
    case ENOBUFS:
    case ENOMEM:
        pks_detach(s, j, k);
        sock_put(s, k);
        return SCAN_AGAIN;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case EACCES:
    case EPERM:
        pks_detach(s, j, k);
        sock_put(s, k);
        pks_decide(s, j, PK_STATE_FILTERED, pks_tcp_local_reason(err), 0);
        return 1;
    default: /* EINVAL (a scope-less link-local address), EAFNOSUPPORT, ... */
        pks_detach(s, j, k);
        pks_sock_free(s, k);
        pks_decide(s, j, PK_STATE_FILTERED, pks_tcp_local_reason(err), 0);
        return 1;
    }
}

static void tcp_event(struct pk_scan *s, struct scan_sock *k, uint32_t events)
{
    struct scan_job *j = k->job;
    if (!j)
        return; /* idle socket, or an event that outlived its probe */
    struct sockaddr_storage ss;
    socklen_t len;
    pks_sockaddr(j->host, j->port, &ss, &len);
    if (connect(k->fd, (struct sockaddr *)&ss, len) == 0) {
        tcp_open(s, j, k); /* SCAN_AGAIN: the job's timer retries */
        return;
    }
    int err = errno;
    switch (err) {
    case EALREADY:
    case EINPROGRESS: {
        /* An ICMP error that arrived while connect() held the socket only
         * reaches the error queue: the connect itself keeps waiting. */
        enum pk_reason why;
        if ((events & EPOLLERR) && pks_tcp_queued_icmp(k->fd, k->family, &why)) {
            pks_detach(s, j, k);
            sock_abort(s, k);
            pks_answer(s, j, k, PK_STATE_FILTERED, why);
        }
        return; /* still waiting */
    }
    case EISCONN:
    case ECONNRESET: /* a SYN-ACK came, then a reset: the port answered open */
        tcp_open(s, j, k);
        return;
    case ECONNREFUSED:
        pks_detach(s, j, k);
        sock_put(s, k);
        pks_answer(s, j, k, PK_STATE_CLOSED, PK_REASON_CONN_REFUSED);
        return;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case EPROTO:
    case ENONET:
    case EHOSTDOWN: {
        enum pk_reason why = err == ENETUNREACH ? PK_REASON_NET_UNREACH : PK_REASON_HOST_UNREACH;
        pks_tcp_queued_icmp(k->fd, k->family, &why);
        pks_detach(s, j, k);
        sock_put(s, k);
        /* An ICMP port-unreachable to a TCP probe comes from a firewall's
         * reject rule: nmap calls that filtered too. */
        pks_answer(s, j, k, PK_STATE_FILTERED, why);
        return;
    }
    default: /* ETIMEDOUT, ECONNABORTED...: this probe learnt nothing */
        pks_detach(s, j, k);
        pks_sock_free(s, k);
        return;
    }
}

static void tcp_drop(struct pk_scan *s, struct scan_job *j)
{
    while (j->att[0]) {
        struct scan_sock *k = j->att[0];
        pks_detach(s, j, k);
        sock_abort(s, k);
    }
}

static void tcp_recycle(struct pk_scan *s, struct scan_job *j)
{
    struct scan_sock *k = j->att[0];
    if (k) {
        pks_detach(s, j, k);
        sock_abort(s, k);
    }
}

static void tcp_timeout(struct pk_scan *s, struct scan_job *j)
{
    pks_retry_or_give_up(s, j, PK_STATE_FILTERED);
}

const struct scan_probe_module pks_tcp_module = {
    .name = "tcp-connect",
    .proto = PK_TCP,
    .start = tcp_start,
    .drop = tcp_drop,
    .timeout = tcp_timeout,
    .can_start = NULL,
    .recycle = tcp_recycle,
    .event = tcp_event,
};
