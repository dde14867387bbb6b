#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "portkit/json.h"

static void objects_arrays_and_commas(void **state)
{
    (void)state;
    struct pk_buf b = PK_BUF_INIT;
    struct pk_json j;
    pk_json_init(&j, &b);
    pk_json_obj_begin(&j, NULL);
    pk_json_int(&j, "port", 80);
    pk_json_str(&j, "name", NULL);
    pk_json_arr_begin(&j, "a");
    pk_json_str(&j, NULL, "x");
    pk_json_bool(&j, NULL, true);
    pk_json_arr_end(&j);
    pk_json_arr_begin(&j, "empty");
    pk_json_arr_end(&j);
    pk_json_double(&j, "rtt", 1.5, 2);
    pk_json_obj_end(&j);
    assert_string_equal(b.data, "{\"port\":80,\"name\":null,\"a\":[\"x\",true],\"empty\":[],\"rtt\":1.50}");
    pk_buf_free(&b);
}

static void escaping_keeps_output_valid(void **state)
{
    (void)state;
    struct pk_buf b = PK_BUF_INIT;
    const char in[] = "q\"b\\n\n\x01\x1b[31m \xc3\xa9 \xff end";
    pk_json_escape(&b, in, sizeof in - 1);
    assert_string_equal(b.data, "\"q\\\"b\\\\n\\n\\u0001\\u001b[31m \xc3\xa9 \\ufffd end\"");
    pk_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(objects_arrays_and_commas),
        cmocka_unit_test(escaping_keeps_output_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
