#include "sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define SIGV4_ALGO "AWS4-HMAC-SHA256"
/* The longest secret we accept; real ones are 40 characters. */
#define SIGV4_MAX_SECRET 256

/* One header as sorted for the canonical form. */
struct hent {
    const char *name;
    const char *value;
    size_t      idx;            /* received order, to keep sorting stable */
};

/* One query parameter, both halves already UriEncoded, NUL-terminated. */
struct qent {
    size_t name_off;
    size_t value_off;
};

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
           c == '~';
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static unsigned char lower(unsigned char c)
{
    /* ASCII only: header names are tokens and the locale must not matter. */
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static int is_ws(unsigned char c)
{
    /* CR and LF count so that obs-folded values unfold to one space. */
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Spec §2.1: unreserved bytes as is, '/' kept only when keep_slash, every
 * other byte as %XX with uppercase hex. */
static int uri_encode(struct buf *out, const char *s, size_t n, int keep_slash,
                      struct err *e)
{
    static const char hex[] = "0123456789ABCDEF";
    char pct[3] = { '%', 0, 0 };

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t run = i;

        /* Copy runs of plain bytes in one append. */
        while (run < n && (is_unreserved((unsigned char)s[run]) ||
                           (keep_slash && s[run] == '/')))
            run++;
        if (run > i) {
            if (buf_append(out, s + i, run - i, e) != 0)
                return -1;
            i = run - 1;
            continue;
        }
        pct[1] = hex[c >> 4];
        pct[2] = hex[c & 15];
        if (buf_append(out, pct, 3, e) != 0)
            return -1;
    }
    return 0;
}

/* Decode %XX (a '%' not followed by two hex digits stays literal; '+' is
 * not a space in SigV4) and UriEncode the result, '/' included. */
static int decode_encode(struct buf *out, const char *s, size_t n,
                         int keep_slash, struct err *e)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int hi, lo;

        if (c == '%' && i + 2 < n &&
            (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
            (lo = hexval((unsigned char)s[i + 2])) >= 0) {
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (uri_encode(out, &c, 1, keep_slash, e) != 0)
            return -1;
    }
    return 0;
}

/* Non-S3 canonical URI (spec §2.2): drop '.' and empty segments, let '..'
 * remove the previous one, keep a trailing slash, then UriEncode each
 * segment of the wire path (so '%' becomes '%25': the double encoding). The
 * output holds '/' only as a separator, so '..' can back up to the last
 * '/' of what was written. */
static int canonical_uri_normalised(struct buf *out, const char *path,
                                    struct err *e)
{
    size_t start = out->len;
    size_t n = strlen(path);
    const char *p = path, *end = path + n;

    while (p < end) {
        const char *seg, *slash;
        size_t len;

        while (p < end && *p == '/')
            p++;
        if (p == end)
            break;
        seg = p;
        slash = memchr(seg, '/', (size_t)(end - seg));
        p = slash ? slash : end;
        len = (size_t)(p - seg);
        if (len == 1 && seg[0] == '.')
            continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            while (out->len > start && out->p[out->len - 1] != '/')
                out->len--;
            if (out->len > start)
                out->len--;
            continue;
        }
        if (buf_append(out, "/", 1, e) != 0 ||
            uri_encode(out, seg, len, 0, e) != 0)
            return -1;
    }
    if (out->len == start || (n > 0 && path[n - 1] == '/'))
        return buf_append(out, "/", 1, e);
    return 0;
}

/* S3 canonical URI: no normalising; the canonical form is the object key
 * UriEncoded once with '/' kept. The wire path is already encoded, so it is
 * decoded first: a correctly encoded wire path comes back unchanged. */
static int canonical_uri_s3(struct buf *out, const char *path, struct err *e)
{
    if (path[0] == '\0')
        return buf_append(out, "/", 1, e);
    return decode_encode(out, path, strlen(path), 1, e);
}

static int qent_cmp(const struct qent *x, const struct qent *y,
                    const char *base)
{
    int c = strcmp(base + x->name_off, base + y->name_off);

    return c ? c : strcmp(base + x->value_off, base + y->value_off);
}

/* qsort() has no context argument and we keep no globals, so a small
 * merge sort of our own; 'tmp' has room for n entries. */
