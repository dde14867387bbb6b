/* What changed between two runs. Both runs are read in key order (host
 * address, transport, port; for listeners transport, address, port) by
 * one query each and merged like two sorted files, so memory does not grow
 * with the runs: only the two current rows are held. */
#include <stdlib.h>
#include <string.h>

#include "history/history_impl.h"
#include "portkit/json.h"
#include "portkit/portspec.h"

static const char *const change_names[PK_CHANGE_COUNT] = {
    "opened", "closed", "state", "service", "host-up", "host-down", "added", "removed", "process",
};

const char *pk_change_name(enum pk_change_kind k)
{
    return (unsigned)k < PK_CHANGE_COUNT ? change_names[k] : "?";
}

struct side {
    struct pk_history *h;
    sqlite3_stmt *st;
    bool done;
    struct pk_ports *ports; /* the ports the run asked about; NULL: unknown */
};

struct diff {
    pk_change_fn *fn;
    void *arg;
    uint64_t count;
    int stop;         /* the callback's non-zero return */
    int rc;           /* an SQLite failure */
    struct pk_err *err;
};

static int advance(struct side *s, struct diff *d)
{
    if (s->done)
        return 0;
    int rc = hs_step(s->st);
    if (rc == SQLITE_ROW)
        return 0;
    s->done = true;
    if (rc != SQLITE_DONE && !d->rc)
        d->rc = hs_fail(s->h, rc, d->err, "reading a run");
    return 0;
}

static void emit(struct diff *d, const struct pk_change *c)
{
    if (d->stop)
        return;
    d->count++;
    d->stop = d->fn(d->arg, c);
}

static int blob_cmp(sqlite3_stmt *a, sqlite3_stmt *b, int col)
{
    int na = sqlite3_column_bytes(a, col), nb = sqlite3_column_bytes(b, col);
    const void *pa = sqlite3_column_blob(a, col), *pb = sqlite3_column_blob(b, col);
    int c = memcmp(pa ? pa : "", pb ? pb : "", (size_t)(na < nb ? na : nb));
    return c ? c : (na > nb) - (na < nb);
}

/* ---- scans ---- */

enum {
    C_AKEY, C_ADDR, C_NAME, C_UP, C_PROTO, C_PORT, C_STATE, C_SERVICE, C_PROBED, C_PRODUCT, C_VERSION, C_EXTRA,
    C_REST_TCP, C_REST_UDP
};

static const char scan_sql[] =
    "SELECT h.akey, h.addr, h.hostname, h.up, p.proto, p.port, p.state, p.service, p.probed, p.product, "
    "p.version, p.extra, h.rest_tcp, h.rest_udp FROM hosts h LEFT JOIN ports p ON p.host_id=h.id WHERE h.run_id=? "
    "ORDER BY h.akey, p.proto, p.port";

static bool has_port(sqlite3_stmt *st)
{
    return sqlite3_column_type(st, C_PORT) != SQLITE_NULL;
}

static enum pk_proto row_proto(sqlite3_stmt *st)
{
    return strcmp(hs_col(st, C_PROTO), "udp") == 0 ? PK_UDP : PK_TCP;
}

/* Whether both runs asked about this port (a port one run never scanned
 * did not change). */
static bool compared(const struct diff *d, const struct side *a, const struct side *b, enum pk_proto proto,
                     unsigned port)
{
    (void)d;
    return (!a->ports || pk_ports_has(a->ports, proto, port)) && (!b->ports || pk_ports_has(b->ports, proto, port));
}

static void service_line(sqlite3_stmt *st, struct pk_buf *out)
{
    pk_buf_reset(out);
    pk_buf_puts(out, hs_col(st, C_SERVICE));
    for (int c = C_PRODUCT; c <= C_VERSION; c++) {
        const char *v = hs_col(st, c);
        if (*v) {
            if (out->len)
                pk_buf_putc(out, ' ');
            pk_buf_puts(out, v);
        }
    }
    if (!out->data)
        pk_buf_puts(out, "");
}

/* Names from a table (IANA's, nmap-services) are guesses that differ
 * between tools; only what a probe found counts as a service change. */
