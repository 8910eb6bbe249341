/* The DynamoDB lease store, the Kinesis client and the AWS JSON-RPC layer
 * under them, against a scripted fake HTTP server: request shapes (target,
 * content type, SigV4 scope, condition expressions), table creation,
 * pagination (Scan, ListShards: NextToken sent alone), error
 * classification (condition failed, throttled, 5xx, validation, garbage
 * replies) and GetRecords parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../delivery/awsjson.h"
#include "../../delivery/ddb.h"
#include "../../delivery/kinesis.h"
#include "../../delivery/lease.h"
#include "../fakes/fake_httpd.h"

#define MAXQ 16

struct script {
    int status[MAXQ];
    const char *body[MAXQ];
    int n, at;
    char target[MAXQ][96];
    char ctype[MAXQ][96];
    char authz[MAXQ][512];
    char *req[MAXQ];
    int nreq;
};

static struct script sc;
static struct fake_httpd *srv;
static char url[64];

static void handler(void *ctx, const struct fake_req *r, struct fake_resp *o)
{
    struct script *s = ctx;
    const char *t = fake_req_header(r, "X-Amz-Target");
    const char *c = fake_req_header(r, "Content-Type");
    const char *a = fake_req_header(r, "Authorization");

    if (s->nreq < MAXQ) {
        snprintf(s->target[s->nreq], 96, "%s", t ? t : "");
        snprintf(s->ctype[s->nreq], 96, "%s", c ? c : "");
        snprintf(s->authz[s->nreq], 512, "%s", a ? a : "");
        s->req[s->nreq++] = strdup((const char *)r->body);
    }
    if (s->at < s->n) {
        o->status = s->status[s->at];
        o->body = strdup(s->body[s->at]);
        o->len = strlen(o->body);
        s->at++;
    } else {
        o->status = 500;
    }
    o->content_type = "application/x-amz-json-1.0";
}

static void answer(int status, const char *body)
{
    sc.status[sc.n] = status;
    sc.body[sc.n] = body;
    sc.n++;
}

/* Request i as JSON (caller decrefs). */
static json_t *req(int i)
{
    assert_true(i < sc.nreq);
    return json_loads(sc.req[i], 0, NULL);
}

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < sc.nreq; i++)
        free(sc.req[i]);
    memset(&sc, 0, sizeof(sc));
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    unsetenv("AWS_SESSION_TOKEN");
    srv = fake_httpd_start(handler, &sc);
    assert_non_null(srv);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", fake_httpd_port(srv));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_httpd_stop(srv);
    for (int i = 0; i < sc.nreq; i++)
        free(sc.req[i]);
    sc.nreq = 0;
    return 0;
}

static int open_store(struct lease_store *s)
{
    struct ddb_opts o = { url, "us-east-1", "leases", 5000 };
    struct err e = { 0, "" };
    int rc = ddb_lease_store(&o, s, &e);
    if (rc != 0)
        print_message("ddb_lease_store: %s\n", e.msg);
    return rc;
}

#define NOTFOUND "{\"__type\":\"com.amazonaws.dynamodb.v20120810#" \
                 "ResourceNotFoundException\",\"message\":\"Requested " \
                 "resource not found\"}"
#define ACTIVE "{\"Table\":{\"TableStatus\":\"ACTIVE\"}}"
#define CCF "{\"__type\":\"com.amazonaws.dynamodb.v20120810#" \
            "ConditionalCheckFailedException\",\"message\":\"The " \
            "conditional request failed\"}"

