/* Socket inode -> pids, from the links in /proc/PID/fd.
 *
 * This is the expensive half of `ls` (ss -p spends three quarters of its
 * time here), so the hot loop stays lean: one getdents64 stream per fd
 * directory, one readlinkat per entry into a small stack buffer, a memcmp
 * to drop non-sockets, no stdio and no per-entry allocation. Work is
 * handed out one process at a time through an atomic counter, and a big fd
 * directory (a busy server) in chunks, so two threads share it evenly. */
#include "portkit/procmap.h"
#include "portkit/buf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIRENT_BUF (64 * 1024)
/* A process with more fds than this (a busy server) is shared out in
 * chunks, so one big process does not leave the other thread idle. */
#define SPLIT_MIN 512
#define CHUNK 128
#define MAX_SHARED 64

struct holder {
    uint64_t inode;
    int pid;
    uint32_t next; /* next holder of the same inode in the map, UINT32_MAX ends */
};

struct harvest {
    struct holder *v;
    size_t n, cap;
    bool partial;
    bool oom;
    char *dirents; /* this worker's getdents64 buffer */
};

/* A large fd directory whose entries any thread may take CHUNK at a time. */
struct bigdir {
    int dfd;
    int pid;
    int *fds;
    size_t n;
    atomic_size_t next;
};

struct pk_procscan {
    int proc_fd;
    int *pids;
    size_t npids;
    atomic_size_t next;
    pthread_t thread;
    bool threaded;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct bigdir *shared[MAX_SHARED]; /* guarded by lock; freed with the scan */
    size_t nshared;
    int listing;                       /* threads reading a big dir's entries; guarded by lock */
    struct harvest out[2];             /* [0] the background thread, [1] the caller */
};

struct slot {
    uint64_t inode; /* 0 = empty: socket inodes are never 0 */
    uint32_t head;
};

struct pk_procmap {
    struct holder *holders;
    size_t nholders;
    struct slot *slots;
    size_t mask;
    bool partial;
};

static bool harvest_push(struct harvest *h, uint64_t inode, int pid)
{
    if (PK_ARRAY_RESERVE(h->v, h->cap, h->n + 1, 1024) < 0) {
        h->oom = true;
        return false;
    }
    h->v[h->n++] = (struct holder){inode, pid, UINT32_MAX};
    return true;
}

/* Decimal digits of v into buf (no stdio in the hot path); returns length. */
static int put_uint(char *buf, unsigned v)
{
    char rev[16];
    int n = 0;
    do {
        rev[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++)
        buf[i] = rev[n - 1 - i];
    buf[n] = '\0';
    return n;
}

/* "socket:[12345]" -> 12345; 0 for anything else. */
static uint64_t socket_inode(const char *link, ssize_t len)
{
    if (len < 10 || memcmp(link, "socket:[", 8) != 0 || link[len - 1] != ']')
        return 0;
    uint64_t v = 0;
    for (ssize_t i = 8; i < len - 1; i++) {
        unsigned d = (unsigned)(link[i] - '0');
        if (d > 9)
            return 0;
        v = v * 10 + d;
    }
    return v;
}

/* One fd entry: false only when memory ran out. */
static bool check_fd(int dfd, const char *name, int pid, struct harvest *h)
{
    /* 40 bytes hold any "socket:[N]"; longer targets are not sockets and
     * their truncation is harmless. */
    char link[40];
    ssize_t len = readlinkat(dfd, name, link, sizeof link);
    uint64_t inode = socket_inode(link, len);
    return !inode || harvest_push(h, inode, pid);
}

static bool fd_name_value(const char *name, int *fd)
{
    unsigned v = 0;
    if (!*name)
        return false;
    for (; *name; name++) {
        if (*name < '0' || *name > '9' || v > 100000000)
            return false;
        v = v * 10 + (unsigned)(*name - '0');
    }
    *fd = (int)v;
    return true;
}

/* Takes chunks of bd until none is left; returns whether it took any. */
static bool drain_bigdir(struct bigdir *bd, struct harvest *h)
{
    bool took = false;
    for (;;) {
        size_t k = atomic_fetch_add_explicit(&bd->next, CHUNK, memory_order_relaxed);
        if (k >= bd->n || h->oom)
            return took;
        took = true;
        size_t end = k + CHUNK < bd->n ? k + CHUNK : bd->n;
        char name[16];
        for (; k < end; k++) {
            put_uint(name, (unsigned)bd->fds[k]);
            if (!check_fd(bd->dfd, name, bd->pid, h))
                return took;
        }
    }
}

static bool drain_shared(struct pk_procscan *s, struct harvest *h)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->nshared;
    pthread_mutex_unlock(&s->lock);
    bool took = false;
    for (size_t i = 0; i < n; i++)
        took |= drain_bigdir(s->shared[i], h);
    return took;
}

