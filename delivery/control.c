/* control.c - see control.h. One mutex serialises the control-plane
 * operations (they are rare); the stream set's write lock is taken only to
 * add, remove, swap or change the status of a stream, so producers wait
 * for those moments only. */
#include "control.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define CONTROL_DEST_ID "destinationId-000000000001"
#define CONTROL_MAX_TAGS 50
#define CONTROL_DELETE_SLACK_MS 30000

/* What the control plane knows of one stream (streams_item.owner). */
struct ctl_stream {
    char *name;                 /* streams_item.name points here */
    struct cfg_stream *cfg;     /* API streams: owned; else borrowed */
    json_t *conf;               /* the stream object without Tags: the
                                 * request (API) or the config file's
                                 * entry; NULL when unknown */
    json_t *tags;               /* [{"Key", "Value"?}] */
    int from_config;
    int force;                  /* AllowForceDelete */
    int64_t created_ms, updated_ms;     /* updated 0: never */
    char failure[256];          /* CREATING_FAILED: why */
};

struct control {
    const struct cfg *c;
    const struct cfg_service *svc;
    struct streams *set;
    struct xform_host *xh;      /* borrowed or own_xh */
    struct xform_host *own_xh;
    json_t *file_streams;       /* the config file's DeliveryStreams */
    char dir[4096];             /* <StateDirectory>/streams */
    pthread_mutex_t mu;         /* the operations */
    pthread_mutex_t jobs_mu;    /* jobs, with jobs_cond */
    pthread_cond_t jobs_cond;
    int jobs;                   /* job threads running */
    atomic_int stop;
};

/* Request-scoped state of one operation. */
struct call {
    struct control *ctl;
    struct buf *out;
    struct control_reply *r;
    json_t *req;
};

/* ------------------------------------------------------------ replies */

__attribute__((format(printf, 3, 4)))
static int fail(struct call *k, const char *type, const char *fmt, ...)
{
    va_list ap;
    char msg[1200];
    struct err e;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    k->r->status = strcmp(type, "InternalFailure") == 0 ? 500 : 400;
    k->r->error_type = type;
    (void)buf_append(k->out, msg, strlen(msg) + 1, &e);
    k->out->len--;
    return 0;
}

/* Takes ownership of 'j'. */
static int reply(struct call *k, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    struct err e;

    json_decref(j);
    if (s == NULL)
        return fail(k, "InternalFailure", "out of memory");
    k->r->status = 200;
    k->r->error_type = NULL;
    (void)buf_append(k->out, s, strlen(s) + 1, &e);
    k->out->len--;
    free(s);
    return 0;
}

static int not_found(struct call *k, const char *name)
{
    return fail(k, "ResourceNotFoundException",
                "Firehose %.64s under account %s not found.", name,
                k->ctl->svc->account_id);
}

static void arn_of(const struct control *ctl, const char *name, char *out,
                   size_t n)
{
    snprintf(out, n, "arn:aws:firehose:%s:%s:deliverystream/%s",
             ctl->svc->region, ctl->svc->account_id, name);
}

/* A required string member; -1 with the ValidationException sent. */
static int need_str(struct call *k, const char *key, const char *camel,
                    const char **out)
{
    json_t *v = json_object_get(k->req, key);

    if (v == NULL) {
        fail(k, "ValidationException", "1 validation error detected: Value "
             "null at '%s' failed to satisfy constraint: Member must not "
             "be null", camel);
        return -1;
    }
    if (!json_is_string(v)) {
        fail(k, "SerializationException", "%s must be a string", key);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

/* An optional integer member in [lo, hi]; -1 with the error sent. */
static int opt_int(struct call *k, const char *key, const char *camel,
                   long long lo, long long hi, long long *out)
{
    json_t *v = json_object_get(k->req, key);

    if (v == NULL)
        return 0;
    if (!json_is_integer(v)) {
        fail(k, "SerializationException", "%s must be a number", key);
        return -1;
    }
    if (json_integer_value(v) < lo || json_integer_value(v) > hi) {
        fail(k, "ValidationException", "1 validation error detected: Value "
             "'%lld' at '%s' failed to satisfy constraint: Member must have "
             "value %s %lld", (long long)json_integer_value(v), camel,
             json_integer_value(v) < lo ? "greater than or equal to"
                                        : "less than or equal to",
             json_integer_value(v) < lo ? lo : hi);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

/* Is this reason a model constraint (ValidationException) rather than a
 * semantic rule (InvalidArgumentException)? */
static int is_constraint(const char *why)
{
    static const char *const words[] = {
        "missing required key", "expected ", "unknown key", "length ",
        "shorter than the minimum", "is below the minimum",
        "is above the maximum", "is not one of", "may only contain",
        "entries, expected", "must have 1 to", "longer than", NULL
    };

    for (size_t i = 0; words[i]; i++)
        if (strstr(why, words[i]) != NULL)
            return 1;
    return 0;
}

/* The config loader's error lines ("request: path: reason") as one
 * Firehose error. */
static int cfg_errors(struct call *k, const char *errors)
{
    char msg[1100];
    size_t len = 0, n = 0;
    int constraint = 1;
    const char *line = errors;

    if (strstr(errors, "Exactly one destination configuration is supported "
               "for a Firehose") != NULL)
        return fail(k, "InvalidArgumentException", "Exactly one destination "
                    "configuration is supported for a Firehose");
    msg[0] = '\0';
    while (line != NULL && *line != '\0') {
        const char *end = strchr(line, '\n'), *p = line;
        size_t l;

        if (end == NULL)
            end = line + strlen(line);
        if (strncmp(p, "request: ", 9) == 0)
            p += 9;
        if (strncmp(p, ": ", 2) == 0)
            p += 2;
        l = (size_t)(end - p);
        if (!is_constraint(p))
            constraint = 0;
        if (len < sizeof(msg) - 1)
            len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s%.*s",
                                    n ? "; " : "", (int)l, p);
        n++;
        line = *end ? end + 1 : end;
    }
    if (len >= sizeof(msg))
        len = sizeof(msg) - 1;
    if (constraint)
        return fail(k, "ValidationException", "%zu validation error%s "
                    "detected: %s", n, n == 1 ? "" : "s", msg);
    return fail(k, "InvalidArgumentException", "%s", msg);
}

/* --------------------------------------------------------- persistence */

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int file_path(const struct control *ctl, const char *name,
                     const char *suffix, char *out, size_t n, struct err *e)
{
    if ((size_t)snprintf(out, n, "%s/%s.json%s", ctl->dir, name, suffix) >= n)
        return err_set(e, ERR_INVAL, "StateDirectory '%s' is too long",
                       ctl->svc->state_dir);
    return 0;
}

/* <dir>/<name>.json: temp file, fsync, rename, directory fsync. */
static int persist(struct control *ctl, const struct ctl_stream *cs,
                   struct err *e)
{
    char path[4200], tmp[4200], *s;
    const char *op = "open";
    json_t *j;
    int fd, saved;

    if (file_path(ctl, cs->name, "", path, sizeof(path), e) != 0 ||
        file_path(ctl, cs->name, ".tmp", tmp, sizeof(tmp), e) != 0)
        return -1;
    j = json_pack("{s:O,s:s,s:f,s:O}", "DeliveryStream", cs->conf,
                  "VersionId", cs->cfg->version_id, "CreateTimestamp",
                  (double)cs->created_ms / 1000.0, "Tags", cs->tags);
    if (j != NULL && cs->updated_ms != 0)
        json_object_set_new(j, "LastUpdateTimestamp",
                            json_real((double)cs->updated_ms / 1000.0));
    s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (s == NULL)
        return err_set(e, ERR_NOMEM, "out of memory saving stream '%s'",
                       cs->name);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        goto fail;
    op = "write";
    if (write_all(fd, s, strlen(s)) != 0 || write_all(fd, "\n", 1) != 0)
        goto fail_fd;
    op = "fsync";
    if (fsync(fd) != 0)
        goto fail_fd;
    close(fd);
    op = "rename";
    if (rename(tmp, path) != 0)
        goto fail;
    free(s);
    return util_fsync_dir(ctl->dir, e);
fail_fd:
    saved = errno;
    close(fd);
    errno = saved;
fail:
    saved = errno;
    free(s);
    (void)unlink(tmp);
    return err_sys(e, saved, "%s '%s' failed", op, tmp);
}

static int unpersist(struct control *ctl, const char *name, struct err *e)
{
    char path[4200];

    if (file_path(ctl, name, "", path, sizeof(path), e) != 0)
        return -1;
    if (unlink(path) != 0 && errno != ENOENT)
        return err_sys(e, errno, "removing '%s' failed", path);
    return util_fsync_dir(ctl->dir, e);
}

/* rm -rf of a spool directory (files and one level of directories are
 * all a spool has; deeper trees are handled too). */
static int rm_tree(int parent, const char *name, struct err *e)
{
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                  O_CLOEXEC);
    struct dirent *de;
    DIR *d;
    int rc = 0;

    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        if (errno == ENOTDIR || errno == ELOOP)
            return unlinkat(parent, name, 0) == 0 ? 0
                   : err_sys(e, errno, "removing '%s' failed", name);
        return err_sys(e, errno, "opening '%s' failed", name);
    }
    d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return err_sys(e, errno, "reading '%s' failed", name);
    }
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (unlinkat(fd, de->d_name, 0) == 0)
            continue;
        if (errno == EISDIR || errno == EPERM)
            rc = rm_tree(fd, de->d_name, e);
        else
            rc = err_sys(e, errno, "removing '%s/%s' failed", name,
                         de->d_name);
    }
    closedir(d);
    if (rc == 0 && unlinkat(parent, name, AT_REMOVEDIR) != 0)
        rc = err_sys(e, errno, "removing '%s' failed", name);
    return rc;
}

