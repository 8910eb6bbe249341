/* spool_io.h - what the spool's modules share (spool.c, spool_jnl.c,
 * spool_seg.c): the on-disk format, the insides of struct spool (spool.h)
 * and the helpers that read and write its files. Nothing here is for the
 * rest of the program.
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
#ifndef FH_SPOOL_IO_H
#define FH_SPOOL_IO_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "crc32c.h"
#include "err.h"
#include "spool.h"
#include "trim.h"
#include "util.h"

#define SEG_MAGIC       0x31475346u     /* "FSG1" */
#define SEG_VERSION     1u
#define SEG_HDR         32u
#define REC_MAGIC       0x52534846u     /* "FHSR" */
#define REC_HDR         28u
#define PATH_LEN        4200

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

/* Little-endian fields and checksums of the format. */
static inline void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint32_t get32(const unsigned char *p)
{
    uint32_t v = 0;

    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static inline uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* The record checksum, given the crc32 of its data. */
static inline uint32_t rec_crc(const unsigned char *h, uint32_t data_crc)
{
    return crc32c(crc32c(data_crc, h, 8), h + 12, REC_HDR - 12);
}

static inline uint32_t data_crc(const void *p, size_t n)
{
    return crc32c(0, p, n);
}

static inline int pos_cmp(struct spool_pos a, struct spool_pos b)
{
    if (a.seg != b.seg)
        return a.seg < b.seg ? -1 : 1;
    if (a.off != b.off)
        return a.off < b.off ? -1 : 1;
    return 0;
}

/* "<dir>/<name>" into 'out' of PATH_LEN bytes. */
void spool_dir_path(const struct spool *sp, const char *name, char *out);
/* Index of segment 'first', or nsegs. */
size_t spool_seg_find(const struct spool *sp, uint64_t first);
/* Index of pending batch 'id', or where it would go. */
size_t spool_pend_find(const struct spool *sp, uint64_t id);
/* Make room for 'need' elements of 'size' bytes in *pp (capacity *cap),
 * doubling; 0, or -1 with 'e' (may be NULL) filled. */
int spool_grow(void *pp, size_t *cap, size_t need, size_t size,
               struct err *e);
/* pread/pwrite all n bytes at 'off' (EINTR retried): 0, or -1 with errno.
 * A read stops early at the end of the file: *got says how far it came. */
int spool_full_pread(int fd, void *p, size_t n, uint64_t off, size_t *got);
int spool_full_pwrite(int fd, const void *p, size_t n, uint64_t off);
/* n bytes at off of segment 'seg' (fd), all below 'end', through the read
 * window 'r': valid until the next call on 'r'; NULL with 'e' (may be
 * NULL) filled. */
const unsigned char *spool_rd_get(struct spool_rd *r, int fd, uint64_t seg,
                                  uint64_t off, size_t n, uint64_t end,
                                  struct err *e);

#endif
