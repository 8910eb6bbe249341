#include "api.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "connguard.h"
#include "control.h"
#include "dash.h"
#include "jscan.h"
#include "log.h"
#include "quota.h"
#include "util.h"

/* Base64 of 4 MiB plus JSON framing for 500 records fits easily; anything
 * larger is refused before it is read. */
#define API_MAX_BODY (8u * 1024u * 1024u)
/* A connection keeps a body buffer up to this size for its next request;
 * a bigger one is freed once answered, so idle connections hold at most
 * MaxConnections x this. */
#define API_KEEP_BODY (1u << 20)
#define API_TARGET_PREFIX "Firehose_20150804."

struct api {
    const struct cfg_service *svc;
    struct streams *set;
    struct control *ctl;            /* NULL: no control-plane operations */
    struct MHD_Daemon *mhd;
    struct MHD_Daemon *admin;       /* AdminListen; NULL: dashboard on mhd */
    atomic_int ready;
    _Atomic(struct dash *) dash;    /* GET routes; NULL until set */
    struct auth *auth;              /* NULL: no SigV4 check */
    struct connguard *guard;        /* RequestTimeoutSeconds */
    char *tls_cert, *tls_key;       /* PEM, NULL for plain HTTP */
    /* Bytes of request bodies being received or parsed, against
     * Service.MaxRequestMemoryBytes (body_charge()). */
    _Atomic uint64_t body_bytes;
    _Atomic int64_t body_warned_ms; /* last "budget reached" log line */
};

/* One per connection, reused by every request on it (keep-alive), so the
 * request path allocates nothing per record and little per request. */
struct conn {
    struct buf body;
    struct buf resp;
    int rejected;               /* a response is queued already */
    uint64_t rng;               /* request ids */
    struct jscan_put put;
    struct connguard_entry guard;
    char uri[AUTH_MAX_URI + 1]; /* raw request target, for SigV4 */
    int uri_long;               /* it did not fit */
    struct auth_request areq;
    uint64_t charged;           /* of api.body_bytes, for this request */
};

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*: request ids need uniqueness, not secrecy. */
    uint64_t x = *s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 2685821657736338717ULL;
}

static void request_id(struct conn *c, char out[37])
{
    unsigned char b[16];
    uint64_t a = rng_next(&c->rng), d = rng_next(&c->rng);

    memcpy(b, &a, 8);
    memcpy(b + 8, &d, 8);
    util_uuid(b, out);
}

static enum MHD_Result send_body(struct MHD_Connection *mc, struct conn *c,
                                 unsigned status, const char *ctype,
                                 const void *body, size_t len,
                                 const char *error_type)
{
    struct MHD_Response *r;
    enum MHD_Result ret;
    char rid[37];

    r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
                                        MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    request_id(c, rid);
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "x-amzn-RequestId", rid);
    if (error_type != NULL)
        MHD_add_response_header(r, "x-amzn-ErrorType", error_type);
    ret = MHD_queue_response(mc, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *mc, struct conn *c,
                                  unsigned status, const char *type,
                                  const char *msg)
{
    struct err e;

    c->resp.len = 0;
    (void)buf_printf(&c->resp, &e, "{\"__type\":\"%s\",\"message\":", type);
    (void)buf_json_str(&c->resp, msg, &e);
    (void)buf_append(&c->resp, "}", 1, &e);
    return send_body(mc, c, status, "application/x-amz-json-1.1", c->resp.p,
                     c->resp.len, type);
}

static enum MHD_Result not_found(struct api *a, struct MHD_Connection *mc,
                                 struct conn *c, const char *name)
{
    char msg[200];

    snprintf(msg, sizeof(msg), "Firehose %.80s under account %s not found.",
             name, a->svc->account_id);
    return send_error(mc, c, 400, "ResourceNotFoundException", msg);
}

/* 32 hex digits: the spool's incarnation then the record's sequence. */
static void record_id(char *out, uint64_t inc, uint64_t seq)
{
    static const char hex[] = "0123456789abcdef";

    for (int i = 15; i >= 0; i--) {
        out[i] = hex[inc & 15];
        inc >>= 4;
    }
    for (int i = 31; i >= 16; i--) {
        out[i] = hex[seq & 15];
        seq >>= 4;
    }
}

