/* main.c - command line, start-up and shutdown. The only file that may
 * exit the process. */
#include <curl/curl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config/cfg.h"
#include "../transforms/xform.h"
#include "api.h"
#include "control.h"
#include "dash.h"
#include "log.h"
#include "stream.h"
#include "streams.h"
#include "util.h"

#define FIREHOSED_VERSION "0.1.0"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: firehosed --config FILE     run the service\n"
        "       firehosed --check-config FILE\n"
        "                                   validate FILE, print every error\n"
        "       firehosed --version | --help\n"
        "\n"
        "A self-hosted Amazon Data Firehose: producers use the Firehose API\n"
        "(PutRecord, PutRecordBatch) on the Listen address; records are\n"
        "spooled durably, buffered, compressed and delivered to S3 or a\n"
        "local directory. See README.md and config/README.md.\n");
}

/* The dashboard asks the transforms host for a script's version and last
 * load error. */
static void script_status(void *ctx, const char *script, unsigned *version,
                          char *last_error, size_t n)
{
    xform_host_status(ctx, script, version, last_error, n);
}

static int check_config(const char *path)
{
    struct cfg *c = NULL;
    char *errors = NULL;

    if (cfg_load(path, &c, &errors) != 0) {
        fprintf(stderr, "%s", errors ? errors : "invalid config\n");
        if (errors && errors[0] && errors[strlen(errors) - 1] != '\n')
            fputc('\n', stderr);
        free(errors);
        return 1;
    }
    printf("%s: OK (%zu delivery stream%s)\n", path, c->n_streams,
           c->n_streams == 1 ? "" : "s");
    cfg_free(c);
    return 0;
}

static int run(const char *path)
{
    struct cfg *c = NULL;
    struct streams *set = NULL;
    struct control *ctl = NULL;
    struct xform_host *xh = NULL;
    struct api *api = NULL;
    struct dash *dash = NULL;
    struct err e = { 0, "" };
    char *errors = NULL;
    sigset_t sigs;
    int sig = 0, rc = 1;

    if (cfg_load(path, &c, &errors) != 0) {
        fprintf(stderr, "%s", errors ? errors : "invalid config\n");
        free(errors);
        return 1;
    }
    log_init(c->service.log_json, getenv("FIREHOSED_DEBUG") ? LOG_DEBUG
                                                            : LOG_INFO);
    /* Signals are taken synchronously by this thread only; every thread
     * created below inherits the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_msg(LOG_ERROR, "main", "libcurl failed to initialise");
        goto out;
    }
    if (util_mkdirs(c->service.state_dir, &e) != 0) {
        log_msg(LOG_ERROR, "main", "StateDirectory: %s", e.msg);
        goto out;
    }
    if (streams_new(CONTROL_MAX_STREAMS, &set, &e) != 0) {
        log_msg(LOG_ERROR, "main", "%s", e.msg);
        goto out;
    }
    for (size_t i = 0; i < c->n_streams; i++) {
        const struct cfg_stream *s = &c->streams[i];
        if (!stream_uses_lua(s))
            continue;
        if (xh == NULL &&
            (xh = xform_host_new(c->service.transforms_dir, &e)) == NULL) {
            log_msg(LOG_ERROR, "main", "TransformsDirectory: %s", e.msg);
            goto out;
        }
        /* A script named in the config must load before we accept data. */
        if (xform_host_check(xh, s->s3.processing.lua_script, &e) != 0) {
            log_msg(LOG_ERROR, "main", "delivery stream '%s': %s", s->name,
                    e.msg);
            goto out;
        }
    }
    /* The control plane owns the streams; it starts with the config
     * file's, then adds those created through the API in earlier runs. */
    if (control_new(c, set, xh, &ctl, &e) != 0) {
        log_msg(LOG_ERROR, "main", "%s", e.msg);
        goto out;
    }
    for (size_t i = 0; i < c->n_streams; i++) {
        struct stream *st = NULL;

        if (stream_open(&c->streams[i], &c->service, xh, &st, &e) != 0 ||
            control_adopt(ctl, i, st, &e) != 0) {
            log_msg(LOG_ERROR, "main", "delivery stream '%s': %s",
                    c->streams[i].name, e.msg);
            goto out;
        }
    }
    if (control_load(ctl, &e) != 0) {
        log_msg(LOG_ERROR, "main", "%s", e.msg);
        goto out;
    }
    if (dash_new(&c->service, set, &dash, &e) != 0) {
        log_msg(LOG_ERROR, "main", "%s", e.msg);
        goto out;
    }
    if (xh != NULL)
        dash_set_script_status(dash, script_status, xh);
    /* From here on every warning and error also reaches the dashboard. */
    log_set_hook(dash_log_hook, dash);
    if (api_start(&c->service, set, ctl, &api, &e) != 0) {
        log_msg(LOG_ERROR, "main", "%s", e.msg);
        goto out;
    }
    api_set_dash(api, dash);
    if (dash_start(dash, &e) != 0) {
        log_msg(LOG_ERROR, "main", "%s", e.msg);
        goto out;
    }
    if (control_start(ctl, &e) != 0) {
        log_msg(LOG_ERROR, "main", "%s", e.msg);
        goto out;
    }
    api_set_ready(api);
    log_msg(LOG_INFO, "main", "firehosed %s listening on %s with %zu "
            "delivery stream%s, state in '%s', durability %s",
            FIREHOSED_VERSION, c->service.listen, streams_count(set),
            streams_count(set) == 1 ? "" : "s", c->service.state_dir,
            c->service.durability_fsync ? "fsync" : "os");
    if (sigwait(&sigs, &sig) != 0)
        sig = SIGTERM;
    log_msg(LOG_INFO, "main", "%s: no longer accepting records; "
            "undelivered data stays in the spool", strsignal(sig));
    rc = 0;
out:
    /* Stop the API first so that nothing is acknowledged after this. */
    api_stop(api);
    /* The sampler reads the streams: it stops before they are freed. */
    dash_stop(dash);
    control_free(ctl);
    /* No thread but this one logs any more. */
    log_set_hook(NULL, NULL);
    dash_free(dash);
    streams_free(set);
    xform_host_free(xh);
    cfg_free(c);
    curl_global_cleanup();
    if (rc == 0)
        log_msg(LOG_INFO, "main", "stopped");
    return rc;
}

int main(int argc, char **argv)
{
    /* Blocks of 1 MiB and more (request bodies above API_KEEP_BODY, which
     * are freed once answered) always come from mmap and go back to the
     * kernel when freed. glibc would otherwise raise its threshold after
     * the first such free and keep later ones in 16 threads' arenas: with
     * 4 KB records, peak RSS went from 83 to 98 MiB. */
    (void)mallopt(M_MMAP_THRESHOLD, 1 << 20);
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
                      strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("firehosed %s\n", FIREHOSED_VERSION);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--check-config") == 0)
        return check_config(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--config") == 0)
        return run(argv[2]);
    usage(stderr);
    return 2;
}
