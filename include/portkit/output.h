/* Scan outputs as modules: human text, JSON Lines, nmap XML, nmap's
 * grepable format and a plain list. Each is one struct of function pointers
 * (the contract below); an output renders into a buffer and hands the bytes
 * to a write callback, so the library never prints and any sink (a file,
 * stdout, a socket, memory) works. */
#ifndef PORTKIT_OUTPUT_H
#define PORTKIT_OUTPUT_H

#include "portkit/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portkit/buf.h"
#include "portkit/error.h"
#include "portkit/portspec.h"
#include "portkit/registry.h"
#include "portkit/scan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the outputs need to know about the scan as a whole. */
struct pk_scan_info {
    const char *command;       /* the command line, for XML's args and the headers */
    const char *version;       /* portkit's version */
    uint64_t start_wall_us;
    bool tcp, udp, service_detect;
    const struct pk_ports *ports;
    uint64_t hosts;
};

struct pk_output_options {
    bool color;                     /* text: ANSI colours */
    bool all_states;                /* text, json, list: every port, not only open ones */
    const struct pk_registry *reg;  /* text: the registry's risk flags; may be NULL */
    bool open_only;                 /* nmap's --open: only open ports, only hosts with one */
    bool reason;                    /* text: a REASON column, as nmap's --reason */
};

struct pk_output;

/* The contract of an output module. Every call appends to the output's
 * buffer (pk_output_buf); the framework writes it out. Calls come in this
 * order: begin once; result for each port as the scan decides it (any
 * host, any order); host once per host after the scan, in address order;
 * end once. Any hook may be NULL. A module keeps its own state in
 * pk_output_state (state_size bytes, zeroed). Whatever happened (even a
 * stopped scan), after end the output is a complete, valid document. */
struct pk_output_module {
    const char *name;
    size_t state_size;
    void (*begin)(struct pk_output *o, const struct pk_scan_info *info);
    void (*result)(struct pk_output *o, const struct pk_scan_result *r);
    void (*host)(struct pk_output *o, const struct pk_host_report *h);
    void (*end)(struct pk_output *o, const struct pk_scan_stats *st);
};

PK_EXPORT extern const struct pk_output_module pk_output_text;  /* "text": per host, for people */
PK_EXPORT extern const struct pk_output_module pk_output_json;  /* "json": JSON Lines, streamed */
PK_EXPORT extern const struct pk_output_module pk_output_xml;   /* "xml": nmap's -oX */
PK_EXPORT extern const struct pk_output_module pk_output_grep;  /* "grep": nmap's -oG */
PK_EXPORT extern const struct pk_output_module pk_output_list;  /* "list": one line per port */
PK_EXPORT extern const struct pk_output_module pk_output_html;  /* "html": the report page (history.h) */

/* Returns the bytes written or a negative value; a short write is an error. */
typedef long pk_output_write_fn(void *arg, const void *data, size_t len);

PK_EXPORT int pk_output_new(const struct pk_output_module *m, const struct pk_output_options *opt,
                  pk_output_write_fn *write, void *arg, struct pk_output **out,
                  struct pk_err *err);
/* Frees the output (after pk_output_end, or to drop it). */
PK_EXPORT void pk_output_free(struct pk_output *o);

PK_EXPORT void pk_output_begin(struct pk_output *o, const struct pk_scan_info *info);
PK_EXPORT void pk_output_result(struct pk_output *o, const struct pk_scan_result *r);
PK_EXPORT void pk_output_host(struct pk_output *o, const struct pk_host_report *h);
/* Writes the closing part and flushes; PK_EIO if any write failed. */
PK_EXPORT int pk_output_end(struct pk_output *o, const struct pk_scan_stats *st, struct pk_err *err);
/* Writes what is buffered (outputs also flush on their own past 64 KiB). */
PK_EXPORT int pk_output_flush(struct pk_output *o);

/* For modules. */
PK_EXPORT struct pk_buf *pk_output_buf(struct pk_output *o);
PK_EXPORT const struct pk_output_options *pk_output_opts(const struct pk_output *o);
PK_EXPORT void *pk_output_state(struct pk_output *o);

/* For modules: the one-line service/version of a result ("OpenSSH
 * 9.2p1 Debian-2"): product, version and extra info, or "" when the port
 * was not identified. */
PK_EXPORT void pk_output_service_line(const struct pk_scan_result *r, struct pk_buf *out);
/* Whether a port in state st is shown: open and open|filtered always,
 * the others only with all_states. */
PK_EXPORT bool pk_output_wanted(const struct pk_output *o, enum pk_port_state st);

#ifdef __cplusplus
}
#endif
#endif
