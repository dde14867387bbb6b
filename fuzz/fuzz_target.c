/* The scan target parser (command line, -iL and --exclude lists) on
 * arbitrary text. Names are never resolved here. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "portkit/target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    struct pk_target_opts o = {.no_resolve = true};
    if (size && (data[0] & 3) == 1)
        o.family = AF_INET;
    else if (size && (data[0] & 3) == 2)
        o.family = AF_INET6;
    struct pk_targets *t = pk_targets_new(&o);
    if (!t)
        return 0;
    struct pk_err err = {0};
    /* The first line holds targets, the rest exclusions. */
    const char *text = (const char *)data;
    const char *nl = memchr(text, '\n', size);
    size_t first = nl ? (size_t)(nl - text) : size;
    int rc = pk_targets_add_text(t, text, first, false, "fuzz", &err);
    if (rc == 0 && nl)
        rc = pk_targets_add_text(t, nl + 1, size - first - 1, true, "fuzz", &err);
    if (rc == 0)
        rc = pk_targets_finish(t, 1u << 20, &err);
    if (rc == 0) {
        uint64_t n = pk_targets_count(t);
        struct pk_addr prev, a;
        for (uint64_t i = 0; i < n && i < 64; i++) {
            pk_targets_get(t, i, &a);
            if (i && pk_addr_cmp(&prev, &a) >= 0)
                __builtin_trap(); /* sorted, no duplicates */
            char buf[PK_ADDR_STRLEN];
            pk_addr_format(&a, buf, sizeof buf);
            prev = a;
        }
        if (n)
            pk_targets_get(t, n - 1, &a);
    } else if (!err.msg[0] || strchr(err.msg, '\n')) {
        __builtin_trap();
    }
    pk_targets_free(t);
    return 0;
}
