#include "xform_lib.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

/* cjson's own default; deeper nesting recurses in C and could overflow a
 * worker thread's stack, so scripts may lower it but not raise it. */
#define LIB_MAX_DEPTH 1000

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t xform_lib_b64_encode(const unsigned char *p, size_t n, char *out)
{
    char *w = out;
    size_t i = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 |
                     p[i + 2];
        w[0] = b64_alphabet[v >> 18];
        w[1] = b64_alphabet[(v >> 12) & 63];
        w[2] = b64_alphabet[(v >> 6) & 63];
        w[3] = b64_alphabet[v & 63];
        w += 4;
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        w[0] = b64_alphabet[v >> 18];
        w[1] = b64_alphabet[(v >> 12) & 63];
        w[2] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        w[3] = '=';
        w += 4;
    }
    return (size_t)(w - out);
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

size_t xform_lib_b64_decode(const char *s, size_t n, unsigned char *out)
{
    unsigned char *w = out;

    if (n % 4 != 0)
        return (size_t)-1;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)s[i + k];
            if (c == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad > 0 || (v[k] = b64_value(c)) < 0)
                return (size_t)-1;
        }
        uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
                     (uint32_t)v[2] << 6 | (uint32_t)v[3];
        *w++ = (unsigned char)(x >> 16);
        if (pad < 2)
            *w++ = (unsigned char)(x >> 8);
        if (pad < 1)
            *w++ = (unsigned char)x;
    }
    return (size_t)(w - out);
}

static int lib_b64_encode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    luaL_Buffer b;

    if (n > ((size_t)-1 / 4) * 3 - 3)
        return luaL_error(L, "base64_encode: input too large");
    char *w = luaL_buffinitsize(L, &b, 4 * ((n + 2) / 3) + 1);
    luaL_pushresultsize(&b, xform_lib_b64_encode((const unsigned char *)s,
                                                 n, w));
    return 1;
}

static int lib_b64_decode(lua_State *L)
{
    size_t n, m;
    const char *s = luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    unsigned char *w = (unsigned char *)luaL_buffinitsize(L, &b,
                                                          3 * (n / 4) + 1);

    m = xform_lib_b64_decode(s, n, w);
    if (m == (size_t)-1) {
        lua_pushnil(L);
        lua_pushliteral(L, "invalid base64 (standard alphabet with "
                        "padding expected)");
        return 2;
    }
    luaL_pushresultsize(&b, m);
    return 1;
}

static int64_t lib_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int lib_now(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)lib_now_ms());
    return 1;
}

/* The UTC calendar time of 'ms' (or now), and its millisecond part. */
static void lib_utc(lua_State *L, int idx, struct tm *tm, int *milli)
{
    lua_Integer ms = luaL_opt(L, luaL_checkinteger, idx, lib_now_ms());
    time_t t;

    /* Floor division keeps instants before 1970 in the right second. */
    t = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
    *milli = (int)(ms - (lua_Integer)t * 1000);
    if (gmtime_r(&t, tm) == NULL)
        luaL_error(L, "time %I ms is out of range", ms);
}

static int lib_iso8601(lua_State *L)
{
    struct tm tm;
    int milli;
    char out[64];

    lib_utc(L, 1, &tm, &milli);
    size_t n = strftime(out, sizeof(out) - 5, "%Y-%m-%dT%H:%M:%S", &tm);
    lua_pushfstring(L, "%s.%c%c%cZ", n ? out : "", '0' + milli / 100,
                    '0' + milli / 10 % 10, '0' + milli % 10);
    return 1;
}

/* firehose.date(fmt, ms): strftime in UTC, for the conversions C99 and
 * POSIX define (others are refused rather than handed to strftime). */
