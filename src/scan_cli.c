#include "scan_cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "portkit/frequency.h"
#include "portkit/loop.h"
#include "portkit/permute.h"
#include "portkit/portspec.h"
#include "portkit/registry.h"
#include "portkit/safefile.h"
#include "portkit/target.h"

#define MAX_HOSTS_UNFORCED 65536

void scan_cli_init(struct scan_cli *c, int argc, char **argv)
{
    memset(c, 0, sizeof *c);
    c->argc = argc;
    c->argv = argv;
    pk_scan_config_init(&c->cfg);
    c->progress = true;
}

int scan_cli_add_output(struct scan_cli *c, char kind, const char *path)
{
    if (!kind || !strchr("NJXGLH", kind))
        return cli_usage_error("scan", "-o%c: the outputs are -oN, -oJ, -oX, -oG, -oL, -oH and -oA", kind);
    if (c->nouts >= SCAN_CLI_MAX_OUTPUTS)
        return cli_usage_error("scan", "too many outputs (at most %d)", SCAN_CLI_MAX_OUTPUTS);
    c->outs[c->nouts++] = (struct scan_cli_output){.kind = kind, .path = path, .file = PK_OUTFILE_INIT};
    return 0;
}

int scan_cli_add_owned_output(struct scan_cli *c, char kind, char *path)
{
    int rc = scan_cli_add_output(c, kind, path);
    if (rc) {
        free(path);
        return rc;
    }
    c->outs[c->nouts - 1].owned = path;
    return 0;
}

/* Temporary output names, for a second Ctrl-C that ends the process at
 * once: it removes them so no half-written file is left behind. */
static const char *volatile temp_names[SCAN_CLI_MAX_OUTPUTS];

static int commit_pipe = -1;

void scan_cli_commit_through(int fd)
{
    commit_pipe = fd;
}

void scan_cli_signal_cleanup(void)
{
    for (int i = 0; i < SCAN_CLI_MAX_OUTPUTS; i++)
        if (temp_names[i])
            unlink(temp_names[i]);
}

/* Target lists are text: a limit keeps -iL /dev/zero or a wrong file from
 * taking all memory (64 MiB is about four million addresses). */
#define TARGET_FILE_MAX (64u << 20)

static int add_target_file(struct scan_cli *c, const char *path, bool exclude)
{
    const char *opt = exclude ? "--excludefile" : "-iL";
    size_t len;
    char *text;
    struct pk_err err = {0};
    if (pk_file_read(path, TARGET_FILE_MAX, &text, &len, &err) < 0)
        return cli_usage_error("scan", "%s: %s", opt, err.msg);
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        size_t line = 1;
        for (const char *p = text; p < nul; p++)
            line += *p == '\n';
        free(text);
        return cli_usage_error("scan", "%s: '%s' line %zu holds a NUL byte: not a text file", opt, path,
                               line);
    }
    int rc = pk_targets_add_text(c->targets, text, len, exclude, path, &err);
    free(text);
    return rc < 0 ? cli_lib_error("scan", &err) : 0;
}

static int build_targets(struct scan_cli *c)
{
    struct pk_target_opts o = {.family = c->family};
    c->targets = pk_targets_new(&o);
    if (!c->targets)
        return CLI_FAIL;
    struct pk_err err = {0};
    int rc;
    for (int i = 0; i < c->ntargets_argv; i++) {
        if (pk_targets_add(c->targets, c->targets_argv[i], false, &err) < 0)
            return cli_lib_error("scan", &err);
        struct pk_addr a;
        if (pk_addr_parse(c->targets_argv[i], &a) == 0 && pk_addr_is_local_broadcast(&a))
            return cli_usage_error("scan", "%s is a broadcast address of this host's network: "
                                   "only unicast hosts can be scanned", c->targets_argv[i]);
    }
    if (c->target_file && (rc = add_target_file(c, c->target_file, false)) != 0)
        return rc;
    if (c->ntargets_argv == 0 && !c->target_file)
        return cli_usage_error("scan", "what should be scanned? e.g. portkit scan 192.0.2.7 (see --help)");
    if (c->exclude &&
        pk_targets_add_text(c->targets, c->exclude, strlen(c->exclude), true, "--exclude", &err) < 0)
        return cli_lib_error("scan", &err);
    if (c->exclude_file && (rc = add_target_file(c, c->exclude_file, true)) != 0)
        return rc;
    if (pk_targets_finish(c->targets, c->force ? UINT64_MAX : MAX_HOSTS_UNFORCED, &err) < 0) {
        if (err.code == PK_ENOTFOUND)
            return cli_usage_error("scan", "%s", err.msg);
        return cli_lib_error("scan", &err);
    }
    return 0;
}

