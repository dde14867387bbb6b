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

static void note_out(const struct pk_registry *reg, const struct reg_note *n, struct pk_note *out)
{
    out->port = n->port;
    out->range_lo = n->port;
    out->range_hi = n->port_hi;
    out->aliases = reg->pool + n->alias;
    out->source = reg->pool + n->src;
    out->display = reg->pool + n->display;
    out->translation[PK_LANG_EN] = reg->pool + n->text;
    for (int l = 1; l < PK_LANG_COUNT; l++)
        out->translation[l] = reg->pool + n->tr[l];
    out->proto = (enum pk_proto)n->proto;
    out->official = n->official;
    out->name = reg->pool + n->name;
    out->text = reg->pool + n->text;
    out->risk = reg->pool + n->risk;
    out->nalt = n->nalt < PK_NOTE_MAX_ALT ? n->nalt : PK_NOTE_MAX_ALT;
    for (size_t i = 0; i < out->nalt; i++)
        out->alt[i] = reg->alts[n->alt_first + i];
}

void pk_registry_note_get(const struct pk_registry *reg, size_t index, struct pk_note *out)
{
    note_out(reg, &reg->notes[index], out);
}

size_t pk_registry_range_count(const struct pk_registry *reg)
{
    return reg->nranges;
}

void pk_registry_range_get(const struct pk_registry *reg, size_t index, struct pk_note *out)
{
    note_out(reg, &reg->ranges[index], out);
}

/* The narrowest range covering the port; ranges are few (tens), a scan is fine. */
static const struct reg_note *find_range(const struct pk_registry *reg, unsigned port, enum pk_proto proto)
{
    const struct reg_note *best = NULL;
    for (size_t i = 0; i < reg->nranges && reg->ranges[i].port <= port; i++) {
        const struct reg_note *r = &reg->ranges[i];
        if (r->proto == proto && port <= r->port_hi &&
            (!best || r->port_hi - r->port < best->port_hi - best->port))
            best = r;
    }
    return best;
}

bool pk_registry_range_note(const struct pk_registry *reg, unsigned port, enum pk_proto proto,
                            struct pk_note *out)
{
    const struct reg_note *r = find_range(reg, port, proto);
    if (!r)
        return false;
    note_out(reg, r, out);
    out->port = (uint16_t)port;
    return true;
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

const char *pk_registry_display_name(const struct pk_registry *reg, unsigned port, enum pk_proto proto)
{
    const struct reg_note *n = find_note(reg, port, proto);
    if (n && n->display)
        return reg->pool + n->display;
    return pk_registry_name(reg, port, proto);
}

/* Whether `name` is one of the '\n'-separated items of list (folded). */
static bool in_list(const char *list, const char *name)
{
    while (*list) {
        const char *nl = strchr(list, '\n');
        size_t n = nl ? (size_t)(nl - list) : strlen(list);
        size_t mlen;
        if (pk_text_find(list, name, &mlen) == list && mlen == n)
            return true;
        list += n + (nl ? 1 : 0);
    }
    return false;
}

static bool same_name(const char *a, const char *b)
{
    size_t mlen;
    return *a && *b && pk_text_find(a, b, &mlen) == a && a[mlen] == '\0';
}

bool pk_registry_risk_flag(const struct pk_registry *reg, unsigned port, enum pk_proto proto,
                           const char *listener)
{
    const struct reg_note *n = find_note(reg, port, proto);
    /* official blocks describe the legitimate service IANA assigned: any
     * trojan that also used the port hid behind it */
    if (!n || !n->risky || n->official)
        return false;
    if (!listener || !*listener)
        return true;
    for (size_t i = lower_bound(reg, port, proto);
         i < reg->nentries && reg->entries[i].port == port && reg->entries[i].proto == proto; i++)
        if (reg->entries[i].name && same_name(reg->pool + reg->entries[i].name, listener))
            return false;
    return !in_list(reg->pool + n->alias, listener);
}

bool pk_registry_is_risky(const struct pk_registry *reg, unsigned port, enum pk_proto proto)
{
    return pk_registry_risk_flag(reg, port, proto, NULL);
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
    for (size_t i = 0; i < reg->nnotes; i++) {
        const struct reg_note *n = &reg->notes[i];
        if (same_name(reg->pool + n->name, name) || in_list(reg->pool + n->alias, name))
            pp_add(&l, n->port, n->proto);
    }
    /* a range answers by its first port: "bittorrent" is 6881 */
    for (size_t i = 0; i < reg->nranges; i++) {
        const struct reg_note *n = &reg->ranges[i];
        if (same_name(reg->pool + n->name, name) || in_list(reg->pool + n->alias, name))
            pp_add(&l, n->port, n->proto);
    }
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
    return *needle && pk_text_find(hay, needle, NULL) != NULL;
}

static bool note_contains(const struct pk_registry *reg, const struct reg_note *n, const char *word)
{
    if (contains(reg->pool + n->name, word) || contains(reg->pool + n->text, word) ||
        contains(reg->pool + n->risk, word) || contains(reg->pool + n->alias, word))
        return true;
    for (int l = 1; l < PK_LANG_COUNT; l++)
        if (contains(reg->pool + n->tr[l], word))
            return true;
    return false;
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
    for (size_t i = 0; i < reg->nnotes; i++)
        if (note_contains(reg, &reg->notes[i], word))
            pp_add(&l, reg->notes[i].port, reg->notes[i].proto);
    for (size_t i = 0; i < reg->nranges; i++)
        if (note_contains(reg, &reg->ranges[i], word))
            pp_add(&l, reg->ranges[i].port, reg->ranges[i].proto);
    return pp_finish(&l, out, max);
}
