/* The spool envelope of Kinesis records: round trip, every truncation,
 * and records that are not envelopes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../delivery/kenv.h"

static void test_round_trip(void **state)
{
    struct kenv_meta m = { "shardId-000000000003",
                           "49590338271490256608559692538361571095921575989136588898",
                           "pk-a", 4, 7, 1700000000123LL };
    struct kenv_meta got;
    unsigned char buf[256];
    const unsigned char *data;
    size_t hs = kenv_size(&m), len;

    (void)state;
    kenv_write(buf, &m);
    memcpy(buf + hs, "hello", 5);
    assert_int_equal(kenv_read(buf, hs + 5, &got, &data, &len), 0);
    assert_string_equal(got.shard_id, m.shard_id);
    assert_string_equal(got.seq, m.seq);
    assert_string_equal(got.pk, "pk-a");
    assert_int_equal(got.pk_len, 4);
    assert_int_equal(got.subseq, 7);
    assert_true(got.arrival_ms == 1700000000123LL);
    assert_int_equal(len, 5);
    assert_memory_equal(data, "hello", 5);
    /* Empty data is a record too. */
    assert_int_equal(kenv_read(buf, hs, &got, &data, &len), 0);
    assert_int_equal(len, 0);
    /* Every shorter prefix is refused (exact-size copies for ASan). */
    for (size_t n = 0; n < hs; n++) {
        unsigned char *p = malloc(n + 1);
        memcpy(p, buf, n);
        assert_int_equal(kenv_read(p, n, &got, &data, &len), -1);
        free(p);
    }
}

static void test_not_envelopes(void **state)
{
    struct kenv_meta got;
    const unsigned char *data;
    size_t len;
    unsigned char buf[64];

    (void)state;
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(kenv_read(buf, sizeof(buf), &got, &data, &len), -1);
    buf[0] = 'K';
    buf[1] = 2;                         /* unknown version */
    assert_int_equal(kenv_read(buf, sizeof(buf), &got, &data, &len), -1);
    buf[1] = 1;
    buf[2] = buf[3] = 1;
    buf[4] = 1;
    buf[5] = 0;                         /* strings without their NULs */
    assert_int_equal(kenv_read(buf, sizeof(buf), &got, &data, &len), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_not_envelopes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
