/* What the UDP payload modules share: the binary ones that live in
 * udp_probes_bin.c (the table in udp_probes.c lists them), the id helper and
 * the PORTS shorthand. Not installed. */
#ifndef PORTKIT_UDP_PROBES_IMPL_H
#define PORTKIT_UDP_PROBES_IMPL_H

#include "portkit/udp_probes.h"

extern const struct pk_udp_probe udpp_snmp, udpp_netbios, udpp_rpcbind, udpp_openvpn,
    udpp_stun, udpp_source, udpp_ipmi;

/* A 16-bit id derived from the caller's nonce (DNS id, memcached request id).
 * Inline so the binary modules do not call back into the table's file. */
static inline uint16_t udpp_id16(const struct pk_probe_params *p)
{
    uint64_t s = p ? p->nonce : 0;
    return (uint16_t)bn_mix64(&s);
}

/* .ports and .nports of a module from one array. */
#define UDPP_PORTS(a) .ports = (a), .nports = sizeof(a) / sizeof(a)[0]

#endif
