#include "dash.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"

/* The page (delivery/dashboard.html) is compiled in so that the binary
 * serves it with no files next to it and works offline. A Makefile rule
 * (sed) turns each line of the HTML into a C string literal in
 * $(BUILD)/gen/dashboard.html.inc, escaping backslash, double quote and
 * '?' (so that JavaScript's '??' never forms a C trigraph). Plain C and
 * sed, unlike xxd (not always installed) or ld -b binary (symbol names
 * follow the path, and newer binutils warn about the stack note). */
static const char dash_page[] =
#include "dashboard.html.inc"
    ;

/* A stream counts as failing or degraded while it had failed attempts in
 * this window. */
#define DASH_RECENT_MS 60000
/* How many of the newest errors a new one is compared with for folding. */
#define DASH_FOLD 4

struct counters {
    uint64_t in_records, in_bytes, throttled, out_records, out_bytes;
    uint64_t objects, retries, failures;
};

/* One stream's history, found by the stream's streams_item.gen: streams
 * come and go at run time (the control plane). */
struct series {
    uint64_t gen;
    int seen;                   /* in the latest sample */
    struct dash_point ring[DASH_HISTORY];
    size_t head;                /* next slot to write */
    size_t count;
    struct counters prev;
    int64_t prev_ms;            /* 0 = no baseline yet */
};

struct dash {
    const struct cfg_service *svc;
    struct streams *set;
    int64_t start_ms;

    pthread_mutex_t hist_lock;  /* series */
    struct series *series;
    size_t n_series, cap_series;

    pthread_mutex_t err_lock;   /* errors */
    struct dash_error errors[DASH_ERRORS];
    size_t err_head, err_count;
    uint64_t err_total;

    dash_script_fn *script_fn;
    void *script_ctx;

    pthread_mutex_t run_lock;   /* stop, with run_cond */
    pthread_cond_t run_cond;
    int stop;
    int started;
    pthread_t thread;
};

int dash_new(const struct cfg_service *svc, struct streams *set,
             struct dash **out, struct err *e)
{
    struct dash *d;
    pthread_condattr_t ca;

    *out = NULL;
    d = calloc(1, sizeof(*d));
    if (d == NULL)
        return err_set(e, ERR_NOMEM, "out of memory for the dashboard");
    d->svc = svc;
    d->set = set;
    d->start_ms = util_now_ms();
    pthread_mutex_init(&d->hist_lock, NULL);
    pthread_mutex_init(&d->err_lock, NULL);
    pthread_mutex_init(&d->run_lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->run_cond, &ca);
    pthread_condattr_destroy(&ca);
    *out = d;
    return 0;
}

void dash_set_script_status(struct dash *d, dash_script_fn *fn, void *ctx)
{
    d->script_fn = fn;
    d->script_ctx = ctx;
}

/* ------------------------------------------------------------ sampling */

static void read_counters(struct stream *st, struct counters *c)
{
    struct metrics_stream *m = stream_metrics(st);

    c->in_records = metrics_get(&m->incoming_records);
    c->in_bytes = metrics_get(&m->incoming_bytes);
    c->throttled = metrics_get(&m->throttled_records);
    c->out_records = metrics_get(&m->delivered_records);
    c->out_bytes = metrics_get(&m->delivered_bytes);
    c->objects = metrics_get(&m->delivered_objects);
    c->retries = metrics_get(&m->retries);
    c->failures = metrics_get(&m->delivery_failures);
}

static uint64_t delta(uint64_t cur, uint64_t prev)
{
    return cur >= prev ? cur - prev : 0;
}

static double freshness_s(int64_t oldest_ms, int64_t now_ms)
{
    if (oldest_ms == 0 || now_ms <= oldest_ms)
        return 0.0;
    return (double)(now_ms - oldest_ms) / 1000.0;
}

/* Under hist_lock: the series of stream 'gen', made when 'make' and new;
 * NULL when absent (or out of memory). */
static struct series *series_of(struct dash *d, uint64_t gen, int make)
{
    struct series *s;

    for (size_t i = 0; i < d->n_series; i++)
        if (d->series[i].gen == gen)
            return &d->series[i];
    if (!make)
        return NULL;
    if (d->n_series == d->cap_series) {
        size_t cap = d->cap_series ? d->cap_series * 2 : 8;
        void *p = realloc(d->series, cap * sizeof(*d->series));
        if (p == NULL)
            return NULL;
        d->series = p;
        d->cap_series = cap;
    }
    s = &d->series[d->n_series++];
    memset(s, 0, sizeof(*s));
    s->gen = gen;
    return s;
}

