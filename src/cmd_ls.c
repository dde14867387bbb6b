/* portkit ls: this host's sockets, with their processes and what the
 * registry says about their ports. */
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fwcli.h"
#include "history_cli.h"
#include "portkit/freeport.h"
#include "portkit/registry.h"
#include "portkit/sockets.h"
#include "sockrow.h"

void usage_ls(FILE *out)
{
    fprintf(out,
            "Usage: portkit ls [OPTIONS]\n"
            "This host's TCP and UDP sockets (IPv4 and IPv6): who listens where, which\n"
            "process holds each socket, and what the port is (IANA registry + notes).\n"
            "By default: listening TCP sockets and bound UDP sockets.\n\n"
            "Options:\n"
            "  -a, --all            every state (connections, TIME-WAIT, ...)\n"
            "  -l, --listening      listening TCP and bound UDP only (the default)\n"
            "  -t, --tcp            TCP only           -u, --udp   UDP only\n"
            "  -4, --ipv4           IPv4 only          -6, --ipv6  IPv6 only\n"
            "      --port PORTS     sockets using these ports, local or remote: numbers,\n"
            "                       ranges or names (80,443,ssh, 8000-8100); repeat to add\n"
            "      --sport PORTS    the local port is one of PORTS (as ss)\n"
            "      --dport PORTS    the remote port is one of PORTS (connections only)\n"
            "  -p, --processes      show processes (always on; for ss -tlnp habits)\n"
            "      --pid PID        sockets held by process PID\n"
            "  -c, --process NAME   sockets held by processes named NAME (as in ps -o comm)\n"
            "  -s, --state STATE    only STATE (repeat or comma-separate): listen, established,\n"
            "                       syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait,\n"
            "                       close-wait, last-ack, closing, unconn, bound; groups:\n"
            "                       listening, connected, all\n"
            "  -n, --numeric        no service names\n"
            "  ss and netstat habits work: ls -tlnp, -tunap, -antp, -tulpn, -lntu\n"
            "  -j, --json           JSON Lines, one socket per line\n"
            "  -H, --no-header      no column titles\n"
            "      --no-process     do not look up processes (faster)\n"
            "      --proc           read /proc/net instead of asking netlink\n"
            "                       (also PORTKIT_SOCKETS=proc)\n"
            "      --save           also store this host's listeners as a run (portkit\n"
            "                       history), whatever the filters shown\n"
            "      --label NAME     name the saved run (implies --save)\n"
            "      --db PATH        the history database (also PORTKIT_DB)\n"
            "  -h, --help           this help\n\n"
            "Columns: PROTO LOCAL REMOTE STATE PID PROCESS USER SERVICE RANGE FLAGS, the\n"
            "same on a terminal and through a pipe; a narrow terminal drops RANGE, USER,\n"
            "an empty REMOTE, PID and SERVICE in that order, then shortens PROCESS (~).\n"
            "A '+' after a pid means more processes share the socket. SERVICE names the\n"
            "local port, or for a client connection the remote one.\n"
            "Flags: EXPOSED   reachable from outside through the firewall (the evaluation of\n"
            "                 portkit audit); where the ruleset cannot be read (not root):\n"
            "                 listening on a wildcard or non-loopback address\n"
            "       RISK      the port is known for trojans/backdoors (portkit info PORT)\n"
            "       PRIVILEGED below this host's unprivileged port start\n"
            "       EPHEMERAL inside this host's ephemeral port range\n"
            "Without root, other users' processes are not shown (as with ss -p).\n"
            "Exit status: 0 listed (even nothing), 2 bad option, 3 system failure.\n");
}

