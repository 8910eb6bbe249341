/* test_sigv4.c - the official SigV4 suite (shared/testdata/sigv4, walked at
 * run time), the vectors of spec/sigv4.md §8 and our own edge cases. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "../../delivery/sigv4.h"

#define SUITE_DEFAULT "../shared/testdata/sigv4"
#define SUITE_CASES 34
#define MAX_HDRS 32

static const char SUITE_AKID[] = "AKIDEXAMPLE";
static const char SUITE_SECRET[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
static const char SUITE_DATE[] = "20150830T123600Z";
/* get-vanilla-with-session-token's .req lacks the header its .creq signs;
 * the suite's README gives the value the signer is expected to add. */
static const char SUITE_TOKEN[] =
    "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";

static const char EMPTY_SHA[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/* ---- helpers ---------------------------------------------------------- */

/* Whole file, NUL-terminated, caller frees; NULL when missing. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)n + 1)) != NULL) {
        if (fread(p, 1, (size_t)n, f) != (size_t)n) {
            free(p);
            p = NULL;
        } else {
            p[n] = '\0';
            if (len)
                *len = (size_t)n;
        }
    }
    fclose(f);
    return p;
}

static const char *buf_str(struct buf *b)
{
    struct err e = { 0 };

    assert_int_equal(buf_append(b, "", 1, &e), 0);
    b->len--;
    return (const char *)b->p;
}

static struct sigv4_key suite_key(void)
{
    struct sigv4_key k = { SUITE_AKID, SUITE_SECRET, "us-east-1", "service",
                           SUITE_DATE };
    return k;
}

/* ---- the official suite --------------------------------------------- */

struct parsed {
    char *text;                 /* the .req, cut up in place */
    const char *method;
    char *path;
    const char *query;
    struct sigv4_header h[MAX_HDRS];
    size_t nh;
    char *folded[MAX_HDRS];     /* unfolded values we allocated */
    size_t nfolded;
    const char *body;
    size_t body_len;
};

static void parsed_free(struct parsed *pr)
{
    for (size_t i = 0; i < pr->nfolded; i++)
        free(pr->folded[i]);
    free(pr->text);
}

/* Continuation lines are appended to the previous value with their line
 * break, so the signer itself has to unfold them. */
static int add_fold(struct parsed *pr, const char *line)
{
    const char *prev;
    char *v;
    size_t a, b;

    if (pr->nh == 0 || pr->nfolded == MAX_HDRS)
        return -1;
    prev = pr->h[pr->nh - 1].value;
    a = strlen(prev);
    b = strlen(line);
    if ((v = malloc(a + b + 2)) == NULL)
        return -1;
    memcpy(v, prev, a);
    v[a] = '\n';
    memcpy(v + a + 1, line, b + 1);
    pr->folded[pr->nfolded++] = v;
    pr->h[pr->nh - 1].value = v;
    return 0;
}

/* Request line "METHOD path[?query] HTTP/1.1" (the path may hold raw
 * spaces), "Name:value" lines, folds, then a blank line and the body. */
static int parse_req(char *text, size_t len, struct parsed *pr)
{
    char *p = text, *end = text + len, *nl, *sp, *ver, *q;

    memset(pr, 0, sizeof(*pr));
    pr->text = text;
    pr->body = "";
    nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL || (sp = memchr(p, ' ', (size_t)(nl - p))) == NULL)
        return -1;
    *nl = '\0';
    *sp = '\0';
    pr->method = p;
    ver = strstr(sp + 1, " HTTP/");
    if (ver == NULL)
        return -1;
    *ver = '\0';
    pr->path = sp + 1;
    if ((q = strchr(pr->path, '?')) != NULL) {
        *q = '\0';
        pr->query = q + 1;
    }
    for (p = nl + 1; p < end; p = nl + 1) {
        char *colon;

        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            nl = end;
        *nl = '\0';
        if (*p == '\0') {
            if (nl < end) {
                pr->body = nl + 1;
                pr->body_len = (size_t)(end - nl - 1);
            }
            break;
        }
        if (*p == ' ' || *p == '\t') {
            if (add_fold(pr, p) != 0)
                return -1;
            continue;
        }
        if ((colon = strchr(p, ':')) == NULL || pr->nh == MAX_HDRS)
            return -1;
        *colon = '\0';
        pr->h[pr->nh].name = p;
        pr->h[pr->nh].value = colon + 1;
        pr->nh++;
        if (nl == end)
            break;
    }
    return 0;
}

