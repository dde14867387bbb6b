/* portkit watch: report listeners as they appear and disappear on this host,
 * or repeat a scan and report what changed between rounds. Changes can
 * run a command and go to syslog; a failing command is logged and the
 * watch goes on. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <wordexp.h>

#include "cli.h"
#include "history_cli.h"
#include "portkit/buf.h"

#define HOOK_TIMEOUT_MS 10000

void usage_watch(FILE *out)
{
    fprintf(out,
            "Usage: portkit watch [OPTIONS]\n"
            "       portkit watch --scan 'SCAN ARGS' [--every DUR] [OPTIONS]\n"
            "Prints a line when a listener appears or disappears on this host (TCP listen,\n"
            "bound UDP; IPv4 and IPv6), with its process, user, service and flags, within\n"
            "a second of the change. With --scan, runs `portkit scan SCAN ARGS --save`\n"
            "every DUR and prints what changed since the previous round.\n\n"
            "Options:\n"
            "  -j, --json          JSON Lines (the fields of portkit diff --json)\n"
            "  -t, --tcp           TCP only            -u, --udp   UDP only\n"
            "      --exec CMD      run `sh -c CMD` per change: the change as JSON on its\n"
            "                      stdin and in PORTKIT_CHANGE, PORTKIT_HOST, PORTKIT_PORT,\n"
            "                      PORTKIT_PROTO, PORTKIT_BEFORE, PORTKIT_AFTER,\n"
            "                      PORTKIT_SERVICE, PORTKIT_PROCESS, PORTKIT_PID, PORTKIT_USER;\n"
            "                      one at a time, at most 10 s each; failures are logged\n"
            "      --syslog        also log each change to syslog (daemon.notice)\n"
            "      --save          store a snapshot of the listeners after each change (when\n"
            "                      another writer holds the database, at a later look)\n"
            "      --scan ARGS     repeat this scan (quoted, as one argument)\n"
            "      --every DUR     between scans (default 10m; 30s, 1h, ...)\n"
            "      --label NAME    label of saved runs (default \"watch\")\n"
            "      --count N       stop after N changes (--scan: after N rounds)\n"
            "      --db PATH       the database (also PORTKIT_DB)\n"
            "  -h, --help          this help\n\n"
            "Signals: SIGTERM and SIGINT end the watch (exit 0); SIGHUP takes a new first\n"
            "look (what is listening then is the new baseline, not reported).\n\n"
            "Examples:\n"
            "  portkit watch --json\n"
            "  portkit watch --exec 'logger -t ports \"$PORTKIT_CHANGE $PORTKIT_PORT\"'\n"
            "  portkit watch --scan '-p- 192.0.2.0/28' --every 1h --syslog\n\n"
            "Exit status: 0 stopped by a signal or --count, 2 bad input, 3 failure.\n");
}

struct watch_cli {
    struct hist_printer p;
    const char *exec_cmd, *label, *db_opt;
    bool syslog, save;
    unsigned long long count, seen;
    int sigfd;
    sigset_t blocked;
    bool changed;
    struct pk_history *db;   /* --save: open all along */
};

