#include "pbuf.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* A recycled buffer keeps an arena up to this size; a bigger one (a
 * partition that was busy once) is freed so that idle buffers do not pin
 * their peak. */
#define PBUF_RETAIN_BYTES (4u << 20)

enum part_state {
    PART_FREE,                  /* recyclable */
    PART_OPEN,                  /* takes records of its keys */
    PART_FULL,                  /* closed by size, waiting for pbuf_take */
    PART_TAKEN                  /* being delivered */
};

struct prec {
    size_t off;                 /* in data */
    size_t len;
};

struct pbuf_part {
    enum part_state state;
    struct buf keys;
    struct buf data;
    struct prec *recs;
    uint32_t n;
    size_t recs_cap;
    int *batches;               /* slots of the batches it holds */
    size_t n_batches, batches_cap;
    int64_t opened_ms;          /* its first record came in */
    int64_t oldest_ms;
    uint64_t first_batch;
    uint64_t hash;
};

struct slot {
    struct spool_batch b;
    int used;
    int ended;
    uint32_t refs;              /* buffers holding its records */
};

struct pbuf {
    struct pbuf_opts o;
    struct pbuf_part **parts;   /* every buffer ever made, reused */
    size_t n_parts, parts_cap;
    struct pbuf_part *last;     /* lookup cache: records come in runs */
    struct slot *slots;
    size_t n_slots;
    uint64_t bytes;
    size_t open;
};

