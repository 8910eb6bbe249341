/* metrics.h - per-stream counters, updated with relaxed atomics once per
 * request or per batch (never per record), read by the status API and
 * written out for Prometheus by metrics.c. */
#ifndef FH_METRICS_H
#define FH_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "err.h"
#include "prom.h"
#include "util.h"

enum metrics_put_op { METRICS_PUT_RECORD, METRICS_PUT_RECORD_BATCH };

#define METRICS_REASONS 16

struct metrics_stream {
    atomic_uint_fast64_t incoming_records;
    atomic_uint_fast64_t incoming_bytes;
    atomic_uint_fast64_t incoming_put_requests;
    atomic_uint_fast64_t throttled_records;
    atomic_uint_fast64_t delivered_records;
    atomic_uint_fast64_t delivered_bytes;      /* uncompressed record bytes */
    atomic_uint_fast64_t delivered_objects;
    atomic_uint_fast64_t delivery_attempts;
    atomic_uint_fast64_t delivery_failures;    /* failed attempts */
    atomic_uint_fast64_t retries;
    atomic_uint_fast64_t xform_ok;             /* records: Lua said Ok */
    atomic_uint_fast64_t xform_dropped;
    atomic_uint_fast64_t xform_failed;         /* ProcessingFailed + errors */
    atomic_uint_fast64_t xform_batches;        /* script invocations */
    atomic_uint_fast64_t xform_us;             /* time in scripts, µs */
    atomic_uint_fast64_t error_records;        /* written to error output */
    atomic_uint_fast64_t error_objects;
    atomic_uint_fast64_t backup_records;       /* source-record backup */
    /* Damage the spool's recovery moved to <spool>/corrupt/ at open. */
    atomic_uint_fast64_t spool_corrupt_records;
    atomic_uint_fast64_t spool_corrupt_bytes;
    /* Kinesis source (delivery/ksource.c). */
    atomic_uint_fast64_t kinesis_records_read;  /* user records spooled */
    atomic_uint_fast64_t kinesis_get_records;   /* GetRecords calls */
    atomic_uint_fast64_t kinesis_kpl_failures;  /* bad aggregates passed
                                                 * through raw */
    atomic_uint_fast64_t kinesis_out_of_range;  /* KPL records dropped by
                                                 * OutOfRangeRecords drop */
    atomic_uint_fast64_t kinesis_checkpoints;   /* checkpoint writes */
    atomic_int_fast64_t  kinesis_leases;        /* leases held now */
    atomic_int_fast64_t  kinesis_millis_behind; /* max over held shards */
    atomic_int_fast64_t  spool_bytes;
    atomic_int_fast64_t  oldest_undelivered_ms; /* arrival; 0 = none */
    atomic_int_fast64_t  last_delivery_ms;      /* wall clock; 0 = never */
    /* PutRecord / PutRecordBatch ack latency, by enum metrics_put_op. */
    struct prom_hist     put_duration[2];
    /* One Lua transform invocation (ExecuteProcessing.Duration). */
    struct prom_hist     processing_duration;
    /* Failed delivery attempts by the destination's error code (records
     * for record destinations, objects otherwise); the first
     * METRICS_REASONS codes get a slot, the rest count as "other". */
    struct metrics_reason {
        atomic_int used;            /* 0 free, 1 being filled, 2 ready */
        char code[64];
        atomic_uint_fast64_t count;
    } reasons[METRICS_REASONS];
};

static inline void metrics_add(atomic_uint_fast64_t *c, uint64_t v)
{
    atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static inline uint64_t metrics_get(atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Count n failures with error code 'code' (failure paths only: it
 * compares strings). Lock-free; zeroed memory is ready. */
void metrics_reason(struct metrics_stream *m, const char *code, uint64_t n);

struct stream;
/* GET /metrics: every stream's counters, gauges and histograms, then the
 * process_* metrics ('start_ms': when the service started, wall clock).
 * Appends to 'out'; -1 only for memory. */
int metrics_prometheus(struct stream *const *streams, size_t n,
                       int64_t start_ms, struct buf *out, struct err *e);

#endif
