/* Access control by source address: allow and deny lists of addresses,
 * CIDR blocks (IPv4 and IPv6) and rinetd's glob patterns (192.168.2.*,
 * 10.?.*, fe80:*). The rule is rinetd's and order-free: a client is admitted
 * when no allow entry exists or one matches, and no deny entry matches.
 * Addresses follow portkit/addr.h: an IPv4-mapped client (::ffff:a.b.c.d,
 * what a dual-stack listener sees) is the IPv4 address it carries, an
 * IPv4-mapped entry is an IPv4 entry, and an IPv6 block that covers
 * ::ffff:0:0/96 (::/0) covers IPv4 clients too. A glob is matched against
 * the client's text as pk_addr_format writes it (IPv4 dotted quad, IPv6
 * compressed lower case). */
#ifndef PORTKIT_ACL_H
#define PORTKIT_ACL_H

#include "portkit/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "portkit/addr.h"
#include "portkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pk_acl;

PK_EXPORT struct pk_acl *pk_acl_new(void);
PK_EXPORT void pk_acl_free(struct pk_acl *acl);
PK_EXPORT struct pk_acl *pk_acl_clone(const struct pk_acl *acl); /* NULL on ENOMEM */
/* Adds one entry, given as text: an address or CIDR (pk_cidr_parse), or a
 * pattern of address characters with * (any run) and ? (one character). */
PK_EXPORT int pk_acl_add(struct pk_acl *acl, bool allow, const char *pattern, size_t len,
               struct pk_err *err);
/* Adds a comma- or blank-separated list ("10.0.0.0/8, ::1"). */
PK_EXPORT int pk_acl_add_list(struct pk_acl *acl, bool allow, const char *list, size_t len,
                    struct pk_err *err);
/* Entries of one list, in the order they were added. */
PK_EXPORT size_t pk_acl_count(const struct pk_acl *acl, bool allow);
/* The entry's block, or NULL when the entry is a glob pattern. */
PK_EXPORT const struct pk_cidr *pk_acl_get(const struct pk_acl *acl, bool allow, size_t index);
/* The entry as text that pk_acl_add reads back: "10.0.0.0/8", "192.168.2.*".
 * 64 bytes is always enough. */
PK_EXPORT void pk_acl_format(const struct pk_acl *acl, bool allow, size_t index, char *buf,
                             size_t size);
/* True when the client may connect. A NULL acl admits everyone. */
PK_EXPORT bool pk_acl_permits(const struct pk_acl *acl, const struct sockaddr *client);

#ifdef __cplusplus
}
#endif
#endif
