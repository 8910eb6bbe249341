/* cfg_dest.c - see cfg_dest.h. */
#include "cfg_dest.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../delivery/err.h"
#include "../destinations/keys.h"
#include "cfg_proc.h"
#include "cfg_walk.h"

/* The part after "arn:<anything>:s3:::", or NULL when 'arn' does not
 * match arn:.*:s3:::[\w.-]{1,255}. Bucket names hold no ':', so only the
 * last ":s3:::" can start the bucket. */
static const char *bucket_of(const char *arn)
{
    const char *p, *last = NULL;

    if (strncmp(arn, "arn:", 4) != 0)
        return NULL;
    for (p = arn + 3; (p = strstr(p, ":s3:::")) != NULL; p++)
        last = p;
    if (last == NULL)
        return NULL;
    last += 6;
    if (strlen(last) < 1 || strlen(last) > 255 || !cfg_all_in(last, "_.-"))
        return NULL;
    return last;
}

static int check_bucket_arn(json_t *v, char *why, size_t n)
{
    if (bucket_of(json_string_value(v)) != NULL)
        return 0;
    snprintf(why, n, "\"%s\" is not an S3 bucket ARN "
             "(arn:aws:s3:::bucket-name)", json_string_value(v));
    return -1;
}
static int check_file_extension(json_t *v, char *why, size_t n)
{
    const char *s = json_string_value(v);

    if (s[0] == '\0' || (s[0] == '.' && s[1] != '\0' &&
                         strspn(s + 1, "0123456789abcdefghijklmnopqrstuvwxyz"
                                "!-_.*'()") == strlen(s + 1)))
        return 0;
    snprintf(why, n, "\"%s\" must be empty or a dot followed by "
             "0-9 a-z ! - _ . * ' ( )", s);
    return -1;
}

static int check_time_zone(json_t *v, char *why, size_t n)
{
    const char *s = json_string_value(v);
    struct err e;

    if (s[0] == '\0')
        return 0;
    if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ/_")
        != strlen(s)) {
        snprintf(why, n, "\"%s\" may only contain a-z A-Z / _", s);
        return -1;
    }
    /* The same reader that evaluates keys, so a zone accepted here is one
     * it can use. */
    if (keys_validate_time_zone(s, &e) != 0) {
        snprintf(why, n, "%s", e.msg);
        return -1;
    }
    return 0;
}

static int check_sse(json_t *v, char *why, size_t n)
{
    const char *s = json_string_value(v);

    if (strcmp(s, "AES256") == 0 || strcmp(s, "aws:kms") == 0)
        return 0;
    snprintf(why, n, "\"%s\" is not AES256 or aws:kms", s);
    return -1;
}

static int check_storage_class(json_t *v, char *why, size_t n)
{
    static const char *const ok[] = {
        "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA",
        "INTELLIGENT_TIERING", "GLACIER", "DEEP_ARCHIVE", "GLACIER_IR",
        "OUTPOSTS", "SNOW", "EXPRESS_ONEZONE",
    };
    const char *s = json_string_value(v);

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcmp(s, ok[i]) == 0)
            return 0;
    snprintf(why, n, "\"%s\" is not an S3 storage class (STANDARD, "
             "REDUCED_REDUNDANCY, STANDARD_IA, ONEZONE_IA, "
             "INTELLIGENT_TIERING, GLACIER, DEEP_ARCHIVE, GLACIER_IR, "
             "OUTPOSTS, SNOW, EXPRESS_ONEZONE)", s);
    return -1;
}

