/* spool.c - the durable record log behind spool.h.
 *
 * On disk (all integers little-endian):
 *   spool.id      "firehosed-spool 1 <16 hex>\n", the incarnation.
 *   <seq>.seg     32-byte header: magic, version, incarnation, first seq,
 *                 crc32c of those 24 bytes, zero; then records, each a
 *                 28-byte header (magic, data length, crc32c, seq, arrival
 *                 ms) and its data. The crc covers the data, then header
 *                 bytes 0-7 and 12-27: data first, so that appenders can
 *                 checksum their data before taking the mutex.
 *   batches.log   text lines, each "<body> <crc32c of body, 8 hex>\n":
 *                   H <next id> <next seq to seal>     (compaction header)
 *                   S <id> <first> <last> <count> <bytes> <oldest ms>
 *                     <segment> <offset>               (sealed, synced)
 *                   C <id>                             (committed)
 *
 * Memory holds no per-record data: per segment its name, size and fd; per
 * pending batch its boundaries and start position; and the seal cursor. A
 * position is (segment name, byte offset); records are in seq order across
 * segments, so positions and seqs order the same way. */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "log.h"
#include "trim.h"

#define SEG_MAGIC       0x31475346u     /* "FSG1" */
#define SEG_VERSION     1u
#define SEG_HDR         32u
#define REC_MAGIC       0x52534846u     /* "FHSR" */
#define REC_HDR         28u
#define SEG_DEFAULT     (64u << 20)
/* A sanity bound on one append, far above any request we accept. */
#define APPEND_MAX_RECS (1u << 20)
/* Data checksums computed before the mutex; later records are done under
 * it, which is only slower. */
#define CRC_AHEAD       512
#define RD_WINDOW       (256u << 10)
/* Rewrite the journal past this size once most of it is committed. */
#define JOURNAL_COMPACT (256u << 10)
#define PATH_LEN        4200
#define DIR_MAX         4000

struct spool_pos {              /* a byte position in the log */
    uint64_t seg;               /* the segment's first seq, i.e. its name */
    uint64_t off;
};

struct spool_seg {
    uint64_t first_seq;
    uint64_t size;              /* header + whole records written */
    int      fd;
    int      dirty;             /* written since the last sync began */
};

struct spool_pend {             /* sealed, not committed */
    struct spool_batch b;
    struct spool_pos   start;   /* its first record */
    int                handed;  /* returned by spool_seal() since open */
};

struct spool_rd {               /* read window over one segment file */
    unsigned char *p;
    size_t         cap;
    size_t         len;
    uint64_t       base;
    int            fd;          /* -1: empty */
};

struct spool {
    char    *dir;
    char     who[96];           /* "spool:<name>" */
    int      fsync;
    uint64_t max_bytes;
    uint64_t seg_bytes;
    uint64_t incarnation;

    pthread_mutex_t mu;
    pthread_cond_t  sync_cv;    /* a group sync finished */
    pthread_cond_t  wait_cv;    /* spool_wait(): CLOCK_MONOTONIC */

    /* Under mu. */
    struct spool_seg *segs;     /* by first_seq; the last is current */
    size_t    nsegs, segcap;
    uint64_t  next_seq;
    uint64_t  total_bytes;      /* sum of segment sizes */
    uint64_t  dead_bytes;       /* segment bytes before the oldest
                                 * uncommitted record */
    struct buf abuf;            /* append encoding scratch */
    int       syncing, dir_dirty, broken;
    struct spool_pos durable;   /* everything before it is synced */
    uint64_t  sync_count;
    int      *sync_fds;         /* the leader's, while syncing */
    size_t    sync_cap;
    /* Record and data byte totals since open: written, durable (what a
     * seal may take), sealed. Unsealed = durable - sealed. */
    uint64_t  wr_recs, wr_bytes, dur_recs, dur_bytes, seal_recs, seal_bytes;
    int64_t   oldest_unsealed_ms;
    struct spool_pend *pend;    /* by id, which is also by seq */
    size_t    npend, pendcap;
    int64_t   oldest_pending_ms;
    uint64_t  wake_gen;
    struct spool_pos cursor;    /* first unsealed record (or end) */

    /* The scheduler's alone (spool_open, seal, read, commit). */
    int       jfd;
    uint64_t  jsize;
    uint64_t  next_id;
    uint64_t  seal_next;        /* first seq no batch has taken */
    struct spool_rd rd;
    struct buf jbuf;
    struct spool_seg *dead;     /* segments to unlink outside mu */
    size_t    ndead, deadcap;
    struct trim *trim;          /* gives unlinked segments' space back */
    /* Damage found by recovery (set in spool_open, read under mu). */
    uint64_t  bad_ranges, bad_bytes, bad_records;
};

/* Journal lines are formatted through this; the attribute keeps -Wformat. */
static int jline(struct buf *b, struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v = 0;

    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* The record checksum, given the crc32 of its data. */
static uint32_t rec_crc(const unsigned char *h, uint32_t data_crc)
{
    return crc32c(crc32c(data_crc, h, 8), h + 12, REC_HDR - 12);
}

static uint32_t data_crc(const void *p, size_t n)
{
    return crc32c(0, p, n);
}

static int pos_cmp(struct spool_pos a, struct spool_pos b)
{
    if (a.seg != b.seg)
        return a.seg < b.seg ? -1 : 1;
    if (a.off != b.off)
        return a.off < b.off ? -1 : 1;
    return 0;
}

static void seg_path(const struct spool *sp, uint64_t first, char *out)
{
    snprintf(out, PATH_LEN, "%s/%016" PRIx64 ".seg", sp->dir, first);
}

static void dir_path(const struct spool *sp, const char *name, char *out)
{
    snprintf(out, PATH_LEN, "%s/%s", sp->dir, name);
}

/* Index of segment 'first', or nsegs. */
static size_t seg_find(const struct spool *sp, uint64_t first)
{
    size_t lo = 0, hi = sp->nsegs;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sp->segs[mid].first_seq < first)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < sp->nsegs && sp->segs[lo].first_seq == first ? lo
                                                             : sp->nsegs;
}

