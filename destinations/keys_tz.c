/* keys_tz.c - see keys_tz.h. */
#include "keys_tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KEYS_ZONEINFO       "/usr/share/zoneinfo"
#define KEYS_ZONEFILE_MAX   (256 * 1024)

/* Time zones. setenv("TZ") + localtime_r would change process-wide state
 * that other threads read without our lock (libcurl calls getenv(), the
 * logger may call localtime_r), so we read the zone's TZif file (RFC 8536)
 * ourselves: once per object, not per record.                         */

/* ASCII only, as in keys.c: zone names and rules are ASCII. */
static int is_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* A POSIX TZ transition rule: Jn, n or Mm.w.d, plus a local time. */
struct tzrule {
    char kind;                  /* 'J', 'N' or 'M' */
    int a, b, c;                /* n, or m w d */
    long secs;                  /* local time of day, default 02:00 */
};

static const char *tz_num(const char *p, int *v, int lo, int hi)
{
    long n = 0;

    if (!is_digit(*p))
        return NULL;
    while (is_digit(*p) && n <= hi)
        n = n * 10 + (*p++ - '0');
    if (n < lo || n > hi)
        return NULL;
    *v = (int)n;
    return p;
}

/* [+-]hh[:mm[:ss]]; TZif v3 allows hours up to 167. */
static const char *tz_time(const char *p, long *secs)
{
    int sign = 1, h, m = 0, s = 0;

    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if ((p = tz_num(p, &h, 0, 167)) == NULL)
        return NULL;
    if (*p == ':' && (p = tz_num(p + 1, &m, 0, 59)) != NULL && *p == ':')
        p = tz_num(p + 1, &s, 0, 59);
    if (p == NULL)
        return NULL;
    *secs = sign * (h * 3600L + m * 60L + s);
    return p;
}

static const char *tz_name(const char *p)
{
    const char *q = p;

    if (*p == '<') {
        q = strchr(p, '>');
        return q != NULL && q > p + 1 ? q + 1 : NULL;
    }
    while (is_letter(*q))
        q++;
    return q - p >= 3 ? q : NULL;
}

static const char *tz_rule(const char *p, struct tzrule *r)
{
    r->secs = 7200;
    if (*p == 'M') {
        r->kind = 'M';
        if ((p = tz_num(p + 1, &r->a, 1, 12)) == NULL || *p != '.'
            || (p = tz_num(p + 1, &r->b, 1, 5)) == NULL || *p != '.'
            || (p = tz_num(p + 1, &r->c, 0, 6)) == NULL)
            return NULL;
    } else if (*p == 'J') {
        r->kind = 'J';
        p = tz_num(p + 1, &r->a, 1, 365);
    } else {
        r->kind = 'N';
        p = tz_num(p, &r->a, 0, 365);
    }
    if (p != NULL && *p == '/')
        p = tz_time(p + 1, &r->secs);
    return p;
}

/* Days since the epoch of the rule's day in 'year'. */
static int64_t tz_rule_day(const struct tzrule *r, int64_t year)
{
    int64_t jan1 = days_from_civil(year, 1, 1), first, mdays;
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    int wday, day;

    if (r->kind == 'J')
        return jan1 + r->a - 1 + (leap && r->a >= 60);
    if (r->kind == 'N')
        return jan1 + r->a;
    first = days_from_civil(year, r->a, 1);
    mdays = (r->a == 12 ? days_from_civil(year + 1, 1, 1)
                        : days_from_civil(year, r->a + 1, 1)) - first;
    wday = (int)(((first % 7) + 7 + 4) % 7);    /* 1970-01-01: Thursday */
    day = (r->c - wday + 7) % 7 + (r->b - 1) * 7;
    while (day >= mdays)
        day -= 7;
    return first + day;
}

/* UTC offset at 't' from a POSIX TZ string (a TZif footer). */
static int tz_posix_offset(const char *s, int64_t t, long *off)
{
    struct tzrule r0, r1;
    long v, std, dst;
    int64_t start, end;
    time_t local;
    struct tm tm;
    int in_dst;

    if ((s = tz_name(s)) == NULL || (s = tz_time(s, &v)) == NULL)
        return -1;
    std = -v;                   /* POSIX offsets count west of Greenwich */
    if (*s == '\0') {
        *off = std;
        return 0;
    }
    if ((s = tz_name(s)) == NULL)
        return -1;
    dst = std + 3600;
    if (*s != '\0' && *s != ',') {
        if ((s = tz_time(s, &v)) == NULL)
            return -1;
        dst = -v;
    }
    if (*s == '\0')
        s = ",M3.2.0,M11.1.0";  /* glibc's default for rule-less DST */
    if (*s != ',' || (s = tz_rule(s + 1, &r0)) == NULL || *s != ','
        || (s = tz_rule(s + 1, &r1)) == NULL || *s != '\0')
        return -1;
    local = (time_t)(t + std);
    if (gmtime_r(&local, &tm) == NULL)
        return -1;
    start = tz_rule_day(&r0, tm.tm_year + 1900LL) * 86400 + r0.secs - std;
    end = tz_rule_day(&r1, tm.tm_year + 1900LL) * 86400 + r1.secs - dst;
    if (start < end)
        in_dst = t >= start && t < end;
    else                        /* southern hemisphere: DST spans new year */
        in_dst = !(t >= end && t < start);
    *off = in_dst ? dst : std;
    return 0;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8
           | p[3];
}

