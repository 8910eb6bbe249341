/* test_sink.c - records -> codec -> fake destination: whole objects,
 * streamed parts with bounded buffering, aborts and retries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "../../destinations/sink.h"
#include "../fakes/fake_dest.h"

/* A batch of records cut from one buffer at pseudo-random lengths. */
struct recs {
    unsigned char *data;
    size_t total;
    size_t n;
    size_t *off, *len;
    size_t cur;
    unsigned gets;
};

static int rec_next(void *arg, int first, const void **p, size_t *len)
{
    struct recs *r = arg;

    if (first)
        r->cur = 0;
    if (r->cur >= r->n)
        return 0;
    r->gets++;
    *len = r->len[r->cur];
    *p = r->data + r->off[r->cur];
    r->cur++;
    return 1;
}

static void recs_make(struct recs *r, size_t total, size_t max_rec)
{
    uint64_t x = 88172645463325252ULL;
    size_t off = 0;

    memset(r, 0, sizeof(*r));
    r->data = malloc(total + 1);
    r->off = malloc(sizeof(size_t) * (total + 1));
    r->len = malloc(sizeof(size_t) * (total + 1));
    assert_non_null(r->data);
    assert_non_null(r->off);
    assert_non_null(r->len);
    for (size_t i = 0; i < total; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* Half random, half text: compressible, but not to nothing. */
        r->data[i] = (i / 4096) % 2 ? (unsigned char)x
                                    : (unsigned char)('a' + x % 4);
    }
    while (off < total) {
        size_t k = 1 + (size_t)(x % max_rec);
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        if (k > total - off)
            k = total - off;
        r->off[r->n] = off;
        r->len[r->n] = k;
        r->n++;
        off += k;
    }
    r->total = total;
}

static void recs_free(struct recs *r)
{
    free(r->data);
    free(r->off);
    free(r->len);
}

static struct sink_records view(struct recs *r)
{
    struct sink_records sr = { rec_next, r, 0 };
    return sr;
}

static struct payload meta(const char *key)
{
    struct payload p;

    memset(&p, 0, sizeof(p));
    p.key = key;
    p.records = 1;
    return p;
}

static void check_gzip(const struct buf *gz, const struct recs *r)
{
    unsigned char *out = malloc(r->total + 1);
    z_stream zs;

    assert_non_null(out);
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = gz->p;
    zs.avail_in = (uInt)gz->len;
    zs.next_out = out;
    zs.avail_out = (uInt)r->total + 1;
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    assert_int_equal(zs.avail_in, 0);
    assert_int_equal(zs.total_out, r->total);
    assert_memory_equal(out, r->data, r->total);
    inflateEnd(&zs);
    free(out);
}

/* A destination without parts gets one deliver(), whatever the size. */
static void test_whole_object(void **state)
{
    struct err e = { 0 };
    struct sink *s = sink_new(&e);
    struct codec *c = codec_new(CFG_COMP_GZIP, 1, &e);
    struct fake_dest f;
    struct recs r;
    struct sink_records sr;
    struct payload m = meta("a/b-1.gz");
    struct sink_stats st;

    (void)state;
    assert_non_null(s);
    assert_non_null(c);
    fake_dest_init(&f, 0, 0);
    recs_make(&r, 3 << 20, 3000);
    sr = view(&r);
    assert_int_equal(sink_deliver(s, &f.d, c, &sr, &m, &e), DEST_OK);
    assert_int_equal(f.delivers, 1);
    assert_int_equal(f.begins, 0);
    assert_string_equal(f.key, "a/b-1.gz");
    assert_string_equal(f.encoding, "gzip");
    check_gzip(&f.got, &r);
    sink_stats(s, &st);
    assert_int_equal(st.parts, 0);
    assert_int_equal(st.object_bytes, f.got.len);
    fake_dest_release(&f);
    recs_free(&r);
    codec_free(c);
    sink_free(s);
}

