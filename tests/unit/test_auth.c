/* auth tests: every row of spec sigv4.md §7 in its order, the header
 * styles of the aws CLI v2 and the JS SDK v3, a request signed by botocore
 * (an independent signer), skew boundaries, scopes, keys, session tokens,
 * x-amz-content-sha256, the loopback rule, the credentials file and the
 * TLS files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../delivery/auth.h"
#include "../../delivery/log.h"
#include "../../delivery/sigv4.h"

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define T0 1440938160           /* 20150830T123600Z */
#define BODY "{\"DeliveryStreamName\":\"ds1\",\"Record\":{\"Data\":\"eA==\"}}"

/* One request being built: headers to sign, then extra unsigned ones. */
struct rq {
    struct sigv4_header h[AUTH_MAX_HEADERS + 4];
    size_t n;
    size_t n_signed;            /* the first n_signed are signed */
    char authz[1024];
    const char *uri;
    const char *body;
    const char *amz_date;
    const char *region, *service, *secret, *akid;
    const char *payload_hash;
};

static void rq_init(struct rq *q)
{
    memset(q, 0, sizeof(*q));
    q->uri = "/";
    q->body = BODY;
    q->amz_date = "20150830T123600Z";
    q->region = "us-east-1";
    q->service = "firehose";
    q->secret = SECRET;
    q->akid = AKID;
}

static void hdr(struct rq *q, const char *name, const char *value)
{
    q->h[q->n].name = name;
    q->h[q->n].value = value;
    q->n++;
}

/* aws CLI v2's header set (test-peers.md): four signed, three not. */
static void cli_headers(struct rq *q)
{
    hdr(q, "Host", "127.0.0.1:4573");
    hdr(q, "X-Amz-Target", "Firehose_20150804.PutRecord");
    hdr(q, "Content-Type", "application/x-amz-json-1.1");
    hdr(q, "X-Amz-Date", q->amz_date);
    q->n_signed = q->n;
    hdr(q, "Accept-Encoding", "identity");
    hdr(q, "User-Agent", "aws-cli/2.9.19 Python/3.11.2");
    hdr(q, "Content-Length", "52");
}

/* Sign the first n_signed headers and add the Authorization header. */
static void sign(struct rq *q)
{
    struct sigv4_request r;
    struct sigv4_key k = { q->akid, q->secret, q->region, q->service,
                           q->amz_date };
    char path[256];
    const char *qm;
    struct err e;

    memset(&r, 0, sizeof(r));
    snprintf(path, sizeof(path), "%s", q->uri);
    qm = strchr(q->uri, '?');
    if (qm != NULL)
        path[qm - q->uri] = '\0';
    r.method = "POST";
    r.path = path;
    r.query = qm ? qm + 1 : NULL;
    r.headers = q->h;
    r.n_headers = q->n_signed;
    r.body = q->body;
    r.body_len = strlen(q->body);
    r.payload_hash = q->payload_hash;
    assert_int_equal(sigv4_authorization(&r, &k, q->authz, sizeof(q->authz),
                                         &e), 0);
    hdr(q, "Authorization", q->authz);
}

static struct auth *mk_auth(int allow_tokens, const char *token)
{
    struct cfg_credential cr[2] = {
        { (char *)"AKIAOTHERKEY", (char *)"other-secret", NULL },
        { (char *)AKID, (char *)SECRET, (char *)token },
    };
    struct cfg_service svc;
    struct auth *a = NULL;
    struct err e;

    memset(&svc, 0, sizeof(svc));
    svc.listen = (char *)"127.0.0.1:4573";
    svc.credentials = cr;
    svc.n_credentials = 2;
    svc.allow_session_tokens = allow_tokens;
    svc.max_clock_skew_s = 900;
    assert_int_equal(auth_new(&svc, NULL, &a, &e), 0);
    assert_non_null(a);
    return a;
}

/* Verify q at 'now' with 'a'; returns the error type or "OK". */
static const char *verify_at(struct auth *a, const struct rq *q, int64_t now,
                             struct auth_result *res)
{
    struct auth_request *r = calloc(1, sizeof(*r));
    const char *t;

    assert_non_null(r);
    r->method = "POST";
    r->uri = q->uri;
    for (size_t i = 0; i < q->n; i++)
        auth_add_header(r, q->h[i].name, q->h[i].value);
    r->body = q->body;
    r->body_len = strlen(q->body);
    r->now_s = now;
    t = auth_verify(a, r, res) == 0 ? "OK" : res->type;
    free(r);
    return t;
}

