/* Sockets from /proc/net/{tcp,tcp6,udp,udp6}: the fallback when netlink
 * sock_diag is missing. A row looks like
 *
 *    0: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 12345 ...
 *
 * slot, local and remote address:port in hex, state in hex, queues, timer,
 * retransmits, then uid, timeout and inode in decimal. Addresses are the
 * kernel's 32-bit words printed in host byte order; ports are plain hex. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "portkit/sockets.h"
#include "portkit/buf.h"

struct cursor {
    const char *p, *end;
};

static void skip_blanks(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* Reads exactly the hex digits up to a non-hex byte; at most maxdigits. */
static bool read_hex(struct cursor *c, uint64_t *v, size_t *ndigits, size_t maxdigits)
{
    uint64_t x = 0;
    size_t n = 0;
    int d;
    while (c->p < c->end && (d = hexval(*c->p)) >= 0) {
        if (++n > maxdigits)
            return false;
        x = x << 4 | (uint64_t)d;
        c->p++;
    }
    *v = x;
    *ndigits = n;
    return n > 0;
}

static bool read_dec(struct cursor *c, uint64_t *v)
{
    uint64_t x = 0;
    size_t n = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (x > (UINT64_MAX - 9) / 10)
            return false;
        x = x * 10 + (uint64_t)(*c->p - '0');
        c->p++;
        n++;
    }
    *v = x;
    return n > 0;
}

static bool expect(struct cursor *c, char ch)
{
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* Skips one blank-separated field. */
static bool skip_field(struct cursor *c)
{
    skip_blanks(c);
    const char *start = c->p;
    while (c->p < c->end && *c->p != ' ' && *c->p != '\t')
        c->p++;
    return c->p > start;
}

/* "0100007F:0277" -> address bytes as the kernel holds them, and the port.
 * Sets *family from the width: 8 hex digits IPv4, 32 IPv6. */
static bool read_endpoint(struct cursor *c, unsigned char addr[16], uint16_t *port, int *family)
{
    skip_blanks(c);
    const char *start = c->p;
    size_t ndig = 0;
    while (c->p < c->end && hexval(*c->p) >= 0) {
        c->p++;
        ndig++;
    }
    if (ndig != 8 && ndig != 32)
        return false;
    *family = ndig == 8 ? AF_INET : AF_INET6;
    memset(addr, 0, 16);
    for (size_t w = 0; w < ndig / 8; w++) {
        uint32_t word = 0;
        for (size_t i = 0; i < 8; i++)
            word = word << 4 | (uint32_t)hexval(start[w * 8 + i]);
        memcpy(addr + w * 4, &word, 4); /* host order back to memory order */
    }
    uint64_t v;
    size_t n;
    if (!expect(c, ':') || !read_hex(c, &v, &n, 4))
        return false;
    *port = (uint16_t)v;
    return true;
}

static bool parse_row(struct cursor *c, enum pk_proto proto, struct pk_sock *s)
{
    uint64_t v;
    size_t n;
    skip_blanks(c);
    if (!read_dec(c, &v) || !expect(c, ':'))
        return false;
    int lfam, rfam;
    if (!read_endpoint(c, s->local, &s->local_port, &lfam) ||
        !read_endpoint(c, s->remote, &s->remote_port, &rfam) || lfam != rfam)
        return false;
    s->family = lfam;
    s->proto = proto;
    skip_blanks(c);
    if (!read_hex(c, &v, &n, 2) || v == 0 || v >= PK_SS_COUNT)
        return false;
    s->state = (enum pk_sock_state)v;
    /* tx_queue:rx_queue, tr:tm->when, retrnsmt */
    for (int i = 0; i < 3; i++)
        if (!skip_field(c))
            return false;
    skip_blanks(c);
    if (!read_dec(c, &v) || v > UINT32_MAX)
        return false;
    s->uid = (uint32_t)v;
    if (!skip_field(c)) /* timeout */
        return false;
    skip_blanks(c);
    if (!read_dec(c, &v))
        return false;
    s->inode = v;
    return true;
}

int pk_procnet_parse(const char *text, size_t len, enum pk_proto proto, unsigned states,
                     struct pk_socklist *out, size_t *bad)
{
    size_t nbad = 0;
    const char *p = text, *end = text + len;
    bool first = true;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        struct cursor c = {p, eol};
        p = nl ? nl + 1 : end;
        skip_blanks(&c);
        if (c.p == eol)
            continue;
        if (first) {
            first = false;
            if (*c.p == 's') /* the "sl local_address ..." header */
                continue;
        }
        struct pk_sock s;
        memset(&s, 0, sizeof s);
        if (!parse_row(&c, proto, &s)) {
            nbad++;
            continue;
        }
        if (states && !(states & PK_SS_MASK(s.state)))
            continue;
        if (pk_socklist_add(out, &s) < 0) {
            if (bad)
                *bad = nbad;
            return PK_ENOMEM;
        }
    }
    if (bad)
        *bad = nbad;
    return 0;
}

/* Reads a /proc file whole (its size is unknown until read). Returns 0,
 * PK_ENOTFOUND if it does not exist, or another code. */
static int slurp(const char *path, char **data, size_t *len, struct pk_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return PK_ENOTFOUND;
        return pk_err_sys(err, "%s", path);
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    int rc = 0;
    for (;;) {
        if (!buf) {
            rc = pk_err_set(err, PK_ENOMEM, "out of memory");
            break;
        }
        if (PK_ARRAY_RESERVE(buf, cap, n + 1, 1 << 16) < 0) {
            rc = pk_err_set(err, PK_ENOMEM, "out of memory");
            break;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = pk_err_sys(err, "%s", path);
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *data = buf;
    *len = n;
    return 0;
}

static int proc_list(unsigned protos, unsigned states, const char *proc_root,
                     struct pk_socklist *out, struct pk_err *err)
{
    static const struct {
        const char *file;
        enum pk_proto proto;
    } files[] = {{"tcp", PK_TCP}, {"tcp6", PK_TCP}, {"udp", PK_UDP}, {"udp6", PK_UDP}};
    const char *root = proc_root ? proc_root : "/proc";
    size_t found = 0;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        if (!(protos & PK_PROTO_MASK(files[i].proto)))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/net/%s", root, files[i].file);
        char *data = NULL;
        size_t len = 0;
        int rc = slurp(path, &data, &len, err);
        if (rc == PK_ENOTFOUND)
            continue; /* no IPv6 on this host, say */
        if (rc < 0)
            return rc;
        found++;
        rc = pk_procnet_parse(data, len, files[i].proto, states, out, NULL);
        free(data);
        if (rc < 0)
            return pk_err_set(err, rc, "out of memory");
    }
    if (!found)
        return pk_err_set(err, PK_EUNSUPP, "%s/net/{tcp,udp} not found", root);
    return 0;
}

const struct pk_sock_source pk_sock_source_proc = {.name = "proc", .list = proc_list};
