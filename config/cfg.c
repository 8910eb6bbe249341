/* cfg.c - the config loader. Every JSON shape is a table of fields; one
 * walker applies a table to a JSON object: it sets defaults, rejects
 * unknown keys, wrong types, out-of-range and unsupported values, reports
 * missing required keys, then runs the shape's cross-field check. Errors
 * are collected (never the first only), one line each:
 * "<file>: <json path>: <reason>". */
#include "cfg.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../delivery/err.h"
#include "../delivery/util.h"
#include "../destinations/keys.h"
#include "../transforms/jqx.h"

#define CFG_PATH_MAX 320

enum cfg_type {
    CFG_STR,        /* char *; min/max bound the length */
    CFG_INT,        /* int; min/max bound the value */
    CFG_U64,        /* uint64_t; min/max bound the value */
    CFG_BOOL,       /* int 0/1 */
    CFG_ENUM,       /* int; 'sub' is a struct cfg_enum list ending with {0} */
    CFG_OBJ,        /* nested struct at 'offset'; 'sub' is a cfg_shape */
    CFG_LIST,       /* array of 'sub' shapes: pointer at 'offset', size_t
                     * count at 'count_offset'; min/max bound the count */
    CFG_ARRAY,      /* any JSON array, accepted and not stored */
    CFG_UNSUPPORTED /* a Firehose key we recognise but do not implement */
};

/* A value that Firehose accepts: 'unsupported' is NULL when we implement
 * it, else the whole error message saying that we do not (yet). */
struct cfg_enum {
    const char *name;               /* exact, case-sensitive */
    int value;
    const char *unsupported;
};

struct cfg_walk;

struct cfg_field {
    const char *name;               /* Firehose's PascalCase key */
    enum cfg_type type;
    size_t offset;                  /* into the shape's struct */
    const void *sub;                /* cfg_shape or cfg_enum list */
    long long min, max;             /* value, length or count; for a
                                     * string max 0 means unbounded */
    int flags;                      /* CFG_REQUIRED, CFG_NOSTORE */
    const char *def;                /* default as text; NULL = none */
    /* Extra value rule; 0, or -1 with 'why' filled. */
    int (*check)(json_t *v, char *why, size_t n);
    const char *help;               /* one line, quoted when missing */
    size_t count_offset;            /* CFG_LIST only */
};

#define CFG_REQUIRED 1
#define CFG_NOSTORE  2              /* validate, keep nothing (dst NULL) */

struct cfg_shape {
    const struct cfg_field *fields; /* ends with { 0 } */
    size_t size;                    /* element size for CFG_LIST */
    /* Cross-field rules and derived values. Runs after the fields, also
     * when the object is absent (obj NULL) so that defaults get derived;
     * 'dst' is NULL for CFG_NOSTORE objects. */
    void (*finish)(struct cfg_walk *w, const char *path, json_t *obj,
                   void *dst);
};

struct cfg_walk {
    const char *file;
    struct buf out;                 /* the error lines */
    int nerr;
};

__attribute__((format(printf, 3, 4)))
static void add_err(struct cfg_walk *w, const char *path, const char *fmt,
                    ...)
{
    char why[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    w->nerr++;
    /* On ENOMEM the line is lost but nerr still fails the load. */
    (void)buf_printf(&w->out, NULL, "%s: %s: %s\n", w->file, path, why);
}

static void *at(void *dst, size_t off)
{
    return dst == NULL ? NULL : (char *)dst + off;
}

/* Replace the string at 'slot' with a copy of 's' (NULL clears it). */
static void set_str(struct cfg_walk *w, const char *path, char **slot,
                    const char *s)
{
    char *copy = NULL;

    if (slot == NULL)
        return;
    if (s != NULL && (copy = strdup(s)) == NULL) {
        add_err(w, path, "out of memory");
        return;
    }
    free(*slot);
    *slot = copy;
}

static void child_path(char *out, const char *parent, const char *key)
{
    if (parent[0] == '\0')
        snprintf(out, CFG_PATH_MAX, "%s", key);
    else
        snprintf(out, CFG_PATH_MAX, "%s.%s", parent, key);
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:  return "an object";
    case JSON_ARRAY:   return "an array";
    case JSON_STRING:  return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL:    return "a fractional number";
    case JSON_TRUE:
    case JSON_FALSE:   return "a boolean";
    case JSON_NULL:    return "null";
    }
    return "an unknown value";
}

/* ---- value rules (the 'check' of a field) ---- */

static int all_in(const char *s, const char *extra)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || strchr(extra, c) != NULL))
            return 0;
    }
    return 1;
}

