/* metrics.h - per-stream counters, updated with relaxed atomics once per
 * request or per batch (never per record), read by the status API. */
#ifndef FH_METRICS_H
#define FH_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

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
    atomic_int_fast64_t  spool_bytes;
    atomic_int_fast64_t  oldest_undelivered_ms; /* arrival; 0 = none */
    atomic_int_fast64_t  last_delivery_ms;      /* wall clock; 0 = never */
};

static inline void metrics_add(atomic_uint_fast64_t *c, uint64_t v)
{
    atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static inline uint64_t metrics_get(atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

#endif
