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
#include "log.h"
#include "spool.h"
#include "util.h"

/* Backoff between delivery attempts: min(cap, base * 2^n) +- 15 %. */
#define BACKOFF_BASE_MS 1000
#define BACKOFF_CAP_MS 60000
#define STAGE_BYTES (256u * 1024u)

/* One delivery worker: it seals a batch, compresses it and stores it.
 * Several run per stream so that compression (the costly part) uses every
 * core; each owns its codec, destination handle and buffers, reused for
 * every batch. */
struct worker {
    struct stream *st;
    pthread_t thread;
    int started;
    struct dest *dest;
    struct codec *codec;
    struct spool_data data;
    struct buf stage;
    struct buf object;
};

struct stream {
    const struct cfg_stream *cfg;
    const struct cfg_service *svc;
    struct spool *spool;
    struct metrics_stream m;
    char who[96];
    int64_t created_ms;
    atomic_int stop;

    /* The spool takes seal, read and commit from one thread at a time;
     * workers take turns with this lock (never held while compressing or
     * delivering). */
    pthread_mutex_t sched;
    uint64_t in_flight;         /* batches sealed and not committed yet */
    struct worker *workers;
    size_t n_workers;
};

static void worker_release(struct worker *w)
{
    dest_free(w->dest);
    codec_free(w->codec);
    spool_data_release(&w->data);
    buf_release(&w->stage);
    buf_release(&w->object);
}

int stream_open(const struct cfg_stream *cfg, const struct cfg_service *svc,
                struct stream **out, struct err *e)
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
        w->codec = codec_new(cfg->s3.compression, -1, e);
        if (w->codec == NULL)
            goto fail;
        w->dest = dest_new(cfg, svc, e);
        if (w->dest == NULL)
            goto fail;
    }
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

/* Compress a batch's records (already read into w->data) into w->object. */
static int build_object(struct worker *w, struct err *e)
{
    w->object.len = 0;
    if (codec_begin(w->codec, &w->object, e) != 0)
        return -1;
    /* Records sit between spool headers; gather them into 256 KiB runs so
     * that deflate is called per run, not per (often tiny) record. */
    w->stage.len = 0;
    for (size_t i = 0; i < w->data.n; i++) {
        const struct spool_rec *r = &w->data.recs[i];
        if (w->stage.len + r->len > STAGE_BYTES && w->stage.len > 0) {
            if (codec_write(w->codec, w->stage.p, w->stage.len, e) != 0)
                return -1;
            w->stage.len = 0;
        }
        if (r->len >= STAGE_BYTES) {
            if (codec_write(w->codec, r->data, r->len, e) != 0)
                return -1;
        } else if (buf_append(&w->stage, r->data, r->len, e) != 0) {
            return -1;
        }
    }
    if (w->stage.len > 0 &&
        codec_write(w->codec, w->stage.p, w->stage.len, e) != 0)
        return -1;
    return codec_end(w->codec, e);
}

/* Deliver one sealed, read batch until it is stored or we are told to
 * stop. Returns 0 when committed, -1 when stopping with the batch still
 * pending (it stays in the spool and is re-delivered under the same key). */
