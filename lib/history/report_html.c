/* The HTML report: one self-contained page about a run (and optionally the
 * changes from an earlier one) that opens offline and from file://.
 * CSS and JS are inline; a Content-Security-Policy forbids every fetch, so
 * even markup smuggled past the escaping could load nothing. Every string
 * from the network (banners, product names, host names) goes through
 * html_text(), which also drops control bytes and invalid UTF-8. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "history/history_impl.h"

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

/* Escaped text for element content and attribute values. */
static void html_text(struct pk_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        unsigned char c = *p;
        if (c == '&')
            pk_buf_puts(b, "&amp;");
        else if (c == '<')
            pk_buf_puts(b, "&lt;");
        else if (c == '>')
            pk_buf_puts(b, "&gt;");
        else if (c == '"')
            pk_buf_puts(b, "&quot;");
        else if (c == '\'')
            pk_buf_puts(b, "&#39;");
        else if (c < 0x20 || c == 0x7f)
            pk_buf_putc(b, '?');
        else if (c < 0x80)
            pk_buf_putc(b, (char)c);
        else {
            /* a whole, well-formed UTF-8 sequence or '?' */
            int n = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
            int k = 1;
            while (n && k < n && (p[k] & 0xc0) == 0x80)
                k++;
            if (n && k == n) {
                pk_buf_append(b, p, (size_t)n);
                p += n;
                continue;
            }
            pk_buf_putc(b, '?');
        }
        p++;
    }
}

static void cell(struct rep *r, const char *s)
{
    pk_buf_puts(&r->b, "<td>");
    html_text(&r->b, s);
    pk_buf_puts(&r->b, "</td>");
}

static void cell_num(struct rep *r, long long v)
{
    pk_buf_printf(&r->b, "<td class=\"n\">%lld</td>", v);
}

static void when(uint64_t us, char *buf, size_t len)
{
    time_t t = (time_t)(us / 1000000u);
    struct tm tm;
    if (!us || !gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(buf, len, "-");
}

static const char style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}"
    "header{background:#1d2430;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}"
    "header p{margin:4px 0 0;color:#c9d1dc}main{padding:16px 24px}"
    "section{background:#fff;border:1px solid #dde1e7;border-radius:6px;margin:0 0 16px;padding:12px 16px}"
    "h2{font-size:16px;margin:0 0 8px}dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}"
    "dt{color:#5b6676}dd{margin:0;word-break:break-all}"
    ".cards{display:flex;gap:12px;flex-wrap:wrap;margin:0 0 16px}"
    ".card{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:8px 16px;min-width:110px}"
    ".card b{display:block;font-size:22px}.card span{color:#5b6676}"
    "table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eceef2;"
    "vertical-align:top}th{background:#f0f2f5;cursor:pointer;user-select:none;white-space:nowrap}"
    "th.asc::after{content:' \\25B2'}th.desc::after{content:' \\25BC'}td.n{text-align:right}"
    "td.b{font-family:ui-monospace,monospace;font-size:12px;max-width:420px;word-break:break-all}"
    ".s-open{color:#0a7d32;font-weight:600}.s-filtered,.s-open\\|filtered{color:#9a6700}.s-closed{color:#8a94a3}"
    "tr.c-opened,tr.c-added,tr.c-host-up{background:#e6f6ea}tr.c-closed,tr.c-removed,tr.c-host-down{background:#fdecea}"
    "tr.c-state,tr.c-service,tr.c-process{background:#fff6db}"
    ".risk{color:#b42318;font-weight:600}.tools{display:flex;gap:8px;margin:0 0 8px;align-items:center}"
    "input,select{font:inherit;padding:3px 6px}.muted{color:#5b6676}";

/* Sorting (click a header; numbers compare as numbers) and filtering (a
 * text box over every cell, a state menu) of the tables marked .sortable. */
