/* spool_seg.h - the spool's segment files (<dir>/<seq>.seg, format in
 * spool_io.h): a new current segment, giving back the segments that hold
 * only committed records, and recovery at open, which validates every
 * record, moves damage to <dir>/corrupt/ and cuts a torn tail. */
#ifndef FH_SPOOL_SEG_H
#define FH_SPOOL_SEG_H

#include "spool_io.h"

/* Start a new current segment (mu held). */
int spool_seg_roll(struct spool *sp, struct err *e);
/* A cursor at the end of a sealed-off segment moves to the next one (mu
 * held). */
void spool_cursor_normalize(struct spool *sp);
/* Recompute dead_bytes and set aside the segments that hold only
 * committed records (mu held) for spool_reap() (mu not held). */
void spool_low_update(struct spool *sp);
void spool_reap(struct spool *sp);
/* Read <dir>/spool.id into sp->incarnation, or make it when the directory
 * holds no spool files ('have_data' 0). */
int spool_id_load(struct spool *sp, int have_data, struct err *e);
/* Find "<16 hex>.seg" files; *other says whether the journal exists. */
int spool_segs_list(struct spool *sp, int *other, struct err *e);
/* Open and validate the segments found, reconcile them with the journal's
 * pending batches and set up the counters and cursors (after
 * spool_journal_load()). */
int spool_recover(struct spool *sp, struct err *e);

#endif
