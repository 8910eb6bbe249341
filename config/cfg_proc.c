/* cfg_proc.c - see cfg_proc.h. */

#include "cfg_proc.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../delivery/err.h"
#include "../transforms/jqx.h"
#include "cfg_walk.h"

/* Every entry of a processor's Parameters is {ParameterName,
 * ParameterValue} with a name from 'allowed'. */
static void check_params(struct cfg_walk *w, const char *path, json_t *params,
                         const char *const *allowed)
{
    char p[CFG_PATH_MAX];
    size_t i;
    json_t *it;

    json_array_foreach(params, i, it) {
        json_t *n = json_object_get(it, "ParameterName");
        json_t *v = json_object_get(it, "ParameterValue");
        int known = 0;

        snprintf(p, sizeof(p), "%s.Parameters[%zu]", path, i);
        if (!json_is_object(it) || !json_is_string(n) || !json_is_string(v) ||
            json_object_size(it) != 2) {
            cfg_err(w, p, "expected {\"ParameterName\": string, "
                    "\"ParameterValue\": string}");
            continue;
        }
        for (const char *const *a = allowed; *a; a++)
            known |= strcmp(json_string_value(n), *a) == 0;
        if (!known)
            cfg_err(w, p, "unknown ParameterName \"%s\"",
                    json_string_value(n));
        else if (json_string_length(v) < 1 || json_string_length(v) > 5120 ||
                 strspn(json_string_value(v), " \t\r\n") ==
                 json_string_length(v))
            cfg_err(w, p, "ParameterValue must be 1-5120 characters, not "
                    "blank");
    }
}

/* One parameter's value by name, or NULL (also when malformed: that was
 * reported by check_params). */
static const char *param(struct cfg_walk *w, const char *path, json_t *params,
                         const char *name)
{
    const char *found = NULL;
    size_t i;
    json_t *it;

    json_array_foreach(params, i, it) {
        json_t *n = json_object_get(it, "ParameterName");
        json_t *v = json_object_get(it, "ParameterValue");

        if (!json_is_string(n) || !json_is_string(v) ||
            strcmp(json_string_value(n), name) != 0 ||
            strspn(json_string_value(v), " \t\r\n") == json_string_length(v))
            continue;
        if (found != NULL)
            cfg_err(w, path, "ParameterName \"%s\" given twice", name);
        found = json_string_value(v);
    }
    return found;
}

static const char *const lua_params[] = {
    "ScriptName", "NumberOfRetries", NULL
};
static const char *const no_params[] = { NULL };
static const char *const deagg_params[] = {
    "SubRecordType", "Delimiter", NULL
};
static const char *const jq_params[] = {
    "MetadataExtractionQuery", "JsonParsingEngine", NULL
};
static const char *const gzip_params[] = { "CompressionFormat", NULL };
static const char *const cwl_params[] = { "DataMessageExtraction", NULL };

/* Standard base64 with padding into 'out' (n * 3 / 4 bytes); the length,
 * or -1 when 's' is not base64. */
static long b64_decode(const char *s, unsigned char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrst"
                              "uvwxyz0123456789+/";
    size_t n = strlen(s), o = 0;

    if (n == 0 || n % 4 != 0)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        unsigned v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            const char *c = s[i + k] ? strchr(tab, s[i + k]) : NULL;
            if (s[i + k] == '=' && i + 4 == n && k >= 2 &&
                (k == 3 || s[i + 3] == '=')) {
                pad++;
                v <<= 6;
                continue;
            }
            if (c == NULL || pad)
                return -1;
            v = v << 6 | (unsigned)(c - tab);
        }
        out[o++] = (unsigned char)(v >> 16);
        if (pad < 2)
            out[o++] = (unsigned char)(v >> 8);
        if (pad < 1)
            out[o++] = (unsigned char)v;
    }
    return (long)o;
}

/* RecordDeAggregation: SubRecordType JSON, or DELIMITED with a base64
 * Delimiter. */
