/* Service identification: recognisers on bytes captured from real daemons
 * (started by tests/lib/servers.py, read with tests/tools/pk_svcprobe), on
 * documented greeting formats of daemons Debian does not run cheaply, and
 * the sanitiser, probes and plans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "portkit/banner.h"
#include "portkit/error.h"

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = hex; p[0] && p[1] && n < cap; p += 2) {
        unsigned v;
        sscanf(p, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

struct sample {
    const char *what;       /* where the bytes come from */
    unsigned port;
    enum pk_probe_id sent;
    const char *text;       /* the bytes (text), or NULL and hex */
    const char *hex;
    enum pk_id_status want;
    const char *service, *product, *version, *extra;
    const char *line;       /* pk_service_id_format, NULL: not checked */
};

/* Captured from the real daemons in tests/lib/servers.py (Debian 12), and
 * from OpenSSL 3.0's s_server. */
static const struct sample captured[] = {
    {"OpenSSH sshd", 22, PK_PROBE_NULL, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n", NULL,
     PK_ID_MATCH, "ssh", "OpenSSH", "9.2p1", "Debian-2+deb12u10",
     "ssh OpenSSH 9.2p1 Debian-2+deb12u10"},
    {"nginx HEAD", 80, PK_PROBE_HTTP,
     "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 23 Nov 2026 11:05:12 GMT\r\n"
     "Content-Type: text/html\r\nContent-Length: 44\r\nLast-Modified: Mon, 23 Nov 2026 11:05:09 "
     "GMT\r\nConnection: close\r\nETag: \"6b041de5-2c\"\r\nAccept-Ranges: bytes\r\n\r\n",
     NULL, PK_ID_MATCH, "http", "nginx", "1.22.1", "", "http nginx 1.22.1"},
    {"nginx answering a ClientHello on its HTTP port", 80, PK_PROBE_TLS,
     "HTTP/1.1 400 Bad Request\r\nServer: nginx/1.22.1\r\nDate: Mon, 23 Nov 2026 11:05:12 GMT\r\n"
     "Content-Type: text/html\r\nContent-Length: 157\r\nConnection: close\r\n\r\n<html>\r\n<head>"
     "<title>400 Bad Request</title></head>\r\n", NULL,
     PK_ID_MATCH, "http", "nginx", "1.22.1", "", NULL},
    {"nginx TLS 1.3 ServerHello", 443, PK_PROBE_TLS, NULL,
     "160303007a020000760303aa2fe233a47de665fa065fe714a5ad23f97df2cbd5"
     "4ea809e39e6b29f262e14620b9b501d1d854bb7180021590ff0b4dc3a53c36d7"
     "6cec99e0758527120fbbe785130100002e002b0002030400330024001d0020d9"
     "9ef723ffd3021a1382d916e2f8a8914b10dba400eaae21bc32b329d6d10776",
     PK_ID_MATCH, "tls", "TLS", "1.3", "cipher TLS_AES_128_GCM_SHA256",
     "tls TLS 1.3 cipher TLS_AES_128_GCM_SHA256"},
    {"nginx TLS 1.2-only ServerHello", 8443, PK_PROBE_TLS, NULL,
     "160303005d0200005903031769a37f00ac7ed8e7f9366e9071ba3656ab838522"
     "47dd851b989043969471ab205a92a95f04780d77157b5a51c597db436a48c670"
     "f08ab36e86c0bdf5324bd512c02b000011ff01000100000b0004030001020017"
     "0000",
     PK_ID_MATCH, "tls", "TLS", "1.2", "cipher ECDHE-ECDSA-AES128-GCM-SHA256", NULL},
    {"openssl s_server -groups P-256: HelloRetryRequest for our x25519 share", 4433,
     PK_PROBE_TLS, NULL,
     "1603030058020000540303cf21ad74e59a6111be1d8c021e65b891c2a211167a"
     "bb8c5e079e09e2c8a8339c20b9b501d1d854bb7180021590ff0b4dc3a53c36d7"
     "6cec99e0758527120fbbe785130100000c002b00020304003300020017",
     PK_ID_MATCH, "tls", "TLS", "1.3", "HelloRetryRequest, cipher TLS_AES_128_GCM_SHA256", NULL},
    {"dnsmasq, version.bind over TCP", 53, PK_PROBE_DNS, NULL,
     "00375cc1848000010001000000000776657273696f6e0462696e640000100003"
     "c00c0010000300000000000d0c646e736d6173712d322e3930",
     PK_ID_MATCH, "domain", "dnsmasq", "2.90", "", "domain dnsmasq 2.90"},
    {"redis-server PING + INFO server", 6379, PK_PROBE_REDIS,
     "+PONG\r\n$594\r\n# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\n"
     "redis_git_dirty:0\r\nredis_build_id:ae4d7c971a948f0\r\nredis_mode:standalone\r\n", NULL,
     PK_ID_MATCH, "redis", "Redis", "7.0.15", "", "redis Redis 7.0.15"},
    {"redis-server with requirepass", 6380, PK_PROBE_REDIS,
     "-NOAUTH Authentication required.\r\n-NOAUTH Authentication required.\r\n", NULL,
     PK_ID_MATCH, "redis", "Redis", "", "authentication required", NULL},
    {"redis-server answering memcached's probe", 6379, PK_PROBE_MEMCACHED,
     "-ERR unknown command 'version', with args beginning with: \r\n", NULL,
     PK_ID_MATCH, "redis", "Redis", "", "", NULL},
    {"memcached", 11211, PK_PROBE_MEMCACHED, "VERSION 1.6.18\r\n", NULL,
     PK_ID_MATCH, "memcached", "memcached", "1.6.18", "", "memcached memcached 1.6.18"},
    {"Exim", 25, PK_PROBE_NULL, "220 vm ESMTP Exim 4.96 Mon, 23 Nov 2026 11:05:12 +0000\r\n", NULL,
     PK_ID_MATCH, "smtp", "Exim", "4.96", "", "smtp Exim 4.96"},
    {"vsftpd", 21, PK_PROBE_NULL, "220 (vsFTPd 3.0.3)\r\n", NULL,
     PK_ID_MATCH, "ftp", "vsftpd", "3.0.3", "", "ftp vsftpd 3.0.3"},
    {"Dovecot IMAP", 143, PK_PROBE_NULL,
     "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] "
     "Dovecot (Debian) ready.\r\n", NULL,
     PK_ID_MATCH, "imap", "Dovecot imapd", "", "Debian", "imap Dovecot imapd Debian"},
    {"Dovecot POP3", 110, PK_PROBE_NULL, "+OK Dovecot (Debian) ready.\r\n", NULL,
     PK_ID_MATCH, "pop3", "Dovecot pop3d", "", "Debian", NULL},
    {"MariaDB handshake", 3306, PK_PROBE_NULL, NULL,
     "640000000a352e352e352d31302e31312e31392d4d6172696144422d302b6465"
     "623132753100030000002f6e5f6f3145477500fef7080200ff81150000000000"
     "001d0000003854224826247e72412f632a006d7973716c5f6e61746976655f70"
     "617373776f726400",
     PK_ID_MATCH, "mysql", "MariaDB", "10.11.19", "0+deb12u1", "mysql MariaDB 10.11.19 0+deb12u1"},
    {"MariaDB refusing a host", 3306, PK_PROBE_NULL, NULL,
     "46000000ff6a04486f7374202731302e3234312e35392e3127206973206e6f74"
     "20616c6c6f77656420746f20636f6e6e65637420746f2074686973204d617269"
     "61444220736572766572",
     PK_ID_MATCH, "mysql", "MariaDB", "",
     "error 1130: Host '10.241.59.1' is not allowed to connect to this MariaDB server", NULL},
    {"PostgreSQL SSLRequest answer", 5432, PK_PROBE_PGSQL, "N", NULL,
     PK_ID_MATCH, "postgresql", "PostgreSQL", "", "no TLS", NULL},
};

