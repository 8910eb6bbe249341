/* test_spool.c - append/seal/read/commit, recovery after torn tails and
 * corruption, backpressure, segment reclaim, group commit under threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../delivery/log.h"
#include "../../delivery/spool.h"

struct fx {
    char dir[64];
    struct spool_opts o;
    struct spool *sp;
    struct spool_data d;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_spool.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->o.dir = f->dir;
    f->o.name = "t";
    f->o.fsync = 1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];

    spool_close(f->sp);
    spool_data_release(&f->d);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Close the spool (the files stay), e.g. to damage them. */
static void fx_close(struct fx *f)
{
    spool_close(f->sp);
    f->sp = NULL;
}

static void fx_open(struct fx *f)
{
    struct err e = { 0, "" };

    fx_close(f);
    if (spool_open(&f->o, &f->sp, &e) != 0)
        fail_msg("spool_open: %s", e.msg);
}

/* Append one record "<tag>-<i>" of at least 'pad' bytes; returns its seq. */
static uint64_t put(struct fx *f, const char *tag, int i, size_t pad)
{
    char buf[4096];
    struct iovec iov;
    struct err e = { 0, "" };
    uint64_t seq = 0;
    int n = snprintf(buf, sizeof(buf), "%s-%d", tag, i);

    assert_true(pad < sizeof(buf));
    if ((size_t)n < pad) {
        memset(buf + n, '.', pad - (size_t)n);
        n = (int)pad;
    }
    iov.iov_base = buf;
    iov.iov_len = (size_t)n;
    if (spool_append(f->sp, &iov, 1, 1000 + i, &seq, &e) != 0)
        fail_msg("append: %s", e.msg);
    return seq;
}

static int seal(struct fx *f, uint64_t max, struct spool_batch *b)
{
    struct err e = { 0, "" };
    int r = spool_seal(f->sp, max, 0, b, &e);

    if (r < 0)
        fail_msg("seal: %s", e.msg);
    return r;
}

static void read_ok(struct fx *f, const struct spool_batch *b)
{
    struct err e = { 0, "" };

    if (spool_read(f->sp, b, &f->d, &e) != 0)
        fail_msg("read: %s", e.msg);
    assert_int_equal(f->d.n, b->count);
}

static void commit_ok(struct fx *f, const struct spool_batch *b)
{
    struct err e = { 0, "" };

    if (spool_commit(f->sp, b, &e) != 0)
        fail_msg("commit: %s", e.msg);
}

static void rec_is(const struct spool_rec *r, const char *want)
{
    assert_true(r->len >= strlen(want));
    assert_memory_equal(r->data, want, strlen(want));
}

static char *seg_file(struct fx *f, uint64_t first, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%016" PRIx64 ".seg", f->dir, first);
    return out;
}

static int count_segs(struct fx *f)
{
    DIR *d = opendir(f->dir);
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        n += strstr(de->d_name, ".seg") != NULL;
    closedir(d);
    return n;
}

