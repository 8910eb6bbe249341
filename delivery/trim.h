/* trim.h - gives a removed file's disk space back a few MiB at a time.
 *
 * Unlinking a 64 MiB spool segment frees all its blocks at once; on a
 * filesystem mounted with `discard` (the development VM's root is) that is
 * one 64 MiB discard, and every fdatasync queued behind it waits for it:
 * P5-lat's p99 acknowledgement went from 6 to 12 ms because of it
 * (tests/bench/README.md). So the owner unlinks the name at once but hands
 * the open descriptor here; a thread, started on the first file, shortens
 * the file by TRIM_STEP bytes every TRIM_PAUSE_MS and closes it when it is
 * empty. A crash meanwhile leaves an unlinked inode, which the filesystem
 * (or fsck) frees; nothing of the owner's state refers to it.
 *
 * Threads: trim_file() from any thread; trim_free() when no one calls it
 * any more. */
#ifndef FH_TRIM_H
#define FH_TRIM_H

#include "err.h"

#define TRIM_STEP       (2u << 20)
#define TRIM_PAUSE_MS   10
/* Files waiting beyond this are closed at once: the owner is freeing space
 * faster than TRIM_STEP / TRIM_PAUSE_MS (200 MiB/s), and pacing would only
 * hold that much more disk. */
#define TRIM_MAX_QUEUED 4

struct trim;

/* 'who' names the owner in log lines. */
int trim_new(const char *who, struct trim **out, struct err *e);
/* Takes 'fd' (an unlinked file): closed by the time trim_free() returns.
 * Without memory or a thread the file is closed at once, which is only
 * slower for the fdatasyncs around it. */
void trim_file(struct trim *t, int fd);
/* Closes every file still waiting (their space is freed at once) and
 * stops the thread. NULL is a no-op. */
void trim_free(struct trim *t);

#endif
