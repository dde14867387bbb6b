/* A plain list, one port a line as the scan finds it:
 *   open tcp 22 192.0.2.7 1795431089
 * (state, transport, port, host, Unix time), masscan's -oL layout, easy to
 * sort, grep and cut. Only open and open|filtered ports unless all_states. */
#include <time.h>

#include "portkit/output.h"

static void list_begin(struct pk_output *o, const struct pk_scan_info *info)
{
    pk_buf_printf(pk_output_buf(o), "#portkit %s list: state proto port host time\n", info->version);
}

static void list_result(struct pk_output *o, const struct pk_scan_result *r)
{
    if (!pk_output_wanted(o, r->state))
        return;
    char addr[PK_ADDR_STRLEN];
    pk_addr_format(r->addr, addr, sizeof addr);
    pk_buf_printf(pk_output_buf(o), "%s %s %u %s %lld\n", pk_state_name(r->state),
                  pk_proto_name(r->proto), r->port, addr, (long long)time(NULL));
}

static void list_end(struct pk_output *o, const struct pk_scan_stats *st)
{
    pk_buf_printf(pk_output_buf(o), "# end%s\n", st->interrupted ? " (stopped before the end)" : "");
}

const struct pk_output_module pk_output_list = {
    .name = "list",
    .begin = list_begin,
    .result = list_result,
    .end = list_end,
};
