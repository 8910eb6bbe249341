/* util.h - small helpers every module shares: clocks, growable buffers,
 * directories, hex. Nothing here allocates unless it says so. */
#ifndef FH_UTIL_H
#define FH_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* A growable byte buffer. Owned by whoever embeds it; buf_release() frees. */
struct buf {
    unsigned char *p;
    size_t         len;
    size_t         cap;
};

int64_t util_now_ms(void);          /* wall clock, ms since the epoch */
int64_t util_mono_ms(void);         /* monotonic, ms */
int64_t util_mono_us(void);         /* monotonic, µs */

/* Make sure 'cap' >= len + extra. -1 with ERR_NOMEM. */
int buf_reserve(struct buf *b, size_t extra, struct err *e);
int buf_append(struct buf *b, const void *p, size_t n, struct err *e);
int buf_printf(struct buf *b, struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void buf_release(struct buf *b);    /* frees and zeroes */
/* Append s as a quoted JSON string: '"', '\\' and control bytes escaped,
 * other bytes as they are (the caller's strings are UTF-8). */
int buf_json_str(struct buf *b, const char *s, struct err *e);

/* mkdir -p; existing directories are fine. */
int util_mkdirs(const char *path, struct err *e);
/* fsync the directory itself so that new names in it are durable. */
int util_fsync_dir(const char *path, struct err *e);
/* Replace path with text atomically and durably: <path>.tmp written with
 * mode, fsync, rename, then the directory synced. Nothing is left behind
 * on failure. */
int util_write_file(const char *path, const char *text, int mode,
                    struct err *e);
/* Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void util_hex(const void *p, size_t n, char *out);
/* Format 16 bytes as a version-4 UUID ("xxxxxxxx-xxxx-4xxx-...") into
 * out[37]; the version and variant bits are forced. */
void util_uuid(const unsigned char r[16], char out[37]);
/* Fill p with n bytes from the kernel's random source. */
int util_random(void *p, size_t n, struct err *e);
/* 64-bit FNV-1a, for deterministic names derived from ids. */
uint64_t util_hash64(const void *p, size_t n, uint64_t seed);

#endif
