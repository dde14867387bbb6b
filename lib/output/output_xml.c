/* nmap's XML (-oX), valid against nmap.dtd and readable by ndiff and the
 * many tools that consume nmap XML. The DTD fixes scanner="nmap"; portkit
 * names itself in the version, profile_name and the opening comment.
 * Per host, a state with more than 25 ports (nmap's rule) is summed up in
 * <extraports>, with one <extrareasons> per transport and reason that
 * lists its ports as ranges. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "portkit/output.h"
#include "output/output_impl.h"

struct xml_state {
    uint64_t hosts_up;
};

static void xml_begin(struct pk_output *o, const struct pk_scan_info *info)
{
    struct pk_buf *b = pk_output_buf(o);
    char when[64];
    time_t t = (time_t)(info->start_wall_us / 1000000u);
    pko_ctime(t, when, sizeof when);
    pk_buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE nmaprun>\n");
    pk_buf_printf(b, "<!-- portkit %s scan initiated %s as: ", info->version, when);
    /* "--" may not appear inside an XML comment */
    for (const char *p = info->command ? info->command : ""; *p; p++) {
        if (p[0] == '-' && p[1] == '-') {
            pk_buf_puts(b, "-&#45;");
            p++;
        } else {
            pk_buf_putc(b, *p);
        }
    }
    pk_buf_puts(b, " -->\n<nmaprun scanner=\"nmap\" args=\"");
    pko_xml_escape(b, info->command ? info->command : "");
    pk_buf_printf(b, "\" start=\"%lld\" startstr=\"%s\" version=\"portkit-%s\" profile_name=\"portkit\" "
                     "xmloutputversion=\"1.05\">\n",
                  (long long)t, when, info->version);
    for (int p = PK_TCP; p <= PK_UDP; p++) {
        bool on = p == PK_TCP ? info->tcp : info->udp;
        if (!on)
            continue;
        struct pk_buf ports = PK_BUF_INIT;
        pk_ports_format(info->ports, (enum pk_proto)p, &ports);
        pk_buf_printf(b, "<scaninfo type=\"%s\" protocol=\"%s\" numservices=\"%zu\" services=\"%s\"/>\n",
                      p == PK_TCP ? "connect" : "udp", pk_proto_name((enum pk_proto)p),
                      pk_ports_count(info->ports, (enum pk_proto)p), ports.data ? ports.data : "");
        pk_buf_free(&ports);
    }
    pk_buf_puts(b, "<verbose level=\"0\"/>\n<debugging level=\"0\"/>\n");
}

static void xml_service(struct pk_buf *b, const struct pk_scan_result *r)
{
    if (!r->service || !*r->service)
        return;
    pk_buf_puts(b, "<service name=\"");
    pko_xml_escape(b, r->service);
    pk_buf_putc(b, '"');
    if (r->service_probed) {
        static const char *const attr[] = {"product", "version", "extrainfo"};
        const char *val[] = {r->product, r->version, r->extra};
        for (int i = 0; i < 3; i++) {
            if (!val[i] || !*val[i])
                continue;
            pk_buf_printf(b, " %s=\"", attr[i]);
            pko_xml_escape(b, val[i]);
            pk_buf_putc(b, '"');
        }
        if (r->ssl_tunnel) /* as nmap: not after STARTTLS */
            pk_buf_puts(b, " tunnel=\"ssl\"");
        pk_buf_puts(b, " method=\"probed\" conf=\"10\"/>");
    } else {
        pk_buf_puts(b, " method=\"table\" conf=\"3\"/>");
    }
}

static void xml_times(struct pk_buf *b, const struct pk_host_report *h)
{
    if (!h->srtt_us)
        return;
    uint64_t to = (uint64_t)h->srtt_us + 4u * h->rttvar_us;
    pk_buf_printf(b, "<times srtt=\"%u\" rttvar=\"%u\" to=\"%llu\"/>\n", h->srtt_us, h->rttvar_us,
                  (unsigned long long)(to < 100000 ? 100000 : to));
}

