#include "connguard.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "util.h"

#define CONNGUARD_TICK_MS 250

struct connguard {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct connguard_entry head;    /* circular list sentinel */
    int64_t timeout_ms;
    int stop;
    _Atomic uint64_t cut;
    pthread_t thread;
};

static void *reaper(void *arg)
{
    struct connguard *g = arg;
    struct timespec ts;

    pthread_mutex_lock(&g->mu);
    while (!g->stop) {
        int64_t now = util_mono_ms();

        for (struct connguard_entry *en = g->head.next; en != &g->head;
             en = en->next) {
            int64_t d = atomic_load(&en->deadline_ms);

            if (d == 0 || d > now)
                continue;
            atomic_store(&en->deadline_ms, 0);
            /* The server thread owns the fd and closes it; under the
             * mutex it is still open (remove() has not returned). */
            (void)shutdown(en->fd, SHUT_RDWR);
            atomic_fetch_add(&g->cut, 1);
            log_msg(LOG_WARN, "api", "connection closed: no complete "
                    "request within RequestTimeoutSeconds (%lld s)",
                    (long long)(g->timeout_ms / 1000));
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += CONNGUARD_TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&g->cv, &g->mu, &ts);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

int connguard_new(int timeout_s, struct connguard **out, struct err *e)
{
    struct connguard *g = calloc(1, sizeof(*g));
    int rc;

    *out = NULL;
    if (g == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->head.next = g->head.prev = &g->head;
    g->timeout_ms = (int64_t)timeout_s * 1000;
    rc = pthread_create(&g->thread, NULL, reaper, g);
    if (rc != 0) {
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
        free(g);
        return err_sys(e, rc, "cannot start the connection timeout thread");
    }
    *out = g;
    return 0;
}

void connguard_add(struct connguard *g, struct connguard_entry *en, int fd)
{
    en->fd = fd;
    atomic_store(&en->deadline_ms, util_mono_ms() + g->timeout_ms);
    pthread_mutex_lock(&g->mu);
    en->prev = g->head.prev;
    en->next = &g->head;
    g->head.prev->next = en;
    g->head.prev = en;
    pthread_mutex_unlock(&g->mu);
}

void connguard_arm(struct connguard *g, struct connguard_entry *en)
{
    atomic_store(&en->deadline_ms, util_mono_ms() + g->timeout_ms);
}

void connguard_disarm(struct connguard_entry *en)
{
    atomic_store(&en->deadline_ms, 0);
}

void connguard_remove(struct connguard *g, struct connguard_entry *en)
{
    if (en->next == NULL)
        return;
    pthread_mutex_lock(&g->mu);
    en->prev->next = en->next;
    en->next->prev = en->prev;
    en->next = en->prev = NULL;
    pthread_mutex_unlock(&g->mu);
}

uint64_t connguard_cut(struct connguard *g)
{
    return atomic_load(&g->cut);
}

void connguard_free(struct connguard *g)
{
    if (g == NULL)
        return;
    pthread_mutex_lock(&g->mu);
    g->stop = 1;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
}
