/* DirectPutQuotas token buckets: prefixes, refill, one second of burst,
 * records larger than the byte burst, and no quotas at all. Time is
 * passed in, so nothing sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../delivery/quota.h"

static struct iovec recs[8];
static char data[4096];

static void fill(size_t len)
{
    for (size_t i = 0; i < 8; i++)
        recs[i] = (struct iovec){ data, len };
}

static void test_unlimited(void **state)
{
    struct cfg_quotas c = { 0, 0, 0 };
    struct quota q;

    (void)state;
    fill(100);
    quota_init(&q, &c, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(quota_take(&q, recs, 8, 0), 8);
    assert_int_equal(quota_take(&q, recs, 0, 0), 0);
    quota_release(&q);
}

static void test_records_prefix_and_refill(void **state)
{
    struct cfg_quotas c = { .records_ps = 10 };
    struct quota q;

    (void)state;
    fill(1);
    quota_init(&q, &c, 1000);
    /* One second of burst: 10 records, in order. */
    assert_int_equal(quota_take(&q, recs, 8, 1000), 8);
    assert_int_equal(quota_take(&q, recs, 8, 1000), 2);
    assert_int_equal(quota_take(&q, recs, 8, 1000), 0);
    /* 10 per second: 0.25 s gives 2 (2.5 rounded down), 0.05 s more
     * the half left plus 0.5 = 1. */
    assert_int_equal(quota_take(&q, recs, 8, 251000), 2);
    assert_int_equal(quota_take(&q, recs, 8, 301000), 1);
    /* Time going backwards (two threads) adds nothing. */
    assert_int_equal(quota_take(&q, recs, 8, 200000), 0);
    /* A long pause fills the bucket to one second, not more. */
    assert_int_equal(quota_take(&q, recs, 8, 100000000), 8);
    assert_int_equal(quota_take(&q, recs, 8, 100000000), 2);
    quota_release(&q);
}

static void test_requests(void **state)
{
    struct cfg_quotas c = { .requests_ps = 2 };
    struct quota q;

    (void)state;
    fill(10);
    quota_init(&q, &c, 0);
    assert_int_equal(quota_take(&q, recs, 8, 0), 8);
    assert_int_equal(quota_take(&q, recs, 1, 0), 1);
    assert_int_equal(quota_take(&q, recs, 8, 0), 0);
    assert_int_equal(quota_take(&q, recs, 8, 499999), 0);
    assert_int_equal(quota_take(&q, recs, 8, 500000), 8);
    quota_release(&q);
}

static void test_bytes(void **state)
{
    struct cfg_quotas c = { .bytes_ps = 1000 };
    struct quota q;

    (void)state;
    fill(300);
    quota_init(&q, &c, 0);
    assert_int_equal(quota_take(&q, recs, 8, 0), 3);   /* 900 of 1000 */
    assert_int_equal(quota_take(&q, recs, 8, 0), 0);   /* 100 left */
    assert_int_equal(quota_take(&q, recs, 8, 200000), 1);  /* 300 */
    /* A record larger than the whole burst passes once the bucket is
     * full, and the debt then holds the next ones back. */
    quota_take(&q, recs, 8, 5000000);
    recs[0].iov_len = 4000;
    assert_int_equal(quota_take(&q, recs, 1, 10000000), 1);
    recs[0].iov_len = 300;
    assert_int_equal(quota_take(&q, recs, 1, 12000000), 0);
    assert_int_equal(quota_take(&q, recs, 1, 14000000), 1);
    quota_release(&q);
}

static void test_all_three(void **state)
{
    struct cfg_quotas c = { .records_ps = 5, .requests_ps = 100,
                            .bytes_ps = 250 };
    struct quota q;

    (void)state;
    fill(100);
    quota_init(&q, &c, 0);
    /* Bytes bind first (2 x 100 of 250), then records (5). */
    assert_int_equal(quota_take(&q, recs, 8, 0), 2);
    fill(1);
    assert_int_equal(quota_take(&q, recs, 8, 0), 3);
    assert_int_equal(quota_take(&q, recs, 8, 0), 0);
    quota_release(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unlimited),
        cmocka_unit_test(test_records_prefix_and_refill),
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_all_three),
    };
    memset(data, 'x', sizeof(data));
    return cmocka_run_group_tests_name("quota", tests, NULL, NULL);
}
