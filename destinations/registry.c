/* registry.c - the one place that knows every destination type. */
#include <stdio.h>
#include <stdlib.h>

#include "dest.h"

static const struct dest_type *const dest_types[] = {
    &dest_local, &dest_s3, &dest_http, &dest_opensearch, NULL,
};

struct dest *dest_new(const struct cfg_stream *s,
                      const struct cfg_service *svc, struct err *e)
{
    const struct dest_type *t = NULL;
    struct dest *d;

    for (size_t i = 0; dest_types[i]; i++)
        if (dest_types[i]->kind == s->dest_kind)
            t = dest_types[i];
    if (t == NULL) {
        err_set(e, ERR_INVAL, "stream '%s': no destination type for it",
                s->name);
        return NULL;
    }
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    d->type = t;
    snprintf(d->id, sizeof(d->id), "dest:%s:%s", t->name, s->name);
    if (t->create(d, s, svc, e) != 0) {
        dest_free(d);
        return NULL;
    }
    return d;
}

void dest_free(struct dest *d)
{
    if (d == NULL)
        return;
    if (d->type != NULL)
        d->type->destroy(d);
    free(d);
}
