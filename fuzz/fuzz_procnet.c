/* The /proc/net/{tcp,tcp6,udp,udp6} parser on arbitrary text, then every
 * record it accepts through the formatting and annotation code. */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "portkit/sockets.h"
#include "portkit/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pk_socklist *l = pk_socklist_new();
    if (!l)
        return 0;
    /* the first byte picks the transport and the state filter */
    enum pk_proto proto = size && (data[0] & 1) ? PK_UDP : PK_TCP;
    unsigned states = size && (data[0] & 2) ? PK_SS_LISTENING : 0;
    size_t bad = 0;
    pk_procnet_parse((const char *)data, size, proto, states, l, &bad);
    struct pk_hostinfo host = {32768, 60999, 1024, true};
    struct pk_buf b = PK_BUF_INIT;
    for (size_t i = 0; i < pk_socklist_count(l); i++) {
        const struct pk_sock *s = pk_socklist_get(l, i);
        if (s->family != AF_INET && s->family != AF_INET6)
            __builtin_trap();
        if (s->state == PK_SS_UNKNOWN || s->state >= PK_SS_COUNT)
            __builtin_trap();
        if (states && !(states & PK_SS_MASK(s->state)))
            __builtin_trap();
        struct pk_sock_notes n;
        pk_sock_annotate(pk_registry_builtin(), &host, s, &n);
        char ep[PK_ENDPOINT_MAX];
        pk_sock_endpoint_str(s->family, s->local, s->local_port, NULL, ep, sizeof ep);
        pk_buf_reset(&b);
        pk_sock_json(s, &n, NULL, 0, NULL, &b);
    }
    pk_socklist_sort(l);
    pk_buf_free(&b);
    pk_socklist_free(l);
    return 0;
}