static bool service_changed(sqlite3_stmt *a, sqlite3_stmt *b)
{
    if (strcmp(hs_col(a, C_PRODUCT), hs_col(b, C_PRODUCT)) != 0 ||
        strcmp(hs_col(a, C_VERSION), hs_col(b, C_VERSION)) != 0)
        return true;
    return sqlite3_column_int(a, C_PROBED) && sqlite3_column_int(b, C_PROBED) &&
           strcmp(hs_col(a, C_SERVICE), hs_col(b, C_SERVICE)) != 0;
}

struct host_id {
    struct pk_buf key, addr, name;
};

static void host_id_set(struct host_id *h, sqlite3_stmt *st)
{
    pk_buf_reset(&h->key);
    pk_buf_reset(&h->addr);
    pk_buf_reset(&h->name);
    pk_buf_append(&h->key, sqlite3_column_blob(st, C_AKEY), (size_t)sqlite3_column_bytes(st, C_AKEY));
    pk_buf_puts(&h->addr, hs_col(st, C_ADDR));
    pk_buf_puts(&h->name, hs_col(st, C_NAME));
}

static void host_id_free(struct host_id *h)
{
    pk_buf_free(&h->key);
    pk_buf_free(&h->addr);
    pk_buf_free(&h->name);
}

static void port_change(struct diff *d, enum pk_change_kind kind, const struct host_id *host, sqlite3_stmt *row,
                        const char *before, const char *after)
{
    struct pk_change c = {
        .kind = kind, .host = host->addr.data ? host->addr.data : "",
        .hostname = host->name.data ? host->name.data : "",
        .proto = row ? row_proto(row) : PK_TCP, .port = row ? (uint16_t)sqlite3_column_int(row, C_PORT) : 0,
        .before = before, .after = after, .service = row ? hs_col(row, C_SERVICE) : "",
        .pid = -1, .process = "", .user = "",
    };
    emit(d, &c);
}

static enum pk_change_kind state_kind(const char *before, const char *after)
{
    if (strcmp(after, "open") == 0)
        return PK_CHANGE_OPENED;
    if (strcmp(after, "closed") == 0 && (strcmp(before, "open") == 0 || strcmp(before, "open|filtered") == 0))
        return PK_CHANGE_CLOSED;
    return PK_CHANGE_STATE;
}

static bool same_host(struct side *s, const struct pk_buf *key)
{
    return !s->done && (size_t)sqlite3_column_bytes(s->st, C_AKEY) == key->len &&
           memcmp(sqlite3_column_blob(s->st, C_AKEY), key->data ? key->data : "", key->len) == 0;
}

/* The rows of one host present in only one run. */
static void lone_host(struct diff *d, struct side *s, bool in_b)
{
    sqlite3_stmt *st = s->st;
    bool up = sqlite3_column_int(st, C_UP);
    struct host_id host = {PK_BUF_INIT, PK_BUF_INIT, PK_BUF_INIT};
    host_id_set(&host, st);
    if (up)
        port_change(d, in_b ? PK_CHANGE_HOST_UP : PK_CHANGE_HOST_DOWN, &host, NULL, in_b ? "absent" : "up",
                    in_b ? "up" : "absent");
    for (;;) {
        /* A new host's ports are news; a vanished host's are unknown now. */
        if (in_b && up && has_port(st)) {
            const char *state = hs_col(st, C_STATE);
            port_change(d, strcmp(state, "open") == 0 ? PK_CHANGE_OPENED : PK_CHANGE_STATE, &host, st, "", state);
        }
        advance(s, d);
        if (!same_host(s, &host.key))
            break;
    }
    host_id_free(&host);
}

static int port_cmp(sqlite3_stmt *a, sqlite3_stmt *b)
{
    int c = strcmp(hs_col(a, C_PROTO), hs_col(b, C_PROTO));
    return c ? c : sqlite3_column_int(a, C_PORT) - sqlite3_column_int(b, C_PORT);
}