static off_t file_size(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* Run spool_open with stderr captured into 'out'. */
static int open_captured(struct fx *f, struct err *e, char *out, size_t cap)
{
    char path[128];
    int saved = dup(2), fd, rc;
    ssize_t n;

    snprintf(path, sizeof(path), "%s.log", f->dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0 && saved >= 0);
    dup2(fd, 2);
    fx_close(f);
    rc = spool_open(&f->o, &f->sp, e);
    dup2(saved, 2);
    close(saved);
    n = pread(fd, out, cap - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return rc;
}

static void test_round_trip(void **state)
{
    struct fx *f = *state;
    struct spool_batch b;
    struct spool_stats st;
    char a[] = "alpha", g[] = "gamma!";
    struct iovec iov[3] = { { a, 5 }, { NULL, 0 }, { g, 6 } };
    struct err e = { 0, "" };
    uint64_t seq = 0;

    fx_open(f);
    assert_int_not_equal(spool_incarnation(f->sp), 0);
    assert_int_equal(spool_append(f->sp, iov, 3, 42, &seq, &e), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(put(f, "x", 7, 0), 4);
    spool_stats(f->sp, &st);
    assert_int_equal(st.unsealed_records, 4);
    assert_int_equal(st.unsealed_bytes, 11 + 3);
    assert_int_equal(st.oldest_unsealed_ms, 42);
    assert_int_equal(seal(f, 1 << 20, &b), 1);
    assert_int_equal(b.id, 1);
    assert_int_equal(b.first_seq, 1);
    assert_int_equal(b.last_seq, 4);
    assert_int_equal(b.count, 4);
    assert_int_equal(b.bytes, 14);
    assert_int_equal(b.oldest_arrival_ms, 42);
    read_ok(f, &b);
    rec_is(&f->d.recs[0], "alpha");
    assert_int_equal(f->d.recs[1].len, 0);
    rec_is(&f->d.recs[2], "gamma!");
    rec_is(&f->d.recs[3], "x-7");
    assert_int_equal(f->d.recs[3].seq, 4);
    assert_int_equal(f->d.recs[3].arrival_ms, 1007);
    assert_int_equal(seal(f, 1 << 20, &b), 0);
    spool_stats(f->sp, &st);
    assert_int_equal(st.pending_batches, 1);
    assert_int_equal(st.oldest_uncommitted_ms, 42);
    commit_ok(f, &b);
    spool_stats(f->sp, &st);
    assert_int_equal(st.live_bytes, 0);
    assert_int_equal(st.pending_batches, 0);
    assert_int_equal(st.unsealed_records, 0);
    assert_int_equal(st.oldest_uncommitted_ms, 0);
    assert_int_equal(spool_commit(f->sp, &b, &e), -1);
    assert_int_equal(e.code, ERR_NOTFOUND);
}

static void test_size_limit_and_span(void **state)
{
    struct fx *f = *state;
    struct spool_batch b;
    int seen = 0;

    f->o.segment_bytes = 600;
    fx_open(f);
    for (int i = 0; i < 20; i++)
        put(f, "r", i, 100);
    assert_true(count_segs(f) > 3);
    /* 100-byte records, 350-byte batches: 3 each, some across segments. */
    while (seal(f, 350, &b) == 1) {
        assert_true(b.count == 3 || b.count == 20 % 3);
        read_ok(f, &b);
        for (uint32_t i = 0; i < b.count; i++) {
            char want[16];
            snprintf(want, sizeof(want), "r-%d", seen);
            rec_is(&f->d.recs[i], want);
            assert_int_equal(f->d.recs[i].seq, (uint64_t)seen + 1);
            seen++;
        }
    }
    assert_int_equal(seen, 20);
    /* A record above the limit still makes a batch of its own. */
    put(f, "big", 0, 500);
    assert_int_equal(seal(f, 10, &b), 1);
    assert_int_equal(b.count, 1);
}

/* max_records caps the count below the byte limit; the records left over
 * keep their place and their arrival time. */
static void test_record_limit(void **state)
{
    struct fx *f = *state;
    struct spool_batch b;
    struct spool_stats ss;
    struct err e = { 0, "" };
    int seen = 0;

    fx_open(f);
    for (int i = 0; i < 10; i++)
        put(f, "r", i, 10);
    assert_int_equal(spool_seal(f->sp, 1 << 20, 3, &b, &e), 1);
    assert_int_equal(b.count, 3);
    spool_stats(f->sp, &ss);
    assert_int_equal(ss.unsealed_records, 7);
    assert_int_equal(ss.oldest_unsealed_ms, 1003);
    read_ok(f, &b);
    seen += (int)b.count;
    while (spool_seal(f->sp, 1 << 20, 3, &b, &e) == 1) {
        assert_true(b.count == 3 || b.count == 1);
        read_ok(f, &b);
        for (uint32_t i = 0; i < b.count; i++) {
            char want[16];
            snprintf(want, sizeof(want), "r-%d", seen);
            rec_is(&f->d.recs[i], want);
            seen++;
        }
    }
    assert_int_equal(seen, 10);
}

static void test_seq_survives_reopen(void **state)
{
    struct fx *f = *state;
    struct spool_batch b;

    f->o.segment_bytes = 300;
    fx_open(f);
    for (int i = 0; i < 10; i++)
        assert_int_equal(put(f, "a", i, 50), (uint64_t)i + 1);
    fx_open(f);
    assert_int_equal(put(f, "a", 10, 50), 11);
    /* Everything committed and reclaimed: the newest segment keeps it. */
    while (seal(f, 1 << 20, &b) == 1)
        commit_ok(f, &b);
    assert_int_equal(count_segs(f), 1);
    fx_open(f);
    assert_int_equal(seal(f, 1 << 20, &b), 0);
    assert_int_equal(put(f, "a", 11, 50), 12);
    assert_int_equal(seal(f, 1 << 20, &b), 1);
    assert_int_equal(b.id, 2);
    assert_int_equal(b.first_seq, 12);
}

static void test_uncommitted_batch_comes_back(void **state)
{
    struct fx *f = *state;
    struct spool_batch a, b, c, r;

    fx_open(f);
    for (int i = 0; i < 10; i++)
        put(f, "u", i, 100);
    assert_int_equal(seal(f, 400, &a), 1);      /* 1-4 */
    assert_int_equal(seal(f, 300, &b), 1);      /* 5-7 */
    assert_int_equal(seal(f, 200, &c), 1);      /* 8-9 */
    assert_int_equal(a.count, 4);
    assert_int_equal(b.count, 3);
    commit_ok(f, &b);                           /* out of order */
    fx_open(f);
    assert_int_equal(seal(f, 1 << 20, &r), 1);
    assert_memory_equal(&r, &a, sizeof(r));
    assert_int_equal(seal(f, 1 << 20, &r), 1);
    assert_memory_equal(&r, &c, sizeof(r));
    read_ok(f, &r);
    rec_is(&f->d.recs[0], "u-7");
    assert_int_equal(seal(f, 1 << 20, &r), 1);  /* the unsealed rest */
    assert_int_equal(r.id, 4);
    assert_int_equal(r.first_seq, 10);
    assert_int_equal(r.count, 1);
    read_ok(f, &a);
    rec_is(&f->d.recs[3], "u-3");
}

static void test_torn_journal_line(void **state)
{
    struct fx *f = *state;
    struct spool_batch a, r;
    char path[256], log[4096];
    struct err e = { 0, "" };
    int fd;

    fx_open(f);
    put(f, "j", 0, 10);
    put(f, "j", 1, 10);
    assert_int_equal(seal(f, 1, &a), 1);
    fx_close(f);
    snprintf(path, sizeof(path), "%s/batches.log", f->dir);
    fd = open(path, O_WRONLY | O_APPEND);
    assert_int_equal(write(fd, "S 2 2 2 1 10 10", 15), 15);
    close(fd);
    assert_int_equal(open_captured(f, &e, log, sizeof(log)), 0);
    assert_non_null(strstr(log, "torn last line"));
    assert_int_equal(seal(f, 1, &r), 1);
    assert_memory_equal(&r, &a, sizeof(r));
    assert_int_equal(seal(f, 1, &r), 1);
    assert_int_equal(r.id, 2);
    assert_int_equal(r.first_seq, 2);
    fx_open(f);                 /* the new line was not glued to the torn */
    assert_int_equal(seal(f, 1, &r), 1);
    assert_int_equal(r.id, 1);
    assert_int_equal(seal(f, 1, &r), 1);
    assert_int_equal(r.id, 2);
}

static void test_torn_tail(void **state)
{
    struct fx *f = *state;
    struct spool_batch b;
    char path[256], log[4096];
    struct err e = { 0, "" };
    off_t full;
    int fd;

    fx_open(f);
    for (int i = 0; i < 5; i++)
        put(f, "t", i, 100);
    fx_close(f);
    seg_file(f, 1, path, sizeof(path));
    full = file_size(path);
    /* Half of the last record reached the disk. */
    assert_int_equal(truncate(path, full - 60), 0);
    assert_int_equal(open_captured(f, &e, log, sizeof(log)), 0);
    assert_non_null(strstr(log, "WARN"));
    assert_non_null(strstr(log, "[spool:t]"));
    assert_non_null(strstr(log, "cut 68 bytes"));
    assert_int_equal(file_size(path), full - 128);
    assert_int_equal(put(f, "t", 5, 100), 5);
    fx_close(f);
    /* Garbage after the last record. */
    fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "\x46\x48\x53\x52garbage-garbage-garbage", 27),
                     27);
    close(fd);
    assert_int_equal(open_captured(f, &e, log, sizeof(log)), 0);
    assert_non_null(strstr(log, "cut 27 bytes"));
    assert_int_equal(file_size(path), full);
    assert_int_equal(seal(f, 1 << 20, &b), 1);
    assert_int_equal(b.count, 5);
    read_ok(f, &b);
    rec_is(&f->d.recs[3], "t-3");
    rec_is(&f->d.recs[4], "t-5");
}

/* XOR one byte of a file. */
static void flip(const char *path, off_t off)
{
    unsigned char c;
    int fd = open(path, O_RDWR);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &c, 1, off), 1);
    c ^= 0x20;
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

