/* fsync_bench - the durability limit: latency of write + fdatasync.
 *
 *   fsync_bench [--dir DIR] [--size BYTES] [--count N] [--json]
 *
 * Appends BYTES (default 75000, one 500 x 150-byte batch) to a fresh file
 * in DIR (default .) and calls fdatasync after each write, N times (default
 * 500, at most 10 s). Prints p50/p99/p99.9 in ms: the floor for an
 * acknowledgement under Durability "fsync". The file is removed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "size", required_argument, NULL, 's' },
        { "count", required_argument, NULL, 'n' },
        { "json", no_argument, NULL, 'j' },
        { NULL, 0, NULL, 0 }
    };
    const char *dir = ".";
    long size = 75000, count = 500;
    int json = 0, c, fd, n = 0;
    char path[4096], *buf;
    double *lat, t0, start;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 's': size = strtol(optarg, NULL, 10); break;
        case 'n': count = strtol(optarg, NULL, 10); break;
        case 'j': json = 1; break;
        default:
            fprintf(stderr, "usage: fsync_bench [--dir DIR] [--size BYTES]"
                    " [--count N] [--json]\n");
            return 2;
        }
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
