/* lines.h - turns the bytes of one file into records: one line each
 * (newline included, as the Kinesis Agent sends them), or several lines
 * joined when a multi-line start pattern is set. Lines above the record
 * limit are split (each piece ends with the truncated-record terminator)
 * or skipped, with a logged reason. Knows nothing about files: the caller
 * feeds bytes with their offset and gets records with the offset just
 * past their last byte, which is what a checkpoint may store once the
 * record is acknowledged. */
#ifndef FH_LINES_H
#define FH_LINES_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "../delivery/err.h"
#include "../delivery/util.h"

/* One record, given as up to two pieces (p2 may be NULL): borrowed for the
 * call. 0 to go on, -1 to stop feeding (the caller is shutting down). */
typedef int lines_emit_fn(void *ctx, const char *p1, size_t n1,
                          const char *p2, size_t n2, uint64_t end_off);

struct lines_conf {
    const regex_t  *start_re;       /* NULL: one line per record */
    size_t          max_rec;        /* bytes; > term_len + 1 */
    const char     *term;           /* appended to split pieces */
    size_t          term_len;
    int             skip_long;      /* 1: drop lines above max_rec */
    unsigned        skip_header;    /* lines to drop at offset 0 */
};

struct lines {
    struct lines_conf   c;
    const char         *name;       /* for log lines (the file); borrowed */
    lines_emit_fn      *emit;
    void               *ctx;
    struct buf          line;       /* the current incomplete line */
    struct buf          rec;        /* the multi-line record being built */
    uint64_t            off;        /* offset of the next byte fed */
    uint64_t            line_start; /* offset of line.p[0] */
    uint64_t            rec_start;
    uint64_t            rec_end;
    unsigned            header_left;
    int                 skipping;   /* inside a long line being dropped */
    int                 splitting;  /* inside a long line being split */
    uint64_t            skipped;    /* long lines dropped so far */
    uint64_t            split;      /* long lines split so far */
};

/* 'conf' is copied ('start_re' and 'term' stay borrowed). */
void lines_init(struct lines *l, const struct lines_conf *conf,
                const char *name, lines_emit_fn *emit, void *ctx);
void lines_release(struct lines *l);
/* Forget pending bytes and start at 'off' (headers are skipped again when
 * 'off' is 0). */
void lines_reset(struct lines *l, uint64_t off);
/* Feed the next n bytes of the file. 'data' is modified during the call
 * (and restored). -1 when emit() said stop or memory ran out. */
int lines_feed(struct lines *l, char *data, size_t n, struct err *e);
/* Emit the pending multi-line record, and with 'partial' also a last line
 * that has no newline yet (a file that will not grow any more). */
int lines_flush(struct lines *l, int partial, struct err *e);
/* Offset up to which every byte went into an emitted record or was
 * dropped: where reading would restart. */
uint64_t lines_done(const struct lines *l);
/* Whether bytes are held back (an incomplete line or record). */
int lines_pending(const struct lines *l);

#endif