static const char *verify(const struct rq *q, struct auth_result *res)
{
    struct auth *a = mk_auth(0, NULL);
    const char *t = verify_at(a, q, T0, res);

    auth_free(a);
    return t;
}

static void expect(const struct rq *q, const char *type, const char *text)
{
    struct auth_result res;

    assert_string_equal(verify(q, &res), type);
    if (strcmp(type, "OK") != 0) {
        assert_int_equal(res.status, 400);
        if (strstr(res.message, text) == NULL)
            fail_msg("message '%s' lacks '%s'", res.message, text);
    }
}

static void test_cli_style_ok(void **state)
{
    struct rq q;
    struct auth_result res;

    (void)state;
    rq_init(&q);
    cli_headers(&q);
    sign(&q);
    assert_string_equal(verify(&q, &res), "OK");
    assert_string_equal(res.access_key_id, AKID);
}

static void test_js_style_ok(void **state)
{
    struct rq q;
    char hash[65];

    (void)state;
    rq_init(&q);
    sigv4_sha256_hex(BODY, strlen(BODY), hash);
    hdr(&q, "amz-sdk-invocation-id", "0f6f2ec1-8d2b-4a8e-9d3a-1f2e3d4c5b6a");
    hdr(&q, "amz-sdk-request", "attempt=1; max=3");
    hdr(&q, "content-length", "52");
    hdr(&q, "content-type", "application/x-amz-json-1.1");
    hdr(&q, "host", "127.0.0.1:4573");
    hdr(&q, "x-amz-content-sha256", hash);
    hdr(&q, "x-amz-date", q.amz_date);
    hdr(&q, "x-amz-target", "Firehose_20150804.PutRecordBatch");
    hdr(&q, "x-amz-user-agent", "aws-sdk-js/3.1169.0");
    q.n_signed = q.n;
    hdr(&q, "user-agent", "aws-sdk-js/3.1169.0 ua/2.1 os/linux");
    hdr(&q, "connection", "keep-alive");
    q.payload_hash = hash;
    sign(&q);
    expect(&q, "OK", NULL);
}

/* Signed by botocore 1.43 (python), not by our signer. */
static void test_botocore_vector(void **state)
{
    struct auth_result res;
    struct auth *a = mk_auth(0, NULL);
    struct rq q;

    (void)state;
    rq_init(&q);
    q.body = "{\"DeliveryStreamName\":\"ds1\",\"Record\":{\"Data\":"
             "\"eyJhIjoxfQ==\"}}";
    hdr(&q, "Host", "127.0.0.1:4573");
    hdr(&q, "Content-Type", "application/x-amz-json-1.1");
    hdr(&q, "X-Amz-Target", "Firehose_20150804.PutRecord");
    hdr(&q, "X-Amz-Date", "20261204T111302Z");
    hdr(&q, "Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"
        "20261204/eu-west-1/firehose/aws4_request, SignedHeaders="
        "content-type;host;x-amz-date;x-amz-target, Signature="
        "366a9b905cb92b6e87aa5f29dc4ad5b613304f141ff50784bd1a13ab6a944dfe");
    assert_string_equal(verify_at(a, &q, 1796382782, &res), "OK");
    q.h[3].value = "20261204T111303Z";
    assert_string_equal(verify_at(a, &q, 1796382782, &res),
                        "InvalidSignatureException");
    auth_free(a);
}

static void test_row1_both_mechanisms(void **state)
{
    struct rq q;

    (void)state;
    rq_init(&q);
    q.uri = "/?X-Amz-Algorithm=AWS4-HMAC-SHA256";
    cli_headers(&q);
    sign(&q);
    expect(&q, "InvalidSignatureException", "Found both 'X-Amz-Algorithm'");
}

static void test_row2_missing(void **state)
{
    struct rq q;

    (void)state;
    rq_init(&q);
    cli_headers(&q);
    expect(&q, "MissingAuthenticationTokenException",
           "Missing Authentication Token");
    hdr(&q, "Authorization", "Basic dXNlcjpwYXNz");
    expect(&q, "MissingAuthenticationTokenException",
           "Missing Authentication Token");
    rq_init(&q);
    q.uri = "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00";
    cli_headers(&q);
    expect(&q, "MissingAuthenticationTokenException", "presigned");
}

