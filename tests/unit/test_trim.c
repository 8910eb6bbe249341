/* trim: an unlinked file is shortened step by step and closed; a full
 * queue and trim_free() close files at once; bad input is a no-op. The
 * files are sparse, so nothing here writes much. A dup() of each fd shows
 * the shared inode's size as the thread shortens it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../delivery/trim.h"

static char dir[256];

static int setup(void **state)
{
    const char *t = getenv("TMPDIR");

    (void)state;
    snprintf(dir, sizeof(dir), "%s/test_trim.XXXXXX", t ? t : "/tmp");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(dir);
}

/* An unlinked sparse file of 'size' bytes; *peek gets a dup of it. */
static int removed_file(off_t size, int *peek)
{
    char path[300];
    int fd;

    snprintf(path, sizeof(path), "%s/f", dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, size), 0);
    assert_int_equal(unlink(path), 0);
    *peek = dup(fd);
    assert_true(*peek >= 0);
    return fd;
}

static off_t size_of(int fd)
{
    struct stat st;

    assert_int_equal(fstat(fd, &st), 0);
    return st.st_size;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_shrinks_in_steps(void **state)
{
    struct trim *t;
    struct err e;
    off_t size = 10 * (off_t)TRIM_STEP, last, seen = size;
    int peek, fd, steps_seen = 0;
    int64_t t0 = now_ms();

    (void)state;
    assert_int_equal(trim_new("test", &t, &e), 0);
    fd = removed_file(size, &peek);
    trim_file(t, fd);
    /* Ends at one step or less; the sizes on the way are whole steps. */
    while ((last = size_of(peek)) > (off_t)TRIM_STEP &&
           now_ms() - t0 < 10000) {
        assert_int_equal(last % (off_t)TRIM_STEP, 0);
        if (last < seen) {
            steps_seen++;
            seen = last;
        }
        usleep(1000);
    }
    assert_true(last <= (off_t)TRIM_STEP);
    assert_true(steps_seen >= 2);
    /* Nine steps with a pause after each. */
    assert_true(now_ms() - t0 >= 8 * TRIM_PAUSE_MS);
    trim_free(t);
    close(peek);
}

static void test_free_closes_at_once(void **state)
{
    struct trim *t;
    struct err e;
    int peek[TRIM_MAX_QUEUED + 2];
    int64_t t0;

    (void)state;
    assert_int_equal(trim_new("test", &t, &e), 0);
    /* 64 MiB each: paced, they would take 320 ms apiece. */
    for (int i = 0; i < TRIM_MAX_QUEUED + 2; i++)
        trim_file(t, removed_file((off_t)64 << 20, &peek[i]));
    t0 = now_ms();
    trim_free(t);
    assert_true(now_ms() - t0 < 200);
    for (int i = 0; i < TRIM_MAX_QUEUED + 2; i++) {
        /* Only the first one was shortened, and at most a little. */
        assert_true(size_of(peek[i]) > ((off_t)32 << 20));
        close(peek[i]);
    }
}

static void test_bad_input(void **state)
{
    struct trim *t;
    struct err e;

    (void)state;
    trim_free(NULL);
    assert_int_equal(trim_new("test", &t, &e), 0);
    trim_file(t, -1);
    trim_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shrinks_in_steps),
        cmocka_unit_test(test_free_closes_at_once),
        cmocka_unit_test(test_bad_input),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
