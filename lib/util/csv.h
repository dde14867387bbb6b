/* An RFC 4180 CSV reader over a buffer in memory: quoted fields, doubled
 * quotes, commas and line breaks inside quotes, CRLF or LF line ends. */
#ifndef PORTKIT_CSV_H
#define PORTKIT_CSV_H

#include <stddef.h>

#include "portkit/buf.h"
#include "portkit/error.h"

#define CSV_MAX_FIELDS 32

struct csv_reader {
    const char *p, *end;
    size_t line;             /* line where the current row started, 1-based */
    size_t next_line;
    struct pk_buf scratch;   /* unescaped fields of the current row, NUL-separated */
    const char *field[CSV_MAX_FIELDS];
    size_t len[CSV_MAX_FIELDS];
    size_t nfields;          /* fields beyond CSV_MAX_FIELDS are dropped */
};

void csv_init(struct csv_reader *c, const char *data, size_t len);
/* Reads the next row into c->field/len/nfields. Returns 1 for a row, 0 at
 * the end, or PK_EINVAL (message names the line) for malformed quoting. */
int csv_next(struct csv_reader *c, struct pk_err *err);
void csv_free(struct csv_reader *c);

#endif
