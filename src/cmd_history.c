/* portkit history: the stored runs: list them, show one, remove old ones,
 * import nmap XML. */
#include <getopt.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "history_cli.h"
#include "portkit/json.h"

void usage_history(FILE *out)
{
    fprintf(out,
            "Usage: portkit history [OPTIONS]                 list the stored runs, newest first\n"
            "       portkit history show RUN [--json]         the hosts and ports of one run\n"
            "       portkit history rm RUN... | --older-than DUR   remove runs\n"
            "       portkit history import [--label NAME] FILE.xml...   store nmap XML as runs\n"
            "Every `portkit scan --save` and `portkit ls --save` is a run in one SQLite\n"
            "database; `portkit diff` compares two runs, `portkit report` writes one as HTML.\n\n"
            "RUN: an id, a label (the newest run with it), last, or last~N (N runs before\n"
            "the last).\n\n"
            "Options:\n"
            "      --db PATH        the database (also PORTKIT_DB; default\n"
            "                       $XDG_STATE_HOME/portkit/history.db, ~/.local/state/...)\n"
            "  -j, --json           JSON Lines\n"
            "      --older-than DUR rm: every run that ended longer ago than DUR (30d, 12h)\n"
            "      --label NAME     import: label the imported runs\n"
            "  -h, --help           this help\n\n"
            "Import reads nmap's -oX (any nmap version) and portkit's -oX: scripts, OS and\n"
            "trace output are skipped; DTD entity declarations are refused.\n"
            "Exit status: 0 done, 1 no such run / no history yet, 2 bad input, 3 failure.\n");
}

struct list_ctx {
    bool json;
    unsigned n;
};

static int print_run(void *arg, const struct pk_run *r)
{
    struct list_ctx *c = arg;
    char when[32];
    time_t t = (time_t)(r->start_us / 1000000u);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
    if (c->json) {
        struct pk_buf b = PK_BUF_INIT;
        struct pk_json j;
        pk_json_init(&j, &b);
        pk_json_obj_begin(&j, NULL);
        pk_json_int(&j, "id", r->id);
        pk_json_str(&j, "kind", pk_run_kind_name(r->kind));
        pk_json_str(&j, "label", r->label);
        pk_json_str(&j, "source", r->source);
        pk_json_int(&j, "start", (long long)(r->start_us / 1000000u));
        pk_json_int(&j, "end", (long long)(r->end_us / 1000000u));
        pk_json_str(&j, "targets", r->targets);
        pk_json_str(&j, "ports", r->ports);
        pk_json_str(&j, "command", r->command);
        pk_json_int(&j, "hosts", (long long)r->hosts);
        pk_json_int(&j, "hosts_up", (long long)r->hosts_up);
        pk_json_int(&j, r->kind == PK_RUN_SOCKETS ? "listeners" : "open", (long long)r->open);
        pk_json_obj_end(&j);
        printf("%s\n", b.data);
        pk_buf_free(&b);
    } else {
        if (c->n == 0)
            printf("%-5s %-19s %-4s %-7s %-12s %5s %5s %6s  %s\n", "ID", "STARTED", "KIND", "SOURCE", "LABEL",
                   "HOSTS", "UP", "OPEN", "TARGETS");
        char hosts[24], up[24];
        snprintf(hosts, sizeof hosts, "%llu", (unsigned long long)r->hosts);
        snprintf(up, sizeof up, "%llu", (unsigned long long)r->hosts_up);
        struct pk_buf b = PK_BUF_INIT;
        pk_buf_printf(&b, "%-5lld %-19s %-4s %-7s %-12s %5s %5s %6llu  %.60s%s", (long long)r->id, when,
                      pk_run_kind_name(r->kind), r->source, *r->label ? r->label : "-",
                      r->kind == PK_RUN_SOCKETS ? "-" : hosts, r->kind == PK_RUN_SOCKETS ? "-" : up,
                      (unsigned long long)r->open, r->targets, strlen(r->targets) > 60 ? "..." : "");
        for (char *p = b.data; *p; p++) /* names from files and argv: no control bytes out */
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
        printf("%s\n", b.data);
        pk_buf_free(&b);
    }
    c->n++;
    return 0;
}

