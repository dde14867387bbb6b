#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "portkit/frequency.h"

static const char sample[] =
    "# nmap-services style\n"
    "http\t80/tcp\t0.484143\t# World Wide Web HTTP\n"
    "telnet\t23/tcp\t0.221265\n"
    "https\t443/tcp\t0.208669\n"
    "ssh\t22/tcp\t0.182286\n"
    "domain\t53/udp\t0.213496\n"
    "sctp\t9/sctp\t0.000100\n";

static void parses_and_ranks(void **state)
{
    (void)state;
    struct pk_frequency *f = NULL;
    struct pk_err err = {0};
    assert_int_equal(pk_frequency_parse(sample, strlen(sample), "s", &f, &err), 0);
    assert_true(pk_frequency_get(f, 80, PK_TCP) > 0.48);
    assert_true(pk_frequency_get(f, 53, PK_TCP) == -1.0);
    assert_true(pk_frequency_get(f, 53, PK_UDP) > 0.2);
    uint16_t top[8];
    assert_int_equal(pk_frequency_top(f, PK_TCP, 8, top), 4);
    assert_int_equal(top[0], 80);
    assert_int_equal(top[1], 23);
    assert_int_equal(top[2], 443);
    assert_int_equal(top[3], 22);
    assert_int_equal(pk_frequency_top(f, PK_TCP, 2, top), 2);
    pk_frequency_free(f);
}

static void bad_lines_name_file_and_line(void **state)
{
    (void)state;
    struct pk_frequency *f = NULL;
    struct pk_err err = {0};
    const char *bad = "http\t80/tcp\t0.4\nx\t99999/tcp\t0.1\n";
    assert_int_equal(pk_frequency_parse(bad, strlen(bad), "svc", &f, &err), PK_EINVAL);
    assert_non_null(strstr(err.msg, "svc:2:"));
    const char *bad_freq = "http\t80/tcp\t1.5\n";
    assert_int_equal(pk_frequency_parse(bad_freq, strlen(bad_freq), "svc", &f, &err), PK_EINVAL);
}

static void single_lookup_agrees_with_table(void **state)
{
    (void)state;
    char path[] = "/tmp/pk-freq-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, sample, strlen(sample)), (ssize_t)strlen(sample));
    close(fd);
    double v = -1;
    assert_int_equal(pk_frequency_lookup(path, 443, PK_TCP, &v, NULL), 0);
    assert_true(v > 0.2086 && v < 0.2087);
    assert_int_equal(pk_frequency_lookup(path, 43, PK_TCP, &v, NULL), 0); /* not "443" */
    assert_true(v == -1.0); /* unlisted: no data, not 0 % */
    struct pk_frequency *f = NULL;
    assert_int_equal(pk_frequency_load(path, &f, NULL), 0);
    assert_true(pk_frequency_get(f, 22, PK_TCP) > 0.18);
    pk_frequency_free(f);
    unlink(path);
    assert_int_equal(pk_frequency_lookup(path, 80, PK_TCP, &v, NULL), PK_ENOTFOUND);
    assert_int_equal(pk_frequency_load(path, &f, NULL), PK_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_and_ranks),
        cmocka_unit_test(bad_lines_name_file_and_line),
        cmocka_unit_test(single_lookup_agrees_with_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
