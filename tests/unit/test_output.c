/* The output modules on hand-made results: what each format says, that
 * XML escapes what it must and follows nmap's 25-port rule, that nothing
 * a hostile banner holds reaches the output raw. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "portkit/output.h"

static long to_buf(void *arg, const void *data, size_t len)
{
    return pk_buf_append(arg, data, len) == 0 ? (long)len : -1;
}

struct fixture {
    struct pk_ports *ports;
    struct pk_scan_info info;
    struct pk_host_report host;
    struct pk_scan_result res[40];
    struct pk_scan_stats st;
};

static void build(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    f->ports = pk_ports_new();
    pk_ports_add_range(f->ports, PK_TCP, 20, 49);
    pk_ports_add_range(f->ports, PK_TCP, 8080, 8080);
    f->info = (struct pk_scan_info){.command = "portkit scan -p 20-49,8080 --x \"y\" <z>",
                                    .version = "9.9.9", .start_wall_us = 1700000000000000ull,
                                    .tcp = true, .ports = f->ports, .hosts = 1};
    struct pk_host_report *h = &f->host;
    pk_addr_parse("192.0.2.7", &h->addr);
    h->hostname = "web&co.example";
    h->answered = true;
    h->srtt_us = 250;
    h->rttvar_us = 100;
    h->start_wall_us = 1700000000000000ull;
    h->end_wall_us = 1700000001000000ull;
    size_t n = 0;
    for (unsigned p = 20; p <= 49; p++) {
        struct pk_scan_result *r = &f->res[n++];
        r->addr = &h->addr;
        r->hostname = h->hostname;
        r->port = (uint16_t)p;
        r->proto = PK_TCP;
        r->product = r->version = r->extra = r->banner = "";
        r->service = NULL;
        if (p == 22) {
            r->state = PK_STATE_OPEN;
            r->reason = PK_REASON_SYN_ACK;
            r->service = "ssh";
            r->service_probed = true;
            r->product = "OpenSSH";
            r->version = "9.2p1";
            r->banner = "SSH-2.0-OpenSSH_9.2p1 \"<x>\"";
            r->rtt_us = 300;
        } else if (p == 25) {
            r->state = PK_STATE_FILTERED;
            r->reason = PK_REASON_ADMIN_PROHIBITED;
        } else {
            r->state = PK_STATE_CLOSED;
            r->reason = PK_REASON_CONN_REFUSED;
        }
        h->counts[0][r->state]++;
    }
    struct pk_scan_result *r = &f->res[n++];
    *r = (struct pk_scan_result){.addr = &h->addr, .hostname = h->hostname, .port = 8080,
                                 .proto = PK_TCP, .state = PK_STATE_OPEN, .reason = PK_REASON_SYN_ACK,
                                 .service = "http-alt", .product = "", .version = "", .extra = "",
                                 .banner = "", .rtt_us = 1200};
    h->counts[0][PK_STATE_OPEN]++;
    h->ports = f->res;
    h->nports = n;
    f->st = (struct pk_scan_stats){.hosts = 1, .total = n, .done = n, .probes = n,
                                   .hosts_answered = 1, .start_wall_us = h->start_wall_us,
                                   .elapsed_us = 1500000};
    f->st.states[PK_STATE_OPEN] = 2;
    f->st.states[PK_STATE_CLOSED] = n - 3;
    f->st.states[PK_STATE_FILTERED] = 1;
}

/* Runs a whole output through its module: begin, every result, host, end. */
static char *render(const struct pk_output_module *m, struct fixture *f, bool all)
{
    struct pk_buf *b = calloc(1, sizeof *b);
    struct pk_output *o;
    struct pk_output_options opt = {.all_states = all, .reg = pk_registry_builtin()};
    struct pk_err err = {0};
    assert_int_equal(pk_output_new(m, &opt, to_buf, b, &o, &err), 0);
    pk_output_begin(o, &f->info);
    for (size_t i = 0; i < f->host.nports; i++)
        pk_output_result(o, &f->host.ports[i]);
    pk_output_host(o, &f->host);
    assert_int_equal(pk_output_end(o, &f->st, &err), 0);
    pk_output_free(o);
    char *s = b->data ? b->data : strdup("");
    free(b);
    return s;
}

static void test_json(void **state)
{
    (void)state;
    struct fixture f;
    build(&f);
    char *s = render(&pk_output_json, &f, false);
    /* open ports only, one line each, in the order decided */
    assert_non_null(strstr(s, "{\"host\":\"192.0.2.7\",\"hostname\":\"web&co.example\",\"port\":22,"
                              "\"proto\":\"tcp\",\"state\":\"open\",\"reason\":\"syn-ack\",\"service\":\"ssh\","
                              "\"version\":\"OpenSSH 9.2p1\",\"banner\":\"SSH-2.0-OpenSSH_9.2p1 \\\"<x>\\\"\","
                              "\"rtt_ms\":0.300}\n"));
    assert_non_null(strstr(s, "\"port\":8080"));
    assert_null(strstr(s, "\"port\":23"));
    size_t lines = 0;
    for (char *p = s; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 2);
    free(s);
    s = render(&pk_output_json, &f, true);
    lines = 0;
    for (char *p = s; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 31);
    assert_non_null(strstr(s, "\"port\":25,\"proto\":\"tcp\",\"state\":\"filtered\",\"reason\":\"admin-prohibited\""));
    assert_non_null(strstr(s, "\"rtt_ms\":null"));
    free(s);
    pk_ports_free(f.ports);
}

