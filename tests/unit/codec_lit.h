/* tests/unit/codec_lit.h: hand-made inputs for the codec tests: exact heap copies, hex
 * strings, and a compact literal notation for (often malformed) msgpack. */
#ifndef BERTH_TESTS_CODEC_LIT_H
#define BERTH_TESTS_CODEC_LIT_H

#include "common/mp.h"

#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A heap copy of exactly n bytes (free it). */
uint8_t *codec_lit_dup(const void *p, size_t n);

/* "cc ff 00" -> 3 bytes, in an exact heap buffer. */
uint8_t *codec_lit_hex(const char *s, size_t *n);

/* The bytes in b, as an exact heap copy; b is closed. */
uint8_t *codec_lit_finish(struct mp_buf *b, size_t *n);

/* The bytes a literal stands for, in an exact heap buffer:
 *   {k: v, ...} map   [v, ...] array   nil true false   words are str (T, ts, x, ...)
 *   12 -5 integers (uint64 / int64)    1.5 float64      'text' str   b'text' bin (\xHH)
 *   #c1 00#  raw bytes copied as they are
 * Several top-level values are concatenated, which makes trailing bytes. */
uint8_t *codec_lit_pack(const char *s, size_t *n);

#endif