/* Missing table: created with the KCL key schema, then waited for. */
static void test_create_table(void **state)
{
    struct lease_store s;
    json_t *j;

    (void)state;
    answer(400, NOTFOUND);
    answer(200, "{\"TableDescription\":{\"TableStatus\":\"CREATING\"}}");
    answer(200, "{\"Table\":{\"TableStatus\":\"CREATING\"}}");
    answer(200, ACTIVE);
    assert_int_equal(open_store(&s), 0);
    assert_string_equal(sc.target[0], "DynamoDB_20120810.DescribeTable");
    assert_string_equal(sc.target[1], "DynamoDB_20120810.CreateTable");
    assert_string_equal(sc.ctype[1], "application/x-amz-json-1.0");
    assert_non_null(strstr(sc.authz[1], "AWS4-HMAC-SHA256 Credential="
                                        "AKIDEXAMPLE/"));
    assert_non_null(strstr(sc.authz[1], "/us-east-1/dynamodb/aws4_request"));
    j = req(1);
    assert_string_equal(json_string_value(json_object_get(j, "TableName")),
                        "leases");
    assert_string_equal(json_string_value(json_object_get(j, "BillingMode")),
                        "PAY_PER_REQUEST");
    assert_string_equal(json_string_value(json_object_get(json_array_get(
        json_object_get(j, "KeySchema"), 0), "AttributeName")), "leaseKey");
    json_decref(j);
    assert_int_equal(sc.nreq, 4);
    lease_store_free(&s);
}

/* Conditional writes and how each error comes back. */
static void test_conditions_and_errors(void **state)
{
    struct lease_store s;
    struct err e = { 0, "" };
    json_t *j;
    const char *ce;

    (void)state;
    answer(200, ACTIVE);
    assert_int_equal(open_store(&s), 0);
    answer(200, "{}");
    assert_int_equal(s.ops->renew(s.ctx, "shardId-000000000001", 41, &e), 0);
    j = req(1);
    assert_string_equal(json_string_value(json_object_get(j,
                        "ConditionExpression")), "#c = :old");
    assert_string_equal(json_string_value(json_object_get(json_object_get(
        json_object_get(j, "ExpressionAttributeValues"), ":new"), "N")), "42");
    json_decref(j);
    answer(400, CCF);
    assert_int_equal(s.ops->renew(s.ctx, "k", 1, &e), LEASE_CONFLICT);
    answer(400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
                "ProvisionedThroughputExceededException\",\"message\":\"x\"}");
    assert_int_equal(s.ops->renew(s.ctx, "k", 1, &e), -1);
    assert_int_equal(e.code, ERR_RETRY);
    answer(500, "{\"__type\":\"InternalServerError\"}");
    assert_int_equal(s.ops->renew(s.ctx, "k", 1, &e), -1);
    assert_int_equal(e.code, ERR_RETRY);
    answer(400, "{\"__type\":\"com.amazon.coral.validate#ValidationException"
                "\",\"message\":\"bad\"}");
    assert_int_equal(s.ops->renew(s.ctx, "k", 1, &e), -1);
    assert_int_equal(e.code, ERR_INVAL);
    assert_non_null(strstr(e.msg, "ValidationException"));
    /* Checkpoint: counter and owner, pending checkpoint removed. */
    answer(200, "{}");
    assert_int_equal(s.ops->checkpoint(s.ctx, "k", 7, "w1", "123", 4, &e), 0);
    j = req(sc.nreq - 1);
    ce = json_string_value(json_object_get(j, "ConditionExpression"));
    assert_string_equal(ce, "#c = :old AND #o = :me");
    assert_non_null(strstr(json_string_value(json_object_get(j,
                           "UpdateExpression")), "REMOVE #p, #ps, #pst"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(
        json_object_get(j, "ExpressionAttributeValues"), ":sub"), "N")), "4");
    json_decref(j);
    /* Take from another owner bumps ownerSwitchesSinceCheckpoint. */
    answer(200, "{}");
    assert_int_equal(s.ops->take(s.ctx, "k", 9, "w2", 1, &e), 0);
    j = req(sc.nreq - 1);
    assert_string_equal(json_string_value(json_object_get(j,
        "UpdateExpression")), "SET #o = :me, #c = :new ADD #sw :one");
    json_decref(j);
    /* Create: only if absent; a conflict is not an error. */
    answer(400, CCF);
    {
        struct lease l;
        memset(&l, 0, sizeof(l));
        snprintf(l.key, sizeof(l.key), "shardId-000000000002");
        snprintf(l.checkpoint, sizeof(l.checkpoint), "TRIM_HORIZON");
        snprintf(l.parents[0], sizeof(l.parents[0]), "shardId-000000000000");
        l.n_parents = 1;
        assert_int_equal(s.ops->create(s.ctx, &l, &e), LEASE_CONFLICT);
    }
    j = req(sc.nreq - 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(
        json_object_get(json_object_get(j, "Item"), "parentShardId"), "SS"),
        0)), "shardId-000000000000");
    json_decref(j);
    /* childShardIds: a string set, only if the lease exists. */
    answer(200, "{}");
    {
        static const char kids[2][LEASE_KEY_MAX] = { "shardId-000000000002",
                                                     "shardId-000000000003" };
        assert_int_equal(s.ops->set_children(s.ctx, "shardId-000000000000",
                                             kids, 2, &e), 0);
    }
    j = req(sc.nreq - 1);
    assert_string_equal(json_string_value(json_object_get(j,
                        "ConditionExpression")), "attribute_exists(#k)");
    assert_string_equal(json_string_value(json_array_get(json_object_get(
        json_object_get(json_object_get(j, "ExpressionAttributeValues"),
                        ":ids"), "SS"), 1)), "shardId-000000000003");
    json_decref(j);
    /* Garbage reply to a 200: retry. */
    answer(200, "{not json");
    assert_int_equal(s.ops->renew(s.ctx, "k", 1, &e), -1);
    assert_int_equal(e.code, ERR_RETRY);
    lease_store_free(&s);
}

