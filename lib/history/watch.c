/* Watching this host's listeners: look, compare with the last look, report
 * what appeared or disappeared.
 *
 * Why polling: the kernel announces no new listening socket. sock_diag's
 * multicast groups (SKNLGRP_INET_TCP_DESTROY, ...) report only destroyed
 * sockets, need CAP_NET_ADMIN, and say nothing about binds; fanotify and
 * inotify see no sockets; an eBPF hook on inet_listen would need a BPF
 * toolchain and privileges for what a cheap dump does. So each look is one
 * sock_diag dump of listening TCP and unconnected UDP sockets, without
 * processes. Measured with bench/history.sh on the shared 2-core test
 * machine: a 60 s idle watch used 0.09-0.10 s of CPU, 0.15-0.17% of one core. Only when
 * something appeared is /proc/PID/fd scanned to name its process. After a
 * change the next looks come sooner (100 ms, growing back to 500 ms), since
 * changes come in bursts (a service restarting, a deploy). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history/history_impl.h"

#define WATCH_FAST_MS 100
#define WATCH_SLOW_MS 500

struct wentry {
    enum pk_proto proto;
    int family;
    unsigned char addr[16];
    uint16_t port;
    uint64_t inode;
    int pid;
    char *process, *user;
    const char *service; /* the registry's: lives as long as it */
    unsigned flags;
};

struct pk_watch {
    struct pk_watch_options opt;
    struct pk_hostinfo host;
    struct wentry *cur;
    size_t ncur;
    unsigned interval_ms;
};

static int entry_cmp(const void *pa, const void *pb)
{
    const struct wentry *a = pa, *b = pb;
    if (a->proto != b->proto)
        return a->proto < b->proto ? -1 : 1;
    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    int c = memcmp(a->addr, b->addr, 16);
    if (c)
        return c;
    if (a->port != b->port)
        return a->port < b->port ? -1 : 1;
    return (a->inode > b->inode) - (a->inode < b->inode);
}

static void entries_free(struct wentry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].process);
        free(e[i].user);
    }
    free(e);
}

/* One look. With processes, /proc is scanned too (only after a change). */
static int look(struct pk_watch *w, bool processes, struct wentry **out, size_t *n, struct pk_err *err)
{
    struct pk_sock_query q = {
        .protos = w->opt.protos, .states = PK_SS_LISTENING, .processes = processes,
        .proc_root = w->opt.proc_root,
    };
    struct pk_socklist *l;
    int rc = pk_sockets_list(&q, &l, err);
    if (rc < 0)
        return rc;
    size_t count = pk_socklist_count(l);
    struct wentry *e = calloc(count ? count : 1, sizeof *e);
    if (!e) {
        pk_socklist_free(l);
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < count; i++) {
        const struct pk_sock *s = pk_socklist_get(l, i);
        if (!pk_sock_is_listening(s))
            continue;
        struct wentry *x = &e[k++];
        x->proto = s->proto;
        x->family = s->family;
        memcpy(x->addr, s->local, 16);
        x->port = s->local_port;
        x->inode = s->inode;
        x->pid = processes ? s->pid : -1;
        x->process = processes && s->process ? strdup(s->process) : NULL;
        x->user = s->user ? strdup(s->user) : NULL;
        struct pk_sock_notes notes;
        pk_sock_annotate(w->opt.reg, &w->host, s, &notes);
        x->service = notes.service;
        x->flags = notes.flags;
    }
    pk_socklist_free(l);
    qsort(e, k, sizeof *e, entry_cmp);
    *out = e;
    *n = k;
    return 0;
}

