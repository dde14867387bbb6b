/* portkit scan: which ports are open on hosts and networks, and what
 * answers there. Option names follow nmap's where nmap has one. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "cli.h"
#include "portkit/buf.h"
#include "portkit/output.h"
#include "portkit/permute.h"
#include "portkit/portspec.h"
#include "portkit/registry.h"
#include "portkit/scan.h"
#include "portkit/target.h"
#include "scan_cli.h"

void usage_scan(FILE *out)
{
    fprintf(out,
            "Usage: portkit scan [OPTIONS] TARGET...\n"
            "Find open ports on hosts and networks, and what answers there: the 1000 most\n"
            "often open TCP ports by default, with a SYN scan as root (raw packets) or a\n"
            "connect scan without privilege; several addresses are first pinged.\n"
            "States and reasons are nmap's: open, closed, filtered, open|filtered.\n\n"
            "Targets: 192.0.2.7  192.0.2.0/24  192.0.2.1-20  10.0.0-3.*  192.0.2.1-192.0.2.9\n"
            "         fd00::1  fd00::/120  [fe80::1%%eth0]  host.example (all its addresses)\n"
            "  -iL FILE              read targets from FILE (- for stdin)\n"
            "  --exclude LIST        skip these targets (comma-separated)\n"
            "  --excludefile FILE    skip the targets in FILE\n"
            "  -4, -6                only the IPv4 / IPv6 addresses of host names\n"
            "  --force               allow more than 65536 hosts\n\n"
            "Ports (nmap syntax):\n"
            "  -p SPEC               22,80,8000-8100  -p-  (1-65535)  http,https  http*\n"
            "                        T:22,U:53,161 (a prefix holds until the next)\n"
            "  --top-ports N         the N most often open ports (nmap-services if\n"
            "                        installed, else portkit's list); default 1000\n"
            "  -F                    the top 100\n"
            "  --exclude-ports SPEC  never scan these\n\n"
            "Host discovery (on by default for more than one address):\n"
            "  -Pn                   no discovery: scan every address as if up\n"
            "  -sn                   discovery only: which hosts are up, no port scan\n"
            "  -PS[ports] -PA[ports] TCP SYN / ACK pings (default 443 / 80)\n"
            "  -PE, -PP, -PU[ports]  ICMP echo, ICMP timestamp, UDP pings\n"
            "  -PR                   ARP / Neighbor Discovery on attached networks\n"
            "                        (default as root: -PE -PS443 -PA80 -PP -PR; without\n"
            "                        root: TCP connects to 80 and 443)\n\n"
            "Scan:\n"
            "  -sS                   SYN scan: raw packets, no connection made (the default\n"
            "                        as root or with CAP_NET_RAW; privileges are dropped\n"
            "                        to nobody once the raw sockets are open)\n"
            "  -sT                   TCP connect scan (the default without privilege);\n"
            "                        -sT -sU scans both\n"
            "  -sU                   UDP scan (paced to the host's ICMP rate limit)\n"
            "  -sV, --banners        identify services: read greetings, send HTTP/TLS probes\n"
            "  --max-rate N, --rate N  at most N probes per second\n"
            "  --min-rate N          accepted for nmap habits: portkit never slows below its\n"
            "                        rate; refused when above --max-rate\n"
            "  --max-inflight N      at most N probes in flight (default: open-file limit)\n"
            "  --max-host-inflight N at most N per host (default: a fair share)\n"
            "  --max-retries N       retry a silent port at most N times (default 10; fewer\n"
            "                        when the link loses nothing)\n"
            "  --min-rtt-timeout T, --max-rtt-timeout T   bounds of the adaptive timeout\n"
            "                        (default 50ms and 1s)\n"
            "  --initial-rtt-timeout T  wait for a host that answered nothing (default 1s)\n"
            "  --service-timeout T   the most -sV spends on one port (default 5s)\n"
            "  --host-timeout T      give up a host not finished T after its first probe:\n"
            "                        its ports are not reported (0: no limit, the default)\n"
            "  --scan-delay T        one probe at a time, T apart\n"
            "  -T0, -T1, -T2         nmap's slow templates: --scan-delay 5m, 15s, 400ms\n"
            "  -T3, -T4, -T5         accepted; portkit's timing adapts by itself\n"
            "  --seed N              the order of probes (random by default)\n"
            "  --shard I/N           scan the I-th of N slices: N machines with the same\n"
            "                        command and seed split one scan between them\n"
            "  --unprivileged        act as without root: connect scan and discovery\n"
            "  --privileged          assume raw sockets work (CAP_NET_RAW)\n"
            "Times T: a number with ms, s, m or h (500ms, 2s, 10m); a bare number is seconds.\n\n"
            "Output:\n"
            "  --json                JSON Lines on stdout, one port per line\n"
            "  -oJ FILE              JSON Lines to FILE      -oX FILE   nmap XML\n"
            "  -oG FILE              nmap's grepable format  -oL FILE   a plain list\n"
            "  -oN FILE              the text output         (FILE - is stdout)\n"
            "  -oA BASE              BASE.nmap, BASE.xml and BASE.gnmap\n"
            "  -oH FILE              a self-contained HTML report (as portkit report)\n"
            "  --all-states          every port, not only open (and open|filtered) ones\n"
            "  --open                only (possibly) open ports, only hosts that have one\n"
            "  --reason              a REASON column: why each port got its state\n"
            "  --no-progress         no progress bar (shown on a terminal's stderr)\n"
            "  -v                    say more on stderr (seed, limits, timing)\n"
            "  --save                store the run in the history database (portkit history)\n"
            "  --label NAME          name the saved run (implies --save)\n"
            "  --db PATH             the history database (also PORTKIT_DB)\n"
            "  -n                    accepted for nmap habits: portkit never resolves\n"
            "                        addresses back to names\n"

            "Files are written beside their final name and renamed into place at the end,\n"
            "so an existing file is replaced only by a complete one. An output that is also\n"
            "an input, or a symlink another user planted in a shared /tmp, is refused.\n"
            "-iL and --excludefile read at most 64 MiB.\n"
            "Not supported: -A, -O, --script, -sC (use -sV), -d/--packet-trace (use -v,\n"
            "--reason).\n\n"
            "Examples:\n"
            "  portkit scan 192.0.2.7                  the top 1000 TCP ports\n"
            "  portkit scan -p- --json 192.0.2.7       every TCP port, JSON Lines\n"
            "  portkit scan -sU -p 53,123,161 192.0.2.0/28\n"
            "  portkit scan -sV -p 22,80,443 -oX out.xml host.example\n\n"
            "Ctrl-C stops the scan, prints what was found and completes every output file.\n"
            "Exit status: 0 open ports found, 1 none found, 2 bad input, 3 system failure,\n"
            "130 stopped by Ctrl-C.\n");
}

static struct pk_scan *running; /* for the signal handler */

