/* portkit scan: host discovery options, -sS versus -sT, and privileges.
 *
 * As nmap: with raw sockets (root or CAP_NET_RAW) the default is a SYN
 * scan and raw discovery; without them a connect scan and connect
 * discovery. Discovery runs by default when more than one address is
 * scanned. Once pk_scan_new has opened its raw sockets the process becomes
 * `nobody` with no capability left, before any reply is parsed. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli.h"
#include "portkit/portspec.h"
#include "scan_cli.h"

#define SCAN_DEFAULT_RAW_RATE 300000.0

static int parse_port_list(const char *what, const char *list, uint16_t *out, uint8_t *n)
{
    char buf[256];
    if (strlen(list) >= sizeof buf)
        return cli_usage_error("scan", "%s: port list too long", what);
    strcpy(buf, list);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(t, &end, 10);
        if (errno || *end || v == 0 || v > 65535 || t[0] == '-' || t[0] == '+')
            return cli_usage_error("scan", "%s: '%s' is not a port from 1 to 65535", what, t);
        if (*n >= PK_PING_MAX_PORTS)
            return cli_usage_error("scan", "%s: at most %d ports", what, PK_PING_MAX_PORTS);
        out[(*n)++] = (uint16_t)v;
    }
    return 0;
}

int scan_cli_ping_option(struct scan_cli *c, const char *arg)
{
    struct scan_cli_net *n = &c->net;
    struct pk_ping_config *p = &n->ping;
    char what[48];
    snprintf(what, sizeof what, "-P%s", arg); /* errors name the option as typed */
    if (arg[0] && strchr("SAUEPR", arg[0]) && arg[0] != 'n')
        n->ping_given = true;
    switch (arg[0]) {
    case 'n':
        if (arg[1])
            break;
        n->no_ping = true;
        return 0;
    case 'S':
        return parse_port_list(what, arg[1] ? arg + 1 : "80", p->syn_ports, &p->nsyn);
    case 'A':
        return parse_port_list(what, arg[1] ? arg + 1 : "80", p->ack_ports, &p->nack);
    case 'U':
        return parse_port_list(what, arg[1] ? arg + 1 : "40125", p->udp_ports, &p->nudp);
    case 'E':
        if (arg[1])
            break;
        p->icmp_echo = true;
        return 0;
    case 'P':
        if (arg[1])
            break;
        p->icmp_timestamp = true;
        return 0;
    case 'R':
        if (arg[1])
            break;
        p->neighbour = true;
        return 0;
    default:
        break;
    }
    return cli_usage_error("scan", "-P%s: discovery options are -Pn, -PS[ports], -PA[ports], -PU[ports], "
                           "-PE, -PP and -PR", arg);
}

static bool any_loopback(const struct pk_targets *t)
{
    uint64_t n = pk_targets_count(t);
    for (uint64_t i = 0; i < n && i < (1u << 16); i++) {
        struct pk_addr a;
        pk_targets_get(t, i, &a);
        static const uint8_t v6lo[16] = {[15] = 1};
        if (a.family == AF_INET ? a.bytes[0] == 127 : memcmp(a.bytes, v6lo, 16) == 0)
            return true;
    }
    return false;
}

int scan_cli_net_prepare(struct scan_cli *c)
{
    struct scan_cli_net *n = &c->net;
    bool privileged = !n->unprivileged && (n->privileged || pk_scan_raw_available());
    if (n->want_syn && n->want_connect)
        return cli_usage_error("scan", "choose -sS or -sT, not both");
    if (n->want_syn && !privileged)
        return cli_usage_error("scan", "-sS sends raw packets and needs root or CAP_NET_RAW%s; -sT (a connect "
                               "scan) needs no privilege", n->unprivileged ? " (and --unprivileged was given)" : "");
    if (n->ping_only && n->no_ping)
        return cli_usage_error("scan", "-sn with -Pn would send nothing");
    /* nmap's choice: SYN when privileged. Loopback stays with connect: it
     * is this machine, and its sockets answer a connect just as well. */
    bool loopback = any_loopback(c->targets);
    bool syn = n->want_syn || (!n->want_connect && privileged && !loopback);
    c->cfg.method = c->cfg.tcp && syn ? PK_SCAN_SYN : PK_SCAN_CONNECT;
    c->cfg.ping_only = n->ping_only;
    bool ping = n->ping_only || (!n->no_ping && (n->ping_given || pk_targets_count(c->targets) > 1));
    if (ping) {
        if (n->ping_given) {
            c->cfg.ping = n->ping;
            c->cfg.ping.enabled = true;
        } else {
            pk_ping_config_default(&c->cfg.ping);
        }
    }
    c->cfg.raw = privileged && ping && (!loopback || n->want_syn);
    n->raw = c->cfg.method == PK_SCAN_SYN || c->cfg.raw;
    /* Raw probes cost no descriptor, so nothing else would slow them: the
     * default keeps a LAN scan fast and a 1 GbE link (1.4 M small frames/s)
     * four-fifths free. */
    if (n->raw && c->cfg.rate == 0)
        c->cfg.rate = SCAN_DEFAULT_RAW_RATE;
    if (ping && !privileged && !loopback)
        fprintf(stderr, "portkit: scan: without root, host discovery only tries TCP connects (-PS/-PA ports, "
                        "default 80 and 443); a host answering on neither is reported down (-Pn scans it "
                        "anyway)\n");
    return 0;
}

