/* portkit forward: TCP and UDP port redirection on one event loop.
 *
 * Three parts, usable alone:
 *  - addresses: LISTEN and TARGET as the command line writes them
 *    (":8080", "127.0.0.1:http", "[::1]:53"), with registry service names;
 *  - configuration: rules, per-rule options and allow/deny lists, parsed
 *    from a rinetd-style file (see pk_fw_config_parse);
 *  - the forwarder: listeners on a pk_loop, a zero-copy TCP relay (splice
 *    through pipes taken from a small pool) with half-close, backpressure
 *    and timeouts, UDP sessions per client address, live reconfiguration.
 *
 * The forwarder never prints: every connection that ends, every client
 * turned away and every listener opened or closed is handed to the log
 * callback as a struct pk_fw_event. The caller must ignore SIGPIPE (a peer
 * that vanishes mid-write must be an error return, not a signal). */
#ifndef PORTKIT_FORWARD_H
#define PORTKIT_FORWARD_H

#include "portkit/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "portkit/acl.h"
#include "portkit/addr.h"
#include "portkit/buf.h"
#include "portkit/error.h"
#include "portkit/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pk_registry;

/* ---- addresses ------------------------------------------------------------ */

/* Longest host name a TARGET may carry, NUL included. */
#define PK_FW_HOSTMAX 256

struct pk_fw_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    /* LISTEN without a host (":8080", "*:8080", "8080"): every address, IPv4
     * and IPv6 on one dual-stack socket where the host has IPv6. */
    bool any;
    /* The host name the address was resolved from; empty for a numeric
     * address. The relay looks it up again when its DNS TTL runs out or a
     * connect to it fails. */
    char host[PK_FW_HOSTMAX];
};

enum {
    PK_FW_NUMERIC = 1u << 0,    /* never resolve host names (fuzzers, offline checks) */
    PK_FW_NO_INCLUDE = 1u << 1, /* refuse `include` lines (fuzzers: no file access) */
};

/* Longest text pk_fw_sockaddr_format writes, NUL included. */
#define PK_FW_ADDRSTRLEN 64

/* Parses LISTEN (target false) or TARGET (target true):
 *   PORT  :PORT  *:PORT  HOST:PORT  [IPV6]:PORT
 * PORT is a number or a service name from reg for proto (":http"). HOST is
 * an IPv4/IPv6 address or, unless PK_FW_NUMERIC, a name resolved now. A
 * TARGET without a host means 127.0.0.1; a LISTEN port of 0 asks the kernel
 * for a free one. Returns 0 or PK_EINVAL with a message naming the input. */
PK_EXPORT int pk_fw_addr_parse(const char *s, size_t len, enum pk_proto proto, bool target,
                     const struct pk_registry *reg, unsigned flags, struct pk_fw_addr *out,
                     struct pk_err *err);
/* "127.0.0.1:80", "[::1]:53"; an IPv4-mapped IPv6 address prints as IPv4. */
PK_EXPORT void pk_fw_sockaddr_format(const struct sockaddr *sa, char *buf, size_t size);
/* The configured form: "*:8080" for a wildcard listener, else as above. */
PK_EXPORT void pk_fw_addr_format(const struct pk_fw_addr *a, char *buf, size_t size);
PK_EXPORT bool pk_fw_addr_equal(const struct pk_fw_addr *a, const struct pk_fw_addr *b);

/* Durations in options: "30" (seconds), "1.5s", "250ms", "2m", "1h"; "0"
 * means never. Returns 0 and milliseconds, or PK_EINVAL. */
PK_EXPORT int pk_fw_duration_parse(const char *s, size_t len, uint64_t *ms, struct pk_err *err);

/* ---- rules and configuration --------------------------------------------- */

/* How TCP bytes move. SPLICE: zero-copy, socket → pooled pipe → socket.
 * READ: read()/write() through one scratch buffer. AUTO: read/write for
 * small messages (cheaper for request/reply traffic), splice once a
 * direction carries bulk data. SPLICE and AUTO fall back to read/write
 * when splice is impossible or no pipe can be made. */