static void both_hosts(struct diff *d, struct side *a, struct side *b)
{
    sqlite3_stmt *sa = a->st, *sb = b->st;
    bool up_a = sqlite3_column_int(sa, C_UP), up_b = sqlite3_column_int(sb, C_UP);
    /* A port a run did not store was in that host's rest state. */
    enum pk_port_state rest_a[2] = {hs_state_parse(hs_col(sa, C_REST_TCP)), hs_state_parse(hs_col(sa, C_REST_UDP))};
    enum pk_port_state rest_b[2] = {hs_state_parse(hs_col(sb, C_REST_TCP)), hs_state_parse(hs_col(sb, C_REST_UDP))};
    struct host_id host = {PK_BUF_INIT, PK_BUF_INIT, PK_BUF_INIT};
    host_id_set(&host, sb);
    if (up_a != up_b)
        port_change(d, up_b ? PK_CHANGE_HOST_UP : PK_CHANGE_HOST_DOWN, &host, NULL, up_a ? "up" : "down",
                    up_b ? "up" : "down");
    /* The unlisted ports as a whole changed state (a firewall now drops
     * what was refused): one change for all of them. */
    for (int t = 0; up_a && up_b && t < 2; t++) {
        if (rest_a[t] != rest_b[t]) {
            struct pk_change c = {
                .kind = PK_CHANGE_STATE, .host = host.addr.data ? host.addr.data : "",
                .hostname = host.name.data ? host.name.data : "", .proto = t ? PK_UDP : PK_TCP, .port = 0,
                .before = pk_state_name(rest_a[t]), .after = pk_state_name(rest_b[t]), .service = "", .pid = -1,
                .process = "", .user = "",
            };
            emit(d, &c);
        }
    }
    const struct pk_buf *key = &host.key;
    struct pk_buf la = PK_BUF_INIT, lb = PK_BUF_INIT;
    /* Rows without a port (a host with none stored) are skipped. */
    while (same_host(a, key) && !has_port(sa))
        advance(a, d);
    while (same_host(b, key) && !has_port(sb))
        advance(b, d);
    while (!d->stop && (same_host(a, key) || same_host(b, key))) {
        bool ha = same_host(a, key), hb = same_host(b, key);
        int c = ha && hb ? port_cmp(sa, sb) : ha ? -1 : 1;
        sqlite3_stmt *row = c <= 0 ? sa : sb;
        enum pk_proto proto = row_proto(row);
        unsigned port = (unsigned)sqlite3_column_int(row, C_PORT);
        /* A host that did not answer tells nothing about its ports. */
        bool judge = up_a && up_b && compared(d, a, b, proto, port);
        if (c < 0) {
            const char *before = hs_col(sa, C_STATE), *after = pk_state_name(rest_b[proto == PK_UDP]);
            if (judge && strcmp(before, after) != 0)
                port_change(d, state_kind(before, after), &host, sa, before, after);
            advance(a, d);
        } else if (c > 0) {
            const char *after = hs_col(sb, C_STATE), *before = pk_state_name(rest_a[proto == PK_UDP]);
            if (judge && strcmp(before, after) != 0)
                port_change(d, state_kind(before, after), &host, sb, before, after);
            advance(b, d);
        } else {
            const char *before = hs_col(sa, C_STATE), *after = hs_col(sb, C_STATE);
            if (judge && strcmp(before, after) != 0) {
                port_change(d, state_kind(before, after), &host, sb, before, after);
            } else if (judge && service_changed(sa, sb)) {
                service_line(sa, &la);
                service_line(sb, &lb);
                port_change(d, PK_CHANGE_SERVICE, &host, sb, la.data, lb.data);
            }
            advance(a, d);
            advance(b, d);
        }
    }
    host_id_free(&host);
    pk_buf_free(&la);
    pk_buf_free(&lb);
}

static void diff_scans(struct diff *d, struct side *a, struct side *b)
{
    advance(a, d);
    advance(b, d);
    while (!d->stop && !d->rc && (!a->done || !b->done)) {
        int c = a->done ? 1 : b->done ? -1 : blob_cmp(a->st, b->st, C_AKEY);
        if (c < 0)
            lone_host(d, a, false);
        else if (c > 0)
            lone_host(d, b, true);
        else
            both_hosts(d, a, b);
    }
}

