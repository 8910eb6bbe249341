/* xform_vm.h - one sandboxed Lua 5.4 state running one transform script:
 * the sandbox (no io, no os but the clock, no debug, text chunks only,
 * loadfile/dofile/require inside the transforms directory plus cjson and
 * "firehose"), the instruction budget (count hook, per attempt, shared by
 * coroutines) and the memory cap (the state's allocator). Used by xform.c;
 * one thread at a time per state. */
#ifndef FH_XFORM_VM_H
#define FH_XFORM_VM_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include "xform.h"

#define XFORM_VM_MAX_SOURCE ((size_t)1 << 20)   /* bytes per .lua file */
#define XFORM_VM_MAX_MSG    1024                /* error message bytes */

struct xform_vm;

struct xform_vm_conf {              /* all borrowed for the vm's life */
    const char *dir;                /* the transforms directory */
    const char *name;               /* script file name, in chunk names */
    const char *who;                /* log prefix for print() */
    uint64_t instructions;          /* budget per run (and for loading) */
    size_t memory_bytes;            /* cap of the state's allocations */
    lua_CFunction cjson_open;       /* luaopen_cjson, or NULL */
    lua_CFunction cjson_safe_open;  /* luaopen_cjson_safe, or NULL */
};

/* Builds the state and runs the script's top-level code ('src' is
 * borrowed). NULL with a message naming the script and the reason: syntax
 * error, error or timeout at top level, no global function transform. */
struct xform_vm *xform_vm_new(const struct xform_vm_conf *c, const char *src,
                              size_t len, struct err *e);
void xform_vm_free(struct xform_vm *vm);    /* NULL is a no-op */

enum xform_vm_status {
    XFORM_VM_OK,                    /* out[0..n) filled */
    XFORM_VM_RUNTIME,               /* msg filled; the state is usable */
    XFORM_VM_TIMEOUT,               /* msg filled; the state is usable */
    XFORM_VM_MEMORY,                /* msg filled; free the state */
    XFORM_VM_ARENA                  /* out of memory for 'arena': e */
};

/* One attempt over the batch: out[i] gets OK / DROPPED / FAILED
 * (Lua.ProcessingFailedStatus, Lua.InvalidResult) with data, keys and
 * messages appended to 'arena'. The transformed data may total at most
 * 'out_cap' bytes (later records fail with Lua.InvalidResult). */
enum xform_vm_status xform_vm_run(struct xform_vm *vm,
                                  const struct xform_in *in, size_t n,
                                  struct xform_out *out, struct buf *arena,
                                  size_t out_cap, char *msg, size_t msgn,
                                  struct err *e);

/* Read dir/rel (at most XFORM_VM_MAX_SOURCE bytes, NUL-terminated);
 * caller frees *out. */
int xform_vm_read(const char *dir, const char *rel, char **out, size_t *n,
                  struct err *e);

#endif
