/* The port registry: IANA's Service Name and Transport Protocol Port Number
 * Registry plus portkit's curated notes (alternate ports, de-facto uses,
 * trojan/backdoor risk). The compiled-in table needs no file at run time;
 * pk_registry_load_csv builds the same structure from a newer IANA CSV. */
#ifndef PORTKIT_REGISTRY_H
#define PORTKIT_REGISTRY_H

#include "portkit/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portkit/addr.h"
#include "portkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    PK_SVC_RESERVED = 1u << 0, /* IANA lists the port as Reserved */
    PK_SVC_ALIAS = 1u << 1,    /* not the first name IANA gives this port/proto */
};

/* One IANA assignment of a (port, transport). Strings point into the
 * registry and live as long as it does; absent fields are "". */
struct pk_service {
    uint16_t port;
    enum pk_proto proto;
    unsigned flags;
    const char *name;        /* "" for Reserved rows */
    const char *description;
    const char *unauthorized_use; /* IANA "Unauthorized Use Reported" */
    const char *assignment_notes; /* IANA "Assignment Notes" (may hold '\n') */
};

#define PK_NOTE_MAX_ALT 24

/* portkit's curated note on a (port, transport). */
struct pk_note {
    uint16_t port;
    enum pk_proto proto;
    bool official;      /* the use IANA assigned, versus a de-facto one */
    const char *name;   /* short service keyword, e.g. "mongodb" */
    const char *text;   /* one or more sentences, '\n' between notes */
    const char *risk;   /* "" or lines "KIND: names", '\n' between them */
    uint16_t alt[PK_NOTE_MAX_ALT];
    size_t nalt;
};

struct pk_registry;

/* The table compiled into the library; never freed. */
PK_EXPORT const struct pk_registry *pk_registry_builtin(void);

/* Builds a registry from an IANA CSV file. Curated notes come from the note
 * files given, or when nnote_paths is 0 from the compiled-in table. */
PK_EXPORT int pk_registry_load_csv(const char *csv_path, const char *const *note_paths, size_t nnote_paths,
                         struct pk_registry **out, struct pk_err *err);
/* The same from memory (used by the build-time generator, tests and fuzzers).
 * notes_text may be NULL (no notes). */
PK_EXPORT int pk_registry_from_text(const char *csv, size_t csv_len, const char *notes_text,
                          size_t notes_len, struct pk_registry **out, struct pk_err *err);
PK_EXPORT void pk_registry_free(struct pk_registry *reg);

/* All IANA entries, sorted by port, then transport, then IANA's order. */
PK_EXPORT size_t pk_registry_count(const struct pk_registry *reg);
PK_EXPORT void pk_registry_get(const struct pk_registry *reg, size_t index, struct pk_service *out);
/* Entries for one port: returns how many and sets *first to the index of the
 * first. Filter by transport with pk_service.proto. */
PK_EXPORT size_t pk_registry_port(const struct pk_registry *reg, unsigned port, size_t *first);
/* The primary IANA name of (port, proto), or NULL when it has none. Fast:
 * meant for annotating thousands of sockets or scan results. */
PK_EXPORT const char *pk_registry_name(const struct pk_registry *reg, unsigned port, enum pk_proto proto);

/* Curated notes, sorted by port then transport. */
PK_EXPORT size_t pk_registry_note_count(const struct pk_registry *reg);
PK_EXPORT void pk_registry_note_get(const struct pk_registry *reg, size_t index, struct pk_note *out);
PK_EXPORT bool pk_registry_note(const struct pk_registry *reg, unsigned port, enum pk_proto proto,
                      struct pk_note *out);
/* True when the curated notes flag (port, proto) as a trojan/backdoor/worm port. */
PK_EXPORT bool pk_registry_is_risky(const struct pk_registry *reg, unsigned port, enum pk_proto proto);

/* Where does a service live: every (port, proto) whose IANA name or curated
 * name equals `name` (case-insensitive). Writes up to max matches, returns
 * the total; ports come sorted and without duplicates. */
struct pk_port_proto {
    uint16_t port;
    enum pk_proto proto;
};
PK_EXPORT size_t pk_registry_find_name(const struct pk_registry *reg, const char *name,
                             struct pk_port_proto *out, size_t max);
/* Resolves a service name to a port for one transport (e.g. "http" → 80 for
 * tcp): the lowest port carrying that name. Returns 0 and sets *port, or
 * PK_ENOTFOUND. Used by port specs (scan -p http) and forward (:http). */
PK_EXPORT int pk_registry_resolve(const struct pk_registry *reg, const char *name, enum pk_proto proto,
                        unsigned *port);

/* Search words in names, descriptions, IANA notes and curated notes
 * (case-insensitive substring). Returns the total number of matching
 * (port, proto) pairs, writing up to max. */
PK_EXPORT size_t pk_registry_search(const struct pk_registry *reg, const char *word,
                          struct pk_port_proto *out, size_t max);

#ifdef __cplusplus
}
#endif
#endif
