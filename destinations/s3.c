/* s3.c - Amazon S3 (or any S3-compatible server) by SigV4-signed
 * PutObject. Custom endpoints use path-style addressing; AWS itself uses
 * virtual-hosted style unless the bucket name has a dot. One attempt per
 * deliver(): the core retries. */
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

static enum dest_status s3_deliver(struct dest *d, const struct payload *p,
                                   struct err *e)
{
    struct s3 *c = d->ctx;
    struct sigv4_header sh[7];
    struct sigv4_request rq;
    struct sigv4_key k;
    char amz_date[17], hash[65], authz[512], code[128], msg[256];
    char h_host[600], h_date[64], h_sha[96], h_auth[560], h_enc[64];
    char h_tok[2100];
    const char *hdrs[9];
    size_t nh = 0, ns = 0;

    c->path.len = 0;
    c->url.len = 0;
    if (buf_append(&c->path, c->path_prefix, strlen(c->path_prefix), e) ||
        buf_append(&c->path, "/", 1, e) ||
        encode_key(&c->path, p->key, e) ||
        buf_append(&c->path, "", 1, e))
        return DEST_RETRY;
    if (buf_printf(&c->url, e, "%.*s%s",
                   (int)(strlen(c->base) - strlen(c->path_prefix)), c->base,
                   (const char *)c->path.p) != 0 ||
        buf_append(&c->url, "", 1, e) != 0)
        return DEST_RETRY;

    sigv4_amz_date(amz_date);
    sigv4_sha256_hex(p->data, p->len, hash);
    sh[ns++] = (struct sigv4_header){ "host", c->host };
    sh[ns++] = (struct sigv4_header){ "content-type",
                                      "application/octet-stream" };
    sh[ns++] = (struct sigv4_header){ "x-amz-content-sha256", hash };
    sh[ns++] = (struct sigv4_header){ "x-amz-date", amz_date };
    if (p->content_encoding != NULL)
        sh[ns++] = (struct sigv4_header){ "content-encoding",
                                          p->content_encoding };
    if (c->have_cred && c->cred.session_token[0])
        sh[ns++] = (struct sigv4_header){ "x-amz-security-token",
                                          c->cred.session_token };

    snprintf(h_host, sizeof(h_host), "Host: %s", c->host);
    snprintf(h_date, sizeof(h_date), "x-amz-date: %s", amz_date);
    snprintf(h_sha, sizeof(h_sha), "x-amz-content-sha256: %s", hash);
    hdrs[nh++] = h_host;
    hdrs[nh++] = "Content-Type: application/octet-stream";
    hdrs[nh++] = h_date;
    hdrs[nh++] = h_sha;
    if (p->content_encoding != NULL) {
        snprintf(h_enc, sizeof(h_enc), "Content-Encoding: %s",
                 p->content_encoding);
        hdrs[nh++] = h_enc;
    }
    if (c->have_cred) {
        memset(&rq, 0, sizeof(rq));
        rq.method = "PUT";
        rq.path = (const char *)c->path.p;
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
    if (httpc_request(c->http, "PUT", (const char *)c->url.p, hdrs, nh,
                      p->data, p->len, S3_TIMEOUT_MS, S3_MAX_RESPONSE,
                      &c->resp, e) != 0)
        return DEST_RETRY;
    if (c->resp.status == 200)
        return DEST_OK;
    xml_field(&c->resp.body, "Code", code, sizeof(code));
    xml_field(&c->resp.body, "Message", msg, sizeof(msg));
    err_set(e, ERR_RETRY, "PutObject '%s' to %s: HTTP %ld %s%s%s", p->key,
            c->host, c->resp.status, code[0] ? code : "(no error code)",
            msg[0] ? ": " : "", msg);
    if (c->resp.status >= 500 || c->resp.status == 429 ||
        c->resp.status == 408)
        return DEST_RETRY;
    return DEST_FAIL;
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
};
