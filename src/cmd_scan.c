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
            "                        (default as root: -PE -PS443 -PA80 -PP; without root:\n"
            "                        TCP connects to 80 and 443)\n\n"
            "Scan:\n"
            "  -sS                   SYN scan: raw packets, no connection made (the default\n"
            "                        as root or with CAP_NET_RAW; privileges are dropped\n"
            "                        to nobody once the raw sockets are open)\n"
            "  -sT                   TCP connect scan (the default without privilege)\n"
            "  -sU                   UDP scan (paced to the host's ICMP rate limit)\n"
            "  -sV, --banners        identify services: read greetings, send HTTP/TLS probes\n"
            "  --rate N              at most N probes per second\n"
            "  --max-inflight N      at most N probes in flight (default: the open-file limit)\n"
            "  --max-host-inflight N at most N per host (default: a fair share)\n"
            "  --max-retries N       retry a silent port at most N times (default 10; fewer\n"
            "                        when the link loses nothing)\n"
            "  --min-rtt-timeout MS, --max-rtt-timeout MS   bounds of the adaptive timeout\n"
            "                        (default 50 and 1000)\n"
            "  --initial-rtt-timeout MS  wait for a host that answered nothing (default 1000)\n"
            "  --service-timeout MS  the most -sV spends on one port (default 5000)\n"
            "  --seed N              the order of probes (random by default)\n"
            "  --shard I/N           scan the I-th of N slices: N machines with the same\n"
            "                        command and seed split one scan between them\n"
            "  --unprivileged        act as without root: connect scan and discovery\n"
            "  --privileged          assume raw sockets work (CAP_NET_RAW)\n\n"
            "Output:\n"
            "  --json                JSON Lines on stdout, one port per line\n"
            "  -oJ FILE              JSON Lines to FILE      -oX FILE   nmap XML\n"
            "  -oG FILE              nmap's grepable format  -oL FILE   a plain list\n"
            "  -oN FILE              the text output         (FILE - is stdout)\n"
            "  --all-states          every port, not only open (and open|filtered) ones\n"
            "  --no-progress         no progress bar (shown on a terminal's stderr)\n"
            "  -v                    say more on stderr (seed, limits, timing)\n"
            "  -n, -T3..-T5, --open  accepted for nmap habits; they change nothing\n\n"
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

static void on_signal(int sig)
{
    if (running)
        pk_scan_stop(running);
    signal(sig, SIG_DFL); /* a second Ctrl-C ends at once */
}

static int parse_uint(const char *opt, const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-')
        return cli_usage_error("scan", "%s needs a number, got '%s'", opt, s ? s : "");
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return cli_usage_error("scan", "%s: '%s' is not a number from 0 to %llu", opt, s, max);
    *out = v;
    return 0;
}

/* Milliseconds, with nmap's optional suffixes: 500, 500ms, 2s. */
static int parse_ms(const char *opt, const char *s, unsigned *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0)
        return cli_usage_error("scan", "%s: '%s' is not a time (e.g. 500ms, 2s)", opt, s);
    if (strcmp(end, "s") == 0)
        v *= 1000;
    else if (strcmp(end, "m") == 0)
        v *= 60000;
    else if (*end && strcmp(end, "ms") != 0)
        return cli_usage_error("scan", "%s: '%s' is not a time (e.g. 500ms, 2s)", opt, s);
    if (v > 3600000)
        return cli_usage_error("scan", "%s: '%s' is longer than an hour", opt, s);
    *out = (unsigned)v;
    return 0;
}

enum {
    OPT_EXCLUDE = 256, OPT_EXCLUDEFILE, OPT_FORCE, OPT_TOP, OPT_EXPORTS, OPT_RATE, OPT_INFLIGHT,
    OPT_HOSTINFLIGHT, OPT_RETRIES, OPT_MINRTT, OPT_MAXRTT, OPT_INITRTT, OPT_SVCTIMEOUT, OPT_SEED,
    OPT_SHARD, OPT_JSON, OPT_ALL, OPT_NOPROGRESS, OPT_BANNERS, OPT_OPEN, OPT_REGISTRY,
    OPT_UNPRIVILEGED, OPT_PRIVILEGED,
};

