/* loadgen.c - load generator for the Firehose Direct PUT API
 * (PutRecordBatch over keep-alive HTTP/1.1).
 *
 * One or more threads, each with its own epoll set and its share of the
 * connections; every connection has at most one request in flight. Request
 * bytes (headers and body) are built once at start-up from a few distinct
 * bodies of realistic, compressible JSON log lines, so the send path only
 * writes from prebuilt buffers. Per-connection receive buffers grow during
 * warm-up to the largest response seen and are then reused: nothing is
 * allocated per request. Latency (first byte sent to full response parsed)
 * goes into a log-linear histogram with ~1.6% resolution.
 *
 * --zlib-baseline measures, with no network, how fast one thread gzips the
 * same record bytes: the ceiling of a single-threaded GZIP pipeline here. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define LG_MAX_CONNS        4096
#define LG_MAX_THREADS      16
#define LG_MAX_BODIES       8
#define LG_BODY_MEM_CAP     (256u << 20)    /* all distinct requests */
#define LG_IN_INIT          (64u << 10)
#define LG_IN_MAX           (64u << 20)     /* largest response accepted */
#define LG_GRACE_NS         (15 * NS_PER_S) /* wait for in-flight at end */
#define LG_RECONNECT_MIN_NS (50 * NS_PER_MS)
#define LG_RECONNECT_MAX_NS (1 * NS_PER_S)
#define LG_THROTTLE_MIN_NS  (20 * NS_PER_MS)  /* after 503 / FailedPutCount */
#define LG_THROTTLE_MAX_NS  (1 * NS_PER_S)
#define LG_MAX_RECORD       1024000u        /* Firehose's decoded limit */
#define LG_MAX_BATCH_BYTES  (4u << 20)

#define NS_PER_MS   1000000LL
#define NS_PER_S    1000000000LL

/* Log-linear histogram: 64 linear sub-buckets per power of two. */
#define HIST_SUB_BITS   6
#define HIST_SUB        (1 << HIST_SUB_BITS)
#define HIST_BUCKETS    ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
    uint64_t counts[HIST_BUCKETS];
    uint64_t n;
    uint64_t max;
};

struct opts {
    char host[256];
    char port[16];
    const char *stream;
    int conns;
    int threads;
    int batch;
    long size;
    double duration_s;          /* 0 = no limit (with --requests) */
    uint64_t requests;          /* 0 = no limit */
    double rate;                /* records/s, 0 = as fast as possible */
    int zlib_baseline;
    int zlib_level;             /* --level for --zlib-baseline, 1-9 */
    int json;
    int no_backoff;             /* resend at once after throttling */
};

/* One complete HTTP request, headers and body, ready to write. */
struct request {
    char *buf;
    size_t len;
};

struct payloads {
    struct request req[LG_MAX_BODIES];
    int nreq;
    unsigned char *raw;         /* every body's decoded records, in order */
    size_t raw_len;
};

struct stats {
    uint64_t requests;          /* completed with a parsed response */
    uint64_t records_ok;
    uint64_t records_failed;    /* FailedPutCount in 200 responses */
    uint64_t http_errors;       /* non-200 responses */
    uint64_t transport_errors;  /* resets, bad responses, timeouts */
    uint64_t connect_errors;
    uint64_t bad_200;           /* 200 without a FailedPutCount */
    uint64_t throttled;         /* responses that made a connection wait */
    uint64_t status[600];
};

enum conn_state {
    CONN_DOWN,                  /* waiting for reconnect_at */
    CONN_CONNECTING,
    CONN_IDLE,
    CONN_SENDING,
    CONN_READING
};

struct conn {
    int fd;
    enum conn_state state;
    const struct request *req;
    size_t sent;
    int64_t t_start;
    int64_t reconnect_at;
    int64_t backoff;
    int64_t ready_at;           /* idle, throttled: next request not before */
    int64_t throttle;           /* current throttle backoff, 0 = none */
    unsigned char *in;
    size_t in_len;
    size_t in_cap;
    size_t hdr_len;             /* 0 until the header block is complete */
    size_t body_end;            /* chunked: decoded body length */
    long long content_len;      /* -1 = unknown */
    int chunked;
    int status;
    int close_after;
};

struct shared {
    const struct opts *o;
    const struct payloads *pl;
    struct addrinfo *ai;
    int64_t start;
    int64_t deadline;           /* INT64_MAX without --duration */
    atomic_uint_fast64_t issued;
};

struct worker {
    pthread_t tid;
    int id;
    struct shared *sh;
    int ep;
    struct conn *conns;
    int nconns;
    int inflight;
    unsigned next_req;
    double rate;                /* records/s for this worker, 0 = max */
    int64_t next_send;          /* rate limiter: earliest next request */
    struct stats st;
    struct hist h;
    int64_t end;
    int failed;
};

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* ---- histogram -------------------------------------------------------- */

static int hist_index(uint64_t v)
{
    int e;

    if (v < 2 * HIST_SUB)
        return (int)v;
    e = 63 - __builtin_clzll(v);
    return (e - HIST_SUB_BITS + 1) * HIST_SUB +
           (int)((v >> (e - HIST_SUB_BITS)) - HIST_SUB);
}

/* Highest value that lands in bucket 'i'. */
static uint64_t hist_upper(int i)
{
    int g, e;
    uint64_t sub;

    if (i < 2 * HIST_SUB)
        return (uint64_t)i;
    g = i / HIST_SUB;
    sub = (uint64_t)(i % HIST_SUB);
    e = g + HIST_SUB_BITS - 1;
    return ((HIST_SUB + sub + 1) << (e - HIST_SUB_BITS)) - 1;
}

static void hist_add(struct hist *h, uint64_t v)
{
    h->counts[hist_index(v)]++;
    h->n++;
    if (v > h->max)
        h->max = v;
}

