/* test_codec.c - UNCOMPRESSED and GZIP writers; unsupported formats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "../../destinations/codec.h"

/* Inflate one gzip member from 'gz' into a new buffer (caller frees). */
static unsigned char *gunzip(const struct buf *gz, size_t *outlen)
{
    z_stream zs;
    size_t cap = gz->len * 4 + 1024, len = 0;
    unsigned char *out = malloc(cap);
    int rc;

    assert_non_null(out);
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = gz->p;
    zs.avail_in = (uInt)gz->len;
    do {
        if (cap - len < 65536) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
        zs.next_out = out + len;
        zs.avail_out = (uInt)(cap - len);
        rc = inflate(&zs, Z_NO_FLUSH);
        len = cap - zs.avail_out;
        if (rc != Z_OK && rc != Z_STREAM_END)
            fail_msg("inflate failed: %d %s", rc, zs.msg ? zs.msg : "");
    } while (rc != Z_STREAM_END);
    /* Exactly one member, nothing after it. */
    assert_int_equal(zs.avail_in, 0);
    inflateEnd(&zs);
    *outlen = len;
    return out;
}

static void check_gzip(const struct buf *gz, const void *want, size_t n)
{
    size_t got_n;
    unsigned char *got;

    assert_true(gz->len >= 18);
    assert_int_equal(gz->p[0], 0x1f);
    assert_int_equal(gz->p[1], 0x8b);
    got = gunzip(gz, &got_n);
    assert_int_equal(got_n, n);
    if (n > 0)
        assert_memory_equal(got, want, n);
    free(got);
}

static void test_gzip_round_trip_multi_write(void **state)
{
    static const char *parts[] = {
        "{\"user\":\"a\"}\n", "", "{\"user\":\"b\"}\n", "x", "yz\n",
    };
    struct err e = { 0 };
    struct buf out = { 0 };
    struct codec *c = codec_new(CFG_COMP_GZIP, -1, &e);
    const char *want = "{\"user\":\"a\"}\n{\"user\":\"b\"}\nxyz\n";

    (void)state;
    assert_non_null(c);
    assert_string_equal(codec_ext(c), ".gz");
    assert_string_equal(codec_content_encoding(c), "gzip");
    assert_int_equal(codec_begin(c, &out, &e), 0);
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        assert_int_equal(codec_write(c, parts[i], strlen(parts[i]), &e), 0);
    assert_int_equal(codec_end(c, &e), 0);
    check_gzip(&out, want, strlen(want));
    buf_release(&out);
    codec_free(c);
}

static void test_gzip_empty_object(void **state)
{
    struct err e = { 0 };
    struct buf out = { 0 };
    struct codec *c = codec_new(CFG_COMP_GZIP, 6, &e);

    (void)state;
    assert_non_null(c);
    assert_int_equal(codec_begin(c, &out, &e), 0);
    assert_int_equal(codec_end(c, &e), 0);
    check_gzip(&out, "", 0);
    buf_release(&out);
    codec_free(c);
}

/* 10 MB of alternating pseudo-random and repetitive text, written in
 * uneven pieces, at the fastest and the best level. */
static void test_gzip_large(void **state)
{
    size_t n = 10 * 1024 * 1024, off = 0, step = 1;
    unsigned char *data = malloc(n);
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    int levels[] = { 1, 9 };

    (void)state;
    assert_non_null(data);
    for (size_t i = 0; i < n; i++) {
        if ((i / 65536) % 2 == 0) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data[i] = (unsigned char)x;
        } else {
            data[i] = (unsigned char)"the quick brown fox jumps\n"[i % 26];
        }
    }
    for (size_t l = 0; l < 2; l++) {
        struct err e = { 0 };
        struct buf out = { 0 };
        struct codec *c = codec_new(CFG_COMP_GZIP, levels[l], &e);

        assert_non_null(c);
        assert_int_equal(codec_begin(c, &out, &e), 0);
        for (off = 0, step = 1; off < n; step = step * 7 % 1000003 + 1) {
            size_t k = n - off < step ? n - off : step;
            assert_int_equal(codec_write(c, data + off, k, &e), 0);
            off += k;
        }
        assert_int_equal(codec_end(c, &e), 0);
        assert_true(out.len < n);
        check_gzip(&out, data, n);
        buf_release(&out);
        codec_free(c);
    }
    free(data);
}

