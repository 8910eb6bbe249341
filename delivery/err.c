#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int err_set(struct err *e, int code, const char *fmt, ...)
{
    va_list ap;

    if (e == NULL)
        return -1;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return -1;
}

int err_sys(struct err *e, int errnum, const char *fmt, ...)
{
    va_list ap;
    size_t n;
    char buf[128];
    const char *s;

    if (e == NULL)
        return -1;
    e->code = (errnum == ENOSPC || errnum == EDQUOT) ? ERR_FULL : ERR_IO;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    /* GNU strerror_r may return a static string instead of filling buf. */
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    s = strerror_r(errnum, buf, sizeof(buf));
#else
    if (strerror_r(errnum, buf, sizeof(buf)) != 0)
        snprintf(buf, sizeof(buf), "errno %d", errnum);
    s = buf;
#endif
    n = strlen(e->msg);
    if (n < sizeof(e->msg))
        snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", s);
    return -1;
}
