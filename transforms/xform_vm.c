#include "xform_vm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "../delivery/log.h"
#include "xform_lib.h"

#define XV_HOOK_STEP    1000        /* instructions between hook calls */
#define XV_MAX_PATH     256         /* loadfile/dofile/require names */
#define XV_MAX_KEYS     50
#define XV_MAX_KEY_VALUE 1024
#define XV_MAX_PRINTS   20          /* print() lines logged per attempt */

/* Small blocks (what Lua allocates per record: the record table and its
 * hash part, the id and data strings, cjson's tables and strings) are
 * recycled through per-state free lists instead of going back to malloc:
 * a batch frees and allocates the same sizes over and over, and glibc's
 * per-thread cache holds only 7 blocks per size, so most of that traffic
 * fell through to _int_malloc/_int_free (7 % of P3's profile). Sizes are
 * rounded up to 16-byte classes up to 256 bytes; at most XV_POOL_KEEP
 * bytes of free blocks are kept, the rest is freed as before. The memory
 * limit still counts the sizes Lua asked for. */
#define XV_POOL_STEP    16
#define XV_POOL_CLASSES 16
#define XV_POOL_MAX     ((size_t)XV_POOL_STEP * XV_POOL_CLASSES)
#define XV_POOL_KEEP    ((size_t)1 << 20)

struct xv_block {
    struct xv_block *next;
};

/* One lua_State and its accounting; the allocator's userdata. */
struct xform_vm {
    lua_State *L;
    struct xform_vm_conf c;
    size_t mem;
    uint64_t used;
    int step, timed_out;
    int prints;
    struct xv_block *pool[XV_POOL_CLASSES];     /* free blocks per class */
    size_t pool_bytes;
};

/* ---- files ------------------------------------------------------------- */

int xform_vm_read(const char *dir, const char *rel, char **out, size_t *n,
                  struct err *e)
{
    char path[PATH_MAX];
    struct stat st;
    char *p = NULL;
    size_t got = 0;
    int fd;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) >=
        sizeof(path))
        return err_set(e, ERR_INVAL, "script path '%s/%s' is too long",
                       dir, rel);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_sys(e, errno, "cannot open script '%s'", path);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(e, ERR_INVAL, "script '%s' is not a regular file",
                       path);
    }
    if ((size_t)st.st_size > XFORM_VM_MAX_SOURCE) {
        close(fd);
        return err_set(e, ERR_INVAL, "script '%s' is %lld bytes, above the "
                       "limit of %zu", path, (long long)st.st_size,
                       XFORM_VM_MAX_SOURCE);
    }
    p = malloc((size_t)st.st_size + 1);
    if (p == NULL) {
        close(fd);
        return err_set(e, ERR_NOMEM, "out of memory reading '%s'", path);
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, p + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int saved = r < 0 ? errno : EIO;
            free(p);
            close(fd);
            return err_sys(e, saved, "cannot read script '%s'", path);
        }
        got += (size_t)r;
    }
    close(fd);
    p[got] = '\0';
    *out = p;
    *n = got;
    return 0;
}

/* A path for loadfile/dofile/require: relative, inside the directory. */
static int rel_ok(const char *rel)
{
    const char *p = rel;

    if (*rel == '\0' || *rel == '/' || strlen(rel) >= XV_MAX_PATH)
        return 0;
    while (*p != '\0') {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return 0;
        p += n;
        if (*p == '/')
            p++;
    }
    return 1;
}

/* ---- the sandboxed state ------------------------------------------------ */

/* Class of a block of n bytes, 1 <= n <= XV_POOL_MAX. */
static size_t pool_class(size_t n)
{
    return (n - 1) / XV_POOL_STEP;
}

static void *pool_get(struct xform_vm *vm, size_t n)
{
    size_t c = pool_class(n);
    struct xv_block *b = vm->pool[c];

    if (b == NULL)
        return malloc((c + 1) * XV_POOL_STEP);
    vm->pool[c] = b->next;
    vm->pool_bytes -= (c + 1) * XV_POOL_STEP;
    return b;
}

