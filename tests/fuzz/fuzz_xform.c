/* libFuzzer target: the conversion of a Lua transform's results into
 * struct xform_out (xform_vm.c's run_result/run_keys are static, so this
 * goes through xform_vm_run()). A fixed script decodes each record's bytes
 * into the three values transform() returns: any mix of strings (with
 * NULs), integers, floats, NaN, booleans, functions, nested tables (as
 * partition keys), long strings, and runtime errors. The input is split
 * into records at '|'. Then every result is checked: offsets inside the
 * arena, partition keys well formed and sorted, messages present for
 * failures, and the processing-failed document of each failure is valid
 * JSON. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../delivery/log.h"
#include "../../transforms/xform.h"
#include "../../transforms/xform_vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_RECS 64

static const char script[] =
    "local byte, sub = string.byte, string.sub\n"
    "local function dec(s, i, depth)\n"
    "  local t = byte(s, i)\n"
    "  if t == nil then return nil, i end\n"
    "  t = t % 13; i = i + 1\n"
    "  if t == 0 then return nil, i\n"
    "  elseif t == 1 then return 'Ok', i\n"
    "  elseif t == 2 then return 'Dropped', i\n"
    "  elseif t == 3 then return 'ProcessingFailed', i\n"
    "  elseif t == 4 then\n"
    "    local n = byte(s, i) or 0\n"
    "    return sub(s, i + 1, i + n), i + 1 + n\n"
    "  elseif t == 5 then return ((byte(s, i) or 0) - 128) * 1000003, i + 1\n"
    "  elseif t == 6 then return (byte(s, i) or 0) / 7.0, i + 1\n"
    "  elseif t == 7 then return (byte(s, i) or 0) % 2 == 0, i + 1\n"
    "  elseif t == 8 then\n"
    "    local n = (byte(s, i) or 0) % 24; i = i + 1\n"
    "    local tb = {}\n"
    "    if depth > 3 then return tb, i end\n"
    "    for _ = 1, n do\n"
    "      local k, v\n"
    "      k, i = dec(s, i, depth + 1)\n"
    "      v, i = dec(s, i, depth + 1)\n"
    "      if k ~= nil and k == k then tb[k] = v end\n"
    "    end\n"
    "    return tb, i\n"
    "  elseif t == 9 then\n"
    "    return string.rep('x', (byte(s, i) or 0) * 64), i + 1\n"
    "  elseif t == 10 then return function() end, i\n"
    "  elseif t == 11 then return 0/0, i\n"
    "  else error('decoder asked for an error at ' .. i) end\n"
    "end\n"
    "function transform(r)\n"
    "  local s = r.data\n"
    "  local a, b, c, i\n"
    "  a, i = dec(s, 1, 0)\n"
    "  b, i = dec(s, i, 0)\n"
    "  c, i = dec(s, i, 0)\n"
    "  return a, b, c\n"
    "end\n";

static struct xform_vm *vm;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct xform_vm_conf c = {
        .dir = "/nonexistent", .name = "fuzz.lua", .who = "fuzz",
        .instructions = 2000000, .memory_bytes = 16u << 20,
    };
    struct err e;

    (void)argc;
    (void)argv;
    log_init(0, LOG_ERROR);
    vm = xform_vm_new(&c, script, strlen(script), &e);
    if (vm == NULL) {
        fprintf(stderr, "fuzz_xform: %s\n", e.msg);
        abort();
    }
    return 0;
}

/* "name\0value\0"... with names strictly ascending (bytewise). */
static void check_keys(const char *k, size_t n)
{
    const char *prev = NULL;
    size_t off = 0;

    if (n > 0 && k[n - 1] != '\0')
        abort();
    while (off < n) {
        const char *name = k + off, *val;
        size_t nl = strlen(name);

        if (nl == 0 || off + nl + 1 >= n)
            abort();
        val = name + nl + 1;
        if (prev != NULL && strcmp(prev, name) >= 0)
            abort();
        if (xform_key(k, n, name) != val)
            abort();
        prev = name;
        off += nl + 1 + strlen(val) + 1;
    }
    if (off != n)
        abort();
}

static void check(const struct xform_in *in, const struct xform_out *o,
                  const struct buf *arena)
{
    struct buf doc = { NULL, 0, 0 };
    struct err e;
    json_t *j;

    switch (o->result) {
    case XFORM_OK:
        if (o->data_off + o->data_len > arena->len ||
            o->keys_off + o->keys_len > arena->len)
            abort();
        if (o->keys_len)
            check_keys((const char *)xform_ptr(arena, o->keys_off),
                       o->keys_len);
        return;
    case XFORM_DROPPED:
        return;
    case XFORM_FAILED:
        if (o->error_code == NULL || o->msg_off + o->msg_len > arena->len ||
            o->msg_len > XFORM_VM_MAX_MSG)
            abort();
        if (xform_failed_json(&doc, o, arena, in->data, in->len, 1, 2,
                              "fuzz.lua", &e) != 0)
            abort();
        if (doc.len == 0 || doc.p[doc.len - 1] != '\n')
            abort();
        j = json_loadb((const char *)doc.p, doc.len, JSON_ALLOW_NUL, NULL);
        if (j == NULL || !json_is_string(json_object_get(j, "errorCode")))
            abort();
        json_decref(j);
        buf_release(&doc);
        return;
    }
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct xform_in in[MAX_RECS];
    struct xform_out out[MAX_RECS];
    struct buf arena = { NULL, 0, 0 };
    char msg[XFORM_VM_MAX_MSG];
    enum xform_vm_status st;
    struct err e;
    size_t n = 0, start = 0;

    for (size_t i = 0; i <= size && n < MAX_RECS; i++) {
        if (i == size || data[i] == '|') {
            in[n] = (struct xform_in){ .id = "r", .data = data + start,
                                       .len = i - start, .arrival_ms = 1 };
            n++;
            start = i + 1;
        }
    }
    memset(out, 0xA5, sizeof(out));
    msg[0] = '\0';
    st = xform_vm_run(vm, in, n, out, &arena, 4096, msg, sizeof(msg), &e);
    if (st == XFORM_VM_OK) {
        for (size_t i = 0; i < n; i++)
            check(&in[i], &out[i], &arena);
    } else if (st == XFORM_VM_MEMORY || st == XFORM_VM_ARENA) {
        abort();                /* 16 MiB is far more than this needs */
    } else if (msg[0] == '\0') {
        abort();
    }
    buf_release(&arena);
    return 0;
}
