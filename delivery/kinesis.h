/* kinesis.h - the Kinesis Data Streams operations a consumer needs, over
 * awsjson (JSON 1.1, SigV4 "kinesis"): ListShards (paginated; NextToken
 * is sent alone, never with StreamName: kinesalite crashes otherwise),
 * GetShardIterator, GetRecords. Plus the sequence-number order. */
#ifndef FH_KINESIS_H
#define FH_KINESIS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "awsjson.h"
#include "err.h"

#define KINESIS_ID_MAX 64       /* shard ids are 20 characters */
#define KINESIS_SEQ_MAX 132     /* up to 129 digits */

struct kinesis_shard {
    char id[KINESIS_ID_MAX];
    char parent[KINESIS_ID_MAX];        /* "" = none */
    char adj_parent[KINESIS_ID_MAX];    /* "" = none (merge: the second) */
    char start_hk[40], end_hk[40];      /* decimal, inclusive */
    char start_seq[KINESIS_SEQ_MAX];
    char end_seq[KINESIS_SEQ_MAX];      /* "" = open */
};

/* Every shard of the stream (open and closed). *out is malloc'ed (caller
 * frees). rc as awsjson_call(). */
enum awsjson_rc kinesis_list_shards(struct awsjson *c, const char *stream,
                                    struct kinesis_shard **out, size_t *n,
                                    char *type, size_t type_size,
                                    struct err *e);

/* 'it_type': TRIM_HORIZON, LATEST, AT_TIMESTAMP (ts_ms), AT_ or
 * AFTER_SEQUENCE_NUMBER (seq). The iterator into out[size]. */
enum awsjson_rc kinesis_get_iterator(struct awsjson *c, const char *stream,
                                     const char *shard, const char *it_type,
                                     const char *seq, int64_t ts_ms,
                                     char *out, size_t size, char *type,
                                     size_t type_size, struct err *e);

/* One GetRecords reply. */
struct kinesis_batch {
    json_t *resp;               /* owned; kinesis_batch_release() */
    json_t *recs;               /* borrowed from resp */
    size_t n;
    const char *next;           /* NULL: the shard is closed and read */
    int64_t millis_behind;      /* -1: not given */
};
struct kinesis_rec {
    const char *seq;
    const char *pk;
    const char *data_b64;       /* base64 text */
    size_t data_b64_len;
    int64_t arrival_ms;
};
enum awsjson_rc kinesis_get_records(struct awsjson *c, const char *iter,
                                    int limit, struct kinesis_batch *b,
                                    char *type, size_t type_size,
                                    struct err *e);
/* Record i of b; -1 when malformed (missing fields). */
int kinesis_batch_rec(const struct kinesis_batch *b, size_t i,
                      struct kinesis_rec *r);
void kinesis_batch_release(struct kinesis_batch *b);

/* Decoded size of base64 text (an upper bound). */
size_t kinesis_b64_max(size_t len);
/* Standard base64 with padding into out; 0 with *n, or -1 if invalid. */
int kinesis_b64_decode(const char *s, size_t len, unsigned char *out,
                       size_t *n);

/* Compare two decimal sequence numbers numerically (<0, 0, >0). */
int kinesis_seq_cmp(const char *a, const char *b);

#endif
