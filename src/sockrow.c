/* Socket rows as text and JSON, shared by ls and who. */
#include "sockrow.h"

#include <net/if.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "portkit/registry.h"

void sockrow_init(struct sockrow_ctx *c, FILE *stream, const struct pk_registry *reg)
{
    memset(c, 0, sizeof *c);
    c->stream = stream;
    c->reg = reg;
    c->color = cli_use_color(stream);
    c->tty = isatty(fileno(stream));
    c->header = true;
    pk_hostinfo_read(&c->host, NULL);
}

const char *sockrow_ifname(struct sockrow_ctx *c, const struct pk_sock *s)
{
    if (!s->ifindex)
        return NULL;
    if (c->cached_ifindex != s->ifindex) {
        char name[IF_NAMESIZE];
        if (if_indextoname(s->ifindex, name))
            snprintf(c->cached_ifname, sizeof c->cached_ifname, "%s", name);
        else
            snprintf(c->cached_ifname, sizeof c->cached_ifname, "if%u", s->ifindex);
        c->cached_ifindex = s->ifindex;
    }
    return c->cached_ifname;
}

void sockrow_local(struct sockrow_ctx *c, const struct pk_sock *s, char *buf, size_t size)
{
    pk_sock_endpoint_str(s->family, s->local, s->local_port, sockrow_ifname(c, s), buf, size);
}

void sockrow_remote(const struct pk_sock *s, char *buf, size_t size)
{
    if (!pk_sock_is_connected(s))
        snprintf(buf, size, "-");
    else
        pk_sock_endpoint_str(s->family, s->remote, s->remote_port, NULL, buf, size);
}

void sockrow_annotate(struct sockrow_ctx *c, const struct pk_sock *s, struct pk_sock_notes *n)
{
    pk_sock_annotate(c->reg, &c->host, s, n);
    if (c->exposed && c->exposed_base && pk_sock_is_listening(s)) {
        n->flags &= ~(unsigned)PK_SF_EXPOSED;
        if (c->exposed[s - c->exposed_base])
            n->flags |= PK_SF_EXPOSED;
    }
}

static const char *const flag_colors[PK_SF_COUNT] = {CLI_YELLOW, CLI_BOLD ";" CLI_RED, CLI_CYAN,
                                                     CLI_DIM};

void sockrow_flags(struct sockrow_ctx *c, unsigned flags, struct pk_buf *out)
{
    if (!flags) {
        pk_buf_putc(out, '-');
        return;
    }
    bool first = true;
    for (unsigned i = 0; i < PK_SF_COUNT; i++) {
        if (!(flags & (1u << i)))
            continue;
        if (!first)
            pk_buf_putc(out, ',');
        first = false;
        if (c->color)
            pk_buf_printf(out, "\033[%sm%s\033[0m", flag_colors[i], pk_sock_flag_name(1u << i));
        else
            pk_buf_puts(out, pk_sock_flag_name(1u << i));
    }
}

/* A port number, or a service name the registry knows. */
int sockrow_parse_port(const char *verb, const char *arg, unsigned *port)
{
    size_t n = strlen(arg);
    if (n && strspn(arg, "0123456789") == n) {
        if (pk_port_parse(arg, n, port) < 0 || *port == 0)
            return cli_usage_error(verb, "port '%s' is out of range (1-65535)", arg);
        return 0;
    }
    const struct pk_registry *reg = cli_registry(verb);
    if (!reg)
        return CLI_USAGE;
    if (n && pk_registry_resolve(reg, arg, PK_TCP, port) == 0)
        return 0;
    if (n && pk_registry_resolve(reg, arg, PK_UDP, port) == 0)
        return 0;
    return cli_usage_error(verb, "'%s' is neither a port (1-65535) nor a known service name", arg);
}

/* --proc or PORTKIT_SOCKETS=proc|netlink pins the source (tests compare
 * the two); auto or nothing leaves the library's order. */
int sockrow_sources(const char *verb, bool force_proc, struct pk_sock_query *q,
                    const struct pk_sock_source **one)
{
    const char *env = getenv("PORTKIT_SOCKETS");
    *one = NULL;
    if (force_proc || (env && strcmp(env, "proc") == 0))
        *one = &pk_sock_source_proc;
    else if (env && strcmp(env, "netlink") == 0)
        *one = &pk_sock_source_netlink;
    else if (env && *env && strcmp(env, "auto") != 0)
        return cli_usage_error(verb, "PORTKIT_SOCKETS must be proc, netlink or auto, not '%s'", env);
    if (*one) {
        q->sources = one;
        q->nsources = 1;
    }
    return 0;
}

/* ---- table ------------------------------------------------------------------ */

