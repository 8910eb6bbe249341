#include "auth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth_hdr.h"
#include "log.h"
#include "util.h"

#define AUTH_ALGO "AWS4-HMAC-SHA256"
#define AUTH_SERVICE "firehose"
#define AUTH_TERMINATOR "aws4_request"
/* Longest Credential=... value; real ones are about 60 characters. */
#define AUTH_MAX_CREDENTIAL 256
/* The credentials file and the TLS files are small; refuse anything else. */
#define AUTH_MAX_FILE (1024 * 1024)

struct auth_key {
    char *access_key_id;
    char *secret;
    char *session_token;        /* NULL: any token (AllowSessionTokens) */
};

struct auth {
    struct auth_key *keys;
    size_t n;
    int allow_tokens;
    int skew_s;
};

__attribute__((format(printf, 3, 4)))
static int refuse(struct auth_result *res, const char *type,
                  const char *fmt, ...)
{
    va_list ap;

    res->type = type;
    res->status = strcmp(type, "InternalFailure") == 0 ? 500 : 400;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof(res->message), fmt, ap);
    va_end(ap);
    return -1;
}

void auth_add_header(struct auth_request *r, const char *name,
                     const char *value)
{
    if (r->n_headers < AUTH_MAX_HEADERS) {
        r->headers[r->n_headers].name = name;
        r->headers[r->n_headers].value = value;
    }
    if (r->n_headers <= AUTH_MAX_HEADERS)
        r->n_headers++;
}

/* The first header named 'name' (any case) and how many there are. */
static const char *header(const struct auth_request *r, const char *name,
                          size_t *count)
{
    const char *found = NULL;
    size_t n = 0;

    for (size_t i = 0; i < r->n_headers; i++) {
        if (strcasecmp(r->headers[i].name, name) != 0)
            continue;
        if (found == NULL)
            found = r->headers[i].value ? r->headers[i].value : "";
        n++;
    }
    if (count != NULL)
        *count = n;
    return found;
}

/* Does the raw query hold a parameter named exactly 'name'? */
static int query_has(const char *query, const char *name)
{
    size_t n = strlen(name);

    while (query != NULL && *query != '\0') {
        if (strncmp(query, name, n) == 0 &&
            (query[n] == '=' || query[n] == '&' || query[n] == '\0'))
            return 1;
        query = strchr(query, '&');
        if (query != NULL)
            query++;
    }
    return 0;
}

static int token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-_.!#$%&'*+^`|~", c) != NULL);
}

/* The headers named in SignedHeaders, as received, into 'out'. */
static int signed_headers(const struct auth_request *r, const struct authz *z,
                          struct sigv4_header *out, size_t *n_out,
                          int *has_host, int *has_token,
                          struct auth_result *res)
{
    const char *p = z->signed_list, *end = p + z->signed_len;
    const char *names[AUTH_MAX_HEADERS];
    size_t lens[AUTH_MAX_HEADERS], n_names = 0, n = 0;

    *has_host = *has_token = 0;
    while (p <= end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *ne = semi ? semi : end;
        size_t len = (size_t)(ne - p), found = 0;

        for (size_t i = 0; i < len; i++)
            if (!token_char(p[i]))
                return refuse(res, "InvalidSignatureException",
                              "SignedHeaders must list lowercase header "
                              "names separated by ';', got '%.*s'",
                              (int)z->signed_len, z->signed_list);
        if (len == 0 || n_names == AUTH_MAX_HEADERS)
            return refuse(res, "InvalidSignatureException",
                          "SignedHeaders must list 1 to %d header names "
                          "separated by ';', got '%.*s'", AUTH_MAX_HEADERS,
                          (int)z->signed_len, z->signed_list);
        for (size_t i = 0; i < n_names; i++)
            if (lens[i] == len && memcmp(names[i], p, len) == 0)
                return refuse(res, "InvalidSignatureException",
                              "SignedHeaders lists '%.*s' twice", (int)len,
                              p);
        names[n_names] = p;
        lens[n_names++] = len;
        if (len == 4 && memcmp(p, "host", 4) == 0)
            *has_host = 1;
        if (len == 20 && memcmp(p, "x-amz-security-token", 20) == 0)
            *has_token = 1;
        for (size_t i = 0; i < r->n_headers; i++) {
            if (strncasecmp(r->headers[i].name, p, len) != 0 ||
                r->headers[i].name[len] != '\0')
                continue;
            /* n stays below AUTH_MAX_HEADERS: each received header is
             * taken once, as the names are distinct. */
            out[n++] = r->headers[i];
            found = 1;
        }
        if (!found)
            return refuse(res, "InvalidSignatureException",
                          "SignedHeaders names '%.*s', which the request "
                          "does not carry", (int)len, p);
        p = ne + 1;
    }
    *n_out = n;
    return 0;
}

