/* http.c - the HTTP endpoint destination (HttpEndpointDestination-
 * Configuration), as Firehose speaks it (spec §5): POST of a JSON body
 * {"requestId", "timestamp", "records": [{"data": base64}]} with the
 * X-Amz-Firehose-* headers, optionally gzip'd; only a 200 with a JSON body
 * that echoes the request id and carries a numeric timestamp counts as
 * delivered. One deliver() is one attempt; results are per record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "../delivery/httpc.h"
#include "../delivery/util.h"
#include "dest.h"

#define HTTP_MAX_RECORDS 10000              /* per request (spec §5.1) */
#define HTTP_MAX_BODY (64u << 20)           /* JSON before compression */
#define HTTP_MAX_RESPONSE (1u << 20)        /* above: ResponseTooLarge */
#define HTTP_ID_MAX 64                      /* request ids we accept */

static const char CODE_TIMEOUT[] = "HttpEndpoint.RequestTimeout";
static const char CODE_CONNECT[] = "HttpEndpoint.ConnectionFailed";
static const char CODE_TLS[] = "HttpEndpoint.SSLHandshakeFailure";
static const char CODE_RESET[] = "HttpEndpoint.ConnectionReset";
static const char CODE_TOO_LARGE[] = "HttpEndpoint.ResponseTooLarge";
static const char CODE_INVALID[] =
    "HttpEndpoint.InvalidResponseFromDestination";
static const char CODE_DEST[] = "HttpEndpoint.DestinationException";
static const char CODE_RECORD[] = "HttpEndpoint.RecordTooLarge";

struct http {
    char *url;                  /* verbatim from the config */
    int url_shown;              /* its length without the query, for logs */
    char h_arn[400];            /* X-Amz-Firehose-Source-Arn: ... */
    char *h_key;                /* X-Amz-Firehose-Access-Key: ...; NULL */
    char *h_attrs;              /* X-Amz-Firehose-Common-Attributes; NULL */
    int gzip;
    long timeout_ms;
    struct httpc *http;
    struct httpc_resp resp;
    struct buf body;            /* the JSON request, reused */
    struct buf gz;              /* its gzip form, reused */
    z_stream z;
    int z_ready;
};

/* One request's outcome, copied to each of its records. */
struct outcome {
    enum dest_status status;
    int http_status;
    int stop;                   /* the endpoint is unreachable: do not try
                                 * the rest of the batch in this attempt */
    const char *code;
    char msg[256];
};

