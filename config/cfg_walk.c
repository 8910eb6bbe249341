/* cfg_walk.c - see cfg_walk.h. */
#include "cfg_walk.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

__attribute__((format(printf, 3, 4)))
void cfg_err(struct cfg_walk *w, const char *path, const char *fmt,
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

void *cfg_at(void *dst, size_t off)
{
    return dst == NULL ? NULL : (char *)dst + off;
}

/* Replace the string at 'slot' with a copy of 's' (NULL clears it). */
void cfg_set_str(struct cfg_walk *w, const char *path, char **slot,
                 const char *s)
{
    char *copy = NULL;

    if (slot == NULL)
        return;
    if (s != NULL && (copy = strdup(s)) == NULL) {
        cfg_err(w, path, "out of memory");
        return;
    }
    free(*slot);
    *slot = copy;
}

void cfg_child_path(char *out, const char *parent, const char *key)
{
    if (parent[0] == '\0')
        snprintf(out, CFG_PATH_MAX, "%s", key);
    else
        snprintf(out, CFG_PATH_MAX, "%s.%s", parent, key);
}

const char *cfg_json_kind(const json_t *v)
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

int cfg_all_in(const char *s, const char *extra)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || strchr(extra, c) != NULL))
            return 0;
    }
    return 1;
}

int cfg_all_digits(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}
/* arn:.*:iam::\d{12}:role/[a-zA-Z_0-9+=,.@\-_/]+ */
int cfg_check_role_arn(json_t *v, char *why, size_t n)
{
    const char *s = json_string_value(v), *p, *acct;

    if (strncmp(s, "arn:", 4) == 0) {
        for (p = strstr(s + 3, ":iam::"); p != NULL;
             p = strstr(p + 1, ":iam::")) {
            acct = p + 6;
            if (strlen(acct) > 18 && cfg_all_digits(acct, 12) &&
                strncmp(acct + 12, ":role/", 6) == 0 &&
                cfg_all_in(acct + 18, "_+=,.@-/"))
                return 0;
        }
    }
    snprintf(why, n, "\"%s\" is not an IAM role ARN "
             "(arn:aws:iam::123456789012:role/name)", s);
    return -1;
}

int cfg_check_url(json_t *v, char *why, size_t n)
{
    const char *s = json_string_value(v);

    if ((strncmp(s, "http://", 7) == 0 && s[7] != '\0') ||
        (strncmp(s, "https://", 8) == 0 && s[8] != '\0'))
        return 0;
    snprintf(why, n, "\"%s\" must start with http:// or https://", s);
    return -1;
}

/* ---- the walker ---- */

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
        cfg_err(w, path, "\"%s\" is not one of %s (values are "
                "case-sensitive: did you mean %s?)", s, list, near->name);
    else
        cfg_err(w, path, "\"%s\" is not one of %s", s, list);
}

static void range_bad(struct cfg_walk *w, const char *path,
                      const struct cfg_field *f, long long v)
{
    if (v < f->min)
        cfg_err(w, path, "%lld is below the minimum %lld", v, f->min);
    else
        cfg_err(w, path, "%lld is above the maximum %lld", v, f->max);
}

static void walk_list(struct cfg_walk *w, const char *path, json_t *v,
                      const struct cfg_field *f, void *dst)
{
    const struct cfg_shape *sh = f->sub;
    size_t i, n = json_array_size(v);
    char sub[CFG_PATH_MAX];
    char *elems = NULL;

    if (n < (size_t)f->min || n > (size_t)f->max) {
        cfg_err(w, path, "has %zu entries, expected %lld to %lld", n,
                f->min, f->max);
        return;
    }
    if (dst != NULL) {
        elems = calloc(n, sh->size);
        if (elems == NULL) {
            cfg_err(w, path, "out of memory");
            return;
        }
        /* Owned by dst from here on, so a later failure frees it. */
        *(void **)cfg_at(dst, f->offset) = elems;
        *(size_t *)cfg_at(dst, f->count_offset) = n;
    }
    for (i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);

        /* Paths are only ever this deep in absurd files: cut, not fail. */
        if (snprintf(sub, sizeof(sub), "%s[%zu]", path, i) < 0)
            sub[0] = '\0';
        if (!json_is_object(e)) {
            cfg_err(w, sub, "expected an object, got %s", cfg_json_kind(e));
            continue;
        }
        cfg_walk_shape(w, sub, e, sh, elems ? elems + i * sh->size : NULL);
    }
}

