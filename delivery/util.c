#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t util_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t util_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t util_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int buf_reserve(struct buf *b, size_t extra, struct err *e)
{
    size_t need = b->len + extra, cap;
    unsigned char *p;

    if (need < b->len)
        return err_set(e, ERR_NOMEM, "buffer size overflow");
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = realloc(b->p, cap);
    if (p == NULL)
        return err_set(e, ERR_NOMEM, "out of memory growing a buffer to %zu",
                       cap);
    b->p = p;
    b->cap = cap;
    return 0;
}

int buf_append(struct buf *b, const void *p, size_t n, struct err *e)
{
    if (n == 0)
        return 0;
    if (buf_reserve(b, n, e) != 0)
        return -1;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

int buf_printf(struct buf *b, struct err *e, const char *fmt, ...)
{
    va_list ap;
    int n;
    size_t room;

    room = b->cap - b->len;
    va_start(ap, fmt);
    n = vsnprintf(room ? (char *)b->p + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        return err_set(e, ERR_INVAL, "bad format");
    if ((size_t)n >= room) {
        if (buf_reserve(b, (size_t)n + 1, e) != 0)
            return -1;
        va_start(ap, fmt);
        vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
    return 0;
}

void buf_release(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

int util_mkdirs(const char *path, struct err *e)
{
    char tmp[4096];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(tmp))
        return err_set(e, ERR_INVAL, "path '%s' is empty or too long", path);
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return err_sys(e, errno, "mkdir '%s' failed", tmp);
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return err_sys(e, errno, "mkdir '%s' failed", tmp);
    return 0;
}

int util_fsync_dir(const char *path, struct err *e)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int saved;

    if (fd < 0)
        return err_sys(e, errno, "open directory '%s' failed", path);
    if (fsync(fd) != 0) {
        saved = errno;
        close(fd);
        return err_sys(e, saved, "fsync directory '%s' failed", path);
    }
    close(fd);
    return 0;
}

void util_hex(const void *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = p;

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[s[i] >> 4];
        out[2 * i + 1] = hex[s[i] & 15];
    }
    out[2 * n] = '\0';
}

void util_uuid(const unsigned char r[16], char out[37])
{
    unsigned char b[16];
    char hex[33];

    memcpy(b, r, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);   /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
    util_hex(b, sizeof(b), hex);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
             hex + 16, hex + 20);
}

int util_random(void *p, size_t n, struct err *e)
{
    unsigned char *d = p;

    while (n > 0) {
        ssize_t r = getrandom(d, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return err_sys(e, errno, "getrandom failed");
        }
        d += r;
        n -= (size_t)r;
    }
    return 0;
}

uint64_t util_hash64(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ULL ^ seed;

    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    /* Final avalanche so that nearby ids give unrelated names. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

int buf_json_str(struct buf *b, const char *s, struct err *e)
{
    static const char hex[] = "0123456789abcdef";
    const char *run = s;

    if (buf_append(b, "\"", 1, e) != 0)
        return -1;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        char esc[6] = { '\\', (char)ch, 0, 0, 0, 0 };
        size_t n = 2;
        if (ch == '\n')
            esc[1] = 'n';
        else if (ch < 0x20 || ch == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
            n = 6;
        } else if (ch != '"' && ch != '\\') {
            continue;
        }
        if (buf_append(b, run, (size_t)(s - run), e) != 0 ||
            buf_append(b, esc, n, e) != 0)
            return -1;
        run = s + 1;
    }
    if (buf_append(b, run, (size_t)(s - run), e) != 0)
        return -1;
    return buf_append(b, "\"", 1, e);
}

int util_write_file(const char *path, const char *text, int mode,
                    struct err *e)
{
    char tmp[4200], dir[4200], *slash;
    const char *op = "create";
    size_t n = strlen(text);
    int fd, saved;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return err_set(e, ERR_INVAL, "path '%s' is too long", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        goto fail;
    op = "write";
    for (const char *p = text; n > 0;) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            goto fail_fd;
        p += w;
        n -= (size_t)w;
    }
    op = "fsync";
    if (fsync(fd) != 0)
        goto fail_fd;
    op = "close";
    if (close(fd) != 0)
        goto fail;
    op = "rename";
    if (rename(tmp, path) != 0)
        goto fail;
    /* The rename itself is durable only once the directory is synced. */
    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    return util_fsync_dir(dir, e);
fail_fd:
    saved = errno;
    close(fd);
    errno = saved;
fail:
    saved = errno;
    (void)unlink(tmp);
    return err_sys(e, saved, "%s of '%s' failed", op, tmp);
}
