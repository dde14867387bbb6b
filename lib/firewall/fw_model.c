/* The compiled ruleset's own lookups and release: the bottom layer every
 * other file of the firewall module builds on. */
#include <stdlib.h>
#include <string.h>

#include "firewall/fw_impl.h"

const char *fw_family_name(int fam)
{
    static const char *const names[] = {"ip", "ip6", "inet", "netdev", "bridge", "arp", "?"};
    return fam >= 0 && fam <= FW_FAM_OTHER ? names[fam] : "?";
}

int fw_find_chain(const struct pk_firewall *fw, int family, const char *table, const char *name)
{
    for (size_t i = 0; i < fw->nchains; i++) {
        const struct fw_chain *c = &fw->chains[i];
        if (c->family == family && strcmp(c->name, name) == 0 && strcmp(c->table, table) == 0)
            return (int)i;
    }
    return -1;
}

struct fw_set *fw_find_set(const struct pk_firewall *fw, int family, const char *table, const char *name)
{
    for (size_t i = 0; i < fw->nsets; i++) {
        struct fw_set *s = fw->sets[i];
        if (s->family == family && strcmp(s->name, name) == 0 && strcmp(s->table, table) == 0)
            return s;
    }
    return NULL;
}

void fw_set_free(struct fw_set *s)
{
    if (!s)
        return;
    free(s->name);
    free(s->table);
    free(s->elems);
    free(s);
}

void fw_stmt_release(struct fw_stmt *s)
{
    if (s->set_owned)
        fw_set_free(s->set);
    s->set = NULL;
    s->set_owned = false;
}
