/* auth_hdr.h - the syntax of the headers auth.c verifies: the parameters
 * of an Authorization header and the two date formats (X-Amz-Date, Date).
 * Pure functions, no allocation; the results point into the input. */
#ifndef FH_AUTH_HDR_H
#define FH_AUTH_HDR_H

#include <stddef.h>
#include <stdint.h>

/* The three parameters of an Authorization header, pointing into it. */
struct authz {
    const char *alg, *cred, *signed_list, *sig;
    size_t alg_len, cred_len, signed_len, sig_len;
};

/* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." into
 * *z: the algorithm, then key=value pairs separated by commas and/or
 * spaces. The first of a repeated parameter counts; unknown ones are
 * ignored; a missing one stays NULL. */
void auth_hdr_authz(const char *h, struct authz *z);
/* "YYYYMMDDTHHMMSSZ" to seconds since the epoch, -1 when it is not that. */
int64_t auth_hdr_amz_date(const char *s);
/* An RFC 1123 date ("Sun, 06 Nov 1994 08:49:37 GMT") to seconds since
 * the epoch, -1 when it is not that. */
int64_t auth_hdr_http_date(const char *s);
/* 't' as "YYYYMMDDTHHMMSSZ" ("00000000T000000Z" when out of range). */
void auth_hdr_amz_format(int64_t t, char out[17]);

#endif
