/* test_codec.c - every CompressionFormat round trip (decoded here from the
 * format descriptions with zlib and libsnappy), bad arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <snappy-c.h>
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

static uint32_t rd32le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint16_t rd16le(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32be(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Decode a single-entry, bit-3 ZIP archive strictly; returns the data
 * (caller frees) and the entry name. */
static unsigned char *unzip_one(const struct buf *z, size_t *outlen,
                                char *name, size_t name_sz)
{
    const unsigned char *p = z->p, *eocd, *cd, *dd;
    size_t n = z->len, nlen, cap, len = 0;
    uint32_t crc, csize, usize, cd_len, cd_off;
    unsigned char *out;
    z_stream zs;
    int rc;

    assert_true(n >= 30 + 16 + 46 + 22);
    eocd = p + n - 22;
    assert_int_equal(rd32le(eocd), 0x06054b50);
    assert_int_equal(rd16le(eocd + 8), 1);
    assert_int_equal(rd16le(eocd + 10), 1);
    cd_len = rd32le(eocd + 12);
    cd_off = rd32le(eocd + 16);
    assert_int_equal(cd_off + cd_len, n - 22);
    cd = p + cd_off;
    assert_int_equal(rd32le(cd), 0x02014b50);
    assert_int_equal(rd16le(cd + 8), 0x0008);
    assert_int_equal(rd16le(cd + 10), 8);
    assert_int_equal(rd32le(cd + 42), 0);
    crc = rd32le(cd + 16);
    csize = rd32le(cd + 20);
    usize = rd32le(cd + 24);
    nlen = rd16le(cd + 28);
    assert_int_equal(cd_len, 46 + nlen);
    /* Local header: same name, bit 3, zero sizes. */
    assert_int_equal(rd32le(p), 0x04034b50);
    assert_int_equal(rd16le(p + 6), 0x0008);
    assert_int_equal(rd16le(p + 8), 8);
    assert_int_equal(rd32le(p + 14), 0);
    assert_int_equal(rd16le(p + 26), nlen);
    assert_int_equal(rd16le(p + 28), 0);
    assert_memory_equal(p + 30, cd + 46, nlen);
    assert_true(nlen < name_sz);
    memcpy(name, p + 30, nlen);
    name[nlen] = '\0';
    /* Data, then the descriptor right before the central directory. */
    assert_int_equal(30 + nlen + csize + 16, cd_off);
    dd = p + 30 + nlen + csize;
    assert_int_equal(rd32le(dd), 0x08074b50);
    assert_int_equal(rd32le(dd + 4), crc);
    assert_int_equal(rd32le(dd + 8), csize);
    assert_int_equal(rd32le(dd + 12), usize);
    cap = usize + 1;
    out = malloc(cap);
    assert_non_null(out);
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(inflateInit2(&zs, -15), Z_OK);
    zs.next_in = p + 30 + nlen;
    zs.avail_in = csize;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    rc = inflate(&zs, Z_FINISH);
    assert_int_equal(rc, Z_STREAM_END);
    assert_int_equal(zs.avail_in, 0);
    len = zs.total_out;
    inflateEnd(&zs);
    assert_int_equal(len, usize);
    assert_int_equal((uint32_t)crc32(0, out, (uInt)len), crc);
    *outlen = len;
    return out;
}

/* snappy-java: 16-byte header, then [BE u32 n][n bytes of raw snappy]. */
static unsigned char *unsnappy_java(const struct buf *z, size_t *outlen,
                                    size_t *blocks)
{
    static const unsigned char hdr[16] = {
        0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1,
    };
    struct buf out = { 0 };
    struct err e = { 0 };
    size_t off = 16;

    assert_true(z->len >= 16);
    assert_memory_equal(z->p, hdr, 16);
    *blocks = 0;
    while (off < z->len) {
        size_t ulen, clen;

        assert_true(z->len - off >= 4);
        clen = rd32be(z->p + off);
        off += 4;
        assert_true(z->len - off >= clen);
        assert_int_equal(snappy_uncompressed_length((const char *)z->p + off,
                                                    clen, &ulen), SNAPPY_OK);
        assert_true(ulen <= 32 * 1024);
        assert_int_equal(buf_reserve(&out, ulen + 1, &e), 0);
        assert_int_equal(snappy_uncompress((const char *)z->p + off, clen,
                                           (char *)out.p + out.len, &ulen),
                         SNAPPY_OK);
        out.len += ulen;
        off += clen;
        (*blocks)++;
    }
    *outlen = out.len;
    return out.p;
}

