/* awsjson.h - a client for AWS JSON-RPC services (Kinesis: JSON 1.1,
 * DynamoDB: JSON 1.0): POST / with X-Amz-Target, SigV4-signed, the reply
 * parsed with jansson. Errors come back classified so that callers can
 * tell "retry later" from "the condition failed" from "fix the config".
 * One client per thread (it owns a curl handle). */
#ifndef FH_AWSJSON_H
#define FH_AWSJSON_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

struct awsjson;

struct awsjson_opts {
    const char *endpoint;       /* "http(s)://host[:port]"; copied */
    const char *region;         /* copied */
    const char *service;        /* signing name: "kinesis", "dynamodb" */
    const char *target_prefix;  /* "Kinesis_20131202", "DynamoDB_20120810" */
    const char *content_type;   /* "application/x-amz-json-1.1" */
    long timeout_ms;
};

/* Loads credentials from the standard chain (awscred.h): -1 when there are
 * none, since both services refuse unsigned requests. */
struct awsjson *awsjson_new(const struct awsjson_opts *o, struct err *e);
void awsjson_free(struct awsjson *c);           /* NULL is a no-op */

enum awsjson_rc {
    AWSJSON_OK = 0,
    AWSJSON_RETRY,          /* network, 5xx, throttling: back off, retry */
    AWSJSON_ERROR           /* a 4xx the service named in 'type' */
};

/* Call 'op' with 'req' (borrowed). OK: *resp is the reply (caller
 * decrefs; an empty object for an empty body). ERROR/RETRY: 'type' holds
 * the error code without its prefix ("ConditionalCheckFailedException",
 * "" for network errors) and e the message. */
enum awsjson_rc awsjson_call(struct awsjson *c, const char *op,
                             json_t *req, json_t **resp, char *type,
                             size_t type_size, struct err *e);

/* As awsjson_call, but an OK reply is left unparsed for the one hot
 * call, GetRecords, which kinesis.c parses in place without jansson:
 * *body (*len bytes) is the client's own reply buffer, writable, valid
 * until the client's next call. */
enum awsjson_rc awsjson_call_raw(struct awsjson *c, const char *op,
                                 json_t *req, char **body, size_t *len,
                                 char *type, size_t type_size,
                                 struct err *e);

/* Is this error code throttling (retry with backoff)? */
int awsjson_is_throttle(const char *type);

#endif
