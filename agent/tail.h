/* tail.h - the files the agent follows. Each flow's glob is expanded on
 * every scan; a file is known by device + inode and a hash of its first
 * bytes (up to CKPT_FP_MAX), so a rename (rotation by rename + create)
 * keeps its place, a truncation (copytruncate) or a rewrite starts it
 * again at 0, and a copy of a followed file (the copytruncate backup, when
 * the glob matches it) starts where the original was. Files stay open
 * after they were renamed away or deleted until they are read to the end
 * and everything read was acknowledged. New data is noticed with inotify
 * on the patterns' directories, with polling as the fallback and as a
 * safety net. */
#ifndef FH_TAIL_H
#define FH_TAIL_H

#include <stddef.h>
#include <stdint.h>

#include "../delivery/err.h"
#include "acfg.h"
#include "ckpt.h"
#include "lines.h"
#include "ship.h"

struct tail;
struct tail_file;

/* A complete record of file 'f' (see lines_emit_fn); 'tag' says where it
 * came from, for tail_ack(). */
typedef int tail_emit_fn(void *ctx, size_t flow, const struct ship_tag *tag,
                         const char *p1, size_t n1, const char *p2,
                         size_t n2);
/* Deliver everything 'flow' holds now (called before a copy of a file
 * takes over its position). -1 when shutting down. */
typedef int tail_flush_fn(void *ctx, size_t flow);

/* 'cfg' is borrowed. 'use_inotify' 0 forces polling. */
struct tail *tail_new(const struct acfg *cfg, int use_inotify,
                      tail_emit_fn *emit, tail_flush_fn *flush, void *ctx,
                      struct err *e);
void tail_free(struct tail *t);             /* NULL is a no-op */

/* The first scan: files are matched with the checkpoint 'ck' (has_ckpt 0:
 * there was no checkpoint file, so initialPosition applies). */
int tail_start(struct tail *t, const struct ckpt *ck, int has_ckpt,
               struct err *e);
/* Expand the globs again: new files, renames, deletions. */
int tail_scan(struct tail *t, struct err *e);
/* Read what is new in every file, at most 'budget' bytes per file; *more
 * is set when some file has more to read. -1 when emit said stop. */
int tail_read(struct tail *t, size_t budget, int *more, struct err *e);
/* Time-driven work at 'now' (util_mono_ms): multi-line records idle for
 * the flow's maxBufferAgeMillis are emitted; files renamed away or deleted
 * and idle are finished and closed. 'final': emit everything complete
 * now (--once, shutdown is not final). */
int tail_tick(struct tail *t, int64_t now, int final, struct err *e);
/* The records of a batch were answered: acked[i] for tags[i]. */
void tail_ack(struct tail *t, const struct ship_tag *tags,
              const unsigned char *acked, size_t n);
/* *changed: whether any checkpoint moved since the last call; only then
 * (or with 'force') 'ck' is refilled with the entry of every open file. */
int tail_checkpoint(struct tail *t, struct ckpt *ck, int force, int *changed,
                    struct err *e);
/* The inotify descriptor to wait on, or -1 when polling. */
int tail_fd(const struct tail *t);
/* Read and discard pending inotify events; 1 if there were any. */
int tail_drain(struct tail *t);
size_t tail_count(const struct tail *t);    /* open files */

/* Fingerprint of the first 'len' bytes of fd: -1 when shorter. */
int tail_fingerprint(int fd, uint32_t len, uint64_t *fp);

#endif
