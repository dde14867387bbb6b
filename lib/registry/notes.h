/* Reader for portkit's curated notes (the .txt files in data/notes). The format:
 *
 *   # comment
 *   @ 80/tcp official          header: PORT/PROTO KIND; PROTO tcp|udp|tcp+udp|...
 *   name: http                 exactly one
 *   note: sentence...          one or more
 *   alt: 8080 8000 8008        optional, space-separated ports
 *   risk: trojan: NetBus       optional, repeatable
 *
 * Blocks are separated by headers; blank lines and comments are ignored. */
#ifndef PORTKIT_NOTES_H
#define PORTKIT_NOTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portkit/buf.h"
#include "portkit/error.h"
#include "portkit/registry.h"

struct note_block {
    unsigned port;
    unsigned proto_mask;     /* PK_PROTO_MASK bits */
    bool official;
    const char *name;
    struct pk_buf text;      /* notes joined with '\n' */
    struct pk_buf risk;      /* risk lines joined with '\n' */
    uint16_t alt[PK_NOTE_MAX_ALT];
    size_t nalt;
    size_t line;             /* header line, for messages */
};

/* Called once per complete block; a non-zero return stops parsing and is
 * returned by notes_parse. */
typedef int pk_note_fn(const struct note_block *block, void *arg, struct pk_err *err);

/* Parses text; `source` names it in messages ("notes.txt:12: ..."). */
int notes_parse(const char *text, size_t len, const char *source, pk_note_fn *fn, void *arg,
                   struct pk_err *err);

#endif
