/* Free ports, proven by bind(). */
#include "portkit/freeport.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int bind_one(int family, int type, unsigned port)
{
    int fd = socket(family, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (family == AF_INET6) {
        /* dual-stack: one bind covers [::] and 0.0.0.0, so a holder on
         * either family (or any single address) makes it fail */
        int off = 0;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
                                 .sin6_addr = IN6ADDR_ANY_INIT};
        if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
            rc = -errno;
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr = {htonl(INADDR_ANY)}};
        if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
            rc = -errno;
    }
    close(fd);
    return rc;
}

bool pk_port_bindable(unsigned port, enum pk_proto proto)
{
    if (port == 0 || port > 65535 || (proto != PK_TCP && proto != PK_UDP))
        return false;
    int type = proto == PK_TCP ? SOCK_STREAM : SOCK_DGRAM;
    int rc = bind_one(AF_INET6, type, port);
    if (rc == 0)
        return true;
    if (rc == -EADDRINUSE || rc == -EACCES || rc == -EPERM)
        return false;
    /* no usable IPv6 here (disabled, or no such family): IPv4 decides */
    return bind_one(AF_INET, type, port) == 0;
}

/* Up to two runs of candidate ports: the range, minus the ephemeral one. */
struct runs {
    unsigned lo[2], hi[2];
    int n;
    size_t total;
};

static void runs_add(struct runs *r, unsigned lo, unsigned hi)
{
    if (lo > hi)
        return;
    r->lo[r->n] = lo;
    r->hi[r->n] = hi;
    r->n++;
    r->total += hi - lo + 1;
}

static unsigned runs_port(const struct runs *r, size_t index)
{
    for (int i = 0; i < r->n; i++) {
        size_t len = r->hi[i] - r->lo[i] + 1;
        if (index < len)
            return r->lo[i] + (unsigned)index;
        index -= len;
    }
    return 0;
}

static bool is_assigned(const struct pk_registry *reg, unsigned port, unsigned protos)
{
    for (unsigned p = PK_TCP; p <= PK_UDP; p++) {
        if (!(protos & PK_PROTO_MASK(p)))
            continue;
        if (pk_registry_name(reg, port, (enum pk_proto)p))
            return true;
        size_t first, n = pk_registry_port(reg, port, &first);
        for (size_t i = first; i < first + n; i++) {
            struct pk_service s;
            pk_registry_get(reg, i, &s);
            if (s.proto == (enum pk_proto)p)
                return true; /* Reserved rows count: IANA keeps them off-limits */
        }
    }
    return false;
}

static uint64_t random_seed(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ ((uint64_t)getpid() << 16);
    /* splitmix64 finaliser: neighbouring seeds land far apart */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

int pk_freeport_find(const struct pk_freeport_opts *o, unsigned *ports, size_t count,
                     struct pk_err *err)
{
    if (count == 0)
        return pk_err_set(err, PK_EINVAL, "asked for no ports");
    unsigned protos = o->protos ? o->protos : PK_PROTO_MASK(PK_TCP);
    if (protos & ~(PK_PROTO_MASK(PK_TCP) | PK_PROTO_MASK(PK_UDP)))
        return pk_err_set(err, PK_EINVAL, "only tcp and udp ports can be tested");
    struct pk_hostinfo hostbuf;
    const struct pk_hostinfo *host = o->host;
    if (!host) {
        pk_hostinfo_read(&hostbuf, NULL);
        host = &hostbuf;
    }
    const struct pk_registry *reg = o->reg ? o->reg : pk_registry_builtin();

    struct runs r = {0};
    if (o->lo == 0) {
        unsigned lo = 1024, hi = 49151;
        if (host->ephemeral_lo > hi || host->ephemeral_hi < lo) {
            runs_add(&r, lo, hi);
        } else {
            if (host->ephemeral_lo > lo)
                runs_add(&r, lo, host->ephemeral_lo - 1);
            if (host->ephemeral_hi < hi)
                runs_add(&r, host->ephemeral_hi + 1, hi);
        }
    } else {
        if (o->lo > o->hi || o->hi > 65535)
            return pk_err_set(err, PK_EINVAL, "bad port range %u-%u", o->lo, o->hi);
        runs_add(&r, o->lo, o->hi);
    }
    if (r.total == 0)
        return pk_err_set(err, PK_ENOTFOUND, "no ports to try: the range lies inside the ephemeral range");

    size_t start = (size_t)((o->seed ? o->seed : random_seed()) % r.total);
    size_t found = 0;
    for (size_t i = 0; i < r.total && found < count; i++) {
        unsigned port = runs_port(&r, (start + i) % r.total);
        if (o->unassigned && is_assigned(reg, port, protos))
            continue;
        bool ok = true;
        for (unsigned p = PK_TCP; p <= PK_UDP && ok; p++)
            if (protos & PK_PROTO_MASK(p))
                ok = pk_port_bindable(port, (enum pk_proto)p);
        if (ok)
            ports[found++] = port;
    }
    if (found < count) {
        if (found == 0)
            return pk_err_set(err, PK_ENOTFOUND, "no free port in the range");
        return pk_err_set(err, PK_ENOTFOUND, "only %zu free port%s in the range, %zu asked for", found,
                          found == 1 ? "" : "s", count);
    }
    return 0;
}
