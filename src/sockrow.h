/* Rendering socket records for ls and who: aligned text columns (colour and
 * a summary on a terminal, plain stable columns through a pipe) and JSON
 * Lines. */
#ifndef PORTKIT_SOCKROW_H
#define PORTKIT_SOCKROW_H

#include <stdbool.h>
#include <stdio.h>

#include "portkit/buf.h"
#include "portkit/hostinfo.h"
#include "portkit/sockets.h"

struct sockrow_ctx {
    const struct pk_registry *reg;
    bool numeric;    /* -n: no service names */
    struct pk_hostinfo host;
    FILE *stream;
    bool color;      /* colour the cells */
    bool tty;        /* a person is reading: hide empty columns, show a summary */
    bool header;
    /* EXPOSED from the firewall's verdicts (portkit audit's evaluation):
     * per socket of the list starting at exposed_base; NULL = from the
     * bind address alone. fw_note: why the ruleset was not read. */
    const unsigned char *exposed;
    const struct pk_sock *exposed_base;
    const char *fw_note;
    /* one-entry cache: sockets bound to a device are rare and come in runs */
    unsigned cached_ifindex;
    char cached_ifname[32];
};

void sockrow_init(struct sockrow_ctx *c, FILE *stream, const struct pk_registry *reg);
/* "lo" for a socket bound to device 1, NULL when not bound to a device. */
const char *sockrow_ifname(struct sockrow_ctx *c, const struct pk_sock *s);
/* "127.0.0.1:80", "[::]:22", "0.0.0.0%eth0:68" */
void sockrow_local(struct sockrow_ctx *c, const struct pk_sock *s, char *buf, size_t size);
void sockrow_remote(const struct pk_sock *s, char *buf, size_t size);
/* pk_sock_annotate, with EXPOSED from the firewall when c->exposed is set. */
void sockrow_annotate(struct sockrow_ctx *c, const struct pk_sock *s, struct pk_sock_notes *n);
/* Flags as "EXPOSED,RISK" (coloured when c->color); "-" when none. */
void sockrow_flags(struct sockrow_ctx *c, unsigned flags, struct pk_buf *out);

/* The whole list as a table (and, on a terminal, a summary line). */
int sockrow_table(struct sockrow_ctx *c, const struct pk_socklist *l);
/* The whole list as JSON Lines. */
int sockrow_json(struct sockrow_ctx *c, const struct pk_socklist *l);
/* One socket's JSON object (no newline) into out. */
void sockrow_json_one(struct sockrow_ctx *c, const struct pk_socklist *l, const struct pk_sock *s,
                      struct pk_buf *out);

/* A port number (1-65535) or a service name the registry knows; reports bad
 * input itself and returns CLI_USAGE, else 0. */
int sockrow_parse_port(const char *verb, const char *arg, unsigned *port);
/* Applies --proc / PORTKIT_SOCKETS to q (one must outlive q's use);
 * reports a bad value and returns CLI_USAGE, else 0. */
int sockrow_sources(const char *verb, bool force_proc, struct pk_sock_query *q,
                    const struct pk_sock_source **one);

#endif
