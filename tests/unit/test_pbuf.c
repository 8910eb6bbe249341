/* Partition buffers: records of one key set accumulate across batches;
 * a buffer is due by size, by interval (time passed in), by the byte cap
 * (largest first) or at drain; a batch is ready only when ended and every
 * buffer holding it is done; MaxActivePartitions; the content hash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../delivery/pbuf.h"

static struct pbuf *make(uint64_t size, int64_t interval, uint64_t cap,
                         size_t max)
{
    struct pbuf_opts o = { size, interval, cap, max };
    struct pbuf *pb;
    struct err e = { 0, "" };

    assert_int_equal(pbuf_new(&o, &pb, &e), 0);
    return pb;
}

static int begin(struct pbuf *pb, uint64_t id)
{
    struct spool_batch b = { .id = id };
    struct err e = { 0, "" };
    int slot;

    assert_int_equal(pbuf_batch_begin(pb, &b, &slot, &e), 0);
    return slot;
}

static int add(struct pbuf *pb, int slot, const char *keys, const char *data,
               int64_t arrival, uint64_t tag, int64_t now)
{
    struct err e = { 0, "" };
    int rc = pbuf_add(pb, slot, keys, strlen(keys), data, strlen(data),
                      arrival, tag, now, &e);

    if (rc != 0)
        assert_int_equal(e.code, ERR_FULL);
    return rc;
}

/* The records of a taken buffer, concatenated with '|'. */
static const char *contents(const struct pbuf_part *p)
{
    static char out[256];
    struct pbuf_info in;
    size_t at = 0;

    pbuf_info(p, &in);
    for (uint32_t i = 0; i < in.count; i++) {
        const void *d;
        size_t len;

        pbuf_rec(p, i, &d, &len);
        if (i > 0)
            out[at++] = '|';
        memcpy(out + at, d, len);
        at += len;
    }
    out[at] = '\0';
    return out;
}

static void test_bad_options(void **state)
{
    struct pbuf_opts o = { 100, 0, 1000, 10 };
    struct pbuf *pb = (struct pbuf *)1;
    struct err e = { 0, "" };

    (void)state;
    assert_int_equal(pbuf_new(&o, &pb, &e), -1);
    assert_int_equal(e.code, ERR_INVAL);
    assert_null(pb);
    pbuf_free(NULL);
}

/* Two batches feed two partitions; nothing is due before the interval;
 * each partition becomes one object holding both batches' records. */
static void test_across_batches_and_interval(void **state)
{
    struct pbuf *pb = make(1000, 2000, 1 << 20, 10);
    struct spool_batch b;
    struct pbuf_part *p, *q;
    struct pbuf_info in;
    int s1, s2;

    (void)state;
    s1 = begin(pb, 1);
    assert_int_equal(add(pb, s1, "a", "a1", 100, 1, 1000), 0);
    assert_int_equal(add(pb, s1, "b", "b1", 101, 2, 1000), 0);
    pbuf_batch_end(pb, s1);
    assert_int_equal(pbuf_ready(pb, &b), 0);
    s2 = begin(pb, 2);
    assert_int_equal(add(pb, s2, "a", "a2", 90, 3, 1500), 0);
    assert_int_equal(add(pb, s2, "b", "b2", 102, 4, 1600), 0);
    pbuf_batch_end(pb, s2);
    assert_int_equal(pbuf_open_count(pb), 2);
    assert_int_equal(pbuf_bytes(pb), 8);
    /* Counted from each partition's first record. */
    assert_int_equal(pbuf_next_due(pb, 1200), 1800);
    assert_null(pbuf_take(pb, 2999, 0));
    p = pbuf_take(pb, 3000, 0);
    assert_non_null(p);
    pbuf_info(p, &in);
    assert_int_equal(in.count, 2);
    assert_int_equal(in.first_batch, 1);
    assert_int_equal(in.oldest_ms, 90);
    assert_string_equal(contents(p), "a1|a2");
    q = pbuf_take(pb, 3000, 0);
    assert_non_null(q);
    assert_string_equal(contents(q), "b1|b2");
    assert_null(pbuf_take(pb, 3000, 0));
    assert_int_equal(pbuf_next_due(pb, 3000), -1);
    /* Batches wait for both partitions. */
    pbuf_done(pb, p);
    assert_int_equal(pbuf_ready(pb, &b), 0);
    pbuf_done(pb, q);
    assert_int_equal(pbuf_ready(pb, &b), 1);
    assert_int_equal(pbuf_ready(pb, &b), 1);
    assert_int_equal(pbuf_ready(pb, &b), 0);
    assert_int_equal(pbuf_bytes(pb), 0);
    pbuf_free(pb);
}