static void test_row3_incomplete(void **state)
{
    static const struct {
        const char *authz, *text;
    } cases[] = {
        { "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00",
          "requires 'Credential' parameter" },
        { "AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/firehose/"
          "aws4_request, Signature=00", "requires 'SignedHeaders'" },
        { "AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/firehose/"
          "aws4_request, SignedHeaders=host", "requires 'Signature'" },
        { "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=",
          "requires 'Credential' parameter. Authorization header requires "
          "'Signature' parameter. Authorization header requires "
          "'SignedHeaders'" },
        { "AWS4-", "requires 'Credential'" },
    };
    struct rq q;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rq_init(&q);
        cli_headers(&q);
        hdr(&q, "Authorization", cases[i].authz);
        expect(&q, "IncompleteSignatureException", cases[i].text);
    }
    /* No X-Amz-Date and no Date. */
    rq_init(&q);
    hdr(&q, "Host", "127.0.0.1:4573");
    q.n_signed = q.n;
    sign(&q);
    expect(&q, "IncompleteSignatureException",
           "requires existence of either a 'X-Amz-Date' or a 'Date'");
    /* Two Authorization headers. */
    rq_init(&q);
    cli_headers(&q);
    sign(&q);
    hdr(&q, "authorization", q.authz);
    expect(&q, "IncompleteSignatureException", "2 Authorization headers");
}

static void test_row4_malformed(void **state)
{
    static const char *const dates[] = {
        "2015-08-30T12:36:00Z", "20150830T123600", "20151330T123600Z",
        "20150230T123600Z", "20150830T253600Z", "20150830t123600Z", "",
    };
    struct rq q;
    char authz[1024];

    (void)state;
    for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
        rq_init(&q);
        q.amz_date = dates[i];
        cli_headers(&q);
        hdr(&q, "Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"
            "20150830/us-east-1/firehose/aws4_request, SignedHeaders=host, "
            "Signature=00");
        expect(&q, "IncompleteSignatureException", "ISO-8601 'basic format'");
    }
    rq_init(&q);
    cli_headers(&q);
    sign(&q);
    snprintf(authz, sizeof(authz), "AWS4-HMAC-SHA512%.900s", q.authz + 16);
    q.h[q.n - 1].value = authz;
    expect(&q, "IncompleteSignatureException",
           "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'");
    rq_init(&q);
    cli_headers(&q);
    hdr(&q, "Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"
        "20150830/us-east-1/firehose, SignedHeaders=host, Signature=00");
    expect(&q, "IncompleteSignatureException", "exactly 5 slash-delimited");
    q.h[q.n - 1].value = "AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/"
                         "firehose/aws4_request/x, SignedHeaders=host, "
                         "Signature=00";
    expect(&q, "IncompleteSignatureException", "exactly 5 slash-delimited");
}

static void test_row5_skew(void **state)
{
    struct auth *a = mk_auth(0, NULL);
    struct auth_result res;
    struct rq q;

    (void)state;
    rq_init(&q);
    cli_headers(&q);
    sign(&q);
    assert_string_equal(verify_at(a, &q, T0 + 900, &res), "OK");
    assert_string_equal(verify_at(a, &q, T0 - 900, &res), "OK");
    assert_string_equal(verify_at(a, &q, T0 + 901, &res),
                        "InvalidSignatureException");
    assert_string_equal(res.message, "Signature expired: 20150830T123600Z is "
                        "now earlier than 20150830T123601Z "
                        "(20150830T125101Z - 15 min.)");
    assert_string_equal(verify_at(a, &q, T0 - 901, &res),
                        "InvalidSignatureException");
    assert_string_equal(res.message, "Signature not yet current: "
                        "20150830T123600Z is still later than "
                        "20150830T123559Z (20150830T122059Z + 15 min.)");
    auth_free(a);
}

static void test_row6_host_unsigned(void **state)
{
    struct rq q;

    (void)state;
    rq_init(&q);
    hdr(&q, "X-Amz-Date", q.amz_date);
    hdr(&q, "Content-Type", "application/x-amz-json-1.1");
    q.n_signed = q.n;
    hdr(&q, "Host", "127.0.0.1:4573");
    sign(&q);
    expect(&q, "InvalidSignatureException",
           "'Host' must be a 'SignedHeader'");
}

