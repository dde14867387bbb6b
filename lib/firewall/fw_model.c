/* The compiled ruleset's own lookups, release and indexes: the bottom
 * layer every other file of the firewall module builds on. */
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

static int cmp_prio(const void *a, const void *b, void *arg)
{
    const struct pk_firewall *fw = arg;
    const struct fw_chain *x = &fw->chains[*(const int *)a], *y = &fw->chains[*(const int *)b];
    if (x->prio != y->prio)
        return x->prio < y->prio ? -1 : 1;
    /* Same priority: the kernel's order is registration order, which
     * the listing order follows. */
    return *(const int *)a - *(const int *)b;
}

/* The walk's indexes: base chains per hook in priority order, and every
 * rule's port gate in one dense array (the walk checks thousands of gates
 * per packet; the rules themselves stay out of the cache). */
int fw_index(struct pk_firewall *fw)
{
    fw->gates = calloc(fw->nrules ? fw->nrules : 1, sizeof *fw->gates);
    if (!fw->gates)
        return PK_ENOMEM;
    for (size_t i = 0; i < fw->nrules; i++)
        fw->gates[i] = fw->rules[i].gate;
    for (int h = FH_INGRESS; h <= FH_POSTROUTING; h++) {
        size_t n = 0;
        for (size_t i = 0; i < fw->nchains; i++)
            n += fw->chains[i].hook == (enum fw_hook)h;
        fw->hook_chains[h] = calloc(n ? n : 1, sizeof(int));
        if (!fw->hook_chains[h])
            return PK_ENOMEM;
        for (size_t i = 0; i < fw->nchains; i++)
            if (fw->chains[i].hook == (enum fw_hook)h)
                fw->hook_chains[h][fw->nhook[h]++] = (int)i;
        qsort_r(fw->hook_chains[h], fw->nhook[h], sizeof(int), cmp_prio, fw);
    }
    return 0;
}
