/* tests/unit/snap_stream.c: snapshot streams in memory: sink, failing source, records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/snap_stream.h"

#include "common/err.h"
#include "store/kv.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- snapshot streams in memory ---- */

int snap_stream_write(void *ctx, const void *buf, size_t n)
{
	struct sbuf *s = ctx;
	if (s->n + n > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->n + n)
			cap *= 2;
		s->p = realloc(s->p, cap);
		assert_non_null(s->p);
		s->cap = cap;
	}
	if (n > 0)
		memcpy(s->p + s->n, buf, n);
	s->n += n;
	s->calls++;
	return 0;
}

void snap_stream_free(struct sbuf *s)
{
	free(s->p);
	memset(s, 0, sizeof(*s));
}

/* The whole database of f as a snapshot stream (snap_stream_free it). */
void snap_stream_of(struct fsm *f, struct sbuf *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(fsm_snapshot_write(f, snap_stream_write, s), 0);
	assert_true(s->n >= 12 + 13);
}

void snap_stream_eq(const struct sbuf *a, const struct sbuf *b)
{
	assert_int_equal(a->n, b->n);
	assert_memory_equal(a->p, b->p, a->n);
}

int snap_stream_read(void *ctx, void *buf, size_t n)
{
	struct reader *r = ctx;
	r->calls++;
	if (r->pos + n > r->fail_at)
		return r->fail_rv;
	if (n > r->n - r->pos)
		return BERTH_ECORRUPT;
	memcpy(buf, r->p + r->pos, n);
	r->pos += n;
	return 0;
}

static uint32_t be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Splits a stream written by fsm_snapshot_write into records (free the array). */
struct srec *snap_stream_parse(const struct sbuf *s, size_t *count)
{
	size_t pos = 12, n = 0;
	struct srec *r = malloc(s->n * sizeof(*r) / 9 + 1);
	assert_non_null(r);
	assert_memory_equal(s->p, "BERTHSNP", 8);
	while (s->p[pos] != 0xff) {
		r[n].table = s->p[pos];
		r[n].kn = be32(s->p + pos + 1);
		r[n].k = s->p + pos + 5;
		pos += 5 + r[n].kn;
		r[n].vn = be32(s->p + pos);
		r[n].v = s->p + pos + 4;
		pos += 4 + r[n].vn;
		n++;
	}
	assert_int_equal(kv_be64_get(s->p + pos + 1), n);
	assert_int_equal(pos + 13, s->n);
	*count = n;
	return r;
}

/* Writes a stream: magic, version, records, then `count` and a correct CRC. */
void snap_stream_build(const char *magic, uint32_t version, const struct srec *r, size_t n,
		       uint64_t count, struct sbuf *out)
{
	uint8_t b[13];
	memset(out, 0, sizeof(*out));
	snap_stream_write(out, magic, 8);
	put_be32(b, version);
	snap_stream_write(out, b, 4);
	for (size_t i = 0; i < n; i++) {
		b[0] = r[i].table;
		put_be32(b + 1, (uint32_t)r[i].kn);
		snap_stream_write(out, b, 5);
		snap_stream_write(out, r[i].k, r[i].kn);
		put_be32(b, (uint32_t)r[i].vn);
		snap_stream_write(out, b, 4);
		snap_stream_write(out, r[i].v, r[i].vn);
	}
	b[0] = 0xff;
	kv_be64_put(b + 1, count);
	snap_stream_write(out, b, 9);
	put_be32(b, (uint32_t)crc32(crc32(0, Z_NULL, 0), out->p, (uInt)out->n));
	snap_stream_write(out, b, 4);
}