/* arn:.*:es:[a-zA-Z0-9\-]+:\d{12}:domain/[a-z][-0-9a-z]{2,27} */
static int check_domain_arn(json_t *v, char *why, size_t n)
{
    const char *s = json_string_value(v), *p = strstr(s, ":es:"), *q;
    size_t len;

    if (strncmp(s, "arn:", 4) != 0 || p == NULL)
        goto bad;
    p += 4;
    q = strchr(p, ':');
    if (q == NULL || q == p || strspn(p, "abcdefghijklmnopqrstuvwxyz"
                                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
        != (size_t)(q - p))
        goto bad;
    p = q + 1;
    if (strlen(p) <= 20 || !cfg_all_digits(p, 12) ||
        strncmp(p + 12, ":domain/", 8) != 0)
        goto bad;
    p += 20;
    len = strlen(p);
    if (len >= 3 && len <= 28 && p[0] >= 'a' && p[0] <= 'z' &&
        strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-") == len)
        return 0;
bad:
    snprintf(why, n, "\"%s\" is not an OpenSearch domain ARN "
             "(arn:aws:es:us-east-1:123456789012:domain/name)", s);
    return -1;
}

/* OpenSearch's rules for index names, checked here so that a bad name is
 * a config error instead of every document failing. */
static int check_index_name(json_t *v, char *why, size_t n)
{
    const char *s = json_string_value(v);

    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0 ||
        strchr("-_+", s[0]) != NULL) {
        snprintf(why, n, "\"%s\": an index name can't be . or .. or start "
                 "with - _ +", s);
        return -1;
    }
    for (; *s != '\0'; s++) {
        if ((*s >= 'A' && *s <= 'Z') || strchr("\\/*?\"<>| ,#:", *s)) {
            snprintf(why, n, "\"%s\": an index name is lowercase, without "
                     "\\ / * ? \" < > | , # : or spaces",
                     json_string_value(v));
            return -1;
        }
    }
    return 0;
}

/* Sent as a header value: one line. */
static int check_header_value(json_t *v, char *why, size_t n)
{
    if (strpbrk(json_string_value(v), "\r\n") == NULL)
        return 0;
    snprintf(why, n, "must not contain a line break (it is sent as an HTTP "
             "header)");
    return -1;
}

static int check_user_name(json_t *v, char *why, size_t n)
{
    if (strchr(json_string_value(v), ':') == NULL)
        return 0;
    snprintf(why, n, "a basic-auth user name can't contain ':'");
    return -1;
}

/* Whether an http(s) URL names this machine: 127.0.0.0/8, localhost or
 * [::1]. */
static int url_is_loopback(const char *url)
{
    const char *h = strstr(url, "://");
    size_t n;

    if (h == NULL)
        return 0;
    h += 3;
    if (strncmp(h, "[::1]", 5) == 0)
        return 1;
    n = strcspn(h, ":/?#");
    return (n == 9 && strncasecmp(h, "localhost", 9) == 0) ||
           (n >= 4 && strncmp(h, "127.", 4) == 0 &&
            strspn(h, "0123456789.") == n);
}

/* Firehose takes https:// only. Plain http:// is fine to this machine, and
 * elsewhere only when the config says AllowHttp. */
static void check_scheme(struct cfg_walk *w, const char *path,
                         const char *key, const char *url, int allow_http)
{
    char sub[CFG_PATH_MAX];

    if (url == NULL || strncmp(url, "https://", 8) == 0 || allow_http ||
        url_is_loopback(url))
        return;
    cfg_child_path(sub, path, key);
    cfg_err(w, sub, "plain http:// is only accepted to 127.0.0.1, localhost "
            "or [::1]; use https:// or set \"AllowHttp\": true");
}

/* ---- cross-field rules ---- */

static void buffering_finish(struct cfg_walk *w, const char *path,
                             json_t *obj, void *dst)
{
    int size, interval;

    (void)dst;
    if (obj == NULL)
        return;
    size = json_object_get(obj, "SizeInMBs") != NULL;
    interval = json_object_get(obj, "IntervalInSeconds") != NULL;
    if (size && !interval)
        cfg_err(w, path, "IntervalInSeconds is required when SizeInMBs is "
                "given");
    else if (interval && !size)
        cfg_err(w, path, "SizeInMBs is required when IntervalInSeconds is "
                "given");
}

static int json_nonempty_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    return json_is_string(v) && json_string_length(v) > 0;
}

static void cwlog_finish(struct cfg_walk *w, const char *path, json_t *obj,
                         void *dst)
{
    (void)dst;
    if (obj != NULL && json_is_true(json_object_get(obj, "Enabled")) &&
        (!json_nonempty_str(obj, "LogGroupName") ||
         !json_nonempty_str(obj, "LogStreamName")))
        cfg_err(w, path, "LogGroupName and LogStreamName are required when "
                "Enabled is true");
}

