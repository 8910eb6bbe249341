/* source.h - where a delivery stream's records come from: a const vtable
 * per kind of source and one registry (source.c), like destinations. A
 * Direct PUT stream's records come in through the HTTP API (api.c), so
 * its source has nothing to run; a Kinesis stream's source reads shards
 * under leases (ksource.c). Sources append to the stream with
 * stream_put() and acknowledge upstream only after it returned. */
#ifndef FH_SOURCE_H
#define FH_SOURCE_H

#include "../config/cfg.h"
#include "err.h"
#include "util.h"

struct stream;

struct source_type {
    const char *name;                   /* "direct_put", "kinesis" */
    enum cfg_stream_type type;
    /* Everything but threads; 'cfg', 'svc' and 'st' are borrowed for the
     * source's life. */
    int (*open)(const struct cfg_stream *cfg, const struct cfg_service *svc,
                struct stream *st, void **ctx, struct err *e);
    int (*start)(void *ctx, struct err *e);
    /* Stops the threads, then frees; accepts a half-opened ctx. */
    void (*free)(void *ctx);
    /* Status members for /api/status: ",\"Name\":{...}" appended to b. */
    int (*status_json)(void *ctx, struct buf *b, struct err *e);
};

struct source;

/* The source of cfg's DeliveryStreamType. */
int source_open(const struct cfg_stream *cfg, const struct cfg_service *svc,
                struct stream *st, struct source **out, struct err *e);
int source_start(struct source *s, struct err *e);
void source_free(struct source *s);             /* NULL is a no-op */
int source_status_json(struct source *s, struct buf *b, struct err *e);

#endif
