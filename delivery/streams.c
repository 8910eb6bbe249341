/* streams.c - see streams.h. A sorted array of item pointers: lookups are
 * a binary search, changes (rare) move pointers. */
#define _GNU_SOURCE             /* pthread_rwlockattr_setkind_np */
#include "streams.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct streams {
    pthread_rwlock_t lock;
    struct streams_item **items;    /* sorted by name */
    size_t n, max;
    uint64_t next_gen;
};

int streams_new(size_t max, struct streams **out, struct err *e)
{
    pthread_rwlockattr_t attr;
    struct streams *s;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->items = calloc(max ? max : 1,
                                        sizeof(*s->items))) == NULL) {
        free(s);
        return err_set(e, ERR_NOMEM, "out of memory for the stream set");
    }
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&s->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    s->max = max;
    s->next_gen = 1;
    *out = s;
    return 0;
}

void streams_free(struct streams *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->items[i]);
    free(s->items);
    pthread_rwlock_destroy(&s->lock);
    free(s);
}

void streams_rdlock(struct streams *s)
{
    pthread_rwlock_rdlock(&s->lock);
}

void streams_wrlock(struct streams *s)
{
    pthread_rwlock_wrlock(&s->lock);
}

void streams_unlock(struct streams *s)
{
    pthread_rwlock_unlock(&s->lock);
}

/* The index of 'name', or where it would go (*found 0). */
static size_t search(const struct streams *s, const char *name, int *found)
{
    size_t lo = 0, hi = s->n;

    *found = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->items[mid]->name, name);

        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct streams_item *streams_find(struct streams *s, const char *name)
{
    int found;
    size_t i = search(s, name, &found);

    return found ? s->items[i] : NULL;
}

size_t streams_count(const struct streams *s)
{
    return s->n;
}

size_t streams_max(const struct streams *s)
{
    return s->max;
}

struct streams_item *streams_at(struct streams *s, size_t i)
{
    return i < s->n ? s->items[i] : NULL;
}

int streams_add(struct streams *s, const struct streams_item *it,
                struct streams_item **out, struct err *e)
{
    struct streams_item *copy;
    int found;
    size_t i = search(s, it->name, &found);

    if (found)
        return err_set(e, ERR_INVAL, "delivery stream '%s' exists already",
                       it->name);
    if (s->n >= s->max)
        return err_set(e, ERR_FULL, "the limit of %zu delivery streams is "
                       "reached", s->max);
    copy = malloc(sizeof(*copy));
    if (copy == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    *copy = *it;
    copy->gen = s->next_gen++;
    memmove(&s->items[i + 1], &s->items[i], (s->n - i) * sizeof(*s->items));
    s->items[i] = copy;
    s->n++;
    if (out != NULL)
        *out = copy;
    return 0;
}

void streams_remove(struct streams *s, struct streams_item *it)
{
    int found;
    size_t i = search(s, it->name, &found);

    if (!found || s->items[i] != it)
        return;
    memmove(&s->items[i], &s->items[i + 1], (s->n - i - 1) *
            sizeof(*s->items));
    s->n--;
    free(it);
}