static int parse_states(const char *arg, unsigned *mask)
{
    char *copy = strdup(arg);
    if (!copy)
        return CLI_FAIL;
    int rc = 0;
    char *save = NULL;
    bool any = false;
    for (char *tok = strtok_r(copy, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
        struct pk_err err = {0};
        if (pk_sock_state_parse(tok, mask, &err) < 0)
            rc = cli_usage_error("ls", "%s", err.msg);
        any = true;
    }
    if (rc == 0 && !any)
        rc = cli_usage_error("ls", "--state needs a state name");
    free(copy);
    return rc;
}

/* "80,443,ssh,8000-8100" into the port set, added to what is there. */
static int add_ports(const char *opt, const char *arg, uint64_t *set)
{
    size_t n = strlen(arg);
    if (!n || arg[0] == ',' || arg[n - 1] == ',' || strstr(arg, ",,"))
        return cli_usage_error("ls", "%s: '%s' has an empty item (e.g. %s 80,443)", opt, arg, opt);
    char *copy = strdup(arg);
    if (!copy)
        return CLI_FAIL;
    int rc = 0, any = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
        unsigned lo, hi;
        any++;
        struct pk_err err = {0};
        if (strchr(tok, '-') && strspn(tok, "0123456789-") == strlen(tok)) {
            if (pk_portrange_parse(tok, &lo, &hi, &err) < 0) {
                rc = cli_usage_error("ls", "%s: %s", opt, err.msg);
                break;
            }
        } else if (sockrow_parse_port("ls", tok, &lo)) {
            rc = CLI_USAGE;
            break;
        } else {
            hi = lo;
        }
        for (unsigned p = lo; p <= hi; p++)
            set[p >> 6] |= 1ull << (p & 63);
    }
    free(copy);
    if (rc == 0 && !any)
        rc = cli_usage_error("ls", "%s needs a port, e.g. %s 443", opt, opt);
    return rc;
}

static int parse_pid(const char *arg, int *pid)
{
    unsigned long long v;
    if (cli_parse_uint("ls", "--pid", arg, 1, 0x3fffffff, &v))
        return CLI_USAGE;
    *pid = (int)v;
    return 0;
}

