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
    CFG_DEST_S3             /* ExtendedS3DestinationConfiguration */
};

enum cfg_stream_type {
    CFG_STREAM_DIRECT_PUT = 0,
    CFG_STREAM_KINESIS
};

struct cfg_buffering {
    int size_mb;            /* 1-128, default 5 */
    int interval_s;         /* 0-900, default 300 */
};

/* ProcessingConfiguration, in Firehose's fixed order of stages. */
struct cfg_processing {
    int enabled;            /* Enabled (default true when Processors given) */
    char *lua_script;       /* Lua processor's ScriptName; NULL = none */
    int lua_retries;        /* its NumberOfRetries, 0-300, default 3 */
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
    char *file_extension;   /* "" when absent: use the compression's */
    char *custom_time_zone; /* "" when absent: UTC */
    struct cfg_processing processing;
    int dynamic_partitioning;   /* DynamicPartitioningConfiguration.Enabled */
};

struct cfg_stream {
    char *name;
    enum cfg_stream_type type;
    enum cfg_dest_kind dest_kind;
    struct cfg_s3 s3;
    char *version_id;       /* "1" */
};

struct cfg_service {
    char *listen;           /* "127.0.0.1:4573" as written */
    char *listen_host;      /* "127.0.0.1"; "::1" for "[::1]:4573" */
    int listen_port;        /* 4573 */
    char *state_dir;        /* "./state" */
    int durability_fsync;   /* 1 = "fsync" (default), 0 = "os" */
    uint64_t max_spool_bytes;   /* per stream, default 1 GiB */
    int delivery_workers;   /* threads compressing and delivering per
                             * stream, 1-64, default 2 */
    char *region;           /* "us-east-1" */
    char *account_id;       /* "000000000000", used in ARNs */
    char *endpoint_s3;      /* NULL = env AWS_ENDPOINT_URL_S3 / _URL / AWS */
    int log_json;           /* "LogFormat": "text" (0) or "json" (1) */
    char *transforms_dir;   /* "./transforms": where Lua scripts live */
    uint64_t lua_instructions;  /* per batch per attempt, default 100M */
    uint64_t lua_memory_bytes;  /* per Lua state, default 64 MiB */
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

const char *cfg_compression_name(enum cfg_compression c);

#endif
