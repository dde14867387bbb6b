/* LISTEN/TARGET addresses and durations as `portkit forward` takes them. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "portkit/forward.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct pk_err err;
    for (int target = 0; target < 2; target++) {
        for (int proto = PK_TCP; proto <= PK_UDP; proto++) {
            struct pk_fw_addr a;
            if (pk_fw_addr_parse(s, size, (enum pk_proto)proto, target, NULL, PK_FW_NUMERIC, &a,
                                 &err) == 0) {
                char buf[PK_FW_ADDRSTRLEN];
                pk_fw_addr_format(&a, buf, sizeof buf);
                if (strlen(buf) >= sizeof buf - 1)
                    __builtin_trap();
                if (a.ss.ss_family != 2 /* AF_INET */ && a.ss.ss_family != 10 /* AF_INET6 */)
                    __builtin_trap();
                if (target && a.any)
                    __builtin_trap();
                /* A parsed address reads back as itself. */
                struct pk_fw_addr b;
                if (!a.any && pk_fw_addr_parse(buf, strlen(buf), (enum pk_proto)proto, target,
                                               NULL, PK_FW_NUMERIC, &b, &err) == 0 &&
                    !pk_fw_addr_equal(&a, &b))
                    __builtin_trap();
            }
        }
    }
    uint64_t ms;
    if (pk_fw_duration_parse(s, size, &ms, &err) == 0 && ms > 30ull * 24 * 3600 * 1000)
        __builtin_trap();
    struct pk_cidr c;
    pk_cidr_parse(s, size, &c, &err);
    return 0;
}
