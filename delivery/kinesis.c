/* kinesis.c - see kinesis.h; request shapes in
 * ../shared/spec/kinesis-source.md §1.3. */
#include "kinesis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jscan.h"

/* A copy that fits, or "" (every field has a documented maximum). */
static void copy_str(char *dst, size_t n, json_t *v)
{
    const char *s = json_string_value(v);

    if (s == NULL || strlen(s) >= n)
        s = "";
    snprintf(dst, n, "%s", s);
}

enum awsjson_rc kinesis_list_shards(struct awsjson *c, const char *stream,
                                    struct kinesis_shard **out, size_t *n,
                                    char *type, size_t type_size,
                                    struct err *e)
{
    struct kinesis_shard *v = NULL;
    size_t cnt = 0, cap = 0;
    char token[1024] = "";
    enum awsjson_rc rc;

    *out = NULL;
    *n = 0;
    for (int page = 0; page < 10000; page++) {
        json_t *req, *resp, *shards, *s;
        const char *next;
        size_t i;

        /* A NextToken goes alone: with StreamName it is an error on AWS
         * and kills kinesalite. */
        req = token[0] ? json_pack("{s:s}", "NextToken", token)
                       : json_pack("{s:s}", "StreamName", stream);
        if (req == NULL) {
            err_set(e, ERR_NOMEM, "out of memory");
            rc = AWSJSON_RETRY;
            goto fail;
        }
        rc = awsjson_call(c, "ListShards", req, &resp, type, type_size, e);
        json_decref(req);
        if (rc != AWSJSON_OK) {
            if (strcmp(type, "ExpiredNextTokenException") == 0)
                rc = AWSJSON_RETRY;
            goto fail;
        }
        shards = json_object_get(resp, "Shards");
        json_array_foreach(shards, i, s) {
            struct kinesis_shard *sh;
            json_t *hk = json_object_get(s, "HashKeyRange");
            json_t *sr = json_object_get(s, "SequenceNumberRange");

            if (cnt == cap) {
                size_t nc = cap ? cap * 2 : 16;
                void *p = realloc(v, nc * sizeof(*v));
                if (p == NULL) {
                    json_decref(resp);
                    err_set(e, ERR_NOMEM, "out of memory for %zu shards",
                            nc);
                    rc = AWSJSON_RETRY;
                    goto fail;
                }
                v = p;
                cap = nc;
            }
            sh = &v[cnt];
            copy_str(sh->id, sizeof(sh->id), json_object_get(s, "ShardId"));
            if (sh->id[0] == '\0')
                continue;
            copy_str(sh->parent, sizeof(sh->parent),
                     json_object_get(s, "ParentShardId"));
            copy_str(sh->adj_parent, sizeof(sh->adj_parent),
                     json_object_get(s, "AdjacentParentShardId"));
            copy_str(sh->start_hk, sizeof(sh->start_hk),
                     json_object_get(hk, "StartingHashKey"));
            copy_str(sh->end_hk, sizeof(sh->end_hk),
                     json_object_get(hk, "EndingHashKey"));
            copy_str(sh->start_seq, sizeof(sh->start_seq),
                     json_object_get(sr, "StartingSequenceNumber"));
            copy_str(sh->end_seq, sizeof(sh->end_seq),
                     json_object_get(sr, "EndingSequenceNumber"));
            cnt++;
        }
        next = json_string_value(json_object_get(resp, "NextToken"));
        if (next == NULL || next[0] == '\0' || strlen(next) >= sizeof(token)) {
            json_decref(resp);
            *out = v;
            *n = cnt;
            return AWSJSON_OK;
        }
        snprintf(token, sizeof(token), "%s", next);
        json_decref(resp);
    }
    err_set(e, ERR_RETRY, "ListShards of '%s' did not end after 10000 "
            "pages", stream);
    rc = AWSJSON_RETRY;
fail:
    free(v);
    return rc;
}

