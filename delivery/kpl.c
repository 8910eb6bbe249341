/* kpl.c - KPL aggregate decoding (see kpl.h; format in
 * ../shared/spec/kinesis-source.md §3). Two steps: check magic and MD5,
 * then walk the protobuf once, collecting the two key tables and the
 * records (tables may come in any order on the wire, so indexes are
 * resolved at the end). */
#include "kpl.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char kpl_magic[4] = { 0xF3, 0x89, 0x9A, 0xC2 };

#define KPL_MD5_LEN 16

/* Protobuf wire types. */
enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

struct rd {
    const unsigned char *p, *end;
};

static int varint(struct rd *r, uint64_t *out)
{
    uint64_t v = 0;

    for (int shift = 0; shift < 70; shift += 7) {
        unsigned char b;

        if (r->p >= r->end)
            return -1;
        b = *r->p++;
        if (shift == 63 && b > 1)
            return -1;              /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* A length-delimited field's bytes. */
static int lenfield(struct rd *r, struct kpl_str *out)
{
    uint64_t n;

    if (varint(r, &n) != 0 || n > (uint64_t)(r->end - r->p))
        return -1;
    out->p = r->p;
    out->len = (size_t)n;
    r->p += n;
    return 0;
}

static int skip(struct rd *r, unsigned wt)
{
    uint64_t v;
    struct kpl_str s;

    switch (wt) {
    case WT_VARINT:
        return varint(r, &v);
    case WT_I64:
        if (r->end - r->p < 8)
            return -1;
        r->p += 8;
        return 0;
    case WT_LEN:
        return lenfield(r, &s);
    case WT_I32:
        if (r->end - r->p < 4)
            return -1;
        r->p += 4;
        return 0;
    }
    return -1;                      /* groups (3, 4) and unknown types */
}

static int grow(void **arr, size_t *cap, size_t need, size_t size,
                struct err *e)
{
    size_t c = *cap ? *cap : 16;
    void *p;

    if (need <= *cap)
        return 0;
    while (c < need)
        c *= 2;
    if ((p = realloc(*arr, c * size)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory decoding a KPL "
                       "aggregate of %zu records", need);
    *arr = p;
    *cap = c;
    return 0;
}

/* One Record message. 1: -1 malformed. */
static int record(struct rd *r, struct kpl_user *u)
{
    int have_pk = 0, have_data = 0;

    memset(u, 0, sizeof(*u));
    u->ehk_idx = UINT64_MAX;
    while (r->p < r->end) {
        uint64_t tag, v;
        struct kpl_str s;

        if (varint(r, &tag) != 0)
            return -1;
        switch (tag) {
        case (1 << 3) | WT_VARINT:
            if (varint(r, &v) != 0)
                return -1;
            u->pk_idx = v;
            have_pk = 1;
            break;
        case (2 << 3) | WT_VARINT:
            if (varint(r, &v) != 0)
                return -1;
            u->ehk_idx = v;
            break;
        case (3 << 3) | WT_LEN:
            if (lenfield(r, &s) != 0)
                return -1;
            u->data = s.p;
            u->len = s.len;
            have_data = 1;
            break;
        default:
            if ((tag >> 3) == 0 || skip(r, (unsigned)(tag & 7)) != 0)
                return -1;
        }
    }
    return have_pk && have_data ? 0 : -1;
}

/* Walk the AggregatedRecord. 0, 1 (malformed, e says why) or -1. */
static int walk(struct kpl *k, struct rd *r, struct err *e)
{
    while (r->p < r->end) {
        uint64_t tag;
        struct kpl_str s;
        struct rd sub;

        if (varint(r, &tag) != 0)
            return err_set(e, ERR_INVAL, "truncated field tag"), 1;
        switch (tag) {
        case (1 << 3) | WT_LEN:
        case (2 << 3) | WT_LEN:
            if (lenfield(r, &s) != 0)
                return err_set(e, ERR_INVAL, "truncated key table entry"), 1;
            if (tag >> 3 == 1) {
                if (grow((void **)&k->pks, &k->pkcap, k->npk + 1,
                         sizeof(*k->pks), e) != 0)
                    return -1;
                k->pks[k->npk++] = s;
            } else {
                if (grow((void **)&k->ehks, &k->ehkcap, k->nehk + 1,
                         sizeof(*k->ehks), e) != 0)
                    return -1;
                k->ehks[k->nehk++] = s;
            }
            break;
        case (3 << 3) | WT_LEN:
            if (lenfield(r, &s) != 0)
                return err_set(e, ERR_INVAL, "truncated record"), 1;
            if (grow((void **)&k->recs, &k->cap, k->n + 1, sizeof(*k->recs),
                     e) != 0)
                return -1;
            sub.p = s.p;
            sub.end = s.p + s.len;
            if (record(&sub, &k->recs[k->n]) != 0)
                return err_set(e, ERR_INVAL, "record %zu is malformed "
                               "(missing partition_key_index or data, or "
                               "a bad field)", k->n), 1;
            k->n++;
            break;
        default:
            if ((tag >> 3) == 0 || skip(r, (unsigned)(tag & 7)) != 0)
                return err_set(e, ERR_INVAL, "bad field %llu of wire type "
                               "%u", (unsigned long long)(tag >> 3),
                               (unsigned)(tag & 7)), 1;
        }
    }
    if (k->n == 0)
        return err_set(e, ERR_INVAL, "aggregate holds no records"), 1;
    for (size_t i = 0; i < k->n; i++) {
        struct kpl_user *u = &k->recs[i];

        if (u->pk_idx >= k->npk)
            return err_set(e, ERR_INVAL, "record %zu: partition key index "
                           "%llu out of the table (%zu)", i,
                           (unsigned long long)u->pk_idx, k->npk), 1;
        u->pk = k->pks[u->pk_idx];
        if (u->ehk_idx != UINT64_MAX) {
            if (u->ehk_idx >= k->nehk)
                return err_set(e, ERR_INVAL, "record %zu: explicit hash key "
                               "index %llu out of the table (%zu)", i,
                               (unsigned long long)u->ehk_idx, k->nehk), 1;
            u->ehk = k->ehks[u->ehk_idx];
        }
    }
    return 0;
}

int kpl_decode(struct kpl *k, const unsigned char *p, size_t n,
               enum kpl_kind *kind, struct err *e)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    struct rd r;
    int rc;

    k->n = k->npk = k->nehk = 0;
    *kind = KPL_PLAIN;
    if (n < sizeof(kpl_magic) || memcmp(p, kpl_magic, sizeof(kpl_magic)))
        return 0;
    *kind = KPL_MALFORMED;
    if (n <= sizeof(kpl_magic) + KPL_MD5_LEN) {
        err_set(e, ERR_INVAL, "KPL magic but only %zu bytes", n);
        return 0;
    }
    r.p = p + sizeof(kpl_magic);
    r.end = p + n - KPL_MD5_LEN;
    if (EVP_Digest(r.p, (size_t)(r.end - r.p), md, &mdlen, EVP_md5(),
                   NULL) != 1 || mdlen != KPL_MD5_LEN)
        return err_set(e, ERR_NOMEM, "MD5 failed (OpenSSL)");
    if (memcmp(md, r.end, KPL_MD5_LEN) != 0) {
        err_set(e, ERR_INVAL, "KPL magic but the MD5 does not match");
        return 0;
    }
    rc = walk(k, &r, e);
    if (rc < 0)
        return -1;
    if (rc > 0) {
        k->n = 0;
        return 0;
    }
    *kind = KPL_AGGREGATE;
    return 0;
}

void kpl_release(struct kpl *k)
{
    free(k->pks);
    free(k->ehks);
    free(k->recs);
    memset(k, 0, sizeof(*k));
}

int kpl_parse_u128(const char *s, size_t n, kpl_u128 *out)
{
    kpl_u128 v = 0;
    const kpl_u128 max = ~(kpl_u128)0;

    if (n == 0 || n > 39)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned d;

        if (s[i] < '0' || s[i] > '9')
            return -1;
        d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

kpl_u128 kpl_pk_hash(const unsigned char *pk, size_t n)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    kpl_u128 v = 0;

    if (EVP_Digest(pk, n, md, &mdlen, EVP_md5(), NULL) != 1)
        return 0;
    for (int i = 0; i < 16; i++)
        v = (v << 8) | md[i];
    return v;
}

kpl_u128 kpl_user_hash(const struct kpl_user *u)
{
    kpl_u128 v;

    if (u->ehk.p != NULL &&
        kpl_parse_u128((const char *)u->ehk.p, u->ehk.len, &v) == 0)
        return v;
    return kpl_pk_hash(u->pk.p, u->pk.len);
}

void kpl_format_u128(kpl_u128 v, char *out)
{
    char tmp[40];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}
