/* Lua transforms: every result, every failure mode (loop, memory bomb,
 * runtime error, bad return, broken reload), partition keys, the sandbox,
 * the helper modules and the processing-failed document. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../delivery/log.h"
#include "../../transforms/xform.h"

static char dir[64];

static void put(const char *name, const char *text)
{
    char path[256], tmp[300];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_xform.XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A host, one script instance and one batch's worth of buffers. */
struct fx {
    struct xform_host *h;
    struct xform *x;
    struct buf arena;
    struct xform_out out[8];
    struct err e;
};

static void fx_open(struct fx *f, const char *name, const char *text,
                    const struct xform_limits *lim)
{
    memset(f, 0, sizeof(*f));
    if (text != NULL)
        put(name, text);
    f->h = xform_host_new(dir, &f->e);
    assert_non_null(f->h);
    f->x = xform_new(f->h, name, lim, &f->e);
    if (f->x == NULL)
        fail_msg("xform_new: %s", f->e.msg);
}

static void fx_close(struct fx *f)
{
    xform_free(f->x);
    xform_host_free(f->h);
    buf_release(&f->arena);
}

static void fx_run(struct fx *f, const char *const *data, size_t n)
{
    struct xform_in in[8];

    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++)
        in[i] = (struct xform_in){ .id = "id", .arrival_ms = 1000 + (int)i,
            .data = (const unsigned char *)data[i], .len = strlen(data[i]) };
    f->arena.len = 0;
    assert_int_equal(xform_run(f->x, in, n, f->out, &f->arena, &f->e), 0);
}

static void assert_data(struct fx *f, size_t i, const char *want)
{
    const struct xform_out *o = &f->out[i];

    assert_int_equal(o->result, XFORM_OK);
    assert_int_equal(o->data_len, strlen(want));
    assert_memory_equal(xform_ptr(&f->arena, o->data_off), want,
                        o->data_len);
}

static void assert_failed(struct fx *f, size_t i, const char *code,
                          const char *msg_part, int attempts)
{
    const struct xform_out *o = &f->out[i];
    char msg[1100];

    assert_int_equal(o->result, XFORM_FAILED);
    assert_true(o->msg_len < sizeof(msg));
    memcpy(msg, xform_ptr(&f->arena, o->msg_off), o->msg_len);
    msg[o->msg_len] = '\0';
    if (strcmp(o->error_code, code) != 0)
        fail_msg("%s (%s), want %s", o->error_code, msg, code);
    if (strstr(msg, msg_part) == NULL)
        fail_msg("message '%s' lacks '%s'", msg, msg_part);
    assert_int_equal(o->attempts, attempts);
}

static void test_results(void **state)
{
    struct fx f;
    const char *d[] = { "keep me", "drop", "fail", "failwhy", "same" };

    (void)state;
    fx_open(&f, "r.lua",
        "function transform(r)\n"
        "  if r.data == 'drop' then return 'Dropped' end\n"
        "  if r.data == 'fail' then return 'ProcessingFailed' end\n"
        "  if r.data == 'failwhy' then return 'ProcessingFailed', 'why' end\n"
        "  if r.data == 'same' then return 'Ok' end\n"
        "  return 'Ok', r.data:upper() .. '@' .. r.arrival .. r.id\n"
        "end\n", NULL);
    fx_run(&f, d, 5);
    assert_data(&f, 0, "KEEP ME@1000id");
    assert_int_equal(f.out[0].keys_len, 0);
    assert_int_equal(f.out[0].attempts, 1);
    assert_int_equal(f.out[1].result, XFORM_DROPPED);
    assert_failed(&f, 2, "Lua.ProcessingFailedStatus",
                  "ProcessingFailed status set for record", 1);
    assert_failed(&f, 3, "Lua.ProcessingFailedStatus", "why", 1);
    assert_data(&f, 4, "same");
    fx_close(&f);
}