static void encryption_finish(struct cfg_walk *w, const char *path,
                              json_t *obj, void *dst)
{
    (void)dst;
    if (obj != NULL && json_object_get(obj, "NoEncryptionConfig") != NULL &&
        json_object_get(obj, "KMSEncryptionConfig") != NULL)
        cfg_err(w, path, "give NoEncryptionConfig or KMSEncryptionConfig, "
                "not both");
}

static void dest_finish(struct cfg_walk *w, const char *path, json_t *obj,
                        void *dst)
{
    struct cfg_s3 *s3 = dst;
    const char *bucket;
    struct err e = { 0, "" };

    if (s3 == NULL || obj == NULL)
        return;
    if (s3->bucket_arn != NULL &&
        (bucket = bucket_of(s3->bucket_arn)) != NULL)
        cfg_set_str(w, path, &s3->bucket, bucket);
    if (s3->max_active_partitions == 0)
        s3->max_active_partitions = 500;
    if (s3->partition_buffer_bytes == 0)
        s3->partition_buffer_bytes = 64u << 20;
    if (s3->processing.jq_query != NULL && !s3->dynamic_partitioning)
        cfg_err(w, path, "a MetadataExtraction processor needs "
                "DynamicPartitioningConfiguration.Enabled true");
    if (s3->dynamic_partitioning) {
        const struct cfg_processing *pc = &s3->processing;
        const char *pre = s3->prefix ? s3->prefix : "";

        if (!pc->enabled || (pc->lua_script == NULL && pc->jq_query == NULL))
            cfg_err(w, path, "DynamicPartitioningConfiguration needs an "
                    "enabled MetadataExtraction processor "
                    "(!{partitionKeyFromQuery:name}) or Lua processor whose "
                    "script returns partition keys "
                    "(!{partitionKeyFromLambda:name})");
        if (strstr(pre, "partitionKeyFromQuery:") != NULL &&
            (pc->jq_query == NULL || !pc->enabled))
            cfg_err(w, path, "Prefix uses !{partitionKeyFromQuery:...}: it "
                    "needs an enabled MetadataExtraction processor");
        if ((strstr(pre, "partitionKeyFromLambda:") != NULL ||
             strstr(pre, "partitionKeyFromLua:") != NULL) &&
            (pc->lua_script == NULL || !pc->enabled))
            cfg_err(w, path, "Prefix uses !{partitionKeyFromLambda:...}: it "
                    "needs an enabled Lua processor");
        if (s3->buffering.interval_s == 0)
            cfg_err(w, path, "BufferingHints.IntervalInSeconds can't be 0 "
                    "when dynamic partitioning is enabled");
    }
    if (s3->kms_key_arn != NULL && s3->sse != NULL &&
        strcmp(s3->sse, "aws:kms") != 0)
        cfg_err(w, path, "ServerSideEncryption %s conflicts with "
                "EncryptionConfiguration.KMSEncryptionConfig (SSE-KMS): "
                "give one of them", s3->sse);
    if (keys_validate(s3->prefix ? s3->prefix : "",
                      s3->error_prefix ? s3->error_prefix : "",
                      s3->dynamic_partitioning, &e) != 0)
        cfg_err(w, path, "%s", e.msg);
}

/* RequestConfiguration: attribute names are keys of one JSON object. */
static void request_finish(struct cfg_walk *w, const char *path,
                           json_t *obj, void *dst)
{
    struct cfg_http *h = dst;
    char sub[CFG_PATH_MAX];
    size_t i, j;

    if (h == NULL || obj == NULL)
        return;
    for (i = 0; i < h->n_attrs; i++) {
        const char *a = h->attrs[i].name;

        if (a == NULL)
            continue;
        snprintf(sub, sizeof(sub), "%s.CommonAttributes[%zu].AttributeName",
                 path, i);
        if (strspn(a, " \t\r\n") == strlen(a))
            cfg_err(w, sub, "must not be blank");
        for (j = 0; j < i; j++)
            if (h->attrs[j].name != NULL && strcmp(h->attrs[j].name, a) == 0) {
                cfg_err(w, sub, "\"%s\" is already the name of "
                        "CommonAttributes[%zu]", a, j);
                break;
            }
    }
}

/* HTTP endpoint and OpenSearch streams deliver records, not objects: the
 * core still reads buffering and processing from st->s3. */
