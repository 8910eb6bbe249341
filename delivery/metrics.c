/* metrics.c - the Prometheus exposition of struct metrics_stream: names
 * derived from Firehose's CloudWatch metrics (spec section 8), one sample
 * per stream labelled stream="NAME", plus the usual process_* metrics. */
#include "metrics.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "stream.h"

/* The destination part of Firehose's metric names, snake_cased:
 * DeliveryToS3, DeliveryToHttpEndpoint, DeliveryToAmazonOpenSearchService
 * (and ours, local). */
static const char *dest_name(const struct cfg_stream *s)
{
    switch (s->dest_kind) {
    case CFG_DEST_S3:
        return "s3";
    case CFG_DEST_HTTP:
        return "http_endpoint";
    case CFG_DEST_OPENSEARCH:
        return s->os.elasticsearch ? "elasticsearch"
                                   : "amazon_opensearch_service";
    default:
        return "local";
    }
}

static double freshness_s(int64_t oldest_ms, int64_t now_ms)
{
    if (oldest_ms == 0 || now_ms <= oldest_ms)
        return 0.0;
    return (double)(now_ms - oldest_ms) / 1000.0;
}

struct proc_stats {
    double rss, vsz, cpu_s, open_fds, max_fds;
};

static void proc_stats(struct proc_stats *p)
{
    unsigned long long size = 0, res = 0;
    long page = sysconf(_SC_PAGESIZE);
    struct rusage ru;
    struct rlimit rl;
    struct dirent *de;
    FILE *f;
    DIR *dir;

    memset(p, 0, sizeof(*p));
    f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%llu %llu", &size, &res) == 2) {
            p->vsz = (double)size * (double)page;
            p->rss = (double)res * (double)page;
        }
        fclose(f);
    }
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        p->cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                   (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        p->max_fds = rl.rlim_cur == RLIM_INFINITY ? INFINITY
                                                  : (double)rl.rlim_cur;
    dir = opendir("/proc/self/fd");
    if (dir != NULL) {
        while ((de = readdir(dir)) != NULL)
            if (de->d_name[0] != '.')
                p->open_fds++;
        /* Not counting the descriptor that reads the directory. */
        p->open_fds--;
        closedir(dir);
    }
}

/* Writes one family: HELP/TYPE, then one sample per stream from 'get'
 * (skipped where 'get' returns -1). */
typedef int metric_get_fn(struct stream *st, double *v);

struct family {
    const char *name, *type, *help;
    metric_get_fn *get;
    int with_dest;              /* name follows firehose_delivery_to_s3_
                                 * (and _local_) */
};

#define COUNTER_GET(fn, field) \
    static int fn(struct stream *st, double *v) \
    { \
        *v = (double)metrics_get(&stream_metrics(st)->field); \
        return 0; \
    }
COUNTER_GET(get_in_records, incoming_records)
COUNTER_GET(get_in_bytes, incoming_bytes)
COUNTER_GET(get_in_requests, incoming_put_requests)
COUNTER_GET(get_throttled, throttled_records)
COUNTER_GET(get_out_records, delivered_records)
COUNTER_GET(get_out_bytes, delivered_bytes)
COUNTER_GET(get_out_objects, delivered_objects)
COUNTER_GET(get_attempts, delivery_attempts)
COUNTER_GET(get_failures, delivery_failures)
COUNTER_GET(get_retries, retries)
COUNTER_GET(get_error_records, error_records)
COUNTER_GET(get_backup_records, backup_records)
COUNTER_GET(get_error_objects, error_objects)
COUNTER_GET(get_corrupt_records, spool_corrupt_records)
COUNTER_GET(get_corrupt_bytes, spool_corrupt_bytes)

static int get_freshness(struct stream *st, double *v)
{
    struct stream_status ss;

    stream_status(st, &ss);
    *v = freshness_s(ss.oldest_undelivered_ms, util_now_ms());
    return 0;
}

static int get_spool(struct stream *st, double *v)
{
    struct stream_status ss;

    stream_status(st, &ss);
    *v = (double)ss.spool_bytes;
    return 0;
}

static int get_buffered(struct stream *st, double *v)
{
    struct stream_status ss;

    stream_status(st, &ss);
    *v = (double)ss.buffered_records;
    return 0;
}

static int get_pending(struct stream *st, double *v)
{
    struct stream_status ss;

    stream_status(st, &ss);
    *v = (double)ss.pending_batches;
    return 0;
}

