/* test_opensearch.c - the OpenSearch destination against an in-process
 * _bulk server that follows OpenSearch's documented request and response
 * (NDJSON pairs; per-item status, error.type, errors: true) and fails
 * chosen ids with 429 or 400. Asserts per-record results, that only failed
 * documents are re-sent under the same _id, the rotated index names across
 * hour/day/week/month/year boundaries (US and ISO weeks), document
 * validation before sending, HTTP-level failures, and the auth headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "../../config/cfg.h"
#include "../../delivery/log.h"
#include "../../destinations/dest.h"
#include "../fakes/fake_httpd.h"

#define MAX_DOCS 64

enum mode { M_BULK, M_503, M_400, M_HANG, M_SHORT };

/* The server: what it received and how it answers. */
static struct bulk {
    enum mode mode;
    int requests;
    char problem[512];          /* first protocol violation, "" if none */
    char auth[512];             /* last Authorization header */
    /* Every action received, in order. */
    size_t n;
    char index[MAX_DOCS][96];
    char id[MAX_DOCS][64];      /* "" when the action had no _id */
    char type[MAX_DOCS][32];
    char doc[MAX_DOCS][128];
    /* Scripted failures: _id -> status, for 'times' requests. */
    struct { const char *id; int status; int times; } fail[4];
} bk;

