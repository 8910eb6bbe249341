#include "xform.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "../delivery/errdoc.h"
#include "../delivery/log.h"
#include "xform_vm.h"

/* Defaults, also Service.LuaInstructionBudget / LuaMemoryLimitBytes's: 100M
 * VM instructions are a few hundred ms of pure Lua, far above what a
 * transform needs per batch (the JSON example costs ~10 per record) yet
 * short enough that a looping script costs little; 64 MiB holds a cjson
 * decode of any 1 MB record many times over plus a generous global
 * table. */
#define XF_DEF_INSTRUCTIONS 100000000ULL
#define XF_DEF_MEMORY       ((size_t)64 << 20)
#define XF_DEF_RETRIES      3
#define XF_MAX_SCRIPTS      64
#define XF_MAX_NAME         128
#define XF_MIN_OUTPUT       ((size_t)64 << 20)
#define XF_POLL_MS          2000
#define XF_ARENA_KEEP       ((size_t)1 << 20)   /* arena never shrinks below */

static const char *const cjson_paths[] = {
    "/usr/lib/x86_64-linux-gnu/lua/5.4/cjson.so",
    "/usr/lib/aarch64-linux-gnu/lua/5.4/cjson.so",
    "/usr/local/lib/lua/5.4/cjson.so",
    "/usr/lib/lua/5.4/cjson.so",
    NULL,
};

struct xf_script {
    char name[XF_MAX_NAME];
    atomic_uint gen;                /* bumped by the watcher on a change */
    /* The rest under host->mu. */
    char *good;                     /* source of the newest good version */
    size_t good_len;
    unsigned good_gen, version;
    unsigned err_gen;
    char last_error[256];
    struct stat st;                 /* polling mode: last seen */
};

struct xform_host {
    const char *dir;
    pthread_mutex_t mu;
    struct xf_script *scripts[XF_MAX_SCRIPTS];
    size_t n;
    int ifd;                        /* inotify, or -1: polling */
    int wake[2];
    pthread_t thread;
    int started;
    atomic_uint dir_gen;            /* bumped when another .lua changes */
    void *cjson;
    lua_CFunction cjson_open, cjson_safe_open;
};

struct xform {
    struct xform_host *h;
    struct xf_script *s;
    struct xform_limits lim;
    struct xform_vm *vm;            /* NULL after a memory failure until
                                     * rebuilt */
    char *src;                      /* the source vm runs */
    size_t src_len;
    unsigned gen, dir_gen;          /* generations last looked at */
    char who[XF_MAX_NAME + 8];
};

/* A script name is a file directly in the transforms directory. */
static int name_ok(const char *name, struct err *e)
{
    size_t n = strlen(name);

    if (n == 0 || n >= XF_MAX_NAME || name[0] == '.' ||
        strchr(name, '/') != NULL)
        return err_set(e, ERR_INVAL, "script name '%s' must be a file name "
                       "in the transforms directory (no '/', not starting "
                       "with '.', under %d bytes)", name, XF_MAX_NAME);
    return 0;
}

/* ---- host --------------------------------------------------------------- */

/* A change to 'name' in the directory ("" = unknown: everything). */
static void bump(struct xform_host *h, const char *name)
{
    size_t n = strlen(name);
    int found = 0;

    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->n; i++)
        if (n == 0 || strcmp(h->scripts[i]->name, name) == 0) {
            atomic_fetch_add(&h->scripts[i]->gen, 1);
            found = 1;
        }
    pthread_mutex_unlock(&h->mu);
    /* Another .lua file may be a module the scripts require; "..data" is
     * the directory a Kubernetes ConfigMap swaps in. Editors' temporary
     * files are neither. */
    if (n == 0 || (!found && ((n > 4 && strcmp(name + n - 4, ".lua") == 0) ||
                              strncmp(name, "..", 2) == 0)))
        atomic_fetch_add(&h->dir_gen, 1);
}

static void poll_scripts(struct xform_host *h)
{
    char path[PATH_MAX];
    struct stat st;

    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->n; i++) {
        struct xf_script *s = h->scripts[i];
        snprintf(path, sizeof(path), "%s/%s", h->dir, s->name);
        if (stat(path, &st) != 0)
            memset(&st, 0, sizeof(st));
        if (st.st_ino != s->st.st_ino || st.st_size != s->st.st_size ||
            st.st_mtim.tv_sec != s->st.st_mtim.tv_sec ||
            st.st_mtim.tv_nsec != s->st.st_mtim.tv_nsec) {
            s->st = st;
            atomic_fetch_add(&s->gen, 1);
        }
    }
    pthread_mutex_unlock(&h->mu);
}

