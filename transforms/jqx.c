#include "jqx.h"

#include <jq.h>
#include <jv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jtok.h"

#define JQX_MAX_KEYS 32
#define JQX_MAX_SEGS 16

/* One output member of a path-only query: name and path, both pointing
 * into 'text'. */
struct jqx_path {
    const char *name;
    size_t name_len;
    const char *seg[JQX_MAX_SEGS];
    size_t seg_len[JQX_MAX_SEGS];
    int n_segs;
};

struct jqx {
    jq_state *jq;
    char *text;                     /* the query, for the fast path */
    struct jqx_path paths[JQX_MAX_KEYS];
    int n_paths;                    /* 0: not path-only */
    int force_jq;
    char cerr[256];                 /* first compile error */
    unsigned long fast, slow;
};

/* ---- the path-only form: {name: .a.b, "name": .c, name, ...} ---- */

static int ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int ident_char(char c)
{
    return ident_start(c) || (c >= '0' && c <= '9');
}

static const char *qws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static const char *ident(const char *p, const char **s, size_t *n)
{
    const char *b = p;

    if (!ident_start(*p))
        return NULL;
    while (ident_char(*p))
        p++;
    *s = b;
    *n = (size_t)(p - b);
    return p;
}

static int path_cmp(const void *a, const void *b)
{
    const struct jqx_path *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);

    return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

/* Parse the query as path-only; on anything else leave n_paths 0. jq has
 * already compiled it, so only the shape matters here. */
static void parse_paths(struct jqx *q)
{
    const char *p = qws(q->text);
    int n = 0;

    if (*p++ != '{')
        return;
    p = qws(p);
    if (*p == '}')
        return;
    for (;;) {
        struct jqx_path *pa;

        if (n == JQX_MAX_KEYS)
            return;
        pa = &q->paths[n];
        memset(pa, 0, sizeof(*pa));
        if (*p == '"') {
            const char *b = ++p;
            while (*p && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20
                   && (unsigned char)*p < 0x80)
                p++;
            if (*p != '"')
                return;
            pa->name = b;
            pa->name_len = (size_t)(p - b);
            p = qws(p + 1);
            if (*p != ':')
                return;
        } else if ((p = ident(p, &pa->name, &pa->name_len)) == NULL) {
            return;
        }
        p = qws(p);
        if (*p == ':') {
            p = qws(p + 1);
            do {
                if (*p != '.' || pa->n_segs == JQX_MAX_SEGS)
                    return;
                p = ident(p + 1, &pa->seg[pa->n_segs],
                          &pa->seg_len[pa->n_segs]);
                if (p == NULL)
                    return;
                pa->n_segs++;
            } while (*p == '.');
            p = qws(p);
        } else if (pa->name[-1] != '"') {
            /* {a} is {a: .a} */
            pa->seg[0] = pa->name;
            pa->seg_len[0] = pa->name_len;
            pa->n_segs = 1;
        } else {
            return;
        }
        if (pa->name_len == 0)
            return;
        for (int i = 0; i < n; i++)
            if (q->paths[i].name_len == pa->name_len &&
                memcmp(q->paths[i].name, pa->name, pa->name_len) == 0)
                return;             /* jq keeps the last; leave it to jq */
        n++;
        if (*p == '}') {
            if (*qws(p + 1) != '\0')
                return;
            break;
        }
        if (*p != ',')
            return;
        p = qws(p + 1);
    }
    qsort(q->paths, (size_t)n, sizeof(q->paths[0]), path_cmp);
    q->n_paths = n;
}

static void on_jq_error(void *arg, jv msg)
{
    struct jqx *q = arg;

    if (q->cerr[0] == '\0') {
        if (jv_get_kind(msg) == JV_KIND_STRING)
            snprintf(q->cerr, sizeof(q->cerr), "%s", jv_string_value(msg));
        else
            snprintf(q->cerr, sizeof(q->cerr), "invalid query");
    }
    jv_free(msg);
}

/* The query runs inside the service: it must not read the environment
 * (credentials) or files. env and $ENV are shadowed by empty objects, on
 * the query's own line so that jq's line numbers stay right; modules
 * (import, include, module) are refused, and with them no library path
 * is searched. */
#define JQX_PRELUDE "def env: {}; {} as $ENV | "

/* 1 when the query starts with a module directive (after blanks and
 * comments). */
