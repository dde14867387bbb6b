/* Facts about ports on THIS host that the kernel decides: which ports it
 * hands out as ephemeral source ports and below which binding needs
 * privilege. */
#ifndef PORTKIT_HOSTINFO_H
#define PORTKIT_HOSTINFO_H

#include "portkit/export.h"

#include <stdbool.h>

#include "portkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pk_hostinfo {
    unsigned ephemeral_lo, ephemeral_hi;   /* net.ipv4.ip_local_port_range */
    unsigned unprivileged_start;           /* net.ipv4.ip_unprivileged_port_start */
    bool known;                            /* false: defaults assumed (no /proc) */
};

/* Reads /proc/sys; when it cannot, fills Linux defaults (32768-60999, 1024),
 * sets known = false and still returns 0. */
PK_EXPORT int pk_hostinfo_read(struct pk_hostinfo *hi, struct pk_err *err);
/* Same, from other files (for tests); NULL means the default path. */
PK_EXPORT int pk_hostinfo_read_from(struct pk_hostinfo *hi, const char *range_path, const char *unpriv_path,
                          struct pk_err *err);
PK_EXPORT bool pk_hostinfo_is_ephemeral(const struct pk_hostinfo *hi, unsigned port);
PK_EXPORT bool pk_hostinfo_is_privileged(const struct pk_hostinfo *hi, unsigned port);

/* Capability numbers (linux/capability.h) portkit asks about. */
enum { PK_CAP_NET_BIND_SERVICE = 10, PK_CAP_NET_ADMIN = 12, PK_CAP_NET_RAW = 13 };

/* True when this process holds capability cap in its effective set (from
 * /proc/self/status). Asked before calls that would fail noisily (libnftables
 * prints its own refusals) or to explain a refusal. When the set cannot be
 * read, true for root and false otherwise, so the real call decides. */
PK_EXPORT bool pk_have_capability(unsigned cap);

#ifdef __cplusplus
}
#endif
#endif
