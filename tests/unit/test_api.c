/* API tests over real HTTP on 127.0.0.1: request shapes, every error type,
 * throttling at the spool limit, and the records reaching the local
 * directory destination. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../../config/cfg.h"
#include "../../delivery/api.h"
#include "../../delivery/control.h"
#include "../../delivery/log.h"
#include "../../delivery/stream.h"
#include "../../delivery/util.h"

struct fx {
    char dir[64];
    struct cfg *cfg;
    struct streams *set;
    struct control *ctl;
    struct api *api;
    char url[64];
};

static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t n = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &n), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char json[2048], *errors = NULL;
    struct err e;
    int port = free_port();

    log_init(0, LOG_ERROR);
    strcpy(f->dir, "/tmp/fh-api-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(json, sizeof(json),
        "{\"Service\":{\"Listen\":\"127.0.0.1:%d\",\"StateDirectory\":"
        "\"%s/state\",\"MaxSpoolBytesPerStream\":1048576},"
        "\"DeliveryStreams\":["
        "{\"DeliveryStreamName\":\"s1\",\"LocalDirectoryDestinationConfiguration\":"
        "{\"Path\":\"%s/out\",\"BufferingHints\":{\"SizeInMBs\":1,"
        "\"IntervalInSeconds\":0},\"CompressionFormat\":\"GZIP\"}},"
        "{\"DeliveryStreamName\":\"held\",\"ExtendedS3DestinationConfiguration\":"
        "{\"BucketARN\":\"arn:aws:s3:::nowhere\",\"BufferingHints\":"
        "{\"SizeInMBs\":1,\"IntervalInSeconds\":900}}}]}",
        port, f->dir, f->dir);
    if (cfg_load_string("test", json, &f->cfg, &errors) != 0)
        fail_msg("config: %s", errors);
    assert_int_equal(streams_new(8, &f->set, &e), 0);
    assert_int_equal(control_new(f->cfg, f->set, NULL, &f->ctl, &e), 0);
    for (size_t i = 0; i < 2; i++) {
        struct stream *st;
        if (stream_open(&f->cfg->streams[i], &f->cfg->service, NULL, &st,
                        &e) != 0 || control_adopt(f->ctl, i, st, &e) != 0)
            fail_msg("stream: %s", e.msg);
    }
    assert_int_equal(control_start(f->ctl, &e), 0);
    if (api_start(&f->cfg->service, f->set, f->ctl, &f->api, &e) != 0)
        fail_msg("api: %s", e.msg);
    api_set_ready(f->api);
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/", port);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];

    api_stop(f->api);
    control_free(f->ctl);
    streams_free(f->set);
    cfg_free(f->cfg);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static size_t collect(char *p, size_t sz, size_t n, void *arg)
{
    struct err e;

    buf_append(arg, p, sz * n, &e);
    return sz * n;
}

/* POST with a target; returns the status and the parsed body. */
static long call(struct fx *f, const char *target, const char *body,
                 json_t **out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    struct buf b = { 0 };
    char th[128];
    long status = 0;
    json_error_t je;

    snprintf(th, sizeof(th), "X-Amz-Target: %s", target);
    h = curl_slist_append(h, th);
    h = curl_slist_append(h, "Content-Type: application/x-amz-json-1.1");
    curl_easy_setopt(c, CURLOPT_URL, f->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    *out = json_loadb((const char *)b.p, b.len, 0, &je);
    if (*out == NULL)
        fail_msg("response is not JSON: %.*s", (int)b.len, (char *)b.p);
    buf_release(&b);
    return status;
}

static void expect_error(struct fx *f, const char *target, const char *body,
                         long status, const char *type)
{
    json_t *j;
    long got = call(f, target, body, &j);
    const char *t = json_string_value(json_object_get(j, "__type"));

    if (got != status || t == NULL || strcmp(t, type) != 0 ||
        !json_is_string(json_object_get(j, "message")))
        fail_msg("%s %s: got %ld %s", target, body, got, t ? t : "(none)");
    json_decref(j);
}

#define PUT "Firehose_20150804.PutRecord"
#define BATCH "Firehose_20150804.PutRecordBatch"

static void test_errors(void **state)
{
    struct fx *f = *state;

    expect_error(f, PUT, "{not json", 400, "SerializationException");
    expect_error(f, PUT, "{\"DeliveryStreamName\":\"s1\",\"Record\":"
                 "{\"Data\":\"###\"}}", 400, "SerializationException");
    expect_error(f, PUT, "{\"DeliveryStreamName\":\"nope\",\"Record\":"
                 "{\"Data\":\"\"}}", 400, "ResourceNotFoundException");
    expect_error(f, BATCH, "{\"DeliveryStreamName\":\"s1\",\"Records\":[]}",
                 400, "ValidationException");
    expect_error(f, "Firehose_20150804.Bogus", "{}", 400,
                 "UnknownOperationException");
    expect_error(f, "Kinesis_20131202.PutRecord", "{}", 400,
                 "UnknownOperationException");
    expect_error(f, "Firehose_20150804.CreateDeliveryStream", "{}", 400,
                 "ValidationException");
    expect_error(f, "Firehose_20150804.StartDeliveryStreamEncryption", "{}",
                 400, "InvalidArgumentException");
    expect_error(f, "Firehose_20150804.DescribeDeliveryStream",
                 "{\"DeliveryStreamName\":\"zz\"}", 400,
                 "ResourceNotFoundException");
}

static void test_list_describe(void **state)
{
    struct fx *f = *state;
    json_t *j, *names, *d;

    assert_int_equal(call(f, "Firehose_20150804.ListDeliveryStreams", "",
                          &j), 200);
    names = json_object_get(j, "DeliveryStreamNames");
    assert_int_equal(json_array_size(names), 2);
    assert_string_equal(json_string_value(json_array_get(names, 0)), "held");
    json_decref(j);
    assert_int_equal(call(f, "Firehose_20150804.ListDeliveryStreams",
                          "{\"Limit\":1,\"ExclusiveStartDeliveryStreamName\":"
                          "\"held\"}", &j), 200);
    names = json_object_get(j, "DeliveryStreamNames");
    assert_int_equal(json_array_size(names), 1);
    assert_string_equal(json_string_value(json_array_get(names, 0)), "s1");
    assert_true(json_is_false(json_object_get(j, "HasMoreDeliveryStreams")));
    json_decref(j);
    assert_int_equal(call(f, "Firehose_20150804.DescribeDeliveryStream",
                          "{\"DeliveryStreamName\":\"held\"}", &j), 200);
    d = json_object_get(j, "DeliveryStreamDescription");
    assert_string_equal(json_string_value(json_object_get(
        d, "DeliveryStreamStatus")), "ACTIVE");
    d = json_array_get(json_object_get(d, "Destinations"), 0);
    d = json_object_get(d, "ExtendedS3DestinationDescription");
    assert_string_equal(json_string_value(json_object_get(d, "BucketARN")),
                        "arn:aws:s3:::nowhere");
    json_decref(j);
}

/* Every .gz under dir, inflated and concatenated, into out. */
static void read_tree(const char *dir, struct buf *out)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[1024];
    struct err e;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (strstr(de->d_name, ".gz") != NULL) {
            gzFile g = gzopen(path, "rb");
            char tmp[4096];
            int n;
            assert_non_null(g);
            while ((n = gzread(g, tmp, sizeof(tmp))) > 0)
                buf_append(out, tmp, (size_t)n, &e);
            gzclose(g);
        } else {
            read_tree(path, out);
        }
    }
    closedir(d);
}

