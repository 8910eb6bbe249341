/* Dashboard tests: the per-stream sample ring (rates from counter deltas,
 * wrap-around after 15 minutes), the error ring (newest first, folding,
 * truncation, the log hook, concurrent writers), the status JSON, and the
 * Prometheus exposition (label escaping, histogram buckets, _sum/_count). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../config/cfg.h"
#include "../../delivery/dash.h"
#include "../../delivery/log.h"
#include "../../delivery/metrics.h"
#include "../../delivery/prom.h"
#include "../../delivery/stream.h"
#include "../../delivery/streams.h"
#include "../../transforms/xform.h"
#include "../../delivery/util.h"

struct fx {
    char dir[64];
    struct cfg *cfg;
    struct stream *streams[2];
    struct streams *set;
    struct dash *dash;
    struct buf out;
};

/* 'st' (n) as a set of ACTIVE streams. */
static struct streams *set_of(struct stream **st, size_t n)
{
    struct streams *set;
    struct err e;

    assert_int_equal(streams_new(8, &set, &e), 0);
    streams_wrlock(set);
    for (size_t i = 0; i < n; i++) {
        struct streams_item it = { stream_cfg(st[i])->name, st[i],
                                   STREAMS_ACTIVE, 0, NULL };
        assert_int_equal(streams_add(set, &it, NULL, &e), 0);
    }
    streams_unlock(set);
    return set;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char json[2048], *errors = NULL;
    struct err e;

    log_init(0, LOG_ERROR);
    snprintf(f->dir, sizeof(f->dir), "/tmp/fh-dash-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(json, sizeof(json),
        "{\"Service\":{\"Listen\":\"127.0.0.1:1\",\"StateDirectory\":"
        "\"%s/state\"},\"DeliveryStreams\":["
        "{\"DeliveryStreamName\":\"s1\","
        "\"LocalDirectoryDestinationConfiguration\":"
        "{\"Path\":\"%s/out\",\"BufferingHints\":{\"SizeInMBs\":1,"
        "\"IntervalInSeconds\":60}}},"
        "{\"DeliveryStreamName\":\"to-s3\","
        "\"ExtendedS3DestinationConfiguration\":"
        "{\"BucketARN\":\"arn:aws:s3:::bkt\",\"Prefix\":\"p/\","
        "\"BufferingHints\":"
        "{\"SizeInMBs\":1,\"IntervalInSeconds\":900}}}]}", f->dir, f->dir);
    if (cfg_load_string("test", json, &f->cfg, &errors) != 0)
        fail_msg("config: %s", errors);
    for (size_t i = 0; i < 2; i++)
        if (stream_open(&f->cfg->streams[i], &f->cfg->service, NULL,
                        &f->streams[i], &e) != 0)
            fail_msg("stream: %s", e.msg);
    f->set = set_of(f->streams, 2);
    assert_int_equal(dash_new(&f->cfg->service, f->set, &f->dash, &e), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];

