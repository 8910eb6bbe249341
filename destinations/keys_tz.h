/* keys_tz.h - UTC offsets of IANA time zones for the object keys
 * (CustomTimeZone), read from the zone's TZif file (RFC 8536) under
 * /usr/share/zoneinfo, POSIX TZ footer rules included. No setenv("TZ"),
 * no process-wide state: thread-safe. Used by keys.c. */
#ifndef FH_KEYS_TZ_H
#define FH_KEYS_TZ_H

#include <stdint.h>

#include "../delivery/err.h"

/* UTC offset in seconds of zone 'tz' at 't' (seconds since the epoch) in
 * *off; "", NULL and "UTC" are UTC. 0, or -1 (ERR_INVAL: unknown or
 * malformed zone, ERR_IO: unreadable). Reads the zone file on each call. */
int keys_tz_offset(const char *tz, int64_t t, long *off, struct err *e);

#endif
