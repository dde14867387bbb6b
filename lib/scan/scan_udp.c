/* The UDP probe module.
 *
 * Each probe is a connected UDP socket with IP_RECVERR: a reply means
 * open, an ICMP port-unreachable (read from the error queue, no root
 * needed) means closed, another ICMP unreachable means filtered, and
 * silence means open|filtered -- but only if the host could have answered.
 *
 * Linux hosts (and most others) send ICMP errors from a token bucket per
 * peer: by default one a second with a burst of six. Past the burst a
 * closed port is as silent as a filtered one, which is why nmap both
 * crawls and still calls closed ports open|filtered. The pacer here models
 * that bucket per host:
 *   - discovery: the first probes go out freely; the ICMPs that come back
 *     at once measure the burst. Silence while the host has sent no ICMP
 *     at all is trustworthy (its bucket is full).
 *   - once a host is seen to ration (silence while it sends ICMPs), every
 *     probe must hold a claim on a modelled token; silence is believed only
 *     for such a probe. Tokens refill at the modelled rate (1/s to start),
 *     raised when the host proves more generous, lowered when a silence is
 *     later contradicted by an ICMP.
 * A port is open|filtered after enough believed silences (at least two).
 * A closed port costs one token; a filtered one costs none, so filtered
 * ports are checked many at a time. Many hosts are paced independently,
 * which is how a UDP scan of a network stays fast. */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/errqueue.h>

#include "portkit/banner.h"
#include "portkit/udp_probes.h"
#include "portkit/registry.h"
#include "scan/scan_impl.h"

#define FREE_WINDOW 64           /* discovery probes in flight per host */
#define UDP_MIN_WAIT_US 100000   /* replies from busy services come late */
#define MAX_RATE 100000.0

static uint64_t probe_nonce(const struct pk_scan *s, const struct scan_job *j, unsigned tryno)
{
    return pk_hash64(s->cfg.seed ^ pk_hash64(j->host->index << 17 | j->port) ^ tryno);
}

static uint64_t udp_wait_us(const struct pk_scan *s, const struct scan_host *h)
{
    uint64_t t = pks_timeout_us(s, h);
    return t < UDP_MIN_WAIT_US ? UDP_MIN_WAIT_US : t;
}

static unsigned silences_needed(const struct pk_scan *s, const struct scan_host *h)
{
    unsigned k = pks_tries_needed(s, h);
    if (k > s->max_retries + 1)
        k = s->max_retries + 1;
    return k < 2 && s->max_retries >= 1 ? 2 : k;
}

/* ---- the token model ---- */

static void model_update(struct udp_pacer *p, uint64_t now)
{
    if (now > p->updated_us) {
        p->tokens += (double)(now - p->updated_us) * p->rate / 1e6;
        if (p->tokens > p->burst)
            p->tokens = p->burst;
        p->updated_us = now;
    }
}

static void pacer_init(struct udp_pacer *p, uint64_t now)
{
    if (p->rate > 0)
        return;
    p->rate = 1.0;
    p->burst = 1.0;
    p->tokens = 1.0;
    p->updated_us = now;
}

/* The host sent an ICMP error: one token fewer. */
static void model_icmp(struct udp_pacer *p, uint64_t now)
{
    model_update(p, now);
    p->icmp_seen++;
    p->last_icmp_us = now;
    if (!p->limited) {
        /* Discovery: every ICMP so far came out of the burst. */
        if ((double)p->icmp_seen > p->burst)
            p->burst = (double)p->icmp_seen;
        p->tokens = 0;
        return;
    }
    p->tokens -= 1;
    if (p->tokens < -0.5) { /* the host gave more than modelled: it is more generous */
        p->rate = p->rate * 1.5 > MAX_RATE ? MAX_RATE : p->rate * 1.5;
        p->tokens = 0;
    } else if (p->tokens < 0) {
        p->tokens = 0;
    }
}

/* A silence we believed was contradicted: the model was too generous. */
static void model_mistake(struct udp_pacer *p)
{
    p->mistakes++;
    p->rate = p->rate / 2 < 0.05 ? 0.05 : p->rate / 2;
    if (p->burst > 1)
        p->burst = floor(p->burst / 2) < 1 ? 1 : floor(p->burst / 2);
    p->tokens = 0;
}

static bool can_claim(struct udp_pacer *p, uint64_t now)
{
    model_update(p, now);
    return p->tokens - (double)p->claims >= 1.0 - 1e-9;
}

/* ---- the wait list: jobs needing a believed probe ---- */

