/* ship.h - batches of records for one delivery stream, sent with
 * PutRecordBatch (JSON 1.1, SigV4-signed for service "firehose" when there
 * are credentials) through the shared libcurl client. The request body is
 * built in place as records arrive (base64 written straight into one
 * buffer reserved at init), so adding a record never allocates. A record
 * that comes back failed stays in the batch for the next attempt; the
 * caller owns the retry loop and the backoff. */
#ifndef FH_SHIP_H
#define FH_SHIP_H

#include <stddef.h>
#include <stdint.h>

#include "../delivery/awscred.h"
#include "../delivery/err.h"
#include "../delivery/util.h"

#define SHIP_MAX_RECORDS 500u

/* What the caller attaches to a record: where it came from. */
struct ship_tag {
    uint32_t    file;
    uint32_t    gen;
    uint64_t    end;        /* file offset just past the record */
};

struct ship_batch {
    struct buf      body;   /* {"DeliveryStreamName":..,"Records":[ ... */
    struct buf      alt;    /* the next attempt's body, when some failed */
    size_t          head_len;
    size_t          max_records;
    size_t          max_bytes;
    size_t          n;      /* records added */
    size_t          bytes;  /* their raw bytes */
    size_t          n_body; /* records in 'body' (not acknowledged yet) */
    int64_t         first_ms;           /* util_mono_ms() of the first */
    struct ship_tag tags[SHIP_MAX_RECORDS];
    unsigned char   acked[SHIP_MAX_RECORDS];
    uint16_t        idx[SHIP_MAX_RECORDS];  /* body entry -> record */
    uint32_t        jbeg[SHIP_MAX_RECORDS]; /* body entry's JSON text */
    uint32_t        jend[SHIP_MAX_RECORDS];
};

/* 'stream' is copied into the body. max_records <= 500, max_bytes <= 4 MiB
 * (raw bytes, as Firehose counts). */
int ship_batch_init(struct ship_batch *b, const char *stream,
                    size_t max_records, size_t max_bytes, struct err *e);
void ship_batch_release(struct ship_batch *b);
void ship_batch_reset(struct ship_batch *b);
/* Whether a record of n raw bytes fits now. */
int ship_batch_fits(const struct ship_batch *b, size_t n);
/* Append one record made of p1[0..n1) and p2[0..n2) (p2 may be NULL);
 * -1 with ERR_FULL when it does not fit (see ship_batch_fits). */
int ship_batch_add(struct ship_batch *b, const void *p1, size_t n1,
                   const void *p2, size_t n2, const struct ship_tag *tag,
                   struct err *e);

struct ship_client;

/* 'endpoint' like "http://127.0.0.1:4573" (copied); 'cred' NULL sends
 * unsigned requests, else it is copied. */
struct ship_client *ship_client_new(const char *endpoint, const char *region,
                                    const struct awscred *cred,
                                    struct err *e);
void ship_client_free(struct ship_client *c);      /* NULL is a no-op */

enum ship_result {
    SHIP_OK,        /* every record acknowledged */
    SHIP_PARTIAL,   /* some came back failed; only those are left */
    SHIP_RETRY,     /* the call failed as a whole: connection, 5xx, throttled */
    SHIP_FAIL       /* the endpoint refused the call (4xx): e says why */
};

/* One PutRecordBatch attempt with the records not acknowledged yet.
 * 'timeout_ms' bounds the whole request. */
enum ship_result ship_send(struct ship_client *c, struct ship_batch *b,
                           long timeout_ms, struct err *e);

/* Parse a PutRecordBatch answer that should hold 'expect' entries: sets
 * failed[i] for every entry with an ErrorCode, *n_failed, and the first
 * error code and message into 'why' (may be ""). -1 with ERR_INVAL when
 * the answer is not that shape. Allocation-free. */
int ship_parse_response(const char *p, size_t n, size_t expect,
                        unsigned char *failed, size_t *n_failed, char *why,
                        size_t why_size, struct err *e);

#endif
