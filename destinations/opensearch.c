/* opensearch.c - the OpenSearch / Elasticsearch destination (spec §6):
 * records are JSON documents, sent with POST <endpoint>/_bulk as NDJSON,
 * each to its rotated index (from its arrival time, UTC) under an _id
 * derived from its record id, so a retried document overwrites itself.
 * The bulk response is read per item: 2xx stored, 429 and 5xx retried,
 * other errors permanent. Auth: HTTP basic from the config (ours), else
 * SigV4 (service "es") when AWS credentials exist, else none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "../delivery/awscred.h"
#include "../delivery/httpc.h"
#include "../delivery/log.h"
#include "../delivery/sigv4.h"
#include "../delivery/util.h"
#include "dest.h"

#define OS_MAX_RESPONSE (64u << 20)     /* a bulk answer names every item */
#define OS_MAX_DEPTH 100                /* JSON nesting we validate */
/* A bigger batch goes as several _bulk requests: clusters refuse bodies
 * above http.max_content_length (100 MB by default, less on small AWS
 * instances), and Firehose buffers up to 100 MB before adding actions. */
#define OS_MAX_BODY (64u << 20)
#define OS_ACTION_MAX 400               /* bytes of one action line, max */

static const char CODE_INVALID_DOC[] = "OS.InvalidDocument";
static const char CODE_INVALID_ID[] = "OS.InvalidDocumentId";
static const char CODE_BAD_RESPONSE[] = "OS.InvalidResponse";

struct os {
    char url[1100];             /* "<endpoint>/_bulk" */
    char host[512];             /* Host header, signed */
    char path[600];             /* "/_bulk", after any path of the endpoint */
    char index[96];             /* IndexName */
    char type[104];             /* TypeName; "" = none */
    enum cfg_rotation rotation;
    int week_iso;
    int no_id;
    char *h_basic;              /* "Authorization: Basic ..."; NULL */
    struct awscred cred;
    int have_cred;
    char region[64];
    long timeout_ms;
    struct httpc *http;
    struct httpc_resp resp;
    struct buf body;            /* the NDJSON request, reused */
    size_t *sent;               /* bulk item k is record sent[k] */
    size_t sent_cap;
    int64_t cached_hour;        /* the index name of the last hour seen */
    char cached_index[128];
};

