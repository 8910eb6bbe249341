/* ctl_ops.c - see ctl_ops.h. One mutex (control.mu) serialises the
 * operations (they are rare); the stream set's write lock is taken only to
 * add, remove, swap or change the status of a stream, so producers wait
 * for those moments only. */
#include "ctl_ops.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_desc.h"
#include "log.h"

#define CONTROL_MAX_TAGS 50

/* Request-scoped state of one operation. */
struct call {
    struct control *ctl;
    struct buf *out;
    struct control_reply *r;
    json_t *req;
};

/* ------------------------------------------------------------ replies */

__attribute__((format(printf, 3, 4)))
static int fail(struct call *k, const char *type, const char *fmt, ...)
{
    va_list ap;
    char msg[1200];
    struct err e;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    k->r->status = strcmp(type, "InternalFailure") == 0 ? 500 : 400;
    k->r->error_type = type;
    (void)buf_append(k->out, msg, strlen(msg) + 1, &e);
    k->out->len--;
    return 0;
}

/* Takes ownership of 'j'. */
static int reply(struct call *k, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    struct err e;

    json_decref(j);
    if (s == NULL)
        return fail(k, "InternalFailure", "out of memory");
    k->r->status = 200;
    k->r->error_type = NULL;
    (void)buf_append(k->out, s, strlen(s) + 1, &e);
    k->out->len--;
    free(s);
    return 0;
}

static int not_found(struct call *k, const char *name)
{
    return fail(k, "ResourceNotFoundException",
                "Firehose %.64s under account %s not found.", name,
                k->ctl->svc->account_id);
}

static void arn_of(const struct control *ctl, const char *name, char *out,
                   size_t n)
{
    snprintf(out, n, "arn:aws:firehose:%s:%s:deliverystream/%s",
             ctl->svc->region, ctl->svc->account_id, name);
}

/* A required member; NULL with the ValidationException sent. */
static json_t *need(struct call *k, const char *key, const char *camel)
{
    json_t *v = json_object_get(k->req, key);

    if (v == NULL)
        fail(k, "ValidationException", "1 validation error detected: Value "
             "null at '%s' failed to satisfy constraint: Member must not "
             "be null", camel);
    return v;
}

