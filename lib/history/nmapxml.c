/* Imports nmap's XML (-oX, nmap.dtd; portkit writes the same) as a run,
 * so archives of nmap scans become history. expat reads the file as a
 * stream; only what a run stores is kept (hosts, addresses, names, status,
 * RTT, ports with state, reason and service), everything else (scripts,
 * OS guesses, traces) is skipped whatever it contains.
 *
 * The input is hostile until proven otherwise: entity declarations are
 * refused (no entity expansion at all), text is cut at HX_MAX_TEXT bytes,
 * the file at max_bytes, and a host's buffered ports at 2 x 65536. */
#include <errno.h>
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "history/history_impl.h"

#define HX_MAX_TEXT 1024
#define HX_MAX_BYTES (1ull << 30)
#define HX_MAX_PORTS (2 * 65536)

struct hx_port {
    enum pk_proto proto;
    uint16_t port;
    enum pk_port_state state;
    enum pk_reason reason;
    bool probed;
    char *service, *product, *version, *extra;
};

struct hx {
    XML_Parser p;
    struct pk_history *h;
    struct pk_history_run *w;
    struct pk_err *err;
    int rc;
    const char *name;
    const char *label;
    bool seen_root;
    struct pk_run run;
    struct pk_buf command, ports_spec, targets, last_target;
    size_t ntargets;
    /* the host being read */
    bool in_host, in_port, in_extraports;
    struct pk_buf addr, hostname;
    bool addr_is_ip, up;
    uint32_t rtt_us;
    /* <extraports> counts whose ports are not listed one by one */
    uint64_t unlisted[2][PK_STATE_COUNT];
    enum pk_port_state extra_state;
    uint64_t extra_count;
    bool extra_has_reasons;
    struct hx_port *ports;
    size_t nports, cap;
    bool tcp, udp;
};

static void stop(struct hx *x, int rc)
{
    if (!x->rc)
        x->rc = rc;
    XML_StopParser(x->p, XML_FALSE);
}

static int fail(struct hx *x, const char *fmt, const char *what)
{
    char msg[PK_ERR_MSG_MAX];
    snprintf(msg, sizeof msg, fmt, what);
    int rc = pk_err_set(x->err, PK_EINVAL, "%s: line %lu: %s", x->name,
                        (unsigned long)XML_GetCurrentLineNumber(x->p), msg);
    stop(x, rc);
    return rc;
}

static const char *attr(const char **atts, const char *name)
{
    for (int i = 0; atts[i]; i += 2)
        if (strcmp(atts[i], name) == 0)
            return atts[i + 1];
    return NULL;
}

