#include "history_cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "portkit/buf.h"
#include "portkit/sockets.h"

static struct pk_buf default_path = PK_BUF_INIT;

const char *hist_cli_path(const char *db_opt)
{
    if (db_opt && *db_opt)
        return db_opt;
    const char *env = getenv("PORTKIT_DB");
    if (env && *env)
        return env;
    if (!default_path.len && pk_history_default_path(&default_path, NULL) < 0)
        return NULL;
    return default_path.data;
}

int hist_cli_open(const char *verb, const char *db_opt, bool readonly, struct pk_history **out)
{
    const char *path = hist_cli_path(db_opt);
    struct pk_err err = {0};
    if (!path) {
        pk_history_default_path(&default_path, &err);
        return cli_usage_error(verb, "%s", err.msg);
    }
    if (pk_history_open(path, readonly ? PK_HISTORY_READONLY : 0, out, &err) < 0)
        return err.code == PK_ENOTFOUND ? (cli_lib_error(verb, &err), CLI_NOTFOUND) : cli_lib_error(verb, &err);
    return 0;
}

static bool is_file_ref(const char *ref)
{
    size_t n = strlen(ref);
    return strchr(ref, '/') || (n > 4 && strcmp(ref + n - 4, ".xml") == 0) || strcmp(ref, "-") == 0;
}

int hist_cli_side(const char *verb, struct pk_history *db, struct pk_history **mem, const char *ref,
                  struct hist_side *out)
{
    struct pk_err err = {0};
    if (is_file_ref(ref)) {
        if (!*mem && pk_history_open(":memory:", 0, mem, &err) < 0)
            return cli_lib_error(verb, &err);
        if (pk_history_import_xml(*mem, ref, NULL, &out->id, &err) < 0)
            return cli_lib_error(verb, &err);
        out->h = *mem;
        return 0;
    }
    if (!db)
        return cli_usage_error(verb, "no history database to find run '%s' in", ref);
    if (pk_history_resolve(db, ref, &out->id, &err) < 0)
        return err.code == PK_ENOTFOUND ? cli_usage_error(verb, "%s", err.msg) : cli_lib_error(verb, &err);
    out->h = db;
    return 0;
}

int hist_cli_pair(const char *verb, struct pk_history *db, struct pk_history **mem, int nrefs, char **refs,
                  struct hist_side *a, struct hist_side *b)
{
    int rc;
    struct pk_err err = {0};
    if (nrefs == 2) {
        if ((rc = hist_cli_side(verb, db, mem, refs[0], a)) != 0)
            return rc;
        return hist_cli_side(verb, db, mem, refs[1], b);
    }
    if ((rc = hist_cli_side(verb, db, mem, nrefs == 1 ? refs[0] : "last", nrefs == 1 ? a : b)) != 0)
        return rc;
    if (nrefs == 1)
        return hist_cli_side(verb, db, mem, "last", b);
    if (pk_history_previous(b->h, b->id, &a->id, &err) < 0)
        return err.code == PK_ENOTFOUND
                   ? cli_usage_error(verb, "run %lld is the only one over its hosts: nothing to compare it with "
                                     "(name two runs: see --help)", (long long)b->id)
                   : cli_lib_error(verb, &err);
    a->h = b->h;
    return 0;
}

/* Text from the network reaches a terminal: control bytes become '?'. */
static void safe(FILE *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
}

