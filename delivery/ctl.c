/* ctl.c - see ctl.h. */
#include "ctl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define CONTROL_DELETE_SLACK_MS 30000

/* --------------------------------------------------------- persistence */

static int file_path(const struct control *ctl, const char *name,
                     const char *suffix, char *out, size_t n, struct err *e)
{
    if ((size_t)snprintf(out, n, "%s/%s.json%s", ctl->dir, name, suffix) >= n)
        return err_set(e, ERR_INVAL, "StateDirectory '%s' is too long",
                       ctl->svc->state_dir);
    return 0;
}

/* <dir>/<name>.json, atomically and durably (util_write_file). */
int ctl_persist(struct control *ctl, const struct ctl_stream *cs,
                struct err *e)
{
    char path[4200], *s;
    json_t *j;
    int rc;

    if (file_path(ctl, cs->name, "", path, sizeof(path), e) != 0)
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
    rc = util_write_file(path, s, 0600, e);
    free(s);
    return rc;
}

int ctl_unpersist(struct control *ctl, const char *name, struct err *e)
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

void ctl_stream_free(struct ctl_stream *cs)
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

struct ctl_stream *ctl_stream_new(const char *name)
{
    struct ctl_stream *cs = calloc(1, sizeof(*cs));

    if (cs == NULL)
        return NULL;
    cs->name = strdup(name);
    cs->tags = json_array();
    if (cs->name == NULL || cs->tags == NULL) {
        ctl_stream_free(cs);
        return NULL;
    }
    return cs;
}

/* The Lua host a stream needs, made on first use. */
int ctl_lua_ready(struct control *ctl, const struct cfg_stream *cfg,
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
json_t *ctl_tags_json(const struct cfg_stream *cfg)
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
int ctl_parse_stream(json_t *obj, const char *name,
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

int ctl_job_spawn(struct control *ctl, void *(*fn)(void *),
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
void *ctl_create_job(void *arg)
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
void *ctl_delete_job(void *arg)
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
    if (ctl_unpersist(ctl, cs->name, &e) != 0)
        log_msg(LOG_ERROR, "control", "delivery stream '%s' deleted, but "
                "%s: remove the file or it comes back at the next start",
                cs->name, e.msg);
    else
        log_msg(LOG_INFO, "control", "delivery stream '%s' deleted%s",
                cs->name, cs->force ? " (forced)" : "");
    pthread_mutex_unlock(&ctl->mu);
    ctl_stream_free(cs);
    free(j);
    job_done(ctl);
    return NULL;
}
