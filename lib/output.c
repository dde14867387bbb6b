/* The output framework: buffering, writing and the module hooks. */
#include <stdlib.h>
#include <string.h>

#include "portkit/output.h"

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
    return o->opt.all_states || st == PK_STATE_OPEN || st == PK_STATE_OPEN_FILTERED;
}