/* ---- listeners ---- */

enum { L_PROTO, L_AKEY, L_PORT, L_FAMILY, L_ADDR, L_PID, L_PROCESS, L_USER, L_SERVICE, L_FLAGS };

static const char listener_sql[] =
    "SELECT proto, akey, port, family, addr, pid, process, user, service, flags FROM listeners "
    "WHERE run_id=? ORDER BY proto, akey, port";

static void listener_change(struct diff *d, enum pk_change_kind kind, sqlite3_stmt *row, const char *before,
                            const char *after)
{
    struct pk_change c = {
        .kind = kind, .host = hs_col(row, L_ADDR), .hostname = "",
        .proto = strcmp(hs_col(row, L_PROTO), "udp") == 0 ? PK_UDP : PK_TCP,
        .port = (uint16_t)sqlite3_column_int(row, L_PORT), .before = before, .after = after,
        .service = hs_col(row, L_SERVICE), .pid = sqlite3_column_int(row, L_PID),
        .process = hs_col(row, L_PROCESS), .user = hs_col(row, L_USER),
        .flags = (unsigned)sqlite3_column_int(row, L_FLAGS),
    };
    emit(d, &c);
}

static void holder(sqlite3_stmt *st, struct pk_buf *out)
{
    pk_buf_reset(out);
    const char *proc = hs_col(st, L_PROCESS), *user = hs_col(st, L_USER);
    int pid = sqlite3_column_int(st, L_PID);
    pk_buf_puts(out, *proc ? proc : "?");
    if (pid > 0)
        pk_buf_printf(out, "[%d]", pid);
    if (*user)
        pk_buf_printf(out, " %s", user);
}

static void diff_listeners(struct diff *d, struct side *a, struct side *b)
{
    struct pk_buf ha = PK_BUF_INIT, hb = PK_BUF_INIT;
    advance(a, d);
    advance(b, d);
    while (!d->stop && !d->rc && (!a->done || !b->done)) {
        int c = a->done ? 1 : b->done ? -1 : strcmp(hs_col(a->st, L_PROTO), hs_col(b->st, L_PROTO));
        if (!a->done && !b->done && c == 0)
            c = blob_cmp(a->st, b->st, L_AKEY);
        if (!a->done && !b->done && c == 0)
            c = sqlite3_column_int(a->st, L_PORT) - sqlite3_column_int(b->st, L_PORT);
        if (c < 0) {
            holder(a->st, &ha);
            listener_change(d, PK_CHANGE_REMOVED, a->st, ha.data, "");
            advance(a, d);
        } else if (c > 0) {
            holder(b->st, &hb);
            listener_change(d, PK_CHANGE_ADDED, b->st, "", hb.data);
            advance(b, d);
        } else {
            /* A restart changes the pid only: not a new owner. */
            if (strcmp(hs_col(a->st, L_PROCESS), hs_col(b->st, L_PROCESS)) != 0 ||
                strcmp(hs_col(a->st, L_USER), hs_col(b->st, L_USER)) != 0) {
                holder(a->st, &ha);
                holder(b->st, &hb);
                listener_change(d, PK_CHANGE_PROCESS, b->st, ha.data, hb.data);
            }
            advance(a, d);
            advance(b, d);
        }
    }
    pk_buf_free(&ha);
    pk_buf_free(&hb);
}

/* ---- entry ---- */

