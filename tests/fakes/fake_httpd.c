/* fake_httpd.c - see fake_httpd.h. */
#include "fake_httpd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <microhttpd.h>

struct fake_httpd {
    struct MHD_Daemon *d;
    fake_httpd_fn *fn;
    void *ctx;
    pthread_mutex_t lock;
    int port;
};

struct fake_conn {
    unsigned char *body;
    size_t len, cap;
};

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind,
                               const char *key, const char *value)
{
    struct fake_req *r = cls;

    (void)kind;
    if (r->n_headers >= FAKE_MAX_HEADERS)
        return MHD_YES;
    r->names[r->n_headers] = strdup(key);
    r->values[r->n_headers] = strdup(value ? value : "");
    r->n_headers++;
    return MHD_YES;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *mc,
                               const char *url, const char *method,
                               const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    struct fake_httpd *f = cls;
    struct fake_conn *c = *con_cls;
    struct fake_req req;
    struct fake_resp resp;
    struct MHD_Response *r;
    enum MHD_Result ret;

    (void)version;
    if (c == NULL) {
        c = calloc(1, sizeof(*c));
        if (c == NULL)
            return MHD_NO;
        *con_cls = c;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (c->len + *upload_size + 1 > c->cap) {
            size_t cap = (c->len + *upload_size + 1) * 2;
            unsigned char *p = realloc(c->body, cap);

            if (p == NULL)
                return MHD_NO;
            c->body = p;
            c->cap = cap;
        }
        memcpy(c->body + c->len, upload, *upload_size);
        c->len += *upload_size;
        *upload_size = 0;
        return MHD_YES;
    }
    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    resp.status = 200;
    strncpy(req.method, method, sizeof(req.method) - 1);
    strncpy(req.url, url, sizeof(req.url) - 1);
    MHD_get_connection_values(mc, MHD_HEADER_KIND, collect, &req);
    req.body = c->body ? c->body : (unsigned char *)"";
    if (c->body)
        c->body[c->len] = '\0';
    req.len = c->len;
    pthread_mutex_lock(&f->lock);
    f->fn(f->ctx, &req, &resp);
    pthread_mutex_unlock(&f->lock);
    for (int i = 0; i < req.n_headers; i++) {
        free(req.names[i]);
        free(req.values[i]);
    }
    if (resp.delay_ms > 0) {
        struct timespec ts = { resp.delay_ms / 1000,
                               (resp.delay_ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    if (resp.body != NULL)
        r = MHD_create_response_from_buffer(resp.len, resp.body,
                                            MHD_RESPMEM_MUST_FREE);
    else
        r = MHD_create_response_from_buffer(0, NULL,
                                            MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        free(resp.body);
        return MHD_NO;
    }
    if (resp.content_type != NULL)
        MHD_add_response_header(r, "Content-Type", resp.content_type);
    if (resp.content_encoding != NULL)
        MHD_add_response_header(r, "Content-Encoding",
                                resp.content_encoding);
    ret = MHD_queue_response(mc, (unsigned)resp.status, r);
    MHD_destroy_response(r);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct fake_conn *c = *con_cls;

    (void)cls;
    (void)mc;
    (void)toe;
    if (c != NULL) {
        free(c->body);
        free(c);
        *con_cls = NULL;
    }
}

struct fake_httpd *fake_httpd_start(fake_httpd_fn *fn, void *ctx)
{
    struct fake_httpd *f = calloc(1, sizeof(*f));
    const union MHD_DaemonInfo *info;
    struct sockaddr_in sa;

    if (f == NULL)
        return NULL;
    f->fn = fn;
    f->ctx = ctx;
    pthread_mutex_init(&f->lock, NULL);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
                            MHD_USE_INTERNAL_POLLING_THREAD |
                            MHD_USE_ERROR_LOG, 0, NULL, NULL, handler, f,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, f,
                            MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_END);
    if (f->d == NULL) {
        pthread_mutex_destroy(&f->lock);
        free(f);
        return NULL;
    }
    info = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
    f->port = info ? (int)info->port : 0;
    return f;
}

int fake_httpd_port(const struct fake_httpd *f)
{
    return f->port;
}

void fake_httpd_stop(struct fake_httpd *f)
{
    if (f == NULL)
        return;
    MHD_stop_daemon(f->d);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

const char *fake_req_header(const struct fake_req *r, const char *name)
{
    for (int i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->names[i], name) == 0)
            return r->values[i];
    return NULL;
}