static int uses_modules(const char *p)
{
    static const char *const kw[] = { "import", "include", "module" };

    for (;;) {
        p = qws(p);
        if (*p != '#')
            break;
        while (*p && *p != '\n')
            p++;
    }
    for (size_t i = 0; i < sizeof(kw) / sizeof(kw[0]); i++) {
        size_t n = strlen(kw[i]);
        if (strncmp(p, kw[i], n) == 0 && !ident_char(p[n]))
            return 1;
    }
    return 0;
}

struct jqx *jqx_new(const char *query, struct err *e)
{
    struct jqx *q;
    char *prog;
    int ok;

    if (uses_modules(query)) {
        err_set(e, ERR_INVAL, "jq modules (import, include, module) are not "
                "available");
        return NULL;
    }
    q = calloc(1, sizeof(*q));
    if (q == NULL || (q->text = strdup(query)) == NULL) {
        free(q);
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    if ((q->jq = jq_init()) == NULL) {
        jqx_free(q);
        err_set(e, ERR_NOMEM, "jq_init failed");
        return NULL;
    }
    jq_set_error_cb(q->jq, on_jq_error, q);
    jq_set_attr(q->jq, jv_string("JQ_LIBRARY_PATH"), jv_array());
    if ((prog = malloc(sizeof(JQX_PRELUDE) + strlen(query))) == NULL) {
        jqx_free(q);
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(prog, JQX_PRELUDE, sizeof(JQX_PRELUDE) - 1);
    memcpy(prog + sizeof(JQX_PRELUDE) - 1, query, strlen(query) + 1);
    ok = jq_compile(q->jq, prog);
    free(prog);
    if (!ok) {
        char *nl = strchr(q->cerr, '\n');
        if (nl != NULL)
            *nl = '\0';
        err_set(e, ERR_INVAL, "%s", q->cerr[0] ? q->cerr
                                               : "jq: does not compile");
        jqx_free(q);
        return NULL;
    }
    parse_paths(q);
    return q;
}

void jqx_free(struct jqx *q)
{
    if (q == NULL)
        return;
    if (q->jq != NULL)
        jq_teardown(&q->jq);
    free(q->text);
    free(q);
}

int jqx_is_path_only(const struct jqx *q)
{
    return q->n_paths > 0;
}

void jqx_set_force_jq(struct jqx *q, int on)
{
    q->force_jq = on;
}

void jqx_counts(const struct jqx *q, unsigned long *fast, unsigned long *slow)
{
    *fast = q->fast;
    *slow = q->slow;
}

/* ---- the fast walk ---- */

enum { WALK_OK, WALK_NULL, WALK_UNSURE };

/* Valid UTF-8 as jq 1.6 reads it (no overlongs, surrogates or code points
 * above U+10FFFF); jq would replace anything else, so that is unsure. */
static int utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = s[i], cp, len;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (unsigned k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp < 0xE000))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return 0;
        i += len;
    }
    return 1;
}

/* Follow one path from segment 'from' on, starting at the (valid) value
 * [v, vend). */
static int walk(const struct jqx_path *pa, int from, const char **v,
                const char **vend)
{
    for (int s = from; s < pa->n_segs; s++) {
        const char *p = *v, *k, *mv, *mend, *fv = NULL, *fend = NULL;
        size_t kn, count = 0;
        int r;

        if (**v == 'n')
            return WALK_NULL;       /* null | .x is null */
        if (**v != '{')
            return WALK_UNSURE;     /* jq's error message, from jq */
        while ((r = jtok_member(&p, *vend, &count, &k, &kn, &mv,
                                &mend)) == 1) {
            if (memchr(k, '\\', kn) != NULL)
                return WALK_UNSURE;
            /* The last of duplicate keys wins, as in jq. */
            if (kn == pa->seg_len[s] && memcmp(k, pa->seg[s], kn) == 0) {
                fv = mv;
                fend = mend;
            }
        }
        if (r < 0)
            return WALK_UNSURE;
        if (fv == NULL)
            return WALK_NULL;
        *v = fv;
        *vend = fend;
    }
    return **v == 'n' ? WALK_NULL : WALK_OK;
}

/* Integers jq prints digit for digit (a double holds them exactly and jq
 * uses no exponent below 1e17). */
