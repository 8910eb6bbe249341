/* spool_jnl.h - the spool's batch journal, <dir>/batches.log (format in
 * spool_io.h): sealed batches, commits, compaction, and loading it into
 * sp->pend at open. The scheduler thread's alone, like seal, read and
 * commit (spool.h). */
#ifndef FH_SPOOL_JNL_H
#define FH_SPOOL_JNL_H

#include <stddef.h>

#include "spool_io.h"

/* Journal lines are formatted through this; the attribute keeps -Wformat. */
int spool_jline(struct buf *b, struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The S line of 'p' (borrowed), appended to 'b'. */
int spool_jline_batch(struct buf *b, const struct spool_pend *p,
                      struct err *e);
/* Append sp->jbuf to the journal, all or nothing, optionally synced. */
int spool_journal_write(struct spool *sp, int sync, struct err *e);
/* Read batches.log: pending batches, next id, seal point. A torn tail is
 * cut so that new lines don't run into it. */
int spool_journal_load(struct spool *sp, struct err *e);
/* Rewrite the journal with only what is pending (fsync, rename, fsync
 * dir). */
int spool_journal_compact(struct spool *sp, struct err *e);
/* Drop pending batch i from sp->pend (memory only). */
void spool_pend_remove(struct spool *sp, size_t i);

#endif
