/* How often each port is found open on the Internet, from nmap's
 * nmap-services file when nmap is installed. portkit never ships that file
 * (its licence forbids it); it reads the installed one at run time. */
#ifndef PORTKIT_FREQUENCY_H
#define PORTKIT_FREQUENCY_H

#include "portkit/export.h"

#include <stddef.h>
#include <stdint.h>

#include "portkit/error.h"
#include "portkit/registry.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PK_NMAP_SERVICES_PATH "/usr/share/nmap/nmap-services"

struct pk_frequency;

/* Loads path (NULL: PK_NMAP_SERVICES_PATH). PK_ENOTFOUND when the file does
 * not exist (nmap not installed); PK_EINVAL names file:line of a bad line. */
PK_EXPORT int pk_frequency_load(const char *path, struct pk_frequency **out, struct pk_err *err);
/* The same from memory (tests, fuzzing). */
PK_EXPORT int pk_frequency_parse(const char *text, size_t len, const char *source, struct pk_frequency **out,
                       struct pk_err *err);
PK_EXPORT void pk_frequency_free(struct pk_frequency *f);

/* Fraction of scanned hosts with this port open (0..1), or -1 when nmap
 * lists no figure for it ("no data", which is not 0 %). */
PK_EXPORT double pk_frequency_get(const struct pk_frequency *f, unsigned port, enum pk_proto proto);
/* One lookup without loading the whole table (a few hundred microseconds
 * instead of milliseconds): for answering a handful of ports. Returns 0 and
 * sets *freq (-1 if unlisted), or PK_ENOTFOUND if the file is missing. */
PK_EXPORT int pk_frequency_lookup(const char *path, unsigned port, enum pk_proto proto, double *freq,
                        struct pk_err *err);
/* Writes the n most frequently open ports of a transport, most frequent
 * first (ties by lower port); returns how many were written. */
PK_EXPORT size_t pk_frequency_top(const struct pk_frequency *f, enum pk_proto proto, size_t n, uint16_t *out);

#ifdef __cplusplus
}
#endif
#endif