/* Above the threshold: parts of exactly part_size but the last, sent
 * while compressing; the output held never passes threshold + a run. */
static void test_streamed_parts(void **state)
{
    static const enum cfg_compression fmts[] = {
        CFG_COMP_UNCOMPRESSED, CFG_COMP_GZIP, CFG_COMP_SNAPPY,
    };
    size_t threshold = 1 << 20, part = 256 << 10;

    (void)state;
    for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
        struct err e = { 0 };
        struct sink *s = sink_new(&e);
        struct codec *c = codec_new(fmts[i], -1, &e);
        struct fake_dest f;
        struct recs r;
        struct sink_records sr;
        struct payload m = meta("big-1");
        struct sink_stats st;

        assert_non_null(s);
        assert_non_null(c);
        fake_dest_init(&f, threshold, part);
        recs_make(&r, 12 << 20, 100000);
        sr = view(&r);
        assert_int_equal(sink_deliver(s, &f.d, c, &sr, &m, &e), DEST_OK);
        sink_stats(s, &st);
        assert_int_equal(f.delivers, 0);
        assert_int_equal(f.begins, 1);
        assert_int_equal(f.finishes, 1);
        assert_int_equal(f.aborts, 0);
        assert_true(f.completed);
        assert_int_equal(f.parts, st.parts);
        assert_int_equal(f.parts, (f.got.len + part - 1) / part);
        assert_int_equal(f.max_part, part);
        assert_int_equal(st.object_bytes, f.got.len);
        /* 256 KiB staging run + the codec's own slack. */
        assert_true(st.peak_buffer <= threshold + (256 << 10) + (128 << 10));
        if (fmts[i] == CFG_COMP_UNCOMPRESSED) {
            assert_int_equal(f.got.len, r.total);
            assert_memory_equal(f.got.p, r.data, r.total);
        } else if (fmts[i] == CFG_COMP_GZIP) {
            check_gzip(&f.got, &r);
        }
        fake_dest_release(&f);
        recs_free(&r);
        codec_free(c);
        sink_free(s);
    }
}

/* At or below the threshold a streaming destination still gets one
 * deliver(); an object of exactly one part's overshoot streams. */
static void test_small_object_not_streamed(void **state)
{
    struct err e = { 0 };
    struct sink *s = sink_new(&e);
    struct codec *c = codec_new(CFG_COMP_UNCOMPRESSED, -1, &e);
    struct fake_dest f;
    struct recs r;
    struct sink_records sr;
    struct payload m = meta("small");

    (void)state;
    fake_dest_init(&f, 1 << 20, 1 << 19);
    recs_make(&r, 1 << 20, 5000);
    sr = view(&r);
    assert_int_equal(sink_deliver(s, &f.d, c, &sr, &m, &e), DEST_OK);
    assert_int_equal(f.delivers, 1);
    assert_int_equal(f.begins, 0);
    assert_int_equal(f.got.len, 1 << 20);
    recs_free(&r);
    /* One byte more: streamed as a full part, a full part and 1 byte. */
    recs_make(&r, (1 << 20) + 1, 5000);
    sr = view(&r);
    m.key = "small-plus-one";
    assert_int_equal(sink_deliver(s, &f.d, c, &sr, &m, &e), DEST_OK);
    assert_int_equal(f.begins, 1);
    assert_int_equal(f.parts, 3);
    assert_int_equal(f.min_part, 1);
    assert_int_equal(f.got.len, r.total);
    assert_memory_equal(f.got.p, r.data, r.total);
    fake_dest_release(&f);
    recs_free(&r);
    codec_free(c);
    sink_free(s);
}

/* A failed part aborts the upload; the retry starts again from the first
 * record and stores the whole object. */
