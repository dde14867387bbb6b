/* What audit, why and ls share about the firewall: opening the ruleset
 * (live, or a saved `nft -j list ruleset`), the fallback when it cannot be
 * read, and --from / --iface. */
#ifndef PORTKIT_FWCLI_H
#define PORTKIT_FWCLI_H

#include <stdbool.h>

#include "portkit/firewall.h"

/* Opens the ruleset: path NULL = live. *readable tells whether the rules
 * were read; when the live ruleset cannot be read (not root), an empty
 * ruleset stands in and *why says why. Returns 0, or an exit code after
 * reporting (a bad --ruleset file). */
int fwcli_open(const char *verb, const char *path, struct pk_firewall **fw, bool *readable, char *why,
               size_t why_size);

/* "10.0.0.0/8", "fd00::1": into src; reports bad input, returns CLI_USAGE. */
int fwcli_parse_from(const char *verb, const char *arg, struct pk_firewall_source *src);

/* Verdicts that only bind addresses can give (the ruleset was not read):
 * reachable becomes unknown, naming why. */
void fwcli_downgrade(struct pk_firewall_finding *f, size_t n, const char *why);

/* Per socket index of l: whether some finding says reachable (calloc'd,
 * NULL when out of memory). */
unsigned char *fwcli_exposed(const struct pk_firewall_finding *f, size_t n, size_t nsock);

#endif
