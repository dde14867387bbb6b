/* The parts of portkit's HTML page shared by the history report
 * (report_html.c) and the scan output module (output_html.c): the head
 * with its inline style and the Content-Security-Policy that forbids any
 * fetch, the summary, the count cards, the port and host rows, and the
 * inline script that sorts and filters. Everything from outside goes
 * through rp_text. */
#ifndef PORTKIT_REPORT_IMPL_H
#define PORTKIT_REPORT_IMPL_H

#include <stdint.h>

#include "portkit/buf.h"
#include "portkit/history.h"

/* The filter box and state menu above the port table. */
extern const char RP_FILTER_BAR[];

/* s escaped for element content and attributes; control bytes and invalid
 * UTF-8 become '?'. */
void rp_text(struct pk_buf *b, const char *s);
/* "2026-01-05 10:00:00 UTC", or "-" for 0. */
void rp_when(uint64_t us, char *buf, size_t len);
/* From <!DOCTYPE> to the summary section. id 0: a scan not (yet) stored;
 * base: the run the changes are counted from, 0 for none. */
void rp_page_begin(struct pk_buf *b, const struct pk_run *run, const char *title, int64_t base);
void rp_cards(struct pk_buf *b, const struct pk_run *run, bool diff, uint64_t nchanges);
/* The port table's opening, one row, and its end followed by the host
 * table (hosts: its rows, from rp_host_row). change: the change kind to
 * highlight the row with, or NULL. *risky counts ports with a risk note. */
void rp_ports_begin(struct pk_buf *b);
void rp_port_row(struct pk_buf *b, const struct pk_registry *reg, const char *host, const struct pk_history_port *p,
                 const char *change, uint64_t *risky);
void rp_host_row(struct pk_buf *b, const struct pk_history_host *h);
void rp_ports_end(struct pk_buf *b, const struct pk_buf *hosts);
/* The footer, the script and the end of the document. */
void rp_page_end(struct pk_buf *b, uint64_t risky);

#endif
