/* What the forwarder's parts share: listeners (forward.c), the TCP relay
 * (forward_tcp.c) and UDP sessions (forward_udp.c). */
#ifndef PORTKIT_FORWARD_IMPL_H
#define PORTKIT_FORWARD_IMPL_H

#include <netinet/in.h>

#include "portkit/forward.h"

/* Big enough for any IP socket address, a fifth of sockaddr_storage: it
 * lives in every connection and session. */
union fw_sa {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
};

struct fw_listener {
    struct pk_fw *fw;
    struct fw_listener *next; /* fw->listeners, while open */
    int fd;                   /* -1 once closed */
    /* One reference for the open socket, one per connection or session
     * still running: a listener removed by a reload stays in memory until
     * the last of them ends. */
    unsigned refs;
    struct pk_fw_rule rule;   /* owns rule.acl */
    union fw_sa bound;        /* what the kernel bound (port 0 resolved) */
    size_t active;            /* connections or sessions now */
    bool pktinfo;             /* UDP on a wildcard address: replies name their source */
    /* A host-name target (rule.target.host): the timer for its next lookup,
     * whether one is under way, when the last was asked for. */
    struct pk_timer resolve_timer;
    bool resolving;
    uint64_t resolve_asked_us;
    /* UDP: a denied client sending a stream of datagrams is logged once. */
    union fw_sa last_denied;
    uint64_t last_denied_us;
};

struct fw_tcp;
struct fw_udp;
struct fw_resolver;

#define FW_SCRATCH_SIZE 65536

struct pk_fw {
    struct pk_loop *loop;
    struct pk_fw_options opts;
    struct pk_acl *acl;       /* global allow/deny */
    struct fw_listener *listeners;
    struct fw_tcp *tcp;
    struct fw_udp *udp;
    struct fw_resolver *resolver; /* host-name targets; NULL until one is needed */
    /* Connections (TCP) and sessions (UDP) now: the relays' counters, read
     * through pointers forward.c sets so the services file names no relay. */
    size_t (*live_count[2])(const struct pk_fw *fw);
    bool draining, drained;
    struct pk_timer drain_timer;
    struct pk_timer accept_timer; /* resumes accepting after EMFILE */
    bool accept_paused;
    uint64_t fd_warned_us;
    size_t budget;             /* descriptor units: TCP connection 2, UDP session 1 */
    uint64_t limit_warned_us;  /* the budget-reached line, once per quiet period */
    uint64_t accepted, denied, limited;
    /* Bytes in flight for the read/write path and for UDP datagrams; never
     * held across loop iterations. */
    unsigned char scratch[FW_SCRATCH_SIZE];
};

/* forward_svc.c */
void fw_log(struct pk_fw *fw, const struct pk_fw_event *ev);
void fw_warn(struct pk_fw *fw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The allow/deny lists, max-conns and the descriptor budget for a new
 * client; logs a refusal. */
bool fw_admit(struct pk_fw *fw, struct fw_listener *l, const struct sockaddr *client);
/* Logs PK_FW_EV_OPEN for a client just admitted. */
void fw_log_open(struct pk_fw *fw, struct fw_listener *l, const struct sockaddr *client);
/* Sizes a UDP socket's buffers (opts.udp_buffer). */
void fw_udp_buffers(struct pk_fw *fw, int fd);
/* Binds fd to the rule's src= address, if any; 0 or -1 with errno. */
int fw_bind_source(const struct fw_listener *l, int fd);
void fw_listener_put(struct fw_listener *l);
/* A connection or session ended: finishes a drain when it was the last. */
void fw_active_changed(struct pk_fw *fw);
/* The drain is over: stop its timers and tell the owner. Idempotent. */
void fw_finish_drain(struct pk_fw *fw);
uint64_t fw_unix_us(void);
socklen_t fw_sa_len(const union fw_sa *a);

/* forward_tcp.c */
int fw_tcp_new(struct pk_fw *fw, struct pk_err *err);
void fw_tcp_free(struct pk_fw *fw);
void fw_tcp_on_accept(struct pk_loop *loop, int fd, unsigned events, void *arg);
/* Ends every connection (logging them with reason unless reason is NULL). */
void fw_tcp_close_all(struct pk_fw *fw, const char *reason);
size_t fw_tcp_count(const struct pk_fw *fw);
void fw_tcp_pipe_stats(const struct pk_fw *fw, size_t *busy, size_t *idle);
/* accept() ran out of file descriptors: stop accepting for a moment. */
void fw_pause_accepting(struct pk_fw *fw);

/* forward_udp.c */
int fw_udp_new(struct pk_fw *fw, struct pk_err *err);
void fw_udp_free(struct pk_fw *fw);
void fw_udp_on_datagram(struct pk_loop *loop, int fd, unsigned events, void *arg);
/* Ends the sessions of one listener (all when l is NULL). */
void fw_udp_close_sessions(struct pk_fw *fw, struct fw_listener *l, const char *reason);
size_t fw_udp_count(const struct pk_fw *fw);

/* forward_resolve.c: host-name targets looked up again on a worker thread. */
/* Starts following l's target name (a no-op for a numeric target): a lookup
 * now, then whenever the DNS TTL runs out. */
void fw_resolve_watch(struct pk_fw *fw, struct fw_listener *l);
/* A connect to l's target failed: look the name up again now (at most once
 * a second). */
void fw_resolve_failed(struct pk_fw *fw, struct fw_listener *l);
/* l is closing: no more lookups for it. */
void fw_resolve_forget(struct pk_fw *fw, struct fw_listener *l);
/* Stops the worker; listeners it still held are released. */
void fw_resolve_free(struct pk_fw *fw);

#endif
