#include "portkit/query.h"

#include <ctype.h>
#include <string.h>

#include "portkit/registry.h"

static bool all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static int port_or_fail(const char *s, size_t n, unsigned *out, const char *whole, int wlen,
                        struct pk_err *err)
{
    if (pk_port_parse(s, n, out) == 0)
        return 0;
    return pk_err_set(err, PK_EINVAL, "port %.*s in '%.*s' is out of range (0-65535)", (int)n, s,
                      wlen, whole);
}

/* Well-formed UTF-8 without C1 controls (U+0080-U+009F act as terminal
 * escapes), so a name can be echoed back in messages. */
static bool clean_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (!len || i + len > n)
            return false;
        unsigned cp = len == 1 ? c : c & (0x7Fu >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3Fu);
        }
        if ((len == 2 && cp < 0xA0) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        i += len;
    }
    return true;
}

int pk_query_parse(const char *text, size_t len, struct pk_query *q, struct pk_err *err)
{
    while (len && isspace((unsigned char)*text)) {
        text++;
        len--;
    }
    while (len && isspace((unsigned char)text[len - 1]))
        len--;
    memset(q, 0, sizeof *q);
    int wl = len > 80 ? 80 : (int)len; /* keep messages one short line */
    if (len == 0)
        return pk_err_set(err, PK_EINVAL, "empty query: give a port, port/proto, range or service name");
    const char *body = text;
    size_t blen = len;
    const char *slash = memchr(text, '/', len);
    if (slash) {
        blen = (size_t)(slash - text);
        const char *p = slash + 1;
        size_t plen = len - blen - 1;
        enum pk_proto proto;
        if (pk_proto_parse(p, plen, &proto) < 0)
            return pk_err_set(err, PK_EINVAL, "unknown transport '%.*s' in '%.*s' (use tcp, udp, sctp or dccp)",
                              (int)(plen > 20 ? 20 : plen), p, wl, text);
        q->proto_mask = PK_PROTO_MASK(proto);
        if (blen == 0)
            return pk_err_set(err, PK_EINVAL, "'%.*s' has no port before the '/'", wl, text);
    }
    if (all_digits(body, blen)) {
        q->kind = PK_QUERY_PORTS;
        if (port_or_fail(body, blen, &q->lo, text, wl, err) < 0)
            return PK_EINVAL;
        q->hi = q->lo;
        return 0;
    }
    const char *dash = memchr(body, '-', blen);
    if (dash) {
        size_t l1 = (size_t)(dash - body), l2 = blen - l1 - 1;
        bool d1 = all_digits(body, l1), d2 = all_digits(dash + 1, l2);
        if (d1 && d2) {
            q->kind = PK_QUERY_PORTS;
            if (port_or_fail(body, l1, &q->lo, text, wl, err) < 0 ||
                port_or_fail(dash + 1, l2, &q->hi, text, wl, err) < 0)
                return PK_EINVAL;
            if (q->hi < q->lo)
                return pk_err_set(err, PK_EINVAL, "range '%.*s' is backwards (%u > %u)", wl, text,
                                  q->lo, q->hi);
            return 0;
        }
        if (d1 && l2 == 0)
            return pk_err_set(err, PK_EINVAL, "range '%.*s' has no end", wl, text);
        if (l1 == 0 && d2)
            return pk_err_set(err, PK_EINVAL, "'%.*s' is not a port: ports are 0-65535, no sign", wl, text);
    }
    bool has_alpha = false;
    for (size_t i = 0; i < blen; i++) {
        unsigned char c = (unsigned char)body[i];
        /* names people type in other scripts (远程桌面, Võ Lâm) are UTF-8 */
        if (isalpha(c) || c >= 0x80)
            has_alpha = true;
        else if (!isdigit(c) && c != '-' && c != '_' && c != '.' && c != '+' && c != ' ')
            return pk_err_set(err, PK_EINVAL, "'%.*s' is not a port, range or service name", wl, text);
    }
    if (!has_alpha || !clean_utf8((const unsigned char *)body, blen))
        return pk_err_set(err, PK_EINVAL, "'%.*s' is not a port, range or service name", wl, text);
    if (blen >= PK_QUERY_NAME_MAX)
        return pk_err_set(err, PK_EINVAL, "service name '%.*s...' is too long", 40, body);
    q->kind = PK_QUERY_NAME;
    memcpy(q->name, body, blen);
    q->name[blen] = '\0';
    return 0;
}