static void test_part_failure_aborts_and_retries(void **state)
{
    struct err e = { 0 };
    struct sink *s = sink_new(&e);
    struct codec *c = codec_new(CFG_COMP_GZIP, 1, &e);
    struct fake_dest f;
    struct recs r;
    struct sink_records sr;
    struct payload m = meta("retry-1.gz");

    (void)state;
    fake_dest_init(&f, 1 << 20, 1 << 20);
    f.fail_part = 2;
    recs_make(&r, 8 << 20, 20000);
    sr = view(&r);
    assert_int_equal(sink_deliver(s, &f.d, c, &sr, &m, &e), DEST_RETRY);
    assert_non_null(strstr(e.msg, "scripted part failure"));
    assert_int_equal(f.aborts, 1);
    assert_int_equal(f.finishes, 0);
    assert_false(f.completed);
    assert_int_equal(sink_deliver(s, &f.d, c, &sr, &m, &e), DEST_OK);
    assert_int_equal(f.begins, 2);
    assert_int_equal(f.aborts, 1);
    check_gzip(&f.got, &r);
    /* A permanent failure is passed on as such. */
    f.fail_part = f.parts + 1;
    f.status = DEST_FAIL;
    assert_int_equal(sink_deliver(s, &f.d, c, &sr, &m, &e), DEST_FAIL);
    assert_int_equal(f.aborts, 2);
    fake_dest_release(&f);
    recs_free(&r);
    codec_free(c);
    sink_free(s);
}

static void test_begin_and_finish_failures(void **state)
{
    struct err e = { 0 };
    struct sink *s = sink_new(&e);
    struct codec *c = codec_new(CFG_COMP_UNCOMPRESSED, -1, &e);
    struct fake_dest f;
    struct recs r;
    struct sink_records sr;
    struct payload m = meta("bf");

    (void)state;
    fake_dest_init(&f, 1 << 20, 1 << 20);
    recs_make(&r, 3 << 20, 50000);
    sr = view(&r);
    /* No upload was started: nothing to abort. */
    f.fail_begin = 1;
    assert_int_equal(sink_deliver(s, &f.d, c, &sr, &m, &e), DEST_RETRY);
    assert_non_null(strstr(e.msg, "scripted begin failure"));
    assert_int_equal(f.aborts, 0);
    assert_int_equal(f.parts, 0);
    f.fail_finish = 1;
    assert_int_equal(sink_deliver(s, &f.d, c, &sr, &m, &e), DEST_RETRY);
    assert_non_null(strstr(e.msg, "scripted finish failure"));
    assert_int_equal(f.aborts, 1);
    assert_int_equal(sink_deliver(s, &f.d, c, &sr, &m, &e), DEST_OK);
    assert_int_equal(f.got.len, r.total);
    assert_memory_equal(f.got.p, r.data, r.total);
    fake_dest_release(&f);
    recs_free(&r);
    codec_free(c);
    sink_free(s);
}

/* A small object that failed is kept: the retry of the same key sends it
 * again without reading or compressing the records; a new key does. */
static void test_retry_reuses_small_object(void **state)
{
    struct err e = { 0 };
    struct sink *s = sink_new(&e);
    struct codec *c = codec_new(CFG_COMP_GZIP, -1, &e);
    struct fake_dest f;
    struct recs r;
    struct sink_records sr;
    struct payload m = meta("k1.gz");
    unsigned gets;

    (void)state;
    fake_dest_init(&f, 0, 0);
    f.fail_deliver = 1;
    recs_make(&r, 100000, 300);
    sr = view(&r);
    assert_int_equal(sink_deliver(s, &f.d, c, &sr, &m, &e), DEST_RETRY);
    gets = r.gets;
    assert_true(gets > 0);
    assert_int_equal(sink_deliver(s, &f.d, c, &sr, &m, &e), DEST_OK);
    assert_int_equal(r.gets, gets);
    check_gzip(&f.got, &r);
    m.key = "k2.gz";
    assert_int_equal(sink_deliver(s, &f.d, c, &sr, &m, &e), DEST_OK);
    assert_int_equal(r.gets, 2 * gets);
    fake_dest_release(&f);
    recs_free(&r);
    codec_free(c);
    sink_free(s);
}

