/* libFuzzer target: kpl_decode(). Random bytes would never get past the
 * MD5, so the input is taken as the protobuf body and wrapped (magic +
 * body + its MD5) in a buffer of exactly its size; the raw input is
 * decoded too. Every user record must lie inside the buffer. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../delivery/kpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const struct kpl *k, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < k->n; i++) {
        const struct kpl_user *u = &k->recs[i];

        if (u->data < p || u->data + u->len > p + n ||
            u->pk.p < p || u->pk.p + u->pk.len > p + n ||
            (u->ehk.p != NULL &&
             (u->ehk.p < p || u->ehk.p + u->ehk.len > p + n)))
            abort();
        (void)kpl_user_hash(u);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct kpl k;
    static const unsigned char magic[4] = { 0xF3, 0x89, 0x9A, 0xC2 };
    struct err e;
    enum kpl_kind kind;
    unsigned int mdlen = 0;
    unsigned char *buf = malloc(size + 20);

    if (buf == NULL)
        return 0;
    memcpy(buf, magic, 4);
    memcpy(buf + 4, data, size);
    EVP_Digest(data, size, buf + 4 + size, &mdlen, EVP_md5(), NULL);
    if (kpl_decode(&k, buf, size + 20, &kind, &e) == 0 &&
        kind == KPL_AGGREGATE)
        inside(&k, buf, size + 20);
    free(buf);
    buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    if (kpl_decode(&k, buf, size, &kind, &e) == 0 && kind == KPL_AGGREGATE)
        inside(&k, buf, size);
    free(buf);
    return 0;
}
