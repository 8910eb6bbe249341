/* test_awscred.c - the credential chain, INI parsing and endpoint
 * overrides, in a private HOME with every AWS_* variable cleared. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../delivery/awscred.h"

static const char *const vars[] = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_KINESIS",
    "AWS_ENDPOINT_URL_DYNAMODB_STREAMS",
};

struct home {
    char dir[256];
    char creds[300];            /* <dir>/.aws/credentials */
    char config[300];           /* <dir>/.aws/config */
    char aws[280];
};

static int setup(void **state)
{
    struct home *h = calloc(1, sizeof(*h));

    if (h == NULL)
        return -1;
    snprintf(h->dir, sizeof(h->dir), "/tmp/fh-awscred-XXXXXX");
    if (mkdtemp(h->dir) == NULL) {
        free(h);
        return -1;
    }
    snprintf(h->aws, sizeof(h->aws), "%s/.aws", h->dir);
    snprintf(h->creds, sizeof(h->creds), "%s/credentials", h->aws);
    snprintf(h->config, sizeof(h->config), "%s/config", h->aws);
    if (mkdir(h->aws, 0700) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    setenv("HOME", h->dir, 1);
    *state = h;
    return 0;
}

static int teardown(void **state)
{
    struct home *h = *state;
    char other[320];

    snprintf(other, sizeof(other), "%s/other", h->dir);
    unlink(h->creds);
    unlink(h->config);
    unlink(other);
    rmdir(h->aws);
    rmdir(h->dir);
    free(h);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void expect_error(int code, const char *needle)
{
    struct awscred c;
    struct err e = { 0 };

    assert_int_equal(awscred_load(&c, &e), -1);
    assert_int_equal(e.code, code);
    if (needle != NULL && strstr(e.msg, needle) == NULL)
        fail_msg("message '%s' lacks '%s'", e.msg, needle);
    /* Nothing half-loaded stays behind. */
    assert_string_equal(c.access_key_id, "");
    assert_string_equal(c.secret, "");
}

static void test_nothing(void **state)
{
    (void)state;
    expect_error(ERR_NOTFOUND, "no AWS credentials");
    /* One of the two key variables is not enough. */
    setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
    expect_error(ERR_NOTFOUND, NULL);
    /* No HOME at all: no default paths, still just "not found". */
    unsetenv("HOME");
    expect_error(ERR_NOTFOUND, NULL);
}

static void test_env(void **state)
{
    struct home *h = *state;
    struct awscred c;
    struct err e = { 0 };

    write_file(h->creds, "[default]\naws_access_key_id=FILE\n"
                         "aws_secret_access_key=FILESECRET\n");
    setenv("AWS_ACCESS_KEY_ID", "ENVID", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "ENVSECRET", 1);
    setenv("AWS_SECURITY_TOKEN", "legacy", 1);
    assert_int_equal(awscred_load(&c, &e), 0);
    assert_string_equal(c.access_key_id, "ENVID");
    assert_string_equal(c.secret, "ENVSECRET");
    assert_string_equal(c.session_token, "legacy");
    assert_string_equal(c.source, "environment");
    setenv("AWS_SESSION_TOKEN", "current", 1);
    assert_int_equal(awscred_load(&c, &e), 0);
    assert_string_equal(c.session_token, "current");
    /* An empty variable counts as unset: the file is next. */
    setenv("AWS_SECRET_ACCESS_KEY", "", 1);
    assert_int_equal(awscred_load(&c, &e), 0);
    assert_string_equal(c.access_key_id, "FILE");
    assert_string_equal(c.session_token, "");
}

static void test_credentials_file(void **state)
{
    struct home *h = *state;
    struct awscred c;
    struct err e = { 0 };

    write_file(h->creds,
               "# comment\n"
               "; another\n"
               "\n"
               "[default]\n"
               "aws_access_key_id = DEFID\n"
               "aws_secret_access_key=  DEF/SECRET+x==  \n"
               "\n"
               "[ prod ]\r\n"
               "AWS_ACCESS_KEY_ID: PRODID\r\n"
               "aws_secret_access_key = PRODSECRET\r\n"
               "aws_security_token = old\r\n"
               "aws_session_token = TOKEN\r\n"
               "unknown_key = ignored\r\n"
               "[profile prod]\n"
               "aws_access_key_id = NOT-IN-CREDENTIALS-FILE\n"
               "aws_secret_access_key = X\n");
    assert_int_equal(awscred_load(&c, &e), 0);
    assert_string_equal(c.access_key_id, "DEFID");
    assert_string_equal(c.secret, "DEF/SECRET+x==");
    assert_string_equal(c.session_token, "");
    assert_non_null(strstr(c.source, "[default]"));

    setenv("AWS_DEFAULT_PROFILE", "prod", 1);
    assert_int_equal(awscred_load(&c, &e), 0);
    assert_string_equal(c.access_key_id, "PRODID");
    assert_string_equal(c.secret, "PRODSECRET");
    assert_string_equal(c.session_token, "TOKEN");

    /* AWS_PROFILE beats AWS_DEFAULT_PROFILE. */
    setenv("AWS_PROFILE", "default", 1);
    assert_int_equal(awscred_load(&c, &e), 0);
    assert_string_equal(c.access_key_id, "DEFID");

    setenv("AWS_PROFILE", "missing", 1);
    expect_error(ERR_NOTFOUND, "'missing'");
}

static void test_file_variables(void **state)
{
    struct home *h = *state;
    char other[320];
    struct awscred c;
    struct err e = { 0 };

    snprintf(other, sizeof(other), "%s/other", h->dir);
    write_file(h->creds, "[default]\naws_access_key_id=HOMEID\n"
                         "aws_secret_access_key=S\n");
    write_file(other, "[default]\naws_access_key_id=OTHERID\n"
                      "aws_secret_access_key=S\n");
    setenv("AWS_SHARED_CREDENTIALS_FILE", other, 1);
    assert_int_equal(awscred_load(&c, &e), 0);
    assert_string_equal(c.access_key_id, "OTHERID");
    assert_non_null(strstr(c.source, "other"));
    /* A named file that does not exist is skipped like the default. */
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/creds", 1);
    expect_error(ERR_NOTFOUND, NULL);
}

static void test_config_file(void **state)
{
    struct home *h = *state;
    struct awscred c;
    struct err e = { 0 };
    char region[64];

    write_file(h->config,
               "[default]\n"
               "region = eu-west-1\n"
               "s3 =\n"
               "    max_concurrent_requests = 10\n"
               "    max_queue_size = 10\n"
               "[prod]\n"
               "aws_access_key_id = BARE-SECTION-IGNORED\n"
               "aws_secret_access_key = X\n"
               "[profile  prod]\n"
               "region=us-west-2\n"
               "aws_access_key_id = CFGPROD\n"
               "aws_secret_access_key = CFGSECRET\n");
    /* [default] here has a region but no keys. */
    expect_error(ERR_NOTFOUND, NULL);
    assert_int_equal(awscred_region(region, sizeof(region), &e), 0);
    assert_string_equal(region, "eu-west-1");

    setenv("AWS_PROFILE", "prod", 1);
    assert_int_equal(awscred_load(&c, &e), 0);
    assert_string_equal(c.access_key_id, "CFGPROD");
    assert_string_equal(c.secret, "CFGSECRET");
    assert_int_equal(awscred_region(region, sizeof(region), &e), 0);
    assert_string_equal(region, "us-west-2");

    /* The credentials file comes before the config file. */
    write_file(h->creds, "[prod]\naws_access_key_id=CREDPROD\n"
                         "aws_secret_access_key=S\n");
    assert_int_equal(awscred_load(&c, &e), 0);
    assert_string_equal(c.access_key_id, "CREDPROD");
}

static void test_region(void **state)
{
    struct home *h = *state;
    char region[16];
    struct err e = { 0 };

    assert_int_equal(awscred_region(region, sizeof(region), &e), -1);
    assert_int_equal(e.code, ERR_NOTFOUND);
    write_file(h->config, "[default]\nregion = eu-central-1\n");
    setenv("AWS_DEFAULT_REGION", "ap-south-1", 1);
    assert_int_equal(awscred_region(region, sizeof(region), &e), 0);
    assert_string_equal(region, "ap-south-1");
    setenv("AWS_REGION", "us-east-2", 1);
    assert_int_equal(awscred_region(region, sizeof(region), &e), 0);
    assert_string_equal(region, "us-east-2");
    setenv("AWS_REGION", "a-region-name-too-long-for-16", 1);
    assert_int_equal(awscred_region(region, sizeof(region), &e), -1);
    assert_int_equal(e.code, ERR_INVAL);
}

static void test_malformed(void **state)
{
    struct home *h = *state;
    char needle[400];

    (void)state;
    write_file(h->creds, "[default]\naws_access_key_id = A\n"
                         "this line has no delimiter\n");
    snprintf(needle, sizeof(needle), "%s:3:", h->creds);
    expect_error(ERR_INVAL, needle);

    write_file(h->creds, "[default]\naws_access_key_id = A\n"
                         "aws_secret_access_key = B\n"
                         "AWS_ACCESS_KEY_ID = C\n");
    snprintf(needle, sizeof(needle), "%s:4: duplicate key", h->creds);
    expect_error(ERR_INVAL, needle);

    /* Malformed anywhere in the file, not only in the chosen profile. */
    write_file(h->creds, "[default]\naws_access_key_id = A\n"
                         "aws_secret_access_key = B\n"
                         "[other]\nx = 1\nx = 2\n");
    expect_error(ERR_INVAL, ":6: duplicate key 'x'");

    write_file(h->creds, "aws_access_key_id = A\n");
    expect_error(ERR_INVAL, ":1: key before any [section]");

    write_file(h->creds, "[default\n");
    expect_error(ERR_INVAL, ":1: bad section header");

    write_file(h->creds, "[default]\n= v\n");
    expect_error(ERR_INVAL, ":2: empty key");

    write_file(h->creds, "[default]\na=1\n[default]\nb=2\n");
    expect_error(ERR_INVAL, ":3: section [default] appears twice");

    write_file(h->creds, "[default]\naws_access_key_id = A\n");
    expect_error(ERR_INVAL, "only one of");

    /* The environment is read first: a broken file is never opened. */
    setenv("AWS_ACCESS_KEY_ID", "E", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "S", 1);
    {
        struct awscred c;
        struct err e = { 0 };

        assert_int_equal(awscred_load(&c, &e), 0);
        assert_string_equal(c.access_key_id, "E");
    }
}

static void test_too_long(void **state)
{
    struct home *h = *state;
    char text[512];
    char id[200];

    memset(id, 'A', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    snprintf(text, sizeof(text), "[default]\naws_access_key_id = %s\n"
             "aws_secret_access_key = S\n", id);
    write_file(h->creds, text);
    expect_error(ERR_INVAL, ":2: value of 'aws_access_key_id' is longer");

    unlink(h->creds);
    setenv("AWS_ACCESS_KEY_ID", id, 1);
    setenv("AWS_SECRET_ACCESS_KEY", "S", 1);
    expect_error(ERR_INVAL, "too long");
}

static void test_endpoint(void **state)
{
    (void)state;
    assert_null(awscred_endpoint("S3"));
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566", 1);
    assert_string_equal(awscred_endpoint("S3"), "http://127.0.0.1:4566");
    setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:4568", 1);
    assert_string_equal(awscred_endpoint("S3"), "http://127.0.0.1:4568");
    assert_string_equal(awscred_endpoint("s3"), "http://127.0.0.1:4568");
    assert_string_equal(awscred_endpoint("KINESIS"),
                        "http://127.0.0.1:4566");
    setenv("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", "http://ddbs", 1);
    assert_string_equal(awscred_endpoint("dynamodb streams"), "http://ddbs");
    assert_string_equal(awscred_endpoint("DynamoDB-Streams"), "http://ddbs");
    /* An empty per-service variable does not hide the global one. */
    setenv("AWS_ENDPOINT_URL_KINESIS", "", 1);
    assert_string_equal(awscred_endpoint("KINESIS"),
                        "http://127.0.0.1:4566");
    unsetenv("AWS_ENDPOINT_URL");
    assert_null(awscred_endpoint("KINESIS"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credentials_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_file_variables, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_config_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_region, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endpoint, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
