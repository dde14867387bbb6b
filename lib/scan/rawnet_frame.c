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
#include <stdlib.h>
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

static bool netlink_ready(struct raw_net *r)
{
    if (r->nl)
        return true;
    r->nl = mnl_socket_open(NETLINK_ROUTE);
    if (!r->nl || mnl_socket_bind(r->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        if (r->nl)
            mnl_socket_close(r->nl);
        r->nl = NULL;
        r->frames = false; /* no routing answers here: raw sockets only */
        return false;
    }
    return true;
}

/* The kernel's neighbour entry for ip on ifindex, when resolved. */
static bool neigh_ask(struct raw_net *r, int ifindex, const uint8_t ip[4], uint8_t mac[6])
{
    char buf[256];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETNEIGH;
    struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof *nd);
    nd->ndm_family = AF_INET;
    nd->ndm_ifindex = ifindex;
    mnl_attr_put(nlh, NDA_DST, 4, ip);
    struct nl_answer neigh = {.type = RTM_NEWNEIGH};
    ask(r, nlh, &neigh);
    if (!neigh.resolved || !neigh.has_mac)
        return false;
    memcpy(mac, neigh.mac, 6);
    return true;
}

void raw_frame_route(struct raw_net *r, const uint8_t dst[4], struct raw_route *rt)
{
    rt->ifindex = 0;
    rt->recheck = 0;
    rt->direct = false;
    if (!r->frames || !netlink_ready(r))
        return;
    char buf[256];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETROUTE;
    struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);
    rtm->rtm_family = AF_INET;
    rtm->rtm_dst_len = 32;
    mnl_attr_put(nlh, RTA_DST, 4, dst);
    struct nl_answer route = {.type = RTM_NEWROUTE};
    ask(r, nlh, &route);
    if (!route.unicast || route.oif <= 0)
        return;
    int link = -1;
    for (int k = 0; k < r->nlinks && link < 0; k++)
        if (r->links[k].ifindex == route.oif && r->links[k].addr.family == AF_INET)
            link = k;
    if (link < 0)
        return; /* not an Ethernet-like interface we know */
    if (!route.has_gw) {
        /* Attached: every host its own hardware address (raw_neigh_mac),
         * provided the whole /24 is on this link. */
        const struct raw_link *l = &r->links[link];
        struct pk_addr a = {.family = AF_INET};
        memcpy(a.bytes, dst, 4);
        if (l->mask.bytes[3] == 0 && raw_link_of(r, &a) == link) {
            rt->direct = true;
            rt->ifindex = route.oif;
        }
        return;
    }
    if (!neigh_ask(r, route.oif, route.gw, rt->mac)) {
        rt->recheck = r->probes + NEIGH_RECHECK;
        return;
    }
    rt->ifindex = route.oif;
}

/* ---- hosts on attached networks ---- */

#define NEIGH_SLOTS 65536u /* open addressing; 1 MiB, allocated on first use */
#define NEIGH_ASKS 3       /* times the kernel is asked about one host */

enum { NB_EMPTY, NB_RESOLVED, NB_UNRESOLVED };

struct raw_neigh {
    uint32_t ip;       /* network order */
    uint8_t mac[6];
    uint8_t state, asks;
    uint32_t recheck;  /* unresolved: ask again at this probe count */
};

/* The slot of ip, or an empty one for it; NULL when the table is full. */
static struct raw_neigh *neigh_slot(struct raw_net *r, uint32_t ip)
{
    if (!r->neigh) {
        r->neigh = calloc(NEIGH_SLOTS, sizeof *r->neigh);
        if (!r->neigh)
            return NULL;
    }
    uint32_t h = ip * 0x9e3779b1u;
    for (uint32_t i = 0; i < 64; i++) { /* a short probe sequence: a full table falls back */
        struct raw_neigh *n = &r->neigh[(h + i) & (NEIGH_SLOTS - 1)];
        if (n->state == NB_EMPTY || n->ip == ip) {
            n->ip = ip;
            return n;
        }
    }
    return NULL;
}

const uint8_t *raw_neigh_mac(struct raw_net *r, const struct raw_route *rt, const uint8_t dst[4])
{
    uint32_t ip;
    memcpy(&ip, dst, 4);
    struct raw_neigh *n = neigh_slot(r, ip);
    if (!n)
        return NULL;
    if (n->state == NB_RESOLVED)
        return n->mac;
    if (n->state == NB_UNRESOLVED && (n->asks >= NEIGH_ASKS || r->probes < n->recheck))
        return NULL; /* the raw socket: the kernel resolves it (or says unreachable) */
    n->asks++;
    if (neigh_ask(r, rt->ifindex, dst, n->mac)) {
        n->state = NB_RESOLVED;
        return n->mac;
    }
    n->state = NB_UNRESOLVED;
    n->recheck = (uint32_t)r->probes + NEIGH_RECHECK;
    return NULL;
}

void raw_neigh_learn(struct raw_net *r, const uint8_t ip[4], const uint8_t mac[6])
{
    if (!r->frames)
        return;
    struct pk_addr a = {.family = AF_INET};
    memcpy(a.bytes, ip, 4);
    if (raw_link_of(r, &a) < 0 || (mac[0] & 1))
        return; /* not on an attached network, or not one station's address */
    uint32_t key;
    memcpy(&key, ip, 4);
    struct raw_neigh *n = neigh_slot(r, key);
    if (!n)
        return;
    memcpy(n->mac, mac, 6);
    n->state = NB_RESOLVED;
}

void raw_frame_close(struct raw_net *r)
{
    free(r->neigh);
    r->neigh = NULL;
    if (r->nl)
        mnl_socket_close(r->nl);
    r->nl = NULL;
}
