/* strm_rec.c - see strm_rec.h. */
#include "strm_rec.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

/* The request id of a batch: a UUID made from its hash, the same on every
 * attempt and after a restart, so receivers can de-duplicate. */
static void batch_uuid(uint64_t hash, char out[37])
{
    unsigned char b[16];
    uint64_t h2 = util_hash64(&hash, sizeof(hash), 0x5eed);

    memcpy(b, &hash, 8);
    memcpy(b + 8, &h2, 8);
    util_uuid(b, out);
}

/* Send one group's records to a record destination (HTTP endpoint,
 * OpenSearch): only the records still failing are re-sent, with the same
 * ids and request id, with backoff, until RetryOptions.DurationInSeconds
 * (counted from the first failed attempt) is spent; then the ones left,
 * and the permanent failures, become error documents for the backup
 * bucket. Returns 0, or -1 when told to stop (the batch stays spooled). */
int strm_rec_deliver(struct worker *w, const struct group *g,
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
            w->precs[k].arrival_ms = strm_arrival(w, (size_t)i);
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
        strm_nap(st, strm_backoff_ms(attempt));
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
        if (strm_add_errdoc(w, ERROUT_DEST, strm_arrival(w, (size_t)i),
                            w->views[i].data, w->views[i].len, w->tries[i],
                            code[0] ? code : "DestinationError",
                            msg, strlen(msg), extra,
                            e) != 0)
            return -1;
    }
    return 0;
}
