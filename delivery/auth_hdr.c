/* auth_hdr.c - see auth_hdr.h. */
#include "auth_hdr.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int is_sep(char c)
{
    return c == ' ' || c == '\t' || c == ',';
}

/* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...":
 * the algorithm, then key=value pairs separated by commas and/or spaces.
 * The first of a repeated parameter counts; unknown ones are ignored. */
void auth_hdr_authz(const char *h, struct authz *z)
{
    const char *p = h;

    memset(z, 0, sizeof(*z));
    while (*p == ' ' || *p == '\t')
        p++;
    z->alg = p;
    while (*p != '\0' && !is_sep(*p))
        p++;
    z->alg_len = (size_t)(p - z->alg);
    while (*p != '\0') {
        const char *key, *val;
        size_t klen, vlen;

        while (is_sep(*p))
            p++;
        key = p;
        while (*p != '\0' && *p != '=' && !is_sep(*p))
            p++;
        klen = (size_t)(p - key);
        if (*p != '=')
            continue;
        val = ++p;
        while (*p != '\0' && !is_sep(*p))
            p++;
        vlen = (size_t)(p - val);
        if (vlen == 0)
            continue;
        if (klen == 10 && memcmp(key, "Credential", 10) == 0 &&
            z->cred == NULL) {
            z->cred = val;
            z->cred_len = vlen;
        } else if (klen == 13 && memcmp(key, "SignedHeaders", 13) == 0 &&
                   z->signed_list == NULL) {
            z->signed_list = val;
            z->signed_len = vlen;
        } else if (klen == 9 && memcmp(key, "Signature", 9) == 0 &&
                   z->sig == NULL) {
            z->sig = val;
            z->sig_len = vlen;
        }
    }
}

static int digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int num(const char *s, size_t n)
{
    int v = 0;

    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* tm (UTC) to time_t, -1 when a field is out of range (Feb 30th). */
static int64_t utc_time(struct tm *tm)
{
    struct tm back;
    time_t t;

    if (tm->tm_year < 70 || tm->tm_year > 8000 || tm->tm_mon < 0 ||
        tm->tm_mon > 11 || tm->tm_mday < 1 || tm->tm_mday > 31 ||
        tm->tm_hour > 23 || tm->tm_min > 59 || tm->tm_sec > 60)
        return -1;
    back = *tm;
    t = timegm(&back);
    if (t == (time_t)-1 || back.tm_mday != tm->tm_mday ||
        back.tm_mon != tm->tm_mon)
        return -1;
    return (int64_t)t;
}

/* "YYYYMMDDTHHMMSSZ" to seconds, -1 when it is not that. */
int64_t auth_hdr_amz_date(const char *s)
{
    struct tm tm;

    if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z' || !digits(s, 8) ||
        !digits(s + 9, 6))
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = num(s, 4) - 1900;
    tm.tm_mon = num(s + 4, 2) - 1;
    tm.tm_mday = num(s + 6, 2);
    tm.tm_hour = num(s + 9, 2);
    tm.tm_min = num(s + 11, 2);
    tm.tm_sec = num(s + 13, 2);
    return utc_time(&tm);
}

/* RFC 1123, "Sun, 06 Nov 1994 08:49:37 GMT", to seconds, or -1. */
int64_t auth_hdr_http_date(const char *s)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const char *m;
    struct tm tm;

    /* Fixed layout: every field has its place. */
    if (strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' ||
        s[11] != ' ' || s[16] != ' ' || s[19] != ':' || s[22] != ':' ||
        strcmp(s + 25, " GMT") != 0 || !digits(s + 5, 2) ||
        !digits(s + 12, 4) || !digits(s + 17, 2) || !digits(s + 20, 2) ||
        !digits(s + 23, 2))
        return -1;
    m = strstr(months, (char[4]){ s[8], s[9], s[10], '\0' });
    if (m == NULL || (m - months) % 3 != 0)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_mday = num(s + 5, 2);
    tm.tm_mon = (int)((m - months) / 3);
    tm.tm_year = num(s + 12, 4) - 1900;
    tm.tm_hour = num(s + 17, 2);
    tm.tm_min = num(s + 20, 2);
    tm.tm_sec = num(s + 23, 2);
    return utc_time(&tm);
}

void auth_hdr_amz_format(int64_t t, char out[17])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL ||
        strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
        snprintf(out, 17, "%s", "00000000T000000Z");
}
