/* Log lines for forwarder events: the text the CLI writes, in one place so
 * every embedder logs the same thing. */
#include "portkit/forward.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "portkit/json.h"

void pk_fw_time_format(uint64_t unix_us, char *buf, size_t size)
{
    time_t sec = (time_t)(unix_us / 1000000u);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03uZ", (unsigned)(unix_us / 1000u % 1000u));
}

static const char *const kind_names[] = {
    [PK_FW_EV_LISTEN] = "listen", [PK_FW_EV_UNLISTEN] = "unlisten", [PK_FW_EV_END] = "conn",
    [PK_FW_EV_DENY] = "deny",     [PK_FW_EV_LIMIT] = "limit",       [PK_FW_EV_WARN] = "warn",
    [PK_FW_EV_OPEN] = "open",
};

static void format_json(const struct pk_fw_event *ev, const char *ts, struct pk_buf *b)
{
    char start[40], client[PK_FW_ADDRSTRLEN], listen[PK_FW_ADDRSTRLEN], target[PK_FW_ADDRSTRLEN];
    bool end = ev->kind == PK_FW_EV_END;
    struct pk_json j;
    pk_json_init(&j, b);
    pk_json_obj_begin(&j, NULL);
    pk_json_str(&j, "time", ts);
    pk_json_str(&j, "event", kind_names[ev->kind]);
    if (ev->kind != PK_FW_EV_WARN) {
        pk_json_str(&j, "proto", pk_proto_name(ev->proto));
        if (ev->client) {
            pk_fw_sockaddr_format(ev->client, client, sizeof client);
            pk_json_str(&j, "client", client);
        }
        pk_fw_sockaddr_format(ev->listen, listen, sizeof listen);
        pk_json_str(&j, "listen", listen);
        if (ev->target) {
            pk_fw_sockaddr_format(ev->target, target, sizeof target);
            pk_json_str(&j, "target", target);
        }
    }
    if (end) {
        pk_fw_time_format(ev->start_unix_us, start, sizeof start);
        pk_json_str(&j, "start", start);
        pk_json_double(&j, "duration", (double)ev->duration_us / 1e6, 3);
        pk_json_int(&j, "up", (long long)ev->bytes_up);
        pk_json_int(&j, "down", (long long)ev->bytes_down);
        if (ev->proto == PK_UDP) {
            pk_json_int(&j, "packets_up", (long long)ev->packets_up);
            pk_json_int(&j, "packets_down", (long long)ev->packets_down);
        }
    }
    if (ev->reason)
        pk_json_str(&j, end ? "end" : "reason", ev->reason);
    if (ev->line)
        pk_json_int(&j, "rule_line", ev->line);
    pk_json_obj_end(&j);
}

void pk_fw_event_format(const struct pk_fw_event *ev, uint64_t now_unix_us, bool json,
                        struct pk_buf *b)
{
    char ts[40], start[40], client[PK_FW_ADDRSTRLEN], listen[PK_FW_ADDRSTRLEN],
        target[PK_FW_ADDRSTRLEN];
    pk_fw_time_format(now_unix_us, ts, sizeof ts);
    if (json) {
        format_json(ev, ts, b);
        return;
    }
    const char *proto = pk_proto_name(ev->proto);
    const char *reason = ev->reason ? ev->reason : "";
    pk_fw_sockaddr_format(ev->client, client, sizeof client);
    pk_fw_sockaddr_format(ev->listen, listen, sizeof listen);
    pk_fw_sockaddr_format(ev->target, target, sizeof target);
    pk_buf_printf(b, "%s %s", ts, kind_names[ev->kind]);
    switch (ev->kind) {
    case PK_FW_EV_LISTEN:
        pk_buf_printf(b, " %s %s -> %s", proto, listen, target);
        break;
    case PK_FW_EV_UNLISTEN:
        pk_buf_printf(b, " %s %s (%s)", proto, listen, reason);
        break;
    case PK_FW_EV_END:
        pk_fw_time_format(ev->start_unix_us, start, sizeof start);
        pk_buf_printf(b, " %s client=%s listen=%s target=%s start=%s duration=%.3f up=%llu down=%llu",
                      proto, client, listen, target, start, (double)ev->duration_us / 1e6,
                      (unsigned long long)ev->bytes_up, (unsigned long long)ev->bytes_down);
        if (ev->proto == PK_UDP)
            pk_buf_printf(b, " packets_up=%llu packets_down=%llu",
                          (unsigned long long)ev->packets_up, (unsigned long long)ev->packets_down);
        /* Last, as the reason may hold blanks ("error: socket: ..."). */
        pk_buf_printf(b, " end=%s", reason);
        break;
    case PK_FW_EV_DENY:
    case PK_FW_EV_LIMIT:
        pk_buf_printf(b, " %s client=%s listen=%s reason=%s", proto, client, listen, reason);
        break;
    case PK_FW_EV_WARN:
        pk_buf_printf(b, " %s", reason);
        break;
    case PK_FW_EV_OPEN:
        pk_buf_printf(b, " %s client=%s listen=%s target=%s", proto, client, listen, target);
        break;
    }
}

