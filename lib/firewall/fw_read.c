/* Opening a ruleset, and the JSON reader. A live ruleset is read from the
 * kernel (fw_nl.c) unless it holds iptables-nft's xt matches; then, like a
 * saved ruleset, it is read as libnftables' JSON, with nft's text beside
 * it: the only place where an xt match's arguments survive (the JSON names
 * "conntrack" or "addrtype" but not what they test). */
#include <errno.h>
#include <jansson.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portkit/buf.h"

#include "firewall/fw_impl.h"
#include "firewall/fw_nl.h"
#include "portkit/hostinfo.h"
#include "util/quote.h"


static int family_parse(const char *s)
{
    static const char *const names[] = {"ip", "ip6", "inet", "netdev", "bridge", "arp"};
    for (int i = 0; s && i < 6; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return FW_FAM_OTHER;
}

static enum fw_hook hook_parse(const char *s)
{
    static const struct { const char *name; enum fw_hook h; } hooks[] = {
        {"ingress", FH_INGRESS}, {"prerouting", FH_PREROUTING}, {"input", FH_INPUT},
        {"forward", FH_FORWARD}, {"output", FH_OUTPUT}, {"postrouting", FH_POSTROUTING}};
    for (size_t i = 0; s && i < sizeof hooks / sizeof *hooks; i++)
        if (strcmp(s, hooks[i].name) == 0)
            return hooks[i].h;
    return FH_NONE;
}

/* ---- the text listing: (family, table, handle) → rule text ---------------- */

struct text_entry {
    int family;
    const char *table; /* points into the copy of the text */
    size_t table_len;
    uint64_t handle;
    char *text;
};

struct text_index {
    struct text_entry *slots;
    size_t cap;
    char *copy;
};

static uint64_t text_hash(int family, const char *table, size_t tlen, uint64_t handle)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)family;
    for (size_t i = 0; i < tlen; i++)
        h = (h ^ (unsigned char)table[i]) * 1099511628211ull;
    return (h ^ handle) * 0x9E3779B97F4A7C15ull;
}

static void text_put(struct text_index *ix, int family, const char *table, size_t tlen, uint64_t handle,
                     char *text)
{
    size_t i = text_hash(family, table, tlen, handle) & (ix->cap - 1);
    while (ix->slots[i].text)
        i = (i + 1) & (ix->cap - 1);
    ix->slots[i] = (struct text_entry){family, table, tlen, handle, text};
}

static const char *text_get(const struct text_index *ix, int family, const char *table, uint64_t handle)
{
    if (!ix->cap)
        return NULL;
    size_t tlen = strlen(table);
    size_t i = text_hash(family, table, tlen, handle) & (ix->cap - 1);
    for (; ix->slots[i].text; i = (i + 1) & (ix->cap - 1)) {
        const struct text_entry *e = &ix->slots[i];
        if (e->handle == handle && e->family == family && e->table_len == tlen &&
            memcmp(e->table, table, tlen) == 0)
            return e->text;
    }
    return NULL;
}

/* Counters change with every packet; an explanation names the rule. */
static void strip_counter_values(char *s)
{
    char *p;
    while ((p = strstr(s, "counter packets "))) {
        char *q = p + strlen("counter");
        char *end = strstr(q, " bytes ");
        if (!end)
            break;
        end += strlen(" bytes ");
        while (*end >= '0' && *end <= '9')
            end++;
        memmove(q, end, strlen(end) + 1);
        s = q;
    }
}

/* Rules are one line each, ending in "# handle N", inside a "chain X {"
 * block of a "table FAMILY NAME {" block. */
static int text_index_build(struct text_index *ix, const char *text, size_t len)
{
    memset(ix, 0, sizeof *ix);
    if (!text || !len)
        return 0;
    ix->copy = malloc(len + 1);
    if (!ix->copy)
        return PK_ENOMEM;
    memcpy(ix->copy, text, len);
    ix->copy[len] = '\0';
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    ix->cap = 16;
    while (ix->cap < lines * 2)
        ix->cap <<= 1;
    ix->slots = calloc(ix->cap, sizeof *ix->slots);
    if (!ix->slots)
        return PK_ENOMEM;
    int family = -1, depth = 0;
    bool in_chain = false;
    const char *table = NULL;
    size_t tlen = 0;
    for (char *line = ix->copy, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        while (*line == ' ' || *line == '\t')
            line++;
        size_t n = strlen(line);
        if (n == 0 || line[0] == '#')
            continue;
        if (strcmp(line, "}") == 0) {
            if (depth > 0)
                depth--;
            if (depth <= 1)
                in_chain = false;
            continue;
        }
        char *mark = strstr(line, " # handle ");
        bool opens = (mark ? mark > line && mark[-1] == '{' : line[n - 1] == '{');
        if (depth == 0 && strncmp(line, "table ", 6) == 0 && opens) {
            char *fam = line + 6, *sp = strchr(fam, ' ');
            if (!sp)
                continue;
            *sp = '\0';
            family = family_parse(fam);
            table = sp + 1;
            if (*table == '"')
                table++;
            tlen = strcspn(table, "\" {");
            depth = 1;
            continue;
        }
        if (opens) {
            if (depth == 1 && strncmp(line, "chain ", 6) == 0)
                in_chain = true;
            depth++;
            continue;
        }
        if (!in_chain || depth != 2 || !mark || !table)
            continue;
        uint64_t handle = strtoull(mark + strlen(" # handle "), NULL, 10);
        *mark = '\0';
        strip_counter_values(line);
        text_put(ix, family, table, tlen, handle, line);
    }
    return 0;
}

