/* spool_seg.c - see spool_seg.h. */
#include "spool_seg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "spool_jnl.h"
#include "trim.h"

static void seg_path(const struct spool *sp, uint64_t first, char *out)
{
    snprintf(out, PATH_LEN, "%s/%016" PRIx64 ".seg", sp->dir, first);
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
    if (spool_full_pwrite(sg->fd, h, sizeof(h), 0) == 0)
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
int spool_seg_roll(struct spool *sp, struct err *e)
{
    struct spool_seg sg;

    if (spool_grow(&sp->segs, &sp->segcap, sp->nsegs + 1, sizeof(*sp->segs), e))
        return -1;
    if (seg_create(sp, sp->next_seq, &sg, e) != 0)
        return -1;
    sp->segs[sp->nsegs++] = sg;
    sp->total_bytes += SEG_HDR;
    sp->dir_dirty = 1;
    return 0;
}

/* A cursor at the end of a sealed-off segment moves to the next one. */
void spool_cursor_normalize(struct spool *sp)
{
    size_t i = spool_seg_find(sp, sp->cursor.seg);

    while (i + 1 < sp->nsegs && sp->cursor.off >= sp->segs[i].size) {
        i++;
        sp->cursor.seg = sp->segs[i].first_seq;
        sp->cursor.off = SEG_HDR;
    }
}

/* Recompute dead_bytes and move the segments that hold only committed
 * records to sp->dead (mu held). Everything before the lowest of the seal
 * cursor and the first pending batch is committed. */
void spool_low_update(struct spool *sp)
{
    struct spool_pos low;
    size_t k = 0;

    spool_cursor_normalize(sp);
    low = sp->cursor;
    if (sp->npend > 0 && pos_cmp(sp->pend[0].start, low) < 0)
        low = sp->pend[0].start;
    while (k < sp->nsegs - 1 && sp->segs[k].first_seq < low.seg)
        k++;
    /* Without room to remember them they are kept until the next try. */
    if (k > 0 && spool_grow(&sp->dead, &sp->deadcap, sp->ndead + k,
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

/* Unlink what spool_low_update() set aside (mu not held). The space comes back
 * a little at a time (trim.h), so the fdatasyncs of appends meanwhile do
 * not wait behind one big discard. No directory fsync: a segment that
 * comes back after a crash is found committed and removed again. */
void spool_reap(struct spool *sp)
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

int spool_id_load(struct spool *sp, int have_data, struct err *e)
{
    char path[PATH_LEN], tmp[PATH_LEN], text[64], want[64] = "";
    int fd, saved;
    ssize_t n;
    uint64_t v = 0;

    spool_dir_path(sp, "spool.id", path);
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
    spool_dir_path(sp, "spool.id.tmp", tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return err_sys(e, errno, "creating '%s' failed", tmp);
    if (spool_full_pwrite(fd, text, (size_t)n, 0) != 0 || fsync(fd) != 0) {
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
int spool_segs_list(struct spool *sp, int *other, struct err *e)
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

            spool_dir_path(sp, s, path);
            (void)unlink(path);
            continue;
        }
        if (n != 20 || strcmp(s + 16, ".seg") != 0)
            continue;
        for (i = 0; i < 16 && strchr("0123456789abcdef", s[i]); i++)
            ;
        if (i < 16)
            continue;
        if (spool_grow(&sp->segs, &sp->segcap, sp->nsegs + 1, sizeof(*sp->segs),
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
    h = spool_rd_get(&sp->rd, sg->fd, sg->first_seq, off, REC_HDR, sg->size, e);
    if (h == NULL)
        return -1;
    len = get32(h + 4);
    *seq = get64(h + 12);
    if (get32(h) != REC_MAGIC || len > SPOOL_MAX_RECORD ||
        sg->size - off - REC_HDR < len || *seq < sg->first_seq ||
        *seq >= limit || (prev != 0 && *seq <= prev))
        return 0;
    h = spool_rd_get(&sp->rd, sg->fd, sg->first_seq, off, REC_HDR + len,
                     sg->size, e);
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
        const unsigned char *h = spool_rd_get(&sp->rd, sg->fd, sg->first_seq,
                                              p, 4, sg->size, e);
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

    spool_dir_path(sp, "corrupt", dir);
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

        if (spool_full_pread(sg->fd, buf, n, off, &got) != 0 || got != n ||
            spool_full_pwrite(fd, buf, n, off - from) != 0)
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

        if (spool_full_pread(sg->fd, buf, n, off, &got) != 0 || got != n ||
            spool_full_pwrite(fd, buf, n, w) != 0)
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
            h = spool_rd_get(&sp->rd, sg->fd, sg->first_seq, off, REC_HDR,
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
            h = spool_rd_get(&sp->rd, sg->fd, sg->first_seq, off, REC_HDR + len,
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
    if (spool_full_pread(sg->fd, h, SEG_HDR, 0, &got) != 0)
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
            if (spool_jline(&sp->jbuf, e, "C %" PRIu64, p->b.id) != 0)
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
            if (spool_jline_batch(&sp->jbuf, p, e) != 0)
                return -1;
            changed = 1;
        }
        sp->pend[k++] = *p;
    }
    sp->npend = k;
    return changed ? spool_journal_write(sp, 1, e) : 0;
}

int spool_recover(struct spool *sp, struct err *e)
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
        if (spool_grow(&sp->segs, &sp->segcap, 1, sizeof(*sp->segs), e) != 0 ||
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
    spool_low_update(sp);
    spool_reap(sp);
    rc = 0;
out:
    free(sc.rc);
    return rc;
}
