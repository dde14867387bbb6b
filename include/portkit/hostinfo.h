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

#ifdef __cplusplus
}
#endif
#endif
