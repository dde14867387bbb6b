#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "portkit/hostinfo.h"
#include "portkit/portinfo.h"
#include "portkit/registry.h"

static const char csv[] =
    "Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,Registration Date,"
    "Modification Date,Reference,Service Code,Unauthorized Use Reported,Assignment Notes\n"
    ",0,tcp,Reserved,[Jon],[Jon],,,,,,\n"
    "http,80,tcp,World Wide Web HTTP,,,,,,,,\"TXT keys: \"\"u\"\"\"\n"
    "http,80,udp,World Wide Web HTTP,,,,,,,,\n"
    "www,80,tcp,World Wide Web HTTP,,,,,,,,\n"
    "www-http,80,tcp,World Wide Web HTTP,,,,,,,,\"duplicate\nof http\"\n"
    ",81,,Unassigned,,,,,,,,\n"
    ",225-227,,Reserved,,,,,,,,\n"
    "x11,6000-6003,tcp,X Window System,,,,,,,Known Unauthorized Use on port 6003,\n"
    "http,80,sctp,HTTP,,,,,,,,\n"
    "quic,443,xtp,Future transport,,,,,,,,\n"
    "kerberos,88,udp,Kerberos,,,,,,,,\n"
    "dnssd-only,,,Service name without a port,,,,,,,,\n";

static const char notes[] =
    "# test notes\n"
    "@ 80/tcp official\n"
    "name: http\n"
    "note: The web.\n"
    "note: Second line.\n"
    "alt: 8080 8000\n"
    "\n"
    "@ 12345/tcp+udp de-facto\n"
    "name: netbus\n"
    "note: A trojan listened here.\n"
    "risk: trojan: NetBus\n";

static struct pk_registry *build(void)
{
    struct pk_registry *reg = NULL;
    struct pk_err err = {0};
    int rc = pk_registry_from_text(csv, strlen(csv), notes, strlen(notes), &reg, &err);
    if (rc)
        fail_msg("build failed: %s", err.msg);
    return reg;
}

static void lookups_and_aliases(void **state)
{
    (void)state;
    struct pk_registry *reg = build();
    size_t first, n = pk_registry_port(reg, 80, &first);
    assert_int_equal(n, 5); /* tcp http, www, www-http; udp http; sctp http */
    struct pk_service s;
    pk_registry_get(reg, first, &s);
    assert_string_equal(s.name, "http");
    assert_int_equal(s.proto, PK_TCP);
    assert_int_equal(s.flags & PK_SVC_ALIAS, 0);
    assert_string_equal(s.assignment_notes, "TXT keys: \"u\"");
    pk_registry_get(reg, first + 1, &s);
    assert_string_equal(s.name, "www");
    assert_true(s.flags & PK_SVC_ALIAS);
    pk_registry_get(reg, first + 2, &s);
    assert_string_equal(s.assignment_notes, "duplicate\nof http");
    assert_string_equal(pk_registry_name(reg, 80, PK_UDP), "http");
    assert_string_equal(pk_registry_name(reg, 80, PK_SCTP), "http");
    assert_null(pk_registry_name(reg, 80, PK_DCCP));
    pk_registry_free(reg);
}

static void ranges_reserved_and_unassigned(void **state)
{
    (void)state;
    struct pk_registry *reg = build();
    for (unsigned p = 6000; p <= 6003; p++)
        assert_string_equal(pk_registry_name(reg, p, PK_TCP), "x11");
    assert_null(pk_registry_name(reg, 6004, PK_TCP));
    size_t first;
    assert_int_equal(pk_registry_port(reg, 81, &first), 0); /* unassigned: nothing stored */
    /* a reserved range with no transport covers tcp and udp */
    assert_int_equal(pk_registry_port(reg, 226, &first), 2);
    struct pk_service s;
    pk_registry_get(reg, first, &s);
    assert_true(s.flags & PK_SVC_RESERVED);
    assert_string_equal(s.name, "");
    /* unknown transports are skipped, not fatal */
    assert_int_equal(pk_registry_port(reg, 443, &first), 0);
    pk_registry_free(reg);
}

static void names_resolve_and_search(void **state)
{
    (void)state;
    struct pk_registry *reg = build();
    struct pk_port_proto found[8];
    size_t n = pk_registry_find_name(reg, "HTTP", found, 8);
    assert_int_equal(n, 3);
    assert_int_equal(found[0].port, 80);
    assert_int_equal(found[0].proto, PK_TCP);
    assert_int_equal(found[2].proto, PK_SCTP);
    n = pk_registry_find_name(reg, "netbus", found, 8); /* curated names count too */
    assert_int_equal(n, 2);
    assert_int_equal(found[0].port, 12345);
    unsigned port;
    assert_int_equal(pk_registry_resolve(reg, "kerberos", PK_UDP, &port), 0);
    assert_int_equal(port, 88);
    assert_int_equal(pk_registry_resolve(reg, "kerberos", PK_TCP, &port), PK_ENOTFOUND);
    assert_int_equal(pk_registry_resolve(reg, "nope", PK_TCP, &port), PK_ENOTFOUND);
    n = pk_registry_search(reg, "window", found, 8);
    assert_int_equal(n, 4); /* x11 6000-6003/tcp */
    n = pk_registry_search(reg, "trojan", found, 8);
    assert_int_equal(n, 2);
    /* max smaller than the total: the total is still returned */
    assert_int_equal(pk_registry_search(reg, "window", found, 1), 4);
    pk_registry_free(reg);
}

