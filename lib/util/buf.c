#include "portkit/buf.h"
#include "portkit/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pk_buf_reserve(struct pk_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return PK_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
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