static void http_finish(struct cfg_walk *w, const char *path, json_t *obj,
                        void *dst)
{
    struct cfg_stream *st = dst;
    char sub[CFG_PATH_MAX];

    if (st == NULL || obj == NULL)
        return;
    cfg_child_path(sub, path, "EndpointConfiguration");
    check_scheme(w, sub, "Url", st->http.url, st->http.allow_http);
    st->s3.compression = CFG_COMP_UNCOMPRESSED;
}

static void os_finish(struct cfg_walk *w, const char *path, json_t *obj,
                      void *dst)
{
    struct cfg_stream *st = dst;

    if (st == NULL || obj == NULL)
        return;
    if ((json_object_get(obj, "ClusterEndpoint") == NULL) ==
        (json_object_get(obj, "DomainARN") == NULL))
        cfg_err(w, path, "give exactly one of ClusterEndpoint "
                "(https://host:port) and DomainARN");
    check_scheme(w, path, "ClusterEndpoint", st->os.cluster_endpoint,
                 st->os.allow_http);
    st->s3.compression = CFG_COMP_UNCOMPRESSED;
}

static void es_finish(struct cfg_walk *w, const char *path, json_t *obj,
                      void *dst)
{
    struct cfg_stream *st = dst;

    os_finish(w, path, obj, dst);
    if (st != NULL && obj != NULL)
        st->os.elasticsearch = 1;
}

const struct cfg_enum cfg_compression_enum[] = {
    { "UNCOMPRESSED", CFG_COMP_UNCOMPRESSED, NULL },
    { "GZIP", CFG_COMP_GZIP, NULL },
    { "ZIP", CFG_COMP_ZIP, NULL },
    { "Snappy", CFG_COMP_SNAPPY, NULL },
    { "HADOOP_SNAPPY", CFG_COMP_HADOOP_SNAPPY, NULL },
    { 0 }
};

static const struct cfg_enum backup_mode_enum[] = {
    { "Disabled", 0, NULL },
    { "Enabled", 1, NULL },
    { 0 }
};

static const struct cfg_enum no_encryption_enum[] = {
    { "NoEncryption", 0, NULL },
    { 0 }
};

#define S3F(m) offsetof(struct cfg_s3, m)

static const struct cfg_field buffering_fields[] = {
    { .name = "SizeInMBs", .type = CFG_INT,
      .offset = offsetof(struct cfg_buffering, size_mb),
      .min = 1, .max = 128, .def = "5", .help = "1-128" },
    { .name = "IntervalInSeconds", .type = CFG_INT,
      .offset = offsetof(struct cfg_buffering, interval_s),
      .min = 0, .max = 900, .def = "300", .help = "0-900" },
    { 0 }
};
static const struct cfg_shape buffering_shape = {
    buffering_fields, 0, buffering_finish
};

static const struct cfg_field cwlog_fields[] = {
    { .name = "Enabled", .type = CFG_BOOL, .help = "true or false" },
    { .name = "LogGroupName", .type = CFG_STR, .max = 512 },
    { .name = "LogStreamName", .type = CFG_STR, .max = 512 },
    { 0 }
};
static const struct cfg_shape cwlog_shape = { cwlog_fields, 0, cwlog_finish };

static const struct cfg_field kms_fields[] = {
    { .name = "AWSKMSKeyARN", .type = CFG_STR, .min = 1, .max = 512,
      .flags = CFG_REQUIRED, .help = "a KMS key ARN" },
    { 0 }
};
static const struct cfg_shape kms_shape = { kms_fields, 0, NULL };

static const struct cfg_field encryption_fields[] = {
    { .name = "NoEncryptionConfig", .type = CFG_ENUM, .flags = CFG_NOSTORE,
      .sub = no_encryption_enum },
    { .name = "KMSEncryptionConfig", .type = CFG_OBJ, .sub = &kms_shape },
    { 0 }
};
static const struct cfg_shape encryption_shape = {
    encryption_fields, 0, encryption_finish
};

/* Fields every S3-like destination shares. */
#define FIELD_PREFIXES \
    { .name = "Prefix", .type = CFG_STR, .offset = S3F(prefix), \
      .max = 1024, .def = "", .help = "expressions: spec 4.3" }, \
    { .name = "ErrorOutputPrefix", .type = CFG_STR, \
      .offset = S3F(error_prefix), .max = 1024, .def = "", \
      .help = "expressions: spec 4.3" }
