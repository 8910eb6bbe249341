/* httpc.h - the shared outbound HTTP client (libcurl easy handle, kept
 * alive between requests). One httpc per worker thread. Response bodies
 * are capped; no redirects are followed. */
#ifndef FH_HTTPC_H
#define FH_HTTPC_H

#include <stddef.h>

#include "err.h"
#include "util.h"

struct httpc;

struct httpc_resp {
    long status;                /* 0 when no response came */
    struct buf body;            /* reused across requests; caller releases */
    char etag[128];             /* "" when absent */
    char content_type[128];
    char request_id[128];       /* x-amz-request-id / x-amzn-RequestId */
    char content_encoding[64];  /* "" when absent */
    enum httpc_fail {           /* why a request returned -1 */
        HTTPC_FAIL_NONE = 0,
        HTTPC_FAIL_CONNECT,     /* could not connect (refused, DNS) */
        HTTPC_FAIL_TIMEOUT,     /* no complete response in time */
        HTTPC_FAIL_TLS,         /* TLS handshake or certificate */
        HTTPC_FAIL_RESET,       /* connection reset or closed early */
        HTTPC_FAIL_TOO_BIG,     /* body above max_body */
        HTTPC_FAIL_OTHER
    } fail;
};

/* Needs curl_global_init() done once by main. */
struct httpc *httpc_new(struct err *e);
void httpc_free(struct httpc *h);                /* NULL is a no-op */

/* One request. 'headers' are "Name: value" strings, n of them. Returns 0
 * when any HTTP response came (check resp->status), -1 with ERR_RETRY on
 * connection errors and timeouts (message names the URL and curl's
 * reason; the query is left out, it may hold credentials). Response
 * bodies above max_body bytes are an error too (ERR_RETRY, resp->status
 * set). PUT, POST and PATCH always send a Content-Length; 'body' is
 * borrowed for the call. */
int httpc_request(struct httpc *h, const char *method, const char *url,
                  const char *const *headers, size_t n_headers,
                  const void *body, size_t body_len, long timeout_ms,
                  size_t max_body, struct httpc_resp *resp, struct err *e);

#endif