/* rinetd's result words for how a connection went. */
static const char *rinetd_result(const struct pk_fw_event *ev)
{
    const char *r = ev->reason ? ev->reason : "";
    switch (ev->kind) {
    case PK_FW_EV_OPEN: return "opened";
    case PK_FW_EV_DENY: return "denied";
    case PK_FW_EV_LIMIT: return "not-allowed";
    default: break;
    }
    if (strcmp(r, "target-reset") == 0)
        return "done-local-closed";
    if (strcmp(r, "refused") == 0 || strcmp(r, "connect-timeout") == 0 ||
        strncmp(r, "connect-error", 13) == 0)
        return "local-connect-failed";
    return "done-remote-closed";
}

static void host_port(const struct sockaddr *sa, char *host, size_t size, unsigned *port)
{
    struct pk_addr a;
    *port = 0;
    if (!sa || pk_addr_from_sockaddr(sa, &a) < 0) {
        snprintf(host, size, "?");
        return;
    }
    pk_addr_format(&a, host, size);
    *port = ntohs(sa->sa_family == AF_INET ? ((const struct sockaddr_in *)(const void *)sa)->sin_port
                                           : ((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
}

bool pk_fw_event_format_rinetd(const struct pk_fw_event *ev, uint64_t now_unix_us, bool common,
                               struct pk_buf *b)
{
    if (ev->kind != PK_FW_EV_OPEN && ev->kind != PK_FW_EV_END && ev->kind != PK_FW_EV_DENY &&
        ev->kind != PK_FW_EV_LIMIT)
        return false;
    char client[PK_ADDR_STRLEN], from[PK_ADDR_STRLEN], to[PK_ADDR_STRLEN], ts[48];
    unsigned client_port, from_port, to_port;
    host_port(ev->client, client, sizeof client, &client_port);
    host_port(ev->listen, from, sizeof from, &from_port);
    host_port(ev->target, to, sizeof to, &to_port);
    /* rinetd stamps local time, day/month/year, and the zone offset. */
    time_t sec = (time_t)(now_unix_us / 1000000u);
    struct tm tm;
    localtime_r(&sec, &tm);
    strftime(ts, sizeof ts, "%d/%b/%Y:%H:%M:%S ", &tm);
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    unsigned long long in = ev->kind == PK_FW_EV_END ? ev->bytes_up : 0;
    unsigned long long out = ev->kind == PK_FW_EV_END ? ev->bytes_down : 0;
    if (common)
        pk_buf_printf(b, "%s - - [%s %c%02ld%02ld] \"GET /rinetd-services/%s/%u/%s/%u/%s HTTP/1.0\" "
                      "200 %llu - - - %llu", client, ts, sign, off / 60, off % 60, from, from_port,
                      to, to_port, rinetd_result(ev), out, in);
    else
        pk_buf_printf(b, "%s\t%s\t%s\t%u\t%s\t%u\t%llu\t%llu\t%s", ts, client, from, from_port, to,
                      to_port, in, out, rinetd_result(ev));
    return true;
}
