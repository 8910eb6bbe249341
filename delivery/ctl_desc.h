/* ctl_desc.h - DescribeDeliveryStream's destination descriptions: the
 * configuration as it was given, with the values the config loader derived
 * and Firehose's defaults filled in, secrets left out. Pure functions over
 * jansson values. */
#ifndef FH_CTL_DESC_H
#define FH_CTL_DESC_H

#include <jansson.h>

#include "../config/cfg.h"
#include "streams.h"

#define CTL_DESC_DEST_ID "destinationId-000000000001"   /* the only one */

/* The stream object's (borrowed) destination configuration member
 * (borrowed), its key in *key unless NULL; NULL when it has none. */
json_t *ctl_desc_dest_conf(json_t *conf, const char **key);
/* The Destinations[] element for stream 's' whose stream object is 'conf'
 * (borrowed, may be NULL); new reference, NULL when out of memory. */
json_t *ctl_desc_destination(const struct cfg_stream *s, json_t *conf);
/* "CREATING", "ACTIVE", ... */
const char *ctl_desc_status_name(enum streams_status s);

#endif
