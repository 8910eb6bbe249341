/* ctl.h - what the control plane's modules share (control.c, ctl_ops.c):
 * the insides of struct control (control.h), what it knows of each stream
 * (struct ctl_stream), the stream files <StateDirectory>/streams/<name>.json
 * and the job threads that finish a Create or a Delete. The operations
 * (ctl_ops.c) call these holding control.mu, start-up (control.c) before
 * any operation can run; the job threads take control.mu themselves.
 * Nothing here is for the rest of the program. */
#ifndef FH_CTL_H
#define FH_CTL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "control.h"

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

/* A stream record named 'name' (copied), with empty tags; NULL when out
 * of memory. */
struct ctl_stream *ctl_stream_new(const char *name);
void ctl_stream_free(struct ctl_stream *cs);        /* NULL is a no-op */

/* Save 'cs' (borrowed) as <dir>/<name>.json: temp file, fsync, rename,
 * directory fsync. */
int ctl_persist(struct control *ctl, const struct ctl_stream *cs,
                struct err *e);
/* Remove the file of stream 'name'; a missing file is no error. */
int ctl_unpersist(struct control *ctl, const char *name, struct err *e);

/* The Lua host a stream needs, made on first use (ctl->own_xh), and its
 * script checked. */
int ctl_lua_ready(struct control *ctl, const struct cfg_stream *cfg,
                  struct err *e);
/* Tags of a cfg_stream as the JSON list [{"Key", "Value"?}]; new
 * reference, NULL when out of memory. */
json_t *ctl_tags_json(const struct cfg_stream *cfg);
/* Validate a stream object (borrowed) with the config loader; *cfg (caller
 * frees) on success, else the error lines in *errors (caller frees). */
int ctl_parse_stream(json_t *obj, const char *name,
                     const struct cfg_service *svc,
                     struct cfg_stream **cfg, char **errors);

/* Run job 'fn' (ctl_create_job or ctl_delete_job) on 'it' in a detached
 * thread that control_free() waits for. */
int ctl_job_spawn(struct control *ctl, void *(*fn)(void *),
                  struct streams_item *it, struct err *e);
/* CREATING -> ACTIVE (or CREATING_FAILED). */
void *ctl_create_job(void *arg);
/* DELETING: deliver what is spooled (or not: force), then remove the
 * stream, its spool and its file; frees the ctl_stream. */
void *ctl_delete_job(void *arg);

#endif
