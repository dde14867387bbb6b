/* Service identification (scan -sV / --banners): what to send to a TCP
 * port so the service there says something, and what the bytes it sent
 * back mean ("ssh OpenSSH 9.2p1 Debian-2", "http nginx 1.22.1", "tls TLS
 * 1.3"). Pure functions: no I/O, no clocks, no allocation, no global state;
 * every input byte may be hostile and every output string is sanitised.
 *
 * How a scan engine uses it, per open TCP port (the contract):
 *
 *   1. pk_banner_plan_for(port, &plan).
 *   2. Connect. If plan.greeting_ms > 0, read for up to greeting_ms. After
 *      every read call pk_banner_identify(port, PK_PROBE_NULL, all bytes
 *      so far, ...) and stop reading when it returns PK_ID_MATCH or
 *      PK_ID_UNKNOWN (PK_ID_MORE: keep reading until the time is up).
 *      Anything received here ends the plan: a service that speaks first
 *      has said what it is, recognised or not.
 *   3. Otherwise, for each plan.probes[i] in order: build the bytes with
 *      pk_banner_probe_build(), send them (on the connection from step 2
 *      for the first probe, on a fresh connection for each later one),
 *      read for up to plan.reply_ms with the same identify loop, passing
 *      the probe's id as `sent`. Stop at the first PK_ID_MATCH. Keep the
 *      first PK_ID_UNKNOWN result in case nothing matches; a probe that
 *      got no bytes (timeout, reset, close) moves on to the next.
 *   4. The result is the last identify() output of the deciding step, or,
 *      when no step got a byte, pk_banner_identify(port, PK_PROBE_NULL,
 *      NULL, 0, fallback, out) (service = the registry's name).
 *   Keep at most PK_BANNER_READ_MAX bytes per step: identify never needs more.
 */
#ifndef PORTKIT_BANNER_H
#define PORTKIT_BANNER_H

#include "portkit/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>


