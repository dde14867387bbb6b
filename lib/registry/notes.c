#include "registry/notes.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct parser {
    const char *source;
    size_t line;
    struct note_block block;
    char name[64];
    bool open;
    bool seen_block;         /* a "lang:" line must come before any block */
    enum pk_lang lang;
    struct pk_err *err;
};

static int fail(struct parser *ps, const char *fmt, const char *detail)
{
    char msg[PK_ERR_MSG_MAX];
    snprintf(msg, sizeof msg, fmt, detail);
    return pk_err_set(ps->err, PK_EINVAL, "%s:%zu: %s", ps->source, ps->line, msg);
}

static int parse_ports(struct parser *ps, const char *s, size_t n)
{
    const char *dash = memchr(s, '-', n);
    unsigned lo, hi;
    if (pk_port_parse(s, dash ? (size_t)(dash - s) : n, &lo) < 0 ||
        (dash && pk_port_parse(dash + 1, (size_t)(s + n - dash - 1), &hi) < 0))
        return fail(ps, "%s", "header has no valid port or range (0-65535, LO-HI)");
    if (!dash)
        hi = lo;
    if (hi < lo)
        return fail(ps, "%s", "header range is backwards");
    ps->block.port = lo;
    ps->block.port_hi = hi;
    return 0;
}

static int parse_header(struct parser *ps, const char *s, size_t n)
{
    /* "PORT[-PORT]/PROTO KIND"; translation files leave KIND out */
    const char *slash = memchr(s, '/', n);
    const char *space = memchr(s, ' ', n);
    bool translation = ps->lang != PK_LANG_EN;
    if (!space && translation)
        space = s + n;
    if (!slash || !space || space < slash)
        return fail(ps, "%s", translation ? "header must look like '@ 80/tcp'"
                                          : "header must look like '@ 80/tcp official'");
    int rc = parse_ports(ps, s, (size_t)(slash - s));
    if (rc)
        return rc;
    unsigned mask = 0;
    const char *p = slash + 1;
    while (p < space) {
        const char *plus = memchr(p, '+', (size_t)(space - p));
        const char *e = plus ? plus : space;
        enum pk_proto proto;
        if (pk_proto_parse(p, (size_t)(e - p), &proto) < 0)
            return fail(ps, "%s", "unknown transport in header (tcp, udp, sctp, dccp)");
        mask |= PK_PROTO_MASK(proto);
        p = plus ? plus + 1 : space;
    }
    bool official = false;
    if (!translation) {
        const char *kind = space + 1;
        size_t kn = (size_t)(s + n - kind);
        if (kn == 8 && memcmp(kind, "official", 8) == 0)
            official = true;
        else if (!(kn == 8 && memcmp(kind, "de-facto", 8) == 0))
            return fail(ps, "%s", "kind must be 'official' or 'de-facto'");
    } else if (space != s + n) {
        return fail(ps, "%s", "translation headers carry no kind: '@ 80/tcp'");
    }
    ps->block.proto_mask = mask;
    ps->block.official = official;
    ps->block.lang = ps->lang;
    ps->block.line = ps->line;
    ps->block.nalt = 0;
    ps->name[0] = '\0';
    pk_buf_reset(&ps->block.text);
    pk_buf_reset(&ps->block.risk);
    pk_buf_reset(&ps->block.alias);
    pk_buf_reset(&ps->block.src);
    ps->block.display[0] = '\0';
    ps->open = true;
    ps->seen_block = true;
    return 0;
}

static int parse_alt(struct parser *ps, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && s[i] == ' ')
            i++;
        size_t j = i;
        while (j < n && s[j] != ' ')
            j++;
        if (j == i)
            break;
        unsigned port;
        if (pk_port_parse(s + i, j - i, &port) < 0)
            return fail(ps, "%s", "alt: expects port numbers 0-65535 separated by spaces");
        if (ps->block.nalt == PK_NOTE_MAX_ALT)
            return fail(ps, "%s", "alt: too many ports");
        ps->block.alt[ps->block.nalt++] = (uint16_t)port;
        i = j;
    }
    return 0;
}