/* A required string member; -1 with the error sent. */
static int need_str(struct call *k, const char *key, const char *camel,
                    const char **out)
{
    json_t *v = need(k, key, camel);

    if (v == NULL)
        return -1;
    if (!json_is_string(v)) {
        fail(k, "SerializationException", "%s must be a string", key);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

/* A required list member of 1 to 50 entries (Tags, TagKeys); -1 with the
 * error sent. */
static int need_list(struct call *k, const char *key, const char *camel,
                     json_t **out)
{
    json_t *v = need(k, key, camel);

    if (v == NULL)
        return -1;
    if (!json_is_array(v)) {
        fail(k, "SerializationException", "%s must be a list", key);
        return -1;
    }
    if (json_array_size(v) < 1 || json_array_size(v) > 50) {
        fail(k, "ValidationException", "1 validation error detected: Value "
             "at '%s' failed to satisfy constraint: Member must have length "
             "%s", camel, json_array_size(v) < 1
             ? "greater than or equal to 1" : "less than or equal to 50");
        return -1;
    }
    *out = v;
    return 0;
}

/* An optional integer member in [lo, hi]; -1 with the error sent. */
static int opt_int(struct call *k, const char *key, const char *camel,
                   long long lo, long long hi, long long *out)
{
    json_t *v = json_object_get(k->req, key);

    if (v == NULL)
        return 0;
    if (!json_is_integer(v)) {
        fail(k, "SerializationException", "%s must be a number", key);
        return -1;
    }
    if (json_integer_value(v) < lo || json_integer_value(v) > hi) {
        fail(k, "ValidationException", "1 validation error detected: Value "
             "'%lld' at '%s' failed to satisfy constraint: Member must have "
             "value %s %lld", (long long)json_integer_value(v), camel,
             json_integer_value(v) < lo ? "greater than or equal to"
                                        : "less than or equal to",
             json_integer_value(v) < lo ? lo : hi);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

/* Is this reason a model constraint (ValidationException) rather than a
 * semantic rule (InvalidArgumentException)? */
static int is_constraint(const char *why)
{
    static const char *const words[] = {
        "missing required key", "expected ", "unknown key", "length ",
        "shorter than the minimum", "is below the minimum",
        "is above the maximum", "is not one of", "may only contain",
        "entries, expected", "must have 1 to", "longer than", NULL
    };

    for (size_t i = 0; words[i]; i++)
        if (strstr(why, words[i]) != NULL)
            return 1;
    return 0;
}

/* The config loader's error lines ("request: path: reason") as one
 * Firehose error. */
static int cfg_errors(struct call *k, const char *errors)
{
    char msg[1100];
    size_t len = 0, n = 0;
    int constraint = 1;
    const char *line = errors;

    if (strstr(errors, "Exactly one destination configuration is supported "
               "for a Firehose") != NULL)
        return fail(k, "InvalidArgumentException", "Exactly one destination "
                    "configuration is supported for a Firehose");
    msg[0] = '\0';
    while (line != NULL && *line != '\0') {
        const char *end = strchr(line, '\n'), *p = line;
        size_t l;

        if (end == NULL)
            end = line + strlen(line);
        if (strncmp(p, "request: ", 9) == 0)
            p += 9;
        if (strncmp(p, ": ", 2) == 0)
            p += 2;
        l = (size_t)(end - p);
        if (!is_constraint(p))
            constraint = 0;
        if (len < sizeof(msg) - 1)
            len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s%.*s",
                                    n ? "; " : "", (int)l, p);
        n++;
        line = *end ? end + 1 : end;
    }
    if (len >= sizeof(msg))
        len = sizeof(msg) - 1;
    if (constraint)
        return fail(k, "ValidationException", "%zu validation error%s "
                    "detected: %s", n, n == 1 ? "" : "s", msg);
    return fail(k, "InvalidArgumentException", "%s", msg);
}

/* ------------------------------------------------ describe and list */

static int op_describe(struct call *k)
{
    struct control *ctl = k->ctl;
    struct streams_item *it;
    struct ctl_stream *cs;
    const char *name, *start = NULL;
    long long limit = 10000;
    json_t *v, *desc, *dests;
    char arn[512];

    if (need_str(k, "DeliveryStreamName", "deliveryStreamName", &name) != 0 ||
        opt_int(k, "Limit", "limit", 1, 10000, &limit) != 0)
        return 0;
    if ((v = json_object_get(k->req, "ExclusiveStartDestinationId")) != NULL) {
        if (!json_is_string(v))
            return fail(k, "SerializationException",
                        "ExclusiveStartDestinationId must be a string");
        start = json_string_value(v);
    }
    streams_rdlock(ctl->set);
    it = streams_find(ctl->set, name);
    if (it == NULL) {
        streams_unlock(ctl->set);
        return not_found(k, name);
    }
    cs = it->owner;
    arn_of(ctl, cs->name, arn, sizeof(arn));
    dests = json_array();
    /* One destination per stream: paging past it leaves none. */
    if (start == NULL || strcmp(start, CTL_DESC_DEST_ID) < 0)
        json_array_append_new(dests, ctl_desc_destination(cs->cfg, cs->conf));
    desc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:f,s:{s:s},s:o,s:b}",
                     "DeliveryStreamName", cs->name,
                     "DeliveryStreamARN", arn,
                     "DeliveryStreamStatus", ctl_desc_status_name(it->status),
                     "DeliveryStreamType",
                     cs->cfg->type == CFG_STREAM_KINESIS
                     ? "KinesisStreamAsSource" : "DirectPut",
                     "VersionId", cs->cfg->version_id,
                     "CreateTimestamp", (double)cs->created_ms / 1000.0,
                     "DeliveryStreamEncryptionConfiguration",
                     "Status", "DISABLED",
                     "Destinations", dests,
                     "HasMoreDestinations", 0);
    if (desc != NULL && cs->updated_ms != 0)
        json_object_set_new(desc, "LastUpdateTimestamp",
                            json_real((double)cs->updated_ms / 1000.0));
    if (desc != NULL && it->status == STREAMS_CREATING_FAILED)
        json_object_set_new(desc, "FailureDescription", json_pack(
            "{s:s,s:s}", "Type", "UNKNOWN_ERROR", "Details", cs->failure));
    if (desc != NULL &&
        (v = json_object_get(cs->conf, "DirectPutSourceConfiguration")))
        json_object_set_new(desc, "Source", json_pack("{s:O}",
                            "DirectPutSourceDescription", v));
    /* Ours, echoed as configured so that a client can read it back. */
    if (desc != NULL && (v = json_object_get(cs->conf, "DirectPutQuotas")))
        json_object_set(desc, "DirectPutQuotas", v);
    if (desc != NULL &&
        (v = json_object_get(cs->conf, "KinesisStreamSourceConfiguration"))) {
        json_t *ks = json_deep_copy(v);
        /* Firehose's description: the ARN, the role and when reading
         * began (here: when the stream was created). */
        if (ks != NULL)
            json_object_set_new(ks, "DeliveryStartTimestamp",
                                json_real((double)cs->created_ms / 1000.0));
        json_object_set_new(desc, "Source", json_pack("{s:o*}",
                            "KinesisStreamSourceDescription", ks));
    }
    streams_unlock(ctl->set);
    return reply(k, desc ? json_pack("{s:o}", "DeliveryStreamDescription",
                                     desc) : NULL);
}

static int op_list(struct call *k)
{
    struct control *ctl = k->ctl;
    const char *want = NULL, *after = NULL;
    long long limit = 10;
    json_t *v, *names;
    int more = 0;

    if (opt_int(k, "Limit", "limit", 1, 10000, &limit) != 0)
        return 0;
    if ((v = json_object_get(k->req, "DeliveryStreamType")) != NULL) {
        if (!json_is_string(v))
            return fail(k, "SerializationException",
                        "DeliveryStreamType must be a string");
        want = json_string_value(v);
        if (strcmp(want, "DirectPut") != 0 &&
            strcmp(want, "KinesisStreamAsSource") != 0 &&
            strcmp(want, "MSKAsSource") != 0 &&
            strcmp(want, "DatabaseAsSource") != 0)
            return fail(k, "ValidationException", "1 validation error "
                        "detected: Value '%.64s' at 'deliveryStreamType' "
                        "failed to satisfy constraint: Member must satisfy "
                        "enum value set: [DirectPut, KinesisStreamAsSource, "
                        "MSKAsSource, DatabaseAsSource]", want);
    }
    if ((v = json_object_get(k->req, "ExclusiveStartDeliveryStreamName"))) {
        if (!json_is_string(v))
            return fail(k, "SerializationException",
                        "ExclusiveStartDeliveryStreamName must be a string");
        after = json_string_value(v);
    }
    names = json_array();
    streams_rdlock(ctl->set);
    /* The set is in name (byte) order already. */
    for (size_t i = 0; names && i < streams_count(ctl->set); i++) {
        struct streams_item *it = streams_at(ctl->set, i);
        const struct ctl_stream *cs = it->owner;
        const char *type = cs->cfg->type == CFG_STREAM_KINESIS
                           ? "KinesisStreamAsSource" : "DirectPut";

        if ((want && strcmp(want, type) != 0) ||
            (after && strcmp(it->name, after) <= 0))
            continue;
        if ((long long)json_array_size(names) == limit) {
            more = 1;
            break;
        }
        json_array_append_new(names, json_string(it->name));
    }
    streams_unlock(ctl->set);
    return reply(k, names ? json_pack("{s:o,s:b}", "DeliveryStreamNames",
                                      names, "HasMoreDeliveryStreams", more)
                          : NULL);
}

/* ------------------------------------------------------------ create */

static int op_create(struct call *k)
{
    struct control *ctl = k->ctl;
    struct streams_item item, *it;
    struct ctl_stream *cs = NULL;
    struct cfg_stream *cfg = NULL;
    struct err e = { 0, "" };
    char *errors = NULL, arn[512];
    const char *name;
    json_t *conf;

    if (need_str(k, "DeliveryStreamName", "deliveryStreamName", &name) != 0)
        return 0;
    if (ctl_parse_stream(k->req, "request", ctl->svc, &cfg, &errors) != 0) {
        cfg_errors(k, errors);
        free(errors);
        return 0;
    }
    streams_rdlock(ctl->set);
    it = streams_find(ctl->set, name);
    streams_unlock(ctl->set);
    if (it != NULL) {
        cfg_stream_free(cfg);
        return fail(k, "ResourceInUseException", "Firehose %s under "
                    "accountId %s already exists", name,
                    ctl->svc->account_id);
    }
    if (streams_count(ctl->set) >= streams_max(ctl->set)) {
        cfg_stream_free(cfg);
        return fail(k, "LimitExceededException", "You have already "
                    "consumed your firehose quota of %zu hoses",
                    streams_max(ctl->set));
    }
    if (ctl_lua_ready(ctl, cfg, &e) != 0) {
        cfg_stream_free(cfg);
        return fail(k, "InvalidArgumentException", "%s", e.msg);
    }
    conf = json_deep_copy(k->req);
    cs = conf ? ctl_stream_new(name) : NULL;
    if (cs == NULL) {
        json_decref(conf);
        cfg_stream_free(cfg);
        return fail(k, "InternalFailure", "out of memory");
    }
    json_object_del(conf, "Tags");
    cs->conf = conf;
    cs->cfg = cfg;
    json_decref(cs->tags);
    cs->tags = ctl_tags_json(cfg);
    cs->created_ms = util_now_ms();
    if (ctl_persist(ctl, cs, &e) != 0) {
        log_msg(LOG_ERROR, "control", "creating delivery stream '%s': %s",
                name, e.msg);
        ctl_stream_free(cs);
        return fail(k, "InternalFailure", "The stream could not be saved "
                    "in StateDirectory: %s", e.msg);
    }
    memset(&item, 0, sizeof(item));
    item.name = cs->name;
    item.status = STREAMS_CREATING;
    item.owner = cs;
    streams_wrlock(ctl->set);
    if (streams_add(ctl->set, &item, &it, &e) != 0) {
        streams_unlock(ctl->set);
        (void)ctl_unpersist(ctl, cs->name, &e);
        ctl_stream_free(cs);
        return fail(k, "InternalFailure", "%s", e.msg);
    }
    streams_unlock(ctl->set);
    if (ctl_job_spawn(ctl, ctl_create_job, it, &e) != 0) {
        streams_wrlock(ctl->set);
        it->status = STREAMS_CREATING_FAILED;
        snprintf(cs->failure, sizeof(cs->failure), "%s", e.msg);
        streams_unlock(ctl->set);
    }
    log_msg(LOG_INFO, "control", "delivery stream '%s' is CREATING", name);
    arn_of(ctl, name, arn, sizeof(arn));
    return reply(k, json_pack("{s:s}", "DeliveryStreamARN", arn));
}

/* The stream 'name' for a change; NULL with the error sent. */
static struct streams_item *changeable(struct call *k, const char *name,
                                       const char *what)
{
    struct streams_item *it;
    struct ctl_stream *cs;

    it = streams_find(k->ctl->set, name);
    if (it == NULL) {
        not_found(k, name);
        return NULL;
    }
    cs = it->owner;
    if (cs->from_config) {
        fail(k, "InvalidArgumentException", "Firehose %s is defined in the "
             "config file %s and can't be %s through the API: change the "
             "config file and restart firehosed", name, k->ctl->c->path,
             what);
        return NULL;
    }
    return it;
}

static int op_delete(struct call *k)
{
    struct control *ctl = k->ctl;
    struct streams_item *it;
    struct err e = { 0, "" };
    const char *name;
    json_t *force = json_object_get(k->req, "AllowForceDelete");

    if (need_str(k, "DeliveryStreamName", "deliveryStreamName", &name) != 0)
        return 0;
    if (force != NULL && !json_is_boolean(force))
        return fail(k, "SerializationException",
                    "AllowForceDelete must be true or false");
    streams_rdlock(ctl->set);
    it = changeable(k, name, "deleted");
    if (it != NULL && it->status == STREAMS_CREATING) {
        streams_unlock(ctl->set);
        return fail(k, "ResourceInUseException", "Firehose %s is in "
                    "CREATING state: wait until it is ACTIVE", name);
    }
    streams_unlock(ctl->set);
    if (it == NULL)
        return 0;
    if (it->status == STREAMS_DELETING)
        return reply(k, json_object());
    /* Once this write lock is held no put is in flight; after it none
     * finds the stream ACTIVE. */
    streams_wrlock(ctl->set);
    it->status = STREAMS_DELETING;
    ((struct ctl_stream *)it->owner)->force = json_is_true(force);
    streams_unlock(ctl->set);
    if (ctl_job_spawn(ctl, ctl_delete_job, it, &e) != 0)
        return fail(k, "InternalFailure", "%s", e.msg);
    log_msg(LOG_INFO, "control", "delivery stream '%s' is DELETING%s", name,
            json_is_true(force) ? " (AllowForceDelete: undelivered data is "
            "discarded)" : "");
    return reply(k, json_object());
}

/* ------------------------------------------------------------ update */

/* UpdateDestination member -> the configuration member it updates. */
static const struct {
    const char *update, *conf;
} update_keys[] = {
    { "ExtendedS3DestinationUpdate", "ExtendedS3DestinationConfiguration" },
    { "S3DestinationUpdate", "S3DestinationConfiguration" },
    { "LocalDirectoryDestinationUpdate",
      "LocalDirectoryDestinationConfiguration" },
    { "HttpEndpointDestinationUpdate",
      "HttpEndpointDestinationConfiguration" },
    { "AmazonopensearchserviceDestinationUpdate",
      "AmazonopensearchserviceDestinationConfiguration" },
    { "ElasticsearchDestinationUpdate",
      "ElasticsearchDestinationConfiguration" },
};

/* Update shapes name their S3 parts S3Update and S3BackupUpdate. */
static void rename_update_members(json_t *u)
{
    static const char *const from[] = { "S3Update", "S3BackupUpdate" };
    static const char *const to[] = { "S3Configuration",
                                      "S3BackupConfiguration" };

    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(u, from[i]);
        if (v != NULL) {
            json_object_set(u, to[i], v);
            json_object_del(u, from[i]);
        }
    }
}

