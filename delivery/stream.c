#include "stream.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../destinations/codec.h"
#include "../destinations/dest.h"
#include "../destinations/keys.h"
#include "../destinations/sink.h"
#include "../transforms/jqx.h"
#include "../transforms/proc.h"
#include "../transforms/xform.h"
#include "errdoc.h"
#include "kenv.h"
#include "log.h"
#include "pbuf.h"
#include "quota.h"
#include "source.h"
#include "spool.h"
#include "util.h"

/* Backoff between delivery attempts: min(cap, base * 2^n) +- 15 %; the
 * cap is Firehose's 120 s for HTTP endpoints. */
#define BACKOFF_BASE_MS 1000
#define BACKOFF_CAP_MS 120000
/* Dynamic partitioning: records are sealed out of the spool at this
 * cadence (or at SizeInMBs) whatever the interval, since each partition
 * keeps its own interval in its buffer (pbuf.h). A seal journals one line,
 * so a few per second cost little. */
#define DP_SEAL_MS 500
/* At shutdown the partition buffers are stored (one attempt each) for at
 * most this long; what is left comes back from the spool at the next
 * start. */
#define DP_STOP_FLUSH_MS 5000

/* One delivery worker: it seals a batch, compresses it and stores it.
 * Several run per stream so that compression (the costly part) uses every
 * core; each owns its codec, destination handle and buffers, reused for
 * every batch. */
/* A record as it will be stored: original or transformed bytes. */
struct view {
    const unsigned char *data;      /* NULL: not stored (dropped, failed) */
    size_t len;
    int32_t next;                   /* next record of the same group */
    size_t keys_off, keys_len;      /* partition keys, in w->qkeys with
                                     * MetadataExtraction, else in the Lua
                                     * arena */
};

/* The error outputs a batch can produce, with Firehose's error types. */
enum { ERROUT_PROCESSING, ERROUT_PARTITIONING, ERROUT_DEST,
       ERROUT_DECOMPRESSION, ERROUT_ACTIVE_PARTITION, ERROUT_N };

/* Records that share partition keys (all of them without dynamic
 * partitioning) make one object. */
struct group {
    const char *keys;               /* "name\0value\0"..., in the arena; with
                                     * MetadataExtraction Lua's, "\0", the
                                     * query's */
    size_t keys_len;
    int32_t head, tail;
    uint32_t count;
    uint64_t bytes;
    int64_t oldest_ms;
};

struct worker {
    struct stream *st;
    pthread_t thread;
    int started;
    struct dest *dest;
    struct codec *codec;
    struct spool_data data;
    struct sink *sink;              /* compresses and stores objects */

    /* Processing; all reused from batch to batch. */
    struct proc *proc;              /* NULL: no built-in pre-Lua stage */
    struct proc_list list;          /* the batch's records after them */
    struct jqx *jq;                 /* NULL: no MetadataExtraction */
    struct buf qkeys;               /* partition keys with MetadataExtraction */
    struct xform *xf;               /* NULL: no Lua processor */
    struct xform_in *xin;
    struct xform_out *xout;
    char *ids;                      /* 33 bytes per record */
    struct buf arena;               /* script output */
    struct view *views;             /* what to store, per record */
    size_t cap;                     /* records the arrays above hold */
    struct group *groups;           /* one object per partition */
    size_t n_groups, groups_cap;
    struct buf errdocs[ERROUT_N];   /* error outputs, NDJSON */
    uint32_t n_errdocs[ERROUT_N];
    int64_t err_oldest_ms[ERROUT_N];

    /* Record destinations (HTTP endpoint, OpenSearch) and their backup
     * bucket (S3Configuration), which also takes their error outputs. */
    struct dest *backup;
    struct codec *bcodec;
    struct sink *bsink;
    struct payload_rec *precs;      /* the records still to send */
    struct dest_rec_result *res;    /* one attempt's results */
    struct dest_rec_result *last;   /* per record: its latest result */
    struct dest_reasons reasons;    /* why, for res and last */
    int32_t *pidx;                  /* payload index -> record index */
    uint16_t *tries;                /* attempts per record */
    /* Kinesis-sourced streams: each record's metadata, pointing into
     * data.raw (see kinesis_unwrap()). */
    struct xform_kinesis *kin;
    size_t kin_cap;
};

struct stream {
    const struct cfg_stream *cfg;
    const struct cfg_service *svc;
    struct spool *spool;
    struct metrics_stream m;
    struct quota quota;         /* DirectPutQuotas, taken by the API */
    char who[96];
    int64_t created_ms;
    atomic_int stop;

    /* The spool takes seal, read and commit from one thread at a time;
     * workers take turns with this lock (never held while compressing or
     * delivering). */
    pthread_mutex_t sched;
    uint64_t in_flight;         /* batches sealed and not committed yet */
    atomic_int draining;        /* seal whatever is there (stream_drain) */
    struct worker *workers;
    size_t n_workers;
    /* HTTP/OpenSearch: S3Configuration seen as an S3 stream, for the
     * backup destination. */
    struct cfg_stream backup_cfg;
    struct source *src;             /* where records come from */
    /* Dynamic partitioning to S3 / local: each partition's buffer, across
     * batches; under 'sched'. NULL otherwise (one object per batch). */
    struct pbuf *pb;
};

static void worker_release(struct worker *w)
{
    dest_free(w->dest);
    codec_free(w->codec);
    spool_data_release(&w->data);
    sink_free(w->sink);
    xform_free(w->xf);
    proc_free(w->proc);
    proc_list_release(&w->list);
    jqx_free(w->jq);
    buf_release(&w->qkeys);
    free(w->xin);
    free(w->xout);
    free(w->ids);
    buf_release(&w->arena);
    free(w->views);
    free(w->groups);
    for (int k = 0; k < ERROUT_N; k++)
        buf_release(&w->errdocs[k]);
    dest_free(w->backup);
    codec_free(w->bcodec);
    sink_free(w->bsink);
    free(w->precs);
    free(w->res);
    free(w->last);
    dest_reasons_release(&w->reasons);
    free(w->pidx);
    free(w->tries);
    free(w->kin);
}

int stream_uses_lua(const struct cfg_stream *cfg)
{
    return cfg->s3.processing.enabled && cfg->s3.processing.lua_script;
}

int stream_open(const struct cfg_stream *cfg, const struct cfg_service *svc,
                struct xform_host *xh, struct stream **out, struct err *e)
{
    struct stream *st;
    struct spool_opts so;
    char dir[4096];