static const struct auth_key *find_key(const struct auth *a, const char *id)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->keys[i].access_key_id, id) == 0)
            return &a->keys[i];
    return NULL;
}

/* Constant-time equality of a received value (its trailing blanks
 * dropped) and a configured secret. */
static int same_secret(const char *got, const char *want)
{
    size_t n = strlen(got);

    while (n > 0 && (got[n - 1] == ' ' || got[n - 1] == '\t'))
        n--;
    return n == strlen(want) && CRYPTO_memcmp(got, want, n) == 0;
}

/* Trimmed copy of a header value into out[size]; -1 when too long. */
static int trimmed(const char *v, char *out, size_t size)
{
    size_t n;

    while (*v == ' ' || *v == '\t')
        v++;
    n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n >= size)
        return -1;
    memcpy(out, v, n);
    out[n] = '\0';
    return 0;
}

/* The order of checks is spec §7's; each answer is the JSON protocol's. */
int auth_verify(const struct auth *a, const struct auth_request *r,
                struct auth_result *res)
{
    struct sigv4_header sh[AUTH_MAX_HEADERS];
    char path[AUTH_MAX_URI + 1], cred[AUTH_MAX_CREDENTIAL + 1];
    char date_iso[17], lo[17], hi[17], now_iso[17], sig[65], hash[65];
    char body_hash[65], missing[200] = "";
    const char *authz_h, *xdate, *hdate, *query, *token, *sha;
    const char *part[5];
    char *qmark;
    const struct auth_key *key;
    struct sigv4_request sr;
    struct sigv4_key sk;
    struct authz z;
    struct err e = { 0, "" };
    size_t n_authz, n_sh = 0, ulen, len = 0;
    int64_t t;
    int has_host, has_token, np;

    res->type = NULL;
    res->status = 0;
    res->message[0] = '\0';
    res->access_key_id[0] = '\0';
    if (a == NULL)
        return 0;
    if (r->n_headers > AUTH_MAX_HEADERS)
        return refuse(res, "InvalidSignatureException", "The request has "
                      "more than %d headers; send at most %d",
                      AUTH_MAX_HEADERS, AUTH_MAX_HEADERS);
    ulen = r->uri ? strlen(r->uri) : 0;
    if (ulen > AUTH_MAX_URI)
        return refuse(res, "InvalidSignatureException", "The request target "
                      "is longer than %d bytes", AUTH_MAX_URI);
    memcpy(path, r->uri ? r->uri : "", ulen + 1);
    qmark = strchr(path, '?');
    query = NULL;
    if (qmark != NULL) {
        *qmark = '\0';
        query = qmark + 1;
        /* Only empty pieces ("?", "?&&") canonicalise to "": say so, as
         * sigv4.c's canonical_query() does UB (NULL + 0) on them. */
        if (query[strspn(query, "&")] == '\0')
            query = NULL;
    }

    /* 1, 2: one auth mechanism, and it is SigV4. */
    authz_h = header(r, "authorization", &n_authz);
    if (authz_h != NULL && query_has(query, "X-Amz-Algorithm"))
        return refuse(res, "InvalidSignatureException", "Found both "
                      "'X-Amz-Algorithm' as a query-string param and "
                      "'Authorization' as HTTP header.");
    if (authz_h == NULL && query_has(query, "X-Amz-Algorithm"))
        return refuse(res, "MissingAuthenticationTokenException",
                      "Missing Authentication Token (presigned URLs are not "
                      "supported: sign with an Authorization header)");
    if (authz_h == NULL || strncmp(authz_h, "AWS4-", 5) != 0)
        return refuse(res, "MissingAuthenticationTokenException",
                      "Missing Authentication Token");
    if (n_authz > 1)
        return refuse(res, "IncompleteSignatureException", "The request "
                      "carries %zu Authorization headers; send one",
                      n_authz);

