/* The forward configuration: rules and allow/deny lists, from a rinetd-style
 * file or built one rule at a time by the command line. */
#include "portkit/forward.h"

#include <glob.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "portkit/buf.h"

#define MAX_TOKENS 64
#define MAX_CONFIG_BYTES (16u << 20)

#define MAX_INCLUDE_DEPTH 8
#define PATH_TEXT_MAX 4096

struct pk_fw_config {
    struct pk_fw_rule *rules;
    size_t n, cap;
    struct pk_acl *acl;
    char *logfile, *pidfile;
    bool logcommon;
    size_t bytes_read; /* by include lines, against MAX_CONFIG_BYTES */
};

static const char *const copy_names[PK_FW_COPY_COUNT] = {
    [PK_FW_COPY_AUTO] = "auto", [PK_FW_COPY_SPLICE] = "splice", [PK_FW_COPY_READ] = "read",
};

const char *pk_fw_copy_name(enum pk_fw_copy copy)
{
    return (unsigned)copy < PK_FW_COPY_COUNT ? copy_names[copy] : "?";
}

int pk_fw_copy_parse(const char *s, size_t len, enum pk_fw_copy *out)
{
    for (int i = 0; i < PK_FW_COPY_COUNT; i++) {
        if (strlen(copy_names[i]) == len && strncasecmp(s, copy_names[i], len) == 0) {
            *out = (enum pk_fw_copy)i;
            return 0;
        }
    }
    return PK_EINVAL;
}

void pk_fw_defaults_init(struct pk_fw_defaults *d)
{
    d->connect_timeout_ms = 10000;
    /* A client that says nothing for ten minutes gives its descriptors
     * back (nginx's stream proxy_timeout default); 0 would let idle
     * clients hold the forwarder's whole descriptor budget. */
    d->tcp_idle_ms = 600000;
    d->udp_idle_ms = 60000;
    d->max_conns = 0;
    d->copy = PK_FW_COPY_AUTO;
    d->kernel = false;
}

struct pk_fw_config *pk_fw_config_new(void)
{
    struct pk_fw_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return NULL;
    cfg->acl = pk_acl_new();
    if (!cfg->acl) {
        free(cfg);
        return NULL;
    }
    return cfg;
}

void pk_fw_config_free(struct pk_fw_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n; i++)
        pk_acl_free(cfg->rules[i].acl);
    free(cfg->rules);
    pk_acl_free(cfg->acl);
    free(cfg->logfile);
    free(cfg->pidfile);
    free(cfg);
}

const char *pk_fw_config_logfile(const struct pk_fw_config *cfg) { return cfg->logfile; }
bool pk_fw_config_logcommon(const struct pk_fw_config *cfg) { return cfg->logcommon; }
const char *pk_fw_config_pidfile(const struct pk_fw_config *cfg) { return cfg->pidfile; }

static int copy_str(char **dst, const char *src)
{
    char *s = src ? strdup(src) : NULL;
    if (src && !s)
        return PK_ENOMEM;
    free(*dst);
    *dst = s;
    return 0;
}

int pk_fw_config_copy_settings(struct pk_fw_config *dst, const struct pk_fw_config *src)
{
    if (copy_str(&dst->logfile, src->logfile) < 0 || copy_str(&dst->pidfile, src->pidfile) < 0)
        return PK_ENOMEM;
    dst->logcommon = src->logcommon;
    return 0;
}

struct pk_acl *pk_fw_config_acl(struct pk_fw_config *cfg) { return cfg->acl; }
const struct pk_acl *pk_fw_config_acl_const(const struct pk_fw_config *cfg) { return cfg->acl; }
size_t pk_fw_config_count(const struct pk_fw_config *cfg) { return cfg->n; }

const struct pk_fw_rule *pk_fw_config_rule(const struct pk_fw_config *cfg, size_t index)
{
    return index < cfg->n ? &cfg->rules[index] : NULL;
}

static const struct pk_fw_rule *find_listener(const struct pk_fw_config *cfg,
                                              const struct pk_fw_rule *rule)
{
    for (size_t i = 0; i < cfg->n; i++)
        if (cfg->rules[i].proto == rule->proto &&
            pk_fw_addr_equal(&cfg->rules[i].listen, &rule->listen))
            return &cfg->rules[i];
    return NULL;
}

