/* sigv4.h - AWS Signature Version 4: one implementation for signing our
 * outbound requests (S3, later Kinesis, DynamoDB, OpenSearch) and for
 * verifying inbound producer requests. Follows ../shared/spec/sigv4.md;
 * tested against the official suite. Never logs secrets. */
#ifndef FH_SIGV4_H
#define FH_SIGV4_H

#include <stddef.h>

#include "err.h"
#include "util.h"

struct sigv4_header {
    const char *name;           /* any case */
    const char *value;          /* as sent; trimmed/collapsed when signing */
};

struct sigv4_request {
    const char *method;         /* "GET", "PUT", "POST" */
    const char *path;           /* as on the wire, percent-encoded; "" = "/" */
    const char *query;          /* raw, without '?'; NULL or "" = none */
    const struct sigv4_header *headers;  /* the headers to sign */
    size_t n_headers;
    const void *body;
    size_t body_len;
    /* NULL: SHA-256 of the body; else used verbatim ("UNSIGNED-PAYLOAD" or
     * a precomputed hex hash, as S3's x-amz-content-sha256). */
    const char *payload_hash;
    int s3;                     /* 1: S3 path rule (no normalising, encode once) */
};

struct sigv4_key {
    const char *access_key_id;
    const char *secret;
    const char *region;
    const char *service;        /* "s3", "firehose", "kinesis", ... */
    const char *amz_date;       /* "20150830T123600Z" */
};

/* Hex SHA-256 of p[0..n) into out[65]. */
void sigv4_sha256_hex(const void *p, size_t n, char out[65]);

/* The canonical request (spec §2) appended to 'out'. Headers named twice
 * are joined with ','; the signed-header list is every header given. */
int sigv4_canonical_request(const struct sigv4_request *r, struct buf *out,
                            struct err *e);
/* The string to sign (spec §3) appended to 'out'. */
int sigv4_string_to_sign(const struct sigv4_request *r,
                         const struct sigv4_key *k, struct buf *out,
                         struct err *e);
/* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..."
 * into authz (NUL-terminated). -1 with ERR_INVAL if it does not fit. */
int sigv4_authorization(const struct sigv4_request *r,
                        const struct sigv4_key *k, char *authz, size_t size,
                        struct err *e);
/* The derived key kSigning (spec §4) into out[32]; 'date' is read up to its
 * 8th character, so an amz date works. Depends only on its inputs: callers
 * may cache it per day. */
int sigv4_signing_key(const char *secret, const char *date,
                      const char *region, const char *service,
                      unsigned char out[32], struct err *e);
/* Just the 64-hex signature into sig[65]. */
int sigv4_signature(const struct sigv4_request *r, const struct sigv4_key *k,
                    char sig[65], struct err *e);

/* Current UTC time as "YYYYMMDDTHHMMSSZ" into out[17]. */
void sigv4_amz_date(char out[17]);

#endif
