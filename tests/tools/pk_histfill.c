/* pk_histfill: stores synthetic scan runs through the library, as
 * `portkit scan --save` would after a full-range scan: HOSTS hosts
 * (documentation-style addresses that are never contacted) x every TCP
 * port, OPEN open ports each, the rest closed. Used by the reliability
 * tests (a writer to kill, a disk to fill) and bench/history.sh.
 *
 * Usage: pk_histfill DB HOSTS [OPEN] [VARIANT] [LABEL]
 *   VARIANT v > 0 moves one open port on every 100th host (those with
 *   i % 100 == 0), so two runs with variants 0 and 1 differ by HOSTS/100
 *   closed + HOSTS/100 opened ports.
 * Prints one JSON line: run id, seconds spent saving. Exit 0, or 3 with the
 * library's message on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "portkit/history.h"
#include "portkit/permute.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: pk_histfill DB HOSTS [OPEN] [VARIANT] [LABEL]\n");
        return 2;
    }
    const char *path = argv[1];
    unsigned long hosts = strtoul(argv[2], NULL, 10);
    unsigned open = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 20;
    unsigned variant = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 0;
    const char *label = argc > 5 ? argv[5] : "synthetic";
    if (hosts == 0 || hosts > 65536 || open > 1000) {
        fprintf(stderr, "pk_histfill: 1-65536 hosts, at most 1000 open ports each\n");
        return 2;
    }
    struct pk_err err = {0};
    struct pk_history *h;
    if (pk_history_open(path, 0, &h, &err) < 0) {
        fprintf(stderr, "pk_histfill: %s\n", err.msg);
        return 3;
    }
    struct pk_scan_result *ports = calloc(65535, sizeof *ports);
    if (!ports)
        return 3;
    double t0 = now_s();
    struct pk_run info = {
        .kind = PK_RUN_SCAN, .label = label, .source = "pk_histfill", .targets = "synthetic", .ports = "T:1-65535",
        .command = "pk_histfill", .start_us = (uint64_t)time(NULL) * 1000000u,
    };
    info.end_us = info.start_us;
    struct pk_history_run *run;
    int rc = pk_history_begin(h, &info, &run, &err);
    for (unsigned long i = 0; rc == 0 && i < hosts; i++) {
        struct pk_host_report r = {.index = i, .answered = true, .srtt_us = 500, .nports = 65535, .ports = ports};
        r.addr.family = AF_INET;
        /* 198.18.0.0/15 (benchmarking, RFC 2544): text only, never contacted */
        r.addr.bytes[0] = 198;
        r.addr.bytes[1] = (uint8_t)(18 + (i >> 16));
        r.addr.bytes[2] = (uint8_t)(i >> 8);
        r.addr.bytes[3] = (uint8_t)i;
        unsigned char is_open[65536] = {0};
        for (unsigned k = 0; k < open; k++) {
            uint64_t salt = (variant && i % 100 == 0 && k == 0) ? variant : 0;
            unsigned p = 1 + (unsigned)(pk_hash64(i * 1000003u + k * 7919u + salt * 104729u) % 65535);
            is_open[p] = 1;
        }
        uint64_t nopen = 0;
        for (unsigned p = 1; p <= 65535; p++) {
            struct pk_scan_result *s = &ports[p - 1];
            *s = (struct pk_scan_result){.host = i, .addr = &r.addr, .port = (uint16_t)p, .proto = PK_TCP,
                                         .product = "", .version = "", .extra = "", .banner = ""};
            if (is_open[p]) {
                s->state = PK_STATE_OPEN;
                s->reason = PK_REASON_SYN_ACK;
                s->service = "http";
                nopen++;
            } else {
                s->state = PK_STATE_CLOSED;
                s->reason = PK_REASON_CONN_REFUSED;
            }
        }
        r.counts[0][PK_STATE_OPEN] = nopen;
        r.counts[0][PK_STATE_CLOSED] = 65535 - nopen;
        rc = pk_history_add_report(run, &r, &err);
    }
    int64_t id = 0;
    if (rc == 0)
        rc = pk_history_commit(run, &id, &err);
    else
        pk_history_abort(run);
    double t1 = now_s();
    free(ports);
    pk_history_close(h);
    if (rc < 0) {
        fprintf(stderr, "pk_histfill: %s\n", err.msg);
        return 3;
    }
    printf("{\"id\":%lld,\"hosts\":%lu,\"save_s\":%.3f}\n", (long long)id, hosts, t1 - t0);
    return 0;
}