static void hist_merge(struct hist *dst, const struct hist *src)
{
    int i;

    for (i = 0; i < HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->n += src->n;
    if (src->max > dst->max)
        dst->max = src->max;
}

static uint64_t hist_pct(const struct hist *h, double p)
{
    uint64_t rank, seen = 0, v;
    int i;

    if (h->n == 0)
        return 0;
    rank = (uint64_t)(p / 100.0 * (double)h->n + 0.999999);
    if (rank < 1)
        rank = 1;
    for (i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            v = hist_upper(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

/* ---- payload generation ----------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static const char *const lg_levels[] = {
    "INFO", "INFO", "INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"
};
static const char *const lg_methods[] = {
    "GET", "GET", "GET", "POST", "PUT", "DELETE"
};
static const char *const lg_paths[] = {
    "/api/v1/items/", "/api/v1/users/", "/api/v1/orders/", "/static/img/",
    "/api/v2/search?q=", "/checkout/cart/", "/healthz", "/api/v1/sessions/"
};
static const char *const lg_agents[] = {
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) Safari/605.1.15",
    "curl/8.5.0", "okhttp/4.12.0", "aws-sdk-go/1.50.0", "python-requests/2.31"
};
static const char *const lg_words[] = {
    "request", "completed", "upstream", "cache", "miss", "hit", "user",
    "session", "token", "refreshed", "order", "item", "inventory", "checked",
    "latency", "retry", "timeout", "connection", "pool", "reused", "shard",
    "payment", "authorized", "queue", "depth", "ok"
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Append s to the line if it fits within 'room' more bytes. */
static int line_put(char *line, size_t *len, size_t room, const char *s,
                    size_t n)
{
    if (n > room - *len)
        return -1;
    memcpy(line + *len, s, n);
    *len += n;
    return 0;
}

/* Fill exactly n bytes with space-separated words. */
static void fill_words(unsigned char *out, size_t n, uint64_t *rng)
{
    size_t len = 0, wl;
    const char *w;

    while (len < n) {
        w = lg_words[rng_next(rng) % NELEM(lg_words)];
        wl = strlen(w);
        if (wl > n - len)
            wl = n - len;
        memcpy(out + len, w, wl);
        len += wl;
        if (len < n)
            out[len++] = ' ';
    }
}

/* Make one record of exactly 'size' bytes: a JSON log line ending in '\n'
 * (shorter than "{}\n": filler then '\n'). 'k' is the record's counter. */
static void make_record(unsigned char *out, size_t size, uint64_t k,
                        uint64_t *rng)
{
    char field[256];
    char line[512];
    size_t len = 0, room, i;
    time_t t;
    struct tm tm;
    uint64_t r = rng_next(rng);
    int n, step;

    if (size < 3) {
        for (i = 0; i < size; i++)
            out[i] = i + 1 == size ? '\n' : 'x';
        return;
    }
    room = size - 2;                /* keep space for "}\n" */
    if (room > sizeof(line))
        room = sizeof(line);
    line[len++] = '{';
    /* A producer logging ~1000 lines/s with jitter, from 2024-05-01. */
    t = (time_t)(1714521600 + k / 1000);
    gmtime_r(&t, &tm);
    for (step = 0; step < 11; step++) {
        n = 0;
        switch (step) {
        case 0:
            n = snprintf(field, sizeof(field),
                         "\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"",
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                         tm.tm_hour, tm.tm_min, tm.tm_sec,
                         (int)((k + r % 7) % 1000));
            break;
        case 1:
            n = snprintf(field, sizeof(field), ",\"seq\":%" PRIu64, k);
            break;
        case 2:
            n = snprintf(field, sizeof(field), ",\"level\":\"%s\"",
                         lg_levels[r % NELEM(lg_levels)]);
            break;
        case 3:
            n = snprintf(field, sizeof(field), ",\"host\":\"web-%02u\"",
                         (unsigned)((r >> 8) % 24));
            break;
        case 4:
            n = snprintf(field, sizeof(field), ",\"method\":\"%s\"",
                         lg_methods[(r >> 16) % NELEM(lg_methods)]);
            break;
        case 5:
            n = snprintf(field, sizeof(field), ",\"path\":\"%s%u\"",
                         lg_paths[(r >> 20) % NELEM(lg_paths)],
                         (unsigned)((r >> 24) % 20000));
            break;
        case 6:
            n = snprintf(field, sizeof(field), ",\"status\":%d",
                         (r >> 40) % 20 == 0 ? 500 :
                         (r >> 40) % 7 == 0 ? 404 : 200);
            break;
        case 7:
            n = snprintf(field, sizeof(field), ",\"ms\":%u.%u",
                         (unsigned)((r >> 44) % 250),
                         (unsigned)((r >> 52) % 10));
            break;
        case 8:
            n = snprintf(field, sizeof(field), ",\"bytes\":%u",
                         (unsigned)(rng_next(rng) % 65536));
            break;
        case 9:
            n = snprintf(field, sizeof(field), ",\"req\":\"%016" PRIx64 "\"",
                         rng_next(rng));
            break;
        case 10:
            n = snprintf(field, sizeof(field), ",\"ua\":\"%s\"",
                         lg_agents[(r >> 56) % NELEM(lg_agents)]);
            break;
        }
        if (n <= 0 || line_put(line, &len, room, field, (size_t)n) != 0)
            break;
    }
    memcpy(out, line, len);
    /* Fill the rest with ,"msg":"<words>" or, if that cannot fit, spaces. */
    room = size - 2;
    if (room - len >= 10) {
        memcpy(out + len, ",\"msg\":\"", 8);
        len += 8;
        fill_words(out + len, room - len - 1, rng);
        len = room - 1;
        out[len++] = '"';
    } else {
        memset(out + len, ' ', room - len);
        len = room;
    }
    out[len++] = '}';
    out[len++] = '\n';
}

static const char b64_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

static size_t b64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t i, o = 0;
    uint32_t v;

    for (i = 0; i + 3 <= n; i += 3) {
        v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64_alpha[v >> 18];
        out[o++] = b64_alpha[(v >> 12) & 63];
        out[o++] = b64_alpha[(v >> 6) & 63];
        out[o++] = b64_alpha[v & 63];
    }
    if (n - i == 1) {
        v = (uint32_t)in[i] << 16;
        out[o++] = b64_alpha[v >> 18];
        out[o++] = b64_alpha[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64_alpha[v >> 18];
        out[o++] = b64_alpha[(v >> 12) & 63];
        out[o++] = b64_alpha[(v >> 6) & 63];
        out[o++] = '=';
    }
    return o;
}

static void payloads_free(struct payloads *pl)
{
    int i;

    for (i = 0; i < pl->nreq; i++)
        free(pl->req[i].buf);
    free(pl->raw);
    memset(pl, 0, sizeof(*pl));
}

/* Build the distinct requests (and, for the baseline, their raw records). */
static int payloads_build(struct payloads *pl, const struct opts *o)
{
    static const char pre[] = "{\"DeliveryStreamName\":\"";
    static const char mid[] = "\",\"Records\":[";
    size_t rec_b64 = b64_len((size_t)o->size);
    size_t body_len, hdr_cap = 512, raw_per, off;
    uint64_t rng = 0x9E3779B97F4A7C15ULL, k = 0;
    int i, j, nb, n;
    char *p;

    memset(pl, 0, sizeof(*pl));
    body_len = strlen(pre) + strlen(o->stream) + strlen(mid) + 2 +
               (size_t)o->batch * (rec_b64 + 12) - 1;
    raw_per = (size_t)o->batch * (size_t)o->size;
    nb = LG_MAX_BODIES;
    while (nb > 1 && (size_t)nb * (body_len + hdr_cap + raw_per) >
           LG_BODY_MEM_CAP)
        nb--;
    pl->raw_len = (size_t)nb * raw_per;
    pl->raw = malloc(pl->raw_len ? pl->raw_len : 1);
    if (pl->raw == NULL)
        return -1;
    for (i = 0; i < nb; i++) {
        p = malloc(hdr_cap + body_len);
        if (p == NULL)
            return -1;
        pl->req[i].buf = p;
        pl->nreq = i + 1;
        n = snprintf(p, hdr_cap,
                     "POST / HTTP/1.1\r\n"
                     "Host: %s:%s\r\n"
                     "Content-Type: application/x-amz-json-1.1\r\n"
                     "X-Amz-Target: Firehose_20150804.PutRecordBatch\r\n"
                     "Content-Length: %zu\r\n"
                     "\r\n", o->host, o->port, body_len);
        if (n < 0 || (size_t)n >= hdr_cap)
            return -1;
        off = (size_t)n;
        memcpy(p + off, pre, strlen(pre));
        off += strlen(pre);
        memcpy(p + off, o->stream, strlen(o->stream));
        off += strlen(o->stream);
        memcpy(p + off, mid, strlen(mid));
        off += strlen(mid);
        for (j = 0; j < o->batch; j++) {
            unsigned char *rec = pl->raw + (size_t)i * raw_per +
                                 (size_t)j * (size_t)o->size;

            make_record(rec, (size_t)o->size, k++, &rng);
            if (j > 0)
                p[off++] = ',';
            memcpy(p + off, "{\"Data\":\"", 9);
            off += 9;
            off += b64_encode(rec, (size_t)o->size, p + off);
            p[off++] = '"';
            p[off++] = '}';
        }
        p[off++] = ']';
        p[off++] = '}';
        if (off - (size_t)n != body_len) {
            fprintf(stderr, "loadgen: body length mismatch (bug)\n");
            return -1;
        }
        pl->req[i].len = off;
    }
    return 0;
}

/* ---- connections -------------------------------------------------------- */

static void conn_reset_parse(struct conn *c)
{
    c->in_len = 0;
    c->hdr_len = 0;
    c->body_end = 0;
    c->content_len = -1;
    c->chunked = 0;
    c->status = 0;
    c->close_after = 0;
}

static int conn_watch(struct worker *w, struct conn *c, uint32_t events,
                      int op)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = c;
    if (epoll_ctl(w->ep, op, c->fd, &ev) != 0) {
        fprintf(stderr, "loadgen: epoll_ctl: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

static void conn_close(struct worker *w, struct conn *c, int64_t now,
                       int64_t delay)
{
    if (c->fd >= 0) {
        (void)epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    if (c->state == CONN_SENDING || c->state == CONN_READING)
        w->inflight--;
    c->state = CONN_DOWN;
    c->reconnect_at = now + delay;
    conn_reset_parse(c);
}

/* A transport failure: count it, reconnect after a growing backoff. */
static void conn_fail(struct worker *w, struct conn *c, int64_t now,
                      int connecting)
{
    if (connecting)
        w->st.connect_errors++;
    else if (c->state == CONN_SENDING || c->state == CONN_READING)
        w->st.transport_errors++;
    c->backoff = c->backoff ? c->backoff * 2 : LG_RECONNECT_MIN_NS;
    if (c->backoff > LG_RECONNECT_MAX_NS)
        c->backoff = LG_RECONNECT_MAX_NS;
    conn_close(w, c, now, connecting ? c->backoff : 0);
}

static void conn_connect(struct worker *w, struct conn *c, int64_t now)
{
    const struct addrinfo *ai = w->sh->ai;
    int one = 1, fl;

    c->fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (c->fd < 0)
        goto fail;
    fl = fcntl(c->fd, F_GETFL);
    if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) != 0)
        goto fail;
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        c->state = CONN_IDLE;
        c->backoff = 0;
        if (conn_watch(w, c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_ADD) != 0)
            goto fail;
        return;
    }
    if (errno != EINPROGRESS)
        goto fail;
    c->state = CONN_CONNECTING;
    if (conn_watch(w, c, EPOLLOUT, EPOLL_CTL_ADD) != 0)
        goto fail;
    return;
fail:
    c->state = CONN_DOWN;
    conn_fail(w, c, now, 1);
}

static void conn_sent(struct worker *w, struct conn *c, int64_t now);

/* Write what the socket takes. */
static void conn_write(struct worker *w, struct conn *c, int64_t now)
{
    ssize_t n;

    while (c->sent < c->req->len) {
        n = send(c->fd, c->req->buf + c->sent, c->req->len - c->sent,
                 MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (c->state != CONN_SENDING) {
                c->state = CONN_SENDING;
                if (conn_watch(w, c, EPOLLOUT, EPOLL_CTL_MOD) != 0)
                    conn_fail(w, c, now, 0);
            }
            return;
        }
        c->state = CONN_SENDING;
        conn_fail(w, c, now, 0);
        return;
    }
    conn_sent(w, c, now);
}

static void conn_sent(struct worker *w, struct conn *c, int64_t now)
{
    c->state = CONN_READING;
    if (conn_watch(w, c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD) != 0)
        conn_fail(w, c, now, 0);
}

static void conn_issue(struct worker *w, struct conn *c, int64_t now)
{
    const struct payloads *pl = w->sh->pl;

    c->req = &pl->req[w->next_req++ % (unsigned)pl->nreq];
    c->sent = 0;
    c->t_start = now;
    conn_reset_parse(c);
    w->inflight++;
    c->state = CONN_IDLE;       /* conn_write switches to SENDING/READING */
    conn_write(w, c, now);
}

static const unsigned char *find_mem(const unsigned char *h, size_t hn,
                                     const char *needle)
{
    size_t nn = strlen(needle), i;

    if (hn < nn)
        return NULL;
    for (i = 0; i + nn <= hn; i++)
        if (h[i] == (unsigned char)needle[0] && memcmp(h + i, needle, nn) == 0)
            return h + i;
    return NULL;
}

static int ci_prefix(const unsigned char *p, size_t n, const char *name)
{
    size_t i, nl = strlen(name);

    if (n < nl)
        return 0;
    for (i = 0; i < nl; i++) {
        unsigned char a = p[i], b = (unsigned char)name[i];

        if (a >= 'A' && a <= 'Z')
            a = (unsigned char)(a - 'A' + 'a');
        if (a != b)
            return 0;
    }
    return 1;
}

/* Parse the status line and the headers we care about. -1: malformed. */
static int parse_head(struct conn *c)
{
    const unsigned char *p = c->in, *end = c->in + c->hdr_len, *eol, *v;
    int minor;

    if (c->hdr_len < 12 || memcmp(p, "HTTP/1.", 7) != 0 ||
        p[8] != ' ' || p[9] < '1' || p[9] > '5')
        return -1;
    minor = p[7] - '0';
    c->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (c->status < 100 || c->status > 599)
        return -1;
    c->close_after = minor == 0;
    for (;;) {
        eol = find_mem(p, (size_t)(end - p), "\r\n");
        if (eol == NULL)
            break;
        p = eol + 2;
        if (p >= end)
            break;
        eol = find_mem(p, (size_t)(end - p), "\r\n");
        if (eol == NULL)
            eol = end;
        if (ci_prefix(p, (size_t)(eol - p), "content-length:")) {
            char num[32];
            size_t vl;

            v = p + 15;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            vl = (size_t)(eol - v);
            if (vl == 0 || vl >= sizeof(num))
                return -1;
            memcpy(num, v, vl);
            num[vl] = '\0';
            c->content_len = strtoll(num, NULL, 10);
            if (c->content_len < 0)
                return -1;
        } else if (ci_prefix(p, (size_t)(eol - p), "transfer-encoding:")) {
            if (find_mem(p, (size_t)(eol - p), "chunked") != NULL)
                c->chunked = 1;
        } else if (ci_prefix(p, (size_t)(eol - p), "connection:")) {
            v = p + 11;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            if (ci_prefix(v, (size_t)(eol - v), "close"))
                c->close_after = 1;
            else if (ci_prefix(v, (size_t)(eol - v), "keep-alive"))
                c->close_after = 0;
        }
        p = eol;
    }
    if (c->chunked)
        c->content_len = -1;
    return 0;
}

/* Decode a chunked body in place. 1: complete (body_end set), 0: need
 * more, -1: malformed. Redone from the start on each call: responses are
 * small and this path is rare. */
static int parse_chunked(struct conn *c)
{
    size_t rd = c->hdr_len, wr = c->hdr_len, size;
    const unsigned char *eol;
    char *endp;
    char num[20];
    size_t nl;

    /* Work on a copy of positions; decode only once complete. */
    for (;;) {
        eol = find_mem(c->in + rd, c->in_len - rd, "\r\n");
        if (eol == NULL)
            return 0;
        nl = (size_t)(eol - (c->in + rd));
        if (nl == 0 || nl >= sizeof(num))
            return -1;
        memcpy(num, c->in + rd, nl);
        num[nl] = '\0';
        size = (size_t)strtoull(num, &endp, 16);
        if (endp == num)
            return -1;
        rd += nl + 2;
        if (size == 0) {
            /* Trailers (rare) end with an empty line. */
            eol = find_mem(c->in + rd, c->in_len - rd, "\r\n");
            while (eol != NULL && eol != c->in + rd) {
                rd = (size_t)(eol - c->in) + 2;
                eol = find_mem(c->in + rd, c->in_len - rd, "\r\n");
            }
            if (eol == NULL)
                return 0;
            rd += 2;
            break;
        }
        if (c->in_len - rd < size + 2)
            return 0;
        rd += size + 2;
    }
    if (rd != c->in_len)
        return -1;              /* bytes after the response */
    /* Complete: compact the chunks. */
    rd = c->hdr_len;
    for (;;) {
        eol = find_mem(c->in + rd, c->in_len - rd, "\r\n");
        nl = (size_t)(eol - (c->in + rd));
        memcpy(num, c->in + rd, nl);
        num[nl] = '\0';
        size = (size_t)strtoull(num, NULL, 16);
        rd += nl + 2;
        if (size == 0)
            break;
        memmove(c->in + wr, c->in + rd, size);
        wr += size;
        rd += size + 2;
    }
    c->body_end = wr;
    return 1;
}

/* FailedPutCount from a 200 body; -1 when absent. */
static long failed_put_count(const unsigned char *b, size_t n)
{
    const unsigned char *p = find_mem(b, n, "\"FailedPutCount\"");
    const unsigned char *end = b + n;
    long v = 0;

    if (p == NULL)
        return -1;
    p += 16;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    if (p >= end || *p != ':')
        return -1;
    p++;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    if (p >= end || *p < '0' || *p > '9')
        return -1;
    while (p < end && *p >= '0' && *p <= '9')
        v = v * 10 + (*p++ - '0');
    return v;
}

static void conn_done(struct worker *w, struct conn *c, int64_t now,
                      size_t body_off, size_t body_len)
{
    const struct opts *o = w->sh->o;
    long failed = 0;

    w->st.requests++;
    w->st.status[c->status]++;
    if (c->status == 200) {
        failed = failed_put_count(c->in + body_off, body_len);
        if (failed < 0) {
            w->st.bad_200++;
            w->st.records_failed += (uint64_t)o->batch;
        } else {
            if (failed > o->batch)
                failed = o->batch;
            w->st.records_failed += (uint64_t)failed;
            w->st.records_ok += (uint64_t)(o->batch - failed);
        }
    } else {
        w->st.http_errors++;
    }
    hist_add(&w->h, (uint64_t)(now - c->t_start));
    w->inflight--;
    c->backoff = 0;
    /* Like an SDK: after throttling, this connection waits before its next
     * request (doubling, capped), so rejected requests do not spin. */
    if (!o->no_backoff && (c->status == 503 || failed > 0)) {
        c->throttle = c->throttle ? c->throttle * 2 : LG_THROTTLE_MIN_NS;
        if (c->throttle > LG_THROTTLE_MAX_NS)
            c->throttle = LG_THROTTLE_MAX_NS;
        c->ready_at = now + c->throttle;
        w->st.throttled++;
    } else {
        c->throttle = 0;
    }
    if (c->close_after) {
        c->state = CONN_IDLE;   /* not in flight any more */
        conn_close(w, c, now, 0);
        return;
    }
    conn_reset_parse(c);
    c->state = CONN_IDLE;
    if (conn_watch(w, c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD) != 0)
        conn_close(w, c, now, 0);
}

/* Check whether the buffered bytes make a complete response. */
static void conn_parse(struct worker *w, struct conn *c, int64_t now, int eof)
{
    const unsigned char *hend;
    int r;

    if (c->hdr_len == 0) {
        hend = find_mem(c->in, c->in_len, "\r\n\r\n");
        if (hend == NULL) {
            if (eof)
                conn_fail(w, c, now, 0);
            return;
        }
        c->hdr_len = (size_t)(hend - c->in) + 4;
        if (parse_head(c) != 0) {
            conn_fail(w, c, now, 0);
            return;
        }
        if (c->status < 200) {
            /* 1xx interim response: drop it and parse what follows. */
            memmove(c->in, c->in + c->hdr_len, c->in_len - c->hdr_len);
            c->in_len -= c->hdr_len;
            c->hdr_len = 0;
            c->content_len = -1;
            c->chunked = 0;
            conn_parse(w, c, now, eof);
            return;
        }
        if (c->status == 204 || c->status == 304)
            c->content_len = 0;
    }
    if (c->chunked) {
        r = parse_chunked(c);
        if (r < 0 || (r == 0 && eof)) {
            conn_fail(w, c, now, 0);
            return;
        }
        if (r == 1)
            conn_done(w, c, now, c->hdr_len, c->body_end - c->hdr_len);
        return;
    }
    if (c->content_len >= 0) {
        size_t need = c->hdr_len + (size_t)c->content_len;

        if (c->in_len > need) {
            conn_fail(w, c, now, 0);    /* bytes after the response */
            return;
        }
        if (c->in_len == need) {
            conn_done(w, c, now, c->hdr_len, (size_t)c->content_len);
            return;
        }
        if (eof)
            conn_fail(w, c, now, 0);
        return;
    }
    /* No length: the body runs to the end of the connection. */
    if (eof) {
        c->close_after = 1;
        conn_done(w, c, now, c->hdr_len, c->in_len - c->hdr_len);
    }
}

static void conn_read(struct worker *w, struct conn *c, int64_t now)
{
    ssize_t n;
    unsigned char *p;
    size_t cap;

    for (;;) {
        if (c->in_len == c->in_cap) {
            cap = c->in_cap * 2;
            if (cap > LG_IN_MAX || (p = realloc(c->in, cap)) == NULL) {
                conn_fail(w, c, now, 0);
                return;
            }
            c->in = p;
            c->in_cap = cap;
        }
        n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            if (c->in_len < c->in_cap) {
                conn_parse(w, c, now, 0);
                return;
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            conn_parse(w, c, now, 0);
            return;
        }
        /* EOF or a reset. */
        if (n == 0)
            conn_parse(w, c, now, 1);
        else
            conn_fail(w, c, now, 0);
        return;
    }
}

/* An idle keep-alive connection became readable: the server closed it. */
static void conn_idle_event(struct worker *w, struct conn *c, int64_t now)
{
    unsigned char b[64];
    ssize_t n = recv(c->fd, b, sizeof(b), 0);

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n > 0)
        w->st.transport_errors++;   /* unsolicited bytes */
    conn_close(w, c, now, 0);
}

static void conn_event(struct worker *w, struct conn *c, uint32_t ev,
                       int64_t now)
{
    int err = 0;
    socklen_t len = sizeof(err);

    switch (c->state) {
    case CONN_CONNECTING:
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
            err != 0) {
            conn_fail(w, c, now, 1);
            return;
        }
        c->state = CONN_IDLE;
        if (conn_watch(w, c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD) != 0)
            conn_close(w, c, now, LG_RECONNECT_MIN_NS);
        return;
    case CONN_SENDING:
        if (ev & (EPOLLERR | EPOLLHUP)) {
            conn_fail(w, c, now, 0);
            return;
        }
        conn_write(w, c, now);
        return;
    case CONN_READING:
        conn_read(w, c, now);
        return;
    case CONN_IDLE:
        conn_idle_event(w, c, now);
        return;
    case CONN_DOWN:
        return;
    }
}

/* ---- worker loop ------------------------------------------------------ */

/* May this worker start one more request now? */
static int may_issue(struct worker *w, int64_t now)
{
    const struct opts *o = w->sh->o;
    uint64_t prev;

    if (now >= w->sh->deadline)
        return 0;
    if (w->rate > 0 && now < w->next_send)
        return 0;
    if (o->requests > 0) {
        prev = atomic_fetch_add(&w->sh->issued, 1);
        if (prev >= o->requests)
            return 0;
    }
    if (w->rate > 0) {
        int64_t step = (int64_t)((double)o->batch / w->rate * 1e9);

        /* At most a few requests of burst after a stall. */
        if (w->next_send < now - 4 * step)
            w->next_send = now - 4 * step;
        w->next_send += step;
    }
    return 1;
}

static int budget_left(const struct worker *w)
{
    const struct opts *o = w->sh->o;

    return o->requests == 0 ||
           atomic_load(&w->sh->issued) < o->requests;
}

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[128];
    int64_t now, wake, deadline = w->sh->deadline;
    int64_t give_up = deadline > INT64_MAX - LG_GRACE_NS ? INT64_MAX :
                      deadline + LG_GRACE_NS;
    int i, n, timeout;

    now = mono_ns();
    w->next_send = now;
    for (i = 0; i < w->nconns; i++)
        conn_connect(w, &w->conns[i], now);
    for (;;) {
        now = mono_ns();
        wake = INT64_MAX;
        for (i = 0; i < w->nconns; i++) {
            struct conn *c = &w->conns[i];

            if (c->state == CONN_DOWN && now < deadline && budget_left(w)) {
                if (now >= c->reconnect_at)
                    conn_connect(w, c, now);
                else if (c->reconnect_at < wake)
                    wake = c->reconnect_at;
            }
            if (c->state == CONN_IDLE && now < c->ready_at) {
                if (c->ready_at < wake)
                    wake = c->ready_at;
            } else if (c->state == CONN_IDLE && may_issue(w, now)) {
                conn_issue(w, c, now);
            }
        }
        if (w->inflight == 0 && (now >= deadline || !budget_left(w)))
            break;
        if (now >= give_up) {
            w->st.transport_errors += (uint64_t)w->inflight;
            break;
        }
        if (w->rate > 0 && w->next_send < wake)
            wake = w->next_send;
        if (deadline < wake && now < deadline)
            wake = deadline;
        if (give_up < wake)
            wake = give_up;
        timeout = wake <= now ? 0 :
                  (int)((wake - now + NS_PER_MS - 1) / NS_PER_MS);
        if (timeout > 1000)
            timeout = 1000;
        n = epoll_wait(w->ep, evs, (int)NELEM(evs), timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "loadgen: epoll_wait: %s\n", strerror(errno));
            w->failed = 1;
            break;
        }
        now = mono_ns();
        for (i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;

            conn_event(w, c, evs[i].events, now);
            /* Keep a freed connection busy without another loop turn. */
            if (c->state == CONN_IDLE && now >= c->ready_at &&
                may_issue(w, now))
                conn_issue(w, c, now);
        }
    }
    w->end = mono_ns();
    for (i = 0; i < w->nconns; i++) {
        if (w->conns[i].fd >= 0)
            close(w->conns[i].fd);
        w->conns[i].fd = -1;
    }
    return NULL;
}

