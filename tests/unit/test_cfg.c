/* test_cfg.c - the config loader: the sample configs, defaults, and every
 * error path (each reported with file, JSON path and reason). JSON in the
 * cases is written with ' for " to keep it readable; q() swaps them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../config/cfg.h"

/* ' -> " into a static buffer (tests are single-threaded). */
static const char *q(const char *s)
{
    static char out[8192];
    size_t i;

    assert_true(strlen(s) < sizeof(out));
    for (i = 0; s[i] != '\0'; i++)
        out[i] = s[i] == '\'' ? '"' : s[i];
    out[i] = '\0';
    return out;
}

/* A stream list holding one stream with the given members. */
#define ONE(members) "{'DeliveryStreams':[{" members "}]}"
#define NAME "'DeliveryStreamName':'s'"
/* One Extended S3 stream; 'dest' adds destination members. */
#define S3(dest) ONE(NAME ",'ExtendedS3DestinationConfiguration':" \
                     "{'BucketARN':'arn:aws:s3:::b'" dest "}")
#define LOCAL(dest) ONE(NAME ",'LocalDirectoryDestinationConfiguration':" \
                        "{'Path':'./out'" dest "}")
#define SERVICE(members) "{'Service':{" members "},'DeliveryStreams':[{" \
    NAME ",'LocalDirectoryDestinationConfiguration':{'Path':'o'}}]}"

static struct cfg *load_ok(const char *json)
{
    struct cfg *c = NULL;
    char *errors = NULL;

    if (cfg_load_string("t.json", q(json), &c, &errors) != 0) {
        print_error("unexpected errors:\n%s", errors ? errors : "(none)");
        free(errors);
        fail();
    }
    assert_non_null(c);
    assert_null(errors);
    return c;
}

/* Load must fail, and every needle must be in the errors. */
static char *load_bad(const char *json)
{
    struct cfg *c = (struct cfg *)1;
    char *errors = NULL;

    assert_int_equal(cfg_load_string("t.json", q(json), &c, &errors), -1);
    assert_null(c);
    assert_non_null(errors);
    return errors;
}

static void has(const char *errors, const char *needle)
{
    if (errors == NULL || strstr(errors, needle) == NULL) {
        print_error("missing \"%s\" in:\n%s", needle,
                    errors ? errors : "(no errors)");
        fail();
    }
}

static int count_lines(const char *s)
{
    int n = 0;

    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

struct bad_case {
    const char *json;
    const char *needle;     /* "path: reason" fragment */
};

/* Each case fails with its needle, and every line names the file. */
static void run_bad(const struct bad_case *bc, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        char *errors = load_bad(bc[i].json);
        const char *line;

        for (line = errors; *line != '\0'; line = strchr(line, '\n') + 1)
            assert_memory_equal(line, "t.json: ", 8);
        if (strstr(errors, bc[i].needle) == NULL) {
            print_error("case %zu: %s\nmissing \"%s\" in:\n%s", i,
                        bc[i].json, bc[i].needle, errors);
            free(errors);
            fail();
        }
        free(errors);
    }
}

#define RUN_BAD(cases) run_bad(cases, sizeof(cases) / sizeof(cases[0]))

static const char example[] =
    "{ 'Service': { 'Listen': '0.0.0.0:8080', 'StateDirectory': '/var/fh',"
    "    'Durability': 'os', 'MaxSpoolBytesPerStream': 2097152,"
    "    'Region': 'eu-west-1', 'AccountId': '123456789012',"
    "    'LogFormat': 'json', 'Endpoints': { 'S3': 'http://127.0.0.1:9000' }"
    "  },"
    "  'DeliveryStreams': ["
    "  { 'DeliveryStreamName': 'default', 'DeliveryStreamType': 'DirectPut',"
    "    'LocalDirectoryDestinationConfiguration': {"
    "      'Path': './out', 'Prefix': '', 'ErrorOutputPrefix': '',"
    "      'BufferingHints': { 'SizeInMBs': 5, 'IntervalInSeconds': 60 },"
    "      'CompressionFormat': 'GZIP' } },"
    "  { 'DeliveryStreamName': 'to-s3', 'DeliveryStreamType': 'DirectPut',"
    "    'ExtendedS3DestinationConfiguration': {"
    "      'RoleARN': 'arn:aws:iam::123456789012:role/firehose_role',"
    "      'BucketARN': 'arn:aws:s3:::my-bucket',"
    "      'Prefix': 'logs/!{timestamp:yyyy/MM/dd}/',"
    "      'ErrorOutputPrefix': 'errors/!{firehose:error-output-type}/',"
    "      'BufferingHints': { 'SizeInMBs': 128, 'IntervalInSeconds': 0 },"
    "      'CompressionFormat': 'UNCOMPRESSED', 'FileExtension': '.log',"
    "      'CustomTimeZone': 'Asia/Tokyo',"
    "      'EncryptionConfiguration': {'NoEncryptionConfig': 'NoEncryption'},"
    "      'CloudWatchLoggingOptions': { 'Enabled': false },"
    "      'ProcessingConfiguration': { 'Enabled': false, 'Processors': [] },"
    "      'DynamicPartitioningConfiguration': { 'Enabled': false },"
    "      'S3BackupMode': 'Disabled' } },"
    "  { 'DeliveryStreamName': 'legacy',"
    "    'S3DestinationConfiguration': {"
    "      'BucketARN': 'arn:aws-cn:s3:::old.bucket_1' } } ] }";

static void test_example_values(void **state)
{
    struct cfg *c = load_ok(example);
    struct cfg_stream *s;

    (void)state;
    assert_string_equal(c->path, "t.json");
    assert_string_equal(c->service.listen, "0.0.0.0:8080");
    assert_string_equal(c->service.listen_host, "0.0.0.0");
    assert_int_equal(c->service.listen_port, 8080);
    assert_string_equal(c->service.state_dir, "/var/fh");
    assert_int_equal(c->service.durability_fsync, 0);
    assert_true(c->service.max_spool_bytes == 2097152);
    assert_string_equal(c->service.region, "eu-west-1");
    assert_string_equal(c->service.account_id, "123456789012");
    assert_int_equal(c->service.log_json, 1);
    assert_string_equal(c->service.endpoint_s3, "http://127.0.0.1:9000");
    assert_int_equal(c->n_streams, 3);

    s = &c->streams[0];
    assert_string_equal(s->name, "default");
    assert_int_equal(s->type, CFG_STREAM_DIRECT_PUT);
    assert_int_equal(s->dest_kind, CFG_DEST_LOCAL);
    assert_string_equal(s->version_id, "1");
    assert_string_equal(s->s3.path, "./out");
    assert_null(s->s3.bucket_arn);
    assert_null(s->s3.bucket);
    assert_null(s->s3.role_arn);
    assert_string_equal(s->s3.prefix, "");
    assert_string_equal(s->s3.error_prefix, "");
    assert_int_equal(s->s3.buffering.size_mb, 5);
    assert_int_equal(s->s3.buffering.interval_s, 60);
    assert_int_equal(s->s3.compression, CFG_COMP_GZIP);
    assert_string_equal(s->s3.file_extension, "");
    assert_string_equal(s->s3.custom_time_zone, "");

    s = &c->streams[1];
    assert_string_equal(s->name, "to-s3");
    assert_int_equal(s->dest_kind, CFG_DEST_S3);
    assert_string_equal(s->version_id, "1");
    assert_null(s->s3.path);
    assert_string_equal(s->s3.bucket_arn, "arn:aws:s3:::my-bucket");
    assert_string_equal(s->s3.bucket, "my-bucket");
    assert_string_equal(s->s3.role_arn,
                        "arn:aws:iam::123456789012:role/firehose_role");
    assert_string_equal(s->s3.prefix, "logs/!{timestamp:yyyy/MM/dd}/");
    assert_string_equal(s->s3.error_prefix,
                        "errors/!{firehose:error-output-type}/");
    assert_int_equal(s->s3.buffering.size_mb, 128);
    assert_int_equal(s->s3.buffering.interval_s, 0);
    assert_int_equal(s->s3.compression, CFG_COMP_UNCOMPRESSED);
    assert_string_equal(s->s3.file_extension, ".log");
    assert_string_equal(s->s3.custom_time_zone, "Asia/Tokyo");

    s = &c->streams[2];
    assert_string_equal(s->name, "legacy");
    assert_int_equal(s->dest_kind, CFG_DEST_S3);
    assert_string_equal(s->s3.bucket, "old.bucket_1");
    cfg_free(c);
}

static void test_defaults(void **state)
{
    struct cfg *c;
    struct cfg_stream *s;

    (void)state;
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    c = load_ok(S3(""));
    assert_string_equal(c->service.listen, "127.0.0.1:4573");
    assert_string_equal(c->service.listen_host, "127.0.0.1");
    assert_int_equal(c->service.listen_port, 4573);
    assert_string_equal(c->service.state_dir, "./state");
    assert_int_equal(c->service.durability_fsync, 1);
    assert_true(c->service.max_spool_bytes == 1073741824ULL);
    assert_string_equal(c->service.region, "us-east-1");
    assert_string_equal(c->service.account_id, "000000000000");
    assert_null(c->service.endpoint_s3);
    assert_int_equal(c->service.log_json, 0);
    s = &c->streams[0];
    assert_int_equal(s->type, CFG_STREAM_DIRECT_PUT);
    assert_null(s->s3.role_arn);
    assert_string_equal(s->s3.prefix, "");
    assert_string_equal(s->s3.error_prefix, "");
    assert_int_equal(s->s3.buffering.size_mb, 5);
    assert_int_equal(s->s3.buffering.interval_s, 300);
    assert_int_equal(s->s3.compression, CFG_COMP_UNCOMPRESSED);
    assert_string_equal(s->s3.file_extension, "");
    assert_string_equal(s->s3.custom_time_zone, "");
    assert_string_equal(s->version_id, "1");
    assert_true(s->quotas.records_ps == 0 && s->quotas.requests_ps == 0 &&
                s->quotas.bytes_ps == 0);
    cfg_free(c);
    c = load_ok(ONE(NAME ",'DirectPutQuotas':{'RecordsPerSecond':1000,"
                    "'BytesPerSecond':1048576},"
                    "'LocalDirectoryDestinationConfiguration':{'Path':'o'}"));
    s = &c->streams[0];
    assert_true(s->quotas.records_ps == 1000 && s->quotas.requests_ps == 0 &&
                s->quotas.bytes_ps == 1048576);
    cfg_free(c);
}