static void test_partition_keys(void **state)
{
    struct fx f;
    const char *d[] = { "{\"c\":\"acme\"}", "n", "badname", "badval",
                        "nul" };
    const char *k;

    (void)state;
    fx_open(&f, "k.lua",
        "local cjson = require 'cjson'\n"
        "function transform(r)\n"
        "  if r.data == 'n' then\n"
        "    return 'Ok', nil, { year = 2024, b = 'x' }\n"
        "  end\n"
        "  if r.data == 'badname' then return 'Ok', nil, { 'x' } end\n"
        "  if r.data == 'badval' then return 'Ok', nil, { a = {} } end\n"
        "  if r.data == 'nul' then return 'Ok', nil, { a = 'x\\0y' } end\n"
        "  local j = cjson.decode(r.data)\n"
        "  return 'Ok', nil, { customer = j.c, zone = 'eu', a = '1' }\n"
        "end\n", NULL);
    fx_run(&f, d, 5);
    assert_data(&f, 0, d[0]);
    k = (const char *)xform_ptr(&f.arena, f.out[0].keys_off);
    /* Sorted by name whatever the table's order. */
    assert_int_equal(f.out[0].keys_len, sizeof("a\0" "1\0customer\0acme\0"
                                               "zone\0eu") );
    assert_memory_equal(k, "a\0" "1\0customer\0acme\0zone\0eu\0",
                        f.out[0].keys_len);
    assert_string_equal(xform_key(k, f.out[0].keys_len, "customer"), "acme");
    assert_string_equal(xform_key(k, f.out[0].keys_len, "zone"), "eu");
    assert_null(xform_key(k, f.out[0].keys_len, "custom"));
    assert_null(xform_key(k, f.out[0].keys_len, "acme"));
    k = (const char *)xform_ptr(&f.arena, f.out[1].keys_off);
    assert_string_equal(xform_key(k, f.out[1].keys_len, "year"), "2024");
    assert_string_equal(xform_key(k, f.out[1].keys_len, "b"), "x");
    assert_failed(&f, 2, "Lua.InvalidResult", "names must be strings", 1);
    assert_failed(&f, 3, "Lua.InvalidResult", "'a' must be a string", 1);
    assert_failed(&f, 4, "Lua.InvalidResult", "NUL", 1);
    assert_null(xform_key("", 0, "a"));
    assert_null(xform_key("a", 1, "a"));
    fx_close(&f);
}

static void test_invalid_results(void **state)
{
    struct fx f;
    const char *d[] = { "maybe", "nil", "num", "keys", "reason", "ok" };
    struct xform_limits lim = { 0, 0, 3 };

    (void)state;
    fx_open(&f, "bad.lua",
        "calls = 0\n"
        "function transform(r)\n"
        "  calls = calls + 1\n"
        "  if r.data == 'maybe' then return 'Maybe' end\n"
        "  if r.data == 'nil' then return nil end\n"
        "  if r.data == 'num' then return 'Ok', 42 end\n"
        "  if r.data == 'keys' then return 'Ok', 'x', 'notatable' end\n"
        "  if r.data == 'reason' then return 'ProcessingFailed', {} end\n"
        "  return 'Ok', tostring(calls)\n"
        "end\n", &lim);
    fx_run(&f, d, 6);
    assert_failed(&f, 0, "Lua.InvalidResult", "\"Maybe\"", 1);
    assert_failed(&f, 1, "Lua.InvalidResult", "returned a nil", 1);
    assert_failed(&f, 2, "Lua.InvalidResult", "number as data", 1);
    assert_failed(&f, 3, "Lua.InvalidResult", "string as partition keys", 1);
    assert_failed(&f, 4, "Lua.InvalidResult", "table as reason", 1);
    /* Not retried: the batch ran once. */
    assert_data(&f, 5, "6");
    fx_close(&f);
}

static void test_runtime_error_retried(void **state)
{
    struct fx f;
    const char *d[] = { "a", "boom", "c" };
    const char *ok[] = { "a" };
    struct xform_limits lim = { 0, 0, 2 };

    (void)state;
    fx_open(&f, "err.lua",
        "calls = 0\n"
        "function transform(r)\n"
        "  calls = calls + 1\n"
        "  if r.data == 'boom' then local t = nil; return t.x end\n"
        "  return 'Ok', tostring(calls)\n"
        "end\n", &lim);
    fx_run(&f, d, 3);
    /* The whole batch failed, after 1 + 2 attempts of 2 calls each. */
    for (size_t i = 0; i < 3; i++)
        assert_failed(&f, i, "Lua.RuntimeError",
                      "err.lua:4: attempt to index a nil value", 3);
    fx_run(&f, ok, 1);
    assert_data(&f, 0, "7");        /* state kept across failures */
    fx_close(&f);

    lim.retries = 0;
    fx_open(&f, "err2.lua",
        "function transform(r) error({}) end\n", &lim);
    fx_run(&f, ok, 1);
    assert_failed(&f, 0, "Lua.RuntimeError", "error object is a table", 1);
    fx_close(&f);
}

