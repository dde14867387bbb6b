/* Scan targets: addresses (IPv4, IPv6 with %scope), CIDR blocks, ranges
 * (192.0.2.1-20, 10.0.0-3.*, 192.0.2.1-192.0.2.9, fd00::1-fd00::9),
 * host names (resolved once) and exclusions. Addresses are read by
 * portkit/addr.h, so ::ffff:224.0.0.1 is the multicast 224.0.0.1 (refused)
 * and 127.1 or 0x7f.1 are refused rather than resolved. The finished set is a sorted,
 * de-duplicated list of hosts that the scan addresses by index, so it
 * never needs one entry per host in memory. */
#ifndef PORTKIT_TARGET_H
#define PORTKIT_TARGET_H

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

/* How host names become addresses. The default uses getaddrinfo; tests and
 * the fuzzer plug in their own. Writes up to max addresses of `family`
 * (AF_UNSPEC: any) and returns how many were found, or a negative PK_E*
 * code with err filled. */
typedef int pk_resolve_fn(void *arg, const char *name, int family, struct pk_addr *out,
                          size_t max, struct pk_err *err);

struct pk_target_opts {
    int family;               /* AF_UNSPEC: all of a name's addresses; AF_INET (-4), AF_INET6 (-6) */
    bool no_resolve;          /* names are an error (the fuzzer; -n) */
    pk_resolve_fn *resolve;   /* NULL: getaddrinfo */
    void *resolve_arg;
};

struct pk_targets;

PK_EXPORT struct pk_targets *pk_targets_new(const struct pk_target_opts *opts);
PK_EXPORT void pk_targets_free(struct pk_targets *t);

/* Adds (or, with exclude, removes) one target spec. Multicast and the
 * limited broadcast address are refused whatever the spec. */
PK_EXPORT int pk_targets_add(struct pk_targets *t, const char *spec, bool exclude, struct pk_err *err);
/* Several specs separated by blanks, commas or newlines, '#' starting a
 * comment to the end of the line: the text of -iL, --excludefile or an
 * --exclude list. `origin` names the source in error messages (a file
 * name, "--exclude"); errors carry the line number. */
PK_EXPORT int pk_targets_add_text(struct pk_targets *t, const char *text, size_t len, bool exclude,
                        const char *origin, struct pk_err *err);

/* Applies exclusions, sorts and de-duplicates. More than max_hosts hosts is
 * PK_EINVAL (the CLI passes 65536 unless --force); no host left at all is
 * PK_ENOTFOUND. Call once, before the accessors below. */
PK_EXPORT int pk_targets_finish(struct pk_targets *t, uint64_t max_hosts, struct pk_err *err);

PK_EXPORT uint64_t pk_targets_count(const struct pk_targets *t);
/* The index-th host in address order (index < count). */
PK_EXPORT void pk_targets_get(const struct pk_targets *t, uint64_t index, struct pk_addr *out);
/* The host name the user gave for that host, or NULL. */
PK_EXPORT const char *pk_targets_name(const struct pk_targets *t, uint64_t index);

#ifdef __cplusplus
}
#endif
#endif