static char *dup_text(const char *s)
{
    if (!s || !*s)
        return NULL;
    size_t n = strnlen(s, HX_MAX_TEXT);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static void set_text(struct pk_buf *b, const char *s)
{
    pk_buf_reset(b);
    if (s)
        pk_buf_append(b, s, strnlen(s, HX_MAX_TEXT));
}

static uint64_t number(const char *s)
{
    if (!s)
        return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    return errno || end == s ? 0 : v;
}

static void free_ports(struct hx *x)
{
    for (size_t i = 0; i < x->nports; i++) {
        free(x->ports[i].service);
        free(x->ports[i].product);
        free(x->ports[i].version);
        free(x->ports[i].extra);
    }
    x->nports = 0;
}

static struct hx_port *new_port(struct hx *x)
{
    if (x->nports == HX_MAX_PORTS) {
        fail(x, "%s", "more ports for one host than two transports hold");
        return NULL;
    }
    if (x->nports == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 64;
        struct hx_port *p = realloc(x->ports, cap * sizeof *p);
        if (!p) {
            stop(x, pk_err_set(x->err, PK_ENOMEM, "out of memory"));
            return NULL;
        }
        x->ports = p;
        x->cap = cap;
    }
    struct hx_port *p = &x->ports[x->nports++];
    memset(p, 0, sizeof *p);
    return p;
}

static bool parse_proto(const char *s, enum pk_proto *out)
{
    return s && pk_proto_parse(s, strlen(s), out) == 0 && (*out == PK_TCP || *out == PK_UDP);
}

static void begin_run(struct hx *x, const char **atts)
{
    const char *version = attr(atts, "version");
    x->run.kind = PK_RUN_SCAN;
    x->run.label = x->label;
    x->run.source = version && strncmp(version, "portkit", 7) == 0 ? "portkit" : "nmap";
    set_text(&x->command, attr(atts, "args"));
    x->run.command = x->command.data ? x->command.data : "";
    x->run.start_us = number(attr(atts, "start")) * 1000000u;
    int rc = pk_history_begin(x->h, &x->run, &x->w, x->err);
    if (rc < 0)
        stop(x, rc);
}

/* <extrareasons ports="1-21,23"> (nmap >= 7.93 and portkit): the summed-up
 * ports one by one, so an import stores what a scan of its own would. */
static void extra_ports(struct hx *x, const char **atts)
{
    const char *ports = attr(atts, "ports");
    enum pk_proto proto = x->udp && !x->tcp ? PK_UDP : PK_TCP;
    parse_proto(attr(atts, "proto"), &proto);
    const char *why = attr(atts, "reason");
    enum pk_reason reason = hs_reason_parse(why ? why : "");
    /* Closed ports are only ever counted; so are ports nmap did not list. */
    if (x->extra_state == PK_STATE_CLOSED || !ports) {
        x->unlisted[proto == PK_UDP][x->extra_state] += number(attr(atts, "count"));
        x->extra_has_reasons = true;
        return;
    }
    x->extra_has_reasons = true;
    for (const char *s = ports; *s && !x->rc;) {
        char *end;
        unsigned long lo = strtoul(s, &end, 10), hi = lo;
        if (end == s)
            break;
        if (*end == '-') {
            s = end + 1;
            hi = strtoul(s, &end, 10);
            if (end == s)
                break;
        }
        if (lo == 0 || hi > 65535 || lo > hi) {
            fail(x, "extrareasons: bad port range in '%.60s'", ports);
            return;
        }
        for (unsigned long p = lo; p <= hi && !x->rc; p++) {
            struct hx_port *hp = new_port(x);
            if (hp)
                *hp = (struct hx_port){.proto = proto, .port = (uint16_t)p, .state = x->extra_state, .reason = reason};
        }
        s = *end == ',' ? end + 1 : end;
        if (*end != ',')
            break;
    }
}

static void on_start(void *ud, const char *el, const char **atts)
{
    struct hx *x = ud;
    if (x->rc)
        return;
    if (!x->seen_root) {
        x->seen_root = true;
        if (strcmp(el, "nmaprun") != 0) {
            fail(x, "not nmap XML: the document is <%.40s>, not <nmaprun>", el);
            return;
        }
        begin_run(x, atts);
        return;
    }
    if (strcmp(el, "scaninfo") == 0) {
        enum pk_proto proto;
        const char *services = attr(atts, "services");
        if (parse_proto(attr(atts, "protocol"), &proto) && services) {
            if (proto == PK_TCP)
                x->tcp = true;
            else
                x->udp = true;
            pk_buf_printf(&x->ports_spec, "%s%s:", x->ports_spec.len ? "," : "", proto == PK_UDP ? "U" : "T");
            pk_buf_append(&x->ports_spec, services, strnlen(services, 1u << 20));
        }
    } else if (strcmp(el, "host") == 0) {
        x->in_host = true;
        pk_buf_reset(&x->addr);
        pk_buf_reset(&x->hostname);
        x->addr_is_ip = false;
        x->up = false;
        x->rtt_us = 0;
        memset(x->unlisted, 0, sizeof x->unlisted);
        free_ports(x);
    } else if (!x->in_host) {
        if (strcmp(el, "finished") == 0)
            x->run.end_us = number(attr(atts, "time")) * 1000000u;
    } else if (strcmp(el, "status") == 0) {
        const char *st = attr(atts, "state");
        x->up = st && strcmp(st, "up") == 0;
    } else if (strcmp(el, "address") == 0) {
        const char *type = attr(atts, "addrtype");
        bool ip = type && (strcmp(type, "ipv4") == 0 || strcmp(type, "ipv6") == 0);
        if (ip && !x->addr_is_ip) {
            set_text(&x->addr, attr(atts, "addr"));
            x->addr_is_ip = true;
        }
    } else if (strcmp(el, "hostname") == 0) {
        if (!x->hostname.len)
            set_text(&x->hostname, attr(atts, "name"));
    } else if (strcmp(el, "times") == 0) {
        x->rtt_us = (uint32_t)number(attr(atts, "srtt"));
    } else if (strcmp(el, "extraports") == 0) {
        const char *st = attr(atts, "state");
        x->in_extraports = true;
        x->extra_state = hs_state_parse(st ? st : "");
        x->extra_count = number(attr(atts, "count"));
        x->extra_has_reasons = false;
    } else if (strcmp(el, "extrareasons") == 0 && x->in_extraports) {
        extra_ports(x, atts);
    } else if (strcmp(el, "port") == 0) {
        enum pk_proto proto;
        uint64_t port = number(attr(atts, "portid"));
        if (!parse_proto(attr(atts, "protocol"), &proto) || port == 0 || port > 65535) {
            x->in_port = false; /* sctp, ip protocols: not stored */
            return;
        }
        struct hx_port *p = new_port(x);
        if (!p)
            return;
        p->proto = proto;
        p->port = (uint16_t)port;
        x->in_port = true;
    } else if (x->in_port && x->nports && strcmp(el, "state") == 0) {
        struct hx_port *p = &x->ports[x->nports - 1];
        const char *st = attr(atts, "state"), *why = attr(atts, "reason");
        p->state = hs_state_parse(st ? st : "");
        p->reason = hs_reason_parse(why ? why : "");
    } else if (x->in_port && x->nports && strcmp(el, "service") == 0) {
        struct hx_port *p = &x->ports[x->nports - 1];
        const char *method = attr(atts, "method");
        /* a second <service> replaces the first */
        free(p->service);
        free(p->product);
        free(p->version);
        free(p->extra);
        p->service = dup_text(attr(atts, "name"));
        p->probed = method && strcmp(method, "probed") == 0;
        p->product = dup_text(attr(atts, "product"));
        p->version = dup_text(attr(atts, "version"));
        p->extra = dup_text(attr(atts, "extrainfo"));
    }
}

static void end_host(struct hx *x)
{
    x->in_host = false;
    if (!x->w || !x->addr.len)
        return;
    /* The rest state per transport is the most common one that is not open,
     * listed or not: what portkit's own scan would have chosen. */
    uint64_t count[2][PK_STATE_COUNT];
    memcpy(count, x->unlisted, sizeof count);
    for (size_t i = 0; i < x->nports; i++)
        count[x->ports[i].proto == PK_UDP][x->ports[i].state]++;
    struct pk_history_host host = {
        .addr = x->addr.data, .hostname = x->hostname.data, .up = x->up, .rtt_us = x->rtt_us,
        .closed = {count[0][PK_STATE_CLOSED], count[1][PK_STATE_CLOSED]},
    };
    static const enum pk_port_state candidates[] = {PK_STATE_CLOSED, PK_STATE_FILTERED, PK_STATE_OPEN_FILTERED};
    for (int p = 0; p < 2; p++) {
        host.rest[p] = PK_STATE_CLOSED;
        for (size_t k = 1; k < sizeof candidates / sizeof candidates[0]; k++)
            if (count[p][candidates[k]] > count[p][host.rest[p]])
                host.rest[p] = candidates[k];
    }
    int rc = pk_history_add_host(x->w, &host, x->err);
    for (size_t i = 0; rc == 0 && i < x->nports; i++) {
        struct hx_port *hp = &x->ports[i];
        struct pk_history_port p = {
            .proto = hp->proto, .port = hp->port, .state = hp->state, .reason = hp->reason,
            .service = hp->service, .service_probed = hp->probed, .product = hp->product,
            .version = hp->version, .extra = hp->extra,
        };
        rc = pk_history_add_port(x->w, &p, x->err);
    }
    free_ports(x);
    if (rc < 0)
        stop(x, rc);
    /* the targets line names each address once (nmap may repeat a host) */
    if (x->last_target.len == x->addr.len && memcmp(x->last_target.data, x->addr.data, x->addr.len) == 0)
        return;
    if (x->ntargets < 8)
        pk_buf_printf(&x->targets, "%s%s", x->ntargets ? " " : "", x->addr.data);
    x->ntargets++;
    pk_buf_reset(&x->last_target);
    pk_buf_append(&x->last_target, x->addr.data, x->addr.len);
}

static void on_end(void *ud, const char *el)
{
    struct hx *x = ud;
    if (x->rc)
        return;
    if (strcmp(el, "host") == 0 && x->in_host) {
        end_host(x);
    } else if (strcmp(el, "port") == 0) {
        x->in_port = false;
    } else if (strcmp(el, "extraports") == 0 && x->in_extraports) {
        x->in_extraports = false;
        /* Old nmap gives only the count: all one transport's then. */
        if (!x->extra_has_reasons)
            x->unlisted[x->udp && !x->tcp][x->extra_state] += x->extra_count;
    }
}

static void on_entity_decl(void *ud, const XML_Char *name, int pe, const XML_Char *v, int vlen,
                           const XML_Char *base, const XML_Char *sys, const XML_Char *pub,
                           const XML_Char *notation)
{
    fail(ud, "entity declaration '%.40s' refused (nmap XML has none)", name);
}

static int finish(struct hx *x, int64_t *id)
{
    if (!x->rc && !x->seen_root)
        pk_err_set(x->err, x->rc = PK_EINVAL, "%s: empty: not nmap XML", x->name);
    if (!x->rc && x->w) {
        if (x->ntargets > 8)
            pk_buf_printf(&x->targets, " (+%zu more)", x->ntargets - 8);
        x->run.targets = x->targets.data ? x->targets.data : "";
        x->run.ports = x->ports_spec.data ? x->ports_spec.data : "";
        x->run.command = x->command.data ? x->command.data : "";
        if (!x->run.end_us)
            x->run.end_us = x->run.start_us;
        int rc = hs_run_set_meta(x->w, &x->run, x->err);
        if (rc == 0) {
            rc = pk_history_commit(x->w, id, x->err);
            x->w = NULL;
        }
        x->rc = rc;
    }
    if (x->w)
        pk_history_abort(x->w);
    free_ports(x);
    free(x->ports);
    pk_buf_free(&x->command);
    pk_buf_free(&x->ports_spec);
    pk_buf_free(&x->targets);
    pk_buf_free(&x->last_target);
    pk_buf_free(&x->addr);
    pk_buf_free(&x->hostname);
    if (x->p)
        XML_ParserFree(x->p);
    return x->rc;
}

static int setup(struct hx *x, struct pk_history *h, const char *name, const char *label, struct pk_err *err)
{
    memset(x, 0, sizeof *x);
    x->h = h;
    x->err = err;
    x->name = name;
    x->label = label;
    x->p = XML_ParserCreate(NULL);
    if (!x->p)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    XML_SetUserData(x->p, x);
    XML_SetElementHandler(x->p, on_start, on_end);
    XML_SetEntityDeclHandler(x->p, on_entity_decl);
    /* No external DTD or entity is ever fetched. */
    XML_SetParamEntityParsing(x->p, XML_PARAM_ENTITY_PARSING_NEVER);
    return 0;
}

static int feed(struct hx *x, const char *data, size_t len, bool last)
{
    if (x->rc)
        return x->rc;
    if (XML_Parse(x->p, data, (int)len, last) == XML_STATUS_ERROR && !x->rc)
        x->rc = pk_err_set(x->err, PK_EINVAL, "%s: line %lu: %s", x->name,
                           (unsigned long)XML_GetCurrentLineNumber(x->p), XML_ErrorString(XML_GetErrorCode(x->p)));
    return x->rc;
}

int pk_history_import_xml_mem(struct pk_history *h, const char *data, size_t len, const char *name,
                              const char *label, int64_t *id, struct pk_err *err)
{
    struct hx x;
    int rc = setup(&x, h, name ? name : "XML", label, err);
    if (rc < 0)
        return rc;
    /* XML_Parse takes an int length: feed big buffers in pieces. */
    size_t off = 0;
    do {
        size_t n = len - off > (1u << 24) ? 1u << 24 : len - off;
        feed(&x, data + off, n, off + n == len);
        off += n;
    } while (off < len && !x.rc);
    return finish(&x, id);
}

int pk_history_import_xml(struct pk_history *h, const char *path, const char *label, int64_t *id,
                          struct pk_err *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return pk_err_sys(err, "cannot read %s", path);
    struct hx x;
    int rc = setup(&x, h, strcmp(path, "-") == 0 ? "stdin" : path, label, err);
    if (rc < 0) {
        if (f != stdin)
            fclose(f);
        return rc;
    }
    char chunk[65536];
    uint64_t total = 0;
    size_t n;
    while (!x.rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        total += n;
        if (total > HX_MAX_BYTES) {
            x.rc = pk_err_set(err, PK_EINVAL, "%s: larger than %llu MiB: refused", x.name,
                              (unsigned long long)(HX_MAX_BYTES >> 20));
            break;
        }
        feed(&x, chunk, n, false);
    }
    if (!x.rc && ferror(f))
        x.rc = pk_err_sys(err, "reading %s", x.name);
    if (!x.rc)
        feed(&x, "", 0, true);
    if (f != stdin)
        fclose(f);
    return finish(&x, id);
}
