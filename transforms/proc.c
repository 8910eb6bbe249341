#include "proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "jtok.h"

struct proc {
    const struct cfg_processing *pc;
    z_stream z;
    int z_ready;
    struct buf inflated;            /* decompressed records */
    struct buf messages;            /* decoded log messages */
    struct proc_list tmp;           /* the other list of each stage */
};

int proc_list_reserve(struct proc_list *l, size_t n, struct err *e)
{
    size_t cap = l->cap ? l->cap : 1024;
    void *p;

    if (n <= l->cap)
        return 0;
    while (cap < n)
        cap *= 2;
    if ((p = realloc(l->r, cap * sizeof(*l->r))) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory for %zu records", n);
    l->r = p;
    l->cap = cap;
    return 0;
}

void proc_list_release(struct proc_list *l)
{
    free(l->r);
    memset(l, 0, sizeof(*l));
}

int proc_wanted(const struct cfg_processing *pc)
{
    return pc->enabled && (pc->gzip || pc->cw_logs ||
                           pc->deagg != CFG_DEAGG_NONE);
}

struct proc *proc_new(const struct cfg_processing *pc, struct err *e)
{
    struct proc *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    p->pc = pc;
    if (pc->gzip) {
        /* 16 + 15: gzip wrapper, largest window. */
        if (inflateInit2(&p->z, 16 + MAX_WBITS) != Z_OK) {
            free(p);
            err_set(e, ERR_NOMEM, "zlib inflateInit2 failed");
            return NULL;
        }
        p->z_ready = 1;
    }
    return p;
}

void proc_free(struct proc *p)
{
    if (p == NULL)
        return;
    if (p->z_ready)
        inflateEnd(&p->z);
    buf_release(&p->inflated);
    buf_release(&p->messages);
    proc_list_release(&p->tmp);
    free(p);
}

/* Append one record to 'l'. */
static int put(struct proc_list *l, const struct proc_rec *r, struct err *e)
{
    if (proc_list_reserve(l, l->n + 1, e) != 0)
        return -1;
    l->r[l->n++] = *r;
    return 0;
}

/* Make the stage's output the list. */
static void swap(struct proc *p, struct proc_list *l)
{
    struct proc_list t = *l;

    *l = p->tmp;
    p->tmp = t;
    p->tmp.n = 0;
}

/* Records whose bytes went into 'a' have data NULL and their offset in
 * 'off': resolve them now that 'a' has stopped growing. */
static void resolve(struct proc_list *l, const struct buf *a)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->r[i].data == NULL)
            l->r[i].data = a->p + l->r[i].off;
}

static int failed(struct proc_stats *st, proc_fail_fn fail, void *arg,
                  const struct proc_rec *r, enum proc_fail_kind kind,
                  const char *code, const char *msg, struct err *e)
{
    st->failed++;
    if (fail(arg, r, kind, code, msg) != 0)
        return err_set(e, ERR_NOMEM, "writing an error document failed");
    return 0;
}

/* gunzip one record (all its members) to the end of p->inflated. 0, or 1
 * with 'why' filled. */
static int gunzip(struct proc *p, const unsigned char *d, size_t n,
                  char *why, size_t whysz, struct err *e)
{
    z_stream *z = &p->z;
    size_t start = p->inflated.len;
    int rc;

    if (n == 0) {
        snprintf(why, whysz, "the record is empty, not gzip data");
        return 1;
    }
    inflateReset(z);
    z->next_in = d;
    z->avail_in = (uInt)n;
    for (;;) {
        if (buf_reserve(&p->inflated, 64 << 10, e) != 0)
            return -1;
        z->next_out = p->inflated.p + p->inflated.len;
        z->avail_out = (uInt)(p->inflated.cap - p->inflated.len);
        rc = inflate(z, Z_NO_FLUSH);
        p->inflated.len = p->inflated.cap - z->avail_out;
        if (p->inflated.len - start > PROC_MAX_INFLATED) {
            snprintf(why, whysz, "decompressed data is larger than %u "
                     "bytes", PROC_MAX_INFLATED);
            goto bad;
        }
        if (rc == Z_STREAM_END) {
            if (z->avail_in == 0)
                return 0;
            inflateReset(z);        /* the next gzip member */
            continue;
        }
        if (rc == Z_OK)
            continue;
        if (rc == Z_BUF_ERROR && z->avail_in == 0)
            snprintf(why, whysz, "gzip data is truncated");
        else
            snprintf(why, whysz, "not gzip data: %s",
                     z->msg ? z->msg : "inflate failed");
        goto bad;
    }
bad:
    p->inflated.len = start;
    return 1;
}

static int stage_gunzip(struct proc *p, struct proc_list *l,
                        proc_fail_fn fail, void *arg, struct proc_stats *st,
                        struct err *e)
{
    char why[160];