enum pk_fw_copy { PK_FW_COPY_AUTO, PK_FW_COPY_SPLICE, PK_FW_COPY_READ, PK_FW_COPY_COUNT };
/* "auto", "splice", "read": the one table of copy-mode names. */
PK_EXPORT const char *pk_fw_copy_name(enum pk_fw_copy copy);
/* Case-insensitive; 0 and *out, or PK_EINVAL. */
PK_EXPORT int pk_fw_copy_parse(const char *s, size_t len, enum pk_fw_copy *out);

struct pk_fw_rule {
    enum pk_proto proto;          /* PK_TCP or PK_UDP */
    struct pk_fw_addr listen, target;
    uint64_t connect_timeout_ms;  /* TCP: give up on the target after this */
    uint64_t idle_timeout_ms;     /* no byte either way for this long ends it; 0 never */
    unsigned max_conns;           /* TCP connections or UDP sessions at once; 0 no limit */
    enum pk_fw_copy copy;
    struct pk_acl *acl;           /* the rule's own allow/deny lines; NULL none */
    unsigned line;                /* config line, 0 for a rule from the command line */
    /* rinetd's src=: the local address connections to the target leave
     * from (port 0). */
    bool has_source;
    struct pk_fw_addr source;
    bool kernel;                  /* forward in the kernel (nftables NAT), not the relay */
};

/* Option values a rule gets when it does not set them. */
struct pk_fw_defaults {
    uint64_t connect_timeout_ms;
    uint64_t tcp_idle_ms, udp_idle_ms;
    unsigned max_conns;
    enum pk_fw_copy copy;
    bool kernel;            /* rules go to the kernel (forward --kernel) */
};
/* connect 10 s; idle TCP 10 min (nginx stream's proxy_timeout), UDP 60 s;
 * no per-rule limit (the forwarder's descriptor budget still applies, see
 * pk_fw_options.max_conns); copy auto. */
PK_EXPORT void pk_fw_defaults_init(struct pk_fw_defaults *d);

struct pk_fw_config;

PK_EXPORT struct pk_fw_config *pk_fw_config_new(void);
PK_EXPORT void pk_fw_config_free(struct pk_fw_config *cfg);

/* Adds the rules and allow/deny lines of a config file's text to cfg. One
 * rule a line, '#' starts a comment:
 *
 *   allow 127.0.0.0/8 ::1            # before any rule: every rule
 *   deny  10.0.0.0/8
 *   :8080        127.0.0.1:80               tcp  idle-timeout=10m max-conns=500
 *   0.0.0.0 5353 127.0.0.1 53               udp  [timeout=30]
 *   allow 192.0.2.0/24                      # after a rule: that rule only
 *
 * A rule is LISTEN TARGET (pk_fw_addr_parse) or rinetd's four words
 * ADDRESS PORT ADDRESS PORT (a port may carry /udp), then optionally tcp or
 * udp, then options: connect-timeout=, idle-timeout= (timeout=), max-conns=,
 * copy=auto|splice|read, allow=LIST, deny=LIST, src=ADDRESS, kernel or
 * kernel=yes|no (forward in the kernel, see below), bare or in rinetd's
 * [a=b,c=d]. allow/deny take addresses, CIDRs and rinetd's globs
 * (192.168.2.*). rinetd's file-wide lines are read too: `logfile PATH`,
 * `logcommon`, `pidlogfile PATH` (or `pidfile`), and `include PATH` (a
 * glob; relative to the including file, or to the working directory for
 * text; nested at most 8 deep). `name` labels errors: "forward.conf:12:
 * ...". Two rules may not share a listening address. On error cfg holds the
 * lines before it. */
PK_EXPORT int pk_fw_config_parse(struct pk_fw_config *cfg, const char *text, size_t len, const char *name,
                       const struct pk_registry *reg, const struct pk_fw_defaults *defaults,
                       unsigned flags, struct pk_err *err);