static void problem(const char *fmt, ...)
{
    va_list ap;

    if (bk.problem[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(bk.problem, sizeof(bk.problem), fmt, ap);
    va_end(ap);
}

static int scripted(const char *id)
{
    for (size_t i = 0; i < 4; i++)
        if (bk.fail[i].id != NULL && strcmp(bk.fail[i].id, id) == 0 &&
            bk.fail[i].times != 0) {
            if (bk.fail[i].times > 0)
                bk.fail[i].times--;
            return bk.fail[i].status;
        }
    return 0;
}

static void answer_bulk(const struct fake_req *r, struct fake_resp *out)
{
    json_t *items = json_array(), *resp = json_object();
    char *line = (char *)r->body, *nl, *doc;
    int errors = 0;

    if (r->len == 0 || r->body[r->len - 1] != '\n')
        problem("the body must end with a newline");
    while (line != NULL && *line != '\0') {
        json_t *act, *a, *d;
        const char *id = "";
        int st;

        nl = strchr(line, '\n');
        if (nl == NULL)
            break;
        *nl = '\0';
        doc = nl + 1;
        nl = strchr(doc, '\n');
        if (nl == NULL) {
            problem("an action line without its document");
            break;
        }
        *nl = '\0';
        act = json_loads(line, 0, NULL);
        a = json_object_get(act, "index");
        d = json_loads(doc, 0, NULL);
        if (!json_is_object(a) || json_object_size(act) != 1 ||
            !json_is_string(json_object_get(a, "_index")))
            problem("bad action line: %s", line);
        if (!json_is_object(d))
            problem("bad document line: %s", doc);
        if (json_is_string(json_object_get(a, "_id")))
            id = json_string_value(json_object_get(a, "_id"));
        if (bk.n < MAX_DOCS) {
            snprintf(bk.index[bk.n], sizeof(bk.index[0]), "%s",
                     json_string_value(json_object_get(a, "_index")) ?: "");
            snprintf(bk.id[bk.n], sizeof(bk.id[0]), "%s", id);
            snprintf(bk.type[bk.n], sizeof(bk.type[0]), "%s",
                     json_string_value(json_object_get(a, "_type")) ?: "");
            snprintf(bk.doc[bk.n], sizeof(bk.doc[0]), "%s", doc);
            bk.n++;
        }
        st = scripted(id);
        if (st == 0) {
            json_array_append_new(items, json_pack("{s:{s:s,s:s,s:i}}",
                "index", "_index", bk.index[bk.n - 1], "_id", id,
                "status", 201));
        } else {
            errors = 1;
            json_array_append_new(items, json_pack(
                "{s:{s:s,s:s,s:i,s:{s:s,s:s}}}", "index",
                "_index", bk.index[bk.n - 1], "_id", id, "status", st,
                "error", "type", st == 429
                ? "es_rejected_execution_exception"
                : "mapper_parsing_exception", "reason", st == 429
                ? "rejected execution of coordinating operation"
                : "failed to parse field [ts] of type [date]"));
        }
        json_decref(act);
        json_decref(d);
        line = nl + 1;
    }
    if (bk.mode == M_SHORT && json_array_size(items) > 0)
        json_array_remove(items, 0);
    json_object_set_new(resp, "took", json_integer(3));
    json_object_set_new(resp, "errors", json_boolean(errors));
    json_object_set_new(resp, "items", items);
    out->body = json_dumps(resp, JSON_COMPACT);
    out->len = strlen(out->body);
    json_decref(resp);
}

static void server(void *ctx, const struct fake_req *r, struct fake_resp *out)
{
    const char *ct = fake_req_header(r, "Content-Type");
    const char *au = fake_req_header(r, "Authorization");

    (void)ctx;
    bk.requests++;
    snprintf(bk.auth, sizeof(bk.auth), "%s", au ? au : "");
    if (strcmp(r->method, "POST") != 0 || strcmp(r->url, "/_bulk") != 0)
        problem("%s %s, want POST /_bulk", r->method, r->url);
    if (ct == NULL || strcmp(ct, "application/x-ndjson") != 0)
        problem("Content-Type is %s", ct ? ct : "(absent)");
    out->content_type = "application/json; charset=UTF-8";
    switch (bk.mode) {
    case M_503:
    case M_400:
        out->status = bk.mode == M_503 ? 503 : 400;
        out->body = strdup(bk.mode == M_503
            ? "{\"error\":{\"type\":\"cluster_block_exception\",\"reason\":"
              "\"blocked by: [SERVICE_UNAVAILABLE]\"},\"status\":503}"
            : "{\"error\":{\"type\":\"illegal_argument_exception\","
              "\"reason\":\"The bulk request must be terminated by a "
              "newline\"},\"status\":400}");
        out->len = strlen(out->body);
        return;
    case M_HANG:
        out->delay_ms = 1600;
        answer_bulk(r, out);
        return;
    case M_BULK:
    case M_SHORT:
        answer_bulk(r, out);
        return;
    }
}

/* ---- fixtures ---- */

static struct fake_httpd *srv;
static struct cfg *cfg;
static struct dest dst;
static int have_dest;

static void drop_dest(void)
{
    if (have_dest)
        dest_opensearch.destroy(&dst);
    have_dest = 0;
    cfg_free(cfg);
    cfg = NULL;
}

static void make_dest(const char *members)
{
    char json[4096], *errors = NULL;
    struct err e = { 0, "" };

    drop_dest();
    snprintf(json, sizeof(json),
             "{\"Service\":{\"Region\":\"eu-west-1\"},\"DeliveryStreams\":[{"
             "\"DeliveryStreamName\":\"docs\","
             "\"AmazonopensearchserviceDestinationConfiguration\":{"
             "\"ClusterEndpoint\":\"http://127.0.0.1:%d\","
             "\"IndexName\":\"logs\","
             "\"S3Configuration\":{\"BucketARN\":\"arn:aws:s3:::bk\"}%s}}]}",
             fake_httpd_port(srv), members);
    if (cfg_load_string("t.json", json, &cfg, &errors) != 0) {
        print_error("%s", errors);
        free(errors);
        fail();
    }
    memset(&dst, 0, sizeof(dst));
    dst.type = &dest_opensearch;
    snprintf(dst.id, sizeof(dst.id), "dest:opensearch:docs");
    if (dest_opensearch.create(&dst, &cfg->streams[0], &cfg->service,
                               &e) != 0) {
        print_error("create: %s", e.msg);
        fail();
    }
    have_dest = 1;
}

static int setup(void **state)
{
    (void)state;
    memset(&bk, 0, sizeof(bk));
    srv = fake_httpd_start(server, NULL);
    assert_non_null(srv);
    make_dest("");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    drop_dest();
    fake_httpd_stop(srv);
    srv = NULL;
    return 0;
}

static int64_t ms(int y, int mo, int d, int h, int mi)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    return (int64_t)timegm(&tm) * 1000;
}

/* Reasons of the latest delivery (struct dest_reasons). */
static struct dest_reasons reasons;
#define CODE(i) dest_result_code(&reasons, &res[i])
#define MSG(i) dest_result_msg(&reasons, &res[i])

static enum dest_status bulk_send(const struct payload_rec *recs, size_t n,
                             struct dest_rec_result *res, struct err *e)
{
    struct payload p;

    memset(&p, 0, sizeof(p));
    memset(res, 0xAA, n * sizeof(*res));
    p.recs = recs;
    p.n_recs = n;
    p.request_id = "ed4acda5-034f-9f42-bba1-f29aea6d7d8f";
    p.results = res;
    p.reasons = &reasons;
    dest_reasons_reset(&reasons);
    return dest_opensearch.deliver(&dst, &p, e);
}

#define DOC(s, t, id) { (const unsigned char *)(s), sizeof(s) - 1, (t), (id) }

/* ---- cases ---- */

/* The index each record lands in, for every period, across hour, day,
 * month and year boundaries; OneWeek both ways. */
static void index_rotation(void **state)
{
    static const struct {
        const char *period;
        const char *want[8];
    } cases[] = {
        { "'NoRotation'", { "logs", "logs", "logs", "logs", "logs", "logs",
                            "logs", "logs" } },
        { "'OneHour'", { "logs-2016-02-25-13", "logs-2015-12-31-23",
                         "logs-2016-01-01-00", "logs-2016-12-31-12",
                         "logs-2017-01-01-00", "logs-2017-01-02-00",
                         "logs-2020-12-31-00", "logs-2021-01-03-00" } },
        { "'OneDay'", { "logs-2016-02-25", "logs-2015-12-31",
                        "logs-2016-01-01", "logs-2016-12-31",
                        "logs-2017-01-01", "logs-2017-01-02",
                        "logs-2020-12-31", "logs-2021-01-03" } },
        { "'OneMonth'", { "logs-2016-02", "logs-2015-12", "logs-2016-01",
                          "logs-2016-12", "logs-2017-01", "logs-2017-01",
                          "logs-2020-12", "logs-2021-01" } },
        /* US: Sunday starts a week; week 1 holds 1 January. */
        { "'OneWeek'", { "logs-2016-w09", "logs-2016-w01", "logs-2016-w01",
                         "logs-2016-w53", "logs-2017-w01", "logs-2017-w01",
                         "logs-2021-w01", "logs-2021-w02" } },
        { "'OneWeek','IndexRotationWeekRule':'US'", {
                         "logs-2016-w09", "logs-2016-w01", "logs-2016-w01",
                         "logs-2016-w53", "logs-2017-w01", "logs-2017-w01",
                         "logs-2021-w01", "logs-2021-w02" } },
        /* ISO 8601: Monday starts a week; week 1 holds the first
         * Thursday; the year is the week's. */
        { "'OneWeek','IndexRotationWeekRule':'ISO'", {
                         "logs-2016-w08", "logs-2015-w53", "logs-2015-w53",
                         "logs-2016-w52", "logs-2016-w52", "logs-2017-w01",
                         "logs-2020-w53", "logs-2020-w53" } },
    };
    struct payload_rec recs[8] = {
        DOC("{\"a\":0}", ms(2016, 2, 25, 13, 0), "i0"),
        DOC("{\"a\":1}", ms(2015, 12, 31, 23, 59) + 59999, "i1"),
        DOC("{\"a\":2}", ms(2016, 1, 1, 0, 0), "i2"),
        DOC("{\"a\":3}", ms(2016, 12, 31, 12, 0), "i3"),
        DOC("{\"a\":4}", ms(2017, 1, 1, 0, 0), "i4"),
        DOC("{\"a\":5}", ms(2017, 1, 2, 0, 30), "i5"),
        DOC("{\"a\":6}", ms(2020, 12, 31, 0, 0), "i6"),
        DOC("{\"a\":7}", ms(2021, 1, 3, 0, 0), "i7"),
    };
    struct dest_rec_result res[8];
    struct err e = { 0, "" };
    char members[256];

    (void)state;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        snprintf(members, sizeof(members), ",'IndexRotationPeriod':%s",
                 cases[c].period);
        for (char *p = members; *p; p++)
            if (*p == '\'')
                *p = '"';
        make_dest(members);
        bk.n = 0;
        assert_int_equal(bulk_send(recs, 8, res, &e), DEST_OK);
        assert_int_equal(bk.n, 8);
        for (size_t i = 0; i < 8; i++) {
            if (strcmp(bk.index[i], cases[c].want[i]) != 0) {
                print_error("%s, record %zu: index %s, want %s\n",
                            cases[c].period, i, bk.index[i],
                            cases[c].want[i]);
                fail();
            }
            assert_string_equal(bk.id[i], recs[i].id);
            assert_int_equal(res[i].status, DEST_OK);
        }
    }
    assert_string_equal(bk.problem, "");
}

