/* procmap against the real /proc (sockets this test opens itself) and
 * against a fake tree of symlinks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "portkit/procmap.h"
#include "portkit/sockets.h"

static uint64_t inode_of(int fd)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    return st.st_ino;
}

static void finds_our_own_sockets(void **state)
{
    (void)state;
    int a = socket(AF_INET, SOCK_STREAM, 0), b = socket(AF_INET6, SOCK_DGRAM, 0);
    assert_true(a >= 0 && b >= 0);
    struct pk_procmap *m;
    assert_int_equal(pk_procmap_scan(NULL, &m, NULL), 0);
    int pids[4];
    assert_int_equal(pk_procmap_find(m, inode_of(a), pids, 4), 1);
    assert_int_equal(pids[0], getpid());
    assert_int_equal(pk_procmap_find(m, inode_of(b), pids, 4), 1);
    assert_int_equal(pids[0], getpid());
    assert_true(pk_procmap_sockets(m) >= 2);
    assert_int_equal(pk_procmap_find(m, 0, pids, 4), 0);
    pk_procmap_free(m);
    close(a);
    close(b);
}

/* A socket shared with a child (fork) has two holders; a second fd on the
 * same socket in one process counts once. */
static void shared_sockets_list_every_holder(void **state)
{
    (void)state;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int dup_fd = dup(s);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(ready[0]);
        (void)!write(ready[1], "x", 1);
        pause();
        _exit(0);
    }
    close(ready[1]);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);

    struct pk_procmap *m;
    assert_int_equal(pk_procmap_scan(NULL, &m, NULL), 0);
    int pids[4] = {0};
    assert_int_equal(pk_procmap_find(m, inode_of(s), pids, 4), 2);
    int lo = getpid() < child ? getpid() : child, hi = getpid() < child ? child : getpid();
    assert_int_equal(pids[0], lo); /* ascending */
    assert_int_equal(pids[1], hi);
    /* max smaller than the holder count: the lowest pids, and the total */
    int one[1];
    assert_int_equal(pk_procmap_find(m, inode_of(s), one, 1), 2);
    assert_int_equal(one[0], lo);
    pk_procmap_free(m);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    close(dup_fd);
    close(s);
}

/* More fds than one chunk of work: the split-and-share path must find them
 * all, and the threaded scan must agree with itself run after run. */
static void many_fds_in_one_process(void **state)
{
    (void)state;
    enum { N = 1500 };
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < N + 64) {
        rl.rlim_cur = rl.rlim_max < N + 64 ? rl.rlim_max : N + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < N + 64)
        skip();
    int *fds = malloc(N * sizeof *fds);
    for (int i = 0; i < N; i++) {
        fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
        assert_true(fds[i] >= 0);
    }
    for (int round = 0; round < 3; round++) {
        struct pk_procmap *m;
        assert_int_equal(pk_procmap_scan(NULL, &m, NULL), 0);
        for (int i = 0; i < N; i++) {
            int pid;
            assert_int_equal(pk_procmap_find(m, inode_of(fds[i]), &pid, 1), 1);
            assert_int_equal(pid, getpid());
        }
        pk_procmap_free(m);
    }
    for (int i = 0; i < N; i++)
        close(fds[i]);
    free(fds);
}

static void names_and_command_lines(void **state)
{
    (void)state;
    char comm[64];
    assert_int_equal(pk_proc_comm(NULL, getpid(), comm, sizeof comm), 0);
    assert_string_equal(comm, "test_procmap");
    struct pk_buf cmd = PK_BUF_INIT;
    assert_int_equal(pk_proc_cmdline(NULL, getpid(), &cmd), 0);
    assert_non_null(strstr(cmd.data, "test_procmap"));
    pk_buf_free(&cmd);
    unsigned uid;
    assert_int_equal(pk_proc_uid(NULL, getpid(), &uid), 0);
    assert_int_equal(uid, geteuid());
    /* pid 0 never exists */
    assert_int_equal(pk_proc_comm(NULL, 0, comm, sizeof comm), PK_ENOTFOUND);
    assert_int_equal(pk_proc_uid(NULL, 0, &uid), PK_ENOTFOUND);
    /* a small buffer truncates */
    char small[5];
    assert_int_equal(pk_proc_comm(NULL, getpid(), small, sizeof small), 0);
    assert_string_equal(small, "test");
}

/* The scan only needs directories of symlinks: a fake /proc proves the
 * parsing of pids and link targets without any real process. */
