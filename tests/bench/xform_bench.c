/* xform_bench - what a Lua transform costs per record: batches of 500
 * records of 150 bytes of JSON through (a) no transform (the copy into the
 * output arena that the pipeline does anyway), (b) an identity script and
 * (c) a cjson decode + field test + encode script, in one process, one
 * thread. Prints one line per scenario and the identity overhead.
 *
 *   xform_bench [--records N] [--batch N] [--size N] [--runs N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "../../delivery/log.h"
#include "../../transforms/xform.h"

static const char *const scripts[][2] = {
    { "identity.lua",
      "function transform(record)\n"
      "  return \"Ok\"\n"
      "end\n" },
    { "json.lua",
      "local cjson = require \"cjson\"\n"
      "function transform(record)\n"
      "  local j = cjson.decode(record.data)\n"
      "  if j.event == \"drop\" then return \"Dropped\" end\n"
      "  j.seen = true\n"
      "  return \"Ok\", cjson.encode(j)\n"
      "end\n" },
};

int main(int argc, char **argv)
{
    long records = bench_arg_long(argc, argv, "--records", 1000000);
    long batch = bench_arg_long(argc, argv, "--batch", 500);
    long size = bench_arg_long(argc, argv, "--size", 150);
    long runs = bench_arg_long(argc, argv, "--runs", 3);
    char dir[] = "/tmp/xform_bench.XXXXXX", path[256], cmd[300];
    struct xform_in *in;
    struct xform_out *out;
    unsigned char *data;
    struct buf arena = { 0 };
    struct err e;
    struct xform_host *h;
    double med[3], t[16];

    if (batch < 1 || size < 100 || runs < 1 || runs > 16 || records < batch) {
        fprintf(stderr, "usage: xform_bench [--records N>=batch] "
                "[--batch N>=1] [--size N>=100] [--runs 1-16]\n");
        return 2;
    }
    log_init(0, LOG_ERROR);
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    for (int s = 0; s < 2; s++) {
        FILE *f;
        snprintf(path, sizeof(path), "%s/%s", dir, scripts[s][0]);
        if ((f = fopen(path, "w")) == NULL || fputs(scripts[s][1], f) < 0 ||
            fclose(f) != 0) {
            perror(path);
            return 1;
        }
    }
    in = calloc((size_t)batch, sizeof(*in));
    out = calloc((size_t)batch, sizeof(*out));
    data = malloc((size_t)(batch * size));
    if (in == NULL || out == NULL || data == NULL)
        return 1;
    for (long i = 0; i < batch; i++) {
        char *p = (char *)data + i * size;
        int n = snprintf(p, (size_t)size, "{\"ts\":%lld,\"user\":\"u%05ld\","
                         "\"event\":\"%s\",\"country\":\"DE\",\"value\":%ld,"
                         "\"pad\":\"", 1700000000000LL + i, i % 997,
                         i % 50 == 0 ? "drop" : "click", i * 7);
        memset(p + n, 'x', (size_t)(size - n - 2));
        memcpy(p + size - 2, "\"}", 2);
        in[i] = (struct xform_in){ .id = "49546986683135544286507457936321",
                                   .data = (unsigned char *)p,
                                   .len = (size_t)size,
                                   .arrival_ms = 1700000000000LL + i };
    }
    if ((h = xform_host_new(dir, &e)) == NULL) {
        fprintf(stderr, "xform_bench: %s\n", e.msg);
        return 1;
    }
    printf("xform_bench: %ld records of %ld bytes in batches of %ld, "
           "median of %ld runs\n", records, size, batch, runs);
    for (int s = -1; s < 2; s++) {
        struct xform *x = NULL;
        if (s >= 0 && (x = xform_new(h, scripts[s][0], NULL, &e)) == NULL) {
            fprintf(stderr, "xform_bench: %s\n", e.msg);
            return 1;
        }
        for (long r = 0; r < runs; r++) {
            double t0 = bench_now_s();
            for (long done = 0; done < records; done += batch) {
                arena.len = 0;
                if (x == NULL) {
                    /* No transform: the records' bytes are copied once. */
                    for (long i = 0; i < batch; i++)
                        if (buf_append(&arena, in[i].data, in[i].len,
                                       &e) != 0)
                            return 1;
                } else if (xform_run(x, in, (size_t)batch, out, &arena,
                                     &e) != 0) {
                    fprintf(stderr, "xform_bench: %s\n", e.msg);
                    return 1;
                } else if (out[1].result != XFORM_OK || out[0].result !=
                           (s == 1 ? XFORM_DROPPED : XFORM_OK)) {
                    fprintf(stderr, "xform_bench: unexpected result %d "
                            "(%s)\n", out[1].result,
                            out[1].error_code ? out[1].error_code : "");
                    return 1;
                }
            }
            t[r] = bench_now_s() - t0;
        }
        qsort(t, (size_t)runs, sizeof(t[0]), bench_cmp_double);
        med[s + 1] = t[runs / 2];
        printf("  %-14s %10.0f rec/s %8.3f us/record\n",
               s < 0 ? "no transform" : scripts[s][0],
               (double)records / med[s + 1], med[s + 1] * 1e6 / records);
        fflush(stdout);
        xform_free(x);
    }
    printf("  identity transform adds %.3f us/record (goal <= 1), "
           "json %.3f us/record\n",
           (med[1] - med[0]) * 1e6 / records,
           (med[2] - med[0]) * 1e6 / records);
    xform_host_free(h);
    buf_release(&arena);
    free(in);
    free(out);
    free(data);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
