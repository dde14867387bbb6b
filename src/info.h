/* portkit info's text view, shared by cmd_info.c (queries, search) and
 * info_text.c (one port's block, labels in the chosen language, wrapping to
 * the terminal). */
#ifndef PORTKIT_INFO_H
#define PORTKIT_INFO_H

#include <stdbool.h>
#include <stdio.h>

#include "portkit/buf.h"
#include "portkit/frequency.h"
#include "portkit/hostinfo.h"
#include "portkit/portinfo.h"
#include "portkit/registry.h"

struct info_ctx {
    const struct pk_registry *reg;
    struct pk_hostinfo host;
    bool json;
    bool all;              /* --all: every port of a wide range */
    enum pk_lang lang;
    unsigned proto_filter; /* from -t/-u; 0 = none */
    unsigned width;        /* terminal columns to wrap to; 0 = do not wrap */
    unsigned rows;         /* terminal rows; 0 when not a terminal */
    struct pk_buf out;
    FILE *stream;
    /* colour codes for stream, looked up once (cli_sgr reads the environment) */
    const char *bold, *reset, *red, *dim, *cyan;
    /* nmap-services frequencies: looked up one by one for the first few
     * answers, then loaded whole once a batch or range makes that cheaper. */
    struct pk_frequency *freq;
    unsigned freq_lookups;
    bool freq_missing;
};

enum info_label {
    IL_RANGE, IL_PART_OF, IL_ALIASES, IL_KNOWN_AS, IL_NOTES, IL_ALT, IL_RISK, IL_IANA_USE,
    IL_IANA_NOTE, IL_DNS_SD, IL_SEEN, IL_SOURCE, IL_HOST, IL_COUNT
};
const char *info_label(enum info_label l, enum pk_lang lang);

/* Fills the colour codes above for c->stream. */
void info_init_colors(struct info_ctx *c);

/* The terminal's size for stream (COLUMNS/LINES, else TIOCGWINSZ); zeros
 * when stream is not a terminal. */
void info_term_size(FILE *stream, unsigned *cols, unsigned *rows);

/* Columns a UTF-8 string takes on a terminal (CJK counts two). */
size_t info_display_width(const char *s, size_t n);

/* One port's text block; freq < 0 means nmap has no figure. */
void info_render_text(struct info_ctx *c, const struct pk_portinfo *pi, double freq);

/* One line for a port in a trimmed wide range: name and the start of its
 * note or IANA description. */
void info_render_brief(struct info_ctx *c, const struct pk_portinfo *pi);

/* "80/tcp  http  ...snippet..." for --search: the part of the port's
 * names or notes that matched word. */
void info_render_match(struct info_ctx *c, const struct pk_portinfo *pi, const char *word);

#endif