static void test_row7_scope(void **state)
{
    struct rq q;

    (void)state;
    rq_init(&q);
    q.region = "eu-central-1";
    cli_headers(&q);
    sign(&q);
    expect(&q, "OK", NULL);                 /* any region */
    q.region = "US_EAST";
    q.n = q.n_signed + 3;
    sign(&q);
    expect(&q, "InvalidSignatureException", "scoped to a valid region");
    rq_init(&q);
    q.service = "kinesis";
    cli_headers(&q);
    sign(&q);
    expect(&q, "InvalidSignatureException",
           "scoped to correct service: 'firehose'");
    rq_init(&q);
    cli_headers(&q);
    hdr(&q, "Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"
        "20150831/us-east-1/firehose/aws4_request, SignedHeaders=host, "
        "Signature=00");
    expect(&q, "InvalidSignatureException", "Date in Credential scope does "
           "not match YYYYMMDD from ISO-8601 version of date from HTTP: "
           "'20150831' != '20150830'");
    q.h[q.n - 1].value = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/"
                         "us-east-1/firehose/aws4_requestx, "
                         "SignedHeaders=host, Signature=00";
    expect(&q, "InvalidSignatureException", "valid terminator");
}

static void test_row8_unknown_key(void **state)
{
    struct rq q;

    (void)state;
    rq_init(&q);
    q.akid = "AKIANOTCONFIGURED";
    cli_headers(&q);
    sign(&q);
    expect(&q, "UnrecognizedClientException",
           "The security token included in the request is invalid.");
}

static void test_row9_mismatch(void **state)
{
    const char *text = "The request signature we calculated does not match";
    struct rq q;
    char authz[1024];

    (void)state;
    rq_init(&q);
    q.secret = "wrong-secret";
    cli_headers(&q);
    sign(&q);
    expect(&q, "InvalidSignatureException", text);
    /* The other key's secret is not ours. */
    rq_init(&q);
    q.secret = "other-secret";
    cli_headers(&q);
    sign(&q);
    expect(&q, "InvalidSignatureException", text);
    /* Body, a signed header, method-visible query changed after signing. */
    rq_init(&q);
    cli_headers(&q);
    sign(&q);
    q.body = "{\"DeliveryStreamName\":\"ds2\",\"Record\":{\"Data\":\"eA==\"}}";
    expect(&q, "InvalidSignatureException", text);
    rq_init(&q);
    cli_headers(&q);
    sign(&q);
    q.h[1].value = "Firehose_20150804.DeleteDeliveryStream";
    expect(&q, "InvalidSignatureException", text);
    rq_init(&q);
    cli_headers(&q);
    sign(&q);
    q.uri = "/?a=1";
    expect(&q, "InvalidSignatureException", text);
    /* Unsigned headers may change. */
    rq_init(&q);
    cli_headers(&q);
    sign(&q);
    q.h[5].value = "curl/8";
    expect(&q, "OK", NULL);
    /* A short, long or uppercase signature. */
    rq_init(&q);
    cli_headers(&q);
    sign(&q);
    snprintf(authz, sizeof(authz), "%.*s", (int)strlen(q.authz) - 1,
             q.authz);
    q.h[q.n - 1].value = authz;
    expect(&q, "InvalidSignatureException", text);
    snprintf(authz, sizeof(authz), "%s0", q.authz);
    expect(&q, "InvalidSignatureException", text);
    snprintf(authz, sizeof(authz), "%s", q.authz);
    for (char *p = strstr(authz, "Signature=") + 10; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 32);
    expect(&q, "InvalidSignatureException", text);
}

static void test_content_sha256(void **state)
{
    struct rq q;
    char hash[65];

    (void)state;
    /* Signed with a hash that is not the body's. */
    rq_init(&q);
    sigv4_sha256_hex("other", 5, hash);
    hdr(&q, "host", "127.0.0.1:4573");
    hdr(&q, "x-amz-content-sha256", hash);
    hdr(&q, "x-amz-date", q.amz_date);
    q.n_signed = q.n;
    q.payload_hash = hash;
    sign(&q);
    expect(&q, "InvalidSignatureException",
           "'x-amz-content-sha256' header does not match");
    /* UNSIGNED-PAYLOAD leaves the body uncovered: refused. */
    rq_init(&q);
    hdr(&q, "host", "127.0.0.1:4573");
    hdr(&q, "x-amz-content-sha256", "UNSIGNED-PAYLOAD");
    hdr(&q, "x-amz-date", q.amz_date);
    q.n_signed = q.n;
    q.payload_hash = "UNSIGNED-PAYLOAD";
    sign(&q);
    expect(&q, "InvalidSignatureException",
           "'x-amz-content-sha256' header does not match");
}

