/* The curated-notes parser, through the registry builder (duplicate checks
 * and interning included). */
#include <stddef.h>
#include <stdint.h>

#include "portkit/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char csv[] = "Service Name,Port Number,Transport Protocol,Description\nhttp,80,tcp,WWW\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pk_registry *reg = NULL;
    struct pk_err err;
    if (pk_registry_from_text(csv, sizeof csv - 1, (const char *)data, size, &reg, &err) == 0) {
        for (size_t i = 0; i < pk_registry_note_count(reg); i++) {
            struct pk_note n;
            pk_registry_note_get(reg, i, &n);
            pk_registry_is_risky(reg, n.port, n.proto);
        }
        pk_registry_free(reg);
    }
    return 0;
}
