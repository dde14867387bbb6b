/* Sockets from the kernel through netlink sock_diag (NETLINK_INET_DIAG),
 * the way ss asks: one dump per (family, transport), with the state filter
 * applied by the kernel so unwanted sockets never cross into user space. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "portkit/sockets.h"

/* The kernel fills at most ~32 KiB per dump message batch; a little more
 * room costs nothing and never truncates. */
#define RECV_BUF (64 * 1024)

struct dump_ctx {
    struct pk_socklist *out;
    enum pk_proto proto;
    int oom;
};

/* IPv6 listeners carry whether they also take IPv4 (IPV6_V6ONLY). */
static int on_attr(const struct nlattr *a, void *data)
{
    struct pk_sock *s = data;
    if (mnl_attr_get_type(a) == INET_DIAG_SKV6ONLY && mnl_attr_get_payload_len(a) >= 1) {
        s->v6only_known = true;
        s->v6only = *(const uint8_t *)mnl_attr_get_payload(a) != 0;
    }
    return MNL_CB_OK;
}

static int on_msg(const struct nlmsghdr *nlh, void *data)
{
    struct dump_ctx *c = data;
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct inet_diag_msg))
        return MNL_CB_OK;
    const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
    if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
        return MNL_CB_OK;
    struct pk_sock s;
    memset(&s, 0, sizeof s);
    s.proto = c->proto;
    s.family = m->idiag_family;
    s.state = m->idiag_state < PK_SS_COUNT ? (enum pk_sock_state)m->idiag_state : PK_SS_UNKNOWN;
    /* The only TCP sockets in CLOSE a dump returns are the bound-inactive
     * ones asked for with the BOUND bit; name them so. */
    if (c->proto == PK_TCP && s.state == PK_SS_CLOSE)
        s.state = PK_SS_BOUND;
    s.local_port = ntohs(m->id.idiag_sport);
    s.remote_port = ntohs(m->id.idiag_dport);
    size_t alen = s.family == AF_INET ? 4 : 16;
    memcpy(s.local, m->id.idiag_src, alen);
    memcpy(s.remote, m->id.idiag_dst, alen);
    s.ifindex = m->id.idiag_if;
    s.uid = m->idiag_uid;
    s.inode = m->idiag_inode;
    if (s.family == AF_INET6)
        mnl_attr_parse(nlh, sizeof *m, on_attr, &s);
    if (pk_socklist_add(c->out, &s) < 0) {
        c->oom = 1;
        return MNL_CB_ERROR;
    }
    return MNL_CB_OK;
}

/* Errors that mean "this kernel cannot answer": fall back to /proc/net. */
static bool unsupported(int e)
{
    return e == ENOENT || e == EOPNOTSUPP || e == EPROTONOSUPPORT || e == EAFNOSUPPORT ||
           e == EINVAL;
}

static int dump(struct mnl_socket *nl, char *buf, int family, enum pk_proto proto, unsigned states,
                unsigned seq, struct pk_socklist *out, struct pk_err *err)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = seq;
    struct inet_diag_req_v2 *req = mnl_nlmsg_put_extra_header(nlh, sizeof *req);
    req->sdiag_family = (uint8_t)family;
    req->sdiag_protocol = proto == PK_TCP ? IPPROTO_TCP : IPPROTO_UDP;
    req->idiag_states = states;
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
        if (unsupported(errno))
            return pk_err_sys(err, "netlink sock_diag"), PK_EUNSUPP;
        return pk_err_sys(err, "netlink sock_diag: send");
    }
    struct dump_ctx c = {out, proto, 0};
    unsigned portid = mnl_socket_get_portid(nl);
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl, buf, RECV_BUF);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (unsupported(errno))
                return pk_err_sys(err, "netlink sock_diag"), PK_EUNSUPP;
            return pk_err_sys(err, "netlink sock_diag: receive");
        }
        int rc = mnl_cb_run(buf, (size_t)n, seq, portid, on_msg, &c);
        if (rc == MNL_CB_STOP)
            return 0;
        if (rc == MNL_CB_ERROR) {
            if (c.oom)
                return pk_err_set(err, PK_ENOMEM, "out of memory");
            /* mnl_cb_run turns an NLMSG_ERROR into errno */
            if (unsupported(errno))
                return pk_err_sys(err, "netlink sock_diag (%s)", pk_proto_name(proto)), PK_EUNSUPP;
            return pk_err_sys(err, "netlink sock_diag (%s)", pk_proto_name(proto));
        }
    }
}

static int netlink_list(unsigned protos, unsigned states, const char *proc_root,
                        struct pk_socklist *out, struct pk_err *err)
{
    (void)proc_root;
    struct mnl_socket *nl = mnl_socket_open(NETLINK_SOCK_DIAG);
    if (!nl)
        return pk_err_sys(err, "netlink sock_diag"), PK_EUNSUPP;
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        pk_err_sys(err, "netlink sock_diag: bind");
        mnl_socket_close(nl);
        return PK_EUNSUPP;
    }
    char *buf = malloc(RECV_BUF);
    if (!buf) {
        mnl_socket_close(nl);
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    }
    /* TCP sockets that are bound but idle show up only when asked for by
     * their own state bit (Linux >= 6.8); older kernels ignore the bit. */
    unsigned seq = (unsigned)time(NULL);
    int rc = 0;
    static const int families[] = {AF_INET, AF_INET6};
    for (int p = PK_TCP; p <= PK_UDP && rc == 0; p++) {
        if (!(protos & PK_PROTO_MASK(p)))
            continue;
        for (size_t f = 0; f < 2 && rc == 0; f++)
            rc = dump(nl, buf, families[f], (enum pk_proto)p, states, ++seq, out, err);
    }
    free(buf);
    mnl_socket_close(nl);
    return rc;
}

const struct pk_sock_source pk_sock_source_netlink = {.name = "netlink", .list = netlink_list};
