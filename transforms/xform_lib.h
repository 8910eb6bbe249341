/* xform_lib.h - the C side of what Lua transform scripts see beyond the
 * standard library: the "firehose" helper module (base64, UTC time
 * formatting, the clock) and the guard put around lua-cjson so that a
 * script cannot use it to leave its sandbox (unbounded C recursion, encode
 * buffers outside the per-state memory cap). */
#ifndef FH_XFORM_LIB_H
#define FH_XFORM_LIB_H

#include <stddef.h>

#include <lua.h>

/* lua_CFunction for require "firehose": pushes the module table. */
int xform_lib_open(lua_State *L);

/* Wraps the cjson module table on top of the stack in place: encode refuses
 * output that could exceed 'limit' bytes (a memory error, as if the
 * allocator had refused), encode_max_depth/decode_max_depth are clamped to
 * 1000 and cjson.new() returns guarded instances. Raises Lua errors. */
void xform_lib_guard_cjson(lua_State *L, size_t limit);

/* Standard base64 with padding. 'out' holds 4 * ((n + 2) / 3) bytes;
 * returns the length written. */
size_t xform_lib_b64_encode(const unsigned char *p, size_t n, char *out);
/* Strict decode (standard alphabet, padding required, no whitespace);
 * 'out' holds 3 * (n / 4) bytes. Returns the length, or (size_t)-1 when the
 * input is not base64. */
size_t xform_lib_b64_decode(const char *s, size_t n, unsigned char *out);

#endif