/* The files under <dir>/corrupt: how many, and the size of the one
 * named 'name' (-1 if absent). */
static int corrupt_files(struct fx *f, const char *name, off_t *size)
{
    char dir[128], path[512];
    struct dirent *de;
    DIR *d;
    int n = 0;

    snprintf(dir, sizeof(dir), "%s/corrupt", f->dir);
    *size = -1;
    d = opendir(dir);
    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        n++;
        if (name != NULL && strcmp(de->d_name, name) == 0) {
            snprintf(path, sizeof(path), "%s/%s", dir, name);
            *size = file_size(path);
        }
    }
    closedir(d);
    return n;
}

/* A flipped data byte in the middle of a segment: that record goes to
 * corrupt/, the ones after it are still there, and it is reported. */
static void test_corrupt_record(void **state)
{
    struct fx *f = *state;
    struct spool_batch b;
    struct spool_stats st;
    char path[256], tmp[300], log[4096];
    struct err e = { 0, "" };
    off_t bad;
    int fd;

    fx_open(f);
    for (int i = 0; i < 5; i++)
        put(f, "c", i, 100);
    fx_close(f);
    seg_file(f, 1, path, sizeof(path));
    /* One data byte of the second record flips. */
    flip(path, 32 + 128 + 28 + 10);
    /* And an earlier rewrite was cut short by a crash: its copy goes. */
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "junk", 4), 4);
    close(fd);
    assert_int_equal(open_captured(f, &e, log, sizeof(log)), 0);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_non_null(strstr(log, "ERROR"));
    assert_non_null(strstr(log, "checksum"));
    assert_non_null(strstr(log, "128 bytes holding 1 records moved to '"));
    assert_non_null(strstr(log, "/corrupt/0000000000000001.seg.160.bad'"));
    assert_int_equal(corrupt_files(f, "0000000000000001.seg.160.bad", &bad),
                     1);
    assert_int_equal(bad, 128);
    assert_int_equal(file_size(path), 32 + 4 * 128);
    spool_stats(f->sp, &st);
    assert_int_equal(st.corrupt_ranges, 1);
    assert_int_equal(st.corrupt_bytes, 128);
    assert_int_equal(st.corrupt_records, 1);
    assert_int_equal(seal(f, 1 << 20, &b), 1);
    assert_int_equal(b.count, 4);
    read_ok(f, &b);
    rec_is(&f->d.recs[0], "c-0");
    rec_is(&f->d.recs[1], "c-2");
    rec_is(&f->d.recs[3], "c-4");
    assert_int_equal(f->d.recs[1].seq, 3);
    commit_ok(f, &b);
    /* Seqs that were handed out are never reused. */
    assert_int_equal(put(f, "c", 9, 10), 6);
    /* A clean reopen finds nothing more, and the file stays. */
    assert_int_equal(open_captured(f, &e, log, sizeof(log)), 0);
    assert_null(strstr(log, "corrupt"));
    spool_stats(f->sp, &st);
    assert_int_equal(st.corrupt_ranges, 0);
    assert_int_equal(corrupt_files(f, NULL, &bad), 1);
}

