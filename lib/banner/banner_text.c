/* Recognisers for line-based protocols: SSH, HTTP (and RTSP, SIP), the
 * numeric-reply greetings of SMTP and FTP, POP3, IMAP, Redis, memcached,
 * VNC, rsync, IRC, XMPP, MPD. Formats: RFC 4253 4.2 (SSH identification),
 * RFC 9112 (HTTP/1.1), RFC 5321 4.2 (SMTP replies), RFC 959 (FTP), RFC
 * 1939 (POP3), RFC 9051 (IMAP), the RESP and memcached text protocols,
 * RFC 6143 (RFB). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "banner/banner_impl.h"


/* Product keyword followed (after blanks, "version" or "v") by a version. */
static size_t version_after(const uint8_t *p, const uint8_t *end, const uint8_t **vstart)
{
    while (p < end && (*p == ' ' || *p == '/' || *p == '_'))
        p++;
    if (end - p >= 8 && bn_has_prefix(p, (size_t)(end - p), "version "))
        p += 8;
    if (p < end && (*p == 'v' || *p == 'V') && p + 1 < end && isdigit(p[1]))
        p++;
    if (p >= end || !isdigit(*p))
        return 0;
    *vstart = p;
    size_t n = bn_version_len(p, (size_t)(end - p));
    while (n && (p[n - 1] == '.' || p[n - 1] == '-' || p[n - 1] == ':'))
        n--;
    return n;
}

/* Finds keyword in d[0..n) and sets product (and the version after it). */
static bool product_from(const uint8_t *d, size_t n, const char *keyword, const char *product,
                         struct pk_service_id *out)
{
    const uint8_t *k = bn_memcasemem(d, n, keyword);
    if (!k)
        return false;
    BN_SET(out, product, product);
    const uint8_t *v;
    size_t vn = version_after(k + strlen(keyword), d + n, &v);
    if (vn)
        BN_FIELD(out, version, v, vn);
    return true;
}

/* "(Debian)", "(Ubuntu)", "(Debian/GNU)": the distribution a greeting names. */
static void distro_extra(const uint8_t *d, size_t n, struct pk_service_id *out)
{
    static const char *const names[] = {"(Debian", "(Ubuntu", "(Red Hat", "(CentOS", "(FreeBSD",
                                        "(Fedora", "(Alpine"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const uint8_t *p = bn_memcasemem(d, n, names[i]);
        if (!p)
            continue;
        const uint8_t *close = memchr(p, ')', (size_t)(d + n - p));
        if (close && close - p < 40)
            BN_FIELD(out, extra, p + 1, (size_t)(close - p - 1));
        return;
    }
}

/* ---- SSH ------------------------------------------------------------------ */