static void test_row10_session_tokens(void **state)
{
    struct auth_result res;
    struct auth *a;
    struct rq q;

    (void)state;
    rq_init(&q);
    cli_headers(&q);
    q.n = q.n_signed;
    hdr(&q, "X-Amz-Security-Token", "FQoGZXIvYXdzEXAMPLETOKEN");
    q.n_signed = q.n;
    sign(&q);
    a = mk_auth(0, NULL);
    assert_string_equal(verify_at(a, &q, T0, &res),
                        "UnrecognizedClientException");
    auth_free(a);
    a = mk_auth(1, NULL);                   /* any token */
    assert_string_equal(verify_at(a, &q, T0, &res), "OK");
    auth_free(a);
    a = mk_auth(1, "FQoGZXIvYXdzEXAMPLETOKEN");
    assert_string_equal(verify_at(a, &q, T0, &res), "OK");
    auth_free(a);
    a = mk_auth(1, "another-token");
    assert_string_equal(verify_at(a, &q, T0, &res),
                        "UnrecognizedClientException");
    auth_free(a);
    /* The key needs a token and none is sent. */
    rq_init(&q);
    cli_headers(&q);
    sign(&q);
    a = mk_auth(1, "FQoGZXIvYXdzEXAMPLETOKEN");
    assert_string_equal(verify_at(a, &q, T0, &res),
                        "UnrecognizedClientException");
    /* A token that is sent but not signed. */
    hdr(&q, "X-Amz-Security-Token", "FQoGZXIvYXdzEXAMPLETOKEN");
    assert_string_equal(verify_at(a, &q, T0, &res),
                        "InvalidSignatureException");
    assert_non_null(strstr(res.message, "'X-Amz-Security-Token' must be"));
    auth_free(a);
}

static void test_date_header(void **state)
{
    struct rq q;

    (void)state;
    rq_init(&q);
    hdr(&q, "Date", "Sun, 30 Aug 2015 12:36:00 GMT");
    hdr(&q, "Host", "127.0.0.1:4573");
    q.n_signed = q.n;
    sign(&q);
    expect(&q, "OK", NULL);
    q.h[0].value = "Sun, 30 Aug 2015 12:36:00 UTC";
    expect(&q, "IncompleteSignatureException", "RFC 1123");
    q.h[0].value = "Sun, 31 Feb 2015 12:36:00 GMT";
    expect(&q, "IncompleteSignatureException", "RFC 1123");
    q.h[0].value = "Sun, 30 Aug 2015 12:36:01 GMT";   /* signed value */
    expect(&q, "InvalidSignatureException", "does not match");
}

static void test_signed_header_list(void **state)
{
    struct rq q;
    char authz[1024], *p;

    (void)state;
    /* Duplicate headers are joined, in order, and verify. */
    rq_init(&q);
    cli_headers(&q);
    q.n = q.n_signed;
    hdr(&q, "X-Dup", "one");
    hdr(&q, "x-dup", "  two  ");
    q.n_signed = q.n;
    sign(&q);
    expect(&q, "OK", NULL);
    /* A name listed twice, one not sent, an uppercase one, an empty one. */
    rq_init(&q);
    cli_headers(&q);
    sign(&q);
    snprintf(authz, sizeof(authz), "%s", q.authz);
    p = strstr(authz, "SignedHeaders=") + 14;
    memcpy(p, "host;host;x-amz-date;xxxxxxxxxx", 31);
    q.h[q.n - 1].value = authz;
    expect(&q, "InvalidSignatureException", "lists 'host' twice");
    memcpy(p, "host;x-absent;x-amz-date;xxxxxx", 31);
    expect(&q, "InvalidSignatureException", "'x-absent', which the request");
    memcpy(p, "Host;x-amz-date;xxxxxxxxxxxxxxx", 31);
    expect(&q, "InvalidSignatureException", "lowercase header names");
    memcpy(p, "host;;x-amz-date;xxxxxxxxxxxxxx", 31);
    expect(&q, "InvalidSignatureException", "1 to 64 header names");
}

