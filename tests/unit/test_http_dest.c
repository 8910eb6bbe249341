/* test_http_dest.c - the HTTP endpoint destination against an in-process
 * receiver that checks every header and the body against spec §5.1 and
 * answers as each case asks: 200, 500, 413, a wrong requestId, non-JSON,
 * other invalid 200s, a hang, a huge body. Asserts per-record results,
 * request ids stable across attempts, and the 10,000-record split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "../../config/cfg.h"
#include "../../destinations/dest.h"
#include "../fakes/fake_httpd.h"

#define RID "ed4acda5-034f-9f42-bba1-f29aea6d7d8f"
#define ARN "arn:aws:firehose:us-east-1:123456789012:deliverystream/clicks"
#define MAX_SEEN 8

enum mode {
    M_OK, M_500, M_413, M_BAD_ID, M_NOT_JSON, M_WRONG_TYPE, M_ENCODED,
    M_STRING_TS, M_EXTRA_FIELD, M_201, M_302, M_HANG, M_HUGE, M_FAIL_SMALL
};

/* What the receiver saw and how it answers. */
static struct rx {
    enum mode mode;
    int expect_key;             /* Access-Key and attributes configured */
    int expect_gzip;
    int requests;
    char rids[MAX_SEEN][64];    /* X-Amz-Firehose-Request-Id per request */
    size_t counts[MAX_SEEN];    /* records per request */
    char problem[512];          /* first spec violation, "" if none */
    struct { unsigned char *p; size_t n; } recs[4];  /* first request's */
    size_t n_recs;
} rx;

