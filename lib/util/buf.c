#include "portkit/buf.h"
#include "portkit/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pk_array_reserve(void *items_ptr, size_t *cap, size_t need, size_t elem_size, size_t first)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : (first ? first : 8);
    while (c < need) {
        if (c > SIZE_MAX / 2)
            return PK_ENOMEM;
        c *= 2;
    }
    if (elem_size && c > SIZE_MAX / elem_size)
        return PK_ENOMEM;
    /* items_ptr is a T **: go through memcpy so any T works without casts
     * at every call site. */
    void *items;
    memcpy(&items, items_ptr, sizeof items);
    void *p = realloc(items, c * elem_size);
    if (!p)
        return PK_ENOMEM;
    memcpy(items_ptr, &p, sizeof p);
    *cap = c;
    return 0;
}

int pk_buf_reserve(struct pk_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return PK_ENOMEM;
    return pk_array_reserve(&b->data, &b->cap, b->len + extra + 1, 1, 256);
}

int pk_buf_append_slow(struct pk_buf *b, const void *data, size_t len)
{
    if (pk_buf_reserve(b, len))
        return PK_ENOMEM;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int pk_buf_puts(struct pk_buf *b, const char *s)
{
    return pk_buf_append(b, s, strlen(s));
}

int pk_buf_vprintf(struct pk_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return PK_EINVAL;
    if ((size_t)n >= room) {
        if (pk_buf_reserve(b, (size_t)n))
            return PK_ENOMEM;
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    }
    b->len += (size_t)n;
    return 0;
}

int pk_buf_printf(struct pk_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = pk_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void pk_buf_reset(struct pk_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void pk_buf_free(struct pk_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
