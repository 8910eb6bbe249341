/* errdoc.h - Firehose's failed-record JSON documents, one per line, as
 * written to the error output (spec §2.4, §5.4, §6.3): processing-failed
 * (lambdaARN holds the Lua script name), partitioning failures, and the
 * destination-specific extras. */
#ifndef FH_ERRDOC_H
#define FH_ERRDOC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

struct errdoc {
    int attempts;                   /* attemptsMade */
    int64_t arrival_ms;             /* arrivalTimestamp */
    const char *code;               /* errorCode */
    const char *message;            /* errorMessage */
    size_t message_len;
    int64_t ending_ms;              /* attemptEndingTimestamp */
    const unsigned char *raw;       /* rawData: the original record */
    size_t raw_len;
    const char *lambda_arn;         /* lambdaARN, or NULL to leave it out */
    /* Destination-specific members, already JSON ("\"dataId\":\"..\""),
     * appended last; NULL for none. */
    const char *extra;
};

/* Append one JSON object and '\n' to out. */
int errdoc_append(struct buf *out, const struct errdoc *d, struct err *e);

#endif
