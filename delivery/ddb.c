/* ddb.c - see ddb.h; request shapes from ../shared/spec/kinesis-source.md
 * §2.12. Every attribute goes through ExpressionAttributeNames. */
#include "ddb.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "awsjson.h"

#define DDB_TABLE_WAIT_MS 60000

struct ddb {
    struct awsjson *c;
    char table[256];
};

/* One call; 0, LEASE_CONFLICT, or -1 (e). *resp only when wanted. */
static int call(struct ddb *d, const char *op, json_t *req, json_t **resp,
                struct err *e)
{
    char type[96];
    json_t *r = NULL;
    enum awsjson_rc rc;

    if (req == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    json_object_set_new(req, "TableName", json_string(d->table));
    rc = awsjson_call(d->c, op, req, &r, type, sizeof(type), e);
    json_decref(req);
    if (rc == AWSJSON_OK) {
        if (resp != NULL)
            *resp = r;
        else
            json_decref(r);
        return 0;
    }
    if (strcmp(type, "ConditionalCheckFailedException") == 0)
        return LEASE_CONFLICT;
    e->code = rc == AWSJSON_RETRY ? ERR_RETRY : ERR_INVAL;
    return -1;
}

static json_t *S(const char *s)
{
    return json_pack("{s:s}", "S", s);
}

static json_t *N(uint64_t v)
{
    char t[24];

    snprintf(t, sizeof(t), "%" PRIu64, v);
    return json_pack("{s:s}", "N", t);
}

static json_t *key_of(const char *key)
{
    return json_pack("{s:o}", "leaseKey", S(key));
}

static void get_s(json_t *item, const char *name, char *dst, size_t n)
{
    const char *s = json_string_value(json_object_get(
        json_object_get(item, name), "S"));

    snprintf(dst, n, "%s", s != NULL && strlen(s) < n ? s : "");
}

static uint64_t get_n(json_t *item, const char *name)
{
    const char *s = json_string_value(json_object_get(
        json_object_get(item, name), "N"));

    return s != NULL ? strtoull(s, NULL, 10) : 0;
}

static int from_item(json_t *item, struct lease *l)
{
    json_t *ss = json_object_get(json_object_get(item, "parentShardId"),
                                 "SS"), *x;
    size_t i;

    memset(l, 0, sizeof(*l));
    get_s(item, "leaseKey", l->key, sizeof(l->key));
    if (l->key[0] == '\0')
        return -1;
    get_s(item, "leaseOwner", l->owner, sizeof(l->owner));
    get_s(item, "checkpoint", l->checkpoint, sizeof(l->checkpoint));
    get_s(item, "startingHashKey", l->start_hk, sizeof(l->start_hk));
    get_s(item, "endingHashKey", l->end_hk, sizeof(l->end_hk));
    l->counter = get_n(item, "leaseCounter");
    l->subseq = get_n(item, "checkpointSubSequenceNumber");
    l->owner_switches = get_n(item, "ownerSwitchesSinceCheckpoint");
    json_array_foreach(ss, i, x) {
        if (l->n_parents < 2 && json_is_string(x) &&
            json_string_length(x) < LEASE_KEY_MAX)
            snprintf(l->parents[l->n_parents++], LEASE_KEY_MAX, "%s",
                     json_string_value(x));
    }
    ss = json_object_get(json_object_get(item, "childShardIds"), "SS");
    json_array_foreach(ss, i, x) {
        if (l->n_children < 2 && json_is_string(x) &&
            json_string_length(x) < LEASE_KEY_MAX)
            snprintf(l->children[l->n_children++], LEASE_KEY_MAX, "%s",
                     json_string_value(x));
    }
    return 0;
}

static int d_list(void *ctx, struct lease **out, size_t *n, struct err *e)
{
    struct ddb *d = ctx;
    struct lease *v = NULL;
    size_t cnt = 0, cap = 0;
    json_t *start = NULL;

    *out = NULL;
    *n = 0;
    for (;;) {
        json_t *req = json_pack("{s:b}", "ConsistentRead", 1), *resp, *items,
               *it, *lek;
        size_t i;
        int rc;

        if (req != NULL && start != NULL)
            json_object_set(req, "ExclusiveStartKey", start);
        json_decref(start);
        start = NULL;
        rc = call(d, "Scan", req, &resp, e);
        if (rc != 0) {
            free(v);
            return -1;
        }
        items = json_object_get(resp, "Items");
        json_array_foreach(items, i, it) {
            if (cnt == cap) {
                size_t c = cap ? cap * 2 : 16;
                void *p = realloc(v, c * sizeof(*v));
                if (p == NULL) {
                    json_decref(resp);
                    free(v);
                    return err_set(e, ERR_NOMEM, "out of memory");
                }
                v = p;
                cap = c;
            }
            if (from_item(it, &v[cnt]) == 0)
                cnt++;
        }
        lek = json_object_get(resp, "LastEvaluatedKey");
        if (json_is_object(lek) && json_object_size(lek) > 0)
            start = json_incref(lek);
        json_decref(resp);
        if (start == NULL)
            break;
    }
    *out = v != NULL ? v : malloc(sizeof(*v));
    if (*out == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    *n = cnt;
    return 0;
}

static int d_get(void *ctx, const char *key, struct lease *out,
                 struct err *e)
{
    json_t *resp, *item;
    int rc = call(ctx, "GetItem", json_pack("{s:o,s:b}", "Key", key_of(key),
                                            "ConsistentRead", 1), &resp, e);

    if (rc != 0)
        return -1;
    item = json_object_get(resp, "Item");
    rc = json_is_object(item) && from_item(item, out) == 0 ? 1 : 0;
    json_decref(resp);
    return rc;
}

static int d_create(void *ctx, const struct lease *l, struct err *e)
{
    json_t *item = json_pack("{s:o,s:o,s:o,s:o,s:o}",
                             "leaseKey", S(l->key),
                             "leaseCounter", N(l->counter),
                             "checkpoint", S(l->checkpoint),
                             "checkpointSubSequenceNumber", N(l->subseq),
                             "ownerSwitchesSinceCheckpoint", N(0));

    if (item == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    if (l->n_parents > 0) {
        json_t *ss = json_array();
        for (int i = 0; i < l->n_parents; i++)
            json_array_append_new(ss, json_string(l->parents[i]));
        json_object_set_new(item, "parentShardId",
                            json_pack("{s:o}", "SS", ss));
    }
    if (l->start_hk[0])
        json_object_set_new(item, "startingHashKey", S(l->start_hk));
    if (l->end_hk[0])
        json_object_set_new(item, "endingHashKey", S(l->end_hk));
    if (l->owner[0])
        json_object_set_new(item, "leaseOwner", S(l->owner));
    return call(ctx, "PutItem", json_pack(
        "{s:o,s:s,s:{s:s}}", "Item", item,
        "ConditionExpression", "attribute_not_exists(#k)",
        "ExpressionAttributeNames", "#k", "leaseKey"), NULL, e);
}

static int d_renew(void *ctx, const char *key, uint64_t c, struct err *e)
{
    return call(ctx, "UpdateItem", json_pack(
        "{s:o,s:s,s:s,s:{s:s},s:{s:o,s:o}}", "Key", key_of(key),
        "UpdateExpression", "SET #c = :new",
        "ConditionExpression", "#c = :old",
        "ExpressionAttributeNames", "#c", "leaseCounter",
        "ExpressionAttributeValues", ":old", N(c), ":new", N(c + 1)),
        NULL, e);
}

static int d_take(void *ctx, const char *key, uint64_t c, const char *me,
                  int switched, struct err *e)
{
    json_t *req = json_pack(
        "{s:o,s:s,s:s,s:{s:s,s:s},s:{s:o,s:o,s:o}}", "Key", key_of(key),
        "UpdateExpression", "SET #o = :me, #c = :new",
        "ConditionExpression", "#c = :old",
        "ExpressionAttributeNames", "#o", "leaseOwner", "#c", "leaseCounter",
        "ExpressionAttributeValues", ":me", S(me), ":old", N(c),
        ":new", N(c + 1));

    if (req != NULL && switched) {
        json_object_set_new(req, "UpdateExpression", json_string(
            "SET #o = :me, #c = :new ADD #sw :one"));
        json_object_set_new(json_object_get(req, "ExpressionAttributeNames"),
                            "#sw",
                            json_string("ownerSwitchesSinceCheckpoint"));
        json_object_set_new(json_object_get(req,
                                            "ExpressionAttributeValues"),
                            ":one", N(1));
    }
    return call(ctx, "UpdateItem", req, NULL, e);
}

static int d_checkpoint(void *ctx, const char *key, uint64_t c,
                        const char *me, const char *cp, uint64_t sub,
                        struct err *e)
{
    return call(ctx, "UpdateItem", json_pack(
        "{s:o,s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s},"
        "s:{s:o,s:o,s:o,s:o,s:o,s:o}}", "Key", key_of(key),
        "UpdateExpression", "SET #cp = :cp, #sub = :sub, #sw = :zero, "
        "#c = :new REMOVE #p, #ps, #pst",
        "ConditionExpression", "#c = :old AND #o = :me",
        "ExpressionAttributeNames", "#cp", "checkpoint",
        "#sub", "checkpointSubSequenceNumber",
        "#sw", "ownerSwitchesSinceCheckpoint", "#c", "leaseCounter",
        "#o", "leaseOwner", "#p", "pendingCheckpoint",
        "#ps", "pendingCheckpointSubSequenceNumber",
        "#pst", "pendingCheckpointState",
        "ExpressionAttributeValues", ":cp", S(cp), ":sub", N(sub),
        ":zero", N(0), ":old", N(c), ":new", N(c + 1), ":me", S(me)),
        NULL, e);
}

static int d_evict(void *ctx, const char *key, uint64_t c, const char *me,
                   struct err *e)
{
    return call(ctx, "UpdateItem", json_pack(
        "{s:o,s:s,s:s,s:{s:s,s:s},s:{s:o,s:o}}", "Key", key_of(key),
        "UpdateExpression", "REMOVE #o SET #c = :new",
        "ConditionExpression", "#o = :me",
        "ExpressionAttributeNames", "#o", "leaseOwner", "#c", "leaseCounter",
        "ExpressionAttributeValues", ":me", S(me), ":new", N(c + 1)),
        NULL, e);
}

static int d_set_children(void *ctx, const char *key, const char ids[][LEASE_KEY_MAX],
                          int n, struct err *e)
{
    json_t *ss = json_array();

    for (int i = 0; ss != NULL && i < n; i++)
        json_array_append_new(ss, json_string(ids[i]));
    return call(ctx, "UpdateItem", json_pack(
        "{s:o,s:s,s:s,s:{s:s,s:s},s:{s:{s:o}}}", "Key", key_of(key),
        "UpdateExpression", "SET #ch = :ids",
        "ConditionExpression", "attribute_exists(#k)",
        "ExpressionAttributeNames", "#ch", "childShardIds", "#k", "leaseKey",
        "ExpressionAttributeValues", ":ids", "SS", ss), NULL, e);
}

static void d_free(void *ctx)
{
    struct ddb *d = ctx;

    if (d == NULL)
        return;
    awsjson_free(d->c);
    free(d);
}

static const struct lease_store_ops ddb_ops = {
    d_list, d_get, d_create, d_renew, d_take, d_checkpoint, d_evict,
    d_set_children, d_free,
};

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* DescribeTable until ACTIVE; CreateTable when missing. */
static int table_ready(struct ddb *d, struct err *e)
{
    for (int waited = 0; waited < DDB_TABLE_WAIT_MS; waited += 250) {
        json_t *resp;
        const char *status;
        char type[96];
        json_t *req = json_pack("{s:s}", "TableName", d->table);
        enum awsjson_rc rc;

        if (req == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
        rc = awsjson_call(d->c, "DescribeTable", req, &resp, type,
                          sizeof(type), e);
        json_decref(req);
        if (rc == AWSJSON_ERROR &&
            strcmp(type, "ResourceNotFoundException") == 0) {
            int cr = call(d, "CreateTable", json_pack(
                "{s:[{s:s,s:s}],s:[{s:s,s:s}],s:s}",
                "AttributeDefinitions", "AttributeName", "leaseKey",
                "AttributeType", "S", "KeySchema", "AttributeName",
                "leaseKey", "KeyType", "HASH", "BillingMode",
                "PAY_PER_REQUEST"), NULL, e);
            if (cr != 0 && strstr(e->msg, "ResourceInUseException") == NULL)
                return -1;
        } else if (rc != AWSJSON_OK) {
            return -1;
        } else {
            status = json_string_value(json_object_get(
                json_object_get(resp, "Table"), "TableStatus"));
            if (status != NULL && (strcmp(status, "ACTIVE") == 0 ||
                                   strcmp(status, "UPDATING") == 0)) {
                json_decref(resp);
                return 0;
            }
            json_decref(resp);
        }
        sleep_ms(250);
    }
    return err_set(e, ERR_RETRY, "lease table '%s' is not ACTIVE after "
                   "%d s", d->table, DDB_TABLE_WAIT_MS / 1000);
}

int ddb_lease_store(const struct ddb_opts *o, struct lease_store *out,
                    struct err *e)
{
    struct awsjson_opts ao = {
        o->endpoint, o->region, "dynamodb", "DynamoDB_20120810",
        "application/x-amz-json-1.0", o->timeout_ms > 0 ? o->timeout_ms
                                                       : 10000,
    };
    struct ddb *d = calloc(1, sizeof(*d));

    out->ops = NULL;
    out->ctx = NULL;
    if (d == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    snprintf(d->table, sizeof(d->table), "%s", o->table);
    if ((d->c = awsjson_new(&ao, e)) == NULL || table_ready(d, e) != 0) {
        d_free(d);
        return -1;
    }
    out->ops = &ddb_ops;
    out->ctx = d;
    return 0;
}