static int all_digits(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

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
    if (all_in(s, "_.-"))
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
    if (strlen(last) < 1 || strlen(last) > 255 || !all_in(last, "_.-"))
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

/* arn:.*:iam::\d{12}:role/[a-zA-Z_0-9+=,.@\-_/]+ */
static int check_role_arn(json_t *v, char *why, size_t n)
{
    const char *s = json_string_value(v), *p, *acct;

    if (strncmp(s, "arn:", 4) == 0) {
        for (p = strstr(s + 3, ":iam::"); p != NULL;
             p = strstr(p + 1, ":iam::")) {
            acct = p + 6;
            if (strlen(acct) > 18 && all_digits(acct, 12) &&
                strncmp(acct + 12, ":role/", 6) == 0 &&
                all_in(acct + 18, "_+=,.@-/"))
                return 0;
        }
    }
    snprintf(why, n, "\"%s\" is not an IAM role ARN "
             "(arn:aws:iam::123456789012:role/name)", s);
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

static int check_account_id(json_t *v, char *why, size_t n)
{
    const char *s = json_string_value(v);

    if (strlen(s) == 12 && all_digits(s, 12))
        return 0;
    snprintf(why, n, "\"%s\" is not a 12-digit account id", s);
    return -1;
}

static int check_region(json_t *v, char *why, size_t n)
{
    if (all_in(json_string_value(v), "-"))
        return 0;
    snprintf(why, n, "\"%s\" may only contain a-z A-Z 0-9 -",
             json_string_value(v));
    return -1;
}

static int check_key_id(json_t *v, char *why, size_t n)
{
    if (all_in(json_string_value(v), ""))
        return 0;
    snprintf(why, n, "\"%s\" may only contain A-Z a-z 0-9",
             json_string_value(v));
    return -1;
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

static int check_url(json_t *v, char *why, size_t n)
{
    const char *s = json_string_value(v);

    if ((strncmp(s, "http://", 7) == 0 && s[7] != '\0') ||
        (strncmp(s, "https://", 8) == 0 && s[8] != '\0'))
        return 0;
    snprintf(why, n, "\"%s\" must start with http:// or https://", s);
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
    if (strlen(p) <= 20 || !all_digits(p, 12) ||
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
    child_path(sub, path, key);
    add_err(w, sub, "plain http:// is only accepted to 127.0.0.1, localhost "
            "or [::1]; use https:// or set \"AllowHttp\": true");
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

/* ---- the walker ---- */

static void walk_shape(struct cfg_walk *w, const char *path, json_t *obj,
                       const struct cfg_shape *sh, void *dst);

static const struct cfg_enum *enum_find(const struct cfg_enum *en,
                                        const char *s, int nocase)
{
    for (; en->name != NULL; en++)
        if (nocase ? strcasecmp(en->name, s) == 0 : strcmp(en->name, s) == 0)
            return en;
    return NULL;
}

static void enum_bad(struct cfg_walk *w, const char *path,
                     const struct cfg_enum *en, const char *s)
{
    const struct cfg_enum *near = enum_find(en, s, 1);
    char list[256] = "";
    size_t len = 0;

    for (; en->name != NULL && len < sizeof(list); en++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
                                len ? ", " : "", en->name);
    if (near != NULL)
        add_err(w, path, "\"%s\" is not one of %s (values are "
                "case-sensitive: did you mean %s?)", s, list, near->name);
    else
        add_err(w, path, "\"%s\" is not one of %s", s, list);
}

static void range_bad(struct cfg_walk *w, const char *path,
                      const struct cfg_field *f, long long v)
{
    if (v < f->min)
        add_err(w, path, "%lld is below the minimum %lld", v, f->min);
    else
        add_err(w, path, "%lld is above the maximum %lld", v, f->max);
}

static void walk_list(struct cfg_walk *w, const char *path, json_t *v,
                      const struct cfg_field *f, void *dst)
{
    const struct cfg_shape *sh = f->sub;
    size_t i, n = json_array_size(v);
    char sub[CFG_PATH_MAX];
    char *elems = NULL;

    if (n < (size_t)f->min || n > (size_t)f->max) {
        add_err(w, path, "has %zu entries, expected %lld to %lld", n,
                f->min, f->max);
        return;
    }
    if (dst != NULL) {
        elems = calloc(n, sh->size);
        if (elems == NULL) {
            add_err(w, path, "out of memory");
            return;
        }
        /* Owned by dst from here on, so a later failure frees it. */
        *(void **)at(dst, f->offset) = elems;
        *(size_t *)at(dst, f->count_offset) = n;
    }
    for (i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);

        /* Paths are only ever this deep in absurd files: cut, not fail. */
        if (snprintf(sub, sizeof(sub), "%s[%zu]", path, i) < 0)
            sub[0] = '\0';
        if (!json_is_object(e)) {
            add_err(w, sub, "expected an object, got %s", json_kind(e));
            continue;
        }
        walk_shape(w, sub, e, sh, elems ? elems + i * sh->size : NULL);
    }
}

/* Check 'v' against 'f' and store it in 'dst' (NULL: validate only). */
static void walk_value(struct cfg_walk *w, const char *path, json_t *v,
                       const struct cfg_field *f, void *dst)
{
    void *slot = at(dst, f->offset);
    const struct cfg_enum *en;
    char why[384];
    long long iv;
    size_t len;

    switch (f->type) {
    case CFG_STR:
        if (!json_is_string(v)) {
            add_err(w, path, "expected a string, got %s", json_kind(v));
            return;
        }
        len = json_string_length(v);
        if (len < (size_t)f->min) {
            add_err(w, path, "%s is shorter than the minimum length %lld",
                    len ? "the value" : "an empty string", f->min);
            return;
        }
        if (f->max != 0 && len > (size_t)f->max) {
            add_err(w, path, "length %zu is above the maximum %lld", len,
                    f->max);
            return;
        }
        if (f->check != NULL && f->check(v, why, sizeof(why)) != 0) {
            add_err(w, path, "%s", why);
            return;
        }
        set_str(w, path, slot, json_string_value(v));
        return;
    case CFG_INT:
    case CFG_U64:
        if (!json_is_integer(v)) {
            add_err(w, path, "expected an integer, got %s", json_kind(v));
            return;
        }
        iv = json_integer_value(v);
        if (iv < f->min || iv > f->max) {
            range_bad(w, path, f, iv);
            return;
        }
        if (slot != NULL && f->type == CFG_INT)
            *(int *)slot = (int)iv;
        else if (slot != NULL)
            *(uint64_t *)slot = (uint64_t)iv;
        return;
    case CFG_BOOL:
        if (!json_is_boolean(v)) {
            add_err(w, path, "expected true or false, got %s", json_kind(v));
            return;
        }
        if (f->check != NULL && f->check(v, why, sizeof(why)) != 0) {
            add_err(w, path, "%s", why);
            return;
        }
        if (slot != NULL)
            *(int *)slot = json_is_true(v);
        return;
    case CFG_ENUM:
        if (!json_is_string(v)) {
            add_err(w, path, "expected a string, got %s", json_kind(v));
            return;
        }
        en = enum_find(f->sub, json_string_value(v), 0);
        if (en == NULL) {
            enum_bad(w, path, f->sub, json_string_value(v));
            return;
        }
        if (en->unsupported != NULL) {
            add_err(w, path, "%s", en->unsupported);
            return;
        }
        if (slot != NULL)
            *(int *)slot = en->value;
        return;
    case CFG_OBJ:
        if (!json_is_object(v)) {
            add_err(w, path, "expected an object, got %s", json_kind(v));
            return;
        }
        walk_shape(w, path, v, f->sub, slot);
        return;
    case CFG_LIST:
    case CFG_ARRAY:
        if (!json_is_array(v)) {
            add_err(w, path, "expected an array, got %s", json_kind(v));
            return;
        }
        if (f->type == CFG_LIST)
            walk_list(w, path, v, f, dst);
        return;
    case CFG_UNSUPPORTED:
        add_err(w, path, "%s is not supported yet", f->name);
        return;
    }
}

/* The value of an absent key. */
static void set_default(struct cfg_walk *w, const char *path,
                        const struct cfg_field *f, void *dst)
{
    void *slot = at(dst, f->offset);
    const struct cfg_enum *en;

    if (f->type == CFG_OBJ && slot != NULL) {
        walk_shape(w, path, NULL, f->sub, slot);
        return;
    }
    if (f->def == NULL || slot == NULL)
        return;
    switch (f->type) {
    case CFG_STR:
        set_str(w, path, slot, f->def);
        break;
    case CFG_INT:
        *(int *)slot = (int)strtol(f->def, NULL, 10);
        break;
    case CFG_U64:
        *(uint64_t *)slot = strtoull(f->def, NULL, 10);
        break;
    case CFG_BOOL:
        *(int *)slot = strcmp(f->def, "true") == 0;
        break;
    case CFG_ENUM:
        en = enum_find(f->sub, f->def, 0);
        if (en != NULL)
            *(int *)slot = en->value;
        break;
    default:
        break;
    }
}

static const struct cfg_field *field_find(const struct cfg_field *f,
                                          const char *key, int nocase)
{
    for (; f->name != NULL; f++)
        if (nocase ? strcasecmp(f->name, key) == 0 : strcmp(f->name, key) == 0)
            return f;
    return NULL;
}

static void walk_shape(struct cfg_walk *w, const char *path, json_t *obj,
                       const struct cfg_shape *sh, void *dst)
{
    const struct cfg_field *f, *near;
    char sub[CFG_PATH_MAX];
    const char *key;
    json_t *v;

    if (obj != NULL) {
        json_object_foreach(obj, key, v) {
            if (field_find(sh->fields, key, 0) != NULL)
                continue;
            child_path(sub, path, key);
            near = field_find(sh->fields, key, 1);
            if (near != NULL)
                add_err(w, sub, "unknown key (keys are case-sensitive: "
                        "did you mean %s?)", near->name);
            else
                add_err(w, sub, "unknown key");
        }
    }
    /* Defaults first, values second: several keys may fill one struct
     * (each destination shape fills cfg_stream.s3), and the defaults of an
     * absent one must not overwrite the values of a present one. */
    for (f = sh->fields; f->name != NULL; f++) {
        if (obj != NULL && json_object_get(obj, f->name) != NULL)
            continue;
        child_path(sub, path, f->name);
        if (obj != NULL && (f->flags & CFG_REQUIRED))
            add_err(w, sub, "missing required key (%s)", f->help);
        set_default(w, sub, f, (f->flags & CFG_NOSTORE) ? NULL : dst);
    }
    for (f = sh->fields; obj != NULL && f->name != NULL; f++) {
        if ((v = json_object_get(obj, f->name)) == NULL)
            continue;
        child_path(sub, path, f->name);
        walk_value(w, sub, v, f, (f->flags & CFG_NOSTORE) ? NULL : dst);
    }
    if (sh->finish != NULL)
        sh->finish(w, path, obj, dst);
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
        add_err(w, path, "IntervalInSeconds is required when SizeInMBs is "
                "given");
    else if (interval && !size)
        add_err(w, path, "SizeInMBs is required when IntervalInSeconds is "
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
        add_err(w, path, "LogGroupName and LogStreamName are required when "
                "Enabled is true");
}

static void encryption_finish(struct cfg_walk *w, const char *path,
                              json_t *obj, void *dst)
{
    (void)dst;
    if (obj != NULL && json_object_get(obj, "NoEncryptionConfig") != NULL &&
        json_object_get(obj, "KMSEncryptionConfig") != NULL)
        add_err(w, path, "give NoEncryptionConfig or KMSEncryptionConfig, "
                "not both");
}

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
            add_err(w, p, "expected {\"ParameterName\": string, "
                    "\"ParameterValue\": string}");
            continue;
        }
        for (const char *const *a = allowed; *a; a++)
            known |= strcmp(json_string_value(n), *a) == 0;
        if (!known)
            add_err(w, p, "unknown ParameterName \"%s\"",
                    json_string_value(n));
        else if (json_string_length(v) < 1 || json_string_length(v) > 5120 ||
                 strspn(json_string_value(v), " \t\r\n") ==
                 json_string_length(v))
            add_err(w, p, "ParameterValue must be 1-5120 characters, not "
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
            add_err(w, path, "ParameterName \"%s\" given twice", name);
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
        add_err(w, p, "RecordDeAggregation needs a SubRecordType parameter "
                "(JSON or DELIMITED)");
        return;
    }
    if (strcmp(t, "JSON") == 0) {
        pc->deagg = CFG_DEAGG_JSON;
        if (d != NULL)
            add_err(w, p, "Delimiter is only for SubRecordType DELIMITED");
        return;
    }
    if (strcmp(t, "DELIMITED") != 0) {
        add_err(w, p, "SubRecordType \"%s\" must be JSON or DELIMITED", t);
        return;
    }
    pc->deagg = CFG_DEAGG_DELIMITED;
    if (d == NULL) {
        add_err(w, p, "SubRecordType DELIMITED needs a Delimiter parameter "
                "(base64, e.g. \"IyMjIw==\" for ####)");
        return;
    }
    if ((out = malloc(strlen(d) / 4 * 3 + 1)) == NULL) {
        add_err(w, p, "out of memory");
        return;
    }
    if ((n = b64_decode(d, out)) <= 0) {
        add_err(w, p, "Delimiter \"%s\" is not base64 of at least one byte "
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
        add_err(w, p, "MetadataExtraction needs JsonParsingEngine \"JQ-1.6\"");
    else if (strcmp(eng, "JQ-1.6") != 0)
        add_err(w, p, "JsonParsingEngine \"%s\" must be \"JQ-1.6\" (exactly)",
                eng);
    if (q == NULL) {
        add_err(w, p, "MetadataExtraction needs a MetadataExtractionQuery "
                "parameter (a jq object, e.g. {customer_id: .customer_id})");
        return;
    }
    if ((x = jqx_new(q, &e)) == NULL) {
        add_err(w, p, "MetadataExtractionQuery does not compile: %s", e.msg);
        return;
    }
    jqx_free(x);
    set_str(w, p, &pc->jq_query, q);
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
            add_err(w, p, "expected {\"Type\": string, \"Parameters\": [...]}");
            continue;
        }
        json_object_foreach_safe(it, iter, key, type) {
            (void)type;
            if (strcmp(key, "Type") != 0 && strcmp(key, "Parameters") != 0)
                add_err(w, p, "unknown key \"%s\"", key);
        }
        type = json_object_get(it, "Type");
        ts = json_string_value(type);
        for (t = 0; types[t] != NULL && strcmp(types[t], ts) != 0; t++)
            ;
        if (types[t] != NULL && seen[t]++ > 0) {
            add_err(w, p, "only one %s processor per stream", ts);
            continue;
        }
        if (params == NULL)
            params = json_array();
        else
            json_incref(params);
        if (!json_is_array(params)) {
            add_err(w, p, "Parameters: expected an array");
            json_decref(params);
            continue;
        }
        if (strcmp(ts, "Lua") == 0) {
            check_params(w, p, params, lua_params);
            if ((v = param(w, p, params, "ScriptName")) == NULL) {
                add_err(w, p, "the Lua processor needs a ScriptName "
                        "parameter (a file in the transforms directory)");
            } else if (strchr(v, '/') != NULL || v[0] == '.') {
                add_err(w, p, "ScriptName \"%s\" must be a file name in "
                        "the transforms directory, without '/'", v);
            } else {
                set_str(w, p, &pc->lua_script, v);
            }
            if ((v = param(w, p, params, "NumberOfRetries")) != NULL) {
                char *end;
                long n = strtol(v, &end, 10);
                if (*end != '\0' || n < 0 || n > 300)
                    add_err(w, p, "NumberOfRetries \"%s\" must be an integer "
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
                add_err(w, p, "Decompression needs CompressionFormat "
                        "\"GZIP\"%s%s%s", v ? " (not \"" : "", v ? v : "",
                        v ? "\")" : "");
            else
                pc->gzip = 1;
        } else if (strcmp(ts, "CloudWatchLogProcessing") == 0) {
            check_params(w, p, params, cwl_params);
            v = param(w, p, params, "DataMessageExtraction");
            if (v == NULL || (strcmp(v, "true") != 0 &&
                              strcmp(v, "false") != 0))
                add_err(w, p, "CloudWatchLogProcessing needs "
                        "DataMessageExtraction \"true\" or \"false\"");
            else
                pc->cw_extract = strcmp(v, "true") == 0;
            pc->cw_logs = 1;
        } else if (strcmp(ts, "Lambda") == 0) {
            add_err(w, p, "Type Lambda: this server runs Lua scripts "
                    "instead; use {\"Type\": \"Lua\", \"Parameters\": "
                    "[{\"ParameterName\": \"ScriptName\", "
                    "\"ParameterValue\": \"name.lua\"}]}");
        } else {
            add_err(w, p, "unknown processor Type \"%s\" (Lua, "
                    "RecordDeAggregation, MetadataExtraction, Decompression, "
                    "CloudWatchLogProcessing, AppendDelimiterToRecord)", ts);
        }
        json_decref(params);
    }
    if (pc->cw_logs && !pc->gzip)
        add_err(w, path, "CloudWatchLogProcessing needs a Decompression "
                "processor (CompressionFormat GZIP)");
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
        set_str(w, path, &s3->bucket, bucket);
    if (s3->max_active_partitions == 0)
        s3->max_active_partitions = 500;
    if (s3->partition_buffer_bytes == 0)
        s3->partition_buffer_bytes = 64u << 20;
    if (s3->processing.jq_query != NULL && !s3->dynamic_partitioning)
        add_err(w, path, "a MetadataExtraction processor needs "
                "DynamicPartitioningConfiguration.Enabled true");
    if (s3->dynamic_partitioning) {
        const struct cfg_processing *pc = &s3->processing;
        const char *pre = s3->prefix ? s3->prefix : "";

        if (!pc->enabled || (pc->lua_script == NULL && pc->jq_query == NULL))
            add_err(w, path, "DynamicPartitioningConfiguration needs an "
                    "enabled MetadataExtraction processor "
                    "(!{partitionKeyFromQuery:name}) or Lua processor whose "
                    "script returns partition keys "
                    "(!{partitionKeyFromLambda:name})");
        if (strstr(pre, "partitionKeyFromQuery:") != NULL &&
            (pc->jq_query == NULL || !pc->enabled))
            add_err(w, path, "Prefix uses !{partitionKeyFromQuery:...}: it "
                    "needs an enabled MetadataExtraction processor");
        if ((strstr(pre, "partitionKeyFromLambda:") != NULL ||
             strstr(pre, "partitionKeyFromLua:") != NULL) &&
            (pc->lua_script == NULL || !pc->enabled))
            add_err(w, path, "Prefix uses !{partitionKeyFromLambda:...}: it "
                    "needs an enabled Lua processor");
        if (s3->buffering.interval_s == 0)
            add_err(w, path, "BufferingHints.IntervalInSeconds can't be 0 "
                    "when dynamic partitioning is enabled");
    }
    if (s3->kms_key_arn != NULL && s3->sse != NULL &&
        strcmp(s3->sse, "aws:kms") != 0)
        add_err(w, path, "ServerSideEncryption %s conflicts with "
                "EncryptionConfiguration.KMSEncryptionConfig (SSE-KMS): "
                "give one of them", s3->sse);
    if (keys_validate(s3->prefix ? s3->prefix : "",
                      s3->error_prefix ? s3->error_prefix : "",
                      s3->dynamic_partitioning, &e) != 0)
        add_err(w, path, "%s", e.msg);
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
            add_err(w, sub, "must not be blank");
        for (j = 0; j < i; j++)
            if (h->attrs[j].name != NULL && strcmp(h->attrs[j].name, a) == 0) {
                add_err(w, sub, "\"%s\" is already the name of "
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
    child_path(sub, path, "EndpointConfiguration");
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
        add_err(w, path, "give exactly one of ClusterEndpoint "
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

static const struct cfg_shape s3_shape;

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
        add_err(w, path, "Exactly one destination configuration is "
                "supported for a Firehose (found %zu of "
                "LocalDirectoryDestinationConfiguration, "
                "ExtendedS3DestinationConfiguration, "
                "S3DestinationConfiguration, ...)", n);
    if (st == NULL)
        return;
    if (st->type == CFG_STREAM_KINESIS &&
        !json_is_object(json_object_get(obj, "KinesisStreamSourceConfiguration")))
        add_err(w, path, "DeliveryStreamType KinesisStreamAsSource needs "
                "KinesisStreamSourceConfiguration");
    if (st->type != CFG_STREAM_KINESIS &&
        json_object_get(obj, "KinesisStreamSourceConfiguration") != NULL)
        add_err(w, path, "KinesisStreamSourceConfiguration needs "
                "DeliveryStreamType KinesisStreamAsSource");
    if (st->type == CFG_STREAM_KINESIS &&
        json_object_get(obj, "DirectPutSourceConfiguration") != NULL)
        add_err(w, path, "DirectPutSourceConfiguration is for DirectPut "
                "streams");
    for (i = 1; i < st->n_tags; i++) {
        for (size_t j = 0; j < i; j++) {
            char sub[CFG_PATH_MAX];

            if (st->tags[i].key == NULL || st->tags[j].key == NULL ||
                strcmp(st->tags[i].key, st->tags[j].key) != 0)
                continue;
            child_path(sub, path, "Tags");
            add_err(w, sub, "tag key \"%s\" is given twice (entries %zu "
                    "and %zu)", st->tags[i].key, j, i);
            break;
        }
    }
    if (st->type != CFG_STREAM_DIRECT_PUT &&
        json_object_get(obj, "DirectPutQuotas") != NULL) {
        char sub[CFG_PATH_MAX];

        child_path(sub, path, "DirectPutQuotas");
        add_err(w, sub, "quotas apply to DirectPut streams only (this "
                "stream reads from its DeliveryStreamType source)");
    }
    if (st->s3.source_backup && st->dest_kind != CFG_DEST_S3)
        add_err(w, path, "S3BackupMode Enabled (source-record backup) is "
                "for ExtendedS3DestinationConfiguration only");
    if (st->dest_kind == CFG_DEST_S3) {
        json_t *ext = json_object_get(obj,
                                      "ExtendedS3DestinationConfiguration");
        json_t *bk = json_object_get(ext, "S3BackupConfiguration");
        char sub[CFG_PATH_MAX];

        child_path(sub, path, "ExtendedS3DestinationConfiguration");
        if (st->s3.source_backup && !json_is_object(bk)) {
            add_err(w, sub, "S3BackupConfiguration is required when "
                    "S3BackupMode is Enabled");
        } else if (st->s3.source_backup) {
            /* Validated (and its errors reported) with the destination;
             * walked again here only to keep it, beside st->s3. */
            struct cfg_walk quiet = { w->file, { NULL, 0, 0 }, 0 };
            walk_shape(&quiet, sub, bk, &s3_shape, &st->backup);
            buf_release(&quiet.out);
        }
    }
    set_str(w, path, &st->version_id, "1");
    /* The legacy S3 shape has no FileExtension or CustomTimeZone. */
    if (st->s3.file_extension == NULL)
        set_str(w, path, &st->s3.file_extension, "");
    if (st->s3.custom_time_zone == NULL)
        set_str(w, path, &st->s3.custom_time_zone, "");
}

/* Service.Credentials, CredentialsFile and AllowUnauthenticated agree. */
static void auth_finish(struct cfg_walk *w, const char *path,
                        const struct cfg_service *sv)
{
    char sub[CFG_PATH_MAX];
    size_t i, j;

    if (sv->n_credentials > 0 && sv->credentials_file != NULL)
        add_err(w, path, "give Credentials or CredentialsFile, not both");
    if (sv->allow_unauthenticated &&
        (sv->n_credentials > 0 || sv->credentials_file != NULL))
        add_err(w, path, "AllowUnauthenticated can't be true when "
                "Credentials or CredentialsFile are configured: signed "
                "requests are then required");
    for (i = 1; i < sv->n_credentials; i++) {
        for (j = 0; j < i; j++) {
            if (sv->credentials[i].access_key_id == NULL ||
                sv->credentials[j].access_key_id == NULL ||
                strcmp(sv->credentials[i].access_key_id,
                       sv->credentials[j].access_key_id) != 0)
                continue;
            child_path(sub, path, "Credentials");
            add_err(w, sub, "AccessKeyId \"%s\" is given twice (entries "
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
        set_str(w, path, &sv->listen_host, host);
    if (sv->admin_listen != NULL &&
        split_listen(sv->admin_listen, host, sizeof(host), &sv->admin_port,
                     why, sizeof(why)) == 0) {
        set_str(w, path, &sv->admin_host, host);
        if (sv->listen != NULL && strcmp(sv->admin_listen, sv->listen) == 0)
            add_err(w, path, "AdminListen \"%s\" is the Listen address: "
                    "leave AdminListen out to serve the dashboard there",
                    sv->admin_listen);
    }
    for (i = 0; sv->region == NULL && i < sizeof(env) / sizeof(env[0]); i++)
        if ((r = getenv(env[i])) != NULL && r[0] != '\0')
            set_str(w, path, &sv->region, r);
    if (sv->region == NULL)
        set_str(w, path, &sv->region, "us-east-1");
    if (sv->s3_part_size > sv->s3_multipart_threshold)
        add_err(w, path, "S3MultipartPartSizeBytes %llu is above "
                "S3MultipartThresholdBytes %llu: lower the part size or "
                "raise the threshold",
                (unsigned long long)sv->s3_part_size,
                (unsigned long long)sv->s3_multipart_threshold);
    auth_finish(w, path, sv);
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
        add_err(w, sub, "a DomainARN needs Service.Endpoints.OpenSearch "
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
        add_err(w, "Service.LeaseStore.TableName", "one lease table can't "
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
            add_err(w, sub, "\"%s\" is already the name of "
                    "DeliveryStreams[%zu]", c->streams[i].name, j);
            break;
        }
    }
}

/* ---- the tables: one per Firehose shape ---- */

static const struct cfg_enum compression_enum[] = {
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

static const struct cfg_enum stream_type_enum[] = {
    { "DirectPut", CFG_STREAM_DIRECT_PUT, NULL },
    { "KinesisStreamAsSource", CFG_STREAM_KINESIS, NULL },
    { "MSKAsSource", -1, "DeliveryStreamType MSKAsSource is not supported" },
    { "DatabaseAsSource", -1, "DeliveryStreamType DatabaseAsSource is not "
      "supported" },
    { 0 }
};

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

static const struct cfg_field processing_fields[] = {
    { .name = "Enabled", .type = CFG_BOOL,
      .offset = offsetof(struct cfg_processing, enabled) },
    { .name = "Processors", .type = CFG_ARRAY },
    { 0 }
};
static const struct cfg_shape processing_shape = {
    processing_fields, 0, processing_finish
};

static const struct cfg_field retry_fields[] = {
    { .name = "DurationInSeconds", .type = CFG_INT, .min = 0, .max = 7200,
      .def = "300", .help = "0-7200" },
    { 0 }
};
static const struct cfg_shape retry_shape = { retry_fields, 0, NULL };

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
      .sub = &retry_shape },
    { 0 }
};
static const struct cfg_shape partitioning_shape = {
    partitioning_fields, 0, NULL
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
      .offset = S3F(compression), .sub = compression_enum, \
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
      .offset = S3F(processing), .sub = &processing_shape }, \
    { .name = "DynamicPartitioningConfiguration", .type = CFG_OBJ, \
      .offset = S3F(dynamic_partitioning), .sub = &partitioning_shape }, \
    { .name = "S3BackupMode", .type = CFG_ENUM, \
      .offset = S3F(source_backup), .sub = backup_mode_enum }, \
    { .name = "DataFormatConversionConfiguration", \
      .type = CFG_UNSUPPORTED }
#define FIELD_ROLE \
    { .name = "RoleARN", .type = CFG_STR, .offset = S3F(role_arn), \
      .min = 1, .max = 512, .check = check_role_arn, \
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
static const struct cfg_shape s3_shape = { s3_fields, 0, dest_finish };

static const struct cfg_field ext_s3_fields[] = {
    FIELD_ROLE, FIELD_BUCKET, FIELD_PREFIXES, FIELD_BUFFERING,
    FIELD_COMPRESSION, FIELD_ENCRYPTION, FIELD_CWLOG, FIELD_EXTRAS,
    FIELD_S3_EXTRAS,
    { .name = "S3BackupConfiguration", .type = CFG_OBJ,
      .flags = CFG_NOSTORE, .sub = &s3_shape },
    { 0 }
};
static const struct cfg_shape ext_s3_shape = {
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
static const struct cfg_shape local_shape = { local_fields, 0, dest_finish };

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
      .max = 1000, .flags = CFG_REQUIRED, .check = check_url,
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
      .sub = &retry_shape },
    { .name = "S3BackupMode", .type = CFG_ENUM, .offset = STF(backup_all),
      .sub = http_backup_enum, .def = "FailedDataOnly",
      .help = "FailedDataOnly or AllData" },
    { .name = "S3Configuration", .type = CFG_OBJ, .offset = STF(backup),
      .sub = &s3_shape, .flags = CFG_REQUIRED,
      .help = "the S3DestinationConfiguration shape: the backup bucket" },
    { .name = "ProcessingConfiguration", .type = CFG_OBJ,
      .offset = STF(s3.processing), .sub = &processing_shape },
    { .name = "CloudWatchLoggingOptions", .type = CFG_OBJ,
      .flags = CFG_NOSTORE, .sub = &cwlog_shape },
    { .name = "RoleARN", .type = CFG_STR, .offset = STF(http.role_arn),
      .min = 1, .max = 512, .check = check_role_arn },
    { .name = "SecretsManagerConfiguration", .type = CFG_UNSUPPORTED },
    { .name = "RequestTimeoutInSeconds", .type = CFG_INT,
      .offset = STF(http.timeout_s), .min = 1, .max = 3600, .def = "180",
      .help = "1-3600" },
    { .name = "AllowHttp", .type = CFG_BOOL, .offset = STF(http.allow_http),
      .def = "false" },
    { 0 }
};
static const struct cfg_shape http_shape = { http_fields, 0, http_finish };

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
      .check = check_role_arn },
    { 0 }
};
static const struct cfg_shape vpc_shape = { vpc_fields, 0, NULL };

/* Both OpenSearch shapes (same members); walked with the whole stream as
 * destination, like http_fields. */
static const struct cfg_field os_fields[] = {
    { .name = "RoleARN", .type = CFG_STR, .offset = STF(os.role_arn),
      .min = 1, .max = 512, .check = check_role_arn },
    { .name = "ClusterEndpoint", .type = CFG_STR,
      .offset = STF(os.cluster_endpoint), .min = 1, .max = 512,
      .check = check_url, .help = "https://host:port" },
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
      .sub = &retry_shape },
    { .name = "S3BackupMode", .type = CFG_ENUM, .offset = STF(backup_all),
      .sub = os_backup_enum, .def = "FailedDocumentsOnly",
      .help = "FailedDocumentsOnly or AllDocuments" },
    { .name = "S3Configuration", .type = CFG_OBJ, .offset = STF(backup),
      .sub = &s3_shape, .flags = CFG_REQUIRED,
      .help = "the S3DestinationConfiguration shape: the backup bucket" },
    { .name = "DocumentIdOptions", .type = CFG_OBJ, .offset = STF(os),
      .sub = &doc_id_shape },
    { .name = "ProcessingConfiguration", .type = CFG_OBJ,
      .offset = STF(s3.processing), .sub = &processing_shape },
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
static const struct cfg_shape os_shape = { os_fields, 0, os_finish };
static const struct cfg_shape es_shape = { os_fields, 0, es_finish };

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

static const struct cfg_field direct_put_fields[] = {
    { .name = "ThroughputHintInMBs", .type = CFG_INT, .min = 1, .max = 100,
      .flags = CFG_REQUIRED, .help = "1-100, informational" },
    { 0 }
};
static const struct cfg_shape direct_put_shape = {
    direct_put_fields, 0, NULL
};

#define QTF(m) offsetof(struct cfg_quotas, m)

/* Ours, beside DeliveryStreamType. An absent key means unlimited; a
 * present one must be at least 1 (0 would refuse everything). */
static const struct cfg_field quotas_fields[] = {
    { .name = "RecordsPerSecond", .type = CFG_U64, .offset = QTF(records_ps),
      .min = 1, .max = 1000000000LL, .help = "1 to 1000000000" },
    { .name = "RequestsPerSecond", .type = CFG_U64,
      .offset = QTF(requests_ps), .min = 1, .max = 1000000000LL,
      .help = "1 to 1000000000" },
    { .name = "BytesPerSecond", .type = CFG_U64, .offset = QTF(bytes_ps),
      .min = 1, .max = 1099511627776LL, .help = "1 to 1 TiB" },
    { 0 }
};
static const struct cfg_shape quotas_shape = { quotas_fields, 0, NULL };

static const struct cfg_enum start_pos_enum[] = {
    { "LATEST", CFG_START_LATEST, NULL },
    { "TRIM_HORIZON", CFG_START_TRIM_HORIZON, NULL },
    { "AT_TIMESTAMP", CFG_START_AT_TIMESTAMP, NULL },
    { 0 }
};

static const struct cfg_enum out_of_range_enum[] = {
    { "keep", 0, NULL },
    { "drop", 1, NULL },
    { 0 }
};

/* arn:aws:kinesis:<region>:<12 digits>:stream/<name> */
static int check_kinesis_arn(json_t *v, char *why, size_t n)
{
    const char *s = json_string_value(v), *p, *name;
    size_t i;

    if (strncmp(s, "arn:", 4) != 0 || (p = strstr(s, ":kinesis:")) == NULL)
        goto bad;
    p += 9;
    for (i = 0; p[i] != ':' && p[i] != '\0'; i++)
        ;
    if (i == 0 || p[i] != ':')
        goto bad;
    p += i + 1;
    for (i = 0; p[i] >= '0' && p[i] <= '9'; i++)
        ;
    if (i != 12 || strncmp(p + 12, ":stream/", 8) != 0)
        goto bad;
    name = p + 20;
    if (name[0] == '\0' || strlen(name) > 128 || !all_in(name, "_.-"))
        goto bad;
    return 0;
bad:
    snprintf(why, n, "\"%s\" is not arn:aws:kinesis:<region>:<account>:"
             "stream/<name>", s);
    return -1;
}

#define KSF(m) offsetof(struct cfg_stream, kinesis.m)

static const struct cfg_field kinesis_src_fields[] = {
    { .name = "KinesisStreamARN", .type = CFG_STR, .offset = KSF(stream_arn),
      .min = 1, .max = 512, .flags = CFG_REQUIRED,
      .check = check_kinesis_arn,
      .help = "arn:aws:kinesis:<region>:<account>:stream/<name>" },
    { .name = "RoleARN", .type = CFG_STR, .offset = KSF(role_arn), .min = 1,
      .max = 512, .check = check_role_arn, .help = "arn:aws:iam::...:role/..." },
    { .name = "StartingPosition", .type = CFG_ENUM, .offset = KSF(start),
      .sub = start_pos_enum, .def = "LATEST",
      .help = "LATEST, TRIM_HORIZON or AT_TIMESTAMP" },
    { .name = "StartingPositionTimestamp", .type = CFG_U64,
      .offset = KSF(start_ts_s), .min = 1, .max = 32503680000LL,
      .help = "epoch seconds, for AT_TIMESTAMP" },
    { .name = "GetRecordsLimit", .type = CFG_INT,
      .offset = KSF(get_records_limit), .min = 1, .max = 10000,
      .def = "10000", .help = "records per GetRecords, 1-10000" },
    { .name = "IdleTimeBetweenReadsInMillis", .type = CFG_INT,
      .offset = KSF(idle_ms), .min = 200, .max = 60000, .def = "1000",
      .help = "pause between reads of a shard, 200-60000 ms" },
    { .name = "OutOfRangeRecords", .type = CFG_ENUM,
      .offset = KSF(drop_out_of_range), .sub = out_of_range_enum,
      .def = "keep", .help = "keep or drop" },
    { 0 }
};

static void kinesis_src_finish(struct cfg_walk *w, const char *path,
                               json_t *obj, void *dst)
{
    struct cfg_stream *st = dst;
    const char *arn, *p;

    if (obj == NULL || st == NULL || (arn = st->kinesis.stream_arn) == NULL)
        return;
    if (st->kinesis.start == CFG_START_AT_TIMESTAMP &&
        st->kinesis.start_ts_s == 0)
        add_err(w, path, "StartingPosition AT_TIMESTAMP needs "
                "StartingPositionTimestamp (epoch seconds)");
    if (st->kinesis.start != CFG_START_AT_TIMESTAMP &&
        st->kinesis.start_ts_s != 0)
        add_err(w, path, "StartingPositionTimestamp is only for "
                "StartingPosition AT_TIMESTAMP");
    if ((p = strstr(arn, ":kinesis:")) == NULL || strchr(p + 9, ':') == NULL)
        return;                 /* reported by check_kinesis_arn */
    p += 9;
    free(st->kinesis.region);
    st->kinesis.region = strndup(p, (size_t)(strchr(p, ':') - p));
    set_str(w, path, &st->kinesis.stream_name, strstr(arn, ":stream/") + 8);
    if (st->kinesis.region == NULL)
        add_err(w, path, "out of memory");
}

static const struct cfg_shape kinesis_src_shape = {
    kinesis_src_fields, 0, kinesis_src_finish
};

static const struct cfg_field stream_fields[] = {
    { .name = "DeliveryStreamName", .type = CFG_STR, .offset = STF(name),
      .min = 1, .max = 64, .flags = CFG_REQUIRED,
      .check = check_stream_name, .help = "1-64 of a-z A-Z 0-9 _ . -" },
    { .name = "DeliveryStreamType", .type = CFG_ENUM, .offset = STF(type),
      .sub = stream_type_enum, .def = "DirectPut",
      .help = "DirectPut or KinesisStreamAsSource" },
    { .name = "DirectPutQuotas", .type = CFG_OBJ, .offset = STF(quotas),
      .sub = &quotas_shape },
    { .name = "LocalDirectoryDestinationConfiguration", .type = CFG_OBJ,
      .offset = STF(s3), .sub = &local_shape },
    { .name = "ExtendedS3DestinationConfiguration", .type = CFG_OBJ,
      .offset = STF(s3), .sub = &ext_s3_shape },
    { .name = "S3DestinationConfiguration", .type = CFG_OBJ,
      .offset = STF(s3), .sub = &s3_shape },
    { .name = "HttpEndpointDestinationConfiguration", .type = CFG_OBJ,
      .offset = 0, .sub = &http_shape },
    { .name = "AmazonopensearchserviceDestinationConfiguration",
      .type = CFG_OBJ, .offset = 0, .sub = &os_shape },
    { .name = "ElasticsearchDestinationConfiguration", .type = CFG_OBJ,
      .offset = 0, .sub = &es_shape },
    { .name = "KinesisStreamSourceConfiguration", .type = CFG_OBJ,
      .offset = 0, .sub = &kinesis_src_shape },
    { .name = "DirectPutSourceConfiguration", .type = CFG_OBJ,
      .flags = CFG_NOSTORE, .sub = &direct_put_shape },
    { .name = "Tags", .type = CFG_LIST, .offset = STF(tags),
      .sub = &tag_shape, .min = 1, .max = 50, .count_offset = STF(n_tags),
      .help = "[{\"Key\", \"Value\"}], 1 to 50" },
    { 0 }
};
static const struct cfg_shape stream_shape = {
    stream_fields, sizeof(struct cfg_stream), stream_finish
};

static const struct cfg_field endpoints_fields[] = {
    { .name = "S3", .type = CFG_STR,
      .offset = offsetof(struct cfg_service, endpoint_s3), .min = 1,
      .max = 2048, .check = check_url, .help = "http(s)://host:port" },
    { .name = "OpenSearch", .type = CFG_STR,
      .offset = offsetof(struct cfg_service, endpoint_opensearch), .min = 1,
      .max = 2048, .check = check_url,
      .help = "http(s)://host:port, for DomainARN streams" },
    { .name = "Kinesis", .type = CFG_STR,
      .offset = offsetof(struct cfg_service, endpoint_kinesis), .min = 1,
      .max = 2048, .check = check_url, .help = "http(s)://host:port" },
    { .name = "DynamoDB", .type = CFG_STR,
      .offset = offsetof(struct cfg_service, endpoint_dynamodb), .min = 1,
      .max = 2048, .check = check_url, .help = "http(s)://host:port" },
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

    if (strlen(s) < 3 || !all_in(s, "_.-")) {
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
static const struct cfg_shape service_shape = {
    service_fields, 0, service_finish
};

static const struct cfg_field root_fields[] = {
    { .name = "Service", .type = CFG_OBJ,
      .offset = offsetof(struct cfg, service), .sub = &service_shape },
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
        add_err(&w, "(top level)", "expected an object, got %s",
                json_kind(root));
    } else {
        walk_shape(&w, "", root, &root_shape, c);
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
        add_err(&w, "", "out of memory");
    else if (root == NULL)
        add_err(&w, "", "malformed JSON at line %d, column %d: %s",
                jerr.line, jerr.column, jerr.text);
    else if (!json_is_object(root))
        add_err(&w, "", "expected an object, got %s", json_kind(root));
    else
        walk_shape(&w, "", root, &stream_shape, st);
    if (w.nerr == 0 && st->dest_kind == CFG_DEST_OPENSEARCH &&
        st->os.domain_arn != NULL && svc->endpoint_opensearch == NULL)
        add_err(&w, st->os.elasticsearch
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

    for (en = compression_enum; en->name != NULL; en++)
        if (en->value == (int)c)
            return en->name;
    return "UNKNOWN";
}
