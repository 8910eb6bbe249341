/* ddb.h - the DynamoDB lease store: the KCL lease table (same attribute
 * names and types as the KCL writes: leaseKey S, leaseOwner S,
 * leaseCounter N, checkpoint S, checkpointSubSequenceNumber N,
 * ownerSwitchesSinceCheckpoint N, parentShardId SS, startingHashKey S,
 * endingHashKey S), created if missing (PAY_PER_REQUEST), every ownership
 * write conditional on leaseCounter (checkpoints also on leaseOwner).
 * Unknown attributes are left alone. Calls block; one thread uses it. */
#ifndef FH_DDB_H
#define FH_DDB_H

#include "err.h"
#include "lease.h"

struct ddb_opts {
    const char *endpoint;       /* http(s)://host[:port] */
    const char *region;
    const char *table;
    long timeout_ms;            /* per request; 0 = 10 s */
};

/* Open (DescribeTable; CreateTable and wait for ACTIVE when missing). */
int ddb_lease_store(const struct ddb_opts *o, struct lease_store *out,
                    struct err *e);

#endif