int pbuf_new(const struct pbuf_opts *o, struct pbuf **out, struct err *e)
{
    struct pbuf *pb;

    *out = NULL;
    if (o->size_bytes == 0 || o->interval_ms <= 0 || o->cap_bytes == 0 ||
        o->max_partitions == 0)
        return err_set(e, ERR_INVAL, "partition buffers need a size, an "
                       "interval, a byte cap and a partition limit above 0");
    if ((pb = calloc(1, sizeof(*pb))) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    pb->o = *o;
    *out = pb;
    return 0;
}

static void part_free(struct pbuf_part *p)
{
    buf_release(&p->keys);
    buf_release(&p->data);
    free(p->recs);
    free(p->batches);
    free(p);
}

void pbuf_free(struct pbuf *pb)
{
    if (pb == NULL)
        return;
    for (size_t i = 0; i < pb->n_parts; i++)
        part_free(pb->parts[i]);
    free(pb->parts);
    free(pb->slots);
    free(pb);
}

int pbuf_batch_begin(struct pbuf *pb, const struct spool_batch *b,
                     int *slot, struct err *e)
{
    size_t i;

    for (i = 0; i < pb->n_slots && pb->slots[i].used; i++)
        ;
    if (i == pb->n_slots) {
        size_t cap = pb->n_slots ? pb->n_slots * 2 : 8;
        struct slot *s = realloc(pb->slots, cap * sizeof(*s));

        if (s == NULL)
            return err_set(e, ERR_NOMEM, "out of memory for batch slots");
        memset(s + pb->n_slots, 0, (cap - pb->n_slots) * sizeof(*s));
        pb->slots = s;
        pb->n_slots = cap;
    }
    pb->slots[i].b = *b;
    pb->slots[i].used = 1;
    pb->slots[i].ended = 0;
    pb->slots[i].refs = 0;
    *slot = (int)i;
    return 0;
}

void pbuf_batch_end(struct pbuf *pb, int slot)
{
    pb->slots[slot].ended = 1;
}

static struct pbuf_part *find_open(struct pbuf *pb, const void *keys,
                                   size_t keys_len)
{
    struct pbuf_part *p = pb->last;

    if (p != NULL && p->state == PART_OPEN && p->keys.len == keys_len &&
        (keys_len == 0 || memcmp(p->keys.p, keys, keys_len) == 0))
        return p;
    for (size_t i = 0; i < pb->n_parts; i++) {
        p = pb->parts[i];
        if (p->state == PART_OPEN && p->keys.len == keys_len &&
            (keys_len == 0 || memcmp(p->keys.p, keys, keys_len) == 0))
            return p;
    }
    return NULL;
}

/* A free buffer (recycled or new), not yet open. */
static struct pbuf_part *free_part(struct pbuf *pb, struct err *e)
{
    struct pbuf_part *p;

    for (size_t i = 0; i < pb->n_parts; i++)
        if (pb->parts[i]->state == PART_FREE)
            return pb->parts[i];
    if (pb->n_parts == pb->parts_cap) {
        size_t cap = pb->parts_cap ? pb->parts_cap * 2 : 16;
        void *q = realloc(pb->parts, cap * sizeof(*pb->parts));

        if (q == NULL)
            goto nomem;
        pb->parts = q;
        pb->parts_cap = cap;
    }
    if ((p = calloc(1, sizeof(*p))) == NULL)
        goto nomem;
    pb->parts[pb->n_parts++] = p;
    return p;
nomem:
    err_set(e, ERR_NOMEM, "out of memory for partition buffers");
    return NULL;
}

static void close_full(struct pbuf *pb, struct pbuf_part *p)
{
    p->state = PART_FULL;
    pb->open--;
}

/* Make sure the buffer can take one more record of len bytes and one more
 * batch, so that an append cannot fail half-way. */
static int part_reserve(struct pbuf_part *p, size_t len, struct err *e)
{
    if (p->n == p->recs_cap) {
        size_t cap = p->recs_cap ? p->recs_cap * 2 : 64;
        void *q = realloc(p->recs, cap * sizeof(*p->recs));

        if (q == NULL)
            return err_set(e, ERR_NOMEM, "out of memory for a partition");
        p->recs = q;
        p->recs_cap = cap;
    }
    if (p->n_batches == p->batches_cap) {
        size_t cap = p->batches_cap ? p->batches_cap * 2 : 8;
        void *q = realloc(p->batches, cap * sizeof(*p->batches));

        if (q == NULL)
            return err_set(e, ERR_NOMEM, "out of memory for a partition");
        p->batches = q;
        p->batches_cap = cap;
    }
    return buf_reserve(&p->data, len, e);
}

int pbuf_add(struct pbuf *pb, int slot, const void *keys, size_t keys_len,
             const void *data, size_t len, int64_t arrival_ms, uint64_t tag,
             int64_t now_ms, struct err *e)
{
    struct pbuf_part *p = find_open(pb, keys, keys_len);
    int fresh = 0;
    size_t k;

    if (p != NULL && p->n > 0 && p->data.len + len > pb->o.size_bytes) {
        close_full(pb, p);
        p = NULL;
    }
    if (p == NULL) {
        if (pb->open >= pb->o.max_partitions)
            return err_set(e, ERR_FULL, "%zu partitions are buffered "
                           "already (MaxActivePartitions)",
                           pb->o.max_partitions);
        if ((p = free_part(pb, e)) == NULL)
            return -1;
        p->keys.len = 0;
        if (keys_len > 0 && buf_append(&p->keys, keys, keys_len, e) != 0)
            return -1;
        p->data.len = 0;
        p->n = 0;
        p->n_batches = 0;
        p->opened_ms = now_ms;
        p->oldest_ms = arrival_ms;
        p->first_batch = pb->slots[slot].b.id;
        p->hash = util_hash64(keys, keys_len, 0x9a27);
        fresh = 1;
    }
    if (part_reserve(p, len, e) != 0) {
        /* A buffer opened for this record stays free: nothing changed. */
        return -1;
    }
    if (fresh) {
        p->state = PART_OPEN;
        pb->open++;
    }
    pb->last = p;
    if (len > 0)
        memcpy(p->data.p + p->data.len, data, len);
    p->recs[p->n].off = p->data.len;
    p->recs[p->n].len = len;
    p->n++;
    p->data.len += len;
    pb->bytes += len;
    p->hash = util_hash64(&tag, sizeof(tag), p->hash);
    if (arrival_ms < p->oldest_ms)
        p->oldest_ms = arrival_ms;
    /* Batches come in runs too: the last one is the likely match. */
    for (k = p->n_batches; k-- > 0;)
        if (p->batches[k] == slot)
            break;
    if (k == (size_t)-1) {
        p->batches[p->n_batches++] = slot;
        pb->slots[slot].refs++;
    }
    if (p->data.len >= pb->o.size_bytes)
        close_full(pb, p);
    return 0;
}

static struct pbuf_part *take(struct pbuf *pb, struct pbuf_part *p)
{
    if (p->state == PART_OPEN)
        pb->open--;
    p->state = PART_TAKEN;
    if (pb->last == p)
        pb->last = NULL;
    return p;
}

struct pbuf_part *pbuf_take(struct pbuf *pb, int64_t now_ms, int all)
{
    struct pbuf_part *oldest = NULL, *largest = NULL;

    for (size_t i = 0; i < pb->n_parts; i++) {
        struct pbuf_part *p = pb->parts[i];

        if (p->state == PART_FULL)
            return take(pb, p);
        if (p->state != PART_OPEN || p->n == 0)
            continue;
        if (oldest == NULL || p->opened_ms < oldest->opened_ms)
            oldest = p;
        if (largest == NULL || p->data.len > largest->data.len)
            largest = p;
    }
    if (oldest == NULL)
        return NULL;
    if (all || now_ms - oldest->opened_ms >= pb->o.interval_ms)
        return take(pb, oldest);
    /* Over the memory cap: the largest buffer frees the most. */
    if (pb->bytes > pb->o.cap_bytes)
        return take(pb, largest);
    return NULL;
}

void pbuf_done(struct pbuf *pb, struct pbuf_part *p)
{
    for (size_t k = 0; k < p->n_batches; k++)
        pb->slots[p->batches[k]].refs--;
    pb->bytes -= p->data.len;
    p->n_batches = 0;
    p->n = 0;
    p->data.len = 0;
    if (p->data.cap > PBUF_RETAIN_BYTES)
        buf_release(&p->data);
    p->state = PART_FREE;
}

int pbuf_ready(struct pbuf *pb, struct spool_batch *b)
{
    for (size_t i = 0; i < pb->n_slots; i++) {
        struct slot *s = &pb->slots[i];

        if (s->used && s->ended && s->refs == 0) {
            *b = s->b;
            s->used = 0;
            return 1;
        }
    }
    return 0;
}

int64_t pbuf_next_due(const struct pbuf *pb, int64_t now_ms)
{
    int64_t best = -1;

    for (size_t i = 0; i < pb->n_parts; i++) {
        const struct pbuf_part *p = pb->parts[i];
        int64_t left;

        if (p->state == PART_FULL)
            return 0;
        if (p->state != PART_OPEN || p->n == 0)
            continue;
        if (pb->bytes > pb->o.cap_bytes)
            return 0;
        left = p->opened_ms + pb->o.interval_ms - now_ms;
        if (left < 0)
            left = 0;
        if (best < 0 || left < best)
            best = left;
    }
    return best;
}

void pbuf_info(const struct pbuf_part *p, struct pbuf_info *out)
{
    out->keys = p->keys.p;
    out->keys_len = p->keys.len;
    out->count = p->n;
    out->bytes = p->data.len;
    out->oldest_ms = p->oldest_ms;
    out->first_batch = p->first_batch;
    out->hash = p->hash;
}

void pbuf_rec(const struct pbuf_part *p, uint32_t i, const void **data,
              size_t *len)
{
    /* An arena that only ever held empty records was never allocated. */
    *data = p->data.p != NULL ? p->data.p + p->recs[i].off
                              : (const unsigned char *)"";
    *len = p->recs[i].len;
}

uint64_t pbuf_bytes(const struct pbuf *pb)
{
    return pb->bytes;
}

size_t pbuf_open_count(const struct pbuf *pb)
{
    return pb->open;
}