static void test_query_and_limits(void **state)
{
    static char names[AUTH_MAX_HEADERS + 1][24];
    char uri[AUTH_MAX_URI + 8];
    struct rq q;

    (void)state;
    rq_init(&q);
    q.uri = "/?b=2&a=1+x&c=%2F";
    cli_headers(&q);
    sign(&q);
    expect(&q, "OK", NULL);
    /* Too many headers. */
    rq_init(&q);
    cli_headers(&q);
    sign(&q);
    for (int i = 0; q.n <= AUTH_MAX_HEADERS; i++) {
        snprintf(names[i], sizeof(names[i]), "x-pad-%d", i);
        hdr(&q, names[i], "1");
    }
    expect(&q, "InvalidSignatureException", "more than 64 headers");
    /* Too long a target. */
    rq_init(&q);
    memset(uri, 'a', sizeof(uri));
    uri[0] = '/';
    uri[AUTH_MAX_URI + 1] = '\0';
    q.uri = uri;
    cli_headers(&q);
    hdr(&q, "Authorization", "AWS4-HMAC-SHA256 Credential=x");
    expect(&q, "InvalidSignatureException", "longer than 2048");
}

static void test_null_auth_accepts(void **state)
{
    struct auth_result res;
    struct rq q;

    (void)state;
    rq_init(&q);
    assert_string_equal(verify_at(NULL, &q, T0, &res), "OK");
}

static int start(const char *listen, int allow, struct auth **a,
                 struct err *e)
{
    struct sockaddr_storage ss;
    struct cfg_service svc;

    memset(&ss, 0, sizeof(ss));
    memset(&svc, 0, sizeof(svc));
    svc.listen = (char *)listen;
    svc.allow_unauthenticated = allow;
    if (strchr(listen, ':') != NULL) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

        in6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, listen, &in6->sin6_addr), 1);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;

        in->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, listen, &in->sin_addr), 1);
    }
    return auth_new(&svc, (struct sockaddr *)&ss, a, e);
}

static void test_loopback_rule(void **state)
{
    static const char *const ok[] = { "127.0.0.1", "127.1.2.3", "::1",
                                      "::ffff:127.0.0.1" };
    static const char *const bad[] = { "0.0.0.0", "10.0.0.1", "::",
                                       "::ffff:10.0.0.1", "fe80::1" };
    struct auth *a = (struct auth *)1;
    struct err e;

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(start(ok[i], 0, &a, &e), 0);
        assert_null(a);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(start(bad[i], 0, &a, &e), -1);
        assert_non_null(strstr(e.msg, "AllowUnauthenticated"));
        assert_int_equal(start(bad[i], 1, &a, &e), 0);
        assert_null(a);
    }
}

static int write_file(char *path, const char *text)
{
    int fd;

    strcpy(path, "/tmp/fh-auth-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return 0;
}

static int from_file(const char *text, struct auth **a, struct err *e)
{
    struct cfg_service svc;
    char path[64];
    int rc;

    memset(&svc, 0, sizeof(svc));
    svc.listen = (char *)"0.0.0.0:1";
    svc.max_clock_skew_s = 900;
    write_file(path, text);
    svc.credentials_file = path;
    rc = auth_new(&svc, NULL, a, e);
    unlink(path);
    return rc;
}

static void test_credentials_file(void **state)
{
    static const struct {
        const char *text, *why;
    } bad[] = {
        { "", "holds no [section]" },
        { "# only a comment\n", "holds no [section]" },
        { "[p]\naws_access_key_id = A\n", "needs aws_access_key_id and" },
        { "aws_access_key_id = A\n", "line 1: expected 'key = value' inside" },
        { "[p]\njunk\n", "line 2: expected 'key = value'" },
        { "[p\n", "line 1: expected [section-name]" },
        { "[p]\naws_access_key_id=A\naws_access_key_id=B\n",
          "line 3: aws_access_key_id is given twice" },
        { "[p]\naws_access_key_id=A/B\naws_secret_access_key=s\n",
          "must be 1-128 of A-Z" },
        { "[p]\naws_access_key_id=A\naws_secret_access_key=s\n"
          "[q]\naws_access_key_id=A\naws_secret_access_key=t\n",
          "'A' is given twice" },
    };
    struct auth *a = NULL;
    struct auth_result res;
    struct err e;
    struct rq q;

    (void)state;
    assert_int_equal(from_file(
        "# producers\n[default]\naws_access_key_id = AKIAOTHER\n"
        "aws_secret_access_key = x\n\n; second\n[app]\r\n"
        "aws_access_key_id=" AKID "\r\naws_secret_access_key = " SECRET
        "  \r\nregion = eu-west-1\n", &a, &e), 0);
    assert_non_null(a);
    rq_init(&q);
    cli_headers(&q);
    sign(&q);
    assert_string_equal(verify_at(a, &q, T0, &res), "OK");
    auth_free(a);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(from_file(bad[i].text, &a, &e), -1);
        if (strstr(e.msg, bad[i].why) == NULL)
            fail_msg("case %zu: '%s' lacks '%s'", i, e.msg, bad[i].why);
    }
}