/* Greeting formats of daemons Debian does not run cheaply, as their
 * documentation and source print them (not captured here). */
static const struct sample documented[] = {
    {"Postfix", 25, PK_PROBE_NULL, "220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n", NULL,
     PK_ID_MATCH, "smtp", "Postfix", "", "Debian/GNU", "smtp Postfix Debian/GNU"},
    {"Sendmail", 25, PK_PROBE_NULL,
     "220 mx.example.org ESMTP Sendmail 8.17.1.9/8.17.1.9/Debian-2; Mon, 1 Jan 2024\r\n", NULL,
     PK_ID_MATCH, "smtp", "Sendmail", "8.17.1.9", "", NULL},
    {"multi-line SMTP greeting", 587, PK_PROBE_NULL,
     "220-mx.example.org ESMTP Postfix\r\n220-no UCE\r\n220 ready\r\n", NULL,
     PK_ID_MATCH, "smtp", "Postfix", "", "", NULL},
    {"ProFTPD", 21, PK_PROBE_NULL, "220 ProFTPD Server (Debian) [::ffff:192.0.2.7]\r\n", NULL,
     PK_ID_MATCH, "ftp", "ProFTPD", "", "Debian", NULL},
    {"ProFTPD with version", 2121, PK_PROBE_NULL, "220 ProFTPD 1.3.8 Server (ProFTPD) [192.0.2.7]\r\n",
     NULL, PK_ID_MATCH, "ftp", "ProFTPD", "1.3.8", "", NULL},
    {"Pure-FTPd", 21, PK_PROBE_NULL,
     "220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------\r\n"
     "220-You are user number 1 of 50 allowed.\r\n220 This is a private system.\r\n", NULL,
     PK_ID_MATCH, "ftp", "Pure-FTPd", "", "", NULL},
    {"FTP greeting naming no product, on an FTP port", 21, PK_PROBE_NULL, "220 Welcome\r\n", NULL,
     PK_ID_MATCH, "ftp", "", "", "", NULL},
    {"Cyrus IMAP", 143, PK_PROBE_NULL,
     "* OK [CAPABILITY IMAP4rev1 LITERAL+ ID ENABLE STARTTLS] imap.example.org Cyrus IMAP "
     "3.6.1-4 server ready\r\n", NULL,
     PK_ID_MATCH, "imap", "Cyrus imapd", "3.6.1-4", "", NULL},
    {"Apache httpd", 80, PK_PROBE_HTTP,
     "HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nServer: Apache/2.4.57 (Debian)\r\n"
     "Content-Type: text/html\r\n\r\n", NULL,
     PK_ID_MATCH, "http", "Apache httpd", "2.4.57", "Debian", "http Apache httpd 2.4.57 Debian"},
    {"Microsoft IIS", 80, PK_PROBE_HTTP,
     "HTTP/1.1 404 Not Found\r\nServer: Microsoft-IIS/10.0\r\n\r\n", NULL,
     PK_ID_MATCH, "http", "Microsoft IIS httpd", "10.0", "", NULL},
    {"Dropbear", 22, PK_PROBE_NULL, "SSH-2.0-dropbear_2022.83\r\n", NULL,
     PK_ID_MATCH, "ssh", "Dropbear sshd", "2022.83", "", "ssh Dropbear sshd 2022.83"},
    {"SSH 1.99", 22, PK_PROBE_NULL, "SSH-1.99-OpenSSH_3.9p1\n", NULL,
     PK_ID_MATCH, "ssh", "OpenSSH", "3.9p1", "protocol 1.99", NULL},
    {"MySQL 8", 3306, PK_PROBE_NULL, NULL,
     "4a0000000a382e302e33352d307562756e7475302e32322e30342e3100080000"
     "00",
     PK_ID_MATCH, "mysql", "MySQL", "8.0.35", "0ubuntu0.22.04.1", NULL},
    {"VNC", 5900, PK_PROBE_NULL, "RFB 003.008\n", NULL,
     PK_ID_MATCH, "vnc", "", "", "protocol 3.8", "vnc protocol 3.8"},
    {"telnetd", 23, PK_PROBE_NULL, NULL, "fffd18fffd20fffd23fffd27",
     PK_ID_MATCH, "telnet", "", "", "", NULL},
    {"rsync daemon", 873, PK_PROBE_NULL, "@RSYNCD: 31.0\n", NULL,
     PK_ID_MATCH, "rsync", "", "", "protocol 31.0", NULL},
    {"TLS alert to plain HTTP", 443, PK_PROBE_HTTP, NULL, "15030100020246",
     PK_ID_MATCH, "tls", "TLS", "1.0", "alert protocol_version", NULL},
    {"RabbitMQ answering HTTP", 5672, PK_PROBE_HTTP, NULL, "414d515000000901",
     PK_ID_MATCH, "amqp", "", "", "protocol 0-9-1", NULL},
    {"IRC server notice", 6667, PK_PROBE_NULL,
     ":irc.example.net NOTICE * :*** Looking up your hostname...\r\n", NULL,
     PK_ID_MATCH, "irc", "", "", "", NULL},
    {"Valkey INFO", 6379, PK_PROBE_REDIS,
     "+PONG\r\n$900\r\n# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\n"
     "valkey_version:8.0.1\r\n", NULL,
     PK_ID_MATCH, "redis", "Valkey", "8.0.1", "", NULL},
};

