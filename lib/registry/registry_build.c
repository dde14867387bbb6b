/* Builds a registry from IANA CSV text and curated notes: used at build time
 * by the table generator and at run time by --registry. */
#include "registry/registry_impl.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/csv.h"
#include "registry/notes.h"
#include "portkit/buf.h"
#include "portkit/safefile.h"

/* A pool of NUL-terminated strings with interning, so the thousands of
 * repeated descriptions (tcp and udp rows) are stored once. */
struct pool {
    struct pk_buf buf;
    uint32_t *slots; /* open addressing: offset+1, 0 = empty */
    size_t nslots, used;
};

static uint32_t hash_str(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int pool_grow(struct pool *p)
{
    size_t nslots = p->nslots ? p->nslots * 2 : 4096;
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return PK_ENOMEM;
    for (size_t i = 0; i < p->nslots; i++) {
        if (!p->slots[i])
            continue;
        const char *s = p->buf.data + p->slots[i] - 1;
        size_t j = hash_str(s, strlen(s)) & (nslots - 1);
        while (slots[j])
            j = (j + 1) & (nslots - 1);
        slots[j] = p->slots[i];
    }
    free(p->slots);
    p->slots = slots;
    p->nslots = nslots;
    return 0;
}

/* Returns the offset of s in the pool (0 for the empty string), or -1. */
static int64_t pool_intern(struct pool *p, const char *s, size_t n)
{
    /* A NUL inside a field would end the pooled string early anyway; cutting
     * there keeps the comparison below within both strings. */
    n = strnlen(s, n);
    if (n == 0)
        return 0;
    if (p->buf.len == 0 && pk_buf_putc(&p->buf, '\0'))
        return -1;
    if ((p->used + 1) * 2 > p->nslots && pool_grow(p))
        return -1;
    size_t j = hash_str(s, n) & (p->nslots - 1);
    while (p->slots[j]) {
        const char *t = p->buf.data + p->slots[j] - 1;
        if (strncmp(t, s, n) == 0 && t[n] == '\0')
            return p->slots[j] - 1;
        j = (j + 1) & (p->nslots - 1);
    }
    if (p->buf.len + n + 1 > UINT32_MAX - 1)
        return -1;
    uint32_t off = (uint32_t)p->buf.len;
    if (pk_buf_append(&p->buf, s, n) || pk_buf_putc(&p->buf, '\0'))
        return -1;
    p->slots[j] = off + 1;
    p->used++;
    return off;
}

struct pending_tr;

struct builder {
    struct pool pool;
    struct reg_entry *entries;
    uint32_t *seq; /* IANA order, to keep sorting stable */
    size_t nentries, cap;
    struct reg_note *notes;
    size_t nnotes, notes_cap;
    struct reg_note *ranges;
    size_t nranges, ranges_cap;
    uint16_t *alts;
    size_t nalts, alts_cap;
    struct pending_tr *tr;
    size_t ntr, tr_cap;
    const char *source;
    const char *notes_source; /* the notes file being parsed, for translation messages */
};

static int add_entry(struct builder *b, unsigned port, unsigned proto, unsigned flags,
                     uint32_t name, uint32_t desc, uint32_t unauth, uint32_t anotes)
{
    size_t cap = b->cap;
    if (PK_ARRAY_RESERVE(b->entries, cap, b->nentries + 1, 1024))
        return PK_ENOMEM;
    size_t cap2 = b->cap;
    if (PK_ARRAY_RESERVE(b->seq, cap2, b->nentries + 1, 1024))
        return PK_ENOMEM;
    b->cap = cap;
    b->entries[b->nentries] = (struct reg_entry){
        .port = (uint16_t)port, .proto = (uint8_t)proto, .flags = (uint8_t)flags,
        .name = name, .desc = desc, .unauth = unauth, .anotes = anotes};
    b->seq[b->nentries] = (uint32_t)b->nentries;
    b->nentries++;
    return 0;
}

static bool starts_with_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* IANA columns we use, by position in the header row. */
enum { COL_NAME, COL_PORT, COL_PROTO, COL_DESC, COL_UNAUTH, COL_ANOTES, NCOLS };
static const char *const col_titles[NCOLS] = {
    "Service Name", "Port Number", "Transport Protocol", "Description",
    "Unauthorized Use Reported", "Assignment Notes"};

static int parse_port_field(const char *s, size_t n, unsigned *lo, unsigned *hi)
{
    const char *dash = memchr(s, '-', n);
    if (!dash)
        return pk_port_parse(s, n, lo) < 0 ? PK_EINVAL : (*hi = *lo, 0);
    if (pk_port_parse(s, (size_t)(dash - s), lo) < 0 ||
        pk_port_parse(dash + 1, (size_t)(s + n - dash - 1), hi) < 0 || *hi < *lo)
        return PK_EINVAL;
    return 0;
}

/* A range row's remark that names one port of the range ("Known
 * Unauthorized Use on port 6003") belongs to that port only: returns it, or
 * UINT_MAX when the remark names none and applies to the whole range. */
static unsigned port_named_in(const char *s, size_t n, unsigned lo, unsigned hi)
{
    for (size_t i = 0; i + 5 < n; i++) {
        if (strncasecmp(s + i, "port ", 5) != 0)
            continue;
        size_t j = i + 5, k = j;
        while (k < n && k - j < 6 && s[k] >= '0' && s[k] <= '9')
            k++;
        unsigned port;
        if (k > j && pk_port_parse(s + j, k - j, &port) == 0 && port >= lo && port <= hi)
            return port;
    }
    return UINT_MAX;
}

static int add_csv(struct builder *b, const char *csv, size_t len, struct pk_err *err)
{
    struct csv_reader c;
    csv_init(&c, csv, len);
    int col[NCOLS];
    int rc = csv_next(&c, err);
    if (rc <= 0) {
        csv_free(&c);
        return rc < 0 ? rc : pk_err_set(err, PK_EINVAL, "%s: empty file, expected IANA CSV", b->source);
    }
    for (int k = 0; k < NCOLS; k++) {
        col[k] = -1;
        for (size_t i = 0; i < c.nfields; i++)
            if (strcmp(c.field[i], col_titles[k]) == 0)
                col[k] = (int)i;
        if (col[k] < 0 && k <= COL_DESC) {
            csv_free(&c);
            return pk_err_set(err, PK_EINVAL, "%s:1: not an IANA port registry CSV (no '%s' column)",
                              b->source, col_titles[k]);
        }
    }
    while ((rc = csv_next(&c, err)) == 1) {
        const char *f[NCOLS];
        size_t fl[NCOLS];
        for (int k = 0; k < NCOLS; k++) {
            bool have = col[k] >= 0 && (size_t)col[k] < c.nfields;
            f[k] = have ? c.field[col[k]] : "";
            fl[k] = have ? c.len[col[k]] : 0;
        }
        if (fl[COL_PORT] == 0)
            continue; /* a service name without a port (DNS-SD only) */
        unsigned lo, hi;
        if (parse_port_field(f[COL_PORT], fl[COL_PORT], &lo, &hi) < 0) {
            rc = pk_err_set(err, PK_EINVAL, "%s:%zu: bad port number '%.20s'", b->source, c.line,
                            f[COL_PORT]);
            break;
        }
        unsigned flags = 0;
        if (fl[COL_NAME] == 0) {
            if (!starts_with_ci(f[COL_DESC], "reserved") && !starts_with_ci(f[COL_DESC], "iana reserved"))
                continue; /* Unassigned: nothing to store, lookups say so */
            flags |= PK_SVC_RESERVED;
        }
        unsigned mask;
        enum pk_proto proto;
        if (fl[COL_PROTO] == 0)
            mask = PK_PROTO_MASK(PK_TCP) | PK_PROTO_MASK(PK_UDP);
        else if (pk_proto_parse(f[COL_PROTO], fl[COL_PROTO], &proto) == 0)
            mask = PK_PROTO_MASK(proto);
        else
            continue; /* a transport newer than this code: skip, don't fail */
        int64_t name = pool_intern(&b->pool, f[COL_NAME], fl[COL_NAME]);
        int64_t desc = pool_intern(&b->pool, f[COL_DESC], fl[COL_DESC]);
        int64_t unauth = pool_intern(&b->pool, f[COL_UNAUTH], fl[COL_UNAUTH]);
        int64_t anotes = pool_intern(&b->pool, f[COL_ANOTES], fl[COL_ANOTES]);
        if (name < 0 || desc < 0 || unauth < 0 || anotes < 0) {
            rc = pk_err_set(err, PK_ENOMEM, "out of memory");
            break;
        }
        unsigned only = lo < hi ? port_named_in(f[COL_UNAUTH], fl[COL_UNAUTH], lo, hi) : lo;
        for (unsigned p = lo; p <= hi && rc >= 0; p++)
            for (unsigned t = 0; t < PK_PROTO_COUNT; t++)
                if ((mask & PK_PROTO_MASK(t)) &&
                    add_entry(b, p, t, flags, (uint32_t)name, (uint32_t)desc,
                              only == UINT_MAX || only == p ? (uint32_t)unauth : 0, (uint32_t)anotes) < 0)
                    rc = pk_err_set(err, PK_ENOMEM, "out of memory");
        if (rc < 0)
            break;
    }
    if (rc < 0 && err && strncmp(err->msg, "line ", 5) == 0) {
        /* csv.c names only the line; add the file */
        char msg[PK_ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s:%s", b->source, err->msg + 5);
        pk_err_set(err, rc, "%s", msg);
    }
    csv_free(&c);
    return rc < 0 ? rc : 0;
}

/* A translation waits until every English block is in, then joins it. */
struct pending_tr {
    uint16_t port, port_hi;
    uint8_t proto;
    uint8_t lang;
    uint32_t text;
    const char *source;
    size_t line;
};

static int add_note(struct builder *b, const struct pk_note *in, struct pk_err *err)
{
    bool range = in->range_hi > in->range_lo;
    struct reg_note **arr = range ? &b->ranges : &b->notes;
    size_t *len = range ? &b->nranges : &b->nnotes, *acap = range ? &b->ranges_cap : &b->notes_cap;
    size_t cap = *acap;
    if (pk_array_reserve(arr, &cap, *len + 1, sizeof **arr, 1024))
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    *acap = cap;
    cap = b->alts_cap;
    if (PK_ARRAY_RESERVE(b->alts, cap, b->nalts + in->nalt + 1, 1024))
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    b->alts_cap = cap;
    int64_t n = pool_intern(&b->pool, in->name, strlen(in->name));
    int64_t t = pool_intern(&b->pool, in->text, strlen(in->text));
    int64_t r = pool_intern(&b->pool, in->risk, strlen(in->risk));
    int64_t a = pool_intern(&b->pool, in->aliases, strlen(in->aliases));
    int64_t sr = pool_intern(&b->pool, in->source, strlen(in->source));
    int64_t dn = pool_intern(&b->pool, in->display ? in->display : "", in->display ? strlen(in->display) : 0);
    int64_t tr[PK_LANG_COUNT] = {0};
    for (int l = 1; l < PK_LANG_COUNT; l++)
        if (in->translation[l])
            tr[l] = pool_intern(&b->pool, in->translation[l], strlen(in->translation[l]));
    if (n < 0 || t < 0 || r < 0 || a < 0 || sr < 0 || dn < 0 || tr[1] < 0 || tr[2] < 0)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    bool risky = false;
    for (const char *line = in->risk; *line;) {
        risky |= strncmp(line, "trojan:", 7) == 0 || strncmp(line, "backdoor:", 9) == 0;
        const char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : "";
    }
    struct reg_note *rn = &(*arr)[(*len)++];
    *rn = (struct reg_note){
        .port = in->range_lo, .port_hi = in->range_hi, .proto = (uint8_t)in->proto,
        .official = in->official, .risky = risky, .name = (uint32_t)n, .text = (uint32_t)t,
        .risk = (uint32_t)r, .alias = (uint32_t)a, .src = (uint32_t)sr, .display = (uint32_t)dn,
        .alt_first = (uint32_t)b->nalts, .nalt = (uint16_t)in->nalt};
    for (int l = 1; l < PK_LANG_COUNT; l++)
        rn->tr[l] = (uint32_t)tr[l];
    memcpy(b->alts + b->nalts, in->alt, in->nalt * sizeof *in->alt);
    b->nalts += in->nalt;
    return 0;
}

static int add_translation(struct builder *b, const struct note_block *blk, struct pk_err *err)
{
    int64_t t = pool_intern(&b->pool, blk->text.data, blk->text.len);
    if (t < 0)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    for (unsigned p = 0; p < PK_PROTO_COUNT; p++) {
        if (!(blk->proto_mask & PK_PROTO_MASK(p)))
            continue;
        size_t cap = b->tr_cap;
        if (PK_ARRAY_RESERVE(b->tr, cap, b->ntr + 1, 64))
            return pk_err_set(err, PK_ENOMEM, "out of memory");
        b->tr_cap = cap;
        b->tr[b->ntr++] = (struct pending_tr){
            .port = (uint16_t)blk->port, .port_hi = (uint16_t)blk->port_hi, .proto = (uint8_t)p,
            .lang = (uint8_t)blk->lang, .text = (uint32_t)t, .source = b->notes_source, .line = blk->line};
    }
    return 0;
}

static int on_note_block(const struct note_block *blk, void *arg, struct pk_err *err)
{
    struct builder *b = arg;
    if (blk->lang != PK_LANG_EN)
        return add_translation(b, blk, err);
    struct pk_buf risk = PK_BUF_INIT;
    int rc = 0;
    for (unsigned t = 0; t < PK_PROTO_COUNT && rc == 0; t++) {
        if (!(blk->proto_mask & PK_PROTO_MASK(t)))
            continue;
        pk_buf_reset(&risk);
        if (blk->risk.data && notes_risk_for(blk->risk.data, (enum pk_proto)t, &risk) < 0) {
            rc = pk_err_set(err, PK_ENOMEM, "out of memory");
            break;
        }
        struct pk_note in = {
            .proto = (enum pk_proto)t, .official = blk->official, .name = blk->name,
            .text = blk->text.data ? blk->text.data : "", .risk = risk.data ? risk.data : "",
            .aliases = blk->alias.data ? blk->alias.data : "", .source = blk->src.data ? blk->src.data : "", .display = blk->display,
            .range_lo = (uint16_t)blk->port, .range_hi = (uint16_t)blk->port_hi, .nalt = blk->nalt};
        memcpy(in.alt, blk->alt, blk->nalt * sizeof *blk->alt);
        rc = add_note(b, &in, err);
    }
    pk_buf_free(&risk);
    return rc;
}

static int entry_cmp(const void *a, const void *b, void *ctx)
{
    const struct builder *sort_ctx = ctx;
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    const struct reg_entry *x = &sort_ctx->entries[i], *y = &sort_ctx->entries[j];
    if (x->port != y->port)
        return x->port < y->port ? -1 : 1;
    if (x->proto != y->proto)
        return x->proto < y->proto ? -1 : 1;
    return i < j ? -1 : i > j;
}

static int name_cmp(const void *a, const void *b, void *ctx)
{
    const struct builder *sort_ctx = ctx;
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    const struct reg_entry *x = &sort_ctx->entries[i], *y = &sort_ctx->entries[j];
    int c = reg_name_cmp(sort_ctx->pool.buf.data + x->name, sort_ctx->pool.buf.data + y->name);
    if (c)
        return c;
    return i < j ? -1 : i > j;
}

static int note_cmp(const void *a, const void *b)
{
    const struct reg_note *x = a, *y = b;
    if (x->port != y->port)
        return x->port < y->port ? -1 : 1;
    if (x->proto != y->proto)
        return (int)x->proto - (int)y->proto;
    return x->port_hi < y->port_hi ? -1 : x->port_hi > y->port_hi;
}

static struct reg_note *find_block(struct reg_note *arr, size_t n, const struct pending_tr *t)
{
    for (size_t i = 0; i < n; i++)
        if (arr[i].port == t->port && arr[i].port_hi == t->port_hi && arr[i].proto == t->proto)
            return &arr[i];
    return NULL;
}

/* Joins each translation to its English block; one without is an error, so
 * a translated port always exists in English. */
static int apply_translations(struct builder *b, struct pk_err *err)
{
    for (size_t i = 0; i < b->ntr; i++) {
        const struct pending_tr *t = &b->tr[i];
        struct reg_note *n = t->port == t->port_hi ? find_block(b->notes, b->nnotes, t)
                                                   : find_block(b->ranges, b->nranges, t);
        if (!n)
            return pk_err_set(err, PK_EINVAL, "%s:%zu: %s translation of %u%s%.0u/%s has no English block",
                              t->source ? t->source : "notes", t->line, pk_lang_code((enum pk_lang)t->lang),
                              t->port, t->port == t->port_hi ? "" : "-", t->port == t->port_hi ? 0u : t->port_hi,
                              pk_proto_name((enum pk_proto)t->proto));
        if (n->tr[t->lang])
            return pk_err_set(err, PK_EINVAL, "%s:%zu: second %s translation of %u/%s", t->source ? t->source : "notes",
                              t->line, pk_lang_code((enum pk_lang)t->lang), t->port,
                              pk_proto_name((enum pk_proto)t->proto));
        n->tr[t->lang] = t->text;
    }
    return 0;
}

static void builder_free(struct builder *b)
{
    pk_buf_free(&b->pool.buf);
    free(b->pool.slots);
    free(b->entries);
    free(b->seq);
    free(b->notes);
    free(b->ranges);
    free(b->alts);
    free(b->tr);
}

/* Sorts, indexes and hands the arrays over to a new pk_registry. */
static int finish(struct builder *b, struct pk_registry **out, struct pk_err *err)
{
    if (b->pool.buf.len == 0 && pk_buf_putc(&b->pool.buf, '\0'))
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    /* sort entries through an index so equal keys keep IANA's order */
    uint32_t *order = malloc((b->nentries + 1) * sizeof *order);
    struct reg_entry *sorted = malloc((b->nentries + 1) * sizeof *sorted);
    struct pk_registry *reg = calloc(1, sizeof *reg);
    if (!order || !sorted || !reg) {
        free(order);
        free(sorted);
        free(reg);
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < b->nentries; i++)
        order[i] = (uint32_t)i;
    if (b->nentries)
        qsort_r(order, b->nentries, sizeof *order, entry_cmp, b);
    for (size_t i = 0; i < b->nentries; i++)
        sorted[i] = b->entries[order[i]];
    free(b->entries);
    b->entries = sorted;
    /* Within one (port, proto), every named entry after the first is an alias. */
    for (size_t i = 0, first_named = SIZE_MAX; i < b->nentries; i++) {
        if (i == 0 || sorted[i].port != sorted[i - 1].port || sorted[i].proto != sorted[i - 1].proto)
            first_named = SIZE_MAX;
        if (!sorted[i].name)
            continue;
        if (first_named == SIZE_MAX)
            first_named = i;
        else if (reg_name_cmp(b->pool.buf.data + sorted[i].name,
                                 b->pool.buf.data + sorted[first_named].name) != 0)
            sorted[i].flags |= PK_SVC_ALIAS;
    }
    size_t nnamed = 0;
    for (size_t i = 0; i < b->nentries; i++)
        if (sorted[i].name)
            order[nnamed++] = (uint32_t)i;
    if (nnamed)
        qsort_r(order, nnamed, sizeof *order, name_cmp, b);

    if (b->nnotes)
        qsort(b->notes, b->nnotes, sizeof *b->notes, note_cmp);
    if (b->nranges)
        qsort(b->ranges, b->nranges, sizeof *b->ranges, note_cmp);
    int trc = apply_translations(b, err);
    for (size_t i = 1; trc == 0 && i < b->nnotes; i++)
        if (note_cmp(&b->notes[i], &b->notes[i - 1]) == 0)
            trc = pk_err_set(err, PK_EINVAL, "two curated notes for %u/%s", b->notes[i].port,
                             pk_proto_name((enum pk_proto)b->notes[i].proto));
    for (size_t i = 1; trc == 0 && i < b->nranges; i++)
        if (note_cmp(&b->ranges[i], &b->ranges[i - 1]) == 0)
            trc = pk_err_set(err, PK_EINVAL, "two curated notes for %u-%u/%s", b->ranges[i].port,
                             b->ranges[i].port_hi, pk_proto_name((enum pk_proto)b->ranges[i].proto));
    if (trc) {
        free(order);
        free(reg);
        return trc;
    }
    reg->pool = b->pool.buf.data;
    reg->pool_len = (uint32_t)b->pool.buf.len;
    reg->entries = b->entries;
    reg->nentries = (uint32_t)b->nentries;
    reg->by_name = order;
    reg->nby_name = (uint32_t)nnamed;
    reg->notes = b->notes;
    reg->nnotes = (uint32_t)b->nnotes;
    reg->ranges = b->ranges;
    reg->nranges = (uint32_t)b->nranges;
    reg->alts = b->alts;
    reg->nalts = (uint32_t)b->nalts;
    reg->owned = 1;
    free(b->pool.slots);
    free(b->seq);
    free(b->tr);
    memset(b, 0, sizeof *b);
    *out = reg;
    return 0;
}

void pk_registry_free(struct pk_registry *reg)
{
    if (!reg || !reg->owned)
        return;
    free((void *)reg->pool);
    free((void *)reg->entries);
    free((void *)reg->by_name);
    free((void *)reg->notes);
    free((void *)reg->ranges);
    free((void *)reg->alts);
    free(reg);
}

/* Copies the compiled-in notes into the builder (a newer CSV keeps notes). */
static int add_builtin_notes(struct builder *b, struct pk_err *err)
{
    const struct pk_registry *builtin = pk_registry_builtin();
    for (size_t i = 0; i < pk_registry_note_count(builtin); i++) {
        struct pk_note n;
        pk_registry_note_get(builtin, i, &n);
        int rc = add_note(b, &n, err);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < pk_registry_range_count(builtin); i++) {
        struct pk_note n;
        pk_registry_range_get(builtin, i, &n);
        int rc = add_note(b, &n, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int pk_registry_from_text(const char *csv, size_t csv_len, const char *notes_text,
                          size_t notes_len, struct pk_registry **out, struct pk_err *err)
{
    struct builder b = {.source = "registry"};
    int rc = add_csv(&b, csv, csv_len, err);
    if (rc == 0 && notes_text)
        rc = notes_parse(notes_text, notes_len, "notes", on_note_block, &b, err);
    if (rc == 0)
        rc = finish(&b, out, err);
    builder_free(&b);
    return rc;
}

/* IANA's CSV is about 1 MiB; a limit keeps /dev/zero or a wrong file from
 * taking all memory. */
#define REGISTRY_FILE_MAX (64u << 20)

static int slurp(const char *path, char **data, size_t *len, struct pk_err *err)
{
    return pk_file_read(path, REGISTRY_FILE_MAX, data, len, err);
}

int pk_registry_load_csv(const char *csv_path, const char *const *note_paths, size_t nnote_paths,
                         struct pk_registry **out, struct pk_err *err)
{
    struct builder b = {.source = csv_path};
    char *data = NULL;
    size_t len = 0;
    int rc = slurp(csv_path, &data, &len, err);
    if (rc == 0)
        rc = add_csv(&b, data, len, err);
    free(data);
    for (size_t i = 0; rc == 0 && i < nnote_paths; i++) {
        rc = slurp(note_paths[i], &data, &len, err);
        b.notes_source = note_paths[i];
        if (rc == 0)
            rc = notes_parse(data, len, note_paths[i], on_note_block, &b, err);
        free(data);
    }
    if (rc == 0 && nnote_paths == 0)
        rc = add_builtin_notes(&b, err);
    if (rc == 0)
        rc = finish(&b, out, err);
    builder_free(&b);
    return rc;
}