static void wait_push(struct scan_host *h, struct scan_job *j)
{
    j->next = NULL;
    j->queued = true;
    if (h->udp->wait_tail)
        h->udp->wait_tail->next = j;
    else
        h->udp->wait_head = j;
    h->udp->wait_tail = j;
}

static struct scan_job *wait_pop(struct scan_host *h)
{
    struct scan_job *j = h->udp->wait_head;
    if (!j)
        return NULL;
    h->udp->wait_head = j->next;
    if (!h->udp->wait_head)
        h->udp->wait_tail = NULL;
    j->next = NULL;
    j->queued = false;
    return j;
}

static void wait_remove(struct scan_host *h, struct scan_job *j)
{
    struct scan_job **pp = &h->udp->wait_head, *prev = NULL;
    while (*pp && *pp != j) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = j->next;
    if (h->udp->wait_tail == j)
        h->udp->wait_tail = prev;
    j->next = NULL;
    j->queued = false;
}

static void pump(struct pk_scan *s, struct scan_host *h);
static void arm_host_timer(struct pk_scan *s, struct scan_host *h, uint64_t delay_us);

/* Wakes the host when the model will have a token for one more claim. */
static void arm_for_token(struct pk_scan *s, struct scan_host *h)
{
    struct udp_pacer *p = h->udp;
    double need = (double)p->claims + 1.0 - p->tokens;
    uint64_t wait = need > 0 ? (uint64_t)(need * 1e6 / p->rate) + 1000 : 1000;
    arm_host_timer(s, h, wait);
}

static void on_host_timer(struct pk_loop *loop, struct pk_timer *t, void *arg)
{
    (void)loop;
    (void)t;
    struct scan_host *h = arg;
    pump(h->scan, h);
    pks_host_wake(h->scan, h);
}

static void arm_host_timer(struct pk_scan *s, struct scan_host *h, uint64_t delay_us)
{
    if (!h->udp->timer.fn)
        pk_timer_init(&h->udp->timer, on_host_timer, h);
    if (pk_timer_armed(&h->udp->timer) && h->udp->timer.when_us <= pk_loop_now(s->loop) + delay_us)
        return;
    pk_loop_timer_start(s->loop, &h->udp->timer, delay_us);
}

/* ---- probes ---- */

static int udp_send(struct pk_scan *s, struct scan_job *j, bool claimed)
{
    struct scan_host *h = j->host;
    if (j->att[SCAN_MAX_ATTEMPTS - 1]) {
        struct scan_sock *old = j->att[0];
        pks_detach(s, j, old);
        pks_sock_free(s, old);
        h->udp->inflight--;
    }
    int fam = h->addr.family;
    int open_err;
    struct scan_sock *k = pks_sock_open(s, fam, PK_UDP, &open_err);
    if (!k)
        return SCAN_AGAIN;
    int fd = k->fd;
    struct sockaddr_storage ss;
    socklen_t len;
    pks_sockaddr(h, j->port, &ss, &len);
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        int err = errno;
        pks_sock_free(s, k);
        if (err == EAGAIN || err == ENOBUFS || err == ENOMEM || err == EADDRNOTAVAIL)
            return SCAN_AGAIN;
        pks_decide(s, j, PK_STATE_FILTERED,
                   err == EACCES || err == EPERM ? PK_REASON_PERM_DENIED
                   : err == ENETUNREACH          ? PK_REASON_NET_UNREACH
                                                 : PK_REASON_HOST_UNREACH,
                   0);
        return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.ptr = k};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        pks_sock_free(s, k);
        return SCAN_AGAIN;
    }
    uint8_t payload[PK_UDP_PAYLOAD_MAX];
    struct pk_probe_params pp = {.host = h->hostname, .nonce = probe_nonce(s, j, j->tries)};
    int n = pk_udp_payload(j->port, &pp, payload, sizeof payload);
    if (n < 0)
        n = 0;
    pks_attach(s, j, k);
    if (send(fd, payload, (size_t)n, 0) < 0) {
        int err = errno;
        pks_detach(s, j, k);
        pks_sock_free(s, k);
        if (err == EAGAIN || err == ENOBUFS || err == ENOMEM)
            return SCAN_AGAIN;
        /* An error already known for this destination (an earlier ICMP). */
        return SCAN_AGAIN;
    }
    j->claim = claimed;
    if (claimed)
        h->udp->claims++;
    h->udp->inflight++;
    return 0;
}

static int udp_start(struct pk_scan *s, struct scan_job *j)
{
    struct udp_pacer *p = j->host->udp;
    uint64_t now = pk_loop_now(s->loop);
    pacer_init(p, now);
    bool claimed = false;
    if (p->limited) {
        if (!can_claim(p, now))
            return SCAN_AGAIN; /* the scheduler asked too early */
        claimed = true;
    }
    return udp_send(s, j, claimed);
}

