/* fake_httpd.h - an HTTP server for unit tests, in process (libmicrohttpd,
 * a thread per connection) on 127.0.0.1 and a kernel-chosen port. Every
 * complete request goes to the test's handler, which decides the answer:
 * status, headers, body, and a delay to simulate a hanging peer. */
#ifndef FH_FAKE_HTTPD_H
#define FH_FAKE_HTTPD_H

#include <stddef.h>

#define FAKE_MAX_HEADERS 32

struct fake_req {
    char method[16];
    char url[1024];                 /* path, as received */
    int n_headers;
    char *names[FAKE_MAX_HEADERS];  /* owned by the fake, for the call */
    char *values[FAKE_MAX_HEADERS];
    unsigned char *body;            /* NUL-terminated; owned by the fake */
    size_t len;
};

struct fake_resp {
    int status;                     /* 200 unless set */
    const char *content_type;       /* NULL: no Content-Type */
    const char *content_encoding;   /* NULL: none */
    char *body;                     /* malloc'd by the handler; the fake
                                     * frees it; NULL: empty */
    size_t len;
    int delay_ms;                   /* sleep before answering */
};

/* Called in the server's thread, one request at a time. */
typedef void fake_httpd_fn(void *ctx, const struct fake_req *req,
                           struct fake_resp *resp);

struct fake_httpd;

struct fake_httpd *fake_httpd_start(fake_httpd_fn *fn, void *ctx);
int fake_httpd_port(const struct fake_httpd *f);
void fake_httpd_stop(struct fake_httpd *f);         /* NULL is a no-op */

/* A header's value (name in any case), or NULL. */
const char *fake_req_header(const struct fake_req *r, const char *name);

#endif
