/* awsjson.c - see awsjson.h. */
#include "awsjson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awscred.h"
#include "httpc.h"
#include "sigv4.h"
#include "util.h"

/* Replies are small but GetRecords may carry 10 MiB of base64. */
#define AWSJSON_MAX_BODY (32u << 20)

struct awsjson {
    char url[512];
    char host[512];
    char region[64];
    char service[32];
    char target_prefix[64];
    char content_type[64];
    long timeout_ms;
    struct awscred cred;
    struct httpc *http;
    struct httpc_resp resp;
};

struct awsjson *awsjson_new(const struct awsjson_opts *o, struct err *e)
{
    struct awsjson *c = calloc(1, sizeof(*c));
    const char *h;
    size_t n;

    if (c == NULL) {
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (strncmp(o->endpoint, "http://", 7) == 0)
        h = o->endpoint + 7;
    else if (strncmp(o->endpoint, "https://", 8) == 0)
        h = o->endpoint + 8;
    else {
        err_set(e, ERR_INVAL, "endpoint '%s' is not http(s)://host[:port]",
                o->endpoint);
        goto fail;
    }
    n = strcspn(h, "/");
    if (n == 0 || n >= sizeof(c->host) ||
        (size_t)snprintf(c->url, sizeof(c->url), "%.*s/",
                         (int)(h - o->endpoint + (ptrdiff_t)n),
                         o->endpoint) >= sizeof(c->url)) {
        err_set(e, ERR_INVAL, "endpoint '%s' has no usable host",
                o->endpoint);
        goto fail;
    }
    memcpy(c->host, h, n);
    c->host[n] = '\0';
    snprintf(c->region, sizeof(c->region), "%s", o->region);
    snprintf(c->service, sizeof(c->service), "%s", o->service);
    snprintf(c->target_prefix, sizeof(c->target_prefix), "%s",
             o->target_prefix);
    snprintf(c->content_type, sizeof(c->content_type), "%s",
             o->content_type);
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    if (awscred_load(&c->cred, e) != 0) {
        if (e->code == ERR_NOTFOUND)
            err_set(e, ERR_INVAL, "no AWS credentials for %s requests "
                    "(set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or "
                    "~/.aws/credentials)", o->service);
        goto fail;
    }
    if ((c->http = httpc_new(e)) == NULL)
        goto fail;
    return c;
fail:
    awsjson_free(c);
    return NULL;
}

void awsjson_free(struct awsjson *c)
{
    if (c == NULL)
        return;
    httpc_free(c->http);
    buf_release(&c->resp.body);
    explicit_bzero(&c->cred, sizeof(c->cred));
    free(c);
}

int awsjson_is_throttle(const char *type)
{
    return strcmp(type, "ProvisionedThroughputExceededException") == 0 ||
           strcmp(type, "ThrottlingException") == 0 ||
           strcmp(type, "RequestLimitExceeded") == 0 ||
           strcmp(type, "LimitExceededException") == 0 ||
           strcmp(type, "KMSThrottlingException") == 0 ||
           strcmp(type, "TransactionConflictException") == 0;
}

/* The error code of a reply: __type after its last '#'. */
static void error_type(json_t *j, char *type, size_t n, char *msg,
                       size_t msg_n)
{
    const char *t = json_string_value(json_object_get(j, "__type"));
    const char *m = json_string_value(json_object_get(j, "message"));
    const char *hash;

    if (m == NULL)
        m = json_string_value(json_object_get(j, "Message"));
    if (t != NULL && (hash = strrchr(t, '#')) != NULL)
        t = hash + 1;
    snprintf(type, n, "%s", t ? t : "");
    snprintf(msg, msg_n, "%s", m ? m : "");
}

/* Send one request: OK with the reply in c->resp (any status), RETRY for
 * a network failure, ERROR for a request we cannot sign. */
static enum awsjson_rc send_req(struct awsjson *c, const char *op,
                                json_t *req, struct err *e)
{
    struct sigv4_header sh[5];
    struct sigv4_request rq;
    struct sigv4_key k;
    char amz_date[17], authz[512], target[128], ctype[96];
    char h_host[600], h_date[64], h_auth[560], h_tok[2100], h_tgt[160];
    const char *hdrs[8];
    size_t nh = 0, ns = 0;
    char *body;
    int rc;

    body = json_dumps(req, JSON_COMPACT);
    if (body == NULL) {
        err_set(e, ERR_NOMEM, "out of memory for a %s request", op);
        return AWSJSON_RETRY;
    }
    snprintf(target, sizeof(target), "%s.%s", c->target_prefix, op);
    sigv4_amz_date(amz_date);
    sh[ns++] = (struct sigv4_header){ "host", c->host };
    sh[ns++] = (struct sigv4_header){ "content-type", c->content_type };
    sh[ns++] = (struct sigv4_header){ "x-amz-date", amz_date };
    sh[ns++] = (struct sigv4_header){ "x-amz-target", target };
    if (c->cred.session_token[0])
        sh[ns++] = (struct sigv4_header){ "x-amz-security-token",
                                          c->cred.session_token };
    memset(&rq, 0, sizeof(rq));
    rq.method = "POST";
    rq.path = "/";
    rq.headers = sh;
    rq.n_headers = ns;
    rq.body = body;
    rq.body_len = strlen(body);
    k.access_key_id = c->cred.access_key_id;
    k.secret = c->cred.secret;
    k.region = c->region;
    k.service = c->service;
    k.amz_date = amz_date;
    if (sigv4_authorization(&rq, &k, authz, sizeof(authz), e) != 0) {
        free(body);
        return AWSJSON_ERROR;
    }
    snprintf(h_host, sizeof(h_host), "Host: %s", c->host);
    snprintf(ctype, sizeof(ctype), "Content-Type: %s", c->content_type);
    snprintf(h_date, sizeof(h_date), "X-Amz-Date: %s", amz_date);
    snprintf(h_tgt, sizeof(h_tgt), "X-Amz-Target: %s", target);
    snprintf(h_auth, sizeof(h_auth), "Authorization: %s", authz);
    hdrs[nh++] = h_host;
    hdrs[nh++] = ctype;
    hdrs[nh++] = h_date;
    hdrs[nh++] = h_tgt;
    hdrs[nh++] = h_auth;
    if (c->cred.session_token[0]) {
        snprintf(h_tok, sizeof(h_tok), "X-Amz-Security-Token: %s",
                 c->cred.session_token);
        hdrs[nh++] = h_tok;
    }
    rc = httpc_request(c->http, "POST", c->url, hdrs, nh, body, rq.body_len,
                       c->timeout_ms, AWSJSON_MAX_BODY, &c->resp, e);
    free(body);
    return rc != 0 ? AWSJSON_RETRY : AWSJSON_OK;
}

/* A non-200 reply: its error type and message, classified. */
static enum awsjson_rc fail_reply(struct awsjson *c, const char *op,
                                  char *type, size_t type_size,
                                  struct err *e)
{
    json_t *j = NULL;
    char msg[200];