/* Hadoop: [BE u32 raw][BE u32 comp][comp bytes], one chunk per block. */
static unsigned char *unsnappy_hadoop(const struct buf *z, size_t *outlen,
                                      size_t *blocks)
{
    struct buf out = { 0 };
    struct err e = { 0 };
    size_t off = 0;

    *blocks = 0;
    while (off < z->len) {
        size_t raw, clen, ulen;

        assert_true(z->len - off >= 8);
        raw = rd32be(z->p + off);
        clen = rd32be(z->p + off + 4);
        off += 8;
        assert_true(raw <= 262144 - (262144 / 6 + 32));
        assert_true(z->len - off >= clen);
        assert_int_equal(buf_reserve(&out, raw + 1, &e), 0);
        ulen = raw;
        assert_int_equal(snappy_uncompress((const char *)z->p + off, clen,
                                           (char *)out.p + out.len, &ulen),
                         SNAPPY_OK);
        assert_int_equal(ulen, raw);
        out.len += ulen;
        off += clen;
        (*blocks)++;
    }
    *outlen = out.len;
    return out.p;
}

static unsigned char *test_data(size_t n)
{
    unsigned char *data = malloc(n + 1);
    uint64_t x = 0x9e3779b97f4a7c15ULL;

    assert_non_null(data);
    for (size_t i = 0; i < n; i++) {
        if ((i / 50000) % 2 == 0) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data[i] = (unsigned char)x;
        } else {
            data[i] = (unsigned char)"{\"k\":\"value\"}\n"[i % 14];
        }
    }
    return data;
}

/* Compress 'data' in uneven writes, draining the output now and then as
 * the sink does; returns the whole object in 'all'. */
static void compress_drained(enum cfg_compression fmt, const unsigned char
                             *data, size_t n, struct buf *all)
{
    struct err e = { 0 };
    struct buf out = { 0 };
    struct codec *c = codec_new(fmt, -1, &e);
    size_t off = 0, step = 1;

    assert_non_null(c);
    all->len = 0;
    assert_int_equal(codec_begin(c, &out, &e), 0);
    while (off < n) {
        size_t k = n - off < step ? n - off : step;
        assert_int_equal(codec_write(c, data + off, k, &e), 0);
        off += k;
        step = step * 7 % 300007 + 1;
        if (out.len > 100000) {
            assert_int_equal(buf_append(all, out.p, out.len, &e), 0);
            out.len = 0;
        }
    }
    assert_int_equal(codec_end(c, &e), 0);
    assert_int_equal(buf_append(all, out.p, out.len, &e), 0);
    buf_release(&out);
    codec_free(c);
}

static const size_t sizes[] = { 0, 1, 32767, 32768, 32769, 218422, 218423,
                                3 * 1000 * 1000 + 17 };

static void test_zip_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *data = test_data(sizes[i]), *got;
        struct buf z = { 0 };
        char name[64];
        size_t n;

        compress_drained(CFG_COMP_ZIP, data, sizes[i], &z);
        got = unzip_one(&z, &n, name, sizeof(name));
        assert_int_equal(n, sizes[i]);
        if (n > 0)
            assert_memory_equal(got, data, n);
        /* Default name: a v4 UUID. */
        assert_int_equal(strlen(name), 36);
        assert_int_equal(name[14], '4');
        free(got);
        free(data);
        buf_release(&z);
    }
}

