/* portkit error reporting: the library never prints; it returns a negative
 * PK_E* code and fills a caller-supplied struct pk_err with one line. */
#ifndef PORTKIT_ERROR_H
#define PORTKIT_ERROR_H

#include "portkit/export.h"

#ifdef __cplusplus
extern "C" {
#endif

enum pk_errcode {
    PK_OK = 0,
    PK_EINVAL = -1,   /* bad input from the user: CLI exits 2 */
    PK_ENOMEM = -2,
    PK_EIO = -3,      /* a file or the kernel failed us */
    PK_ENOTFOUND = -4,/* nothing matched: CLI exits 1 */
    PK_ESYS = -5,     /* a system call failed; errno text in msg */
    PK_EUNSUPP = -6,
};

#define PK_ERR_MSG_MAX 256

struct pk_err {
    int code;
    /* For PK_ESYS (and any failure that came from a system call): the errno
     * as a number, so an embedder can tell EADDRINUSE from EACCES without
     * parsing msg. 0 when the failure was not a system call's. */
    int sys_errno;
    char msg[PK_ERR_MSG_MAX];
};

/* A short, fixed description of a PK_E* code ("bad input", "out of memory",
 * ...); "unknown error" for anything else. Never NULL. */
PK_EXPORT const char *pk_strerror(int code);

/* Records code and a printf-style message in err (if non-NULL); returns code
 * so callers can write `return pk_err_set(err, PK_EINVAL, "...")`.
 * sys_errno is reset to 0. */
PK_EXPORT int pk_err_set(struct pk_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like pk_err_set but appends ": strerror(errno)", and keeps errno in
 * err->sys_errno. */
PK_EXPORT int pk_err_sys(struct pk_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

PK_EXPORT void pk_err_clear(struct pk_err *err);

#ifdef __cplusplus
}
#endif
#endif
