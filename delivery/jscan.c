#include "jscan.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Base64 alphabet: value | 0x40; 0 = not in the alphabet ('=' included:
 * padding is handled apart, in the last quad only). ANDing four entries
 * and testing 0x40 checks a whole quad with one branch. */
static const unsigned char b64dec[256] = {
    ['A'] = 0x40, ['B'] = 0x41, ['C'] = 0x42, ['D'] = 0x43, ['E'] = 0x44,
    ['F'] = 0x45, ['G'] = 0x46, ['H'] = 0x47, ['I'] = 0x48, ['J'] = 0x49,
    ['K'] = 0x4a, ['L'] = 0x4b, ['M'] = 0x4c, ['N'] = 0x4d, ['O'] = 0x4e,
    ['P'] = 0x4f, ['Q'] = 0x50, ['R'] = 0x51, ['S'] = 0x52, ['T'] = 0x53,
    ['U'] = 0x54, ['V'] = 0x55, ['W'] = 0x56, ['X'] = 0x57, ['Y'] = 0x58,
    ['Z'] = 0x59, ['a'] = 0x5a, ['b'] = 0x5b, ['c'] = 0x5c, ['d'] = 0x5d,
    ['e'] = 0x5e, ['f'] = 0x5f, ['g'] = 0x60, ['h'] = 0x61, ['i'] = 0x62,
    ['j'] = 0x63, ['k'] = 0x64, ['l'] = 0x65, ['m'] = 0x66, ['n'] = 0x67,
    ['o'] = 0x68, ['p'] = 0x69, ['q'] = 0x6a, ['r'] = 0x6b, ['s'] = 0x6c,
    ['t'] = 0x6d, ['u'] = 0x6e, ['v'] = 0x6f, ['w'] = 0x70, ['x'] = 0x71,
    ['y'] = 0x72, ['z'] = 0x73, ['0'] = 0x74, ['1'] = 0x75, ['2'] = 0x76,
    ['3'] = 0x77, ['4'] = 0x78, ['5'] = 0x79, ['6'] = 0x7a, ['7'] = 0x7b,
    ['8'] = 0x7c, ['9'] = 0x7d, ['+'] = 0x7e, ['/'] = 0x7f,
};

__attribute__((format(printf, 3, 0)))
static void vfail(struct jscan *s, enum jscan_error t, const char *fmt,
                  va_list ap)
{
    if (s->err == JSCAN_OK) {
        s->err = t;
        if (s->e != NULL) {
            s->e->code = ERR_INVAL;
            vsnprintf(s->e->msg, sizeof(s->e->msg), fmt, ap);
        }
    }
}

