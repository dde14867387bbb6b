/* What the history verbs (history, diff, watch, report) and the --save
 * options of scan and ls share: finding the database, naming runs, and
 * printing changes. */
#ifndef PORTKIT_HISTORY_CLI_H
#define PORTKIT_HISTORY_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "portkit/history.h"

/* --db PATH, else PORTKIT_DB, else $XDG_STATE_HOME/portkit/history.db.
 * Reports failures itself; returns 0 or an exit code. */
int hist_cli_open(const char *verb, const char *db_opt, bool readonly, struct pk_history **out);
/* The path hist_cli_open would use (for messages and child processes). */
const char *hist_cli_path(const char *db_opt);

/* One side of a comparison: a stored run, or an nmap XML file imported
 * into a database in memory. A ref with a '/' or ending in ".xml" is a file;
 * anything else names a run (id, label, last, last~N). */
struct hist_side {
    struct pk_history *h;
    int64_t id;
};
/* mem: the in-memory database XML files go to (opened on first use). */
int hist_cli_side(const char *verb, struct pk_history *db, struct pk_history **mem, const char *ref,
                  struct hist_side *out);
/* Fills a and b from 0, 1 or 2 refs: none means the last run and the one
 * before it over the same hosts; one means that run against the last. */
int hist_cli_pair(const char *verb, struct pk_history *db, struct pk_history **mem, int nrefs, char **refs,
                  struct hist_side *a, struct hist_side *b);

/* One change as a text line ("+ 8080/tcp open http", ...), coloured when
 * color. host_header: print "HOST:" lines before a new host's changes. */
struct hist_printer {
    FILE *out;
    bool color, json, timestamps;
    char last_host[80];
};
void hist_print_change(struct hist_printer *p, const struct pk_change *c);

/* The --save of `ls`: a snapshot of this host's listeners. Returns 0 or an
 * exit code (reported). */
int hist_cli_save_listeners(const char *verb, const char *db_opt, const char *label, const char *command);

/* "30d", "12h", "10m", "45s" into microseconds (verb names the option in
 * the error). */
int hist_cli_duration(const char *verb, const char *opt, const char *s, uint64_t *us);

#endif
