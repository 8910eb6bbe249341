/* test_agent_tail.c - following real files in a temp directory: start of
 * file, rotation by rename + create, copytruncate (the copy is not read
 * again), truncation, and checkpoints after acknowledgement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../agent/tail.h"
#include "../../delivery/log.h"

#define MAX_RECS 256

struct sink {
    char            text[MAX_RECS][64];
    struct ship_tag tags[MAX_RECS];
    size_t          n;
    size_t          flushes;
};

static char dir[64];

static int on_emit(void *ctx, size_t flow, const struct ship_tag *tag,
                   const char *p1, size_t n1, const char *p2, size_t n2)
{
    struct sink *s = ctx;

    (void)flow;
    assert_true(s->n < MAX_RECS && n1 + n2 < 64 && p2 == NULL);
    memcpy(s->text[s->n], p1, n1);
    s->text[s->n][n1] = '\0';
    s->tags[s->n++] = *tag;
    (void)n2;
    return 0;
}

static int on_flush(void *ctx, size_t flow)
{
    struct sink *s = ctx;

    (void)flow;
    s->flushes++;
    return 0;
}

static void append(const char *name, const char *tag, int from, int n)
{
    char p[128];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    f = fopen(p, "a");
    assert_non_null(f);
    for (int i = from; i < from + n; i++)
        fprintf(f, "%s-%04d padding padding padding padding\n", tag, i);
    fclose(f);
}

static size_t count(const struct sink *s, const char *prefix)
{
    size_t c = 0;

    for (size_t i = 0; i < s->n; i++)
        c += strncmp(s->text[i], prefix, strlen(prefix)) == 0;
    return c;
}

static void pump(struct tail *t)
{
    struct err e = { 0, "" };
    int more = 1;

    assert_int_equal(tail_scan(t, &e), 0);
    while (more)
        assert_int_equal(tail_read(t, 1 << 20, &more, &e), 0);
}

static void test_rotations(void **state)
{
    char json[512], a[160], b[320];
    struct acfg c;
    struct ckpt ck = { 0 };
    struct sink *s = calloc(1, sizeof(*s));
    struct err e = { 0, "" };
    unsigned char acked[MAX_RECS];
    struct tail *t;
    int changed = 0;

    (void)state;
    assert_non_null(s);
    snprintf(json, sizeof(json), "{\"flows\":[{\"filePattern\":\"%s/app.log*\","
             "\"deliveryStream\":\"s\",\"initialPosition\":\"START_OF_FILE\"}]}",
             dir);
    assert_int_equal(acfg_parse(&c, json, strlen(json), "t.json", &e), 0);
    append("app.log", "A", 0, 10);
    t = tail_new(&c, 1, on_emit, on_flush, s, &e);
    assert_non_null(t);
    assert_true(tail_fd(t) >= 0);
    assert_int_equal(tail_start(t, &ck, 0, &e), 0);
    pump(t);
    assert_int_equal(s->n, 10);
    assert_string_equal(s->text[0], "A-0000 padding padding padding padding\n");

    /* rename + create: the old file keeps its place under its new name,
     * lines still written to it are read, the new file from its start. */
    snprintf(a, sizeof(a), "%s/app.log", dir);
    snprintf(b, sizeof(b), "%s/app.log.1", dir);
    assert_int_equal(rename(a, b), 0);
    append("app.log.1", "A", 10, 2);
    append("app.log", "B", 0, 10);
    pump(t);
    assert_int_equal(count(s, "A-"), 12);
    assert_int_equal(count(s, "B-"), 10);

    /* copytruncate: the copy (matched by app.log*) is not read again, the
     * truncated file is read from 0. */
    snprintf(b, sizeof(b), "cp %s/app.log %s/app.log.2 && : > %s/app.log",
             dir, dir, dir);
    assert_int_equal(system(b), 0);
    append("app.log", "C", 0, 3);
    pump(t);
    assert_int_equal(count(s, "B-"), 10);
    assert_int_equal(count(s, "C-"), 3);
    assert_true(s->flushes >= 1);       /* the batch went before the copy */
    assert_int_equal(tail_count(t), 3);

    /* Checkpoints follow acknowledgement only. */
    memset(acked, 0, sizeof(acked));
    tail_ack(t, s->tags, acked, s->n);
    assert_int_equal(tail_checkpoint(t, &ck, 1, &changed, &e), 0);
    for (size_t i = 0; i < ck.n; i++)
        if (strstr(ck.v[i].path, "app.log.1") != NULL)
            assert_int_equal(ck.v[i].offset, 0);
    memset(acked, 1, sizeof(acked));
    tail_ack(t, s->tags, acked, s->n);
    assert_int_equal(tail_checkpoint(t, &ck, 0, &changed, &e), 0);
    assert_true(changed);
    assert_int_equal(ck.n, 3);
    for (size_t i = 0; i < ck.n; i++) {
        if (strstr(ck.v[i].path, "app.log.1") != NULL)
            assert_int_equal(ck.v[i].offset, 12 * 39);
        else if (strstr(ck.v[i].path, "app.log.2") != NULL)
            assert_int_equal(ck.v[i].offset, 10 * 39);
        else
            assert_int_equal(ck.v[i].offset, 3 * 39);
        assert_true(ck.v[i].fp_len > 0);
    }
    tail_free(t);

    /* A restart from that checkpoint sends nothing again; a new line is. */
    s->n = 0;
    t = tail_new(&c, 0, on_emit, on_flush, s, &e);
    assert_non_null(t);
    assert_int_equal(tail_start(t, &ck, 1, &e), 0);
    append("app.log", "C", 3, 1);
    pump(t);
    assert_int_equal(s->n, 1);
    assert_string_equal(s->text[0], "C-0003 padding padding padding padding\n");
    tail_free(t);
    ckpt_release(&ck);
    acfg_release(&c);
    free(s);
    snprintf(b, sizeof(b), "rm -rf %s/app.log*", dir);
    assert_int_equal(system(b), 0);
}