static void qent_sort(struct qent *v, struct qent *tmp, size_t n,
                      const char *base)
{
    size_t mid, i, j, k;

    if (n < 2)
        return;
    mid = n / 2;
    qent_sort(v, tmp, mid, base);
    qent_sort(v + mid, tmp, n - mid, base);
    for (i = 0, j = mid, k = 0; i < mid && j < n; k++)
        tmp[k] = qent_cmp(&v[j], &v[i], base) < 0 ? v[j++] : v[i++];
    while (i < mid)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof(*v));
}

/* Spec §2.3. Empty pieces ("a=1&&b=2", a trailing '&') are not parameters
 * and are skipped. */
static int canonical_query(struct buf *out, const char *query, struct err *e)
{
    struct buf strs = { 0 }, ents = { 0 };
    const char *p = query, *end;
    struct qent *v;
    size_t n = 0;
    int rc = -1;

    if (query == NULL || query[0] == '\0')
        return 0;
    end = query + strlen(query);
    while (p <= end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        struct qent q;

        if (pe > p) {
            const char *ne = eq ? eq : pe;

            q.name_off = strs.len;
            if (decode_encode(&strs, p, (size_t)(ne - p), 0, e) != 0 ||
                buf_append(&strs, "", 1, e) != 0)
                goto out;
            q.value_off = strs.len;
            if ((eq && decode_encode(&strs, eq + 1, (size_t)(pe - eq - 1), 0,
                                     e) != 0) ||
                buf_append(&strs, "", 1, e) != 0 ||
                buf_append(&ents, &q, sizeof(q), e) != 0)
                goto out;
            n++;
        }
        p = pe + 1;
    }
    if (n == 0) {
        /* Only empty pieces ("&&"): an empty canonical query. */
        rc = 0;
        goto out;
    }
    /* Room for the merge sort's scratch copy. */
    if (buf_reserve(&ents, n * sizeof(struct qent), e) != 0)
        goto out;
    v = (struct qent *)(void *)ents.p;
    qent_sort(v, v + n, n, (const char *)strs.p);
    for (size_t i = 0; i < n; i++) {
        if (buf_printf(out, e, "%s%s=%s", i ? "&" : "",
                       (const char *)strs.p + v[i].name_off,
                       (const char *)strs.p + v[i].value_off) != 0)
            goto out;
    }
    rc = 0;
out:
    buf_release(&strs);
    buf_release(&ents);
    return rc;
}

/* Lowercase byte order of the names, then received order. */
static int hent_cmp(const struct hent *x, const struct hent *y)
{
    const unsigned char *a = (const unsigned char *)x->name;
    const unsigned char *b = (const unsigned char *)y->name;

    for (;; a++, b++) {
        unsigned char ca = lower(*a), cb = lower(*b);

        if (ca != cb)
            return ca < cb ? -1 : 1;
        if (ca == '\0')
            break;
    }
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int same_name(const struct hent *x, const struct hent *y)
{
    const unsigned char *a = (const unsigned char *)x->name;
    const unsigned char *b = (const unsigned char *)y->name;

    for (; lower(*a) == lower(*b); a++, b++)
        if (*a == '\0')
            return 1;
    return 0;
}

/* Merge sort: stable, so duplicate names keep their received order. */
static void hent_sort(struct hent *v, struct hent *tmp, size_t n)
{
    size_t mid, i, j, k;

    if (n < 2)
        return;
    mid = n / 2;
    hent_sort(v, tmp, mid);
    hent_sort(v + mid, tmp, n - mid);
    for (i = 0, j = mid, k = 0; i < mid && j < n; k++)
        tmp[k] = hent_cmp(&v[j], &v[i]) < 0 ? v[j++] : v[i++];
    while (i < mid)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof(*v));
}

static int append_lower(struct buf *out, const char *s, struct err *e)
{
    for (; *s; s++) {
        char c = (char)lower((unsigned char)*s);

        if (buf_append(out, &c, 1, e) != 0)
            return -1;
    }
    return 0;
}

/* Trimmed, every whitespace run (folds included) as one space. */
static int append_value(struct buf *out, const char *s, struct err *e)
{
    int pending = 0, any = 0;

    for (; *s; s++) {
        if (is_ws((unsigned char)*s)) {
            pending = any;
            continue;
        }
        if (pending && buf_append(out, " ", 1, e) != 0)
            return -1;
        if (buf_append(out, s, 1, e) != 0)
            return -1;
        pending = 0;
        any = 1;
    }
    return 0;
}