static size_t pend_find(const struct spool *sp, uint64_t id)
{
    size_t lo = 0, hi = sp->npend;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sp->pend[mid].b.id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int grow(void *pp, size_t *cap, size_t need, size_t size,
                struct err *e)
{
    void *p;
    size_t n;

    if (need <= *cap)
        return 0;
    n = *cap ? *cap * 2 : 8;
    if (n < need)
        n = need;
    p = realloc(*(void **)pp, n * size);
    if (p == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    *(void **)pp = p;
    *cap = n;
    return 0;
}

static int full_pread(int fd, void *p, size_t n, uint64_t off, size_t *got)
{
    size_t have = 0;

    while (have < n) {
        ssize_t r = pread(fd, (unsigned char *)p + have, n - have,
                          (off_t)(off + have));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        have += (size_t)r;
    }
    *got = have;
    return 0;
}

static int full_pwrite(int fd, const void *p, size_t n, uint64_t off)
{
    size_t done = 0;

    while (done < n) {
        ssize_t w = pwrite(fd, (const unsigned char *)p + done, n - done,
                           (off_t)(off + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        if (w == 0) {
            errno = ENOSPC;
            return -1;
        }
        done += (size_t)w;
    }
    return 0;
}

/* n bytes at off of segment 'seg' (fd), all below 'end'. Reads ahead up to
 * a window so that walking record headers costs few syscalls. */
static const unsigned char *rd_get(struct spool_rd *r, int fd, uint64_t seg,
                                   uint64_t off, size_t n, uint64_t end,
                                   struct err *e)
{
    size_t want = n > RD_WINDOW ? n : RD_WINDOW, got;

    if (r->fd == fd && off >= r->base && off + n <= r->base + r->len)
        return r->p + (off - r->base);
    if (want > end - off)
        want = (size_t)(end - off);
    r->fd = -1;
    if (want > r->cap) {
        unsigned char *p = realloc(r->p, want);
        if (p == NULL) {
            err_set(e, ERR_NOMEM, "out of memory reading segment");
            return NULL;
        }
        r->p = p;
        r->cap = want;
    }
    if (full_pread(fd, r->p, want, off, &got) != 0) {
        err_sys(e, errno, "reading segment %016" PRIx64 " failed", seg);
        return NULL;
    }
    if (got < n) {
        err_set(e, ERR_CORRUPT, "segment %016" PRIx64 " is shorter than "
                "expected at offset %" PRIu64, seg, off);
        return NULL;
    }
    r->fd = fd;
    r->base = off;
    r->len = got;
    return r->p;
}

/* ---- journal ---- */

static int jline(struct buf *b, struct err *e, const char *fmt, ...)
{
    char body[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(body))
        return err_set(e, ERR_INVAL, "journal line too long");
    return buf_printf(b, e, "%s %08" PRIx32 "\n", body,
                      data_crc(body, (size_t)n));
}

static int jline_batch(struct buf *b, const struct spool_pend *p,
                       struct err *e)
{
    return jline(b, e, "S %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu32
                 " %" PRIu64 " %" PRId64 " %" PRIu64 " %" PRIu64, p->b.id,
                 p->b.first_seq, p->b.last_seq, p->b.count, p->b.bytes,
                 p->b.oldest_arrival_ms, p->start.seg, p->start.off);
}

/* Append sp->jbuf to the journal, all or nothing, optionally synced. */
static int journal_write(struct spool *sp, int sync, struct err *e)
{
    const char *op = "writing";

    if (full_pwrite(sp->jfd, sp->jbuf.p, sp->jbuf.len, sp->jsize) != 0)
        goto fail;
    op = "syncing";
    if (sync && fdatasync(sp->jfd) != 0)
        goto fail;
    sp->jsize += sp->jbuf.len;
    return 0;
fail:
    err_sys(e, errno, "%s the batch journal of '%s' failed", op, sp->dir);
    if (ftruncate(sp->jfd, (off_t)sp->jsize) != 0)
        log_msg(LOG_ERROR, sp->who, "cutting a failed journal write: %s",
                strerror(errno));
    return -1;
}

/* Insert or replace (by id) a batch read from the journal. */
static int pend_put(struct spool *sp, const struct spool_pend *p,
                    struct err *e)
{
    size_t i = pend_find(sp, p->b.id);

    if (i < sp->npend && sp->pend[i].b.id == p->b.id) {
        sp->pend[i] = *p;
        return 0;
    }
    if (grow(&sp->pend, &sp->pendcap, sp->npend + 1, sizeof(*sp->pend), e))
        return -1;
    memmove(sp->pend + i + 1, sp->pend + i,
            (sp->npend - i) * sizeof(*sp->pend));
    sp->pend[i] = *p;
    sp->npend++;
    return 0;
}

static void pend_remove(struct spool *sp, size_t i)
{
    memmove(sp->pend + i, sp->pend + i + 1,
            (sp->npend - i - 1) * sizeof(*sp->pend));
    sp->npend--;
}

static void id_max(uint64_t *next, uint64_t id)
{
    if (id >= *next)
        *next = id + 1;
}

/* One checked line (without its '\n'). 1 applied, 0 bad. */
static int journal_apply(struct spool *sp, const char *s, size_t n,
                         struct err *e)
{
    char body[256];
    struct spool_pend p;
    uint64_t a, b;
    uint32_t crc;
    int used = 0;

    if (n < 10 || n - 9 >= sizeof(body) || s[n - 9] != ' ')
        return 0;
    memcpy(body, s + n - 8, 8);
    body[8] = '\0';
    if (sscanf(body, "%8" SCNx32 "%n", &crc, &used) != 1 || used != 8)
        return 0;
    n -= 9;
    if (data_crc(s, n) != crc)
        return 0;
    memcpy(body, s, n);
    body[n] = '\0';
    used = 0;
    memset(&p, 0, sizeof(p));
    if (body[0] == 'S' &&
        sscanf(body, "S %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu32
               " %" SCNu64 " %" SCNd64 " %" SCNu64 " %" SCNu64 "%n",
               &p.b.id, &p.b.first_seq, &p.b.last_seq, &p.b.count,
               &p.b.bytes, &p.b.oldest_arrival_ms, &p.start.seg,
               &p.start.off, &used) == 8 && (size_t)used == n) {
        id_max(&sp->next_id, p.b.id);
        if (p.b.last_seq >= sp->seal_next)
            sp->seal_next = p.b.last_seq + 1;
        return pend_put(sp, &p, e) == 0 ? 1 : -1;
    }
    if (body[0] == 'C' && sscanf(body, "C %" SCNu64 "%n", &a, &used) == 1 &&
        (size_t)used == n) {
        size_t i = pend_find(sp, a);
        id_max(&sp->next_id, a);
        if (i < sp->npend && sp->pend[i].b.id == a)
            pend_remove(sp, i);
        return 1;
    }
    if (body[0] == 'H' &&
        sscanf(body, "H %" SCNu64 " %" SCNu64 "%n", &a, &b, &used) == 2 &&
        (size_t)used == n) {
        if (a > sp->next_id)
            sp->next_id = a;
        if (b > sp->seal_next)
            sp->seal_next = b;
        return 1;
    }
    return 0;
}

/* Read batches.log: pending batches, next id, seal point. A torn tail is
 * cut so that new lines don't run into it. */
static int journal_load(struct spool *sp, struct err *e)
{
    char path[PATH_LEN];
    struct stat st;
    struct buf b = { 0 };
    size_t got, pos = 0, good = 0;
    int rc = -1, created;

    dir_path(sp, "batches.log", path);
    created = access(path, F_OK) != 0;
    sp->jfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (sp->jfd < 0 || fstat(sp->jfd, &st) != 0)
        return err_sys(e, errno, "opening '%s' failed", path);
    if (created && util_fsync_dir(sp->dir, e) != 0)
        return -1;
    if (buf_reserve(&b, (size_t)st.st_size + 1, e) != 0)
        return -1;
    if (full_pread(sp->jfd, b.p, (size_t)st.st_size, 0, &got) != 0) {
        err_sys(e, errno, "reading '%s' failed", path);
        goto out;
    }
    while (pos < got) {
        unsigned char *nl = memchr(b.p + pos, '\n', got - pos);
        size_t n = nl ? (size_t)(nl - (b.p + pos)) : got - pos;
        int r = nl ? journal_apply(sp, (char *)b.p + pos, n, e) : 0;

        if (r < 0)
            goto out;
        if (r == 0 && (nl == NULL || pos + n + 1 == got)) {
            log_msg(LOG_WARN, sp->who, "'%s': torn last line cut (%zu "
                    "bytes)", path, got - pos);
            break;
        }
        if (r == 0)
            log_msg(LOG_ERROR, sp->who, "'%s': corrupt line at byte %zu "
                    "skipped", path, pos);
        pos += n + 1;
        good = pos;
    }
    if (good < got && (ftruncate(sp->jfd, (off_t)good) != 0 ||
                       fdatasync(sp->jfd) != 0)) {
        err_sys(e, errno, "cutting '%s' failed", path);
        goto out;
    }
    sp->jsize = good;
    /* Ids and seqs go up together; anything else is damage. */
    for (size_t i = 1; i < sp->npend; i++) {
        if (sp->pend[i].b.first_seq > sp->pend[i - 1].b.last_seq &&
            sp->pend[i].b.first_seq <= sp->pend[i].b.last_seq)
            continue;
        log_msg(LOG_ERROR, sp->who, "batch %" PRIu64 " overlaps batch %"
                PRIu64 " in the journal; dropped", sp->pend[i].b.id,
                sp->pend[i - 1].b.id);
        pend_remove(sp, i--);
    }
    rc = 0;
out:
    buf_release(&b);
    return rc;
}

/* Rewrite the journal with only what is pending (fsync, rename, fsync
 * dir). The H line keeps ids and the seal point when nothing is. */
static int journal_compact(struct spool *sp, struct err *e)
{
    char path[PATH_LEN], tmp[PATH_LEN];
    const char *op = "writing";
    int fd;

    dir_path(sp, "batches.log", path);
    dir_path(sp, "batches.log.tmp", tmp);
    sp->jbuf.len = 0;
    if (jline(&sp->jbuf, e, "H %" PRIu64 " %" PRIu64, sp->next_id,
              sp->seal_next) != 0)
        return -1;
    for (size_t i = 0; i < sp->npend; i++)
        if (jline_batch(&sp->jbuf, &sp->pend[i], e) != 0)
            return -1;
    fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return err_sys(e, errno, "creating '%s' failed", tmp);
    if (full_pwrite(fd, sp->jbuf.p, sp->jbuf.len, 0) != 0)
        goto fail;
    op = "syncing";
    if (fdatasync(fd) != 0)
        goto fail;
    op = "renaming";
    if (rename(tmp, path) != 0)
        goto fail;
    close(sp->jfd);
    sp->jfd = fd;
    sp->jsize = sp->jbuf.len;
    return util_fsync_dir(sp->dir, e);
fail:
    err_sys(e, errno, "%s '%s' failed", op, tmp);
    close(fd);
    (void)unlink(tmp);
    return -1;
}

/* ---- segments ---- */

static int seg_create(struct spool *sp, uint64_t first, struct spool_seg *sg,
                      struct err *e)
{
    char path[PATH_LEN];
    unsigned char h[SEG_HDR];
    int saved;

    memset(h, 0, sizeof(h));
    put32(h, SEG_MAGIC);
    put32(h + 4, SEG_VERSION);
    put64(h + 8, sp->incarnation);
    put64(h + 16, first);
    put32(h + 24, data_crc(h, 24));
    seg_path(sp, first, path);
    sg->first_seq = first;
    sg->size = SEG_HDR;
    sg->dirty = 1;
    sg->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (sg->fd < 0)
        return err_sys(e, errno, "creating segment '%s' failed", path);
    if (full_pwrite(sg->fd, h, sizeof(h), 0) == 0)
        return 0;
    saved = errno;
    close(sg->fd);
    sg->fd = -1;
    (void)unlink(path);
    return err_sys(e, saved, "writing segment '%s' failed", path);
}

/* Start a new current segment (mu held). The old one stays dirty, so the
 * next group sync covers it and the new directory entry before any append
 * to the new segment is acknowledged. */
static int seg_roll(struct spool *sp, struct err *e)
{
    struct spool_seg sg;

    if (grow(&sp->segs, &sp->segcap, sp->nsegs + 1, sizeof(*sp->segs), e))
        return -1;
    if (seg_create(sp, sp->next_seq, &sg, e) != 0)
        return -1;
    sp->segs[sp->nsegs++] = sg;
    sp->total_bytes += SEG_HDR;
    sp->dir_dirty = 1;
    return 0;
}

/* A cursor at the end of a sealed-off segment moves to the next one. */
static void cursor_normalize(struct spool *sp)
{
    size_t i = seg_find(sp, sp->cursor.seg);

    while (i + 1 < sp->nsegs && sp->cursor.off >= sp->segs[i].size) {
        i++;
        sp->cursor.seg = sp->segs[i].first_seq;
        sp->cursor.off = SEG_HDR;
    }
}

/* Recompute dead_bytes and move the segments that hold only committed
 * records to sp->dead (mu held). Everything before the lowest of the seal
 * cursor and the first pending batch is committed. */
static void low_update(struct spool *sp)
{
    struct spool_pos low;
    size_t k = 0;

    cursor_normalize(sp);
    low = sp->cursor;
    if (sp->npend > 0 && pos_cmp(sp->pend[0].start, low) < 0)
        low = sp->pend[0].start;
    while (k < sp->nsegs - 1 && sp->segs[k].first_seq < low.seg)
        k++;
    /* Without room to remember them they are kept until the next try. */
    if (k > 0 && grow(&sp->dead, &sp->deadcap, sp->ndead + k,
                      sizeof(*sp->dead), NULL) == 0) {
        memcpy(sp->dead + sp->ndead, sp->segs, k * sizeof(*sp->segs));
        sp->ndead += k;
        for (size_t i = 0; i < k; i++)
            sp->total_bytes -= sp->segs[i].size;
        memmove(sp->segs, sp->segs + k, (sp->nsegs - k) * sizeof(*sp->segs));
        sp->nsegs -= k;
    }
    sp->dead_bytes = low.off;
    for (size_t i = 0; i < sp->nsegs && sp->segs[i].first_seq < low.seg; i++)
        sp->dead_bytes += sp->segs[i].size;
}

/* Unlink what low_update() set aside (mu not held). The space comes back
 * a little at a time (trim.h), so the fdatasyncs of appends meanwhile do
 * not wait behind one big discard. No directory fsync: a segment that
 * comes back after a crash is found committed and removed again. */
static void reap(struct spool *sp)
{
    char path[PATH_LEN];

    for (size_t i = 0; i < sp->ndead; i++) {
        seg_path(sp, sp->dead[i].first_seq, path);
        if (sp->rd.fd == sp->dead[i].fd)
            sp->rd.fd = -1;
        if (unlink(path) == 0) {
            trim_file(sp->trim, sp->dead[i].fd);
            continue;
        }
        log_msg(LOG_WARN, sp->who, "removing '%s' failed: %s", path,
                strerror(errno));
        close(sp->dead[i].fd);
    }
    sp->ndead = 0;
}

/* ---- open and recovery ---- */

static int id_load(struct spool *sp, int have_data, struct err *e)
{
    char path[PATH_LEN], tmp[PATH_LEN], text[64], want[64] = "";
    int fd, saved;
    ssize_t n;
    uint64_t v = 0;

    dir_path(sp, "spool.id", path);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, text, sizeof(text) - 1);
        saved = errno;
        close(fd);
        if (n < 0)
            return err_sys(e, saved, "reading '%s' failed", path);
        text[n] = '\0';
        /* Valid only if it formats back to exactly the same bytes. */
        if (sscanf(text, "firehosed-spool 1 %16" SCNx64, &v) == 1)
            snprintf(want, sizeof(want), "firehosed-spool 1 %016" PRIx64
                     "\n", v);
        if (v == 0 || strcmp(text, want) != 0)
            return err_set(e, ERR_CORRUPT, "'%s' is not a valid spool id "
                           "file; refusing to guess which spool this is",
                           path);
        sp->incarnation = v;
        return 0;
    }
    if (errno != ENOENT)
        return err_sys(e, errno, "opening '%s' failed", path);
    if (have_data)
        return err_set(e, ERR_CORRUPT, "'%s' holds spool files but no "
                       "spool.id", sp->dir);
    do {
        if (util_random(&v, sizeof(v), e) != 0)
            return -1;
    } while (v == 0);
    n = snprintf(text, sizeof(text), "firehosed-spool 1 %016" PRIx64 "\n",
                 v);
    dir_path(sp, "spool.id.tmp", tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return err_sys(e, errno, "creating '%s' failed", tmp);
    if (full_pwrite(fd, text, (size_t)n, 0) != 0 || fsync(fd) != 0) {
        saved = errno;
        close(fd);
        (void)unlink(tmp);
        return err_sys(e, saved, "writing '%s' failed", tmp);
    }
    close(fd);
    if (rename(tmp, path) != 0)
        return err_sys(e, errno, "renaming '%s' failed", tmp);
    sp->incarnation = v;
    return util_fsync_dir(sp->dir, e);
}

static int seg_cmp(const void *a, const void *b)
{
    const struct spool_seg *x = a, *y = b;

    return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

/* Find "<16 hex>.seg" files; *other says whether the journal exists. */
static int segs_list(struct spool *sp, int *other, struct err *e)
{
    DIR *d = opendir(sp->dir);
    struct dirent *de;
    int rc = 0;

    if (d == NULL)
        return err_sys(e, errno, "opening directory '%s' failed", sp->dir);
    *other = 0;
    while ((de = readdir(d)) != NULL) {
        const char *s = de->d_name;
        size_t n = strlen(s), i;

        if (strcmp(s, "batches.log") == 0)
            *other = 1;
        if (n == 24 && strcmp(s + 16, ".seg.tmp") == 0) {
            /* A rewrite without damage (seg_excise) cut short by a crash:
             * the segment itself is intact and is scanned again. */
            char path[PATH_LEN];

            dir_path(sp, s, path);
            (void)unlink(path);
            continue;
        }
        if (n != 20 || strcmp(s + 16, ".seg") != 0)
            continue;
        for (i = 0; i < 16 && strchr("0123456789abcdef", s[i]); i++)
            ;
        if (i < 16)
            continue;
        if (grow(&sp->segs, &sp->segcap, sp->nsegs + 1, sizeof(*sp->segs),
                 e) != 0) {
            rc = -1;
            break;
        }
        sp->segs[sp->nsegs].first_seq = strtoull(s, NULL, 16);
        sp->segs[sp->nsegs].fd = -1;
        sp->segs[sp->nsegs].size = 0;
        sp->segs[sp->nsegs].dirty = 0;
        sp->nsegs++;
    }
    closedir(d);
    if (sp->nsegs > 1)
        qsort(sp->segs, sp->nsegs, sizeof(*sp->segs), seg_cmp);
    return rc;
}

struct recount {                /* what a pending batch really holds */
    struct spool_batch b;
    struct spool_pos   start;
    int                found_first;
    int                lost_first;  /* its first record was moved aside */
};

struct scan {                   /* the state of one recovery pass */
    struct recount *rc;
    size_t   j;                 /* current pending batch */
    uint64_t prev_seq;          /* 0: none yet */
    int      have_cursor;
    uint64_t unsealed, unsealed_bytes;
    int64_t  oldest_unsealed;
};

/* Count one valid record toward its batch or toward the unsealed tail. */
static void scan_record(struct spool *sp, struct scan *sc, uint64_t seg,
                        uint64_t off, uint64_t seq, uint32_t len,
                        int64_t arrival)
{
    struct recount *r;

    while (sc->j < sp->npend && sp->pend[sc->j].b.last_seq < seq)
        sc->j++;
    if (sc->j < sp->npend && sp->pend[sc->j].b.first_seq <= seq) {
        r = &sc->rc[sc->j];
        if (r->b.count == 0) {
            r->start.seg = seg;
            r->start.off = off;
            r->b.first_seq = seq;
            r->b.oldest_arrival_ms = arrival;
            r->found_first = seq == sp->pend[sc->j].b.first_seq;
        }
        r->b.count++;
        r->b.bytes += len;
        r->b.last_seq = seq;
        if (arrival < r->b.oldest_arrival_ms)
            r->b.oldest_arrival_ms = arrival;
        return;
    }
    if (seq < sp->seal_next)
        return;                 /* committed */
    if (!sc->have_cursor) {
        sc->have_cursor = 1;
        sp->cursor.seg = seg;
        sp->cursor.off = off;
        sc->oldest_unsealed = arrival;
    }
    sc->unsealed++;
    sc->unsealed_bytes += len;
    if (arrival < sc->oldest_unsealed)
        sc->oldest_unsealed = arrival;
}

/* A whole record at 'off' of segment sg, checksum right, seq in
 * [sg->first_seq, limit) and after 'prev' (0: none): 1 and *seq, 0 if not,
 * -1 on a read error. */
static int rec_at(struct spool *sp, const struct spool_seg *sg, uint64_t off,
                  uint64_t prev, uint64_t limit, uint64_t *seq,
                  struct err *e)
{
    const unsigned char *h;
    uint32_t len;

    if (sg->size - off < REC_HDR)
        return 0;
    h = rd_get(&sp->rd, sg->fd, sg->first_seq, off, REC_HDR, sg->size, e);
    if (h == NULL)
        return -1;
    len = get32(h + 4);
    *seq = get64(h + 12);
    if (get32(h) != REC_MAGIC || len > SPOOL_MAX_RECORD ||
        sg->size - off - REC_HDR < len || *seq < sg->first_seq ||
        *seq >= limit || (prev != 0 && *seq <= prev))
        return 0;
    h = rd_get(&sp->rd, sg->fd, sg->first_seq, off, REC_HDR + len, sg->size,
               e);
    if (h == NULL)
        return -1;
    return rec_crc(h, data_crc(h + REC_HDR, len)) == get32(h + 8);
}

/* After damage at 'off': the first offset past it where a valid record
 * starts (1, *at and *seq), 0 if none. Every record carries its magic, a
 * CRC32C over header and data, and a seq that must follow the last good
 * one, so a chance match inside damaged or record bytes is about 2^-64
 * per position: resynchronising there is safe. (A producer could embed a
 * well-formed frame with a future seq in its data; after damage in front
 * of it, that frame would come back as one record of its own: the
 * producer's bytes either way, never another producer's.) */
static int resync(struct spool *sp, const struct spool_seg *sg, uint64_t off,
                  uint64_t prev, uint64_t limit, uint64_t *at,
                  uint64_t *seq, struct err *e)
{
    for (uint64_t p = off + 1; p + REC_HDR <= sg->size; p++) {
        const unsigned char *h = rd_get(&sp->rd, sg->fd, sg->first_seq, p, 4,
                                        sg->size, e);
        int r;

        if (h == NULL)
            return -1;
        if (get32(h) != REC_MAGIC)
            continue;
        r = rec_at(sp, sg, p, prev, limit, seq, e);
        if (r != 0) {
            *at = p;
            return r;
        }
    }
    return 0;
}

/* Copy bytes [from, to) of segment sg to <dir>/corrupt/<segment>.<from>.bad
 * (a new file, synced; never removed by us), its path into 'out'. */
static int bad_save(struct spool *sp, const struct spool_seg *sg,
                    uint64_t from, uint64_t to, char *out, struct err *e)
{
    unsigned char buf[65536];
    char dir[PATH_LEN];
    int fd = -1, saved;

    dir_path(sp, "corrupt", dir);
    if (util_mkdirs(dir, e) != 0)
        return -1;
    for (int k = 0; fd < 0 && k < 1000; k++) {
        if (k == 0)
            snprintf(out, PATH_LEN, "%.4010s/%016" PRIx64 ".seg.%" PRIu64
                     ".bad",
                     dir, sg->first_seq, from);
        else
            snprintf(out, PATH_LEN, "%.4010s/%016" PRIx64 ".seg.%" PRIu64
                     ".%d.bad", dir, sg->first_seq, from, k);
        fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0)
        return err_sys(e, errno, "creating '%s' for corrupt spool data "
                       "failed", out);
    for (uint64_t off = from; off < to;) {
        size_t n = to - off < sizeof(buf) ? (size_t)(to - off) : sizeof(buf);
        size_t got;

        if (full_pread(sg->fd, buf, n, off, &got) != 0 || got != n ||
            full_pwrite(fd, buf, n, off - from) != 0)
            goto fail;
        off += n;
    }
    if (fsync(fd) != 0)
        goto fail;
    close(fd);
    return util_fsync_dir(dir, e);
fail:
    saved = errno ? errno : EIO;
    close(fd);
    return err_sys(e, saved, "writing '%s' failed (the corrupt bytes stay "
                   "in the segment; free space and restart)", out);
}

/* Rewrite segment i without bytes [from, to): a copy beside it, synced,
 * then renamed over it, so a crash leaves either the old or the new file
 * (and recovery, finding the old, does all this again). */
static int seg_excise(struct spool *sp, size_t i, uint64_t from, uint64_t to,
                      struct err *e)
{
    struct spool_seg *sg = &sp->segs[i];
    char path[PATH_LEN], tmp[PATH_LEN + 8];
    unsigned char *buf = malloc(1u << 20);
    uint64_t w = 0;
    int fd, saved;

    if (buf == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    seg_path(sp, sg->first_seq, path);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(buf);
        return err_sys(e, errno, "creating '%s' failed", tmp);
    }
    for (uint64_t off = 0; off < sg->size;) {
        uint64_t end = off < from ? from : sg->size;
        size_t n = end - off < (1u << 20) ? (size_t)(end - off) : (1u << 20);
        size_t got;

        if (full_pread(sg->fd, buf, n, off, &got) != 0 || got != n ||
            full_pwrite(fd, buf, n, w) != 0)
            goto fail;
        w += n;
        off += n;
        if (off == from)
            off = to;
    }
    if (fdatasync(fd) != 0 || rename(tmp, path) != 0)
        goto fail;
    free(buf);
    close(sg->fd);
    sg->fd = fd;
    sg->size = w;
    sp->rd.fd = -1;
    return util_fsync_dir(sp->dir, e);
fail:
    saved = errno ? errno : EIO;
    free(buf);
    close(fd);
    (void)unlink(tmp);
    return err_sys(e, saved, "rewriting segment '%s' without its corrupt "
                   "bytes failed", path);
}

/* Pending batches whose first record is in the seq range [lo, hi) lost it
 * to damage: keep them (shrunk to what survives) rather than take them
 * for committed. */
static void mark_lost(struct spool *sp, struct scan *sc, uint64_t lo,
                      uint64_t hi)
{
    for (size_t k = 0; k < sp->npend; k++)
        if (sp->pend[k].b.first_seq >= lo && sp->pend[k].b.first_seq < hi)
            sc->rc[k].lost_first = 1;
}

/* Validate segment i record by record. Damage (a bad record with more
 * after it, or any bad record in an older segment) is copied aside to
 * <dir>/corrupt/ and taken out of the segment; the scan then goes on at
 * the next valid record, so good records after a damaged one are still
 * delivered. A torn end of the newest segment (a crash in mid-append, the
 * record never acknowledged) is cut as before. */
static int seg_scan(struct spool *sp, size_t i, struct scan *sc,
                    struct err *e)
{
    struct spool_seg *sg = &sp->segs[i];
    uint64_t limit = i + 1 < sp->nsegs ? sp->segs[i + 1].first_seq
                                       : UINT64_MAX;
    uint64_t off = SEG_HDR, seq = 0;
    const unsigned char *h;
    const char *why = NULL;
    char path[PATH_LEN], bad[PATH_LEN];
    uint32_t len = 0;

    seg_path(sp, sg->first_seq, path);
    for (;;) {
        uint64_t at = 0, next = 0, expect;
        int r;

        why = NULL;
        while (off < sg->size) {
            why = "torn record header";
            if (sg->size - off < REC_HDR)
                break;
            h = rd_get(&sp->rd, sg->fd, sg->first_seq, off, REC_HDR,
                       sg->size, e);
            if (h == NULL)
                return -1;
            len = get32(h + 4);
            seq = get64(h + 12);
            why = "bad record magic";
            if (get32(h) != REC_MAGIC)
                break;
            why = "bad record length";
            if (len > SPOOL_MAX_RECORD)
                break;
            why = "torn record";
            if (sg->size - off - REC_HDR < len)
                break;
            why = "record out of sequence";
            if (seq < sg->first_seq || seq >= limit ||
                (sc->prev_seq != 0 && seq <= sc->prev_seq))
                break;
            h = rd_get(&sp->rd, sg->fd, sg->first_seq, off, REC_HDR + len,
                       sg->size, e);
            if (h == NULL)
                return -1;
            why = "checksum mismatch";
            if (rec_crc(h, data_crc(h + REC_HDR, len)) != get32(h + 8))
                break;
            why = NULL;
            scan_record(sp, sc, sg->first_seq, off, seq, len,
                        (int64_t)get64(h + 20));
            sc->prev_seq = seq;
            off += REC_HDR + len;
        }
        if (why == NULL)
            return 0;
        /* Seqs are consecutive: the first seq the damage may hold. */
        expect = off == SEG_HDR || sc->prev_seq < sg->first_seq
                 ? sg->first_seq : sc->prev_seq + 1;
        r = resync(sp, sg, off, sc->prev_seq, limit, &at, &next, e);
        if (r < 0)
            return -1;
        if (r == 0 && i + 1 == sp->nsegs &&
            (strcmp(why, "torn record header") == 0 ||
             strcmp(why, "torn record") == 0)) {
            log_msg(LOG_WARN, sp->who, "'%s': %s at offset %" PRIu64
                    "; cut %" PRIu64 " bytes of torn tail (a crash in "
                    "mid-append, never acknowledged)", path, why, off,
                    sg->size - off);
            sp->rd.fd = -1;
            if (ftruncate(sg->fd, (off_t)off) != 0 ||
                fdatasync(sg->fd) != 0)
                return err_sys(e, errno, "cutting '%s' failed", path);
            sg->size = off;
            return 0;
        }
        if (bad_save(sp, sg, off, r ? at : sg->size, bad, e) != 0)
            return -1;
        sp->bad_ranges++;
        sp->bad_bytes += (r ? at : sg->size) - off;
        if (r) {
            /* The seqs between the last good record and the next one are
             * exactly the records lost. */
            sp->bad_records += next - expect;
            mark_lost(sp, sc, expect, next);
            log_msg(LOG_ERROR, sp->who, "'%s': corrupt data (%s) at offset "
                    "%" PRIu64 ": %" PRIu64 " bytes holding %" PRIu64
                    " records moved to '%s'; resumed at the next valid "
                    "record (seq %" PRIu64 ")", path, why, off, at - off,
                    next - expect, bad, next);
            if (seg_excise(sp, i, off, at, e) != 0)
                return -1;
            continue;
        }
        /* Damage up to the end: an older segment's records run up to the
         * next segment's first seq; the newest's count is unknown. */
        sp->bad_records += limit != UINT64_MAX ? limit - expect : 1;
        mark_lost(sp, sc, expect, limit);
        log_msg(LOG_ERROR, sp->who, "'%s': corrupt data (%s) at offset %"
                PRIu64 ": the last %" PRIu64 " bytes (%s%" PRIu64
                " records) moved to '%s' and cut", path, why, off,
                sg->size - off, limit != UINT64_MAX ? "" : "at least ",
                limit != UINT64_MAX ? limit - expect : 1, bad);
        sp->rd.fd = -1;
        if (ftruncate(sg->fd, (off_t)off) != 0 || fdatasync(sg->fd) != 0)
            return err_sys(e, errno, "cutting '%s' failed", path);
        sg->size = off;
        return 0;
    }
}

/* Open segment i and check its header. A file too short for one (a crash
 * while creating it) gets a fresh header if newest, else goes away. */
static int seg_open(struct spool *sp, size_t *i, struct err *e)
{
    struct spool_seg *sg = &sp->segs[*i];
    unsigned char h[SEG_HDR];
    char path[PATH_LEN];
    struct stat st;
    size_t got;

    seg_path(sp, sg->first_seq, path);
    sg->fd = open(path, O_RDWR | O_CLOEXEC);
    if (sg->fd < 0 || fstat(sg->fd, &st) != 0)
        return err_sys(e, errno, "opening segment '%s' failed", path);
    if (!S_ISREG(st.st_mode))
        return err_set(e, ERR_CORRUPT, "segment '%s' is not a file", path);
    if (st.st_size < (off_t)SEG_HDR) {
        log_msg(LOG_WARN, sp->who, "'%s': header torn (%lld bytes), "
                "rewritten", path, (long long)st.st_size);
        close(sg->fd);
        if (*i + 1 < sp->nsegs) {
            if (unlink(path) != 0)
                return err_sys(e, errno, "removing '%s' failed", path);
            memmove(sg, sg + 1, (sp->nsegs - *i - 1) * sizeof(*sg));
            sp->nsegs--;
            (*i)--;
            return 0;
        }
        if (unlink(path) != 0)
            return err_sys(e, errno, "removing '%s' failed", path);
        if (seg_create(sp, sg->first_seq, sg, e) != 0)
            return -1;
        if (fdatasync(sg->fd) != 0)
            return err_sys(e, errno, "syncing '%s' failed", path);
        return util_fsync_dir(sp->dir, e);
    }
    sg->size = (uint64_t)st.st_size;
    if (full_pread(sg->fd, h, SEG_HDR, 0, &got) != 0)
        return err_sys(e, errno, "reading segment '%s' failed", path);
    if (get32(h) != SEG_MAGIC || get32(h + 4) != SEG_VERSION ||
        get32(h + 24) != data_crc(h, 24) || get64(h + 16) != sg->first_seq)
        return err_set(e, ERR_CORRUPT, "segment '%s' has no valid header "
                       "(not a firehosed spool segment, or damaged)", path);
    if (get64(h + 8) != sp->incarnation)
        return err_set(e, ERR_CORRUPT, "segment '%s' belongs to spool %016"
                       PRIx64 ", not %016" PRIx64, path, get64(h + 8),
                       sp->incarnation);
    return 0;
}

/* Compare what the journal says about each pending batch with what the
 * segments hold; shrink or drop batches whose records were cut. */
static int pend_fix(struct spool *sp, struct recount *rc, struct err *e)
{
    size_t k = 0;
    int changed = 0;

    sp->jbuf.len = 0;
    for (size_t i = 0; i < sp->npend; i++) {
        struct spool_pend *p = &sp->pend[i];
        struct recount *r = &rc[i];

        if (!r->found_first && (r->b.count == 0 || !r->lost_first)) {
            /* Segments go only after every batch in them is committed,
             * so a batch whose start is gone was delivered. */
            log_msg(LOG_WARN, sp->who, "batch %" PRIu64 ": its records "
                    "are gone (committed before a crash, or cut); dropped",
                    p->b.id);
            if (jline(&sp->jbuf, e, "C %" PRIu64, p->b.id) != 0)
                return -1;
            changed = 1;
            continue;
        }
        r->b.id = p->b.id;
        if (r->b.count != p->b.count || r->b.bytes != p->b.bytes ||
            r->b.last_seq != p->b.last_seq ||
            pos_cmp(r->start, p->start) != 0) {
            log_msg(LOG_WARN, sp->who, "batch %" PRIu64 ": %" PRIu32
                    " of its %" PRIu32 " records survive; shrunk", p->b.id,
                    r->b.count, p->b.count);
            p->b = r->b;
            p->start = r->start;
            if (jline_batch(&sp->jbuf, p, e) != 0)
                return -1;
            changed = 1;
        }
        sp->pend[k++] = *p;
    }
    sp->npend = k;
    return changed ? journal_write(sp, 1, e) : 0;
}

static int recover(struct spool *sp, struct err *e)
{
    struct scan sc;
    struct spool_seg *cur;
    int rc = -1;

    memset(&sc, 0, sizeof(sc));
    if (sp->npend > 0) {
        sc.rc = calloc(sp->npend, sizeof(*sc.rc));
        if (sc.rc == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < sp->nsegs; i++) {
        if (seg_open(sp, &i, e) != 0)
            goto out;
    }
    for (size_t i = 0; i < sp->nsegs; i++)
        if (seg_scan(sp, i, &sc, e) != 0)
            goto out;
    if (pend_fix(sp, sc.rc, e) != 0)
        goto out;
    /* Never reuse a seq: not the last record's, not a journaled one. */
    sp->next_seq = sc.prev_seq + 1;
    if (sp->seal_next > sp->next_seq)
        sp->next_seq = sp->seal_next;
    if (sp->nsegs > 0 && sp->segs[sp->nsegs - 1].first_seq > sp->next_seq)
        sp->next_seq = sp->segs[sp->nsegs - 1].first_seq;
    if (sp->nsegs == 0) {
        if (grow(&sp->segs, &sp->segcap, 1, sizeof(*sp->segs), e) != 0 ||
            seg_create(sp, sp->next_seq, &sp->segs[0], e) != 0)
            goto out;
        sp->nsegs = 1;
        if (util_fsync_dir(sp->dir, e) != 0)
            goto out;
    }
    cur = &sp->segs[sp->nsegs - 1];
    if (sp->fsync && fdatasync(cur->fd) != 0) {
        err_sys(e, errno, "syncing the newest segment of '%s' failed",
                sp->dir);
        goto out;
    }
    for (size_t i = 0; i < sp->nsegs; i++) {
        sp->segs[i].dirty = 0;
        sp->total_bytes += sp->segs[i].size;
    }
    if (!sc.have_cursor) {
        sp->cursor.seg = cur->first_seq;
        sp->cursor.off = cur->size;
    }
    sp->durable.seg = cur->first_seq;
    sp->durable.off = cur->size;
    sp->wr_recs = sp->dur_recs = sc.unsealed;
    sp->wr_bytes = sp->dur_bytes = sc.unsealed_bytes;
    sp->oldest_unsealed_ms = sc.oldest_unsealed;
    sp->oldest_pending_ms = INT64_MAX;
    for (size_t i = 0; i < sp->npend; i++)
        if (sp->pend[i].b.oldest_arrival_ms < sp->oldest_pending_ms)
            sp->oldest_pending_ms = sp->pend[i].b.oldest_arrival_ms;
    low_update(sp);
    reap(sp);
    rc = 0;
out:
    free(sc.rc);
    return rc;
}

int spool_open(const struct spool_opts *o, struct spool **out, struct err *e)
{
    struct spool *sp;
    pthread_condattr_t ca;
    char path[PATH_LEN];
    int have_journal = 0;

    *out = NULL;
    if (o->dir == NULL || strlen(o->dir) > DIR_MAX)
        return err_set(e, ERR_INVAL, "spool directory missing or too long");
    sp = calloc(1, sizeof(*sp));
    if (sp == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    sp->jfd = -1;
    sp->rd.fd = -1;
    if (pthread_mutex_init(&sp->mu, NULL) != 0) {
        free(sp);
        return err_set(e, ERR_NOMEM, "creating a mutex failed");
    }
    if (pthread_condattr_init(&ca) != 0 ||
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&sp->wait_cv, &ca) != 0) {
        pthread_mutex_destroy(&sp->mu);
        free(sp);
        return err_set(e, ERR_NOMEM, "creating a condition failed");
    }
    pthread_condattr_destroy(&ca);
    if (pthread_cond_init(&sp->sync_cv, NULL) != 0) {
        pthread_cond_destroy(&sp->wait_cv);
        pthread_mutex_destroy(&sp->mu);
        free(sp);
        return err_set(e, ERR_NOMEM, "creating a condition failed");
    }
    /* From here on spool_close() can undo whatever is done. */
    snprintf(sp->who, sizeof(sp->who), "spool:%s",
             o->name ? o->name : o->dir);
    sp->fsync = o->fsync;
    sp->max_bytes = o->max_bytes;
    sp->seg_bytes = o->segment_bytes ? o->segment_bytes : SEG_DEFAULT;
    sp->next_id = 1;
    sp->seal_next = 1;
    sp->dir = strdup(o->dir);
    if (sp->dir == NULL) {
        err_set(e, ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (trim_new(sp->who, &sp->trim, e) != 0)
        goto fail;
    if (util_mkdirs(sp->dir, e) != 0 || segs_list(sp, &have_journal, e) ||
        id_load(sp, sp->nsegs > 0 || have_journal, e) != 0)
        goto fail;
    /* Leftovers of a crash in the middle of a rename. */
    dir_path(sp, "batches.log.tmp", path);
    (void)unlink(path);
    dir_path(sp, "spool.id.tmp", path);
    (void)unlink(path);
    if (journal_load(sp, e) != 0 || recover(sp, e) != 0)
        goto fail;
    *out = sp;
    return 0;
fail:
    spool_close(sp);
    return -1;
}

void spool_close(struct spool *sp)
{
    if (sp == NULL)
        return;
    for (size_t i = 0; i < sp->nsegs; i++)
        if (sp->segs[i].fd >= 0)
            close(sp->segs[i].fd);
    for (size_t i = 0; i < sp->ndead; i++)
        close(sp->dead[i].fd);
    if (sp->jfd >= 0)
        close(sp->jfd);
    trim_free(sp->trim);
    free(sp->segs);
    free(sp->dead);
    free(sp->pend);
    free(sp->sync_fds);
    free(sp->rd.p);
    free(sp->dir);
    buf_release(&sp->abuf);
    buf_release(&sp->jbuf);
    pthread_cond_destroy(&sp->sync_cv);
    pthread_cond_destroy(&sp->wait_cv);
    pthread_mutex_destroy(&sp->mu);
    free(sp);
}

uint64_t spool_incarnation(const struct spool *sp)
{
    return sp->incarnation;
}

/* ---- append and group commit ---- */

static void wake_locked(struct spool *sp)
{
    sp->wake_gen++;
    pthread_cond_broadcast(&sp->wait_cv);
}

/* Lead one group sync (mu held on entry and exit, dropped meanwhile):
 * every segment written since the last sync began, and the directory if a
 * segment was created, so one fdatasync round covers all waiters. */
static int sync_lead(struct spool *sp, struct err *e)
{
    struct spool_seg *cur = &sp->segs[sp->nsegs - 1];
    struct spool_pos target = { cur->first_seq, cur->size };
    uint64_t recs = sp->wr_recs, bytes = sp->wr_bytes;
    struct err de = { 0, "" };
    size_t nfd = 0;
    int dir, saved = 0;

    if (grow(&sp->sync_fds, &sp->sync_cap, sp->nsegs, sizeof(int), e))
        return -1;
    for (size_t i = 0; i < sp->nsegs; i++) {
        if (sp->segs[i].dirty)
            sp->sync_fds[nfd++] = sp->segs[i].fd;
        sp->segs[i].dirty = 0;
    }
    dir = sp->dir_dirty;
    sp->dir_dirty = 0;
    sp->syncing = 1;
    pthread_mutex_unlock(&sp->mu);
    /* Nobody closes these fds meanwhile: a segment is only removed once
     * its records are committed, hence sealed, hence durable. */
    for (size_t i = 0; i < nfd && saved == 0; i++)
        if (fdatasync(sp->sync_fds[i]) != 0)
            saved = errno;
    if (saved == 0 && dir && util_fsync_dir(sp->dir, &de) != 0)
        saved = EIO;
    pthread_mutex_lock(&sp->mu);
    sp->syncing = 0;
    sp->sync_count++;
    pthread_cond_broadcast(&sp->sync_cv);
    if (saved != 0) {
        /* After a failed fdatasync the kernel may have dropped the dirty
         * pages; retrying would ack records that are gone. */
        sp->broken = 1;
        log_msg(LOG_ERROR, sp->who, "fdatasync failed, refusing appends "
                "until restart: %s", de.code ? de.msg : strerror(saved));
        return err_sys(e, saved, "%s: syncing the spool failed", sp->who);
    }
    sp->durable = target;
    sp->dur_recs = recs;
    sp->dur_bytes = bytes;
    wake_locked(sp);
    return 0;
}

static int group_sync(struct spool *sp, struct spool_pos mine, struct err *e)
{
    for (;;) {
        if (pos_cmp(mine, sp->durable) <= 0)
            return 0;
        if (sp->broken)
            return err_set(e, ERR_IO, "%s refuses writes after a failed "
                           "fdatasync; restart to recover", sp->who);
        if (sp->syncing)
            pthread_cond_wait(&sp->sync_cv, &sp->mu);
        else if (sync_lead(sp, e) != 0)
            return -1;
    }
}

/* Encode n records into sp->abuf (mu held: seqs are assigned here). */
static int append_encode(struct spool *sp, const struct iovec *recs,
                         size_t n, int64_t arrival_ms, const uint32_t *dcrc,
                         uint64_t need, struct err *e)
{
    unsigned char *p;

    sp->abuf.len = 0;
    if (buf_reserve(&sp->abuf, (size_t)need, e) != 0)
        return -1;
    p = sp->abuf.p;
    for (size_t i = 0; i < n; i++) {
        size_t len = recs[i].iov_len;
        uint32_t c = i < CRC_AHEAD ? dcrc[i]
                                   : data_crc(recs[i].iov_base, len);

        put32(p, REC_MAGIC);
        put32(p + 4, (uint32_t)len);
        put64(p + 12, sp->next_seq + i);
        put64(p + 20, (uint64_t)arrival_ms);
        put32(p + 8, rec_crc(p, c));
        if (len > 0)
            memcpy(p + REC_HDR, recs[i].iov_base, len);
        p += REC_HDR + len;
    }
    sp->abuf.len = (size_t)need;
    return 0;
}

int spool_append(struct spool *sp, const struct iovec *recs, size_t n,
                 int64_t arrival_ms, uint64_t *first_seq, struct err *e)
{
    uint32_t dcrc[CRC_AHEAD];
    uint64_t data = 0, need, live;
    struct spool_seg *cur;
    struct spool_pos mine;
    int rc = -1, roll;

    if (n == 0 || n > APPEND_MAX_RECS)
        return err_set(e, ERR_INVAL, "%zu records in one append", n);
    for (size_t i = 0; i < n; i++) {
        if (recs[i].iov_len > SPOOL_MAX_RECORD)
            return err_set(e, ERR_INVAL, "record %zu is %zu bytes, above "
                           "the limit of %d", i, recs[i].iov_len,
                           SPOOL_MAX_RECORD);
        data += recs[i].iov_len;
        if (i < CRC_AHEAD)
            dcrc[i] = data_crc(recs[i].iov_base, recs[i].iov_len);
    }
    need = data + (uint64_t)n * REC_HDR;
    pthread_mutex_lock(&sp->mu);
    if (sp->broken) {
        err_set(e, ERR_IO, "%s refuses writes after a failed fdatasync; "
                "restart to recover", sp->who);
        goto out;
    }
    cur = &sp->segs[sp->nsegs - 1];
    roll = cur->size > SEG_HDR && cur->size + need > sp->seg_bytes;
    live = sp->total_bytes - sp->dead_bytes;
    if (sp->max_bytes > 0 &&
        live + need + (roll ? SEG_HDR : 0) > sp->max_bytes) {
        err_set(e, ERR_FULL, "%s is full: %" PRIu64 " of %" PRIu64
                " bytes live, %" PRIu64 " more asked", sp->who, live,
                sp->max_bytes, need);
        goto out;
    }
    if (roll && seg_roll(sp, e) != 0)
        goto out;
    cur = &sp->segs[sp->nsegs - 1];
    if (append_encode(sp, recs, n, arrival_ms, dcrc, need, e) != 0)
        goto out;
    if (full_pwrite(cur->fd, sp->abuf.p, sp->abuf.len, cur->size) != 0) {
        int saved = errno;
        /* All or none: cut whatever part made it. */
        if (ftruncate(cur->fd, (off_t)cur->size) != 0)
            log_msg(LOG_ERROR, sp->who, "cutting a failed append: %s",
                    strerror(errno));
        err_sys(e, saved, "%s: appending to segment %016" PRIx64
                " failed", sp->who, cur->first_seq);
        goto out;
    }
    cur->size += need;
    cur->dirty = 1;
    sp->total_bytes += need;
    if (sp->wr_recs == sp->seal_recs ||
        arrival_ms < sp->oldest_unsealed_ms)
        sp->oldest_unsealed_ms = arrival_ms;
    sp->wr_recs += n;
    sp->wr_bytes += data;
    *first_seq = sp->next_seq;
    sp->next_seq += n;
    mine.seg = cur->first_seq;
    mine.off = cur->size;
    if (!sp->fsync) {
        sp->durable = mine;
        sp->dur_recs = sp->wr_recs;
        sp->dur_bytes = sp->wr_bytes;
        wake_locked(sp);
        rc = 0;
        goto out;
    }
    rc = group_sync(sp, mine, e);
out:
    pthread_mutex_unlock(&sp->mu);
    return rc;
}

uint64_t spool_sync_count(struct spool *sp)
{
    uint64_t n;

    pthread_mutex_lock(&sp->mu);
    n = sp->sync_count;
    pthread_mutex_unlock(&sp->mu);
    return n;
}

void spool_stats(struct spool *sp, struct spool_stats *st)
{
    pthread_mutex_lock(&sp->mu);
    st->live_bytes = sp->total_bytes - sp->dead_bytes;
    st->unsealed_records = sp->dur_recs - sp->seal_recs;
    st->unsealed_bytes = sp->dur_bytes - sp->seal_bytes;
    st->oldest_unsealed_ms = st->unsealed_records ? sp->oldest_unsealed_ms
                                                  : 0;
    st->pending_batches = sp->npend;
    st->corrupt_ranges = sp->bad_ranges;
    st->corrupt_bytes = sp->bad_bytes;
    st->corrupt_records = sp->bad_records;
    st->oldest_uncommitted_ms = sp->npend ? sp->oldest_pending_ms : 0;
    if (st->unsealed_records &&
        (sp->npend == 0 || st->oldest_unsealed_ms < sp->oldest_pending_ms))
        st->oldest_uncommitted_ms = st->oldest_unsealed_ms;
    pthread_mutex_unlock(&sp->mu);
}

void spool_wait(struct spool *sp, int timeout_ms)
{
    struct timespec ts;
    uint64_t gen;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (timeout_ms > 0) {
        ts.tv_sec += timeout_ms / 1000;
        ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&sp->mu);
    gen = sp->wake_gen;
    while (gen == sp->wake_gen)
        if (pthread_cond_timedwait(&sp->wait_cv, &sp->mu, &ts) != 0)
            break;
    pthread_mutex_unlock(&sp->mu);
}

void spool_wake(struct spool *sp)
{
    pthread_mutex_lock(&sp->mu);
    wake_locked(sp);
    pthread_mutex_unlock(&sp->mu);
}

/* ---- seal, read, commit (the scheduler thread) ---- */

/* Where the segment holding 'pos' ends for reading, under mu. */
static int seg_view(struct spool *sp, uint64_t seg, struct spool_pos limit,
                    int *fd, uint64_t *end, uint64_t *next, struct err *e)
{
    size_t i;
    int found;

    pthread_mutex_lock(&sp->mu);
    i = seg_find(sp, seg);
    found = i < sp->nsegs;
    if (found) {
        *fd = sp->segs[i].fd;
        *end = seg == limit.seg ? limit.off : sp->segs[i].size;
        *next = i + 1 < sp->nsegs ? sp->segs[i + 1].first_seq : 0;
    }
    pthread_mutex_unlock(&sp->mu);
    if (!found)
        return err_set(e, ERR_CORRUPT, "%s: segment %016" PRIx64
                       " is missing", sp->who, seg);
    return 0;
}

/* With fsync off, records are synced when sealed instead, so that a batch
 * in the journal never refers to records a power loss can take. */
static int seg_sync(struct spool *sp, int fd, uint64_t seg, struct err *e)
{
    if (sp->fsync || fdatasync(fd) == 0)
        return 0;
    return err_sys(e, errno, "%s: syncing segment %016" PRIx64 " failed",
                   sp->who, seg);
}

/* Arrival of the record at the cursor (mu held); the cursor is below the
 * written end when this is called. */
static int64_t cursor_arrival(struct spool *sp)
{
    size_t i = seg_find(sp, sp->cursor.seg);
    const unsigned char *h = NULL;

    if (i < sp->nsegs && sp->cursor.off + REC_HDR <= sp->segs[i].size)
        h = rd_get(&sp->rd, sp->segs[i].fd, sp->cursor.seg, sp->cursor.off,
                   REC_HDR, sp->segs[i].size, NULL);
    return h ? (int64_t)get64(h + 20) : sp->oldest_unsealed_ms;
}

int spool_seal(struct spool *sp, uint64_t max_bytes, struct spool_batch *b,
               struct err *e)
{
    struct spool_pend p;
    struct spool_pos pos, limit;
    uint64_t avail, end = 0, next = 0;
    int64_t next_ms = 0;
    int fd = -1, have_next = 0, rc = 0;

    memset(&p, 0, sizeof(p));
    pthread_mutex_lock(&sp->mu);
    for (size_t i = 0; i < sp->npend; i++) {
        if (!sp->pend[i].handed) {
            sp->pend[i].handed = 1;
            *b = sp->pend[i].b;
            pthread_mutex_unlock(&sp->mu);
            return 1;
        }
    }
    cursor_normalize(sp);
    pos = sp->cursor;
    limit = sp->durable;
    avail = sp->dur_recs - sp->seal_recs;
    if (avail > UINT32_MAX)
        avail = UINT32_MAX;
    /* Room now, so that a journaled batch always makes it into memory. */
    if (avail > 0)
        rc = grow(&sp->pend, &sp->pendcap, sp->npend + 1, sizeof(*sp->pend),
                  e);
    pthread_mutex_unlock(&sp->mu);
    if (rc != 0 || avail == 0)
        return rc;
    if (seg_view(sp, pos.seg, limit, &fd, &end, &next, e) != 0)
        return -1;
    while (p.b.count < avail) {
        const unsigned char *h;
        uint32_t len;

        if (pos.off + REC_HDR > end) {
            if (pos.off != end || pos.seg == limit.seg || next == 0)
                return err_set(e, ERR_CORRUPT, "%s: segment %016" PRIx64
                               " ends inside a record", sp->who, pos.seg);
            if (seg_sync(sp, fd, pos.seg, e) != 0)
                return -1;
            pos.seg = next;
            pos.off = SEG_HDR;
            if (seg_view(sp, pos.seg, limit, &fd, &end, &next, e) != 0)
                return -1;
            continue;
        }
        h = rd_get(&sp->rd, fd, pos.seg, pos.off, REC_HDR, end, e);
        if (h == NULL)
            return -1;
        len = get32(h + 4);
        if (get32(h) != REC_MAGIC || len > SPOOL_MAX_RECORD ||
            end - pos.off - REC_HDR < len)
            return err_set(e, ERR_CORRUPT, "%s: bad record header in "
                           "segment %016" PRIx64 " at offset %" PRIu64,
                           sp->who, pos.seg, pos.off);
        if (p.b.count > 0 && p.b.bytes + len > max_bytes) {
            have_next = 1;
            next_ms = (int64_t)get64(h + 20);
            break;
        }
        if (p.b.count == 0) {
            p.start = pos;
            p.b.first_seq = get64(h + 12);
            p.b.oldest_arrival_ms = (int64_t)get64(h + 20);
        }
        p.b.count++;
        p.b.bytes += len;
        p.b.last_seq = get64(h + 12);
        if ((int64_t)get64(h + 20) < p.b.oldest_arrival_ms)
            p.b.oldest_arrival_ms = (int64_t)get64(h + 20);
        pos.off += REC_HDR + len;
    }
    if (seg_sync(sp, fd, pos.seg, e) != 0)
        return -1;
    p.b.id = sp->next_id;
    p.handed = 1;
    sp->jbuf.len = 0;
    if (jline_batch(&sp->jbuf, &p, e) != 0 || journal_write(sp, 1, e) != 0)
        return -1;
    sp->next_id++;
    sp->seal_next = p.b.last_seq + 1;

    pthread_mutex_lock(&sp->mu);
    sp->pend[sp->npend++] = p;
    sp->cursor = pos;
    sp->seal_recs += p.b.count;
    sp->seal_bytes += p.b.bytes;
    if (p.b.oldest_arrival_ms < sp->oldest_pending_ms)
        sp->oldest_pending_ms = p.b.oldest_arrival_ms;
    low_update(sp);
    if (sp->wr_recs > sp->seal_recs)
        sp->oldest_unsealed_ms = have_next ? next_ms : cursor_arrival(sp);
    pthread_mutex_unlock(&sp->mu);
    reap(sp);
    *b = p.b;
    return 1;
}

static struct spool_pend *pend_get(struct spool *sp,
                                   const struct spool_batch *b,
                                   struct err *e)
{
    size_t i = pend_find(sp, b->id);

    if (i == sp->npend || sp->pend[i].b.id != b->id) {
        err_set(e, ERR_NOTFOUND, "%s: batch %" PRIu64 " is not pending",
                sp->who, b->id);
        return NULL;
    }
    if (sp->pend[i].b.first_seq != b->first_seq ||
        sp->pend[i].b.count != b->count || sp->pend[i].b.bytes != b->bytes) {
        err_set(e, ERR_INVAL, "%s: batch %" PRIu64 " does not match the "
                "spool's", sp->who, b->id);
        return NULL;
    }
    return &sp->pend[i];
}

/* Check and index the records of a batch read into d->raw. */
static int read_parse(struct spool *sp, const struct spool_batch *b,
                      struct spool_data *d, struct err *e)
{
    const unsigned char *p = d->raw.p, *end = d->raw.p + d->raw.len;
    uint64_t prev = 0;

    if (grow(&d->recs, &d->cap, b->count, sizeof(*d->recs), e) != 0)
        return -1;
    d->n = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        struct spool_rec *r = &d->recs[i];
        uint32_t len;

        if ((size_t)(end - p) < REC_HDR)
            goto bad;
        len = get32(p + 4);
        r->seq = get64(p + 12);
        if (get32(p) != REC_MAGIC || len > (size_t)(end - p) - REC_HDR ||
            r->seq < b->first_seq || r->seq > b->last_seq ||
            (i > 0 && r->seq <= prev))
            goto bad;
        if (rec_crc(p, data_crc(p + REC_HDR, len)) != get32(p + 8)) {
            d->n = 0;
            return err_set(e, ERR_CORRUPT, "%s: batch %" PRIu64 ": record "
                           "seq %" PRIu64 " failed its checksum", sp->who,
                           b->id, r->seq);
        }
        r->arrival_ms = (int64_t)get64(p + 20);
        r->data = p + REC_HDR;
        r->len = len;
        prev = r->seq;
        p += REC_HDR + len;
        d->n++;
    }
    if (p == end)
        return 0;
bad:
    err_set(e, ERR_CORRUPT, "%s: batch %" PRIu64 ": record %zu is "
            "malformed", sp->who, b->id, d->n);
    d->n = 0;
    return -1;
}

/* Read n bytes of batch b's records from *pos on into dst, across
 * segments; *pos moves past them. */
static int read_span(struct spool *sp, const struct spool_batch *b,
                     struct spool_pos *pos, unsigned char *dst, uint64_t n,
                     struct err *e)
{
    struct spool_pos all = { UINT64_MAX, 0 };
    uint64_t got = 0, end, next;
    size_t rd;
    int fd;

    while (got < n) {
        uint64_t take;

        if (seg_view(sp, pos->seg, all, &fd, &end, &next, e) != 0)
            return -1;
        take = end > pos->off ? end - pos->off : 0;
        if (take > n - got)
            take = n - got;
        if (take == 0 && next == 0)
            return err_set(e, ERR_CORRUPT, "%s: batch %" PRIu64 " runs past "
                           "the end of the spool", sp->who, b->id);
        if (take > 0 &&
            full_pread(fd, dst + got, (size_t)take, pos->off, &rd) != 0)
            return err_sys(e, errno, "%s: reading batch %" PRIu64 " failed",
                           sp->who, b->id);
        if (take > 0 && rd != take)
            return err_set(e, ERR_CORRUPT, "%s: segment %016" PRIx64
                           " is shorter than expected", sp->who, pos->seg);
        got += take;
        pos->off += take;
        if (got < n) {
            pos->seg = next;
            pos->off = SEG_HDR;
        }
    }
    return 0;
}

int spool_read(struct spool *sp, const struct spool_batch *b,
               struct spool_data *d, struct err *e)
{
    struct spool_pend *pe = pend_get(sp, b, e);
    struct spool_pos pos;
    uint64_t total;

    if (pe == NULL)
        return -1;
    d->n = 0;
    d->raw.len = 0;
    total = (uint64_t)b->count * REC_HDR + b->bytes;
    if (buf_reserve(&d->raw, (size_t)total, e) != 0)
        return -1;
    pos = pe->start;
    if (read_span(sp, b, &pos, d->raw.p, total, e) != 0)
        return -1;
    d->raw.len = (size_t)total;
    return read_parse(sp, b, d, e);
}

int spool_read_window(struct spool *sp, const struct spool_batch *b,
                      struct spool_cursor *c, size_t max_bytes,
                      struct spool_data *d, struct err *e)
{
    struct spool_pend *pe = pend_get(sp, b, e);
    uint64_t total, chunk, need;
    const unsigned char *p, *end;
    size_t left;

    if (pe == NULL)
        return -1;
    total = (uint64_t)b->count * REC_HDR + b->bytes;
    if (!c->started) {
        memset(c, 0, sizeof(*c));
        c->started = 1;
        c->seg = pe->start.seg;
        c->off = pe->start.off;
        d->raw.len = 0;
    }
again:
    /* The partial record the last window ended with moves to the front. */
    left = (size_t)c->left;
    if (left > 0)
        memmove(d->raw.p, d->raw.p + d->raw.len - left, left);
    d->raw.len = left;
    d->n = 0;
    if (left == 0 && c->read == total) {
        if (c->recs != b->count)
            return err_set(e, ERR_CORRUPT, "%s: batch %" PRIu64 " has %u "
                           "records, %u expected", sp->who, b->id, c->recs,
                           b->count);
        return 0;
    }
    /* At least the whole next record, however large. */
    need = max_bytes < REC_HDR ? REC_HDR : max_bytes;
    if (left >= REC_HDR && REC_HDR + (uint64_t)get32(d->raw.p + 4) > need)
        need = REC_HDR + (uint64_t)get32(d->raw.p + 4);
    chunk = need > left ? need - left : 0;
    if (chunk > total - c->read)
        chunk = total - c->read;
    if (buf_reserve(&d->raw, (size_t)chunk, e) != 0)
        return -1;
    {
        struct spool_pos pos = { c->seg, c->off };
        if (read_span(sp, b, &pos, d->raw.p + left, chunk, e) != 0)
            return -1;
        c->seg = pos.seg;
        c->off = pos.off;
    }
    c->read += chunk;
    d->raw.len = left + (size_t)chunk;
    /* Index the whole records; a partial one waits for the next window. */
    p = d->raw.p;
    end = d->raw.p + d->raw.len;
    while ((size_t)(end - p) >= REC_HDR) {
        struct spool_rec *r;
        uint32_t len = get32(p + 4);
        uint64_t seq = get64(p + 12);

        if (get32(p) != REC_MAGIC || seq < b->first_seq ||
            seq > b->last_seq || (c->recs > 0 && seq <= c->prev_seq) ||
            c->recs >= b->count || len > SPOOL_MAX_RECORD)
            return err_set(e, ERR_CORRUPT, "%s: batch %" PRIu64 ": record "
                           "%u is malformed", sp->who, b->id, c->recs);
        if ((size_t)(end - p) - REC_HDR < len)
            break;
        if (rec_crc(p, data_crc(p + REC_HDR, len)) != get32(p + 8))
            return err_set(e, ERR_CORRUPT, "%s: batch %" PRIu64 ": record "
                           "seq %" PRIu64 " failed its checksum", sp->who,
                           b->id, seq);
        if (grow(&d->recs, &d->cap, d->n + 1, sizeof(*d->recs), e) != 0)
            return -1;
        r = &d->recs[d->n++];
        r->seq = seq;
        r->arrival_ms = (int64_t)get64(p + 20);
        r->data = p + REC_HDR;
        r->len = len;
        c->prev_seq = seq;
        c->recs++;
        p += REC_HDR + len;
    }
    c->left = (uint64_t)(end - p);
    /* Not even one whole record: its header is in now, read the rest. */
    if (d->n == 0 && c->read < total && c->left >= REC_HDR)
        goto again;
    if (d->n == 0 || (c->read == total && c->left > 0))
        return err_set(e, ERR_CORRUPT, "%s: batch %" PRIu64 " ends inside "
                       "record %u", sp->who, b->id, c->recs);
    return 1;
}

void spool_data_release(struct spool_data *d)
{
    buf_release(&d->raw);
    free(d->recs);
    d->recs = NULL;
    d->n = d->cap = 0;
}

int spool_commit(struct spool *sp, const struct spool_batch *b,
                 struct err *e)
{
    struct spool_pend *pe = pend_get(sp, b, e);
    struct err ce = { 0, "" };

    if (pe == NULL)
        return -1;
    sp->jbuf.len = 0;
    if (jline(&sp->jbuf, e, "C %" PRIu64, b->id) != 0 ||
        journal_write(sp, 0, e) != 0)
        return -1;
    pthread_mutex_lock(&sp->mu);
    pend_remove(sp, (size_t)(pe - sp->pend));
    sp->oldest_pending_ms = INT64_MAX;
    for (size_t i = 0; i < sp->npend; i++)
        if (sp->pend[i].b.oldest_arrival_ms < sp->oldest_pending_ms)
            sp->oldest_pending_ms = sp->pend[i].b.oldest_arrival_ms;
    low_update(sp);
    pthread_mutex_unlock(&sp->mu);
    reap(sp);
    /* The commit itself is done; a failed compaction is retried later. */
    if (sp->jsize > JOURNAL_COMPACT && sp->jsize / 4 > sp->npend * 160 &&
        journal_compact(sp, &ce) != 0)
        log_msg(LOG_WARN, sp->who, "compacting the batch journal failed: "
                "%s", ce.msg);
    return 0;
}

uint64_t spool_committed_below(struct spool *sp)
{
    uint64_t low;

    pthread_mutex_lock(&sp->mu);
    /* Pending batches are in seq order and unsealed records follow the
     * sealed ones, so the oldest uncommitted record is the first of the
     * first pending batch, else the first unsealed one. */
    if (sp->npend > 0)
        low = sp->pend[0].b.first_seq;
    else
        low = sp->next_seq - (sp->wr_recs - sp->seal_recs);
    pthread_mutex_unlock(&sp->mu);
    return low;
}
