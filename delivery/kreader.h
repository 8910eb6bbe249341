/* kreader.h - the reader of one leased Kinesis shard, a thread of its
 * own: GetRecords (at most 5 calls a second, backoff on throttling and
 * 5xx, a new iterator after ExpiredIteratorException), KPL
 * de-aggregation, records dropped up to the checkpoint it resumed from,
 * and one spool append per GetRecords reply (the records in their
 * envelope, kenv.h). After each append it records the append's last
 * spool id with the Kinesis position reached in the shard's ring, which
 * the coordinator (ksource.c) turns into checkpoints once delivered. It
 * stops when told (lease lost, shutdown) before its next append, and at
 * the shard's end. */
#ifndef FH_KREADER_H
#define FH_KREADER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "../config/cfg.h"
#include "awsjson.h"
#include "kinesis.h"
#include "kpl.h"
#include "lease.h"
#include "metrics.h"

/* Appends per shard not yet committed; past it reading pauses. */
#define KREADER_MAX_INFLIGHT 256

/* What a stream's readers share; borrowed, outlives them. */
struct kreader_env {
    const struct cfg_stream *cfg;
    struct stream *st;
    struct metrics_stream *m;
    const char *who;                    /* "kinesis:<stream>" */
    const char *endpoint;
    const char *region;
};

/* Where a shard stands after an append: spool records up to 'spool_last'
 * hold Kinesis records up to (seq, sub). */
struct kpos {
    uint64_t spool_last;
    char seq[KINESIS_SEQ_MAX];
    uint64_t sub;
};

/* One shard being read; made by the coordinator, which owns it. */
struct kshard {
    const struct kreader_env *env;
    char id[LEASE_KEY_MAX];
    uint64_t token;             /* of the lease tenure this reader serves */
    char start_cp[LEASE_CP_MAX];    /* resume point */
    uint64_t start_sub;
    kpl_u128 lo, hi;            /* hash key range, when have_range */
    int have_range;
    pthread_t thread;
    int started;
    atomic_int stop;            /* lease lost or shutting down */
    atomic_int exited;
    atomic_int_fast64_t millis_behind;

    pthread_mutex_t mu;         /* guards what follows */
    struct kpos ring[KREADER_MAX_INFLIGHT];
    size_t head, count;
    int at_end;                 /* read to SHARD_END, all appended */
    char cp[LEASE_CP_MAX];      /* last checkpoint written (status) */
    uint64_t cp_sub;

    /* The coordinator's alone: a delivered position whose checkpoint
     * write failed, written again at the next pass. */
    struct kpos unsaved;
    int have_unsaved;
};

/* The thread: arg is the struct kshard. Sets 'exited' when done. */
void *kreader_main(void *arg);

/* Sleep up to ms, in 50 ms steps, returning early once *stop is set. */
void kreader_nap(const atomic_int *stop, int64_t ms);
/* A Kinesis client for env's endpoint and region. */
struct awsjson *kreader_client(const struct kreader_env *env,
                               long timeout_ms, struct err *e);

#endif