    log_set_hook(NULL, NULL);
    dash_free(f->dash);
    streams_free(f->set);
    for (size_t i = 0; i < 2; i++)
        stream_free(f->streams[i]);
    cfg_free(f->cfg);
    buf_release(&f->out);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static const char *text(struct buf *b)
{
    return b->len ? (const char *)b->p : "";
}

/* ------------------------------------------------------------ samples */

static void test_ring_rates(void **state)
{
    struct fx *f = *state;
    struct metrics_stream *m = stream_metrics(f->streams[0]);
    struct dash_point p[DASH_HISTORY];

    dash_sample(f->dash, 1000);             /* baseline only */
    assert_int_equal(dash_history(f->dash, 0, p, DASH_HISTORY), 0);
    metrics_add(&m->incoming_records, 500);
    metrics_add(&m->incoming_bytes, 50000);
    metrics_add(&m->delivered_records, 250);
    metrics_add(&m->retries, 3);
    metrics_add(&m->delivery_failures, 2);
    dash_sample(f->dash, 6000);
    assert_int_equal(dash_history(f->dash, 0, p, DASH_HISTORY), 1);
    assert_int_equal(p[0].t_ms, 6000);
    assert_true(p[0].in_records_s > 99.99 && p[0].in_records_s < 100.01);
    assert_true(p[0].in_bytes_s > 9999.9 && p[0].in_bytes_s < 10000.1);
    assert_true(p[0].out_records_s > 49.99 && p[0].out_records_s < 50.01);
    assert_int_equal(p[0].retries, 3);
    assert_int_equal(p[0].failures, 2);
    /* Nothing new: zero rates, and counts are per interval. */
    dash_sample(f->dash, 11000);
    assert_int_equal(dash_history(f->dash, 0, p, DASH_HISTORY), 2);
    assert_true(p[1].in_records_s == 0.0);
    assert_int_equal(p[1].retries, 0);
    /* A clock that does not move adds nothing and divides by nothing. */
    dash_sample(f->dash, 11000);
    dash_sample(f->dash, 10000);
    assert_int_equal(dash_history(f->dash, 0, p, DASH_HISTORY), 2);
    /* The other stream kept its own series. */
    assert_int_equal(dash_history(f->dash, 1, p, DASH_HISTORY), 2);
    assert_true(p[0].in_records_s == 0.0);
    assert_int_equal(dash_history(f->dash, 2, p, DASH_HISTORY), 0);
}

static void test_ring_wraps(void **state)
{
    struct fx *f = *state;
    struct metrics_stream *m = stream_metrics(f->streams[0]);
    struct dash_point p[DASH_HISTORY];
    size_t k;

    dash_sample(f->dash, 5000);
    for (int i = 1; i <= DASH_HISTORY + 37; i++) {
        metrics_add(&m->incoming_records, (uint64_t)i * 5);
        dash_sample(f->dash, 5000 + (int64_t)i * 5000);
    }
    k = dash_history(f->dash, 0, p, DASH_HISTORY);
    assert_int_equal(k, DASH_HISTORY);
    /* Oldest first, the newest last; the first 37 are gone. */
    assert_int_equal(p[0].t_ms, 5000 + 38 * 5000);
    assert_int_equal(p[k - 1].t_ms, 5000 + (DASH_HISTORY + 37) * 5000);
    for (size_t j = 0; j < k; j++) {
        double want = (double)(38 + j);     /* i*5 records over 5 s */
        assert_true(p[j].in_records_s > want - 0.001 &&
                    p[j].in_records_s < want + 0.001);
        if (j)
            assert_int_equal(p[j].t_ms - p[j - 1].t_ms, 5000);
    }
    /* A smaller 'max' gives the newest. */
    assert_int_equal(dash_history(f->dash, 0, p, 3), 3);
    assert_int_equal(p[2].t_ms, 5000 + (DASH_HISTORY + 37) * 5000);
    assert_int_equal(p[0].t_ms, 5000 + (DASH_HISTORY + 35) * 5000);
}

/* ------------------------------------------------------------- errors */

static void test_errors_ring(void **state)
{
    struct fx *f = *state;
    struct dash_error x[DASH_ERRORS + 5];
    char big[1000];

    dash_error(NULL, LOG_ERROR, "s1", "api", "ignored");   /* no-op */
    assert_int_equal(dash_errors(f->dash, x, DASH_ERRORS), 0);
    for (int i = 0; i < DASH_ERRORS + 10; i++)
        dash_error(f->dash, LOG_ERROR, "s1", "delivery", "failure %d", i);
    assert_int_equal(dash_errors(f->dash, x, DASH_ERRORS + 5), DASH_ERRORS);
    assert_string_equal(x[0].msg, "failure 59");
    assert_string_equal(x[DASH_ERRORS - 1].msg, "failure 10");
    assert_string_equal(x[0].stream, "s1");
    assert_string_equal(x[0].stage, "delivery");
    assert_int_equal(x[0].count, 1);
    assert_int_equal(dash_errors(f->dash, x, 2), 2);
    assert_string_equal(x[1].msg, "failure 58");
    assert_int_equal(dash_errors_total(f->dash), DASH_ERRORS + 10);

    /* Repeats fold, also when two streams take turns. */
    for (int i = 0; i < 5; i++) {
        dash_error(f->dash, LOG_WARN, "a", "api", "throttled");
        dash_error(f->dash, LOG_WARN, "b", "api", "throttled");
    }
    assert_int_equal(dash_errors(f->dash, x, 3), 3);
    assert_string_equal(x[0].stream, "b");
    assert_int_equal(x[0].count, 5);
    assert_string_equal(x[1].stream, "a");
    assert_int_equal(x[1].count, 5);
    assert_string_equal(x[2].msg, "failure 59");
    assert_int_equal(dash_errors_total(f->dash), DASH_ERRORS + 20);

    /* Long values are cut, never overflow; NULL stream is "". */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    dash_error(f->dash, LOG_ERROR, big, big, "%s", big);
    dash_error(f->dash, LOG_ERROR, NULL, "api", "no stream");
    assert_int_equal(dash_errors(f->dash, x, 2), 2);
    assert_string_equal(x[0].stream, "");
    assert_int_equal(strlen(x[1].stream), sizeof(x[1].stream) - 1);
    assert_int_equal(strlen(x[1].stage), sizeof(x[1].stage) - 1);
    assert_int_equal(strlen(x[1].msg), sizeof(x[1].msg) - 1);
}

static void test_errors_log_hook(void **state)
{
    struct fx *f = *state;
    struct dash_error x[8];

    dash_log_hook(f->dash, LOG_WARN, "dest:s3:to-s3", "PUT failed: 503");
    dash_log_hook(f->dash, LOG_ERROR, "stream:s1", "commit failed");
    dash_log_hook(f->dash, LOG_ERROR, "api", "spooling for 's1' failed");
    dash_log_hook(f->dash, LOG_ERROR, "odd:thing", "m");
    dash_log_hook(NULL, LOG_ERROR, "api", "ignored without a dash");
    assert_int_equal(dash_errors(f->dash, x, 8), 4);
    assert_string_equal(x[3].stream, "to-s3");
    assert_string_equal(x[3].stage, "delivery");
    assert_int_equal(x[3].level, LOG_WARN);
    assert_string_equal(x[2].stream, "s1");
    assert_string_equal(x[2].stage, "stream");
    assert_string_equal(x[1].stream, "");
    assert_string_equal(x[1].stage, "api");
    assert_string_equal(x[0].stream, "thing");
    assert_string_equal(x[0].stage, "odd");

    /* Through log_msg(): WARN and ERROR reach the list, INFO does not. */
    log_init(0, LOG_DEBUG);
    log_set_hook(dash_log_hook, f->dash);
    log_msg(LOG_INFO, "dest:local:s1", "stored");
    log_msg(LOG_WARN, "dest:local:s1", "disk %s", "slow");
    log_set_hook(NULL, NULL);
    log_msg(LOG_ERROR, "dest:local:s1", "after the hook is gone");
    log_init(0, LOG_ERROR);
    assert_int_equal(dash_errors(f->dash, x, 8), 5);
    assert_string_equal(x[0].msg, "disk slow");
    assert_string_equal(x[0].stream, "s1");
}

struct writer {
    struct dash *d;
    int id;
};

static void *write_errors(void *arg)
{
    struct writer *w = arg;

    for (int i = 0; i < 2000; i++)
        dash_error(w->d, LOG_ERROR, "s1", "delivery", "w%d e%d", w->id, i);
    return NULL;
}

static void test_errors_threads(void **state)
{
    struct fx *f = *state;
    struct writer w[4];
    pthread_t t[4];
    struct dash_error x[DASH_ERRORS];

    for (int i = 0; i < 4; i++) {
        w[i].d = f->dash;
        w[i].id = i;
        assert_int_equal(pthread_create(&t[i], NULL, write_errors, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(dash_errors_total(f->dash), 8000);
    assert_int_equal(dash_errors(f->dash, x, DASH_ERRORS), DASH_ERRORS);
    for (size_t j = 0; j < DASH_ERRORS; j++)
        assert_int_equal(x[j].count, 1);
}

/* ------------------------------------------------------- status JSON */

static void test_status_json(void **state)
{
    struct fx *f = *state;
    struct metrics_stream *m = stream_metrics(f->streams[0]);
    json_error_t je;
    json_t *j, *s, *h, *er;
    struct err e;
    int64_t now = util_now_ms();

    /* One time base: two readings of the clock a millisecond apart on a
     * busy machine made the rate 20 / 5.001 s. */
    metrics_add(&m->incoming_records, 10);
    dash_sample(f->dash, now - 10000);
    metrics_add(&m->incoming_records, 20);
    dash_sample(f->dash, now - 5000);
    dash_error(f->dash, LOG_ERROR, "s1", "delivery",
               "quote \" backslash \\ newline\n tab\t bell\a end");
    assert_int_equal(dash_status_json(f->dash, &f->out, &e), 0);
    j = json_loadb(text(&f->out), f->out.len, 0, &je);
    if (j == NULL)
        fail_msg("status is not JSON (%s): %s", je.text, text(&f->out));
    s = json_array_get(json_object_get(j, "DeliveryStreams"), 0);
    assert_string_equal(json_string_value(json_object_get(s,
                        "DeliveryStreamName")), "s1");
    assert_string_equal(json_string_value(json_object_get(s, "State")),
                        "flowing");
    assert_int_equal(json_integer_value(json_object_get(
        json_object_get(s, "Counters"), "IncomingRecords")), 30);
    assert_true(json_is_null(json_object_get(s, "LastDeliveryTimestamp")));
    assert_true(json_is_null(json_object_get(s, "Transform")));
    h = json_object_get(s, "History");
    assert_int_equal(json_array_size(json_object_get(h, "Time")), 1);
    assert_int_equal(json_array_size(json_object_get(h,
                     "IncomingRecordsPerSecond")), 1);
    assert_int_equal(json_array_size(json_object_get(h, "DeliveryFailures")),
                     1);
    assert_true(json_number_value(json_array_get(json_object_get(h,
                "IncomingRecordsPerSecond"), 0)) == 4.0);
    s = json_array_get(json_object_get(j, "DeliveryStreams"), 1);
    assert_string_equal(json_string_value(json_object_get(s, "Target")),
                        "s3://bkt/p/");
    assert_string_equal(json_string_value(json_object_get(s, "Destination")),
                        "s3");
    assert_string_equal(json_string_value(json_object_get(s, "State")),
                        "idle");
    er = json_array_get(json_object_get(j, "Errors"), 0);
    assert_string_equal(json_string_value(json_object_get(er, "Message")),
                        "quote \" backslash \\ newline\n tab\t bell\a end");
    assert_string_equal(json_string_value(json_object_get(er, "Level")),
                        "ERROR");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j,
                     "Service"), "HistorySeconds")), 900);
    json_decref(j);
}

