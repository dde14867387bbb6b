/* Reading a run's content back: hosts and ports of a scan, listeners of an
 * ls snapshot, in the same key order the diff uses. */
#include <string.h>

#include "history/history_impl.h"

int pk_history_walk(struct pk_history *h, int64_t id, pk_history_port_fn *fn, void *arg, struct pk_err *err)
{
    sqlite3_stmt *st;
    int rc = hs_prepare(h,
                        "SELECT h.id, h.addr, h.hostname, h.up, h.rtt_us, h.closed_tcp, h.closed_udp, p.proto, "
                        "p.port, p.state, p.reason, p.service, p.probed, p.product, p.version, p.extra, p.banner, h.rest_tcp, "
                        "h.rest_udp "
                        "FROM hosts h LEFT JOIN ports p ON p.host_id=h.id WHERE h.run_id=? "
                        "ORDER BY h.akey, p.proto, p.port",
                        &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    int64_t last_host = 0;
    int ret = 0;
    while ((rc = hs_step(st)) == SQLITE_ROW) {
        struct pk_history_host host = {
            .addr = hs_col(st, 1), .hostname = hs_col(st, 2), .up = sqlite3_column_int(st, 3),
            .rtt_us = (uint32_t)sqlite3_column_int64(st, 4),
            .closed = {(uint64_t)sqlite3_column_int64(st, 5), (uint64_t)sqlite3_column_int64(st, 6)},
            .rest = {hs_state_parse(hs_col(st, 17)), hs_state_parse(hs_col(st, 18))},
        };
        int64_t host_id = sqlite3_column_int64(st, 0);
        if (host_id != last_host && (ret = fn(arg, &host, NULL)) != 0)
            break;
        last_host = host_id;
        if (sqlite3_column_type(st, 8) == SQLITE_NULL)
            continue;
        struct pk_history_port p = {
            .proto = strcmp(hs_col(st, 7), "udp") == 0 ? PK_UDP : PK_TCP,
            .port = (uint16_t)sqlite3_column_int(st, 8),
            .state = hs_state_parse(hs_col(st, 9)),
            .reason = hs_reason_parse(hs_col(st, 10)),
            .service = hs_col(st, 11),
            .service_probed = sqlite3_column_int(st, 12),
            .product = hs_col(st, 13),
            .version = hs_col(st, 14),
            .extra = hs_col(st, 15),
            .banner = hs_col(st, 16),
        };
        if ((ret = fn(arg, &host, &p)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = hs_fail(h, rc, err, "reading a run");
    sqlite3_finalize(st);
    return ret;
}

int pk_history_walk_listeners(struct pk_history *h, int64_t id, pk_history_listener_fn *fn, void *arg,
                              struct pk_err *err)
{
    sqlite3_stmt *st;
    int rc = hs_prepare(h,
                        "SELECT proto, family, addr, port, pid, process, user, service, flags FROM listeners "
                        "WHERE run_id=? ORDER BY proto, akey, port",
                        &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    int ret = 0;
    while ((rc = hs_step(st)) == SQLITE_ROW) {
        struct pk_history_listener l = {
            .proto = strcmp(hs_col(st, 0), "udp") == 0 ? PK_UDP : PK_TCP,
            .family = sqlite3_column_int(st, 1),
            .addr = hs_col(st, 2),
            .port = (uint16_t)sqlite3_column_int(st, 3),
            .pid = sqlite3_column_int(st, 4),
            .process = hs_col(st, 5),
            .user = hs_col(st, 6),
            .service = hs_col(st, 7),
            .flags = (unsigned)sqlite3_column_int(st, 8),
        };
        if ((ret = fn(arg, &l)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = hs_fail(h, rc, err, "reading a run");
    sqlite3_finalize(st);
    return ret;
}
