/* kpl.h - de-aggregation of KPL aggregated records (Kinesis Producer
 * Library format: magic F3 89 9A C2, a protobuf AggregatedRecord, the MD5
 * of the protobuf). The decoder is a small hand-written protobuf
 * wire-format reader for this one schema: no code generator, no
 * allocation per record (the tables and results live in arrays reused
 * from call to call), and every malformed input is a result, not a crash.
 *
 * Also the 128-bit hash-key arithmetic Kinesis uses to route records to
 * shards (MD5 of the partition key, or an explicit decimal hash key). */
#ifndef FH_KPL_H
#define FH_KPL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef unsigned __int128 kpl_u128;

struct kpl_str {
    const unsigned char *p;     /* NULL: absent */
    size_t len;
};

/* One user record of an aggregate; every pointer points into the input. */
struct kpl_user {
    const unsigned char *data;
    size_t len;
    struct kpl_str pk;          /* partition key */
    struct kpl_str ehk;         /* explicit hash key (decimal); p NULL when
                                 * the record has none */
    uint64_t pk_idx, ehk_idx;   /* decoder's own (indexes into the tables) */
};

/* Reusable decoder state. Zero-initialise; kpl_release() frees. */
struct kpl {
    struct kpl_str *pks, *ehks;
    size_t npk, nehk, pkcap, ehkcap;
    struct kpl_user *recs;      /* the result of the last kpl_decode() */
    size_t n, cap;
};

enum kpl_kind {
    KPL_PLAIN = 0,              /* not an aggregate: deliver as is */
    KPL_AGGREGATE,              /* k->recs[0..k->n), n >= 1 */
    KPL_MALFORMED               /* starts with the magic but the MD5 or the
                                 * protobuf is wrong: deliver the raw
                                 * record as one, count it (e says why) */
};

/* Decode 'p' (n bytes, borrowed: the results point into it). Returns 0
 * with *kind set, or -1 with ERR_NOMEM. */
int kpl_decode(struct kpl *k, const unsigned char *p, size_t n,
               enum kpl_kind *kind, struct err *e);
void kpl_release(struct kpl *k);

/* A decimal hash key (1-39 digits, at most 2^128-1) into *out. 0, or -1
 * when it is not one. */
int kpl_parse_u128(const char *s, size_t n, kpl_u128 *out);
/* The shard routing value of a partition key: MD5 as a big-endian 128-bit
 * number. */
kpl_u128 kpl_pk_hash(const unsigned char *pk, size_t n);
/* The effective hash key of a user record: its explicit one if it has a
 * valid one, else the partition key's. */
kpl_u128 kpl_user_hash(const struct kpl_user *u);
/* Decimal into out (at least 40 bytes). */
void kpl_format_u128(kpl_u128 v, char *out);

#endif
