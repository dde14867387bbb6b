/* Turning hostile bytes into text that is safe to show: the sanitiser,
 * the one-line formatter, and the field setters every recogniser uses so
 * that no unsanitised byte can reach a struct pk_service_id. */
#include <ctype.h>
#include <string.h>

#include "banner/banner_impl.h"

/* Length of a well-formed UTF-8 sequence at p that is safe to show, or 0.
 * Rejects overlongs, surrogates, > U+10FFFF, C1 controls (which some
 * terminals obey like ESC-sequences) and the zero-width and bidirectional
 * formatting characters that make text read differently than it is. */
static size_t safe_utf8_len(const uint8_t *p, size_t n)
{
    uint32_t cp;
    size_t len;
    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        len = 2;
        cp = p[0] & 0x1Fu;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        len = 3;
        cp = p[0] & 0x0Fu;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        len = 4;
        cp = p[0] & 0x07u;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3Fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return 0;
    if (cp <= 0x9F)                                  /* C1 controls */
        return 0;
    if (cp == 0xAD || (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202E) ||
        (cp >= 0x2060 && cp <= 0x206F) || cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFB))
        return 0;
    return len;
}

/* The text one input unit becomes; returns how many input bytes it took. */
static size_t render_unit(const uint8_t *p, size_t n, char piece[8], size_t *plen)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t c = p[0];
    if (c >= 0x20 && c < 0x7F && c != '\\') {
        piece[0] = (char)c;
        *plen = 1;
        return 1;
    }
    if (c >= 0x80) {
        size_t u = safe_utf8_len(p, n);
        if (u) {
            memcpy(piece, p, u);
            *plen = u;
            return u;
        }
    }
    piece[0] = '\\';
    *plen = 2;
    switch (c) {
    case '\\': piece[1] = '\\'; break;
    case '\r': piece[1] = 'r'; break;
    case '\n': piece[1] = 'n'; break;
    case '\t': piece[1] = 't'; break;
    default:
        piece[1] = 'x';
        piece[2] = hex[c >> 4];
        piece[3] = hex[c & 15];
        *plen = 4;
    }
    return 1;
}

size_t pk_banner_sanitize(const void *in, size_t len, char *out, size_t outlen)
{
    if (outlen == 0)
        return 0;
    const uint8_t *p = in;
    size_t room = outlen - 1;  /* bytes of text we may write */
    size_t pos = 0;
    size_t safe_end = 0;        /* last unit boundary that leaves room for "..." */
    size_t i = 0;
    while (i < len) {
        char piece[8];
        size_t plen;
        size_t used = render_unit(p + i, len - i, piece, &plen);
        if (pos + plen > room)
            goto truncated;
        memcpy(out + pos, piece, plen);
        pos += plen;
        i += used;
        if (pos + 3 <= room)
            safe_end = pos;
    }
    out[pos] = '\0';
    return pos;
truncated:
    pos = room >= 3 ? safe_end : 0;
    for (size_t k = 0; k < 3 && pos < room; k++)
        out[pos++] = '.';
    out[pos] = '\0';
    return pos;
}

size_t pk_banner_sanitize_line(const void *in, size_t len, char *out, size_t outlen)
{
    const uint8_t *p = in;
    size_t i = 0;
    /* skip empty lines and leading blanks */
    while (i < len && (p[i] == '\r' || p[i] == '\n' || p[i] == ' ' || p[i] == '\t'))
        i++;
    size_t end = i;
    while (end < len && p[end] != '\r' && p[end] != '\n')
        end++;
    while (end > i && (p[end - 1] == ' ' || p[end - 1] == '\t'))
        end--;
    return pk_banner_sanitize(p + i, end - i, out, outlen);
}

size_t pk_service_id_format(const struct pk_service_id *id, char *out, size_t outlen)
{
    if (outlen == 0)
        return 0;
    const char *parts[] = {id->service, id->product, id->version, id->extra};
    size_t pos = 0;
    bool cut = false;
    for (size_t k = 0; k < 4 && !cut; k++) {
        const char *s = parts[k];
        size_t n = strnlen(s, 128);
        if (n == 0)
            continue;
        if (pos && pos + 1 < outlen)
            out[pos++] = ' ';
        if (pos + n >= outlen) {
            n = outlen - 1 - pos;
            cut = true;
        }
        memcpy(out + pos, s, n);
        pos += n;
    }
    out[pos] = '\0';
    if (cut && outlen > 4) {
        /* back to a UTF-8 boundary, then the ellipsis */
        size_t end = outlen - 4;
        while (end > 0 && ((unsigned char)out[end] & 0xC0) == 0x80)
            end--;
        memcpy(out + end, "...", 4);
        pos = end + 3;
    }
    return pos;
}

/* ---- field setters ------------------------------------------------------ */

void bn_id_const(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

void bn_id_field(char *dst, size_t cap, const void *src, size_t len)
{
    pk_banner_sanitize_line(src, len, dst, cap);
}

void bn_id_reset(struct pk_service_id *out, const char *fallback)
{
    memset(out, 0, sizeof *out);
    if (fallback)
        bn_id_field(out->service, sizeof out->service, fallback, strlen(fallback));
}

void bn_id_banner(struct pk_service_id *out, const void *data, size_t len)
{
    pk_banner_sanitize_line(data, len, out->banner, sizeof out->banner);
}

/* ---- byte helpers --------------------------------------------------------- */

const uint8_t *bn_memcasemem(const uint8_t *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    if (m == 0 || m > n)
        return m == 0 ? hay : NULL;
    for (size_t i = 0; i + m <= n; i++) {
        size_t j = 0;
        while (j < m && tolower(hay[i + j]) == tolower((unsigned char)needle[j]))
            j++;
        if (j == m)
            return hay + i;
    }
    return NULL;
}

bool bn_has_prefix(const uint8_t *d, size_t n, const char *prefix)
{
    size_t m = strlen(prefix);
    return n >= m && memcmp(d, prefix, m) == 0;
}

size_t bn_line_len(const uint8_t *d, size_t n, bool *complete)
{
    size_t i = 0;
    while (i < n && d[i] != '\n' && d[i] != '\r')
        i++;
    if (complete)
        *complete = i < n;
    return i;
}

size_t bn_version_len(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && (isalnum(p[i]) || p[i] == '.' || p[i] == '_' || p[i] == '-' || p[i] == '+' ||
                     p[i] == '~' || p[i] == ':'))
        i++;
    return i;
}

bool bn_is_text(const uint8_t *d, size_t n)
{
    size_t look = n < 256 ? n : 256, printable = 0;
    if (look == 0)
        return false;
    for (size_t i = 0; i < look; i++)
        if ((d[i] >= 0x20 && d[i] < 0x7F) || d[i] == '\r' || d[i] == '\n' || d[i] == '\t' ||
            d[i] >= 0x80)
            printable++;
    return printable * 10 >= look * 9;
}
