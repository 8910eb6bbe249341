/* stream.c - see stream.h. The worker threads, the scheduling of batches
 * and the stream's life; what a worker does with a batch is in strm_proc.c
 * (processing), strm_obj.c (objects) and strm_rec.c (record
 * destinations). */
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
#include "../destinations/sink.h"
#include "../transforms/jqx.h"
#include "../transforms/proc.h"
#include "../transforms/xform.h"
#include "kenv.h"
#include "log.h"
#include "pbuf.h"
#include "quota.h"
#include "source.h"
#include "spool.h"
#include "strm.h"
#include "strm_obj.h"
#include "util.h"

/* Dynamic partitioning: records are sealed out of the spool at this
 * cadence (or at SizeInMBs) whatever the interval, since each partition
 * keeps its own interval in its buffer (pbuf.h). A seal journals one line,
 * so a few per second cost little. */
#define DP_SEAL_MS 500

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
    /* A batch that cannot be streamed is read whole, with ~350 bytes of
     * bookkeeping per record in processing (Lua's in/out, ids, views,
     * spool_rec): 5 MB of 10-byte records through identity Lua peaked at
     * 338 MB (402 MB to an HTTP endpoint). So such batches also close at
     * STRM_MAX_WHOLE_RECORDS, which 5 MiB of records above 105 bytes
     * never reach. */
    if (!strm_obj_can_stream(&st->workers[0]))
        st->max_batch_records = STRM_MAX_WHOLE_RECORDS;
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
        ss.unsealed_bytes >= size_limit ||
        (st->max_batch_records > 0 &&
         ss.unsealed_records >= st->max_batch_records))
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
        if (st->pb != NULL && (r = strm_obj_flush_due(w)) != 0) {
            if (r < 0)
                break;
            continue;
        }
        pthread_mutex_lock(&st->sched);
        if (batch_due(st, &wait)) {
            r = spool_seal(st->spool, size_limit, st->max_batch_records, &b,
                           &e);
            if (r == 1) {
                /* Held until committed: after a failed read or commit it
                 * stays held, and comes back after a restart. */
                st->in_flight++;
                if (strm_obj_streamable(w, &b))
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
            strm_nap(st, 1000);
            continue;
        }
        if (r == 0) {
            /* Nothing due, or only batches another worker holds (or whose
             * commit failed): wait for appends or the interval. */
            strm_publish_gauges(st);
            spool_wait(st->spool, (int)(wait < 1 ? 1 : wait));
            continue;
        }
        if (r == 2) {
            if (strm_obj_deliver_streamed(w, &b) != 0 &&
                atomic_load(&st->stop))
                break;
            continue;
        }
        if (st->cfg->type == CFG_STREAM_KINESIS &&
            kinesis_unwrap(w, &b, &e) != 0) {
            log_msg(LOG_ERROR, st->who, "batch %" PRIu64 ": %s", b.id,
                    e.msg);
            strm_nap(st, 1000);
            continue;
        }
        if (strm_obj_deliver_batch(w, &b) != 0 && atomic_load(&st->stop))
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
        strm_obj_flush_at_stop(&st->workers[0]);
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