static int plain_int(const char *v, size_t n)
{
    size_t i = v[0] == '-';

    if (n - i < 1 || n - i > 15 || (v[i] == '0' && (n - i > 1 || i)))
        return 0;
    for (; i < n; i++)
        if (v[i] < '0' || v[i] > '9')
            return 0;
    return 1;
}

/* 0 done, 1 unsure (ask jq), -1 out of memory. One pass over the
 * record's top-level object validates it and finds every path's first
 * member (the last of duplicates, as jq); deeper segments are walked from
 * there. */
static int fast_eval(struct jqx *q, const char *d, size_t len,
                     struct buf *keys, struct err *e)
{
    const char *end = d + len, *top = jtok_ws(d, end), *p = top;
    const char *fv[JQX_MAX_KEYS], *fend[JQX_MAX_KEYS], *k, *mv, *mend;
    size_t mark = keys->len, kn, count = 0;
    int r;

    if (top == end)
        return 1;
    if (*top != '{') {
        /* null | .x is null; anything else is jq's to judge. */
        if (end - top >= 4 && memcmp(top, "null", 4) == 0 &&
            jtok_ws(top + 4, end) == end)
            return 0;
        return 1;
    }
    for (int i = 0; i < q->n_paths; i++)
        fv[i] = NULL;
    while ((r = jtok_member(&p, end, &count, &k, &kn, &mv, &mend)) == 1) {
        if (memchr(k, '\\', kn) != NULL)
            return 1;
        for (int i = 0; i < q->n_paths; i++)
            if (kn == q->paths[i].seg_len[0] &&
                memcmp(k, q->paths[i].seg[0], kn) == 0) {
                fv[i] = mv;
                fend[i] = mend;
            }
    }
    if (r < 0 || jtok_ws(p, end) != end)
        return 1;
    for (int i = 0; i < q->n_paths; i++) {
        const struct jqx_path *pa = &q->paths[i];
        const char *v = fv[i], *vend = fend[i];

        if (v == NULL)
            continue;               /* missing: null, left out */
        r = walk(pa, 1, &v, &vend);
        if (r == WALK_NULL)
            continue;
        if (r == WALK_UNSURE)
            goto unsure;
        if (*v == '"') {
            size_t n = (size_t)(vend - v) - 2;
            if (memchr(v + 1, '\\', n) != NULL ||
                !utf8_ok((const unsigned char *)v + 1, n))
                goto unsure;
            v++;
            vend--;
        } else if (!plain_int(v, (size_t)(vend - v))) {
            goto unsure;
        }
        if (buf_append(keys, pa->name, pa->name_len, e) != 0 ||
            buf_append(keys, "", 1, e) != 0 ||
            buf_append(keys, v, (size_t)(vend - v), e) != 0 ||
            buf_append(keys, "", 1, e) != 0)
            return -1;
    }
    return 0;
unsure:
    keys->len = mark;
    return 1;
}

/* ---- libjq ---- */

static int fail(char *msg, size_t msgsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *msg, size_t msgsz, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, msgsz, fmt, ap);
    va_end(ap);
    return 1;
}

/* The message of an invalid jv (consumed). */
static void invalid_msg(jv r, char *msg, size_t msgsz, const char *what)
{
    jv m = jv_invalid_get_msg(r);

    if (jv_get_kind(m) == JV_KIND_STRING)
        snprintf(msg, msgsz, "%s%s", what, jv_string_value(m));
    else
        snprintf(msg, msgsz, "%s%s", what, "error");
    jv_free(m);
}

static int put_result(jv r, struct buf *keys, char *msg, size_t msgsz,
                      struct err *e)
{
    jv names;
    int rc = 0, n;