/* ---- baseline ----------------------------------------------------------- */

struct baseline {
    double zlib_mbs;
    double zlib_ratio;          /* input bytes / output bytes */
    double memcpy_mbs;
    double crc32_mbs;
};

/* gzip (default level) 'raw' repeatedly, one ~5 MB object per stream like a
 * Firehose buffer, for about 'secs' seconds. */
static int baseline_zlib(const unsigned char *raw, size_t n, double secs,
                         int level, struct baseline *b)
{
    const size_t object = 5u << 20;
    unsigned char *out;
    size_t out_cap = 1u << 20;
    uint64_t in_total = 0, out_total = 0;
    int64_t t0, stop;
    z_stream zs;
    int rc;

    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    out = malloc(out_cap);
    if (out == NULL) {
        deflateEnd(&zs);
        return -1;
    }
    t0 = mono_ns();
    stop = t0 + (int64_t)(secs * 1e9);
    do {
        size_t fed = 0, pos = 0;

        (void)deflateReset(&zs);
        while (fed < object) {
            size_t chunk = n - pos;
            int flush;

            if (chunk > object - fed)
                chunk = object - fed;
            flush = fed + chunk >= object ? Z_FINISH : Z_NO_FLUSH;
            zs.next_in = raw + pos;
            zs.avail_in = (uInt)chunk;
            do {
                zs.next_out = out;
                zs.avail_out = (uInt)out_cap;
                rc = deflate(&zs, flush);
                if (rc == Z_STREAM_ERROR) {
                    free(out);
                    deflateEnd(&zs);
                    return -1;
                }
                out_total += out_cap - zs.avail_out;
            } while (zs.avail_out == 0 || (flush == Z_FINISH &&
                                           rc != Z_STREAM_END));
            fed += chunk;
            pos = (pos + chunk) % n;
        }
        in_total += fed;
    } while (mono_ns() < stop);
    b->zlib_mbs = (double)in_total / 1e6 /
                  ((double)(mono_ns() - t0) / 1e9);
    b->zlib_ratio = out_total ? (double)in_total / (double)out_total : 0;
    free(out);
    deflateEnd(&zs);
    return 0;
}

