/* The scan engine's insides, shared by lib/scan*.c:
 *   scan.c          public API, the run loop, result storage and reports
 *   scan_sched.c    jobs, per-host queues, capacity, rate, retries
 *   scan_timing.c   round-trip time, timeouts, loss and how many tries
 *   scan_tcp.c      the TCP connect probe module
 *   scan_udp.c      the UDP probe module and its ICMP pacing
 *   scan_service.c  the service-identification stage (-sV)
 *   scan_discovery.c host discovery (-P*, -sn) and its connect module
 *   scan_ping_raw.c  the raw discovery module (ICMP, TCP SYN/ACK pings)
 *   scan_syn.c      the SYN probe module (-sS) and the raw reply dispatch
 *   rawnet.c        raw packets: crafting, sending, receiving, SipHash
 */
#ifndef PORTKIT_SCAN_IMPL_H
#define PORTKIT_SCAN_IMPL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "portkit/loop.h"
#include "portkit/scan.h"

#define SCAN_MAX_ATTEMPTS 2   /* live probes per job: the newest and the one before */
#define SCAN_AGAIN 2          /* probe module: could not send now, try later */
#define SCAN_DEFER_MAX (1u << 20) /* pairs parked in host queues before pulling pauses */
#define SCAN_FILL_BATCH 256   /* new probes per loop turn: keeps the socket working set hot */

struct scan_job;
struct scan_host;

/* One probe socket. TCP sockets are reused: after a refused connect the
 * same socket connects again, which saves the socket()/close() pair that
 * otherwise costs about a third of a probe. Objects are never freed before
 * the scan ends, so a stale epoll event can always be dereferenced. */
struct scan_sock {
    int fd;                 /* -1: no descriptor (object on the dead list) */
    bool busy;              /* io_uring: a connect is queued or in flight */
    uint8_t family;         /* AF_INET / AF_INET6 */
    uint8_t proto;          /* PK_TCP / PK_UDP */
    uint8_t tryno;          /* which try of its job this is (1-based) */
    struct scan_job *job;   /* NULL: idle */
    uint64_t sent_us;
    struct scan_sock *next; /* pool link */
    struct sockaddr_in6 sa; /* io_uring: the address of the connect being submitted (v4 or v6);
                             * not a sockaddr_storage: every raw probe in flight has one */
};

enum scan_phase { JOB_PROBING, JOB_IDENTIFYING };

/* One (host, port) being decided. */
struct scan_job {
    struct scan_host *host;
    uint32_t slot;          /* index into the scan's port slots */
    uint16_t port;
    uint8_t proto;
    uint8_t tries;          /* probes sent */
    uint8_t phase;
    uint8_t silent;         /* UDP: probes that met silence while the host had ICMP to spare */
    bool claim;             /* UDP: this job's probe holds one of the host's ICMP tokens */
    bool queued;            /* on the retry queue */
    struct scan_sock *att[SCAN_MAX_ATTEMPTS]; /* live probes, oldest first */
    uint64_t first_us, last_us;
    struct pk_timer timer;
    struct scan_job *next, *prev; /* free list / retry queue */
    void *svc;              /* service-identification session */
    struct scan_job *syn_next; /* SYN scan: chain in the in-flight table */
    char *cert;             /* -sV: the ssl-cert text, handed to the results */
    bool in_table;
    /* the decision, kept while the service stage runs */
    uint8_t state, reason;
    uint32_t rtt_us;
};

struct slot_queue { /* FIFO of port slots (ring buffer) */
    uint32_t *v;
    size_t head, len, cap;
};

struct scan_timing {
    double srtt_us, rttvar_us;
    uint32_t samples;
    uint64_t tries;         /* probes behind answered jobs */
    uint64_t lost;          /* of which went unanswered */
};

/* What a Linux host allows: ICMP errors from a token bucket per peer (one
 * a second, a burst of six, by default). The pacer models the bucket from
 * what the host answers so that silence can be trusted. */
