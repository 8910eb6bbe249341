/* jscan.h - strict, allocation-free parser for the two hot Firehose calls,
 * PutRecord and PutRecordBatch. It works in place: JSON string escapes and
 * base64 are decoded inside the request body buffer itself (decoded bytes
 * are never longer than their text), and the records come back as iovecs
 * pointing into that buffer. Everything else on the API uses jansson.
 *
 * Unknown members are skipped (after a full syntax check), as AWS's JSON
 * services do. */
#ifndef FH_JSCAN_H
#define FH_JSCAN_H

#include <stddef.h>
#include <sys/uio.h>

#include "err.h"

#define JSCAN_MAX_RECORDS 500
#define JSCAN_MAX_RECORD_BYTES 1024000u
#define JSCAN_MAX_BATCH_BYTES (4u * 1024u * 1024u)

/* What failed, as the Firehose error type the API must answer with. */
enum jscan_error {
    JSCAN_OK = 0,
    JSCAN_SERIALIZATION,        /* SerializationException: not JSON, bad base64, wrong type */
    JSCAN_VALIDATION,           /* ValidationException: model constraints */
    JSCAN_INVALID_ARGUMENT      /* InvalidArgumentException: > 4 MiB */
};

struct jscan_put {
    const char *stream;         /* points into the body, NUL-terminated there */
    size_t stream_len;
    struct iovec recs[JSCAN_MAX_RECORDS];
    size_t n;
    size_t bytes;               /* sum of decoded record lengths */
};

/* Parse a PutRecord ('batch' = 0: {"DeliveryStreamName","Record":{"Data"}})
 * or PutRecordBatch ('batch' = 1: {"DeliveryStreamName","Records":[...]})
 * body of 'len' bytes. The body is modified. Returns JSCAN_OK, or the error
 * type with a Firehose-style message in e->msg (e->code = ERR_INVAL). */
enum jscan_error jscan_parse_put(char *body, size_t len, int batch,
                                 struct jscan_put *out, struct err *e);

#endif
