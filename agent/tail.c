#include "tail.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../delivery/log.h"
#include "../delivery/util.h"

#define TAIL_MAX_FILES 4096
#define TAIL_READ_CHUNK ((size_t)64 << 10)
/* A copy must share this many first bytes with a followed file to take
 * over its position: shorter prefixes match unrelated files too often. */
#define TAIL_FP_MIN_COPY 256u
/* A file renamed away or deleted is closed after this long without
 * growth, once read to its end. */
#define TAIL_ROTATED_IDLE_MS 2000

struct tail_file {
    struct tail    *t;
    uint32_t        id;
    uint32_t        gen;
    int             fd;
    char           *path;           /* last path it was seen at; owned */
    uint64_t        dev;
    uint64_t        ino;
    size_t          flow;
    uint32_t        fp_len;
    uint64_t        fp;             /* util_hash64(head, fp_len) */
    unsigned char   head[CKPT_FP_MAX];  /* the first fp_len bytes */
    uint64_t        acked;          /* checkpoint offset */
    uint64_t        last_size;
    int64_t         last_mtime_ns;
    int64_t         last_growth;    /* util_mono_ms() */
    uint32_t        inflight;       /* records in the batch */
    int             blocked;        /* scratch for tail_ack */
    int             seen;           /* found by the latest scan */
    int             gone;           /* renamed away or deleted */
    int             copied;         /* a copy took over its position */
    int             undecided;      /* new: may still become a copy */
    int             copy_wait;      /* a copy still being written */
    int             at_eof;
    struct lines    lines;
};

struct tail {
    const struct acfg  *cfg;
    tail_emit_fn       *emit;
    tail_flush_fn      *flush;
    void               *ctx;
    struct tail_file   *files[TAIL_MAX_FILES];
    uint32_t            gens[TAIL_MAX_FILES];
    size_t              n_open;
    int                 ifd;
    int                 wd[ACFG_MAX_FLOWS];
    int                 full_logged;
    int                 dirty;
    int                 started;
    char               *rbuf;
};