static int is_search(const char *key)
{
    return strstr(key, "opensearch") != NULL ||
           strstr(key, "Elasticsearch") != NULL;
}

static int is_s3(const char *key)
{
    return strcmp(key, "ExtendedS3DestinationConfiguration") == 0 ||
           strcmp(key, "S3DestinationConfiguration") == 0;
}

/* The stream object after the update 'u' of member 'ukey' (new ref), or
 * NULL with the error sent. */
static json_t *merged_conf(struct call *k, json_t *conf, size_t ui,
                           json_t *u)
{
    const char *old_key = NULL, *new_key = update_keys[ui].conf;
    json_t *m = json_deep_copy(conf), *old, *nu = json_deep_copy(u);

    if (m == NULL || nu == NULL) {
        json_decref(m);
        json_decref(nu);
        fail(k, "InternalFailure", "out of memory");
        return NULL;
    }
    rename_update_members(nu);
    old = ctl_desc_dest_conf(m, &old_key);
    if (old_key != NULL && is_search(old_key) != is_search(new_key)) {
        json_decref(m);
        json_decref(nu);
        fail(k, "InvalidArgumentException", "Changing the destination "
             "between %s and %s is not supported", old_key, new_key);
        return NULL;
    }
    /* Extended S3 and legacy S3 are one destination type. */
    if (old_key != NULL && (strcmp(old_key, new_key) == 0 ||
                            (is_s3(old_key) && is_s3(new_key)))) {
        json_t *base = json_deep_copy(old);
        json_object_update_recursive(base, nu);
        json_decref(nu);
        nu = base;
        if (is_s3(old_key))
            new_key = "ExtendedS3DestinationConfiguration";
    }
    if (old_key != NULL)
        json_object_del(m, old_key);
    json_object_set_new(m, new_key, nu);
    return m;
}

