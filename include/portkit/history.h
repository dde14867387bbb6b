/* Scan history: every saved run (a scan, an imported nmap XML file, a
 * snapshot of this host's listeners) kept in one SQLite database, and what
 * changed between two runs.
 *
 * The database is a plain SQLite file in WAL mode with foreign keys on and
 * a schema version (PRAGMA user_version) that newer code migrates forward
 * and older code refuses. Every run is written in one transaction, so a
 * reader never sees half a run and a killed writer leaves nothing behind.
 * Writers wait for each other (busy timeout plus retries) rather than fail.
 *
 * Per scanned host a run keeps every port that was not closed plus the
 * count of closed ones: a full-range scan of 1,000 mostly closed hosts is a
 * few thousand rows, not 65 million. */
#ifndef PORTKIT_HISTORY_H
#define PORTKIT_HISTORY_H

#include "portkit/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portkit/buf.h"
#include "portkit/error.h"
#include "portkit/hostinfo.h"
#include "portkit/output.h"
#include "portkit/registry.h"
#include "portkit/scan.h"
#include "portkit/sockets.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The schema this library writes; a database with a higher version is
 * refused (PK_EUNSUPP) rather than misread. */
#define PK_HISTORY_SCHEMA 1

struct pk_history;

enum {
    PK_HISTORY_READONLY = 1u << 0, /* never write (history, diff, report) */
};

/* $XDG_STATE_HOME/portkit/history.db, or ~/.local/state/portkit/history.db. */
PK_EXPORT int pk_history_default_path(struct pk_buf *out, struct pk_err *err);
/* Opens (read-write: creates the file and its directory when missing, and
 * migrates an older schema) the database at path; ":memory:" works. */
PK_EXPORT int pk_history_open(const char *path, unsigned flags, struct pk_history **out,
                              struct pk_err *err);
PK_EXPORT void pk_history_close(struct pk_history *h);
/* How long a statement waits for another writer's lock before failing
 * (default 10 s, repeated up to 12 times; 0: fail at once). */
PK_EXPORT void pk_history_set_busy_timeout(struct pk_history *h, unsigned ms);
/* True when the last failure on h was another writer holding the lock:
 * trying again later may work. */
PK_EXPORT bool pk_history_busy(const struct pk_history *h);

enum pk_run_kind {
    PK_RUN_SCAN = 0,    /* ports of hosts: portkit scan, or imported nmap XML */
    PK_RUN_SOCKETS = 1, /* this host's listeners: portkit ls --save, watch --save */
};
PK_EXPORT const char *pk_run_kind_name(enum pk_run_kind k); /* "scan", "ls" */

/* One run. Strings are "" when unknown, never NULL. */
struct pk_run {
    int64_t id;
    enum pk_run_kind kind;
    const char *label;
    const char *source;   /* "portkit", "nmap" (imported XML), ... */
    const char *targets;  /* what was asked, as the user wrote it */
    const char *ports;    /* ports asked, nmap syntax ("T:1-1024,U:53") */
    const char *command;  /* the whole command line */
    uint64_t start_us, end_us; /* wall clock */
    uint64_t hosts, hosts_up;
    uint64_t open;        /* open ports (scan) or listeners (ls) */
};

/* ---- writing a run ---- */

struct pk_history_run;

/* One scanned host. Like nmap's <extraports>, the most common state of a
 * host's ports is not stored port by port: rest[0]/[1] names it for TCP/UDP
 * (PK_STATE_UNKNOWN means closed), and only ports in another state are
 * rows. So a host behind a DROP-everything firewall is one row, not 65,535
 * filtered ones. closed[0]/[1] counts the TCP/UDP ports found closed. */
struct pk_history_host {
    const char *addr;      /* textual address: the key hosts are matched by */
    const char *hostname;  /* NULL or "" */
    bool up;
    uint32_t rtt_us;
    uint64_t closed[2];
    enum pk_port_state rest[2];
};

struct pk_history_port {
    enum pk_proto proto;
    uint16_t port;
    enum pk_port_state state;
    enum pk_reason reason;
    const char *service;   /* NULL or "" when none */
    bool service_probed;   /* named by talking to it (-sV), not from a table */
    const char *product, *version, *extra, *banner; /* NULL or "" when unknown */
};

struct pk_history_listener {
    enum pk_proto proto;
    int family;            /* AF_INET, AF_INET6 */
    const char *addr;      /* local address as text */
    uint16_t port;
    int pid;               /* -1 unknown */
    const char *process, *user; /* NULL or "" when unknown */
    const char *service;
    unsigned flags;        /* PK_SF_* */
};

/* Whether name can label a run: not empty, at most 64 bytes, no control
 * bytes, and not something a run name already means (a number, "last",
 * "last~N", a path with '/', a name ending in ".xml"). PK_EINVAL says why. */
