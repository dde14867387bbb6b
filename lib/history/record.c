/* Writing one run: everything in one transaction, so readers see the whole
 * run or nothing, and a writer killed half-way leaves no trace. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "history/history_impl.h"
#include "portkit/permute.h"

struct pk_history_run {
    struct pk_history *h;
    int64_t run_id;
    int64_t host_id;       /* the host ports go to; 0 before the first */
    enum pk_port_state rest[2]; /* its ports in this state are implied */
    enum pk_run_kind kind;
    sqlite3_stmt *ins_host, *ins_port, *ins_listener;
    uint64_t hosts;
    /* An order-independent digest of the hosts' addresses: runs over the
     * same set of hosts get the same key (pk_history_previous). */
    uint64_t key_xor, key_sum;
};

static void writer_free(struct pk_history_run *w)
{
    sqlite3_finalize(w->ins_host);
    sqlite3_finalize(w->ins_port);
    sqlite3_finalize(w->ins_listener);
    w->h->writing = false;
    free(w);
}

void pk_history_abort(struct pk_history_run *w)
{
    if (!w)
        return;
    sqlite3_exec(w->h->db, "ROLLBACK", NULL, NULL, NULL);
    writer_free(w);
}

static int fail(struct pk_history_run *w, int rc, struct pk_err *err, const char *what)
{
    return hs_fail(w->h, rc, err, what);
}

static void bind_str(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_STATIC);
}

static int run_meta(struct pk_history_run *w, const struct pk_run *info, bool insert, struct pk_err *err)
{
    sqlite3_stmt *st;
    const char *sql = insert ? "INSERT INTO runs(kind, label, source, targets, ports, command, start_us, end_us) "
                               "VALUES(?,?,?,?,?,?,?,?)"
                             : "UPDATE runs SET kind=?, label=?, source=?, targets=?, ports=?, command=?, "
                               "start_us=?, end_us=? WHERE id=?";
    int rc = hs_prepare(w->h, sql, &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int(st, 1, (int)info->kind);
    bind_str(st, 2, info->label);
    bind_str(st, 3, info->source);
    bind_str(st, 4, info->targets);
    bind_str(st, 5, info->ports);
    bind_str(st, 6, info->command);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)info->start_us);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)(info->end_us ? info->end_us : info->start_us));
    if (!insert)
        sqlite3_bind_int64(st, 9, w->run_id);
    rc = hs_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return fail(w, rc, err, "saving the run");
    if (insert)
        w->run_id = sqlite3_last_insert_rowid(w->h->db);
    w->kind = info->kind;
    return 0;
}

int hs_run_set_meta(struct pk_history_run *w, const struct pk_run *info, struct pk_err *err)
{
    return run_meta(w, info, false, err);
}

int pk_history_label_check(const char *name, struct pk_err *err)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64)
        return pk_err_set(err, PK_EINVAL, "a label has 1 to 64 characters");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return pk_err_set(err, PK_EINVAL, "a label may not hold control characters");
    if (strspn(name, "0123456789") == n)
        return pk_err_set(err, PK_EINVAL, "label '%s' would read as a run id: add a letter", name);
    if (strcmp(name, "last") == 0 || strncmp(name, "last~", 5) == 0)
        return pk_err_set(err, PK_EINVAL, "label '%s' would read as last/last~N", name);
    if (strchr(name, '/') || (n > 4 && strcmp(name + n - 4, ".xml") == 0))
        return pk_err_set(err, PK_EINVAL, "label '%s' would read as a file name (no '/', no .xml)", name);
    return 0;
}