static void check_sample(const struct sample *s)
{
    uint8_t buf[1024];
    size_t n = s->text ? strlen(s->text) : unhex(s->hex, buf, sizeof buf);
    const void *data = s->text ? (const void *)s->text : buf;
    struct pk_service_id id;
    enum pk_id_status st = pk_banner_identify(s->port, s->sent, data, n, "fallback", &id);
    if (st != s->want || strcmp(id.service, s->service) || strcmp(id.product, s->product) ||
        strcmp(id.version, s->version) || strcmp(id.extra, s->extra))
        fail_msg("%s: got status %d service '%s' product '%s' version '%s' extra '%s'", s->what,
                 st, id.service, id.product, id.version, id.extra);
    if (s->line) {
        char line[256];
        pk_service_id_format(&id, line, sizeof line);
        if (strcmp(line, s->line))
            fail_msg("%s: line '%s', want '%s'", s->what, line, s->line);
    }
    /* Every prefix is safe to look at and never claims more than the whole. */
    for (size_t k = 0; k < n; k++) {
        struct pk_service_id part;
        enum pk_id_status ps = pk_banner_identify(s->port, s->sent, data, k, "fallback", &part);
        assert_true(ps <= PK_ID_MATCH);
        assert_non_null(memchr(part.banner, 0, sizeof part.banner));
    }
}

