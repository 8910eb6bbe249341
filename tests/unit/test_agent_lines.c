/* test_agent_lines.c - the line splitter: records with their newline,
 * lines across reads, multi-line assembly, long lines split or skipped,
 * header lines, and the offsets a checkpoint may store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../agent/lines.h"

struct out {
    char     rec[16][256];
    size_t   len[16];
    uint64_t end[16];
    size_t   n;
    int      stop_at;
};

static int collect(void *ctx, const char *p1, size_t n1, const char *p2,
                   size_t n2, uint64_t end)
{
    struct out *o = ctx;

    assert_true(o->n < 16 && n1 + n2 < 256);
    memcpy(o->rec[o->n], p1, n1);
    if (p2 != NULL)
        memcpy(o->rec[o->n] + n1, p2, n2);
    o->len[o->n] = n1 + n2;
    o->rec[o->n][n1 + n2] = '\0';
    o->end[o->n] = end;
    o->n++;
    return o->stop_at > 0 && (int)o->n >= o->stop_at ? -1 : 0;
}

static void feed(struct lines *l, const char *s)
{
    char b[512];
    struct err e = { 0, "" };

    memcpy(b, s, strlen(s));
    assert_int_equal(lines_feed(l, b, strlen(s), &e), 0);
}

static struct lines_conf conf(const regex_t *re, size_t max)
{
    struct lines_conf c = { re, max, "\n", 1, 0, 0 };

    return c;
}

static void test_single(void **state)
{
    struct lines_conf c = conf(NULL, 100);
    struct lines l;
    struct out o = { 0 };

    (void)state;
    lines_init(&l, &c, "f", collect, &o);
    feed(&l, "one\ntw");
    assert_int_equal(o.n, 1);
    assert_string_equal(o.rec[0], "one\n");     /* the newline is kept */
    assert_int_equal(o.end[0], 4);
    assert_int_equal(lines_done(&l), 4);
    assert_true(lines_pending(&l));
    feed(&l, "o\n\nthree");
    assert_int_equal(o.n, 3);
    assert_string_equal(o.rec[1], "two\n");
    assert_string_equal(o.rec[2], "\n");         /* an empty line too */
    assert_int_equal(o.end[2], 9);
    assert_int_equal(lines_done(&l), 9);
    /* A last line without newline waits, unless flushed as final. */
    assert_int_equal(lines_flush(&l, 0, NULL), 0);
    assert_int_equal(o.n, 3);
    assert_int_equal(lines_flush(&l, 1, NULL), 0);
    assert_int_equal(o.n, 4);
    assert_string_equal(o.rec[3], "three");
    assert_int_equal(o.end[3], 14);
    assert_false(lines_pending(&l));
    /* Restart at an offset. */
    lines_reset(&l, 100);
    feed(&l, "x\n");
    assert_int_equal(o.end[4], 102);
    lines_release(&l);
}

static void test_multiline(void **state)
{
    regex_t re;
    struct lines_conf c;
    struct lines l;
    struct out o = { 0 };

    (void)state;
    assert_int_equal(regcomp(&re, "^[0-9]{4}-", REG_EXTENDED | REG_NOSUB),
                     0);
    c = conf(&re, 100);
    lines_init(&l, &c, "f", collect, &o);
    feed(&l, "orphan\n2024-01 a\n  at x\n  at y\n2024-02 b\n");
    assert_int_equal(o.n, 2);
    assert_string_equal(o.rec[0], "orphan\n");
    assert_string_equal(o.rec[1], "2024-01 a\n  at x\n  at y\n");
    assert_int_equal(o.end[1], 7 + 10 + 7 + 7);
    /* The record in progress holds the checkpoint back. */
    assert_int_equal(lines_done(&l), 31);
    feed(&l, " more\n");
    assert_int_equal(o.n, 2);
    assert_int_equal(lines_flush(&l, 0, NULL), 0);   /* idle: emit it */
    assert_int_equal(o.n, 3);
    assert_string_equal(o.rec[2], "2024-02 b\n more\n");
    assert_int_equal(lines_done(&l), 31 + 16);
    /* A record that would pass the limit is cut at a line boundary. */
    lines_reset(&l, 0);
    o.n = 0;
    c = conf(&re, 20);
    lines_release(&l);
    lines_init(&l, &c, "f", collect, &o);
    feed(&l, "2024-03 abcdef\n  0123456789\n2024-");
    assert_int_equal(o.n, 1);
    feed(&l, "04\n");
    assert_int_equal(o.n, 2);
    assert_string_equal(o.rec[0], "2024-03 abcdef\n");
    assert_string_equal(o.rec[1], "  0123456789\n");
    lines_release(&l);
    regfree(&re);
}

static void test_long_split(void **state)
{
    struct lines_conf c = { NULL, 8, "|\n", 2, 0, 0 };
    struct lines l;
    struct out o = { 0 };

    (void)state;
    lines_init(&l, &c, "f", collect, &o);
    feed(&l, "ok\n0123456789ab");       /* 12 bytes and no end yet */
    feed(&l, "cdef\nnext\n");
    assert_int_equal(o.n, 5);
    assert_string_equal(o.rec[0], "ok\n");
    assert_string_equal(o.rec[1], "012345|\n");  /* pieces of max 8 bytes */
    assert_int_equal(o.end[1], 3 + 6);
    assert_string_equal(o.rec[2], "6789ab|\n");
    assert_string_equal(o.rec[3], "cdef\n");
    assert_int_equal(o.end[3], 3 + 17);
    assert_string_equal(o.rec[4], "next\n");
    assert_int_equal(l.split, 1);
    /* Exactly max bytes with the newline is not long. */
    feed(&l, "1234567\n");
    assert_string_equal(o.rec[5], "1234567\n");
    lines_release(&l);
}

static void test_long_skip_and_header(void **state)
{
    struct lines_conf c = { NULL, 8, "\n", 1, 1, 2 };
    struct lines l;
    struct out o = { 0 };

    (void)state;
    lines_init(&l, &c, "f", collect, &o);
    feed(&l, "h1\nh2\nkeep\n0123456789");
    assert_int_equal(o.n, 1);
    assert_string_equal(o.rec[0], "keep\n");
    assert_int_equal(o.end[0], 11);
    feed(&l, "0123456789\nafter\n");
    assert_int_equal(o.n, 2);
    assert_string_equal(o.rec[1], "after\n");
    assert_int_equal(l.skipped, 1);
    assert_int_equal(lines_done(&l), 11 + 21 + 6);
    /* Headers are skipped again only from offset 0. */
    lines_reset(&l, 5);
    feed(&l, "h1\n");
    assert_string_equal(o.rec[2], "h1\n");
    lines_reset(&l, 0);
    feed(&l, "h1\nh2\nx\n");
    assert_int_equal(o.n, 4);
    assert_string_equal(o.rec[3], "x\n");
    lines_release(&l);
}

static void test_stop(void **state)
{
    struct lines_conf c = conf(NULL, 100);
    struct lines l;
    struct out o = { 0 };
    char b[] = "a\nb\nc\n";
    struct err e = { 0, "" };

    (void)state;
    o.stop_at = 2;
    lines_init(&l, &c, "f", collect, &o);
    assert_int_equal(lines_feed(&l, b, 6, &e), -1);
    assert_int_equal(o.n, 2);
    lines_release(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single),
        cmocka_unit_test(test_multiline),
        cmocka_unit_test(test_long_split),
        cmocka_unit_test(test_long_skip_and_header),
        cmocka_unit_test(test_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