int pk_history_begin(struct pk_history *h, const struct pk_run *info, struct pk_history_run **out,
                     struct pk_err *err)
{
    *out = NULL;
    if (info->label && *info->label && pk_history_label_check(info->label, err) < 0)
        return PK_EINVAL;
    if (h->readonly)
        return pk_err_set(err, PK_EINVAL, "%s was opened read-only", h->path);
    if (h->writing)
        return pk_err_set(err, PK_EINVAL, "%s: one run at a time", h->path);
    struct pk_history_run *w = calloc(1, sizeof *w);
    if (!w)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    w->h = h;
    h->writing = true;
    /* IMMEDIATE takes the write lock now (waiting for other writers), so
     * the transaction cannot fail half-way for a lock upgrade. */
    int rc = hs_exec(h, "BEGIN IMMEDIATE", err, "locking the database to save a run");
    if (rc < 0) {
        writer_free(w);
        return rc;
    }
    if ((rc = run_meta(w, info, true, err)) < 0 ||
        (rc = hs_prepare(h, "INSERT INTO hosts(run_id, akey, addr, hostname, up, rtt_us, closed_tcp, closed_udp, rest_tcp, "
                            "rest_udp) VALUES(?,?,?,?,?,?,?,?,?,?) ON CONFLICT(run_id, akey) DO NOTHING RETURNING id",
                         &w->ins_host, err)) < 0 ||
        (rc = hs_prepare(h, "INSERT OR REPLACE INTO ports(host_id, proto, port, state, reason, service, probed, "
                            "product, version, extra, banner) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                         &w->ins_port, err)) < 0 ||
        (rc = hs_prepare(h, "INSERT OR IGNORE INTO listeners(run_id, proto, akey, port, family, addr, pid, process, "
                            "user, service, flags) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                         &w->ins_listener, err)) < 0) {
        pk_history_abort(w);
        return rc;
    }
    *out = w;
    return 0;
}

static void key_add(struct pk_history_run *w, const unsigned char *key, size_t n)
{
    uint64_t hsh = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++)
        hsh = pk_hash64(hsh ^ key[i]);
    w->key_xor ^= hsh;
    w->key_sum += hsh;
}

/* The same address twice in one run (nmap XML may name a host twice) is
 * one host: its closed counts add up and it is up if either says so. */
static int merge_host(struct pk_history_run *w, const unsigned char *key, size_t klen,
                      const struct pk_history_host *host, struct pk_err *err)
{
    sqlite3_stmt *st;
    int rc = hs_prepare(w->h, "SELECT id, rest_tcp, rest_udp FROM hosts WHERE run_id=? AND akey=?", &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, w->run_id);
    sqlite3_bind_blob(st, 2, key, (int)klen, SQLITE_STATIC);
    rc = hs_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (id) {
        w->rest[0] = hs_state_parse(hs_col(st, 1));
        w->rest[1] = hs_state_parse(hs_col(st, 2));
    }
    sqlite3_finalize(st);
    if (!id)
        return fail(w, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, err, "saving a host");
    if ((rc = hs_prepare(w->h, "UPDATE hosts SET up=max(up, ?), closed_tcp=closed_tcp+?, "
                               "closed_udp=closed_udp+? WHERE id=?", &st, err)) < 0)
        return rc;
    sqlite3_bind_int(st, 1, host->up);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)host->closed[0]);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)host->closed[1]);
    sqlite3_bind_int64(st, 4, id);
    rc = hs_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return fail(w, rc, err, "saving a host");
    w->host_id = id;
    return 0;
}

