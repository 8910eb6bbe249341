/* streams.h - the set of delivery streams of a running firehosed, sorted
 * by name, changed at run time by the control plane. One rwlock guards it:
 * producers hold the read lock for one whole request (lookup and
 * stream_put()), so a writer that removes or swaps a stream waits for the
 * requests in flight, and nothing it frees is still in use. Writers are
 * preferred, so a steady flow of puts cannot starve the control plane.
 * The set borrows everything it points to. */
#ifndef FH_STREAMS_H
#define FH_STREAMS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "stream.h"

enum streams_status {
    STREAMS_CREATING = 0,
    STREAMS_ACTIVE,
    STREAMS_DELETING,
    STREAMS_CREATING_FAILED
};

/* One stream of the set. Fields change only under the write lock. */
struct streams_item {
    const char *name;           /* borrowed; lives as long as the item */
    struct stream *st;          /* NULL until opened (CREATING) */
    enum streams_status status; /* only ACTIVE streams take records */
    uint64_t gen;               /* unique per item for the process's life */
    void *owner;                /* the control plane's record of it */
};

struct streams;

/* At most 'max' streams (LimitExceededException beyond). */
int streams_new(size_t max, struct streams **out, struct err *e);
void streams_free(struct streams *s);           /* NULL is a no-op */

void streams_rdlock(struct streams *s);
void streams_wrlock(struct streams *s);
void streams_unlock(struct streams *s);

/* Under either lock. The item named 'name' (NUL-terminated), or NULL.
 * Items stay valid until the lock is released. */
struct streams_item *streams_find(struct streams *s, const char *name);
size_t streams_count(const struct streams *s);
size_t streams_max(const struct streams *s);
/* The i-th item in name order, i < streams_count(). */
struct streams_item *streams_at(struct streams *s, size_t i);

/* Under the write lock. Adds a copy of 'it' (name borrowed, must stay
 * valid until removed); ERR_INVAL when the name is taken, ERR_FULL at
 * the maximum. */
int streams_add(struct streams *s, const struct streams_item *it,
                struct streams_item **out, struct err *e);
/* Under the write lock; 'it' is freed (the stream it points to is not). */
void streams_remove(struct streams *s, struct streams_item *it);

#endif