static void test_timeout(void **state)
{
    struct fx f;
    const char *loop[] = { "ok", "loop" };
    const char *sneaky[] = { "sneaky" };
    const char *ok[] = { "fine" };
    struct xform_limits lim = { 200000, 0, 1 };
    struct timespec t0, t1;

    (void)state;
    fx_open(&f, "loop.lua",
        "function transform(r)\n"
        "  if r.data == 'loop' then while true do end end\n"
        "  if r.data == 'sneaky' then\n"
        "    while true do pcall(function() while true do end end) end\n"
        "  end\n"
        "  if r.data == 'co' then\n"
        "    while true do\n"
        "      coroutine.wrap(function() for i = 1, 1e6 do end end)()\n"
        "    end\n"
        "  end\n"
        "  return 'Ok'\n"
        "end\n", &lim);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fx_run(&f, loop, 2);
    assert_failed(&f, 0, "Lua.Timeout", "instruction budget of 200000", 2);
    assert_failed(&f, 1, "Lua.Timeout", "LuaInstructionBudget", 2);
    /* A script cannot catch its own timeout for long. */
    fx_run(&f, sneaky, 1);
    assert_failed(&f, 0, "Lua.Timeout", "budget", 2);
    sneaky[0] = "co";
    fx_run(&f, sneaky, 1);
    assert_failed(&f, 0, "Lua.Timeout", "budget", 2);
    /* The next batch runs normally. */
    fx_run(&f, ok, 1);
    assert_data(&f, 0, "fine");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 5);
    fx_close(&f);
}

static void test_memory_limit(void **state)
{
    struct fx f;
    const char *bomb[] = { "bomb" };
    const char *ok[] = { "x" };
    struct xform_limits lim = { 0, 4 << 20, 1 };

    (void)state;
    fx_open(&f, "bomb.lua",
        "calls = 0\n"
        "function transform(r)\n"
        "  calls = calls + 1\n"
        "  if r.data == 'bomb' then\n"
        "    local t = {}\n"
        "    for i = 1, 1e9 do t[i] = string.rep('x', 64) .. i end\n"
        "  end\n"
        "  if r.data == 'rep' then return 'Ok', string.rep('x', 1 << 30) end\n"
        "  return 'Ok', tostring(calls)\n"
        "end\n", &lim);
    fx_run(&f, ok, 1);
    fx_run(&f, ok, 1);
    assert_data(&f, 0, "2");
    fx_run(&f, bomb, 1);
    assert_failed(&f, 0, "Lua.MemoryLimitExceeded", "4194304 bytes", 2);
    /* The state was rebuilt: the global count started again. */
    fx_run(&f, ok, 1);
    assert_data(&f, 0, "1");
    bomb[0] = "rep";
    fx_run(&f, bomb, 1);
    assert_failed(&f, 0, "Lua.MemoryLimitExceeded", "LuaMemoryLimitBytes",
                  2);
    fx_close(&f);
}