static void notes_and_risk(void **state)
{
    (void)state;
    struct pk_registry *reg = build();
    struct pk_note note;
    assert_true(pk_registry_note(reg, 80, PK_TCP, &note));
    assert_true(note.official);
    assert_string_equal(note.text, "The web.\nSecond line.");
    assert_int_equal(note.nalt, 2);
    assert_int_equal(note.alt[0], 8080);
    assert_false(pk_registry_note(reg, 80, PK_UDP, &note));
    assert_true(pk_registry_is_risky(reg, 12345, PK_UDP));
    assert_false(pk_registry_is_risky(reg, 80, PK_TCP));
    assert_string_equal(pk_registry_name(reg, 12345, PK_TCP), "netbus");

    struct pk_hostinfo host = {.ephemeral_lo = 32768, .ephemeral_hi = 60999, .unprivileged_start = 1024};
    struct pk_portinfo pi;
    pk_portinfo_get(reg, &host, 12345, PK_TCP, &pi);
    assert_false(pi.official);
    assert_true(pi.has_note);
    assert_string_equal(pi.name, "netbus");
    assert_false(pi.privileged);
    pk_portinfo_get(reg, &host, 49152, PK_TCP, &pi);
    assert_null(pi.name);
    assert_true(pi.ephemeral);
    assert_int_equal(pi.range, PK_RANGE_DYNAMIC);
    assert_false(pk_portinfo_known(&pi));
    pk_registry_free(reg);
}

static void broken_input_is_reported_with_a_line(void **state)
{
    (void)state;
    struct pk_registry *reg = NULL;
    struct pk_err err = {0};
    const char *bad_port = "Service Name,Port Number,Transport Protocol,Description\nx,70000,tcp,d\n";
    assert_int_equal(pk_registry_from_text(bad_port, strlen(bad_port), NULL, 0, &reg, &err), PK_EINVAL);
    assert_non_null(strstr(err.msg, ":2:"));
    assert_null(reg);
    const char *not_iana = "a,b,c\n1,2,3\n";
    assert_int_equal(pk_registry_from_text(not_iana, strlen(not_iana), NULL, 0, &reg, &err), PK_EINVAL);
    assert_non_null(strstr(err.msg, "not an IANA"));
    const char *dup_notes = "@ 1/tcp official\nname: a\nnote: b\n@ 1/tcp official\nname: a\nnote: b\n";
    assert_int_equal(pk_registry_from_text(csv, strlen(csv), dup_notes, strlen(dup_notes), &reg, &err),
                     PK_EINVAL);
    assert_non_null(strstr(err.msg, "two curated notes"));
}

/* The compiled-in table must hold exactly what the runtime loader reads
 * from the same CSV: the generator and the loader share one parser, and
 * this catches a generator that drops or garbles anything. */
static void builtin_equals_runtime_parse_of_the_csv(void **state)
{
    (void)state;
    const struct pk_registry *builtin = pk_registry_builtin();
    struct pk_registry *loaded = NULL;
    struct pk_err err = {0};
    int rc = pk_registry_load_csv(PK_SOURCE_DIR "/data/iana-service-names-port-numbers.csv", NULL, 0,
                                  &loaded, &err);
    if (rc)
        fail_msg("load failed: %s", err.msg);
    assert_int_equal(pk_registry_count(builtin), pk_registry_count(loaded));
    assert_true(pk_registry_count(builtin) > 13000);
    for (size_t i = 0; i < pk_registry_count(builtin); i++) {
        struct pk_service a, b;
        pk_registry_get(builtin, i, &a);
        pk_registry_get(loaded, i, &b);
        assert_int_equal(a.port, b.port);
        assert_int_equal(a.proto, b.proto);
        assert_int_equal(a.flags, b.flags);
        assert_string_equal(a.name, b.name);
        assert_string_equal(a.description, b.description);
        assert_string_equal(a.unauthorized_use, b.unauthorized_use);
        assert_string_equal(a.assignment_notes, b.assignment_notes);
    }
    assert_int_equal(pk_registry_note_count(builtin), pk_registry_note_count(loaded));
    pk_registry_free(loaded);
}

static void builtin_answers_the_classics(void **state)
{
    (void)state;
    const struct pk_registry *reg = pk_registry_builtin();
    assert_string_equal(pk_registry_name(reg, 22, PK_TCP), "ssh");
    assert_string_equal(pk_registry_name(reg, 53, PK_UDP), "domain");
    assert_string_equal(pk_registry_name(reg, 443, PK_TCP), "https");
    assert_string_equal(pk_registry_name(reg, 6063, PK_UDP), "x11");
    unsigned port;
    assert_int_equal(pk_registry_resolve(reg, "postgresql", PK_TCP, &port), 0);
    assert_int_equal(port, 5432);
    assert_int_equal(pk_registry_resolve(reg, "https", PK_TCP, &port), 0);
    assert_int_equal(port, 443);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lookups_and_aliases),
        cmocka_unit_test(ranges_reserved_and_unassigned),
        cmocka_unit_test(names_resolve_and_search),
        cmocka_unit_test(notes_and_risk),
        cmocka_unit_test(broken_input_is_reported_with_a_line),
        cmocka_unit_test(builtin_equals_runtime_parse_of_the_csv),
        cmocka_unit_test(builtin_answers_the_classics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
