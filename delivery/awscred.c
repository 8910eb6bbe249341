#include "awscred.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "util.h"

/* Shared config files are a few KiB; anything far bigger is not one. */
#define AWSCRED_MAX_FILE (1024 * 1024)

/* What one profile section of one file holds. */
struct prof {
    char key_id[sizeof(((struct awscred *)0)->access_key_id)];
    char secret[sizeof(((struct awscred *)0)->secret)];
    char token[sizeof(((struct awscred *)0)->session_token)];
    char region[64];
    int  found;                 /* the section exists */
    int  have_token;            /* aws_session_token seen: legacy ignored */
};

static const char *env(const char *name)
{
    const char *v = getenv(name);

    /* An empty variable is how shells "unset" for one command. */
    return (v != NULL && v[0] != '\0') ? v : NULL;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
           c == '\v';
}

/* Trim [*s, *end) in place (by moving the pointers). */
static void trim(const char **s, const char **end)
{
    while (*s < *end && is_space(**s))
        (*s)++;
    while (*end > *s && is_space((*end)[-1]))
        (*end)--;
}

static int copy_field(char *dst, size_t size, const char *s, size_t n)
{
    if (n >= size)
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* Does the section named [s, s+n) hold 'profile'? The credentials file
 * names profiles bare ("[prod]"); the config file says "[profile prod]"
 * and "[default]" (botocore also takes "[profile default]"). */
static int section_matches(const char *s, size_t n, const char *profile,
                           int config)
{
    size_t plen = strlen(profile);

    if (!config || strcmp(profile, "default") == 0)
        if (n == plen && memcmp(s, profile, n) == 0)
            return 1;
    if (!config || n < 8 || memcmp(s, "profile", 7) != 0 || !is_space(s[7]))
        return 0;
    s += 8;
    n -= 8;
    while (n > 0 && is_space(*s)) {
        s++;
        n--;
    }
    return n == plen && memcmp(s, profile, n) == 0;
}

/* Is [s, s+n) already in the NUL-separated list? Records it if not. */
static int seen(struct buf *list, const char *s, size_t n, int nocase,
                int *dup, struct err *e)
{
    size_t off = 0;

    *dup = 0;
    while (off < list->len) {
        const char *it = (const char *)list->p + off;
        size_t len = strlen(it);

        if (len == n && (nocase ? strncasecmp(it, s, n) == 0
                                : memcmp(it, s, n) == 0)) {
            *dup = 1;
            return 0;
        }
        off += len + 1;
    }
    if (buf_append(list, s, n, e) != 0 || buf_append(list, "", 1, e) != 0)
        return -1;
    return 0;
}

static int read_file(const char *path, struct buf *out, int *missing,
                     struct err *e)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    size_t n;
    int saved;

    *missing = 0;
    if (f == NULL) {
        if (errno == ENOENT || errno == ENOTDIR) {
            *missing = 1;
            return 0;
        }
        return err_sys(e, errno, "cannot open '%s'", path);
    }
    if (fstat(fileno(f), &st) != 0) {
        saved = errno;
        fclose(f);
        return err_sys(e, saved, "cannot stat '%s'", path);
    }
    if (st.st_size > AWSCRED_MAX_FILE) {
        fclose(f);
        return err_set(e, ERR_INVAL, "'%s' is larger than %d bytes", path,
                       AWSCRED_MAX_FILE);
    }
    if (buf_reserve(out, (size_t)st.st_size + 1, e) != 0) {
        fclose(f);
        return -1;
    }
    n = fread(out->p, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        fclose(f);
        return err_set(e, ERR_IO, "cannot read '%s'", path);
    }
    fclose(f);
    out->len = n;
    return 0;
}

static const struct {
    const char *name;
    size_t      off;
    size_t      size;
} prof_keys[] = {
    { "aws_access_key_id", offsetof(struct prof, key_id),
      sizeof(((struct prof *)0)->key_id) },
    { "aws_secret_access_key", offsetof(struct prof, secret),
      sizeof(((struct prof *)0)->secret) },
    { "aws_session_token", offsetof(struct prof, token),
      sizeof(((struct prof *)0)->token) },
    /* The legacy name; the current one wins, see take(). */
    { "aws_security_token", offsetof(struct prof, token),
      sizeof(((struct prof *)0)->token) },
    { "region", offsetof(struct prof, region),
      sizeof(((struct prof *)0)->region) },
};

/* Take the keys we use from a matching section; others are ignored. */
static int take(struct prof *pr, const char *k, size_t kn, const char *v,
                size_t vn, const char *path, int line, struct err *e)
{
    for (size_t i = 0; i < sizeof(prof_keys) / sizeof(prof_keys[0]); i++) {
        const char *name = prof_keys[i].name;

        if (strlen(name) != kn || strncasecmp(k, name, kn) != 0)
            continue;
        if (strcmp(name, "aws_security_token") == 0) {
            if (pr->have_token)
                return 0;
        } else if (strcmp(name, "aws_session_token") == 0) {
            pr->have_token = 1;
        }
        if (copy_field((char *)pr + prof_keys[i].off, prof_keys[i].size, v,
                       vn) != 0)
            return err_set(e, ERR_INVAL, "%s:%d: value of '%s' is longer "
                           "than %zu bytes", path, line, name,
                           prof_keys[i].size - 1);
        return 0;
    }
    return 0;
}

