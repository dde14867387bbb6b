/* portkit who: which process holds a port (the answer to "Address already
 * in use"). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <unistd.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "portkit/json.h"
#include "portkit/buf.h"
#include "portkit/procmap.h"
#include "portkit/registry.h"
#include "portkit/sockets.h"
#include "sockrow.h"

void usage_who(FILE *out)
{
    fprintf(out,
            "Usage: portkit who [OPTIONS] PORT[/PROTO]\n"
            "       portkit who [OPTIONS] :PORT | tcp:PORT     (lsof -i habits)\n"
            "Which processes hold PORT on this host: pid, name, full command line, user,\n"
            "and each socket's address and state. PORT is a number or a service name;\n"
            "PROTO is tcp or udp (default: both). Processes of this host connected to\n"
            "PORT are listed after the holders, marked as clients (as lsof -i does);\n"
            "when nothing holds PORT they are only counted.\n\n"
            "Options:\n"
            "  -t, --tcp        TCP only          -u, --udp   UDP only\n"
            "  -j, --json       JSON Lines, one object per process with its sockets\n"
            "  -q, --quiet      print nothing; the exit status answers\n"
            "  -k, --kill       stop the holders with SIGTERM (as fuser -k), after asking\n"
            "                   on a terminal; --yes answers for scripts\n"
            "      --yes        confirm -k without asking\n"
            "      --proc       read /proc/net instead of asking netlink\n"
            "  -h, --help       this help\n\n"
            "Sockets in TIME-WAIT belong to no process any more but still block a plain\n"
            "bind(); they are listed as held by the kernel. Without root, other users'\n"
            "processes show as unknown.\n"
            "Exit status: 0 held, 1 free, 2 bad input, 3 system failure.\n");
}

/* One holder (or none: pid 0 = kernel-held, -1 = a process we may not see)
 * and the sockets it holds. */
struct group {
    int pid;
    bool client;   /* its sockets are connections to the port, not holding it */
    size_t *socks;
    size_t n, cap;
};

struct groups {
    struct group *v;
    size_t n, cap;
};

static struct group *group_for(struct groups *g, int pid, bool client)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->v[i].pid == pid && g->v[i].client == client)
            return &g->v[i];
    if (PK_ARRAY_RESERVE(g->v, g->cap, g->n + 1, 8) < 0)
        return NULL;
    g->v[g->n] = (struct group){pid, client, NULL, 0, 0};
    return &g->v[g->n++];
}

static bool group_add(struct group *gr, size_t sock)
{
    if (PK_ARRAY_RESERVE(gr->socks, gr->cap, gr->n + 1, 8) < 0)
        return false;
    gr->socks[gr->n++] = sock;
    return true;
}

static int group_cmp(const void *a, const void *b)
{
    const struct group *x = a, *y = b;
    if (x->client != y->client)
        return x->client - y->client; /* holders before clients */
    /* real processes first, by pid; then unknown (-1), then the kernel (0) */
    int kx = x->pid > 0 ? 0 : x->pid < 0 ? 1 : 2, ky = y->pid > 0 ? 0 : y->pid < 0 ? 1 : 2;
    if (kx != ky)
        return kx - ky;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

static void groups_free(struct groups *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->v[i].socks);
    free(g->v);
}

/* A socket on another local port whose peer is the port: a client. */
static bool is_client(const struct pk_sock *s, unsigned port)
{
    return s->local_port != port && pk_sock_is_connected(s) && s->remote_port == port;
}

static int build_groups(const struct pk_socklist *l, unsigned port, struct groups *g)
{
    for (size_t i = 0; i < pk_socklist_count(l); i++) {
        const struct pk_sock *s = pk_socklist_get(l, i);
        bool client = is_client(s, port);
        int pids[64];
        size_t n = pk_socklist_holders(l, s, pids, 64);
        if (n > 64)
            n = 64;
        if (n == 0) {
            pids[0] = s->inode ? -1 : 0;
            n = 1;
        }
        for (size_t k = 0; k < n; k++) {
            struct group *gr = group_for(g, pids[k], client);
            if (!gr || !group_add(gr, i))
                return CLI_FAIL;
        }
    }
    if (g->n > 1)
        qsort(g->v, g->n, sizeof *g->v, group_cmp);
    return 0;
}

