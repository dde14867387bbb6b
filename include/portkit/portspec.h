/* Port sets for scanning: nmap's port-spec syntax (`22,80,8000-8100`,
 * `-p-`, `T:`/`U:` prefixes, service names and `http*` patterns from the
 * registry), the most frequently open ports (`--top-ports N`) and
 * exclusions. A set holds TCP and UDP ports; SCTP is refused. */
#ifndef PORTKIT_PORTSPEC_H
#define PORTKIT_PORTSPEC_H

#include "portkit/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portkit/addr.h"
#include "portkit/buf.h"
#include "portkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pk_registry;

struct pk_ports;

PK_EXPORT struct pk_ports *pk_ports_new(void);
PK_EXPORT void pk_ports_free(struct pk_ports *p);

/* Adds the ports of an nmap-style spec:
 *   22,80,443      single ports        8000-8100   an inclusive range
 *   -1024, 60000-  open ends (1 and 65535); "-" alone is 1-65535
 *   http,ssh       every port the registry gives that name on the transport
 *   http*, ?ttp    shell-style patterns over registry names
 *   T:22,U:53,161  a prefix (T: tcp, U: udp) holds until the next prefix
 * Ports without a prefix go to every transport in default_protos
 * (PK_PROTO_MASK bits of PK_TCP and PK_UDP). When `named` is not NULL it
 * receives the transports that a T:/U: prefix named, so a caller can turn
 * on the scan they imply. reg may be NULL (names are then refused).
 * Returns 0, or PK_EINVAL with one line naming the bad element; on error
 * the set is unchanged. */
PK_EXPORT int pk_ports_parse(struct pk_ports *p, const char *spec, const struct pk_registry *reg,
                   unsigned default_protos, unsigned *named, struct pk_err *err);

/* Adds the n most frequently open ports of one transport. The frequencies
 * come from nmap's nmap-services file (see frequency.h) when services_path
 * names a readable one (read at run time, never shipped), otherwise from
 * portkit's built-in list (data/top-ports.txt). *source, when not NULL, is
 * set to the path used or to "built-in". n larger than the list adds the
 * whole list. */
PK_EXPORT int pk_ports_add_top(struct pk_ports *p, enum pk_proto proto, unsigned n,
                     const char *services_path, const char **source, struct pk_err *err);


PK_EXPORT void pk_ports_add_range(struct pk_ports *p, enum pk_proto proto, unsigned lo, unsigned hi);
/* Removes every (port, transport) of `ex` from p. */
PK_EXPORT void pk_ports_remove(struct pk_ports *p, const struct pk_ports *ex);
PK_EXPORT bool pk_ports_has(const struct pk_ports *p, enum pk_proto proto, unsigned port);
PK_EXPORT size_t pk_ports_count(const struct pk_ports *p, enum pk_proto proto);
/* Writes up to max ports of one transport in ascending order; returns how
 * many the set holds. */
PK_EXPORT size_t pk_ports_list(const struct pk_ports *p, enum pk_proto proto, uint16_t *out, size_t max);
/* Appends the ports of one transport as compact ranges: "1-21,23,25-79". */
PK_EXPORT void pk_ports_format(const struct pk_ports *p, enum pk_proto proto, struct pk_buf *out);
/* Appends a sorted port array the same way. */
PK_EXPORT void pk_ports_format_array(const uint16_t *ports, size_t n, struct pk_buf *out);

#ifdef __cplusplus
}
#endif
#endif
