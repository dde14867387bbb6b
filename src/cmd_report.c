/* portkit report: one self-contained HTML page about a run, or about what
 * changed between two. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "history_cli.h"
#include "portkit/safefile.h"

void usage_report(FILE *out)
{
    fprintf(out,
            "Usage: portkit report [OPTIONS] [RUN | A B | A..B] -o FILE.html\n"
            "Writes one HTML file about a run: summary, hosts, and a sortable, filterable\n"
            "table of ports with services, versions, banners and risk notes. With two runs\n"
            "it is about B, with the changes since A listed and highlighted. The page is\n"
            "self-contained (inline CSS and JS, no fetch of anything) and opens offline.\n\n"
            "RUN, A, B: an id, a label, last, last~N, or an nmap XML file. Default: the last\n"
            "run.\n\n"
            "Options:\n"
            "  -o, --output FILE   where to write (- for stdout; default stdout). The file is\n"
            "                      replaced only once the report is complete.\n"
            "      --title TEXT    the page's title (default \"portkit report\")\n"
            "      --db PATH       the database (also PORTKIT_DB)\n"
            "  -h, --help          this help\n\n"
            "Examples:\n"
            "  portkit report -o scan.html                 the last run\n"
            "  portkit report monday last -o changes.html  what changed since 'monday'\n"
            "  portkit report nmap-out.xml -o nmap.html    an nmap XML file\n\n"
            "Exit status: 0 written, 2 bad input, 3 failure.\n");
}

static long write_fd(void *arg, const void *data, size_t len)
{
    int fd = *(int *)arg;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, (const char *)data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    return (long)len;
}

int cmd_report(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_TITLE };
    static const struct option opts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"output", required_argument, NULL, 'o'},
        {"title", required_argument, NULL, OPT_TITLE},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *db_opt = NULL, *path = NULL, *title = NULL;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (opt) {
        case OPT_DB: db_opt = optarg; break;
        case 'o': path = optarg; break;
        case OPT_TITLE: title = optarg; break;
        case 'h': usage_report(stdout); return CLI_OK;
        default: return cli_option_error("report", argv, opt);
        }
    }
    char *refs[2];
    int nrefs = argc - optind;
    char *split = NULL;
    if (nrefs > 2)
        return cli_usage_error("report", "at most two runs, got %d", nrefs);
    for (int i = 0; i < nrefs; i++)
        refs[i] = argv[optind + i];
    if (nrefs == 1 && (split = strstr(refs[0], ".."))) {
        /* A..B, as git writes ranges */
        static char left[512];
        size_t n = (size_t)(split - refs[0]);
        if (n == 0 || n >= sizeof left || !split[2])
            return cli_usage_error("report", "'%s': expected A..B", refs[0]);
        memcpy(left, refs[0], n);
        left[n] = '\0';
        refs[1] = split + 2;
        refs[0] = left;
        nrefs = 2;
    }
    bool need_db = false;
    for (int i = 0; i < nrefs; i++)
        if (!strchr(refs[i], '/') && !(strlen(refs[i]) > 4 && strcmp(refs[i] + strlen(refs[i]) - 4, ".xml") == 0))
            need_db = true;
    if (nrefs == 0)
        need_db = true;
    struct pk_history *db = NULL, *mem = NULL;
    int rc = need_db ? hist_cli_open("report", db_opt, true, &db) : 0;
    if (rc)
        return rc == CLI_NOTFOUND ? CLI_USAGE : rc;
    struct hist_side a = {0}, b = {0};
    if (nrefs == 2)
        rc = hist_cli_pair("report", db, &mem, 2, refs, &a, &b);
    else
        rc = hist_cli_side("report", db, &mem, nrefs ? refs[0] : "last", &b);
    /* Written beside the target and renamed over it when complete
     * (safefile.h), so a failure never leaves a half report in place of a
     * good one, and a symlink planted in /tmp is not followed. */
    struct pk_outfile out = {.fd = -1};
    int fd = STDOUT_FILENO;
    struct pk_err err = {0};
    if (rc == 0 && path && strcmp(path, "-") != 0) {
        if (pk_outfile_open(&out, path, &err) < 0)
            rc = cli_lib_error("report", &err);
        fd = out.fd;
    }
    if (rc == 0) {
        struct pk_report_options o = {.reg = cli_registry("report"), .title = title};
        if (pk_history_report_html(b.h, b.id, a.h, a.id, &o, write_fd, &fd, &err) < 0)
            rc = cli_lib_error("report", &err);
        else if (out.fd >= 0 && pk_outfile_commit(&out, &err) < 0)
            rc = cli_lib_error("report", &err);
    }
    pk_outfile_abort(&out);
    pk_history_close(mem);
    pk_history_close(db);
    return rc;
}