int cmd_ls(int argc, char **argv)
{
    enum { OPT_PID = 256, OPT_PROC, OPT_NOPROC, OPT_REGISTRY, OPT_PORT, OPT_SPORT, OPT_DPORT, OPT_SAVE, OPT_LABEL,
           OPT_DB };
    static const struct option opts[] = {
        {"all", no_argument, NULL, 'a'},
        {"listening", no_argument, NULL, 'l'},
        {"tcp", no_argument, NULL, 't'},
        {"udp", no_argument, NULL, 'u'},
        {"ipv4", no_argument, NULL, '4'},
        {"ipv6", no_argument, NULL, '6'},
        {"port", required_argument, NULL, OPT_PORT},
        {"sport", required_argument, NULL, OPT_SPORT},
        {"dport", required_argument, NULL, OPT_DPORT},
        {"processes", no_argument, NULL, 'p'},
        {"pid", required_argument, NULL, OPT_PID},
        {"process", required_argument, NULL, 'c'},
        {"state", required_argument, NULL, 's'},
        {"numeric", no_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"no-header", no_argument, NULL, 'H'},
        {"no-process", no_argument, NULL, OPT_NOPROC},
        {"proc", no_argument, NULL, OPT_PROC},
        {"registry", required_argument, NULL, OPT_REGISTRY},
        {"save", no_argument, NULL, OPT_SAVE},
        {"label", required_argument, NULL, OPT_LABEL},
        {"db", required_argument, NULL, OPT_DB},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct pk_sock_query q = {.processes = true};
    bool all = false, json = false, numeric = false, header = true, force_proc = false;
    unsigned states = 0;
    static uint64_t sets[3][PK_PORTSET_WORDS]; /* --port, --sport, --dport */
    bool set_used[3] = {false, false, false};
    bool save = false;
    const char *save_label = NULL, *save_db = NULL;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":altu46pc:s:njHh", opts, NULL)) != -1) {
        switch (opt) {
        case 'a': all = true; break;
        case 'l': all = false; break;
        case 't': q.protos |= PK_PROTO_MASK(PK_TCP); break;
        case 'u': q.protos |= PK_PROTO_MASK(PK_UDP); break;
        case '4': q.families |= PK_FAMILY_V4; break;
        case '6': q.families |= PK_FAMILY_V6; break;
        case 'p': q.processes = true; break;
        case OPT_PORT:
        case OPT_SPORT:
        case OPT_DPORT: {
            int k = opt - OPT_PORT;
            static const char *const names[] = {"--port", "--sport", "--dport"};
            int rc = add_ports(names[k], optarg, sets[k]);
            if (rc)
                return rc;
            set_used[k] = true;
            break;
        }
        case OPT_PID:
            if (parse_pid(optarg, &q.pid))
                return CLI_USAGE;
            break;
        case 'c':
            if (!*optarg)
                return cli_usage_error("ls", "--process needs a name");
            q.process = optarg;
            break;
        case 's': {
            int rc = parse_states(optarg, &states);
            if (rc)
                return rc;
            break;
        }
        case 'n': numeric = true; break;
        case 'j': json = true; break;
        case 'H': header = false; break;
        case OPT_NOPROC: q.processes = false; break;
        case OPT_PROC: force_proc = true; break;
        case OPT_REGISTRY: cli_registry_path = optarg; break;
        case OPT_SAVE: save = true; break;
        case OPT_LABEL:
            save_label = optarg; /* checked before anything is listed */
            save = true;
            break;
        case OPT_DB: save_db = optarg; break;
        case 'h': usage_ls(stdout); return CLI_OK;
        default: return cli_option_error("ls", argv, opt);
        }
    }
    if (optind < argc)
        return cli_usage_error("ls", "unexpected argument '%s' (filters are options: see --help)",
                               argv[optind]);
    if (!q.processes && (q.pid > 0 || q.process))
        return cli_usage_error("ls", "--pid and --process need processes: drop --no-process");
    q.states = states ? states : all ? PK_SS_ALL : PK_SS_LISTENING;
    struct pk_err lerr = {0};
    if (save_label && pk_history_label_check(save_label, &lerr) < 0)
        return cli_usage_error("ls", "--label: %s", lerr.msg);
    q.either_ports = set_used[0] ? sets[0] : NULL;
    q.local_ports = set_used[1] ? sets[1] : NULL;
    q.remote_ports = set_used[2] ? sets[2] : NULL;

    const struct pk_sock_source *one = NULL;
    if (sockrow_sources("ls", force_proc, &q, &one))
        return CLI_USAGE;
    const struct pk_registry *reg = cli_registry("ls");
    if (!reg)
        return CLI_USAGE;

    struct pk_err err = {0};
    struct pk_socklist *l;
    if (pk_sockets_list(&q, &l, &err) < 0)
        return cli_lib_error("ls", &err);
    pk_socklist_sort(l);

    struct sockrow_ctx c;
    sockrow_init(&c, stdout, reg);
    c.header = header;
    c.numeric = numeric;
    struct pk_firewall *fw = NULL;
    unsigned char *exposed = NULL;
    bool readable = false;
    char why[PK_ERR_MSG_MAX];
    if ((q.states & PK_SS_LISTENING) && fwcli_open("ls", NULL, &fw, &readable, why, sizeof why) == 0) {
        struct pk_firewall_finding *f = NULL;
        size_t nf = 0;
        if (readable && pk_firewall_audit(fw, l, NULL, &f, &nf, &err) == 0 && pk_socklist_count(l))
            exposed = fwcli_exposed(f, nf, pk_socklist_count(l));
        free(f);
        c.exposed = exposed;
        c.exposed_base = exposed ? pk_socklist_get(l, 0) : NULL;
        c.fw_note = readable ? NULL : "the firewall ruleset was not read (needs root)";
    }
    int rc = json ? sockrow_json(&c, l) : sockrow_table(&c, l);
    free(exposed);
    pk_firewall_free(fw);
    pk_socklist_free(l);
    if (save && rc == CLI_OK)
        rc = hist_cli_save_listeners("ls", save_db, save_label, "portkit ls --save");
    return rc;
}