/* Firehose's one-way switches. */
static int one_way(struct call *k, const struct cfg_stream *o,
                   const struct cfg_stream *n, json_t *oconf, json_t *nconf)
{
    json_t *ob = json_object_get(ctl_desc_dest_conf(oconf, NULL),
                                 "S3BackupMode");
    json_t *nb = json_object_get(ctl_desc_dest_conf(nconf, NULL),
                                 "S3BackupMode");

    if (o->s3.dynamic_partitioning != n->s3.dynamic_partitioning)
        return fail(k, "InvalidArgumentException", "Dynamic partitioning "
                    "can't be %s on an existing stream",
                    o->s3.dynamic_partitioning ? "disabled" : "enabled"),
               -1;
    if (o->dest_kind == CFG_DEST_S3 && json_is_string(ob) &&
        strcmp(json_string_value(ob), "Enabled") == 0 &&
        (!json_is_string(nb) ||
         strcmp(json_string_value(nb), "Enabled") != 0))
        return fail(k, "InvalidArgumentException", "S3BackupMode can't be "
                    "changed from Enabled to Disabled"), -1;
    if (o->dest_kind == CFG_DEST_OPENSEARCH && o->backup_all != n->backup_all)
        return fail(k, "InvalidArgumentException", "S3BackupMode of an "
                    "OpenSearch destination can't be changed"), -1;
    return 0;
}

