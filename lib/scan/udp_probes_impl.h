/* The UDP payload modules that live in udp_probes_bin.c. Not installed. */
#ifndef PORTKIT_UDP_PROBES_IMPL_H
#define PORTKIT_UDP_PROBES_IMPL_H

#include "portkit/udp_probes.h"

extern const struct pk_udp_probe udpp_snmp, udpp_netbios, udpp_rpcbind, udpp_openvpn,
    udpp_stun, udpp_source, udpp_ipmi;

/* A 16-bit id derived from the caller's nonce (DNS id, memcached request id). */
uint16_t udpp_id16(const struct pk_probe_params *p);

#endif
