/* auth.h - who may use the Firehose API. Verifies the SigV4 signature of
 * inbound requests (Authorization header form; spec sigv4.md §7: order of
 * checks, JSON-protocol error types and texts) against the keys of
 * Service.Credentials / Service.CredentialsFile, applies the loopback rule
 * when no keys are configured, and loads the TLS key material the listener
 * serves. One SigV4 implementation: the canonical request and signature
 * come from sigv4.c. Never logs secrets, tokens or Authorization headers.
 * An auth is immutable after auth_new(): any number of threads may call
 * auth_verify() at once. */
#ifndef FH_AUTH_H
#define FH_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../config/cfg.h"
#include "err.h"
#include "sigv4.h"

/* Headers one request may carry for verification; more is refused. */
#define AUTH_MAX_HEADERS 64
/* Longest request target (path and query) verified; longer is refused. */
#define AUTH_MAX_URI 2048

struct auth;

/* One request as received. The caller fills it (no allocation): the
 * strings are borrowed for the duration of auth_verify(). */
struct auth_request {
    const char *method;             /* "POST" */
    const char *uri;                /* raw request target: "/", "/?a=b" */
    struct sigv4_header headers[AUTH_MAX_HEADERS];  /* received order */
    size_t n_headers;               /* > AUTH_MAX_HEADERS: too many came */
    const void *body;
    size_t body_len;
    int64_t now_s;                  /* server time, seconds since the epoch */
};

/* Why a request was refused, in the JSON protocol's terms. */
struct auth_result {
    const char *type;               /* "InvalidSignatureException", ... */
    unsigned status;                /* HTTP status (400) */
    char message[512];              /* AWS's text, for the client */
    char access_key_id[129];        /* "" until known; for logs */
};

/* Store one received header (name and value borrowed); past
 * AUTH_MAX_HEADERS it only counts, and auth_verify() refuses. */
void auth_add_header(struct auth_request *r, const char *name,
                     const char *value);

/* Build the verifier from 'svc' (borrowed for the auth's life; the
 * CredentialsFile is read now). 'listen' is the address the API binds:
 * with no keys configured it must be loopback unless AllowUnauthenticated.
 * Logs the mode in force. *out is NULL when authentication is off. */
int auth_new(const struct cfg_service *svc, const struct sockaddr *listen,
             struct auth **out, struct err *e);
/* 0: the request is signed by a configured key (res->access_key_id says
 * which); -1: refused, 'res' says why. A NULL auth accepts everything. */
int auth_verify(const struct auth *a, const struct auth_request *r,
                struct auth_result *res);
void auth_free(struct auth *a);     /* NULL is a no-op; wipes the secrets */

/* Read Service.Tls's certificate and key (PEM) into *cert and *key
 * (NUL-terminated, caller frees; wipe the key with auth_tls_release()).
 * Both NULL when Tls is not configured. */
int auth_tls_load(const struct cfg_service *svc, char **cert, char **key,
                  struct err *e);
void auth_tls_release(char *cert, char *key);

#endif
