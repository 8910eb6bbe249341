/* awscred.h - outbound AWS credentials from the standard chain:
 * AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN or the
 * legacy AWS_SECURITY_TOKEN), then the shared credentials file
 * (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials) with profile
 * AWS_PROFILE / AWS_DEFAULT_PROFILE / "default", then the config file
 * (AWS_CONFIG_FILE, default ~/.aws/config, "[profile NAME]"). Also endpoint
 * overrides: AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL. */
#ifndef FH_AWSCRED_H
#define FH_AWSCRED_H

#include <stddef.h>

#include "err.h"

struct awscred {
    char access_key_id[128];
    char secret[128];
    char session_token[2048];   /* "" when none */
    char source[64];            /* "environment", "file ~/.aws/credentials [p]" */
};

/* 0 with *c filled; -1 with ERR_NOTFOUND when no source has credentials,
 * ERR_INVAL when a file is malformed (file, line, reason). */
int awscred_load(struct awscred *c, struct err *e);

/* Region: AWS_REGION, AWS_DEFAULT_REGION, then "region" in the config file
 * profile (same profile choice as above) into out[size]. -1 with
 * ERR_NOTFOUND when none is set, ERR_INVAL for a malformed file. */
int awscred_region(char *out, size_t size, struct err *e);

/* Endpoint override for a service name as in the SDK variables ("S3",
 * "KINESIS", "DYNAMODB"): the per-service variable, then AWS_ENDPOINT_URL,
 * else NULL. Borrowed from the environment. */
const char *awscred_endpoint(const char *service);

#endif