void dash_sample(struct dash *d, int64_t now_ms)
{
    size_t keep = 0;

    streams_rdlock(d->set);
    for (size_t i = 0; i < streams_count(d->set); i++) {
        struct streams_item *it = streams_at(d->set, i);
        struct series *s;
        struct stream_status ss;
        struct counters c;
        struct dash_point *p;
        double dt;

        if (it->st == NULL)
            continue;
        /* Read outside hist_lock: stream_status() takes the spool's. */
        read_counters(it->st, &c);
        stream_status(it->st, &ss);
        pthread_mutex_lock(&d->hist_lock);
        if ((s = series_of(d, it->gen, 1)) == NULL) {
            pthread_mutex_unlock(&d->hist_lock);
            continue;
        }
        s->seen = 1;
        if (s->prev_ms != 0 && now_ms > s->prev_ms) {
            dt = (double)(now_ms - s->prev_ms) / 1000.0;
            p = &s->ring[s->head];
            p->t_ms = now_ms;
            p->in_records_s = (double)delta(c.in_records,
                                            s->prev.in_records) / dt;
            p->in_bytes_s = (double)delta(c.in_bytes, s->prev.in_bytes) / dt;
            p->out_records_s = (double)delta(c.out_records,
                                             s->prev.out_records) / dt;
            p->out_bytes_s = (double)delta(c.out_bytes,
                                           s->prev.out_bytes) / dt;
            p->throttled_s = (double)delta(c.throttled,
                                           s->prev.throttled) / dt;
            p->freshness_s = freshness_s(ss.oldest_undelivered_ms, now_ms);
            p->spool_bytes = ss.spool_bytes;
            p->retries = delta(c.retries, s->prev.retries);
            p->failures = delta(c.failures, s->prev.failures);
            p->objects = delta(c.objects, s->prev.objects);
            s->head = (s->head + 1) % DASH_HISTORY;
            if (s->count < DASH_HISTORY)
                s->count++;
        }
        if (now_ms > s->prev_ms) {
            s->prev = c;
            s->prev_ms = now_ms;
        }
        pthread_mutex_unlock(&d->hist_lock);
    }
    /* The history of a deleted stream goes with it. */
    pthread_mutex_lock(&d->hist_lock);
    for (size_t i = 0; i < d->n_series; i++) {
        if (!d->series[i].seen)
            continue;
        d->series[i].seen = 0;
        if (keep != i)
            d->series[keep] = d->series[i];
        keep++;
    }
    d->n_series = keep;
    pthread_mutex_unlock(&d->hist_lock);
    streams_unlock(d->set);
}

/* Stream 'gen''s newest samples, oldest first. */
static size_t history_of(struct dash *d, uint64_t gen, struct dash_point *out,
                         size_t max)
{
    struct series *s;
    size_t k = 0, first;

    pthread_mutex_lock(&d->hist_lock);
    if ((s = series_of(d, gen, 0)) != NULL) {
        k = s->count < max ? s->count : max;
        first = (s->head + DASH_HISTORY - k) % DASH_HISTORY;
        for (size_t j = 0; j < k; j++)
            out[j] = s->ring[(first + j) % DASH_HISTORY];
    }
    pthread_mutex_unlock(&d->hist_lock);
    return k;
}

size_t dash_history(struct dash *d, size_t i, struct dash_point *out,
                    size_t max)
{
    struct streams_item *it;
    size_t k = 0;

    streams_rdlock(d->set);
    if ((it = streams_at(d->set, i)) != NULL)
        k = history_of(d, it->gen, out, max);
    streams_unlock(d->set);
    return k;
}

static void *sampler(void *arg)
{
    struct dash *d = arg;
    struct timespec until;

    clock_gettime(CLOCK_MONOTONIC, &until);
    pthread_mutex_lock(&d->run_lock);
    while (!d->stop) {
        until.tv_sec += DASH_SAMPLE_MS / 1000;
        until.tv_nsec += (long)(DASH_SAMPLE_MS % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!d->stop &&
               pthread_cond_timedwait(&d->run_cond, &d->run_lock,
                                      &until) == 0)
            ;
        if (d->stop)
            break;
        pthread_mutex_unlock(&d->run_lock);
        dash_sample(d, util_now_ms());
        pthread_mutex_lock(&d->run_lock);
    }
    pthread_mutex_unlock(&d->run_lock);
    return NULL;
}