struct udp_pacer {
    double tokens;          /* modelled tokens the host has now */
    double rate;            /* tokens per second (0: not started) */
    double burst;
    uint64_t updated_us;
    unsigned claims;        /* believed probes in flight, each holding a token */
    unsigned inflight;      /* UDP probe sockets in flight */
    bool limited;           /* the host was seen to ration its ICMPs */
    uint32_t icmp_seen;
    uint64_t last_icmp_us;
    unsigned mistakes;      /* believed silences later contradicted */
    struct scan_job *wait_head, *wait_tail; /* jobs waiting for a token */
};

/* Result storage: one nibble of state per port slot, plus details for the
 * ports worth describing (open ones, unusual reasons). */
struct scan_detail {
    uint32_t slot;
    uint8_t state, reason, tries;
    uint32_t rtt_us;
    char *service, *product, *version, *extra, *banner; /* -sV; NULL when none */
    char *cert;             /* ssl-cert text; NULL when none */
};

struct scan_host {
    struct pk_scan *scan;
    uint64_t index;
    struct pk_addr addr;
    struct sockaddr_storage sa; /* port 0; each probe copies and sets its port */
    socklen_t salen;
    const char *hostname;
    struct scan_timing tm;
    unsigned inflight;      /* sockets in flight */
    unsigned jobs;
    struct slot_queue deferred[2]; /* [0] tcp, [1] udp */
    bool active;            /* counted in pk_scan.active_hosts */
    bool ready;             /* on the ready list */
    struct scan_host *ready_next;
    struct udp_pacer udp;
    struct pk_timer udp_timer; /* wakes the host when its pacer allows a probe */
    uint8_t *states;        /* nibble per slot, allocated on the first result */
    struct scan_detail *details;
    size_t ndetails, details_cap;
    uint64_t counts[2][PK_STATE_COUNT];
    bool answered;
    uint64_t first_wall_us, last_wall_us;
    /* Host discovery found it up: its port slots are walked from `fresh`
     * through the scan's slot permutation (rotated by `rot`), so a host's
     * pending ports cost no memory. */
    bool fresh_on;
    uint32_t fresh, rot;
    uint8_t up_reason;
    /* --host-timeout: armed at the host's first port probe */
    struct pk_timer deadline;
    bool deadline_set, late, timed_out; /* late: the deadline passed */
};

/* A probe module learns the state of one (host, port) on one transport.
 * The scheduler owns jobs: it decides when a job starts, when a retry is
 * due and when to give up; the module owns sockets.
 *   start(s, j)   Sends one more probe for j (the scheduler has already
 *                 counted the capacity). Returns 0 when the probe is in
 *                 flight, 1 when j was decided at once (the module called
 *                 pks_decide), SCAN_AGAIN when the system cannot take a
 *                 probe right now (no descriptor or source port: try later).
 *   drop(s, j)    Forgets every live probe of j (j was decided or given up).
 *   timeout(s, j) j's timer fired: retry, wait, or give up (see
 *                 pks_retry_or_give_up for the common policy).
 *   can_start(s, h)  May host h take a new job now? NULL: always.
 *   recycle(s, j) Drops j's oldest live probe (descriptors ran out).
 *   event(s, k, ev)  epoll reported ev on one of the module's sockets.
 *   init/fini     Set up and tear down the module's own machinery; init
 *                 failing makes the scan fall back to another module.
 *   flush(s)      Called after every fill: a module that batches probes
 *                 sends them here and handles what came back.
 * Probes report back through pks_answer() from the module's own event
 * handling. */
struct scan_probe_module {
    const char *name;
    enum pk_proto proto;
    int (*start)(struct pk_scan *s, struct scan_job *j);
    void (*drop)(struct pk_scan *s, struct scan_job *j);
    void (*timeout)(struct pk_scan *s, struct scan_job *j);
    bool (*can_start)(struct pk_scan *s, struct scan_host *h);
    void (*recycle)(struct pk_scan *s, struct scan_job *j); /* drop j's oldest live probe */
    void (*event)(struct pk_scan *s, struct scan_sock *k, uint32_t events);
    int (*init)(struct pk_scan *s, struct pk_err *err); /* NULL: nothing to set up */
    void (*fini)(struct pk_scan *s);
    bool (*flush)(struct pk_scan *s); /* after each fill: push queued probes, reap answers;
                                         true when answers came (there may be room to fill) */
};