/* A block Lua knew as n bytes. */
static void pool_put(struct xform_vm *vm, void *p, size_t n)
{
    size_t c = pool_class(n), bytes = (c + 1) * XV_POOL_STEP;
    struct xv_block *b = p;

    if (vm->pool_bytes + bytes > XV_POOL_KEEP) {
        free(p);
        return;
    }
    b->next = vm->pool[c];
    vm->pool[c] = b;
    vm->pool_bytes += bytes;
}

static void pool_release(struct xform_vm *vm)
{
    for (size_t c = 0; c < XV_POOL_CLASSES; c++)
        while (vm->pool[c] != NULL) {
            struct xv_block *b = vm->pool[c];
            vm->pool[c] = b->next;
            free(b);
        }
    vm->pool_bytes = 0;
}

static void *vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct xform_vm *vm = ud;
    size_t old = ptr != NULL ? osize : 0;
    void *p;

    if (nsize == 0) {
        if (old > 0 && old <= XV_POOL_MAX)
            pool_put(vm, ptr, old);
        else if (ptr != NULL)
            free(ptr);
        vm->mem -= old;
        return NULL;
    }
    if (nsize > old && (vm->mem >= vm->c.memory_bytes ||
                        nsize - old > vm->c.memory_bytes - vm->mem))
        return NULL;                /* Lua collects, retries, then fails */
    if (old > 0 && old <= XV_POOL_MAX && nsize <= XV_POOL_MAX &&
        pool_class(old) == pool_class(nsize)) {
        p = ptr;                    /* fits the block it has */
    } else if (nsize > XV_POOL_MAX && old > XV_POOL_MAX) {
        p = realloc(ptr, nsize);
    } else {                        /* to, from or between classes */
        p = nsize <= XV_POOL_MAX ? pool_get(vm, nsize) : malloc(nsize);
        if (p != NULL && old > 0) {
            memcpy(p, ptr, old < nsize ? old : nsize);
            if (old <= XV_POOL_MAX)
                pool_put(vm, ptr, old);
            else
                free(ptr);
        }
    }
    /* Shrinking must not fail: the larger block stays, and is later
     * released as the size Lua then gives (a pooled block bigger than its
     * class is still a valid block of that class). */
    if (p == NULL)
        return nsize <= old ? ptr : NULL;
    vm->mem = vm->mem - old + nsize;
    return p;
}

static struct xform_vm *vm_of(lua_State *L)
{
    void *ud;

    (void)lua_getallocf(L, &ud);
    return ud;
}

/* Count hook: every thread (coroutines too) adds to one budget. Once it
 * is spent every hook call raises, so a script's own pcall cannot swallow
 * the timeout for long. */
static void vm_hook(lua_State *L, lua_Debug *ar)
{
    struct xform_vm *vm = vm_of(L);

    (void)ar;
    vm->used += (uint64_t)lua_gethookcount(L);
    if (vm->timed_out || vm->used > vm->c.instructions) {
        vm->timed_out = 1;
        lua_sethook(L, vm_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "instruction budget of %I exceeded",
                   (lua_Integer)vm->c.instructions);
    }
    if (lua_gethookcount(L) != vm->step)
        lua_sethook(L, vm_hook, LUA_MASKCOUNT, vm->step);
}

/* Pushes the compiled chunk dir/rel, or raises. */
static void sb_loadrel(lua_State *L, struct xform_vm *vm, const char *rel)
{
    char *src, chunk[XV_MAX_PATH + 2];
    size_t n;
    struct err e;
    int st;

    if (!rel_ok(rel))
        luaL_error(L, "'%s': only files inside the transforms directory "
                   "can be loaded", rel);
    if (xform_vm_read(vm->c.dir, rel, &src, &n, &e) != 0)
        luaL_error(L, "%s", e.msg);
    snprintf(chunk, sizeof(chunk), "@%s", rel);
    st = luaL_loadbufferx(L, src, n, chunk, "t");
    free(src);
    if (st != LUA_OK)
        lua_error(L);
}