int dash_start(struct dash *d, struct err *e)
{
    int rc;

    dash_sample(d, util_now_ms());
    rc = pthread_create(&d->thread, NULL, sampler, d);
    if (rc != 0)
        return err_sys(e, rc, "starting the dashboard sampler thread");
    d->started = 1;
    return 0;
}

void dash_stop(struct dash *d)
{
    if (d == NULL || !d->started)
        return;
    pthread_mutex_lock(&d->run_lock);
    d->stop = 1;
    pthread_cond_signal(&d->run_cond);
    pthread_mutex_unlock(&d->run_lock);
    pthread_join(d->thread, NULL);
    d->started = 0;
}

void dash_free(struct dash *d)
{
    if (d == NULL)
        return;
    dash_stop(d);
    pthread_cond_destroy(&d->run_cond);
    pthread_mutex_destroy(&d->run_lock);
    pthread_mutex_destroy(&d->err_lock);
    pthread_mutex_destroy(&d->hist_lock);
    free(d->series);
    free(d);
}

/* -------------------------------------------------------------- errors */

static void copy_str(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void error_add(struct dash *d, int level, const char *stream,
                      size_t stream_len, const char *stage,
                      const char *msg)
{
    struct dash_error *last, *x;
    char sname[sizeof(x->stream)];
    int64_t now = util_now_ms();

    copy_str(sname, sizeof(sname), stream, stream_len);
    pthread_mutex_lock(&d->err_lock);
    d->err_total++;
    /* A repeat of one of the newest few (several streams throttled at
     * once take turns) is folded into it, so that a flood of one error
     * cannot push the others out of the list. */
    for (size_t j = 0; j < d->err_count && j < DASH_FOLD; j++) {
        last = &d->errors[(d->err_head + DASH_ERRORS - 1 - j) % DASH_ERRORS];
        if (strcmp(last->stream, sname) == 0 &&
            strncmp(last->stage, stage, sizeof(last->stage) - 1) == 0 &&
            strncmp(last->msg, msg, sizeof(last->msg) - 1) == 0) {
            last->count++;
            last->t_ms = now;
            if (level > last->level)
                last->level = level;
            pthread_mutex_unlock(&d->err_lock);
            return;
        }
    }
    x = &d->errors[d->err_head];
    x->t_ms = now;
    x->count = 1;
    x->level = level;
    memcpy(x->stream, sname, sizeof(sname));
    copy_str(x->stage, sizeof(x->stage), stage, strlen(stage));
    copy_str(x->msg, sizeof(x->msg), msg, strlen(msg));
    d->err_head = (d->err_head + 1) % DASH_ERRORS;
    if (d->err_count < DASH_ERRORS)
        d->err_count++;
    pthread_mutex_unlock(&d->err_lock);
}

void dash_error(struct dash *d, int level, const char *stream,
                const char *stage, const char *fmt, ...)
{
    char msg[sizeof(((struct dash_error *)0)->msg)];
    va_list ap;

    if (d == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (stream == NULL)
        stream = "";
    error_add(d, level, stream, strlen(stream), stage, msg);
}

void dash_log_hook(void *ctx, enum log_level lvl, const char *who,
                   const char *text)
{
    static const struct { const char *kind, *stage; } stages[] = {
        { "dest", "delivery" }, { "stream", "stream" }, { "spool", "spool" },
        { "xform", "transform" }, { "lua", "transform" },
        { "kinesis", "source" }, { "api", "api" }, { NULL, NULL }
    };
    const char *colon = strchr(who, ':'), *name = "", *stage = who;
    size_t kind_len = colon ? (size_t)(colon - who) : strlen(who);
    char kind[24];

    if (ctx == NULL)
        return;
    copy_str(kind, sizeof(kind), who, kind_len);
    if (colon != NULL) {
        name = colon + 1;
        stage = kind;
        /* "dest:TYPE:NAME": the stream is after the type. */
        if (strcmp(kind, "dest") == 0 && strchr(name, ':') != NULL)
            name = strchr(name, ':') + 1;
    }
    for (size_t i = 0; stages[i].kind; i++)
        if (strcmp(kind, stages[i].kind) == 0)
            stage = stages[i].stage;
    error_add(ctx, (int)lvl, name, strlen(name), stage, text);
}

size_t dash_errors(struct dash *d, struct dash_error *out, size_t max)
{
    size_t k;

    pthread_mutex_lock(&d->err_lock);
    k = d->err_count < max ? d->err_count : max;
    for (size_t j = 0; j < k; j++)
        out[j] = d->errors[(d->err_head + DASH_ERRORS - 1 - j) %
                           DASH_ERRORS];
    pthread_mutex_unlock(&d->err_lock);
    return k;
}

uint64_t dash_errors_total(struct dash *d)
{
    uint64_t t;

    pthread_mutex_lock(&d->err_lock);
    t = d->err_total;
    pthread_mutex_unlock(&d->err_lock);
    return t;
}

/* --------------------------------------------------------- JSON output */

/* A number with at most 3 decimals and no exponent for everyday values,
 * so that the page's arrays stay short. */
static int jnum(struct buf *b, double v, struct err *e)
{
    if (!isfinite(v))
        return buf_append(b, "null", 4, e);
    if (v > -1e15 && v < 1e15)  /* round to 3 decimals without libm */
        v = (double)(int64_t)(v * 1000.0 + (v < 0 ? -0.5 : 0.5)) / 1000.0;
    return buf_printf(b, e, "%.15g", v);
}

static int jkey(struct buf *b, int first, const char *k, struct err *e)
{
    return buf_printf(b, e, "%s\"%s\":", first ? "" : ",", k);
}

static int jkey_u64(struct buf *b, const char *k, uint64_t v, struct err *e)
{
    return buf_printf(b, e, ",\"%s\":%" PRIu64, k, v);
}

static const char *dest_name(const struct cfg_stream *s)
{
    switch (s->dest_kind) {
    case CFG_DEST_S3:
        return "s3";
    case CFG_DEST_HTTP:
        return "http";
    case CFG_DEST_OPENSEARCH:
        return "opensearch";
    default:
        return "local";
    }
}

static const char *state_of(const struct cfg_stream *s,
                            const struct dash_point *h, size_t k,
                            const struct counters *now_c,
                            const struct counters *last_c, int64_t now,
                            double fresh)
{
    uint64_t failed = delta(now_c->failures, last_c->failures);
    uint64_t stored = delta(now_c->objects, last_c->objects);
    uint64_t incoming = delta(now_c->in_records, last_c->in_records);
    double behind = (double)s->s3.buffering.interval_s + 60.0;

    for (size_t j = k; j-- > 0 && now - h[j].t_ms < DASH_RECENT_MS;) {
        failed += h[j].failures;
        stored += h[j].objects;
        incoming += h[j].in_records_s > 0.0;
    }
    if (failed > 0)
        return stored > 0 ? "degraded" : "failing";
    if (fresh > behind)
        return "behind";
    if (incoming > 0 || fresh > 0.0)
        return "flowing";
    return "idle";
}

#define SERIES(field, key) do { \
        if (jkey(b, 0, key, e) != 0 || buf_append(b, "[", 1, e) != 0) \
            return -1; \
        for (size_t j = 0; j < k; j++) \
            if ((j && buf_append(b, ",", 1, e) != 0) || \
                jnum(b, (double)h[j].field, e) != 0) \
                return -1; \
        if (buf_append(b, "]", 1, e) != 0) \
            return -1; \
    } while (0)

static int history_json(struct buf *b, const struct dash_point *h, size_t k,
                        struct err *e)
{
    if (buf_printf(b, e, ",\"History\":{\"IntervalSeconds\":%d",
                   DASH_SAMPLE_MS / 1000) != 0)
        return -1;
    if (jkey(b, 0, "Time", e) != 0 || buf_append(b, "[", 1, e) != 0)
        return -1;
    for (size_t j = 0; j < k; j++)
        if (buf_printf(b, e, "%s%.3f", j ? "," : "",
                       (double)h[j].t_ms / 1000.0) != 0)
            return -1;
    if (buf_append(b, "]", 1, e) != 0)
        return -1;
    SERIES(in_records_s, "IncomingRecordsPerSecond");
    SERIES(in_bytes_s, "IncomingBytesPerSecond");
    SERIES(out_records_s, "DeliveredRecordsPerSecond");
    SERIES(out_bytes_s, "DeliveredBytesPerSecond");
    SERIES(throttled_s, "ThrottledRecordsPerSecond");
    SERIES(freshness_s, "DataFreshnessSeconds");
    SERIES(spool_bytes, "SpoolBytes");
    SERIES(retries, "Retries");
    SERIES(failures, "DeliveryFailures");
    return buf_append(b, "}", 1, e);
}

static int target_json(struct buf *b, const struct cfg_stream *s,
                       struct err *e)
{
    char t[1024];

    if (s->dest_kind == CFG_DEST_S3)
        snprintf(t, sizeof(t), "s3://%s/%s", s->s3.bucket ? s->s3.bucket
                                                          : "", s->s3.prefix);
    else
        snprintf(t, sizeof(t), "%s/%s", s->s3.path ? s->s3.path : "",
                 s->s3.prefix);
    if (jkey(b, 0, "Target", e) != 0 || buf_json_str(b, t, e) != 0 ||
        jkey(b, 0, "ErrorOutputPrefix", e) != 0)
        return -1;
    return buf_json_str(b, s->s3.error_prefix, e);
}

static int transform_json(struct dash *d, struct buf *b,
                          const struct cfg_stream *s,
                          struct metrics_stream *m, struct err *e)
{
    uint64_t calls = metrics_get(&m->xform_batches);
    unsigned version = 0;
    char load_error[256] = "";

    if (jkey(b, 0, "Transform", e) != 0)
        return -1;
    if (!s->s3.processing.enabled || s->s3.processing.lua_script == NULL)
        return buf_append(b, "null", 4, e);
    if (buf_append(b, "{\"ScriptName\":", 14, e) != 0 ||
        buf_json_str(b, s->s3.processing.lua_script, e) != 0 ||
        jkey_u64(b, "Ok", metrics_get(&m->xform_ok), e) != 0 ||
        jkey_u64(b, "Dropped", metrics_get(&m->xform_dropped), e) != 0 ||
        jkey_u64(b, "ProcessingFailed", metrics_get(&m->xform_failed),
                 e) != 0 ||
        jkey_u64(b, "Invocations", calls, e) != 0 ||
        jkey(b, 0, "AverageDurationMs", e) != 0 ||
        jnum(b, calls ? (double)metrics_get(&m->xform_us) / 1000.0 /
                        (double)calls : 0.0, e) != 0)
        return -1;
    if (d->script_fn != NULL) {
        d->script_fn(d->script_ctx, s->s3.processing.lua_script, &version,
                     load_error, sizeof(load_error));
        if (buf_printf(b, e, ",\"ScriptVersion\":%u,\"LastLoadError\":",
                       version) != 0 || buf_json_str(b, load_error, e) != 0)
            return -1;
    }
    return buf_append(b, "}", 1, e);
}

/* Under the set's read lock. */
static int stream_json(struct dash *d, const struct streams_item *it,
                       int64_t now, struct dash_point *h, struct buf *b,
                       struct err *e)
{
    struct stream *st = it->st;
    struct series *se;
    const struct cfg_stream *s = stream_cfg(st);
    struct metrics_stream *m = stream_metrics(st);
    struct stream_status ss;
    struct counters c, last;
    int64_t lastd = atomic_load(&m->last_delivery_ms);
    double fresh;
    size_t k;

    read_counters(st, &c);
    stream_status(st, &ss);
    k = history_of(d, it->gen, h, DASH_HISTORY);
    pthread_mutex_lock(&d->hist_lock);
    se = series_of(d, it->gen, 0);
    last = se != NULL && se->prev_ms ? se->prev : c;
    pthread_mutex_unlock(&d->hist_lock);
    fresh = freshness_s(ss.oldest_undelivered_ms, now);
    if (buf_append(b, "{", 1, e) != 0 ||
        jkey(b, 1, "DeliveryStreamName", e) != 0 ||
        buf_json_str(b, s->name, e) != 0 ||
        buf_printf(b, e, ",\"DeliveryStreamType\":\"%s\",\"Destination\":"
                   "\"%s\",\"State\":\"%s\",\"CompressionFormat\":\"%s\","
                   "\"BufferingHints\":{\"SizeInMBs\":%d,"
                   "\"IntervalInSeconds\":%d}",
                   s->type == CFG_STREAM_KINESIS ? "KinesisStreamAsSource"
                                                 : "DirectPut",
                   dest_name(s), state_of(s, h, k, &c, &last, now, fresh),
                   cfg_compression_name(s->s3.compression),
                   s->s3.buffering.size_mb, s->s3.buffering.interval_s) != 0 ||
        target_json(b, s, e) != 0 || stream_source_json(st, b, e) != 0)
        return -1;
    if (buf_printf(b, e, ",\"Counters\":{\"IncomingRecords\":%" PRIu64,
                   c.in_records) != 0 ||
        jkey_u64(b, "IncomingBytes", c.in_bytes, e) != 0 ||
        jkey_u64(b, "IncomingPutRequests",
                 metrics_get(&m->incoming_put_requests), e) != 0 ||
        jkey_u64(b, "ThrottledRecords", c.throttled, e) != 0 ||
        jkey_u64(b, "DeliveredRecords", c.out_records, e) != 0 ||
        jkey_u64(b, "DeliveredBytes", c.out_bytes, e) != 0 ||
        jkey_u64(b, "DeliveredObjects", c.objects, e) != 0 ||
        jkey_u64(b, "DeliveryAttempts",
                 metrics_get(&m->delivery_attempts), e) != 0 ||
        jkey_u64(b, "DeliveryFailures", c.failures, e) != 0 ||
        jkey_u64(b, "Retries", c.retries, e) != 0 ||
        jkey_u64(b, "ErrorOutputRecords", metrics_get(&m->error_records),
                 e) != 0 ||
        jkey_u64(b, "ErrorOutputObjects", metrics_get(&m->error_objects),
                 e) != 0 ||
        jkey_u64(b, "SpoolCorruptRecords",
                 metrics_get(&m->spool_corrupt_records), e) != 0 ||
        jkey_u64(b, "SpoolCorruptBytes",
                 metrics_get(&m->spool_corrupt_bytes), e) != 0 ||
        buf_printf(b, e, "},\"Buffer\":{\"SpoolBytes\":%" PRIu64,
                   ss.spool_bytes) != 0 ||
        jkey_u64(b, "BufferedRecords", ss.buffered_records, e) != 0 ||
        jkey_u64(b, "BufferedBytes", ss.buffered_bytes, e) != 0 ||
        jkey_u64(b, "PendingBatches", ss.pending_batches, e) != 0 ||
        jkey(b, 0, "DataFreshnessSeconds", e) != 0 ||
        jnum(b, fresh, e) != 0 ||
        buf_append(b, "}", 1, e) != 0 ||
        jkey(b, 0, "LastDeliveryTimestamp", e) != 0)
        return -1;
    if (lastd ? buf_printf(b, e, "%.3f", (double)lastd / 1000.0)
              : buf_append(b, "null", 4, e))
        return -1;
    if (transform_json(d, b, s, m, e) != 0 || history_json(b, h, k, e) != 0)
        return -1;
    return buf_append(b, "}", 1, e);
}

static int errors_json(struct dash *d, struct buf *b, struct err *e)
{
    struct dash_error *x = malloc(DASH_ERRORS * sizeof(*x));
    size_t k;
    int rc = 0;

    if (x == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    k = dash_errors(d, x, DASH_ERRORS);
    rc = buf_append(b, ",\"Errors\":[", 11, e);
    for (size_t j = 0; j < k && rc == 0; j++) {
        rc = buf_printf(b, e, "%s{\"Time\":%.3f,\"Level\":\"%s\","
                        "\"Count\":%" PRIu32 ",\"Stream\":", j ? "," : "",
                        (double)x[j].t_ms / 1000.0,
                        x[j].level >= LOG_ERROR ? "ERROR" : "WARN",
                        x[j].count);
        if (rc == 0)
            rc = buf_json_str(b, x[j].stream, e);
        if (rc == 0)
            rc = jkey(b, 0, "Stage", e);
        if (rc == 0)
            rc = buf_json_str(b, x[j].stage, e);
        if (rc == 0)
            rc = jkey(b, 0, "Message", e);
        if (rc == 0)
            rc = buf_json_str(b, x[j].msg, e);
        if (rc == 0)
            rc = buf_append(b, "}", 1, e);
    }
    free(x);
    if (rc == 0)
        rc = buf_append(b, "]", 1, e);
    return rc;
}

int dash_status_json(struct dash *d, struct buf *out, struct err *e)
{
    struct dash_point *h = malloc(DASH_HISTORY * sizeof(*h));
    int64_t now = util_now_ms();
    int rc = 0;

    if (h == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    rc = buf_append(out, "{\"DeliveryStreams\":[", 20, e);
    streams_rdlock(d->set);
    for (size_t i = 0, n = 0; i < streams_count(d->set) && rc == 0; i++) {
        struct streams_item *it = streams_at(d->set, i);

        if (it->st == NULL)
            continue;
        if (n++)
            rc = buf_append(out, ",", 1, e);
        if (rc == 0)
            rc = stream_json(d, it, now, h, out, e);
    }
    streams_unlock(d->set);
    free(h);
    if (rc == 0)
        rc = buf_append(out, "]", 1, e);
    if (rc == 0)
        rc = errors_json(d, out, e);
    if (rc == 0)
        rc = buf_printf(out, e, ",\"ErrorsTotal\":%" PRIu64 ",\"Service\":{"
                        "\"Now\":%.3f,\"StartTime\":%.3f,"
                        "\"SampleIntervalSeconds\":%d,"
                        "\"HistorySeconds\":%d,\"Listen\":",
                        dash_errors_total(d), (double)now / 1000.0,
                        (double)d->start_ms / 1000.0, DASH_SAMPLE_MS / 1000,
                        DASH_SAMPLE_MS / 1000 * DASH_HISTORY);
    if (rc == 0)
        rc = buf_json_str(out, d->svc->listen ? d->svc->listen : "", e);
    if (rc == 0)
        rc = buf_append(out, "}}", 2, e);
    return rc;
}

int dash_metrics(struct dash *d, struct buf *out, struct err *e)
{
    struct stream **sts;
    size_t n = 0;
    int rc;

    streams_rdlock(d->set);
    sts = malloc((streams_count(d->set) + 1) * sizeof(*sts));
    for (size_t i = 0; sts != NULL && i < streams_count(d->set); i++)
        if (streams_at(d->set, i)->st != NULL)
            sts[n++] = streams_at(d->set, i)->st;
    rc = sts == NULL ? err_set(e, ERR_NOMEM, "out of memory")
                     : metrics_prometheus(sts, n, d->start_ms, out, e);
    streams_unlock(d->set);
    free(sts);
    if (rc != 0)
        return -1;
    return prom_family(out, "firehose_errors_total", "counter",
                       "Warnings and errors recorded for the dashboard's "
                       "error list", e) ||
           prom_sample_u64(out, "firehose_errors_total", NULL,
                           dash_errors_total(d), e) ? -1 : 0;
}

/* --------------------------------------------------------------- HTTP */

static enum MHD_Result reply(struct MHD_Connection *mc, unsigned status,
                             const char *ctype, const void *body, size_t len,
                             enum MHD_ResponseMemoryMode mode, int page)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, mode);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (page) {
        /* The page may talk to this server only, and load nothing from
         * anywhere: it must work offline and leak nothing. */
        MHD_add_response_header(r, "Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline'; "
            "style-src 'unsafe-inline'; img-src data:; connect-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
        MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    }
    ret = MHD_queue_response(mc, status, r);
    MHD_destroy_response(r);
    return ret;
}

int dash_serve(struct dash *d, struct MHD_Connection *mc, const char *url,
               struct buf *scratch)
{
    struct err e = { 0, "" };
    int rc;

    if (strcmp(url, "/") == 0 || strcmp(url, "/dashboard") == 0)
        return reply(mc, 200, "text/html; charset=utf-8", dash_page,
                     sizeof(dash_page) - 1, MHD_RESPMEM_PERSISTENT, 1);
    scratch->len = 0;
    if (strcmp(url, "/api/status") == 0)
        rc = dash_status_json(d, scratch, &e);
    else if (strcmp(url, "/metrics") == 0)
        rc = dash_metrics(d, scratch, &e);
    else
        return -1;
    if (rc != 0) {
        static const char msg[] = "{\"__type\":\"InternalFailure\","
                                  "\"message\":\"out of memory building the "
                                  "status; retry later\"}";
        dash_error(d, LOG_ERROR, NULL, "api", "GET %s failed: %s", url,
                   e.msg);
        return reply(mc, 500, "application/json", msg, sizeof(msg) - 1,
                     MHD_RESPMEM_PERSISTENT, 0);
    }
    if (url[1] == 'm')
        return reply(mc, 200, "text/plain; version=0.0.4; charset=utf-8",
                     scratch->p, scratch->len, MHD_RESPMEM_MUST_COPY, 0);
    return reply(mc, 200, "application/json", scratch->p, scratch->len,
                 MHD_RESPMEM_MUST_COPY, 0);
}
