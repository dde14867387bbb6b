#include "util/csv.h"

#include <string.h>

void csv_init(struct csv_reader *c, const char *data, size_t len)
{
    memset(c, 0, sizeof *c);
    c->p = data;
    c->end = data + len;
    c->next_line = 1;
}

void csv_free(struct csv_reader *c)
{
    pk_buf_free(&c->scratch);
}

int csv_next(struct csv_reader *c, struct pk_err *err)
{
    if (c->p >= c->end)
        return 0;
    c->line = c->next_line;
    pk_buf_reset(&c->scratch);
    size_t starts[CSV_MAX_FIELDS];
    size_t n = 0;
    const char *p = c->p;
    for (;;) {
        size_t start = c->scratch.len;
        if (p < c->end && *p == '"') {
            size_t quote_line = c->next_line;
            p++;
            for (;;) {
                if (p >= c->end)
                    return pk_err_set(err, PK_EINVAL,
                                      "line %zu: quoted field never closed", quote_line);
                const char *q = memchr(p, '"', (size_t)(c->end - p));
                const char *stop = q ? q : c->end;
                for (const char *s = p; s < stop; s++)
                    if (*s == '\n')
                        c->next_line++;
                if (pk_buf_append(&c->scratch, p, (size_t)(stop - p)))
                    return pk_err_set(err, PK_ENOMEM, "out of memory");
                p = stop;
                if (!q)
                    continue; /* reports the unclosed quote above */
                p++;
                if (p < c->end && *p == '"') { /* "" is one literal quote */
                    pk_buf_putc(&c->scratch, '"');
                    p++;
                    continue;
                }
                break;
            }
            if (p < c->end && *p != ',' && *p != '\n' && *p != '\r')
                return pk_err_set(err, PK_EINVAL,
                                  "line %zu: unexpected character after closing quote",
                                  c->next_line);
        } else {
            const char *s = p;
            while (s < c->end && *s != ',' && *s != '\n' && *s != '\r')
                s++;
            if (pk_buf_append(&c->scratch, p, (size_t)(s - p)))
                return pk_err_set(err, PK_ENOMEM, "out of memory");
            p = s;
        }
        if (n < CSV_MAX_FIELDS) {
            starts[n] = start;
            c->len[n] = c->scratch.len - start;
            n++;
        }
        pk_buf_putc(&c->scratch, '\0');
        if (p < c->end && *p == ',') {
            p++;
            continue;
        }
        if (p < c->end && *p == '\r')
            p++;
        if (p < c->end && *p == '\n') {
            p++;
            c->next_line++;
        }
        break;
    }
    c->p = p;
    c->nfields = n;
    /* Pointers only now: the scratch buffer may have moved while growing. */
    for (size_t i = 0; i < n; i++)
        c->field[i] = c->scratch.data + starts[i];
    return 1;
}
