/* connguard.h - a deadline per API connection, so that a client trickling
 * a request byte by byte (slow loris) cannot hold a connection and its
 * thread for ever: libmicrohttpd's own timeout only counts idle time. One
 * thread wakes every 250 ms and shuts down (shutdown(2), so the server
 * thread sees end-of-file and closes) each connection whose deadline
 * passed. Entries are embedded in the caller's per-connection struct. */
#ifndef FH_CONNGUARD_H
#define FH_CONNGUARD_H

#include <stdatomic.h>
#include <stdint.h>

#include "err.h"

struct connguard;

struct connguard_entry {
    int fd;
    _Atomic int64_t deadline_ms;    /* monotonic; 0 = none */
    struct connguard_entry *prev, *next;
};

/* 'timeout_s' is what connguard_arm() gives. Starts the thread. */
int connguard_new(int timeout_s, struct connguard **out, struct err *e);
/* Watch 'fd' (borrowed) from now on, armed. */
void connguard_add(struct connguard *g, struct connguard_entry *en, int fd);
/* The connection must finish its request within the timeout from now. */
void connguard_arm(struct connguard *g, struct connguard_entry *en);
/* No deadline (the request is complete and being answered). */
void connguard_disarm(struct connguard_entry *en);
/* Stop watching; after this returns 'fd' is never touched again. */
void connguard_remove(struct connguard *g, struct connguard_entry *en);
/* Connections cut so far. */
uint64_t connguard_cut(struct connguard *g);
/* Stops the thread. Every entry must have been removed. NULL is a no-op. */
void connguard_free(struct connguard *g);

#endif
