/* test_s3.c - the S3 destination against a scripted HTTP server on
 * 127.0.0.1 that captures every request: SSE and storage-class headers
 * (signed), PutObject, the multipart sequence, error answers, aborts. */
#define _GNU_SOURCE /* memmem, strcasestr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../destinations/dest.h"

#define MAX_REQS 32

struct req {
    char line[512];             /* "PUT /bkt/k?x HTTP/1.1" */
    char headers[4096];
    size_t body_len;
    char body[2048];            /* first bytes */
};

/* Scripted answers: by request number (0-based), else by kind. */
struct server {
    int fd;
    int port;
    pthread_t thread;
    struct req reqs[MAX_REQS];
    int n;
    int fail_at;                /* answer this request with fail_status */
    int fail_status;
    int abort_status;           /* answer to DELETE */
    int no_upload_id;
};

static void answer(int c, int status, const char *extra, const char *body)
{
    char h[512];
    int n = snprintf(h, sizeof(h), "HTTP/1.1 %d X\r\nConnection: close\r\n"
                     "%sContent-Length: %zu\r\n\r\n", status, extra,
                     strlen(body));

    (void)!write(c, h, (size_t)n);
    (void)!write(c, body, strlen(body));
}

static void *serve(void *arg)
{
    struct server *s = arg;

    for (;;) {
        char buf[65536];
        size_t have = 0, clen = 0;
        char *end, *cl;
        struct req *r;
        int c = accept(s->fd, NULL, NULL);
        int i;

        if (c < 0)
            return NULL;
        while ((end = memmem(buf, have, "\r\n\r\n", 4)) == NULL) {
            ssize_t k = read(c, buf + have, sizeof(buf) - have - 1);
            if (k <= 0)
                break;
            have += (size_t)k;
        }
        if (end == NULL || s->n >= MAX_REQS) {
            close(c);
            continue;
        }
        buf[have] = '\0';
        i = s->n;
        r = &s->reqs[i];
        *end = '\0';
        snprintf(r->line, sizeof(r->line), "%.*s",
                 (int)strcspn(buf, "\r"), buf);
        snprintf(r->headers, sizeof(r->headers), "%.4000s", buf);
        cl = strcasestr(r->headers, "\ncontent-length:");
        if (cl != NULL)
            clen = strtoul(cl + 16, NULL, 10);
        r->body_len = have - (size_t)(end + 4 - buf);
        memcpy(r->body, end + 4, r->body_len < sizeof(r->body) - 1
                                 ? r->body_len : sizeof(r->body) - 1);
        while (r->body_len < clen) {
            ssize_t k = read(c, buf, sizeof(buf));
            if (k <= 0)
                break;
            if (r->body_len < sizeof(r->body) - 1)
                memcpy(r->body + r->body_len, buf,
                       (size_t)k < sizeof(r->body) - 1 - r->body_len
                       ? (size_t)k : sizeof(r->body) - 1 - r->body_len);
            r->body_len += (size_t)k;
        }
        s->n++;
        if (i == s->fail_at)
            answer(c, s->fail_status, "", "<Error><Code>SlowDown</Code>"
                   "<Message>scripted</Message></Error>");
        else if (strncmp(r->line, "DELETE ", 7) == 0)
            answer(c, s->abort_status, "", s->abort_status == 405
                   ? "<Error><Code>MethodNotAllowed</Code></Error>" : "");
        else if (strstr(r->line, "?uploads ") != NULL)
            answer(c, 200, "", s->no_upload_id ? "<x/>" :
                   "<InitiateMultipartUploadResult><UploadId>up/1+2"
                   "</UploadId></InitiateMultipartUploadResult>");
        else if (strstr(r->line, "partNumber=") != NULL) {
            char et[64];
            snprintf(et, sizeof(et), "ETag: \"etag%d\"\r\n", i);
            answer(c, 200, et, "");
        } else
            answer(c, 200, "ETag: \"x\"\r\n", "");
        close(c);
    }
}

static struct server *server_start(void)
{
    struct server *s = calloc(1, sizeof(*s));
    struct sockaddr_in a;
    socklen_t al = sizeof(a);

    assert_non_null(s);
    s->fail_at = -1;
    s->abort_status = 204;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->fd, 16), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
    return s;
}

static void server_stop(struct server *s)
{
    shutdown(s->fd, SHUT_RDWR);
    close(s->fd);
    pthread_join(s->thread, NULL);
    free(s);
}

