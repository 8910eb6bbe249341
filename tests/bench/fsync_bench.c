/* fsync_bench - the durability limit: latency of write + fdatasync.
 *
 *   fsync_bench [--dir DIR] [--size BYTES] [--count N] [--json]
 *   fsync_bench --rate R [--seconds S] [--dir DIR] [--size BYTES] [--json]
 *
 * Appends BYTES (default 75000, one 500 x 150-byte batch) to a fresh file
 * in DIR (default .) and calls fdatasync after each write, N times (default
 * 500, at most 10 s). Prints p50/p99/p99.9 in ms: the floor for an
 * acknowledgement under Durability "fsync" on an otherwise idle file.
 *
 * --rate: the floor for a group commit under load. One thread appends
 * BYTES R times a second (paced) for S seconds (default 5) while another
 * runs fdatasync back to back whenever there is new data, as the spool's
 * group commit does, with no HTTP, parsing or locks. An append counts as
 * acknowledged when the first fdatasync that began after its write
 * returned completes. Its p99 is above the idle fdatasync p99: an append
 * that lands during a sync waits for the rest of it and then a whole one,
 * and the slow syncs are the ones most appends land in. The file is
 * removed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double fb_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fb_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double fb_pct(const double *v, int n, double p)
{
    int i = (int)(p * (n - 1) + 0.5);

    return n > 0 ? v[i] : 0;
}

/* --rate mode. The appender publishes each append's start and end; the
 * syncer records each sync's start and end. Arrays are sized up front. */
struct gc {
    int fd;
    long size;
    double period, until;           /* s */
    const char *buf;
    double *w_start, *w_end;        /* per append */
    long max_appends;
    atomic_long appends;            /* published count */
    int failed;
};

static void *gc_appender(void *arg)
{
    struct gc *g = arg;
    double next = fb_now();
    off_t off = 0;

    for (long i = 0; i < g->max_appends && next < g->until; i++) {
        double d = next - fb_now();
        if (d > 0) {
            struct timespec ts = { (time_t)d, (long)((d - (time_t)d) * 1e9) };
            nanosleep(&ts, NULL);
        }
        g->w_start[i] = fb_now();
        if (pwrite(g->fd, g->buf, (size_t)g->size, off) != g->size) {
            g->failed = errno ? errno : EIO;
            break;
        }
        off += g->size;
        g->w_end[i] = fb_now();
        atomic_store(&g->appends, i + 1);
        next += g->period;
    }
    return NULL;
}