static int sb_loadfile(lua_State *L)
{
    const char *rel = luaL_checkstring(L, 1);
    int env = lua_gettop(L) >= 3;

    sb_loadrel(L, lua_touserdata(L, lua_upvalueindex(1)), rel);
    if (env) {                      /* as the standard loadfile does */
        lua_pushvalue(L, 3);
        if (lua_setupvalue(L, -2, 1) == NULL)
            lua_pop(L, 1);
    }
    return 1;
}

static int sb_dofile(lua_State *L)
{
    const char *rel = luaL_checkstring(L, 1);

    lua_settop(L, 1);
    sb_loadrel(L, lua_touserdata(L, lua_upvalueindex(1)), rel);
    lua_call(L, 0, LUA_MULTRET);
    return lua_gettop(L) - 1;
}

/* load() of text only: a binary chunk can crash the VM. */
static int sb_load(lua_State *L)
{
    int n = lua_gettop(L);

    if (n < 3)
        lua_settop(L, n = 3);
    lua_pushliteral(L, "t");
    lua_replace(L, 3);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

static int sb_require(lua_State *L)
{
    struct xform_vm *vm = lua_touserdata(L, lua_upvalueindex(1));
    const char *name = luaL_checkstring(L, 1);
    lua_CFunction open = NULL;
    int cjson = 0;
    char rel[XV_MAX_PATH];

    lua_settop(L, 1);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, 2, name) != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    if (strcmp(name, "firehose") == 0) {
        open = xform_lib_open;
    } else if (strcmp(name, "cjson") == 0 ||
               strcmp(name, "cjson.safe") == 0) {
        open = name[5] ? vm->c.cjson_safe_open : vm->c.cjson_open;
        cjson = 1;
        if (open == NULL)
            return luaL_error(L, "module '%s' is not installed (Debian "
                              "package lua-cjson)", name);
    }
    if (open != NULL) {
        lua_pushcfunction(L, open);
        lua_pushvalue(L, 1);
        lua_call(L, 1, 1);
        if (cjson && lua_istable(L, -1))
            xform_lib_guard_cjson(L, vm->c.memory_bytes);
    } else {
        /* "a.b" is a/b.lua in the transforms directory. */
        size_t n = strlen(name);
        if (n + 5 > sizeof(rel) || strspn(name, "abcdefghijklmnopqrstuvwxyz"
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != n ||
            name[0] == '.' || strstr(name, "..") != NULL)
            return luaL_error(L, "module '%s' not found: only cjson, "
                              "firehose and .lua files in the transforms "
                              "directory can be required", name);
        for (size_t i = 0; i <= n; i++)
            rel[i] = name[i] == '.' ? '/' : name[i];
        memcpy(rel + n, ".lua", 5);
        sb_loadrel(L, vm, rel);
        lua_pushvalue(L, 1);
        lua_call(L, 1, 1);
    }
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, 2, name);
    return 1;
}

/* print() goes to the service log, a few lines per attempt. */
static int sb_print(lua_State *L)
{
    struct xform_vm *vm = lua_touserdata(L, lua_upvalueindex(1));
    int n = lua_gettop(L);
    luaL_Buffer b;
    size_t len;
    const char *s;

    if (vm->prints++ >= XV_MAX_PRINTS)
        return 0;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        (void)luaL_tolstring(L, i, NULL);
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    s = lua_tolstring(L, -1, &len);
    log_msg(LOG_INFO, vm->c.who, "print: %.*s%s", len > 900 ? 900 : (int)len,
            s, vm->prints == XV_MAX_PRINTS ? " (further lines in this "
            "batch are not logged)" : "");
    return 0;
}

static void sb_set(lua_State *L, struct xform_vm *vm, const char *name,
                   lua_CFunction fn)
{
    lua_pushlightuserdata(L, vm);
    lua_pushcclosure(L, fn, 1);
    lua_setglobal(L, name);
}

