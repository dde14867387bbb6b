/* Certificates as a server sends them in its TLS handshake: pk_cert_parse
 * and pk_cert_format on arbitrary DER. Besides memory safety: every output
 * string is NUL-terminated within its array and holds no control byte
 * (the formatted report: only its own line breaks). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "portkit/banner.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void clean(const char *s, size_t cap, bool newlines)
{
    const char *end = memchr(s, '\0', cap);
    if (!end)
        abort();
    for (const char *p = s; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c < 0x20 && !(newlines && c == '\n')) || c == 0x7f)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pk_cert_info c;
    if (pk_cert_parse(data, size, 1800000000, &c) != 0)
        return 0;
    clean(c.subject, sizeof c.subject, false);
    clean(c.issuer, sizeof c.issuer, false);
    clean(c.san, sizeof c.san, false);
    clean(c.key_type, sizeof c.key_type, false);
    clean(c.sig_alg, sizeof c.sig_alg, false);
    clean(c.sha256, sizeof c.sha256, false);
    char out[1024];
    size_t n = pk_cert_format(&c, out, sizeof out);
    if (n >= sizeof out || out[n] != '\0')
        abort();
    clean(out, sizeof out, true);
    return 0;
}
