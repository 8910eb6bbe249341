/* jscan.h - strict, allocation-free parser for the two hot Firehose calls,
 * PutRecord and PutRecordBatch. It works in place: JSON string escapes and
 * base64 are decoded inside the request body buffer itself (decoded bytes
 * are never longer than their text), and the records come back as iovecs
 * pointing into that buffer. Everything else on the API uses jansson.
 * The scanner under it is exposed too (struct jscan, below) for the other
 * hot body we parse, the GetRecords reply (kinesis.c).
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

/* The scanner itself, for in-place parsers of other hot bodies (kinesis.c:
 * GetRecords replies). A cursor over a writable buffer: strings are
 * unescaped and base64 decoded where they lie. The first failure latches
 * (type JSCAN_SERIALIZATION, message in *e when e is not NULL, e->code
 * ERR_INVAL); every function returns -1 on failure. */
struct jscan {
    char *p;
    char *end;
    struct err *e;              /* borrowed; may be NULL */
    enum jscan_error err;
};
void jscan_init(struct jscan *s, char *buf, size_t len, struct err *e);
/* Latch a failure with a printf-style message; once one is latched, the
 * message goes in front of it as context ("record 3: Data must be a
 * string: Expected a JSON string"). Returns -1. */
int jscan_fail(struct jscan *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Walk an object: *first = 1 before the first call, at its '{'. 1 with
 * the member's key (unescaped, NUL-terminated in place) and the cursor at
 * its value, which the caller must consume; 0 past the closing '}'. */
int jscan_member(struct jscan *s, int *first, char **key, size_t *klen);
/* Walk an array the same way: 1 at an element, 0 past the ']'. */
int jscan_element(struct jscan *s, int *first);
/* The next non-blank byte (not consumed), -1 at the end. */
int jscan_peek(struct jscan *s);
/* A string value, unescaped and NUL-terminated in place. */
int jscan_string(struct jscan *s, char **out, size_t *len);
/* 1 when the value is null (consumed), 0 when it is something else. */
int jscan_null(struct jscan *s);
/* A number value, checked; its text (not NUL-terminated) in text/len. */
int jscan_number(struct jscan *s, char **text, size_t *len);
/* Any value, syntax-checked and skipped (nesting is capped at 64). */
int jscan_skip(struct jscan *s);
/* Strict standard base64 (padded) of p[0..n) decoded over itself. */
int jscan_b64(struct jscan *s, char *p, size_t n, size_t *outlen);
/* Only blanks may follow the value. */
int jscan_end(struct jscan *s);

#endif
