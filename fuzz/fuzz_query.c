/* The `portkit info` query parser on arbitrary text. */
#include <stddef.h>
#include <stdint.h>

#include "portkit/query.h"
#include "portkit/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pk_query q;
    struct pk_err err;
    if (pk_query_parse((const char *)data, size, &q, &err) == 0) {
        if (q.kind == PK_QUERY_PORTS && (q.lo > q.hi || q.hi > 65535))
            __builtin_trap();
        if (q.kind == PK_QUERY_NAME) {
            struct pk_port_proto found[4];
            pk_registry_find_name(pk_registry_builtin(), q.name, found, 4);
        }
    }
    return 0;
}
