/* test_jqx.c - MetadataExtraction: the path-only walk and libjq give the
 * same keys, and both give what the jq 1.6 command-line tool gives, on a
 * fixed and a generated corpus; every failure (not JSON, run-time errors,
 * results that are not an object of strings and numbers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../transforms/jqx.h"

/* "k=v|k2=v2" from a key list, or "ERROR". */
static void render(int rc, const struct buf *b, char *out, size_t n)
{
    size_t o = 0;
    int field = 0;

    if (rc != 0) {
        snprintf(out, n, "ERROR");
        return;
    }
    for (size_t i = 0; i < b->len && o + 2 < n; i++) {
        if (b->p[i] == '\0') {
            field++;
            if (i + 1 < b->len)
                out[o++] = field % 2 ? '=' : '|';
        } else {
            out[o++] = (char)b->p[i];
        }
    }
    out[o] = '\0';
}

/* Run one record both ways; they must agree. Returns the fast result. */
static void eval_both(struct jqx *q, const char *rec, char *out, size_t n)
{
    struct buf b = { 0 };
    struct err e = { 0, "" };
    char msg[256], other[1024];
    int rc;

    jqx_set_force_jq(q, 0);
    rc = jqx_eval(q, (const unsigned char *)rec, strlen(rec), &b, msg,
                  sizeof(msg), &e);
    assert_true(rc >= 0);
    render(rc, &b, out, n);
    b.len = 0;
    jqx_set_force_jq(q, 1);
    rc = jqx_eval(q, (const unsigned char *)rec, strlen(rec), &b, msg,
                  sizeof(msg), &e);
    assert_true(rc >= 0);
    render(rc, &b, other, sizeof(other));
    if (strcmp(out, other) != 0) {
        print_error("record %s: fast %s, jq %s\n", rec, out, other);
        fail();
    }
    jqx_set_force_jq(q, 0);
    buf_release(&b);
}

static void expect(struct jqx *q, const char *rec, const char *want)
{
    char got[1024];

    eval_both(q, rec, got, sizeof(got));
    if (strcmp(got, want) != 0) {
        print_error("record %s: got %s, want %s\n", rec, got, want);
        fail();
    }
}

static void test_path_only_detection(void **state)
{
    static const struct { const char *q; int fast; } cases[] = {
        { "{customer_id: .customer_id}", 1 },
        { " { a : .x.y , \"b c\": .z, d } ", 1 },
        { "{y: (.ts | strftime(\"%Y\"))}", 0 },
        { "{a: .a, a: .b}", 0 },
        { "{a: .a[0]}", 0 },
        { "{a: .a} | .", 0 },
        { ".", 0 },
        { "{a: .\"x\"}", 0 },
    };
    struct err e;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct jqx *q = jqx_new(cases[i].q, &e);
        assert_non_null(q);
        if (jqx_is_path_only(q) != cases[i].fast) {
            print_error("%s\n", cases[i].q);
            fail();
        }
        jqx_free(q);
    }
}

static void test_compile_errors(void **state)
{
    struct err e = { 0, "" };

    (void)state;
    assert_null(jqx_new("{a: .a", &e));
    assert_non_null(strstr(e.msg, "syntax error"));
    assert_null(jqx_new("{a: undefined_fn}", &e));
    assert_non_null(strstr(e.msg, "undefined_fn/0 is not defined"));
    /* No modules: they would read files (and libjq 1.6 asserts on them
     * without a library path). */
    assert_null(jqx_new("import \"x\" as $x; {a: 1}", &e));
    assert_string_equal(e.msg, "jq modules (import, include, module) are "
                        "not available");
    assert_null(jqx_new(" # comment\n include \"x\"; {a: 1}", &e));
    assert_null(jqx_new("{a: 1} | import \"x\" as $x; .", &e));
    assert_non_null(strstr(e.msg, "syntax error"));
}

