#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "portkit/buf.h"
#include "portkit/error.h"

struct pair {
    int a, b;
};

static void array_grows_by_doubling_and_keeps_contents(void **state)
{
    (void)state;
    struct pair *v = NULL;
    size_t cap = 0;
    assert_int_equal(PK_ARRAY_RESERVE(v, cap, 1, 4), 0);
    assert_int_equal(cap, 4);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(PK_ARRAY_RESERVE(v, cap, (size_t)i + 1, 4), 0);
        v[i] = (struct pair){i, -i};
    }
    assert_int_equal(cap, 128);
    for (int i = 0; i < 100; i++)
        assert_int_equal(v[i].a + v[i].b, 0);
    /* Enough room already: nothing moves. */
    struct pair *before = v;
    assert_int_equal(PK_ARRAY_RESERVE(v, cap, 50, 4), 0);
    assert_ptr_equal(v, before);
    free(v);
}

static void overflow_is_refused_and_array_unchanged(void **state)
{
    (void)state;
    struct pair *v = NULL;
    size_t cap = 0;
    assert_int_equal(PK_ARRAY_RESERVE(v, cap, 3, 0), 0);
    assert_int_equal(cap, 8);  /* first 0 means a small default */
    struct pair *before = v;
    assert_int_equal(PK_ARRAY_RESERVE(v, cap, SIZE_MAX / 2, 8), PK_ENOMEM);
    assert_ptr_equal(v, before);
    assert_int_equal(cap, 8);
    assert_int_equal(PK_ARRAY_RESERVE(v, cap, SIZE_MAX, 8), PK_ENOMEM);
    free(v);
}

static void buffer_reserve_and_append(void **state)
{
    (void)state;
    struct pk_buf b = PK_BUF_INIT;
    assert_int_equal(pk_buf_reserve(&b, 10), 0);
    assert_true(b.cap >= 11);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(pk_buf_printf(&b, "%d,", i % 10), 0);
    assert_int_equal(b.len, 2000);
    assert_int_equal(b.data[b.len], '\0');
    assert_int_equal(pk_buf_reserve(&b, SIZE_MAX - 1), PK_ENOMEM);
    assert_int_equal(b.len, 2000);
    pk_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(array_grows_by_doubling_and_keeps_contents),
        cmocka_unit_test(overflow_is_refused_and_array_unchanged),
        cmocka_unit_test(buffer_reserve_and_append),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
