/* strm.c - see strm.h. */
#include "strm.h"

#include <string.h>

#include "errdoc.h"

/* Backoff between delivery attempts: min(cap, base * 2^n) +- 15 %; the
 * cap is Firehose's 120 s for HTTP endpoints. */
#define BACKOFF_BASE_MS 1000
#define BACKOFF_CAP_MS 120000

void strm_publish_gauges(struct stream *st)
{
    struct spool_stats ss;

    spool_stats(st->spool, &ss);
    atomic_store_explicit(&st->m.spool_bytes, (int_fast64_t)ss.live_bytes,
                          memory_order_relaxed);
    atomic_store_explicit(&st->m.oldest_undelivered_ms,
                          ss.oldest_uncommitted_ms, memory_order_relaxed);
}

/* Sleep up to ms, waking early on stop. */
void strm_nap(struct stream *st, int64_t ms)
{
    int64_t until = util_mono_ms() + ms;

    while (!atomic_load(&st->stop)) {
        int64_t left = until - util_mono_ms();
        if (left <= 0)
            break;
        /* spool_wait also returns on appends; loop until the time is up. */
        spool_wait(st->spool, left > 200 ? 200 : (int)left);
    }
}

int64_t strm_backoff_ms(unsigned attempt)
{
    int64_t d = BACKOFF_BASE_MS;
    uint32_t r = 0;

    for (unsigned i = 0; i < attempt && d < BACKOFF_CAP_MS; i++)
        d *= 2;
    if (d > BACKOFF_CAP_MS)
        d = BACKOFF_CAP_MS;
    (void)util_random(&r, sizeof(r), NULL);
    /* uniform(0.85, 1.15) */
    return d * (850 + (int64_t)(r % 301)) / 1000;
}

/* The error type of an error output: the !{firehose:error-output-type}
 * value and the folder. */
const char *strm_errout_type(const struct cfg_stream *cfg, int kind)
{
    if (kind == ERROUT_PROCESSING)
        return "processing-failed";
    if (kind == ERROUT_PARTITIONING)
        /* Firehose's name for this folder is not documented (§4.5). */
        return "partitioning-failed";
    if (kind == ERROUT_DECOMPRESSION)
        return "decompression-failed";
    if (kind == ERROUT_ACTIVE_PARTITION)
        return "activePartitionExceeded";
    if (cfg->dest_kind == CFG_DEST_HTTP)
        return "http-endpoint-failed";
    return cfg->os.elasticsearch ? "elasticsearch-failed"
                                 : "AmazonOpenSearchService-failed";
}

/* One failed-record document into the error output of 'kind'. */
int strm_add_errdoc(struct worker *w, int kind, int64_t arrival_ms,
                    const unsigned char *raw, size_t raw_len, int attempts,
                    const char *code, const char *msg, size_t msg_len,
                    const char *extra, struct err *e)
{
    const struct cfg_processing *pc = &w->st->cfg->s3.processing;
    struct errdoc d = {
        .attempts = attempts,
        .arrival_ms = arrival_ms,
        .code = code,
        .message = msg,
        .message_len = msg_len,
        .ending_ms = util_now_ms(),
        .raw = raw,
        .raw_len = raw_len,
        /* Only the Lua transform's failures name a "function". */
        .lambda_arn = kind == ERROUT_PROCESSING && strncmp(code, "Lua.", 4)
                      == 0 ? pc->lua_script : NULL,
        .extra = extra,
    };

    if (errdoc_append(&w->errdocs[kind], &d, e) != 0)
        return -1;
    w->n_errdocs[kind]++;
    if (w->err_oldest_ms[kind] == 0 || arrival_ms < w->err_oldest_ms[kind])
        w->err_oldest_ms[kind] = arrival_ms;
    return 0;
}

/* A record of the processed list: when it arrived. */
int64_t strm_arrival(const struct worker *w, size_t i)
{
    return w->data.recs[w->list.r[i].src].arrival_ms;
}
