/* Output files replaced only by complete ones, symlinks followed only where
 * fs.protected_symlinks would follow them, bounded reads. The symlink cases
 * need root (a link owned by another user); they are skipped otherwise. */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "portkit/duration.h"
#include "portkit/safefile.h"

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/pk-safefile-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void read_back(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void old_file_kept_until_commit(void **state)
{
    (void)state;
    char path[PATH_MAX], buf[64];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    put(path, "old\n");
    chmod(path, 0640);
    struct pk_outfile f;
    struct pk_err err = {0};
    assert_int_equal(pk_outfile_open(&f, path, &err), 0);
    assert_non_null(f.tmp);
    assert_true(write(f.fd, "new\n", 4) == 4);
    read_back(path, buf, sizeof buf);
    assert_string_equal(buf, "old\n"); /* not yet */
    pk_outfile_abort(&f);
    read_back(path, buf, sizeof buf);
    assert_string_equal(buf, "old\n");

    assert_int_equal(pk_outfile_open(&f, path, &err), 0);
    assert_true(write(f.fd, "new\n", 4) == 4);
    assert_int_equal(pk_outfile_commit(&f, &err), 0);
    read_back(path, buf, sizeof buf);
    assert_string_equal(buf, "new\n");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640); /* the replaced file's mode */
}

static void new_file_mode_follows_umask(void **state)
{
    (void)state;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/fresh.txt", dir);
    mode_t old = umask(027);
    struct pk_outfile f;
    struct pk_err err = {0};
    assert_int_equal(pk_outfile_open(&f, path, &err), 0);
    umask(old);
    assert_int_equal(pk_outfile_commit(&f, &err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, PK_OUTFILE_MODE & ~027);
}

static void bad_paths_fail_before_anything(void **state)
{
    (void)state;
    struct pk_outfile f;
    struct pk_err err = {0};
    assert_int_equal(pk_outfile_open(&f, "/nonexistent-dir/x", &err), PK_EINVAL);
    assert_non_null(strstr(err.msg, "no such directory"));
    assert_int_equal(f.fd, -1);
    assert_int_equal(pk_outfile_open(&f, dir, &err), PK_EINVAL);
    assert_non_null(strstr(err.msg, "directory"));
    /* a device is written in place */
    assert_int_equal(pk_outfile_open(&f, "/dev/null", &err), 0);
    assert_null(f.tmp);
    assert_int_equal(pk_outfile_commit(&f, &err), 0);
}

/* The attack: another user's symlink in a sticky world-writable directory
 * pointing at a file of ours. */
static void planted_symlink_refused(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    char sticky[128], victim[PATH_MAX], link[PATH_MAX], buf[64];
    snprintf(sticky, sizeof sticky, "%s/sticky", dir);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(link, sizeof link, "%s/link", sticky);
    assert_int_equal(mkdir(sticky, 01777), 0);
    chmod(sticky, 01777);
    put(victim, "precious\n");
    assert_int_equal(symlink(victim, link), 0);
    assert_int_equal(lchown(link, 65534, 65534), 0);

    struct pk_err err = {0};
    assert_int_equal(pk_symlink_check(link, &err), PK_EINVAL);
    assert_non_null(strstr(err.msg, "protected_symlinks"));
    struct pk_outfile f;
    assert_int_equal(pk_outfile_open(&f, link, &err), PK_EINVAL);
    assert_int_equal(pk_file_open_append(link, &err), PK_EINVAL);
    read_back(victim, buf, sizeof buf);
    assert_string_equal(buf, "precious\n");

    /* our own link there is followed, as the kernel would */
    assert_int_equal(lchown(link, 0, 0), 0);
    int fd = pk_file_open_append(link, &err);
    assert_true(fd >= 0);
    assert_true(write(fd, "more\n", 5) == 5);
    close(fd);
    read_back(victim, buf, sizeof buf);
    assert_string_equal(buf, "precious\nmore\n");
}

static void append_creates_log_mode(void **state)
{
    (void)state;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/new.log", dir);
    mode_t old = umask(0);
    struct pk_err err = {0};
    int fd = pk_file_open_append(path, &err);
    umask(old);
    assert_true(fd >= 0);
    close(fd);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, PK_LOGFILE_MODE);
    assert_int_equal(pk_file_open_append(dir, &err), PK_EINVAL);
}

static void read_is_bounded(void **state)
{
    (void)state;
    char *data;
    size_t len;
    struct pk_err err = {0};
    assert_int_equal(pk_file_read("/dev/zero", 1 << 20, &data, &len, &err), PK_EINVAL);
    assert_non_null(strstr(err.msg, "larger than 1 MiB"));
    assert_null(data);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/small", dir);
    put(path, "127.0.0.1\n");
    assert_int_equal(pk_file_read(path, 1 << 20, &data, &len, &err), 0);
    assert_int_equal(len, 10);
    assert_string_equal(data, "127.0.0.1\n");
    free(data);
    assert_int_equal(pk_file_read(dir, 1 << 20, &data, &len, &err), PK_EINVAL);
    assert_non_null(strstr(err.msg, "directory"));
    assert_true(pk_file_same(path, path));
    assert_false(pk_file_same(path, dir));
}

static void durations_one_grammar(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint64_t ms;
    } ok[] = {{"0", 0}, {"2", 2000}, {"500ms", 500}, {"2s", 2000}, {"1.5s", 1500}, {"10m", 600000},
              {"1h", 3600000}, {".25", 250}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t ms = 99;
        struct pk_err err = {0};
        if (pk_duration_parse(ok[i].s, strlen(ok[i].s), 0, &ms, &err) < 0)
            fail_msg("'%s': %s", ok[i].s, err.msg);
        assert_int_equal(ms, ok[i].ms);
    }
    static const char *const bad[] = {"", "ms", "-1", "1x", "2d", "1.2.3", "5 s", "\x1b[2J"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t ms;
        struct pk_err err = {0};
        assert_int_equal(pk_duration_parse(bad[i], strlen(bad[i]), 0, &ms, &err), PK_EINVAL);
        assert_null(strchr(err.msg, '\x1b'));
    }
    uint64_t ms;
    struct pk_err err = {0};
    assert_int_equal(pk_duration_parse("2h", 2, 3600000, &ms, &err), PK_EINVAL);
    assert_non_null(strstr(err.msg, "at most 1 h"));
    assert_int_equal(pk_duration_parse("99999999999999999999999h", 24, 0, &ms, &err), PK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(old_file_kept_until_commit),
        cmocka_unit_test(new_file_mode_follows_umask),
        cmocka_unit_test(bad_paths_fail_before_anything),
        cmocka_unit_test(planted_symlink_refused),
        cmocka_unit_test(append_creates_log_mode),
        cmocka_unit_test(read_is_bounded),
        cmocka_unit_test(durations_one_grammar),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
