#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmocka.h>

#include "portkit/error.h"

static void strerror_names_every_code(void **state)
{
    (void)state;
    assert_string_equal(pk_strerror(PK_EINVAL), "bad input");
    assert_string_equal(pk_strerror(PK_ENOMEM), "out of memory");
    assert_string_equal(pk_strerror(PK_ESYS), "system call failed");
    assert_string_equal(pk_strerror(PK_ENOTFOUND), "not found");
    assert_string_equal(pk_strerror(12345), "unknown error");
    for (int c = PK_EUNSUPP; c <= PK_OK; c++)
        assert_string_not_equal(pk_strerror(c), "unknown error");
}

/* An embedder tells "port in use" from "permission denied" by number: make a
 * real bind fail with EADDRINUSE and check the number survives. */
static void sys_failure_keeps_errno_as_a_number(void **state)
{
    (void)state;
    int a = socket(AF_INET, SOCK_STREAM, 0), b = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(a >= 0 && b >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(a, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(listen(a, 1), 0);
    socklen_t len = sizeof sin;
    assert_int_equal(getsockname(a, (struct sockaddr *)&sin, &len), 0);
    assert_int_equal(bind(b, (struct sockaddr *)&sin, sizeof sin), -1);
    struct pk_err err;
    assert_int_equal(pk_err_sys(&err, "bind"), PK_ESYS);
    assert_int_equal(err.code, PK_ESYS);
    assert_int_equal(err.sys_errno, EADDRINUSE);
    assert_int_equal(errno, EADDRINUSE); /* preserved for the caller too */
    assert_non_null(strstr(err.msg, "bind: "));
    /* A later non-system error does not keep a stale number. */
    pk_err_set(&err, PK_EINVAL, "bad %s", "port");
    assert_int_equal(err.sys_errno, 0);
    assert_string_equal(err.msg, "bad port");
    pk_err_clear(&err);
    assert_int_equal(err.code, 0);
    assert_string_equal(err.msg, "");
    close(a);
    close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strerror_names_every_code),
        cmocka_unit_test(sys_failure_keeps_errno_as_a_number),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