/* Reads path and parses it (as above). */
PK_EXPORT int pk_fw_config_load(struct pk_fw_config *cfg, const char *path, const struct pk_registry *reg,
                      const struct pk_fw_defaults *defaults, struct pk_err *err);
/* Adds a copy of rule (its acl is cloned); fails on a duplicate listener. */
PK_EXPORT int pk_fw_config_add_rule(struct pk_fw_config *cfg, const struct pk_fw_rule *rule,
                          struct pk_err *err);
/* The allow/deny list every rule obeys; never NULL, owned by cfg. */
PK_EXPORT struct pk_acl *pk_fw_config_acl(struct pk_fw_config *cfg);
PK_EXPORT const struct pk_acl *pk_fw_config_acl_const(const struct pk_fw_config *cfg);
PK_EXPORT size_t pk_fw_config_count(const struct pk_fw_config *cfg);
PK_EXPORT const struct pk_fw_rule *pk_fw_config_rule(const struct pk_fw_config *cfg, size_t index);
/* rinetd's file-wide settings: NULL / false when the file has none. */
PK_EXPORT const char *pk_fw_config_logfile(const struct pk_fw_config *cfg);
PK_EXPORT bool pk_fw_config_logcommon(const struct pk_fw_config *cfg);
PK_EXPORT const char *pk_fw_config_pidfile(const struct pk_fw_config *cfg);
/* Copies src's file-wide settings (logfile, logcommon, pidlogfile) into dst,
 * for a configuration split in parts (kernel and relay rules). Returns 0 or
 * PK_ENOMEM. */
PK_EXPORT int pk_fw_config_copy_settings(struct pk_fw_config *dst, const struct pk_fw_config *src);
/* Writes cfg as a config file that pk_fw_config_parse reads back to the
 * same configuration (what `forward -n` prints): file-wide settings, global
 * allow/deny, then one line per rule with every option spelled out, each
 * followed by its own allow/deny lines.
 * Returns 0 or PK_ENOMEM. */
PK_EXPORT int pk_fw_config_format(const struct pk_fw_config *cfg, struct pk_buf *out);

/* ---- the forwarder -------------------------------------------------------- */

enum pk_fw_event_kind {
    PK_FW_EV_LISTEN,   /* a listener opened: listen holds the bound address */
    PK_FW_EV_UNLISTEN, /* a listener closed (reload removed it, or shutdown) */
    PK_FW_EV_END,      /* a TCP connection or UDP session ended: reason says why */
    PK_FW_EV_DENY,     /* a client the allow/deny lists turned away */
    PK_FW_EV_LIMIT,    /* a client turned away by max-conns */
    PK_FW_EV_WARN,     /* something the operator should know (reason) */
    PK_FW_EV_OPEN,     /* a TCP connection was accepted or a UDP session began */
};

struct pk_fw_event {
    enum pk_fw_event_kind kind;
    enum pk_proto proto;
    unsigned line;                 /* the rule's config line (0: command line) */
    const struct sockaddr *client; /* NULL for listener events */
    const struct sockaddr *listen; /* the bound listening address */
    const struct sockaddr *target; /* NULL when not known */
    uint64_t start_unix_us;        /* END: when the client arrived (wall clock) */
    uint64_t duration_us;          /* END */
    uint64_t bytes_up, bytes_down; /* END: client→target, target→client */
    uint64_t packets_up, packets_down; /* END, UDP only */
    /* END: "closed" (both ways finished), "client-reset", "target-reset",
     * "refused", "connect-timeout", "connect-error: …", "idle-timeout",
     * "shutdown", "reload", "error: …"; WARN/DENY/LIMIT: detail. */
    const char *reason;
};

typedef void pk_fw_log_fn(void *arg, const struct pk_fw_event *ev);

/* Appends ev as one log line, without the newline: text ("TIME conn tcp
 * client=... up=N down=N end=closed", key=value after the kind, the reason
 * last) or, with json, one JSON object. now_unix_us stamps it. */