static int os_create(struct dest *d, const struct cfg_stream *s,
                     const struct cfg_service *svc, struct err *e)
{
    const struct cfg_opensearch *oc = &s->os;
    const char *ep = oc->cluster_endpoint, *h, *slash;
    char base[1024], cred[600];
    struct os *c;
    size_t n;

    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    d->ctx = c;
    c->cached_hour = -1;
    if (ep == NULL)
        ep = svc->endpoint_opensearch;
    if (ep == NULL || oc->index_name == NULL)
        return err_set(e, ERR_INVAL, "stream '%s': no ClusterEndpoint (or "
                       "DomainARN with Service.Endpoints.OpenSearch) or no "
                       "IndexName", s->name);
    snprintf(base, sizeof(base), "%s", ep);
    n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        base[--n] = '\0';
    h = strstr(base, "://");
    if (h == NULL || strchr(base, '?') != NULL)
        return err_set(e, ERR_INVAL, "stream '%s': endpoint '%s' is not "
                       "http(s)://host[:port][/path]", s->name, base);
    h += 3;
    slash = strchr(h, '/');
    n = slash ? (size_t)(slash - h) : strlen(h);
    if (n == 0 || n >= sizeof(c->host))
        return err_set(e, ERR_INVAL, "stream '%s': endpoint '%s' has no "
                       "usable host", s->name, base);
    memcpy(c->host, h, n);
    c->host[n] = '\0';
    snprintf(c->path, sizeof(c->path), "%s/_bulk", slash ? slash : "");
    snprintf(c->url, sizeof(c->url), "%s/_bulk", base);
    snprintf(c->index, sizeof(c->index), "%s", oc->index_name);
    snprintf(c->type, sizeof(c->type), "%s",
             oc->type_name ? oc->type_name : "");
    if (strpbrk(c->type, "\"\\") != NULL)
        return err_set(e, ERR_INVAL, "stream '%s': TypeName '%s' can't "
                       "contain \" or \\", s->name, c->type);
    c->rotation = oc->rotation;
    c->week_iso = oc->week_iso;
    c->no_id = oc->no_document_id;
    c->timeout_ms = (oc->timeout_s > 0 ? oc->timeout_s : 180) * 1000L;
    snprintf(c->region, sizeof(c->region), "%s", svc->region);
    if (oc->basic_user != NULL) {
        n = (size_t)snprintf(cred, sizeof(cred), "%s:%s", oc->basic_user,
                             oc->basic_password ? oc->basic_password : "");
        if (n >= sizeof(cred))
            return err_set(e, ERR_INVAL, "stream '%s': BasicAuth user and "
                           "password are too long", s->name);
        c->h_basic = malloc(32 + (n + 2) / 3 * 4);
        if (c->h_basic == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
        memcpy(c->h_basic, "Authorization: Basic ", 21);
        EVP_EncodeBlock((unsigned char *)c->h_basic + 21,
                        (const unsigned char *)cred, (int)n);
        explicit_bzero(cred, sizeof(cred));
    } else if (awscred_load(&c->cred, e) == 0) {
        c->have_cred = 1;
    } else if (e->code == ERR_NOTFOUND) {
        log_msg(LOG_INFO, d->id, "no BasicAuth and no AWS credentials (%s): "
                "bulk requests to %s go unsigned", e->msg, c->host);
    } else {
        return -1;
    }
    c->http = httpc_new(e);
    return c->http == NULL ? -1 : 0;
}

/* ---- is a record one JSON object? (no allocation) ---- */

static const unsigned char *skip_ws(const unsigned char *p,
                                    const unsigned char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static const unsigned char *scan_value(const unsigned char *p,
                                       const unsigned char *end, int depth);

static const unsigned char *scan_string(const unsigned char *p,
                                        const unsigned char *end)
{
    if (p >= end || *p != '"')
        return NULL;
    for (p++; p < end; p++) {
        if (*p == '"')
            return p + 1;
        if (*p < 0x20)
            return NULL;
        if (*p == '\\') {
            if (++p >= end)
                return NULL;
            if (*p == 'u') {
                if (end - p < 5)
                    return NULL;
                for (int i = 1; i <= 4; i++)
                    if (!((p[i] >= '0' && p[i] <= '9') ||
                          (p[i] >= 'a' && p[i] <= 'f') ||
                          (p[i] >= 'A' && p[i] <= 'F')))
                        return NULL;
                p += 4;
            } else if (strchr("\"\\/bfnrt", *p) == NULL || *p == '\0') {
                return NULL;
            }
        }
    }
    return NULL;
}

static const unsigned char *scan_digits(const unsigned char *p,
                                        const unsigned char *end)
{
    const unsigned char *s = p;

    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p == s ? NULL : p;
}

static const unsigned char *scan_number(const unsigned char *p,
                                        const unsigned char *end)
{
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if ((p = scan_digits(p, end)) == NULL)
        return NULL;
    if (p < end && *p == '.' && (p = scan_digits(p + 1, end)) == NULL)
        return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        p = scan_digits(p, end);
    }
    return p;
}

static const unsigned char *scan_word(const unsigned char *p,
                                      const unsigned char *end,
                                      const char *w)
{
    size_t n = strlen(w);

    return (size_t)(end - p) >= n && memcmp(p, w, n) == 0 ? p + n : NULL;
}

/* Object or array body after its opening bracket. */
static const unsigned char *scan_container(const unsigned char *p,
                                           const unsigned char *end,
                                           int depth, int object)
{
    unsigned char close = object ? '}' : ']';

    p = skip_ws(p, end);
    if (p < end && *p == close)
        return p + 1;
    for (;;) {
        if (object) {
            if ((p = scan_string(p, end)) == NULL)
                return NULL;
            p = skip_ws(p, end);
            if (p >= end || *p != ':')
                return NULL;
            p = skip_ws(p + 1, end);
        }
        if ((p = scan_value(p, end, depth + 1)) == NULL)
            return NULL;
        p = skip_ws(p, end);
        if (p < end && *p == close)
            return p + 1;
        if (p >= end || *p != ',')
            return NULL;
        p = skip_ws(p + 1, end);
    }
}

static const unsigned char *scan_value(const unsigned char *p,
                                       const unsigned char *end, int depth)
{
    if (p >= end || depth > OS_MAX_DEPTH)
        return NULL;
    switch (*p) {
    case '{': return scan_container(p + 1, end, depth, 1);
    case '[': return scan_container(p + 1, end, depth, 0);
    case '"': return scan_string(p, end);
    case 't': return scan_word(p, end, "true");
    case 'f': return scan_word(p, end, "false");
    case 'n': return scan_word(p, end, "null");
    default:  return scan_number(p, end);
    }
}

/* 0 when data is exactly one JSON object (whitespace around it allowed). */
static int is_one_object(const unsigned char *data, size_t len)
{
    const unsigned char *end = data + len, *p = skip_ws(data, end);

    if (p >= end || *p != '{')
        return -1;
    p = scan_value(p, end, 0);
    return p != NULL && skip_ws(p, end) == end ? 0 : -1;
}

/* ---- index rotation ---- */

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Weeks of 'year' under ISO 8601: 53 when it starts on a Thursday, or a
 * Wednesday in a leap year. jan1: weekday of 1 January, 0 = Sunday. */
static int iso_weeks(int year, int jan1)
{
    return jan1 == 4 || (jan1 == 3 && is_leap(year)) ? 53 : 52;
}

/* Week-based year and week of 'tm'. US (Firehose's documented rule):
 * weeks start on Sunday and week 1 is the one holding 1 January. ISO
 * 8601: weeks start on Monday, week 1 holds the first Thursday. */
static void week_of(const struct tm *tm, int iso, int *wyear, int *week)
{
    int year = tm->tm_year + 1900, yday = tm->tm_yday, wday = tm->tm_wday;
    int days = is_leap(year) ? 366 : 365;
    int jan1 = ((wday - yday) % 7 + 7) % 7;
    int next_jan1 = (jan1 + days) % 7;
    int isowday = wday == 0 ? 7 : wday, w;

    if (!iso) {
        *wyear = year;
        if (yday >= days - next_jan1 && next_jan1 != 0) {
            *wyear = year + 1;
            *week = 1;
            return;
        }
        *week = (yday + jan1) / 7 + 1;
        return;
    }
    w = (yday + 1 - isowday + 10) / 7;
    if (w < 1) {
        int prev_jan1 = ((jan1 - (is_leap(year - 1) ? 366 : 365)) % 7 + 7)
                        % 7;
        *wyear = year - 1;
        *week = iso_weeks(year - 1, prev_jan1);
    } else if (w > iso_weeks(year, jan1)) {
        *wyear = year + 1;
        *week = 1;
    } else {
        *wyear = year;
        *week = w;
    }
}

/* IndexName plus the rotation suffix of spec §6.2 for an arrival time. All
 * suffixes change on hour boundaries at most: one computation per hour. */
static const char *index_for(struct os *c, int64_t arrival_ms)
{
    int64_t hour = arrival_ms >= 0 ? arrival_ms / 3600000 : 0;
    time_t t = (time_t)(hour * 3600);
    struct tm tm;
    int wy, wk;

    if (c->rotation == CFG_ROT_NONE)
        return c->index;
    if (hour == c->cached_hour)
        return c->cached_index;
    gmtime_r(&t, &tm);
    switch (c->rotation) {
    case CFG_ROT_HOUR:
        snprintf(c->cached_index, sizeof(c->cached_index),
                 "%s-%04d-%02d-%02d-%02d", c->index, tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour);
        break;
    case CFG_ROT_WEEK:
        week_of(&tm, c->week_iso, &wy, &wk);
        snprintf(c->cached_index, sizeof(c->cached_index), "%s-%04d-w%02d",
                 c->index, wy, wk);
        break;
    case CFG_ROT_MONTH:
        snprintf(c->cached_index, sizeof(c->cached_index), "%s-%04d-%02d",
                 c->index, tm.tm_year + 1900, tm.tm_mon + 1);
        break;
    default:
        snprintf(c->cached_index, sizeof(c->cached_index),
                 "%s-%04d-%02d-%02d", c->index, tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday);
        break;
    }
    c->cached_hour = hour;
    return c->cached_index;
}

/* ---- request and response ---- */

static void set_result(const struct payload *p, struct dest_rec_result *r,
                       enum dest_status st, int http_status,
                       const char *code, const char *msg)
{
    dest_result_set(p->reasons, r, st, http_status, code, msg);
}

/* A record id as a document _id: it goes into JSON unescaped. */
static int id_ok(const char *id)
{
    size_t n = id != NULL ? strlen(id) : 0;

    return n > 0 && n <= DEST_REC_ID_MAX &&
           strspn(id, "abcdefghijklmnopqrstuvwxyz"
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* The NDJSON body of records from 'from' on, as many as fit OS_MAX_BODY
 * (at least one); *next is where the following request starts, c->sent
 * maps its items to records. Records that are no JSON object fail here
 * and are never sent. */
static int build_body(struct os *c, const struct payload *p, size_t from,
                      size_t *next, size_t *n_sent, struct err *e)
{
    size_t k = 0, i;

    c->body.len = 0;
    if (p->n_recs > c->sent_cap) {
        size_t *s = realloc(c->sent, p->n_recs * sizeof(*s));

        if (s == NULL)
            return err_set(e, ERR_NOMEM, "out of memory for %zu records",
                           p->n_recs);
        c->sent = s;
        c->sent_cap = p->n_recs;
    }
    for (i = from; i < p->n_recs; i++) {
        const struct payload_rec *r = &p->recs[i];
        size_t at;

        if (k > 0 && c->body.len + OS_ACTION_MAX + r->len > OS_MAX_BODY)
            break;
        if (is_one_object(r->data, r->len) != 0) {
            set_result(p, &p->results[i], DEST_FAIL, 0, CODE_INVALID_DOC,
                       "the record is not a single JSON object");
            continue;
        }
        if (!c->no_id && !id_ok(r->id)) {
            set_result(p, &p->results[i], DEST_FAIL, 0, CODE_INVALID_ID,
                       "the record id can't be a document _id (1-128 of "
                       "A-Z a-z 0-9 . _ -)");
            continue;
        }
        if (buf_printf(&c->body, e, "{\"index\":{\"_index\":\"%s\"%s%s%s"
                       "%s%s%s}}\n", index_for(c, r->arrival_ms),
                       c->type[0] ? ",\"_type\":\"" : "", c->type,
                       c->type[0] ? "\"" : "",
                       c->no_id ? "" : ",\"_id\":\"",
                       c->no_id ? "" : r->id, c->no_id ? "" : "\"") != 0 ||
            buf_reserve(&c->body, r->len + 1, e) != 0)
            return -1;
        /* Line breaks can only be whitespace here (the scan rejects raw
         * control bytes in strings): blank them to keep one line. */
        at = c->body.len;
        memcpy(c->body.p + at, r->data, r->len);
        for (size_t j = 0; j < r->len; j++)
            if (c->body.p[at + j] == '\n' || c->body.p[at + j] == '\r')
                c->body.p[at + j] = ' ';
        c->body.len += r->len;
        c->body.p[c->body.len++] = '\n';
        c->sent[k++] = i;
    }
    *next = i;
    *n_sent = k;
    return 0;
}

static int send_bulk(struct dest *d, struct err *e)
{
    struct os *c = d->ctx;
    struct sigv4_header sh[5];
    struct sigv4_request rq;
    struct sigv4_key k;
    char amz_date[17], hash[65], authz[512];
    char h_host[600], h_date[64], h_sha[96], h_auth[560], h_tok[2100];
    const char *hdrs[8];
    size_t nh = 0, ns = 0;

    snprintf(h_host, sizeof(h_host), "Host: %s", c->host);
    hdrs[nh++] = h_host;
    hdrs[nh++] = "Content-Type: application/x-ndjson";
    if (c->h_basic != NULL) {
        hdrs[nh++] = c->h_basic;
    } else if (c->have_cred) {
        sigv4_amz_date(amz_date);
        sigv4_sha256_hex(c->body.p, c->body.len, hash);
        sh[ns++] = (struct sigv4_header){ "host", c->host };
        sh[ns++] = (struct sigv4_header){ "content-type",
                                          "application/x-ndjson" };
        sh[ns++] = (struct sigv4_header){ "x-amz-date", amz_date };
        sh[ns++] = (struct sigv4_header){ "x-amz-content-sha256", hash };
        if (c->cred.session_token[0])
            sh[ns++] = (struct sigv4_header){ "x-amz-security-token",
                                              c->cred.session_token };
        memset(&rq, 0, sizeof(rq));
        rq.method = "POST";
        rq.path = c->path;
        rq.headers = sh;
        rq.n_headers = ns;
        rq.payload_hash = hash;
        k.access_key_id = c->cred.access_key_id;
        k.secret = c->cred.secret;
        k.region = c->region;
        k.service = "es";
        k.amz_date = amz_date;
        if (sigv4_authorization(&rq, &k, authz, sizeof(authz), e) != 0)
            return -1;
        snprintf(h_date, sizeof(h_date), "x-amz-date: %s", amz_date);
        snprintf(h_sha, sizeof(h_sha), "x-amz-content-sha256: %s", hash);
        snprintf(h_auth, sizeof(h_auth), "Authorization: %s", authz);
        hdrs[nh++] = h_date;
        hdrs[nh++] = h_sha;
        hdrs[nh++] = h_auth;
        if (c->cred.session_token[0]) {
            snprintf(h_tok, sizeof(h_tok), "x-amz-security-token: %s",
                     c->cred.session_token);
            hdrs[nh++] = h_tok;
        }
    }
    return httpc_request(c->http, "POST", c->url, hdrs, nh, c->body.p,
                         c->body.len, c->timeout_ms, OS_MAX_RESPONSE,
                         &c->resp, e);
}

/* 429 and 5xx are worth another try; so are auth and routing errors a
 * config or credential fix can cure. Other 4xx are the document's fault. */
static int retryable(long status)
{
    return status == 429 || status >= 500 || status == 401 ||
           status == 403 || status == 404 || status == 408 || status == 0;
}

/* error.type and error.reason of an OpenSearch error object (or the
 * status as text when it has none) into code and msg. */
static void error_fields(json_t *err, long status, char *code, size_t cn,
                         char *msg, size_t mn)
{
    json_t *type = json_object_get(err, "type");
    json_t *reason = json_object_get(err, "reason");

    if (json_is_string(type))
        snprintf(code, cn, "%s", json_string_value(type));
    else
        snprintf(code, cn, "%ld", status);
    if (json_is_string(reason))
        snprintf(msg, mn, "%s", json_string_value(reason));
    else if (json_is_string(err))
        snprintf(msg, mn, "%s", json_string_value(err));
    else
        snprintf(msg, mn, "status %ld", status);
}

/* The whole request failed: every sent record gets the same result. */
static void fail_all(struct os *c, const struct payload *p, size_t n_sent,
                     enum dest_status st, int http_status, const char *code,
                     const char *msg)
{
    for (size_t k = 0; k < n_sent; k++)
        set_result(p, &p->results[c->sent[k]], st, http_status, code, msg);
}

static void read_items(struct os *c, const struct payload *p, size_t n_sent)
{
    json_t *root, *items, *it, *act, *st;
    char code[64], msg[256];
    json_error_t jerr;
    const char *key;
    size_t k;

    root = json_loadb((const char *)c->resp.body.p, c->resp.body.len, 0,
                      &jerr);
    items = json_object_get(root, "items");
    if (!json_is_array(items) || json_array_size(items) != n_sent) {
        snprintf(msg, sizeof(msg), "the _bulk response has %s items for "
                 "%zu documents%s%s", json_is_array(items) ? "other" : "no",
                 n_sent, root ? "" : ": ", root ? "" : jerr.text);
        fail_all(c, p, n_sent, DEST_RETRY, 200, CODE_BAD_RESPONSE, msg);
        json_decref(root);
        return;
    }
    json_array_foreach(items, k, it) {
        struct dest_rec_result *res = &p->results[c->sent[k]];
        long status;

        act = NULL;
        json_object_foreach(it, key, act)
            break;
        st = json_object_get(act, "status");
        if (!json_is_integer(st)) {
            set_result(p, res, DEST_RETRY, 200, CODE_BAD_RESPONSE, "a _bulk "
                       "item has no status");
            continue;
        }
        status = (long)json_integer_value(st);
        if (status >= 200 && status < 300) {
            set_result(p, res, DEST_OK, (int)status, "", "");
            continue;
        }
        error_fields(json_object_get(act, "error"), status, code,
                     sizeof(code), msg, sizeof(msg));
        set_result(p, res, retryable(status) ? DEST_RETRY : DEST_FAIL,
                   (int)status, code, msg);
    }
    json_decref(root);
}

static void read_response(struct os *c, const struct payload *p,
                          size_t n_sent, int sent, const struct err *te)
{
    const struct httpc_resp *r = &c->resp;
    char code[64], msg[256];
    json_t *root;

    if (sent != 0) {
        const char *cd;

        switch (r->fail) {
        case HTTPC_FAIL_TIMEOUT:  cd = "OS.RequestTimeout"; break;
        case HTTPC_FAIL_TLS:      cd = "OS.SSLHandshakeFailure"; break;
        case HTTPC_FAIL_RESET:    cd = "OS.ConnectionReset"; break;
        case HTTPC_FAIL_TOO_BIG:  cd = "OS.ResponseTooLarge"; break;
        default:                  cd = "OS.ConnectionFailed"; break;
        }
        fail_all(c, p, n_sent, DEST_RETRY, (int)r->status, cd, te->msg);
        return;
    }
    if (r->status == 200) {
        read_items(c, p, n_sent);
        return;
    }
    root = json_loadb((const char *)r->body.p, r->body.len, 0, NULL);
    error_fields(json_object_get(root, "error"), r->status, code,
                 sizeof(code), msg, sizeof(msg));
    json_decref(root);
    fail_all(c, p, n_sent, retryable(r->status) ? DEST_RETRY : DEST_FAIL,
             (int)r->status, code, msg);
}

static enum dest_status os_deliver(struct dest *d, const struct payload *p,
                                   struct err *e)
{
    struct os *c = d->ctx;
    size_t n_sent = 0, n_retry = 0, n_fail = 0, first = SIZE_MAX;
    size_t from = 0, next = 0, down = SIZE_MAX;
    struct err te = { 0, "" };
    int sent;

    if (p->n_recs == 0 && (p->records > 0 || p->len > 0)) {
        /* Never report an object we did not send as stored. */
        err_set(e, ERR_RETRY, "given an object of %u records instead of "
                "the records: this core does not drive record "
                "destinations (wants_records)", p->records);
        return DEST_RETRY;
    }
    if (p->n_recs == 0)
        return DEST_OK;
    for (; from < p->n_recs; from = next) {
        if (build_body(c, p, from, &next, &n_sent, e) != 0) {
            for (size_t i = from; i < p->n_recs; i++)
                set_result(p, &p->results[i], DEST_RETRY, 0,
                           "OS.ConnectionFailed", e->msg);
            break;
        }
        if (n_sent == 0)
            continue;
        if (down != SIZE_MAX) {
            /* The cluster was unreachable a moment ago: the rest of this
             * attempt waits for the next one. */
            char dc[64], dm[256];

            /* Copies: adding reasons may move the one we read. */
            snprintf(dc, sizeof(dc), "%s",
                     dest_result_code(p->reasons, &p->results[down]));
            snprintf(dm, sizeof(dm), "%s",
                     dest_result_msg(p->reasons, &p->results[down]));
            fail_all(c, p, n_sent, DEST_RETRY, 0, dc, dm);
            continue;
        }
        sent = send_bulk(d, &te);
        read_response(c, p, n_sent, sent, &te);
        if (sent != 0 && c->resp.fail != HTTPC_FAIL_TOO_BIG)
            down = c->sent[0];
    }
    for (size_t i = 0; i < p->n_recs; i++) {
        if (p->results[i].status == DEST_OK)
            continue;
        if (first == SIZE_MAX)
            first = i;
        if (p->results[i].status == DEST_RETRY)
            n_retry++;
        else
            n_fail++;
    }
    if (first == SIZE_MAX)
        return DEST_OK;
    err_set(e, n_retry ? ERR_RETRY : ERR_INVAL, "_bulk to %s: %zu of %zu "
            "documents failed, first: %s: %.150s", c->host, n_retry + n_fail,
            p->n_recs, dest_result_code(p->reasons, &p->results[first]),
            dest_result_msg(p->reasons, &p->results[first]));
    return n_retry ? DEST_RETRY : DEST_FAIL;
}

static void os_destroy(struct dest *d)
{
    struct os *c = d->ctx;

    if (c == NULL)
        return;
    httpc_free(c->http);
    buf_release(&c->resp.body);
    buf_release(&c->body);
    free(c->sent);
    if (c->h_basic != NULL)
        explicit_bzero(c->h_basic, strlen(c->h_basic));
    free(c->h_basic);
    memset(&c->cred, 0, sizeof(c->cred));
    free(c);
    d->ctx = NULL;
}

const struct dest_type dest_opensearch = {
    .name = "opensearch",
    .kind = CFG_DEST_OPENSEARCH,
    .wants_records = 1,
    .create = os_create,
    .deliver = os_deliver,
    .destroy = os_destroy,
};