static const char *user_name(unsigned uid, char *buf, size_t size)
{
    struct passwd pw, *res = NULL;
    char tmp[1024];
    if (getpwuid_r(uid, &pw, tmp, sizeof tmp, &res) == 0 && res && res->pw_name)
        snprintf(buf, size, "%s", res->pw_name);
    else
        snprintf(buf, size, "%u", uid);
    return buf;
}

struct holder_info {
    char comm[64];
    char user[64];
    struct pk_buf cmdline;
    bool known;
};

static void holder_info(const struct group *gr, const struct pk_socklist *l, struct holder_info *h)
{
    memset(h, 0, sizeof *h);
    if (gr->pid <= 0) {
        const struct pk_sock *s = pk_socklist_get(l, gr->socks[0]);
        if (s->user)
            snprintf(h->user, sizeof h->user, "%s", s->user);
        return;
    }
    h->known = pk_proc_comm(NULL, gr->pid, h->comm, sizeof h->comm) == 0;
    pk_proc_cmdline(NULL, gr->pid, &h->cmdline);
    unsigned uid;
    if (pk_proc_uid(NULL, gr->pid, &uid) == 0)
        user_name(uid, h->user, sizeof h->user);
}

static void print_text(struct sockrow_ctx *c, const struct pk_socklist *l, const struct groups *g)
{
    FILE *o = c->stream;
    const char *bold = cli_sgr(o, CLI_BOLD), *reset = cli_sgr(o, CLI_RESET);
    const char *dim = cli_sgr(o, CLI_DIM), *cyan = cli_sgr(o, CLI_CYAN);
    for (size_t i = 0; i < g->n; i++) {
        const struct group *gr = &g->v[i];
        struct holder_info h;
        holder_info(gr, l, &h);
        if (gr->pid > 0) {
            fprintf(o, "%spid %d%s  %s%s%s", bold, gr->pid, reset, cyan, h.known ? h.comm : "?", reset);
            if (h.user[0])
                fprintf(o, "  user %s", h.user);
            if (gr->client)
                fprintf(o, "  %s(client: connected to the port)%s", dim, reset);
            fputc('\n', o);
            if (h.cmdline.len)
                fprintf(o, "  %scommand%s  %s\n", dim, reset, h.cmdline.data);
        } else if (gr->pid < 0) {
            fprintf(o, "%sunknown process%s%s%s%s (%s)\n", bold, reset, gr->client ? " (client)" : "",
                    h.user[0] ? " of user " : "",
                    h.user,
                    pk_socklist_partial(l) ? "not ours to see: run as root"
                                           : "not visible here: another PID namespace?");
        } else {
            fprintf(o, "%sno process%s (TIME-WAIT and the like: the kernel holds these until they "
                       "expire)\n", bold, reset);
        }
        pk_buf_free(&h.cmdline);
        for (size_t k = 0; k < gr->n; k++) {
            const struct pk_sock *s = pk_socklist_get(l, gr->socks[k]);
            char local[PK_ENDPOINT_MAX], remote[PK_ENDPOINT_MAX];
            sockrow_local(c, s, local, sizeof local);
            struct pk_sock_notes n;
            pk_sock_annotate(c->reg, &c->host, s, &n);
            struct pk_buf flags = PK_BUF_INIT;
            if (n.flags)
                sockrow_flags(c, n.flags, &flags);
            if (pk_sock_is_connected(s)) {
                sockrow_remote(s, remote, sizeof remote);
                fprintf(o, "  %-4s %s <-> %s  %s%s%s\n", pk_proto_name(s->proto), local, remote,
                        pk_sock_state_name(s->proto, s->state), flags.len ? "  " : "",
                        flags.len ? flags.data : "");
            } else {
                fprintf(o, "  %-4s %s  %s%s%s\n", pk_proto_name(s->proto), local,
                        pk_sock_state_name(s->proto, s->state), flags.len ? "  " : "",
                        flags.len ? flags.data : "");
            }
            pk_buf_free(&flags);
        }
    }
}