/* Check 'v' against 'f' and store it in 'dst' (NULL: validate only). */
static void walk_value(struct cfg_walk *w, const char *path, json_t *v,
                       const struct cfg_field *f, void *dst)
{
    void *slot = cfg_at(dst, f->offset);
    const struct cfg_enum *en;
    char why[384];
    long long iv;
    size_t len;

    switch (f->type) {
    case CFG_STR:
        if (!json_is_string(v)) {
            cfg_err(w, path, "expected a string, got %s", cfg_json_kind(v));
            return;
        }
        len = json_string_length(v);
        if (len < (size_t)f->min) {
            cfg_err(w, path, "%s is shorter than the minimum length %lld",
                    len ? "the value" : "an empty string", f->min);
            return;
        }
        if (f->max != 0 && len > (size_t)f->max) {
            cfg_err(w, path, "length %zu is above the maximum %lld", len,
                    f->max);
            return;
        }
        if (f->check != NULL && f->check(v, why, sizeof(why)) != 0) {
            cfg_err(w, path, "%s", why);
            return;
        }
        cfg_set_str(w, path, slot, json_string_value(v));
        return;
    case CFG_INT:
    case CFG_U64:
        if (!json_is_integer(v)) {
            cfg_err(w, path, "expected an integer, got %s", cfg_json_kind(v));
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
            cfg_err(w, path, "expected true or false, got %s",
                    cfg_json_kind(v));
            return;
        }
        if (f->check != NULL && f->check(v, why, sizeof(why)) != 0) {
            cfg_err(w, path, "%s", why);
            return;
        }
        if (slot != NULL)
            *(int *)slot = json_is_true(v);
        return;
    case CFG_ENUM:
        if (!json_is_string(v)) {
            cfg_err(w, path, "expected a string, got %s", cfg_json_kind(v));
            return;
        }
        en = enum_find(f->sub, json_string_value(v), 0);
        if (en == NULL) {
            enum_bad(w, path, f->sub, json_string_value(v));
            return;
        }
        if (en->unsupported != NULL) {
            cfg_err(w, path, "%s", en->unsupported);
            return;
        }
        if (slot != NULL)
            *(int *)slot = en->value;
        return;
    case CFG_OBJ:
        if (!json_is_object(v)) {
            cfg_err(w, path, "expected an object, got %s", cfg_json_kind(v));
            return;
        }
        cfg_walk_shape(w, path, v, f->sub, slot);
        return;
    case CFG_LIST:
    case CFG_ARRAY:
        if (!json_is_array(v)) {
            cfg_err(w, path, "expected an array, got %s", cfg_json_kind(v));
            return;
        }
        if (f->type == CFG_LIST)
            walk_list(w, path, v, f, dst);
        return;
    case CFG_UNSUPPORTED:
        cfg_err(w, path, "%s is not supported yet", f->name);
        return;
    }
}

/* The value of an absent key. */
static void set_default(struct cfg_walk *w, const char *path,
                        const struct cfg_field *f, void *dst)
{
    void *slot = cfg_at(dst, f->offset);
    const struct cfg_enum *en;

    if (f->type == CFG_OBJ && slot != NULL) {
        cfg_walk_shape(w, path, NULL, f->sub, slot);
        return;
    }
    if (f->def == NULL || slot == NULL)
        return;
    switch (f->type) {
    case CFG_STR:
        cfg_set_str(w, path, slot, f->def);
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

void cfg_walk_shape(struct cfg_walk *w, const char *path, json_t *obj,
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
            cfg_child_path(sub, path, key);
            near = field_find(sh->fields, key, 1);
            if (near != NULL)
                cfg_err(w, sub, "unknown key (keys are case-sensitive: "
                        "did you mean %s?)", near->name);
            else
                cfg_err(w, sub, "unknown key");
        }
    }
    /* Defaults first, values second: several keys may fill one struct
     * (each destination shape fills cfg_stream.s3), and the defaults of an
     * absent one must not overwrite the values of a present one. */
    for (f = sh->fields; f->name != NULL; f++) {
        if (obj != NULL && json_object_get(obj, f->name) != NULL)
            continue;
        cfg_child_path(sub, path, f->name);
        if (obj != NULL && (f->flags & CFG_REQUIRED))
            cfg_err(w, sub, "missing required key (%s)", f->help);
        set_default(w, sub, f, (f->flags & CFG_NOSTORE) ? NULL : dst);
    }
    for (f = sh->fields; obj != NULL && f->name != NULL; f++) {
        if ((v = json_object_get(obj, f->name)) == NULL)
            continue;
        cfg_child_path(sub, path, f->name);
        walk_value(w, sub, v, f, (f->flags & CFG_NOSTORE) ? NULL : dst);
    }
    if (sh->finish != NULL)
        sh->finish(w, path, obj, dst);
}