static void test_region_from_env(void **state)
{
    struct cfg *c;

    (void)state;
    unsetenv("AWS_REGION");
    setenv("AWS_DEFAULT_REGION", "ap-south-1", 1);
    c = load_ok(S3(""));
    assert_string_equal(c->service.region, "ap-south-1");
    cfg_free(c);
    setenv("AWS_REGION", "eu-north-1", 1);
    c = load_ok(S3(""));
    assert_string_equal(c->service.region, "eu-north-1");
    cfg_free(c);
    c = load_ok(SERVICE("'Region':'us-west-2'"));
    assert_string_equal(c->service.region, "us-west-2");
    cfg_free(c);
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
}

static void test_listen_forms(void **state)
{
    struct cfg *c;

    (void)state;
    c = load_ok(SERVICE("'Listen':'[::1]:4573'"));
    assert_string_equal(c->service.listen_host, "::1");
    assert_int_equal(c->service.listen_port, 4573);
    cfg_free(c);
    c = load_ok(SERVICE("'Listen':'localhost:65535'"));
    assert_string_equal(c->service.listen_host, "localhost");
    assert_int_equal(c->service.listen_port, 65535);
    cfg_free(c);
}

static void test_range_edges_accepted(void **state)
{
    struct cfg *c;

    (void)state;
    c = load_ok(S3(",'BufferingHints':{'SizeInMBs':1,'IntervalInSeconds':900}"
                   ",'CompressionFormat':'GZIP'"));
    assert_int_equal(c->streams[0].s3.buffering.size_mb, 1);
    assert_int_equal(c->streams[0].s3.buffering.interval_s, 900);
    assert_string_equal(cfg_compression_name(c->streams[0].s3.compression),
                        "GZIP");
    assert_int_equal(c->streams[0].s3.compression_level, 6);   /* default */
    cfg_free(c);
    c = load_ok(LOCAL(",'CompressionFormat':'GZIP','CompressionLevel':1"));
    assert_int_equal(c->streams[0].s3.compression_level, 1);
    cfg_free(c);
    c = load_ok(S3(",'CompressionLevel':9"));
    assert_int_equal(c->streams[0].s3.compression_level, 9);
    cfg_free(c);
    c = load_ok(SERVICE("'MaxSpoolBytesPerStream':1099511627776"));
    assert_true(c->service.max_spool_bytes == 1099511627776ULL);
    cfg_free(c);
    c = load_ok(SERVICE("'MaxSpoolBytesPerStream':1048576"));
    assert_true(c->service.max_spool_bytes == 1048576ULL);
    assert_true(c->service.max_request_memory == 67108864ULL);  /* default */
    cfg_free(c);
    c = load_ok(SERVICE("'MaxRequestMemoryBytes':16777216"));
    assert_true(c->service.max_request_memory == 16777216ULL);
    cfg_free(c);
    /* 64 characters is the longest name. */
    c = load_ok("{'DeliveryStreams':[{'DeliveryStreamName':"
                "'a234567890123456789012345678901234567890123456789012345678"
                "901234','LocalDirectoryDestinationConfiguration':"
                "{'Path':'o'}}]}");
    assert_int_equal(strlen(c->streams[0].name), 64);
    cfg_free(c);
}

static void test_not_json(void **state)
{
    char *e;

    (void)state;
    e = load_bad("{\n  'DeliveryStreams': [\n    {,\n  ]\n}");
    has(e, "t.json: line 3");
    free(e);
    e = load_bad("");
    has(e, "t.json: line 1");
    free(e);
}

static void test_top_level_not_object(void **state)
{
    char *e;

    (void)state;
    e = load_bad("[1, 2]");
    has(e, "t.json: (top level): expected an object, got an array");
    free(e);
    e = load_bad("'x'");
    has(e, "t.json:");
    free(e);
}

static void test_duplicate_key(void **state)
{
    char *e;

    (void)state;
    e = load_bad("{'Service':{'Listen':'a:1',\n'Listen':'b:2'},"
                 "'DeliveryStreams':[]}");
    has(e, "t.json: line 2");
    has(e, "duplicate");
    free(e);
}

static const struct bad_case unknown_keys[] = {
    { "{'Servce':{},'DeliveryStreams':[{" NAME
      ",'LocalDirectoryDestinationConfiguration':{'Path':'o'}}]}",
      "Servce: unknown key" },
    { SERVICE("'Port':1"), "Service.Port: unknown key" },
    { SERVICE("'Endpoints':{'S3':'http://x','Sqs':'http://y'}"),
      "Service.Endpoints.Sqs: unknown key" },
    { S3(",'Bogus':1"),
      "DeliveryStreams[0].ExtendedS3DestinationConfiguration.Bogus: "
      "unknown key" },
    { ONE(NAME ",'Tagz':[],'LocalDirectoryDestinationConfiguration':"
          "{'Path':'o'}"), "DeliveryStreams[0].Tagz: unknown key" },
    { S3(",'BufferingHints':{'SizeInMBs':5,'IntervalInSeconds':5,'X':1}"),
      "DeliveryStreams[0].ExtendedS3DestinationConfiguration."
      "BufferingHints.X: unknown key" },
    { LOCAL(",'BucketARN':'arn:aws:s3:::b'"),
      "DeliveryStreams[0].LocalDirectoryDestinationConfiguration."
      "BucketARN: unknown key" },
    { S3(",'CloudWatchLoggingOptions':{'Enabled':false,'Level':1}"),
      "CloudWatchLoggingOptions.Level: unknown key" },
    { S3(",'bufferingHints':{}"),
      "bufferingHints: unknown key (keys are case-sensitive: did you mean "
      "BufferingHints?)" },
};

static void test_unknown_keys(void **state)
{
    (void)state;
    RUN_BAD(unknown_keys);
}

static const struct bad_case wrong_types[] = {
    { "{'DeliveryStreams':{}}",
      "DeliveryStreams: expected an array, got an object" },
    { "{'Service':[],'DeliveryStreams':[]}",
      "Service: expected an object, got an array" },
    { "{'DeliveryStreams':[1]}",
      "DeliveryStreams[0]: expected an object, got an integer" },
    { SERVICE("'Listen':4573"),
      "Service.Listen: expected a string, got an integer" },
    { SERVICE("'MaxSpoolBytesPerStream':'1G'"),
      "Service.MaxSpoolBytesPerStream: expected an integer, got a string" },
    { S3(",'BufferingHints':{'SizeInMBs':5.5,'IntervalInSeconds':5}"),
      "BufferingHints.SizeInMBs: expected an integer, got a fractional "
      "number" },
    { S3(",'BufferingHints':{'SizeInMBs':5,'IntervalInSeconds':null}"),
      "BufferingHints.IntervalInSeconds: expected an integer, got null" },
    { S3(",'CompressionFormat':1"),
      "CompressionFormat: expected a string, got an integer" },
    { S3(",'CompressionLevel':0"), "CompressionLevel: 0 is below the minimum 1" },
    { S3(",'CompressionLevel':10"),
      "CompressionLevel: 10 is above the maximum 9" },
    { LOCAL(",'CompressionLevel':'6'"),
      "CompressionLevel: expected an integer, got a string" },
    { S3(",'ProcessingConfiguration':{'Enabled':'false'}"),
      "ProcessingConfiguration.Enabled: expected true or false, got a "
      "string" },
    { S3(",'ProcessingConfiguration':{'Processors':{}}"),
      "ProcessingConfiguration.Processors: expected an array, got an "
      "object" },
    { ONE(NAME ",'ExtendedS3DestinationConfiguration':'s3://b'"),
      "DeliveryStreams[0].ExtendedS3DestinationConfiguration: expected an "
      "object, got a string" },
    { ONE("'DeliveryStreamName':true,"
          "'LocalDirectoryDestinationConfiguration':{'Path':'o'}"),
      "DeliveryStreams[0].DeliveryStreamName: expected a string, got a "
      "boolean" },
};

static void test_wrong_types(void **state)
{
    (void)state;
    RUN_BAD(wrong_types);
}

static const struct bad_case out_of_range[] = {
    { S3(",'BufferingHints':{'SizeInMBs':129,'IntervalInSeconds':60}"),
      "DeliveryStreams[0].ExtendedS3DestinationConfiguration.BufferingHints."
      "SizeInMBs: 129 is above the maximum 128" },
    { S3(",'BufferingHints':{'SizeInMBs':0,'IntervalInSeconds':60}"),
      "BufferingHints.SizeInMBs: 0 is below the minimum 1" },
    { S3(",'BufferingHints':{'SizeInMBs':5,'IntervalInSeconds':901}"),
      "BufferingHints.IntervalInSeconds: 901 is above the maximum 900" },
    { S3(",'BufferingHints':{'SizeInMBs':5,'IntervalInSeconds':-1}"),
      "BufferingHints.IntervalInSeconds: -1 is below the minimum 0" },
    { SERVICE("'MaxRequestMemoryBytes':8388608"),
      "Service.MaxRequestMemoryBytes: 8388608 is below the minimum 16777216" },
    { SERVICE("'MaxRequestMemoryBytes':-1"),
      "Service.MaxRequestMemoryBytes: -1 is below the minimum 16777216" },
    { SERVICE("'MaxSpoolBytesPerStream':1048575"),
      "Service.MaxSpoolBytesPerStream: 1048575 is below the minimum 1048576" },
    { SERVICE("'MaxSpoolBytesPerStream':1099511627777"),
      "Service.MaxSpoolBytesPerStream: 1099511627777 is above the maximum "
      "1099511627776" },
    { ONE("'DeliveryStreamName':'',"
          "'LocalDirectoryDestinationConfiguration':{'Path':'o'}"),
      "DeliveryStreams[0].DeliveryStreamName: an empty string is shorter "
      "than the minimum length 1" },
    { ONE("'DeliveryStreamName':'a23456789012345678901234567890123456789012"
          "34567890123456789012345','LocalDirectoryDestinationConfiguration'"
          ":{'Path':'o'}"),
      "DeliveryStreams[0].DeliveryStreamName: length 65 is above the "
      "maximum 64" },
    { "{'DeliveryStreams':[]}",
      "DeliveryStreams: has 0 entries, expected 1 to 5000" },
    { S3(",'DynamicPartitioningConfiguration':{'Enabled':false,"
         "'RetryOptions':{'DurationInSeconds':7201}}"),
      "RetryOptions.DurationInSeconds: 7201 is above the maximum 7200" },
    { ONE(NAME ",'DirectPutQuotas':{'RecordsPerSecond':0},"
          "'LocalDirectoryDestinationConfiguration':{'Path':'o'}"),
      "DeliveryStreams[0].DirectPutQuotas.RecordsPerSecond: 0 is below "
      "the minimum 1" },
    { ONE(NAME ",'DirectPutQuotas':{'BytesPerSecond':-5},"
          "'LocalDirectoryDestinationConfiguration':{'Path':'o'}"),
      "DeliveryStreams[0].DirectPutQuotas.BytesPerSecond" },
    { ONE(NAME ",'DirectPutQuotas':{'RequestPerSecond':5},"
          "'LocalDirectoryDestinationConfiguration':{'Path':'o'}"),
      "DeliveryStreams[0].DirectPutQuotas.RequestPerSecond" },
    { ONE(NAME ",'DirectPutQuotas':5,"
          "'LocalDirectoryDestinationConfiguration':{'Path':'o'}"),
      "DeliveryStreams[0].DirectPutQuotas: expected an object" },
};