static void note(struct watch_cli *c, const char *fmt, const char *arg)
{
    fprintf(stderr, "portkit: watch: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    if (c->syslog)
        syslog(LOG_WARNING, fmt, arg);
}

static void set_env_num(const char *name, long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    setenv(name, buf, 1);
}

/* The hook: `sh -c CMD` with the change in its environment and as JSON on
 * its stdin. Waited for (a bounded time) so hooks never pile up. */
static void run_hook(struct watch_cli *c, const struct pk_change *ch)
{
    struct pk_buf json = PK_BUF_INIT;
    pk_change_json(ch, &json);
    pk_buf_putc(&json, '\n');
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        note(c, "--exec: %s", strerror(errno));
        pk_buf_free(&json);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[0], STDIN_FILENO);
        sigprocmask(SIG_UNBLOCK, &c->blocked, NULL);
        signal(SIGPIPE, SIG_DFL);
        setenv("PORTKIT_CHANGE", pk_change_name(ch->kind), 1);
        setenv("PORTKIT_HOST", ch->host, 1);
        set_env_num("PORTKIT_PORT", ch->port);
        setenv("PORTKIT_PROTO", ch->port ? pk_proto_name(ch->proto) : "", 1);
        setenv("PORTKIT_BEFORE", ch->before, 1);
        setenv("PORTKIT_AFTER", ch->after, 1);
        setenv("PORTKIT_SERVICE", ch->service, 1);
        setenv("PORTKIT_PROCESS", ch->process ? ch->process : "", 1);
        set_env_num("PORTKIT_PID", ch->pid);
        setenv("PORTKIT_USER", ch->user ? ch->user : "", 1);
        execl("/bin/sh", "sh", "-c", c->exec_cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[0]);
    if (pid < 0) {
        close(fds[1]);
        note(c, "--exec: cannot start the command: %s", strerror(errno));
        pk_buf_free(&json);
        return;
    }
    /* A hook that does not read its stdin gets EPIPE, which is fine. */
    if (write(fds[1], json.data, json.len) < 0 && errno != EPIPE)
        note(c, "--exec: writing to the command: %s", strerror(errno));
    close(fds[1]);
    pk_buf_free(&json);
    int status = 0;
    for (int waited = 0;; waited += 10) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            break;
        if (waited >= HOOK_TIMEOUT_MS) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            note(c, "--exec: '%s' ran longer than 10 s and was killed", c->exec_cmd);
            return;
        }
        poll(NULL, 0, 10);
    }
    char why[64];
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        snprintf(why, sizeof why, "exit status %d", WEXITSTATUS(status));
        note(c, "--exec: the command failed: %s", why);
    } else if (WIFSIGNALED(status)) {
        snprintf(why, sizeof why, "signal %d", WTERMSIG(status));
        note(c, "--exec: the command was killed: %s", why);
    }
}

static int on_change(void *arg, const struct pk_change *ch)
{
    struct watch_cli *c = arg;
    hist_print_change(&c->p, ch);
    fflush(c->p.out);
    if (c->syslog) {
        char *line = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&line, &len);
        if (m) {
            struct hist_printer sp = {.out = m, .last_host = ""};
            hist_print_change(&sp, ch);
            fclose(m);
            size_t n = line ? strlen(line) : 0;
            while (n && (line[n - 1] == '\n' || line[n - 1] == ' '))
                line[--n] = '\0';
            for (char *s = line; s && *s; s++)
                if (*s == '\n')
                    *s = ' ';
            syslog(LOG_NOTICE, "%s", line ? line : "");
            free(line);
        }
    }
    if (c->exec_cmd)
        run_hook(c, ch);
    c->changed = true;
    c->seen++;
    return c->count && c->seen >= c->count;
}

/* Waits up to ms for a signal; returns the signal or 0. */
static int wait_signal(struct watch_cli *c, int ms)
{
    struct pollfd pfd = {.fd = c->sigfd, .events = POLLIN};
    if (poll(&pfd, 1, ms) <= 0)
        return 0;
    struct signalfd_siginfo si;
    if (read(c->sigfd, &si, sizeof si) != (ssize_t)sizeof si)
        return 0;
    return (int)si.ssi_signo;
}

/* A snapshot after changes. The watch must keep reporting within a second,
 * so it never waits for another writer: when the database is busy the
 * snapshot (of the then current listeners) is taken at a later look. */
static int save_snapshot(struct watch_cli *c, struct pk_watch *w)
{
    struct pk_err err = {0};
    struct pk_history_run *run = NULL;
    struct pk_run info = {.kind = PK_RUN_SOCKETS, .label = c->label, .source = "portkit", .targets = "this host",
                          .command = "portkit watch --save", .start_us = (uint64_t)time(NULL) * 1000000u};
    int rc = pk_history_begin(c->db, &info, &run, &err);
    if (rc == 0 && (rc = pk_watch_save(w, run, &err)) < 0)
        pk_history_abort(run);
    else if (rc == 0)
        rc = pk_history_commit(run, NULL, &err);
    if (rc < 0 && pk_history_busy(c->db))
        return 1; /* later */
    if (rc < 0)
        note(c, "the snapshot was not saved: %s", err.msg);
    return 0;
}

