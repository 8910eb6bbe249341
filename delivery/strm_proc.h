/* strm_proc.h - a delivery worker's processing of one batch read from the
 * spool: the built-in processors (decompression, CloudWatch Logs,
 * de-aggregation), the Lua transform and MetadataExtraction, in Firehose's
 * order, then the records that are left sorted into groups (one object per
 * partition) and the failed ones into error documents. */
#ifndef FH_STRM_PROC_H
#define FH_STRM_PROC_H

#include "strm.h"

/* The batch in w->data becomes w->list, w->views, w->groups and w's error
 * outputs (strm.h), all reused from batch to batch. 0, or -1 with 'e'
 * filled (out of memory, the script host failed). */
int strm_proc_run(struct worker *w, struct err *e);

#endif
