#include "trim.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct trim {
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* a file was queued, or stop */
    pthread_t thread;
    int started;
    int failed;                 /* the thread could not start: no pacing */
    atomic_int stop;
    int fds[TRIM_MAX_QUEUED];   /* FIFO, fds[0] is next */
    size_t n;
    char who[64];
};

int trim_new(const char *who, struct trim **out, struct err *e)
{
    struct trim *t = calloc(1, sizeof(*t));

    *out = NULL;
    if (t == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    snprintf(t->who, sizeof(t->who), "%s", who);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    *out = t;
    return 0;
}

static void nap_ms(int ms)
{
    struct timespec ts = { 0, (long)ms * 1000000L };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Shorten one file step by step, then close it; at stop, close at once. */
static void shrink(struct trim *t, int fd)
{
    struct stat st;
    off_t size;

    if (fstat(fd, &st) != 0) {
        close(fd);
        return;
    }
    size = st.st_size;
    while (size > (off_t)TRIM_STEP && !atomic_load(&t->stop)) {
        size -= (off_t)TRIM_STEP;
        if (ftruncate(fd, size) != 0) {
            log_msg(LOG_WARN, t->who, "shortening a removed file: %s",
                    strerror(errno));
            break;
        }
        nap_ms(TRIM_PAUSE_MS);
    }
    close(fd);
}

static void *trim_main(void *arg)
{
    struct trim *t = arg;

    pthread_mutex_lock(&t->mu);
    for (;;) {
        int fd;

        while (t->n == 0 && !atomic_load(&t->stop))
            pthread_cond_wait(&t->cv, &t->mu);
        if (t->n == 0)
            break;
        fd = t->fds[0];
        pthread_mutex_unlock(&t->mu);
        shrink(t, fd);
        pthread_mutex_lock(&t->mu);
        memmove(t->fds, t->fds + 1, (t->n - 1) * sizeof(*t->fds));
        t->n--;
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

void trim_file(struct trim *t, int fd)
{
    int rc;

    if (fd < 0)
        return;
    pthread_mutex_lock(&t->mu);
    if (!t->started && !t->failed) {
        rc = pthread_create(&t->thread, NULL, trim_main, t);
        if (rc == 0) {
            t->started = 1;
        } else {
            t->failed = 1;
            log_msg(LOG_WARN, t->who, "starting the space-freeing thread "
                    "failed (%s); removed files are freed at once",
                    strerror(rc));
        }
    }
    if (t->started && t->n < TRIM_MAX_QUEUED && !atomic_load(&t->stop)) {
        t->fds[t->n++] = fd;
        fd = -1;
        pthread_cond_signal(&t->cv);
    }
    pthread_mutex_unlock(&t->mu);
    if (fd >= 0)
        close(fd);
}

void trim_free(struct trim *t)
{
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->mu);
    atomic_store(&t->stop, 1);
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    /* The thread closes what is queued: shrink() stops pacing at once. */
    if (t->started)
        pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
