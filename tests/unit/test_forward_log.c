#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <time.h>

#include "portkit/forward.h"

static struct sockaddr_in v4(const char *ip, unsigned port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

/* 2026-01-02T10:11:12.345Z */
#define T0 1767348672345000ull

static void times(void **state)
{
    (void)state;
    char buf[40];
    pk_fw_time_format(T0, buf, sizeof buf);
    assert_string_equal(buf, "2026-01-02T10:11:12.345Z");
    pk_fw_time_format(0, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
}

static void connection_line(void **state)
{
    (void)state;
    struct sockaddr_in client = v4("127.0.0.1", 54321), listen = v4("127.0.0.1", 8080),
                       target = v4("127.0.0.2", 80);
    struct pk_fw_event ev = {
        .kind = PK_FW_EV_END, .proto = PK_TCP, .line = 3,
        .client = (struct sockaddr *)&client, .listen = (struct sockaddr *)&listen,
        .target = (struct sockaddr *)&target, .start_unix_us = T0 - 244000,
        .duration_us = 244000, .bytes_up = 78, .bytes_down = 4561, .reason = "closed",
    };
    struct pk_buf b = PK_BUF_INIT;
    pk_fw_event_format(&ev, T0, false, &b);
    assert_string_equal(b.data,
                        "2026-01-02T10:11:12.345Z conn tcp client=127.0.0.1:54321 "
                        "listen=127.0.0.1:8080 target=127.0.0.2:80 "
                        "start=2026-01-02T10:11:12.101Z duration=0.244 up=78 down=4561 end=closed");
    pk_buf_reset(&b);
    pk_fw_event_format(&ev, T0, true, &b);
    assert_string_equal(b.data,
                        "{\"time\":\"2026-01-02T10:11:12.345Z\",\"event\":\"conn\",\"proto\":\"tcp\","
                        "\"client\":\"127.0.0.1:54321\",\"listen\":\"127.0.0.1:8080\","
                        "\"target\":\"127.0.0.2:80\",\"start\":\"2026-01-02T10:11:12.101Z\","
                        "\"duration\":0.244,\"up\":78,\"down\":4561,\"end\":\"closed\","
                        "\"rule_line\":3}");
    /* UDP adds datagram counts */
    ev.proto = PK_UDP;
    ev.packets_up = 2;
    ev.packets_down = 1;
    ev.reason = "idle-timeout";
    pk_buf_reset(&b);
    pk_fw_event_format(&ev, T0, false, &b);
    assert_non_null(strstr(b.data, " conn udp "));
    assert_non_null(strstr(b.data, " packets_up=2 packets_down=1 end=idle-timeout"));
    pk_buf_free(&b);
}

static void other_events(void **state)
{
    (void)state;
    struct sockaddr_in6 client = {.sin6_family = AF_INET6, .sin6_port = htons(4000)};
    inet_pton(AF_INET6, "::ffff:127.0.0.9", &client.sin6_addr); /* a dual-stack listener's view */
    struct sockaddr_in listen = v4("0.0.0.0", 8080), target = v4("127.0.0.1", 80);
    struct pk_buf b = PK_BUF_INIT;
    struct pk_fw_event ev = {
        .kind = PK_FW_EV_DENY, .proto = PK_TCP, .client = (struct sockaddr *)&client,
        .listen = (struct sockaddr *)&listen, .target = (struct sockaddr *)&target,
        .reason = "global allow/deny",
    };
    pk_fw_event_format(&ev, T0, false, &b);
    assert_string_equal(b.data, "2026-01-02T10:11:12.345Z deny tcp client=127.0.0.9:4000 "
                                "listen=0.0.0.0:8080 reason=global allow/deny");
    pk_buf_reset(&b);
    ev = (struct pk_fw_event){.kind = PK_FW_EV_LISTEN, .proto = PK_UDP,
                              .listen = (struct sockaddr *)&listen,
                              .target = (struct sockaddr *)&target};
    pk_fw_event_format(&ev, T0, false, &b);
    assert_string_equal(b.data, "2026-01-02T10:11:12.345Z listen udp 0.0.0.0:8080 -> 127.0.0.1:80");
    pk_buf_reset(&b);
    ev = (struct pk_fw_event){.kind = PK_FW_EV_WARN, .reason = "a \"quoted\" warning"};
    pk_fw_event_format(&ev, T0, true, &b);
    assert_string_equal(b.data, "{\"time\":\"2026-01-02T10:11:12.345Z\",\"event\":\"warn\","
                                "\"reason\":\"a \\\"quoted\\\" warning\"}");
    pk_buf_free(&b);
}


/* An accepted client is logged when it arrives, not only when it leaves. */
static void open_line(void **state)
{
    (void)state;
    struct sockaddr_in client = v4("127.0.0.1", 54321), listen = v4("127.0.0.1", 8080),
                       target = v4("127.0.0.2", 80);
    struct pk_fw_event ev = {
        .kind = PK_FW_EV_OPEN, .proto = PK_TCP, .client = (struct sockaddr *)&client,
        .listen = (struct sockaddr *)&listen, .target = (struct sockaddr *)&target,
    };
    struct pk_buf b = PK_BUF_INIT;
    pk_fw_event_format(&ev, T0, false, &b);
    assert_string_equal(b.data, "2026-01-02T10:11:12.345Z open tcp client=127.0.0.1:54321 "
                                "listen=127.0.0.1:8080 target=127.0.0.2:80");
    pk_buf_free(&b);
}

/* rinetd's two log formats, field by field (TZ=UTC for a fixed offset). */
static void rinetd_lines(void **state)
{
    (void)state;
    setenv("TZ", "UTC", 1);
    tzset();
    struct sockaddr_in client = v4("192.0.2.9", 54321), listen = v4("0.0.0.0", 8080),
                       target = v4("127.0.0.2", 80);
    struct pk_fw_event ev = {
        .kind = PK_FW_EV_END, .proto = PK_TCP, .client = (struct sockaddr *)&client,
        .listen = (struct sockaddr *)&listen, .target = (struct sockaddr *)&target,
        .bytes_up = 78, .bytes_down = 4561, .reason = "closed",
    };
    struct pk_buf b = PK_BUF_INIT;
    assert_true(pk_fw_event_format_rinetd(&ev, T0, false, &b));
    assert_string_equal(b.data, "02/Jan/2026:10:11:12 \t192.0.2.9\t0.0.0.0\t8080\t127.0.0.2\t80"
                                "\t78\t4561\tdone-remote-closed");
    pk_buf_reset(&b);
    assert_true(pk_fw_event_format_rinetd(&ev, T0, true, &b));
    assert_string_equal(b.data, "192.0.2.9 - - [02/Jan/2026:10:11:12  +0000] \"GET "
                                "/rinetd-services/0.0.0.0/8080/127.0.0.2/80/done-remote-closed "
                                "HTTP/1.0\" 200 4561 - - - 78");
    ev.kind = PK_FW_EV_DENY;
    pk_buf_reset(&b);
    assert_true(pk_fw_event_format_rinetd(&ev, T0, false, &b));
    assert_non_null(strstr(b.data, "\t0\t0\tdenied"));
    ev.kind = PK_FW_EV_LISTEN;
    pk_buf_reset(&b);
    assert_false(pk_fw_event_format_rinetd(&ev, T0, false, &b));
    assert_int_equal(b.len, 0);
    pk_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(times),
        cmocka_unit_test(connection_line),
        cmocka_unit_test(other_events),
        cmocka_unit_test(open_line),
        cmocka_unit_test(rinetd_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
