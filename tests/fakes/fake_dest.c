/* fake_dest.c - see fake_dest.h. */
#include "fake_dest.h"

#include <stdio.h>
#include <string.h>

static enum dest_status scripted(const struct fake_dest *f,
                                 const char *what, struct err *e)
{
    err_set(e, ERR_RETRY, "scripted %s failure", what);
    return f->status;
}

static enum dest_status fake_deliver(struct dest *d, const struct payload *p,
                                     struct err *e)
{
    struct fake_dest *f = d->ctx;

    f->delivers++;
    f->completed = 0;
    if (f->fail_deliver == f->delivers)
        return scripted(f, "deliver", e);
    snprintf(f->key, sizeof(f->key), "%s", p->key);
    snprintf(f->encoding, sizeof(f->encoding), "%s",
             p->content_encoding ? p->content_encoding : "");
    f->got.len = 0;
    if (buf_append(&f->got, p->data, p->len, e) != 0)
        return DEST_RETRY;
    f->completed = 1;
    return DEST_OK;
}

static enum dest_status fake_begin(struct dest *d, const struct payload *p,
                                   struct err *e)
{
    struct fake_dest *f = d->ctx;

    f->begins++;
    f->completed = 0;
    if (p->len != 0 || p->data != NULL) {
        err_set(e, ERR_INVAL, "begin() was given data");
        return DEST_FAIL;
    }
    if (f->fail_begin == f->begins)
        return scripted(f, "begin", e);
    snprintf(f->key, sizeof(f->key), "%s", p->key);
    snprintf(f->encoding, sizeof(f->encoding), "%s",
             p->content_encoding ? p->content_encoding : "");
    f->got.len = 0;
    return DEST_OK;
}

static enum dest_status fake_part(struct dest *d, const void *data, size_t n,
                                  struct err *e)
{
    struct fake_dest *f = d->ctx;

    f->parts++;
    if (f->fail_part == f->parts)
        return scripted(f, "part", e);
    if (n > f->max_part)
        f->max_part = n;
    if (f->min_part == 0 || n < f->min_part)
        f->min_part = n;
    return buf_append(&f->got, data, n, e) == 0 ? DEST_OK : DEST_RETRY;
}

static enum dest_status fake_finish(struct dest *d, struct err *e)
{
    struct fake_dest *f = d->ctx;

    f->finishes++;
    if (f->fail_finish == f->finishes)
        return scripted(f, "finish", e);
    f->completed = 1;
    return DEST_OK;
}

static void fake_abort(struct dest *d)
{
    struct fake_dest *f = d->ctx;

    f->aborts++;
    f->got.len = 0;
}

static void fake_destroy(struct dest *d)
{
    (void)d;
}

static const struct dest_type fake_whole = {
    .name = "fake", .deliver = fake_deliver, .destroy = fake_destroy,
};

static const struct dest_type fake_parts = {
    .name = "fake", .deliver = fake_deliver, .destroy = fake_destroy,
    .begin = fake_begin, .part = fake_part, .finish = fake_finish,
    .abort = fake_abort,
};

void fake_dest_init(struct fake_dest *f, size_t threshold, size_t part)
{
    memset(f, 0, sizeof(*f));
    f->d.type = threshold > 0 ? &fake_parts : &fake_whole;
    snprintf(f->d.id, sizeof(f->d.id), "dest:fake");
    f->d.ctx = f;
    f->d.part_threshold = threshold;
    f->d.part_size = part;
    f->status = DEST_RETRY;
}

void fake_dest_release(struct fake_dest *f)
{
    buf_release(&f->got);
}
