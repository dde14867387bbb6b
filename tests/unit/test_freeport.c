/* freeport against real binds: ports this test holds must never come back
 * as free, and what comes back must bind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "portkit/freeport.h"

/* Holds a port (kernel-chosen, below the ephemeral range is not needed) on
 * the given address; returns the fd and sets *port. */
static int hold(int type, const char *addr, unsigned *port)
{
    int fd = socket(AF_INET, type, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, addr, &a.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    if (type == SOCK_STREAM)
        assert_int_equal(listen(fd, 1), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

static void range_parsing(void **state)
{
    (void)state;
    unsigned lo, hi;
    assert_int_equal(pk_portrange_parse("2000-3000", &lo, &hi, NULL), 0);
    assert_int_equal(lo, 2000);
    assert_int_equal(hi, 3000);
    assert_int_equal(pk_portrange_parse("8080", &lo, &hi, NULL), 0);
    assert_true(lo == 8080 && hi == 8080);
    struct pk_err err = {0};
    assert_int_equal(pk_portrange_parse("5-3", &lo, &hi, &err), PK_EINVAL);
    assert_non_null(strstr(err.msg, "backwards"));
    const char *bad[] = {"", "-", "0-10", "1-70000", "a-b", "10-", "-10", "1-2-3", " 10", "10 "};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(pk_portrange_parse(bad[i], &lo, &hi, NULL), PK_EINVAL);
}

static void held_ports_are_not_bindable(void **state)
{
    (void)state;
    unsigned tport, uport;
    int t = hold(SOCK_STREAM, "127.0.0.1", &tport); /* even a loopback-only holder blocks */
    int u = hold(SOCK_DGRAM, "0.0.0.0", &uport);
    assert_false(pk_port_bindable(tport, PK_TCP));
    assert_false(pk_port_bindable(uport, PK_UDP));
    close(t);
    close(u);
    /* once closed they bind again (nobody else picks ports this way this fast) */
    assert_true(pk_port_bindable(tport, PK_TCP));
    assert_true(pk_port_bindable(uport, PK_UDP));
    assert_false(pk_port_bindable(0, PK_TCP));
    assert_false(pk_port_bindable(70000, PK_TCP));
    assert_false(pk_port_bindable(5000, PK_SCTP));
}

static void find_skips_held_ports(void **state)
{
    (void)state;
    unsigned held;
    int fd = hold(SOCK_STREAM, "0.0.0.0", &held);
    struct pk_freeport_opts o = {.lo = held, .hi = held};
    unsigned port = 0;
    struct pk_err err = {0};
    assert_int_equal(pk_freeport_find(&o, &port, 1, &err), PK_ENOTFOUND);
    assert_non_null(strstr(err.msg, "no free port"));

    /* a two-port range around the held one: only the other comes back */
    o.lo = held > 1024 ? held - 1 : held;
    o.hi = o.lo == held ? held + 1 : held;
    unsigned other = o.lo == held ? o.hi : o.lo;
    if (pk_port_bindable(other, PK_TCP)) {
        for (uint64_t seed = 1; seed <= 4; seed++) {
            o.seed = seed;
            assert_int_equal(pk_freeport_find(&o, &port, 1, NULL), 0);
            assert_int_equal(port, other);
        }
        unsigned two[2];
        assert_int_equal(pk_freeport_find(&o, two, 2, &err), PK_ENOTFOUND);
        assert_non_null(strstr(err.msg, "only 1 free port"));
    }
    close(fd);
}

static void found_ports_bind_and_are_distinct(void **state)
{
    (void)state;
    struct pk_hostinfo host;
    pk_hostinfo_read(&host, NULL);
    struct pk_freeport_opts o = {.protos = PK_PROTO_MASK(PK_TCP) | PK_PROTO_MASK(PK_UDP), .host = &host};
    unsigned ports[20];
    assert_int_equal(pk_freeport_find(&o, ports, 20, NULL), 0);
    for (int i = 0; i < 20; i++) {
        assert_true(ports[i] >= 1024 && ports[i] <= 49151);
        assert_false(pk_hostinfo_is_ephemeral(&host, ports[i]));
        assert_true(pk_port_bindable(ports[i], PK_TCP));
        assert_true(pk_port_bindable(ports[i], PK_UDP));
        for (int k = 0; k < i; k++)
            assert_int_not_equal(ports[i], ports[k]);
    }
}

static void unassigned_avoids_the_registry(void **state)
{
    (void)state;
    const struct pk_registry *reg = pk_registry_builtin();
    struct pk_freeport_opts o = {.lo = 20, .hi = 25, .unassigned = true, .reg = reg};
    unsigned port;
    /* ftp-data, ftp, ssh, telnet, 24 (private mail: reserved-ish), smtp */
    int rc = pk_freeport_find(&o, &port, 1, NULL);
    if (rc == 0)
        assert_null(pk_registry_name(reg, port, PK_TCP));
    o.lo = 1024;
    o.hi = 32767;
    unsigned ports[5];
    assert_int_equal(pk_freeport_find(&o, ports, 5, NULL), 0);
    for (int i = 0; i < 5; i++) {
        assert_null(pk_registry_name(reg, ports[i], PK_TCP));
        size_t first;
        size_t n = pk_registry_port(reg, ports[i], &first);
        for (size_t k = first; k < first + n; k++) {
            struct pk_service s;
            pk_registry_get(reg, k, &s);
            assert_int_not_equal(s.proto, PK_TCP);
        }
    }
}

static void default_range_can_be_empty(void **state)
{
    (void)state;
    /* a host whose ephemeral range covers every registered port */
    struct pk_hostinfo host = {.ephemeral_lo = 1024, .ephemeral_hi = 65535, .unprivileged_start = 1024};
    struct pk_freeport_opts o = {.host = &host};
    unsigned port;
    struct pk_err err = {0};
    assert_int_equal(pk_freeport_find(&o, &port, 1, &err), PK_ENOTFOUND);
    assert_non_null(strstr(err.msg, "ephemeral"));
    assert_int_equal(pk_freeport_find(&o, &port, 0, &err), PK_EINVAL);
    o.lo = 10;
    o.hi = 5;
    assert_int_equal(pk_freeport_find(&o, &port, 1, &err), PK_EINVAL);
    o.lo = 1;
    o.hi = 100;
    o.protos = PK_PROTO_MASK(PK_SCTP);
    assert_int_equal(pk_freeport_find(&o, &port, 1, &err), PK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(range_parsing),
        cmocka_unit_test(held_ports_are_not_bindable),
        cmocka_unit_test(find_skips_held_ports),
        cmocka_unit_test(found_ports_bind_and_are_distinct),
        cmocka_unit_test(unassigned_avoids_the_registry),
        cmocka_unit_test(default_range_can_be_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
