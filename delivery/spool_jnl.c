/* spool_jnl.c - see spool_jnl.h. */
#include "spool_jnl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

int spool_jline(struct buf *b, struct err *e, const char *fmt, ...)
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

int spool_jline_batch(struct buf *b, const struct spool_pend *p,
                      struct err *e)
{
    return spool_jline(b, e, "S %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu32
                       " %" PRIu64 " %" PRId64 " %" PRIu64 " %" PRIu64, p->b.id,
                       p->b.first_seq, p->b.last_seq, p->b.count, p->b.bytes,
                       p->b.oldest_arrival_ms, p->start.seg, p->start.off);
}

/* Append sp->jbuf to the journal, all or nothing, optionally synced. */
int spool_journal_write(struct spool *sp, int sync, struct err *e)
{
    const char *op = "writing";

    if (spool_full_pwrite(sp->jfd, sp->jbuf.p, sp->jbuf.len, sp->jsize) != 0)
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
    size_t i = spool_pend_find(sp, p->b.id);

    if (i < sp->npend && sp->pend[i].b.id == p->b.id) {
        sp->pend[i] = *p;
        return 0;
    }
    if (spool_grow(&sp->pend, &sp->pendcap, sp->npend + 1, sizeof(*sp->pend),
                   e))
        return -1;
    memmove(sp->pend + i + 1, sp->pend + i,
            (sp->npend - i) * sizeof(*sp->pend));
    sp->pend[i] = *p;
    sp->npend++;
    return 0;
}

void spool_pend_remove(struct spool *sp, size_t i)
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
        size_t i = spool_pend_find(sp, a);
        id_max(&sp->next_id, a);
        if (i < sp->npend && sp->pend[i].b.id == a)
            spool_pend_remove(sp, i);
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
int spool_journal_load(struct spool *sp, struct err *e)
{
    char path[PATH_LEN];
    struct stat st;
    struct buf b = { 0 };
    size_t got, pos = 0, good = 0;
    int rc = -1, created;

    spool_dir_path(sp, "batches.log", path);
    created = access(path, F_OK) != 0;
    sp->jfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (sp->jfd < 0 || fstat(sp->jfd, &st) != 0)
        return err_sys(e, errno, "opening '%s' failed", path);
    if (created && util_fsync_dir(sp->dir, e) != 0)
        return -1;
    if (buf_reserve(&b, (size_t)st.st_size + 1, e) != 0)
        return -1;
    if (spool_full_pread(sp->jfd, b.p, (size_t)st.st_size, 0, &got) != 0) {
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
        spool_pend_remove(sp, i--);
    }
    rc = 0;
out:
    buf_release(&b);
    return rc;
}

/* Rewrite the journal with only what is pending (fsync, rename, fsync
 * dir). The H line keeps ids and the seal point when nothing is. */
int spool_journal_compact(struct spool *sp, struct err *e)
{
    char path[PATH_LEN], tmp[PATH_LEN];
    const char *op = "writing";
    int fd;

    spool_dir_path(sp, "batches.log", path);
    spool_dir_path(sp, "batches.log.tmp", tmp);
    sp->jbuf.len = 0;
    if (spool_jline(&sp->jbuf, e, "H %" PRIu64 " %" PRIu64, sp->next_id,
                    sp->seal_next) != 0)
        return -1;
    for (size_t i = 0; i < sp->npend; i++)
        if (spool_jline_batch(&sp->jbuf, &sp->pend[i], e) != 0)
            return -1;
    fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return err_sys(e, errno, "creating '%s' failed", tmp);
    if (spool_full_pwrite(fd, sp->jbuf.p, sp->jbuf.len, 0) != 0)
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