static int build_ports(struct scan_cli *c)
{
    c->ports = pk_ports_new();
    if (!c->ports)
        return CLI_FAIL;
    struct pk_err err = {0};
    bool explicit_type = c->want_tcp || c->want_udp;
    unsigned defaults = (c->want_tcp ? PK_PROTO_MASK(PK_TCP) : 0) | (c->want_udp ? PK_PROTO_MASK(PK_UDP) : 0);
    if (!defaults)
        defaults = PK_PROTO_MASK(PK_TCP);
    unsigned protos = defaults;
    if (c->port_spec) {
        if (c->top_ports)
            return cli_usage_error("scan", "give either -p or --top-ports/-F, not both");
        unsigned named = 0;
        if (pk_ports_parse(c->ports, c->port_spec, c->reg, defaults, &named, &err) < 0)
            return cli_usage_error("scan", "-p: %s", err.msg);
        /* A T: or U: section turns its scan on; plain ports follow -sT/-sU. */
        protos = named ? (named | (explicit_type ? defaults : 0)) : defaults;
        if (named && !explicit_type) {
            bool plain_tcp = pk_ports_count(c->ports, PK_TCP) > 0;
            protos = named | (plain_tcp ? PK_PROTO_MASK(PK_TCP) : 0);
        }
    } else {
        unsigned n = c->top_ports ? c->top_ports : 1000;
        for (int t = PK_TCP; t <= PK_UDP; t++) {
            if (!(protos & PK_PROTO_MASK(t)))
                continue;
            if (pk_ports_add_top(c->ports, (enum pk_proto)t, n, PK_NMAP_SERVICES_PATH,
                                 &c->top_source, &err) < 0)
                return cli_lib_error("scan", &err);
        }
    }
    for (int t = PK_TCP; t <= PK_UDP; t++)
        if (pk_ports_has(c->ports, (enum pk_proto)t, 0))
            return cli_usage_error("scan", "port 0 cannot be scanned (no connection or datagram can reach "
                                           "it); ports are 1-65535");
    if (c->exclude_ports) {
        struct pk_ports *ex = pk_ports_new();
        if (!ex)
            return CLI_FAIL;
        int rc = pk_ports_parse(ex, c->exclude_ports, c->reg, PK_PROTO_MASK(PK_TCP) | PK_PROTO_MASK(PK_UDP),
                                NULL, &err);
        if (rc == 0)
            pk_ports_remove(c->ports, ex);
        pk_ports_free(ex);
        if (rc < 0)
            return cli_usage_error("scan", "--exclude-ports: %s", err.msg);
    }
    c->cfg.tcp = (protos & PK_PROTO_MASK(PK_TCP)) && pk_ports_count(c->ports, PK_TCP) > 0;
    c->cfg.udp = (protos & PK_PROTO_MASK(PK_UDP)) && pk_ports_count(c->ports, PK_UDP) > 0;
    if (!c->cfg.tcp && !c->cfg.udp)
        return cli_usage_error("scan", "no ports left to scan");
    return 0;
}

/* With --shard but no --seed every machine must still agree on the order:
 * the seed then comes from the scan itself (its hosts and ports). */
