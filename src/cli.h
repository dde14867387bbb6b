/* What every verb of the CLI shares: exit codes, error reporting, colour
 * decisions and the registry the user chose. The library does the work; the
 * CLI turns argv into calls and results into text. */
#ifndef PORTKIT_CLI_H
#define PORTKIT_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "portkit/error.h"

struct pk_registry;

enum cli_exit {
    CLI_OK = 0,
    CLI_NOTFOUND = 1, /* valid question, nothing found (free port, holder, match) */
    CLI_USAGE = 2,    /* bad command line or bad input */
    CLI_FAIL = 3,     /* the system failed us (permissions, kernel, memory) */
};

struct cli_verb {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the verb name */
    void (*usage)(FILE *out);
};

/* The longest message line; longer ones end in "...". */
#define CLI_MSG_MAX 400

/* One line on stderr, "portkit: VERB: message", with control bytes and
 * invalid UTF-8 from quoted input replaced by '?'; returns CLI_USAGE. */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same line for notes and warnings; returns 0. */
int cli_message(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Numbers and durations in options: digits only, within [min, max], else
 * the one-line "OPT: 'S' is not a number from MIN to MAX" and CLI_USAGE. */
int cli_parse_uint(const char *verb, const char *opt, const char *s, unsigned long long min,
                   unsigned long long max, unsigned long long *out);
/* portkit/duration.h's grammar (bare numbers are seconds); max_ms 0 is
 * the library's bound. */
int cli_parse_duration(const char *verb, const char *opt, const char *s, uint64_t max_ms,
                       uint64_t *ms);
/* After a verb: stdout flushed, or one line saying the write failed and
 * CLI_FAIL (a full disk or a closed pipe must not look like success). */
int cli_check_output(const char *verb);
/* fwrite that remembers why a write failed (the errno is gone by the time
 * main reports it); 0 or -1. */
int cli_write(FILE *stream, const void *data, size_t len);
extern int cli_write_errno;
/* getopt_long's failures in the one-line form. Verbs run getopt_long with
 * opterr = 0 and an optstring starting with ':'; opt is what it returned
 * ('?' or ':'). Returns CLI_USAGE. */
int cli_option_error(const char *verb, char **argv, int opt);
/* Reports a library error and maps its code to an exit status. */
int cli_lib_error(const char *verb, const struct pk_err *err);
int cli_exit_for(int pk_code);

/* Colour only on a terminal and never with NO_COLOR set; --color/--no-color
 * override. */
enum cli_color_mode { CLI_COLOR_AUTO, CLI_COLOR_ALWAYS, CLI_COLOR_NEVER };
extern enum cli_color_mode cli_color_mode;
bool cli_use_color(FILE *stream);
const char *cli_sgr(FILE *stream, const char *code); /* "" when colour is off */
#define CLI_BOLD "1"
#define CLI_DIM "2"
#define CLI_RED "31"
#define CLI_GREEN "32"
#define CLI_YELLOW "33"
#define CLI_BLUE "34"
#define CLI_CYAN "36"
#define CLI_RESET "0"

/* The registry every verb uses: the compiled-in one, or the CSV named by
 * --registry / PORTKIT_REGISTRY. Loaded once; NULL after reporting an error. */
extern const char *cli_registry_path;
const struct pk_registry *cli_registry(const char *verb);
void cli_registry_release(void);

/* True if arg is "-h" or "--help" anywhere before "--". */
bool cli_wants_help(int argc, char **argv);

#define CLI_VERBS(X)                                                                   \
    X(info, "what a port is, or where a service lives (IANA registry + notes)")        \
    X(ls, "list this host's listening and connected sockets, with processes")          \
    X(who, "which process holds a port")                                               \
    X(free, "find a port that is free to bind right now")                              \
    X(scan, "find open ports on hosts and networks, and what answers there")           \
    X(forward, "redirect a TCP or UDP port to another address")                        \
    X(audit, "which listeners the firewall lets outside traffic reach, and why") \
    X(why, "why a port can or cannot be bound, or reached from outside") \
    X(history, "the stored runs of scan --save and ls --save; import nmap XML")        \
    X(diff, "what changed between two runs (or nmap XML files)")                       \
    X(watch, "report listeners as they come and go, or repeat a scan")                 \
    X(report, "one self-contained HTML page about a run or a diff")

#define CLI_DECLARE(name, summary)                                                     \
    int cmd_##name(int argc, char **argv);                                             \
    void usage_##name(FILE *out);
CLI_VERBS(CLI_DECLARE)
#undef CLI_DECLARE

#endif