static volatile sig_atomic_t signalled;

static void on_signal(int sig)
{
    if (signalled++ || !running) {
        /* a second Ctrl-C (or one before the scan runs) ends at once,
         * leaving no temporary file */
        scan_cli_signal_cleanup();
        _exit(128 + sig);
    }
    if (running)
        pk_scan_stop(running);
}

/* nmap's timing templates T0-T2 are slow on purpose: one probe at a time,
 * this long apart. T3-T5 leave portkit's adaptive timing alone. */
static const uint64_t template_delay_ms[3] = {300000, 15000, 400};

/* Options nmap users bring that portkit answers differently: one line each
 * saying what to use instead. */
static int refuse_nmap_option(const char *opt)
{
    if (strcmp(opt, "-d") == 0 || strcmp(opt, "--packet-trace") == 0)
        return cli_usage_error("scan", "%s: portkit has no packet trace; -v shows counts and timing, "
                                       "--reason why each port got its state", opt);
    return cli_usage_error("scan", "%s: portkit does no OS detection or scripts; -sV identifies the "
                                   "services that answer", opt);
}

static int set_duration(const char *opt, const char *v, unsigned *out)
{
    uint64_t ms;
    if (cli_parse_duration("scan", opt, v, 3600000, &ms))
        return CLI_USAGE;
    *out = (unsigned)ms;
    return 0;
}

