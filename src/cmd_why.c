/* portkit why PORT[/PROTO]: why a port can or cannot be bound here, and
 * why it is or is not reachable from outside, in sentences with the
 * evidence. Binding is tried for real, never inferred. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "fwcli.h"
#include "portkit/buf.h"
#include "portkit/firewall.h"
#include "portkit/hostinfo.h"
#include "portkit/json.h"
#include "portkit/procmap.h"
#include "portkit/registry.h"
#include "portkit/sockets.h"
#include "sockrow.h"

void usage_why(FILE *out)
{
    fprintf(out,
            "Usage: portkit why [OPTIONS] PORT[/PROTO]\n"
            "Why PORT can or cannot be used on this host, in sentences with the evidence:\n"
            "who holds it, TIME-WAIT leftovers (and whether SO_REUSEADDR helps), the\n"
            "privileged-port limit, reserved and ephemeral ranges, IPv6 dual-stack\n"
            "conflicts; and whether it is reachable from outside: nothing listens, only\n"
            "loopback or one address, or the firewall rule that drops it (as portkit audit).\n"
            "PROTO is tcp (default) or udp.\n\n"
            "Options:\n"
            "      --bind      ask only: can a new socket bind PORT?\n"
            "      --reach     ask only: does a service on PORT reach outside clients?\n"
            "                  (default: --reach when something listens on PORT, else --bind)\n"
            "      --ruleset FILE  judge this ruleset (JSON of nft -j list ruleset)\n"
            "  -j, --json      one JSON object: port, proto, question, usable, reasons\n"
            "  -h, --help      this help\n\n"
            "Exit status: 0 usable as asked, 1 not usable, 2 bad input, 3 system failure.\n");
}

struct reasons {
    struct pk_buf text;   /* sentences, one a line */
    struct pk_buf json;   /* [{"cause":..,"text":..}, ...] without brackets */
    size_t n;
};

