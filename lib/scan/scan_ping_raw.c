/* Raw host discovery (nmap's -PE -PP -PS -PA -PU) and the dispatch of
 * every packet the raw receive socket reads.
 *
 * Probes are sent statelessly: an echo's id and sequence, a SYN's sequence
 * number and an ACK's acknowledgement number are keyed hashes of the
 * target (rawnet.h), so an answer is checked against the hash alone and
 * needs no record of what was sent. A host's answer marks it up through
 * pks_host_up(); the wait ring in scan_discovery.c decides who is down. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scan/rawnet.h"
#include "scan/scan_impl.h"

enum { SALT_ECHO = 1, SALT_TS, SALT_SYN, SALT_ACK };

int pks_raw_open(struct pk_scan *s, struct pk_err *err)
{
    s->raw = calloc(1, sizeof *s->raw);
    if (!s->raw)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    int rc = raw_open(s->raw, err);
    if (rc < 0) {
        free(s->raw);
        s->raw = NULL;
    }
    return rc;
}

void pks_raw_close(struct pk_scan *s)
{
    if (!s->raw)
        return;
    raw_close(s->raw);
    free(s->raw);
    s->raw = NULL;
}

int pks_raw_fd(const struct pk_scan *s, int which)
{
    return !s->raw || which ? -1 : s->raw->rx; /* (one socket now: ARP comes through it too) */
}

static void dispatch(void *arg, const struct raw_pkt *p)
{
    struct pk_scan *s = arg;
    const struct raw_net *r = s->raw;
    bool scan = p->kind == RAW_TCP ? p->dport == r->sport_scan
                                   : p->kind == RAW_ICMP_ERROR && p->qproto == IPPROTO_TCP &&
                                         p->qsport == r->sport_scan;
    if (scan)
        pks_syn_reply(s, p);
    else
        pks_ping_reply(s, p);
}

void pks_raw_flush(struct pk_scan *s)
{
    if (s->raw)
        raw_flush(s->raw);
}

void pks_raw_read(struct pk_scan *s)
{
    if (!s->raw)
        return;
    pk_loop_update_time(s->loop);
    /* Bounded per turn so sending keeps going under a flood of answers. */
    for (int round = 0; round < 16; round++)
        if (raw_receive(s->raw, dispatch, s, 512) < 512)
            break;
}

/* ---- the discovery module ---- */

static int ping_send(struct pk_scan *s, struct disc_wait *w)
{
    struct raw_net *r = s->raw;
    const struct pk_ping_config *pc = &s->cfg.ping;
    struct pk_addr a;
    pk_targets_get(s->cfg.targets, w->host, &a);
    int sent = 0, last = 0;
    uint32_t c;
    /* On an attached network ARP / ND alone: faster, and exact (a host
     * cannot firewall it away and stay reachable). */
    int link = pc->neighbour ? raw_link_of(r, &a) : -1;
    if (link >= 0) {
        int rc = raw_send_neighbour(r, link, &a);
        if (rc == -ENOBUFS || rc == -EAGAIN)
            return DISC_AGAIN;
        return rc == 0 ? 1 : 0;
    }
#define COUNT(expr)                                                                                \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ == 0)                                                                              \
            sent++;                                                                                \
        else                                                                                       \
            last = rc_;                                                                            \
    } while (0)
    if (pc->icmp_echo) {
        c = raw_cookie(r, &a, 0, r->sport_ping, SALT_ECHO);
        COUNT(raw_send_icmp(r, &a, false, (uint16_t)(c >> 16), (uint16_t)c, w->sent_us));
    }
    if (pc->icmp_timestamp && a.family == AF_INET) {
        c = raw_cookie(r, &a, 0, r->sport_ping, SALT_TS);
        COUNT(raw_send_icmp(r, &a, true, (uint16_t)(c >> 16), (uint16_t)c, w->sent_us));
    }
    for (unsigned i = 0; i < pc->nsyn; i++) {
        c = raw_cookie(r, &a, pc->syn_ports[i], r->sport_ping, SALT_SYN);
        COUNT(raw_send_tcp(r, &a, r->sport_ping, pc->syn_ports[i], RAW_TCP_SYN, c, 0));
    }
    for (unsigned i = 0; i < pc->nack; i++) {
        c = raw_cookie(r, &a, pc->ack_ports[i], r->sport_ping, SALT_ACK);
        COUNT(raw_send_tcp(r, &a, r->sport_ping, pc->ack_ports[i], RAW_TCP_ACK, c ^ 0x2545f491u, c));
    }
    for (unsigned i = 0; i < pc->nudp; i++) {
        /* An empty datagram: a closed port's ICMP port-unreachable (or any
         * answer at all) shows the host is there. */
        struct sockaddr_storage ss;
        socklen_t sl = pk_addr_sockaddr(&a, pc->udp_ports[i], &ss);
        int fd = a.family == AF_INET6 ? r->udp6 : r->udp4;
        COUNT(fd >= 0 && sendto(fd, "", 0, 0, (struct sockaddr *)&ss, sl) == 0 ? 0 : -errno);
    }
