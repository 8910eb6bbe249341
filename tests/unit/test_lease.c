/* The lease state machine against a fake store (the memory store behind a
 * wrapper that can fail calls) and a fake clock: take, renew, expire,
 * steal, lose, stale tokens, checkpoint order with sub-sequence numbers,
 * and the local file store's round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../delivery/lease.h"

/* The fake: forwards to a memory store unless told to fail. */
struct fake {
    struct lease_store inner;
    int fail_renew;             /* renew returns -1 (ERR_RETRY) */
};

static int f_list(void *c, struct lease **o, size_t *n, struct err *e)
{
    struct fake *f = c;
    return f->inner.ops->list(f->inner.ctx, o, n, e);
}
static int f_get(void *c, const char *k, struct lease *o, struct err *e)
{
    struct fake *f = c;
    return f->inner.ops->get(f->inner.ctx, k, o, e);
}
static int f_create(void *c, const struct lease *l, struct err *e)
{
    struct fake *f = c;
    return f->inner.ops->create(f->inner.ctx, l, e);
}
static int f_renew(void *c, const char *k, uint64_t n, struct err *e)
{
    struct fake *f = c;
    if (f->fail_renew)
        return err_set(e, ERR_RETRY, "throttled");
    return f->inner.ops->renew(f->inner.ctx, k, n, e);
}
static int f_take(void *c, const char *k, uint64_t n, const char *me, int sw,
                  struct err *e)
{
    struct fake *f = c;
    return f->inner.ops->take(f->inner.ctx, k, n, me, sw, e);
}
static int f_cp(void *c, const char *k, uint64_t n, const char *me,
                const char *cp, uint64_t sub, struct err *e)
{
    struct fake *f = c;
    return f->inner.ops->checkpoint(f->inner.ctx, k, n, me, cp, sub, e);
}
static int f_evict(void *c, const char *k, uint64_t n, const char *me,
                   struct err *e)
{
    struct fake *f = c;
    return f->inner.ops->evict(f->inner.ctx, k, n, me, e);
}
static int f_children(void *c, const char *k, const char ids[][LEASE_KEY_MAX], int n,
                      struct err *e)
{
    struct fake *f = c;
    return f->inner.ops->set_children(f->inner.ctx, k, ids, n, e);
}
static void f_free(void *c)
{
    (void)c;
}
static const struct lease_store_ops fake_ops = {
    f_list, f_get, f_create, f_renew, f_take, f_cp, f_evict, f_children,
    f_free,
};

static struct fake fk;
static struct lease_store store;

