/* portkit forward: redirect TCP or UDP ports. The library relays; this file
 * reads options, turns events into log lines and signals into reloads and
 * drains. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "forward_cli.h"
#include "portkit/buf.h"
#include "portkit/forward.h"
#include "portkit/json.h"
#include "portkit/loop.h"
#include "portkit/safefile.h"

void usage_forward(FILE *out)
{
    fprintf(out,
            "Usage: portkit forward [OPTIONS] LISTEN TARGET\n"
            "       portkit forward [OPTIONS] -c FILE\n\n"
            "Redirect a TCP (or UDP) port to another address: connections to LISTEN are\n"
            "relayed to TARGET, bytes both ways, zero-copy where the kernel allows.\n\n"
            "LISTEN   :PORT, PORT or *:PORT (every address), ADDR:PORT, [IPV6]:PORT\n"
            "TARGET   ADDR:PORT or [IPV6]:PORT (no address: 127.0.0.1)\n"
            "         PORT may be a service name: :http, 127.0.0.1:domain\n\n"
            "Options:\n"
            "  -u, --udp                  forward UDP datagrams (default TCP)\n"
            "  -c, --config FILE          rules from FILE, one per line (see portkit(1));\n"
            "                             rinetd's files run as they are; SIGHUP reloads it\n"
            "  -a, --allow LIST           admit only these addresses, CIDRs or patterns\n"
            "                             (192.168.2.*); repeatable; ::ffff:a.b.c.d is a.b.c.d\n"
            "  -d, --deny LIST            turn these addresses/CIDRs/patterns away (repeatable)\n"
            "      --connect-timeout DUR  give up on the target after DUR (default 10s)\n"
            "      --idle-timeout DUR     end a connection quiet for DUR (default: TCP 10m,\n"
            "                             UDP sessions 60s); 0 = never\n"
            "      --max-conns N          connections (UDP: sessions) at once per rule; the\n"
            "                             whole forwarder holds at most what the open-file\n"
            "                             limit allows, clients beyond it are reset and logged\n"
            "      --copy MODE            auto (read/write for small messages, splice for\n"
            "                             bulk), splice, read\n"
            "      --drain DUR            on SIGTERM/SIGINT, let connections finish for DUR\n"
            "                             (default 10s); a second signal ends them now\n"
            "      --log FILE             append log lines to FILE (default stderr; a new file\n"
            "                             is 0640; a planted symlink is refused)\n"
            "      --log-json             log JSON Lines\n"
            "  -q, --quiet                no line per connection (listeners and errors only)\n"
            "  -n, --check                check the rules, print them (and the nft script\n"
            "                             of --kernel rules), exit\n"
            "  -k, --kernel               forward in the kernel: nftables NAT in a table this\n"
            "                             process owns (needs root); rules the kernel cannot\n"
            "                             express stay with the relay, said at start\n"
            "      --enable-forwarding    --kernel with a target on another host: switch IP\n"
            "                             forwarding on, and back off on exit\n"
            "      --cleanup              with --kernel: remove tables left by forwarders that\n"
            "                             no longer run, exit\n"
            "  -h, --help                 this help\n\n"
            "DUR is seconds, or a number with ms, s, m or h (250ms, 1.5s, 10m).\n"
            "Signals: HUP reloads -c FILE (a bad file is logged and ignored) and reopens\n"
            "--log; TERM/INT drain and exit; USR1 logs counters.\n\n"
            "Examples:\n"
            "  portkit forward :8080 127.0.0.1:80\n"
            "  portkit forward --udp '[::]:5353' 127.0.0.1:53\n"
            "  portkit forward -c /etc/portkit/forward.conf --log /var/log/portkit-forward.log\n"
            "  portkit forward --kernel :80 127.0.0.1:8080\n\n"
            "Exit status: 0 after a clean stop, 2 bad option or config, 3 cannot listen.\n");
}

struct fwd_cli {
    struct pk_loop *loop;
    struct pk_fw *fw;
    struct pk_fw_kernel *kfw;  /* --kernel or a rule with `kernel` */
    bool enable_forwarding;
    const char *config_path;
    const struct pk_registry *reg;
    struct pk_fw_defaults defaults;
    char **allow, **deny;     /* from the command line, re-added on reload */
    size_t nallow, ndeny;
    const char *log_path;
    int log_fd;
    int rinetd_log;           /* rinetd's logfile: 1 tab-separated, 2 logcommon; 0 ours */
    char *pidfile;            /* written by us: removed at exit */
    bool json, quiet, stopping;
    uint64_t drain_ms;
    int sigfd;
    struct pk_buf line;
    char log_error[PK_ERR_MSG_MAX];
};

