/* Addresses, ports and transports: the one vocabulary every other module
 * speaks. Parsing, normalisation, CIDR blocks and formatting live here, so
 * that an address means the same thing in an allow/deny list, a scan target,
 * an exclusion and a forwarding rule.
 *
 * Two rules hold everywhere:
 *  - An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 address it
 *    carries. The parsers return it as AF_INET, CIDR blocks inside
 *    ::ffff:0:0/96 become IPv4 blocks, and a dual-stack socket's client
 *    compares as IPv4. An IPv6 block that covers ::ffff:0:0/96 (::/0, ::/80)
 *    therefore covers every IPv4 address as well.
 *  - IPv4 is written as four decimal numbers (192.0.2.1). inet_aton's other
 *    forms (127.1, 0x7f.0.0.1, 017.0.0.1, 2130706433) are refused with the
 *    dotted quad they would have meant, and never reach a resolver. */
#ifndef PORTKIT_ADDR_H
#define PORTKIT_ADDR_H

#include "portkit/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "portkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- transports and ports ------------------------------------------------ */

enum pk_proto { PK_TCP = 0, PK_UDP = 1, PK_SCTP = 2, PK_DCCP = 3, PK_PROTO_COUNT };
#define PK_PROTO_MASK(p) (1u << (p))
#define PK_PROTO_ALL ((1u << PK_PROTO_COUNT) - 1)

PK_EXPORT const char *pk_proto_name(enum pk_proto p);               /* "tcp", ... */
/* Case-insensitive; returns 0 and sets *out, or PK_EINVAL. */
PK_EXPORT int pk_proto_parse(const char *s, size_t len, enum pk_proto *out);

/* IANA's three port ranges. */
enum pk_range { PK_RANGE_WELL_KNOWN, PK_RANGE_REGISTERED, PK_RANGE_DYNAMIC };
PK_EXPORT enum pk_range pk_port_range(unsigned port);
PK_EXPORT const char *pk_range_name(enum pk_range r); /* "well-known", "registered", "dynamic" */

/* Parses a decimal port 0-65535 (no sign, no spaces, no trailing junk). */
PK_EXPORT int pk_port_parse(const char *s, size_t len, unsigned *out);
/* "LO-HI" or a single "PORT" (1-65535, LO <= HI). Returns 0 or PK_EINVAL. */
PK_EXPORT int pk_portrange_parse(const char *text, unsigned *lo, unsigned *hi, struct pk_err *err);

/* ---- addresses ----------------------------------------------------------- */

struct pk_addr {
    int family;         /* AF_INET or AF_INET6 */
    uint8_t bytes[16];  /* network order; IPv4 uses the first 4 */
    uint32_t scope_id;  /* IPv6 link-local interface index, else 0 */
};

#define PK_ADDR_STRLEN 64 /* an IPv6 literal with %interface and NUL */

/* Parses one literal address: a dotted quad, an IPv6 address with an
 * optional %interface (name or index). IPv4-mapped IPv6 comes back as IPv4.
 * No names, no ranges, no brackets. Returns 0 or PK_EINVAL. */
PK_EXPORT int pk_addr_parse(const char *s, struct pk_addr *out);
/* The same with a message naming s when it fails; an inet_aton short form
 * gets "'127.1' is not a dotted-quad IPv4 address (it would mean 127.0.0.1)". */
PK_EXPORT int pk_addr_parse_err(const char *s, struct pk_addr *out, struct pk_err *err);
/* True when s is one of inet_aton's forms other than a plain dotted quad
 * (127.1, 0x7f.1, 010.0.0.1, 2130706433); *meant (may be NULL) gets the
 * address inet_aton would read. */
PK_EXPORT bool pk_addr_is_aton_form(const char *s, struct pk_addr *meant);
/* IPv4-mapped IPv6 → IPv4, in place; anything else is left alone. */
PK_EXPORT void pk_addr_unmap(struct pk_addr *a);
/* Reads an AF_INET/AF_INET6 socket address (port ignored), unmapped.
 * Returns 0, or PK_EINVAL for another family. */
PK_EXPORT int pk_addr_from_sockaddr(const struct sockaddr *sa, struct pk_addr *out);
/* Writes the address as text ("192.0.2.1", "fd00::1", "fe80::1%eth0"). */
PK_EXPORT void pk_addr_format(const struct pk_addr *a, char *buf, size_t len);
/* Fills a sockaddr for (a, port); returns its length. */
PK_EXPORT socklen_t pk_addr_sockaddr(const struct pk_addr *a, uint16_t port, struct sockaddr_storage *ss);
/* Orders IPv4 before IPv6, then by interface (scope), then numerically:
 * the order of a finished target set. */
PK_EXPORT int pk_addr_cmp(const struct pk_addr *a, const struct pk_addr *b);
PK_EXPORT bool pk_addr_is_loopback(const struct pk_addr *a);    /* 127/8, ::1 */
PK_EXPORT bool pk_addr_is_multicast(const struct pk_addr *a);   /* 224/4, ff00::/8 */
PK_EXPORT bool pk_addr_is_unspecified(const struct pk_addr *a); /* 0.0.0.0, :: */
/* True when this host's routes make a a broadcast address (a directed
 * broadcast of an attached network). Asks the kernel; sends nothing. */
PK_EXPORT bool pk_addr_is_local_broadcast(const struct pk_addr *a);

/* "192.0.2.1:80", "[fd00::1]:80", "[fe80::1%eth0]:80"; an IPv4-mapped
 * address prints as IPv4. NULL prints "-". */
#define PK_SOCKADDR_STRLEN 80
PK_EXPORT void pk_sockaddr_format(const struct sockaddr *sa, char *buf, size_t size);

/* ---- CIDR blocks --------------------------------------------------------- */

struct pk_cidr {
    int family;          /* AF_INET or AF_INET6 */
    uint8_t addr[16];    /* network byte order; host bits cleared */
    unsigned prefix;     /* 0-32 or 0-128 */
};

/* Parses "192.0.2.7", "10.0.0.0/8", "::1", "fd00::/8", "::ffff:10.0.0.0/104"
 * (stored as 10.0.0.0/8). Bits set beyond the prefix are an error
 * ("10.1.0.0/8" is almost always a typo). Returns 0 or PK_EINVAL with a
 * message. */
PK_EXPORT int pk_cidr_parse(const char *s, size_t len, struct pk_cidr *out, struct pk_err *err);
/* True when the address (unmapped first) lies in the block. */
PK_EXPORT bool pk_cidr_contains(const struct pk_cidr *c, const struct pk_addr *a);
PK_EXPORT bool pk_cidr_match(const struct pk_cidr *c, const struct sockaddr *sa);
/* "10.0.0.0/8", "::1/128"; buf of 64 bytes is always enough. */
PK_EXPORT void pk_cidr_format(const struct pk_cidr *c, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
