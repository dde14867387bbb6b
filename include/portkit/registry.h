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

/* Languages the curated notes are written in. English is complete; the
 * others translate some notes and fall back to English per note. */
enum pk_lang { PK_LANG_EN = 0, PK_LANG_VI = 1, PK_LANG_ZH = 2, PK_LANG_COUNT };
/* "en", "vi", "zh" (also locale forms: "vi_VN.UTF-8", "zh_CN", "C" = en).
 * Returns 0 and sets *out, or PK_EINVAL. */
PK_EXPORT int pk_lang_parse(const char *s, enum pk_lang *out);
/* The language of the environment: LC_ALL, then LC_MESSAGES, then LANG;
 * English when none names vi or zh. */
PK_EXPORT enum pk_lang pk_lang_from_env(void);
PK_EXPORT const char *pk_lang_code(enum pk_lang lang); /* "en", "vi", "zh" */

/* portkit's curated note on a (port, transport), or on a range of ports
 * (range_lo < range_hi) that the port falls in. */
struct pk_note {
    uint16_t port;
    enum pk_proto proto;
    bool official;      /* the use IANA assigned, versus a de-facto one */
    const char *name;   /* short service keyword, e.g. "mongodb" */
    const char *text;   /* English: one or more sentences, '\n' between notes */
    const char *risk;   /* "" or lines "KIND: names", '\n' between them; only this transport's */
    const char *aliases; /* "" or UTF-8 names people use, '\n' between them */
    const char *source; /* "" or where the facts come from ("IANA; RFC 9110") */
    const char *display; /* "" or the name scans and ls show instead of IANA's */
    const char *translation[PK_LANG_COUNT]; /* [PK_LANG_EN] = text; others "" when untranslated */
    uint16_t range_lo, range_hi; /* equal to port for a single-port note */
    uint16_t alt[PK_NOTE_MAX_ALT];
    size_t nalt;
};

/* The note's text in lang, falling back to English. Range notes may carry
 * "{port}" and "{off}" (port - range_lo): pk_note_render expands them for
 * one port into buf (always NUL-terminated, cut to size). */
PK_EXPORT const char *pk_note_text(const struct pk_note *note, enum pk_lang lang);
PK_EXPORT void pk_note_render(const char *text, unsigned port, unsigned range_lo, char *buf, size_t size);

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
/* The narrowest curated range note covering (port, proto), e.g. X11's
 * 6000-6063 for 6005. False when no range covers it. */
PK_EXPORT bool pk_registry_range_note(const struct pk_registry *reg, unsigned port, enum pk_proto proto,
                                      struct pk_note *out);
/* Number of curated range blocks, and one of them (sorted by start). */
PK_EXPORT size_t pk_registry_range_count(const struct pk_registry *reg);
PK_EXPORT void pk_registry_range_get(const struct pk_registry *reg, size_t index, struct pk_note *out);

/* The name to show for (port, proto) in scan and socket listings: the
 * curated display name where the notes give one (http-alt for 8000, where
 * people and nmap know the port by its de-facto use; BackOrifice for
 * 31337/udp), else IANA's primary name, else the curated name, else NULL.
 * `info` and JSON keep IANA's name (pk_registry_name). */
PK_EXPORT const char *pk_registry_display_name(const struct pk_registry *reg, unsigned port,
                                               enum pk_proto proto);

/* Whether a scan or socket listing should flag (port, proto) as RISK: the
 * notes say a trojan or backdoor used this port as its own (not a worm or
 * exploit against a legitimate service, nor malware hiding on ftp or http),
 * and `listener` - the detected service or program name, NULL when unknown -
 * is not a legitimate service known for the port (its IANA names, its
 * curated name or aliases). */
PK_EXPORT bool pk_registry_risk_flag(const struct pk_registry *reg, unsigned port, enum pk_proto proto,
                                     const char *listener);
/* pk_registry_risk_flag with an unknown listener. */
PK_EXPORT bool pk_registry_is_risky(const struct pk_registry *reg, unsigned port, enum pk_proto proto);

/* Where does a service live: every (port, proto) whose IANA name, curated
 * name or curated alias equals `name` (case and accents folded). Writes up to max matches, returns
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

/* Search words in names, aliases, descriptions, IANA notes and curated
 * notes in every language, folding case, accents and full-width forms
 * (pk_text_find), so "vo lam" finds "Võ Lâm". A matching range note is
 * reported once, at the range's first port. Returns the total number of matching
 * (port, proto) pairs, writing up to max. */
PK_EXPORT size_t pk_registry_search(const struct pk_registry *reg, const char *word,
                          struct pk_port_proto *out, size_t max);

/* Folded, case- and accent-insensitive substring search in UTF-8 text:
 * Latin letters lose their diacritics (Vietnamese included, đ -> d),
 * full-width forms become ASCII, ASCII folds to lower case; other scripts
 * compare as they are. Returns the start of the first match in hay and
 * sets *match_len to its length in hay's bytes, or NULL. */
PK_EXPORT const char *pk_text_find(const char *hay, const char *needle, size_t *match_len);

#ifdef __cplusplus
}
#endif
#endif