int pk_history_add_host(struct pk_history_run *w, const struct pk_history_host *host, struct pk_err *err)
{
    if (w->kind != PK_RUN_SCAN)
        return pk_err_set(err, PK_EINVAL, "hosts belong to scan runs");
    if (!host->addr || !*host->addr)
        return pk_err_set(err, PK_EINVAL, "a host without an address");
    unsigned char key[256];
    size_t klen = hs_addr_key(host->addr, key, sizeof key);
    sqlite3_stmt *st = w->ins_host;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, w->run_id);
    sqlite3_bind_blob(st, 2, key, (int)klen, SQLITE_STATIC);
    bind_str(st, 3, host->addr);
    bind_str(st, 4, host->hostname);
    sqlite3_bind_int(st, 5, host->up);
    sqlite3_bind_int64(st, 6, host->rtt_us);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)host->closed[0]);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)host->closed[1]);
    enum pk_port_state rest[2];
    for (int p = 0; p < 2; p++)
        rest[p] = host->rest[p] == PK_STATE_UNKNOWN || host->rest[p] >= PK_STATE_COUNT ? PK_STATE_CLOSED
                                                                                        : host->rest[p];
    bind_str(st, 9, pk_state_name(rest[0]));
    bind_str(st, 10, pk_state_name(rest[1]));
    int rc = hs_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) /* DO NOTHING: this address was added before */
        return merge_host(w, key, klen, host, err);
    if (rc != SQLITE_ROW)
        return fail(w, rc, err, "saving a host");
    w->host_id = id;
    w->rest[0] = rest[0];
    w->rest[1] = rest[1];
    w->hosts++;
    key_add(w, key, klen);
    return 0;
}

int pk_history_add_port(struct pk_history_run *w, const struct pk_history_port *p, struct pk_err *err)
{
    if (!w->host_id)
        return pk_err_set(err, PK_EINVAL, "a port needs its host first");
    if (p->state == PK_STATE_UNKNOWN || p->state == w->rest[p->proto == PK_UDP])
        return 0;
    sqlite3_stmt *st = w->ins_port;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, w->host_id);
    bind_str(st, 2, pk_proto_name(p->proto));
    sqlite3_bind_int(st, 3, p->port);
    bind_str(st, 4, pk_state_name(p->state));
    bind_str(st, 5, p->reason ? pk_reason_name(p->reason) : "");
    bind_str(st, 6, p->service);
    sqlite3_bind_int(st, 7, p->service_probed);
    bind_str(st, 8, p->product);
    bind_str(st, 9, p->version);
    bind_str(st, 10, p->extra);
    bind_str(st, 11, p->banner);
    int rc = hs_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return fail(w, rc, err, "saving a port");
    return 0;
}

int pk_history_add_report(struct pk_history_run *w, const struct pk_host_report *r, struct pk_err *err)
{
    char addr[PK_ADDR_STRLEN];
    pk_addr_format(&r->addr, addr, sizeof addr);
    struct pk_history_host host = {
        .addr = addr,
        .hostname = r->hostname,
        .up = r->answered,
        .rtt_us = r->srtt_us,
        .closed = {r->counts[0][PK_STATE_CLOSED], r->counts[1][PK_STATE_CLOSED]},
    };
    /* The rest: the most common state that is not open (closed wins ties,
     * as the usual case). A host that answered nothing has only silence to
     * tell: no port rows at all. */
    static const enum pk_port_state candidates[] = {PK_STATE_CLOSED, PK_STATE_FILTERED, PK_STATE_OPEN_FILTERED};
    for (int p = 0; p < 2; p++) {
        host.rest[p] = PK_STATE_CLOSED;
        for (size_t k = 1; k < sizeof candidates / sizeof candidates[0]; k++)
            if (r->counts[p][candidates[k]] > r->counts[p][host.rest[p]])
                host.rest[p] = candidates[k];
    }
    int rc = pk_history_add_host(w, &host, err);
    for (size_t i = 0; rc == 0 && r->answered && i < r->nports; i++) {
        const struct pk_scan_result *s = &r->ports[i];
        struct pk_history_port p = {
            .proto = s->proto, .port = s->port, .state = s->state, .reason = s->reason,
            .service = s->service, .service_probed = s->service_probed, .product = s->product,
            .version = s->version, .extra = s->extra, .banner = s->banner,
        };
        rc = pk_history_add_port(w, &p, err);
    }
    return rc;
}