static void test_out_of_range(void **state)
{
    char *e;

    (void)state;
    RUN_BAD(out_of_range);
    e = load_bad(ONE(NAME ",'LocalDirectoryDestinationConfiguration':"
                     "{'Path':''}"));
    has(e, "LocalDirectoryDestinationConfiguration.Path: an empty string "
        "is shorter than the minimum length 1");
    free(e);
}

static void test_long_strings(void **state)
{
    char json[4096], *e, p[1100];

    (void)state;
    memset(p, 'a', 1025);
    p[1025] = '\0';
    snprintf(json, sizeof(json), S3(",'Prefix':'%s'"), p);
    e = load_bad(json);
    has(e, "ExtendedS3DestinationConfiguration.Prefix: length 1025 is above "
        "the maximum 1024");
    free(e);
    memset(p, 'a', 129);
    p[0] = '.';
    p[129] = '\0';
    snprintf(json, sizeof(json), LOCAL(",'FileExtension':'%s'"), p);
    e = load_bad(json);
    has(e, "FileExtension: length 129 is above the maximum 128");
    free(e);
}

static const struct bad_case bad_enums[] = {
    { S3(",'CompressionFormat':'gzip'"),
      "DeliveryStreams[0].ExtendedS3DestinationConfiguration."
      "CompressionFormat: \"gzip\" is not one of UNCOMPRESSED, GZIP, ZIP, "
      "Snappy, HADOOP_SNAPPY (values are case-sensitive: did you mean "
      "GZIP?)" },
    { S3(",'CompressionFormat':'LZ4'"),
      "CompressionFormat: \"LZ4\" is not one of UNCOMPRESSED" },
    { SERVICE("'Durability':'FSYNC'"),
      "Service.Durability: \"FSYNC\" is not one of fsync, os" },
    { SERVICE("'LogFormat':'xml'"),
      "Service.LogFormat: \"xml\" is not one of text, json" },
    { ONE(NAME ",'DeliveryStreamType':'directput',"
          "'LocalDirectoryDestinationConfiguration':{'Path':'o'}"),
      "DeliveryStreams[0].DeliveryStreamType: \"directput\" is not one of" },
    { S3(",'EncryptionConfiguration':{'NoEncryptionConfig':'None'}"),
      "EncryptionConfiguration.NoEncryptionConfig: \"None\" is not one of "
      "NoEncryption" },
};

static void test_bad_enums(void **state)
{
    (void)state;
    RUN_BAD(bad_enums);
}

static const struct bad_case unsupported[] = {
    { S3(",'S3BackupMode':'Enabled'"),
      "ExtendedS3DestinationConfiguration: S3BackupConfiguration is "
      "required when S3BackupMode is Enabled" },
    { S3(",'S3BackupMode':'Enabled','S3BackupConfiguration':"
         "{'BucketARN':'nope'}"),
      "S3BackupConfiguration.BucketARN" },
    { LOCAL(",'S3BackupMode':'Enabled'"),
      "S3BackupMode Enabled (source-record backup) is for "
      "ExtendedS3DestinationConfiguration only" },
    { S3(",'DataFormatConversionConfiguration':{}"),
      "DataFormatConversionConfiguration: DataFormatConversionConfiguration "
      "is not supported yet" },
    { ONE(NAME ",'DeliveryStreamType':'KinesisStreamAsSource',"
          "'LocalDirectoryDestinationConfiguration':{'Path':'o'}"),
      "DeliveryStreams[0]: DeliveryStreamType KinesisStreamAsSource needs "
      "KinesisStreamSourceConfiguration" },
#define KSRC(x) ONE(NAME ",'DeliveryStreamType':'KinesisStreamAsSource'," \
          "'LocalDirectoryDestinationConfiguration':{'Path':'o'}," \
          "'KinesisStreamSourceConfiguration':{" x "}")
    { KSRC("'KinesisStreamARN':'arn:aws:kinesis:us-east-1:12:stream/x'"),
      "KinesisStreamARN: \"arn:aws:kinesis:us-east-1:12:stream/x\" is not "
      "arn:aws:kinesis:<region>:<account>:stream/<name>" },
    { KSRC("'KinesisStreamARN':'arn:aws:kinesis:us-east-1:000000000000:"
           "stream/x','StartingPosition':'AT_TIMESTAMP'"),
      "KinesisStreamSourceConfiguration: StartingPosition AT_TIMESTAMP "
      "needs StartingPositionTimestamp" },
    { KSRC("'KinesisStreamARN':'arn:aws:kinesis:us-east-1:000000000000:"
           "stream/x','GetRecordsLimit':10001"),
      "GetRecordsLimit: 10001 is above the maximum 10000" },
    { KSRC("'KinesisStreamARN':'arn:aws:kinesis:us-east-1:000000000000:"
           "stream/x','OutOfRangeRecords':'discard'"),
      "OutOfRangeRecords: \"discard\" is not one of" },
    { ONE(NAME ",'KinesisStreamSourceConfiguration':{'KinesisStreamARN':"
          "'arn:aws:kinesis:us-east-1:000000000000:stream/x'},"
          "'LocalDirectoryDestinationConfiguration':{'Path':'o'}"),
      "KinesisStreamSourceConfiguration needs DeliveryStreamType "
      "KinesisStreamAsSource" },
    { ONE(NAME ",'DeliveryStreamType':'MSKAsSource',"
          "'LocalDirectoryDestinationConfiguration':{'Path':'o'}"),
      "DeliveryStreamType: DeliveryStreamType MSKAsSource is not "
      "supported" },
    { ONE(NAME ",'HttpEndpointDestinationConfiguration':{"
          "'EndpointConfiguration':{'Url':'https://h/'},"
          "'S3Configuration':{'BucketARN':'arn:aws:s3:::b'},"
          "'SecretsManagerConfiguration':{'Enabled':true}}"),
      "HttpEndpointDestinationConfiguration.SecretsManagerConfiguration: "
      "SecretsManagerConfiguration is not supported yet" },
};

#define LUA(params) "{'Type':'Lua','Parameters':[" params "]}"
#define SCRIPT "{'ParameterName':'ScriptName','ParameterValue':'t.lua'}"
#define PROC(procs) ",'ProcessingConfiguration':{'Enabled':true," \
    "'Processors':[" procs "]}"
#define DP_PREFIX ",'Prefix':'c=!{partitionKeyFromLambda:c}/'," \
    "'ErrorOutputPrefix':'e/!{firehose:error-output-type}/'"

static const struct bad_case processing_bad[] = {
    { S3(PROC("{'Type':'Lambda','Parameters':[]}")),
      "Processors[0]: Type Lambda: this server runs Lua scripts" },
    { S3(PROC(LUA(""))), "Processors[0]: the Lua processor needs a "
      "ScriptName" },
    { S3(PROC(LUA("{'ParameterName':'ScriptName','ParameterValue':"
                  "'../x.lua'}"))), "must be a file name" },
    { S3(PROC(LUA(SCRIPT ",{'ParameterName':'NumberOfRetries',"
                  "'ParameterValue':'x'}"))),
      "NumberOfRetries \"x\" must be an integer from 0 to 300" },
    { S3(PROC(LUA(SCRIPT ",{'ParameterName':'NumberOfRetries',"
                  "'ParameterValue':'301'}"))), "from 0 to 300" },
    { S3(PROC(LUA(SCRIPT ",{'ParameterName':'Bogus','ParameterValue':'1'}"))),
      "Parameters[1]: unknown ParameterName \"Bogus\"" },
    { S3(PROC(LUA("{'ParameterName':'ScriptName','ParameterValue':' '}"))),
      "not blank" },
    { S3(PROC(LUA("{'ParameterName':'ScriptName'}"))),
      "expected {\"ParameterName\": string, \"ParameterValue\": string}" },
    { S3(PROC(LUA(SCRIPT) "," LUA(SCRIPT))),
      "Processors[1]: only one Lua processor per stream" },
    { S3(PROC("{'Type':'Bogus'}")), "unknown processor Type \"Bogus\"" },
    { S3(PROC("{'Type':'Lua','Parameters':{}}")),
      "Parameters: expected an array" },
    { S3(PROC("{'Type':'Lua','Extra':1}")), "unknown key \"Extra\"" },
    { S3(PROC("5")), "Processors[0]: expected {\"Type\": string" },
    { S3(",'DynamicPartitioningConfiguration':{'Enabled':true}" DP_PREFIX),
      "DynamicPartitioningConfiguration needs an enabled MetadataExtraction "
      "processor" },
    { S3(",'DynamicPartitioningConfiguration':{'Enabled':true}" DP_PREFIX
         PROC(LUA(SCRIPT)) ",'BufferingHints':{'SizeInMBs':64,"
         "'IntervalInSeconds':0}"), "IntervalInSeconds can't be 0" },
    { S3(",'DynamicPartitioningConfiguration':{'Enabled':true}"
         PROC(LUA(SCRIPT))), "ExtendedS3DestinationConfiguration: " },
    { S3(",'Prefix':'c=!{partitionKeyFromLambda:c}/','ErrorOutputPrefix':"
         "'e/!{firehose:error-output-type}/'" PROC(LUA(SCRIPT))),
      "ExtendedS3DestinationConfiguration: " },
};