__attribute__((format(printf, 3, 4)))
static enum jscan_error fail(struct jscan *s, enum jscan_error t,
                             const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail(s, t, fmt, ap);
    va_end(ap);
    return t;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Nonzero when some byte of v equals c (may also flag a byte after a true
 * hit, which only ends a fast loop early). */
static inline uint64_t has_byte(uint64_t v, unsigned char c)
{
    uint64_t x = v ^ (ONES * c);

    return (x - ONES) & ~x & HIGHS;
}

/* Nonzero when some byte of v is below n (n <= 128); same caveat. */
static inline uint64_t has_below(uint64_t v, unsigned char n)
{
    return (v - ONES * n) & ~v & HIGHS;
}

static void ws(struct jscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
                             *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hexv(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Put the UTF-8 of code point cp at w; returns bytes written. */
static size_t utf8_put(char *w, unsigned cp)
{
    if (cp < 0x80) {
        w[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        w[0] = (char)(0xC0 | (cp >> 6));
        w[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        w[0] = (char)(0xE0 | (cp >> 12));
        w[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        w[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    w[0] = (char)(0xF0 | (cp >> 18));
    w[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    w[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    w[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parse a JSON string at s->p (which is at '"'), unescaping in place.
 * On success out and outlen give the decoded bytes (NUL-terminated in place,
 * over the closing quote or earlier). */
static int string(struct jscan *s, char **out, size_t *outlen)
{
    char *w, *start;

    s->p++;
    start = s->p;
    /* Until the first escape the text stays where it is: skip 8 bytes at a
     * time while none of them is '"', '\\' or a control character. */
    while (s->end - s->p >= 8) {
        uint64_t v;
        memcpy(&v, s->p, 8);
        if (has_byte(v, '"') | has_byte(v, '\\') | has_below(v, 0x20))
            break;
        s->p += 8;
    }
    w = s->p;
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            *outlen = (size_t)(w - start);
            *w = '\0';
            s->p++;
            *out = start;
            return 0;
        }
        if (c < 0x20) {
            fail(s, JSCAN_SERIALIZATION,
                 "Unexpected control character in JSON string%s", "");
            return -1;
        }
        if (c != '\\') {
            *w++ = (char)c;
            s->p++;
            continue;
        }
        if (s->end - s->p < 2)
            break;
        s->p++;
        switch (*s->p) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '/': *w++ = '/'; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'u': {
            unsigned cp = 0;
            if (s->end - s->p < 5)
                goto bad_escape;
            for (int i = 1; i <= 4; i++) {
                int v = hexv(s->p[i]);
                if (v < 0)
                    goto bad_escape;
                cp = cp << 4 | (unsigned)v;
            }
            s->p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo = 0;
                if (s->end - s->p < 7 || s->p[1] != '\\' || s->p[2] != 'u')
                    goto bad_escape;
                for (int i = 3; i <= 6; i++) {
                    int v = hexv(s->p[i]);
                    if (v < 0)
                        goto bad_escape;
                    lo = lo << 4 | (unsigned)v;
                }
                if (lo < 0xDC00 || lo > 0xDFFF)
                    goto bad_escape;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                s->p += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                goto bad_escape;
            }
            /* Escapes are >= 6 bytes of text and <= 4 of UTF-8, so the
             * writer stays behind the reader. */
            w += utf8_put(w, cp);
            break;
        }
        default:
            goto bad_escape;
        }
        s->p++;
    }
    fail(s, JSCAN_SERIALIZATION, "Unterminated JSON string%s", "");
    return -1;
bad_escape:
    fail(s, JSCAN_SERIALIZATION, "Invalid escape sequence in JSON string%s",
         "");
    return -1;
}

static int value_skip(struct jscan *s, int depth);

static int literal(struct jscan *s, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) {
        fail(s, JSCAN_SERIALIZATION, "Unexpected character in JSON%s", "");
        return -1;
    }
    s->p += n;
    return 0;
}

static int number(struct jscan *s)
{
    char *st = s->p;

    if (s->p < s->end && *s->p == '-')
        s->p++;
    if (s->p >= s->end || *s->p < '0' || *s->p > '9')
        goto bad;
    if (*s->p == '0')
        s->p++;
    else
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (s->p >= s->end || *s->p < '0' || *s->p > '9')
            goto bad;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (s->p >= s->end || *s->p < '0' || *s->p > '9')
            goto bad;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
    }
    return 0;
bad:
    (void)st;
    fail(s, JSCAN_SERIALIZATION, "Invalid number in JSON%s", "");
    return -1;
}

/* Syntax-check and skip any value (for members we do not use). */
static int value_skip(struct jscan *s, int depth)
{
    char *str;
    size_t n;

    if (depth > 64)
        return fail(s, JSCAN_SERIALIZATION, "JSON nested too deeply%s", ""),
               -1;
    ws(s);
    if (s->p >= s->end)
        return fail(s, JSCAN_SERIALIZATION, "Unexpected end of JSON%s", ""),
               -1;
    switch (*s->p) {
    case '"':
        return string(s, &str, &n);
    case '{':
        s->p++;
        ws(s);
        if (s->p < s->end && *s->p == '}') {
            s->p++;
            return 0;
        }
        for (;;) {
            ws(s);
            if (s->p >= s->end || *s->p != '"')
                break;
            if (string(s, &str, &n) != 0)
                return -1;
            ws(s);
            if (s->p >= s->end || *s->p != ':')
                break;
            s->p++;
            if (value_skip(s, depth + 1) != 0)
                return -1;
            ws(s);
            if (s->p < s->end && *s->p == ',') {
                s->p++;
                continue;
            }
            if (s->p < s->end && *s->p == '}') {
                s->p++;
                return 0;
            }
            break;
        }
        return fail(s, JSCAN_SERIALIZATION, "Malformed JSON object%s", ""),
               -1;
    case '[':
        s->p++;
        ws(s);
        if (s->p < s->end && *s->p == ']') {
            s->p++;
            return 0;
        }
        for (;;) {
            if (value_skip(s, depth + 1) != 0)
                return -1;
            ws(s);
            if (s->p < s->end && *s->p == ',') {
                s->p++;
                continue;
            }
            if (s->p < s->end && *s->p == ']') {
                s->p++;
                return 0;
            }
            return fail(s, JSCAN_SERIALIZATION, "Malformed JSON array%s",
                        ""), -1;
        }
    case 't':
        return literal(s, "true");
    case 'f':
        return literal(s, "false");
    case 'n':
        return literal(s, "null");
    default:
        return number(s);
    }
}

/* Decode base64 in place; strict: standard alphabet, '=' only as final
 * padding, length a multiple of 4. */
static int b64_decode(struct jscan *s, char *p, size_t n, size_t *outlen)
{
    const unsigned char *in = (const unsigned char *)p;
    unsigned char *w = (unsigned char *)p;
    size_t i, full;

    if (n % 4 != 0)
        goto bad;
    /* Every quad but the last has no padding. */
    full = n >= 4 ? n - 4 : 0;
    for (i = 0; i < full; i += 4) {
        unsigned a = b64dec[in[i]], b = b64dec[in[i + 1]];
        unsigned c = b64dec[in[i + 2]], d = b64dec[in[i + 3]];
        uint32_t v;
        if (!(a & b & c & d & 0x40))
            goto bad;
        v = (a & 0x3F) << 18 | (b & 0x3F) << 12 | (c & 0x3F) << 6 |
            (d & 0x3F);
        w[0] = (unsigned char)(v >> 16);
        w[1] = (unsigned char)(v >> 8);
        w[2] = (unsigned char)v;
        w += 3;
    }
    if (n >= 4) {
        unsigned a = b64dec[in[i]], b = b64dec[in[i + 1]];
        unsigned c = b64dec[in[i + 2]], d = b64dec[in[i + 3]];
        if (!(a & b & 0x40))
            goto bad;
        if (in[i + 2] == '=') {
            if (in[i + 3] != '=')
                goto bad;
            *w++ = (unsigned char)((a & 0x3F) << 2 | (b & 0x3F) >> 4);
        } else if (in[i + 3] == '=') {
            if (!(c & 0x40))
                goto bad;
            *w++ = (unsigned char)((a & 0x3F) << 2 | (b & 0x3F) >> 4);
            *w++ = (unsigned char)((b & 0x3F) << 4 | (c & 0x3F) >> 2);
        } else {
            if (!(c & d & 0x40))
                goto bad;
            *w++ = (unsigned char)((a & 0x3F) << 2 | (b & 0x3F) >> 4);
            *w++ = (unsigned char)((b & 0x3F) << 4 | (c & 0x3F) >> 2);
            *w++ = (unsigned char)((c & 0x3F) << 6 | (d & 0x3F));
        }
    }
    *outlen = (size_t)(w - (unsigned char *)p);
    return 0;
bad:
    fail(s, JSCAN_SERIALIZATION,
         "Invalid base64 in Data: the value must be standard base64 with "
         "'=' padding%s", "");
    return -1;
}

static int is_key(const char *k, size_t n, const char *want)
{
    return strlen(want) == n && memcmp(k, want, n) == 0;
}

/* The member path for messages: "record", or "records.<n>.member" (1-based,
 * as AWS writes it). Only formatted when there is an error to report. */
static const char *rec_path(char *b, size_t n, size_t idx)
{
    if (idx == 0)
        return "record";
    snprintf(b, n, "records.%zu.member", idx);
    return b;
}
#define PATH rec_path(pb, sizeof(pb), idx)

/* {"Data": "..."} with other members skipped; idx 0 = PutRecord's Record,
 * else the 1-based index in Records. */
static int record(struct jscan *s, struct jscan_put *out, size_t idx)
{
    char pb[48];
    char *k, *d = NULL;
    size_t kn, dn = 0, len;
    int have = 0;

    ws(s);
    if (s->p >= s->end || *s->p != '{')
        return fail(s, JSCAN_SERIALIZATION, "Expected a JSON object at '%s'",
                    PATH), -1;
    s->p++;
    ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
    } else {
        for (;;) {
            ws(s);
            if (s->p >= s->end || *s->p != '"')
                return fail(s, JSCAN_SERIALIZATION,
                            "Malformed JSON object at '%s'", PATH), -1;
            if (string(s, &k, &kn) != 0)
                return -1;
            ws(s);
            if (s->p >= s->end || *s->p != ':')
                return fail(s, JSCAN_SERIALIZATION,
                            "Malformed JSON object at '%s'", PATH), -1;
            s->p++;
            ws(s);
            if (is_key(k, kn, "Data")) {
                if (s->p < s->end && *s->p == '"') {
                    if (string(s, &d, &dn) != 0)
                        return -1;
                    have = 1;
                } else if (s->p < s->end && *s->p == 'n') {
                    if (literal(s, "null") != 0)
                        return -1;
                    have = 0;
                } else {
                    return fail(s, JSCAN_SERIALIZATION,
                                "Data at '%s' must be a base64 string", PATH),
                           -1;
                }
            } else if (value_skip(s, 1) != 0) {
                return -1;
            }
            ws(s);
            if (s->p < s->end && *s->p == ',') {
                s->p++;
                continue;
            }
            if (s->p < s->end && *s->p == '}') {
                s->p++;
                break;
            }
            return fail(s, JSCAN_SERIALIZATION,
                        "Malformed JSON object at '%s'", PATH), -1;
        }
    }
    if (!have)
        return fail(s, JSCAN_VALIDATION,
                    "1 validation error detected: Value null at '%s.data' "
                    "failed to satisfy constraint: Member must not be null",
                    PATH), -1;
    if (b64_decode(s, d, dn, &len) != 0)
        return -1;
    if (len > JSCAN_MAX_RECORD_BYTES)
        return fail(s, JSCAN_VALIDATION,
                    "1 validation error detected: Value at '%s.data' failed "
                    "to satisfy constraint: Member must have length less "
                    "than or equal to 1024000", PATH), -1;
    out->recs[out->n].iov_base = d;
    out->recs[out->n].iov_len = len;
    out->n++;
    out->bytes += len;
    return 0;
}

#undef PATH

static int records(struct jscan *s, struct jscan_put *out)
{
    ws(s);
    if (s->p >= s->end || *s->p != '[')
        return fail(s, JSCAN_SERIALIZATION,
                    "Records must be a JSON array%s", ""), -1;
    s->p++;
    ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return 0;
    }
    for (;;) {
        if (out->n == JSCAN_MAX_RECORDS)
            return fail(s, JSCAN_VALIDATION,
                        "1 validation error detected: Value at 'records' "
                        "failed to satisfy constraint: Member must have "
                        "length less than or equal to 500%s", ""), -1;
        if (record(s, out, out->n + 1) != 0)
            return -1;
        ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == ']') {
            s->p++;
            return 0;
        }
        return fail(s, JSCAN_SERIALIZATION, "Malformed Records array%s", ""),
               -1;
    }
}

static int stream_name_ok(const char *n, size_t len)
{
    if (len < 1 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

enum jscan_error jscan_parse_put(char *body, size_t len, int batch,
                                 struct jscan_put *out, struct err *e)
{
    struct jscan s = { body, body + len, e, JSCAN_OK };
    char *k, *name = NULL;
    size_t kn, name_len = 0;
    int have_recs = 0;

    out->stream = NULL;
    out->stream_len = 0;
    out->n = 0;
    out->bytes = 0;
    ws(&s);
    if (s.p >= s.end || *s.p != '{')
        return fail(&s, JSCAN_SERIALIZATION,
                    "The request body must be a JSON object%s", "");
    s.p++;
    ws(&s);
    if (s.p < s.end && *s.p == '}') {
        s.p++;
    } else {
        for (;;) {
            ws(&s);
            if (s.p >= s.end || *s.p != '"')
                return fail(&s, JSCAN_SERIALIZATION,
                            "Malformed JSON object%s", "");
            if (string(&s, &k, &kn) != 0)
                return s.err;
            ws(&s);
            if (s.p >= s.end || *s.p != ':')
                return fail(&s, JSCAN_SERIALIZATION,
                            "Malformed JSON object%s", "");
            s.p++;
            ws(&s);
            if (is_key(k, kn, "DeliveryStreamName")) {
                if (s.p >= s.end || *s.p != '"')
                    return fail(&s, JSCAN_SERIALIZATION,
                                "DeliveryStreamName must be a string%s", "");
                if (string(&s, &name, &name_len) != 0)
                    return s.err;
            } else if (batch && is_key(k, kn, "Records")) {
                if (have_recs)
                    return fail(&s, JSCAN_SERIALIZATION,
                                "Records given twice%s", "");
                if (records(&s, out) != 0)
                    return s.err;
                have_recs = 1;
            } else if (!batch && is_key(k, kn, "Record")) {
                if (have_recs)
                    return fail(&s, JSCAN_SERIALIZATION,
                                "Record given twice%s", "");
                if (record(&s, out, 0) != 0)
                    return s.err;
                have_recs = 1;
            } else if (value_skip(&s, 1) != 0) {
                return s.err;
            }
            ws(&s);
            if (s.p < s.end && *s.p == ',') {
                s.p++;
                continue;
            }
            if (s.p < s.end && *s.p == '}') {
                s.p++;
                break;
            }
            return fail(&s, JSCAN_SERIALIZATION, "Malformed JSON object%s",
                        "");
        }
    }
    ws(&s);
    if (s.p != s.end)
        return fail(&s, JSCAN_SERIALIZATION,
                    "Unexpected data after the JSON object%s", "");
    if (name == NULL)
        return fail(&s, JSCAN_VALIDATION,
                    "1 validation error detected: Value null at "
                    "'deliveryStreamName' failed to satisfy constraint: "
                    "Member must not be null%s", "");
    if (!stream_name_ok(name, name_len))
        return fail(&s, JSCAN_VALIDATION,
                    "1 validation error detected: Value '%s' at "
                    "'deliveryStreamName' failed to satisfy constraint: "
                    "Member must satisfy regular expression pattern: "
                    "[a-zA-Z0-9_.-]+ and have length between 1 and 64",
                    name_len > 100 ? "(too long to show)" : name);
    if (!have_recs)
        return fail(&s, JSCAN_VALIDATION,
                    batch ? "1 validation error detected: Value null at "
                            "'records' failed to satisfy constraint: Member "
                            "must not be null%s"
                          : "1 validation error detected: Value null at "
                            "'record' failed to satisfy constraint: Member "
                            "must not be null%s", "");
    if (batch && out->n == 0)
        return fail(&s, JSCAN_VALIDATION,
                    "1 validation error detected: Value '[]' at 'records' "
                    "failed to satisfy constraint: Member must have length "
                    "greater than or equal to 1%s", "");
    if (out->bytes > JSCAN_MAX_BATCH_BYTES)
        return fail(&s, JSCAN_INVALID_ARGUMENT,
                    "Records size exceeds 4 MB limit%s", "");
    out->stream = name;
    out->stream_len = name_len;
    return JSCAN_OK;
}

/* The cursor API (jscan.h): thin entry points over the helpers above, so
 * that other in-place parsers share one scanner. */

void jscan_init(struct jscan *s, char *buf, size_t len, struct err *e)
{
    s->p = buf;
    s->end = buf + len;
    s->e = e;
    s->err = JSCAN_OK;
}

int jscan_fail(struct jscan *s, const char *fmt, ...)
{
    char ctx[96];
    va_list ap;

    va_start(ap, fmt);
    if (s->err == JSCAN_OK || s->e == NULL) {
        vfail(s, JSCAN_SERIALIZATION, fmt, ap);
    } else {
        /* Callers up the grammar add where the first failure was. */
        char *m = s->e->msg;
        size_t n, keep, cap = sizeof(s->e->msg);

        vsnprintf(ctx, sizeof(ctx), fmt, ap);
        n = strlen(ctx);
        keep = strnlen(m, cap - 1);
        if (n + 2 + keep > cap - 1)
            keep = cap - 1 - n - 2;
        memmove(m + n + 2, m, keep);
        m[n + 2 + keep] = '\0';
        memcpy(m, ctx, n);
        m[n] = ':';
        m[n + 1] = ' ';
    }
    va_end(ap);
    return -1;
}

/* Past ',' or the opening bracket 'open' to the next element; 'close'
 * ends the container. 1: at an element, 0: ended, -1: malformed. */
static int next_item(struct jscan *s, int *first, char open, char close,
                     const char *what)
{
    ws(s);
    if (*first) {
        if (s->p >= s->end || *s->p != open)
            return jscan_fail(s, "Expected a JSON %s", what);
        s->p++;
        ws(s);
        *first = 0;
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return 0;
        }
        return 1;
    }
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 0;
    }
    if (s->p >= s->end || *s->p != ',')
        return jscan_fail(s, "Malformed JSON %s", what);
    s->p++;
    ws(s);
    return 1;
}

int jscan_member(struct jscan *s, int *first, char **key, size_t *klen)
{
    int rc = next_item(s, first, '{', '}', "object");

    if (rc != 1)
        return rc;
    if (s->p >= s->end || *s->p != '"')
        return jscan_fail(s, "Malformed JSON object");
    if (string(s, key, klen) != 0)
        return -1;
    ws(s);
    if (s->p >= s->end || *s->p != ':')
        return jscan_fail(s, "Malformed JSON object");
    s->p++;
    ws(s);
    return 1;
}

int jscan_element(struct jscan *s, int *first)
{
    return next_item(s, first, '[', ']', "array");
}

int jscan_peek(struct jscan *s)
{
    ws(s);
    return s->p < s->end ? (unsigned char)*s->p : -1;
}

int jscan_string(struct jscan *s, char **out, size_t *len)
{
    if (jscan_peek(s) != '"')
        return jscan_fail(s, "Expected a JSON string");
    return string(s, out, len);
}

int jscan_null(struct jscan *s)
{
    if (jscan_peek(s) != 'n')
        return 0;
    return literal(s, "null") == 0 ? 1 : -1;
}

int jscan_number(struct jscan *s, char **text, size_t *len)
{
    int c = jscan_peek(s);

    if (c != '-' && (c < '0' || c > '9'))
        return jscan_fail(s, "Expected a JSON number");
    *text = s->p;
    if (number(s) != 0)
        return -1;
    *len = (size_t)(s->p - *text);
    return 0;
}

int jscan_skip(struct jscan *s)
{
    return value_skip(s, 1);
}

int jscan_b64(struct jscan *s, char *p, size_t n, size_t *outlen)
{
    return b64_decode(s, p, n, outlen);
}

int jscan_end(struct jscan *s)
{
    ws(s);
    if (s->p != s->end)
        return jscan_fail(s, "Unexpected data after the JSON value");
    return 0;
}