    /* 3: every part is there. */
    auth_hdr_authz(authz_h, &z);
    xdate = header(r, "x-amz-date", NULL);
    hdate = header(r, "date", NULL);
    if (z.cred == NULL)
        len += (size_t)snprintf(missing + len, sizeof(missing) - len,
                                "Authorization header requires "
                                "'Credential' parameter. ");
    if (z.sig == NULL && len < sizeof(missing))
        len += (size_t)snprintf(missing + len, sizeof(missing) - len,
                                "Authorization header requires "
                                "'Signature' parameter. ");
    if (z.signed_list == NULL && len < sizeof(missing))
        len += (size_t)snprintf(missing + len, sizeof(missing) - len,
                                "Authorization header requires "
                                "'SignedHeaders' parameter. ");
    if (len > 0 || (xdate == NULL && hdate == NULL))
        return refuse(res, "IncompleteSignatureException", "%s%s"
                      "Authorization=%.*s", missing,
                      xdate == NULL && hdate == NULL ?
                      "Authorization header requires existence of either "
                      "a 'X-Amz-Date' or a 'Date' header. " : "",
                      (int)(strlen(authz_h) > 200 ? 200 : strlen(authz_h)),
                      authz_h);

    /* 4: date, algorithm and credential are well formed. */
    if (xdate != NULL) {
        t = auth_hdr_amz_date(xdate);
        if (t < 0)
            return refuse(res, "IncompleteSignatureException", "Date must "
                          "be in ISO-8601 'basic format'. Got '%.40s'. See "
                          "http://en.wikipedia.org/wiki/ISO_8601", xdate);
    } else {
        t = auth_hdr_http_date(hdate);
        if (t < 0)
            return refuse(res, "IncompleteSignatureException", "Date header "
                          "must be an RFC 1123 date such as 'Sun, 06 Nov "
                          "1994 08:49:37 GMT'. Got '%.40s'", hdate);
    }
    auth_hdr_amz_format(t, date_iso);
    if (z.alg_len != strlen(AUTH_ALGO) ||
        memcmp(z.alg, AUTH_ALGO, z.alg_len) != 0)
        return refuse(res, "IncompleteSignatureException", "Unsupported AWS "
                      "'algorithm': '%.*s'. Use " AUTH_ALGO,
                      (int)(z.alg_len > 40 ? 40 : z.alg_len), z.alg);
    np = 0;
    if (z.cred_len <= AUTH_MAX_CREDENTIAL) {
        memcpy(cred, z.cred, z.cred_len);
        cred[z.cred_len] = '\0';
        part[np++] = cred;
        for (char *c = cred; *c != '\0'; c++) {
            if (*c != '/')
                continue;
            *c = '\0';
            if (np == 5) {
                np++;
                break;
            }
            part[np++] = c + 1;
        }
    }
    if (np != 5)
        return refuse(res, "IncompleteSignatureException", "Credential must "
                      "have exactly 5 slash-delimited elements, e.g. "
                      "keyid/date/region/service/term, got '%.*s'",
                      (int)(z.cred_len > 200 ? 200 : z.cred_len), z.cred);
    snprintf(res->access_key_id, sizeof(res->access_key_id), "%.128s",
             part[0]);

    /* 5: clock skew. */
    auth_hdr_amz_format(r->now_s, now_iso);
    auth_hdr_amz_format(r->now_s - a->skew_s, lo);
    auth_hdr_amz_format(r->now_s + a->skew_s, hi);
    if (t < r->now_s - a->skew_s)
        return refuse(res, "InvalidSignatureException", "Signature expired: "
                      "%s is now earlier than %s (%s - %d min.)", date_iso,
                      lo, now_iso, a->skew_s / 60);
    if (t > r->now_s + a->skew_s)
        return refuse(res, "InvalidSignatureException", "Signature not yet "
                      "current: %s is still later than %s (%s + %d min.)",
                      date_iso, hi, now_iso, a->skew_s / 60);

    /* 6: host (and a session token) must be signed. */
    if (signed_headers(r, &z, sh, &n_sh, &has_host, &has_token, res) != 0)
        return -1;
    token = header(r, "x-amz-security-token", NULL);
    if (!has_host)
        return refuse(res, "InvalidSignatureException", "'Host' must be a "
                      "'SignedHeader' in the AWS Authorization.");
    if (token != NULL && !has_token)
        return refuse(res, "InvalidSignatureException",
                      "'X-Amz-Security-Token' must be a 'SignedHeader' in "
                      "the AWS Authorization when it is sent.");

