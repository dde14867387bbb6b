/* The history database: opening it, its schema and migrations, and the
 * queries over whole runs (list, resolve, previous, remove, prune). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "history/history_impl.h"

/* 'PKHT': tells portkit's databases from other SQLite files. */
#define HS_APPLICATION_ID 0x504b4854
/* How long one statement waits for another writer's lock, and how often
 * that wait is repeated: a save of 1,000 full-range hosts holds the lock
 * for about a second, so two minutes in all lets a queue of big writers
 * (or slow ones, under a sanitizer) through rather than fail. */
#define HS_BUSY_TIMEOUT_MS 10000
#define HS_BUSY_RETRIES 12

/* migrations[v] takes a database from schema v to v + 1. Never edit one
 * that has shipped: add the next. */
static const char *const migrations[PK_HISTORY_SCHEMA] = {
    "CREATE TABLE runs("
    " id INTEGER PRIMARY KEY,"
    " kind INTEGER NOT NULL,"
    " label TEXT NOT NULL DEFAULT '',"
    " source TEXT NOT NULL DEFAULT '',"
    " targets TEXT NOT NULL DEFAULT '',"
    " ports TEXT NOT NULL DEFAULT '',"
    " command TEXT NOT NULL DEFAULT '',"
    " start_us INTEGER NOT NULL DEFAULT 0,"
    " end_us INTEGER NOT NULL DEFAULT 0,"
    " hosts INTEGER NOT NULL DEFAULT 0,"
    " hosts_up INTEGER NOT NULL DEFAULT 0,"
    " open INTEGER NOT NULL DEFAULT 0,"
    " target_key TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX runs_label ON runs(label);"
    "CREATE INDEX runs_key ON runs(kind, target_key, id);"
    "CREATE INDEX runs_end ON runs(end_us);"
    "CREATE TABLE hosts("
    " id INTEGER PRIMARY KEY,"
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " akey BLOB NOT NULL,"
    " addr TEXT NOT NULL,"
    " hostname TEXT NOT NULL DEFAULT '',"
    " up INTEGER NOT NULL,"
    " rtt_us INTEGER NOT NULL DEFAULT 0,"
    " closed_tcp INTEGER NOT NULL DEFAULT 0,"
    " closed_udp INTEGER NOT NULL DEFAULT 0,"
    " rest_tcp TEXT NOT NULL DEFAULT 'closed',"
    " rest_udp TEXT NOT NULL DEFAULT 'closed',"
    " UNIQUE(run_id, akey));"
    "CREATE TABLE ports("
    " host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,"
    " proto TEXT NOT NULL,"
    " port INTEGER NOT NULL,"
    " state TEXT NOT NULL,"
    " reason TEXT NOT NULL DEFAULT '',"
    " service TEXT NOT NULL DEFAULT '',"
    " probed INTEGER NOT NULL DEFAULT 0,"
    " product TEXT NOT NULL DEFAULT '',"
    " version TEXT NOT NULL DEFAULT '',"
    " extra TEXT NOT NULL DEFAULT '',"
    " banner TEXT NOT NULL DEFAULT '',"
    " PRIMARY KEY(host_id, proto, port)) WITHOUT ROWID;"
    "CREATE TABLE listeners("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " proto TEXT NOT NULL,"
    " akey BLOB NOT NULL,"
    " port INTEGER NOT NULL,"
    " family INTEGER NOT NULL,"
    " addr TEXT NOT NULL,"
    " pid INTEGER NOT NULL DEFAULT -1,"
    " process TEXT NOT NULL DEFAULT '',"
    " user TEXT NOT NULL DEFAULT '',"
    " service TEXT NOT NULL DEFAULT '',"
    " flags INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(run_id, proto, akey, port)) WITHOUT ROWID;",
};

int hs_fail(struct pk_history *h, int rc, struct pk_err *err, const char *what)
{
    int code = PK_EIO;
    int primary = rc & 0xff;
    if (primary == SQLITE_NOMEM)
        code = PK_ENOMEM;
    else if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT)
        code = PK_EINVAL;
    if (h)
        h->busy = primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
    const char *msg = h && h->db ? sqlite3_errmsg(h->db) : sqlite3_errstr(rc);
    int sys = h && h->db ? sqlite3_system_errno(h->db) : 0;
    if (primary == SQLITE_READONLY || sys == EROFS)
        msg = "the database is read-only";
    else if (primary == SQLITE_FULL || sys == ENOSPC)
        msg = "the disk is full";
    else if (primary == SQLITE_IOERR && sys)
        return pk_err_set(err, code, "%s: %s: %s (%s)", h->path, what, msg, strerror(sys));
    return pk_err_set(err, code, "%s: %s: %s", h && h->path ? h->path : "history", what, msg);
}