PK_EXPORT int pk_history_label_check(const char *name, struct pk_err *err);

/* Starts a run described by info (id, hosts, hosts_up and open are
 * computed). Nothing is visible to readers until pk_history_commit. Takes
 * the database's write lock, waiting for other writers. */
PK_EXPORT int pk_history_begin(struct pk_history *h, const struct pk_run *info,
                               struct pk_history_run **out, struct pk_err *err);
PK_EXPORT int pk_history_add_host(struct pk_history_run *w, const struct pk_history_host *host,
                                  struct pk_err *err);
/* A port of the host added last; one in the host's rest state is not
 * stored (it is implied). */
PK_EXPORT int pk_history_add_port(struct pk_history_run *w, const struct pk_history_port *p,
                                  struct pk_err *err);
/* A whole host of a scan: its address, name, RTT and ports. The rest state
 * is the most common of closed, filtered and open|filtered per transport;
 * a host that answered nothing keeps no ports at all. */
PK_EXPORT int pk_history_add_report(struct pk_history_run *w, const struct pk_host_report *r,
                                    struct pk_err *err);
/* A listener (PK_RUN_SOCKETS runs). The same (proto, address, port) held
 * twice (SO_REUSEPORT) is kept once. */
PK_EXPORT int pk_history_add_listener(struct pk_history_run *w, const struct pk_history_listener *l,
                                      struct pk_err *err);
/* Every listening socket of l, annotated with reg and host (both may be NULL). */
PK_EXPORT int pk_history_add_sockets(struct pk_history_run *w, const struct pk_socklist *l,
                                     const struct pk_registry *reg, const struct pk_hostinfo *host,
                                     struct pk_err *err);
/* Makes the run visible and frees w; *id (may be NULL) gets its id. On
 * failure (disk full, read-only) nothing of the run is stored, everything
 * stored before is intact, and w is freed too. */
PK_EXPORT int pk_history_commit(struct pk_history_run *w, int64_t *id, struct pk_err *err);
/* Drops the run. */
PK_EXPORT void pk_history_abort(struct pk_history_run *w);

/* Imports nmap's XML (nmap -oX, and portkit's own -oX) as a run with source
 * "nmap" (or "portkit" for portkit's files). Input past 1 GiB, DTD entity
 * declarations and malformed XML are refused (PK_EINVAL, with
 * the line). label may be NULL. */
PK_EXPORT int pk_history_import_xml(struct pk_history *h, const char *path, const char *label,
                                    int64_t *id, struct pk_err *err);
PK_EXPORT int pk_history_import_xml_mem(struct pk_history *h, const char *data, size_t len,
                                        const char *name, const char *label, int64_t *id,
                                        struct pk_err *err);

/* ---- reading ---- */

/* Called per run; a non-zero return stops the walk and is returned. The
 * run's strings live until the callback returns. */
typedef int pk_history_run_fn(void *arg, const struct pk_run *r);
/* Every run, newest first. */
PK_EXPORT int pk_history_runs(struct pk_history *h, pk_history_run_fn *fn, void *arg,
                              struct pk_err *err);
/* One run (fn called once), PK_ENOTFOUND when there is none. */
PK_EXPORT int pk_history_run(struct pk_history *h, int64_t id, pk_history_run_fn *fn, void *arg,
                             struct pk_err *err);
/* A run named by its id, its label (the newest with it), "last" or
 * "last~N" (the N-th before the last). PK_ENOTFOUND when none matches. */
PK_EXPORT int pk_history_resolve(struct pk_history *h, const char *ref, int64_t *id,
                                 struct pk_err *err);
/* The newest run before id of the same kind over the same hosts (scans:
 * the same set of addresses; ls: this host). PK_ENOTFOUND when none. */
PK_EXPORT int pk_history_previous(struct pk_history *h, int64_t id, int64_t *prev,
                                  struct pk_err *err);
/* Deletes one run (PK_ENOTFOUND if absent), or every run that ended before
 * before_us; *removed (may be NULL) counts them. */
PK_EXPORT int pk_history_remove(struct pk_history *h, int64_t id, struct pk_err *err);
PK_EXPORT int pk_history_prune(struct pk_history *h, uint64_t before_us, uint64_t *removed,
                               struct pk_err *err);

/* Hosts and ports of a scan run in address, transport, port order. fn is
 * called once per host with p NULL, then once per stored port with p set;
 * non-zero stops the walk. */
typedef int pk_history_port_fn(void *arg, const struct pk_history_host *host,
                               const struct pk_history_port *p);
PK_EXPORT int pk_history_walk(struct pk_history *h, int64_t id, pk_history_port_fn *fn, void *arg,
                              struct pk_err *err);
