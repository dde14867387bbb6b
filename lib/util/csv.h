/* An RFC 4180 CSV reader over a buffer in memory: quoted fields, doubled
 * quotes, commas and line breaks inside quotes, CRLF or LF line ends. */
#ifndef PORTKIT_CSV_H
#define PORTKIT_CSV_H

#include <stddef.h>

#include "portkit/buf.h"
#include "portkit/error.h"

#define PK_CSV_MAX_FIELDS 32

struct pk_csv {
    const char *p, *end;
    size_t line;             /* line where the current row started, 1-based */
    size_t next_line;
    struct pk_buf scratch;   /* unescaped fields of the current row, NUL-separated */
    const char *field[PK_CSV_MAX_FIELDS];
    size_t len[PK_CSV_MAX_FIELDS];
    size_t nfields;          /* fields beyond PK_CSV_MAX_FIELDS are dropped */
};

void pk_csv_init(struct pk_csv *c, const char *data, size_t len);
/* Reads the next row into c->field/len/nfields. Returns 1 for a row, 0 at
 * the end, or PK_EINVAL (message names the line) for malformed quoting. */
int pk_csv_next(struct pk_csv *c, struct pk_err *err);
void pk_csv_free(struct pk_csv *c);

#endif
