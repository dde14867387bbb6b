/* The order of a scan: a keyed pseudo-random permutation of all (host,
 * port) pairs, computed one element at a time (no shuffle array), and
 * sharding: shard I of N takes positions I-1, I-1+N, I-1+2N, ... of the same
 * permutation, so N machines given the same seed split one scan with no
 * coordination and their union is exactly the whole scan. */
#ifndef PORTKIT_PERMUTE_H
#define PORTKIT_PERMUTE_H

#include "portkit/export.h"

#include <stdint.h>

#include "portkit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PK_PERM_ROUNDS 4

struct pk_perm {
    uint64_t n;              /* the permuted domain is [0, n) */
    unsigned half_bits;      /* a balanced Feistel network over 2*half_bits bits */
    uint64_t half_mask;
    uint64_t keys[PK_PERM_ROUNDS];
};

/* n may be anything up to 2^62; the same (n, seed) always gives the same
 * permutation, on every machine. */
PK_EXPORT void pk_perm_init(struct pk_perm *p, uint64_t n, uint64_t seed);
/* The element at position i (i < n): a bijection of [0, n). */
PK_EXPORT uint64_t pk_perm_at(const struct pk_perm *p, uint64_t i);

struct pk_shard {
    uint64_t index; /* 1..count */
    uint64_t count;
};

/* Parses "I/N" (1 <= I <= N <= 2^32). */
PK_EXPORT int pk_shard_parse(const char *s, struct pk_shard *out, struct pk_err *err);
/* How many of the n positions belong to the shard. */
PK_EXPORT uint64_t pk_shard_size(uint64_t n, const struct pk_shard *s);
/* The k-th position of the shard (k < pk_shard_size). */
static inline uint64_t pk_shard_position(const struct pk_shard *s, uint64_t k)
{
    return (s->index - 1) + k * s->count;
}

/* A well-mixed 64-bit hash (splitmix64's finaliser), for seeds and keys. */
PK_EXPORT uint64_t pk_hash64(uint64_t x);

#ifdef __cplusplus
}
#endif
#endif