/* ------------------------------------------------------------ streams */

static void cs_free(struct ctl_stream *cs)
{
    if (cs == NULL)
        return;
    if (!cs->from_config)
        cfg_stream_free(cs->cfg);
    json_decref(cs->conf);
    json_decref(cs->tags);
    free(cs->name);
    free(cs);
}

static struct ctl_stream *cs_new(const char *name)
{
    struct ctl_stream *cs = calloc(1, sizeof(*cs));

    if (cs == NULL)
        return NULL;
    cs->name = strdup(name);
    cs->tags = json_array();
    if (cs->name == NULL || cs->tags == NULL) {
        cs_free(cs);
        return NULL;
    }
    return cs;
}

/* The Lua host a stream needs, made on first use. */
static int lua_ready(struct control *ctl, const struct cfg_stream *cfg,
                     struct err *e)
{
    if (!stream_uses_lua(cfg))
        return 0;
    if (ctl->xh == NULL) {
        ctl->own_xh = xform_host_new(ctl->svc->transforms_dir, e);
        if (ctl->own_xh == NULL)
            return -1;
        ctl->xh = ctl->own_xh;
    }
    return xform_host_check(ctl->xh, cfg->s3.processing.lua_script, e);
}

/* Tags of a cfg_stream as the JSON list. */
static json_t *tags_json(const struct cfg_stream *cfg)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < cfg->n_tags; i++) {
        json_t *t = json_pack("{s:s}", "Key", cfg->tags[i].key);
        if (t != NULL && cfg->tags[i].value != NULL)
            json_object_set_new(t, "Value",
                                json_string(cfg->tags[i].value));
        json_array_append_new(a, t);
    }
    return a;
}

/* Validate a stream object with the config loader; *cfg on success, else
 * the error lines in *errors. */
static int parse_stream(json_t *obj, const char *name,
                        const struct cfg_service *svc,
                        struct cfg_stream **cfg, char **errors)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    int rc;

    if (s == NULL) {
        *errors = strdup("out of memory");
        return -1;
    }
    rc = cfg_stream_parse(name, s, strlen(s), svc, cfg, errors);
    free(s);
    return rc;
}

/* ----------------------------------------------------------- jobs */

struct job {
    struct control *ctl;
    struct streams_item *it;
    struct ctl_stream *cs;
};

static void job_done(struct control *ctl)
{
    pthread_mutex_lock(&ctl->jobs_mu);
    ctl->jobs--;
    pthread_cond_broadcast(&ctl->jobs_cond);
    pthread_mutex_unlock(&ctl->jobs_mu);
}

static int job_spawn(struct control *ctl, void *(*fn)(void *),
                     struct streams_item *it, struct err *e)
{
    struct job *j = malloc(sizeof(*j));
    pthread_attr_t attr;
    pthread_t t;
    int rc;

    if (j == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    j->ctl = ctl;
    j->it = it;
    j->cs = it->owner;
    pthread_mutex_lock(&ctl->jobs_mu);
    ctl->jobs++;
    pthread_mutex_unlock(&ctl->jobs_mu);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&t, &attr, fn, j);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        free(j);
        job_done(ctl);
        return err_sys(e, rc, "starting a control-plane job failed");
    }
    return 0;
}

/* CREATING -> ACTIVE (or CREATING_FAILED). */
static void *create_job(void *arg)
{
    struct job *j = arg;
    struct control *ctl = j->ctl;
    struct stream *st = NULL;
    struct err e = { 0, "" };
    int ok;

    ok = stream_open(j->cs->cfg, ctl->svc, ctl->xh, &st, &e) == 0 &&
         stream_start(st, &e) == 0;
    if (!ok) {
        log_msg(LOG_ERROR, "control", "creating delivery stream '%s' "
                "failed: %s", j->cs->name, e.msg);
        stream_free(st);
        st = NULL;
    }
    pthread_mutex_lock(&ctl->mu);
    streams_wrlock(ctl->set);
    j->it->st = st;
    j->it->status = ok ? STREAMS_ACTIVE : STREAMS_CREATING_FAILED;
    if (!ok)
        snprintf(j->cs->failure, sizeof(j->cs->failure), "%s", e.msg);
    streams_unlock(ctl->set);
    pthread_mutex_unlock(&ctl->mu);
    if (ok)
        log_msg(LOG_INFO, "control", "delivery stream '%s' is ACTIVE",
                j->cs->name);
    free(j);
    job_done(ctl);
    return NULL;
}

static int drained(struct stream *st, struct stream_status *ss)
{
    stream_status(st, ss);
    return ss->buffered_records == 0 && ss->pending_batches == 0;
}