static int get_last_delivery(struct stream *st, double *v)
{
    int64_t t = atomic_load(&stream_metrics(st)->last_delivery_ms);

    if (t == 0)
        return -1;
    *v = (double)t / 1000.0;
    return 0;
}

static int has_processing(struct stream *st)
{
    const struct cfg_stream *s = stream_cfg(st);

    return s->s3.processing.enabled && s->s3.processing.lua_script != NULL;
}

static int get_succeed_processing(struct stream *st, double *v)
{
    struct metrics_stream *m = stream_metrics(st);

    if (!has_processing(st))
        return -1;
    *v = (double)(metrics_get(&m->xform_ok) + metrics_get(&m->xform_dropped));
    return 0;
}

static int get_failed_processing(struct stream *st, double *v)
{
    if (!has_processing(st))
        return -1;
    *v = (double)metrics_get(&stream_metrics(st)->xform_failed);
    return 0;
}

static int get_invocations(struct stream *st, double *v)
{
    if (!has_processing(st))
        return -1;
    *v = (double)metrics_get(&stream_metrics(st)->xform_batches);
    return 0;
}

/* The Kinesis source's numbers, for KinesisStreamAsSource streams only. */
#define KINESIS_GET(fn, field) \
    static int fn(struct stream *st, double *v) \
    { \
        if (stream_cfg(st)->type != CFG_STREAM_KINESIS) \
            return -1; \
        *v = (double)atomic_load_explicit(&stream_metrics(st)->field, \
                                          memory_order_relaxed); \
        return 0; \
    }
KINESIS_GET(get_kin_read, kinesis_records_read)
KINESIS_GET(get_kin_calls, kinesis_get_records)
KINESIS_GET(get_kin_kpl, kinesis_kpl_failures)
KINESIS_GET(get_kin_oor, kinesis_out_of_range)
KINESIS_GET(get_kin_cps, kinesis_checkpoints)
KINESIS_GET(get_kin_leases, kinesis_leases)
KINESIS_GET(get_kin_behind, kinesis_millis_behind)

static const struct family families[] = {
    { "firehose_incoming_records_total", "counter",
      "Records accepted (IncomingRecords)", get_in_records, 0 },
    { "firehose_incoming_bytes_total", "counter",
      "Bytes accepted (IncomingBytes)", get_in_bytes, 0 },
    { "firehose_incoming_put_requests_total", "counter",
      "Successful PutRecord and PutRecordBatch calls (IncomingPutRequests)",
      get_in_requests, 0 },
    { "firehose_throttled_records_total", "counter",
      "Records refused: spool full or over DirectPutQuotas "
      "(ThrottledRecords)",
      get_throttled, 0 },
    { "firehose_spool_corrupt_records_total", "counter",
      "Spooled records lost to damage found at start, moved to the "
      "spool's corrupt/ directory (SpoolCorruptRecords)",
      get_corrupt_records, 0 },
    { "firehose_spool_corrupt_bytes_total", "counter",
      "Damaged spool bytes moved to the spool's corrupt/ directory at "
      "start (SpoolCorruptBytes)", get_corrupt_bytes, 0 },
    { "records_total", "counter",
      "Records delivered (DeliveryTo*.Records)", get_out_records, 1 },
    { "bytes_total", "counter",
      "Record bytes delivered, before compression (DeliveryTo*.Bytes)",
      get_out_bytes, 1 },
    { "success_total", "counter",
      "Objects stored: successful PUTs (DeliveryTo*.Success numerator)",
      get_out_objects, 1 },
    { "attempts_total", "counter",
      "PUT attempts including failed ones (DeliveryTo*.Success "
      "denominator)", get_attempts, 1 },
    { "firehose_delivery_failures_total", "counter",
      "Failed delivery attempts", get_failures, 0 },
    { "firehose_retries_total", "counter",
      "Delivery attempts that were retries", get_retries, 0 },
    { "firehose_delivery_data_freshness_seconds", "gauge",
      "Age of the oldest record not yet delivered, 0 when none "
      "(DeliveryTo*.DataFreshness)", get_freshness, 0 },
    { "firehose_spool_bytes", "gauge",
      "Bytes held in the stream's spool on disk", get_spool, 0 },
    { "firehose_buffered_records", "gauge",
      "Records waiting for their batch to be sealed", get_buffered, 0 },
    { "firehose_pending_batches", "gauge",
      "Sealed batches not yet delivered", get_pending, 0 },
    { "firehose_last_delivery_timestamp_seconds", "gauge",
      "Unix time of the last successful delivery", get_last_delivery, 0 },
    { "firehose_error_output_records_total", "counter",
      "Records written to the error output prefix", get_error_records, 0 },
    { "firehose_error_output_objects_total", "counter",
      "Objects written to the error output prefix", get_error_objects, 0 },
    { "firehose_backup_to_s3_records_total", "counter",
      "Source records written to S3BackupConfiguration "
      "(BackupToS3.Records)", get_backup_records, 0 },
    { "firehose_succeed_processing_records_total", "counter",
      "Records the transform returned Ok or Dropped "
      "(SucceedProcessing.Records)", get_succeed_processing, 0 },
    { "firehose_failed_processing_records_total", "counter",
      "Records the transform failed (ProcessingFailed)",
      get_failed_processing, 0 },
    { "firehose_execute_processing_invocations_total", "counter",
      "Transform invocations", get_invocations, 0 },
    { "firehose_data_read_from_kinesis_stream_records_total", "counter",
      "User records read from the Kinesis stream and spooled, KPL "
      "aggregates de-aggregated (DataReadFromKinesisStream.Records)",
      get_kin_read, 0 },
    { "firehose_kinesis_get_records_total", "counter",
      "GetRecords calls", get_kin_calls, 0 },
    { "firehose_kinesis_millis_behind_latest", "gauge",
      "Largest MillisBehindLatest of the shards read here "
      "(KinesisMillisBehindLatest)", get_kin_behind, 0 },
    { "firehose_kinesis_leases_owned", "gauge",
      "Shard leases this instance holds", get_kin_leases, 0 },
    { "firehose_kinesis_checkpoints_total", "counter",
      "Checkpoints written to the lease store", get_kin_cps, 0 },
    { "firehose_kinesis_kpl_decode_failures_total", "counter",
      "Records with the KPL magic whose MD5 or protobuf was bad, delivered "
      "raw", get_kin_kpl, 0 },
    { "firehose_kinesis_out_of_range_dropped_total", "counter",
      "KPL user records outside their shard's hash key range, dropped "
      "(OutOfRangeRecords drop)", get_kin_oor, 0 },
    { NULL, NULL, NULL, NULL, 0 }
};

