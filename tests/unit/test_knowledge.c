/* The curated notes' newer parts: ranges, per-transport risks, aliases,
 * sources, translations, folded search, display names and the RISK rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "portkit/portinfo.h"
#include "portkit/registry.h"

static const char csv[] =
    "Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,Registration Date,"
    "Modification Date,Reference,Service Code,Unauthorized Use Reported,Assignment Notes\n"
    "x11,6000-6010,tcp,X Window System,,,,,,,Known Unauthorized Use on port 6003,\n"
    "ms-wbt-server,3389,tcp,MS WBT Server,,,,,,,,\n"
    "ms-wbt-server,3389,udp,MS WBT Server,,,,,,,,\n"
    "irdmi,8000,tcp,iRDMI,,,,,,,,\n"
    "eldim,31337,tcp,eldim,,,,,,,,\n"
    "eldim,31337,udp,eldim,,,,,,,,\n"
    "ftp,21,tcp,File Transfer,,,,,,,,\n";

static const char notes[] =
    "@ 6000-6010/tcp official\nname: x11\nnote: X11 display :{off} on port {port}.\nsrc: IANA\n"
    "@ 6000-6063/tcp de-facto\nname: wide\nnote: A wider range that loses to the narrow one.\nsrc: test\n"
    "@ 3389/tcp+udp official\nname: ms-wbt-server\nalias: Remote Desktop, 远程桌面, Máy để bàn từ xa\n"
    "note: RDP.\nrisk: exploit/tcp: BlueKeep\nrisk: exposure: weak passwords\nsrc: IANA\n"
    "@ 8000/tcp de-facto\nname: http-alt\ndisplay: http-alt\nnote: IANA lists irdmi.\nsrc: vendor documentation\n"
    "@ 31337/tcp+udp de-facto\nname: back-orifice\nalias: Back Orifice\ndisplay: BackOrifice\nnote: BO. IANA lists eldim.\n"
    "risk: trojan/udp: Back Orifice\nrisk: backdoor/tcp: elite backdoors\nsrc: 1990s trojan port lists\n"
    "@ 21/tcp official\nname: ftp\nnote: FTP.\nrisk: trojan: Doly Trojan\nsrc: IANA\n";

static struct pk_registry *build(void)
{
    struct pk_registry *reg = NULL;
    struct pk_err err = {0};
    if (pk_registry_from_text(csv, strlen(csv), notes, strlen(notes), &reg, &err))
        fail_msg("build failed: %s", err.msg);
    return reg;
}

static void range_notes_carry_the_position(void **state)
{
    (void)state;
    struct pk_registry *reg = build();
    struct pk_note n;
    assert_false(pk_registry_note(reg, 6005, PK_TCP, &n));
    assert_true(pk_registry_range_note(reg, 6005, PK_TCP, &n));
    assert_string_equal(n.name, "x11"); /* the narrowest range wins */
    assert_int_equal(n.range_lo, 6000);
    assert_int_equal(n.range_hi, 6010);
    char text[100];
    pk_note_render(n.text, 6005, n.range_lo, text, sizeof text);
    assert_string_equal(text, "X11 display :5 on port 6005.");
    pk_note_render(n.text, 6005, n.range_lo, text, 12); /* cut, still terminated */
    assert_int_equal(strlen(text), 11);
    assert_true(pk_registry_range_note(reg, 6050, PK_TCP, &n));
    assert_string_equal(n.name, "wide");
    assert_false(pk_registry_range_note(reg, 6005, PK_UDP, &n));
    assert_int_equal(pk_registry_range_count(reg), 2);
    /* IANA's range-wide remark names 6003: it belongs to 6003 only */
    struct pk_portinfo pi;
    pk_portinfo_get(reg, NULL, 6003, PK_TCP, &pi);
    struct pk_service sv;
    pk_registry_get(reg, pi.first, &sv);
    assert_string_equal(sv.unauthorized_use, "Known Unauthorized Use on port 6003");
    pk_portinfo_get(reg, NULL, 6004, PK_TCP, &pi);
    pk_registry_get(reg, pi.first, &sv);
    assert_string_equal(sv.unauthorized_use, "");
    assert_true(pi.has_range);
    pk_registry_free(reg);
}