static void test_sandbox_rules(void **state)
{
    struct fx f;
    const char *d[] = { "x" };
    char path[128];

    (void)state;
    snprintf(path, sizeof(path), "%s/lib", dir);
    mkdir(path, 0700);
    put("lib/util.lua", "local M = {} function M.twice(s) return s .. s end "
                        "return M\n");
    put("data.lua", "return 'from data'\n");
    fx_open(&f, "sb.lua",
        "local checks = {}\n"
        "local function check(name, ok)\n"
        "  if not ok then checks[#checks + 1] = name end\n"
        "end\n"
        "check('io', io == nil)\n"
        "check('debug', debug == nil)\n"
        "check('os.execute', os.execute == nil)\n"
        "check('os.getenv', os.getenv == nil)\n"
        "check('os.exit', os.exit == nil)\n"
        "check('os.remove', os.remove == nil)\n"
        "check('os.time', type(os.time()) == 'number')\n"
        "check('os.date', os.date('!%Y', 0) == '1970')\n"
        "check('os.clock', type(os.clock()) == 'number')\n"
        "check('require os', require('os') == os)\n"
        "check('string', require('string') == string)\n"
        "check('loadfile /etc', not pcall(loadfile, '/etc/passwd'))\n"
        "check('loadfile ..', not pcall(loadfile, '../x.lua'))\n"
        "check('dofile ..', not pcall(dofile, 'lib/../../x.lua'))\n"
        "check('dofile', dofile('data.lua') == 'from data')\n"
        "check('loadfile', loadfile('data.lua')() == 'from data')\n"
        "check('require io', not pcall(require, 'io'))\n"
        "check('require debug', not pcall(require, 'debug'))\n"
        "check('require ..', not pcall(require, '..x'))\n"
        "check('require lib', require('lib.util').twice('a') == 'aa')\n"
        "check('package.loaded', package.loaded['lib.util'] ~= nil)\n"
        "check('binary load', load(string.dump(function() end)) == nil)\n"
        "check('text load', load('return 1')() == 1)\n"
        "check('env load', load('return x', 'c', 't', { x = 5 })() == 5)\n"
        "check('loadlib', package.loadlib == nil)\n"
        "check('collectgarbage', type(collectgarbage('count')) == 'number')\n"
        "local cjson = require 'cjson'\n"
        "check('cjson', cjson.decode('{\"a\":[1,2]}').a[2] == 2)\n"
        "check('cjson enc', cjson.encode({ a = 'b' }) == '{\"a\":\"b\"}')\n"
        "check('cjson depth', not pcall(cjson.decode_max_depth, 1e6))\n"
        "check('cjson depth2', not pcall(cjson.encode_max_depth, '100000'))\n"
        "check('cjson depth ok', pcall(cjson.decode_max_depth, 100))\n"
        "check('cjson nest', not pcall(cjson.decode,\n"
        "  string.rep('[', 200) .. string.rep(']', 200)))\n"
        "local c2 = cjson.new()\n"
        "check('cjson.new depth', not pcall(c2.encode_max_depth, 5000))\n"
        "local big, t = string.rep('x', 1e6), {}\n"
        "for i = 1, 40 do t[i] = big end\n"
        "local ok, err = pcall(cjson.encode, t)\n"
        "check('cjson enc cap', not ok and err:find('memory limit'))\n"
        "check('cjson enc sparse', not pcall(c2.encode, { [1e9] = 1 }))\n"
        "local safe = require 'cjson.safe'\n"
        "check('cjson.safe', safe.decode('{') == nil)\n"
        "local fh = require 'firehose'\n"
        "check('b64', fh.base64_encode('Hello World') == 'SGVsbG8gV29ybGQ=')\n"
        "check('b64 1', fh.base64_encode('a') == 'YQ==')\n"
        "check('b64 empty', fh.base64_encode('') == '')\n"
        "check('b64 dec',\n"
        "  fh.base64_decode('SGVsbG8gV29ybGQ=') == 'Hello World')\n"
        "check('b64 dec2', fh.base64_decode('YQ==') == 'a')\n"
        "check('b64 bad', fh.base64_decode('YQ=') == nil)\n"
        "check('b64 bad2', fh.base64_decode('Y=Q=') == nil)\n"
        "check('b64 bad3', fh.base64_decode('YQ==YQ==') == nil)\n"
        "check('iso',\n"
        "  fh.iso8601(1507217624302) == '2017-10-05T15:33:44.302Z')\n"
        "check('iso neg', fh.iso8601(-1) == '1969-12-31T23:59:59.999Z')\n"
        "check('date',\n"
        "  fh.date('%Y/%m/%d/%H', 1507217624302) == '2017/10/05/15')\n"
        "check('date bad', not pcall(fh.date, '%Q', 0))\n"
        "check('date trail', not pcall(fh.date, 'x%', 0))\n"
        "check('now', math.abs(fh.now() - os.time() * 1000) < 5000)\n"
        "print('hello from', 'sb.lua')\n"
        "function transform(r)\n"
        "  for i = 1, 30 do print('line', i) end\n"
        "  return 'Ok', table.concat(checks, ',')\n"
        "end\n", NULL);
    fx_run(&f, d, 1);
    assert_data(&f, 0, "");
    fx_close(&f);
}

static void test_kinesis_and_fresh_tables(void **state)
{
    struct fx f;
    struct xform_kinesis k = { "shardId-000000000000", "pk", "4954", 3,
                               1507217624302 };
    struct xform_in in[2] = {
        { "r1", (const unsigned char *)"a", 1, 5, &k },
        { "r2", (const unsigned char *)"b", 1, 6, NULL },
    };

    (void)state;
    fx_open(&f, "kin.lua",
        "function transform(r)\n"
        "  local k = r.kinesis\n"
        "  local extra = r.mark and 'leaked' or ''\n"
        "  r.mark = true\n"
        "  if not k then return 'Ok', 'direct ' .. r.id .. extra end\n"
        "  return 'Ok', string.format('%s %s %s %d %d %s', k.shardId,\n"
        "    k.partitionKey, k.sequenceNumber, k.subsequenceNumber,\n"
        "    k.approximateArrivalTimestamp, r.id)\n"
        "end\n", NULL);
    assert_int_equal(xform_run(f.x, in, 2, f.out, &f.arena, &f.e), 0);
    assert_data(&f, 0, "shardId-000000000000 pk 4954 3 1507217624302 r1");
    assert_data(&f, 1, "direct r2");
    fx_close(&f);
}

