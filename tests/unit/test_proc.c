/* test_proc.c - the built-in stages before Lua: Decompression,
 * CloudWatchLogProcessing, RecordDeAggregation, their fixed order, and
 * every failure (bad or truncated gzip, a gzip bomb, CONTROL_MESSAGE,
 * malformed envelopes, records that do not split cleanly). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../../transforms/proc.h"

/* gzip 'n' bytes into a malloc'd buffer. */
static unsigned char *gz(const void *p, size_t n, size_t *out_len)
{
    z_stream z;
    size_t cap = compressBound((uLong)n) + 64;
    unsigned char *out = malloc(cap);

    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
                                  Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = p;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* What the stages gave: the records, and the failures. */
struct result {
    struct proc_list l;
    struct proc_stats st;
    int n_fail;
    char fail_codes[8][64];
    enum proc_fail_kind fail_kind[8];
    size_t fail_raw_len[8];
    uint32_t fail_src[8];
};

static int on_fail(void *arg, const struct proc_rec *r,
                   enum proc_fail_kind kind, const char *code,
                   const char *msg)
{
    struct result *res = arg;

    assert_non_null(msg);
    assert_true(msg[0] != '\0');
    if (res->n_fail < 8) {
        snprintf(res->fail_codes[res->n_fail], 64, "%s", code);
        res->fail_kind[res->n_fail] = kind;
        res->fail_raw_len[res->n_fail] = r->raw_len;
        res->fail_src[res->n_fail] = r->src;
    }
    res->n_fail++;
    return 0;
}

/* Run the stages of 'pc' over n records. */
static void run(const struct cfg_processing *pc, const void *const *recs,
                const size_t *lens, size_t n, struct proc *p,
                struct result *res)
{
    struct err e = { 0, "" };

    res->n_fail = 0;
    assert_int_equal(proc_list_reserve(&res->l, n, &e), 0);
    for (size_t i = 0; i < n; i++) {
        struct proc_rec *r = &res->l.r[i];
        memset(r, 0, sizeof(*r));
        r->data = r->raw = recs[i];
        r->len = r->raw_len = lens[i];
        r->src = (uint32_t)i;
    }
    res->l.n = n;
    (void)pc;
    assert_int_equal(proc_run(p, &res->l, on_fail, res, &res->st, &e), 0);
}

static void assert_rec(const struct result *res, size_t i, const char *s)
{
    assert_true(i < res->l.n);
    if (res->l.r[i].len != strlen(s) ||
        memcmp(res->l.r[i].data, s, strlen(s)) != 0) {
        print_error("record %zu: '%.*s', want '%s'\n", i,
                    (int)res->l.r[i].len, res->l.r[i].data, s);
        fail();
    }
}

#define ENVELOPE(type, events) \
    "{\"messageType\":\"" type "\",\"owner\":\"123456789012\"," \
    "\"logGroup\":\"g\",\"logStream\":\"s\",\"subscriptionFilters\":[\"f\"]," \
    "\"logEvents\":[" events "]}"
#define EV(id, msg) "{\"id\":\"" id "\",\"timestamp\":1700000000000," \
    "\"message\":\"" msg "\"}"

static void test_wanted(void **state)
{
    struct cfg_processing pc = { .enabled = 1 };

    (void)state;
    assert_false(proc_wanted(&pc));
    pc.deagg = CFG_DEAGG_JSON;
    assert_true(proc_wanted(&pc));
    pc.enabled = 0;
    assert_false(proc_wanted(&pc));
}

static void test_gzip(void **state)
{
    struct cfg_processing pc = { .enabled = 1, .gzip = 1 };
    struct err e;
    struct proc *p = proc_new(&pc, &e);
    struct result res = { 0 };
    size_t n1, n2, n3;
    unsigned char *g1 = gz("hello", 5, &n1), *g2 = gz(" world", 6, &n2);
    unsigned char *two = malloc(n1 + n2), *trunc;
    const void *recs[5];
    size_t lens[5];

    (void)state;
    memcpy(two, g1, n1);
    memcpy(two + n1, g2, n2);           /* two gzip members */
    trunc = gz("truncated data", 14, &n3);
    recs[0] = g1; lens[0] = n1;
    recs[1] = "plain text"; lens[1] = 10;
    recs[2] = two; lens[2] = n1 + n2;
    recs[3] = trunc; lens[3] = n3 - 5;
    recs[4] = ""; lens[4] = 0;
    run(&pc, recs, lens, 5, p, &res);
    assert_int_equal(res.l.n, 2);
    assert_rec(&res, 0, "hello");
    assert_rec(&res, 1, "hello world");
    assert_int_equal(res.l.r[1].src, 2);
    /* The error output gets the record as it came (compressed). */
    assert_ptr_equal(res.l.r[0].raw, g1);
    assert_int_equal(res.n_fail, 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(res.fail_codes[i], "Decompression.Failed");
        assert_int_equal(res.fail_kind[i], PROC_FAIL_DECOMPRESSION);
    }
    assert_int_equal(res.fail_raw_len[0], 10);
    assert_int_equal(res.fail_src[1], 3);
    assert_int_equal(res.st.failed, 3);
    free(g1);
    free(g2);
    free(two);
    free(trunc);
    proc_list_release(&res.l);
    proc_free(p);
}

static void test_gzip_bomb(void **state)
{
    struct cfg_processing pc = { .enabled = 1, .gzip = 1 };
    struct err e;
    struct proc *p = proc_new(&pc, &e);
    struct result res = { 0 };
    size_t big = PROC_MAX_INFLATED + 1, n;
    unsigned char *zeros = calloc(1, big), *g = gz(zeros, big, &n);
    const void *recs[1] = { g };
    size_t lens[1] = { n };

    (void)state;
    run(&pc, recs, lens, 1, p, &res);
    assert_int_equal(res.l.n, 0);
    assert_int_equal(res.n_fail, 1);
    free(zeros);
    free(g);
    proc_list_release(&res.l);
    proc_free(p);
}

static void test_cloudwatch(void **state)
{
    struct cfg_processing pc = { .enabled = 1, .gzip = 1, .cw_logs = 1,
                                 .cw_extract = 1 };
    struct err e;
    struct proc *p = proc_new(&pc, &e);
    struct result res = { 0 };
    static const char *const texts[] = {
        ENVELOPE("DATA_MESSAGE", EV("1", "first line") "," EV("2",
                 "{\\\"a\\\":\\\"q\\\\\\\"\\\"}") "," EV("3", "caf\\u00e9")),
        ENVELOPE("CONTROL_MESSAGE", EV("c", "CWL CONTROL MESSAGE: Checking "
                 "health of destination Firehose.")),
        "{\"logEvents\":[],\"messageType\":\"DATA_MESSAGE\"}",
        "[\"not an envelope\"]",
        ENVELOPE("OTHER", ""),
        "{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":[{\"id\":\"x\"}]}",
        "{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":\"no\"}",
    };
    enum { N = sizeof(texts) / sizeof(texts[0]) };
    const void *recs[N];
    size_t lens[N];

    (void)state;
    for (size_t i = 0; i < N; i++)
        recs[i] = gz(texts[i], strlen(texts[i]), &lens[i]);
    run(&pc, recs, lens, N, p, &res);
    assert_int_equal(res.l.n, 3);
    assert_rec(&res, 0, "first line");
    assert_rec(&res, 1, "{\"a\":\"q\\\"\"}");
    assert_rec(&res, 2, "caf\xc3\xa9");
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(res.l.r[i].src, 0);
        assert_int_equal(res.l.r[i].sub, i);
        assert_ptr_equal(res.l.r[i].raw, recs[0]);
    }
    assert_int_equal(res.st.control_messages, 1);
    assert_int_equal(res.n_fail, 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(res.fail_codes[i],
                            "CloudWatchLogProcessing.InvalidEnvelope");
        assert_int_equal(res.fail_kind[i], PROC_FAIL_PROCESSING);
    }
    /* Without extraction the decompressed envelope goes on whole. */
    proc_free(p);
    pc.cw_extract = 0;
    p = proc_new(&pc, &e);
    run(&pc, recs, lens, 2, p, &res);
    assert_int_equal(res.l.n, 1);
    assert_rec(&res, 0, texts[0]);
    assert_int_equal(res.st.control_messages, 1);
    for (size_t i = 0; i < N; i++)
        free((void *)recs[i]);
    proc_list_release(&res.l);
    proc_free(p);
}

static void test_deagg_json(void **state)
{
    struct cfg_processing pc = { .enabled = 1, .deagg = CFG_DEAGG_JSON };
    struct err e;
    struct proc *p = proc_new(&pc, &e);
    struct result res = { 0 };
    static const char *const texts[] = {
        "{\"a\":1}{\"b\":{\"c\":[1,2]}}\n{\"d\":\"}{\"}",
        "{\"single\":true}\n",
        "{\"a\":1} not json",
        "{\"a\":1}{\"b\":",
        "[1,2]",
        "   \n",
    };
    enum { N = sizeof(texts) / sizeof(texts[0]) };
    const void *recs[N];
    size_t lens[N];

    (void)state;
    for (size_t i = 0; i < N; i++) {
        recs[i] = texts[i];
        lens[i] = strlen(texts[i]);
    }
    run(&pc, recs, lens, N, p, &res);
    assert_int_equal(res.l.n, 4);
    assert_rec(&res, 0, "{\"a\":1}");
    assert_rec(&res, 1, "{\"b\":{\"c\":[1,2]}}");
    assert_rec(&res, 2, "{\"d\":\"}{\"}");
    assert_rec(&res, 3, "{\"single\":true}");
    assert_int_equal(res.l.r[2].sub, 2);
    assert_int_equal(res.l.r[3].sub, 0);
    /* Without decompression an error names the sub-record itself. */
    assert_ptr_equal(res.l.r[1].raw, res.l.r[1].data);
    /* Records that do not split cleanly fail whole. */
    assert_int_equal(res.n_fail, 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(res.fail_codes[i],
                            "RecordDeAggregation.InvalidJSON");
        assert_int_equal(res.fail_raw_len[i], strlen(texts[i + 2]));
    }
    proc_list_release(&res.l);
    proc_free(p);
}

static void test_deagg_thousand(void **state)
{
    struct cfg_processing pc = { .enabled = 1, .deagg = CFG_DEAGG_JSON };
    struct err e;
    struct proc *p = proc_new(&pc, &e);
    struct result res = { 0 };
    char *big = malloc(1000 * 32);
    size_t o = 0;
    const void *recs[2];
    size_t lens[2];

    (void)state;
    for (int i = 0; i < 1000; i++)
        o += (size_t)snprintf(big + o, 1000 * 32 - o, "{\"n\":%d}%s", i,
                              i % 2 ? "\n" : "");
    recs[0] = big;
    lens[0] = o;
    recs[1] = "{\"after\":1}";
    lens[1] = 11;
    run(&pc, recs, lens, 2, p, &res);
    assert_int_equal(res.l.n, 1001);
    assert_rec(&res, 0, "{\"n\":0}");
    assert_rec(&res, 999, "{\"n\":999}");
    assert_int_equal(res.l.r[999].sub, 999);
    assert_rec(&res, 1000, "{\"after\":1}");
    assert_int_equal(res.l.r[1000].src, 1);
    free(big);
    proc_list_release(&res.l);
    proc_free(p);
}

static void test_deagg_delimited(void **state)
{
    unsigned char delim[] = "####";
    struct cfg_processing pc = { .enabled = 1, .deagg = CFG_DEAGG_DELIMITED,
                                 .deagg_delim = delim, .deagg_delim_len = 4 };
    struct err e;
    struct proc *p = proc_new(&pc, &e);
    struct result res = { 0 };
    static const char *const texts[] = {
        "a####bb########ccc####",
        "no delimiter here",
        "ab",                       /* shorter than the delimiter */
        "########",
        "###x#",
    };
    enum { N = sizeof(texts) / sizeof(texts[0]) };
    const void *recs[N];
    size_t lens[N];

    (void)state;
    for (size_t i = 0; i < N; i++) {
        recs[i] = texts[i];
        lens[i] = strlen(texts[i]);
    }
    run(&pc, recs, lens, N, p, &res);
    assert_int_equal(res.l.n, 6);
    assert_rec(&res, 0, "a");
    assert_rec(&res, 1, "bb");
    assert_rec(&res, 2, "ccc");
    assert_rec(&res, 3, "no delimiter here");
    assert_rec(&res, 4, "ab");
    assert_rec(&res, 5, "###x#");
    assert_int_equal(res.n_fail, 1);
    assert_string_equal(res.fail_codes[0], "RecordDeAggregation.NoSubRecords");
    assert_int_equal(res.fail_src[0], 3);
    proc_list_release(&res.l);
    proc_free(p);
}

/* Decompression, then CloudWatch Logs, then de-aggregation: log messages
 * that hold several JSON objects each become one record per object. */
static void test_fixed_order(void **state)
{
    struct cfg_processing pc = { .enabled = 1, .gzip = 1, .cw_logs = 1,
                                 .cw_extract = 1, .deagg = CFG_DEAGG_JSON };
    struct err e;
    struct proc *p = proc_new(&pc, &e);
    struct result res = { 0 };
    static const char text[] = ENVELOPE("DATA_MESSAGE",
        EV("1", "{\\\"c\\\":1}{\\\"c\\\":2}") "," EV("2", "{\\\"c\\\":3}") ","
        EV("3", "not json"));
    size_t n;
    const void *recs[1];
    size_t lens[1];

    (void)state;
    recs[0] = gz(text, strlen(text), &n);
    lens[0] = n;
    run(&pc, recs, lens, 1, p, &res);
    assert_int_equal(res.l.n, 3);
    assert_rec(&res, 0, "{\"c\":1}");
    assert_rec(&res, 1, "{\"c\":2}");
    assert_rec(&res, 2, "{\"c\":3}");
    assert_int_equal(res.l.r[2].sub, 2);
    /* The failed message's error output holds the record as it came. */
    assert_int_equal(res.n_fail, 1);
    assert_int_equal(res.fail_raw_len[0], n);
    /* A second batch reuses the buffers and gives the same. */
    run(&pc, recs, lens, 1, p, &res);
    assert_int_equal(res.l.n, 3);
    assert_rec(&res, 2, "{\"c\":3}");
    free((void *)recs[0]);
    proc_list_release(&res.l);
    proc_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wanted),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_gzip_bomb),
        cmocka_unit_test(test_cloudwatch),
        cmocka_unit_test(test_deagg_json),
        cmocka_unit_test(test_deagg_thousand),
        cmocka_unit_test(test_deagg_delimited),
        cmocka_unit_test(test_fixed_order),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
