/* The socket list: records, their order, and the process and user names
 * they point at. Filled by the sources (sockets_netlink.c, sockets_proc.c)
 * through pk_socklist_add; the run that drives them is sockets.c. */
#include "portkit/buf.h"
#include "portkit/sockets.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sockets/socklist_impl.h"

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

const char *sl_comm_of(struct pk_socklist *l, const char *proc_root, int pid)
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

const char *sl_user_of(struct pk_socklist *l, uint32_t uid)
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