static void test_scan_pages(void **state)
{
    struct lease_store s;
    struct err e = { 0, "" };
    struct lease *v;
    size_t n;
    json_t *j;

    (void)state;
    answer(200, ACTIVE);
    assert_int_equal(open_store(&s), 0);
    answer(200, "{\"Items\":[{\"leaseKey\":{\"S\":\"shardId-000000000000\"},"
                "\"leaseOwner\":{\"S\":\"w1\"},\"leaseCounter\":{\"N\":\"5\"},"
                "\"checkpoint\":{\"S\":\"SHARD_END\"},\"unknown\":{\"B\":\"AA==\"}}],"
                "\"LastEvaluatedKey\":{\"leaseKey\":{\"S\":\"shardId-000000000000\"}}}");
    answer(200, "{\"Items\":[{\"leaseKey\":{\"S\":\"shardId-000000000002\"},"
                "\"leaseCounter\":{\"N\":\"0\"},\"checkpoint\":{\"S\":\"12\"},"
                "\"checkpointSubSequenceNumber\":{\"N\":\"3\"},"
                "\"parentShardId\":{\"SS\":[\"shardId-000000000000\","
                "\"shardId-000000000001\"]}},{\"noKey\":{\"S\":\"x\"}}]}");
    assert_int_equal(s.ops->list(s.ctx, &v, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].owner, "w1");
    assert_int_equal(v[0].counter, 5);
    assert_string_equal(v[0].checkpoint, "SHARD_END");
    assert_string_equal(v[1].owner, "");
    assert_int_equal(v[1].subseq, 3);
    assert_int_equal(v[1].n_parents, 2);
    assert_string_equal(v[1].parents[1], "shardId-000000000001");
    j = req(2);
    assert_non_null(json_object_get(j, "ExclusiveStartKey"));
    json_decref(j);
    free(v);
    lease_store_free(&s);
}

static struct awsjson *kinesis_c(void)
{
    struct awsjson_opts o = { url, "us-east-1", "kinesis", "Kinesis_20131202",
                              "application/x-amz-json-1.1", 5000 };
    struct err e = { 0, "" };
    struct awsjson *c = awsjson_new(&o, &e);
    assert_non_null(c);
    return c;
}