    *out = NULL;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    st->cfg = cfg;
    st->svc = svc;
    st->created_ms = util_now_ms();
    pthread_mutex_init(&st->sched, NULL);
    quota_init(&st->quota, &cfg->quotas, util_mono_ms() * 1000);
    snprintf(st->who, sizeof(st->who), "stream:%s", cfg->name);
    if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", svc->state_dir,
                         cfg->name) >= sizeof(dir)) {
        err_set(e, ERR_INVAL, "StateDirectory '%s' is too long",
                svc->state_dir);
        goto fail;
    }
    memset(&so, 0, sizeof(so));
    so.dir = dir;
    so.name = cfg->name;
    so.fsync = svc->durability_fsync;
    so.max_bytes = svc->max_spool_bytes;
    if (spool_open(&so, &st->spool, e) != 0)
        goto fail;
    {
        struct spool_stats ss;

        spool_stats(st->spool, &ss);
        metrics_add(&st->m.spool_corrupt_records, ss.corrupt_records);
        metrics_add(&st->m.spool_corrupt_bytes, ss.corrupt_bytes);
    }
    st->n_workers = svc->delivery_workers > 0 ? (size_t)svc->delivery_workers
                                              : 1;
    st->workers = calloc(st->n_workers, sizeof(*st->workers));
    if (st->workers == NULL) {
        err_set(e, ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < st->n_workers; i++) {
        struct worker *w = &st->workers[i];
        w->st = st;
        w->codec = codec_new(cfg->s3.compression,
                             cfg->s3.compression_level ?
                             cfg->s3.compression_level : -1, e);
        if (w->codec == NULL)
            goto fail;
        w->dest = dest_new(cfg, svc, e);
        if (w->dest == NULL)
            goto fail;
        w->sink = sink_new(e);
        if (w->sink == NULL)
            goto fail;
        if (w->dest->type->wants_records || cfg->s3.source_backup) {
            st->backup_cfg = *cfg;
            st->backup_cfg.dest_kind = CFG_DEST_S3;
            st->backup_cfg.s3 = cfg->backup;
            w->backup = dest_new(&st->backup_cfg, svc, e);
            if (w->backup == NULL)
                goto fail;
            snprintf(w->backup->id, sizeof(w->backup->id), "backup:%s",
                     cfg->name);
            w->bcodec = codec_new(cfg->backup.compression, -1, e);
            if (w->bcodec == NULL || (w->bsink = sink_new(e)) == NULL)
                goto fail;
        }
        if (proc_wanted(&cfg->s3.processing) &&
            (w->proc = proc_new(&cfg->s3.processing, e)) == NULL)
            goto fail;
        if (cfg->s3.processing.enabled && cfg->s3.processing.jq_query &&
            cfg->s3.dynamic_partitioning &&
            (w->jq = jqx_new(cfg->s3.processing.jq_query, e)) == NULL)
            goto fail;
        if (stream_uses_lua(cfg)) {
            struct xform_limits lim = {
                .instructions = svc->lua_instructions,
                .memory_bytes = (size_t)svc->lua_memory_bytes,
                .retries = cfg->s3.processing.lua_retries,
            };
            if (xh == NULL) {
                err_set(e, ERR_INVAL, "stream '%s' names a Lua script but "
                        "no transforms host was started", cfg->name);
                goto fail;
            }
            w->xf = xform_new(xh, cfg->s3.processing.lua_script, &lim, e);
            if (w->xf == NULL)
                goto fail;
        }
    }
    if (cfg->s3.dynamic_partitioning &&
        !st->workers[0].dest->type->wants_records) {
        struct pbuf_opts po = {
            .size_bytes = (uint64_t)cfg->s3.buffering.size_mb << 20,
            .interval_ms = (int64_t)cfg->s3.buffering.interval_s * 1000,
            .cap_bytes = cfg->s3.partition_buffer_bytes,
            .max_partitions = (size_t)cfg->s3.max_active_partitions,
        };
        if (pbuf_new(&po, &st->pb, e) != 0)
            goto fail;
    }
    if (source_open(cfg, svc, st, &st->src, e) != 0)
        goto fail;
    *out = st;
    return 0;
fail:
    stream_free(st);
    return -1;
}

const struct cfg_stream *stream_cfg(const struct stream *st)
{
    return st->cfg;
}

struct metrics_stream *stream_metrics(struct stream *st)
{
    return &st->m;
}

struct quota *stream_quota(struct stream *st)
{
    return &st->quota;
}

uint64_t stream_incarnation(const struct stream *st)
{
    return spool_incarnation(st->spool);
}

int64_t stream_created_ms(const struct stream *st)
{
    return st->created_ms;
}

int stream_put(struct stream *st, const struct iovec *recs, size_t n,
               uint64_t *first_seq, struct err *e)
{
    size_t bytes = 0;

    for (size_t i = 0; i < n; i++)
        bytes += recs[i].iov_len;
    if (spool_append(st->spool, recs, n, util_now_ms(), first_seq, e) != 0) {
        if (e->code == ERR_FULL)
            metrics_add(&st->m.throttled_records, n);
        return -1;
    }
    metrics_add(&st->m.incoming_records, n);
    metrics_add(&st->m.incoming_bytes, bytes);
    metrics_add(&st->m.incoming_put_requests, 1);
    spool_wake(st->spool);
    return 0;
}

void stream_status(struct stream *st, struct stream_status *out)
{
    struct spool_stats ss;

    spool_stats(st->spool, &ss);
    out->spool_bytes = ss.live_bytes;
    out->buffered_records = ss.unsealed_records;
    out->buffered_bytes = ss.unsealed_bytes;
    out->pending_batches = ss.pending_batches;
    out->oldest_undelivered_ms = ss.oldest_uncommitted_ms;
}

static void publish_gauges(struct stream *st)
{
    struct spool_stats ss;

    spool_stats(st->spool, &ss);
    atomic_store_explicit(&st->m.spool_bytes, (int_fast64_t)ss.live_bytes,
                          memory_order_relaxed);
    atomic_store_explicit(&st->m.oldest_undelivered_ms,
                          ss.oldest_uncommitted_ms, memory_order_relaxed);
}

/* Sleep up to ms, waking early on stop. */
static void nap(struct stream *st, int64_t ms)
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

static int64_t backoff_ms(unsigned attempt)
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
static const char *errout_type(const struct cfg_stream *cfg, int kind)
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

/* Grow the per-record arrays to hold n records. */
static int reserve_records(struct worker *w, size_t n, struct err *e)
{
    size_t cap = w->cap ? w->cap : 1024;
    void *p;

    if (n <= w->cap)
        return 0;
    while (cap < n)
        cap *= 2;
    if ((p = realloc(w->views, cap * sizeof(*w->views))) == NULL)
        goto nomem;
    w->views = p;
    if (w->xf != NULL) {
        if ((p = realloc(w->xin, cap * sizeof(*w->xin))) == NULL)
            goto nomem;
        w->xin = p;
        if ((p = realloc(w->xout, cap * sizeof(*w->xout))) == NULL)
            goto nomem;
        w->xout = p;
    }
    if (w->xf != NULL || w->dest->type->wants_records) {
        if ((p = realloc(w->ids, cap * 33)) == NULL)
            goto nomem;
        w->ids = p;
    }
    if (w->dest->type->wants_records) {
        if ((p = realloc(w->precs, cap * sizeof(*w->precs))) == NULL)
            goto nomem;
        w->precs = p;
        if ((p = realloc(w->res, cap * sizeof(*w->res))) == NULL)
            goto nomem;
        w->res = p;
        if ((p = realloc(w->last, cap * sizeof(*w->last))) == NULL)
            goto nomem;
        w->last = p;
        if ((p = realloc(w->pidx, cap * sizeof(*w->pidx))) == NULL)
            goto nomem;
        w->pidx = p;
        if ((p = realloc(w->tries, cap * sizeof(*w->tries))) == NULL)
            goto nomem;
        w->tries = p;
    }
    w->cap = cap;
    return 0;
nomem:
    return err_set(e, ERR_NOMEM, "out of memory for a batch of %zu records",
                   n);
}

