/* spool_io.c - see spool_io.h. */
#include "spool_io.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define RD_WINDOW       (256u << 10)

void spool_dir_path(const struct spool *sp, const char *name, char *out)
{
    snprintf(out, PATH_LEN, "%s/%s", sp->dir, name);
}

/* Index of segment 'first', or nsegs. */
size_t spool_seg_find(const struct spool *sp, uint64_t first)
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

size_t spool_pend_find(const struct spool *sp, uint64_t id)
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

int spool_grow(void *pp, size_t *cap, size_t need, size_t size,
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

int spool_full_pread(int fd, void *p, size_t n, uint64_t off, size_t *got)
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

int spool_full_pwrite(int fd, const void *p, size_t n, uint64_t off)
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
const unsigned char *spool_rd_get(struct spool_rd *r, int fd, uint64_t seg,
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
    if (spool_full_pread(fd, r->p, want, off, &got) != 0) {
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