static int append_line(struct pk_buf *b, const char *s, size_t n)
{
    if (b->len && pk_buf_putc(b, '\n'))
        return PK_ENOMEM;
    return pk_buf_append(b, s, n);
}

static int oom(struct parser *ps)
{
    return pk_err_set(ps->err, PK_ENOMEM, "out of memory");
}

/* "alias: a, b" adds each non-empty, trimmed item. */
static int parse_alias(struct parser *ps, const char *s, size_t n)
{
    const char *end = s + n;
    while (s < end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *e = comma ? comma : end;
        const char *a = s;
        while (a < e && *a == ' ')
            a++;
        const char *z = e;
        while (z > a && z[-1] == ' ')
            z--;
        if (z > a && append_line(&ps->block.alias, a, (size_t)(z - a)))
            return oom(ps);
        s = comma ? comma + 1 : end;
    }
    return 0;
}

static const char *const risk_kinds[] = {"trojan", "backdoor", "worm", "exploit", "exposure"};

/* "KIND[/PROTO]: names": the kind must be known and the transport one the
 * block covers. */
static int check_risk(struct parser *ps, const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    if (!colon || colon + 1 >= s + n)
        return fail(ps, "%s", "risk: expects 'KIND: names' (trojan, backdoor, worm, exploit, exposure)");
    const char *slash = memchr(s, '/', (size_t)(colon - s));
    size_t kn = (size_t)((slash ? slash : colon) - s);
    bool known = false;
    for (size_t i = 0; i < sizeof risk_kinds / sizeof *risk_kinds; i++)
        known |= strlen(risk_kinds[i]) == kn && memcmp(s, risk_kinds[i], kn) == 0;
    if (!known)
        return fail(ps, "%s", "risk: unknown kind (trojan, backdoor, worm, exploit, exposure)");
    if (slash) {
        enum pk_proto proto;
        if (pk_proto_parse(slash + 1, (size_t)(colon - slash - 1), &proto) < 0 ||
            !(ps->block.proto_mask & PK_PROTO_MASK(proto)))
            return fail(ps, "%s", "risk: the /transport must be one the block covers");
    }
    return 0;
}

static int finish_block(struct parser *ps, pk_note_fn *fn, void *arg)
{
    if (!ps->open)
        return 0;
    size_t saved = ps->line;
    ps->line = ps->block.line;
    if (!ps->name[0] && ps->lang == PK_LANG_EN)
        return fail(ps, "%s", "block has no 'name:' line");
    if (!ps->block.text.len)
        return fail(ps, "%s", "block has no 'note:' line");
    ps->line = saved;
    ps->block.name = ps->name;
    ps->open = false;
    return fn(&ps->block, arg, ps->err);
}

static bool key_is(const char *s, size_t klen, const char *key)
{
    return strlen(key) == klen && memcmp(s, key, klen) == 0;
}

static int parse_lang(struct parser *ps, const char *v, size_t vlen)
{
    if (ps->seen_block || ps->lang != PK_LANG_EN)
        return fail(ps, "%s", "'lang:' must come once, before the first block");
    char code[8];
    if (vlen >= sizeof code)
        return fail(ps, "%s", "lang: expects vi or zh");
    memcpy(code, v, vlen);
    code[vlen] = '\0';
    enum pk_lang lang;
    if (pk_lang_parse(code, &lang) < 0 || lang == PK_LANG_EN)
        return fail(ps, "%s", "lang: expects vi or zh");
    ps->lang = lang;
    return 0;
}

