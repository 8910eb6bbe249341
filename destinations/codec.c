#include "codec.h"

#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Room asked of the output buffer before each deflate() call. */
#define CODEC_CHUNK (64 * 1024)

struct codec;

/* One compression format. 'write' is NULL for a format not built yet; its
 * name, extension and encoding are kept so the table is the one place that
 * knows them (spec §4.4). */
struct codec_type {
    const char *name;               /* CompressionFormat spelling */
    const char *ext;
    const char *content_encoding;   /* NULL: none */
    int  (*init)(struct codec *c, struct err *e);   /* once per codec */
    int  (*begin)(struct codec *c, struct err *e);  /* once per object */
    int  (*write)(struct codec *c, const void *p, size_t n, struct err *e);
    int  (*end)(struct codec *c, struct err *e);
    void (*release)(struct codec *c);
};

struct codec {
    const struct codec_type *type;
    int level;
    struct buf *out;        /* borrowed from codec_begin() to codec_end() */
    struct err failed;      /* first error of this object, latched */
    int zinit;              /* zs needs deflateEnd() */
    z_stream zs;
};

/* --- UNCOMPRESSED -------------------------------------------------- */

static int raw_write(struct codec *c, const void *p, size_t n, struct err *e)
{
    return buf_append(c->out, p, n, e);
}

/* --- GZIP: one gzip member per object --------------------------------- */

static int gz_error(struct codec *c, int rc, const char *op, struct err *e)
{
    return err_set(e, ERR_IO, "gzip %s failed: %s (zlib %d)", op,
                   c->zs.msg != NULL ? c->zs.msg : zError(rc), rc);
}

static int gz_init(struct codec *c, struct err *e)
{
    /* 15 + 16: a 32 KiB window with a gzip header and trailer. */
    int rc = deflateInit2(&c->zs, c->level, Z_DEFLATED, 15 + 16, 8,
                          Z_DEFAULT_STRATEGY);

    if (rc != Z_OK)
        return gz_error(c, rc, "init", e);
    c->zinit = 1;
    return 0;
}

static int gz_begin(struct codec *c, struct err *e)
{
    /* Reset, not re-init: the 256 KiB of deflate state is reused. */
    int rc = deflateReset(&c->zs);

    return rc == Z_OK ? 0 : gz_error(c, rc, "reset", e);
}

/* Feed 'n' bytes (possibly 0 with Z_FINISH) and append what deflate()
 * produces; returns once the input is consumed (or the stream ended). */
static int gz_run(struct codec *c, const void *p, size_t n, int flush,
                  struct err *e)
{
    struct buf *out = c->out;
    const unsigned char *in = p;
    int rc;

    for (;;) {
        size_t room, chunk = n > UINT_MAX ? UINT_MAX : n;
        uInt avail;

        if (buf_reserve(out, CODEC_CHUNK, e) != 0)
            return -1;
        room = out->cap - out->len;
        avail = room > UINT_MAX ? UINT_MAX : (uInt)room;
        c->zs.next_in = in;
        c->zs.avail_in = (uInt)chunk;
        c->zs.next_out = out->p + out->len;
        c->zs.avail_out = avail;
        rc = deflate(&c->zs, chunk == n ? flush : Z_NO_FLUSH);
        out->len += avail - c->zs.avail_out;
        in += chunk - c->zs.avail_in;
        n -= chunk - c->zs.avail_in;
        if (rc == Z_STREAM_END)
            return 0;
        /* Z_BUF_ERROR only means "no progress possible": not fatal. */
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            return gz_error(c, rc, "deflate", e);
        if (flush == Z_NO_FLUSH && n == 0 && c->zs.avail_out != 0)
            return 0;
    }
}

static int gz_write(struct codec *c, const void *p, size_t n, struct err *e)
{
    return gz_run(c, p, n, Z_NO_FLUSH, e);
}

static int gz_end(struct codec *c, struct err *e)
{
    return gz_run(c, "", 0, Z_FINISH, e);
}