int pk_history_add_listener(struct pk_history_run *w, const struct pk_history_listener *l, struct pk_err *err)
{
    if (w->kind != PK_RUN_SOCKETS)
        return pk_err_set(err, PK_EINVAL, "listeners belong to ls runs");
    unsigned char key[256];
    size_t klen = hs_addr_key(l->addr, key, sizeof key);
    sqlite3_stmt *st = w->ins_listener;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, w->run_id);
    bind_str(st, 2, pk_proto_name(l->proto));
    sqlite3_bind_blob(st, 3, key, (int)klen, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, l->port);
    sqlite3_bind_int(st, 5, l->family);
    bind_str(st, 6, l->addr);
    sqlite3_bind_int(st, 7, l->pid);
    bind_str(st, 8, l->process);
    bind_str(st, 9, l->user);
    bind_str(st, 10, l->service);
    sqlite3_bind_int(st, 11, (int)l->flags);
    int rc = hs_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return fail(w, rc, err, "saving a listener");
    return 0;
}

int pk_history_add_sockets(struct pk_history_run *w, const struct pk_socklist *l, const struct pk_registry *reg,
                           const struct pk_hostinfo *host, struct pk_err *err)
{
    struct pk_hostinfo hi;
    if (!host) {
        pk_hostinfo_read(&hi, NULL);
        host = &hi;
    }
    for (size_t i = 0; i < pk_socklist_count(l); i++) {
        const struct pk_sock *s = pk_socklist_get(l, i);
        if (!pk_sock_is_listening(s))
            continue;
        struct pk_sock_notes n;
        pk_sock_annotate(reg, host, s, &n);
        char addr[PK_ADDR_MAX];
        pk_sock_addr_str(s->family, s->local, addr, sizeof addr);
        struct pk_history_listener hl = {
            .proto = s->proto, .family = s->family, .addr = addr, .port = s->local_port, .pid = s->pid,
            .process = s->process, .user = s->user, .service = n.service, .flags = n.flags,
        };
        int rc = pk_history_add_listener(w, &hl, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int pk_history_commit(struct pk_history_run *w, int64_t *id, struct pk_err *err)
{
    char key[96];
    if (w->kind == PK_RUN_SOCKETS) {
        /* Every snapshot of one host's listeners covers the same "hosts". */
        char name[64] = "";
        gethostname(name, sizeof name - 1);
        snprintf(key, sizeof key, "ls:%s", name);
    } else {
        snprintf(key, sizeof key, "%016llx%016llx:%llu", (unsigned long long)w->key_xor,
                 (unsigned long long)w->key_sum, (unsigned long long)w->hosts);
    }
    /* Counted by the database itself: a port or host given twice (nmap XML
     * may) is one row, and the counts must match the rows. */
    sqlite3_stmt *st;
    int rc = hs_prepare(w->h,
                        w->kind == PK_RUN_SOCKETS
                            ? "UPDATE runs SET hosts=0, hosts_up=0, target_key=?2, "
                              "open=(SELECT count(*) FROM listeners WHERE run_id=?1) WHERE id=?1"
                            : "UPDATE runs SET hosts=(SELECT count(*) FROM hosts WHERE run_id=?1), "
                              "hosts_up=(SELECT count(*) FROM hosts WHERE run_id=?1 AND up), "
                              "open=(SELECT count(*) FROM hosts h JOIN ports p ON p.host_id=h.id "
                              "WHERE h.run_id=?1 AND p.state='open'), target_key=?2 WHERE id=?1",
                        &st, err);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, w->run_id);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        int s = hs_step(st);
        sqlite3_finalize(st);
        if (s != SQLITE_DONE)
            rc = fail(w, s, err, "saving the run");
    }
    if (rc == 0) {
        int s = sqlite3_exec(w->h->db, "COMMIT", NULL, NULL, NULL);
        for (int i = 0; s == SQLITE_BUSY && i < 20; i++) {
            usleep(50000);
            s = sqlite3_exec(w->h->db, "COMMIT", NULL, NULL, NULL);
        }
        if (s != SQLITE_OK)
            rc = fail(w, s, err, "saving the run (nothing of it was stored)");
    }
    if (rc < 0) {
        pk_history_abort(w);
        return rc;
    }
    if (id)
        *id = w->run_id;
    writer_free(w);
    return 0;
}