int cmd_scan(int argc, char **argv)
{
    static const struct option opts[] = {
        {"exclude", required_argument, NULL, OPT_EXCLUDE},
        {"excludefile", required_argument, NULL, OPT_EXCLUDEFILE},
        {"force", no_argument, NULL, OPT_FORCE},
        {"top-ports", required_argument, NULL, OPT_TOP},
        {"exclude-ports", required_argument, NULL, OPT_EXPORTS},
        {"rate", required_argument, NULL, OPT_RATE},
        {"max-rate", required_argument, NULL, OPT_RATE},
        {"max-inflight", required_argument, NULL, OPT_INFLIGHT},
        {"max-host-inflight", required_argument, NULL, OPT_HOSTINFLIGHT},
        {"max-retries", required_argument, NULL, OPT_RETRIES},
        {"min-rtt-timeout", required_argument, NULL, OPT_MINRTT},
        {"max-rtt-timeout", required_argument, NULL, OPT_MAXRTT},
        {"initial-rtt-timeout", required_argument, NULL, OPT_INITRTT},
        {"service-timeout", required_argument, NULL, OPT_SVCTIMEOUT},
        {"seed", required_argument, NULL, OPT_SEED},
        {"shard", required_argument, NULL, OPT_SHARD},
        {"json", no_argument, NULL, OPT_JSON},
        {"all-states", no_argument, NULL, OPT_ALL},
        {"no-progress", no_argument, NULL, OPT_NOPROGRESS},
        {"banners", no_argument, NULL, OPT_BANNERS},
        {"open", no_argument, NULL, OPT_OPEN},
        {"registry", required_argument, NULL, OPT_REGISTRY},
        {"unprivileged", no_argument, NULL, OPT_UNPRIVILEGED},
        {"privileged", no_argument, NULL, OPT_PRIVILEGED},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct scan_cli c;
    scan_cli_init(&c, argc, argv);
    int opt, rc = CLI_OK;
    unsigned long long v;
    while ((opt = getopt_long(argc, argv, "p:s:o:i:P:T:nvF46h", opts, NULL)) != -1) {
        switch (opt) {
        case 'p': c.port_spec = optarg; break;
        case 's':
            for (const char *t = optarg; *t; t++) {
                if (*t == 'T' || *t == 'S') {
                    c.want_tcp = true;
                    *(*t == 'S' ? &c.net.want_syn : &c.net.want_connect) = true;
                } else if (*t == 'n')
                    c.net.ping_only = true;
                else if (*t == 'U')
                    c.want_udp = true;
                else if (*t == 'V')
                    c.cfg.service_detect = true;
                else
                    return scan_cli_fail(&c, cli_usage_error("scan", "-s%s: the scans are -sS, -sT, -sU, -sV and -sn", optarg));
            }
            break;
        case 'o': {
            const char *file = optarg[1] ? optarg + 1 : (optind < argc ? argv[optind++] : NULL);
            if (!file)
                return scan_cli_fail(&c, cli_usage_error("scan", "-o%c needs a file name", optarg[0]));
            if ((rc = scan_cli_add_output(&c, optarg[0], file)) != 0)
                return scan_cli_fail(&c, rc);
            break;
        }
        case 'i':
            if (optarg[0] != 'L')
                return scan_cli_fail(&c, cli_usage_error("scan", "unknown option -i%s (did you mean -iL FILE?)", optarg));
            c.target_file = optarg[1] ? optarg + 1 : (optind < argc ? argv[optind++] : NULL);
            if (!c.target_file)
                return scan_cli_fail(&c, cli_usage_error("scan", "-iL needs a file name"));
            break;
        case 'P':
            if ((rc = scan_cli_ping_option(&c, optarg)) != 0)
                return scan_cli_fail(&c, rc);
            break;
        case 'T':
            if (strlen(optarg) != 1 || optarg[0] < '0' || optarg[0] > '5')
                return scan_cli_fail(&c, cli_usage_error("scan", "-T%s: timing templates are -T0 to -T5", optarg));
            if (optarg[0] < '3' && c.cfg.rate == 0) /* the polite ones: a gentle rate */
                c.cfg.rate = optarg[0] == '0' ? 1 : optarg[0] == '1' ? 5 : 20;
            break;
        case 'n': break;
        case 'v': c.verbose++; break;
        case 'F': c.top_ports = 100; break;
        case '4': c.family = AF_INET; break;
        case '6': c.family = AF_INET6; break;
        case OPT_EXCLUDE: c.exclude = optarg; break;
        case OPT_EXCLUDEFILE: c.exclude_file = optarg; break;
        case OPT_FORCE: c.force = true; break;
        case OPT_TOP:
            if (parse_uint("--top-ports", optarg, 65535, &v) || v == 0)
                return scan_cli_fail(&c, v == 0 ? cli_usage_error("scan", "--top-ports needs at least 1") : CLI_USAGE);
            c.top_ports = (unsigned)v;
            break;
        case OPT_EXPORTS: c.exclude_ports = optarg; break;
        case OPT_RATE: {
            char *end;
            double r = strtod(optarg, &end);
            if (end == optarg || *end || !(r > 0) || r > 1e8)
                return scan_cli_fail(&c, cli_usage_error("scan", "--rate: '%s' is not a positive number of probes per second", optarg));
            c.cfg.rate = r;
            break;
        }
        case OPT_INFLIGHT:
            if (parse_uint("--max-inflight", optarg, 1u << 20, &v) || v == 0)
                return scan_cli_fail(&c, v == 0 ? cli_usage_error("scan", "--max-inflight needs at least 1") : CLI_USAGE);
            c.cfg.max_inflight = (unsigned)v;
            break;
        case OPT_HOSTINFLIGHT:
            if (parse_uint("--max-host-inflight", optarg, 1u << 20, &v) || v == 0)
                return scan_cli_fail(&c, v == 0 ? cli_usage_error("scan", "--max-host-inflight needs at least 1") : CLI_USAGE);
            c.cfg.max_host_inflight = (unsigned)v;
            break;
        case OPT_RETRIES:
            if (parse_uint("--max-retries", optarg, 50, &v))
                return scan_cli_fail(&c, CLI_USAGE);
            c.cfg.max_retries = (unsigned)v;
            break;
        case OPT_MINRTT:
            if (parse_ms("--min-rtt-timeout", optarg, &c.cfg.min_rtt_timeout_ms))
                return scan_cli_fail(&c, CLI_USAGE);
            break;
        case OPT_MAXRTT:
            if (parse_ms("--max-rtt-timeout", optarg, &c.cfg.max_rtt_timeout_ms))
                return scan_cli_fail(&c, CLI_USAGE);
            break;
        case OPT_INITRTT:
            if (parse_ms("--initial-rtt-timeout", optarg, &c.cfg.initial_rtt_timeout_ms))
                return scan_cli_fail(&c, CLI_USAGE);
            break;
        case OPT_SVCTIMEOUT:
            if (parse_ms("--service-timeout", optarg, &c.cfg.service_timeout_ms))
                return scan_cli_fail(&c, CLI_USAGE);
            break;
        case OPT_SEED:
            if (parse_uint("--seed", optarg, UINT64_MAX, &v))
                return scan_cli_fail(&c, CLI_USAGE);
            c.cfg.seed = v;
            c.seed_given = true;
            break;
        case OPT_SHARD: {
            struct pk_err err = {0};
            if (pk_shard_parse(optarg, &c.cfg.shard, &err) < 0)
                return scan_cli_fail(&c, cli_usage_error("scan", "--shard: %s", err.msg));
            break;
        }
        case OPT_JSON: c.json = true; break;
        case OPT_ALL: c.all_states = true; break;
        case OPT_NOPROGRESS: c.progress = false; break;
        case OPT_BANNERS: c.cfg.service_detect = true; break;
        case OPT_OPEN: break;
        case OPT_REGISTRY: cli_registry_path = optarg; break;
        case OPT_UNPRIVILEGED: c.net.unprivileged = true; break;
        case OPT_PRIVILEGED: c.net.privileged = true; break;
        case 'h': usage_scan(stdout); return scan_cli_fail(&c, CLI_OK);
        default: return scan_cli_fail(&c, CLI_USAGE);
        }
    }
    c.targets_argv = argv + optind;
    c.ntargets_argv = argc - optind;
    if ((rc = scan_cli_prepare(&c)) != 0 || (rc = scan_cli_net_prepare(&c)) != 0)
        return scan_cli_fail(&c, rc);

    struct pk_err err = {0};
    struct pk_scan *scan;
    if (pk_scan_new(&c.cfg, &scan, &err) < 0)
        return scan_cli_fail(&c, cli_lib_error("scan", &err));
    c.scan = scan;
    if ((rc = scan_cli_drop_privileges(&c)) != 0)
        return scan_cli_fail(&c, rc);
    scan_cli_begin(&c);
    running = scan;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int run = pk_scan_run(scan, &err);
    running = NULL;
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    rc = scan_cli_finish(&c);
    if (run < 0)
        rc = cli_lib_error("scan", &err);
    scan_cli_free(&c);
    return rc;
}
