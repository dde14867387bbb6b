/* How a rule is named in explanations: "inet filter/input handle 7: tcp
 * dport 22 accept", with nft's own text of the rule when it was read. */
#include <inttypes.h>
#include <stdio.h>

#include "firewall/fw_impl.h"

void fw_rule_describe(const struct pk_firewall *fw, const struct fw_rule *r, char *out, size_t size)
{
    const struct fw_chain *c = &fw->chains[r->chain];
    int n = snprintf(out, size, "%s %s/%s handle %" PRIu64, fw_family_name(c->family), c->table, c->name,
                     r->handle);
    if (r->text && n >= 0 && (size_t)n < size)
        snprintf(out + n, size - (size_t)n, ": %s", r->text);
}

void fw_policy_describe(const struct pk_firewall *fw, const struct fw_chain *c, char *out, size_t size)
{
    (void)fw;
    snprintf(out, size, "%s %s/%s policy %s", fw_family_name(c->family), c->table, c->name,
             c->policy == FV_DROP ? "drop" : "accept");
}
