#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/csv.h"

static void expect_row(struct csv_reader *c, size_t n, const char *const *fields)
{
    struct pk_err err = {0};
    assert_int_equal(csv_next(c, &err), 1);
    assert_int_equal(c->nfields, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(c->field[i], fields[i]);
        assert_int_equal(c->len[i], strlen(fields[i]));
    }
}

static void plain_rows_lf_and_crlf(void **state)
{
    (void)state;
    const char *text = "a,b,c\r\n1,,3\n";
    struct csv_reader c;
    csv_init(&c, text, strlen(text));
    expect_row(&c, 3, (const char *[]){"a", "b", "c"});
    assert_int_equal(c.line, 1);
    expect_row(&c, 3, (const char *[]){"1", "", "3"});
    assert_int_equal(c.line, 2);
    assert_int_equal(csv_next(&c, NULL), 0);
    csv_free(&c);
}

static void quotes_commas_and_line_breaks(void **state)
{
    (void)state;
    const char *text = "x,\"say \"\"hi\"\", ok\",\"two\nlines\"\nnext,row";
    struct csv_reader c;
    csv_init(&c, text, strlen(text));
    expect_row(&c, 3, (const char *[]){"x", "say \"hi\", ok", "two\nlines"});
    /* the quoted line break counts: the next row starts on line 3 */
    expect_row(&c, 2, (const char *[]){"next", "row"});
    assert_int_equal(c.line, 3);
    assert_int_equal(csv_next(&c, NULL), 0);
    csv_free(&c);
}

static void empty_fields_and_trailing_comma(void **state)
{
    (void)state;
    const char *text = ",,\n\"\",x,";
    struct csv_reader c;
    csv_init(&c, text, strlen(text));
    expect_row(&c, 3, (const char *[]){"", "", ""});
    expect_row(&c, 3, (const char *[]){"", "x", ""});
    csv_free(&c);
}

static void unclosed_quote_is_an_error_naming_the_line(void **state)
{
    (void)state;
    const char *text = "a\nb,\"never closed\n";
    struct csv_reader c;
    struct pk_err err = {0};
    csv_init(&c, text, strlen(text));
    assert_int_equal(csv_next(&c, &err), 1);
    assert_int_equal(csv_next(&c, &err), PK_EINVAL);
    assert_non_null(strstr(err.msg, "line 2"));
    csv_free(&c);
}

static void junk_after_closing_quote_is_an_error(void **state)
{
    (void)state;
    const char *text = "\"a\"b,c\n";
    struct csv_reader c;
    struct pk_err err = {0};
    csv_init(&c, text, strlen(text));
    assert_int_equal(csv_next(&c, &err), PK_EINVAL);
    assert_non_null(strstr(err.msg, "after closing quote"));
    csv_free(&c);
}

static void too_many_fields_are_dropped_not_overflowed(void **state)
{
    (void)state;
    char text[CSV_MAX_FIELDS * 4 + 16] = "";
    for (int i = 0; i < CSV_MAX_FIELDS + 5; i++)
        strcat(text, "f,");
    struct csv_reader c;
    csv_init(&c, text, strlen(text));
    assert_int_equal(csv_next(&c, NULL), 1);
    assert_int_equal(c.nfields, CSV_MAX_FIELDS);
    csv_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_rows_lf_and_crlf),
        cmocka_unit_test(quotes_commas_and_line_breaks),
        cmocka_unit_test(empty_fields_and_trailing_comma),
        cmocka_unit_test(unclosed_quote_is_an_error_naming_the_line),
        cmocka_unit_test(junk_after_closing_quote_is_an_error),
        cmocka_unit_test(too_many_fields_are_dropped_not_overflowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