static int setup(void **state)
{
    struct err e = { 0, "" };
    (void)state;
    memset(&fk, 0, sizeof(fk));
    assert_int_equal(lease_store_local(NULL, &fk.inner, &e), 0);
    store.ops = &fake_ops;
    store.ctx = &fk;
    for (int i = 0; i < 4; i++) {
        struct lease l;
        memset(&l, 0, sizeof(l));
        snprintf(l.key, sizeof(l.key), "shardId-%012d", i);
        snprintf(l.checkpoint, sizeof(l.checkpoint), "TRIM_HORIZON");
        assert_int_equal(store.ops->create(store.ctx, &l, &e), 0);
        assert_int_equal(store.ops->create(store.ctx, &l, &e),
                         LEASE_CONFLICT);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lease_store_free(&fk.inner);
    return 0;
}

static struct lease_mgr *mgr(const char *who)
{
    struct lease_mgr_opts o = { who, 3000, 0, 1 };
    struct lease_mgr *m;
    struct err e = { 0, "" };

    assert_int_equal(lease_mgr_new(&store, &o, &m, &e), 0);
    return m;
}

static size_t held(struct lease_mgr *m)
{
    size_t n;
    (void)lease_mgr_held(m, &n);
    return n;
}

static void test_take_renew(void **state)
{
    struct lease_mgr *a = mgr("a");
    struct err e = { 0, "" };
    struct lease l;

    (void)state;
    assert_int_equal(lease_mgr_take(a, 1000, &e), 4);
    assert_int_equal(held(a), 4);
    assert_int_equal(store.ops->get(store.ctx, "shardId-000000000000", &l,
                                    &e), 1);
    assert_string_equal(l.owner, "a");
    assert_int_equal(l.counter, 1);
    assert_int_equal(l.owner_switches, 0);  /* it was unowned */
    assert_int_equal(lease_mgr_renew(a, 2000, &e), 0);
    assert_int_equal(store.ops->get(store.ctx, "shardId-000000000000", &l,
                                    &e), 1);
    assert_int_equal(l.counter, 2);
    /* Nothing more to take. */
    assert_int_equal(lease_mgr_take(a, 2500, &e), 0);
    lease_mgr_free(a);
}

/* B starts after A took everything: it steals one per run until 2/2. */
static void test_steal_balance(void **state)
{
    struct lease_mgr *a = mgr("a"), *b = mgr("b");
    struct err e = { 0, "" };
    int64_t t = 1000;

    (void)state;
    assert_int_equal(lease_mgr_take(a, t, &e), 4);
    for (int round = 0; round < 4; round++) {
        t += 1000;
        assert_true(lease_mgr_renew(a, t, &e) >= 0);
        assert_true(lease_mgr_renew(b, t, &e) >= 0);
        assert_true(lease_mgr_take(b, t, &e) >= 0);
        assert_true(lease_mgr_take(a, t, &e) >= 0);
    }
    assert_int_equal(held(a), 2);
    assert_int_equal(held(b), 2);
    lease_mgr_free(a);
    lease_mgr_free(b);
}

/* A stops renewing (killed): B takes every lease once they look expired
 * by B's own clock, and A's renewals then fail: lost. */
static void test_expire_and_lose(void **state)
{
    struct lease_mgr *a = mgr("a"), *b = mgr("b");
    struct err e = { 0, "" };
    const struct lease_held *h;
    uint64_t tok;
    size_t n;
    struct lease l;

    (void)state;
    assert_int_equal(lease_mgr_take(a, 1000, &e), 4);
    h = lease_mgr_held(a, &n);
    tok = h[0].token;
    assert_int_equal(lease_mgr_take(b, 1000, &e), 1);  /* steals one */
    /* A is dead from here; B keeps scanning (and stealing). */
    assert_true(lease_mgr_take(b, 3000, &e) >= 0);
    assert_true(lease_mgr_take(b, 4500, &e) >= 1);
    assert_true(lease_mgr_take(b, 5500, &e) >= 0);
    assert_int_equal(held(b), 4);
    assert_int_equal(store.ops->get(store.ctx, "shardId-000000000001", &l,
                                    &e), 1);
    assert_string_equal(l.owner, "b");
    assert_int_equal(l.owner_switches, 1);
    /* A comes back within its own failover: every renewal fails. */
    assert_int_equal(lease_mgr_renew(a, 3900, &e), 4);
    assert_int_equal(held(a), 0);
    assert_int_equal(lease_mgr_checkpoint(a, "shardId-000000000000", tok,
                                          "1", 0, 3900, &e), -1);
    assert_int_equal(e.code, ERR_NOTFOUND);
    lease_mgr_free(a);
    lease_mgr_free(b);
}

/* A store that fails renewals: leases stay until they expire locally,
 * then are dropped without a write. */
static void test_renew_errors_then_local_expiry(void **state)
{
    struct lease_mgr *a = mgr("a");
    struct err e = { 0, "" };

    (void)state;
    assert_int_equal(lease_mgr_take(a, 1000, &e), 4);
    fk.fail_renew = 1;
    assert_int_equal(lease_mgr_renew(a, 2000, &e), -1);
    assert_int_equal(held(a), 4);
    assert_int_equal(lease_mgr_renew(a, 4001, &e), 4);
    assert_int_equal(held(a), 0);
    fk.fail_renew = 0;
    lease_mgr_free(a);
}

/* Checkpoints need the current token and owner; a stolen lease's
 * checkpoint fails and drops it. */
static void test_checkpoint(void **state)
{
    struct lease_mgr *a = mgr("a"), *b = mgr("b");
    struct err e = { 0, "" };
    const struct lease_held *h;
    struct lease l;
    char key[LEASE_KEY_MAX];
    uint64_t tok;
    size_t n;

    (void)state;
    assert_int_equal(lease_mgr_take(a, 1000, &e), 4);
    h = lease_mgr_held(a, &n);
    snprintf(key, sizeof(key), "%s", h[0].l.key);
    tok = h[0].token;
    assert_int_equal(lease_mgr_checkpoint(a, key, tok, "49590338271490256608",
                                          3, 1100, &e), 0);
    assert_int_equal(store.ops->get(store.ctx, key, &l, &e), 1);
    assert_string_equal(l.checkpoint, "49590338271490256608");
    assert_int_equal(l.subseq, 3);
    assert_int_equal(lease_mgr_checkpoint(a, key, tok + 100, "5", 0, 1100,
                                          &e), -1);
    /* B takes it behind A's back (counter from a fresh scan). */
    assert_int_equal(store.ops->take(store.ctx, key, l.counter, "b", 1, &e),
                     0);
    assert_int_equal(lease_mgr_checkpoint(a, key, tok, "49590338271490256609",
                                          0, 1200, &e), LEASE_CONFLICT);
    assert_int_equal(lease_mgr_holds(a, key, tok), 0);
    assert_int_equal(held(a), 3);
    lease_mgr_free(a);
    lease_mgr_free(b);
}

/* The store stalls (every call times out), then runs what was queued:
 * leases expire locally with no store call (lease_mgr_expire), a
 * checkpoint past the expiry is refused as LEASE_EXPIRED; writes of ours
 * applied late (counter moved, owner still us) keep the lease. */
static void test_store_outage(void **state)
{
    struct lease_mgr *a = mgr("a");
    struct err e = { 0, "" };
    const struct lease_held *h;
    char key[LEASE_KEY_MAX];
    struct lease l;
    uint64_t tok;
    size_t n;

    (void)state;
    assert_int_equal(lease_mgr_take(a, 1000, &e), 4);
    assert_int_equal(lease_mgr_expire(a, 3999), 0);
    h = lease_mgr_held(a, &n);
    snprintf(key, sizeof(key), "%s", h[0].l.key);
    tok = h[0].token;
    /* Two renewals and a checkpoint "timed out" but were applied. */
    assert_int_equal(store.ops->get(store.ctx, key, &l, &e), 1);
    assert_int_equal(store.ops->renew(store.ctx, key, l.counter, &e), 0);
    assert_int_equal(store.ops->renew(store.ctx, key, l.counter + 1, &e), 0);
    assert_int_equal(lease_mgr_checkpoint(a, key, tok, "100", 0, 1500, &e),
                     0);
    assert_int_equal(store.ops->get(store.ctx, key, &l, &e), 1);
    assert_string_equal(l.checkpoint, "100");
    assert_int_equal(store.ops->checkpoint(store.ctx, key, l.counter, "a",
                                           "200", 0, &e), 0);
    assert_int_equal(lease_mgr_renew(a, 2000, &e), 0);
    assert_int_equal(held(a), 4);
    /* Not ours any more at a newer counter: lost, and so dropped. */
    assert_int_equal(store.ops->get(store.ctx, key, &l, &e), 1);
    assert_int_equal(store.ops->take(store.ctx, key, l.counter, "b", 1, &e),
                     0);
    assert_int_equal(lease_mgr_checkpoint(a, key, tok, "300", 0, 2100, &e),
                     LEASE_CONFLICT);
    assert_int_equal(held(a), 3);
    assert_int_equal(store.ops->get(store.ctx, key, &l, &e), 1);
    assert_string_equal(l.checkpoint, "200");
    /* Then nothing is renewed: past the failover time, checkpoints are
     * refused without a write, and expire() drops the rest. */
    h = lease_mgr_held(a, &n);
    snprintf(key, sizeof(key), "%s", h[0].l.key);
    tok = h[0].token;
    assert_int_equal(lease_mgr_checkpoint(a, key, tok, "5", 0, 5001, &e),
                     LEASE_EXPIRED);
    assert_int_equal(store.ops->get(store.ctx, key, &l, &e), 1);
    assert_string_equal(l.checkpoint, "TRIM_HORIZON");
    assert_int_equal(held(a), 2);
    assert_int_equal(lease_mgr_expire(a, 5001), 2);
    assert_int_equal(held(a), 0);
    lease_mgr_free(a);
}

/* SHARD_END leases are neither taken nor counted. */
static void test_finished_not_taken(void **state)
{
    struct lease_mgr *a = mgr("a");
    struct err e = { 0, "" };
    struct lease l;

    (void)state;
    assert_int_equal(store.ops->get(store.ctx, "shardId-000000000002", &l,
                                    &e), 1);
    assert_int_equal(store.ops->take(store.ctx, l.key, l.counter, "x", 0, &e),
                     0);
    assert_int_equal(store.ops->checkpoint(store.ctx, l.key, l.counter + 1,
                                           "x", "SHARD_END", 0, &e), 0);
    assert_int_equal(store.ops->evict(store.ctx, l.key, l.counter + 2, "x",
                                      &e), 0);
    assert_int_equal(lease_mgr_take(a, 1000, &e), 3);
    assert_int_equal(held(a), 3);
    lease_mgr_free(a);
}

static void test_cp_order(void **state)
{
    (void)state;
    assert_true(lease_cp_cmp("AT_TIMESTAMP", 0, "TRIM_HORIZON", 0) < 0);
    assert_true(lease_cp_cmp("TRIM_HORIZON", 0, "LATEST", 0) < 0);
    assert_true(lease_cp_cmp("LATEST", 0, "0", 0) < 0);
    assert_true(lease_cp_cmp("99", 0, "100", 0) < 0);
    assert_true(lease_cp_cmp("0099", 0, "99", 0) == 0);
    assert_true(lease_cp_cmp("0099", 0, "100", 0) < 0);
    assert_true(lease_cp_cmp("100", 1, "100", 0) > 0);
    assert_true(lease_cp_cmp("100", 1, "100", 2) < 0);
    assert_true(lease_cp_cmp("4959033827149025660855969253836157109592157598"
                             "9136588898", 5,
                             "4959033827149025660855969253836157109592157598"
                             "9136588899", 0) < 0);
    assert_true(lease_cp_cmp("SHARD_END", 0, "999999999999999999999", 9) > 0);
    assert_true(lease_cp_cmp("SHARD_END", 0, "SHARD_END", 0) == 0);
    assert_int_equal(lease_cp_is_seq("123"), 1);
    assert_int_equal(lease_cp_is_seq("LATEST"), 0);
    assert_int_equal(lease_cp_is_seq(""), 0);
}

/* The local store survives a reload, with owners cleared. */
static void test_local_file(void **state)
{
    char path[] = "/tmp/test_lease_XXXXXX";
    struct lease_store s;
    struct err e = { 0, "" };
    struct lease l, got;
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    assert_int_equal(lease_store_local(path, &s, &e), 0);
    memset(&l, 0, sizeof(l));
    snprintf(l.key, sizeof(l.key), "shardId-000000000007");
    snprintf(l.checkpoint, sizeof(l.checkpoint), "TRIM_HORIZON");
    snprintf(l.parents[0], sizeof(l.parents[0]), "shardId-000000000001");
    l.n_parents = 1;
    assert_int_equal(s.ops->create(s.ctx, &l, &e), 0);
    assert_int_equal(s.ops->take(s.ctx, l.key, 0, "me", 0, &e), 0);
    assert_int_equal(s.ops->checkpoint(s.ctx, l.key, 1, "me", "12345", 2,
                                       &e), 0);
    {
        static const char kids[2][LEASE_KEY_MAX] = { "shardId-000000000008",
                                          "shardId-000000000009" };
        assert_int_equal(s.ops->set_children(s.ctx, l.key, kids, 2, &e), 0);
        assert_int_equal(s.ops->set_children(s.ctx, "nope", kids, 2, &e),
                         LEASE_CONFLICT);
    }
    lease_store_free(&s);
    assert_int_equal(lease_store_local(path, &s, &e), 0);
    assert_int_equal(s.ops->get(s.ctx, l.key, &got, &e), 1);
    assert_string_equal(got.checkpoint, "12345");
    assert_int_equal(got.subseq, 2);
    assert_string_equal(got.owner, "");
    assert_int_equal(got.n_parents, 1);
    assert_string_equal(got.parents[0], "shardId-000000000001");
    assert_int_equal(got.n_children, 2);
    assert_string_equal(got.children[1], "shardId-000000000009");
    lease_store_free(&s);
    /* A corrupt file is an error that names it. */
    {
        FILE *f = fopen(path, "w");
        fputs("{\"leases\": 3}", f);
        fclose(f);
    }
    assert_int_equal(lease_store_local(path, &s, &e), -1);
    assert_non_null(strstr(e.msg, path));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_take_renew, setup, teardown),
        cmocka_unit_test_setup_teardown(test_steal_balance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire_and_lose, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_renew_errors_then_local_expiry,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_outage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finished_not_taken, setup,
                                        teardown),
        cmocka_unit_test(test_cp_order),
        cmocka_unit_test(test_local_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
