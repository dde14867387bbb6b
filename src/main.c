/* portkit: dispatch to one verb. Global options come before the verb. */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct cli_verb verbs[] = {
#define CLI_ENTRY(name, summary) {#name, summary, cmd_##name, usage_##name},
    CLI_VERBS(CLI_ENTRY)
#undef CLI_ENTRY
};
#define NVERBS (sizeof verbs / sizeof verbs[0])

static const struct cli_verb *find_verb(const char *name)
{
    for (size_t i = 0; i < NVERBS; i++)
        if (strcmp(verbs[i].name, name) == 0)
            return &verbs[i];
    return NULL;
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: portkit [OPTIONS] VERB [ARGS...]\n"
            "Everything about network ports: what they are, who holds them, which are open,\n"
            "and how to redirect them.\n\n"
            "Verbs:\n");
    for (size_t i = 0; i < NVERBS; i++)
        fprintf(out, "  %-9s %s\n", verbs[i].name, verbs[i].summary);
    fprintf(out,
            "  help VERB  show a verb's options\n\n"
            "Options:\n"
            "  --registry FILE   use this IANA CSV instead of the compiled-in registry\n"
            "                    (also PORTKIT_REGISTRY)\n"
            "  --color=WHEN      auto (default: only on a terminal, never with NO_COLOR),\n"
            "                    always or never; also after the verb\n"
            "  --no-color        the same as --color=never\n"
            "  -h, --help        this help\n"
            "  -V, --version     print the version\n\n"
            "Examples:\n"
            "  portkit info 80            portkit info --search kerberos\n"
            "  portkit ls                 portkit who 8080\n"
            "  portkit free -n 3          portkit scan -p- 127.0.0.1\n"
            "  portkit forward :8080 127.0.0.1:80\n\n"
            "Exit status: 0 success, 1 nothing found, 2 bad input, 3 system failure.\n"
            "See portkit(1) for details.\n");
}

/* What a bare `portkit` prints: enough to take the next step. */
static void short_usage(FILE *out)
{
    fprintf(out, "Usage: portkit [--color=WHEN] [--registry FILE] VERB [ARGS...]\n"
                 "Verbs:");
    for (size_t i = 0; i < NVERBS; i++)
        fprintf(out, " %s", verbs[i].name);
    fprintf(out, "\nTry: portkit info 80, portkit ls, portkit scan 127.0.0.1\n"
                 "portkit --help for more, portkit help VERB for a verb's options.\n");
}

static int parse_color(const char *when)
{
    if (!when || strcmp(when, "always") == 0)
        cli_color_mode = CLI_COLOR_ALWAYS;
    else if (strcmp(when, "never") == 0)
        cli_color_mode = CLI_COLOR_NEVER;
    else if (strcmp(when, "auto") == 0)
        cli_color_mode = CLI_COLOR_AUTO;
    else
        return cli_usage_error(NULL, "--color: expected auto, always or never, got '%s'", when);
    return 0;
}

/* --color[=WHEN] and --no-color work after the verb too: they are taken
 * out of the verb's arguments (up to a "--") before its own parser runs. */
static int take_color_options(int *argc, char **argv)
{
    int out = 1;
    bool rest = false;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        if (!rest && strcmp(a, "--") == 0)
            rest = true;
        if (!rest && (strcmp(a, "--color") == 0 || strncmp(a, "--color=", 8) == 0)) {
            if (parse_color(a[7] ? a + 8 : NULL))
                return CLI_USAGE;
            continue;
        }
        if (!rest && strcmp(a, "--no-color") == 0) {
            cli_color_mode = CLI_COLOR_NEVER;
            continue;
        }
        argv[out++] = argv[i];
    }
    argv[out] = NULL;
    *argc = out;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"registry", required_argument, NULL, 'R'},
        {"color", optional_argument, NULL, 'C'},
        {"no-color", no_argument, NULL, 'N'},
        {0, 0, 0, 0},
    };
    /* '+' stops at the verb so its own options reach it untouched. */
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return CLI_OK;
        case 'V': printf("portkit %s\n", PK_VERSION); return CLI_OK;
        case 'R': cli_registry_path = optarg; break;
        case 'C': if (parse_color(optarg)) return CLI_USAGE; break;
        case 'N': cli_color_mode = CLI_COLOR_NEVER; break;
        default:
            return cli_usage_error(NULL, "unknown option '%s' (see portkit --help)", argv[optind - 1]);
        }
    }
    if (optind >= argc) {
        short_usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[optind];
    if (strcmp(name, "help") == 0) {
        if (optind + 1 >= argc) {
            usage(stdout);
            return CLI_OK;
        }
        const struct cli_verb *v = find_verb(argv[optind + 1]);
        if (!v)
            return cli_usage_error(NULL, "no such verb '%s' (see portkit --help)", argv[optind + 1]);
        v->usage(stdout);
        return CLI_OK;
    }
    const struct cli_verb *v = find_verb(name);
    if (!v)
        return cli_usage_error(NULL, "no such verb '%s' (see portkit --help)", name);
    int argc_verb = argc - optind;
    char **argv_verb = argv + optind;
    int rc = take_color_options(&argc_verb, argv_verb);
    if (rc)
        return rc;
    if (cli_wants_help(argc_verb, argv_verb)) {
        v->usage(stdout);
        return CLI_OK;
    }
    optind = 0; /* 0, not 1: makes glibc getopt forget main's "+" mode */
    /* A closed pipe is a failed write reported in one line, not a silent
     * death by SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    rc = v->run(argc_verb, argv_verb);
    cli_registry_release();
    if (rc != CLI_FAIL && cli_check_output(name) != 0 && rc != CLI_USAGE)
        rc = CLI_FAIL;
    return rc;
}
