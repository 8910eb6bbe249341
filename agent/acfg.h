/* acfg.h - the agent's configuration: one JSON file in the Kinesis Agent's
 * shape ("firehose.endpoint", "checkpointFile", "flows": [...]). Unknown
 * keys, wrong types, out-of-range values and bad patterns are errors that
 * name the file, the key path and the reason. */
#ifndef FH_ACFG_H
#define FH_ACFG_H

#include <regex.h>
#include <stddef.h>

#include "../delivery/err.h"

#define ACFG_MAX_FLOWS 64
#define ACFG_MAX_RECORD_BYTES 1024000u          /* Firehose: 1,000 KiB */
#define ACFG_MAX_BATCH_RECORDS 500u
#define ACFG_MAX_BATCH_BYTES (4u * 1024u * 1024u)

struct acfg_flow {
    char       *file_pattern;       /* glob(3) pattern, absolute or not */
    char       *stream;             /* deliveryStream */
    int         start_of_file;      /* initialPosition START_OF_FILE */
    int         has_multiline;
    regex_t     multiline;          /* multiLineStartPattern, ERE */
    long        max_age_ms;         /* maxBufferAgeMillis */
    size_t      max_records;        /* maxBufferSizeRecords */
    size_t      max_bytes;          /* maxBufferSizeBytes */
    char       *trunc_term;         /* truncatedRecordTerminator */
    size_t      trunc_term_len;
    unsigned    skip_header_lines;  /* skipHeaderLines */
    int         skip_long;          /* maxLineBytesAction "skip" */
};

struct acfg {
    char             *endpoint;     /* "firehose.endpoint", NULL = AWS */
    char             *region;       /* "firehose.region", NULL = chain */
    char             *checkpoint_file;
    char             *access_key;   /* awsAccessKeyId, NULL = chain */
    char             *secret;       /* awsSecretAccessKey */
    long              poll_ms;      /* pollIntervalMillis */
    int               log_json;     /* "log.format": "json" */
    struct acfg_flow  flows[ACFG_MAX_FLOWS];
    size_t            n_flows;
};

/* Parse the file at 'path' into *c (zeroed first). -1 with ERR_INVAL and
 * "FILE: path.to.key: reason" (or ERR_IO) in 'e'; *c is then released. */
int acfg_load(struct acfg *c, const char *path, struct err *e);
/* The same from memory ('name' is used in messages). */
int acfg_parse(struct acfg *c, const char *json, size_t len,
               const char *name, struct err *e);
void acfg_release(struct acfg *c);  /* zeroed and half-built are fine */

#endif
