#ifndef SB_CRC32_H
#define SB_CRC32_H

#include <stddef.h>
#include <stdint.h>

/// Folds the longest prefix of `bytes` that the CPU's carry-less multiply can take (a multiple of
/// 16 bytes, at least 64) into the CRC-32 register `*state` (the reflected IEEE polynomial
/// 0xEDB88320, register not inverted: pass ~crc, read ~*state). Returns the bytes consumed: 0 when
/// `count` is under 64 or the CPU has no PCLMULQDQ/SSE4.1 (or is not x86-64); the caller finishes
/// the rest with a table.
size_t sb_crc32_fold(uint32_t *state, const void *bytes, size_t count);

#endif