static enum pk_id_status ident_ssh(const uint8_t *d, size_t n, struct pk_service_id *out)
{
    const uint8_t *s = d;
    if (!bn_has_prefix(d, n, "SSH-")) {
        /* RFC 4253 lets a server send other lines before its identification */
        const uint8_t *p = bn_memcasemem(d, n < 1024 ? n : 1024, "\nSSH-");
        if (!p || !bn_is_text(d, (size_t)(p - d)))
            return PK_ID_NONE;
        s = p + 1;
    }
    size_t rest = n - (size_t)(s - d);
    bool complete;
    size_t line = bn_line_len(s, rest, &complete);
    BN_SET(out, service, "ssh");
    if (!complete && line < 255)
        return PK_ID_MORE;
    /* SSH-protoversion-softwareversion[ SP comments] */
    const uint8_t *proto = s + 4, *end = s + line;
    const uint8_t *dash = memchr(proto, '-', (size_t)(end - proto));
    if (!dash)
        return PK_ID_MATCH;
    const uint8_t *sw = dash + 1;
    const uint8_t *sp = memchr(sw, ' ', (size_t)(end - sw));
    const uint8_t *sw_end = sp ? sp : end;
    const uint8_t *us = memchr(sw, '_', (size_t)(sw_end - sw));
    static const struct {
        const char *raw, *product;
    } names[] = {{"OpenSSH", "OpenSSH"}, {"dropbear", "Dropbear sshd"}, {"libssh", "libssh"},
                 {"Cisco", "Cisco SSH"}, {"RomSShell", "Allegro RomSShell"}};
    size_t plen = us ? (size_t)(us - sw) : (size_t)(sw_end - sw);
    const char *product = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].raw) == plen && memcmp(sw, names[i].raw, plen) == 0)
            product = names[i].product;
    if (product)
        BN_SET(out, product, product);
    else
        BN_FIELD(out, product, sw, plen);
    if (us && us + 1 < sw_end)
        BN_FIELD(out, version, us + 1, (size_t)(sw_end - us - 1));
    char extra[sizeof out->extra] = "";
    if (sp)
        bn_id_field(extra, sizeof extra, sp + 1, (size_t)(end - sp - 1));
    size_t plv = (size_t)(dash - proto);
    if (!(plv == 3 && memcmp(proto, "2.0", 3) == 0)) {
        char pv[16];
        bn_id_field(pv, sizeof pv, proto, plv);
        size_t k = strlen(extra);
        snprintf(extra + k, sizeof extra - k, "%sprotocol %s", k ? ", " : "", pv);
    }
    BN_SET(out, extra, extra);
    BN_FIELD(out, banner, s, line);
    return PK_ID_MATCH;
}

/* ---- HTTP, RTSP, SIP ------------------------------------------------------ */

/* "nginx/1.22.1", "Apache/2.4.57 (Debian)", "Microsoft-IIS/10.0", "Jetty(9.4.z)" */
static void server_header(const uint8_t *v, size_t n, struct pk_service_id *out)
{
    size_t i = 0;
    while (i < n && v[i] != '/' && v[i] != ' ' && v[i] != '(')
        i++;
    static const struct {
        const char *raw, *product;
    } names[] = {{"Apache", "Apache httpd"}, {"Microsoft-IIS", "Microsoft IIS httpd"},
                 {"Microsoft-HTTPAPI", "Microsoft HTTPAPI httpd"}};
    const char *mapped = NULL;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (strlen(names[k].raw) == i && memcmp(v, names[k].raw, i) == 0)
            mapped = names[k].product;
    if (mapped)
        BN_SET(out, product, mapped);
    else
        BN_FIELD(out, product, v, i);
    size_t rest = i;
    if (i < n && (v[i] == '/' || v[i] == '(')) {
        size_t vs = i + 1, ve = vs;
        while (ve < n && v[ve] != ' ' && v[ve] != ')' && v[ve] != '(')
            ve++;
        BN_FIELD(out, version, v + vs, ve - vs);
        rest = ve < n && v[ve] == ')' ? ve + 1 : ve;
    }
    while (rest < n && v[rest] == ' ')
        rest++;
    if (rest < n) {
        const uint8_t *e = v + rest;
        size_t en = n - rest;
        if (en >= 2 && e[0] == '(' && memchr(e, ')', en) == e + en - 1) {
            e++;
            en -= 2;
        }
        BN_FIELD(out, extra, e, en);
    }
}

/* The value of header `name` (with the colon) in the head h[0..n). */
static const uint8_t *header(const uint8_t *h, size_t n, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i + nl < n; i++) {
        if ((i == 0 || h[i - 1] != '\n') || strncasecmp((const char *)h + i, name, nl) != 0)
            continue;
        size_t s = i + nl;
        while (s < n && (h[s] == ' ' || h[s] == '\t'))
            s++;
        size_t e = s;
        while (e < n && h[e] != '\r' && h[e] != '\n')
            e++;
        while (e > s && (h[e - 1] == ' ' || h[e - 1] == '\t'))
            e--;
        *vlen = e - s;
        return h + s;
    }
    return NULL;
}

