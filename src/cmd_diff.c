/* portkit diff: what changed between two runs (stored runs or nmap XML
 * files, in any mix). Exit status as diff(1): 0 same, 1 changed. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "history_cli.h"

void usage_diff(FILE *out)
{
    fprintf(out,
            "Usage: portkit diff [OPTIONS] [A [B]]\n"
            "What changed from run A to run B: ports newly open or closed, other state\n"
            "changes, services whose product or version moved, hosts that came up or went\n"
            "down; for ls snapshots, listeners added or removed and owners changed.\n\n"
            "A and B: a run (id, label, last, last~N) or an nmap XML file (a name with a\n"
            "'/' or ending in .xml), in any mix. No run: the last run and the one before\n"
            "it over the same hosts. One run: that run against the last.\n\n"
            "Options:\n"
            "      --db PATH   the database (also PORTKIT_DB)\n"
            "  -j, --json      JSON Lines, one change per line: change, host, port, proto,\n"
            "                  before, after, service (listeners: pid, process, user, flags)\n"
            "  -q, --quiet     print nothing; only the exit status\n"
            "  -h, --help      this help\n\n"
            "Changes: opened, closed, state, service, host-up, host-down (scans);\n"
            "added, removed, process (listeners). Service names from a table (IANA,\n"
            "nmap-services) are not compared, only what -sV found.\n\n"
            "Examples:\n"
            "  portkit diff                       the last two runs over the same hosts\n"
            "  portkit diff monday last           a label against the newest run\n"
            "  portkit diff old.xml new.xml       two nmap files, no database needed\n\n"
            "Exit status: 0 no change, 1 changes, 2 bad input, 3 failure.\n");
}

struct diff_cli {
    struct hist_printer p;
    bool quiet;
};

static int on_change(void *arg, const struct pk_change *c)
{
    struct diff_cli *d = arg;
    if (!d->quiet)
        hist_print_change(&d->p, c);
    return 0;
}

int cmd_diff(int argc, char **argv)
{
    enum { OPT_DB = 256 };
    static const struct option opts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"json", no_argument, NULL, 'j'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *db_opt = NULL;
    struct diff_cli d = {.p = {.out = stdout}};
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":jqh", opts, NULL)) != -1) {
        switch (opt) {
        case OPT_DB: db_opt = optarg; break;
        case 'j': d.p.json = true; break;
        case 'q': d.quiet = true; break;
        case 'h': usage_diff(stdout); return CLI_OK;
        default: return cli_option_error("diff", argv, opt);
        }
    }
    int nrefs = argc - optind;
    if (nrefs > 2)
        return cli_usage_error("diff", "at most two runs to compare, got %d", nrefs);
    d.p.color = !d.p.json && cli_use_color(stdout);
    /* Two XML files need no database at all. */
    bool need_db = nrefs < 2;
    for (int i = optind; i < argc; i++)
        if (!strchr(argv[i], '/') && !(strlen(argv[i]) > 4 && strcmp(argv[i] + strlen(argv[i]) - 4, ".xml") == 0))
            need_db = true;
    struct pk_history *db = NULL, *mem = NULL;
    int rc = need_db ? hist_cli_open("diff", db_opt, true, &db) : 0;
    if (rc)
        return rc == CLI_NOTFOUND ? CLI_USAGE : rc;
    struct hist_side a = {0}, b = {0};
    rc = hist_cli_pair("diff", db, &mem, nrefs, argv + optind, &a, &b);
    if (rc == 0) {
        struct pk_err err = {0};
        uint64_t n = 0;
        if (pk_history_diff(a.h, a.id, b.h, b.id, on_change, &d, &n, &err) < 0)
            rc = cli_lib_error("diff", &err);
        else
            rc = n ? 1 : 0;
    }
    pk_history_close(mem);
    pk_history_close(db);
    return rc;
}