/* Garbage over three records' headers: one range, three records by the
 * seq gap; a record length gone wild is damage too, not a torn tail. */
static void test_corrupt_headers_resync(void **state)
{
    struct fx *f = *state;
    struct spool_batch b;
    struct spool_stats st;
    char path[256], log[4096];
    struct err e = { 0, "" };
    unsigned char junk[300];
    int fd;

    fx_open(f);
    for (int i = 0; i < 8; i++)
        put(f, "h", i, 100);
    fx_close(f);
    seg_file(f, 1, path, sizeof(path));
    memset(junk, 0xff, sizeof(junk));
    fd = open(path, O_RDWR);
    assert_int_equal(pwrite(fd, junk, sizeof(junk), 32 + 2 * 128 + 2), 300);
    close(fd);
    assert_int_equal(open_captured(f, &e, log, sizeof(log)), 0);
    assert_non_null(strstr(log, "bad record"));
    spool_stats(f->sp, &st);
    assert_int_equal(st.corrupt_ranges, 1);
    assert_int_equal(st.corrupt_records, 3);
    assert_int_equal(st.corrupt_bytes, 3 * 128);
    assert_int_equal(seal(f, 1 << 20, &b), 1);
    assert_int_equal(b.count, 5);
    read_ok(f, &b);
    rec_is(&f->d.recs[1], "h-1");
    rec_is(&f->d.recs[2], "h-5");
}

/* A complete last record with a bad checksum is damage (moved aside),
 * not a torn tail; a short tail is torn (cut, nothing moved aside). */
static void test_corrupt_tail_vs_torn(void **state)
{
    struct fx *f = *state;
    struct spool_stats st;
    char path[256], log[4096];
    struct err e = { 0, "" };
    off_t bad;

    fx_open(f);
    for (int i = 0; i < 3; i++)
        put(f, "t", i, 100);
    fx_close(f);
    seg_file(f, 1, path, sizeof(path));
    flip(path, 32 + 2 * 128 + 50);
    assert_int_equal(open_captured(f, &e, log, sizeof(log)), 0);
    assert_non_null(strstr(log, "at least 1 records) moved to"));
    assert_int_equal(corrupt_files(f, "0000000000000001.seg.288.bad", &bad),
                     1);
    assert_int_equal(bad, 128);
    assert_int_equal(file_size(path), 32 + 2 * 128);
    spool_stats(f->sp, &st);
    assert_int_equal(st.corrupt_records, 1);
    put(f, "t", 3, 100);
    fx_close(f);
    assert_int_equal(truncate(path, 32 + 3 * 128 - 7), 0);
    assert_int_equal(open_captured(f, &e, log, sizeof(log)), 0);
    assert_non_null(strstr(log, "torn tail"));
    assert_int_equal(corrupt_files(f, NULL, &bad), 1);
    spool_stats(f->sp, &st);
    assert_int_equal(st.corrupt_ranges, 0);
}

/* Damage in an older segment: the rest of it is resynchronised, and a
 * sealed batch whose first record was lost keeps its surviving records
 * (it is not taken for committed). */
