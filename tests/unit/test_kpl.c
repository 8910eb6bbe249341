/* KPL de-aggregation: the spec's test vector, every prefix of it
 * (truncation), bad MD5, garbage protobuf, index out of range, and the
 * hash-key arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "../../delivery/kpl.h"

/* ../shared/spec/kinesis-source.md §3.3 */
static const unsigned char vec[] = {
    0xf3, 0x89, 0x9a, 0xc2,
    0x0a, 0x04, 'p', 'k', '-', 'a', 0x0a, 0x04, 'p', 'k', '-', 'b',
    0x1a, 0x09, 0x08, 0x00, 0x1a, 0x05, 'h', 'e', 'l', 'l', 'o',
    0x1a, 0x09, 0x08, 0x01, 0x1a, 0x05, 'w', 'o', 'r', 'l', 'd',
    0x1a, 0x05, 0x08, 0x00, 0x1a, 0x01, '!',
    0xf2, 0xe8, 0x0a, 0xae, 0x0d, 0x2d, 0xee, 0xd7,
    0xb8, 0xfb, 0x28, 0x80, 0xb5, 0x41, 0x6d, 0x32,
};

/* Wrap a protobuf body as an aggregate (magic + body + MD5). */
static size_t wrap(const unsigned char *body, size_t n, unsigned char *out)
{
    unsigned int mdlen = 0;

    memcpy(out, vec, 4);
    memcpy(out + 4, body, n);
    EVP_Digest(body, n, out + 4 + n, &mdlen, EVP_md5(), NULL);
    return 4 + n + 16;
}

static int str_is(struct kpl_str s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

static void test_vector(void **state)
{
    struct kpl k = { 0 };
    struct err e = { 0, "" };
    enum kpl_kind kind;

    (void)state;
    assert_int_equal(sizeof(vec), 61);
    assert_int_equal(kpl_decode(&k, vec, sizeof(vec), &kind, &e), 0);
    assert_int_equal(kind, KPL_AGGREGATE);
    assert_int_equal(k.n, 3);
    assert_true(k.recs[0].len == 5 && !memcmp(k.recs[0].data, "hello", 5));
    assert_true(str_is(k.recs[0].pk, "pk-a"));
    assert_true(k.recs[1].len == 5 && !memcmp(k.recs[1].data, "world", 5));
    assert_true(str_is(k.recs[1].pk, "pk-b"));
    assert_true(k.recs[2].len == 1 && k.recs[2].data[0] == '!');
    assert_true(str_is(k.recs[2].pk, "pk-a"));
    assert_null(k.recs[0].ehk.p);
    /* Reuse: a second decode replaces the first. */
    assert_int_equal(kpl_decode(&k, vec, sizeof(vec), &kind, &e), 0);
    assert_int_equal(k.n, 3);
    kpl_release(&k);
}

static void test_plain(void **state)
{
    struct kpl k = { 0 };
    struct err e = { 0, "" };
    enum kpl_kind kind;

    (void)state;
    assert_int_equal(kpl_decode(&k, (const unsigned char *)"hello", 5, &kind,
                                &e), 0);
    assert_int_equal(kind, KPL_PLAIN);
    assert_int_equal(kpl_decode(&k, vec, 3, &kind, &e), 0);
    assert_int_equal(kind, KPL_PLAIN);
    assert_int_equal(kpl_decode(&k, vec, 0, &kind, &e), 0);
    assert_int_equal(kind, KPL_PLAIN);
    kpl_release(&k);
}

/* Every truncation of the vector that keeps the magic is malformed (the
 * MD5 no longer matches, or the body is too short): never a crash. */
static void test_truncated(void **state)
{
    struct kpl k = { 0 };
    struct err e = { 0, "" };
    enum kpl_kind kind;

    (void)state;
    for (size_t n = 4; n < sizeof(vec); n++) {
        unsigned char *copy = malloc(n);
        memcpy(copy, vec, n);           /* exact size: ASan sees overreads */
        assert_int_equal(kpl_decode(&k, copy, n, &kind, &e), 0);
        assert_int_equal(kind, KPL_MALFORMED);
        free(copy);
    }
    kpl_release(&k);
}

static void test_bad_md5(void **state)
{
    struct kpl k = { 0 };
    struct err e = { 0, "" };
    enum kpl_kind kind;
    unsigned char copy[sizeof(vec)];

    (void)state;
    memcpy(copy, vec, sizeof(vec));
    copy[sizeof(vec) - 1] ^= 1;
    assert_int_equal(kpl_decode(&k, copy, sizeof(copy), &kind, &e), 0);
    assert_int_equal(kind, KPL_MALFORMED);
    assert_non_null(strstr(e.msg, "MD5"));
    kpl_release(&k);
}

/* Bodies with a valid MD5 but a broken protobuf. */
static void test_garbage(void **state)
{
    static const struct {
        const char *why;
        unsigned char body[16];
        size_t n;
    } cases[] = {
        { "length past end", { 0x0a, 0x7f, 'a' }, 3 },
        { "group wire type", { 0x0b, 0x00 }, 2 },
        { "field 0", { 0x02, 0x00 }, 2 },
        { "varint too long", { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                               0xff, 0xff, 0xff, 0xff, 0x01 }, 12 },
        { "no records", { 0x0a, 0x01, 'a' }, 3 },
        { "record without data", { 0x0a, 0x01, 'a', 0x1a, 0x02, 0x08,
                                   0x00 }, 7 },
        { "pk index out of range", { 0x0a, 0x01, 'a', 0x1a, 0x05, 0x08,
                                     0x01, 0x1a, 0x01, 'x' }, 10 },
        { "ehk index out of range", { 0x0a, 0x01, 'a', 0x1a, 0x07, 0x08,
                                      0x00, 0x10, 0x00, 0x1a, 0x01,
                                      'x' }, 12 },
        { "truncated tag", { 0x0a, 0x01, 'a', 0x80 }, 4 },
    };
    struct kpl k = { 0 };
    struct err e = { 0, "" };
    enum kpl_kind kind;
    unsigned char buf[64];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = wrap(cases[i].body, cases[i].n, buf);
        assert_int_equal(kpl_decode(&k, buf, n, &kind, &e), 0);
        if (kind != KPL_MALFORMED)
            fail_msg("case '%s' decoded as %d", cases[i].why, (int)kind);
    }
    kpl_release(&k);
}