static const char script[] =
    "(function(){"
    "function key(td){var t=td?td.textContent:'';var n=parseFloat(t);"
    "return /^-?[0-9.]+$/.test(t)?n:t.toLowerCase();}"
    "document.querySelectorAll('table.sortable').forEach(function(tbl){"
    "var ths=tbl.tHead.rows[0].cells;"
    "Array.prototype.forEach.call(ths,function(th,i){th.addEventListener('click',function(){"
    "var asc=!th.classList.contains('asc');Array.prototype.forEach.call(ths,function(x){x.classList.remove('asc','desc');});"
    "th.classList.add(asc?'asc':'desc');var body=tbl.tBodies[0];var rows=Array.prototype.slice.call(body.rows);"
    "rows.sort(function(a,b){var x=key(a.cells[i]),y=key(b.cells[i]);"
    "if(typeof x!==typeof y){x=String(x);y=String(y);}return (x<y?-1:x>y?1:0)*(asc?1:-1);});"
    "rows.forEach(function(r){body.appendChild(r);});});});});"
    "var q=document.getElementById('filter'),st=document.getElementById('state'),"
    "shown=document.getElementById('shown'),tbl=document.getElementById('ports');"
    "function apply(){if(!tbl)return;var text=q.value.toLowerCase(),want=st.value,n=0;"
    "Array.prototype.forEach.call(tbl.tBodies[0].rows,function(r){"
    "var ok=(!text||r.textContent.toLowerCase().indexOf(text)>=0)&&(!want||r.getAttribute('data-state')===want);"
    "r.hidden=!ok;if(ok)n++;});if(shown)shown.textContent=n;}"
    "if(q){q.addEventListener('input',apply);st.addEventListener('change',apply);apply();}"
    "})();";

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

static void summary(struct rep *r, const struct pk_run *run, const char *title, int64_t base)
{
    char t0[64], t1[64];
    when(run->start_us, t0, sizeof t0);
    when(run->end_us, t1, sizeof t1);
    struct pk_buf *b = &r->b;
    pk_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                   "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
                   "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>");
    html_text(b, title);
    pk_buf_printf(b, "</title><style>%s</style></head><body>\n<header><h1>", style);
    html_text(b, title);
    pk_buf_printf(b, "</h1><p>run %lld", (long long)run->id);
    if (*run->label) {
        pk_buf_puts(b, " &middot; ");
        html_text(b, run->label);
    }
    pk_buf_printf(b, " &middot; %s", t0);
    if (base)
        pk_buf_printf(b, " &middot; changes since run %lld", (long long)base);
    pk_buf_puts(b, "</p></header>\n<main>\n<section id=\"summary\"><h2>Summary</h2><dl>");
    static const char *const names[] = {"Kind", "Source", "Targets", "Ports", "Command", "Started", "Ended"};
    const char *vals[] = {pk_run_kind_name(run->kind), run->source, run->targets, run->ports, run->command, t0, t1};
    for (int i = 0; i < 7; i++) {
        if (!*vals[i])
            continue;
        pk_buf_printf(b, "<dt>%s</dt><dd>", names[i]);
        html_text(b, vals[i]);
        pk_buf_puts(b, "</dd>");
    }
    pk_buf_puts(b, "</dl></section>\n");
}

static void cards(struct rep *r, const struct pk_run *run, bool diff, uint64_t nchanges)
{
    struct pk_buf *b = &r->b;
    pk_buf_puts(b, "<div class=\"cards\" id=\"counts\">");
    if (run->kind == PK_RUN_SCAN) {
        pk_buf_printf(b, "<div class=\"card\"><b id=\"n-hosts\">%llu</b><span>hosts</span></div>"
                         "<div class=\"card\"><b id=\"n-up\">%llu</b><span>up</span></div>"
                         "<div class=\"card\"><b id=\"n-open\">%llu</b><span>open ports</span></div>",
                      (unsigned long long)run->hosts, (unsigned long long)run->hosts_up,
                      (unsigned long long)run->open);
    } else {
        pk_buf_printf(b, "<div class=\"card\"><b id=\"n-listeners\">%llu</b><span>listeners</span></div>",
                      (unsigned long long)run->open);
    }
    if (diff)
        pk_buf_printf(b, "<div class=\"card\"><b id=\"n-changes\">%llu</b><span>changes</span></div>",
                      (unsigned long long)nchanges);
    pk_buf_puts(b, "</div>\n");
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
        struct pk_buf *b = &w->hosts;
        pk_buf_printf(b, "<tr data-state=\"%s\"><td>", host->up ? "up" : "down");
        html_text(b, host->addr);
        pk_buf_puts(b, "</td><td>");
        html_text(b, host->hostname);
        pk_buf_printf(b, "</td><td>%s</td><td class=\"n\">%.2f</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td>"
                         "<td>%s</td></tr>\n",
                      host->up ? "up" : "down", host->rtt_us / 1000.0, (unsigned long long)host->closed[0],
                      (unsigned long long)host->closed[1],
                      !host->up ? "no answer" : pk_state_name(host->rest[0] ? host->rest[0] : PK_STATE_CLOSED));
        return 0;
    }
    r->states[p->state < PK_STATE_COUNT ? p->state : 0]++;
    const char *state = pk_state_name(p->state);
    const struct mark *m = find_mark(r, host->addr, p->proto, p->port);
    pk_buf_printf(&r->b, "<tr data-state=\"%s\"", state);
    if (m)
        pk_buf_printf(&r->b, " class=\"c-%s\" title=\"%s\"", pk_change_name(m->kind), pk_change_name(m->kind));
    pk_buf_puts(&r->b, ">");
    cell(r, host->addr);
    cell_num(r, p->port);
    cell(r, pk_proto_name(p->proto));
    pk_buf_printf(&r->b, "<td class=\"s-%s\">%s</td>", state, state);
    cell(r, p->service);
    struct pk_buf line = PK_BUF_INIT;
    const char *parts[] = {p->product, p->version, p->extra};
    for (int i = 0; i < 3; i++)
        if (parts[i] && *parts[i])
            pk_buf_printf(&line, "%s%s", line.len ? " " : "", parts[i]);
    cell(r, line.data);
    pk_buf_free(&line);
    pk_buf_puts(&r->b, "<td class=\"b\">");
    html_text(&r->b, p->banner);
    pk_buf_puts(&r->b, "</td><td>");
    struct pk_note note;
    if (r->reg && pk_registry_is_risky(r->reg, p->port, p->proto) &&
        pk_registry_note(r->reg, p->port, p->proto, &note)) {
        r->risky++;
        pk_buf_puts(&r->b, "<span class=\"risk\">");
        html_text(&r->b, note.risk);
        pk_buf_puts(&r->b, "</span>");
    }
    pk_buf_puts(&r->b, "</td></tr>\n");
    maybe_flush(r);
    return 0;
}

