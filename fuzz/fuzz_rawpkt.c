/* The raw reply parser (lib/scan/rawnet.c) on arbitrary bytes: whatever
 * the network sends a SYN scan or host discovery reaches it, before any
 * check that the packet is an answer to us. Besides memory safety: a
 * parsed packet's addresses are of a known family. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "scan/rawnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct raw_pkt p;
    if (!raw_parse(data, size, &p))
        return 0;
    if (p.src.family != AF_INET && p.src.family != AF_INET6)
        abort();
    if (p.kind == RAW_ICMP_ERROR && p.qdst.family != AF_INET && p.qdst.family != AF_INET6)
        abort();
    if (p.kind < RAW_TCP || p.kind > RAW_NEIGHBOUR)
        abort();
    return 0;
}
