#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../delivery/util.h"

#define CKPT_VERSION 1
#define CKPT_MAX_BYTES ((size_t)64 << 20)
#define CKPT_ADVICE "; move it away to start over (files are then read " \
    "from their initialPosition and lines may be sent again)"

int ckpt_add(struct ckpt *c, const struct ckpt_entry *en, struct err *e)
{
    struct ckpt_entry *d;

    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct ckpt_entry *v = realloc(c->v, cap * sizeof(*v));

        if (v == NULL)
            return err_set(e, ERR_NOMEM, "out of memory for checkpoints");
        c->v = v;
        c->cap = cap;
    }
    d = &c->v[c->n];
    *d = *en;
    d->pattern = strdup(en->pattern);
    d->path = strdup(en->path);
    if (d->pattern == NULL || d->path == NULL) {
        free(d->pattern);
        free(d->path);
        return err_set(e, ERR_NOMEM, "out of memory for checkpoints");
    }
    c->n++;
    return 0;
}

void ckpt_clear(struct ckpt *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].pattern);
        free(c->v[i].path);
    }
    c->n = 0;
}

void ckpt_release(struct ckpt *c)
{
    ckpt_clear(c);
    free(c->v);
    memset(c, 0, sizeof(*c));
}

static int get_u64(json_t *o, const char *key, int base, uint64_t *out)
{
    json_t *v = json_object_get(o, key);
    const char *s;
    char *end;

    if (base == 10 && json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (!json_is_string(v))
        return -1;
    s = json_string_value(v);
    if (!((*s >= '0' && *s <= '9') || (base == 16 && *s >= 'a' && *s <= 'f')))
        return -1;
    errno = 0;
    *out = strtoull(s, &end, base);
    return errno != 0 || *end != '\0' ? -1 : 0;
}

static int parse(struct ckpt *c, json_t *root, const char *path,
                 struct err *e)
{
    json_t *files, *o, *v;
    struct ckpt_entry en;
    size_t i;
    const char *what = "";

    v = json_object_get(root, "version");
    if (!json_is_integer(v) || json_integer_value(v) != CKPT_VERSION)
        return err_set(e, ERR_CORRUPT, "checkpoint file '%s': no \"version\""
                       " %d (written by another program or version?)"
                       CKPT_ADVICE, path, CKPT_VERSION);
    files = json_object_get(root, "files");
    if (!json_is_array(files))
        return err_set(e, ERR_CORRUPT, "checkpoint file '%s': \"files\" is "
                       "not an array" CKPT_ADVICE, path);
    json_array_foreach(files, i, o) {
        uint64_t fp_len;
        json_t *pat = json_object_get(o, "filePattern");
        json_t *p = json_object_get(o, "path");

        memset(&en, 0, sizeof(en));
        if (!json_is_string(pat) || !json_is_string(p))
            what = "filePattern or path missing";
        else if (get_u64(o, "dev", 10, &en.dev) != 0 ||
                 get_u64(o, "inode", 10, &en.ino) != 0)
            what = "dev or inode missing or not a number";
        else if (get_u64(o, "fingerprintBytes", 10, &fp_len) != 0 ||
                 fp_len > CKPT_FP_MAX)
            what = "fingerprintBytes missing or above 1024";
        else if (get_u64(o, "fingerprint", 16, &en.fp) != 0)
            what = "fingerprint missing or not hex";
        else if (get_u64(o, "offset", 10, &en.offset) != 0 ||
                 en.offset > (uint64_t)INT64_MAX)
            what = "offset missing or out of range";
        else
            what = NULL;
        if (what != NULL)
            return err_set(e, ERR_CORRUPT, "checkpoint file '%s': files[%zu]:"
                           " %s" CKPT_ADVICE, path, i, what);
        en.fp_len = (uint32_t)fp_len;
        en.pattern = (char *)json_string_value(pat);
        en.path = (char *)json_string_value(p);
        if (ckpt_add(c, &en, e) != 0)
            return -1;
    }
    return 0;
}

int ckpt_load(struct ckpt *c, const char *path, int *exists, struct err *e)
{
    json_error_t je;
    json_t *root;
    FILE *f;
    long size;
    int rc;

    *exists = 0;
    f = fopen(path, "rb");
    if (f == NULL) {
        if (errno == ENOENT)
            return 0;
        return err_sys(e, errno, "cannot open checkpoint file '%s'", path);
    }
    *exists = 1;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        rc = err_sys(e, errno, "cannot read checkpoint file '%s'", path);
        fclose(f);
        return rc;
    }
    if (size == 0) {
        fclose(f);
        return err_set(e, ERR_CORRUPT, "checkpoint file '%s' is empty (a "
                       "crash of an old writer, or truncated by hand)"
                       CKPT_ADVICE, path);
    }
    if ((size_t)size > CKPT_MAX_BYTES) {
        fclose(f);
        return err_set(e, ERR_CORRUPT, "checkpoint file '%s' is %ld bytes, "
                       "above 64 MiB" CKPT_ADVICE, path, size);
    }
    root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    if (root == NULL)
        return err_set(e, ERR_CORRUPT, "checkpoint file '%s' is damaged "
                       "(line %d, column %d: %s)" CKPT_ADVICE, path, je.line,
                       je.column, je.text);
    rc = json_is_object(root) ? parse(c, root, path, e)
        : err_set(e, ERR_CORRUPT, "checkpoint file '%s' is not a JSON "
                  "object" CKPT_ADVICE, path);
    json_decref(root);
    if (rc != 0)
        ckpt_clear(c);
    return rc;
}

static json_t *to_json(const struct ckpt *c)
{
    json_t *root = json_object(), *files = json_array();
    char dev[24], ino[24], fp[24];

    if (root == NULL || files == NULL ||
        json_object_set_new(root, "version", json_integer(CKPT_VERSION)) ||
        json_object_set(root, "files", files) != 0)
        goto fail;
    for (size_t i = 0; i < c->n; i++) {
        const struct ckpt_entry *en = &c->v[i];
        json_t *o = json_object();

        snprintf(dev, sizeof(dev), "%" PRIu64, en->dev);
        snprintf(ino, sizeof(ino), "%" PRIu64, en->ino);
        snprintf(fp, sizeof(fp), "%016" PRIx64, en->fp);
        if (o == NULL || json_array_append_new(files, o) != 0 ||
            json_object_set_new(o, "filePattern",
                                json_string(en->pattern)) != 0 ||
            json_object_set_new(o, "path", json_string(en->path)) != 0 ||
            json_object_set_new(o, "dev", json_string(dev)) != 0 ||
            json_object_set_new(o, "inode", json_string(ino)) != 0 ||
            json_object_set_new(o, "fingerprintBytes",
                                json_integer(en->fp_len)) != 0 ||
            json_object_set_new(o, "fingerprint", json_string(fp)) != 0 ||
            json_object_set_new(o, "offset",
                                json_integer((json_int_t)en->offset)) != 0)
            goto fail;
    }
    json_decref(files);
    return root;
fail:
    json_decref(files);
    json_decref(root);
    return NULL;
}

int ckpt_save(const struct ckpt *c, const char *path, struct err *e)
{
    json_t *root = to_json(c);
    char *text = root ? json_dumps(root, JSON_INDENT(1)) : NULL;
    int rc;

    json_decref(root);
    if (text == NULL)
        return err_set(e, ERR_NOMEM, "out of memory writing checkpoints");
    rc = util_write_file(path, text, 0644, e);
    free(text);
    return rc;
}