/* ZIP: the entry is named by a UUID derived from the key, the same on
 * every attempt. */
static void test_zip_entry_from_key(void **state)
{
    struct err e = { 0 };
    struct sink *s = sink_new(&e);
    struct codec *c = codec_new(CFG_COMP_ZIP, -1, &e);
    struct fake_dest f;
    struct recs r;
    struct sink_records sr;
    struct payload m = meta("z-1.zip");
    char first[40], name[40];

    (void)state;
    fake_dest_init(&f, 0, 0);
    recs_make(&r, 5000, 100);
    sr = view(&r);
    for (int i = 0; i < 2; i++) {
        m.key = i == 0 ? "z-1.zip" : "z-2.zip";
        assert_int_equal(sink_deliver(s, &f.d, c, &sr, &m, &e), DEST_OK);
        assert_string_equal(f.encoding, "zip");
        /* Local header: the name is at 30, its length at 26. */
        assert_true(f.got.len > 30 + 36);
        assert_int_equal(f.got.p[26], 36);
        memcpy(name, f.got.p + 30, 36);
        name[36] = '\0';
        assert_int_equal(name[14], '4');
        if (i == 0)
            memcpy(first, name, sizeof(name));
        else
            assert_string_not_equal(first, name);
    }
    m.key = "z-1.zip";
    assert_int_equal(sink_deliver(s, &f.d, c, &sr, &m, &e), DEST_OK);
    assert_memory_equal(f.got.p + 30, first, 36);
    fake_dest_release(&f);
    recs_free(&r);
    codec_free(c);
    sink_free(s);
    sink_free(NULL);
}

/* AppendDelimiterToRecord: '\n' after every record, small or large. */
static void test_newline_delimiter(void **state)
{
    struct err e = { 0 };
    struct sink *s = sink_new(&e);
    struct codec *c = codec_new(CFG_COMP_UNCOMPRESSED, -1, &e);
    struct fake_dest f;
    struct recs r;
    struct sink_records sr;
    struct payload m = meta("nl");
    size_t big = 300 * 1024, at = 0;

    (void)state;
    fake_dest_init(&f, 0, 0);
    recs_make(&r, big + 3, 10);
    /* Three records: one byte, empty, and a large one. */
    r.n = 3;
    r.off[0] = 0;
    r.len[0] = 1;
    r.off[1] = 1;
    r.len[1] = 0;
    r.off[2] = 1;
    r.len[2] = big;
    sr = view(&r);
    sr.newline = 1;
    assert_int_equal(sink_deliver(s, &f.d, c, &sr, &m, &e), DEST_OK);
    assert_int_equal(f.got.len, 1 + 1 + 1 + big + 1);
    assert_int_equal(f.got.p[0], r.data[0]);
    assert_memory_equal(f.got.p + 1, "\n\n", 2);
    at = 3;
    assert_memory_equal(f.got.p + at, r.data + 1, big);
    assert_int_equal(f.got.p[at + big], '\n');
    /* A destination that takes records is refused. */
    {
        static const struct dest_type rec_type = {
            .name = "recs", .wants_records = 1,
        };
        struct dest d2 = { .type = &rec_type, .id = "dest:recs" };

        m.key = "other";
        assert_int_equal(sink_deliver(s, &d2, c, &sr, &m, &e), DEST_FAIL);
        assert_non_null(strstr(e.msg, "takes records"));
    }
    fake_dest_release(&f);
    recs_free(&r);
    codec_free(c);
    sink_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_object),
        cmocka_unit_test(test_streamed_parts),
        cmocka_unit_test(test_small_object_not_streamed),
        cmocka_unit_test(test_part_failure_aborts_and_retries),
        cmocka_unit_test(test_begin_and_finish_failures),
        cmocka_unit_test(test_retry_reuses_small_object),
        cmocka_unit_test(test_zip_entry_from_key),
        cmocka_unit_test(test_newline_delimiter),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
