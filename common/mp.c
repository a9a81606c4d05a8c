/* common/mp.c: msgpack validation before unpacking, typed accessors, the packing buffer. */
#include "common/mp.h"

#include "common/err.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mp_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Classifies the object starting at buf[pos] (pos < n). On return *hdr is the header's
 * length, *payload the bytes that follow it (str/bin/number bodies) and *children the
 * number of nested objects (arrays: count, maps: 2 x count). */
static int mp_head(const uint8_t *buf, size_t n, size_t pos, size_t *hdr, uint64_t *payload,
		   uint64_t *children)
{
	uint8_t b = buf[pos];
	size_t left = n - pos - 1;
	size_t lenbytes = 0;
	*hdr = 1;
	*payload = 0;
	*children = 0;
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
		return 0;
	if (b >= 0x80 && b <= 0x8f) {
		*children = 2u * (b & 0x0f);
		return 0;
	}
	if (b >= 0x90 && b <= 0x9f) {
		*children = b & 0x0f;
		return 0;
	}
	if (b >= 0xa0 && b <= 0xbf) {
		*payload = b & 0x1f;
		return 0;
	}
	switch (b) {
	case 0xcc:
	case 0xd0:
		*payload = 1;
		return 0;
	case 0xcd:
	case 0xd1:
		*payload = 2;
		return 0;
	case 0xce:
	case 0xd2:
	case 0xca:
		*payload = 4;
		return 0;
	case 0xcf:
	case 0xd3:
	case 0xcb:
		*payload = 8;
		return 0;
	case 0xc4:
	case 0xd9:
		lenbytes = 1;
		break;
	case 0xc5:
	case 0xda:
	case 0xdc:
	case 0xde:
		lenbytes = 2;
		break;
	case 0xc6:
	case 0xdb:
	case 0xdd:
	case 0xdf:
		lenbytes = 4;
		break;
	default:
		return BERTH_EBADREQ; /* 0xc1 (never used) and every ext type */
	}
	if (left < lenbytes)
		return BERTH_EBADREQ;
	uint64_t len = mp_be(buf + pos + 1, lenbytes);
	*hdr = 1 + lenbytes;
	if (b == 0xdc || b == 0xdd)
		*children = len;
	else if (b == 0xde || b == 0xdf)
		*children = 2 * len;
	else
		*payload = len;
	return 0;
}

int mp_validate(const uint8_t *buf, size_t n, unsigned max_depth, size_t *used)
{
	uint64_t need[MP_MAX_DEPTH + 1];
	unsigned top = 0;
	size_t pos = 0;

	if (max_depth > MP_MAX_DEPTH)
		max_depth = MP_MAX_DEPTH;
	need[0] = 1;
	for (;;) {
		if (need[top] == 0) {
			if (top == 0)
				break;
			top--;
			continue;
		}
		need[top]--;
		if (pos >= n)
			return BERTH_EBADREQ;
		uint8_t b = buf[pos];
		bool container = (b & 0xe0) == 0x80 || (b >= 0xdc && b <= 0xdf);
		/* A container counts for depth even when empty: the bound is on nesting. */
		if (container && top + 1 > max_depth)
			return BERTH_EBADREQ;
		size_t hdr;
		uint64_t payload, children;
		if (mp_head(buf, n, pos, &hdr, &payload, &children) != 0)
			return BERTH_EBADREQ;
		pos += hdr;
		if (payload > n - pos)
			return BERTH_EBADREQ;
		pos += (size_t)payload;
		if (children > 0) {
			/* Every child takes at least one byte: a count larger than the bytes
			 * left is a lie, refused before anything is allocated. */
			if (children > n - pos)
				return BERTH_EBADREQ;
			need[++top] = children;
		}
	}
	*used = pos;
	return 0;
}