/* Takes ownership of rule->acl on success. */
static int push_rule(struct pk_fw_config *cfg, const struct pk_fw_rule *rule, struct pk_err *err)
{
    const struct pk_fw_rule *dup = find_listener(cfg, rule);
    if (dup) {
        char a[PK_FW_ADDRSTRLEN];
        pk_fw_addr_format(&rule->listen, a, sizeof a);
        if (dup->line)
            return pk_err_set(err, PK_EINVAL, "%s %s is already forwarded (line %u)",
                              pk_proto_name(rule->proto), a, dup->line);
        return pk_err_set(err, PK_EINVAL, "%s %s is already forwarded", pk_proto_name(rule->proto),
                          a);
    }
    if (PK_ARRAY_RESERVE(cfg->rules, cfg->cap, cfg->n + 1, 8) < 0)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    cfg->rules[cfg->n++] = *rule;
    return 0;
}

int pk_fw_config_add_rule(struct pk_fw_config *cfg, const struct pk_fw_rule *rule,
                          struct pk_err *err)
{
    struct pk_fw_rule copy = *rule;
    if (rule->acl && !(copy.acl = pk_acl_clone(rule->acl)))
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    int rc = push_rule(cfg, &copy, err);
    if (rc < 0)
        pk_acl_free(copy.acl);
    return rc;
}

/* ---- the file format ---- */

struct tok {
    const char *s;
    size_t len;
};

static bool tok_is(const struct tok *t, const char *word)
{
    size_t n = strlen(word);
    return t->len == n && strncasecmp(t->s, word, n) == 0;
}

/* True for a token carrying its own port: "host:80", ":80", "[::1]:80";
 * a bare IPv6 address ("::1") has more than one colon and no brackets. */
static bool has_port(const struct tok *t)
{
    const char *c = memchr(t->s, ':', t->len);
    if (!c)
        return false;
    if (t->s[0] == '[') {
        for (size_t i = 0; i + 1 < t->len; i++)
            if (t->s[i] == ']' && t->s[i + 1] == ':')
                return true;
        return false;
    }
    return memchr(c + 1, ':', t->len - (size_t)(c + 1 - t->s)) == NULL;
}

struct parse_ctx {
    struct pk_fw_config *cfg;
    const char *name;
    unsigned line;
    const struct pk_registry *reg;
    const struct pk_fw_defaults *defaults;
    unsigned flags;
    ssize_t last_rule; /* index in cfg of the rule allow/deny lines attach to; -1 global */
    struct pk_err *err;
    const char *dir;   /* where relative include paths start */
    unsigned depth;    /* of include nesting */
};

