/* The scan port-spec parser (-p, --exclude-ports) on arbitrary text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "portkit/portspec.h"
#include "portkit/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *spec = malloc(size + 1);
    if (!spec)
        return 0;
    memcpy(spec, data, size);
    spec[size] = '\0';
    struct pk_ports *p = pk_ports_new();
    struct pk_err err = {0};
    unsigned named = 0;
    unsigned defaults = size && (data[0] & 1) ? PK_PROTO_MASK(PK_UDP) : PK_PROTO_MASK(PK_TCP);
    int rc = pk_ports_parse(p, spec, pk_registry_builtin(), defaults, &named, &err);
    if (rc == 0) {
        /* whatever parsed must be a consistent set */
        size_t n = pk_ports_count(p, PK_TCP);
        uint16_t *list = malloc((n + 1) * sizeof *list);
        if (pk_ports_list(p, PK_TCP, list, n) != n)
            __builtin_trap();
        for (size_t i = 1; i < n; i++)
            if (list[i] <= list[i - 1])
                __builtin_trap();
        free(list);
        struct pk_buf b = PK_BUF_INIT;
        pk_ports_format(p, PK_UDP, &b);
        pk_buf_free(&b);
    } else if (rc != PK_EINVAL || !err.msg[0] || strchr(err.msg, '\n')) {
        __builtin_trap(); /* bad input gets exactly one line */
    }
    pk_ports_free(p);
    free(spec);
    return 0;
}
