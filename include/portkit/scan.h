/* The port scanner: which ports of which hosts are open, closed or
 * filtered, as nmap defines those states, and what answers there.
 *
 * A scan walks a keyed pseudo-random permutation of every (host, port) pair
 * (permute.h), optionally one shard of it, and probes each pair with a probe
 * module (TCP connect, UDP). A scheduler keeps thousands of probes in
 * flight within the open-file limit, an optional rate and a per-host share;
 * timeouts follow each host's measured round-trip time, and unanswered
 * probes are retried as often as the host's measured loss requires (loss
 * never slows the scan down). Results stream to a callback as they are
 * decided; each host's report (output.h) goes to another once the host is
 * finished, or is kept for pk_scan_host_report. */
#ifndef PORTKIT_SCAN_H
#define PORTKIT_SCAN_H

#include "portkit/export.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portkit/addr.h"
#include "portkit/error.h"
#include "portkit/permute.h"
#include "portkit/portspec.h"
#include "portkit/target.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pk_registry;

enum pk_port_state {
    PK_STATE_UNKNOWN = 0,    /* not decided (the scan was stopped first) */
    PK_STATE_OPEN,
    PK_STATE_CLOSED,
    PK_STATE_FILTERED,
    PK_STATE_OPEN_FILTERED,  /* UDP: no answer at all */
    PK_STATE_COUNT
};
PK_EXPORT const char *pk_state_name(enum pk_port_state s); /* "open", "closed", "filtered", "open|filtered" */

/* Why a port got its state, with nmap's names for the same reasons. */
enum pk_reason {
    PK_REASON_NONE = 0,
    PK_REASON_SYN_ACK,          /* "syn-ack": the connect succeeded */
    PK_REASON_CONN_REFUSED,     /* "conn-refused": RST to the connect */
    PK_REASON_NO_RESPONSE,      /* "no-response": nothing after every retry */
    PK_REASON_UDP_RESPONSE,     /* "udp-response" */
    PK_REASON_PORT_UNREACH,     /* "port-unreach": ICMP type 3 code 3 */
    PK_REASON_HOST_UNREACH,     /* "host-unreach": ICMP 3/1, or no route/neighbour */
    PK_REASON_NET_UNREACH,      /* "net-unreach": ICMP 3/0 */
    PK_REASON_PROTO_UNREACH,    /* "proto-unreach": ICMP 3/2 */
    PK_REASON_NET_PROHIBITED,   /* "net-prohibited": ICMP 3/9 */
    PK_REASON_HOST_PROHIBITED,  /* "host-prohibited": ICMP 3/10 */
    PK_REASON_ADMIN_PROHIBITED, /* "admin-prohibited": ICMP 3/13 (a firewall's reject) */
    PK_REASON_TIME_EXCEEDED,    /* "time-exceeded" */
    PK_REASON_PERM_DENIED,      /* "perm-denied": this host's own firewall refused to send */
    PK_REASON_RESET,            /* "reset": a RST to a SYN (-sS closed) or to an ACK ping */
    PK_REASON_ECHO_REPLY,       /* "echo-reply": host discovery, ICMP echo */
    PK_REASON_TIMESTAMP_REPLY,  /* "timestamp-reply": host discovery, ICMP timestamp */
    PK_REASON_ARP_RESPONSE,     /* "arp-response": host discovery on an attached IPv4 network */
    PK_REASON_ND_RESPONSE,      /* "nd-response": host discovery on an attached IPv6 network */
    PK_REASON_LOCALHOST,        /* "localhost-response": this machine's own address */
    PK_REASON_USER_SET,         /* "user-set": -Pn, taken as up without asking */
    PK_REASON_COUNT
};
PK_EXPORT const char *pk_reason_name(enum pk_reason r);

/* One decided (host, port). Strings live until the callback returns (for
 * pk_scan_host_report: until pk_host_report_free). */