static void say(struct reasons *r, const char *cause, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(struct reasons *r, const char *cause, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pk_buf_printf(&r->text, "%s\n", line);
    if (r->n++)
        pk_buf_putc(&r->json, ',');
    struct pk_json j;
    pk_json_init(&j, &r->json);
    pk_json_obj_begin(&j, NULL);
    pk_json_str(&j, "cause", cause);
    pk_json_str(&j, "text", line);
    pk_json_obj_end(&j);
}

/* bind() for real: 0 or the errno it failed with. */
static int try_bind(int family, enum pk_proto proto, unsigned port, bool reuse, int v6only)
{
    int fd = socket(family, (proto == PK_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    int one = 1;
    if (reuse)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        len = sizeof *a;
    } else {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        len = sizeof *a;
    }
    int rc = bind(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : errno;
    if (rc == 0 && proto == PK_TCP && listen(fd, 1) < 0)
        rc = errno;
    close(fd);
    return rc;
}

static bool in_reserved(unsigned port)
{
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_reserved_ports", "re");
    if (!f)
        return false;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    for (char *save = NULL, *t = strtok_r(buf, ",\n", &save); t; t = strtok_r(NULL, ",\n", &save)) {
        unsigned lo, hi;
        int k = sscanf(t, "%u-%u", &lo, &hi);
        if (k == 1)
            hi = lo;
        if (k >= 1 && port >= lo && port <= hi)
            return true;
    }
    return false;
}

static void holders(struct reasons *r, const struct pk_socklist *l, unsigned port, enum pk_proto proto,
                    size_t *listeners, size_t *timewait)
{
    struct sockrow_ctx c;
    sockrow_init(&c, stdout, NULL);
    *listeners = *timewait = 0;
    for (size_t i = 0; i < pk_socklist_count(l); i++) {
        const struct pk_sock *s = pk_socklist_get(l, i);
        if (s->proto != proto || s->local_port != port)
            continue;
        if (s->state == PK_SS_TIME_WAIT) {
            (*timewait)++;
            continue;
        }
        if (!pk_sock_is_listening(s) && !(proto == PK_TCP && s->state == PK_SS_BOUND))
            continue;
        (*listeners)++;
        char ep[PK_ENDPOINT_MAX];
        sockrow_local(&c, s, ep, sizeof ep);
        if (s->pid > 0) {
            struct pk_buf cmd = PK_BUF_INIT;
            pk_proc_cmdline(NULL, s->pid, &cmd);
            say(r, "held", "%s is held by pid %d (%s: %.200s), user %s", ep, s->pid, s->process ? s->process : "?",
                cmd.len ? cmd.data : "?", s->user ? s->user : "?");
            pk_buf_free(&cmd);
        } else {
            say(r, "held", "%s is held by a process portkit may not see (run as root to name it)", ep);
        }
    }
}

static void bind_reasons(struct reasons *r, const struct pk_socklist *l, unsigned port, enum pk_proto proto,
                         bool *usable)
{
    const char *pn = pk_proto_name(proto);
    struct pk_hostinfo host;
    pk_hostinfo_read(&host, NULL);
    int e4 = try_bind(AF_INET, proto, port, false, 0);
    int e6 = try_bind(AF_INET6, proto, port, false, 0);
    *usable = e4 == 0 && (e6 == 0 || e6 == EAFNOSUPPORT);
    if (*usable)
        say(r, "bindable", "%u/%s can be bound right now (0.0.0.0 and [::], tested)", port, pn);
    size_t listeners, timewait;
    holders(r, l, port, proto, &listeners, &timewait);
    if (e4 == EACCES || e6 == EACCES)
        say(r, "privileged",
            "%u is below net.ipv4.ip_unprivileged_port_start (%u) and this process lacks "
            "CAP_NET_BIND_SERVICE: bind() fails with EACCES (run as root, or grant the capability)",
            port, host.unprivileged_start);
    else if (pk_hostinfo_is_privileged(&host, port))
        say(r, "privileged", "%u is below net.ipv4.ip_unprivileged_port_start (%u): only processes with "
                             "CAP_NET_BIND_SERVICE may bind it%s",
            port, host.unprivileged_start, pk_have_capability(PK_CAP_NET_BIND_SERVICE) ? " (this one has it)" : "");
    if (e4 == EADDRINUSE && timewait && listeners == 0) {
        bool reuse = try_bind(AF_INET, proto, port, true, 0) == 0;
        say(r, "time-wait",
            "%zu connection%s in TIME-WAIT still use%s port %u (they end within 60 s); %s", timewait,
            timewait == 1 ? "" : "s", timewait == 1 ? "s" : "", port,
            reuse ? "a socket with SO_REUSEADDR binds anyway (tested)"
                  : "SO_REUSEADDR does not help here (tested)");
    } else if (timewait) {
        say(r, "time-wait", "%zu connection%s in TIME-WAIT also use port %u", timewait, timewait == 1 ? "" : "s",
            port);
    }
    if (e4 == EADDRINUSE && listeners == 0 && timewait == 0)
        say(r, "in-use", "0.0.0.0:%u/%s is in use (bind: Address already in use) by a socket portkit cannot "
                         "see (another network namespace shares nothing; a socket without a state?)",
            port, pn);
    if (e6 == EADDRINUSE && try_bind(AF_INET6, proto, port, false, 1) == 0)
        say(r, "dual-stack",
            "[::]:%u cannot be bound dual-stack (taking IPv4 too) because an IPv4 socket holds the port; an "
            "IPv6-only socket (IPV6_V6ONLY, or net.ipv6.bindv6only=1) binds (tested)",
            port);
    if (in_reserved(port))
        say(r, "reserved", "%u is in net.ipv4.ip_local_reserved_ports: the kernel never hands it out as an "
                           "ephemeral port; an explicit bind() still works",
            port);
    else if (pk_hostinfo_is_ephemeral(&host, port))
        say(r, "ephemeral",
            "%u is inside the ephemeral range %u-%u (net.ipv4.ip_local_port_range): outgoing connections may "
            "take it at any time, so a server may find it busy; add it to net.ipv4.ip_local_reserved_ports",
            port, host.ephemeral_lo, host.ephemeral_hi);
    if (!*usable && e4 && e4 != EADDRINUSE && e4 != EACCES)
        say(r, "bind", "bind(0.0.0.0:%u/%s) fails: %s", port, pn, strerror(e4));
}

static void reach_reasons(struct reasons *r, const struct pk_socklist *l, unsigned port, enum pk_proto proto,
                          const char *ruleset, bool *usable)
{
    *usable = false;
    size_t n_listen = 0, n_loop = 0;
    for (size_t i = 0; i < pk_socklist_count(l); i++) {
        const struct pk_sock *s = pk_socklist_get(l, i);
        if (s->proto == proto && s->local_port == port && pk_sock_is_listening(s)) {
            n_listen++;
            n_loop += pk_sock_is_loopback(s);
        }
    }
    struct pk_firewall *fw = NULL;
    bool readable;
    char why[PK_ERR_MSG_MAX];
    if (fwcli_open("why", ruleset, &fw, &readable, why, sizeof why) != 0)
        return;
    struct pk_firewall_finding *f = NULL;
    size_t nf = 0;
    struct pk_err err = {0};
    if (pk_firewall_audit(fw, l, NULL, &f, &nf, &err) < 0) {
        pk_firewall_free(fw);
        return;
    }
    if (!readable)
        fwcli_downgrade(f, nf, why);
    if (n_listen == 0)
        say(r, "nothing-listens", "nothing listens on %u/%s here", port, pk_proto_name(proto));
    else if (n_loop == n_listen)
        say(r, "loopback-only", "%u/%s listens only on loopback: only this host can connect", port,
            pk_proto_name(proto));
    struct sockrow_ctx c;
    sockrow_init(&c, stdout, NULL);
    for (size_t i = 0; i < nf; i++) {
        const struct pk_sock *s = pk_socklist_get(l, f[i].sock_index);
        unsigned outside = f[i].via ? f[i].via_port : s->local_port;
        if (s->proto != proto || (outside != port && s->local_port != port))
            continue;
        char ep[PK_ENDPOINT_MAX], via[PK_ENDPOINT_MAX] = "";
        sockrow_local(&c, s, ep, sizeof ep);
        if (f[i].via)
            pk_sock_endpoint_str(f[i].family, f[i].via_addr, f[i].via_port, NULL, via, sizeof via);
        if (!pk_sock_is_wildcard(s) && !pk_sock_is_loopback(s) && !f[i].via)
            say(r, "one-address", "%s listens on one address only: clients must use that address", ep);
        const char *cause = f[i].verdict == PK_FIREWALL_REACHABLE ? "reachable"
                          : f[i].verdict == PK_FIREWALL_BLOCKED ? "blocked" : "unknown";
        say(r, cause, "%s%s%s (%s) from outside on %s is %s: %s", ep, f[i].via ? " via " : "", via,
            f[i].family == AF_INET ? "IPv4" : "IPv6", f[i].from, pk_firewall_verdict_name(f[i].verdict),
            f[i].rule);
        if (f[i].verdict == PK_FIREWALL_REACHABLE && outside == port)
            *usable = true;
    }
    if (!readable)
        say(r, "no-ruleset", "the firewall was not read (%s)", why);
    free(f);
    pk_firewall_free(fw);
}

static int parse_port(const char *arg, unsigned *port, enum pk_proto *proto)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", arg);
    char *slash = strchr(buf, '/');
    *proto = PK_TCP;
    if (slash) {
        *slash = '\0';
        if (pk_proto_parse(slash + 1, strlen(slash + 1), proto) < 0 || (*proto != PK_TCP && *proto != PK_UDP))
            return cli_usage_error("why", "'%.32s': protocol must be tcp or udp", slash + 1);
    }
    return sockrow_parse_port("why", buf, port);
}

int cmd_why(int argc, char **argv)
{
    enum { OPT_BIND = 256, OPT_REACH, OPT_RULESET };
    static const struct option opts[] = {
        {"bind", no_argument, NULL, OPT_BIND}, {"reach", no_argument, NULL, OPT_REACH},
        {"ruleset", required_argument, NULL, OPT_RULESET}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0},
    };
    int question = 0; /* 0 auto, 1 bind, 2 reach */
    bool json = false;
    const char *ruleset = NULL;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
        switch (opt) {
        case OPT_BIND: question = 1; break;
        case OPT_REACH: question = 2; break;
        case OPT_RULESET: ruleset = optarg; break;
        case 'j': json = true; break;
        case 'h': usage_why(stdout); return CLI_OK;
        default: return cli_option_error("why", argv, opt);
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("why", optind >= argc ? "needs a PORT[/PROTO]" : "one port at a time");
    unsigned port;
    enum pk_proto proto;
    int rc = parse_port(argv[optind], &port, &proto);
    if (rc)
        return rc;

    struct pk_sock_query q = {.processes = true, .has_port = true, .port = port, .port_match = PK_MATCH_LOCAL,
                              .protos = PK_PROTO_MASK(proto)};
    struct pk_socklist *l;
    struct pk_err err = {0};
    if (pk_sockets_list(&q, &l, &err) < 0)
        return cli_lib_error("why", &err);
    if (question == 0) {
        question = 1;
        for (size_t i = 0; i < pk_socklist_count(l); i++)
            if (pk_sock_is_listening(pk_socklist_get(l, i)))
                question = 2;
    }
    struct reasons r = {PK_BUF_INIT, PK_BUF_INIT, 0};
    bool usable;
    if (question == 1)
        bind_reasons(&r, l, port, proto, &usable);
    else {
        /* every listener: a redirect may lead from this port to another */
        struct pk_sock_query all = {.processes = true, .states = PK_SS_LISTENING, .protos = PK_PROTO_MASK(proto)};
        struct pk_socklist *listeners;
        if (pk_sockets_list(&all, &listeners, &err) < 0) {
            pk_socklist_free(l);
            pk_buf_free(&r.text);
            pk_buf_free(&r.json);
            return cli_lib_error("why", &err);
        }
        reach_reasons(&r, listeners, port, proto, ruleset, &usable);
        pk_socklist_free(listeners);
    }
    if (json) {
        struct pk_buf o = PK_BUF_INIT;
        struct pk_json j;
        pk_json_init(&j, &o);
        pk_json_obj_begin(&j, NULL);
        pk_json_int(&j, "port", port);
        pk_json_str(&j, "proto", pk_proto_name(proto));
        pk_json_str(&j, "question", question == 1 ? "bind" : "reach");
        pk_json_bool(&j, "usable", usable);
        pk_json_obj_end(&j);
        /* reasons spliced in before the closing brace */
        o.data[--o.len] = '\0';
        pk_buf_printf(&o, ",\"reasons\":[%s]}\n", r.json.data ? r.json.data : "");
        fwrite(o.data, 1, o.len, stdout);
        pk_buf_free(&o);
    } else {
        printf("%u/%s: %s\n%s", port, pk_proto_name(proto),
               question == 1 ? (usable ? "can be bound" : "cannot be bound")
                             : (usable ? "reachable from outside" : "not reachable from outside"),
               r.text.data ? r.text.data : "");
    }
    pk_buf_free(&r.text);
    pk_buf_free(&r.json);
    pk_socklist_free(l);
    return usable ? CLI_OK : CLI_NOTFOUND;
}