static void text_index_free(struct text_index *ix)
{
    free(ix->slots);
    free(ix->copy);
}

/* ---- JSON ----------------------------------------------------------------- */

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}



static int add_chain(struct pk_firewall *fw, json_t *c)
{
    if (PK_ARRAY_RESERVE(fw->chains, fw->cap_chains, fw->nchains + 1, 16))
        return PK_ENOMEM;
    struct fw_chain *ch = &fw->chains[fw->nchains];
    memset(ch, 0, sizeof *ch);
    ch->family = family_parse(jstr(c, "family"));
    ch->name = dup_or_empty(jstr(c, "name"));
    ch->table = dup_or_empty(jstr(c, "table"));
    if (!ch->name || !ch->table) {
        free(ch->name);
        free(ch->table);
        return PK_ENOMEM;
    }
    ch->hook = hook_parse(jstr(c, "hook"));
    const char *type = jstr(c, "type");
    ch->is_nat = type && strcmp(type, "nat") == 0;
    json_t *prio = json_object_get(c, "prio");
    ch->prio = json_is_integer(prio) ? (int)json_integer_value(prio) : 0;
    const char *pol = jstr(c, "policy");
    ch->policy = pol && strcmp(pol, "drop") == 0 ? FV_DROP : FV_ACCEPT;
    json_t *dev = json_object_get(c, "dev");
    if (json_is_string(dev) || json_is_array(dev)) {
        size_t n = json_is_string(dev) ? 1 : json_array_size(dev);
        ch->devs = calloc(n ? n : 1, sizeof *ch->devs);
        if (!ch->devs)
            return PK_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            json_t *d = json_is_string(dev) ? dev : json_array_get(dev, i);
            if (json_is_string(d) && (ch->devs[ch->ndevs] = strdup(json_string_value(d))))
                ch->ndevs++;
        }
    }
    ch->first_rule = fw->nrules;
    fw->nchains++;
    return 0;
}

static int add_set(struct pk_firewall *fw, json_t *o, bool is_map)
{
    struct fw_set *s = calloc(1, sizeof *s);
    if (!s)
        return PK_ENOMEM;
    s->family = family_parse(jstr(o, "family"));
    s->name = dup_or_empty(jstr(o, "name"));
    s->table = dup_or_empty(jstr(o, "table"));
    if (!s->name || !s->table || PK_ARRAY_RESERVE(fw->sets, fw->cap_sets, fw->nsets + 1, 16)) {
        fw_set_free(s);
        return PK_ENOMEM;
    }
    fw->sets[fw->nsets++] = s;
    json_t *type = json_object_get(o, "type");
    size_t nt = json_is_array(type) ? json_array_size(type) : 1;
    if (nt > FW_CONCAT_MAX)
        nt = FW_CONCAT_MAX;
    s->nfields = (uint8_t)nt;
    for (size_t i = 0; i < nt; i++) {
        json_t *t = json_is_array(type) ? json_array_get(type, i) : type;
        s->ftype[i] = fw_type_from_name(json_is_string(t) ? json_string_value(t) : "", &s->flen[i]);
    }
    const char *data = jstr(o, "map");
    s->is_vmap = is_map && data && strcmp(data, "verdict") == 0;
    return 0;
}

/* Set elements can name chains (verdict maps), so they are filled after
 * every chain is known. */
static int fill_set(struct pk_firewall *fw, json_t *o)
{
    struct fw_set *s = fw_find_set(fw, family_parse(jstr(o, "family")), jstr(o, "table") ? jstr(o, "table") : "",
                                   jstr(o, "name") ? jstr(o, "name") : "");
    json_t *elems = json_object_get(o, "elem");
    if (!s || !json_is_array(elems))
        return 0;
    size_t i;
    json_t *e;
    json_array_foreach(elems, i, e) {
        int rc = fw_set_add_json(s, e, fw);
        if (rc == PK_ENOMEM)
            return rc;
        if (rc < 0)
            s->broken = true;
    }
    fw_set_finish(s);
    return 0;
}

