/* Parser for `portkit info` questions: a port (80), port/proto (53/udp), a
 * range (6000-6010, optionally /tcp) or a service name (ssh, postgresql). */
#ifndef PORTKIT_QUERY_H
#define PORTKIT_QUERY_H

#include "portkit/export.h"

#include <stddef.h>

#include "portkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum pk_query_kind { PK_QUERY_PORTS, PK_QUERY_NAME };

#define PK_QUERY_NAME_MAX 64

struct pk_query {
    enum pk_query_kind kind;
    unsigned lo, hi;        /* PK_QUERY_PORTS: inclusive range, lo == hi for one port */
    unsigned proto_mask;    /* PK_PROTO_MASK bits; 0 = not given (caller's default) */
    char name[PK_QUERY_NAME_MAX]; /* PK_QUERY_NAME */
};

/* Returns 0, or PK_EINVAL with a message naming what was wrong. Leading and
 * trailing blanks are ignored. */
PK_EXPORT int pk_query_parse(const char *text, size_t len, struct pk_query *q, struct pk_err *err);

#ifdef __cplusplus
}
#endif
#endif