/* ---- log lines ---- */

static uint64_t now_unix_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void emit_to(struct fwd_cli *c, int fd)
{
    pk_buf_putc(&c->line, '\n');
    /* One write per line: lines from a busy forwarder never interleave,
     * and O_APPEND keeps them whole beside other writers. */
    ssize_t off = 0;
    while ((size_t)off < c->line.len) {
        ssize_t w = write(fd, c->line.data + off, c->line.len - (size_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += w;
    }
    pk_buf_reset(&c->line);
}

static void emit(struct fwd_cli *c)
{
    emit_to(c, c->log_fd);
}

/* A message of the forwarder itself (reload, stop), in the same stream. */
static void note(struct fwd_cli *c, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void note(struct fwd_cli *c, const char *kind, const char *fmt, ...)
{
    char msg[512], ts[40];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pk_fw_time_format(now_unix_us(), ts, sizeof ts);
    if (c->json) {
        struct pk_json j;
        pk_json_init(&j, &c->line);
        pk_json_obj_begin(&j, NULL);
        pk_json_str(&j, "time", ts);
        pk_json_str(&j, "event", kind);
        pk_json_str(&j, "message", msg);
        pk_json_obj_end(&j);
    } else {
        pk_buf_printf(&c->line, "%s %s %s", ts, kind, msg);
    }
    emit_to(c, c->rinetd_log ? STDERR_FILENO : c->log_fd); /* rinetd's file: connections only */
}

static void on_event(void *arg, const struct pk_fw_event *ev)
{
    struct fwd_cli *c = arg;
    if (c->quiet && (ev->kind == PK_FW_EV_END || ev->kind == PK_FW_EV_OPEN))
        return;
    if (c->rinetd_log) {
        /* rinetd's file holds connection lines only; the rest (listeners,
         * warnings) goes to stderr as without a log file. */
        if (pk_fw_event_format_rinetd(ev, now_unix_us(), c->rinetd_log == 2, &c->line)) {
            emit(c);
            return;
        }
        pk_fw_event_format(ev, now_unix_us(), c->json, &c->line);
        emit_to(c, STDERR_FILENO);
        return;
    }
    pk_fw_event_format(ev, now_unix_us(), c->json, &c->line);
    emit(c);
}

static int open_log(struct fwd_cli *c)
{
    if (!c->log_path) {
        c->log_fd = STDERR_FILENO;
        return 0;
    }
    struct pk_err err = {0};
    int fd = pk_file_open_append(c->log_path, &err);
    if (fd < 0) {
        snprintf(c->log_error, sizeof c->log_error, "%s", err.msg);
        return -1;
    }
    if (c->log_fd > STDERR_FILENO)
        close(c->log_fd);
    c->log_fd = fd;
    return 0;
}

/* ---- configuration ---- */

static int add_cli_acl(struct fwd_cli *c, struct pk_fw_config *cfg, struct pk_err *err)
{
    struct pk_acl *acl = pk_fw_config_acl(cfg);
    for (size_t i = 0; i < c->nallow; i++)
        if (pk_acl_add_list(acl, true, c->allow[i], strlen(c->allow[i]), err) < 0)
            return PK_EINVAL;
    for (size_t i = 0; i < c->ndeny; i++)
        if (pk_acl_add_list(acl, false, c->deny[i], strlen(c->deny[i]), err) < 0)
            return PK_EINVAL;
    return 0;
}

static struct pk_fw_config *load_config(struct fwd_cli *c, struct pk_err *err)
{
    struct pk_fw_config *cfg = pk_fw_config_new();
    if (!cfg) {
        pk_err_set(err, PK_ENOMEM, "out of memory");
        return NULL;
    }
    if (pk_fw_config_load(cfg, c->config_path, c->reg, &c->defaults, err) < 0 ||
        add_cli_acl(c, cfg, err) < 0) {
        pk_fw_config_free(cfg);
        return NULL;
    }
    /* rinetd runs a file of settings and no rule (Debian's stock one);
     * a file with nothing at all is a mistake. */
    bool settings = pk_fw_config_logfile(cfg) || pk_fw_config_pidfile(cfg);
    if (pk_fw_config_count(cfg) == 0 && !settings) {
        pk_err_set(err, PK_EINVAL, "%s: no forwarding rules", c->config_path);
        pk_fw_config_free(cfg);
        return NULL;
    }
    return cfg;
}

/* --check: the rules as a config file that parses back to the same; with
 * `# ` before each line when an nft script follows, so the whole output is
 * one script nft reads. */
static int print_rules(const struct pk_fw_config *cfg, bool as_comment)
{
    struct pk_buf out = PK_BUF_INIT;
    int rc = pk_fw_config_format(cfg, &out);
    for (size_t i = 0; rc == 0 && as_comment && i < out.len;) {
        const char *nl = memchr(out.data + i, '\n', out.len - i);
        size_t len = nl ? (size_t)(nl - (out.data + i)) + 1 : out.len - i;
        if (printf("# %.*s", (int)len, out.data + i) < 0)
            rc = PK_EIO;
        i += len;
    }
    if (rc == 0 && !as_comment && out.len && fwrite(out.data, 1, out.len, stdout) != out.len)
        rc = PK_EIO;
    pk_buf_free(&out);
    if (rc == 0 && fflush(stdout) != 0)
        rc = PK_EIO;
    if (rc < 0) {
        struct pk_err err = {0};
        pk_err_set(&err, rc, rc == PK_ENOMEM ? "out of memory" : "cannot write the rules: %s",
                   strerror(errno));
        cli_lib_error("forward", &err);
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* ---- the kernel's share ---- */

/* Gives the kernel its rules (replacing its table in one transaction) and
 * the relay the rest. */
static int apply_both(struct fwd_cli *c, const struct pk_fw_config *cfg, struct pk_err *err)
{
    struct pk_fw_config *kcfg = NULL, *rcfg = NULL;
    /* Against the built-in defaults: --connect-timeout on the command line
     * is an option the user set, as much as one in the file. */
    struct pk_fw_defaults builtin;
    pk_fw_defaults_init(&builtin);
    int rc = pk_fw_kernel_partition(cfg, &builtin, &kcfg, &rcfg, on_event, c, err);
    if (rc == 0 && pk_fw_config_count(kcfg) && !c->kfw) {
        struct pk_fw_kernel_options ko = {
            .log = on_event, .log_arg = c, .enable_forwarding = c->enable_forwarding,
        };
        if (!(c->kfw = pk_fw_kernel_new(c->loop, &ko, err)))
            rc = err->code;
    }
    if (rc == 0 && c->kfw && (rc = pk_fw_kernel_apply(c->kfw, kcfg, err)) == 0) {
        note(c, "kernel", "table inet %s: %zu rule%s", pk_fw_kernel_table(c->kfw),
             pk_fw_config_count(kcfg), pk_fw_config_count(kcfg) == 1 ? "" : "s");
        for (size_t i = 0; i < pk_fw_config_count(kcfg); i++) {
            const struct pk_fw_rule *r = pk_fw_config_rule(kcfg, i);
            struct pk_fw_event ev = {
                .kind = PK_FW_EV_LISTEN, .proto = r->proto, .line = r->line,
                .listen = (const struct sockaddr *)&r->listen.ss,
                .target = (const struct sockaddr *)&r->target.ss,
            };
            on_event(c, &ev);
        }
    }
    if (rc == 0)
        rc = pk_fw_apply(c->fw, rcfg, err);
    pk_fw_config_free(kcfg);
    pk_fw_config_free(rcfg);
    return rc;
}

/* --check: every rule as a config file (kernel rules marked `kernel`), then
 * the exact nft script for those the kernel takes (table named for this
 * process); rules left to the relay are said on stderr. */
static int check_rules(struct fwd_cli *c, const struct pk_fw_config *cfg)
{
    struct pk_fw_config *kcfg = NULL, *rcfg = NULL;
    struct pk_err err = {0};
    struct pk_fw_defaults builtin;
    pk_fw_defaults_init(&builtin);
    if (pk_fw_kernel_partition(cfg, &builtin, &kcfg, &rcfg, on_event, c, &err) < 0)
        return cli_lib_error("forward", &err);
    int rc = print_rules(cfg, pk_fw_config_count(kcfg) > 0);
    if (rc == CLI_OK && pk_fw_config_count(kcfg)) {
        char table[64];
        struct pk_buf script = PK_BUF_INIT;
        pk_fw_kernel_table_name((long)getpid(), table, sizeof table);
        if (pk_fw_kernel_ruleset(kcfg, table, (uint16_t)(getpid() % 0xfffe + 1), "", &script,
                                 &err) < 0)
            rc = cli_lib_error("forward", &err);
        else
            fputs(script.data, stdout);
        pk_buf_free(&script);
    }
    pk_fw_config_free(kcfg);
    pk_fw_config_free(rcfg);
    return rc;
}

static void print_cleanup(void *arg, const struct pk_fw_event *ev)
{
    fprintf(stderr, "portkit: forward: %s\n", ev->reason);
}

static int cleanup_tables(void)
{
    struct pk_err err = {0};
    unsigned removed = 0;
    if (pk_fw_kernel_cleanup(&removed, print_cleanup, NULL, &err) < 0)
        return cli_lib_error("forward", &err);
    if (!removed)
        fprintf(stderr, "portkit: forward: no tables left by stopped forwarders\n");
    return CLI_OK;
}

/* The kernel's refusals, which it does not log one by one. */
static void kernel_stats(struct fwd_cli *c)
{
    uint64_t denied, limited;
    struct pk_err err = {0};
    if (!c->kfw)
        return;
    if (pk_fw_kernel_counters(c->kfw, &denied, &limited, &err) < 0)
        note(c, "warn", "kernel counters: %s", err.msg);
    else
        note(c, "kernel-stats", "denied_packets=%llu limited_packets=%llu",
             (unsigned long long)denied, (unsigned long long)limited);
}

/* ---- signals ---- */

static void reload(struct fwd_cli *c)
{
    if (c->log_path && open_log(c) < 0)
        note(c, "warn", "cannot reopen the log: %s; logging on to the old file", c->log_error);
    if (!c->config_path) {
        note(c, "reload", "no config file (-c) to reload");
        return;
    }
    struct pk_err err = {0};
    struct pk_fw_config *cfg = load_config(c, &err);
    if (!cfg || apply_both(c, cfg, &err) < 0) {
        note(c, "reload", "failed: %s; the running configuration stays", err.msg);
        pk_fw_config_free(cfg);
        return;
    }
    size_t n = pk_fw_config_count(cfg);
    note(c, "reload", "ok: %zu rule%s from %s", n, n == 1 ? "" : "s", c->config_path);
    pk_fw_config_free(cfg);
}

static void on_drained(void *arg)
{
    struct fwd_cli *c = arg;
    pk_loop_stop(c->loop);
}

static void on_signal(struct pk_loop *loop, int fd, unsigned events, void *arg)
{
    struct fwd_cli *c = arg;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        struct pk_fw_stats st;
        switch (si.ssi_signo) {
        case SIGHUP:
            reload(c);
            break;
        case SIGUSR1:
            pk_fw_stats(c->fw, &st);
            kernel_stats(c);
            note(c, "stats",
                 "listeners=%zu tcp_conns=%zu udp_sessions=%zu pipes_busy=%zu pipes_idle=%zu "
                 "accepted=%llu denied=%llu limited=%llu",
                 st.listeners, st.tcp_conns, st.udp_sessions, st.pipes_busy, st.pipes_idle,
                 (unsigned long long)st.accepted, (unsigned long long)st.denied,
                 (unsigned long long)st.limited);
            break;
        default: /* SIGTERM, SIGINT */
            pk_fw_stats(c->fw, &st);
            if (!c->stopping)
                note(c, "stop", "signal %s: draining %zu connections (at most %.1f s)",
                     strsignal((int)si.ssi_signo), st.tcp_conns, (double)c->drain_ms / 1000);
            else
                note(c, "stop", "second signal: closing %zu connections now", st.tcp_conns);
            c->stopping = true;
            pk_fw_shutdown(c->fw, c->drain_ms);
            break;
        }
    }
}

/* ---- main ---- */

enum {
    OPT_CONNECT_TIMEOUT = 256, OPT_IDLE_TIMEOUT, OPT_MAX_CONNS, OPT_COPY, OPT_DRAIN, OPT_LOG,
    OPT_LOG_JSON, OPT_ENABLE_FORWARDING, OPT_CLEANUP,
};

static int parse_duration_opt(const char *name, const char *v, uint64_t *ms)
{
    struct pk_err err = {0};
    if (pk_fw_duration_parse(v, strlen(v), ms, &err) < 0)
        return cli_usage_error("forward", "--%s: %s", name, err.msg);
    return 0;
}

static int push_arg(char ***v, size_t *n, char *arg)
{
    char **p = realloc(*v, (*n + 1) * sizeof *p);
    if (!p)
        return -1;
    p[(*n)++] = arg;
    *v = p;
    return 0;
}

static void warn_note(void *arg, const char *msg)
{
    note(arg, "warn", "%s", msg);
}

/* Listening: the one-time warnings, and rinetd's pid file. */
static int started(struct fwd_cli *c, const struct pk_fw_config *cfg, struct pk_err *err)
{
    fwcli_check_config_perms(c->config_path, warn_note, c);
    fwcli_check_exposure(cfg, warn_note, c);
    if (pk_fw_config_count(cfg) == 0)
        note(c, "warn", "%s has no forwarding rules yet; SIGHUP reloads it", c->config_path);
    const char *pid = pk_fw_config_pidfile(cfg);
    if (pid) {
        if (fwcli_write_pidfile(pid, err) < 0)
            return PK_ESYS;
        c->pidfile = strdup(pid);
    }
    return 0;
}

static int run(struct fwd_cli *c, struct pk_fw_config *cfg, bool check)
{
    if (check)
        return check_rules(c, cfg);
    signal(SIGPIPE, SIG_IGN);
    pk_fw_raise_nofile();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    c->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    struct pk_err err = {0};
    c->loop = pk_loop_new(&err);
    struct pk_fw_options o = {
        .log = on_event, .log_arg = c, .drained = on_drained, .drained_arg = c,
    };
    if (c->loop && c->sigfd >= 0)
        c->fw = pk_fw_new(c->loop, &o, &err);
    int rc = CLI_OK;
    if (c->sigfd < 0)
        rc = cli_lib_error("forward", (pk_err_sys(&err, "signalfd"), &err));
    else if (!c->loop || !c->fw)
        rc = cli_lib_error("forward", &err);
    else if (apply_both(c, cfg, &err) < 0)
        rc = cli_lib_error("forward", (fwcli_explain_listen_error(cfg, &err), &err));
    else if (started(c, cfg, &err) < 0)
        rc = cli_lib_error("forward", &err);
    else if (pk_loop_watch(c->loop, c->sigfd, PK_EV_READ, on_signal, c, &err) < 0)
        rc = cli_lib_error("forward", &err);
    else if (pk_loop_run(c->loop, &err) < 0)
        rc = cli_lib_error("forward", &err);
    if (c->loop && c->sigfd >= 0)
        pk_loop_unwatch(c->loop, c->sigfd);
    pk_fw_free(c->fw);
    pk_fw_kernel_free(c->kfw); /* removes the table, restores the sysctls */
    pk_loop_free(c->loop);
    if (c->pidfile)
        unlink(c->pidfile);
    free(c->pidfile);
    if (c->sigfd >= 0)
        close(c->sigfd);
    return rc;
}

int cmd_forward(int argc, char **argv)
{
    static const struct option opts[] = {
        {"udp", no_argument, NULL, 'u'},
        {"config", required_argument, NULL, 'c'},
        {"allow", required_argument, NULL, 'a'},
        {"deny", required_argument, NULL, 'd'},
        {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
        {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
        {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
        {"copy", required_argument, NULL, OPT_COPY},
        {"drain", required_argument, NULL, OPT_DRAIN},
        {"log", required_argument, NULL, OPT_LOG},
        {"log-json", no_argument, NULL, OPT_LOG_JSON},
        {"quiet", no_argument, NULL, 'q'},
        {"check", no_argument, NULL, 'n'},
        {"kernel", no_argument, NULL, 'k'},
        {"enable-forwarding", no_argument, NULL, OPT_ENABLE_FORWARDING},
        {"cleanup", no_argument, NULL, OPT_CLEANUP},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct fwd_cli c = {.log_fd = STDERR_FILENO, .drain_ms = 10000, .sigfd = -1};
    pk_fw_defaults_init(&c.defaults);
    bool udp = false, check = false, idle_set = false, cleanup = false;
    uint64_t idle_ms = 0;
    int rc = CLI_OK, opt;
    opterr = 0;
    while (rc == CLI_OK && (opt = getopt_long(argc, argv, ":uc:a:d:qnkh", opts, NULL)) != -1) {
        switch (opt) {
        case 'u': udp = true; break;
        case 'c': c.config_path = optarg; break;
        case 'a':
        case 'd': {
            struct pk_acl *probe = pk_acl_new();
            struct pk_err err = {0};
            if (!probe || pk_acl_add_list(probe, opt == 'a', optarg, strlen(optarg), &err) < 0)
                rc = cli_usage_error("forward", "--%s: %s", opt == 'a' ? "allow" : "deny",
                                     probe ? err.msg : "out of memory");
            pk_acl_free(probe);
            if (rc == CLI_OK && push_arg(opt == 'a' ? &c.allow : &c.deny,
                                         opt == 'a' ? &c.nallow : &c.ndeny, optarg) < 0)
                rc = cli_usage_error("forward", "out of memory");
            break;
        }
        case OPT_CONNECT_TIMEOUT:
            rc = parse_duration_opt("connect-timeout", optarg, &c.defaults.connect_timeout_ms);
            if (rc == CLI_OK && c.defaults.connect_timeout_ms == 0)
                rc = cli_usage_error("forward", "--connect-timeout must be more than 0");
            break;
        case OPT_IDLE_TIMEOUT:
            rc = parse_duration_opt("idle-timeout", optarg, &idle_ms);
            idle_set = true;
            break;
        case OPT_MAX_CONNS: {
            unsigned long long v = 0;
            rc = cli_parse_uint("forward", "--max-conns", optarg, 0, 1000000000ull, &v);
            c.defaults.max_conns = (unsigned)v;
            break;
        }
        case OPT_COPY:
            if (pk_fw_copy_parse(optarg, strlen(optarg), &c.defaults.copy) < 0)
                rc = cli_usage_error("forward", "--copy: expected auto, splice or read, got '%s'",
                                     optarg);
            break;
        case OPT_DRAIN: rc = parse_duration_opt("drain", optarg, &c.drain_ms); break;
        case OPT_LOG: c.log_path = optarg; break;
        case OPT_LOG_JSON: c.json = true; break;
        case 'q': c.quiet = true; break;
        case 'n': check = true; break;
        case 'k': c.defaults.kernel = true; break;
        case OPT_ENABLE_FORWARDING: c.enable_forwarding = true; break;
        case OPT_CLEANUP: cleanup = true; break;
        case 'h': usage_forward(stdout); goto out;
        default: rc = cli_option_error("forward", argv, opt); break;
        }
    }
    if (rc != CLI_OK)
        goto out;
    if (idle_set)
        c.defaults.tcp_idle_ms = c.defaults.udp_idle_ms = idle_ms;
    int nargs = argc - optind;
    if (cleanup) {
        if (!c.defaults.kernel || nargs || c.config_path)
            rc = cli_usage_error("forward", "--cleanup goes with --kernel alone");
        else
            rc = cleanup_tables();
        goto out;
    }
    if (c.config_path && nargs > 0) {
        rc = cli_usage_error("forward", "give either LISTEN TARGET or -c FILE, not both");
        goto out;
    }
    if (c.config_path && udp) {
        rc = cli_usage_error("forward", "--udp applies to LISTEN TARGET; in a config file write "
                                        "udp on the rule");
        goto out;
    }
    if (!c.config_path && nargs != 2) {
        rc = cli_usage_error("forward", nargs < 2 ? "expected LISTEN TARGET (or -c FILE)"
                                                  : "too many arguments: expected LISTEN TARGET");
        goto out;
    }
    c.reg = cli_registry("forward");
    if (!c.reg) {
        rc = CLI_USAGE;
        goto out;
    }

    struct pk_err err = {0};
    struct pk_fw_config *cfg = NULL;
    if (c.config_path) {
        cfg = load_config(&c, &err);
        if (!cfg) {
            /* A file that is missing or unreadable is a bad argument too. */
            cli_lib_error("forward", &err);
            rc = err.code == PK_ENOMEM ? CLI_FAIL : CLI_USAGE;
            goto out;
        }
    } else {
        struct pk_fw_rule r = {
            .proto = udp ? PK_UDP : PK_TCP,
            .connect_timeout_ms = c.defaults.connect_timeout_ms,
            .idle_timeout_ms = udp ? c.defaults.udp_idle_ms : c.defaults.tcp_idle_ms,
            .max_conns = c.defaults.max_conns,
            .copy = c.defaults.copy,
            .kernel = c.defaults.kernel,
        };
        const char *l = argv[optind], *t = argv[optind + 1];
        if (fwcli_socat_hint(l, t)) {
            rc = CLI_USAGE;
            goto out;
        }
        cfg = pk_fw_config_new();
        if (!cfg || pk_fw_addr_parse(l, strlen(l), r.proto, false, c.reg, 0, &r.listen, &err) < 0 ||
            pk_fw_addr_parse(t, strlen(t), r.proto, true, c.reg, 0, &r.target, &err) < 0 ||
            pk_fw_config_add_rule(cfg, &r, &err) < 0 || add_cli_acl(&c, cfg, &err) < 0) {
            if (!cfg)
                pk_err_set(&err, PK_ENOMEM, "out of memory");
            rc = cli_lib_error("forward", &err);
            pk_fw_config_free(cfg);
            goto out;
        }
    }
    if (!c.log_path && !check && pk_fw_config_logfile(cfg)) {
        c.log_path = pk_fw_config_logfile(cfg);
        c.rinetd_log = pk_fw_config_logcommon(cfg) ? 2 : 1;
    }
    if (open_log(&c) < 0) {
        rc = cli_usage_error("forward", "%s: %s", c.rinetd_log ? "logfile" : "--log",
                             c.log_error);
        pk_fw_config_free(cfg);
        goto out;
    }
    rc = run(&c, cfg, check);
    pk_fw_config_free(cfg);
out:
    if (c.log_fd > STDERR_FILENO)
        close(c.log_fd);
    pk_buf_free(&c.line);
    free(c.allow);
    free(c.deny);
    return rc;
}
