/* "html": the scan output module that writes the report page straight from
 * a scan (portkit scan -oH FILE), the same page `portkit report` writes
 * from the history. The page opens with its counts, which are known only
 * at the end, so the rows are kept until then: memory grows with the ports
 * shown (open ones, unless all_states), not with the ports scanned. */
#include <stdlib.h>
#include <string.h>

#include "history/report_impl.h"
#include "portkit/output.h"
#include "portkit/target.h"

struct html_state {
    struct pk_buf command, ports_asked, rows, hosts;
    uint64_t start_us, nhosts, up, open, risky;
};

static void html_begin(struct pk_output *o, const struct pk_scan_info *info)
{
    struct html_state *hs = pk_output_state(o);
    pk_buf_puts(&hs->command, info->command ? info->command : "");
    for (int t = PK_TCP; t <= PK_UDP; t++) {
        if (!(t == PK_TCP ? info->tcp : info->udp))
            continue;
        pk_buf_printf(&hs->ports_asked, "%s%s:", hs->ports_asked.len ? "," : "", t == PK_TCP ? "T" : "U");
        pk_ports_format(info->ports, (enum pk_proto)t, &hs->ports_asked);
    }
    hs->start_us = info->start_wall_us;
}

static void html_host(struct pk_output *o, const struct pk_host_report *h)
{
    struct html_state *hs = pk_output_state(o);
    char addr[PK_ADDR_STRLEN];
    pk_addr_format(&h->addr, addr, sizeof addr);
    struct pk_history_host host = {
        .addr = addr, .hostname = h->hostname, .up = h->answered, .rtt_us = h->srtt_us,
        .closed = {h->counts[0][PK_STATE_CLOSED], h->counts[1][PK_STATE_CLOSED]},
        .rest = {PK_STATE_CLOSED, PK_STATE_CLOSED},
    };
    hs->nhosts++;
    hs->up += h->answered;
    rp_host_row(&hs->hosts, &host);
    for (size_t i = 0; i < h->nports; i++) {
        const struct pk_scan_result *r = &h->ports[i];
        if (!pk_output_wanted(o, r->state))
            continue;
        struct pk_history_port p = {
            .proto = r->proto, .port = r->port, .state = r->state, .reason = r->reason, .service = r->service,
            .service_probed = r->service_probed, .product = r->product, .version = r->version, .extra = r->extra,
            .banner = r->banner,
        };
        hs->open += r->state == PK_STATE_OPEN;
        rp_port_row(&hs->rows, pk_output_opts(o)->reg, addr, &p, NULL, &hs->risky);
    }
}

static void html_end(struct pk_output *o, const struct pk_scan_stats *st)
{
    struct html_state *hs = pk_output_state(o);
    struct pk_buf *b = pk_output_buf(o);
    struct pk_run run = {
        .kind = PK_RUN_SCAN, .label = "", .source = "portkit", .targets = "",
        .ports = hs->ports_asked.data ? hs->ports_asked.data : "", .command = hs->command.data ? hs->command.data : "",
        .start_us = st->start_wall_us ? st->start_wall_us : hs->start_us, .hosts = hs->nhosts, .hosts_up = hs->up,
        .open = hs->open,
    };
    run.end_us = run.start_us + st->elapsed_us;
    rp_page_begin(b, &run, st->interrupted ? "portkit scan (stopped before the end)" : "portkit scan", 0);
    rp_cards(b, &run, false, 0);
    rp_ports_begin(b);
    if (hs->rows.data)
        pk_buf_append(b, hs->rows.data, hs->rows.len);
    rp_ports_end(b, &hs->hosts);
    rp_page_end(b, hs->risky);
    pk_buf_free(&hs->command);
    pk_buf_free(&hs->ports_asked);
    pk_buf_free(&hs->rows);
    pk_buf_free(&hs->hosts);
}

const struct pk_output_module pk_output_html = {
    .name = "html",
    .state_size = sizeof(struct html_state),
    .begin = html_begin,
    .host = html_host,
    .end = html_end,
};