static int set_count(const char *opt, const char *v, unsigned long long min, unsigned long long max,
                     unsigned *out)
{
    unsigned long long n;
    if (cli_parse_uint("scan", opt, v, min, max, &n))
        return CLI_USAGE;
    *out = (unsigned)n;
    return 0;
}

static int set_rate(const char *opt, const char *v, double *out)
{
    char *end;
    double r = strtod(v, &end);
    if (end == v || *end || !(r > 0) || r > 1e8 || v[0] == '-' || v[0] == ' ')
        return cli_usage_error("scan", "%s: '%s' is not a positive number of probes per second", opt, v);
    *out = r;
    return 0;
}

/* -sS, -sT, -sU, -sV and -sn (any mix, as nmap takes -sSU). */
static int set_scan_types(struct scan_cli *c, const char *types)
{
    if (!*types)
        return cli_usage_error("scan", "-s needs a scan type: -sS, -sT, -sU, -sV, -sn");
    for (const char *t = types; *t; t++) {
        if (*t == 'T' || *t == 'S') {
            c->want_tcp = true;
            *(*t == 'S' ? &c->net.want_syn : &c->net.want_connect) = true;
        } else if (*t == 'n')
            c->net.ping_only = true;
        else if (*t == 'U')
            c->want_udp = true;
        else if (*t == 'V')
            c->cfg.service_detect = true;
        else if (*t == 'C')
            return refuse_nmap_option("-sC");
        else
            return cli_usage_error("scan", "-s%s: the scan types are -sS, -sT, -sU, -sV and -sn", types);
    }
    return 0;
}

/* -oN/-oX/-oG/-oJ/-oL FILE, and -oA BASE for the three nmap formats. */
static int set_output(struct scan_cli *c, const char *optarg_, int argc, char **argv)
{
    /* "-o FILE" (the letter missing) must not read the file name's first
     * letter as a format */
    if (optind > 1 && argv[optind - 1] == optarg_)
        return cli_usage_error("scan", "-o needs a format letter: -oN, -oX, -oG, -oJ, -oL, -oH or -oA, "
                                       "then the file name");
    char kind = optarg_[0];
    const char *file = optarg_[1] ? optarg_ + 1 : (optind < argc ? argv[optind++] : NULL);
    if (!file || !*file)
        return cli_usage_error("scan", "-o%c needs a file name", kind);
    if (kind != 'A')
        return scan_cli_add_output(c, kind, file);
    static const struct { char kind; const char *ext; } all[] = {{'N', "nmap"}, {'X', "xml"}, {'G', "gnmap"}};
    for (size_t i = 0; i < 3; i++) {
        char *path = NULL;
        if (asprintf(&path, "%s.%s", file, all[i].ext) < 0)
            return CLI_FAIL;
        int rc = scan_cli_add_owned_output(c, all[i].kind, path);
        if (rc)
            return rc;
    }
    return 0;
}

enum {
    OPT_EXCLUDE = 256, OPT_EXCLUDEFILE, OPT_FORCE, OPT_TOP, OPT_EXPORTS, OPT_RATE, OPT_MINRATE,
    OPT_INFLIGHT, OPT_HOSTINFLIGHT, OPT_RETRIES, OPT_MINRTT, OPT_MAXRTT, OPT_INITRTT, OPT_SVCTIMEOUT,
    OPT_SEED, OPT_SHARD, OPT_JSON, OPT_ALL, OPT_NOPROGRESS, OPT_BANNERS, OPT_OPEN, OPT_REGISTRY,
    OPT_REASON, OPT_HOSTTIMEOUT, OPT_SCANDELAY, OPT_PACKETTRACE, OPT_SCRIPT, OPT_SAVE, OPT_LABEL, OPT_DB,
    OPT_UNPRIVILEGED, OPT_PRIVILEGED,
};

