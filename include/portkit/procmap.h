/* Which process holds which socket: every /proc/PID/fd entry that links to
 * "socket:[INODE]", gathered once per run. Reading /proc is most of the
 * cost of ss -p and lsof -i, so the scan can run on a background thread and
 * be joined by other threads when they are free (pk_procscan_*). */
#ifndef PORTKIT_PROCMAP_H
#define PORTKIT_PROCMAP_H

#include "portkit/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portkit/buf.h"
#include "portkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pk_procmap;

/* Scans proc_root (NULL = "/proc") on the calling thread. Processes that
 * vanish mid-scan or whose fds we may not read are skipped (see
 * pk_procmap_partial). */
PK_EXPORT int pk_procmap_scan(const char *proc_root, struct pk_procmap **out, struct pk_err *err);
PK_EXPORT void pk_procmap_free(struct pk_procmap *m);

/* Pids holding the socket with this inode, ascending: writes up to max and
 * returns how many there are (0: none we could see). */
PK_EXPORT size_t pk_procmap_find(const struct pk_procmap *m, uint64_t inode, int *pids, size_t max);
PK_EXPORT size_t pk_procmap_sockets(const struct pk_procmap *m);   /* socket fds seen */
PK_EXPORT bool pk_procmap_partial(const struct pk_procmap *m);     /* some fd dirs unreadable */

/* The same scan in steps: start lists the processes and runs a background
 * thread over them; help lets the calling thread take a share of the work
 * (call it when it has nothing better to do); finish waits and builds the
 * map. finish must be called exactly once after start succeeded. */
struct pk_procscan;
PK_EXPORT int pk_procscan_start(const char *proc_root, struct pk_procscan **out, struct pk_err *err);
PK_EXPORT void pk_procscan_help(struct pk_procscan *s);
PK_EXPORT int pk_procscan_finish(struct pk_procscan *s, struct pk_procmap **out, struct pk_err *err);

/* A process's name (/proc/PID/comm, at most 15 bytes), control bytes
 * replaced by '?'. Returns 0, or PK_ENOTFOUND when it is gone. */
PK_EXPORT int pk_proc_comm(const char *proc_root, int pid, char *buf, size_t size);
/* Its command line, arguments joined by spaces (kernel threads: empty).
 * Returns 0, PK_ENOTFOUND or PK_ENOMEM. */
PK_EXPORT int pk_proc_cmdline(const char *proc_root, int pid, struct pk_buf *out);
/* The uid it runs as (the owner of /proc/PID: its effective uid); returns
 * 0 or PK_ENOTFOUND. */
PK_EXPORT int pk_proc_uid(const char *proc_root, int pid, unsigned *uid);

#ifdef __cplusplus
}
#endif
#endif
