/* The sockets module without a kernel: /proc/net parsing from sample text,
 * names, addresses, flags, JSON, and the source fallback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "portkit/sockets.h"
#include "portkit/registry.h"

/* Real rows as Linux 6.x prints them (x86-64, little endian). */
static const char TCP4[] =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n"
    "   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1 0000000000000000 100 0 0 10 0\n"
    "   2: 0100007F:A1B2 0100007F:0277 01 00000000:00000000 00:00000000 00000000  1000        0 777 1 0000000000000000 20 4 30 10 -1\n"
    "   3: 0100007F:0277 0100007F:A1B3 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000\n";

static const char TCP6[] =
    "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   101        0 4242 1 0000000000000000 100 0 0 10 0\n"
    "   1: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 100 0 0 10 0\n"
    "   2: 0000000000000000FFFF00000100007F:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0\n";

static const char UDP4[] =
    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
    "  123: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   102        0 5555 2 0000000000000000 0\n"
    "  200: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5656 2 0000000000000000 0\n";

static const struct pk_sock *find_port(const struct pk_socklist *l, unsigned port)
{
    for (size_t i = 0; i < pk_socklist_count(l); i++)
        if (pk_socklist_get(l, i)->local_port == port)
            return pk_socklist_get(l, i);
    return NULL;
}

