#include "portkit/permute.h"

#include <ctype.h>
#include <string.h>

uint64_t pk_hash64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void pk_perm_init(struct pk_perm *p, uint64_t n, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    unsigned bits = 2;
    while (bits < 64 && (1ull << bits) < n)
        bits++;
    bits += bits & 1; /* balanced halves; the domain is at most 4n, so the walk stays short */
    p->half_bits = bits / 2;
    p->half_mask = (1ull << p->half_bits) - 1;
    uint64_t k = pk_hash64(seed ^ 0x706f72746b6974ull); /* "portkit" */
    for (int r = 0; r < PK_PERM_ROUNDS; r++) {
        k = pk_hash64(k + (uint64_t)r);
        p->keys[r] = k;
    }
}

static uint64_t feistel(const struct pk_perm *p, uint64_t x)
{
    uint64_t left = x >> p->half_bits, right = x & p->half_mask;
    for (int r = 0; r < PK_PERM_ROUNDS; r++) {
        uint64_t f = pk_hash64(right ^ p->keys[r]) & p->half_mask;
        uint64_t next = left ^ f;
        left = right;
        right = next;
    }
    return (left << p->half_bits) | right;
}

/* Cycle walking: the Feistel network permutes [0, 2^bits); applying it until
 * the value falls inside [0, n) permutes [0, n). */
uint64_t pk_perm_at(const struct pk_perm *p, uint64_t i)
{
    if (p->n <= 1)
        return 0;
    uint64_t x = i;
    do
        x = feistel(p, x);
    while (x >= p->n);
    return x;
}

static int parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 10)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

int pk_shard_parse(const char *s, struct pk_shard *out, struct pk_err *err)
{
    const char *slash = strchr(s, '/');
    uint64_t i, n;
    if (!slash || parse_u64(s, (size_t)(slash - s), &i) < 0 ||
        parse_u64(slash + 1, strlen(slash + 1), &n) < 0)
        return pk_err_set(err, PK_EINVAL, "shard '%.40s' is not I/N (e.g. 1/4)", s);
    if (n == 0 || n > (1ull << 32) || i < 1 || i > n)
        return pk_err_set(err, PK_EINVAL, "shard '%.40s': need 1 <= I <= N", s);
    out->index = i;
    out->count = n;
    return 0;
}

uint64_t pk_shard_size(uint64_t n, const struct pk_shard *s)
{
    uint64_t first = s->index - 1;
    if (first >= n)
        return 0;
    return (n - first + s->count - 1) / s->count;
}