static int path_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int line_error(struct parse_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int line_error(struct parse_ctx *c, const char *fmt, ...)
{
    char msg[PK_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->name)
        return pk_err_set(c->err, PK_EINVAL, "%s:%u: %s", c->name, c->line, msg);
    return pk_err_set(c->err, PK_EINVAL, "line %u: %s", c->line, msg);
}

/* Re-labels an error a helper parser reported with the file and line. */
static int relabel(struct parse_ctx *c, int rc)
{
    char msg[PK_ERR_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", c->err ? c->err->msg : "");
    if (rc == PK_ENOMEM)
        return pk_err_set(c->err, rc, "out of memory");
    return line_error(c, "%s", msg);
}

static int parse_acl_line(struct parse_ctx *c, const struct tok *t, size_t n)
{
    bool allow = tok_is(&t[0], "allow");
    if (n < 2)
        return line_error(c, "%s: expected one or more addresses or CIDRs",
                          allow ? "allow" : "deny");
    struct pk_acl *acl = c->cfg->acl;
    if (c->last_rule >= 0) {
        struct pk_fw_rule *r = &c->cfg->rules[c->last_rule];
        if (!r->acl && !(r->acl = pk_acl_new()))
            return pk_err_set(c->err, PK_ENOMEM, "out of memory");
        acl = r->acl;
    }
    for (size_t i = 1; i < n; i++) {
        int rc = pk_acl_add_list(acl, allow, t[i].s, t[i].len, c->err);
        if (rc < 0)
            return relabel(c, rc);
    }
    return 0;
}

static int parse_uint(const struct tok *v, unsigned max, unsigned *out)
{
    if (v->len == 0 || v->len > 10)
        return -1;
    unsigned long long x = 0;
    for (size_t i = 0; i < v->len; i++) {
        if (v->s[i] < '0' || v->s[i] > '9')
            return -1;
        x = x * 10 + (unsigned)(v->s[i] - '0');
    }
    if (x > max)
        return -1;
    *out = (unsigned)x;
    return 0;
}

static int apply_option(struct parse_ctx *c, struct pk_fw_rule *r, const struct tok *opt)
{
    const char *eq = memchr(opt->s, '=', opt->len);
    if (tok_is(opt, "kernel")) {
        r->kernel = true;
        return 0;
    }
    if (!eq || eq == opt->s)
        return line_error(c, "expected an option KEY=VALUE, got '%.*s'", (int)opt->len, opt->s);
    struct tok key = {opt->s, (size_t)(eq - opt->s)};
    struct tok val = {eq + 1, opt->len - key.len - 1};
    int rc = 0;
    if (tok_is(&key, "connect-timeout")) {
        rc = pk_fw_duration_parse(val.s, val.len, &r->connect_timeout_ms, c->err);
        if (rc == 0 && r->connect_timeout_ms == 0)
            return line_error(c, "connect-timeout must be more than 0");
    } else if (tok_is(&key, "idle-timeout") || tok_is(&key, "timeout")) {
        rc = pk_fw_duration_parse(val.s, val.len, &r->idle_timeout_ms, c->err);
    } else if (tok_is(&key, "max-conns")) {
        if (parse_uint(&val, 1000000000u, &r->max_conns) < 0)
            return line_error(c, "max-conns: expected a number, got '%.*s'", (int)val.len, val.s);
    } else if (tok_is(&key, "copy")) {
        if (pk_fw_copy_parse(val.s, val.len, &r->copy) < 0)
            return line_error(c, "copy: expected auto, splice or read, got '%.*s'", (int)val.len,
                              val.s);
    } else if (tok_is(&key, "kernel")) {
        if (tok_is(&val, "yes") || tok_is(&val, "on") || tok_is(&val, "1"))
            r->kernel = true;
        else if (tok_is(&val, "no") || tok_is(&val, "off") || tok_is(&val, "0"))
            r->kernel = false;
        else
            return line_error(c, "kernel: expected yes or no, got '%.*s'", (int)val.len, val.s);
    } else if (tok_is(&key, "src")) {
        char text[PK_ADDR_STRLEN + 8];
        if (val.len == 0 || val.len >= PK_ADDR_STRLEN)
            return line_error(c, "src: expected an address, got '%.*s'",
                              (int)(val.len > 40 ? 40 : val.len), val.s);
        /* An address of ours to leave from; the kernel picks the port. */
        snprintf(text, sizeof text, memchr(val.s, ':', val.len) ? "[%.*s]:0" : "%.*s:0",
                 (int)val.len, val.s);
        rc = pk_fw_addr_parse(text, strlen(text), r->proto, false, c->reg, c->flags | PK_FW_NUMERIC,
                              &r->source, c->err);
        if (rc == 0 && r->source.any)
            return line_error(c, "src: expected an address, got '%.*s'", (int)val.len, val.s);
        r->has_source = rc == 0;
    } else if (tok_is(&key, "allow") || tok_is(&key, "deny")) {
        if (!r->acl && !(r->acl = pk_acl_new()))
            return pk_err_set(c->err, PK_ENOMEM, "out of memory");
        rc = pk_acl_add_list(r->acl, tok_is(&key, "allow"), val.s, val.len, c->err);
    } else {
        return line_error(c,
                          "unknown option '%.*s' (known: connect-timeout, idle-timeout, "
                          "timeout, max-conns, copy, allow, deny, src, kernel)",
                          (int)key.len, key.s);
    }
    return rc < 0 ? relabel(c, rc) : 0;
}

/* rinetd writes a port as "80" or "80/udp". */
static int split_proto_suffix(struct parse_ctx *c, struct tok *port, int *proto)
{
    const char *slash = memchr(port->s, '/', port->len);
    if (!slash)
        return 0;
    struct tok p = {slash + 1, port->len - (size_t)(slash - port->s) - 1};
    int want = tok_is(&p, "tcp") ? PK_TCP : tok_is(&p, "udp") ? PK_UDP : -1;
    if (want < 0)
        return line_error(c, "'%.*s': expected /tcp or /udp after the port", (int)port->len,
                          port->s);
    if (*proto >= 0 && *proto != want)
        return line_error(c, "the rule says both tcp and udp");
    *proto = want;
    port->len = (size_t)(slash - port->s);
    return 0;
}

/* Joins rinetd's "ADDRESS PORT" into the LISTEN/TARGET form. */
static int join_addr(struct parse_ctx *c, const struct tok *host, const struct tok *port,
                     char *out, size_t size)
{
    bool v6 = memchr(host->s, ':', host->len) != NULL && host->s[0] != '[';
    int n = snprintf(out, size, v6 ? "[%.*s]:%.*s" : "%.*s:%.*s", (int)host->len, host->s,
                     (int)port->len, port->s);
    if (n < 0 || (size_t)n >= size)
        return line_error(c, "address '%.*s' is too long", (int)(host->len > 40 ? 40 : host->len),
                          host->s);
    return 0;
}

static int parse_rule(struct parse_ctx *c, struct tok *t, size_t n)
{
    struct pk_fw_rule r = {0};
    r.connect_timeout_ms = c->defaults->connect_timeout_ms;
    r.max_conns = c->defaults->max_conns;
    r.copy = c->defaults->copy;
    r.kernel = c->defaults->kernel;
    r.line = c->line;

    char listen[300], target[300];
    size_t next;
    int proto = -1;
    if (n >= 2 && has_port(&t[1])) {
        if (t[0].len >= sizeof listen || t[1].len >= sizeof target)
            return line_error(c, "address is too long");
        snprintf(listen, sizeof listen, "%.*s", (int)t[0].len, t[0].s);
        snprintf(target, sizeof target, "%.*s", (int)t[1].len, t[1].s);
        next = 2;
    } else if (n >= 4 && !has_port(&t[0])) {
        int rc;
        if ((rc = split_proto_suffix(c, &t[1], &proto)) < 0 ||
            (rc = split_proto_suffix(c, &t[3], &proto)) < 0 ||
            (rc = join_addr(c, &t[0], &t[1], listen, sizeof listen)) < 0 ||
            (rc = join_addr(c, &t[2], &t[3], target, sizeof target)) < 0)
            return rc;
        next = 4;
    } else {
        return line_error(c, "expected a rule 'LISTEN TARGET [tcp|udp] [OPTIONS]' or "
                             "'ADDRESS PORT ADDRESS PORT', got '%.*s'",
                          (int)(t[0].len > 60 ? 60 : t[0].len), t[0].s);
    }
    if (next < n && (tok_is(&t[next], "tcp") || tok_is(&t[next], "udp"))) {
        int want = tok_is(&t[next], "tcp") ? PK_TCP : PK_UDP;
        if (proto >= 0 && proto != want)
            return line_error(c, "the rule says both tcp and udp");
        proto = want;
        next++;
    }
    r.proto = proto < 0 ? PK_TCP : (enum pk_proto)proto;
    r.idle_timeout_ms = r.proto == PK_UDP ? c->defaults->udp_idle_ms : c->defaults->tcp_idle_ms;

    struct pk_err sub = {0};
    int rc = pk_fw_addr_parse(listen, strlen(listen), r.proto, false, c->reg, c->flags, &r.listen,
                              &sub);
    if (rc == 0)
        rc = pk_fw_addr_parse(target, strlen(target), r.proto, true, c->reg, c->flags, &r.target,
                              &sub);
    if (rc < 0)
        return line_error(c, "%s", sub.msg);

    /* Options, bare (a=b c=d) or in rinetd's brackets ([a=b,c=d]). */
    bool in_bracket = false;
    for (size_t i = next; i < n && rc == 0; i++) {
        struct tok o = t[i];
        if (o.len && o.s[0] == '[') {
            if (in_bracket) {
                rc = line_error(c, "'[' inside '[...]'");
                break;
            }
            in_bracket = true;
            o.s++;
            o.len--;
        }
        bool closes = o.len && o.s[o.len - 1] == ']';
        if (closes) {
            if (!in_bracket) {
                rc = line_error(c, "']' without '['");
                break;
            }
            o.len--;
        }
        if (!in_bracket && !memchr(o.s, '=', o.len) && !tok_is(&o, "kernel")) {
            rc = line_error(c, "unexpected '%.*s' (options look like idle-timeout=30s)",
                            (int)(t[i].len > 60 ? 60 : t[i].len), t[i].s);
            break;
        }
        size_t k = 0;
        while (k < o.len && rc == 0) {
            size_t start = k;
            /* Inside brackets commas split options; outside, a comma is part
             * of a list value (allow=a,b). */
            while (k < o.len && !(in_bracket && o.s[k] == ','))
                k++;
            struct tok one = {o.s + start, k - start};
            if (one.len)
                rc = apply_option(c, &r, &one);
            k++;
        }
        if (closes)
            in_bracket = false;
    }
    if (rc == 0 && in_bracket)
        rc = line_error(c, "missing ']' after the options");
    if (rc == 0) {
        rc = push_rule(c->cfg, &r, c->err);
        if (rc < 0)
            rc = relabel(c, rc);
    }
    if (rc < 0) {
        pk_acl_free(r.acl);
        return rc;
    }
    c->last_rule = (ssize_t)c->cfg->n - 1;
    return 0;
}

static int parse_text(struct parse_ctx *c, const char *text, size_t len);
static int read_file(const char *path, size_t budget, struct pk_buf *text, struct pk_err *err);

/* rinetd's filename: the rest of the line, or "a quoted one" with blanks. */
static int rest_path(struct parse_ctx *c, const char *word, const char *s, size_t len,
                     char **out)
{
    const char *p = s + strlen(word);
    const char *end = s + len;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    if (p < end && *p == '"') {
        const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
        if (!q || q + 1 != end)
            return line_error(c, "%s: a quoted path needs its closing '\"' at the end", word);
        p++;
        end = q;
    } else if (p < end && memchr(p, '#', (size_t)(end - p))) {
        end = memchr(p, '#', (size_t)(end - p));
        while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
            end--;
    }
    if (p == end)
        return line_error(c, "%s: expected a file name", word);
    if ((size_t)(end - p) >= PATH_TEXT_MAX)
        return line_error(c, "%s: file name is too long", word);
    /* A control byte or a quote inside a name is never meant, and `forward
     * -n` could not write such a name back so that it reads the same. */
    for (const char *k = p; k < end; k++)
        if ((unsigned char)*k < 0x20 || *k == 0x7f || *k == '"')
            return line_error(c, "%s: file name holds a control character or a quote", word);
    char *copy = strndup(p, (size_t)(end - p));
    if (!copy)
        return pk_err_set(c->err, PK_ENOMEM, "out of memory");
    free(*out);
    *out = copy;
    return 0;
}

static int include_files(struct parse_ctx *c, const char *s, size_t len)
{
    if (c->flags & PK_FW_NO_INCLUDE)
        return line_error(c, "include: not allowed here");
    if (c->depth >= MAX_INCLUDE_DEPTH)
        return line_error(c, "include: nested more than %d deep (does a file include itself?)",
                          MAX_INCLUDE_DEPTH);
    char *pattern = NULL;
    int rc = rest_path(c, "include", s, len, &pattern);
    if (rc < 0)
        return rc;
    char full[PATH_TEXT_MAX * 2];
    if (pattern[0] != '/' && c->dir && c->dir[0])
        snprintf(full, sizeof full, "%s/%s", c->dir, pattern);
    else
        snprintf(full, sizeof full, "%s", pattern);
    free(pattern);
    glob_t g;
    int grc = glob(full, GLOB_NOSORT | GLOB_NOCHECK, NULL, &g);
    if (grc != 0)
        return line_error(c, "include %s: %s", full,
                          grc == GLOB_NOSPACE ? "out of memory" : "cannot read the directory");
    if (g.gl_pathc > 1)
        qsort(g.gl_pathv, g.gl_pathc, sizeof *g.gl_pathv, path_cmp);
    for (size_t i = 0; i < g.gl_pathc && rc == 0; i++) {
        const char *path = g.gl_pathv[i];
        /* A pattern that matched nothing comes back as itself: a wildcard
         * over an empty directory is no error, a missing literal name is. */
        if (strpbrk(full, "*?[") && strcmp(path, full) == 0)
            break;
        struct pk_buf text = PK_BUF_INIT;
        size_t budget = MAX_CONFIG_BYTES > c->cfg->bytes_read ? MAX_CONFIG_BYTES - c->cfg->bytes_read : 0;
        struct pk_err sub = {0};
        rc = read_file(path, budget, &text, &sub);
        if (rc < 0) {
            rc = line_error(c, "include: %s", sub.msg);
        } else {
            c->cfg->bytes_read += text.len;
            char *dir = strdup(path);
            struct parse_ctx inner = *c;
            inner.name = path;
            inner.line = 0;
            inner.depth = c->depth + 1;
            inner.dir = dir ? dirname(dir) : ".";
            rc = dir ? parse_text(&inner, text.data ? text.data : "", text.len)
                     : pk_err_set(c->err, PK_ENOMEM, "out of memory");
            c->last_rule = inner.last_rule;
            free(dir);
        }
        pk_buf_free(&text);
    }
    globfree(&g);
    return rc;
}

static int parse_line(struct parse_ctx *c, const char *s, size_t len)
{
    struct tok t[MAX_TOKENS];
    size_t n = 0, i = 0;
    while (i < len) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
            i++;
        if (i >= len || s[i] == '#')
            break;
        size_t start = i;
        while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '#')
            i++;
        if (n == MAX_TOKENS)
            return line_error(c, "too many words on one line (at most %d)", MAX_TOKENS);
        t[n].s = s + start;
        t[n].len = i - start;
        n++;
    }
    if (n == 0)
        return 0;
    if (tok_is(&t[0], "allow") || tok_is(&t[0], "deny"))
        return parse_acl_line(c, t, n);
    const char *at = t[0].s;
    size_t rest = len - (size_t)(at - s);
    if (tok_is(&t[0], "logfile"))
        return rest_path(c, "logfile", at, rest, &c->cfg->logfile);
    if (tok_is(&t[0], "pidlogfile") || tok_is(&t[0], "pidfile"))
        return rest_path(c, tok_is(&t[0], "pidfile") ? "pidfile" : "pidlogfile", at, rest,
                         &c->cfg->pidfile);
    if (tok_is(&t[0], "include"))
        return include_files(c, at, rest);
    if (tok_is(&t[0], "logcommon")) {
        if (n > 1)
            return line_error(c, "logcommon takes no value");
        c->cfg->logcommon = true;
        return 0;
    }
    return parse_rule(c, t, n);
}

