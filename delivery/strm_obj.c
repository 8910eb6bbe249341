/* strm_obj.c - see strm_obj.h. */
#include "strm_obj.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../destinations/keys.h"
#include "log.h"
#include "strm_proc.h"
#include "strm_rec.h"

/* At shutdown the partition buffers are stored (one attempt each) for at
 * most this long; what is left comes back from the spool at the next
 * start. */
#define DP_STOP_FLUSH_MS 5000

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
        strm_nap(st, strm_backoff_ms(attempt));
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
        if (strm_add_errdoc(w, ERROUT_PARTITIONING,
                            strm_arrival(w, (size_t)i),
                            w->list.r[i].raw, w->list.r[i].raw_len, 1,
                            "DynamicPartitioning.MissingPartitionKey", why,
                            strlen(why), NULL, e) != 0)
            return -1;
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
                     strm_arrival(w, (size_t)i), tag, now, e) == 0)
            continue;
        if (e->code != ERR_FULL) {
            rc = -1;
            break;
        }
        snprintf(why, sizeof(why), "%s", e->msg);
        e->code = 0;
        if ((rc = strm_add_errdoc(w, ERROUT_ACTIVE_PARTITION,
                                  strm_arrival(w, (size_t)i), r->raw,
                                  r->raw_len, 1,
                                  "DynamicPartitioning.ActivePartitionExceeded",
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
int strm_obj_flush_due(struct worker *w)
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
        strm_nap(st, 1000);
        return 1;
    }
    pthread_mutex_lock(&st->sched);
    pbuf_done(st->pb, p);
    commit_ready(st);
    pthread_mutex_unlock(&st->sched);
    strm_publish_gauges(st);
    return 1;
}

/* Shutdown, workers gone: store what the partition buffers hold, so that
 * the batches they share are committed rather than delivered again (some
 * records twice) at the next start. One attempt per buffer, within
 * DP_STOP_FLUSH_MS. */
void strm_obj_flush_at_stop(struct worker *w)
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
int strm_obj_deliver_batch(struct worker *w, const struct spool_batch *b)
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

    if (strm_proc_run(w, &e) != 0) {
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
            if (strm_rec_deliver(w, g, hash, &ok, &e) != 0) {
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
        const char *type = strm_errout_type(st->cfg, kind);

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
    strm_publish_gauges(st);
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

int strm_obj_can_stream(const struct worker *w)
{
    const struct cfg_stream *c = w->st->cfg;

    return c->type != CFG_STREAM_KINESIS && !w->dest->type->wants_records &&
           w->xf == NULL && w->proc == NULL && w->jq == NULL &&
           !c->s3.dynamic_partitioning && !c->s3.source_backup;
}

/* Streamed when reading it whole would hold more than two windows. */
int strm_obj_streamable(const struct worker *w, const struct spool_batch *b)
{
    return strm_obj_can_stream(w) &&
           b->bytes + (uint64_t)b->count * STREAM_REC_COST >
               2 * (uint64_t)STREAM_WINDOW;
}

/* strm_obj_deliver_batch() for a streamable batch: the same object key
 * (the batch hash, the oldest arrival), records read a window at a time. */
int strm_obj_deliver_streamed(struct worker *w, const struct spool_batch *b)
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
    strm_publish_gauges(st);
    return 0;
}
