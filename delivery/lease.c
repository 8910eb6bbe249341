/* lease.c - see lease.h. The manager follows KCL 2.x (spec §2.6-2.8)
 * with two deliberate differences, both for faster failover and even
 * split: finished (SHARD_END) leases take no part in taking and
 * balancing, and the caller runs the taker every failover/3 instead of
 * every 2 x (failover + 25 ms), which bounds a dead worker's takeover at
 * about 1.7 x failover. */
#include "lease.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* ---- checkpoint order ---- */

int lease_cp_is_seq(const char *cp)
{
    if (cp[0] == '\0')
        return 0;
    for (; *cp; cp++)
        if (*cp < '0' || *cp > '9')
            return 0;
    return 1;
}

static int cp_rank(const char *cp)
{
    if (strcmp(cp, "SHARD_END") == 0)
        return 2;
    if (lease_cp_is_seq(cp))
        return 1;
    if (strcmp(cp, "LATEST") == 0)
        return -1;
    if (strcmp(cp, "TRIM_HORIZON") == 0)
        return -2;
    return -3;                      /* AT_TIMESTAMP and anything else */
}

static int seq_cmp(const char *a, const char *b)
{
    size_t la, lb;
    int c;

    while (*a == '0' && a[1] != '\0')
        a++;
    while (*b == '0' && b[1] != '\0')
        b++;
    la = strlen(a);
    lb = strlen(b);
    if (la != lb)
        return la < lb ? -1 : 1;
    c = strcmp(a, b);
    return c < 0 ? -1 : c > 0;
}

int lease_cp_cmp(const char *a, uint64_t asub, const char *b, uint64_t bsub)
{
    int ra = cp_rank(a), rb = cp_rank(b), c = 0;

    if (ra != rb)
        return ra < rb ? -1 : 1;
    if (ra == 2)
        return 0;
    if (ra == 1)
        c = seq_cmp(a, b);
    if (c != 0)
        return c;
    return asub < bsub ? -1 : asub > bsub;
}

/* ---- the local store ---- */

struct local {
    char *path;                 /* NULL: memory only */
    struct lease *v;
    size_t n, cap;
};

static struct lease *local_find(struct local *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].key, key) == 0)
            return &s->v[i];
    return NULL;
}

static json_t *lease_to_json(const struct lease *l)
{
    json_t *o = json_pack("{s:s,s:I,s:s,s:I}", "leaseKey", l->key,
                          "leaseCounter", (json_int_t)l->counter,
                          "checkpoint", l->checkpoint,
                          "checkpointSubSequenceNumber",
                          (json_int_t)l->subseq);
    json_t *p;

    if (o == NULL)
        return NULL;
    if (l->n_parents > 0 && (p = json_array()) != NULL) {
        for (int i = 0; i < l->n_parents; i++)
            json_array_append_new(p, json_string(l->parents[i]));
        json_object_set_new(o, "parentShardId", p);
    }
    if (l->n_children > 0 && (p = json_array()) != NULL) {
        for (int i = 0; i < l->n_children; i++)
            json_array_append_new(p, json_string(l->children[i]));
        json_object_set_new(o, "childShardIds", p);
    }
    if (l->start_hk[0])
        json_object_set_new(o, "startingHashKey", json_string(l->start_hk));
    if (l->end_hk[0])
        json_object_set_new(o, "endingHashKey", json_string(l->end_hk));
    return o;
}

static int str_field(json_t *o, const char *name, char *dst, size_t n,
                     int required)
{
    const char *s = json_string_value(json_object_get(o, name));

    if (s == NULL)
        return required ? -1 : 0;
    if (strlen(s) >= n)
        return -1;
    snprintf(dst, n, "%s", s);
    return 0;
}