static void fake_proc_tree(void **state)
{
    (void)state;
    char root[] = "/tmp/pk-test-procmap-XXXXXX";
    assert_non_null(mkdtemp(root));
    char p[512];
    struct {
        const char *dir;
        const char *name;
        const char *target;
    } links[] = {
        {"100/fd", "0", "/dev/null"},
        {"100/fd", "3", "socket:[5000]"},
        {"100/fd", "4", "socket:[5001]"},
        {"100/fd", "5", "pipe:[77]"},
        {"100/fd", "6", "socket:[12x]"},
        {"100/fd", "7", "socket:[]"},
        {"200/fd", "9", "socket:[5000]"},
        {"200/fd", "10", "socket:[5000]"}, /* same socket twice: one holder */
        {"self/fd", "3", "socket:[6000]"},  /* not a pid: ignored */
        {"300x/fd", "3", "socket:[6001]"},
    };
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
        char dir[256];
        snprintf(dir, sizeof dir, "%s/%s", root, links[i].dir);
        char *slash = strchr(dir + strlen(root) + 1, '/');
        *slash = '\0';
        mkdir(dir, 0700);
        *slash = '/';
        mkdir(dir, 0700);
        snprintf(p, sizeof p, "%s/%s", dir, links[i].name);
        assert_int_equal(symlink(links[i].target, p), 0);
    }
    snprintf(p, sizeof p, "%s/400", root); /* a process without fd dir (a zombie) */
    mkdir(p, 0700);

    struct pk_procmap *m;
    assert_int_equal(pk_procmap_scan(root, &m, NULL), 0);
    int pids[4];
    assert_int_equal(pk_procmap_find(m, 5000, pids, 4), 2);
    assert_int_equal(pids[0], 100);
    assert_int_equal(pids[1], 200);
    assert_int_equal(pk_procmap_find(m, 5001, pids, 4), 1);
    assert_int_equal(pk_procmap_find(m, 6000, pids, 4), 0);
    assert_int_equal(pk_procmap_find(m, 6001, pids, 4), 0);
    assert_int_equal(pk_procmap_find(m, 77, pids, 4), 0);
    assert_int_equal(pk_procmap_sockets(m), 3);
    assert_false(pk_procmap_partial(m));
    pk_procmap_free(m);

    struct pk_err err = {0};
    assert_int_equal(pk_procmap_scan("/nonexistent/proc", &m, &err), PK_ESYS);
    assert_null(m);
    assert_non_null(strstr(err.msg, "/nonexistent/proc"));

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

/* pk_sockets_list ties a real listening socket to this process. */
static void sockets_list_maps_processes(void **state)
{
    (void)state;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr = {htonl(0x7f000001)}};
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s, 1), 0);
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    unsigned port = ntohs(a.sin_port);

    struct pk_sock_query q = {.processes = true, .has_port = true, .port = port,
                              .protos = PK_PROTO_MASK(PK_TCP)};
    struct pk_socklist *l;
    assert_int_equal(pk_sockets_list(&q, &l, NULL), 0);
    assert_int_equal(pk_socklist_count(l), 1);
    const struct pk_sock *r = pk_socklist_get(l, 0);
    assert_int_equal(r->pid, getpid());
    assert_int_equal(r->nholders, 1);
    assert_string_equal(r->process, "test_procmap");
    assert_non_null(r->user);
    assert_int_equal(r->inode, inode_of(s));
    assert_int_equal(r->state, PK_SS_LISTEN);
    pk_socklist_free(l);

    /* filters by pid and by name: ours matches, another does not */
    q.pid = getpid();
    assert_int_equal(pk_sockets_list(&q, &l, NULL), 0);
    assert_int_equal(pk_socklist_count(l), 1);
    pk_socklist_free(l);
    q.pid = 0;
    q.process = "no-such-process";
    assert_int_equal(pk_sockets_list(&q, &l, NULL), 0);
    assert_int_equal(pk_socklist_count(l), 0);
    pk_socklist_free(l);
    q.process = "test_procmap";
    assert_int_equal(pk_sockets_list(&q, &l, NULL), 0);
    assert_int_equal(pk_socklist_count(l), 1);
    pk_socklist_free(l);
    close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(finds_our_own_sockets),
        cmocka_unit_test(shared_sockets_list_every_holder),
        cmocka_unit_test(many_fds_in_one_process),
        cmocka_unit_test(names_and_command_lines),
        cmocka_unit_test(fake_proc_tree),
        cmocka_unit_test(sockets_list_maps_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
