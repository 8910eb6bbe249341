/* keys.h - Firehose's S3 object key layout and the Prefix /
 * ErrorOutputPrefix expression language (!{timestamp:...},
 * !{firehose:random-string}, !{firehose:error-output-type},
 * !{partitionKeyFromQuery:k}, !{partitionKeyFromLambda:k}).
 *
 * Keys are deterministic: the "random" parts are derived from a batch id
 * hash, so re-delivering the same batch writes the same key (DESIGN.md,
 * guarantee 2). Times are the oldest record's arrival, UTC or the given
 * IANA zone. */
#ifndef FH_KEYS_H
#define FH_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "../delivery/err.h"

/* Check one Prefix / ErrorOutputPrefix pair with Firehose's rules (spec
 * §4.3: syntax, known namespaces, timestamp patterns, error-output-type only
 * in the error prefix, error prefix required when the prefix has
 * expressions, no "//", length <= 1024). 'dynamic_partitioning'
 * allows partitionKeyFrom* in the Prefix and then requires it there, and
 * requires an ErrorOutputPrefix. NULL means "". Only "!{" is special: a
 * lone '}' or '{' is literal text; a leading '/' is accepted. Timestamp
 * patterns: y to yyyy (yy: two digits), M MM, d dd, H HH, m mm, s ss,
 * D to DDD, 'quoted text' and ''; other letters, longer runs and
 * [ ] # { } are rejected. 0 or -1 with a message
 * naming which prefix and the offending expression (ERR_INVAL). */
int keys_validate(const char *prefix, const char *error_prefix,
                  int dynamic_partitioning, struct err *e);

/* Check a CustomTimeZone: "", NULL and "UTC" are UTC, anything else must
 * name a TZif file under /usr/share/zoneinfo ("Asia/Tokyo"). 0 or -1
 * (ERR_INVAL: unknown or malformed zone, ERR_IO: unreadable). */
int keys_validate_time_zone(const char *time_zone, struct err *e);

/* Everything needed to name one object. */
struct keys_ctx {
    const char *prefix;         /* Prefix or ErrorOutputPrefix as configured */
    int is_error;               /* 1: evaluate as the error output */
    const char *error_type;     /* "processing-failed", ... when is_error */
    const char *stream;         /* delivery stream name */
    const char *version;        /* stream VersionId, "1" */
    int64_t arrival_ms;         /* oldest record's arrival */
    uint64_t batch_hash;        /* seeds the random parts */
    const char *ext;            /* ".gz", "" */
    const char *time_zone;      /* "" or NULL = UTC */
    /* Partition keys for !{partitionKeyFrom*:k}; NULL when none. Looked up
     * by name; a missing key is an error (ERR_INVAL). */
    const char *(*partition_key)(void *arg, int from_lambda,
                                 const char *name);
    void *partition_arg;
};

/* Full object key into 'out' (NUL-terminated): evaluated prefix (with the
 * default "yyyy/MM/dd/HH/" appended by plain concatenation when the prefix,
 * Prefix or ErrorOutputPrefix alike, has no timestamp expression, and for
 * an empty error prefix "<Prefix><error-type>/yyyy/MM/dd/HH/"), then
 * "<stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid-from-hash><ext>".
 * Every time in the key is arrival_ms in time_zone. The random string of
 * the n-th !{firehose:random-string} and the UUID are functions of
 * batch_hash only: give each object of a batch its own hash.
 * 'error_fallback_prefix' is the stream's Prefix, used when is_error and the
 * error prefix is empty (pass NULL otherwise). -1 with ERR_INVAL when the
 * evaluated prefix (before the default time folders) exceeds 512
 * characters, a partition key is missing, the zone is unknown or 'out' is
 * too small. Reads the zone file once per call when time_zone is set;
 * thread-safe (no TZ environment games). */
int keys_object_key(const struct keys_ctx *k, const char *error_fallback_prefix,
                    char *out, size_t outsz, struct err *e);

#endif