static bool shared_work_left(struct pk_procscan *s)
{
    for (size_t i = 0; i < s->nshared; i++)
        if (atomic_load_explicit(&s->shared[i]->next, memory_order_relaxed) < s->shared[i]->n)
            return true;
    return false;
}

/* Reads every entry of a big fd dir, then publishes it for sharing. Returns
 * the published dir, or NULL when it was handled inline (or failed). */
static struct bigdir *list_bigdir(struct pk_procscan *s, int dfd, int pid, struct harvest *h)
{
    struct bigdir *bd = calloc(1, sizeof *bd);
    size_t cap = 0;
    if (!bd) {
        h->oom = true;
        return NULL;
    }
    bd->dfd = dfd;
    bd->pid = pid;
    for (;;) {
        ssize_t n = getdents64(dfd, h->dirents, DIRENT_BUF);
        if (n <= 0)
            break;
        for (ssize_t off = 0; off < n;) {
            const struct dirent64 *d = (const struct dirent64 *)(h->dirents + off);
            off += d->d_reclen;
            int fd;
            if (!fd_name_value(d->d_name, &fd))
                continue;
            if (PK_ARRAY_RESERVE(bd->fds, cap, bd->n + 1, 1024) < 0) {
                h->oom = true;
                free(bd->fds);
                free(bd);
                return NULL;
            }
            bd->fds[bd->n++] = fd;
        }
    }
    atomic_init(&bd->next, 0);
    return bd;
}

static void scan_pid(struct pk_procscan *s, int pid, struct harvest *h)
{
    char path[24];
    int len = put_uint(path, (unsigned)pid);
    memcpy(path + len, "/fd", 4);
    int dfd = openat(s->proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        if (errno == EACCES || errno == EPERM)
            h->partial = true;
        return; /* ENOENT: the process is gone, which is no error */
    }
    /* Since Linux 6.2 the size of an fd dir is its number of fds; before,
     * it is 0 and every process is simply one unit of work. */
    struct stat st;
    if (fstat(dfd, &st) == 0 && st.st_size > SPLIT_MIN) {
        pthread_mutex_lock(&s->lock);
        bool room = s->nshared < MAX_SHARED;
        if (room)
            s->listing++;
        pthread_mutex_unlock(&s->lock);
        if (room) {
            struct bigdir *bd = list_bigdir(s, dfd, pid, h);
            pthread_mutex_lock(&s->lock);
            s->listing--;
            if (bd)
                s->shared[s->nshared++] = bd;
            pthread_cond_broadcast(&s->cond);
            pthread_mutex_unlock(&s->lock);
            if (bd)
                drain_bigdir(bd, h); /* the dfd now belongs to bd */
            else
                close(dfd);
            return;
        }
    }
    for (;;) {
        ssize_t n = getdents64(dfd, h->dirents, DIRENT_BUF);
        if (n <= 0) {
            if (n < 0 && (errno == EACCES || errno == EPERM))
                h->partial = true;
            break;
        }
        for (ssize_t off = 0; off < n;) {
            const struct dirent64 *d = (const struct dirent64 *)(h->dirents + off);
            off += d->d_reclen;
            if (d->d_name[0] == '.')
                continue;
            if (!check_fd(dfd, d->d_name, pid, h))
                goto out;
        }
    }
out:
    close(dfd);
}