/* A buffer closes at the size hint; the next record of its keys opens a
 * new one, and a record that would overflow goes to the next. */
static void test_size_flush(void **state)
{
    struct pbuf *pb = make(6, 60000, 1 << 20, 10);
    struct pbuf_part *p;
    struct spool_batch b;
    int s;

    (void)state;
    s = begin(pb, 7);
    assert_int_equal(add(pb, s, "k", "1234", 1, 1, 0), 0);
    /* 4 + 4 > 6: the first closes before this record. */
    assert_int_equal(add(pb, s, "k", "5678", 1, 2, 0), 0);
    assert_int_equal(pbuf_next_due(pb, 0), 0);
    assert_int_equal(add(pb, s, "k", "90", 1, 3, 0), 0);
    /* 6 bytes reached: closed at once. */
    assert_int_equal(pbuf_open_count(pb), 0);
    p = pbuf_take(pb, 0, 0);
    assert_string_equal(contents(p), "1234");
    pbuf_done(pb, p);
    p = pbuf_take(pb, 0, 0);
    assert_string_equal(contents(p), "5678|90");
    pbuf_done(pb, p);
    assert_null(pbuf_take(pb, 0, 0));
    /* Not ended yet: held although no buffer has it. */
    assert_int_equal(pbuf_ready(pb, &b), 0);
    pbuf_batch_end(pb, s);
    assert_int_equal(pbuf_ready(pb, &b), 1);
    assert_int_equal(b.id, 7);
    /* One record bigger than the hint is an object on its own. */
    s = begin(pb, 8);
    assert_int_equal(add(pb, s, "k", "0123456789", 1, 4, 0), 0);
    p = pbuf_take(pb, 0, 0);
    assert_string_equal(contents(p), "0123456789");
    pbuf_done(pb, p);
    pbuf_batch_end(pb, s);
    assert_int_equal(pbuf_ready(pb, &b), 1);
    assert_int_equal(b.id, 8);
    pbuf_free(pb);
}

/* Over the byte cap the largest buffer is due early, only while over. */
static void test_cap_flush(void **state)
{
    struct pbuf *pb = make(1000, 60000, 10, 10);
    struct pbuf_part *p;
    int s;

    (void)state;
    s = begin(pb, 1);
    assert_int_equal(add(pb, s, "small", "xx", 1, 1, 0), 0);
    assert_int_equal(add(pb, s, "big", "yyyyyy", 1, 2, 0), 0);
    assert_null(pbuf_take(pb, 0, 0));
    assert_int_equal(add(pb, s, "small", "zzz", 1, 3, 0), 0);
    assert_int_equal(pbuf_bytes(pb), 11);
    assert_int_equal(pbuf_next_due(pb, 0), 0);
    p = pbuf_take(pb, 0, 0);
    assert_string_equal(contents(p), "yyyyyy");
    /* Taken buffers still count until done. */
    assert_non_null(pbuf_take(pb, 0, 0));
    pbuf_free(pb);
}

/* MaxActivePartitions bounds open buffers; a taken one frees its place. */
static void test_max_partitions(void **state)
{
    struct pbuf *pb = make(1000, 1000, 1 << 20, 2);
    struct pbuf_part *p;
    struct spool_batch b;
    int s;

    (void)state;
    s = begin(pb, 1);
    assert_int_equal(add(pb, s, "a", "1", 1, 1, 0), 0);
    assert_int_equal(add(pb, s, "b", "2", 1, 2, 0), 0);
    assert_int_equal(add(pb, s, "c", "3", 1, 3, 0), -1);
    /* Existing partitions still take records. */
    assert_int_equal(add(pb, s, "a", "4", 1, 4, 0), 0);
    p = pbuf_take(pb, 1000, 0);
    assert_int_equal(add(pb, s, "c", "5", 1, 5, 1000), 0);
    pbuf_done(pb, p);
    pbuf_batch_end(pb, s);
    assert_int_equal(pbuf_ready(pb, &b), 0);
    while ((p = pbuf_take(pb, 0, 1)) != NULL)
        pbuf_done(pb, p);
    assert_int_equal(pbuf_ready(pb, &b), 1);
    pbuf_free(pb);
}

/* A size rollover replaces a buffer rather than opening one more, so it
 * never counts against MaxActivePartitions. */
static void test_rollover_at_max(void **state)
{
    struct pbuf *pb = make(6, 60000, 1 << 20, 1);
    struct pbuf_part *p;
    int s;

    (void)state;
    s = begin(pb, 1);
    assert_int_equal(add(pb, s, "k", "1234", 1, 1, 0), 0);
    assert_int_equal(add(pb, s, "k", "5678", 1, 2, 0), 0);
    assert_int_equal(pbuf_open_count(pb), 1);
    assert_int_equal(add(pb, s, "j", "9", 1, 3, 0), -1);
    p = pbuf_take(pb, 0, 0);
    assert_string_equal(contents(p), "1234");
    pbuf_done(pb, p);
    assert_null(pbuf_take(pb, 0, 0));
    pbuf_free(pb);
}