#define FIELD_BUFFERING \
    { .name = "BufferingHints", .type = CFG_OBJ, \
      .offset = S3F(buffering), .sub = &buffering_shape, \
      .help = "SizeInMBs 1-128, IntervalInSeconds 0-900" }
#define FIELD_COMPRESSION \
    { .name = "CompressionFormat", .type = CFG_ENUM, \
      .offset = S3F(compression), .sub = cfg_compression_enum, \
      .def = "UNCOMPRESSED", \
      .help = "UNCOMPRESSED, GZIP, ZIP, Snappy or HADOOP_SNAPPY" }, \
    { .name = "CompressionLevel", .type = CFG_INT, \
      .offset = S3F(compression_level), .min = 1, .max = 9, .def = "6", \
      .help = "ours: zlib level for GZIP/ZIP, 1 (fastest) - 9" }
#define FIELD_CWLOG \
    { .name = "CloudWatchLoggingOptions", .type = CFG_OBJ, \
      .flags = CFG_NOSTORE, .sub = &cwlog_shape }
#define FIELD_EXTRAS \
    { .name = "FileExtension", .type = CFG_STR, \
      .offset = S3F(file_extension), .max = 128, .def = "", \
      .check = check_file_extension, .help = ".ext or empty" }, \
    { .name = "CustomTimeZone", .type = CFG_STR, \
      .offset = S3F(custom_time_zone), .max = 50, .def = "", \
      .check = check_time_zone, .help = "IANA zone or empty (UTC)" }, \
    { .name = "ProcessingConfiguration", .type = CFG_OBJ, \
      .offset = S3F(processing), .sub = &cfg_processing_shape }, \
    { .name = "DynamicPartitioningConfiguration", .type = CFG_OBJ, \
      .offset = S3F(dynamic_partitioning), .sub = &cfg_partitioning_shape }, \
    { .name = "S3BackupMode", .type = CFG_ENUM, \
      .offset = S3F(source_backup), .sub = backup_mode_enum }, \
    { .name = "DataFormatConversionConfiguration", \
      .type = CFG_UNSUPPORTED }
#define FIELD_ROLE \
    { .name = "RoleARN", .type = CFG_STR, .offset = S3F(role_arn), \
      .min = 1, .max = 512, .check = cfg_check_role_arn, \
      .help = "arn:aws:iam::123456789012:role/name" }
#define FIELD_BUCKET \
    { .name = "BucketARN", .type = CFG_STR, .offset = S3F(bucket_arn), \
      .min = 1, .max = 2048, .flags = CFG_REQUIRED, \
      .check = check_bucket_arn, .help = "arn:aws:s3:::bucket-name" }
#define FIELD_ENCRYPTION \
    { .name = "EncryptionConfiguration", .type = CFG_OBJ, \
      .offset = S3F(kms_key_arn), .sub = &encryption_shape }
/* Ours, beside Firehose's EncryptionConfiguration (S3 only). */
#define FIELD_S3_EXTRAS \
    { .name = "ServerSideEncryption", .type = CFG_STR, .offset = S3F(sse), \
      .check = check_sse, .help = "AES256 or aws:kms" }, \
    { .name = "StorageClass", .type = CFG_STR, \
      .offset = S3F(storage_class), .check = check_storage_class, \
      .help = "STANDARD, STANDARD_IA, INTELLIGENT_TIERING, ..." }

/* S3DestinationConfiguration: the legacy destination, and the shape of
 * S3BackupConfiguration. */
static const struct cfg_field s3_fields[] = {
    FIELD_ROLE, FIELD_BUCKET, FIELD_PREFIXES, FIELD_BUFFERING,
    FIELD_COMPRESSION, FIELD_ENCRYPTION, FIELD_CWLOG,
    { 0 }
};
const struct cfg_shape cfg_s3_shape = { s3_fields, 0, dest_finish };

