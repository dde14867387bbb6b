/* Facts about one process from its /proc/PID files: name, command line,
 * owner. Read only for the few pids a command shows, never in a scan. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "portkit/procmap.h"

/* Reads a small /proc/PID/<name> file whole; returns its length or -1. */
static ssize_t read_pid_file(const char *proc_root, int pid, const char *name, struct pk_buf *b)
{
    struct pk_buf path = PK_BUF_INIT;
    if (pk_buf_printf(&path, "%s/%d/%s", proc_root ? proc_root : "/proc", pid, name) < 0)
        return -1;
    int fd = open(path.data, O_RDONLY | O_CLOEXEC);
    pk_buf_free(&path);
    if (fd < 0)
        return -1;
    ssize_t total = 0;
    for (;;) {
        if (pk_buf_reserve(b, 4096) < 0) {
            total = -1;
            break;
        }
        ssize_t n = read(fd, b->data + b->len, 4096);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0)
                total = -1;
            break;
        }
        b->len += (size_t)n;
        b->data[b->len] = '\0';
        total += n;
    }
    close(fd);
    return total;
}

int pk_proc_comm(const char *proc_root, int pid, char *buf, size_t size)
{
    if (size == 0)
        return PK_EINVAL;
    buf[0] = '\0';
    struct pk_buf b = PK_BUF_INIT;
    ssize_t n = read_pid_file(proc_root, pid, "comm", &b);
    if (n <= 0) {
        pk_buf_free(&b);
        return PK_ENOTFOUND;
    }
    size_t len = b.len;
    if (len && b.data[len - 1] == '\n')
        len--;
    if (len >= size)
        len = size - 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)b.data[i];
        buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    buf[len] = '\0';
    pk_buf_free(&b);
    return 0;
}

int pk_proc_cmdline(const char *proc_root, int pid, struct pk_buf *out)
{
    struct pk_buf b = PK_BUF_INIT;
    ssize_t n = read_pid_file(proc_root, pid, "cmdline", &b);
    if (n < 0) {
        pk_buf_free(&b);
        return PK_ENOTFOUND;
    }
    size_t len = b.len;
    while (len && b.data[len - 1] == '\0')
        len--;
    int rc = pk_buf_reserve(out, len);
    for (size_t i = 0; rc == 0 && i < len; i++) {
        unsigned char c = (unsigned char)b.data[i];
        out->data[out->len++] = c == 0 ? ' ' : c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (rc == 0 && out->data)
        out->data[out->len] = '\0';
    pk_buf_free(&b);
    return rc;
}

int pk_proc_uid(const char *proc_root, int pid, unsigned *uid)
{
    char path[64];
    int n = snprintf(path, sizeof path, "%d", pid);
    if (n < 0 || (size_t)n >= sizeof path)
        return PK_EINVAL;
    int dfd = open(proc_root ? proc_root : "/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return PK_ENOTFOUND;
    struct stat st;
    int rc = fstatat(dfd, path, &st, 0);
    close(dfd);
    if (rc < 0)
        return PK_ENOTFOUND;
    *uid = st.st_uid;
    return 0;
}