extern const struct scan_probe_module pks_tcp_module;       /* epoll */
extern const struct scan_probe_module pks_tcp_uring_module; /* io_uring, when built and allowed */
extern const struct scan_probe_module pks_udp_module;
extern const struct scan_probe_module pks_syn_module;       /* raw SYN (-sS) */

/* A host-discovery module tells whether hosts are up.
 *   init/fini   Set up / tear down (sockets); init failing fails the scan.
 *   send(s, w)  Sends every discovery probe of host w->host; returns how
 *               many went out (0: none could: the host is down at once),
 *               or DISC_AGAIN when no descriptor is free right now.
 *   forget(s, w) w's time is up or its host answered: drop its probes.
 *   cost(s)     descriptors one host's probes hold (0: none).
 * Answers come back through pks_host_up() from the module's own reading
 * (an epoll set, or the raw reply dispatch). */
struct disc_wait;
struct scan_disc_module {
    const char *name;
    int (*init)(struct pk_scan *s, struct pk_err *err);
    void (*fini)(struct pk_scan *s);
    int (*send)(struct pk_scan *s, struct disc_wait *w);
    void (*forget)(struct pk_scan *s, struct disc_wait *w);
    unsigned (*cost)(const struct pk_scan *s);
};
extern const struct scan_disc_module pks_disc_connect;
extern const struct scan_disc_module pks_disc_raw;

#define DISC_MAX_CONNECTS 4
#define DISC_AGAIN (-1)
struct disc_wait {
    uint64_t host;
    uint64_t seq;           /* position in the wait ring, for stale events */
    uint64_t sent_us;
    int fd[DISC_MAX_CONNECTS];
    uint8_t nfd, open;
};

/* A service-identification stage takes over a connected socket of an open
 * TCP port, talks to the service and calls pks_service_done() once it
 * knows (or gives up). */
struct scan_service_stage {
    int (*start)(struct pk_scan *s, struct scan_job *j, int fd);
    void (*abort)(struct pk_scan *s, struct scan_job *j);
};
extern const struct scan_service_stage pks_banner_stage;

/* j->svc points to one of two stages; each starts with its kind. */
enum { SVC_BANNER = 1, SVC_TLS = 2 };
/* scan_tls.c: identification inside TLS (starttls: 0, 'S' SMTP, 'I' IMAP,
 * 'P' POP3); base is what was known before. -1 when it cannot start. */
struct pk_service_id;
int pks_tls_start(struct pk_scan *s, struct scan_job *j, const struct pk_service_id *base, char starttls);
void pks_tls_abort(struct pk_scan *s, struct scan_job *j);
void pks_tls_ctx_free(struct pk_scan *s);

struct pk_scan {
    struct pk_scan_config cfg;
    struct pk_loop *loop;
    int epfd;                         /* probe sockets, edge-triggered */

    uint16_t *tcp_ports, *udp_ports;
    uint32_t ntcp, nudp, nslots;      /* slots: TCP ports, then UDP ports */

    uint64_t nhosts;
    struct scan_host **hosts;         /* created when first probed */

    struct pk_perm perm;
    struct pk_shard shard;
    uint64_t shard_size, cursor;

    unsigned max_inflight, inflight;  /* sockets attached to jobs or sessions */
    uint64_t active_hosts;
    uint64_t deferred_total;
    struct scan_host *ready_head, *ready_tail;
    struct scan_job *retry_head, *retry_tail;
    uint64_t jobs_live;

    struct scan_sock *idle[2];        /* idle TCP sockets: [0] IPv4, [1] IPv6 */
    struct scan_sock *dead;           /* objects without a descriptor */
    struct scan_job *free_jobs;
    void **chunks;                    /* every block of socks and jobs, for freeing */
    bool *chunk_is_jobs;
    size_t nchunks, chunks_cap;