static void *watch_main(void *arg)
{
    struct xform_host *h = arg;
    char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    struct pollfd p[2] = {
        { .fd = h->wake[0], .events = POLLIN },
        { .fd = h->ifd, .events = POLLIN },
    };

    for (;;) {
        int r = poll(p, h->ifd >= 0 ? 2 : 1, h->ifd >= 0 ? -1 : XF_POLL_MS);
        if (r < 0 && errno != EINTR)
            break;
        if (p[0].revents != 0)
            break;
        if (h->ifd < 0) {
            poll_scripts(h);
            continue;
        }
        if (r <= 0 || p[1].revents == 0)
            continue;
        ssize_t n = read(h->ifd, ev, sizeof(ev));
        for (char *q = ev; n > 0 && q < ev + n;) {
            const struct inotify_event *ie = (const void *)q;
            struct stat st;
            char path[PATH_MAX];
            q += sizeof(*ie) + ie->len;
            if (ie->mask & IN_Q_OVERFLOW) {
                bump(h, "");
                continue;
            }
            if (ie->len == 0)
                continue;
            /* A new regular file is still empty; its CLOSE_WRITE follows.
             * A new symlink is complete. */
            if (ie->mask & IN_CREATE) {
                snprintf(path, sizeof(path), "%s/%s", h->dir, ie->name);
                if (lstat(path, &st) != 0 || !S_ISLNK(st.st_mode))
                    continue;
            }
            bump(h, ie->name);
        }
    }
    return NULL;
}

struct xform_host *xform_host_new(const char *dir, struct err *e)
{
    struct xform_host *h;
    struct stat st;
    int rc;

    if (stat(dir, &st) != 0) {
        err_sys(e, errno, "transforms directory '%s'", dir);
        return NULL;
    }
    if (!S_ISDIR(st.st_mode)) {
        err_set(e, ERR_INVAL, "transforms directory '%s' is not a directory",
                dir);
        return NULL;
    }
    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    h->dir = dir;
    h->ifd = h->wake[0] = h->wake[1] = -1;
    pthread_mutex_init(&h->mu, NULL);
    for (int i = 0; cjson_paths[i] != NULL && h->cjson == NULL; i++)
        h->cjson = dlopen(cjson_paths[i], RTLD_NOW | RTLD_LOCAL);
    if (h->cjson != NULL) {
        void *f = dlsym(h->cjson, "luaopen_cjson");
        memcpy(&h->cjson_open, &f, sizeof(f));
        f = dlsym(h->cjson, "luaopen_cjson_safe");
        memcpy(&h->cjson_safe_open, &f, sizeof(f));
    }
    if (pipe(h->wake) != 0) {
        err_sys(e, errno, "pipe for the transforms watcher");
        goto fail;
    }
    (void)fcntl(h->wake[0], F_SETFD, FD_CLOEXEC);
    (void)fcntl(h->wake[1], F_SETFD, FD_CLOEXEC);
    h->ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (h->ifd < 0 || inotify_add_watch(h->ifd, dir, IN_CLOSE_WRITE |
            IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE) < 0) {
        log_msg(LOG_WARN, "xform", "cannot watch '%s' with inotify (%s): "
                "polling the scripts every %d s instead", dir,
                strerror(errno), XF_POLL_MS / 1000);
        if (h->ifd >= 0)
            close(h->ifd);
        h->ifd = -1;
    }
    rc = pthread_create(&h->thread, NULL, watch_main, h);
    if (rc != 0) {
        err_sys(e, rc, "cannot start the transforms watcher thread");
        goto fail;
    }
    h->started = 1;
    return h;
fail:
    xform_host_free(h);
    return NULL;
}

