/* test_keys.c - Prefix / ErrorOutputPrefix validation and object keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../destinations/keys.h"

#define T_2018_08_27_1030   1535365800000LL     /* spec §4.3 examples */
#define T_2018_01_05_030405 1515121445000LL
#define T_2018_07_01_10     1530439200000LL
#define T_2018_12_31_20     1546286400000LL
#define T_2100_01_15_10     4103690400000LL
#define T_2100_07_01_10     4118119200000LL

/* ---- validation ------------------------------------------------------ */

static void ok(const char *p, const char *ep, int dp)
{
    struct err e = { 0 };
    int rc = keys_validate(p, ep, dp, &e);

    if (rc != 0)
        fail_msg("'%s' / '%s' (dp %d) rejected: %s", p ? p : "(null)",
                 ep ? ep : "(null)", dp, e.msg);
}

/* Rejected with ERR_INVAL and a message containing every needle. */
static void bad(const char *p, const char *ep, int dp, const char *needle1,
                const char *needle2)
{
    struct err e = { 0 };

    if (keys_validate(p, ep, dp, &e) != -1)
        fail_msg("'%s' / '%s' (dp %d) accepted", p, ep, dp);
    assert_int_equal(e.code, ERR_INVAL);
    if (strstr(e.msg, needle1) == NULL
        || (needle2 != NULL && strstr(e.msg, needle2) == NULL))
        fail_msg("message '%s' lacks '%s' / '%s'", e.msg, needle1,
                 needle2 ? needle2 : "");
}

static void test_validate_good(void **state)
{
    (void)state;
    ok(NULL, NULL, 0);
    ok("", "", 0);
    ok("logs", "", 0);
    ok("logs/", "errors/", 0);
    ok("/leading/slash/", "", 0);           /* no evidence AWS rejects it */
    ok("a}b{c!d", "", 0);                   /* only "!{" is special */
    ok("p/!{timestamp:yyyy}/!{timestamp:MM}/",
       "e/!{firehose:error-output-type}/", 0);
    ok("p/year=!{timestamp:yyyy}/r=!{firehose:random-string}/",
       "fail/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/", 0);
    ok("!{timestamp:'year='yyyy'/month='MM'/'}",
       "!{firehose:error-output-type}", 0);
    ok("!{timestamp:yy-M-d-H-m-s-DDD-D-''}", "!{firehose:error-output-type}",
       0);
    ok("", "f/!{firehose:error-output-type}/!{firehose:random-string}/", 0);
    ok("d/!{partitionKeyFromQuery:customer_id}/!{partitionKeyFromLambda:a-1}/",
       "err/!{firehose:error-output-type}/", 1);
}

static void test_validate_syntax(void **state)
{
    (void)state;
    bad("a/!{timestamp:yyyy", "e/", 0, "Prefix", "no closing '}'");
    bad("a/!{timestamp:!{timestamp:yyyy}}", "e/", 0, "position 2", NULL);
    bad("", "e/!{firehose:error-output-type", 0, "ErrorOutputPrefix",
        "no closing");
    bad("!{foo:bar}", "e/!{firehose:error-output-type}", 0, "!{foo:bar}",
        "unknown namespace");
    bad("!{Timestamp:yyyy}", "e/!{firehose:error-output-type}", 0,
        "unknown namespace", NULL);
    bad("!{timestamp}", "e/!{firehose:error-output-type}", 0, "!{timestamp}",
        "namespace:value");
    bad("!{firehose:uuid}", "e/!{firehose:error-output-type}", 0,
        "!{firehose:uuid}", "random-string");
    bad("!{timestamp:}", "e/!{firehose:error-output-type}", 0, "Prefix",
        "pattern");
}

static void test_validate_timestamp(void **state)
{
    (void)state;
    bad("!{timestamp:yyyy-QQ}", "e/!{firehose:error-output-type}", 0,
        "letter 'Q'", "Prefix");
    bad("!{timestamp:EEE}", "e/!{firehose:error-output-type}", 0,
        "letter 'E'", NULL);
    bad("!{timestamp:hh}", "e/!{firehose:error-output-type}", 0,
        "letter 'h'", NULL);
    bad("!{timestamp:MMM}", "e/!{firehose:error-output-type}", 0,
        "too many", "'M'");
    bad("!{timestamp:yyyyy}", "e/!{firehose:error-output-type}", 0,
        "too many", NULL);
    bad("!{timestamp:DDDD}", "e/!{firehose:error-output-type}", 0,
        "too many", NULL);
    bad("!{timestamp:'year=yyyy}", "e/!{firehose:error-output-type}", 0,
        "unterminated quote", NULL);
    bad("!{timestamp:yyyy[MM]}", "e/!{firehose:error-output-type}", 0,
        "reserved", NULL);
    bad("", "e/!{firehose:error-output-type}/!{timestamp:yyyy-ww}/", 0,
        "ErrorOutputPrefix", "letter 'w'");
}