static void test_processing(void **state)
{
    struct cfg *c;
    const struct cfg_s3 *d;

    (void)state;
    RUN_BAD(processing_bad);
    c = load_ok(S3(",'DynamicPartitioningConfiguration':{'Enabled':true,"
                   "'RetryOptions':{'DurationInSeconds':60}}" DP_PREFIX
                   PROC(LUA(SCRIPT ",{'ParameterName':'NumberOfRetries',"
                            "'ParameterValue':'5'}")
                        ",{'Type':'AppendDelimiterToRecord',"
                        "'Parameters':[]}")));
    d = &c->streams[0].s3;
    assert_true(d->processing.enabled);
    assert_string_equal(d->processing.lua_script, "t.lua");
    assert_int_equal(d->processing.lua_retries, 5);
    assert_true(d->processing.append_delimiter);
    assert_true(d->dynamic_partitioning);
    assert_string_equal(c->service.transforms_dir, "./transforms");
    cfg_free(c);
    /* Processors listed without Enabled run; Enabled false keeps them off. */
    c = load_ok(LOCAL(",'ProcessingConfiguration':{'Processors':["
                      "{'Type':'AppendDelimiterToRecord'}]}"));
    assert_true(c->streams[0].s3.processing.enabled);
    assert_null(c->streams[0].s3.processing.lua_script);
    cfg_free(c);
    c = load_ok(LOCAL(",'ProcessingConfiguration':{'Enabled':false,"
                      "'Processors':[" LUA(SCRIPT) "]}"));
    assert_false(c->streams[0].s3.processing.enabled);
    assert_int_equal(c->streams[0].s3.processing.lua_retries, 3);
    cfg_free(c);
}

/* ---- the built-in processors ---- */

#define PARAM(n, v) "{'ParameterName':'" n "','ParameterValue':'" v "'}"
#define MX(q) "{'Type':'MetadataExtraction','Parameters':[" \
    PARAM("MetadataExtractionQuery", q) "," \
    PARAM("JsonParsingEngine", "JQ-1.6") "]}"
#define DEAGG(params) "{'Type':'RecordDeAggregation','Parameters':[" \
    params "]}"
#define GZ "{'Type':'Decompression','Parameters':[" \
    PARAM("CompressionFormat", "GZIP") "]}"
#define CWL(v) "{'Type':'CloudWatchLogProcessing','Parameters':[" \
    PARAM("DataMessageExtraction", v) "]}"
#define DPQ ",'DynamicPartitioningConfiguration':{'Enabled':true}," \
    "'Prefix':'c=!{partitionKeyFromQuery:c}/'," \
    "'ErrorOutputPrefix':'e/!{firehose:error-output-type}/'"

static const struct bad_case builtin_bad[] = {
    { S3(DPQ PROC("{'Type':'MetadataExtraction','Parameters':["
                  PARAM("MetadataExtractionQuery", "{c: .c}") "]}")),
      "Processors[0]: MetadataExtraction needs JsonParsingEngine "
      "\"JQ-1.6\"" },
    { S3(DPQ PROC("{'Type':'MetadataExtraction','Parameters':["
                  PARAM("MetadataExtractionQuery", "{c: .c}") ","
                  PARAM("JsonParsingEngine", "jq-1.6") "]}")),
      "Processors[0]: JsonParsingEngine \"jq-1.6\" must be \"JQ-1.6\"" },
    { S3(DPQ PROC("{'Type':'MetadataExtraction','Parameters':["
                  PARAM("JsonParsingEngine", "JQ-1.6") "]}")),
      "Processors[0]: MetadataExtraction needs a MetadataExtractionQuery" },
    { S3(DPQ PROC(MX("{c: .c"))),
      "Processors[0]: MetadataExtractionQuery does not compile: jq: error: "
      "syntax error" },
    { S3(DPQ PROC(MX("{c: nosuchfn}"))),
      "MetadataExtractionQuery does not compile: jq: error: nosuchfn/0 is "
      "not defined" },
    { S3(DPQ PROC(MX("{c: .c}") "," MX("{c: .c}"))),
      "Processors[1]: only one MetadataExtraction processor per stream" },
    { S3(PROC(MX("{c: .c}"))),
      "ExtendedS3DestinationConfiguration: a MetadataExtraction processor "
      "needs DynamicPartitioningConfiguration.Enabled true" },
    { S3(DPQ PROC(LUA(SCRIPT))),
      "Prefix uses !{partitionKeyFromQuery:...}: it needs an enabled "
      "MetadataExtraction processor" },
    { S3(",'DynamicPartitioningConfiguration':{'Enabled':true},"
         "'Prefix':'c=!{partitionKeyFromLambda:c}/',"
         "'ErrorOutputPrefix':'e/!{firehose:error-output-type}/'"
         PROC(MX("{c: .c}"))),
      "Prefix uses !{partitionKeyFromLambda:...}: it needs an enabled Lua "
      "processor" },
    { S3(DPQ ",'ProcessingConfiguration':{'Enabled':false,'Processors':["
         MX("{c: .c}") "]}"), "needs an enabled MetadataExtraction" },
    { S3(PROC(DEAGG(""))), "Processors[0]: RecordDeAggregation needs a "
      "SubRecordType parameter" },
    { S3(PROC(DEAGG(PARAM("SubRecordType", "json")))),
      "SubRecordType \"json\" must be JSON or DELIMITED" },
    { S3(PROC(DEAGG(PARAM("SubRecordType", "DELIMITED")))),
      "SubRecordType DELIMITED needs a Delimiter parameter" },
    { S3(PROC(DEAGG(PARAM("SubRecordType", "DELIMITED") ","
                    PARAM("Delimiter", "####")))),
      "Delimiter \"####\" is not base64" },
    { S3(PROC(DEAGG(PARAM("SubRecordType", "DELIMITED") ","
                    PARAM("Delimiter", "IyMjI")))), "is not base64" },
    { S3(PROC(DEAGG(PARAM("SubRecordType", "JSON") ","
                    PARAM("Delimiter", "IyMjIw==")))),
      "Delimiter is only for SubRecordType DELIMITED" },
    { S3(PROC(DEAGG(PARAM("SubRecordType", "JSON") ","
                    PARAM("Separator", "x")))),
      "Parameters[1]: unknown ParameterName \"Separator\"" },
    { S3(PROC("{'Type':'Decompression','Parameters':[]}")),
      "Processors[0]: Decompression needs CompressionFormat \"GZIP\"" },
    { S3(PROC("{'Type':'Decompression','Parameters':["
              PARAM("CompressionFormat", "ZSTD") "]}")),
      "needs CompressionFormat \"GZIP\" (not \"ZSTD\")" },
    { S3(PROC(CWL("true"))),
      "ProcessingConfiguration: CloudWatchLogProcessing needs a "
      "Decompression processor" },
    { S3(PROC(GZ "," CWL("yes"))),
      "Processors[1]: CloudWatchLogProcessing needs DataMessageExtraction "
      "\"true\" or \"false\"" },
    { S3(PROC(GZ "," GZ)),
      "Processors[1]: only one Decompression processor per stream" },
    { S3(",'DynamicPartitioningConfiguration':{'Enabled':true,"
         "'MaxActivePartitions':0},'Prefix':'c=!{partitionKeyFromQuery:c}/',"
         "'ErrorOutputPrefix':'e/!{firehose:error-output-type}/'"
         PROC(MX("{c: .c}"))),
      "DynamicPartitioningConfiguration.MaxActivePartitions" },
    { S3(",'DynamicPartitioningConfiguration':{'Enabled':true,"
         "'PartitionBufferBytes':1000},"
         "'Prefix':'c=!{partitionKeyFromQuery:c}/',"
         "'ErrorOutputPrefix':'e/!{firehose:error-output-type}/'"
         PROC(MX("{c: .c}"))),
      "DynamicPartitioningConfiguration.PartitionBufferBytes: 1000 is below "
      "the minimum 1048576" },
};

static void test_builtin_processors(void **state)
{
    struct cfg *c;
    const struct cfg_processing *pc;

    (void)state;
    RUN_BAD(builtin_bad);
    /* The issue's example, processors listed out of Firehose's order. */
    c = load_ok(S3(DPQ PROC("{'Type':'AppendDelimiterToRecord'},"
                            MX("{c: .customer_id, y: (.ts | strftime(\\\"%Y\\\"))}")
                            "," DEAGG(PARAM("SubRecordType", "JSON")) ","
                            CWL("true") "," GZ)));
    pc = &c->streams[0].s3.processing;
    assert_true(pc->gzip);
    assert_true(pc->cw_logs);
    assert_true(pc->cw_extract);
    assert_int_equal(pc->deagg, CFG_DEAGG_JSON);
    assert_string_equal(pc->jq_query,
                        "{c: .customer_id, y: (.ts | strftime(\"%Y\"))}");
    assert_true(pc->append_delimiter);
    assert_int_equal(c->streams[0].s3.max_active_partitions, 500);
    assert_int_equal(c->streams[0].s3.partition_buffer_bytes, 64u << 20);
    cfg_free(c);
    c = load_ok(S3(",'DynamicPartitioningConfiguration':{'Enabled':true,"
                   "'MaxActivePartitions':3,"
                   "'PartitionBufferBytes':2097152},"
                   "'Prefix':'c=!{partitionKeyFromQuery:c}/"
                   "l=!{partitionKeyFromLambda:l}/',"
                   "'ErrorOutputPrefix':'e/!{firehose:error-output-type}/'"
                   PROC(MX("{c: .c}") "," LUA(SCRIPT) ","
                        DEAGG(PARAM("SubRecordType", "DELIMITED") ","
                              PARAM("Delimiter", "IyMjIw==")) ","
                        GZ "," CWL("false"))));
    pc = &c->streams[0].s3.processing;
    assert_int_equal(c->streams[0].s3.max_active_partitions, 3);
    assert_int_equal(c->streams[0].s3.partition_buffer_bytes, 2097152);
    assert_int_equal(pc->deagg, CFG_DEAGG_DELIMITED);
    assert_int_equal(pc->deagg_delim_len, 4);
    assert_memory_equal(pc->deagg_delim, "####", 4);
    assert_false(pc->cw_extract);
    assert_true(pc->cw_logs);
    cfg_free(c);
}

