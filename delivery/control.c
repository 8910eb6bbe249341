/* control.c - see control.h. The operations are in ctl_ops.c, the state
 * they share (and the files and job threads) in ctl.c and the
 * descriptions in ctl_desc.c. */
#include "control.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_ops.h"
#include "log.h"

int control_call(struct control *ctl, const char *op, const char *body,
                 size_t len, struct buf *out, struct control_reply *r)
{
    return ctl_ops_call(ctl, op, body, len, out, r);
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

/* Put a stream into the set as CREATING; on failure both are freed. */
static int add_stream(struct control *ctl, struct ctl_stream *cs,
                      struct stream *st, struct err *e)
{
    struct streams_item item;

    memset(&item, 0, sizeof(item));
    item.name = cs->name;
    item.st = st;
    item.status = STREAMS_CREATING;
    item.owner = cs;
    streams_wrlock(ctl->set);
    if (streams_add(ctl->set, &item, NULL, e) != 0) {
        streams_unlock(ctl->set);
        stream_free(st);
        ctl_stream_free(cs);
        return -1;
    }
    streams_unlock(ctl->set);
    return 0;
}

int control_adopt(struct control *ctl, size_t i, struct stream *st,
                  struct err *e)
{
    const struct cfg_stream *cfg = &ctl->c->streams[i];
    struct ctl_stream *cs = ctl_stream_new(cfg->name);
    json_t *conf;

    if (cs == NULL) {
        stream_free(st);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    cs->from_config = 1;
    cs->cfg = (struct cfg_stream *)cfg;
    cs->created_ms = stream_created_ms(st);
    json_decref(cs->tags);
    cs->tags = ctl_tags_json(cfg);
    conf = json_array_get(ctl->file_streams, i);
    cs->conf = json_is_object(conf) ? json_deep_copy(conf) : NULL;
    json_object_del(cs->conf, "Tags");
    return add_stream(ctl, cs, st, e);
}

/* One persisted stream; 0, or -1 with 'e' saying why it is skipped. */
static int load_one(struct control *ctl, const char *file, struct err *e)
{
    struct ctl_stream *cs = NULL;
    struct cfg_stream *cfg = NULL;
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
    if (full == NULL || ctl_parse_stream(full, path, ctl->svc, &cfg,
                                         &errors) != 0) {
        json_decref(full);
        json_decref(root);
        err_set(e, ERR_INVAL, "%s", errors ? errors : "out of memory");
        free(errors);
        return -1;
    }
    json_decref(full);
    if ((cs = ctl_stream_new(name)) == NULL)
        goto nomem;
    free(cfg->version_id);
    cfg->version_id = strdup(json_string_value(ver));
    if (cfg->version_id == NULL)
        goto nomem;
    cs->cfg = cfg;
    cfg = NULL;
    cs->conf = json_incref(conf);
    json_decref(cs->tags);
    cs->tags = ctl_tags_json(cs->cfg);
    cs->created_ms = (int64_t)(json_number_value(created) * 1000.0 + 0.5);
    if (json_is_number(updated))
        cs->updated_ms = (int64_t)(json_number_value(updated) * 1000.0 + 0.5);
    json_decref(root);
    root = NULL;
    if (ctl_lua_ready(ctl, cs->cfg, e) != 0 ||
        stream_open(cs->cfg, ctl->svc, ctl->xh, &st, e) != 0) {
        ctl_stream_free(cs);
        return -1;
    }
    return add_stream(ctl, cs, st, e);
nomem:
    json_decref(root);
    cfg_stream_free(cfg);
    ctl_stream_free(cs);
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
        ctl_stream_free(cs);
    }
    streams_unlock(ctl->set);
    xform_host_free(ctl->own_xh);
    json_decref(ctl->file_streams);
    pthread_mutex_destroy(&ctl->mu);
    pthread_mutex_destroy(&ctl->jobs_mu);
    pthread_cond_destroy(&ctl->jobs_cond);
    free(ctl);
}
