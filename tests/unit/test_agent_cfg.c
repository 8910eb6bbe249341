/* test_agent_cfg.c - the agent's config: accepted shapes and every kind of
 * refusal, each naming the key and the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../agent/acfg.h"

static void bad(const char *json, const char *needle1, const char *needle2)
{
    struct acfg c;
    struct err e = { 0, "" };

    if (acfg_parse(&c, json, strlen(json), "agent.json", &e) == 0) {
        acfg_release(&c);
        fail_msg("accepted: %s", json);
    }
    if (strstr(e.msg, needle1) == NULL ||
        (needle2 != NULL && strstr(e.msg, needle2) == NULL))
        fail_msg("message '%s' lacks '%s' / '%s'", e.msg, needle1,
                 needle2 ? needle2 : "");
    assert_true(strncmp(e.msg, "agent.json: ", 12) == 0);
}

#define FLOW(extra) "{\"flows\":[{\"filePattern\":\"/tmp/x/*.log\"," \
    "\"deliveryStream\":\"s\"" extra "}]}"

static void test_full(void **state)
{
    const char *j = "{\"firehose.endpoint\":\"http://127.0.0.1:4573\","
        "\"checkpointFile\":\"/tmp/ck\",\"firehose.region\":\"eu-west-1\","
        "\"awsAccessKeyId\":\"AK\",\"awsSecretAccessKey\":\"SK\","
        "\"cloudwatch.emitMetrics\":false,\"maxLineBytesAction\":\"skip\","
        "\"flows\":[{\"filePattern\":\"/var/log/app/*.log*\","
        "\"deliveryStream\":\"default\",\"initialPosition\":\"START_OF_FILE\","
        "\"multiLineStartPattern\":\"^\\\\d{4}-\",\"maxBufferAgeMillis\":1000,"
        "\"maxBufferSizeRecords\":500,\"maxBufferSizeBytes\":1000,"
        "\"truncatedRecordTerminator\":\"|\\n\",\"skipHeaderLines\":2},"
        "{\"filePattern\":\"b*\",\"deliveryStream\":\"two\","
        "\"maxLineBytesAction\":\"split\"}]}";
    struct acfg c;
    struct err e = { 0, "" };

    (void)state;
    if (acfg_parse(&c, j, strlen(j), "agent.json", &e) != 0)
        fail_msg("%s", e.msg);
    assert_string_equal(c.endpoint, "http://127.0.0.1:4573");
    assert_string_equal(c.region, "eu-west-1");
    assert_int_equal(c.n_flows, 2);
    assert_true(c.flows[0].start_of_file);
    assert_int_equal(c.flows[0].max_age_ms, 1000);
    assert_int_equal(c.flows[0].max_bytes, 1000);
    assert_int_equal(c.flows[0].skip_header_lines, 2);
    assert_true(c.flows[0].skip_long);
    assert_false(c.flows[1].skip_long);
    assert_int_equal(c.flows[0].trunc_term_len, 2);
    /* \d was rewritten for POSIX ERE. */
    assert_true(c.flows[0].has_multiline);
    assert_int_equal(regexec(&c.flows[0].multiline, "2024-01-01 x", 0, NULL,
                             0), 0);
    assert_int_not_equal(regexec(&c.flows[0].multiline, "  at x", 0, NULL,
                                 0), 0);
    /* Defaults. */
    assert_false(c.flows[1].start_of_file);
    assert_int_equal(c.flows[1].max_records, 500);
    assert_int_equal(c.flows[1].max_bytes, 4u << 20);
    assert_int_equal(c.flows[1].max_age_ms, 60000);
    assert_string_equal(c.flows[1].trunc_term, "\n");
    acfg_release(&c);
}

static void test_errors(void **state)
{
    (void)state;
    bad("{", "line 1", NULL);
    bad("[]", "must be an object", NULL);
    bad("{}", "flows", "required");
    bad("{\"flows\":[]}", "flows", "non-empty");
    bad("{\"flows\":[{}]}", "flows[0].filePattern", "required");
    bad("{\"flows\":[{\"filePattern\":\"a\"}]}", "deliveryStream",
        "required");
    bad("{\"flow\":[]}", "flow", "unknown key");
    bad(FLOW(",\"FilePattern\":\"x\""), "did you mean \"filePattern\"",
        NULL);
    bad(FLOW(",\"kinesisStream\":\"k\""), "kinesisStream", "deliveryStream");
    bad(FLOW(",\"initialPosition\":\"start\""), "initialPosition",
        "START_OF_FILE");
    bad(FLOW(",\"maxBufferSizeRecords\":501"), "maxBufferSizeRecords",
        "above the maximum 500");
    bad(FLOW(",\"maxBufferSizeRecords\":\"5\""), "must be an integer", NULL);
    bad(FLOW(",\"maxBufferSizeBytes\":4194305"), "maxBufferSizeBytes",
        "above");
    bad(FLOW(",\"maxBufferAgeMillis\":0"), "maxBufferAgeMillis", "below");
    bad(FLOW(",\"multiLineStartPattern\":\"(\""), "multiLineStartPattern",
        "not a POSIX");
    bad(FLOW(",\"maxLineBytesAction\":\"drop\""), "maxLineBytesAction",
        "\"split\" or \"skip\"");
    bad(FLOW(",\"skipHeaderLines\":-1"), "skipHeaderLines", "below");
    bad("{\"flows\":[{\"filePattern\":\"/x/\",\"deliveryStream\":\"s\"}]}",
        "names a directory", NULL);
    bad("{\"flows\":[{\"filePattern\":\"a\",\"deliveryStream\":\"s p\"}]}",
        "deliveryStream", "outside");
    bad("{\"flows\":[{\"filePattern\":\"a\",\"deliveryStream\":\"s\"},"
        "{\"filePattern\":\"a\",\"deliveryStream\":\"t\"}]}",
        "flows[1].filePattern", "one flow only");
    bad("{\"firehose.endpoint\":\"127.0.0.1:4573\",\"flows\":[]}",
        "firehose.endpoint", "http://");
    bad("{\"awsAccessKeyId\":\"A\",\"flows\":[]}", "awsSecretAccessKey",
        "required");
    bad("{\"kinesis.endpoint\":\"http://x\",\"flows\":[]}", "not supported",
        NULL);
    bad("{\"checkpointFile\":1,\"flows\":[]}", "checkpointFile",
        "must be a string");
    bad("{\"flows\":[{\"filePattern\":\"a\",\"filePattern\":\"b\"}]}",
        "duplicate", NULL);
}

static void test_load_missing(void **state)
{
    struct acfg c;
    struct err e = { 0, "" };

    (void)state;
    assert_int_equal(acfg_load(&c, "/nonexistent/agent.json", &e), -1);
    assert_non_null(strstr(e.msg, "/nonexistent/agent.json"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_load_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