/* DELETING: deliver what is spooled, then remove everything. */
static void *delete_job(void *arg)
{
    struct job *j = arg;
    struct control *ctl = j->ctl;
    struct ctl_stream *cs = j->cs;
    struct stream *st = j->it->st;
    struct stream_status ss = { 0, 0, 0, 0, 0 };
    struct err e = { 0, "" };
    int64_t wait = ((int64_t)cs->cfg->s3.buffering.interval_s +
                    cs->cfg->retry_s) * 1000 + CONTROL_DELETE_SLACK_MS;
    int64_t until = util_mono_ms() + wait;
    int left = 0;
    char spool[4200], moved[4400];

    if (st != NULL && !cs->force)
        stream_drain(st);
    while (st != NULL && !cs->force && !drained(st, &ss)) {
        if (atomic_load(&ctl->stop)) {
            log_msg(LOG_WARN, "control", "shutting down while delivery "
                    "stream '%s' was DELETING: it comes back at the next "
                    "start; delete it again then", cs->name);
            free(j);
            job_done(ctl);
            return NULL;
        }
        if (util_mono_ms() >= until) {
            left = 1;
            break;
        }
        {
            struct timespec ts = { 0, 100 * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
    pthread_mutex_lock(&ctl->mu);
    streams_wrlock(ctl->set);
    streams_remove(ctl->set, j->it);
    streams_unlock(ctl->set);
    stream_free(st);
    snprintf(spool, sizeof(spool), "%s/%s", ctl->svc->state_dir, cs->name);
    if (left) {
        snprintf(moved, sizeof(moved), "%s/deleted", ctl->dir);
        if (util_mkdirs(moved, &e) == 0) {
            snprintf(moved, sizeof(moved), "%s/deleted/%s.%lld", ctl->dir,
                     cs->name, (long long)util_now_ms());
            if (rename(spool, moved) != 0)
                err_sys(&e, errno, "moving '%s' to '%s' failed", spool,
                        moved);
        }
        log_msg(LOG_ERROR, "control", "delivery stream '%s' was deleted "
                "with %llu records undelivered after %lld s; its spool "
                "was kept in '%s' (%s)", cs->name,
                (unsigned long long)(ss.buffered_records +
                                     ss.pending_batches),
                (long long)(wait / 1000), moved,
                e.msg[0] ? e.msg : "copy it back under StateDirectory "
                "with the stream's name to deliver it");
    } else if (rm_tree(AT_FDCWD, spool, &e) != 0) {
        log_msg(LOG_ERROR, "control", "delivery stream '%s' deleted, but "
                "its spool could not be removed: %s", cs->name, e.msg);
    }
    if (unpersist(ctl, cs->name, &e) != 0)
        log_msg(LOG_ERROR, "control", "delivery stream '%s' deleted, but "
                "%s: remove the file or it comes back at the next start",
                cs->name, e.msg);
    else
        log_msg(LOG_INFO, "control", "delivery stream '%s' deleted%s",
                cs->name, cs->force ? " (forced)" : "");
    pthread_mutex_unlock(&ctl->mu);
    cs_free(cs);
    free(j);
    job_done(ctl);
    return NULL;
}

/* --------------------------------------------------------- describe */

static const char *const legacy_s3_keys[] = {
    "RoleARN", "BucketARN", "Prefix", "ErrorOutputPrefix", "BufferingHints",
    "CompressionFormat", "EncryptionConfiguration",
    "CloudWatchLoggingOptions", NULL
};

static json_t *copy_obj(json_t *src)
{
    return json_is_object(src) ? json_deep_copy(src) : json_object();
}

static void set_default(json_t *j, const char *key, json_t *v)
{
    if (json_object_get(j, key) == NULL)
        json_object_set_new(j, key, v);
    else
        json_decref(v);
}

/* An S3-shaped description: the configuration as given, with the values
 * the loader derived and Firehose's defaults filled in. */
static json_t *s3_desc(const struct cfg_s3 *d, json_t *src, int extended)
{
    json_t *j = copy_obj(src), *b;

    if (j == NULL)
        return NULL;
    if (!extended) {
        json_t *keep = json_object();
        for (size_t i = 0; keep && legacy_s3_keys[i]; i++) {
            json_t *v = json_object_get(j, legacy_s3_keys[i]);
            if (v != NULL)
                json_object_set(keep, legacy_s3_keys[i], v);
        }
        json_decref(j);
        j = keep;
        if (j == NULL)
            return NULL;
    }
    if (d->bucket_arn != NULL)
        json_object_set_new(j, "BucketARN", json_string(d->bucket_arn));
    if (d->path != NULL)
        json_object_set_new(j, "Path", json_string(d->path));
    json_object_set_new(j, "Prefix", json_string(d->prefix ? d->prefix
                                                           : ""));
    json_object_set_new(j, "ErrorOutputPrefix",
                        json_string(d->error_prefix ? d->error_prefix : ""));
    json_object_set_new(j, "BufferingHints",
                        json_pack("{s:i,s:i}", "SizeInMBs",
                                  d->buffering.size_mb, "IntervalInSeconds",
                                  d->buffering.interval_s));
    json_object_set_new(j, "CompressionFormat",
                        json_string(cfg_compression_name(d->compression)));
    json_object_set_new(j, "EncryptionConfiguration", d->kms_key_arn
        ? json_pack("{s:{s:s}}", "KMSEncryptionConfig", "AWSKMSKeyARN",
                    d->kms_key_arn)
        : json_pack("{s:s}", "NoEncryptionConfig", "NoEncryption"));
    set_default(j, "CloudWatchLoggingOptions",
                json_pack("{s:b}", "Enabled", 0));
    if (!extended)
        return j;
    set_default(j, "S3BackupMode", json_string("Disabled"));
    if ((b = json_object_get(j, "S3BackupConfiguration")) != NULL) {
        json_object_set(j, "S3BackupDescription", b);
        json_object_del(j, "S3BackupConfiguration");
    }
    if (d->file_extension == NULL || d->file_extension[0] == '\0')
        json_object_del(j, "FileExtension");
    if (d->custom_time_zone == NULL || d->custom_time_zone[0] == '\0')
        json_object_del(j, "CustomTimeZone");
    return j;
}

/* HTTP endpoint and OpenSearch: their S3Configuration becomes
 * S3DestinationDescription; the common defaults. */
static void record_dest_common(json_t *j, const struct cfg_stream *s,
                               const char *backup_all, const char *failed)
{
    json_object_set_new(j, "S3DestinationDescription",
                        s3_desc(&s->backup,
                                json_object_get(j, "S3Configuration"), 0));
    json_object_del(j, "S3Configuration");
    json_object_set_new(j, "BufferingHints",
                        json_pack("{s:i,s:i}", "SizeInMBs",
                                  s->s3.buffering.size_mb,
                                  "IntervalInSeconds",
                                  s->s3.buffering.interval_s));
    json_object_set_new(j, "RetryOptions", json_pack("{s:i}",
                        "DurationInSeconds", s->retry_s));
    json_object_set_new(j, "S3BackupMode",
                        json_string(s->backup_all ? backup_all : failed));
    set_default(j, "CloudWatchLoggingOptions",
                json_pack("{s:b}", "Enabled", 0));
}

static const char *rotation_name(enum cfg_rotation r)
{
    static const char *const names[] = {
        "NoRotation", "OneHour", "OneDay", "OneWeek", "OneMonth"
    };

    return (unsigned)r < 5 ? names[r] : "OneDay";
}

/* The stream object's destination configuration member. */
static json_t *dest_conf(json_t *conf, const char **key)
{
    static const char *const keys[] = {
        "ExtendedS3DestinationConfiguration", "S3DestinationConfiguration",
        "LocalDirectoryDestinationConfiguration",
        "HttpEndpointDestinationConfiguration",
        "AmazonopensearchserviceDestinationConfiguration",
        "ElasticsearchDestinationConfiguration", NULL
    };

    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(conf, keys[i]);
        if (v != NULL) {
            if (key != NULL)
                *key = keys[i];
            return v;
        }
    }
    return NULL;
}

static json_t *destination(const struct cfg_stream *s, json_t *conf)
{
    json_t *src = dest_conf(conf, NULL), *d, *j, *ep;

    d = json_pack("{s:s}", "DestinationId", CONTROL_DEST_ID);
    if (d == NULL)
        return NULL;
    switch (s->dest_kind) {
    case CFG_DEST_S3:
        json_object_set_new(d, "ExtendedS3DestinationDescription",
                            s3_desc(&s->s3, src, 1));
        json_object_set_new(d, "S3DestinationDescription",
                            s3_desc(&s->s3, src, 0));
        break;
    case CFG_DEST_LOCAL:
        json_object_set_new(d, "LocalDirectoryDestinationDescription",
                            s3_desc(&s->s3, src, 1));
        break;
    case CFG_DEST_HTTP:
        j = copy_obj(src);
        /* Secrets are never echoed: only Url and Name. */
        ep = json_object();
        json_object_set_new(ep, "Url", json_string(s->http.url));
        if (s->http.name != NULL)
            json_object_set_new(ep, "Name", json_string(s->http.name));
        json_object_set_new(j, "EndpointConfiguration", ep);
        record_dest_common(j, s, "AllData", "FailedDataOnly");
        set_default(j, "RequestConfiguration", json_pack("{s:s}",
                    "ContentEncoding", s->http.gzip ? "GZIP" : "NONE"));
        json_object_set_new(d, "HttpEndpointDestinationDescription", j);
        break;
    case CFG_DEST_OPENSEARCH:
        j = copy_obj(src);
        json_object_del(j, "BasicAuth");
        json_object_del(j, "VpcConfiguration");
        if (s->os.basic_user != NULL)
            json_object_set_new(j, "BasicAuth", json_pack("{s:s}",
                                "Username", s->os.basic_user));
        record_dest_common(j, s, "AllDocuments", "FailedDocumentsOnly");
        json_object_set_new(j, "IndexRotationPeriod",
                            json_string(rotation_name(s->os.rotation)));
        json_object_set_new(j, "DocumentIdOptions", json_pack("{s:s}",
                            "DefaultDocumentIdFormat",
                            s->os.no_document_id ? "NO_DOCUMENT_ID"
                                                 : "FIREHOSE_DEFAULT"));
        json_object_set_new(d, s->os.elasticsearch
                            ? "ElasticsearchDestinationDescription"
                            : "AmazonopensearchserviceDestinationDescription",
                            j);
        break;
    }
    return d;
}

static const char *status_name(enum streams_status s)
{
    switch (s) {
    case STREAMS_CREATING:        return "CREATING";
    case STREAMS_ACTIVE:          return "ACTIVE";
    case STREAMS_DELETING:        return "DELETING";
    case STREAMS_CREATING_FAILED: return "CREATING_FAILED";
    }
    return "ACTIVE";
}

static int op_describe(struct call *k)
{
    struct control *ctl = k->ctl;
    struct streams_item *it;
    struct ctl_stream *cs;
    const char *name, *start = NULL;
    long long limit = 10000;
    json_t *v, *desc, *dests;
    char arn[512];

    if (need_str(k, "DeliveryStreamName", "deliveryStreamName", &name) != 0 ||
        opt_int(k, "Limit", "limit", 1, 10000, &limit) != 0)
        return 0;
    if ((v = json_object_get(k->req, "ExclusiveStartDestinationId")) != NULL) {
        if (!json_is_string(v))
            return fail(k, "SerializationException",
                        "ExclusiveStartDestinationId must be a string");
        start = json_string_value(v);
    }
    streams_rdlock(ctl->set);
    it = streams_find(ctl->set, name);
    if (it == NULL) {
        streams_unlock(ctl->set);
        return not_found(k, name);
    }
    cs = it->owner;
    arn_of(ctl, cs->name, arn, sizeof(arn));
    dests = json_array();
    /* One destination per stream: paging past it leaves none. */
    if (start == NULL || strcmp(start, CONTROL_DEST_ID) < 0)
        json_array_append_new(dests, destination(cs->cfg, cs->conf));
    desc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:f,s:{s:s},s:o,s:b}",
                     "DeliveryStreamName", cs->name,
                     "DeliveryStreamARN", arn,
                     "DeliveryStreamStatus", status_name(it->status),
                     "DeliveryStreamType",
                     cs->cfg->type == CFG_STREAM_KINESIS
                     ? "KinesisStreamAsSource" : "DirectPut",
                     "VersionId", cs->cfg->version_id,
                     "CreateTimestamp", (double)cs->created_ms / 1000.0,
                     "DeliveryStreamEncryptionConfiguration",
                     "Status", "DISABLED",
                     "Destinations", dests,
                     "HasMoreDestinations", 0);
    if (desc != NULL && cs->updated_ms != 0)
        json_object_set_new(desc, "LastUpdateTimestamp",
                            json_real((double)cs->updated_ms / 1000.0));
    if (desc != NULL && it->status == STREAMS_CREATING_FAILED)
        json_object_set_new(desc, "FailureDescription", json_pack(
            "{s:s,s:s}", "Type", "UNKNOWN_ERROR", "Details", cs->failure));
    if (desc != NULL &&
        (v = json_object_get(cs->conf, "DirectPutSourceConfiguration")))
        json_object_set_new(desc, "Source", json_pack("{s:O}",
                            "DirectPutSourceDescription", v));
    /* Ours, echoed as configured so that a client can read it back. */
    if (desc != NULL && (v = json_object_get(cs->conf, "DirectPutQuotas")))
        json_object_set(desc, "DirectPutQuotas", v);
    if (desc != NULL &&
        (v = json_object_get(cs->conf, "KinesisStreamSourceConfiguration"))) {
        json_t *ks = json_deep_copy(v);
        /* Firehose's description: the ARN, the role and when reading
         * began (here: when the stream was created). */
        if (ks != NULL)
            json_object_set_new(ks, "DeliveryStartTimestamp",
                                json_real((double)cs->created_ms / 1000.0));
        json_object_set_new(desc, "Source", json_pack("{s:o*}",
                            "KinesisStreamSourceDescription", ks));
    }
    streams_unlock(ctl->set);
    return reply(k, desc ? json_pack("{s:o}", "DeliveryStreamDescription",
                                     desc) : NULL);
}

