/* Raw packets for host discovery and the SYN scan: crafting TCP and ICMP
 * probes, sending them through raw IP sockets, and reading every reply
 * through one packet socket with a BPF filter.
 *
 * Probes carry their own proof: a TCP sequence number or an ICMP id/seq
 * is a keyed hash (SipHash-2-4) of the target and ports, so a reply shows
 * it answers one of our probes without any table, and a forged or stray
 * packet is dropped. Replies reach us through a TCP socket bound (never
 * listening) to the source port: the port is ours alone, and the kernel
 * answers the SYN-ACKs of a SYN scan with the RST such a scan wants. */
#ifndef PORTKIT_SCAN_RAWNET_H
#define PORTKIT_SCAN_RAWNET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "portkit/error.h"
#include "portkit/target.h"

struct mnl_socket;
struct raw_neigh;

#define RAW_TCP_FIN 0x01
#define RAW_TCP_SYN 0x02
#define RAW_TCP_RST 0x04
#define RAW_TCP_ACK 0x10

enum raw_kind {
    RAW_TCP = 1,         /* a TCP segment to one of our ports */
    RAW_ECHO_REPLY,      /* ICMP / ICMPv6 echo reply */
    RAW_TS_REPLY,        /* ICMP timestamp reply */
    RAW_ICMP_ERROR,      /* unreachable / time exceeded quoting one of our probes */
    RAW_NEIGHBOUR,       /* ARP reply or ICMPv6 neighbour advertisement for src */
};

/* One parsed reply. For RAW_ICMP_ERROR the q* fields describe the quoted
 * probe (our packet as the router or host saw it). */
struct raw_pkt {
    enum raw_kind kind;
    struct pk_addr src;
    uint8_t ttl;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t icmp_id, icmp_seq;
    uint8_t icmp_type, icmp_code;
    uint64_t stamp;               /* echo replies: the send time we put in */
    struct pk_addr qdst;
    uint8_t qproto;               /* 6 TCP, 1/58 ICMP */
    uint16_t qsport, qdport;
    uint32_t qseq;
    uint16_t qicmp_id, qicmp_seq;
};

/* An attached network (an address with its prefix on an Ethernet-like
 * interface): its hosts are found by ARP or Neighbor Discovery. */
struct raw_link {
    int ifindex;
    struct pk_addr addr, mask;
    uint8_t mac[6];
};
#define RAW_LINKS 16

/* Our IPv4 source towards one /24. A scan visits its targets in a random
 * order, so the cache must hold every /24 of a /16 at once: with fewer
 * slots nearly every probe paid a socket + connect + close to ask the
 * kernel again, 40 % of a raw scan's time. */
struct raw_route {
    uint32_t prefix;  /* the /24, network order; 0 in an empty slot */
    uint8_t src[4];
    int ifindex;      /* > 0: probes go out as frames on it (rawnet_frame.c) */
    bool direct;      /* then: an attached /24, each host's address from raw_neigh_mac */
    uint8_t mac[6];   /* else: the gateway's hardware address */
    uint64_t recheck; /* != 0: the gateway was unresolved; ask again at this probe count */
};
#define RAW_ROUTES 4096

/* Send queues, one per socket (rawnet_send.c). */
enum { RAW_SLOT_IP4, RAW_SLOT_TCP6, RAW_SLOT_ICMP6, RAW_SLOT_FRAME, RAW_SLOTS };
struct raw_batch;
struct raw_sender;

