/* cfg_svc.c - see cfg_svc.h. */
#include "cfg_svc.h"

#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_walk.h"

static int check_account_id(json_t *v, char *why, size_t n)
{
    const char *s = json_string_value(v);

    if (strlen(s) == 12 && cfg_all_digits(s, 12))
        return 0;
    snprintf(why, n, "\"%s\" is not a 12-digit account id", s);
    return -1;
}

static int check_region(json_t *v, char *why, size_t n)
{
    if (cfg_all_in(json_string_value(v), "-"))
        return 0;
    snprintf(why, n, "\"%s\" may only contain a-z A-Z 0-9 -",
             json_string_value(v));
    return -1;
}

static int check_key_id(json_t *v, char *why, size_t n)
{
    if (cfg_all_in(json_string_value(v), ""))
        return 0;
    snprintf(why, n, "\"%s\" may only contain A-Z a-z 0-9",
             json_string_value(v));
    return -1;
}

/* "host:port" or "[v6]:port" -> host (without brackets) and port. */
static int split_listen(const char *s, char *host, size_t hostsz, int *port,
                        char *why, size_t n)
{
    const char *colon, *h = s;
    size_t hl;
    char *end;
    long p;

    if (s[0] == '[') {
        colon = strchr(s, ']');
        if (colon == NULL || colon[1] != ':')
            goto bad;
        h = s + 1;
        hl = (size_t)(colon - h);
        colon++;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            goto bad;
        hl = (size_t)(colon - s);
        if (memchr(s, ':', hl) != NULL) {
            snprintf(why, n, "\"%s\": an IPv6 address needs brackets, "
                     "as in [::1]:4573", s);
            return -1;
        }
    }
    if (hl == 0 || hl >= hostsz)
        goto bad;
    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 ||
        p < 1 || p > 65535) {
        snprintf(why, n, "\"%s\": the port must be 1-65535", s);
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
bad:
    snprintf(why, n, "\"%s\" is not host:port (as in 127.0.0.1:4573 or "
             "[::1]:4573)", s);
    return -1;
}

static int check_listen(json_t *v, char *why, size_t n)
{
    char host[256];
    int port;

    return split_listen(json_string_value(v), host, sizeof(host), &port,
                        why, n);
}

/* Service.Credentials, CredentialsFile and AllowUnauthenticated agree. */
static void auth_finish(struct cfg_walk *w, const char *path,
                        const struct cfg_service *sv)
{
    char sub[CFG_PATH_MAX];
    size_t i, j;

    if (sv->n_credentials > 0 && sv->credentials_file != NULL)
        cfg_err(w, path, "give Credentials or CredentialsFile, not both");
    if (sv->allow_unauthenticated &&
        (sv->n_credentials > 0 || sv->credentials_file != NULL))
        cfg_err(w, path, "AllowUnauthenticated can't be true when "
                "Credentials or CredentialsFile are configured: signed "
                "requests are then required");
    for (i = 1; i < sv->n_credentials; i++) {
        for (j = 0; j < i; j++) {
            if (sv->credentials[i].access_key_id == NULL ||
                sv->credentials[j].access_key_id == NULL ||
                strcmp(sv->credentials[i].access_key_id,
                       sv->credentials[j].access_key_id) != 0)
                continue;
            cfg_child_path(sub, path, "Credentials");
            cfg_err(w, sub, "AccessKeyId \"%s\" is given twice (entries "
                    "%zu and %zu)", sv->credentials[i].access_key_id, j, i);
            break;
        }
    }
}

static void service_finish(struct cfg_walk *w, const char *path, json_t *obj,
                           void *dst)
{
    struct cfg_service *sv = dst;
    const char *env[] = { "AWS_REGION", "AWS_DEFAULT_REGION" }, *r;
    char host[256], why[256];
    size_t i;

    (void)obj;
    if (sv->listen != NULL &&
        split_listen(sv->listen, host, sizeof(host), &sv->listen_port,
                     why, sizeof(why)) == 0)
        cfg_set_str(w, path, &sv->listen_host, host);
    if (sv->admin_listen != NULL &&
        split_listen(sv->admin_listen, host, sizeof(host), &sv->admin_port,
                     why, sizeof(why)) == 0) {
        cfg_set_str(w, path, &sv->admin_host, host);
        if (sv->listen != NULL && strcmp(sv->admin_listen, sv->listen) == 0)
            cfg_err(w, path, "AdminListen \"%s\" is the Listen address: "
                    "leave AdminListen out to serve the dashboard there",
                    sv->admin_listen);
    }
    for (i = 0; sv->region == NULL && i < sizeof(env) / sizeof(env[0]); i++)
        if ((r = getenv(env[i])) != NULL && r[0] != '\0')
            cfg_set_str(w, path, &sv->region, r);
    if (sv->region == NULL)
        cfg_set_str(w, path, &sv->region, "us-east-1");
    if (sv->s3_part_size > sv->s3_multipart_threshold)
        cfg_err(w, path, "S3MultipartPartSizeBytes %llu is above "
                "S3MultipartThresholdBytes %llu: lower the part size or "
                "raise the threshold",
                (unsigned long long)sv->s3_part_size,
                (unsigned long long)sv->s3_multipart_threshold);
    auth_finish(w, path, sv);
}