static int baseline_run(const struct payloads *pl, int level,
                        struct baseline *b)
{
    unsigned char *dst;
    uint64_t total = 0;
    uLong crc = crc32(0L, Z_NULL, 0);
    int64_t t0;
    volatile unsigned char sink;

    memset(b, 0, sizeof(*b));
    if (pl->raw_len == 0)
        return -1;
    if (baseline_zlib(pl->raw, pl->raw_len, 2.0, level, b) != 0)
        return -1;
    dst = malloc(pl->raw_len);
    if (dst == NULL)
        return -1;
    t0 = mono_ns();
    do {
        memcpy(dst, pl->raw, pl->raw_len);
        total += pl->raw_len;
    } while (mono_ns() - t0 < NS_PER_S / 4);
    sink = dst[pl->raw_len / 2];
    (void)sink;
    b->memcpy_mbs = (double)total / 1e6 / ((double)(mono_ns() - t0) / 1e9);
    total = 0;
    t0 = mono_ns();
    do {
        crc = crc32(crc, pl->raw, (uInt)pl->raw_len);
        total += pl->raw_len;
    } while (mono_ns() - t0 < NS_PER_S / 4);
    sink = (unsigned char)crc;
    b->crc32_mbs = (double)total / 1e6 / ((double)(mono_ns() - t0) / 1e9);
    free(dst);
    return 0;
}

