/* cfg_proc.h - ProcessingConfiguration (the built-in processors and their
 * Parameters: de-aggregation, decompression, CloudWatch Logs, metadata
 * extraction with its jq query compiled to check it, Lua), dynamic
 * partitioning and RetryOptions shapes of the config loader. */
#ifndef FH_CFG_PROC_H
#define FH_CFG_PROC_H

#include "cfg_walk.h"

extern const struct cfg_shape cfg_processing_shape;   /* cfg_processing */
extern const struct cfg_shape cfg_partitioning_shape; /* see its table */
extern const struct cfg_shape cfg_retry_shape;        /* int seconds */

#endif