/* Is lowercase 'name' in the ';'-separated list? */
static int in_list(const char *list, size_t list_len, const char *name)
{
    size_t n = strlen(name);
    const char *p = list, *end = list + list_len;

    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *pe = semi ? semi : end;

        if ((size_t)(pe - p) == n && strncasecmp(p, name, n) == 0)
            return 1;
        p = pe + 1;
    }
    return 0;
}

/* Keep only the headers the case's .authz signs (post-sts-header-after adds
 * its token after signing); add the token where the .authz signs one the
 * .req lacks (get-vanilla-with-session-token). */
static int select_signed(struct parsed *pr, const char *authz)
{
    const char *sh = strstr(authz, "SignedHeaders="), *end;
    size_t n = 0, len;

    if (sh == NULL)
        return -1;
    sh += strlen("SignedHeaders=");
    end = strchr(sh, ',');
    len = end ? (size_t)(end - sh) : strlen(sh);
    for (size_t i = 0; i < pr->nh; i++)
        if (in_list(sh, len, pr->h[i].name))
            pr->h[n++] = pr->h[i];
    pr->nh = n;
    if (in_list(sh, len, "x-amz-security-token")) {
        for (size_t i = 0; i < pr->nh; i++)
            if (strcasecmp(pr->h[i].name, "x-amz-security-token") == 0)
                return 0;
        if (pr->nh == MAX_HDRS)
            return -1;
        pr->h[pr->nh].name = "X-Amz-Security-Token";
        pr->h[pr->nh].value = SUITE_TOKEN;
        pr->nh++;
    }
    return 0;
}

static int expect_eq(const char *name, const char *what, const char *want,
                     const char *got)
{
    if (strcmp(want, got) == 0)
        return 0;
    print_error("%s: %s differs\n--- want ---\n%s\n--- got ---\n%s\n", name,
                what, want, got);
    return 1;
}

/* "dir/name.ext" into out; "" when it does not fit. */
static const char *case_file(char *out, size_t size, const char *dir,
                             const char *name, const char *ext)
{
    int n = snprintf(out, size, "%s/%s%s", dir, name, ext);

    if (n < 0 || (size_t)n >= size)
        out[0] = '\0';
    return out;
}

/* One case folder: 0 passed, 1 failed. */
static int run_case(const char *dir, const char *name)
{
    char path[4096];
    char *req, *creq, *sts, *authz;
    char got_authz[1024];
    size_t req_len = 0;
    struct parsed pr;
    struct sigv4_request r;
    struct sigv4_key k = suite_key();
    struct buf b1 = { 0 }, b2 = { 0 };
    struct err e = { 0 };
    int bad = 1;

    req = slurp(case_file(path, sizeof(path), dir, name, ".req"), &req_len);
    creq = slurp(case_file(path, sizeof(path), dir, name, ".creq"), NULL);
    sts = slurp(case_file(path, sizeof(path), dir, name, ".sts"), NULL);
    authz = slurp(case_file(path, sizeof(path), dir, name, ".authz"), NULL);
    if (req == NULL || creq == NULL || sts == NULL || authz == NULL) {
        print_error("%s: missing case files in %s\n", name, dir);
        free(req);
        goto out;
    }
    if (parse_req(req, req_len, &pr) != 0 || select_signed(&pr, authz) != 0) {
        print_error("%s: cannot parse the .req/.authz\n", name);
        parsed_free(&pr);
        goto out;
    }
    memset(&r, 0, sizeof(r));
    r.method = pr.method;
    r.path = pr.path;
    r.query = pr.query;
    r.headers = pr.h;
    r.n_headers = pr.nh;
    r.body = pr.body;
    r.body_len = pr.body_len;

    if (sigv4_canonical_request(&r, &b1, &e) != 0 ||
        sigv4_string_to_sign(&r, &k, &b2, &e) != 0 ||
        sigv4_authorization(&r, &k, got_authz, sizeof(got_authz), &e) != 0) {
        print_error("%s: signing failed: %s\n", name, e.msg);
    } else {
        bad = expect_eq(name, "canonical request", creq, buf_str(&b1)) |
              expect_eq(name, "string to sign", sts, buf_str(&b2)) |
              expect_eq(name, "authorization", authz, got_authz);
    }
    parsed_free(&pr);
out:
    buf_release(&b1);
    buf_release(&b2);
    free(creq);
    free(sts);
    free(authz);
    return bad;
}

