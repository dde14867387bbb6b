/* The run that fills a socket list: ask a source (netlink, else
 * /proc/net) while another thread reads /proc/PID/fd, then tie sockets to
 * processes, apply the filters and name the owners. */
#include "portkit/sockets.h"
#include "portkit/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "portkit/procmap.h"
#include "sockets/socklist_impl.h"

/* ---- the run --------------------------------------------------------------- */

static const struct pk_sock_source *const default_sources[] = {
    &pk_sock_source_netlink,
    &pk_sock_source_proc,
};

/* A NAME longer than comm's 15 bytes still matches its truncated comm. */
static bool comm_matches(const char *comm, const char *want)
{
    if (!comm)
        return false;
    if (strcmp(comm, want) == 0)
        return true;
    size_t n = strlen(comm);
    return n == 15 && strlen(want) > 15 && strncmp(comm, want, 15) == 0;
}

static bool in_set(const uint64_t *set, unsigned port)
{
    return (set[port >> 6] >> (port & 63)) & 1;
}

static bool port_matches(const struct pk_sock_query *q, const struct pk_sock *s)
{
    bool connected = pk_sock_is_connected(s);
    if (q->local_ports && !in_set(q->local_ports, s->local_port))
        return false;
    if (q->remote_ports && !(connected && in_set(q->remote_ports, s->remote_port)))
        return false;
    if (q->either_ports && !in_set(q->either_ports, s->local_port) &&
        !(connected && in_set(q->either_ports, s->remote_port)))
        return false;
    if (!q->has_port)
        return true;
    unsigned how = q->port_match ? q->port_match : PK_MATCH_LOCAL;
    return ((how & PK_MATCH_LOCAL) && s->local_port == q->port) ||
           ((how & PK_MATCH_REMOTE) && s->remote_port == q->port && pk_sock_is_connected(s));
}

static bool family_matches(unsigned families, const struct pk_sock *s)
{
    if (!families)
        return true;
    return (s->family == AF_INET && (families & PK_FAMILY_V4)) ||
           (s->family == AF_INET6 && (families & PK_FAMILY_V6));
}

#define MAX_HOLDERS 64

/* Ties s to its processes; false when a pid/process filter rejects it. */
static bool attach_process(struct pk_socklist *l, const struct pk_sock_query *q, struct pk_sock *s)
{
    int pids[MAX_HOLDERS];
    size_t n = pk_procmap_find(l->procs, s->inode, pids, MAX_HOLDERS);
    if (n > MAX_HOLDERS)
        n = MAX_HOLDERS;
    s->nholders = (unsigned)n;
    s->pid = n ? pids[0] : -1;
    bool want_pid = q->pid > 0, want_name = q->process && q->process[0];
    if (!want_pid && !want_name) {
        if (n)
            s->process = sl_comm_of(l, q->proc_root, s->pid);
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        if (want_pid && pids[i] != q->pid)
            continue;
        const char *comm = sl_comm_of(l, q->proc_root, pids[i]);
        if (want_name && !comm_matches(comm, q->process))
            continue;
        s->pid = pids[i]; /* the holder the user asked about */
        s->process = comm;
        return true;
    }
    return false;
}

static int gather(const struct pk_sock_query *q, unsigned protos, unsigned states,
                  struct pk_socklist *l, struct pk_err *err)
{
    const struct pk_sock_source *const *src = q->sources ? q->sources : default_sources;
    size_t nsrc = q->sources ? q->nsources : sizeof default_sources / sizeof *default_sources;
    struct pk_err last = {0};
    for (size_t i = 0; i < nsrc; i++) {
        l->n = 0;
        pk_err_clear(&last);
        int rc = src[i]->list(protos, states, q->proc_root, l, &last);
        if (rc == 0) {
            l->source = src[i]->name;
            return 0;
        }
        if (rc != PK_EUNSUPP) {
            if (err)
                *err = last;
            return rc;
        }
    }
    l->n = 0;
    if (nsrc == 1 && last.msg[0]) {
        if (err)
            *err = last;
        return PK_EUNSUPP;
    }
    return pk_err_set(err, PK_EUNSUPP,
                      "cannot list sockets: neither netlink sock_diag nor /proc/net is available%s%s",
                      last.msg[0] ? " (" : "", last.msg[0] ? ")" : "");
}

int pk_sockets_list(const struct pk_sock_query *q, struct pk_socklist **out, struct pk_err *err)
{
    *out = NULL;
    unsigned all_protos = PK_PROTO_MASK(PK_TCP) | PK_PROTO_MASK(PK_UDP);
    unsigned protos = q->protos ? q->protos & all_protos : all_protos;
    if (!protos)
        return pk_err_set(err, PK_EINVAL, "only tcp and udp sockets can be listed");
    unsigned states = q->states ? q->states & PK_SS_ALL : PK_SS_ALL;
    if (!states)
        return pk_err_set(err, PK_EINVAL, "no valid socket state asked for");
    struct pk_socklist *l = pk_socklist_new();
    if (!l)
        return pk_err_set(err, PK_ENOMEM, "out of memory");

    bool want_procs = q->processes || q->pid > 0 || (q->process && q->process[0]);
    struct pk_procscan *scan = NULL;
    if (want_procs && pk_procscan_start(q->proc_root, &scan, NULL) < 0) {
        scan = NULL;
        l->partial = true; /* no /proc: sockets stay without processes */
    }
    int rc = gather(q, protos, states, l, err);
    if (scan) {
        struct pk_err perr = {0};
        if (pk_procscan_finish(scan, &l->procs, &perr) < 0) {
            if (rc == 0)
                rc = pk_err_set(err, perr.code, "%s", perr.msg);
        } else {
            l->partial = l->partial || pk_procmap_partial(l->procs);
        }
    }
    if (rc < 0) {
        pk_socklist_free(l);
        return rc;
    }

    size_t kept = 0;
    for (size_t i = 0; i < l->n; i++) {
        struct pk_sock *s = &l->v[i];
        if (!family_matches(q->families, s) || !port_matches(q, s))
            continue;
        if (want_procs && !attach_process(l, q, s))
            continue;
        if (s->inode)
            s->user = sl_user_of(l, s->uid);
        l->v[kept++] = *s;
    }
    l->n = kept;
    *out = l;
    return 0;
}