struct pk_scan_result {
    uint64_t host;               /* index into the targets */
    const struct pk_addr *addr;
    const char *hostname;        /* the name the user gave, or NULL */
    uint16_t port;
    enum pk_proto proto;
    enum pk_port_state state;
    enum pk_reason reason;
    uint32_t rtt_us;             /* 0: no answer */
    uint8_t tries;               /* probes sent */
    const char *service;         /* identified (-sV) or the registry's name; NULL if none */
    bool service_probed;         /* service came from talking to the port, not the registry */
    const char *product, *version, *extra; /* -sV details, "" when unknown */
    const char *banner;          /* sanitised first line the service sent, or "" */
    const char *ssl_cert;        /* -sV over TLS: the certificate as nmap's ssl-cert output
                                    (pk_cert_format), or NULL */
    bool ssl_tunnel;             /* -sV: the port spoke TLS from its first byte (nmap's
                                    tunnel="ssl"); false after STARTTLS, whose service is
                                    the plaintext one */
};

typedef void pk_scan_result_fn(void *arg, const struct pk_scan_result *r);
struct pk_host_report;
typedef void pk_scan_host_fn(void *arg, const struct pk_host_report *r);

/* How ports are probed. */
enum pk_scan_method {
    PK_SCAN_CONNECT = 0,  /* -sT: connect(); no privilege needed */
    PK_SCAN_SYN,          /* -sS: crafted SYNs through raw sockets (CAP_NET_RAW) */
};

/* Host discovery: which hosts answer at all, before their ports are
 * probed. Probes as nmap's -PE/-PP/-PS/-PA/-PU/-PR. Without raw sockets
 * only TCP connects to syn_ports (and ack_ports) are possible: a RST or a
 * completed connect both mean "up". */
#define PK_PING_MAX_PORTS 16
struct pk_ping_config {
    bool enabled;                  /* false: every host is taken as up (-Pn) */
    bool icmp_echo, icmp_timestamp;
    bool neighbour;                /* ARP / Neighbor Discovery on attached networks */
    uint16_t syn_ports[PK_PING_MAX_PORTS], ack_ports[PK_PING_MAX_PORTS], udp_ports[PK_PING_MAX_PORTS];
    uint8_t nsyn, nack, nudp;
};

/* nmap's default set: ICMP echo, TCP SYN to 443, TCP ACK to 80, ICMP
 * timestamp, and ARP/ND on attached networks. */
PK_EXPORT void pk_ping_config_default(struct pk_ping_config *p);

enum pk_host_status {
    PK_HOST_UNKNOWN = 0,   /* not reached (the scan was stopped first) */
    PK_HOST_UP,
    PK_HOST_DOWN,          /* no answer to any discovery probe */
};
PK_EXPORT const char *pk_host_status_name(enum pk_host_status s); /* "unknown", "up", "down" */

/* Whether this process may open raw sockets (root or CAP_NET_RAW): what a
 * SYN scan and raw discovery need. */
PK_EXPORT bool pk_scan_raw_available(void);

struct pk_scan_config {
    const struct pk_targets *targets;   /* finished */
    const struct pk_ports *ports;       /* TCP ports are scanned when tcp, UDP ports when udp */
    const struct pk_registry *reg;      /* service names for results; NULL: none */
    bool tcp, udp;
    uint64_t seed;                      /* the permutation key */
    struct pk_shard shard;              /* {0, 0} or {1, 1}: the whole scan */
    double rate;                        /* probes per second; 0: unlimited */
    unsigned max_inflight;              /* sockets in flight; 0: what the open-file limit allows */
    unsigned max_host_inflight;         /* per host; 0: a fair share of max_inflight */
    unsigned max_retries;               /* cap; fewer are sent when the link loses nothing */
    unsigned min_rtt_timeout_ms;
    unsigned max_rtt_timeout_ms;
    unsigned initial_rtt_timeout_ms;    /* how long a host that answered nothing gets */
    bool service_detect;                /* -sV: talk to open TCP ports and name the service */
    unsigned service_timeout_ms;        /* the most one port's identification may take */
    pk_scan_result_fn *on_result;       /* every decided port, as soon as it is decided */
    pk_scan_host_fn *on_host;           /* every host of the target set, in target order, once
                                           nothing more will be learnt about it (pk_scan_run's
                                           last act for the rest); its state is freed after the
                                           call, so memory follows the probes in flight, not the
                                           target set, and pk_scan_host_report tells nothing more
                                           of it. NULL: every host is kept for pk_scan_host_report */
    void *arg;
    void (*on_tick)(void *arg);         /* about every 100 ms (progress bars, stop checks) */
    enum pk_scan_method method;         /* TCP ports: connect (default) or SYN */
    struct pk_ping_config ping;         /* host discovery (off unless ping.enabled) */
    bool ping_only;                     /* -sn: discovery only, no port probes */
    bool raw;                           /* discovery may use raw sockets (CAP_NET_RAW) */
    unsigned host_timeout_ms;           /* nmap's --host-timeout: a host still undecided this long
                                           after its first port probe is given up (its probes
                                           dropped, its ports not reported); 0: no limit */
};