    double tokens;                    /* --rate bucket */
    uint64_t tokens_us;
    uint64_t again_until_us;          /* SCAN_AGAIN: pause new probes until then */

    struct scan_timing global;
    uint64_t min_rto_us, max_rto_us, initial_rto_us;
    unsigned max_retries;

    struct pk_scan_stats st;
    uint64_t start_mono_us;
    volatile sig_atomic_t stop;
    bool failed;
    struct pk_err fail;
    struct pk_timer tick_timer;
    struct pk_timer wake_timer;       /* rate limiter / SCAN_AGAIN back-off */
    const struct scan_probe_module *mod[2];
    void *uring;                      /* the io_uring TCP module's state */
    const struct scan_service_stage *svc;

    /* host discovery (NULL: none) and raw sockets (NULL: none) */
    struct scan_disc *disc;
    const struct scan_disc_driver *discd;
    struct raw_net *raw;
    uint8_t *host_status;             /* 2 bits per host while discovery runs */
    uint64_t fresh_total;             /* port slots of up hosts not yet started */
    struct pk_perm slot_perm;
    struct scan_job **syn_table;      /* SYN scan: jobs in flight by (host, port) */
    struct ssl_ctx_st *ssl_ctx;       /* -sV inside TLS (OpenSSL's SSL_CTX), made when first needed */
    size_t syn_mask;
};

/* scan.c */
void pks_record(struct pk_scan *s, struct scan_job *j, const char *service, bool probed,
                 const char *product, const char *version, const char *extra, const char *banner);
void pks_fail(struct pk_scan *s, int code, const char *msg);

/* Wall-clock time for reports (monotonic time drives the scan itself). */
static inline uint64_t pks_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* scan_sched.c */
int pks_sched_init(struct pk_scan *s, struct pk_err *err);
void pks_sched_fini(struct pk_scan *s);
/* Starts probes; true when it stopped only because of its batch size. */
bool pks_fill(struct pk_scan *s);
bool pks_finished(const struct pk_scan *s);
/* Whether any probe is still to be sent (new pairs, parked ones, retries). */
bool pks_more_to_start(const struct pk_scan *s);
void pks_abandon_all(struct pk_scan *s);
struct scan_sock *pks_sock_alloc(struct pk_scan *s);
struct scan_sock *pks_sock_open(struct pk_scan *s, int family, enum pk_proto proto, int *err);
void pks_sock_free(struct pk_scan *s, struct scan_sock *k); /* closes fd if open */
/* A probe of j answered: timing sample, loss accounting, then the decision. */
void pks_answer(struct pk_scan *s, struct scan_job *j, const struct scan_sock *k, enum pk_port_state st,
                 enum pk_reason why);
/* Decides j (its probes are dropped) and releases it, or hands an open TCP
 * port to the service stage. */
void pks_decide(struct pk_scan *s, struct scan_job *j, enum pk_port_state st, enum pk_reason why,
                 uint32_t rtt_us);
/* The service stage finished with j. */
void pks_service_done(struct pk_scan *s, struct scan_job *j, const char *service,
                       const char *product, const char *version, const char *extra,
                       const char *banner);
/* Probe bookkeeping for modules: a probe socket joins / leaves a job. */
void pks_attach(struct pk_scan *s, struct scan_job *j, struct scan_sock *k);
void pks_detach(struct pk_scan *s, struct scan_job *j, struct scan_sock *k);
/* The common timer policy: another try while the host's loss calls for
 * one, else give up with `give_up` once the last try had its time. */
void pks_retry_or_give_up(struct pk_scan *s, struct scan_job *j, enum pk_port_state give_up);
/* Sends one more probe of j now if capacity allows, else queues it. */
void pks_send_retry(struct pk_scan *s, struct scan_job *j);
void pks_arm(struct pk_scan *s, struct scan_job *j, uint64_t delay_us);
/* Puts a host with parked work on the ready list (capacity came free). */
void pks_host_wake(struct pk_scan *s, struct scan_host *h);
void pks_sockaddr(const struct scan_host *h, uint16_t port, struct sockaddr_storage *ss,
                   socklen_t *len);