static void test_put_delivers(void **state)
{
    struct fx *f = *state;
    struct buf got = { 0 };
    char out[128];
    json_t *j;

    assert_int_equal(call(f, PUT, "{\"DeliveryStreamName\":\"s1\",\"Record\":"
                          "{\"Data\":\"aGVsbG8K\"}}", &j), 200);
    assert_int_equal(strlen(json_string_value(json_object_get(j,
                                                              "RecordId"))),
                     32);
    json_decref(j);
    assert_int_equal(call(f, BATCH, "{\"DeliveryStreamName\":\"s1\","
                          "\"Records\":[{\"Data\":\"b25lCg==\"},{\"Data\":"
                          "\"dHdvCg==\"}]}", &j), 200);
    assert_int_equal(json_integer_value(json_object_get(j, "FailedPutCount")),
                     0);
    assert_int_equal(json_array_size(json_object_get(j, "RequestResponses")),
                     2);
    json_decref(j);
    snprintf(out, sizeof(out), "%s/out", f->dir);
    /* IntervalInSeconds 0: delivered as soon as possible. */
    for (int i = 0; i < 100 && got.len < 14; i++) {
        got.len = 0;
        usleep(50000);
        read_tree(out, &got);
    }
    /* Two objects (one per call, interval 0), read in directory order. */
    assert_int_equal(got.len, 14);
    buf_append(&got, "", 1, NULL);
    assert_non_null(strstr((char *)got.p, "hello\n"));
    assert_non_null(strstr((char *)got.p, "one\ntwo\n"));
    buf_release(&got);
}