static void test_captured(void **state)
{
    for (size_t i = 0; i < sizeof captured / sizeof captured[0]; i++)
        check_sample(&captured[i]);
}

static void test_documented(void **state)
{
    for (size_t i = 0; i < sizeof documented / sizeof documented[0]; i++)
        check_sample(&documented[i]);
}

static void test_banner_line(void **state)
{
    struct pk_service_id id;
    const char *imap = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] Dovecot (Debian) ready.\r\n";
    pk_banner_identify(143, PK_PROBE_NULL, imap, strlen(imap), "imap", &id);
    assert_string_equal(id.banner, "* OK Dovecot (Debian) ready.");
    const char *ssh = "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n";
    pk_banner_identify(22, PK_PROBE_NULL, ssh, strlen(ssh), "ssh", &id);
    assert_string_equal(id.banner, "SSH-2.0-OpenSSH_9.2p1 Debian-2");
}

static void test_incomplete_asks_for_more(void **state)
{
    struct pk_service_id id;
    const char *ssh = "SSH-2.0-OpenSSH_9.2";
    assert_int_equal(pk_banner_identify(22, PK_PROBE_NULL, ssh, strlen(ssh), "ssh", &id), PK_ID_MORE);
    assert_string_equal(id.service, "ssh");
    const char *http = "HTTP/1.1 200 OK\r\nServer: ngi";
    assert_int_equal(pk_banner_identify(80, PK_PROBE_HTTP, http, strlen(http), "http", &id),
                     PK_ID_MORE);
    const char *smtp = "220-mx.example.org ESMTP Postfix\r\n220-wait for it\r\n";
    assert_int_equal(pk_banner_identify(25, PK_PROBE_NULL, smtp, strlen(smtp), "smtp", &id),
                     PK_ID_MORE);
    assert_string_equal(id.product, "Postfix");
    const char *pong = "+PONG\r\n";
    assert_int_equal(pk_banner_identify(6379, PK_PROBE_REDIS, pong, strlen(pong), "redis", &id),
                     PK_ID_MORE);
    assert_string_equal(id.service, "redis");
    /* a TLS record cut short: a guess, and more wanted */
    const uint8_t tls[] = {0x16, 0x03, 0x03, 0x00, 0x7a, 0x02, 0x00, 0x00, 0x76, 0x03, 0x03};
    assert_int_equal(pk_banner_identify(443, PK_PROBE_TLS, tls, sizeof tls, "https", &id),
                     PK_ID_MORE);
    assert_string_equal(id.service, "tls");
}