static const struct cfg_field ext_s3_fields[] = {
    FIELD_ROLE, FIELD_BUCKET, FIELD_PREFIXES, FIELD_BUFFERING,
    FIELD_COMPRESSION, FIELD_ENCRYPTION, FIELD_CWLOG, FIELD_EXTRAS,
    FIELD_S3_EXTRAS,
    { .name = "S3BackupConfiguration", .type = CFG_OBJ,
      .flags = CFG_NOSTORE, .sub = &cfg_s3_shape },
    { 0 }
};
const struct cfg_shape cfg_ext_s3_shape = {
    ext_s3_fields, 0, dest_finish
};

/* Ours: the Extended S3 shape with a directory instead of a bucket. */
static const struct cfg_field local_fields[] = {
    { .name = "Path", .type = CFG_STR, .offset = S3F(path), .min = 1,
      .max = 4096, .flags = CFG_REQUIRED, .help = "a directory" },
    FIELD_PREFIXES, FIELD_BUFFERING, FIELD_COMPRESSION, FIELD_CWLOG,
    FIELD_EXTRAS,
    { 0 }
};
const struct cfg_shape cfg_local_shape = { local_fields, 0, dest_finish };

#define STF(m) offsetof(struct cfg_stream, m)

static const struct cfg_field http_buffering_fields[] = {
    { .name = "SizeInMBs", .type = CFG_INT,
      .offset = offsetof(struct cfg_buffering, size_mb),
      .min = 1, .max = 64, .def = "5", .help = "1-64" },
    { .name = "IntervalInSeconds", .type = CFG_INT,
      .offset = offsetof(struct cfg_buffering, interval_s),
      .min = 0, .max = 900, .def = "300", .help = "0-900" },
    { 0 }
};
static const struct cfg_shape http_buffering_shape = {
    http_buffering_fields, 0, buffering_finish
};

static const struct cfg_field os_buffering_fields[] = {
    { .name = "SizeInMBs", .type = CFG_INT,
      .offset = offsetof(struct cfg_buffering, size_mb),
      .min = 1, .max = 100, .def = "5", .help = "1-100" },
    { .name = "IntervalInSeconds", .type = CFG_INT,
      .offset = offsetof(struct cfg_buffering, interval_s),
      .min = 0, .max = 900, .def = "300", .help = "0-900" },
    { 0 }
};
static const struct cfg_shape os_buffering_shape = {
    os_buffering_fields, 0, buffering_finish
};

static const struct cfg_enum content_encoding_enum[] = {
    { "NONE", 0, NULL },
    { "GZIP", 1, NULL },
    { 0 }
};

static const struct cfg_enum http_backup_enum[] = {
    { "FailedDataOnly", 0, NULL },
    { "AllData", 1, NULL },
    { 0 }
};

static const struct cfg_enum os_backup_enum[] = {
    { "FailedDocumentsOnly", 0, NULL },
    { "AllDocuments", 1, NULL },
    { 0 }
};

static const struct cfg_enum rotation_enum[] = {
    { "NoRotation", CFG_ROT_NONE, NULL },
    { "OneHour", CFG_ROT_HOUR, NULL },
    { "OneDay", CFG_ROT_DAY, NULL },
    { "OneWeek", CFG_ROT_WEEK, NULL },
    { "OneMonth", CFG_ROT_MONTH, NULL },
    { 0 }
};

static const struct cfg_enum week_rule_enum[] = {
    { "US", 0, NULL },
    { "ISO", 1, NULL },
    { 0 }
};

static const struct cfg_enum doc_id_enum[] = {
    { "FIREHOSE_DEFAULT", 0, NULL },
    { "NO_DOCUMENT_ID", 1, NULL },
    { 0 }
};

#define HTF(m) offsetof(struct cfg_http, m)

static const struct cfg_field endpoint_fields[] = {
    { .name = "Url", .type = CFG_STR, .offset = HTF(url), .min = 1,
      .max = 1000, .flags = CFG_REQUIRED, .check = cfg_check_url,
      .help = "https://host/path" },
    { .name = "Name", .type = CFG_STR, .offset = HTF(name), .min = 1,
      .max = 256 },
    { .name = "AccessKey", .type = CFG_STR, .offset = HTF(access_key),
      .max = 4096, .check = check_header_value },
    { 0 }
};
static const struct cfg_shape endpoint_shape = { endpoint_fields, 0, NULL };

