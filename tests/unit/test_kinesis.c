/* test_kinesis.c - the in-place GetRecords reply parser: valid replies in
 * the shapes AWS and kinesalite write, and malformed ones, which must fail
 * with a message naming the flaw (never crash, never half a batch). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../delivery/kinesis.h"

/* Parse a copy of 'text' in an exactly-sized heap buffer (ASan sees any
 * read past it). The copy is kept in *keep (the records point into it). */
static int parse(const char *text, struct kinesis_batch *b, struct err *e,
                 char **keep)
{
    size_t n = strlen(text);
    char *body = malloc(n ? n : 1);

    assert_non_null(body);
    memcpy(body, text, n);
    free(*keep);
    *keep = body;
    e->code = 0;
    e->msg[0] = '\0';
    return kinesis_parse_records(body, n, b, e);
}

static void test_valid(void **state)
{
    struct kinesis_batch b = { 0 };
    struct err e;
    char *keep = NULL;

    (void)state;
    /* AWS's shape: seconds with a fraction, unknown members, escapes. */
    assert_int_equal(parse(
        "{\"Records\":[{\"SequenceNumber\":"
        "\"49590338271490256608559692538361571095921575989136588898\","
        "\"ApproximateArrivalTimestamp\":1441215410.867,"
        "\"Data\":\"aGVsbG8=\",\"PartitionKey\":\"k\\u00e9\\\"\\n\\/\","
        "\"EncryptionType\":\"NONE\",\"ExplicitHashKey\":null},"
        " {\"PartitionKey\":\"\\ud83d\\ude00\",\"Data\":\"\","
        "\"SequenceNumber\":\"2\","
        "\"ApproximateArrivalTimestamp\":1.441215410867E9}"
        "],\"NextShardIterator\":\"AAAA\\/+x==\",\"MillisBehindLatest\":0}",
        &b, &e, &keep), 0);
    assert_int_equal(b.n, 2);
    assert_string_equal(b.recs[0].seq,
        "49590338271490256608559692538361571095921575989136588898");
    assert_true(b.recs[0].arrival_ms == 1441215410867LL);
    assert_int_equal(b.recs[0].len, 5);
    assert_memory_equal(b.recs[0].data, "hello", 5);
    assert_int_equal(b.recs[0].pk_len, 6);
    assert_memory_equal(b.recs[0].pk, "k\xc3\xa9\"\n/", 6);
    assert_int_equal(b.recs[1].len, 0);
    assert_int_equal(b.recs[1].pk_len, 4);
    assert_memory_equal(b.recs[1].pk, "\xf0\x9f\x98\x80", 4);
    assert_true(b.recs[1].arrival_ms == 1441215410867LL);
    assert_string_equal(b.next, "AAAA/+x==");
    assert_int_equal(b.millis_behind, 0);

    /* kinesalite's shape: integer-valued exponents, lowercase e, e+,
     * blanks everywhere; numbers in every JSON form. */
    const char *forms[] = { "1441215410867e-3", "1.441215410867e+9",
                            "14412154108.67E-1", "1441215410.8670" };
    for (size_t i = 0; i < sizeof(forms) / sizeof(*forms); i++) {
        char t[512];
        snprintf(t, sizeof(t), " { \"MillisBehindLatest\" : 1.5e3 ,"
                 "\"Records\" : [ { \"Data\" : \"YQ==\" , \"PartitionKey\""
                 " : \"p\" , \"SequenceNumber\" : \"7\" , "
                 "\"ApproximateArrivalTimestamp\" : %s } ] ,"
                 "\"NextShardIterator\":\"it\" }\n", forms[i]);
        assert_int_equal(parse(t, &b, &e, &keep), 0);
        assert_int_equal(b.n, 1);
        assert_true(b.recs[0].arrival_ms == 1441215410867LL);
        assert_int_equal(b.millis_behind, 1500);
        assert_memory_equal(b.recs[0].data, "a", 1);
    }

    /* Empty Records; no timestamp (0), no lag (-1). */
    assert_int_equal(parse("{\"Records\":[],\"NextShardIterator\":\"x\"}",
                           &b, &e, &keep), 0);
    assert_int_equal(b.n, 0);
    assert_string_equal(b.next, "x");
    assert_int_equal(b.millis_behind, -1);

    /* A closed shard read to its end: no NextShardIterator (or null),
     * ChildShards named. */
    assert_int_equal(parse("{\"Records\":[],\"MillisBehindLatest\":0,"
                           "\"ChildShards\":[{\"ShardId\":\"shardId-1\","
                           "\"ParentShards\":[\"shardId-0\"],"
                           "\"HashKeyRange\":{\"StartingHashKey\":\"0\","
                           "\"EndingHashKey\":\"9\"}},{\"ShardId\":"
                           "\"shardId-2\"}]}", &b, &e, &keep), 0);
    assert_null(b.next);
    assert_int_equal(b.n_children, 2);
    assert_int_equal(parse("{\"Records\":[{\"Data\":\"YWI=\","
                           "\"PartitionKey\":\"p\",\"SequenceNumber\":\"1\"}"
                           "],\"NextShardIterator\":null,\"ChildShards\":null}",
                           &b, &e, &keep), 0);
    assert_null(b.next);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.recs[0].arrival_ms, 0);
    assert_int_equal(b.recs[0].len, 2);
    kinesis_batch_release(&b);
    free(keep);
}