/* ---------------------------------------------------------- Prometheus */

static void test_prom_escaping(void **state)
{
    struct buf b = { NULL, 0, 0 }, lb = { NULL, 0, 0 };
    struct err e;

    (void)state;
    assert_int_equal(prom_label(&lb, "stream", "a\\b\"c\nd", &e), 0);
    assert_int_equal(prom_label(&lb, "op", "", &e), 0);
    assert_string_equal(text(&lb), "stream=\"a\\\\b\\\"c\\nd\",op=\"\"");
    assert_int_equal(prom_family(&b, "x_total", "counter",
                                 "help with \\ and\nnewline \"kept\"", &e), 0);
    assert_int_equal(prom_sample(&b, "x_total", text(&lb), 1.5, &e), 0);
    assert_int_equal(prom_sample_u64(&b, "x_total", NULL,
                                     18446744073709551615ull, &e), 0);
    assert_int_equal(prom_sample(&b, "g", "", 0.0 / 0.0, &e), 0);
    assert_int_equal(prom_sample(&b, "g", NULL, 1.0 / 0.0, &e), 0);
    assert_int_equal(prom_sample(&b, "g", NULL, 1796382805.625, &e), 0);
    assert_string_equal(text(&b),
        "# HELP x_total help with \\\\ and\\nnewline \"kept\"\n"
        "# TYPE x_total counter\n"
        "x_total{stream=\"a\\\\b\\\"c\\nd\",op=\"\"} 1.5\n"
        "x_total 18446744073709551615\n"
        "g NaN\n"
        "g +Inf\n"
        "g 1796382805.625\n");
    buf_release(&b);
    buf_release(&lb);
}

