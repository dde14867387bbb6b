/* The forward verb's advice to people: see forward_cli.h. */
#include "forward_cli.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "portkit/addr.h"
#include "portkit/hostinfo.h"
#include "portkit/safefile.h"
#include "portkit/sockets.h"

/* ---- socat habits ---- */

struct socat_kind {
    const char *prefix;
    bool listen, udp;
};

static const struct socat_kind socat_kinds[] = {
    {.prefix = "TCP-LISTEN:", .listen = true},  {.prefix = "TCP4-LISTEN:", .listen = true},
    {.prefix = "TCP6-LISTEN:", .listen = true}, {.prefix = "TCP-L:", .listen = true},
    {.prefix = "UDP-LISTEN:", .listen = true, .udp = true},
    {.prefix = "UDP4-LISTEN:", .listen = true, .udp = true},
    {.prefix = "UDP6-LISTEN:", .listen = true, .udp = true},
    {.prefix = "UDP-RECVFROM:", .listen = true, .udp = true},
    {.prefix = "TCP-CONNECT:"}, {.prefix = "TCP4:"}, {.prefix = "TCP6:"}, {.prefix = "TCP:"},
    {.prefix = "UDP-CONNECT:", .udp = true}, {.prefix = "UDP-SENDTO:", .udp = true},
    {.prefix = "UDP4:", .udp = true}, {.prefix = "UDP6:", .udp = true},
    {.prefix = "UDP:", .udp = true},
};

static const struct socat_kind *socat_kind(const char *arg)
{
    for (size_t i = 0; i < sizeof socat_kinds / sizeof socat_kinds[0]; i++)
        if (strncasecmp(arg, socat_kinds[i].prefix, strlen(socat_kinds[i].prefix)) == 0)
            return &socat_kinds[i];
    return NULL;
}

/* The address part of a socat address: after the prefix, up to options. */
static void socat_body(const char *arg, const struct socat_kind *k, char *out, size_t size)
{
    const char *p = arg + strlen(k->prefix);
    size_t n = strcspn(p, ",");
    snprintf(out, size, "%.*s", (int)(n < 200 ? n : 200), p);
}

/* socat's HOST:PORT may be an IPv6 address without brackets. */
static void portkit_target(const char *body, char *out, size_t size)
{
    const char *colon = strrchr(body, ':');
    if (colon && colon != strchr(body, ':') && body[0] != '[')
        snprintf(out, size, "[%.*s]%s", (int)(colon - body), body, colon);
    else
        snprintf(out, size, "%s", body);
}

bool fwcli_socat_hint(const char *listen, const char *target)
{
    const struct socat_kind *lk = socat_kind(listen), *tk = socat_kind(target);
    if (!lk && !tk)
        return false;
    char body[256], l[260], t[280];
    const char *bad = lk ? listen : target;
    bool udp = (lk && lk->udp) || (tk && tk->udp);
    if (lk) {
        socat_body(listen, lk, body, sizeof body);
        snprintf(l, sizeof l, "%s%s", strchr(body, ':') ? "" : ":", body);
    } else {
        snprintf(l, sizeof l, "%s", listen);
    }
    if (tk) {
        socat_body(target, tk, body, sizeof body);
        portkit_target(body, t, sizeof t);
    } else {
        snprintf(t, sizeof t, "%s", target);
    }
    cli_usage_error("forward", "'%s' is socat address syntax, which portkit does not read; "
                    "write: portkit forward%s %s %s", bad, udp ? " --udp" : "", l, t);
    return true;
}

/* ---- a listen that failed ---- */

static bool rule_port(const struct pk_fw_rule *r, unsigned *port)
{
    struct sockaddr_storage ss = r->listen.ss;
    *port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                    : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return *port != 0;
}

/* "python3 (pid 812, user alice)" for the first process listening on
 * (port, proto), or false when none can be named. */
static bool port_holder(unsigned port, enum pk_proto proto, char *out, size_t size)
{
    struct pk_sock_query q = {
        .protos = PK_PROTO_MASK(proto), .states = PK_SS_LISTENING, .processes = true,
        .has_port = true, .port = port, .port_match = PK_MATCH_LOCAL,
    };
    struct pk_socklist *l = NULL;
    struct pk_err err = {0};
    bool found = false;
    if (pk_sockets_list(&q, &l, &err) == 0) {
        for (size_t i = 0; i < pk_socklist_count(l) && !found; i++) {
            const struct pk_sock *s = pk_socklist_get(l, i);
            if (s->pid <= 0 || s->pid == getpid())
                continue;
            snprintf(out, size, "%s (pid %d, user %s)", s->process ? s->process : "?", s->pid,
                     s->user ? s->user : "?");
            found = true;
        }
        if (!found && pk_socklist_count(l) > 0) {
            snprintf(out, size, "a process this user cannot see (run as root to name it)");
            found = true;
        }
    }
    pk_socklist_free(l);
    return found;
}