/* The canonical request into 'creq' and the signed-header list into
 * 'signed_list' (either may be NULL). */
static int canonicalise(const struct sigv4_request *r, struct buf *creq,
                        struct buf *signed_list, struct err *e)
{
    struct buf hb = { 0 };
    struct hent *v;
    const char *path;
    char hash[65];
    size_t n = r->n_headers;
    int rc = -1;

    if (r->method == NULL || r->method[0] == '\0')
        return err_set(e, ERR_INVAL, "sigv4: request has no method");
    for (size_t i = 0; i < n; i++)
        if (r->headers[i].name == NULL || r->headers[i].name[0] == '\0')
            return err_set(e, ERR_INVAL, "sigv4: header %zu has no name", i);
    if (buf_reserve(&hb, 2 * n * sizeof(struct hent) + 1, e) != 0)
        return -1;
    v = (struct hent *)(void *)hb.p;
    for (size_t i = 0; i < n; i++) {
        v[i].name = r->headers[i].name;
        v[i].value = r->headers[i].value ? r->headers[i].value : "";
        v[i].idx = i;
    }
    hent_sort(v, v + n, n);

    if (signed_list != NULL) {
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && same_name(&v[i - 1], &v[i]))
                continue;
            if ((i > 0 && buf_append(signed_list, ";", 1, e) != 0) ||
                append_lower(signed_list, v[i].name, e) != 0)
                goto out;
        }
    }
    if (creq == NULL) {
        rc = 0;
        goto out;
    }

    path = r->path ? r->path : "";
    if (buf_printf(creq, e, "%s\n", r->method) != 0 ||
        (r->s3 ? canonical_uri_s3(creq, path, e)
               : canonical_uri_normalised(creq, path, e)) != 0 ||
        buf_append(creq, "\n", 1, e) != 0 ||
        canonical_query(creq, r->query, e) != 0 ||
        buf_append(creq, "\n", 1, e) != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        int cont = i > 0 && same_name(&v[i - 1], &v[i]);

        if (cont) {
            /* Received order is kept by the stable sort. */
            creq->len--;        /* the previous line's '\n' */
            if (buf_append(creq, ",", 1, e) != 0)
                goto out;
        } else if (append_lower(creq, v[i].name, e) != 0 ||
                   buf_append(creq, ":", 1, e) != 0) {
            goto out;
        }
        if (append_value(creq, v[i].value, e) != 0 ||
            buf_append(creq, "\n", 1, e) != 0)
            goto out;
    }
    if (buf_append(creq, "\n", 1, e) != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && same_name(&v[i - 1], &v[i]))
            continue;
        if ((i > 0 && buf_append(creq, ";", 1, e) != 0) ||
            append_lower(creq, v[i].name, e) != 0)
            goto out;
    }
    if (r->payload_hash == NULL)
        sigv4_sha256_hex(r->body, r->body_len, hash);
    if (buf_printf(creq, e, "\n%s",
                   r->payload_hash ? r->payload_hash : hash) != 0)
        goto out;
    rc = 0;
out:
    buf_release(&hb);
    return rc;
}

void sigv4_sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    /* EVP_Digest() only fails without a working default provider; an
     * empty hash then makes the peer reject the request loudly. */
    if (EVP_Digest(p ? p : "", n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != 32) {
        out[0] = '\0';
        return;
    }
    util_hex(md, 32, out);
}

int sigv4_canonical_request(const struct sigv4_request *r, struct buf *out,
                            struct err *e)
{
    return canonicalise(r, out, NULL, e);
}

static int check_key(const struct sigv4_key *k, struct err *e)
{
    if (k->access_key_id == NULL || k->secret == NULL ||
        k->region == NULL || k->service == NULL || k->amz_date == NULL)
        return err_set(e, ERR_INVAL, "sigv4: incomplete signing key");
    if (strlen(k->amz_date) != 16 || k->amz_date[8] != 'T' ||
        k->amz_date[15] != 'Z')
        return err_set(e, ERR_INVAL, "sigv4: bad amz date '%.32s'",
                       k->amz_date);
    return 0;
}