/* The group for these partition keys, made if new. Groups are few (one
 * without dynamic partitioning), and consecutive records tend to share
 * keys, so the last group found is tried first. NULL with ERR_FULL when a
 * new group would pass 'max' (MaxActivePartitions). */
static struct group *find_group(struct worker *w, const char *keys,
                                size_t len, size_t max, struct err *e)
{
    struct group *g;

    for (size_t i = w->n_groups; i-- > 0;) {
        g = &w->groups[i];
        if (g->keys_len == len && (len == 0 || memcmp(g->keys, keys, len) == 0))
            return g;
    }
    if (w->n_groups >= max) {
        err_set(e, ERR_FULL, "the batch already has %zu partitions "
                "(MaxActivePartitions)", max);
        return NULL;
    }
    if (w->n_groups == w->groups_cap) {
        size_t cap = w->groups_cap ? w->groups_cap * 2 : 8;
        void *p = realloc(w->groups, cap * sizeof(*w->groups));
        if (p == NULL) {
            err_set(e, ERR_NOMEM, "out of memory for partitions");
            return NULL;
        }
        w->groups = p;
        w->groups_cap = cap;
    }
    g = &w->groups[w->n_groups++];
    memset(g, 0, sizeof(*g));
    g->keys = keys;
    g->keys_len = len;
    g->head = g->tail = -1;
    return g;
}

