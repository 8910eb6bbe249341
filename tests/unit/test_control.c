/* Control-plane tests over real HTTP on 127.0.0.1: every operation and
 * error, the status transitions, persistence across a restart of the
 * control plane, and a delete that delivers the spooled data first. */
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
#include <time.h>
#include <unistd.h>

#include "../../config/cfg.h"
#include "../../delivery/api.h"
#include "../../delivery/control.h"
#include "../../delivery/log.h"
#include "../../delivery/stream.h"
#include "../../delivery/streams.h"
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

/* The control plane and API on f->cfg, as main.c starts them. */
static void start(struct fx *f)
{
    struct stream *st;
    struct err e;

    assert_int_equal(streams_new(CONTROL_MAX_STREAMS, &f->set, &e), 0);
    assert_int_equal(control_new(f->cfg, f->set, NULL, &f->ctl, &e), 0);
    for (size_t i = 0; i < f->cfg->n_streams; i++) {
        if (stream_open(&f->cfg->streams[i], &f->cfg->service, NULL, &st,
                        &e) != 0 || control_adopt(f->ctl, i, st, &e) != 0)
            fail_msg("stream: %s", e.msg);
    }
    assert_int_equal(control_load(f->ctl, &e), 0);
    assert_int_equal(control_start(f->ctl, &e), 0);
    if (api_start(&f->cfg->service, f->set, f->ctl, &f->api, &e) != 0)
        fail_msg("api: %s", e.msg);
    api_set_ready(f->api);
}

