#include "cli_opt.h"

#include <getopt.h>
#include <string.h>

#include "cli.h"

int cli_option_error(const char *verb, char **argv, int opt)
{
    /* For a short option optopt names it; for a long one, argv[optind - 1]
     * holds it (with any "=value" the user typed). */
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    char shortopt[3] = {'-', (char)optopt, '\0'};
    const char *name = optopt && strncmp(arg, "--", 2) != 0 ? shortopt : arg;
    if (opt == ':')
        return cli_usage_error(verb, "option '%s' needs a value (see portkit %s --help)", name, verb);
    return cli_usage_error(verb, "unknown option '%s' (see portkit %s --help)", name, verb);
}