static void deagg_params_read(struct cfg_walk *w, const char *p,
                              json_t *params, struct cfg_processing *pc)
{
    const char *t = param(w, p, params, "SubRecordType");
    const char *d = param(w, p, params, "Delimiter");
    unsigned char *out;
    long n;

    check_params(w, p, params, deagg_params);
    if (t == NULL) {
        cfg_err(w, p, "RecordDeAggregation needs a SubRecordType parameter "
                "(JSON or DELIMITED)");
        return;
    }
    if (strcmp(t, "JSON") == 0) {
        pc->deagg = CFG_DEAGG_JSON;
        if (d != NULL)
            cfg_err(w, p, "Delimiter is only for SubRecordType DELIMITED");
        return;
    }
    if (strcmp(t, "DELIMITED") != 0) {
        cfg_err(w, p, "SubRecordType \"%s\" must be JSON or DELIMITED", t);
        return;
    }
    pc->deagg = CFG_DEAGG_DELIMITED;
    if (d == NULL) {
        cfg_err(w, p, "SubRecordType DELIMITED needs a Delimiter parameter "
                "(base64, e.g. \"IyMjIw==\" for ####)");
        return;
    }
    if ((out = malloc(strlen(d) / 4 * 3 + 1)) == NULL) {
        cfg_err(w, p, "out of memory");
        return;
    }
    if ((n = b64_decode(d, out)) <= 0) {
        cfg_err(w, p, "Delimiter \"%s\" is not base64 of at least one byte "
                "(\"IyMjIw==\" is ####)", d);
        free(out);
        return;
    }
    free(pc->deagg_delim);
    pc->deagg_delim = out;
    pc->deagg_delim_len = (size_t)n;
}

/* MetadataExtraction: the query must compile with jq 1.6 now, not at the
 * first record. */
static void jq_params_read(struct cfg_walk *w, const char *p, json_t *params,
                           struct cfg_processing *pc)
{
    const char *q = param(w, p, params, "MetadataExtractionQuery");
    const char *eng = param(w, p, params, "JsonParsingEngine");
    struct err e = { 0, "" };
    struct jqx *x;

    check_params(w, p, params, jq_params);
    if (eng == NULL)
        cfg_err(w, p, "MetadataExtraction needs JsonParsingEngine \"JQ-1.6\"");
    else if (strcmp(eng, "JQ-1.6") != 0)
        cfg_err(w, p, "JsonParsingEngine \"%s\" must be \"JQ-1.6\" (exactly)",
                eng);
    if (q == NULL) {
        cfg_err(w, p, "MetadataExtraction needs a MetadataExtractionQuery "
                "parameter (a jq object, e.g. {customer_id: .customer_id})");
        return;
    }
    if ((x = jqx_new(q, &e)) == NULL) {
        cfg_err(w, p, "MetadataExtractionQuery does not compile: %s", e.msg);
        return;
    }
    jqx_free(x);
    cfg_set_str(w, p, &pc->jq_query, q);
}

/* Processors: [{Type, Parameters: [{ParameterName, ParameterValue}]}].
 * Lua stands in for Firehose's Lambda. Whatever the order listed, they run
 * in Firehose's fixed order (struct cfg_processing). Firehose runs the
 * listed processors unless Enabled is false. */
