/* kreader.c - the reader of one Kinesis shard (see kreader.h). */
#include "kreader.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kenv.h"
#include "log.h"
#include "spool.h"
#include "stream.h"

#define MIN_READ_GAP_MS 200         /* 5 GetRecords per second per shard */
/* One spool append holds at most this much: a 10 MiB reply of tiny KPL
 * user records would otherwise make a scratch buffer of many times it. */
#define CHUNK_BYTES (4u << 20)
#define CHUNK_RECORDS 10000
/* Partition keys are at most 256 characters; a KPL table entry could be
 * anything, and only metadata is cut. */
#define PK_MAX 1024

void kreader_nap(const atomic_int *stop, int64_t ms)
{
    int64_t until = util_mono_ms() + ms;

    while (!atomic_load(stop)) {
        int64_t left = until - util_mono_ms();
        struct timespec ts;

        if (left <= 0)
            break;
        if (left > 50)
            left = 50;
        ts.tv_sec = 0;
        ts.tv_nsec = (long)left * 1000000L;
        nanosleep(&ts, NULL);
    }
}

struct awsjson *kreader_client(const struct kreader_env *env,
                               long timeout_ms, struct err *e)
{
    struct awsjson_opts o = {
        env->endpoint, env->region, "kinesis", "Kinesis_20131202",
        "application/x-amz-json-1.1", timeout_ms,
    };
    return awsjson_new(&o, e);
}

struct reader {
    struct kshard *sh;
    struct awsjson *c;
    struct kpl kpl;
    struct buf env;             /* envelopes, back to back */
    size_t *offs;               /* envelope i starts at env.p + offs[i] */
    struct iovec *iov;
    size_t n, cap;
    char last_seq[KINESIS_SEQ_MAX];    /* last Kinesis record read */
    char last_user_seq[KINESIS_SEQ_MAX];   /* last one appended */
    uint64_t last_user_sub;
    struct kinesis_batch b;     /* the latest reply; its array is reused */
};