enum col { C_PROTO, C_LOCAL, C_REMOTE, C_STATE, C_PID, C_PROCESS, C_USER, C_SERVICE, C_RANGE, C_FLAGS, NCOL };
static const char *const col_title[NCOL] = {"PROTO", "LOCAL",   "REMOTE",  "STATE", "PID",
                                            "PROCESS", "USER", "SERVICE", "RANGE", "FLAGS"};

struct cell {
    uint32_t off, len; /* bytes in the arena, colour codes included */
    uint32_t width;    /* what the eye sees */
};

struct table {
    struct pk_buf arena;
    struct cell *cells;
    size_t rows;
    size_t width[NCOL];
    bool used[NCOL]; /* some row has more than "-" there */
};

/* Columns separated by blanks must not hold blanks of their own: through a
 * pipe, awk '{print $6}' has to find the process name. */
static void add_cell(struct table *t, size_t row, enum col col, const char *text, size_t len,
                     size_t width, bool pipe_safe)
{
    struct cell *c = &t->cells[row * NCOL + col];
    if (len == 0) {
        text = "-";
        len = width = 1;
    }
    c->off = (uint32_t)t->arena.len;
    pk_buf_append(&t->arena, text, len);
    if (pipe_safe) {
        for (size_t i = c->off; i < t->arena.len; i++)
            if (t->arena.data[i] == ' ' || t->arena.data[i] == '\t')
                t->arena.data[i] = '_';
    }
    c->len = (uint32_t)len;
    c->width = (uint32_t)width;
    if (width > t->width[col])
        t->width[col] = width;
    if (!(len == 1 && text[0] == '-'))
        t->used[col] = true;
}

/* Display width of UTF-8 text without escape sequences: continuation bytes
 * take no column. */
static size_t text_width(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            w++;
    return w;
}

static void add_text(struct table *t, size_t row, enum col col, const char *s, bool pipe_safe)
{
    size_t n = s ? strlen(s) : 0;
    add_cell(t, row, col, s ? s : "", n, text_width(s ? s : "", n), pipe_safe);
}

static void add_colored(struct sockrow_ctx *c, struct table *t, size_t row, enum col col,
                        const char *s, const char *sgr)
{
    if (!c->color || !sgr) {
        add_text(t, row, col, s, false);
        return;
    }
    char buf[96];
    int n = snprintf(buf, sizeof buf, "\033[%sm%s\033[0m", sgr, s);
    add_cell(t, row, col, buf, (size_t)n, strlen(s), false);
}

struct summary {
    size_t by_state[2][PK_SS_COUNT];
    size_t exposed, risky, no_pid;
    unsigned risky_ports[64]; /* distinct ports, to count each once */
    enum pk_proto risky_protos[64];
};

static const char *state_color(const struct pk_sock *s)
{
    if (pk_sock_is_listening(s))
        return CLI_GREEN;
    if (s->state == PK_SS_ESTABLISHED)
        return NULL;
    return CLI_DIM;
}

static void fill_row(struct sockrow_ctx *c, struct table *t, size_t row, const struct pk_sock *s,
                     struct summary *sum, struct pk_buf *scratch)
{
    char buf[PK_ENDPOINT_MAX];
    bool pipe = !c->tty;
    struct pk_sock_notes n;
    sockrow_annotate(c, s, &n);

    add_text(t, row, C_PROTO, pk_proto_name(s->proto), false);
    sockrow_local(c, s, buf, sizeof buf);
    add_text(t, row, C_LOCAL, buf, false);
    sockrow_remote(s, buf, sizeof buf);
    add_text(t, row, C_REMOTE, buf, false);
    add_colored(c, t, row, C_STATE, pk_sock_state_name(s->proto, s->state), state_color(s));
    if (s->pid > 0) {
        snprintf(buf, sizeof buf, "%d%s", s->pid, s->nholders > 1 ? "+" : "");
        add_text(t, row, C_PID, buf, false);
    } else {
        add_text(t, row, C_PID, NULL, false);
    }
    add_text(t, row, C_PROCESS, s->process, pipe);
    add_text(t, row, C_USER, s->user, pipe);
    add_text(t, row, C_SERVICE, n.service, pipe);
    add_text(t, row, C_RANGE, pk_range_name(n.range), false);
    pk_buf_reset(scratch);
    sockrow_flags(c, n.flags, scratch);
    size_t vis = 0;
    for (size_t i = 0; i < scratch->len; i++) {
        if (scratch->data[i] == '\033') {
            while (i < scratch->len && scratch->data[i] != 'm')
                i++;
            continue;
        }
        vis++;
    }
    add_cell(t, row, C_FLAGS, scratch->data, scratch->len, vis, false);

