/* Unit tests for the PutRecord / PutRecordBatch parser: every malformed
 * shape gets the right error type and a message, valid input decodes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../delivery/jscan.h"

static struct jscan_put put;

static enum jscan_error parse(const char *json, int batch, struct err *e)
{
    static char body[1 << 23];
    size_t n = strlen(json);

    assert_true(n < sizeof(body));
    memcpy(body, json, n + 1);
    return jscan_parse_put(body, n, batch, &put, e);
}

static void expect(const char *json, int batch, enum jscan_error want,
                   const char *msg_part)
{
    struct err e = { 0, "" };
    enum jscan_error got = parse(json, batch, &e);

    if (got != want || (msg_part && strstr(e.msg, msg_part) == NULL))
        fail_msg("%.200s: got %d '%s', want %d '%s'", json, got, e.msg, want,
                 msg_part ? msg_part : "");
}

static void test_put_record(void **state)
{
    struct err e;

    (void)state;
    assert_int_equal(parse("{\"DeliveryStreamName\": \"ds1\", \"Record\": "
                           "{\"Data\": \"eyJhIjoxfQ==\"}}", 0, &e), JSCAN_OK);
    assert_int_equal(put.n, 1);
    assert_int_equal(put.recs[0].iov_len, 7);
    assert_memory_equal(put.recs[0].iov_base, "{\"a\":1}", 7);
    assert_string_equal(put.stream, "ds1");
    assert_int_equal(put.bytes, 7);
}

static void test_put_batch(void **state)
{
    struct err e;

    (void)state;
    assert_int_equal(parse("{\"DeliveryStreamName\":\"s.1_-\",\"Records\":["
                           "{\"Data\":\"eyJhIjoxfQo=\"},{\"Data\":\"\"},"
                           "{\"Data\":\"YQ==\",\"Extra\":[1,2,{\"x\":null}]}"
                           "],\"Unknown\":true}", 1, &e), JSCAN_OK);
    assert_int_equal(put.n, 3);
    assert_int_equal(put.recs[0].iov_len, 8);
    assert_int_equal(put.recs[1].iov_len, 0);
    assert_int_equal(put.recs[2].iov_len, 1);
    assert_memory_equal(put.recs[2].iov_base, "a", 1);
}

static void test_escapes(void **state)
{
    struct err e;

    (void)state;
    /* JSON escapes inside base64 ("\/" and \u002B) are legal JSON. */
    assert_int_equal(parse("{\"DeliveryStreamName\":\"d\\u0073\",\"Record\":"
                           "{\"Data\":\"\\/\\/\\u002B\\u002B\"}}", 0, &e),
                     JSCAN_OK);
    assert_string_equal(put.stream, "ds");
    assert_int_equal(put.recs[0].iov_len, 3);
    assert_memory_equal(put.recs[0].iov_base, "\xff\xff\xbe", 3);
    /* An escape past the 8-byte fast scan, and a quote inside a skipped
     * member's long string. */
    assert_int_equal(parse("{\"x\":\"0123456789abcdef\\\"0123456789\","
                           "\"DeliveryStreamName\":\"ds\",\"Record\":"
                           "{\"Data\":\"QUFBQUFBQUFBQUFB\\/\\/\\/\\/\"}}", 0,
                           &e), JSCAN_OK);
    assert_int_equal(put.recs[0].iov_len, 15);
    assert_memory_equal(put.recs[0].iov_base, "AAAAAAAAAAAA\xff\xff\xff", 15);
}

static void test_malformed(void **state)
{
    (void)state;
    expect("", 1, JSCAN_SERIALIZATION, "JSON object");
    expect("[]", 1, JSCAN_SERIALIZATION, NULL);
    expect("{", 1, JSCAN_SERIALIZATION, NULL);
    expect("{\"DeliveryStreamName\":\"a\",}", 1, JSCAN_SERIALIZATION, NULL);
    expect("{\"DeliveryStreamName\":\"a\"} x", 1, JSCAN_SERIALIZATION,
           "after");
    expect("{\"DeliveryStreamName\":\"a", 1, JSCAN_SERIALIZATION,
           "Unterminated");
    expect("{\"DeliveryStreamName\":\"a\\q\"}", 1, JSCAN_SERIALIZATION,
           "escape");
    expect("{\"DeliveryStreamName\":\"a\\ud800\"}", 1, JSCAN_SERIALIZATION,
           "escape");
    expect("{\"DeliveryStreamName\":\"a\x01\"}", 1, JSCAN_SERIALIZATION,
           "control");
    expect("{\"DeliveryStreamName\":5,\"Records\":[]}", 1,
           JSCAN_SERIALIZATION, "string");
    expect("{\"DeliveryStreamName\":\"a\",\"Records\":{}}", 1,
           JSCAN_SERIALIZATION, "array");
    expect("{\"DeliveryStreamName\":\"a\",\"Records\":[5]}", 1,
           JSCAN_SERIALIZATION, "object");
    expect("{\"DeliveryStreamName\":\"a\",\"Records\":[{\"Data\":5}]}", 1,
           JSCAN_SERIALIZATION, "base64 string");
    expect("{\"DeliveryStreamName\":\"a\",\"x\":01}", 1, JSCAN_SERIALIZATION,
           NULL);
    expect("{\"DeliveryStreamName\":\"a\",\"x\":tru}", 1,
           JSCAN_SERIALIZATION, NULL);
    expect("{\"DeliveryStreamName\":\"a\",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[["
           "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]"
           "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
           1, JSCAN_SERIALIZATION, "deeply");
}

