/* The SYN probe module (-sS): crafted SYNs, no descriptor per probe.
 *
 * A probe is one packet through a raw socket; its sequence number is a
 * keyed hash of (target, port, our port) with the try number in its low
 * three bits, so a SYN-ACK or RST proves itself by its acknowledgement
 * number and says which try it answers (for the RTT and the loss model the
 * connect scan uses too). Jobs still come from the common scheduler -
 * retries, timeouts, the per-host share - so the SYN scan decides ports
 * exactly as the connect scan does, with nmap -sS's reasons: syn-ack
 * (open), reset (closed), no-response or an ICMP code (filtered).
 *
 * The kernel answers the SYN-ACK of an open port with a RST (our source
 * port is held by a socket that never listens), so no connection is left
 * half-open on the target. With -sV an open port is then connected to
 * normally and handed to the service stage. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scan/rawnet.h"
#include "scan/scan_impl.h"

#define SALT_SCAN 5u

static size_t table_slot(const struct pk_scan *s, uint64_t host, uint16_t port)
{
    return (size_t)(pk_hash64(host << 16 | port) & s->syn_mask);
}

static void table_insert(struct pk_scan *s, struct scan_job *j)
{
    size_t b = table_slot(s, j->host->index, j->port);
    j->syn_next = s->syn_table[b];
    s->syn_table[b] = j;
    j->in_table = true;
}

static void table_remove(struct pk_scan *s, struct scan_job *j)
{
    if (!j->in_table)
        return;
    struct scan_job **pp = &s->syn_table[table_slot(s, j->host->index, j->port)];
    while (*pp && *pp != j)
        pp = &(*pp)->syn_next;
    if (*pp)
        *pp = j->syn_next;
    j->syn_next = NULL;
    j->in_table = false;
}

static struct scan_job *table_find(struct pk_scan *s, uint64_t host, uint16_t port)
{
    for (struct scan_job *j = s->syn_table[table_slot(s, host, port)]; j; j = j->syn_next)
        if (j->host->index == host && j->port == port && j->proto == PK_TCP)
            return j;
    return NULL;
}

int pks_syn_table_init(struct pk_scan *s, struct pk_err *err)
{
    size_t n = 1024;
    while (n < (size_t)s->max_inflight * 2)
        n *= 2;
    s->syn_table = calloc(n, sizeof *s->syn_table);
    if (!s->syn_table)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    s->syn_mask = n - 1;
    return 0;
}

static uint32_t probe_seq(const struct pk_scan *s, const struct scan_host *h, uint16_t port, unsigned tryno)
{
    uint32_t c = raw_cookie(s->raw, &h->addr, port, s->raw->sport_scan, SALT_SCAN);
    return (c & ~7u) | (tryno & 7u);
}

static void forget_attempt(struct pk_scan *s, struct scan_job *j, struct scan_sock *k)
{
    pks_detach(s, j, k);
    pks_sock_free(s, k);
}

static int syn_start(struct pk_scan *s, struct scan_job *j)
{
    struct scan_host *h = j->host;
    if (j->att[SCAN_MAX_ATTEMPTS - 1])
        forget_attempt(s, j, j->att[0]); /* keep the newest tries only */
    struct scan_sock *k = pks_sock_alloc(s);
    if (!k)
        return SCAN_AGAIN;
    k->fd = -1;
    k->family = (uint8_t)h->addr.family;
    k->proto = PK_TCP;
    pks_attach(s, j, k);
    int rc = raw_send_tcp(s->raw, &h->addr, s->raw->sport_scan, j->port, RAW_TCP_SYN,
                          probe_seq(s, h, j->port, j->tries), 0);
    if (rc == 0) {
        if (!j->in_table)
            table_insert(s, j);
        return 0;
    }
    forget_attempt(s, j, k);
    if (rc == -ENOBUFS || rc == -EAGAIN || rc == -ENOMEM)
        return SCAN_AGAIN;
    pks_decide(s, j, PK_STATE_FILTERED, pks_tcp_local_reason(-rc), 0);
    return 1;
}

static void syn_drop(struct pk_scan *s, struct scan_job *j)
{
    while (j->att[0])
        forget_attempt(s, j, j->att[0]);
    table_remove(s, j);
}

static void syn_recycle(struct pk_scan *s, struct scan_job *j)
{
    if (j->att[0])
        forget_attempt(s, j, j->att[0]);
}

/* -sV: the connect that hands an open port to the service stage. Its
 * socket is kept in att[0] (not attached: the stage counts it). */
static void svc_connect_end(struct pk_scan *s, struct scan_job *j, bool connected)
{
    struct scan_sock *k = j->att[0];
    j->att[0] = NULL;
    pk_loop_timer_stop(s->loop, &j->timer);
    int fd = k ? k->fd : -1;
    if (k) {
        if (fd >= 0)
            epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
        k->fd = -1;
        pks_sock_free(s, k);
    }
    if (connected && fd >= 0 && s->svc->start(s, j, fd) == 0)
        return;
    if (fd >= 0)
        pks_tcp_close_reset(fd);
    s->inflight--;
    pks_service_done(s, j, NULL, NULL, NULL, NULL, NULL);
}