static int parse_text(struct parse_ctx *c, const char *text, size_t len)
{
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        c->line++;
        if (memchr(text + i, '\0', end - i))
            return line_error(c, "NUL byte in the file (is it text?)");
        int rc = parse_line(c, text + i, end - i);
        if (rc < 0)
            return rc;
        i = end + 1;
    }
    return 0;
}

int pk_fw_config_parse(struct pk_fw_config *cfg, const char *text, size_t len, const char *name,
                       const struct pk_registry *reg, const struct pk_fw_defaults *defaults,
                       unsigned flags, struct pk_err *err)
{
    struct pk_fw_defaults builtin;
    if (!defaults) {
        pk_fw_defaults_init(&builtin);
        defaults = &builtin;
    }
    struct parse_ctx c = {
        .cfg = cfg, .name = name, .reg = reg, .defaults = defaults, .flags = flags,
        .last_rule = -1, .err = err, .dir = ".",
    };
    return parse_text(&c, text, len);
}

static int read_file(const char *path, size_t budget, struct pk_buf *text, struct pk_err *err)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return pk_err_sys(err, "cannot open %s", path);
    int rc = 0;
    for (;;) {
        if (pk_buf_reserve(text, 1 << 16) < 0) {
            rc = pk_err_set(err, PK_ENOMEM, "out of memory");
            break;
        }
        size_t got = fread(text->data + text->len, 1, text->cap - text->len - 1, f);
        text->len += got;
        if (got == 0) {
            if (ferror(f))
                rc = pk_err_sys(err, "cannot read %s", path);
            break;
        }
        if (text->len > budget) {
            rc = pk_err_set(err, PK_EINVAL, "%s: larger than %u MiB with its includes; is it a "
                            "config file?", path, MAX_CONFIG_BYTES >> 20);
            break;
        }
    }
    fclose(f);
    return rc;
}

int pk_fw_config_load(struct pk_fw_config *cfg, const char *path, const struct pk_registry *reg,
                      const struct pk_fw_defaults *defaults, struct pk_err *err)
{
    struct pk_buf text = PK_BUF_INIT;
    int rc = read_file(path, MAX_CONFIG_BYTES, &text, err);
    if (rc == 0) {
        struct pk_fw_defaults builtin;
        if (!defaults) {
            pk_fw_defaults_init(&builtin);
            defaults = &builtin;
        }
        char *dir = strdup(path);
        struct parse_ctx c = {
            .cfg = cfg, .name = path, .reg = reg, .defaults = defaults, .last_rule = -1,
            .err = err, .dir = dir ? dirname(dir) : ".",
        };
        cfg->bytes_read = text.len;
        rc = dir ? parse_text(&c, text.data ? text.data : "", text.len)
                 : pk_err_set(err, PK_ENOMEM, "out of memory");
        free(dir);
    }
    pk_buf_free(&text);
    return rc;
}
