/* local.c - the embedded default destination: objects become files under
 * a directory, with exactly the S3 key layout. A file is written to a
 * temporary name, synced and renamed, so a reader never sees half an
 * object and a re-delivery of the same batch replaces it whole. */
#define _GNU_SOURCE     /* sync_file_range() */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../delivery/util.h"
#include "dest.h"

struct local {
    char root[2048];
};

static int local_create(struct dest *d, const struct cfg_stream *s,
                        const struct cfg_service *svc, struct err *e)
{
    struct local *l;

    (void)svc;
    l = calloc(1, sizeof(*l));
    if (l == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    d->ctx = l;
    if (strlen(s->s3.path) >= sizeof(l->root))
        return err_set(e, ERR_INVAL, "Path '%s' is too long", s->s3.path);
    strncpy(l->root, s->s3.path, sizeof(l->root) - 1);
    return util_mkdirs(l->root, e);
}

/* Bytes written between two writeback starts (see write_object()). */
#define LOCAL_WB_CHUNK (512u << 10)

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Write an object and start its writeback chunk by chunk, waiting for the
 * chunk before: the closing fdatasync then finds at most two chunks to
 * write. Written whole and synced at the end, a 5-128 MiB object reaches
 * the disk queue in one burst, and the spool's next group-commit
 * fdatasync on the same disk waits behind all of it (P5-lat p99
 * acknowledgement 16 -> 12 ms, tests/bench/README.md). sync_file_range()
 * only starts and waits for writeback, so its errors are left to the
 * fdatasync that follows. */
static int write_object(int fd, const unsigned char *p, size_t n)
{
    off_t off = 0;

    while (n > 0) {
        size_t c = n < LOCAL_WB_CHUNK ? n : LOCAL_WB_CHUNK;

        if (write_all(fd, p, c) != 0)
            return -1;
        (void)sync_file_range(fd, off, (off_t)c, SYNC_FILE_RANGE_WRITE);
        if (off > 0)
            (void)sync_file_range(fd, off - (off_t)LOCAL_WB_CHUNK,
                                  (off_t)LOCAL_WB_CHUNK,
                                  SYNC_FILE_RANGE_WAIT_BEFORE |
                                  SYNC_FILE_RANGE_WRITE |
                                  SYNC_FILE_RANGE_WAIT_AFTER);
        off += (off_t)c;
        p += c;
        n -= c;
    }
    return 0;
}

static enum dest_status local_deliver(struct dest *d, const struct payload *p,
                                      struct err *e)
{
    struct local *l = d->ctx;
    char path[4096], tmp[4200], dir[4096];
    const char *op = "open";
    char *slash;
    int fd, saved;

    if (strstr(p->key, "..") != NULL || p->key[0] == '/') {
        err_set(e, ERR_INVAL, "object key '%s' would leave '%s'", p->key,
                l->root);
        return DEST_FAIL;
    }
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", l->root, p->key) >=
        sizeof(path)) {
        err_set(e, ERR_INVAL, "path for key '%s' is too long", p->key);
        return DEST_FAIL;
    }
    memcpy(dir, path, strlen(path) + 1);
    slash = strrchr(dir, '/');
    if (slash != NULL)
        *slash = '\0';
    if (util_mkdirs(dir, e) != 0)
        return DEST_RETRY;
    snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        goto fail;
    op = "write";
    if (write_object(fd, p->data, p->len) != 0)
        goto fail_fd;
    op = "fsync";
    if (fdatasync(fd) != 0)
        goto fail_fd;
    op = "close";
    if (close(fd) != 0) {
        fd = -1;
        goto fail_fd;
    }
    op = "rename";
    if (rename(tmp, path) != 0)
        goto fail;
    if (util_fsync_dir(dir, e) != 0)
        return DEST_RETRY;
    return DEST_OK;
fail_fd:
    saved = errno;
    if (fd >= 0)
        close(fd);
    errno = saved;
fail:
    saved = errno;
    (void)unlink(tmp);
    err_sys(e, saved, "%s '%s' failed", op, tmp);
    return DEST_RETRY;
}

static void local_destroy(struct dest *d)
{
    free(d->ctx);
    d->ctx = NULL;
}

const struct dest_type dest_local = {
    .name = "local",
    .kind = CFG_DEST_LOCAL,
    .create = local_create,
    .deliver = local_deliver,
    .destroy = local_destroy,
};