static void test_corrupt_older_segment_batch(void **state)
{
    struct fx *f = *state;
    struct spool_batch b, r;
    struct spool_stats st;
    char path[256], log[4096];
    struct err e = { 0, "" };

    f->o.segment_bytes = 600;   /* 4 records of 128 per segment */
    fx_open(f);
    for (int i = 0; i < 10; i++)
        put(f, "o", i, 100);
    assert_int_equal(seal(f, 3 * 100, &b), 1);     /* seqs 1-3 */
    assert_int_equal(seal(f, 3 * 100, &b), 1);     /* seqs 4-6 */
    assert_int_equal(b.first_seq, 4);
    fx_close(f);
    assert_true(count_segs(f) >= 3);
    seg_file(f, 1, path, sizeof(path));
    flip(path, 32 + 3 * 128 + 40);                  /* seq 4 */
    assert_int_equal(open_captured(f, &e, log, sizeof(log)), 0);
    assert_non_null(strstr(log, "moved to"));
    assert_non_null(strstr(log, "shrunk"));
    spool_stats(f->sp, &st);
    assert_int_equal(st.corrupt_records, 1);
    assert_int_equal(seal(f, 1 << 20, &r), 1);     /* batch 1 again */
    assert_int_equal(r.count, 3);
    commit_ok(f, &r);
    assert_int_equal(seal(f, 1 << 20, &r), 1);
    assert_int_equal(r.id, b.id);
    assert_int_equal(r.first_seq, 5);
    assert_int_equal(r.count, 2);
    read_ok(f, &r);
    rec_is(&f->d.recs[0], "o-4");
    commit_ok(f, &r);
    assert_int_equal(seal(f, 1 << 20, &r), 1);     /* 7-10 unsealed */
    assert_int_equal(r.first_seq, 7);
    assert_int_equal(r.count, 4);
}

/* Where the damage cannot be saved (corrupt/ is a file), the open fails
 * and says so, and the segment is left as it was. */