static int64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#define API_SLOW_DOWN "{\"ErrorCode\":\"ServiceUnavailableException\"," \
                      "\"ErrorMessage\":\"Slow down.\"}"

/* The PutRecordBatch answer: entries before 'ok' got record ids from
 * 'first' on, the rest failed with 'code' and 'msg' (n - ok of them). */
static enum MHD_Result batch_reply(struct MHD_Connection *mc, struct conn *c,
                                   size_t n, size_t ok, uint64_t inc,
                                   uint64_t first, const char *code,
                                   const char *msg)
{
    struct err e = { 0, "" };
    char head[96];
    int hn;

    hn = snprintf(head, sizeof(head), "{\"FailedPutCount\":%zu,"
                  "\"Encrypted\":false,\"RequestResponses\":[", n - ok);
    c->resp.len = 0;
    /* Each success is 47 bytes, a Slow down entry 73; reserve once, then
     * write without formatting calls (no per-record allocation). */
    if (buf_reserve(&c->resp, (size_t)hn + ok * 48 +
                    (n - ok) * (strlen(code) + strlen(msg) + 40) + 4,
                    &e) != 0)
        return send_error(mc, c, 500, "InternalFailure", e.msg);
    (void)buf_append(&c->resp, head, (size_t)hn, &e);
    for (size_t i = 0; i < ok; i++) {
        unsigned char *w = c->resp.p + c->resp.len;
        if (i)
            *w++ = ',';
        memcpy(w, "{\"RecordId\":\"", 13);
        record_id((char *)w + 13, inc, first + i);
        memcpy(w + 45, "\"}", 2);
        c->resp.len = (size_t)(w + 47 - c->resp.p);
    }
    for (size_t i = ok; i < n; i++) {
        if (i)
            (void)buf_append(&c->resp, ",", 1, &e);
        if (strcmp(code, "ServiceUnavailableException") == 0 &&
            strcmp(msg, "Slow down.") == 0) {
            (void)buf_append(&c->resp, API_SLOW_DOWN,
                             sizeof(API_SLOW_DOWN) - 1, &e);
            continue;
        }
        (void)buf_printf(&c->resp, &e, "{\"ErrorCode\":\"%s\","
                         "\"ErrorMessage\":\"%s\"}", code, msg);
    }
    (void)buf_append(&c->resp, "]}", 2, &e);
    return send_body(mc, c, 200, "application/x-amz-json-1.1", c->resp.p,
                     c->resp.len, NULL);
}

/* The records of a parsed put into 'st'; under the set's read lock.
 * DirectPutQuotas admit a prefix of the records (Firehose accepts entries
 * in order until the bucket is empty); the rest are never spooled. */
static enum MHD_Result put_stream(struct api *a, struct MHD_Connection *mc,
                                  struct conn *c, int batch,
                                  struct stream *st)
{
    struct jscan_put *p = &c->put;
    struct err e = { 0, "" };
    uint64_t first = 0;
    size_t ok;
    char id[32];