/* ---- options and output ----------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: loadgen --url http://HOST:PORT/ --stream NAME [options]\n"
        "       loadgen --zlib-baseline [--batch B] [--size S]\n"
        "  --connections N   keep-alive connections (default 16)\n"
        "  --threads T       event-loop threads (default 1)\n"
        "  --batch B         records per PutRecordBatch (default 500)\n"
        "  --size S          decoded bytes per record (default 150)\n"
        "  --duration SEC    run time (default 10 unless --requests)\n"
        "  --requests N      stop after N requests\n"
        "  --rate R          target records/s (default 0 = max)\n"
        "  --no-backoff      after 503 / FailedPutCount > 0 resend at once\n"
        "                    (default: that connection waits 20 ms, doubling\n"
        "                    to 1 s, like an SDK)\n"
        "  --zlib-baseline   single-thread gzip/memcpy/crc32 MB/s, no load\n"
        "  --level L         zlib level for --zlib-baseline, 1-9 (default 6)\n"
        "  --json            print one JSON object instead of text\n");
}

static int parse_url(const char *url, struct opts *o)
{
    const char *p = url, *colon, *slash;
    size_t hl, pl;

    if (strncmp(p, "http://", 7) != 0)
        return -1;
    p += 7;
    slash = strchr(p, '/');
    if (slash == NULL)
        slash = p + strlen(p);
    else if (strcmp(slash, "/") != 0)
        return -1;
    colon = memchr(p, ':', (size_t)(slash - p));
    if (colon == NULL)
        return -1;
    hl = (size_t)(colon - p);
    pl = (size_t)(slash - colon - 1);
    if (hl == 0 || hl >= sizeof(o->host) || pl == 0 || pl >= sizeof(o->port))
        return -1;
    memcpy(o->host, p, hl);
    o->host[hl] = '\0';
    memcpy(o->port, colon + 1, pl);
    o->port[pl] = '\0';
    return 0;
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        { "url", required_argument, NULL, 'u' },
        { "stream", required_argument, NULL, 's' },
        { "connections", required_argument, NULL, 'c' },
        { "threads", required_argument, NULL, 't' },
        { "batch", required_argument, NULL, 'b' },
        { "size", required_argument, NULL, 'z' },
        { "duration", required_argument, NULL, 'd' },
        { "requests", required_argument, NULL, 'n' },
        { "rate", required_argument, NULL, 'r' },
        { "zlib-baseline", no_argument, NULL, 'Z' },
        { "level", required_argument, NULL, 'L' },
        { "json", no_argument, NULL, 'j' },
        { "no-backoff", no_argument, NULL, 'B' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int ch, have_url = 0, have_duration = 0;
    double v;

    memset(o, 0, sizeof(*o));
    o->stream = "bench";
    o->conns = 16;
    o->threads = 1;
    o->batch = 500;
    o->zlib_level = 6;
    o->size = 150;
    o->duration_s = 10;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'u':
            if (parse_url(optarg, o) != 0) {
                fprintf(stderr, "loadgen: --url wants http://HOST:PORT/\n");
                return -1;
            }
            have_url = 1;
            break;
        case 's':
            o->stream = optarg;
            break;
        case 'c':
            if (parse_num(optarg, 1, LG_MAX_CONNS, &v) != 0)
                goto bad;
            o->conns = (int)v;
            break;
        case 't':
            if (parse_num(optarg, 1, LG_MAX_THREADS, &v) != 0)
                goto bad;
            o->threads = (int)v;
            break;
        case 'b':
            if (parse_num(optarg, 1, 100000, &v) != 0)
                goto bad;
            o->batch = (int)v;
            break;
        case 'z':
            if (parse_num(optarg, 0, LG_MAX_RECORD * 4.0, &v) != 0)
                goto bad;
            o->size = (long)v;
            break;
        case 'd':
            if (parse_num(optarg, 0.001, 86400, &v) != 0)
                goto bad;
            o->duration_s = v;
            have_duration = 1;
            break;
        case 'n':
            if (parse_num(optarg, 1, 1e15, &v) != 0)
                goto bad;
            o->requests = (uint64_t)v;
            break;
        case 'r':
            if (parse_num(optarg, 0, 1e12, &v) != 0)
                goto bad;
            o->rate = v;
            break;
        case 'Z':
            o->zlib_baseline = 1;
            break;
        case 'L':
            if (parse_num(optarg, 1, 9, &v) != 0 || v != (int)v)
                goto bad;
            o->zlib_level = (int)v;
            break;
        case 'j':
            o->json = 1;
            break;
        case 'B':
            o->no_backoff = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return -1;
    }
    if (o->requests > 0 && !have_duration)
        o->duration_s = 0;
    if (!have_url && !o->zlib_baseline) {
        fprintf(stderr, "loadgen: --url is required\n");
        return -1;
    }
    if (o->threads > o->conns)
        o->threads = o->conns;
    /* Over Firehose's limits is allowed (to test rejection), but say so. */
    if (o->batch > 500 || o->size > (long)LG_MAX_RECORD ||
        (double)o->batch * (double)o->size > LG_MAX_BATCH_BYTES)
        fprintf(stderr, "loadgen: note: batch is over Firehose's limits "
                "(500 records, 1,000 KiB each, 4 MiB total)\n");
    return 0;