static void test_prom_histogram(void **state)
{
    struct prom_hist h;
    struct buf b = { NULL, 0, 0 };
    struct err e;
    const char *t;

    (void)state;
    memset(&h, 0, sizeof(h));           /* zeroed is a valid histogram */
    assert_int_equal(prom_hist_write(&b, "d", NULL, &h, &e), 0);
    assert_non_null(strstr(text(&b), "d_bucket{le=\"0.0005\"} 0\n"));
    assert_non_null(strstr(text(&b), "d_bucket{le=\"+Inf\"} 0\n"
                                     "d_sum 0\nd_count 0\n"));
    b.len = 0;
    prom_hist_observe_us(&h, 100);          /* <= 0.0005 */
    prom_hist_observe_us(&h, 500);          /* le is inclusive */
    prom_hist_observe_us(&h, 1000);         /* <= 0.001 */
    prom_hist_observe_us(&h, 2000000);      /* <= 2.5 */
    prom_hist_observe_us(&h, 90000000);     /* above 60 s: +Inf only */
    assert_int_equal(prom_hist_write(&b, "d", "stream=\"s\"", &h, &e), 0);
    t = text(&b);
    assert_non_null(strstr(t, "d_bucket{stream=\"s\",le=\"0.0005\"} 2\n"
                              "d_bucket{stream=\"s\",le=\"0.001\"} 3\n"
                              "d_bucket{stream=\"s\",le=\"0.0025\"} 3\n"));
    assert_non_null(strstr(t, "d_bucket{stream=\"s\",le=\"1\"} 3\n"
                              "d_bucket{stream=\"s\",le=\"2.5\"} 4\n"));
    assert_non_null(strstr(t, "d_bucket{stream=\"s\",le=\"60\"} 4\n"
                              "d_bucket{stream=\"s\",le=\"+Inf\"} 5\n"
                              "d_sum{stream=\"s\"} 92.0016\n"
                              "d_count{stream=\"s\"} 5\n"));
    /* Bounds ascend: cumulative counts can only grow. */
    for (unsigned i = 1; i < PROM_HIST_BOUNDS; i++)
        assert_true(prom_hist_bound_us(i) > prom_hist_bound_us(i - 1));
    buf_release(&b);
}

