/* What `portkit forward` tells a person beyond the library's messages:
 * socat habits, who holds a port, privileged ports, risky set-ups, and
 * rinetd's pid file. */
#ifndef PORTKIT_FORWARD_CLI_H
#define PORTKIT_FORWARD_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "portkit/error.h"
#include "portkit/forward.h"

/* When arg is a socat address (TCP-LISTEN:8080,fork, TCP:host:80, ...),
 * prints one line saying so with the portkit form, and returns true. */
bool fwcli_socat_hint(const char *listen, const char *target);

/* Turns a failed listen into the message a person needs: a port in use
 * names its holder as `portkit who` would; a privileged port names
 * net.ipv4.ip_unprivileged_port_start. Rewrites err->msg in place. */
void fwcli_explain_listen_error(const struct pk_fw_config *cfg, struct pk_err *err);

/* Running as root: one warning line (through warn) when the config file or
 * its directory may be written by other users. */
void fwcli_check_config_perms(const char *path, void (*warn)(void *arg, const char *msg),
                              void *arg);

/* On a terminal: one warning line when a rule listens on every address and
 * forwards to a loopback target (a local-only service now reachable from
 * the network), saying how to keep it local. */
void fwcli_check_exposure(const struct pk_fw_config *cfg, void (*warn)(void *arg, const char *msg),
                          void *arg);

/* rinetd's pidlogfile: writes our pid (never through a symlink a
 * protected_symlinks kernel would refuse). Returns 0 or -1 with err. */
int fwcli_write_pidfile(const char *path, struct pk_err *err);

#endif
