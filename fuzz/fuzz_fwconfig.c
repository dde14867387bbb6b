/* The `portkit forward -c` config parser on arbitrary text. Host names are
 * never resolved here (PK_FW_NUMERIC): a fuzzer must not send DNS queries. */
#include <stddef.h>
#include <stdint.h>

#include "portkit/forward.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pk_fw_config *cfg = pk_fw_config_new();
    if (!cfg)
        return 0;
    struct pk_err err;
    int rc = pk_fw_config_parse(cfg, (const char *)data, size, "fuzz.conf", NULL, NULL,
                                PK_FW_NUMERIC, &err);
    /* Whatever parsed must be usable: formatting every rule and matching
     * every allow/deny list against its own target must not misbehave. */
    for (size_t i = 0; i < pk_fw_config_count(cfg); i++) {
        const struct pk_fw_rule *r = pk_fw_config_rule(cfg, i);
        char buf[PK_FW_ADDRSTRLEN];
        pk_fw_addr_format(&r->listen, buf, sizeof buf);
        pk_fw_addr_format(&r->target, buf, sizeof buf);
        if (r->proto != PK_TCP && r->proto != PK_UDP)
            __builtin_trap();
        if (r->target.any || r->connect_timeout_ms == 0)
            __builtin_trap();
        pk_acl_permits(r->acl, (const struct sockaddr *)&r->target.ss);
        pk_acl_permits(pk_fw_config_acl_const(cfg), (const struct sockaddr *)&r->listen.ss);
    }
    if (rc < 0 && err.msg[0] == '\0')
        __builtin_trap(); /* every error names what was wrong */
    pk_fw_config_free(cfg);
    return 0;
}
