/* nmap's grepable format (-oG): one "Host:" line with the status and one
 * with the ports, each port as port/state/proto/owner/service/rpc/version/.
 * States nmap would sum up are left out and the largest one is named in
 * "Ignored State". */
#include <string.h>
#include <time.h>

#include "portkit/output.h"
#include "output/output_impl.h"

struct grep_state {
    uint64_t hosts_up;
};

/* Fields are separated by '/' and ports by ", ": neither may appear
 * inside one. */
static void field(struct pk_buf *b, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        pk_buf_putc(b, c == '/' ? '|' : c == ',' ? ' ' : c < 0x20 ? ' ' : (char)c);
    }
}

static void grep_begin(struct pk_output *o, const struct pk_scan_info *info)
{
    char when[64];
    pko_ctime((time_t)(info->start_wall_us / 1000000u), when, sizeof when);
    pk_buf_printf(pk_output_buf(o), "# portkit %s scan initiated %s as: %s\n", info->version, when,
                  info->command ? info->command : "portkit scan");
}

static void grep_host(struct pk_output *o, const struct pk_host_report *h)
{
    struct grep_state *gs = pk_output_state(o);
    struct pk_buf *b = pk_output_buf(o);
    if (!h->nports) { /* discovery only (-sn), a host found down, or given up */
        bool down = h->status == PK_HOST_DOWN;
        if (h->status == PK_HOST_UNKNOWN || (down && !pk_output_opts(o)->all_states))
            return;
        gs->hosts_up += !down;
        char a[PK_ADDR_STRLEN];
        pk_addr_format(&h->addr, a, sizeof a);
        pk_buf_printf(b, "Host: %s (", a);
        field(b, h->hostname);
        pk_buf_printf(b, ")\tStatus: %s\n", down ? "Down" : h->timed_out ? "Timeout" : "Up");
        return;
    }
    if (pko_host_hidden(o, h))
        return; /* --open: nothing open here */
    gs->hosts_up++;
    char addr[PK_ADDR_STRLEN];
    pk_addr_format(&h->addr, addr, sizeof addr);
    pk_buf_printf(b, "Host: %s (", addr);
    field(b, h->hostname);
    pk_buf_puts(b, ")\tStatus: Up\n");
    pk_buf_printf(b, "Host: %s (", addr);
    field(b, h->hostname);
    pk_buf_puts(b, ")\tPorts: ");
    bool collapsed[PK_STATE_COUNT];
    pko_collapsed_states(h, collapsed);
    bool first = true;
    struct pk_buf v = PK_BUF_INIT;
    for (size_t i = 0; i < h->nports; i++) {
        const struct pk_scan_result *r = &h->ports[i];
        if (collapsed[r->state])
            continue;
        pk_buf_printf(b, "%s%u/%s/%s//", first ? "" : ", ", r->port, pk_state_name(r->state),
                      pk_proto_name(r->proto));
        field(b, r->service);
        pk_buf_puts(b, "//");
        pk_buf_reset(&v);
        pk_output_service_line(r, &v);
        field(b, v.data);
        pk_buf_puts(b, "/");
        first = false;
    }
    pk_buf_free(&v);
    int best = -1;
    uint64_t best_n = 0;
    for (int st = 1; st < PK_STATE_COUNT; st++) {
        uint64_t n = h->counts[0][st] + h->counts[1][st];
        if (collapsed[st] && n > best_n) {
            best = st;
            best_n = n;
        }
    }
    if (best >= 0)
        pk_buf_printf(b, "\tIgnored State: %s (%llu)", pk_state_name((enum pk_port_state)best),
                      (unsigned long long)best_n);
    pk_buf_putc(b, '\n');
}

static void grep_end(struct pk_output *o, const struct pk_scan_stats *st)
{
    struct grep_state *gs = pk_output_state(o);
    char when[64];
    pko_ctime((time_t)((st->start_wall_us + st->elapsed_us) / 1000000u), when, sizeof when);
    pk_buf_printf(pk_output_buf(o), "# portkit done at %s -- %llu IP address%s (%llu host%s up) scanned in %.2f seconds%s\n",
                  when, (unsigned long long)st->hosts, st->hosts == 1 ? "" : "es",
                  (unsigned long long)gs->hosts_up, gs->hosts_up == 1 ? "" : "s", st->elapsed_us / 1e6,
                  st->interrupted ? " (stopped before the end)" : "");
}

const struct pk_output_module pk_output_grep = {
    .name = "grep",
    .state_size = sizeof(struct grep_state),
    .begin = grep_begin,
    .host = grep_host,
    .end = grep_end,
};
