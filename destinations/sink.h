/* sink.h - one delivery attempt of one batch as one object: records ->
 * codec -> destination. An object that stays at or below the destination's
 * part_threshold once compressed is stored by one deliver(); a larger one
 * (S3 multipart) is sent in part_size pieces while it is being compressed,
 * so a worker holds about part_threshold bytes of output whatever the
 * object's size. A failed streamed upload is aborted; the next attempt
 * starts it again from the first record. One sink per worker; it owns and
 * reuses its buffers. */
#ifndef FH_SINK_H
#define FH_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "../delivery/err.h"
#include "codec.h"
#include "dest.h"

struct sink;

/* The object's records, in order; everything borrowed for the call. */
struct sink_records {
    /* 1 and the next record's bytes in *p, *len (first = 1: start from
     * the first record again; every attempt reads them all); 0 after the
     * last record; -1 when they can't be read (the attempt fails, nothing
     * is stored). */
    int (*next)(void *arg, int first, const void **p, size_t *len);
    void *arg;
    int newline;                /* AppendDelimiterToRecord: '\n' after each */
};

struct sink *sink_new(struct err *e);
void sink_free(struct sink *s);                 /* NULL is a no-op */

/* One attempt to store 'r' as the object meta->key (meta's key, records
 * and raw_bytes are used; data, len and content_encoding are the sink's).
 * A retry with the same key (keys derive from batch ids: the same batch)
 * reuses an object the previous attempt kept in memory instead of
 * compressing again. Compression failures are DEST_RETRY with 'e' saying
 * so. 'd' and 'c' are borrowed. */
enum dest_status sink_deliver(struct sink *s, struct dest *d,
                              struct codec *c, const struct sink_records *r,
                              const struct payload *meta, struct err *e);

/* About the last attempt, for logs and tests. */
struct sink_stats {
    uint64_t object_bytes;      /* compressed size (so far, if it failed) */
    uint32_t parts;             /* parts sent; 0 = one deliver() */
    size_t peak_buffer;         /* most output bytes held at once */
};
void sink_stats(const struct sink *s, struct sink_stats *out);

#endif
