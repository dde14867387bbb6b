/* This host's TCP and UDP sockets: what ss, netstat and lsof show. The
 * kernel is asked through netlink sock_diag (as ss does) or, when that is
 * unavailable, through /proc/net/{tcp,tcp6,udp,udp6}; sockets are tied to
 * the processes holding them by inode through /proc/PID/fd (procmap.h). */
#ifndef PORTKIT_SOCKETS_H
#define PORTKIT_SOCKETS_H

#include "portkit/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portkit/buf.h"
#include "portkit/addr.h"
#include "portkit/error.h"
#include "portkit/hostinfo.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pk_registry;

/* The kernel's own TCP state numbers (include/net/tcp_states.h), so masks
 * go to sock_diag unchanged. UDP uses ESTABLISHED (connected) and CLOSE
 * (bound, not connected: shown as UNCONN). */
enum pk_sock_state {
    PK_SS_UNKNOWN = 0,
    PK_SS_ESTABLISHED = 1,
    PK_SS_SYN_SENT,
    PK_SS_SYN_RECV,
    PK_SS_FIN_WAIT1,
    PK_SS_FIN_WAIT2,
    PK_SS_TIME_WAIT,
    PK_SS_CLOSE,
    PK_SS_CLOSE_WAIT,
    PK_SS_LAST_ACK,
    PK_SS_LISTEN,
    PK_SS_CLOSING,
    PK_SS_NEW_SYN_RECV,
    PK_SS_BOUND,      /* TCP bound but neither listening nor connected (Linux >= 6.8) */
    PK_SS_COUNT
};
#define PK_SS_MASK(s) (1u << (s))
#define PK_SS_ALL (((1u << PK_SS_COUNT) - 1) & ~1u)
/* What `ls` shows by default: TCP listeners and bound, unconnected UDP. */
#define PK_SS_LISTENING (PK_SS_MASK(PK_SS_LISTEN) | PK_SS_MASK(PK_SS_CLOSE))

/* "LISTEN", "ESTABLISHED", "TIME-WAIT", ...; CLOSE reads "UNCONN" for UDP.
 * Never NULL. */
PK_EXPORT const char *pk_sock_state_name(enum pk_proto proto, enum pk_sock_state s);
/* Adds the states a name stands for to *mask: any name above (case and -/_
 * insensitive), ss's short forms (estab, syn-recv), and the groups
 * "listening" (LISTEN + UNCONN), "connected" (every state with a peer) and
 * "all". Returns 0 or PK_EINVAL. */
PK_EXPORT int pk_sock_state_parse(const char *name, unsigned *mask, struct pk_err *err);

/* One socket. Addresses are in network byte order; IPv4 uses the first 4
 * bytes. Strings belong to the list the record came from. */
struct pk_sock {
    enum pk_proto proto;       /* PK_TCP or PK_UDP */
    int family;                /* AF_INET or AF_INET6 */
    enum pk_sock_state state;
    uint16_t local_port, remote_port;
    unsigned char local[16], remote[16];
    uint32_t ifindex;          /* device the socket is bound to, 0 = any (netlink only) */
    uint32_t uid;              /* owner of the socket */
    uint64_t inode;            /* 0: no owner any more (TIME-WAIT, half-open) */
    bool v6only_known;         /* IPv6 listeners (netlink only): whether ... */
    bool v6only;               /* ... IPV6_V6ONLY keeps IPv4 out */
    /* Filled when processes were mapped (pk_sock_query.processes): */
    int pid;                   /* lowest pid holding the socket; -1 unknown */
    unsigned nholders;         /* processes holding it (forks share sockets) */
    const char *process;       /* that pid's name (comm), NULL if unknown */
    const char *user;          /* name of uid (or the number), NULL when inode is 0 */
};

struct pk_socklist;

/* A source of socket records (netlink, /proc/net). Contract: list() appends
 * to out every socket of the transports in protos (PK_PROTO_MASK bits) whose
 * state is in states (PK_SS_MASK bits), in the caller's network namespace,
 * and returns 0. It returns PK_EUNSUPP when the source does not exist here
 * (the next source is then tried), another negative code on failure. It
 * fills neither pid, process nor user. */
struct pk_sock_source {
    const char *name;
    int (*list)(unsigned protos, unsigned states, const char *proc_root, struct pk_socklist *out,
                struct pk_err *err);
};
PK_EXPORT extern const struct pk_sock_source pk_sock_source_netlink;
PK_EXPORT extern const struct pk_sock_source pk_sock_source_proc;

enum { PK_MATCH_LOCAL = 1u << 0, PK_MATCH_REMOTE = 1u << 1 };
#define PK_PORTSET_WORDS (65536 / 64)
enum { PK_FAMILY_V4 = 1u << 0, PK_FAMILY_V6 = 1u << 1 };

struct pk_sock_query {
    unsigned protos;          /* PK_PROTO_MASK(PK_TCP) and/or (PK_UDP); 0 = both */
    unsigned families;        /* PK_FAMILY_* bits; 0 = both */
    unsigned states;          /* PK_SS_MASK bits; 0 = every state */
    bool processes;           /* map sockets to processes (scans /proc/PID/fd) */
    bool has_port;
    unsigned port;            /* with has_port: only sockets using this port ... */
    unsigned port_match;      /* ... as PK_MATCH_LOCAL and/or PK_MATCH_REMOTE port (0 = local) */
    /* Port sets (PK_PORTSET_WORDS words, bit p = port p), NULL = no filter;
     * every set given must match: either_ports the local or the remote
     * port, local_ports the local one, remote_ports a connected socket's
     * remote one. */
    const uint64_t *either_ports, *local_ports, *remote_ports;
    int pid;                  /* > 0: only sockets this process holds (implies processes) */
    const char *process;      /* only sockets held by a process of this name (implies processes) */
    /* Sources tried in order until one answers; NULL = netlink, then /proc. */
    const struct pk_sock_source *const *sources;
    size_t nsources;
    const char *proc_root;    /* NULL = "/proc"; tests point it elsewhere */
};

