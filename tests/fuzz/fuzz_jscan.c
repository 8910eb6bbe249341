/* libFuzzer target: jscan_parse_put() on PutRecord and PutRecordBatch
 * bodies. The first input byte picks the call; the rest is the body, in a
 * buffer of exactly its size so that ASan sees any read past it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../delivery/jscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct jscan_put put;
    struct err e;
    size_t total = 0;
    char *body;

    if (size < 1)
        return 0;
    body = malloc(size - 1 ? size - 1 : 1);
    if (body == NULL)
        return 0;
    memcpy(body, data + 1, size - 1);
    if (jscan_parse_put(body, size - 1, data[0] & 1, &put, &e) == JSCAN_OK) {
        /* Every record must lie inside the body. */
        for (size_t i = 0; i < put.n; i++) {
            const char *p = put.recs[i].iov_base;

            if (put.recs[i].iov_len > 0 &&
                (p < body || p + put.recs[i].iov_len > body + size - 1))
                abort();
            total += put.recs[i].iov_len;
        }
        if (total != put.bytes || put.n > JSCAN_MAX_RECORDS ||
            put.stream == NULL || strlen(put.stream) != put.stream_len)
            abort();
    }
    free(body);
    return 0;
}