    if (jv_get_kind(r) != JV_KIND_OBJECT) {
        rc = fail(msg, msgsz, "the query gave %s, not an object",
                  jv_kind_name(jv_get_kind(r)));
        jv_free(r);
        return rc;
    }
    names = jv_keys(jv_copy(r));
    n = jv_array_length(jv_copy(names));
    for (int i = 0; i < n && rc == 0; i++) {
        jv k = jv_array_get(jv_copy(names), i);
        jv v = jv_object_get(jv_copy(r), jv_copy(k));
        const char *ks = jv_string_value(k);
        size_t kl = (size_t)jv_string_length_bytes(jv_copy(k));
        jv s = jv_null();

        if (kl == 0 || memchr(ks, '\0', kl) != NULL) {
            rc = fail(msg, msgsz, "partition key name \"%s\" is empty or "
                      "holds a NUL", ks);
        } else if (jv_get_kind(v) == JV_KIND_STRING) {
            s = jv_copy(v);
        } else if (jv_get_kind(v) == JV_KIND_NUMBER) {
            s = jv_dump_string(jv_copy(v), 0);
        } else if (jv_get_kind(v) != JV_KIND_NULL) {
            rc = fail(msg, msgsz, "partition key \"%s\" is %s, not a "
                      "string or number", ks, jv_kind_name(jv_get_kind(v)));
        }
        if (rc == 0 && jv_get_kind(s) == JV_KIND_STRING) {
            size_t sl = (size_t)jv_string_length_bytes(jv_copy(s));
            const char *sv = jv_string_value(s);
            if (memchr(sv, '\0', sl) != NULL)
                rc = fail(msg, msgsz, "partition key \"%s\" holds a NUL",
                          ks);
            else if (buf_append(keys, ks, kl + 1, e) != 0 ||
                     buf_append(keys, sv, sl, e) != 0 ||
                     buf_append(keys, "", 1, e) != 0)
                rc = -1;
        }
        jv_free(s);
        jv_free(v);
        jv_free(k);
    }
    jv_free(names);
    jv_free(r);
    return rc;
}

static int jq_eval(struct jqx *q, const unsigned char *data, size_t len,
                   struct buf *keys, char *msg, size_t msgsz, struct err *e)
{
    jv in, r, more;
    size_t mark = keys->len;
    const char *v, *end;
    int rc;

    if (len > (size_t)0x7fffffff)
        return fail(msg, msgsz, "record too large");
    /* Only strict JSON (RFC 8259) reaches libjq: its 1.6 parser leaks
     * memory on some malformed input ("{\"a\" \"b\"}"), which producers
     * must not be able to grow without bound. */
    end = (const char *)data + len;
    v = jtok_ws((const char *)data, end);
    if (v == end || (v = jtok_value(v, end)) == NULL || jtok_ws(v, end) != end)
        return fail(msg, msgsz, "not JSON: the record is not one valid JSON "
                    "value (RFC 8259)");
    in = jv_parse_sized((const char *)data, (int)len);
    if (!jv_is_valid(in)) {
        invalid_msg(in, msg, msgsz, "not JSON: ");
        return 1;
    }
    jq_start(q->jq, in, 0);
    r = jq_next(q->jq);
    if (!jv_is_valid(r)) {
        if (jv_invalid_has_msg(jv_copy(r))) {
            invalid_msg(r, msg, msgsz, "jq: ");
            return 1;
        }
        jv_free(r);
        return fail(msg, msgsz, "the query gave no result");
    }
    more = jq_next(q->jq);
    if (jv_is_valid(more) || jv_invalid_has_msg(jv_copy(more))) {
        jv_free(more);
        jv_free(r);
        return fail(msg, msgsz, "the query gave more than one result");
    }
    jv_free(more);
    rc = put_result(r, keys, msg, msgsz, e);
    if (rc != 0)
        keys->len = mark;
    return rc;
}

int jqx_eval(struct jqx *q, const unsigned char *data, size_t len,
             struct buf *keys, char *msg, size_t msgsz, struct err *e)
{
    msg[0] = '\0';
    if (q->n_paths > 0 && !q->force_jq) {
        int r = fast_eval(q, (const char *)data, len, keys, e);
        if (r <= 0) {
            q->fast++;
            return r;
        }
    }
    q->slow++;
    return jq_eval(q, data, len, keys, msg, msgsz, e);
}

const char *jqx_key(const char *keys, size_t len, int from_lambda,
                    const char *name)
{
    const char *p = keys, *end = keys + len;
    int lambda = 1;

    while (p < end) {
        const char *v, *next;

        if (*p == '\0') {          /* the start of the query's keys */
            lambda = 0;
            p++;
            continue;
        }
        if ((v = memchr(p, '\0', (size_t)(end - p))) == NULL ||
            ++v >= end || (next = memchr(v, '\0', (size_t)(end - v))) == NULL)
            return NULL;
        if (lambda == from_lambda && strcmp(p, name) == 0)
            return v;
        p = next + 1;
    }
    return NULL;
}
