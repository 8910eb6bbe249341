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
#include <unistd.h>

#include "awscred.h"
#include "awsjson.h"
#include "ddb.h"
#include "kinesis.h"
#include "kreader.h"
#include "lease.h"
#include "log.h"
#include "stream.h"

#define SYNC_PERIOD_MS 10000        /* ListShards for new shards */
#define CHECKPOINT_PERIOD_MS 1000   /* at most one write per shard per s */
#define TICK_MS 100

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
    struct kreader_env env;     /* for the readers */
    struct lease_store store;   /* ops NULL until opened */
    struct lease_mgr *mgr;
    struct awsjson *kc;         /* the coordinator's Kinesis client */
    pthread_t coord;
    int coord_started;
    atomic_int stop;

    pthread_mutex_t mu;         /* the shard list (status reads it) */
    struct kshard **shards;
    size_t nshards, cap;
    /* The whole lease table as the last take read it, every worker's
     * leases (status shows who owns what). Under mu. */
    struct lease *table_snap;
    size_t n_snap, snap_cap;
    atomic_int sync_now;
};

/* ---- the coordinator ---- */

/* Copy the manager's view of the table for status readers; on no memory
 * the previous copy stays. */
static void snap_table(struct ksource *ks)
{
    size_t n = 0;
    const struct lease *t = lease_mgr_table(ks->mgr, &n);

    pthread_mutex_lock(&ks->mu);
    if (n > ks->snap_cap) {
        struct lease *p = realloc(ks->table_snap, n * sizeof(*p));
        if (p == NULL) {
            pthread_mutex_unlock(&ks->mu);
            return;
        }
        ks->table_snap = p;
        ks->snap_cap = n;
    }
    if (n > 0)
        memcpy(ks->table_snap, t, n * sizeof(*t));
    ks->n_snap = n;
    pthread_mutex_unlock(&ks->mu);
}

static void shard_free(struct kshard *sh)
{
    if (sh == NULL)
        return;
    atomic_store(&sh->stop, 1);
    if (sh->started)
        pthread_join(sh->thread, NULL);
    pthread_mutex_destroy(&sh->mu);
    free(sh);
}

static struct kshard *shard_find(struct ksource *ks, const char *id)
{
    for (size_t i = 0; i < ks->nshards; i++)
        if (strcmp(ks->shards[i]->id, id) == 0)
            return ks->shards[i];
    return NULL;
}

static void shard_remove(struct ksource *ks, struct kshard *sh)
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
    struct kshard *sh = calloc(1, sizeof(*sh));
    int rc;

    if (sh == NULL)
        return;
    sh->env = &ks->env;
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
    rc = pthread_create(&sh->thread, NULL, kreader_main, sh);
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
        struct kshard *sh = ks->shards[i];
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

/* childShardIds of a finished shard (KCL writes them before SHARD_END;
 * they come from ListShards, as kinesalite sends no ChildShards). A
 * failure only costs KCL tools a lookup: logged, not fatal. */
static void record_children(struct ksource *ks, const char *id)
{
    struct kinesis_shard *v = NULL;
    char kids[2][LEASE_KEY_MAX], etype[96];
    struct err e = { 0, "" };
    size_t n = 0;
    int nk = 0;

    if (kinesis_list_shards(ks->kc, ks->cfg->kinesis.stream_name, &v, &n,
                            etype, sizeof(etype), &e) != AWSJSON_OK) {
        log_msg(LOG_WARN, ks->who, "childShardIds of %s not written: %s",
                id, e.msg);
        return;
    }
    for (size_t i = 0; i < n && nk < 2; i++)
        if (strcmp(v[i].parent, id) == 0 || strcmp(v[i].adj_parent, id) == 0)
            snprintf(kids[nk++], LEASE_KEY_MAX, "%s", v[i].id);
    free(v);
    if (nk > 0 &&
        ks->store.ops->set_children(ks->store.ctx, id, kids, nk, &e) < 0)
        log_msg(LOG_WARN, ks->who, "childShardIds of %s not written: %s",
                id, e.msg);
}

static int64_t failover_ms(const struct ksource *ks)
{
    return ks->svc->failover_ms > 0 ? ks->svc->failover_ms : 10000;
}

/* Advance checkpoints to what the spool has committed; finish shards
 * that were read to their end and fully delivered. */