static int show_port(void *arg, const struct pk_history_host *host, const struct pk_history_port *p)
{
    bool json = *(bool *)arg;
    struct pk_buf b = PK_BUF_INIT;
    if (json) {
        struct pk_json j;
        pk_json_init(&j, &b);
        pk_json_obj_begin(&j, NULL);
        pk_json_str(&j, "host", host->addr);
        if (p) {
            pk_json_int(&j, "port", p->port);
            pk_json_str(&j, "proto", pk_proto_name(p->proto));
            pk_json_str(&j, "state", pk_state_name(p->state));
            pk_json_str(&j, "reason", p->reason ? pk_reason_name(p->reason) : "");
            pk_json_str(&j, "service", p->service);
            pk_json_str(&j, "product", p->product);
            pk_json_str(&j, "version", p->version);
            pk_json_str(&j, "banner", p->banner);
        } else {
            pk_json_str(&j, "hostname", host->hostname);
            pk_json_str(&j, "status", host->up ? "up" : "down");
            pk_json_int(&j, "closed_tcp", (long long)host->closed[0]);
            pk_json_int(&j, "closed_udp", (long long)host->closed[1]);
            pk_json_str(&j, "rest_tcp", pk_state_name(host->rest[0] ? host->rest[0] : PK_STATE_CLOSED));
            pk_json_str(&j, "rest_udp", pk_state_name(host->rest[1] ? host->rest[1] : PK_STATE_CLOSED));
        }
        pk_json_obj_end(&j);
        printf("%s\n", b.data);
    } else if (!p) {
        pk_buf_printf(&b, "%s%s%s%s: %s, %llu tcp + %llu udp closed", host->addr, *host->hostname ? " (" : "",
                      host->hostname, *host->hostname ? ")" : "", host->up ? "up" : "down",
                      (unsigned long long)host->closed[0], (unsigned long long)host->closed[1]);
        for (int t = 0; t < 2; t++)
            if (host->up && host->rest[t] != PK_STATE_CLOSED && host->rest[t] != PK_STATE_UNKNOWN)
                pk_buf_printf(&b, "; %s ports not listed are %s", t ? "udp" : "tcp", pk_state_name(host->rest[t]));
        for (char *c = b.data; *c; c++)
            if ((unsigned char)*c < 0x20)
                *c = '?';
        printf("%s\n", b.data);
    } else {
        char port[16];
        snprintf(port, sizeof port, "%u/%s", p->port, pk_proto_name(p->proto));
        pk_buf_printf(&b, "  %-10s %-13s %-14s %s %s", port, pk_state_name(p->state), p->service, p->product,
                      p->version);
        for (char *c = b.data; *c; c++)
            if ((unsigned char)*c < 0x20)
                *c = '?';
        printf("%s\n", b.data);
    }
    pk_buf_free(&b);
    return 0;
}