static int run_kind(struct pk_history *h, int64_t id, int *kind, char **ports, struct pk_err *err)
{
    sqlite3_stmt *st;
    int rc = hs_prepare(h, "SELECT kind, ports FROM runs WHERE id=?", &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    rc = hs_step(st);
    if (rc == SQLITE_ROW) {
        *kind = sqlite3_column_int(st, 0);
        *ports = strdup(hs_col(st, 1));
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return pk_err_set(err, PK_ENOTFOUND, "no run %lld in %s", (long long)id, h->path);
    return rc == SQLITE_ROW ? (*ports ? 0 : pk_err_set(err, PK_ENOMEM, "out of memory"))
                            : hs_fail(h, rc, err, "reading a run");
}

static struct pk_ports *asked_ports(const char *spec)
{
    if (!*spec)
        return NULL;
    struct pk_ports *p = pk_ports_new();
    if (p && pk_ports_parse(p, spec, NULL, PK_PROTO_MASK(PK_TCP), NULL, NULL) < 0) {
        pk_ports_free(p);
        return NULL;
    }
    return p;
}

int pk_history_diff(struct pk_history *ha, int64_t a, struct pk_history *hb, int64_t b, pk_change_fn *fn,
                    void *arg, uint64_t *count, struct pk_err *err)
{
    int kind_a = 0, kind_b = 0;
    char *ports_a = NULL, *ports_b = NULL;
    struct side sa = {.h = ha}, sb = {.h = hb};
    struct diff d = {.fn = fn, .arg = arg, .err = err};
    int rc = run_kind(ha, a, &kind_a, &ports_a, err);
    if (rc == 0)
        rc = run_kind(hb, b, &kind_b, &ports_b, err);
    if (rc == 0 && kind_a != kind_b)
        rc = pk_err_set(err, PK_EINVAL, "run %lld is %s, run %lld is %s: only runs of one kind compare",
                        (long long)a, pk_run_kind_name((enum pk_run_kind)kind_a), (long long)b,
                        pk_run_kind_name((enum pk_run_kind)kind_b));
    const char *sql = kind_a == PK_RUN_SOCKETS ? listener_sql : scan_sql;
    if (rc == 0 && (rc = hs_prepare(ha, sql, &sa.st, err)) == 0)
        rc = hs_prepare(hb, sql, &sb.st, err);
    if (rc == 0) {
        sqlite3_bind_int64(sa.st, 1, a);
        sqlite3_bind_int64(sb.st, 1, b);
        if (kind_a == PK_RUN_SOCKETS) {
            diff_listeners(&d, &sa, &sb);
        } else {
            sa.ports = asked_ports(ports_a);
            sb.ports = asked_ports(ports_b);
            diff_scans(&d, &sa, &sb);
        }
        rc = d.rc ? d.rc : d.stop;
    }
    sqlite3_finalize(sa.st);
    sqlite3_finalize(sb.st);
    pk_ports_free(sa.ports);
    pk_ports_free(sb.ports);
    free(ports_a);
    free(ports_b);
    if (count)
        *count = d.count;
    return rc;
}

void pk_change_json(const struct pk_change *c, struct pk_buf *out)
{
    struct pk_json j;
    pk_json_init(&j, out);
    pk_json_obj_begin(&j, NULL);
    pk_json_str(&j, "change", pk_change_name(c->kind));
    pk_json_str(&j, "host", c->host);
    if (c->hostname && *c->hostname)
        pk_json_str(&j, "hostname", c->hostname);
    /* port 0 with a state change: every port the run did not list */
    if (c->port)
        pk_json_int(&j, "port", c->port);
    else
        pk_json_null(&j, "port");
    if (c->port || c->kind == PK_CHANGE_STATE)
        pk_json_str(&j, "proto", pk_proto_name(c->proto));
    else
        pk_json_null(&j, "proto");
    pk_json_str(&j, "before", c->before);
    pk_json_str(&j, "after", c->after);
    pk_json_str(&j, "service", c->service);
    if (c->kind >= PK_CHANGE_ADDED) {
        if (c->pid > 0)
            pk_json_int(&j, "pid", c->pid);
        else
            pk_json_null(&j, "pid");
        pk_json_str(&j, "process", *c->process ? c->process : NULL);
        pk_json_str(&j, "user", *c->user ? c->user : NULL);
        pk_json_arr_begin(&j, "flags");
        for (unsigned i = 0; i < PK_SF_COUNT; i++)
            if (c->flags & (1u << i))
                pk_json_str(&j, NULL, pk_sock_flag_name(1u << i));
        pk_json_arr_end(&j);
    }
    pk_json_obj_end(&j);
}
