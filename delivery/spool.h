/* spool.h - durable, append-only record log of one delivery stream, in one
 * directory. Producers are acknowledged only after spool_append() returns,
 * i.e. after the records are durable (fdatasync, group commit: one sync
 * covers every append waiting at that moment) or, with fsync off, written
 * to the kernel. Records stay on disk until spool_commit() says the batch
 * that holds them was delivered or backed up; then whole segments are
 * deleted (their space freed a few MiB at a time, trim.h).
 *
 * Layout: <dir>/spool.id (random 64-bit incarnation, made once),
 * <dir>/<16-hex first seq>.seg (segments, each a header then records with a
 * CRC32 each), <dir>/batches.log (batch boundaries and commits). Batch
 * boundaries are journaled (and synced) before spool_seal() returns, so a
 * batch keeps its id and its records across crashes (DESIGN.md, 2).
 *
 * Threads: any number of appenders; one scheduler thread calls seal, read
 * and commit. */
#ifndef FH_SPOOL_H
#define FH_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "err.h"
#include "util.h"

struct spool;

/* Largest record, in data bytes: a Kinesis record (1 MiB with its
 * partition key) in its envelope (kenv.h). Direct PUT keeps Firehose's
 * 1,000 KiB limit itself (jscan.h). */
#define SPOOL_MAX_RECORD (1048576 + 65536)

struct spool_opts {
    const char *dir;            /* created if missing */
    const char *name;           /* for log lines: "spool:<name>" */
    int fsync;                  /* 1: ack after fdatasync; 0: after write */
    uint64_t max_bytes;         /* live bytes on disk; above it ERR_FULL;
                                 * 0 = no limit */
    uint64_t segment_bytes;     /* roll over to a new segment; 0 = 64 MiB */
};

/* Open or recover. Recovery validates every record, cuts a torn tail of
 * the newest segment (logged), and restores sealed but uncommitted
 * batches. Damaged bytes anywhere else are copied to
 * <dir>/corrupt/<segment>.<offset>.bad (never removed by us), logged with
 * the counts and the path, counted in spool_stats(), and taken out of the
 * segment; the valid records after them are kept. */
int spool_open(const struct spool_opts *o, struct spool **out, struct err *e);
/* Closes files; data stays. NULL is a no-op. Appenders must be gone. */
void spool_close(struct spool *sp);

/* Append n records (the iovecs are copied) with one arrival time, all or
 * none. Blocks until durable. Returns 0 and the first record's sequence
 * number (the rest follow: first+1, ...). ERR_FULL when the spool would
 * pass max_bytes or the disk is full (nothing is kept then); ERR_INVAL for
 * n == 0 or a record above SPOOL_MAX_RECORD; ERR_IO for other write
 * errors, and for every append after a failed fdatasync (the spool then
 * refuses writes until it is reopened, since the kernel may have dropped
 * the pages). */
int spool_append(struct spool *sp, const struct iovec *recs, size_t n,
                 int64_t arrival_ms, uint64_t *first_seq, struct err *e);

/* Random id of this spool, fixed at creation; with a seq it makes record
 * ids unique across spools and re-creations. */
uint64_t spool_incarnation(const struct spool *sp);

/* live_bytes: segment bytes from the oldest uncommitted record to the end
 * of the newest segment (committed batches after an uncommitted one still
 * count). Disk use is at most this plus one segment plus the journal, plus
 * removed segments whose space is still being given back (trim.h: at most
 * TRIM_MAX_QUEUED + 1 of them, for well under a second each).
 * "Unsealed" counts only records a seal may take: durable ones with fsync
 * on. oldest_unsealed_ms is the arrival of the first unsealed record in
 * seq order, lowered by any later append that arrived earlier. */
