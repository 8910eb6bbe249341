/* dest.h - the destination vtable. A destination type is code (one per
 * kind of endpoint); a struct dest is one configured endpoint. The core
 * owns retry, backoff and backup: one deliver() call is one attempt, with
 * no sleeps and no retry loops. registry.c is the only place that knows
 * every type. */
#ifndef FH_DEST_H
#define FH_DEST_H

#include <stddef.h>
#include <stdint.h>

#include "../config/cfg.h"
#include "../delivery/err.h"
#include "reasons.h"

enum dest_status {
    DEST_OK,        /* the whole payload is stored */
    DEST_RETRY,     /* transient: the core retries with backoff */
    DEST_FAIL       /* permanent for this payload: the core backs it up */
};

/* One record, for destinations that take records (wants_records). */
struct payload_rec {
    const unsigned char *data;      /* the record after processing */
    size_t len;
    int64_t arrival_ms;             /* when the API accepted it, epoch ms */
    const char *id;                 /* stable per record across retries and
                                     * restarts, e.g. "<32 hex>"; at most
                                     * DEST_REC_ID_MAX bytes */
};

#define DEST_REC_ID_MAX 128



/* One object to store, or (wants_records) a set of records. Everything is
 * borrowed for the call.
 *
 * Record destinations (HTTP endpoint, OpenSearch) read recs, n_recs and
 * request_id and ignore key/data/len/content_encoding. Contract:
 *  - results has n_recs entries, provided by the core; deliver() writes
 *    every one of them, whatever it returns.
 *  - DEST_OK: every record is stored (all results OK).
 *  - DEST_RETRY: some results are DEST_RETRY (the rest OK or DEST_FAIL);
 *    DEST_FAIL: none is retryable, some are DEST_FAIL. 'e' sums it up.
 *  - The core calls deliver() again with only the records whose result was
 *    DEST_RETRY, with the same ids and the same request_id, until they are
 *    OK or the retry duration is spent; DEST_FAIL records (and RETRY ones
 *    left at the end) go to the backup with their code and msg.
 *  - request_id: a UUID made by the core from the batch id, the same on
 *    every attempt of the batch. The HTTP endpoint sends it as
 *    X-Amz-Firehose-Request-Id (a batch too big for one request gets one
 *    id per request, derived from it and the records' ids).
 *  - OpenSearch derives each document's _id from the record id
 *    (FIREHOSE_DEFAULT), so a retried document overwrites itself. */
struct payload {
    const char *key;                /* object key / relative file path */
    const unsigned char *data;      /* compressed object bytes */
    size_t len;
    const char *content_encoding;   /* "gzip" or NULL */
    uint32_t records;
    uint64_t raw_bytes;             /* uncompressed record bytes */
    /* wants_records destinations only: */
    const struct payload_rec *recs;
    size_t n_recs;
    const char *request_id;         /* "ed4acda5-034f-9f42-bba1-..." */
    struct dest_rec_result *results;    /* out: n_recs entries */
    struct dest_reasons *reasons;       /* where results' reasons go */
};


struct dest;

struct dest_type {
    const char *name;               /* "local", "s3", "http", ... */
    enum cfg_dest_kind kind;
    int wants_records;              /* 1: deliver() takes recs, not an
                                     * object (see struct payload) */
    int (*create)(struct dest *d, const struct cfg_stream *s,
                  const struct cfg_service *svc, struct err *e);
    enum dest_status (*deliver)(struct dest *d, const struct payload *p,
                                struct err *e);
    void (*destroy)(struct dest *d);    /* accepts a half-created d */
    /* Optional, all four or none: one object sent in parts while it is
     * being compressed (S3 multipart upload), driven by sink.c for objects
     * above d->part_threshold. begin() gets the payload without data (its
     * len 0); part() takes the next piece (borrowed for the call; every
     * piece but the last is d->part_size bytes); finish() stores the
     * object. Once begin() succeeded, a failed part() or finish(), or an
     * object that can't be completed, ends with abort(), which gives the
     * upload up on the server as far as it can (logging, not failing).
     * Each call is one request; together they are one deliver(). */
    enum dest_status (*begin)(struct dest *d, const struct payload *p,
                              struct err *e);
    enum dest_status (*part)(struct dest *d, const void *data, size_t n,
                             struct err *e);
    enum dest_status (*finish)(struct dest *d, struct err *e);
    void (*abort)(struct dest *d);
};

struct dest {
    const struct dest_type *type;
    char id[48];                    /* "s3:to-s3", in every log line */
    void *ctx;                      /* owned by the type */
    /* Set by create() of a type with begin/part/finish: objects larger
     * than part_threshold bytes go in parts of part_size bytes (0: never;
     * part_size <= part_threshold). */
    size_t part_threshold;
    size_t part_size;
};

/* The types; only registry.c lists them all. */
extern const struct dest_type dest_local;
extern const struct dest_type dest_s3;
extern const struct dest_type dest_http;
extern const struct dest_type dest_opensearch;

/* Create the destination a stream's config names. Caller frees. */
struct dest *dest_new(const struct cfg_stream *s,
                      const struct cfg_service *svc, struct err *e);
void dest_free(struct dest *d);     /* NULL is a no-op */

#endif
