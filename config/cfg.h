/* cfg.h - loads and validates the JSON config file. Streams use Firehose's
 * CreateDeliveryStream field names; "Service" holds our own settings.
 * Every problem found is reported (file, JSON path, reason), not just the
 * first. A loaded struct cfg is immutable and owned by the caller. */
#ifndef FH_CFG_H
#define FH_CFG_H

#include <stddef.h>
#include <stdint.h>

enum cfg_compression {
    CFG_COMP_UNCOMPRESSED = 0,
    CFG_COMP_GZIP,
    CFG_COMP_ZIP,
    CFG_COMP_SNAPPY,
    CFG_COMP_HADOOP_SNAPPY
};

enum cfg_dest_kind {
    CFG_DEST_LOCAL = 0,     /* LocalDirectoryDestinationConfiguration */
    CFG_DEST_S3,            /* ExtendedS3DestinationConfiguration */
    CFG_DEST_HTTP,          /* HttpEndpointDestinationConfiguration */
    CFG_DEST_OPENSEARCH     /* AmazonopensearchserviceDestination-
                             * Configuration, ElasticsearchDestination-
                             * Configuration */
};

enum cfg_rotation {
    CFG_ROT_NONE = 0,       /* NoRotation */
    CFG_ROT_HOUR,           /* OneHour: -yyyy-MM-dd-HH */
    CFG_ROT_DAY,            /* OneDay (default): -yyyy-MM-dd */
    CFG_ROT_WEEK,           /* OneWeek: -yyyy-'w'ww */
    CFG_ROT_MONTH           /* OneMonth: -yyyy-MM */
};

enum cfg_stream_type {
    CFG_STREAM_DIRECT_PUT = 0,
    CFG_STREAM_KINESIS
};

struct cfg_buffering {
    int size_mb;            /* 1-128, default 5 */
    int interval_s;         /* 0-900, default 300 */
};

enum cfg_deagg {
    CFG_DEAGG_NONE = 0,
    CFG_DEAGG_JSON,         /* SubRecordType JSON */
    CFG_DEAGG_DELIMITED     /* SubRecordType DELIMITED */
};

/* ProcessingConfiguration, in Firehose's fixed order of stages. */
struct cfg_processing {
    int enabled;            /* Enabled (default true when Processors given) */
    int gzip;               /* Decompression, CompressionFormat GZIP */
    int cw_logs;            /* CloudWatchLogProcessing */
    int cw_extract;         /* its DataMessageExtraction is "true" */
    enum cfg_deagg deagg;   /* RecordDeAggregation */
    unsigned char *deagg_delim; /* DELIMITED: Delimiter, base64-decoded */
    size_t deagg_delim_len;
    char *lua_script;       /* Lua processor's ScriptName; NULL = none */
    int lua_retries;        /* its NumberOfRetries, 0-300, default 3 */
    char *jq_query;         /* MetadataExtraction's query; NULL = none */
    int append_delimiter;   /* AppendDelimiterToRecord: '\n' after each */
};

/* The S3 shape; LocalDirectory is the same with 'path' for the bucket. */
struct cfg_s3 {
    char *bucket_arn;       /* NULL for local */
    char *bucket;           /* the part after "arn:...:s3:::"; NULL for local */
    char *path;             /* local directory; NULL for S3 */
    char *role_arn;         /* stored, echoed by Describe, not used */
    char *prefix;           /* "" when absent */
    char *error_prefix;     /* "" when absent */
    struct cfg_buffering buffering;
    enum cfg_compression compression;
    int compression_level;  /* ours: CompressionLevel 1-9 (GZIP/ZIP),
                             * default 6 */
    char *file_extension;   /* "" when absent: use the compression's */
    char *custom_time_zone; /* "" when absent: UTC */
    struct cfg_processing processing;
    int dynamic_partitioning;   /* DynamicPartitioningConfiguration.Enabled */
    int max_active_partitions;  /* ours: its MaxActivePartitions, default
                                 * 500: partitions buffered at once */
    uint64_t partition_buffer_bytes; /* ours: PartitionBufferBytes, all
                                      * partition buffers together; default
                                      * 64 MiB */
    int source_backup;      /* Extended S3 S3BackupMode Enabled: every
                             * source record also to S3BackupConfiguration
                             * (kept in cfg_stream.backup) */
    char *kms_key_arn;      /* EncryptionConfiguration.KMSEncryptionConfig.
                             * AWSKMSKeyARN: SSE-KMS; NULL = none */
    char *sse;              /* ours: ServerSideEncryption "AES256" or
                             * "aws:kms"; NULL = none */
    char *storage_class;    /* ours: StorageClass; NULL = S3's default */
};

struct cfg_http_attr {      /* RequestConfiguration.CommonAttributes[] */
    char *name;
    char *value;
};

