/* cfg.c - the config loader (see cfg.h): the root, stream and tag shapes,
 * the checks across streams, loading and freeing. The walker and its error
 * lines are in cfg_walk.c; the other shapes by area in cfg_dest.c,
 * cfg_proc.c, cfg_src.c and cfg_svc.c. */
#include "cfg.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_dest.h"
#include "cfg_src.h"
#include "cfg_svc.h"
#include "cfg_walk.h"

static int check_stream_name(json_t *v, char *why, size_t n)
{
    const char *s = json_string_value(v);

    /* The name is a directory under StateDirectory, which also holds the
     * streams created through the API in "streams". */
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0 ||
        strcmp(s, "streams") == 0) {
        snprintf(why, n, "\"%s\" is reserved (a directory in "
                 "StateDirectory): choose another name", s);
        return -1;
    }
    if (cfg_all_in(s, "_.-"))
        return 0;
    snprintf(why, n, "\"%s\" may only contain a-z A-Z 0-9 _ . -", s);
    return -1;
}

/* Characters of a UTF-8 string (bytes that do not start one are skipped). */
static size_t utf8_chars(const char *s)
{
    size_t k = 0;

    for (; *s != '\0'; s++)
        k += ((unsigned char)*s & 0xC0) != 0x80;
    return k;
}

int cfg_tag_check(const char *key, const char *value, char *why, size_t n)
{
    /* Firehose: ^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$; every non-ASCII
     * character passes here as a letter. */
    for (const char *p = key; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;

        if (c < 0x80 && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') ||
                          strchr(" _.:/=+-@%", c) != NULL)) {
            snprintf(why, n, "tag key \"%.128s\" has the character '%c': "
                     "only letters, digits, spaces and _ . : / = + - @ %% "
                     "are allowed", key, c >= 0x20 && c < 0x7F ? c : '?');
            return -1;
        }
    }
    if (key[0] == '\0' || utf8_chars(key) > 128) {
        snprintf(why, n, "tag key \"%.128s\" must have 1 to 128 characters",
                 key);
        return -1;
    }
    if (strncmp(key, "aws:", 4) == 0) {
        snprintf(why, n, "tag key \"%.128s\": the prefix \"aws:\" is "
                 "reserved for AWS", key);
        return -1;
    }
    if (value != NULL && utf8_chars(value) > 256) {
        snprintf(why, n, "the value of tag \"%.128s\" is longer than 256 "
                 "characters", key);
        return -1;
    }
    return 0;
}

static int check_tag_key(json_t *v, char *why, size_t n)
{
    return cfg_tag_check(json_string_value(v), NULL, why, n);
}

static int check_tag_value(json_t *v, char *why, size_t n)
{
    return cfg_tag_check("x", json_string_value(v), why, n);
}

/* The destination keys of a stream, and what each becomes. */
static const struct {
    const char *key;
    enum cfg_dest_kind kind;
} dest_keys[] = {
    { "LocalDirectoryDestinationConfiguration", CFG_DEST_LOCAL },
    { "ExtendedS3DestinationConfiguration", CFG_DEST_S3 },
    { "S3DestinationConfiguration", CFG_DEST_S3 },
    { "HttpEndpointDestinationConfiguration", CFG_DEST_HTTP },
    { "AmazonopensearchserviceDestinationConfiguration", CFG_DEST_OPENSEARCH },
    { "ElasticsearchDestinationConfiguration", CFG_DEST_OPENSEARCH },
};

