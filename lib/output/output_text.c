/* The human output: per host, the open ports with their service, what the
 * service said and the registry's risk flag; what was not shown, counted;
 * and a closing summary. Colours only when the caller asks (a terminal). */
#include <stdio.h>
#include <string.h>

#include "portkit/output.h"

#include "output/output_impl.h"

struct text_state {
    bool service_detect;
    uint64_t hosts, hosts_shown;
    /* hosts that answered nothing: one summary line, not one line each */
    uint64_t silent_hosts, silent_ports;
};

static const char *sgr(const struct pk_output *o, const char *code)
{
    return pk_output_opts(o)->color ? code : "";
}

#define RESET "\033[0m"
#define BOLD "\033[1m"
#define DIM "\033[2m"
#define RED "\033[31m"
#define GREEN "\033[32m"
#define YELLOW "\033[33m"

static const char *state_colour(const struct pk_output *o, enum pk_port_state st)
{
    switch (st) {
    case PK_STATE_OPEN: return sgr(o, GREEN);
    case PK_STATE_FILTERED:
    case PK_STATE_OPEN_FILTERED: return sgr(o, YELLOW);
    default: return sgr(o, DIM);
    }
}

static void text_begin(struct pk_output *o, const struct pk_scan_info *info)
{
    struct text_state *ts = pk_output_state(o);
    ts->service_detect = info->service_detect;
    ts->hosts = info->hosts;
    struct pk_buf *b = pk_output_buf(o);
    size_t nt = info->tcp ? pk_ports_count(info->ports, PK_TCP) : 0;
    size_t nu = info->udp ? pk_ports_count(info->ports, PK_UDP) : 0;
    pk_buf_printf(b, "%sportkit scan%s: %llu host%s, ", sgr(o, BOLD), sgr(o, RESET),
                  (unsigned long long)info->hosts, info->hosts == 1 ? "" : "s");
    if (nt)
        pk_buf_printf(b, "%zu tcp port%s", nt, nt == 1 ? "" : "s");
    if (nt && nu)
        pk_buf_puts(b, " and ");
    if (nu)
        pk_buf_printf(b, "%zu udp port%s", nu, nu == 1 ? "" : "s");
    pk_buf_puts(b, "\n");
}

/* A state is listed port by port unless it has more than 25 ports, nmap's
 * rule; open ports are always listed. */
static bool listed(const struct pk_output *o, const struct pk_host_report *h,
                   enum pk_port_state st)
{
    if (pk_output_opts(o)->all_states || st == PK_STATE_OPEN)
        return true;
    if (pk_output_opts(o)->open_only)
        return st == PK_STATE_OPEN_FILTERED;
    if (st != PK_STATE_OPEN_FILTERED)
        return false;
    return h->counts[0][st] + h->counts[1][st] <= 25;
}

static void risk_line(const struct pk_output *o, const struct pk_scan_result *r, struct pk_buf *b)
{
    const struct pk_registry *reg = pk_output_opts(o)->reg;
    struct pk_note n;
    /* RISK only for a trojan's own port, and not when -sV saw the port's legitimate service */
    if (!reg || r->state != PK_STATE_OPEN ||
        !pk_registry_risk_flag(reg, r->port, r->proto, r->service_probed ? r->service : NULL) ||
        !pk_registry_note(reg, r->port, r->proto, &n))
        return;
    size_t len = strcspn(n.risk, "\n");
    pk_buf_printf(b, "  %srisk: %.*s%s", sgr(o, RED), (int)len, n.risk, sgr(o, RESET));
}