static void test_end_of_file_and_fingerprint(void **state)
{
    char json[512], p[128];
    struct acfg c;
    struct ckpt ck = { 0 };
    struct sink *s = calloc(1, sizeof(*s));
    struct err e = { 0, "" };
    struct tail *t;
    uint64_t fp;
    FILE *f;

    (void)state;
    assert_non_null(s);
    snprintf(json, sizeof(json), "{\"flows\":[{\"filePattern\":\"%s/*.txt\","
             "\"deliveryStream\":\"s\"}]}", dir);
    assert_int_equal(acfg_parse(&c, json, strlen(json), "t.json", &e), 0);
    append("old.txt", "O", 0, 5);
    t = tail_new(&c, 1, on_emit, on_flush, s, &e);
    assert_int_equal(tail_start(t, &ck, 0, &e), 0);
    append("old.txt", "O", 5, 1);
    append("new.txt", "N", 0, 2);       /* created later: from its start */
    pump(t);
    assert_int_equal(count(s, "O-"), 1);
    assert_int_equal(count(s, "N-"), 2);
    tail_free(t);
    snprintf(p, sizeof(p), "%s/old.txt", dir);
    f = fopen(p, "rb");
    assert_int_equal(tail_fingerprint(fileno(f), 10, &fp), 0);
    assert_int_equal(tail_fingerprint(fileno(f), 1000, &fp), -1);
    fclose(f);
    acfg_release(&c);
    free(s);
    snprintf(p, sizeof(p), "rm -f %s/*.txt", dir);
    assert_int_equal(system(p), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_agent_tail.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rotations),
        cmocka_unit_test(test_end_of_file_and_fingerprint),
    };
    log_init(0, LOG_WARN);
    return cmocka_run_group_tests(tests, setup, teardown);
}
