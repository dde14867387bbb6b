/* What the history modules (store, record, diff, import, watch, report)
 * share: the open database and small SQLite helpers. */
#ifndef PORTKIT_HISTORY_IMPL_H
#define PORTKIT_HISTORY_IMPL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "portkit/history.h"
#include "portkit/target.h"

struct pk_history {
    sqlite3 *db;
    char *path;
    bool readonly;
    bool writing;  /* a pk_history_run is open: one at a time */
    bool busy;     /* the last failure was SQLITE_BUSY or SQLITE_LOCKED */
};

/* A sortable key for an address: family byte then 16 address bytes, so
 * SQLite's BLOB order (memcmp) puts IPv4 before IPv6 and numbers in order. */
#define HS_AKEY_LEN 17
/* Fills key from textual addr; unparsable text (a host name nmap printed)
 * sorts after every address, by its bytes. Returns the key's length. */
size_t hs_addr_key(const char *addr, unsigned char *key, size_t cap);

/* Maps an SQLite result to a PK_E* code with a one-line message naming the
 * database: "what: database or disk is full". */
int hs_fail(struct pk_history *h, int rc, struct pk_err *err, const char *what);
int hs_prepare(struct pk_history *h, const char *sql, sqlite3_stmt **st, struct pk_err *err);
/* Runs SQL without results; SQLITE_BUSY is retried until the busy timeout
 * has passed several times over. */
int hs_exec(struct pk_history *h, const char *sql, struct pk_err *err, const char *what);
/* sqlite3_step with the same retries for SQLITE_BUSY. */
int hs_step(sqlite3_stmt *st);
/* The text of column i, "" for NULL. */
const char *hs_col(sqlite3_stmt *st, int i);

/* Fills r from a row of "SELECT " HS_RUN_COLUMNS " FROM runs". */
#define HS_RUN_COLUMNS \
    "id, kind, label, source, targets, ports, command, start_us, end_us, hosts, hosts_up, open"
void hs_run_from_row(sqlite3_stmt *st, struct pk_run *r);

/* Port states and reasons by name (as stored), PK_STATE_UNKNOWN /
 * PK_REASON_NONE when unknown. */
enum pk_port_state hs_state_parse(const char *s);
enum pk_reason hs_reason_parse(const char *s);

/* Writing a run from parsed rows (the XML importer): the run's target key
 * and counts are computed at commit, as for any writer. */
int hs_run_set_meta(struct pk_history_run *w, const struct pk_run *info, struct pk_err *err);

#endif