static void test_load_errors(void **state)
{
    struct xform_host *h = xform_host_new(dir, &(struct err){ 0 });
    struct err e;
    unsigned v;
    char last[256];

    (void)state;
    assert_non_null(h);
    assert_int_equal(xform_host_check(h, "missing.lua", &e), -1);
    assert_non_null(strstr(e.msg, "missing.lua"));
    assert_null(xform_new(h, "missing.lua", NULL, &e));
    assert_non_null(strstr(e.msg, "No such file"));
    put("syntax.lua", "function transform(r) return 'Ok' end end\n");
    assert_int_equal(xform_host_check(h, "syntax.lua", &e), -1);
    assert_non_null(strstr(e.msg, "syntax.lua:1:"));
    put("none.lua", "function transfrom(r) return 'Ok' end\n");
    assert_int_equal(xform_host_check(h, "none.lua", &e), -1);
    assert_non_null(strstr(e.msg, "does not define a global function "
                           "transform"));
    put("toploop.lua", "while true do end\n");
    assert_int_equal(xform_host_check(h, "toploop.lua", &e), -1);
    assert_non_null(strstr(e.msg, "instruction budget"));
    put("toperr.lua", "error('nope')\n");
    assert_int_equal(xform_host_check(h, "toperr.lua", &e), -1);
    assert_non_null(strstr(e.msg, "toperr.lua:1: nope"));
    assert_int_equal(xform_host_check(h, "../etc/passwd", &e), -1);
    assert_non_null(strstr(e.msg, "must be a file name"));
    assert_int_equal(xform_host_check(h, ".hidden.lua", &e), -1);
    assert_int_equal(xform_host_check(h, "", &e), -1);
    put("good.lua", "function transform(r) return 'Ok' end\n");
    assert_int_equal(xform_host_check(h, "good.lua", &e), 0);
    xform_host_status(h, "good.lua", &v, last, sizeof(last));
    assert_int_equal(v, 1);
    assert_string_equal(last, "");
    xform_host_status(h, "never.lua", &v, last, sizeof(last));
    assert_int_equal(v, 0);
    xform_host_free(h);
    xform_host_free(NULL);
    xform_free(NULL);
    assert_null(xform_host_new("/nonexistent/transforms", &e));
    assert_non_null(strstr(e.msg, "/nonexistent/transforms"));
}

/* Run batches until the output is 'want' (the watcher is asynchronous). */
static void wait_output(struct fx *f, const char *want)
{
    const char *d[] = { "x" };

    for (int i = 0; i < 300; i++) {
        fx_run(f, d, 1);
        if (f->out[0].result == XFORM_OK &&
            f->out[0].data_len == strlen(want) &&
            memcmp(xform_ptr(&f->arena, f->out[0].data_off), want,
                   f->out[0].data_len) == 0)
            return;
        usleep(10000);
    }
    fail_msg("output never became '%s'", want);
}

/* Run batches until the script's status shows an error (or none). */
static void wait_status(struct fx *f, int want_error, char *last, size_t n)
{
    const char *d[] = { "x" };
    unsigned v;

    for (int i = 0; i < 300; i++) {
        fx_run(f, d, 1);
        xform_host_status(f->h, "hot.lua", &v, last, n);
        if ((last[0] != '\0') == want_error)
            return;
        usleep(10000);
    }
    fail_msg("status never %s an error", want_error ? "showed" : "cleared");
}

/* n from "v1 n", after one more call. */
static long counter(struct fx *f)
{
    const char *d[] = { "x" };
    char text[32];

    fx_run(f, d, 1);
    assert_int_equal(f->out[0].result, XFORM_OK);
    assert_true(f->out[0].data_len > 3 && f->out[0].data_len < 32);
    memcpy(text, xform_ptr(&f->arena, f->out[0].data_off),
           f->out[0].data_len);
    text[f->out[0].data_len] = '\0';
    return strtol(text + 3, NULL, 10);
}

