/* s3.c - Amazon S3 (or any S3-compatible server) by SigV4-signed
 * PutObject, or, for objects above Service.S3MultipartThresholdBytes, a
 * multipart upload fed by sink.c while the object is compressed
 * (CreateMultipartUpload, UploadPart..., CompleteMultipartUpload; a failed
 * one is aborted and the next attempt starts over). Objects carry the
 * stream's server-side encryption and storage class. Custom endpoints use
 * path-style addressing; AWS itself uses virtual-hosted style unless the
 * bucket name has a dot. One request per call: the core retries. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../delivery/awscred.h"
#include "../delivery/httpc.h"
#include "../delivery/log.h"
#include "../delivery/sigv4.h"
#include "dest.h"

#define S3_TIMEOUT_MS 120000L
#define S3_MAX_RESPONSE (64u * 1024u)
#define S3_MAX_PARTS 10000

struct s3 {
    char base[1024];            /* "http://127.0.0.1:9000/bucket" */
    char host[512];             /* Host header value */
    char path_prefix[600];      /* "/bucket" for path style, "" otherwise */
    char region[64];
    struct awscred cred;
    int have_cred;
    struct httpc *http;
    struct httpc_resp resp;
    struct buf url;
    struct buf path;
    const char *who;            /* the dest's id, for log lines */
    /* Object settings from the stream's config (copied). */
    char sse[16];               /* "" | "AES256" | "aws:kms" */
    char kms_key[520];          /* "" = the bucket's default KMS key */
    char storage_class[32];     /* "" = S3's default */
    /* The multipart upload in progress. */
    struct buf mp_key;          /* its object key, NUL-terminated */
    char upload_id[1024];       /* "" = none */
    unsigned part_no;           /* parts uploaded */
    struct buf done_xml;        /* CompleteMultipartUpload body so far */
    struct buf query;
};

/* One S3 request. */
struct s3_req {
    const char *op;             /* "PutObject", for messages */
    const char *method;
    const char *key;            /* object key, not encoded */
    const char *query;          /* encoded, without '?'; NULL = none */
    const void *body;
    size_t len;
    const char *content_type;   /* NULL = none */
    const char *content_encoding;   /* NULL = none */
    int object_headers;         /* send SSE and storage class */
};

/* host[:port] of an http(s) URL, and where its path starts. */
static int split_url(const char *url, char *host, size_t hsz,
                     const char **path, struct err *e)
{
    const char *h, *end;

    if (strncmp(url, "http://", 7) == 0)
        h = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        h = url + 8;
    else
        return err_set(e, ERR_INVAL, "S3 endpoint '%s' must start with "
                       "http:// or https://", url);
    end = strchr(h, '/');
    if (end == NULL)
        end = h + strlen(h);
    if (end == h || (size_t)(end - h) >= hsz)
        return err_set(e, ERR_INVAL, "S3 endpoint '%s' has no usable host",
                       url);
    memcpy(host, h, (size_t)(end - h));
    host[end - h] = '\0';
    *path = end;
    return 0;
}