    if (stream_cfg(st)->type != CFG_STREAM_DIRECT_PUT)
        return send_error(mc, c, 400, "InvalidArgumentException",
                          "This operation is not permitted on "
                          "KinesisStreamAsSource delivery stream type.");
    ok = quota_take(stream_quota(st), p->recs, p->n, mono_us());
    if (ok < p->n)
        metrics_add(&stream_metrics(st)->throttled_records, p->n - ok);
    if (ok == 0 && !batch)
        return send_error(mc, c, 503, "ServiceUnavailableException",
                          "Slow down.");
    if (ok > 0 && stream_put(st, p->recs, ok, &first, &e) != 0) {
        int full = e.code == ERR_FULL;
        /* Throttling is not logged (it would flood the log); the error
         * list folds repeats. Other failures reach it through the log. */
        if (full)
            dash_error(atomic_load(&a->dash), LOG_WARN, p->stream, "api",
                       "throttled: the spool is at MaxSpoolBytesPerStream "
                       "or the disk is full; producers get "
                       "ServiceUnavailableException until delivery catches "
                       "up");
        if (!full) {
            log_msg(LOG_ERROR, "api", "spooling for '%s' failed: %s",
                    p->stream, e.msg);
            if (!batch)
                return send_error(mc, c, 500, "InternalFailure",
                                  "The record could not be stored; "
                                  "retry later.");
        } else if (!batch) {
            return send_error(mc, c, 503, "ServiceUnavailableException",
                              "Slow down.");
        }
        /* PutRecordBatch: HTTP 200 with every entry failed, as Firehose
         * answers throttling inside a batch. */
        if (full)
            return batch_reply(mc, c, p->n, 0, 0, 0,
                               "ServiceUnavailableException", "Slow down.");
        return batch_reply(mc, c, p->n, 0, 0, 0, "InternalFailure",
                           "The record could not be stored; retry later.");
    }
    if (batch)
        return batch_reply(mc, c, p->n, ok, stream_incarnation(st), first,
                           "ServiceUnavailableException", "Slow down.");
    c->resp.len = 0;
    record_id(id, stream_incarnation(st), first);
    (void)buf_printf(&c->resp, &e, "{\"RecordId\":\"%.32s\","
                     "\"Encrypted\":false}", id);
    return send_body(mc, c, 200, "application/x-amz-json-1.1", c->resp.p,
                     c->resp.len, NULL);
}

/* PutRecord(Batch): the stream is looked up and written under the set's
 * read lock, once per request, so a delete or update waits for it. Only
 * ACTIVE streams take records. */
static enum MHD_Result put(struct api *a, struct MHD_Connection *mc,
                           struct conn *c, int batch)
{
    int64_t t0 = mono_us();
    struct jscan_put *p = &c->put;
    struct streams_item *it;
    struct err e = { 0, "" };
    enum jscan_error je;
    enum MHD_Result r;

    je = jscan_parse_put((char *)c->body.p, c->body.len, batch, p, &e);
    if (je == JSCAN_SERIALIZATION)
        return send_error(mc, c, 400, "SerializationException", e.msg);
    if (je == JSCAN_VALIDATION)
        return send_error(mc, c, 400, "ValidationException", e.msg);
    if (je == JSCAN_INVALID_ARGUMENT)
        return send_error(mc, c, 400, "InvalidArgumentException", e.msg);
    streams_rdlock(a->set);
    it = streams_find(a->set, p->stream);
    if (it == NULL || it->status != STREAMS_ACTIVE) {
        streams_unlock(a->set);
        return not_found(a, mc, c, p->stream);
    }
    r = put_stream(a, mc, c, batch, it->st);
    prom_hist_observe_us(&stream_metrics(it->st)->put_duration[
                             batch ? METRICS_PUT_RECORD_BATCH
                                   : METRICS_PUT_RECORD],
                         (uint64_t)(mono_us() - t0));
    streams_unlock(a->set);
    return r;
}

static enum MHD_Result dispatch(struct api *a, struct MHD_Connection *mc,
                                struct conn *c)
{
    static const char *const unsupported[] = {
        "StartDeliveryStreamEncryption", "StopDeliveryStreamEncryption", NULL
    };
    const char *target = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                                     "X-Amz-Target");
    const char *op;
    char msg[200];

    if (target == NULL ||
        strncmp(target, API_TARGET_PREFIX, strlen(API_TARGET_PREFIX)) != 0)
        return send_error(mc, c, 400, "UnknownOperationException",
                          "Missing or unknown X-Amz-Target; expected "
                          "Firehose_20150804.<Operation>");
    op = target + strlen(API_TARGET_PREFIX);
    if (strcmp(op, "PutRecordBatch") == 0 || strcmp(op, "PutRecord") == 0)
        return put(a, mc, c, op[9] == 'B');
    if (a->ctl != NULL) {
        struct control_reply cr;
        struct buf out = { NULL, 0, 0 };
        enum MHD_Result r = MHD_NO;

        if (control_call(a->ctl, op, (const char *)c->body.p, c->body.len,
                         &out, &cr) == 0) {
            if (out.p == NULL)
                r = send_error(mc, c, 500, "InternalFailure",
                               "out of memory");
            else if (cr.error_type != NULL)
                r = send_error(mc, c, cr.status, cr.error_type,
                               (const char *)out.p);
            else
                r = send_body(mc, c, 200, "application/x-amz-json-1.1",
                              out.p, out.len, NULL);
            buf_release(&out);
            return r;
        }
    }
    for (size_t i = 0; unsupported[i]; i++) {
        if (strcmp(op, unsupported[i]) == 0) {
            snprintf(msg, sizeof(msg), "%s is not supported by this server: "
                     "it does not encrypt its spool", op);
            return send_error(mc, c, 400, "InvalidArgumentException", msg);
        }
    }
    return send_error(mc, c, 400, "UnknownOperationException",
                      "Unknown operation in X-Amz-Target");
}