static void test_hot_reload(void **state)
{
    long n_before;
    static const char v1[] =
        "n = 0 function transform(r) n = n + 1 return 'Ok', 'v1 ' .. n end\n";
    struct fx f;
    unsigned v;
    char last[256], path[128];
    const char *d[] = { "x" };
    struct xform *x2;

    (void)state;
    fx_open(&f, "hot.lua", v1, NULL);
    wait_output(&f, "v1 1");
    /* Broken: the previous version and its state keep running. */
    put("hot.lua", "function transform(r) return 'Ok' end end\n");
    wait_status(&f, 1, last, sizeof(last));
    assert_non_null(strstr(last, "hot.lua:1:"));
    fx_run(&f, d, 1);
    assert_true(f.out[0].data_len > 3);
    assert_memory_equal(xform_ptr(&f.arena, f.out[0].data_off), "v1 ", 3);
    xform_host_status(f.h, "hot.lua", &v, last, sizeof(last));
    assert_int_equal(v, 1);
    /* A new worker starts from the last good version, not the file. */
    x2 = xform_new(f.h, "hot.lua", NULL, &f.e);
    assert_non_null(x2);
    xform_free(x2);
    /* Back to the same text: the error clears, the state is not reset. */
    n_before = counter(&f);
    put("hot.lua", v1);
    wait_status(&f, 0, last, sizeof(last));
    assert_true(counter(&f) > n_before + 1);
    xform_host_status(f.h, "hot.lua", &v, last, sizeof(last));
    assert_int_equal(v, 1);
    /* Fixed: picked up. */
    put("hot.lua", "function transform(r) return 'Ok', 'v2' end\n");
    wait_output(&f, "v2");
    xform_host_status(f.h, "hot.lua", &v, last, sizeof(last));
    assert_int_equal(v, 2);
    assert_string_equal(last, "");
    /* A module the script requires changes: the script reloads too. */
    put("hotmod.lua", "return 'm1'\n");
    put("hot.lua", "local m = require 'hotmod'\n"
                   "function transform(r) return 'Ok', m end\n");
    wait_output(&f, "m1");
    put("hotmod.lua", "return 'm2'\n");
    wait_output(&f, "m2");
    /* Removed: logged, the last version keeps running. */
    snprintf(path, sizeof(path), "%s/hot.lua", dir);
    assert_int_equal(unlink(path), 0);
    wait_status(&f, 1, last, sizeof(last));
    assert_non_null(strstr(last, "No such file"));
    wait_output(&f, "m2");
    fx_close(&f);
}

static void test_failed_json(void **state)
{
    struct fx f;
    const char *d[] = { "FAIL this one\n" };
    struct buf doc = { 0 };
    json_error_t je;
    json_t *j;
    const char *key;
    json_t *val;
    static const char *const order[] = {
        "attemptsMade", "arrivalTimestamp", "errorCode", "errorMessage",
        "attemptEndingTimestamp", "rawData", "lambdaARN",
    };
    size_t i = 0;

    (void)state;
    fx_open(&f, "pf.lua", "function transform(r)\n"
            "  return 'ProcessingFailed', 'bad \"quote\"\\n'\nend\n", NULL);
    fx_run(&f, d, 1);
    assert_int_equal(xform_failed_json(&doc, &f.out[0], &f.arena,
                                       (const unsigned char *)d[0],
                                       strlen(d[0]), 1789014240448,
                                       1789014301529, "pf.lua", &f.e), 0);
    assert_int_equal(doc.p[doc.len - 1], '\n');
    assert_null(memchr(doc.p, '\n', doc.len - 1));
    j = json_loadb((const char *)doc.p, doc.len, JSON_PRESERVE_ORDER, &je);
    if (j == NULL)
        fail_msg("not JSON: %s", je.text);
    json_object_foreach(j, key, val) {
        assert_true(i < 7);
        assert_string_equal(key, order[i++]);
    }
    assert_int_equal(i, 7);
    assert_int_equal(json_integer_value(json_object_get(j, "attemptsMade")),
                     1);
    assert_true(json_integer_value(json_object_get(j, "arrivalTimestamp"))
                == 1789014240448);
    assert_string_equal(json_string_value(json_object_get(j, "errorCode")),
                        "Lua.ProcessingFailedStatus");
    assert_string_equal(json_string_value(json_object_get(j,
                        "errorMessage")), "bad \"quote\"\n");
    assert_string_equal(json_string_value(json_object_get(j, "rawData")),
                        "RkFJTCB0aGlzIG9uZQo=");
    assert_string_equal(json_string_value(json_object_get(j, "lambdaARN")),
                        "pf.lua");
    json_decref(j);
    buf_release(&doc);
    fx_close(&f);
}

/* The state's allocator recycles small blocks: objects that grow through
 * the size classes and past them (tables, strings, a growing buffer) come
 * out intact, batch after batch (run under ASan by make SANITIZE=...). */