static int op_update(struct call *k)
{
    struct control *ctl = k->ctl;
    struct streams_item *it;
    struct ctl_stream *cs;
    struct cfg_stream *ncfg = NULL;
    struct stream *nst = NULL;
    struct err e = { 0, "" };
    const char *name, *ver, *did;
    char *errors = NULL, nver[32];
    json_t *u = NULL, *m, *tagged;
    size_t ui = 0, nu = 0;
    int64_t old_updated;
    json_t *old_conf;
    struct cfg_stream *old_cfg;

    if (need_str(k, "DeliveryStreamName", "deliveryStreamName", &name) != 0 ||
        need_str(k, "CurrentDeliveryStreamVersionId",
                 "currentDeliveryStreamVersionId", &ver) != 0 ||
        need_str(k, "DestinationId", "destinationId", &did) != 0)
        return 0;
    for (size_t i = 0; i < sizeof(update_keys) / sizeof(update_keys[0]);
         i++) {
        json_t *v = json_object_get(k->req, update_keys[i].update);
        if (v == NULL)
            continue;
        if (!json_is_object(v))
            return fail(k, "SerializationException", "%s must be an object",
                        update_keys[i].update);
        u = v;
        ui = i;
        nu++;
    }
    {
        const char *key;
        json_t *v;
        json_object_foreach(k->req, key, v) {
            size_t i;
            for (i = 0; i < sizeof(update_keys) / sizeof(update_keys[0]); i++)
                if (strcmp(key, update_keys[i].update) == 0)
                    break;
            if (i == sizeof(update_keys) / sizeof(update_keys[0]) &&
                strcmp(key, "DeliveryStreamName") != 0 &&
                strcmp(key, "CurrentDeliveryStreamVersionId") != 0 &&
                strcmp(key, "DestinationId") != 0)
                return fail(k, "InvalidArgumentException", "UpdateDestination "
                            "member %.100s is not supported", key);
        }
    }
    streams_rdlock(ctl->set);
    it = changeable(k, name, "updated");
    streams_unlock(ctl->set);
    if (it == NULL)
        return 0;
    cs = it->owner;
    if (it->status != STREAMS_ACTIVE)
        return fail(k, "ResourceInUseException", "Firehose %s is not ACTIVE "
                    "(it is %s)", name, ctl_desc_status_name(it->status));
    if (strcmp(ver, cs->cfg->version_id) != 0)
        return fail(k, "ConcurrentModificationException", "Cannot update "
                    "firehose: %s since the current version id: %s and "
                    "specified version id: %.50s do not match", name,
                    cs->cfg->version_id, ver);
    if (strcmp(did, CTL_DESC_DEST_ID) != 0)
        return fail(k, "InvalidArgumentException", "Destination %.100s not "
                    "found: firehose %s has one destination, %s", did, name,
                    CTL_DESC_DEST_ID);
    if (nu != 1)
        return fail(k, "InvalidArgumentException", "Exactly one destination "
                    "update is supported for a Firehose (found %zu)", nu);
    if ((m = merged_conf(k, cs->conf, ui, u)) == NULL)
        return 0;
    /* Validate with the stream's tags, as at create. */
    tagged = json_deep_copy(m);
    if (tagged != NULL && json_array_size(cs->tags) > 0)
        json_object_set(tagged, "Tags", cs->tags);
    if (tagged == NULL ||
        ctl_parse_stream(tagged, "request", ctl->svc, &ncfg, &errors) != 0) {
        json_decref(tagged);
        json_decref(m);
        cfg_errors(k, errors ? errors : "request: : out of memory");
        free(errors);
        return 0;
    }
    json_decref(tagged);
    if (one_way(k, cs->cfg, ncfg, cs->conf, m) != 0 ||
        (ctl_lua_ready(ctl, ncfg, &e) != 0 &&
         fail(k, "InvalidArgumentException", "%s", e.msg) == 0)) {
        json_decref(m);
        cfg_stream_free(ncfg);
        return 0;
    }
    snprintf(nver, sizeof(nver), "%llu",
             strtoull(cs->cfg->version_id, NULL, 10) + 1);
    free(ncfg->version_id);
    if ((ncfg->version_id = strdup(nver)) == NULL) {
        json_decref(m);
        cfg_stream_free(ncfg);
        return fail(k, "InternalFailure", "out of memory");
    }
    old_conf = cs->conf;
    old_cfg = cs->cfg;
    old_updated = cs->updated_ms;
    cs->conf = m;
    cs->cfg = ncfg;
    cs->updated_ms = util_now_ms();
    if (ctl_persist(ctl, cs, &e) != 0) {
        cs->conf = old_conf;
        cs->cfg = old_cfg;
        cs->updated_ms = old_updated;
        json_decref(m);
        cfg_stream_free(ncfg);
        log_msg(LOG_ERROR, "control", "updating delivery stream '%s': %s",
                name, e.msg);
        return fail(k, "InternalFailure", "The update could not be saved "
                    "in StateDirectory: %s", e.msg);
    }
    /* Producers wait while the workers finish the batch in flight and the
     * stream reopens its spool with the new configuration. */
    streams_wrlock(ctl->set);
    stream_free(it->st);
    it->st = NULL;
    if (stream_open(ncfg, ctl->svc, ctl->xh, &nst, &e) != 0 ||
        stream_start(nst, &e) != 0) {
        struct err e2 = { 0, "" };
        log_msg(LOG_ERROR, "control", "delivery stream '%s': the updated "
                "configuration could not be started, keeping version %s: "
                "%s", name, old_cfg->version_id, e.msg);
        stream_free(nst);
        nst = NULL;
        cs->conf = old_conf;
        cs->cfg = old_cfg;
        cs->updated_ms = old_updated;
        if (stream_open(old_cfg, ctl->svc, ctl->xh, &nst, &e2) != 0 ||
            stream_start(nst, &e2) != 0) {
            log_msg(LOG_ERROR, "control", "delivery stream '%s' could not "
                    "be reopened: %s", name, e2.msg);
            stream_free(nst);
            nst = NULL;
            it->status = STREAMS_CREATING_FAILED;
            snprintf(cs->failure, sizeof(cs->failure), "%s", e2.msg);
        }
        it->st = nst;
        streams_unlock(ctl->set);
        (void)ctl_persist(ctl, cs, &e2);
        json_decref(m);
        cfg_stream_free(ncfg);
        return fail(k, "InternalFailure", "The updated configuration could "
                    "not be started: %s", e.msg);
    }
    it->st = nst;
    streams_unlock(ctl->set);
    json_decref(old_conf);
    cfg_stream_free(old_cfg);
    log_msg(LOG_INFO, "control", "delivery stream '%s' updated to version "
            "%s", name, nver);
    return reply(k, json_object());
}

