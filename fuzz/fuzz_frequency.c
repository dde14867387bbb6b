/* The nmap-services reader on arbitrary text. */
#include <stddef.h>
#include <stdint.h>

#include "portkit/frequency.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pk_frequency *f = NULL;
    if (pk_frequency_parse((const char *)data, size, "fuzz", &f, NULL) == 0) {
        uint16_t top[8];
        pk_frequency_top(f, PK_TCP, 8, top);
        pk_frequency_free(f);
    }
    return 0;
}