static int clear_capabilities(void)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    return (int)syscall(SYS_capset, &hdr, data);
}

static volatile pid_t scan_child;

/* A signal sent to the parent alone (kill PID) is passed on; a Ctrl-C
 * reaches the child from the terminal already, and passing it again would
 * count as the second Ctrl-C that ends the scan without its outputs. */
static void forward_signal(int sig, siginfo_t *info, void *ctx)
{
    (void)ctx;
    if (scan_child > 0 && info && info->si_code == SI_USER)
        kill(scan_child, sig);
}

/* The parent's part: wait for the scanning child, then rename (or remove)
 * each output file as it asks. Files it never mentioned are removed. */
static int keep_outputs(struct scan_cli *c, pid_t child, int rd)
{
    bool keep[SCAN_CLI_MAX_OUTPUTS] = {false};
    unsigned char msg[2];
    ssize_t n;
    while ((n = read(rd, msg, 2)) == 2 || (n < 0 && errno == EINTR))
        if (n == 2 && msg[0] < SCAN_CLI_MAX_OUTPUTS)
            keep[msg[0]] = msg[1] != 0;
    close(rd);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : CLI_FAIL;
    for (int i = 0; i < c->nouts; i++) {
        struct scan_cli_output *o = &c->outs[i];
        if (o->is_stdout || !o->f)
            continue;
        fclose(o->f); /* the child wrote through its own copy: nothing is buffered here */
        o->f = NULL;
        o->file.fd = -1;
        struct pk_err err = {0};
        if (!keep[i])
            pk_outfile_abort(&o->file);
        else if (pk_outfile_commit(&o->file, &err) < 0 && cli_lib_error("scan", &err))
            rc = CLI_FAIL;
    }
    return rc;
}

int scan_cli_drop_privileges(struct scan_cli *c, bool *done, int *exit_code)
{
    *done = false;
    if (!c->net.raw)
        return CLI_OK;
    if (geteuid() == 0) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0) {
            fprintf(stderr, "portkit: scan: pipe: %s\n", strerror(errno));
            return CLI_FAIL;
        }
        fflush(NULL);
        pid_t child = fork();
        if (child < 0) {
            fprintf(stderr, "portkit: scan: fork: %s\n", strerror(errno));
            return CLI_FAIL;
        }
        if (child > 0) {
            close(fds[1]);
            pk_scan_free(c->scan); /* the raw sockets: only the child uses them */
            c->scan = NULL;
            scan_child = child;
            struct sigaction sa = {.sa_sigaction = forward_signal, .sa_flags = SA_SIGINFO};
            sigemptyset(&sa.sa_mask);
            sigaction(SIGINT, &sa, NULL);
            sigaction(SIGTERM, &sa, NULL);
            *exit_code = keep_outputs(c, child, fds[0]);
            *done = true;
            return CLI_OK;
        }
        close(fds[0]);
        scan_cli_commit_through(fds[1]);
    }
    uid_t uid = 65534;
    gid_t gid = 65534;
    struct passwd *pw = getpwnam("nobody");
    if (pw && pw->pw_uid != 0) {
        uid = pw->pw_uid;
        gid = pw->pw_gid;
    }
    if (geteuid() == 0) {
        /* The bounding set first (it needs CAP_SETPCAP, gone afterwards). */
        for (int cap = 0; cap <= 63; cap++)
            if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL)
                break;
        if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
            fprintf(stderr, "portkit: scan: could not give up root after opening raw sockets: %s\n",
                    strerror(errno));
            return CLI_FAIL;
        }
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (clear_capabilities() < 0) {
        fprintf(stderr, "portkit: scan: could not drop capabilities: %s\n", strerror(errno));
        return CLI_FAIL;
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (c->verbose)
        fprintf(stderr, "portkit: scan: raw sockets open; running on as uid %u with no capabilities\n",
                (unsigned)getuid());
    return CLI_OK;
}