struct setup {
    struct xform_vm *vm;
    const char *src;
    size_t len;
};

/* Protected: libraries, sandbox, then the script's top-level code. */
static int vm_setup(lua_State *L)
{
    static const char *const os_keep[] = {
        "time", "date", "clock", "difftime", NULL,
    };
    static const luaL_Reg libs[] = {
        { LUA_GNAME, luaopen_base }, { LUA_TABLIBNAME, luaopen_table },
        { LUA_STRLIBNAME, luaopen_string }, { LUA_MATHLIBNAME, luaopen_math },
        { LUA_UTF8LIBNAME, luaopen_utf8 },
        { LUA_COLIBNAME, luaopen_coroutine },
        { LUA_OSLIBNAME, luaopen_os }, { NULL, NULL },
    };
    struct setup *su = lua_touserdata(L, 1);
    struct xform_vm *vm = su->vm;
    char chunk[XV_MAX_PATH + 2];

    for (const luaL_Reg *l = libs; l->name != NULL; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    /* os: the clock only (no execute, exit, getenv, remove, setlocale). */
    lua_getglobal(L, LUA_OSLIBNAME);
    lua_createtable(L, 0, 4);
    for (int i = 0; os_keep[i] != NULL; i++) {
        lua_getfield(L, -2, os_keep[i]);
        lua_setfield(L, -2, os_keep[i]);
    }
    lua_pushvalue(L, -1);
    lua_setglobal(L, LUA_OSLIBNAME);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, LUA_OSLIBNAME);
    /* package.loaded, for scripts that look there. */
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "loaded");
    lua_setglobal(L, "package");
    lua_settop(L, 1);

    lua_getglobal(L, "load");
    lua_pushcclosure(L, sb_load, 1);
    lua_setglobal(L, "load");
    sb_set(L, vm, "loadfile", sb_loadfile);
    sb_set(L, vm, "dofile", sb_dofile);
    sb_set(L, vm, "require", sb_require);
    sb_set(L, vm, "print", sb_print);

    lua_sethook(L, vm_hook, LUA_MASKCOUNT, vm->step);
    snprintf(chunk, sizeof(chunk), "@%s", vm->c.name);
    if (luaL_loadbufferx(L, su->src, su->len, chunk, "t") != LUA_OK)
        return lua_error(L);
    lua_call(L, 0, 0);
    if (lua_getglobal(L, "transform") != LUA_TFUNCTION)
        return luaL_error(L, "%s does not define a global function "
                          "transform(record)", vm->c.name);
    return 0;
}

/* Copy the error at the top of the stack (or 'fallback') into msg. */
static void vm_message(struct xform_vm *vm, int status, char *msg, size_t n)
{
    const char *s = NULL;

    if (vm->timed_out)
        snprintf(msg, n, "the script used its instruction budget of %llu "
                 "(LuaInstructionBudget)",
                 (unsigned long long)vm->c.instructions);
    else if (status == LUA_ERRMEM)
        snprintf(msg, n, "the script's Lua state reached its memory limit "
                 "of %zu bytes (LuaMemoryLimitBytes)", vm->c.memory_bytes);
    else if ((s = lua_tostring(vm->L, -1)) != NULL)
        snprintf(msg, n, "%s", s);
    else
        snprintf(msg, n, "error object is a %s value",
                 luaL_typename(vm->L, -1));
}

void xform_vm_free(struct xform_vm *vm)
{
    if (vm == NULL)
        return;
    if (vm->L != NULL)
        lua_close(vm->L);
    pool_release(vm);
    free(vm);
}

