/* Files portkit writes and reads for a user who may be root, in directories
 * other users can write (/tmp): output files replaced only by complete ones,
 * logs appended without following a planted symlink, and input files read
 * with a size limit so /dev/zero or a runaway file cannot exhaust memory.
 *
 * Symlinks: a final symlink is followed only where the kernel's
 * fs.protected_symlinks rule would follow it, whatever that sysctl says on
 * this machine: it is refused when it sits in a sticky, world-writable
 * directory and is owned neither by the caller (euid) nor by the
 * directory's owner.
 *
 * Modes: a new output file gets 0666 minus the umask, as a shell redirect
 * does; a replaced file keeps its mode (and, for root, its owner). A new log
 * file gets 0640 minus the umask: logs name clients. */
#ifndef PORTKIT_SAFEFILE_H
#define PORTKIT_SAFEFILE_H

#include "portkit/export.h"

#include <stdbool.h>
#include <stddef.h>

#include "portkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PK_OUTFILE_MODE 0666
#define PK_LOGFILE_MODE 0640

/* 0 when path is not a symlink, or is one protected_symlinks would follow;
 * PK_EINVAL with the one-line reason when it would not. */
PK_EXPORT int pk_symlink_check(const char *path, struct pk_err *err);

/* An output file written under a temporary name beside its final one and
 * renamed into place by pk_outfile_commit: until then the old file, if any,
 * is untouched. Devices and FIFOs (/dev/null, /dev/stdout) are written in
 * place (tmp is NULL); so is an existing file we may write in a directory
 * we may not, cut to its new length only at commit (a run that fails
 * before writing leaves it whole). */
struct pk_outfile {
    int fd;          /* write here; -1 once closed */
    char *path;      /* where the file ends up (a followed symlink resolved) */
    char *tmp;       /* the temporary name, or NULL when written in place */
    int length_fd;   /* in place in a directory we may not write: cut to length at commit */
};
/* Closed and empty: pk_outfile_abort on it does nothing. */
#define PK_OUTFILE_INIT {.fd = -1, .path = NULL, .tmp = NULL, .length_fd = -1}

/* Checks path (symlink rule, not a directory, its directory writable) and
 * creates the temporary file with O_EXCL, so no symlink is followed there.
 * On failure f->fd is -1 and nothing was created. */
PK_EXPORT int pk_outfile_open(struct pk_outfile *f, const char *path, struct pk_err *err);
/* Closes fd (unless the caller closed it and set it to -1) and renames the
 * temporary file over path. */
PK_EXPORT int pk_outfile_commit(struct pk_outfile *f, struct pk_err *err);
/* Closes and removes the temporary file; the old file stays as it was.
 * Safe to call twice and after commit. */
PK_EXPORT void pk_outfile_abort(struct pk_outfile *f);

/* Opens path for appending (O_APPEND), creating it with PK_LOGFILE_MODE;
 * never through a symlink pk_symlink_check refuses, and a symlink planted
 * between the check and the open is not followed. Returns the descriptor or
 * a negative PK_E* code. */
PK_EXPORT int pk_file_open_append(const char *path, struct pk_err *err);

/* Reads a whole file ("-": standard input) into a NUL-terminated buffer
 * the caller frees. More than max bytes is PK_EINVAL "is larger than N
 * MiB", read no further, so memory stays bounded for any input. A
 * directory or unreadable file is PK_EINVAL with the reason. */
PK_EXPORT int pk_file_read(const char *path, size_t max, char **data, size_t *len,
                           struct pk_err *err);

/* True when a and b name the same existing file (device and inode). */
PK_EXPORT bool pk_file_same(const char *a, const char *b);

#ifdef __cplusplus
}
#endif
#endif