/* -------------------------------------------------------------- tags */

static json_t *tag_find(json_t *tags, const char *key, size_t *at)
{
    size_t i;
    json_t *t;

    json_array_foreach(tags, i, t) {
        if (strcmp(json_string_value(json_object_get(t, "Key")), key) == 0) {
            if (at != NULL)
                *at = i;
            return t;
        }
    }
    return NULL;
}

/* Save the tags of an API stream; the config file's stay in memory. */
static int tags_changed(struct call *k, struct ctl_stream *cs, json_t *old)
{
    struct err e = { 0, "" };

    if (cs->from_config || ctl_persist(k->ctl, cs, &e) == 0) {
        json_decref(old);
        return reply(k, json_object());
    }
    json_decref(cs->tags);
    cs->tags = old;
    return fail(k, "InternalFailure", "The tags could not be saved: %s",
                e.msg);
}

static int op_tag(struct call *k)
{
    struct streams_item *it;
    struct ctl_stream *cs;
    const char *name;
    json_t *tags, *t, *next, *old;
    size_t i;
    char why[300];

    if (need_str(k, "DeliveryStreamName", "deliveryStreamName", &name) != 0 ||
        need_list(k, "Tags", "tags", &tags) != 0)
        return 0;
    json_array_foreach(tags, i, t) {
        json_t *key = json_object_get(t, "Key"), *val;
        val = json_object_get(t, "Value");
        if (!json_is_string(key) || (val != NULL && !json_is_string(val)))
            return fail(k, "SerializationException", "Tags[%zu] must be "
                        "{\"Key\": string, \"Value\": string}", i);
        if (cfg_tag_check(json_string_value(key), json_string_value(val),
                          why, sizeof(why)) != 0)
            return fail(k, strstr(why, "reserved") != NULL
                        ? "InvalidArgumentException" : "ValidationException",
                        "%s", why);
    }
    streams_rdlock(k->ctl->set);
    it = streams_find(k->ctl->set, name);
    streams_unlock(k->ctl->set);
    if (it == NULL)
        return not_found(k, name);
    cs = it->owner;
    if ((next = json_deep_copy(cs->tags)) == NULL)
        return fail(k, "InternalFailure", "out of memory");
    json_array_foreach(tags, i, t) {
        json_t *have = tag_find(next, json_string_value(
                                json_object_get(t, "Key")), NULL);
        json_t *copy = json_deep_copy(t);
        if (have != NULL)
            json_object_update(have, copy), json_decref(copy);
        else
            json_array_append_new(next, copy);
    }
    if (json_array_size(next) > CONTROL_MAX_TAGS) {
        size_t n = json_array_size(next);
        json_decref(next);
        return fail(k, "LimitExceededException", "Firehose %s would have %zu "
                    "tags: the limit is %d per stream", name, n,
                    CONTROL_MAX_TAGS);
    }
    old = cs->tags;
    cs->tags = next;
    return tags_changed(k, cs, old);
}