struct raw_net {
    /* IPv4 goes through an IPPROTO_RAW socket with the IP header ours: a
     * socket of that protocol receives nothing, where a raw TCP socket got
     * (and filtered away) a copy of every segment the host took in - 5 %
     * of a SYN scan's time. -1 when not opened. */
    int ip4, tcp6, icmp6;
    /* The one packet socket: replies (IPv4, IPv6, ARP) through its ring,
     * and frames and ARP requests out (SOCK_DGRAM: the kernel writes the
     * Ethernet header from the address given). One socket, not three:
     * closing each costs the kernel an RCU grace period, ~15 ms apiece at
     * the end of every scan. */
    int rx;
    bool frames;                  /* rx may send frames (PACKET_QDISC_BYPASS is set) */
    int hold;                     /* TCP socket that owns the source ports */
    int hold2;
    int udp4, udp6;               /* UDP pings (-PU): plain sockets */
    struct raw_link links[RAW_LINKS];
    int nlinks;
    uint16_t sport_scan, sport_ping, sport_udp4, sport_udp6;
    uint64_t k0, k1;              /* SipHash key */
    struct raw_route *routes;     /* RAW_ROUTES slots, allocated on first use */
    int route_fd;                 /* UDP socket the kernel routes through; -1: not yet */
    uint64_t sent, send_errors;   /* (added to by the sender thread) */
    uint64_t probes;              /* IPv4 probes made (raw_send_tcp, raw_send_icmp) */
    struct mnl_socket *nl;        /* route and neighbour questions */
    struct raw_neigh *neigh;      /* hardware addresses of attached hosts (rawnet_frame.c) */
    uint32_t nl_seq;
    /* PACKET_RX_RING (TPACKET_V3): replies read from shared memory, no
     * system call per packet. NULL: plain recv(). */
    uint8_t *ring;
    size_t ring_blocks, ring_block_size, ring_cur;
    /* Probes queued per send socket, sent with one sendmmsg each, by the
     * sender thread when there is one. */
    struct raw_batch *batch[RAW_SLOTS];
    struct raw_sender *sender;
    bool sender_tried;
};

uint64_t raw_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len);

/* Opens every socket (needs CAP_NET_RAW); the key comes from getrandom. */
int raw_open(struct raw_net *r, struct pk_err *err);
void raw_close(struct raw_net *r);
/* Whether raw sockets can be opened here (root or CAP_NET_RAW). */
bool raw_available(void);

/* The keyed hash of a probe to (dst, dport) from sport; `salt` separates
 * probe kinds. */
uint32_t raw_cookie(const struct raw_net *r, const struct pk_addr *dst, uint16_t dport, uint16_t sport,
                    uint32_t salt);

/* Sends every queued probe (raw_send_* queue them). */
void raw_flush(struct raw_net *r);
/* rawnet_send.c: queues one packet for fd (in queue `slot`); sends the
 * queue when full. 0 or a negative errno. */
int raw_queue(struct raw_net *r, int slot, int fd, const void *to, socklen_t tolen, const void *pkt, size_t len);
/* Sends what is queued, stops the sender thread and frees the queues. */
void raw_send_stop(struct raw_net *r);

/* 0, or a negative errno (-EHOSTUNREACH, -ENOBUFS, ...) for errors known at
 * once; errors of queued probes are only counted (send_errors). */
int raw_send_tcp(struct raw_net *r, const struct pk_addr *dst, uint16_t sport, uint16_t dport,
                 uint8_t flags, uint32_t seq, uint32_t ack);
/* ICMP echo (timestamp false) or timestamp request; IPv6 has echo only. */
int raw_send_icmp(struct raw_net *r, const struct pk_addr *dst, bool timestamp, uint16_t id, uint16_t seq,
                  uint64_t stamp);

/* rawnet_frame.c: readies rx to send frames (r->frames); whether dst's
 * /24 can take frames, filled into rt. */
void raw_frame_open(struct raw_net *r);
void raw_frame_route(struct raw_net *r, const uint8_t dst[4], struct raw_route *rt);
void raw_frame_close(struct raw_net *r);
/* A host on an attached /24 (rt->direct): its hardware address, from an
 * ARP reply seen or the kernel's neighbour table; NULL while unknown (the
 * probe then goes through the raw socket, whose kernel resolves it). */
const uint8_t *raw_neigh_mac(struct raw_net *r, const struct raw_route *rt, const uint8_t dst[4]);
/* An ARP reply's sender, remembered for raw_neigh_mac. */
void raw_neigh_learn(struct raw_net *r, const uint8_t ip[4], const uint8_t mac[6]);

/* rawnet_link.c: reads the attached networks into r->links. */
void raw_load_links(struct raw_net *r);
/* The attached network a is on (index into links), or -1. */
int raw_link_of(const struct raw_net *r, const struct pk_addr *a);
/* ARP request (IPv4) or neighbour solicitation (IPv6) for a on its link. */
int raw_send_neighbour(struct raw_net *r, int link, const struct pk_addr *a);

/* Parses one packet that starts at its IP header; false when it is not
 * one of the kinds above (or is malformed). Used by raw_receive and the
 * fuzzer. */
bool raw_parse(const uint8_t *p, size_t len, struct raw_pkt *out);

typedef void raw_reply_fn(void *arg, const struct raw_pkt *pkt);
/* Reads up to max queued packets without blocking; returns how many were
 * read (parsed or not). */
unsigned raw_receive(struct raw_net *r, raw_reply_fn *fn, void *arg, unsigned max);

#endif
