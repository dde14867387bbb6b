#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "portkit/permute.h"

/* Every element of [0, n) exactly once. */
static void check_bijection(uint64_t n, uint64_t seed)
{
    struct pk_perm p;
    pk_perm_init(&p, n, seed);
    uint8_t *seen = calloc(n ? n : 1, 1);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t x = pk_perm_at(&p, i);
        assert_true(x < n);
        assert_int_equal(seen[x], 0);
        seen[x] = 1;
    }
    free(seen);
}

static void test_bijection(void **state)
{
    (void)state;
    uint64_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 100, 1000, 65535, 65536, 65537, 300001};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (uint64_t seed = 0; seed < 3; seed++)
            check_bijection(sizes[i], seed);
}

static void test_seed_and_spread(void **state)
{
    (void)state;
    struct pk_perm a, b, c;
    pk_perm_init(&a, 65535, 42);
    pk_perm_init(&b, 65535, 42);
    pk_perm_init(&c, 65535, 43);
    size_t same_seed = 0, other_seed = 0, ascending = 0;
    for (uint64_t i = 0; i < 65535; i++) {
        same_seed += pk_perm_at(&a, i) == pk_perm_at(&b, i);
        other_seed += pk_perm_at(&a, i) == pk_perm_at(&c, i);
        if (i && pk_perm_at(&a, i) == pk_perm_at(&a, i - 1) + 1)
            ascending++;
    }
    assert_int_equal(same_seed, 65535);
    assert_true(other_seed < 100);
    assert_true(ascending < 100); /* not port after port */

    /* host x port: consecutive probes seldom hit the same host */
    struct pk_perm hp;
    uint64_t hosts = 16, ports = 1000;
    pk_perm_init(&hp, hosts * ports, 7);
    size_t same_host = 0;
    for (uint64_t i = 1; i < hosts * ports; i++)
        same_host += pk_perm_at(&hp, i) / ports == pk_perm_at(&hp, i - 1) / ports;
    assert_true(same_host < hosts * ports / 8);
}

static void test_shards(void **state)
{
    (void)state;
    uint64_t n = 10007;
    struct pk_perm p;
    pk_perm_init(&p, n, 99);
    uint8_t *seen = calloc(n, 1);
    uint64_t total = 0;
    for (uint64_t i = 1; i <= 3; i++) {
        struct pk_shard s = {i, 3};
        uint64_t size = pk_shard_size(n, &s);
        total += size;
        for (uint64_t k = 0; k < size; k++) {
            uint64_t x = pk_perm_at(&p, pk_shard_position(&s, k));
            assert_int_equal(seen[x], 0);
            seen[x] = 1;
        }
    }
    assert_int_equal(total, n);
    free(seen);

    struct pk_shard s;
    struct pk_err err = {0};
    assert_int_equal(pk_shard_parse("2/5", &s, &err), 0);
    assert_int_equal(s.index, 2);
    assert_int_equal(s.count, 5);
    assert_int_equal(pk_shard_parse("0/5", &s, &err), PK_EINVAL);
    assert_int_equal(pk_shard_parse("6/5", &s, &err), PK_EINVAL);
    assert_int_equal(pk_shard_parse("1/0", &s, &err), PK_EINVAL);
    assert_int_equal(pk_shard_parse("1-5", &s, &err), PK_EINVAL);
    assert_int_equal(pk_shard_parse("/5", &s, &err), PK_EINVAL);
    struct pk_shard big = {4, 4};
    assert_int_equal(pk_shard_size(3, &big), 0);
    struct pk_shard one = {1, 1};
    assert_int_equal(pk_shard_size(0, &one), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bijection),
        cmocka_unit_test(test_seed_and_spread),
        cmocka_unit_test(test_shards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