/* One failed-record document into the error output of 'kind'. */
static int add_errdoc(struct worker *w, int kind, int64_t arrival_ms,
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
static int64_t rec_arrival(const struct worker *w, size_t i)
{
    return w->data.recs[w->list.r[i].src].arrival_ms;
}

/* proc_run()'s failures: into the error output, the record as it came. */
static int proc_failed(void *arg, const struct proc_rec *r,
                       enum proc_fail_kind kind, const char *code,
                       const char *msg)
{
    struct worker *w = arg;
    struct err e = { 0, "" };

    return add_errdoc(w, kind == PROC_FAIL_DECOMPRESSION
                         ? ERROUT_DECOMPRESSION : ERROUT_PROCESSING,
                      w->data.recs[r->src].arrival_ms, r->raw, r->raw_len,
                      1, code, msg, strlen(msg), NULL, &e);
}

/* The built-in stages before Lua (decompression, CloudWatch Logs,
 * de-aggregation): w->list is the batch's records after them. */
static int pre_stages(struct worker *w, struct err *e)
{
    struct stream *st = w->st;
    size_t n = w->data.n;
    struct proc_stats ps;

    if (proc_list_reserve(&w->list, n, e) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct proc_rec *r = &w->list.r[i];
        r->data = r->raw = w->data.recs[i].data;
        r->len = r->raw_len = w->data.recs[i].len;
        r->src = (uint32_t)i;
        r->sub = 0;
    }
    w->list.n = n;
    if (w->proc == NULL)
        return 0;
    if (proc_run(w->proc, &w->list, proc_failed, w, &ps, e) != 0)
        return -1;
    /* CONTROL_MESSAGE envelopes are dropped on purpose, like a Dropped
     * result; failures are processing failures. */
    metrics_add(&st->m.xform_dropped, ps.control_messages);
    metrics_add(&st->m.xform_failed, ps.failed);
    return 0;
}

/* MetadataExtraction over one record's (transformed) bytes: its keys, with
 * Lua's first, go to w->qkeys. 0, 1 (failed: error document written), -1. */
static int extract_keys(struct worker *w, size_t i, struct view *v,
                        const char *lkeys, size_t lkeys_len, struct err *e)
{
    char msg[512];
    size_t start = w->qkeys.len;
    int rc;

    if ((lkeys_len > 0 &&
         buf_append(&w->qkeys, lkeys, lkeys_len, e) != 0) ||
        buf_append(&w->qkeys, "", 1, e) != 0)
        return -1;
    rc = jqx_eval(w->jq, v->data, v->len, &w->qkeys, msg, sizeof(msg), e);
    if (rc < 0)
        return -1;
    if (rc > 0) {
        w->qkeys.len = start;
        if (add_errdoc(w, ERROUT_PARTITIONING, rec_arrival(w, i),
                       w->list.r[i].raw, w->list.r[i].raw_len, 1,
                       "DynamicPartitioning.MetadataExtractionFailed", msg,
                       strlen(msg), NULL, e) != 0)
            return -1;
        return 1;
    }
    v->keys_off = start;
    v->keys_len = w->qkeys.len - start;
    return 0;
}

/* Run the processors over the batch read into w->data, in Firehose's
 * order (decompression, CloudWatch Logs, de-aggregation, Lua, metadata
 * extraction; the delimiter is the sink's), and sort what is left into
 * groups (objects) and error documents. */
static int process(struct worker *w, struct err *e)
{
    struct stream *st = w->st;
    const struct cfg_s3 *d = &st->cfg->s3;
    size_t n;
    uint64_t inc = spool_incarnation(st->spool);
    uint64_t ok = 0, dropped = 0, failed = 0;
    size_t max_groups = d->dynamic_partitioning
                        ? (size_t)d->max_active_partitions : SIZE_MAX;
    const unsigned char *kbase;

    w->n_groups = 0;
    w->qkeys.len = 0;
    for (int k = 0; k < ERROUT_N; k++) {
        w->errdocs[k].len = 0;
        w->n_errdocs[k] = 0;
        w->err_oldest_ms[k] = 0;
    }
    if (pre_stages(w, e) != 0)
        return -1;
    n = w->list.n;
    if (reserve_records(w, n, e) != 0)
        return -1;
    for (size_t i = 0; w->ids != NULL && i < n; i++) {
        char *id = w->ids + 33 * i;
        const struct proc_rec *r = &w->list.r[i];
        /* The same 32 hex digits the producer got as RecordId; a
         * sub-record's differ in the top bits of the first half. */
        uint64_t v[2] = { inc ^ ((uint64_t)r->sub << 40),
                          w->data.recs[r->src].seq };
        for (int h = 0; h < 2; h++)
            for (int j = 15; j >= 0; j--, v[h] >>= 4)
                id[16 * h + j] = "0123456789abcdef"[v[h] & 15];
        id[32] = '\0';
    }
    if (w->xf != NULL) {
        int64_t t0 = util_mono_us();
        uint64_t us;
        for (size_t i = 0; i < n; i++) {
            const struct proc_rec *r = &w->list.r[i];
            w->xin[i].id = w->ids + 33 * i;
            w->xin[i].data = r->data;
            w->xin[i].len = r->len;
            w->xin[i].arrival_ms = rec_arrival(w, i);
            /* Sub-records (de-aggregation) share their record's. */
            w->xin[i].kinesis = w->kin != NULL ? &w->kin[r->src] : NULL;
        }
        if (xform_run(w->xf, w->xin, n, w->xout, &w->arena, e) != 0)
            return -1;
        us = (uint64_t)(util_mono_us() - t0);
        metrics_add(&st->m.xform_batches, 1);
        metrics_add(&st->m.xform_us, us);
        prom_hist_observe_us(&st->m.processing_duration, us);
    }
    /* First what each record becomes and its keys (w->qkeys may move
     * while it grows), then the groups. */
    for (size_t i = 0; i < n; i++) {
        const struct proc_rec *r = &w->list.r[i];
        struct view *v = &w->views[i];
        const char *lkeys = NULL;
        size_t lkeys_len = 0;

        v->data = NULL;
        v->keys_off = v->keys_len = 0;
        if (w->xf != NULL) {
            const struct xform_out *o = &w->xout[i];
            if (o->result == XFORM_DROPPED) {
                dropped++;
                continue;
            }
            if (o->result == XFORM_FAILED) {
                failed++;
                if (add_errdoc(w, ERROUT_PROCESSING, rec_arrival(w, i),
                               r->raw, r->raw_len, o->attempts,
                               o->error_code,
                               (const char *)w->arena.p + o->msg_off,
                               o->msg_len, NULL, e) != 0)
                    return -1;
                continue;
            }
            ok++;
            v->data = w->arena.p + o->data_off;
            v->len = o->data_len;
            if (d->dynamic_partitioning) {
                lkeys = (const char *)w->arena.p + o->keys_off;
                lkeys_len = o->keys_len;
                v->keys_off = o->keys_off;
                v->keys_len = o->keys_len;
            }
        } else {
            v->data = r->data;
            v->len = r->len;
        }
        if (w->jq != NULL) {
            int rc = extract_keys(w, i, v, lkeys, lkeys_len, e);
            if (rc < 0)
                return -1;
            if (rc > 0)
                v->data = NULL;
        }
    }
    kbase = w->jq != NULL ? w->qkeys.p : w->arena.p;
    for (size_t i = 0; i < n; i++) {
        struct view *v = &w->views[i];
        int64_t arrival = rec_arrival(w, i);
        const char *keys = NULL;
        struct group *g;

        if (v->data == NULL)
            continue;
        if (v->keys_len > 0)
            keys = (const char *)kbase + v->keys_off;
        v->next = -1;
        if ((g = find_group(w, keys, v->keys_len, max_groups, e)) == NULL) {
            if (e->code != ERR_FULL)
                return -1;
            /* Memory stays bounded whatever the keys' cardinality. */
            if (add_errdoc(w, ERROUT_ACTIVE_PARTITION, arrival,
                           w->list.r[i].raw, w->list.r[i].raw_len, 1,
                           "DynamicPartitioning.ActivePartitionExceeded",
                           e->msg, strlen(e->msg), NULL, e) != 0)
                return -1;
            e->code = 0;
            v->data = NULL;
            continue;
        }
        if (g->tail >= 0)
            w->views[g->tail].next = (int32_t)i;
        else
            g->head = (int32_t)i;
        g->tail = (int32_t)i;
        g->count++;
        g->bytes += v->len;
        if (g->oldest_ms == 0 || arrival < g->oldest_ms)
            g->oldest_ms = arrival;
    }
    metrics_add(&st->m.xform_ok, ok);
    metrics_add(&st->m.xform_dropped, dropped);
    metrics_add(&st->m.xform_failed, failed);
    return 0;
}

/* The sink's view of one group's records, in order. */
struct group_iter {
    const struct worker *w;
    const struct group *g;
    int32_t at;
};

static int group_next(void *arg, int first, const void **p, size_t *len)
{
    struct group_iter *it = arg;
    const struct view *v;

    if (first)
        it->at = it->g->head;
    if (it->at < 0)
        return 0;
    v = &it->w->views[it->at];
    *p = v->data;
    *len = v->len;
    it->at = v->next;
    return 1;
}

/* ... of the batch as read from the spool (source-record backup) ... */
struct src_iter {
    const struct spool_data *d;
    size_t at;
};

static int src_next(void *arg, int first, const void **p, size_t *len)
{
    struct src_iter *it = arg;

    if (first)
        it->at = 0;
    if (it->at >= it->d->n)
        return 0;
    *p = it->d->recs[it->at].data;
    *len = it->d->recs[it->at].len;
    it->at++;
    return 1;
}

/* ... and of one buffer as a single record (the error outputs). */
struct bytes_iter {
    const struct buf *b;
    int done;
};

static int bytes_next(void *arg, int first, const void **p, size_t *len)
{
    struct bytes_iter *it = arg;

    if (first)
        it->done = 0;
    if (it->done)
        return 0;
    it->done = 1;
    *p = it->b->p;
    *len = it->b->len;
    return 1;
}

/* Where an object goes: the stream's own S3 / local destination, or for
 * HTTP and OpenSearch streams the backup bucket (S3Configuration). */
struct target {
    struct dest *d;
    struct codec *c;
    struct sink *s;
    const struct cfg_s3 *cfg;
};

static struct target primary(struct worker *w)
{
    struct target t = { w->dest, w->codec, w->sink, &w->st->cfg->s3 };

    return t;
}

/* Error outputs land next to the data, or in the backup bucket of a
 * record destination. */
static struct target error_target(struct worker *w)
{
    struct target t = { w->backup, w->bcodec, w->bsink,
                        &w->st->cfg->backup };

    return w->dest->type->wants_records ? t : primary(w);
}

/* Compress 'recs' and store them under 'key', retrying until stored (the
 * sink sends large objects as multipart uploads while compressing). -1
 * only when told to stop (the batch stays in the spool). */
static int store(struct worker *w, const struct target *t, const char *key,
                 const struct sink_records *recs, uint32_t records,
                 uint64_t raw_bytes)
{
    struct stream *st = w->st;
    struct payload p;
    struct sink_stats ss;
    struct err e = { 0, "" };
    unsigned attempt = 0;

    memset(&p, 0, sizeof(p));
    p.key = key;
    p.records = records;
    p.raw_bytes = raw_bytes;
    for (;;) {
        metrics_add(&st->m.delivery_attempts, 1);
        if (sink_deliver(t->s, t->d, t->c, recs, &p, &e) == DEST_OK)
            break;
        metrics_add(&st->m.delivery_failures, 1);
        metrics_reason(&st->m, t->d == w->dest ? "ObjectStoreFailed"
                                               : "BackupStoreFailed", 1);
        /* S3 and the local directory keep retrying (Firehose never diverts
         * S3 delivery failures); the data waits in the spool meanwhile. */
        log_msg(attempt == 0 ? LOG_WARN : LOG_INFO, t->d->id,
                "delivery of '%s' failed (attempt %u, will retry): %s", key,
                attempt + 1, e.msg);
        nap(st, backoff_ms(attempt));
        if (atomic_load(&st->stop))
            return -1;
        attempt++;
        metrics_add(&st->m.retries, 1);
    }
    sink_stats(t->s, &ss);
    log_msg(LOG_DEBUG, t->d->id, "stored '%s': %u records, %" PRIu64
            " bytes, %u parts", key, records, ss.object_bytes, ss.parts);
    return 0;
}

/* The group's key for !{partitionKeyFrom*:name}; the worker tells how the
 * keys are laid out. */
struct group_keys {
    const struct group *g;
    int query;                      /* MetadataExtraction: Lua's, "\0",
                                     * the query's */
};

static const char *group_key(void *arg, int from_lambda, const char *name)
{
    const struct group_keys *gk = arg;
    const struct group *g = gk->g;

    if (g->keys == NULL)
        return NULL;
    if (gk->query)
        return jqx_key(g->keys, g->keys_len, from_lambda, name);
    return from_lambda ? xform_key(g->keys, g->keys_len, name) : NULL;
}

static void key_ctx(struct worker *w, const struct target *t,
                    struct keys_ctx *k, int64_t arrival, uint64_t hash)
{
    const struct cfg_s3 *d = t->cfg;

    memset(k, 0, sizeof(*k));
    k->prefix = d->prefix;
    k->stream = w->st->cfg->name;
    k->version = w->st->cfg->version_id;
    k->arrival_ms = arrival;
    k->batch_hash = hash;
    k->ext = d->file_extension && d->file_extension[0]
             ? d->file_extension : codec_ext(t->c);
    k->time_zone = d->custom_time_zone ? d->custom_time_zone : "";
}

/* A group whose prefix can't be evaluated (a partition key missing): its
 * records go to the partitioning error output. */
static int divert_group(struct worker *w, const struct group *g,
                        const char *why, struct err *e)
{
    for (int32_t i = g->head; i >= 0; i = w->views[i].next)
        if (add_errdoc(w, ERROUT_PARTITIONING, rec_arrival(w, (size_t)i),
                       w->list.r[i].raw, w->list.r[i].raw_len, 1,
                       "DynamicPartitioning.MissingPartitionKey", why,
                       strlen(why), NULL, e) != 0)
            return -1;
    return 0;
}

/* The request id of a batch: a UUID made from its hash, the same on every
 * attempt and after a restart, so receivers can de-duplicate. */
static void batch_uuid(uint64_t hash, char out[37])
{
    unsigned char b[16];
    uint64_t h2 = util_hash64(&hash, sizeof(hash), 0x5eed);
    char hex[33];

    memcpy(b, &hash, 8);
    memcpy(b + 8, &h2, 8);
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    util_hex(b, 16, hex);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
             hex + 16, hex + 20);
}

