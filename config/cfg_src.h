/* cfg_src.h - the source shapes of the config loader: the Kinesis source
 * (KinesisStreamSourceConfiguration, ARN checked and split into region
 * and stream name), DirectPutSourceConfiguration and our DirectPutQuotas.
 * 'dst': struct cfg_stream, NULL and struct cfg_quotas. */
#ifndef FH_CFG_SRC_H
#define FH_CFG_SRC_H

#include "cfg_walk.h"

extern const struct cfg_shape cfg_kinesis_src_shape;
extern const struct cfg_shape cfg_direct_put_shape;
extern const struct cfg_shape cfg_quotas_shape;

#endif