static int op_list(struct call *k)
{
    struct control *ctl = k->ctl;
    const char *want = NULL, *after = NULL;
    long long limit = 10;
    json_t *v, *names;
    int more = 0;

    if (opt_int(k, "Limit", "limit", 1, 10000, &limit) != 0)
        return 0;
    if ((v = json_object_get(k->req, "DeliveryStreamType")) != NULL) {
        if (!json_is_string(v))
            return fail(k, "SerializationException",
                        "DeliveryStreamType must be a string");
        want = json_string_value(v);
        if (strcmp(want, "DirectPut") != 0 &&
            strcmp(want, "KinesisStreamAsSource") != 0 &&
            strcmp(want, "MSKAsSource") != 0 &&
            strcmp(want, "DatabaseAsSource") != 0)
            return fail(k, "ValidationException", "1 validation error "
                        "detected: Value '%.64s' at 'deliveryStreamType' "
                        "failed to satisfy constraint: Member must satisfy "
                        "enum value set: [DirectPut, KinesisStreamAsSource, "
                        "MSKAsSource, DatabaseAsSource]", want);
    }
    if ((v = json_object_get(k->req, "ExclusiveStartDeliveryStreamName"))) {
        if (!json_is_string(v))
            return fail(k, "SerializationException",
                        "ExclusiveStartDeliveryStreamName must be a string");
        after = json_string_value(v);
    }
    names = json_array();
    streams_rdlock(ctl->set);
    /* The set is in name (byte) order already. */
    for (size_t i = 0; names && i < streams_count(ctl->set); i++) {
        struct streams_item *it = streams_at(ctl->set, i);
        const struct ctl_stream *cs = it->owner;
        const char *type = cs->cfg->type == CFG_STREAM_KINESIS
                           ? "KinesisStreamAsSource" : "DirectPut";

        if ((want && strcmp(want, type) != 0) ||
            (after && strcmp(it->name, after) <= 0))
            continue;
        if ((long long)json_array_size(names) == limit) {
            more = 1;
            break;
        }
        json_array_append_new(names, json_string(it->name));
    }
    streams_unlock(ctl->set);
    return reply(k, names ? json_pack("{s:o,s:b}", "DeliveryStreamNames",
                                      names, "HasMoreDeliveryStreams", more)
                          : NULL);
}

/* ------------------------------------------------------------ create */

