/* The HTML report: one self-contained page about a run (and optionally the
 * changes from an earlier one) that opens offline and from file://.
 * CSS and JS are inline; a Content-Security-Policy forbids every fetch, so
 * even markup smuggled past the escaping could load nothing. Every string
 * from the network (banners, product names, host names) goes through
 * rp_text(), which also drops control bytes and invalid UTF-8. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "history/history_impl.h"
#include "history/report_impl.h"

#define FLUSH_AT (64 * 1024)

struct rep {
    struct pk_buf b;
    pk_output_write_fn *write;
    void *arg;
    bool failed;
    bool hold;     /* gathering the changes: nothing may be written yet */
    const struct pk_registry *reg;
    /* changed (host, proto, port) keys, sorted: rows to highlight */
    struct mark *marks;
    size_t nmarks, capmarks;
    uint64_t nchanges, change_counts[PK_CHANGE_COUNT];
    uint64_t states[PK_STATE_COUNT];
    uint64_t risky;
};

struct mark {
    char *host;
    enum pk_proto proto;
    uint16_t port;
    enum pk_change_kind kind;
};

static void flush(struct rep *r)
{
    size_t off = 0;
    while (!r->failed && off < r->b.len) {
        long n = r->write(r->arg, r->b.data + off, r->b.len - off);
        if (n <= 0)
            r->failed = true;
        else
            off += (size_t)n;
    }
    pk_buf_reset(&r->b);
}

static void maybe_flush(struct rep *r)
{
    if (r->b.len >= FLUSH_AT && !r->hold)
        flush(r);
}

static void cell(struct rep *r, const char *s)
{
    pk_buf_puts(&r->b, "<td>");
    rp_text(&r->b, s);
    pk_buf_puts(&r->b, "</td>");
}

static void cell_num(struct rep *r, long long v)
{
    pk_buf_printf(&r->b, "<td class=\"n\">%lld</td>", v);
}

/* ---- the changes ---- */

static int mark_cmp(const void *pa, const void *pb)
{
    const struct mark *a = pa, *b = pb;
    int c = strcmp(a->host, b->host);
    if (c)
        return c;
    if (a->proto != b->proto)
        return a->proto < b->proto ? -1 : 1;
    return (a->port > b->port) - (a->port < b->port);
}

static int on_change(void *arg, const struct pk_change *c)
{
    struct rep *r = arg;
    r->nchanges++;
    r->change_counts[c->kind]++;
    pk_buf_printf(&r->b, "<tr class=\"c-%s\"><td>%s</td>", pk_change_name(c->kind), pk_change_name(c->kind));
    cell(r, c->host);
    if (c->port) {
        cell_num(r, c->port);
        cell(r, pk_proto_name(c->proto));
    } else if (c->kind == PK_CHANGE_STATE) {
        pk_buf_printf(&r->b, "<td>others</td><td>%s</td>", pk_proto_name(c->proto));
    } else {
        pk_buf_puts(&r->b, "<td></td><td></td>");
    }
    cell(r, c->before);
    cell(r, c->after);
    cell(r, c->service);
    pk_buf_puts(&r->b, "</tr>\n");
    maybe_flush(r);
    if (r->nmarks == r->capmarks) {
        size_t cap = r->capmarks ? r->capmarks * 2 : 64;
        struct mark *m = realloc(r->marks, cap * sizeof *m);
        if (!m)
            return PK_ENOMEM;
        r->marks = m;
        r->capmarks = cap;
    }
    char *host = strdup(c->host);
    if (!host)
        return PK_ENOMEM;
    r->marks[r->nmarks++] = (struct mark){host, c->proto, c->port, c->kind};
    return 0;
}

static const struct mark *find_mark(const struct rep *r, const char *host, enum pk_proto proto, uint16_t port)
{
    struct mark key = {(char *)host, proto, port, 0};
    return r->nmarks ? bsearch(&key, r->marks, r->nmarks, sizeof key, mark_cmp) : NULL;
}

/* ---- the run ---- */

struct run_copy {
    struct pk_run run;
    struct pk_buf text; /* the run's strings, NUL-separated */
    size_t off[6];
};

static int copy_run(void *arg, const struct pk_run *r)
{
    struct run_copy *rc = arg;
    rc->run = *r;
    const char *s[6] = {r->label, r->source, r->targets, r->ports, r->command, ""};
    for (int i = 0; i < 6; i++) {
        rc->off[i] = rc->text.len;
        pk_buf_append(&rc->text, s[i], strlen(s[i]) + 1);
    }
    return 0;
}

struct walk {
    struct rep *r;
    struct pk_buf hosts;  /* the hosts table, written after the ports */
    const char *host;
};

static int on_port(void *arg, const struct pk_history_host *host, const struct pk_history_port *p)
{
    struct walk *w = arg;
    struct rep *r = w->r;
    if (!p) {
        rp_host_row(&w->hosts, host);
        return 0;
    }
    r->states[p->state < PK_STATE_COUNT ? p->state : 0]++;
    const struct mark *m = find_mark(r, host->addr, p->proto, p->port);
    rp_port_row(&r->b, r->reg, host->addr, p, m ? pk_change_name(m->kind) : NULL, &r->risky);
    maybe_flush(r);
    return 0;
}

