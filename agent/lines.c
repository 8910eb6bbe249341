#include "lines.h"

#include <string.h>

#include "../delivery/log.h"

void lines_init(struct lines *l, const struct lines_conf *conf,
                const char *name, lines_emit_fn *emit, void *ctx)
{
    memset(l, 0, sizeof(*l));
    l->c = *conf;
    l->name = name;
    l->emit = emit;
    l->ctx = ctx;
    l->header_left = conf->skip_header;
}

void lines_release(struct lines *l)
{
    buf_release(&l->line);
    buf_release(&l->rec);
}

void lines_reset(struct lines *l, uint64_t off)
{
    l->line.len = 0;
    l->rec.len = 0;
    l->off = l->line_start = off;
    l->skipping = l->splitting = 0;
    l->header_left = off == 0 ? l->c.skip_header : 0;
}

uint64_t lines_done(const struct lines *l)
{
    return l->rec.len > 0 ? l->rec_start : l->line_start;
}

int lines_pending(const struct lines *l)
{
    return l->rec.len > 0 || l->line.len > 0 || l->skipping;
}

static int emit_rec(struct lines *l)
{
    int rc;

    if (l->rec.len == 0)
        return 0;
    rc = l->emit(l->ctx, (const char *)l->rec.p, l->rec.len, NULL, 0,
                 l->rec_end);
    l->rec.len = 0;
    return rc;
}

/* A complete line p[0..n) ending in '\n', n <= max_rec, that started at
 * l->line_start. */
static int finish_line(struct lines *l, char *p, size_t n, struct err *e)
{
    uint64_t start = l->line_start;
    int is_start;

    l->line_start = start + n;
    if (l->header_left > 0) {
        l->header_left--;
        return 0;
    }
    if (l->c.start_re == NULL)
        return l->emit(l->ctx, p, n, NULL, 0, start + n);
    p[n - 1] = '\0';
    is_start = regexec(l->c.start_re, p, 0, NULL, 0) == 0;
    p[n - 1] = '\n';
    if ((is_start || l->rec.len + n > l->c.max_rec) && emit_rec(l) != 0)
        return -1;
    if (l->rec.len == 0) {
        if (l->rec.cap == 0 && buf_reserve(&l->rec, l->c.max_rec, e) != 0)
            return -1;
        l->rec_start = start;
    }
    memcpy(l->rec.p + l->rec.len, p, n);
    l->rec.len += n;
    l->rec_end = start + n;
    return 0;
}

/* The line buffer holds more than max_rec bytes of one line. */
static int long_line(struct lines *l)
{
    size_t chunk = l->c.max_rec - l->c.term_len;

    if (!l->splitting && emit_rec(l) != 0)
        return -1;
    if (l->c.skip_long) {
        log_msg(LOG_WARN, "agent", "'%s': line at offset %llu is longer "
                "than %zu bytes: skipped (maxLineBytesAction \"skip\")",
                l->name, (unsigned long long)l->line_start, l->c.max_rec);
        l->skipped++;
        l->line.len = 0;
        l->skipping = 1;
        return 0;
    }
    if (!l->splitting) {
        log_msg(LOG_WARN, "agent", "'%s': line at offset %llu is longer "
                "than %zu bytes: split into several records "
                "(maxLineBytesAction \"split\")", l->name,
                (unsigned long long)l->line_start, l->c.max_rec);
        l->split++;
    }
    l->splitting = 1;
    if (l->emit(l->ctx, (const char *)l->line.p, chunk, l->c.term,
                l->c.term_len, l->line_start + chunk) != 0)
        return -1;
    l->line_start += chunk;
    memmove(l->line.p, l->line.p + chunk, l->line.len - chunk);
    l->line.len -= chunk;
    return 0;
}

/* Bytes p[0..n) of the current line; 'complete': they end with '\n'. */
static int piece(struct lines *l, char *p, size_t n, int complete,
                 struct err *e)
{
    for (;;) {
        size_t room, take;

        if (l->skipping) {
            l->off += n;
            if (complete) {
                l->skipping = 0;
                l->line_start = l->off;
            }
            return 0;
        }
        if (l->line.len == 0 && complete && n <= l->c.max_rec &&
            !l->splitting) {
            l->off += n;
            return finish_line(l, p, n, e);
        }
        if (l->line.cap == 0 &&
            buf_reserve(&l->line, l->c.max_rec + 1, e) != 0)
            return -1;
        room = l->c.max_rec + 1 - l->line.len;
        take = n < room ? n : room;
        memcpy(l->line.p + l->line.len, p, take);
        l->line.len += take;
        l->off += take;
        p += take;
        n -= take;
        if (l->line.len > l->c.max_rec) {
            if (long_line(l) != 0)
                return -1;
            continue;
        }
        if (n > 0 || !complete)
            return 0;
        if (l->splitting) {             /* the last piece of a long line */
            uint64_t end = l->line_start + l->line.len;

            l->splitting = 0;
            l->line_start = end;
            take = l->line.len;
            l->line.len = 0;
            return l->emit(l->ctx, (const char *)l->line.p, take, NULL, 0,
                           end);
        }
        take = l->line.len;
        l->line.len = 0;
        return finish_line(l, (char *)l->line.p, take, e);
    }
}

int lines_feed(struct lines *l, char *data, size_t n, struct err *e)
{
    char *p = data, *end = data + n;

    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *seg_end = nl ? nl + 1 : end;

        if (piece(l, p, (size_t)(seg_end - p), nl != NULL, e) != 0)
            return -1;
        p = seg_end;
    }
    return 0;
}

int lines_flush(struct lines *l, int partial, struct err *e)
{
    size_t n;

    (void)e;
    if (emit_rec(l) != 0)
        return -1;
    if (!partial || l->line.len == 0 || l->skipping)
        return 0;
    n = l->line.len;
    l->line.len = 0;
    l->splitting = 0;
    l->line_start += n;
    return l->emit(l->ctx, (const char *)l->line.p, n, NULL, 0,
                   l->line_start);
}