static void test_values_and_failures(void **state)
{
    struct err e;
    struct jqx *q = jqx_new("{customer_id: .customer_id, b: .x.y}", &e);

    (void)state;
    assert_non_null(q);
    expect(q, "{\"customer_id\":\"c1\",\"x\":{\"y\":7}}", "b=7|customer_id=c1");
    expect(q, "{\"customer_id\":\"c1\"}", "customer_id=c1");
    expect(q, "{\"customer_id\":null,\"x\":null}", "");
    expect(q, "null", "");
    expect(q, "{\"customer_id\":1.50}", "customer_id=1.5");
    expect(q, "{\"customer_id\":1e3}", "customer_id=1000");
    expect(q, "{\"customer_id\":-0}", "customer_id=-0");
    expect(q, "{\"customer_id\":123456789012345678901}",
           "customer_id=123456789012345680000");
    expect(q, "{\"customer_id\":\"a\\nb\\u00e9\"}", "customer_id=a\nb\xc3\xa9");
    expect(q, "{\"customer_id\":\"\xc3\xa9t\xc3\xa9\"}",
           "customer_id=\xc3\xa9t\xc3\xa9");
    expect(q, "{\"customer_id\":\"a\",\"customer_id\":\"b\"}", "customer_id=b");
    /* Failures: not JSON, several values, an index into a string (a
     * run-time error), non-scalar values, a result that is no object. */
    expect(q, "not json", "ERROR");
    expect(q, "{\"customer_id\":\"c1\"", "ERROR");
    expect(q, "{} {}", "ERROR");
    expect(q, "", "ERROR");
    expect(q, "{\"x\":\"str\"}", "ERROR");
    expect(q, "{\"x\":[1]}", "ERROR");
    expect(q, "[1,2]", "ERROR");
    expect(q, "\"s\"", "ERROR");
    expect(q, "{\"customer_id\":true}", "ERROR");
    expect(q, "{\"customer_id\":{\"a\":1}}", "ERROR");
    expect(q, "{\"customer_id\":\"nul\\u0000\"}", "ERROR");
    /* Malformed input libjq 1.6 would leak on never reaches it. */
    expect(q, "{\"a\" \"b\"}", "ERROR");
    expect(q, "{\"a\":1\"y\"}", "ERROR");
    /* Found by fuzz_jqx: a '{' after a member, an object never closed. */
    expect(q, "{\"customer_id\":\"c\",\"x\":1{\"a\":2}}", "ERROR");
    expect(q, "{\"customer_id\":7", "ERROR");
    expect(q, "{\"customer_id\":7,", "ERROR");
    expect(q, "{\"customer_id\":7,}", "ERROR");
    /* jq 1.6 refuses a high surrogate without its low one. */
    expect(q, "{\"\":\"\\udA0e1\",\"customer_id\":\"c\"}", "ERROR");
    expect(q, "{\"\":\"\\ud83d\\ude00\",\"customer_id\":\"c\"}",
           "customer_id=c");
    jqx_free(q);
    q = jqx_new(".a", &e);
    assert_non_null(q);
    expect(q, "{\"a\":\"x\"}", "ERROR");
    jqx_free(q);
    q = jqx_new("{a: .a} , {a: .b}", &e);
    expect(q, "{\"a\":\"x\",\"b\":\"y\"}", "ERROR");
    jqx_free(q);
    q = jqx_new("empty", &e);
    expect(q, "{}", "ERROR");
    jqx_free(q);
    q = jqx_new("{(.k): .v}", &e);
    expect(q, "{\"k\":\"\",\"v\":\"1\"}", "ERROR");       /* empty name */
    jqx_free(q);
}

/* The environment (credentials) is not the query's to read. */
static void test_no_environment(void **state)
{
    struct err e;
    struct jqx *q = jqx_new("{a: (env | length), b: ($ENV | length), "
                            "c: (\"\\(env.HOME)\"), d: .d}", &e);
    char got[256];

    (void)state;
    assert_non_null(q);
    eval_both(q, "{\"d\":\"x\"}", got, sizeof(got));
    assert_string_equal(got, "a=0|b=0|c=null|d=x");
    jqx_free(q);
    /* A query's own definitions still work, also one named env. */
    q = jqx_new("def env: {HOME: \"mine\"}; def f: .d; {h: env.HOME, d: f}",
                &e);
    assert_non_null(q);
    eval_both(q, "{\"d\":\"x\"}", got, sizeof(got));
    assert_string_equal(got, "d=x|h=mine");
    jqx_free(q);
}

