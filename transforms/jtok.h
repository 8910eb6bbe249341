/* jtok.h - a strict, allocation-free JSON scanner (RFC 8259) for the
 * built-in processors: find where a value ends, walk an object's members,
 * decode a string. Nothing is built; every result points into the input.
 * Nesting deeper than JTOK_MAX_DEPTH counts as invalid (jq 1.6's parser
 * stops at the same depth). */
#ifndef FH_JTOK_H
#define FH_JTOK_H

#include <stddef.h>

#include "../delivery/util.h"

#define JTOK_MAX_DEPTH 255

/* Skip JSON whitespace. */
const char *jtok_ws(const char *p, const char *end);

/* The end of the one valid JSON value starting at p (no leading
 * whitespace), or NULL when it is not valid JSON. */
const char *jtok_value(const char *p, const char *end);

/* Object walk: '*count' starts at 0 with 'p' pointing at '{'. Each call
 * of jtok_member() gives the next member: its raw key (between the quotes,
 * escapes left as they are) and its value [*v, *vend), and counts it.
 * Returns 1 for a member, 0 at the closing brace (with *p past it), -1
 * when the object is not valid. */
int jtok_member(const char **p, const char *end, size_t *count,
                const char **key, size_t *key_len, const char **v,
                const char **vend);

/* Append the decoded contents of the JSON string [s, send) (with its
 * quotes) to 'out'; \uXXXX escapes become UTF-8 (a lone surrogate becomes
 * U+FFFD, as jq does). -1 with ERR_NOMEM, or ERR_INVAL when not a string. */
int jtok_unescape(const char *s, const char *send, struct buf *out,
                  struct err *e);

#endif