static int op_create(struct call *k)
{
    struct control *ctl = k->ctl;
    struct streams_item item, *it;
    struct ctl_stream *cs = NULL;
    struct cfg_stream *cfg = NULL;
    struct err e = { 0, "" };
    char *errors = NULL, arn[512];
    const char *name;
    json_t *conf;

    if (need_str(k, "DeliveryStreamName", "deliveryStreamName", &name) != 0)
        return 0;
    if (parse_stream(k->req, "request", ctl->svc, &cfg, &errors) != 0) {
        cfg_errors(k, errors);
        free(errors);
        return 0;
    }
    streams_rdlock(ctl->set);
    it = streams_find(ctl->set, name);
    streams_unlock(ctl->set);
    if (it != NULL) {
        cfg_stream_free(cfg);
        return fail(k, "ResourceInUseException", "Firehose %s under "
                    "accountId %s already exists", name,
                    ctl->svc->account_id);
    }
    if (streams_count(ctl->set) >= streams_max(ctl->set)) {
        cfg_stream_free(cfg);
        return fail(k, "LimitExceededException", "You have already "
                    "consumed your firehose quota of %zu hoses",
                    streams_max(ctl->set));
    }
    if (lua_ready(ctl, cfg, &e) != 0) {
        cfg_stream_free(cfg);
        return fail(k, "InvalidArgumentException", "%s", e.msg);
    }
    conf = json_deep_copy(k->req);
    cs = conf ? cs_new(name) : NULL;
    if (cs == NULL) {
        json_decref(conf);
        cfg_stream_free(cfg);
        return fail(k, "InternalFailure", "out of memory");
    }
    json_object_del(conf, "Tags");
    cs->conf = conf;
    cs->cfg = cfg;
    json_decref(cs->tags);
    cs->tags = tags_json(cfg);
    cs->created_ms = util_now_ms();
    if (persist(ctl, cs, &e) != 0) {
        log_msg(LOG_ERROR, "control", "creating delivery stream '%s': %s",
                name, e.msg);
        cs_free(cs);
        return fail(k, "InternalFailure", "The stream could not be saved "
                    "in StateDirectory: %s", e.msg);
    }
    memset(&item, 0, sizeof(item));
    item.name = cs->name;
    item.status = STREAMS_CREATING;
    item.owner = cs;
    streams_wrlock(ctl->set);
    if (streams_add(ctl->set, &item, &it, &e) != 0) {
        streams_unlock(ctl->set);
        (void)unpersist(ctl, cs->name, &e);
        cs_free(cs);
        return fail(k, "InternalFailure", "%s", e.msg);
    }
    streams_unlock(ctl->set);
    if (job_spawn(ctl, create_job, it, &e) != 0) {
        streams_wrlock(ctl->set);
        it->status = STREAMS_CREATING_FAILED;
        snprintf(cs->failure, sizeof(cs->failure), "%s", e.msg);
        streams_unlock(ctl->set);
    }
    log_msg(LOG_INFO, "control", "delivery stream '%s' is CREATING", name);
    arn_of(ctl, name, arn, sizeof(arn));
    return reply(k, json_pack("{s:s}", "DeliveryStreamARN", arn));
}

/* The stream 'name' for a change; NULL with the error sent. */
static struct streams_item *changeable(struct call *k, const char *name,
                                       const char *what)
{
    struct streams_item *it;
    struct ctl_stream *cs;

    it = streams_find(k->ctl->set, name);
    if (it == NULL) {
        not_found(k, name);
        return NULL;
    }
    cs = it->owner;
    if (cs->from_config) {
        fail(k, "InvalidArgumentException", "Firehose %s is defined in the "
             "config file %s and can't be %s through the API: change the "
             "config file and restart firehosed", name, k->ctl->c->path,
             what);
        return NULL;
    }
    return it;
}

static int op_delete(struct call *k)
{
    struct control *ctl = k->ctl;
    struct streams_item *it;
    struct err e = { 0, "" };
    const char *name;
    json_t *force = json_object_get(k->req, "AllowForceDelete");

    if (need_str(k, "DeliveryStreamName", "deliveryStreamName", &name) != 0)
        return 0;
    if (force != NULL && !json_is_boolean(force))
        return fail(k, "SerializationException",
                    "AllowForceDelete must be true or false");
    streams_rdlock(ctl->set);
    it = changeable(k, name, "deleted");
    if (it != NULL && it->status == STREAMS_CREATING) {
        streams_unlock(ctl->set);
        return fail(k, "ResourceInUseException", "Firehose %s is in "
                    "CREATING state: wait until it is ACTIVE", name);
    }
    streams_unlock(ctl->set);
    if (it == NULL)
        return 0;
    if (it->status == STREAMS_DELETING)
        return reply(k, json_object());
    /* Once this write lock is held no put is in flight; after it none
     * finds the stream ACTIVE. */
    streams_wrlock(ctl->set);
    it->status = STREAMS_DELETING;
    ((struct ctl_stream *)it->owner)->force = json_is_true(force);
    streams_unlock(ctl->set);
    if (job_spawn(ctl, delete_job, it, &e) != 0)
        return fail(k, "InternalFailure", "%s", e.msg);
    log_msg(LOG_INFO, "control", "delivery stream '%s' is DELETING%s", name,
            json_is_true(force) ? " (AllowForceDelete: undelivered data is "
            "discarded)" : "");
    return reply(k, json_object());
}

/* ------------------------------------------------------------ update */

/* UpdateDestination member -> the configuration member it updates. */
static const struct {
    const char *update, *conf;
} update_keys[] = {
    { "ExtendedS3DestinationUpdate", "ExtendedS3DestinationConfiguration" },
    { "S3DestinationUpdate", "S3DestinationConfiguration" },
    { "LocalDirectoryDestinationUpdate",
      "LocalDirectoryDestinationConfiguration" },
    { "HttpEndpointDestinationUpdate",
      "HttpEndpointDestinationConfiguration" },
    { "AmazonopensearchserviceDestinationUpdate",
      "AmazonopensearchserviceDestinationConfiguration" },
    { "ElasticsearchDestinationUpdate",
      "ElasticsearchDestinationConfiguration" },
};

/* Update shapes name their S3 parts S3Update and S3BackupUpdate. */
static void rename_update_members(json_t *u)
{
    static const char *const from[] = { "S3Update", "S3BackupUpdate" };
    static const char *const to[] = { "S3Configuration",
                                      "S3BackupConfiguration" };

    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(u, from[i]);
        if (v != NULL) {
            json_object_set(u, to[i], v);
            json_object_del(u, from[i]);
        }
    }
}

static int is_search(const char *key)
{
    return strstr(key, "opensearch") != NULL ||
           strstr(key, "Elasticsearch") != NULL;
}

static int is_s3(const char *key)
{
    return strcmp(key, "ExtendedS3DestinationConfiguration") == 0 ||
           strcmp(key, "S3DestinationConfiguration") == 0;
}

/* The stream object after the update 'u' of member 'ukey' (new ref), or
 * NULL with the error sent. */
static json_t *merged_conf(struct call *k, json_t *conf, size_t ui,
                           json_t *u)
{
    const char *old_key = NULL, *new_key = update_keys[ui].conf;
    json_t *m = json_deep_copy(conf), *old, *nu = json_deep_copy(u);

    if (m == NULL || nu == NULL) {
        json_decref(m);
        json_decref(nu);
        fail(k, "InternalFailure", "out of memory");
        return NULL;
    }
    rename_update_members(nu);
    old = dest_conf(m, &old_key);
    if (old_key != NULL && is_search(old_key) != is_search(new_key)) {
        json_decref(m);
        json_decref(nu);
        fail(k, "InvalidArgumentException", "Changing the destination "
             "between %s and %s is not supported", old_key, new_key);
        return NULL;
    }
    /* Extended S3 and legacy S3 are one destination type. */
    if (old_key != NULL && (strcmp(old_key, new_key) == 0 ||
                            (is_s3(old_key) && is_s3(new_key)))) {
        json_t *base = json_deep_copy(old);
        json_object_update_recursive(base, nu);
        json_decref(nu);
        nu = base;
        if (is_s3(old_key))
            new_key = "ExtendedS3DestinationConfiguration";
    }
    if (old_key != NULL)
        json_object_del(m, old_key);
    json_object_set_new(m, new_key, nu);
    return m;
}

/* Firehose's one-way switches. */
static int one_way(struct call *k, const struct cfg_stream *o,
                   const struct cfg_stream *n, json_t *oconf, json_t *nconf)
{
    json_t *ob = json_object_get(dest_conf(oconf, NULL), "S3BackupMode");
    json_t *nb = json_object_get(dest_conf(nconf, NULL), "S3BackupMode");

    if (o->s3.dynamic_partitioning != n->s3.dynamic_partitioning)
        return fail(k, "InvalidArgumentException", "Dynamic partitioning "
                    "can't be %s on an existing stream",
                    o->s3.dynamic_partitioning ? "disabled" : "enabled"),
               -1;
    if (o->dest_kind == CFG_DEST_S3 && json_is_string(ob) &&
        strcmp(json_string_value(ob), "Enabled") == 0 &&
        (!json_is_string(nb) ||
         strcmp(json_string_value(nb), "Enabled") != 0))
        return fail(k, "InvalidArgumentException", "S3BackupMode can't be "
                    "changed from Enabled to Disabled"), -1;
    if (o->dest_kind == CFG_DEST_OPENSEARCH && o->backup_all != n->backup_all)
        return fail(k, "InvalidArgumentException", "S3BackupMode of an "
                    "OpenSearch destination can't be changed"), -1;
    return 0;
}

