/* The one duration grammar (every verb's timeouts, forward's config) on
 * arbitrary text: never past its bound, and an error message never carries
 * a control byte from the input. */
#include <stddef.h>
#include <stdint.h>

#include "portkit/duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t bound = size ? (uint64_t)data[0] * 60000 : 0;
    uint64_t ms = 0;
    struct pk_err err = {0};
    const char *text = (const char *)data + (size ? 1 : 0);
    size_t len = size ? size - 1 : 0;
    if (pk_duration_parse(text, len, bound, &ms, &err) == 0) {
        if (ms > (bound ? bound : PK_DURATION_MAX_MS))
            __builtin_trap();
    } else {
        for (const char *m = err.msg; *m; m++)
            if ((unsigned char)*m < 0x20 || *m == 0x7f)
                __builtin_trap();
    }
    return 0;
}
