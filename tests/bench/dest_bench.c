/* dest_bench.c - records/s through the HTTP endpoint (ContentEncoding NONE
 * and GZIP) and OpenSearch destinations, each deliver() against a fast
 * in-process sink on 127.0.0.1 (libmicrohttpd, tests/fakes/fake_httpd.c)
 * that answers what the protocol needs without parsing the body. The
 * sink shares the machine, so the figures are a floor for the destination.
 *
 *   dest_bench [--records N] [--size BYTES] [--rounds R]
 *
 * Records are JSON objects of about --size bytes (OpenSearch needs
 * objects); every batch is N records and is delivered R times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "../../config/cfg.h"
#include "../../delivery/log.h"
#include "../../delivery/util.h"
#include "../../destinations/dest.h"
#include "../fakes/fake_httpd.h"

/* Echo the request id (HTTP endpoint) or one 201 item per document. */
static void sink(void *ctx, const struct fake_req *r, struct fake_resp *o)
{
    const char *rid = fake_req_header(r, "X-Amz-Firehose-Request-Id");
    size_t lines = 0, n, len;

    (void)ctx;
    o->content_type = "application/json";
    if (rid != NULL) {
        o->body = malloc(160);
        if (o->body != NULL)
            o->len = (size_t)snprintf(o->body, 160, "{\"requestId\":\"%s\","
                                      "\"timestamp\":1}", rid);
        return;
    }
    for (size_t i = 0; i < r->len; i++)
        lines += r->body[i] == '\n';
    n = lines / 2;
    o->body = malloc(64 + n * 28);
    if (o->body == NULL)
        return;
    len = (size_t)snprintf(o->body, 64, "{\"took\":1,\"errors\":false,"
                           "\"items\":[");
    for (size_t i = 0; i < n; i++) {
        static const char item[] = ",{\"index\":{\"status\":201}}";

        memcpy(o->body + len, item + (i == 0), sizeof(item) - 1 - (i == 0));
        len += sizeof(item) - 1 - (i == 0);
    }
    memcpy(o->body + len, "]}", 2);
    o->len = len + 2;
}

static int run(const char *label, const char *json, const struct payload *p,
               size_t rounds, size_t bytes)
{
    char *errors = NULL;
    struct dest d;
    struct cfg *c = NULL;
    struct err e = { 0, "" };
    int64_t t0, dt;
    int rc = 1;

    if (cfg_load_string("bench", json, &c, &errors) != 0) {
        fprintf(stderr, "dest_bench: %s", errors);
        free(errors);
        return 1;
    }
    memset(&d, 0, sizeof(d));
    d.type = c->streams[0].dest_kind == CFG_DEST_HTTP ? &dest_http
                                                       : &dest_opensearch;
    snprintf(d.id, sizeof(d.id), "bench:%s", label);
    if (d.type->create(&d, &c->streams[0], &c->service, &e) != 0) {
        fprintf(stderr, "dest_bench: %s: %s\n", label, e.msg);
        goto out;
    }
    t0 = util_mono_ms();
    for (size_t k = 0; k < rounds; k++)
        if (d.type->deliver(&d, p, &e) != DEST_OK) {
            fprintf(stderr, "dest_bench: %s: %s\n", label, e.msg);
            goto out;
        }
    dt = util_mono_ms() - t0;
    if (dt < 1)
        dt = 1;
    printf("  %-14s %10.0f records/s %8.1f MB/s of records (%zu x %zu "
           "records in %lld ms)\n", label,
           (double)p->n_recs * (double)rounds * 1000.0 / (double)dt,
           (double)bytes * (double)rounds / 1000.0 / (double)dt, rounds,
           p->n_recs, (long long)dt);
    rc = 0;
out:
    d.type->destroy(&d);
    cfg_free(c);
    return rc;
}

int main(int argc, char **argv)
{
    size_t n = 10000, size = 150, rounds = 30, bytes = 0;
    struct payload_rec *recs;
    struct dest_rec_result *res;
    struct fake_httpd *srv;
    struct payload p;
    char (*ids)[40], *data, json[1024];
    int rc = 0;

    for (int i = 1; i + 1 < argc; i += 2) {
        size_t v = strtoul(argv[i + 1], NULL, 10);

        if (strcmp(argv[i], "--records") == 0 && v > 0)
            n = v;
        else if (strcmp(argv[i], "--size") == 0 && v >= 32 && v <= 65536)
            size = v;
        else if (strcmp(argv[i], "--rounds") == 0 && v > 0)
            rounds = v;
        else {
            fprintf(stderr, "usage: dest_bench [--records N] [--size 32-"
                    "65536] [--rounds R]\n");
            return 2;
        }
    }
    log_init(0, LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    recs = calloc(n, sizeof(*recs));
    res = calloc(n, sizeof(*res));
    ids = calloc(n, sizeof(*ids));
    data = malloc(n * size);
    srv = fake_httpd_start(sink, NULL);
    if (recs == NULL || res == NULL || ids == NULL || data == NULL ||
        srv == NULL) {
        fprintf(stderr, "dest_bench: out of memory or no sink\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        char *d = data + i * size;
        int len = snprintf(d, size, "{\"seq\":%zu,\"user\":\"user-%zu\","
                           "\"path\":\"/api/v1/items/%zu\",\"pad\":\"", i,
                           i % 977, i * 31);

        memset(d + len, 'x', size - (size_t)len - 2);
        memcpy(d + size - 2, "\"}", 2);
        snprintf(ids[i], sizeof(ids[i]), "%032zx", i);
        recs[i] = (struct payload_rec){ (const unsigned char *)d, size,
                                        1700000000000 + (int64_t)i, ids[i] };
        bytes += size;
    }
    memset(&p, 0, sizeof(p));
    p.recs = recs;
    p.n_recs = n;
    p.request_id = "ed4acda5-034f-9f42-bba1-f29aea6d7d8f";
    p.results = res;
    printf("dest_bench: %zu-record batches of %zu-byte JSON records, "
           "in-process sink\n", n, size);
    for (int gz = 0; gz < 2; gz++) {
        snprintf(json, sizeof(json), "{\"DeliveryStreams\":[{"
                 "\"DeliveryStreamName\":\"b\","
                 "\"HttpEndpointDestinationConfiguration\":{"
                 "\"EndpointConfiguration\":{\"Url\":"
                 "\"http://127.0.0.1:%d/\"},\"RequestConfiguration\":{"
                 "\"ContentEncoding\":\"%s\"},\"S3Configuration\":{"
                 "\"BucketARN\":\"arn:aws:s3:::b\"}}}]}",
                 fake_httpd_port(srv), gz ? "GZIP" : "NONE");
        rc |= run(gz ? "http gzip" : "http", json, &p, rounds, bytes);
    }
    snprintf(json, sizeof(json), "{\"DeliveryStreams\":[{"
             "\"DeliveryStreamName\":\"b\","
             "\"AmazonopensearchserviceDestinationConfiguration\":{"
             "\"ClusterEndpoint\":\"http://127.0.0.1:%d\",\"IndexName\":"
             "\"ix\",\"BasicAuth\":{\"Username\":\"u\",\"Password\":"
             "\"p\"},\"S3Configuration\":{\"BucketARN\":"
             "\"arn:aws:s3:::b\"}}}]}", fake_httpd_port(srv));
    rc |= run("opensearch", json, &p, rounds, bytes);
    fake_httpd_stop(srv);
    free(recs);
    free(res);
    free(ids);
    free(data);
    curl_global_cleanup();
    return rc;
}