enum pk_id_status bn_ident_http(const uint8_t *d, size_t n, struct pk_service_id *out)
{
    const char *service;
    const char *agent_header = "Server:";
    if (bn_has_prefix(d, n, "HTTP/1.") || bn_has_prefix(d, n, "HTTP/2 ") ||
        bn_has_prefix(d, n, "HTTP/0.9")) {
        service = "http";
    } else if (bn_has_prefix(d, n, "RTSP/1.")) {
        service = "rtsp";
    } else if (bn_has_prefix(d, n, "SIP/2.0 ")) {
        service = "sip";
        agent_header = "User-Agent:";
    } else {
        return PK_ID_NONE;
    }
    /* "HTTP/1.1 200 OK": a status line needs its code */
    const uint8_t *sp = memchr(d, ' ', n < 16 ? n : 16);
    if (!sp || (size_t)(sp - d) + 4 > n) {
        if (n < 16) {
            BN_SET(out, service, service);
            return PK_ID_MORE;
        }
        return PK_ID_NONE;
    }
    if (!isdigit(sp[1]) || !isdigit(sp[2]) || !isdigit(sp[3]))
        return PK_ID_NONE;
    BN_SET(out, service, service);
    bn_id_banner(out, d, n);
    const uint8_t *end = bn_memcasemem(d, n, "\r\n\r\n");
    if (!end)
        end = bn_memcasemem(d, n, "\n\n");
    size_t head = end ? (size_t)(end - d) + 2 : n;
    size_t vl;
    const uint8_t *v = header(d, head, agent_header, &vl);
    if (!v && strcmp(service, "sip") == 0)
        v = header(d, head, "Server:", &vl);
    if (v && vl)
        server_header(v, vl, out);
    /* A TLS port answering our plain request: the service is HTTPS. */
    if (bn_memcasemem(d, n, "plain HTTP request was sent to HTTPS port") ||
        bn_memcasemem(d, n, "speaking plain HTTP to an SSL-enabled server") ||
        bn_memcasemem(d, n, "Client sent an HTTP request to an HTTPS server"))
        BN_SET(out, service, "https");
    if (!end && n < PK_BANNER_READ_MAX)
        return PK_ID_MORE;
    return PK_ID_MATCH;
}

/* ---- numeric-reply greetings: SMTP and FTP --------------------------------- */

static bool is_ftp_port(unsigned port) { return port == 21 || port == 990 || port == 2121; }
static bool is_smtp_port(unsigned port)
{
    return port == 25 || port == 465 || port == 587 || port == 2525;
}