    /* 7: the scope. */
    if (strlen(part[1]) != 8 || strncmp(part[1], date_iso, 8) != 0)
        return refuse(res, "InvalidSignatureException", "Date in Credential "
                      "scope does not match YYYYMMDD from ISO-8601 version "
                      "of date from HTTP: '%.20s' != '%.8s', from '%s'.",
                      part[1], date_iso, date_iso);
    if (part[2][0] == '\0' || strlen(part[2]) > 32 ||
        strspn(part[2], "abcdefghijklmnopqrstuvwxyz0123456789-") !=
        strlen(part[2]))
        return refuse(res, "InvalidSignatureException", "Credential should "
                      "be scoped to a valid region, not '%.40s'. ", part[2]);
    if (strcmp(part[3], AUTH_SERVICE) != 0)
        return refuse(res, "InvalidSignatureException", "Credential should "
                      "be scoped to correct service: '" AUTH_SERVICE "'. ");
    if (strcmp(part[4], AUTH_TERMINATOR) != 0)
        return refuse(res, "InvalidSignatureException", "Credential should "
                      "be scoped with a valid terminator: '" AUTH_TERMINATOR
                      "', not '%.40s'. ", part[4]);

    /* 8: a key we know. */
    key = find_key(a, part[0]);
    if (key == NULL)
        return refuse(res, "UnrecognizedClientException", "The security "
                      "token included in the request is invalid.");

    /* 9: the signature, over the request exactly as received. */
    sha = header(r, "x-amz-content-sha256", NULL);
    if (sha != NULL && trimmed(sha, hash, sizeof(hash)) != 0)
        snprintf(hash, sizeof(hash), "%s", "(too long)");
    memset(&sr, 0, sizeof(sr));
    sr.method = r->method;
    sr.path = path;
    sr.query = query;
    sr.headers = sh;
    sr.n_headers = n_sh;
    sr.body = r->body;
    sr.body_len = r->body_len;
    sr.payload_hash = sha != NULL ? hash : NULL;
    memset(&sk, 0, sizeof(sk));
    sk.access_key_id = key->access_key_id;
    sk.secret = key->secret;
    sk.region = part[2];
    sk.service = AUTH_SERVICE;
    sk.amz_date = date_iso;
    if (sigv4_signature(&sr, &sk, sig, &e) != 0)
        return refuse(res, "InternalFailure", "could not verify the "
                      "signature: %s", e.msg);
    if (z.sig_len != 64 || CRYPTO_memcmp(sig, z.sig, 64) != 0)
        return refuse(res, "InvalidSignatureException", "The request "
                      "signature we calculated does not match the signature "
                      "you provided. Check your AWS Secret Access Key and "
                      "signing method. Consult the service documentation "
                      "for details.");
    if (sha != NULL) {
        sigv4_sha256_hex(r->body, r->body_len, body_hash);
        if (strcmp(hash, body_hash) != 0)
            return refuse(res, "InvalidSignatureException", "The provided "
                          "'x-amz-content-sha256' header does not match "
                          "what was computed.");
    }

    /* 10: session tokens. */
    if (token != NULL && !a->allow_tokens)
        return refuse(res, "UnrecognizedClientException", "The security "
                      "token included in the request is invalid.");
    if (key->session_token != NULL &&
        (token == NULL || !same_secret(token, key->session_token)))
        return refuse(res, "UnrecognizedClientException", "The security "
                      "token included in the request is invalid.");
    return 0;
}

/* ---- set-up ---- */

/* The whole of a small regular file, NUL-terminated. */
static int read_file(const char *what, const char *path, char **out,
                     size_t *len, struct err *e)
{
    struct stat st;
    ssize_t got;
    size_t n = 0;
    char *p;
    int fd, saved;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_sys(e, errno, "%s '%s': cannot open", what, path);
    if (fstat(fd, &st) != 0) {
        saved = errno;
        close(fd);
        return err_sys(e, saved, "%s '%s': fstat", what, path);
    }
    if (!S_ISREG(st.st_mode) || st.st_size > AUTH_MAX_FILE) {
        close(fd);
        return err_set(e, ERR_INVAL, "%s '%s' is not a regular file of at "
                       "most %d bytes", what, path, AUTH_MAX_FILE);
    }
    p = malloc((size_t)st.st_size + 1);
    if (p == NULL) {
        close(fd);
        return err_set(e, ERR_NOMEM, "%s '%s': out of memory", what, path);
    }
    while (n < (size_t)st.st_size &&
           (got = read(fd, p + n, (size_t)st.st_size - n)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            saved = errno;
            close(fd);
            explicit_bzero(p, (size_t)st.st_size);
            free(p);
            return err_sys(e, saved, "%s '%s': read", what, path);
        }
        n += (size_t)got;
    }
    close(fd);
    p[n] = '\0';
    *out = p;
    if (len != NULL)
        *len = n;
    return 0;
}