static int deliver_batch(struct worker *w, const struct spool_batch *b)
{
    struct stream *st = w->st;
    struct keys_ctx k;
    struct payload p;
    struct err e = { 0, "" };
    char key[2048];
    unsigned attempt = 0;
    int rc;

    if (build_object(w, &e) != 0) {
        /* Only memory or zlib can fail here; the batch stays pending and
         * comes back after a restart. */
        log_msg(LOG_ERROR, st->who, "compressing batch %" PRIu64
                " failed: %s", b->id, e.msg);
        return -1;
    }
    memset(&k, 0, sizeof(k));
    k.prefix = st->cfg->s3.prefix;
    k.stream = st->cfg->name;
    k.version = st->cfg->version_id;
    k.arrival_ms = b->oldest_arrival_ms;
    k.batch_hash = util_hash64(&b->id, sizeof(b->id),
                               spool_incarnation(st->spool));
    k.ext = st->cfg->s3.file_extension[0] ? st->cfg->s3.file_extension
                                          : codec_ext(w->codec);
    k.time_zone = st->cfg->s3.custom_time_zone;
    if (keys_object_key(&k, NULL, key, sizeof(key), &e) != 0) {
        /* Validated at config load, so this is our bug or an absurd
         * prefix; keep the data and say so. */
        log_msg(LOG_ERROR, st->who, "object key for batch %" PRIu64
                " failed: %s", b->id, e.msg);
        return -1;
    }
    memset(&p, 0, sizeof(p));
    p.key = key;
    p.data = w->object.p;
    p.len = w->object.len;
    p.content_encoding = codec_content_encoding(w->codec);
    p.records = b->count;
    p.raw_bytes = b->bytes;

    for (;;) {
        enum dest_status ds;

        metrics_add(&st->m.delivery_attempts, 1);
        ds = w->dest->type->deliver(w->dest, &p, &e);
        if (ds == DEST_OK)
            break;
        metrics_add(&st->m.delivery_failures, 1);
        /* S3 and the local directory keep retrying (Firehose never diverts
         * S3 delivery failures); the data waits in the spool meanwhile. */
        log_msg(attempt == 0 ? LOG_WARN : LOG_INFO, w->dest->id,
                "delivery of '%s' failed (attempt %u, will retry): %s", key,
                attempt + 1, e.msg);
        nap(st, backoff_ms(attempt));
        if (atomic_load(&st->stop))
            return -1;
        attempt++;
        metrics_add(&st->m.retries, 1);
    }
    pthread_mutex_lock(&st->sched);
    rc = spool_commit(st->spool, b, &e);
    if (rc == 0)
        st->in_flight--;
    pthread_mutex_unlock(&st->sched);
    if (rc != 0)
        log_msg(LOG_ERROR, st->who, "commit of batch %" PRIu64
                " failed (it will be delivered again): %s", b->id, e.msg);
    metrics_add(&st->m.delivered_records, b->count);
    metrics_add(&st->m.delivered_bytes, b->bytes);
    metrics_add(&st->m.delivered_objects, 1);
    atomic_store_explicit(&st->m.last_delivery_ms, util_now_ms(),
                          memory_order_relaxed);
    publish_gauges(st);
    log_msg(LOG_DEBUG, w->dest->id, "stored '%s': %u records, %zu bytes",
            key, b->count, w->object.len);
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
    spool_stats(st->spool, &ss);
    /* Sealed batches that no worker holds are recovered ones. */
    if (ss.pending_batches > st->in_flight ||
        ss.unsealed_bytes >= size_limit)
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

        pthread_mutex_lock(&st->sched);
        if (batch_due(st, &wait)) {
            r = spool_seal(st->spool, size_limit, &b, &e);
            if (r == 1) {
                /* Held until committed: after a failed read or commit it
                 * stays held, and comes back after a restart. */
                st->in_flight++;
                if (spool_read(st->spool, &b, &w->data, &e) != 0)
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
        if (deliver_batch(w, &b) != 0 && atomic_load(&st->stop))
            break;
    }
    return NULL;
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
    return 0;
}

void stream_free(struct stream *st)
{
    if (st == NULL)
        return;
    atomic_store(&st->stop, 1);
    if (st->spool != NULL)
        spool_wake(st->spool);
    for (size_t i = 0; st->workers && i < st->n_workers; i++)
        if (st->workers[i].started)
            pthread_join(st->workers[i].thread, NULL);
    for (size_t i = 0; st->workers && i < st->n_workers; i++)
        worker_release(&st->workers[i]);
    free(st->workers);
    spool_close(st->spool);
    pthread_mutex_destroy(&st->sched);
    free(st);
}