PK_EXPORT void pk_fw_event_format(const struct pk_fw_event *ev, uint64_t now_unix_us, bool json,
                        struct pk_buf *out);
/* The same event as rinetd writes it to its `logfile`: tab-separated
 * (time, client, listen host, port, target host, port, bytes from and to
 * the client, result), or with common the web-server "common log format"
 * of rinetd's `logcommon`. Results are rinetd's words: opened,
 * done-remote-closed, done-local-closed, local-connect-failed, denied,
 * not-allowed. Returns false (nothing appended) for events rinetd has no
 * line for (listen, unlisten, warn). */
PK_EXPORT bool pk_fw_event_format_rinetd(const struct pk_fw_event *ev, uint64_t now_unix_us,
                                         bool common, struct pk_buf *out);
/* UTC with milliseconds: "2026-01-02T10:11:12.345Z". 40 bytes is enough. */
PK_EXPORT void pk_fw_time_format(uint64_t unix_us, char *buf, size_t size);

struct pk_fw_options {
    pk_fw_log_fn *log;     /* may be NULL */
    void *log_arg;
    /* Called once after pk_fw_shutdown when the last connection has ended
     * or the deadline forced them closed. */
    void (*drained)(void *arg);
    void *drained_arg;
    size_t pipe_pool;      /* idle splice pipes kept for reuse; 0 = default (16) */
    size_t pipe_size;      /* bytes per pipe; 0 = default (1 MiB) */
    /* TCP connections (two descriptors each) plus UDP sessions (one) the
     * whole forwarder holds at once. 0 = derived from RLIMIT_NOFILE when
     * rules are applied: the limit minus a reserve for listeners, splice
     * pipes and the accept-and-close of clients over the limit, so a crowd
     * of idle clients is turned away with a reset and a log line instead of
     * starving every newcomer in the listen queue. */
    size_t max_conns;
    /* SO_RCVBUF/SO_SNDBUF of UDP sockets; 0 = default (4 MiB, or as much
     * as the kernel grants: rmem_max/wmem_max, beyond them with
     * CAP_NET_ADMIN). Bursts of large datagrams need room while the
     * forwarder relays the ones before. */
    size_t udp_buffer;
};

struct pk_fw;

PK_EXPORT struct pk_fw *pk_fw_new(struct pk_loop *loop, const struct pk_fw_options *opts,
                        struct pk_err *err);
/* Closes every socket at once, logging nothing. */
PK_EXPORT void pk_fw_free(struct pk_fw *fw);

/* Makes cfg the running configuration. Listeners whose protocol and
 * address are unchanged keep their socket and their connections (new
 * options apply to new connections); new ones open; removed ones close
 * (their TCP connections go on; their UDP sessions end: the reply path is
 * gone). All or nothing: if any new listener cannot open, nothing changes
 * and err says which rule failed. cfg stays the caller's. */
PK_EXPORT int pk_fw_apply(struct pk_fw *fw, const struct pk_fw_config *cfg, struct pk_err *err);

/* Stops accepting, lets connections finish, and force-closes what is left
 * after deadline_ms; then calls opts->drained. Calling it again closes
 * everything now. */
PK_EXPORT void pk_fw_shutdown(struct pk_fw *fw, uint64_t deadline_ms);

struct pk_fw_stats {
    size_t listeners;
    size_t max_conns;   /* the budget in force (pk_fw_options.max_conns or derived) */
    size_t tcp_conns, udp_sessions;
    size_t pipes_busy, pipes_idle;
    uint64_t accepted, denied, limited;
};
PK_EXPORT void pk_fw_stats(const struct pk_fw *fw, struct pk_fw_stats *out);

/* ---- in the kernel: nftables NAT (forward --kernel) ----------------------
 *
 * Rules with .kernel set become DNAT (redirect for a loopback target) in a
 * table of its own, `inet portkit_fwd_<pid>`: prerouting for clients from
 * outside, output for clients on this host, masquerade in postrouting for
 * a target on another host. Allow/deny lists become sets, max-conns a
 * `ct count`, and the connection log comes from conntrack events for the
 * table's ct mark. Everything here needs CAP_NET_ADMIN and acts on the
 * caller's network namespace. */