enum awsjson_rc kinesis_get_iterator(struct awsjson *c, const char *stream,
                                     const char *shard, const char *it_type,
                                     const char *seq, int64_t ts_ms,
                                     char *out, size_t size, char *type,
                                     size_t type_size, struct err *e)
{
    json_t *req, *resp;
    const char *it;
    enum awsjson_rc rc;

    req = json_pack("{s:s,s:s,s:s}", "StreamName", stream, "ShardId", shard,
                    "ShardIteratorType", it_type);
    if (req == NULL) {
        err_set(e, ERR_NOMEM, "out of memory");
        return AWSJSON_RETRY;
    }
    if (strstr(it_type, "SEQUENCE_NUMBER") != NULL)
        json_object_set_new(req, "StartingSequenceNumber", json_string(seq));
    else if (strcmp(it_type, "AT_TIMESTAMP") == 0)
        json_object_set_new(req, "Timestamp",
                            json_real((double)ts_ms / 1000.0));
    rc = awsjson_call(c, "GetShardIterator", req, &resp, type, type_size, e);
    json_decref(req);
    if (rc != AWSJSON_OK)
        return rc;
    it = json_string_value(json_object_get(resp, "ShardIterator"));
    if (it == NULL || strlen(it) >= size) {
        json_decref(resp);
        err_set(e, ERR_RETRY, "GetShardIterator of %s: no usable "
                "ShardIterator in the reply", shard);
        return AWSJSON_RETRY;
    }
    snprintf(out, size, "%s", it);
    json_decref(resp);
    return AWSJSON_OK;
}

/* Number text longer than this is refused: no timestamp or lag needs it,
 * and it bounds the copy strtod() gets. */
#define NUM_TEXT_MAX 40

static int is_key(const char *k, size_t n, const char *want)
{
    return strlen(want) == n && memcmp(k, want, n) == 0;
}

/* A number member within [lo, hi]; null leaves *out as it is. Both forms
 * AWS and kinesalite write (1441215410.867, 1.441215410867E9) parse. */
static int num_member(struct jscan *s, const char *what, double lo,
                      double hi, double *out)
{
    char tmp[NUM_TEXT_MAX + 1], *t;
    size_t n;
    double v;
    int c, isnull = jscan_null(s);

    if (isnull != 0)
        return isnull < 0 ? -1 : 0;
    c = jscan_peek(s);
    if (c != '-' && (c < '0' || c > '9'))
        return jscan_fail(s, "%s must be a number", what);
    if (jscan_number(s, &t, &n) != 0)
        return jscan_fail(s, "%s", what);
    if (n > NUM_TEXT_MAX)
        return jscan_fail(s, "%s has a %zu-character number (at most %d)",
                          what, n, NUM_TEXT_MAX);
    memcpy(tmp, t, n);
    tmp[n] = '\0';
    v = strtod(tmp, NULL);
    if (!(v >= lo && v <= hi))          /* also NaN and the infinities */
        return jscan_fail(s, "%s %s is out of range", what, tmp);
    *out = v;
    return 0;
}

static int str_member(struct jscan *s, const char *what, char **v,
                      size_t *n)
{
    if (jscan_peek(s) != '"')
        return jscan_fail(s, "%s must be a string", what);
    return jscan_string(s, v, n);
}