int hs_step(sqlite3_stmt *st)
{
    /* Only a statement that has returned nothing yet may start over: a
     * retry mid-way would hand out its first rows twice. */
    bool fresh = !sqlite3_stmt_busy(st);
    int rc = SQLITE_BUSY;
    for (int i = 0; i < HS_BUSY_RETRIES; i++) {
        rc = sqlite3_step(st);
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || !fresh)
            return rc;
        sqlite3_reset(st);
    }
    return rc;
}

int hs_prepare(struct pk_history *h, const char *sql, sqlite3_stmt **st, struct pk_err *err)
{
    int rc = sqlite3_prepare_v2(h->db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? 0 : hs_fail(h, rc, err, "preparing a query");
}

int hs_exec(struct pk_history *h, const char *sql, struct pk_err *err, const char *what)
{
    int rc = SQLITE_BUSY;
    for (int i = 0; i < HS_BUSY_RETRIES; i++) {
        rc = sqlite3_exec(h->db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
            break;
    }
    return rc == SQLITE_OK ? 0 : hs_fail(h, rc, err, what);
}

const char *hs_col(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? (const char *)s : "";
}

size_t hs_addr_key(const char *addr, unsigned char *key, size_t cap)
{
    struct pk_addr a;
    if (pk_addr_parse(addr, &a) == 0 && cap >= HS_AKEY_LEN) {
        key[0] = a.family == AF_INET ? 4 : 6;
        memcpy(key + 1, a.bytes, 16);
        return HS_AKEY_LEN;
    }
    size_t n = strlen(addr);
    if (n + 1 > cap)
        n = cap - 1;
    key[0] = 0xff;
    memcpy(key + 1, addr, n);
    return n + 1;
}

enum pk_port_state hs_state_parse(const char *s)
{
    for (int i = 1; i < PK_STATE_COUNT; i++)
        if (strcmp(s, pk_state_name((enum pk_port_state)i)) == 0)
            return (enum pk_port_state)i;
    return PK_STATE_UNKNOWN;
}

enum pk_reason hs_reason_parse(const char *s)
{
    for (int i = 1; i < PK_REASON_COUNT; i++)
        if (strcmp(s, pk_reason_name((enum pk_reason)i)) == 0)
            return (enum pk_reason)i;
    return PK_REASON_NONE;
}

const char *pk_run_kind_name(enum pk_run_kind k)
{
    return k == PK_RUN_SOCKETS ? "ls" : "scan";
}

int pk_history_default_path(struct pk_buf *out, struct pk_err *err)
{
    const char *state = getenv("XDG_STATE_HOME");
    /* The XDG spec says relative values are to be ignored. */
    if (state && state[0] == '/')
        return pk_buf_printf(out, "%s/portkit/history.db", state) < 0 ? pk_err_set(err, PK_ENOMEM, "out of memory") : 0;
    const char *home = getenv("HOME");
    if (!home || home[0] != '/')
        return pk_err_set(err, PK_EINVAL, "neither XDG_STATE_HOME nor HOME is set: give --db PATH");
    return pk_buf_printf(out, "%s/.local/state/portkit/history.db", home) < 0 ? pk_err_set(err, PK_ENOMEM, "out of memory") : 0;
}

/* mkdir -p of path's directory, private to the user (scan results say
 * where a network is weak). */
static int make_parent_dirs(const char *path, struct pk_err *err)
{
    char *dir = strdup(path);
    if (!dir)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash && slash != dir) {
        *slash = '\0';
        for (char *p = dir + 1; rc == 0; p++) {
            if (*p != '/' && *p != '\0')
                continue;
            char c = *p;
            *p = '\0';
            if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                rc = pk_err_sys(err, "cannot create %s", dir);
            *p = c;
            if (!c)
                break;
        }
    }
    free(dir);
    return rc;
}

static int pragma_int(struct pk_history *h, const char *sql, long long *out, struct pk_err *err)
{
    sqlite3_stmt *st;
    int rc = hs_prepare(h, sql, &st, err);
    if (rc < 0)
        return rc;
    rc = hs_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : hs_fail(h, rc, err, "reading the schema version");
}

static int check_and_migrate(struct pk_history *h, struct pk_err *err)
{
    long long version = 0, app = 0, tables = 0;
    int rc;
    if ((rc = pragma_int(h, "PRAGMA user_version", &version, err)) < 0 ||
        (rc = pragma_int(h, "PRAGMA application_id", &app, err)) < 0 ||
        (rc = pragma_int(h, "SELECT count(*) FROM sqlite_master", &tables, err)) < 0)
        return rc;
    if ((app != 0 && app != HS_APPLICATION_ID) || (app == 0 && tables > 0))
        return pk_err_set(err, PK_EINVAL, "%s is an SQLite database but not portkit's history", h->path);
    if (version > PK_HISTORY_SCHEMA)
        return pk_err_set(err, PK_EUNSUPP,
                          "%s has history schema version %lld, newer than this portkit's %d: upgrade portkit",
                          h->path, version, PK_HISTORY_SCHEMA);
    if (version == PK_HISTORY_SCHEMA)
        return 0;
    if (h->readonly && version == 0 && tables == 0) /* being created right now */
        return pk_err_set(err, PK_ENOTFOUND, "%s: no history yet (save a run with scan --save or ls --save)",
                          h->path);
    if (h->readonly)
        return pk_err_set(err, PK_EUNSUPP, "%s has history schema version %lld: open it once read-write "
                          "(e.g. portkit history) to upgrade it to %d", h->path, version, PK_HISTORY_SCHEMA);
    /* One transaction: the check is repeated under the lock because a
     * concurrent first open may have migrated meanwhile. */
    if ((rc = hs_exec(h, "BEGIN IMMEDIATE", err, "locking the database")) < 0)
        return rc;
    if ((rc = pragma_int(h, "PRAGMA user_version", &version, err)) < 0)
        goto fail;
    for (long long v = version; v < PK_HISTORY_SCHEMA; v++)
        if ((rc = hs_exec(h, migrations[v], err, "upgrading the schema")) < 0)
            goto fail;
    char sql[96];
    snprintf(sql, sizeof sql, "PRAGMA user_version=%d; PRAGMA application_id=%d", PK_HISTORY_SCHEMA,
             HS_APPLICATION_ID);
    if ((rc = hs_exec(h, sql, err, "upgrading the schema")) < 0 ||
        (rc = hs_exec(h, "COMMIT", err, "upgrading the schema")) < 0)
        goto fail;
    return 0;
fail:
    sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int open_db(struct pk_history *h, const char *uri, int oflags, struct pk_err *err)
{
    int rc = sqlite3_open_v2(uri, &h->db, oflags | SQLITE_OPEN_URI, NULL);
    if (rc != SQLITE_OK) {
        int e = errno;
        pk_err_set(err, PK_EIO, "%s: cannot open: %s%s%s", h->path, h->db ? sqlite3_errmsg(h->db) : sqlite3_errstr(rc),
                   e ? ": " : "", e ? strerror(e) : "");
        sqlite3_close(h->db);
        h->db = NULL;
        return PK_EIO;
    }
    sqlite3_extended_result_codes(h->db, 1);
    sqlite3_busy_timeout(h->db, HS_BUSY_TIMEOUT_MS);
    return 0;
}

/* "file:" URI for path, with '%', '?' and '#' escaped. */
static char *path_uri(const char *path, const char *query)
{
    struct pk_buf b = PK_BUF_INIT;
    pk_buf_puts(&b, "file:");
    for (const char *p = path; *p; p++) {
        if (*p == '%' || *p == '?' || *p == '#')
            pk_buf_printf(&b, "%%%02X", (unsigned char)*p);
        else
            pk_buf_putc(&b, *p);
    }
    if (query)
        pk_buf_puts(&b, query);
    return b.data;
}

int pk_history_open(const char *path, unsigned flags, struct pk_history **out, struct pk_err *err)
{
    *out = NULL;
    struct pk_history *h = calloc(1, sizeof *h);
    if (!h || !(h->path = strdup(path))) {
        free(h);
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    }
    h->readonly = flags & PK_HISTORY_READONLY;
    bool memory = strcmp(path, ":memory:") == 0;
    int rc = 0;
    if (!memory && h->readonly && access(path, F_OK) < 0) {
        rc = errno == ENOENT ? pk_err_set(err, PK_ENOTFOUND, "%s: no history yet (save a run with "
                                          "scan --save or ls --save)", path)
                             : pk_err_sys(err, "%s", path);
        goto fail;
    }
    if (!memory && !h->readonly && (rc = make_parent_dirs(path, err)) < 0)
        goto fail;
    char *uri = memory ? strdup(path) : path_uri(path, NULL);
    if (!uri) {
        rc = pk_err_set(err, PK_ENOMEM, "out of memory");
        goto fail;
    }
    rc = open_db(h, uri, h->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err);
    free(uri);
    if (rc < 0)
        goto fail;
    if (!h->readonly && sqlite3_db_readonly(h->db, "main") == 1) {
        rc = pk_err_set(err, PK_EIO, "%s: the database is read-only", path);
        goto fail;
    }
    long long probe;
    /* A WAL database on a read-only medium cannot make its -shm file;
     * nobody can write there either, so reading it as immutable is safe. */
    if (h->readonly && !memory && pragma_int(h, "PRAGMA user_version", &probe, NULL) < 0) {
        sqlite3_close(h->db);
        h->db = NULL;
        char *ro = path_uri(path, "?immutable=1");
        rc = ro ? open_db(h, ro, SQLITE_OPEN_READONLY, err) : pk_err_set(err, PK_ENOMEM, "out of memory");
        free(ro);
        if (rc < 0)
            goto fail;
    }
    if (!h->readonly && !memory) {
        /* WAL: readers never block the writer, and a killed writer's
         * transaction simply never happened. */
        long long dummy;
        if ((rc = pragma_int(h, "PRAGMA journal_mode=WAL", &dummy, err)) < 0)
            goto fail;
        if ((rc = hs_exec(h, "PRAGMA synchronous=NORMAL", err, "setting up")) < 0)
            goto fail;
    }
    if ((rc = hs_exec(h, "PRAGMA foreign_keys=ON", err, "setting up")) < 0)
        goto fail;
    if ((rc = check_and_migrate(h, err)) < 0)
        goto fail;
    *out = h;
    return 0;
fail:
    pk_history_close(h);
    return rc;
}

void pk_history_close(struct pk_history *h)
{
    if (!h)
        return;
    sqlite3_close(h->db);
    free(h->path);
    free(h);
}

void pk_history_set_busy_timeout(struct pk_history *h, unsigned ms)
{
    sqlite3_busy_timeout(h->db, (int)(ms > 600000 ? 600000 : ms));
}

bool pk_history_busy(const struct pk_history *h)
{
    return h->busy;
}

void hs_run_from_row(sqlite3_stmt *st, struct pk_run *r)
{
    r->id = sqlite3_column_int64(st, 0);
    r->kind = sqlite3_column_int(st, 1) == PK_RUN_SOCKETS ? PK_RUN_SOCKETS : PK_RUN_SCAN;
    r->label = hs_col(st, 2);
    r->source = hs_col(st, 3);
    r->targets = hs_col(st, 4);
    r->ports = hs_col(st, 5);
    r->command = hs_col(st, 6);
    r->start_us = (uint64_t)sqlite3_column_int64(st, 7);
    r->end_us = (uint64_t)sqlite3_column_int64(st, 8);
    r->hosts = (uint64_t)sqlite3_column_int64(st, 9);
    r->hosts_up = (uint64_t)sqlite3_column_int64(st, 10);
    r->open = (uint64_t)sqlite3_column_int64(st, 11);
}

static int walk_runs(struct pk_history *h, sqlite3_stmt *st, pk_history_run_fn *fn, void *arg,
                     bool want_one, struct pk_err *err)
{
    int rc, ret = 0;
    bool any = false;
    while ((rc = hs_step(st)) == SQLITE_ROW) {
        struct pk_run r;
        hs_run_from_row(st, &r);
        any = true;
        if ((ret = fn(arg, &r)) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        ret = hs_fail(h, rc, err, "reading runs");
    else if (want_one && !any)
        ret = pk_err_set(err, PK_ENOTFOUND, "no such run");
    sqlite3_finalize(st);
    return ret;
}

int pk_history_runs(struct pk_history *h, pk_history_run_fn *fn, void *arg, struct pk_err *err)
{
    sqlite3_stmt *st;
    int rc = hs_prepare(h, "SELECT " HS_RUN_COLUMNS " FROM runs ORDER BY id DESC", &st, err);
    return rc < 0 ? rc : walk_runs(h, st, fn, arg, false, err);
}

int pk_history_run(struct pk_history *h, int64_t id, pk_history_run_fn *fn, void *arg, struct pk_err *err)
{
    sqlite3_stmt *st;
    int rc = hs_prepare(h, "SELECT " HS_RUN_COLUMNS " FROM runs WHERE id=?", &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    rc = walk_runs(h, st, fn, arg, true, err);
    if (rc == PK_ENOTFOUND)
        pk_err_set(err, PK_ENOTFOUND, "no run %lld in %s", (long long)id, h->path);
    return rc;
}

static int one_id(struct pk_history *h, sqlite3_stmt *st, int64_t *id, struct pk_err *err, const char *ref)
{
    int rc = hs_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    else if (rc == SQLITE_DONE)
        ret = pk_err_set(err, PK_ENOTFOUND, "no run '%s' in %s (see portkit history)", ref, h->path);
    else
        ret = hs_fail(h, rc, err, "finding a run");
    sqlite3_finalize(st);
    return ret;
}

int pk_history_resolve(struct pk_history *h, const char *ref, int64_t *id, struct pk_err *err)
{
    sqlite3_stmt *st;
    int rc;
    char *end;
    if (!*ref)
        return pk_err_set(err, PK_EINVAL, "an empty run name");
    if (strncmp(ref, "last", 4) == 0 && (ref[4] == '\0' || ref[4] == '~')) {
        long long back = 0;
        if (ref[4] == '~') {
            errno = 0;
            back = strtoll(ref + 5, &end, 10);
            if (!ref[5] || *end || errno || back < 0 || back > 1000000000)
                return pk_err_set(err, PK_EINVAL, "'%s': expected last or last~N", ref);
        }
        if ((rc = hs_prepare(h, "SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?", &st, err)) < 0)
            return rc;
        sqlite3_bind_int64(st, 1, back);
        return one_id(h, st, id, err, ref);
    }
    errno = 0;
    long long n = strtoll(ref, &end, 10);
    if (!*end && !errno && n > 0) {
        if ((rc = hs_prepare(h, "SELECT id FROM runs WHERE id=?", &st, err)) < 0)
            return rc;
        sqlite3_bind_int64(st, 1, n);
        return one_id(h, st, id, err, ref);
    }
    if ((rc = hs_prepare(h, "SELECT id FROM runs WHERE label=? ORDER BY id DESC LIMIT 1", &st, err)) < 0)
        return rc;
    sqlite3_bind_text(st, 1, ref, -1, SQLITE_TRANSIENT);
    return one_id(h, st, id, err, ref);
}

int pk_history_previous(struct pk_history *h, int64_t id, int64_t *prev, struct pk_err *err)
{
    sqlite3_stmt *st;
    int rc = hs_prepare(h,
                        "SELECT p.id FROM runs r JOIN runs p ON p.kind=r.kind AND p.target_key=r.target_key "
                        "AND p.id<r.id WHERE r.id=? ORDER BY p.id DESC LIMIT 1",
                        &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    char ref[32];
    snprintf(ref, sizeof ref, "before %lld over the same hosts", (long long)id);
    return one_id(h, st, prev, err, ref);
}

int pk_history_remove(struct pk_history *h, int64_t id, struct pk_err *err)
{
    sqlite3_stmt *st;
    int rc = hs_prepare(h, "DELETE FROM runs WHERE id=?", &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    rc = hs_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return hs_fail(h, rc, err, "removing a run");
    if (sqlite3_changes(h->db) == 0)
        return pk_err_set(err, PK_ENOTFOUND, "no run %lld in %s", (long long)id, h->path);
    return 0;
}

int pk_history_prune(struct pk_history *h, uint64_t before_us, uint64_t *removed, struct pk_err *err)
{
    sqlite3_stmt *st;
    int rc = hs_prepare(h, "DELETE FROM runs WHERE end_us<?", &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)before_us);
    rc = hs_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return hs_fail(h, rc, err, "removing runs");
    if (removed)
        *removed = (uint64_t)sqlite3_changes(h->db);
    return 0;
}
