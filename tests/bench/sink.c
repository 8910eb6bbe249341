/* sink - a fast loopback HTTP sink for the benchmarks (epoll, one thread).
 *
 *   sink --port P [--mode http|noop] [--seconds S]
 *
 * mode http (default): answers every request as a Firehose HTTP endpoint
 *   must: 200, Content-Type application/json,
 *   {"requestId":"<X-Amz-Firehose-Request-Id>","timestamp":<ms>}.
 * mode noop: answers every request as PutRecordBatch would with nothing
 *   failed ({"FailedPutCount":0,...}): the request-rate limit for loadgen.
 * The body is skipped unread (Content-Length only; chunked is refused with
 * 411). Counters (requests, body bytes) go to stderr on SIGTERM/SIGINT or
 * after --seconds. Binds 127.0.0.1 only. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define SK_MAX_CONN 1024
#define SK_HDR_MAX  16384

struct sk_conn {
    int fd;
    size_t hlen;            /* header bytes held in hdr */
    size_t body_left;       /* body bytes still to skip */
    char hdr[SK_HDR_MAX];
};

static volatile sig_atomic_t sk_stop;
static unsigned long long sk_requests, sk_body_bytes;
static int sk_noop;

static void sk_on_signal(int sig)
{
    (void)sig;
    sk_stop = 1;
}

/* Value of header NAME in the header block H (NUL-terminated), copied to
 * OUT; 0 when found. */
static int sk_header(const char *h, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name), n;
    const char *p = h, *e;

    while ((p = strchr(p, '\n')) != NULL) {
        p++;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            p += nl + 1;
            while (*p == ' ' || *p == '\t')
                p++;
            e = p;
            while (*e != '\r' && *e != '\n' && *e != '\0')
                e++;
            n = (size_t)(e - p);
            if (n >= cap)
                return -1;
            memcpy(out, p, n);
            out[n] = '\0';
            return 0;
        }
    }
    return -1;
}

static int sk_reply(int fd, int status, const char *body)
{
    char buf[1024];
    int n = snprintf(buf, sizeof(buf),
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s", status,
                     status == 200 ? "OK" : "Error", strlen(body), body);

    return write(fd, buf, (size_t)n) == n ? 0 : -1;
}

/* One complete header block is in c->hdr: answer it. -1 closes. */
static int sk_request(struct sk_conn *c)
{
    char id[256], cl[32], te[64], body[512];
    struct timeval tv;

    if (sk_header(c->hdr, "Transfer-Encoding", te, sizeof(te)) == 0) {
        sk_reply(c->fd, 411, "{\"error\":\"send Content-Length\"}");
        return -1;
    }
    c->body_left = sk_header(c->hdr, "Content-Length", cl, sizeof(cl)) == 0
                   ? strtoul(cl, NULL, 10) : 0;
    sk_body_bytes += c->body_left;
    sk_requests++;
    if (sk_noop) {
        snprintf(body, sizeof(body), "{\"FailedPutCount\":0,\"Encrypted\":"
                 "false,\"RequestResponses\":[]}");
    } else {
        if (sk_header(c->hdr, "X-Amz-Firehose-Request-Id", id,
                      sizeof(id)) != 0) {
            sk_reply(c->fd, 400, "{\"error\":\"no X-Amz-Firehose-Request-Id\"}");
            return 0;
        }
        gettimeofday(&tv, NULL);
        snprintf(body, sizeof(body), "{\"requestId\":\"%s\",\"timestamp\":"
                 "%lld}", id, (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000);
    }
    return sk_reply(c->fd, 200, body);
}

/* Read what is there; answer each request once its body is skipped. */
static int sk_readable(struct sk_conn *c)
{
    static char scratch[1 << 16];
    ssize_t n;
    char *end;
    size_t used, rest;

    for (;;) {
        if (c->body_left > 0) {
            size_t want = c->body_left < sizeof(scratch) ? c->body_left
                                                         : sizeof(scratch);
            n = read(c->fd, scratch, want);
            if (n > 0) {
                c->body_left -= (size_t)n;
                continue;
            }
        } else {
            if (c->hlen >= SK_HDR_MAX - 1)
                return -1;              /* headers too large */
            n = read(c->fd, c->hdr + c->hlen, SK_HDR_MAX - 1 - c->hlen);
            if (n > 0) {
                c->hlen += (size_t)n;
                c->hdr[c->hlen] = '\0';
                while ((end = strstr(c->hdr, "\r\n\r\n")) != NULL) {
                    used = (size_t)(end + 4 - c->hdr);
                    if (sk_request(c) != 0)
                        return -1;
                    rest = c->hlen - used;
                    /* bytes after the headers belong to the body first */
                    if (rest <= c->body_left) {
                        c->body_left -= rest;
                        c->hlen = 0;
                    } else {
                        used += c->body_left;
                        rest -= c->body_left;
                        c->body_left = 0;
                        memmove(c->hdr, c->hdr + used, rest);
                        c->hlen = rest;
                    }
                    c->hdr[c->hlen] = '\0';
                }
                continue;
            }
        }
        if (n == 0)
            return -1;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "port", required_argument, NULL, 'p' },
        { "mode", required_argument, NULL, 'm' },
        { "seconds", required_argument, NULL, 's' },
        { NULL, 0, NULL, 0 }
    };
    struct sockaddr_in sa;
    struct epoll_event ev, evs[64];
    struct sigaction sig;
    long port = -1, seconds = 600;
    int c, lfd, ep, one = 1, i, n, fd;
    time_t deadline;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p': port = strtol(optarg, NULL, 10); break;
        case 'm':
            if (strcmp(optarg, "noop") == 0)
                sk_noop = 1;
            else if (strcmp(optarg, "http") != 0)
                port = -2;
            break;
        case 's': seconds = strtol(optarg, NULL, 10); break;
        default: port = -2; break;
        }
    }
    if (port < 1 || port > 65535 || seconds < 1) {
        fprintf(stderr, "usage: sink --port 1-65535 [--mode http|noop] "
                "[--seconds S>0]\n");
        return 2;
    }
    memset(&sig, 0, sizeof(sig));
    sig.sa_handler = sk_on_signal;
    sigaction(SIGTERM, &sig, NULL);
    sigaction(SIGINT, &sig, NULL);
    signal(SIGPIPE, SIG_IGN);

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(lfd, 512) != 0) {
        fprintf(stderr, "sink: cannot listen on 127.0.0.1:%ld: %s (pick a "
                "free port)\n", port, strerror(errno));
        return 1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    deadline = time(NULL) + seconds;

    while (!sk_stop && time(NULL) < deadline) {
        n = epoll_wait(ep, evs, 64, 500);
        for (i = 0; i < n; i++) {
            struct sk_conn *cn = evs[i].data.ptr;

            if (cn == NULL) {
                while ((fd = accept4(lfd, NULL, NULL,
                                     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    cn = calloc(1, sizeof(*cn));
                    if (cn == NULL) {
                        close(fd);
                        continue;
                    }
                    cn->fd = fd;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
                               sizeof(one));
                    ev.events = EPOLLIN;
                    ev.data.ptr = cn;
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            if (sk_readable(cn) != 0) {
                epoll_ctl(ep, EPOLL_CTL_DEL, cn->fd, NULL);
                close(cn->fd);
                free(cn);
            }
        }
    }
    fprintf(stderr, "sink: %llu requests, %llu body bytes\n", sk_requests,
            sk_body_bytes);
    return 0;
}