static void procnet_tcp4_rows(void **state)
{
    (void)state;
    struct pk_socklist *l = pk_socklist_new();
    size_t bad = 99;
    assert_int_equal(pk_procnet_parse(TCP4, sizeof TCP4 - 1, PK_TCP, 0, l, &bad), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(pk_socklist_count(l), 4);
    const struct pk_sock *s = pk_socklist_get(l, 0);
    assert_int_equal(s->family, AF_INET);
    assert_int_equal(s->proto, PK_TCP);
    assert_int_equal(s->local_port, 631);
    assert_memory_equal(s->local, "\x7f\x00\x00\x01", 4);
    assert_int_equal(s->state, PK_SS_LISTEN);
    assert_int_equal(s->inode, 12345);
    assert_int_equal(s->uid, 0);
    assert_int_equal(s->pid, -1);
    assert_false(pk_sock_is_connected(s));

    s = pk_socklist_get(l, 2);
    assert_int_equal(s->local_port, 0xA1B2);
    assert_int_equal(s->remote_port, 631);
    assert_int_equal(s->state, PK_SS_ESTABLISHED);
    assert_int_equal(s->uid, 1000);
    assert_true(pk_sock_is_connected(s));

    s = pk_socklist_get(l, 3);
    assert_int_equal(s->state, PK_SS_TIME_WAIT);
    assert_int_equal(s->inode, 0);
    pk_socklist_free(l);
}

static void procnet_tcp6_and_state_filter(void **state)
{
    (void)state;
    struct pk_socklist *l = pk_socklist_new();
    assert_int_equal(pk_procnet_parse(TCP6, sizeof TCP6 - 1, PK_TCP, PK_SS_MASK(PK_SS_LISTEN), l, NULL), 0);
    assert_int_equal(pk_socklist_count(l), 3);
    const struct pk_sock *s = find_port(l, 8080);
    assert_non_null(s);
    assert_int_equal(s->family, AF_INET6);
    assert_true(pk_sock_is_wildcard(s));
    assert_int_equal(s->uid, 101);
    s = find_port(l, 53);
    static const unsigned char one[16] = {[15] = 1};
    assert_memory_equal(s->local, one, 16);
    assert_true(pk_sock_is_loopback(s));
    s = find_port(l, 8081); /* ::ffff:127.0.0.1 */
    assert_true(pk_sock_is_loopback(s));
    char buf[PK_ENDPOINT_MAX];
    assert_string_equal(pk_sock_endpoint_str(s->family, s->local, s->local_port, NULL, buf, sizeof buf),
                        "[::ffff:127.0.0.1]:8081");

    /* the same text with only ESTABLISHED asked for: nothing */
    struct pk_socklist *none = pk_socklist_new();
    assert_int_equal(pk_procnet_parse(TCP6, sizeof TCP6 - 1, PK_TCP, PK_SS_MASK(PK_SS_ESTABLISHED), none, NULL), 0);
    assert_int_equal(pk_socklist_count(none), 0);
    pk_socklist_free(none);
    pk_socklist_free(l);
}

static void procnet_udp_is_unconn(void **state)
{
    (void)state;
    struct pk_socklist *l = pk_socklist_new();
    assert_int_equal(pk_procnet_parse(UDP4, sizeof UDP4 - 1, PK_UDP, PK_SS_LISTENING, l, NULL), 0);
    assert_int_equal(pk_socklist_count(l), 2);
    const struct pk_sock *s = find_port(l, 53);
    assert_memory_equal(s->local, "\x7f\x00\x00\x35", 4); /* 127.0.0.53 */
    assert_int_equal(s->state, PK_SS_CLOSE);
    assert_string_equal(pk_sock_state_name(s->proto, s->state), "UNCONN");
    assert_true(pk_sock_is_listening(s));
    pk_socklist_free(l);
}

static void procnet_malformed_lines_are_skipped(void **state)
{
    (void)state;
    static const char text[] =
        "  sl  local_address rem_address   st\n"
        "   0: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1\n"
        "   1: 0100007F:0277\n"                                       /* truncated */
        "   2: 0100007:0277 00000000:0000 0A 0:0 0:0 0 0 0 2\n"       /* 7-digit address */
        "   3: 0100007F:0277 00000000000000000000000000000000:0000 0A 0:0 0:0 0 0 0 3\n" /* mixed families */
        "   4: 0100007F:12345 00000000:0000 0A 0:0 0:0 0 0 0 4\n"     /* 5-digit port */
        "   5: 0100007F:0277 00000000:0000 FF 0:0 0:0 0 0 0 5\n"      /* no such state */
        "   6: 0100007F:0277 00000000:0000 0A 0:0 0:0 0 99999999999 0 6\n" /* uid too big */
        "garbage\n"
        "\n"
        "   7: 0100007F:0016 00000000:0000 0A 0:0 0:0 0 0 0 7"; /* last line, no newline */
    struct pk_socklist *l = pk_socklist_new();
    size_t bad = 0;
    assert_int_equal(pk_procnet_parse(text, sizeof text - 1, PK_TCP, 0, l, &bad), 0);
    assert_int_equal(pk_socklist_count(l), 2);
    assert_int_equal(bad, 7);
    assert_int_equal(pk_socklist_get(l, 1)->local_port, 22);
    assert_int_equal(pk_socklist_get(l, 1)->inode, 7);

    /* empty and header-only input */
    assert_int_equal(pk_procnet_parse("", 0, PK_TCP, 0, l, &bad), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(pk_procnet_parse(TCP4, 60, PK_UDP, 0, l, &bad), 0);
    assert_int_equal(pk_socklist_count(l), 2);
    pk_socklist_free(l);
}

static void addresses_read_like_ss(void **state)
{
    (void)state;
    char buf[PK_ENDPOINT_MAX];
    unsigned char v4[16] = {10, 1, 2, 3};
    unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    unsigned char zero[16] = {0};
    assert_string_equal(pk_sock_endpoint_str(AF_INET, v4, 80, NULL, buf, sizeof buf), "10.1.2.3:80");
    assert_string_equal(pk_sock_endpoint_str(AF_INET6, v6, 443, NULL, buf, sizeof buf), "[2001:db8::1]:443");
    assert_string_equal(pk_sock_endpoint_str(AF_INET6, zero, 22, NULL, buf, sizeof buf), "[::]:22");
    assert_string_equal(pk_sock_endpoint_str(AF_INET, zero, 68, "eth0", buf, sizeof buf), "0.0.0.0%eth0:68");
    assert_string_equal(pk_sock_endpoint_str(AF_INET6, zero, 546, "eth0", buf, sizeof buf), "[::%eth0]:546");
    assert_string_equal(pk_sock_addr_str(AF_INET, v4, buf, sizeof buf), "10.1.2.3");
    /* a too-small buffer truncates, never overflows */
    char tiny[6];
    pk_sock_endpoint_str(AF_INET6, v6, 443, NULL, tiny, sizeof tiny);
    assert_int_equal(strlen(tiny), 5);
}

static void state_names_and_parsing(void **state)
{
    (void)state;
    assert_string_equal(pk_sock_state_name(PK_TCP, PK_SS_LISTEN), "LISTEN");
    assert_string_equal(pk_sock_state_name(PK_TCP, PK_SS_TIME_WAIT), "TIME-WAIT");
    assert_string_equal(pk_sock_state_name(PK_UDP, PK_SS_CLOSE), "UNCONN");
    assert_string_equal(pk_sock_state_name(PK_TCP, PK_SS_CLOSE), "CLOSE");
    assert_string_equal(pk_sock_state_name(PK_TCP, PK_SS_BOUND), "BOUND");
    assert_string_equal(pk_sock_state_name(PK_TCP, (enum pk_sock_state)200), "UNKNOWN");

    unsigned m = 0;
    assert_int_equal(pk_sock_state_parse("time_wait", &m, NULL), 0);
    assert_int_equal(m, PK_SS_MASK(PK_SS_TIME_WAIT));
    m = 0;
    assert_int_equal(pk_sock_state_parse("TimeWait", &m, NULL), 0);
    assert_int_equal(m, PK_SS_MASK(PK_SS_TIME_WAIT));
    m = 0;
    assert_int_equal(pk_sock_state_parse("ESTAB", &m, NULL), 0);
    assert_int_equal(pk_sock_state_parse("listen", &m, NULL), 0);
    assert_int_equal(m, PK_SS_MASK(PK_SS_ESTABLISHED) | PK_SS_MASK(PK_SS_LISTEN));
    m = 0;
    assert_int_equal(pk_sock_state_parse("connected", &m, NULL), 0);
    assert_true(m & PK_SS_MASK(PK_SS_ESTABLISHED));
    assert_false(m & PK_SS_MASK(PK_SS_LISTEN));
    assert_false(m & PK_SS_MASK(PK_SS_CLOSE));
    m = 0;
    assert_int_equal(pk_sock_state_parse("all", &m, NULL), 0);
    assert_int_equal(m, PK_SS_ALL);

    struct pk_err err = {0};
    m = 0;
    assert_int_equal(pk_sock_state_parse("bogus", &m, &err), PK_EINVAL);
    assert_non_null(strstr(err.msg, "bogus"));
    assert_int_equal(m, 0);
    assert_int_equal(pk_sock_state_parse("", &m, &err), PK_EINVAL);
    assert_int_equal(pk_sock_state_parse("listen-listen-listen-listen-listen", &m, &err), PK_EINVAL);
}

static struct pk_sock make_sock(enum pk_proto proto, int family, const char *local, unsigned lport,
                                enum pk_sock_state st)
{
    struct pk_sock s;
    memset(&s, 0, sizeof s);
    s.proto = proto;
    s.family = family;
    s.state = st;
    s.local_port = (uint16_t)lport;
    s.pid = -1;
    memcpy(s.local, local, family == AF_INET ? 4 : 16);
    return s;
}

static void flags_from_registry_and_host(void **state)
{
    (void)state;
    const struct pk_registry *reg = pk_registry_builtin();
    struct pk_hostinfo host = {.ephemeral_lo = 32768, .ephemeral_hi = 60999, .unprivileged_start = 1024,
                               .known = true};
    struct pk_sock_notes n;

    struct pk_sock ssh = make_sock(PK_TCP, AF_INET, "\0\0\0\0", 22, PK_SS_LISTEN);
    pk_sock_annotate(reg, &host, &ssh, &n);
    assert_string_equal(n.service, "ssh");
    assert_int_equal(n.range, PK_RANGE_WELL_KNOWN);
    assert_int_equal(n.flags, PK_SF_EXPOSED | PK_SF_PRIVILEGED);

    struct pk_sock bo = make_sock(PK_TCP, AF_INET, "\x7f\0\0\1", 31337, PK_SS_LISTEN);
    pk_sock_annotate(reg, &host, &bo, &n);
    assert_int_equal(n.flags, PK_SF_RISK); /* loopback: not exposed */

    /* http has trojan and worm notes, but a web server on 80 is no backdoor */
    struct pk_sock web = make_sock(PK_TCP, AF_INET, "\0\0\0\0", 80, PK_SS_LISTEN);
    pk_sock_annotate(reg, &host, &web, &n);
    assert_int_equal(n.flags, PK_SF_EXPOSED | PK_SF_PRIVILEGED);
    struct pk_sock netbus = make_sock(PK_TCP, AF_INET, "\0\0\0\0", 12345, PK_SS_LISTEN);
    pk_sock_annotate(reg, &host, &netbus, &n);
    assert_int_equal(n.flags, PK_SF_EXPOSED | PK_SF_RISK);
    struct pk_sock ingres = make_sock(PK_TCP, AF_INET, "\0\0\0\0", 1524, PK_SS_LISTEN);
    pk_sock_annotate(reg, &host, &ingres, &n);
    assert_true(n.flags & PK_SF_RISK);

    /* bound to the loopback device (index 1): not exposed either */
    struct pk_sock dev = make_sock(PK_UDP, AF_INET, "\0\0\0\0", 5353, PK_SS_CLOSE);
    dev.ifindex = 1;
    pk_sock_annotate(reg, &host, &dev, &n);
    assert_false(n.flags & PK_SF_EXPOSED);
    dev.ifindex = 2;
    pk_sock_annotate(reg, &host, &dev, &n);
    assert_true(n.flags & PK_SF_EXPOSED);

    /* a client: the service is the remote end's, risk too; the local port is ephemeral */
    struct pk_sock cl = make_sock(PK_TCP, AF_INET, "\x7f\0\0\1", 40000, PK_SS_ESTABLISHED);
    memcpy(cl.remote, "\x7f\0\0\1", 4);
    cl.remote_port = 443;
    pk_sock_annotate(reg, &host, &cl, &n);
    assert_string_equal(n.service, "https");
    assert_int_equal(n.flags, PK_SF_EPHEMERAL);
    assert_int_equal(n.range, PK_RANGE_REGISTERED);
    assert_int_equal(pk_sock_service_port(&cl, &host), 443);
    cl.remote_port = 54320;
    pk_sock_annotate(reg, &host, &cl, &n);
    assert_false(n.flags & PK_SF_RISK); /* both ends ephemeral: the local port names it */
    assert_int_equal(pk_sock_service_port(&cl, &host), 40000);

    /* without a registry: no names, no risk */
    pk_sock_annotate(NULL, &host, &bo, &n);
    assert_null(n.service);
    assert_int_equal(n.flags, 0);

    unsigned char v6any[16] = {0};
    struct pk_sock v6 = make_sock(PK_TCP, AF_INET6, (const char *)v6any, 8080, PK_SS_LISTEN);
    pk_sock_annotate(reg, &host, &v6, &n);
    assert_true(n.flags & PK_SF_EXPOSED);
    assert_string_equal(pk_sock_flag_name(PK_SF_EPHEMERAL), "EPHEMERAL");
    assert_string_equal(pk_sock_flag_name(3), "?");
}

static void json_record_has_every_key(void **state)
{
    (void)state;
    struct pk_sock s = make_sock(PK_TCP, AF_INET, "\x7f\0\0\1", 8080, PK_SS_ESTABLISHED);
    memcpy(s.remote, "\x7f\0\0\2", 4);
    s.remote_port = 50000;
    s.pid = 42;
    s.process = "we\"ird";
    s.user = "root";
    s.inode = 99;
    struct pk_sock_notes n = {.service = "http-alt", .range = PK_RANGE_REGISTERED,
                              .flags = PK_SF_EXPOSED | PK_SF_EPHEMERAL};
    int pids[] = {42, 43};
    struct pk_buf b = PK_BUF_INIT;
    pk_sock_json(&s, &n, pids, 2, NULL, &b);
    assert_string_equal(b.data,
                        "{\"proto\":\"tcp\",\"family\":\"ipv4\",\"local_addr\":\"127.0.0.1\",\"local_port\":8080,"
                        "\"remote_addr\":\"127.0.0.2\",\"remote_port\":50000,\"state\":\"ESTABLISHED\","
                        "\"pid\":42,\"pids\":[42,43],\"process\":\"we\\\"ird\",\"user\":\"root\",\"uid\":0,"
                        "\"inode\":99,\"interface\":null,\"service\":\"http-alt\",\"range\":\"registered\","
                        "\"flags\":[\"EXPOSED\",\"EPHEMERAL\"]}");
    pk_buf_free(&b);
}

/* ---- sources and the fallback --------------------------------------------- */

static int list_unsupported(unsigned protos, unsigned states, const char *root,
                            struct pk_socklist *out, struct pk_err *err)
{
    (void)protos, (void)states, (void)root;
    struct pk_sock s = make_sock(PK_TCP, AF_INET, "\0\0\0\0", 1, PK_SS_LISTEN);
    pk_socklist_add(out, &s); /* a half answer the fallback must throw away */
    return pk_err_set(err, PK_EUNSUPP, "not here");
}

static int list_failing(unsigned protos, unsigned states, const char *root, struct pk_socklist *out,
                        struct pk_err *err)
{
    (void)protos, (void)states, (void)root, (void)out;
    return pk_err_set(err, PK_EIO, "broken source");
}

static int list_two(unsigned protos, unsigned states, const char *root, struct pk_socklist *out,
                    struct pk_err *err)
{
    (void)protos, (void)states, (void)root, (void)err;
    struct pk_sock a = make_sock(PK_UDP, AF_INET6, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 53, PK_SS_CLOSE);
    struct pk_sock b = make_sock(PK_TCP, AF_INET, "\0\0\0\0", 8080, PK_SS_LISTEN);
    pk_socklist_add(out, &a);
    pk_socklist_add(out, &b);
    return 0;
}

static const struct pk_sock_source src_unsupported = {"nope", list_unsupported};
static const struct pk_sock_source src_failing = {"broken", list_failing};
static const struct pk_sock_source src_two = {"two", list_two};

static void falls_back_to_the_next_source(void **state)
{
    (void)state;
    const struct pk_sock_source *chain[] = {&src_unsupported, &src_two};
    struct pk_sock_query q = {.sources = chain, .nsources = 2};
    struct pk_socklist *l;
    assert_int_equal(pk_sockets_list(&q, &l, NULL), 0);
    assert_string_equal(pk_socklist_source(l), "two");
    assert_int_equal(pk_socklist_count(l), 2);
    pk_socklist_sort(l);
    assert_int_equal(pk_socklist_get(l, 0)->proto, PK_TCP); /* tcp before udp */
    assert_int_equal(pk_socklist_get(l, 0)->pid, -1);
    assert_null(pk_socklist_get(l, 0)->user); /* inode 0: nobody's */
    pk_socklist_free(l);

    q.families = PK_FAMILY_V6;
    assert_int_equal(pk_sockets_list(&q, &l, NULL), 0);
    assert_int_equal(pk_socklist_count(l), 1);
    assert_int_equal(pk_socklist_get(l, 0)->local_port, 53);
    pk_socklist_free(l);

    q.families = 0;
    q.has_port = true;
    q.port = 8080;
    assert_int_equal(pk_sockets_list(&q, &l, NULL), 0);
    assert_int_equal(pk_socklist_count(l), 1);
    pk_socklist_free(l);
}

static void a_failing_source_is_an_error(void **state)
{
    (void)state;
    const struct pk_sock_source *chain[] = {&src_failing, &src_two};
    struct pk_sock_query q = {.sources = chain, .nsources = 2};
    struct pk_socklist *l = (struct pk_socklist *)1;
    struct pk_err err = {0};
    assert_int_equal(pk_sockets_list(&q, &l, &err), PK_EIO);
    assert_null(l);
    assert_string_equal(err.msg, "broken source");

    const struct pk_sock_source *none[] = {&src_unsupported, &src_unsupported};
    q.sources = none;
    assert_int_equal(pk_sockets_list(&q, &l, &err), PK_EUNSUPP);
    assert_non_null(strstr(err.msg, "cannot list sockets"));

    q.protos = PK_PROTO_MASK(PK_SCTP);
    assert_int_equal(pk_sockets_list(&q, &l, &err), PK_EINVAL);
}

/* The /proc source end to end, on a fake /proc tree. */
static void proc_source_reads_a_tree(void **state)
{
    (void)state;
    char root[] = "/tmp/pk-test-procnet-XXXXXX";
    assert_non_null(mkdtemp(root));
    char path[256];
    snprintf(path, sizeof path, "%s/net", root);
    assert_int_equal(mkdir(path, 0700), 0);
    const char *files[][2] = {{"tcp", TCP4}, {"udp", UDP4}}; /* no tcp6/udp6: an IPv4-only host */
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/net/%s", root, files[i][0]);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(files[i][1], f);
        fclose(f);
    }
    const struct pk_sock_source *chain[] = {&pk_sock_source_proc};
    struct pk_sock_query q = {.sources = chain, .nsources = 1, .proc_root = root,
                              .states = PK_SS_LISTENING};
    struct pk_socklist *l;
    assert_int_equal(pk_sockets_list(&q, &l, NULL), 0);
    assert_string_equal(pk_socklist_source(l), "proc");
    assert_int_equal(pk_socklist_count(l), 4); /* 2 tcp listeners + 2 udp */
    const struct pk_sock *s = find_port(l, 53);
    assert_non_null(s);
    assert_non_null(s->user); /* uid 102, named or numbered */
    pk_socklist_free(l);

    q.protos = PK_PROTO_MASK(PK_UDP);
    q.states = 0;
    assert_int_equal(pk_sockets_list(&q, &l, NULL), 0);
    assert_int_equal(pk_socklist_count(l), 2);
    pk_socklist_free(l);

    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/net/%s", root, files[i][0]);
        unlink(path);
    }
    struct pk_err err = {0};
    assert_int_equal(pk_sockets_list(&q, &l, &err), PK_EUNSUPP);
    snprintf(path, sizeof path, "%s/net", root);
    rmdir(path);
    rmdir(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(procnet_tcp4_rows),
        cmocka_unit_test(procnet_tcp6_and_state_filter),
        cmocka_unit_test(procnet_udp_is_unconn),
        cmocka_unit_test(procnet_malformed_lines_are_skipped),
        cmocka_unit_test(addresses_read_like_ss),
        cmocka_unit_test(state_names_and_parsing),
        cmocka_unit_test(flags_from_registry_and_host),
        cmocka_unit_test(json_record_has_every_key),
        cmocka_unit_test(falls_back_to_the_next_source),
        cmocka_unit_test(a_failing_source_is_an_error),
        cmocka_unit_test(proc_source_reads_a_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