static void problem(const char *fmt, ...)
{
    va_list ap;

    if (rx.problem[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(rx.problem, sizeof(rx.problem), fmt, ap);
    va_end(ap);
}

static void expect_header(const struct fake_req *r, const char *name,
                          const char *want)
{
    const char *v = fake_req_header(r, name);

    if (want == NULL && v != NULL)
        problem("header %s should be absent, is '%s'", name, v);
    else if (want != NULL && (v == NULL || strcmp(v, want) != 0))
        problem("header %s is '%s', want '%s'", name, v ? v : "(absent)",
                want);
}

static unsigned char *gunzip(const unsigned char *p, size_t n, size_t *out)
{
    size_t cap = n * 4 + 1024;
    unsigned char *b = malloc(cap), *nb;
    z_stream z;
    int rc;

    memset(&z, 0, sizeof(z));
    if (b == NULL || inflateInit2(&z, 31) != Z_OK) {
        free(b);
        return NULL;
    }
    z.next_in = p;
    z.avail_in = (uInt)n;
    z.next_out = b;
    z.avail_out = (uInt)cap - 1;
    while ((rc = inflate(&z, Z_FINISH)) == Z_BUF_ERROR ||
           (rc == Z_OK && z.avail_out == 0)) {
        size_t used = cap - 1 - z.avail_out;

        cap *= 2;
        nb = realloc(b, cap);
        if (nb == NULL)
            break;
        b = nb;
        z.next_out = b + used;
        z.avail_out = (uInt)(cap - 1 - used);
    }
    if (rc != Z_STREAM_END) {
        inflateEnd(&z);
        free(b);
        return NULL;
    }
    *out = cap - 1 - z.avail_out;
    b[*out] = '\0';
    inflateEnd(&z);
    return b;
}

static unsigned char *b64dec(const char *s, size_t *n)
{
    size_t len = strlen(s);
    unsigned char *out = malloc(len / 4 * 3 + 1);
    int got;

    if (out == NULL)
        return NULL;
    got = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
    if (got < 0) {
        free(out);
        return NULL;
    }
    if (len >= 1 && s[len - 1] == '=')
        got--;
    if (len >= 2 && s[len - 2] == '=')
        got--;
    *n = (size_t)got;
    return out;
}

/* Check the request against spec §5.1; remember ids and records. */
static const char *check_request(const struct fake_req *r, size_t *count)
{
    static char rid[64];
    unsigned char *plain = NULL;
    const unsigned char *body = r->body;
    size_t len = r->len, i;
    json_t *root, *v, *recs, *it;
    const char *hdr_rid = fake_req_header(r, "X-Amz-Firehose-Request-Id");

    *count = 0;
    if (strcmp(r->method, "POST") != 0 || strcmp(r->url, "/ingest") != 0)
        problem("%s %s, want POST /ingest", r->method, r->url);
    expect_header(r, "Content-Type", "application/json");
    expect_header(r, "X-Amz-Firehose-Protocol-Version", "1.0");
    expect_header(r, "X-Amz-Firehose-Source-Arn", ARN);
    expect_header(r, "X-Amz-Firehose-Access-Key",
                  rx.expect_key ? "k3y=with spaces" : NULL);
    expect_header(r, "X-Amz-Firehose-Common-Attributes", rx.expect_key
                  ? "{\"commonAttributes\":{\"env\":\"prod\",\"team\":\"\"}}"
                  : NULL);
    expect_header(r, "Content-Encoding", rx.expect_gzip ? "gzip" : NULL);
    if (hdr_rid == NULL || strlen(hdr_rid) >= sizeof(rid)) {
        problem("no usable X-Amz-Firehose-Request-Id");
        return NULL;
    }
    snprintf(rid, sizeof(rid), "%s", hdr_rid);
    if (rx.expect_gzip) {
        plain = gunzip(r->body, r->len, &len);
        if (plain == NULL) {
            problem("the body is not gzip");
            return rid;
        }
        body = plain;
    }
    root = json_loadb((const char *)body, len, 0, NULL);
    if (!json_is_object(root) || json_object_size(root) != 3) {
        problem("the body is not {requestId, timestamp, records}");
        goto out;
    }
    v = json_object_get(root, "requestId");
    if (!json_is_string(v) || strcmp(json_string_value(v), rid) != 0)
        problem("body requestId differs from the header");
    if (!json_is_integer(json_object_get(root, "timestamp")) ||
        json_integer_value(json_object_get(root, "timestamp")) <
        1600000000000LL)
        problem("timestamp is not epoch milliseconds");
    recs = json_object_get(root, "records");
    if (!json_is_array(recs) || json_array_size(recs) < 1 ||
        json_array_size(recs) > 10000) {
        problem("records must be 1-10000 items");
        goto out;
    }
    *count = json_array_size(recs);
    json_array_foreach(recs, i, it) {
        json_t *d = json_object_get(it, "data");
        size_t n;
        unsigned char *raw;

        if (!json_is_object(it) || json_object_size(it) != 1 ||
            !json_is_string(d)) {
            problem("record %zu is not {\"data\": base64}", i);
            break;
        }
        raw = b64dec(json_string_value(d), &n);
        if (raw == NULL) {
            problem("record %zu is not base64", i);
            break;
        }
        if (rx.requests == 0 && i < 4) {
            rx.recs[i].p = raw;
            rx.recs[i].n = n;
            rx.n_recs = i + 1;
        } else {
            free(raw);
        }
    }
out:
    json_decref(root);
    free(plain);
    return rid;
}

static char *dupf(size_t *len, const char *fmt, ...)
{
    va_list ap;
    char *s = malloc(4096);

    va_start(ap, fmt);
    vsnprintf(s, 4096, fmt, ap);
    va_end(ap);
    *len = strlen(s);
    return s;
}

static void receiver(void *ctx, const struct fake_req *r,
                     struct fake_resp *out)
{
    size_t count;
    const char *found = check_request(r, &count);
    const char *rid = found ? found : "";
    enum mode m = rx.mode;

    (void)ctx;
    if (rx.requests < MAX_SEEN) {
        snprintf(rx.rids[rx.requests], sizeof(rx.rids[0]), "%s", rid);
        rx.counts[rx.requests] = count;
    }
    rx.requests++;
    if (m == M_FAIL_SMALL)
        m = count < 10 ? M_500 : M_OK;
    out->content_type = "application/json";
    switch (m) {
    case M_OK:
    case M_HANG:
        out->body = dupf(&out->len, "{\"requestId\":\"%s\",\"timestamp\":"
                         "1578090903599}", rid);
        out->delay_ms = m == M_HANG ? 1600 : 0;
        break;
    case M_500:
    case M_413:
        out->status = m == M_500 ? 500 : 413;
        out->body = dupf(&out->len, "{\"requestId\":\"%s\",\"timestamp\":1,"
                         "\"errorMessage\":\"Unauthorized key\"}", rid);
        break;
    case M_BAD_ID:
        out->body = dupf(&out->len, "{\"requestId\":\"other\","
                         "\"timestamp\":1}");
        break;
    case M_NOT_JSON:
        out->body = dupf(&out->len, "OK");
        break;
    case M_WRONG_TYPE:
        out->content_type = "text/plain";
        out->body = dupf(&out->len, "{\"requestId\":\"%s\",\"timestamp\":1}",
                         rid);
        break;
    case M_ENCODED:
        out->content_encoding = "identity";
        out->body = dupf(&out->len, "{\"requestId\":\"%s\",\"timestamp\":1}",
                         rid);
        break;
    case M_STRING_TS:
        out->body = dupf(&out->len, "{\"requestId\":\"%s\",\"timestamp\":"
                         "\"1\"}", rid);
        break;
    case M_EXTRA_FIELD:
        out->body = dupf(&out->len, "{\"requestId\":\"%s\",\"timestamp\":1,"
                         "\"status\":\"ok\"}", rid);
        break;
    case M_201:
        out->status = 201;
        out->body = dupf(&out->len, "{\"requestId\":\"%s\",\"timestamp\":1}",
                         rid);
        break;
    case M_302:
        out->status = 302;
        out->content_type = NULL;
        break;
    case M_HUGE:
        out->len = (1u << 20) + 10;
        out->body = malloc(out->len);
        memset(out->body, ' ', out->len);
        break;
    case M_FAIL_SMALL:
        break;
    }
}

/* ---- fixtures ---- */

static struct fake_httpd *srv;
static struct cfg *cfg;
static struct dest dst;
static int timeout_s = 20;      /* RequestTimeoutInSeconds */

static void make_dest(const char *extra, const char *req_conf, int port)
{
    char json[4096], *errors = NULL;
    struct err e = { 0, "" };

    snprintf(json, sizeof(json),
             "{\"Service\":{\"Region\":\"us-east-1\",\"AccountId\":"
             "\"123456789012\"},\"DeliveryStreams\":[{\"DeliveryStreamName\":"
             "\"clicks\",\"HttpEndpointDestinationConfiguration\":{"
             "\"EndpointConfiguration\":{\"Url\":\"http://127.0.0.1:%d/ingest"
             "\"%s},\"RequestConfiguration\":%s,"
             "\"RequestTimeoutInSeconds\":%d,"
             "\"S3Configuration\":{\"BucketARN\":\"arn:aws:s3:::bk\"}}}]}",
             port, extra, req_conf, timeout_s);
    if (cfg_load_string("t.json", json, &cfg, &errors) != 0) {
        print_error("%s", errors);
        free(errors);
        fail();
    }
    memset(&dst, 0, sizeof(dst));
    dst.type = &dest_http;
    snprintf(dst.id, sizeof(dst.id), "dest:http:clicks");
    if (dest_http.create(&dst, &cfg->streams[0], &cfg->service, &e) != 0) {
        print_error("create: %s", e.msg);
        fail();
    }
}

static void reset_rx(enum mode m)
{
    for (size_t i = 0; i < rx.n_recs; i++)
        free(rx.recs[i].p);
    memset(&rx, 0, sizeof(rx));
    rx.mode = m;
}

static int setup_plain(void **state)
{
    (void)state;
    reset_rx(M_OK);
    srv = fake_httpd_start(receiver, NULL);
    assert_non_null(srv);
    make_dest(",\"AccessKey\":\"k3y=with spaces\",\"Name\":\"rx\"",
              "{\"ContentEncoding\":\"NONE\",\"CommonAttributes\":["
              "{\"AttributeName\":\"env\",\"AttributeValue\":\"prod\"},"
              "{\"AttributeName\":\"team\",\"AttributeValue\":\"\"}]}",
              fake_httpd_port(srv));
    rx.expect_key = 1;
    return 0;
}

static int setup_gzip(void **state)
{
    (void)state;
    reset_rx(M_OK);
    srv = fake_httpd_start(receiver, NULL);
    assert_non_null(srv);
    make_dest("", "{\"ContentEncoding\":\"GZIP\"}", fake_httpd_port(srv));
    rx.expect_gzip = 1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dest_http.destroy(&dst);
    cfg_free(cfg);
    cfg = NULL;
    fake_httpd_stop(srv);
    srv = NULL;
    reset_rx(M_OK);
    return 0;
}

static const struct payload_rec three[] = {
    { (const unsigned char *)"hello", 5, 1700000000000, "a1" },
    { (const unsigned char *)"", 0, 1700000000001, "a2" },
    { (const unsigned char *)"\0\xff\x01\n", 4, 1700000000002, "a3" },
};

/* Reasons of the latest delivery (struct dest_reasons). */
static struct dest_reasons reasons;
#define CODE(i) dest_result_code(&reasons, &res[i])
#define MSG(i) dest_result_msg(&reasons, &res[i])

static enum dest_status send3(struct dest_rec_result *res, const char *rid)
{
    struct payload p;
    struct err e = { 0, "" };

    memset(&p, 0, sizeof(p));
    memset(res, 0xAA, 3 * sizeof(*res));
    p.recs = three;
    p.n_recs = 3;
    p.request_id = rid;
    p.results = res;
    p.reasons = &reasons;
    dest_reasons_reset(&reasons);
    return dest_http.deliver(&dst, &p, &e);
}

static void all_results(const struct dest_rec_result *res, size_t n,
                        enum dest_status st, const char *code, int http)
{
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(res[i].status, st);
        assert_string_equal(CODE(i), code);
        assert_int_equal(res[i].http_status, http);
    }
}

/* ---- cases ---- */

static void delivers_with_every_header(void **state)
{
    struct dest_rec_result res[3];

    (void)state;
    assert_int_equal(send3(res, RID), DEST_OK);
    assert_string_equal(rx.problem, "");
    assert_int_equal(rx.requests, 1);
    assert_string_equal(rx.rids[0], RID);
    all_results(res, 3, DEST_OK, "", 200);
    assert_int_equal(rx.n_recs, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(rx.recs[i].n, three[i].len);
        assert_memory_equal(rx.recs[i].p, three[i].data, three[i].len);
    }
}

static void gzip_body_and_no_optional_headers(void **state)
{
    struct dest_rec_result res[3];

    (void)state;
    assert_int_equal(send3(res, RID), DEST_OK);
    assert_string_equal(rx.problem, "");
    assert_int_equal(rx.n_recs, 3);
    assert_memory_equal(rx.recs[2].p, three[2].data, 4);
}

static void error_500_is_retried_with_the_same_request_id(void **state)
{
    struct dest_rec_result res[3];

    (void)state;
    rx.mode = M_500;
    assert_int_equal(send3(res, RID), DEST_RETRY);
    all_results(res, 3, DEST_RETRY, "HttpEndpoint.DestinationException", 500);
    assert_non_null(strstr(MSG(0), "500"));
    assert_non_null(strstr(MSG(0), "Unauthorized key"));
    rx.mode = M_OK;
    assert_int_equal(send3(res, RID), DEST_OK);
    assert_int_equal(rx.requests, 2);
    assert_string_equal(rx.rids[0], rx.rids[1]);
    assert_string_equal(rx.problem, "");
}

static void error_413_is_permanent(void **state)
{
    struct dest_rec_result res[3];

    (void)state;
    rx.mode = M_413;
    assert_int_equal(send3(res, RID), DEST_FAIL);
    all_results(res, 3, DEST_FAIL, "HttpEndpoint.DestinationException", 413);
}

/* Every way a response can fail spec §5.2's checks is retried. */
static void invalid_responses_are_retried(void **state)
{
    static const struct { enum mode m; const char *code; int http; } cases[] = {
        { M_BAD_ID, "HttpEndpoint.InvalidResponseFromDestination", 200 },
        { M_NOT_JSON, "HttpEndpoint.InvalidResponseFromDestination", 200 },
        { M_WRONG_TYPE, "HttpEndpoint.InvalidResponseFromDestination", 200 },
        { M_ENCODED, "HttpEndpoint.InvalidResponseFromDestination", 200 },
        { M_STRING_TS, "HttpEndpoint.InvalidResponseFromDestination", 200 },
        { M_EXTRA_FIELD, "HttpEndpoint.InvalidResponseFromDestination", 200 },
        { M_201, "HttpEndpoint.DestinationException", 201 },
        { M_302, "HttpEndpoint.DestinationException", 302 },
        { M_HUGE, "HttpEndpoint.ResponseTooLarge", 200 },
    };
    struct dest_rec_result res[3];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rx.mode = cases[i].m;
        assert_int_equal(send3(res, RID), DEST_RETRY);
        all_results(res, 3, DEST_RETRY, cases[i].code, cases[i].http);
        assert_true(MSG(0)[0] != '\0');
    }
    assert_string_equal(rx.problem, "");
}