static int add_rule(struct pk_firewall *fw, json_t *o, const struct text_index *tx, struct pk_err *err)
{
    int family = family_parse(jstr(o, "family"));
    const char *table = jstr(o, "table"), *chain = jstr(o, "chain");
    json_t *handle = json_object_get(o, "handle"), *expr = json_object_get(o, "expr");
    if (!table || !chain || !json_is_array(expr))
        return 0;
    int ci = fw_find_chain(fw, family, table, chain);
    if (ci < 0)
        return 0;
    /* Rules come grouped by chain; a ruleset that interleaves them is not
     * libnftables' output, and is read as far as the grouping holds. */
    struct fw_chain *c = &fw->chains[ci];
    if (c->nrules && c->first_rule + c->nrules != fw->nrules)
        return 0;
    if (!c->nrules)
        c->first_rule = fw->nrules;
    if (PK_ARRAY_RESERVE(fw->rules, fw->cap_rules, fw->nrules + 1, 16))
        return PK_ENOMEM;
    struct fw_rule *r = &fw->rules[fw->nrules];
    memset(r, 0, sizeof *r);
    r->chain = ci;
    r->handle = json_is_integer(handle) ? (uint64_t)json_integer_value(handle) : 0;
    const char *text = text_get(tx, family, table, r->handle);
    r->text = text ? strdup(text) : fw_render_rule(expr);
    if (!r->text)
        return PK_ENOMEM;
    int rc = fw_compile_rule(fw, r, expr, r->text, err);
    if (rc < 0) {
        free(r->text);
        return rc;
    }
    fw->nrules++;
    c->nrules++;
    return 0;
}

int fw_parse(struct pk_firewall *fw, const char *json, size_t len, const char *text, size_t text_len,
             struct pk_err *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return pk_err_set(err, PK_EINVAL, "ruleset JSON: %s at line %d", QUOTE_STR(jerr.text), jerr.line);
    json_t *items = json_object_get(root, "nftables");
    if (!json_is_array(items)) {
        json_decref(root);
        return pk_err_set(err, PK_EINVAL, "ruleset JSON: no \"nftables\" array (expected nft -j list ruleset)");
    }
    struct text_index tx;
    int rc = text_index_build(&tx, text, text_len);
    size_t i;
    json_t *it;
    /* Pass 1: chains and set declarations; pass 2: set contents; pass 3: rules. */
    for (int pass = 1; pass <= 3 && rc == 0; pass++) {
        json_array_foreach(items, i, it) {
            if (!json_is_object(it))
                continue;
            json_t *o;
            if (pass == 1 && json_is_object(o = json_object_get(it, "chain")))
                rc = add_chain(fw, o);
            else if (pass == 1 && json_is_object(o = json_object_get(it, "set")))
                rc = add_set(fw, o, false);
            else if (pass == 1 && json_is_object(o = json_object_get(it, "map")))
                rc = add_set(fw, o, true);
            else if (pass == 2 && (json_is_object(o = json_object_get(it, "set")) ||
                                   json_is_object(o = json_object_get(it, "map"))))
                rc = fill_set(fw, o);
            else if (pass == 3 && json_is_object(o = json_object_get(it, "rule")))
                rc = add_rule(fw, o, &tx, err);
            if (rc)
                break;
        }
    }
    if (rc == 0)
        rc = fw_index(fw);
    text_index_free(&tx);
    json_decref(root);
    if (rc == PK_ENOMEM)
        return pk_err_set(err, PK_ENOMEM, "out of memory reading the ruleset");
    return rc;
}

/* ---- live ----------------------------------------------------------------- */

static int list_ruleset(struct nft_ctx *nft, bool as_json, char **out, struct pk_err *err)
{
    unsigned flags = NFT_CTX_OUTPUT_HANDLE;
    if (as_json)
        flags |= NFT_CTX_OUTPUT_JSON;
    nft_ctx_output_set_flags(nft, flags);
    if (nft_ctx_buffer_output(nft) || nft_ctx_buffer_error(nft))
        return pk_err_set(err, PK_ENOMEM, "libnftables: cannot buffer output");
    int rc = nft_run_cmd_from_buffer(nft, "list ruleset");
    const char *o = nft_ctx_get_output_buffer(nft), *e = nft_ctx_get_error_buffer(nft);
    if (rc != 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s", e && *e ? e : "failed");
        msg[strcspn(msg, "\n")] = '\0';
        int ret = pk_err_set(err, PK_ESYS, "cannot read the nftables ruleset: %s%s", QUOTE_STR(msg),
                             strstr(msg, "not permitted") ? " (needs root)" : "");
        nft_ctx_unbuffer_output(nft);
        nft_ctx_unbuffer_error(nft);
        return ret;
    }
    *out = strdup(o ? o : "");
    nft_ctx_unbuffer_output(nft);
    nft_ctx_unbuffer_error(nft);
    return *out ? 0 : pk_err_set(err, PK_ENOMEM, "out of memory");
}