static int s3_create(struct dest *d, const struct cfg_stream *s,
                     const struct cfg_service *svc, struct err *e)
{
    const char *endpoint = svc->endpoint_s3, *rest = NULL;
    const char *bucket = s->s3.bucket;
    struct s3 *c;
    char ep[1024];
    size_t n;

    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    d->ctx = c;
    snprintf(c->region, sizeof(c->region), "%s", svc->region);
    if (endpoint == NULL)
        endpoint = awscred_endpoint("S3");
    if (endpoint != NULL) {
        snprintf(ep, sizeof(ep), "%s", endpoint);
        n = strlen(ep);
        while (n > 0 && ep[n - 1] == '/')
            ep[--n] = '\0';
        if (split_url(ep, c->host, sizeof(c->host), &rest, e) != 0)
            return -1;
        snprintf(c->path_prefix, sizeof(c->path_prefix), "%s/%s", rest,
                 bucket);
        snprintf(c->base, sizeof(c->base), "%.*s%s",
                 (int)(rest - ep), ep, c->path_prefix);
    } else if (strchr(bucket, '.') != NULL) {
        snprintf(c->host, sizeof(c->host), "s3.%s.amazonaws.com", c->region);
        snprintf(c->path_prefix, sizeof(c->path_prefix), "/%s", bucket);
        snprintf(c->base, sizeof(c->base), "https://%s/%s", c->host, bucket);
    } else {
        snprintf(c->host, sizeof(c->host), "%s.s3.%s.amazonaws.com", bucket,
                 c->region);
        snprintf(c->base, sizeof(c->base), "https://%s", c->host);
    }
    if (awscred_load(&c->cred, e) == 0) {
        c->have_cred = 1;
    } else if (e->code == ERR_NOTFOUND) {
        log_msg(LOG_WARN, d->id, "no AWS credentials found (%s); requests "
                "to %s go unsigned", e->msg, c->host);
    } else {
        return -1;
    }
    c->http = httpc_new(e);
    if (c->http == NULL)
        return -1;
    c->who = d->id;
    /* Firehose's KMSEncryptionConfig means SSE-KMS with that key. */
    if (s->s3.kms_key_arn != NULL) {
        snprintf(c->sse, sizeof(c->sse), "aws:kms");
        snprintf(c->kms_key, sizeof(c->kms_key), "%s", s->s3.kms_key_arn);
    } else if (s->s3.sse != NULL) {
        snprintf(c->sse, sizeof(c->sse), "%s", s->s3.sse);
    }
    if (s->s3.storage_class != NULL)
        snprintf(c->storage_class, sizeof(c->storage_class), "%s",
                 s->s3.storage_class);
    if (svc->s3_multipart_threshold > 0 && svc->s3_part_size > 0) {
        d->part_size = (size_t)svc->s3_part_size;
        d->part_threshold = (size_t)(svc->s3_multipart_threshold >
                                     svc->s3_part_size
                                     ? svc->s3_multipart_threshold
                                     : svc->s3_part_size);
    }
    return 0;
}

/* S3 keys are encoded once: unreserved bytes and '/' stay, the rest %XX. */
static int encode_key(struct buf *out, const char *key, struct err *e)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        unsigned char ch = *p;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
            (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
            ch == '.' || ch == '~' || ch == '/') {
            if (buf_append(out, &ch, 1, e) != 0)
                return -1;
        } else {
            char esc[3] = { '%', hex[ch >> 4], hex[ch & 15] };
            if (buf_append(out, esc, 3, e) != 0)
                return -1;
        }
    }
    return 0;
}

/* The text of <Tag>...</Tag> in an S3 XML error, or "". */
static void xml_field(const struct buf *b, const char *tag, char *out,
                      size_t n)
{
    char open[64], close[64];
    const char *s, *t;
    size_t len;

    out[0] = '\0';
    if (b->len == 0 || b->p == NULL)
        return;
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    s = memmem(b->p, b->len, open, strlen(open));
    if (s == NULL)
        return;
    s += strlen(open);
    t = memmem(s, b->len - (size_t)(s - (const char *)b->p), close,
               strlen(close));
    if (t == NULL)
        return;
    len = (size_t)(t - s);
    if (len >= n)
        len = n - 1;
    memcpy(out, s, len);
    out[len] = '\0';
}

/* HTTP status of a finished request -> what the core does next. */
static enum dest_status classify(long status)
{
    if (status >= 500 || status == 429 || status == 408 || status == 0)
        return DEST_RETRY;
    return DEST_FAIL;
}

/* Send one signed request; DEST_OK for a 2xx answer (c->resp holds it),
 * else 'e' names the operation, the key, the status and S3's error. */
static enum dest_status s3_call(struct s3 *c, const struct s3_req *r,
                                struct err *e)
{
    struct sigv4_header sh[10];
    struct sigv4_request rq;
    struct sigv4_key k;
    char amz_date[17], hash[65], authz[512], code[128], msg[256];
    char h_host[600], h_date[64], h_sha[96], h_auth[560], h_enc[64];
    char h_type[96], h_sse[80], h_kms[600], h_class[64];
    char h_tok[2100];
    const char *hdrs[12];
    size_t nh = 0, ns = 0;

