/* strm_rec.h - delivery to a record destination (HTTP endpoint,
 * OpenSearch): one group's records per request, only the failing ones
 * re-sent, with backoff, within RetryOptions.DurationInSeconds; what is
 * still not stored becomes error documents for the backup bucket. */
#ifndef FH_STRM_REC_H
#define FH_STRM_REC_H

#include <stdint.h>

#include "strm.h"

/* Send group 'g' of the processed batch; 'hash' (the group's) makes the
 * request id. *stored: the records the destination took. 0, or -1 when
 * told to stop (the batch stays spooled) or with 'e' filled. */
int strm_rec_deliver(struct worker *w, const struct group *g,
                     uint64_t hash, uint64_t *stored, struct err *e);

#endif
