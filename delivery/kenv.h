/* kenv.h - the envelope of a Kinesis-sourced record in the spool: a small
 * header (shard id, sequence number, sub-sequence number, partition key,
 * approximate arrival) in front of the data, so that the metadata
 * survives restarts with the record. Strings are stored NUL-terminated,
 * so the reader points into the spool's buffer without copying. */
#ifndef FH_KENV_H
#define FH_KENV_H

#include <stddef.h>
#include <stdint.h>

#define KENV_FIXED 22           /* header bytes before the strings */

struct kenv_meta {
    const char *shard_id;       /* < 256 bytes */
    const char *seq;            /* < 256 bytes */
    const char *pk;             /* < 65536 bytes */
    size_t pk_len;
    uint64_t subseq;
    int64_t arrival_ms;
};

/* Header size for this metadata. */
size_t kenv_size(const struct kenv_meta *m);
/* Write the header (kenv_size() bytes) at out. */
void kenv_write(unsigned char *out, const struct kenv_meta *m);
/* Split a spooled record: 0 with *m (pointing into rec) and the data, or
 * -1 when rec is not an envelope. */
int kenv_read(const unsigned char *rec, size_t len, struct kenv_meta *m,
              const unsigned char **data, size_t *data_len);

#endif