/* Send one group's records to a record destination (HTTP endpoint,
 * OpenSearch): only the records still failing are re-sent, with the same
 * ids and request id, with backoff, until RetryOptions.DurationInSeconds
 * (counted from the first failed attempt) is spent; then the ones left,
 * and the permanent failures, become error documents for the backup
 * bucket. Returns 0, or -1 when told to stop (the batch stays spooled). */
static int deliver_records(struct worker *w, const struct group *g,
                           uint64_t hash, uint64_t *stored, struct err *e)
{
    struct stream *st = w->st;
    int64_t window = (int64_t)st->cfg->retry_s * 1000, first_fail = 0;
    char rid[37], extra[320];
    unsigned attempt = 0;
    size_t m = 0;

    batch_uuid(hash, rid);
    dest_reasons_reset(&w->reasons);
    for (int32_t i = g->head; i >= 0; i = w->views[i].next) {
        w->pidx[m++] = i;
        w->tries[i] = 0;
        memset(&w->last[i], 0, sizeof(w->last[i]));
    }
    *stored = 0;
    while (m > 0) {
        struct payload p;
        struct err de = { 0, "" };
        size_t keep = 0;

        for (size_t k = 0; k < m; k++) {
            int32_t i = w->pidx[k];
            w->precs[k].data = w->views[i].data;
            w->precs[k].len = w->views[i].len;
            w->precs[k].arrival_ms = rec_arrival(w, (size_t)i);
            w->precs[k].id = w->ids + 33 * (size_t)i;
            memset(&w->res[k], 0, sizeof(w->res[k]));
            w->res[k].status = DEST_RETRY;
        }
        memset(&p, 0, sizeof(p));
        p.recs = w->precs;
        p.n_recs = m;
        p.request_id = rid;
        p.results = w->res;
        p.reasons = &w->reasons;
        p.records = (uint32_t)m;
        metrics_add(&st->m.delivery_attempts, 1);
        (void)w->dest->type->deliver(w->dest, &p, &de);
        for (size_t k = 0; k < m; k++) {
            int32_t i = w->pidx[k];
            w->tries[i]++;
            w->last[i] = w->res[k];
            if (w->res[k].status == DEST_OK) {
                (*stored)++;
                continue;
            }
            metrics_reason(&st->m,
                           dest_result_code(&w->reasons, &w->res[k]), 1);
            if (w->res[k].status == DEST_RETRY)
                w->pidx[keep++] = i;
        }
        if (keep < m && keep > 0)
            log_msg(LOG_WARN, w->dest->id, "%zu of %zu records failed "
                    "(will retry): %s", keep, m, de.msg);
        else if (keep > 0 || *stored < g->count)
            log_msg(attempt == 0 ? LOG_WARN : LOG_INFO, w->dest->id,
                    "delivery failed (attempt %u): %s", attempt + 1, de.msg);
        m = keep;
        if (m == 0)
            break;
        metrics_add(&st->m.delivery_failures, 1);
        if (first_fail == 0)
            first_fail = util_mono_ms();
        if (util_mono_ms() - first_fail >= window)
            break;
        nap(st, backoff_ms(attempt));
        if (atomic_load(&st->stop))
            return -1;
        attempt++;
        metrics_add(&st->m.retries, 1);
    }
    /* What is not stored now goes to the backup, with its last error. */
    for (int32_t i = g->head; i >= 0; i = w->views[i].next) {
        const struct dest_rec_result *r = &w->last[i];
        const char *id = w->ids + 33 * (size_t)i;
        const char *code = dest_result_code(&w->reasons, r);
        const char *msg = dest_result_msg(&w->reasons, r);

        if (r->status == DEST_OK)
            continue;
        if (st->cfg->dest_kind == CFG_DEST_HTTP)
            snprintf(extra, sizeof(extra), "\"subsequenceNumber\":0,"
                     "\"dataId\":\"%s.0\"", id);
        else
            snprintf(extra, sizeof(extra), "\"esDocumentId\":\"%s\","
                     "\"esTypeName\":\"%s\"",
                     st->cfg->os.no_document_id ? "" : id,
                     st->cfg->os.type_name ? st->cfg->os.type_name : "");
        if (add_errdoc(w, ERROUT_DEST, rec_arrival(w, (size_t)i),
                       w->views[i].data, w->views[i].len, w->tries[i],
                       code[0] ? code : "DestinationError",
                       msg, strlen(msg), extra,
                       e) != 0)
            return -1;
    }
    return 0;
}

/* Under st->sched: commit every batch whose partitions are all stored. */
static void commit_ready(struct stream *st)
{
    struct spool_batch rb;
    struct err e = { 0, "" };

    while (pbuf_ready(st->pb, &rb)) {
        if (spool_commit(st->spool, &rb, &e) == 0)
            st->in_flight--;
        else
            log_msg(LOG_ERROR, st->who, "commit of batch %" PRIu64
                    " failed (it will be delivered again): %s", rb.id,
                    e.msg);
    }
}

/* A group's records (copied) into its partition's buffer, as part of the
 * batch in 'slot'. Records a full set of partitions can't take go to the
 * activePartitionExceeded error output, as when a batch had too many. */
static int buffer_group(struct worker *w, const struct group *g, int slot,
                        struct err *e)
{
    struct stream *st = w->st;
    int64_t now = util_mono_ms();
    char why[256];
    int rc = 0;

