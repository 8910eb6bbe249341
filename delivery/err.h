/* err.h - error values every module fills for its caller. A message is
 * written where the failure is understood and logged once, where handled. */
#ifndef FH_ERR_H
#define FH_ERR_H

enum err_code {
    ERR_OK = 0,
    ERR_INVAL,      /* bad input: config, request, record */
    ERR_IO,         /* a syscall failed; the message names it */
    ERR_NOMEM,
    ERR_FULL,       /* a bound was hit: backpressure (503), never growth */
    ERR_NOTFOUND,
    ERR_CORRUPT,    /* on-disk data failed its checksum */
    ERR_RETRY,      /* transient: try again later */
    ERR_AUTH
};

struct err {
    int  code;
    char msg[256];
};

/* Both return -1. err_sys() sets ERR_IO (ERR_FULL for ENOSPC/EDQUOT) and
 * appends ": strerror(errnum)". 'e' may be NULL. */
int err_set(struct err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int err_sys(struct err *e, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