struct spool_stats {
    uint64_t live_bytes;            /* on disk, not yet committed */
    uint64_t unsealed_records;      /* appended, not in any batch yet */
    uint64_t unsealed_bytes;        /* their data bytes */
    int64_t  oldest_unsealed_ms;    /* arrival of the oldest; 0 = none */
    int64_t  oldest_uncommitted_ms; /* arrival of the oldest; 0 = none */
    uint64_t pending_batches;       /* sealed, not committed */
    /* Damage that recovery moved aside at open: ranges, their bytes, and
     * the records lost (by the gap in seqs; 1 for the unknown count at
     * the end of the newest segment). */
    uint64_t corrupt_ranges;
    uint64_t corrupt_bytes;
    uint64_t corrupt_records;
};
void spool_stats(struct spool *sp, struct spool_stats *st);
/* How many group fdatasync rounds ran since open (for tests and metrics). */
uint64_t spool_sync_count(struct spool *sp);

/* Sleep until something is appended, spool_wake() is called, or timeout_ms
 * passes. */
void spool_wait(struct spool *sp, int timeout_ms);
void spool_wake(struct spool *sp);

struct spool_batch {
    uint64_t id;                /* unique within the spool, never reused */
    uint64_t first_seq;
    uint64_t last_seq;          /* inclusive */
    uint32_t count;
    uint64_t bytes;             /* sum of record data lengths */
    int64_t  oldest_arrival_ms;
};

/* The next batch to deliver: first any sealed, uncommitted batch not yet
 * handed out since open (recovery, in order), else a new batch of unsealed
 * records in order, adding records while the total stays <= max_bytes (at
 * least one record) and, unless max_records is 0, the count <= max_records.
 * Returns 1 with *b filled, 0 when there is nothing, -1 on error. A new
 * batch's boundaries are durable before this returns. With fsync on, only
 * records already fdatasync'ed are sealed. */
int spool_seal(struct spool *sp, uint64_t max_bytes, uint32_t max_records,
               struct spool_batch *b, struct err *e);

struct spool_rec {
    uint64_t seq;
    int64_t arrival_ms;
    const unsigned char *data;  /* points into spool_data.raw */
    uint32_t len;
};

/* A reusable read buffer: no allocation per record or per batch once it
 * has grown to the largest batch. Owned by the caller. */
struct spool_data {
    struct buf raw;
    struct spool_rec *recs;
    size_t n;
    size_t cap;
};
void spool_data_release(struct spool_data *d);

/* Read a sealed batch's records into d (replacing what it held). */
int spool_read(struct spool *sp, const struct spool_batch *b,
               struct spool_data *d, struct err *e);

/* Where a windowed read of a batch is; zero it to start (again). */
struct spool_cursor {
    int started;
    uint64_t seg, off;          /* the next byte to read */
    uint64_t read;              /* batch bytes read so far */
    uint64_t left;              /* of them, a partial record kept in raw */
    uint32_t recs;              /* records returned so far */
    uint64_t prev_seq;
};

/* Read the next records of a sealed batch into d, about max_bytes at a
 * time (always at least one whole record), so that a batch far larger than
 * memory should hold can be streamed: 1 with d->n >= 1 records, 0 after
 * the last one, -1 on error (a record that fails its checksum, a batch
 * that does not match). The records point into d->raw and stay valid
 * until the next call; d must not be used for anything else meanwhile. */
int spool_read_window(struct spool *sp, const struct spool_batch *b,
                      struct spool_cursor *c, size_t max_bytes,
                      struct spool_data *d, struct err *e);

/* The batch was delivered or backed up: journal it and free every segment
 * whose records are all committed. Batches may be committed in any order.
 * The commit line is not synced: if a crash loses it, the batch comes back
 * with the same id and is delivered again under the same key.
 * ERR_NOTFOUND if the batch is not pending. */
int spool_commit(struct spool *sp, const struct spool_batch *b,
                 struct err *e);

/* Every record with a sequence number below the returned one is
 * committed (delivered or backed up). Any thread; what a Kinesis source
 * checkpoints by. After a recovery that lost records it may be lower than
 * the truth, never higher. */
uint64_t spool_committed_below(struct spool *sp);

#endif