static void hang_times_out(void **state)
{
    struct dest_rec_result res[3];

    (void)state;
    dest_http.destroy(&dst);
    cfg_free(cfg);
    timeout_s = 1;
    make_dest("", "{}", fake_httpd_port(srv));
    timeout_s = 20;
    rx.expect_key = 0;
    rx.mode = M_HANG;
    assert_int_equal(send3(res, RID), DEST_RETRY);
    all_results(res, 3, DEST_RETRY, "HttpEndpoint.RequestTimeout", 0);
}

static void refused_connection_is_retried(void **state)
{
    struct dest_rec_result res[3];

    (void)state;
    /* The fixture's server goes away; its port is then closed. */
    fake_httpd_stop(srv);
    srv = NULL;
    assert_int_equal(send3(res, RID), DEST_RETRY);
    all_results(res, 3, DEST_RETRY, "HttpEndpoint.ConnectionFailed", 0);
}

static void bad_request_id_fails(void **state)
{
    struct dest_rec_result res[3];

    (void)state;
    assert_int_equal(send3(res, "not a uuid\"}"), DEST_FAIL);
    assert_int_equal(res[2].status, DEST_FAIL);
    assert_int_equal(rx.requests, 0);
}

/* 10,001 records: two requests, each with its own id, the same on every
 * attempt; a retry of the failed part alone uses the batch's id. */