static const struct option scan_opts[] = {
    {"exclude", required_argument, NULL, OPT_EXCLUDE},
    {"excludefile", required_argument, NULL, OPT_EXCLUDEFILE},
    {"force", no_argument, NULL, OPT_FORCE},
    {"top-ports", required_argument, NULL, OPT_TOP},
    {"exclude-ports", required_argument, NULL, OPT_EXPORTS},
    {"rate", required_argument, NULL, OPT_RATE},
    {"max-rate", required_argument, NULL, OPT_RATE},
    {"min-rate", required_argument, NULL, OPT_MINRATE},
    {"max-inflight", required_argument, NULL, OPT_INFLIGHT},
    {"max-host-inflight", required_argument, NULL, OPT_HOSTINFLIGHT},
    {"max-retries", required_argument, NULL, OPT_RETRIES},
    {"min-rtt-timeout", required_argument, NULL, OPT_MINRTT},
    {"max-rtt-timeout", required_argument, NULL, OPT_MAXRTT},
    {"initial-rtt-timeout", required_argument, NULL, OPT_INITRTT},
    {"service-timeout", required_argument, NULL, OPT_SVCTIMEOUT},
    {"host-timeout", required_argument, NULL, OPT_HOSTTIMEOUT},
    {"scan-delay", required_argument, NULL, OPT_SCANDELAY},
    {"seed", required_argument, NULL, OPT_SEED},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"json", no_argument, NULL, OPT_JSON},
    {"all-states", no_argument, NULL, OPT_ALL},
    {"no-progress", no_argument, NULL, OPT_NOPROGRESS},
    {"banners", no_argument, NULL, OPT_BANNERS},
    {"open", no_argument, NULL, OPT_OPEN},
    {"reason", no_argument, NULL, OPT_REASON},
    {"packet-trace", no_argument, NULL, OPT_PACKETTRACE},
    {"script", optional_argument, NULL, OPT_SCRIPT},
    {"registry", required_argument, NULL, OPT_REGISTRY},
    {"save", no_argument, NULL, OPT_SAVE},
    {"label", required_argument, NULL, OPT_LABEL},
    {"db", required_argument, NULL, OPT_DB},
    {"unprivileged", no_argument, NULL, OPT_UNPRIVILEGED},
    {"privileged", no_argument, NULL, OPT_PRIVILEGED},
    {"help", no_argument, NULL, 'h'},
    {0, 0, 0, 0},
};