static int op_update(struct call *k)
{
    struct control *ctl = k->ctl;
    struct streams_item *it;
    struct ctl_stream *cs;
    struct cfg_stream *ncfg = NULL;
    struct stream *nst = NULL;
    struct err e = { 0, "" };
    const char *name, *ver, *did;
    char *errors = NULL, nver[32];
    json_t *u = NULL, *m, *tagged;
    size_t ui = 0, nu = 0;
    int64_t old_updated;
    json_t *old_conf;
    struct cfg_stream *old_cfg;

    if (need_str(k, "DeliveryStreamName", "deliveryStreamName", &name) != 0 ||
        need_str(k, "CurrentDeliveryStreamVersionId",
                 "currentDeliveryStreamVersionId", &ver) != 0 ||
        need_str(k, "DestinationId", "destinationId", &did) != 0)
        return 0;
    for (size_t i = 0; i < sizeof(update_keys) / sizeof(update_keys[0]);
         i++) {
        json_t *v = json_object_get(k->req, update_keys[i].update);
        if (v == NULL)
            continue;
        if (!json_is_object(v))
            return fail(k, "SerializationException", "%s must be an object",
                        update_keys[i].update);
        u = v;
        ui = i;
        nu++;
    }
    {
        const char *key;
        json_t *v;
        json_object_foreach(k->req, key, v) {
            size_t i;
            for (i = 0; i < sizeof(update_keys) / sizeof(update_keys[0]); i++)
                if (strcmp(key, update_keys[i].update) == 0)
                    break;
            if (i == sizeof(update_keys) / sizeof(update_keys[0]) &&
                strcmp(key, "DeliveryStreamName") != 0 &&
                strcmp(key, "CurrentDeliveryStreamVersionId") != 0 &&
                strcmp(key, "DestinationId") != 0)
                return fail(k, "InvalidArgumentException", "UpdateDestination "
                            "member %.100s is not supported", key);
        }
    }
    streams_rdlock(ctl->set);
    it = changeable(k, name, "updated");
    streams_unlock(ctl->set);
    if (it == NULL)
        return 0;
    cs = it->owner;
    if (it->status != STREAMS_ACTIVE)
        return fail(k, "ResourceInUseException", "Firehose %s is not ACTIVE "
                    "(it is %s)", name, status_name(it->status));
    if (strcmp(ver, cs->cfg->version_id) != 0)
        return fail(k, "ConcurrentModificationException", "Cannot update "
                    "firehose: %s since the current version id: %s and "
                    "specified version id: %.50s do not match", name,
                    cs->cfg->version_id, ver);
    if (strcmp(did, CONTROL_DEST_ID) != 0)
        return fail(k, "InvalidArgumentException", "Destination %.100s not "
                    "found: firehose %s has one destination, %s", did, name,
                    CONTROL_DEST_ID);
    if (nu != 1)
        return fail(k, "InvalidArgumentException", "Exactly one destination "
                    "update is supported for a Firehose (found %zu)", nu);
    if ((m = merged_conf(k, cs->conf, ui, u)) == NULL)
        return 0;
    /* Validate with the stream's tags, as at create. */
    tagged = json_deep_copy(m);
    if (tagged != NULL && json_array_size(cs->tags) > 0)
        json_object_set(tagged, "Tags", cs->tags);
    if (tagged == NULL ||
        parse_stream(tagged, "request", ctl->svc, &ncfg, &errors) != 0) {
        json_decref(tagged);
        json_decref(m);
        cfg_errors(k, errors ? errors : "request: : out of memory");
        free(errors);
        return 0;
    }
    json_decref(tagged);
    if (one_way(k, cs->cfg, ncfg, cs->conf, m) != 0 ||
        (lua_ready(ctl, ncfg, &e) != 0 &&
         fail(k, "InvalidArgumentException", "%s", e.msg) == 0)) {
        json_decref(m);
        cfg_stream_free(ncfg);
        return 0;
    }
    snprintf(nver, sizeof(nver), "%llu",
             strtoull(cs->cfg->version_id, NULL, 10) + 1);
    free(ncfg->version_id);
    if ((ncfg->version_id = strdup(nver)) == NULL) {
        json_decref(m);
        cfg_stream_free(ncfg);
        return fail(k, "InternalFailure", "out of memory");
    }
    old_conf = cs->conf;
    old_cfg = cs->cfg;
    old_updated = cs->updated_ms;
    cs->conf = m;
    cs->cfg = ncfg;
    cs->updated_ms = util_now_ms();
    if (persist(ctl, cs, &e) != 0) {
        cs->conf = old_conf;
        cs->cfg = old_cfg;
        cs->updated_ms = old_updated;
        json_decref(m);
        cfg_stream_free(ncfg);
        log_msg(LOG_ERROR, "control", "updating delivery stream '%s': %s",
                name, e.msg);
        return fail(k, "InternalFailure", "The update could not be saved "
                    "in StateDirectory: %s", e.msg);
    }
    /* Producers wait while the workers finish the batch in flight and the
     * stream reopens its spool with the new configuration. */
    streams_wrlock(ctl->set);
    stream_free(it->st);
    it->st = NULL;
    if (stream_open(ncfg, ctl->svc, ctl->xh, &nst, &e) != 0 ||
        stream_start(nst, &e) != 0) {
        struct err e2 = { 0, "" };
        log_msg(LOG_ERROR, "control", "delivery stream '%s': the updated "
                "configuration could not be started, keeping version %s: "
                "%s", name, old_cfg->version_id, e.msg);
        stream_free(nst);
        nst = NULL;
        cs->conf = old_conf;
        cs->cfg = old_cfg;
        cs->updated_ms = old_updated;
        if (stream_open(old_cfg, ctl->svc, ctl->xh, &nst, &e2) != 0 ||
            stream_start(nst, &e2) != 0) {
            log_msg(LOG_ERROR, "control", "delivery stream '%s' could not "
                    "be reopened: %s", name, e2.msg);
            stream_free(nst);
            nst = NULL;
            it->status = STREAMS_CREATING_FAILED;
            snprintf(cs->failure, sizeof(cs->failure), "%s", e2.msg);
        }
        it->st = nst;
        streams_unlock(ctl->set);
        (void)persist(ctl, cs, &e2);
        json_decref(m);
        cfg_stream_free(ncfg);
        return fail(k, "InternalFailure", "The updated configuration could "
                    "not be started: %s", e.msg);
    }
    it->st = nst;
    streams_unlock(ctl->set);
    json_decref(old_conf);
    cfg_stream_free(old_cfg);
    log_msg(LOG_INFO, "control", "delivery stream '%s' updated to version "
            "%s", name, nver);
    return reply(k, json_object());
}

/* -------------------------------------------------------------- tags */

static json_t *tag_find(json_t *tags, const char *key, size_t *at)
{
    size_t i;
    json_t *t;

    json_array_foreach(tags, i, t) {
        if (strcmp(json_string_value(json_object_get(t, "Key")), key) == 0) {
            if (at != NULL)
                *at = i;
            return t;
        }
    }
    return NULL;
}

/* Save the tags of an API stream; the config file's stay in memory. */
static int tags_changed(struct call *k, struct ctl_stream *cs, json_t *old)
{
    struct err e = { 0, "" };

    if (cs->from_config || persist(k->ctl, cs, &e) == 0) {
        json_decref(old);
        return reply(k, json_object());
    }
    json_decref(cs->tags);
    cs->tags = old;
    return fail(k, "InternalFailure", "The tags could not be saved: %s",
                e.msg);
}