void fwcli_explain_listen_error(const struct pk_fw_config *cfg, struct pk_err *err)
{
    char msg[PK_ERR_MSG_MAX], extra[200] = "";
    if (err->sys_errno == EADDRINUSE) {
        for (size_t i = 0; i < pk_fw_config_count(cfg) && !extra[0]; i++) {
            const struct pk_fw_rule *r = pk_fw_config_rule(cfg, i);
            unsigned port;
            char who[120];
            if (rule_port(r, &port) && port_holder(port, r->proto, who, sizeof who))
                snprintf(extra, sizeof extra, "; held by %s, see portkit who %u%s", who, port,
                         r->proto == PK_UDP ? "/udp" : "");
        }
    } else if (err->sys_errno == EACCES) {
        struct pk_hostinfo host;
        pk_hostinfo_read(&host, NULL);
        for (size_t i = 0; i < pk_fw_config_count(cfg) && !extra[0]; i++) {
            unsigned port;
            if (rule_port(pk_fw_config_rule(cfg, i), &port) && port < host.unprivileged_start)
                snprintf(extra, sizeof extra,
                         "; ports below %u (net.ipv4.ip_unprivileged_port_start) need root or "
                         "CAP_NET_BIND_SERVICE", host.unprivileged_start);
        }
    }
    if (!extra[0])
        return;
    snprintf(msg, sizeof msg, "%s%s", err->msg, extra);
    int code = err->code, sys = err->sys_errno;
    pk_err_set(err, code, "%s", msg);
    err->sys_errno = sys;
}

/* ---- set-ups worth a warning ---- */

static bool others_write(const struct stat *st, bool dir)
{
    if (dir && (st->st_mode & S_ISVTX) && !(st->st_mode & S_IWGRP && st->st_gid != 0) &&
        st->st_uid == 0)
        return false; /* sticky (/tmp): others cannot replace root's file */
    return st->st_uid != 0 || (st->st_mode & S_IWOTH) || ((st->st_mode & S_IWGRP) && st->st_gid != 0);
}

void fwcli_check_config_perms(const char *path, void (*warn)(void *arg, const char *msg),
                              void *arg)
{
    if (geteuid() != 0 || !path)
        return;
    struct stat st;
    char msg[512], *copy = strdup(path);
    const char *dir = copy ? dirname(copy) : ".";
    if (stat(path, &st) == 0 && others_write(&st, false))
        snprintf(msg, sizeof msg,
                 "%s may be changed by other users (owner uid %u, mode %04o) and this forwarder "
                 "runs as root: chown root and chmod go-w it", path, (unsigned)st.st_uid,
                 (unsigned)(st.st_mode & 07777));
    else if (stat(dir, &st) == 0 && others_write(&st, true))
        snprintf(msg, sizeof msg,
                 "the directory %s of %s may be changed by other users (owner uid %u, mode %04o) "
                 "and this forwarder runs as root: keep its config in a root-only directory",
                 dir, path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
    else
        msg[0] = '\0';
    free(copy);
    if (msg[0])
        warn(arg, msg);
}

void fwcli_check_exposure(const struct pk_fw_config *cfg, void (*warn)(void *arg, const char *msg),
                          void *arg)
{
    if (!isatty(STDERR_FILENO))
        return;
    for (size_t i = 0; i < pk_fw_config_count(cfg); i++) {
        const struct pk_fw_rule *r = pk_fw_config_rule(cfg, i);
        struct pk_addr listen, target;
        if (pk_addr_from_sockaddr((const struct sockaddr *)&r->listen.ss, &listen) < 0 ||
            pk_addr_from_sockaddr((const struct sockaddr *)&r->target.ss, &target) < 0)
            continue;
        if (!(r->listen.any || pk_addr_is_unspecified(&listen)) || !pk_addr_is_loopback(&target))
            continue;
        char l[PK_FW_ADDRSTRLEN], t[PK_FW_ADDRSTRLEN], msg[512];
        unsigned port;
        rule_port(r, &port);
        pk_fw_addr_format(&r->listen, l, sizeof l);
        pk_fw_addr_format(&r->target, t, sizeof t);
        snprintf(msg, sizeof msg,
                 "%s listens on every interface and forwards to %s, a loopback-only service: "
                 "it is now reachable from the network; to keep it local, listen on "
                 "127.0.0.1:%u", l, t, port);
        warn(arg, msg);
        return; /* once */
    }
}

/* ---- rinetd's pid file ---- */

int fwcli_write_pidfile(const char *path, struct pk_err *err)
{
    /* Written under a temporary name and renamed into place: never through
     * a planted symlink, and a reader never sees half a number. */
    struct pk_outfile f;
    if (pk_outfile_open(&f, path, err) < 0)
        return PK_EINVAL;
    char text[32];
    int n = snprintf(text, sizeof text, "%d\n", (int)getpid());
    if (write(f.fd, text, (size_t)n) != n) {
        pk_err_sys(err, "pidlogfile %s: write", path);
        pk_outfile_abort(&f);
        return PK_ESYS;
    }
    return pk_outfile_commit(&f, err);
}