int tail_fingerprint(int fd, uint32_t len, uint64_t *fp)
{
    char b[CKPT_FP_MAX];
    size_t got = 0;

    while (got < len) {
        ssize_t r = pread(fd, b + got, len - got, (off_t)got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    *fp = util_hash64(b, len, 0);
    return 0;
}

static int on_record(void *ctx, const char *p1, size_t n1, const char *p2,
                     size_t n2, uint64_t end)
{
    struct tail_file *f = ctx;
    struct ship_tag tag = { f->id, f->gen, end };

    f->inflight++;
    return f->t->emit(f->t->ctx, f->flow, &tag, p1, n1, p2, n2);
}

static void file_free(struct tail *t, struct tail_file *f)
{
    if (f == NULL)
        return;
    if (t->files[f->id] == f) {
        t->files[f->id] = NULL;
        t->gens[f->id]++;
        t->n_open--;
    }
    if (f->fd >= 0)
        close(f->fd);
    lines_release(&f->lines);
    free(f->path);
    free(f);
    t->dirty = 1;
}

/* Directory part of a pattern, if it has no glob characters. */
static int pattern_dir(const char *pat, char *dir, size_t size)
{
    const char *slash = strrchr(pat, '/');
    size_t n;

    if (slash == NULL) {
        snprintf(dir, size, ".");
        return 0;
    }
    n = slash == pat ? 1 : (size_t)(slash - pat);
    if (n >= size)
        return -1;
    memcpy(dir, pat, n);
    dir[n] = '\0';
    return strpbrk(dir, "*?[\\") != NULL ? -1 : 0;
}

static void add_watches(struct tail *t)
{
    char dir[PATH_MAX];

    if (t->ifd < 0)
        return;
    for (size_t i = 0; i < t->cfg->n_flows; i++) {
        if (t->wd[i] >= 0 ||
            pattern_dir(t->cfg->flows[i].file_pattern, dir, sizeof(dir)))
            continue;
        t->wd[i] = inotify_add_watch(t->ifd, dir, IN_MODIFY | IN_CREATE |
                                     IN_MOVED_TO | IN_MOVED_FROM |
                                     IN_DELETE | IN_CLOSE_WRITE | IN_ATTRIB);
    }
}

struct tail *tail_new(const struct acfg *cfg, int use_inotify,
                      tail_emit_fn *emit, tail_flush_fn *flush, void *ctx,
                      struct err *e)
{
    struct tail *t = calloc(1, sizeof(*t));

    if (t == NULL || (t->rbuf = malloc(TAIL_READ_CHUNK)) == NULL) {
        free(t);
        err_set(e, ERR_NOMEM, "out of memory for the file tailer");
        return NULL;
    }
    t->cfg = cfg;
    t->emit = emit;
    t->flush = flush;
    t->ctx = ctx;
    t->ifd = -1;
    for (size_t i = 0; i < ACFG_MAX_FLOWS; i++)
        t->wd[i] = -1;
    if (use_inotify) {
        t->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (t->ifd < 0)
            log_msg(LOG_WARN, "agent", "inotify unavailable (%s): polling "
                    "every %ld ms", strerror(errno), cfg->poll_ms);
    }
    add_watches(t);
    return t;
}

void tail_free(struct tail *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < TAIL_MAX_FILES; i++)
        file_free(t, t->files[i]);
    if (t->ifd >= 0)
        close(t->ifd);
    free(t->rbuf);
    free(t);
}

int tail_fd(const struct tail *t)
{
    return t->ifd;
}

int tail_drain(struct tail *t)
{
    char b[4096] __attribute__((aligned(8)));
    int any = 0;

    if (t->ifd < 0)
        return 0;
    while (read(t->ifd, b, sizeof(b)) > 0)
        any = 1;
    return any;
}

size_t tail_count(const struct tail *t)
{
    return t->n_open;
}

static struct tail_file *find_inode(struct tail *t, uint64_t dev,
                                    uint64_t ino)
{
    for (size_t i = 0; i < TAIL_MAX_FILES; i++) {
        struct tail_file *f = t->files[i];

        if (f != NULL && f->dev == dev && f->ino == ino)
            return f;
    }
    return NULL;
}

/* Fingerprint as many first bytes as the file has, up to CKPT_FP_MAX. */
static void refresh_fp(struct tail_file *f, uint64_t size)
{
    uint32_t want = size < CKPT_FP_MAX ? (uint32_t)size : CKPT_FP_MAX;
    ssize_t r;

    if (want <= f->fp_len)
        return;
    r = pread(f->fd, f->head, want, 0);
    if (r > (ssize_t)f->fp_len) {
        f->fp_len = (uint32_t)r;
        f->fp = util_hash64(f->head, f->fp_len, 0);
    }
}

/* Open 'path' as a new followed file of 'flow', reading from 'off'. */
static int file_open(struct tail *t, size_t flow, const char *path, int fd,
                     const struct stat *st, uint64_t off, struct err *e)
{
    const struct acfg_flow *fl = &t->cfg->flows[flow];
    struct lines_conf lc;
    struct tail_file *f;
    size_t slot = TAIL_MAX_FILES;

    for (size_t i = 0; i < TAIL_MAX_FILES && slot == TAIL_MAX_FILES; i++)
        if (t->files[i] == NULL)
            slot = i;
    if (slot == TAIL_MAX_FILES) {
        if (!t->full_logged)
            log_msg(LOG_ERROR, "agent", "'%s' not followed: %d files are "
                    "open already; narrow the filePattern globs or delete "
                    "old rotated files", path, TAIL_MAX_FILES);
        t->full_logged = 1;
        close(fd);
        return 0;
    }
    f = calloc(1, sizeof(*f));
    if (f == NULL || (f->path = strdup(path)) == NULL) {
        free(f);
        close(fd);
        return err_set(e, ERR_NOMEM, "out of memory following '%s'", path);
    }
    f->t = t;
    f->id = (uint32_t)slot;
    f->gen = t->gens[slot];
    f->fd = fd;
    f->dev = (uint64_t)st->st_dev;
    f->ino = (uint64_t)st->st_ino;
    f->flow = flow;
    f->acked = off;
    f->last_size = (uint64_t)st->st_size;
    f->last_growth = util_mono_ms();
    f->seen = 1;
    lc.start_re = fl->has_multiline ? &fl->multiline : NULL;
    lc.max_rec = ACFG_MAX_RECORD_BYTES;
    lc.term = fl->trunc_term;
    lc.term_len = fl->trunc_term_len;
    lc.skip_long = fl->skip_long;
    lc.skip_header = fl->skip_header_lines;
    lines_init(&f->lines, &lc, f->path, on_record, f);
    lines_reset(&f->lines, off);
    refresh_fp(f, (uint64_t)st->st_size);
    t->files[slot] = f;
    t->n_open++;
    t->dirty = 1;
    log_msg(LOG_INFO, "agent", "following '%s' (flow %zu, stream %s) from "
            "offset %llu", path, flow, fl->stream, (unsigned long long)off);
    return 0;
}

/* A new file found by a scan may be the copy copytruncate makes, still
 * being written: it is not read while its first bytes are a prefix of a
 * followed file's. Once it shares TAIL_FP_MIN_COPY or more (all that file's
 * fingerprint) it continues where that file is; once it differs from all,
 * it is a new file read from its start. 0: decided, 1: not yet, -1: stop. */
static int decide(struct tail *t, struct tail_file *n, struct err *e)
{
    struct tail_file *src = NULL;
    struct stat st;
    uint64_t at;

    if (fstat(n->fd, &st) != 0)
        return 1;
    refresh_fp(n, (uint64_t)st.st_size);
    for (size_t i = 0; i < TAIL_MAX_FILES && src == NULL; i++) {
        struct tail_file *f = t->files[i];
        uint32_t len;

        if (f == NULL || f == n || f->flow != n->flow || f->undecided ||
            f->fp_len < TAIL_FP_MIN_COPY)
            continue;
        len = n->fp_len < f->fp_len ? n->fp_len : f->fp_len;
        if (memcmp(n->head, f->head, len) != 0)
            continue;
        if (n->fp_len < f->fp_len)
            return 1;                   /* too short to tell yet */
        src = f;
    }
    n->undecided = 0;
    if (src == NULL)
        return 0;
    /* Deliver what the original has in the batch, so that its checkpoint
     * is where the copy starts and nothing is in flight twice. */
    if (t->flush(t->ctx, n->flow) != 0)
        return -1;
    at = lines_done(&src->lines);
    src->copied = 1;
    n->copy_wait = 1;
    n->acked = at;
    lines_reset(&n->lines, at);
    t->dirty = 1;
    log_msg(LOG_INFO, "agent", "'%s' is a copy of '%s' (copytruncate?): "
            "continuing it at offset %llu", n->path, src->path,
            (unsigned long long)at);
    (void)e;
    return 0;
}

/* Where a file found by a scan starts. */
static int place_new(struct tail *t, size_t flow, const char *path, int fd,
                     const struct stat *st, struct err *e)
{
    struct tail_file *f;

    if (file_open(t, flow, path, fd, st, 0, e) != 0)
        return -1;
    f = find_inode(t, (uint64_t)st->st_dev, (uint64_t)st->st_ino);
    if (f == NULL)
        return 0;                       /* not followed: too many files */
    f->undecided = 1;
    return decide(t, f, e) < 0 ? -1 : 0;
}

static int open_path(const char *path, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Match a file found at start-up with the checkpoint. */
static const struct ckpt_entry *restore_match(const struct ckpt *ck,
                                              unsigned char *used,
                                              const char *pat, int fd,
                                              const struct stat *st,
                                              int by_inode)
{
    for (size_t i = 0; i < ck->n; i++) {
        const struct ckpt_entry *en = &ck->v[i];
        uint64_t fp = 0;

        if (used[i] || strcmp(en->pattern, pat) != 0)
            continue;
        if (by_inode && (en->dev != (uint64_t)st->st_dev ||
                         en->ino != (uint64_t)st->st_ino))
            continue;
        if (!by_inode && en->fp_len < TAIL_FP_MIN_COPY)
            continue;
        if ((uint64_t)st->st_size < en->fp_len ||
            tail_fingerprint(fd, en->fp_len, &fp) != 0 || fp != en->fp)
            continue;
        used[i] = 1;
        return en;
    }
    return NULL;
}

int tail_start(struct tail *t, const struct ckpt *ck, int has_ckpt,
               struct err *e)
{
    unsigned char *used = calloc(ck->n + 1, 1);
    int rc = 0;

    if (used == NULL)
        return err_set(e, ERR_NOMEM, "out of memory restoring checkpoints");
    for (size_t fl = 0; fl < t->cfg->n_flows && rc == 0; fl++) {
        const struct acfg_flow *flow = &t->cfg->flows[fl];
        glob_t g;

        memset(&g, 0, sizeof(g));
        if (glob(flow->file_pattern, 0, NULL, &g) != 0) {
            globfree(&g);
            continue;
        }
        /* Inode matches first, then fingerprints (a copy made while the
         * agent was down, or a device number that changed). */
        for (int pass = 0; pass < 3 && rc == 0; pass++) {
            for (size_t i = 0; i < g.gl_pathc && rc == 0; i++) {
                const struct ckpt_entry *en = NULL;
                struct stat st;
                uint64_t off;
                int fd = open_path(g.gl_pathv[i], &st);

                if (fd < 0)
                    continue;
                if (find_inode(t, (uint64_t)st.st_dev,
                               (uint64_t)st.st_ino) != NULL) {
                    close(fd);
                    continue;
                }
                if (pass < 2)
                    en = restore_match(ck, used, flow->file_pattern, fd, &st,
                                       pass == 0);
                if (en == NULL && pass < 2) {
                    close(fd);
                    continue;
                }
                if (en != NULL)
                    off = en->offset <= (uint64_t)st.st_size ? en->offset
                                                              : 0;
                else if (has_ckpt || flow->start_of_file)
                    off = 0;
                else
                    off = (uint64_t)st.st_size;
                rc = file_open(t, fl, g.gl_pathv[i], fd, &st, off, e);
            }
        }
        globfree(&g);
    }
    free(used);
    t->started = 1;
    return rc;
}

int tail_scan(struct tail *t, struct err *e)
{
    add_watches(t);
    for (size_t i = 0; i < TAIL_MAX_FILES; i++)
        if (t->files[i] != NULL)
            t->files[i]->seen = 0;
    for (size_t fl = 0; fl < t->cfg->n_flows; fl++) {
        glob_t g;

        memset(&g, 0, sizeof(g));
        if (glob(t->cfg->flows[fl].file_pattern, 0, NULL, &g) != 0) {
            globfree(&g);
            continue;
        }
        for (size_t i = 0; i < g.gl_pathc; i++) {
            struct tail_file *f;
            struct stat st;
            int fd;

            if (stat(g.gl_pathv[i], &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            f = find_inode(t, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
            if (f != NULL) {
                if (strcmp(f->path, g.gl_pathv[i]) != 0) {
                    char *p = strdup(g.gl_pathv[i]);

                    if (p != NULL) {
                        log_msg(LOG_INFO, "agent", "'%s' was renamed to "
                                "'%s'", f->path, p);
                        free(f->path);
                        f->path = p;
                        f->lines.name = p;
                        t->dirty = 1;
                    }
                }
                f->seen = 1;
                f->gone = 0;
                continue;
            }
            fd = open_path(g.gl_pathv[i], &st);
            if (fd < 0)
                continue;
            if (place_new(t, fl, g.gl_pathv[i], fd, &st, e) != 0) {
                globfree(&g);
                return -1;
            }
        }
        globfree(&g);
    }
    for (size_t i = 0; i < TAIL_MAX_FILES; i++) {
        struct tail_file *f = t->files[i];

        if (f != NULL && !f->seen && !f->gone) {
            f->gone = 1;
            log_msg(LOG_INFO, "agent", "'%s' was renamed away or deleted: "
                    "reading it to its end", f->path);
        }
    }
    return 0;
}

/* The file was truncated or rewritten: start again at 0. */
static int restart_file(struct tail *t, struct tail_file *f, uint64_t size,
                        struct err *e)
{
    /* A copy made just before the truncation must be found first, so
     * that it continues where this file was. */
    if (!f->copied && tail_scan(t, e) != 0)
        return -1;
    for (size_t i = 0; i < TAIL_MAX_FILES && !f->copied; i++)
        if (t->files[i] != NULL && t->files[i]->undecided &&
            t->files[i]->flow == f->flow && decide(t, t->files[i], e) < 0)
            return -1;
    if (!f->copied && lines_flush(&f->lines, 1, e) != 0)
        return -1;
    log_msg(LOG_INFO, "agent", "'%s' was truncated (size %llu, was at "
            "%llu): reading it again from the start", f->path,
            (unsigned long long)size,
            (unsigned long long)f->lines.off);
    f->gen = ++t->gens[f->id];
    f->inflight = 0;
    f->copied = 0;
    f->acked = 0;
    f->fp_len = 0;
    f->fp = 0;
    lines_reset(&f->lines, 0);
    t->dirty = 1;
    return 0;
}

static int read_file(struct tail *t, struct tail_file *f, size_t budget,
                     int *more, struct err *e)
{
    struct stat st;
    int64_t mtime;
    size_t total = 0;

    if (f->undecided) {
        int rc = decide(t, f, e);

        if (rc != 0)
            return rc < 0 ? -1 : 0;
    }
    if (fstat(f->fd, &st) != 0)
        return 0;
    if (f->copy_wait && (uint64_t)st.st_size >= f->lines.off)
        f->copy_wait = 0;
    if (f->copy_wait)
        return 0;
    mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if ((uint64_t)st.st_size != f->last_size || mtime != f->last_mtime_ns) {
        uint64_t fp;

        if ((uint64_t)st.st_size < f->lines.off ||
            (f->fp_len > 0 && (tail_fingerprint(f->fd, f->fp_len, &fp) != 0
                               || fp != f->fp))) {
            if (restart_file(t, f, (uint64_t)st.st_size, e) != 0)
                return -1;
        }
        f->last_size = (uint64_t)st.st_size;
        f->last_mtime_ns = mtime;
        f->last_growth = util_mono_ms();
        refresh_fp(f, (uint64_t)st.st_size);
    }
    f->at_eof = 0;
    while (total < budget) {
        ssize_t r = pread(f->fd, t->rbuf, TAIL_READ_CHUNK,
                          (off_t)f->lines.off);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            log_msg(LOG_ERROR, "agent", "read of '%s' at offset %llu "
                    "failed: %s; retrying", f->path,
                    (unsigned long long)f->lines.off, strerror(errno));
            return 0;
        }
        if (r == 0) {
            f->at_eof = 1;
            return 0;
        }
        total += (size_t)r;
        if (lines_feed(&f->lines, t->rbuf, (size_t)r, e) != 0)
            return -1;
        if (t->files[f->id] != f)
            return 0;
    }
    *more = 1;
    return 0;
}

int tail_read(struct tail *t, size_t budget, int *more, struct err *e)
{
    *more = 0;
    for (size_t i = 0; i < TAIL_MAX_FILES; i++)
        if (t->files[i] != NULL &&
            read_file(t, t->files[i], budget, more, e) != 0)
            return -1;
    return 0;
}

int tail_tick(struct tail *t, int64_t now, int final, struct err *e)
{
    for (size_t i = 0; i < TAIL_MAX_FILES; i++) {
        struct tail_file *f = t->files[i];
        int64_t idle;

        if (f == NULL)
            continue;
        idle = now - f->last_growth;
        if (f->gone && f->at_eof && (final || idle >= TAIL_ROTATED_IDLE_MS)) {
            if (lines_flush(&f->lines, 1, e) != 0)
                return -1;
            if (f->inflight == 0) {
                log_msg(LOG_INFO, "agent", "done with '%s' at offset %llu",
                        f->path, (unsigned long long)f->lines.off);
                file_free(t, f);
            }
            continue;
        }
        if (f->lines.rec.len > 0 &&
            (final || idle >= t->cfg->flows[f->flow].max_age_ms) &&
            lines_flush(&f->lines, 0, e) != 0)
            return -1;
    }
    return 0;
}

void tail_ack(struct tail *t, const struct ship_tag *tags,
              const unsigned char *acked, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct tail_file *f = tags[i].file < TAIL_MAX_FILES
            ? t->files[tags[i].file] : NULL;

        if (f == NULL || f->gen != tags[i].gen)
            continue;
        if (!acked[i]) {
            f->blocked = 1;
            continue;
        }
        f->inflight--;
        if (!f->blocked && tags[i].end > f->acked) {
            f->acked = tags[i].end;
            t->dirty = 1;
        }
    }
    for (size_t i = 0; i < TAIL_MAX_FILES; i++)
        if (t->files[i] != NULL)
            t->files[i]->blocked = 0;
}

int tail_checkpoint(struct tail *t, struct ckpt *ck, int force, int *changed,
                    struct err *e)
{
    for (size_t i = 0; i < TAIL_MAX_FILES; i++) {
        struct tail_file *f = t->files[i];

        /* Nothing in flight: lines skipped since are done too. */
        if (f != NULL && f->inflight == 0 &&
            lines_done(&f->lines) > f->acked) {
            f->acked = lines_done(&f->lines);
            t->dirty = 1;
        }
    }
    *changed = t->dirty;
    if (!t->dirty && !force)
        return 0;
    ckpt_clear(ck);
    for (size_t i = 0; i < TAIL_MAX_FILES; i++) {
        struct tail_file *f = t->files[i];
        struct ckpt_entry en;

        if (f == NULL)
            continue;
        en.pattern = t->cfg->flows[f->flow].file_pattern;
        en.path = f->path;
        en.dev = f->dev;
        en.ino = f->ino;
        en.fp_len = f->fp_len;
        en.fp = f->fp;
        en.offset = f->acked;
        if (ckpt_add(ck, &en, e) != 0)
            return -1;
    }
    t->dirty = 0;
    return 0;
}
