/* A small JSON writer shared by every --json output. It appends to a
 * pk_buf and tracks commas, so callers only say what goes where. */
#ifndef PORTKIT_JSON_H
#define PORTKIT_JSON_H

#include "portkit/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portkit/buf.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PK_JSON_MAX_DEPTH 16

struct pk_json {
    struct pk_buf *out;
    int depth;
    bool first[PK_JSON_MAX_DEPTH]; /* no comma needed yet at this depth */
};

PK_EXPORT void pk_json_init(struct pk_json *j, struct pk_buf *out);

/* `key` is the member name inside an object, NULL for array elements and
 * the top-level value. */
PK_EXPORT void pk_json_obj_begin(struct pk_json *j, const char *key);
PK_EXPORT void pk_json_obj_end(struct pk_json *j);
PK_EXPORT void pk_json_arr_begin(struct pk_json *j, const char *key);
PK_EXPORT void pk_json_arr_end(struct pk_json *j);
PK_EXPORT void pk_json_str(struct pk_json *j, const char *key, const char *s); /* s NULL → null */
PK_EXPORT void pk_json_strn(struct pk_json *j, const char *key, const char *s, size_t n);
PK_EXPORT void pk_json_int(struct pk_json *j, const char *key, long long v);
PK_EXPORT void pk_json_double(struct pk_json *j, const char *key, double v, int decimals);
PK_EXPORT void pk_json_bool(struct pk_json *j, const char *key, bool v);
PK_EXPORT void pk_json_null(struct pk_json *j, const char *key);

/* Appends s as a quoted JSON string, escaping quotes, backslashes, control
 * bytes and invalid UTF-8 (replaced by U+FFFD) so output always parses. */
PK_EXPORT void pk_json_escape(struct pk_buf *out, const char *s, size_t n);

#ifdef __cplusplus
}
#endif
#endif