/* 429 items are retried, 400 items fail for good, records that are no
 * JSON object are never sent; a retry carries only the failed document,
 * under the same _id. */
static void item_failures(void **state)
{
    static const struct payload_rec recs[] = {
        DOC("{\"n\":0}", 1700000000000, "d0"),
        DOC("{\"n\":1}", 1700000000000, "d1"),
        DOC("{\"ts\":\"x\"}", 1700000000000, "d2"),
        DOC("not json", 1700000000000, "d3"),
        DOC("[1,2]", 1700000000000, "d4"),
        DOC("{\n  \"multi\": \"line\"\n}\n", 1700000000000, "d5"),
    };
    struct dest_rec_result res[6];
    struct err e = { 0, "" };

    (void)state;
    bk.fail[0].id = "d1";
    bk.fail[0].status = 429;
    bk.fail[0].times = 1;
    bk.fail[1].id = "d2";
    bk.fail[1].status = 400;
    bk.fail[1].times = -1;
    assert_int_equal(bulk_send(recs, 6, res, &e), DEST_RETRY);
    assert_string_equal(bk.problem, "");
    assert_int_equal(bk.n, 4);              /* d3, d4 never sent */
    assert_string_equal(bk.doc[3], "{   \"multi\": \"line\" } ");
    assert_int_equal(res[0].status, DEST_OK);
    assert_int_equal(res[1].status, DEST_RETRY);
    assert_int_equal(res[1].http_status, 429);
    assert_string_equal(CODE(1), "es_rejected_execution_exception");
    assert_int_equal(res[2].status, DEST_FAIL);
    assert_int_equal(res[2].http_status, 400);
    assert_string_equal(CODE(2), "mapper_parsing_exception");
    assert_string_equal(MSG(2), "failed to parse field [ts] of type "
                        "[date]");
    assert_int_equal(res[3].status, DEST_FAIL);
    assert_string_equal(CODE(3), "OS.InvalidDocument");
    assert_int_equal(res[4].status, DEST_FAIL);
    assert_string_equal(CODE(4), "OS.InvalidDocument");
    assert_int_equal(res[5].status, DEST_OK);
    assert_non_null(strstr(e.msg, "4 of 6"));

    /* The core re-sends the RETRY record alone. */
    bk.n = 0;
    assert_int_equal(bulk_send(recs + 1, 1, res, &e), DEST_OK);
    assert_int_equal(bk.n, 1);
    assert_string_equal(bk.id[0], "d1");
    assert_string_equal(bk.doc[0], "{\"n\":1}");

    /* Only permanent failures left: DEST_FAIL. */
    assert_int_equal(bulk_send(recs + 2, 3, res, &e), DEST_FAIL);
}

