#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "registry/notes.h"

struct seen {
    int blocks;
    struct note_block last;
    char name[64];
    char text[256];
};

static int collect(const struct note_block *b, void *arg, struct pk_err *err)
{
    (void)err;
    struct seen *s = arg;
    s->blocks++;
    s->last = *b;
    snprintf(s->name, sizeof s->name, "%s", b->name);
    snprintf(s->text, sizeof s->text, "%s", b->text.data ? b->text.data : "");
    return 0;
}

static void parses_a_full_block(void **state)
{
    (void)state;
    const char *t = "# c\n\n@ 110/tcp official\r\nname: pop3\nnote: Mail pickup.  \nnote: Moved to 1100 sometimes.\n"
                    "alt: 1100 995\nrisk: exposure: plain-text passwords\n";
    struct seen s = {0};
    struct pk_err err = {0};
    assert_int_equal(notes_parse(t, strlen(t), "t.txt", collect, &s, &err), 0);
    assert_int_equal(s.blocks, 1);
    assert_int_equal(s.last.port, 110);
    assert_int_equal(s.last.proto_mask, PK_PROTO_MASK(PK_TCP));
    assert_true(s.last.official);
    assert_string_equal(s.name, "pop3");
    assert_string_equal(s.text, "Mail pickup.\nMoved to 1100 sometimes.");
    assert_int_equal(s.last.nalt, 2);
    assert_int_equal(s.last.alt[1], 995);
}

static void bad(const char *text, const char *expect_in_msg)
{
    struct seen s = {0};
    struct pk_err err = {0};
    assert_int_equal(notes_parse(text, strlen(text), "n.txt", collect, &s, &err), PK_EINVAL);
    if (!strstr(err.msg, expect_in_msg))
        fail_msg("message '%s' lacks '%s'", err.msg, expect_in_msg);
}

static void errors_name_file_and_line(void **state)
{
    (void)state;
    bad("@ 70000/tcp official\nname: x\nnote: y\n", "n.txt:1:");
    bad("@ 80/xtp official\nname: x\nnote: y\n", "transport");
    bad("@ 80/tcp maybe\nname: x\nnote: y\n", "kind");
    bad("@ 80/tcp official\nnote: y\n", "no 'name:'");
    bad("@ 80/tcp official\nname: x\n", "no 'note:'");
    bad("@ 80/tcp official\nname: x\nnote: y\nalt: 8080 http\n", "n.txt:4:");
    bad("@ 80/tcp official\nname: x\nbogus: y\n", "unknown key");
    bad("name: x\n", "outside a block");
    bad("@ 80/tcp official\nname: x\nname: y\nnote: z\n", "second 'name:'");
}

static void ranges_aliases_sources_and_translations(void **state)
{
    (void)state;
    const char *t = "@ 6000-6063/tcp official\nname: x11\nalias: X11 display,  Xorg ,\nalias: 图形\n"
                    "note: Display :{off}.\nrisk: exposure/tcp: open X server\nsrc: IANA; X.Org\n";
    struct seen s = {0};
    struct pk_err err = {0};
    assert_int_equal(notes_parse(t, strlen(t), "r.txt", collect, &s, &err), 0);
    assert_int_equal(s.last.port, 6000);
    assert_int_equal(s.last.port_hi, 6063);
    assert_int_equal(s.last.lang, PK_LANG_EN);
    const char *vi = "# c\nlang: vi\n@ 80/tcp\nnote: Cổng web.\n";
    memset(&s, 0, sizeof s);
    assert_int_equal(notes_parse(vi, strlen(vi), "vi.txt", collect, &s, &err), 0);
    assert_int_equal(s.blocks, 1);
    assert_int_equal(s.last.lang, PK_LANG_VI);
    assert_string_equal(s.text, "Cổng web.");
}

static void the_new_keys_are_checked(void **state)
{
    (void)state;
    bad("@ 80-70/tcp official\nname: x\nnote: y\n", "backwards");
    bad("@ 80/tcp official\nname: x\nnote: y\nrisk: virus: X\n", "unknown kind");
    bad("@ 80/tcp official\nname: x\nnote: y\nrisk: worm/udp: X\n", "transport must be one the block covers");
    bad("@ 80/tcp official\nname: x\nnote: y\nsrc: a\nsrc: b\n", "second 'src:'");
    bad("lang: vi\n@ 80/tcp\nname: x\nnote: y\n", "only 'note:'");
    bad("lang: vi\n@ 80/tcp official\nnote: y\n", "carry no kind");
    bad("@ 80/tcp official\nname: x\nnote: y\nlang: vi\n", "before the first block");
    bad("lang: fr\n", "vi or zh");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ranges_aliases_sources_and_translations),
        cmocka_unit_test(the_new_keys_are_checked),
        cmocka_unit_test(parses_a_full_block),
        cmocka_unit_test(errors_name_file_and_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