static const struct cfg_enum durability_enum[] = {
    { "fsync", 1, NULL },
    { "os", 0, NULL },
    { 0 }
};

static const struct cfg_enum log_format_enum[] = {
    { "text", 0, NULL },
    { "json", 1, NULL },
    { 0 }
};

static const struct cfg_field endpoints_fields[] = {
    { .name = "S3", .type = CFG_STR,
      .offset = offsetof(struct cfg_service, endpoint_s3), .min = 1,
      .max = 2048, .check = cfg_check_url, .help = "http(s)://host:port" },
    { .name = "OpenSearch", .type = CFG_STR,
      .offset = offsetof(struct cfg_service, endpoint_opensearch), .min = 1,
      .max = 2048, .check = cfg_check_url,
      .help = "http(s)://host:port, for DomainARN streams" },
    { .name = "Kinesis", .type = CFG_STR,
      .offset = offsetof(struct cfg_service, endpoint_kinesis), .min = 1,
      .max = 2048, .check = cfg_check_url, .help = "http(s)://host:port" },
    { .name = "DynamoDB", .type = CFG_STR,
      .offset = offsetof(struct cfg_service, endpoint_dynamodb), .min = 1,
      .max = 2048, .check = cfg_check_url, .help = "http(s)://host:port" },
    { 0 }
};
static const struct cfg_shape endpoints_shape = {
    endpoints_fields, 0, NULL
};

#define CRF(m) offsetof(struct cfg_credential, m)

static const struct cfg_field credential_fields[] = {
    { .name = "AccessKeyId", .type = CFG_STR, .offset = CRF(access_key_id),
      .min = 1, .max = 128, .flags = CFG_REQUIRED, .check = check_key_id,
      .help = "1-128 of A-Z a-z 0-9" },
    { .name = "SecretAccessKey", .type = CFG_STR, .offset = CRF(secret),
      .min = 1, .max = 256, .flags = CFG_REQUIRED,
      .help = "the secret, 1-256 characters" },
    { .name = "SessionToken", .type = CFG_STR, .offset = CRF(session_token),
      .min = 1, .max = 8192, .help = "required token, 1-8192 characters" },
    { 0 }
};
static const struct cfg_shape credential_shape = {
    credential_fields, sizeof(struct cfg_credential), NULL
};

static const struct cfg_field tls_fields[] = {
    { .name = "CertificateFile", .type = CFG_STR,
      .offset = offsetof(struct cfg_tls, cert_file), .min = 1, .max = 4096,
      .flags = CFG_REQUIRED, .help = "a PEM certificate file" },
    { .name = "KeyFile", .type = CFG_STR,
      .offset = offsetof(struct cfg_tls, key_file), .min = 1, .max = 4096,
      .flags = CFG_REQUIRED, .help = "a PEM private key file" },
    { 0 }
};
static const struct cfg_shape tls_shape = { tls_fields, 0, NULL };

#define SVF(m) offsetof(struct cfg_service, m)

static const struct cfg_enum lease_type_enum[] = {
    { "local", 0, NULL },
    { "dynamodb", 1, NULL },
    { 0 }
};

/* DynamoDB table names: 3-255 of a-z A-Z 0-9 _ . - */
static int check_table_name(json_t *v, char *why, size_t n)
{
    const char *s = json_string_value(v);

    if (strlen(s) < 3 || !cfg_all_in(s, "_.-")) {
        snprintf(why, n, "\"%s\" is not a DynamoDB table name (3-255 of "
                 "a-z A-Z 0-9 _ . -)", s);
        return -1;
    }
    return 0;
}

static const struct cfg_field lease_store_fields[] = {
    { .name = "Type", .type = CFG_ENUM, .offset = SVF(lease_store_ddb),
      .sub = lease_type_enum, .def = "local", .help = "local or dynamodb" },
    { .name = "TableName", .type = CFG_STR, .offset = SVF(lease_table),
      .min = 3, .max = 255, .check = check_table_name,
      .help = "default firehosed-<stream>" },
    { .name = "FailoverTimeMillis", .type = CFG_INT,
      .offset = SVF(failover_ms), .min = 1000, .max = 600000,
      .def = "10000", .help = "1000-600000 ms" },
    { 0 }
};
static const struct cfg_shape lease_store_shape = {
    lease_store_fields, 0, NULL
};