/* Many records: the array grows once, then is reused. */
static void test_many_reuse(void **state)
{
    struct kinesis_batch b = { 0 };
    struct err e;
    char *keep = NULL, *t = malloc(1 << 20);
    size_t len = 0;
    struct kinesis_rec *first;

    (void)state;
    assert_non_null(t);
    len += (size_t)sprintf(t, "{\"Records\":[");
    for (int i = 0; i < 1000; i++)
        len += (size_t)snprintf(t + len, 200, "%s{\"Data\":\"eHl6\","
                                "\"PartitionKey\":\"p%d\","
                                "\"SequenceNumber\":\"%d\"}",
                                i ? "," : "", i, i + 1);
    snprintf(t + len, 100, "],\"NextShardIterator\":\"n\"}");
    assert_int_equal(parse(t, &b, &e, &keep), 0);
    assert_int_equal(b.n, 1000);
    assert_string_equal(b.recs[999].seq, "1000");
    assert_string_equal(b.recs[999].pk, "p999");
    assert_memory_equal(b.recs[500].data, "xyz", 3);
    first = b.recs;
    assert_int_equal(parse(t, &b, &e, &keep), 0);
    assert_ptr_equal(b.recs, first);
    assert_int_equal(b.n, 1000);
    free(t);
    kinesis_batch_release(&b);
    free(keep);
}

struct bad {
    const char *text;
    const char *msg;            /* a part of the message */
};