    pthread_mutex_lock(&st->sched);
    for (int32_t i = g->head; i >= 0; i = w->views[i].next) {
        const struct view *v = &w->views[i];
        const struct proc_rec *r = &w->list.r[i];
        /* Which record: the same on a re-delivery (the object's hash). */
        uint64_t tag = w->data.recs[r->src].seq ^ ((uint64_t)r->sub << 48);

        if (pbuf_add(st->pb, slot, g->keys, g->keys_len, v->data, v->len,
                     rec_arrival(w, (size_t)i), tag, now, e) == 0)
            continue;
        if (e->code != ERR_FULL) {
            rc = -1;
            break;
        }
        snprintf(why, sizeof(why), "%s", e->msg);
        e->code = 0;
        if ((rc = add_errdoc(w, ERROUT_ACTIVE_PARTITION,
                             rec_arrival(w, (size_t)i), r->raw, r->raw_len,
                             1, "DynamicPartitioning.ActivePartitionExceeded",
                             why, strlen(why), NULL, e)) != 0)
            break;
    }
    pthread_mutex_unlock(&st->sched);
    return rc;
}

/* The sink's view of a partition buffer's records. */
struct part_iter {
    const struct pbuf_part *p;
    uint32_t at, n;
};

static int part_next(void *arg, int first, const void **p, size_t *len)
{
    struct part_iter *it = arg;

    if (first)
        it->at = 0;
    if (it->at >= it->n)
        return 0;
    pbuf_rec(it->p, it->at++, p, len);
    return 1;
}

/* Store one taken partition buffer as one object. The random part of its
 * key is a hash of the partition keys and of every record it holds, in
 * order: a re-delivery after a crash that gathers the same records
 * overwrites the object, one that gathers them otherwise writes another
 * (duplicates, never a loss: a key derived from the first batch alone
 * could overwrite an object holding records of batches already
 * committed). -1 when stopping or when the key can't be made; the
 * buffer's batches then stay pending. */
static int flush_part(struct worker *w, struct pbuf_part *p)
{
    struct stream *st = w->st;
    const struct cfg_s3 *d = &st->cfg->s3;
    struct target t = primary(w);
    struct pbuf_info in;
    struct group g;
    struct group_keys gk = { &g, w->jq != NULL };
    struct part_iter pi = { p, 0, 0 };
    struct sink_records recs = {
        part_next, &pi, d->processing.enabled && d->processing.append_delimiter
    };
    struct keys_ctx k;
    struct err e = { 0, "" };
    char key[2048];

    pbuf_info(p, &in);
    pi.n = in.count;
    memset(&g, 0, sizeof(g));
    g.keys = in.keys;
    g.keys_len = in.keys_len;
    key_ctx(w, &t, &k, in.oldest_ms, util_hash64(&in.hash, sizeof(in.hash),
                                                 spool_incarnation(st->spool)));
    k.partition_key = group_key;
    k.partition_arg = &gk;
    if (keys_object_key(&k, NULL, key, sizeof(key), &e) != 0) {
        /* Checked when its records came in: our bug. */
        log_msg(LOG_ERROR, st->who, "a partition's object key failed (its "
                "batches stay pending until a restart): %s", e.msg);
        return -1;
    }
    if (store(w, &t, key, &recs, in.count, in.bytes) != 0)
        return -1;
    metrics_add(&st->m.delivered_objects, 1);
    metrics_add(&st->m.delivered_records, in.count);
    metrics_add(&st->m.delivered_bytes, in.bytes);
    atomic_store_explicit(&st->m.last_delivery_ms, util_now_ms(),
                          memory_order_relaxed);
    return 0;
}

/* Deliver one partition buffer that is due (or any, when draining) and
 * commit the batches it was the last to hold. 1 when one was handled, 0
 * when none is due, -1 when stopping. */
static int flush_due(struct worker *w)
{
    struct stream *st = w->st;
    struct pbuf_part *p;

    pthread_mutex_lock(&st->sched);
    p = pbuf_take(st->pb, util_mono_ms(), atomic_load(&st->draining));
    pthread_mutex_unlock(&st->sched);
    if (p == NULL)
        return 0;
    if (flush_part(w, p) != 0) {
        if (atomic_load(&st->stop))
            return -1;
        nap(st, 1000);
        return 1;
    }
    pthread_mutex_lock(&st->sched);
    pbuf_done(st->pb, p);
    commit_ready(st);
    pthread_mutex_unlock(&st->sched);
    publish_gauges(st);
    return 1;
}

/* Shutdown, workers gone: store what the partition buffers hold, so that
 * the batches they share are committed rather than delivered again (some
 * records twice) at the next start. One attempt per buffer, within
 * DP_STOP_FLUSH_MS. */
static void flush_at_stop(struct worker *w)
{
    struct stream *st = w->st;
    int64_t until = util_mono_ms() + DP_STOP_FLUSH_MS;
    struct pbuf_part *p;

    while (util_mono_ms() < until &&
           (p = pbuf_take(st->pb, util_mono_ms(), 1)) != NULL) {
        if (flush_part(w, p) != 0)
            break;
        pbuf_done(st->pb, p);
        commit_ready(st);
    }
}

/* Process and store one sealed, read batch: every partition's object (or
 * the records, for HTTP and OpenSearch) and the error outputs, each under
 * a key derived from the batch id so that a re-delivery overwrites rather
 * than duplicates. Returns 0 when committed, -1 when stopping (or out of
 * memory) with the batch still pending. */
