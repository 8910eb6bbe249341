/* control.h - the Firehose control plane: CreateDeliveryStream,
 * DeleteDeliveryStream, DescribeDeliveryStream, ListDeliveryStreams,
 * UpdateDestination and the tag operations, over the stream set
 * (streams.h). Streams created through the API are validated by the config
 * loader's tables (cfg_stream_parse), kept in
 * <StateDirectory>/streams/<name>.json (temp file, fsync, rename, directory
 * fsync) and recreated at start-up; streams of the config file cannot be
 * deleted or updated through the API.
 *
 * Status: Create answers at once with the stream CREATING; a job thread
 * opens its spool and workers and makes it ACTIVE. Delete makes it
 * DELETING (no more records), lets the workers deliver what is spooled
 * (at most the buffering interval plus the retry duration plus 30 s;
 * AllowForceDelete skips the wait), then removes the spool and the file;
 * data still undelivered after the wait is moved to
 * <StateDirectory>/streams/deleted/<name>.<ms>/ and logged, never dropped.
 * UpdateDestination stops the stream's workers after the batch in flight,
 * reopens it with the new configuration (the spool stays) and answers only
 * then, so every batch sealed after the answer uses it. */
#ifndef FH_CONTROL_H
#define FH_CONTROL_H

#include <stddef.h>

#include "../config/cfg.h"
#include "../transforms/xform.h"
#include "err.h"
#include "stream.h"
#include "streams.h"
#include "util.h"

#define CONTROL_MAX_STREAMS 5000    /* Firehose's default quota */

struct control;

/* 'c' (the loaded config file), 'set' and 'xh' (NULL: made when a created
 * stream needs Lua) are borrowed for the control's life. */
int control_new(const struct cfg *c, struct streams *set,
                struct xform_host *xh, struct control **out, struct err *e);
/* Register the opened config-file stream 'st' for c->streams[i]; takes
 * ownership of 'st'. Before control_load(). */
int control_adopt(struct control *ctl, size_t i, struct stream *st,
                  struct err *e);
/* Open the streams persisted by earlier runs (not started yet). A file
 * that can't be used is logged and skipped; a name the config file also
 * has: the config file wins, with a warning. -1 only for a state
 * directory that can't be read or made. */
int control_load(struct control *ctl, struct err *e);
/* Start every registered stream; they become ACTIVE. */
int control_start(struct control *ctl, struct err *e);
/* Wait for create/delete jobs (a delete that is still waiting for its
 * data stops waiting: the stream comes back at the next start), stop and
 * free every stream. NULL is a no-op. */
void control_free(struct control *ctl);

/* The answer to one operation. */
struct control_reply {
    unsigned status;            /* HTTP status */
    const char *error_type;     /* NULL: 'out' is the JSON body; else the
                                 * __type, and 'out' the message */
};
/* Run operation 'op' (the part after "Firehose_20150804.") on the request
 * body (borrowed). Returns 0 with *r filled and the body or message in
 * 'out' (appended, NUL-terminated), or -1 when 'op' is not a control-plane
 * operation. */
int control_call(struct control *ctl, const char *op, const char *body,
                 size_t len, struct buf *out, struct control_reply *r);

#endif
