#include "portkit/frequency.h"
#include "portkit/safefile.h"
#include "portkit/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

/* Only TCP and UDP matter for frequency; nmap lists a few SCTP ports too. */
struct pk_frequency {
    float open[2][65536];
};

static int parse_line(struct pk_frequency *f, const char *s, size_t n)
{
    /* "name<TAB>port/proto<TAB>frequency[<TAB># comment]" */
    const char *end = s + n;
    const char *p = memchr(s, '\t', n);
    if (!p)
        return -1;
    p++;
    const char *slash = memchr(p, '/', (size_t)(end - p));
    if (!slash)
        return -1;
    unsigned port;
    if (pk_port_parse(p, (size_t)(slash - p), &port) < 0)
        return -1;
    const char *tab = memchr(slash, '\t', (size_t)(end - slash));
    if (!tab)
        return -1;
    enum pk_proto proto;
    if (pk_proto_parse(slash + 1, (size_t)(tab - slash - 1), &proto) < 0)
        return -1;
    char num[32];
    size_t k = 0;
    for (p = tab + 1; p < end && k < sizeof num - 1 && *p != '\t' && *p != ' ' && *p != '#'; p++)
        num[k++] = *p;
    num[k] = '\0';
    char *stop;
    double v = strtod(num, &stop);
    if (k == 0 || *stop || !(v >= 0.0 && v <= 1.0))
        return -1;
    if (proto == PK_TCP || proto == PK_UDP)
        f->open[proto][port] = (float)v;
    return 0;
}

int pk_frequency_parse(const char *text, size_t len, const char *source, struct pk_frequency **out,
                       struct pk_err *err)
{
    struct pk_frequency *f = malloc(sizeof *f);
    if (!f)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    for (int t = 0; t < 2; t++)
        for (unsigned p = 0; p < 65536; p++)
            f->open[t][p] = -1.0f; /* unlisted: nmap has no figure */
    const char *p = text, *end = text + len;
    size_t line = 0;
    while (p < end) {
        line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        if (e > p && *p != '#' && *p != '\n' && parse_line(f, p, (size_t)(e - p)) < 0) {
            free(f);
            return pk_err_set(err, PK_EINVAL, "%s:%zu: expected 'name<TAB>port/proto<TAB>frequency'",
                              source ? source : "nmap-services", line);
        }
        p = nl ? nl + 1 : end;
    }
    *out = f;
    return 0;
}

int pk_frequency_load(const char *path, struct pk_frequency **out, struct pk_err *err)
{
    if (!path)
        path = PK_NMAP_SERVICES_PATH;
    struct stat st;
    if (stat(path, &st) < 0 && errno == ENOENT)
        return pk_err_set(err, PK_ENOTFOUND, "%s not found (install nmap for port frequencies)", path);
    /* nmap-services is about 1 MiB; the cap keeps a wrong path bounded */
    char *text;
    size_t len;
    int rc = pk_file_read(path, 64u << 20, &text, &len, err);
    if (rc < 0)
        return rc;
    rc = pk_frequency_parse(text, len, path, out, err);
    free(text);
    return rc;
}

void pk_frequency_free(struct pk_frequency *f)
{
    free(f);
}

double pk_frequency_get(const struct pk_frequency *f, unsigned port, enum pk_proto proto)
{
    if (!f || port > 65535 || (proto != PK_TCP && proto != PK_UDP))
        return -1.0;
    return f->open[proto][port];
}

struct ranked {
    float freq;
    uint16_t port;
};

static int by_frequency(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->freq != y->freq)
        return x->freq > y->freq ? -1 : 1;
    return (int)x->port - (int)y->port;
}

size_t pk_frequency_top(const struct pk_frequency *f, enum pk_proto proto, size_t n, uint16_t *out)
{
    if (!f || (proto != PK_TCP && proto != PK_UDP))
        return 0;
    struct ranked *r = malloc(65536 * sizeof *r);
    if (!r)
        return 0;
    size_t m = 0;
    for (unsigned p = 0; p < 65536; p++)
        if (f->open[proto][p] > 0.0f)
            r[m++] = (struct ranked){f->open[proto][p], (uint16_t)p};
    qsort(r, m, sizeof *r, by_frequency);
    size_t k = m < n ? m : n;
    for (size_t i = 0; i < k; i++)
        out[i] = r[i].port;
    free(r);
    return k;
}

int pk_frequency_lookup(const char *path, unsigned port, enum pk_proto proto, double *freq,
                        struct pk_err *err)
{
    if (!path)
        path = PK_NMAP_SERVICES_PATH;
    *freq = -1.0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? pk_err_set(err, PK_ENOTFOUND, "%s not found", path)
                               : pk_err_sys(err, "%s", path);
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size <= 0) {
        close(fd);
        return 0;
    }
    const char *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return pk_err_sys(err, "mmap %s", path);
    char key[32];
    int klen = snprintf(key, sizeof key, "\t%u/%s\t", port, pk_proto_name(proto));
    const char *hit = memmem(map, (size_t)st.st_size, key, (size_t)klen);
    if (hit) {
        const char *nl = memchr(hit, '\n', (size_t)(map + st.st_size - hit));
        char num[32];
        const char *v = hit + klen;
        size_t k = 0;
        while (v < (nl ? nl : map + st.st_size) && k < sizeof num - 1 && *v != '\t' && *v != ' ')
            num[k++] = *v++;
        num[k] = '\0';
        char *stop;
        double d = strtod(num, &stop);
        if (k && !*stop && d >= 0.0 && d <= 1.0)
            *freq = d;
    }
    munmap((void *)map, (size_t)st.st_size);
    return 0;
}