/* Explicit hash keys, unknown fields skipped, tables after records. */
static void test_ehk_and_unknown(void **state)
{
    static const unsigned char body[] = {
        0x1a, 0x0b, 0x08, 0x00, 0x10, 0x00, 0x1a, 0x01, 'x',
        0x22, 0x02, 0x0a, 0x00,             /* a tag: ignored */
        0x28, 0x05,                         /* field 5 varint: skipped */
        0x0a, 0x03, 'a', 'b', 'c',
        0x12, 0x01, '7',
        0x3d, 1, 2, 3, 4,                   /* field 7 fixed32 */
        0x41, 1, 2, 3, 4, 5, 6, 7, 8,       /* field 8 fixed64 */
    };
    struct kpl k = { 0 };
    struct err e = { 0, "" };
    enum kpl_kind kind;
    unsigned char buf[128];
    size_t n = wrap(body, sizeof(body), buf);

    (void)state;
    assert_int_equal(kpl_decode(&k, buf, n, &kind, &e), 0);
    assert_int_equal(kind, KPL_AGGREGATE);
    assert_int_equal(k.n, 1);
    assert_true(str_is(k.recs[0].pk, "abc"));
    assert_true(str_is(k.recs[0].ehk, "7"));
    assert_true(kpl_user_hash(&k.recs[0]) == 7);
    kpl_release(&k);
}

static void test_hash_keys(void **state)
{
    kpl_u128 v;
    char s[40];

    (void)state;
    kpl_format_u128(kpl_pk_hash((const unsigned char *)"a", 1), s);
    assert_string_equal(s, "16955237001963240173058271559858726497");
    kpl_format_u128(kpl_pk_hash((const unsigned char *)"abc", 3), s);
    assert_string_equal(s, "191415658344158766168031473277922803570");
    kpl_format_u128(kpl_pk_hash((const unsigned char *)"pk-a", 4), s);
    assert_string_equal(s, "37734456349525827306212900493151175156");
    assert_int_equal(kpl_parse_u128("340282366920938463463374607431768211455",
                                    39, &v), 0);
    assert_true(v == ~(kpl_u128)0);
    kpl_format_u128(v, s);
    assert_string_equal(s, "340282366920938463463374607431768211455");
    assert_int_equal(kpl_parse_u128("340282366920938463463374607431768211456",
                                    39, &v), -1);
    assert_int_equal(kpl_parse_u128("", 0, &v), -1);
    assert_int_equal(kpl_parse_u128("12a", 3, &v), -1);
    assert_int_equal(kpl_parse_u128("0", 1, &v), 0);
    assert_true(v == 0);
    kpl_format_u128(0, s);
    assert_string_equal(s, "0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bad_md5),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_ehk_and_unknown),
        cmocka_unit_test(test_hash_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
