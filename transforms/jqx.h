/* jqx.h - MetadataExtraction: a jq 1.6 query (JsonParsingEngine JQ-1.6)
 * run over each record to give its partition keys
 * (!{partitionKeyFromQuery:name}).
 *
 * The common query is a list of paths, {customer_id: .customer_id,
 * y: .a.b}. Such queries are answered by a path walk over the record's
 * bytes (no document is built, nothing is allocated once the output buffer
 * has grown); every other query, and every record the walk is not sure
 * about (invalid JSON, an index into a non-object, escapes, non-integer
 * numbers, ...), goes to libjq, so results and errors are libjq's.
 *
 * Threads: a jq_state is not thread-safe; make one struct jqx per worker
 * thread. */
#ifndef FH_JQX_H
#define FH_JQX_H

#include <stddef.h>

#include "../delivery/err.h"
#include "../delivery/util.h"

struct jqx;

/* Compile 'query' (copied). -1 with jq's own message when it does not
 * compile. */
struct jqx *jqx_new(const char *query, struct err *e);
void jqx_free(struct jqx *q);                   /* NULL is a no-op */

/* 1 when the query is path-only (the fast walk applies), else 0. */
int jqx_is_path_only(const struct jqx *q);

/* Force every record through libjq (tests and benchmarks). */
void jqx_set_force_jq(struct jqx *q, int on);

/* Run the query over one record. The result must be one object whose
 * values are strings or numbers (numbers rendered as jq prints them);
 * null values are left out. Appends "name\0value\0"... sorted by name to
 * 'keys'. Returns 0; 1 when the record fails (not JSON, a run-time error,
 * a result that is not such an object: 'msg' says why, NUL-terminated);
 * -1 with ERR_NOMEM. */
int jqx_eval(struct jqx *q, const unsigned char *data, size_t len,
             struct buf *keys, char *msg, size_t msgsz, struct err *e);

/* The value of partition key 'name' in a key list made of the Lua
 * transform's "name\0value\0" entries, one "\0", then the query's
 * entries: from the first part when 'from_lambda', else from the second.
 * NULL when absent. */
const char *jqx_key(const char *keys, size_t len, int from_lambda,
                    const char *name);

/* How many records each path took since jqx_new (for tests and bench). */
void jqx_counts(const struct jqx *q, unsigned long *fast,
                unsigned long *slow);

#endif