/* A call body: 'head', then n records of 'len' base64 characters. */
static char *big_body(const char *head, int batch, size_t n, size_t len)
{
    struct buf b = { 0 };
    struct err e;

    assert_int_equal(buf_printf(&b, &e, "%s", head), 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(buf_printf(&b, &e, "%s{\"Data\":\"",
                                    i ? "," : ""), 0);
        assert_int_equal(buf_reserve(&b, len, &e), 0);
        memset(b.p + b.len, 'A', len);
        b.len += len;
        assert_int_equal(buf_printf(&b, &e, "\"}"), 0);
    }
    assert_int_equal(buf_printf(&b, &e, batch ? "]}" : "}"), 0);
    return (char *)b.p;
}

static void test_throttle(void **state)
{
    struct fx *f = *state;
    char *body;
    json_t *j;
    long st;
    int throttled = 0;

    /* ~300 KB per call into a 1 MiB spool whose destination never
     * delivers (interval 900 s): a later call must be refused. */
    body = big_body("{\"DeliveryStreamName\":\"held\",\"Records\":[", 1, 3,
                    133332);
    for (int i = 0; i < 6 && !throttled; i++) {
        st = call(f, BATCH, body, &j);
        assert_int_equal(st, 200);
        if (json_integer_value(json_object_get(j, "FailedPutCount")) == 3) {
            json_t *r = json_array_get(json_object_get(j, "RequestResponses"),
                                       0);
            assert_string_equal(json_string_value(json_object_get(
                r, "ErrorCode")), "ServiceUnavailableException");
            throttled = 1;
        }
        json_decref(j);
    }
    assert_true(throttled);
    free(body);
    body = big_body("{\"DeliveryStreamName\":\"held\",\"Record\":", 0, 1,
                    399996);
    expect_error(f, PUT, body, 503, "ServiceUnavailableException");
    free(body);
}

/* MaxRequestMemoryBytes: a body whose Content-Length would pass it is
 * answered 503 before it is read; answered requests give their share
 * back, so calls one after another all fit. (The config's minimum is
 * 16 MiB; the API reads the value live, so the test lowers it.) */
static void test_request_memory(void **state)
{
    struct fx *f = *state;
    uint64_t was = f->cfg->service.max_request_memory;
    char *big, *small;
    json_t *j;

    f->cfg->service.max_request_memory = 4000;
    big = big_body("{\"DeliveryStreamName\":\"s1\",\"Records\":[", 1, 2,
                   4000);
    small = big_body("{\"DeliveryStreamName\":\"s1\",\"Records\":[", 1, 2,
                     400);
    expect_error(f, BATCH, big, 503, "ServiceUnavailableException");
    for (int i = 0; i < 5; i++) {
        assert_int_equal(call(f, BATCH, small, &j), 200);
        assert_int_equal(json_integer_value(json_object_get(j,
                         "FailedPutCount")), 0);
        json_decref(j);
    }
    expect_error(f, BATCH, big, 503, "ServiceUnavailableException");
    f->cfg->service.max_request_memory = was;
    free(big);
    free(small);
}

/* DirectPutQuotas through CreateDeliveryStream: a batch over the
 * records bucket gets its prefix accepted and the rest failed with
 * ServiceUnavailableException; PutRecord on an empty bucket is a 503;
 * ThrottledRecords counts them; only the accepted records are spooled. */