/* ---- HTTP endpoint and OpenSearch destinations ---- */

#define BACKUP "'S3Configuration':{'BucketARN':'arn:aws:s3:::bk'}"
#define HTTP(m) ONE(NAME ",'HttpEndpointDestinationConfiguration':{" m "}")
#define HTTP_OK(m) HTTP("'EndpointConfiguration':{'Url':'https://h/p?q=1'}," \
                        BACKUP m)
#define OS(m) ONE(NAME ",'AmazonopensearchserviceDestinationConfiguration'" \
                  ":{" m "}")
#define OS_OK(m) OS("'ClusterEndpoint':'https://os:443','IndexName':'ix'," \
                    BACKUP m)
#define ES_OK(m) ONE(NAME ",'ElasticsearchDestinationConfiguration':{" \
                     "'ClusterEndpoint':'https://os','IndexName':'ix'," \
                     BACKUP m "}")

static void test_http_values(void **state)
{
    struct cfg *c;
    struct cfg_stream *s;

    (void)state;
    c = load_ok(HTTP_OK(""));
    s = &c->streams[0];
    assert_int_equal(s->dest_kind, CFG_DEST_HTTP);
    assert_string_equal(s->http.url, "https://h/p?q=1");
    assert_null(s->http.access_key);
    assert_null(s->http.name);
    assert_int_equal(s->http.gzip, 0);
    assert_int_equal(s->http.n_attrs, 0);
    assert_int_equal(s->http.timeout_s, 180);
    assert_int_equal(s->retry_s, 300);
    assert_int_equal(s->backup_all, 0);
    assert_string_equal(s->backup.bucket, "bk");
    assert_int_equal(s->s3.buffering.size_mb, 5);
    assert_int_equal(s->s3.buffering.interval_s, 300);
    assert_int_equal(s->s3.compression, CFG_COMP_UNCOMPRESSED);
    assert_string_equal(s->s3.prefix, "");
    cfg_free(c);

    c = load_ok(ONE(NAME ",'HttpEndpointDestinationConfiguration':{"
        "'EndpointConfiguration':{'Url':'http://127.0.0.1:8080/in',"
        "'Name':'rx','AccessKey':'k'},'RequestConfiguration':{"
        "'ContentEncoding':'GZIP','CommonAttributes':[{'AttributeName':'a',"
        "'AttributeValue':'1'},{'AttributeName':'b','AttributeValue':''}]},"
        "'BufferingHints':{'SizeInMBs':64,'IntervalInSeconds':0},"
        "'RetryOptions':{'DurationInSeconds':7200},'S3BackupMode':'AllData',"
        "'RoleARN':'arn:aws:iam::123456789012:role/r',"
        "'CloudWatchLoggingOptions':{'Enabled':false},"
        "'ProcessingConfiguration':{'Processors':[{'Type':"
        "'AppendDelimiterToRecord'}]},'RequestTimeoutInSeconds':5,"
        "'S3Configuration':{'BucketARN':'arn:aws:s3:::bk','Prefix':'f/',"
        "'CompressionFormat':'GZIP','BufferingHints':{'SizeInMBs':1,"
        "'IntervalInSeconds':60}}}"));
    s = &c->streams[0];
    assert_string_equal(s->http.url, "http://127.0.0.1:8080/in");
    assert_string_equal(s->http.name, "rx");
    assert_string_equal(s->http.access_key, "k");
    assert_int_equal(s->http.gzip, 1);
    assert_int_equal(s->http.n_attrs, 2);
    assert_string_equal(s->http.attrs[1].name, "b");
    assert_string_equal(s->http.attrs[1].value, "");
    assert_int_equal(s->http.timeout_s, 5);
    assert_int_equal(s->retry_s, 7200);
    assert_int_equal(s->backup_all, 1);
    assert_int_equal(s->s3.buffering.size_mb, 64);
    assert_int_equal(s->s3.buffering.interval_s, 0);
    assert_int_equal(s->s3.processing.append_delimiter, 1);
    assert_int_equal(s->s3.compression, CFG_COMP_UNCOMPRESSED);
    assert_string_equal(s->backup.prefix, "f/");
    assert_int_equal(s->backup.compression, CFG_COMP_GZIP);
    assert_int_equal(s->backup.buffering.size_mb, 1);
    cfg_free(c);
}

static void test_opensearch_values(void **state)
{
    struct cfg *c;
    struct cfg_stream *s;

    (void)state;
    c = load_ok(OS_OK(""));
    s = &c->streams[0];
    assert_int_equal(s->dest_kind, CFG_DEST_OPENSEARCH);
    assert_string_equal(s->os.cluster_endpoint, "https://os:443");
    assert_null(s->os.domain_arn);
    assert_string_equal(s->os.index_name, "ix");
    assert_string_equal(s->os.type_name, "");
    assert_int_equal(s->os.rotation, CFG_ROT_DAY);
    assert_int_equal(s->os.week_iso, 0);
    assert_int_equal(s->os.no_document_id, 0);
    assert_null(s->os.basic_user);
    assert_int_equal(s->os.elasticsearch, 0);
    assert_int_equal(s->retry_s, 300);
    assert_int_equal(s->backup_all, 0);
    assert_int_equal(s->s3.buffering.size_mb, 5);
    cfg_free(c);

    c = load_ok("{'Service':{'Endpoints':{'OpenSearch':'http://127.0.0.1:9200'"
        "}},'DeliveryStreams':[{" NAME ",'ElasticsearchDestinationConfiguration'"
        ":{'DomainARN':'arn:aws:es:us-east-1:123456789012:domain/my-dom',"
        "'IndexName':'ix','TypeName':'_doc','IndexRotationPeriod':'OneWeek',"
        "'IndexRotationWeekRule':'ISO','DocumentIdOptions':{"
        "'DefaultDocumentIdFormat':'NO_DOCUMENT_ID'},'BufferingHints':{"
        "'SizeInMBs':100,'IntervalInSeconds':900},'RetryOptions':{"
        "'DurationInSeconds':0},'S3BackupMode':'AllDocuments',"
        "'BasicAuth':{'Username':'u','Password':'p:w'},"
        "'VpcConfiguration':{'SubnetIds':['s'],'SecurityGroupIds':['g'],"
        "'RoleARN':'arn:aws:iam::123456789012:role/r'}," BACKUP "}}]}");
    s = &c->streams[0];
    assert_string_equal(c->service.endpoint_opensearch,
                        "http://127.0.0.1:9200");
    assert_null(s->os.cluster_endpoint);
    assert_int_equal(s->os.elasticsearch, 1);
    assert_string_equal(s->os.type_name, "_doc");
    assert_int_equal(s->os.rotation, CFG_ROT_WEEK);
    assert_int_equal(s->os.week_iso, 1);
    assert_int_equal(s->os.no_document_id, 1);
    assert_string_equal(s->os.basic_user, "u");
    assert_string_equal(s->os.basic_password, "p:w");
    assert_int_equal(s->s3.buffering.size_mb, 100);
    assert_int_equal(s->retry_s, 0);
    assert_int_equal(s->backup_all, 1);
    cfg_free(c);
}

static const struct bad_case http_bad[] = {
    { HTTP(BACKUP), "HttpEndpointDestinationConfiguration."
      "EndpointConfiguration: missing required key" },
    { HTTP("'EndpointConfiguration':{'Url':'https://h'}"),
      "HttpEndpointDestinationConfiguration.S3Configuration: missing "
      "required key" },
    { HTTP("'EndpointConfiguration':{}," BACKUP),
      "EndpointConfiguration.Url: missing required key" },
    { HTTP("'EndpointConfiguration':{'Url':'ftp://h'}," BACKUP),
      "EndpointConfiguration.Url: \"ftp://h\" must start with http:// or "
      "https://" },
    { HTTP("'EndpointConfiguration':{'Url':'http://example.com/'}," BACKUP),
      "EndpointConfiguration.Url: plain http:// is only accepted to "
      "127.0.0.1, localhost or [::1]" },
    { HTTP("'EndpointConfiguration':{'Url':'http://127.0.0.1.evil/'},"
           BACKUP), "Url: plain http://" },
    { HTTP("'EndpointConfiguration':{'Url':'https://h','Name':''}," BACKUP),
      "EndpointConfiguration.Name: an empty string is shorter than the "
      "minimum length 1" },
    { HTTP_OK(",'BufferingHints':{'SizeInMBs':65,'IntervalInSeconds':60}"),
      "BufferingHints.SizeInMBs: 65 is above the maximum 64" },
    { HTTP_OK(",'BufferingHints':{'SizeInMBs':5}"),
      "BufferingHints: IntervalInSeconds is required" },
    { HTTP_OK(",'RetryOptions':{'DurationInSeconds':7201}"),
      "RetryOptions.DurationInSeconds: 7201 is above the maximum 7200" },
    { HTTP_OK(",'RetryOptions':{'DurationInSeconds':-1}"),
      "RetryOptions.DurationInSeconds: -1 is below the minimum 0" },
    { HTTP_OK(",'S3BackupMode':'FailedDocumentsOnly'"),
      "S3BackupMode: " },
    { HTTP_OK(",'RequestConfiguration':{'ContentEncoding':'gzip'}"),
      "RequestConfiguration.ContentEncoding: " },
    { HTTP_OK(",'RequestConfiguration':{'CommonAttributes':[{"
              "'AttributeName':'a'}]}"),
      "CommonAttributes[0].AttributeValue: missing required key" },
    { HTTP_OK(",'RequestConfiguration':{'CommonAttributes':[{"
              "'AttributeName':' ','AttributeValue':''}]}"),
      "CommonAttributes[0].AttributeName: must not be blank" },
    { HTTP_OK(",'RequestConfiguration':{'CommonAttributes':[{"
              "'AttributeName':'a','AttributeValue':''},{"
              "'AttributeName':'a','AttributeValue':'x'}]}"),
      "CommonAttributes[1].AttributeName: \"a\" is already the name of "
      "CommonAttributes[0]" },
    { HTTP("'EndpointConfiguration':{'Url':'https://h','AccessKey':"
           "'a\\nb'}," BACKUP), "EndpointConfiguration.AccessKey: must not "
      "contain a line break" },
    { HTTP_OK(",'RequestTimeoutInSeconds':0"),
      "RequestTimeoutInSeconds: 0 is below the minimum 1" },
    { HTTP_OK(",'S3Configuration':{}"), "duplicate" },
    { HTTP("'EndpointConfiguration':{'Url':'https://h'},"
           "'S3Configuration':{'Prefix':'x/'}"),
      "S3Configuration.BucketARN: missing required key" },
    { HTTP_OK(",'RoleARN':'role'"), "RoleARN: \"role\" is not an IAM role "
      "ARN" },
    { HTTP_OK(",'CompressionFormat':'GZIP'"),
      "HttpEndpointDestinationConfiguration.CompressionFormat: unknown key" },
};

