/* source.c - the source registry (see source.h). */
#include "source.h"

#include <stdlib.h>

#include "ksource.h"

static const struct source_type source_direct_put = {
    "direct_put", CFG_STREAM_DIRECT_PUT, NULL, NULL, NULL, NULL,
};

static const struct source_type *const source_types[] = {
    &source_direct_put, &ksource_type, NULL,
};

struct source {
    const struct source_type *type;
    void *ctx;
};

int source_open(const struct cfg_stream *cfg, const struct cfg_service *svc,
                struct stream *st, struct source **out, struct err *e)
{
    const struct source_type *t = NULL;
    struct source *s;

    *out = NULL;
    for (size_t i = 0; source_types[i] != NULL; i++)
        if (source_types[i]->type == cfg->type)
            t = source_types[i];
    if (t == NULL)
        return err_set(e, ERR_INVAL, "stream '%s': no source for its "
                       "DeliveryStreamType", cfg->name);
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    s->type = t;
    if (t->open != NULL && t->open(cfg, svc, st, &s->ctx, e) != 0) {
        source_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

int source_start(struct source *s, struct err *e)
{
    return s->type->start != NULL ? s->type->start(s->ctx, e) : 0;
}

void source_free(struct source *s)
{
    if (s == NULL)
        return;
    if (s->type->free != NULL)
        s->type->free(s->ctx);
    free(s);
}

int source_status_json(struct source *s, struct buf *b, struct err *e)
{
    if (s == NULL || s->type->status_json == NULL)
        return 0;
    return s->type->status_json(s->ctx, b, e);
}