int mp_doc_init(struct mp_doc *d, const uint8_t *buf, size_t n)
{
	size_t used, off = 0;
	if (mp_validate(buf, n, MP_MAX_DEPTH, &used) != 0)
		return BERTH_EBADREQ;
	if (n - used > 7)
		return BERTH_EBADREQ;
	for (size_t i = used; i < n; i++)
		if (buf[i] != 0)
			return BERTH_EBADREQ;
	msgpack_unpacked_init(&d->unpacked);
	msgpack_unpack_return rv = msgpack_unpack_next(&d->unpacked, (const char *)buf, used, &off);
	if (rv != MSGPACK_UNPACK_SUCCESS || off != used) {
		msgpack_unpacked_destroy(&d->unpacked);
		return rv == MSGPACK_UNPACK_NOMEM_ERROR ? BERTH_ENOMEM : BERTH_EBADREQ;
	}
	d->root = &d->unpacked.data;
	return 0;
}

void mp_doc_close(struct mp_doc *d)
{
	msgpack_unpacked_destroy(&d->unpacked);
	d->root = NULL;
}

const msgpack_object *mp_map_get(const msgpack_object *map, const char *key)
{
	if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	size_t klen = strlen(key);
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
		    memcmp(k->via.str.ptr, key, klen) == 0)
			return &map->via.map.ptr[i].val;
	}
	return NULL;
}

int mp_get_u64(const msgpack_object *o, uint64_t *out)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return BERTH_EBADREQ;
	*out = o->via.u64;
	return 0;
}

int mp_get_i64(const msgpack_object *o, int64_t *out)
{
	if (o == NULL)
		return BERTH_EBADREQ;
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*out = o->via.i64;
		return 0;
	}
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
		*out = (int64_t)o->via.u64;
		return 0;
	}
	return BERTH_EBADREQ;
}

int mp_get_bool(const msgpack_object *o, int *out)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_BOOLEAN)
		return BERTH_EBADREQ;
	*out = o->via.boolean ? 1 : 0;
	return 0;
}

int mp_get_bytes(const msgpack_object *o, const uint8_t **p, size_t *n)
{
	if (o != NULL && o->type == MSGPACK_OBJECT_BIN) {
		*p = (const uint8_t *)o->via.bin.ptr;
		*n = o->via.bin.size;
		return 0;
	}
	if (o != NULL && o->type == MSGPACK_OBJECT_STR) {
		*p = (const uint8_t *)o->via.str.ptr;
		*n = o->via.str.size;
		return 0;
	}
	return BERTH_EBADREQ;
}

int mp_opt_u64(const msgpack_object *map, const char *key, uint64_t def, uint64_t *out)
{
	const msgpack_object *o = mp_map_get(map, key);
	if (o == NULL) {
		*out = def;
		return 0;
	}
	return mp_get_u64(o, out);
}

int mp_opt_i64(const msgpack_object *map, const char *key, int64_t def, int64_t *out)
{
	const msgpack_object *o = mp_map_get(map, key);
	if (o == NULL) {
		*out = def;
		return 0;
	}
	return mp_get_i64(o, out);
}

int mp_opt_bytes(const msgpack_object *map, const char *key, const uint8_t **p, size_t *n)
{
	const msgpack_object *o = mp_map_get(map, key);
	if (o == NULL) {
		*p = NULL;
		*n = 0;
		return 0;
	}
	return mp_get_bytes(o, p, n);
}