/* Every folder holding "<folder>.req" is a case; others are descended. */
static void walk(const char *dir, int depth, int *ran, int *failed)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        char sub[4096], req[4096];
        struct stat st;

        if (de->d_name[0] == '.')
            continue;
        if (stat(case_file(sub, sizeof(sub), dir, de->d_name, ""), &st) != 0
            || !S_ISDIR(st.st_mode))
            continue;
        if (stat(case_file(req, sizeof(req), sub, de->d_name, ".req"),
                 &st) == 0) {
            (*ran)++;
            *failed += run_case(sub, de->d_name);
        } else if (depth < 3) {
            walk(sub, depth + 1, ran, failed);
        }
    }
    closedir(d);
}

static void test_official_suite(void **state)
{
    const char *dir = getenv("FH_SIGV4_SUITE");
    struct stat st;
    int ran = 0, failed = 0;

    (void)state;
    if (dir == NULL || dir[0] == '\0')
        dir = SUITE_DEFAULT;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        print_message("sigv4 suite folder '%s' not found (run from the repo "
                      "root or set FH_SIGV4_SUITE): skipping\n", dir);
        skip();
    }
    walk(dir, 0, &ran, &failed);
    print_message("sigv4 suite: %d cases, %d failed\n", ran, failed);
    assert_int_equal(failed, 0);
    assert_int_equal(ran, SUITE_CASES);
}

/* ---- spec §8 vectors -------------------------------------------------- */

static void test_signing_keys(void **state)
{
    unsigned char key[32];
    char hex[65];
    struct err e = { 0 };

    (void)state;
    assert_int_equal(sigv4_signing_key(SUITE_SECRET, SUITE_DATE, "us-east-1",
                                       "service", key, &e), 0);
    util_hex(key, 32, hex);
    assert_string_equal(hex, "938127b5336810ddb6a5d6af445fcac9"
                             "e371f9ed418ed386b022aed82901be75");
    assert_int_equal(sigv4_signing_key(SUITE_SECRET, "20150830", "us-east-1",
                                       "iam", key, &e), 0);
    util_hex(key, 32, hex);
    assert_string_equal(hex, "c4afb1cc5771d871763a393e44b703571"
                             "b55cc28424d1a5e86da6ed3c154a4b9");
    assert_int_equal(sigv4_signing_key(SUITE_SECRET, SUITE_DATE, "us-east-1",
                                       "kinesis", key, &e), 0);
    util_hex(key, 32, hex);
    assert_string_equal(hex, "1a8ef0fa45f4fb9b8ca6c755f0b81c00"
                             "b521d0e7b9564a363d2511b8f4d4bc54");
}

static void test_get_vanilla(void **state)
{
    const struct sigv4_header h[] = {
        { "Host", "example.amazonaws.com" },
        { "X-Amz-Date", SUITE_DATE },
    };
    struct sigv4_request r = { .method = "GET", .path = "", .headers = h,
                               .n_headers = 2 };
    struct sigv4_key k = suite_key();
    struct err e = { 0 };
    char sig[65];

    (void)state;
    assert_int_equal(sigv4_signature(&r, &k, sig, &e), 0);
    assert_string_equal(sig, "5fa00fa31553b73ebf1942676e86291e"
                             "8372ff2a2260956d9b8aae1d763fbf31");
}