static int stream_labels(struct buf *lb, const char *stream, struct err *e)
{
    lb->len = 0;
    return prom_label(lb, "stream", stream, e);
}

static int family_write(struct stream *const *streams, size_t n,
                        const struct family *f, struct buf *b,
                        struct buf *lb, struct err *e)
{
    static const char *const dests[] = {
        "s3", "local", "http_endpoint", "amazon_opensearch_service",
        "elasticsearch",
    };
    const size_t nd = sizeof(dests) / sizeof(dests[0]);
    char name[128];
    double v;

    for (size_t k = 0; k < (f->with_dest ? nd : 1u); k++) {
        if (f->with_dest)
            snprintf(name, sizeof(name), "firehose_delivery_to_%s_%s",
                     dests[k], f->name);
        else
            snprintf(name, sizeof(name), "%s", f->name);
        if (prom_family(b, name, f->type, f->help, e) != 0)
            return -1;
        for (size_t i = 0; i < n; i++) {
            const struct cfg_stream *s = stream_cfg(streams[i]);
            if (f->with_dest && strcmp(dest_name(s), dests[k]) != 0)
                continue;
            if (f->get(streams[i], &v) != 0)
                continue;
            if (stream_labels(lb, s->name, e) != 0 ||
                prom_sample(b, name, (const char *)lb->p, v, e) != 0)
                return -1;
        }
    }
    return 0;
}

static int histograms_write(struct stream *const *streams, size_t n,
                            struct buf *b, struct buf *lb, struct err *e)
{
    static const char *const ops[] = { "PutRecord", "PutRecordBatch" };
    const char *name = "firehose_put_request_duration_seconds";

    if (prom_family(b, name, "histogram", "PutRecord and PutRecordBatch "
                    "time to acknowledge (parse, spool, fsync)", e) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct stream *st = streams[i];
        struct metrics_stream *m = stream_metrics(st);
        for (size_t op = 0; op < 2; op++) {
            if (stream_labels(lb, stream_cfg(st)->name, e) != 0 ||
                prom_label(lb, "operation", ops[op], e) != 0 ||
                prom_hist_write(b, name, (const char *)lb->p,
                                &m->put_duration[op], e) != 0)
                return -1;
        }
    }
    name = "firehose_execute_processing_duration_seconds";
    if (prom_family(b, name, "histogram", "Time per transform invocation "
                    "(ExecuteProcessing.Duration)", e) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct stream *st = streams[i];
        if (!has_processing(st))
            continue;
        if (stream_labels(lb, stream_cfg(st)->name, e) != 0 ||
            prom_hist_write(b, name, (const char *)lb->p,
                            &stream_metrics(st)->
                                processing_duration, e) != 0)
            return -1;
    }
    return 0;
}