void hist_print_change(struct hist_printer *p, const struct pk_change *c)
{
    FILE *out = p->out;
    if (p->json) {
        struct pk_buf b = PK_BUF_INIT;
        pk_change_json(c, &b);
        if (b.data)
            fprintf(out, "%s\n", b.data);
        pk_buf_free(&b);
        return;
    }
    const char *sign = "~", *color = CLI_YELLOW;
    switch (c->kind) {
    case PK_CHANGE_OPENED: case PK_CHANGE_HOST_UP: case PK_CHANGE_ADDED: sign = "+"; color = CLI_GREEN; break;
    case PK_CHANGE_CLOSED: case PK_CHANGE_HOST_DOWN: case PK_CHANGE_REMOVED: sign = "-"; color = CLI_RED; break;
    default: break;
    }
    const char *on = p->color ? "\033[" : "", *end = p->color ? "m" : "", *off = p->color ? "\033[0m" : "";
    if (p->timestamps) {
        char when[32];
        time_t t = time(NULL);
        struct tm tm;
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", localtime_r(&t, &tm));
        fprintf(out, "%s ", when);
    }
    bool listener = c->kind >= PK_CHANGE_ADDED;
    if (!listener && strcmp(p->last_host, c->host) != 0) {
        snprintf(p->last_host, sizeof p->last_host, "%s", c->host);
        fprintf(out, "%s%s%s", p->color ? "\033[1m" : "", "", "");
        safe(out, c->host);
        if (*c->hostname) {
            fputs(" (", out);
            safe(out, c->hostname);
            fputc(')', out);
        }
        fprintf(out, ":%s\n", off);
        if (p->timestamps)
            fputs("                    ", out);
    }
    fprintf(out, "%s%s%s%s ", on, p->color ? color : "", end, sign);
    if (listener) {
        char ep[PK_ENDPOINT_MAX];
        bool v6 = strchr(c->host, ':') != NULL;
        snprintf(ep, sizeof ep, "%s%s%s:%u", v6 ? "[" : "", c->host, v6 ? "]" : "", c->port);
        fprintf(out, "%s %-22s ", pk_proto_name(c->proto), ep);
        if (c->kind == PK_CHANGE_PROCESS) {
            safe(out, c->before);
            fputs(" -> ", out);
        }
        safe(out, c->kind == PK_CHANGE_REMOVED ? c->before : c->after);
        if (*c->service)
            fprintf(out, " %s", c->service);
        for (unsigned i = 0; i < PK_SF_COUNT; i++)
            if (c->flags & (1u << i))
                fprintf(out, " %s", pk_sock_flag_name(1u << i));
    } else if (c->kind == PK_CHANGE_HOST_UP || c->kind == PK_CHANGE_HOST_DOWN) {
        fprintf(out, "host %s (was %s)", c->after, c->before);
    } else if (!c->port) {
        fprintf(out, "%s ports not listed: %s (was %s)", pk_proto_name(c->proto), c->after, c->before);
    } else {
        char port[16];
        snprintf(port, sizeof port, "%u/%s", c->port, pk_proto_name(c->proto));
        fprintf(out, "%-10s ", port);
        if (c->kind == PK_CHANGE_SERVICE) {
            fputs("service ", out);
            safe(out, *c->before ? c->before : "?");
            fputs(" -> ", out);
            safe(out, *c->after ? c->after : "?");
        } else {
            fprintf(out, "%-13s ", c->after);
            if (*c->service) {
                safe(out, c->service);
                fputc(' ', out);
            }
            fprintf(out, "(was %s)", *c->before ? c->before : "not seen");
        }
    }
    fprintf(out, "%s\n", off);
}

int hist_cli_save_listeners(const char *verb, const char *db_opt, const char *label, const char *command)
{
    struct pk_err lerr = {0};
    if (label && pk_history_label_check(label, &lerr) < 0)
        return cli_usage_error(verb, "--label: %s", lerr.msg);
    struct pk_history *h;
    int rc = hist_cli_open(verb, db_opt, false, &h);
    if (rc)
        return rc;
    struct pk_err err = {0};
    struct pk_sock_query q = {.states = PK_SS_LISTENING, .processes = true};
    struct pk_socklist *l = NULL;
    struct pk_history_run *w = NULL;
    struct pk_run info = {
        .kind = PK_RUN_SOCKETS, .label = label, .source = "portkit", .targets = "this host",
        .command = command, .start_us = (uint64_t)time(NULL) * 1000000u,
    };
    int64_t id = 0;
    if (pk_sockets_list(&q, &l, &err) < 0 || pk_history_begin(h, &info, &w, &err) < 0 ||
        pk_history_add_sockets(w, l, cli_registry(verb), NULL, &err) < 0) {
        pk_history_abort(w);
        rc = cli_lib_error(verb, &err);
    } else if (pk_history_commit(w, &id, &err) < 0) {
        rc = cli_lib_error(verb, &err);
    } else if (isatty(fileno(stderr))) {
        fprintf(stderr, "portkit: %s: saved as run %lld in %s\n", verb, (long long)id, hist_cli_path(db_opt));
    }
    pk_socklist_free(l);
    pk_history_close(h);
    return rc;
}

int hist_cli_duration(const char *verb, const char *opt, const char *s, uint64_t *us)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    double unit = 1;
    if (end == s || errno || !(v >= 0))
        return cli_usage_error(verb, "%s: '%s' is not a duration (e.g. 30s, 10m, 12h, 30d)", opt, s);
    if (strcmp(end, "s") == 0 || !*end)
        unit = 1;
    else if (strcmp(end, "m") == 0)
        unit = 60;
    else if (strcmp(end, "h") == 0)
        unit = 3600;
    else if (strcmp(end, "d") == 0)
        unit = 86400;
    else if (strcmp(end, "w") == 0)
        unit = 7 * 86400;
    else
        return cli_usage_error(verb, "%s: '%s' is not a duration (e.g. 30s, 10m, 12h, 30d)", opt, s);
    if (v * unit > 100.0 * 365 * 86400)
        return cli_usage_error(verb, "%s: '%s' is longer than a century", opt, s);
    *us = (uint64_t)(v * unit * 1e6);
    return 0;
}