static void test_allocator_classes(void **state)
{
    struct fx f;
    const char *d[] = { "300", "17", "1" };

    (void)state;
    fx_open(&f, "alloc.lua",
        "function transform(r)\n"
        "  local n, t, h = tonumber(r.data), {}, {}\n"
        "  for i = 1, n do\n"
        "    t[i] = string.rep(string.char(97 + i % 26), i)\n"
        "    h['k' .. i] = i\n"
        "  end\n"
        "  local s, sum = table.concat(t), 0\n"
        "  for _, v in pairs(h) do sum = sum + v end\n"
        "  return 'Ok', #s .. ' ' .. sum .. ' ' .. s:sub(-3)\n"
        "end\n", NULL);
    for (int round = 0; round < 3; round++) {
        fx_run(&f, d, 3);
        assert_data(&f, 0, "45150 45150 ooo");
        assert_data(&f, 1, "153 153 rrr");
        assert_data(&f, 2, "1 1 b");
    }
    fx_close(&f);
}

/* The arena is xform_run's own: each call starts it empty (a caller that
 * forgets to reset it must not grow it by every batch), and capacity far
 * above the current batch's needs is given back. */
static void test_arena_reuse(void **state)
{
    struct fx f;
    const char *big[] = { "big", "big" };
    struct xform_in in = { .id = "id", .data = (const unsigned char *)"a",
                           .len = 1, .arrival_ms = 1 };

    (void)state;
    fx_open(&f, "arena.lua",
        "function transform(r)\n"
        "  if r.data == 'big' then return 'Ok', string.rep('x', 3000000) end\n"
        "  return 'Ok', r.data .. '!'\n"
        "end\n", NULL);
    fx_run(&f, big, 2);
    assert_int_equal(f.arena.len, 6000000);
    assert_true(f.arena.cap >= 6000000);
    for (int i = 0; i < 5; i++) {      /* no reset between calls */
        assert_int_equal(xform_run(f.x, &in, 1, f.out, &f.arena, &f.e), 0);
        assert_int_equal(f.arena.len, 2);
        assert_true(f.arena.cap <= (size_t)1 << 20);
        assert_data(&f, 0, "a!");
    }
    /* Leftover bytes from the caller are dropped, not appended to. */
    memset(f.arena.p, '#', 2);
    assert_int_equal(xform_run(f.x, &in, 1, f.out, &f.arena, &f.e), 0);
    assert_int_equal(f.out[0].data_off, 0);
    assert_data(&f, 0, "a!");
    fx_close(&f);
}

static void test_output_cap_and_print(void **state)
{
    struct fx f;
    const char *d[] = { "a", "b" };

    (void)state;
    /* 64 MiB of output from 2 bytes of input: the first record fits, the
     * second is refused (Lua.InvalidResult), nothing grows without bound. */
    struct xform_limits lim = { 0, 200 << 20, 0 };
    fx_open(&f, "big.lua",
        "function transform(r) return 'Ok', string.rep('x', 40 << 20) end\n",
        &lim);
    fx_run(&f, d, 2);
    assert_int_equal(f.out[0].result, XFORM_OK);
    assert_int_equal(f.out[0].data_len, 40 << 20);
    assert_failed(&f, 1, "Lua.InvalidResult", "exceed", 1);
    fx_close(&f);
}

/* The example scripts users copy do what their comments say. */
static void run_example(struct fx *f, const char *script,
                        const char *const *data, const int64_t *arrival,
                        size_t n)
{
    struct xform_in in[8];

    f->x = xform_new(f->h, script, NULL, &f->e);
    if (f->x == NULL)
        fail_msg("%s: %s", script, f->e.msg);
    for (size_t i = 0; i < n; i++)
        in[i] = (struct xform_in){ .id = "id",
            .data = (const unsigned char *)data[i], .len = strlen(data[i]),
            .arrival_ms = arrival != NULL ? arrival[i] : 1000 };
    f->arena.len = 0;
    assert_int_equal(xform_run(f->x, in, n, f->out, &f->arena, &f->e), 0);
}