static void invalid_documents_are_not_sent(void **state)
{
    static const struct payload_rec recs[] = {
        DOC("{}", 1, "v0"),
        DOC(" {\"a\":[1,2.5e-3,{\"b\":null,\"c\":true}],\"d\":\"\\u00e9\"} ",
            1, "v1"),
        DOC("", 1, "x0"),
        DOC("{", 1, "x1"),
        DOC("{}{}", 1, "x2"),
        DOC("{\"a\":01}", 1, "x3"),
        DOC("{\"a\":\"\x01\"}", 1, "x4"),
        DOC("{\"a\":tru}", 1, "x5"),
        DOC("{\"a\" 1}", 1, "x6"),
        DOC("{\"a\":1,}", 1, "x7"),
        DOC("\"str\"", 1, "x8"),
        DOC("{\"a\":\"\\x\"}", 1, "x9"),
        DOC("{\"a\":1}", 1, "bad id!"),
    };
    struct dest_rec_result res[13];
    struct err e = { 0, "" };

    (void)state;
    assert_int_equal(bulk_send(recs, 13, res, &e), DEST_FAIL);
    assert_int_equal(bk.n, 2);
    assert_int_equal(res[0].status, DEST_OK);
    assert_int_equal(res[1].status, DEST_OK);
    for (size_t i = 2; i < 12; i++) {
        assert_int_equal(res[i].status, DEST_FAIL);
        assert_string_equal(CODE(i), "OS.InvalidDocument");
    }
    assert_string_equal(CODE(12), "OS.InvalidDocumentId");
    /* Nothing valid at all: no request. */
    bk.requests = 0;
    assert_int_equal(bulk_send(recs + 2, 3, res, &e), DEST_FAIL);
    assert_int_equal(bk.requests, 0);
}