typedef int pk_history_listener_fn(void *arg, const struct pk_history_listener *l);
PK_EXPORT int pk_history_walk_listeners(struct pk_history *h, int64_t id, pk_history_listener_fn *fn,
                                        void *arg, struct pk_err *err);

/* ---- what changed ---- */

enum pk_change_kind {
    PK_CHANGE_OPENED,    /* a port is open now that was not */
    PK_CHANGE_CLOSED,    /* an open (or open|filtered) port is closed or gone */
    PK_CHANGE_STATE,     /* any other state change (open -> filtered, ...); with
                          * port 0: the state of a host's unlisted ports */
    PK_CHANGE_SERVICE,   /* same state, another service, product or version */
    PK_CHANGE_HOST_UP,   /* a host answers that did not (or was not there) */
    PK_CHANGE_HOST_DOWN,
    PK_CHANGE_ADDED,     /* a listener appeared (ls snapshots, watch) */
    PK_CHANGE_REMOVED,   /* a listener disappeared */
    PK_CHANGE_PROCESS,   /* a listener's owning process changed */
    PK_CHANGE_COUNT
};
/* "opened", "closed", "state", "service", "host-up", "host-down", "added",
 * "removed", "process". */
PK_EXPORT const char *pk_change_name(enum pk_change_kind k);

/* One change. Strings are never NULL ("" when empty) and live until the
 * callback returns. */
struct pk_change {
    enum pk_change_kind kind;
    const char *host;        /* address (listeners: the local address) */
    const char *hostname;
    enum pk_proto proto;     /* port changes and listeners */
    uint16_t port;           /* 0 for host-up/host-down */
    const char *before, *after; /* state names, service lines or process[pid] */
    const char *service;     /* the service name, for context */
    /* listeners: who holds it (the new holder for added/process, the last
     * known one for removed) */
    int pid;
    const char *process, *user;
    unsigned flags;          /* PK_SF_* */
};

typedef int pk_change_fn(void *arg, const struct pk_change *c);
/* Streams every change from run a (in ha) to run b (in hb; may be ha) to fn.
 * Both runs must be of the same kind. Memory stays bounded whatever the
 * size of the runs: both are read in key order and merged. *count (may be
 * NULL) gets the number of changes. */
PK_EXPORT int pk_history_diff(struct pk_history *ha, int64_t a, struct pk_history *hb, int64_t b,
                              pk_change_fn *fn, void *arg, uint64_t *count, struct pk_err *err);
/* One JSON object (no newline): host, hostname, port, proto, change,
 * before, after, service, and for listeners pid, process, user, flags. */
PK_EXPORT void pk_change_json(const struct pk_change *c, struct pk_buf *out);

/* ---- watching this host's listeners ---- */

struct pk_watch;

struct pk_watch_options {
    const struct pk_registry *reg;   /* service names and RISK; may be NULL */
    unsigned protos;                 /* PK_PROTO_MASK bits; 0: TCP and UDP */
    const char *proc_root;           /* NULL: /proc */
};

/* Takes the first look (every current listener, with its process); changes
 * are reported relative to it. */
PK_EXPORT int pk_watch_new(const struct pk_watch_options *opt, struct pk_watch **out,
                           struct pk_err *err);
PK_EXPORT void pk_watch_free(struct pk_watch *w);
/* Looks again and reports each listener that appeared or disappeared since
 * the last look, once. *next_ms gets how long to wait before the next look
 * (short right after a change, longer when quiet; never above 500 ms). */
PK_EXPORT int pk_watch_poll(struct pk_watch *w, pk_change_fn *fn, void *arg, unsigned *next_ms,
                            struct pk_err *err);
/* The listeners as of the last look, as a PK_RUN_SOCKETS run's content. */
PK_EXPORT int pk_watch_save(struct pk_watch *w, struct pk_history_run *run, struct pk_err *err);

/* ---- the HTML report ---- */

struct pk_report_options {
    const struct pk_registry *reg;   /* risk notes per port; may be NULL */
    const char *title;               /* NULL: "portkit report" */
};

/* Writes one self-contained HTML page (inline CSS and JS, no external
 * fetch) about run `id` of h: summary, hosts, a sortable and filterable
 * port table with services and risk notes. With base_h non-NULL, the
 * changes from run base to id are listed and highlighted. Everything that
 * came from the network is escaped. */
PK_EXPORT int pk_history_report_html(struct pk_history *h, int64_t id, struct pk_history *base_h,
                                     int64_t base, const struct pk_report_options *opt,
                                     pk_output_write_fn *write, void *arg, struct pk_err *err);

#ifdef __cplusplus
}
#endif
#endif
