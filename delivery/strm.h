/* strm.h - what a delivery stream's modules share (stream.c, strm_proc.c,
 * strm_rec.c, strm_obj.c): the insides of struct stream (stream.h) and of
 * its delivery workers, the per-batch views, groups and error outputs that
 * processing fills and delivery reads, and the helpers they all use
 * (backoff, naps that wake on stop, gauges, error documents). Nothing here
 * is for the rest of the program. */
#ifndef FH_STRM_H
#define FH_STRM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "../config/cfg.h"
#include "../destinations/codec.h"
#include "../destinations/dest.h"
#include "../destinations/sink.h"
#include "../transforms/jqx.h"
#include "../transforms/proc.h"
#include "../transforms/xform.h"
#include "err.h"
#include "metrics.h"
#include "pbuf.h"
#include "quota.h"
#include "source.h"
#include "spool.h"
#include "stream.h"
#include "util.h"

/* One delivery worker: it seals a batch, compresses it and stores it.
 * Several run per stream so that compression (the costly part) uses every
 * core; each owns its codec, destination handle and buffers, reused for
 * every batch. */
/* A record as it will be stored: original or transformed bytes. */
struct view {
    const unsigned char *data;      /* NULL: not stored (dropped, failed) */
    size_t len;
    int32_t next;                   /* next record of the same group */
    size_t keys_off, keys_len;      /* partition keys, in w->qkeys with
                                     * MetadataExtraction, else in the Lua
                                     * arena */
};

/* The error outputs a batch can produce, with Firehose's error types. */
enum { ERROUT_PROCESSING, ERROUT_PARTITIONING, ERROUT_DEST,
       ERROUT_DECOMPRESSION, ERROUT_ACTIVE_PARTITION, ERROUT_N };

/* Records that share partition keys (all of them without dynamic
 * partitioning) make one object. */
struct group {
    const char *keys;               /* "name\0value\0"..., in the arena; with
                                     * MetadataExtraction Lua's, "\0", the
                                     * query's */
    size_t keys_len;
    int32_t head, tail;
    uint32_t count;
    uint64_t bytes;
    int64_t oldest_ms;
};

struct worker {
    struct stream *st;
    pthread_t thread;
    int started;
    struct dest *dest;
    struct codec *codec;
    struct spool_data data;
    struct sink *sink;              /* compresses and stores objects */

    /* Processing; all reused from batch to batch. */
    struct proc *proc;              /* NULL: no built-in pre-Lua stage */
    struct proc_list list;          /* the batch's records after them */
    struct jqx *jq;                 /* NULL: no MetadataExtraction */
    struct buf qkeys;               /* partition keys with MetadataExtraction */
    struct xform *xf;               /* NULL: no Lua processor */
    struct xform_in *xin;
    struct xform_out *xout;
    char *ids;                      /* 33 bytes per record */
    struct buf arena;               /* script output */
    struct view *views;             /* what to store, per record */
    size_t cap;                     /* records the arrays above hold */
    struct group *groups;           /* one object per partition */
    size_t n_groups, groups_cap;
    struct buf errdocs[ERROUT_N];   /* error outputs, NDJSON */
    uint32_t n_errdocs[ERROUT_N];
    int64_t err_oldest_ms[ERROUT_N];

    /* Record destinations (HTTP endpoint, OpenSearch) and their backup
     * bucket (S3Configuration), which also takes their error outputs. */
    struct dest *backup;
    struct codec *bcodec;
    struct sink *bsink;
    struct payload_rec *precs;      /* the records still to send */
    struct dest_rec_result *res;    /* one attempt's results */
    struct dest_rec_result *last;   /* per record: its latest result */
    struct dest_reasons reasons;    /* why, for res and last */
    int32_t *pidx;                  /* payload index -> record index */
    uint16_t *tries;                /* attempts per record */
    /* Kinesis-sourced streams: each record's metadata, pointing into
     * data.raw (see kinesis_unwrap()). */
    struct xform_kinesis *kin;
    size_t kin_cap;
};

/* Records in one batch that is read whole (not streamed); see
 * stream_open(). */
#define STRM_MAX_WHOLE_RECORDS 50000u

struct stream {
    const struct cfg_stream *cfg;
    const struct cfg_service *svc;
    struct spool *spool;
    struct metrics_stream m;
    struct quota quota;         /* DirectPutQuotas, taken by the API */
    char who[96];
    int64_t created_ms;
    atomic_int stop;

    /* The spool takes seal, read and commit from one thread at a time;
     * workers take turns with this lock (never held while compressing or
     * delivering). */
    pthread_mutex_t sched;
    uint64_t in_flight;         /* batches sealed and not committed yet */
    atomic_int draining;        /* seal whatever is there (stream_drain) */
    struct worker *workers;
    size_t n_workers;
    uint32_t max_batch_records;     /* seal at most this many; 0 = any */
    /* HTTP/OpenSearch: S3Configuration seen as an S3 stream, for the
     * backup destination. */
    struct cfg_stream backup_cfg;
    struct source *src;             /* where records come from */
    /* Dynamic partitioning to S3 / local: each partition's buffer, across
     * batches; under 'sched'. NULL otherwise (one object per batch). */
    struct pbuf *pb;
};

/* The stream's gauges (spool bytes, oldest undelivered) from the spool. */
void strm_publish_gauges(struct stream *st);
/* Sleep up to ms, waking early on stop. */
void strm_nap(struct stream *st, int64_t ms);
/* The wait before retry 'attempt' (0 = the first): doubling from 1 s up
 * to 120 s, +- 15 %. */
int64_t strm_backoff_ms(unsigned attempt);
/* The error type of error output 'kind' (ERROUT_*): the folder and the
 * !{firehose:error-output-type} value. */
const char *strm_errout_type(const struct cfg_stream *cfg, int kind);
/* One failed-record document (all borrowed, copied) into w's error output
 * of 'kind'. */
int strm_add_errdoc(struct worker *w, int kind, int64_t arrival_ms,
                    const unsigned char *raw, size_t raw_len, int attempts,
                    const char *code, const char *msg, size_t msg_len,
                    const char *extra, struct err *e);
/* Record i of w->list (the processed batch): when it arrived. */
int64_t strm_arrival(const struct worker *w, size_t i);

#endif