static void test_metrics_exposition(void **state)
{
    struct fx *f = *state;
    struct metrics_stream *m = stream_metrics(f->streams[1]);
    struct err e;
    const char *t;

    metrics_add(&m->incoming_records, 7);
    metrics_add(&m->delivery_attempts, 4);
    metrics_reason(m, "HttpEndpoint.DestinationException", 2);
    metrics_reason(m, "HttpEndpoint.DestinationException", 1);
    metrics_reason(m, "a\"b", 1);
    for (int i = 0; i < METRICS_REASONS + 3; i++) {
        char code[16];
        snprintf(code, sizeof(code), "c%d", i);
        metrics_reason(stream_metrics(f->streams[0]), code, 1);
    }
    prom_hist_observe_us(&m->put_duration[METRICS_PUT_RECORD_BATCH], 3000);
    dash_error(f->dash, LOG_ERROR, "to-s3", "delivery", "x");
    assert_int_equal(dash_metrics(f->dash, &f->out, &e), 0);
    t = text(&f->out);
    assert_non_null(strstr(t, "# TYPE firehose_incoming_records_total "
                              "counter\n"));
    assert_non_null(strstr(t, "firehose_incoming_records_total"
                              "{stream=\"to-s3\"} 7\n"));
    assert_non_null(strstr(t, "firehose_delivery_to_s3_attempts_total"
                              "{stream=\"to-s3\"} 4\n"));
    assert_non_null(strstr(t, "firehose_delivery_to_local_records_total"
                              "{stream=\"s1\"} 0\n"));
    /* Each stream under its own destination's name only. */
    assert_null(strstr(t, "firehose_delivery_to_local_records_total"
                          "{stream=\"to-s3\"}"));
    assert_non_null(strstr(t, "firehose_delivery_failures_by_reason_total"
                              "{stream=\"to-s3\",reason=\"HttpEndpoint."
                              "DestinationException\"} 3\n"));
    assert_non_null(strstr(t, "reason=\"a\\\"b\"} 1\n"));
    /* A full table folds the rest into its last slot; nothing is lost. */
    assert_non_null(strstr(t, "{stream=\"s1\",reason=\"c15\"} 4\n"));
    assert_non_null(strstr(t, "firehose_put_request_duration_seconds_bucket"
                              "{stream=\"to-s3\",operation=\"PutRecordBatch\","
                              "le=\"0.005\"} 1\n"));
    assert_non_null(strstr(t, "firehose_put_request_duration_seconds_count"
                              "{stream=\"to-s3\",operation=\"PutRecord\"} "
                              "0\n"));
    /* Registered, with no stream that has processing: no samples. */
    assert_non_null(strstr(t, "# TYPE firehose_execute_processing_duration_"
                              "seconds histogram\n"));
    assert_null(strstr(t, "firehose_execute_processing_duration_seconds_"
                          "count"));
    /* Never sent: no last-delivery sample. */
    assert_null(strstr(t, "firehose_last_delivery_timestamp_seconds{"));
    assert_non_null(strstr(t, "\nprocess_resident_memory_bytes "));
    assert_non_null(strstr(t, "\nprocess_open_fds "));
    assert_non_null(strstr(t, "\nfirehose_errors_total 1\n"));
    assert_int_equal(t[f->out.len - 1], '\n');
}

