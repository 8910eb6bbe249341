/* crc32c.h - CRC-32C (Castagnoli), the checksum on every spooled record.
 * Uses the SSE4.2 crc32 instruction when the CPU has it (about ten times
 * zlib's table-driven CRC-32 here), a table otherwise; both give the same
 * values, so spool files move between machines. */
#ifndef FH_CRC32C_H
#define FH_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues 'crc' (0 to start) over p[0..n), like zlib's crc32(). */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);
/* The table path alone (what CPUs without SSE4.2 run); for tests. */
uint32_t crc32c_portable(uint32_t crc, const void *p, size_t n);

#endif