#define S3_AKID "AKIAIOSFODNN7EXAMPLE"
#define S3_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3_DATE "20130524T000000Z"

static void s3_get(const char *payload, const char *want_creq_hash,
                   const char *want_sig)
{
    const struct sigv4_header h[] = {
        { "Host", "examplebucket.s3.amazonaws.com" },
        { "Range", "bytes=0-9" },
        { "x-amz-content-sha256", payload },
        { "x-amz-date", S3_DATE },
    };
    struct sigv4_request r = { .method = "GET", .path = "/test.txt",
                               .headers = h, .n_headers = 4,
                               .payload_hash = payload, .s3 = 1 };
    struct sigv4_key k = { S3_AKID, S3_SECRET, "us-east-1", "s3", S3_DATE };
    struct buf b = { 0 };
    struct err e = { 0 };
    char sig[65], hash[65], authz[512], want[512];

    assert_int_equal(sigv4_canonical_request(&r, &b, &e), 0);
    if (want_creq_hash) {
        sigv4_sha256_hex(b.p, b.len, hash);
        assert_string_equal(hash, want_creq_hash);
    }
    buf_release(&b);
    assert_int_equal(sigv4_signature(&r, &k, sig, &e), 0);
    assert_string_equal(sig, want_sig);
    assert_int_equal(sigv4_authorization(&r, &k, authz, sizeof(authz), &e),
                     0);
    snprintf(want, sizeof(want), "AWS4-HMAC-SHA256 Credential=" S3_AKID
             "/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;"
             "x-amz-content-sha256;x-amz-date, Signature=%s", want_sig);
    assert_string_equal(authz, want);
}

static void test_s3_get(void **state)
{
    (void)state;
    s3_get(EMPTY_SHA, "7344ae5b7ee6c3e7e6b0fe0640412a37"
                      "625d1fbfff95c48bbb2dc43964946972",
           "f0e8bdb87c964420e857bd35b5d6ed31"
           "0bd44f0170aba48dd91039c6036bdb41");
    s3_get("UNSIGNED-PAYLOAD", NULL,
           "edacce68e5445863e1f916719fac26d3"
           "be9c1581fccd7878ade0879597fc0dc1");
}

static void s3_put(const char *wire_path)
{
    static const char body[] = "Welcome to Amazon S3.";
    static const char hash[] =
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    const struct sigv4_header h[] = {
        { "Date", "Fri, 24 May 2013 00:00:00 GMT" },
        { "Host", "examplebucket.s3.amazonaws.com" },
        { "x-amz-content-sha256", hash },
        { "x-amz-date", S3_DATE },
        { "x-amz-storage-class", "REDUCED_REDUNDANCY" },
    };
    struct sigv4_request r = { .method = "PUT", .path = wire_path,
                               .headers = h, .n_headers = 5, .body = body,
                               .body_len = strlen(body), .s3 = 1 };
    struct sigv4_key k = { S3_AKID, S3_SECRET, "us-east-1", "s3", S3_DATE };
    struct buf b = { 0 };
    struct err e = { 0 };
    char sig[65];

    /* No payload_hash: the body's own hash must come out the same. */
    assert_int_equal(sigv4_canonical_request(&r, &b, &e), 0);
    assert_non_null(strstr(buf_str(&b), "PUT\n/test%24file.text\n\n"));
    assert_non_null(strstr(buf_str(&b), hash));
    buf_release(&b);
    assert_int_equal(sigv4_signature(&r, &k, sig, &e), 0);
    assert_string_equal(sig, "98ad721746da40c64f1a55b78f14c238"
                             "d841ea1380cd77a1b5971af0ece108bd");
    r.payload_hash = hash;
    assert_int_equal(sigv4_signature(&r, &k, sig, &e), 0);
    assert_string_equal(sig, "98ad721746da40c64f1a55b78f14c238"
                             "d841ea1380cd77a1b5971af0ece108bd");
}

static void test_s3_put(void **state)
{
    (void)state;
    s3_put("/test%24file.text");        /* what our S3 client sends */
    s3_put("/test$file.text");          /* raw '$' means the same key */
}