/* Parse the whole INI file (every line is checked, not only the profile's)
 * and fill 'pr' from the profile's section. A missing file is not an
 * error. Follows botocore's reading: '#' and ';' comment lines, "key = value"
 * or "key: value" split at the first delimiter, keys case-insensitive,
 * indented lines continue the previous value (nested "s3 =" blocks in the
 * config file) and are skipped. Duplicate keys and sections are errors. */
static int ini_load(const char *path, const char *profile, int config,
                    struct prof *pr, struct err *e)
{
    struct buf text = { 0 }, sections = { 0 }, keys = { 0 };
    const char *p, *end;
    int missing, line = 0, in_section = 0, match = 0, have_key = 0, dup;
    int rc = -1;

    memset(pr, 0, sizeof(*pr));
    if (read_file(path, &text, &missing, e) != 0)
        goto out;
    if (missing) {
        rc = 0;
        goto out;
    }
    p = (const char *)text.p;
    end = p + text.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *ls = p, *le = nl ? nl : end;
        const char *k, *ke, *v, *ve, *d;

        p = nl ? nl + 1 : end;
        line++;
        if (memchr(ls, '\0', (size_t)(le - ls)) != NULL) {
            err_set(e, ERR_INVAL, "%s:%d: NUL byte", path, line);
            goto out;
        }
        k = ls;
        ke = le;
        trim(&k, &ke);
        if (k == ke || *k == '#' || *k == ';')
            continue;
        if (is_space(*ls) && have_key)
            continue;
        if (*k == '[') {
            if (ke[-1] != ']' || ke - k < 2) {
                err_set(e, ERR_INVAL, "%s:%d: bad section header", path,
                        line);
                goto out;
            }
            k++;
            ke--;
            trim(&k, &ke);
            if (seen(&sections, k, (size_t)(ke - k), 0, &dup, e) != 0)
                goto out;
            if (dup) {
                err_set(e, ERR_INVAL, "%s:%d: section [%.*s] appears twice",
                        path, line, (int)(ke - k), k);
                goto out;
            }
            keys.len = 0;
            in_section = 1;
            have_key = 0;
            match = section_matches(k, (size_t)(ke - k), profile, config);
            pr->found |= match;
            continue;
        }
        for (d = k; d < ke && *d != '=' && *d != ':'; d++)
            ;
        if (d == ke) {
            err_set(e, ERR_INVAL, "%s:%d: expected 'key = value'", path,
                    line);
            goto out;
        }
        if (!in_section) {
            err_set(e, ERR_INVAL, "%s:%d: key before any [section]", path,
                    line);
            goto out;
        }
        v = d + 1;
        ve = ke;
        ke = d;
        trim(&k, &ke);
        trim(&v, &ve);
        if (k == ke) {
            err_set(e, ERR_INVAL, "%s:%d: empty key", path, line);
            goto out;
        }
        if (seen(&keys, k, (size_t)(ke - k), 1, &dup, e) != 0)
            goto out;
        if (dup) {
            err_set(e, ERR_INVAL, "%s:%d: duplicate key '%.*s' in section",
                    path, line, (int)(ke - k), k);
            goto out;
        }
        have_key = 1;
        if (match && take(pr, k, (size_t)(ke - k), v, (size_t)(ve - v), path,
                          line, e) != 0)
            goto out;
    }
    rc = 0;
out:
    /* The text holds secrets. */
    if (text.p != NULL)
        OPENSSL_cleanse(text.p, text.cap);
    buf_release(&text);
    buf_release(&sections);
    buf_release(&keys);
    if (rc != 0)
        OPENSSL_cleanse(pr, sizeof(*pr));
    return rc;
}

/* Path from the variable, else ~/<rel>; -1 with ERR_INVAL when too long,
 * 1 when there is no path (no variable and no HOME). */
static int file_path(char *out, size_t size, const char *var,
                     const char *rel, struct err *e)
{
    const char *v = env(var), *home;
    int n;

    if (v != NULL) {
        n = snprintf(out, size, "%s", v);
    } else {
        if ((home = env("HOME")) == NULL)
            return 1;
        n = snprintf(out, size, "%s/%s", home, rel);
    }
    if (n < 0 || (size_t)n >= size)
        return err_set(e, ERR_INVAL, "path of the AWS %s file is too long",
                       rel);
    return 0;
}

static const char *profile_name(void)
{
    const char *p = env("AWS_PROFILE");

    if (p == NULL)
        p = env("AWS_DEFAULT_PROFILE");
    return p ? p : "default";
}

static void set_source(struct awscred *c, const char *kind,
                       const char *path, const char *profile)
{
    int n = snprintf(c->source, sizeof(c->source), "file %s [%s]", path,
                     profile);

    /* Only informational: a long path gives way to the file's role. */
    if (n < 0 || (size_t)n >= sizeof(c->source))
        snprintf(c->source, sizeof(c->source), "%s file [%.40s]", kind,
                 profile);
}

