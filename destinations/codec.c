#include "codec.h"

#include <assert.h>
#include <limits.h>
#include <snappy-c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

/* Room asked of the output buffer before each deflate() call. */
#define CODEC_CHUNK (64 * 1024)
/* snappy-java's SnappyOutputStream default block size. */
#define XERIAL_BLOCK (32 * 1024)
/* Hadoop's SnappyCodec with io.compression.codec.snappy.buffersize at its
 * default 256 KiB: BlockCompressorStream compresses at most
 * bufferSize - (bufferSize / 6 + 32) raw bytes per block. */
#define HADOOP_BUFFER (256 * 1024)
#define HADOOP_BLOCK (HADOOP_BUFFER - (HADOOP_BUFFER / 6 + 32))
#define ZIP_NAME_MAX 128

struct codec;

/* One compression format: the table is the one place that knows its name,
 * extension and Content-Encoding (spec §4.4). */
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
    /* Snappy formats: raw bytes waiting for a whole block (made once). */
    unsigned char *block;
    size_t block_len, block_cap;
    int hadoop;             /* HADOOP_SNAPPY framing, not snappy-java's */
    /* ZIP: the entry and what the trailer needs. */
    char zip_name[ZIP_NAME_MAX];    /* "" = a random UUID per object */
    char zip_entry[ZIP_NAME_MAX];   /* this object's */
    uint32_t zip_crc;
    uint64_t zip_emitted;   /* bytes of the archive written so far */
    uint16_t zip_time, zip_date;
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

/* --- ZIP: one deflated entry, sizes in a data descriptor ---------------- */

static void le16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void le32(unsigned char *p, uint32_t v)
{
    le16(p, v & 0xffff);
    le16(p + 2, v >> 16);
}

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

int codec_set_entry_name(struct codec *c, const char *name, struct err *e)
{
    size_t n = name != NULL ? strlen(name) : 0;

    if (n >= sizeof(c->zip_name))
        return err_set(e, ERR_INVAL, "ZIP entry name '%.40s...' is longer "
                       "than %zu bytes", name, sizeof(c->zip_name) - 1);
    if (n > 0)
        memcpy(c->zip_name, name, n);
    c->zip_name[n] = '\0';
    return 0;
}

/* Append to the archive and count what the trailer's offsets need. */
static int zip_emit(struct codec *c, const void *p, size_t n, struct err *e)
{
    if (buf_append(c->out, p, n, e) != 0)
        return -1;
    c->zip_emitted += n;
    return 0;
}

static int zip_init(struct codec *c, struct err *e)
{
    /* Negative window bits: raw deflate, ZIP has its own framing. */
    int rc = deflateInit2(&c->zs, c->level, Z_DEFLATED, -15, 8,
                          Z_DEFAULT_STRATEGY);

    if (rc != Z_OK)
        return gz_error(c, rc, "init", e);
    c->zinit = 1;
    return 0;
}

/* Fields shared by the local header (from 'version needed' on) and the
 * central directory entry: version, flags, method, time, date. */
static void zip_common(const struct codec *c, unsigned char *p)
{
    le16(p, 20);                /* version needed: 2.0 (deflate) */
    le16(p + 2, 0x0008);        /* bit 3: sizes and CRC follow the data */
    le16(p + 4, 8);             /* deflate */
    le16(p + 6, c->zip_time);
    le16(p + 8, c->zip_date);
}

