/* IPv4 probes as Ethernet frames on the packet socket (SOCK_DGRAM: we
 * give the next hop's address, the kernel writes the header), skipping the
 * queueing discipline (PACKET_QDISC_BYPASS).
 *
 * Measured on one core into a silent /16 through a veth (bench/scan_net.py
 * n4): a raw IP socket spends most of each send in the kernel building the
 * IP header, routing and queueing; a ready frame handed to the driver costs
 * a fraction of that. A frame needs the next hop's hardware address, so
 * this path is taken only where the answer is the same for a whole /24
 * (the route cache's unit): a route through a gateway whose neighbour entry
 * the kernel has already resolved, on an Ethernet-like interface. Anything
 * else - a directly attached network (each host its own address), loopback,
 * a gateway not yet resolved - goes through the raw IP socket, whose first
 * probes also make the kernel resolve the gateway for the next look.
 *
 * Frames skip this host's own netfilter output hooks, as nmap's and zmap's
 * do. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scan/rawnet.h"

#define NEIGH_RECHECK 256 /* probes sent before an unresolved gateway is asked again */

void raw_frame_open(struct raw_net *r)
{
    int one = 1;
    if (r->rx < 0 || setsockopt(r->rx, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) < 0)
        return; /* without the bypass the gain is small: the raw socket will do */
    int big = 4 << 20;
    if (setsockopt(r->rx, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) < 0)
        setsockopt(r->rx, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    r->frames = true;
}

struct nl_answer {
    int type;        /* RTM_NEWROUTE or RTM_NEWNEIGH expected */
    int oif;
    uint8_t gw[4];
    bool has_gw, unicast;
    uint8_t mac[6];
    bool has_mac, resolved;
};

static int route_attr(const struct nlattr *a, void *data)
{
    struct nl_answer *ans = data;
    if (mnl_attr_get_type(a) == RTA_OIF && mnl_attr_get_payload_len(a) >= 4)
        ans->oif = (int)mnl_attr_get_u32(a);
    else if (mnl_attr_get_type(a) == RTA_GATEWAY && mnl_attr_get_payload_len(a) == 4) {
        memcpy(ans->gw, mnl_attr_get_payload(a), 4);
        ans->has_gw = true;
    }
    return MNL_CB_OK;
}

static int neigh_attr(const struct nlattr *a, void *data)
{
    struct nl_answer *ans = data;
    if (mnl_attr_get_type(a) == NDA_LLADDR && mnl_attr_get_payload_len(a) == 6) {
        memcpy(ans->mac, mnl_attr_get_payload(a), 6);
        ans->has_mac = true;
    }
    return MNL_CB_OK;
}

static int answer_cb(const struct nlmsghdr *nlh, void *data)
{
    struct nl_answer *ans = data;
    if (nlh->nlmsg_type != ans->type)
        return MNL_CB_OK;
    if (ans->type == RTM_NEWROUTE) {
        const struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);
        ans->unicast = rt->rtm_type == RTN_UNICAST;
        return mnl_attr_parse(nlh, sizeof *rt, route_attr, ans);
    }
    const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);
    ans->resolved = (nd->ndm_state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT)) != 0;
    return mnl_attr_parse(nlh, sizeof *nd, neigh_attr, ans);
}

/* One request, one answer (an error answer, such as no neighbour entry,
 * leaves ans as it was). */
static void ask(struct raw_net *r, struct nlmsghdr *nlh, struct nl_answer *ans)
{
    struct mnl_socket *nl = r->nl;
    nlh->nlmsg_flags = NLM_F_REQUEST;
    nlh->nlmsg_seq = ++r->nl_seq;
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
        return;
    char buf[MNL_SOCKET_BUFFER_SIZE];
    ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof buf);
    if (n > 0)
        mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, mnl_socket_get_portid(nl), answer_cb, ans);
}

void raw_frame_route(struct raw_net *r, const uint8_t dst[4], struct raw_route *rt)
{
    rt->ifindex = 0;
    rt->recheck = 0;
    if (!r->frames)
        return;
    if (!r->nl) {
        r->nl = mnl_socket_open(NETLINK_ROUTE);
        if (!r->nl || mnl_socket_bind(r->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
            if (r->nl)
                mnl_socket_close(r->nl);
            r->nl = NULL;
            r->frames = false; /* no routing answers here: raw sockets only */
            return;
        }
    }
    char buf[256];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETROUTE;
    struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);
    rtm->rtm_family = AF_INET;
    rtm->rtm_dst_len = 32;
    mnl_attr_put(nlh, RTA_DST, 4, dst);
    struct nl_answer route = {.type = RTM_NEWROUTE};
    ask(r, nlh, &route);
    if (!route.unicast || !route.has_gw || route.oif <= 0)
        return;
    int link = -1;
    for (int k = 0; k < r->nlinks && link < 0; k++)
        if (r->links[k].ifindex == route.oif && r->links[k].addr.family == AF_INET)
            link = k;
    if (link < 0)
        return; /* not an Ethernet-like interface we know */
    nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETNEIGH;
    struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof *nd);
    nd->ndm_family = AF_INET;
    nd->ndm_ifindex = route.oif;
    mnl_attr_put(nlh, NDA_DST, 4, route.gw);
    struct nl_answer neigh = {.type = RTM_NEWNEIGH};
    ask(r, nlh, &neigh);
    if (!neigh.resolved || !neigh.has_mac) {
        rt->recheck = r->probes + NEIGH_RECHECK;
        return;
    }
    memcpy(rt->mac, neigh.mac, 6);
    rt->ifindex = route.oif;
}

void raw_frame_close(struct raw_net *r)
{
    if (r->nl)
        mnl_socket_close(r->nl);
    r->nl = NULL;
}
