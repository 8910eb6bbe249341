/* ctl_desc.c - see ctl_desc.h. */
#include "ctl_desc.h"

#include <string.h>


static const char *const legacy_s3_keys[] = {
    "RoleARN", "BucketARN", "Prefix", "ErrorOutputPrefix", "BufferingHints",
    "CompressionFormat", "EncryptionConfiguration",
    "CloudWatchLoggingOptions", NULL
};

static json_t *copy_obj(json_t *src)
{
    return json_is_object(src) ? json_deep_copy(src) : json_object();
}

static void set_default(json_t *j, const char *key, json_t *v)
{
    if (json_object_get(j, key) == NULL)
        json_object_set_new(j, key, v);
    else
        json_decref(v);
}

/* An S3-shaped description: the configuration as given, with the values
 * the loader derived and Firehose's defaults filled in. */
static json_t *s3_desc(const struct cfg_s3 *d, json_t *src, int extended)
{
    json_t *j = copy_obj(src), *b;

    if (j == NULL)
        return NULL;
    if (!extended) {
        json_t *keep = json_object();
        for (size_t i = 0; keep && legacy_s3_keys[i]; i++) {
            json_t *v = json_object_get(j, legacy_s3_keys[i]);
            if (v != NULL)
                json_object_set(keep, legacy_s3_keys[i], v);
        }
        json_decref(j);
        j = keep;
        if (j == NULL)
            return NULL;
    }
    if (d->bucket_arn != NULL)
        json_object_set_new(j, "BucketARN", json_string(d->bucket_arn));
    if (d->path != NULL)
        json_object_set_new(j, "Path", json_string(d->path));
    json_object_set_new(j, "Prefix", json_string(d->prefix ? d->prefix
                                                           : ""));
    json_object_set_new(j, "ErrorOutputPrefix",
                        json_string(d->error_prefix ? d->error_prefix : ""));
    json_object_set_new(j, "BufferingHints",
                        json_pack("{s:i,s:i}", "SizeInMBs",
                                  d->buffering.size_mb, "IntervalInSeconds",
                                  d->buffering.interval_s));
    json_object_set_new(j, "CompressionFormat",
                        json_string(cfg_compression_name(d->compression)));
    json_object_set_new(j, "EncryptionConfiguration", d->kms_key_arn
        ? json_pack("{s:{s:s}}", "KMSEncryptionConfig", "AWSKMSKeyARN",
                    d->kms_key_arn)
        : json_pack("{s:s}", "NoEncryptionConfig", "NoEncryption"));
    set_default(j, "CloudWatchLoggingOptions",
                json_pack("{s:b}", "Enabled", 0));
    if (!extended)
        return j;
    set_default(j, "S3BackupMode", json_string("Disabled"));
    if ((b = json_object_get(j, "S3BackupConfiguration")) != NULL) {
        json_object_set(j, "S3BackupDescription", b);
        json_object_del(j, "S3BackupConfiguration");
    }
    if (d->file_extension == NULL || d->file_extension[0] == '\0')
        json_object_del(j, "FileExtension");
    if (d->custom_time_zone == NULL || d->custom_time_zone[0] == '\0')
        json_object_del(j, "CustomTimeZone");
    return j;
}

/* HTTP endpoint and OpenSearch: their S3Configuration becomes
 * S3DestinationDescription; the common defaults. */
static void record_dest_common(json_t *j, const struct cfg_stream *s,
                               const char *backup_all, const char *failed)
{
    json_object_set_new(j, "S3DestinationDescription",
                        s3_desc(&s->backup,
                                json_object_get(j, "S3Configuration"), 0));
    json_object_del(j, "S3Configuration");
    json_object_set_new(j, "BufferingHints",
                        json_pack("{s:i,s:i}", "SizeInMBs",
                                  s->s3.buffering.size_mb,
                                  "IntervalInSeconds",
                                  s->s3.buffering.interval_s));
    json_object_set_new(j, "RetryOptions", json_pack("{s:i}",
                        "DurationInSeconds", s->retry_s));
    json_object_set_new(j, "S3BackupMode",
                        json_string(s->backup_all ? backup_all : failed));
    set_default(j, "CloudWatchLoggingOptions",
                json_pack("{s:b}", "Enabled", 0));
}