/* HttpEndpointDestinationConfiguration, but for the members the core
 * reads from elsewhere (see struct cfg_stream). */
struct cfg_http {
    char *url;              /* EndpointConfiguration.Url, verbatim */
    char *name;             /* EndpointConfiguration.Name; NULL = none */
    char *access_key;       /* EndpointConfiguration.AccessKey; NULL =
                             * none. Secret: never log it */
    int gzip;               /* RequestConfiguration.ContentEncoding GZIP */
    struct cfg_http_attr *attrs;    /* CommonAttributes, n_attrs of them */
    size_t n_attrs;
    int timeout_s;          /* ours: RequestTimeoutInSeconds, default 180 */
    int allow_http;         /* ours: AllowHttp, plain http:// off loopback */
    char *role_arn;         /* stored only */
};

/* AmazonopensearchserviceDestinationConfiguration (or the Elasticsearch
 * one, same members). */
struct cfg_opensearch {
    char *cluster_endpoint; /* ClusterEndpoint; NULL when DomainARN */
    char *domain_arn;       /* DomainARN: the endpoint is then
                             * Service.Endpoints.OpenSearch */
    char *index_name;       /* IndexName */
    char *type_name;        /* TypeName; "" = no _type */
    enum cfg_rotation rotation; /* IndexRotationPeriod */
    int week_iso;           /* ours: IndexRotationWeekRule "ISO" (1) or
                             * "US" (0, default) */
    int no_document_id;     /* DocumentIdOptions NO_DOCUMENT_ID */
    char *basic_user;       /* ours: BasicAuth.Username; NULL = none */
    char *basic_password;   /* BasicAuth.Password. Secret */
    int timeout_s;          /* ours: RequestTimeoutInSeconds, default 180 */
    int allow_http;         /* ours: AllowHttp */
    int elasticsearch;      /* 1: ElasticsearchDestinationConfiguration
                             * (error folder "elasticsearch-failed") */
    char *role_arn;
};

enum cfg_start_pos {
    CFG_START_LATEST = 0,
    CFG_START_TRIM_HORIZON,
    CFG_START_AT_TIMESTAMP
};

/* KinesisStreamSourceConfiguration (DeliveryStreamType
 * KinesisStreamAsSource), plus our reader settings. */
struct cfg_kinesis_src {
    char *stream_arn;       /* KinesisStreamARN */
    char *stream_name;      /* derived: the part after ":stream/" */
    char *region;           /* derived: the ARN's region */
    char *role_arn;         /* RoleARN: stored, not used */
    enum cfg_start_pos start;   /* StartingPosition, default LATEST */
    uint64_t start_ts_s;    /* StartingPositionTimestamp (epoch seconds),
                             * AT_TIMESTAMP only */
    int get_records_limit;  /* GetRecordsLimit 1-10000, default 10000 */
    int idle_ms;            /* IdleTimeBetweenReadsInMillis 200-60000,
                             * default 1000 */
    int drop_out_of_range;  /* OutOfRangeRecords "keep" (0, default) or
                             * "drop" (1): KPL user records whose hash key
                             * is outside the shard's range */
};

/* Tags[]: Key 1-128 characters without the "aws:" prefix, Value 0-256. */
struct cfg_tag {
    char *key;
    char *value;            /* NULL when the tag has no Value */
};

/* Ours: DirectPutQuotas, per-second token buckets with one second of
 * burst; 0 = unlimited (the key absent). */
struct cfg_quotas {
    uint64_t records_ps;    /* RecordsPerSecond */
    uint64_t requests_ps;   /* RequestsPerSecond */
    uint64_t bytes_ps;      /* BytesPerSecond */
};

struct cfg_stream {
    char *name;
    enum cfg_stream_type type;
    enum cfg_dest_kind dest_kind;
    /* S3 and local: the destination. HTTP and OpenSearch: only buffering
     * and processing (from the destination's own BufferingHints and
     * ProcessingConfiguration); compression UNCOMPRESSED, prefixes "". */
    struct cfg_s3 s3;
    struct cfg_http http;           /* CFG_DEST_HTTP */
    struct cfg_opensearch os;       /* CFG_DEST_OPENSEARCH */
    /* HTTP and OpenSearch: S3Configuration, the bucket of failed records
     * (and of every record when backup_all). */
    struct cfg_s3 backup;
    int backup_all;         /* S3BackupMode AllData / AllDocuments */
    int retry_s;            /* RetryOptions.DurationInSeconds, 0-7200,
                             * default 300 (0 = no retry) */
    char *version_id;       /* "1" */
    struct cfg_tag *tags;   /* Tags, n_tags of them (at most 50) */
    size_t n_tags;
    struct cfg_quotas quotas;       /* DirectPutQuotas; zeros = none */
    struct cfg_kinesis_src kinesis; /* CFG_STREAM_KINESIS */
};