static const struct cfg_field service_fields[] = {
    { .name = "Listen", .type = CFG_STR, .offset = SVF(listen), .min = 1,
      .max = 261, .def = "127.0.0.1:4573", .check = check_listen,
      .help = "host:port" },
    { .name = "AdminListen", .type = CFG_STR, .offset = SVF(admin_listen),
      .min = 1, .max = 261, .check = check_listen,
      .help = "host:port for the dashboard and metrics" },
    { .name = "StateDirectory", .type = CFG_STR, .offset = SVF(state_dir),
      .min = 1, .max = 4096, .def = "./state", .help = "a directory" },
    { .name = "Durability", .type = CFG_ENUM,
      .offset = SVF(durability_fsync), .sub = durability_enum,
      .def = "fsync", .help = "fsync or os" },
    { .name = "MaxSpoolBytesPerStream", .type = CFG_U64,
      .offset = SVF(max_spool_bytes), .min = 1048576LL,
      .max = 1099511627776LL, .def = "1073741824",
      .help = "1 MiB to 1 TiB" },
    { .name = "MaxRequestMemoryBytes", .type = CFG_U64,
      .offset = SVF(max_request_memory), .min = 16777216LL,
      .max = 68719476736LL, .def = "67108864",
      .help = "16 MiB to 64 GiB of request bodies held at once" },
    { .name = "TransformsDirectory", .type = CFG_STR,
      .offset = SVF(transforms_dir), .min = 1, .max = 4096,
      .def = "./transforms", .help = "directory of Lua scripts" },
    { .name = "LuaInstructionBudget", .type = CFG_U64,
      .offset = SVF(lua_instructions), .min = 100000LL,
      .max = 1000000000000LL, .def = "500000000",
      .help = "Lua VM instructions per batch attempt" },
    { .name = "LuaMemoryLimitBytes", .type = CFG_U64,
      .offset = SVF(lua_memory_bytes), .min = 1048576LL,
      .max = 17179869184LL, .def = "67108864",
      .help = "bytes per Lua state, 1 MiB to 16 GiB" },
    { .name = "S3MultipartThresholdBytes", .type = CFG_U64,
      .offset = SVF(s3_multipart_threshold), .min = 5242880LL,
      .max = 5368709120LL, .def = "16777216",
      .help = "objects above it go multipart, 5 MiB to 5 GiB" },
    { .name = "S3MultipartPartSizeBytes", .type = CFG_U64,
      .offset = SVF(s3_part_size), .min = 5242880LL,
      .max = 5368709120LL, .def = "8388608",
      .help = "5 MiB to 5 GiB, at most S3MultipartThresholdBytes" },
    { .name = "DeliveryWorkersPerStream", .type = CFG_INT,
      .offset = SVF(delivery_workers), .min = 1, .max = 64, .def = "2",
      .help = "1 to 64 delivery threads per stream" },
    { .name = "Region", .type = CFG_STR, .offset = SVF(region), .min = 1,
      .max = 32, .check = check_region, .help = "us-east-1" },
    { .name = "AccountId", .type = CFG_STR, .offset = SVF(account_id),
      .def = "000000000000", .check = check_account_id,
      .help = "12 digits" },
    { .name = "LogFormat", .type = CFG_ENUM, .offset = SVF(log_json),
      .sub = log_format_enum, .def = "text", .help = "text or json" },
    { .name = "Endpoints", .type = CFG_OBJ, .sub = &endpoints_shape },
    { .name = "WorkerId", .type = CFG_STR, .offset = SVF(worker_id),
      .min = 1, .max = 120, .help = "lease owner id, default host:pid" },
    { .name = "LeaseStore", .type = CFG_OBJ, .sub = &lease_store_shape },
    { .name = "Credentials", .type = CFG_LIST, .offset = SVF(credentials),
      .sub = &credential_shape, .min = 1, .max = 1000,
      .count_offset = SVF(n_credentials),
      .help = "[{\"AccessKeyId\", \"SecretAccessKey\"}]" },
    { .name = "CredentialsFile", .type = CFG_STR,
      .offset = SVF(credentials_file), .min = 1, .max = 4096,
      .help = "an INI file like ~/.aws/credentials" },
    { .name = "AllowSessionTokens", .type = CFG_BOOL,
      .offset = SVF(allow_session_tokens), .def = "false" },
    { .name = "AllowUnauthenticated", .type = CFG_BOOL,
      .offset = SVF(allow_unauthenticated), .def = "false" },
    { .name = "MaxClockSkewSeconds", .type = CFG_INT,
      .offset = SVF(max_clock_skew_s), .min = 1, .max = 3600, .def = "900",
      .help = "1-3600" },
    { .name = "Tls", .type = CFG_OBJ, .offset = SVF(tls), .sub = &tls_shape },
    { .name = "MaxConnections", .type = CFG_INT,
      .offset = SVF(max_connections), .min = 1, .max = 65536,
      .def = "1024", .help = "1-65536" },
    { .name = "RequestTimeoutSeconds", .type = CFG_INT,
      .offset = SVF(request_timeout_s), .min = 1, .max = 3600, .def = "30",
      .help = "1-3600" },
    { 0 }
};
const struct cfg_shape cfg_service_shape = {
    service_fields, 0, service_finish
};