static void big_batch_is_split(void **state)
{
    size_t n = 10001, i;
    struct payload_rec *recs = calloc(n, sizeof(*recs));
    struct dest_rec_result *res = calloc(n, sizeof(*res));
    char (*ids)[16] = calloc(n, 16);
    struct err e = { 0, "" };
    struct payload p;

    (void)state;
    assert_non_null(recs);
    assert_non_null(res);
    assert_non_null(ids);
    for (i = 0; i < n; i++) {
        snprintf(ids[i], 16, "r%zu", i);
        recs[i] = (struct payload_rec){ (const unsigned char *)"x", 1,
                                        1700000000000, ids[i] };
    }
    memset(&p, 0, sizeof(p));
    p.recs = recs;
    p.n_recs = n;
    p.request_id = RID;
    p.results = res;
    p.reasons = &reasons;
    dest_reasons_reset(&reasons);
    rx.mode = M_FAIL_SMALL;
    assert_int_equal(dest_http.deliver(&dst, &p, &e), DEST_RETRY);
    assert_int_equal(rx.requests, 2);
    assert_int_equal(rx.counts[0], 10000);
    assert_int_equal(rx.counts[1], 1);
    assert_string_not_equal(rx.rids[0], RID);
    assert_string_not_equal(rx.rids[1], RID);
    assert_string_not_equal(rx.rids[0], rx.rids[1]);
    assert_int_equal(strlen(rx.rids[0]), 36);
    for (i = 0; i < 10000; i++)
        assert_int_equal(res[i].status, DEST_OK);
    assert_int_equal(res[10000].status, DEST_RETRY);
    assert_non_null(strstr(e.msg, "1 of 10001"));

    /* The same attempt again: the same two ids. */
    assert_int_equal(dest_http.deliver(&dst, &p, &e), DEST_RETRY);
    assert_string_equal(rx.rids[2], rx.rids[0]);
    assert_string_equal(rx.rids[3], rx.rids[1]);

    /* The core re-sends only the RETRY record. */
    rx.mode = M_OK;
    p.recs = recs + 10000;
    p.n_recs = 1;
    p.results = res + 10000;
    assert_int_equal(dest_http.deliver(&dst, &p, &e), DEST_OK);
    assert_string_equal(rx.rids[4], RID);
    assert_string_equal(rx.problem, "");
    free(recs);
    free(res);
    free(ids);
}