static int zip_begin(struct codec *c, struct err *e)
{
    unsigned char h[30], r[16];
    size_t name_len;
    struct tm tm;
    time_t now = time(NULL);
    int rc = deflateReset(&c->zs);

    if (rc != Z_OK)
        return gz_error(c, rc, "reset", e);
    if (c->zip_name[0] != '\0') {
        memcpy(c->zip_entry, c->zip_name, sizeof(c->zip_entry));
    } else {
        if (util_random(r, sizeof(r), e) != 0)
            return -1;
        util_uuid(r, c->zip_entry);
    }
    name_len = strlen(c->zip_entry);
    if (gmtime_r(&now, &tm) == NULL || tm.tm_year < 80)
        memset(&tm, 0, sizeof(tm));
    c->zip_time = (uint16_t)(tm.tm_hour << 11 | tm.tm_min << 5 |
                             tm.tm_sec / 2);
    c->zip_date = tm.tm_year < 80 ? 0x21 :
        (uint16_t)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 |
                   tm.tm_mday);
    c->zip_crc = (uint32_t)crc32(0L, Z_NULL, 0);
    c->zip_emitted = 0;
    memset(h, 0, sizeof(h));
    le32(h, 0x04034b50);
    zip_common(c, h + 4);
    /* CRC and sizes stay 0 here: the data descriptor carries them. */
    le16(h + 26, (unsigned)name_len);
    if (zip_emit(c, h, sizeof(h), e) != 0 ||
        zip_emit(c, c->zip_entry, name_len, e) != 0)
        return -1;
    return 0;
}

/* Deflate into the archive, counting the bytes produced. */
static int zip_run(struct codec *c, const void *p, size_t n, int flush,
                   struct err *e)
{
    size_t before = c->out->len;
    int rc = gz_run(c, p, n, flush, e);

    c->zip_emitted += c->out->len - before;
    return rc;
}

static int zip_write(struct codec *c, const void *p, size_t n, struct err *e)
{
    const unsigned char *in = p;

    for (size_t left = n; left > 0;) {
        uInt k = left > UINT_MAX ? UINT_MAX : (uInt)left;
        c->zip_crc = (uint32_t)crc32(c->zip_crc, in, k);
        in += k;
        left -= k;
    }
    return zip_run(c, p, n, Z_NO_FLUSH, e);
}

static int zip_end(struct codec *c, struct err *e)
{
    unsigned char dd[16], cd[46], eocd[22];
    size_t name_len = strlen(c->zip_entry);
    uint64_t csize, usize, cd_off, cd_len = sizeof(cd) + name_len;

    if (zip_run(c, "", 0, Z_FINISH, e) != 0)
        return -1;
    csize = c->zs.total_out;
    usize = c->zs.total_in;
    /* Objects are at most 128 MiB before compression: ZIP64 is never
     * needed, but say so rather than write a corrupt archive. */
    if (usize > 0xfffffffeu || c->zip_emitted > 0xfffffffeu - 64 - cd_len)
        return err_set(e, ERR_INVAL, "ZIP object of %llu bytes is above "
                       "4 GiB: ZIP64 is not supported",
                       (unsigned long long)usize);
    le32(dd, 0x08074b50);
    le32(dd + 4, c->zip_crc);
    le32(dd + 8, (uint32_t)csize);
    le32(dd + 12, (uint32_t)usize);
    if (zip_emit(c, dd, sizeof(dd), e) != 0)
        return -1;
    cd_off = c->zip_emitted;
    memset(cd, 0, sizeof(cd));
    le32(cd, 0x02014b50);
    le16(cd + 4, 3u << 8 | 20);     /* made by: Unix, 2.0 */
    zip_common(c, cd + 6);
    le32(cd + 16, c->zip_crc);
    le32(cd + 20, (uint32_t)csize);
    le32(cd + 24, (uint32_t)usize);
    le16(cd + 28, (unsigned)name_len);
    le32(cd + 38, (uint32_t)0100644 << 16);  /* -rw-r--r-- */
    /* Local header offset 0: the archive has this one entry. */
    if (zip_emit(c, cd, sizeof(cd), e) != 0 ||
        zip_emit(c, c->zip_entry, name_len, e) != 0)
        return -1;
    memset(eocd, 0, sizeof(eocd));
    le32(eocd, 0x06054b50);
    le16(eocd + 8, 1);
    le16(eocd + 10, 1);
    le32(eocd + 12, (uint32_t)cd_len);
    le32(eocd + 16, (uint32_t)cd_off);
    return zip_emit(c, eocd, sizeof(eocd), e);
}

/* --- Snappy (snappy-java stream) and HADOOP_SNAPPY (Hadoop blocks) ------ */