static int rd_add(struct reader *r, struct kenv_meta *m,
                  const unsigned char *data, size_t len, struct err *e)
{
    size_t hs;

    if (m->pk_len > PK_MAX)
        m->pk_len = PK_MAX;
    hs = kenv_size(m);
    if (hs + len > SPOOL_MAX_RECORD) {
        /* The spool takes a default-size Kinesis record (1 MiB); a
         * stream configured for larger ones (MaxRecordSizeInKiB, up to
         * 10 MiB) may exceed it. */
        log_msg(LOG_ERROR, r->sh->env->who, "shard %s: record %s/%" PRIu64
                " has %zu bytes, above the %u-byte record limit: "
                "skipped", r->sh->id, m->seq, m->subseq, len,
                (unsigned)(SPOOL_MAX_RECORD - hs));
        return 0;
    }
    if (r->n == r->cap) {
        size_t c = r->cap ? r->cap * 2 : 256;
        void *p = realloc(r->offs, c * sizeof(*r->offs));
        if (p == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
        r->offs = p;
        p = realloc(r->iov, c * sizeof(*r->iov));
        if (p == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
        r->iov = p;
        r->cap = c;
    }
    if (buf_reserve(&r->env, hs + len, e) != 0)
        return -1;
    r->offs[r->n] = r->env.len;
    kenv_write(r->env.p + r->env.len, m);
    if (len > 0)
        memcpy(r->env.p + r->env.len + hs, data, len);
    r->iov[r->n].iov_len = hs + len;
    r->env.len += hs + len;
    r->n++;
    snprintf(r->last_user_seq, sizeof(r->last_user_seq), "%s", m->seq);
    r->last_user_sub = m->subseq;
    return 0;
}

static int rd_append(struct reader *r);

/* Append what is built (if anything) and start over. 0, or 1 when told
 * to stop first. */
static int rd_flush(struct reader *r)
{
    int rc;

    if (r->n == 0)
        return 0;
    for (size_t i = 0; i < r->n; i++)
        r->iov[i].iov_base = r->env.p + r->offs[i];
    rc = rd_append(r);
    r->n = 0;
    r->env.len = 0;
    return rc != 0;
}

/* rd_add, then an append when the chunk is full. 0, 1 (stop) or -1. */
static int rd_push(struct reader *r, struct kenv_meta *m,
                   const unsigned char *data, size_t len, struct err *e)
{
    if (rd_add(r, m, data, len, e) != 0)
        return -1;
    if (r->env.len >= CHUNK_BYTES || r->n >= CHUNK_RECORDS)
        return rd_flush(r);
    return 0;
}

/* Is (seq, sub) at or before the checkpoint we resumed from? */
static int already_done(const struct kshard *sh, const char *seq,
                        uint64_t sub)
{
    return lease_cp_is_seq(sh->start_cp) &&
           lease_cp_cmp(seq, sub, sh->start_cp, sh->start_sub) <= 0;
}

/* One GetRecords reply into the spool, in appends of at most a chunk.
 * 0, 1 when told to stop, -1 on error (e). */
static int rd_build(struct reader *r, const struct kinesis_batch *b,
                    struct err *e)
{
    struct kshard *sh = r->sh;
    const struct kreader_env *ks = sh->env;
    uint64_t kpl_bad = 0, dropped = 0;
    int rc = 0;

    r->n = 0;
    r->env.len = 0;
    for (size_t i = 0; i < b->n; i++) {
        const struct kinesis_rec *kr = &b->recs[i];
        struct kenv_meta m;
        enum kpl_kind kind;
        struct err ke = { 0, "" };

        snprintf(r->last_seq, sizeof(r->last_seq), "%s", kr->seq);
        m.shard_id = sh->id;
        m.seq = kr->seq;
        m.pk = kr->pk;
        m.pk_len = kr->pk_len;
        m.arrival_ms = kr->arrival_ms;
        m.subseq = 0;
        if (kpl_decode(&r->kpl, kr->data, kr->len, &kind, &ke) != 0)
            return err_set(e, ke.code, "%s", ke.msg);
        if (kind == KPL_MALFORMED) {
            kpl_bad++;
            log_msg(LOG_WARN, ks->who, "shard %s: record %s looks like a "
                    "KPL aggregate but is not one (%s): delivered as one "
                    "raw record", sh->id, kr->seq, ke.msg);
        }
        if (kind != KPL_AGGREGATE) {
            if (!already_done(sh, kr->seq, 0) &&
                (rc = rd_push(r, &m, kr->data, kr->len, e)) != 0)
                goto out;
            continue;
        }
        for (size_t k = 0; k < r->kpl.n; k++) {
            const struct kpl_user *u = &r->kpl.recs[k];

            m.subseq = k;
            if (already_done(sh, kr->seq, k))
                continue;
            if (sh->have_range && ks->cfg->kinesis.drop_out_of_range) {
                kpl_u128 h = kpl_user_hash(u);
                if (h < sh->lo || h > sh->hi) {
                    dropped++;
                    continue;
                }
            }
            m.pk = (const char *)u->pk.p;
            m.pk_len = u->pk.len;
            /* A partition key may hold a NUL in theory; the envelope
             * stores it with its length, readers see it up to the NUL. */
            if ((rc = rd_push(r, &m, u->data, u->len, e)) != 0)
                goto out;
        }
    }
    rc = rd_flush(r);
out:
    if (kpl_bad)
        metrics_add(&ks->m->kinesis_kpl_failures, kpl_bad);
    if (dropped) {
        metrics_add(&ks->m->kinesis_out_of_range, dropped);
        log_msg(LOG_WARN, ks->who, "shard %s: %" PRIu64 " KPL user records "
                "outside the shard's hash key range dropped "
                "(OutOfRangeRecords drop)", sh->id, dropped);
    }
    return rc;
}

/* Append what rd_build made, waiting out backpressure; then remember the
 * position. 0, or -1 when told to stop first. */
static int rd_append(struct reader *r)
{
    struct kshard *sh = r->sh;
    const struct kreader_env *ks = sh->env;
    struct err e = { 0, "" };
    uint64_t first;
    int logged = 0;

    for (;;) {
        /* Room for the position: bounded in-flight appends. */
        pthread_mutex_lock(&sh->mu);
        while (sh->count == KREADER_MAX_INFLIGHT && !atomic_load(&sh->stop)) {
            pthread_mutex_unlock(&sh->mu);
            kreader_nap(&sh->stop, 100);
            pthread_mutex_lock(&sh->mu);
        }
        pthread_mutex_unlock(&sh->mu);
        /* A lost lease stops reading at once: nothing more is spooled. */
        if (atomic_load(&sh->stop))
            return -1;
        if (stream_put(ks->st, r->iov, r->n, &first, &e) == 0)
            break;
        if (e.code != ERR_FULL || !logged)
            log_msg(e.code == ERR_FULL ? LOG_INFO : LOG_ERROR, ks->who,
                    "shard %s: spooling %zu records failed (%s): reading "
                    "pauses", sh->id, r->n, e.msg);
        logged = 1;
        kreader_nap(&sh->stop, e.code == ERR_FULL ? 200 : 1000);
    }
    metrics_add(&ks->m->kinesis_records_read, r->n);
    pthread_mutex_lock(&sh->mu);
    {
        struct kpos *p = &sh->ring[(sh->head + sh->count) %
                                  KREADER_MAX_INFLIGHT];
        p->spool_last = first + r->n - 1;
        snprintf(p->seq, sizeof(p->seq), "%s", r->last_user_seq);
        p->sub = r->last_user_sub;
        sh->count++;
    }
    pthread_mutex_unlock(&sh->mu);
    return 0;
}

static int rd_iterator(struct reader *r, char *iter, size_t size)
{
    struct kshard *sh = r->sh;
    const struct kreader_env *ks = sh->env;
    const char *type = "LATEST", *seq = NULL;
    char etype[96];
    struct err e = { 0, "" };
    enum awsjson_rc rc;

    if (r->last_seq[0]) {
        type = "AFTER_SEQUENCE_NUMBER";
        seq = r->last_seq;
    } else if (lease_cp_is_seq(sh->start_cp)) {
        /* AT, then drop what the checkpoint covers: the rest of a KPL
         * aggregate after the checkpointed user record is read again. */
        type = "AT_SEQUENCE_NUMBER";
        seq = sh->start_cp;
    } else if (strcmp(sh->start_cp, "TRIM_HORIZON") == 0) {
        type = "TRIM_HORIZON";
    } else if (strcmp(sh->start_cp, "AT_TIMESTAMP") == 0) {
        type = "AT_TIMESTAMP";
    }
    rc = kinesis_get_iterator(r->c, ks->cfg->kinesis.stream_name, sh->id,
                              type, seq,
                              (int64_t)ks->cfg->kinesis.start_ts_s * 1000,
                              iter, size, etype, sizeof(etype), &e);
    if (rc == AWSJSON_OK)
        return 0;
    if (strcmp(etype, "ResourceNotFoundException") == 0)
        return 1;
    log_msg(LOG_WARN, ks->who, "shard %s: GetShardIterator %s failed: %s",
            sh->id, type, e.msg);
    return -1;
}

static void rd_end(struct kshard *sh)
{
    pthread_mutex_lock(&sh->mu);
    sh->at_end = 1;
    pthread_mutex_unlock(&sh->mu);
}

void *kreader_main(void *arg)
{
    struct reader r;
    struct kshard *sh = arg;
    const struct kreader_env *ks = sh->env;
    const struct cfg_kinesis_src *kc = &ks->cfg->kinesis;
    char iter[1024], etype[96], saved[KINESIS_SEQ_MAX];
    int need_iter = 1, rc2;
    unsigned fails = 0;
    int64_t last_call = 0;
    struct err e = { 0, "" };

    memset(&r, 0, sizeof(r));
    r.sh = sh;
    if (strcmp(sh->start_cp, "SHARD_END") == 0) {
        rd_end(sh);
        goto out;
    }
    r.c = kreader_client(ks, 15000, &e);
    if (r.c == NULL) {
        log_msg(LOG_ERROR, ks->who, "shard %s: %s", sh->id, e.msg);
        goto out;
    }
    log_msg(LOG_INFO, ks->who, "shard %s: reading from %s/%" PRIu64,
            sh->id, sh->start_cp, sh->start_sub);
    while (!atomic_load(&sh->stop)) {
        struct kinesis_batch *b = &r.b;
        enum awsjson_rc rc;
        int64_t gap;

        if (need_iter) {
            int ir = rd_iterator(&r, iter, sizeof(iter));
            if (ir == 1) {          /* the shard is gone: its end */
                rd_end(sh);
                break;
            }
            if (ir != 0) {
                kreader_nap(&sh->stop, fails < 5 ? 500L << fails : 10000);
                fails++;
                continue;
            }
            need_iter = 0;
        }
        gap = util_mono_ms() - last_call;
        if (gap < MIN_READ_GAP_MS)
            kreader_nap(&sh->stop, MIN_READ_GAP_MS - gap);
        last_call = util_mono_ms();
        rc = kinesis_get_records(r.c, iter, kc->get_records_limit, b, etype,
                                 sizeof(etype), &e);
        metrics_add(&ks->m->kinesis_get_records, 1);
        if (rc != AWSJSON_OK) {
            if (strcmp(etype, "ExpiredIteratorException") == 0) {
                need_iter = 1;
                continue;
            }
            if (strcmp(etype, "ResourceNotFoundException") == 0) {
                rd_end(sh);
                break;
            }
            if (fails == 0 || rc != AWSJSON_RETRY)
                log_msg(LOG_WARN, ks->who, "shard %s: %s", sh->id, e.msg);
            if (rc != AWSJSON_RETRY)
                need_iter = 1;
            kreader_nap(&sh->stop, fails < 5 ? 200L << fails : 10000);
            fails++;
            continue;
        }
        fails = 0;
        if (b->millis_behind >= 0)
            atomic_store(&sh->millis_behind, b->millis_behind);
        memcpy(saved, r.last_seq, sizeof(saved));
        rc2 = rd_build(&r, b, &e);
        if (rc2 > 0)                /* told to stop */
            break;
        if (rc2 < 0) {
            log_msg(LOG_ERROR, ks->who, "shard %s: %s", sh->id, e.msg);
            /* Read the batch again, from where it started (what was
             * already appended of it comes twice: at least once). */
            memcpy(r.last_seq, saved, sizeof(saved));
            r.n = 0;
            r.env.len = 0;
            need_iter = 1;
            kreader_nap(&sh->stop, 1000);
            continue;
        }
        if (b->next == NULL || b->next[0] == '\0') {
            rd_end(sh);
            log_msg(LOG_INFO, ks->who, "shard %s: read to its end",
                    sh->id);
            break;
        }
        snprintf(iter, sizeof(iter), "%s", b->next);
        if (b->n == 0 || b->millis_behind == 0)
            kreader_nap(&sh->stop, kc->idle_ms);
    }
out:
    awsjson_free(r.c);
    kpl_release(&r.kpl);
    buf_release(&r.env);
    kinesis_batch_release(&r.b);
    free(r.offs);
    free(r.iov);
    atomic_store(&sh->exited, 1);
    return NULL;
}
