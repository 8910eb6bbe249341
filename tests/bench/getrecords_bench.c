/* getrecords_bench - what parsing one GetRecords reply costs per record,
 * on the same reply bytes: the in-place parser (kinesis_parse_records:
 * strings and base64 decoded where they lie) against the jansson path
 * the reader used before (json_loadb of the whole reply, four member
 * look-ups per record, base64 decoded into a reused scratch buffer).
 * Allocations are counted by wrapping malloc, calloc and realloc for the
 * whole process, so jansson's own are seen too. Prints µs per record and
 * allocations per record, steady state (after one warm-up reply).
 *
 *   getrecords_bench [--records N] [--size N] [--runs N]
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "../../delivery/kinesis.h"

/* glibc's own entry points, under the wrappers below. */
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t m);
void *__libc_realloc(void *p, size_t n);
void *malloc(size_t n);
void *calloc(size_t n, size_t m);
void *realloc(void *p, size_t n);

static unsigned long allocs;

void *malloc(size_t n)
{
    allocs++;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
    allocs++;
    return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
    allocs++;
    return __libc_realloc(p, n);
}

/* A reply as kinesalite writes it: n records of 'size' bytes of data. */
static char *make_reply(size_t n, size_t size, size_t *len)
{
    size_t b64 = (size + 2) / 3 * 4, cap = n * (b64 + 200) + 200, o = 0;
    unsigned char *raw = __libc_malloc(size + 1);
    char *t = __libc_malloc(cap), *d = __libc_malloc(b64 + 1);

    if (raw == NULL || t == NULL || d == NULL)
        abort();
    for (size_t i = 0; i < size; i++)
        raw[i] = (unsigned char)("abcdefghij{}\":, "[i % 16]);
    EVP_EncodeBlock((unsigned char *)d, raw, (int)size);
    o += (size_t)snprintf(t + o, cap - o, "{\"Records\":[");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(t + o, cap - o, "%s{\"SequenceNumber\":"
                              "\"4959033827149025660855969253836157109592"
                              "15759891365%05zu\",\"ApproximateArrival"
                              "Timestamp\":1.441215410867E9,\"Data\":\"%s\","
                              "\"PartitionKey\":\"pk-%zu\"}", i ? "," : "",
                              i, d, i % 97);
    o += (size_t)snprintf(t + o, cap - o, "],\"NextShardIterator\":\"AAAA"
                          "AAAAAAHnOQ==\",\"MillisBehindLatest\":0}");
    free(raw);
    free(d);
    *len = o;
    return t;
}

/* The jansson path, as kreader.c read replies before the in-place parser. */
static size_t jansson_once(const char *reply, size_t len, unsigned char *dec)
{
    json_error_t je;
    json_t *resp = json_loadb(reply, len, 0, &je), *recs;
    size_t n, sum = 0;

    recs = json_object_get(resp, "Records");
    n = json_array_size(recs);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(recs, i), *d, *t;
        const char *seq = json_string_value(json_object_get(o,
                                                            "SequenceNumber"));
        const char *pk = json_string_value(json_object_get(o,
                                                           "PartitionKey"));
        int got;

        d = json_object_get(o, "Data");
        t = json_object_get(o, "ApproximateArrivalTimestamp");
        if (seq == NULL || pk == NULL || !json_is_string(d))
            abort();
        got = EVP_DecodeBlock(dec, (const unsigned char *)
                              json_string_value(d),
                              (int)json_string_length(d));
        sum += (size_t)got + strlen(pk) +
               (size_t)(json_number_value(t) > 0);
    }
    (void)json_string_value(json_object_get(resp, "NextShardIterator"));
    json_decref(resp);
    return sum;
}

static size_t inplace_once(const char *reply, size_t len, char *work,
                           struct kinesis_batch *b)
{
    struct err e;
    size_t sum = 0;

    /* The reader parses the reply where curl put it; the copy stands in
     * for that receive and is timed with the parse. */
    memcpy(work, reply, len);
    if (kinesis_parse_records(work, len, b, &e) != 0) {
        fprintf(stderr, "getrecords_bench: %s\n", e.msg);
        exit(1);
    }
    for (size_t i = 0; i < b->n; i++)
        sum += b->recs[i].len + b->recs[i].pk_len +
               (size_t)(b->recs[i].arrival_ms > 0);
    return sum;
}

int main(int argc, char **argv)
{
    size_t n = 10000, size = 100, runs = 20, len;
    char *reply, *work;
    unsigned char *dec;
    struct kinesis_batch b = { 0 };

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--records") == 0)
            n = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--size") == 0)
            size = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = strtoul(argv[i + 1], NULL, 10);
    }
    if (n == 0 || n > KINESIS_MAX_RECORDS || runs == 0) {
        fprintf(stderr, "getrecords_bench: --records 1..%d, --runs >= 1\n",
                KINESIS_MAX_RECORDS);
        return 2;
    }
    reply = make_reply(n, size, &len);
    work = __libc_malloc(len);
    dec = __libc_malloc(size + 4);
    if (work == NULL || dec == NULL)
        return 1;
    printf("reply: %zu records of %zu bytes, %zu bytes of JSON, %zu runs\n",
           n, size, len, runs);
    for (int which = 0; which < 2; which++) {
        unsigned long a0;
        double t0, dt;
        size_t check = 0;

        /* One warm-up reply: the in-place parser's array grows once. */
        if (which == 0)
            (void)jansson_once(reply, len, dec);
        else
            (void)inplace_once(reply, len, work, &b);
        a0 = allocs;
        t0 = bench_now_s();
        for (size_t r = 0; r < runs; r++)
            check += which == 0 ? jansson_once(reply, len, dec)
                                : inplace_once(reply, len, work, &b);
        dt = bench_now_s() - t0;
        printf("%-26s %8.3f us/record  %8.3f allocations/record  (%zu)\n",
               which == 0 ? "jansson + EVP base64" : "in place (jscan)",
               dt * 1e6 / (double)(n * runs),
               (double)(allocs - a0) / (double)(n * runs), check);
    }
    kinesis_batch_release(&b);
    return 0;
}