/* Drain takes everything; interleaved batches and buffers release each
 * batch exactly when its last buffer is done, and slots are reused. */
static void test_drain_and_refcounts(void **state)
{
    struct pbuf *pb = make(1000, 60000, 1 << 20, 10);
    struct pbuf_part *pa, *pb2, *pc;
    struct spool_batch b;
    int s1, s2, s3;

    (void)state;
    s1 = begin(pb, 11);
    s2 = begin(pb, 12);
    assert_int_equal(add(pb, s1, "a", "1", 1, 1, 0), 0);
    assert_int_equal(add(pb, s2, "b", "2", 1, 2, 0), 0);
    assert_int_equal(add(pb, s1, "b", "3", 1, 3, 0), 0);
    assert_int_equal(add(pb, s2, "c", "4", 1, 4, 0), 0);
    assert_int_equal(add(pb, s1, "a", "5", 1, 5, 0), 0);
    pbuf_batch_end(pb, s1);
    pbuf_batch_end(pb, s2);
    assert_null(pbuf_take(pb, 0, 0));
    pa = pbuf_take(pb, 0, 1);
    pb2 = pbuf_take(pb, 0, 1);
    pc = pbuf_take(pb, 0, 1);
    assert_non_null(pc);
    assert_null(pbuf_take(pb, 0, 1));
    assert_string_equal(contents(pa), "1|5");
    assert_string_equal(contents(pb2), "2|3");
    assert_string_equal(contents(pc), "4");
    pbuf_done(pb, pa);
    assert_int_equal(pbuf_ready(pb, &b), 0);
    pbuf_done(pb, pb2);
    assert_int_equal(pbuf_ready(pb, &b), 1);
    assert_int_equal(b.id, 11);
    assert_int_equal(pbuf_ready(pb, &b), 0);
    /* Slot reuse: a new batch while 12 is still held. */
    s3 = begin(pb, 13);
    assert_int_equal(s3, s1);
    pbuf_batch_end(pb, s3);
    pbuf_done(pb, pc);
    assert_int_equal(pbuf_ready(pb, &b), 1);
    assert_int_equal(pbuf_ready(pb, &b), 1);
    assert_int_equal(pbuf_ready(pb, &b), 0);
    pbuf_free(pb);
}

/* The same keys and records give the same hash (a re-delivery overwrites
 * its object); other contents another. */
static void test_hash(void **state)
{
    struct pbuf *pb = make(1000, 1000, 1 << 20, 10);
    struct pbuf_part *p;
    struct pbuf_info in;
    uint64_t h[3];
    int s;

    (void)state;
    for (int round = 0; round < 3; round++) {
        s = begin(pb, 1);
        assert_int_equal(add(pb, s, "k", "x", 1, 1, 0), 0);
        assert_int_equal(add(pb, s, round == 2 ? "j" : "k", "y", 1,
                             2, 0), 0);
        pbuf_batch_end(pb, s);
        p = pbuf_take(pb, 0, 1);
        pbuf_info(p, &in);
        h[round] = in.hash;
        pbuf_done(pb, p);
        while ((p = pbuf_take(pb, 0, 1)) != NULL)
            pbuf_done(pb, p);
    }
    assert_true(h[0] == h[1]);
    assert_true(h[0] != h[2]);
    pbuf_free(pb);
}

/* Empty records and empty keys are records and keys like any other. */
static void test_empty(void **state)
{
    struct pbuf *pb = make(1000, 1000, 1 << 20, 10);
    struct pbuf_part *p;
    struct pbuf_info in;
    int s;

    (void)state;
    s = begin(pb, 1);
    assert_int_equal(add(pb, s, "", "", 1, 1, 0), 0);
    assert_int_equal(add(pb, s, "", "", 1, 2, 0), 0);
    p = pbuf_take(pb, 0, 1);
    pbuf_info(p, &in);
    assert_int_equal(in.count, 2);
    assert_int_equal(in.keys_len, 0);
    assert_string_equal(contents(p), "|");
    pbuf_free(pb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_across_batches_and_interval),
        cmocka_unit_test(test_size_flush),
        cmocka_unit_test(test_cap_flush),
        cmocka_unit_test(test_max_partitions),
        cmocka_unit_test(test_rollover_at_max),
        cmocka_unit_test(test_drain_and_refcounts),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_empty),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