static const struct cfg_field attr_fields[] = {
    { .name = "AttributeName", .type = CFG_STR,
      .offset = offsetof(struct cfg_http_attr, name), .min = 1, .max = 256,
      .flags = CFG_REQUIRED, .help = "1-256 characters" },
    { .name = "AttributeValue", .type = CFG_STR,
      .offset = offsetof(struct cfg_http_attr, value), .max = 1024,
      .flags = CFG_REQUIRED, .help = "0-1024 characters" },
    { 0 }
};
static const struct cfg_shape attr_shape = {
    attr_fields, sizeof(struct cfg_http_attr), NULL
};

static const struct cfg_field request_fields[] = {
    { .name = "ContentEncoding", .type = CFG_ENUM, .offset = HTF(gzip),
      .sub = content_encoding_enum, .def = "NONE", .help = "NONE or GZIP" },
    { .name = "CommonAttributes", .type = CFG_LIST, .offset = HTF(attrs),
      .sub = &attr_shape, .min = 0, .max = 50,
      .count_offset = HTF(n_attrs),
      .help = "[{\"AttributeName\", \"AttributeValue\"}], 0-50" },
    { 0 }
};
static const struct cfg_shape request_shape = {
    request_fields, 0, request_finish
};

/* Walked with the whole struct cfg_stream as its destination: buffering
 * and processing go to st->s3 for the core, S3Configuration to
 * st->backup. */
static const struct cfg_field http_fields[] = {
    { .name = "EndpointConfiguration", .type = CFG_OBJ, .offset = STF(http),
      .sub = &endpoint_shape, .flags = CFG_REQUIRED,
      .help = "{\"Url\": \"https://...\"}" },
    { .name = "RequestConfiguration", .type = CFG_OBJ, .offset = STF(http),
      .sub = &request_shape },
    { .name = "BufferingHints", .type = CFG_OBJ, .offset = STF(s3.buffering),
      .sub = &http_buffering_shape },
    { .name = "RetryOptions", .type = CFG_OBJ, .offset = STF(retry_s),
      .sub = &cfg_retry_shape },
    { .name = "S3BackupMode", .type = CFG_ENUM, .offset = STF(backup_all),
      .sub = http_backup_enum, .def = "FailedDataOnly",
      .help = "FailedDataOnly or AllData" },
    { .name = "S3Configuration", .type = CFG_OBJ, .offset = STF(backup),
      .sub = &cfg_s3_shape, .flags = CFG_REQUIRED,
      .help = "the S3DestinationConfiguration shape: the backup bucket" },
    { .name = "ProcessingConfiguration", .type = CFG_OBJ,
      .offset = STF(s3.processing), .sub = &cfg_processing_shape },
    { .name = "CloudWatchLoggingOptions", .type = CFG_OBJ,
      .flags = CFG_NOSTORE, .sub = &cwlog_shape },
    { .name = "RoleARN", .type = CFG_STR, .offset = STF(http.role_arn),
      .min = 1, .max = 512, .check = cfg_check_role_arn },
    { .name = "SecretsManagerConfiguration", .type = CFG_UNSUPPORTED },
    { .name = "RequestTimeoutInSeconds", .type = CFG_INT,
      .offset = STF(http.timeout_s), .min = 1, .max = 3600, .def = "180",
      .help = "1-3600" },
    { .name = "AllowHttp", .type = CFG_BOOL, .offset = STF(http.allow_http),
      .def = "false" },
    { 0 }
};
const struct cfg_shape cfg_http_shape = { http_fields, 0, http_finish };

#define OSF(m) offsetof(struct cfg_opensearch, m)

static const struct cfg_field doc_id_fields[] = {
    { .name = "DefaultDocumentIdFormat", .type = CFG_ENUM,
      .offset = OSF(no_document_id), .sub = doc_id_enum,
      .flags = CFG_REQUIRED, .help = "FIREHOSE_DEFAULT or NO_DOCUMENT_ID" },
    { 0 }
};
static const struct cfg_shape doc_id_shape = { doc_id_fields, 0, NULL };

