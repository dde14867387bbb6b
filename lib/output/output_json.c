/* JSON Lines: one object per decided port, streamed as the scan decides
 * it, so `portkit scan --json | jq` shows results while the scan runs.
 * Keys: host, hostname (when one was given), port, proto, state, reason,
 * service, version (-sV), banner, ssl_cert (-sV over TLS), rtt_ms. Only open and open|filtered
 * ports unless all_states. Host discovery adds one line per host that has
 * no port line: {"host", "status": "up"|"down", "reason"} for hosts found up
 * by -sn, and for hosts found down when all_states. A host given up by
 * --host-timeout gets that line with "timed_out": true; port lines already
 * streamed for it are not taken back (text, XML and grepable output leave
 * its ports out, as nmap does). */
#include "portkit/json.h"
#include "portkit/output.h"

static void json_result(struct pk_output *o, const struct pk_scan_result *r)
{
    if (!pk_output_wanted(o, r->state))
        return;
    struct pk_buf *b = pk_output_buf(o);
    struct pk_json j;
    pk_json_init(&j, b);
    char addr[PK_ADDR_STRLEN];
    pk_addr_format(r->addr, addr, sizeof addr);
    pk_json_obj_begin(&j, NULL);
    pk_json_str(&j, "host", addr);
    if (r->hostname)
        pk_json_str(&j, "hostname", r->hostname);
    pk_json_int(&j, "port", r->port);
    pk_json_str(&j, "proto", pk_proto_name(r->proto));
    pk_json_str(&j, "state", pk_state_name(r->state));
    pk_json_str(&j, "reason", pk_reason_name(r->reason));
    pk_json_str(&j, "service", r->service);
    struct pk_buf v = PK_BUF_INIT;
    pk_output_service_line(r, &v);
    if (v.len)
        pk_json_str(&j, "version", v.data);
    pk_buf_free(&v);
    pk_json_str(&j, "banner", r->banner && *r->banner ? r->banner : NULL);
    if (r->ssl_cert)
        pk_json_str(&j, "ssl_cert", r->ssl_cert);
    if (r->rtt_us)
        pk_json_double(&j, "rtt_ms", r->rtt_us / 1000.0, 3);
    else
        pk_json_null(&j, "rtt_ms");
    pk_json_obj_end(&j);
    pk_buf_putc(b, '\n');
}

static void json_host(struct pk_output *o, const struct pk_host_report *h)
{
    bool down = h->status == PK_HOST_DOWN;
    if (h->nports || h->status == PK_HOST_UNKNOWN || (down && !pk_output_opts(o)->all_states))
        return;
    struct pk_buf *b = pk_output_buf(o);
    struct pk_json j;
    pk_json_init(&j, b);
    char addr[PK_ADDR_STRLEN];
    pk_addr_format(&h->addr, addr, sizeof addr);
    pk_json_obj_begin(&j, NULL);
    pk_json_str(&j, "host", addr);
    if (h->hostname)
        pk_json_str(&j, "hostname", h->hostname);
    pk_json_str(&j, "status", pk_host_status_name(h->status));
    pk_json_str(&j, "reason", pk_reason_name(h->status_reason));
    if (h->timed_out)
        pk_json_bool(&j, "timed_out", true);
    if (h->srtt_us)
        pk_json_double(&j, "rtt_ms", h->srtt_us / 1000.0, 3);
    pk_json_obj_end(&j);
    pk_buf_putc(b, '\n');
}

const struct pk_output_module pk_output_json = {
    .name = "json",
    .result = json_result,
    .host = json_host,
};
