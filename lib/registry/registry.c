/* Lookups over a built registry (compiled-in or loaded at run time). */
#include "registry/registry_impl.h"
#include "portkit/buf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int reg_name_cmp(const char *a, const char *b)
{
    return strcasecmp(a, b);
}

size_t pk_registry_count(const struct pk_registry *reg)
{
    return reg->nentries;
}

void pk_registry_get(const struct pk_registry *reg, size_t index, struct pk_service *out)
{
    const struct reg_entry *e = &reg->entries[index];
    out->port = e->port;
    out->proto = (enum pk_proto)e->proto;
    out->flags = e->flags;
    out->name = reg->pool + e->name;
    out->description = reg->pool + e->desc;
    out->unauthorized_use = reg->pool + e->unauth;
    out->assignment_notes = reg->pool + e->anotes;
}

/* First entry whose (port, proto) is >= the key. */
static size_t lower_bound(const struct pk_registry *reg, unsigned port, unsigned proto)
{
    size_t lo = 0, hi = reg->nentries;
    unsigned key = port << 8 | proto;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct reg_entry *e = &reg->entries[mid];
        if ((unsigned)(e->port << 8 | e->proto) < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t pk_registry_port(const struct pk_registry *reg, unsigned port, size_t *first)
{
    size_t lo = lower_bound(reg, port, 0);
    size_t hi = lo;
    while (hi < reg->nentries && reg->entries[hi].port == port)
        hi++;
    *first = lo;
    return hi - lo;
}

const char *pk_registry_name(const struct pk_registry *reg, unsigned port, enum pk_proto proto)
{
    for (size_t i = lower_bound(reg, port, proto);
         i < reg->nentries && reg->entries[i].port == port && reg->entries[i].proto == proto; i++) {
        if (reg->entries[i].name)
            return reg->pool + reg->entries[i].name;
    }
    struct pk_note n;
    if (pk_registry_note(reg, port, proto, &n))
        return n.name;
    return NULL;
}

size_t pk_registry_note_count(const struct pk_registry *reg)
{
    return reg->nnotes;
}

void pk_registry_note_get(const struct pk_registry *reg, size_t index, struct pk_note *out)
{
    const struct reg_note *n = &reg->notes[index];
    out->port = n->port;
    out->proto = (enum pk_proto)n->proto;
    out->official = n->official;
    out->name = reg->pool + n->name;
    out->text = reg->pool + n->text;
    out->risk = reg->pool + n->risk;
    out->nalt = n->nalt < PK_NOTE_MAX_ALT ? n->nalt : PK_NOTE_MAX_ALT;
    for (size_t i = 0; i < out->nalt; i++)
        out->alt[i] = reg->alts[n->alt_first + i];
}

static const struct reg_note *find_note(const struct pk_registry *reg, unsigned port,
                                           enum pk_proto proto)
{
    size_t lo = 0, hi = reg->nnotes;
    unsigned key = port << 8 | (unsigned)proto;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        unsigned k = (unsigned)reg->notes[mid].port << 8 | reg->notes[mid].proto;
        if (k == key)
            return &reg->notes[mid];
        if (k < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

bool pk_registry_note(const struct pk_registry *reg, unsigned port, enum pk_proto proto,
                      struct pk_note *out)
{
    const struct reg_note *n = find_note(reg, port, proto);
    if (!n)
        return false;
    pk_registry_note_get(reg, (size_t)(n - reg->notes), out);
    return true;
}

bool pk_registry_is_risky(const struct pk_registry *reg, unsigned port, enum pk_proto proto)
{
    const struct reg_note *n = find_note(reg, port, proto);
    return n && n->risky;
}

static int pp_cmp(const void *a, const void *b)
{
    const struct pk_port_proto *x = a, *y = b;
    if (x->port != y->port)
        return x->port < y->port ? -1 : 1;
    return (int)x->proto - (int)y->proto;
}

/* Collects matches into a growable list, then sorts and removes duplicates. */
struct pp_list {
    struct pk_port_proto *items;
    size_t len, cap;
};

static void pp_add(struct pp_list *l, unsigned port, unsigned proto)
{
    if (PK_ARRAY_RESERVE(l->items, l->cap, l->len + 1, 32) < 0)
        return; /* best effort: a shorter answer, never a crash */
    l->items[l->len].port = (uint16_t)port;
    l->items[l->len].proto = (enum pk_proto)proto;
    l->len++;
}

static size_t pp_finish(struct pp_list *l, struct pk_port_proto *out, size_t max)
{
    if (l->len)
        qsort(l->items, l->len, sizeof *l->items, pp_cmp);
    size_t n = 0;
    struct pk_port_proto last = {0, PK_TCP};
    for (size_t i = 0; i < l->len; i++) {
        if (n && pp_cmp(&l->items[i], &last) == 0)
            continue;
        if (n < max)
            out[n] = l->items[i];
        last = l->items[i];
        n++;
    }
    free(l->items);
    return n;
}

size_t pk_registry_find_name(const struct pk_registry *reg, const char *name,
                             struct pk_port_proto *out, size_t max)
{
    struct pp_list l = {0};
    /* by_name is sorted case-insensitively: binary search the first match. */
    size_t lo = 0, hi = reg->nby_name;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (reg_name_cmp(reg->pool + reg->entries[reg->by_name[mid]].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < reg->nby_name; i++) {
        const struct reg_entry *e = &reg->entries[reg->by_name[i]];
        if (reg_name_cmp(reg->pool + e->name, name) != 0)
            break;
        pp_add(&l, e->port, e->proto);
    }
    for (size_t i = 0; i < reg->nnotes; i++)
        if (reg_name_cmp(reg->pool + reg->notes[i].name, name) == 0)
            pp_add(&l, reg->notes[i].port, reg->notes[i].proto);
    return pp_finish(&l, out, max);
}

int pk_registry_resolve(const struct pk_registry *reg, const char *name, enum pk_proto proto,
                        unsigned *port)
{
    struct pk_port_proto found[64];
    size_t n = pk_registry_find_name(reg, name, found, 64);
    if (n > 64)
        n = 64;
    for (size_t i = 0; i < n; i++) {
        if (found[i].proto == proto) {
            *port = found[i].port;
            return 0;
        }
    }
    return PK_ENOTFOUND;
}

static bool contains(const char *hay, const char *needle)
{
    return *needle && strcasestr(hay, needle) != NULL;
}

size_t pk_registry_search(const struct pk_registry *reg, const char *word,
                          struct pk_port_proto *out, size_t max)
{
    struct pp_list l = {0};
    for (size_t i = 0; i < reg->nentries; i++) {
        const struct reg_entry *e = &reg->entries[i];
        if (contains(reg->pool + e->name, word) || contains(reg->pool + e->desc, word) ||
            contains(reg->pool + e->anotes, word) || contains(reg->pool + e->unauth, word))
            pp_add(&l, e->port, e->proto);
    }
    for (size_t i = 0; i < reg->nnotes; i++) {
        const struct reg_note *n = &reg->notes[i];
        if (contains(reg->pool + n->name, word) || contains(reg->pool + n->text, word) ||
            contains(reg->pool + n->risk, word))
            pp_add(&l, n->port, n->proto);
    }
    return pp_finish(&l, out, max);
}