static int parse_key(struct parser *ps, const char *s, size_t klen, const char *v, size_t vlen)
{
    struct note_block *b = &ps->block;
    if (key_is(s, klen, "note"))
        return append_line(&b->text, v, vlen) ? oom(ps) : 0;
    if (ps->lang != PK_LANG_EN)
        return fail(ps, "%s", "translation blocks hold only 'note:' lines");
    if (key_is(s, klen, "name")) {
        if (ps->name[0])
            return fail(ps, "%s", "second 'name:' in one block");
        if (vlen >= sizeof ps->name)
            return fail(ps, "%s", "name too long");
        memcpy(ps->name, v, vlen);
        ps->name[vlen] = '\0';
        return 0;
    }
    if (key_is(s, klen, "risk")) {
        int rc = check_risk(ps, v, vlen);
        return rc ? rc : append_line(&b->risk, v, vlen) ? oom(ps) : 0;
    }
    if (key_is(s, klen, "alt"))
        return parse_alt(ps, v, vlen);
    if (key_is(s, klen, "alias"))
        return parse_alias(ps, v, vlen);
    if (key_is(s, klen, "display")) {
        if (b->display[0])
            return fail(ps, "%s", "second 'display:' in one block");
        if (vlen >= sizeof b->display || memchr(v, ' ', vlen))
            return fail(ps, "%s", "display: expects one short service keyword");
        memcpy(b->display, v, vlen);
        b->display[vlen] = '\0';
        return 0;
    }
    if (key_is(s, klen, "src")) {
        if (b->src.len)
            return fail(ps, "%s", "second 'src:' in one block (list sources on one line)");
        return pk_buf_append(&b->src, v, vlen) ? oom(ps) : 0;
    }
    return fail(ps, "%s", "unknown key (expected name, alias, note, alt, risk, src or display)");
}

static int parse_line(struct parser *ps, const char *s, size_t n, pk_note_fn *fn, void *arg)
{
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\r' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || s[0] == '#')
        return 0;
    if (s[0] == '@') {
        int rc = finish_block(ps, fn, arg);
        if (rc)
            return rc;
        size_t i = 1;
        while (i < n && s[i] == ' ')
            i++;
        return parse_header(ps, s + i, n - i);
    }
    const char *colon = memchr(s, ':', n);
    if (!colon)
        return fail(ps, "%s", "expected 'key: value' (name, alias, note, alt, risk, src)");
    size_t klen = (size_t)(colon - s);
    const char *v = colon + 1;
    while (v < s + n && *v == ' ')
        v++;
    size_t vlen = (size_t)(s + n - v);
    if (vlen == 0)
        return fail(ps, "%s", "empty value");
    if (key_is(s, klen, "lang"))
        return parse_lang(ps, v, vlen);
    if (!ps->open)
        return fail(ps, "%s", "line outside a block: start one with '@ PORT/PROTO KIND'");
    return parse_key(ps, s, klen, v, vlen);
}

int notes_parse(const char *text, size_t len, const char *source, pk_note_fn *fn, void *arg,
                   struct pk_err *err)
{
    struct parser ps = {.source = source ? source : "notes", .err = err, .lang = PK_LANG_EN};
    const char *p = text, *end = text + len;
    int rc = 0;
    while (p < end && rc == 0) {
        ps.line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        if (memchr(p, '\0', (size_t)(e - p)))
            rc = fail(&ps, "%s", "NUL byte in text");
        else
            rc = parse_line(&ps, p, (size_t)(e - p), fn, arg);
        p = nl ? nl + 1 : end;
    }
    if (rc == 0)
        rc = finish_block(&ps, fn, arg);
    pk_buf_free(&ps.block.text);
    pk_buf_free(&ps.block.risk);
    pk_buf_free(&ps.block.alias);
    pk_buf_free(&ps.block.src);
    return rc;
}

int notes_risk_for(const char *risk, enum pk_proto proto, struct pk_buf *out)
{
    const char *name = pk_proto_name(proto);
    size_t nlen = strlen(name);
    while (*risk) {
        const char *nl = strchr(risk, '\n');
        size_t n = nl ? (size_t)(nl - risk) : strlen(risk);
        const char *colon = memchr(risk, ':', n);
        const char *slash = colon ? memchr(risk, '/', (size_t)(colon - risk)) : NULL;
        bool keep = !slash || ((size_t)(colon - slash - 1) == nlen &&
                               strncasecmp(slash + 1, name, nlen) == 0);
        if (keep) {
            size_t head = slash ? (size_t)(slash - risk) : 0;
            if (out->len && pk_buf_putc(out, '\n'))
                return PK_ENOMEM;
            if (slash ? (pk_buf_append(out, risk, head) || pk_buf_append(out, colon, (size_t)(risk + n - colon)))
                      : pk_buf_append(out, risk, n))
                return PK_ENOMEM;
        }
        risk += n + (nl ? 1 : 0);
    }
    return 0;
}
