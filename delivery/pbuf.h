/* pbuf.h - per-partition buffers of a dynamic-partitioning stream. The
 * processed records of each distinct key set accumulate across spool
 * batches in their own buffer (copied in), and a buffer is handed out for
 * delivery as one object when it reaches the size hint, when its first
 * record has waited the interval, when all buffers together pass a byte
 * cap (largest first), or at drain. A spool batch becomes ready to commit
 * only when it is ended and every buffer holding any of its records was
 * delivered (reference counts), so a crash never loses a record that a
 * buffer held.
 *
 * Pure logic: no clock (times are passed in), no I/O, no locking (the
 * caller serialises every call; a taken buffer belongs to its taker until
 * pbuf_done()). Buffers and their arenas are recycled: no allocation per
 * record once they have grown. */
#ifndef FH_PBUF_H
#define FH_PBUF_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "spool.h"

struct pbuf;
struct pbuf_part;

struct pbuf_opts {
    uint64_t size_bytes;        /* a buffer is full at this (SizeInMBs) */
    int64_t interval_ms;        /* and due this long after its first
                                 * record (IntervalInSeconds) */
    uint64_t cap_bytes;         /* all buffered bytes; above it the largest
                                 * buffer is due early */
    size_t max_partitions;      /* open buffers (MaxActivePartitions) */
};

/* Every option must be > 0. */
int pbuf_new(const struct pbuf_opts *o, struct pbuf **out, struct err *e);
/* Frees everything, taken buffers included. NULL is a no-op. */
void pbuf_free(struct pbuf *pb);

/* Start adding the records of batch b (copied). The batch is held until
 * pbuf_batch_end() and until every buffer it contributed to is done.
 * *slot names it for pbuf_add() and pbuf_batch_end(). */
int pbuf_batch_begin(struct pbuf *pb, const struct spool_batch *b,
                     int *slot, struct err *e);

/* Append one record (data copied) of the batch in 'slot' to the buffer of
 * these keys (copied; compared as bytes), opening one if none is open.
 * 'tag' identifies the record (its spool seq and sub-record) for the
 * buffer's content hash; arrival_ms dates the object. A full buffer
 * (size_bytes) is closed first and a new one opened, so an object only
 * passes size_bytes when a single record does. ERR_FULL when a new buffer
 * would pass max_partitions (nothing added); ERR_NOMEM. */
int pbuf_add(struct pbuf *pb, int slot, const void *keys, size_t keys_len,
             const void *data, size_t len, int64_t arrival_ms, uint64_t tag,
             int64_t now_ms, struct err *e);

/* Every record of the batch was added (or the batch is given up on: its
 * buffers still hold it until done). */
void pbuf_batch_end(struct pbuf *pb, int slot);

/* A buffer due for delivery at now_ms (full, interval passed, over the
 * cap; with 'all', every non-empty one), taken out of the open set so
 * that new records of its keys open a new buffer; NULL when none is due.
 * The caller delivers it and calls pbuf_done(). */
struct pbuf_part *pbuf_take(struct pbuf *pb, int64_t now_ms, int all);

/* The taken buffer was delivered: its batches lose a reference and it is
 * recycled (p is invalid afterwards). */
void pbuf_done(struct pbuf *pb, struct pbuf_part *p);

/* A batch that is ended and no longer held by any buffer: 1 with *b
 * filled (its slot is freed), 0 when none. Commit it. */
int pbuf_ready(struct pbuf *pb, struct spool_batch *b);

/* How long until the next open buffer's interval is up at now_ms: 0 when
 * one is due now, -1 when no buffer is open. */
int64_t pbuf_next_due(const struct pbuf *pb, int64_t now_ms);

/* What a taken buffer holds. */
struct pbuf_info {
    const void *keys;
    size_t keys_len;
    uint32_t count;             /* records */
    uint64_t bytes;             /* their data bytes */
    int64_t oldest_ms;          /* earliest arrival */
    uint64_t first_batch;       /* id of the batch of its first record */
    uint64_t hash;              /* of the keys and every record's tag, in
                                 * order: the same contents give the same
                                 * hash (object keys, DESIGN.md 2) */
};
void pbuf_info(const struct pbuf_part *p, struct pbuf_info *out);
/* Record i (< count), in the order added. */
void pbuf_rec(const struct pbuf_part *p, uint32_t i, const void **data,
              size_t *len);

/* Gauges: bytes in every buffer (open and taken), open buffers. */
uint64_t pbuf_bytes(const struct pbuf *pb);
size_t pbuf_open_count(const struct pbuf *pb);

#endif