static enum pk_id_status ident_numeric(unsigned port, const uint8_t *d, size_t n,
                                       struct pk_service_id *out)
{
    if (n < 4 || !isdigit(d[0]) || !isdigit(d[1]) || !isdigit(d[2]) ||
        (d[3] != ' ' && d[3] != '-' && d[3] != '\r' && d[3] != '\n'))
        return PK_ID_NONE;
    if (d[0] != '2' && d[0] != '4' && d[0] != '5')
        return PK_ID_NONE;
    /* Multi-line replies ("220-...") end with the line "220 ...". */
    size_t last = 0, pos = 0;
    bool done = false;
    while (pos < n) {
        bool complete;
        size_t l = bn_line_len(d + pos, n - pos, &complete);
        if (!complete)
            break;
        if (l >= 3 && memcmp(d + pos, d, 3) == 0 && (l == 3 || d[pos + 3] == ' ')) {
            done = true;
            last = pos + l;
            break;
        }
        pos += l;
        while (pos < n && (d[pos] == '\r' || d[pos] == '\n'))
            pos++;
    }
    size_t span = done ? last : n;
    bool ftp_words = bn_memcasemem(d, span, "FTP") != NULL;
    bool smtp_words = bn_memcasemem(d, span, "SMTP") || bn_memcasemem(d, span, "Postfix") ||
                      bn_memcasemem(d, span, "Exim") || bn_memcasemem(d, span, "Sendmail") ||
                      bn_memcasemem(d, span, " mail ") || bn_memcasemem(d, span, "Haraka");
    const char *service;
    if (smtp_words && !(ftp_words && !bn_memcasemem(d, span, "SMTP")))
        service = "smtp";
    else if (ftp_words)
        service = "ftp";
    else if (is_ftp_port(port))
        service = "ftp";
    else if (is_smtp_port(port))
        service = "smtp";
    else
        return PK_ID_NONE;
    BN_SET(out, service, service);
    bn_id_banner(out, d, n);
    if (strcmp(service, "smtp") == 0) {
        if (product_from(d, span, "Postfix", "Postfix", out) ||
            product_from(d, span, "ESMTP Exim", "Exim", out) ||
            product_from(d, span, "Sendmail", "Sendmail", out) ||
            product_from(d, span, "OpenSMTPD", "OpenSMTPD", out) ||
            product_from(d, span, "Microsoft ESMTP MAIL Service", "Microsoft ESMTP", out) ||
            product_from(d, span, "Haraka", "Haraka", out) ||
            product_from(d, span, "qmail", "qmail", out) ||
            product_from(d, span, "Exim", "Exim", out))
            distro_extra(d, span, out);
    } else {
        if (product_from(d, span, "vsFTPd", "vsftpd", out) ||
            product_from(d, span, "ProFTPD", "ProFTPD", out) ||
            product_from(d, span, "Pure-FTPd", "Pure-FTPd", out) ||
            product_from(d, span, "FileZilla Server", "FileZilla ftpd", out) ||
            product_from(d, span, "Microsoft FTP Service", "Microsoft ftpd", out) ||
            product_from(d, span, "Serv-U FTP Server", "Serv-U ftpd", out))
            distro_extra(d, span, out);
    }
    return done ? PK_ID_MATCH : PK_ID_MORE;
}

/* ---- POP3, IMAP --------------------------------------------------------------- */

static enum pk_id_status ident_pop3(const uint8_t *d, size_t n, struct pk_service_id *out)
{
    if (!bn_has_prefix(d, n, "+OK") || (n > 3 && d[3] != ' ' && d[3] != '\r' && d[3] != '\n'))
        return PK_ID_NONE;
    bool complete;
    size_t line = bn_line_len(d, n, &complete);
    BN_SET(out, service, "pop3");
    bn_id_banner(out, d, n);
    if (product_from(d, line, "Dovecot", "Dovecot pop3d", out) ||
        product_from(d, line, "Cyrus POP3", "Cyrus pop3d", out) ||
        product_from(d, line, "Courier", "Courier pop3d", out) ||
        product_from(d, line, "Qpopper", "Qpopper", out) ||
        product_from(d, line, "Hello there", "Courier pop3d", out))
        distro_extra(d, line, out);
    return complete ? PK_ID_MATCH : PK_ID_MORE;
}

static enum pk_id_status ident_imap(const uint8_t *d, size_t n, struct pk_service_id *out)
{
    if (!bn_has_prefix(d, n, "* OK") && !bn_has_prefix(d, n, "* PREAUTH") &&
        !bn_has_prefix(d, n, "* BYE"))
        return PK_ID_NONE;
    bool complete;
    size_t line = bn_line_len(d, n, &complete);
    BN_SET(out, service, "imap");
    /* the banner is more useful without the capability list */
    const uint8_t *text = d, *cap = bn_memcasemem(d, line, "[CAPABILITY");
    const uint8_t *close = cap ? memchr(cap, ']', (size_t)(d + line - cap)) : NULL;
    if (close) {
        char b[sizeof out->banner];
        size_t k = (size_t)(cap - d);
        bn_id_field(b, sizeof b, d, k);
        size_t bl = strlen(b);
        if (bl < sizeof b - 2) {
            b[bl++] = ' ';
            bn_id_field(b + bl, sizeof b - bl, close + 1, (size_t)(d + line - close - 1));
        }
        BN_SET(out, banner, b);
        text = close + 1;
    } else {
        bn_id_banner(out, d, n);
    }
    size_t tn = line - (size_t)(text - d);
    if (product_from(text, tn, "Dovecot", "Dovecot imapd", out) ||
        product_from(text, tn, "Cyrus IMAP", "Cyrus imapd", out) ||
        product_from(text, tn, "Courier-IMAP", "Courier imapd", out) ||
        product_from(text, tn, "Microsoft Exchange", "Microsoft Exchange imapd", out) ||
        product_from(text, tn, "Zimbra", "Zimbra imapd", out) ||
        product_from(text, tn, "UW IMAP", "UW imapd", out))
        distro_extra(text, tn, out);
    return complete ? PK_ID_MATCH : PK_ID_MORE;
}

