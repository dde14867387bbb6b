/* The HTML page's shared parts (report_impl.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "history/report_impl.h"

/* Escaped text for element content and attribute values. */
void rp_text(struct pk_buf *b, const char *s)
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


void rp_when(uint64_t us, char *buf, size_t len)
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


void rp_page_begin(struct pk_buf *b, const struct pk_run *run, const char *title, int64_t base)
{
    char t0[64], t1[64];
    rp_when(run->start_us, t0, sizeof t0);
    rp_when(run->end_us, t1, sizeof t1);
    pk_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                   "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
                   "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>");
    rp_text(b, title);
    pk_buf_printf(b, "</title><style>%s</style></head><body>\n<header><h1>", style);
    rp_text(b, title);
    if (run->id)
        pk_buf_printf(b, "</h1><p>run %lld", (long long)run->id);
    else
        pk_buf_puts(b, "</h1><p>scan");
    if (*run->label) {
        pk_buf_puts(b, " &middot; ");
        rp_text(b, run->label);
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
        rp_text(b, vals[i]);
        pk_buf_puts(b, "</dd>");
    }
    pk_buf_puts(b, "</dl></section>\n");
}

void rp_cards(struct pk_buf *b, const struct pk_run *run, bool diff, uint64_t nchanges)
{
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


const char RP_FILTER_BAR[] =
    "<div class=\"tools\"><input id=\"filter\" type=\"search\" placeholder=\"filter: address, port, service...\">"
    "<select id=\"state\"><option value=\"\">every state</option><option>open</option><option>filtered</option>"
    "<option>open|filtered</option><option>listen</option></select><span class=\"muted\"><span id=\"shown\"></span> rows shown</span></div>\n";


void rp_ports_begin(struct pk_buf *b)
{
    pk_buf_printf(b, "<section id=\"ports-section\"><h2>Ports</h2>%s<table class=\"sortable\" id=\"ports\">"
                     "<thead><tr><th>host</th><th>port</th><th>proto</th><th>state</th><th>service</th>"
                     "<th>product / version</th><th>banner</th><th>risk</th></tr></thead><tbody>\n",
                  RP_FILTER_BAR);
}

static void cell(struct pk_buf *b, const char *s)
{
    pk_buf_puts(b, "<td>");
    rp_text(b, s);
    pk_buf_puts(b, "</td>");
}

void rp_port_row(struct pk_buf *b, const struct pk_registry *reg, const char *host, const struct pk_history_port *p,
                 const char *change, uint64_t *risky)
{
    const char *state = pk_state_name(p->state);
    pk_buf_printf(b, "<tr data-state=\"%s\"", state);
    if (change)
        pk_buf_printf(b, " class=\"c-%s\" title=\"%s\"", change, change);
    pk_buf_puts(b, ">");
    cell(b, host);
    pk_buf_printf(b, "<td class=\"n\">%u</td>", p->port);
    cell(b, pk_proto_name(p->proto));
    pk_buf_printf(b, "<td class=\"s-%s\">%s</td>", state, state);
    cell(b, p->service);
    struct pk_buf line = PK_BUF_INIT;
    const char *parts[] = {p->product, p->version, p->extra};
    for (int i = 0; i < 3; i++)
        if (parts[i] && *parts[i])
            pk_buf_printf(&line, "%s%s", line.len ? " " : "", parts[i]);
    cell(b, line.data);
    pk_buf_free(&line);
    pk_buf_puts(b, "<td class=\"b\">");
    rp_text(b, p->banner);
    pk_buf_puts(b, "</td><td>");
    struct pk_note note;
    if (reg && pk_registry_is_risky(reg, p->port, p->proto) && pk_registry_note(reg, p->port, p->proto, &note)) {
        (*risky)++;
        pk_buf_puts(b, "<span class=\"risk\">");
        rp_text(b, note.risk);
        pk_buf_puts(b, "</span>");
    }
    pk_buf_puts(b, "</td></tr>\n");
}

void rp_host_row(struct pk_buf *b, const struct pk_history_host *host)
{
    pk_buf_printf(b, "<tr data-state=\"%s\"><td>", host->up ? "up" : "down");
    rp_text(b, host->addr);
    pk_buf_puts(b, "</td><td>");
    rp_text(b, host->hostname);
    pk_buf_printf(b, "</td><td>%s</td><td class=\"n\">%.2f</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td>"
                     "<td>%s</td></tr>\n",
                  host->up ? "up" : "down", host->rtt_us / 1000.0, (unsigned long long)host->closed[0],
                  (unsigned long long)host->closed[1],
                  !host->up ? "no answer" : pk_state_name(host->rest[0] ? host->rest[0] : PK_STATE_CLOSED));
}

void rp_ports_end(struct pk_buf *b, const struct pk_buf *hosts)
{
    pk_buf_puts(b, "</tbody></table></section>\n<section id=\"hosts-section\"><h2>Hosts</h2>"
                   "<table class=\"sortable\" id=\"hosts\"><thead><tr><th>address</th><th>name</th>"
                   "<th>status</th><th>RTT ms</th><th>closed tcp</th><th>closed udp</th><th>unlisted tcp ports</th>"
                   "</tr></thead><tbody>\n");
    if (hosts->data)
        pk_buf_append(b, hosts->data, hosts->len);
    pk_buf_puts(b, "</tbody></table></section>\n");
}

void rp_page_end(struct pk_buf *b, uint64_t risky)
{
    pk_buf_printf(b, "<p class=\"muted\">Written by portkit %s. Ports with a risk note: <span id=\"n-risky\">%llu</span>.</p>"
                     "</main>\n<script>%s</script>\n</body></html>\n",
                  PK_VERSION, (unsigned long long)risky, script);
}
