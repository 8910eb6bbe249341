/* fake_dest.h - a destination for unit tests: keeps what it is given (a
 * whole object or its parts, in one buffer), counts every call and fails
 * the calls a test scripts. Streams in parts when 'threshold' > 0. */
#ifndef FH_FAKE_DEST_H
#define FH_FAKE_DEST_H

#include "../../delivery/util.h"
#include "../../destinations/dest.h"

struct fake_dest {
    struct dest d;              /* d.ctx points back here */
    struct buf got;             /* object bytes received (parts appended) */
    char key[256];
    char encoding[32];
    unsigned delivers, begins, parts, finishes, aborts;
    size_t max_part, min_part;
    /* Script: the call of this kind with this 1-based number returns
     * 'status' (0 = never). */
    unsigned fail_deliver, fail_begin, fail_part, fail_finish;
    enum dest_status status;
    int completed;              /* last object stored whole */
};

/* threshold 0: deliver() only (no begin/part/finish in the vtable). */
void fake_dest_init(struct fake_dest *f, size_t threshold, size_t part);
void fake_dest_release(struct fake_dest *f);

#endif