static void stream_finish(struct cfg_walk *w, const char *path, json_t *obj,
                          void *dst)
{
    struct cfg_stream *st = dst;
    size_t i, n = 0;

    for (i = 0; i < sizeof(dest_keys) / sizeof(dest_keys[0]); i++)
        if (json_object_get(obj, dest_keys[i].key) != NULL) {
            n++;
            if (st != NULL)
                st->dest_kind = dest_keys[i].kind;
        }
    if (n != 1)
        cfg_err(w, path, "Exactly one destination configuration is "
                "supported for a Firehose (found %zu of "
                "LocalDirectoryDestinationConfiguration, "
                "ExtendedS3DestinationConfiguration, "
                "S3DestinationConfiguration, ...)", n);
    if (st == NULL)
        return;
    if (st->type == CFG_STREAM_KINESIS &&
        !json_is_object(json_object_get(obj, "KinesisStreamSourceConfiguration")))
        cfg_err(w, path, "DeliveryStreamType KinesisStreamAsSource needs "
                "KinesisStreamSourceConfiguration");
    if (st->type != CFG_STREAM_KINESIS &&
        json_object_get(obj, "KinesisStreamSourceConfiguration") != NULL)
        cfg_err(w, path, "KinesisStreamSourceConfiguration needs "
                "DeliveryStreamType KinesisStreamAsSource");
    if (st->type == CFG_STREAM_KINESIS &&
        json_object_get(obj, "DirectPutSourceConfiguration") != NULL)
        cfg_err(w, path, "DirectPutSourceConfiguration is for DirectPut "
                "streams");
    for (i = 1; i < st->n_tags; i++) {
        for (size_t j = 0; j < i; j++) {
            char sub[CFG_PATH_MAX];

            if (st->tags[i].key == NULL || st->tags[j].key == NULL ||
                strcmp(st->tags[i].key, st->tags[j].key) != 0)
                continue;
            cfg_child_path(sub, path, "Tags");
            cfg_err(w, sub, "tag key \"%s\" is given twice (entries %zu "
                    "and %zu)", st->tags[i].key, j, i);
            break;
        }
    }
    if (st->type != CFG_STREAM_DIRECT_PUT &&
        json_object_get(obj, "DirectPutQuotas") != NULL) {
        char sub[CFG_PATH_MAX];

        cfg_child_path(sub, path, "DirectPutQuotas");
        cfg_err(w, sub, "quotas apply to DirectPut streams only (this "
                "stream reads from its DeliveryStreamType source)");
    }
    if (st->s3.source_backup && st->dest_kind != CFG_DEST_S3)
        cfg_err(w, path, "S3BackupMode Enabled (source-record backup) is "
                "for ExtendedS3DestinationConfiguration only");
    if (st->dest_kind == CFG_DEST_S3) {
        json_t *ext = json_object_get(obj,
                                      "ExtendedS3DestinationConfiguration");
        json_t *bk = json_object_get(ext, "S3BackupConfiguration");
        char sub[CFG_PATH_MAX];

        cfg_child_path(sub, path, "ExtendedS3DestinationConfiguration");
        if (st->s3.source_backup && !json_is_object(bk)) {
            cfg_err(w, sub, "S3BackupConfiguration is required when "
                    "S3BackupMode is Enabled");
        } else if (st->s3.source_backup) {
            /* Validated (and its errors reported) with the destination;
             * walked again here only to keep it, beside st->s3. */
            struct cfg_walk quiet = { w->file, { NULL, 0, 0 }, 0 };
            cfg_walk_shape(&quiet, sub, bk, &cfg_s3_shape, &st->backup);
            buf_release(&quiet.out);
        }
    }
    cfg_set_str(w, path, &st->version_id, "1");
    /* The legacy S3 shape has no FileExtension or CustomTimeZone. */
    if (st->s3.file_extension == NULL)
        cfg_set_str(w, path, &st->s3.file_extension, "");
    if (st->s3.custom_time_zone == NULL)
        cfg_set_str(w, path, &st->s3.custom_time_zone, "");
}

/* A DomainARN is resolved through Service.Endpoints.OpenSearch. */
static void domain_finish(struct cfg_walk *w, const struct cfg *c)
{
    char sub[CFG_PATH_MAX];
    size_t i;

    for (i = 0; i < c->n_streams; i++) {
        if (c->streams[i].dest_kind != CFG_DEST_OPENSEARCH ||
            c->streams[i].os.domain_arn == NULL ||
            c->service.endpoint_opensearch != NULL)
            continue;
        snprintf(sub, sizeof(sub), "DeliveryStreams[%zu].%s.DomainARN", i,
                 c->streams[i].os.elasticsearch
                 ? "ElasticsearchDestinationConfiguration"
                 : "AmazonopensearchserviceDestinationConfiguration");
        cfg_err(w, sub, "a DomainARN needs Service.Endpoints.OpenSearch "
                "(the domain's URL), or give ClusterEndpoint instead");
    }
}