static void checkpoint_pass(struct ksource *ks, int final)
{
    uint64_t low = stream_committed_below(ks->st);
    int64_t behind = 0;

    for (size_t i = 0; i < ks->nshards;) {
        struct kshard *sh = ks->shards[i];
        struct kpos newest;
        int have = 0, end_ready;
        struct err e = { 0, "" };
        int rc;

        pthread_mutex_lock(&sh->mu);
        while (sh->count > 0 && sh->ring[sh->head].spool_last < low) {
            newest = sh->ring[sh->head];
            have = 1;
            sh->head = (sh->head + 1) % KREADER_MAX_INFLIGHT;
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
            sh->unsaved = newest;
            sh->have_unsaved = 1;
        }
        if (sh->have_unsaved) {
            rc = lease_mgr_checkpoint(ks->mgr, sh->id, sh->token,
                                      sh->unsaved.seq, sh->unsaved.sub,
                                      util_mono_ms(), &e);
            if (rc == 0) {
                metrics_add(&ks->m->kinesis_checkpoints, 1);
                pthread_mutex_lock(&sh->mu);
                snprintf(sh->cp, sizeof(sh->cp), "%s", sh->unsaved.seq);
                sh->cp_sub = sh->unsaved.sub;
                pthread_mutex_unlock(&sh->mu);
                sh->have_unsaved = 0;
            } else if (rc == LEASE_CONFLICT || rc == LEASE_EXPIRED) {
                if (rc == LEASE_CONFLICT)
                    log_msg(LOG_WARN, ks->who, "checkpoint of %s refused: "
                            "the lease was taken by another worker",
                            sh->id);
                else
                    log_msg(LOG_WARN, ks->who, "lease %s expired: not "
                            "renewed for %" PRId64 " ms (lease store "
                            "unreachable): reading stops, not "
                            "checkpointed", sh->id, failover_ms(ks));
                atomic_store(&sh->stop, 1);
                i++;
                continue;
            } else {
                /* Kept for the next pass: an idle shard would otherwise
                 * keep its old checkpoint until new records come. */
                log_msg(LOG_WARN, ks->who, "checkpoint of %s failed "
                        "(retried): %s", sh->id, e.msg);
            }
        }
        if (end_ready && atomic_load(&sh->exited) && !final) {
            record_children(ks, sh->id);
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
            if (rc != LEASE_CONFLICT && rc != LEASE_EXPIRED)
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
        int64_t f = failover_ms(ks);
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
    int64_t failover = failover_ms(ks);
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
                kreader_nap(&ks->stop, 1000);
                continue;
            }
            log_msg(LOG_INFO, ks->who, "worker %s, lease store %s%s%s",
                    ks->worker, ks->svc->lease_store_ddb ? "dynamodb table "
                    : "local", ks->svc->lease_store_ddb ? ks->table : "",
                    "");
        }
        /* Store calls may hang up to their timeout each: leases that
         * expired meanwhile stop their readers now, not at the next
         * renewal, before another worker may take them. */
        if (lease_mgr_expire(ks->mgr, util_mono_ms()) > 0) {
            log_msg(LOG_WARN, ks->who, "leases not renewed for %" PRId64
                    " ms (lease store unreachable?) are given up",
                    failover);
            reconcile(ks);
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
            if (t >= 0)
                snap_table(ks);
            next_take = now + take_every;
            reconcile(ks);
        }
        if (now >= next_cp) {
            checkpoint_pass(ks, 0);
            next_cp = now + CHECKPOINT_PERIOD_MS;
            reconcile(ks);
        }
        kreader_nap(&ks->stop, TICK_MS);
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
    free(ks->table_snap);
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
    ks->env = (struct kreader_env){ cfg, st, ks->m, ks->who, ks->kin_endpoint,
                                   ks->region };
    if ((ks->kc = kreader_client(&ks->env, 3000, e)) == NULL) {
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

    /* The worker id is the user's (or another KCL worker's) text. */
    if (buf_printf(b, e, ",\"Kinesis\":{\"StreamARN\":\"%s\",\"WorkerId\":",
                   ks->cfg->kinesis.stream_arn) != 0 ||
        buf_json_str(b, ks->worker, e) != 0 ||
        buf_printf(b, e, ",\"LeaseStore\":\"%s\",\"LeaseTable\":\"%s\","
                   "\"RecordsRead\":%" PRIu64 ",\"GetRecordsCalls\":%"
                   PRIu64 ",\"KplDecodeFailures\":%" PRIu64
                   ",\"OutOfRangeDropped\":%" PRIu64 ",\"Checkpoints\":%"
                   PRIu64 ",\"LeasesHeld\":%" PRId64 ",\"Shards\":[",
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
        struct kshard *sh = ks->shards[i];
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
    if (buf_append(b, "],\"Leases\":[", 12, e) != 0) {
        pthread_mutex_unlock(&ks->mu);
        return -1;
    }
    for (size_t i = 0; i < ks->n_snap; i++) {
        const struct lease *l = &ks->table_snap[i];

        if (buf_printf(b, e, "%s{\"ShardId\":", i ? "," : "") != 0 ||
            buf_json_str(b, l->key, e) != 0 ||
            buf_append(b, ",\"Owner\":", 9, e) != 0 ||
            buf_json_str(b, l->owner, e) != 0 ||
            buf_append(b, ",\"Checkpoint\":", 14, e) != 0 ||
            buf_json_str(b, l->checkpoint, e) != 0 ||
            buf_printf(b, e, ",\"SubSequenceNumber\":%" PRIu64
                       ",\"LeaseCounter\":%" PRIu64 "}", l->subseq,
                       l->counter) != 0) {
            pthread_mutex_unlock(&ks->mu);
            return -1;
        }
    }
    pthread_mutex_unlock(&ks->mu);
    return buf_append(b, "]}", 2, e);
}

const struct source_type ksource_type = {
    "kinesis", CFG_STREAM_KINESIS, ks_open, ks_start, ks_free, ks_status,
};