static int op_tag(struct call *k)
{
    struct streams_item *it;
    struct ctl_stream *cs;
    const char *name;
    json_t *tags = json_object_get(k->req, "Tags"), *t, *next, *old;
    size_t i;
    char why[300];

    if (need_str(k, "DeliveryStreamName", "deliveryStreamName", &name) != 0)
        return 0;
    if (tags == NULL)
        return fail(k, "ValidationException", "1 validation error detected: "
                    "Value null at 'tags' failed to satisfy constraint: "
                    "Member must not be null");
    if (!json_is_array(tags))
        return fail(k, "SerializationException", "Tags must be a list");
    if (json_array_size(tags) < 1 || json_array_size(tags) > 50)
        return fail(k, "ValidationException", "1 validation error detected: "
                    "Value at 'tags' failed to satisfy constraint: Member "
                    "must have length %s", json_array_size(tags) < 1
                    ? "greater than or equal to 1"
                    : "less than or equal to 50");
    json_array_foreach(tags, i, t) {
        json_t *key = json_object_get(t, "Key"), *val;
        val = json_object_get(t, "Value");
        if (!json_is_string(key) || (val != NULL && !json_is_string(val)))
            return fail(k, "SerializationException", "Tags[%zu] must be "
                        "{\"Key\": string, \"Value\": string}", i);
        if (cfg_tag_check(json_string_value(key), json_string_value(val),
                          why, sizeof(why)) != 0)
            return fail(k, strstr(why, "reserved") != NULL
                        ? "InvalidArgumentException" : "ValidationException",
                        "%s", why);
    }
    streams_rdlock(k->ctl->set);
    it = streams_find(k->ctl->set, name);
    streams_unlock(k->ctl->set);
    if (it == NULL)
        return not_found(k, name);
    cs = it->owner;
    if ((next = json_deep_copy(cs->tags)) == NULL)
        return fail(k, "InternalFailure", "out of memory");
    json_array_foreach(tags, i, t) {
        json_t *have = tag_find(next, json_string_value(
                                json_object_get(t, "Key")), NULL);
        json_t *copy = json_deep_copy(t);
        if (have != NULL)
            json_object_update(have, copy), json_decref(copy);
        else
            json_array_append_new(next, copy);
    }
    if (json_array_size(next) > CONTROL_MAX_TAGS) {
        size_t n = json_array_size(next);
        json_decref(next);
        return fail(k, "LimitExceededException", "Firehose %s would have %zu "
                    "tags: the limit is %d per stream", name, n,
                    CONTROL_MAX_TAGS);
    }
    old = cs->tags;
    cs->tags = next;
    return tags_changed(k, cs, old);
}

static int op_untag(struct call *k)
{
    struct streams_item *it;
    struct ctl_stream *cs;
    const char *name;
    json_t *keys = json_object_get(k->req, "TagKeys"), *v, *next, *old;
    size_t i, at;

    if (need_str(k, "DeliveryStreamName", "deliveryStreamName", &name) != 0)
        return 0;
    if (keys == NULL)
        return fail(k, "ValidationException", "1 validation error detected: "
                    "Value null at 'tagKeys' failed to satisfy constraint: "
                    "Member must not be null");
    if (!json_is_array(keys))
        return fail(k, "SerializationException", "TagKeys must be a list");
    if (json_array_size(keys) < 1 || json_array_size(keys) > 50)
        return fail(k, "ValidationException", "1 validation error detected: "
                    "Value at 'tagKeys' failed to satisfy constraint: Member "
                    "must have length %s", json_array_size(keys) < 1
                    ? "greater than or equal to 1"
                    : "less than or equal to 50");
    json_array_foreach(keys, i, v)
        if (!json_is_string(v))
            return fail(k, "SerializationException", "TagKeys[%zu] must be "
                        "a string", i);
    streams_rdlock(k->ctl->set);
    it = streams_find(k->ctl->set, name);
    streams_unlock(k->ctl->set);
    if (it == NULL)
        return not_found(k, name);
    cs = it->owner;
    if ((next = json_deep_copy(cs->tags)) == NULL)
        return fail(k, "InternalFailure", "out of memory");
    json_array_foreach(keys, i, v)
        if (tag_find(next, json_string_value(v), &at) != NULL)
            json_array_remove(next, at);
    old = cs->tags;
    cs->tags = next;
    return tags_changed(k, cs, old);
}

static int cmp_tags(const void *x, const void *y)
{
    json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;

    return strcmp(json_string_value(json_object_get(a, "Key")),
                  json_string_value(json_object_get(b, "Key")));
}

static int op_list_tags(struct call *k)
{
    struct streams_item *it;
    struct ctl_stream *cs;
    const char *name, *after = NULL;
    long long limit = 50;
    json_t *v, *out, *sorted[CONTROL_MAX_TAGS];
    size_t i, n = 0;
    int more = 0;

    if (need_str(k, "DeliveryStreamName", "deliveryStreamName", &name) != 0 ||
        opt_int(k, "Limit", "limit", 1, 50, &limit) != 0)
        return 0;
    if ((v = json_object_get(k->req, "ExclusiveStartTagKey")) != NULL) {
        if (!json_is_string(v))
            return fail(k, "SerializationException",
                        "ExclusiveStartTagKey must be a string");
        after = json_string_value(v);
    }
    streams_rdlock(k->ctl->set);
    it = streams_find(k->ctl->set, name);
    streams_unlock(k->ctl->set);
    if (it == NULL)
        return not_found(k, name);
    cs = it->owner;
    json_array_foreach(cs->tags, i, v)
        if (n < CONTROL_MAX_TAGS)
            sorted[n++] = v;
    qsort(sorted, n, sizeof(*sorted), cmp_tags);
    out = json_array();
    for (i = 0; out && i < n; i++) {
        if (after && strcmp(json_string_value(json_object_get(sorted[i],
                                                              "Key")),
                            after) <= 0)
            continue;
        if ((long long)json_array_size(out) == limit) {
            more = 1;
            break;
        }
        json_array_append(out, sorted[i]);
    }
    return reply(k, out ? json_pack("{s:o,s:b}", "Tags", out, "HasMoreTags",
                                    more) : NULL);
}

/* --------------------------------------------------------- the API */

int control_call(struct control *ctl, const char *op, const char *body,
                 size_t len, struct buf *out, struct control_reply *r)
{
    static const struct {
        const char *name;
        int (*fn)(struct call *k);
    } ops[] = {
        { "CreateDeliveryStream", op_create },
        { "DeleteDeliveryStream", op_delete },
        { "DescribeDeliveryStream", op_describe },
        { "ListDeliveryStreams", op_list },
        { "UpdateDestination", op_update },
        { "TagDeliveryStream", op_tag },
        { "UntagDeliveryStream", op_untag },
        { "ListTagsForDeliveryStream", op_list_tags },
    };
    struct call k = { ctl, out, r, NULL };
    json_error_t je;
    size_t i;

    for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (strcmp(op, ops[i].name) == 0)
            break;
    if (i == sizeof(ops) / sizeof(ops[0]))
        return -1;
    k.req = len == 0 ? json_object()
                     : json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (k.req == NULL || !json_is_object(k.req)) {
        fail(&k, "SerializationException", "Malformed request body: %s",
             k.req ? "not a JSON object" : je.text);
        json_decref(k.req);
        return 0;
    }
    pthread_mutex_lock(&ctl->mu);
    ops[i].fn(&k);
    pthread_mutex_unlock(&ctl->mu);
    json_decref(k.req);
    return 0;
}

int control_new(const struct cfg *c, struct streams *set,
                struct xform_host *xh, struct control **out, struct err *e)
{
    struct control *ctl;
    json_error_t je;
    json_t *root;