static void test_bad_base64(void **state)
{
    (void)state;
    expect("{\"DeliveryStreamName\":\"a\",\"Record\":{\"Data\":\"abc\"}}", 0,
           JSCAN_SERIALIZATION, "base64");
    expect("{\"DeliveryStreamName\":\"a\",\"Record\":{\"Data\":\"ab!d\"}}", 0,
           JSCAN_SERIALIZATION, "base64");
    expect("{\"DeliveryStreamName\":\"a\",\"Record\":{\"Data\":\"a=bc\"}}", 0,
           JSCAN_SERIALIZATION, "base64");
    expect("{\"DeliveryStreamName\":\"a\",\"Record\":{\"Data\":\"ab=c\"}}", 0,
           JSCAN_SERIALIZATION, "base64");
    expect("{\"DeliveryStreamName\":\"a\",\"Record\":{\"Data\":\"YQ==YQ==\"}}",
           0, JSCAN_SERIALIZATION, "base64");
    expect("{\"DeliveryStreamName\":\"a\",\"Record\":{\"Data\":\"YQ-_\"}}", 0,
           JSCAN_SERIALIZATION, "base64");
}

static void test_validation(void **state)
{
    (void)state;
    expect("{\"Records\":[{\"Data\":\"\"}]}", 1, JSCAN_VALIDATION,
           "deliveryStreamName");
    expect("{\"DeliveryStreamName\":\"bad name\",\"Records\":[{\"Data\":\"\"}"
           "]}", 1, JSCAN_VALIDATION, "regular expression");
    expect("{\"DeliveryStreamName\":\"\",\"Records\":[{\"Data\":\"\"}]}", 1,
           JSCAN_VALIDATION, "deliveryStreamName");
    expect("{\"DeliveryStreamName\":\"a\"}", 1, JSCAN_VALIDATION,
           "'records'");
    expect("{\"DeliveryStreamName\":\"a\"}", 0, JSCAN_VALIDATION, "'record'");
    expect("{\"DeliveryStreamName\":\"a\",\"Records\":[]}", 1,
           JSCAN_VALIDATION, "greater than or equal to 1");
    expect("{\"DeliveryStreamName\":\"a\",\"Records\":[{}]}", 1,
           JSCAN_VALIDATION, "records.1.member.data");
    expect("{\"DeliveryStreamName\":\"a\",\"Record\":{\"Data\":null}}", 0,
           JSCAN_VALIDATION, "must not be null");
}

/* A JSON body of n records each of 'size' decoded bytes. */
static char *make_batch(size_t n, size_t size)
{
    static const char head[] = "{\"DeliveryStreamName\":\"a\",\"Records\":[";
    size_t b64 = (size + 2) / 3 * 4;
    size_t cap = sizeof(head) + n * (b64 + 16) + 4;
    char *s = malloc(cap), *w;

    if (s == NULL)
        fail_msg("out of memory");
    w = s;
    memcpy(w, head, sizeof(head) - 1);
    w += sizeof(head) - 1;
    for (size_t i = 0; i < n; i++) {
        if (i)
            *w++ = ',';
        memcpy(w, "{\"Data\":\"", 9);
        w += 9;
        memset(w, 'Q', b64);
        w += b64;
        memcpy(w, "\"}", 2);
        w += 2;
    }
    memcpy(w, "]}", 3);
    return s;
}

static void test_limits(void **state)
{
    char *s;

    (void)state;
    s = make_batch(500, 3);
    expect(s, 1, JSCAN_OK, NULL);
    assert_int_equal(put.n, 500);
    free(s);
    s = make_batch(501, 3);
    expect(s, 1, JSCAN_VALIDATION, "less than or equal to 500");
    free(s);
    /* Unpadded base64 decodes to a multiple of 3 bytes. */
    s = make_batch(1, 1023999);
    expect(s, 1, JSCAN_OK, NULL);
    free(s);
    s = make_batch(1, 1024002);
    expect(s, 1, JSCAN_VALIDATION, "1024000");
    free(s);
    /* 5 x 900,000 bytes: each record fine, the call over 4 MiB. */
    s = make_batch(5, 900000);
    expect(s, 1, JSCAN_INVALID_ARGUMENT, "Records size exceeds 4 MB limit");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_record),
        cmocka_unit_test(test_put_batch),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_bad_base64),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests_name("jscan", tests, NULL, NULL);
}