static int64_t get_time(const unsigned char *p, size_t size)
{
    if (size == 4)
        return (int32_t)get32(p);
    return (int64_t)((uint64_t)get32(p) << 32 | get32(p + 4));
}

/* UTC offset at 't' from a TZif file image; -1 if it is malformed. */
static int tzif_offset(const unsigned char *b, size_t n, int64_t t, long *off)
{
    size_t pos = 0, tsize = 4, data, lo, hi;
    uint32_t isut, isstd, leap, timecnt, typecnt, charcnt, ti;
    const unsigned char *trans, *idx, *types;
    char footer[128];

    for (int pass = 0;; pass++) {
        if (n - pos < 44 || memcmp(b + pos, "TZif", 4) != 0)
            return -1;
        isut = get32(b + pos + 20);
        isstd = get32(b + pos + 24);
        leap = get32(b + pos + 28);
        timecnt = get32(b + pos + 32);
        typecnt = get32(b + pos + 36);
        charcnt = get32(b + pos + 40);
        data = (size_t)timecnt * (tsize + 1) + (size_t)typecnt * 6 + charcnt
               + (size_t)leap * (tsize + 4) + isstd + isut;
        if (data > n - pos - 44)
            return -1;
        /* Version 2+ repeats the data with 64-bit times after the v1 block;
         * only that second block is followed by the POSIX TZ footer. */
        if (pass == 1 || b[pos + 4] < '2')
            break;
        pos += 44 + data;
        tsize = 8;
    }
    if (typecnt == 0)
        return -1;
    trans = b + pos + 44;
    idx = trans + (size_t)timecnt * tsize;
    types = idx + timecnt;
    footer[0] = '\0';
    pos += 44 + data;
    if (tsize == 8 && pos < n && b[pos] == '\n') {
        const unsigned char *nl = memchr(b + pos + 1, '\n', n - pos - 1);
        size_t len = nl != NULL ? (size_t)(nl - (b + pos + 1)) : 0;

        if (nl == NULL || len >= sizeof(footer))
            return -1;
        memcpy(footer, b + pos + 1, len);
        footer[len] = '\0';
    }
    if (timecnt == 0 || t < get_time(trans, tsize)) {
        if (timecnt == 0 && footer[0] != '\0')
            return tz_posix_offset(footer, t, off);
        ti = 0;                 /* RFC 8536: type 0 before any transition */
    } else if (t >= get_time(trans + (timecnt - 1) * tsize, tsize)
               && footer[0] != '\0') {
        return tz_posix_offset(footer, t, off);
    } else {
        lo = 0;                 /* last transition at or before t */
        hi = timecnt - 1;
        while (lo < hi) {
            size_t mid = lo + (hi - lo + 1) / 2;
            if (get_time(trans + mid * tsize, tsize) <= t)
                lo = mid;
            else
                hi = mid - 1;
        }
        ti = idx[lo];
    }
    if (ti >= typecnt)
        return -1;
    *off = (int32_t)get32(types + (size_t)ti * 6);
    return 0;
}

static int zone_is_utc(const char *tz)
{
    return tz == NULL || *tz == '\0' || strcmp(tz, "UTC") == 0;
}

/* UTC offset in seconds of zone 'tz' at 't' (seconds since the epoch). */
int keys_tz_offset(const char *tz, int64_t t, long *off, struct err *e)
{
    char path[300];
    unsigned char *img = NULL;
    struct stat st;
    size_t n = 0;
    int fd, rc = -1, saved;

    *off = 0;
    if (zone_is_utc(tz))
        return 0;
    /* The name becomes a path: keep it inside the zoneinfo directory. */
    if (tz[0] == '/' || strstr(tz, "..") != NULL || strlen(tz) > 255
        || strspn(tz, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789/_+-") != strlen(tz))
        return err_set(e, ERR_INVAL, "CustomTimeZone '%.64s' is not a valid "
                       "IANA time zone name", tz);
    snprintf(path, sizeof(path), "%s/%s", KEYS_ZONEINFO, tz);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return err_set(e, ERR_INVAL, "CustomTimeZone '%s' is not a known "
                           "time zone (no %s)", tz, path);
        return err_sys(e, errno, "open '%s' failed", path);
    }
    if (fstat(fd, &st) != 0) {
        saved = errno;
        err_sys(e, saved, "fstat '%s' failed", path);
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > KEYS_ZONEFILE_MAX) {
        err_set(e, ERR_INVAL, "CustomTimeZone '%s': '%s' is not a time zone "
                "file", tz, path);
        goto out;
    }
    img = malloc((size_t)st.st_size + 1);
    if (img == NULL) {
        err_set(e, ERR_NOMEM, "out of memory reading '%s'", path);
        goto out;
    }
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, img + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err_sys(e, errno, "read '%s' failed", path);
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (tzif_offset(img, n, t, off) != 0) {
        err_set(e, ERR_INVAL, "CustomTimeZone '%s': '%s' is not a valid TZif "
                "file", tz, path);
        goto out;
    }
    rc = 0;
out:
    free(img);
    close(fd);
    return rc;
}