static int op_untag(struct call *k)
{
    struct streams_item *it;
    struct ctl_stream *cs;
    const char *name;
    json_t *keys, *v, *next, *old;
    size_t i, at;

    if (need_str(k, "DeliveryStreamName", "deliveryStreamName", &name) != 0 ||
        need_list(k, "TagKeys", "tagKeys", &keys) != 0)
        return 0;
    json_array_foreach(keys, i, v)
        if (!json_is_string(v))
            return fail(k, "SerializationException", "TagKeys[%zu] must be "
                        "a string", i);
    streams_rdlock(k->ctl->set);
    it = streams_find(k->ctl->set, name);
    streams_unlock(k->ctl->set);
    if (it == NULL)
        return not_found(k, name);
    cs = it->owner;
    if ((next = json_deep_copy(cs->tags)) == NULL)
        return fail(k, "InternalFailure", "out of memory");
    json_array_foreach(keys, i, v)
        if (tag_find(next, json_string_value(v), &at) != NULL)
            json_array_remove(next, at);
    old = cs->tags;
    cs->tags = next;
    return tags_changed(k, cs, old);
}

static int cmp_tags(const void *x, const void *y)
{
    json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;

    return strcmp(json_string_value(json_object_get(a, "Key")),
                  json_string_value(json_object_get(b, "Key")));
}

