/* libFuzzer target: kinesis_parse_records() on GetRecords reply bodies, in
 * a buffer of exactly their size so that ASan sees any read past it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../delivery/kinesis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct kinesis_batch b;      /* reused, as a reader does */
    struct err e = { 0, "" };
    char *body = malloc(size ? size : 1);

    if (body == NULL)
        return 0;
    memcpy(body, data, size);
    if (kinesis_parse_records(body, size, &b, &e) == 0) {
        /* Every view must lie inside the body. */
        for (size_t i = 0; i < b.n; i++) {
            const struct kinesis_rec *r = &b.recs[i];
            const char *d = (const char *)r->data;

            if ((r->len > 0 && (d < body || d + r->len > body + size)) ||
                r->pk < body || r->pk + r->pk_len > body + size ||
                r->seq < body || r->seq >= body + size ||
                strlen(r->seq) >= KINESIS_SEQ_MAX || r->arrival_ms < 0)
                abort();
        }
        if (b.n > KINESIS_MAX_RECORDS ||
            (b.next != NULL && (b.next < body || b.next >= body + size)))
            abort();
    } else if (e.msg[0] == '\0' || b.n != 0) {
        abort();                        /* a failure always says why */
    }
    free(body);
    return 0;
}
