/* common/mp.h: msgpack-c, made safe for hostile input, and a growable packing buffer.
 *
 * msgpack-c's unpacker trusts the counts it reads (an array header claiming 2^26 elements
 * reserves 1.6 GB) and answers "continue" on truncated input. Every decode in berth
 * therefore runs mp_validate first: it walks the bytes without allocating and refuses
 * truncation, counts larger than the bytes left, nesting deeper than a bound, ext types and
 * trailing bytes. Only validated bytes reach msgpack_unpack_next, and then its allocations
 * are bounded by the input size.
 *
 * Decoded str/bin objects point into the input buffer: they are borrowed. */
#ifndef BERTH_COMMON_MP_H
#define BERTH_COMMON_MP_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#define MP_MAX_DEPTH 16

/* Checks that buf[0..n) starts with one well-formed msgpack object no deeper than
 * max_depth (<= MP_MAX_DEPTH) and stores its length in *used. Bytes after the object are
 * not examined. Returns 0, or BERTH_EBADREQ for anything malformed or truncated. */
int mp_validate(const uint8_t *buf, size_t n, unsigned max_depth, size_t *used);

/* A validated, unpacked object. `root` is valid until mp_doc_close; strings and binaries
 * inside it borrow from the caller's input buffer, which must outlive the document. */
struct mp_doc {
	msgpack_unpacked unpacked;
	const msgpack_object *root;
};

/* Validates and unpacks buf[0..n) as exactly one object followed by nothing but up to 7
 * zero bytes of padding (raft log entries are padded to 8 bytes). Returns 0,
 * BERTH_EBADREQ (malformed, truncated, trailing bytes) or BERTH_ENOMEM. On failure
 * there is nothing to close. */
int mp_doc_init(struct mp_doc *d, const uint8_t *buf, size_t n);
void mp_doc_close(struct mp_doc *d);

/* Typed accessors: 0, or BERTH_EBADREQ when the object has another type or range. */
const msgpack_object *mp_map_get(const msgpack_object *map, const char *key);
int mp_get_u64(const msgpack_object *o, uint64_t *out);
int mp_get_i64(const msgpack_object *o, int64_t *out);
int mp_get_bool(const msgpack_object *o, int *out);
/* str or bin; the result borrows from the input buffer. */
int mp_get_bytes(const msgpack_object *o, const uint8_t **p, size_t *n);

/* Optional map fields: a missing key leaves *out at `def` and returns 0. */
int mp_opt_u64(const msgpack_object *map, const char *key, uint64_t def, uint64_t *out);
int mp_opt_i64(const msgpack_object *map, const char *key, int64_t def, int64_t *out);
int mp_opt_bytes(const msgpack_object *map, const char *key, const uint8_t **p, size_t *n);

/* Reads one msgpack integer from a stored value (as `add` and `int` compares do): 0 and
 * *out, or BERTH_ETYPE when the bytes are not exactly one msgpack integer in int64 range. */
int mp_value_int(const uint8_t *p, size_t n, int64_t *out);
/* Encodes v as the shortest msgpack integer into out (at most 9 bytes); returns length. */
size_t mp_int_encode(int64_t v, uint8_t out[9]);

/* A growable output buffer with a msgpack packer writing into it. Allocation failure is
 * sticky: packing goes on as a no-op and mp_buf_error reports BERTH_ENOMEM at the end, so
 * encoders check once. */
struct mp_buf {
	uint8_t *data; /* owned */
	size_t len;
	size_t cap;
	int err;
	msgpack_packer pk;
};

void mp_buf_init(struct mp_buf *b);
void mp_buf_close(struct mp_buf *b);
void mp_buf_reset(struct mp_buf *b);
int mp_buf_append(struct mp_buf *b, const void *p, size_t n);
int mp_buf_error(const struct mp_buf *b);
/* Hands the bytes to the caller (free with free()); the buffer is left empty. */
uint8_t *mp_buf_take(struct mp_buf *b, size_t *len);

/* Packing shorthands: a string key followed by a value. */
void mp_pack_cstr(msgpack_packer *pk, const char *s);
void mp_pack_bin(msgpack_packer *pk, const void *p, size_t n);
void mp_pack_kv_u64(msgpack_packer *pk, const char *key, uint64_t v);
void mp_pack_kv_i64(msgpack_packer *pk, const char *key, int64_t v);
void mp_pack_kv_bin(msgpack_packer *pk, const char *key, const void *p, size_t n);
void mp_pack_kv_bool(msgpack_packer *pk, const char *key, int v);

#endif