static int process_write(int64_t start_ms, struct buf *b, struct err *e)
{
    struct proc_stats p;

    proc_stats(&p);
    return prom_family(b, "process_resident_memory_bytes", "gauge",
                       "Resident memory size in bytes", e) ||
           prom_sample(b, "process_resident_memory_bytes", NULL, p.rss, e) ||
           prom_family(b, "process_virtual_memory_bytes", "gauge",
                       "Virtual memory size in bytes", e) ||
           prom_sample(b, "process_virtual_memory_bytes", NULL, p.vsz, e) ||
           prom_family(b, "process_open_fds", "gauge",
                       "Number of open file descriptors", e) ||
           prom_sample(b, "process_open_fds", NULL, p.open_fds, e) ||
           prom_family(b, "process_max_fds", "gauge",
                       "Maximum number of open file descriptors", e) ||
           prom_sample(b, "process_max_fds", NULL, p.max_fds, e) ||
           prom_family(b, "process_cpu_seconds_total", "counter",
                       "User and system CPU time spent in seconds", e) ||
           prom_sample(b, "process_cpu_seconds_total", NULL, p.cpu_s, e) ||
           prom_family(b, "process_start_time_seconds", "gauge",
                       "Start time of the process since the Unix epoch in "
                       "seconds", e) ||
           prom_sample(b, "process_start_time_seconds", NULL,
                       (double)start_ms / 1000.0, e) ? -1 : 0;
}

void metrics_reason(struct metrics_stream *m, const char *code, uint64_t n)
{
    struct metrics_reason *r = NULL;

    if (code == NULL || code[0] == '\0')
        code = "other";
    for (size_t i = 0; i < METRICS_REASONS && r == NULL; i++) {
        struct metrics_reason *s = &m->reasons[i];
        int free_slot = 0;
        if (atomic_load(&s->used) == 2) {
            if (strncmp(s->code, code, sizeof(s->code) - 1) == 0)
                r = s;
            continue;
        }
        /* Claim a free slot; a slot being filled by another thread is
         * skipped (at worst a code gets two slots, summed when shown). */
        if (atomic_compare_exchange_strong(&s->used, &free_slot, 1)) {
            snprintf(s->code, sizeof(s->code), "%s", code);
            atomic_store(&s->used, 2);
            r = s;
        }
    }
    if (r == NULL) {
        /* Table full: the last slot is taken over as "other". */
        r = &m->reasons[METRICS_REASONS - 1];
    }
    metrics_add(&r->count, n);
}

static int reasons_write(struct stream *const *streams, size_t n,
                         struct buf *b, struct buf *lb, struct err *e)
{
    const char *name = "firehose_delivery_failures_by_reason_total";

    if (prom_family(b, name, "counter", "Failed delivery attempts by the "
                    "destination's error code", e) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct metrics_stream *m = stream_metrics(streams[i]);
        for (size_t k = 0; k < METRICS_REASONS; k++) {
            struct metrics_reason *r = &m->reasons[k];
            if (atomic_load(&r->used) != 2)
                continue;
            if (stream_labels(lb, stream_cfg(streams[i])->name, e) != 0 ||
                prom_label(lb, "reason", r->code, e) != 0 ||
                prom_sample(b, name, (const char *)lb->p,
                            (double)metrics_get(&r->count), e) != 0)
                return -1;
        }
    }
    return 0;
}

int metrics_prometheus(struct stream *const *streams, size_t n,
                       int64_t start_ms, struct buf *out, struct err *e)
{
    struct buf lb = { NULL, 0, 0 };
    int rc = 0;

    for (const struct family *f = families; f->name && rc == 0; f++)
        rc = family_write(streams, n, f, out, &lb, e);
    if (rc == 0)
        rc = histograms_write(streams, n, out, &lb, e);
    if (rc == 0)
        rc = reasons_write(streams, n, out, &lb, e);
    if (rc == 0)
        rc = process_write(start_ms, out, e);
    buf_release(&lb);
    return rc;
}
