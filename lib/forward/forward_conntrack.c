/* The kernel forwarder's connection log: conntrack DESTROY events for the
 * connections our NAT rules marked, turned into the same END events the
 * relay logs. Counters and timestamps come only with DESTROY, and an
 * expired entry is destroyed when conntrack's garbage collection next runs
 * (up to a minute later); so a TCP connection seen entering TIME_WAIT or
 * CLOSE (both ways finished, or reset) has its entry deleted here at once,
 * and its line comes when it ends. */
#include "forward/forward_impl.h"
#include "forward/forward_kernel_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EVENT_RCVBUF (8u << 20)   /* a burst of short connections ends at once */
#define LOST_WARN_QUIET_US 10000000

struct kfw_ct {
    struct pk_loop *loop;
    struct nfct_handle *h;
    struct nfct_handle *query; /* deletes finished entries: not the event socket */
    int fd;
    uint16_t tag;
    pk_fw_log_fn *log;
    void *log_arg;
    const struct pk_fw_config *cfg;
    uint64_t lost_warned_us;
};

/* Conntrack counts IP bytes; the relay counts payload. Each skb conntrack
 * saw carries one IP and one transport header (a GSO or GRO skb too), so
 * the payload is the bytes less one header per packet. TCP headers are
 * taken as Linux sends them: 32 bytes with timestamps, 40 on the SYN; a
 * peer without timestamps or a lossy path (SACK blocks, retransmissions)
 * makes the figure approximate. */
static uint64_t payload(uint64_t bytes, uint64_t packets, bool v4, bool tcp)
{
    uint64_t per = (v4 ? 20u : 40u) + (tcp ? 32u : 8u);
    uint64_t overhead = packets * per + (tcp && packets ? 8u : 0u);
    return bytes > overhead ? bytes - overhead : 0;
}

static void set_sa(union fw_sa *u,
                   const struct nf_conntrack *ct, bool v4, int addr_attr4, int addr_attr6,
                   int port_attr)
{
    memset(u, 0, sizeof *u);
    if (v4) {
        u->in.sin_family = AF_INET;
        u->in.sin_addr.s_addr = nfct_get_attr_u32(ct, addr_attr4);
        u->in.sin_port = nfct_get_attr_u16(ct, port_attr);
    } else {
        u->in6.sin6_family = AF_INET6;
        const void *a = nfct_get_attr(ct, addr_attr6);
        if (a)
            memcpy(&u->in6.sin6_addr, a, 16);
        u->in6.sin6_port = nfct_get_attr_u16(ct, port_attr);
    }
}

static const char *end_reason(const struct nf_conntrack *ct, bool tcp, uint64_t up_pkts,
                              uint64_t down_pkts)
{
    if (!tcp)
        return "idle-timeout";
    if (!nfct_attr_is_set(ct, ATTR_TCP_STATE))
        return "closed";
    switch (nfct_get_attr_u8(ct, ATTR_TCP_STATE)) {
    case TCP_CONNTRACK_SYN_SENT:
    case TCP_CONNTRACK_SYN_SENT2:
        return down_pkts ? "refused" : "connect-timeout";
    case TCP_CONNTRACK_ESTABLISHED:
    case TCP_CONNTRACK_SYN_RECV:
        return "idle-timeout";
    case TCP_CONNTRACK_CLOSE:
        /* A SYN answered by a reset never carried a byte. */
        return up_pkts <= 1 && down_pkts <= 1 ? "refused" : "reset";
    default:
        return "closed";
    }
}