static void root_finish(struct cfg_walk *w, const char *path, json_t *obj,
                        void *dst)
{
    struct cfg *c = dst;
    char sub[CFG_PATH_MAX];
    size_t i, j;

    (void)path;
    (void)obj;
    domain_finish(w, c);
    for (i = j = 0; i < c->n_streams; i++)
        j += c->streams[i].type == CFG_STREAM_KINESIS;
    if (j > 1 && c->service.lease_table != NULL)
        cfg_err(w, "Service.LeaseStore.TableName", "one lease table can't "
                "serve %zu Kinesis-sourced streams (their shard ids "
                "collide): leave TableName out (each stream then uses "
                "firehosed-<stream>)", j);
    for (i = 1; i < c->n_streams; i++) {
        if (c->streams[i].name == NULL)
            continue;
        for (j = 0; j < i; j++) {
            if (c->streams[j].name == NULL ||
                strcmp(c->streams[i].name, c->streams[j].name) != 0)
                continue;
            snprintf(sub, sizeof(sub), "DeliveryStreams[%zu]."
                     "DeliveryStreamName", i);
            cfg_err(w, sub, "\"%s\" is already the name of "
                    "DeliveryStreams[%zu]", c->streams[i].name, j);
            break;
        }
    }
}

/* ---- the tables: one per Firehose shape ---- */

static const struct cfg_enum stream_type_enum[] = {
    { "DirectPut", CFG_STREAM_DIRECT_PUT, NULL },
    { "KinesisStreamAsSource", CFG_STREAM_KINESIS, NULL },
    { "MSKAsSource", -1, "DeliveryStreamType MSKAsSource is not supported" },
    { "DatabaseAsSource", -1, "DeliveryStreamType DatabaseAsSource is not "
      "supported" },
    { 0 }
};

static const struct cfg_field tag_fields[] = {
    { .name = "Key", .type = CFG_STR, .offset = offsetof(struct cfg_tag, key),
      .min = 1, .max = 512, .flags = CFG_REQUIRED, .check = check_tag_key,
      .help = "1-128 characters, not starting with aws:" },
    { .name = "Value", .type = CFG_STR,
      .offset = offsetof(struct cfg_tag, value), .max = 1024,
      .check = check_tag_value, .help = "0-256 characters" },
    { 0 }
};
static const struct cfg_shape tag_shape = {
    tag_fields, sizeof(struct cfg_tag), NULL
};

#define STF(m) offsetof(struct cfg_stream, m)

static const struct cfg_field stream_fields[] = {
    { .name = "DeliveryStreamName", .type = CFG_STR, .offset = STF(name),
      .min = 1, .max = 64, .flags = CFG_REQUIRED,
      .check = check_stream_name, .help = "1-64 of a-z A-Z 0-9 _ . -" },
    { .name = "DeliveryStreamType", .type = CFG_ENUM, .offset = STF(type),
      .sub = stream_type_enum, .def = "DirectPut",
      .help = "DirectPut or KinesisStreamAsSource" },
    { .name = "DirectPutQuotas", .type = CFG_OBJ, .offset = STF(quotas),
      .sub = &cfg_quotas_shape },
    { .name = "LocalDirectoryDestinationConfiguration", .type = CFG_OBJ,
      .offset = STF(s3), .sub = &cfg_local_shape },
    { .name = "ExtendedS3DestinationConfiguration", .type = CFG_OBJ,
      .offset = STF(s3), .sub = &cfg_ext_s3_shape },
    { .name = "S3DestinationConfiguration", .type = CFG_OBJ,
      .offset = STF(s3), .sub = &cfg_s3_shape },
    { .name = "HttpEndpointDestinationConfiguration", .type = CFG_OBJ,
      .offset = 0, .sub = &cfg_http_shape },
    { .name = "AmazonopensearchserviceDestinationConfiguration",
      .type = CFG_OBJ, .offset = 0, .sub = &cfg_os_shape },
    { .name = "ElasticsearchDestinationConfiguration", .type = CFG_OBJ,
      .offset = 0, .sub = &cfg_es_shape },
    { .name = "KinesisStreamSourceConfiguration", .type = CFG_OBJ,
      .offset = 0, .sub = &cfg_kinesis_src_shape },
    { .name = "DirectPutSourceConfiguration", .type = CFG_OBJ,
      .flags = CFG_NOSTORE, .sub = &cfg_direct_put_shape },
    { .name = "Tags", .type = CFG_LIST, .offset = STF(tags),
      .sub = &tag_shape, .min = 1, .max = 50, .count_offset = STF(n_tags),
      .help = "[{\"Key\", \"Value\"}], 1 to 50" },
    { 0 }
};
static const struct cfg_shape stream_shape = {
    stream_fields, sizeof(struct cfg_stream), stream_finish
};