static const struct bad_case os_bad[] = {
    { OS("'IndexName':'ix'," BACKUP), "give exactly one of ClusterEndpoint "
      "(https://host:port) and DomainARN" },
    { OS("'ClusterEndpoint':'https://os','DomainARN':"
         "'arn:aws:es:us-east-1:123456789012:domain/dom','IndexName':'ix',"
         BACKUP), "give exactly one of ClusterEndpoint" },
    { OS("'ClusterEndpoint':'https://os'," BACKUP),
      "IndexName: missing required key" },
    { OS("'ClusterEndpoint':'https://os','IndexName':'ix'"),
      "AmazonopensearchserviceDestinationConfiguration.S3Configuration: "
      "missing required key" },
    { OS("'ClusterEndpoint':'http://os.example:9200','IndexName':'ix',"
         BACKUP), "ClusterEndpoint: plain http:// is only accepted" },
    { OS("'DomainARN':'arn:aws:es:us-east-1:1234:domain/dom',"
         "'IndexName':'ix'," BACKUP), "DomainARN: \"arn:aws:es:us-east-1:"
      "1234:domain/dom\" is not an OpenSearch domain ARN" },
    { OS("'DomainARN':'arn:aws:es:us-east-1:123456789012:domain/Dom',"
         "'IndexName':'ix'," BACKUP), "is not an OpenSearch domain ARN" },
    { OS("'DomainARN':'arn:aws:es:us-east-1:123456789012:domain/dom',"
         "'IndexName':'ix'," BACKUP), "AmazonopensearchserviceDestination"
      "Configuration.DomainARN: a DomainARN needs Service.Endpoints."
      "OpenSearch" },
    { OS_OK(",'IndexName':'x'"), "duplicate" },
    { OS("'ClusterEndpoint':'https://os','IndexName':'Logs'," BACKUP),
      "IndexName: \"Logs\": an index name is lowercase" },
    { OS("'ClusterEndpoint':'https://os','IndexName':'_x'," BACKUP),
      "IndexName: \"_x\": an index name can't be" },
    { OS("'ClusterEndpoint':'https://os','IndexName':"
         "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaa'," BACKUP),
      "IndexName: length 81 is above the maximum 80" },
    { OS_OK(",'IndexRotationPeriod':'OneYear'"), "IndexRotationPeriod: " },
    { OS_OK(",'IndexRotationPeriod':'oneday'"), "did you mean OneDay" },
    { OS_OK(",'IndexRotationWeekRule':'EU'"), "IndexRotationWeekRule: " },
    { OS_OK(",'DocumentIdOptions':{}"),
      "DocumentIdOptions.DefaultDocumentIdFormat: missing required key" },
    { OS_OK(",'DocumentIdOptions':{'DefaultDocumentIdFormat':'firehose_"
            "default'}"), "did you mean FIREHOSE_DEFAULT" },
    { OS_OK(",'BufferingHints':{'SizeInMBs':101,'IntervalInSeconds':1}"),
      "BufferingHints.SizeInMBs: 101 is above the maximum 100" },
    { OS_OK(",'BufferingHints':{'SizeInMBs':1,'IntervalInSeconds':901}"),
      "BufferingHints.IntervalInSeconds: 901 is above the maximum 900" },
    { OS_OK(",'S3BackupMode':'AllData'"), "S3BackupMode: " },
    { OS_OK(",'BasicAuth':{'Username':'a:b','Password':'p'}"),
      "BasicAuth.Username: a basic-auth user name can't contain ':'" },
    { OS_OK(",'BasicAuth':{'Username':'a'}"),
      "BasicAuth.Password: missing required key" },
    { OS_OK(",'TypeName':" "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'"),
      "TypeName: length 101 is above the maximum 100" },
    { OS_OK(",'VpcConfiguration':{'SubnetIds':'s'}"),
      "VpcConfiguration.SubnetIds: expected an array" },
    { OS_OK(",'RetryOptions':{'DurationInSeconds':'300'}"),
      "RetryOptions.DurationInSeconds: expected an integer" },
    { ES_OK(",'IndexRotationPeriod':'OneMinute'"),
      "ElasticsearchDestinationConfiguration.IndexRotationPeriod: " },
    { ONE(NAME ",'ElasticsearchDestinationConfiguration':{" BACKUP "}"),
      "ElasticsearchDestinationConfiguration: give exactly one of" },
    { "{'Service':{'Endpoints':{'OpenSearch':'os:9200'}},'DeliveryStreams':"
      "[{" NAME ",'LocalDirectoryDestinationConfiguration':{'Path':'o'}}]}",
      "Service.Endpoints.OpenSearch: \"os:9200\" must start with http://" },
};

static void test_http_opensearch_errors(void **state)
{
    (void)state;
    RUN_BAD(http_bad);
    RUN_BAD(os_bad);
}

static void test_source_backup(void **state)
{
    struct cfg *c;

    (void)state;
    c = load_ok(S3(",'S3BackupMode':'Enabled','S3BackupConfiguration':"
                   "{'BucketARN':'arn:aws:s3:::raw','Prefix':'src/',"
                   "'CompressionFormat':'GZIP'}"));
    assert_true(c->streams[0].s3.source_backup);
    assert_string_equal(c->streams[0].backup.bucket, "raw");
    assert_string_equal(c->streams[0].backup.prefix, "src/");
    assert_int_equal(c->streams[0].backup.compression, CFG_COMP_GZIP);
    assert_int_equal(c->streams[0].backup.buffering.size_mb, 5);
    cfg_free(c);
}

static void test_unsupported(void **state)
{
    (void)state;
    RUN_BAD(unsupported);
}

static const struct bad_case names[] = {
    { ONE("'LocalDirectoryDestinationConfiguration':{'Path':'o'}"),
      "DeliveryStreams[0].DeliveryStreamName: missing required key" },
    { ONE("'DeliveryStreamName':'a b',"
          "'LocalDirectoryDestinationConfiguration':{'Path':'o'}"),
      "DeliveryStreams[0].DeliveryStreamName: \"a b\" may only contain "
      "a-z A-Z 0-9 _ . -" },
    { ONE("'DeliveryStreamName':'s/x',"
          "'LocalDirectoryDestinationConfiguration':{'Path':'o'}"),
      "DeliveryStreamName: \"s/x\" may only contain" },
    { "{'DeliveryStreams':[{" NAME ",'LocalDirectoryDestinationConfiguration'"
      ":{'Path':'o'}},{'DeliveryStreamName':'t',"
      "'LocalDirectoryDestinationConfiguration':{'Path':'o'}},{" NAME
      ",'LocalDirectoryDestinationConfiguration':{'Path':'p'}}]}",
      "DeliveryStreams[2].DeliveryStreamName: \"s\" is already the name of "
      "DeliveryStreams[0]" },
    { "{'Service':{}}", "DeliveryStreams: missing required key" },
};

static void test_stream_names(void **state)
{
    (void)state;
    RUN_BAD(names);
}

static void test_destination_count(void **state)
{
    char *e;

    (void)state;
    e = load_bad(ONE(NAME));
    has(e, "t.json: DeliveryStreams[0]: Exactly one destination "
        "configuration is supported for a Firehose");
    free(e);
    e = load_bad(ONE(NAME ",'LocalDirectoryDestinationConfiguration':"
                     "{'Path':'o'},'ExtendedS3DestinationConfiguration':"
                     "{'BucketARN':'arn:aws:s3:::b'}"));
    has(e, "t.json: DeliveryStreams[0]: Exactly one destination "
        "configuration is supported for a Firehose");
    assert_int_equal(count_lines(e), 1);
    free(e);
    e = load_bad(ONE(NAME ",'S3DestinationConfiguration':"
                     "{'BucketARN':'arn:aws:s3:::a'},"
                     "'ExtendedS3DestinationConfiguration':"
                     "{'BucketARN':'arn:aws:s3:::b'}"));
    has(e, "Exactly one destination configuration is supported");
    free(e);
}

static const struct bad_case buffering[] = {
    { S3(",'BufferingHints':{'SizeInMBs':5}"),
      "DeliveryStreams[0].ExtendedS3DestinationConfiguration.BufferingHints:"
      " IntervalInSeconds is required when SizeInMBs is given" },
    { LOCAL(",'BufferingHints':{'IntervalInSeconds':5}"),
      "LocalDirectoryDestinationConfiguration.BufferingHints: SizeInMBs is "
      "required when IntervalInSeconds is given" },
};

static void test_buffering_pair(void **state)
{
    struct cfg *c;

    (void)state;
    RUN_BAD(buffering);
    c = load_ok(S3(",'BufferingHints':{}"));
    assert_int_equal(c->streams[0].s3.buffering.size_mb, 5);
    assert_int_equal(c->streams[0].s3.buffering.interval_s, 300);
    cfg_free(c);
}

