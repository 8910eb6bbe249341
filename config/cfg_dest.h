/* cfg_dest.h - the destination shapes of the config loader: S3
 * (Extended and legacy), LocalDirectory (ours), HTTP endpoint, OpenSearch
 * and Elasticsearch, with their value rules and cross-field checks (bucket
 * and prefixes, buffering, encryption, URL schemes, index names). Used by
 * cfg.c's stream table; 'dst' of each is the struct cfg_stream (S3 and
 * local: its cfg_s3 member). */
#ifndef FH_CFG_DEST_H
#define FH_CFG_DEST_H

#include "cfg_walk.h"

extern const struct cfg_shape cfg_s3_shape;         /* also S3Backup */
extern const struct cfg_shape cfg_ext_s3_shape;
extern const struct cfg_shape cfg_local_shape;
extern const struct cfg_shape cfg_http_shape;
extern const struct cfg_shape cfg_os_shape;
extern const struct cfg_shape cfg_es_shape;
/* CompressionFormat's values, for cfg_compression_name(). */
extern const struct cfg_enum cfg_compression_enum[];

#endif
