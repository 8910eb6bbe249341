/* ksource.h - the Kinesis Data Streams source of a KinesisStreamAsSource
 * delivery stream. One coordinator thread per stream drives the leases
 * (lease.h: renew, take, steal, checkpoint; shard sync creates leases for
 * new shards), and one reader thread per held shard (kreader.h) polls
 * GetRecords, de-aggregates KPL records (kpl.h) and appends them with
 * their Kinesis metadata (kenv.h) to the stream's spool.
 *
 * Checkpoints follow delivery: each append's last spool sequence number is
 * remembered with its Kinesis (sequence, sub-sequence) position; a
 * shard's checkpoint moves to the newest position whose spool records
 * are all committed (spool_committed_below()). Memory is bounded: a shard
 * stops reading while it has KREADER_MAX_INFLIGHT appends not yet
 * committed, or while the spool is full. */
#ifndef FH_KSOURCE_H
#define FH_KSOURCE_H

#include "source.h"

extern const struct source_type ksource_type;

#endif