static void release_claim(struct scan_job *j)
{
    if (j->claim) {
        j->claim = false;
        j->host->udp->claims--;
    }
}

/* Sends believed probes while the model has tokens; one unbelieved probe
 * at a time explores whether the host would give more than modelled. */
static void pump(struct pk_scan *s, struct scan_host *h)
{
    struct udp_pacer *p = h->udp;
    uint64_t now = pk_loop_now(s->loop);
    while (p->wait_head && s->inflight < s->max_inflight) {
        if (!can_claim(p, now))
            break;
        if (!pks_rate_take(s)) { /* --rate: come back when a probe is allowed */
            arm_host_timer(s, h, 1000 + (uint64_t)(1e6 / s->cfg.rate));
            return;
        }
        struct scan_job *j = wait_pop(h);
        j->tries++;
        j->last_us = now;
        s->st.probes++;
        int rc = udp_send(s, j, true);
        if (rc == SCAN_AGAIN) {
            j->tries--;
            s->st.probes--;
            wait_push(h, j);
            arm_host_timer(s, h, 20000);
            return;
        }
        if (rc == 0)
            pks_arm(s, j, udp_wait_us(s, h));
    }
    if (p->wait_head || h->deferred[1].len)
        arm_for_token(s, h);
}

static bool udp_can_start(struct pk_scan *s, struct scan_host *h)
{
    struct udp_pacer *p = h->udp;
    uint64_t now = pk_loop_now(s->loop);
    pacer_init(p, now);
    if (!p->limited)
        return p->inflight < FREE_WINDOW;
    if (p->wait_head) /* older jobs first */
        return false;
    if (can_claim(p, now))
        return true;
    arm_for_token(s, h);
    return false;
}

static void udp_drop(struct pk_scan *s, struct scan_job *j)
{
    struct scan_host *h = j->host;
    release_claim(j);
    if (j->queued)
        wait_remove(h, j);
    while (j->att[0]) {
        struct scan_sock *k = j->att[0];
        pks_detach(s, j, k);
        pks_sock_free(s, k);
        h->udp->inflight--;
    }
}

static void udp_recycle(struct pk_scan *s, struct scan_job *j)
{
    struct scan_sock *k = j->att[0];
    if (k) {
        pks_detach(s, j, k);
        pks_sock_free(s, k);
        j->host->udp->inflight--;
    }
}

static void udp_timeout(struct pk_scan *s, struct scan_job *j)
{
    struct scan_host *h = j->host;
    struct udp_pacer *p = h->udp;
    uint64_t now = pk_loop_now(s->loop);
    uint64_t wait = udp_wait_us(s, h);
    if (now - j->last_us < wait) {
        pks_arm(s, j, j->last_us + wait - now);
        return;
    }
    /* The newest probe met silence. Is it believed? */
    if (j->claim) {
        release_claim(j);
        j->silent++;
    } else if (p->icmp_seen == 0) {
        j->silent++; /* the host has sent nothing: its bucket is full */
    } else if (!p->limited) {
        /* Silence next to ICMPs: the host rations them. From now on every
         * probe needs a token; the burst just spent them all. */
        p->limited = true;
        p->tokens = 0;
        p->updated_us = p->last_icmp_us;
    }
    unsigned need = silences_needed(s, h);
    uint64_t horizon = j->first_us + pks_horizon_us(s, h);
    if (j->silent >= need && now >= horizon) {
        pks_decide(s, j, PK_STATE_OPEN_FILTERED, PK_REASON_NO_RESPONSE, 0);
        pump(s, h);
        return;
    }
    if (j->silent >= need) { /* only the horizon is left */
        pks_arm(s, j, horizon - now);
        return;
    }
    if (!p->limited) {
        pks_send_retry(s, j);
        return;
    }
    wait_push(h, j);
    pump(s, h);
}

/* The ICMP error behind an error on a UDP socket: the state and reason,
 * or false when the queue held nothing for this probe. */
