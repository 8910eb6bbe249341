/* main.c - firehosed-agent: tail log files and ship their lines to a
 * Firehose endpoint (firehosed or AWS) with PutRecordBatch. One thread:
 * read files, fill each flow's batch, send it when full or old enough
 * (retrying until every record is acknowledged, reading nothing
 * meanwhile), then checkpoint what was acknowledged. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "../delivery/awscred.h"
#include "../delivery/log.h"
#include "../delivery/util.h"
#include "acfg.h"
#include "ckpt.h"
#include "ship.h"
#include "tail.h"

#define AGENT_VERSION "0.1.0"
#define AGENT_READ_BUDGET ((size_t)1 << 20)     /* per file per pass */
#define AGENT_REQUEST_TIMEOUT_MS 20000L
#define AGENT_BACKOFF_MIN_MS 200
#define AGENT_BACKOFF_MAX_MS 5000
#define AGENT_CKPT_EVERY_MS 0       /* after every acknowledged batch */

static volatile sig_atomic_t stop_requested;

struct agent {
    struct acfg         cfg;
    struct ship_client *client;
    struct ship_batch   batches[ACFG_MAX_FLOWS];
    struct tail        *tail;
    struct ckpt         ck;
    int64_t             last_ckpt;
    uint64_t            sent_records;
    uint64_t            sent_batches;
};

static void usage(FILE *f)
{
    fprintf(f,
        "usage: firehosed-agent --config FILE [--once] [--poll]\n"
        "       firehosed-agent --check-config FILE\n"
        "       firehosed-agent --version | --help\n"
        "\n"
        "Tails the files of each flow in FILE (Kinesis Agent keys) and sends\n"
        "every line, newline included, as a record with PutRecordBatch.\n"
        "  --once   ship what the files hold now, then exit 0\n"
        "  --poll   poll for changes instead of using inotify\n"
        "SIGTERM/SIGINT: save the checkpoint of what was acknowledged, exit 0.\n");
}

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Sleep up to ms, waking early on a stop request. */
static void nap(long ms)
{
    while (ms > 0 && !stop_requested) {
        long step = ms < 50 ? ms : 50;
        struct timespec ts = { 0, step * 1000000L };

        nanosleep(&ts, NULL);
        ms -= step;
    }
}

static int save_checkpoint(struct agent *a, int force)
{
    struct err e = { 0, "" };
    int changed = 0;

    if (!force && util_mono_ms() - a->last_ckpt < AGENT_CKPT_EVERY_MS)
        return 0;
    if (tail_checkpoint(a->tail, &a->ck, force, &changed, &e) != 0 ||
        ((changed || force) && ckpt_save(&a->ck, a->cfg.checkpoint_file,
                                         &e) != 0)) {
        log_msg(LOG_ERROR, "agent", "%s", e.msg);
        return -1;
    }
    a->last_ckpt = util_mono_ms();
    return 0;
}

/* Send the flow's batch until every record is acknowledged. -1 when a
 * stop was requested first. */
static int deliver(struct agent *a, size_t flow)
{
    struct ship_batch *b = &a->batches[flow];
    const char *stream = a->cfg.flows[flow].stream;
    long backoff = AGENT_BACKOFF_MIN_MS;
    unsigned attempts = 0;
    int done;

    if (b->n == 0)
        return 0;
    while (!stop_requested) {
        struct err e = { 0, "" };
        enum ship_result r = ship_send(a->client, b, AGENT_REQUEST_TIMEOUT_MS,
                                       &e);

        attempts++;
        if (r == SHIP_OK)
            break;
        log_msg(r == SHIP_FAIL ? LOG_ERROR : LOG_WARN, stream,
                "%s; %zu records not acknowledged, retrying in %ld ms "
                "(attempt %u)", e.msg, b->n_body, backoff, attempts);
        nap(backoff);
        if (r != SHIP_PARTIAL || attempts > 3)
            backoff = backoff * 2 > AGENT_BACKOFF_MAX_MS
                ? AGENT_BACKOFF_MAX_MS : backoff * 2;
    }
    done = b->n_body == 0;
    if (done && attempts > 1)
        log_msg(LOG_INFO, stream, "delivered %zu records after %u attempts",
                b->n, attempts);
    if (done) {
        a->sent_records += b->n;
        a->sent_batches++;
    }
    tail_ack(a->tail, b->tags, b->acked, b->n);
    ship_batch_reset(b);
    if (save_checkpoint(a, 0) != 0)
        return -1;
    return done ? 0 : -1;
}

static int on_flush(void *ctx, size_t flow)
{
    return deliver(ctx, flow);
}