static int op_list_tags(struct call *k)
{
    struct streams_item *it;
    struct ctl_stream *cs;
    const char *name, *after = NULL;
    long long limit = 50;
    json_t *v, *out, *sorted[CONTROL_MAX_TAGS];
    size_t i, n = 0;
    int more = 0;

    if (need_str(k, "DeliveryStreamName", "deliveryStreamName", &name) != 0 ||
        opt_int(k, "Limit", "limit", 1, 50, &limit) != 0)
        return 0;
    if ((v = json_object_get(k->req, "ExclusiveStartTagKey")) != NULL) {
        if (!json_is_string(v))
            return fail(k, "SerializationException",
                        "ExclusiveStartTagKey must be a string");
        after = json_string_value(v);
    }
    streams_rdlock(k->ctl->set);
    it = streams_find(k->ctl->set, name);
    streams_unlock(k->ctl->set);
    if (it == NULL)
        return not_found(k, name);
    cs = it->owner;
    json_array_foreach(cs->tags, i, v)
        if (n < CONTROL_MAX_TAGS)
            sorted[n++] = v;
    qsort(sorted, n, sizeof(*sorted), cmp_tags);
    out = json_array();
    for (i = 0; out && i < n; i++) {
        if (after && strcmp(json_string_value(json_object_get(sorted[i],
                                                              "Key")),
                            after) <= 0)
            continue;
        if ((long long)json_array_size(out) == limit) {
            more = 1;
            break;
        }
        json_array_append(out, sorted[i]);
    }
    return reply(k, out ? json_pack("{s:o,s:b}", "Tags", out, "HasMoreTags",
                                    more) : NULL);
}

/* --------------------------------------------------------- the API */

int ctl_ops_call(struct control *ctl, const char *op, const char *body,
                 size_t len, struct buf *out, struct control_reply *r)
{
    static const struct {
        const char *name;
        int (*fn)(struct call *k);
    } ops[] = {
        { "CreateDeliveryStream", op_create },
        { "DeleteDeliveryStream", op_delete },
        { "DescribeDeliveryStream", op_describe },
        { "ListDeliveryStreams", op_list },
        { "UpdateDestination", op_update },
        { "TagDeliveryStream", op_tag },
        { "UntagDeliveryStream", op_untag },
        { "ListTagsForDeliveryStream", op_list_tags },
    };
    struct call k = { ctl, out, r, NULL };
    json_error_t je;
    size_t i;

    for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (strcmp(op, ops[i].name) == 0)
            break;
    if (i == sizeof(ops) / sizeof(ops[0]))
        return -1;
    k.req = len == 0 ? json_object()
                     : json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (k.req == NULL || !json_is_object(k.req)) {
        fail(&k, "SerializationException", "Malformed request body: %s",
             k.req ? "not a JSON object" : je.text);
        json_decref(k.req);
        return 0;
    }
    pthread_mutex_lock(&ctl->mu);
    ops[i].fn(&k);
    pthread_mutex_unlock(&ctl->mu);
    json_decref(k.req);
    return 0;
}
