/* quota.h - DirectPutQuotas: three token buckets per stream (records,
 * requests, bytes per second), each holding at most one second of its
 * rate, refilled continuously. A request takes one lock once, never one
 * per record; a stream without quotas takes none. */
#ifndef FH_QUOTA_H
#define FH_QUOTA_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../config/cfg.h"

enum { QUOTA_RECORDS, QUOTA_REQUESTS, QUOTA_BYTES, QUOTA_N };

struct quota {
    int enabled;                    /* any rate set */
    pthread_mutex_t mu;
    uint64_t rate[QUOTA_N];         /* per second; 0 = unlimited */
    /* Millionths of a token, so that refills of a few microseconds are
     * not lost to rounding; at most rate * 1e6 (one second of burst). */
    int64_t tokens[QUOTA_N];
    int64_t last_us;                /* monotonic time of the last refill */
};

/* Buckets start full. 'c' is copied; all zeros means unlimited. */
void quota_init(struct quota *q, const struct cfg_quotas *c, int64_t now_us);
void quota_release(struct quota *q);

/* How many of the n records to accept, in order: the longest prefix that
 * the buckets cover at 'now_us' (monotonic). The tokens for that prefix
 * are taken; a request that gets 0 records takes nothing. A record larger
 * than the whole byte burst passes when the byte bucket is full (so a
 * small BytesPerSecond cannot lock a large record out for good) and
 * leaves it in debt. n when the stream has no quotas. */
size_t quota_take(struct quota *q, const struct iovec *recs, size_t n,
                  int64_t now_us);

#endif
