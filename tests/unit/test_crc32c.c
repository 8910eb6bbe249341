/* CRC-32C: the standard check value, continuation, and the hardware and
 * table paths agreeing on every length and alignment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../delivery/crc32c.h"

static void test_check_value(void **state)
{
    (void)state;
    /* The catalogue check value of CRC-32C for "123456789". */
    assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c_portable(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c(0, "", 0), 0);
}

static void test_continuation(void **state)
{
    (void)state;
    assert_int_equal(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}

static void test_paths_agree(void **state)
{
    unsigned char buf[1100];

    (void)state;
    srand(7);
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)rand();
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n + off <= sizeof(buf); n += 37)
            assert_int_equal(crc32c(0, buf + off, n),
                             crc32c_portable(0, buf + off, n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_value),
        cmocka_unit_test(test_continuation),
        cmocka_unit_test(test_paths_agree),
    };
    return cmocka_run_group_tests_name("crc32c", tests, NULL, NULL);
}
