/* The socket list and the run that fills it: ask a source (netlink, else
 * /proc/net) while another thread reads /proc/PID/fd, then tie sockets to
 * processes, apply the filters and name the owners. */
#include "portkit/sockets.h"
#include "portkit/buf.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "portkit/procmap.h"

/* pid -> comm and uid -> user name, each string allocated once and kept for
 * the list's lifetime so records can point at it. */
struct name_entry {
    struct name_entry *next;
    long key;
    char name[];
};
#define NAME_BUCKETS 256

struct name_cache {
    struct name_entry *bucket[NAME_BUCKETS];
};

struct pk_socklist {
    struct pk_sock *v;
    size_t n, cap;
    const char *source;
    struct pk_procmap *procs;
    bool partial;
    struct name_cache comms, users;
};

static struct name_entry *name_find(struct name_cache *c, long key)
{
    for (struct name_entry *e = c->bucket[(unsigned long)key % NAME_BUCKETS]; e; e = e->next)
        if (e->key == key)
            return e;
    return NULL;
}

static struct name_entry *name_add(struct name_cache *c, long key, const char *name)
{
    size_t len = strlen(name);
    struct name_entry *e = malloc(sizeof *e + len + 1);
    if (!e)
        return NULL;
    e->key = key;
    memcpy(e->name, name, len + 1);
    struct name_entry **b = &c->bucket[(unsigned long)key % NAME_BUCKETS];
    e->next = *b;
    *b = e;
    return e;
}

static void name_cache_free(struct name_cache *c)
{
    for (size_t i = 0; i < NAME_BUCKETS; i++) {
        for (struct name_entry *e = c->bucket[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    }
}

struct pk_socklist *pk_socklist_new(void)
{
    return calloc(1, sizeof(struct pk_socklist));
}

void pk_socklist_free(struct pk_socklist *l)
{
    if (!l)
        return;
    free(l->v);
    pk_procmap_free(l->procs);
    name_cache_free(&l->comms);
    name_cache_free(&l->users);
    free(l);
}

size_t pk_socklist_count(const struct pk_socklist *l)
{
    return l ? l->n : 0;
}

const struct pk_sock *pk_socklist_get(const struct pk_socklist *l, size_t i)
{
    return &l->v[i];
}

int pk_socklist_add(struct pk_socklist *l, const struct pk_sock *s)
{
    if (PK_ARRAY_RESERVE(l->v, l->cap, l->n + 1, 256) < 0)
        return PK_ENOMEM;
    struct pk_sock *d = &l->v[l->n++];
    *d = *s;
    d->pid = -1;
    d->nholders = 0;
    d->process = NULL;
    d->user = NULL;
    return 0;
}

const char *pk_socklist_source(const struct pk_socklist *l)
{
    return l->source;
}

bool pk_socklist_partial(const struct pk_socklist *l)
{
    return l->partial;
}

size_t pk_socklist_holders(const struct pk_socklist *l, const struct pk_sock *s, int *pids,
                           size_t max)
{
    return pk_procmap_find(l->procs, s->inode, pids, max);
}

static int state_rank(const struct pk_sock *s)
{
    return pk_sock_is_listening(s) ? 0 : 1;
}

static int sock_cmp(const void *pa, const void *pb)
{
    const struct pk_sock *a = pa, *b = pb;
    int d;
    if (a->proto != b->proto)
        return a->proto < b->proto ? -1 : 1;
    if ((d = state_rank(a) - state_rank(b)) != 0)
        return d;
    if (a->local_port != b->local_port)
        return a->local_port < b->local_port ? -1 : 1;
    if (a->family != b->family)
        return a->family == AF_INET ? -1 : 1;
    if ((d = memcmp(a->local, b->local, sizeof a->local)) != 0)
        return d;
    if ((d = memcmp(a->remote, b->remote, sizeof a->remote)) != 0)
        return d;
    if (a->remote_port != b->remote_port)
        return a->remote_port < b->remote_port ? -1 : 1;
    if (a->state != b->state)
        return a->state < b->state ? -1 : 1;
    return a->inode < b->inode ? -1 : a->inode > b->inode;
}

void pk_socklist_sort(struct pk_socklist *l)
{
    if (l->n > 1)
        qsort(l->v, l->n, sizeof *l->v, sock_cmp);
}

/* ---- the run --------------------------------------------------------------- */

static const struct pk_sock_source *const default_sources[] = {
    &pk_sock_source_netlink,
    &pk_sock_source_proc,
};

static const char *comm_of(struct pk_socklist *l, const char *proc_root, int pid)
{
    struct name_entry *e = name_find(&l->comms, pid);
    if (!e) {
        char comm[64];
        if (pk_proc_comm(proc_root, pid, comm, sizeof comm) < 0)
            comm[0] = '\0'; /* gone meanwhile: remembered as unknown */
        e = name_add(&l->comms, pid, comm);
    }
    return e && e->name[0] ? e->name : NULL;
}

static const char *user_of(struct pk_socklist *l, uint32_t uid)
{
    struct name_entry *e = name_find(&l->users, (long)uid);
    if (!e) {
        char name[64];
        struct passwd pw, *res = NULL;
        char buf[1024];
        if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res && res->pw_name &&
            strlen(res->pw_name) < sizeof name)
            snprintf(name, sizeof name, "%s", res->pw_name);
        else
            snprintf(name, sizeof name, "%u", uid);
        e = name_add(&l->users, (long)uid, name);
    }
    return e ? e->name : NULL;
}

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

static bool port_matches(const struct pk_sock_query *q, const struct pk_sock *s)
{
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
            s->process = comm_of(l, q->proc_root, s->pid);
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        if (want_pid && pids[i] != q->pid)
            continue;
        const char *comm = comm_of(l, q->proc_root, pids[i]);
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
            s->user = user_of(l, s->uid);
        l->v[kept++] = *s;
    }
    l->n = kept;
    *out = l;
    return 0;
}