static const struct bad_case arns[] = {
    { ONE(NAME ",'ExtendedS3DestinationConfiguration':{}"),
      "ExtendedS3DestinationConfiguration.BucketARN: missing required key" },
    { ONE(NAME ",'ExtendedS3DestinationConfiguration':{'BucketARN':'b'}"),
      "ExtendedS3DestinationConfiguration.BucketARN: \"b\" is not an S3 "
      "bucket ARN" },
    { ONE(NAME ",'ExtendedS3DestinationConfiguration':"
          "{'BucketARN':'arn:aws:s3:::'}"),
      "BucketARN: \"arn:aws:s3:::\" is not an S3 bucket ARN" },
    { ONE(NAME ",'ExtendedS3DestinationConfiguration':"
          "{'BucketARN':'arn:aws:s3:::b/key'}"),
      "BucketARN: \"arn:aws:s3:::b/key\" is not an S3 bucket ARN" },
    { ONE(NAME ",'ExtendedS3DestinationConfiguration':"
          "{'BucketARN':'s3://bucket'}"),
      "is not an S3 bucket ARN" },
    { ONE(NAME ",'ExtendedS3DestinationConfiguration':"
          "{'BucketARN':''}"),
      "BucketARN: an empty string is shorter than the minimum length 1" },
    { S3(",'RoleARN':'arn:aws:iam::123:role/r'"),
      "RoleARN: \"arn:aws:iam::123:role/r\" is not an IAM role ARN" },
    { S3(",'RoleARN':'arn:aws:iam::123456789012:user/r'"),
      "RoleARN: \"arn:aws:iam::123456789012:user/r\" is not an IAM role ARN"
    },
    { LOCAL(",'FileExtension':'gz'"),
      "FileExtension: \"gz\" must be empty or a dot followed by" },
    { LOCAL(",'FileExtension':'.GZ'"), "FileExtension: \".GZ\"" },
    { LOCAL(",'CustomTimeZone':'Mars/Olympus'"),
      "CustomTimeZone 'Mars/Olympus' is not a known time zone" },
    { LOCAL(",'CustomTimeZone':'UTC+1'"),
      "CustomTimeZone: \"UTC+1\" may only contain a-z A-Z / _" },
    { LOCAL(",'CustomTimeZone':'Asia'"),
      "CustomTimeZone 'Asia': '/usr/share/zoneinfo/Asia' is not a time zone file" },
    { S3(",'CloudWatchLoggingOptions':{'Enabled':true}"),
      "CloudWatchLoggingOptions: LogGroupName and LogStreamName are required "
      "when Enabled is true" },
    { S3(",'EncryptionConfiguration':{'KMSEncryptionConfig':{}}"),
      "KMSEncryptionConfig.AWSKMSKeyARN: missing required key" },
    { S3(",'EncryptionConfiguration':{'NoEncryptionConfig':'NoEncryption',"
         "'KMSEncryptionConfig':{'AWSKMSKeyARN':'arn:aws:kms:k'}}"),
      "EncryptionConfiguration: give NoEncryptionConfig or "
      "KMSEncryptionConfig, not both" },
    { S3(",'S3BackupConfiguration':{'BucketARN':'x'}"),
      "S3BackupConfiguration.BucketARN: \"x\" is not an S3 bucket ARN" },
};

static void test_destination_values(void **state)
{
    (void)state;
    RUN_BAD(arns);
}

static const struct bad_case service[] = {
    { SERVICE("'Listen':'4573'"),
      "Service.Listen: \"4573\" is not host:port" },
    { SERVICE("'Listen':':4573'"),
      "Service.Listen: \":4573\" is not host:port" },
    { SERVICE("'Listen':'127.0.0.1:0'"),
      "Service.Listen: \"127.0.0.1:0\": the port must be 1-65535" },
    { SERVICE("'Listen':'127.0.0.1:65536'"),
      "the port must be 1-65535" },
    { SERVICE("'Listen':'127.0.0.1:http'"), "the port must be 1-65535" },
    { SERVICE("'Listen':'::1:4573'"),
      "Service.Listen: \"::1:4573\": an IPv6 address needs brackets" },
    { SERVICE("'Listen':'[::1]4573'"), "is not host:port" },
    { SERVICE("'AccountId':'12345'"),
      "Service.AccountId: \"12345\" is not a 12-digit account id" },
    { SERVICE("'AccountId':'12345678901x'"), "is not a 12-digit account id" },
    { SERVICE("'Endpoints':{'S3':'127.0.0.1:9000'}"),
      "Service.Endpoints.S3: \"127.0.0.1:9000\" must start with http:// or "
      "https://" },
    { SERVICE("'Region':'us east'"),
      "Service.Region: \"us east\" may only contain" },
    { SERVICE("'StateDirectory':''"), "Service.StateDirectory: an empty "
      "string is shorter than the minimum length 1" },
};

static void test_service_values(void **state)
{
    (void)state;
    RUN_BAD(service);
}

/* keys_validate() judges the prefixes; its error is reported at the
 * destination's path. */
static void test_bad_prefix_expression(void **state)
{
    char *e;

    (void)state;
    e = load_bad(S3(",'Prefix':'logs/!{bogus:x}/',"
                    "'ErrorOutputPrefix':'e/!{firehose:error-output-type}/'"));
    has(e, "t.json: DeliveryStreams[0].ExtendedS3DestinationConfiguration: ");
    assert_int_equal(count_lines(e), 1);
    free(e);
    e = load_bad("{'DeliveryStreams':[{" NAME ",'LocalDirectoryDestination"
                 "Configuration':{'Path':'o'}},{'DeliveryStreamName':'t',"
                 "'LocalDirectoryDestinationConfiguration':{'Path':'o',"
                 "'ErrorOutputPrefix':'!{bogus}'}}]}");
    has(e, "t.json: DeliveryStreams[1].LocalDirectoryDestinationConfiguration"
        ": ");
    free(e);
    /* Spec 4.3 rule 2: expressions in Prefix need an ErrorOutputPrefix. */
    e = load_bad(S3(",'Prefix':'logs/!{timestamp:yyyy}/'"));
    has(e, "t.json: DeliveryStreams[0].ExtendedS3DestinationConfiguration: ");
    assert_int_equal(count_lines(e), 1);
    free(e);
}

static void test_many_errors_at_once(void **state)
{
    char *e;

    (void)state;
    e = load_bad("{'Service':{'Listen':'x','Durability':'sync','Extra':1},"
                 "'DeliveryStreams':[{'DeliveryStreamName':'a b',"
                 "'ExtendedS3DestinationConfiguration':{'BucketARN':'nope',"
                 "'BufferingHints':{'SizeInMBs':129,'IntervalInSeconds':-5},"
                 "'CompressionFormat':'gzip'}},"
                 "{'LocalDirectoryDestinationConfiguration':{'Path':'o'},"
                 "'DeliveryStreamType':'KinesisStreamAsSource'}]}");
    has(e, "t.json: Service.Listen: \"x\" is not host:port");
    has(e, "t.json: Service.Durability: \"sync\" is not one of");
    has(e, "t.json: Service.Extra: unknown key");
    has(e, "t.json: DeliveryStreams[0].DeliveryStreamName: \"a b\"");
    has(e, "t.json: DeliveryStreams[0].ExtendedS3DestinationConfiguration."
        "BucketARN: \"nope\" is not an S3 bucket ARN");
    has(e, "BufferingHints.SizeInMBs: 129 is above the maximum 128");
    has(e, "BufferingHints.IntervalInSeconds: -5 is below the minimum 0");
    has(e, "CompressionFormat: \"gzip\" is not one of");
    has(e, "t.json: DeliveryStreams[1].DeliveryStreamName: missing required "
        "key");
    has(e, "t.json: DeliveryStreams[1]: DeliveryStreamType "
        "KinesisStreamAsSource needs KinesisStreamSourceConfiguration");
    assert_int_equal(count_lines(e), 10);
    free(e);
}

static void test_errors_out_optional(void **state)
{
    struct cfg *c = NULL;

    (void)state;
    assert_int_equal(cfg_load_string("t.json", "[]", &c, NULL), -1);
    assert_null(c);
    cfg_free(NULL);
    assert_string_equal(cfg_compression_name(CFG_COMP_UNCOMPRESSED),
                        "UNCOMPRESSED");
    assert_string_equal(cfg_compression_name(CFG_COMP_HADOOP_SNAPPY),
                        "HADOOP_SNAPPY");
}

static void test_load_file(void **state)
{
    char path[] = "/tmp/test_cfg_XXXXXX";
    const char *json = q(S3(",'Prefix':'p/'"));
    struct cfg *c = NULL;
    char *errors = NULL;
    int fd;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    assert_int_equal(close(fd), 0);
    assert_int_equal(cfg_load(path, &c, &errors), 0);
    assert_null(errors);
    assert_string_equal(c->path, path);
    assert_string_equal(c->streams[0].s3.prefix, "p/");
    cfg_free(c);

    /* A file with errors names itself in every line. */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    json = "{\"DeliveryStreams\": [],\n \"X\": 1}";
    assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    assert_int_equal(close(fd), 0);
    assert_int_equal(cfg_load(path, &c, &errors), -1);
    assert_null(c);
    assert_non_null(strstr(errors, path));
    has(errors, ": X: unknown key");
    has(errors, ": DeliveryStreams: has 0 entries");
    free(errors);
    assert_int_equal(unlink(path), 0);

    assert_int_equal(cfg_load(path, &c, &errors), -1);
    assert_null(c);
    has(errors, path);
    has(errors, "No such file or directory");
    free(errors);
}