static void stop(struct fx *f)
{
    api_stop(f->api);
    control_free(f->ctl);
    streams_free(f->set);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char json[2048], *errors = NULL;
    int port = free_port();

    log_init(0, LOG_ERROR);
    strcpy(f->dir, "/tmp/fh-ctl-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(json, sizeof(json),
        "{\"Service\":{\"Listen\":\"127.0.0.1:%d\",\"StateDirectory\":"
        "\"%s/state\",\"AccountId\":\"123456789012\"},"
        "\"DeliveryStreams\":[{\"DeliveryStreamName\":\"fromfile\","
        "\"LocalDirectoryDestinationConfiguration\":{\"Path\":\"%s/file\"},"
        "\"Tags\":[{\"Key\":\"team\",\"Value\":\"a\"}]}]}",
        port, f->dir, f->dir);
    if (cfg_load_string("test.json", json, &f->cfg, &errors) != 0)
        fail_msg("config: %s", errors);
    start(f);
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/", port);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];

    stop(f);
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

/* POST 'body' to operation 'op'; the status, and the body parsed. */
static long call(struct fx *f, const char *op, const char *body,
                 json_t **out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    struct buf b = { 0 };
    char th[128];
    long status = 0;
    json_error_t je;

    snprintf(th, sizeof(th), "X-Amz-Target: Firehose_20150804.%s", op);
    h = curl_slist_append(h, th);
    h = curl_slist_append(h, "Content-Type: application/x-amz-json-1.1");
    curl_easy_setopt(c, CURLOPT_URL, f->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    *out = json_loadb((const char *)b.p, b.len, 0, &je);
    if (*out == NULL)
        fail_msg("%s: response is not JSON: %.*s", op, (int)b.len,
                 (char *)b.p);
    buf_release(&b);
    return status;
}

/* An error of 'type' whose message contains 'text' (NULL: any). */
static void expect_error(struct fx *f, const char *op, const char *body,
                         const char *type, const char *text)
{
    json_t *j;
    long got = call(f, op, body, &j);
    const char *t = json_string_value(json_object_get(j, "__type"));
    const char *m = json_string_value(json_object_get(j, "message"));

    if (got != 400 || t == NULL || strcmp(t, type) != 0 || m == NULL ||
        (text != NULL && strstr(m, text) == NULL))
        fail_msg("%s %.200s: got %ld %s: %s (want %s: %s)", op, body, got,
                 t ? t : "(none)", m ? m : "", type, text ? text : "");
    json_decref(j);
}

static json_t *ok(struct fx *f, const char *op, const char *body)
{
    json_t *j;
    long got = call(f, op, body, &j);

    if (got != 200) {
        char *s = json_dumps(j, 0);
        fail_msg("%s %.200s: got %ld %s", op, body, got, s);
    }
    return j;
}

static json_t *describe(struct fx *f, const char *name)
{
    char body[200];
    json_t *j, *d;

    snprintf(body, sizeof(body), "{\"DeliveryStreamName\":\"%s\"}", name);
    j = ok(f, "DescribeDeliveryStream", body);
    d = json_incref(json_object_get(j, "DeliveryStreamDescription"));
    json_decref(j);
    assert_non_null(d);
    return d;
}

static const char *jstr(json_t *j, const char *key)
{
    return json_string_value(json_object_get(j, key));
}

static void nap_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* Describe until 'status' (or gone, for NULL); at most 10 s. */
static void wait_status(struct fx *f, const char *name, const char *status)
{
    char body[200];

    snprintf(body, sizeof(body), "{\"DeliveryStreamName\":\"%s\"}", name);
    for (int i = 0; i < 200; i++) {
        json_t *j;
        long got = call(f, "DescribeDeliveryStream", body, &j);
        const char *s = jstr(json_object_get(j, "DeliveryStreamDescription"),
                             "DeliveryStreamStatus");
        int done = status ? got == 200 && strcmp(s, status) == 0
                          : got == 400;
        json_decref(j);
        if (done)
            return;
        nap_ms(50);
    }
    fail_msg("'%s' did not become %s", name, status ? status : "gone");
}

static void create_local(struct fx *f, const char *name, const char *extra)
{
    char body[1024];

    snprintf(body, sizeof(body), "{\"DeliveryStreamName\":\"%s\","
             "\"LocalDirectoryDestinationConfiguration\":{\"Path\":"
             "\"%s/out-%s\",\"BufferingHints\":{\"SizeInMBs\":1,"
             "\"IntervalInSeconds\":1}}%s}", name, f->dir, name, extra);
    json_decref(ok(f, "CreateDeliveryStream", body));
}

static void test_create_errors(void **state)
{
    struct fx *f = *state;
    char big[1200];

    expect_error(f, "CreateDeliveryStream", "{bad", "SerializationException",
                 NULL);
    expect_error(f, "CreateDeliveryStream", "[1]", "SerializationException",
                 "not a JSON object");
    expect_error(f, "CreateDeliveryStream", "{\"LocalDirectoryDestination"
                 "Configuration\":{\"Path\":\"/tmp\"}}", "ValidationException",
                 "deliveryStreamName");
    expect_error(f, "CreateDeliveryStream", "{\"DeliveryStreamName\":\"x\"}",
                 "InvalidArgumentException", "Exactly one destination "
                 "configuration is supported for a Firehose");
    expect_error(f, "CreateDeliveryStream", "{\"DeliveryStreamName\":\"x\","
                 "\"LocalDirectoryDestinationConfiguration\":{\"Path\":\"/t\"},"
                 "\"ExtendedS3DestinationConfiguration\":{\"BucketARN\":"
                 "\"arn:aws:s3:::b\"}}", "InvalidArgumentException",
                 "Exactly one destination");
    expect_error(f, "CreateDeliveryStream", "{\"DeliveryStreamName\":\"a b\","
                 "\"LocalDirectoryDestinationConfiguration\":"
                 "{\"Path\":\"/t\"}}",
                 "ValidationException", "DeliveryStreamName");
    expect_error(f, "CreateDeliveryStream", "{\"DeliveryStreamName\":\"x\","
                 "\"LocalDirectoryDestinationConfiguration\":{\"Path\":\"/t\","
                 "\"BufferingHints\":{\"SizeInMBs\":129,\"IntervalInSeconds\":"
                 "1}}}", "ValidationException", "above the maximum 128");
    expect_error(f, "CreateDeliveryStream", "{\"DeliveryStreamName\":\"x\","
                 "\"LocalDirectoryDestinationConfiguration\":{\"Path\":\"/t\","
                 "\"Prefix\":\"a//b\"}}", "InvalidArgumentException", NULL);
    expect_error(f, "CreateDeliveryStream", "{\"DeliveryStreamName\":"
                 "\"streams\",\"LocalDirectoryDestinationConfiguration\":"
                 "{\"Path\":\"/t\"}}", "InvalidArgumentException",
                 "reserved");
    expect_error(f, "CreateDeliveryStream", "{\"DeliveryStreamName\":\"x\","
                 "\"LocalDirectoryDestinationConfiguration\":{\"Path\":\"/t\"},"
                 "\"Tags\":[{\"Key\":\"aws:x\"}]}", "InvalidArgumentException",
                 "reserved");
    expect_error(f, "CreateDeliveryStream", "{\"DeliveryStreamName\":\"x\","
                 "\"LocalDirectoryDestinationConfiguration\":{\"Path\":\"/t\"},"
                 "\"Tags\":[{\"Key\":\"k\"},{\"Key\":\"k\"}]}",
                 "InvalidArgumentException", "given twice");
    expect_error(f, "CreateDeliveryStream", "{\"DeliveryStreamName\":"
                 "\"fromfile\",\"LocalDirectoryDestinationConfiguration\":"
                 "{\"Path\":\"/t\"}}", "ResourceInUseException",
                 "Firehose fromfile under accountId 123456789012 already "
                 "exists");
    memset(big, 'k', sizeof(big));
    snprintf(big, sizeof(big), "{\"DeliveryStreamName\":\"x\","
             "\"LocalDirectoryDestinationConfiguration\":{\"Path\":\"/t\"},"
             "\"Tags\":[{\"Key\":\"%0129d\"}]}", 0);
    expect_error(f, "CreateDeliveryStream", big, "ValidationException",
                 "1 to 128");
    /* Nothing was made by any of them. */
    assert_int_equal(streams_count(f->set), 1);
}

static void test_lifecycle(void **state)
{
    struct fx *f = *state;
    json_t *j, *d, *x;
    char body[512], path[256];
    struct stat sb;

    create_local(f, "api1", ",\"Tags\":[{\"Key\":\"env\",\"Value\":\"t\"}]");
    expect_error(f, "CreateDeliveryStream", "{\"DeliveryStreamName\":\"api1\","
                 "\"LocalDirectoryDestinationConfiguration\":"
                 "{\"Path\":\"/t\"}}",
                 "ResourceInUseException", "already exists");
    wait_status(f, "api1", "ACTIVE");
    d = describe(f, "api1");
    assert_string_equal(jstr(d, "VersionId"), "1");
    assert_string_equal(jstr(d, "DeliveryStreamARN"), "arn:aws:firehose:"
                        "us-east-1:123456789012:deliverystream/api1");
    assert_true(json_is_number(json_object_get(d, "CreateTimestamp")));
    x = json_object_get(json_array_get(json_object_get(d, "Destinations"), 0),
                        "LocalDirectoryDestinationDescription");
    assert_string_equal(jstr(x, "CompressionFormat"), "UNCOMPRESSED");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(x,
                     "BufferingHints"), "IntervalInSeconds")), 1);
    assert_true(json_is_false(json_object_get(json_object_get(x,
                "CloudWatchLoggingOptions"), "Enabled")));
    json_decref(d);
    snprintf(path, sizeof(path), "%s/state/streams/api1.json", f->dir);
    assert_int_equal(stat(path, &sb), 0);

    /* Records go in. */
    j = ok(f, "PutRecord", "{\"DeliveryStreamName\":\"api1\",\"Record\":"
           "{\"Data\":\"aGVsbG8K\"}}");
    json_decref(j);

    /* UpdateDestination: version checks, then a merge. */
    expect_error(f, "UpdateDestination", "{\"DeliveryStreamName\":\"api1\","
                 "\"DestinationId\":\"destinationId-000000000001\"}",
                 "ValidationException", "currentDeliveryStreamVersionId");
    expect_error(f, "UpdateDestination", "{\"DeliveryStreamName\":\"api1\","
                 "\"CurrentDeliveryStreamVersionId\":\"7\",\"DestinationId\":"
                 "\"destinationId-000000000001\",\"LocalDirectoryDestination"
                 "Update\":{}}", "ConcurrentModificationException",
                 "do not match");
    expect_error(f, "UpdateDestination", "{\"DeliveryStreamName\":\"api1\","
                 "\"CurrentDeliveryStreamVersionId\":\"1\",\"DestinationId\":"
                 "\"destinationId-9\",\"LocalDirectoryDestinationUpdate\":{}}",
                 "InvalidArgumentException", "destinationId-9");
    expect_error(f, "UpdateDestination", "{\"DeliveryStreamName\":\"api1\","
                 "\"CurrentDeliveryStreamVersionId\":\"1\",\"DestinationId\":"
                 "\"destinationId-000000000001\"}", "InvalidArgumentException",
                 "Exactly one destination update");
    expect_error(f, "UpdateDestination", "{\"DeliveryStreamName\":\"api1\","
                 "\"CurrentDeliveryStreamVersionId\":\"1\",\"DestinationId\":"
                 "\"destinationId-000000000001\",\"LocalDirectoryDestination"
                 "Update\":{\"CompressionFormat\":\"gzip\"}}",
                 "ValidationException", "did you mean GZIP");
    expect_error(f, "UpdateDestination", "{\"DeliveryStreamName\":\"nope\","
                 "\"CurrentDeliveryStreamVersionId\":\"1\",\"DestinationId\":"
                 "\"destinationId-000000000001\",\"LocalDirectoryDestination"
                 "Update\":{}}", "ResourceNotFoundException",
                 "Firehose nope under account 123456789012 not found.");
    expect_error(f, "UpdateDestination", "{\"DeliveryStreamName\":"
                 "\"fromfile\",\"CurrentDeliveryStreamVersionId\":\"1\","
                 "\"DestinationId\":\"destinationId-000000000001\","
                 "\"LocalDirectoryDestinationUpdate\":{}}",
                 "InvalidArgumentException", "defined in the config file");
    json_decref(ok(f, "UpdateDestination", "{\"DeliveryStreamName\":\"api1\","
                   "\"CurrentDeliveryStreamVersionId\":\"1\",\"DestinationId\":"
                   "\"destinationId-000000000001\",\"LocalDirectoryDestination"
                   "Update\":{\"CompressionFormat\":\"GZIP\"}}"));
    d = describe(f, "api1");
    assert_string_equal(jstr(d, "VersionId"), "2");
    assert_string_equal(jstr(d, "DeliveryStreamStatus"), "ACTIVE");
    assert_true(json_is_number(json_object_get(d, "LastUpdateTimestamp")));
    x = json_object_get(json_array_get(json_object_get(d, "Destinations"), 0),
                        "LocalDirectoryDestinationDescription");
    assert_string_equal(jstr(x, "CompressionFormat"), "GZIP");
    /* Merged: the members not in the update kept their values. */
    snprintf(body, sizeof(body), "%s/out-api1", f->dir);
    assert_string_equal(jstr(x, "Path"), body);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(x,
                     "BufferingHints"), "IntervalInSeconds")), 1);
    json_decref(d);
    expect_error(f, "UpdateDestination", "{\"DeliveryStreamName\":\"api1\","
                 "\"CurrentDeliveryStreamVersionId\":\"1\",\"DestinationId\":"
                 "\"destinationId-000000000001\",\"LocalDirectoryDestination"
                 "Update\":{}}", "ConcurrentModificationException", NULL);

    /* Restart: the API stream comes back with its version and tags; the
     * config file's is there too. */
    stop(f);
    start(f);
    wait_status(f, "api1", "ACTIVE");
    d = describe(f, "api1");
    assert_string_equal(jstr(d, "VersionId"), "2");
    json_decref(d);
    j = ok(f, "ListTagsForDeliveryStream", "{\"DeliveryStreamName\":"
           "\"api1\"}");
    assert_int_equal(json_array_size(json_object_get(j, "Tags")), 1);
    assert_string_equal(jstr(json_array_get(json_object_get(j, "Tags"), 0),
                             "Value"), "t");
    json_decref(j);
    d = describe(f, "fromfile");
    assert_string_equal(jstr(d, "DeliveryStreamStatus"), "ACTIVE");
    json_decref(d);

    /* Delete: config-file streams are protected; an API stream goes. */
    expect_error(f, "DeleteDeliveryStream", "{\"DeliveryStreamName\":"
                 "\"fromfile\"}", "InvalidArgumentException",
                 "is defined in the config file test.json");
    expect_error(f, "DeleteDeliveryStream", "{\"DeliveryStreamName\":"
                 "\"nope\"}", "ResourceNotFoundException", NULL);
    expect_error(f, "DeleteDeliveryStream", "{\"DeliveryStreamName\":"
                 "\"api1\",\"AllowForceDelete\":\"yes\"}",
                 "SerializationException", NULL);
    /* Spooled, not yet delivered (1 s interval) when the delete comes. */
    json_decref(ok(f, "PutRecord", "{\"DeliveryStreamName\":\"api1\","
                   "\"Record\":{\"Data\":\"Ynllcwo=\"}}"));
    json_decref(ok(f, "DeleteDeliveryStream", "{\"DeliveryStreamName\":"
                   "\"api1\"}"));
    /* DELETING streams take no records. */
    expect_error(f, "PutRecord", "{\"DeliveryStreamName\":\"api1\","
                 "\"Record\":{\"Data\":\"aGVsbG8K\"}}",
                 "ResourceNotFoundException", NULL);
    wait_status(f, "api1", NULL);
    assert_int_not_equal(stat(path, &sb), 0);
    snprintf(path, sizeof(path), "%s/state/api1", f->dir);
    assert_int_not_equal(stat(path, &sb), 0);
    /* The records were delivered before the stream went. */
    snprintf(body, sizeof(body), "find %s/out-api1 -type f | xargs zcat -f "
             "| grep -c 'hello\\|byes' | grep -qx 2", f->dir);
    assert_int_equal(system(body), 0);
}