    p->inflated.len = 0;
    for (size_t i = 0; i < l->n; i++) {
        struct proc_rec r = l->r[i];
        size_t off = p->inflated.len;
        int rc = gunzip(p, r.data, r.len, why, sizeof(why), e);

        if (rc < 0)
            return -1;
        if (rc > 0) {
            if (failed(st, fail, arg, &r, PROC_FAIL_DECOMPRESSION,
                       "Decompression.Failed", why, e) != 0)
                return -1;
            continue;
        }
        r.data = NULL;
        r.off = off;
        r.len = p->inflated.len - off;
        if (put(&p->tmp, &r, e) != 0)
            return -1;
    }
    swap(p, l);
    resolve(l, &p->inflated);
    return 0;
}

/* The members of a CloudWatch Logs envelope this stage reads. */
struct envelope {
    const char *type, *type_end;        /* messageType, a JSON string */
    const char *events, *events_end;    /* logEvents, a JSON array */
};

static int str_is(const char *v, const char *vend, const char *s)
{
    size_t n = strlen(s);

    return (size_t)(vend - v) == n + 2 && v[0] == '"' &&
           memcmp(v + 1, s, n) == 0;
}

static int read_envelope(const struct proc_rec *r, struct envelope *env)
{
    const char *p = (const char *)r->data, *end = p + r->len;
    const char *k, *v, *vend;
    size_t kn, count = 0;
    int rc;

    memset(env, 0, sizeof(*env));
    p = jtok_ws(p, end);
    if (p >= end || *p != '{')
        return -1;
    while ((rc = jtok_member(&p, end, &count, &k, &kn, &v, &vend)) == 1) {
        if (kn == 11 && memcmp(k, "messageType", 11) == 0) {
            env->type = v;
            env->type_end = vend;
        } else if (kn == 9 && memcmp(k, "logEvents", 9) == 0) {
            env->events = v;
            env->events_end = vend;
        }
    }
    if (rc < 0 || jtok_ws(p, end) != end || env->type == NULL ||
        *env->type != '"')
        return -1;
    return 0;
}

/* DATA_MESSAGE with extraction: each logEvents[].message, decoded, as a
 * record of its own. 0, 1 (malformed: 'why'), -1. */
static int extract(struct proc *p, const struct proc_rec *r,
                   const struct envelope *env, const char **why,
                   struct err *e)
{
    const char *q = env->events, *end = env->events_end;
    size_t first = p->tmp.n;

    if (q == NULL || *q != '[') {
        *why = "logEvents is missing or not an array";
        return 1;
    }
    q = jtok_ws(q + 1, end);
    while (q < end && *q != ']') {
        const char *ev = q, *k, *v, *vend, *msg = NULL, *msg_end = NULL;
        size_t kn, count = 0;
        int rc;
        struct proc_rec o = *r;

        if (*ev != '{') {
            *why = "a logEvents entry is not an object";
            goto bad;
        }
        while ((rc = jtok_member(&q, end, &count, &k, &kn, &v, &vend)) ==
               1)
            if (kn == 7 && memcmp(k, "message", 7) == 0) {
                msg = v;
                msg_end = vend;
            }
        if (rc < 0 || msg == NULL || *msg != '"') {
            *why = "a logEvents entry has no message string";
            goto bad;
        }
        o.data = NULL;
        o.off = p->messages.len;
        if (jtok_unescape(msg, msg_end, &p->messages, e) != 0)
            return -1;
        o.len = p->messages.len - o.off;
        if (put(&p->tmp, &o, e) != 0)
            return -1;
        q = jtok_ws(q, end);
        if (q < end && *q == ',')
            q = jtok_ws(q + 1, end);
    }
    return 0;
bad:
    p->tmp.n = first;
    return 1;
}

static int stage_cwlogs(struct proc *p, struct proc_list *l,
                        proc_fail_fn fail, void *arg, struct proc_stats *st,
                        struct err *e)
{
    p->messages.len = 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct proc_rec *r = &l->r[i];
        struct envelope env;
        const char *why = NULL;
        int rc = 0;

        if (read_envelope(r, &env) != 0) {
            why = "not a CloudWatch Logs envelope (a JSON object with "
                  "messageType)";
        } else if (str_is(env.type, env.type_end, "CONTROL_MESSAGE")) {
            st->control_messages++;
            continue;
        } else if (!str_is(env.type, env.type_end, "DATA_MESSAGE")) {
            why = "messageType is neither DATA_MESSAGE nor CONTROL_MESSAGE";
        } else if (!p->pc->cw_extract) {
            if (put(&p->tmp, r, e) != 0)
                return -1;
            continue;
        } else if ((rc = extract(p, r, &env, &why, e)) < 0) {
            return -1;
        }
        if (why != NULL &&
            failed(st, fail, arg, r, PROC_FAIL_PROCESSING,
                   "CloudWatchLogProcessing.InvalidEnvelope", why, e) != 0)
            return -1;
    }
    swap(p, l);
    resolve(l, &p->messages);
    return 0;
}

