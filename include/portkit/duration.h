/* One grammar for every duration portkit accepts, on the command line and
 * in config files: a number with an optional fraction and a unit, ms, s, m
 * or h ("500ms", "2s", "1.5s", "10m"). A bare number is seconds, as in nmap
 * and rinetd. */
#ifndef PORTKIT_DURATION_H
#define PORTKIT_DURATION_H

#include "portkit/export.h"

#include <stddef.h>
#include <stdint.h>

#include "portkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The longest duration accepted when the caller gives no bound: thirty
 * days, long enough for any timeout, short enough that microsecond
 * arithmetic on it never overflows. */
#define PK_DURATION_MAX_MS (30ull * 24 * 3600 * 1000)

/* Parses s[0..len) into milliseconds (fractions below 1 ms round down).
 * max_ms 0 means PK_DURATION_MAX_MS. PK_EINVAL with a one-line message
 * quoting s safely when it is malformed or longer than the bound. */
PK_EXPORT int pk_duration_parse(const char *s, size_t len, uint64_t max_ms, uint64_t *ms,
                                struct pk_err *err);

#ifdef __cplusplus
}
#endif
#endif
