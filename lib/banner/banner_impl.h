/* Internals shared by the banner and UDP probe modules: bounded byte
 * helpers and the recognisers each source file contributes. Not installed. */
#ifndef PORTKIT_BANNER_IMPL_H
#define PORTKIT_BANNER_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portkit/banner.h"

/* Deterministic bytes from the caller's nonce (splitmix64): probes must be
 * reproducible for a seeded scan and the library keeps no RNG state. */
static inline uint64_t bn_mix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline void bn_fill_random(uint64_t *state, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = bn_mix64(state);
        for (size_t j = 0; j < 8 && i + j < n; j++)
            out[i + j] = (uint8_t)(v >> (8 * j));
    }
}

static inline uint16_t bn_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t bn_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void bn_put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void bn_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Sets out to "nothing known": service = fallback (sanitised), rest "". */
void bn_id_reset(struct pk_service_id *out, const char *fallback);
/* Copies a field from untrusted bytes (sanitised, one line, trimmed). */
void bn_id_field(char *dst, size_t cap, const void *src, size_t len);

/* Copies a trusted constant (a product or service name we chose). */
void bn_id_const(char *dst, size_t cap, const char *s);

/* Shorthands for filling a pk_service_id field from a constant (SET) or
 * from bytes of a reply (FIELD), always bounded by the field's size. */
#define BN_SET(out, f, s) bn_id_const((out)->f, sizeof (out)->f, (s))
#define BN_FIELD(out, f, p, n) bn_id_field((out)->f, sizeof (out)->f, (p), (n))
/* banner = first non-empty line of data, sanitised. */
void bn_id_banner(struct pk_service_id *out, const void *data, size_t len);

/* Case-insensitive search of needle (NUL-terminated) in hay[0..n). */
const uint8_t *bn_memcasemem(const uint8_t *hay, size_t n, const char *needle);
bool bn_has_prefix(const uint8_t *d, size_t n, const char *prefix);
/* Length of the first line (excluding CR/LF); *complete tells whether a
 * line end was seen. */
size_t bn_line_len(const uint8_t *d, size_t n, bool *complete);
/* Token of version-like characters at p (digits, letters, . _ - + ~ :). */
size_t bn_version_len(const uint8_t *p, size_t n);
bool bn_is_text(const uint8_t *d, size_t n); /* mostly printable: worth a banner line */

/* Recognisers. Each returns PK_ID_NONE when the bytes are not its
 * protocol (and leaves out alone), otherwise fills out and says MORE or
 * MATCH. `sent` is the probe the bytes answer. */
/* Every recogniser has this shape, so pk_banner_identify walks one table:
 * given what was sent (if anything) to port and the bytes that came back,
 * PK_ID_MATCH (out filled), PK_ID_MORE (need more bytes), PK_ID_NONE (not
 * this protocol). */
typedef enum pk_id_status bn_recogniser_fn(unsigned port, enum pk_probe_id sent, const uint8_t *d,
                                           size_t n, struct pk_service_id *out);

bn_recogniser_fn bn_ident_tls;
bn_recogniser_fn bn_ident_text;
enum pk_id_status bn_ident_http(const uint8_t *d, size_t n, struct pk_service_id *out);

/* Product and version from a version.bind TXT answer (raw bytes). */

/* TLS ClientHello (banner_tls.c). */
int bn_tls_client_hello(const struct pk_probe_params *p, uint8_t *out, size_t cap);
const char *bn_tls_version_name(unsigned v); /* "1.2", "1.3", or NULL */

#endif
