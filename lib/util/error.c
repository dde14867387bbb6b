#include "portkit/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *pk_strerror(int code)
{
    switch (code) {
    case PK_OK: return "success";
    case PK_EINVAL: return "bad input";
    case PK_ENOMEM: return "out of memory";
    case PK_EIO: return "input/output error";
    case PK_ENOTFOUND: return "not found";
    case PK_ESYS: return "system call failed";
    case PK_EUNSUPP: return "not supported";
    }
    return "unknown error";
}

int pk_err_set(struct pk_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
        err->sys_errno = 0;
    }
    return code;
}

int pk_err_sys(struct pk_err *err, const char *fmt, ...)
{
    int saved = errno;
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof err->msg)
            snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", strerror(saved));
        err->code = PK_ESYS;
        err->sys_errno = saved;
    }
    errno = saved;
    return PK_ESYS;
}

void pk_err_clear(struct pk_err *err)
{
    if (err) {
        err->code = 0;
        err->sys_errno = 0;
        err->msg[0] = '\0';
    }
}
