/* The watermark Kinesis checkpoints follow: spool_committed_below() as
 * batches are sealed and committed in any order, and across a reopen
 * (recovered batches). A checkpoint may only cover records below it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "../../delivery/spool.h"

static char dir[64];

static struct spool *open_sp(void)
{
    struct spool_opts o;
    struct spool *sp;
    struct err e = { 0, "" };

    memset(&o, 0, sizeof(o));
    o.dir = dir;
    o.name = "k";
    o.fsync = 0;
    if (spool_open(&o, &sp, &e) != 0)
        fail_msg("spool_open: %s", e.msg);
    return sp;
}

/* n records of 100 bytes in one append; the first seq. */
static uint64_t append(struct spool *sp, size_t n)
{
    static char data[100];
    struct iovec iov[8];
    uint64_t first = 0;
    struct err e = { 0, "" };

    for (size_t i = 0; i < n; i++)
        iov[i] = (struct iovec){ data, sizeof(data) };
    assert_int_equal(spool_append(sp, iov, n, 1, &first, &e), 0);
    return first;
}

static void test_watermark(void **state)
{
    struct spool *sp;
    struct spool_batch b1, b2;
    struct err e = { 0, "" };
    uint64_t a, b, c;

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_kcp.XXXXXX");
    assert_non_null(mkdtemp(dir));
    sp = open_sp();
    a = append(sp, 3);
    /* Nothing committed: the watermark is the first record. */
    assert_int_equal(spool_committed_below(sp), a);
    b = append(sp, 3);
    c = append(sp, 2);
    assert_int_equal(spool_committed_below(sp), a);
    /* Two batches of 3 records (300 bytes each); 2 records unsealed. */
    assert_int_equal(spool_seal(sp, 300, 0, &b1, &e), 1);
    assert_int_equal(spool_seal(sp, 300, 0, &b2, &e), 1);
    assert_int_equal(b1.first_seq, a);
    assert_int_equal(b2.first_seq, b);
    /* The later batch first: nothing of it may be checkpointed yet. */
    assert_int_equal(spool_commit(sp, &b2, &e), 0);
    assert_int_equal(spool_committed_below(sp), a);
    assert_int_equal(spool_commit(sp, &b1, &e), 0);
    /* Both done: up to the first unsealed record. */
    assert_int_equal(spool_committed_below(sp), c);
    spool_close(sp);
    /* After a reopen the unsealed records are still not committed. */
    sp = open_sp();
    assert_true(spool_committed_below(sp) <= c);
    assert_int_equal(spool_seal(sp, 1 << 20, 0, &b1, &e), 1);
    assert_int_equal(b1.first_seq, c);
    assert_int_equal(spool_committed_below(sp), c);
    assert_int_equal(spool_commit(sp, &b1, &e), 0);
    assert_int_equal(spool_committed_below(sp), c + 2);
    spool_close(sp);
    {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watermark),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