static void http_level_failures(void **state)
{
    static const struct payload_rec recs[] = {
        DOC("{\"n\":0}", 1700000000000, "h0"),
        DOC("{\"n\":1}", 1700000000000, "h1"),
    };
    struct dest_rec_result res[2];
    struct err e = { 0, "" };

    (void)state;
    make_dest(",\"RequestTimeoutInSeconds\":1");
    bk.mode = M_503;
    assert_int_equal(bulk_send(recs, 2, res, &e), DEST_RETRY);
    assert_int_equal(res[1].status, DEST_RETRY);
    assert_int_equal(res[1].http_status, 503);
    assert_string_equal(CODE(1), "cluster_block_exception");
    bk.mode = M_400;
    assert_int_equal(bulk_send(recs, 2, res, &e), DEST_FAIL);
    assert_string_equal(CODE(0), "illegal_argument_exception");
    bk.mode = M_SHORT;
    assert_int_equal(bulk_send(recs, 2, res, &e), DEST_RETRY);
    assert_string_equal(CODE(0), "OS.InvalidResponse");
    bk.mode = M_HANG;
    assert_int_equal(bulk_send(recs, 2, res, &e), DEST_RETRY);
    assert_string_equal(CODE(0), "OS.RequestTimeout");
    fake_httpd_stop(srv);
    srv = NULL;
    assert_int_equal(bulk_send(recs, 2, res, &e), DEST_RETRY);
    assert_string_equal(CODE(1), "OS.ConnectionFailed");
}

static void type_no_id_and_basic_auth(void **state)
{
    static const struct payload_rec recs[] = {
        DOC("{\"n\":0}", 1700000000000, "t0"),
    };
    struct dest_rec_result res[1];
    struct err e = { 0, "" };

    (void)state;
    make_dest(",\"TypeName\":\"_doc\",\"IndexRotationPeriod\":\"NoRotation\","
              "\"DocumentIdOptions\":{\"DefaultDocumentIdFormat\":"
              "\"NO_DOCUMENT_ID\"},\"BasicAuth\":{\"Username\":\"admin\","
              "\"Password\":\"pa:ss\"}");
    assert_int_equal(bulk_send(recs, 1, res, &e), DEST_OK);
    assert_string_equal(bk.problem, "");
    assert_string_equal(bk.type[0], "_doc");
    assert_string_equal(bk.id[0], "");
    assert_string_equal(bk.index[0], "logs");
    /* base64("admin:pa:ss") */
    assert_string_equal(bk.auth, "Basic YWRtaW46cGE6c3M=");
}

static void sigv4_when_credentials_exist(void **state)
{
    static const struct payload_rec recs[] = {
        DOC("{\"n\":0}", 1700000000000, "s0"),
    };
    struct dest_rec_result res[1];
    struct err e = { 0, "" };

    (void)state;
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
           1);
    make_dest("");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_int_equal(bulk_send(recs, 1, res, &e), DEST_OK);
    assert_true(strncmp(bk.auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/",
                        40) == 0);
    assert_non_null(strstr(bk.auth, "/eu-west-1/es/aws4_request"));
}

/* 66 documents of 1 MiB: more than one _bulk body may hold (64 MiB), so
 * two requests, every document stored once. */
static void big_batch_is_split(void **state)
{
    size_t n = 66, size = 1u << 20, i;
    struct payload_rec *recs = calloc(n, sizeof(*recs));
    struct dest_rec_result *res = calloc(n, sizeof(*res));
    unsigned char *doc = malloc(size);
    char (*ids)[8] = calloc(n, 8);
    struct err e = { 0, "" };

    (void)state;
    assert_non_null(recs);
    assert_non_null(res);
    assert_non_null(doc);
    assert_non_null(ids);
    memset(doc, 'a', size);
    memcpy(doc, "{\"p\":\"", 6);
    memcpy(doc + size - 2, "\"}", 2);
    for (i = 0; i < n; i++) {
        snprintf(ids[i], 8, "b%zu", i);
        recs[i] = (struct payload_rec){ doc, size, 1700000000000, ids[i] };
    }
    assert_int_equal(bulk_send(recs, n, res, &e), DEST_OK);
    assert_int_equal(bk.requests, 2);
    assert_int_equal(bk.n, MAX_DOCS);
    for (i = 0; i < MAX_DOCS; i++) {
        assert_string_equal(bk.id[i], ids[i]);
    }
    assert_string_equal(bk.problem, "");
    free(recs);
    free(res);
    free(doc);
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(index_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(item_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_documents_are_not_sent,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(http_level_failures, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(type_no_id_and_basic_auth, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(sigv4_when_credentials_exist, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(big_batch_is_split, setup,
                                        teardown),
    };
    int rc;

    /* No credentials from the environment or files unless a case sets
     * them: requests go unsigned. */
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_PROFILE");
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
    setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
    log_init(0, LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