static void test_fast_path_taken(void **state)
{
    struct err e;
    struct buf b = { 0 };
    char msg[128];
    unsigned long fast, slow;
    struct jqx *q = jqx_new("{customer_id: .customer_id}", &e);
    const char *rec = "{\"customer_id\":\"c1\",\"ts\":1700000000,"
                      "\"payload\":{\"a\":[1,2,{\"b\":null}]}}";

    (void)state;
    for (int i = 0; i < 10; i++) {
        b.len = 0;
        assert_int_equal(jqx_eval(q, (const unsigned char *)rec, strlen(rec),
                                  &b, msg, sizeof(msg), &e), 0);
    }
    jqx_counts(q, &fast, &slow);
    assert_int_equal(fast, 10);
    assert_int_equal(slow, 0);
    /* Unsure cases go to jq. */
    b.len = 0;
    assert_int_equal(jqx_eval(q, (const unsigned char *)"{\"customer_id\":1.5}",
                              19, &b, msg, sizeof(msg), &e), 0);
    jqx_counts(q, &fast, &slow);
    assert_int_equal(slow, 1);
    buf_release(&b);
    jqx_free(q);
}

static void test_key_lists(void **state)
{
    static const char k[] = "l\0lv\0\0c\0cv\0l\0q\0";

    (void)state;
    assert_string_equal(jqx_key(k, sizeof(k) - 1, 1, "l"), "lv");
    assert_string_equal(jqx_key(k, sizeof(k) - 1, 0, "c"), "cv");
    assert_string_equal(jqx_key(k, sizeof(k) - 1, 0, "l"), "q");
    assert_null(jqx_key(k, sizeof(k) - 1, 1, "c"));
    assert_null(jqx_key(k, sizeof(k) - 1, 0, "x"));
    assert_null(jqx_key("\0a\0", 3, 0, "a"));       /* truncated */
}

/* ---- differential: against the jq 1.6 command-line tool ---- */

static const char *const queries[] = {
    "{customer_id: .customer_id}",
    "{a: .a, b: .x.y, \"c d\": .n}",
    "{customer_id: .customer_id, year: (.ts | strftime(\"%Y\"))}",
    "{k: .x.y.z}",
    "{id}",
    "{a: (.a | tostring), n: (.n // 0)}",
};

static const char *const fixed[] = {
    "{\"customer_id\":\"c1\",\"ts\":1700000000}",
    "{\"customer_id\":42,\"ts\":0}",
    "{\"a\":\"x\",\"x\":{\"y\":\"deep\"},\"n\":3,\"id\":\"i\"}",
    "{\"a\":1.25,\"x\":{\"y\":null},\"n\":-7,\"ts\":86400}",
    "{\"a\":1e300,\"n\":0.1,\"ts\":1.5e9}",
    "{\"a\":\"\\u00e9\\ud83d\\ude00\",\"customer_id\":\"tab\\there\"}",
    "{\"x\":{\"y\":{\"z\":\"zz\"}},\"id\":12345678901234567890}",
    "{\"x\":\"not an object\",\"ts\":5}",
    "{\"x\":[1,2,3],\"customer_id\":\"c\"}",
    "{\"customer_id\":true}",
    "{\"customer_id\":[\"c\"]}",
    "[1,2,3]",
    "\"just a string\"",
    "null",
    "{}",
    "{\"a\":\"dup\",\"a\":\"dup2\",\"n\":1,\"n\":2}",
    "{\"customer_id\":\"caf\xc3\xa9\",\"ts\":1234567890}",
    "{\"ts\":\"not a number\",\"customer_id\":\"c\"}",
    "  {\"customer_id\" : \"spaced\" , \"ts\" : 1 }  ",
};