/* The first 'nd' bytes of 'd' in [s, end), or NULL (memmem is a GNU
 * extension). */
static const unsigned char *find(const unsigned char *s,
                                 const unsigned char *end,
                                 const unsigned char *d, size_t nd)
{
    while ((size_t)(end - s) >= nd) {
        const unsigned char *c = memchr(s, d[0], (size_t)(end - s) - nd + 1);
        if (c == NULL)
            return NULL;
        if (memcmp(c, d, nd) == 0)
            return c;
        s = c + 1;
    }
    return NULL;
}

/* One sub-record of r: [s, s + n). */
static int put_sub(struct proc *p, const struct proc_rec *r,
                   const unsigned char *s, size_t n, struct err *e)
{
    struct proc_rec o = *r;

    o.data = s;
    o.len = n;
    /* Without decompression the sub-record is what failed; with it, the
     * error output keeps the record as it came (compressed). */
    if (!p->pc->gzip) {
        o.raw = s;
        o.raw_len = n;
    }
    return put(&p->tmp, &o, e);
}

/* 0, 1 (does not split cleanly: 'why'), -1. */
static int split_json(struct proc *p, const struct proc_rec *r,
                      const char **why, struct err *e)
{
    const char *b = (const char *)r->data, *end = b + r->len;
    const char *q = jtok_ws(b, end), *v;
    size_t first = p->tmp.n;

    if (q == end) {
        *why = "the record holds no JSON object";
        return 1;
    }
    while (q < end) {
        if (*q != '{' || (v = jtok_value(q, end)) == NULL) {
            *why = "the record is not a sequence of JSON objects";
            p->tmp.n = first;
            return 1;
        }
        if (put_sub(p, r, (const unsigned char *)q, (size_t)(v - q), e) != 0)
            return -1;
        q = jtok_ws(v, end);
    }
    return 0;
}

static int split_delimited(struct proc *p, const struct proc_rec *r,
                           const char **why, struct err *e)
{
    const unsigned char *d = p->pc->deagg_delim, *s = r->data;
    const unsigned char *end = s + r->len;
    size_t dn = p->pc->deagg_delim_len, first = p->tmp.n;

    while (s < end) {
        const unsigned char *hit = find(s, end, d, dn);
        const unsigned char *stop = hit ? hit : end;

        /* Empty pieces (leading, trailing or doubled delimiters) are not
         * records. */
        if (stop > s && put_sub(p, r, s, (size_t)(stop - s), e) != 0)
            return -1;
        s = hit ? hit + dn : end;
    }
    if (p->tmp.n == first) {
        *why = "the record holds nothing but delimiters";
        return 1;
    }
    return 0;
}

static int stage_deagg(struct proc *p, struct proc_list *l,
                       proc_fail_fn fail, void *arg, struct proc_stats *st,
                       struct err *e)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct proc_rec *r = &l->r[i];
        const char *why = NULL;
        int rc = p->pc->deagg == CFG_DEAGG_JSON ? split_json(p, r, &why, e)
                                                : split_delimited(p, r, &why,
                                                                  e);
        if (rc < 0)
            return -1;
        if (rc > 0 &&
            failed(st, fail, arg, r, PROC_FAIL_PROCESSING,
                   p->pc->deagg == CFG_DEAGG_JSON
                   ? "RecordDeAggregation.InvalidJSON"
                   : "RecordDeAggregation.NoSubRecords", why, e) != 0)
            return -1;
    }
    swap(p, l);
    return 0;
}

int proc_run(struct proc *p, struct proc_list *l, proc_fail_fn fail,
             void *arg, struct proc_stats *st, struct err *e)
{
    memset(st, 0, sizeof(*st));
    p->tmp.n = 0;
    if (p->pc->gzip && stage_gunzip(p, l, fail, arg, st, e) != 0)
        return -1;
    if (p->pc->cw_logs && stage_cwlogs(p, l, fail, arg, st, e) != 0)
        return -1;
    if (p->pc->deagg != CFG_DEAGG_NONE &&
        stage_deagg(p, l, fail, arg, st, e) != 0)
        return -1;
    /* Number each record's pieces; one record's pieces are adjacent. */
    for (size_t i = 0; i < l->n; i++)
        l->r[i].sub = i > 0 && l->r[i].src == l->r[i - 1].src
                      ? l->r[i - 1].sub + 1 : 0;
    st->out = l->n;
    return 0;
}
