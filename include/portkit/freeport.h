/* Ports that are free to bind right now: found by binding them, not by
 * guessing from a socket list (which races with every other program and
 * misses ports held by TIME-WAIT or by sockets in other states). */
#ifndef PORTKIT_FREEPORT_H
#define PORTKIT_FREEPORT_H

#include "portkit/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portkit/addr.h"
#include "portkit/error.h"
#include "portkit/hostinfo.h"
#include "portkit/registry.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pk_freeport_opts {
    /* Inclusive search range. lo == 0: the registered range (1024-49151)
     * minus the host's ephemeral range, so the kernel will not hand the port
     * to some client before the caller binds it. */
    unsigned lo, hi;
    unsigned protos;   /* PK_PROTO_MASK bits (tcp, udp); each port must bind for all; 0 = tcp */
    bool unassigned;   /* skip ports the registry names, reserves or has notes on */
    const struct pk_registry *reg;   /* for unassigned; NULL = the compiled-in one */
    const struct pk_hostinfo *host;  /* NULL = read from /proc/sys */
    uint64_t seed;     /* where in the range the search starts; 0 = somewhere random */
};

/* Finds count distinct ports that bind right now, in search order, and
 * writes them to ports. Returns 0, PK_ENOTFOUND when fewer than count are
 * free (ports is then unspecified), or PK_EINVAL for a bad range. */
PK_EXPORT int pk_freeport_find(const struct pk_freeport_opts *o, unsigned *ports, size_t count,
                     struct pk_err *err);

/* True when (port, proto) binds on the wildcard address, IPv4 and IPv6
 * alike, at this moment. The test socket is closed before returning. */
PK_EXPORT bool pk_port_bindable(unsigned port, enum pk_proto proto);

#ifdef __cplusplus
}
#endif
#endif
