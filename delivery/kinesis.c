/* kinesis.c - see kinesis.h; request shapes in
 * ../shared/spec/kinesis-source.md §1.3. */
#include "kinesis.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

enum awsjson_rc kinesis_get_records(struct awsjson *c, const char *iter,
                                    int limit, struct kinesis_batch *b,
                                    char *type, size_t type_size,
                                    struct err *e)
{
    json_t *req, *mb;
    enum awsjson_rc rc;

    memset(b, 0, sizeof(*b));
    req = json_pack("{s:s,s:i}", "ShardIterator", iter, "Limit", limit);
    if (req == NULL) {
        err_set(e, ERR_NOMEM, "out of memory");
        return AWSJSON_RETRY;
    }
    rc = awsjson_call(c, "GetRecords", req, &b->resp, type, type_size, e);
    json_decref(req);
    if (rc != AWSJSON_OK)
        return rc;
    b->recs = json_object_get(b->resp, "Records");
    b->n = json_is_array(b->recs) ? json_array_size(b->recs) : 0;
    b->next = json_string_value(json_object_get(b->resp,
                                                "NextShardIterator"));
    mb = json_object_get(b->resp, "MillisBehindLatest");
    b->millis_behind = json_is_number(mb) ? (int64_t)json_number_value(mb)
                                          : -1;
    return AWSJSON_OK;
}

int kinesis_batch_rec(const struct kinesis_batch *b, size_t i,
                      struct kinesis_rec *r)
{
    json_t *o = json_array_get(b->recs, i), *d, *t;

    r->seq = json_string_value(json_object_get(o, "SequenceNumber"));
    r->pk = json_string_value(json_object_get(o, "PartitionKey"));
    d = json_object_get(o, "Data");
    t = json_object_get(o, "ApproximateArrivalTimestamp");
    if (r->seq == NULL || r->seq[0] == '\0' ||
        strlen(r->seq) >= KINESIS_SEQ_MAX || r->pk == NULL ||
        !json_is_string(d))
        return -1;
    r->data_b64 = json_string_value(d);
    r->data_b64_len = json_string_length(d);
    r->arrival_ms = json_is_number(t)
                    ? (int64_t)(json_number_value(t) * 1000.0 + 0.5) : 0;
    return 0;
}

void kinesis_batch_release(struct kinesis_batch *b)
{
    json_decref(b->resp);
    memset(b, 0, sizeof(*b));
}

size_t kinesis_b64_max(size_t len)
{
    return (len + 3) / 4 * 3;
}

int kinesis_b64_decode(const char *s, size_t len, unsigned char *out,
                       size_t *n)
{
    int got;
    size_t pad = 0;

    if (len % 4 != 0 || len > (size_t)0x7fffffff)
        return -1;
    if (len == 0) {
        *n = 0;
        return 0;
    }
    got = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
    if (got < 0)
        return -1;
    if (s[len - 1] == '=')
        pad++;
    if (s[len - 2] == '=')
        pad++;
    *n = (size_t)got - pad;
    return 0;
}

int kinesis_seq_cmp(const char *a, const char *b)
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