struct xform_vm *xform_vm_new(const struct xform_vm_conf *c, const char *src,
                              size_t len, struct err *e)
{
    struct xform_vm *vm = calloc(1, sizeof(*vm));
    struct setup su = { vm, src, len };
    char msg[XFORM_VM_MAX_MSG];
    int st;

    if (vm == NULL) {
        err_set(e, ERR_NOMEM, "out of memory for a Lua state");
        return NULL;
    }
    vm->c = *c;
    if (vm->c.instructions > INT64_MAX)
        vm->c.instructions = INT64_MAX;
    vm->step = c->instructions < XV_HOOK_STEP ? (int)c->instructions
                                              : XV_HOOK_STEP;
    if (vm->step < 1)
        vm->step = 1;
    vm->L = lua_newstate(vm_alloc, vm);
    if (vm->L == NULL) {
        err_set(e, ERR_NOMEM, "script '%s/%s': cannot create a Lua state "
                "within %zu bytes (LuaMemoryLimitBytes)", c->dir, c->name,
                c->memory_bytes);
        xform_vm_free(vm);
        return NULL;
    }
    lua_pushcfunction(vm->L, vm_setup);
    lua_pushlightuserdata(vm->L, &su);
    st = lua_pcall(vm->L, 1, 0, 0);
    if (st != LUA_OK) {
        vm_message(vm, st, msg, sizeof(msg));
        err_set(e, ERR_INVAL, "script '%s/%s' failed to load: %s", c->dir,
                c->name, msg);
        xform_vm_free(vm);
        return NULL;
    }
    lua_settop(vm->L, 0);
    return vm;
}

/* ---- one batch ---------------------------------------------------------- */

struct run {
    const struct xform_in *in;
    size_t n;
    struct xform_out *out;
    struct buf *arena;
    size_t out_used, out_cap;
    int arena_failed;
    struct err *e;
};

static void run_append(lua_State *L, struct run *r, const void *p, size_t n)
{
    if (buf_append(r->arena, p, n, r->e) != 0) {
        r->arena_failed = 1;
        luaL_error(L, "out of memory for transform output");
    }
}

/* Record i is FAILED with Lua.InvalidResult; its output so far is undone. */
static void run_invalid(lua_State *L, struct run *r, size_t i, size_t start,
                        const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void run_invalid(lua_State *L, struct run *r, size_t i, size_t start,
                        const char *fmt, ...)
{
    struct xform_out *o = &r->out[i];
    char msg[XFORM_VM_MAX_MSG];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r->arena->len = start;
    o->result = XFORM_FAILED;
    o->error_code = "Lua.InvalidResult";
    o->msg_off = start;
    o->msg_len = n < 0 ? 0 : (size_t)n >= sizeof(msg) ? sizeof(msg) - 1
                                                      : (size_t)n;
    run_append(L, r, msg, o->msg_len);
    o->data_off = o->data_len = o->keys_off = o->keys_len = 0;
}

struct keyref {
    const char *p;
    size_t n;
};

static int key_cmp(const struct keyref *a, const struct keyref *b)
{
    int c = memcmp(a->p, b->p, a->n < b->n ? a->n : b->n);

    return c != 0 ? c : (a->n > b->n) - (a->n < b->n);
}

/* The partition keys table at index t, sorted, as "name\0value\0"... */
static int run_keys(lua_State *L, struct run *r, size_t i, int t,
                    size_t start)
{
    struct keyref k[XV_MAX_KEYS];
    size_t nk = 0, off = r->arena->len;

    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            const char *tn = luaL_typename(L, -2);
            lua_pop(L, 2);
            run_invalid(L, r, i, start, "partition key names must be "
                        "strings, got a %s", tn);
            return -1;
        }
        if (nk == XV_MAX_KEYS) {
            lua_pop(L, 2);
            run_invalid(L, r, i, start, "more than %d partition keys",
                        XV_MAX_KEYS);
            return -1;
        }
        k[nk].p = lua_tolstring(L, -2, &k[nk].n);
        if (k[nk].n == 0 || memchr(k[nk].p, '\0', k[nk].n) != NULL) {
            lua_pop(L, 2);
            run_invalid(L, r, i, start, "partition key names must be "
                        "non-empty and without NUL bytes");
            return -1;
        }
        lua_pop(L, 1);
        /* Insertion sort: a handful of keys, and the order must not
         * depend on the table's hashing. */
        struct keyref v = k[nk];
        size_t j = nk++;
        for (; j > 0 && key_cmp(&k[j - 1], &v) > 0; j--)
            k[j] = k[j - 1];
        k[j] = v;
    }
    for (size_t j = 0; j < nk; j++) {
        const char *val;
        size_t vn;
        lua_pushlstring(L, k[j].p, k[j].n);
        int vt = lua_rawget(L, t);
        if (vt != LUA_TSTRING && vt != LUA_TNUMBER) {
            run_invalid(L, r, i, start, "partition key '%s' must be a "
                        "string or a number, got a %s", k[j].p,
                        lua_typename(L, vt));
            lua_pop(L, 1);
            return -1;
        }
        val = lua_tolstring(L, -1, &vn);
        if (vn > XV_MAX_KEY_VALUE || memchr(val, '\0', vn) != NULL) {
            lua_pop(L, 1);
            run_invalid(L, r, i, start, "partition key '%s': the value must "
                        "be at most %d bytes without NUL bytes", k[j].p,
                        XV_MAX_KEY_VALUE);
            return -1;
        }
        run_append(L, r, k[j].p, k[j].n + 1);
        run_append(L, r, val, vn + 1);
        lua_pop(L, 1);
    }
    r->out[i].keys_off = off;
    r->out[i].keys_len = r->arena->len - off;
    return 0;
}

