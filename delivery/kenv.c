/* kenv.c - see kenv.h. Layout (little-endian): 'K', version 1, shard id
 * length (u8), sequence number length (u8), partition key length (u16),
 * sub-sequence number (u64), arrival ms (i64), then the three strings,
 * each followed by a NUL, then the data. */
#include "kenv.h"

#include <string.h>

size_t kenv_size(const struct kenv_meta *m)
{
    return KENV_FIXED + strlen(m->shard_id) + 1 + strlen(m->seq) + 1 +
           m->pk_len + 1;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;

    for (int i = n; i-- > 0;)
        v = (v << 8) | p[i];
    return v;
}

void kenv_write(unsigned char *out, const struct kenv_meta *m)
{
    size_t sl = strlen(m->shard_id), ql = strlen(m->seq);
    unsigned char *p = out + KENV_FIXED;

    out[0] = 'K';
    out[1] = 1;
    out[2] = (unsigned char)sl;
    out[3] = (unsigned char)ql;
    put_le(out + 4, m->pk_len, 2);
    put_le(out + 6, m->subseq, 8);
    put_le(out + 14, (uint64_t)m->arrival_ms, 8);
    memcpy(p, m->shard_id, sl + 1);
    p += sl + 1;
    memcpy(p, m->seq, ql + 1);
    p += ql + 1;
    memcpy(p, m->pk, m->pk_len);
    p[m->pk_len] = '\0';
}

int kenv_read(const unsigned char *rec, size_t len, struct kenv_meta *m,
              const unsigned char **data, size_t *data_len)
{
    size_t sl, ql, pl, hdr;

    if (len < KENV_FIXED || rec[0] != 'K' || rec[1] != 1)
        return -1;
    sl = rec[2];
    ql = rec[3];
    pl = (size_t)get_le(rec + 4, 2);
    hdr = KENV_FIXED + sl + 1 + ql + 1 + pl + 1;
    if (hdr > len || rec[KENV_FIXED + sl] != '\0' ||
        rec[KENV_FIXED + sl + 1 + ql] != '\0' || rec[hdr - 1] != '\0')
        return -1;
    m->subseq = get_le(rec + 6, 8);
    m->arrival_ms = (int64_t)get_le(rec + 14, 8);
    m->shard_id = (const char *)rec + KENV_FIXED;
    m->seq = m->shard_id + sl + 1;
    m->pk = m->seq + ql + 1;
    m->pk_len = pl;
    *data = rec + hdr;
    *data_len = len - hdr;
    return 0;
}
