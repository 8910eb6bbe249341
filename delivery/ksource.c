/* ksource.c - the Kinesis source (see ksource.h). Threads: the
 * coordinator alone talks to the lease store (renew, take, checkpoint,
 * shard sync), so the lease manager needs no lock; readers only read
 * Kinesis and append to the spool, and meet the coordinator in their
 * shard's position ring (under the shard's mutex). */
#include "ksource.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "awscred.h"
#include "awsjson.h"
#include "ddb.h"
#include "kenv.h"
#include "kinesis.h"
#include "kpl.h"
#include "lease.h"
#include "log.h"
#include "spool.h"
#include "stream.h"

#define SYNC_PERIOD_MS 10000        /* ListShards for new shards */
#define CHECKPOINT_PERIOD_MS 1000   /* at most one write per shard per s */
#define MIN_READ_GAP_MS 200         /* 5 GetRecords per second per shard */
#define TICK_MS 100

/* Where a shard stands after an append: spool records up to 'spool_last'
 * hold Kinesis records up to (seq, sub). */
struct pos {
    uint64_t spool_last;
    char seq[KINESIS_SEQ_MAX];
    uint64_t sub;
};

struct shard {
    struct ksource *ks;
    char id[LEASE_KEY_MAX];
    uint64_t token;             /* of the lease tenure this reader serves */
    char start_cp[LEASE_CP_MAX];    /* resume point */
    uint64_t start_sub;
    kpl_u128 lo, hi;
    int have_range;
    pthread_t thread;
    int started;
    atomic_int stop;            /* lease lost or shutting down */
    atomic_int exited;
    atomic_int_fast64_t millis_behind;

    pthread_mutex_t mu;         /* guards what follows */
    struct pos ring[KSOURCE_MAX_INFLIGHT];
    size_t head, count;
    int at_end;                 /* read to SHARD_END, all appended */
    char cp[LEASE_CP_MAX];      /* last checkpoint written (status) */
    uint64_t cp_sub;
};

struct ksource {
    const struct cfg_stream *cfg;
    const struct cfg_service *svc;
    struct stream *st;
    struct metrics_stream *m;
    char who[96];
    char worker[LEASE_OWNER_MAX];
    char table[256];
    char kin_endpoint[512];
    char ddb_endpoint[512];
    char region[64];
    struct lease_store store;   /* ops NULL until opened */
    struct lease_mgr *mgr;
    struct awsjson *kc;         /* the coordinator's Kinesis client */
    pthread_t coord;
    int coord_started;
    atomic_int stop;

    pthread_mutex_t mu;         /* the shard list (status reads it) */
    struct shard **shards;
    size_t nshards, cap;
    atomic_int sync_now;
};

static void nap_ms(const atomic_int *stop, int64_t ms)
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

static struct awsjson *kinesis_client(struct ksource *ks, long timeout_ms,
                                      struct err *e)
{
    struct awsjson_opts o = {
        ks->kin_endpoint, ks->region, "kinesis", "Kinesis_20131202",
        "application/x-amz-json-1.1", timeout_ms,
    };
    return awsjson_new(&o, e);
}

/* ---- the reader of one shard ---- */

struct reader {
    struct shard *sh;
    struct awsjson *c;
    struct kpl kpl;
    struct buf env;             /* envelopes, back to back */
    size_t *offs;               /* envelope i starts at env.p + offs[i] */
    struct iovec *iov;
    size_t n, cap;
    char last_seq[KINESIS_SEQ_MAX];    /* last Kinesis record read */
    char last_user_seq[KINESIS_SEQ_MAX];   /* last one appended */
    uint64_t last_user_sub;
    struct buf dec;             /* base64 decoding scratch */
};