/* transform()'s three results are at -3, -2, -1. */
static void run_result(lua_State *L, struct run *r, size_t i)
{
    static const char deflt[] = "ProcessingFailed status set for record";
    struct xform_out *o = &r->out[i];
    const struct xform_in *in = &r->in[i];
    int top = lua_gettop(L);
    size_t n, start = r->arena->len;
    const char *s;

    o->keys_off = o->keys_len = o->msg_off = o->msg_len = 0;
    o->error_code = NULL;
    if (lua_type(L, top - 2) != LUA_TSTRING) {
        run_invalid(L, r, i, start, "transform returned a %s; expected "
                    "\"Ok\", \"Dropped\" or \"ProcessingFailed\"",
                    luaL_typename(L, top - 2));
        return;
    }
    s = lua_tolstring(L, top - 2, &n);
    if (n == 2 && memcmp(s, "Ok", 2) == 0) {
        const void *p = in->data;
        size_t len = in->len;
        int dt = lua_type(L, top - 1), kt = lua_type(L, top);
        if (dt == LUA_TSTRING) {
            p = lua_tolstring(L, top - 1, &len);
        } else if (dt != LUA_TNIL) {
            run_invalid(L, r, i, start, "transform returned \"Ok\" with a "
                        "%s as data; expected a string or nil",
                        lua_typename(L, dt));
            return;
        }
        if (kt != LUA_TNIL && kt != LUA_TTABLE) {
            run_invalid(L, r, i, start, "transform returned \"Ok\" with a "
                        "%s as partition keys; expected a table or nil",
                        lua_typename(L, kt));
            return;
        }
        if (len > r->out_cap - r->out_used) {
            run_invalid(L, r, i, start, "the transformed records of this "
                        "batch exceed %zu bytes", r->out_cap);
            return;
        }
        r->out_used += len;
        o->result = XFORM_OK;
        o->data_off = start;
        o->data_len = len;
        run_append(L, r, p, len);
        if (kt == LUA_TTABLE)
            (void)run_keys(L, r, i, top, start);
    } else if (n == 7 && memcmp(s, "Dropped", 7) == 0) {
        o->result = XFORM_DROPPED;
        o->data_off = o->data_len = 0;
    } else if (n == 16 && memcmp(s, "ProcessingFailed", 16) == 0) {
        int mt = lua_type(L, top - 1);
        if (mt != LUA_TNIL && mt != LUA_TSTRING) {
            run_invalid(L, r, i, start, "transform returned "
                        "\"ProcessingFailed\" with a %s as reason; expected "
                        "a string or nil", lua_typename(L, mt));
            return;
        }
        if (mt == LUA_TSTRING)
            s = lua_tolstring(L, top - 1, &n);
        else
            s = deflt, n = sizeof(deflt) - 1;
        o->result = XFORM_FAILED;
        o->error_code = "Lua.ProcessingFailedStatus";
        o->data_off = o->data_len = 0;
        o->msg_off = start;
        o->msg_len = n > XFORM_VM_MAX_MSG ? XFORM_VM_MAX_MSG : n;
        run_append(L, r, s, o->msg_len);
    } else {
        run_invalid(L, r, i, start, "transform returned \"%.*s\"; expected "
                    "\"Ok\", \"Dropped\" or \"ProcessingFailed\"",
                    n > 64 ? 64 : (int)n, s);
    }
}