static int http_create(struct dest *d, const struct cfg_stream *s,
                       const struct cfg_service *svc, struct err *e)
{
    const struct cfg_http *hc = &s->http;
    json_t *attrs = NULL, *root = NULL;
    char *json = NULL;
    struct http *c;
    size_t i, n;

    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    d->ctx = c;
    if (hc->url == NULL)
        return err_set(e, ERR_INVAL, "stream '%s' has no "
                       "EndpointConfiguration.Url", s->name);
    c->url = strdup(hc->url);
    if (c->url == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    c->url_shown = (int)strcspn(c->url, "?");
    c->gzip = hc->gzip;
    c->timeout_ms = (hc->timeout_s > 0 ? hc->timeout_s : 180) * 1000L;
    snprintf(c->h_arn, sizeof(c->h_arn), "X-Amz-Firehose-Source-Arn: "
             "arn:aws:firehose:%s:%s:deliverystream/%s", svc->region,
             svc->account_id, s->name);
    if (hc->access_key != NULL && hc->access_key[0] != '\0') {
        if (strpbrk(hc->access_key, "\r\n") != NULL)
            return err_set(e, ERR_INVAL, "stream '%s': EndpointConfiguration"
                           ".AccessKey contains a line break", s->name);
        n = strlen(hc->access_key) + 32;
        c->h_key = malloc(n);
        if (c->h_key == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
        snprintf(c->h_key, n, "X-Amz-Firehose-Access-Key: %s",
                 hc->access_key);
    }
    if (hc->n_attrs > 0) {
        root = json_object();
        attrs = json_object();
        if (root == NULL || attrs == NULL ||
            json_object_set_new(root, "commonAttributes", attrs) != 0) {
            json_decref(attrs);
            goto nomem;
        }
        for (i = 0; i < hc->n_attrs; i++)
            if (json_object_set_new(attrs, hc->attrs[i].name,
                                    json_string(hc->attrs[i].value)) != 0)
                goto nomem;
        /* ASCII-only keeps the header one clean line. */
        json = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER |
                          JSON_ENSURE_ASCII);
        if (json == NULL)
            goto nomem;
        n = strlen(json) + 40;
        c->h_attrs = malloc(n);
        if (c->h_attrs == NULL)
            goto nomem;
        snprintf(c->h_attrs, n, "X-Amz-Firehose-Common-Attributes: %s",
                 json);
        free(json);
        json_decref(root);
    }
    /* windowBits 31: a gzip member. Level 1: base64 text gains little
     * from harder work, and this runs on the delivery path. */
    if (c->gzip) {
        if (deflateInit2(&c->z, 1, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY)
            != Z_OK)
            return err_set(e, ERR_NOMEM, "zlib deflateInit2 failed");
        c->z_ready = 1;
    }
    c->http = httpc_new(e);
    return c->http == NULL ? -1 : 0;
nomem:
    free(json);
    json_decref(root);
    return err_set(e, ERR_NOMEM, "out of memory building the common "
                   "attributes header");
}

static size_t b64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

/* The JSON size one record adds: {"data":"..."}, plus a comma. */
static size_t rec_cost(size_t n)
{
    return b64_len(n) + 12;
}

/* A request id is a UUID-like token; anything else would need escaping in
 * the body and could break the header. */
static int id_ok(const char *id)
{
    size_t n = strlen(id);

    return n > 0 && n <= HTTP_ID_MAX &&
           strspn(id, "0123456789abcdefABCDEF-") == n;
}

/* The id of a request that carries only part of the batch: hashed from the
 * batch's request id and the ids of the records in it, so that a request
 * id never names two different sets of records (receivers de-duplicate on
 * it), and a retry of the same records repeats it. */
static void chunk_id(const char *batch_id, const struct payload_rec *r,
                     size_t n, char out[37])
{
    uint64_t a = util_hash64(batch_id, strlen(batch_id), 0x9e3779b97f4a7c15u);
    uint64_t b = util_hash64(batch_id, strlen(batch_id), 0x2545f4914f6cdd1du);
    unsigned char raw[16];
    char hex[33];

    for (size_t i = 0; i < n; i++) {
        const char *id = r[i].id != NULL ? r[i].id : "";

        a = util_hash64(id, strlen(id) + 1, a);
        b = util_hash64(id, strlen(id) + 1, b);
    }
    for (int i = 0; i < 8; i++) {
        raw[i] = (unsigned char)(a >> (56 - 8 * i));
        raw[8 + i] = (unsigned char)(b >> (56 - 8 * i));
    }
    util_hex(raw, 16, hex);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
             hex + 16, hex + 20);
}

static int build_body(struct http *c, const char *rid,
                      const struct payload_rec *r, size_t n, struct err *e)
{
    c->body.len = 0;
    if (buf_printf(&c->body, e, "{\"requestId\":\"%s\",\"timestamp\":%lld,"
                   "\"records\":[", rid, (long long)util_now_ms()) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (buf_reserve(&c->body, rec_cost(r[i].len) + 1, e) != 0)
            return -1;
        memcpy(c->body.p + c->body.len, i ? ",{\"data\":\"" : "{\"data\":\"",
               i ? 10 : 9);
        c->body.len += i ? 10 : 9;
        /* EVP_EncodeBlock writes a NUL after the text: room was reserved. */
        c->body.len += (size_t)EVP_EncodeBlock(c->body.p + c->body.len,
                                               r[i].data, (int)r[i].len);
        memcpy(c->body.p + c->body.len, "\"}", 2);
        c->body.len += 2;
    }
    return buf_append(&c->body, "]}", 2, e);
}