static int group_commit(int fd, const char *buf, long size, double rate,
                        double seconds, int json)
{
    struct gc g = { .fd = fd, .size = size, .period = 1.0 / rate,
                    .buf = buf };
    long max_syncs = (long)(seconds * 20000) + 16, ns = 0, seen = 0, na, m;
    double *s_start, *s_end, *ack, *sl;
    pthread_t t;

    g.max_appends = (long)(rate * seconds) + 16;
    g.w_start = malloc(sizeof(double) * (size_t)g.max_appends);
    g.w_end = malloc(sizeof(double) * (size_t)g.max_appends);
    ack = malloc(sizeof(double) * (size_t)g.max_appends);
    s_start = malloc(sizeof(double) * (size_t)max_syncs);
    s_end = malloc(sizeof(double) * (size_t)max_syncs);
    sl = malloc(sizeof(double) * (size_t)max_syncs);
    if (!g.w_start || !g.w_end || !ack || !s_start || !s_end || !sl) {
        fprintf(stderr, "fsync_bench: out of memory\n");
        return 1;
    }
    g.until = fb_now() + seconds;
    if (pthread_create(&t, NULL, gc_appender, &g) != 0) {
        fprintf(stderr, "fsync_bench: cannot start the appender thread\n");
        return 1;
    }
    while (ns < max_syncs) {
        long k = atomic_load(&g.appends);
        if (k == seen) {
            if (fb_now() > g.until + 0.1)
                break;              /* the appender is done */
            usleep(20);
            continue;
        }
        seen = k;
        s_start[ns] = fb_now();
        if (fdatasync(fd) != 0) {
            g.failed = errno;
            break;
        }
        s_end[ns++] = fb_now();
    }
    pthread_join(t, NULL);
    if (g.failed) {
        fprintf(stderr, "fsync_bench: pwrite/fdatasync: %s\n",
                strerror(g.failed));
        return 1;
    }
    na = atomic_load(&g.appends);
    m = 0;
    for (long i = 0, j = 0; i < na; i++) {
        while (j < ns && s_start[j] < g.w_end[i])
            j++;
        if (j == ns)
            break;
        ack[m++] = (s_end[j] - g.w_start[i]) * 1e3;
    }
    for (long j = 0; j < ns; j++)
        sl[j] = (s_end[j] - s_start[j]) * 1e3;
    qsort(ack, (size_t)m, sizeof(*ack), fb_cmp);
    qsort(sl, (size_t)ns, sizeof(*sl), fb_cmp);
    if (json)
        printf("{\"rate\":%.0f,\"size\":%ld,\"appends\":%ld,\"syncs\":%ld,"
               "\"ack_p50_ms\":%.3f,\"ack_p99_ms\":%.3f,\"ack_p999_ms\":%.3f,"
               "\"sync_p50_ms\":%.3f,\"sync_p99_ms\":%.3f}\n", rate, size, m,
               ns, fb_pct(ack, (int)m, .5), fb_pct(ack, (int)m, .99),
               fb_pct(ack, (int)m, .999), fb_pct(sl, (int)ns, .5),
               fb_pct(sl, (int)ns, .99));
    else
        printf("group commit, %ld appends of %ld bytes at %.0f/s, %ld "
               "fdatasyncs: ack ms p50 %.3f p99 %.3f p99.9 %.3f; "
               "fdatasync ms p50 %.3f p99 %.3f\n", m, size, rate, ns,
               fb_pct(ack, (int)m, .5), fb_pct(ack, (int)m, .99),
               fb_pct(ack, (int)m, .999), fb_pct(sl, (int)ns, .5),
               fb_pct(sl, (int)ns, .99));
    free(g.w_start);
    free(g.w_end);
    free(ack);
    free(s_start);
    free(s_end);
    free(sl);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "size", required_argument, NULL, 's' },
        { "count", required_argument, NULL, 'n' },
        { "json", no_argument, NULL, 'j' },
        { "rate", required_argument, NULL, 'r' },
        { "seconds", required_argument, NULL, 'S' },
        { NULL, 0, NULL, 0 }
    };
    const char *dir = ".";
    long size = 75000, count = 500;
    int json = 0, c, fd, n = 0, rc;
    char path[4096], *buf;
    double *lat, t0, start, rate = 0, seconds = 5;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 's': size = strtol(optarg, NULL, 10); break;
        case 'n': count = strtol(optarg, NULL, 10); break;
        case 'j': json = 1; break;
        case 'r': rate = strtod(optarg, NULL); break;
        case 'S': seconds = strtod(optarg, NULL); break;
        default:
            fprintf(stderr, "usage: fsync_bench [--dir DIR] [--size BYTES]"
                    " [--count N | --rate APPENDS_PER_S [--seconds S]]"
                    " [--json]\n");
            return 2;
        }
    }
    if (rate < 0 || rate > 100000 || seconds <= 0 || seconds > 60) {
        fprintf(stderr, "fsync_bench: --rate must be 0..100000 appends/s "
                "and --seconds 0..60\n");
        return 2;
    }
    if (size < 1 || size > 64L << 20 || count < 1 || count > 1000000) {
        fprintf(stderr, "fsync_bench: --size must be 1..67108864 and "
                "--count 1..1000000\n");
        return 2;
    }
    snprintf(path, sizeof(path), "%s/fsync_bench.%ld", dir, (long)getpid());
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "fsync_bench: cannot create %s: %s (give a writable"
                " --dir on the disk the spool uses)\n", path, strerror(errno));
        return 1;
    }
    buf = malloc((size_t)size);
    lat = malloc(sizeof(*lat) * (size_t)count);
    if (buf == NULL || lat == NULL) {
        fprintf(stderr, "fsync_bench: out of memory\n");
        return 1;
    }
    memset(buf, 'x', (size_t)size);
    if (rate > 0) {
        rc = group_commit(fd, buf, size, rate, seconds, json);
        close(fd);
        unlink(path);
        free(buf);
        free(lat);
        return rc;
    }
    start = fb_now();
    while (n < count && fb_now() - start < 10.0) {
        t0 = fb_now();
        if (write(fd, buf, (size_t)size) != size || fdatasync(fd) != 0) {
            fprintf(stderr, "fsync_bench: write/fdatasync %s: %s\n", path,
                    strerror(errno));
            unlink(path);
            return 1;
        }
        lat[n++] = (fb_now() - t0) * 1e3;
    }
    close(fd);
    unlink(path);
    qsort(lat, (size_t)n, sizeof(*lat), fb_cmp);
    if (json)
        printf("{\"count\":%d,\"size\":%ld,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
               "\"p999_ms\":%.3f}\n", n, size, fb_pct(lat, n, .5),
               fb_pct(lat, n, .99), fb_pct(lat, n, .999));
    else
        printf("write+fdatasync of %ld bytes, %d times: ms p50 %.3f p99 %.3f"
               " p99.9 %.3f\n", size, n, fb_pct(lat, n, .5),
               fb_pct(lat, n, .99), fb_pct(lat, n, .999));
    free(buf);
    free(lat);
    return 0;
}