static void processing_finish(struct cfg_walk *w, const char *path,
                              json_t *obj, void *dst)
{
    static const char *const types[] = {
        "Lua", "AppendDelimiterToRecord", "RecordDeAggregation",
        "MetadataExtraction", "Decompression", "CloudWatchLogProcessing",
        NULL
    };
    struct cfg_processing *pc = dst;
    json_t *procs, *it;
    char p[CFG_PATH_MAX];
    size_t i, seen[6] = { 0 };

    if (pc == NULL || obj == NULL)
        return;
    procs = json_object_get(obj, "Processors");
    if (json_object_get(obj, "Enabled") == NULL)
        pc->enabled = json_array_size(procs) > 0;
    if (!json_is_array(procs))
        return;
    pc->lua_retries = 3;
    json_array_foreach(procs, i, it) {
        json_t *type = json_object_get(it, "Type");
        json_t *params = json_object_get(it, "Parameters");
        const char *ts, *v;
        const char *key;
        void *iter;
        size_t t;

        snprintf(p, sizeof(p), "%s.Processors[%zu]", path, i);
        if (!json_is_object(it) || !json_is_string(type)) {
            cfg_err(w, p, "expected {\"Type\": string, \"Parameters\": [...]}");
            continue;
        }
        json_object_foreach_safe(it, iter, key, type) {
            (void)type;
            if (strcmp(key, "Type") != 0 && strcmp(key, "Parameters") != 0)
                cfg_err(w, p, "unknown key \"%s\"", key);
        }
        type = json_object_get(it, "Type");
        ts = json_string_value(type);
        for (t = 0; types[t] != NULL && strcmp(types[t], ts) != 0; t++)
            ;
        if (types[t] != NULL && seen[t]++ > 0) {
            cfg_err(w, p, "only one %s processor per stream", ts);
            continue;
        }
        if (params == NULL)
            params = json_array();
        else
            json_incref(params);
        if (!json_is_array(params)) {
            cfg_err(w, p, "Parameters: expected an array");
            json_decref(params);
            continue;
        }
        if (strcmp(ts, "Lua") == 0) {
            check_params(w, p, params, lua_params);
            if ((v = param(w, p, params, "ScriptName")) == NULL) {
                cfg_err(w, p, "the Lua processor needs a ScriptName "
                        "parameter (a file in the transforms directory)");
            } else if (strchr(v, '/') != NULL || v[0] == '.') {
                cfg_err(w, p, "ScriptName \"%s\" must be a file name in "
                        "the transforms directory, without '/'", v);
            } else {
                cfg_set_str(w, p, &pc->lua_script, v);
            }
            if ((v = param(w, p, params, "NumberOfRetries")) != NULL) {
                char *end;
                long n = strtol(v, &end, 10);
                if (*end != '\0' || n < 0 || n > 300)
                    cfg_err(w, p, "NumberOfRetries \"%s\" must be an integer "
                            "from 0 to 300", v);
                else
                    pc->lua_retries = (int)n;
            }
        } else if (strcmp(ts, "AppendDelimiterToRecord") == 0) {
            check_params(w, p, params, no_params);
            pc->append_delimiter = 1;
        } else if (strcmp(ts, "RecordDeAggregation") == 0) {
            deagg_params_read(w, p, params, pc);
        } else if (strcmp(ts, "MetadataExtraction") == 0) {
            jq_params_read(w, p, params, pc);
        } else if (strcmp(ts, "Decompression") == 0) {
            check_params(w, p, params, gzip_params);
            v = param(w, p, params, "CompressionFormat");
            if (v == NULL || strcmp(v, "GZIP") != 0)
                cfg_err(w, p, "Decompression needs CompressionFormat "
                        "\"GZIP\"%s%s%s", v ? " (not \"" : "", v ? v : "",
                        v ? "\")" : "");
            else
                pc->gzip = 1;
        } else if (strcmp(ts, "CloudWatchLogProcessing") == 0) {
            check_params(w, p, params, cwl_params);
            v = param(w, p, params, "DataMessageExtraction");
            if (v == NULL || (strcmp(v, "true") != 0 &&
                              strcmp(v, "false") != 0))
                cfg_err(w, p, "CloudWatchLogProcessing needs "
                        "DataMessageExtraction \"true\" or \"false\"");
            else
                pc->cw_extract = strcmp(v, "true") == 0;
            pc->cw_logs = 1;
        } else if (strcmp(ts, "Lambda") == 0) {
            cfg_err(w, p, "Type Lambda: this server runs Lua scripts "
                    "instead; use {\"Type\": \"Lua\", \"Parameters\": "
                    "[{\"ParameterName\": \"ScriptName\", "
                    "\"ParameterValue\": \"name.lua\"}]}");
        } else {
            cfg_err(w, p, "unknown processor Type \"%s\" (Lua, "
                    "RecordDeAggregation, MetadataExtraction, Decompression, "
                    "CloudWatchLogProcessing, AppendDelimiterToRecord)", ts);
        }
        json_decref(params);
    }
    if (pc->cw_logs && !pc->gzip)
        cfg_err(w, path, "CloudWatchLogProcessing needs a Decompression "
                "processor (CompressionFormat GZIP)");
}

static const struct cfg_field processing_fields[] = {
    { .name = "Enabled", .type = CFG_BOOL,
      .offset = offsetof(struct cfg_processing, enabled) },
    { .name = "Processors", .type = CFG_ARRAY },
    { 0 }
};
const struct cfg_shape cfg_processing_shape = {
    processing_fields, 0, processing_finish
};

static const struct cfg_field retry_fields[] = {
    { .name = "DurationInSeconds", .type = CFG_INT, .min = 0, .max = 7200,
      .def = "300", .help = "0-7200" },
    { 0 }
};
const struct cfg_shape cfg_retry_shape = { retry_fields, 0, NULL };

/* The struct is cfg_s3 seen from its dynamic_partitioning member. */
static const struct cfg_field partitioning_fields[] = {
    { .name = "Enabled", .type = CFG_BOOL },
    { .name = "MaxActivePartitions", .type = CFG_INT,
      .offset = offsetof(struct cfg_s3, max_active_partitions) -
                offsetof(struct cfg_s3, dynamic_partitioning),
      .min = 1, .max = 100000,
      .help = "ours: partitions buffered at once, default 500" },
    { .name = "PartitionBufferBytes", .type = CFG_U64,
      .offset = offsetof(struct cfg_s3, partition_buffer_bytes) -
                offsetof(struct cfg_s3, dynamic_partitioning),
      .min = 1048576LL, .max = 68719476736LL,
      .help = "ours: bytes all partition buffers hold, 1 MiB to 64 GiB, "
              "default 64 MiB" },
    { .name = "RetryOptions", .type = CFG_OBJ, .flags = CFG_NOSTORE,
      .sub = &cfg_retry_shape },
    { 0 }
};
const struct cfg_shape cfg_partitioning_shape = {
    partitioning_fields, 0, NULL
};