static int rd_add(struct reader *r, const struct kenv_meta *m,
                  const unsigned char *data, size_t len, struct err *e)
{
    size_t hs = kenv_size(m);

    if (hs + len > SPOOL_MAX_RECORD) {
        /* The spool's record limit is Firehose's 1,000 KiB; a Kinesis
         * record may be up to 1 MiB (or 10 MiB when configured). */
        log_msg(LOG_ERROR, r->sh->ks->who, "shard %s: record %s/%" PRIu64
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

/* Is (seq, sub) at or before the checkpoint we resumed from? */
static int already_done(const struct shard *sh, const char *seq,
                        uint64_t sub)
{
    return lease_cp_is_seq(sh->start_cp) &&
           lease_cp_cmp(seq, sub, sh->start_cp, sh->start_sub) <= 0;
}

/* The envelopes of one GetRecords reply into r. */
static int rd_build(struct reader *r, const struct kinesis_batch *b,
                    struct err *e)
{
    struct shard *sh = r->sh;
    struct ksource *ks = sh->ks;
    uint64_t kpl_bad = 0, dropped = 0;

    r->n = 0;
    r->env.len = 0;
    for (size_t i = 0; i < b->n; i++) {
        struct kinesis_rec kr;
        struct kenv_meta m;
        enum kpl_kind kind;
        struct err ke = { 0, "" };
        size_t dlen;

        if (kinesis_batch_rec(b, i, &kr) != 0) {
            log_msg(LOG_ERROR, ks->who, "shard %s: GetRecords returned a "
                    "record without SequenceNumber, PartitionKey or Data: "
                    "skipped", sh->id);
            continue;
        }
        snprintf(r->last_seq, sizeof(r->last_seq), "%s", kr.seq);
        r->dec.len = 0;
        if (buf_reserve(&r->dec, kinesis_b64_max(kr.data_b64_len) + 1, e))
            return -1;
        if (kinesis_b64_decode(kr.data_b64, kr.data_b64_len, r->dec.p,
                               &dlen) != 0) {
            log_msg(LOG_ERROR, ks->who, "shard %s: record %s has invalid "
                    "base64 Data: skipped", sh->id, kr.seq);
            continue;
        }
        m.shard_id = sh->id;
        m.seq = kr.seq;
        m.pk = kr.pk;
        m.pk_len = strlen(kr.pk);
        m.arrival_ms = kr.arrival_ms;
        m.subseq = 0;
        if (kpl_decode(&r->kpl, r->dec.p, dlen, &kind, &ke) != 0)
            return err_set(e, ke.code, "%s", ke.msg);
        if (kind == KPL_MALFORMED) {
            kpl_bad++;
            log_msg(LOG_WARN, ks->who, "shard %s: record %s looks like a "
                    "KPL aggregate but is not one (%s): delivered as one "
                    "raw record", sh->id, kr.seq, ke.msg);
        }
        if (kind != KPL_AGGREGATE) {
            if (!already_done(sh, kr.seq, 0) &&
                rd_add(r, &m, r->dec.p, dlen, e) != 0)
                return -1;
            continue;
        }
        for (size_t k = 0; k < r->kpl.n; k++) {
            const struct kpl_user *u = &r->kpl.recs[k];

            m.subseq = k;
            if (already_done(sh, kr.seq, k))
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
            if (rd_add(r, &m, u->data, u->len, e) != 0)
                return -1;
        }
    }
    for (size_t i = 0; i < r->n; i++)
        r->iov[i].iov_base = r->env.p + r->offs[i];
    if (kpl_bad)
        metrics_add(&ks->m->kinesis_kpl_failures, kpl_bad);
    if (dropped) {
        metrics_add(&ks->m->kinesis_out_of_range, dropped);
        log_msg(LOG_WARN, ks->who, "shard %s: %" PRIu64 " KPL user records "
                "outside the shard's hash key range dropped "
                "(OutOfRangeRecords drop)", sh->id, dropped);
    }
    return 0;
}

/* Append what rd_build made, waiting out backpressure; then remember the
 * position. 0, or -1 when told to stop first. */
static int rd_append(struct reader *r)
{
    struct shard *sh = r->sh;
    struct ksource *ks = sh->ks;
    struct err e = { 0, "" };
    uint64_t first;
    int logged = 0;

    for (;;) {
        /* Room for the position: bounded in-flight appends. */
        pthread_mutex_lock(&sh->mu);
        while (sh->count == KSOURCE_MAX_INFLIGHT && !atomic_load(&sh->stop)) {
            pthread_mutex_unlock(&sh->mu);
            nap_ms(&sh->stop, 100);
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
        nap_ms(&sh->stop, e.code == ERR_FULL ? 200 : 1000);
    }
    metrics_add(&ks->m->kinesis_records_read, r->n);
    pthread_mutex_lock(&sh->mu);
    {
        struct pos *p = &sh->ring[(sh->head + sh->count) %
                                  KSOURCE_MAX_INFLIGHT];
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
    struct shard *sh = r->sh;
    struct ksource *ks = sh->ks;
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

static void rd_end(struct shard *sh)
{
    pthread_mutex_lock(&sh->mu);
    sh->at_end = 1;
    pthread_mutex_unlock(&sh->mu);
}

static void *reader_main(void *arg)
{
    struct reader r;
    struct shard *sh = arg;
    struct ksource *ks = sh->ks;
    const struct cfg_kinesis_src *kc = &ks->cfg->kinesis;
    char iter[1024], etype[96], saved[KINESIS_SEQ_MAX];
    int need_iter = 1;
    unsigned fails = 0;
    int64_t last_call = 0;
    struct err e = { 0, "" };

    memset(&r, 0, sizeof(r));
    r.sh = sh;
    if (strcmp(sh->start_cp, "SHARD_END") == 0) {
        rd_end(sh);
        goto out;
    }
    r.c = kinesis_client(ks, 15000, &e);
    if (r.c == NULL) {
        log_msg(LOG_ERROR, ks->who, "shard %s: %s", sh->id, e.msg);
        goto out;
    }
    log_msg(LOG_INFO, ks->who, "shard %s: reading from %s/%" PRIu64,
            sh->id, sh->start_cp, sh->start_sub);
    while (!atomic_load(&sh->stop)) {
        struct kinesis_batch b;
        enum awsjson_rc rc;
        int64_t gap;

        if (need_iter) {
            int ir = rd_iterator(&r, iter, sizeof(iter));
            if (ir == 1) {          /* the shard is gone: its end */
                rd_end(sh);
                break;
            }
            if (ir != 0) {
                nap_ms(&sh->stop, fails < 5 ? 500L << fails : 10000);
                fails++;
                continue;
            }
            need_iter = 0;
        }
        gap = util_mono_ms() - last_call;
        if (gap < MIN_READ_GAP_MS)
            nap_ms(&sh->stop, MIN_READ_GAP_MS - gap);
        last_call = util_mono_ms();
        rc = kinesis_get_records(r.c, iter, kc->get_records_limit, &b, etype,
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
            nap_ms(&sh->stop, fails < 5 ? 200L << fails : 10000);
            fails++;
            continue;
        }
        fails = 0;
        if (b.millis_behind >= 0)
            atomic_store(&sh->millis_behind, b.millis_behind);
        memcpy(saved, r.last_seq, sizeof(saved));
        if (rd_build(&r, &b, &e) != 0) {
            log_msg(LOG_ERROR, ks->who, "shard %s: %s", sh->id, e.msg);
            kinesis_batch_release(&b);
            /* Read the batch again, from where it started. */
            memcpy(r.last_seq, saved, sizeof(saved));
            need_iter = 1;
            nap_ms(&sh->stop, 1000);
            continue;
        }
        if (r.n > 0 && rd_append(&r) != 0) {
            kinesis_batch_release(&b);
            break;
        }
        if (b.next == NULL || b.next[0] == '\0') {
            kinesis_batch_release(&b);
            rd_end(sh);
            log_msg(LOG_INFO, ks->who, "shard %s: read to its end",
                    sh->id);
            break;
        }
        snprintf(iter, sizeof(iter), "%s", b.next);
        if (b.n == 0 || b.millis_behind == 0)
            nap_ms(&sh->stop, kc->idle_ms);
        kinesis_batch_release(&b);
    }
out:
    awsjson_free(r.c);
    kpl_release(&r.kpl);
    buf_release(&r.env);
    buf_release(&r.dec);
    free(r.offs);
    free(r.iov);
    atomic_store(&sh->exited, 1);
    return NULL;
}

/* ---- the coordinator ---- */

static void shard_free(struct shard *sh)
{
    if (sh == NULL)
        return;
    atomic_store(&sh->stop, 1);
    if (sh->started)
        pthread_join(sh->thread, NULL);
    pthread_mutex_destroy(&sh->mu);
    free(sh);
}

static struct shard *shard_find(struct ksource *ks, const char *id)
{
    for (size_t i = 0; i < ks->nshards; i++)
        if (strcmp(ks->shards[i]->id, id) == 0)
            return ks->shards[i];
    return NULL;
}

static void shard_remove(struct ksource *ks, struct shard *sh)
{
    pthread_mutex_lock(&ks->mu);
    for (size_t i = 0; i < ks->nshards; i++)
        if (ks->shards[i] == sh) {
            ks->shards[i] = ks->shards[--ks->nshards];
            break;
        }
    pthread_mutex_unlock(&ks->mu);
    shard_free(sh);
}

/* Are all of this lease's parents done (SHARD_END, or gone)? */
static int parents_done(struct ksource *ks, const struct lease *l)
{
    for (int i = 0; i < l->n_parents; i++) {
        const struct lease *p = lease_mgr_find(ks->mgr, l->parents[i]);
        if (p != NULL && strcmp(p->checkpoint, "SHARD_END") != 0)
            return 0;
    }
    return 1;
}

static void start_reader(struct ksource *ks, const struct lease_held *h)
{
    struct shard *sh = calloc(1, sizeof(*sh));
    int rc;

    if (sh == NULL)
        return;
    sh->ks = ks;
    snprintf(sh->id, sizeof(sh->id), "%s", h->l.key);
    sh->token = h->token;
    snprintf(sh->start_cp, sizeof(sh->start_cp), "%s", h->l.checkpoint);
    sh->start_sub = h->l.subseq;
    snprintf(sh->cp, sizeof(sh->cp), "%s", h->l.checkpoint);
    sh->cp_sub = h->l.subseq;
    sh->have_range =
        kpl_parse_u128(h->l.start_hk, strlen(h->l.start_hk), &sh->lo) == 0 &&
        kpl_parse_u128(h->l.end_hk, strlen(h->l.end_hk), &sh->hi) == 0;
    pthread_mutex_init(&sh->mu, NULL);
    pthread_mutex_lock(&ks->mu);
    if (ks->nshards == ks->cap) {
        size_t c = ks->cap ? ks->cap * 2 : 16;
        void *p = realloc(ks->shards, c * sizeof(*ks->shards));
        if (p == NULL) {
            pthread_mutex_unlock(&ks->mu);
            shard_free(sh);
            return;
        }
        ks->shards = p;
        ks->cap = c;
    }
    ks->shards[ks->nshards++] = sh;
    pthread_mutex_unlock(&ks->mu);
    rc = pthread_create(&sh->thread, NULL, reader_main, sh);
    if (rc != 0) {
        log_msg(LOG_ERROR, ks->who, "starting the reader of %s failed: %s",
                sh->id, strerror(rc));
        atomic_store(&sh->exited, 1);
        return;
    }
    sh->started = 1;
}

/* Readers for held leases that have none and whose parents are done;
 * readers whose lease is gone are told to stop, and reaped once out. */
static void reconcile(struct ksource *ks)
{
    const struct lease_held *held;
    size_t nheld;

    for (size_t i = 0; i < ks->nshards;) {
        struct shard *sh = ks->shards[i];
        int at_end;

        pthread_mutex_lock(&sh->mu);
        at_end = sh->at_end;
        pthread_mutex_unlock(&sh->mu);
        if (!lease_mgr_holds(ks->mgr, sh->id, sh->token)) {
            if (!atomic_load(&sh->stop))
                log_msg(LOG_INFO, ks->who, "lease %s lost: reading stops",
                        sh->id);
            atomic_store(&sh->stop, 1);
        }
        /* A reader that stopped on its own without reaching the end (it
         * could not build a client) is started again next round. */
        if (atomic_load(&sh->exited) &&
            (atomic_load(&sh->stop) || !at_end)) {
            shard_remove(ks, sh);
            continue;
        }
        i++;
    }
    held = lease_mgr_held(ks->mgr, &nheld);
    for (size_t i = 0; i < nheld; i++) {
        if (strcmp(held[i].l.checkpoint, "SHARD_END") == 0 ||
            shard_find(ks, held[i].l.key) != NULL ||
            !parents_done(ks, &held[i].l))
            continue;
        start_reader(ks, &held[i]);
    }
    atomic_store(&ks->m->kinesis_leases, (int_fast64_t)nheld);
}

/* Advance checkpoints to what the spool has committed; finish shards
 * that were read to their end and fully delivered. */
static void checkpoint_pass(struct ksource *ks, int final)
{
    uint64_t low = stream_committed_below(ks->st);
    int64_t behind = 0;

    for (size_t i = 0; i < ks->nshards;) {
        struct shard *sh = ks->shards[i];
        struct pos newest;
        int have = 0, end_ready;
        struct err e = { 0, "" };
        int rc;

        pthread_mutex_lock(&sh->mu);
        while (sh->count > 0 && sh->ring[sh->head].spool_last < low) {
            newest = sh->ring[sh->head];
            have = 1;
            sh->head = (sh->head + 1) % KSOURCE_MAX_INFLIGHT;
            sh->count--;
        }
        end_ready = sh->at_end && sh->count == 0;
        pthread_mutex_unlock(&sh->mu);
        if (atomic_load(&sh->millis_behind) > behind)
            behind = atomic_load(&sh->millis_behind);
        if (!lease_mgr_holds(ks->mgr, sh->id, sh->token)) {
            i++;
            continue;
        }
        if (have) {
            rc = lease_mgr_checkpoint(ks->mgr, sh->id, sh->token,
                                      newest.seq, newest.sub,
                                      util_mono_ms(), &e);
            if (rc == 0) {
                metrics_add(&ks->m->kinesis_checkpoints, 1);
                pthread_mutex_lock(&sh->mu);
                snprintf(sh->cp, sizeof(sh->cp), "%s", newest.seq);
                sh->cp_sub = newest.sub;
                pthread_mutex_unlock(&sh->mu);
            } else if (rc == LEASE_CONFLICT) {
                log_msg(LOG_WARN, ks->who, "checkpoint of %s refused: the "
                        "lease was taken by another worker", sh->id);
                atomic_store(&sh->stop, 1);
                i++;
                continue;
            } else {
                /* The positions are gone from the ring, but a later one
                 * covers them: the next checkpoint writes past them. */
                log_msg(LOG_WARN, ks->who, "checkpoint of %s failed: %s",
                        sh->id, e.msg);
            }
        }
        if (end_ready && atomic_load(&sh->exited) && !final) {
            rc = lease_mgr_checkpoint(ks->mgr, sh->id, sh->token,
                                      "SHARD_END", 0, util_mono_ms(), &e);
            if (rc == 0) {
                log_msg(LOG_INFO, ks->who, "shard %s finished: checkpoint "
                        "SHARD_END", sh->id);
                metrics_add(&ks->m->kinesis_checkpoints, 1);
                lease_mgr_evict(ks->mgr, sh->id, &e);
                shard_remove(ks, sh);
                atomic_store(&ks->sync_now, 1);
                continue;
            }
            if (rc != LEASE_CONFLICT)
                log_msg(LOG_WARN, ks->who, "SHARD_END checkpoint of %s "
                        "failed: %s", sh->id, e.msg);
        }
        i++;
    }
    atomic_store(&ks->m->kinesis_millis_behind, behind);
}

/* Create leases for shards that have none (spec §2.10, simplified):
 * a shard whose parent has a lease starts at TRIM_HORIZON (its parent's
 * records come first, then all of its own); other shards start at the
 * configured position, except closed ones under LATEST/AT_TIMESTAMP,
 * which hold nothing after it. Parents are created before children. */
static int shard_sync(struct ksource *ks, struct err *e)
{
    struct kinesis_shard *v = NULL;
    struct lease *all = NULL;
    size_t n = 0, nl = 0, created = 0;
    unsigned char *state = NULL;   /* 0 todo, 1 leased, 2 skipped */
    char etype[96];
    int rc = -1;
    const char *initial;
    enum cfg_start_pos sp = ks->cfg->kinesis.start;

    if (kinesis_list_shards(ks->kc, ks->cfg->kinesis.stream_name, &v, &n,
                            etype, sizeof(etype), e) != AWSJSON_OK)
        return -1;
    if (ks->store.ops->list(ks->store.ctx, &all, &nl, e) != 0)
        goto out;
    if ((state = calloc(n + 1, 1)) == NULL) {
        err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    initial = sp == CFG_START_TRIM_HORIZON ? "TRIM_HORIZON"
              : sp == CFG_START_AT_TIMESTAMP ? "AT_TIMESTAMP" : "LATEST";
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < nl; k++)
            if (strcmp(v[i].id, all[k].key) == 0)
                state[i] = 1;
    for (int pass = 0; pass < 64; pass++) {
        int progress = 0, todo = 0;

        for (size_t i = 0; i < n; i++) {
            const char *par[2] = { v[i].parent, v[i].adj_parent };
            int leased_parent = 0, waiting = 0;
            struct lease l;
            int r;

            if (state[i] != 0)
                continue;
            for (int p = 0; p < 2; p++) {
                if (par[p][0] == '\0')
                    continue;
                for (size_t k = 0; k < nl; k++)
                    if (strcmp(all[k].key, par[p]) == 0)
                        leased_parent = 1;
                for (size_t k = 0; k < n; k++)
                    if (strcmp(v[k].id, par[p]) == 0) {
                        if (state[k] == 1)
                            leased_parent = 1;
                        else if (state[k] == 0)
                            waiting = 1;
                    }
            }
            if (waiting) {
                todo++;
                continue;
            }
            progress = 1;
            memset(&l, 0, sizeof(l));
            snprintf(l.key, sizeof(l.key), "%s", v[i].id);
            if (leased_parent || sp == CFG_START_TRIM_HORIZON)
                snprintf(l.checkpoint, sizeof(l.checkpoint), "TRIM_HORIZON");
            else if (v[i].end_seq[0] == '\0')
                snprintf(l.checkpoint, sizeof(l.checkpoint), "%s", initial);
            else {
                state[i] = 2;
                continue;
            }
            for (int p = 0; p < 2; p++)
                if (par[p][0] != '\0')
                    snprintf(l.parents[l.n_parents++], LEASE_KEY_MAX, "%s",
                             par[p]);
            snprintf(l.start_hk, sizeof(l.start_hk), "%s", v[i].start_hk);
            snprintf(l.end_hk, sizeof(l.end_hk), "%s", v[i].end_hk);
            r = ks->store.ops->create(ks->store.ctx, &l, e);
            if (r < 0)
                goto out;
            if (r == 0) {
                created++;
                log_msg(LOG_INFO, ks->who, "lease %s created at %s",
                        l.key, l.checkpoint);
            }
            state[i] = 1;
        }
        if (todo == 0 || !progress)
            break;
    }
    rc = 0;
out:
    free(state);
    free(all);
    free(v);
    return rc;
}

static int open_store(struct ksource *ks, struct err *e)
{
    struct lease_mgr_opts mo;

    if (!ks->svc->lease_store_ddb) {
        char path[4200];

        snprintf(path, sizeof(path), "%s/%s/kinesis-leases.json",
                 ks->svc->state_dir, ks->cfg->name);
        if (lease_store_local(path, &ks->store, e) != 0)
            return -1;
    } else {
        /* The coordinator renews leases between its calls: no call may
         * take longer than a renewal period. */
        int64_t f = ks->svc->failover_ms > 0 ? ks->svc->failover_ms : 10000;
        struct ddb_opts o = {
            ks->ddb_endpoint,
            ks->svc->region ? ks->svc->region : ks->region,
            ks->table, (long)(f / 3 > 1000 ? f / 3 : 1000),
        };
        if (ddb_lease_store(&o, &ks->store, e) != 0)
            return -1;
    }
    memset(&mo, 0, sizeof(mo));
    mo.worker = ks->worker;
    mo.failover_ms = ks->svc->failover_ms;
    mo.max_steal = 1;
    if (lease_mgr_new(&ks->store, &mo, &ks->mgr, e) != 0) {
        lease_store_free(&ks->store);
        return -1;
    }
    return 0;
}

static void *coord_main(void *arg)
{
    struct ksource *ks = arg;
    int64_t failover = ks->svc->failover_ms > 0 ? ks->svc->failover_ms
                                                : 10000;
    int64_t renew_every = failover / 3 - 25, take_every = failover / 3;
    int64_t next_renew = 0, next_take = 0, next_sync = 0, next_cp = 0;
    int64_t last_err_log = 0;
    struct err e = { 0, "" };

    while (!atomic_load(&ks->stop)) {
        int64_t now = util_mono_ms();

        if (ks->mgr == NULL) {
            if (open_store(ks, &e) != 0) {
                if (now - last_err_log > 30000) {
                    log_msg(LOG_ERROR, ks->who, "lease store: %s (retrying)",
                            e.msg);
                    last_err_log = now;
                }
                nap_ms(&ks->stop, 1000);
                continue;
            }
            log_msg(LOG_INFO, ks->who, "worker %s, lease store %s%s%s",
                    ks->worker, ks->svc->lease_store_ddb ? "dynamodb table "
                    : "local", ks->svc->lease_store_ddb ? ks->table : "",
                    "");
        }
        if (now >= next_sync || atomic_load(&ks->sync_now)) {
            atomic_store(&ks->sync_now, 0);
            if (shard_sync(ks, &e) != 0) {
                if (now - last_err_log > 10000) {
                    log_msg(LOG_WARN, ks->who, "shard sync of '%s' failed: "
                            "%s", ks->cfg->kinesis.stream_name, e.msg);
                    last_err_log = now;
                }
                next_sync = now + 2000;
            } else {
                next_sync = now + SYNC_PERIOD_MS;
                next_take = now;        /* take new leases at once */
            }
        }
        if (now >= next_renew) {
            if (lease_mgr_renew(ks->mgr, now, &e) < 0)
                log_msg(LOG_WARN, ks->who, "renewing leases: %s", e.msg);
            next_renew = now + renew_every;
            reconcile(ks);
        }
        if (now >= next_take) {
            int t = lease_mgr_take(ks->mgr, now, &e);
            if (t < 0)
                log_msg(LOG_WARN, ks->who, "taking leases: %s", e.msg);
            else if (t > 0)
                log_msg(LOG_INFO, ks->who, "took %d lease%s", t,
                        t == 1 ? "" : "s");
            next_take = now + take_every;
            reconcile(ks);
        }
        if (now >= next_cp) {
            checkpoint_pass(ks, 0);
            next_cp = now + CHECKPOINT_PERIOD_MS;
            reconcile(ks);
        }
        nap_ms(&ks->stop, TICK_MS);
    }
    return NULL;
}

/* ---- the source_type ---- */

static void ks_free(void *ctx)
{
    struct ksource *ks = ctx;
    struct err e = { 0, "" };

    if (ks == NULL)
        return;
    atomic_store(&ks->stop, 1);
    if (ks->coord_started)
        pthread_join(ks->coord, NULL);
    for (size_t i = 0; i < ks->nshards; i++)
        atomic_store(&ks->shards[i]->stop, 1);
    for (size_t i = 0; i < ks->nshards; i++)
        if (ks->shards[i]->started) {
            pthread_join(ks->shards[i]->thread, NULL);
            ks->shards[i]->started = 0;
        }
    if (ks->mgr != NULL) {
        const struct lease_held *h;
        size_t n;

        /* What is committed by now is checkpointed; then the leases go
         * back so that other workers need not wait for them to expire. */
        checkpoint_pass(ks, 1);
        while ((h = lease_mgr_held(ks->mgr, &n)) != NULL && n > 0)
            lease_mgr_evict(ks->mgr, h[0].l.key, &e);
    }
    for (size_t i = 0; i < ks->nshards; i++)
        shard_free(ks->shards[i]);
    free(ks->shards);
    lease_mgr_free(ks->mgr);
    lease_store_free(&ks->store);
    awsjson_free(ks->kc);
    pthread_mutex_destroy(&ks->mu);
    free(ks);
}

static int ks_open(const struct cfg_stream *cfg, const struct cfg_service *svc,
                   struct stream *st, void **ctx, struct err *e)
{
    struct ksource *ks = calloc(1, sizeof(*ks));
    const char *ep;
    char host[256];

    *ctx = NULL;
    if (ks == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    pthread_mutex_init(&ks->mu, NULL);
    ks->cfg = cfg;
    ks->svc = svc;
    ks->st = st;
    ks->m = stream_metrics(st);
    snprintf(ks->who, sizeof(ks->who), "kinesis:%s", cfg->name);
    snprintf(ks->region, sizeof(ks->region), "%s",
             cfg->kinesis.region ? cfg->kinesis.region : svc->region);
    if (svc->worker_id != NULL) {
        snprintf(ks->worker, sizeof(ks->worker), "%s", svc->worker_id);
    } else {
        if (gethostname(host, sizeof(host)) != 0)
            snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        snprintf(ks->worker, sizeof(ks->worker), "%.100s:%ld", host,
                 (long)getpid());
    }
    if (svc->lease_table != NULL)
        snprintf(ks->table, sizeof(ks->table), "%s", svc->lease_table);
    else
        snprintf(ks->table, sizeof(ks->table), "firehosed-%s", cfg->name);
    ep = svc->endpoint_kinesis ? svc->endpoint_kinesis
                               : awscred_endpoint("KINESIS");
    if (ep != NULL)
        snprintf(ks->kin_endpoint, sizeof(ks->kin_endpoint), "%s", ep);
    else
        snprintf(ks->kin_endpoint, sizeof(ks->kin_endpoint),
                 "https://kinesis.%s.amazonaws.com", ks->region);
    ep = svc->endpoint_dynamodb ? svc->endpoint_dynamodb
                                : awscred_endpoint("DYNAMODB");
    if (ep != NULL)
        snprintf(ks->ddb_endpoint, sizeof(ks->ddb_endpoint), "%s", ep);
    else
        snprintf(ks->ddb_endpoint, sizeof(ks->ddb_endpoint),
                 "https://dynamodb.%s.amazonaws.com",
                 svc->region ? svc->region : ks->region);
    *ctx = ks;
    /* Credentials and endpoints are checked now; the peers may still be
     * starting, so the lease store is opened by the coordinator. */
    /* Short: ListShards runs on the coordinator, between renewals. */
    if ((ks->kc = kinesis_client(ks, 3000, e)) == NULL) {
        err_set(e, e->code, "stream '%s': %s", cfg->name, e->msg);
        return -1;
    }
    return 0;
}

static int ks_start(void *ctx, struct err *e)
{
    struct ksource *ks = ctx;
    int rc = pthread_create(&ks->coord, NULL, coord_main, ks);

    if (rc != 0)
        return err_sys(e, rc, "starting the Kinesis coordinator of '%s' "
                       "failed", ks->cfg->name);
    ks->coord_started = 1;
    return 0;
}

static int ks_status(void *ctx, struct buf *b, struct err *e)
{
    struct ksource *ks = ctx;
    int first = 1;

    if (buf_printf(b, e, ",\"Kinesis\":{\"StreamARN\":\"%s\",\"WorkerId\":"
                   "\"%s\",\"LeaseStore\":\"%s\",\"LeaseTable\":\"%s\","
                   "\"RecordsRead\":%" PRIu64 ",\"GetRecordsCalls\":%"
                   PRIu64 ",\"KplDecodeFailures\":%" PRIu64
                   ",\"OutOfRangeDropped\":%" PRIu64 ",\"Checkpoints\":%"
                   PRIu64 ",\"LeasesHeld\":%" PRId64 ",\"Shards\":[",
                   ks->cfg->kinesis.stream_arn, ks->worker,
                   ks->svc->lease_store_ddb ? "dynamodb" : "local",
                   ks->svc->lease_store_ddb ? ks->table : "",
                   metrics_get(&ks->m->kinesis_records_read),
                   metrics_get(&ks->m->kinesis_get_records),
                   metrics_get(&ks->m->kinesis_kpl_failures),
                   metrics_get(&ks->m->kinesis_out_of_range),
                   metrics_get(&ks->m->kinesis_checkpoints),
                   (int64_t)atomic_load(&ks->m->kinesis_leases)) != 0)
        return -1;
    pthread_mutex_lock(&ks->mu);
    for (size_t i = 0; i < ks->nshards; i++) {
        struct shard *sh = ks->shards[i];
        char cp[LEASE_CP_MAX];
        uint64_t sub;
        size_t inflight;

        pthread_mutex_lock(&sh->mu);
        snprintf(cp, sizeof(cp), "%s", sh->cp);
        sub = sh->cp_sub;
        inflight = sh->count;
        pthread_mutex_unlock(&sh->mu);
        if (buf_printf(b, e, "%s{\"ShardId\":\"%s\",\"Checkpoint\":\"%s\","
                       "\"SubSequenceNumber\":%" PRIu64 ",\"MillisBehind"
                       "Latest\":%" PRId64 ",\"UncommittedAppends\":%zu}",
                       first ? "" : ",", sh->id, cp, sub,
                       (int64_t)atomic_load(&sh->millis_behind),
                       inflight) != 0) {
            pthread_mutex_unlock(&ks->mu);
            return -1;
        }
        first = 0;
    }
    pthread_mutex_unlock(&ks->mu);
    return buf_append(b, "]}", 2, e);
}

const struct source_type ksource_type = {
    "kinesis", CFG_STREAM_KINESIS, ks_open, ks_start, ks_free, ks_status,
};