static int on_emit(void *ctx, size_t flow, const struct ship_tag *tag,
                   const char *p1, size_t n1, const char *p2, size_t n2)
{
    struct agent *a = ctx;
    struct ship_batch *b = &a->batches[flow];
    struct err e = { 0, "" };

    if (!ship_batch_fits(b, n1 + n2) && deliver(a, flow) != 0)
        return -1;
    if (ship_batch_add(b, p1, n1, p2, n2, tag, &e) != 0) {
        log_msg(LOG_ERROR, "agent", "%s", e.msg);
        return -1;
    }
    if (b->n >= b->max_records || b->bytes >= b->max_bytes)
        return deliver(a, flow);
    return 0;
}

static int deliver_due(struct agent *a, int64_t now, int all, long *wait)
{
    for (size_t i = 0; i < a->cfg.n_flows; i++) {
        struct ship_batch *b = &a->batches[i];
        long due;

        if (b->n == 0)
            continue;
        due = (long)(b->first_ms + a->cfg.flows[i].max_age_ms - now);
        if (all || due <= 0) {
            if (deliver(a, i) != 0)
                return -1;
        } else if (due < *wait) {
            *wait = due;
        }
    }
    return 0;
}

static int setup_client(struct agent *a)
{
    struct awscred cred;
    struct err e = { 0, "" };
    char region[64], url[256];
    const char *endpoint = a->cfg.endpoint;
    int have = 0;

    memset(&cred, 0, sizeof(cred));
    if (a->cfg.region != NULL)
        snprintf(region, sizeof(region), "%s", a->cfg.region);
    else if (awscred_region(region, sizeof(region), &e) != 0) {
        if (e.code != ERR_NOTFOUND) {
            log_msg(LOG_ERROR, "agent", "region: %s", e.msg);
            return -1;
        }
        snprintf(region, sizeof(region), "us-east-1");
    }
    if (a->cfg.access_key != NULL) {
        snprintf(cred.access_key_id, sizeof(cred.access_key_id), "%s",
                 a->cfg.access_key);
        snprintf(cred.secret, sizeof(cred.secret), "%s", a->cfg.secret);
        snprintf(cred.source, sizeof(cred.source), "config file");
        have = 1;
    } else if (awscred_load(&cred, &e) == 0) {
        have = 1;
    } else if (e.code != ERR_NOTFOUND) {
        log_msg(LOG_ERROR, "agent", "credentials: %s", e.msg);
        return -1;
    }
    if (endpoint == NULL)
        endpoint = awscred_endpoint("FIREHOSE");
    if (endpoint == NULL) {
        snprintf(url, sizeof(url), "https://firehose.%s.amazonaws.com",
                 region);
        endpoint = url;
    }
    if (!have)
        log_msg(LOG_WARN, "agent", "no AWS credentials (awsAccessKeyId, "
                "the environment or ~/.aws/credentials): requests go "
                "unsigned, which only a firehosed without "
                "Service.Credentials accepts");
    a->client = ship_client_new(endpoint, region, have ? &cred : NULL, &e);
    memset(&cred, 0, sizeof(cred));
    if (a->client == NULL) {
        log_msg(LOG_ERROR, "agent", "%s", e.msg);
        return -1;
    }
    log_msg(LOG_INFO, "agent", "firehosed-agent %s: %zu flows to %s "
            "(region %s, %s)", AGENT_VERSION, a->cfg.n_flows, endpoint,
            region, have ? "signed" : "unsigned");
    return 0;
}

static int loop(struct agent *a, int once, int use_inotify)
{
    struct err e = { 0, "" };
    int64_t last_scan = util_mono_ms();

    for (;;) {
        int64_t now;
        long wait = 500;
        int more = 0, events;
        struct pollfd pfd;

        do {
            if (stop_requested)
                return 0;
            if (tail_read(a->tail, AGENT_READ_BUDGET, &more, &e) != 0)
                return stop_requested ? 0 : -1;
        } while (more);
        now = util_mono_ms();
        if (tail_tick(a->tail, now, once, &e) != 0)
            return stop_requested ? 0 : -1;
        if (deliver_due(a, now, once, &wait) != 0)
            return stop_requested ? 0 : -1;
        if (once) {
            /* A file closed by the final tick may have been the last
             * holder of records: read, tick and deliver once more. */
            if (tail_tick(a->tail, now, 1, &e) != 0 ||
                deliver_due(a, now, 1, &wait) != 0)
                return stop_requested ? 0 : -1;
            return save_checkpoint(a, 1);
        }
        if (save_checkpoint(a, 0) != 0)
            return -1;
        if (wait > a->cfg.poll_ms)
            wait = a->cfg.poll_ms;
        if (wait < 1)
            wait = 1;
        pfd.fd = tail_fd(a->tail);
        pfd.events = POLLIN;
        if (pfd.fd >= 0)
            (void)poll(&pfd, 1, (int)wait);
        else
            nap(wait);
        events = tail_drain(a->tail);
        now = util_mono_ms();
        if (now - last_scan >= a->cfg.poll_ms || (events && use_inotify &&
                                                  now - last_scan >= 50)) {
            if (tail_scan(a->tail, &e) != 0)
                return stop_requested ? 0 : -1;
            last_scan = now;
        }
    }
}

