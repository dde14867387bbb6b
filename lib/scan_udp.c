/* The UDP probe module (first cut: no pacing yet). */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scan_impl.h"

static int udp_start(struct pk_scan *s, struct scan_job *j)
{
    (void)s;
    (void)j;
    return SCAN_AGAIN;
}

static void udp_drop(struct pk_scan *s, struct scan_job *j)
{
    while (j->att[0]) {
        struct scan_sock *k = j->att[0];
        pks_detach(s, j, k);
        pks_sock_free(s, k);
    }
}

static void udp_recycle(struct pk_scan *s, struct scan_job *j)
{
    struct scan_sock *k = j->att[0];
    if (k) {
        pks_detach(s, j, k);
        pks_sock_free(s, k);
    }
}

static void udp_timeout(struct pk_scan *s, struct scan_job *j)
{
    pks_retry_or_give_up(s, j, PK_STATE_OPEN_FILTERED);
}

static void udp_event(struct pk_scan *s, struct scan_sock *k, uint32_t events)
{
    (void)s;
    (void)k;
    (void)events;
}

const struct scan_probe_module pks_udp_module = {
    .name = "udp",
    .proto = PK_UDP,
    .start = udp_start,
    .drop = udp_drop,
    .timeout = udp_timeout,
    .can_start = NULL,
    .recycle = udp_recycle,
    .event = udp_event,
};