static void test_list_paging(void **state)
{
    struct fx *f = *state;
    json_t *j, *n;

    create_local(f, "b1", "");
    create_local(f, "a1", "");
    j = ok(f, "ListDeliveryStreams", "");
    n = json_object_get(j, "DeliveryStreamNames");
    assert_int_equal(json_array_size(n), 3);
    assert_string_equal(json_string_value(json_array_get(n, 0)), "a1");
    assert_string_equal(json_string_value(json_array_get(n, 2)), "fromfile");
    json_decref(j);
    j = ok(f, "ListDeliveryStreams", "{\"Limit\":2}");
    assert_int_equal(json_array_size(json_object_get(j,
                     "DeliveryStreamNames")), 2);
    assert_true(json_is_true(json_object_get(j, "HasMoreDeliveryStreams")));
    json_decref(j);
    j = ok(f, "ListDeliveryStreams", "{\"Limit\":2,"
           "\"ExclusiveStartDeliveryStreamName\":\"az\"}");
    n = json_object_get(j, "DeliveryStreamNames");
    assert_int_equal(json_array_size(n), 2);
    assert_string_equal(json_string_value(json_array_get(n, 0)), "b1");
    assert_true(json_is_false(json_object_get(j, "HasMoreDeliveryStreams")));
    json_decref(j);
    expect_error(f, "ListDeliveryStreams", "{\"Limit\":0}",
                 "ValidationException", "limit");
    expect_error(f, "ListDeliveryStreams", "{\"DeliveryStreamType\":\"x\"}",
                 "ValidationException", "enum value set");
    wait_status(f, "a1", "ACTIVE");
    wait_status(f, "b1", "ACTIVE");
    json_decref(ok(f, "DeleteDeliveryStream", "{\"DeliveryStreamName\":"
                   "\"a1\",\"AllowForceDelete\":true}"));
    json_decref(ok(f, "DeleteDeliveryStream", "{\"DeliveryStreamName\":"
                   "\"b1\",\"AllowForceDelete\":true}"));
    wait_status(f, "a1", NULL);
    wait_status(f, "b1", NULL);
}

