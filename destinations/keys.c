#include "keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../delivery/util.h"
#include "keys_tz.h"

#define KEYS_PREFIX_MAX     1024    /* configured Prefix, API limit */
#define KEYS_EVAL_MAX       512     /* evaluated prefix, runtime limit */
#define KEYS_SHOW           60      /* expression text quoted in messages */

/* Seeds that keep the different derived names independent of each other. */
#define SEED_RANDOM         0x72616e646f6d7331ULL
#define SEED_UUID_HI        0x7575696468693031ULL
#define SEED_UUID_LO        0x757569646c6f3032ULL

/* Output that never overflows: 'len' counts every byte offered, so the
 * caller learns the size it would have needed. p == NULL only counts,
 * which lets validation run the same code as evaluation. */
struct sink {
    char  *p;
    size_t cap;
    size_t len;
};

static void sink_put(struct sink *s, const char *str, size_t n)
{
    if (s->p != NULL && s->len + n < s->cap)
        memcpy(s->p + s->len, str, n);
    s->len += n;
}

static void sink_str(struct sink *s, const char *str)
{
    sink_put(s, str, strlen(str));
}

static void sink_num(struct sink *s, long v, int width)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%0*ld", width, v);

    sink_put(s, tmp, (size_t)n);
}

static int sink_ok(struct sink *s)
{
    if (s->len >= s->cap)
        return 0;
    s->p[s->len] = '\0';
    return 1;
}

static int is_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* ------------------------------------------------------------------ */
/* Timestamp patterns: the DateTimeFormatter subset of spec §4.3.       */

/* Java reserves every ASCII letter, so an unknown one is an error rather
 * than literal text; '[', ']' (optional sections), '#', '{' and '}' are
 * reserved too. 'tm' may be NULL when only validating. */
static int ts_format(const char *pat, size_t n, const struct tm *tm,
                     struct sink *s, const char *what, struct err *e)
{
    size_t i = 0;
    int shown = (int)(n > KEYS_SHOW ? KEYS_SHOW : n);