/* One option; 0 or the exit code after reporting it. */
static int scan_option(struct scan_cli *c, int opt, int argc, char **argv)
{
    unsigned long long v;
    uint64_t ms;
    switch (opt) {
    case 'p': c->port_spec = optarg; return 0;
    case 's': return set_scan_types(c, optarg);
    case 'o': return set_output(c, optarg, argc, argv);
    case 'i':
        if (optarg[0] != 'L')
            return cli_usage_error("scan", "unknown option -i%s (did you mean -iL FILE?)", optarg);
        c->target_file = optarg[1] ? optarg + 1 : (optind < argc ? argv[optind++] : NULL);
        if (!c->target_file || !*c->target_file)
            return cli_usage_error("scan", "-iL needs a file name");
        return 0;
    case 'P': return scan_cli_ping_option(c, optarg);
    case 'T':
        if (strlen(optarg) != 1 || optarg[0] < '0' || optarg[0] > '5')
            return cli_usage_error("scan", "-T%s: timing templates are -T0 to -T5", optarg);
        if (optarg[0] < '3')
            c->scan_delay_ms = template_delay_ms[optarg[0] - '0'];
        return 0;
    case 'A': return refuse_nmap_option("-A");
    case 'O': return refuse_nmap_option("-O");
    case 'd': return refuse_nmap_option("-d");
    case OPT_PACKETTRACE: return refuse_nmap_option("--packet-trace");
    case OPT_SCRIPT: return refuse_nmap_option("--script");
    case 'n': return 0;
    case 'v': c->verbose++; return 0;
    case 'F': c->top_ports = 100; return 0;
    case '4': c->family = AF_INET; return 0;
    case '6': c->family = AF_INET6; return 0;
    case OPT_EXCLUDE:
        if (strspn(optarg, " \t,") == strlen(optarg))
            return cli_usage_error("scan", "--exclude needs at least one target");
        c->exclude = optarg;
        return 0;
    case OPT_EXCLUDEFILE: c->exclude_file = optarg; return 0;
    case OPT_FORCE: c->force = true; return 0;
    case OPT_TOP: return set_count("--top-ports", optarg, 1, 65535, &c->top_ports);
    case OPT_EXPORTS: c->exclude_ports = optarg; return 0;
    case OPT_RATE: {
        /* name the option as typed: --rate V, --rate=V, or --max-rate */
        const char *typed = optarg == argv[optind - 1] && optind >= 2 ? argv[optind - 2] : argv[optind - 1];
        return set_rate(strncmp(typed, "--rate", 6) == 0 ? "--rate" : "--max-rate", optarg, &c->cfg.rate);
    }
    case OPT_MINRATE: return set_rate("--min-rate", optarg, &c->min_rate);
    case OPT_INFLIGHT: return set_count("--max-inflight", optarg, 1, 1u << 20, &c->cfg.max_inflight);
    case OPT_HOSTINFLIGHT:
        return set_count("--max-host-inflight", optarg, 1, 1u << 20, &c->cfg.max_host_inflight);
    case OPT_RETRIES: return set_count("--max-retries", optarg, 0, 50, &c->cfg.max_retries);
    case OPT_MINRTT:
        c->min_rtt_given = true;
        return set_duration("--min-rtt-timeout", optarg, &c->cfg.min_rtt_timeout_ms);
    case OPT_MAXRTT:
        c->max_rtt_given = true;
        return set_duration("--max-rtt-timeout", optarg, &c->cfg.max_rtt_timeout_ms);
    case OPT_INITRTT: return set_duration("--initial-rtt-timeout", optarg, &c->cfg.initial_rtt_timeout_ms);
    case OPT_SVCTIMEOUT: return set_duration("--service-timeout", optarg, &c->cfg.service_timeout_ms);
    case OPT_HOSTTIMEOUT:
        /* 1000 h fits the library's unsigned milliseconds; 0 is nmap's "no limit" */
        if (cli_parse_duration("scan", "--host-timeout", optarg, 1000u * 3600000u, &ms))
            return CLI_USAGE;
        c->cfg.host_timeout_ms = (unsigned)ms;
        return 0;
    case OPT_SCANDELAY:
        if (cli_parse_duration("scan", "--scan-delay", optarg, 3600000, &ms))
            return CLI_USAGE;
        if (ms == 0)
            return cli_usage_error("scan", "--scan-delay must be more than 0");
        c->scan_delay_ms = ms;
        return 0;
    case OPT_SEED:
        if (cli_parse_uint("scan", "--seed", optarg, 0, UINT64_MAX, &v))
            return CLI_USAGE;
        c->cfg.seed = v;
        c->seed_given = true;
        return 0;
    case OPT_SHARD: {
        struct pk_err err = {0};
        if (pk_shard_parse(optarg, &c->cfg.shard, &err) < 0)
            return cli_usage_error("scan", "--shard: %s", err.msg);
        return 0;
    }
    case OPT_JSON: c->json = true; return 0;
    case OPT_ALL: c->all_states = true; return 0;
    case OPT_NOPROGRESS: c->progress = false; return 0;
    case OPT_BANNERS: c->cfg.service_detect = true; return 0;
    case OPT_OPEN: c->open_only = true; return 0;
    case OPT_REASON: c->reason = true; return 0;
    case OPT_REGISTRY: cli_registry_path = optarg; return 0;
    case OPT_SAVE: c->save_wanted = true; return 0;
    case OPT_LABEL:
        c->save_label = optarg; /* checked by scan_save_open */
        c->save_wanted = true;
        return 0;
    case OPT_DB: c->save_db = optarg; return 0;
    case OPT_UNPRIVILEGED: c->net.unprivileged = true; return 0;
    case OPT_PRIVILEGED: c->net.privileged = true; return 0;
    default: return cli_option_error("scan", argv, opt);
    }
}

