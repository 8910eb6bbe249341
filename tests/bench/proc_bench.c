/* proc_bench - what the built-in processors cost per record, in one
 * process, one thread, on 150-byte JSON records: no processing (the copy
 * the pipeline does anyway), MetadataExtraction with a path-only query on
 * the fast walk and the same query forced through libjq, a strftime query
 * (libjq), jansson's parse alone for reference, and JSON de-aggregation.
 * Prints records/s and µs per record for each, in the same run.
 *
 *   proc_bench [--records N] [--size N] [--runs N]
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "../../transforms/jqx.h"
#include "../../transforms/proc.h"

enum { NONE, FAST, FAST_AS_JQ, STRFTIME, JANSSON, DEAGG, N_SCEN };

static const char *const names[N_SCEN] = {
    "no processing", "jq path (walk)", "jq path (libjq)",
    "jq strftime", "jansson parse", "deagg JSON",
};

#define BATCH 500

/* One pass of scenario s over the batch; 0 or -1. */
static int pass(int s, const unsigned char *data, long size, struct jqx *q,
                struct proc *p, struct proc_list *l, struct buf *out)
{
    struct err e;
    char msg[256];
    struct proc_stats st;

    out->len = 0;
    if (s == DEAGG) {
        l->n = 0;
        if (proc_list_reserve(l, BATCH, &e) != 0)
            return -1;
        for (long i = 0; i < BATCH; i++) {
            struct proc_rec *r = &l->r[l->n++];
            memset(r, 0, sizeof(*r));
            r->data = r->raw = data + i * size;
            r->len = r->raw_len = (size_t)size;
            r->src = (uint32_t)i;
        }
        return proc_run(p, l, NULL, NULL, &st, &e) == 0 && l->n == BATCH
               ? 0 : -1;
    }
    for (long i = 0; i < BATCH; i++) {
        const unsigned char *r = data + i * size;
        if (s == NONE) {
            if (buf_append(out, r, (size_t)size, &e) != 0)
                return -1;
        } else if (s == JANSSON) {
            json_t *j = json_loadb((const char *)r, (size_t)size, 0, NULL);
            if (j == NULL)
                return -1;
            json_decref(j);
        } else if (jqx_eval(q, r, (size_t)size, out, msg, sizeof(msg),
                            &e) != 0) {
            fprintf(stderr, "proc_bench: %s\n", msg);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    long records = bench_arg_long(argc, argv, "--records", 500000);
    long size = bench_arg_long(argc, argv, "--size", 150);
    long runs = bench_arg_long(argc, argv, "--runs", 3);
    struct cfg_processing pc = { .enabled = 1, .deagg = CFG_DEAGG_JSON };
    struct proc_list l = { 0 };
    struct buf out = { 0 };
    struct err e;
    unsigned char *data;
    struct jqx *path, *path_jq, *tm;
    struct proc *p;
    double med[N_SCEN], t[16];
    unsigned long fast, slow;

    if (size < 120 || runs < 1 || runs > 16 || records < BATCH) {
        fprintf(stderr, "usage: proc_bench [--records N>=500] "
                "[--size N>=120] [--runs 1-16]\n");
        return 2;
    }
    data = malloc((size_t)(BATCH * size));
    path = jqx_new("{customer_id: .customer_id}", &e);
    path_jq = jqx_new("{customer_id: .customer_id}", &e);
    tm = jqx_new("{customer_id: .customer_id, year: (.ts | "
                 "strftime(\"%Y\"))}", &e);
    p = proc_new(&pc, &e);
    if (data == NULL || path == NULL || path_jq == NULL || tm == NULL ||
        p == NULL) {
        fprintf(stderr, "proc_bench: setup failed: %s\n", e.msg);
        return 1;
    }
    jqx_set_force_jq(path_jq, 1);
    for (long i = 0; i < BATCH; i++) {
        char *r = (char *)data + i * size;
        int n = snprintf(r, (size_t)size, "{\"customer_id\":\"cust-%04ld\","
                         "\"ts\":%lld,\"event\":\"click\",\"page\":"
                         "\"/p/%ld\",\"value\":%ld,\"pad\":\"", i % 97,
                         1700000000LL + i, i * 13, i * 7);
        memset(r + n, 'x', (size_t)(size - n - 2));
        memcpy(r + size - 2, "\"}", 2);
    }
    printf("proc_bench: %ld records of %ld bytes of JSON, median of %ld "
           "runs\n", records, size, runs);
    for (int s = 0; s < N_SCEN; s++) {
        struct jqx *q = s == FAST ? path : s == FAST_AS_JQ ? path_jq : tm;
        for (long r = 0; r < runs; r++) {
            double t0 = bench_now_s();
            for (long done = 0; done < records; done += BATCH)
                if (pass(s, data, size, q, p, &l, &out) != 0) {
                    fprintf(stderr, "proc_bench: %s failed\n", names[s]);
                    return 1;
                }
            t[r] = bench_now_s() - t0;
        }
        qsort(t, (size_t)runs, sizeof(t[0]), bench_cmp_double);
        med[s] = t[runs / 2];
        printf("  %-16s %10.0f rec/s %8.3f us/record\n", names[s],
               (double)records / med[s], med[s] * 1e6 / records);
        fflush(stdout);
    }
    jqx_counts(path, &fast, &slow);
    printf("  path-only query: walk %.3f us/record (goal <= 1.5), libjq "
           "%.3f us/record, walk answered %lu of %lu\n",
           (med[FAST] - med[NONE]) * 1e6 / records,
           (med[FAST_AS_JQ] - med[NONE]) * 1e6 / records, fast, fast + slow);
    jqx_free(path);
    jqx_free(path_jq);
    jqx_free(tm);
    proc_free(p);
    proc_list_release(&l);
    buf_release(&out);
    free(data);
    return slow == 0 ? 0 : 1;
}