static void keys_free(struct auth_key *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(k[i].access_key_id);
        if (k[i].secret != NULL)
            explicit_bzero(k[i].secret, strlen(k[i].secret));
        free(k[i].secret);
        free(k[i].session_token);
    }
    free(k);
}

static int key_add(struct auth *a, const char *id, const char *secret,
                   const char *token, struct err *e)
{
    struct auth_key *k, *grown;

    grown = realloc(a->keys, (a->n + 1) * sizeof(*grown));
    if (grown == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    a->keys = grown;
    k = &a->keys[a->n];
    memset(k, 0, sizeof(*k));
    a->n++;
    k->access_key_id = strdup(id);
    k->secret = strdup(secret);
    k->session_token = token ? strdup(token) : NULL;
    if (k->access_key_id == NULL || k->secret == NULL ||
        (token != NULL && k->session_token == NULL))
        return err_set(e, ERR_NOMEM, "out of memory");
    return 0;
}

static char *trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        *--end = '\0';
    return s;
}

/* One [section] of the credentials file, being read. */
struct ini_sec {
    char name[128];
    int line;
    char *id, *secret, *token;  /* point into the file's text */
};

static int ini_flush(struct auth *a, const char *path, struct ini_sec *s,
                     struct err *e)
{
    if (s->line == 0)
        return 0;
    if (s->id == NULL || s->secret == NULL)
        return err_set(e, ERR_INVAL, "CredentialsFile '%s' line %d: section "
                       "[%s] needs aws_access_key_id and "
                       "aws_secret_access_key", path, s->line, s->name);
    if (s->id[0] == '\0' || strlen(s->id) > 128 ||
        strspn(s->id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
               "0123456789") != strlen(s->id))
        return err_set(e, ERR_INVAL, "CredentialsFile '%s' section [%s]: "
                       "aws_access_key_id must be 1-128 of A-Z a-z 0-9",
                       path, s->name);
    if (s->secret[0] == '\0' || strlen(s->secret) > 256)
        return err_set(e, ERR_INVAL, "CredentialsFile '%s' section [%s]: "
                       "aws_secret_access_key must be 1-256 characters",
                       path, s->name);
    if (find_key(a, s->id) != NULL)
        return err_set(e, ERR_INVAL, "CredentialsFile '%s' section [%s]: "
                       "aws_access_key_id '%s' is given twice", path,
                       s->name, s->id);
    return key_add(a, s->id, s->secret,
                   s->token && s->token[0] ? s->token : NULL, e);
}

/* The AWS shared-credentials format: each [section] is one key pair
 * (aws_access_key_id, aws_secret_access_key, optional aws_session_token);
 * '#' and ';' start comments; other keys are ignored. */
static int load_ini(struct auth *a, const char *path, char *text,
                    struct err *e)
{
    struct ini_sec s;
    char *line = text, *next;
    int no = 0;

    memset(&s, 0, sizeof(s));
    for (; line != NULL; line = next) {
        char *eq, *k, **slot;

        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        no++;
        line = trim(line);
        if (line[0] == '\0' || line[0] == '#' || line[0] == ';')
            continue;
        if (line[0] == '[') {
            char *close = strchr(line, ']');

            if (close == NULL || trim(close + 1)[0] != '\0' ||
                close == line + 1)
                return err_set(e, ERR_INVAL, "CredentialsFile '%s' line %d: "
                               "expected [section-name]", path, no);
            if (ini_flush(a, path, &s, e) != 0)
                return -1;
            memset(&s, 0, sizeof(s));
            *close = '\0';
            snprintf(s.name, sizeof(s.name), "%s", trim(line + 1));
            s.line = no;
            continue;
        }
        eq = strchr(line, '=');
        if (eq == NULL || s.line == 0)
            return err_set(e, ERR_INVAL, "CredentialsFile '%s' line %d: "
                           "expected 'key = value' inside a [section]",
                           path, no);
        *eq = '\0';
        k = trim(line);
        slot = strcmp(k, "aws_access_key_id") == 0 ? &s.id :
               strcmp(k, "aws_secret_access_key") == 0 ? &s.secret :
               strcmp(k, "aws_session_token") == 0 ? &s.token : NULL;
        if (slot == NULL)
            continue;
        if (*slot != NULL)
            return err_set(e, ERR_INVAL, "CredentialsFile '%s' line %d: %s "
                           "is given twice in [%s]", path, no, k, s.name);
        *slot = trim(eq + 1);
    }
    if (ini_flush(a, path, &s, e) != 0)
        return -1;
    if (a->n == 0)
        return err_set(e, ERR_INVAL, "CredentialsFile '%s' holds no "
                       "[section] with aws_access_key_id and "
                       "aws_secret_access_key", path);
    return 0;
}

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;

        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        const unsigned char *b = in6->sin6_addr.s6_addr;

        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && b[12] == 127;
    }
    return 0;
}