    c->path.len = 0;
    c->url.len = 0;
    if (buf_append(&c->path, c->path_prefix, strlen(c->path_prefix), e) ||
        buf_append(&c->path, "/", 1, e) ||
        encode_key(&c->path, r->key, e) ||
        buf_append(&c->path, "", 1, e))
        return DEST_RETRY;
    if (buf_printf(&c->url, e, "%.*s%s%s%s",
                   (int)(strlen(c->base) - strlen(c->path_prefix)), c->base,
                   (const char *)c->path.p, r->query ? "?" : "",
                   r->query ? r->query : "") != 0 ||
        buf_append(&c->url, "", 1, e) != 0)
        return DEST_RETRY;

    sigv4_amz_date(amz_date);
    sigv4_sha256_hex(r->body, r->len, hash);
    sh[ns++] = (struct sigv4_header){ "host", c->host };
    sh[ns++] = (struct sigv4_header){ "x-amz-content-sha256", hash };
    sh[ns++] = (struct sigv4_header){ "x-amz-date", amz_date };
    snprintf(h_host, sizeof(h_host), "Host: %s", c->host);
    snprintf(h_date, sizeof(h_date), "x-amz-date: %s", amz_date);
    snprintf(h_sha, sizeof(h_sha), "x-amz-content-sha256: %s", hash);
    hdrs[nh++] = h_host;
    hdrs[nh++] = h_date;
    hdrs[nh++] = h_sha;
    if (r->content_type != NULL) {
        sh[ns++] = (struct sigv4_header){ "content-type", r->content_type };
        snprintf(h_type, sizeof(h_type), "Content-Type: %s",
                 r->content_type);
        hdrs[nh++] = h_type;
    }
    if (r->content_encoding != NULL) {
        sh[ns++] = (struct sigv4_header){ "content-encoding",
                                          r->content_encoding };
        snprintf(h_enc, sizeof(h_enc), "Content-Encoding: %s",
                 r->content_encoding);
        hdrs[nh++] = h_enc;
    }
    if (r->object_headers && c->sse[0]) {
        sh[ns++] = (struct sigv4_header){ "x-amz-server-side-encryption",
                                          c->sse };
        snprintf(h_sse, sizeof(h_sse), "x-amz-server-side-encryption: %s",
                 c->sse);
        hdrs[nh++] = h_sse;
    }
    if (r->object_headers && c->kms_key[0]) {
        sh[ns++] = (struct sigv4_header){
            "x-amz-server-side-encryption-aws-kms-key-id", c->kms_key };
        snprintf(h_kms, sizeof(h_kms),
                 "x-amz-server-side-encryption-aws-kms-key-id: %s",
                 c->kms_key);
        hdrs[nh++] = h_kms;
    }
    if (r->object_headers && c->storage_class[0]) {
        sh[ns++] = (struct sigv4_header){ "x-amz-storage-class",
                                          c->storage_class };
        snprintf(h_class, sizeof(h_class), "x-amz-storage-class: %s",
                 c->storage_class);
        hdrs[nh++] = h_class;
    }
    if (c->have_cred && c->cred.session_token[0])
        sh[ns++] = (struct sigv4_header){ "x-amz-security-token",
                                          c->cred.session_token };
    if (c->have_cred) {
        memset(&rq, 0, sizeof(rq));
        rq.method = r->method;
        rq.path = (const char *)c->path.p;
        rq.query = r->query;
        rq.headers = sh;
        rq.n_headers = ns;
        rq.payload_hash = hash;
        rq.s3 = 1;
        k.access_key_id = c->cred.access_key_id;
        k.secret = c->cred.secret;
        k.region = c->region;
        k.service = "s3";
        k.amz_date = amz_date;
        if (sigv4_authorization(&rq, &k, authz, sizeof(authz), e) != 0)
            return DEST_FAIL;
        snprintf(h_auth, sizeof(h_auth), "Authorization: %s", authz);
        hdrs[nh++] = h_auth;
        if (c->cred.session_token[0]) {
            snprintf(h_tok, sizeof(h_tok), "x-amz-security-token: %s",
                     c->cred.session_token);
            hdrs[nh++] = h_tok;
        }
    }
    if (httpc_request(c->http, r->method, (const char *)c->url.p, hdrs, nh,
                      r->body, r->len, S3_TIMEOUT_MS, S3_MAX_RESPONSE,
                      &c->resp, e) != 0)
        return DEST_RETRY;
    /* CompleteMultipartUpload may answer 200 with an error inside. */
    if (c->resp.status >= 200 && c->resp.status < 300 &&
        (c->resp.body.len == 0 || memmem(c->resp.body.p, c->resp.body.len,
                                         "<Error>", 7) == NULL))
        return DEST_OK;
    xml_field(&c->resp.body, "Code", code, sizeof(code));
    xml_field(&c->resp.body, "Message", msg, sizeof(msg));
    err_set(e, ERR_RETRY, "%s '%s' to %s: HTTP %ld %s%s%s", r->op, r->key,
            c->host, c->resp.status, code[0] ? code : "(no error code)",
            msg[0] ? ": " : "", msg);
    if (c->resp.status == 200)
        return DEST_RETRY;      /* an error inside a 200: InternalError */
    return classify(c->resp.status);
}