static void test_tags(void **state)
{
    struct fx *f = *state;
    char body[8192], longv[300];
    size_t len;
    json_t *j, *t;

    expect_error(f, "TagDeliveryStream", "{\"DeliveryStreamName\":"
                 "\"fromfile\"}", "ValidationException", "tags");
    expect_error(f, "TagDeliveryStream", "{\"DeliveryStreamName\":"
                 "\"fromfile\",\"Tags\":[]}", "ValidationException",
                 "greater than or equal to 1");
    expect_error(f, "TagDeliveryStream", "{\"DeliveryStreamName\":"
                 "\"nope\",\"Tags\":[{\"Key\":\"a\"}]}",
                 "ResourceNotFoundException", NULL);
    expect_error(f, "TagDeliveryStream", "{\"DeliveryStreamName\":"
                 "\"fromfile\",\"Tags\":[{\"Key\":\"aws:cost\"}]}",
                 "InvalidArgumentException", "aws:");
    expect_error(f, "TagDeliveryStream", "{\"DeliveryStreamName\":"
                 "\"fromfile\",\"Tags\":[{\"Key\":\"a*b\"}]}",
                 "ValidationException", "character '*'");
    memset(longv, 'v', 257);
    longv[257] = '\0';
    snprintf(body, sizeof(body), "{\"DeliveryStreamName\":\"fromfile\","
             "\"Tags\":[{\"Key\":\"a\",\"Value\":\"%s\"}]}", longv);
    expect_error(f, "TagDeliveryStream", body, "ValidationException", "256");
    /* 49 more make 50 with "team"; one more is over the limit. */
    len = (size_t)snprintf(body, sizeof(body), "{\"DeliveryStreamName\":"
                           "\"fromfile\",\"Tags\":[");
    for (int i = 0; i < 49; i++)
        len += (size_t)snprintf(body + len, sizeof(body) - len,
                                "%s{\"Key\":\"k%02d\",\"Value\":\"v\"}",
                                i ? "," : "", i);
    snprintf(body + len, sizeof(body) - len, "]}");
    json_decref(ok(f, "TagDeliveryStream", body));
    expect_error(f, "TagDeliveryStream", "{\"DeliveryStreamName\":"
                 "\"fromfile\",\"Tags\":[{\"Key\":\"one-more\"}]}",
                 "LimitExceededException", "50");
    /* Overwriting a key is not a new tag. */
    json_decref(ok(f, "TagDeliveryStream", "{\"DeliveryStreamName\":"
                   "\"fromfile\",\"Tags\":[{\"Key\":\"team\",\"Value\":"
                   "\"b\"}]}"));
    j = ok(f, "ListTagsForDeliveryStream", "{\"DeliveryStreamName\":"
           "\"fromfile\",\"Limit\":2}");
    t = json_object_get(j, "Tags");
    assert_int_equal(json_array_size(t), 2);
    assert_string_equal(jstr(json_array_get(t, 0), "Key"), "k00");
    assert_true(json_is_true(json_object_get(j, "HasMoreTags")));
    json_decref(j);
    j = ok(f, "ListTagsForDeliveryStream", "{\"DeliveryStreamName\":"
           "\"fromfile\",\"ExclusiveStartTagKey\":\"k48\"}");
    t = json_object_get(j, "Tags");
    assert_int_equal(json_array_size(t), 1);
    assert_string_equal(jstr(json_array_get(t, 0), "Value"), "b");
    assert_true(json_is_false(json_object_get(j, "HasMoreTags")));
    json_decref(j);
    expect_error(f, "ListTagsForDeliveryStream", "{\"DeliveryStreamName\":"
                 "\"fromfile\",\"Limit\":51}", "ValidationException", "50");
    expect_error(f, "UntagDeliveryStream", "{\"DeliveryStreamName\":"
                 "\"fromfile\",\"TagKeys\":[1]}", "SerializationException",
                 NULL);
    expect_error(f, "UntagDeliveryStream", "{\"DeliveryStreamName\":"
                 "\"fromfile\"}", "ValidationException", "'tagKeys'");
    expect_error(f, "UntagDeliveryStream", "{\"DeliveryStreamName\":"
                 "\"fromfile\",\"TagKeys\":\"team\"}",
                 "SerializationException", "TagKeys must be a list");
    expect_error(f, "UntagDeliveryStream", "{\"DeliveryStreamName\":"
                 "\"fromfile\",\"TagKeys\":[]}", "ValidationException",
                 "greater than or equal to 1");
    expect_error(f, "TagDeliveryStream", "{\"DeliveryStreamName\":"
                 "\"fromfile\",\"Tags\":{}}", "SerializationException",
                 "Tags must be a list");
    json_decref(ok(f, "UntagDeliveryStream", "{\"DeliveryStreamName\":"
                   "\"fromfile\",\"TagKeys\":[\"team\",\"k00\",\"absent\"]}"));
    j = ok(f, "ListTagsForDeliveryStream", "{\"DeliveryStreamName\":"
           "\"fromfile\"}");
    assert_int_equal(json_array_size(json_object_get(j, "Tags")), 48);
    json_decref(j);
}