static void test_kinesis_post(void **state)
{
    static const char body[] = "{\"StreamName\":\"s1\"}";
    const struct sigv4_header h[] = {
        { "Content-Type", "application/x-amz-json-1.1" },
        { "Host", "kinesis.us-east-1.amazonaws.com" },
        { "X-Amz-Date", SUITE_DATE },
        { "X-Amz-Target", "Kinesis_20131202.ListShards" },
    };
    struct sigv4_request r = { .method = "POST", .path = "/", .headers = h,
                               .n_headers = 4, .body = body,
                               .body_len = strlen(body) };
    struct sigv4_key k = { SUITE_AKID, SUITE_SECRET, "us-east-1", "kinesis",
                           SUITE_DATE };
    struct buf b = { 0 };
    struct err e = { 0 };
    char hash[65], sig[65];

    (void)state;
    sigv4_sha256_hex(body, strlen(body), hash);
    assert_string_equal(hash, "c2131f50d9b3f7bad37fed9febfb22a4"
                              "82dcb65488c2da9075fecf7356fb07c0");
    assert_int_equal(sigv4_canonical_request(&r, &b, &e), 0);
    sigv4_sha256_hex(b.p, b.len, hash);
    assert_string_equal(hash, "bb692ada56551303aad98ce2ba2aa7bd"
                              "d2446dfedc2fadb7f581010f1dd2bf25");
    buf_release(&b);
    assert_int_equal(sigv4_signature(&r, &k, sig, &e), 0);
    assert_string_equal(sig, "2be4fc8f44eb09cb71197ca65c6acf5d"
                             "0aec3fe788cd9dad58ff49b8d965696e");
}

/* ---- own cases -------------------------------------------------------- */

/* The canonical request of a GET with one Host header. */
static void creq_of(const char *path, const char *query, int s3,
                    const char *host, struct buf *out)
{
    const struct sigv4_header h[] = { { "Host", host } };
    struct sigv4_request r = { .method = "GET", .path = path,
                               .query = query, .headers = h, .n_headers = 1,
                               .s3 = s3 };
    struct err e = { 0 };

    out->len = 0;
    assert_int_equal(sigv4_canonical_request(&r, out, &e), 0);
    buf_str(out);
}

static void expect_creq(const char *path, const char *query, int s3,
                        const char *want_uri, const char *want_query)
{
    struct buf b = { 0 };
    char want[1024];

    creq_of(path, query, s3, "h", &b);
    snprintf(want, sizeof(want), "GET\n%s\n%s\nhost:h\n\nhost\n%s", want_uri,
             want_query, EMPTY_SHA);
    assert_string_equal((const char *)b.p, want);
    buf_release(&b);
}

static void test_paths(void **state)
{
    (void)state;
    /* Wire %20: double encoded for everyone but S3. */
    expect_creq("/foo%20bar", NULL, 0, "/foo%2520bar", "");
    expect_creq("/foo%20bar", NULL, 1, "/foo%20bar", "");
    /* S3 keys are never normalised; lowercase hex becomes uppercase. */
    expect_creq("/a//b/./c/../d", NULL, 1, "/a//b/./c/../d", "");
    expect_creq("/k%e1%88%b4", NULL, 1, "/k%E1%88%B4", "");
    expect_creq("/50%", NULL, 1, "/50%25", "");
    expect_creq("", NULL, 1, "/", "");
    /* Non-S3 normalisation. */
    expect_creq("", NULL, 0, "/", "");
    expect_creq("/a/b/../c/./d/", NULL, 0, "/a/c/d/", "");
    expect_creq("/../..", NULL, 0, "/", "");
    expect_creq("/a/b/..", NULL, 0, "/a", "");
    expect_creq("/idx1,idx2/_search", NULL, 0, "/idx1%2Cidx2/_search", "");
    expect_creq("/idx1%2Cidx2/_search", NULL, 0, "/idx1%252Cidx2/_search", "");
}