static int lib_date(lua_State *L)
{
    static const char ok[] = "aAbBcCdDeFgGhHIjmMnprRStTuUVwWxXyYzZ%";
    const char *fmt = luaL_checkstring(L, 1);
    struct tm tm;
    int milli;
    char out[512];
    size_t n;

    for (const char *p = fmt; *p != '\0'; p++) {
        if (*p != '%')
            continue;
        p++;
        if (*p == '\0' || strchr(ok, *p) == NULL)
            return luaL_error(L, "date: invalid conversion '%%%c' in "
                              "format '%s'", *p ? *p : ' ', fmt);
    }
    lib_utc(L, 2, &tm, &milli);
    /* The format is the script's, checked conversion by conversion above. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    n = strftime(out, sizeof(out), fmt, &tm);
#pragma GCC diagnostic pop
    if (n == 0 && fmt[0] != '\0')
        return luaL_error(L, "date: result longer than %d bytes",
                          (int)sizeof(out) - 1);
    lua_pushlstring(L, out, n);
    return 1;
}

int xform_lib_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "base64_encode", lib_b64_encode },
        { "base64_decode", lib_b64_decode },
        { "now", lib_now },
        { "iso8601", lib_iso8601 },
        { "date", lib_date },
        { NULL, NULL },
    };

    luaL_newlib(L, fns);
    return 1;
}

/* ---- the cjson guard ---------------------------------------------------- */

struct bound {
    size_t acc, limit;
};

/* Adds an upper bound of the encoded size of the value at the top of the
 * stack to b->acc. Returns 1 when acc passed the limit, 0 otherwise (also
 * when nesting is too deep: cjson.encode then fails with its own error). */
static int bound_value(lua_State *L, struct bound *b, int depth)
{
    size_t n;
    lua_Integer maxkey = 0;

    switch (lua_type(L, -1)) {
    case LUA_TSTRING:
        (void)lua_tolstring(L, -1, &n);
        b->acc += 2 + 6 * n;            /* every byte may become \u00XX */
        break;
    case LUA_TTABLE:
        if (depth > LIB_MAX_DEPTH || !lua_checkstack(L, 3))
            return 0;
        b->acc += 2;
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            if (lua_type(L, -2) == LUA_TSTRING) {
                (void)lua_tolstring(L, -2, &n);
                b->acc += 4 + 6 * n;
            } else {
                b->acc += 34;
                if (lua_isinteger(L, -2) && lua_tointeger(L, -2) > maxkey)
                    maxkey = lua_tointeger(L, -2);
            }
            if (bound_value(L, b, depth + 1) || b->acc > b->limit) {
                lua_pop(L, 2);
                return 1;
            }
            lua_pop(L, 1);
        }
        /* A sparse array may be written with a "null," per missing index. */
        if ((size_t)maxkey > b->limit / 5)
            return 1;
        b->acc += 5 * (size_t)maxkey;
        break;
    default:
        b->acc += 32;
        break;
    }
    return b->acc > b->limit;
}

static int guard_encode(lua_State *L)
{
    struct bound b = { 0, (size_t)lua_tointeger(L, lua_upvalueindex(2)) };

    luaL_checkany(L, 1);
    lua_settop(L, 1);
    if (bound_value(L, &b, 0))
        return luaL_error(L, "not enough memory: cjson.encode output could "
                          "exceed the script's memory limit of %I bytes",
                          (lua_Integer)b.limit);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 1, 1);
    return 1;
}

static int guard_depth(lua_State *L)
{
    int n = lua_gettop(L);

    /* cjson takes numbers and numeric strings alike. */
    if (n >= 1 && lua_tonumber(L, 1) > LIB_MAX_DEPTH)
        return luaL_error(L, "cjson nesting depth is limited to %d in "
                          "transforms", LIB_MAX_DEPTH);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

static int guard_new(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_call(L, 0, 1);
    luaL_checktype(L, -1, LUA_TTABLE);
    xform_lib_guard_cjson(L, (size_t)lua_tointeger(L, lua_upvalueindex(2)));
    return 1;
}

static void guard_field(lua_State *L, const char *name, lua_CFunction fn,
                        size_t limit)
{
    lua_getfield(L, -1, name);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    lua_pushinteger(L, (lua_Integer)limit);
    lua_pushcclosure(L, fn, 2);
    lua_setfield(L, -2, name);
}

void xform_lib_guard_cjson(lua_State *L, size_t limit)
{
    if (limit > (size_t)LUA_MAXINTEGER)
        limit = (size_t)LUA_MAXINTEGER;
    guard_field(L, "encode", guard_encode, limit);
    guard_field(L, "encode_max_depth", guard_depth, limit);
    guard_field(L, "decode_max_depth", guard_depth, limit);
    guard_field(L, "new", guard_new, limit);
}