static const struct cfg_field root_fields[] = {
    { .name = "Service", .type = CFG_OBJ,
      .offset = offsetof(struct cfg, service), .sub = &cfg_service_shape },
    { .name = "DeliveryStreams", .type = CFG_LIST,
      .offset = offsetof(struct cfg, streams), .sub = &stream_shape,
      .min = 1, .max = 5000, .flags = CFG_REQUIRED,
      .count_offset = offsetof(struct cfg, n_streams),
      .help = "a list of 1 to 5000 streams" },
    { 0 }
};
static const struct cfg_shape root_shape = { root_fields, 0, root_finish };

/* ---- the API ---- */

static void s3_conf_release(struct cfg_s3 *s)
{
    free(s->kms_key_arn);
    free(s->sse);
    free(s->storage_class);
    free(s->bucket_arn);
    free(s->bucket);
    free(s->path);
    free(s->role_arn);
    free(s->prefix);
    free(s->error_prefix);
    free(s->file_extension);
    free(s->custom_time_zone);
    free(s->processing.lua_script);
    free(s->processing.jq_query);
    free(s->processing.deagg_delim);
}

static void free_secret(char *s)
{
    if (s != NULL)
        explicit_bzero(s, strlen(s));
    free(s);
}

/* What HTTP endpoint and OpenSearch streams add. */
static void dest_extras_release(struct cfg_stream *st)
{
    size_t i;

    s3_conf_release(&st->backup);
    free(st->http.url);
    free(st->http.name);
    free_secret(st->http.access_key);
    for (i = 0; i < st->http.n_attrs; i++) {
        free(st->http.attrs[i].name);
        free(st->http.attrs[i].value);
    }
    free(st->http.attrs);
    free(st->http.role_arn);
    free(st->os.cluster_endpoint);
    free(st->os.domain_arn);
    free(st->os.index_name);
    free(st->os.type_name);
    free(st->os.basic_user);
    free_secret(st->os.basic_password);
    free(st->os.role_arn);
}

static void stream_release(struct cfg_stream *st)
{
    for (size_t i = 0; i < st->n_tags; i++) {
        free(st->tags[i].key);
        free(st->tags[i].value);
    }
    free(st->tags);
    dest_extras_release(st);
    free(st->name);
    free(st->version_id);
    free(st->s3.bucket_arn);
    free(st->s3.bucket);
    free(st->s3.path);
    free(st->s3.role_arn);
    free(st->s3.prefix);
    free(st->s3.error_prefix);
    free(st->s3.file_extension);
    free(st->s3.custom_time_zone);
    free(st->s3.processing.lua_script);
    free(st->s3.processing.jq_query);
    free(st->s3.processing.deagg_delim);
    free(st->s3.kms_key_arn);
    free(st->s3.sse);
    free(st->s3.storage_class);
    free(st->kinesis.stream_arn);
    free(st->kinesis.stream_name);
    free(st->kinesis.region);
    free(st->kinesis.role_arn);
}

void cfg_free(struct cfg *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < c->n_streams; i++)
        stream_release(&c->streams[i]);
    free(c->streams);
    free(c->service.listen);
    free(c->service.listen_host);
    free(c->service.admin_listen);
    free(c->service.admin_host);
    free(c->service.state_dir);
    free(c->service.region);
    free(c->service.account_id);
    free(c->service.endpoint_s3);
    free(c->service.endpoint_opensearch);
    free(c->service.endpoint_kinesis);
    free(c->service.endpoint_dynamodb);
    free(c->service.worker_id);
    free(c->service.lease_table);
    free(c->service.transforms_dir);
    for (i = 0; i < c->service.n_credentials; i++) {
        struct cfg_credential *cr = &c->service.credentials[i];

        free(cr->access_key_id);
        if (cr->secret != NULL)
            explicit_bzero(cr->secret, strlen(cr->secret));
        free(cr->secret);
        free(cr->session_token);
    }
    free(c->service.credentials);
    free(c->service.credentials_file);
    free(c->service.tls.cert_file);
    free(c->service.tls.key_file);
    free(c->path);
    free(c);
}