static void test_quota(void **state)
{
    struct fx *f = *state;
    struct streams_item *it;
    struct metrics_stream *m;
    char body[512];
    json_t *j, *rr, *d;
    const char *status = "";

    /* main() makes this directory; the fixture does not run it. */
    snprintf(body, sizeof(body), "%s/state/streams", f->dir);
    assert_int_equal(mkdir(body, 0755), 0);
    snprintf(body, sizeof(body), "{\"DeliveryStreamName\":\"q\","
             "\"DirectPutQuotas\":{\"RecordsPerSecond\":1,"
             "\"RequestsPerSecond\":1000},"
             "\"LocalDirectoryDestinationConfiguration\":{\"Path\":"
             "\"%s/qout\",\"BufferingHints\":{\"SizeInMBs\":1,"
             "\"IntervalInSeconds\":900}}}",
             f->dir);
    if (call(f, "Firehose_20150804.CreateDeliveryStream", body, &j) != 200)
        fail_msg("create: %s", json_dumps(j, 0));
    json_decref(j);
    for (int i = 0; i < 100 && strcmp(status, "ACTIVE") != 0; i++) {
        usleep(50000);
        assert_int_equal(call(f, "Firehose_20150804.DescribeDeliveryStream",
                              "{\"DeliveryStreamName\":\"q\"}", &j), 200);
        d = json_object_get(j, "DeliveryStreamDescription");
        status = strcmp(json_string_value(json_object_get(
            d, "DeliveryStreamStatus")), "ACTIVE") == 0 ? "ACTIVE" : "";
        if (*status)
            assert_int_equal(json_integer_value(json_object_get(json_object_get(
                d, "DirectPutQuotas"), "RecordsPerSecond")), 1);
        json_decref(j);
    }
    assert_string_equal(status, "ACTIVE");
    assert_int_equal(call(f, BATCH, "{\"DeliveryStreamName\":\"q\","
                          "\"Records\":[{\"Data\":\"YQ==\"},{\"Data\":"
                          "\"Yg==\"},{\"Data\":\"Yw==\"},{\"Data\":"
                          "\"ZA==\"}]}", &j), 200);
    assert_int_equal(json_integer_value(json_object_get(j, "FailedPutCount")),
                     3);
    rr = json_object_get(j, "RequestResponses");
    assert_int_equal(json_array_size(rr), 4);
    assert_int_equal(strlen(json_string_value(json_object_get(
        json_array_get(rr, 0), "RecordId"))), 32);
    for (size_t i = 1; i < 4; i++) {
        json_t *r = json_array_get(rr, i);
        assert_null(json_object_get(r, "RecordId"));
        assert_string_equal(json_string_value(json_object_get(
            r, "ErrorCode")), "ServiceUnavailableException");
        assert_string_equal(json_string_value(json_object_get(
            r, "ErrorMessage")), "Slow down.");
    }
    json_decref(j);
    /* The bucket refills 1 record per second; far less has passed. */
    expect_error(f, PUT, "{\"DeliveryStreamName\":\"q\",\"Record\":"
                 "{\"Data\":\"ZQ==\"}}", 503, "ServiceUnavailableException");
    streams_rdlock(f->set);
    it = streams_find(f->set, "q");
    assert_non_null(it);
    m = stream_metrics(it->st);
    assert_int_equal(metrics_get(&m->throttled_records), 4);
    assert_int_equal(metrics_get(&m->incoming_records), 1);
    streams_unlock(f->set);
    /* Unknown keys and zero rates name their JSON path. */
    expect_error(f, "Firehose_20150804.CreateDeliveryStream",
                 "{\"DeliveryStreamName\":\"q2\",\"DirectPutQuotas\":"
                 "{\"RecordsPerSecond\":0},\"LocalDirectoryDestination"
                 "Configuration\":{\"Path\":\"/tmp\"}}", 400,
                 "ValidationException");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_list_describe),
        cmocka_unit_test(test_put_delivers),
        cmocka_unit_test(test_throttle),
        cmocka_unit_test(test_request_memory),
        cmocka_unit_test(test_quota),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests_name("api", tests, setup, teardown);
}