static void print_json(struct sockrow_ctx *c, const struct pk_socklist *l, const struct groups *g)
{
    struct pk_buf o = PK_BUF_INIT;
    for (size_t i = 0; i < g->n; i++) {
        const struct group *gr = &g->v[i];
        struct holder_info h;
        holder_info(gr, l, &h);
        struct pk_json j;
        pk_json_init(&j, &o);
        pk_json_obj_begin(&j, NULL);
        if (gr->pid > 0)
            pk_json_int(&j, "pid", gr->pid);
        else
            pk_json_null(&j, "pid");
        pk_json_str(&j, "process", h.known ? h.comm : NULL);
        pk_json_str(&j, "cmdline", gr->pid > 0 && h.known ? h.cmdline.data ? h.cmdline.data : "" : NULL);
        pk_json_str(&j, "user", h.user[0] ? h.user : NULL);
        pk_json_str(&j, "holder", gr->pid > 0 ? "process" : gr->pid < 0 ? "unknown" : "kernel");
        pk_json_str(&j, "role", gr->client ? "client" : "holder");
        pk_json_arr_begin(&j, "sockets");
        for (size_t k = 0; k < gr->n; k++) {
            /* each socket object is written whole by sockrow_json_one, so
             * the comma bookkeeping is done here */
            if (!j.first[j.depth])
                pk_buf_putc(&o, ',');
            j.first[j.depth] = false;
            sockrow_json_one(c, l, pk_socklist_get(l, gr->socks[k]), &o);
        }
        pk_json_arr_end(&j);
        pk_json_obj_end(&j);
        pk_buf_putc(&o, '\n');
        pk_buf_free(&h.cmdline);
    }
    if (o.len)
        cli_write(c->stream, o.data, o.len);
    pk_buf_free(&o);
}

/* "8080", "8080/tcp", "ssh/udp" (fuser), ":8080", "tcp:8080" (lsof -i) */
static int parse_target(const char *arg, unsigned *port, unsigned *protos)
{
    char buf[128];
    if (strlen(arg) >= sizeof buf)
        return cli_usage_error("who", "'%s' is not a port", arg);
    const char *colon = strrchr(arg, ':');
    if (colon && colon != arg) {
        enum pk_proto p;
        if (pk_proto_parse(arg, (size_t)(colon - arg), &p) < 0 || (p != PK_TCP && p != PK_UDP))
            return cli_usage_error("who", "'%s': give PORT, :PORT, tcp:PORT or PORT/udp (a host is "
                                          "not needed: who looks at this host)", arg);
        *protos |= PK_PROTO_MASK(p);
    }
    snprintf(buf, sizeof buf, "%s", colon ? colon + 1 : arg);
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = '\0';
        enum pk_proto p;
        if (pk_proto_parse(slash + 1, strlen(slash + 1), &p) < 0 || (p != PK_TCP && p != PK_UDP))
            return cli_usage_error("who", "'%s': the transport must be tcp or udp", arg);
        *protos |= PK_PROTO_MASK(p);
    }
    if (!buf[0])
        return cli_usage_error("who", "'%s' has no port in it", arg);
    return sockrow_parse_port("who", buf, port);
}

/* fuser -k: SIGTERM to every process holding the port (not its clients),
 * after a yes on the terminal or with --yes. */
static int stop_holders(const struct pk_socklist *l, const struct groups *g, unsigned port, bool yes)
{
    size_t n = 0;
    for (size_t i = 0; i < g->n; i++)
        n += !g->v[i].client && g->v[i].pid > 0;
    if (n == 0)
        return cli_usage_error("who", "-k: no process of ours to stop holds port %u", port);
    if (!yes) {
        fflush(stdout);
        fprintf(stderr, "Stop %zu process%s holding port %u (SIGTERM)? [y/N] ", n, n == 1 ? "" : "es", port);
        char answer[16];
        if (!fgets(answer, sizeof answer, stdin) || (answer[0] != 'y' && answer[0] != 'Y')) {
            cli_message("who", "nothing stopped");
            return CLI_NOTFOUND;
        }
    }
    int rc = CLI_OK;
    for (size_t i = 0; i < g->n; i++) {
        const struct group *gr = &g->v[i];
        if (gr->client || gr->pid <= 0)
            continue;
        char comm[64] = "?";
        pk_proc_comm(NULL, gr->pid, comm, sizeof comm);
        if (kill(gr->pid, SIGTERM) == 0) {
            cli_message("who", "sent SIGTERM to pid %d (%s)", gr->pid, comm);
        } else {
            cli_message("who", "could not stop pid %d (%s): %s", gr->pid, comm, strerror(errno));
            rc = CLI_FAIL;
        }
    }
    (void)l;
    return rc;
}