/* The templates below hold at most one %u. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void fill(char *v, size_t n, const char *tmpl, unsigned x)
{
    snprintf(v, n, tmpl, x);
}
#pragma GCC diagnostic pop

/* A random record: fields of random types, sometimes missing. */
static void gen_record(unsigned *seed, char *out, size_t n)
{
    static const char *const vals[] = {
        "\"s\"", "\"value-%u\"", "%u", "-%u", "%u.5", "null", "true",
        "[%u]", "{\"y\":\"%u\"}", "{\"y\":{\"z\":%u}}", "\"\\u00e9%u\"",
        "%ue2", "0", "\"\"",
    };
    static const char *const names[] = {
        "customer_id", "a", "x", "n", "id", "ts", "other",
    };
    size_t o = 0;
    int first = 1;

    o += (size_t)snprintf(out + o, n - o, "{");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char v[64];
        unsigned r = (unsigned)rand_r(seed);

        if (r % 4 == 0)
            continue;
        if (strcmp(names[i], "ts") == 0)
            snprintf(v, sizeof(v), "%u", r % 2000000000u);
        else
            fill(v, sizeof(v), vals[(r >> 3) %
                                    (sizeof(vals) / sizeof(vals[0]))],
                 r % 100000u);
        o += (size_t)snprintf(out + o, n - o, "%s\"%s\":%s",
                              first ? "" : ",", names[i], v);
        first = 0;
    }
    snprintf(out + o, n - o, "}");
}

#define N_GEN 300

static void test_differential_jq_cli(void **state)
{
    char path[] = "/tmp/jqx-corpus-XXXXXX";
    char recs[sizeof(fixed) / sizeof(fixed[0]) + N_GEN][256];
    size_t n = 0, compared = 0;
    unsigned seed = 12345;
    FILE *f;
    int fd;

    (void)state;
    if (system("jq --version >/dev/null 2>&1") != 0) {
        print_message("jq command-line tool missing: skipped\n");
        skip();
    }
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        snprintf(recs[n++], sizeof(recs[0]), "%s", fixed[i]);
    for (int i = 0; i < N_GEN; i++)
        gen_record(&seed, recs[n++], sizeof(recs[0]));
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\n", recs[i]);
    fclose(f);
    for (size_t qi = 0; qi < sizeof(queries) / sizeof(queries[0]); qi++) {
        char cmd[2048], line[1024];
        struct err e;
        struct jqx *q = jqx_new(queries[qi], &e);
        FILE *p;
        size_t i = 0;

        assert_non_null(q);
        /* The CLI renders each result the way the keys must come out:
         * sorted, nulls left out, only strings and numbers. */
        snprintf(cmd, sizeof(cmd), "jq -r 'try (%s | to_entries | "
                 "map(select(.value != null)) | sort_by(.key) | "
                 "map(if (.value|type) == \"string\" or (.value|type) == "
                 "\"number\" then \"\\(.key)=\\(.value)\" else error(\"x\") "
                 "end) | join(\"|\")) catch \"ERROR\"' %s", queries[qi],
                 path);
        p = popen(cmd, "r");
        assert_non_null(p);
        while (fgets(line, sizeof(line), p) != NULL) {
            char got[1024];

            line[strcspn(line, "\n")] = '\0';
            assert_true(i < n);
            eval_both(q, recs[i], got, sizeof(got));
            if (strcmp(got, line) != 0) {
                print_error("query %s record %s: ours %s, jq CLI %s\n",
                            queries[qi], recs[i], got, line);
                fail();
            }
            i++;
            compared++;
        }
        assert_int_equal(pclose(p), 0);
        assert_int_equal(i, n);
        jqx_free(q);
    }
    unlink(path);
    print_message("compared %zu results with the jq CLI\n", compared);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_only_detection),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_values_and_failures),
        cmocka_unit_test(test_no_environment),
        cmocka_unit_test(test_fast_path_taken),
        cmocka_unit_test(test_key_lists),
        cmocka_unit_test(test_differential_jq_cli),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