static void test_corrupt_cannot_save(void **state)
{
    struct fx *f = *state;
    char path[256], cpath[256], log[4096];
    struct err e = { 0, "" };
    int fd;

    fx_open(f);
    for (int i = 0; i < 3; i++)
        put(f, "x", i, 100);
    fx_close(f);
    seg_file(f, 1, path, sizeof(path));
    flip(path, 32 + 128 + 40);
    snprintf(cpath, sizeof(cpath), "%s/corrupt", f->dir);
    fd = open(cpath, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(open_captured(f, &e, log, sizeof(log)), -1);
    assert_non_null(strstr(e.msg, "corrupt"));
    assert_int_equal(file_size(path), 32 + 3 * 128);
    assert_int_equal(unlink(cpath), 0);
    assert_int_equal(open_captured(f, &e, log, sizeof(log)), 0);
    assert_int_equal(file_size(path), 32 + 2 * 128);
}

static void test_read_detects_corruption(void **state)
{
    struct fx *f = *state;
    struct spool_batch b;
    char path[256];
    struct err e = { 0, "" };
    int fd;

    fx_open(f);
    for (int i = 0; i < 3; i++)
        put(f, "r", i, 50);
    assert_int_equal(seal(f, 1 << 20, &b), 1);
    fd = open(seg_file(f, 1, path, sizeof(path)), O_RDWR);
    assert_int_equal(pwrite(fd, "Z", 1, 32 + 78 + 28 + 5), 1);
    close(fd);
    assert_int_equal(spool_read(f->sp, &b, &f->d, &e), -1);
    assert_int_equal(e.code, ERR_CORRUPT);
    assert_non_null(strstr(e.msg, "seq 2 failed its checksum"));
    assert_int_equal(f->d.n, 0);
}

/* Windowed reads give the batch's records, in order, a few at a time,
 * across segments, a record larger than the window whole, and start over
 * when the cursor is zeroed. */
static void test_read_window(void **state)
{
    struct fx *f = *state;
    struct spool_batch b;
    struct spool_cursor c;
    struct spool_data d = { 0 };
    struct err e = { 0, "" };
    int seen = 0, windows = 0, r;

    f->o.segment_bytes = 700;
    fx_open(f);
    for (int i = 0; i < 30; i++)
        put(f, "w", i, i == 17 ? 900 : (size_t)(20 + 7 * i));
    assert_true(count_segs(f) > 4);
    assert_int_equal(seal(f, 1 << 20, &b), 1);
    assert_int_equal(b.count, 30);
    for (int pass = 0; pass < 2; pass++) {
        memset(&c, 0, sizeof(c));
        seen = 0;
        windows = 0;
        while ((r = spool_read_window(f->sp, &b, &c, 200, &d, &e)) == 1) {
            windows++;
            assert_true(d.n >= 1);
            for (size_t i = 0; i < d.n; i++) {
                char want[16];
                snprintf(want, sizeof(want), "w-%d", seen);
                rec_is(&d.recs[i], want);
                assert_int_equal(d.recs[i].seq, (uint64_t)seen + 1);
                assert_int_equal(d.recs[i].arrival_ms, 1000 + seen);
                assert_int_equal(d.recs[i].len,
                                 seen == 17 ? 900 : 20 + 7 * seen);
                seen++;
            }
        }
        if (r < 0)
            fail_msg("window: %s", e.msg);
        assert_int_equal(seen, 30);
        assert_true(windows > 10);
        /* The buffer stays near the window (plus the one big record). */
        assert_true(d.raw.cap < 4096);
    }
    /* A whole-batch window reads it in one go. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(spool_read_window(f->sp, &b, &c, 1 << 20, &d, &e), 1);
    assert_int_equal(d.n, 30);
    assert_int_equal(spool_read_window(f->sp, &b, &c, 1 << 20, &d, &e), 0);
    commit_ok(f, &b);
    /* A committed batch can't be read any more. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(spool_read_window(f->sp, &b, &c, 200, &d, &e), -1);
    assert_int_equal(e.code, ERR_NOTFOUND);
    spool_data_release(&d);
}

/* A bad checksum met in a later window fails that read. */
static void test_read_window_corruption(void **state)
{
    struct fx *f = *state;
    struct spool_batch b;
    struct spool_cursor c;
    struct spool_data d = { 0 };
    char path[256];
    struct err e = { 0, "" };
    int fd, r, got = 0;

    fx_open(f);
    for (int i = 0; i < 3; i++)
        put(f, "r", i, 50);
    assert_int_equal(seal(f, 1 << 20, &b), 1);
    fd = open(seg_file(f, 1, path, sizeof(path)), O_RDWR);
    assert_int_equal(pwrite(fd, "Z", 1, 32 + 78 + 28 + 5), 1);
    close(fd);
    memset(&c, 0, sizeof(c));
    while ((r = spool_read_window(f->sp, &b, &c, 60, &d, &e)) == 1)
        got += (int)d.n;
    assert_int_equal(r, -1);
    assert_int_equal(got, 1);
    assert_int_equal(e.code, ERR_CORRUPT);
    assert_non_null(strstr(e.msg, "seq 2 failed its checksum"));
    spool_data_release(&d);
}

static void test_corrupt_sealed_batch_shrinks(void **state)
{
    struct fx *f = *state;
    struct spool_batch b, r;
    char path[256], log[4096];
    struct err e = { 0, "" };

    f->o.fsync = 0;
    fx_open(f);
    for (int i = 0; i < 5; i++)
        put(f, "s", i, 100);
    assert_int_equal(seal(f, 1 << 20, &b), 1);
    fx_close(f);
    seg_file(f, 1, path, sizeof(path));
    assert_int_equal(truncate(path, 32 + 3 * 128 + 5), 0);
    assert_int_equal(open_captured(f, &e, log, sizeof(log)), 0);
    assert_non_null(strstr(log, "shrunk"));
    assert_int_equal(seal(f, 1 << 20, &r), 1);
    assert_int_equal(r.id, b.id);
    assert_int_equal(r.count, 3);
    assert_int_equal(r.last_seq, 3);
    read_ok(f, &r);
    commit_ok(f, &r);
    /* The seqs the journal named stay used. */
    assert_int_equal(put(f, "s", 6, 1), 6);
}

static void test_full(void **state)
{
    struct fx *f = *state;
    struct spool_batch b;
    struct spool_stats st, st2;
    char path[256];
    char big[500];
    struct iovec iov = { big, sizeof(big) };
    struct err e = { 0, "" };
    uint64_t seq;
    off_t sz;

    memset(big, 'f', sizeof(big));
    f->o.max_bytes = 1100;
    fx_open(f);
    assert_int_equal(spool_append(f->sp, &iov, 1, 1, &seq, &e), 0);
    assert_int_equal(spool_append(f->sp, &iov, 1, 1, &seq, &e), 0);
    spool_stats(f->sp, &st);
    assert_int_equal(st.live_bytes, 2 * 528);
    sz = file_size(seg_file(f, 1, path, sizeof(path)));
    assert_int_equal(spool_append(f->sp, &iov, 1, 1, &seq, &e), -1);
    assert_int_equal(e.code, ERR_FULL);
    assert_int_equal(file_size(path), sz);
    spool_stats(f->sp, &st2);
    assert_memory_equal(&st, &st2, sizeof(st));
    assert_int_equal(seal(f, 1 << 20, &b), 1);
    commit_ok(f, &b);
    assert_int_equal(spool_append(f->sp, &iov, 1, 1, &seq, &e), 0);
    assert_int_equal(seq, 3);
}

static void test_write_error_keeps_nothing(void **state)
{
    struct fx *f = *state;
    struct spool_batch b;
    char path[256], big[2000];
    struct iovec iov = { big, sizeof(big) };
    struct err e = { 0, "" };
    struct rlimit old, lim;
    struct sigaction sa, osa;
    uint64_t seq;
    off_t sz;
    int rc;

    memset(big, 'w', sizeof(big));
    fx_open(f);
    put(f, "w", 0, 10);
    sz = file_size(seg_file(f, 1, path, sizeof(path)));
    /* A file size limit makes the write stop halfway, like a full disk. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGXFSZ, &sa, &osa);
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)sz + 1000;
    setrlimit(RLIMIT_FSIZE, &lim);
    rc = spool_append(f->sp, &iov, 1, 1, &seq, &e);
    setrlimit(RLIMIT_FSIZE, &old);
    sigaction(SIGXFSZ, &osa, NULL);
    assert_int_equal(rc, -1);
    assert_int_equal(e.code, ERR_IO);
    assert_int_equal(file_size(path), sz);
    assert_int_equal(put(f, "w", 1, 10), 2);
    assert_int_equal(seal(f, 1 << 20, &b), 1);
    assert_int_equal(b.count, 2);
    read_ok(f, &b);
    fx_open(f);
    assert_int_equal(seal(f, 1 << 20, &b), 1);
    assert_int_equal(b.count, 2);
}

static void test_commit_reclaims_segments(void **state)
{
    struct fx *f = *state;
    struct spool_batch bs[64];
    struct spool_stats st, st2;
    int nb = 0, before;

    f->o.segment_bytes = 1024;
    fx_open(f);
    for (int i = 0; i < 50; i++)
        put(f, "g", i, 200);
    before = count_segs(f);
    assert_true(before >= 10);
    while (nb < 64 && seal(f, 1000, &bs[nb]) == 1)
        nb++;
    assert_true(nb >= 10);
    spool_stats(f->sp, &st);
    /* The last batches first: nothing can go yet. */
    for (int i = nb - 1; i >= nb / 2; i--)
        commit_ok(f, &bs[i]);
    assert_int_equal(count_segs(f), before);
    spool_stats(f->sp, &st2);
    assert_int_equal(st2.live_bytes, st.live_bytes);
    for (int i = 0; i < nb / 4; i++)
        commit_ok(f, &bs[i]);
    assert_true(count_segs(f) < before);
    spool_stats(f->sp, &st2);
    assert_true(st2.live_bytes < st.live_bytes);
    for (int i = nb / 4; i < nb / 2; i++)
        commit_ok(f, &bs[i]);
    assert_int_equal(count_segs(f), 1);
    spool_stats(f->sp, &st2);
    assert_int_equal(st2.live_bytes, 0);
    fx_open(f);
    assert_int_equal(seal(f, 1000, &bs[0]), 0);
    assert_int_equal(put(f, "g", 50, 1), 51);
}

static void test_journal_compacts(void **state)
{
    struct fx *f = *state;
    struct spool_batch b;
    char path[256];
    uint64_t last = 0;

    f->o.fsync = 0;
    fx_open(f);
    for (int i = 0; i < 4000; i++) {
        put(f, "j", i, 1);
        assert_int_equal(seal(f, 1 << 20, &b), 1);
        if (i == 3999)
            break;                  /* the last stays pending */
        commit_ok(f, &b);
        last = b.id;
    }
    snprintf(path, sizeof(path), "%s/batches.log", f->dir);
    assert_true(file_size(path) < 300 * 1024);
    fx_open(f);
    assert_int_equal(seal(f, 1 << 20, &b), 1);
    assert_int_equal(b.id, last + 1);
    assert_int_equal(b.first_seq, 4000);
    commit_ok(f, &b);
    assert_int_equal(seal(f, 1 << 20, &b), 0);
    put(f, "j", 4000, 1);
    assert_int_equal(seal(f, 1 << 20, &b), 1);
    assert_int_equal(b.id, last + 2);
}

static void test_record_too_large(void **state)
{
    struct fx *f = *state;
    struct iovec iov[2];
    struct err e = { 0, "" };
    uint64_t seq;
    char *p = calloc(1, SPOOL_MAX_RECORD + 1);

    assert_non_null(p);
    fx_open(f);
    iov[0].iov_base = p;
    iov[0].iov_len = 10;
    iov[1].iov_base = p;
    iov[1].iov_len = SPOOL_MAX_RECORD + 1;
    assert_int_equal(spool_append(f->sp, iov, 2, 1, &seq, &e), -1);
    assert_int_equal(e.code, ERR_INVAL);
    assert_int_equal(spool_append(f->sp, iov, 0, 1, &seq, &e), -1);
    assert_int_equal(e.code, ERR_INVAL);
    iov[1].iov_len = SPOOL_MAX_RECORD;
    assert_int_equal(spool_append(f->sp, iov, 2, 1, &seq, &e), 0);
    assert_int_equal(seq, 1);
    free(p);
}

static void test_bad_files(void **state)
{
    struct fx *f = *state;
    char path[256];
    struct err e = { 0, "" };
    struct spool *sp = NULL;
    int fd;

    fx_open(f);
    put(f, "b", 0, 10);
    fx_close(f);
    /* A damaged segment header. */
    seg_file(f, 1, path, sizeof(path));
    fd = open(path, O_RDWR);
    assert_int_equal(pwrite(fd, "XXXX", 4, 0), 4);
    close(fd);
    assert_int_equal(spool_open(&f->o, &sp, &e), -1);
    assert_null(sp);
    assert_int_equal(e.code, ERR_CORRUPT);
    assert_non_null(strstr(e.msg, path));
    /* A bad spool.id. */
    snprintf(path, sizeof(path), "%s/spool.id", f->dir);
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, "hello\n", 6), 6);
    close(fd);
    assert_int_equal(spool_open(&f->o, &sp, &e), -1);
    assert_int_equal(e.code, ERR_CORRUPT);
    assert_non_null(strstr(e.msg, "spool.id"));
    /* Data but no spool.id at all. */
    unlink(path);
    assert_int_equal(spool_open(&f->o, &sp, &e), -1);
    assert_non_null(strstr(e.msg, "no spool.id"));
    /* A segment name that is not a file. */
    unlink(seg_file(f, 1, path, sizeof(path)));
    snprintf(path, sizeof(path), "%s/batches.log", f->dir);
    unlink(path);
    fx_open(f);
    fx_close(f);
    assert_int_equal(mkdir(seg_file(f, 0x100, path, sizeof(path)), 0755), 0);
    assert_int_equal(spool_open(&f->o, &sp, &e), -1);
    assert_non_null(strstr(e.msg, path));
    rmdir(path);
}