/* Validate the parsed document 'root' (NULL: 'jerr' says why) into *out. */
static int load(const char *name, json_t *root, const json_error_t *jerr,
                struct cfg **out, char **errors)
{
    struct cfg_walk w = { name, { NULL, 0, 0 }, 0 };
    struct cfg *c;

    *out = NULL;
    if (errors != NULL)
        *errors = NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL || (c->path = strdup(name)) == NULL) {
        free(c);
        c = NULL;
        w.nerr++;
    } else if (root == NULL) {
        w.nerr++;
        if (jerr->line > 0)
            (void)buf_printf(&w.out, NULL, "%s: line %d, column %d: %s\n",
                             name, jerr->line, jerr->column, jerr->text);
        else
            (void)buf_printf(&w.out, NULL, "%s: %s\n", name, jerr->text);
    } else if (!json_is_object(root)) {
        cfg_err(&w, "(top level)", "expected an object, got %s",
                cfg_json_kind(root));
    } else {
        cfg_walk_shape(&w, "", root, &root_shape, c);
    }
    if (w.nerr == 0) {
        buf_release(&w.out);
        *out = c;
        return 0;
    }
    cfg_free(c);
    if (errors != NULL && w.out.p != NULL)
        *errors = (char *)w.out.p;      /* lines lost to ENOMEM are missing */
    else if (errors != NULL)
        *errors = strdup("out of memory loading the config\n");
    else
        buf_release(&w.out);
    return -1;
}

int cfg_load(const char *path, struct cfg **out, char **errors)
{
    json_error_t jerr;
    json_t *root;
    int rc;

    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    rc = load(path, root, &jerr, out, errors);
    json_decref(root);
    return rc;
}

int cfg_load_string(const char *name, const char *json, struct cfg **out,
                    char **errors)
{
    json_error_t jerr;
    json_t *root;
    int rc;

    root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    rc = load(name, root, &jerr, out, errors);
    json_decref(root);
    return rc;
}

int cfg_stream_parse(const char *name, const char *json, size_t len,
                     const struct cfg_service *svc, struct cfg_stream **out,
                     char **errors)
{
    struct cfg_walk w = { name, { NULL, 0, 0 }, 0 };
    struct cfg_stream *st;
    json_error_t jerr;
    json_t *root;

    *out = NULL;
    *errors = NULL;
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        cfg_err(&w, "", "out of memory");
    else if (root == NULL)
        cfg_err(&w, "", "malformed JSON at line %d, column %d: %s",
                jerr.line, jerr.column, jerr.text);
    else if (!json_is_object(root))
        cfg_err(&w, "", "expected an object, got %s", cfg_json_kind(root));
    else
        cfg_walk_shape(&w, "", root, &stream_shape, st);
    if (w.nerr == 0 && st->dest_kind == CFG_DEST_OPENSEARCH &&
        st->os.domain_arn != NULL && svc->endpoint_opensearch == NULL)
        cfg_err(&w, st->os.elasticsearch
                ? "ElasticsearchDestinationConfiguration.DomainARN"
                : "AmazonopensearchserviceDestinationConfiguration.DomainARN",
                "a DomainARN needs Service.Endpoints.OpenSearch in the "
                "config file, or give ClusterEndpoint instead");
    json_decref(root);
    if (w.nerr == 0) {
        buf_release(&w.out);
        *out = st;
        return 0;
    }
    cfg_stream_free(st);
    *errors = w.out.p != NULL ? (char *)w.out.p
                              : strdup("out of memory validating the "
                                       "stream\n");
    return -1;
}

void cfg_stream_free(struct cfg_stream *st)
{
    if (st == NULL)
        return;
    stream_release(st);
    free(st);
}

const char *cfg_compression_name(enum cfg_compression c)
{
    const struct cfg_enum *en;

    for (en = cfg_compression_enum; en->name != NULL; en++)
        if (en->value == (int)c)
            return en->name;
    return "UNKNOWN";
}