static void work(struct pk_procscan *s, struct harvest *h)
{
    if (!h->dirents && !(h->dirents = malloc(DIRENT_BUF))) {
        h->oom = true;
        return;
    }
    for (;;) {
        if (h->oom)
            return;
        size_t i = atomic_fetch_add_explicit(&s->next, 1, memory_order_relaxed);
        if (i < s->npids) {
            scan_pid(s, s->pids[i], h);
            continue;
        }
        if (drain_shared(s, h))
            continue;
        /* Nothing to take, but another thread may be about to publish a big
         * dir: wait for it rather than leave it all the work. */
        pthread_mutex_lock(&s->lock);
        while (s->listing > 0 && !shared_work_left(s))
            pthread_cond_wait(&s->cond, &s->lock);
        bool more = shared_work_left(s);
        pthread_mutex_unlock(&s->lock);
        if (!more)
            return;
    }
}

static void *worker_main(void *arg)
{
    struct pk_procscan *s = arg;
    work(s, &s->out[0]);
    return NULL;
}

static bool parse_pid(const char *name, int *pid)
{
    long v = 0;
    if (!*name)
        return false;
    for (const char *p = name; *p; p++) {
        if (*p < '0' || *p > '9' || v > 100000000)
            return false;
        v = v * 10 + (*p - '0');
    }
    *pid = (int)v;
    return v > 0;
}

static int list_pids(struct pk_procscan *s, struct pk_err *err)
{
    char *buf = malloc(DIRENT_BUF);
    if (!buf)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    int dfd = openat(s->proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        free(buf);
        return pk_err_sys(err, "cannot list processes");
    }
    size_t cap = 0;
    int rc = 0;
    for (;;) {
        ssize_t n = getdents64(dfd, buf, DIRENT_BUF);
        if (n < 0) {
            rc = pk_err_sys(err, "cannot list processes");
            break;
        }
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            const struct dirent64 *d = (const struct dirent64 *)(buf + off);
            off += d->d_reclen;
            int pid;
            if (!parse_pid(d->d_name, &pid))
                continue;
            if (PK_ARRAY_RESERVE(s->pids, cap, s->npids + 1, 256) < 0) {
                rc = pk_err_set(err, PK_ENOMEM, "out of memory");
                goto out;
            }
            s->pids[s->npids++] = pid;
        }
    }
out:
    close(dfd);
    free(buf);
    return rc;
}

static void scan_free(struct pk_procscan *s)
{
    if (s->proc_fd >= 0)
        close(s->proc_fd);
    for (size_t i = 0; i < s->nshared; i++) {
        close(s->shared[i]->dfd);
        free(s->shared[i]->fds);
        free(s->shared[i]);
    }
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    for (int i = 0; i < 2; i++) {
        free(s->out[i].v);
        free(s->out[i].dirents);
    }
    free(s->pids);
    free(s);
}

int pk_procscan_start(const char *proc_root, struct pk_procscan **out, struct pk_err *err)
{
    *out = NULL;
    struct pk_procscan *s = calloc(1, sizeof *s);
    if (!s)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->proc_fd = open(proc_root ? proc_root : "/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->proc_fd < 0) {
        int rc = pk_err_sys(err, "cannot open %s", proc_root ? proc_root : "/proc");
        scan_free(s);
        return rc;
    }
    int rc = list_pids(s, err);
    if (rc < 0) {
        scan_free(s);
        return rc;
    }
    atomic_init(&s->next, 0);
    /* Without a thread the caller does all the work in finish: slower, not wrong. */
    s->threaded = pthread_create(&s->thread, NULL, worker_main, s) == 0;
    *out = s;
    return 0;
}

void pk_procscan_help(struct pk_procscan *s)
{
    work(s, &s->out[1]);
}

static uint64_t slot_hash(uint64_t inode)
{
    return inode * 0x9E3779B97F4A7C15ull;
}