static void test_missing_credentials_file(void **state)
{
    struct cfg_service svc;
    struct auth *a;
    struct err e;

    (void)state;
    memset(&svc, 0, sizeof(svc));
    svc.credentials_file = (char *)"/nonexistent/creds";
    assert_int_equal(auth_new(&svc, NULL, &a, &e), -1);
    assert_non_null(strstr(e.msg, "CredentialsFile '/nonexistent/creds'"));
}

static void test_tls_files(void **state)
{
    struct cfg_service svc;
    char cert_path[64], key_path[64], *cert, *key;
    struct err e;

    (void)state;
    memset(&svc, 0, sizeof(svc));
    assert_int_equal(auth_tls_load(&svc, &cert, &key, &e), 0);
    assert_null(cert);
    write_file(cert_path, "-----BEGIN CERTIFICATE-----\nMII\n"
               "-----END CERTIFICATE-----\n");
    write_file(key_path, "-----BEGIN PRIVATE KEY-----\nMII\n"
               "-----END PRIVATE KEY-----\n");
    svc.tls.cert_file = cert_path;
    svc.tls.key_file = key_path;
    assert_int_equal(auth_tls_load(&svc, &cert, &key, &e), 0);
    assert_non_null(strstr(key, "PRIVATE KEY"));
    auth_tls_release(cert, key);
    svc.tls.key_file = cert_path;           /* not a key */
    assert_int_equal(auth_tls_load(&svc, &cert, &key, &e), -1);
    assert_non_null(strstr(e.msg, "PEM private key"));
    svc.tls.key_file = (char *)"/nonexistent.pem";
    assert_int_equal(auth_tls_load(&svc, &cert, &key, &e), -1);
    assert_non_null(strstr(e.msg, "Tls.KeyFile '/nonexistent.pem'"));
    svc.tls.key_file = (char *)"/tmp";
    assert_int_equal(auth_tls_load(&svc, &cert, &key, &e), -1);
    assert_non_null(strstr(e.msg, "not a regular file"));
    unlink(cert_path);
    unlink(key_path);
}

#define STREAMS "\"DeliveryStreams\": [{\"DeliveryStreamName\": \"a\", " \
    "\"LocalDirectoryDestinationConfiguration\": {\"Path\": \"/tmp/x\"}}]}"

