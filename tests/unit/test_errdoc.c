/* Failed-record documents: Firehose's field names and order, base64 of the
 * original bytes, escaping, one JSON object per line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "../../delivery/errdoc.h"

static void test_processing_failed(void **state)
{
    struct buf b = { 0 };
    struct err e;
    struct errdoc d = {
        .attempts = 1, .arrival_ms = 1789014240448,
        .code = "Lua.ProcessingFailedStatus",
        .message = "ProcessingFailed status set for record",
        .message_len = 38, .ending_ms = 1789014301529,
        .raw = (const unsigned char *)"FAIL this one\n", .raw_len = 14,
        .lambda_arn = "redact.lua",
    };

    (void)state;
    assert_int_equal(errdoc_append(&b, &d, &e), 0);
    assert_int_equal(b.p[b.len - 1], '\n');
    buf_append(&b, "", 1, &e);
    assert_string_equal((char *)b.p,
        "{\"attemptsMade\":1,\"arrivalTimestamp\":1789014240448,"
        "\"errorCode\":\"Lua.ProcessingFailedStatus\",\"errorMessage\":"
        "\"ProcessingFailed status set for record\","
        "\"attemptEndingTimestamp\":1789014301529,\"rawData\":"
        "\"RkFJTCB0aGlzIG9uZQo=\",\"lambdaARN\":\"redact.lua\"}\n");
    buf_release(&b);
}

static void test_escaping_and_binary(void **state)
{
    struct buf b = { 0 };
    struct err e;
    json_error_t je;
    json_t *j;
    const char msg[] = "bad \"x\"\\\n\x01\xff end";
    unsigned char raw[3] = { 0, 0xff, '\n' };
    struct errdoc d = {
        .attempts = 4, .arrival_ms = 1, .code = "Lua.RuntimeError",
        .message = msg, .message_len = sizeof(msg) - 1, .ending_ms = 2,
        .raw = raw, .raw_len = 3, .lambda_arn = NULL,
    };

    (void)state;
    assert_int_equal(errdoc_append(&b, &d, &e), 0);
    assert_int_equal(errdoc_append(&b, &d, &e), 0);
    /* Two lines, each a JSON object; no lambdaARN when none is given. */
    j = json_loadb((char *)b.p, (size_t)((unsigned char *)memchr(
                       b.p, '\n', b.len) - b.p), 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "rawData")),
                        "AP8K");
    assert_null(json_object_get(j, "lambdaARN"));
    assert_int_equal(json_integer_value(json_object_get(j, "attemptsMade")),
                     4);
    assert_non_null(strstr(json_string_value(json_object_get(
        j, "errorMessage")), "bad \"x\"\\\n\x01"));
    json_decref(j);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_processing_failed),
        cmocka_unit_test(test_escaping_and_binary),
    };
    return cmocka_run_group_tests_name("errdoc", tests, NULL, NULL);
}
