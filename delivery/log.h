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

/* Also hand every WARN and ERROR event to 'fn' (the dashboard's error list),
 * from the thread that logs it; 'fn' must be thread-safe, must not log and
 * must not keep the pointers. Set before threads start, cleared (NULL)
 * after they stopped. */
typedef void log_hook_fn(void *ctx, enum log_level lvl, const char *who,
                         const char *text);
void log_set_hook(log_hook_fn *fn, void *ctx);

#endif