static int watch_local(struct watch_cli *c, unsigned protos)
{
    struct pk_err err = {0};
    struct pk_watch_options o = {.reg = cli_registry("watch"), .protos = protos};
    struct pk_watch *w;
    if (pk_watch_new(&o, &w, &err) < 0)
        return cli_lib_error("watch", &err);
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "portkit: watch: watching this host's listeners (Ctrl-C ends)\n");
    int rc = CLI_OK;
    unsigned next = 0;
    bool save_due = false;
    if (c->save) {
        /* opened (and checked writable) before watching, so a bad one fails now */
        if ((rc = hist_cli_open("watch", c->db_opt, false, &c->db)) != 0) {
            pk_watch_free(w);
            return rc;
        }
        pk_history_set_busy_timeout(c->db, 0);
    }
    for (;;) {
        int sig = wait_signal(c, (int)next);
        if (sig == SIGHUP) {
            struct pk_watch *fresh;
            if (pk_watch_new(&o, &fresh, &err) == 0) {
                pk_watch_free(w);
                w = fresh;
                note(c, "%s", "SIGHUP: took a new first look");
            }
        } else if (sig) {
            break;
        }
        c->changed = false;
        int r = pk_watch_poll(w, on_change, c, &next, &err);
        if (r < 0) {
            rc = cli_lib_error("watch", &err);
            break;
        }
        if (c->save && (c->changed || save_due))
            save_due = save_snapshot(c, w) != 0;
        if (r > 0)
            break; /* --count reached */
    }
    if (c->save && save_due) {
        pk_history_set_busy_timeout(c->db, 10000); /* the last one may wait */
        save_snapshot(c, w);
    }
    pk_history_close(c->db);
    pk_watch_free(w);
    return rc;
}

/* ---- --scan ---- */

static int run_scan(struct watch_cli *c, const char *args, const char *db)
{
    wordexp_t we;
    if (wordexp(args, &we, WRDE_NOCMD | WRDE_UNDEF) != 0)
        return cli_usage_error("watch", "--scan: cannot split '%s' into arguments", args);
    size_t n = we.we_wordc;
    char **argv = calloc(n + 10, sizeof *argv);
    if (!argv) {
        wordfree(&we);
        return CLI_FAIL;
    }
    size_t k = 0;
    argv[k++] = "portkit";
    argv[k++] = "scan";
    for (size_t i = 0; i < n; i++)
        argv[k++] = we.we_wordv[i];
    argv[k++] = "--save";
    argv[k++] = "--label";
    argv[k++] = (char *)c->label;
    argv[k++] = "--db";
    argv[k++] = (char *)db;
    argv[k++] = "--no-progress";
    argv[k] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, STDOUT_FILENO);
        sigprocmask(SIG_UNBLOCK, &c->blocked, NULL);
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    free(argv);
    wordfree(&we);
    if (pid < 0)
        return CLI_FAIL;
    int status = 0;
    for (;;) {
        int sig = wait_signal(c, 100);
        if (sig && sig != SIGHUP) {
            kill(pid, SIGINT); /* the scan stops and saves nothing */
            waitpid(pid, &status, 0);
            return -1;
        }
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
    }
    /* scan exits 0 (open ports) or 1 (none): both are a saved run */
    if (!WIFEXITED(status) || WEXITSTATUS(status) > 1) {
        char why[32];
        snprintf(why, sizeof why, "%d", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        note(c, "the scan failed (exit status %s); trying again next round", why);
        return 1;
    }
    return 0;
}

static int watch_scan(struct watch_cli *c, const char *args, uint64_t every_us)
{
    const char *db = hist_cli_path(c->db_opt);
    if (!db)
        return cli_usage_error("watch", "no database: give --db PATH");
    for (unsigned long long round = 1;; round++) {
        int r = run_scan(c, args, db);
        if (r < 0)
            return CLI_OK;
        if (r > 1)
            return r;
        if (r == 0) {
            struct pk_history *h;
            struct pk_err err = {0};
            int64_t id, prev;
            int rc = hist_cli_open("watch", c->db_opt, true, &h);
            if (rc)
                return rc;
            if (pk_history_resolve(h, c->label, &id, &err) < 0) {
                rc = cli_lib_error("watch", &err);
            } else if (pk_history_previous(h, id, &prev, &err) < 0) {
                char msg[32];
                snprintf(msg, sizeof msg, "%lld", (long long)id);
                note(c, "first round: run %s is the baseline", msg);
            } else if (pk_history_diff(h, prev, h, id, on_change, c, NULL, &err) < 0) {
                rc = cli_lib_error("watch", &err);
            }
            c->p.last_host[0] = '\0';
            pk_history_close(h);
            if (rc)
                return rc;
            if (c->count && c->seen >= c->count)
                return CLI_OK;
        }
        if (c->count && round >= c->count)
            return CLI_OK;
        uint64_t left = every_us / 1000;
        while (left > 0) {
            int ms = left > 1000 ? 1000 : (int)left;
            int sig = wait_signal(c, ms);
            if (sig && sig != SIGHUP)
                return CLI_OK;
            if (sig == SIGHUP)
                break; /* scan now */
            left -= (uint64_t)ms;
        }
    }
}