    sum->by_state[s->proto == PK_UDP][s->state]++;
    if (n.flags & PK_SF_EXPOSED)
        sum->exposed++;
    if (n.flags & PK_SF_RISK) {
        /* the footer names each port once, however many sockets share it */
        unsigned port = pk_sock_service_port(s, &c->host);
        bool seen = false;
        for (size_t i = 0; i < sum->risky && i < 64; i++)
            seen |= sum->risky_ports[i] == port && sum->risky_protos[i] == s->proto;
        if (!seen) {
            if (sum->risky < 64) {
                sum->risky_ports[sum->risky] = port;
                sum->risky_protos[sum->risky] = s->proto;
            }
            sum->risky++;
        }
    }
    if (s->inode && s->pid <= 0)
        sum->no_pid++;
}

static void print_summary(struct sockrow_ctx *c, const struct pk_socklist *l,
                          const struct summary *sum, size_t total, struct pk_buf *o)
{
    const char *bold = cli_sgr(c->stream, CLI_BOLD), *reset = cli_sgr(c->stream, CLI_RESET);
    pk_buf_printf(o, "\n%s%zu socket%s%s", bold, total, total == 1 ? "" : "s", reset);
    const char *sep = ": ";
    /* listeners first, as in the table */
    static const enum pk_sock_state order[] = {
        PK_SS_LISTEN, PK_SS_CLOSE, PK_SS_ESTABLISHED, PK_SS_SYN_SENT, PK_SS_SYN_RECV,
        PK_SS_FIN_WAIT1, PK_SS_FIN_WAIT2, PK_SS_CLOSE_WAIT, PK_SS_CLOSING,
        PK_SS_LAST_ACK, PK_SS_TIME_WAIT, PK_SS_BOUND, PK_SS_UNKNOWN};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
        enum pk_sock_state st = order[i];
        size_t tcp = sum->by_state[0][st], udp = sum->by_state[1][st];
        if (st == PK_SS_SYN_RECV) /* the kernel's two kinds read the same */
            tcp += sum->by_state[0][PK_SS_NEW_SYN_RECV];
        /* TCP's CLOSE and UDP's UNCONN differ; connected UDP counts as ESTABLISHED */
        size_t counts[2] = {st == PK_SS_CLOSE ? tcp : tcp + udp, st == PK_SS_CLOSE ? udp : 0};
        for (int u = 0; u < 2; u++) {
            if (!counts[u])
                continue;
            pk_buf_printf(o, "%s%zu %s", sep, counts[u], pk_sock_state_name(u ? PK_UDP : PK_TCP, st));
            sep = ", ";
        }
    }
    pk_buf_printf(o, " · %s%zu exposed listener%s%s", sum->exposed ? cli_sgr(c->stream, CLI_YELLOW) : "",
                  sum->exposed, sum->exposed == 1 ? "" : "s", sum->exposed ? reset : "");
    if (sum->risky) {
        pk_buf_printf(o, " · %s%zu risky port%s%s (", cli_sgr(c->stream, CLI_RED), sum->risky,
                      sum->risky == 1 ? "" : "s", reset);
        for (size_t i = 0; i < sum->risky && i < 5; i++)
            pk_buf_printf(o, "%s%u/%s", i ? ", " : "", sum->risky_ports[i],
                          pk_proto_name(sum->risky_protos[i]));
        pk_buf_printf(o, "%s; see portkit info PORT)", sum->risky > 5 ? ", ..." : "");
    }
    pk_buf_putc(o, '\n');
    if (c->fw_note)
        pk_buf_printf(o, "EXPOSED from bind addresses only: %s\n", c->fw_note);
    if (sum->no_pid && pk_socklist_partial(l))
        pk_buf_printf(o, "%zu socket%s of other users' processes without a pid: run as root to see them\n",
                      sum->no_pid, sum->no_pid == 1 ? "" : "s");
}

static void flush_buf(struct sockrow_ctx *c, struct pk_buf *o, bool force)
{
    if (o->len && (force || o->len >= 1 << 16)) {
        cli_write(c->stream, o->data, o->len);
        pk_buf_reset(o);
    }
}

/* The terminal's width, or 0 when unknown or not a terminal: a pipe gets
 * every column whatever COLUMNS says, so scripts see one layout. */
