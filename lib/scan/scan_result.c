/* Decided results: recording a (host, port) outcome, handing it to the
 * caller, and the per-host reports built from what was kept. The scheduler
 * calls in here; nothing here calls the scheduler or the probe modules. */
#include <stdlib.h>
#include <string.h>

#include "scan/scan_impl.h"
#include "portkit/registry.h"

/* ---- results ---- */

/* The first failure wins: later ones are usually its consequences. */
void pks_fail(struct pk_scan *s, int code, const char *msg)
{
    if (s->failed)
        return;
    s->failed = true;
    pk_err_set(&s->fail, code, "%s", msg);
}


static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

/* The usual reason of a state, which is not stored per port. */
static enum pk_reason default_reason(const struct pk_scan *s, enum pk_proto proto, enum pk_port_state st)
{
    switch (st) {
    case PK_STATE_OPEN: return proto == PK_UDP ? PK_REASON_UDP_RESPONSE : PK_REASON_SYN_ACK;
    case PK_STATE_CLOSED:
        if (proto == PK_UDP)
            return PK_REASON_PORT_UNREACH;
        return s->cfg.method == PK_SCAN_SYN ? PK_REASON_RESET : PK_REASON_CONN_REFUSED;
    case PK_STATE_FILTERED:
    case PK_STATE_OPEN_FILTERED: return PK_REASON_NO_RESPONSE;
    default: return PK_REASON_NONE;
    }
}

static int add_detail(struct scan_host *h, const struct scan_detail *d)
{
    if (PK_ARRAY_RESERVE(h->details, h->details_cap, h->ndetails + 1, 8) < 0)
        return -1;
    h->details[h->ndetails++] = *d;
    return 0;
}

void pks_record(struct pk_scan *s, struct scan_job *j, const char *service, bool probed,
                 const char *product, const char *version, const char *extra, const char *banner)
{
    struct scan_host *h = j->host;
    enum pk_port_state st = (enum pk_port_state)j->state;
    enum pk_reason why = (enum pk_reason)j->reason;
    enum pk_proto proto = (enum pk_proto)j->proto;
    if (!h->states) {
        h->states = calloc((s->nslots + 1) / 2, 1);
        if (!h->states) {
            pks_fail(s, PK_ENOMEM, "out of memory");
            return;
        }
    }
    uint8_t *b = &h->states[j->slot / 2];
    if (j->slot & 1)
        *b = (uint8_t)((*b & 0x0f) | (st << 4));
    else
        *b = (uint8_t)((*b & 0xf0) | st);
    h->counts[scan_proto_index(proto)][st]++;
    uint64_t now = pks_wall_us();
    if (!h->first_wall_us)
        h->first_wall_us = now;
    h->last_wall_us = now;
    s->st.done++;
    s->st.states[st]++;

    const char *table = s->cfg.reg ? pk_registry_display_name(s->cfg.reg, j->port, proto) : NULL;
    char *cert = j->cert; /* the detail takes it over */
    bool tunnel = j->tunnel;
    j->cert = NULL;
    j->tunnel = false;
    bool kept = false;
    if (st == PK_STATE_OPEN || st == PK_STATE_OPEN_FILTERED || why != default_reason(s, proto, st)) {
        struct scan_detail d = {.slot = j->slot, .state = (uint8_t)st, .reason = (uint8_t)why,
                                .tries = j->tries, .rtt_us = j->rtt_us};
        if (probed) {
            d.service = dup_or_null(service);
            d.product = dup_or_null(product);
            d.version = dup_or_null(version);
            d.extra = dup_or_null(extra);
        }
        d.banner = dup_or_null(banner);
        d.cert = cert;
        d.tunnel = tunnel;
        if (add_detail(h, &d) < 0) {
            free(cert);
            pks_fail(s, PK_ENOMEM, "out of memory");
            return;
        }
        kept = true;
    }
    if (!s->cfg.on_result) {
        if (!kept)
            free(cert);
        return;
    }
    struct pk_scan_result r = {
        .host = h->index,
        .addr = &h->addr,
        .hostname = h->hostname,
        .port = j->port,
        .proto = proto,
        .state = st,
        .reason = why,
        .rtt_us = j->rtt_us,
        .tries = j->tries,
        .service = probed && service && *service ? service : table,
        .service_probed = probed && service && *service,
        .product = product ? product : "",
        .version = version ? version : "",
        .extra = extra ? extra : "",
        .banner = banner ? banner : "",
        .ssl_cert = cert,
        .ssl_tunnel = tunnel,
    };
    s->cfg.on_result(s->cfg.arg, &r);
    if (!kept)
        free(cert);
}