static void test_answers_need_their_question(void **state)
{
    struct pk_service_id id;
    assert_int_equal(pk_banner_identify(5432, PK_PROBE_PGSQL, "S", 1, "postgresql", &id),
                     PK_ID_MATCH);
    assert_string_equal(id.extra, "TLS available");
    /* one 'N' that answers nothing we asked is just a byte */
    assert_int_equal(pk_banner_identify(5432, PK_PROBE_NULL, "N", 1, "postgresql", &id),
                     PK_ID_UNKNOWN);
    assert_string_equal(id.service, "postgresql");
    assert_string_equal(id.banner, "N");
    /* a 220 greeting on a port of neither FTP nor SMTP, naming neither */
    assert_int_equal(pk_banner_identify(4000, PK_PROBE_NULL, "220 hello\r\n", 11, NULL, &id),
                     PK_ID_UNKNOWN);
    assert_string_equal(id.service, "");
    assert_string_equal(id.banner, "220 hello");
}

static void test_unknown_bytes_fall_back(void **state)
{
    struct pk_service_id id;
    assert_int_equal(pk_banner_identify(7777, PK_PROBE_NULL, NULL, 0, "cbt", &id), PK_ID_NONE);
    assert_string_equal(id.service, "cbt");
    assert_string_equal(id.banner, "");
    const char *evil = "\x1b]0;owned\x07\x1b[2J hello\x9b" "31m\r\nsecond line";
    assert_int_equal(pk_banner_identify(7777, PK_PROBE_NULL, evil, strlen(evil), "cbt", &id),
                     PK_ID_UNKNOWN);
    assert_string_equal(id.service, "cbt");
    assert_string_equal(id.banner, "\\x1b]0;owned\\x07\\x1b[2J hello\\x9b31m");
    /* a hostile fallback name is sanitised too */
    pk_banner_identify(7777, PK_PROBE_NULL, NULL, 0, "a\x1b[31mb", &id);
    assert_string_equal(id.service, "a\\x1b[31mb");
}

/* ---- sanitiser ------------------------------------------------------------------ */