static struct slot *slot_for(const struct pk_procmap *m, uint64_t inode)
{
    size_t i = (size_t)(slot_hash(inode) >> 20) & m->mask;
    while (m->slots[i].inode && m->slots[i].inode != inode)
        i = (i + 1) & m->mask;
    return &m->slots[i];
}

static int build_map(struct pk_procscan *s, struct pk_procmap *m, struct pk_err *err)
{
    size_t total = s->out[0].n + s->out[1].n;
    if (total >= UINT32_MAX)
        return pk_err_set(err, PK_ENOMEM, "too many sockets");
    m->holders = malloc((total ? total : 1) * sizeof *m->holders);
    size_t cap = 16;
    while (cap < total * 2)
        cap *= 2;
    m->slots = calloc(cap, sizeof *m->slots);
    if (!m->holders || !m->slots)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    m->mask = cap - 1;
    for (int w = 0; w < 2; w++) {
        for (size_t i = 0; i < s->out[w].n; i++) {
            const struct holder *h = &s->out[w].v[i];
            struct slot *sl = slot_for(m, h->inode);
            if (!sl->inode) {
                sl->inode = h->inode;
                sl->head = UINT32_MAX;
            }
            bool dup = false; /* a process holding one socket in several fds */
            for (uint32_t k = sl->head; k != UINT32_MAX && !dup; k = m->holders[k].next)
                dup = m->holders[k].pid == h->pid;
            if (dup)
                continue;
            m->holders[m->nholders] = *h;
            m->holders[m->nholders].next = sl->head;
            sl->head = (uint32_t)m->nholders++;
        }
    }
    return 0;
}

int pk_procscan_finish(struct pk_procscan *s, struct pk_procmap **out, struct pk_err *err)
{
    *out = NULL;
    pk_procscan_help(s);
    if (s->threaded)
        pthread_join(s->thread, NULL);
    if (s->out[0].oom || s->out[1].oom) {
        scan_free(s);
        return pk_err_set(err, PK_ENOMEM, "out of memory while reading /proc");
    }
    struct pk_procmap *m = calloc(1, sizeof *m);
    if (!m) {
        scan_free(s);
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    }
    m->partial = s->out[0].partial || s->out[1].partial;
    int rc = build_map(s, m, err);
    scan_free(s);
    if (rc < 0) {
        pk_procmap_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int pk_procmap_scan(const char *proc_root, struct pk_procmap **out, struct pk_err *err)
{
    struct pk_procscan *s;
    int rc = pk_procscan_start(proc_root, &s, err);
    if (rc < 0) {
        *out = NULL;
        return rc;
    }
    return pk_procscan_finish(s, out, err);
}

void pk_procmap_free(struct pk_procmap *m)
{
    if (!m)
        return;
    free(m->holders);
    free(m->slots);
    free(m);
}

size_t pk_procmap_find(const struct pk_procmap *m, uint64_t inode, int *pids, size_t max)
{
    if (!m || !inode)
        return 0;
    const struct slot *sl = slot_for(m, inode);
    if (!sl->inode)
        return 0;
    size_t n = 0;
    for (uint32_t k = sl->head; k != UINT32_MAX; k = m->holders[k].next) {
        int pid = m->holders[k].pid;
        if (n < max) {
            /* insertion keeps pids ascending; holders per socket are few */
            size_t j = n;
            while (j > 0 && pids[j - 1] > pid) {
                pids[j] = pids[j - 1];
                j--;
            }
            pids[j] = pid;
        } else if (max > 0 && pid < pids[max - 1]) {
            size_t j = max - 1;
            while (j > 0 && pids[j - 1] > pid) {
                pids[j] = pids[j - 1];
                j--;
            }
            pids[j] = pid;
        }
        n++;
    }
    return n;
}

size_t pk_procmap_sockets(const struct pk_procmap *m)
{
    return m ? m->nholders : 0;
}

bool pk_procmap_partial(const struct pk_procmap *m)
{
    return m && m->partial;
}