/* Lists sockets. With processes, /proc/PID/fd is scanned on a second thread
 * while the kernel is asked for sockets, then both threads share what is
 * left. Processes that vanish meanwhile or whose fds we may not read are
 * skipped quietly: their sockets keep pid -1. */
PK_EXPORT int pk_sockets_list(const struct pk_sock_query *q, struct pk_socklist **out, struct pk_err *err);

PK_EXPORT struct pk_socklist *pk_socklist_new(void);
PK_EXPORT void pk_socklist_free(struct pk_socklist *l);
PK_EXPORT size_t pk_socklist_count(const struct pk_socklist *l);
PK_EXPORT const struct pk_sock *pk_socklist_get(const struct pk_socklist *l, size_t i);
/* Copies s in (sources use this); returns 0 or PK_ENOMEM. */
PK_EXPORT int pk_socklist_add(struct pk_socklist *l, const struct pk_sock *s);
/* Which source answered ("netlink", "proc"), NULL before pk_sockets_list. */
PK_EXPORT const char *pk_socklist_source(const struct pk_socklist *l);
/* Every pid holding s (sorted); writes up to max, returns how many there are. */
PK_EXPORT size_t pk_socklist_holders(const struct pk_socklist *l, const struct pk_sock *s, int *pids,
                           size_t max);
/* True when some processes' fds could not be read (not root): sockets of
 * those processes show pid -1. */
PK_EXPORT bool pk_socklist_partial(const struct pk_socklist *l);
/* Orders by transport, then listeners first, then local port, address,
 * remote address and port: stable output for people and scripts. */
PK_EXPORT void pk_socklist_sort(struct pk_socklist *l);

/* --- what a socket means -------------------------------------------------- */

enum pk_sock_flag {
    PK_SF_EXPOSED = 1u << 0,    /* listening on a wildcard or non-loopback address */
    PK_SF_RISK = 1u << 1,       /* its service port has a trojan/backdoor note (not
                                 * counting well-known ports of everyday services, whose
                                 * trojan notes are about malware hiding behind them) */
    PK_SF_PRIVILEGED = 1u << 2, /* local port below the host's unprivileged port start */
    PK_SF_EPHEMERAL = 1u << 3,  /* local port inside the host's ephemeral range */
};
#define PK_SF_COUNT 4
PK_EXPORT const char *pk_sock_flag_name(unsigned flag_bit); /* "EXPOSED", ... */

/* Listening TCP or bound, unconnected UDP. */
PK_EXPORT bool pk_sock_is_listening(const struct pk_sock *s);
PK_EXPORT bool pk_sock_is_connected(const struct pk_sock *s); /* has a remote end */
PK_EXPORT bool pk_sock_is_loopback(const struct pk_sock *s);  /* local address (or device) is loopback */
PK_EXPORT bool pk_sock_is_wildcard(const struct pk_sock *s);

/* The port that names the service a socket talks: the local port, except
 * for a client (connected, local port ephemeral, remote port not), where it
 * is the remote one. */
PK_EXPORT unsigned pk_sock_service_port(const struct pk_sock *s, const struct pk_hostinfo *host);

struct pk_sock_notes {
    const char *service;   /* registry name of the service port, NULL if none */
    enum pk_range range;   /* class of the local port */
    unsigned flags;        /* PK_SF_* */
};
/* reg may be NULL (no names, no RISK). */
PK_EXPORT void pk_sock_annotate(const struct pk_registry *reg, const struct pk_hostinfo *host,
                      const struct pk_sock *s, struct pk_sock_notes *out);

/* --- text ----------------------------------------------------------------- */

#define PK_ADDR_MAX 46       /* INET6_ADDRSTRLEN */
#define PK_ENDPOINT_MAX 80   /* "[addr%ifname]:port" */
/* "127.0.0.1", "::1". Returns buf. */
PK_EXPORT char *pk_sock_addr_str(int family, const unsigned char *addr, char *buf, size_t size);
/* "127.0.0.1:80", "[::1]:80", "0.0.0.0%lo:80"; ifname may be NULL. */
PK_EXPORT char *pk_sock_endpoint_str(int family, const unsigned char *addr, unsigned port,
                           const char *ifname, char *buf, size_t size);

/* Appends one JSON object (no newline) with the keys documented in
 * portkit(1): proto, family, local_addr, local_port, remote_addr,
 * remote_port, state, pid, pids, process, user, uid, inode, interface,
 * service, range, flags. ifname may be NULL. */
PK_EXPORT void pk_sock_json(const struct pk_sock *s, const struct pk_sock_notes *n, const int *pids,
                  size_t npids, const char *ifname, struct pk_buf *out);

/* --- /proc/net parsing (exposed for tests and fuzzing) --------------------- */

/* Parses the text of /proc/net/{tcp,tcp6,udp,udp6} and appends the rows
 * whose state is in states (0 = all) to out. The family comes from the
 * width of each address. Malformed lines are skipped and counted in *bad
 * (may be NULL). Returns 0 or PK_ENOMEM. */
PK_EXPORT int pk_procnet_parse(const char *text, size_t len, enum pk_proto proto, unsigned states,
                     struct pk_socklist *out, size_t *bad);

#ifdef __cplusplus
}
#endif
#endif