static uint64_t derived_seed(const struct scan_cli *c)
{
    uint64_t h = pk_hash64(pk_targets_count(c->targets));
    uint64_t n = pk_targets_count(c->targets);
    for (uint64_t i = 0; i < n && i < (1u << 20); i++) {
        struct pk_addr a;
        pk_targets_get(c->targets, i, &a);
        uint64_t w[2];
        memcpy(w, a.bytes, sizeof w);
        h = pk_hash64(h ^ w[0]) ^ pk_hash64(w[1] + (uint64_t)a.family);
    }
    for (int t = PK_TCP; t <= PK_UDP; t++) {
        bool on = t == PK_TCP ? c->cfg.tcp : c->cfg.udp;
        for (unsigned p = 0; on && p < 65536; p++)
            if (pk_ports_has(c->ports, (enum pk_proto)t, p))
                h = pk_hash64(h + ((uint64_t)t << 16 | p));
    }
    return h;
}

static long write_file(void *arg, const void *data, size_t len)
{
    FILE *f = arg;
    return cli_write(f, data, len) == 0 ? (long)len : -1;
}

static const struct pk_output_module *module_for(char kind)
{
    switch (kind) {
    case 'J': return &pk_output_json;
    case 'X': return &pk_output_xml;
    case 'G': return &pk_output_grep;
    case 'L': return &pk_output_list;
    case 'H': return &pk_output_html;
    default: return &pk_output_text;
    }
}

/* No output may overwrite an input or another output: checked before any
 * file is touched. */
static int check_output_paths(struct scan_cli *c)
{
    const char *registry = cli_registry_path ? cli_registry_path : getenv("PORTKIT_REGISTRY");
    const char *inputs[][2] = {{"-iL", c->target_file}, {"--excludefile", c->exclude_file},
                               {"--registry", registry}};
    for (int i = 0; i < c->nouts; i++) {
        const char *p = c->outs[i].path;
        if (!p || strcmp(p, "-") == 0)
            continue;
        for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++)
            if (inputs[k][1] && strcmp(inputs[k][1], "-") != 0 &&
                (strcmp(inputs[k][1], p) == 0 || pk_file_same(inputs[k][1], p)))
                return cli_usage_error("scan", "-o%c %s would overwrite the %s input file", c->outs[i].kind,
                                       p, inputs[k][0]);
        struct stat st;
        if (stat(p, &st) == 0 && !S_ISREG(st.st_mode))
            continue; /* /dev/null takes any number of outputs */
        for (int j = 0; j < i; j++)
            if (c->outs[j].path && (strcmp(c->outs[j].path, p) == 0 || pk_file_same(c->outs[j].path, p)))
                return cli_usage_error("scan", "-o%c and -o%c both write %s", c->outs[j].kind, c->outs[i].kind, p);
    }
    return 0;
}

static int open_outputs(struct scan_cli *c)
{
    /* stdout: text, or JSON with --json, unless an -o option already sends
     * something there. */
    bool stdout_taken = false;
    for (int i = 0; i < c->nouts; i++)
        if (!c->outs[i].path || strcmp(c->outs[i].path, "-") == 0)
            stdout_taken = true;
    if (!stdout_taken && scan_cli_add_output(c, c->json ? 'J' : 'N', "-") != 0)
        return CLI_USAGE;
    int rc = check_output_paths(c);
    if (rc)
        return rc;
    struct pk_err err = {0};
    for (int i = 0; i < c->nouts; i++) {
        struct scan_cli_output *o = &c->outs[i];
        o->is_stdout = !o->path || strcmp(o->path, "-") == 0;
        if (o->is_stdout) {
            o->f = stdout;
        } else {
            if (pk_outfile_open(&o->file, o->path, &err) < 0)
                return cli_usage_error("scan", "-o%c: %s", o->kind, err.msg);
            temp_names[i] = o->file.tmp;
            if (!(o->f = fdopen(o->file.fd, "w")))
                return cli_usage_error("scan", "cannot write %s: %s", o->path, strerror(errno));
        }
    }
    return 0;
}

static int start_outputs(struct scan_cli *c)
{
    for (int i = 0; i < c->nouts; i++) {
        struct scan_cli_output *o = &c->outs[i];
        struct pk_output_options opt = {
            .color = o->is_stdout && cli_use_color(stdout),
            .all_states = c->all_states,
            .open_only = c->open_only,
            .reason = c->reason,
            .reg = c->reg,
        };
        struct pk_err err = {0};
        if (pk_output_new(module_for(o->kind), &opt, write_file, o->f, &o->out, &err) < 0)
            return cli_lib_error("scan", &err);
    }
    return 0;
}

