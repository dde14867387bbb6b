/* The socket list's insides, shared by the file that owns the list
 * (socklist.c) and the run that fills it (sockets.c). Not installed. */
#ifndef PORTKIT_SOCKLIST_IMPL_H
#define PORTKIT_SOCKLIST_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "portkit/procmap.h"
#include "portkit/sockets.h"

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

/* The process name of pid and the name of uid, each looked up once per list
 * and kept for its lifetime (records point at them). NULL when unknown. */
const char *sl_comm_of(struct pk_socklist *l, const char *proc_root, int pid);
const char *sl_user_of(struct pk_socklist *l, uint32_t uid);

#endif
