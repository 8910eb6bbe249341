/* spool.c - the durable record log behind spool.h: open and close,
 * append with group commit, seal, read and commit. The on-disk format and
 * the state the modules share are in spool_io.h, the batch journal in
 * spool_jnl.c, segment files and recovery in spool_seg.c. */
#include "spool.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spool_io.h"
#include "spool_jnl.h"
#include "spool_seg.h"
#include "trim.h"

#define SEG_DEFAULT     (64u << 20)
/* A sanity bound on one append, far above any request we accept. */
#define APPEND_MAX_RECS (1u << 20)
/* Data checksums computed before the mutex; later records are done under
 * it, which is only slower. */
#define CRC_AHEAD       512
/* Rewrite the journal past this size once most of it is committed. */
#define JOURNAL_COMPACT (256u << 10)
#define DIR_MAX         4000

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
    if (util_mkdirs(sp->dir, e) != 0 || spool_segs_list(sp, &have_journal, e) ||
        spool_id_load(sp, sp->nsegs > 0 || have_journal, e) != 0)
        goto fail;
    /* Leftovers of a crash in the middle of a rename. */
    spool_dir_path(sp, "batches.log.tmp", path);
    (void)unlink(path);
    spool_dir_path(sp, "spool.id.tmp", path);
    (void)unlink(path);
    if (spool_journal_load(sp, e) != 0 || spool_recover(sp, e) != 0)
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

    if (spool_grow(&sp->sync_fds, &sp->sync_cap, sp->nsegs, sizeof(int), e))
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
    if (roll && spool_seg_roll(sp, e) != 0)
        goto out;
    cur = &sp->segs[sp->nsegs - 1];
    if (append_encode(sp, recs, n, arrival_ms, dcrc, need, e) != 0)
        goto out;
    if (spool_full_pwrite(cur->fd, sp->abuf.p, sp->abuf.len, cur->size) != 0) {
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
    i = spool_seg_find(sp, seg);
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
    size_t i = spool_seg_find(sp, sp->cursor.seg);
    const unsigned char *h = NULL;

    if (i < sp->nsegs && sp->cursor.off + REC_HDR <= sp->segs[i].size)
        h = spool_rd_get(&sp->rd, sp->segs[i].fd, sp->cursor.seg,
                         sp->cursor.off, REC_HDR, sp->segs[i].size, NULL);
    return h ? (int64_t)get64(h + 20) : sp->oldest_unsealed_ms;
}

int spool_seal(struct spool *sp, uint64_t max_bytes, uint32_t max_records,
               struct spool_batch *b, struct err *e)
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
    spool_cursor_normalize(sp);
    pos = sp->cursor;
    limit = sp->durable;
    avail = sp->dur_recs - sp->seal_recs;
    if (avail > UINT32_MAX)
        avail = UINT32_MAX;
    if (max_records > 0 && avail > max_records)
        avail = max_records;
    /* Room now, so that a journaled batch always makes it into memory. */
    if (avail > 0)
        rc = spool_grow(&sp->pend, &sp->pendcap, sp->npend + 1,
                        sizeof(*sp->pend), e);
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
        h = spool_rd_get(&sp->rd, fd, pos.seg, pos.off, REC_HDR, end, e);
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
    if (spool_jline_batch(&sp->jbuf, &p, e) != 0 ||
        spool_journal_write(sp, 1, e) != 0)
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
    spool_low_update(sp);
    if (sp->wr_recs > sp->seal_recs)
        sp->oldest_unsealed_ms = have_next ? next_ms : cursor_arrival(sp);
    pthread_mutex_unlock(&sp->mu);
    spool_reap(sp);
    *b = p.b;
    return 1;
}

static struct spool_pend *pend_get(struct spool *sp,
                                   const struct spool_batch *b,
                                   struct err *e)
{
    size_t i = spool_pend_find(sp, b->id);

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

    if (spool_grow(&d->recs, &d->cap, b->count, sizeof(*d->recs), e) != 0)
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
            spool_full_pread(fd, dst + got, (size_t)take, pos->off, &rd) != 0)
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
        if (spool_grow(&d->recs, &d->cap, d->n + 1, sizeof(*d->recs), e) != 0)
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
    if (spool_jline(&sp->jbuf, e, "C %" PRIu64, b->id) != 0 ||
        spool_journal_write(sp, 0, e) != 0)
        return -1;
    pthread_mutex_lock(&sp->mu);
    spool_pend_remove(sp, (size_t)(pe - sp->pend));
    sp->oldest_pending_ms = INT64_MAX;
    for (size_t i = 0; i < sp->npend; i++)
        if (sp->pend[i].b.oldest_arrival_ms < sp->oldest_pending_ms)
            sp->oldest_pending_ms = sp->pend[i].b.oldest_arrival_ms;
    spool_low_update(sp);
    pthread_mutex_unlock(&sp->mu);
    spool_reap(sp);
    /* The commit itself is done; a failed compaction is retried later. */
    if (sp->jsize > JOURNAL_COMPACT && sp->jsize / 4 > sp->npend * 160 &&
        spool_journal_compact(sp, &ce) != 0)
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