/* Closes one file output: renamed into place when keep, else removed. */
static int close_output(struct scan_cli_output *o, int index, bool keep)
{
    if (o->is_stdout || !o->f)
        return 0;
    int rc = 0;
    bool ok = fclose(o->f) == 0;
    o->f = NULL;
    o->file.fd = -1; /* fclose closed it */
    temp_names[index] = NULL;
    struct pk_err err = {0};
    if (commit_pipe >= 0) {
        /* Privileges were dropped: the process that kept them puts the
         * file in place (scan_cli_net.c). Tell it whether to. */
        unsigned char msg[2] = {(unsigned char)index, ok && keep};
        if (write(commit_pipe, msg, 2) != 2)
            rc = CLI_FAIL;
        free(o->file.tmp);
        free(o->file.path);
        o->file.tmp = o->file.path = NULL;
        if (!ok)
            cli_message("scan", "writing %s failed: %s", o->path, strerror(errno));
        return ok ? rc : CLI_FAIL;
    }
    if (!ok) {
        cli_message("scan", "writing %s failed: %s", o->path, strerror(errno));
        pk_outfile_abort(&o->file);
        rc = CLI_FAIL;
    } else if (!keep) {
        pk_outfile_abort(&o->file);
    } else if (pk_outfile_commit(&o->file, &err) < 0) {
        cli_lib_error("scan", &err);
        rc = CLI_FAIL;
    }
    return rc;
}

static void on_tick(void *arg);
static void on_result(void *arg, const struct pk_scan_result *r);
static void on_host(void *arg, const struct pk_host_report *rep);

int scan_cli_prepare(struct scan_cli *c)
{
    int rc;
    c->reg = cli_registry("scan");
    if (!c->reg)
        return CLI_USAGE;
    /* outputs first: a bad path fails before minutes of name resolution,
     * and nothing existing is touched until the end */
    if ((rc = open_outputs(c)) != 0)
        return rc;
    if ((rc = build_targets(c)) != 0 || (rc = build_ports(c)) != 0)
        return rc;
    c->cfg.targets = c->targets;
    c->cfg.ports = c->ports;
    c->cfg.reg = c->reg;
    if (c->cfg.service_detect && !c->cfg.tcp)
        c->cfg.service_detect = false; /* -sV identifies TCP services */
    if (!c->seed_given) {
        if (c->cfg.shard.count > 1)
            c->cfg.seed = derived_seed(c);
        else if (getrandom(&c->cfg.seed, sizeof c->cfg.seed, 0) != sizeof c->cfg.seed)
            c->cfg.seed = pk_hash64((uint64_t)getpid() ^ pk_monotonic_us());
    }
    c->stdout_tty = isatty(STDOUT_FILENO);
    c->cfg.on_result = on_result;
    /* Hosts stream to the outputs as they finish and are freed, except
     * with --save: the run is written in one transaction at the end, so
     * the database's write lock is held for a moment, never while probes
     * wait (another writer would stall the scan), and hosts are kept. */
    if (!c->save_wanted)
        c->cfg.on_host = on_host;
    c->cfg.on_tick = on_tick;
    c->cfg.arg = c;
    for (int i = 0; i < c->argc; i++)
        pk_buf_printf(&c->command, "%s%s", i ? " " : "portkit ", c->argv[i]);
    return start_outputs(c);
}

/* ---- progress ---- */

static void bar_clear(struct scan_cli *c)
{
    if (c->bar_shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        c->bar_shown = false;
    }
}

static void human_count(double v, char *buf, size_t len)
{
    if (v >= 1e6)
        snprintf(buf, len, "%.1fM", v / 1e6);
    else if (v >= 1e4)
        snprintf(buf, len, "%.0fk", v / 1e3);
    else
        snprintf(buf, len, "%.0f", v);
}