static void test_zip_entry_name_and_reuse(void **state)
{
    struct err e = { 0 };
    struct codec *c = codec_new(CFG_COMP_ZIP, 9, &e);
    char name[200], longname[200];

    (void)state;
    assert_non_null(c);
    assert_string_equal(codec_ext(c), ".zip");
    assert_string_equal(codec_content_encoding(c), "zip");
    assert_int_equal(codec_set_entry_name(c, "0f0e-name", &e), 0);
    for (int i = 0; i < 3; i++) {
        struct buf out = { 0 };
        unsigned char *got;
        size_t n;

        assert_int_equal(codec_begin(c, &out, &e), 0);
        assert_int_equal(codec_write(c, "hello zip\n", 10, &e), 0);
        if (i == 1) {           /* abandoned half-way */
            buf_release(&out);
            continue;
        }
        assert_int_equal(codec_end(c, &e), 0);
        got = unzip_one(&out, &n, name, sizeof(name));
        assert_string_equal(name, "0f0e-name");
        assert_int_equal(n, 10);
        assert_memory_equal(got, "hello zip\n", 10);
        free(got);
        buf_release(&out);
    }
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(codec_set_entry_name(c, longname, &e), -1);
    assert_int_equal(e.code, ERR_INVAL);
    assert_non_null(strstr(e.msg, "ZIP entry name"));
    assert_int_equal(codec_set_entry_name(c, NULL, &e), 0);
    codec_free(c);
}

static void test_snappy_java_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *data = test_data(sizes[i]), *got;
        struct buf z = { 0 };
        size_t n, blocks;

        compress_drained(CFG_COMP_SNAPPY, data, sizes[i], &z);
        got = unsnappy_java(&z, &n, &blocks);
        assert_int_equal(n, sizes[i]);
        if (n > 0)
            assert_memory_equal(got, data, n);
        assert_int_equal(blocks, (sizes[i] + 32767) / 32768);
        free(got);
        free(data);
        buf_release(&z);
    }
}

static void test_hadoop_snappy_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *data = test_data(sizes[i]), *got;
        struct buf z = { 0 };
        size_t n, blocks;

        compress_drained(CFG_COMP_HADOOP_SNAPPY, data, sizes[i], &z);
        got = unsnappy_hadoop(&z, &n, &blocks);
        assert_int_equal(n, sizes[i]);
        if (n > 0)
            assert_memory_equal(got, data, n);
        assert_int_equal(blocks, (sizes[i] + 218421) / 218422);
        free(got);
        free(data);
        buf_release(&z);
    }
}

static void test_format_table(void **state)
{
    static const struct {
        enum cfg_compression fmt;
        const char *ext, *enc;
    } t[] = {
        { CFG_COMP_UNCOMPRESSED, "", NULL },
        { CFG_COMP_GZIP, ".gz", "gzip" },
        { CFG_COMP_ZIP, ".zip", "zip" },
        { CFG_COMP_SNAPPY, ".snappy", "snappy-java" },
        { CFG_COMP_HADOOP_SNAPPY, ".snappy", "hadoop-snappy" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct err e = { 0 };
        struct codec *c = codec_new(t[i].fmt, -1, &e);

        assert_non_null(c);
        assert_string_equal(codec_ext(c), t[i].ext);
        if (t[i].enc == NULL)
            assert_null(codec_content_encoding(c));
        else
            assert_string_equal(codec_content_encoding(c), t[i].enc);
        /* Non-ZIP formats accept and ignore an entry name. */
        assert_int_equal(codec_set_entry_name(c, "x", &e), 0);
        codec_free(c);
    }
}

static void test_bad_arguments(void **state)
{
    struct err e = { 0 };
    char uuid[37];
    unsigned char r[16];

    (void)state;
    assert_null(codec_new((enum cfg_compression)42, -1, &e));
    assert_int_equal(e.code, ERR_INVAL);
    assert_non_null(strstr(e.msg, "unknown CompressionFormat 42"));
    assert_null(codec_new(CFG_COMP_GZIP, 10, &e));
    assert_int_equal(e.code, ERR_INVAL);
    assert_non_null(strstr(e.msg, "level 10"));
    assert_null(codec_new(CFG_COMP_ZIP, -2, &e));
    assert_int_equal(e.code, ERR_INVAL);
    memset(r, 0xff, sizeof(r));
    util_uuid(r, uuid);
    assert_string_equal(uuid, "ffffffff-ffff-4fff-bfff-ffffffffffff");
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
        cmocka_unit_test(test_zip_round_trip),
        cmocka_unit_test(test_zip_entry_name_and_reuse),
        cmocka_unit_test(test_snappy_java_round_trip),
        cmocka_unit_test(test_hadoop_snappy_round_trip),
        cmocka_unit_test(test_format_table),
        cmocka_unit_test(test_bad_arguments),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