static int on_listener(void *arg, const struct pk_history_listener *l)
{
    struct rep *r = arg;
    const struct mark *m = find_mark(r, l->addr, l->proto, l->port);
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

static const char filter_bar[] =
    "<div class=\"tools\"><input id=\"filter\" type=\"search\" placeholder=\"filter: address, port, service...\">"
    "<select id=\"state\"><option value=\"\">every state</option><option>open</option><option>filtered</option>"
    "<option>open|filtered</option><option>listen</option></select><span class=\"muted\"><span id=\"shown\"></span> rows shown</span></div>\n";

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
    summary(&r, &run.run, title, base_h ? base : 0);
    cards(&r, &run.run, base_h != NULL, r.nchanges);
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
        pk_buf_printf(&r.b, "<section id=\"ports-section\"><h2>Ports</h2>%s<table class=\"sortable\" id=\"ports\">"
                            "<thead><tr><th>host</th><th>port</th><th>proto</th><th>state</th><th>service</th>"
                            "<th>product / version</th><th>banner</th><th>risk</th></tr></thead><tbody>\n",
                      filter_bar);
        rc = pk_history_walk(h, id, on_port, &w, err);
        pk_buf_puts(&r.b, "</tbody></table></section>\n<section id=\"hosts-section\"><h2>Hosts</h2>"
                          "<table class=\"sortable\" id=\"hosts\"><thead><tr><th>address</th><th>name</th>"
                          "<th>status</th><th>RTT ms</th><th>closed tcp</th><th>closed udp</th><th>unlisted tcp ports</th>"
                          "</tr></thead><tbody>\n");
        if (w.hosts.data)
            pk_buf_append(&r.b, w.hosts.data, w.hosts.len);
        pk_buf_puts(&r.b, "</tbody></table></section>\n");
    } else if (rc == 0) {
        pk_buf_printf(&r.b, "<section id=\"ports-section\"><h2>Listeners</h2>%s<table class=\"sortable\" id=\"ports\">"
                            "<thead><tr><th>proto</th><th>address</th><th>port</th><th>process</th><th>pid</th>"
                            "<th>user</th><th>service</th><th>flags</th></tr></thead><tbody>\n",
                      filter_bar);
        rc = pk_history_walk_listeners(h, id, on_listener, &r, err);
        pk_buf_puts(&r.b, "</tbody></table></section>\n");
    }
    pk_buf_free(&w.hosts);
    pk_buf_printf(&r.b, "<p class=\"muted\">Written by portkit %s. Open ports with a risk note: %llu.</p>"
                        "</main>\n<script>%s</script>\n</body></html>\n",
                  PK_VERSION, (unsigned long long)r.risky, script);
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
