/* prom.h - Prometheus text exposition format 0.0.4 and the one histogram
 * type every module uses for durations. A histogram is lock-free (relaxed
 * atomics) and valid when zeroed, so it can sit in calloc'd structs such as
 * struct metrics_stream without an init call; observing costs a short scan
 * of the bucket bounds and two atomic adds. The writers append to a
 * struct buf and fail only for memory. */
#ifndef FH_PROM_H
#define FH_PROM_H

#include <stdatomic.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

/* Finite upper bounds, in microseconds: 0.5 ms to 60 s. Covers an fsync'd
 * PutRecord ack as well as a slow Lua batch. +Inf is the extra bucket. */
#define PROM_HIST_BOUNDS 16

struct prom_hist {
    atomic_uint_fast64_t counts[PROM_HIST_BOUNDS + 1];  /* not cumulative */
    atomic_uint_fast64_t sum_us;
};

static inline uint64_t prom_hist_bound_us(unsigned i)
{
    static const uint64_t bounds[PROM_HIST_BOUNDS] = {
        500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
        1000000, 2500000, 5000000, 10000000, 30000000, 60000000
    };
    return bounds[i];
}

static inline void prom_hist_observe_us(struct prom_hist *h, uint64_t us)
{
    unsigned i = 0;

    while (i < PROM_HIST_BOUNDS && us > prom_hist_bound_us(i))
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}

/* "# HELP name help\n# TYPE name type\n"; type is "counter", "gauge" or
 * "histogram". 'help' is escaped (backslash, newline). */
int prom_family(struct buf *b, const char *name, const char *type,
                const char *help, struct err *e);
/* Appends 'name="value"' (with a leading comma unless 'lb' is empty) to a
 * label set being built in 'lb'; the value is escaped as the format says:
 * backslash, double quote and newline. */
int prom_label(struct buf *lb, const char *name, const char *value,
               struct err *e);
/* One sample line: name{labels} value. 'labels' is what prom_label()
 * built, without braces ("" or NULL for none). */
int prom_sample(struct buf *b, const char *name, const char *labels,
                double v, struct err *e);
int prom_sample_u64(struct buf *b, const char *name, const char *labels,
                    uint64_t v, struct err *e);
/* The _bucket (cumulative, le="+Inf" last), _sum (seconds) and _count
 * lines of one histogram. The family line is the caller's. */
int prom_hist_write(struct buf *b, const char *name, const char *labels,
                    const struct prom_hist *h, struct err *e);

#endif