static const struct cfg_field basic_auth_fields[] = {
    { .name = "Username", .type = CFG_STR, .offset = OSF(basic_user),
      .min = 1, .max = 256, .flags = CFG_REQUIRED, .check = check_user_name,
      .help = "1-256 characters, no ':'" },
    { .name = "Password", .type = CFG_STR, .offset = OSF(basic_password),
      .max = 4096, .flags = CFG_REQUIRED, .help = "0-4096 characters" },
    { 0 }
};
static const struct cfg_shape basic_auth_shape = {
    basic_auth_fields, 0, NULL
};

static const struct cfg_field vpc_fields[] = {
    { .name = "SubnetIds", .type = CFG_ARRAY },
    { .name = "SecurityGroupIds", .type = CFG_ARRAY },
    { .name = "RoleARN", .type = CFG_STR, .min = 1, .max = 512,
      .check = cfg_check_role_arn },
    { 0 }
};
static const struct cfg_shape vpc_shape = { vpc_fields, 0, NULL };

/* Both OpenSearch shapes (same members); walked with the whole stream as
 * destination, like http_fields. */
static const struct cfg_field os_fields[] = {
    { .name = "RoleARN", .type = CFG_STR, .offset = STF(os.role_arn),
      .min = 1, .max = 512, .check = cfg_check_role_arn },
    { .name = "ClusterEndpoint", .type = CFG_STR,
      .offset = STF(os.cluster_endpoint), .min = 1, .max = 512,
      .check = cfg_check_url, .help = "https://host:port" },
    { .name = "DomainARN", .type = CFG_STR, .offset = STF(os.domain_arn),
      .min = 1, .max = 512, .check = check_domain_arn },
    { .name = "IndexName", .type = CFG_STR, .offset = STF(os.index_name),
      .min = 1, .max = 80, .flags = CFG_REQUIRED, .check = check_index_name,
      .help = "1-80 characters, lowercase" },
    { .name = "TypeName", .type = CFG_STR, .offset = STF(os.type_name),
      .max = 100, .def = "" },
    { .name = "IndexRotationPeriod", .type = CFG_ENUM,
      .offset = STF(os.rotation), .sub = rotation_enum, .def = "OneDay",
      .help = "NoRotation, OneHour, OneDay, OneWeek or OneMonth" },
    { .name = "IndexRotationWeekRule", .type = CFG_ENUM,
      .offset = STF(os.week_iso), .sub = week_rule_enum, .def = "US",
      .help = "US or ISO" },
    { .name = "BufferingHints", .type = CFG_OBJ, .offset = STF(s3.buffering),
      .sub = &os_buffering_shape },
    { .name = "RetryOptions", .type = CFG_OBJ, .offset = STF(retry_s),
      .sub = &cfg_retry_shape },
    { .name = "S3BackupMode", .type = CFG_ENUM, .offset = STF(backup_all),
      .sub = os_backup_enum, .def = "FailedDocumentsOnly",
      .help = "FailedDocumentsOnly or AllDocuments" },
    { .name = "S3Configuration", .type = CFG_OBJ, .offset = STF(backup),
      .sub = &cfg_s3_shape, .flags = CFG_REQUIRED,
      .help = "the S3DestinationConfiguration shape: the backup bucket" },
    { .name = "DocumentIdOptions", .type = CFG_OBJ, .offset = STF(os),
      .sub = &doc_id_shape },
    { .name = "ProcessingConfiguration", .type = CFG_OBJ,
      .offset = STF(s3.processing), .sub = &cfg_processing_shape },
    { .name = "CloudWatchLoggingOptions", .type = CFG_OBJ,
      .flags = CFG_NOSTORE, .sub = &cwlog_shape },
    { .name = "VpcConfiguration", .type = CFG_OBJ, .flags = CFG_NOSTORE,
      .sub = &vpc_shape },
    { .name = "BasicAuth", .type = CFG_OBJ, .offset = STF(os),
      .sub = &basic_auth_shape },
    { .name = "RequestTimeoutInSeconds", .type = CFG_INT,
      .offset = STF(os.timeout_s), .min = 1, .max = 3600, .def = "180",
      .help = "1-3600" },
    { .name = "AllowHttp", .type = CFG_BOOL, .offset = STF(os.allow_http),
      .def = "false" },
    { 0 }
};
const struct cfg_shape cfg_os_shape = { os_fields, 0, os_finish };
const struct cfg_shape cfg_es_shape = { os_fields, 0, es_finish };
