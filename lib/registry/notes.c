#include "registry/notes.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    const char *source;
    size_t line;
    struct note_block block;
    char name[64];
    bool open;
    struct pk_err *err;
};

static int fail(struct parser *ps, const char *fmt, const char *detail)
{
    char msg[PK_ERR_MSG_MAX];
    snprintf(msg, sizeof msg, fmt, detail);
    return pk_err_set(ps->err, PK_EINVAL, "%s:%zu: %s", ps->source, ps->line, msg);
}

static int parse_header(struct parser *ps, const char *s, size_t n)
{
    /* "PORT/PROTO KIND" */
    const char *slash = memchr(s, '/', n);
    const char *space = memchr(s, ' ', n);
    if (!slash || !space || space < slash)
        return fail(ps, "%s", "header must look like '@ 80/tcp official'");
    unsigned port;
    if (pk_port_parse(s, (size_t)(slash - s), &port) < 0)
        return fail(ps, "%s", "header has no valid port (0-65535)");
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
    const char *kind = space + 1;
    size_t kn = (size_t)(s + n - kind);
    bool official;
    if (kn == 8 && memcmp(kind, "official", 8) == 0)
        official = true;
    else if (kn == 8 && memcmp(kind, "de-facto", 8) == 0)
        official = false;
    else
        return fail(ps, "%s", "kind must be 'official' or 'de-facto'");
    ps->block.port = port;
    ps->block.proto_mask = mask;
    ps->block.official = official;
    ps->block.line = ps->line;
    ps->block.nalt = 0;
    ps->name[0] = '\0';
    pk_buf_reset(&ps->block.text);
    pk_buf_reset(&ps->block.risk);
    ps->open = true;
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

static int finish_block(struct parser *ps, pk_note_fn *fn, void *arg)
{
    if (!ps->open)
        return 0;
    size_t saved = ps->line;
    ps->line = ps->block.line;
    if (!ps->name[0])
        return fail(ps, "%s", "block has no 'name:' line");
    if (!ps->block.text.len)
        return fail(ps, "%s", "block has no 'note:' line");
    ps->line = saved;
    ps->block.name = ps->name;
    ps->open = false;
    return fn(&ps->block, arg, ps->err);
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
        return fail(ps, "%s", "expected 'key: value' (name, note, alt, risk)");
    if (!ps->open)
        return fail(ps, "%s", "line outside a block: start one with '@ PORT/PROTO KIND'");
    size_t klen = (size_t)(colon - s);
    const char *v = colon + 1;
    while (v < s + n && *v == ' ')
        v++;
    size_t vlen = (size_t)(s + n - v);
    if (vlen == 0)
        return fail(ps, "%s", "empty value");
    if (klen == 4 && memcmp(s, "name", 4) == 0) {
        if (ps->name[0])
            return fail(ps, "%s", "second 'name:' in one block");
        if (vlen >= sizeof ps->name)
            return fail(ps, "%s", "name too long");
        memcpy(ps->name, v, vlen);
        ps->name[vlen] = '\0';
        return 0;
    }
    if (klen == 4 && memcmp(s, "note", 4) == 0)
        return append_line(&ps->block.text, v, vlen) ? pk_err_set(ps->err, PK_ENOMEM, "out of memory") : 0;
    if (klen == 4 && memcmp(s, "risk", 4) == 0)
        return append_line(&ps->block.risk, v, vlen) ? pk_err_set(ps->err, PK_ENOMEM, "out of memory") : 0;
    if (klen == 3 && memcmp(s, "alt", 3) == 0)
        return parse_alt(ps, v, vlen);
    return fail(ps, "%s", "unknown key (expected name, note, alt or risk)");
}

int notes_parse(const char *text, size_t len, const char *source, pk_note_fn *fn, void *arg,
                   struct pk_err *err)
{
    struct parser ps = {.source = source ? source : "notes", .err = err};
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
    return rc;
}