struct pk_scan_stats {
    uint64_t hosts;              /* hosts in the target set */
    uint64_t total;              /* (host, port) pairs in this shard */
    uint64_t done;               /* decided */
    uint64_t probes;             /* connects and datagrams sent */
    uint64_t states[PK_STATE_COUNT];
    uint64_t hosts_answered;     /* hosts that answered at least one probe */
    uint64_t self_connects;      /* loopback connects that met themselves, probed again */
    uint64_t start_wall_us;      /* wall clock (for reports) */
    uint64_t elapsed_us;
    unsigned inflight;           /* right now */
    unsigned max_inflight;       /* the limit in force */
    bool interrupted;            /* pk_scan_stop was called */
    uint64_t hosts_up, hosts_down; /* host discovery (-Pn: every probed host is up) */
    uint64_t ping_probes;        /* discovery packets and connects sent */
    uint64_t hosts_pinged;       /* hosts whose discovery was started */
    uint64_t last_send_us;       /* when the last probe left, from the start: with probes and
                                    ping_probes, the rate actually sent */
    uint64_t hosts_timed_out;    /* given up by host_timeout_ms; their ports are not in done
                                    or states */
};

/* Fills cfg with the defaults: whole scan, no rate limit, in-flight sized
 * to the open-file limit, max_retries 10, RTT timeouts 50 ms to 1 s, 1 s for
 * hosts that answered nothing, 5 s per service identification. */
PK_EXPORT void pk_scan_config_init(struct pk_scan_config *cfg);

struct pk_scan;

/* Checks the configuration and raises RLIMIT_NOFILE's soft limit to the
 * hard limit; nothing is sent yet. A SYN scan or raw discovery opens its
 * raw sockets here, so the caller may give up its privileges (setuid,
 * capabilities) between pk_scan_new and pk_scan_run: no reply from the
 * network is parsed before pk_scan_run. */
PK_EXPORT int pk_scan_new(const struct pk_scan_config *cfg, struct pk_scan **out, struct pk_err *err);
PK_EXPORT void pk_scan_free(struct pk_scan *s);
/* Runs the scan to the end, or until pk_scan_stop. Returns 0 (also when
 * stopped) or a negative PK_E* code for a system failure. */
PK_EXPORT int pk_scan_run(struct pk_scan *s, struct pk_err *err);
/* Async-signal-safe: a SIGINT handler may call it. Probes in flight are
 * abandoned; what was decided stays decided. */
PK_EXPORT void pk_scan_stop(struct pk_scan *s);
PK_EXPORT void pk_scan_get_stats(const struct pk_scan *s, struct pk_scan_stats *out);

/* Everything decided about one host, for the per-host outputs. */
struct pk_host_report {
    uint64_t index;
    struct pk_addr addr;
    const char *hostname;
    bool answered;                 /* any probe got any answer */
    enum pk_host_status status;    /* up, down (discovery found nothing), unknown */
    enum pk_reason status_reason;  /* what showed it up (echo-reply, syn-ack, ...) or no-response */
    uint32_t srtt_us, rttvar_us;   /* 0 when nothing answered */
    uint64_t start_wall_us, end_wall_us;
    uint64_t counts[2][PK_STATE_COUNT]; /* [0] tcp, [1] udp */
    struct pk_scan_result *ports;  /* every decided port, TCP then UDP, by port */
    size_t nports;
    bool timed_out;                /* given up by host_timeout_ms: no ports, no counts */
};

PK_EXPORT int pk_scan_host_report(const struct pk_scan *s, uint64_t host, struct pk_host_report *out,
                        struct pk_err *err);
PK_EXPORT void pk_host_report_free(struct pk_host_report *r);

#ifdef __cplusplus
}
#endif
#endif
