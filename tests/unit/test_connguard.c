/* connguard tests: an armed connection past its deadline is shut down (the
 * peer sees end-of-file), a disarmed or removed one is left alone, and
 * re-arming pushes the deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../delivery/connguard.h"
#include "../../delivery/log.h"
#include "../../delivery/util.h"

/* 1 when fd reads end-of-file within ms, 0 when nothing happens. */
static int eof_within(int fd, int ms)
{
    struct pollfd p = { fd, POLLIN, 0 };
    char c;

    if (poll(&p, 1, ms) != 1)
        return 0;
    return read(fd, &c, 1) == 0;
}

static void test_cut_disarm_remove(void **state)
{
    struct connguard_entry a = { 0 }, b = { 0 }, c = { 0 };
    struct connguard *g;
    int sa[2], sb[2], sc[2];
    int64_t t0 = util_mono_ms();
    struct err e;

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sa), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sb), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sc), 0);
    assert_int_equal(connguard_new(1, &g, &e), 0);
    connguard_add(g, &a, sa[0]);
    connguard_add(g, &b, sb[0]);
    connguard_add(g, &c, sc[0]);
    connguard_disarm(&b);
    connguard_remove(g, &c);
    assert_int_equal(eof_within(sa[1], 3000), 1);
    assert_true(util_mono_ms() - t0 >= 900);
    assert_int_equal(eof_within(sb[1], 300), 0);
    assert_int_equal(eof_within(sc[1], 10), 0);
    assert_int_equal(connguard_cut(g), 1);
    /* Re-armed: cut a timeout later, not before. */
    t0 = util_mono_ms();
    connguard_arm(g, &b);
    assert_int_equal(eof_within(sb[1], 3000), 1);
    assert_true(util_mono_ms() - t0 >= 900);
    connguard_remove(g, &a);
    connguard_remove(g, &b);
    connguard_remove(g, &b);            /* twice is harmless */
    connguard_free(g);
    connguard_free(NULL);
    for (int i = 0; i < 2; i++) {
        close(sa[i]);
        close(sb[i]);
        close(sc[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cut_disarm_remove),
    };

    log_init(0, (enum log_level)(LOG_ERROR + 1));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