#ifdef __cplusplus
extern "C" {
#endif

#define PK_BANNER_READ_MAX 4096 /* bytes worth keeping per probe step */
#define PK_BANNER_TEXT_MAX 160  /* sanitised banner line, NUL included */

/* What the service is, as far as its bytes tell. Every string is
 * NUL-terminated, sanitised (printable ASCII or UTF-8, no control bytes,
 * no terminal escapes, see pk_banner_sanitize) and "" when unknown. */
struct pk_service_id {
    char service[32];  /* "ssh", "http", "tls", "smtp", ...; fallback name for unknown bytes */
    char product[48];  /* "OpenSSH", "nginx", "Postfix", "MariaDB" */
    char version[40];  /* "9.2p1", "1.22.1"; for tls the protocol version: "1.3" */
    char extra[96];    /* "Debian-2", "cipher TLS_AES_256_GCM_SHA384", "protocol 3.8" */
    char banner[PK_BANNER_TEXT_MAX]; /* first non-empty line the service sent, sanitised */
};

/* Result of one identify() call, from least to most certain. */
enum pk_id_status {
    PK_ID_NONE = 0,    /* no bytes: out holds the fallback name only */
    PK_ID_UNKNOWN = 1, /* bytes we do not recognise: fallback name + banner line */
    PK_ID_MORE = 2,    /* a known protocol whose message is not complete yet: out is the best
                        * guess so far; read more (until the step's time is up) and call again */
    PK_ID_MATCH = 3,   /* recognised: service (and product/version when the bytes tell) */
};

/* The probes that make a waiting (client-speaks-first) service answer. */
enum pk_probe_id {
    PK_PROBE_NULL = 0,  /* send nothing: wait for a greeting */
    PK_PROBE_HTTP,      /* HEAD / HTTP/1.0 with a Host header */
    PK_PROBE_TLS,       /* a TLS 1.2/1.3 ClientHello (x25519 key share, supported_versions) */
    PK_PROBE_REDIS,     /* PING and INFO server, inline commands */
    PK_PROBE_MEMCACHED, /* "version\r\n" */
    PK_PROBE_PGSQL,     /* PostgreSQL SSLRequest: the server answers one byte, S or N */
    PK_PROBE_DNS,       /* DNS over TCP: version.bind CH TXT, length-prefixed */
    PK_PROBE_COUNT
};

PK_EXPORT const char *pk_probe_name(enum pk_probe_id id); /* "null", "http", "tls", ... */

/* Inputs a probe may carry. host: the name or address the user gave for
 * the target (Host header; TLS SNI when it is a DNS name, never for an
 * address literal); NULL or "" when unknown. nonce: the caller's
 * randomness (TLS random and session id, key share, DNS id): the same
 * nonce gives the same bytes, so a seeded scan is reproducible. */
struct pk_probe_params {
    const char *host;
    uint64_t nonce;
};

#define PK_PROBE_MAX 1024 /* no probe is longer */

/* Writes probe `id` into out. Returns its length (0 for PK_PROBE_NULL), or
 * PK_EINVAL when cap is too small or id is out of range. */
PK_EXPORT int pk_banner_probe_build(enum pk_probe_id id, const struct pk_probe_params *p, uint8_t *out,
                          size_t cap);

#define PK_PLAN_MAX 4

/* What to do on one port: wait greeting_ms for the service to speak
 * first (0: do not wait, send probes[0] at once), then try the probes in
 * order, reading up to reply_ms after each. See the contract above. */
struct pk_banner_plan {
    unsigned greeting_ms;
    unsigned reply_ms;
    size_t nprobes;
    enum pk_probe_id probes[PK_PLAN_MAX];
};

/* The plan for a TCP port: services known to speak first (ssh, smtp, ftp,
 * pop3, imap, mysql, vnc, ...) get a long greeting wait (5 s: it ends as
 * soon as they speak), then HTTP and TLS in case something else runs
 * there; services known to wait (http, https, redis, memcached,
 * postgresql, dns) get their probe at once; any other port waits 1 s for
 * a greeting, then tries HTTP, then TLS. */
PK_EXPORT void pk_banner_plan_for(unsigned port, struct pk_banner_plan *out);

/* Shortcut for an engine that sends at most one probe: "wait *greeting_ms
 * for a greeting (0: do not wait); if none came, send these bytes" (the
 * plan's first probe). Returns the length or PK_EINVAL like
 * pk_banner_probe_build. */
PK_EXPORT int pk_banner_probe_for(unsigned port, const struct pk_probe_params *p, uint8_t *out, size_t cap,
                        unsigned *greeting_ms);

/* Identifies the service from the bytes a TCP port sent: all bytes
 * received so far in this step, after sending probe `sent` (PK_PROBE_NULL:
 * the service spoke first). `fallback` is the registry's name for the port
 * (pk_registry_name) or NULL; it fills out->service when the bytes do not
 * say. Self-describing replies (SSH, HTTP, TLS, MySQL, ...) are recognised
 * whatever was sent; replies that only mean something as an answer (one
 * byte 'N' to an SSLRequest) need the right `sent`. out is always fully
 * written. */
PK_EXPORT enum pk_id_status pk_banner_identify(unsigned port, enum pk_probe_id sent, const void *data,
                                     size_t len, const char *fallback, struct pk_service_id *out);

/* Makes untrusted bytes safe for a terminal, a log or an output file:
 * printable ASCII and well-formed UTF-8 pass (minus C1 controls and the
 * invisible/bidirectional formatting characters that can disguise text);
 * \r \n \t and backslash become \r \n \t \\; every other byte becomes
 * \xNN. When the result does not fit, it is cut at a character boundary
 * and ends with "...". Always NUL-terminates (outlen > 0); returns the
 * length written. */
PK_EXPORT size_t pk_banner_sanitize(const void *in, size_t len, char *out, size_t outlen);

/* The same for the first non-empty line only (up to CR or LF), with
 * surrounding blanks trimmed: what a one-line banner shows. */
PK_EXPORT size_t pk_banner_sanitize_line(const void *in, size_t len, char *out, size_t outlen);

/* One line like nmap's VERSION column: the non-empty fields among
 * service, product, version and extra, separated by spaces ("ssh OpenSSH
 * 9.2p1 Debian-2"). Truncates with "..." to fit; returns the length. */
PK_EXPORT size_t pk_service_id_format(const struct pk_service_id *id, char *out, size_t outlen);

/* A server certificate, as nmap's ssl-cert script reports it. Every string
 * is sanitised (the certificate is the server's to forge) and "" when the
 * certificate does not say. */
struct pk_cert_info {
    char subject[256];   /* "commonName=example.org/organizationName=Example" */
    char issuer[256];
    char san[512];       /* "DNS:example.org, DNS:www.example.org, IP Address:192.0.2.7" */
    char key_type[16];   /* "rsa", "ec", "ed25519", "dsa", ... */
    unsigned key_bits;
    char sig_alg[48];    /* "sha256WithRSAEncryption" */
    int64_t not_before, not_after; /* Unix time */
    int64_t days_left;   /* whole days from `now` to not_after; negative: expired */
    bool self_signed;    /* issued by its own key */
    bool expired, expiring; /* not_after passed / within 30 days */
    char sha256[65];     /* fingerprint, lower-case hex */
};

/* Parses a DER certificate; 0, or PK_EINVAL for bytes that are not one. */
PK_EXPORT int pk_cert_parse(const void *der, size_t len, int64_t now, struct pk_cert_info *out);
/* nmap's ssl-cert output text (lines joined by \n, no final newline) plus
 * portkit's verdict line ("Days left: 364, self-signed"); truncates to fit,
 * returns the length. */
PK_EXPORT size_t pk_cert_format(const struct pk_cert_info *c, char *out, size_t outlen);

#ifdef __cplusplus
}
#endif
#endif
