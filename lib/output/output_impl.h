/* Helpers shared by the output modules (lib/output_*.c). */
#ifndef PORTKIT_OUTPUT_IMPL_H
#define PORTKIT_OUTPUT_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "portkit/output.h"

/* "Mon Nov 23 10:51:29 2026", local time, like nmap's headers. */
void pko_ctime(time_t t, char *buf, size_t len);
/* Appends s escaped for an XML attribute; bytes XML 1.0 cannot carry
 * (control characters, invalid UTF-8) become '?'. */
void pko_xml_escape(struct pk_buf *b, const char *s);
/* Which states nmap would sum up rather than list for this host: any but
 * open with more than 25 ports (both transports together). */
void pko_collapsed_states(const struct pk_host_report *h, bool collapsed[PK_STATE_COUNT]);
/* --open: a host with no open or open|filtered port is left out whole. */
bool pko_host_hidden(const struct pk_output *o, const struct pk_host_report *h);
/* Appends the ports of h with this state, transport and reason as ranges
 * ("1-21,23"); returns how many there are. */
uint64_t pko_ports_where(const struct pk_host_report *h, enum pk_port_state st, enum pk_proto proto,
                         enum pk_reason why, struct pk_buf *out);

#endif
