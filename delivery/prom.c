#include "prom.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

/* Escapes 's' into 'b'. Label values escape backslash, double quote and
 * newline; HELP text only backslash and newline. */
static int escape(struct buf *b, const char *s, int quote, struct err *e)
{
    const char *run = s;

    for (; *s; s++) {
        const char *rep = NULL;
        if (*s == '\\')
            rep = "\\\\";
        else if (*s == '\n')
            rep = "\\n";
        else if (*s == '"' && quote)
            rep = "\\\"";
        if (rep == NULL)
            continue;
        if (buf_append(b, run, (size_t)(s - run), e) != 0 ||
            buf_append(b, rep, 2, e) != 0)
            return -1;
        run = s + 1;
    }
    return buf_append(b, run, (size_t)(s - run), e);
}

int prom_family(struct buf *b, const char *name, const char *type,
                const char *help, struct err *e)
{
    if (buf_printf(b, e, "# HELP %s ", name) != 0 ||
        escape(b, help, 0, e) != 0)
        return -1;
    return buf_printf(b, e, "\n# TYPE %s %s\n", name, type);
}

int prom_label(struct buf *lb, const char *name, const char *value,
               struct err *e)
{
    if (buf_printf(lb, e, "%s%s=\"", lb->len ? "," : "", name) != 0 ||
        escape(lb, value, 1, e) != 0)
        return -1;
    /* Keep the label set a C string for prom_sample(). */
    if (buf_append(lb, "\"", 2, e) != 0)
        return -1;
    lb->len--;
    return 0;
}

static int head(struct buf *b, const char *name, const char *labels,
                struct err *e)
{
    if (labels != NULL && labels[0])
        return buf_printf(b, e, "%s{%s} ", name, labels);
    return buf_printf(b, e, "%s ", name);
}

int prom_sample(struct buf *b, const char *name, const char *labels,
                double v, struct err *e)
{
    if (head(b, name, labels, e) != 0)
        return -1;
    if (isnan(v))
        return buf_printf(b, e, "NaN\n");
    if (isinf(v))
        return buf_printf(b, e, "%sInf\n", v > 0 ? "+" : "-");
    return buf_printf(b, e, "%.15g\n", v);
}

int prom_sample_u64(struct buf *b, const char *name, const char *labels,
                    uint64_t v, struct err *e)
{
    if (head(b, name, labels, e) != 0)
        return -1;
    return buf_printf(b, e, "%" PRIu64 "\n", v);
}

int prom_hist_write(struct buf *b, const char *name, const char *labels,
                    const struct prom_hist *h, struct err *e)
{
    const char *sep = labels != NULL && labels[0] ? "," : "";
    uint64_t cum = 0, sum_us;

    if (labels == NULL)
        labels = "";
    /* Reads are not one snapshot: an observation racing with this may show
     * in a bucket but not yet in _sum. Counts stay monotonic, which is what
     * rate() needs. */
    for (unsigned i = 0; i <= PROM_HIST_BOUNDS; i++) {
        cum += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        if (i < PROM_HIST_BOUNDS) {
            if (buf_printf(b, e, "%s_bucket{%s%sle=\"%.15g\"} %" PRIu64 "\n",
                           name, labels, sep,
                           (double)prom_hist_bound_us(i) / 1e6, cum) != 0)
                return -1;
        } else if (buf_printf(b, e, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64
                              "\n", name, labels, sep, cum) != 0) {
            return -1;
        }
    }
    sum_us = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
    if (buf_printf(b, e, "%s_sum", name) != 0 ||
        (labels[0] && buf_printf(b, e, "{%s}", labels) != 0) ||
        buf_printf(b, e, " %.15g\n", (double)sum_us / 1e6) != 0 ||
        buf_printf(b, e, "%s_count", name) != 0 ||
        (labels[0] && buf_printf(b, e, "{%s}", labels) != 0))
        return -1;
    return buf_printf(b, e, " %" PRIu64 "\n", cum);
}
