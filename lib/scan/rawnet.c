/* Raw probes and their replies (see rawnet.h for the model).
 *
 * IPv4 probes are whole IP packets we write, with our source address found
 * once per /24 by asking the kernel's routing table (connect() on a UDP
 * socket sends nothing; the TCP checksum needs it). They leave as frames
 * on the packet socket where the next hop's hardware address is known
 * (rawnet_frame.c), else through an IPPROTO_RAW socket: the kernel routes
 * and resolves neighbours. IPv6 goes through raw TCP and ICMPv6 sockets,
 * which checksum for us (IPV6_CHECKSUM, and always for ICMPv6).
 *
 * Every socket that could receive carries a reject-all filter: a raw TCP
 * socket would otherwise get a copy of every TCP segment the host gets.
 * Replies are read from the packet socket, whose classic BPF program keeps
 * only incoming TCP to our two source ports, ICMP and ARP. */
#include "scan/rawnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- SipHash-2-4 (Aumasson and Bernstein's keyed hash) ---- */

#define ROTL64(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1; v1 = ROTL64(v1, 13); v1 ^= v0; v0 = ROTL64(v0, 32);                              \
        v2 += v3; v3 = ROTL64(v3, 16); v3 ^= v2;                                                   \
        v0 += v3; v3 = ROTL64(v3, 21); v3 ^= v0;                                                   \
        v2 += v1; v1 = ROTL64(v1, 17); v1 ^= v2; v2 = ROTL64(v2, 32);                              \
    } while (0)

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint64_t raw_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
    const uint8_t *in = data;
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    size_t full = len & ~(size_t)7;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = load_le64(in + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t last = (uint64_t)len << 56;
    for (size_t i = 0; i < (len & 7); i++)
        last |= (uint64_t)in[full + i] << (8 * i);
    v3 ^= last;
    SIPROUND;
    SIPROUND;
    v0 ^= last;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

uint32_t raw_cookie(const struct raw_net *r, const struct pk_addr *dst, uint16_t dport, uint16_t sport,
                    uint32_t salt)
{
    uint8_t msg[28];
    memcpy(msg, dst->bytes, 16);
    msg[16] = (uint8_t)dst->family;
    msg[17] = (uint8_t)(dport >> 8);
    msg[18] = (uint8_t)dport;
    msg[19] = (uint8_t)(sport >> 8);
    msg[20] = (uint8_t)sport;
    memcpy(msg + 21, &salt, 4);
    memset(msg + 25, 0, 3);
    return (uint32_t)raw_siphash(r->k0, r->k1, msg, sizeof msg);
}

/* ---- sockets ---- */

static int reject_all(int fd)
{
    struct sock_filter code[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
    struct sock_fprog prog = {.len = 1, .filter = code};
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

static int raw_socket(int family, int proto)
{
    int fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (fd < 0)
        return -1;
    reject_all(fd);
    int big = 4 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) < 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    return fd;
}

/* A TCP socket bound to a kernel-chosen free port: the port is then ours
 * for the scan (no local connection can pick it) and, never listening,
 * makes the kernel reset whatever arrives on it. */
static int hold_port(uint16_t *port)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (fd >= 0) {
        int zero = 0;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        len = sizeof *a;
    } else {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        len = sizeof(struct sockaddr_in);
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* A UDP socket for -PU probes; answers are not read from it (an ICMP
 * error quoting its port, read from the packet socket, is what counts). */
static int udp_socket(int family, uint16_t *port)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_family = (sa_family_t)family;
    socklen_t len = family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (family == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        close(fd);
        return -1;
    }
    reject_all(fd);
    *port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                     : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* Incoming IPv4/IPv6 TCP to either source port, all ICMP/ICMPv6, and ARP.
 * The program runs on the network header (SOCK_DGRAM). */
static int attach_rx_filter(int fd, uint16_t p1, uint16_t p2)
{
    enum { ACCEPT = 19, REJECT = 20 };
#define J(i, k, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (uint8_t)((t) - (i) - 1), (uint8_t)((f) - (i) - 1))
    struct sock_filter code[] = {
        /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PKTTYPE)),
        /* 1 */ J(1, PACKET_OUTGOING, REJECT, 2),
        /* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PROTOCOL)),
        /* 3 */ J(3, ETH_P_IP, 6, 4),
        /* 4 */ J(4, ETH_P_IPV6, 13, 5),
        /* 5 */ J(5, ETH_P_ARP, ACCEPT, REJECT),
        /* 6 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),
        /* 7 */ J(7, IPPROTO_ICMP, ACCEPT, 8),
        /* 8 */ J(8, IPPROTO_TCP, 9, REJECT),
        /* 9 */ BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
        /* 10 */ BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),
        /* 11 */ J(11, p1, ACCEPT, 12),
        /* 12 */ J(12, p2, ACCEPT, REJECT),
        /* 13 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 6),
        /* 14 */ J(14, IPPROTO_ICMPV6, ACCEPT, 15),
        /* 15 */ J(15, IPPROTO_TCP, 16, REJECT),
        /* 16 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 42),
        /* 17 */ J(17, p1, ACCEPT, 18),
        /* 18 */ J(18, p2, ACCEPT, REJECT),
        /* 19 */ BPF_STMT(BPF_RET | BPF_K, 256),
        /* 20 */ BPF_STMT(BPF_RET | BPF_K, 0),
    };
#undef J
    struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

#define RING_BLOCK (256u << 10)
#define RING_BLOCKS 32u

/* TPACKET_V3: the kernel fills blocks of packets in a ring shared with us
 * and hands a block over when full or after 2 ms. Without it (an old
 * kernel, no memory) replies are read with recv(). */
static void setup_ring(struct raw_net *r)
{
    int v = TPACKET_V3;
    struct tpacket_req3 req = {
        .tp_block_size = RING_BLOCK,
        .tp_block_nr = RING_BLOCKS,
        .tp_frame_size = 2048,
        .tp_frame_nr = RING_BLOCK / 2048 * RING_BLOCKS,
        .tp_retire_blk_tov = 2,
    };
    if (setsockopt(r->rx, SOL_PACKET, PACKET_VERSION, &v, sizeof v) < 0 ||
        setsockopt(r->rx, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0)
        return;
    void *m = mmap(NULL, (size_t)RING_BLOCK * RING_BLOCKS, PROT_READ | PROT_WRITE, MAP_SHARED, r->rx, 0);
    if (m == MAP_FAILED)
        return;
    r->ring = m;
    r->ring_blocks = RING_BLOCKS;
    r->ring_block_size = RING_BLOCK;
}

bool raw_available(void)
{
    int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

int raw_open(struct raw_net *r, struct pk_err *err)
{
    memset(r, 0, sizeof *r);
    r->ip4 = r->tcp6 = r->icmp6 = r->rx = r->hold = r->hold2 = r->udp4 = r->udp6 = r->route_fd = -1;
    uint64_t key[2];
    if (getrandom(key, sizeof key, 0) != sizeof key)
        return pk_err_sys(err, "getrandom");
    r->k0 = key[0];
    r->k1 = key[1];
    r->ip4 = raw_socket(AF_INET, IPPROTO_RAW);
    if (r->ip4 < 0) {
        int e = errno;
        raw_close(r);
        errno = e;
        return pk_err_sys(err, "raw socket (a SYN scan and ICMP discovery need root or CAP_NET_RAW)");
    }
    r->tcp6 = raw_socket(AF_INET6, IPPROTO_TCP); /* no IPv6 here: -1, v6 probes fail alone */
    if (r->tcp6 >= 0) {
        int off = 16; /* the TCP checksum field */
        setsockopt(r->tcp6, IPPROTO_IPV6, IPV6_CHECKSUM, &off, sizeof off);
    }
    r->icmp6 = raw_socket(AF_INET6, IPPROTO_ICMPV6);
    if (r->icmp6 >= 0) {
        struct icmp6_filter f;
        ICMP6_FILTER_SETBLOCKALL(&f);
        setsockopt(r->icmp6, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f);
    }
    r->udp4 = udp_socket(AF_INET, &r->sport_udp4);
    r->udp6 = udp_socket(AF_INET6, &r->sport_udp6);
    r->hold = hold_port(&r->sport_scan);
    r->hold2 = hold_port(&r->sport_ping);
    if (r->hold < 0 || r->hold2 < 0) {
        raw_close(r);
        return pk_err_sys(err, "raw probes: sockets");
    }
    /* Protocol 0 until the filter is in place: nothing unfiltered queues. */
    r->rx = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (r->rx < 0 || attach_rx_filter(r->rx, r->sport_scan, r->sport_ping) < 0) {
        raw_close(r);
        return pk_err_sys(err, "packet socket");
    }
    int big = 16 << 20;
    if (setsockopt(r->rx, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0)
        setsockopt(r->rx, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    /* Our own probes pass every packet tap on the way out: without this
     * each one is cloned and run through the filter only to be dropped.
     * Replies over loopback still arrive, as incoming on lo. (Older
     * kernels refuse it: the filter drops them there.) */
    int one = 1;
    setsockopt(r->rx, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
    setup_ring(r);
    struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
    if (bind(r->rx, (struct sockaddr *)&ll, sizeof ll) < 0) {
        raw_close(r);
        return pk_err_sys(err, "packet socket: bind");
    }
    raw_load_links(r);
    if (r->nlinks)
        raw_frame_open(r);
    return 0;
}

void raw_close(struct raw_net *r)
{
    raw_send_stop(r); /* the thread may be sending on these sockets */
    if (r->ring)
        munmap(r->ring, r->ring_blocks * r->ring_block_size);
    r->ring = NULL;
    free(r->routes);
    r->routes = NULL;
    raw_frame_close(r);
    int *fds[] = {&r->ip4, &r->tcp6, &r->icmp6, &r->rx, &r->hold, &r->hold2, &r->udp4, &r->udp6, &r->route_fd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
}

/* ---- sending ---- */

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t acc)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        acc += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        acc += (uint32_t)p[len - 1] << 8;
    return acc;
}

static uint16_t fold(uint32_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)~acc;
}

/* Our IPv4 source towards dst and how to send there: the routing table's
 * answer, kept per /24. Connecting a UDP socket routes without sending; one
 * socket is reused (a connect replaces the previous one). */
static int route4(struct raw_net *r, const struct pk_addr *dst, const struct raw_route **out)
{
    uint32_t prefix;
    memcpy(&prefix, dst->bytes, 4);
    prefix &= htonl(0xffffff00u);
    if (!r->routes) {
        r->routes = calloc(RAW_ROUTES, sizeof *r->routes);
        if (!r->routes)
            return -ENOMEM;
    }
    uint32_t h = ntohl(prefix) >> 8;
    struct raw_route *rt = &r->routes[(h ^ h >> 12) % RAW_ROUTES];
    *out = rt;
    if (rt->prefix == prefix && prefix != 0) {
        if (rt->recheck && r->probes >= rt->recheck)
            raw_frame_route(r, dst->bytes, rt);
        return 0;
    }
    if (r->route_fd < 0)
        r->route_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (r->route_fd < 0)
        return -errno;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(9)};
    memcpy(&sa.sin_addr, dst->bytes, 4);
    struct sockaddr_in me;
    socklen_t len = sizeof me;
    if (connect(r->route_fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        getsockname(r->route_fd, (struct sockaddr *)&me, &len) < 0)
        return -errno;
    rt->prefix = prefix;
    memcpy(rt->src, &me.sin_addr, 4);
    raw_frame_route(r, dst->bytes, rt);
    return 0;
}

static int send_to(struct raw_net *r, int slot, int fd, const struct pk_addr *dst, const void *pkt, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = pk_addr_sockaddr(dst, 0, &ss);
    return raw_queue(r, slot, fd, &ss, sl, pkt, len);
}

/* The segment or message m (protocol proto) wrapped in our IPv4 header:
 * as a frame to the gateway when rt allows, else through the raw socket
 * (the kernel routes it and resolves the neighbour). */
static int send_ip4(struct raw_net *r, const struct raw_route *rt, const struct pk_addr *dst, uint8_t proto,
                    const uint8_t *m, size_t len)
{
    uint8_t ip[20 + 24];
    size_t total = 20 + len;
    uint16_t id = (uint16_t)(r->probes * 0x9e37u + (uint16_t)r->k0); /* varied, as the kernel's */
    const uint8_t hdr[20] = {0x45, 0, (uint8_t)(total >> 8), (uint8_t)total, (uint8_t)(id >> 8), (uint8_t)id,
                             0, 0, 64, proto};
    memcpy(ip, hdr, 20);
    memcpy(ip + 12, rt->src, 4);
    memcpy(ip + 16, dst->bytes, 4);
    uint16_t ck = fold(sum16(ip, 20, 0));
    ip[10] = (uint8_t)(ck >> 8);
    ip[11] = (uint8_t)ck;
    memcpy(ip + 20, m, len);
    const uint8_t *mac = rt->ifindex <= 0 || !r->frames ? NULL : rt->direct ? raw_neigh_mac(r, rt, dst->bytes)
                                                                            : rt->mac;
    if (mac) {
        struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP),
                                 .sll_ifindex = rt->ifindex, .sll_halen = 6};
        memcpy(ll.sll_addr, mac, 6);
        return raw_queue(r, RAW_SLOT_FRAME, r->rx, &ll, sizeof ll, ip, total);
    }
    return send_to(r, RAW_SLOT_IP4, r->ip4, dst, ip, total);
}

int raw_send_tcp(struct raw_net *r, const struct pk_addr *dst, uint16_t sport, uint16_t dport,
                 uint8_t flags, uint32_t seq, uint32_t ack)
{
    uint8_t t[24] = {0};
    size_t len = (flags & RAW_TCP_SYN) ? 24 : 20;
    t[0] = (uint8_t)(sport >> 8);
    t[1] = (uint8_t)sport;
    t[2] = (uint8_t)(dport >> 8);
    t[3] = (uint8_t)dport;
    uint32_t nseq = htonl(seq), nack = htonl(ack);
    memcpy(t + 4, &nseq, 4);
    memcpy(t + 8, &nack, 4);
    t[12] = (uint8_t)((len / 4) << 4);
    t[13] = flags;
    t[14] = 0x04; /* window 1024, as nmap */
    t[15] = 0x00;
    if (len == 24) { /* MSS 1460: some stacks ignore SYNs without options */
        t[20] = 2;
        t[21] = 4;
        t[22] = 0x05;
        t[23] = 0xb4;
    }
    if (dst->family == AF_INET6) /* the kernel checksums (IPV6_CHECKSUM) */
        return send_to(r, RAW_SLOT_TCP6, r->tcp6, dst, t, len);
    r->probes++;
    const struct raw_route *rt;
    int rc = route4(r, dst, &rt);
    if (rc < 0)
        return rc;
    uint8_t pseudo[12];
    memcpy(pseudo, rt->src, 4);
    memcpy(pseudo + 4, dst->bytes, 4);
    pseudo[8] = 0;
    pseudo[9] = IPPROTO_TCP;
    pseudo[10] = 0;
    pseudo[11] = (uint8_t)len;
    uint16_t ck = fold(sum16(t, len, sum16(pseudo, 12, 0)));
    t[16] = (uint8_t)(ck >> 8);
    t[17] = (uint8_t)ck;
    return send_ip4(r, rt, dst, IPPROTO_TCP, t, len);
}

int raw_send_icmp(struct raw_net *r, const struct pk_addr *dst, bool timestamp, uint16_t id, uint16_t seq,
                  uint64_t stamp)
{
    uint8_t m[20] = {0};
    size_t len;
    bool v6 = dst->family == AF_INET6;
    if (v6 && timestamp)
        return -EAFNOSUPPORT;
    m[0] = v6 ? 128 : timestamp ? 13 : 8;
    m[4] = (uint8_t)(id >> 8);
    m[5] = (uint8_t)id;
    m[6] = (uint8_t)(seq >> 8);
    m[7] = (uint8_t)seq;
    if (timestamp) {
        uint32_t ms = htonl((uint32_t)(stamp / 1000 % 86400000u)); /* originate */
        memcpy(m + 8, &ms, 4);
        len = 20;
    } else {
        memcpy(m + 8, &stamp, 8);
        len = 16;
    }
    if (v6)
        return send_to(r, RAW_SLOT_ICMP6, r->icmp6, dst, m, len); /* ICMPv6: the kernel checksums */
    uint16_t ck = fold(sum16(m, len, 0));
    m[2] = (uint8_t)(ck >> 8);
    m[3] = (uint8_t)ck;
    r->probes++;
    const struct raw_route *rt;
    int rc = route4(r, dst, &rt);
    if (rc < 0)
        return rc;
    return send_ip4(r, rt, dst, IPPROTO_ICMP, m, len);
}

/* ---- receiving ---- */

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The IP header of a quoted probe inside an ICMP error. */
static bool parse_quoted(const uint8_t *p, size_t len, struct raw_pkt *out)
{
    const uint8_t *l4;
    size_t l4len;
    if (len >= 20 && (p[0] >> 4) == 4) {
        size_t ihl = (size_t)(p[0] & 15) * 4;
        if (ihl < 20 || ihl > len)
            return false;
        out->qdst.family = AF_INET;
        memcpy(out->qdst.bytes, p + 16, 4);
        out->qproto = p[9];
        l4 = p + ihl;
        l4len = len - ihl;
    } else if (len >= 40 && (p[0] >> 4) == 6) {
        out->qdst.family = AF_INET6;
        memcpy(out->qdst.bytes, p + 24, 16);
        out->qproto = p[6];
        l4 = p + 40;
        l4len = len - 40;
    } else {
        return false;
    }
    if (l4len < 8)
        return false;
    if (out->qproto == IPPROTO_TCP || out->qproto == IPPROTO_UDP) {
        out->qsport = be16(l4);
        out->qdport = be16(l4 + 2);
        out->qseq = out->qproto == IPPROTO_TCP ? be32(l4 + 4) : 0;
    } else if (out->qproto == IPPROTO_ICMP || out->qproto == IPPROTO_ICMPV6) {
        out->qicmp_id = be16(l4 + 4);
        out->qicmp_seq = be16(l4 + 6);
    } else {
        return false;
    }
    return true;
}

bool raw_parse(const uint8_t *p, size_t len, struct raw_pkt *out)
{
    memset(out, 0, sizeof *out);
    const uint8_t *l4;
    size_t l4len;
    uint8_t proto;
    if (len >= 20 && (p[0] >> 4) == 4) {
        size_t ihl = (size_t)(p[0] & 15) * 4;
        size_t total = be16(p + 2);
        if (total > len)
            total = len; /* cut by the capture length: the headers are what count */
        if (ihl < 20 || total < ihl)
            return false;
        if (be16(p + 6) & 0x3fff)
            return false; /* a fragment: our probes' answers never are */
        out->src.family = AF_INET;
        memcpy(out->src.bytes, p + 12, 4);
        out->ttl = p[8];
        proto = p[9];
        l4 = p + ihl;
        l4len = total - ihl;
    } else if (len >= 40 && (p[0] >> 4) == 6) {
        size_t plen = be16(p + 4);
        if (40 + plen > len)
            plen = len - 40;
        out->src.family = AF_INET6;
        memcpy(out->src.bytes, p + 8, 16);
        out->ttl = p[7];
        proto = p[6];
        l4 = p + 40;
        l4len = plen;
    } else {
        return false;
    }
    if (proto == IPPROTO_TCP) {
        if (l4len < 20)
            return false;
        out->kind = RAW_TCP;
        out->sport = be16(l4);
        out->dport = be16(l4 + 2);
        out->seq = be32(l4 + 4);
        out->ack = be32(l4 + 8);
        out->flags = l4[13];
        return true;
    }
    bool v6 = out->src.family == AF_INET6;
    if (proto != (v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP) || l4len < 8)
        return false;
    out->icmp_type = l4[0];
    out->icmp_code = l4[1];
    out->icmp_id = be16(l4 + 4);
    out->icmp_seq = be16(l4 + 6);
    uint8_t echo_reply = v6 ? 129 : 0;
    if (out->icmp_type == echo_reply) {
        out->kind = RAW_ECHO_REPLY;
        if (l4len >= 16)
            memcpy(&out->stamp, l4 + 8, 8);
        return true;
    }
    if (v6 && out->icmp_type == 136 && l4len >= 24) { /* neighbour advertisement */
        out->kind = RAW_NEIGHBOUR;
        out->src.family = AF_INET6;
        memcpy(out->src.bytes, l4 + 8, 16); /* the address it speaks for */
        return true;
    }
    if (!v6 && out->icmp_type == 14) {
        out->kind = RAW_TS_REPLY;
        return true;
    }
    bool error = v6 ? (out->icmp_type == 1 || out->icmp_type == 3)
                    : (out->icmp_type == 3 || out->icmp_type == 11);
    if (!error)
        return false;
    out->kind = RAW_ICMP_ERROR;
    return parse_quoted(l4 + 8, l4len - 8, out);
}

/* One packet from the packet socket, starting at its network header. */
static void deliver(struct raw_net *r, uint16_t proto, const uint8_t *p, size_t len, raw_reply_fn *fn,
                    void *arg)
{
    struct raw_pkt pkt;
    if (proto != ETH_P_ARP) {
        if (raw_parse(p, len, &pkt))
            fn(arg, &pkt);
        return;
    }
    /* An ARP reply (IPv4 over Ethernet): the sender is up. */
    if (len < 28 || be16(p) != 1 || be16(p + 2) != 0x0800 || p[4] != 6 || p[5] != 4 || be16(p + 6) != 2)
        return;
    raw_neigh_learn(r, p + 14, p + 8); /* probes to it can go as frames now */
    memset(&pkt, 0, sizeof pkt);
    pkt.kind = RAW_NEIGHBOUR;
    pkt.src.family = AF_INET;
    memcpy(pkt.src.bytes, p + 14, 4);
    fn(arg, &pkt);
}

static unsigned ring_receive(struct raw_net *r, raw_reply_fn *fn, void *arg, unsigned max)
{
    unsigned n = 0;
    while (n < max) {
        struct tpacket_block_desc *bd = (void *)(r->ring + r->ring_cur * r->ring_block_size);
        if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
            break;
        uint8_t *p = (uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt;
        for (uint32_t i = 0; i < bd->hdr.bh1.num_pkts; i++) {
            const struct tpacket3_hdr *h = (const void *)p;
            const struct sockaddr_ll *ll = (const void *)(p + TPACKET_ALIGN(sizeof *h));
            deliver(r, ntohs(ll->sll_protocol), p + h->tp_net, h->tp_snaplen, fn, arg);
            n++;
            p += h->tp_next_offset;
        }
        __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        r->ring_cur = (r->ring_cur + 1) % r->ring_blocks;
    }
    return n;
}

unsigned raw_receive(struct raw_net *r, raw_reply_fn *fn, void *arg, unsigned max)
{
    if (r->ring)
        return ring_receive(r, fn, arg, max);
    uint8_t buf[512];
    unsigned n = 0;
    while (n < max) {
        struct sockaddr_ll ll;
        socklen_t sl = sizeof ll;
        ssize_t got = recvfrom(r->rx, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&ll, &sl);
        if (got < 0)
            break;
        n++;
        size_t len = (size_t)got < sizeof buf ? (size_t)got : sizeof buf;
        deliver(r, ntohs(ll.sll_protocol), buf, len, fn, arg);
    }
    return n;
}
