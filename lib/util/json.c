#include "portkit/json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void pk_json_init(struct pk_json *j, struct pk_buf *out)
{
    j->out = out;
    j->depth = 0;
    j->first[0] = true;
}

static void member(struct pk_json *j, const char *key)
{
    if (!j->first[j->depth])
        pk_buf_putc(j->out, ',');
    j->first[j->depth] = false;
    if (key) {
        pk_json_escape(j->out, key, strlen(key));
        pk_buf_putc(j->out, ':');
    }
}

static void open_scope(struct pk_json *j, const char *key, char c)
{
    member(j, key);
    pk_buf_putc(j->out, c);
    if (j->depth + 1 < PK_JSON_MAX_DEPTH)
        j->depth++;
    j->first[j->depth] = true;
}

static void close_scope(struct pk_json *j, char c)
{
    pk_buf_putc(j->out, c);
    if (j->depth > 0)
        j->depth--;
}

void pk_json_obj_begin(struct pk_json *j, const char *key) { open_scope(j, key, '{'); }
void pk_json_obj_end(struct pk_json *j) { close_scope(j, '}'); }
void pk_json_arr_begin(struct pk_json *j, const char *key) { open_scope(j, key, '['); }
void pk_json_arr_end(struct pk_json *j) { close_scope(j, ']'); }

void pk_json_str(struct pk_json *j, const char *key, const char *s)
{
    if (!s) {
        pk_json_null(j, key);
        return;
    }
    pk_json_strn(j, key, s, strlen(s));
}

void pk_json_strn(struct pk_json *j, const char *key, const char *s, size_t n)
{
    member(j, key);
    pk_json_escape(j->out, s, n);
}

void pk_json_int(struct pk_json *j, const char *key, long long v)
{
    member(j, key);
    pk_buf_printf(j->out, "%lld", v);
}

void pk_json_double(struct pk_json *j, const char *key, double v, int decimals)
{
    member(j, key);
    if (!isfinite(v))
        pk_buf_puts(j->out, "null");
    else
        pk_buf_printf(j->out, "%.*f", decimals, v);
}

void pk_json_bool(struct pk_json *j, const char *key, bool v)
{
    member(j, key);
    pk_buf_puts(j->out, v ? "true" : "false");
}

void pk_json_null(struct pk_json *j, const char *key)
{
    member(j, key);
    pk_buf_puts(j->out, "null");
}

/* Length of a valid UTF-8 sequence at s (max n bytes), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; min = 0x10000; }
    else return 0;
    if (len > n)
        return 0;
    unsigned cp = c & (0xFF >> (len + 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

void pk_json_escape(struct pk_buf *out, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    pk_buf_reserve(out, n + 2);
    pk_buf_putc(out, '"');
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            pk_buf_putc(out, '\\');
            pk_buf_putc(out, (char)c);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            switch (c) {
            case '\n': pk_buf_puts(out, "\\n"); break;
            case '\r': pk_buf_puts(out, "\\r"); break;
            case '\t': pk_buf_puts(out, "\\t"); break;
            default: pk_buf_printf(out, "\\u%04x", c); break;
            }
            i++;
        } else if (c < 0x80) {
            /* Copy a run of plain ASCII at once: the common case. */
            size_t start = i;
            while (i < n && s[i] >= 0x20 && s[i] < 0x7F && s[i] != '"' && s[i] != '\\')
                i++;
            pk_buf_append(out, s + start, i - start);
        } else {
            size_t len = utf8_len(s + i, n - i);
            if (len) {
                pk_buf_append(out, s + i, len);
                i += len;
            } else {
                pk_buf_puts(out, "\\ufffd");
                i++;
            }
        }
    }
    pk_buf_putc(out, '"');
}