static void test_validate_placement(void **state)
{
    (void)state;
    bad("p/!{firehose:error-output-type}/", "e/!{firehose:error-output-type}",
        0, "Prefix: expression '!{firehose:error-output-type}'",
        "only allowed in ErrorOutputPrefix");
    bad("p/!{partitionKeyFromQuery:k}/", "e/!{firehose:error-output-type}",
        0, "!{partitionKeyFromQuery:k}", "dynamic partitioning");
    bad("p/!{partitionKeyFromLambda:k}/", "e/!{firehose:error-output-type}",
        0, "!{partitionKeyFromLambda:k}", "dynamic partitioning");
    bad("p/!{partitionKeyFromQuery:k}/",
        "e/!{firehose:error-output-type}/!{partitionKeyFromQuery:k}", 1,
        "ErrorOutputPrefix", "not allowed in ErrorOutputPrefix");
    bad("p/!{partitionKeyFromQuery:}/", "e/!{firehose:error-output-type}", 1,
        "needs a partition key name", NULL);
    bad("p/!{partitionKeyFromQuery:a.b}/", "e/!{firehose:error-output-type}",
        1, "invalid partition key name", NULL);
}

static void test_validate_pairs(void **state)
{
    (void)state;
    bad("p/!{timestamp:yyyy}/", "", 0,
        "ErrorOutputPrefix can't be null when Prefix contains expressions",
        NULL);
    bad("p/!{firehose:random-string}/", NULL, 0, "can't be null", NULL);
    bad("p/", "e/!{timestamp:yyyy}/", 0,
        "ErrorOutputPrefix must contain !{firehose:error-output-type}", NULL);
    /* A static ErrorOutputPrefix is enough for a Prefix with expressions. */
    ok("p/!{timestamp:yyyy}/", "e/", 0);
    bad("p/!{timestamp:yyyy}/", "e/!{firehose:error-output-type}", 1,
        "Prefix must contain at least one !{partitionKeyFromQuery", NULL);
    bad("p/!{partitionKeyFromQuery:k}/", "", 1,
        "ErrorOutputPrefix is required when dynamic partitioning", NULL);
}

static void test_validate_slashes_and_length(void **state)
{
    char big[1100];

    (void)state;
    bad("a//b", "", 0, "Prefix must not contain \"//\"", NULL);
    bad("a/", "x//", 0, "ErrorOutputPrefix must not contain \"//\"", NULL);
    bad("!{timestamp:yyyy//MM}", "e/!{firehose:error-output-type}", 0, "//",
        NULL);

    memset(big, 'a', 1024);
    big[1024] = '\0';
    ok(big, "", 0);
    ok("", big, 0);
    big[1024] = 'a';
    big[1025] = '\0';
    bad(big, "", 0, "Prefix is 1025 characters long", "1024");
    bad("", big, 0, "ErrorOutputPrefix is 1025 characters long", NULL);
}

/* ---- evaluation ------------------------------------------------------ */

static const char *pk_lookup(void *arg, int from_lambda, const char *name)
{
    (void)arg;
    if (!from_lambda && strcmp(name, "customer") == 0)
        return "acme";
    if (from_lambda && strcmp(name, "region") == 0)
        return "eu-west-1";
    if (strcmp(name, "long") == 0)
        return (const char *)arg;
    return NULL;
}

static struct keys_ctx ctx(const char *prefix, int64_t t, uint64_t hash)
{
    struct keys_ctx k;

    memset(&k, 0, sizeof(k));
    k.prefix = prefix;
    k.stream = "clicks";
    k.version = "1";
    k.arrival_ms = t;
    k.batch_hash = hash;
    k.ext = ".gz";
    k.partition_key = pk_lookup;
    return k;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* key == <prefix><stream>-<version>-<when>-<uuid v4><ext>, exactly. */
static void check_key(const char *key, const char *prefix, const char *stream,
                      const char *version, const char *when, const char *ext)
{
    char head[1200];
    const char *u;
    size_t hn;

    snprintf(head, sizeof(head), "%s%s-%s-%s-", prefix, stream, version,
             when);
    hn = strlen(head);
    if (strncmp(key, head, hn) != 0)
        fail_msg("key '%s' does not start with '%s'", key, head);
    u = key + hn;
    if (strlen(u) != 36 + strlen(ext) || strcmp(u + 36, ext) != 0)
        fail_msg("key '%s': bad uuid/extension tail '%s'", key, u);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (u[i] != '-')
                fail_msg("key '%s': uuid dash missing at %d", key, i);
        } else if (!is_hex(u[i])) {
            fail_msg("key '%s': uuid char %d not lowercase hex", key, i);
        }
    }
    assert_int_equal(u[14], '4');                       /* version 4 */
    assert_non_null(strchr("89ab", u[19]));             /* RFC variant */
}

