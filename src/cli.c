#include "cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portkit/registry.h"

enum cli_color_mode cli_color_mode = CLI_COLOR_AUTO;
const char *cli_registry_path;

int cli_usage_error(const char *verb, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "portkit: %s%s", verb ? verb : "", verb ? ": " : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_USAGE;
}

int cli_exit_for(int pk_code)
{
    switch (pk_code) {
    case PK_OK: return CLI_OK;
    case PK_EINVAL: return CLI_USAGE;
    case PK_ENOTFOUND: return CLI_NOTFOUND;
    default: return CLI_FAIL;
    }
}

int cli_lib_error(const char *verb, const struct pk_err *err)
{
    fflush(stdout);
    fprintf(stderr, "portkit: %s%s%s\n", verb ? verb : "", verb ? ": " : "",
            err->msg[0] ? err->msg : "unknown error");
    return cli_exit_for(err->code);
}

bool cli_use_color(FILE *stream)
{
    if (cli_color_mode == CLI_COLOR_ALWAYS)
        return true;
    if (cli_color_mode == CLI_COLOR_NEVER)
        return false;
    const char *no = getenv("NO_COLOR");
    if (no && *no)
        return false;
    const char *term = getenv("TERM");
    if (term && strcmp(term, "dumb") == 0)
        return false;
    /* Asked per rendered line: remember the answer for stdout and stderr. */
    static signed char tty_cache[3] = {-1, -1, -1};
    int fd = fileno(stream);
    if (fd >= 0 && fd < 3) {
        if (tty_cache[fd] < 0)
            tty_cache[fd] = (signed char)isatty(fd);
        return tty_cache[fd];
    }
    return isatty(fd);
}

const char *cli_sgr(FILE *stream, const char *code)
{
    static char buf[4][16];
    static int next;
    if (!cli_use_color(stream))
        return "";
    char *b = buf[next++ & 3];
    snprintf(b, sizeof buf[0], "\033[%sm", code);
    return b;
}

static struct pk_registry *loaded;
static bool load_failed;

const struct pk_registry *cli_registry(const char *verb)
{
    if (loaded)
        return loaded;
    if (load_failed)
        return NULL;
    const char *path = cli_registry_path;
    if (!path) {
        const char *env = getenv("PORTKIT_REGISTRY");
        if (env && *env)
            path = env;
    }
    if (!path)
        return pk_registry_builtin();
    struct pk_err err = {0};
    if (pk_registry_load_csv(path, NULL, 0, &loaded, &err) < 0) {
        cli_lib_error(verb, &err);
        load_failed = true;
        return NULL;
    }
    return loaded;
}

void cli_registry_release(void)
{
    pk_registry_free(loaded);
    loaded = NULL;
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

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