static void test_sanitize_escapes(void **state)
{
    char out[128];
    const char in[] = "a\\b\r\n\t\x01\x7f\x1b[0m";
    size_t n = pk_banner_sanitize(in, sizeof in - 1, out, sizeof out);
    assert_string_equal(out, "a\\\\b\\r\\n\\t\\x01\\x7f\\x1b[0m");
    assert_int_equal(n, strlen(out));
    /* valid UTF-8 passes; C1 (U+009B, a CSI), bidi override, zero-width
     * space, overlong and surrogate encodings do not */
    const char utf[] = "caf\xc3\xa9 \xc2\x9b \xe2\x80\xae \xe2\x80\x8b \xc0\xaf \xed\xa0\x80 \xf0\x9f\x98\x80";
    pk_banner_sanitize(utf, sizeof utf - 1, out, sizeof out);
    assert_string_equal(out, "caf\xc3\xa9 \\xc2\\x9b \\xe2\\x80\\xae \\xe2\\x80\\x8b \\xc0\\xaf "
                             "\\xed\\xa0\\x80 \xf0\x9f\x98\x80");
    /* NUL bytes are data, not the end */
    pk_banner_sanitize("a\0b", 3, out, sizeof out);
    assert_string_equal(out, "a\\x00b");
}

static void test_sanitize_truncates_at_boundaries(void **state)
{
    char out[64];
    /* fits exactly: no ellipsis */
    assert_int_equal(pk_banner_sanitize("abcdef", 6, out, 7), 6);
    assert_string_equal(out, "abcdef");
    /* one too many: cut with "..." within outlen */
    assert_int_equal(pk_banner_sanitize("abcdefg", 7, out, 7), 6);
    assert_string_equal(out, "abc...");
    /* never half an escape: "ab\x01" needs 6 bytes */
    pk_banner_sanitize("ab\x01zzzz", 7, out, 8);
    assert_string_equal(out, "ab...");
    /* never half a UTF-8 character */
    pk_banner_sanitize("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8, out, 8);
    assert_string_equal(out, "\xc3\xa9\xc3\xa9...");
    /* tiny buffers */
    assert_int_equal(pk_banner_sanitize("abc", 3, out, 1), 0);
    assert_string_equal(out, "");
    pk_banner_sanitize("abcdef", 6, out, 3);
    assert_string_equal(out, "..");
    assert_int_equal(pk_banner_sanitize("abc", 3, out, 0), 0);
    /* the buffer's end is never crossed, whatever the input */
    for (size_t cap = 1; cap < 40; cap++) {
        char b[48];
        memset(b, 'Z', sizeof b);
        uint8_t junk[64];
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = (uint8_t)(i * 37 + cap);
        size_t n = pk_banner_sanitize(junk, sizeof junk, b, cap);
        assert_true(n < cap);
        assert_int_equal(b[n], '\0');
        for (size_t i = cap; i < sizeof b; i++)
            assert_int_equal(b[i], 'Z');
        for (size_t i = 0; i < n; i++)
            assert_true((unsigned char)b[i] >= 0x20 && (unsigned char)b[i] != 0x7f);
    }
}

static void test_sanitize_line(void **state)
{
    char out[64];
    pk_banner_sanitize_line("\r\n\r\n  220 ready  \r\nnext", 24, out, sizeof out);
    assert_string_equal(out, "220 ready");
    pk_banner_sanitize_line("", 0, out, sizeof out);
    assert_string_equal(out, "");
}

static void test_format(void **state)
{
    struct pk_service_id id;
    memset(&id, 0, sizeof id);
    strcpy(id.service, "ssh");
    char out[64];
    pk_service_id_format(&id, out, sizeof out);
    assert_string_equal(out, "ssh");
    strcpy(id.product, "OpenSSH");
    strcpy(id.extra, "Debian-2");
    pk_service_id_format(&id, out, sizeof out);
    assert_string_equal(out, "ssh OpenSSH Debian-2");
    assert_int_equal(pk_service_id_format(&id, out, 12), 11);
    assert_string_equal(out, "ssh Open...");
}

/* ---- probes and plans ----------------------------------------------------------- */

static void test_http_probe(void **state)
{
    uint8_t b[PK_PROBE_MAX];
    struct pk_probe_params p = {"www.example.org", 1};
    int n = pk_banner_probe_build(PK_PROBE_HTTP, &p, b, sizeof b);
    assert_true(n > 0);
    b[n] = 0;
    assert_true(strncmp((char *)b, "HEAD / HTTP/1.0\r\nHost: www.example.org\r\n", 40) == 0);
    assert_true(strstr((char *)b, "\r\n\r\n") == (char *)b + n - 4);
    p.host = "2001:db8::1";
    n = pk_banner_probe_build(PK_PROBE_HTTP, &p, b, sizeof b);
    b[n] = 0;
    assert_non_null(strstr((char *)b, "Host: [2001:db8::1]\r\n"));
    /* a host that would split the request is not sent at all */
    p.host = "evil\r\nX-Injected: 1";
    n = pk_banner_probe_build(PK_PROBE_HTTP, &p, b, sizeof b);
    b[n] = 0;
    assert_null(strstr((char *)b, "Host:"));
    assert_null(strstr((char *)b, "Injected"));
    assert_int_equal(pk_banner_probe_build(PK_PROBE_HTTP, &p, b, 10), PK_EINVAL);
}

/* Walks the ClientHello's extensions; returns the body of `type` or NULL. */
static const uint8_t *hello_ext(const uint8_t *h, size_t n, unsigned type, size_t *len)
{
    size_t i = 5 + 4 + 2 + 32;
    i += 1 + h[i];                               /* session id */
    i += 2 + (size_t)(h[i] << 8 | h[i + 1]);     /* cipher suites */
    i += 1 + h[i];                               /* compression */
    size_t end = i + 2 + (size_t)(h[i] << 8 | h[i + 1]);
    assert_int_equal(end, n);
    for (i += 2; i + 4 <= end;) {
        unsigned t = (unsigned)(h[i] << 8 | h[i + 1]);
        size_t l = (size_t)(h[i + 2] << 8 | h[i + 3]);
        assert_true(i + 4 + l <= end);
        if (t == type) {
            *len = l;
            return h + i + 4;
        }
        i += 4 + l;
    }
    return NULL;
}

static void test_tls_client_hello(void **state)
{
    uint8_t a[PK_PROBE_MAX], b[PK_PROBE_MAX];
    struct pk_probe_params p = {"portkit.test", 42};
    int n = pk_banner_probe_build(PK_PROBE_TLS, &p, a, sizeof a);
    assert_true(n > 0);
    assert_int_equal(a[0], 0x16);
    assert_int_equal((a[3] << 8 | a[4]) + 5, n);                   /* record length */
    assert_int_equal(a[5], 0x01);                                  /* ClientHello */
    size_t hs = (size_t)(a[6] << 16 | a[7] << 8 | a[8]);
    assert_int_equal(hs + 9, n);
    assert_false(hs >= 256 && hs < 512);                           /* RFC 7685 window */
    size_t l;
    const uint8_t *v = hello_ext(a, (size_t)n, 0x002B, &l);        /* supported_versions */
    assert_non_null(v);
    assert_int_equal(l, 5);
    assert_memory_equal(v, "\x04\x03\x04\x03\x03", 5);
    v = hello_ext(a, (size_t)n, 0x0033, &l);                       /* key_share: x25519 */
    assert_non_null(v);
    assert_int_equal(l, 2 + 2 + 2 + 32);
    assert_memory_equal(v + 2, "\x00\x1d\x00\x20", 4);
    v = hello_ext(a, (size_t)n, 0x0000, &l);                       /* SNI */
    assert_non_null(v);
    assert_memory_equal(v + 5, "portkit.test", 12);
    /* same nonce, same bytes; another nonce, another random */
    assert_int_equal(pk_banner_probe_build(PK_PROBE_TLS, &p, b, sizeof b), n);
    assert_memory_equal(a, b, (size_t)n);
    p.nonce = 43;
    assert_int_equal(pk_banner_probe_build(PK_PROBE_TLS, &p, b, sizeof b), n);
    assert_memory_not_equal(a + 11, b + 11, 32);
    /* no SNI for an address literal */
    p.host = "192.0.2.1";
    n = pk_banner_probe_build(PK_PROBE_TLS, &p, b, sizeof b);
    assert_null(hello_ext(b, (size_t)n, 0x0000, &l));
    p.host = NULL;
    n = pk_banner_probe_build(PK_PROBE_TLS, &p, b, sizeof b);
    assert_true(n > 0);
    assert_int_equal(pk_banner_probe_build(PK_PROBE_TLS, &p, b, 100), PK_EINVAL);
}

static void test_other_probes(void **state)
{
    uint8_t b[PK_PROBE_MAX];
    struct pk_probe_params p = {NULL, 7};
    assert_int_equal(pk_banner_probe_build(PK_PROBE_NULL, &p, b, sizeof b), 0);
    int n = pk_banner_probe_build(PK_PROBE_PGSQL, &p, b, sizeof b);
    assert_int_equal(n, 8);
    assert_memory_equal(b, "\x00\x00\x00\x08\x04\xd2\x16\x2f", 8);
    n = pk_banner_probe_build(PK_PROBE_DNS, &p, b, sizeof b);
    assert_int_equal((b[0] << 8 | b[1]) + 2, n);
    assert_memory_equal(b + 2 + 12, "\x07version\x04" "bind\x00\x00\x10\x00\x03", 18);
    n = pk_banner_probe_build(PK_PROBE_REDIS, &p, b, sizeof b);
    assert_memory_equal(b, "PING\r\n", 6);
    n = pk_banner_probe_build(PK_PROBE_MEMCACHED, &p, b, sizeof b);
    assert_memory_equal(b, "version\r\n", 9);
    assert_int_equal(pk_banner_probe_build(PK_PROBE_COUNT, &p, b, sizeof b), PK_EINVAL);
    assert_string_equal(pk_probe_name(PK_PROBE_TLS), "tls");
}

static void test_plans(void **state)
{
    struct pk_banner_plan pl;
    pk_banner_plan_for(22, &pl);
    assert_true(pl.greeting_ms >= 3000);
    pk_banner_plan_for(443, &pl);
    assert_int_equal(pl.greeting_ms, 0);
    assert_int_equal(pl.probes[0], PK_PROBE_TLS);
    pk_banner_plan_for(8080, &pl);
    assert_int_equal(pl.greeting_ms, 0);
    assert_int_equal(pl.probes[0], PK_PROBE_HTTP);
    assert_int_equal(pl.probes[1], PK_PROBE_TLS);
    pk_banner_plan_for(6379, &pl);
    assert_int_equal(pl.nprobes, 1);
    assert_int_equal(pl.probes[0], PK_PROBE_REDIS);
    pk_banner_plan_for(31337, &pl);
    assert_true(pl.greeting_ms > 0 && pl.greeting_ms <= 2000);
    assert_int_equal(pl.nprobes, 2);
    for (unsigned port = 0; port < 65536; port += 97) {
        pk_banner_plan_for(port, &pl);
        assert_true(pl.nprobes <= PK_PLAN_MAX);
        assert_true(pl.greeting_ms > 0 || pl.nprobes > 0);
        assert_true(pl.reply_ms > 0);
    }
    uint8_t b[PK_PROBE_MAX];
    unsigned wait = 99;
    int n = pk_banner_probe_for(6379, NULL, b, sizeof b, &wait);
    assert_int_equal(wait, 0);
    assert_memory_equal(b, "PING\r\n", 6);
    n = pk_banner_probe_for(22, NULL, b, sizeof b, &wait);
    assert_true(wait > 0 && n > 0); /* after the wait: HTTP */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_captured),
        cmocka_unit_test(test_documented),
        cmocka_unit_test(test_banner_line),
        cmocka_unit_test(test_incomplete_asks_for_more),
        cmocka_unit_test(test_answers_need_their_question),
        cmocka_unit_test(test_unknown_bytes_fall_back),
        cmocka_unit_test(test_sanitize_escapes),
        cmocka_unit_test(test_sanitize_truncates_at_boundaries),
        cmocka_unit_test(test_sanitize_line),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_http_probe),
        cmocka_unit_test(test_tls_client_hello),
        cmocka_unit_test(test_other_probes),
        cmocka_unit_test(test_plans),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