static void test_queries(void **state)
{
    (void)state;
    /* '+' is a plus, not a space; '/' and '=' are encoded in values. */
    expect_creq("/", "v=a+b/c", 0, "/", "v=a%2Bb%2Fc");
    expect_creq("/", "v=a%2Bb%2fc=d", 0, "/", "v=a%2Bb%2Fc%3Dd");
    expect_creq("/", "flag&a=1", 0, "/", "a=1&flag=");
    expect_creq("/", "b=2&&a=1&", 0, "/", "a=1&b=2");
    expect_creq("/", "a=2&a=1&A=3", 0, "/", "A=3&a=1&a=2");
    expect_creq("/", "sp=%20x+y", 0, "/", "sp=%20x%2By");
    expect_creq("/", "bad=%zz%4", 0, "/", "bad=%25zz%254");
    expect_creq("/", "", 0, "/", "");
    /* Found by fuzzing: only empty pieces sorted a NULL array. */
    expect_creq("/", "&", 0, "/", "");
    expect_creq("/", "&&&", 0, "/", "");
}

static void test_headers(void **state)
{
    const struct sigv4_header h[] = {
        { "X-B", "  two\r\n   lines\t here  " },
        { "Host", "localhost:4567" },
        { "x-b", "" },
        { "X-A", "\"a   b\"" },
    };
    struct sigv4_request r = { .method = "PUT", .path = "/x", .headers = h,
                               .n_headers = 4, .payload_hash = "UNSIGNED" };
    struct sigv4_key k = suite_key();
    struct buf b = { 0 };
    struct err e = { 0 };
    char authz[512];

    (void)state;
    assert_int_equal(sigv4_canonical_request(&r, &b, &e), 0);
    assert_string_equal(buf_str(&b),
                        "PUT\n/x\n\nhost:localhost:4567\nx-a:\"a b\"\n"
                        "x-b:two lines here,\n\nhost;x-a;x-b\nUNSIGNED");
    buf_release(&b);
    assert_int_equal(sigv4_authorization(&r, &k, authz, sizeof(authz), &e),
                     0);
    assert_non_null(strstr(authz, ", SignedHeaders=host;x-a;x-b, "
                                  "Signature="));
    assert_int_equal(strlen(strstr(authz, "Signature=")), 10 + 64);
}

static void test_errors(void **state)
{
    const struct sigv4_header h[] = { { "Host", "h" } };
    const struct sigv4_header noname[] = { { "", "v" } };
    struct sigv4_request r = { .method = "GET", .path = "/", .headers = h,
                               .n_headers = 1 };
    struct sigv4_key k = suite_key();
    struct err e = { 0 };
    char small[40], sig[65];

    (void)state;
    assert_int_equal(sigv4_authorization(&r, &k, small, sizeof(small), &e),
                     -1);
    assert_int_equal(e.code, ERR_INVAL);
    k.amz_date = "2015-08-30";
    e.code = 0;
    assert_int_equal(sigv4_signature(&r, &k, sig, &e), -1);
    assert_int_equal(e.code, ERR_INVAL);
    k = suite_key();
    r.headers = noname;
    e.code = 0;
    assert_int_equal(sigv4_signature(&r, &k, sig, &e), -1);
    assert_int_equal(e.code, ERR_INVAL);
    r.headers = h;
    r.method = NULL;
    e.code = 0;
    assert_int_equal(sigv4_signature(&r, &k, sig, &e), -1);
    assert_int_equal(e.code, ERR_INVAL);
}

static void test_amz_date(void **state)
{
    char d[17], h[65];

    (void)state;
    sigv4_amz_date(d);
    assert_int_equal(strlen(d), 16);
    assert_int_equal(d[8], 'T');
    assert_int_equal(d[15], 'Z');
    assert_int_equal(strncmp(d, "20", 2), 0);
    sigv4_sha256_hex(NULL, 0, h);
    assert_string_equal(h, EMPTY_SHA);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_official_suite),
        cmocka_unit_test(test_signing_keys),
        cmocka_unit_test(test_get_vanilla),
        cmocka_unit_test(test_s3_get),
        cmocka_unit_test(test_s3_put),
        cmocka_unit_test(test_kinesis_post),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_queries),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_amz_date),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