/* 1 when this file had the profile's credentials, 0 when not, -1 error. */
static int from_file(struct awscred *c, const char *var, const char *rel,
                     const char *kind, int config, const char *profile,
                     struct err *e)
{
    char path[4096];
    struct prof pr;
    int rc = file_path(path, sizeof(path), var, rel, e);

    if (rc != 0)
        return rc < 0 ? -1 : 0;
    if (ini_load(path, profile, config, &pr, e) != 0)
        return -1;
    rc = 0;
    if ((pr.key_id[0] != '\0') != (pr.secret[0] != '\0')) {
        rc = err_set(e, ERR_INVAL, "%s: profile '%s' has only one of "
                     "aws_access_key_id and aws_secret_access_key", path,
                     profile);
    } else if (pr.key_id[0] != '\0') {
        memcpy(c->access_key_id, pr.key_id, sizeof(pr.key_id));
        memcpy(c->secret, pr.secret, sizeof(pr.secret));
        memcpy(c->session_token, pr.token, sizeof(pr.token));
        set_source(c, kind, path, profile);
        rc = 1;
    }
    OPENSSL_cleanse(&pr, sizeof(pr));
    return rc;
}

static int from_env(struct awscred *c, struct err *e)
{
    const char *id = env("AWS_ACCESS_KEY_ID");
    const char *secret = env("AWS_SECRET_ACCESS_KEY");
    const char *token = env("AWS_SESSION_TOKEN");

    if (id == NULL || secret == NULL)
        return 0;
    if (token == NULL)
        token = env("AWS_SECURITY_TOKEN");
    if (copy_field(c->access_key_id, sizeof(c->access_key_id), id,
                   strlen(id)) != 0 ||
        copy_field(c->secret, sizeof(c->secret), secret,
                   strlen(secret)) != 0 ||
        (token != NULL &&
         copy_field(c->session_token, sizeof(c->session_token), token,
                    strlen(token)) != 0))
        return err_set(e, ERR_INVAL, "AWS credentials in the environment "
                       "are too long");
    snprintf(c->source, sizeof(c->source), "environment");
    return 1;
}

int awscred_load(struct awscred *c, struct err *e)
{
    const char *profile = profile_name();
    int rc;

    memset(c, 0, sizeof(*c));
    rc = from_env(c, e);
    if (rc == 0)
        rc = from_file(c, "AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials",
                       "credentials", 0, profile, e);
    if (rc == 0)
        rc = from_file(c, "AWS_CONFIG_FILE", ".aws/config", "config", 1,
                       profile, e);
    if (rc == 1)
        return 0;
    OPENSSL_cleanse(c, sizeof(*c));
    if (rc == 0)
        return err_set(e, ERR_NOTFOUND, "no AWS credentials: none in the "
                       "environment, nor for profile '%.64s' in the shared "
                       "credentials or config file", profile);
    return -1;
}

int awscred_region(char *out, size_t size, struct err *e)
{
    const char *v = env("AWS_REGION");
    char path[4096];
    struct prof pr;
    int rc;

    if (v == NULL)
        v = env("AWS_DEFAULT_REGION");
    if (v != NULL) {
        if (copy_field(out, size, v, strlen(v)) != 0)
            return err_set(e, ERR_INVAL, "region '%.64s' is too long", v);
        return 0;
    }
    rc = file_path(path, sizeof(path), "AWS_CONFIG_FILE", ".aws/config", e);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (ini_load(path, profile_name(), 1, &pr, e) != 0)
            return -1;
        OPENSSL_cleanse(&pr, offsetof(struct prof, region));
        if (pr.region[0] != '\0') {
            if (copy_field(out, size, pr.region, strlen(pr.region)) != 0)
                return err_set(e, ERR_INVAL, "%s: region '%s' is too long",
                               path, pr.region);
            return 0;
        }
    }
    return err_set(e, ERR_NOTFOUND, "no AWS region: set AWS_REGION or "
                   "region in the config file profile");
}

const char *awscred_endpoint(const char *service)
{
    static const char prefix[] = "AWS_ENDPOINT_URL_";
    char name[sizeof(prefix) + 64];
    size_t n = strlen(service), i;
    const char *v;

    if (n > 0 && n < 64) {
        memcpy(name, prefix, sizeof(prefix) - 1);
        /* The SDK convention: service id uppercased, spaces and dashes to
         * underscores ("dynamodb streams" -> DYNAMODB_STREAMS). */
        for (i = 0; i < n; i++) {
            char c = service[i];

            if (c >= 'a' && c <= 'z')
                c = (char)(c - 32);
            else if (c == ' ' || c == '-')
                c = '_';
            name[sizeof(prefix) - 1 + i] = c;
        }
        name[sizeof(prefix) - 1 + n] = '\0';
        if ((v = env(name)) != NULL)
            return v;
    }
    return env("AWS_ENDPOINT_URL");
}