/* ---- threads ---- */

#define NTHREADS 4
#define NAPPENDS 2000
#define NRECS    10

struct mt {
    struct fx *f;
    int t;
    atomic_int *done;           /* appenders finished */
};

static void *appender(void *arg)
{
    struct mt *m = arg;
    char bufs[NRECS][32];
    struct iovec iov[NRECS];
    struct err e = { 0, "" };
    uint64_t seq;

    for (int i = 0; i < NAPPENDS; i++) {
        for (int j = 0; j < NRECS; j++) {
            int n = snprintf(bufs[j], sizeof(bufs[j]), "%d:%d:%d", m->t, i,
                             j);
            iov[j].iov_base = bufs[j];
            iov[j].iov_len = (size_t)n;
        }
        if (spool_append(m->f->sp, iov, NRECS, i, &seq, &e) != 0) {
            fprintf(stderr, "append: %s\n", e.msg);
            abort();
        }
    }
    atomic_fetch_add(m->done, 1);
    return NULL;
}

/* Seal, read and commit until the appenders are done and all is drained,
 * checking every record arrives exactly once. */
static void drain(struct fx *f, unsigned char *seen, atomic_int *done)
{
    struct spool_batch b;
    struct err e = { 0, "" };
    uint64_t total = 0;

    for (;;) {
        int last = atomic_load(done) == NTHREADS;
        int r = spool_seal(f->sp, 20000, 0, &b, &e);

        assert_true(r >= 0);
        if (r == 0) {
            if (last && total == NTHREADS * NAPPENDS * NRECS)
                break;
            spool_wait(f->sp, 5);
            continue;
        }
        read_ok(f, &b);
        for (size_t k = 0; k < f->d.n; k++) {
            char s[32];
            int t, i, j;
            size_t len = f->d.recs[k].len;

            memcpy(s, f->d.recs[k].data, len);
            s[len] = '\0';
            assert_int_equal(sscanf(s, "%d:%d:%d", &t, &i, &j), 3);
            assert_int_equal(seen[(t * NAPPENDS + i) * NRECS + j], 0);
            seen[(t * NAPPENDS + i) * NRECS + j] = 1;
            assert_int_equal(f->d.recs[k].seq, b.first_seq + k);
            total++;
        }
        commit_ok(f, &b);
    }
}