static int show_listener(void *arg, const struct pk_history_listener *l)
{
    bool v6 = l->family == AF_INET6;
    char ep[PK_ENDPOINT_MAX];
    snprintf(ep, sizeof ep, "%s%s%s:%u", v6 ? "[" : "", l->addr, v6 ? "]" : "", l->port);
    struct pk_buf b = PK_BUF_INIT;
    pk_buf_printf(&b, "%s %-22s %s", pk_proto_name(l->proto), ep, *l->process ? l->process : "?");
    if (l->pid > 0)
        pk_buf_printf(&b, "[%d]", l->pid);
    pk_buf_printf(&b, " %s %s", *l->user ? l->user : "-", *l->service ? l->service : "-");
    for (unsigned i = 0; i < PK_SF_COUNT; i++)
        if (l->flags & (1u << i))
            pk_buf_printf(&b, " %s", pk_sock_flag_name(1u << i));
    /* process names are chosen by whoever runs them: no control bytes out */
    for (char *c = b.data; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    printf("%s\n", b.data);
    pk_buf_free(&b);
    return 0;
}

static int kind_of(void *arg, const struct pk_run *r)
{
    *(enum pk_run_kind *)arg = r->kind;
    return 0;
}

int cmd_history(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_OLDER, OPT_LABEL };
    static const struct option opts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"json", no_argument, NULL, 'j'},
        {"older-than", required_argument, NULL, OPT_OLDER},
        {"label", required_argument, NULL, OPT_LABEL},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *db = NULL, *older = NULL, *label = NULL;
    bool json = false;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
        switch (opt) {
        case OPT_DB: db = optarg; break;
        case 'j': json = true; break;
        case OPT_OLDER: older = optarg; break;
        case OPT_LABEL: {
            struct pk_err err = {0};
            if (pk_history_label_check(optarg, &err) < 0)
                return cli_usage_error("history", "--label: %s", err.msg);
            label = optarg;
            break;
        }
        case 'h': usage_history(stdout); return CLI_OK;
        default: return cli_option_error("history", argv, opt);
        }
    }
    const char *sub = optind < argc ? argv[optind++] : "list";
    struct pk_history *h = NULL;
    struct pk_err err = {0};
    int rc;
    if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
        if (optind < argc)
            return cli_usage_error("history", "unexpected argument '%s'", argv[optind]);
        if ((rc = hist_cli_open("history", db, true, &h)) != 0)
            return rc;
        struct list_ctx c = {.json = json};
        rc = pk_history_runs(h, print_run, &c, &err) < 0 ? cli_lib_error("history", &err) : CLI_OK;
    } else if (strcmp(sub, "show") == 0) {
        if (optind + 1 != argc)
            return cli_usage_error("history", "show needs one run (see --help)");
        if ((rc = hist_cli_open("history", db, true, &h)) != 0)
            return rc;
        int64_t id;
        enum pk_run_kind kind = PK_RUN_SCAN;
        if (pk_history_resolve(h, argv[optind], &id, &err) < 0 || pk_history_run(h, id, kind_of, &kind, &err) < 0)
            rc = err.code == PK_ENOTFOUND ? (cli_lib_error("history", &err), CLI_NOTFOUND) : cli_lib_error("history", &err);
        else if (kind == PK_RUN_SOCKETS)
            rc = pk_history_walk_listeners(h, id, show_listener, NULL, &err) < 0 ? cli_lib_error("history", &err) : CLI_OK;
        else
            rc = pk_history_walk(h, id, show_port, &json, &err) < 0 ? cli_lib_error("history", &err) : CLI_OK;
    } else if (strcmp(sub, "rm") == 0) {
        if (older && optind < argc)
            return cli_usage_error("history", "rm: give runs or --older-than, not both");
        if (!older && optind == argc)
            return cli_usage_error("history", "rm: which runs? (ids, labels, or --older-than 30d)");
        uint64_t age = 0;
        if (older && (rc = hist_cli_duration("history", "--older-than", older, &age)) != 0)
            return rc;
        if ((rc = hist_cli_open("history", db, false, &h)) != 0)
            return rc;
        rc = CLI_OK;
        if (older) {
            uint64_t removed = 0, now = (uint64_t)time(NULL) * 1000000u;
            if (pk_history_prune(h, now > age ? now - age : 0, &removed, &err) < 0)
                rc = cli_lib_error("history", &err);
            else
                fprintf(stderr, "portkit: history: removed %llu run%s\n", (unsigned long long)removed,
                        removed == 1 ? "" : "s");
        }
        for (int i = optind; i < argc && rc == CLI_OK; i++) {
            int64_t id;
            if (pk_history_resolve(h, argv[i], &id, &err) < 0 || pk_history_remove(h, id, &err) < 0)
                rc = err.code == PK_ENOTFOUND ? (cli_lib_error("history", &err), CLI_NOTFOUND)
                                              : cli_lib_error("history", &err);
        }
    } else if (strcmp(sub, "import") == 0) {
        if (optind == argc)
            return cli_usage_error("history", "import: which nmap XML files?");
        if ((rc = hist_cli_open("history", db, false, &h)) != 0)
            return rc;
        rc = CLI_OK;
        for (int i = optind; i < argc && rc == CLI_OK; i++) {
            int64_t id;
            if (pk_history_import_xml(h, argv[i], label, &id, &err) < 0)
                rc = cli_lib_error("history", &err);
            else if (json) {
                struct pk_buf b = PK_BUF_INIT;
                struct pk_json j;
                pk_json_init(&j, &b);
                pk_json_obj_begin(&j, NULL);
                pk_json_str(&j, "file", argv[i]);
                pk_json_int(&j, "id", id);
                pk_json_obj_end(&j);
                printf("%s\n", b.data);
                pk_buf_free(&b);
            }
            else
                printf("%s: run %lld\n", argv[i], (long long)id);
        }
    } else {
        return cli_usage_error("history", "no such command '%s': list, show, rm or import (see --help)", sub);
    }
    pk_history_close(h);
    return rc;
}
