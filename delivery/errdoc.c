#include "errdoc.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <string.h>

/* JSON string body (no quotes) of s[0..n); control bytes and invalid
 * UTF-8 are escaped as \u00XX so the line stays one valid JSON value. */
static int json_text(struct buf *b, const char *s, size_t n, struct err *e)
{
    static const char hex[] = "0123456789abcdef";

    if (buf_reserve(b, n * 6 + 2, e) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        unsigned char *w = b->p + b->len;
        if (c == '"' || c == '\\') {
            w[0] = '\\';
            w[1] = c;
            b->len += 2;
        } else if (c < 0x20 || c >= 0x80) {
            /* Messages come from scripts and servers: bytes >= 0x80 are
             * escaped one by one rather than trusted as UTF-8. */
            memcpy(w, "\\u00", 4);
            w[4] = (unsigned char)hex[c >> 4];
            w[5] = (unsigned char)hex[c & 15];
            b->len += 6;
        } else {
            w[0] = c;
            b->len++;
        }
    }
    return 0;
}

int errdoc_append(struct buf *out, const struct errdoc *d, struct err *e)
{
    size_t b64 = 4 * ((d->raw_len + 2) / 3);

    if (buf_printf(out, e, "{\"attemptsMade\":%d,\"arrivalTimestamp\":%"
                   PRId64 ",\"errorCode\":\"", d->attempts,
                   d->arrival_ms) != 0 ||
        json_text(out, d->code, strlen(d->code), e) != 0 ||
        buf_append(out, "\",\"errorMessage\":\"", 18, e) != 0 ||
        json_text(out, d->message, d->message_len, e) != 0 ||
        buf_printf(out, e, "\",\"attemptEndingTimestamp\":%" PRId64
                   ",\"rawData\":\"", d->ending_ms) != 0 ||
        buf_reserve(out, b64 + 1, e) != 0)
        return -1;
    /* EVP_EncodeBlock writes standard base64 with padding, no newlines. */
    out->len += (size_t)EVP_EncodeBlock(out->p + out->len, d->raw,
                                        (int)d->raw_len);
    if (buf_append(out, "\"", 1, e) != 0)
        return -1;
    if (d->lambda_arn != NULL &&
        (buf_append(out, ",\"lambdaARN\":\"", 14, e) != 0 ||
         json_text(out, d->lambda_arn, strlen(d->lambda_arn), e) != 0 ||
         buf_append(out, "\"", 1, e) != 0))
        return -1;
    if (d->extra != NULL && d->extra[0] &&
        (buf_append(out, ",", 1, e) != 0 ||
         buf_append(out, d->extra, strlen(d->extra), e) != 0))
        return -1;
    return buf_append(out, "}\n", 2, e);
}
