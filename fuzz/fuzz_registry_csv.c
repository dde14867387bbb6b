/* Feeds arbitrary bytes as an IANA CSV through the same builder that
 * --registry uses, then exercises lookups on whatever it built. */
#include <stddef.h>
#include <stdint.h>

#include "portkit/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pk_registry *reg = NULL;
    struct pk_err err;
    if (pk_registry_from_text((const char *)data, size, NULL, 0, &reg, &err) == 0) {
        struct pk_port_proto found[4];
        for (size_t i = 0; i < pk_registry_count(reg) && i < 64; i++) {
            struct pk_service s;
            pk_registry_get(reg, i, &s);
            pk_registry_name(reg, s.port, s.proto);
            if (s.name[0])
                pk_registry_find_name(reg, s.name, found, 4);
        }
        pk_registry_search(reg, "a", found, 4);
        pk_registry_free(reg);
    }
    return 0;
}