static size_t terminal_width(const struct sockrow_ctx *c)
{
    if (!c->tty)
        return 0;
    struct winsize ws;
    if (ioctl(fileno(c->stream), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *env = getenv("COLUMNS");
    long v = env ? strtol(env, NULL, 10) : 0;
    return v > 0 && v < 10000 ? (size_t)v : 0;
}

/* On a narrow terminal, drops the columns a person misses least (in this
 * order) until the table fits, then shortens PROCESS; returns the widest
 * PROCESS cell to print whole. The same columns as a pipe when it fits. */
static size_t fit_width(const struct sockrow_ctx *c, struct table *t, bool *show)
{
    size_t cols = terminal_width(c);
    if (!cols)
        return SIZE_MAX;
    static const enum col drop_order[] = {C_RANGE, C_USER, C_REMOTE, C_PID, C_SERVICE};
    size_t total = 0;
    for (int k = 0; k < NCOL; k++)
        total += show[k] ? t->width[k] + 1 : 0;
    for (size_t i = 0; i < sizeof drop_order / sizeof *drop_order && total > cols; i++) {
        enum col k = drop_order[i];
        if (!show[k] || (k == C_REMOTE && t->used[C_REMOTE]))
            continue;
        show[k] = false;
        total -= t->width[k] + 1;
    }
    if (total <= cols || !show[C_PROCESS])
        return SIZE_MAX;
    size_t over = total - cols, w = t->width[C_PROCESS];
    size_t cap = w > over + 8 ? w - over : 8;
    t->width[C_PROCESS] = cap > w ? w : cap;
    return t->width[C_PROCESS];
}

int sockrow_table(struct sockrow_ctx *c, const struct pk_socklist *l)
{
    size_t n = pk_socklist_count(l);
    struct table t = {.arena = PK_BUF_INIT};
    t.cells = calloc(n ? n : 1, NCOL * sizeof *t.cells);
    if (!t.cells)
        return CLI_FAIL;
    struct summary sum;
    memset(&sum, 0, sizeof sum);
    struct pk_buf scratch = PK_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        fill_row(c, &t, i, pk_socklist_get(l, i), &sum, &scratch);
    pk_buf_free(&scratch);

    bool show[NCOL];
    for (int k = 0; k < NCOL; k++)
        show[k] = true;
    if (c->numeric)
        show[C_SERVICE] = false;
    for (int k = 0; k < NCOL; k++) {
        size_t w = strlen(col_title[k]);
        if (w > t.width[k])
            t.width[k] = w;
    }
    size_t process_cap = fit_width(c, &t, show);
    int last = NCOL - 1;
    while (last > 0 && !show[last])
        last--;

    struct pk_buf o = PK_BUF_INIT;
    if (c->header) {
        const char *dim = cli_sgr(c->stream, CLI_BOLD), *reset = cli_sgr(c->stream, CLI_RESET);
        pk_buf_puts(&o, dim);
        for (int k = 0; k < NCOL; k++) {
            if (!show[k])
                continue;
            if (k == last)
                pk_buf_puts(&o, col_title[k]);
            else
                pk_buf_printf(&o, "%-*s ", (int)t.width[k], col_title[k]);
        }
        pk_buf_printf(&o, "%s\n", reset);
    }
    static const char spaces[] = "                                                                ";
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < NCOL; k++) {
            if (!show[k])
                continue;
            const struct cell *ce = &t.cells[i * NCOL + k];
            size_t cw = ce->width;
            if (k == C_PROCESS && cw > process_cap) {
                /* shortened on a narrow terminal; '~' marks the cut */
                size_t cut = process_cap - 1;
                while (cut && ((unsigned char)t.arena.data[ce->off + cut] & 0xC0) == 0x80)
                    cut--;
                pk_buf_append(&o, t.arena.data + ce->off, cut);
                pk_buf_putc(&o, '~');
                cw = cut + 1;
            } else {
                pk_buf_append(&o, t.arena.data + ce->off, ce->len);
            }
            if (k == last)
                break;
            size_t pad = t.width[k] - cw + 1;
            while (pad) {
                size_t chunk = pad < sizeof spaces - 1 ? pad : sizeof spaces - 1;
                pk_buf_append(&o, spaces, chunk);
                pad -= chunk;
            }
        }
        pk_buf_putc(&o, '\n');
        flush_buf(c, &o, false);
    }
    if (c->tty)
        print_summary(c, l, &sum, n, &o);
    flush_buf(c, &o, true);
    pk_buf_free(&o);
    pk_buf_free(&t.arena);
    free(t.cells);
    return CLI_OK;
}

/* ---- JSON ------------------------------------------------------------------- */

void sockrow_json_one(struct sockrow_ctx *c, const struct pk_socklist *l, const struct pk_sock *s,
                      struct pk_buf *out)
{
    struct pk_sock_notes n;
    sockrow_annotate(c, s, &n);
    if (c->numeric)
        n.service = NULL;
    int pids[64];
    size_t np = pk_socklist_holders(l, s, pids, 64);
    if (np > 64)
        np = 64;
    pk_sock_json(s, &n, pids, np, sockrow_ifname(c, s), out);
}

int sockrow_json(struct sockrow_ctx *c, const struct pk_socklist *l)
{
    struct pk_buf o = PK_BUF_INIT;
    size_t n = pk_socklist_count(l);
    for (size_t i = 0; i < n; i++) {
        sockrow_json_one(c, l, pk_socklist_get(l, i), &o);
        pk_buf_putc(&o, '\n');
        flush_buf(c, &o, false);
    }
    flush_buf(c, &o, true);
    pk_buf_free(&o);
    return CLI_OK;
}