static void key_of(const struct keys_ctx *k, const char *fallback, char *out,
                   size_t n)
{
    struct err e = { 0 };

    if (keys_object_key(k, fallback, out, n, &e) != 0)
        fail_msg("keys_object_key('%s') failed: %s",
                 k->prefix ? k->prefix : "(null)", e.msg);
}

static void test_default_prefix(void **state)
{
    char key[1024];
    struct keys_ctx k = ctx(NULL, T_2018_08_27_1030, 42);

    (void)state;
    key_of(&k, NULL, key, sizeof(key));
    check_key(key, "2018/08/27/10/", "clicks", "1", "2018-08-27-10-30-00",
              ".gz");
    k.prefix = "";
    k.ext = "";
    k.version = "7";
    key_of(&k, NULL, key, sizeof(key));
    check_key(key, "2018/08/27/10/", "clicks", "7", "2018-08-27-10-30-00", "");
}

static void test_static_prefix_concatenates(void **state)
{
    char key[1024];
    struct keys_ctx k = ctx("logs", T_2018_08_27_1030, 42);

    (void)state;
    key_of(&k, NULL, key, sizeof(key));
    check_key(key, "logs2018/08/27/10/", "clicks", "1", "2018-08-27-10-30-00",
              ".gz");
    k.prefix = "logs/";
    key_of(&k, NULL, key, sizeof(key));
    check_key(key, "logs/2018/08/27/10/", "clicks", "1",
              "2018-08-27-10-30-00", ".gz");
}

static void test_spec_example_random_string(void **state)
{
    char key[1024], again[1024], other[1024];
    struct keys_ctx k =
        ctx("p/year=!{timestamp:yyyy}/r=!{firehose:random-string}/",
            T_2018_08_27_1030, 0x1234);
    const char *r;

    (void)state;
    key_of(&k, NULL, key, sizeof(key));
    assert_int_equal(strncmp(key, "p/year=2018/r=", 14), 0);
    r = key + 14;
    for (int i = 0; i < 11; i++)
        assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz0123456789", r[i]));
    assert_int_equal(r[11], '/');
    /* A timestamp expression means no default time folders. */
    assert_int_equal(strncmp(r + 12, "clicks-1-2018-08-27-10-30-00-", 29), 0);

    /* Guarantee 2: the same batch always gets the same key... */
    key_of(&k, NULL, again, sizeof(again));
    assert_string_equal(key, again);
    /* ...and another batch another random string and uuid. */
    k.batch_hash = 0x1235;
    key_of(&k, NULL, other, sizeof(other));
    assert_memory_not_equal(key + 14, other + 14, 11);
    assert_string_not_equal(key + strlen(key) - 39,
                            other + strlen(other) - 39);
}

static void test_random_string_per_occurrence(void **state)
{
    char key[1024];
    struct keys_ctx k = ctx("!{firehose:random-string}/"
                            "!{firehose:random-string}/", 0, 7);

    (void)state;
    key_of(&k, NULL, key, sizeof(key));
    assert_int_equal(key[11], '/');
    assert_int_equal(key[23], '/');
    assert_memory_not_equal(key, key + 12, 11);
}

static void eval_prefix_is(const char *prefix, int64_t t, const char *tz,
                           const char *want)
{
    char key[1024];
    struct keys_ctx k = ctx(prefix, t, 1);

    k.time_zone = tz;
    key_of(&k, NULL, key, sizeof(key));
    if (strncmp(key, want, strlen(want)) != 0
        || strncmp(key + strlen(want), "clicks-1-", 9) != 0)
        fail_msg("'%s' evaluated to '%s', want '%s' + name", prefix, key,
                 want);
}