/* Why rule cannot run in the kernel ("the target is a host name that must
 * be re-resolved", ...), or NULL when it can. defaults tells an option the
 * user set from one left as it was. */
PK_EXPORT const char *pk_fw_kernel_unfit(const struct pk_fw_rule *rule,
                                         const struct pk_fw_defaults *defaults);

/* Splits cfg in two, each with cfg's global allow/deny lists: *kernel gets
 * the rules with .kernel set that the kernel can express, *relay the rest.
 * A .kernel rule that goes to the relay, and anything else the operator
 * should know about the kernel rules, is said through log as a WARN event
 * (log may be NULL). */
PK_EXPORT int pk_fw_kernel_partition(const struct pk_fw_config *cfg,
                                     const struct pk_fw_defaults *defaults,
                                     struct pk_fw_config **kernel, struct pk_fw_config **relay,
                                     pk_fw_log_fn *log, void *log_arg, struct pk_err *err);

/* The table name for the process pid: "portkit_fwd_<pid>". */
PK_EXPORT void pk_fw_kernel_table_name(long pid, char *buf, size_t size);

/* Appends the nft script that installs cfg's .kernel rules as table
 * `table`, replacing any table of that name in the same transaction. The
 * ct marks are (tag << 16) | (rule index + 1). comment goes into the
 * table's comment (blank for none). Returns 0, or PK_EINVAL naming a rule
 * the kernel cannot express (see pk_fw_kernel_unfit). */
PK_EXPORT int pk_fw_kernel_ruleset(const struct pk_fw_config *cfg, const char *table, uint16_t tag,
                                   const char *comment, struct pk_buf *out, struct pk_err *err);

struct pk_fw_kernel_options {
    pk_fw_log_fn *log;       /* listeners installed, connections ended; may be NULL */
    void *log_arg;
    /* A target on another host needs IP forwarding: switch it on (and back
     * when freed) instead of failing. */
    bool enable_forwarding;
    bool no_conntrack_log;   /* no per-connection END events */
};

struct pk_fw_kernel;

/* Opens libnftables and the conntrack event socket (watched on loop), and
 * removes tables left by forwarders that no longer run. */
PK_EXPORT struct pk_fw_kernel *pk_fw_kernel_new(struct pk_loop *loop,
                                                const struct pk_fw_kernel_options *opts,
                                                struct pk_err *err);
/* Installs cfg's .kernel rules, replacing the running ones in one nft
 * transaction (established connections keep their NAT in conntrack). On
 * error nothing changed. */
PK_EXPORT int pk_fw_kernel_apply(struct pk_fw_kernel *k, const struct pk_fw_config *cfg,
                                 struct pk_err *err);
/* Packets the table dropped since it was first loaded: turned away by
 * allow/deny, and by max-conns (a client retrying its SYN counts again). */
PK_EXPORT int pk_fw_kernel_counters(struct pk_fw_kernel *k, uint64_t *denied, uint64_t *limited,
                                    struct pk_err *err);
/* The name of the table this instance owns. */
PK_EXPORT const char *pk_fw_kernel_table(const struct pk_fw_kernel *k);
/* Removes the table, restores the sysctls it changed, closes everything. */
PK_EXPORT void pk_fw_kernel_free(struct pk_fw_kernel *k);

/* Removes portkit_fwd_* tables whose forwarder no longer runs (restoring
 * the sysctls their comment says they changed). *removed counts them. */
PK_EXPORT int pk_fw_kernel_cleanup(unsigned *removed, pk_fw_log_fn *log, void *log_arg,
                                   struct pk_err *err);

/* Raises the soft open-file limit to the hard one (every relayed TCP
 * connection holds two sockets). Returns the new soft limit. */
PK_EXPORT long pk_fw_raise_nofile(void);

#ifdef __cplusplus
}
#endif
#endif
