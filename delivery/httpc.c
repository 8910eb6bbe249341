#include "httpc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

/* A slow DNS or a black-holed peer should fail fast even when the whole
 * request may take longer. */
#define HTTPC_CONNECT_TIMEOUT_MS 10000L

struct httpc {
    CURL                *curl;
    char                 errbuf[CURL_ERROR_SIZE];
    /* State of the request in flight, for the callbacks. */
    struct httpc_resp   *resp;
    size_t               max_body;
    int                  too_big;
    int                  nomem;
};

struct httpc *httpc_new(struct err *e)
{
    struct httpc *h = calloc(1, sizeof(*h));

    if (h == NULL) {
        err_set(e, ERR_NOMEM, "out of memory for an http client");
        return NULL;
    }
    h->curl = curl_easy_init();
    if (h->curl == NULL) {
        free(h);
        err_set(e, ERR_NOMEM, "curl_easy_init failed");
        return NULL;
    }
    return h;
}

void httpc_free(struct httpc *h)
{
    if (h == NULL)
        return;
    if (h->curl != NULL)
        curl_easy_cleanup(h->curl);
    free(h);
}

/* Copy a header value, trimmed, truncated to the field. */
static void set_field(char *dst, size_t size, const char *v, size_t n)
{
    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' ||
                     v[n - 1] == '\r' || v[n - 1] == '\n'))
        n--;
    if (n >= size)
        n = size - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static int header_is(const char *line, size_t n, const char *name,
                     size_t *vstart)
{
    size_t len = strlen(name);

    if (n <= len || line[len] != ':' || strncasecmp(line, name, len) != 0)
        return 0;
    *vstart = len + 1;
    return 1;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *ud)
{
    struct httpc *h = ud;
    struct httpc_resp *r = h->resp;
    size_t n = size * nitems, v;

    /* A new status line (after "100 Continue" or an interim response)
     * starts a new header block: forget what the last one said. */
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        r->etag[0] = r->content_type[0] = r->request_id[0] = '\0';
        r->content_encoding[0] = '\0';
        return n;
    }
    if (header_is(line, n, "etag", &v))
        set_field(r->etag, sizeof(r->etag), line + v, n - v);
    else if (header_is(line, n, "content-type", &v))
        set_field(r->content_type, sizeof(r->content_type), line + v, n - v);
    else if (header_is(line, n, "content-encoding", &v))
        set_field(r->content_encoding, sizeof(r->content_encoding),
                  line + v, n - v);
    else if (header_is(line, n, "x-amz-request-id", &v) ||
             header_is(line, n, "x-amzn-requestid", &v))
        set_field(r->request_id, sizeof(r->request_id), line + v, n - v);
    return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct httpc *h = ud;
    struct buf *b = &h->resp->body;
    size_t n = size * nmemb;

    /* Returning less than n makes curl stop with CURLE_WRITE_ERROR. */
    if (n > h->max_body - b->len) {
        h->too_big = 1;
        return 0;
    }
    if (buf_append(b, data, n, NULL) != 0) {
        h->nomem = 1;
        return 0;
    }
    return n;
}

/* Whether the caller set this header ("Name:" prefix, any case). */
static int has_header(const char *const *headers, size_t n, const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < n; i++)
        if (strncasecmp(headers[i], name, len) == 0 &&
            headers[i][len] == ':')
            return 1;
    return 0;
}

static struct curl_slist *add_header(struct curl_slist *list, const char *s,
                                     int *failed)
{
    struct curl_slist *l = curl_slist_append(list, s);

    if (l == NULL) {
        *failed = 1;
        return list;
    }
    return l;
}

static enum httpc_fail fail_kind(CURLcode rc, int too_big)
{
    if (too_big)
        return HTTPC_FAIL_TOO_BIG;
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return HTTPC_FAIL_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return HTTPC_FAIL_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
        return HTTPC_FAIL_TLS;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return HTTPC_FAIL_RESET;
    default:
        return HTTPC_FAIL_OTHER;
    }
}

int httpc_request(struct httpc *h, const char *method, const char *url,
                  const char *const *headers, size_t n_headers,
                  const void *body, size_t body_len, long timeout_ms,
                  size_t max_body, struct httpc_resp *resp, struct err *e)
{
    struct curl_slist *list = NULL;
    CURL *c = h->curl;
    CURLcode rc;
    int failed = 0, ret = -1;
    int send_body = body_len > 0 || strcmp(method, "PUT") == 0 ||
                    strcmp(method, "POST") == 0 ||
                    strcmp(method, "PATCH") == 0;
    /* Messages name the URL without its query: presigned URLs carry
     * credentials there. */
    int url_len = (int)strcspn(url, "?");

    resp->status = 0;
    resp->body.len = 0;
    resp->etag[0] = resp->content_type[0] = resp->request_id[0] = '\0';
    resp->content_encoding[0] = '\0';
    resp->fail = HTTPC_FAIL_NONE;
    h->resp = resp;
    h->max_body = max_body;
    h->too_big = h->nomem = 0;
    h->errbuf[0] = '\0';

    for (size_t i = 0; i < n_headers; i++)
        list = add_header(list, headers[i], &failed);
    /* 100-continue costs a round trip per PUT and some peers never answer
     * it; curl's default form content type would mislabel S3 objects. */
    list = add_header(list, "Expect:", &failed);
    if (send_body && !has_header(headers, n_headers, "Content-Type"))
        list = add_header(list, "Content-Type:", &failed);
    if (failed) {
        err_set(e, ERR_NOMEM, "%s %.*s: out of memory for headers", method,
                url_len, url);
        goto out;
    }

    /* Reset drops the last request's options but keeps the connection
     * cache, so keep-alive survives. */
    curl_easy_reset(c);
    if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK) {
        err_set(e, ERR_NOMEM, "%s %.*s: curl cannot take the url", method,
                url_len, url);
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
    if (timeout_ms > 0) {
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                         timeout_ms < HTTPC_CONNECT_TIMEOUT_MS
                             ? timeout_ms : HTTPC_CONNECT_TIMEOUT_MS);
    } else {
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                         HTTPC_CONNECT_TIMEOUT_MS);
    }
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") == 0 && !send_body) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else {
        if (send_body) {
            /* Not copied: 'body' outlives curl_easy_perform(). */
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)body_len);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        }
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }

    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    if (rc != CURLE_OK || h->too_big || h->nomem)
        resp->fail = fail_kind(rc, h->too_big);
    if (h->too_big) {
        err_set(e, ERR_RETRY, "%s %.*s: response body above %zu bytes "
                "(status %ld)", method, url_len, url, max_body,
                resp->status);
    } else if (h->nomem) {
        err_set(e, ERR_NOMEM, "%s %.*s: out of memory for the response",
                method, url_len, url);
    } else if (rc != CURLE_OK) {
        err_set(e, ERR_RETRY, "%s %.*s: %s", method, url_len, url,
                h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
    } else {
        ret = 0;
    }
out:
    /* The list must outlive the transfer; drop the handle's pointer to it
     * before freeing so a later reset finds nothing dangling. */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(list);
    h->resp = NULL;
    return ret;
}
