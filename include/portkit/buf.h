/* A growable byte buffer: how the library hands text (JSON, rendered rows)
 * back to a caller without printing it itself. */
#ifndef PORTKIT_BUF_H
#define PORTKIT_BUF_H

#include "portkit/export.h"

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pk_buf {
    char *data;   /* always NUL-terminated once anything was appended */
    size_t len;
    size_t cap;
};

#define PK_BUF_INIT {0, 0, 0}

/* All appenders return 0 or PK_ENOMEM; on failure the buffer is unchanged. */
PK_EXPORT int pk_buf_reserve(struct pk_buf *b, size_t extra);
PK_EXPORT int pk_buf_append_slow(struct pk_buf *b, const void *data, size_t len);
PK_EXPORT int pk_buf_puts(struct pk_buf *b, const char *s);

/* Inline fast paths: JSON and table rendering append millions of small
 * pieces, and a call per byte shows up in profiles. */
static inline int pk_buf_append(struct pk_buf *b, const void *data, size_t len)
{
    if (b->len + len + 1 > b->cap)
        return pk_buf_append_slow(b, data, len);
    __builtin_memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

static inline int pk_buf_putc(struct pk_buf *b, char c)
{
    if (b->len + 2 > b->cap)
        return pk_buf_append_slow(b, &c, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
    return 0;
}
PK_EXPORT int pk_buf_printf(struct pk_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
PK_EXPORT int pk_buf_vprintf(struct pk_buf *b, const char *fmt, va_list ap);
PK_EXPORT void pk_buf_reset(struct pk_buf *b);   /* len = 0, keeps memory */
PK_EXPORT void pk_buf_free(struct pk_buf *b);

/* Growable arrays: makes room for `need` elements of elem_size bytes in the
 * array whose address is items_ptr (a T **) and whose capacity is *cap,
 * doubling from `first`, overflow-checked. Returns 0 or PK_ENOMEM; on failure
 * the array and *cap are unchanged. Use through PK_ARRAY_RESERVE. */
PK_EXPORT int pk_array_reserve(void *items_ptr, size_t *cap, size_t need, size_t elem_size,
                               size_t first);
#define PK_ARRAY_RESERVE(items, cap, need, first) \
    pk_array_reserve(&(items), &(cap), (need), sizeof *(items), (first))

#ifdef __cplusplus
}
#endif
#endif