static void risks_stay_on_their_transport(void **state)
{
    (void)state;
    struct pk_registry *reg = build();
    struct pk_note n;
    assert_true(pk_registry_note(reg, 3389, PK_TCP, &n));
    assert_string_equal(n.risk, "exploit: BlueKeep\nexposure: weak passwords");
    assert_string_equal(n.source, "IANA");
    assert_true(pk_registry_note(reg, 3389, PK_UDP, &n));
    assert_string_equal(n.risk, "exposure: weak passwords");
    assert_true(pk_registry_note(reg, 31337, PK_UDP, &n));
    assert_string_equal(n.risk, "trojan: Back Orifice");
    pk_registry_free(reg);
}

static void display_names_and_the_risk_flag(void **state)
{
    (void)state;
    struct pk_registry *reg = build();
    assert_string_equal(pk_registry_name(reg, 8000, PK_TCP), "irdmi");
    assert_string_equal(pk_registry_display_name(reg, 8000, PK_TCP), "http-alt");
    assert_string_equal(pk_registry_display_name(reg, 31337, PK_UDP), "BackOrifice");
    assert_string_equal(pk_registry_display_name(reg, 3389, PK_TCP), "ms-wbt-server");
    assert_string_equal(pk_registry_display_name(reg, 6005, PK_TCP), "x11");
    assert_null(pk_registry_display_name(reg, 7, PK_TCP));
    /* trojan/backdoor ports flag, unless the listener is the port's legitimate service */
    assert_true(pk_registry_risk_flag(reg, 31337, PK_UDP, NULL));
    assert_true(pk_registry_risk_flag(reg, 31337, PK_TCP, "nc"));
    assert_false(pk_registry_risk_flag(reg, 31337, PK_TCP, "eldim"));
    assert_false(pk_registry_risk_flag(reg, 31337, PK_TCP, "ELDIM"));
    /* ftp's old trojans hid behind a real service: no flag; nor do exploits */
    assert_false(pk_registry_is_risky(reg, 21, PK_TCP));
    assert_false(pk_registry_is_risky(reg, 3389, PK_TCP));
    assert_false(pk_registry_is_risky(reg, 8000, PK_TCP));
    pk_registry_free(reg);
}

static void folded_search_and_aliases(void **state)
{
    (void)state;
    size_t len = 0;
    const char *hay = "Vietnamese: Võ Lâm Truyền Kỳ";
    const char *m = pk_text_find(hay, "vo lam", &len);
    assert_ptr_equal(m, hay + 12);
    assert_int_equal(len, strlen("Võ Lâm"));
    assert_non_null(pk_text_find(hay, "VÕ LÂM", NULL));
    assert_non_null(pk_text_find(hay, "truyen ky", NULL));
    assert_non_null(pk_text_find("Đế Chế", "de che", NULL));
    assert_non_null(pk_text_find("Tencent QQ", "ＱＱ", NULL)); /* full-width */
    assert_non_null(pk_text_find("木马冰河开放此端口", "冰河", NULL));
    assert_null(pk_text_find("冰山", "冰河", NULL));
    assert_null(pk_text_find("abc", "", NULL));
    assert_null(pk_text_find("a\xff", "b", NULL)); /* stray bytes never crash or match */

    struct pk_registry *reg = build();
    struct pk_port_proto found[8];
    assert_int_equal(pk_registry_search(reg, "may de ban", found, 8), 2);
    assert_int_equal(found[0].port, 3389);
    assert_int_equal(pk_registry_search(reg, "远程桌面", found, 8), 2);
    assert_int_equal(pk_registry_find_name(reg, "remote desktop", found, 8), 2);
    assert_int_equal(pk_registry_find_name(reg, "Remote", found, 8), 0); /* whole alias only */
    assert_int_equal(pk_registry_find_name(reg, "wide", found, 8), 1);  /* a range by its first port */
    assert_int_equal(found[0].port, 6000);
    assert_int_equal(pk_registry_search(reg, "loses to the narrow", found, 8), 1);
    pk_registry_free(reg);
}