static int deliver_batch(struct worker *w, const struct spool_batch *b)
{
    struct stream *st = w->st;
    const struct cfg_s3 *d = &st->cfg->s3;
    struct target t = primary(w), et = error_target(w);
    struct keys_ctx k;
    struct err e = { 0, "" };
    char key[2048];
    uint64_t base, delivered = 0, bytes = 0;
    /* AppendDelimiterToRecord: the sink adds '\n' after each record. */
    int delim = d->processing.enabled && d->processing.append_delimiter;
    struct bytes_iter bi = { NULL, 0 };
    struct sink_records brecs = { bytes_next, &bi, 0 };
    struct group_keys gk = { NULL, w->jq != NULL };
    int rc, slot = -1;

    if (process(w, &e) != 0) {
        log_msg(LOG_ERROR, st->who, "processing batch %" PRIu64
                " failed: %s", b->id, e.msg);
        return -1;
    }
    base = util_hash64(&b->id, sizeof(b->id), spool_incarnation(st->spool));
    /* Dynamic partitioning: the groups go to their partitions' buffers,
     * and the batch is committed when the last of them is stored. After a
     * failure below it is never ended, so it stays pending until a
     * restart, even if the buffers deliver what it gave them. */
    if (st->pb != NULL) {
        pthread_mutex_lock(&st->sched);
        rc = pbuf_batch_begin(st->pb, b, &slot, &e);
        pthread_mutex_unlock(&st->sched);
        if (rc != 0)
            goto fail;
    }
    for (size_t i = 0; i < w->n_groups; i++) {
        struct group *g = &w->groups[i];
        struct group_iter gi = { w, g, -1 };
        struct sink_records grecs = { group_next, &gi, delim };
        uint64_t hash = g->keys_len ? util_hash64(g->keys, g->keys_len, base)
                                    : base;

        if (w->dest->type->wants_records) {
            uint64_t ok = 0;
            if (deliver_records(w, g, hash, &ok, &e) != 0) {
                if (atomic_load(&st->stop))
                    return -1;
                goto fail;
            }
            delivered += ok;
            bytes += g->bytes;
            /* AllData / AllDocuments: every record also to the bucket. */
            if (st->cfg->backup_all) {
                struct target bt = et;
                key_ctx(w, &bt, &k, g->oldest_ms, hash);
                if (keys_object_key(&k, NULL, key, sizeof(key), &e) != 0)
                    goto fail;
                if (store(w, &bt, key, &grecs, g->count, g->bytes) != 0)
                    return -1;
            }
            continue;
        }
        key_ctx(w, &t, &k, g->oldest_ms, hash);
        gk.g = g;
        k.partition_key = group_key;
        k.partition_arg = &gk;
        if (keys_object_key(&k, NULL, key, sizeof(key), &e) != 0) {
            if (d->dynamic_partitioning && e.code == ERR_INVAL) {
                if (divert_group(w, g, e.msg, &e) != 0)
                    goto fail;
                continue;
            }
            /* Validated at config load: our bug or an absurd prefix. */
            goto fail;
        }
        if (slot >= 0) {
            /* The key is made again, the same way, for the object. */
            if (buffer_group(w, g, slot, &e) != 0)
                goto fail;
            continue;
        }
        if (store(w, &t, key, &grecs, g->count, g->bytes) != 0)
            return -1;
        delivered += g->count;
        bytes += g->bytes;
        metrics_add(&st->m.delivered_objects, 1);
    }
    /* S3BackupMode Enabled: the source records, untransformed, to the
     * backup bucket under its own prefix and compression. */
    if (st->cfg->s3.source_backup && w->data.n > 0) {
        struct target bt = { w->backup, w->bcodec, w->bsink,
                             &st->cfg->backup };
        struct src_iter si = { &w->data, 0 };
        struct sink_records srecs = { src_next, &si, 0 };

        key_ctx(w, &bt, &k, b->oldest_arrival_ms,
                util_hash64("source", 6, base));
        if (keys_object_key(&k, NULL, key, sizeof(key), &e) != 0)
            goto fail;
        if (store(w, &bt, key, &srecs, (uint32_t)w->data.n, b->bytes) != 0)
            return -1;
        metrics_add(&st->m.backup_records, w->data.n);
    }
    for (int kind = 0; kind < ERROUT_N; kind++) {
        const char *type = errout_type(st->cfg, kind);

        if (w->n_errdocs[kind] == 0)
            continue;
        key_ctx(w, &et, &k, w->err_oldest_ms[kind],
                util_hash64(type, strlen(type), base));
        k.prefix = et.cfg->error_prefix ? et.cfg->error_prefix : "";
        k.is_error = 1;
        k.error_type = type;
        if (keys_object_key(&k, et.cfg->prefix ? et.cfg->prefix : "", key,
                            sizeof(key), &e) != 0)
            goto fail;
        bi.b = &w->errdocs[kind];
        if (store(w, &et, key, &brecs, w->n_errdocs[kind],
                  w->errdocs[kind].len) != 0)
            return -1;
        metrics_add(&st->m.error_records, w->n_errdocs[kind]);
        metrics_add(&st->m.error_objects, 1);
    }
    pthread_mutex_lock(&st->sched);
    if (slot >= 0) {
        pbuf_batch_end(st->pb, slot);
        commit_ready(st);
        rc = 0;
    } else if ((rc = spool_commit(st->spool, b, &e)) == 0) {
        st->in_flight--;
    }
    pthread_mutex_unlock(&st->sched);
    if (rc != 0)
        log_msg(LOG_ERROR, st->who, "commit of batch %" PRIu64
                " failed (it will be delivered again): %s", b->id, e.msg);
    metrics_add(&st->m.delivered_records, delivered);
    metrics_add(&st->m.delivered_bytes, bytes);
    atomic_store_explicit(&st->m.last_delivery_ms, util_now_ms(),
                          memory_order_relaxed);
    publish_gauges(st);
    return 0;
fail:
    /* Memory, zlib, or a key we could not build: the batch stays pending
     * and comes back after a restart. */
    log_msg(LOG_ERROR, st->who, "batch %" PRIu64 " could not be stored: %s",
            b->id, e.msg);
    return -1;
}

/* A big batch that needs no processing goes from the spool to the sink a
 * window at a time, so that the worker holds about STREAM_WINDOW of
 * records rather than the whole batch: with multipart upload, a 128 MB
 * object then costs the window plus S3MultipartThresholdBytes of output. */
#define STREAM_WINDOW (4u << 20)

struct win_iter {
    struct worker *w;
    const struct spool_batch *b;
    struct spool_cursor c;
    size_t at;
};

static int win_next(void *arg, int first, const void **p, size_t *len)
{
    struct win_iter *it = arg;
    struct stream *st = it->w->st;
    struct spool_data *d = &it->w->data;
    struct err e = { 0, "" };

    if (first) {
        memset(&it->c, 0, sizeof(it->c));
        d->n = 0;
        it->at = 0;
    }
    while (it->at >= d->n) {
        int r;

        /* The spool takes reads from one thread at a time. */
        pthread_mutex_lock(&st->sched);
        r = spool_read_window(st->spool, it->b, &it->c, STREAM_WINDOW, d,
                              &e);
        pthread_mutex_unlock(&st->sched);
        if (r < 0)
            log_msg(LOG_ERROR, st->who, "reading batch %" PRIu64
                    " failed: %s", it->b->id, e.msg);
        if (r <= 0)
            return r;
        it->at = 0;
    }
    *p = d->recs[it->at].data;
    *len = d->recs[it->at].len;
    it->at++;
    return 1;
}

/* What reading a batch whole holds per record besides its data: its
 * spool header (28 bytes), its spool_rec and its view. With tiny records
 * this is most of it: 5 MB of 10-byte records held ~60 MB per worker. */
#define STREAM_REC_COST (28 + sizeof(struct spool_rec) + sizeof(struct view))

/* The batch becomes one object of its records as they are (with the
 * delimiter at most): no script, no built-in processor, no partitioning,
 * no source backup, an object destination; and reading it whole would
 * hold more than two windows. */
static int streamable(const struct worker *w, const struct spool_batch *b)
{
    const struct cfg_stream *c = w->st->cfg;

    return c->type != CFG_STREAM_KINESIS && !w->dest->type->wants_records &&
           w->xf == NULL && w->proc == NULL && w->jq == NULL &&
           !c->s3.dynamic_partitioning && !c->s3.source_backup &&
           b->bytes + (uint64_t)b->count * STREAM_REC_COST >
               2 * (uint64_t)STREAM_WINDOW;
}

/* deliver_batch() for a streamable batch: the same object key (the batch
 * hash, the oldest arrival), records read a window at a time. */
static int deliver_streamed(struct worker *w, const struct spool_batch *b)
{
    struct stream *st = w->st;
    const struct cfg_s3 *d = &st->cfg->s3;
    struct target t = primary(w);
    struct win_iter wi = { w, b, { 0 }, 0 };
    struct sink_records recs = { win_next, &wi,
                                 d->processing.enabled &&
                                 d->processing.append_delimiter };
    struct keys_ctx k;
    struct err e = { 0, "" };
    char key[2048];
    uint64_t base;
    int rc;

    base = util_hash64(&b->id, sizeof(b->id), spool_incarnation(st->spool));
    key_ctx(w, &t, &k, b->oldest_arrival_ms, base);
    if (keys_object_key(&k, NULL, key, sizeof(key), &e) != 0) {
        log_msg(LOG_ERROR, st->who, "batch %" PRIu64 " could not be "
                "stored: %s", b->id, e.msg);
        return -1;
    }
    if (store(w, &t, key, &recs, b->count, b->bytes) != 0)
        return -1;
    metrics_add(&st->m.delivered_objects, 1);
    pthread_mutex_lock(&st->sched);
    if ((rc = spool_commit(st->spool, b, &e)) == 0)
        st->in_flight--;
    pthread_mutex_unlock(&st->sched);
    if (rc != 0)
        log_msg(LOG_ERROR, st->who, "commit of batch %" PRIu64
                " failed (it will be delivered again): %s", b->id, e.msg);
    metrics_add(&st->m.delivered_records, b->count);
    metrics_add(&st->m.delivered_bytes, b->bytes);
    atomic_store_explicit(&st->m.last_delivery_ms, util_now_ms(),
                          memory_order_relaxed);
    publish_gauges(st);
    return 0;
}

