/* test_agent_ship.c - PutRecordBatch bodies built in place (base64 across
 * two pieces), signed requests, partial failures retried with only the
 * failed records, whole-call failures, and answer parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "../../agent/ship.h"
#include "../fakes/fake_httpd.h"

struct peer {
    int  calls;
    int  mode;              /* 0 partial then ok, 1: 500, 2: 400 */
    char body[2][1024];
    char authz[512];
    char target[128];
};

static void handler(void *ctx, const struct fake_req *req,
                    struct fake_resp *resp)
{
    struct peer *p = ctx;
    const char *a = fake_req_header(req, "Authorization");
    const char *t = fake_req_header(req, "X-Amz-Target");
    const char *ok2 = "{\"FailedPutCount\":0,\"Encrypted\":false,"
        "\"RequestResponses\":[{\"RecordId\":\"1\"},{\"RecordId\":\"2\"}]}";
    const char *part = "{\"FailedPutCount\":2,\"Encrypted\":false,"
        "\"RequestResponses\":[{\"RecordId\":\"a\"},{\"ErrorCode\":"
        "\"ServiceUnavailableException\",\"ErrorMessage\":\"Slow down.\"},"
        "{\"RecordId\":\"c\"},{\"ErrorCode\":\"InternalFailure\","
        "\"ErrorMessage\":\"x\"}]}";
    const char *text;

    if (p->calls < 2)
        snprintf(p->body[p->calls], sizeof(p->body[0]), "%s",
                 (const char *)req->body);
    snprintf(p->authz, sizeof(p->authz), "%s", a ? a : "");
    snprintf(p->target, sizeof(p->target), "%s", t ? t : "");
    p->calls++;
    resp->content_type = "application/x-amz-json-1.1";
    if (p->mode == 1) {
        resp->status = 500;
        text = "{\"__type\":\"InternalFailure\",\"message\":\"boom\"}";
    } else if (p->mode == 2) {
        resp->status = 400;
        text = "{\"__type\":\"ResourceNotFoundException\",\"message\":"
            "\"Firehose nosuch under account 000000000000 not found.\"}";
    } else {
        text = p->calls == 1 ? part : ok2;
    }
    resp->body = strdup(text);
    resp->len = strlen(text);
}

static void add(struct ship_batch *b, const char *p1, const char *p2,
                uint64_t end)
{
    struct ship_tag tag = { 7, 1, end };
    struct err e = { 0, "" };

    assert_int_equal(ship_batch_add(b, p1, strlen(p1), p2,
                                    p2 ? strlen(p2) : 0, &tag, &e), 0);
}