/* ---- Redis, memcached ------------------------------------------------------------ */

static bool info_field(const uint8_t *d, size_t n, const char *key, struct pk_service_id *out,
                       char *dst, size_t cap)
{
    const uint8_t *k = bn_memcasemem(d, n, key);
    if (!k)
        return false;
    const uint8_t *v = k + strlen(key);
    bool complete;
    size_t l = bn_line_len(v, (size_t)(d + n - v), &complete);
    if (!complete)
        return false;
    (void)out;
    bn_id_field(dst, cap, v, l);
    return true;
}

static enum pk_id_status ident_redis(enum pk_probe_id sent, const uint8_t *d, size_t n,
                                     struct pk_service_id *out)
{
    static const struct {
        const char *prefix, *extra;
    } errors[] = {
        {"-NOAUTH", "authentication required"},
        {"-DENIED", "protected mode"},
        {"-WRONGPASS", "authentication required"},
        {"-ERR unknown command", ""},
        {"-ERR wrong number of arguments", ""},
        {"-ERR Protocol error", ""},
        {"-MISCONF", ""},
        {"-LOADING", "loading"},
    };
    bool pong = bn_has_prefix(d, n, "+PONG");
    bool info = bn_has_prefix(d, n, "$") && bn_memcasemem(d, n < 64 ? n : 64, "# Server");
    const char *err_extra = NULL;
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (bn_has_prefix(d, n, errors[i].prefix))
            err_extra = errors[i].extra;
    if (!pong && !info && !err_extra) {
        if (!(sent == PK_PROBE_REDIS && bn_has_prefix(d, n, "-ERR")))
            return PK_ID_NONE;
        err_extra = "";
    }
    BN_SET(out, service, "redis");
    BN_SET(out, product, "Redis");
    bn_id_banner(out, d, n);
    if (err_extra) {
        BN_SET(out, extra, err_extra);
        return PK_ID_MATCH;
    }
    char name[16] = "";
    if (info_field(d, n, "server_name:", out, name, sizeof name) && strcmp(name, "valkey") == 0) {
        BN_SET(out, product, "Valkey");
        info_field(d, n, "valkey_version:", out, out->version, sizeof out->version);
    } else {
        info_field(d, n, "redis_version:", out, out->version, sizeof out->version);
    }
    if (out->version[0])
        return PK_ID_MATCH;
    /* PONG now, INFO (with the version) right behind it */
    return sent == PK_PROBE_REDIS && n < PK_BANNER_READ_MAX ? PK_ID_MORE : PK_ID_MATCH;
}

static enum pk_id_status ident_memcached(enum pk_probe_id sent, const uint8_t *d, size_t n,
                                         struct pk_service_id *out)
{
    if (bn_has_prefix(d, n, "VERSION ")) {
        BN_SET(out, service, "memcached");
        BN_SET(out, product, "memcached");
        bool complete;
        size_t l = bn_line_len(d + 8, n - 8, &complete);
        BN_FIELD(out, version, d + 8, bn_version_len(d + 8, l));
        bn_id_banner(out, d, n);
        return complete ? PK_ID_MATCH : PK_ID_MORE;
    }
    if (bn_has_prefix(d, n, "SERVER_ERROR ") || bn_has_prefix(d, n, "CLIENT_ERROR ") ||
        (sent == PK_PROBE_MEMCACHED && bn_has_prefix(d, n, "ERROR\r\n"))) {
        BN_SET(out, service, "memcached");
        BN_SET(out, product, "memcached");
        bn_id_banner(out, d, n);
        return PK_ID_MATCH;
    }
    return PK_ID_NONE;
}

