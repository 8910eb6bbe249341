#include "quota.h"

#include <string.h>

#define QUOTA_MICRO 1000000

void quota_init(struct quota *q, const struct cfg_quotas *c, int64_t now_us)
{
    memset(q, 0, sizeof(*q));
    q->rate[QUOTA_RECORDS] = c->records_ps;
    q->rate[QUOTA_REQUESTS] = c->requests_ps;
    q->rate[QUOTA_BYTES] = c->bytes_ps;
    for (int i = 0; i < QUOTA_N; i++) {
        q->tokens[i] = (int64_t)q->rate[i] * QUOTA_MICRO;
        if (q->rate[i] != 0)
            q->enabled = 1;
    }
    q->last_us = now_us;
    if (q->enabled)
        pthread_mutex_init(&q->mu, NULL);
}

void quota_release(struct quota *q)
{
    if (q->enabled)
        pthread_mutex_destroy(&q->mu);
    q->enabled = 0;
}

/* Under q->mu. A bucket in debt (a record larger than its burst) needs
 * more than a second to fill, so the elapsed time is not capped; instead
 * a refill that would pass the cap sets the cap, which keeps rate * dt
 * below 2^40 * 2^20 (rates are at most 2^40, the debt under 2^23). */
static void refill(struct quota *q, int64_t now_us)
{
    int64_t dt = now_us - q->last_us;

    if (dt <= 0)
        return;             /* clocks of two threads, read out of order */
    q->last_us = now_us;
    for (int i = 0; i < QUOTA_N; i++) {
        int64_t rate = (int64_t)q->rate[i];
        int64_t cap = rate * QUOTA_MICRO;

        if (rate == 0)
            continue;
        if (dt >= (cap - q->tokens[i]) / rate + 1)
            q->tokens[i] = cap;
        else
            q->tokens[i] += rate * dt;
    }
}

size_t quota_take(struct quota *q, const struct iovec *recs, size_t n,
                  int64_t now_us)
{
    int64_t *tok = q->tokens;
    uint64_t bytes = 0;
    size_t k = n;

    if (!q->enabled || n == 0)
        return n;
    pthread_mutex_lock(&q->mu);
    refill(q, now_us);
    if (q->rate[QUOTA_REQUESTS] != 0 && tok[QUOTA_REQUESTS] < QUOTA_MICRO)
        k = 0;
    if (q->rate[QUOTA_RECORDS] != 0 &&
        (uint64_t)k > (uint64_t)(tok[QUOTA_RECORDS] / QUOTA_MICRO))
        k = (size_t)(tok[QUOTA_RECORDS] / QUOTA_MICRO);
    if (q->rate[QUOTA_BYTES] != 0) {
        int64_t cap = (int64_t)q->rate[QUOTA_BYTES] * QUOTA_MICRO;
        /* Whole bytes available; a full bucket admits one record of any
         * size. */
        uint64_t avail = (uint64_t)(tok[QUOTA_BYTES] < 0
                                    ? 0 : tok[QUOTA_BYTES] / QUOTA_MICRO);
        size_t i;

        for (i = 0; i < k; i++) {
            uint64_t next = bytes + recs[i].iov_len;
            if (next > avail && !(i == 0 && tok[QUOTA_BYTES] >= cap))
                break;
            bytes = next;
        }
        k = i;
    }
    if (k > 0) {
        if (q->rate[QUOTA_REQUESTS] != 0)
            tok[QUOTA_REQUESTS] -= QUOTA_MICRO;
        if (q->rate[QUOTA_RECORDS] != 0)
            tok[QUOTA_RECORDS] -= (int64_t)k * QUOTA_MICRO;
        if (q->rate[QUOTA_BYTES] != 0)
            tok[QUOTA_BYTES] -= (int64_t)bytes * QUOTA_MICRO;
    }
    pthread_mutex_unlock(&q->mu);
    return k;
}