static int seq_ok(const char *seq, size_t n)
{
    if (n == 0 || n >= KINESIS_SEQ_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (seq[i] < '0' || seq[i] > '9')
            return 0;
    return 1;
}

/* One element of Records; i is 0-based (messages say "record i"). */
static int rec_parse(struct jscan *s, struct kinesis_rec *r, size_t i)
{
    char *k, *seq = NULL, *pk = NULL, *data = NULL;
    size_t kn, seq_n = 0, dn = 0;
    double ts = 0;
    int first = 1, rc;

    memset(r, 0, sizeof(*r));
    while ((rc = jscan_member(s, &first, &k, &kn)) == 1) {
        if (is_key(k, kn, "SequenceNumber"))
            rc = str_member(s, "SequenceNumber", &seq, &seq_n);
        else if (is_key(k, kn, "PartitionKey"))
            rc = str_member(s, "PartitionKey", &pk, &r->pk_len);
        else if (is_key(k, kn, "Data"))
            rc = str_member(s, "Data", &data, &dn);
        else if (is_key(k, kn, "ApproximateArrivalTimestamp"))
            /* Seconds since the epoch, up to the year 5000. */
            rc = num_member(s, "ApproximateArrivalTimestamp", 0, 95e9, &ts);
        else
            rc = jscan_skip(s);
        if (rc != 0)
            break;
    }
    if (rc != 0)
        return jscan_fail(s, "record %zu", i);
    if (seq == NULL || !seq_ok(seq, seq_n))
        return jscan_fail(s, "record %zu has no SequenceNumber of 1 to %d "
                          "digits", i, KINESIS_SEQ_MAX - 1);
    if (pk == NULL || data == NULL)
        return jscan_fail(s, "record %zu (%s) has no %s", i, seq,
                          pk == NULL ? "PartitionKey" : "Data");
    if (jscan_b64(s, data, dn, &r->len) != 0)
        return jscan_fail(s, "record %zu (%s)", i, seq);
    r->seq = seq;
    r->pk = pk;
    r->data = (const unsigned char *)data;
    r->arrival_ms = (int64_t)(ts * 1000.0 + 0.5);
    return 0;
}

static int records(struct jscan *s, struct kinesis_batch *b)
{
    int first = 1, rc;

    while ((rc = jscan_element(s, &first)) == 1) {
        if (b->n == KINESIS_MAX_RECORDS)
            return jscan_fail(s, "more than %d Records",
                              KINESIS_MAX_RECORDS);
        if (b->n == b->cap) {
            /* Grows to the largest reply seen, then is reused. */
            size_t c = b->cap ? b->cap * 2 : 64;
            void *p = realloc(b->recs, c * sizeof(*b->recs));
            if (p == NULL)
                return err_set(s->e, ERR_NOMEM, "out of memory for %zu "
                               "GetRecords records", c);
            b->recs = p;
            b->cap = c;
        }
        if (rec_parse(s, &b->recs[b->n], b->n) != 0)
            return -1;
        b->n++;
    }
    return rc;
}

/* ChildShards (a closed shard's successors): checked and counted; the
 * coordinator learns the shard map from ListShards. */
static int children(struct jscan *s, struct kinesis_batch *b)
{
    int first = 1, rc;

    if (jscan_null(s) != 0)
        return s->err ? -1 : 0;
    while ((rc = jscan_element(s, &first)) == 1) {
        if (jscan_peek(s) != '{')
            return jscan_fail(s, "ChildShards must hold objects");
        if (jscan_skip(s) != 0)
            return -1;
        b->n_children++;
    }
    return rc;
}

int kinesis_parse_records(char *body, size_t len, struct kinesis_batch *b,
                          struct err *e)
{
    struct jscan s;
    char *k, *next;
    size_t kn, next_n;
    double mb = -1;
    int first = 1, have_recs = 0, rc;

    jscan_init(&s, body, len, e);
    b->n = 0;
    b->next = NULL;
    b->millis_behind = -1;
    b->n_children = 0;
    while ((rc = jscan_member(&s, &first, &k, &kn)) == 1) {
        if (is_key(k, kn, "Records")) {
            rc = have_recs ? jscan_fail(&s, "Records given twice")
                           : records(&s, b);
            have_recs = 1;
        } else if (is_key(k, kn, "NextShardIterator")) {
            b->next = NULL;
            rc = jscan_null(&s);
            if (rc == 0 &&
                (rc = str_member(&s, "NextShardIterator", &next,
                                 &next_n)) == 0)
                b->next = next;
            else if (rc == 1)
                rc = 0;
        } else if (is_key(k, kn, "MillisBehindLatest")) {
            /* Kinesis keeps 365 days at most: 3.2e10 ms. */
            rc = num_member(&s, "MillisBehindLatest", 0, 1e12, &mb);
        } else if (is_key(k, kn, "ChildShards")) {
            rc = children(&s, b);
        } else {
            rc = jscan_skip(&s);
        }
        if (rc != 0)
            break;
    }
    if (rc != 0 || jscan_end(&s) != 0)
        goto fail;
    if (!have_recs) {
        jscan_fail(&s, "no Records");
        goto fail;
    }
    b->millis_behind = (int64_t)mb;
    return 0;
fail:
    b->n = 0;
    b->next = NULL;
    return -1;
}

enum awsjson_rc kinesis_get_records(struct awsjson *c, const char *iter,
                                    int limit, struct kinesis_batch *b,
                                    char *type, size_t type_size,
                                    struct err *e)
{
    json_t *req;
    enum awsjson_rc rc;
    char *body;
    size_t len;

    b->n = 0;
    b->next = NULL;
    req = json_pack("{s:s,s:i}", "ShardIterator", iter, "Limit", limit);
    if (req == NULL) {
        err_set(e, ERR_NOMEM, "out of memory");
        return AWSJSON_RETRY;
    }
    rc = awsjson_call_raw(c, "GetRecords", req, &body, &len, type,
                          type_size, e);
    json_decref(req);
    if (rc != AWSJSON_OK)
        return rc;
    if (kinesis_parse_records(body, len, b, e) != 0) {
        char m[sizeof(e->msg)];

        snprintf(m, sizeof(m), "%s", e->msg);
        err_set(e, ERR_RETRY, "GetRecords: unusable reply (%.200s)", m);
        return AWSJSON_RETRY;
    }
    return AWSJSON_OK;
}

void kinesis_batch_release(struct kinesis_batch *b)
{
    free(b->recs);
    memset(b, 0, sizeof(*b));
}
