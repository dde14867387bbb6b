/* The plumbing of `portkit scan` between argv and the library: building
 * targets and ports, opening outputs, the progress bar and the end. */
#ifndef PORTKIT_SCAN_CLI_H
#define PORTKIT_SCAN_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "portkit/buf.h"
#include "portkit/output.h"
#include "portkit/safefile.h"
#include "portkit/scan.h"

#define SCAN_CLI_MAX_OUTPUTS 8

struct scan_cli_output {
    char kind;      /* 'N' text, 'J' json, 'X' xml, 'G' grep, 'L' list */
    const char *path; /* NULL or "-": stdout */
    char *owned;    /* path, when the CLI made it (-oA) */
    FILE *f;
    bool is_stdout;
    struct pk_outfile file; /* written beside path, renamed into place at the end */
    struct pk_output *out;
};

/* Host discovery, the scan method and privileges (scan_cli_net.c). */
struct scan_cli_net {
    bool want_syn, want_connect;     /* -sS, -sT */
    bool ping_only, no_ping;         /* -sn, -Pn */
    bool ping_given;                 /* some -PS/-PA/-PU/-PE/-PP/-PR */
    bool unprivileged, privileged;   /* --unprivileged, --privileged */
    struct pk_ping_config ping;
    bool raw;                        /* raw sockets in use: drop privileges after pk_scan_new */
};

struct scan_cli {
    int argc;
    char **argv;
    struct pk_scan_config cfg;
    const char *port_spec, *exclude_ports, *exclude, *exclude_file, *target_file;
    char **targets_argv;
    int ntargets_argv;
    unsigned top_ports;
    int family;
    bool force, want_tcp, want_udp, json, all_states, progress, seed_given;
    bool open_only, reason;   /* --open, --reason */
    bool min_rtt_given, max_rtt_given; /* only two explicit RTT bounds can contradict */
    double min_rate;          /* --min-rate: checked against the ceiling */
    uint64_t scan_delay_ms;   /* --scan-delay, -T0..-T2: one probe at a time */
    int verbose;
    struct scan_cli_net net;

    struct pk_targets *targets;
    struct pk_ports *ports;
    const struct pk_registry *reg;
    const char *top_source;
    struct scan_cli_output outs[SCAN_CLI_MAX_OUTPUTS];
    int nouts;
    struct pk_scan *scan;
    struct pk_scan_info info;
    struct pk_buf command;
    bool failed;      /* the scan failed: outputs are dropped, old files kept */
    bool bar_shown;   /* the progress line is on the terminal */
    bool stdout_tty;
    bool save_wanted;                   /* --save, --label: see scan_save.c */
    const char *save_label, *save_db;
    struct scan_save *save;             /* the run being stored */
    int save_rc;                        /* the first failure saving it (reported) */
};

void scan_cli_init(struct scan_cli *c, int argc, char **argv);
/* Records -oX FILE and friends; files are opened by scan_cli_prepare. */
int scan_cli_add_output(struct scan_cli *c, char kind, const char *path);
/* The same for a path the CLI allocated (freed with c). */
int scan_cli_add_owned_output(struct scan_cli *c, char kind, char *path);
/* Targets, ports, the configuration and the outputs; CLI_OK or an exit code
 * after reporting the problem. */
int scan_cli_prepare(struct scan_cli *c);
void scan_cli_begin(struct scan_cli *c);
/* Per-host outputs, the summary, closing every file; returns the exit code. */
int scan_cli_finish(struct scan_cli *c);
void scan_cli_free(struct scan_cli *c);
/* Async-signal-safe: removes the temporary output files (a second Ctrl-C). */
void scan_cli_signal_cleanup(void);
/* --save [--label NAME] [--db PATH] (scan_save.c): the database is opened
 * before the scan (a bad one fails early) and the run written in one
 * transaction at the end. Each returns 0 or an exit code (reported). */
int scan_save_open(struct scan_cli *c, const char *label, const char *db);
int scan_save_begin(struct scan_cli *c, const struct pk_scan_stats *st);
int scan_save_host(struct scan_cli *c, const struct pk_host_report *rep);
int scan_save_commit(struct scan_cli *c);
void scan_save_free(struct scan_cli *c);

/* scan_cli_net.c: -P<x>[ports] (nmap's discovery options) */
int scan_cli_ping_option(struct scan_cli *c, const char *arg);
/* Chooses discovery, -sS or -sT and raw sockets once targets are known. */
int scan_cli_net_prepare(struct scan_cli *c);
/* After pk_scan_new opened the raw sockets: become an unprivileged user
 * with no capability. As root this forks: the child drops everything and
 * scans; the parent keeps root only to put the output files in place at
 * the end (a temporary file in a root-owned directory), then sets *done
 * and the exit code to return. CLI_OK or CLI_FAIL (reported). */
int scan_cli_drop_privileges(struct scan_cli *c, bool *done, int *exit_code);
/* Output files are then closed unrenamed and (index, keep) pairs written
 * to fd for the parent. */
void scan_cli_commit_through(int fd);
/* Frees c and returns rc, for early exits. */
int scan_cli_fail(struct scan_cli *c, int rc);

#endif