/* The Service keys of this module, through the config loader. */
static void test_config(void **state)
{
    static const struct {
        const char *service, *why;
    } bad[] = {
        { "\"Credentials\": []", "Service.Credentials: has 0 entries" },
        { "\"Credentials\": [{\"AccessKeyId\": \"A\"}]",
          "Service.Credentials[0].SecretAccessKey: missing required key" },
        { "\"Credentials\": [{\"AccessKeyId\": \"A/B\", "
          "\"SecretAccessKey\": \"s\"}]",
          "Credentials[0].AccessKeyId: \"A/B\" may only contain" },
        { "\"Credentials\": [{\"AccessKeyId\": \"A\", "
          "\"SecretAccessKey\": \"s\", \"Token\": \"t\"}]",
          "Credentials[0].Token: unknown key" },
        { "\"Credentials\": [{\"AccessKeyId\": \"A\", "
          "\"SecretAccessKey\": \"s\"}, {\"AccessKeyId\": \"A\", "
          "\"SecretAccessKey\": \"t\"}]", "AccessKeyId \"A\" is given twice" },
        { "\"Credentials\": [{\"AccessKeyId\": \"A\", "
          "\"SecretAccessKey\": \"s\"}], \"CredentialsFile\": \"/f\"",
          "give Credentials or CredentialsFile, not both" },
        { "\"CredentialsFile\": \"/f\", \"AllowUnauthenticated\": true",
          "AllowUnauthenticated can't be true" },
        { "\"AllowSessionTokens\": \"yes\"",
          "AllowSessionTokens: expected true or false" },
        { "\"MaxClockSkewSeconds\": 0", "0 is below the minimum 1" },
        { "\"MaxConnections\": 70000", "70000 is above the maximum 65536" },
        { "\"RequestTimeoutSeconds\": 0", "0 is below the minimum 1" },
        { "\"Tls\": {\"CertificateFile\": \"/c\"}",
          "Service.Tls.KeyFile: missing required key" },
        { "\"Tls\": \"on\"", "Service.Tls: expected an object" },
    };
    char json[1024], *errors = NULL;
    struct cfg *c = NULL;

    (void)state;
    snprintf(json, sizeof(json), "{\"Service\": {\"Credentials\": "
             "[{\"AccessKeyId\": \"AKIA1\", \"SecretAccessKey\": \"s1\"}, "
             "{\"AccessKeyId\": \"ASIA2\", \"SecretAccessKey\": \"s2\", "
             "\"SessionToken\": \"tok\"}], \"AllowSessionTokens\": true, "
             "\"Tls\": {\"CertificateFile\": \"/c\", \"KeyFile\": \"/k\"}, "
             "\"MaxClockSkewSeconds\": 300}, " STREAMS);
    assert_int_equal(cfg_load_string("t.json", json, &c, &errors), 0);
    assert_int_equal(c->service.n_credentials, 2);
    assert_string_equal(c->service.credentials[1].session_token, "tok");
    assert_null(c->service.credentials[0].session_token);
    assert_string_equal(c->service.tls.key_file, "/k");
    assert_int_equal(c->service.max_clock_skew_s, 300);
    assert_int_equal(c->service.max_connections, 1024);
    assert_int_equal(c->service.request_timeout_s, 30);
    assert_true(c->service.allow_session_tokens);
    assert_false(c->service.allow_unauthenticated);
    cfg_free(c);
    /* Defaults. */
    snprintf(json, sizeof(json), "{" STREAMS);
    assert_int_equal(cfg_load_string("t.json", json, &c, &errors), 0);
    assert_int_equal(c->service.n_credentials, 0);
    assert_null(c->service.credentials_file);
    assert_null(c->service.tls.cert_file);
    assert_int_equal(c->service.max_clock_skew_s, 900);
    cfg_free(c);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(json, sizeof(json), "{\"Service\": {%s}, " STREAMS,
                 bad[i].service);
        assert_int_equal(cfg_load_string("t.json", json, &c, &errors), -1);
        if (strstr(errors, bad[i].why) == NULL)
            fail_msg("case %zu: '%s' lacks '%s'", i, errors, bad[i].why);
        free(errors);
        errors = NULL;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_style_ok),
        cmocka_unit_test(test_js_style_ok),
        cmocka_unit_test(test_botocore_vector),
        cmocka_unit_test(test_row1_both_mechanisms),
        cmocka_unit_test(test_row2_missing),
        cmocka_unit_test(test_row3_incomplete),
        cmocka_unit_test(test_row4_malformed),
        cmocka_unit_test(test_row5_skew),
        cmocka_unit_test(test_row6_host_unsigned),
        cmocka_unit_test(test_row7_scope),
        cmocka_unit_test(test_row8_unknown_key),
        cmocka_unit_test(test_row9_mismatch),
        cmocka_unit_test(test_content_sha256),
        cmocka_unit_test(test_row10_session_tokens),
        cmocka_unit_test(test_date_header),
        cmocka_unit_test(test_signed_header_list),
        cmocka_unit_test(test_query_and_limits),
        cmocka_unit_test(test_null_auth_accepts),
        cmocka_unit_test(test_loopback_rule),
        cmocka_unit_test(test_credentials_file),
        cmocka_unit_test(test_missing_credentials_file),
        cmocka_unit_test(test_tls_files),
        cmocka_unit_test(test_config),
    };

    log_init(0, LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
