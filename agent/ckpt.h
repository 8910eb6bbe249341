/* ckpt.h - the agent's checkpoint file: for every tailed file, its identity
 * (device, inode, and a hash of its first bytes) and the offset up to which
 * its lines were acknowledged by the endpoint. Saved atomically (temp file,
 * fsync, rename, fsync of the directory), so a crash leaves the old or the
 * new version, never a mix. A damaged file is an error, never a silent
 * restart from scratch. */
#ifndef FH_CKPT_H
#define FH_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "../delivery/err.h"

struct ckpt_entry {
    char       *pattern;    /* the flow's filePattern; owned */
    char       *path;       /* where the file was last seen; owned */
    uint64_t    dev;
    uint64_t    ino;
    uint32_t    fp_len;     /* bytes hashed into fp (0-CKPT_FP_MAX) */
    uint64_t    fp;         /* util_hash64 of the first fp_len bytes */
    uint64_t    offset;     /* acknowledged up to here */
};

#define CKPT_FP_MAX 1024u

struct ckpt {
    struct ckpt_entry  *v;
    size_t              n;
    size_t              cap;
};

/* Read 'path' into *c (which must be empty). A missing file is no error:
 * *exists = 0. Damaged content: -1 with ERR_CORRUPT naming the file, the
 * entry and what to do. */
int ckpt_load(struct ckpt *c, const char *path, int *exists, struct err *e);
/* Append one entry; strings are copied. */
int ckpt_add(struct ckpt *c, const struct ckpt_entry *en, struct err *e);
/* Write all entries to 'path' atomically. */
int ckpt_save(const struct ckpt *c, const char *path, struct err *e);
void ckpt_clear(struct ckpt *c);        /* drops the entries, keeps room */
void ckpt_release(struct ckpt *c);      /* frees everything */

#endif