/* A configured S3 destination pointing at 's'. */
static void make_dest(struct dest *d, struct server *s, char *kms, char *sse,
                      char *cls)
{
    static char ep[64], bucket[] = "bkt", region[] = "us-east-1";
    struct cfg_stream st;
    struct cfg_service svc;
    struct err e = { 0 };

    memset(&st, 0, sizeof(st));
    memset(&svc, 0, sizeof(svc));
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", s->port);
    svc.endpoint_s3 = ep;
    svc.region = region;
    svc.s3_multipart_threshold = 16u << 20;
    svc.s3_part_size = 8u << 20;
    st.name = bucket;
    st.dest_kind = CFG_DEST_S3;
    st.s3.bucket = bucket;
    st.s3.kms_key_arn = kms;
    st.s3.sse = sse;
    st.s3.storage_class = cls;
    memset(d, 0, sizeof(*d));
    d->type = &dest_s3;
    snprintf(d->id, sizeof(d->id), "dest:s3:test");
    if (dest_s3.create(d, &st, &svc, &e) != 0)
        fail_msg("create: %s", e.msg);
    assert_int_equal(d->part_threshold, 16u << 20);
    assert_int_equal(d->part_size, 8u << 20);
}

static int has_header(const struct req *r, const char *h)
{
    return strcasestr(r->headers, h) != NULL;
}

/* The Authorization header's SignedHeaders list. */
static const char *signed_headers(const struct req *r)
{
    static char out[512];
    const char *p = strstr(r->headers, "SignedHeaders=");

    assert_non_null(p);
    p += 14;
    snprintf(out, sizeof(out), "%.*s", (int)strcspn(p, ","), p);
    return out;
}

static void test_put_object_with_kms(void **state)
{
    struct server *s = server_start();
    struct dest d;
    struct err e = { 0 };
    struct payload p = { .key = "a b/k.gz",
                         .data = (const unsigned char *)"xyz", .len = 3,
                         .content_encoding = "gzip", .records = 1 };
    char kms[] = "arn:aws:kms:us-east-1:111122223333:key/k-1";
    char cls[] = "STANDARD_IA";

    (void)state;
    make_dest(&d, s, kms, NULL, cls);
    assert_int_equal(dest_s3.deliver(&d, &p, &e), DEST_OK);
    assert_int_equal(s->n, 1);
    assert_string_equal(s->reqs[0].line, "PUT /bkt/a%20b/k.gz HTTP/1.1");
    assert_true(has_header(&s->reqs[0], "\nx-amz-server-side-encryption: "
                           "aws:kms\r"));
    assert_true(has_header(&s->reqs[0], "\nx-amz-server-side-encryption-"
                           "aws-kms-key-id: arn:aws:kms:us-east-1:"
                           "111122223333:key/k-1\r"));
    assert_true(has_header(&s->reqs[0], "\nx-amz-storage-class: "
                           "STANDARD_IA\r"));
    assert_true(has_header(&s->reqs[0], "\nContent-Encoding: gzip\r"));
    assert_string_equal(signed_headers(&s->reqs[0]),
                        "content-encoding;content-type;host;"
                        "x-amz-content-sha256;x-amz-date;"
                        "x-amz-server-side-encryption;"
                        "x-amz-server-side-encryption-aws-kms-key-id;"
                        "x-amz-storage-class");
    assert_int_equal(s->reqs[0].body_len, 3);
    /* An error answer: the status, S3's code and message, the key. */
    s->fail_at = 1;
    s->fail_status = 503;
    assert_int_equal(dest_s3.deliver(&d, &p, &e), DEST_RETRY);
    assert_non_null(strstr(e.msg, "PutObject 'a b/k.gz'"));
    assert_non_null(strstr(e.msg, "HTTP 503 SlowDown: scripted"));
    s->fail_at = 2;
    s->fail_status = 403;
    assert_int_equal(dest_s3.deliver(&d, &p, &e), DEST_FAIL);
    dest_s3.destroy(&d);
    server_stop(s);
}

static void test_sse_aes256_and_none(void **state)
{
    struct server *s = server_start();
    struct dest d;
    struct err e = { 0 };
    struct payload p = { .key = "k", .data = (const unsigned char *)"" };
    char aes[] = "AES256";

    (void)state;
    make_dest(&d, s, NULL, aes, NULL);
    assert_int_equal(dest_s3.deliver(&d, &p, &e), DEST_OK);
    assert_true(has_header(&s->reqs[0], "\nx-amz-server-side-encryption: "
                           "AES256\r"));
    assert_false(has_header(&s->reqs[0], "kms-key-id"));
    assert_false(has_header(&s->reqs[0], "storage-class"));
    assert_false(has_header(&s->reqs[0], "Content-Encoding"));
    dest_s3.destroy(&d);
    make_dest(&d, s, NULL, NULL, NULL);
    assert_int_equal(dest_s3.deliver(&d, &p, &e), DEST_OK);
    assert_false(has_header(&s->reqs[1], "server-side-encryption"));
    assert_string_equal(signed_headers(&s->reqs[1]),
                        "content-type;host;x-amz-content-sha256;"
                        "x-amz-date");
    dest_s3.destroy(&d);
    server_stop(s);
}

