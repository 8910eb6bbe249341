/* codec.h - compression formats behind one vtable (UNCOMPRESSED, GZIP here;
 * ZIP, Snappy, HADOOP_SNAPPY later). A codec is a writer: begin, write any
 * number of times, end. Output goes to a caller-owned struct buf that the
 * caller may drain between writes. One codec per worker thread; its zlib
 * state is reused across objects. */
#ifndef FH_CODEC_H
#define FH_CODEC_H

#include <stddef.h>

#include "../config/cfg.h"
#include "../delivery/err.h"
#include "../delivery/util.h"

struct codec;

/* -1 with ERR_INVAL for a format not built yet. */
struct codec *codec_new(enum cfg_compression fmt, int level, struct err *e);
void codec_free(struct codec *c);               /* NULL is a no-op */

const char *codec_ext(const struct codec *c);   /* ".gz", "" */
/* Content-Encoding for S3 metadata, or NULL for none ("gzip"). */
const char *codec_content_encoding(const struct codec *c);

/* 'out' is borrowed until codec_end(); output is appended to it. */
int codec_begin(struct codec *c, struct buf *out, struct err *e);
int codec_write(struct codec *c, const void *p, size_t n, struct err *e);
int codec_end(struct codec *c, struct err *e);

#endif