void xform_host_free(struct xform_host *h)
{
    if (h == NULL)
        return;
    if (h->started) {
        ssize_t w;
        do
            w = write(h->wake[1], "x", 1);
        while (w < 0 && errno == EINTR);
        pthread_join(h->thread, NULL);
    }
    if (h->ifd >= 0)
        close(h->ifd);
    for (int i = 0; i < 2; i++)
        if (h->wake[i] >= 0)
            close(h->wake[i]);
    for (size_t i = 0; i < h->n; i++) {
        free(h->scripts[i]->good);
        free(h->scripts[i]);
    }
    if (h->cjson != NULL)
        dlclose(h->cjson);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

static struct xf_script *host_script(struct xform_host *h, const char *name,
                                     struct err *e)
{
    struct xf_script *s = NULL;
    char path[PATH_MAX];

    if (name_ok(name, e) != 0)
        return NULL;
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->n && s == NULL; i++)
        if (strcmp(h->scripts[i]->name, name) == 0)
            s = h->scripts[i];
    if (s == NULL && h->n == XF_MAX_SCRIPTS)
        err_set(e, ERR_FULL, "more than %d Lua scripts", XF_MAX_SCRIPTS);
    else if (s == NULL && (s = calloc(1, sizeof(*s))) == NULL)
        err_set(e, ERR_NOMEM, "out of memory");
    else if (s->name[0] == '\0') {
        memcpy(s->name, name, strlen(name) + 1);
        atomic_init(&s->gen, 0);
        snprintf(path, sizeof(path), "%s/%s", h->dir, name);
        (void)stat(path, &s->st);
        h->scripts[h->n++] = s;
    }
    pthread_mutex_unlock(&h->mu);
    return s;
}

/* A worker loaded generation g of s from src: the newest good version. */
static void note_good(struct xform_host *h, struct xf_script *s, unsigned g,
                      const char *src, size_t len)
{
    char *copy;

    pthread_mutex_lock(&h->mu);
    if (s->good == NULL || (g > s->good_gen && (s->good_len != len ||
                            memcmp(s->good, src, len) != 0))) {
        if ((copy = malloc(len + 1)) != NULL) {
            memcpy(copy, src, len);
            copy[len] = '\0';
            free(s->good);
            s->good = copy;
            s->good_len = len;
            s->version++;
            if (s->version > 1)
                log_msg(LOG_INFO, "xform", "script '%s' reloaded: version "
                        "%u", s->name, s->version);
        }
    }
    if (g >= s->good_gen) {
        s->good_gen = g;
        if (g >= s->err_gen)
            s->last_error[0] = '\0';
    }
    pthread_mutex_unlock(&h->mu);
}

static void note_error(struct xform_host *h, struct xf_script *s, unsigned g,
                       const char *msg)
{
    pthread_mutex_lock(&h->mu);
    /* Logged once per change, not once per worker or event. */
    if (g > s->err_gen && strncmp(s->last_error, msg,
                                  sizeof(s->last_error) - 1) != 0) {
        snprintf(s->last_error, sizeof(s->last_error), "%s", msg);
        log_msg(LOG_ERROR, "xform", "reload of '%s' failed, version %u "
                "keeps running: %s", s->name, s->version, msg);
    }
    if (g > s->err_gen)
        s->err_gen = g;
    pthread_mutex_unlock(&h->mu);
}

static void vm_conf(struct xform_host *h, const struct xf_script *s,
                    const char *who, const struct xform_limits *lim,
                    struct xform_vm_conf *c)
{
    *c = (struct xform_vm_conf){
        .dir = h->dir, .name = s->name, .who = who,
        .instructions = lim->instructions, .memory_bytes = lim->memory_bytes,
        .cjson_open = h->cjson_open, .cjson_safe_open = h->cjson_safe_open,
    };
}

static struct xform_vm *vm_build(struct xform *x, const char *src,
                                 size_t len, struct err *e)
{
    struct xform_vm_conf c;

    vm_conf(x->h, x->s, x->who, &x->lim, &c);
    return xform_vm_new(&c, src, len, e);
}

static const struct xform_limits *limits(const struct xform_limits *in,
                                         struct xform_limits *out)
{
    *out = in != NULL ? *in : (struct xform_limits){ 0, 0, -1 };
    if (out->instructions == 0)
        out->instructions = XF_DEF_INSTRUCTIONS;
    if (out->instructions > INT64_MAX)
        out->instructions = INT64_MAX;
    if (out->memory_bytes == 0)
        out->memory_bytes = XF_DEF_MEMORY;
    if (out->retries < 0)
        out->retries = XF_DEF_RETRIES;
    return out;
}