static int snappy_init(struct codec *c, struct err *e)
{
    c->hadoop = strcmp(c->type->name, "HADOOP_SNAPPY") == 0;
    c->block_cap = c->hadoop ? HADOOP_BLOCK : XERIAL_BLOCK;
    c->block = malloc(c->block_cap);
    if (c->block == NULL)
        return err_set(e, ERR_NOMEM, "out of memory for a %s block of %zu "
                       "bytes", c->type->name, c->block_cap);
    return 0;
}

static int snappy_begin(struct codec *c, struct err *e)
{
    /* snappy-java's header: magic, then version and minimum compatible
     * version as big-endian int32 (SnappyCodec.java: both 1). */
    static const unsigned char xerial_header[16] = {
        0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1,
    };

    c->block_len = 0;
    if (c->hadoop)
        return 0;
    return buf_append(c->out, xerial_header, sizeof(xerial_header), e);
}

/* Compress one block: [BE u32 compressed length][data] for snappy-java;
 * [BE u32 raw length][BE u32 compressed length][data] for Hadoop. */
static int snappy_block(struct codec *c, const void *p, size_t n,
                        struct err *e)
{
    size_t hdr = c->hadoop ? 8 : 4;
    size_t max = snappy_max_compressed_length(n), clen = max;
    unsigned char *dst;
    snappy_status st;

    if (buf_reserve(c->out, hdr + max, e) != 0)
        return -1;
    dst = c->out->p + c->out->len;
    st = snappy_compress(p, n, (char *)dst + hdr, &clen);
    if (st != SNAPPY_OK)
        return err_set(e, ERR_IO, "snappy_compress of a %zu-byte block "
                       "failed (status %d)", n, (int)st);
    if (c->hadoop) {
        be32(dst, (uint32_t)n);
        be32(dst + 4, (uint32_t)clen);
    } else {
        be32(dst, (uint32_t)clen);
    }
    c->out->len += hdr + clen;
    return 0;
}

static int snappy_write(struct codec *c, const void *p, size_t n,
                        struct err *e)
{
    const unsigned char *in = p;

    while (n > 0) {
        size_t k;

        /* Whole blocks straight from the input, without a copy. */
        if (c->block_len == 0 && n >= c->block_cap) {
            if (snappy_block(c, in, c->block_cap, e) != 0)
                return -1;
            in += c->block_cap;
            n -= c->block_cap;
            continue;
        }
        k = c->block_cap - c->block_len;
        if (k > n)
            k = n;
        memcpy(c->block + c->block_len, in, k);
        c->block_len += k;
        in += k;
        n -= k;
        if (c->block_len == c->block_cap) {
            if (snappy_block(c, c->block, c->block_len, e) != 0)
                return -1;
            c->block_len = 0;
        }
    }
    return 0;
}

static int snappy_end(struct codec *c, struct err *e)
{
    if (c->block_len > 0 && snappy_block(c, c->block, c->block_len, e) != 0)
        return -1;
    c->block_len = 0;
    return 0;
}

static void snappy_release(struct codec *c)
{
    free(c->block);
    c->block = NULL;
}

/* --- the table, indexed by enum cfg_compression ------------------------ */

static const struct codec_type codec_types[] = {
    [CFG_COMP_UNCOMPRESSED] = { "UNCOMPRESSED", "", NULL,
                                NULL, NULL, raw_write, NULL, NULL },
    [CFG_COMP_GZIP]         = { "GZIP", ".gz", "gzip",
                                gz_init, gz_begin, gz_write, gz_end,
                                gz_release },
    [CFG_COMP_ZIP]          = { "ZIP", ".zip", "zip",
                                zip_init, zip_begin, zip_write, zip_end,
                                gz_release },
    [CFG_COMP_SNAPPY]       = { "Snappy", ".snappy", "snappy-java",
                                snappy_init, snappy_begin, snappy_write,
                                snappy_end, snappy_release },
    [CFG_COMP_HADOOP_SNAPPY] = { "HADOOP_SNAPPY", ".snappy", "hadoop-snappy",
                                 snappy_init, snappy_begin, snappy_write,
                                 snappy_end, snappy_release },
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
