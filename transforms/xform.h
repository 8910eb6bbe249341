/* xform.h - Lua transforms: Firehose's Lambda data-transformation contract
 * (Ok / Dropped / ProcessingFailed per record, partition keys) run by Lua
 * 5.4 scripts found in the transforms directory.
 *
 * A script never stops the service: each runs in a sandbox (no io, no
 * os.execute/popen, no debug, loadfile/dofile/require only inside the
 * transforms directory plus cjson and the "firehose" helper module), under
 * a per-batch instruction budget and a per-state memory cap. A script that
 * fails to (re)load keeps the previous version running. Files are watched
 * (inotify) and reloaded between batches.
 *
 * Threads: one struct xform_host per process (thread-safe); one struct
 * xform per worker thread per script, never shared, so the per-record path
 * takes no lock. */
#ifndef FH_XFORM_H
#define FH_XFORM_H

#include <stddef.h>
#include <stdint.h>

#include "../delivery/err.h"
#include "../delivery/util.h"

struct xform_host;
struct xform;

struct xform_limits {
    uint64_t instructions;      /* per batch attempt, counted in Lua VM
                                 * instructions; 0 = default 100,000,000 */
    size_t memory_bytes;        /* per lua_State; 0 = default 64 MiB */
    int retries;                /* NumberOfRetries: whole-batch retries of
                                 * runtime errors, timeouts and memory
                                 * failures, taken as is (0 = one attempt);
                                 * < 0 = default 3 */
};

/* 'dir' is borrowed for the host's life. Starts watching it (inotify; when
 * that is unavailable, polling the scripts' stat every 2 s, with a
 * warning). -1 when 'dir' is not a readable directory. Free every xform
 * before the host. */
struct xform_host *xform_host_new(const char *dir, struct err *e);
void xform_host_free(struct xform_host *h);     /* NULL is a no-op */

/* Load check for start-up: the script exists, compiles and defines a
 * global function transform. -1 with a message naming file and reason. */
int xform_host_check(struct xform_host *h, const char *script,
                     struct err *e);

/* Status of a script for the status API: loaded version (1, 2, ... per
 * successful load), last load error ("" when none). Copies into caller
 * buffers. */
void xform_host_status(struct xform_host *h, const char *script,
                       unsigned *version, char *last_error, size_t n);

/* A worker's instance of one script. */
struct xform *xform_new(struct xform_host *h, const char *script,
                        const struct xform_limits *lim, struct err *e);
void xform_free(struct xform *x);               /* NULL is a no-op */

/* Kinesis source metadata (NULL for Direct PUT). */
struct xform_kinesis {
    const char *shard_id;
    const char *partition_key;
    const char *sequence_number;
    uint64_t subsequence_number;
    int64_t approximate_arrival_ms;
};

struct xform_in {
    const char *id;                 /* record id (opaque, unique in batch) */
    const unsigned char *data;
    size_t len;
    int64_t arrival_ms;
    const struct xform_kinesis *kinesis;
};

enum xform_result { XFORM_OK, XFORM_DROPPED, XFORM_FAILED };

/* Per record. data/keys/msg live in the 'arena' buffer passed to
 * xform_run(): valid until the next xform_run() with that arena. Use the
 * offsets (arena may move while it grows); xform_ptr() resolves them. */
struct xform_out {
    enum xform_result result;
    size_t data_off, data_len;      /* Ok: the new data (unchanged data is
                                     * copied too) */
    size_t keys_off, keys_len;      /* partition keys, "name\0value\0"...;
                                     * keys_len 0 = none */
    const char *error_code;         /* FAILED: "Lua.ProcessingFailedStatus",
                                     * "Lua.RuntimeError", "Lua.Timeout",
                                     * "Lua.MemoryLimitExceeded",
                                     * "Lua.InvalidResult" (static strings) */
    size_t msg_off, msg_len;        /* FAILED: the message, in the arena */
    int attempts;                   /* attempts made for this record */
};

/* Run the script over n records (one call of transform() per record),
 * retrying the whole batch on runtime errors and timeouts. Always fills
 * out[0..n) (failures are results, not errors); returns -1 only when out
 * of memory for the arena.
 *
 * The arena is the call's own: its earlier contents are dropped (len
 * starts at 0), and capacity far above what this batch needs (left by a
 * batch that was much larger, or that a script expanded) is given back,
 * so a worker's arena follows its current batch, not the largest ever. */
int xform_run(struct xform *x, const struct xform_in *in, size_t n,
              struct xform_out *out, struct buf *arena, struct err *e);

/* Resolve an xform_out's offsets against the arena it was produced in. */
static inline const unsigned char *xform_ptr(const struct buf *arena,
                                             size_t off)
{
    return arena->p + off;
}

/* The value of partition key 'name' in a "name\0value\0" list, or NULL.
 * Keys are sorted by name (bytewise), so equal key sets compare equal. */
const char *xform_key(const char *keys, size_t len, const char *name);

/* Append Firehose's processing-failed document for a FAILED result, one
 * JSON object and '\n' (fields attemptsMade, arrivalTimestamp, errorCode,
 * errorMessage, attemptEndingTimestamp, rawData = base64 of 'raw', the
 * ORIGINAL record, lambdaARN = the script name). 'arena' is the one 'o'
 * was produced in. -1 with ERR_NOMEM. */
int xform_failed_json(struct buf *out, const struct xform_out *o,
                      const struct buf *arena, const unsigned char *raw,
                      size_t raw_len, int64_t arrival_ms, int64_t ending_ms,
                      const char *script, struct err *e);

#endif
