/* Everything portkit knows about one (port, transport): IANA entries,
 * curated note, range class and this host's view. `info`, `ls` and `scan`
 * all describe ports through it, so they agree. */
#ifndef PORTKIT_PORTINFO_H
#define PORTKIT_PORTINFO_H

#include "portkit/export.h"

#include <stdbool.h>
#include <stddef.h>

#include "portkit/buf.h"
#include "portkit/hostinfo.h"
#include "portkit/registry.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pk_portinfo {
    unsigned port;
    enum pk_proto proto;
    enum pk_range range;
    size_t first, count;      /* IANA entries for this (port, proto) in the registry */
    const char *name;         /* primary name: IANA's, else the curated one; NULL if none */
    const char *description;  /* IANA description of the primary entry, or "" */
    bool reserved;            /* IANA lists it as Reserved */
    bool official;            /* IANA assigns or reserves this (port, proto) */
    bool named;               /* IANA gives it a service name (not only Reserved) */
    bool has_note;
    struct pk_note note;
    bool has_range;           /* a curated range note covers it (X11 6000-6063) */
    struct pk_note range_note;
    bool ephemeral, privileged; /* this host */
};

PK_EXPORT void pk_portinfo_get(const struct pk_registry *reg, const struct pk_hostinfo *host, unsigned port,
                     enum pk_proto proto, struct pk_portinfo *out);
/* True if IANA or the notes say anything about this (port, proto). */
PK_EXPORT bool pk_portinfo_known(const struct pk_portinfo *pi);

/* Appends one JSON object (no newline) with the keys documented in
 * portkit(1): port, proto, range, name, aliases, description, notes, risk,
 * official, ephemeral, privileged, alt, reserved, unauthorized_use,
 * assignment_notes, note_kind, source, translations, range_note. */
PK_EXPORT void pk_portinfo_json(const struct pk_registry *reg, const struct pk_portinfo *pi, struct pk_buf *out);

#ifdef __cplusplus
}
#endif
#endif
