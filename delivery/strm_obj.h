/* strm_obj.h - a delivery worker's batch delivery: processing, then each
 * group stored as one object through the sink, retried until stored (or
 * sent to a record destination, strm_rec.h), the source backup and the
 * error outputs, then the batch committed to the spool. With dynamic
 * partitioning, groups go to their partitions' buffers (pbuf.h) and batches
 * are committed when their last partition is stored. Big batches that need
 * no processing stream from the spool a window at a time. */
#ifndef FH_STRM_OBJ_H
#define FH_STRM_OBJ_H

#include "strm.h"

/* Process and store the sealed batch 'b', read into w->data. 0 when
 * committed, -1 when stopping (or out of memory) with the batch still
 * pending. */
int strm_obj_deliver_batch(struct worker *w, const struct spool_batch *b);
/* May this worker's batches be streamed at all: each becomes one object
 * of its records as they are (with the delimiter at most), i.e. no
 * script, no built-in processor, no partitioning, no source backup, not
 * Kinesis, an object destination? */
int strm_obj_can_stream(const struct worker *w);
/* Should sealed batch 'b' (not read yet) be streamed? */
int strm_obj_streamable(const struct worker *w, const struct spool_batch *b);
/* strm_obj_deliver_batch() for a streamable batch: 0, or -1 when stopping
 * or its key can't be made. */
int strm_obj_deliver_streamed(struct worker *w, const struct spool_batch *b);
/* Dynamic partitioning: store one partition buffer that is due (any, when
 * draining). 1 when one was handled, 0 when none is due, -1 when stopping. */
int strm_obj_flush_due(struct worker *w);
/* Shutdown, workers joined: store what the partition buffers hold, one
 * attempt each, for a few seconds at most. */
void strm_obj_flush_at_stop(struct worker *w);

#endif
