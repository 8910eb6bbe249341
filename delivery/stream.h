/* stream.h - one delivery stream at run time: its spool, its destination
 * and the scheduler thread that seals batches by BufferingHints (size or
 * interval), compresses them, delivers with retry and backoff, and commits
 * them to the spool only once stored. Producers call stream_put(). */
#ifndef FH_STREAM_H
#define FH_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../config/cfg.h"
#include "../transforms/xform.h"
#include "err.h"
#include "metrics.h"

struct stream;

/* Opens (and recovers) the spool under <StateDirectory>/<name> and creates
 * the destination and, for a Lua processor, each worker's script instance
 * from 'xh'. 'cfg', 'svc' and 'xh' are borrowed for the stream's life; 'xh'
 * may be NULL when the stream has no Lua processor. */
int stream_open(const struct cfg_stream *cfg, const struct cfg_service *svc,
                struct xform_host *xh, struct stream **out, struct err *e);
/* Does this stream run a Lua script? */
int stream_uses_lua(const struct cfg_stream *cfg);
/* Starts the delivery workers, then the stream's source (Kinesis). */
int stream_start(struct stream *st, struct err *e);
/* Stops the scheduler after the attempt in flight; data stays spooled.
 * Then frees. NULL is a no-op. */
void stream_free(struct stream *st);

/* From now on seal whatever is buffered without waiting for the
 * BufferingHints (a stream being deleted delivers what it holds). */
void stream_drain(struct stream *st);

/* Accept records: durable in the spool when this returns 0. Fills the
 * first record's id number (the rest follow). ERR_FULL = backpressure. */
int stream_put(struct stream *st, const struct iovec *recs, size_t n,
               uint64_t *first_seq, struct err *e);

const struct cfg_stream *stream_cfg(const struct stream *st);
struct metrics_stream *stream_metrics(struct stream *st);
/* DirectPutQuotas (quota.h); producers call quota_take() before
 * stream_put(). */
struct quota *stream_quota(struct stream *st);
uint64_t stream_incarnation(const struct stream *st);
int64_t stream_created_ms(const struct stream *st);

/* Buffer state for status output. */
struct stream_status {
    uint64_t spool_bytes;
    uint64_t buffered_records;      /* not yet in a batch */
    uint64_t buffered_bytes;
    uint64_t pending_batches;
    int64_t oldest_undelivered_ms;  /* arrival; 0 = none */
};
void stream_status(struct stream *st, struct stream_status *out);

/* Every record appended with a lower id is delivered or backed up (what
 * a Kinesis source checkpoints by; spool_committed_below()). */
uint64_t stream_committed_below(struct stream *st);
/* The source's members for /api/status (",\"Kinesis\":{...}"), appended
 * to b; nothing for Direct PUT. */
int stream_source_json(struct stream *st, struct buf *b, struct err *e);

#endif
