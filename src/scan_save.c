/* scan --save: the scan's run into the history database. The database is
 * opened (and checked: schema, writable) before the scan starts, so a bad
 * one costs no scan; the run is written at the end in one transaction. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "history_cli.h"
#include "scan_cli.h"

struct scan_save {
    struct pk_history *h;
    struct pk_history_run *run;
    const char *label, *db;
    struct pk_buf targets, ports;
    bool failed;
};

int scan_save_open(struct scan_cli *c, const char *label, const char *db)
{
    struct pk_err err = {0};
    if (label && pk_history_label_check(label, &err) < 0)
        return cli_usage_error("scan", "--label: %s", err.msg);
    struct scan_save *s = calloc(1, sizeof *s);
    if (!s)
        return CLI_FAIL;
    int rc = hist_cli_open("scan", db, false, &s->h);
    if (rc) {
        free(s);
        return rc;
    }
    s->label = label;
    s->db = db;
    for (int i = 0; i < c->ntargets_argv; i++)
        pk_buf_printf(&s->targets, "%s%s", i ? " " : "", c->targets_argv[i]);
    if (c->target_file)
        pk_buf_printf(&s->targets, "%s-iL %s", s->targets.len ? " " : "", c->target_file);
    for (int t = PK_TCP; t <= PK_UDP; t++) {
        if (!(t == PK_TCP ? c->cfg.tcp : c->cfg.udp))
            continue;
        pk_buf_printf(&s->ports, "%s%s:", s->ports.len ? "," : "", t == PK_TCP ? "T" : "U");
        pk_ports_format(c->ports, (enum pk_proto)t, &s->ports);
    }
    c->save = s;
    return 0;
}

static int save_failed(struct scan_save *s, const struct pk_err *err)
{
    s->failed = true;
    pk_history_abort(s->run);
    s->run = NULL;
    return cli_lib_error("scan", err);
}

int scan_save_begin(struct scan_cli *c, const struct pk_scan_stats *st)
{
    struct scan_save *s = c->save;
    if (!s)
        return 0;
    if (st->interrupted) {
        /* Undecided ports would read as closed in every later diff. */
        fprintf(stderr, "portkit: scan: stopped before the end: the run was not saved\n");
        s->failed = true;
        return 0;
    }
    struct pk_run info = {
        .kind = PK_RUN_SCAN, .label = s->label, .source = "portkit", .targets = s->targets.data,
        .ports = s->ports.data, .command = c->command.data, .start_us = st->start_wall_us,
        .end_us = st->start_wall_us + st->elapsed_us,
    };
    struct pk_err err = {0};
    if (pk_history_begin(s->h, &info, &s->run, &err) < 0)
        return save_failed(s, &err);
    return 0;
}

int scan_save_host(struct scan_cli *c, const struct pk_host_report *rep)
{
    struct scan_save *s = c->save;
    if (!s || !s->run)
        return 0;
    struct pk_err err = {0};
    return pk_history_add_report(s->run, rep, &err) < 0 ? save_failed(s, &err) : 0;
}

int scan_save_commit(struct scan_cli *c)
{
    struct scan_save *s = c->save;
    if (!s || !s->run)
        return 0;
    struct pk_err err = {0};
    int64_t id;
    struct pk_history_run *run = s->run;
    s->run = NULL;
    if (pk_history_commit(run, &id, &err) < 0) {
        s->failed = true;
        return cli_lib_error("scan", &err);
    }
    if (c->verbose || isatty(STDERR_FILENO))
        fprintf(stderr, "portkit: scan: saved as run %lld in %s\n", (long long)id, hist_cli_path(s->db));
    return 0;
}

void scan_save_free(struct scan_cli *c)
{
    struct scan_save *s = c->save;
    if (!s)
        return;
    pk_history_abort(s->run);
    pk_history_close(s->h);
    pk_buf_free(&s->targets);
    pk_buf_free(&s->ports);
    free(s);
    c->save = NULL;
}
