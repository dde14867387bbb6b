/* What a socket record means and how it reads: state names, addresses,
 * flags from the registry and this host's port ranges, and its JSON. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "portkit/json.h"
#include "portkit/sockets.h"
#include "portkit/registry.h"

static const char *const state_names[PK_SS_COUNT] = {
    [PK_SS_UNKNOWN] = "UNKNOWN",        [PK_SS_ESTABLISHED] = "ESTABLISHED",
    [PK_SS_SYN_SENT] = "SYN-SENT",      [PK_SS_SYN_RECV] = "SYN-RECV",
    [PK_SS_FIN_WAIT1] = "FIN-WAIT-1",   [PK_SS_FIN_WAIT2] = "FIN-WAIT-2",
    [PK_SS_TIME_WAIT] = "TIME-WAIT",    [PK_SS_CLOSE] = "CLOSE",
    [PK_SS_CLOSE_WAIT] = "CLOSE-WAIT",  [PK_SS_LAST_ACK] = "LAST-ACK",
    [PK_SS_LISTEN] = "LISTEN",          [PK_SS_CLOSING] = "CLOSING",
    [PK_SS_NEW_SYN_RECV] = "SYN-RECV",  [PK_SS_BOUND] = "BOUND",
};

const char *pk_sock_state_name(enum pk_proto proto, enum pk_sock_state s)
{
    if ((unsigned)s >= PK_SS_COUNT)
        return "UNKNOWN";
    if (s == PK_SS_CLOSE && proto == PK_UDP)
        return "UNCONN";
    return state_names[s];
}

#define M(s) PK_SS_MASK(PK_SS_##s)
static const struct {
    const char *name;
    unsigned mask;
} state_words[] = {
    {"established", M(ESTABLISHED)},
    {"estab", M(ESTABLISHED)},
    {"syn-sent", M(SYN_SENT)},
    {"syn-recv", M(SYN_RECV) | M(NEW_SYN_RECV)},
    {"syn-received", M(SYN_RECV) | M(NEW_SYN_RECV)},
    {"fin-wait-1", M(FIN_WAIT1)},
    {"fin-wait-2", M(FIN_WAIT2)},
    {"time-wait", M(TIME_WAIT)},
    {"close", M(CLOSE)},
    {"closed", M(CLOSE)},
    {"unconn", M(CLOSE)},
    {"unconnected", M(CLOSE)},
    {"close-wait", M(CLOSE_WAIT)},
    {"last-ack", M(LAST_ACK)},
    {"listen", M(LISTEN)},
    {"closing", M(CLOSING)},
    {"bound", M(BOUND)},
    {"bound-inactive", M(BOUND)},
    {"listening", PK_SS_LISTENING},
    {"connected", PK_SS_ALL & ~(M(LISTEN) | M(CLOSE) | M(BOUND) | M(UNKNOWN))},
    {"all", PK_SS_ALL},
};
#undef M

int pk_sock_state_parse(const char *name, unsigned *mask, struct pk_err *err)
{
    char norm[32];
    size_t n = strlen(name);
    if (n == 0 || n >= sizeof norm)
        goto bad;
    for (size_t i = 0; i <= n; i++) {
        char c = (char)tolower((unsigned char)name[i]);
        norm[i] = c == '_' ? '-' : c;
    }
    for (size_t i = 0; i < sizeof state_words / sizeof *state_words; i++) {
        if (strcmp(norm, state_words[i].name) == 0) {
            *mask |= state_words[i].mask;
            return 0;
        }
    }
    /* "finwait1", "timewait": the spellings without dashes */
    for (size_t i = 0; i < sizeof state_words / sizeof *state_words; i++) {
        const char *w = state_words[i].name;
        const char *a = norm;
        while (*a && *w) {
            if (*w == '-') {
                w++;
                continue;
            }
            if (*a != *w)
                break;
            a++;
            w++;
        }
        if (!*a && !*w) {
            *mask |= state_words[i].mask;
            return 0;
        }
    }
bad:
    return pk_err_set(err, PK_EINVAL,
                      "unknown socket state '%.40s' (try listen, established, time-wait, "
                      "unconn, connected, all)",
                      name);
}

static const char *const flag_names[PK_SF_COUNT] = {"EXPOSED", "RISK", "PRIVILEGED", "EPHEMERAL"};

const char *pk_sock_flag_name(unsigned flag_bit)
{
    for (unsigned i = 0; i < PK_SF_COUNT; i++)
        if (flag_bit == 1u << i)
            return flag_names[i];
    return "?";
}

static bool addr_is_zero(int family, const unsigned char *a)
{
    static const unsigned char zero[16];
    return memcmp(a, zero, family == AF_INET ? 4 : 16) == 0;
}

static bool v4_is_loopback(const unsigned char *a)
{
    return a[0] == 127;
}

static bool v6_is_v4mapped(const unsigned char *a)
{
    static const unsigned char prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, prefix, 12) == 0;
}

bool pk_sock_is_listening(const struct pk_sock *s)
{
    if (s->proto == PK_TCP)
        return s->state == PK_SS_LISTEN;
    return s->state == PK_SS_CLOSE;
}

bool pk_sock_is_connected(const struct pk_sock *s)
{
    return s->remote_port != 0 || !addr_is_zero(s->family, s->remote);
}

bool pk_sock_is_wildcard(const struct pk_sock *s)
{
    return addr_is_zero(s->family, s->local);
}

