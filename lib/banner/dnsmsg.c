#include "banner/dnsmsg.h"

#include <string.h>
#include <strings.h>

#include "banner/banner_impl.h"

size_t dns_query(uint8_t *out, size_t cap, uint16_t id, const char *name, uint16_t qtype,
                    uint16_t qclass, bool rd)
{
    size_t nlen = strlen(name);
    /* header + labels (one length byte per label, at most nlen + 2) + type/class */
    if (cap < 12 + nlen + 2 + 4 || nlen > 253)
        return 0;
    bn_put16(out, id);
    bn_put16(out + 2, rd ? 0x0100 : 0);
    bn_put16(out + 4, 1);
    memset(out + 6, 0, 6);
    size_t pos = 12;
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l == 0 || l > 63)
            return 0;
        out[pos++] = (uint8_t)l;
        memcpy(out + pos, p, l);
        pos += l;
        p += l;
        if (*p == '.')
            p++;
    }
    out[pos++] = 0;
    bn_put16(out + pos, qtype);
    bn_put16(out + pos + 2, qclass);
    return pos + 4;
}

/* Reads the name at *off (following compression pointers), writing it
 * dotted into out when out is non-NULL; advances *off past the name as it
 * appears in place. Returns false on malformed input. */
static bool read_name(const uint8_t *m, size_t n, size_t *off, char *out, size_t cap)
{
    size_t pos = *off, olen = 0;
    bool jumped = false;
    int hops = 0;
    if (out && cap)
        out[0] = '\0';
    for (;;) {
        if (pos >= n)
            return false;
        uint8_t l = m[pos];
        if ((l & 0xC0) == 0xC0) {
            if (pos + 1 >= n || ++hops > 16)
                return false;
            size_t target = (size_t)(l & 0x3F) << 8 | m[pos + 1];
            if (!jumped)
                *off = pos + 2;
            jumped = true;
            pos = target;
            continue;
        }
        if (l & 0xC0)
            return false;
        if (l == 0) {
            if (!jumped)
                *off = pos + 1;
            return true;
        }
        if (pos + 1 + l > n)
            return false;
        if (out && olen + l + 2 < cap) {
            if (olen)
                out[olen++] = '.';
            memcpy(out + olen, m + pos + 1, l);
            olen += l;
            out[olen] = '\0';
        }
        pos += 1 + (size_t)l;
    }
}

static bool same_question(const uint8_t *m, size_t n, size_t *off, const uint8_t *q, size_t qlen)
{
    size_t qoff = 12, moff = *off;
    char a[256], b[256];
    if (!read_name(q, qlen, &qoff, a, sizeof a) || !read_name(m, n, &moff, b, sizeof b))
        return false;
    if (qoff + 4 > qlen || moff + 4 > n)
        return false;
    *off = moff + 4;
    return strcasecmp(a, b) == 0 && memcmp(q + qoff, m + moff, 4) == 0;
}

bool dns_parse_reply(const uint8_t *m, size_t n, const uint8_t *query, size_t qlen,
                        struct dns_reply *r)
{
    memset(r, 0, sizeof *r);
    if (n < 12 || qlen < 12)
        return false;
    r->id = bn_get16(m);
    unsigned flags = bn_get16(m + 2);
    if (r->id != bn_get16(query) || !(flags & 0x8000))
        return false;
    r->rcode = flags & 0x0F;
    unsigned qd = bn_get16(m + 4);
    r->ancount = bn_get16(m + 6);
    size_t off = 12;
    for (unsigned i = 0; i < qd && i < 8; i++) {
        if (i == 0) {
            r->question_matches = same_question(m, n, &off, query, qlen);
            if (!r->question_matches && off == 12)
                return true; /* a reply to our id with a question we cannot read */
        } else if (!read_name(m, n, &off, NULL, 0) || (off += 4) > n) {
            return true;
        }
    }
    for (unsigned i = 0; i < r->ancount && i < 32; i++) {
        if (!read_name(m, n, &off, NULL, 0) || off + 10 > n)
            break;
        unsigned type = bn_get16(m + off);
        size_t rdlen = bn_get16(m + off + 8);
        size_t rd = off + 10;
        if (rd + rdlen > n)
            break;
        if (type == PK_DNS_TXT && !r->txt_len && rdlen >= 1) {
            size_t sl = m[rd];
            if (sl + 1 <= rdlen) {
                if (sl >= sizeof r->txt)
                    sl = sizeof r->txt - 1;
                memcpy(r->txt, m + rd + 1, sl);
                r->txt[sl] = '\0';
                r->txt_len = sl;
            }
        } else if (type == PK_DNS_PTR && !r->ptr[0]) {
            size_t p = rd;
            read_name(m, n, &p, r->ptr, sizeof r->ptr);
        }
        off = rd + rdlen;
    }
    return true;
}

/* The product and version a version.bind TXT answer names (BIND answers
 * its bare version number, others prefix their name). */
void dns_product(const char *txt, size_t len, struct pk_service_id *out)
{
    const uint8_t *t = (const uint8_t *)txt;
    if (len == 0)
        return;
    if (bn_has_prefix(t, len, "dnsmasq-")) {
        BN_SET(out, product, "dnsmasq");
        BN_FIELD(out, version, t + 8, bn_version_len(t + 8, len - 8));
    } else if (bn_has_prefix(t, len, "unbound ")) {
        BN_SET(out, product, "Unbound");
        BN_FIELD(out, version, t + 8, bn_version_len(t + 8, len - 8));
    } else if (bn_has_prefix(t, len, "PowerDNS")) {
        BN_SET(out, product, "PowerDNS");
        const uint8_t *v;
        size_t vn = 0;
        for (size_t i = 8; i < len && !vn; i++)
            if (t[i] >= '0' && t[i] <= '9' && t[i - 1] == ' ') {
                v = t + i;
                vn = bn_version_len(v, len - i);
            }
        if (vn)
            BN_FIELD(out, version, v, vn);
    } else if (bn_has_prefix(t, len, "Knot DNS ")) {
        BN_SET(out, product, "Knot DNS");
        BN_FIELD(out, version, t + 9, bn_version_len(t + 9, len - 9));
    } else if (len > 2 && t[0] == '9' && t[1] == '.') {
        /* BIND answers its bare version, e.g. "9.18.28-1~deb12u2-Debian" */
        BN_SET(out, product, "ISC BIND");
        const uint8_t *dash = memchr(t, '-', len);
        size_t cut = dash ? (size_t)(dash - t) : len;
        BN_FIELD(out, version, t, cut);
        if (dash)
            BN_FIELD(out, extra, dash + 1, len - cut - 1);
    } else {
        BN_FIELD(out, extra, t, len);
    }
}