static void test_threads(void **state)
{
    struct fx *f = *state;
    pthread_t th[NTHREADS];
    struct mt m[NTHREADS];
    struct spool_stats st;
    atomic_int done = 0;
    unsigned char *seen = calloc(NTHREADS * NAPPENDS * NRECS, 1);
    uint64_t syncs;

    assert_non_null(seen);
    f->o.segment_bytes = 64 * 1024;
    fx_open(f);
    for (int t = 0; t < NTHREADS; t++) {
        m[t].f = f;
        m[t].t = t;
        m[t].done = &done;
        assert_int_equal(pthread_create(&th[t], NULL, appender, &m[t]), 0);
    }
    /* Seal, read and commit while they append, rolling and reclaiming
     * segments under their feet. */
    drain(f, seen, &done);
    for (int t = 0; t < NTHREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    for (int k = 0; k < NTHREADS * NAPPENDS * NRECS; k++)
        assert_int_equal(seen[k], 1);
    syncs = spool_sync_count(f->sp);
    print_message("%d appends, %" PRIu64 " fdatasync rounds\n",
                  NTHREADS * NAPPENDS, syncs);
    assert_true(syncs < NTHREADS * NAPPENDS);
    spool_stats(f->sp, &st);
    assert_int_equal(st.live_bytes, 0);
    assert_int_equal(count_segs(f), 1);
    free(seen);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_limit_and_span, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_record_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seq_survives_reopen, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_uncommitted_batch_comes_back,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_journal_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_headers_resync, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_tail_vs_torn, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_older_segment_batch,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_cannot_save, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_read_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_window_corruption, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_read_detects_corruption, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_sealed_batch_shrinks,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_error_keeps_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_reclaims_segments,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_compacts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_record_too_large, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
    };

    log_init(0, LOG_DEBUG);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
