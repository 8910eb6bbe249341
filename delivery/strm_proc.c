/* strm_proc.c - see strm_proc.h. */
#include "strm_proc.h"

#include <stdlib.h>
#include <string.h>

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

/* proc_run()'s failures: into the error output, the record as it came. */
static int proc_failed(void *arg, const struct proc_rec *r,
                       enum proc_fail_kind kind, const char *code,
                       const char *msg)
{
    struct worker *w = arg;
    struct err e = { 0, "" };

    return strm_add_errdoc(w, kind == PROC_FAIL_DECOMPRESSION
                              ? ERROUT_DECOMPRESSION : ERROUT_PROCESSING,
                           w->data.recs[r->src].arrival_ms, r->raw,
                           r->raw_len, 1, code, msg, strlen(msg), NULL, &e);
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
        if (strm_add_errdoc(w, ERROUT_PARTITIONING, strm_arrival(w, i),
                            w->list.r[i].raw, w->list.r[i].raw_len, 1,
                            "DynamicPartitioning.MetadataExtractionFailed",
                            msg, strlen(msg), NULL, e) != 0)
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
int strm_proc_run(struct worker *w, struct err *e)
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
            w->xin[i].arrival_ms = strm_arrival(w, i);
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
                if (strm_add_errdoc(w, ERROUT_PROCESSING, strm_arrival(w, i),
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
        int64_t arrival = strm_arrival(w, i);
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
            if (strm_add_errdoc(w, ERROUT_ACTIVE_PARTITION, arrival,
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
