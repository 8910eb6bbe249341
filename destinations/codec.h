/* codec.h - compression formats behind one vtable (spec §4.4):
 * UNCOMPRESSED; GZIP (one member); ZIP (one deflated entry, streamed: CRC
 * and sizes in a data descriptor); Snappy (snappy-java's stream: 16-byte
 * header, then [BE u32 length][raw snappy block] per 32 KiB); HADOOP_SNAPPY
 * (Hadoop's BlockCompressorStream: [BE u32 raw length][BE u32 compressed
 * length][raw snappy block] per 218,422 bytes, the default 256 KiB buffer).
 * A codec is a writer: begin, write any number of times, end. Output goes
 * to a caller-owned struct buf that the caller may drain between writes.
 * One codec per worker thread; its state is reused across objects. */
#ifndef FH_CODEC_H
#define FH_CODEC_H

#include <stddef.h>

#include "../config/cfg.h"
#include "../delivery/err.h"
#include "../delivery/util.h"

struct codec;

/* NULL with ERR_INVAL for an unknown format or a level outside -1..9. */
struct codec *codec_new(enum cfg_compression fmt, int level, struct err *e);
void codec_free(struct codec *c);               /* NULL is a no-op */

const char *codec_ext(const struct codec *c);   /* ".gz", "" */
/* Content-Encoding for S3 metadata, or NULL for none ("gzip"). */
const char *codec_content_encoding(const struct codec *c);

/* ZIP only, others keep it unused: the archive entry's name for the
 * objects that follow (copied; at most 127 bytes). NULL or "" = a random
 * UUID per object. */
int codec_set_entry_name(struct codec *c, const char *name, struct err *e);

/* 'out' is borrowed until codec_end(); output is appended to it. */
int codec_begin(struct codec *c, struct buf *out, struct err *e);
int codec_write(struct codec *c, const void *p, size_t n, struct err *e);
int codec_end(struct codec *c, struct err *e);

#endif