/* iptables-nft's rules: libnftables' JSON, plus nft's text for the xt
 * matches' arguments. */
static int read_with_libnftables(struct pk_firewall *fw, struct pk_err *err)
{
    struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!nft)
        return pk_err_set(err, PK_ENOMEM, "libnftables: cannot create a context");
    char *json = NULL, *text = NULL;
    int rc = list_ruleset(nft, true, &json, err);
    if (rc == 0 && strstr(json, "\"xt\":"))
        rc = list_ruleset(nft, false, &text, err);
    nft_ctx_free(nft);
    if (rc == 0)
        rc = fw_parse(fw, json, strlen(json), text, text ? strlen(text) : 0, err);
    free(json);
    free(text);
    return rc;
}

void fw_clear_rules(struct pk_firewall *fw)
{
    fw->chains = NULL;
    fw->rules = NULL;
    fw->sets = NULL;
    fw->nchains = fw->cap_chains = fw->nrules = fw->cap_rules = fw->nsets = fw->cap_sets = 0;
    for (int h = 0; h <= FH_POSTROUTING; h++) {
        fw->hook_chains[h] = NULL;
        fw->nhook[h] = 0;
    }
    fw->gates = NULL;
}

PK_EXPORT int pk_firewall_open(const struct pk_firewall_options *opt, struct pk_firewall **out, struct pk_err *err)
{
    struct pk_firewall_options none = {0};
    if (!opt)
        opt = &none;
    *out = NULL;
    struct pk_firewall *fw = calloc(1, sizeof *fw);
    if (!fw)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    int rc;
    if (opt->ruleset_json) {
        rc = fw_parse(fw, opt->ruleset_json, opt->ruleset_json_len, opt->ruleset_text, opt->ruleset_text_len,
                      err);
    } else if (!pk_have_capability(PK_CAP_NET_ADMIN)) {
        rc = pk_err_set(err, PK_ESYS, "cannot read the nftables ruleset: needs root (CAP_NET_ADMIN)");
    } else {
        rc = fw_nl_read(fw, err);
        if (rc == FW_NL_FALLBACK) {
            fw_free_rules(fw);
            fw_clear_rules(fw);
            rc = read_with_libnftables(fw, err);
        }
        if (rc == 0)
            fw_check_legacy(fw); /* rules of the live host that no reader shows */
    }
    if (rc == 0 && !opt->no_host)
        rc = fw_read_host(fw, err);
    if (rc < 0) {
        pk_firewall_free(fw);
        return rc;
    }
    *out = fw;
    return 0;
}

void fw_free_rules(struct pk_firewall *fw)
{
    for (size_t i = 0; i < fw->nrules; i++) {
        struct fw_rule *r = &fw->rules[i];
        for (size_t k = 0; k < r->nstmts; k++)
            fw_stmt_release(&r->stmts[k]);
        free(r->stmts);
        free(r->text);
    }
    free(fw->rules);
    for (size_t i = 0; i < fw->nchains; i++) {
        free(fw->chains[i].name);
        free(fw->chains[i].table);
        for (size_t k = 0; k < fw->chains[i].ndevs; k++)
            free(fw->chains[i].devs[k]);
        free(fw->chains[i].devs);
    }
    free(fw->chains);
    for (size_t i = 0; i < fw->nsets; i++)
        fw_set_free(fw->sets[i]);
    free(fw->sets);
    for (int h = 0; h <= FH_POSTROUTING; h++)
        free(fw->hook_chains[h]);
    free(fw->gates);
}

PK_EXPORT void pk_firewall_free(struct pk_firewall *fw)
{
    if (!fw)
        return;
    fw_free_rules(fw);
    free(fw->ifaces);
    free(fw);
}

PK_EXPORT size_t pk_firewall_rule_count(const struct pk_firewall *fw)
{
    return fw ? fw->nrules : 0;
}

PK_EXPORT const char *pk_firewall_warning(const struct pk_firewall *fw)
{
    return fw && fw->has_warning ? fw->warning : NULL;
}
