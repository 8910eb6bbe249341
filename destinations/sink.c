/* sink.c - records -> codec -> destination, whole or in parts. */
#include "sink.h"

#include <stdlib.h>
#include <string.h>

#include "../delivery/util.h"

/* Records are gathered into runs of this size so that the codec is called
 * per run, not per (often tiny) record. */
#define SINK_STAGE (256u * 1024u)

struct sink {
    struct buf stage;
    struct buf obj;             /* compressed output not sent yet */
    struct buf key;             /* key of the object kept in 'obj' */
    int kept;                   /* obj holds the whole object for 'key' */
    struct sink_stats st;
};

struct sink *sink_new(struct err *e)
{
    struct sink *s = calloc(1, sizeof(*s));

    if (s == NULL)
        err_set(e, ERR_NOMEM, "out of memory creating a sink");
    return s;
}

void sink_free(struct sink *s)
{
    if (s == NULL)
        return;
    buf_release(&s->stage);
    buf_release(&s->obj);
    buf_release(&s->key);
    free(s);
}

void sink_stats(const struct sink *s, struct sink_stats *out)
{
    *out = s->st;
}

/* One streamed upload in progress. */
struct run {
    struct sink *s;
    struct dest *d;
    const struct payload *meta;
    int streaming;              /* begin() succeeded */
    enum dest_status ds;        /* of the failed dest call */
};

/* Send what the codec produced once the object is known to be large:
 * begin the upload when the output passes the threshold, then every whole
 * part. 'last' sends the remainder too. -1 when a dest call failed (r->ds
 * and 'e' say how). */
static int drain(struct run *r, int last, struct err *e)
{
    struct sink *s = r->s;
    struct dest *d = r->d;
    size_t part = d->part_size, off = 0;

    if (s->obj.len > s->st.peak_buffer)
        s->st.peak_buffer = s->obj.len;
    if (!r->streaming) {
        if (s->obj.len <= d->part_threshold || d->part_size == 0 ||
            d->type->begin == NULL)
            return 0;
        r->ds = d->type->begin(d, r->meta, e);
        if (r->ds != DEST_OK)
            return -1;
        r->streaming = 1;
    }
    while (s->obj.len - off >= part || (last && off < s->obj.len)) {
        size_t n = s->obj.len - off < part ? s->obj.len - off : part;
        r->ds = d->type->part(d, s->obj.p + off, n, e);
        if (r->ds != DEST_OK)
            return -1;
        s->st.parts++;
        off += n;
    }
    if (off > 0) {
        memmove(s->obj.p, s->obj.p + off, s->obj.len - off);
        s->obj.len -= off;
    }
    return 0;
}

static int feed(struct run *r, struct codec *c, const void *p, size_t n,
                struct err *e)
{
    size_t before = r->s->obj.len;

    if (codec_write(c, p, n, e) != 0) {
        r->ds = DEST_RETRY;
        return -1;
    }
    r->s->st.object_bytes += r->s->obj.len - before;
    return drain(r, 0, e);
}

/* The ZIP entry's name: a UUID derived from the key, so that every
 * attempt writes the same archive entry. */
static int entry_name(struct codec *c, const char *key, struct err *e)
{
    unsigned char h[16];
    uint64_t a = util_hash64(key, strlen(key), 0x5a49502d454e5452ULL);
    uint64_t b = util_hash64(key, strlen(key), a);
    char uuid[37];

    memcpy(h, &a, 8);
    memcpy(h + 8, &b, 8);
    util_uuid(h, uuid);
    return codec_set_entry_name(c, uuid, e);
}

/* Compress every record, streaming parts once the output is large. */
static int build(struct run *r, struct codec *c, const struct sink_records *rs,
                 struct err *e)
{
    struct sink *s = r->s;
    size_t before;

    if (entry_name(c, r->meta->key, e) != 0 ||
        codec_begin(c, &s->obj, e) != 0) {
        r->ds = DEST_RETRY;
        return -1;
    }
    s->st.object_bytes = s->obj.len;    /* a header, for some formats */
    s->stage.len = 0;
    for (int first = 1;; first = 0) {
        const void *p = NULL;
        size_t len = 0, nl = rs->newline ? 1 : 0;
        int more = rs->next(rs->arg, first, &p, &len);

        if (more < 0) {
            /* Never store a cut object as if it were whole. */
            err_set(e, ERR_IO, "reading the records to store failed");
            r->ds = DEST_RETRY;
            return -1;
        }
        if (more == 0)
            break;
        if (s->stage.len + len + nl > SINK_STAGE && s->stage.len > 0) {
            if (feed(r, c, s->stage.p, s->stage.len, e) != 0)
                return -1;
            s->stage.len = 0;
        }
        if (len >= SINK_STAGE) {
            if (feed(r, c, p, len, e) != 0 ||
                (nl && feed(r, c, "\n", 1, e) != 0))
                return -1;
        } else if ((len > 0 && buf_append(&s->stage, p, len, e) != 0) ||
                   (nl && buf_append(&s->stage, "\n", 1, e) != 0)) {
            r->ds = DEST_RETRY;
            return -1;
        }
    }
    if (s->stage.len > 0 && feed(r, c, s->stage.p, s->stage.len, e) != 0)
        return -1;
    before = s->obj.len;
    if (codec_end(c, e) != 0) {
        r->ds = DEST_RETRY;
        return -1;
    }
    s->st.object_bytes += s->obj.len - before;
    /* The end may push a small object over the threshold too. */
    return drain(r, r->streaming, e);
}

enum dest_status sink_deliver(struct sink *s, struct dest *d,
                              struct codec *c, const struct sink_records *rs,
                              const struct payload *meta, struct err *e)
{
    struct run r = { s, d, meta, 0, DEST_OK };
    struct payload p = *meta;
    size_t klen = strlen(meta->key) + 1;

    if (d->type->wants_records) {
        err_set(e, ERR_INVAL, "%s takes records, not objects: deliver its "
                "batches without the sink", d->id);
        return DEST_FAIL;
    }
    p.content_encoding = codec_content_encoding(c);
    if (!(s->kept && s->key.len == klen &&
          memcmp(s->key.p, meta->key, klen) == 0)) {
        s->kept = 0;
        s->obj.len = 0;
        memset(&s->st, 0, sizeof(s->st));
        if (build(&r, c, rs, e) != 0) {
            if (r.streaming)
                d->type->abort(d);
            s->obj.len = 0;
            return r.ds;
        }
        if (r.streaming) {
            r.ds = d->type->finish(d, e);
            if (r.ds != DEST_OK)
                d->type->abort(d);
            return r.ds;
        }
        s->key.len = 0;
        if (buf_append(&s->key, meta->key, klen, e) != 0)
            return DEST_RETRY;
        s->kept = 1;
    }
    p.data = s->obj.p;
    p.len = s->obj.len;
    return d->type->deliver(d, &p, e);
}
