/* The registry's in-memory layout, shared by the lookups (registry.c), the
 * builder (registry_build.c) and the table the build generates. Strings are
 * offsets into one pool; offset 0 is the empty string. */
#ifndef PORTKIT_REGISTRY_IMPL_H
#define PORTKIT_REGISTRY_IMPL_H

#include <stdint.h>

#include "portkit/registry.h"

struct reg_entry {
    uint16_t port;
    uint8_t proto;
    uint8_t flags;
    uint32_t name, desc, unauth, anotes;
};

struct reg_note {
    uint16_t port, port_hi; /* port_hi > port for a range note */
    uint8_t proto;
    uint8_t official;
    uint16_t risky;         /* a trojan/backdoor line, flagged in scans and ls */
    uint32_t name, text, risk, alias, src, display;
    uint32_t tr[PK_LANG_COUNT]; /* translations; [PK_LANG_EN] unused (text) */
    uint32_t alt_first; /* index into alts */
    uint16_t nalt;
};

struct pk_registry {
    const char *pool;
    uint32_t pool_len;
    const struct reg_entry *entries; /* sorted: port, proto, IANA order */
    uint32_t nentries;
    const uint32_t *by_name;            /* entry indices, sorted by name (ASCII case-folded) */
    uint32_t nby_name;
    const struct reg_note *notes;    /* sorted: port, proto */
    uint32_t nnotes;
    const struct reg_note *ranges;   /* range notes, sorted: start, proto */
    uint32_t nranges;
    const uint16_t *alts;
    uint32_t nalts;
    int owned;                          /* built at run time: free the arrays */
};

int reg_name_cmp(const char *a, const char *b); /* ASCII case-insensitive */

#endif
