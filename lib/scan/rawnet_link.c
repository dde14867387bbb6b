/* Attached networks and their neighbour protocols: ARP for IPv4,
 * Neighbor Discovery for IPv6. A host on a directly attached network
 * answers these even when it drops every IP packet, so host discovery
 * asks them instead of pinging (nmap's -PR). */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "scan/rawnet.h"

/* Attached networks: every IPv4/IPv6 prefix of an up, non-loopback
 * interface with a 6-byte hardware address. */
void raw_load_links(struct raw_net *r)
{
    struct ifaddrs *all;
    if (getifaddrs(&all) < 0)
        return;
    for (struct ifaddrs *i = all; i; i = i->ifa_next) {
        if (!i->ifa_addr || !i->ifa_netmask || !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
            continue;
        int fam = i->ifa_addr->sa_family;
        if ((fam != AF_INET && fam != AF_INET6) || r->nlinks >= RAW_LINKS)
            continue;
        struct raw_link l = {.ifindex = (int)if_nametoindex(i->ifa_name)};
        bool mac = false;
        for (struct ifaddrs *p = all; p; p = p->ifa_next) {
            if (p->ifa_addr && p->ifa_addr->sa_family == AF_PACKET && strcmp(p->ifa_name, i->ifa_name) == 0) {
                const struct sockaddr_ll *sl = (const struct sockaddr_ll *)p->ifa_addr;
                if (sl->sll_halen == 6) {
                    memcpy(l.mac, sl->sll_addr, 6);
                    mac = true;
                }
            }
        }
        if (!mac || !l.ifindex)
            continue;
        l.addr.family = l.mask.family = fam;
        if (fam == AF_INET) {
            memcpy(l.addr.bytes, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
            memcpy(l.mask.bytes, &((struct sockaddr_in *)i->ifa_netmask)->sin_addr, 4);
        } else {
            const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)i->ifa_addr;
            if (IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr))
                continue; /* fe80::/64 is on every link: not one network */
            memcpy(l.addr.bytes, &a6->sin6_addr, 16);
            memcpy(l.mask.bytes, &((struct sockaddr_in6 *)i->ifa_netmask)->sin6_addr, 16);
        }
        r->links[r->nlinks++] = l;
    }
    freeifaddrs(all);
}

int raw_link_of(const struct raw_net *r, const struct pk_addr *a)
{
    size_t n = a->family == AF_INET6 ? 16 : 4;
    for (int k = 0; k < r->nlinks; k++) {
        const struct raw_link *l = &r->links[k];
        if (l->addr.family != a->family)
            continue;
        bool in = true;
        for (size_t b = 0; b < n && in; b++)
            in = (a->bytes[b] & l->mask.bytes[b]) == (l->addr.bytes[b] & l->mask.bytes[b]);
        if (in && memcmp(a->bytes, l->addr.bytes, n) != 0)
            return k;
    }
    return -1;
}

int raw_send_neighbour(struct raw_net *r, int link, const struct pk_addr *a)
{
    const struct raw_link *l = &r->links[link];
    if (a->family == AF_INET) {
        if (r->rx < 0)
            return -EAFNOSUPPORT;
        uint8_t m[28] = {0, 1, 0x08, 0x00, 6, 4, 0, 1}; /* Ethernet, IPv4, request */
        memcpy(m + 8, l->mac, 6);
        memcpy(m + 14, l->addr.bytes, 4);
        memcpy(m + 24, a->bytes, 4);
        struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP),
                                 .sll_ifindex = l->ifindex, .sll_halen = 6};
        memset(to.sll_addr, 0xff, 6);
        if (sendto(r->rx, m, sizeof m, 0, (struct sockaddr *)&to, sizeof to) < 0) {
            __atomic_fetch_add(&r->send_errors, 1, __ATOMIC_RELAXED); /* (the sender threads count too) */
            return -errno;
        }
        __atomic_fetch_add(&r->sent, 1, __ATOMIC_RELAXED);
        return 0;
    }
    /* Neighbour solicitation to the solicited-node group, with our
     * link-layer address (RFC 4861 4.3); the kernel checksums ICMPv6. */
    uint8_t m[32] = {135};
    memcpy(m + 8, a->bytes, 16);
    m[24] = 1;
    m[25] = 1;
    memcpy(m + 26, l->mac, 6);
    struct sockaddr_in6 to = {.sin6_family = AF_INET6, .sin6_scope_id = (uint32_t)l->ifindex};
    static const uint8_t group[13] = {0xff, 0x02, [11] = 0x01, [12] = 0xff};
    memcpy(&to.sin6_addr, group, 13);
    memcpy((uint8_t *)&to.sin6_addr + 13, a->bytes + 13, 3);
    int hops = 255;
    setsockopt(r->icmp6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops);
    if (r->icmp6 < 0 || sendto(r->icmp6, m, sizeof m, 0, (struct sockaddr *)&to, sizeof to) < 0) {
        __atomic_fetch_add(&r->send_errors, 1, __ATOMIC_RELAXED);
        return r->icmp6 < 0 ? -EAFNOSUPPORT : -errno;
    }
    __atomic_fetch_add(&r->sent, 1, __ATOMIC_RELAXED);
    return 0;
}