static int on_event(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
    struct kfw_ct *k = data;
    uint32_t mark = nfct_get_attr_u32(ct, ATTR_MARK);
    if (KFW_MARK_TAG(mark) != k->tag || !k->log)
        return NFCT_CB_CONTINUE;
    uint8_t l4 = nfct_get_attr_u8(ct, ATTR_L4PROTO);
    if (l4 != IPPROTO_TCP && l4 != IPPROTO_UDP)
        return NFCT_CB_CONTINUE;
    if (type == NFCT_T_UPDATE) {
        if (l4 == IPPROTO_TCP && nfct_attr_is_set(ct, ATTR_TCP_STATE)) {
            uint8_t st = nfct_get_attr_u8(ct, ATTR_TCP_STATE);
            if (st == TCP_CONNTRACK_TIME_WAIT || st == TCP_CONNTRACK_CLOSE)
                nfct_query(k->query, NFCT_Q_DESTROY, ct); /* its DESTROY event logs it */
        }
        return NFCT_CB_CONTINUE;
    }
    bool v4 = nfct_get_attr_u8(ct, ATTR_L3PROTO) == AF_INET, tcp = l4 == IPPROTO_TCP;
    union fw_sa client, dst, reply;
    set_sa(&client, ct, v4, ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV6_SRC, ATTR_ORIG_PORT_SRC);
    set_sa(&dst, ct, v4, ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_DST, ATTR_ORIG_PORT_DST);
    set_sa(&reply, ct, v4, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV6_SRC, ATTR_REPL_PORT_SRC);

    /* The rule the mark names, when it is still the running one: the log
     * then shows the configured listener and target as the relay does. */
    const struct pk_fw_rule *rule = NULL;
    size_t index = KFW_MARK_RULE(mark);
    if (k->cfg && index >= 1 && index <= pk_fw_config_count(k->cfg)) {
        rule = pk_fw_config_rule(k->cfg, index - 1);
        if (!rule->kernel || rule->proto != (tcp ? PK_TCP : PK_UDP))
            rule = NULL;
    }
    uint64_t up_b = nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_BYTES);
    uint64_t up_p = nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_PACKETS);
    uint64_t down_b = nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_BYTES);
    uint64_t down_p = nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_PACKETS);
    uint64_t start_ns = 0, stop_ns = 0;
    if (nfct_attr_is_set(ct, ATTR_TIMESTAMP_START))
        start_ns = nfct_get_attr_u64(ct, ATTR_TIMESTAMP_START);
    if (nfct_attr_is_set(ct, ATTR_TIMESTAMP_STOP))
        stop_ns = nfct_get_attr_u64(ct, ATTR_TIMESTAMP_STOP);
    struct pk_fw_event ev = {
        .kind = PK_FW_EV_END,
        .proto = tcp ? PK_TCP : PK_UDP,
        .line = rule ? rule->line : 0,
        .client = &client.sa,
        .listen = rule ? (const struct sockaddr *)&rule->listen.ss : &dst.sa,
        .target = rule ? (const struct sockaddr *)&rule->target.ss : &reply.sa,
        .start_unix_us = start_ns / 1000u,
        .duration_us = stop_ns > start_ns && start_ns ? (stop_ns - start_ns) / 1000u : 0,
        .bytes_up = payload(up_b, up_p, v4, tcp),
        .bytes_down = payload(down_b, down_p, v4, tcp),
        .packets_up = up_p,
        .packets_down = down_p,
        .reason = end_reason(ct, tcp, up_p, down_p),
    };
    k->log(k->log_arg, &ev);
    return NFCT_CB_CONTINUE;
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void on_readable(struct pk_loop *loop, int fd, unsigned events, void *arg)
{
    struct kfw_ct *k = arg;
    /* nfct_catch reads until the socket is empty (EAGAIN) or fails. */
    if (nfct_catch(k->h) < 0 && errno == ENOBUFS) {
        uint64_t now = mono_us();
        if (!k->lost_warned_us || now - k->lost_warned_us >= LOST_WARN_QUIET_US) {
            k->lost_warned_us = now;
            struct pk_fw_event ev = {
                .kind = PK_FW_EV_WARN,
                .reason = "conntrack events were lost (too many connections ended at once): "
                          "some connections are missing from the log",
            };
            k->log(k->log_arg, &ev);
        }
    }
}

struct kfw_ct *kfw_ct_new(struct pk_loop *loop, uint16_t tag, pk_fw_log_fn *log, void *log_arg,
                          struct pk_err *err)
{
    struct kfw_ct *k = calloc(1, sizeof *k);
    if (!k) {
        pk_err_set(err, PK_ENOMEM, "out of memory");
        return NULL;
    }
    k->loop = loop;
    k->tag = tag;
    k->log = log;
    k->log_arg = log_arg;
    k->fd = -1;
    k->h = nfct_open(CONNTRACK, NF_NETLINK_CONNTRACK_UPDATE | NF_NETLINK_CONNTRACK_DESTROY);
    k->query = k->h ? nfct_open(CONNTRACK, 0) : NULL;
    if (!k->h || !k->query) {
        pk_err_sys(err, "conntrack events");
        if (k->h)
            nfct_close(k->h);
        free(k);
        return NULL;
    }
    k->fd = nfct_fd(k->h);
    nfnl_rcvbufsiz(nfct_nfnlh(k->h), EVENT_RCVBUF);
    fcntl(k->fd, F_SETFL, fcntl(k->fd, F_GETFL) | O_NONBLOCK);
    /* The kernel hands this socket only our table's connections. */
    struct nfct_filter *f = nfct_filter_create();
    if (f) {
        struct nfct_filter_dump_mark m = {.val = (uint32_t)tag << 16, .mask = 0xffff0000u};
        nfct_filter_add_attr(f, NFCT_FILTER_MARK, &m);
        nfct_filter_attach(k->fd, f);
        nfct_filter_destroy(f);
    }
    nfct_callback_register(k->h, NFCT_T_UPDATE | NFCT_T_DESTROY, on_event, k);
    if (pk_loop_watch(loop, k->fd, PK_EV_READ, on_readable, k, err) < 0) {
        nfct_close(k->query);
        nfct_close(k->h);
        free(k);
        return NULL;
    }
    return k;
}

void kfw_ct_set_config(struct kfw_ct *k, const struct pk_fw_config *cfg)
{
    k->cfg = cfg;
}

void kfw_ct_free(struct kfw_ct *k)
{
    if (!k)
        return;
    /* The last connections that ended before the table went away. */
    nfct_catch(k->h);
    pk_loop_unwatch(k->loop, k->fd);
    nfct_close(k->query);
    nfct_close(k->h);
    free(k);
}