/* Under st->sched: is a batch due (size or interval reached, or a
 * recovered batch waiting)? If not, how long until the interval is up. */
static int batch_due(struct stream *st, int64_t *wait)
{
    uint64_t size_limit = (uint64_t)st->cfg->s3.buffering.size_mb << 20;
    int64_t interval = (int64_t)st->cfg->s3.buffering.interval_s * 1000;
    struct spool_stats ss;

    *wait = 1000;
    if (st->pb != NULL) {
        int64_t due = pbuf_next_due(st->pb, util_mono_ms());

        if (interval > DP_SEAL_MS)
            interval = DP_SEAL_MS;
        if (due >= 0 && due < *wait)
            *wait = due;
    }
    spool_stats(st->spool, &ss);
    /* Sealed batches that no worker holds are recovered ones. */
    if (ss.pending_batches > st->in_flight ||
        ss.unsealed_bytes >= size_limit)
        return 1;
    if (ss.unsealed_records > 0 && atomic_load(&st->draining))
        return 1;
    if (ss.unsealed_records > 0) {
        int64_t age = util_now_ms() - ss.oldest_unsealed_ms;
        if (age >= interval)
            return 1;
        if (interval - age < *wait)
            *wait = interval - age;
    }
    return 0;
}

/* A Kinesis-sourced batch: strip each record's envelope (kenv.h) in
 * place, keep its metadata for the transform, and date records (and the
 * batch, for object keys) by their Kinesis arrival. No copies. */
static int kinesis_unwrap(struct worker *w, struct spool_batch *b,
                          struct err *e)
{
    struct spool_data *d = &w->data;
    int64_t oldest = 0;

    if (d->n > w->kin_cap) {
        void *p = realloc(w->kin, d->n * sizeof(*w->kin));
        if (p == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
        w->kin = p;
        w->kin_cap = d->n;
    }
    for (size_t i = 0; i < d->n; i++) {
        struct spool_rec *r = &d->recs[i];
        struct kenv_meta m;
        const unsigned char *data;
        size_t len;

        if (kenv_read(r->data, r->len, &m, &data, &len) != 0) {
            /* Not ours (cannot happen short of a spool bug): deliver the
             * bytes as they are. */
            w->kin[i] = (struct xform_kinesis){ "", "", "", 0,
                                                r->arrival_ms };
            continue;
        }
        w->kin[i] = (struct xform_kinesis){ m.shard_id, m.pk, m.seq,
                                            m.subseq, m.arrival_ms };
        r->data = data;
        r->len = (uint32_t)len;
        if (m.arrival_ms > 0)
            r->arrival_ms = m.arrival_ms;
        if (oldest == 0 || r->arrival_ms < oldest)
            oldest = r->arrival_ms;
    }
    if (oldest > 0)
        b->oldest_arrival_ms = oldest;
    return 0;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct stream *st = w->st;
    uint64_t size_limit = (uint64_t)st->cfg->s3.buffering.size_mb << 20;
    struct spool_batch b;
    struct err e = { 0, "" };

    while (!atomic_load(&st->stop)) {
        int64_t wait;
        int r = 0;

        /* Partitions that are due go first: they hold batches open. */
        if (st->pb != NULL && (r = flush_due(w)) != 0) {
            if (r < 0)
                break;
            continue;
        }
        pthread_mutex_lock(&st->sched);
        if (batch_due(st, &wait)) {
            r = spool_seal(st->spool, size_limit, &b, &e);
            if (r == 1) {
                /* Held until committed: after a failed read or commit it
                 * stays held, and comes back after a restart. */
                st->in_flight++;
                if (streamable(w, &b))
                    r = 2;      /* read while it is stored */
                else if (spool_read(st->spool, &b, &w->data, &e) != 0)
                    r = -1;
            }
        }
        pthread_mutex_unlock(&st->sched);
        if (r < 0) {
            /* The spool cut what it could at open; a batch that can't be
             * read now stays pending and is retried after a restart. */
            log_msg(LOG_ERROR, st->who, "preparing a batch failed: %s",
                    e.msg);
            nap(st, 1000);
            continue;
        }
        if (r == 0) {
            /* Nothing due, or only batches another worker holds (or whose
             * commit failed): wait for appends or the interval. */
            publish_gauges(st);
            spool_wait(st->spool, (int)(wait < 1 ? 1 : wait));
            continue;
        }
        if (r == 2) {
            if (deliver_streamed(w, &b) != 0 && atomic_load(&st->stop))
                break;
            continue;
        }
        if (st->cfg->type == CFG_STREAM_KINESIS &&
            kinesis_unwrap(w, &b, &e) != 0) {
            log_msg(LOG_ERROR, st->who, "batch %" PRIu64 ": %s", b.id,
                    e.msg);
            nap(st, 1000);
            continue;
        }
        if (deliver_batch(w, &b) != 0 && atomic_load(&st->stop))
            break;
    }
    return NULL;
}

void stream_drain(struct stream *st)
{
    atomic_store(&st->draining, 1);
    spool_wake(st->spool);
}

int stream_start(struct stream *st, struct err *e)
{
    for (size_t i = 0; i < st->n_workers; i++) {
        struct worker *w = &st->workers[i];
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc != 0)
            return err_sys(e, rc, "starting delivery worker %zu of '%s' "
                           "failed", i, st->cfg->name);
        w->started = 1;
    }
    return source_start(st->src, e);
}

uint64_t stream_committed_below(struct stream *st)
{
    return spool_committed_below(st->spool);
}

int stream_source_json(struct stream *st, struct buf *b, struct err *e)
{
    return source_status_json(st->src, b, e);
}

void stream_free(struct stream *st)
{
    if (st == NULL)
        return;
    /* The source first: it appends to the spool and reads its state. */
    source_free(st->src);
    st->src = NULL;
    atomic_store(&st->stop, 1);
    if (st->spool != NULL)
        spool_wake(st->spool);
    for (size_t i = 0; st->workers && i < st->n_workers; i++)
        if (st->workers[i].started)
            pthread_join(st->workers[i].thread, NULL);
    if (st->pb != NULL && st->workers[0].started)
        flush_at_stop(&st->workers[0]);
    for (size_t i = 0; st->workers && i < st->n_workers; i++)
        worker_release(&st->workers[i]);
    free(st->workers);
    /* What the buffers held is in uncommitted batches: it comes back. */
    pbuf_free(st->pb);
    spool_close(st->spool);
    pthread_mutex_destroy(&st->sched);
    quota_release(&st->quota);
    free(st);
}
