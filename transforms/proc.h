/* proc.h - Firehose's built-in record processors that run before the Lua
 * transform, in Firehose's fixed order whatever their order in the config:
 * Decompression (GZIP), CloudWatchLogProcessing (drop CONTROL_MESSAGE
 * envelopes; with DataMessageExtraction each logEvents[].message becomes a
 * record of its own), RecordDeAggregation (JSON: concatenated or
 * newline-separated objects; DELIMITED: split on a delimiter).
 *
 * A batch is a list of record views; each stage turns it into a new list
 * (one record can become many, or none). New bytes (decompressed data,
 * decoded messages) live in arenas owned by the struct proc; splits point
 * into their input. Lists and arenas are reused from batch to batch: no
 * allocation per record once they have grown.
 *
 * Threads: one struct proc per worker thread. */
#ifndef FH_PROC_H
#define FH_PROC_H

#include <stddef.h>
#include <stdint.h>

#include "../config/cfg.h"
#include "../delivery/err.h"
#include "../delivery/util.h"

/* Largest decompressed record; beyond it the record fails (a gzip bomb
 * must not take the worker's memory). */
#define PROC_MAX_INFLATED (16u << 20)

struct proc_rec {
    const unsigned char *data;      /* the record as it is now */
    size_t len;
    const unsigned char *raw;       /* rawData of its error documents: the
                                     * record as it came, or with no
                                     * decompression the sub-record */
    size_t raw_len;
    uint32_t src;                   /* index of the batch record it came
                                     * from */
    uint32_t sub;                   /* its index among that record's
                                     * sub-records (0 when not split) */
    size_t off;                     /* internal: arena offset while a
                                     * stage runs */
};

struct proc_list {
    struct proc_rec *r;
    size_t n, cap;
};
int proc_list_reserve(struct proc_list *l, size_t n, struct err *e);
void proc_list_release(struct proc_list *l);

/* Which error output a failed record goes to. */
enum proc_fail_kind {
    PROC_FAIL_DECOMPRESSION,        /* decompression-failed */
    PROC_FAIL_PROCESSING            /* processing-failed */
};

/* Called for each record that fails a stage: it leaves the list. 'code'
 * is static, 'msg' valid during the call. Non-zero stops the run (out of
 * memory while writing the error document). */
typedef int (*proc_fail_fn)(void *arg, const struct proc_rec *r,
                            enum proc_fail_kind kind, const char *code,
                            const char *msg);

struct proc_stats {
    uint64_t control_messages;      /* CONTROL_MESSAGE envelopes dropped */
    uint64_t failed;                /* records sent to fail() */
    uint64_t out;                   /* records left */
};

struct proc;

/* 'pc' is borrowed for the proc's life. */
struct proc *proc_new(const struct cfg_processing *pc, struct err *e);
void proc_free(struct proc *p);                 /* NULL is a no-op */

/* 1 when 'pc' enables any stage this module runs. */
int proc_wanted(const struct cfg_processing *pc);

/* Run the stages over 'l' (records with data == raw, sub 0), leaving the
 * result in 'l'. Record bytes stay valid until the next proc_run(). -1
 * only with ERR_NOMEM or when fail() returned non-zero. */
int proc_run(struct proc *p, struct proc_list *l, proc_fail_fn fail,
             void *arg, struct proc_stats *st, struct err *e);

#endif