static void test_timestamp_patterns(void **state)
{
    (void)state;
    eval_prefix_is("!{timestamp:'year='yyyy'/month='MM}/", T_2018_08_27_1030,
                   NULL, "year=2018/month=08/");
    eval_prefix_is("!{timestamp:'it''s' yy}/", T_2018_08_27_1030, NULL,
                   "it's 18/");
    eval_prefix_is("!{timestamp:''yyyy''}/", T_2018_08_27_1030, NULL,
                   "'2018'/");
    eval_prefix_is("!{timestamp:yyyy-DDD}/", T_2018_08_27_1030, NULL,
                   "2018-239/");
    eval_prefix_is("!{timestamp:DDD/D}/", T_2018_01_05_030405, NULL,
                   "005/5/");
    eval_prefix_is("!{timestamp:M/d/H}/", T_2018_01_05_030405, NULL,
                   "1/5/3/");
    eval_prefix_is("!{timestamp:MM/dd/HH/mm/ss}/", T_2018_01_05_030405, NULL,
                   "01/05/03/04/05/");
    eval_prefix_is("!{timestamp:m-s}/", T_2018_01_05_030405, NULL, "4-5/");
    /* Every timestamp expression of a prefix uses one instant. */
    eval_prefix_is("a=!{timestamp:yyyy}/b=!{timestamp:HH}/", T_2018_08_27_1030,
                   "", "a=2018/b=10/");
}

static void test_time_zones(void **state)
{
    char key[1024];
    struct keys_ctx k = ctx(NULL, T_2018_08_27_1030, 9);
    struct err e = { 0 };

    (void)state;
    k.time_zone = "UTC";
    key_of(&k, NULL, key, sizeof(key));
    check_key(key, "2018/08/27/10/", "clicks", "1", "2018-08-27-10-30-00",
              ".gz");
    k.time_zone = "Asia/Tokyo";
    key_of(&k, NULL, key, sizeof(key));
    check_key(key, "2018/08/27/19/", "clicks", "1", "2018-08-27-19-30-00",
              ".gz");
    /* Crossing into the next year. */
    eval_prefix_is("!{timestamp:yyyy/MM/dd/HH}/", T_2018_12_31_20,
                   "Asia/Tokyo", "2019/01/01/05/");
    /* DST from the transition table, then from the POSIX footer rule. */
    eval_prefix_is("!{timestamp:HH}/", T_2018_07_01_10, "America/New_York",
                   "06/");
    eval_prefix_is("!{timestamp:HH}/", T_2018_01_05_030405,
                   "America/New_York", "22/");
    eval_prefix_is("!{timestamp:HH}/", T_2100_07_01_10, "America/New_York",
                   "06/");
    eval_prefix_is("!{timestamp:HH}/", T_2100_01_15_10, "America/New_York",
                   "05/");
    eval_prefix_is("!{timestamp:HH}/", T_2100_01_15_10, "Australia/Sydney",
                   "21/");
    eval_prefix_is("!{timestamp:HH}/", T_2100_07_01_10, "Australia/Sydney",
                   "20/");
    eval_prefix_is("!{timestamp:HH}/", T_2018_07_01_10, "Asia/Kolkata",
                   "15/");

    assert_int_equal(keys_validate_time_zone("Asia/Tokyo", &e), 0);
    assert_int_equal(keys_validate_time_zone("", &e), 0);
    assert_int_equal(keys_validate_time_zone(NULL, &e), 0);
    assert_int_equal(keys_validate_time_zone("Mars/Olympus", &e), -1);
    assert_int_equal(e.code, ERR_INVAL);
    assert_non_null(strstr(e.msg, "Mars/Olympus"));
    assert_int_equal(keys_validate_time_zone("../../etc/passwd", &e), -1);
    assert_int_equal(e.code, ERR_INVAL);
    assert_int_equal(keys_validate_time_zone("/etc/passwd", &e), -1);
    k.time_zone = "Nowhere/Land";
    assert_int_equal(keys_object_key(&k, NULL, key, sizeof(key), &e), -1);
    assert_int_equal(e.code, ERR_INVAL);
}

