/* The output framework: buffering, writing and the module hooks. */
#include <stdlib.h>
#include <string.h>

#include "portkit/output.h"

#include <stdio.h>

#include "output/output_impl.h"

#define FLUSH_AT (64 * 1024)

struct pk_output {
    const struct pk_output_module *m;
    struct pk_output_options opt;
    pk_output_write_fn *write;
    void *arg;
    struct pk_buf buf;
    bool failed;
    void *state;
};

int pk_output_new(const struct pk_output_module *m, const struct pk_output_options *opt,
                  pk_output_write_fn *write, void *arg, struct pk_output **out,
                  struct pk_err *err)
{
    struct pk_output *o = calloc(1, sizeof *o);
    if (!o)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    o->m = m;
    if (opt)
        o->opt = *opt;
    o->write = write;
    o->arg = arg;
    if (m->state_size && !(o->state = calloc(1, m->state_size))) {
        free(o);
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    }
    *out = o;
    return 0;
}

void pk_output_free(struct pk_output *o)
{
    if (!o)
        return;
    pk_buf_free(&o->buf);
    free(o->state);
    free(o);
}

int pk_output_flush(struct pk_output *o)
{
    size_t off = 0;
    while (!o->failed && off < o->buf.len) {
        long n = o->write(o->arg, o->buf.data + off, o->buf.len - off);
        if (n <= 0)
            o->failed = true;
        else
            off += (size_t)n;
    }
    pk_buf_reset(&o->buf);
    return o->failed ? PK_EIO : 0;
}

static void maybe_flush(struct pk_output *o)
{
    if (o->buf.len >= FLUSH_AT)
        pk_output_flush(o);
}

void pk_output_begin(struct pk_output *o, const struct pk_scan_info *info)
{
    if (o->m->begin)
        o->m->begin(o, info);
    pk_output_flush(o); /* a header on disk at once: an interrupted scan still has one */
}

void pk_output_result(struct pk_output *o, const struct pk_scan_result *r)
{
    if (o->m->result) {
        o->m->result(o, r);
        maybe_flush(o);
    }
}

void pk_output_host(struct pk_output *o, const struct pk_host_report *h)
{
    if (o->m->host) {
        o->m->host(o, h);
        maybe_flush(o);
    }
}

int pk_output_end(struct pk_output *o, const struct pk_scan_stats *st, struct pk_err *err)
{
    if (o->m->end)
        o->m->end(o, st);
    if (pk_output_flush(o) < 0)
        return pk_err_set(err, PK_EIO, "writing the %s output failed", o->m->name);
    return 0;
}

struct pk_buf *pk_output_buf(struct pk_output *o)
{
    return &o->buf;
}

const struct pk_output_options *pk_output_opts(const struct pk_output *o)
{
    return &o->opt;
}

void *pk_output_state(struct pk_output *o)
{
    return o->state;
}

void pk_output_service_line(const struct pk_scan_result *r, struct pk_buf *out)
{
    const char *parts[3] = {r->product, r->version, r->extra};
    bool first = true;
    for (int i = 0; i < 3; i++) {
        if (!parts[i] || !*parts[i])
            continue;
        pk_buf_printf(out, "%s%s", first ? "" : " ", parts[i]);
        first = false;
    }
}

bool pk_output_wanted(const struct pk_output *o, enum pk_port_state st)
{
    /* --open keeps nmap's "possibly open" ports: open and open|filtered */
    return (o->opt.all_states && !o->opt.open_only) || st == PK_STATE_OPEN ||
           st == PK_STATE_OPEN_FILTERED;
}

/* ---- helpers for the modules (output_impl.h) ---- */

void pko_ctime(time_t t, char *buf, size_t len)
{
    struct tm tm;
    if (!localtime_r(&t, &tm) || !strftime(buf, len, "%a %b %e %H:%M:%S %Y", &tm))
        snprintf(buf, len, "%lld", (long long)t);
    /* %e pads the day with a space; nmap prints "Nov  3" too, so keep it. */
}

static size_t utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

void pko_xml_escape(struct pk_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char c = *p;
        switch (c) {
        case '&': pk_buf_puts(b, "&amp;"); break;
        case '<': pk_buf_puts(b, "&lt;"); break;
        case '>': pk_buf_puts(b, "&gt;"); break;
        case '"': pk_buf_puts(b, "&quot;"); break;
        case '\'': pk_buf_puts(b, "&apos;"); break;
        case '\t': pk_buf_puts(b, "&#9;"); break;
        case '\n': pk_buf_puts(b, "&#10;"); break;
        case '\r': pk_buf_puts(b, "&#13;"); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                pk_buf_putc(b, '?');
            } else if (c >= 0x80) {
                size_t n = utf8_len(p);
                if (n == 0) {
                    pk_buf_putc(b, '?');
                } else {
                    pk_buf_append(b, p, n);
                    p += n;
                    continue;
                }
            } else {
                pk_buf_putc(b, (char)c);
            }
        }
        p++;
    }
}

void pko_collapsed_states(const struct pk_host_report *h, bool collapsed[PK_STATE_COUNT])
{
    for (int st = 0; st < PK_STATE_COUNT; st++)
        collapsed[st] = st != PK_STATE_OPEN && st != PK_STATE_UNKNOWN &&
                        h->counts[0][st] + h->counts[1][st] > 25;
}

uint64_t pko_ports_where(const struct pk_host_report *h, enum pk_port_state st, enum pk_proto proto,
                         enum pk_reason why, struct pk_buf *out)
{
    uint64_t n = 0;
    long run_lo = -1, run_hi = -1;
    for (size_t i = 0; i <= h->nports; i++) {
        const struct pk_scan_result *r = i < h->nports ? &h->ports[i] : NULL;
        bool match = r && r->state == st && r->proto == proto && r->reason == why;
        if (match && run_lo >= 0 && r->port == run_hi + 1) {
            run_hi = r->port;
        } else {
            if (run_lo >= 0) {
                pk_buf_printf(out, "%s%ld", out->len ? "," : "", run_lo);
                if (run_hi > run_lo)
                    pk_buf_printf(out, "-%ld", run_hi);
                run_lo = -1;
            }
            if (match)
                run_lo = run_hi = r->port;
        }
        n += match;
    }
    return n;
}

bool pko_host_hidden(const struct pk_output *o, const struct pk_host_report *h)
{
    if (!o->opt.open_only)
        return false;
    for (int t = 0; t < 2; t++)
        if (h->counts[t][PK_STATE_OPEN] || h->counts[t][PK_STATE_OPEN_FILTERED])
            return false;
    return true;
}