static const char *rotation_name(enum cfg_rotation r)
{
    static const char *const names[] = {
        "NoRotation", "OneHour", "OneDay", "OneWeek", "OneMonth"
    };

    return (unsigned)r < 5 ? names[r] : "OneDay";
}

/* The stream object's destination configuration member. */
json_t *ctl_desc_dest_conf(json_t *conf, const char **key)
{
    static const char *const keys[] = {
        "ExtendedS3DestinationConfiguration", "S3DestinationConfiguration",
        "LocalDirectoryDestinationConfiguration",
        "HttpEndpointDestinationConfiguration",
        "AmazonopensearchserviceDestinationConfiguration",
        "ElasticsearchDestinationConfiguration", NULL
    };

    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(conf, keys[i]);
        if (v != NULL) {
            if (key != NULL)
                *key = keys[i];
            return v;
        }
    }
    return NULL;
}

json_t *ctl_desc_destination(const struct cfg_stream *s, json_t *conf)
{
    json_t *src = ctl_desc_dest_conf(conf, NULL), *d, *j, *ep;

    d = json_pack("{s:s}", "DestinationId", CTL_DESC_DEST_ID);
    if (d == NULL)
        return NULL;
    switch (s->dest_kind) {
    case CFG_DEST_S3:
        json_object_set_new(d, "ExtendedS3DestinationDescription",
                            s3_desc(&s->s3, src, 1));
        json_object_set_new(d, "S3DestinationDescription",
                            s3_desc(&s->s3, src, 0));
        break;
    case CFG_DEST_LOCAL:
        json_object_set_new(d, "LocalDirectoryDestinationDescription",
                            s3_desc(&s->s3, src, 1));
        break;
    case CFG_DEST_HTTP:
        j = copy_obj(src);
        /* Secrets are never echoed: only Url and Name. */
        ep = json_object();
        json_object_set_new(ep, "Url", json_string(s->http.url));
        if (s->http.name != NULL)
            json_object_set_new(ep, "Name", json_string(s->http.name));
        json_object_set_new(j, "EndpointConfiguration", ep);
        record_dest_common(j, s, "AllData", "FailedDataOnly");
        set_default(j, "RequestConfiguration", json_pack("{s:s}",
                    "ContentEncoding", s->http.gzip ? "GZIP" : "NONE"));
        json_object_set_new(d, "HttpEndpointDestinationDescription", j);
        break;
    case CFG_DEST_OPENSEARCH:
        j = copy_obj(src);
        json_object_del(j, "BasicAuth");
        json_object_del(j, "VpcConfiguration");
        if (s->os.basic_user != NULL)
            json_object_set_new(j, "BasicAuth", json_pack("{s:s}",
                                "Username", s->os.basic_user));
        record_dest_common(j, s, "AllDocuments", "FailedDocumentsOnly");
        json_object_set_new(j, "IndexRotationPeriod",
                            json_string(rotation_name(s->os.rotation)));
        json_object_set_new(j, "DocumentIdOptions", json_pack("{s:s}",
                            "DefaultDocumentIdFormat",
                            s->os.no_document_id ? "NO_DOCUMENT_ID"
                                                 : "FIREHOSE_DEFAULT"));
        json_object_set_new(d, s->os.elasticsearch
                            ? "ElasticsearchDestinationDescription"
                            : "AmazonopensearchserviceDestinationDescription",
                            j);
        break;
    }
    return d;
}

const char *ctl_desc_status_name(enum streams_status s)
{
    switch (s) {
    case STREAMS_CREATING:        return "CREATING";
    case STREAMS_ACTIVE:          return "ACTIVE";
    case STREAMS_DELETING:        return "DELETING";
    case STREAMS_CREATING_FAILED: return "CREATING_FAILED";
    }
    return "ACTIVE";
}