static int run(const char *path, int once, int use_inotify)
{
    struct agent *a = calloc(1, sizeof(*a));
    struct sigaction sa;
    struct err e = { 0, "" };
    int has_ckpt = 0, rc = 1;
    size_t inited = 0;

    if (a == NULL) {
        fprintf(stderr, "firehosed-agent: out of memory\n");
        return 1;
    }
    if (acfg_load(&a->cfg, path, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        free(a);
        return 1;
    }
    log_init(a->cfg.log_json, getenv("FIREHOSED_DEBUG") ? LOG_DEBUG
                                                        : LOG_INFO);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_msg(LOG_ERROR, "agent", "libcurl failed to initialise");
        goto out;
    }
    if (setup_client(a) != 0)
        goto out;
    for (; inited < a->cfg.n_flows; inited++)
        if (ship_batch_init(&a->batches[inited],
                            a->cfg.flows[inited].stream,
                            a->cfg.flows[inited].max_records,
                            a->cfg.flows[inited].max_bytes, &e) != 0) {
            log_msg(LOG_ERROR, "agent", "%s", e.msg);
            goto out;
        }
    if (ckpt_load(&a->ck, a->cfg.checkpoint_file, &has_ckpt, &e) != 0) {
        log_msg(LOG_ERROR, "agent", "%s", e.msg);
        goto out;
    }
    a->tail = tail_new(&a->cfg, use_inotify, on_emit, on_flush, a, &e);
    if (a->tail == NULL || tail_start(a->tail, &a->ck, has_ckpt, &e) != 0) {
        log_msg(LOG_ERROR, "agent", "%s", e.msg);
        goto out;
    }
    /* The first checkpoint pins END_OF_FILE positions: a restart must not
     * jump to the end again. */
    if (save_checkpoint(a, 1) != 0)
        goto out;
    if (loop(a, once, use_inotify) != 0)
        goto out;
    if (stop_requested) {
        if (save_checkpoint(a, 1) != 0)
            goto out;
        log_msg(LOG_INFO, "agent", "stopping: %llu records in %llu batches "
                "sent; checkpoint saved, lines not acknowledged are read "
                "again at the next start", (unsigned long long)a->sent_records,
                (unsigned long long)a->sent_batches);
    } else {
        log_msg(LOG_INFO, "agent", "--once: %llu records in %llu batches "
                "sent, %zu files followed", (unsigned long long)a->sent_records,
                (unsigned long long)a->sent_batches, tail_count(a->tail));
    }
    rc = 0;
out:
    tail_free(a->tail);
    for (size_t i = 0; i < inited; i++)
        ship_batch_release(&a->batches[i]);
    ship_client_free(a->client);
    ckpt_release(&a->ck);
    acfg_release(&a->cfg);
    curl_global_cleanup();
    free(a);
    return rc;
}

int main(int argc, char **argv)
{
    const char *config = NULL;
    int once = 0, inotify = 1, check = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("firehosed-agent %s\n", AGENT_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--once") == 0) {
            once = 1;
        } else if (strcmp(argv[i], "--poll") == 0) {
            inotify = 0;
        } else if ((strcmp(argv[i], "--config") == 0 ||
                    strcmp(argv[i], "--check-config") == 0) &&
                   i + 1 < argc) {
            check = argv[i][2] == 'c' && argv[i][3] == 'h';
            config = argv[++i];
        } else {
            fprintf(stderr, "firehosed-agent: unknown argument '%s'\n",
                    argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (config == NULL) {
        fprintf(stderr, "firehosed-agent: --config FILE is required\n");
        usage(stderr);
        return 2;
    }
    if (check) {
        struct acfg c;
        struct err e = { 0, "" };

        if (acfg_load(&c, config, &e) != 0) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        acfg_release(&c);
        printf("%s: OK\n", config);
        return 0;
    }
    return run(config, once, inotify);
}
