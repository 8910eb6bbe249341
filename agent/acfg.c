#include "acfg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

/* Context for messages: "FILE: flows[2].key: reason". */
struct ctx {
    const char *file;
    char        where[64];          /* "" or "flows[2]." */
    struct err *e;
};

static int bad(struct ctx *x, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(struct ctx *x, const char *key, const char *fmt, ...)
{
    char why[160];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    return err_set(x->e, ERR_INVAL, "%s: %s%s: %s", x->file, x->where, key,
                   why);
}

static int dup_str(struct ctx *x, const char *key, const char *s, char **out)
{
    *out = strdup(s);
    if (*out == NULL)
        return err_set(x->e, ERR_NOMEM, "%s: %s%s: out of memory", x->file,
                       x->where, key);
    return 0;
}

/* An optional string member, 'min'..'max' bytes; *out stays NULL if absent. */
static int opt_str(struct ctx *x, json_t *o, const char *key, size_t min,
                   size_t max, char **out)
{
    json_t *v = json_object_get(o, key);
    size_t n;

    if (v == NULL)
        return 0;
    if (!json_is_string(v))
        return bad(x, key, "must be a string");
    n = json_string_length(v);
    if (n < min || n > max)
        return bad(x, key, "length %zu is outside %zu-%zu", n, min, max);
    if (strlen(json_string_value(v)) != n)
        return bad(x, key, "must not contain NUL characters");
    return dup_str(x, key, json_string_value(v), out);
}

static int opt_int(struct ctx *x, json_t *o, const char *key, long long min,
                   long long max, long long *out)
{
    json_t *v = json_object_get(o, key);
    long long n;

    if (v == NULL)
        return 0;
    if (!json_is_integer(v))
        return bad(x, key, "must be an integer");
    n = json_integer_value(v);
    if (n < min)
        return bad(x, key, "%lld is below the minimum %lld", n, min);
    if (n > max)
        return bad(x, key, "%lld is above the maximum %lld", n, max);
    *out = n;
    return 0;
}

/* Every member of 'o' must be in 'known'; 'unsupported' members get their
 * own explanation. */
static int check_keys(struct ctx *x, json_t *o, const char *const *known,
                      const char *const *unsupported)
{
    const char *k;
    json_t *v;

    json_object_foreach(o, k, v) {
        int ok = 0;

        for (size_t i = 0; known[i] != NULL && !ok; i++)
            ok = strcmp(k, known[i]) == 0;
        if (ok)
            continue;
        for (size_t i = 0; unsupported[i] != NULL; i += 2)
            if (strcmp(k, unsupported[i]) == 0)
                return bad(x, k, "%s", unsupported[i + 1]);
        for (size_t i = 0; known[i] != NULL; i++)
            if (strcasecmp(k, known[i]) == 0)
                return bad(x, k, "unknown key (did you mean \"%s\"?)",
                           known[i]);
        return bad(x, k, "unknown key");
    }
    return 0;
}

/* POSIX ERE has no \d; the Kinesis Agent's (Java) patterns use it. Rewrite
 * \d and \D outside bracket expressions into [0-9] and [^0-9]. */
static int translate_re(struct ctx *x, const char *key, const char *in,
                        char *out, size_t size)
{
    size_t o = 0;
    int bracket = 0;

    for (const char *p = in; *p != '\0'; p++) {
        const char *add = NULL;
        char one[4] = { *p, '\0', '\0', '\0' };

        if (bracket) {
            if (*p == ']')
                bracket = 0;
        } else if (*p == '[') {
            bracket = 1;
            if (p[1] == '^') {
                one[1] = '^';
                p++;
            }
            if (p[1] == ']') {          /* "[]...]" and "[^]...]" */
                size_t l = strlen(one);

                one[l] = ']';
                p++;
            }
        } else if (*p == '\\' && (p[1] == 'd' || p[1] == 'D')) {
            add = p[1] == 'd' ? "[0-9]" : "[^0-9]";
            p++;
        } else if (*p == '\\' && p[1] != '\0') {
            one[1] = p[1];
            p++;
        }
        if (add == NULL)
            add = one;
        if (o + strlen(add) >= size)
            return bad(x, key, "pattern is too long (at most %zu bytes after "
                       "rewriting \\d)", size - 1);
        memcpy(out + o, add, strlen(add));
        o += strlen(add);
    }
    out[o] = '\0';
    return 0;
}

static const char *const flow_keys[] = {
    "filePattern", "deliveryStream", "initialPosition",
    "multiLineStartPattern", "maxBufferAgeMillis", "maxBufferSizeRecords",
    "maxBufferSizeBytes", "truncatedRecordTerminator", "skipHeaderLines",
    "maxLineBytesAction", NULL
};
static const char *const flow_unsupported[] = {
    "kinesisStream", "Kinesis Data Streams are not supported: "
        "firehosed-agent ships to Firehose, use \"deliveryStream\"",
    "dataProcessingOptions", "not supported: transform records in the "
        "delivery stream (Lua processors) instead",
    "partitionKeyOption", "only for kinesisStream, which is not supported",
    NULL
};

static int action(struct ctx *x, json_t *o, int *skip)
{
    json_t *v = json_object_get(o, "maxLineBytesAction");

    if (v == NULL)
        return 0;
    if (json_is_string(v) && strcmp(json_string_value(v), "split") == 0)
        *skip = 0;
    else if (json_is_string(v) && strcmp(json_string_value(v), "skip") == 0)
        *skip = 1;
    else
        return bad(x, "maxLineBytesAction", "must be \"split\" or \"skip\"");
    return 0;
}

static int parse_flow(struct ctx *x, json_t *o, struct acfg_flow *f,
                      int skip_default)
{
    json_t *v;
    char *re = NULL;
    char rebuf[2048];
    long long n;
    int rc;

    if (!json_is_object(o))
        return bad(x, "", "a flow must be an object");
    if (check_keys(x, o, flow_keys, flow_unsupported) != 0)
        return -1;
    if (opt_str(x, o, "filePattern", 1, 4096, &f->file_pattern) != 0 ||
        opt_str(x, o, "deliveryStream", 1, 64, &f->stream) != 0)
        return -1;
    if (f->file_pattern == NULL)
        return bad(x, "filePattern", "is required (a glob such as "
                   "\"/var/log/app/*.log*\")");
    if (f->file_pattern[strlen(f->file_pattern) - 1] == '/')
        return bad(x, "filePattern", "\"%s\" names a directory; add a file "
                   "name pattern such as \"*.log\"", f->file_pattern);
    if (f->stream == NULL)
        return bad(x, "deliveryStream", "is required (the Firehose delivery "
                   "stream name)");
    for (const char *p = f->stream; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
              *p == '-'))
            return bad(x, "deliveryStream", "\"%s\" has a character "
                       "outside a-z A-Z 0-9 _ . -", f->stream);
    f->start_of_file = 0;
    v = json_object_get(o, "initialPosition");
    if (v != NULL) {
        if (json_is_string(v) &&
            strcmp(json_string_value(v), "START_OF_FILE") == 0)
            f->start_of_file = 1;
        else if (!json_is_string(v) ||
                 strcmp(json_string_value(v), "END_OF_FILE") != 0)
            return bad(x, "initialPosition", "must be \"START_OF_FILE\" or "
                       "\"END_OF_FILE\"");
    }
    n = 60000;
    if (opt_int(x, o, "maxBufferAgeMillis", 100, 900000, &n) != 0)
        return -1;
    f->max_age_ms = (long)n;
    n = ACFG_MAX_BATCH_RECORDS;
    if (opt_int(x, o, "maxBufferSizeRecords", 1, ACFG_MAX_BATCH_RECORDS,
                &n) != 0)
        return -1;
    f->max_records = (size_t)n;
    n = ACFG_MAX_BATCH_BYTES;
    if (opt_int(x, o, "maxBufferSizeBytes", 1, ACFG_MAX_BATCH_BYTES,
                &n) != 0)
        return -1;
    f->max_bytes = (size_t)n;
    n = 0;
    if (opt_int(x, o, "skipHeaderLines", 0, 1000000, &n) != 0)
        return -1;
    f->skip_header_lines = (unsigned)n;
    f->skip_long = skip_default;
    if (action(x, o, &f->skip_long) != 0)
        return -1;
    if (opt_str(x, o, "truncatedRecordTerminator", 0, 64,
                &f->trunc_term) != 0)
        return -1;
    if (f->trunc_term == NULL &&
        dup_str(x, "truncatedRecordTerminator", "\n", &f->trunc_term) != 0)
        return -1;
    f->trunc_term_len = strlen(f->trunc_term);
    if (opt_str(x, o, "multiLineStartPattern", 1, 1024, &re) != 0)
        return -1;
    if (re != NULL) {
        rc = translate_re(x, "multiLineStartPattern", re, rebuf,
                          sizeof(rebuf));
        if (rc == 0) {
            rc = regcomp(&f->multiline, rebuf, REG_EXTENDED | REG_NOSUB);
            if (rc != 0) {
                char why[128];

                regerror(rc, &f->multiline, why, sizeof(why));
                bad(x, "multiLineStartPattern", "\"%s\" is not a POSIX "
                    "extended regular expression: %s", re, why);
                rc = -1;
            } else {
                f->has_multiline = 1;
            }
        }
        free(re);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static const char *const top_keys[] = {
    "firehose.endpoint", "firehose.region", "checkpointFile",
    "awsAccessKeyId", "awsSecretAccessKey", "flows", "maxLineBytesAction",
    "pollIntervalMillis", "log.format", "cloudwatch.emitMetrics", NULL
};
static const char *const top_unsupported[] = {
    "kinesis.endpoint", "Kinesis Data Streams are not supported: use "
        "\"firehose.endpoint\"",
    "assumeRoleARN", "not supported: put role credentials in the "
        "environment or ~/.aws/credentials",
    NULL
};

static int parse_root(struct acfg *c, struct ctx *x, json_t *root)
{
    json_t *flows, *v;
    long long n;
    int skip_default = 0;

    if (!json_is_object(root))
        return bad(x, "(top level)", "must be an object");
    if (check_keys(x, root, top_keys, top_unsupported) != 0)
        return -1;
    if (opt_str(x, root, "firehose.endpoint", 1, 2048, &c->endpoint) != 0 ||
        opt_str(x, root, "firehose.region", 1, 32, &c->region) != 0 ||
        opt_str(x, root, "checkpointFile", 1, 4096, &c->checkpoint_file) ||
        opt_str(x, root, "awsAccessKeyId", 1, 128, &c->access_key) != 0 ||
        opt_str(x, root, "awsSecretAccessKey", 1, 128, &c->secret) != 0)
        return -1;
    if (c->endpoint != NULL && strncmp(c->endpoint, "http://", 7) != 0 &&
        strncmp(c->endpoint, "https://", 8) != 0)
        return bad(x, "firehose.endpoint", "\"%s\" must start with http:// "
                   "or https://", c->endpoint);
    if ((c->access_key == NULL) != (c->secret == NULL))
        return bad(x, c->access_key ? "awsSecretAccessKey" : "awsAccessKeyId",
                   "is required with %s", c->access_key
                   ? "awsAccessKeyId" : "awsSecretAccessKey");
    if (c->checkpoint_file == NULL &&
        dup_str(x, "checkpointFile", "./agent-checkpoints.json",
                &c->checkpoint_file) != 0)
        return -1;
    v = json_object_get(root, "cloudwatch.emitMetrics");
    if (v != NULL && !json_is_boolean(v))
        return bad(x, "cloudwatch.emitMetrics", "must be true or false");
    v = json_object_get(root, "log.format");
    if (v != NULL) {
        if (json_is_string(v) && strcmp(json_string_value(v), "json") == 0)
            c->log_json = 1;
        else if (!json_is_string(v) ||
                 strcmp(json_string_value(v), "text") != 0)
            return bad(x, "log.format", "must be \"text\" or \"json\"");
    }
    n = 1000;
    if (opt_int(x, root, "pollIntervalMillis", 10, 60000, &n) != 0)
        return -1;
    c->poll_ms = (long)n;
    if (action(x, root, &skip_default) != 0)
        return -1;
    flows = json_object_get(root, "flows");
    if (flows == NULL)
        return bad(x, "flows", "is required (an array of {\"filePattern\", "
                   "\"deliveryStream\"})");
    if (!json_is_array(flows) || json_array_size(flows) == 0)
        return bad(x, "flows", "must be a non-empty array");
    if (json_array_size(flows) > ACFG_MAX_FLOWS)
        return bad(x, "flows", "%zu flows, at most %d are supported",
                   json_array_size(flows), ACFG_MAX_FLOWS);
    for (size_t i = 0; i < json_array_size(flows); i++) {
        snprintf(x->where, sizeof(x->where), "flows[%zu].", i);
        c->n_flows = i + 1;
        if (parse_flow(x, json_array_get(flows, i), &c->flows[i],
                       skip_default) != 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->flows[j].file_pattern,
                       c->flows[i].file_pattern) == 0)
                return bad(x, "filePattern", "\"%s\" is already the "
                           "pattern of flows[%zu]; a file can belong to "
                           "one flow only", c->flows[i].file_pattern, j);
    }
    return 0;
}

int acfg_parse(struct acfg *c, const char *json, size_t len,
               const char *name, struct err *e)
{
    struct ctx x = { name, "", e };
    json_error_t je;
    json_t *root;
    int rc;

    memset(c, 0, sizeof(*c));
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        return err_set(e, ERR_INVAL, "%s: line %d, column %d: %s", name,
                       je.line, je.column, je.text);
    rc = parse_root(c, &x, root);
    json_decref(root);
    if (rc != 0)
        acfg_release(c);
    return rc;
}

int acfg_load(struct acfg *c, const char *path, struct err *e)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    size_t n = 0, cap = 0;
    int rc;

    memset(c, 0, sizeof(*c));
    if (f == NULL)
        return err_sys(e, errno, "cannot open config '%s'", path);
    for (;;) {
        size_t got;

        if (cap - n < 4096) {
            char *p;

            if (cap >= (size_t)16 << 20) {
                fclose(f);
                free(data);
                return err_set(e, ERR_INVAL, "%s: above 16 MiB, not a "
                               "config file", path);
            }
            p = realloc(data, cap ? cap * 2 : 8192);
            if (p == NULL) {
                fclose(f);
                free(data);
                return err_set(e, ERR_NOMEM, "out of memory reading '%s'",
                               path);
            }
            data = p;
            cap = cap ? cap * 2 : 8192;
        }
        got = fread(data + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        fclose(f);
        free(data);
        return err_set(e, ERR_IO, "cannot read config '%s'", path);
    }
    fclose(f);
    rc = acfg_parse(c, data, n, path, e);
    free(data);
    return rc;
}

void acfg_release(struct acfg *c)
{
    for (size_t i = 0; i < c->n_flows; i++) {
        struct acfg_flow *f = &c->flows[i];

        free(f->file_pattern);
        free(f->stream);
        free(f->trunc_term);
        if (f->has_multiline)
            regfree(&f->multiline);
    }
    free(c->endpoint);
    free(c->region);
    free(c->checkpoint_file);
    free(c->access_key);
    free(c->secret);
    memset(c, 0, sizeof(*c));
}
