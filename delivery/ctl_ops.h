/* ctl_ops.h - the control-plane operations (Create, Delete, Describe,
 * List, UpdateDestination, the tag operations): request parsing,
 * validation, Firehose's error types and messages, and the answers. */
#ifndef FH_CTL_OPS_H
#define FH_CTL_OPS_H

#include <stddef.h>

#include "control.h"

/* control_call() (control.h): the same contract. */
int ctl_ops_call(struct control *ctl, const char *op, const char *body,
                 size_t len, struct buf *out, struct control_reply *r);

#endif
