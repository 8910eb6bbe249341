/* reasons.c - the shared failure reasons of a record delivery. */
#include <stdint.h>
#include <string.h>

#include "reasons.h"


static const char *entry(const struct dest_reasons *rs, uint32_t reason)
{
    if (rs == NULL || reason == 0 || reason > rs->b.len)
        return NULL;
    return (const char *)rs->b.p + reason - 1;
}

void dest_result_set(struct dest_reasons *rs, struct dest_rec_result *r,
                     int status, int http_status,
                     const char *code, const char *msg)
{
    size_t cl, ml;
    const char *last;
    struct err e = { 0, "" };

    code = code != NULL ? code : "";
    msg = msg != NULL ? msg : "";
    cl = strnlen(code, 63);
    ml = strnlen(msg, 255);
    r->status = (uint8_t)status;
    r->http_status = http_status;
    r->reason = 0;
    if (rs == NULL || (cl == 0 && ml == 0))
        return;
    if (rs->b.len + cl + ml + 2 > DEST_REASONS_MAX) {
        msg = "(message dropped: too many distinct errors in this batch)";
        ml = strlen(msg);
    }
    /* Every record of a request usually fails the same way: share it. */
    last = entry(rs, rs->last);
    if (last != NULL && strlen(last) == cl && memcmp(last, code, cl) == 0 &&
        strlen(last + cl + 1) == ml && memcmp(last + cl + 1, msg, ml) == 0) {
        r->reason = rs->last;
        return;
    }
    if (rs->b.len + cl + ml + 2 > UINT32_MAX - 1 ||
        buf_reserve(&rs->b, cl + ml + 2, &e) != 0)
        return;
    rs->last = (uint32_t)rs->b.len + 1;
    memcpy((char *)rs->b.p + rs->b.len, code, cl);
    ((char *)rs->b.p)[rs->b.len + cl] = '\0';
    memcpy((char *)rs->b.p + rs->b.len + cl + 1, msg, ml);
    ((char *)rs->b.p)[rs->b.len + cl + 1 + ml] = '\0';
    rs->b.len += cl + ml + 2;
    r->reason = rs->last;
}

const char *dest_result_code(const struct dest_reasons *rs,
                             const struct dest_rec_result *r)
{
    const char *c = entry(rs, r->reason);

    return c != NULL ? c : "";
}

const char *dest_result_msg(const struct dest_reasons *rs,
                            const struct dest_rec_result *r)
{
    const char *c = entry(rs, r->reason);

    return c != NULL ? c + strlen(c) + 1 : "";
}

void dest_reasons_reset(struct dest_reasons *rs)
{
    rs->b.len = 0;
    rs->last = 0;
}

void dest_reasons_release(struct dest_reasons *rs)
{
    buf_release(&rs->b);
    rs->last = 0;
}