    *out = NULL;
    ctl = calloc(1, sizeof(*ctl));
    if (ctl == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    ctl->c = c;
    ctl->svc = &c->service;
    ctl->set = set;
    ctl->xh = xh;
    if ((size_t)snprintf(ctl->dir, sizeof(ctl->dir), "%s/streams",
                         c->service.state_dir) >= sizeof(ctl->dir) - 100) {
        free(ctl);
        return err_set(e, ERR_INVAL, "StateDirectory '%s' is too long",
                       c->service.state_dir);
    }
    /* The config file's own text, for complete descriptions; a config
     * from a string (tests) has none. */
    root = c->path ? json_load_file(c->path, 0, &je) : NULL;
    ctl->file_streams = json_incref(json_object_get(root,
                                                    "DeliveryStreams"));
    json_decref(root);
    pthread_mutex_init(&ctl->mu, NULL);
    pthread_mutex_init(&ctl->jobs_mu, NULL);
    pthread_cond_init(&ctl->jobs_cond, NULL);
    *out = ctl;
    return 0;
}

int control_adopt(struct control *ctl, size_t i, struct stream *st,
                  struct err *e)
{
    const struct cfg_stream *cfg = &ctl->c->streams[i];
    struct ctl_stream *cs = cs_new(cfg->name);
    struct streams_item item;
    json_t *conf;

    if (cs == NULL) {
        stream_free(st);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    cs->from_config = 1;
    cs->cfg = (struct cfg_stream *)cfg;
    cs->created_ms = stream_created_ms(st);
    json_decref(cs->tags);
    cs->tags = tags_json(cfg);
    conf = json_array_get(ctl->file_streams, i);
    cs->conf = json_is_object(conf) ? json_deep_copy(conf) : NULL;
    json_object_del(cs->conf, "Tags");
    memset(&item, 0, sizeof(item));
    item.name = cs->name;
    item.st = st;
    item.status = STREAMS_CREATING;
    item.owner = cs;
    streams_wrlock(ctl->set);
    if (streams_add(ctl->set, &item, NULL, e) != 0) {
        streams_unlock(ctl->set);
        stream_free(st);
        cs_free(cs);
        return -1;
    }
    streams_unlock(ctl->set);
    return 0;
}

/* One persisted stream; 0, or -1 with 'e' saying why it is skipped. */
static int load_one(struct control *ctl, const char *file, struct err *e)
{
    struct ctl_stream *cs = NULL;
    struct cfg_stream *cfg = NULL;
    struct streams_item item;
    struct stream *st = NULL;
    char path[4200], *errors = NULL, name[80];
    json_error_t je;
    json_t *root, *conf, *ver, *tags, *created, *updated, *full;
    size_t n = strlen(file) - 5;

    snprintf(path, sizeof(path), "%s/%s", ctl->dir, file);
    if (n == 0 || n >= sizeof(name))
        return err_set(e, ERR_INVAL, "'%s' is not named <stream>.json", path);
    memcpy(name, file, n);
    name[n] = '\0';
    root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        return err_set(e, ERR_CORRUPT, "'%s' line %d: %s", path, je.line,
                       je.text);
    conf = json_object_get(root, "DeliveryStream");
    ver = json_object_get(root, "VersionId");
    tags = json_object_get(root, "Tags");
    created = json_object_get(root, "CreateTimestamp");
    updated = json_object_get(root, "LastUpdateTimestamp");
    if (!json_is_object(conf) || !json_is_string(ver) ||
        !json_is_number(created) || (tags && !json_is_array(tags)) ||
        strcmp(json_string_value(json_object_get(conf, "DeliveryStreamName"))
               ? json_string_value(json_object_get(conf,
                                                   "DeliveryStreamName"))
               : "", name) != 0) {
        json_decref(root);
        return err_set(e, ERR_CORRUPT, "'%s' lacks DeliveryStream (named "
                       "'%s'), VersionId or CreateTimestamp", path, name);
    }
    full = json_deep_copy(conf);
    if (full != NULL && json_array_size(tags) > 0)
        json_object_set(full, "Tags", tags);
    if (full == NULL || parse_stream(full, path, ctl->svc, &cfg,
                                     &errors) != 0) {
        json_decref(full);
        json_decref(root);
        err_set(e, ERR_INVAL, "%s", errors ? errors : "out of memory");
        free(errors);
        return -1;
    }
    json_decref(full);
    if ((cs = cs_new(name)) == NULL)
        goto nomem;
    free(cfg->version_id);
    cfg->version_id = strdup(json_string_value(ver));
    if (cfg->version_id == NULL)
        goto nomem;
    cs->cfg = cfg;
    cfg = NULL;
    cs->conf = json_incref(conf);
    json_decref(cs->tags);
    cs->tags = tags_json(cs->cfg);
    cs->created_ms = (int64_t)(json_number_value(created) * 1000.0 + 0.5);
    if (json_is_number(updated))
        cs->updated_ms = (int64_t)(json_number_value(updated) * 1000.0 + 0.5);
    json_decref(root);
    root = NULL;
    if (lua_ready(ctl, cs->cfg, e) != 0 ||
        stream_open(cs->cfg, ctl->svc, ctl->xh, &st, e) != 0) {
        cs_free(cs);
        return -1;
    }
    memset(&item, 0, sizeof(item));
    item.name = cs->name;
    item.st = st;
    item.status = STREAMS_CREATING;
    item.owner = cs;
    streams_wrlock(ctl->set);
    if (streams_add(ctl->set, &item, NULL, e) != 0) {
        streams_unlock(ctl->set);
        stream_free(st);
        cs_free(cs);
        return -1;
    }
    streams_unlock(ctl->set);
    return 0;
nomem:
    json_decref(root);
    cfg_stream_free(cfg);
    cs_free(cs);
    return err_set(e, ERR_NOMEM, "out of memory");
}

int control_load(struct control *ctl, struct err *e)
{
    struct dirent *de;
    DIR *d;

    if (util_mkdirs(ctl->dir, e) != 0)
        return -1;
    d = opendir(ctl->dir);
    if (d == NULL)
        return err_sys(e, errno, "reading '%s' failed", ctl->dir);
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        struct err le = { 0, "" };
        char name[80];

        if (n <= 5 || strcmp(de->d_name + n - 5, ".json") != 0)
            continue;
        snprintf(name, sizeof(name), "%.*s", (int)(n - 5), de->d_name);
        streams_rdlock(ctl->set);
        if (streams_find(ctl->set, name) != NULL) {
            streams_unlock(ctl->set);
            log_msg(LOG_WARN, "control", "delivery stream '%s' is in the "
                    "config file and in '%s/%s' (made through the API): the "
                    "config file wins; delete that file if it is stale",
                    name, ctl->dir, de->d_name);
            continue;
        }
        streams_unlock(ctl->set);
        if (load_one(ctl, de->d_name, &le) != 0)
            log_msg(LOG_ERROR, "control", "skipping the delivery stream "
                    "saved in '%s/%s': %s", ctl->dir, de->d_name, le.msg);
    }
    closedir(d);
    return 0;
}

int control_start(struct control *ctl, struct err *e)
{
    int rc = 0;

    streams_wrlock(ctl->set);
    for (size_t i = 0; i < streams_count(ctl->set) && rc == 0; i++) {
        struct streams_item *it = streams_at(ctl->set, i);

        if (it->status != STREAMS_CREATING || it->st == NULL)
            continue;
        rc = stream_start(it->st, e);
        if (rc == 0)
            it->status = STREAMS_ACTIVE;
    }
    streams_unlock(ctl->set);
    return rc;
}

void control_free(struct control *ctl)
{
    if (ctl == NULL)
        return;
    atomic_store(&ctl->stop, 1);
    pthread_mutex_lock(&ctl->jobs_mu);
    while (ctl->jobs > 0)
        pthread_cond_wait(&ctl->jobs_cond, &ctl->jobs_mu);
    pthread_mutex_unlock(&ctl->jobs_mu);
    streams_wrlock(ctl->set);
    while (streams_count(ctl->set) > 0) {
        struct streams_item *it = streams_at(ctl->set, 0);
        struct ctl_stream *cs = it->owner;

        stream_free(it->st);
        streams_remove(ctl->set, it);
        cs_free(cs);
    }
    streams_unlock(ctl->set);
    xform_host_free(ctl->own_xh);
    json_decref(ctl->file_streams);
    pthread_mutex_destroy(&ctl->mu);
    pthread_mutex_destroy(&ctl->jobs_mu);
    pthread_cond_destroy(&ctl->jobs_cond);
    free(ctl);
}