static void test_examples(void **state)
{
    struct fx f = { 0 };
    const char *drop[] = { "{\"level\":\"debug\"}", "{\"level\":\"info\"}",
                           "nope" };
    const char *redact[] = { "mail bob.smith+x@example.co.uk from 10.0.0.12 "
                             "v1.2.3", "clean" };
    const char *nd[] = { "{\"id\":7,\"user\":{\"id\":\"u1\",\"country\":"
                         "\"DE\"},\"action\":\"click\"}" };
    const char *route[] = { "{\"customer_id\":\"acme\",\"ts\":1507217624302}",
                            "{\"x\":1}" };
    const char *tw[] = { "{\"hashtag\":\"a\"}", "{\"hashtag\":\"b\"}",
                         "{\"hashtag\":\"a\"}", "{}",
                         "{\"hashtag\":\"a\"}" };
    const int64_t tw_at[] = { 60000, 61000, 119999, 119999, 120000 };
    const char *k;
    json_t *j;
    json_error_t je;

    (void)state;
    f.h = xform_host_new("transforms/examples", &f.e);
    assert_non_null(f.h);

    run_example(&f, "drop_by_field.lua", drop, NULL, 3);
    assert_int_equal(f.out[0].result, XFORM_DROPPED);
    assert_data(&f, 1, drop[1]);
    assert_failed(&f, 2, "Lua.ProcessingFailedStatus", "not a JSON", 1);
    xform_free(f.x);

    run_example(&f, "redact.lua", redact, NULL, 2);
    assert_data(&f, 0, "mail [email] from [ip] v1.2.3");
    assert_data(&f, 1, "clean");
    xform_free(f.x);

    run_example(&f, "to_ndjson.lua", nd, NULL, 1);
    assert_int_equal(f.out[0].result, XFORM_OK);
    assert_int_equal(xform_ptr(&f.arena, f.out[0].data_off)
                     [f.out[0].data_len - 1], '\n');
    j = json_loadb((const char *)xform_ptr(&f.arena, f.out[0].data_off),
                   f.out[0].data_len, 0, &je);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 7);
    assert_string_equal(json_string_value(json_object_get(j, "user_id")),
                        "u1");
    assert_string_equal(json_string_value(json_object_get(j, "action")),
                        "click");
    assert_string_equal(json_string_value(json_object_get(j, "received")),
                        "1970-01-01T00:00:01.000Z");
    json_decref(j);
    xform_free(f.x);

    run_example(&f, "route_by_field.lua", route, NULL, 2);
    assert_data(&f, 0, route[0]);
    k = (const char *)xform_ptr(&f.arena, f.out[0].keys_off);
    assert_string_equal(xform_key(k, f.out[0].keys_len, "customer"), "acme");
    assert_string_equal(xform_key(k, f.out[0].keys_len, "year"), "2017");
    assert_failed(&f, 1, "Lua.ProcessingFailedStatus", "customer_id", 1);
    xform_free(f.x);

    run_example(&f, "tweet_count.lua", tw, tw_at, 5);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(f.out[i].result, XFORM_DROPPED);
    assert_int_equal(f.out[4].result, XFORM_OK);
    {
        char text[512];
        const char *want[] = { "a", "b" };
        json_int_t cnt[] = { 2, 1 };
        char *line, *save = NULL;
        size_t i = 0;
        assert_true(f.out[4].data_len < sizeof(text));
        memcpy(text, xform_ptr(&f.arena, f.out[4].data_off),
               f.out[4].data_len);
        text[f.out[4].data_len] = '\0';
        for (line = strtok_r(text, "\n", &save); line != NULL;
             line = strtok_r(NULL, "\n", &save), i++) {
            j = json_loads(line, 0, &je);
            assert_non_null(j);
            assert_true(i < 2);
            assert_string_equal(json_string_value(json_object_get(j, "key")),
                                want[i]);
            assert_int_equal(json_integer_value(json_object_get(j,
                             "count")), cnt[i]);
            assert_string_equal(json_string_value(json_object_get(j,
                                "minute")), "1970-01-01T00:01Z");
            json_decref(j);
        }
        assert_int_equal(i, 2);
    }
    xform_free(f.x);
    f.x = NULL;
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_results),
        cmocka_unit_test(test_partition_keys),
        cmocka_unit_test(test_invalid_results),
        cmocka_unit_test(test_runtime_error_retried),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_memory_limit),
        cmocka_unit_test(test_sandbox_rules),
        cmocka_unit_test(test_kinesis_and_fresh_tables),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_hot_reload),
        cmocka_unit_test(test_failed_json),
        cmocka_unit_test(test_output_cap_and_print),
        cmocka_unit_test(test_arena_reuse),
        cmocka_unit_test(test_allocator_classes),
        cmocka_unit_test(test_examples),
    };

    log_init(0, LOG_ERROR);
    return cmocka_run_group_tests_name("xform", tests, setup, teardown);
}