static void test_malformed(void **state)
{
    static const struct bad cases[] = {
        { "", "Expected a JSON object" },
        { "[]", "Expected a JSON object" },
        { "{}", "no Records" },
        { "{\"Records\":[", "Expected a JSON object" },
        { "{\"Records\":[]", "Malformed JSON object" },
        { "{\"Records\":[]}x", "Unexpected data after" },
        { "{\"Records\":[{\"Data\":\"YQ==\",\"PartitionKey\":\"p\","
          "\"SequenceNumber\":\"1\"", "record 0: Malformed JSON object" },
        { "{\"Records\":[{\"Data\":\"YQ", "Unterminated JSON string" },
        { "{\"Records\":{}}", "Expected a JSON array" },
        { "{\"Records\":[1]}", "record 0: Expected a JSON object" },
        { "{\"Records\":[{\"Data\":1,\"PartitionKey\":\"p\","
          "\"SequenceNumber\":\"1\"}]}", "record 0: Data must be a string" },
        { "{\"Records\":[{\"Data\":\"YQ==\",\"PartitionKey\":\"p\","
          "\"SequenceNumber\":1}]}", "SequenceNumber must be a string" },
        { "{\"Records\":[{\"Data\":\"YQ==\",\"PartitionKey\":\"p\","
          "\"SequenceNumber\":\"12a\"}]}", "no SequenceNumber of 1 to" },
        { "{\"Records\":[{\"Data\":\"YQ==\",\"PartitionKey\":\"p\","
          "\"SequenceNumber\":\"\"}]}", "no SequenceNumber" },
        { "{\"Records\":[{\"Data\":\"YQ==\",\"SequenceNumber\":\"1\"}]}",
          "record 0 (1) has no PartitionKey" },
        { "{\"Records\":[{\"PartitionKey\":\"p\",\"SequenceNumber\":\"1\"}]}",
          "record 0 (1) has no Data" },
        { "{\"Records\":[{\"Data\":\"YQ=\",\"PartitionKey\":\"p\","
          "\"SequenceNumber\":\"1\"}]}", "record 0 (1): Invalid base64" },
        { "{\"Records\":[{\"Data\":\"Y!==\",\"PartitionKey\":\"p\","
          "\"SequenceNumber\":\"1\"}]}", "Invalid base64" },
        { "{\"Records\":[{\"Data\":\"=YQ=\",\"PartitionKey\":\"p\","
          "\"SequenceNumber\":\"1\"}]}", "Invalid base64" },
        { "{\"Records\":[{\"Data\":\"YQ==\",\"PartitionKey\":\"p\","
          "\"SequenceNumber\":\"1\",\"ApproximateArrivalTimestamp\":"
          "\"1\"}]}", "ApproximateArrivalTimestamp must be a number" },
        { "{\"Records\":[{\"Data\":\"YQ==\",\"PartitionKey\":\"p\","
          "\"SequenceNumber\":\"1\",\"ApproximateArrivalTimestamp\":"
          "1e999}]}", "ApproximateArrivalTimestamp 1e999 is out of range" },
        { "{\"Records\":[{\"Data\":\"YQ==\",\"PartitionKey\":\"p\","
          "\"SequenceNumber\":\"1\",\"ApproximateArrivalTimestamp\":"
          "-1}]}", "out of range" },
        { "{\"Records\":[{\"Data\":\"YQ==\",\"PartitionKey\":\"p\","
          "\"SequenceNumber\":\"1\",\"ApproximateArrivalTimestamp\":"
          "1.}]}", "Invalid number" },
        { "{\"Records\":[],\"MillisBehindLatest\":"
          "123456789012345678901234567890123456789012345}",
          "45-character number" },
        { "{\"Records\":[],\"MillisBehindLatest\":1e13}", "out of range" },
        { "{\"Records\":[],\"MillisBehindLatest\":true}",
          "MillisBehindLatest must be a number" },
        { "{\"Records\":[],\"NextShardIterator\":5}",
          "NextShardIterator must be a string" },
        { "{\"Records\":[],\"ChildShards\":[1]}", "ChildShards must hold" },
        { "{\"Records\":[],\"ChildShards\":{}}", "Expected a JSON array" },
        { "{\"Records\":[],\"Records\":[]}", "Records given twice" },
        { "{\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\","
          "\"SequenceNumber\":\"1\"}],\"Records\":[]}",
          "Records given twice" },
        { "{\"Records\":[],\"X\":\"\\x\"}", "Invalid escape" },
        { "{\"Records\":[],\"X\":\"\\ud800\"}", "Invalid escape" },
        { "{\"Records\":[],\"X\":\"a\nb\"}", "control character" },
        { "{\"Records\":[],\"X\":nul}", "Unexpected character" },
        { "{\"Records\":[],\"X\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
          "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
          "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", "nested too deeply" },
    };
    struct kinesis_batch b = { 0 };
    struct err e;
    char *keep = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        int rc = parse(cases[i].text, &b, &e, &keep);

        if (rc != -1 || strstr(e.msg, cases[i].msg) == NULL)
            fail_msg("case %zu (%s): rc %d, message '%s', want '%s'", i,
                     cases[i].text, rc, e.msg, cases[i].msg);
        assert_int_equal(e.code, ERR_INVAL);
        assert_int_equal(b.n, 0);           /* never half a batch */
        assert_null(b.next);
    }
    kinesis_batch_release(&b);
    free(keep);
}

/* Every prefix of a valid reply fails cleanly (or parses, for the whole). */
static void test_truncated(void **state)
{
    const char *full = "{\"Records\":[{\"Data\":\"aGVsbG8=\",\"PartitionKey\""
                       ":\"k\\u00e9\",\"SequenceNumber\":\"12\","
                       "\"ApproximateArrivalTimestamp\":1.5E9}],"
                       "\"NextShardIterator\":\"it\",\"MillisBehindLatest\""
                       ":12,\"ChildShards\":[{\"ShardId\":\"s\"}]}";
    struct kinesis_batch b = { 0 };
    struct err e;
    size_t n = strlen(full);

    (void)state;
    for (size_t i = 0; i <= n; i++) {
        char *body = malloc(i ? i : 1);

        assert_non_null(body);
        memcpy(body, full, i);
        e.msg[0] = '\0';
        if (i < n) {
            assert_int_equal(kinesis_parse_records(body, i, &b, &e), -1);
            assert_true(e.msg[0] != '\0');
        } else {
            assert_int_equal(kinesis_parse_records(body, i, &b, &e), 0);
            assert_int_equal(b.n, 1);
        }
        free(body);
    }
    kinesis_batch_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_many_reuse),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