static void gz_release(struct codec *c)
{
    if (c->zinit)
        deflateEnd(&c->zs);
    c->zinit = 0;
}

/* --- the table, indexed by enum cfg_compression ------------------------ */

static const struct codec_type codec_types[] = {
    [CFG_COMP_UNCOMPRESSED] = { "UNCOMPRESSED", "", NULL,
                                NULL, NULL, raw_write, NULL, NULL },
    [CFG_COMP_GZIP]         = { "GZIP", ".gz", "gzip",
                                gz_init, gz_begin, gz_write, gz_end,
                                gz_release },
    [CFG_COMP_ZIP]          = { "ZIP", ".zip", "zip",
                                NULL, NULL, NULL, NULL, NULL },
    [CFG_COMP_SNAPPY]       = { "Snappy", ".snappy", "snappy-java",
                                NULL, NULL, NULL, NULL, NULL },
    [CFG_COMP_HADOOP_SNAPPY] = { "HADOOP_SNAPPY", ".snappy", "hadoop-snappy",
                                 NULL, NULL, NULL, NULL, NULL },
};

struct codec *codec_new(enum cfg_compression fmt, int level, struct err *e)
{
    const struct codec_type *t;
    struct codec *c;

    if ((unsigned)fmt >= sizeof(codec_types) / sizeof(codec_types[0])) {
        err_set(e, ERR_INVAL, "unknown CompressionFormat %d", (int)fmt);
        return NULL;
    }
    t = &codec_types[fmt];
    if (t->write == NULL) {
        err_set(e, ERR_INVAL, "CompressionFormat %s is not supported yet "
                "(only UNCOMPRESSED and GZIP)", t->name);
        return NULL;
    }
    if (level < -1 || level > 9) {
        err_set(e, ERR_INVAL, "compression level %d is out of range "
                "(-1 for the default, 0-9)", level);
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        err_set(e, ERR_NOMEM, "out of memory creating a %s codec", t->name);
        return NULL;
    }
    c->type = t;
    c->level = level < 0 ? Z_DEFAULT_COMPRESSION : level;
    if (t->init != NULL && t->init(c, e) != 0) {
        codec_free(c);
        return NULL;
    }
    return c;
}

void codec_free(struct codec *c)
{
    if (c == NULL)
        return;
    if (c->type->release != NULL)
        c->type->release(c);
    free(c);
}

const char *codec_ext(const struct codec *c)
{
    return c->type->ext;
}

const char *codec_content_encoding(const struct codec *c)
{
    return c->type->content_encoding;
}

/* Latch the first error of an object so that later writes and the final
 * codec_end() report it instead of producing a truncated object. */
static int latch(struct codec *c, struct err *e, const struct err *cause)
{
    if (c->failed.code == ERR_OK)
        c->failed = *cause;
    if (e != NULL)
        *e = c->failed;
    return -1;
}

int codec_begin(struct codec *c, struct buf *out, struct err *e)
{
    struct err tmp = { 0 };

    c->out = out;
    c->failed.code = ERR_OK;
    c->failed.msg[0] = '\0';
    if (c->type->begin != NULL && c->type->begin(c, &tmp) != 0)
        return latch(c, e, &tmp);
    return 0;
}

int codec_write(struct codec *c, const void *p, size_t n, struct err *e)
{
    struct err tmp = { 0 };

    assert(c->out != NULL);     /* codec_begin() first */
    if (c->failed.code != ERR_OK)
        return latch(c, e, &c->failed);
    if (n == 0)
        return 0;
    if (c->type->write(c, p, n, &tmp) != 0)
        return latch(c, e, &tmp);
    return 0;
}

int codec_end(struct codec *c, struct err *e)
{
    struct err tmp = { 0 };
    int rc = 0;

    assert(c->out != NULL);     /* codec_begin() first */
    if (c->failed.code != ERR_OK)
        rc = latch(c, e, &c->failed);
    else if (c->type->end != NULL && c->type->end(c, &tmp) != 0)
        rc = latch(c, e, &tmp);
    c->out = NULL;              /* the buffer is the caller's again */
    return rc;
}