static int detail_order(const void *a, const void *b, void *arg)
{
    const struct scan_host *h = arg;
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    const struct scan_detail *x = &h->details[ia], *y = &h->details[ib];
    if (x->slot != y->slot)
        return x->slot < y->slot ? -1 : 1;
    return ia < ib ? -1 : 1; /* a later detail for the same slot wins */
}

int pk_scan_host_report(const struct pk_scan *s, uint64_t host, struct pk_host_report *out,
                        struct pk_err *err)
{
    memset(out, 0, sizeof *out);
    if (host >= s->nhosts)
        return pk_err_set(err, PK_EINVAL, "no host %llu", (unsigned long long)host);
    out->index = host;
    pk_targets_get(s->cfg.targets, host, &out->addr);
    out->hostname = pk_targets_name(s->cfg.targets, host);
    const struct scan_host *h = s->hosts[host];
    if (s->disc) {
        unsigned hs = pks_host_status(s, host);
        out->status = hs == HOST_UP ? PK_HOST_UP : hs == HOST_DOWN ? PK_HOST_DOWN : PK_HOST_UNKNOWN;
        out->status_reason = hs == HOST_DOWN ? PK_REASON_NO_RESPONSE : PK_REASON_NONE;
    } else if (h) {
        out->status = PK_HOST_UP;
    }
    if (h && out->status == PK_HOST_UP)
        out->status_reason = (enum pk_reason)h->up_reason;
    if (h) {
        out->answered = h->answered;
        out->start_wall_us = h->first_wall_us;
        out->end_wall_us = h->last_wall_us;
        if (h->tm.samples) {
            out->srtt_us = (uint32_t)h->tm.srtt_us;
            out->rttvar_us = (uint32_t)h->tm.rttvar_us;
        }
    }
    if (h && h->timed_out)
        out->timed_out = true; /* as nmap: none of its ports is reported */
    if (!h || !h->states || h->timed_out)
        return 0;
    out->answered = h->answered;
    if (h->tm.samples) {
        out->srtt_us = (uint32_t)h->tm.srtt_us;
        out->rttvar_us = (uint32_t)h->tm.rttvar_us;
    }
    out->start_wall_us = h->first_wall_us;
    out->end_wall_us = h->last_wall_us;
    for (int t = 0; t < 2; t++)
        for (int st = 0; st < PK_STATE_COUNT; st++)
            out->counts[t][st] = h->counts[t][st];
    size_t n = 0;
    for (int t = 0; t < 2; t++)
        for (int st = 1; st < PK_STATE_COUNT; st++)
            n += h->counts[t][st];
    out->ports = calloc(n ? n : 1, sizeof *out->ports);
    if (!out->ports)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    size_t *order = malloc((h->ndetails + 1) * sizeof *order);
    if (!order) {
        pk_host_report_free(out);
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < h->ndetails; i++)
        order[i] = i;
    qsort_r(order, h->ndetails, sizeof *order, detail_order, (void *)h);
    size_t k = 0, di = 0;
    for (uint32_t slot = 0; slot < s->nslots && k < n; slot++) {
        uint8_t v = h->states[slot / 2];
        enum pk_port_state st = (enum pk_port_state)((slot & 1) ? v >> 4 : v & 0x0f);
        if (st == PK_STATE_UNKNOWN)
            continue;
        struct pk_scan_result *r = &out->ports[k++];
        r->host = host;
        r->addr = &out->addr;
        r->hostname = out->hostname;
        r->proto = slot < s->ntcp ? PK_TCP : PK_UDP;
        r->port = slot < s->ntcp ? s->tcp_ports[slot] : s->udp_ports[slot - s->ntcp];
        r->state = st;
        r->reason = default_reason(s, r->proto, st);
        r->tries = 1;
        r->product = r->version = r->extra = r->banner = "";
        r->service = s->cfg.reg ? pk_registry_display_name(s->cfg.reg, r->port, r->proto) : NULL;
        const struct scan_detail *d = NULL;
        while (di < h->ndetails && h->details[order[di]].slot < slot)
            di++;
        while (di < h->ndetails && h->details[order[di]].slot == slot)
            d = &h->details[order[di++]];
        if (d) {
            r->reason = (enum pk_reason)d->reason;
            r->rtt_us = d->rtt_us;
            r->tries = d->tries;
            if (d->service) {
                r->service = d->service;
                r->service_probed = true;
            }
            r->product = d->product ? d->product : "";
            r->version = d->version ? d->version : "";
            r->extra = d->extra ? d->extra : "";
            r->banner = d->banner ? d->banner : "";
            r->ssl_cert = d->cert;
            r->ssl_tunnel = d->tunnel;
        }
    }
    free(order);
    out->nports = k;
    return 0;
}

void pk_host_report_free(struct pk_host_report *r)
{
    free(r->ports);
    r->ports = NULL;
    r->nports = 0;
}
