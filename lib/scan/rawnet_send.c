/* Queued probes and who sends them.
 *
 * Probes are gathered per socket into batches of 64 and sent with one
 * sendmmsg each. On a machine with more than one core the batches are
 * handed to a sender thread: through a veth, and on any host where the
 * target is local, the system call that sends a frame also runs, in the
 * same call, the receiving stack's work for it (the target's TCP answering
 * with a RST, our side taking the RST in). Measured on a full-range SYN
 * scan of one host (bench/scan_net.py n2), three quarters of the scan's
 * time was inside sendmmsg; with the thread the scheduler, the reply
 * parsing and the outputs run beside it on the other core. With one core
 * (taskset, a container's CPU limit) the thread would only add context
 * switches, so batches are sent in line as before.
 *
 * The thread only sends: it never reads from the network, and it starts
 * after the scan has dropped its privileges (on the first flush). */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "scan/rawnet.h"

#define BATCH 64
#define POOL 16 /* batches: 1,024 probes at most between the scheduler and the wire */
#define SENDERS_MAX 4

struct raw_batch {
    int fd;
    unsigned n;
    struct mmsghdr msg[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_in6 to[BATCH]; /* also holds a sockaddr_ll */
    uint8_t data[BATCH][64];
};

struct raw_sender {
    pthread_t threads[SENDERS_MAX];
    int nthreads;
    pthread_mutex_t mu;
    pthread_cond_t work, room;
    struct raw_batch *todo[POOL]; /* full batches, oldest first */
    unsigned head, len;
    struct raw_batch *spare[POOL];
    unsigned nspare;
    bool stop;
};

static void batch_send(struct raw_net *r, struct raw_batch *b)
{
    unsigned done = 0;
    uint64_t sent = 0, errors = 0;
    while (done < b->n) {
        int k = sendmmsg(b->fd, b->msg + done, b->n - done, 0);
        if (k > 0) {
            done += (unsigned)k;
            sent += (uint64_t)k;
            continue;
        }
        if (k < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
            /* The device queue is full: the probes still unsent are
             * retried by their timeouts. */
            errors += b->n - done;
            break;
        }
        done++; /* this one failed alone (unreachable...): skip it */
        errors++;
    }
    b->n = 0;
    __atomic_fetch_add(&r->sent, sent, __ATOMIC_RELAXED);
    __atomic_fetch_add(&r->send_errors, errors, __ATOMIC_RELAXED);
}

static void *sender_main(void *arg)
{
    struct raw_net *r = arg;
    struct raw_sender *t = r->sender;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        while (!t->len && !t->stop)
            pthread_cond_wait(&t->work, &t->mu);
        if (!t->len)
            break; /* stopped, and everything handed over is sent */
        struct raw_batch *b = t->todo[t->head];
        t->head = (t->head + 1) % POOL;
        t->len--;
        pthread_mutex_unlock(&t->mu);
        batch_send(r, b);
        pthread_mutex_lock(&t->mu);
        t->spare[t->nspare++] = b;
        pthread_cond_signal(&t->room);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

static int cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) < 0)
        return 1;
    return CPU_COUNT(&set);
}

/* The threads, one per core we may run on (up to SENDERS_MAX), with their
 * pool of empty batches; false (and no thread) when one core is all we
 * have or anything fails. */
static bool sender_start(struct raw_net *r)
{
    r->sender_tried = true;
    int want = cores();
    if (want < 2)
        return false;
    if (want > SENDERS_MAX)
        want = SENDERS_MAX;
    struct raw_sender *t = calloc(1, sizeof *t);
    if (!t)
        return false;
    for (unsigned i = 0; i < POOL; i++) {
        t->spare[i] = calloc(1, sizeof *t->spare[i]);
        if (!t->spare[i])
            goto fail;
        t->nspare++;
    }
    if (pthread_mutex_init(&t->mu, NULL) != 0)
        goto fail;
    if (pthread_cond_init(&t->work, NULL) != 0 || pthread_cond_init(&t->room, NULL) != 0)
        goto fail_mu; /* (a failed init leaves nothing to destroy on Linux) */
    r->sender = t;
    /* Signals (Ctrl-C, SIGTERM) go to the scanning thread, whose loop
     * acts on them at once: the senders never take one. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    while (t->nthreads < want && pthread_create(&t->threads[t->nthreads], NULL, sender_main, r) == 0)
        t->nthreads++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!t->nthreads) {
        r->sender = NULL;
        pthread_cond_destroy(&t->work);
        pthread_cond_destroy(&t->room);
        goto fail_mu;
    }
    return true;
fail_mu:
    pthread_mutex_destroy(&t->mu);
fail:
    for (unsigned i = 0; i < t->nspare; i++)
        free(t->spare[i]);
    free(t);
    return false;
}

/* Sends *slot's batch: hands it to the thread and takes an empty one in
 * its place (waiting while every batch is queued), or sends it here. */
static void batch_flush(struct raw_net *r, struct raw_batch **slot)
{
    if (!r->sender && !r->sender_tried)
        sender_start(r);
    struct raw_sender *t = r->sender;
    if (!t) {
        batch_send(r, *slot);
        return;
    }
    pthread_mutex_lock(&t->mu);
    while (!t->nspare) /* (so the queue never holds more than POOL) */
        pthread_cond_wait(&t->room, &t->mu);
    t->todo[(t->head + t->len) % POOL] = *slot;
    t->len++;
    *slot = t->spare[--t->nspare];
    pthread_cond_signal(&t->work);
    pthread_mutex_unlock(&t->mu);
}

void raw_flush(struct raw_net *r)
{
    for (int i = 0; i < RAW_SLOTS; i++)
        if (r->batch[i] && r->batch[i]->n)
            batch_flush(r, &r->batch[i]);
}

int raw_queue(struct raw_net *r, int slot, int fd, const void *to, socklen_t tolen, const void *pkt, size_t len)
{
    if (fd < 0)
        return -EAFNOSUPPORT;
    if (len > sizeof r->batch[0]->data[0] || tolen > sizeof r->batch[0]->to[0])
        return -EMSGSIZE;
    struct raw_batch *b = r->batch[slot];
    if (!b) {
        b = r->batch[slot] = calloc(1, sizeof *b);
        if (!b)
            return -ENOMEM;
    }
    b->fd = fd;
    unsigned i = b->n++;
    memcpy(&b->to[i], to, tolen);
    memcpy(b->data[i], pkt, len);
    b->iov[i] = (struct iovec){b->data[i], len};
    b->msg[i].msg_hdr = (struct msghdr){.msg_name = &b->to[i], .msg_namelen = tolen, .msg_iov = &b->iov[i],
                                        .msg_iovlen = 1};
    if (b->n == BATCH)
        batch_flush(r, &r->batch[slot]);
    return 0;
}

void raw_send_stop(struct raw_net *r)
{
    struct raw_sender *t = r->sender;
    if (t) {
        pthread_mutex_lock(&t->mu);
        t->stop = true;
        pthread_cond_broadcast(&t->work);
        pthread_mutex_unlock(&t->mu);
        for (int i = 0; i < t->nthreads; i++)
            pthread_join(t->threads[i], NULL);
        pthread_cond_destroy(&t->work);
        pthread_cond_destroy(&t->room);
        pthread_mutex_destroy(&t->mu);
        for (unsigned i = 0; i < t->nspare; i++)
            free(t->spare[i]);
        free(t);
        r->sender = NULL;
    }
    for (int i = 0; i < RAW_SLOTS; i++) {
        free(r->batch[i]);
        r->batch[i] = NULL;
    }
}