bad:
    fprintf(stderr, "loadgen: bad value '%s'\n", optarg);
    return -1;
}

static void print_baseline(const struct opts *o, const struct baseline *b)
{
    if (o->json) {
        printf("{\"zlib_level\":%d,\"zlib_mb_per_s\":%.1f,\"zlib_ratio\":%.2f,"
               "\"memcpy_mb_per_s\":%.1f,\"crc32_mb_per_s\":%.1f,"
               "\"record_size\":%ld}\n",
               o->zlib_level, b->zlib_mbs, b->zlib_ratio, b->memcpy_mbs,
               b->crc32_mbs, o->size);
        return;
    }
    printf("baseline (one thread, %ld-byte records, MB = 1e6 bytes)\n",
           o->size);
    printf("  zlib gzip level %d  %9.1f MB/s in   (ratio %.2f:1)\n",
           o->zlib_level, b->zlib_mbs, b->zlib_ratio);
    printf("  memcpy             %9.1f MB/s\n", b->memcpy_mbs);
    printf("  crc32              %9.1f MB/s\n", b->crc32_mbs);
}

/* CPU seconds (user + system) this process used so far. */
static double self_cpu_s(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void print_results(const struct opts *o, const struct stats *st,
                          const struct hist *h, double secs)
{
    double rps = secs > 0 ? (double)st->records_ok / secs : 0;
    double bps = rps * (double)o->size;
    double cpu = self_cpu_s();
    uint64_t errors = st->http_errors + st->transport_errors + st->bad_200;
    int i, first = 1;

    if (o->json) {
        printf("{\"requests\":%" PRIu64 ",\"records_ok\":%" PRIu64
               ",\"records_failed\":%" PRIu64 ",\"errors\":%" PRIu64
               ",\"http_errors\":%" PRIu64 ",\"transport_errors\":%" PRIu64
               ",\"connect_errors\":%" PRIu64 ",\"bad_200\":%" PRIu64
               ",\"throttled_requests\":%" PRIu64 ",\"status\":{",
               st->requests, st->records_ok, st->records_failed, errors,
               st->http_errors, st->transport_errors, st->connect_errors,
               st->bad_200, st->throttled);
        for (i = 100; i < 600; i++) {
            if (st->status[i] == 0)
                continue;
            printf("%s\"%d\":%" PRIu64, first ? "" : ",", i, st->status[i]);
            first = 0;
        }
        printf("},\"seconds\":%.3f,\"records_per_s\":%.1f,"
               "\"mb_per_s\":%.3f,\"mib_per_s\":%.3f,"
               "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,"
               "\"max_ms\":%.3f,\"loadgen_cpu_s\":%.2f,"
               "\"connections\":%d,\"batch\":%d,\"size\":%ld}\n",
               secs, rps, bps / 1e6, bps / 1048576.0,
               (double)hist_pct(h, 50) / 1e6, (double)hist_pct(h, 99) / 1e6,
               (double)hist_pct(h, 99.9) / 1e6, (double)h->max / 1e6,
               cpu, o->conns, o->batch, o->size);
        return;
    }
    printf("target         %s:%s stream=%s connections=%d threads=%d "
           "batch=%d size=%ld rate=%s\n", o->host, o->port, o->stream,
           o->conns, o->threads, o->batch, o->size,
           o->rate > 0 ? "limited" : "max");
    printf("requests       %" PRIu64 " (", st->requests);
    for (i = 100; i < 600; i++) {
        if (st->status[i] == 0)
            continue;
        printf("%s%d: %" PRIu64, first ? "" : ", ", i, st->status[i]);
        first = 0;
    }
    printf(")\n");
    printf("records ok     %" PRIu64 "\n", st->records_ok);
    printf("records failed %" PRIu64 " (throttled requests %" PRIu64 ")\n",
           st->records_failed, st->throttled);
    printf("errors         %" PRIu64 " (http %" PRIu64 ", transport %" PRIu64
           ", 200 without FailedPutCount %" PRIu64 "; connect failures %"
           PRIu64 ")\n", errors, st->http_errors, st->transport_errors,
           st->bad_200, st->connect_errors);
    printf("seconds        %.3f\n", secs);
    printf("records/s      %.0f\n", rps);
    printf("payload        %.2f MB/s (%.2f MiB/s)\n", bps / 1e6,
           bps / 1048576.0);
    printf("latency ms     p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
           (double)hist_pct(h, 50) / 1e6, (double)hist_pct(h, 99) / 1e6,
           (double)hist_pct(h, 99.9) / 1e6, (double)h->max / 1e6);
    printf("loadgen cpu    %.2f s (%.0f%% of one core)\n", cpu,
           secs > 0 ? cpu / secs * 100 : 0);
}

static int run_load(const struct opts *o, const struct payloads *pl)
{
    struct addrinfo hints, *ai = NULL;
    struct shared sh;
    struct worker *ws;
    struct stats tot;
    struct hist *h;
    int64_t end = 0;
    int i, j, rc, ret = -1, started = 0, per;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(o->host, o->port, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "loadgen: resolve '%s': %s\n", o->host,
                gai_strerror(rc));
        return -1;
    }
    memset(&sh, 0, sizeof(sh));
    sh.o = o;
    sh.pl = pl;
    sh.ai = ai;
    atomic_init(&sh.issued, 0);
    ws = calloc((size_t)o->threads, sizeof(*ws));
    h = calloc(1, sizeof(*h));
    if (ws == NULL || h == NULL)
        goto out;
    for (i = 0; i < o->threads; i++) {
        struct worker *w = &ws[i];

        per = o->conns / o->threads + (i < o->conns % o->threads);
        w->id = i;
        w->sh = &sh;
        w->ep = -1;
        w->rate = o->rate > 0 ? o->rate * per / o->conns : 0;
        w->conns = calloc((size_t)per, sizeof(*w->conns));
        if (w->conns == NULL)
            goto out;
        w->nconns = per;
        for (j = 0; j < per; j++) {
            w->conns[j].fd = -1;
            w->conns[j].in_cap = LG_IN_INIT;
            w->conns[j].in = malloc(LG_IN_INIT);
            if (w->conns[j].in == NULL)
                goto out;
            conn_reset_parse(&w->conns[j]);
        }
        w->ep = epoll_create1(0);
        if (w->ep < 0) {
            fprintf(stderr, "loadgen: epoll_create1: %s\n", strerror(errno));
            goto out;
        }
    }
    sh.start = mono_ns();
    sh.deadline = o->duration_s > 0 ?
                  sh.start + (int64_t)(o->duration_s * 1e9) : INT64_MAX;
    for (i = 0; i < o->threads; i++) {
        rc = pthread_create(&ws[i].tid, NULL, worker_run, &ws[i]);
        if (rc != 0) {
            fprintf(stderr, "loadgen: pthread_create: %s\n", strerror(rc));
            sh.deadline = sh.start;     /* stop the ones already running */
            break;
        }
        started++;
    }
    memset(&tot, 0, sizeof(tot));
    for (i = 0; i < started; i++) {
        struct stats *s = &ws[i].st;

        pthread_join(ws[i].tid, NULL);
        tot.requests += s->requests;
        tot.records_ok += s->records_ok;
        tot.records_failed += s->records_failed;
        tot.http_errors += s->http_errors;
        tot.transport_errors += s->transport_errors;
        tot.connect_errors += s->connect_errors;
        tot.bad_200 += s->bad_200;
        tot.throttled += s->throttled;
        for (j = 0; j < 600; j++)
            tot.status[j] += s->status[j];
        hist_merge(h, &ws[i].h);
        if (ws[i].end > end)
            end = ws[i].end;
        if (ws[i].failed)
            started = -o->threads;  /* report, but fail */
    }
    if (started == o->threads || started < 0) {
        print_results(o, &tot, h, (double)(end - sh.start) / 1e9);
        ret = started == o->threads && tot.requests > 0 ? 0 : -1;
    }
out:
    for (i = 0; ws != NULL && i < o->threads; i++) {
        for (j = 0; j < ws[i].nconns; j++)
            free(ws[i].conns[j].in);
        free(ws[i].conns);
        if (ws[i].ep >= 0)
            close(ws[i].ep);
    }
    free(ws);
    free(h);
    freeaddrinfo(ai);
    return ret;
}

int main(int argc, char **argv)
{
    struct opts o;
    struct payloads pl;
    struct baseline b;
    int rc = 1;

    if (parse_opts(argc, argv, &o) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    if (payloads_build(&pl, &o) != 0) {
        fprintf(stderr, "loadgen: cannot build request bodies (memory)\n");
        payloads_free(&pl);
        return 1;
    }
    if (o.zlib_baseline) {
        if (baseline_run(&pl, o.zlib_level, &b) == 0) {
            print_baseline(&o, &b);
            rc = 0;
        } else {
            fprintf(stderr, "loadgen: zlib baseline failed\n");
        }
    } else if (run_load(&o, &pl) == 0) {
        rc = 0;
    }
    payloads_free(&pl);
    return rc;
}