/* Options that only make sense together, checked once all are read. */
static int check_combination(struct scan_cli *c)
{
    /* Only two explicit bounds can contradict; one given alone moves the
     * other's default out of its way. */
    if (c->cfg.min_rtt_timeout_ms > c->cfg.max_rtt_timeout_ms) {
        if (c->min_rtt_given && c->max_rtt_given)
            return cli_usage_error("scan", "--min-rtt-timeout (%u ms) is longer than --max-rtt-timeout (%u ms)",
                                   c->cfg.min_rtt_timeout_ms, c->cfg.max_rtt_timeout_ms);
        if (c->min_rtt_given)
            c->cfg.max_rtt_timeout_ms = c->cfg.min_rtt_timeout_ms;
        else
            c->cfg.min_rtt_timeout_ms = c->cfg.max_rtt_timeout_ms;
    }
    if (c->scan_delay_ms) {
        /* serialised, one probe every delay: never faster than asked */
        c->cfg.max_inflight = 1;
        double r = 1000.0 / (double)c->scan_delay_ms;
        if (c->cfg.rate == 0 || r < c->cfg.rate)
            c->cfg.rate = r;
    }
    if (c->min_rate > 0 && c->cfg.rate > 0 && c->min_rate > c->cfg.rate)
        return cli_usage_error("scan", "--min-rate %.6g is above the most this scan may send (%.6g "
                                       "probes/s from --max-rate, --scan-delay or -T)",
                               c->min_rate, c->cfg.rate);
    if (c->open_only && c->all_states)
        return cli_usage_error("scan", "--open and --all-states contradict each other: pick one");
    return 0;
}

int cmd_scan(int argc, char **argv)
{
    struct scan_cli c;
    scan_cli_init(&c, argc, argv);
    int opt, rc = CLI_OK;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":p:s:o:i:P:T:nvF46AOdh", scan_opts, NULL)) != -1) {
        if (opt == 'h') {
            usage_scan(stdout);
            return scan_cli_fail(&c, CLI_OK);
        }
        if ((rc = scan_option(&c, opt, argc, argv)) != 0)
            return scan_cli_fail(&c, rc);
    }
    if ((rc = check_combination(&c)) != 0)
        return scan_cli_fail(&c, rc);
    c.targets_argv = argv + optind;
    c.ntargets_argv = argc - optind;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL); /* a closed terminal: same as Ctrl-C */
    if ((rc = scan_cli_prepare(&c)) != 0 || (rc = scan_cli_net_prepare(&c)) != 0)
        return scan_cli_fail(&c, rc);
    if (c.save_wanted && (rc = scan_save_open(&c, c.save_label, c.save_db)) != 0)
        return scan_cli_fail(&c, rc);

    struct pk_err err = {0};
    struct pk_scan *scan;
    if (pk_scan_new(&c.cfg, &scan, &err) < 0)
        return scan_cli_fail(&c, cli_lib_error("scan", &err));
    c.scan = scan;
    bool done = false;
    int code = 0;
    if ((rc = scan_cli_drop_privileges(&c, &done, &code)) != 0)
        return scan_cli_fail(&c, rc);
    if (done) /* the privileged parent: the child scanned, the files are in place */
        return scan_cli_fail(&c, code);
    scan_cli_begin(&c);
    running = scan;
    int run = pk_scan_run(scan, &err);
    running = NULL;
    if (run < 0) {
        c.failed = true;
        rc = cli_lib_error("scan", &err);
        scan_cli_free(&c);
        return rc;
    }
    rc = scan_cli_finish(&c);
    scan_cli_free(&c);
    return rc;
}