    if (n == 0)
        return err_set(e, ERR_INVAL,
                       "%s: '!{timestamp:}' needs a DateTimeFormatter pattern",
                       what);
    while (i < n) {
        char c = pat[i];
        size_t run = 1;
        long v = 0;
        int maxrun;

        if (c == '\'') {
            if (i + 1 < n && pat[i + 1] == '\'') {
                sink_put(s, "'", 1);
                i += 2;
                continue;
            }
            for (i++;; i++) {
                if (i >= n)
                    return err_set(e, ERR_INVAL,
                                   "%s: timestamp pattern '%.*s' has an "
                                   "unterminated quote", what, shown, pat);
                if (pat[i] == '\'') {
                    if (i + 1 < n && pat[i + 1] == '\'') {
                        sink_put(s, "'", 1);
                        i++;
                        continue;
                    }
                    i++;
                    break;
                }
                sink_put(s, pat + i, 1);
            }
            continue;
        }
        if (!is_letter(c)) {
            if (strchr("[]#{}", c) != NULL)
                return err_set(e, ERR_INVAL,
                               "%s: timestamp pattern '%.*s' uses reserved "
                               "character '%c'", what, shown, pat, c);
            sink_put(s, &c, 1);
            i++;
            continue;
        }
        while (i + run < n && pat[i + run] == c)
            run++;
        switch (c) {
        case 'y': maxrun = 4; break;
        case 'D': maxrun = 3; break;
        case 'M': case 'd': case 'H': case 'm': case 's': maxrun = 2; break;
        default:
            return err_set(e, ERR_INVAL,
                           "%s: timestamp pattern '%.*s' uses pattern letter "
                           "'%c', which is not supported (use yyyy yy MM M "
                           "dd d HH H mm ss DDD and 'quoted text')",
                           what, shown, pat, c);
        }
        if ((int)run > maxrun)
            return err_set(e, ERR_INVAL,
                           "%s: timestamp pattern '%.*s' has too many "
                           "pattern letters '%c' (at most %d)",
                           what, shown, pat, c, maxrun);
        if (tm != NULL) {
            switch (c) {
            case 'y': v = tm->tm_year + 1900L; break;
            case 'D': v = tm->tm_yday + 1; break;
            case 'M': v = tm->tm_mon + 1; break;
            case 'd': v = tm->tm_mday; break;
            case 'H': v = tm->tm_hour; break;
            case 'm': v = tm->tm_min; break;
            default:  v = tm->tm_sec; break;
            }
            /* "yy" is Java's reduced two-digit year; other counts are a
             * minimum width. */
            if (c == 'y' && run == 2)
                v = ((v % 100) + 100) % 100;
        }
        sink_num(s, v, (int)run);
        i += run;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Expression scanner shared by validation and evaluation.              */

enum piece_kind {
    PIECE_TEXT,
    PIECE_TIMESTAMP,
    PIECE_RANDOM,
    PIECE_ERROR_TYPE,
    PIECE_KEY_QUERY,
    PIECE_KEY_LAMBDA
};

struct piece {
    enum piece_kind kind;
    const char *s;              /* the literal text, or the whole "!{...}" */
    size_t n;
    const char *arg;            /* timestamp pattern or partition key name */
    size_t argn;
};

static int name_is(const char *p, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(p, lit, n) == 0;
}

static int bad_expr(struct err *e, const char *what, const struct piece *pc,
                    const char *why)
{
    int shown = (int)(pc->n > KEYS_SHOW ? KEYS_SHOW : pc->n);

    return err_set(e, ERR_INVAL, "%s: expression '%.*s'%s %s", what, shown,
                   pc->s, (size_t)shown < pc->n ? "..." : "", why);
}

/* 1 with the next piece of *pp, 0 at the end, -1 on a syntax error. Only
 * "!{" is special: a lone '!', '{' or '}' is literal text, like any other
 * character S3 allows in a key. */
static int piece_next(const char **pp, const char *base, const char *what,
                      struct piece *pc, struct err *e)
{
    const char *p = *pp, *close, *next, *colon, *ns;
    size_t nsn;

    if (*p == '\0')
        return 0;
    memset(pc, 0, sizeof(*pc));
    pc->s = p;
    if (p[0] != '!' || p[1] != '{') {
        next = strstr(p, "!{");
        pc->kind = PIECE_TEXT;
        pc->n = next != NULL ? (size_t)(next - p) : strlen(p);
        *pp = p + pc->n;
        return 1;
    }
    close = strchr(p + 2, '}');
    next = strstr(p + 2, "!{");
    if (close == NULL || (next != NULL && next < close))
        return err_set(e, ERR_INVAL,
                       "%s: '!{' at position %zu has no closing '}' "
                       "('!{' may only start an expression)",
                       what, (size_t)(p - base));
    pc->n = (size_t)(close + 1 - p);
    *pp = close + 1;
    ns = p + 2;
    colon = memchr(ns, ':', (size_t)(close - ns));
    if (colon == NULL)
        return bad_expr(e, what, pc, "is not of the form !{namespace:value}");
    nsn = (size_t)(colon - ns);
    pc->arg = colon + 1;
    pc->argn = (size_t)(close - pc->arg);
    if (name_is(ns, nsn, "timestamp")) {
        pc->kind = PIECE_TIMESTAMP;
    } else if (name_is(ns, nsn, "firehose")) {
        if (name_is(pc->arg, pc->argn, "random-string"))
            pc->kind = PIECE_RANDOM;
        else if (name_is(pc->arg, pc->argn, "error-output-type"))
            pc->kind = PIECE_ERROR_TYPE;
        else
            return bad_expr(e, what, pc, "is invalid: the firehose namespace "
                            "knows random-string and error-output-type");
    } else if (name_is(ns, nsn, "partitionKeyFromQuery")
               || name_is(ns, nsn, "partitionKeyFromLambda")
               || name_is(ns, nsn, "partitionKeyFromLua")) {
        /* partitionKeyFromLua is our alias: the Lua transform plays
         * Lambda's part. */
        pc->kind = name_is(ns, nsn, "partitionKeyFromQuery")
                   ? PIECE_KEY_QUERY : PIECE_KEY_LAMBDA;
        if (pc->argn == 0)
            return bad_expr(e, what, pc, "needs a partition key name");
        for (size_t i = 0; i < pc->argn; i++) {
            char c = pc->arg[i];
            if (!is_letter(c) && !is_digit(c) && c != '_' && c != '-')
                return bad_expr(e, what, pc, "has an invalid partition key "
                                "name (use letters, digits, '_' and '-')");
        }
    } else {
        return bad_expr(e, what, pc, "uses an unknown namespace (known: "
                        "timestamp, firehose, partitionKeyFromQuery, "
                        "partitionKeyFromLambda, partitionKeyFromLua)");
    }
    return 1;
}

/* ------------------------------------------------------------------ */
/* Validation                                                          */

struct scan {
    int exprs;
    int error_types;
    int partition_keys;
};

static int scan_prefix(const char *prefix, const char *what, int is_error,
                       int dynamic_partitioning, struct scan *sc,
                       struct err *e)
{
    const char *p = prefix;
    struct piece pc;
    struct sink count = { NULL, 0, 0 };
    size_t n = strlen(prefix);
    int rc;

    memset(sc, 0, sizeof(*sc));
    if (n > KEYS_PREFIX_MAX)
        return err_set(e, ERR_INVAL, "%s is %zu characters long, the maximum "
                       "is %d", what, n, KEYS_PREFIX_MAX);
    if (strstr(prefix, "//") != NULL)
        return err_set(e, ERR_INVAL, "%s must not contain \"//\" (it would "
                       "make an empty folder name)", what);
    while ((rc = piece_next(&p, prefix, what, &pc, e)) == 1) {
        if (pc.kind == PIECE_TEXT)
            continue;
        sc->exprs++;
        switch (pc.kind) {
        case PIECE_TIMESTAMP:
            if (ts_format(pc.arg, pc.argn, NULL, &count, what, e) != 0)
                return -1;
            break;
        case PIECE_ERROR_TYPE:
            if (!is_error)
                return bad_expr(e, what, &pc, "is only allowed in "
                                "ErrorOutputPrefix");
            sc->error_types++;
            break;
        case PIECE_KEY_QUERY:
        case PIECE_KEY_LAMBDA:
            if (is_error)
                return bad_expr(e, what, &pc, "is not allowed in "
                                "ErrorOutputPrefix (partition keys belong "
                                "in Prefix)");
            if (!dynamic_partitioning)
                return bad_expr(e, what, &pc, "needs dynamic partitioning "
                                "to be enabled");
            sc->partition_keys++;
            break;
        default:
            break;
        }
    }
    return rc;
}

int keys_validate(const char *prefix, const char *error_prefix,
                  int dynamic_partitioning, struct err *e)
{
    struct scan sp, se;

    if (prefix == NULL)
        prefix = "";
    if (error_prefix == NULL)
        error_prefix = "";
    if (scan_prefix(prefix, "Prefix", 0, dynamic_partitioning, &sp, e) != 0
        || scan_prefix(error_prefix, "ErrorOutputPrefix", 1, 0, &se, e) != 0)
        return -1;
    if (dynamic_partitioning) {
        if (sp.partition_keys == 0)
            return err_set(e, ERR_INVAL, "Prefix must contain at least one "
                           "!{partitionKeyFromQuery:key} or "
                           "!{partitionKeyFromLambda:key} expression when "
                           "dynamic partitioning is enabled");
        if (*error_prefix == '\0')
            return err_set(e, ERR_INVAL, "ErrorOutputPrefix is required when "
                           "dynamic partitioning is enabled");
    }
    if (sp.exprs > 0 && *error_prefix == '\0')
        return err_set(e, ERR_INVAL, "ErrorOutputPrefix can't be null when "
                       "Prefix contains expressions");
    if (se.exprs > 0 && se.error_types == 0)
        return err_set(e, ERR_INVAL, "ErrorOutputPrefix must contain "
                       "!{firehose:error-output-type} when it contains "
                       "expressions");
    return 0;
}

int keys_validate_time_zone(const char *time_zone, struct err *e)
{
    long off;

    return keys_tz_offset(time_zone, 0, &off, e);
}

/* ------------------------------------------------------------------ */
/* Evaluation                                                          */

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* 11 characters of [a-z0-9] for the occurrence 'occ' of
 * !{firehose:random-string}; 36^11 < 2^64, so one hash covers it. */
static void random_string(uint64_t batch_hash, unsigned occ, char out[11])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char in[4];
    uint64_t h;

    put_le(in, occ, 4);
    h = util_hash64(in, sizeof(in), batch_hash ^ SEED_RANDOM);
    for (int i = 0; i < 11; i++) {
        out[i] = alphabet[h % 36];
        h /= 36;
    }
}

/* A v4-shaped UUID (version nibble 4, RFC 4122 variant) from the hash. */
static void uuid_from_hash(uint64_t batch_hash, char out[37])
{
    unsigned char in[8], u[16];
    uint64_t hi, lo;

    put_le(in, batch_hash, 8);
    hi = util_hash64(in, sizeof(in), SEED_UUID_HI);
    lo = util_hash64(in, sizeof(in), SEED_UUID_LO);
    for (int i = 0; i < 8; i++) {
        u[i] = (unsigned char)(hi >> (56 - 8 * i));
        u[8 + i] = (unsigned char)(lo >> (56 - 8 * i));
    }
    util_uuid(u, out);
}

static void put_default_time(struct sink *s, const struct tm *tm)
{
    sink_num(s, tm->tm_year + 1900L, 4);
    sink_put(s, "/", 1);
    sink_num(s, tm->tm_mon + 1, 2);
    sink_put(s, "/", 1);
    sink_num(s, tm->tm_mday, 2);
    sink_put(s, "/", 1);
    sink_num(s, tm->tm_hour, 2);
    sink_put(s, "/", 1);
}

/* Evaluate one configured prefix into 's'. *has_ts tells whether it had a
 * timestamp expression; *occ numbers the random strings across the key. */
static int eval_prefix(const struct keys_ctx *k, const char *prefix,
                       const char *what, const struct tm *tm, struct sink *s,
                       int *has_ts, unsigned *occ, struct err *e)
{
    const char *p = prefix, *val;
    struct piece pc;
    char name[128], rnd[11];
    int rc, lambda;

    while ((rc = piece_next(&p, prefix, what, &pc, e)) == 1) {
        switch (pc.kind) {
        case PIECE_TEXT:
            sink_put(s, pc.s, pc.n);
            break;
        case PIECE_TIMESTAMP:
            if (ts_format(pc.arg, pc.argn, tm, s, what, e) != 0)
                return -1;
            *has_ts = 1;
            break;
        case PIECE_RANDOM:
            random_string(k->batch_hash, (*occ)++, rnd);
            sink_put(s, rnd, sizeof(rnd));
            break;
        case PIECE_ERROR_TYPE:
            if (k->error_type == NULL || *k->error_type == '\0')
                return bad_expr(e, what, &pc, "has no error type to evaluate "
                                "to (not an error output)");
            sink_str(s, k->error_type);
            break;
        case PIECE_KEY_QUERY:
        case PIECE_KEY_LAMBDA:
            lambda = pc.kind == PIECE_KEY_LAMBDA;
            if (pc.argn >= sizeof(name))
                return bad_expr(e, what, &pc, "has a partition key name that "
                                "is too long");
            memcpy(name, pc.arg, pc.argn);
            name[pc.argn] = '\0';
            val = k->partition_key != NULL
                  ? k->partition_key(k->partition_arg, lambda, name) : NULL;
            if (val == NULL)
                return err_set(e, ERR_INVAL, "%s: partition key '%s' "
                               "(partitionKeyFrom%s) is missing", what, name,
                               lambda ? "Lambda" : "Query");
            sink_str(s, val);
            break;
        }
    }
    return rc;
}

int keys_object_key(const struct keys_ctx *k, const char *error_fallback_prefix,
                    char *out, size_t outsz, struct err *e)
{
    char pfx[KEYS_PREFIX_MAX + 1], uuid[37];
    struct sink s = { pfx, sizeof(pfx), 0 };
    const char *prefix = k->prefix != NULL ? k->prefix : "";
    const char *what = k->is_error ? "ErrorOutputPrefix" : "Prefix";
    int64_t secs;
    int has_ts = 0, fallback, n;
    unsigned occ = 0;
    long off;
    time_t local;
    struct tm tm;

    /* Floor division: arrival before 1970 still names the right second. */
    secs = k->arrival_ms >= 0 ? k->arrival_ms / 1000
                              : -((-k->arrival_ms + 999) / 1000);
    if (keys_tz_offset(k->time_zone, secs, &off, e) != 0)
        return -1;
    local = (time_t)(secs + off);
    if (gmtime_r(&local, &tm) == NULL)
        return err_set(e, ERR_INVAL, "arrival time %lld ms is out of range",
                       (long long)k->arrival_ms);

    /* An empty ErrorOutputPrefix means "<Prefix><error-type>/yyyy/MM/dd/HH/"
     * (spec §4.3 rule 8); the Prefix is evaluated too, though a valid
     * config only allows a static one there. */
    fallback = k->is_error && *prefix == '\0';
    if (fallback) {
        prefix = error_fallback_prefix != NULL ? error_fallback_prefix : "";
        what = "Prefix";
    }
    if (eval_prefix(k, prefix, what, &tm, &s, &has_ts, &occ, e) != 0)
        return -1;
    if (s.len > KEYS_EVAL_MAX)
        return err_set(e, ERR_INVAL, "evaluated %s is %zu characters long, "
                       "the maximum is %d", what, s.len, KEYS_EVAL_MAX);
    if (fallback) {
        if (k->error_type == NULL || *k->error_type == '\0')
            return err_set(e, ERR_INVAL, "error output key needs an error "
                           "type");
        sink_str(&s, k->error_type);
        sink_put(&s, "/", 1);
        put_default_time(&s, &tm);
    } else if (!has_ts) {
        /* Rule 7 applies to ErrorOutputPrefix as to Prefix: without a
         * timestamp, failed objects would pile up in one folder forever. */
        put_default_time(&s, &tm);
    }
    if (!sink_ok(&s))
        return err_set(e, ERR_INVAL, "evaluated %s is too long", what);

    uuid_from_hash(k->batch_hash, uuid);
    n = snprintf(out, outsz, "%s%s-%s-%04d-%02d-%02d-%02d-%02d-%02d-%s%s",
                 pfx, k->stream != NULL ? k->stream : "",
                 k->version != NULL ? k->version : "1",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, uuid, k->ext != NULL ? k->ext : "");
    if (n < 0 || (size_t)n >= outsz)
        return err_set(e, ERR_INVAL, "object key needs %d bytes, the buffer "
                       "has %zu", n + 1, outsz);
    return 0;
}
