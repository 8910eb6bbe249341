/* lease.h - KCL-compatible shard leases (../shared/spec/kinesis-source.md
 * §2): the lease record, a store vtable with two backends (a local file
 * or memory here, the DynamoDB lease table in ddb.h) and the lease
 * manager: renewal, expiry as seen by others, taking, stealing for an
 * even split, and checkpoints conditional on leaseCounter and leaseOwner.
 *
 * The manager is a state machine driven by one thread (the source's
 * coordinator) with the time passed in, so the unit tests run it against
 * a fake store and a fake clock. Nothing here blocks but the store. */
#ifndef FH_LEASE_H
#define FH_LEASE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define LEASE_KEY_MAX 64
#define LEASE_OWNER_MAX 128
#define LEASE_CP_MAX 132

struct lease {
    char key[LEASE_KEY_MAX];            /* leaseKey = shard id */
    char owner[LEASE_OWNER_MAX];        /* leaseOwner; "" = none */
    uint64_t counter;                   /* leaseCounter */
    char checkpoint[LEASE_CP_MAX];      /* sequence number or TRIM_HORIZON,
                                         * LATEST, AT_TIMESTAMP, SHARD_END */
    uint64_t subseq;                    /* checkpointSubSequenceNumber */
    uint64_t owner_switches;            /* ownerSwitchesSinceCheckpoint */
    char parents[2][LEASE_KEY_MAX];     /* parentShardId (SS) */
    int n_parents;
    char children[2][LEASE_KEY_MAX];    /* childShardIds (SS), written at
                                         * the shard's end */
    int n_children;
    char start_hk[40], end_hk[40];      /* "" when unknown */
};

/* Store results: 0 done, LEASE_CONFLICT when the condition failed (lost
 * race, lease lost, already exists), -1 on error (e filled; ERR_RETRY for
 * transient ones). */
#define LEASE_CONFLICT 1
/* lease_mgr_checkpoint(): not renewed within the failover time (the store
 * was unreachable), so others may have it: dropped, nothing written. */
#define LEASE_EXPIRED 2

struct lease_store_ops {
    /* Every lease (the whole table); *out malloc'ed, caller frees. */
    int (*list)(void *ctx, struct lease **out, size_t *n, struct err *e);
    /* 1 found, 0 absent, -1 error; strongly consistent. */
    int (*get)(void *ctx, const char *key, struct lease *out,
               struct err *e);
    /* Only if absent. */
    int (*create)(void *ctx, const struct lease *l, struct err *e);
    /* counter := c + 1 if counter == c. */
    int (*renew)(void *ctx, const char *key, uint64_t c, struct err *e);
    /* owner := me, counter := c + 1 (+1 ownerSwitches when 'switched') if
     * counter == c. */
    int (*take)(void *ctx, const char *key, uint64_t c, const char *me,
                int switched, struct err *e);
    /* checkpoint, subseq, ownerSwitches := 0, counter := c + 1 if counter
     * == c and owner == me. */
    int (*checkpoint)(void *ctx, const char *key, uint64_t c,
                      const char *me, const char *cp, uint64_t sub,
                      struct err *e);
    /* owner removed, counter := c + 1 if owner == me. */
    int (*evict)(void *ctx, const char *key, uint64_t c, const char *me,
                 struct err *e);
    /* childShardIds := ids (1 or 2) if the lease exists; the counter is
     * left alone, as the KCL does. */
    int (*set_children)(void *ctx, const char *key, const char ids[][LEASE_KEY_MAX],
                        int n, struct err *e);
    void (*free)(void *ctx);
};

struct lease_store {
    const struct lease_store_ops *ops;
    void *ctx;
};

/* The local store: the table in memory, saved (atomically, fsynced) to
 * 'path' on every create and checkpoint; NULL path = memory only (tests).
 * Loading clears every owner: one process owns the file. */
int lease_store_local(const char *path, struct lease_store *out,
                      struct err *e);
void lease_store_free(struct lease_store *s);   /* ops NULL is a no-op */

/* Checkpoint order (KCL ExtendedSequenceNumber): SHARD_END above all,
 * AT_TIMESTAMP < TRIM_HORIZON < LATEST < every sequence number, then the
 * sub-sequence number. <0, 0, >0. */
int lease_cp_cmp(const char *a, uint64_t asub, const char *b,
                 uint64_t bsub);
int lease_cp_is_seq(const char *cp);            /* digits, not a sentinel */

struct lease_mgr_opts {
    const char *worker;                 /* leaseOwner value; copied */
    int64_t failover_ms;                /* lease duration, default 10000 */
    int max_leases;                     /* 0 = unlimited */
    int max_steal;                      /* per taker run, default 1 */
};

struct lease_mgr;

int lease_mgr_new(const struct lease_store *store,
                  const struct lease_mgr_opts *o, struct lease_mgr **out,
                  struct err *e);
void lease_mgr_free(struct lease_mgr *m);       /* NULL is a no-op */

/* A lease this worker holds. 'token' changes with every acquisition, so
 * a consumer started for an earlier tenure can never checkpoint. */
struct lease_held {
    struct lease l;                     /* as last written or read */
    uint64_t token;
    int64_t renewed_ms;                 /* our clock, last counter bump */
};

/* Renew every held lease (call every failover/3). Leases that are
 * locally expired or whose renewal lost the condition are dropped (but a
 * lease whose stored owner is still us, at a newer counter, is kept: a
 * write that timed out was applied after all). Returns how many were
 * lost, -1 on a store error (leases stay held until they expire
 * locally). */
int lease_mgr_renew(struct lease_mgr *m, int64_t now_ms, struct err *e);
/* Drop, without a store call, the leases not renewed within the failover
 * time: other workers may take them from now on, so reading must stop
 * even while every store call hangs. Returns how many were dropped. */
int lease_mgr_expire(struct lease_mgr *m, int64_t now_ms);
/* Scan the table, update what others hold, take available leases (very
 * old ones first), else steal one from the busiest worker, KCL 2.x rules
 * (§2.7-2.8). Finished leases (SHARD_END) are neither taken nor counted.
 * Returns how many were taken, -1 on error. */
int lease_mgr_take(struct lease_mgr *m, int64_t now_ms, struct err *e);
/* Checkpoint a held lease. 0, LEASE_CONFLICT (lost: dropped, the token
 * is no longer valid), LEASE_EXPIRED (likewise), ERR_NOTFOUND -1 (token
 * stale), -1 on error. */
int lease_mgr_checkpoint(struct lease_mgr *m, const char *key,
                         uint64_t token, const char *cp, uint64_t sub,
                         int64_t now_ms, struct err *e);
/* Give a held lease back (remove leaseOwner) so that others take it at
 * once; dropped locally whatever the store says. */
void lease_mgr_evict(struct lease_mgr *m, const char *key, struct err *e);

/* The held leases, borrowed until the next call on m. */
const struct lease_held *lease_mgr_held(const struct lease_mgr *m,
                                        size_t *n);
/* Is 'key' held with 'token'? */
int lease_mgr_holds(const struct lease_mgr *m, const char *key,
                    uint64_t token);
/* The table as of the last lease_mgr_take() scan, borrowed likewise. */
const struct lease *lease_mgr_table(const struct lease_mgr *m, size_t *n);
const struct lease *lease_mgr_find(const struct lease_mgr *m,
                                   const char *key);

#endif
