/* iptables-nft's xt matches and targets (fw_xt.c). libnftables' JSON
 * names them without their arguments; nft's text of the same rule (read
 * alongside) carries the translation, which is parsed from a cursor that
 * moves forward as the rule's xt statements are compiled in order. */
#ifndef PORTKIT_FW_XT_H
#define PORTKIT_FW_XT_H

#include <jansson.h>

#include "firewall/fw_impl.h"

struct fw_xt_cursor {
    const char *text; /* NULL when only JSON was given */
    size_t pos;
};

/* Returns 1 when the statement has no effect on a packet's fate (comment,
 * LOG), else 0 with s filled (possibly FS_UNDECIDED), or PK_ENOMEM. */
int fw_xt_compile(struct fw_xt_cursor *xt, const struct fw_chain *c, json_t *arg, struct fw_stmt *s);

#endif
