/* Reader for portkit's curated notes (the .txt files in data/notes; the
 * format is documented in data/notes/README.md):
 *
 *   # comment
 *   @ 80/tcp official          header: PORT[-PORT]/PROTO KIND; PROTO tcp|udp|tcp+udp|...
 *   name: http                 exactly one
 *   alias: www, World Wide Web optional, UTF-8, comma-separated, repeatable
 *   note: sentence...          one or more
 *   alt: 8080 8000 8008        optional, space-separated ports
 *   risk: trojan: NetBus       optional, repeatable; "risk: exploit/tcp: X" for one transport
 *   src: IANA; RFC 9110        where the facts come from
 *   display: http-alt          optional: the name scans and ls show instead of IANA's
 *
 *   (display: is optional)
 * A file whose first key is "lang: vi" (or zh) holds translations: headers
 * without KIND that repeat an English block's PORT[-PORT]/PROTO, and note:
 * lines only. Blocks are separated by headers; blank lines and comments are
 * ignored. */
#ifndef PORTKIT_NOTES_H
#define PORTKIT_NOTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portkit/buf.h"
#include "portkit/error.h"
#include "portkit/registry.h"

struct note_block {
    unsigned port, port_hi;  /* port_hi > port for a range block */
    unsigned proto_mask;     /* PK_PROTO_MASK bits */
    bool official;
    enum pk_lang lang;       /* PK_LANG_EN, or the translation file's language */
    const char *name;        /* "" in translation blocks */
    struct pk_buf text;      /* notes joined with '\n' */
    struct pk_buf risk;      /* risk lines joined with '\n', as written (may carry /proto) */
    struct pk_buf alias;     /* aliases, one per '\n'-separated item */
    struct pk_buf src;       /* "" when the block names no source */
    char display[64];        /* "" or the name scans and ls show instead of IANA's */
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

/* The risk lines of a block that apply to one transport, with any "/proto"
 * qualifier removed ("exploit/tcp: BlueKeep" -> "exploit: BlueKeep" for tcp,
 * nothing for udp). Appends to out; returns 0 or PK_ENOMEM. */
int notes_risk_for(const char *risk, enum pk_proto proto, struct pk_buf *out);

#endif