/* libmicrohttpd 0.9.75 gives every received header in order, name case
 * kept, duplicates as separate entries (sigv4.c joins them with ','),
 * leading blanks dropped. It mangles obs-folded lines, so a folded signed
 * header fails verification; real clients do not fold. */
static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind,
                                 const char *name, const char *value)
{
    (void)kind;
    auth_add_header(cls, name, value);
    return MHD_YES;
}

/* SigV4 check of a complete POST / request: 0 to go on, else a refusal
 * was queued and *ret is the handler's answer. */
static int authorize(struct api *a, struct MHD_Connection *mc, struct conn *c,
                     enum MHD_Result *ret)
{
    struct auth_request *r = &c->areq;
    struct auth_result res;

    if (a->auth == NULL)
        return 0;
    if (c->uri_long) {
        *ret = send_error(mc, c, 400, "InvalidSignatureException",
                          "The request target is longer than 2048 bytes");
        return -1;
    }
    r->method = "POST";
    r->uri = c->uri;
    r->n_headers = 0;
    MHD_get_connection_values(mc, MHD_HEADER_KIND, add_header, r);
    r->body = c->body.p;
    r->body_len = c->body.len;
    r->now_s = util_now_ms() / 1000;
    if (auth_verify(a->auth, r, &res) == 0)
        return 0;
    log_msg(LOG_DEBUG, "api", "refused a request signed by '%s': %s",
            res.access_key_id, res.type);
    *ret = send_error(mc, c, res.status, res.type, res.message);
    return -1;
}

/* PutRecordBatch bodies are parsed in place, so each is held whole until
 * answered: 16 producers sending 2.7 MB each held 43 MB. So a request's
 * body counts against MaxRequestMemoryBytes from its headers on (its
 * Content-Length), and one that would pass it is answered 503 "Slow
 * down." before its body is read, like a full spool. 'force' charges
 * regardless: a chunked body, or one longer than announced, can't be
 * refused half-way. 0, or -1 with nothing charged. */
static int body_charge(struct api *a, struct conn *c, uint64_t want,
                       int force)
{
    uint64_t delta, now;

    if (want <= c->charged)
        return 0;
    delta = want - c->charged;
    now = atomic_fetch_add(&a->body_bytes, delta) + delta;
    if (!force && now > a->svc->max_request_memory) {
        int64_t t = util_mono_ms(), last = atomic_load(&a->body_warned_ms);

        atomic_fetch_sub(&a->body_bytes, delta);
        if (t - last >= 10000 &&
            atomic_compare_exchange_strong(&a->body_warned_ms, &last, t))
            log_msg(LOG_WARN, "api", "request bodies at "
                    "MaxRequestMemoryBytes (%" PRIu64 " bytes): answering "
                    "503 Slow down until some are answered",
                    a->svc->max_request_memory);
        return -1;
    }
    c->charged = want;
    return 0;
}

/* The request is answered (or the connection closed): its charge goes,
 * and so does a big buffer. */
