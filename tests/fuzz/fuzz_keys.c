/* libFuzzer target: Prefix / ErrorOutputPrefix expressions. Input: a
 * flags byte (bit 0 dynamic partitioning, bit 1 evaluate as the error
 * output, bits 2-4 the time zone, bit 5 partition keys missing), 6 bytes
 * of arrival time, 8 of batch hash, then the Prefix, the
 * ErrorOutputPrefix and a partition key value separated by NUL bytes.
 * keys_validate() must answer with a message on refusal; a pair it
 * accepts must evaluate (or fail with a message) to a NUL-terminated key
 * within the buffer, the same for the same input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../destinations/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const zones[8] = {
    "", "UTC", "Asia/Tokyo", "America/New_York", "Europe/London",
    "Australia/Lord_Howe", "Asia/Kathmandu", "Etc/GMT+12",
};

struct pk {
    const char *value;
    int missing;
};

static const char *partition_key(void *arg, int from_lambda,
                                 const char *name)
{
    struct pk *p = arg;

    (void)from_lambda;
    if (p->missing && name[0] != '\0' && name[0] % 2 == 0)
        return NULL;
    return p->value;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf, *prefix, *eprefix, *value, *end;
    char out1[2048], out2[2048];
    struct keys_ctx k;
    struct pk pk;
    struct err e;
    uint64_t t = 0, h = 0;
    int flags, rc1, rc2;

    if (size < 15)
        return 0;
    flags = data[0];
    for (int i = 0; i < 6; i++)
        t = t << 8 | data[1 + i];
    for (int i = 0; i < 8; i++)
        h = h << 8 | data[7 + i];
    buf = malloc(size - 15 + 3);
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 15, size - 15);
    end = buf + (size - 15);
    end[0] = end[1] = end[2] = '\0';
    prefix = buf;
    eprefix = prefix + strlen(prefix) + 1;
    value = eprefix <= end ? eprefix + strlen(eprefix) + 1 : end;
    if (eprefix > end)
        eprefix = end;
    if (value > end)
        value = end;
    e.msg[0] = '\0';
    if (keys_validate(prefix, eprefix, flags & 1, &e) != 0) {
        if (e.msg[0] == '\0')
            abort();
        free(buf);
        return 0;
    }
    pk.value = value;
    pk.missing = (flags >> 5) & 1;
    memset(&k, 0, sizeof(k));
    k.prefix = (flags & 2) ? eprefix : prefix;
    k.is_error = (flags >> 1) & 1;
    k.error_type = "processing-failed";
    k.stream = "fuzz";
    k.version = "1";
    /* Up to year 10889: any arrival a clock can give, and more. */
    k.arrival_ms = (int64_t)(t % 281474976710656ULL);
    k.batch_hash = h;
    k.ext = ".gz";
    k.time_zone = zones[(flags >> 2) & 7];
    k.partition_key = partition_key;
    k.partition_arg = &pk;
    memset(out1, 0x55, sizeof(out1));
    memset(out2, 0x55, sizeof(out2));
    e.msg[0] = '\0';
    rc1 = keys_object_key(&k, (flags & 2) ? prefix : NULL, out1,
                          sizeof(out1), &e);
    if (rc1 != 0 && e.msg[0] == '\0')
        abort();
    rc2 = keys_object_key(&k, (flags & 2) ? prefix : NULL, out2,
                          sizeof(out2), &e);
    if (rc1 != rc2)
        abort();
    if (rc1 == 0 && (memchr(out1, '\0', sizeof(out1)) == NULL ||
                     strcmp(out1, out2) != 0 || out1[0] == '\0'))
        abort();
    free(buf);
    return 0;
}