int mp_value_int(const uint8_t *p, size_t n, int64_t *out)
{
	if (n == 0)
		return BERTH_ETYPE;
	uint8_t b = p[0];
	if (b <= 0x7f && n == 1) {
		*out = b;
		return 0;
	}
	if (b >= 0xe0 && n == 1) {
		*out = (int8_t)b;
		return 0;
	}
	size_t w = 0;
	int is_signed = 0;
	switch (b) {
	case 0xcc:
		w = 1;
		break;
	case 0xcd:
		w = 2;
		break;
	case 0xce:
		w = 4;
		break;
	case 0xcf:
		w = 8;
		break;
	case 0xd0:
		w = 1;
		is_signed = 1;
		break;
	case 0xd1:
		w = 2;
		is_signed = 1;
		break;
	case 0xd2:
		w = 4;
		is_signed = 1;
		break;
	case 0xd3:
		w = 8;
		is_signed = 1;
		break;
	default:
		return BERTH_ETYPE;
	}
	if (n != 1 + w)
		return BERTH_ETYPE;
	uint64_t u = mp_be(p + 1, w);
	if (!is_signed) {
		if (u > INT64_MAX)
			return BERTH_ETYPE;
		*out = (int64_t)u;
		return 0;
	}
	/* Sign-extend a w-byte two's complement number. */
	if (w < 8 && (u >> (8 * w - 1)) & 1)
		u |= ~(uint64_t)0 << (8 * w);
	memcpy(out, &u, sizeof(u));
	return 0;
}

size_t mp_int_encode(int64_t v, uint8_t out[9])
{
	uint64_t u;
	size_t w;
	if (v >= 0 && v <= 0x7f) {
		out[0] = (uint8_t)v;
		return 1;
	}
	if (v < 0 && v >= -32) {
		out[0] = (uint8_t)(int8_t)v;
		return 1;
	}
	if (v > 0) {
		u = (uint64_t)v;
		w = u <= 0xff ? 1 : u <= 0xffff ? 2 : u <= 0xffffffffu ? 4 : 8;
		out[0] = w == 1 ? 0xcc : w == 2 ? 0xcd : w == 4 ? 0xce : 0xcf;
	} else {
		memcpy(&u, &v, sizeof(u));
		w = v >= INT8_MIN ? 1 : v >= INT16_MIN ? 2 : v >= INT32_MIN ? 4 : 8;
		out[0] = w == 1 ? 0xd0 : w == 2 ? 0xd1 : w == 4 ? 0xd2 : 0xd3;
	}
	for (size_t i = 0; i < w; i++)
		out[1 + i] = (uint8_t)(u >> (8 * (w - 1 - i)));
	return 1 + w;
}

static int mp_buf_write(void *data, const char *p, size_t n)
{
	return mp_buf_append(data, p, n);
}

void mp_buf_init(struct mp_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->err = 0;
	msgpack_packer_init(&b->pk, b, mp_buf_write);
}

void mp_buf_close(struct mp_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void mp_buf_reset(struct mp_buf *b)
{
	b->len = 0;
	b->err = 0;
}

int mp_buf_append(struct mp_buf *b, const void *p, size_t n)
{
	if (b->err)
		return -1;
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap - b->len < n) {
			if (cap > SIZE_MAX / 2) {
				b->err = BERTH_ENOMEM;
				return -1;
			}
			cap *= 2;
		}
		uint8_t *d = realloc(b->data, cap);
		if (d == NULL) {
			b->err = BERTH_ENOMEM;
			return -1;
		}
		b->data = d;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int mp_buf_error(const struct mp_buf *b)
{
	return b->err;
}

uint8_t *mp_buf_take(struct mp_buf *b, size_t *len)
{
	uint8_t *d = b->data;
	*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return d;
}

void mp_pack_cstr(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

void mp_pack_bin(msgpack_packer *pk, const void *p, size_t n)
{
	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, p, n);
}

void mp_pack_kv_u64(msgpack_packer *pk, const char *key, uint64_t v)
{
	mp_pack_cstr(pk, key);
	msgpack_pack_uint64(pk, v);
}

void mp_pack_kv_i64(msgpack_packer *pk, const char *key, int64_t v)
{
	mp_pack_cstr(pk, key);
	msgpack_pack_int64(pk, v);
}

void mp_pack_kv_bin(msgpack_packer *pk, const char *key, const void *p, size_t n)
{
	mp_pack_cstr(pk, key);
	mp_pack_bin(pk, p, n);
}

void mp_pack_kv_bool(msgpack_packer *pk, const char *key, int v)
{
	mp_pack_cstr(pk, key);
	if (v)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}