static void test_describe_s3(void **state)
{
    struct fx *f = *state;
    json_t *d, *x;

    json_decref(ok(f, "CreateDeliveryStream", "{\"DeliveryStreamName\":"
                   "\"s3s\",\"ExtendedS3DestinationConfiguration\":{"
                   "\"RoleARN\":\"arn:aws:iam::123456789012:role/r\","
                   "\"BucketARN\":\"arn:aws:s3:::bkt\",\"Prefix\":\"p/\","
                   "\"ProcessingConfiguration\":{\"Enabled\":false}},"
                   "\"DirectPutSourceConfiguration\":{\"ThroughputHintInMBs\":"
                   "5}}"));
    d = describe(f, "s3s");
    assert_non_null(json_object_get(json_object_get(d, "Source"),
                                    "DirectPutSourceDescription"));
    x = json_array_get(json_object_get(d, "Destinations"), 0);
    assert_string_equal(jstr(x, "DestinationId"),
                        "destinationId-000000000001");
    assert_non_null(json_object_get(x, "S3DestinationDescription"));
    assert_null(json_object_get(json_object_get(x,
                "S3DestinationDescription"), "ProcessingConfiguration"));
    x = json_object_get(x, "ExtendedS3DestinationDescription");
    assert_string_equal(jstr(x, "BucketARN"), "arn:aws:s3:::bkt");
    assert_string_equal(jstr(x, "RoleARN"),
                        "arn:aws:iam::123456789012:role/r");
    assert_string_equal(jstr(x, "S3BackupMode"), "Disabled");
    assert_string_equal(jstr(json_object_get(x, "EncryptionConfiguration"),
                             "NoEncryptionConfig"), "NoEncryption");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(x,
                     "BufferingHints"), "SizeInMBs")), 5);
    assert_non_null(json_object_get(x, "ProcessingConfiguration"));
    json_decref(d);
    expect_error(f, "DescribeDeliveryStream", "{}", "ValidationException",
                 "deliveryStreamName");
    expect_error(f, "DescribeDeliveryStream", "{\"DeliveryStreamName\":"
                 "\"s3s\",\"Limit\":0}", "ValidationException", NULL);
    wait_status(f, "s3s", "ACTIVE");
    json_decref(ok(f, "DeleteDeliveryStream", "{\"DeliveryStreamName\":"
                   "\"s3s\",\"AllowForceDelete\":true}"));
    wait_status(f, "s3s", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_describe_s3, setup, teardown),
    };

    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