static void body_done(struct api *a, struct conn *c)
{
    atomic_fetch_sub(&a->body_bytes, c->charged);
    c->charged = 0;
    if (c->body.cap > API_KEEP_BODY)
        buf_release(&c->body);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *mc,
                               const char *url, const char *method,
                               const char *version, const char *upload,
                               size_t *upload_size, void **req_cls)
{
    struct api *a = cls;
    const union MHD_ConnectionInfo *ci;
    struct conn *c;
    struct err e;

    (void)version;
    if (*req_cls == NULL) {
        const char *cl;
        uint64_t len;
        ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        if (ci == NULL || ci->socket_context == NULL)
            return MHD_NO;
        c = ci->socket_context;
        *req_cls = c;
        c->body.len = 0;
        c->rejected = 0;
        /* The headers are in; only a POST body is still to come. */
        if (a->guard != NULL && strcmp(method, "POST") != 0)
            connguard_disarm(&c->guard);
        if (strcmp(method, "GET") == 0 && strcmp(url, "/health") == 0) {
            c->rejected = 1;
            if (!atomic_load(&a->ready))
                return send_body(mc, c, 503, "application/json",
                                 "{\"status\":\"starting\"}", 21, NULL);
            return send_body(mc, c, 200, "application/json",
                             "{\"status\":\"ok\"}", 15, NULL);
        }
        if (a->admin == NULL &&
            (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)) {
            struct dash *d = atomic_load(&a->dash);
            int r = d ? dash_serve(d, mc, url, &c->resp) : -1;
            if (r >= 0) {
                c->rejected = 1;
                return (enum MHD_Result)r;
            }
        }
        if (strcmp(method, "POST") != 0 || strcmp(url, "/") != 0) {
            c->rejected = 1;
            return send_error(mc, c, 404, "UnknownOperationException",
                              "Only POST / (the Firehose API) and GET /, "
                              "/dashboard, /api/status, /metrics and "
                              "/health are served here");
        }
        cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                         "Content-Length");
        len = cl != NULL ? strtoull(cl, NULL, 10) : 0;
        if (len > API_MAX_BODY) {
            c->rejected = 1;
            return send_error(mc, c, 413, "InvalidArgumentException",
                              "Records size exceeds 4 MB limit (request "
                              "body over 8 MiB)");
        }
        if (body_charge(a, c, len, 0) != 0) {
            c->rejected = 1;
            return send_error(mc, c, 503, "ServiceUnavailableException",
                              "Slow down.");
        }
        return MHD_YES;
    }
    c = *req_cls;
    if (*upload_size > 0) {
        if (!c->rejected) {
            if (c->body.len + *upload_size > API_MAX_BODY) {
                /* Only a chunked body gets here (a large Content-Length
                 * was refused up front). libmicrohttpd cannot queue an
                 * answer mid-body, so the connection is closed: nothing
                 * past the cap is buffered or read. */
                log_msg(LOG_DEBUG, "api", "chunked request body over "
                        "8 MiB: connection closed");
                return MHD_NO;
            }
            if (buf_append(&c->body, upload, *upload_size, &e) != 0) {
                c->rejected = 1;
                *upload_size = 0;
                return send_error(mc, c, 500, "InternalFailure", e.msg);
            }
            (void)body_charge(a, c, c->body.len, 1);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (a->guard != NULL)
        connguard_disarm(&c->guard);
    if (c->rejected)
        return MHD_YES;
    c->rejected = 1;
    {
        enum MHD_Result ret;

        if (authorize(a, mc, c, &ret) != 0)
            return ret;
    }
    return dispatch(a, mc, c);
}

/* The raw request target, before libmicrohttpd decodes it: SigV4 signs
 * the path and query as sent. */
static void *uri_log(void *cls, const char *uri, struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci;
    struct conn *c;
    size_t n = strlen(uri);

    (void)cls;
    ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (ci == NULL || (c = ci->socket_context) == NULL)
        return NULL;
    c->uri_long = n > AUTH_MAX_URI;
    memcpy(c->uri, uri, c->uri_long ? 0 : n + 1);
    c->uri[c->uri_long ? 0 : n] = '\0';
    return NULL;
}

/* The answer was sent: the next request has RequestTimeoutSeconds. */
static void on_completed(void *cls, struct MHD_Connection *mc,
                         void **req_cls, enum MHD_RequestTerminationCode toe)
{
    struct api *a = cls;
    struct conn *c = *req_cls;

    (void)mc;
    (void)toe;
    if (c != NULL)
        body_done(a, c);
    if (a->guard != NULL && c != NULL)
        connguard_arm(a->guard, &c->guard);
}

static void on_connection(void *cls, struct MHD_Connection *mc,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct api *a = cls;
    const union MHD_ConnectionInfo *ci;
    struct conn *c;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        c = calloc(1, sizeof(*c));
        if (c != NULL && util_random(&c->rng, sizeof(c->rng), NULL) != 0)
            c->rng = (uint64_t)util_mono_ms();
        if (c != NULL)
            c->rng |= 1;
        ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (c != NULL && a->guard != NULL && ci != NULL)
            connguard_add(a->guard, &c->guard, ci->connect_fd);
        *socket_context = c;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        c = *socket_context;
        if (c != NULL) {
            if (a->guard != NULL)
                connguard_remove(a->guard, &c->guard);
            body_done(a, c);
            buf_release(&c->body);
            buf_release(&c->resp);
            free(c);
        }
        *socket_context = NULL;
    }
}

