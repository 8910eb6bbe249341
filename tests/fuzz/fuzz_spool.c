/* libFuzzer target: spool recovery over a corrupted directory image. The
 * input is a list of files, each "<name length, 1 byte><name><data length,
 * 4 bytes little-endian><data>", written into an empty directory (in
 * /dev/shm: tmpfs keeps it fast); then spool_open() recovers it and every
 * batch it offers is read and committed. Recovery may refuse the
 * directory, but must not crash, loop or leak.
 *
 * With FUZZ_SPOOL_SEED=<file> set, the target instead writes a seed: the
 * image of a real spool (two segments, sealed, committed and unsealed
 * records) in that format, and exits. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../delivery/log.h"
#include "../../delivery/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char fuzz_dir[64];

static void clear_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[400];

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
}

/* The image's files, and what recovery moved to corrupt/. */
static void clear_dir(void)
{
    char sub[128];

    snprintf(sub, sizeof(sub), "%s/corrupt", fuzz_dir);
    clear_files(sub);
    rmdir(sub);
    clear_files(fuzz_dir);
}

static void remove_dir(void)
{
    clear_dir();
    rmdir(fuzz_dir);
}

static void write_seed(const char *out)
{
    struct spool_opts o = { fuzz_dir, "seed", 0, 0, 4096 };
    struct spool *sp;
    struct spool_batch b;
    struct err e;
    char rec[700], path[400];
    struct iovec iov = { rec, 0 };
    uint64_t first;
    FILE *f = fopen(out, "wb");
    DIR *d;
    struct dirent *de;

    if (f == NULL || spool_open(&o, &sp, &e) != 0)
        abort();
    for (int i = 0; i < 12; i++) {
        iov.iov_len = (size_t)snprintf(rec, sizeof(rec), "record %d %0*d",
                                       i, i * 50, 7);
        if (spool_append(sp, &iov, 1, 1700000000000 + i, &first, &e) != 0)
            abort();
        if (i == 3 && spool_seal(sp, 1000, 0, &b, &e) == 1)
            (void)spool_commit(sp, &b, &e);
        if (i == 8)
            (void)spool_seal(sp, 2000, 0, &b, &e);
    }
    spool_close(sp);
    d = opendir(fuzz_dir);
    while (d != NULL && (de = readdir(d)) != NULL) {
        FILE *in;
        char buf[65536];
        size_t n;
        uint32_t len;
        unsigned char nl = (unsigned char)strlen(de->d_name);

        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", fuzz_dir, de->d_name);
        in = fopen(path, "rb");
        if (in == NULL)
            abort();
        n = fread(buf, 1, sizeof(buf), in);
        fclose(in);
        len = (uint32_t)n;
        fwrite(&nl, 1, 1, f);
        fwrite(de->d_name, 1, nl, f);
        fwrite(&len, 4, 1, f);          /* x86: little-endian */
        fwrite(buf, 1, n, f);
    }
    if (d != NULL)
        closedir(d);
    fclose(f);
    clear_dir();
    rmdir(fuzz_dir);
    exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *seed = getenv("FUZZ_SPOOL_SEED");

    (void)argc;
    (void)argv;
    /* Recovery logs what it cuts (as ERROR): silence, for speed. */
    log_init(0, (enum log_level)(LOG_ERROR + 1));
    snprintf(fuzz_dir, sizeof(fuzz_dir), "/dev/shm/fuzz-spool-%d", (int)getpid());
    mkdir(fuzz_dir, 0700);
    atexit(remove_dir);
    if (seed != NULL)
        write_seed(seed);
    return 0;
}

static int name_ok(const char *s, size_t n)
{
    if (n == 0 || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '.'))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct spool_opts o = { fuzz_dir, "fuzz", 0, 0, 4096 };
    struct spool_data sd = { { 0 }, 0, 0, 0 };
    struct spool_batch b;
    struct spool *sp;
    struct err e;
    size_t at = 0;
    int files = 0;

    clear_dir();
    while (at < size && files < 8) {
        char name[64], path[400];
        size_t nl = data[at++], len;
        uint32_t dl;
        FILE *f;

        if (nl >= sizeof(name) || at + nl + 4 > size)
            break;
        memcpy(name, data + at, nl);
        name[nl] = '\0';
        at += nl;
        memcpy(&dl, data + at, 4);
        at += 4;
        len = dl < size - at ? dl : size - at;
        if (name_ok(name, nl)) {
            snprintf(path, sizeof(path), "%s/%s", fuzz_dir, name);
            f = fopen(path, "wb");
            if (f != NULL) {
                fwrite(data + at, 1, len, f);
                fclose(f);
            }
        }
        at += len;
        files++;
    }
    if (spool_open(&o, &sp, &e) != 0)
        return 0;
    for (int i = 0; i < 16 && spool_seal(sp, 1 << 20, 0, &b, &e) == 1; i++) {
        if (spool_read(sp, &b, &sd, &e) != 0)
            break;
        if (sd.n != b.count)
            abort();
        if (spool_commit(sp, &b, &e) != 0)
            break;
    }
    spool_data_release(&sd);
    spool_close(sp);
    return 0;
}
