/* test_agent_ckpt.c - the checkpoint file: round trip, atomic replace, and
 * damaged files (empty, truncated, wrong fields) refused with advice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../agent/ckpt.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_agent_ckpt.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/ck.json", dir);
    return 0;
}

static int teardown(void **state)
{
    char tmp[160];

    (void)state;
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    unlink(path);
    unlink(tmp);
    rmdir(dir);
    return 0;
}

static void put(const char *text)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_round_trip(void **state)
{
    struct ckpt c = { 0 }, r = { 0 };
    char pat[] = "/var/log/*.log", pa[] = "/var/log/a.log";
    char pb[] = "/var/log/b \"quoted\"\n.log";
    struct ckpt_entry en = { pat, pa,
                             UINT64_MAX - 1, 123456789012ull, 1024,
                             0xfedcba9876543210ull, 8893 };
    struct err e = { 0, "" };
    int exists = 1;

    (void)state;
    assert_int_equal(ckpt_load(&r, path, &exists, &e), 0);
    assert_int_equal(exists, 0);             /* no file: first start */
    assert_int_equal(ckpt_add(&c, &en, &e), 0);
    en.path = pb;
    en.offset = 0;
    en.fp_len = 0;
    assert_int_equal(ckpt_add(&c, &en, &e), 0);
    assert_int_equal(ckpt_save(&c, path, &e), 0);
    assert_int_equal(ckpt_load(&r, path, &exists, &e), 0);
    assert_int_equal(exists, 1);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.v[0].pattern, "/var/log/*.log");
    assert_string_equal(r.v[0].path, "/var/log/a.log");
    assert_true(r.v[0].dev == UINT64_MAX - 1);
    assert_true(r.v[0].ino == 123456789012ull);
    assert_int_equal(r.v[0].fp_len, 1024);
    assert_true(r.v[0].fp == 0xfedcba9876543210ull);
    assert_int_equal(r.v[0].offset, 8893);
    assert_string_equal(r.v[1].path, "/var/log/b \"quoted\"\n.log");
    /* Saving again replaces the file whole. */
    ckpt_clear(&c);
    assert_int_equal(ckpt_save(&c, path, &e), 0);
    ckpt_release(&r);
    assert_int_equal(ckpt_load(&r, path, &exists, &e), 0);
    assert_int_equal(r.n, 0);
    ckpt_release(&r);
    ckpt_release(&c);
}

static void damaged(const char *text, const char *needle)
{
    struct ckpt r = { 0 };
    struct err e = { 0, "" };
    int exists = 0;

    put(text);
    if (ckpt_load(&r, path, &exists, &e) != -1)
        fail_msg("accepted: %s", text);
    assert_int_equal(e.code, ERR_CORRUPT);
    assert_int_equal(r.n, 0);
    if (strstr(e.msg, needle) == NULL || strstr(e.msg, path) == NULL ||
        strstr(e.msg, "move it away") == NULL)
        fail_msg("message '%s' lacks '%s', the path or the advice", e.msg,
                 needle);
    ckpt_release(&r);
}

#define ENTRY(x) "{\"version\":1,\"files\":[{\"filePattern\":\"p\"," \
    "\"path\":\"a\",\"dev\":\"1\",\"inode\":\"2\",\"fingerprintBytes\":3," \
    "\"fingerprint\":\"0a\"" x "}]}"

static void test_damaged(void **state)
{
    (void)state;
    damaged("", "is empty");
    damaged("{\"version\":1,\"files\":[{\"filePattern\":", "damaged");
    damaged("\x01\x02garbage", "damaged");
    damaged("[]", "not a JSON object");
    damaged("{\"version\":2,\"files\":[]}", "version");
    damaged("{\"version\":1}", "\"files\" is not an array");
    damaged(ENTRY(""), "files[0]: offset");
    damaged(ENTRY(",\"offset\":-5"), "offset");
    damaged(ENTRY(",\"offset\":\"12x\""), "offset");
    damaged("{\"version\":1,\"files\":[{\"filePattern\":\"p\",\"path\":\"a\","
            "\"dev\":\"1\",\"inode\":\"2\",\"fingerprintBytes\":3,"
            "\"fingerprint\":\"zz\",\"offset\":1}]}", "fingerprint");
    damaged("{\"version\":1,\"files\":[{\"filePattern\":\"p\",\"path\":\"a\","
            "\"dev\":\"1\",\"inode\":\"2\",\"fingerprintBytes\":2000,"
            "\"fingerprint\":\"aa\",\"offset\":1}]}", "fingerprintBytes");
    damaged("{\"version\":1,\"files\":[{\"path\":\"a\"}]}", "filePattern");
    damaged("{\"version\":1,\"version\":1,\"files\":[]}", "damaged");
}

static void test_unwritable(void **state)
{
    struct ckpt c = { 0 };
    struct err e = { 0, "" };

    (void)state;
    assert_int_equal(ckpt_save(&c, "/nonexistent-dir/ck.json", &e), -1);
    assert_non_null(strstr(e.msg, "/nonexistent-dir/ck.json.tmp"));
    ckpt_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged, setup, teardown),
        cmocka_unit_test(test_unwritable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