int cmd_watch(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_EXEC, OPT_SYSLOG, OPT_SAVE, OPT_SCAN, OPT_EVERY, OPT_LABEL, OPT_COUNT };
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"tcp", no_argument, NULL, 't'},
        {"udp", no_argument, NULL, 'u'},
        {"exec", required_argument, NULL, OPT_EXEC},
        {"syslog", no_argument, NULL, OPT_SYSLOG},
        {"save", no_argument, NULL, OPT_SAVE},
        {"scan", required_argument, NULL, OPT_SCAN},
        {"every", required_argument, NULL, OPT_EVERY},
        {"label", required_argument, NULL, OPT_LABEL},
        {"count", required_argument, NULL, OPT_COUNT},
        {"db", required_argument, NULL, OPT_DB},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct watch_cli c = {.p = {.out = stdout, .timestamps = true}, .label = "watch", .sigfd = -1};
    const char *scan = NULL, *every = NULL;
    unsigned protos = 0;
    int opt, rc;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":jtuh", opts, NULL)) != -1) {
        switch (opt) {
        case 'j': c.p.json = true; break;
        case 't': protos |= PK_PROTO_MASK(PK_TCP); break;
        case 'u': protos |= PK_PROTO_MASK(PK_UDP); break;
        case OPT_EXEC:
            if (!*optarg)
                return cli_usage_error("watch", "--exec needs a command");
            c.exec_cmd = optarg;
            break;
        case OPT_SYSLOG: c.syslog = true; break;
        case OPT_SAVE: c.save = true; break;
        case OPT_SCAN: scan = optarg; break;
        case OPT_EVERY: every = optarg; break;
        case OPT_LABEL: {
            struct pk_err err = {0};
            if (pk_history_label_check(optarg, &err) < 0)
                return cli_usage_error("watch", "--label: %s", err.msg);
            c.label = optarg;
            break;
        }
        case OPT_COUNT: {
            char *end;
            errno = 0;
            c.count = strtoull(optarg, &end, 10);
            if (!*optarg || *end || errno || c.count == 0 || *optarg == '-')
                return cli_usage_error("watch", "--count: '%s' is not a positive number", optarg);
            break;
        }
        case OPT_DB: c.db_opt = optarg; break;
        case 'h': usage_watch(stdout); return CLI_OK;
        default: return cli_option_error("watch", argv, opt);
        }
    }
    if (optind < argc)
        return cli_usage_error("watch", "unexpected argument '%s' (a scan's targets go in --scan '...')", argv[optind]);
    if (every && !scan)
        return cli_usage_error("watch", "--every needs --scan");
    if (scan && (protos || c.save))
        return cli_usage_error("watch", "-t, -u and --save watch this host: not with --scan (which saves each round)");
    uint64_t every_us = 600000000ull;
    if (every && (rc = hist_cli_duration("watch", "--every", every, &every_us)) != 0)
        return rc;
    if (scan && every_us < 1000000)
        return cli_usage_error("watch", "--every: at least 1s between scans");
    c.p.color = !c.p.json && cli_use_color(stdout);
    if (c.syslog)
        openlog("portkit", LOG_PID, LOG_DAEMON);
    /* Signals arrive through a descriptor, so waiting for the next look
     * and for a signal is one poll(). */
    sigemptyset(&c.blocked);
    sigaddset(&c.blocked, SIGINT);
    sigaddset(&c.blocked, SIGTERM);
    sigaddset(&c.blocked, SIGHUP);
    sigprocmask(SIG_BLOCK, &c.blocked, NULL);
    signal(SIGPIPE, SIG_IGN);
    c.sigfd = signalfd(-1, &c.blocked, SFD_CLOEXEC);
    if (c.sigfd < 0) {
        struct pk_err err = {0};
        return cli_lib_error("watch", (pk_err_sys(&err, "signalfd"), &err));
    }
    rc = scan ? watch_scan(&c, scan, every_us) : watch_local(&c, protos);
    close(c.sigfd);
    sigprocmask(SIG_UNBLOCK, &c.blocked, NULL);
    if (c.syslog)
        closelog();
    return rc;
}