bool pks_rate_take(struct pk_scan *s);

bool pks_rate_take_n(struct pk_scan *s, unsigned n);
struct scan_host *pks_host_get(struct pk_scan *s, uint64_t index);
void pks_host_update_active(struct pk_scan *s, struct scan_host *h);

/* scan_discovery.c. The scheduler drives discovery through s->discd (set
 * by scan.c), so the two files do not call each other. */
enum { HOST_UNSEEN = 0, HOST_PENDING, HOST_UP, HOST_DOWN };
int pks_disc_init(struct pk_scan *s, const struct scan_disc_module *mod, struct pk_err *err);
void pks_disc_fini(struct pk_scan *s);
struct scan_disc_driver {
    /* Sends discovery probes for up to budget hosts and expires the ones
     * whose time is up; returns how much budget it used. */
    unsigned (*fill)(struct pk_scan *s, unsigned budget);
    bool (*finished)(const struct pk_scan *s);
    void (*abandon)(struct pk_scan *s);
};
extern const struct scan_disc_driver pks_disc_driver;
static inline unsigned pks_host_status(const struct pk_scan *s, uint64_t i)
{
    return s->host_status ? (s->host_status[i / 4] >> (2 * (i % 4))) & 3u : HOST_UNSEEN;
}
/* Host `index` answered discovery: it is up; its ports are probed next. */
void pks_host_up(struct pk_scan *s, uint64_t index, enum pk_reason why, uint64_t rtt_us);
/* Host index of an address in the target set, or -1. */
int64_t pks_host_index(const struct pk_scan *s, const struct pk_addr *a);
struct disc_wait *pks_disc_wait_at(struct pk_scan *s, uint64_t seq);
void pks_disc_answered(struct pk_scan *s, struct disc_wait *w, enum pk_reason why);
void pks_disc_probe_failed(struct pk_scan *s, struct disc_wait *w);

/* scan_syn.c / scan_ping_raw.c: replies read from the packet socket */
struct raw_pkt;
void pks_syn_reply(struct pk_scan *s, const struct raw_pkt *p);
int pks_syn_table_init(struct pk_scan *s, struct pk_err *err);
void pks_ping_reply(struct pk_scan *s, const struct raw_pkt *p);
int pks_raw_open(struct pk_scan *s, struct pk_err *err);
void pks_raw_close(struct pk_scan *s);
int pks_raw_fd(const struct pk_scan *s, int which); /* 0: IP replies, 1: ARP (-1: none) */
void pks_raw_read(struct pk_scan *s);
void pks_raw_flush(struct pk_scan *s); /* sends the probes raw_send_* queued */

/* scan_tcp.c: shared by both TCP modules */
bool pks_tcp_queued_icmp(int fd, int family, enum pk_reason *why);
enum pk_reason pks_tcp_local_reason(int err);
void pks_tcp_close_reset(int fd);
/* An attempt of j connected on fd (already detached from j; sent holds its
 * send time). Decides j (or starts -sV) and returns true; returns false on
 * a self-connect, after closing fd: the caller probes again. */
bool pks_tcp_connected(struct pk_scan *s, struct scan_job *j, const struct scan_sock *sent, int fd);

/* scan_timing.c */
void pks_timing_sample(struct scan_timing *t, uint64_t rtt_us);
void pks_timing_answered(struct pk_scan *s, struct scan_host *h, unsigned tryno, unsigned tries);
uint64_t pks_timeout_us(const struct pk_scan *s, const struct scan_host *h);
uint64_t pks_horizon_us(const struct pk_scan *s, const struct scan_host *h);
unsigned pks_tries_needed(const struct pk_scan *s, const struct scan_host *h);

static inline int scan_proto_index(enum pk_proto p)
{
    return p == PK_UDP ? 1 : 0;
}

#endif