static int local_save(struct local *s, struct err *e)
{
    json_t *root, *arr;
    char *text;
    int rc;

    if (s->path == NULL)
        return 0;
    if ((arr = json_array()) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < s->n; i++)
        json_array_append_new(arr, lease_to_json(&s->v[i]));
    root = json_pack("{s:i,s:o}", "version", 1, "leases", arr);
    text = root ? json_dumps(root, JSON_INDENT(1)) : NULL;
    json_decref(root);
    if (text == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    rc = util_write_file(s->path, text, 0644, e);
    free(text);
    return rc;
}

static int local_load(struct local *s, struct err *e)
{
    json_error_t je;
    json_t *root, *arr, *o;
    size_t i;

    root = json_load_file(s->path, 0, &je);
    if (root == NULL) {
        if (access(s->path, F_OK) != 0 && errno == ENOENT)
            return 0;
        return err_set(e, ERR_CORRUPT, "lease file '%s': %s (line %d)",
                       s->path, je.text, je.line);
    }
    arr = json_object_get(root, "leases");
    if (!json_is_array(arr))
        goto bad;
    s->v = calloc(json_array_size(arr) + 1, sizeof(*s->v));
    if (s->v == NULL) {
        json_decref(root);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    s->cap = json_array_size(arr) + 1;
    json_array_foreach(arr, i, o) {
        struct lease *l = &s->v[s->n];
        json_t *p = json_object_get(o, "parentShardId"), *x;
        size_t k;

        if (str_field(o, "leaseKey", l->key, sizeof(l->key), 1) ||
            str_field(o, "checkpoint", l->checkpoint,
                      sizeof(l->checkpoint), 1) ||
            str_field(o, "startingHashKey", l->start_hk,
                      sizeof(l->start_hk), 0) ||
            str_field(o, "endingHashKey", l->end_hk, sizeof(l->end_hk), 0))
            goto bad;
        l->counter = (uint64_t)json_integer_value(
            json_object_get(o, "leaseCounter"));
        l->subseq = (uint64_t)json_integer_value(
            json_object_get(o, "checkpointSubSequenceNumber"));
        json_array_foreach(p, k, x) {
            if (k >= 2 || !json_is_string(x) ||
                json_string_length(x) >= LEASE_KEY_MAX)
                goto bad;
            snprintf(l->parents[k], LEASE_KEY_MAX, "%s",
                     json_string_value(x));
            l->n_parents = (int)k + 1;
        }
        json_array_foreach(json_object_get(o, "childShardIds"), k, x) {
            if (k >= 2 || !json_is_string(x) ||
                json_string_length(x) >= LEASE_KEY_MAX)
                goto bad;
            snprintf(l->children[k], LEASE_KEY_MAX, "%s",
                     json_string_value(x));
            l->n_children = (int)k + 1;
        }
        s->n++;
    }
    json_decref(root);
    return 0;
bad:
    json_decref(root);
    return err_set(e, ERR_CORRUPT, "lease file '%s' is malformed (expected "
                   "{\"leases\": [{\"leaseKey\", \"checkpoint\", ...}]})",
                   s->path);
}

static int local_list(void *ctx, struct lease **out, size_t *n,
                      struct err *e)
{
    struct local *s = ctx;

    *out = malloc((s->n + 1) * sizeof(**out));
    if (*out == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    if (s->n > 0)
        memcpy(*out, s->v, s->n * sizeof(**out));
    *n = s->n;
    return 0;
}

static int local_get(void *ctx, const char *key, struct lease *out,
                     struct err *e)
{
    struct lease *l = local_find(ctx, key);

    (void)e;
    if (l == NULL)
        return 0;
    *out = *l;
    return 1;
}

static int local_create(void *ctx, const struct lease *l, struct err *e)
{
    struct local *s = ctx;

    if (local_find(s, l->key) != NULL)
        return LEASE_CONFLICT;
    if (s->n == s->cap) {
        size_t c = s->cap ? s->cap * 2 : 16;
        void *p = realloc(s->v, c * sizeof(*s->v));
        if (p == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
        s->v = p;
        s->cap = c;
    }
    s->v[s->n++] = *l;
    if (local_save(s, e) != 0) {
        s->n--;
        return -1;
    }
    return 0;
}

static int local_renew(void *ctx, const char *key, uint64_t c,
                       struct err *e)
{
    struct lease *l = local_find(ctx, key);

    (void)e;
    if (l == NULL || l->counter != c)
        return LEASE_CONFLICT;
    l->counter++;
    return 0;
}

static int local_take(void *ctx, const char *key, uint64_t c, const char *me,
                      int switched, struct err *e)
{
    struct lease *l = local_find(ctx, key);

    (void)e;
    if (l == NULL || l->counter != c)
        return LEASE_CONFLICT;
    l->counter++;
    snprintf(l->owner, sizeof(l->owner), "%s", me);
    if (switched)
        l->owner_switches++;
    return 0;
}

static int local_checkpoint(void *ctx, const char *key, uint64_t c,
                            const char *me, const char *cp, uint64_t sub,
                            struct err *e)
{
    struct lease *l = local_find(ctx, key);
    struct lease old;

    if (l == NULL || l->counter != c || strcmp(l->owner, me) != 0)
        return LEASE_CONFLICT;
    old = *l;
    l->counter++;
    snprintf(l->checkpoint, sizeof(l->checkpoint), "%s", cp);
    l->subseq = sub;
    l->owner_switches = 0;
    if (local_save(ctx, e) != 0) {
        *l = old;
        return -1;
    }
    return 0;
}

static int local_evict(void *ctx, const char *key, uint64_t c,
                       const char *me, struct err *e)
{
    struct lease *l = local_find(ctx, key);

    (void)e;
    (void)c;
    if (l == NULL || strcmp(l->owner, me) != 0)
        return LEASE_CONFLICT;
    l->owner[0] = '\0';
    l->counter++;
    return 0;
}

static int local_set_children(void *ctx, const char *key,
                              const char ids[][LEASE_KEY_MAX], int n, struct err *e)
{
    struct lease *l = local_find(ctx, key);
    struct lease old;

    if (l == NULL)
        return LEASE_CONFLICT;
    old = *l;
    l->n_children = n < 2 ? n : 2;
    for (int i = 0; i < l->n_children; i++)
        snprintf(l->children[i], LEASE_KEY_MAX, "%s", ids[i]);
    if (local_save(ctx, e) != 0) {
        *l = old;
        return -1;
    }
    return 0;
}

static void local_free(void *ctx)
{
    struct local *s = ctx;

    if (s == NULL)
        return;
    free(s->path);
    free(s->v);
    free(s);
}

static const struct lease_store_ops local_ops = {
    local_list, local_get, local_create, local_renew, local_take,
    local_checkpoint, local_evict, local_set_children, local_free,
};

int lease_store_local(const char *path, struct lease_store *out,
                      struct err *e)
{
    struct local *s = calloc(1, sizeof(*s));

    out->ops = NULL;
    out->ctx = NULL;
    if (s == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    if (path != NULL) {
        if ((s->path = strdup(path)) == NULL) {
            local_free(s);
            return err_set(e, ERR_NOMEM, "out of memory");
        }
        if (local_load(s, e) != 0) {
            local_free(s);
            return -1;
        }
    }
    out->ops = &local_ops;
    out->ctx = s;
    return 0;
}

void lease_store_free(struct lease_store *s)
{
    if (s->ops != NULL)
        s->ops->free(s->ctx);
    s->ops = NULL;
    s->ctx = NULL;
}

/* ---- the manager ---- */

/* What a scan saw of a lease, and when (our clock) its counter last
 * changed. */
struct seen {
    struct lease l;
    int64_t changed_ms;         /* 0 = long ago (unowned when first seen) */
};

struct lease_mgr {
    struct lease_store store;   /* borrowed */
    char me[LEASE_OWNER_MAX];
    int64_t failover_ms;
    int max_leases, max_steal;
    uint64_t next_token;
    struct lease_held *held;
    size_t nheld, heldcap;
    struct seen *seen;          /* the last scan, by key order of the
                                 * store */
    size_t nseen;
    struct lease *table;        /* the same as plain leases */
};

int lease_mgr_new(const struct lease_store *store,
                  const struct lease_mgr_opts *o, struct lease_mgr **out,
                  struct err *e)
{
    struct lease_mgr *m = calloc(1, sizeof(*m));

    *out = NULL;
    if (m == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    m->store = *store;
    snprintf(m->me, sizeof(m->me), "%s", o->worker);
    m->failover_ms = o->failover_ms > 0 ? o->failover_ms : 10000;
    m->max_leases = o->max_leases > 0 ? o->max_leases : 1 << 30;
    m->max_steal = o->max_steal > 0 ? o->max_steal : 1;
    m->next_token = 1;
    *out = m;
    return 0;
}

void lease_mgr_free(struct lease_mgr *m)
{
    if (m == NULL)
        return;
    free(m->held);
    free(m->seen);
    free(m->table);
    free(m);
}

static struct lease_held *held_find(const struct lease_mgr *m,
                                    const char *key)
{
    for (size_t i = 0; i < m->nheld; i++)
        if (strcmp(m->held[i].l.key, key) == 0)
            return &m->held[i];
    return NULL;
}

static void held_drop(struct lease_mgr *m, struct lease_held *h)
{
    size_t i = (size_t)(h - m->held);

    memmove(&m->held[i], &m->held[i + 1],
            (m->nheld - i - 1) * sizeof(*m->held));
    m->nheld--;
}

static int held_add(struct lease_mgr *m, const struct lease *l,
                    int64_t now_ms, struct err *e)
{
    struct lease_held *h;

    if (m->nheld == m->heldcap) {
        size_t c = m->heldcap ? m->heldcap * 2 : 16;
        void *p = realloc(m->held, c * sizeof(*m->held));
        if (p == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
        m->held = p;
        m->heldcap = c;
    }
    h = &m->held[m->nheld++];
    h->l = *l;
    h->token = m->next_token++;
    h->renewed_ms = now_ms;
    return 0;
}

/* After a write of ours lost its condition: is the lease still ours? A
 * write that timed out may have been applied after all (a store that
 * stalled, then ran what was queued): the counter moved past ours but
 * leaseOwner is still us, which no other worker's take leaves (take sets
 * the owner, and is conditional on the counter it saw). Then the lease
 * is adopted at the stored counter. 1 ours, 0 not, -1 store error. */
static int still_ours(struct lease_mgr *m, struct lease_held *h,
                      int64_t now_ms, struct err *e)
{
    struct lease cur;
    int rc = m->store.ops->get(m->store.ctx, h->l.key, &cur, e);

    if (rc < 0)
        return -1;
    if (rc == 0 || strcmp(cur.owner, m->me) != 0 ||
        cur.counter <= h->l.counter)
        return 0;
    h->l.counter = cur.counter;
    h->renewed_ms = now_ms;
    return 1;
}

int lease_mgr_expire(struct lease_mgr *m, int64_t now_ms)
{
    int lost = 0;

    for (size_t i = 0; i < m->nheld;) {
        if (now_ms - m->held[i].renewed_ms > m->failover_ms) {
            held_drop(m, &m->held[i]);  /* expired here: others may take it */
            lost++;
            continue;
        }
        i++;
    }
    return lost;
}

int lease_mgr_renew(struct lease_mgr *m, int64_t now_ms, struct err *e)
{
    int lost = lease_mgr_expire(m, now_ms), failed = 0;

    for (size_t i = 0; i < m->nheld;) {
        struct lease_held *h = &m->held[i];
        int rc;

        rc = m->store.ops->renew(m->store.ctx, h->l.key, h->l.counter, e);
        if (rc == 0) {
            h->l.counter++;
            h->renewed_ms = now_ms;
        } else if (rc == LEASE_CONFLICT) {
            rc = still_ours(m, h, now_ms, e);
            if (rc == 0) {
                held_drop(m, h);
                lost++;
                continue;
            }
            if (rc < 0)
                failed = 1;
        } else {
            failed = 1;
        }
        i++;
    }
    return failed ? -1 : lost;
}

static void shuffle(size_t *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        uint32_t r = 0;
        size_t j, t;

        (void)util_random(&r, sizeof(r), NULL);
        j = r % i;
        t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

static const struct seen *seen_find(const struct lease_mgr *m,
                                    const char *key)
{
    for (size_t i = 0; i < m->nseen; i++)
        if (strcmp(m->seen[i].l.key, key) == 0)
            return &m->seen[i];
    return NULL;
}

static int take_one(struct lease_mgr *m, const struct lease *l,
                    int64_t now_ms, struct err *e)
{
    int switched = l->owner[0] != '\0' && strcmp(l->owner, m->me) != 0;
    struct lease nl = *l;
    int rc;

    rc = m->store.ops->take(m->store.ctx, l->key, l->counter, m->me,
                            switched, e);
    if (rc != 0)
        return rc;
    nl.counter++;
    snprintf(nl.owner, sizeof(nl.owner), "%s", m->me);
    if (switched)
        nl.owner_switches++;
    return held_add(m, &nl, now_ms, e);
}

int lease_mgr_take(struct lease_mgr *m, int64_t now_ms, struct err *e)
{
    struct lease *all = NULL;
    struct seen *ns = NULL;
    size_t n = 0, *avail = NULL, *old = NULL, navail = 0, nold = 0;
    size_t nworkers, nlive = 0, mine = 0, target, taken = 0;
    /* Lease counts per owner (of the live, non-available leases). */
    struct owner { const char *name; size_t count; } *owners = NULL;
    size_t nowners = 0;
    int rc = -1;

    if (m->store.ops->list(m->store.ctx, &all, &n, e) != 0)
        return -1;
    ns = calloc(n + 1, sizeof(*ns));
    avail = calloc(n + 1, sizeof(*avail));
    old = calloc(n + 1, sizeof(*old));
    owners = calloc(n + 2, sizeof(*owners));
    if (ns == NULL || avail == NULL || old == NULL || owners == NULL) {
        err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    owners[nowners++] = (struct owner){ m->me, 0 };
    for (size_t i = 0; i < n; i++) {
        const struct seen *prev = seen_find(m, all[i].key);
        struct lease_held *h = held_find(m, all[i].key);

        ns[i].l = all[i];
        if (prev != NULL && prev->l.counter == all[i].counter &&
            strcmp(prev->l.owner, all[i].owner) == 0)
            ns[i].changed_ms = prev->changed_ms;
        else if (prev == NULL && all[i].owner[0] == '\0')
            ns[i].changed_ms = 0;
        else
            ns[i].changed_ms = now_ms;
        /* Ours by the table but not held here (a restart with the same
         * worker id): take it back like any expired lease. */
        if (h == NULL && strcmp(all[i].owner, m->me) == 0 && prev == NULL)
            ns[i].changed_ms = 0;
        /* Someone took a lease we hold: the renewer will notice; count
         * it as theirs now. */
        if (strcmp(all[i].checkpoint, "SHARD_END") == 0)
            continue;
        nlive++;
        if (h != NULL)
            continue;
        if (all[i].owner[0] == '\0' ||
            now_ms - ns[i].changed_ms > m->failover_ms) {
            avail[navail++] = i;
            if (ns[i].changed_ms == 0 ||
                now_ms - ns[i].changed_ms > 3 * m->failover_ms)
                old[nold++] = i;
            continue;
        }
        {
            size_t k;
            for (k = 0; k < nowners; k++)
                if (strcmp(owners[k].name, all[i].owner) == 0)
                    break;
            if (k == nowners)
                owners[nowners++] = (struct owner){ all[i].owner, 0 };
            owners[k].count++;
        }
    }
    for (size_t i = 0; i < m->nheld; i++)
        if (strcmp(m->held[i].l.checkpoint, "SHARD_END") != 0)
            mine++;
    owners[0].count = mine;
    nworkers = nowners;
    target = nworkers >= nlive ? 1 : (nlive + nworkers - 1) / nworkers;
    if (nlive == 0)
        target = 0;
    if (target > (size_t)m->max_leases)
        target = (size_t)m->max_leases;
    if (nold > 0) {
        size_t want = (size_t)m->max_leases > mine
                      ? (size_t)m->max_leases - mine : 0;
        /* KCL takes every very old lease at once; we stop at the target
         * when other workers are alive, so a start-up splits evenly. */
        if (nworkers > 1 && want > (target > mine ? target - mine : 0))
            want = target > mine ? target - mine : 0;
        shuffle(old, nold);
        for (size_t i = 0; i < nold && taken < want; i++) {
            int r = take_one(m, &all[old[i]], now_ms, e);
            if (r < 0)
                goto out;
            if (r == 0)
                taken++;
        }
    } else if (target > mine) {
        size_t needed = target - mine;

        if (navail > 0) {
            shuffle(avail, navail);
            for (size_t i = 0; i < navail && taken < needed; i++) {
                int r = take_one(m, &all[avail[i]], now_ms, e);
                if (r < 0)
                    goto out;
                if (r == 0)
                    taken++;
            }
        } else {
            /* Steal from the busiest worker. */
            size_t best = 0, nsteal;
            for (size_t k = 1; k < nowners; k++)
                if (owners[k].count > owners[best].count)
                    best = k;
            if (best != 0 && owners[best].count >= target) {
                size_t cand[2048], nc = 0;

                nsteal = owners[best].count - target;
                if (nsteal > needed)
                    nsteal = needed;
                if (nsteal == 0 && needed > 1)
                    nsteal = 1;
                if (nsteal > (size_t)m->max_steal)
                    nsteal = (size_t)m->max_steal;
                for (size_t i = 0; i < n && nc < 2048; i++)
                    if (strcmp(all[i].owner, owners[best].name) == 0 &&
                        strcmp(all[i].checkpoint, "SHARD_END") != 0)
                        cand[nc++] = i;
                shuffle(cand, nc);
                for (size_t i = 0; i < nc && taken < nsteal; i++) {
                    int r = take_one(m, &all[cand[i]], now_ms, e);
                    if (r < 0)
                        goto out;
                    if (r == 0)
                        taken++;
                }
            }
        }
    }
    /* Keep the scan for the next round and for lease_mgr_table(); the
     * table reflects our own takes. */
    for (size_t i = 0; i < n; i++) {
        const struct lease_held *h = held_find(m, all[i].key);
        if (h != NULL) {
            all[i] = h->l;
            ns[i].l = h->l;
        }
    }
    free(m->seen);
    free(m->table);
    m->seen = ns;
    m->table = all;
    m->nseen = n;
    ns = NULL;
    all = NULL;
    rc = (int)taken;
out:
    free(ns);
    free(all);
    free(avail);
    free(old);
    free(owners);
    return rc;
}

int lease_mgr_checkpoint(struct lease_mgr *m, const char *key,
                         uint64_t token, const char *cp, uint64_t sub,
                         int64_t now_ms, struct err *e)
{
    struct lease_held *h = held_find(m, key);
    int rc;

    if (h == NULL || h->token != token)
        return err_set(e, ERR_NOTFOUND, "lease '%s' is not held", key);
    if (now_ms - h->renewed_ms > m->failover_ms) {
        held_drop(m, h);
        return LEASE_EXPIRED;
    }
    rc = m->store.ops->checkpoint(m->store.ctx, key, h->l.counter, m->me,
                                  cp, sub, e);
    if (rc == LEASE_CONFLICT) {
        /* Still ours at a newer counter: once more, at that counter. */
        rc = still_ours(m, h, now_ms, e);
        if (rc == 1)
            rc = m->store.ops->checkpoint(m->store.ctx, key, h->l.counter,
                                          m->me, cp, sub, e);
        else if (rc == 0)
            rc = LEASE_CONFLICT;
    }
    if (rc == LEASE_CONFLICT) {
        held_drop(m, h);
        return rc;
    }
    if (rc != 0)
        return rc;
    h->l.counter++;
    h->renewed_ms = now_ms;
    snprintf(h->l.checkpoint, sizeof(h->l.checkpoint), "%s", cp);
    h->l.subseq = sub;
    h->l.owner_switches = 0;
    return 0;
}

void lease_mgr_evict(struct lease_mgr *m, const char *key, struct err *e)
{
    struct lease_held *h = held_find(m, key);

    if (h == NULL)
        return;
    (void)m->store.ops->evict(m->store.ctx, key, h->l.counter, m->me, e);
    held_drop(m, h);
}

const struct lease_held *lease_mgr_held(const struct lease_mgr *m,
                                        size_t *n)
{
    *n = m->nheld;
    return m->held;
}

int lease_mgr_holds(const struct lease_mgr *m, const char *key,
                    uint64_t token)
{
    const struct lease_held *h = held_find(m, key);

    return h != NULL && h->token == token;
}

const struct lease *lease_mgr_table(const struct lease_mgr *m, size_t *n)
{
    *n = m->nseen;
    return m->table;
}

const struct lease *lease_mgr_find(const struct lease_mgr *m,
                                   const char *key)
{
    for (size_t i = 0; i < m->nseen; i++)
        if (strcmp(m->table[i].key, key) == 0)
            return &m->table[i];
    return NULL;
}