static void text_host(struct pk_output *o, const struct pk_host_report *h)
{
    struct text_state *ts = pk_output_state(o);
    struct pk_buf *b = pk_output_buf(o);
    char addr[PK_ADDR_STRLEN];
    pk_addr_format(&h->addr, addr, sizeof addr);
    if (h->timed_out) { /* nmap: "Skipping host X due to host timeout" */
        ts->hosts_shown++;
        pk_buf_printf(b, "\n%s%s%s", sgr(o, BOLD), h->hostname ? h->hostname : addr, sgr(o, RESET));
        if (h->hostname)
            pk_buf_printf(b, " (%s)", addr);
        pk_buf_puts(b, "  skipped due to host timeout: its ports are not reported\n");
        return;
    }
    uint64_t decided = 0;
    for (int t = 0; t < 2; t++)
        for (int st = 1; st < PK_STATE_COUNT; st++)
            decided += h->counts[t][st];
    if (decided == 0) {
        /* Discovery's verdict is all there is (-sn, or a host found down). */
        bool down = h->status == PK_HOST_DOWN;
        if (h->status == PK_HOST_UNKNOWN || (down && !pk_output_opts(o)->all_states))
            return; /* a stopped scan never reached this host */
        ts->hosts_shown++;
        pk_buf_printf(b, "\n%s%s%s", sgr(o, BOLD), h->hostname ? h->hostname : addr, sgr(o, RESET));
        if (h->hostname)
            pk_buf_printf(b, " (%s)", addr);
        pk_buf_printf(b, "  host %s (%s)", down ? "down" : "up", pk_reason_name(h->status_reason));
        if (h->srtt_us)
            pk_buf_printf(b, "  %srtt %.2f ms%s", sgr(o, DIM), h->srtt_us / 1000.0, sgr(o, RESET));
        pk_buf_putc(b, '\n');
        return;
    }
    if (pko_host_hidden(o, h))
        return;
    if (!h->answered && ts->hosts > 1) {
        ts->silent_hosts++;
        ts->silent_ports += decided;
        return;
    }
    ts->hosts_shown++;
    pk_buf_printf(b, "\n%s%s%s", sgr(o, BOLD), h->hostname ? h->hostname : addr, sgr(o, RESET));
    if (h->hostname)
        pk_buf_printf(b, " (%s)", addr);
    if (!h->answered) {
        pk_buf_printf(b, "  no answer to any probe: %llu port%s %s\n", (unsigned long long)decided,
                      decided == 1 ? "" : "s",
                      h->counts[1][PK_STATE_OPEN_FILTERED] ? "filtered or open|filtered" : "filtered");
        return;
    }
    if (h->srtt_us)
        pk_buf_printf(b, "  %srtt %.2f ms%s", sgr(o, DIM), h->srtt_us / 1000.0, sgr(o, RESET));
    pk_buf_putc(b, '\n');

    bool reason = pk_output_opts(o)->reason;
    size_t shown = 0, portw = 4, svcw = 7, statew = 5, reasonw = 6;
    for (size_t i = 0; i < h->nports; i++) {
        const struct pk_scan_result *r = &h->ports[i];
        if (!listed(o, h, r->state))
            continue;
        shown++;
        size_t stl = strlen(pk_state_name(r->state));
        if (stl > statew)
            statew = stl;
        char pp[16];
        size_t n = (size_t)snprintf(pp, sizeof pp, "%u/%s", r->port, pk_proto_name(r->proto));
        if (n > portw)
            portw = n;
        size_t rl = strlen(pk_reason_name(r->reason));
        if (rl > reasonw)
            reasonw = rl;
        size_t sl = r->service ? strlen(r->service) : 1;
        if (sl > svcw)
            svcw = sl > 24 ? 24 : sl;
    }
    if (shown) {
        pk_buf_printf(b, "  %s%-*s  %-*s  ", sgr(o, DIM), (int)portw, "PORT", (int)statew, "STATE");
        if (reason)
            pk_buf_printf(b, "%-*s  ", (int)reasonw, "REASON");
        pk_buf_printf(b, "%-*s  %s%s\n", (int)svcw, "SERVICE",
                      ts->service_detect ? "VERSION / NOTES" : "NOTES", sgr(o, RESET));
        struct pk_buf v = PK_BUF_INIT;
        for (size_t i = 0; i < h->nports; i++) {
            const struct pk_scan_result *r = &h->ports[i];
            if (!listed(o, h, r->state))
                continue;
            char pp[16];
            snprintf(pp, sizeof pp, "%u/%s", r->port, pk_proto_name(r->proto));
            pk_buf_printf(b, "  %-*s  %s%-*s%s  ", (int)portw, pp, state_colour(o, r->state),
                          (int)statew, pk_state_name(r->state), sgr(o, RESET));
            if (reason)
                pk_buf_printf(b, "%-*s  ", (int)reasonw, pk_reason_name(r->reason));
            pk_buf_printf(b, "%-*.*s", (int)svcw, (int)svcw, r->service ? r->service : "");
            pk_buf_reset(&v);
            pk_output_service_line(r, &v);
            const char *info = v.len ? v.data : r->banner;
            if (info && *info)
                pk_buf_printf(b, "  %s", info);
            else if (!reason && pk_output_opts(o)->all_states && r->state != PK_STATE_OPEN)
                pk_buf_printf(b, "  %s%s%s", sgr(o, DIM), pk_reason_name(r->reason), sgr(o, RESET));
            risk_line(o, r, b);
            pk_buf_putc(b, '\n');
            /* The certificate as nmap shows script output: "| " lines, "|_" last. */
            for (const char *line = r->ssl_cert; line && *line;) {
                size_t len = strcspn(line, "\n");
                bool last = line[len] == '\0';
                pk_buf_printf(b, "  %s%s%.*s\n", last ? "|_" : "| ", line == r->ssl_cert ? "ssl-cert: " : "",
                              (int)len, line);
                line += len + (last ? 0 : 1);
            }
        }
        pk_buf_free(&v);
    }
    /* What was not listed, by state and transport. */
    bool any = false;
    for (int st = 1; st < PK_STATE_COUNT && !pk_output_opts(o)->open_only; st++) {
        for (int t = 0; t < 2; t++) {
            uint64_t n = h->counts[t][st];
            if (!n || listed(o, h, (enum pk_port_state)st))
                continue;
            pk_buf_printf(b, "%s%llu %s %s port%s", any ? ", " : "  Not shown: ", (unsigned long long)n,
                          pk_state_name((enum pk_port_state)st), t ? "udp" : "tcp", n == 1 ? "" : "s");
            any = true;
        }
    }
    if (any)
        pk_buf_puts(b, "\n");
    else if (!shown)
        pk_buf_puts(b, "  no ports decided\n");
}

