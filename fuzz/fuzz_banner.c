/* Service identification on arbitrary bytes: the TCP recognisers, the UDP
 * reply matchers and the sanitiser. Input layout: 2 bytes port (big
 * endian), 1 selector byte (low 3 bits: the probe that was "sent"; bit 3:
 * treat as a UDP reply; bits 4-7: output buffer size for the sanitiser),
 * then the bytes the "service" sent. UDP replies answer the payload built
 * with nonce 1, as the corpus' captured replies do. Besides memory safety
 * it checks the promise that matters: no output string ever holds a
 * control byte or runs past its array. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "portkit/banner.h"
#include "portkit/udp_probes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, size_t cap)
{
    const char *end = memchr(s, '\0', cap);
    if (!end)
        abort();
    for (const char *p = s; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7F)
            abort();
        if (c == 0xC2 && (unsigned char)p[1] >= 0x80 && (unsigned char)p[1] <= 0x9F)
            abort(); /* a C1 control (e.g. CSI) slipped through */
    }
}

static void check_id(const struct pk_service_id *id)
{
    check_text(id->service, sizeof id->service);
    check_text(id->product, sizeof id->product);
    check_text(id->version, sizeof id->version);
    check_text(id->extra, sizeof id->extra);
    check_text(id->banner, sizeof id->banner);
    char line[320];
    pk_service_id_format(id, line, sizeof line);
    check_text(line, sizeof line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    unsigned port = (unsigned)data[0] << 8 | data[1];
    unsigned sel = data[2];
    const uint8_t *body = data + 3;
    size_t len = size - 3;
    struct pk_service_id id;

    if (sel & 0x08) {
        uint8_t sent[PK_UDP_PAYLOAD_MAX];
        struct pk_probe_params p = {"fuzz.example", 1};
        int n = pk_udp_payload(port, &p, sent, sizeof sent);
        pk_udp_reply_identify(port, sent, n > 0 ? (size_t)n : 0, body, len, "fallback", &id);
        check_id(&id);
    } else {
        enum pk_probe_id probe = (enum pk_probe_id)((sel & 7) % PK_PROBE_COUNT);
        enum pk_id_status st = pk_banner_identify(port, probe, body, len, "fallback", &id);
        if (st > PK_ID_MATCH)
            abort();
        check_id(&id);
    }

    char out[256];
    size_t cap = 1 + (sel >> 4) * 16;
    char *canary = out + cap;
    memset(canary, 'Z', sizeof out - cap);
    size_t n = pk_banner_sanitize(body, len, out, cap);
    if (n >= cap || out[n] != '\0')
        abort();
    for (size_t i = cap; i < sizeof out; i++)
        if (out[i] != 'Z')
            abort();
    check_text(out, cap);
    pk_banner_sanitize_line(body, len, out, sizeof out);
    check_text(out, sizeof out);
    return 0;
}
