/* cfg_src.c - see cfg_src.h. */
#include "cfg_src.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_walk.h"

static const struct cfg_field direct_put_fields[] = {
    { .name = "ThroughputHintInMBs", .type = CFG_INT, .min = 1, .max = 100,
      .flags = CFG_REQUIRED, .help = "1-100, informational" },
    { 0 }
};
const struct cfg_shape cfg_direct_put_shape = {
    direct_put_fields, 0, NULL
};

#define QTF(m) offsetof(struct cfg_quotas, m)

/* Ours, beside DeliveryStreamType. An absent key means unlimited; a
 * present one must be at least 1 (0 would refuse everything). */
static const struct cfg_field quotas_fields[] = {
    { .name = "RecordsPerSecond", .type = CFG_U64, .offset = QTF(records_ps),
      .min = 1, .max = 1000000000LL, .help = "1 to 1000000000" },
    { .name = "RequestsPerSecond", .type = CFG_U64,
      .offset = QTF(requests_ps), .min = 1, .max = 1000000000LL,
      .help = "1 to 1000000000" },
    { .name = "BytesPerSecond", .type = CFG_U64, .offset = QTF(bytes_ps),
      .min = 1, .max = 1099511627776LL, .help = "1 to 1 TiB" },
    { 0 }
};
const struct cfg_shape cfg_quotas_shape = { quotas_fields, 0, NULL };

static const struct cfg_enum start_pos_enum[] = {
    { "LATEST", CFG_START_LATEST, NULL },
    { "TRIM_HORIZON", CFG_START_TRIM_HORIZON, NULL },
    { "AT_TIMESTAMP", CFG_START_AT_TIMESTAMP, NULL },
    { 0 }
};

static const struct cfg_enum out_of_range_enum[] = {
    { "keep", 0, NULL },
    { "drop", 1, NULL },
    { 0 }
};

/* arn:aws:kinesis:<region>:<12 digits>:stream/<name> */
static int check_kinesis_arn(json_t *v, char *why, size_t n)
{
    const char *s = json_string_value(v), *p, *name;
    size_t i;

    if (strncmp(s, "arn:", 4) != 0 || (p = strstr(s, ":kinesis:")) == NULL)
        goto bad;
    p += 9;
    for (i = 0; p[i] != ':' && p[i] != '\0'; i++)
        ;
    if (i == 0 || p[i] != ':')
        goto bad;
    p += i + 1;
    for (i = 0; p[i] >= '0' && p[i] <= '9'; i++)
        ;
    if (i != 12 || strncmp(p + 12, ":stream/", 8) != 0)
        goto bad;
    name = p + 20;
    if (name[0] == '\0' || strlen(name) > 128 || !cfg_all_in(name, "_.-"))
        goto bad;
    return 0;
bad:
    snprintf(why, n, "\"%s\" is not arn:aws:kinesis:<region>:<account>:"
             "stream/<name>", s);
    return -1;
}

#define KSF(m) offsetof(struct cfg_stream, kinesis.m)

static const struct cfg_field kinesis_src_fields[] = {
    { .name = "KinesisStreamARN", .type = CFG_STR, .offset = KSF(stream_arn),
      .min = 1, .max = 512, .flags = CFG_REQUIRED,
      .check = check_kinesis_arn,
      .help = "arn:aws:kinesis:<region>:<account>:stream/<name>" },
    { .name = "RoleARN", .type = CFG_STR, .offset = KSF(role_arn), .min = 1,
      .max = 512, .check = cfg_check_role_arn,
      .help = "arn:aws:iam::...:role/..." },
    { .name = "StartingPosition", .type = CFG_ENUM, .offset = KSF(start),
      .sub = start_pos_enum, .def = "LATEST",
      .help = "LATEST, TRIM_HORIZON or AT_TIMESTAMP" },
    { .name = "StartingPositionTimestamp", .type = CFG_U64,
      .offset = KSF(start_ts_s), .min = 1, .max = 32503680000LL,
      .help = "epoch seconds, for AT_TIMESTAMP" },
    { .name = "GetRecordsLimit", .type = CFG_INT,
      .offset = KSF(get_records_limit), .min = 1, .max = 10000,
      .def = "10000", .help = "records per GetRecords, 1-10000" },
    { .name = "IdleTimeBetweenReadsInMillis", .type = CFG_INT,
      .offset = KSF(idle_ms), .min = 200, .max = 60000, .def = "1000",
      .help = "pause between reads of a shard, 200-60000 ms" },
    { .name = "OutOfRangeRecords", .type = CFG_ENUM,
      .offset = KSF(drop_out_of_range), .sub = out_of_range_enum,
      .def = "keep", .help = "keep or drop" },
    { 0 }
};

static void kinesis_src_finish(struct cfg_walk *w, const char *path,
                               json_t *obj, void *dst)
{
    struct cfg_stream *st = dst;
    const char *arn, *p;

    if (obj == NULL || st == NULL || (arn = st->kinesis.stream_arn) == NULL)
        return;
    if (st->kinesis.start == CFG_START_AT_TIMESTAMP &&
        st->kinesis.start_ts_s == 0)
        cfg_err(w, path, "StartingPosition AT_TIMESTAMP needs "
                "StartingPositionTimestamp (epoch seconds)");
    if (st->kinesis.start != CFG_START_AT_TIMESTAMP &&
        st->kinesis.start_ts_s != 0)
        cfg_err(w, path, "StartingPositionTimestamp is only for "
                "StartingPosition AT_TIMESTAMP");
    if ((p = strstr(arn, ":kinesis:")) == NULL || strchr(p + 9, ':') == NULL)
        return;                 /* reported by check_kinesis_arn */
    p += 9;
    free(st->kinesis.region);
    st->kinesis.region = strndup(p, (size_t)(strchr(p, ':') - p));
    cfg_set_str(w, path, &st->kinesis.stream_name,
                strstr(arn, ":stream/") + 8);
    if (st->kinesis.region == NULL)
        cfg_err(w, path, "out of memory");
}

const struct cfg_shape cfg_kinesis_src_shape = {
    kinesis_src_fields, 0, kinesis_src_finish
};
