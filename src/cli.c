#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portkit/duration.h"
#include "portkit/registry.h"

enum cli_color_mode cli_color_mode = CLI_COLOR_AUTO;
const char *cli_registry_path;

/* Messages quote what the user typed, and that text may hold escape
 * sequences, newlines or bytes that are not UTF-8. Every message passes
 * here: control bytes and invalid UTF-8 become '?', and it stays one line of
 * bounded length. */
static void put_message(const char *verb, const char *msg)
{
    char line[CLI_MSG_MAX];
    size_t k = 0, i = 0, n = strlen(msg);
    const unsigned char *u = (const unsigned char *)msg;
    while (i < n && k + 8 < sizeof line) {
        size_t len = u[i] < 0x80 ? 1 : (u[i] & 0xE0) == 0xC0 ? 2 : (u[i] & 0xF0) == 0xE0 ? 3
                                     : (u[i] & 0xF8) == 0xF0 ? 4 : 0;
        bool ok = len > 0 && i + len <= n && !(len == 2 && u[i] < 0xC2);
        for (size_t j = 1; ok && j < len; j++)
            ok = (u[i + j] & 0xC0) == 0x80;
        if (len == 1 && (u[i] < 0x20 || u[i] == 0x7f))
            ok = false;
        if (len == 2 && u[i] == 0xC2 && u[i + 1] < 0xA0)
            ok = false; /* C1 controls: some terminals act on them too */
        if (!ok) {
            line[k++] = '?';
            i++;
            continue;
        }
        memcpy(line + k, msg + i, len);
        k += len;
        i += len;
    }
    if (i < n) {
        memcpy(line + k, "...", 3);
        k += 3;
    }
    line[k] = '\0';
    fflush(stdout);
    fprintf(stderr, "portkit: %s%s%s\n", verb ? verb : "", verb ? ": " : "", line);
}

__attribute__((format(printf, 2, 0)))
static void put_vmessage(const char *verb, const char *fmt, va_list ap)
{
    char msg[CLI_MSG_MAX * 2];
    vsnprintf(msg, sizeof msg, fmt, ap);
    put_message(verb, msg);
}

int cli_usage_error(const char *verb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    put_vmessage(verb, fmt, ap);
    va_end(ap);
    return CLI_USAGE;
}

int cli_message(const char *verb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    put_vmessage(verb, fmt, ap);
    va_end(ap);
    return 0;
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
    put_message(verb, err->msg[0] ? err->msg : "unknown error");
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
    /* inside a cluster ("-80" read as -8 then -0) optind has not moved on */
    const char *given = optopt >= '0' && optopt <= '9' && argv[optind] && argv[optind][0] == '-'
                            ? argv[optind]
                            : optind > 0 ? argv[optind - 1] : "";
    if (given[0] == '-' && given[1] >= '0' && given[1] <= '9')
        return cli_usage_error(verb, "'%s' is not an option, and ports and counts are never negative",
                               given);
    /* For a short option optopt names it; for a long one, argv[optind - 1]
     * holds it (with any "=value" the user typed). */
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    char shortopt[3] = {'-', (char)optopt, '\0'};
    const char *name = optopt && strncmp(arg, "--", 2) != 0 ? shortopt : arg;
    if (opt == ':')
        return cli_usage_error(verb, "option '%s' needs a value (see portkit %s --help)", name, verb);
    return cli_usage_error(verb, "unknown option '%s' (see portkit %s --help)", name, verb);
}

int cli_parse_uint(const char *verb, const char *opt, const char *s, unsigned long long min,
                   unsigned long long max, unsigned long long *out)
{
    /* strtoull would take " 5", "+5" and "-5" (wrapped); only digits count */
    size_t n = strlen(s);
    bool digits = n > 0 && strspn(s, "0123456789") == n;
    errno = 0;
    unsigned long long v = digits ? strtoull(s, NULL, 10) : 0;
    if (!digits || errno || v < min || v > max)
        return cli_usage_error(verb, "%s: '%s' is not a number from %llu to %llu", opt, s, min, max);
    *out = v;
    return 0;
}

int cli_parse_duration(const char *verb, const char *opt, const char *s, uint64_t max_ms,
                       uint64_t *ms)
{
    struct pk_err err = {0};
    if (pk_duration_parse(s, strlen(s), max_ms, ms, &err) < 0)
        return cli_usage_error(verb, "%s: %s", opt, err.msg);
    return 0;
}

int cli_write_errno;

int cli_write(FILE *stream, const void *data, size_t len)
{
    if (len && fwrite(data, 1, len, stream) != len) {
        if (errno)
            cli_write_errno = errno;
        return -1;
    }
    return 0;
}

int cli_check_output(const char *verb)
{
    /* ferror stays set after a failed flush, fflush reports one that fails
     * now; either way the user must not think the output is complete. */
    errno = 0;
    int flushed = fflush(stdout);
    if (flushed == 0 && !ferror(stdout))
        return 0;
    int e = errno ? errno : cli_write_errno;
    cli_message(verb, "writing standard output failed%s%s", e ? ": " : "", e ? strerror(e) : "");
    return CLI_FAIL;
}