int pk_watch_new(const struct pk_watch_options *opt, struct pk_watch **out, struct pk_err *err)
{
    struct pk_watch *w = calloc(1, sizeof *w);
    if (!w)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    if (opt)
        w->opt = *opt;
    pk_hostinfo_read(&w->host, NULL);
    w->interval_ms = WATCH_SLOW_MS;
    int rc = look(w, true, &w->cur, &w->ncur, err);
    if (rc < 0) {
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

void pk_watch_free(struct pk_watch *w)
{
    if (!w)
        return;
    entries_free(w->cur, w->ncur);
    free(w);
}

static void report(struct pk_watch *w, enum pk_change_kind kind, const struct wentry *e, pk_change_fn *fn,
                   void *arg, int *stop)
{
    char addr[PK_ADDR_MAX], who[160];
    pk_sock_addr_str(e->family, e->addr, addr, sizeof addr);
    snprintf(who, sizeof who, "%s", e->process ? e->process : "?");
    if (e->pid > 0)
        snprintf(who + strlen(who), sizeof who - strlen(who), "[%d]", e->pid);
    if (e->user)
        snprintf(who + strlen(who), sizeof who - strlen(who), " %s", e->user);
    struct pk_change c = {
        .kind = kind, .host = addr, .hostname = "", .proto = e->proto, .port = e->port,
        .before = kind == PK_CHANGE_REMOVED ? who : "", .after = kind == PK_CHANGE_ADDED ? who : "",
        .service = e->service ? e->service : "", .pid = e->pid, .process = e->process ? e->process : "",
        .user = e->user ? e->user : "", .flags = e->flags,
    };
    if (!*stop)
        *stop = fn(arg, &c);
}

/* Moves process names from the slow look (with /proc) onto the new
 * entries of the fast one, matching by inode. */
static void name_new(struct pk_watch *w, struct wentry *e, size_t n, struct pk_err *err)
{
    struct wentry *full;
    size_t nfull;
    if (look(w, true, &full, &nfull, err) < 0)
        return; /* names stay unknown; the change is still reported */
    for (size_t i = 0; i < n; i++) {
        if (e[i].process)
            continue;
        for (size_t j = 0; j < nfull; j++) {
            if (full[j].inode == e[i].inode && full[j].port == e[i].port && full[j].proto == e[i].proto) {
                e[i].pid = full[j].pid;
                e[i].process = full[j].process;
                full[j].process = NULL;
                break;
            }
        }
    }
    entries_free(full, nfull);
}

int pk_watch_poll(struct pk_watch *w, pk_change_fn *fn, void *arg, unsigned *next_ms, struct pk_err *err)
{
    struct wentry *now;
    size_t nnow;
    int rc = look(w, false, &now, &nnow, err);
    if (rc < 0)
        return rc;
    /* Keep what we knew about sockets still there; find the new ones. */
    bool added = false, changed = false;
    for (size_t i = 0, j = 0; j < nnow; j++) {
        while (i < w->ncur && entry_cmp(&w->cur[i], &now[j]) < 0)
            i++;
        if (i < w->ncur && entry_cmp(&w->cur[i], &now[j]) == 0) {
            now[j].pid = w->cur[i].pid;
            free(now[j].process);
            now[j].process = w->cur[i].process;
            w->cur[i].process = NULL;
            if (!now[j].user) {
                now[j].user = w->cur[i].user;
                w->cur[i].user = NULL;
            }
        } else {
            added = true;
        }
    }
    if (added)
        name_new(w, now, nnow, err);
    int stop = 0;
    size_t i = 0, j = 0;
    while (i < w->ncur || j < nnow) {
        int c = i == w->ncur ? 1 : j == nnow ? -1 : entry_cmp(&w->cur[i], &now[j]);
        if (c < 0) {
            report(w, PK_CHANGE_REMOVED, &w->cur[i++], fn, arg, &stop);
            changed = true;
        } else if (c > 0) {
            report(w, PK_CHANGE_ADDED, &now[j++], fn, arg, &stop);
            changed = true;
        } else {
            i++;
            j++;
        }
    }
    entries_free(w->cur, w->ncur);
    w->cur = now;
    w->ncur = nnow;
    if (changed)
        w->interval_ms = WATCH_FAST_MS;
    else if ((w->interval_ms = w->interval_ms * 3 / 2) > WATCH_SLOW_MS)
        w->interval_ms = WATCH_SLOW_MS;
    if (next_ms)
        *next_ms = w->interval_ms;
    return stop;
}

int pk_watch_save(struct pk_watch *w, struct pk_history_run *run, struct pk_err *err)
{
    for (size_t i = 0; i < w->ncur; i++) {
        const struct wentry *e = &w->cur[i];
        char addr[PK_ADDR_MAX];
        pk_sock_addr_str(e->family, e->addr, addr, sizeof addr);
        struct pk_history_listener l = {
            .proto = e->proto, .family = e->family, .addr = addr, .port = e->port, .pid = e->pid,
            .process = e->process, .user = e->user, .service = e->service, .flags = e->flags,
        };
        int rc = pk_history_add_listener(run, &l, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}