static void test_partial_then_ok(void **state)
{
    struct peer p = { 0 };
    struct fake_httpd *f = fake_httpd_start(handler, &p);
    struct ship_batch *b = calloc(1, sizeof(*b));
    struct awscred cred = { "AKIDTEST", "secret", "", "test" };
    struct ship_client *c;
    struct err e = { 0, "" };
    char url[64];

    (void)state;
    assert_non_null(f);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", fake_httpd_port(f));
    c = ship_client_new(url, "us-east-1", &cred, &e);
    assert_non_null(c);
    assert_int_equal(ship_batch_init(b, "logs", 500, 4u << 20, &e), 0);
    add(b, "one\n", NULL, 4);
    add(b, "tw", "o\n", 8);         /* base64 carried across two pieces */
    add(b, "three\n", NULL, 14);
    add(b, "", NULL, 14);
    assert_int_equal(b->bytes, 4 + 4 + 6 + 0);
    assert_int_equal(ship_send(c, b, 5000, &e), SHIP_PARTIAL);
    assert_non_null(strstr(e.msg, "2 of 4 records failed"));
    assert_non_null(strstr(e.msg, "ServiceUnavailableException"));
    assert_string_equal(p.body[0], "{\"DeliveryStreamName\":\"logs\","
        "\"Records\":[{\"Data\":\"b25lCg==\"},{\"Data\":\"dHdvCg==\"},"
        "{\"Data\":\"dGhyZWUK\"},{\"Data\":\"\"}]}");
    assert_string_equal(p.target, "Firehose_20150804.PutRecordBatch");
    assert_true(strncmp(p.authz, "AWS4-HMAC-SHA256 Credential=AKIDTEST/",
                        37) == 0);
    assert_non_null(strstr(p.authz, "/us-east-1/firehose/aws4_request"));
    assert_int_equal(b->acked[0], 1);
    assert_int_equal(b->acked[1], 0);
    assert_int_equal(b->acked[2], 1);
    assert_int_equal(b->acked[3], 0);
    assert_int_equal(b->n_body, 2);
    /* Only the failed two go again. */
    assert_int_equal(ship_send(c, b, 5000, &e), SHIP_OK);
    assert_string_equal(p.body[1], "{\"DeliveryStreamName\":\"logs\","
        "\"Records\":[{\"Data\":\"dHdvCg==\"},{\"Data\":\"\"}]}");
    for (int i = 0; i < 4; i++)
        assert_int_equal(b->acked[i], 1);
    ship_batch_reset(b);
    assert_int_equal(b->n, 0);

    /* Whole-call failures. */
    add(b, "x\n", NULL, 2);
    p.mode = 1;
    assert_int_equal(ship_send(c, b, 5000, &e), SHIP_RETRY);
    assert_non_null(strstr(e.msg, "HTTP 500 InternalFailure: boom"));
    p.mode = 2;
    assert_int_equal(ship_send(c, b, 5000, &e), SHIP_FAIL);
    assert_non_null(strstr(e.msg, "ResourceNotFoundException"));
    ship_client_free(c);
    fake_httpd_stop(f);
    /* Nobody listening: a connection error is retried. */
    c = ship_client_new(url, "us-east-1", NULL, &e);
    assert_int_equal(ship_send(c, b, 2000, &e), SHIP_RETRY);
    ship_client_free(c);
    ship_batch_release(b);
    free(b);
}

static void test_limits(void **state)
{
    struct ship_batch *b = calloc(1, sizeof(*b));
    struct err e = { 0, "" };
    struct ship_tag tag = { 0, 0, 0 };

    (void)state;
    assert_int_equal(ship_batch_init(b, "s", 2, 10, &e), 0);
    assert_true(ship_batch_fits(b, 10));
    assert_false(ship_batch_fits(b, 11));
    assert_int_equal(ship_batch_add(b, "12345", 5, NULL, 0, &tag, &e), 0);
    assert_int_equal(ship_batch_add(b, "123456", 6, NULL, 0, &tag, &e), -1);
    assert_int_equal(e.code, ERR_FULL);
    assert_int_equal(ship_batch_add(b, "1", 1, NULL, 0, &tag, &e), 0);
    assert_false(ship_batch_fits(b, 0));        /* 2 records: full */
    ship_batch_release(b);
    free(b);
}

static void test_parse(void **state)
{
    unsigned char failed[4];
    size_t nf = 9;
    char why[64];
    struct err e = { 0, "" };
    const char *ok = " { \"Encrypted\" : false , \"RequestResponses\" : [ "
        "{\"RecordId\":\"a\\\"b\", \"x\":[1,{\"y\":null}]}, {\"ErrorCode\":"
        "null,\"RecordId\":\"c\"} ] , \"FailedPutCount\" : 0 } ";

    (void)state;
    assert_int_equal(ship_parse_response(ok, strlen(ok), 2, failed, &nf, why,
                                         sizeof(why), &e), 0);
    assert_int_equal(nf, 0);
    assert_int_equal(failed[0] + failed[1], 0);
#define BAD(s, n) assert_int_equal(ship_parse_response(s, strlen(s), n, \
    failed, &nf, why, sizeof(why), &e), -1)
    BAD("", 1);
    BAD("{}", 1);
    BAD("{\"RequestResponses\":[{}]}", 2);            /* count mismatch */
    BAD("{\"RequestResponses\":[{},{},{}]}", 2);
    BAD("{\"RequestResponses\":[{}", 1);               /* truncated */
    BAD("{\"FailedPutCount\":1,\"RequestResponses\":[{}]}", 1);
    BAD("{\"RequestResponses\":[{\"ErrorCode\":\"x\"]}", 1);
    BAD("<html>502</html>", 1);
    assert_non_null(strstr(e.msg, "PutRecordBatch answer"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partial_then_ok),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_parse),
    };
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
