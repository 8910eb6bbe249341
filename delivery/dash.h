/* dash.h - the operations view of a running firehosed: a sampler thread
 * that keeps 15 minutes of per-stream rates (a ring of samples derived from
 * the counters in metrics.h), the last 50 errors, and the read-only HTTP
 * routes built on them: GET / and /dashboard (one self-contained page),
 * GET /api/status (JSON) and GET /metrics (Prometheus text 0.0.4).
 * Nothing here ever sees record data. */
#ifndef FH_DASH_H
#define FH_DASH_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#include "../config/cfg.h"
#include "err.h"
#include "log.h"
#include "stream.h"
#include "streams.h"
#include "util.h"

#define DASH_SAMPLE_MS 5000     /* one sample per stream every 5 s */
#define DASH_HISTORY   180      /* samples kept: 15 minutes */
#define DASH_ERRORS    50       /* errors kept, newest first */

struct dash;

/* One sample of one stream; rates are over the interval that ends at t_ms,
 * counts are what happened during it. */
struct dash_point {
    int64_t t_ms;               /* wall clock */
    double in_records_s;
    double in_bytes_s;
    double out_records_s;       /* delivered */
    double out_bytes_s;
    double throttled_s;
    double freshness_s;         /* age of the oldest undelivered record */
    uint64_t spool_bytes;
    uint64_t retries;
    uint64_t failures;          /* failed delivery attempts */
    uint64_t objects;           /* objects delivered */
};

struct dash_error {
    int64_t t_ms;               /* wall clock of the latest occurrence */
    uint32_t count;             /* identical errors in a row, folded */
    int level;                  /* enum log_level */
    char stream[80];            /* "" when not about one stream */
    char stage[24];             /* "api", "delivery", "spool", ... */
    char msg[512];
};

/* 'set' (walked under its read lock) and 'svc' are borrowed for the
 * dash's life. */
int dash_new(const struct cfg_service *svc, struct streams *set,
             struct dash **out, struct err *e);
/* Where the status of a stream's Lua script comes from (the transforms
 * host: xform_host_status() has this shape with ctx = the host). Set before
 * dash_start(); without it the status shows only the counters. */
typedef void dash_script_fn(void *ctx, const char *script, unsigned *version,
                            char *last_error, size_t n);
void dash_set_script_status(struct dash *d, dash_script_fn *fn, void *ctx);
/* Takes a first sample and starts the sampler thread. */
int dash_start(struct dash *d, struct err *e);
/* Stops the sampler thread, if it runs. NULL is a no-op. */
void dash_stop(struct dash *d);
/* Stops the sampler and frees. NULL is a no-op. */
void dash_free(struct dash *d);

/* One sample of every stream at 'now_ms' (the thread passes the clock;
 * tests pass their own). The first call only sets the baseline. */
void dash_sample(struct dash *d, int64_t now_ms);
/* Copies the samples of the i-th stream of the set (name order), oldest
 * first, into out (max); returns how many there are. */
size_t dash_history(struct dash *d, size_t i, struct dash_point *out,
                    size_t max);

/* Record an error for the list. Thread-safe, no allocation, a few hundred
 * bytes copied under a mutex; a repeat of the newest entry (same stream,
 * stage and message) only bumps its count and time. 'stream' may be NULL.
 * NULL 'd' is a no-op. */
void dash_error(struct dash *d, int level, const char *stream,
                const char *stage, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* A log_hook_fn (see log.h) that records WARN/ERROR events, taking the
 * stream and stage from the component: "dest:s3:NAME" is stage "delivery"
 * of stream NAME, "stream:NAME" stage "stream", "api" stage "api". */
void dash_log_hook(void *ctx, enum log_level lvl, const char *who,
                   const char *text);
/* Copies the newest errors first into out (max); returns how many. */
size_t dash_errors(struct dash *d, struct dash_error *out, size_t max);
uint64_t dash_errors_total(struct dash *d);

/* GET /api/status and GET /metrics bodies, appended to 'out'. */
int dash_status_json(struct dash *d, struct buf *out, struct err *e);
int dash_metrics(struct dash *d, struct buf *out, struct err *e);

/* Serves GET/HEAD 'url' if it is one of the dashboard routes; 'scratch' is
 * the connection's reusable buffer. Returns an MHD_Result, or -1 when the
 * url is not ours. */
int dash_serve(struct dash *d, struct MHD_Connection *mc, const char *url,
               struct buf *scratch);

#endif
