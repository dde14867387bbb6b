#include "portkit/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/quote.h"

/* The directory part of path, in a caller buffer ("." for a bare name). */
static void dir_of(const char *path, char *buf, size_t size)
{
    snprintf(buf, size, "%s", path);
    char *d = dirname(buf);
    if (d != buf)
        memmove(buf, d, strlen(d) + 1);
}

int pk_symlink_check(const char *path, struct pk_err *err)
{
    struct stat link, dir;
    if (lstat(path, &link) < 0 || !S_ISLNK(link.st_mode))
        return 0;
    char d[PATH_MAX];
    dir_of(path, d, sizeof d);
    if (stat(d, &dir) < 0)
        return 0;
    bool sticky_shared = (dir.st_mode & S_ISVTX) && (dir.st_mode & S_IWOTH);
    if (sticky_shared && link.st_uid != geteuid() && link.st_uid != dir.st_uid)
        return pk_err_set(err, PK_EINVAL,
                          "refusing to follow the symlink '%s': another user owns it in the "
                          "shared sticky directory '%s' (fs.protected_symlinks rule)",
                          QUOTE_STR(path), QUOTE_STR(d));
    return 0;
}

/* A name no one can predict, so nobody can plant a symlink there first
 * (O_EXCL would refuse one anyway). */
static char *temp_name(const char *final)
{
    char d[PATH_MAX], b[PATH_MAX];
    dir_of(final, d, sizeof d);
    snprintf(b, sizeof b, "%s", final);
    const char *base = basename(b);
    unsigned long long r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
        r = (unsigned long long)getpid() * 2654435761u ^ (unsigned long long)(uintptr_t)&r;
    char *out = NULL;
    if (asprintf(&out, "%s/.%s.%012llx.tmp", d, base, r & 0xffffffffffffull) < 0)
        return NULL;
    return out;
}

static void outfile_reset(struct pk_outfile *f)
{
    f->fd = -1;
    f->length_fd = -1;
    f->path = NULL;
    f->tmp = NULL;
}

/* A file we may write in a directory we may not: it is written in place,
 * but only cut to the new length at commit, so a run that fails before
 * writing leaves it whole. target was resolved, so O_NOFOLLOW holds. */
static int open_in_place(struct pk_outfile *f, const char *target)
{
    int saved = errno;
    f->fd = open(target, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (f->fd < 0) {
        errno = saved;
        return -1;
    }
    /* a second descriptor on the same open file: it still knows the
     * offset after the caller closes fd */
    f->length_fd = fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
    if (f->length_fd < 0) {
        close(f->fd);
        f->fd = -1;
        errno = saved;
        return -1;
    }
    free(f->tmp);
    f->tmp = NULL;
    return 0;
}

int pk_outfile_open(struct pk_outfile *f, const char *path, struct pk_err *err)
{
    outfile_reset(f);
    if (!path || !*path)
        return pk_err_set(err, PK_EINVAL, "an output file needs a name");
    int rc = pk_symlink_check(path, err);
    if (rc < 0)
        return rc;
    struct stat st;
    bool exists = stat(path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode))
        return pk_err_set(err, PK_EINVAL, "cannot write '%s': it is a directory", QUOTE_STR(path));
    char resolved[PATH_MAX];
    const char *target = path;
    if (exists && realpath(path, resolved))
        target = resolved; /* an allowed symlink: replace what it points to */
    f->path = strdup(target);
    if (!f->path)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    if (exists && !S_ISREG(st.st_mode)) {
        /* /dev/null, a FIFO, a terminal: nothing to replace, write in place */
        f->fd = open(target, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (f->fd < 0) {
            rc = pk_err_set(err, PK_EINVAL, "cannot write '%s': %s", QUOTE_STR(path), strerror(errno));
            pk_outfile_abort(f);
            return rc;
        }
        return 0;
    }
    for (int tries = 0; tries < 8 && f->fd < 0; tries++) {
        free(f->tmp);
        f->tmp = temp_name(target);
        if (!f->tmp)
            break;
        f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     exists ? 0600 : PK_OUTFILE_MODE);
        if (f->fd < 0 && errno != EEXIST)
            break;
    }
    if (f->fd < 0 && exists && (errno == EACCES || errno == EPERM || errno == EROFS) &&
        open_in_place(f, target) == 0)
        return 0;
    if (f->fd < 0) {
        int e = errno;
        rc = pk_err_set(err, PK_EINVAL, "cannot write '%s': %s", QUOTE_STR(path),
                        e == ENOENT ? "no such directory" : strerror(e));
        free(f->tmp);
        f->tmp = NULL;
        pk_outfile_abort(f);
        return rc;
    }
    if (exists) {
        /* the replacement looks like what it replaces */
        if (fchmod(f->fd, st.st_mode & 07777) < 0) {
            /* best effort: the data matters more than the mode */
        }
        if (geteuid() == 0 && fchown(f->fd, st.st_uid, st.st_gid) < 0) {
            /* same */
        }
    }
    return 0;
}