/* Authentication, the request deadline and TLS, before listening. */
static int security_start(struct api *a, const struct sockaddr *addr,
                          unsigned *flags, struct MHD_OptionItem tls[3],
                          struct err *e)
{
    const struct cfg_service *svc = a->svc;

    tls[0].option = MHD_OPTION_END;
    if (auth_new(svc, addr, &a->auth, e) != 0 ||
        connguard_new(svc->request_timeout_s, &a->guard, e) != 0 ||
        auth_tls_load(svc, &a->tls_cert, &a->tls_key, e) != 0)
        return -1;
    if (a->tls_cert == NULL)
        return 0;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return err_set(e, ERR_INVAL, "Service.Tls is set but this "
                       "libmicrohttpd was built without TLS support");
    *flags |= MHD_USE_TLS;
    tls[0] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0,
                                      a->tls_cert };
    tls[1] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0,
                                      a->tls_key };
    tls[2] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
    log_msg(LOG_INFO, "api", "serving HTTPS with certificate '%s'",
            svc->tls.cert_file);
    return 0;
}

/* AdminListen: the dashboard, /api/status, /metrics and /health only;
 * no records and no control plane, so they can sit on another address
 * than the producers' (no SigV4 here: keep it on a trusted network). */
static enum MHD_Result admin_handler(void *cls, struct MHD_Connection *mc,
                                     const char *url, const char *method,
                                     const char *version, const char *upload,
                                     size_t *upload_size, void **req_cls)
{
    struct api *a = cls;
    const union MHD_ConnectionInfo *ci;
    struct dash *d;
    struct conn *c;
    int r;

    (void)version;
    (void)upload;
    if (*req_cls != NULL) {
        *upload_size = 0;       /* bodies are not for us: drop them */
        return MHD_YES;
    }
    ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (ci == NULL || ci->socket_context == NULL)
        return MHD_NO;
    c = ci->socket_context;
    *req_cls = c;
    if (strcmp(method, "GET") == 0 && strcmp(url, "/health") == 0)
        return atomic_load(&a->ready)
            ? send_body(mc, c, 200, "application/json",
                        "{\"status\":\"ok\"}", 15, NULL)
            : send_body(mc, c, 503, "application/json",
                        "{\"status\":\"starting\"}", 21, NULL);
    d = atomic_load(&a->dash);
    if ((strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) &&
        d != NULL && (r = dash_serve(d, mc, url, &c->resp)) >= 0)
        return (enum MHD_Result)r;
    return send_error(mc, c, 404, "UnknownOperationException",
                      "The admin address serves GET /, /dashboard, "
                      "/api/status, /metrics and /health only");
}

static void on_admin_connection(void *cls, struct MHD_Connection *mc,
                                void **socket_context,
                                enum MHD_ConnectionNotificationCode code)
{
    struct conn *c;

