/* reasons.h - why records failed, shared by the per-record results of a
 * record destination's delivery (struct payload's results and reasons). */
#ifndef FH_REASONS_H
#define FH_REASONS_H

#include <stdint.h>

#include "../delivery/util.h"

/* Why records failed, for one delivery (every attempt of one group):
 * each distinct (code, message) pair is kept once, and a record's result
 * names it by offset, so the per-record result stays 12 bytes however long
 * the reason (it was 328 bytes inline: 46 MB of the HTTP pipeline's peak
 * RSS at 35,000 records per batch). Owned by the core, which resets it
 * before the first attempt of a group; results stay readable until then.
 * Past DEST_REASONS_MAX bytes, new reasons keep their code but share one
 * message saying they were dropped. */
struct dest_reasons {
    struct buf b;                   /* "code\0msg\0" entries */
    uint32_t last;                  /* offset + 1 of the newest entry */
};
#define DEST_REASONS_MAX (4u << 20)

/* The outcome of one record in one attempt, written by deliver() with
 * dest_result_set(). */
struct dest_rec_result {
    uint8_t status;                 /* enum dest_status */
    int http_status;                /* 0 when no response (or not HTTP) */
    uint32_t reason;                /* 0 when OK, else an entry of the
                                     * reasons: the code (e.g.
                                     * "HttpEndpoint.DestinationException",
                                     * "mapper_parsing_exception", at most
                                     * 63 bytes) and the message (at most
                                     * 255 bytes, the backup's
                                     * errorMessage) */
};

/* Write one record's outcome (status: enum dest_status); code and msg
 * may be "" (OK). Never fails: without a table (rs NULL), or when a reason
 * can't be kept (out of memory), the reason reads as "". */
void dest_result_set(struct dest_reasons *rs, struct dest_rec_result *r,
                     int status, int http_status,
                     const char *code, const char *msg);
/* The code and message of a result ("" when none), valid until the
 * reasons are reset. */
const char *dest_result_code(const struct dest_reasons *rs,
                             const struct dest_rec_result *r);
const char *dest_result_msg(const struct dest_reasons *rs,
                            const struct dest_rec_result *r);
void dest_reasons_reset(struct dest_reasons *rs);
void dest_reasons_release(struct dest_reasons *rs);

#endif
