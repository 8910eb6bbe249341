/* libFuzzer target: MetadataExtraction's path walk against libjq, and the
 * built-in stages. The record goes through a path-only query twice, on the
 * walk and forced through libjq: result and keys must be the same. Then
 * through JSON and DELIMITED de-aggregation and gunzip + CloudWatch Logs
 * extraction: every piece must lie inside the input or the stage's arena. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../transforms/jqx.h"
#include "../../transforms/proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_fail(void *arg, const struct proc_rec *r,
                   enum proc_fail_kind kind, const char *code,
                   const char *msg)
{
    (void)arg;
    (void)kind;
    if (r->raw == NULL || code == NULL || msg == NULL || msg[0] == '\0')
        abort();
    return 0;
}

static void stages(const struct cfg_processing *pc, const uint8_t *data,
                   size_t size)
{
    struct err e;
    struct proc *p = proc_new(pc, &e);
    struct proc_list l = { 0 };
    struct proc_stats st;

    if (p == NULL || proc_list_reserve(&l, 1, &e) != 0)
        abort();
    memset(&l.r[0], 0, sizeof(l.r[0]));
    l.r[0].data = l.r[0].raw = data;
    l.r[0].len = l.r[0].raw_len = size;
    l.n = 1;
    if (proc_run(p, &l, on_fail, NULL, &st, &e) != 0)
        abort();
    for (size_t i = 0; i < l.n; i++) {
        /* Touch every byte: ASan reports a piece outside its buffer. */
        unsigned sum = 0;
        for (size_t k = 0; k < l.r[i].len; k++)
            sum += l.r[i].data[k];
        if (sum == 0xFFFFFFFFu && l.r[i].len == 1)
            abort();                /* never: keeps the loop */
        if (pc->deagg != CFG_DEAGG_NONE && !pc->gzip &&
            (l.r[i].data < data || l.r[i].data + l.r[i].len > data + size))
            abort();
    }
    proc_list_release(&l);
    proc_free(p);
}

static struct jqx *q;

/* The query lives for the whole run; free it at exit so that LeakSanitizer
 * only reports what a record leaks. */
static void free_query(void)
{
    jqx_free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char delim[] = "\n##";
    struct buf a = { 0 }, b = { 0 };
    struct err e;
    char ma[256], mb[256];
    int ra, rb;
    uint8_t *copy;

    if (q == NULL) {
        if ((q = jqx_new("{a: .a, b: .x.y, \"c d\": .c}", &e)) == NULL)
            abort();
        atexit(free_query);
    }
    /* A buffer of exactly the record's size, so ASan sees any overread. */
    if ((copy = malloc(size ? size : 1)) == NULL)
        return 0;
    memcpy(copy, data, size);
    jqx_set_force_jq(q, 0);
    ra = jqx_eval(q, copy, size, &a, ma, sizeof(ma), &e);
    jqx_set_force_jq(q, 1);
    rb = jqx_eval(q, copy, size, &b, mb, sizeof(mb), &e);
    if (ra != rb || a.len != b.len || (a.len && memcmp(a.p, b.p, a.len)))
        abort();
    {
        struct cfg_processing js = { .enabled = 1, .deagg = CFG_DEAGG_JSON };
        struct cfg_processing dl = { .enabled = 1,
                                     .deagg = CFG_DEAGG_DELIMITED,
                                     .deagg_delim = delim,
                                     .deagg_delim_len = 3 };
        struct cfg_processing cw = { .enabled = 1, .gzip = 1, .cw_logs = 1,
                                     .cw_extract = 1,
                                     .deagg = CFG_DEAGG_JSON };
        stages(&js, copy, size);
        stages(&dl, copy, size);
        stages(&cw, copy, size);
    }
    buf_release(&a);
    buf_release(&b);
    free(copy);
    return 0;
}