static void svc_connect(struct pk_scan *s, struct scan_job *j)
{
    int err = 0;
    s->inflight++; /* the identification holds a descriptor */
    struct scan_sock *k = pks_sock_open(s, j->host->addr.family, PK_TCP, &err);
    if (!k) {
        svc_connect_end(s, j, false);
        return;
    }
    k->job = j;
    j->att[0] = k;
    struct sockaddr_storage ss;
    socklen_t len;
    pks_sockaddr(j->host, j->port, &ss, &len);
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLET, .data.ptr = k};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, k->fd, &ev) < 0) {
        svc_connect_end(s, j, false);
        return;
    }
    int rc = connect(k->fd, (struct sockaddr *)&ss, len);
    if (rc == 0) {
        svc_connect_end(s, j, true);
        return;
    }
    if (errno != EINPROGRESS) {
        svc_connect_end(s, j, false);
        return;
    }
    pks_arm(s, j, (uint64_t)s->cfg.service_timeout_ms * 1000);
}

static void syn_event(struct pk_scan *s, struct scan_sock *k, uint32_t events)
{
    (void)events;
    struct scan_job *j = k->job;
    if (!j || j->phase != JOB_IDENTIFYING || j->att[0] != k)
        return;
    int soerr = 0;
    socklen_t len = sizeof soerr;
    getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
    if (soerr == EINPROGRESS || soerr == EALREADY)
        return;
    svc_connect_end(s, j, soerr == 0);
}

static void syn_timeout(struct pk_scan *s, struct scan_job *j)
{
    if (j->phase == JOB_IDENTIFYING) {
        svc_connect_end(s, j, false); /* the connect itself never finished */
        return;
    }
    pks_retry_or_give_up(s, j, PK_STATE_FILTERED);
}

static enum pk_reason icmp_reason(int family, uint8_t type, uint8_t code)
{
    if (family == AF_INET) {
        if (type == 11)
            return PK_REASON_TIME_EXCEEDED;
        switch (code) {
        case 0: return PK_REASON_NET_UNREACH;
        case 2: return PK_REASON_PROTO_UNREACH;
        case 3: return PK_REASON_PORT_UNREACH;
        case 9: return PK_REASON_NET_PROHIBITED;
        case 10: return PK_REASON_HOST_PROHIBITED;
        case 13: return PK_REASON_ADMIN_PROHIBITED;
        default: return PK_REASON_HOST_UNREACH;
        }
    }
    if (type == 3)
        return PK_REASON_TIME_EXCEEDED;
    switch (code) {
    case 0: return PK_REASON_NET_UNREACH;
    case 1: return PK_REASON_ADMIN_PROHIBITED;
    case 4: return PK_REASON_PORT_UNREACH;
    default: return PK_REASON_HOST_UNREACH;
    }
}

void pks_syn_reply(struct pk_scan *s, const struct raw_pkt *p)
{
    bool err = p->kind == RAW_ICMP_ERROR;
    const struct pk_addr *target = err ? &p->qdst : &p->src;
    uint16_t port = err ? p->qdport : p->sport;
    int64_t idx = pks_host_index(s, target);
    if (idx < 0 || !s->hosts[idx])
        return;
    struct scan_job *j = table_find(s, (uint64_t)idx, port);
    if (!j)
        return; /* decided already, or never ours */
    uint32_t seq = err ? p->qseq : p->ack - 1;
    if ((seq & ~7u) != (probe_seq(s, j->host, port, 0) & ~7u))
        return; /* not an answer to our probe */
    if (!err && !(p->flags & RAW_TCP_ACK))
        return;
    unsigned tryno = seq & 7u;
    struct scan_sock sent = {.sent_us = j->first_us, .tryno = (uint8_t)tryno};
    for (int a = 0; a < SCAN_MAX_ATTEMPTS; a++)
        if (j->att[a] && j->att[a]->tryno == tryno)
            sent = *j->att[a];
    if (err) {
        pks_answer(s, j, &sent, PK_STATE_FILTERED, icmp_reason(p->qdst.family, p->icmp_type, p->icmp_code));
    } else if ((p->flags & (RAW_TCP_SYN | RAW_TCP_ACK)) == (RAW_TCP_SYN | RAW_TCP_ACK)) {
        if (s->cfg.service_detect && s->svc) {
            j->phase = JOB_IDENTIFYING;
            pks_answer(s, j, &sent, PK_STATE_OPEN, PK_REASON_SYN_ACK);
            svc_connect(s, j);
        } else {
            pks_answer(s, j, &sent, PK_STATE_OPEN, PK_REASON_SYN_ACK);
        }
    } else if (p->flags & RAW_TCP_RST) {
        pks_answer(s, j, &sent, PK_STATE_CLOSED, PK_REASON_RESET);
    }
}

const struct scan_probe_module pks_syn_module = {
    .name = "tcp-syn",
    .proto = PK_TCP,
    .start = syn_start,
    .drop = syn_drop,
    .timeout = syn_timeout,
    .can_start = NULL,
    .recycle = syn_recycle,
    .event = syn_event,
};