/* ---- smaller ones ------------------------------------------------------------------ */

static enum pk_id_status ident_misc(const uint8_t *d, size_t n, struct pk_service_id *out)
{
    bool complete;
    size_t line = bn_line_len(d, n, &complete);
    /* RFB 003.008\n */
    if (n >= 12 && bn_has_prefix(d, n, "RFB ") && isdigit(d[4]) && d[7] == '.' && d[11] == '\n') {
        char extra[32];
        unsigned major = (unsigned)((d[4] - '0') * 100 + (d[5] - '0') * 10 + (d[6] - '0'));
        unsigned minor = (unsigned)((d[8] - '0') * 100 + (d[9] - '0') * 10 + (d[10] - '0'));
        if (!isdigit(d[5]) || !isdigit(d[6]) || !isdigit(d[8]) || !isdigit(d[9]) || !isdigit(d[10]))
            return PK_ID_NONE;
        snprintf(extra, sizeof extra, "protocol %u.%u", major, minor);
        BN_SET(out, service, "vnc");
        BN_SET(out, extra, extra);
        bn_id_banner(out, d, n);
        return PK_ID_MATCH;
    }
    if (bn_has_prefix(d, n, "@RSYNCD: ")) {
        BN_SET(out, service, "rsync");
        char extra[32] = "protocol ";
        bn_id_field(extra + 9, sizeof extra - 9, d + 9, bn_version_len(d + 9, line - 9));
        BN_SET(out, extra, extra);
        bn_id_banner(out, d, n);
        return complete ? PK_ID_MATCH : PK_ID_MORE;
    }
    if (bn_has_prefix(d, n, "OK MPD ")) {
        BN_SET(out, service, "mpd");
        BN_SET(out, product, "Music Player Daemon");
        BN_FIELD(out, extra, d + 7, line - 7);
        bn_id_banner(out, d, n);
        return complete ? PK_ID_MATCH : PK_ID_MORE;
    }
    /* IRC servers greet with server NOTICEs (":irc.example NOTICE * :*** Looking up...") */
    if ((bn_has_prefix(d, n, ":") && bn_memcasemem(d, line, " NOTICE ")) ||
        bn_has_prefix(d, n, "NOTICE AUTH ") || bn_has_prefix(d, n, "ERROR :Closing Link")) {
        BN_SET(out, service, "irc");
        bn_id_banner(out, d, n);
        return PK_ID_MATCH;
    }
    if (bn_memcasemem(d, n < 512 ? n : 512, "<stream:stream") ||
        bn_memcasemem(d, n < 512 ? n : 512, "<stream:error")) {
        BN_SET(out, service, "xmpp");
        bn_id_banner(out, d, n);
        return PK_ID_MATCH;
    }
    return PK_ID_NONE;
}

enum pk_id_status bn_ident_text(unsigned port, enum pk_probe_id sent, const uint8_t *d, size_t n,
                                struct pk_service_id *out)
{
    enum pk_id_status st;
    if ((st = ident_ssh(d, n, out)) != PK_ID_NONE)
        return st;
    if ((st = bn_ident_http(d, n, out)) != PK_ID_NONE)
        return st;
    if ((st = ident_redis(sent, d, n, out)) != PK_ID_NONE)
        return st;
    if ((st = ident_memcached(sent, d, n, out)) != PK_ID_NONE)
        return st;
    if ((st = ident_pop3(d, n, out)) != PK_ID_NONE)
        return st;
    if ((st = ident_imap(d, n, out)) != PK_ID_NONE)
        return st;
    if ((st = ident_numeric(port, d, n, out)) != PK_ID_NONE)
        return st;
    return ident_misc(d, n, out);
}