int pk_outfile_commit(struct pk_outfile *f, struct pk_err *err)
{
    int rc = 0;
    if (f->fd >= 0 && close(f->fd) < 0)
        rc = pk_err_set(err, PK_EIO, "writing '%s' failed: %s", QUOTE_STR(f->path ? f->path : "?"),
                        strerror(errno));
    f->fd = -1;
    if (rc == 0 && f->length_fd >= 0) {
        off_t end = lseek(f->length_fd, 0, SEEK_CUR);
        if (end < 0 || ftruncate(f->length_fd, end) < 0)
            rc = pk_err_set(err, PK_EIO, "cannot cut '%s' to its new length: %s", QUOTE_STR(f->path),
                            strerror(errno));
    }
    if (rc == 0 && f->tmp && rename(f->tmp, f->path) < 0)
        rc = pk_err_set(err, PK_EIO, "cannot put '%s' in place: %s", QUOTE_STR(f->path),
                        strerror(errno));
    if (rc < 0) {
        pk_outfile_abort(f);
        return rc;
    }
    if (f->length_fd >= 0)
        close(f->length_fd);
    free(f->tmp);
    free(f->path);
    outfile_reset(f);
    return 0;
}

void pk_outfile_abort(struct pk_outfile *f)
{
    if (f->fd >= 0)
        close(f->fd);
    if (f->length_fd >= 0)
        close(f->length_fd);
    if (f->tmp)
        unlink(f->tmp);
    free(f->tmp);
    free(f->path);
    outfile_reset(f);
}

int pk_file_open_append(const char *path, struct pk_err *err)
{
    int rc = pk_symlink_check(path, err);
    if (rc < 0)
        return rc;
    struct stat st;
    /* Only a symlink the check accepted is followed; a plain name is
     * opened with O_NOFOLLOW, so a link planted after the check fails. */
    int nofollow = lstat(path, &st) == 0 && S_ISLNK(st.st_mode) ? 0 : O_NOFOLLOW;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | nofollow,
                  PK_LOGFILE_MODE);
    if (fd < 0) {
        if (errno == ELOOP)
            return pk_err_set(err, PK_EINVAL, "refusing to follow '%s': it became a symlink",
                              QUOTE_STR(path));
        return pk_err_set(err, PK_EINVAL, "cannot open '%s' for appending: %s", QUOTE_STR(path),
                          strerror(errno));
    }
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return pk_err_set(err, PK_EINVAL, "cannot append to '%s': it is a directory", QUOTE_STR(path));
    }
    return fd;
}

int pk_file_read(const char *path, size_t max, char **data, size_t *len, struct pk_err *err)
{
    *data = NULL;
    *len = 0;
    bool is_stdin = strcmp(path, "-") == 0;
    const char *shown = is_stdin ? "standard input" : path;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return pk_err_set(err, PK_EINVAL, "cannot read '%s': %s", QUOTE_STR(shown), strerror(errno));
    struct stat st;
    int rc = 0;
    size_t cap = 0;
    char *buf = NULL;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = pk_err_set(err, PK_EINVAL, "cannot read '%s': it is a directory", QUOTE_STR(shown));
        goto out;
    }
    /* A regular file's size sizes the buffer at once; pipes and devices
     * grow it, never past max + 1 (one byte more proves "too large"). */
    cap = S_ISREG(st.st_mode) && st.st_size > 0 && (size_t)st.st_size <= max ? (size_t)st.st_size + 1
                                                                              : 65536;
    if (cap > max + 1)
        cap = max + 1;
    buf = malloc(cap + 1);
    if (!buf) {
        rc = pk_err_set(err, PK_ENOMEM, "out of memory reading '%s'", QUOTE_STR(shown));
        goto out;
    }
    size_t n = 0;
    for (;;) {
        if (n == cap) {
            if (cap > max) {
                rc = pk_err_set(err, PK_EINVAL, "'%s' is larger than %zu MiB: portkit reads at most that",
                                QUOTE_STR(shown), max >> 20);
                goto out;
            }
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                rc = pk_err_set(err, PK_ENOMEM, "out of memory reading '%s'", QUOTE_STR(shown));
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = pk_err_set(err, PK_EINVAL, "cannot read '%s': %s", QUOTE_STR(shown), strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > max) {
        rc = pk_err_set(err, PK_EINVAL, "'%s' is larger than %zu MiB: portkit reads at most that",
                        QUOTE_STR(shown), max >> 20);
        goto out;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    buf = NULL;
out:
    free(buf);
    if (!is_stdin)
        close(fd);
    return rc;
}

bool pk_file_same(const char *a, const char *b)
{
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}