/* The kernel gives the loopback device index 1 in every network namespace. */
#define LOOPBACK_IFINDEX 1

bool pk_sock_is_loopback(const struct pk_sock *s)
{
    if (s->ifindex == LOOPBACK_IFINDEX)
        return true;
    if (s->family == AF_INET)
        return v4_is_loopback(s->local);
    static const unsigned char one[16] = {[15] = 1};
    if (memcmp(s->local, one, 16) == 0)
        return true;
    return v6_is_v4mapped(s->local) && v4_is_loopback(s->local + 12);
}

unsigned pk_sock_service_port(const struct pk_sock *s, const struct pk_hostinfo *host)
{
    if (host && pk_sock_is_connected(s) && !pk_sock_is_listening(s) &&
        pk_hostinfo_is_ephemeral(host, s->local_port) &&
        !pk_hostinfo_is_ephemeral(host, s->remote_port))
        return s->remote_port;
    return s->local_port;
}

void pk_sock_annotate(const struct pk_registry *reg, const struct pk_hostinfo *host,
                      const struct pk_sock *s, struct pk_sock_notes *out)
{
    unsigned svc = pk_sock_service_port(s, host);
    out->service = reg && svc ? pk_registry_display_name(reg, svc, s->proto) : NULL;
    out->range = pk_port_range(s->local_port);
    out->flags = 0;
    if (pk_sock_is_listening(s) && !pk_sock_is_loopback(s) && !pk_sock_is_connected(s))
        out->flags |= PK_SF_EXPOSED;
    /* RISK only where a trojan or backdoor made the port its own and the
     * program holding it is not the port's legitimate service */
    if (reg && svc && pk_registry_risk_flag(reg, svc, s->proto, pk_sock_is_listening(s) ? s->process : NULL))
        out->flags |= PK_SF_RISK;
    if (host && s->local_port && pk_hostinfo_is_privileged(host, s->local_port))
        out->flags |= PK_SF_PRIVILEGED;
    if (host && pk_hostinfo_is_ephemeral(host, s->local_port))
        out->flags |= PK_SF_EPHEMERAL;
}

char *pk_sock_addr_str(int family, const unsigned char *addr, char *buf, size_t size)
{
    /* As the kernel reports it: a dual-stack socket's ::ffff:a.b.c.d stays
     * visible, as ss shows it (the interface is printed separately). */
    struct pk_addr a = {.family = family == AF_INET ? AF_INET : AF_INET6};
    memcpy(a.bytes, addr, a.family == AF_INET ? 4 : 16);
    pk_addr_format(&a, buf, size);
    return buf;
}

char *pk_sock_endpoint_str(int family, const unsigned char *addr, unsigned port,
                           const char *ifname, char *buf, size_t size)
{
    char a[PK_ADDR_MAX];
    pk_sock_addr_str(family, addr, a, sizeof a);
    const char *pct = ifname && *ifname ? "%" : "";
    if (!ifname)
        ifname = "";
    if (family == AF_INET6)
        snprintf(buf, size, "[%s%s%s]:%u", a, pct, ifname, port);
    else
        snprintf(buf, size, "%s%s%s:%u", a, pct, ifname, port);
    return buf;
}

void pk_sock_json(const struct pk_sock *s, const struct pk_sock_notes *n, const int *pids,
                  size_t npids, const char *ifname, struct pk_buf *out)
{
    struct pk_json j;
    char a[PK_ADDR_MAX];
    pk_json_init(&j, out);
    pk_json_obj_begin(&j, NULL);
    pk_json_str(&j, "proto", pk_proto_name(s->proto));
    pk_json_str(&j, "family", s->family == AF_INET ? "ipv4" : "ipv6");
    pk_json_str(&j, "local_addr", pk_sock_addr_str(s->family, s->local, a, sizeof a));
    pk_json_int(&j, "local_port", s->local_port);
    if (pk_sock_is_connected(s)) {
        pk_json_str(&j, "remote_addr", pk_sock_addr_str(s->family, s->remote, a, sizeof a));
        pk_json_int(&j, "remote_port", s->remote_port);
    } else {
        pk_json_null(&j, "remote_addr");
        pk_json_null(&j, "remote_port");
    }
    pk_json_str(&j, "state", pk_sock_state_name(s->proto, s->state));
    if (s->pid > 0)
        pk_json_int(&j, "pid", s->pid);
    else
        pk_json_null(&j, "pid");
    pk_json_arr_begin(&j, "pids");
    for (size_t i = 0; i < npids; i++)
        pk_json_int(&j, NULL, pids[i]);
    pk_json_arr_end(&j);
    pk_json_str(&j, "process", s->process);
    pk_json_str(&j, "user", s->user);
    if (s->inode) {
        pk_json_int(&j, "uid", s->uid);
        pk_json_int(&j, "inode", (long long)s->inode);
    } else {
        pk_json_null(&j, "uid");
        pk_json_null(&j, "inode");
    }
    pk_json_str(&j, "interface", s->ifindex ? ifname : NULL);
    pk_json_str(&j, "service", n->service);
    pk_json_str(&j, "range", pk_range_name(n->range));
    pk_json_arr_begin(&j, "flags");
    for (unsigned i = 0; i < PK_SF_COUNT; i++)
        if (n->flags & (1u << i))
            pk_json_str(&j, NULL, flag_names[i]);
    pk_json_arr_end(&j);
    pk_json_obj_end(&j);
}