static void test_error_prefix(void **state)
{
    char key[1024];
    struct keys_ctx k = ctx("fail/!{firehose:error-output-type}/",
                            T_2018_08_27_1030, 5);

    (void)state;
    k.is_error = 1;
    k.error_type = "processing-failed";
    key_of(&k, "ignored/", key, sizeof(key));
    check_key(key, "fail/processing-failed/2018/08/27/10/", "clicks", "1",
              "2018-08-27-10-30-00", ".gz");

    k.prefix = "fail/!{firehose:error-output-type}/!{timestamp:yyyy}/"
               "!{firehose:error-output-type}-";
    key_of(&k, NULL, key, sizeof(key));
    check_key(key, "fail/processing-failed/2018/processing-failed-", "clicks",
              "1", "2018-08-27-10-30-00", ".gz");

    /* Empty ErrorOutputPrefix: <Prefix><type>/yyyy/MM/dd/HH/ (rule 8). */
    k.prefix = "";
    k.error_type = "http-endpoint-failed";
    key_of(&k, "logs/", key, sizeof(key));
    check_key(key, "logs/http-endpoint-failed/2018/08/27/10/", "clicks", "1",
              "2018-08-27-10-30-00", ".gz");
    k.prefix = NULL;
    key_of(&k, NULL, key, sizeof(key));
    check_key(key, "http-endpoint-failed/2018/08/27/10/", "clicks", "1",
              "2018-08-27-10-30-00", ".gz");
}

static void test_partition_keys(void **state)
{
    char key[1024];
    struct err e = { 0 };
    struct keys_ctx k = ctx("c=!{partitionKeyFromQuery:customer}/"
                            "r=!{partitionKeyFromLambda:region}/"
                            "!{timestamp:yyyy}/", T_2018_08_27_1030, 5);

    (void)state;
    key_of(&k, NULL, key, sizeof(key));
    check_key(key, "c=acme/r=eu-west-1/2018/", "clicks", "1",
              "2018-08-27-10-30-00", ".gz");

    k.prefix = "c=!{partitionKeyFromLambda:customer}/";
    assert_int_equal(keys_object_key(&k, NULL, key, sizeof(key), &e), -1);
    assert_int_equal(e.code, ERR_INVAL);
    assert_non_null(strstr(e.msg, "'customer'"));
    assert_non_null(strstr(e.msg, "partitionKeyFromLambda"));

    k.partition_key = NULL;
    k.prefix = "c=!{partitionKeyFromQuery:customer}/";
    assert_int_equal(keys_object_key(&k, NULL, key, sizeof(key), &e), -1);
    assert_non_null(strstr(e.msg, "missing"));
}

static void test_limits(void **state)
{
    char prefix[600], value[600], key[2048];
    struct err e = { 0 };
    struct keys_ctx k = ctx(prefix, T_2018_08_27_1030, 5);

    (void)state;
    memset(prefix, 'a', 512);
    prefix[512] = '\0';
    key_of(&k, NULL, key, sizeof(key));
    assert_int_equal(strncmp(key + 512, "2018/08/27/10/clicks-1-", 23), 0);

    prefix[512] = 'a';
    prefix[513] = '\0';
    assert_int_equal(keys_object_key(&k, NULL, key, sizeof(key), &e), -1);
    assert_int_equal(e.code, ERR_INVAL);
    assert_non_null(strstr(e.msg, "513"));
    assert_non_null(strstr(e.msg, "512"));

    /* The limit is on the evaluated prefix: a long partition key value. */
    memset(value, 'v', 510);
    value[510] = '\0';
    k.prefix = "k=!{partitionKeyFromQuery:long}/";
    k.partition_arg = value;
    assert_int_equal(keys_object_key(&k, NULL, key, sizeof(key), &e), -1);
    assert_non_null(strstr(e.msg, "evaluated Prefix"));

    /* Output buffer too small, and exactly big enough. */
    k.prefix = "logs/";
    assert_int_equal(keys_object_key(&k, NULL, key, 40, &e), -1);
    assert_int_equal(e.code, ERR_INVAL);
    key_of(&k, NULL, key, sizeof(key));
    {
        char exact[128];
        size_t need = strlen(key) + 1;
        assert_true(need <= sizeof(exact));
        key_of(&k, NULL, exact, need);
        assert_string_equal(exact, key);
        assert_int_equal(keys_object_key(&k, NULL, exact, need - 1, &e), -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_good),
        cmocka_unit_test(test_validate_syntax),
        cmocka_unit_test(test_validate_timestamp),
        cmocka_unit_test(test_validate_placement),
        cmocka_unit_test(test_validate_pairs),
        cmocka_unit_test(test_validate_slashes_and_length),
        cmocka_unit_test(test_default_prefix),
        cmocka_unit_test(test_static_prefix_concatenates),
        cmocka_unit_test(test_spec_example_random_string),
        cmocka_unit_test(test_random_string_per_occurrence),
        cmocka_unit_test(test_timestamp_patterns),
        cmocka_unit_test(test_time_zones),
        cmocka_unit_test(test_error_prefix),
        cmocka_unit_test(test_partition_keys),
        cmocka_unit_test(test_limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
