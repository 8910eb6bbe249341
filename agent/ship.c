#include "ship.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../delivery/httpc.h"
#include "../delivery/sigv4.h"

#define SHIP_MAX_RESPONSE ((size_t)1 << 20)
#define SHIP_TARGET "Firehose_20150804.PutRecordBatch"
#define SHIP_CTYPE "application/x-amz-json-1.1"
#define ENTRY_OPEN "{\"Data\":\""
#define ENTRY_CLOSE "\"}"

struct ship_client {
    struct httpc       *http;
    struct httpc_resp   resp;
    char               *url;
    char                host[512];
    char                path[1024];
    char                region[64];
    int                 have_cred;
    struct awscred      cred;
};

/* ---- batch -------------------------------------------------------------- */

int ship_batch_init(struct ship_batch *b, const char *stream,
                    size_t max_records, size_t max_bytes, struct err *e)
{
    size_t cap;

    memset(b, 0, sizeof(*b));
    if (max_records == 0 || max_records > SHIP_MAX_RECORDS)
        max_records = SHIP_MAX_RECORDS;
    b->max_records = max_records;
    b->max_bytes = max_bytes;
    /* Base64 of the records plus per-entry JSON and padding: the body never
     * grows past this, so adding a record never reallocates. */
    cap = strlen(stream) + 64 + max_records * (sizeof(ENTRY_OPEN) +
          sizeof(ENTRY_CLOSE) + 1 + 4) + (max_bytes / 3 + 1) * 4;
    if (buf_reserve(&b->body, cap, e) != 0 ||
        buf_reserve(&b->alt, cap, e) != 0 ||
        buf_printf(&b->body, e, "{\"DeliveryStreamName\":\"%s\","
                   "\"Records\":[", stream) != 0) {
        ship_batch_release(b);
        return -1;
    }
    b->head_len = b->body.len;
    return 0;
}

void ship_batch_release(struct ship_batch *b)
{
    buf_release(&b->body);
    buf_release(&b->alt);
}

void ship_batch_reset(struct ship_batch *b)
{
    b->body.len = b->head_len;
    b->n = b->n_body = b->bytes = 0;
}

