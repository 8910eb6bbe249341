/* log.h - one line per event on stderr, human-readable or JSON lines.
 * Thread-safe; never allocates. Secrets must never be passed in. */
#ifndef FH_LOG_H
#define FH_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* json: 0 = "2026-12-04T10:00:00.123Z INFO [api] text", 1 = JSON lines. */
void log_init(int json, enum log_level min);
/* 'who' is the instance in brackets, e.g. "dest:s3.0" or "spool:default". */
void log_msg(enum log_level lvl, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
