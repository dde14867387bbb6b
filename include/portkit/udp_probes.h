/* UDP payloads (scan -sU): an empty datagram makes most UDP services say
 * nothing, so "no answer" cannot tell open from filtered. For common
 * services portkit sends a real request (a DNS query, an NTP client
 * packet, an SNMP get, ...) that a real server answers, and can tell
 * whether a reply really answers that request (same DNS id, NTP
 * originate timestamp, SNMP request-id, ...). Pure functions, no I/O.
 *
 * How a scan engine uses it, per UDP port:
 *   - pk_udp_payload(port, params, buf, cap) → n bytes; n == 0 means no
 *     payload is known for this port: send an empty datagram.
 *   - Any datagram back from the port means open. To name the service,
 *     call pk_udp_reply_identify() with the exact bytes sent: PK_ID_MATCH
 *     when the reply answers our request, PK_ID_UNKNOWN otherwise (the
 *     registry's name as service, the reply's first line as banner).
 *   - Probes whose flags hold PK_UDP_REPLY_OTHER_PORT (TFTP) are answered
 *     from another source port of the same host, which a connected socket
 *     never receives: an engine that wants those needs an unconnected
 *     socket that accepts replies from (host, any port). On a connected
 *     socket the kernel drops that reply and the port looks open|filtered.
 *   - Use a fresh nonce per retry if the engine wants to tell a late reply
 *     to the first try from the answer to the second.
 */
#ifndef PORTKIT_UDP_PROBES_H
#define PORTKIT_UDP_PROBES_H

#include "portkit/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portkit/banner.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PK_UDP_PAYLOAD_MAX 512 /* no payload is longer */

enum {
    PK_UDP_REPLY_OTHER_PORT = 1u << 0, /* the server answers from a new port (TFTP) */
};

/* One UDP payload module. Contract:
 *   build(p, out, cap): writes the datagram for p (p->nonce seeds the ids
 *     and cookies, p->host may be NULL); returns its length, or PK_EINVAL
 *     when cap is too small. Same nonce, same bytes.
 *   identify(sent, sent_len, reply, reply_len, out): sent is exactly what
 *     build wrote. Returns PK_ID_MATCH and fills out (service, and product,
 *     version, extra, banner when the reply says) when reply answers sent;
 *     otherwise PK_ID_UNKNOWN and leaves out alone. Reads only within the
 *     given lengths; safe on any bytes. */
struct pk_udp_probe {
    const char *name;        /* "dns", "ntp", ... */
    const char *service;     /* service named on a match: "domain", "ntp", "snmp", ... */
    const uint16_t *ports;   /* ports this payload is sent to */
    size_t nports;
    unsigned flags;          /* PK_UDP_REPLY_OTHER_PORT */
    int (*build)(const struct pk_probe_params *p, uint8_t *out, size_t cap);
    enum pk_id_status (*identify)(const uint8_t *sent, size_t sent_len, const uint8_t *reply,
                                  size_t reply_len, struct pk_service_id *out);
};

/* The built-in modules, for listing and tests. */
PK_EXPORT size_t pk_udp_probe_count(void);
PK_EXPORT const struct pk_udp_probe *pk_udp_probe_get(size_t index);
/* The module for a port, or NULL when none (send an empty datagram). */
PK_EXPORT const struct pk_udp_probe *pk_udp_probe_for_port(unsigned port);

/* Writes the payload for port: returns its length, 0 when no payload is
 * known (send an empty datagram), or PK_EINVAL when cap is too small. */
PK_EXPORT int pk_udp_payload(unsigned port, const struct pk_probe_params *p, uint8_t *out, size_t cap);

/* Names what answered on port. sent/sent_len: the datagram we sent
 * (empty when none). fallback: the registry's name (may be NULL). Returns
 * PK_ID_MATCH when the port's module recognises reply as the answer to
 * sent, PK_ID_UNKNOWN for any other reply (out = fallback + sanitised
 * first line), PK_ID_NONE when reply_len is 0. out is always written. */
PK_EXPORT enum pk_id_status pk_udp_reply_identify(unsigned port, const uint8_t *sent, size_t sent_len,
                                        const uint8_t *reply, size_t reply_len,
                                        const char *fallback, struct pk_service_id *out);

/* True when reply answers sent on port (pk_udp_reply_identify == MATCH). */
PK_EXPORT bool pk_udp_reply_matches(unsigned port, const uint8_t *sent, size_t sent_len,
                          const uint8_t *reply, size_t reply_len);

#ifdef __cplusplus
}
#endif
#endif