int ship_batch_fits(const struct ship_batch *b, size_t n)
{
    return b->n < b->max_records && b->bytes + n <= b->max_bytes;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of a stream given in pieces: 'carry' holds 0-2 bytes between. */
static unsigned char *b64_piece(unsigned char *o, const unsigned char *p,
                                size_t n, unsigned char *carry, size_t *nc)
{
    while (n > 0 && *nc > 0 && *nc < 3) {
        carry[(*nc)++] = *p++;
        n--;
        if (*nc == 3) {
            o[0] = (unsigned char)b64[carry[0] >> 2];
            o[1] = (unsigned char)b64[((carry[0] & 3) << 4) | (carry[1] >> 4)];
            o[2] = (unsigned char)b64[((carry[1] & 15) << 2) | (carry[2] >> 6)];
            o[3] = (unsigned char)b64[carry[2] & 63];
            o += 4;
            *nc = 0;
        }
    }
    for (; n >= 3; n -= 3, p += 3, o += 4) {
        o[0] = (unsigned char)b64[p[0] >> 2];
        o[1] = (unsigned char)b64[((p[0] & 3) << 4) | (p[1] >> 4)];
        o[2] = (unsigned char)b64[((p[1] & 15) << 2) | (p[2] >> 6)];
        o[3] = (unsigned char)b64[p[2] & 63];
    }
    while (n-- > 0)
        carry[(*nc)++] = *p++;
    return o;
}

int ship_batch_add(struct ship_batch *b, const void *p1, size_t n1,
                   const void *p2, size_t n2, const struct ship_tag *tag,
                   struct err *e)
{
    unsigned char carry[3], *o;
    size_t nc = 0, need = n1 + n2;

    if (!ship_batch_fits(b, need))
        return err_set(e, ERR_FULL, "batch is full");
    if (b->n > 0)
        b->body.p[b->body.len++] = ',';
    b->jbeg[b->n] = (uint32_t)b->body.len;
    memcpy(b->body.p + b->body.len, ENTRY_OPEN, sizeof(ENTRY_OPEN) - 1);
    o = b->body.p + b->body.len + sizeof(ENTRY_OPEN) - 1;
    o = b64_piece(o, p1, n1, carry, &nc);
    if (p2 != NULL)
        o = b64_piece(o, p2, n2, carry, &nc);
    if (nc == 1) {
        o[0] = (unsigned char)b64[carry[0] >> 2];
        o[1] = (unsigned char)b64[(carry[0] & 3) << 4];
        o[2] = o[3] = '=';
        o += 4;
    } else if (nc == 2) {
        o[0] = (unsigned char)b64[carry[0] >> 2];
        o[1] = (unsigned char)b64[((carry[0] & 3) << 4) | (carry[1] >> 4)];
        o[2] = (unsigned char)b64[(carry[1] & 15) << 2];
        o[3] = '=';
        o += 4;
    }
    memcpy(o, ENTRY_CLOSE, sizeof(ENTRY_CLOSE) - 1);
    o += sizeof(ENTRY_CLOSE) - 1;
    b->body.len = (size_t)(o - b->body.p);
    b->jend[b->n] = (uint32_t)b->body.len;
    b->tags[b->n] = *tag;
    b->acked[b->n] = 0;
    b->idx[b->n] = (uint16_t)b->n;
    if (b->n == 0)
        b->first_ms = util_mono_ms();
    b->n++;
    b->n_body++;
    b->bytes += need;
    return 0;
}

/* Keep only the body entries marked in failed[]; the others are acked. */
static void compact(struct ship_batch *b, const unsigned char *failed)
{
    struct buf t;
    size_t k = 0;

    b->alt.len = 0;
    memcpy(b->alt.p, b->body.p, b->head_len);
    b->alt.len = b->head_len;
    for (size_t i = 0; i < b->n_body; i++) {
        size_t len = b->jend[i] - b->jbeg[i];

        if (!failed[i]) {
            b->acked[b->idx[i]] = 1;
            continue;
        }
        if (k > 0)
            b->alt.p[b->alt.len++] = ',';
        memcpy(b->alt.p + b->alt.len, b->body.p + b->jbeg[i], len);
        b->jbeg[k] = (uint32_t)b->alt.len;
        b->alt.len += len;
        b->jend[k] = (uint32_t)b->alt.len;
        b->idx[k] = b->idx[i];
        k++;
    }
    b->n_body = k;
    t = b->body;
    b->body = b->alt;
    b->alt = t;
}

/* ---- response ----------------------------------------------------------- */

struct jw {
    const char *p;
    const char *end;
    int         depth;
};

static void ws(struct jw *w)
{
    while (w->p < w->end && (*w->p == ' ' || *w->p == '\t' ||
                             *w->p == '\n' || *w->p == '\r'))
        w->p++;
}

/* At '"': the raw text between the quotes into s/n. */
static int jstr(struct jw *w, const char **s, size_t *n)
{
    const char *q;

    if (w->p >= w->end || *w->p != '"')
        return -1;
    q = ++w->p;
    while (w->p < w->end && *w->p != '"') {
        if ((unsigned char)*w->p < 0x20)
            return -1;
        if (*w->p == '\\' && ++w->p >= w->end)
            return -1;
        w->p++;
    }
    if (w->p >= w->end)
        return -1;
    *s = q;
    *n = (size_t)(w->p - q);
    w->p++;
    return 0;
}

static int jskip(struct jw *w);

static int jcontainer(struct jw *w, char close, int object)
{
    const char *s;
    size_t n;

    if (++w->depth > 32)
        return -1;
    w->p++;
    ws(w);
    if (w->p < w->end && *w->p == close) {
        w->p++;
        w->depth--;
        return 0;
    }
    for (;;) {
        if (object) {
            if (jstr(w, &s, &n) != 0)
                return -1;
            ws(w);
            if (w->p >= w->end || *w->p++ != ':')
                return -1;
        }
        if (jskip(w) != 0)
            return -1;
        ws(w);
        if (w->p >= w->end)
            return -1;
        if (*w->p == ',') {
            w->p++;
            ws(w);
            continue;
        }
        if (*w->p++ != close)
            return -1;
        w->depth--;
        return 0;
    }
}

static int jskip(struct jw *w)
{
    const char *s;
    size_t n;

    ws(w);
    if (w->p >= w->end)
        return -1;
    switch (*w->p) {
    case '"':
        return jstr(w, &s, &n);
    case '{':
        return jcontainer(w, '}', 1);
    case '[':
        return jcontainer(w, ']', 0);
    default:
        if (strchr("-0123456789tfn", *w->p) == NULL)
            return -1;
        while (w->p < w->end && strchr("-+.eE0123456789truefalsn", *w->p))
            w->p++;
        return 0;
    }
}

static int key_is(const char *s, size_t n, const char *k)
{
    return n == strlen(k) && memcmp(s, k, n) == 0;
}

/* One RequestResponses entry: *bad = 1 when it has a non-null ErrorCode. */
static int entry(struct jw *w, int *bad, char *why, size_t why_size)
{
    const char *s, *code = NULL, *msg = NULL;
    size_t n, code_n = 0, msg_n = 0;

    *bad = 0;
    ws(w);
    if (w->p >= w->end || *w->p != '{')
        return -1;
    w->p++;
    ws(w);
    if (w->p < w->end && *w->p == '}') {
        w->p++;
        return 0;
    }
    for (;;) {
        int is_code, is_msg;

        if (jstr(w, &s, &n) != 0)
            return -1;
        is_code = key_is(s, n, "ErrorCode");
        is_msg = key_is(s, n, "ErrorMessage");
        ws(w);
        if (w->p >= w->end || *w->p++ != ':')
            return -1;
        ws(w);
        if ((is_code || is_msg) && w->p < w->end && *w->p == '"') {
            if (jstr(w, is_code ? &code : &msg,
                     is_code ? &code_n : &msg_n) != 0)
                return -1;
        } else if (jskip(w) != 0) {
            return -1;
        }
        ws(w);
        if (w->p < w->end && *w->p == ',') {
            w->p++;
            ws(w);
            continue;
        }
        if (w->p >= w->end || *w->p++ != '}')
            return -1;
        break;
    }
    if (code != NULL && code_n > 0) {
        *bad = 1;
        if (why[0] == '\0')
            snprintf(why, why_size, "%.*s: %.*s", (int)code_n, code,
                     (int)msg_n, msg ? msg : "");
    }
    return 0;
}

int ship_parse_response(const char *p, size_t n, size_t expect,
                        unsigned char *failed, size_t *n_failed, char *why,
                        size_t why_size, struct err *e)
{
    struct jw w = { p, p + n, 0 };
    const char *s;
    size_t len, got = 0, nf = 0;
    long long count = -1;
    int seen = 0;

    why[0] = '\0';
    ws(&w);
    if (w.p >= w.end || *w.p++ != '{')
        goto bad;
    ws(&w);
    while (w.p < w.end && *w.p != '}') {
        if (jstr(&w, &s, &len) != 0)
            goto bad;
        ws(&w);
        if (w.p >= w.end || *w.p++ != ':')
            goto bad;
        ws(&w);
        if (key_is(s, len, "FailedPutCount")) {
            char *end;

            count = strtoll(w.p, &end, 10);
            if (end == w.p || end > w.end || count < 0)
                goto bad;
            w.p = end;
        } else if (key_is(s, len, "RequestResponses")) {
            seen = 1;
            if (w.p >= w.end || *w.p++ != '[')
                goto bad;
            ws(&w);
            while (w.p < w.end && *w.p != ']') {
                int bad_entry;

                if (got >= expect || entry(&w, &bad_entry, why, why_size))
                    goto bad;
                failed[got++] = (unsigned char)bad_entry;
                nf += (size_t)bad_entry;
                ws(&w);
                if (w.p < w.end && *w.p == ',') {
                    w.p++;
                    ws(&w);
                }
            }
            if (w.p >= w.end)
                goto bad;
            w.p++;
        } else if (jskip(&w) != 0) {
            goto bad;
        }
        ws(&w);
        if (w.p < w.end && *w.p == ',') {
            w.p++;
            ws(&w);
        }
    }
    if (w.p >= w.end || !seen || got != expect ||
        (count >= 0 && (size_t)count != nf))
        goto bad;
    *n_failed = nf;
    return 0;
bad:
    return err_set(e, ERR_INVAL, "PutRecordBatch answer is not the expected "
                   "JSON (%zu RequestResponses for %zu records, "
                   "FailedPutCount %lld): %.*s", got, expect, count,
                   (int)(n < 120 ? n : 120), p);
}

/* ---- client ------------------------------------------------------------- */

struct ship_client *ship_client_new(const char *endpoint, const char *region,
                                    const struct awscred *cred,
                                    struct err *e)
{
    struct ship_client *c = calloc(1, sizeof(*c));
    const char *h, *slash;
    size_t hl;

    if (c == NULL) {
        err_set(e, ERR_NOMEM, "out of memory for the firehose client");
        return NULL;
    }
    h = strstr(endpoint, "://");
    h = h ? h + 3 : endpoint;
    slash = strchr(h, '/');
    hl = slash ? (size_t)(slash - h) : strlen(h);
    if (hl == 0 || hl >= sizeof(c->host)) {
        err_set(e, ERR_INVAL, "endpoint '%s' has no usable host", endpoint);
        goto fail;
    }
    memcpy(c->host, h, hl);
    c->host[hl] = '\0';
    snprintf(c->path, sizeof(c->path), "%s", slash ? slash : "/");
    snprintf(c->region, sizeof(c->region), "%s", region);
    c->url = malloc(strlen(endpoint) + 2);
    if (c->url == NULL) {
        err_set(e, ERR_NOMEM, "out of memory for the firehose client");
        goto fail;
    }
    snprintf(c->url, strlen(endpoint) + 2, "%s%s", endpoint,
             slash ? "" : "/");
    if (cred != NULL) {
        c->cred = *cred;
        c->have_cred = 1;
    }
    c->http = httpc_new(e);
    if (c->http == NULL)
        goto fail;
    return c;
fail:
    ship_client_free(c);
    return NULL;
}

void ship_client_free(struct ship_client *c)
{
    if (c == NULL)
        return;
    httpc_free(c->http);
    buf_release(&c->resp.body);
    free(c->url);
    memset(&c->cred, 0, sizeof(c->cred));
    free(c);
}

/* "__type: message" of an error answer, for the log. */
static void error_text(const struct httpc_resp *r, char *out, size_t size,
                       int *throttled)
{
    json_t *j = json_loadb((const char *)r->body.p, r->body.len, 0, NULL);
    const char *t = NULL, *m = NULL;

    *throttled = 0;
    if (j != NULL) {
        t = json_string_value(json_object_get(j, "__type"));
        m = json_string_value(json_object_get(j, "message"));
        if (m == NULL)
            m = json_string_value(json_object_get(j, "Message"));
    }
    if (t != NULL && (strstr(t, "ServiceUnavailable") ||
                      strstr(t, "Throttl") || strstr(t, "LimitExceeded")))
        *throttled = 1;
    if (t != NULL || m != NULL)
        snprintf(out, size, "%s: %s", t ? t : "error", m ? m : "");
    else
        snprintf(out, size, "%.*s", (int)(r->body.len < 160 ?
                 r->body.len : 160), r->body.len ? (char *)r->body.p : "");
    json_decref(j);
}

enum ship_result ship_send(struct ship_client *c, struct ship_batch *b,
                           long timeout_ms, struct err *e)
{
    struct sigv4_header sh[5];
    struct sigv4_request rq;
    struct sigv4_key k;
    char amz_date[17], authz[512], why[300];
    char h_host[600], h_date[64], h_auth[560], h_tok[2100];
    const char *hdrs[7];
    unsigned char failed[SHIP_MAX_RECORDS];
    size_t nh = 0, ns = 0, nf = 0;
    int rc, throttled;

    if (b->n_body == 0)
        return SHIP_OK;
    memcpy(b->body.p + b->body.len, "]}", 2);
    b->body.len += 2;
    sigv4_amz_date(amz_date);
    snprintf(h_host, sizeof(h_host), "Host: %s", c->host);
    snprintf(h_date, sizeof(h_date), "X-Amz-Date: %s", amz_date);
    hdrs[nh++] = h_host;
    hdrs[nh++] = h_date;
    hdrs[nh++] = "Content-Type: " SHIP_CTYPE;
    hdrs[nh++] = "X-Amz-Target: " SHIP_TARGET;
    if (c->have_cred) {
        sh[ns++] = (struct sigv4_header){ "content-type", SHIP_CTYPE };
        sh[ns++] = (struct sigv4_header){ "host", c->host };
        sh[ns++] = (struct sigv4_header){ "x-amz-date", amz_date };
        sh[ns++] = (struct sigv4_header){ "x-amz-target", SHIP_TARGET };
        if (c->cred.session_token[0])
            sh[ns++] = (struct sigv4_header){ "x-amz-security-token",
                                              c->cred.session_token };
        memset(&rq, 0, sizeof(rq));
        rq.method = "POST";
        rq.path = c->path;
        rq.headers = sh;
        rq.n_headers = ns;
        rq.body = b->body.p;
        rq.body_len = b->body.len;
        k.access_key_id = c->cred.access_key_id;
        k.secret = c->cred.secret;
        k.region = c->region;
        k.service = "firehose";
        k.amz_date = amz_date;
        if (sigv4_authorization(&rq, &k, authz, sizeof(authz), e) != 0) {
            b->body.len -= 2;
            return SHIP_FAIL;
        }
        snprintf(h_auth, sizeof(h_auth), "Authorization: %s", authz);
        hdrs[nh++] = h_auth;
        if (c->cred.session_token[0]) {
            snprintf(h_tok, sizeof(h_tok), "X-Amz-Security-Token: %s",
                     c->cred.session_token);
            hdrs[nh++] = h_tok;
        }
    }
    rc = httpc_request(c->http, "POST", c->url, hdrs, nh, b->body.p,
                       b->body.len, timeout_ms, SHIP_MAX_RESPONSE, &c->resp,
                       e);
    b->body.len -= 2;
    if (rc != 0)
        return SHIP_RETRY;
    if (c->resp.status != 200) {
        error_text(&c->resp, why, sizeof(why), &throttled);
        err_set(e, ERR_RETRY, "PutRecordBatch to %s: HTTP %ld %s", c->url,
                c->resp.status, why);
        if (c->resp.status >= 500 || c->resp.status == 429 ||
            c->resp.status == 408 || throttled)
            return SHIP_RETRY;
        e->code = ERR_INVAL;
        return SHIP_FAIL;
    }
    if (ship_parse_response((const char *)c->resp.body.p, c->resp.body.len,
                            b->n_body, failed, &nf, why, sizeof(why),
                            e) != 0)
        return SHIP_RETRY;      /* stored or not? send again: at least once */
    if (nf == 0) {
        for (size_t i = 0; i < b->n_body; i++)
            b->acked[b->idx[i]] = 1;
        b->n_body = 0;
        return SHIP_OK;
    }
    err_set(e, ERR_RETRY, "PutRecordBatch to %s: %zu of %zu records failed "
            "(first: %s)", c->url, nf, b->n_body, why);
    compact(b, failed);
    return SHIP_PARTIAL;
}