int xform_host_check(struct xform_host *h, const char *script,
                     struct err *e)
{
    struct xf_script *s = host_script(h, script, e);
    struct xform_limits lim;
    unsigned g;
    char *src;
    size_t len;
    struct xform_vm *vm;
    struct xform_vm_conf c;

    if (s == NULL)
        return -1;
    g = atomic_load(&s->gen);
    if (xform_vm_read(h->dir, script, &src, &len, e) != 0)
        return -1;
    vm_conf(h, s, "xform", limits(NULL, &lim), &c);
    vm = xform_vm_new(&c, src, len, e);
    if (vm != NULL)
        note_good(h, s, g, src, len);
    xform_vm_free(vm);
    free(src);
    return vm != NULL ? 0 : -1;
}

void xform_host_status(struct xform_host *h, const char *script,
                       unsigned *version, char *last_error, size_t n)
{
    *version = 0;
    if (n > 0)
        last_error[0] = '\0';
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->scripts[i]->name, script) == 0) {
            *version = h->scripts[i]->version;
            if (n > 0)
                snprintf(last_error, n, "%s", h->scripts[i]->last_error);
        }
    pthread_mutex_unlock(&h->mu);
}

/* ---- a worker's script -------------------------------------------------- */

struct xform *xform_new(struct xform_host *h, const char *script,
                        const struct xform_limits *lim, struct err *e)
{
    struct xf_script *s = host_script(h, script, e);
    struct xform *x;

    if (s == NULL)
        return NULL;
    if ((x = calloc(1, sizeof(*x))) == NULL) {
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    x->h = h;
    x->s = s;
    (void)limits(lim, &x->lim);
    snprintf(x->who, sizeof(x->who), "xform:%s", script);
    /* The newest good version when there is one (a newer broken file must
     * not stop a new worker), else the file. */
    pthread_mutex_lock(&h->mu);
    if (s->good != NULL && (x->src = malloc(s->good_len + 1)) != NULL) {
        memcpy(x->src, s->good, s->good_len + 1);
        x->src_len = s->good_len;
        x->gen = s->good_gen;
    }
    pthread_mutex_unlock(&h->mu);
    x->dir_gen = atomic_load(&h->dir_gen);
    if (x->src == NULL) {
        x->gen = atomic_load(&s->gen);
        if (xform_vm_read(h->dir, script, &x->src, &x->src_len, e) != 0)
            goto fail;
    }
    x->vm = vm_build(x, x->src, x->src_len, e);
    if (x->vm == NULL)
        goto fail;
    note_good(h, s, x->gen, x->src, x->src_len);
    return x;
fail:
    xform_free(x);
    return NULL;
}

void xform_free(struct xform *x)
{
    if (x == NULL)
        return;
    xform_vm_free(x->vm);
    free(x->src);
    free(x);
}

/* Between batches: pick up a changed file. A file that does not load
 * leaves the running version (and its state) alone; so does a file that
 * was only touched, unless a module it may require changed. */
static void xform_refresh(struct xform *x)
{
    unsigned g = atomic_load(&x->s->gen);
    unsigned dg = atomic_load(&x->h->dir_gen);
    int modules = dg != x->dir_gen;
    struct xform_vm *vm;
    struct err le;
    char *src;
    size_t len;

    if (g == x->gen && !modules)
        return;
    x->gen = g;
    x->dir_gen = dg;
    if (xform_vm_read(x->h->dir, x->s->name, &src, &len, &le) != 0) {
        note_error(x->h, x->s, g, le.msg);
        return;
    }
    if (!modules && x->vm != NULL && len == x->src_len &&
        memcmp(src, x->src, len) == 0) {
        free(src);
        note_good(x->h, x->s, g, x->src, x->src_len);
        return;
    }
    vm = vm_build(x, src, len, &le);
    if (vm == NULL) {
        free(src);
        note_error(x->h, x->s, g, le.msg);
        return;
    }
    xform_vm_free(x->vm);
    free(x->src);
    x->vm = vm;
    x->src = src;
    x->src_len = len;
    note_good(x->h, x->s, g, src, len);
}

/* Empty the arena for a batch that needs about 'need' bytes of it. When
 * it holds more than 4 times that (and over XF_ARENA_KEEP), shrink it to
 * 'need': doubling regrows it in a few steps if the next batch is large
 * again, while a worker that once saw a huge batch does not keep that
 * memory for ever. */
static void arena_fit(struct buf *arena, size_t need)
{
    unsigned char *p;

    arena->len = 0;
    if (need < XF_ARENA_KEEP)
        need = XF_ARENA_KEEP;
    if (arena->cap / 4 <= need)
        return;
    if ((p = realloc(arena->p, need)) == NULL)
        return;                     /* keep the larger one */
    arena->p = p;
    arena->cap = need;
}

int xform_run(struct xform *x, const struct xform_in *in, size_t n,
              struct xform_out *out, struct buf *arena, struct err *e)
{
    size_t total = 0, cap, mlen;
    const char *code = "Lua.RuntimeError";
    char msg[XFORM_VM_MAX_MSG];
    struct err le;
    int attempt;

    xform_refresh(x);
    for (size_t i = 0; i < n; i++)
        total += in[i].len;
    arena_fit(arena, total + 16 * n);
    /* Output may grow a batch 4-fold (64 MiB at least), not without end. */
    cap = total > XF_MIN_OUTPUT / 4 ? total * 4 : XF_MIN_OUTPUT;
    for (attempt = 1; ; attempt++) {
        enum xform_vm_status rs;
        arena->len = 0;
        if (x->vm == NULL &&
            (x->vm = vm_build(x, x->src, x->src_len, &le)) == NULL) {
            code = "Lua.RuntimeError";
            snprintf(msg, sizeof(msg), "cannot rebuild the Lua state: %s",
                     le.msg);
            break;
        }
        if (buf_reserve(arena, total + 16 * n, e) != 0)
            return -1;
        rs = xform_vm_run(x->vm, in, n, out, arena, cap, msg, sizeof(msg),
                          e);
        if (rs == XFORM_VM_OK) {
            for (size_t i = 0; i < n; i++)
                out[i].attempts = attempt;
            return 0;
        }
        if (rs == XFORM_VM_ARENA)
            return -1;
        code = rs == XFORM_VM_TIMEOUT ? "Lua.Timeout" :
               rs == XFORM_VM_MEMORY ? "Lua.MemoryLimitExceeded" :
               "Lua.RuntimeError";
        if (rs == XFORM_VM_MEMORY) {    /* its globals may hold the memory */
            xform_vm_free(x->vm);
            x->vm = NULL;
        }
        log_msg(LOG_DEBUG, x->who, "attempt %d of %d failed: %s: %s",
                attempt, x->lim.retries + 1, code, msg);
        if (attempt > x->lim.retries)
            break;
    }
    arena->len = 0;
    mlen = strlen(msg);
    if (buf_append(arena, msg, mlen, e) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        out[i] = (struct xform_out){
            .result = XFORM_FAILED, .error_code = code, .msg_off = 0,
            .msg_len = mlen, .attempts = attempt,
        };
    log_msg(LOG_WARN, x->who, "batch of %zu records failed after %d "
            "attempt%s: %s: %s", n, attempt, attempt > 1 ? "s" : "", code,
            msg);
    return 0;
}

/* ---- results ------------------------------------------------------------ */

const char *xform_key(const char *keys, size_t len, const char *name)
{
    const char *p = keys, *end = keys + len;

    while (p < end) {
        const char *v = memchr(p, '\0', (size_t)(end - p));
        if (v == NULL || ++v >= end)
            return NULL;
        if (strcmp(p, name) == 0)
            return v;
        p = memchr(v, '\0', (size_t)(end - v));
        if (p == NULL)
            return NULL;
        p++;
    }
    return NULL;
}

int xform_failed_json(struct buf *out, const struct xform_out *o,
                      const struct buf *arena, const unsigned char *raw,
                      size_t raw_len, int64_t arrival_ms, int64_t ending_ms,
                      const char *script, struct err *e)
{
    struct errdoc d = {
        .attempts = o->attempts, .arrival_ms = arrival_ms,
        .code = o->error_code ? o->error_code : "Lua.RuntimeError",
        .message = o->msg_len ? (const char *)xform_ptr(arena, o->msg_off)
                              : "",
        .message_len = o->msg_len, .ending_ms = ending_ms,
        .raw = raw, .raw_len = raw_len, .lambda_arn = script,
    };

    return errdoc_append(out, &d, e);
}