static void xml_host(struct pk_output *o, const struct pk_host_report *h)
{
    struct xml_state *xs = pk_output_state(o);
    struct pk_buf *b = pk_output_buf(o);
    bool down = h->status == PK_HOST_DOWN;
    /* Hosts never reached (a stopped scan) are left out, and down hosts
     * unless all_states, as nmap leaves them out unless verbose. */
    if (!h->nports && (h->status == PK_HOST_UNKNOWN || (down && !pk_output_opts(o)->all_states)))
        return;
    if (h->nports && pko_host_hidden(o, h))
        return; /* --open: nothing open here */
    if (!down)
        xs->hosts_up++;
    char addr[PK_ADDR_STRLEN];
    pk_addr_format(&h->addr, addr, sizeof addr);
    enum pk_reason up_why = h->status_reason ? h->status_reason : PK_REASON_USER_SET;
    pk_buf_printf(b, "<host starttime=\"%llu\" endtime=\"%llu\"%s><status state=\"%s\" reason=\"%s\" "
                     "reason_ttl=\"0\"/>\n<address addr=\"",
                  (unsigned long long)(h->start_wall_us / 1000000u),
                  (unsigned long long)(h->end_wall_us / 1000000u), h->timed_out ? " timedout=\"true\"" : "",
                  down ? "down" : "up", pk_reason_name(up_why));
    pko_xml_escape(b, addr);
    pk_buf_printf(b, "\" addrtype=\"%s\"/>\n<hostnames>\n", h->addr.family == AF_INET6 ? "ipv6" : "ipv4");
    if (h->hostname) {
        pk_buf_puts(b, "<hostname name=\"");
        pko_xml_escape(b, h->hostname);
        pk_buf_puts(b, "\" type=\"user\"/>\n");
    }
    pk_buf_puts(b, "</hostnames>\n");
    if (!h->nports) {
        if (h->timed_out) /* nmap's form: no <ports>, the timing it had */
            xml_times(b, h);
        pk_buf_puts(b, "</host>\n");
        return;
    }
    pk_buf_puts(b, "<ports>");

    bool collapsed[PK_STATE_COUNT];
    pko_collapsed_states(h, collapsed);
    /* <extraports>: largest state first, as nmap orders them. */
    bool done[PK_STATE_COUNT] = {false};
    for (;;) {
        int best = -1;
        uint64_t best_n = 0;
        for (int st = 1; st < PK_STATE_COUNT; st++) {
            uint64_t n = h->counts[0][st] + h->counts[1][st];
            if (collapsed[st] && !done[st] && n > best_n) {
                best = st;
                best_n = n;
            }
        }
        if (best < 0)
            break;
        done[best] = true;
        pk_buf_printf(b, "<extraports state=\"%s\" count=\"%llu\">\n",
                      pk_state_name((enum pk_port_state)best), (unsigned long long)best_n);
        for (int p = 0; p < 2; p++)
            for (int why = 0; why < PK_REASON_COUNT; why++) {
                struct pk_buf ports = PK_BUF_INIT;
                uint64_t n = pko_ports_where(h, (enum pk_port_state)best, p ? PK_UDP : PK_TCP,
                                                   (enum pk_reason)why, &ports);
                if (n)
                    pk_buf_printf(b, "<extrareasons reason=\"%s\" count=\"%llu\" proto=\"%s\" ports=\"%s\"/>\n",
                                  pk_reason_name((enum pk_reason)why), (unsigned long long)n,
                                  p ? "udp" : "tcp", ports.data);
                pk_buf_free(&ports);
            }
        pk_buf_puts(b, "</extraports>\n");
    }
    for (size_t i = 0; i < h->nports; i++) {
        const struct pk_scan_result *r = &h->ports[i];
        if (collapsed[r->state])
            continue;
        pk_buf_printf(b, "<port protocol=\"%s\" portid=\"%u\"><state state=\"%s\" reason=\"%s\" reason_ttl=\"0\"/>",
                      pk_proto_name(r->proto), r->port, pk_state_name(r->state), pk_reason_name(r->reason));
        xml_service(b, r);
        if (r->ssl_cert) { /* where XML consumers of nmap look for it */
            pk_buf_puts(b, "<script id=\"ssl-cert\" output=\"");
            pko_xml_escape(b, r->ssl_cert);
            pk_buf_puts(b, "\"/>");
        }
        pk_buf_puts(b, "</port>\n");
    }
    pk_buf_puts(b, "</ports>\n");
    xml_times(b, h);
    pk_buf_puts(b, "</host>\n");
}

static void xml_end(struct pk_output *o, const struct pk_scan_stats *st)
{
    struct xml_state *xs = pk_output_state(o);
    struct pk_buf *b = pk_output_buf(o);
    uint64_t end_us = st->start_wall_us + st->elapsed_us;
    time_t t = (time_t)(end_us / 1000000u);
    char when[64];
    pko_ctime(t, when, sizeof when);
    double secs = st->elapsed_us / 1e6;
    pk_buf_printf(b, "<runstats><finished time=\"%lld\" timestr=\"%s\" summary=\"portkit done at %s; "
                     "%llu IP address%s (%llu host%s up) scanned in %.2f seconds\" elapsed=\"%.2f\" exit=\"%s\"",
                  (long long)t, when, when, (unsigned long long)st->hosts, st->hosts == 1 ? "" : "es",
                  (unsigned long long)xs->hosts_up, xs->hosts_up == 1 ? "" : "s", secs, secs,
                  st->interrupted ? "error" : "success");
    if (st->interrupted)
        pk_buf_puts(b, " errormsg=\"stopped by the user before the end\"");
    pk_buf_printf(b, "/><hosts up=\"%llu\" down=\"%llu\" total=\"%llu\"/>\n</runstats>\n</nmaprun>\n",
                  (unsigned long long)xs->hosts_up, (unsigned long long)(st->hosts - xs->hosts_up),
                  (unsigned long long)st->hosts);
}

const struct pk_output_module pk_output_xml = {
    .name = "xml",
    .state_size = sizeof(struct xml_state),
    .begin = xml_begin,
    .host = xml_host,
    .end = xml_end,
};