static void test_multipart_sequence(void **state)
{
    struct server *s = server_start();
    struct dest d;
    struct err e = { 0 };
    struct payload p = { .key = "big/o", .content_encoding = "zip" };
    char kms[] = "key-1";
    char cls[] = "GLACIER_IR";

    (void)state;
    make_dest(&d, s, kms, NULL, cls);
    assert_int_equal(dest_s3.begin(&d, &p, &e), DEST_OK);
    assert_int_equal(dest_s3.part(&d, "part-one", 8, &e), DEST_OK);
    assert_int_equal(dest_s3.part(&d, "two", 3, &e), DEST_OK);
    assert_int_equal(dest_s3.finish(&d, &e), DEST_OK);
    assert_int_equal(s->n, 4);
    /* Create: object headers, signed. */
    assert_string_equal(s->reqs[0].line, "POST /bkt/big/o?uploads "
                        "HTTP/1.1");
    assert_true(has_header(&s->reqs[0], "\nContent-Encoding: zip\r"));
    assert_true(has_header(&s->reqs[0], "\nx-amz-server-side-encryption: "
                           "aws:kms\r"));
    assert_true(has_header(&s->reqs[0], "\nx-amz-storage-class: "
                           "GLACIER_IR\r"));
    assert_non_null(strstr(signed_headers(&s->reqs[0]),
                           "x-amz-server-side-encryption-aws-kms-key-id"));
    /* Parts: the upload id encoded ('/' and '+' too), no object headers. */
    assert_string_equal(s->reqs[1].line, "PUT /bkt/big/o?partNumber=1&"
                        "uploadId=up%2F1%2B2 HTTP/1.1");
    assert_int_equal(s->reqs[1].body_len, 8);
    assert_false(has_header(&s->reqs[1], "server-side-encryption"));
    assert_string_equal(s->reqs[2].line, "PUT /bkt/big/o?partNumber=2&"
                        "uploadId=up%2F1%2B2 HTTP/1.1");
    /* Complete: the parts with their ETags, in order. */
    assert_string_equal(s->reqs[3].line, "POST /bkt/big/o?uploadId="
                        "up%2F1%2B2 HTTP/1.1");
    assert_non_null(strstr(s->reqs[3].body, "<Part><PartNumber>1"
                           "</PartNumber><ETag>\"etag1\"</ETag></Part>"
                           "<Part><PartNumber>2</PartNumber><ETag>"
                           "\"etag2\"</ETag></Part>"
                           "</CompleteMultipartUpload>"));
    /* Nothing to abort once complete. */
    dest_s3.abort(&d);
    assert_int_equal(s->n, 4);
    dest_s3.destroy(&d);
    server_stop(s);
}

static void test_multipart_failures(void **state)
{
    struct server *s = server_start();
    struct dest d;
    struct err e = { 0 };
    struct payload p = { .key = "o" };

    (void)state;
    make_dest(&d, s, NULL, NULL, NULL);
    /* A failed part, then abort: DELETE with the upload id. */
    s->fail_at = 1;
    s->fail_status = 500;
    assert_int_equal(dest_s3.begin(&d, &p, &e), DEST_OK);
    assert_int_equal(dest_s3.part(&d, "a", 1, &e), DEST_RETRY);
    assert_non_null(strstr(e.msg, "UploadPart 'o'"));
    assert_non_null(strstr(e.msg, "HTTP 500"));
    dest_s3.abort(&d);
    assert_int_equal(s->n, 3);
    assert_string_equal(s->reqs[2].line, "DELETE /bkt/o?uploadId=up%2F1%2B2"
                        " HTTP/1.1");
    /* A server without abort (s3rver: 405) is tolerated; abort once. */
    s->abort_status = 405;
    assert_int_equal(dest_s3.begin(&d, &p, &e), DEST_OK);
    dest_s3.abort(&d);
    dest_s3.abort(&d);
    assert_int_equal(s->n, 5);
    /* No UploadId in the answer. */
    s->no_upload_id = 1;
    assert_int_equal(dest_s3.begin(&d, &p, &e), DEST_RETRY);
    assert_non_null(strstr(e.msg, "no UploadId"));
    s->no_upload_id = 0;
    /* Create refused: permanent. */
    s->fail_at = s->n;
    s->fail_status = 403;
    assert_int_equal(dest_s3.begin(&d, &p, &e), DEST_FAIL);
    assert_non_null(strstr(e.msg, "CreateMultipartUpload 'o'"));
    dest_s3.destroy(&d);
    server_stop(s);
}

static int setup(void **state)
{
    (void)state;
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_PROFILE");
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_object_with_kms),
        cmocka_unit_test(test_sse_aes256_and_none),
        cmocka_unit_test(test_multipart_sequence),
        cmocka_unit_test(test_multipart_failures),
    };
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, setup, NULL);
    curl_global_cleanup();
    return rc;
}