/* The configs we ship must load (the tests run from the repo root). */
static void test_shipped_configs(void **state)
{
    struct cfg *c = NULL;
    char *errors = NULL;

    (void)state;
    if (cfg_load("config/local.json", &c, &errors) != 0) {
        print_error("%s", errors);
        fail();
    }
    assert_int_equal(c->n_streams, 1);
    assert_string_equal(c->streams[0].name, "default");
    assert_int_equal(c->streams[0].dest_kind, CFG_DEST_LOCAL);
    assert_string_equal(c->streams[0].s3.path, "./out");
    assert_int_equal(c->streams[0].s3.buffering.size_mb, 5);
    assert_int_equal(c->streams[0].s3.buffering.interval_s, 60);
    assert_int_equal(c->streams[0].s3.compression, CFG_COMP_GZIP);
    assert_string_equal(c->service.listen, "127.0.0.1:4573");
    assert_string_equal(c->service.state_dir, "./state");
    cfg_free(c);
    if (cfg_load("config/example-s3.json", &c, &errors) != 0) {
        print_error("%s", errors);
        fail();
    }
    assert_string_equal(c->service.endpoint_s3, "http://127.0.0.1:9000");
    assert_int_equal(c->streams[0].dest_kind, CFG_DEST_S3);
    assert_non_null(strstr(c->streams[0].s3.prefix, "!{timestamp:"));
    cfg_free(c);
    c = NULL;
    if (cfg_load("config/example-kinesis.json", &c, &errors) != 0) {
        print_error("%s", errors);
        fail();
    }
    assert_int_equal(c->streams[0].type, CFG_STREAM_KINESIS);
    assert_string_equal(c->streams[0].kinesis.stream_name, "clicks");
    assert_int_equal(c->service.lease_store_ddb, 1);
    cfg_free(c);
}

/* Issue 7: every CompressionFormat, SSE, storage class, multipart. */
static const struct bad_case s3_parity_bad[] = {
    { S3(",'ServerSideEncryption':'aes256'"),
      "ExtendedS3DestinationConfiguration.ServerSideEncryption: \"aes256\" "
      "is not AES256 or aws:kms" },
    { S3(",'StorageClass':'COLD'"),
      "ExtendedS3DestinationConfiguration.StorageClass: \"COLD\" is not an "
      "S3 storage class (STANDARD," },
    { S3(",'ServerSideEncryption':'AES256','EncryptionConfiguration':"
         "{'KMSEncryptionConfig':{'AWSKMSKeyARN':'arn:k'}}"),
      "ServerSideEncryption AES256 conflicts with EncryptionConfiguration."
      "KMSEncryptionConfig (SSE-KMS): give one of them" },
    { S3(",'EncryptionConfiguration':{'KMSEncryptionConfig':{}}"),
      "KMSEncryptionConfig.AWSKMSKeyARN: missing required key" },
    { LOCAL(",'StorageClass':'STANDARD'"),
      "LocalDirectoryDestinationConfiguration.StorageClass: unknown key" },
    { SERVICE("'S3MultipartThresholdBytes':1024"),
      "Service.S3MultipartThresholdBytes: 1024 is below the minimum "
      "5242880" },
    { SERVICE("'S3MultipartPartSizeBytes':6000000000"),
      "Service.S3MultipartPartSizeBytes: 6000000000 is above the maximum" },
    { SERVICE("'S3MultipartThresholdBytes':6000000,"
              "'S3MultipartPartSizeBytes':7000000"),
      "Service: S3MultipartPartSizeBytes 7000000 is above "
      "S3MultipartThresholdBytes 6000000: lower the part size or raise the "
      "threshold" },
};

static void test_s3_parity(void **state)
{
    static const char *const fmts[] = {
        "UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY",
    };
    char json[512];
    struct cfg *c;

    (void)state;
    for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
        snprintf(json, sizeof(json), S3(",'CompressionFormat':'%s'"),
                 fmts[i]);
        c = load_ok(json);
        assert_int_equal(c->streams[0].s3.compression, (int)i);
        assert_string_equal(cfg_compression_name(c->streams[0].s3.compression),
                            fmts[i]);
        cfg_free(c);
    }
    c = load_ok(S3(",'CompressionFormat':'ZIP','StorageClass':'STANDARD_IA',"
                   "'EncryptionConfiguration':{'KMSEncryptionConfig':"
                   "{'AWSKMSKeyARN':'arn:aws:kms:us-east-1:1:key/k'}}"));
    assert_string_equal(c->streams[0].s3.kms_key_arn,
                        "arn:aws:kms:us-east-1:1:key/k");
    assert_string_equal(c->streams[0].s3.storage_class, "STANDARD_IA");
    assert_null(c->streams[0].s3.sse);
    assert_int_equal(c->service.s3_multipart_threshold, 16u << 20);
    assert_int_equal(c->service.s3_part_size, 8u << 20);
    cfg_free(c);
    c = load_ok(S3(",'ServerSideEncryption':'AES256',"
                   "'EncryptionConfiguration':{'NoEncryptionConfig':"
                   "'NoEncryption'}"));
    assert_string_equal(c->streams[0].s3.sse, "AES256");
    assert_null(c->streams[0].s3.kms_key_arn);
    assert_null(c->streams[0].s3.storage_class);
    cfg_free(c);
    c = load_ok(SERVICE("'S3MultipartThresholdBytes':5242880,"
                        "'S3MultipartPartSizeBytes':5242880"));
    assert_int_equal(c->service.s3_multipart_threshold, 5242880);
    cfg_free(c);
    RUN_BAD(s3_parity_bad);
}

/* A Kinesis-sourced stream and the lease store settings. */
static void test_kinesis_source(void **state)
{
    struct cfg *c;
    char *e;
    const struct cfg_kinesis_src *k;

    (void)state;
    c = load_ok("{'Service':{'Endpoints':{'Kinesis':'http://127.0.0.1:1',"
                "'DynamoDB':'http://127.0.0.1:2'},'WorkerId':'w1',"
                "'LeaseStore':{'Type':'dynamodb','TableName':'leases',"
                "'FailoverTimeMillis':3000}},'DeliveryStreams':[{"
                "'DeliveryStreamName':'s','DeliveryStreamType':"
                "'KinesisStreamAsSource','KinesisStreamSourceConfiguration':{"
                "'KinesisStreamARN':'arn:aws:kinesis:eu-west-1:123456789012:"
                "stream/clicks','StartingPosition':'AT_TIMESTAMP',"
                "'StartingPositionTimestamp':1700000000},"
                "'LocalDirectoryDestinationConfiguration':{'Path':'o'}}]}");
    k = &c->streams[0].kinesis;
    assert_int_equal(c->streams[0].type, CFG_STREAM_KINESIS);
    assert_string_equal(k->stream_name, "clicks");
    assert_string_equal(k->region, "eu-west-1");
    assert_int_equal(k->start, CFG_START_AT_TIMESTAMP);
    assert_int_equal(k->start_ts_s, 1700000000);
    assert_int_equal(k->get_records_limit, 10000);
    assert_int_equal(k->idle_ms, 1000);
    assert_int_equal(k->drop_out_of_range, 0);
    assert_string_equal(c->service.endpoint_kinesis, "http://127.0.0.1:1");
    assert_string_equal(c->service.endpoint_dynamodb, "http://127.0.0.1:2");
    assert_string_equal(c->service.worker_id, "w1");
    assert_int_equal(c->service.lease_store_ddb, 1);
    assert_string_equal(c->service.lease_table, "leases");
    assert_int_equal(c->service.failover_ms, 3000);
    cfg_free(c);
    /* Defaults: local store, 10 s. */
    c = load_ok(ONE(NAME ",'DeliveryStreamType':'KinesisStreamAsSource',"
                "'KinesisStreamSourceConfiguration':{'KinesisStreamARN':"
                "'arn:aws:kinesis:us-east-1:000000000000:stream/x'},"
                "'LocalDirectoryDestinationConfiguration':{'Path':'o'}"));
    assert_int_equal(c->service.lease_store_ddb, 0);
    assert_int_equal(c->service.failover_ms, 10000);
    assert_null(c->service.lease_table);
    assert_int_equal(c->streams[0].kinesis.start, CFG_START_LATEST);
    cfg_free(c);
    /* One TableName for two Kinesis streams: their shard ids collide. */
    e = load_bad("{'Service':{'LeaseStore':{'TableName':'tt1'}},"
                 "'DeliveryStreams':[{'DeliveryStreamName':'a',"
                 "'DeliveryStreamType':'KinesisStreamAsSource',"
                 "'KinesisStreamSourceConfiguration':{'KinesisStreamARN':"
                 "'arn:aws:kinesis:us-east-1:000000000000:stream/x'},"
                 "'LocalDirectoryDestinationConfiguration':{'Path':'o'}},"
                 "{'DeliveryStreamName':'b',"
                 "'DeliveryStreamType':'KinesisStreamAsSource',"
                 "'KinesisStreamSourceConfiguration':{'KinesisStreamARN':"
                 "'arn:aws:kinesis:us-east-1:000000000000:stream/y'},"
                 "'LocalDirectoryDestinationConfiguration':{'Path':'p'}}]}");
    has(e, "Service.LeaseStore.TableName: one lease table can't serve 2");
    free(e);
    e = load_bad("{'Service':{'LeaseStore':{'Type':'redis',"
                 "'FailoverTimeMillis':10}},'DeliveryStreams':[{"
                 "'DeliveryStreamName':'a','LocalDirectoryDestination"
                 "Configuration':{'Path':'o'}}]}");
    has(e, "Service.LeaseStore.Type: \"redis\" is not one of");
    has(e, "Service.LeaseStore.FailoverTimeMillis: 10 is below the minimum "
        "1000");
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_values),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_region_from_env),
        cmocka_unit_test(test_listen_forms),
        cmocka_unit_test(test_range_edges_accepted),
        cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_top_level_not_object),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_long_strings),
        cmocka_unit_test(test_bad_enums),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_http_values),
        cmocka_unit_test(test_opensearch_values),
        cmocka_unit_test(test_http_opensearch_errors),
        cmocka_unit_test(test_processing),
        cmocka_unit_test(test_builtin_processors),
        cmocka_unit_test(test_source_backup),
        cmocka_unit_test(test_stream_names),
        cmocka_unit_test(test_destination_count),
        cmocka_unit_test(test_buffering_pair),
        cmocka_unit_test(test_destination_values),
        cmocka_unit_test(test_service_values),
        cmocka_unit_test(test_bad_prefix_expression),
        cmocka_unit_test(test_many_errors_at_once),
        cmocka_unit_test(test_errors_out_optional),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_shipped_configs),
        cmocka_unit_test(test_kinesis_source),
        cmocka_unit_test(test_s3_parity),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