/* Results name shared reasons: one entry per distinct failure, a bounded
 * table, and no reason without a table. */
static void reasons_are_shared_and_bounded(void **state)
{
    struct dest_rec_result r[4];
    struct payload p;
    char big[300];
    uint32_t first;

    (void)state;
    memset(&p, 0, sizeof(p));
    p.reasons = &reasons;
    dest_reasons_reset(&reasons);
    dest_result_set(p.reasons, &r[0], DEST_RETRY, 500, "E.One", "boom");
    dest_result_set(p.reasons, &r[1], DEST_RETRY, 500, "E.One", "boom");
    assert_int_equal(r[0].reason, r[1].reason);
    first = (uint32_t)reasons.b.len;
    dest_result_set(p.reasons, &r[2], DEST_FAIL, 413, "E.Two", "");
    assert_true(r[2].reason != r[0].reason);
    assert_string_equal(dest_result_code(&reasons, &r[2]), "E.Two");
    assert_string_equal(dest_result_msg(&reasons, &r[2]), "");
    assert_string_equal(dest_result_msg(&reasons, &r[0]), "boom");
    assert_true(reasons.b.len > first);
    dest_result_set(p.reasons, &r[3], DEST_OK, 200, "", "");
    assert_int_equal(r[3].reason, 0);
    assert_string_equal(dest_result_code(&reasons, &r[3]), "");
    /* Long messages are cut at 255 bytes, as the backup document's. */
    memset(big, 'm', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    dest_result_set(p.reasons, &r[3], DEST_FAIL, 400, "E.Big", big);
    assert_int_equal(strlen(dest_result_msg(&reasons, &r[3])), 255);
    /* Past the cap, distinct messages share one "dropped" message. */
    for (int i = 0; reasons.b.len < DEST_REASONS_MAX - 10; i++) {
        char m[32];
        snprintf(m, sizeof(m), "distinct %d", i);
        dest_result_set(p.reasons, &r[3], DEST_FAIL, 400, "E.Many", m);
    }
    dest_result_set(p.reasons, &r[3], DEST_FAIL, 400, "E.Many", big);
    dest_result_set(p.reasons, &r[2], DEST_FAIL, 400, "E.Many", "another one");
    assert_int_equal(r[2].reason, r[3].reason);
    assert_non_null(strstr(dest_result_msg(&reasons, &r[2]), "dropped"));
    assert_string_equal(dest_result_code(&reasons, &r[2]), "E.Many");
    /* Only the shared "dropped" entries may pass the cap. */
    assert_true(reasons.b.len <= DEST_REASONS_MAX + 2 * 128);
    /* Without a table the status is kept and the reason reads "". */
    p.reasons = NULL;
    dest_result_set(p.reasons, &r[0], DEST_FAIL, 400, "E.X", "y");
    assert_int_equal(r[0].status, DEST_FAIL);
    assert_int_equal(r[0].reason, 0);
    dest_reasons_release(&reasons);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reasons_are_shared_and_bounded),
        cmocka_unit_test_setup_teardown(delivers_with_every_header,
                                        setup_plain, teardown),
        cmocka_unit_test_setup_teardown(gzip_body_and_no_optional_headers,
                                        setup_gzip, teardown),
        cmocka_unit_test_setup_teardown(
            error_500_is_retried_with_the_same_request_id, setup_plain,
            teardown),
        cmocka_unit_test_setup_teardown(error_413_is_permanent, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(invalid_responses_are_retried,
                                        setup_plain, teardown),
        cmocka_unit_test_setup_teardown(hang_times_out, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(refused_connection_is_retried,
                                        setup_plain, teardown),
        cmocka_unit_test_setup_teardown(bad_request_id_fails, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(big_batch_is_split, setup_gzip,
                                        teardown),
    };
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