static enum dest_status s3_deliver(struct dest *d, const struct payload *p,
                                   struct err *e)
{
    struct s3_req r = {
        "PutObject", "PUT", p->key, NULL, p->data, p->len,
        "application/octet-stream", p->content_encoding, 1,
    };

    return s3_call(d->ctx, &r, e);
}

/* "partNumber=N&uploadId=ID" with ID encoded, into c->query. */
static int part_query(struct s3 *c, unsigned part, struct err *e)
{
    c->query.len = 0;
    if (part > 0 && buf_printf(&c->query, e, "partNumber=%u&", part) != 0)
        return -1;
    if (buf_append(&c->query, "uploadId=", 9, e) != 0 ||
        encode_key(&c->query, c->upload_id, e) != 0 ||
        buf_append(&c->query, "", 1, e) != 0)
        return -1;
    /* encode_key keeps '/', a query value must not. */
    for (char *q = (char *)c->query.p; (q = strchr(q, '/')) != NULL;) {
        size_t at = (size_t)(q - (char *)c->query.p);
        if (buf_reserve(&c->query, 2, e) != 0)
            return -1;
        q = (char *)c->query.p + at;
        memmove(q + 3, q + 1, c->query.len - at - 1);
        memcpy(q, "%2F", 3);
        c->query.len += 2;
        q += 3;
    }
    return 0;
}

static enum dest_status s3_begin(struct dest *d, const struct payload *p,
                                 struct err *e)
{
    struct s3 *c = d->ctx;
    struct s3_req r = {
        "CreateMultipartUpload", "POST", p->key, "uploads", "", 0,
        "application/octet-stream", p->content_encoding, 1,
    };
    enum dest_status ds;

    c->upload_id[0] = '\0';
    c->part_no = 0;
    c->mp_key.len = 0;
    c->done_xml.len = 0;
    if (buf_append(&c->mp_key, p->key, strlen(p->key) + 1, e) != 0 ||
        buf_printf(&c->done_xml, e, "<CompleteMultipartUpload xmlns=\""
                   "http://s3.amazonaws.com/doc/2006-03-01/\">") != 0)
        return DEST_RETRY;
    ds = s3_call(c, &r, e);
    if (ds != DEST_OK)
        return ds;
    xml_field(&c->resp.body, "UploadId", c->upload_id,
              sizeof(c->upload_id));
    if (c->upload_id[0] == '\0') {
        err_set(e, ERR_RETRY, "CreateMultipartUpload '%s' to %s: no "
                "UploadId in the answer (HTTP %ld, %zu bytes)", p->key,
                c->host, c->resp.status, c->resp.body.len);
        return DEST_RETRY;
    }
    log_msg(LOG_DEBUG, c->who, "multipart upload of '%s' started: %s",
            p->key, c->upload_id);
    return DEST_OK;
}

static enum dest_status s3_part(struct dest *d, const void *data, size_t n,
                                struct err *e)
{
    struct s3 *c = d->ctx;
    struct s3_req r = {
        "UploadPart", "PUT", (const char *)c->mp_key.p, NULL, data, n,
        NULL, NULL, 0,
    };
    enum dest_status ds;