static void text_end(struct pk_output *o, const struct pk_scan_stats *st)
{
    struct pk_buf *b = pk_output_buf(o);
    struct text_state *ts = pk_output_state(o);
    if (ts->silent_hosts)
        pk_buf_printf(b, "\n%llu address%s did not answer (%llu port%s filtered or open|filtered)\n",
                      (unsigned long long)ts->silent_hosts, ts->silent_hosts == 1 ? "" : "es",
                      (unsigned long long)ts->silent_ports, ts->silent_ports == 1 ? "" : "s");
    double secs = st->elapsed_us / 1e6;
    pk_buf_printf(b, "\n%s%s%s %llu host%s (%llu answered), %llu of %llu port%s decided: ",
                  sgr(o, BOLD), st->interrupted ? "Stopped:" : "Done:", sgr(o, RESET),
                  (unsigned long long)st->hosts, st->hosts == 1 ? "" : "s",
                  (unsigned long long)st->hosts_answered, (unsigned long long)st->done,
                  (unsigned long long)st->total, st->total == 1 ? "" : "s");
    bool first = true;
    for (int s = 1; s < PK_STATE_COUNT; s++) {
        if (!st->states[s])
            continue;
        pk_buf_printf(b, "%s%llu %s", first ? "" : ", ", (unsigned long long)st->states[s],
                      pk_state_name((enum pk_port_state)s));
        first = false;
    }
    if (first)
        pk_buf_puts(b, "none");
    if (st->hosts_pinged)
        pk_buf_printf(b, "; hosts: %llu up, %llu down", (unsigned long long)st->hosts_up,
                      (unsigned long long)st->hosts_down);
    if (st->hosts_timed_out)
        pk_buf_printf(b, "; %llu host%s timed out", (unsigned long long)st->hosts_timed_out,
                      st->hosts_timed_out == 1 ? "" : "s");
    pk_buf_printf(b, "; %.2f s, %.0f probes/s\n", secs,
                  secs > 0 ? (double)(st->probes + st->ping_probes) / secs : 0.0);
}

const struct pk_output_module pk_output_text = {
    .name = "text",
    .state_size = sizeof(struct text_state),
    .begin = text_begin,
    .host = text_host,
    .end = text_end,
};
