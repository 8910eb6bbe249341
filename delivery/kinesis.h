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

/* Records one GetRecords reply may hold (the API's Limit maximum). */
#define KINESIS_MAX_RECORDS 10000

/* One record of a GetRecords reply: views into the reply buffer. */
struct kinesis_rec {
    const char *seq;            /* decimal digits, NUL-terminated */
    const char *pk;             /* NUL-terminated (unescaped) */
    size_t pk_len;
    const unsigned char *data;  /* base64-decoded in place */
    size_t len;
    int64_t arrival_ms;         /* 0: not given */
};
/* One GetRecords reply. Zero it once; the recs array is kept and reused
 * from reply to reply (kinesis_batch_release() frees it). */
struct kinesis_batch {
    struct kinesis_rec *recs;
    size_t n, cap;
    const char *next;           /* NULL: the shard is closed and read */
    int64_t millis_behind;      /* -1: not given */
    size_t n_children;          /* ChildShards entries (a closed shard) */
};
/* GetRecords. b's records point into c's reply buffer: they stay valid
 * until c's next call. A reply that does not parse is RETRY with e
 * naming the flaw. */
enum awsjson_rc kinesis_get_records(struct awsjson *c, const char *iter,
                                    int limit, struct kinesis_batch *b,
                                    char *type, size_t type_size,
                                    struct err *e);
/* Parse a GetRecords reply body of 'len' bytes in place (the body is
 * modified: strings unescaped, Data decoded where it lies). No allocation
 * but the growth of b->recs. 0, or -1 with e (ERR_INVAL: a malformed
 * reply; ERR_NOMEM). */
int kinesis_parse_records(char *body, size_t len, struct kinesis_batch *b,
                          struct err *e);
void kinesis_batch_release(struct kinesis_batch *b);    /* frees recs */

#endif