static int on_listener(void *arg, const struct pk_history_listener *l)
{
    struct rep *r = arg;
    const struct mark *m = find_mark(r, l->addr, l->proto, l->port);
    if (l->flags & PK_SF_RISK)
        r->risky++;
    pk_buf_puts(&r->b, "<tr data-state=\"listen\"");
    if (m)
        pk_buf_printf(&r->b, " class=\"c-%s\"", pk_change_name(m->kind));
    pk_buf_puts(&r->b, ">");
    cell(r, pk_proto_name(l->proto));
    cell(r, l->addr);
    cell_num(r, l->port);
    cell(r, l->process);
    if (l->pid > 0)
        cell_num(r, l->pid);
    else
        cell(r, "");
    cell(r, l->user);
    cell(r, l->service);
    pk_buf_puts(&r->b, "<td>");
    for (unsigned i = 0; i < PK_SF_COUNT; i++)
        if (l->flags & (1u << i))
            pk_buf_printf(&r->b, "<span%s>%s</span> ", (1u << i) == PK_SF_RISK ? " class=\"risk\"" : "",
                          pk_sock_flag_name(1u << i));
    pk_buf_puts(&r->b, "</td></tr>\n");
    maybe_flush(r);
    return 0;
}

int pk_history_report_html(struct pk_history *h, int64_t id, struct pk_history *base_h, int64_t base,
                           const struct pk_report_options *opt, pk_output_write_fn *write, void *arg,
                           struct pk_err *err)
{
    struct rep r = {.write = write, .arg = arg, .reg = opt ? opt->reg : NULL};
    struct run_copy run = {.text = PK_BUF_INIT};
    int rc = pk_history_run(h, id, copy_run, &run, err);
    if (rc < 0)
        return rc;
    const char *t = run.text.data;
    run.run.label = t + run.off[0];
    run.run.source = t + run.off[1];
    run.run.targets = t + run.off[2];
    run.run.ports = t + run.off[3];
    run.run.command = t + run.off[4];
    const char *title = opt && opt->title ? opt->title : "portkit report";
    /* The changes are gathered first (memory bounded by their number) so
     * the page can give their count at the top. */
    struct pk_buf changes = PK_BUF_INIT;
    if (base_h) {
        r.hold = true;
        rc = pk_history_diff(base_h, base, h, id, on_change, &r, NULL, err);
        if (rc == 0 && r.nmarks)
            qsort(r.marks, r.nmarks, sizeof *r.marks, mark_cmp);
        changes = r.b;
        r.b = (struct pk_buf)PK_BUF_INIT;
        r.hold = false;
    }
    rp_page_begin(&r.b, &run.run, title, base_h ? base : 0);
    rp_cards(&r.b, &run.run, base_h != NULL, r.nchanges);
    if (base_h) {
        pk_buf_printf(&r.b, "<section id=\"changes\"><h2>Changes since run %lld</h2>"
                            "<table class=\"sortable\" id=\"changes-table\"><thead><tr><th>change</th><th>host</th>"
                            "<th>port</th><th>proto</th><th>before</th><th>after</th><th>service</th></tr></thead><tbody>\n",
                      (long long)base);
        flush(&r);
        struct pk_buf page = r.b;
        r.b = changes;
        flush(&r);
        pk_buf_free(&r.b);
        r.b = page;
        pk_buf_puts(&r.b, "</tbody></table>");
        if (!r.nchanges)
            pk_buf_puts(&r.b, "<p class=\"muted\" id=\"no-changes\">No changes.</p>");
        pk_buf_puts(&r.b, "</section>\n");
    }
    flush(&r);

    struct walk w = {.r = &r, .hosts = PK_BUF_INIT};
    if (rc == 0 && run.run.kind == PK_RUN_SCAN) {
        rp_ports_begin(&r.b);
        rc = pk_history_walk(h, id, on_port, &w, err);
        rp_ports_end(&r.b, &w.hosts);
    } else if (rc == 0) {
        pk_buf_printf(&r.b, "<section id=\"ports-section\"><h2>Listeners</h2>%s<table class=\"sortable\" id=\"ports\">"
                            "<thead><tr><th>proto</th><th>address</th><th>port</th><th>process</th><th>pid</th>"
                            "<th>user</th><th>service</th><th>flags</th></tr></thead><tbody>\n",
                      RP_FILTER_BAR);
        rc = pk_history_walk_listeners(h, id, on_listener, &r, err);
        pk_buf_puts(&r.b, "</tbody></table></section>\n");
    }
    pk_buf_free(&w.hosts);
    rp_page_end(&r.b, r.risky);
    flush(&r);
    for (size_t i = 0; i < r.nmarks; i++)
        free(r.marks[i].host);
    free(r.marks);
    pk_buf_free(&r.b);
    pk_buf_free(&run.text);
    if (rc == 0 && r.failed)
        rc = pk_err_sys(err, "writing the report");
    return rc;
}