static int gzip_body(struct http *c, struct err *e)
{
    uLong bound;
    int rc;

    /* Reset first: a finished stream's bound leaves out the gzip header. */
    if (deflateReset(&c->z) != Z_OK)
        return err_set(e, ERR_NOMEM, "zlib deflateReset failed");
    bound = deflateBound(&c->z, (uLong)c->body.len);
    c->gz.len = 0;
    if (buf_reserve(&c->gz, bound, e) != 0)
        return -1;
    c->z.next_in = c->body.p;
    c->z.avail_in = (uInt)c->body.len;
    c->z.next_out = c->gz.p;
    c->z.avail_out = (uInt)bound;
    rc = deflate(&c->z, Z_FINISH);
    if (rc != Z_STREAM_END)
        return err_set(e, ERR_NOMEM, "zlib deflate failed (%d)", rc);
    c->gz.len = bound - c->z.avail_out;
    return 0;
}

/* Printable ASCII of a response body for a message; the rest as '?'. */
static void snippet(char *out, size_t size, const char *prefix,
                    const unsigned char *p, size_t n)
{
    size_t len = (size_t)snprintf(out, size, "%s", prefix);

    for (size_t i = 0; i < n && len + 1 < size; i++)
        out[len++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
    if (len < size)
        out[len] = '\0';
}

static int is_json_type(const char *ct)
{
    size_t n = strcspn(ct, "; \t");

    return n == 16 && strncasecmp(ct, "application/json", 16) == 0;
}

/* The checks of spec §5.2 on a 200; 0 or -1 with 'why' filled. */
static int check_ok_body(const struct httpc_resp *r, const char *rid,
                         char *why, size_t n)
{
    json_error_t jerr;
    const char *key;
    json_t *root, *v, *ts;
    int rc = -1;

    if (!is_json_type(r->content_type)) {
        snprintf(why, n, "Content-Type is \"%s\", not application/json",
                 r->content_type);
        return -1;
    }
    if (r->content_encoding[0] != '\0') {
        snprintf(why, n, "the response has Content-Encoding \"%s\"",
                 r->content_encoding);
        return -1;
    }
    root = json_loadb((const char *)r->body.p, r->body.len, 0, &jerr);
    if (root == NULL || !json_is_object(root)) {
        snprintf(why, n, "the body is not a JSON object%s%s",
                 root == NULL ? ": " : "", root == NULL ? jerr.text : "");
        goto out;
    }
    v = json_object_get(root, "requestId");
    ts = json_object_get(root, "timestamp");
    if (!json_is_string(v) || strcmp(json_string_value(v), rid) != 0) {
        snippet(why, n, "requestId is not the one sent: ",
                (const unsigned char *)(json_is_string(v)
                                        ? json_string_value(v) : "(none)"),
                json_is_string(v) ? json_string_length(v) : 6);
        goto out;
    }
    if (!json_is_number(ts)) {
        snprintf(why, n, "timestamp is missing or not a number");
        goto out;
    }
    json_object_foreach(root, key, v) {
        if (strcmp(key, "requestId") != 0 && strcmp(key, "timestamp") != 0 &&
            strcmp(key, "errorMessage") != 0) {
            snippet(why, n, "unexpected field in the response: ",
                    (const unsigned char *)key, strlen(key));
            goto out;
        }
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* What a non-200 says: its errorMessage when the body is Firehose's JSON,
 * else the start of the body. */
static void error_text(const struct httpc_resp *r, char *out, size_t size)
{
    char prefix[96];
    json_t *root, *m;

    snprintf(prefix, sizeof(prefix), "Received the following response from "
             "the endpoint destination. %ld: ", r->status);
    root = json_loadb((const char *)r->body.p, r->body.len, 0, NULL);
    m = json_object_get(root, "errorMessage");
    if (json_is_string(m))
        snippet(out, size, prefix, (const unsigned char *)json_string_value(m),
                json_string_length(m));
    else
        snippet(out, size, prefix, r->body.p, r->body.len);
    json_decref(root);
}

static void judge(struct http *c, int sent, const char *rid,
                  const struct err *te, struct outcome *o)
{
    const struct httpc_resp *r = &c->resp;
    char why[200];

    o->http_status = (int)r->status;
    o->stop = 0;
    o->msg[0] = '\0';
    if (sent != 0) {
        o->status = DEST_RETRY;
        switch (r->fail) {
        case HTTPC_FAIL_TIMEOUT:  o->code = CODE_TIMEOUT; break;
        case HTTPC_FAIL_TLS:      o->code = CODE_TLS; break;
        case HTTPC_FAIL_RESET:    o->code = CODE_RESET; break;
        case HTTPC_FAIL_TOO_BIG:  o->code = CODE_TOO_LARGE; break;
        default:                  o->code = CODE_CONNECT; break;
        }
        o->stop = r->fail != HTTPC_FAIL_TOO_BIG;
        snprintf(o->msg, sizeof(o->msg), "%s", te->msg);
        return;
    }
    if (r->status == 200) {
        if (check_ok_body(r, rid, why, sizeof(why)) == 0) {
            o->status = DEST_OK;
            o->code = "";
            return;
        }
        o->status = DEST_RETRY;
        o->code = CODE_INVALID;
        snprintf(o->msg, sizeof(o->msg), "The response received from the "
                 "endpoint is invalid: %s", why);
        return;
    }
    /* 413 is permanent (spec §5.2); redirects are not followed and, like
     * every other status, retried. */
    o->status = r->status == 413 ? DEST_FAIL : DEST_RETRY;
    o->code = CODE_DEST;
    error_text(r, o->msg, sizeof(o->msg));
}

static void set_result(const struct payload *p, struct dest_rec_result *res,
                       const struct outcome *o)
{
    dest_result_set(p->reasons, res, o->status, o->http_status, o->code, o->msg);
}

/* Send recs[0..n) as one request; the outcome goes to every record. */
static void send_chunk(struct dest *d, const char *rid,
                       const struct payload_rec *recs, size_t n,
                       struct outcome *o)
{
    struct http *c = d->ctx;
    char h_rid[HTTP_ID_MAX + 40];
    const char *hdrs[8];
    const void *body;
    size_t nh = 0, len;
    struct err e = { 0, "" };
    int sent;

    if (build_body(c, rid, recs, n, &e) != 0 ||
        (c->gzip && gzip_body(c, &e) != 0)) {
        /* Out of memory: nothing was sent; the core tries again later. */
        o->status = DEST_RETRY;
        o->http_status = 0;
        o->stop = 1;
        o->code = CODE_CONNECT;
        snprintf(o->msg, sizeof(o->msg), "building the request: %.200s",
                 e.msg);
        return;
    }
    body = c->gzip ? c->gz.p : c->body.p;
    len = c->gzip ? c->gz.len : c->body.len;
    snprintf(h_rid, sizeof(h_rid), "X-Amz-Firehose-Request-Id: %s", rid);
    hdrs[nh++] = "Content-Type: application/json";
    if (c->gzip)
        hdrs[nh++] = "Content-Encoding: gzip";
    hdrs[nh++] = "X-Amz-Firehose-Protocol-Version: 1.0";
    hdrs[nh++] = h_rid;
    hdrs[nh++] = c->h_arn;
    if (c->h_key != NULL)
        hdrs[nh++] = c->h_key;
    if (c->h_attrs != NULL)
        hdrs[nh++] = c->h_attrs;
    sent = httpc_request(c->http, "POST", c->url, hdrs, nh, body, len,
                         c->timeout_ms, HTTP_MAX_RESPONSE, &c->resp, &e);
    judge(c, sent, rid, &e, o);
}

static enum dest_status http_deliver(struct dest *d, const struct payload *p,
                                     struct err *e)
{
    struct http *c = d->ctx;
    const struct payload_rec *r = p->recs;
    struct dest_rec_result *res = p->results;
    size_t i = 0, j, k, size, n_ok = 0, n_retry = 0, n_fail = 0;
    struct outcome o, first = { DEST_OK, 0, 0, "", "" }, down;
    int stopped = 0;
    char rid[HTTP_ID_MAX + 1];
    /* '{"requestId":"<64>","timestamp":<20>,"records":[' and ']}' */
    const size_t overhead = 128;

    if (p->n_recs == 0 && (p->records > 0 || p->len > 0)) {
        /* Never report an object we did not send as stored. */
        err_set(e, ERR_RETRY, "given an object of %u records instead of "
                "the records: this core does not drive record "
                "destinations (wants_records)", p->records);
        return DEST_RETRY;
    }
    if (p->n_recs == 0)
        return DEST_OK;
    if (p->request_id == NULL || !id_ok(p->request_id)) {
        err_set(e, ERR_INVAL, "request id '%.64s' is not a UUID",
                p->request_id ? p->request_id : "(null)");
        for (k = 0; k < p->n_recs; k++) {
            dest_result_set(p->reasons, &res[k], DEST_FAIL, 0, CODE_DEST, e->msg);
        }
        return DEST_FAIL;
    }
    while (i < p->n_recs) {
        /* The longest run that fits one request. */
        size = overhead + rec_cost(r[i].len);
        for (j = i + 1; j < p->n_recs && j - i < HTTP_MAX_RECORDS &&
             size + rec_cost(r[j].len) <= HTTP_MAX_BODY; j++)
            size += rec_cost(r[j].len);
        if (size > HTTP_MAX_BODY) {
            o = (struct outcome){ DEST_FAIL, 0, 0, CODE_RECORD, "" };
            snprintf(o.msg, sizeof(o.msg), "the record is %zu bytes: its "
                     "request body would be above %u bytes", r[i].len,
                     HTTP_MAX_BODY);
        } else if (stopped) {
            o = down;
        } else {
            if (i == 0 && j == p->n_recs)
                snprintf(rid, sizeof(rid), "%s", p->request_id);
            else
                chunk_id(p->request_id, r + i, j - i, rid);
            send_chunk(d, rid, r + i, j - i, &o);
            if (o.stop) {
                stopped = 1;
                down = o;
            }
        }
        for (k = i; k < j; k++)
            set_result(p, &res[k], &o);
        if (o.status == DEST_OK)
            n_ok += j - i;
        else if (o.status == DEST_RETRY)
            n_retry += j - i;
        else
            n_fail += j - i;
        if (o.status != DEST_OK && first.status == DEST_OK)
            first = o;
        i = j;
    }
    if (n_retry == 0 && n_fail == 0)
        return DEST_OK;
    err_set(e, n_retry ? ERR_RETRY : ERR_INVAL, "POST %.*s: %zu of %zu "
            "records failed: %s (%s)", c->url_shown, c->url, n_retry + n_fail,
            n_ok + n_retry + n_fail, first.code, first.msg);
    return n_retry ? DEST_RETRY : DEST_FAIL;
}

static void http_destroy(struct dest *d)
{
    struct http *c = d->ctx;

    if (c == NULL)
        return;
    httpc_free(c->http);
    buf_release(&c->resp.body);
    buf_release(&c->body);
    buf_release(&c->gz);
    if (c->z_ready)
        deflateEnd(&c->z);
    if (c->h_key != NULL)
        explicit_bzero(c->h_key, strlen(c->h_key));
    free(c->h_key);
    free(c->h_attrs);
    free(c->url);
    free(c);
    d->ctx = NULL;
}

const struct dest_type dest_http = {
    .name = "http",
    .kind = CFG_DEST_HTTP,
    .wants_records = 1,
    .create = http_create,
    .deliver = http_deliver,
    .destroy = http_destroy,
};