/* One producer key pair in Service.Credentials. */
struct cfg_credential {
    char *access_key_id;
    char *secret;
    char *session_token;    /* NULL: any token (with AllowSessionTokens) */
};

struct cfg_tls {
    char *cert_file;        /* PEM certificate (chain) */
    char *key_file;         /* PEM private key */
};

struct cfg_service {
    char *listen;           /* "127.0.0.1:4573" as written */
    char *listen_host;      /* "127.0.0.1"; "::1" for "[::1]:4573" */
    int listen_port;        /* 4573 */
    char *admin_listen;     /* AdminListen: dashboard, /api/status and
                             * /metrics there only; NULL = on Listen */
    char *admin_host;
    int admin_port;
    char *state_dir;        /* "./state" */
    int durability_fsync;   /* 1 = "fsync" (default), 0 = "os" */
    uint64_t max_spool_bytes;   /* per stream, default 1 GiB */
    uint64_t max_request_memory;    /* request bodies held at once, all
                                     * connections; default 64 MiB */
    int delivery_workers;   /* threads compressing and delivering per
                             * stream, 1-64, default 2 */
    char *region;           /* "us-east-1" */
    char *account_id;       /* "000000000000", used in ARNs */
    char *endpoint_s3;      /* NULL = env AWS_ENDPOINT_URL_S3 / _URL / AWS */
    char *endpoint_opensearch;  /* where DomainARN streams deliver */
    char *endpoint_kinesis;     /* NULL = env AWS_ENDPOINT_URL_KINESIS... */
    char *endpoint_dynamodb;    /* NULL = env AWS_ENDPOINT_URL_DYNAMODB... */
    char *worker_id;            /* WorkerId; NULL = hostname:pid */
    int lease_store_ddb;        /* LeaseStore.Type "local" (0) or
                                 * "dynamodb" (1) */
    char *lease_table;          /* LeaseStore.TableName; NULL =
                                 * "firehosed-<stream>" */
    int failover_ms;            /* LeaseStore.FailoverTimeMillis, default
                                 * 10000 */
    int log_json;           /* "LogFormat": "text" (0) or "json" (1) */
    char *transforms_dir;   /* "./transforms": where Lua scripts live */
    uint64_t lua_instructions;  /* per batch per attempt, default 100M */
    uint64_t lua_memory_bytes;  /* per Lua state, default 64 MiB */
    uint64_t s3_multipart_threshold;    /* S3MultipartThresholdBytes:
                                         * larger objects go multipart,
                                         * default 16 MiB */
    uint64_t s3_part_size;      /* S3MultipartPartSizeBytes, default 8 MiB */
    /* Producer authentication and the listener (delivery/auth.h). */
    struct cfg_credential *credentials; /* Service.Credentials */
    size_t n_credentials;
    char *credentials_file;     /* NULL = none; INI like ~/.aws/credentials */
    int allow_session_tokens;   /* accept X-Amz-Security-Token */
    int allow_unauthenticated;  /* no keys and a non-loopback Listen: ok */
    int max_clock_skew_s;       /* SigV4 request time window, default 900 */
    struct cfg_tls tls;         /* both NULL = plain HTTP */
    int max_connections;        /* open API connections, default 1024 */
    int request_timeout_s;      /* to receive one whole request, default 30 */
};

struct cfg {
    char *path;
    struct cfg_service service;
    struct cfg_stream *streams;
    size_t n_streams;
};

/* Parse and validate 'path'. Returns 0 and *out (caller frees with
 * cfg_free), or -1 and *errors: every problem, one per line, each starting
 * with the file name and JSON path (caller frees; 'errors' may be NULL). */
int cfg_load(const char *path, struct cfg **out, char **errors);
/* The same from a string; 'name' stands in for the file in messages. */
int cfg_load_string(const char *name, const char *json, struct cfg **out,
                    char **errors);
void cfg_free(struct cfg *c);           /* NULL is a no-op */

/* One stream object (a CreateDeliveryStream request body: the members of
 * a DeliveryStreams[] entry) validated with the same tables; 'svc' is the
 * loaded service (for DomainARN). Returns 0 and *out (caller frees with
 * cfg_stream_free), or -1 and *errors (caller frees): every problem, one
 * per line, "<name>: <json path>: <reason>" ("<name>: : <reason>" for the
 * object itself). */
int cfg_stream_parse(const char *name, const char *json, size_t len,
                     const struct cfg_service *svc, struct cfg_stream **out,
                     char **errors);
void cfg_stream_free(struct cfg_stream *st);    /* NULL is a no-op */
/* The Tags rules: 0, or -1 with 'why' filled. 'value' may be NULL. */
int cfg_tag_check(const char *key, const char *value, char *why, size_t n);

const char *cfg_compression_name(enum cfg_compression c);

#endif