static void languages_and_translations(void **state)
{
    (void)state;
    enum pk_lang lang;
    assert_int_equal(pk_lang_parse("vi_VN.UTF-8", &lang), 0);
    assert_int_equal(lang, PK_LANG_VI);
    assert_int_equal(pk_lang_parse("zh_CN", &lang), 0);
    assert_int_equal(lang, PK_LANG_ZH);
    assert_int_equal(pk_lang_parse("C.UTF-8", &lang), 0);
    assert_int_equal(lang, PK_LANG_EN);
    assert_int_equal(pk_lang_parse("fr_FR", &lang), PK_EINVAL);
    setenv("LC_ALL", "", 1);
    setenv("LC_MESSAGES", "zh_TW.UTF-8", 1);
    setenv("LANG", "vi_VN.UTF-8", 1);
    assert_int_equal(pk_lang_from_env(), PK_LANG_ZH);
    unsetenv("LC_MESSAGES");
    assert_int_equal(pk_lang_from_env(), PK_LANG_VI);
    setenv("LANG", "de_DE", 1);
    assert_int_equal(pk_lang_from_env(), PK_LANG_EN);

    const struct pk_registry *reg = pk_registry_builtin();
    struct pk_note n;
    assert_true(pk_registry_note(reg, 3389, PK_TCP, &n));
    assert_non_null(strstr(pk_note_text(&n, PK_LANG_VI), "Máy để bàn từ xa"));
    assert_non_null(strstr(pk_note_text(&n, PK_LANG_ZH), "远程桌面"));
    assert_ptr_equal(pk_note_text(&n, PK_LANG_EN), n.text);
    assert_true(pk_registry_note(reg, 27017, PK_TCP, &n)); /* untranslated: English */
    assert_ptr_equal(pk_note_text(&n, PK_LANG_ZH), n.text);
}

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/pk-notes-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void a_translation_needs_its_english_block(void **state)
{
    (void)state;
    char *csv_path = write_tmp(csv);
    char *en = write_tmp("@ 21/tcp official\nname: ftp\nnote: FTP.\nsrc: IANA\n");
    char *vi = write_tmp("# comment\nlang: vi\n@ 21/tcp\nnote: FTP bằng tiếng Việt.\n");
    char *orphan = write_tmp("lang: zh\n@ 22/tcp\nnote: 没有英文块。\n");
    struct pk_registry *reg = NULL;
    struct pk_err err = {0};
    const char *ok[] = {vi, en}; /* order does not matter */
    assert_int_equal(pk_registry_load_csv(csv_path, ok, 2, &reg, &err), 0);
    struct pk_note n;
    assert_true(pk_registry_note(reg, 21, PK_TCP, &n));
    assert_string_equal(pk_note_text(&n, PK_LANG_VI), "FTP bằng tiếng Việt.");
    assert_string_equal(pk_note_text(&n, PK_LANG_ZH), "FTP.");
    pk_registry_free(reg);
    reg = NULL;
    const char *bad[] = {en, orphan};
    assert_int_equal(pk_registry_load_csv(csv_path, bad, 2, &reg, &err), PK_EINVAL);
    assert_null(reg);
    assert_non_null(strstr(err.msg, "zh translation of 22/tcp has no English block"));
    assert_non_null(strstr(err.msg, ":2:"));
    unlink(csv_path), unlink(en), unlink(vi), unlink(orphan);
    free(csv_path), free(en), free(vi), free(orphan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(range_notes_carry_the_position),
        cmocka_unit_test(risks_stay_on_their_transport),
        cmocka_unit_test(display_names_and_the_risk_flag),
        cmocka_unit_test(folded_search_and_aliases),
        cmocka_unit_test(languages_and_translations),
        cmocka_unit_test(a_translation_needs_its_english_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
