/* cfg_walk.h - the config loader's engine, shared by the shape tables
 * (cfg.c, cfg_dest.c, cfg_proc.c, cfg_src.c, cfg_svc.c; nothing outside
 * config/ uses it). Every JSON shape is a table of fields; the walker
 * applies a table to a JSON object: it sets defaults, rejects unknown keys,
 * wrong types, out-of-range and unsupported values, reports missing
 * required keys, then runs the shape's cross-field check. Errors are
 * collected (never the first only), one line each:
 * "<file>: <json path>: <reason>". */
#ifndef FH_CFG_WALK_H
#define FH_CFG_WALK_H

#include <jansson.h>
#include <stddef.h>

#include "../delivery/util.h"
#include "cfg.h"

#define CFG_PATH_MAX 320

enum cfg_type {
    CFG_STR,        /* char *; min/max bound the length */
    CFG_INT,        /* int; min/max bound the value */
    CFG_U64,        /* uint64_t; min/max bound the value */
    CFG_BOOL,       /* int 0/1 */
    CFG_ENUM,       /* int; 'sub' is a struct cfg_enum list ending with {0} */
    CFG_OBJ,        /* nested struct at 'offset'; 'sub' is a cfg_shape */
    CFG_LIST,       /* array of 'sub' shapes: pointer at 'offset', size_t
                     * count at 'count_offset'; min/max bound the count */
    CFG_ARRAY,      /* any JSON array, accepted and not stored */
    CFG_UNSUPPORTED /* a Firehose key we recognise but do not implement */
};

/* A value that Firehose accepts: 'unsupported' is NULL when we implement
 * it, else the whole error message saying that we do not (yet). */
struct cfg_enum {
    const char *name;               /* exact, case-sensitive */
    int value;
    const char *unsupported;
};

struct cfg_walk;

struct cfg_field {
    const char *name;               /* Firehose's PascalCase key */
    enum cfg_type type;
    size_t offset;                  /* into the shape's struct */
    const void *sub;                /* cfg_shape or cfg_enum list */
    long long min, max;             /* value, length or count; for a
                                     * string max 0 means unbounded */
    int flags;                      /* CFG_REQUIRED, CFG_NOSTORE */
    const char *def;                /* default as text; NULL = none */
    /* Extra value rule; 0, or -1 with 'why' filled. */
    int (*check)(json_t *v, char *why, size_t n);
    const char *help;               /* one line, quoted when missing */
    size_t count_offset;            /* CFG_LIST only */
};

#define CFG_REQUIRED 1
#define CFG_NOSTORE  2              /* validate, keep nothing (dst NULL) */

struct cfg_shape {
    const struct cfg_field *fields; /* ends with { 0 } */
    size_t size;                    /* element size for CFG_LIST */
    /* Cross-field rules and derived values. Runs after the fields, also
     * when the object is absent (obj NULL) so that defaults get derived;
     * 'dst' is NULL for CFG_NOSTORE objects. */
    void (*finish)(struct cfg_walk *w, const char *path, json_t *obj,
                   void *dst);
};

struct cfg_walk {
    const char *file;
    struct buf out;                 /* the error lines */
    int nerr;
};

/* One error line for 'path' (copied); counts even when out of memory. */
__attribute__((format(printf, 3, 4)))
void cfg_err(struct cfg_walk *w, const char *path, const char *fmt, ...);
/* dst + off, or NULL for a NULL dst (CFG_NOSTORE). */
void *cfg_at(void *dst, size_t off);
/* Replace the string at 'slot' (NULL: no-op) with a copy of 's' (NULL
 * clears it); out of memory is an error of 'path'. */
void cfg_set_str(struct cfg_walk *w, const char *path, char **slot,
                 const char *s);
/* "<parent>.<key>" (or "<key>") into 'out' of CFG_PATH_MAX bytes. */
void cfg_child_path(char *out, const char *parent, const char *key);
/* "a string", "an object", ... for error messages. */
const char *cfg_json_kind(const json_t *v);

/* Value rules more than one area uses. */
/* 1 when 's' holds only a-z A-Z 0-9 and the characters of 'extra'. */
int cfg_all_in(const char *s, const char *extra);
int cfg_all_digits(const char *s, size_t n);  /* the first n bytes */
/* 'check's of struct cfg_field: 0, or -1 with 'why' filled. */
int cfg_check_role_arn(json_t *v, char *why, size_t n);
int cfg_check_url(json_t *v, char *why, size_t n);

/* Apply shape 'sh' to 'obj' (borrowed; NULL when absent) at 'path',
 * storing into 'dst' (NULL: validate only). */
void cfg_walk_shape(struct cfg_walk *w, const char *path, json_t *obj,
                    const struct cfg_shape *sh, void *dst);

#endif
