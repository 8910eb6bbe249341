/* cfg_svc.h - the Service shape of the config loader: listen addresses,
 * state directory, credentials and authentication, TLS, endpoints, the
 * lease store and logging, with their cross-field checks. 'dst': struct
 * cfg_service. */
#ifndef FH_CFG_SVC_H
#define FH_CFG_SVC_H

#include "cfg_walk.h"

extern const struct cfg_shape cfg_service_shape;

#endif