    if (c->part_no >= S3_MAX_PARTS) {
        err_set(e, ERR_INVAL, "UploadPart '%s': more than %d parts; raise "
                "Service.S3MultipartPartSizeBytes", r.key, S3_MAX_PARTS);
        return DEST_FAIL;
    }
    if (part_query(c, c->part_no + 1, e) != 0)
        return DEST_RETRY;
    r.query = (const char *)c->query.p;
    ds = s3_call(c, &r, e);
    if (ds != DEST_OK)
        return ds;
    if (c->resp.etag[0] == '\0' || strpbrk(c->resp.etag, "<&") != NULL) {
        err_set(e, ERR_RETRY, "UploadPart %u of '%s' to %s: no usable ETag "
                "in the answer ('%s')", c->part_no + 1, r.key, c->host,
                c->resp.etag);
        return DEST_RETRY;
    }
    c->part_no++;
    if (buf_printf(&c->done_xml, e, "<Part><PartNumber>%u</PartNumber>"
                   "<ETag>%s</ETag></Part>", c->part_no,
                   c->resp.etag) != 0)
        return DEST_RETRY;
    return DEST_OK;
}

static enum dest_status s3_finish(struct dest *d, struct err *e)
{
    struct s3 *c = d->ctx;
    struct s3_req r = {
        "CompleteMultipartUpload", "POST", (const char *)c->mp_key.p, NULL,
        NULL, 0, "application/xml", NULL, 0,
    };
    enum dest_status ds;

    if (buf_printf(&c->done_xml, e, "</CompleteMultipartUpload>") != 0 ||
        part_query(c, 0, e) != 0)
        return DEST_RETRY;
    r.query = (const char *)c->query.p;
    r.body = c->done_xml.p;
    r.len = c->done_xml.len;
    ds = s3_call(c, &r, e);
    if (ds == DEST_OK) {
        log_msg(LOG_INFO, c->who, "multipart upload of '%s' complete: %u "
                "parts", r.key, c->part_no);
        c->upload_id[0] = '\0';
    }
    return ds;
}

static void s3_abort(struct dest *d)
{
    struct s3 *c = d->ctx;
    struct s3_req r = {
        "AbortMultipartUpload", "DELETE", (const char *)c->mp_key.p, NULL,
        NULL, 0, NULL, NULL, 0,
    };
    struct err e = { 0, "" };
    enum dest_status ds;

    if (c->upload_id[0] == '\0')
        return;
    if (part_query(c, 0, &e) != 0) {
        log_msg(LOG_WARN, c->who, "AbortMultipartUpload '%s' not sent: %s",
                r.key, e.msg);
        return;
    }
    r.query = (const char *)c->query.p;
    ds = s3_call(c, &r, &e);
    if (ds == DEST_OK)
        log_msg(LOG_INFO, c->who, "aborted the multipart upload of '%s'",
                r.key);
    else if (c->resp.status == 405 || c->resp.status == 501)
        /* s3rver: MethodNotAllowed. The parts stay until the server (or a
         * bucket lifecycle rule) drops them. */
        log_msg(LOG_INFO, c->who, "the server does not support "
                "AbortMultipartUpload (HTTP %ld); upload %s of '%s' is "
                "left for it to expire", c->resp.status, c->upload_id,
                r.key);
    else
        log_msg(LOG_WARN, c->who, "abandoning upload %s of '%s', abort "
                "failed: %s (a bucket lifecycle rule for incomplete "
                "multipart uploads cleans it up)", c->upload_id, r.key,
                e.msg);
    c->upload_id[0] = '\0';
}

static void s3_destroy(struct dest *d)
{
    struct s3 *c = d->ctx;

    if (c == NULL)
        return;
    httpc_free(c->http);
    buf_release(&c->resp.body);
    buf_release(&c->url);
    buf_release(&c->path);
    buf_release(&c->mp_key);
    buf_release(&c->done_xml);
    buf_release(&c->query);
    /* The secret should not linger in freed memory. */
    memset(&c->cred, 0, sizeof(c->cred));
    free(c);
    d->ctx = NULL;
}

const struct dest_type dest_s3 = {
    .name = "s3",
    .kind = CFG_DEST_S3,
    .create = s3_create,
    .deliver = s3_deliver,
    .destroy = s3_destroy,
    .begin = s3_begin,
    .part = s3_part,
    .finish = s3_finish,
    .abort = s3_abort,
};