int cmd_who(int argc, char **argv)
{
    enum { OPT_PROC = 256, OPT_REGISTRY, OPT_YES };
    static const struct option opts[] = {
        {"tcp", no_argument, NULL, 't'},
        {"udp", no_argument, NULL, 'u'},
        {"json", no_argument, NULL, 'j'},
        {"quiet", no_argument, NULL, 'q'},
        {"kill", no_argument, NULL, 'k'},
        {"yes", no_argument, NULL, OPT_YES},
        {"proc", no_argument, NULL, OPT_PROC},
        {"registry", required_argument, NULL, OPT_REGISTRY},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    /* local and remote: lsof -i :PORT also shows the clients of PORT */
    struct pk_sock_query q = {.processes = true, .has_port = true,
                              .port_match = PK_MATCH_LOCAL | PK_MATCH_REMOTE};
    bool json = false, quiet = false, force_proc = false, kill_them = false, yes = false;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":tujqkh", opts, NULL)) != -1) {
        switch (opt) {
        case 't': q.protos |= PK_PROTO_MASK(PK_TCP); break;
        case 'u': q.protos |= PK_PROTO_MASK(PK_UDP); break;
        case 'j': json = true; break;
        case 'q': quiet = true; break;
        case 'k': kill_them = true; break;
        case OPT_YES: yes = true; break;
        case OPT_PROC: force_proc = true; break;
        case OPT_REGISTRY: cli_registry_path = optarg; break;
        case 'h': usage_who(stdout); return CLI_OK;
        default: return cli_option_error("who", argv, opt);
        }
    }
    if (optind >= argc)
        return cli_usage_error("who", "which port? e.g. portkit who 8080 (see --help)");
    if (optind + 1 < argc)
        return cli_usage_error("who", "one port at a time (got '%s' too)", argv[optind + 1]);
    if (yes && !kill_them)
        return cli_usage_error("who", "--yes confirms -k; without -k nothing is stopped");
    if (kill_them && !yes && (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO)))
        return cli_usage_error("who", "-k stops processes: confirm with --yes when not on a terminal");
    unsigned proto_arg = 0;
    if (parse_target(argv[optind], &q.port, &proto_arg))
        return CLI_USAGE;
    if (proto_arg)
        q.protos = proto_arg;
    const struct pk_registry *reg = cli_registry("who");
    if (!reg)
        return CLI_USAGE;
    const struct pk_sock_source *one = NULL;
    if (sockrow_sources("who", force_proc, &q, &one))
        return CLI_USAGE;

    struct pk_err err = {0};
    struct pk_socklist *l;
    if (pk_sockets_list(&q, &l, &err) < 0)
        return cli_lib_error("who", &err);
    pk_socklist_sort(l);
    const char *proto_txt = q.protos == PK_PROTO_MASK(PK_TCP)   ? "/tcp"
                            : q.protos == PK_PROTO_MASK(PK_UDP) ? "/udp"
                                                                : "";
    size_t held = 0;
    for (size_t i = 0; i < pk_socklist_count(l); i++)
        held += !is_client(pk_socklist_get(l, i), q.port);
    struct groups g = {0};
    int rc = build_groups(l, q.port, &g);
    /* Clients are shown beside the holders; a free port prints nothing on
     * stdout (scripts test it), and its clients are only counted. */
    if (rc == 0 && !quiet && held) {
        struct sockrow_ctx c;
        sockrow_init(&c, stdout, reg);
        if (json)
            print_json(&c, l, &g);
        else
            print_text(&c, l, &g);
    }
    size_t clients = pk_socklist_count(l) - held;
    if (rc == 0 && !held) {
        if (!quiet && !json && clients)
            cli_message("who", "nothing holds port %u%s: it is free (%zu connection%s from here to "
                               "port %u elsewhere: portkit ls -a --dport %u)",
                        q.port, proto_txt, clients, clients == 1 ? "" : "s", q.port, q.port);
        else if (!quiet && !json)
            cli_message("who", "nothing holds port %u%s: it is free", q.port, proto_txt);
        rc = CLI_NOTFOUND;
    } else if (rc == 0 && kill_them) {
        rc = stop_holders(l, &g, q.port, yes);
    }
    groups_free(&g);
    pk_socklist_free(l);
    return rc;
}
