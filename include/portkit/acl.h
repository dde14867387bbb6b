/* Access control by source address: allow and deny lists of addresses and
 * CIDR blocks (IPv4 and IPv6). The rule is rinetd's and order-free: a client
 * is admitted when no allow entry exists or one matches, and no deny entry
 * matches. IPv4-mapped IPv6 clients (::ffff:a.b.c.d, what a dual-stack
 * listener sees) are matched as the IPv4 address they carry. */
#ifndef PORTKIT_ACL_H
#define PORTKIT_ACL_H

#include "portkit/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "portkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pk_cidr {
    int family;          /* AF_INET or AF_INET6 */
    uint8_t addr[16];    /* network byte order; host bits cleared */
    unsigned prefix;     /* 0-32 or 0-128 */
};

/* Parses "192.0.2.7", "10.0.0.0/8", "::1", "fd00::/8". Bits set beyond the
 * prefix are an error ("10.1.0.0/8" is almost always a typo). Returns 0 or
 * PK_EINVAL with a message. */
PK_EXPORT int pk_cidr_parse(const char *s, size_t len, struct pk_cidr *out, struct pk_err *err);
PK_EXPORT bool pk_cidr_match(const struct pk_cidr *c, const struct sockaddr *sa);
/* "10.0.0.0/8", "::1/128"; buf of 64 bytes is always enough. */
PK_EXPORT void pk_cidr_format(const struct pk_cidr *c, char *buf, size_t size);

struct pk_acl;

PK_EXPORT struct pk_acl *pk_acl_new(void);
PK_EXPORT void pk_acl_free(struct pk_acl *acl);
PK_EXPORT struct pk_acl *pk_acl_clone(const struct pk_acl *acl); /* NULL on ENOMEM */
/* Adds one entry, given as text (see pk_cidr_parse). */
PK_EXPORT int pk_acl_add(struct pk_acl *acl, bool allow, const char *pattern, size_t len,
               struct pk_err *err);
/* Adds a comma- or blank-separated list ("10.0.0.0/8, ::1"). */
PK_EXPORT int pk_acl_add_list(struct pk_acl *acl, bool allow, const char *list, size_t len,
                    struct pk_err *err);
PK_EXPORT size_t pk_acl_count(const struct pk_acl *acl, bool allow);
PK_EXPORT const struct pk_cidr *pk_acl_get(const struct pk_acl *acl, bool allow, size_t index);
/* True when the client may connect. A NULL acl admits everyone. */
PK_EXPORT bool pk_acl_permits(const struct pk_acl *acl, const struct sockaddr *client);

#ifdef __cplusplus
}
#endif
#endif