static bool read_icmp(struct scan_sock *k, uint16_t port, enum pk_port_state *st, enum pk_reason *why)
{
    bool found = false;
    char cbuf[512];
    for (int guard = 0; guard < 8; guard++) {
        struct sockaddr_storage orig;
        struct msghdr m = {.msg_name = &orig, .msg_namelen = sizeof orig, .msg_control = cbuf,
                           .msg_controllen = sizeof cbuf};
        if (recvmsg(k->fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
            break;
        uint16_t oport = orig.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&orig)->sin6_port)
                                                     : ntohs(((struct sockaddr_in *)&orig)->sin_port);
        if (m.msg_namelen && oport != port)
            continue; /* not about this probe's port */
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            if (!((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
                  (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)))
                continue;
            struct sock_extended_err ee;
            memcpy(&ee, CMSG_DATA(c), sizeof ee);
            if (ee.ee_origin == SO_EE_ORIGIN_ICMP) {
                found = true;
                *st = PK_STATE_FILTERED;
                if (ee.ee_type == 3) {
                    switch (ee.ee_code) {
                    case 3: *st = PK_STATE_CLOSED; *why = PK_REASON_PORT_UNREACH; break;
                    case 0: *why = PK_REASON_NET_UNREACH; break;
                    case 1: *why = PK_REASON_HOST_UNREACH; break;
                    case 2: *why = PK_REASON_PROTO_UNREACH; break;
                    case 9: *why = PK_REASON_NET_PROHIBITED; break;
                    case 10: *why = PK_REASON_HOST_PROHIBITED; break;
                    case 13: *why = PK_REASON_ADMIN_PROHIBITED; break;
                    default: *why = PK_REASON_HOST_UNREACH; break;
                    }
                } else {
                    *why = ee.ee_type == 11 ? PK_REASON_TIME_EXCEEDED : PK_REASON_HOST_UNREACH;
                }
            } else if (ee.ee_origin == SO_EE_ORIGIN_ICMP6) {
                found = true;
                *st = PK_STATE_FILTERED;
                if (ee.ee_type == 1) {
                    switch (ee.ee_code) {
                    case 4: *st = PK_STATE_CLOSED; *why = PK_REASON_PORT_UNREACH; break;
                    case 0: *why = PK_REASON_NET_UNREACH; break;
                    case 1: *why = PK_REASON_ADMIN_PROHIBITED; break;
                    default: *why = PK_REASON_HOST_UNREACH; break;
                    }
                } else {
                    *why = ee.ee_type == 3 ? PK_REASON_TIME_EXCEEDED : PK_REASON_HOST_UNREACH;
                }
            }
        }
    }
    return found;
}

static void udp_event(struct pk_scan *s, struct scan_sock *k, uint32_t events)
{
    (void)events;
    struct scan_job *j = k->job;
    if (!j)
        return;
    struct scan_host *h = j->host;
    uint64_t now = pk_loop_now(s->loop);
    uint8_t reply[2048];
    for (;;) {
        ssize_t n = recv(k->fd, reply, sizeof reply, MSG_DONTWAIT);
        if (n >= 0) {
            /* Anything from the port: open. Name it from the reply. */
            uint8_t sent[PK_UDP_PAYLOAD_MAX];
            struct pk_probe_params pp = {.host = h->hostname, .nonce = probe_nonce(s, j, k->tryno)};
            int sl = pk_udp_payload(j->port, &pp, sent, sizeof sent);
            const char *table = s->cfg.reg ? pk_registry_name(s->cfg.reg, j->port, PK_UDP) : NULL;
            struct pk_service_id id;
            enum pk_id_status idst = pk_udp_reply_identify(j->port, sent, sl > 0 ? (size_t)sl : 0, reply,
                                                           (size_t)n, table, &id);
            if (j->silent) /* a believed silence, then an answer after all */
                model_mistake(h->udp);
            release_claim(j);
            j->phase = JOB_IDENTIFYING; /* carry the identification to the record */
            pks_answer(s, j, k, PK_STATE_OPEN, PK_REASON_UDP_RESPONSE);
            pks_service_done(s, j, idst == PK_ID_MATCH ? id.service : NULL, id.product, id.version,
                             id.extra, id.banner);
            return;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (errno == EINTR)
            continue;
        break; /* an error: an ICMP came */
    }
    enum pk_port_state st = PK_STATE_FILTERED;
    enum pk_reason why = PK_REASON_HOST_UNREACH;
    if (!read_icmp(k, j->port, &st, &why))
        return;
    model_icmp(h->udp, now);
    if (j->silent && st == PK_STATE_CLOSED)
        model_mistake(h->udp);
    release_claim(j);
    pks_answer(s, j, k, st, why);
    pump(s, h);
}

const struct scan_probe_module pks_udp_module = {
    .name = "udp",
    .proto = PK_UDP,
    .start = udp_start,
    .drop = udp_drop,
    .timeout = udp_timeout,
    .can_start = udp_can_start,
    .recycle = udp_recycle,
    .event = udp_event,
};