/* String to sign from an already built canonical request. */
static int sts_from_creq(const struct sigv4_key *k, const struct buf *creq,
                         struct buf *out, struct err *e)
{
    char hash[65];

    sigv4_sha256_hex(creq->p, creq->len, hash);
    return buf_printf(out, e, SIGV4_ALGO "\n%s\n%.8s/%s/%s/aws4_request\n%s",
                      k->amz_date, k->amz_date, k->region, k->service, hash);
}

int sigv4_string_to_sign(const struct sigv4_request *r,
                         const struct sigv4_key *k, struct buf *out,
                         struct err *e)
{
    struct buf creq = { 0 };
    int rc = -1;

    if (check_key(k, e) == 0 && canonicalise(r, &creq, NULL, e) == 0)
        rc = sts_from_creq(k, &creq, out, e);
    buf_release(&creq);
    return rc;
}

static int hmac(const void *key, size_t klen, const void *msg, size_t mlen,
                unsigned char out[32], struct err *e)
{
    unsigned int len = 0;

    if (HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &len) == NULL ||
        len != 32)
        return err_set(e, ERR_INVAL, "sigv4: HMAC-SHA256 failed");
    return 0;
}

int sigv4_signing_key(const char *secret, const char *date,
                      const char *region, const char *service,
                      unsigned char out[32], struct err *e)
{
    char k0[4 + SIGV4_MAX_SECRET];
    size_t n = strlen(secret);
    int rc = -1;

    if (n > SIGV4_MAX_SECRET)
        return err_set(e, ERR_INVAL, "sigv4: secret key longer than %d",
                       SIGV4_MAX_SECRET);
    if (strlen(date) < 8)
        return err_set(e, ERR_INVAL, "sigv4: bad date '%.16s'", date);
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, n);
    if (hmac(k0, 4 + n, date, 8, out, e) == 0 &&
        hmac(out, 32, region, strlen(region), out, e) == 0 &&
        hmac(out, 32, service, strlen(service), out, e) == 0 &&
        hmac(out, 32, "aws4_request", 12, out, e) == 0)
        rc = 0;
    OPENSSL_cleanse(k0, sizeof(k0));
    return rc;
}

/* Signature, and the signed-header list when 'signed_list' is not NULL. */
static int sign(const struct sigv4_request *r, const struct sigv4_key *k,
                char sig[65], struct buf *signed_list, struct err *e)
{
    struct buf creq = { 0 }, sts = { 0 };
    unsigned char key[32], mac[32];
    int rc = -1;

    if (check_key(k, e) != 0 ||
        canonicalise(r, &creq, signed_list, e) != 0 ||
        sts_from_creq(k, &creq, &sts, e) != 0 ||
        sigv4_signing_key(k->secret, k->amz_date, k->region, k->service,
                          key, e) != 0)
        goto out;
    if (hmac(key, sizeof(key), sts.p, sts.len, mac, e) != 0)
        goto out;
    util_hex(mac, sizeof(mac), sig);
    rc = 0;
out:
    OPENSSL_cleanse(key, sizeof(key));
    buf_release(&creq);
    buf_release(&sts);
    return rc;
}

int sigv4_signature(const struct sigv4_request *r, const struct sigv4_key *k,
                    char sig[65], struct err *e)
{
    return sign(r, k, sig, NULL, e);
}

int sigv4_authorization(const struct sigv4_request *r,
                        const struct sigv4_key *k, char *authz, size_t size,
                        struct err *e)
{
    struct buf sl = { 0 };
    char sig[65];
    int n, rc = -1;

    if (sign(r, k, sig, &sl, e) != 0 || buf_append(&sl, "", 1, e) != 0)
        goto out;
    n = snprintf(authz, size,
                 SIGV4_ALGO " Credential=%s/%.8s/%s/%s/aws4_request, "
                 "SignedHeaders=%s, Signature=%s",
                 k->access_key_id, k->amz_date, k->region, k->service,
                 (const char *)sl.p, sig);
    if (n < 0 || (size_t)n >= size) {
        err_set(e, ERR_INVAL, "sigv4: authorization header needs %d bytes, "
                "have %zu", n, size);
        goto out;
    }
    rc = 0;
out:
    buf_release(&sl);
    return rc;
}

void sigv4_amz_date(char out[17])
{
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}