    (void)cls;
    (void)mc;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        c = calloc(1, sizeof(*c));
        if (c != NULL)
            c->rng = (uint64_t)util_mono_ms() | 1;
        *socket_context = c;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        c = *socket_context;
        if (c != NULL) {
            buf_release(&c->body);
            buf_release(&c->resp);
            free(c);
        }
        *socket_context = NULL;
    }
}

static int admin_start(struct api *a, struct err *e)
{
    const struct cfg_service *svc = a->svc;
    struct addrinfo hints, *ai = NULL;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
                     MHD_USE_ITC;
    char port[16];
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    snprintf(port, sizeof(port), "%d", svc->admin_port);
    rc = getaddrinfo(svc->admin_host, port, &hints, &ai);
    if (rc != 0)
        return err_set(e, ERR_INVAL, "AdminListen address '%s': %s",
                       svc->admin_listen, gai_strerror(rc));
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    a->admin = MHD_start_daemon(
        flags, (uint16_t)svc->admin_port, NULL, NULL, admin_handler, a,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
        MHD_OPTION_NOTIFY_CONNECTION, on_admin_connection, a,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (a->admin == NULL)
        return err_set(e, ERR_IO, "cannot listen on AdminListen '%s' "
                       "(address in use, or not an address of this "
                       "machine?)", svc->admin_listen);
    return 0;
}

int api_start(const struct cfg_service *svc, struct streams *set,
              struct control *ctl, struct api **out, struct err *e)
{
    struct MHD_OptionItem tls[3];
    struct addrinfo hints, *ai = NULL;
    struct api *a;
    char port[16];
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
                     MHD_USE_ITC;
    int rc;

    *out = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    snprintf(port, sizeof(port), "%d", svc->listen_port);
    rc = getaddrinfo(svc->listen_host, port, &hints, &ai);
    if (rc != 0)
        return err_set(e, ERR_INVAL, "Listen address '%s': %s", svc->listen,
                       gai_strerror(rc));
    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        freeaddrinfo(ai);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    a->svc = svc;
    a->set = set;
    a->ctl = ctl;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (svc->admin_listen != NULL && admin_start(a, e) != 0) {
        freeaddrinfo(ai);
        api_stop(a);
        return -1;
    }
    if (security_start(a, ai->ai_addr, &flags, tls, e) != 0) {
        freeaddrinfo(ai);
        api_stop(a);
        return -1;
    }
    a->mhd = MHD_start_daemon(
        flags, (uint16_t)svc->listen_port, NULL, NULL, handler, a,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)svc->max_connections,
        /* Idle time while an answer is out; connguard bounds requests. */
        MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)(svc->request_timeout_s > 60 ? svc->request_timeout_s : 60),
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, a,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
        MHD_OPTION_URI_LOG_CALLBACK, uri_log, NULL,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        MHD_OPTION_ARRAY, tls,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (a->mhd == NULL) {
        api_stop(a);
        return err_set(e, ERR_IO, "cannot listen on '%s' (address in use, "
                       "not an address of this machine, or a bad TLS "
                       "certificate/key pair?)", svc->listen);
    }
    *out = a;
    return 0;
}

void api_set_dash(struct api *a, struct dash *d)
{
    atomic_store(&a->dash, d);
}

void api_set_ready(struct api *a)
{
    atomic_store(&a->ready, 1);
}

void api_stop(struct api *a)
{
    if (a == NULL)
        return;
    /* Stop accepting first; requests in flight finish in their threads. */
    if (a->mhd != NULL) {
        /* The listening socket is ours to close after quiescing; left
         * open (with SO_REUSEPORT) it would take a share of the
         * connections meant for a new daemon on the same port. */
        MHD_socket ls = MHD_quiesce_daemon(a->mhd);
        MHD_stop_daemon(a->mhd);
        if (ls != MHD_INVALID_SOCKET)
            close(ls);
    }
    if (a->admin != NULL) {
        MHD_socket ls = MHD_quiesce_daemon(a->admin);
        MHD_stop_daemon(a->admin);
        if (ls != MHD_INVALID_SOCKET)
            close(ls);
    }
    connguard_free(a->guard);
    auth_free(a->auth);
    auth_tls_release(a->tls_cert, a->tls_key);
    free(a);
}
