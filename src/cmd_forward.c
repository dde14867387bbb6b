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
#include "portkit/buf.h"
#include "portkit/forward.h"
#include "portkit/json.h"
#include "portkit/loop.h"

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
            "                             SIGHUP reloads it\n"
            "  -a, --allow LIST           admit only these addresses/CIDRs (repeatable)\n"
            "  -d, --deny LIST            turn these addresses/CIDRs away (repeatable)\n"
            "      --connect-timeout DUR  give up on the target after DUR (default 10s)\n"
            "      --idle-timeout DUR     end a connection quiet for DUR (default: TCP never,\n"
            "                             UDP sessions 60s); 0 = never\n"
            "      --max-conns N          connections (UDP: sessions) at once per rule\n"
            "      --copy MODE            auto (read/write for small messages, splice for\n"
            "                             bulk), splice, read\n"
            "      --drain DUR            on SIGTERM/SIGINT, let connections finish for DUR\n"
            "                             (default 10s); a second signal ends them now\n"
            "      --log FILE             append log lines to FILE (default stderr)\n"
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
    bool json, quiet, stopping;
    uint64_t drain_ms;
    int sigfd;
    struct pk_buf line;
};

/* ---- log lines ---- */

static uint64_t now_unix_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void emit(struct fwd_cli *c)
{
    pk_buf_putc(&c->line, '\n');
    /* One write per line: lines from a busy forwarder never interleave,
     * and O_APPEND keeps them whole beside other writers. */
    ssize_t off = 0;
    while ((size_t)off < c->line.len) {
        ssize_t w = write(c->log_fd, c->line.data + off, c->line.len - (size_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += w;
    }
    pk_buf_reset(&c->line);
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
    emit(c);
}

static void on_event(void *arg, const struct pk_fw_event *ev)
{
    struct fwd_cli *c = arg;
    if (c->quiet && ev->kind == PK_FW_EV_END)
        return;
    pk_fw_event_format(ev, now_unix_us(), c->json, &c->line);
    emit(c);
}

static int open_log(struct fwd_cli *c)
{
    if (!c->log_path) {
        c->log_fd = STDERR_FILENO;
        return 0;
    }
    int fd = open(c->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
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
    if (pk_fw_config_count(cfg) == 0) {
        pk_err_set(err, PK_EINVAL, "%s: no forwarding rules", c->config_path);
        pk_fw_config_free(cfg);
        return NULL;
    }
    return cfg;
}

static const char *duration(uint64_t ms, char *buf, size_t size)
{
    if (ms % 1000 == 0)
        snprintf(buf, size, "%llus", (unsigned long long)(ms / 1000));
    else
        snprintf(buf, size, "%llums", (unsigned long long)ms);
    return buf;
}

static void print_acl(const struct pk_acl *acl, const char *allow_fmt, const char *deny_fmt)
{
    for (int allow = 1; allow >= 0; allow--) {
        for (size_t i = 0; i < pk_acl_count(acl, allow); i++) {
            char cidr[64];
            pk_cidr_format(pk_acl_get(acl, allow, i), cidr, sizeof cidr);
            printf(allow ? allow_fmt : deny_fmt, cidr);
        }
    }
}

/* --check: the rules as a config file that parses back to the same. */
static void print_rules(const struct pk_fw_config *cfg)
{
    print_acl(pk_fw_config_acl_const(cfg), "allow %s\n", "deny %s\n");
    for (size_t i = 0; i < pk_fw_config_count(cfg); i++) {
        const struct pk_fw_rule *r = pk_fw_config_rule(cfg, i);
        char l[PK_FW_ADDRSTRLEN], t[PK_FW_ADDRSTRLEN], ct[32], it[32];
        pk_fw_addr_format(&r->listen, l, sizeof l);
        pk_fw_addr_format(&r->target, t, sizeof t);
        static const char *const copy[] = {"auto", "splice", "read"};
        printf("%-22s %-22s %s connect-timeout=%s idle-timeout=%s max-conns=%u copy=%s", l, t,
               pk_proto_name(r->proto), duration(r->connect_timeout_ms, ct, sizeof ct),
               duration(r->idle_timeout_ms, it, sizeof it), r->max_conns, copy[r->copy]);
        print_acl(r->acl, " allow=%s", " deny=%s");
        putchar('\n');
    }
}

/* ---- the kernel's share ---- */

/* Gives the kernel its rules (replacing its table in one transaction) and
 * the relay the rest. */
static int apply_both(struct fwd_cli *c, const struct pk_fw_config *cfg, struct pk_err *err)
{
    struct pk_fw_config *kcfg = NULL, *rcfg = NULL;
    int rc = pk_fw_kernel_partition(cfg, &c->defaults, &kcfg, &rcfg, on_event, c, err);
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

/* --check: the relay's rules as a config file, the kernel's as the exact
 * nft script it would load (table named for this process). */
static int check_rules(struct fwd_cli *c, const struct pk_fw_config *cfg)
{
    struct pk_fw_config *kcfg = NULL, *rcfg = NULL;
    struct pk_err err = {0};
    if (pk_fw_kernel_partition(cfg, &c->defaults, &kcfg, &rcfg, on_event, c, &err) < 0)
        return cli_lib_error("forward", &err);
    if (pk_fw_config_count(rcfg) || !pk_fw_config_count(kcfg))
        print_rules(rcfg);
    int rc = CLI_OK;
    if (pk_fw_config_count(kcfg)) {
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

/* ---- signals ---- */

static void reload(struct fwd_cli *c)
{
    if (c->log_path && open_log(c) < 0)
        note(c, "warn", "cannot reopen %s: %s; logging on to the old file", c->log_path,
             strerror(errno));
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
            char *end;
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (!*optarg || *end || errno || v > 1000000000ul || optarg[0] == '-')
                rc = cli_usage_error("forward", "--max-conns: expected a number, got '%s'", optarg);
            c.defaults.max_conns = (unsigned)v;
            break;
        }
        case OPT_COPY:
            if (strcmp(optarg, "auto") == 0)
                c.defaults.copy = PK_FW_COPY_AUTO;
            else if (strcmp(optarg, "splice") == 0)
                c.defaults.copy = PK_FW_COPY_SPLICE;
            else if (strcmp(optarg, "read") == 0)
                c.defaults.copy = PK_FW_COPY_READ;
            else
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
    if (open_log(&c) < 0) {
        rc = cli_usage_error("forward", "--log %s: %s", c.log_path, strerror(errno));
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
