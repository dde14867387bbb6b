/* The UDP payload modules that live in udp_probes_bin.c. Not installed. */
#ifndef PORTKIT_UDP_PROBES_IMPL_H
#define PORTKIT_UDP_PROBES_IMPL_H

#include "portkit/udp_probes.h"

extern const struct pk_udp_probe pk_udp_snmp, pk_udp_netbios, pk_udp_rpcbind, pk_udp_openvpn,
    pk_udp_stun, pk_udp_source, pk_udp_ipmi;

/* A 16-bit id derived from the caller's nonce (DNS id, memcached request id). */
uint16_t pk_udp_id16(const struct pk_probe_params *p);

#endif
