/* dest.h - the destination vtable. A destination type is code (one per
 * kind of endpoint); a struct dest is one configured endpoint. The core
 * owns retry, backoff and backup: one deliver() call is one attempt, with
 * no sleeps and no retry loops. registry.c is the only place that knows
 * every type. */
#ifndef FH_DEST_H
#define FH_DEST_H

#include <stddef.h>
#include <stdint.h>

#include "../config/cfg.h"
#include "../delivery/err.h"

enum dest_status {
    DEST_OK,        /* the whole payload is stored */
    DEST_RETRY,     /* transient: the core retries with backoff */
    DEST_FAIL       /* permanent for this payload: the core backs it up */
};

/* One object to store. Everything is borrowed for the call. */
struct payload {
    const char *key;                /* object key / relative file path */
    const unsigned char *data;      /* compressed object bytes */
    size_t len;
    const char *content_encoding;   /* "gzip" or NULL */
    uint32_t records;
    uint64_t raw_bytes;             /* uncompressed record bytes */
};

struct dest;

struct dest_type {
    const char *name;               /* "local", "s3" */
    enum cfg_dest_kind kind;
    int (*create)(struct dest *d, const struct cfg_stream *s,
                  const struct cfg_service *svc, struct err *e);
    enum dest_status (*deliver)(struct dest *d, const struct payload *p,
                                struct err *e);
    void (*destroy)(struct dest *d);    /* accepts a half-created d */
};

struct dest {
    const struct dest_type *type;
    char id[48];                    /* "s3:to-s3", in every log line */
    void *ctx;                      /* owned by the type */
};

/* The types; only registry.c lists them all. */
extern const struct dest_type dest_local;
extern const struct dest_type dest_s3;

/* Create the destination a stream's config names. Caller frees. */
struct dest *dest_new(const struct cfg_stream *s,
                      const struct cfg_service *svc, struct err *e);
void dest_free(struct dest *d);     /* NULL is a no-op */

#endif
