#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_json;
static enum log_level log_min = LOG_INFO;
static log_hook_fn *log_hook;
static void *log_hook_ctx;

void log_init(int json, enum log_level min)
{
    log_json = json;
    log_min = min;
}

void log_set_hook(log_hook_fn *fn, void *ctx)
{
    log_hook = fn;
    log_hook_ctx = ctx;
}

static const char *level_name(enum log_level l)
{
    switch (l) {
    case LOG_DEBUG: return "DEBUG";
    case LOG_INFO:  return "INFO";
    case LOG_WARN:  return "WARN";
    default:        return "ERROR";
    }
}

/* Escape for a JSON string; truncates rather than allocating. */
static size_t json_escape(char *out, size_t cap, const char *s)
{
    size_t o = 0;

    for (; *s && o + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return o;
}

void log_msg(enum log_level lvl, const char *who, const char *fmt, ...)
{
    char text[1024], line[2560], ts[32], esc[2100], wesc[128];
    struct timespec now;
    struct tm tm;
    va_list ap;
    int n;

    if (lvl < log_min)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (lvl >= LOG_WARN && log_hook != NULL)
        log_hook(log_hook_ctx, lvl, who, text);
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    n = (int)strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - (size_t)n, ".%03ldZ", now.tv_nsec / 1000000);
    if (log_json) {
        json_escape(esc, sizeof(esc), text);
        json_escape(wesc, sizeof(wesc), who);
        n = snprintf(line, sizeof(line),
                     "{\"time\":\"%s\",\"level\":\"%s\",\"component\":\"%s\","
                     "\"message\":\"%s\"}\n", ts, level_name(lvl), wesc, esc);
    } else {
        n = snprintf(line, sizeof(line), "%s %-5s [%s] %s\n", ts,
                     level_name(lvl), who, text);
    }
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line))
        n = (int)sizeof(line) - 1;
    /* One write(2) per line keeps lines whole across threads. */
    if (write(STDERR_FILENO, line, (size_t)n) < 0)
        return;
}