#undef COUNT
    if (sent == 0 && (last == -ENOBUFS || last == -EAGAIN || last == -ENOMEM))
        return DISC_AGAIN;
    return sent;
}

static void ping_forget(struct pk_scan *s, struct disc_wait *w)
{
    (void)s;
    (void)w; /* nothing is held per host */
}

const struct scan_disc_module pks_disc_raw = {
    .name = "raw-ping",
    .send = ping_send,
    .forget = ping_forget,
};

static bool same_addr(const struct pk_addr *a, const struct pk_addr *b)
{
    return a->family == b->family && memcmp(a->bytes, b->bytes, a->family == AF_INET6 ? 16 : 4) == 0;
}

void pks_ping_reply(struct pk_scan *s, const struct raw_pkt *p)
{
    if (!s->disc)
        return;
    const struct raw_net *r = s->raw;
    int64_t idx = pks_host_index(s, p->kind == RAW_ICMP_ERROR ? &p->qdst : &p->src);
    if (idx < 0)
        return;
    uint64_t now = pk_loop_now(s->loop);
    uint32_t c;
    switch (p->kind) {
    case RAW_NEIGHBOUR:
        if (s->cfg.ping.neighbour)
            pks_host_up(s, (uint64_t)idx,
                        p->src.family == AF_INET ? PK_REASON_ARP_RESPONSE : PK_REASON_ND_RESPONSE, 0);
        return;
    case RAW_ECHO_REPLY:
        c = raw_cookie(r, &p->src, 0, r->sport_ping, SALT_ECHO);
        if (p->icmp_id == (uint16_t)(c >> 16) && p->icmp_seq == (uint16_t)c)
            pks_host_up(s, (uint64_t)idx, PK_REASON_ECHO_REPLY,
                        p->stamp && p->stamp <= now ? now - p->stamp : 0);
        return;
    case RAW_TS_REPLY:
        c = raw_cookie(r, &p->src, 0, r->sport_ping, SALT_TS);
        if (p->icmp_id == (uint16_t)(c >> 16) && p->icmp_seq == (uint16_t)c)
            pks_host_up(s, (uint64_t)idx, PK_REASON_TIMESTAMP_REPLY, 0);
        return;
    case RAW_TCP:
        if (p->dport != r->sport_ping)
            return;
        c = raw_cookie(r, &p->src, p->sport, r->sport_ping, SALT_SYN);
        if ((p->flags & RAW_TCP_ACK) && p->ack == c + 1) {
            pks_host_up(s, (uint64_t)idx, (p->flags & RAW_TCP_RST) ? PK_REASON_RESET : PK_REASON_SYN_ACK, 0);
            return;
        }
        c = raw_cookie(r, &p->src, p->sport, r->sport_ping, SALT_ACK);
        if ((p->flags & RAW_TCP_RST) && p->seq == c)
            pks_host_up(s, (uint64_t)idx, PK_REASON_RESET, 0);
        return;
    case RAW_ICMP_ERROR: {
        /* Only the host itself saying "unreachable" proves it is there. */
        if (!same_addr(&p->src, &p->qdst))
            return;
        bool ours = false;
        if (p->qproto == IPPROTO_TCP)
            ours = p->qsport == r->sport_ping;
        else if (p->qproto == IPPROTO_UDP)
            ours = p->qsport == r->sport_udp4 || p->qsport == r->sport_udp6;
        else {
            c = raw_cookie(r, &p->qdst, 0, r->sport_ping, SALT_ECHO);
            uint32_t t = raw_cookie(r, &p->qdst, 0, r->sport_ping, SALT_TS);
            ours = (p->qicmp_id == (uint16_t)(c >> 16) && p->qicmp_seq == (uint16_t)c) ||
                   (p->qicmp_id == (uint16_t)(t >> 16) && p->qicmp_seq == (uint16_t)t);
        }
        if (ours)
            pks_host_up(s, (uint64_t)idx, PK_REASON_PORT_UNREACH, 0);
        return;
    }
    }
}