    if (c->resp.body.len > 0)
        j = json_loadb((const char *)c->resp.body.p, c->resp.body.len, 0,
                       NULL);
    msg[0] = '\0';
    if (j != NULL)
        error_type(j, type, type_size, msg, sizeof(msg));
    json_decref(j);
    err_set(e, ERR_RETRY, "%s %s: HTTP %ld %s: %s (request id %s)",
            c->service, op, c->resp.status, type[0] ? type : "(no type)",
            msg, c->resp.request_id[0] ? c->resp.request_id : "-");
    if (c->resp.status >= 500 || awsjson_is_throttle(type))
        return AWSJSON_RETRY;
    e->code = ERR_INVAL;
    return AWSJSON_ERROR;
}

/* Send and sort out failures: OK only for a 200 reply, in c->resp. */
static enum awsjson_rc exchange(struct awsjson *c, const char *op,
                                json_t *req, char *type, size_t type_size,
                                struct err *e)
{
    enum awsjson_rc rc;

    type[0] = '\0';
    if ((rc = send_req(c, op, req, e)) != AWSJSON_OK)
        return rc;
    if (c->resp.status != 200)
        return fail_reply(c, op, type, type_size, e);
    return AWSJSON_OK;
}

enum awsjson_rc awsjson_call(struct awsjson *c, const char *op,
                             json_t *req, json_t **resp, char *type,
                             size_t type_size, struct err *e)
{
    enum awsjson_rc rc = exchange(c, op, req, type, type_size, e);
    json_error_t je;
    json_t *j;

    *resp = NULL;
    if (rc != AWSJSON_OK)
        return rc;
    if (c->resp.body.len == 0)
        j = json_object();
    else
        j = json_loadb((const char *)c->resp.body.p, c->resp.body.len, 0,
                       &je);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        err_set(e, ERR_RETRY, "%s %s: unparsable reply (%s)", c->service,
                op, j == NULL ? je.text : "not a JSON object");
        return AWSJSON_RETRY;
    }
    *resp = j;
    return AWSJSON_OK;
}

enum awsjson_rc awsjson_call_raw(struct awsjson *c, const char *op,
                                 json_t *req, char **body, size_t *len,
                                 char *type, size_t type_size,
                                 struct err *e)
{
    enum awsjson_rc rc = exchange(c, op, req, type, type_size, e);

    *body = NULL;
    *len = 0;
    if (rc != AWSJSON_OK)
        return rc;
    *body = (char *)c->resp.body.p;
    *len = c->resp.body.len;
    return AWSJSON_OK;
}
