#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "portkit/hostinfo.h"

/* Root holds CAP_NET_ADMIN; the same process after setuid(nobody) holds
 * nothing: both read from this process's own status, for real. */
static void capabilities_follow_the_process(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    assert_true(pk_have_capability(PK_CAP_NET_ADMIN));
    assert_true(pk_have_capability(PK_CAP_NET_BIND_SERVICE));
    assert_false(pk_have_capability(200)); /* no such capability */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(3);
        _exit(pk_have_capability(PK_CAP_NET_ADMIN) || pk_have_capability(PK_CAP_NET_RAW) ? 1 : 0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void ranges_from_files(void **state)
{
    (void)state;
    struct pk_hostinfo hi;
    /* missing files: Linux defaults */
    assert_int_equal(pk_hostinfo_read_from(&hi, "/nonexistent/a", "/nonexistent/b", NULL), 0);
    assert_true(pk_hostinfo_is_ephemeral(&hi, 40000));
    assert_false(pk_hostinfo_is_ephemeral(&hi, 1000));
    assert_true(pk_hostinfo_is_privileged(&hi, 80));
    assert_false(pk_hostinfo_is_privileged(&hi, 8080));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(capabilities_follow_the_process),
        cmocka_unit_test(ranges_from_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