static void on_tick(void *arg)
{
    struct scan_cli *c = arg;
    for (int i = 0; i < c->nouts; i++)
        pk_output_flush(c->outs[i].out);
    if (c->stdout_tty)
        fflush(stdout);
    if (ferror(stdout) && c->scan)
        pk_scan_stop(c->scan); /* nobody reads the results any more (a closed pipe) */
    if (!c->progress || !isatty(STDERR_FILENO) || !c->scan)
        return;
    struct pk_scan_stats st;
    pk_scan_get_stats(c->scan, &st);
    double secs = st.elapsed_us / 1e6;
    if (secs < 0.3)
        return; /* short scans need no bar */
    double frac = st.total ? (double)st.done / (double)st.total : 1;
    double rate = secs > 0 ? (double)(st.probes + st.ping_probes) / secs : 0;
    double eta = frac > 0.001 ? secs / frac - secs : 0;
    char done[16], total[16], rs[16];
    human_count((double)st.done, done, sizeof done);
    human_count((double)st.total, total, sizeof total);
    human_count(rate, rs, sizeof rs);
    int width = 24, fill = (int)(frac * width);
    char bar[32];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    char limit[24] = "";
    if (c->cfg.rate > 0) /* the rate in force beside the rate achieved */
        snprintf(limit, sizeof limit, " (max %.0f)", c->cfg.rate);
    char hosts[64] = "";
    if (st.hosts_pinged)
        snprintf(hosts, sizeof hosts, "hosts %llu up/%llu  ", (unsigned long long)st.hosts_up,
                 (unsigned long long)st.hosts);
    fprintf(stderr, "\r\033[K%3.0f%% [%s] %s%s/%s ports  %s probes/s%s  %u in flight  ETA %d:%02d  %llu open",
            frac * 100, bar, hosts, done, total, rs, limit, st.inflight, (int)eta / 60, (int)eta % 60,
            (unsigned long long)st.states[PK_STATE_OPEN]);
    fflush(stderr);
    c->bar_shown = true;
}

static void on_result(void *arg, const struct pk_scan_result *r)
{
    struct scan_cli *c = arg;
    for (int i = 0; i < c->nouts; i++)
        pk_output_result(c->outs[i].out, r);
    /* A terminal shows JSON lines as they come; the bar is drawn again on
     * the next tick. */
    if (c->stdout_tty && c->json && pk_output_wanted(c->outs[0].out, r->state)) {
        bar_clear(c);
        for (int i = 0; i < c->nouts; i++)
            if (c->outs[i].is_stdout)
                pk_output_flush(c->outs[i].out);
        fflush(stdout);
    }
}

/* A finished host, in target order: during the scan (the library frees it
 * next), or from scan_cli_finish with --save. */
static void on_host(void *arg, const struct pk_host_report *rep)
{
    struct scan_cli *c = arg;
    for (int i = 0; i < c->nouts; i++)
        pk_output_host(c->outs[i].out, rep);
    if (c->save_rc == 0)
        c->save_rc = scan_save_host(c, rep);
    if (!c->stdout_tty)
        return;
    for (int i = 0; i < c->nouts; i++)
        if (c->outs[i].is_stdout && pk_output_buf(c->outs[i].out)->len) {
            bar_clear(c);
            pk_output_flush(c->outs[i].out);
            fflush(stdout);
        }
}

void scan_cli_begin(struct scan_cli *c)
{
    c->info = (struct pk_scan_info){
        .command = c->command.data,
        .version = PK_VERSION,
        .tcp = c->cfg.tcp,
        .udp = c->cfg.udp,
        .service_detect = c->cfg.service_detect,
        .ports = c->ports,
        .hosts = pk_targets_count(c->targets),
    };
    struct pk_scan_stats st;
    pk_scan_get_stats(c->scan, &st);
    c->info.start_wall_us = (uint64_t)time(NULL) * 1000000u;
    for (int i = 0; i < c->nouts; i++)
        pk_output_begin(c->outs[i].out, &c->info);
    if (c->verbose)
        fprintf(stderr, "portkit: scan: %llu hosts x %zu tcp + %zu udp ports = %llu probes%s; seed %llu; "
                        "shard %llu/%llu; up to %u in flight; top ports from %s\n",
                (unsigned long long)st.hosts, c->cfg.tcp ? pk_ports_count(c->ports, PK_TCP) : 0,
                c->cfg.udp ? pk_ports_count(c->ports, PK_UDP) : 0, (unsigned long long)st.total,
                c->cfg.shard.count > 1 ? " in this shard" : "", (unsigned long long)c->cfg.seed,
                (unsigned long long)c->cfg.shard.index, (unsigned long long)c->cfg.shard.count,
                st.max_inflight, c->top_source ? c->top_source : "-p");
}