int auth_new(const struct cfg_service *svc, const struct sockaddr *listen,
             struct auth **out, struct err *e)
{
    struct auth *a;
    char *text = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    if (svc->n_credentials == 0 && svc->credentials_file == NULL) {
        if (listen != NULL && !is_loopback(listen) &&
            !svc->allow_unauthenticated)
            return err_set(e, ERR_INVAL, "Listen '%s' is not a loopback "
                           "address and no Service.Credentials or "
                           "Service.CredentialsFile is configured, so anyone "
                           "who reaches it could put records: configure "
                           "credentials, listen on 127.0.0.1, or set "
                           "Service.AllowUnauthenticated to true",
                           svc->listen);
        if (listen != NULL && !is_loopback(listen))
            log_msg(LOG_WARN, "auth", "authentication is OFF on the "
                    "non-loopback address %s (AllowUnauthenticated): "
                    "anyone who reaches it can put records", svc->listen);
        else
            log_msg(LOG_INFO, "auth", "authentication is off: no "
                    "credentials configured, listening on loopback only");
        return 0;
    }
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    a->allow_tokens = svc->allow_session_tokens;
    a->skew_s = svc->max_clock_skew_s > 0 ? svc->max_clock_skew_s : 900;
    for (size_t i = 0; i < svc->n_credentials; i++) {
        const struct cfg_credential *c = &svc->credentials[i];

        if (key_add(a, c->access_key_id, c->secret, c->session_token,
                    e) != 0)
            goto fail;
    }
    if (svc->credentials_file != NULL) {
        if (read_file("CredentialsFile", svc->credentials_file, &text, &len,
                      e) != 0)
            goto fail;
        rc = load_ini(a, svc->credentials_file, text, e);
        explicit_bzero(text, len);
        free(text);
        if (rc != 0)
            goto fail;
    }
    log_msg(LOG_INFO, "auth", "SigV4 authentication required: %zu key%s "
            "from %s, service '" AUTH_SERVICE "', any region, clock skew "
            "%d s, session tokens %s", a->n, a->n == 1 ? "" : "s",
            svc->credentials_file ? svc->credentials_file :
            "Service.Credentials", a->skew_s,
            a->allow_tokens ? "accepted" : "refused");
    *out = a;
    return 0;
fail:
    auth_free(a);
    return -1;
}

void auth_free(struct auth *a)
{
    if (a == NULL)
        return;
    keys_free(a->keys, a->n);
    free(a);
}

int auth_tls_load(const struct cfg_service *svc, char **cert, char **key,
                  struct err *e)
{
    size_t klen = 0;

    *cert = *key = NULL;
    if (svc->tls.cert_file == NULL || svc->tls.key_file == NULL)
        return 0;
    if (read_file("Tls.CertificateFile", svc->tls.cert_file, cert, NULL,
                  e) != 0)
        return -1;
    if (read_file("Tls.KeyFile", svc->tls.key_file, key, &klen, e) != 0) {
        free(*cert);
        *cert = NULL;
        return -1;
    }
    if (strstr(*cert, "-----BEGIN CERTIFICATE-----") == NULL ||
        strstr(*key, "-----BEGIN") == NULL ||
        strstr(*key, "PRIVATE KEY-----") == NULL) {
        auth_tls_release(*cert, *key);
        *cert = *key = NULL;
        return err_set(e, ERR_INVAL, "Tls: '%s' must hold a PEM certificate "
                       "and '%s' a PEM private key (-----BEGIN ... "
                       "PRIVATE KEY-----)", svc->tls.cert_file,
                       svc->tls.key_file);
    }
    return 0;
}

void auth_tls_release(char *cert, char *key)
{
    free(cert);
    if (key != NULL)
        explicit_bzero(key, strlen(key));
    free(key);
}