static void test_xml(void **state)
{
    (void)state;
    struct fixture f;
    build(&f);
    char *s = render(&pk_output_xml, &f, false);
    assert_true(strncmp(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE nmaprun>\n", 56) == 0);
    /* attribute text escaped, and "--" kept out of the comment */
    assert_non_null(strstr(s, "args=\"portkit scan -p 20-49,8080 --x &quot;y&quot; &lt;z&gt;\""));
    assert_null(strstr(s, "--x \"y\" <z> -->"));
    assert_non_null(strstr(s, "<scaninfo type=\"connect\" protocol=\"tcp\" numservices=\"31\" "
                              "services=\"20-49,8080\"/>"));
    assert_non_null(strstr(s, "<hostname name=\"web&amp;co.example\" type=\"user\"/>"));
    /* 28 closed ports (> 25): summed up, with their ranges */
    assert_non_null(strstr(s, "<extraports state=\"closed\" count=\"28\">\n<extrareasons "
                              "reason=\"conn-refused\" count=\"28\" proto=\"tcp\" ports=\"20-21,23-24,26-49\"/>"));
    /* one filtered port: listed */
    assert_non_null(strstr(s, "<port protocol=\"tcp\" portid=\"25\"><state state=\"filtered\" "
                              "reason=\"admin-prohibited\" reason_ttl=\"0\"/>"));
    assert_non_null(strstr(s, "<service name=\"ssh\" product=\"OpenSSH\" version=\"9.2p1\" "
                              "method=\"probed\" conf=\"10\"/>"));
    assert_non_null(strstr(s, "<service name=\"http-alt\" method=\"table\" conf=\"3\"/>"));
    assert_non_null(strstr(s, "<times srtt=\"250\" rttvar=\"100\" to=\"100000\"/>"));
    assert_non_null(strstr(s, "<hosts up=\"1\" down=\"0\" total=\"1\"/>\n</runstats>\n</nmaprun>\n"));
    assert_non_null(strstr(s, "exit=\"success\""));
    free(s);
    f.st.interrupted = true;
    s = render(&pk_output_xml, &f, false);
    assert_non_null(strstr(s, "exit=\"error\" errormsg="));
    free(s);
    pk_ports_free(f.ports);
}

static void test_grep_and_list(void **state)
{
    (void)state;
    struct fixture f;
    build(&f);
    char *s = render(&pk_output_grep, &f, false);
    assert_non_null(strstr(s, "Host: 192.0.2.7 (web&co.example)\tStatus: Up\n"));
    assert_non_null(strstr(s, "Host: 192.0.2.7 (web&co.example)\tPorts: 22/open/tcp//ssh//OpenSSH 9.2p1/, "
                              "25/filtered/tcp/////, 8080/open/tcp//http-alt///\tIgnored State: closed (28)\n"));
    assert_non_null(strstr(s, "# portkit done at "));
    free(s);
    s = render(&pk_output_list, &f, false);
    assert_non_null(strstr(s, "\nopen tcp 22 192.0.2.7 "));
    assert_non_null(strstr(s, "\nopen tcp 8080 192.0.2.7 "));
    assert_null(strstr(s, "closed"));
    assert_non_null(strstr(s, "# end\n"));
    free(s);
    pk_ports_free(f.ports);
}

static void test_text(void **state)
{
    (void)state;
    struct fixture f;
    build(&f);
    char *s = render(&pk_output_text, &f, false);
    assert_non_null(strstr(s, "portkit scan: 1 host, 31 tcp ports\n"));
    assert_non_null(strstr(s, "\nweb&co.example (192.0.2.7)  rtt 0.25 ms\n"));
    assert_non_null(strstr(s, "22/tcp"));
    assert_non_null(strstr(s, "OpenSSH 9.2p1"));
    assert_non_null(strstr(s, "Not shown: 28 closed tcp ports, 1 filtered tcp port\n"));
    assert_non_null(strstr(s, "Done: 1 host (1 answered), 31 of 31 ports decided: 2 open, 28 closed, 1 filtered"));
    assert_null(strstr(s, "\033[")); /* no colour unless asked */
    free(s);
    pk_ports_free(f.ports);
}

static long failing_write(void *arg, const void *data, size_t len)
{
    (void)arg;
    (void)data;
    (void)len;
    return -1;
}

static void test_write_failure_reported(void **state)
{
    (void)state;
    struct fixture f;
    build(&f);
    struct pk_output *o;
    struct pk_err err = {0};
    assert_int_equal(pk_output_new(&pk_output_xml, NULL, failing_write, NULL, &o, &err), 0);
    pk_output_begin(o, &f.info);
    pk_output_host(o, &f.host);
    assert_int_equal(pk_output_end(o, &f.st, &err), PK_EIO);
    assert_non_null(strstr(err.msg, "xml"));
    pk_output_free(o);
    pk_ports_free(f.ports);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_xml),
        cmocka_unit_test(test_grep_and_list),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_write_failure_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