int scan_cli_finish(struct scan_cli *c)
{
    bar_clear(c);
    struct pk_scan_stats st;
    pk_scan_get_stats(c->scan, &st);
    c->info.start_wall_us = st.start_wall_us;
    if (!c->cfg.on_host) /* --save: every host was kept until now */
        c->save_rc = scan_save_begin(c, &st);
    for (uint64_t h = 0; !c->cfg.on_host && h < st.hosts; h++) {
        struct pk_host_report rep;
        struct pk_err err = {0};
        if (pk_scan_host_report(c->scan, h, &rep, &err) < 0) {
            c->failed = true;
            return cli_lib_error("scan", &err);
        }
        on_host(c, &rep);
        pk_host_report_free(&rep);
    }
    int save_rc = c->save_rc == 0 ? scan_save_commit(c) : c->save_rc;
    bool found = st.states[PK_STATE_OPEN] || (c->cfg.ping_only && st.hosts_up); /* -sn: hosts up */
    int rc = st.interrupted ? 130 : found ? CLI_OK : CLI_NOTFOUND;

    for (int i = 0; i < c->nouts; i++) {
        struct pk_err err = {0};
        bool ok = pk_output_end(c->outs[i].out, &st, &err) == 0 && fflush(c->outs[i].f) == 0;
        if (!ok) {
            int e = cli_write_errno ? cli_write_errno : errno;
            cli_message("scan", "writing %s failed: %s",
                        c->outs[i].is_stdout ? "standard output" : c->outs[i].path, strerror(e));
            if (c->outs[i].is_stdout)
                clearerr(stdout); /* said once: main need not say it again */
            rc = CLI_FAIL;
        }
        if (close_output(&c->outs[i], i, ok && !c->failed) != 0)
            rc = CLI_FAIL;
    }
    if (save_rc != 0 && rc != 130)
        rc = save_rc;
    if (c->verbose || (c->json && isatty(STDERR_FILENO)))
        fprintf(stderr, "portkit: scan: %llu of %llu ports decided in %.2f s, %llu probes, %llu open, "
                        "%llu self-connects%s\n",
                (unsigned long long)st.done, (unsigned long long)st.total, st.elapsed_us / 1e6,
                (unsigned long long)st.probes, (unsigned long long)st.states[PK_STATE_OPEN],
                (unsigned long long)st.self_connects, st.interrupted ? " (stopped)" : "");
    if (c->verbose && st.last_send_us > 0) {
        uint64_t sent = st.probes + st.ping_probes;
        fprintf(stderr, "portkit: scan: sent %llu probes (%llu pings) in %.3f s: %.0f probes/s%s\n",
                (unsigned long long)sent, (unsigned long long)st.ping_probes, st.last_send_us / 1e6,
                sent > 1 ? (double)(sent - 1) * 1e6 / (double)st.last_send_us : 0.0,
                c->cfg.rate > 0 ? " (--rate in force)" : "");
    }
    return rc;
}

void scan_cli_free(struct scan_cli *c)
{
    scan_save_free(c);
    for (int i = 0; i < c->nouts; i++) {
        pk_output_free(c->outs[i].out);
        close_output(&c->outs[i], i, false); /* never finished: the old file stays */
        pk_outfile_abort(&c->outs[i].file);
        c->outs[i].out = NULL;
        free(c->outs[i].owned);
        c->outs[i].owned = NULL;
    }
    pk_scan_free(c->scan);
    c->scan = NULL;
    pk_ports_free(c->ports);
    c->ports = NULL;
    pk_targets_free(c->targets);
    c->targets = NULL;
    pk_buf_free(&c->command);
}

int scan_cli_fail(struct scan_cli *c, int rc)
{
    scan_cli_free(c);
    return rc;
}
