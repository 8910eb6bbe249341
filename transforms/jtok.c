#include "jtok.h"

#include <string.h>

const char *jtok_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

static unsigned hex4(const char *p)
{
    unsigned v = 0;

    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

/* End of the string at p ('"'), or NULL. Control characters are invalid
 * inside strings; bytes >= 0x80 are taken as they are. */
static const char *str_end(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            if (++p >= end)
                return NULL;
            switch (*p) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n':
            case 'r': case 't':
                break;
            case 'u':
                if (end - p < 5 || !is_hex(p[1]) || !is_hex(p[2]) ||
                    !is_hex(p[3]) || !is_hex(p[4]))
                    return NULL;
                /* A high surrogate must be followed by a low one (jq 1.6
                 * refuses the record otherwise). */
                if (hex4(p + 1) >= 0xD800 && hex4(p + 1) < 0xDC00) {
                    unsigned lo;
                    if (end - p < 11 || p[5] != '\\' || p[6] != 'u' ||
                        !is_hex(p[7]) || !is_hex(p[8]) || !is_hex(p[9]) ||
                        !is_hex(p[10]))
                        return NULL;
                    lo = hex4(p + 7);
                    if (lo < 0xDC00 || lo >= 0xE000)
                        return NULL;
                    p += 6;
                }
                p += 4;
                break;
            default:
                return NULL;
            }
        }
    }
    return NULL;
}

static const char *num_end(const char *p, const char *end)
{
    if (p < end && *p == '-')
        p++;
    if (p >= end)
        return NULL;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return NULL;
    }
    if (p < end && *p == '.') {
        if (++p >= end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    return p;
}

static const char *lit_end(const char *p, const char *end, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t)(end - p) < n || memcmp(p, lit, n) != 0)
        return NULL;
    return p + n;
}

static const char *value(const char *p, const char *end, int depth)
{
    if (p >= end)
        return NULL;
    switch (*p) {
    case '"':
        return str_end(p, end);
    case 't':
        return lit_end(p, end, "true");
    case 'f':
        return lit_end(p, end, "false");
    case 'n':
        return lit_end(p, end, "null");
    case '{':
    case '[': {
        char close = *p == '{' ? '}' : ']';
        int first = 1;

        if (depth >= JTOK_MAX_DEPTH)
            return NULL;
        p = jtok_ws(p + 1, end);
        if (p < end && *p == close)
            return p + 1;
        for (;;) {
            if (!first) {
                p = jtok_ws(p, end);
                if (p < end && *p == close)
                    return p + 1;
                if (p >= end || *p != ',')
                    return NULL;
                p = jtok_ws(p + 1, end);
            }
            first = 0;
            if (close == '}') {
                if (p >= end || *p != '"' || (p = str_end(p, end)) == NULL)
                    return NULL;
                p = jtok_ws(p, end);
                if (p >= end || *p != ':')
                    return NULL;
                p = jtok_ws(p + 1, end);
            }
            if ((p = value(p, end, depth + 1)) == NULL)
                return NULL;
        }
    }
    default:
        return num_end(p, end);
    }
}

const char *jtok_value(const char *p, const char *end)
{
    return value(p, end, 0);
}

int jtok_member(const char **pp, const char *end, size_t *count,
                const char **key, size_t *key_len, const char **v,
                const char **vend)
{
    const char *p = *pp, *k;

    if (*count == 0) {
        if (p >= end || *p != '{')
            return -1;
        p = jtok_ws(p + 1, end);
        if (p < end && *p == '}') {
            *pp = p + 1;
            return 0;
        }
    } else {
        p = jtok_ws(p, end);
        if (p >= end)
            return -1;              /* the object never closed */
        if (*p == '}') {
            *pp = p + 1;
            return 0;
        }
        if (*p != ',')
            return -1;
        p = jtok_ws(p + 1, end);
    }
    if (p >= end || *p != '"' || (k = str_end(p, end)) == NULL)
        return -1;
    *key = p + 1;
    *key_len = (size_t)(k - p - 2);
    p = jtok_ws(k, end);
    if (p >= end || *p != ':')
        return -1;
    p = jtok_ws(p + 1, end);
    *v = p;
    if ((p = value(p, end, 1)) == NULL)
        return -1;
    *vend = p;
    *pp = p;
    (*count)++;
    return 1;
}

static int put_utf8(struct buf *out, unsigned cp, struct err *e)
{
    unsigned char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | cp >> 6);
        u[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | cp >> 12);
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xF0 | cp >> 18);
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return buf_append(out, u, n, e);
}

int jtok_unescape(const char *s, const char *send, struct buf *out,
                  struct err *e)
{
    const char *p, *run;

    if (send - s < 2 || *s != '"' || send[-1] != '"' ||
        str_end(s, send) != send)
        return err_set(e, ERR_INVAL, "not a JSON string");
    if (buf_reserve(out, (size_t)(send - s), e) != 0)
        return -1;
    for (p = run = s + 1; p < send - 1; p++) {
        unsigned cp;
        char c;

        if (*p != '\\')
            continue;
        if (buf_append(out, run, (size_t)(p - run), e) != 0)
            return -1;
        c = *++p;
        switch (c) {
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u':
            cp = hex4(p + 1);
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && send - 1 - p > 6 &&
                p[1] == '\\' && p[2] == 'u') {
                unsigned lo = hex4(p + 3);
                if (lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
            }
            if (cp >= 0xD800 && cp < 0xE000)
                cp = 0xFFFD;
            if (put_utf8(out, cp, e) != 0)
                return -1;
            run = p + 1;
            continue;
        default:
            break;          /* '"', '\\', '/' stand for themselves */
        }
        if (buf_append(out, &c, 1, e) != 0)
            return -1;
        run = p + 1;
    }
    return buf_append(out, run, (size_t)(p - run), e);
}