/* The caller may drain 'out' between writes (stream it to S3 in parts). */
static void test_gzip_drained_between_writes(void **state)
{
    struct err e = { 0 };
    struct buf out = { 0 }, all = { 0 };
    struct codec *c = codec_new(CFG_COMP_GZIP, -1, &e);
    unsigned char chunk[100000];
    struct buf want = { 0 };

    (void)state;
    assert_non_null(c);
    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (unsigned char)(i * 2654435761u >> 13);
    assert_int_equal(codec_begin(c, &out, &e), 0);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(codec_write(c, chunk, sizeof(chunk), &e), 0);
        assert_int_equal(buf_append(&want, chunk, sizeof(chunk), &e), 0);
        assert_int_equal(buf_append(&all, out.p, out.len, &e), 0);
        out.len = 0;
    }
    assert_int_equal(codec_end(c, &e), 0);
    assert_int_equal(buf_append(&all, out.p, out.len, &e), 0);
    check_gzip(&all, want.p, want.len);
    buf_release(&out);
    buf_release(&all);
    buf_release(&want);
    codec_free(c);
}

/* One codec, many objects: each is a complete, independent member. */
static void test_gzip_reuse(void **state)
{
    struct err e = { 0 };
    struct codec *c = codec_new(CFG_COMP_GZIP, -1, &e);
    char text[64];

    (void)state;
    assert_non_null(c);
    for (int i = 0; i < 5; i++) {
        struct buf out = { 0 };
        int n = snprintf(text, sizeof(text), "object %d\n", i);

        assert_int_equal(codec_begin(c, &out, &e), 0);
        assert_int_equal(codec_write(c, text, (size_t)n, &e), 0);
        /* Abandon the third object half-way: begin must still reset. */
        if (i == 2) {
            buf_release(&out);
            continue;
        }
        assert_int_equal(codec_end(c, &e), 0);
        check_gzip(&out, text, (size_t)n);
        buf_release(&out);
    }
    codec_free(c);
}

static void test_uncompressed_identity(void **state)
{
    struct err e = { 0 };
    struct buf out = { 0 };
    struct codec *c = codec_new(CFG_COMP_UNCOMPRESSED, -1, &e);

    (void)state;
    assert_non_null(c);
    assert_string_equal(codec_ext(c), "");
    assert_null(codec_content_encoding(c));
    for (int round = 0; round < 2; round++) {
        out.len = 0;
        assert_int_equal(codec_begin(c, &out, &e), 0);
        assert_int_equal(codec_write(c, "abc", 3, &e), 0);
        assert_int_equal(codec_write(c, "", 0, &e), 0);
        assert_int_equal(codec_write(c, "\0de", 3, &e), 0);
        assert_int_equal(codec_end(c, &e), 0);
        assert_int_equal(out.len, 6);
        assert_memory_equal(out.p, "abc\0de", 6);
    }
    buf_release(&out);
    codec_free(c);
}

static void test_unsupported_formats(void **state)
{
    static const struct {
        enum cfg_compression fmt;
        const char *name;
    } cases[] = {
        { CFG_COMP_ZIP, "CompressionFormat ZIP is not supported yet" },
        { CFG_COMP_SNAPPY, "CompressionFormat Snappy is not supported yet" },
        { CFG_COMP_HADOOP_SNAPPY, "CompressionFormat HADOOP_SNAPPY is not" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct err e = { 0 };

        assert_null(codec_new(cases[i].fmt, -1, &e));
        assert_int_equal(e.code, ERR_INVAL);
        assert_non_null(strstr(e.msg, cases[i].name));
        assert_non_null(strstr(e.msg, "only UNCOMPRESSED and GZIP"));
    }
    {
        struct err e = { 0 };
        assert_null(codec_new((enum cfg_compression)42, -1, &e));
        assert_int_equal(e.code, ERR_INVAL);
        assert_null(codec_new(CFG_COMP_GZIP, 10, &e));
        assert_int_equal(e.code, ERR_INVAL);
        assert_non_null(strstr(e.msg, "level 10"));
        assert_null(codec_new(CFG_COMP_GZIP, -2, &e));
    }
    codec_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip_round_trip_multi_write),
        cmocka_unit_test(test_gzip_empty_object),
        cmocka_unit_test(test_gzip_large),
        cmocka_unit_test(test_gzip_drained_between_writes),
        cmocka_unit_test(test_gzip_reuse),
        cmocka_unit_test(test_uncompressed_identity),
        cmocka_unit_test(test_unsupported_formats),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