static void script_status(void *ctx, const char *script, unsigned *version,
                          char *last_error, size_t n)
{
    assert_string_equal(ctx, "host");
    assert_string_equal(script, "t.lua");
    *version = 3;
    snprintf(last_error, n, "t.lua:2: syntax \"error\"");
}

/* A stream with a Lua processor: transform counts, the script's status and
 * the processing histogram appear; the others' do not. */
static void test_transform_status(void **state)
{
    char json[1024], *errors = NULL, dir[64], script[128];
    struct cfg *c = NULL;
    struct xform_host *xh = NULL;
    FILE *f;
    struct stream *st = NULL;
    struct streams *set;
    struct dash *d = NULL;
    struct buf b = { NULL, 0, 0 };
    struct err e;
    json_t *j, *t;

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/fh-dash-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(json, sizeof(json),
        "{\"Service\":{\"Listen\":\"127.0.0.1:1\",\"StateDirectory\":"
        "\"%s/state\",\"TransformsDirectory\":\"%s\"},"
        "\"DeliveryStreams\":[{\"DeliveryStreamName\":\"lua\","
        "\"LocalDirectoryDestinationConfiguration\":{\"Path\":\"%s/out\","
        "\"ProcessingConfiguration\":{\"Processors\":[{\"Type\":\"Lua\","
        "\"Parameters\":[{\"ParameterName\":\"ScriptName\","
        "\"ParameterValue\":\"t.lua\"}]}]}}}]}", dir, dir, dir);
    if (cfg_load_string("test", json, &c, &errors) != 0)
        fail_msg("config: %s", errors);
    snprintf(script, sizeof(script), "%s/t.lua", dir);
    f = fopen(script, "w");
    assert_non_null(f);
    fputs("function transform(r) return \"Ok\" end\n", f);
    fclose(f);
    xh = xform_host_new(c->service.transforms_dir, &e);
    if (xh == NULL)
        fail_msg("xform host: %s", e.msg);
    if (stream_open(&c->streams[0], &c->service, xh, &st, &e) != 0)
        fail_msg("stream: %s", e.msg);
    set = set_of(&st, 1);
    assert_int_equal(dash_new(&c->service, set, &d, &e), 0);
    dash_set_script_status(d, script_status, (void *)"host");
    metrics_add(&stream_metrics(st)->xform_ok, 5);
    metrics_add(&stream_metrics(st)->xform_dropped, 2);
    metrics_add(&stream_metrics(st)->xform_failed, 1);
    metrics_add(&stream_metrics(st)->xform_batches, 2);
    metrics_add(&stream_metrics(st)->xform_us, 3000);
    prom_hist_observe_us(&stream_metrics(st)->processing_duration, 1500);
    assert_int_equal(dash_status_json(d, &b, &e), 0);
    j = json_loadb(text(&b), b.len, 0, NULL);
    assert_non_null(j);
    t = json_object_get(json_array_get(json_object_get(j, "DeliveryStreams"),
                                       0), "Transform");
    assert_string_equal(json_string_value(json_object_get(t, "ScriptName")),
                        "t.lua");
    assert_int_equal(json_integer_value(json_object_get(t, "Ok")), 5);
    assert_int_equal(json_integer_value(json_object_get(t,
                     "ProcessingFailed")), 1);
    assert_true(json_number_value(json_object_get(t, "AverageDurationMs"))
                == 1.5);
    assert_int_equal(json_integer_value(json_object_get(t, "ScriptVersion")),
                     3);
    assert_string_equal(json_string_value(json_object_get(t,
                        "LastLoadError")), "t.lua:2: syntax \"error\"");
    json_decref(j);
    b.len = 0;
    assert_int_equal(dash_metrics(d, &b, &e), 0);
    assert_non_null(strstr(text(&b), "firehose_succeed_processing_records_"
                                     "total{stream=\"lua\"} 7\n"));
    assert_non_null(strstr(text(&b), "firehose_execute_processing_duration_"
                                     "seconds_bucket{stream=\"lua\","
                                     "le=\"0.0025\"} 1\n"));
    buf_release(&b);
    dash_free(d);
    streams_free(set);
    stream_free(st);
    xform_host_free(xh);
    cfg_free(c);
    snprintf(json, sizeof(json), "rm -rf %s", dir);
    assert_int_equal(system(json), 0);
}

/* The sampler thread runs and stops promptly. */
static void test_sampler_thread(void **state)
{
    struct fx *f = *state;
    struct err e;
    int64_t t0 = util_mono_ms();

    assert_int_equal(dash_start(f->dash, &e), 0);
    dash_stop(f->dash);
    dash_stop(f->dash);
    assert_true(util_mono_ms() - t0 < 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ring_rates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_wraps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_log_hook, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_errors_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_json, setup, teardown),
        cmocka_unit_test(test_prom_escaping),
        cmocka_unit_test(test_prom_histogram),
        cmocka_unit_test_setup_teardown(test_metrics_exposition, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sampler_thread, setup, teardown),
        cmocka_unit_test(test_transform_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