static void test_list_shards_pages(void **state)
{
    struct awsjson *c = kinesis_c();
    struct kinesis_shard *v;
    size_t n;
    char type[96];
    struct err e = { 0, "" };
    json_t *j;

    (void)state;
    answer(200, "{\"Shards\":[{\"ShardId\":\"shardId-000000000000\","
                "\"HashKeyRange\":{\"StartingHashKey\":\"0\",\"EndingHashKey\":\"9\"},"
                "\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"1\","
                "\"EndingSequenceNumber\":\"5\"}}],\"NextToken\":\"tok\"}");
    answer(200, "{\"Shards\":[{\"ShardId\":\"shardId-000000000001\","
                "\"ParentShardId\":\"shardId-000000000000\","
                "\"HashKeyRange\":{\"StartingHashKey\":\"0\",\"EndingHashKey\":\"9\"},"
                "\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"6\"}}]}");
    assert_int_equal(kinesis_list_shards(c, "s1", &v, &n, type, sizeof(type),
                                         &e), AWSJSON_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].end_seq, "5");
    assert_string_equal(v[1].end_seq, "");
    assert_string_equal(v[1].parent, "shardId-000000000000");
    assert_string_equal(sc.target[0], "Kinesis_20131202.ListShards");
    assert_string_equal(sc.ctype[0], "application/x-amz-json-1.1");
    j = req(1);
    /* The second page: NextToken alone, never with StreamName. */
    assert_string_equal(json_string_value(json_object_get(j, "NextToken")),
                        "tok");
    assert_null(json_object_get(j, "StreamName"));
    json_decref(j);
    free(v);
    awsjson_free(c);
}

static void test_get_records(void **state)
{
    struct awsjson *c = kinesis_c();
    struct kinesis_batch b = { 0 };
    char type[96];
    struct err e = { 0, "" };

    (void)state;
    answer(200, "{\"Records\":[{\"SequenceNumber\":\"4968\","
                "\"ApproximateArrivalTimestamp\":1.441215410867E9,"
                "\"Data\":\"aGVsbG8=\",\"PartitionKey\":\"a\"},"
                "{\"SequenceNumber\":\"4969\"}],\"MillisBehindLatest\":7}");
    assert_int_equal(kinesis_get_records(c, "it", 100, &b, type,
                                         sizeof(type), &e), AWSJSON_RETRY);
    /* The second record has no Data: the reply is refused whole, as
     * retryable (test_kinesis.c covers the parser itself). */
    assert_int_equal(b.n, 0);
    assert_non_null(strstr(e.msg, "record 1 (4969) has no PartitionKey"));
    answer(200, "{\"Records\":[{\"SequenceNumber\":\"4968\","
                "\"ApproximateArrivalTimestamp\":1.441215410867E9,"
                "\"Data\":\"aGVsbG8=\",\"PartitionKey\":\"a\"}],"
                "\"MillisBehindLatest\":7}");
    assert_int_equal(kinesis_get_records(c, "it", 100, &b, type,
                                         sizeof(type), &e), AWSJSON_OK);
    assert_int_equal(b.n, 1);
    assert_null(b.next);                    /* the shard's end */
    assert_int_equal(b.millis_behind, 7);
    assert_string_equal(b.recs[0].seq, "4968");
    assert_true(b.recs[0].arrival_ms == 1441215410867LL);
    assert_int_equal(b.recs[0].len, 5);
    assert_memory_equal(b.recs[0].data, "hello", 5);
    /* Expired iterator: an error the caller recognises by its type. */
    answer(400, "{\"__type\":\"ExpiredIteratorException\",\"message\":\"x\"}");
    assert_int_equal(kinesis_get_records(c, "it", 100, &b, type,
                                         sizeof(type), &e), AWSJSON_ERROR);
    assert_string_equal(type, "ExpiredIteratorException");
    answer(400, "{\"__type\":\"ProvisionedThroughputExceededException\"}");
    assert_int_equal(kinesis_get_records(c, "it", 100, &b, type,
                                         sizeof(type), &e), AWSJSON_RETRY);
    kinesis_batch_release(&b);
    awsjson_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conditions_and_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_scan_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_shards_pages, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_get_records, setup, teardown),
    };
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
