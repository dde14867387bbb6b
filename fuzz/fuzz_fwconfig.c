/* The `portkit forward -c` config parser on arbitrary text, and its writer:
 * whatever parses must print as a config that parses back to the same
 * text (parse → print → parse is stable). Host names are never resolved
 * (PK_FW_NUMERIC: a fuzzer must not send DNS queries) and include lines are
 * refused (PK_FW_NO_INCLUDE: no file access). Rules marked `kernel` also go
 * through the nft script writer of forward --kernel. */
#include <stddef.h>
#include <stdint.h>

#include <string.h>

#include "portkit/buf.h"
#include "portkit/forward.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pk_fw_config *cfg = pk_fw_config_new();
    if (!cfg)
        return 0;
    struct pk_err err;
    const unsigned flags = PK_FW_NUMERIC | PK_FW_NO_INCLUDE;
    int rc = pk_fw_config_parse(cfg, (const char *)data, size, "fuzz.conf", NULL, NULL, flags,
                                &err);
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
    if (rc == 0 && pk_fw_config_count(cfg) <= 8) {
        /* The nft script for the `kernel` rules: written or refused with a
         * reason, never half. (Bounded: judging a target looks at this
         * host's interfaces.) */
        struct pk_buf nft = PK_BUF_INIT;
        int krc = pk_fw_kernel_ruleset(cfg, "portkit_fwd_1", 1, "fuzz", &nft, &err);
        if (krc < 0 && (err.msg[0] == '\0' || nft.len))
            __builtin_trap();
        pk_buf_free(&nft);
    }
    if (rc == 0) {
        struct pk_buf first = PK_BUF_INIT, second = PK_BUF_INIT;
        struct pk_fw_config *again = pk_fw_config_new();
        if (again && pk_fw_config_format(cfg, &first) == 0) {
            if (pk_fw_config_parse(again, first.data ? first.data : "", first.len, "printed",
                                   NULL, NULL, flags, &err) < 0)
                __builtin_trap(); /* what -n prints must parse */
            if (pk_fw_config_format(again, &second) == 0 &&
                (first.len != second.len ||
                 (first.len && memcmp(first.data, second.data, first.len) != 0)))
                __builtin_trap(); /* and print the same again */
        }
        pk_fw_config_free(again);
        pk_buf_free(&first);
        pk_buf_free(&second);
    }
    pk_fw_config_free(cfg);
    return 0;
}