static void run_kinesis(lua_State *L, const struct xform_kinesis *k)
{
    lua_createtable(L, 0, 5);
    lua_pushstring(L, k->shard_id ? k->shard_id : "");
    lua_setfield(L, -2, "shardId");
    lua_pushstring(L, k->partition_key ? k->partition_key : "");
    lua_setfield(L, -2, "partitionKey");
    lua_pushstring(L, k->sequence_number ? k->sequence_number : "");
    lua_setfield(L, -2, "sequenceNumber");
    lua_pushinteger(L, (lua_Integer)k->subsequence_number);
    lua_setfield(L, -2, "subsequenceNumber");
    lua_pushinteger(L, (lua_Integer)k->approximate_arrival_ms);
    lua_setfield(L, -2, "approximateArrivalTimestamp");
}

/* Protected: transform() over the whole batch, one pcall for all of it.
 * A fresh record table per call costs 0.1 us more than reusing one
 * (identity script: 0.22 against 0.12 us per record, xform_bench) and
 * keeps a record a script holds on to from changing under it. */
static int run_batch(lua_State *L)
{
    struct run *r = lua_touserdata(L, 1);

    if (lua_getglobal(L, "transform") != LUA_TFUNCTION)
        return luaL_error(L, "the global transform is no longer a function");
    for (size_t i = 0; i < r->n; i++) {
        const struct xform_in *in = &r->in[i];
        lua_pushvalue(L, 2);
        lua_createtable(L, 0, 4);
        lua_pushstring(L, in->id != NULL ? in->id : "");
        lua_setfield(L, -2, "id");
        lua_pushlstring(L, (const char *)in->data, in->len);
        lua_setfield(L, -2, "data");
        lua_pushinteger(L, (lua_Integer)in->arrival_ms);
        lua_setfield(L, -2, "arrival");
        if (in->kinesis != NULL) {
            run_kinesis(L, in->kinesis);
            lua_setfield(L, -2, "kinesis");
        }
        lua_call(L, 1, 3);
        run_result(L, r, i);
        lua_settop(L, 2);
    }
    return 0;
}

enum xform_vm_status xform_vm_run(struct xform_vm *vm,
                                  const struct xform_in *in, size_t n,
                                  struct xform_out *out, struct buf *arena,
                                  size_t out_cap, char *msg, size_t msgn,
                                  struct err *e)
{
    struct run r = { .in = in, .n = n, .out = out, .arena = arena,
                     .out_cap = out_cap, .e = e };
    lua_State *L = vm->L;
    enum xform_vm_status rs = XFORM_VM_OK;
    int st;

    vm->used = 0;
    vm->timed_out = 0;
    vm->prints = 0;
    lua_sethook(L, vm_hook, LUA_MASKCOUNT, vm->step);
    lua_settop(L, 0);
    lua_pushcfunction(L, run_batch);
    lua_pushlightuserdata(L, &r);
    st = lua_pcall(L, 1, 0, 0);
    if (st != LUA_OK) {
        rs = r.arena_failed ? XFORM_VM_ARENA : vm->timed_out ?
             XFORM_VM_TIMEOUT : st == LUA_ERRMEM ? XFORM_VM_MEMORY :
             XFORM_VM_RUNTIME;
        vm_message(vm, st, msg, msgn);
    }
    lua_settop(L, 0);
    return rs;
}
