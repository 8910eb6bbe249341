/* api.h - the Firehose JSON 1.1 API on POST / (PutRecord, PutRecordBatch,
 * and the control plane of control.h) and GET /health, served by
 * libmicrohttpd, one thread per connection. Records are acknowledged only
 * after stream_put() made them durable. */
#ifndef FH_API_H
#define FH_API_H

#include <stddef.h>

#include "../config/cfg.h"
#include "control.h"
#include "err.h"
#include "stream.h"
#include "streams.h"

struct api;

/* 'set', 'ctl' (NULL: only the data plane) and 'svc' are borrowed for the
 * api's life. Listens on svc->listen_host:listen_port right away. */
int api_start(const struct cfg_service *svc, struct streams *set,
              struct control *ctl, struct api **out, struct err *e);
/* Serve the dashboard routes (GET /, /dashboard, /api/status, /metrics)
 * from 'd' (borrowed; NULL stops serving them) and report 5xx answers to
 * its error list. */
struct dash;
void api_set_dash(struct api *a, struct dash *d);
/* After this, /health answers 200. */
void api_set_ready(struct api *a);
/* Stop accepting, finish the requests in flight, free. NULL is a no-op. */
void api_stop(struct api *a);

#endif
