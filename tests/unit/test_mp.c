/* tests/unit/test_mp.c: msgpack validation (common/mp.c) against hostile input: every type
 * family, ext types, truncation, lying counts, depth, and the zero padding after a
 * document; the decoders of msg.c and reply.c refuse what mp_validate refuses.
 *
 * Every input is handed to the code under test in a heap buffer of exactly its size, so
 * that ASan reports any read past its end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/mp.h"
#include "common/msg.h"
#include "common/reply.h"
#include "tests/unit/codec_cases.h"
#include "tests/unit/codec_lit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- mp_validate ---------------------------------------------------------------------- */

struct typed_hex {
	const char *hex;
	msgpack_object_type type;
};

static const struct typed_hex valid_hex[] = {
	{"00", MSGPACK_OBJECT_POSITIVE_INTEGER},
	{"7f", MSGPACK_OBJECT_POSITIVE_INTEGER},
	{"e0", MSGPACK_OBJECT_NEGATIVE_INTEGER},
	{"ff", MSGPACK_OBJECT_NEGATIVE_INTEGER},
	{"c0", MSGPACK_OBJECT_NIL},
	{"c2", MSGPACK_OBJECT_BOOLEAN},
	{"c3", MSGPACK_OBJECT_BOOLEAN},
	{"cc 80", MSGPACK_OBJECT_POSITIVE_INTEGER},
	{"cd ff ff", MSGPACK_OBJECT_POSITIVE_INTEGER},
	{"ce 00 01 00 00", MSGPACK_OBJECT_POSITIVE_INTEGER},
	{"cf ff ff ff ff ff ff ff ff", MSGPACK_OBJECT_POSITIVE_INTEGER},
	{"d0 80", MSGPACK_OBJECT_NEGATIVE_INTEGER},
	{"d1 80 00", MSGPACK_OBJECT_NEGATIVE_INTEGER},
	{"d2 80 00 00 00", MSGPACK_OBJECT_NEGATIVE_INTEGER},
	{"d3 80 00 00 00 00 00 00 00", MSGPACK_OBJECT_NEGATIVE_INTEGER},
	{"ca 3f c0 00 00", MSGPACK_OBJECT_FLOAT32},
	{"cb 3f f8 00 00 00 00 00 00", MSGPACK_OBJECT_FLOAT64},
	{"a0", MSGPACK_OBJECT_STR},
	{"a3 61 62 63", MSGPACK_OBJECT_STR},
	{"d9 00", MSGPACK_OBJECT_STR},
	{"d9 03 61 62 63", MSGPACK_OBJECT_STR},
	{"da 00 03 61 62 63", MSGPACK_OBJECT_STR},
	{"db 00 00 00 03 61 62 63", MSGPACK_OBJECT_STR},
	{"c4 00", MSGPACK_OBJECT_BIN},
	{"c4 02 00 ff", MSGPACK_OBJECT_BIN},
	{"c5 00 02 00 ff", MSGPACK_OBJECT_BIN},
	{"c6 00 00 00 02 00 ff", MSGPACK_OBJECT_BIN},
	{"90", MSGPACK_OBJECT_ARRAY},
	{"93 01 02 03", MSGPACK_OBJECT_ARRAY},
	{"dc 00 00", MSGPACK_OBJECT_ARRAY},
	{"dc 00 02 c0 c3", MSGPACK_OBJECT_ARRAY},
	{"dd 00 00 00 00", MSGPACK_OBJECT_ARRAY},
	{"dd 00 00 00 02 a1 61 cc ff", MSGPACK_OBJECT_ARRAY},
	{"80", MSGPACK_OBJECT_MAP},
	{"81 a1 61 01", MSGPACK_OBJECT_MAP},
	{"de 00 00", MSGPACK_OBJECT_MAP},
	{"de 00 01 a1 61 92 01 02", MSGPACK_OBJECT_MAP},
	{"df 00 00 00 00", MSGPACK_OBJECT_MAP},
	{"df 00 00 00 02 a1 61 c0 a1 62 81 a0 90", MSGPACK_OBJECT_MAP},
	{"93 93 c0 c2 c3 82 01 02 03 04 c4 01 00", MSGPACK_OBJECT_ARRAY},
};

/* Generated encodings: header bytes, then `count` copies of `fill` bytes. */
static uint8_t *gen(const char *header, size_t count, const char *fill, size_t *n)
{
	size_t hn, fn;
	uint8_t *h = codec_lit_hex(header, &hn), *f = codec_lit_hex(fill, &fn);
	uint8_t *d = malloc(hn + count * fn + 1);
	assert_non_null(d);
	memcpy(d, h, hn);
	for (size_t i = 0; i < count; i++)
		memcpy(d + hn + i * fn, f, fn);
	*n = hn + count * fn;
	free(h);
	free(f);
	return d;
}

struct gen_case {
	const char *header;
	size_t count;
	const char *fill;
	msgpack_object_type type;
	uint32_t size; /* str/bin length, array/map count */
};

static const struct gen_case gen_cases[] = {
	{"bf", 31, "61", MSGPACK_OBJECT_STR, 31},
	{"da 01 2c", 300, "62", MSGPACK_OBJECT_STR, 300},
	{"db 00 01 11 70", 70000, "63", MSGPACK_OBJECT_STR, 70000},
	{"c5 01 2c", 300, "00", MSGPACK_OBJECT_BIN, 300},
	{"c6 00 01 11 70", 70000, "ff", MSGPACK_OBJECT_BIN, 70000},
	{"9f", 15, "c0", MSGPACK_OBJECT_ARRAY, 15},
	{"dc 00 14", 20, "01", MSGPACK_OBJECT_ARRAY, 20},
	{"dd 00 01 11 70", 70000, "c3", MSGPACK_OBJECT_ARRAY, 70000},
	{"8f", 15, "01 c0", MSGPACK_OBJECT_MAP, 15},
	{"de 00 14", 20, "a0 01", MSGPACK_OBJECT_MAP, 20},
	{"df 00 01 11 70", 70000, "02 c2", MSGPACK_OBJECT_MAP, 70000},
};

static uint32_t obj_size(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_STR:
		return o->via.str.size;
	case MSGPACK_OBJECT_BIN:
		return o->via.bin.size;
	case MSGPACK_OBJECT_ARRAY:
		return o->via.array.size;
	case MSGPACK_OBJECT_MAP:
		return o->via.map.size;
	default:
		return 0;
	}
}

/* Accepted with used == n; bytes after the object are not examined (0xc1 is never valid);
 * mp_doc_init agrees and msgpack-c sees the expected type. */
static void check_valid(const uint8_t *p, size_t n, msgpack_object_type type, uint32_t size)
{
	uint8_t *d = codec_lit_dup(p, n);
	size_t used = 0;
	struct mp_doc doc;
	assert_int_equal(mp_validate(d, n, MP_MAX_DEPTH, &used), 0);
	assert_int_equal(used, n);
	uint8_t *t = malloc(n + 2);
	assert_non_null(t);
	memcpy(t, p, n);
	t[n] = 0xc1;
	t[n + 1] = 0xc1;
	used = 0;
	assert_int_equal(mp_validate(t, n + 2, MP_MAX_DEPTH, &used), 0);
	assert_int_equal(used, n);
	assert_int_equal(mp_doc_init(&doc, d, n), 0);
	assert_int_equal(doc.root->type, type);
	if (size != UINT32_MAX)
		assert_int_equal(obj_size(doc.root), size);
	mp_doc_close(&doc);
	assert_null(doc.root);
	free(t);
	free(d);
}

static void test_codec_validate_every_type(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(valid_hex); i++) {
		size_t n;
		uint8_t *p = codec_lit_hex(valid_hex[i].hex, &n);
		check_valid(p, n, valid_hex[i].type, UINT32_MAX);
		free(p);
	}
	for (size_t i = 0; i < ARRAY_LEN(gen_cases); i++) {
		const struct gen_case *g = &gen_cases[i];
		size_t n;
		uint8_t *p = gen(g->header, g->count, g->fill, &n);
		check_valid(p, n, g->type, g->size);
		free(p);
	}
}

static void test_codec_validate_ext_rejected(void **state)
{
	static const char *const bad[] = {
		"c1",
		"d4 01 00",
		"d5 01 00 00",
		"d6 ff 00 00 00 00",
		"d7 01 00 00 00 00 00 00 00 00",
		"d8 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
		"c7 01 05 00",
		"c7 00 05",
		"c8 00 01 05 00",
		"c9 00 00 00 01 05 00",
		"91 c1",
		"92 01 c1",
		"81 a1 61 c1",
		"81 c1 01",
		"92 01 d4 01 00",
		"dc 00 01 c7 00 05",
		"df 00 00 00 01 a0 d6 ff 00 00 00 00",
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		size_t n, used = 12345;
		struct mp_doc doc;
		uint8_t *p = codec_lit_hex(bad[i], &n);
		assert_int_equal(mp_validate(p, n, MP_MAX_DEPTH, &used), BERTH_EBADREQ);
		assert_int_equal(used, 12345); /* untouched on failure */
		assert_int_equal(mp_doc_init(&doc, p, n), BERTH_EBADREQ);
		free(p);
	}
}

/* Every strict prefix of a valid encoding is refused, by mp_validate, mp_doc_init and the
 * decoder the encoding belongs to. */
static void check_prefixes(const uint8_t *p, size_t n, int which)
{
	for (size_t k = 0; k < n; k++) {
		uint8_t *d = codec_lit_dup(p, k);
		size_t used;
		struct mp_doc doc;
		struct msg_cmd c;
		struct msg_req r;
		struct reply rp;
		assert_int_equal(mp_validate(d, k, MP_MAX_DEPTH, &used), BERTH_EBADREQ);
		assert_int_equal(mp_doc_init(&doc, d, k), BERTH_EBADREQ);
		if (which == 1) {
			assert_int_equal(msg_cmd_decode(d, k, &c), BERTH_EBADREQ);
			codec_cases_assert_cmd_empty(&c);
		} else if (which == 2) {
			assert_int_equal(msg_req_decode(d, k, &r), BERTH_EBADREQ);
			codec_cases_assert_req_empty(&r);
		} else if (which == 3) {
			assert_int_equal(reply_decode(d, k, &rp), BERTH_EBADREQ);
			codec_cases_assert_reply_empty(&rp);
		}
		free(d);
	}
}

static void test_codec_validate_truncated(void **state)
{
	struct msg_cmd cmds[24];
	struct msg_req reqs[24];
	size_t n;
	uint8_t *p;
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(valid_hex); i++) {
		p = codec_lit_hex(valid_hex[i].hex, &n);
		check_prefixes(p, n, 0);
		free(p);
	}
	/* The generated ones up to a few hundred bytes (prefix checks are quadratic). */
	for (size_t i = 0; i < ARRAY_LEN(gen_cases); i++) {
		if (gen_cases[i].count > 300)
			continue;
		p = gen(gen_cases[i].header, gen_cases[i].count, gen_cases[i].fill, &n);
		check_prefixes(p, n, 0);
		free(p);
	}
	size_t nc = codec_cases_cmds(cmds, false);
	for (size_t i = 0; i < nc; i++) {
		p = codec_cases_encode_cmd(&cmds[i], &n);
		check_prefixes(p, n, 1);
		free(p);
	}
	size_t nr = codec_cases_reqs(reqs, false);
	for (size_t i = 0; i < nr; i++) {
		p = codec_cases_encode_req(&reqs[i], &n);
		check_prefixes(p, n, 2);
		free(p);
	}
	p = codec_cases_reply(&n);
	check_prefixes(p, n, 3);
	free(p);
}

/* Headers claiming far more elements or bytes than follow. */
static const char *const lying_hex[] = {
	"dd 04 00 00 00 c0 c0 c0",             /* array32 of 2^26 */
	"dd ff ff ff ff c0 c0 c0",             /* array32 of 2^32 - 1 */
	"dd 80 00 00 00 c0 c0 c0",             /* array32 of 2^31 */
	"df ff ff ff ff c0 c0 c0",             /* map32 of 2^32 - 1 pairs */
	"df 80 00 00 00 c0 c0 c0",             /* map32 of 2^31 pairs: 2^32 children */
	"df 00 00 00 02 01 02 03",             /* 4 children, 3 bytes */
	"dd 00 00 00 03 01 02",                /* one short */
	"dc ff ff 01 02 03",                   /* array16 */
	"de ff ff 01 02 03",                   /* map16 */
	"9f 01 02",                            /* fixarray */
	"8f 01 02 03",                         /* fixmap */
	"81 01",                               /* a map missing its value */
	"92 01 dd ff ff ff ff c0",             /* nested */
	"81 a1 54 dd 04 00 00 00 01 02 03",    /* as a map value */
	"db ff ff ff ff 61 62 63",             /* str32 of 4 GiB - 1 */
	"db 80 00 00 00 61 62 63",             /* str32 of 2 GiB */
	"c6 ff ff ff ff 00 00 00",             /* bin32 of 4 GiB - 1 */
	"c6 00 00 00 04 00 00 00",             /* bin32 one short */
	"da ff ff 61",                         /* str16 */
	"c5 ff ff 61",                         /* bin16 */
	"d9 ff 61",                            /* str8 */
	"c4 ff 61",                            /* bin8 */
	"bf 61",                               /* fixstr */
	"dd ff ff ff",                         /* the count itself truncated */
	"df ff",                               /* likewise */
	"db ff ff",                            /* likewise */
	"cf 00 00 00",                         /* uint64 body truncated */
	"cb 00",                               /* float64 body truncated */
	"92 c4 ff ff",                         /* bin8 inside an array */
	"91 82 a1 61 01 a1 62 db 00 00 01 00", /* str32 nested deep */
};

static void check_lying(const uint8_t *p, size_t n)
{
	size_t used;
	struct mp_doc doc;
	struct msg_cmd c;
	struct msg_req r;
	struct reply rp;
	assert_int_equal(mp_validate(p, n, MP_MAX_DEPTH, &used), BERTH_EBADREQ);
	assert_int_equal(mp_doc_init(&doc, p, n), BERTH_EBADREQ);
	assert_int_equal(msg_cmd_decode(p, n, &c), BERTH_EBADREQ);
	codec_cases_assert_cmd_empty(&c);
	assert_int_equal(msg_req_decode(p, n, &r), BERTH_EBADREQ);
	codec_cases_assert_req_empty(&r);
	assert_int_equal(reply_decode(p, n, &rp), BERTH_EBADREQ);
	codec_cases_assert_reply_empty(&rp);
}

static void test_codec_validate_lying_counts(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(lying_hex); i++) {
		size_t n;
		uint8_t *p = codec_lit_hex(lying_hex[i], &n);
		check_lying(p, n);
		free(p);
	}
	/* The same lies inside otherwise well-formed messages. */
	static const char *const in_msgs[] = {
		"{T: 5, leases: #dd 04 00 00 00 01 02 03#}",
		"{T: 1, x: {c: #dd ff ff ff ff#, s: []}}",
		"{T: 1, x: {s: [{t: 1, k: #db ff ff ff ff 61#}]}}",
		"{T: 2, x: {s: #de ff ff 01 02 03#}}",
		"{r: #dd 04 00 00 00 01 02 03#, rev: 1}",
		"{r: [{t: 0, kvs: #dd ff ff ff ff#}]}",
	};
	for (size_t i = 0; i < ARRAY_LEN(in_msgs); i++) {
		size_t n;
		uint8_t *p = codec_lit_pack(in_msgs[i], &n);
		check_lying(p, n);
		free(p);
	}
}

/* msgpack-c alone reserves 1.6 GB for the 2^26 header: refusing it must cost nothing. */
static void test_codec_validate_lying_counts_fast(void **state)
{
	static const char *const cases[] = {"dd 04 00 00 00 c0 c0 c0", "df ff ff ff ff c0 c0 c0",
					    "db ff ff ff ff 61 62 63", "c6 ff ff ff ff 00 00 00"};
	const int rounds = 20000;
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t n;
		uint8_t *p = codec_lit_hex(cases[i], &n);
		double t0 = codec_cases_now_s();
		for (int k = 0; k < rounds; k++)
			check_lying(p, n);
		double dt = codec_cases_now_s() - t0;
		printf("lying header %s: %d x 5 decoders in %.3f s\n", cases[i], rounds, dt);
		assert_true(dt < 2.0);
		free(p);
	}
}

/* d nested one-element containers around a nil: arrays (0x91) or maps (0x81 0xa0). */
static uint8_t *nested(unsigned d, bool maps, size_t *n)
{
	return gen("", d, maps ? "81 a0" : "91", n);
}

static uint8_t *nested_nil(unsigned d, bool maps, size_t *n)
{
	size_t k;
	uint8_t *p = nested(d, maps, &k);
	p[k] = 0xc0; /* gen leaves one spare byte */
	*n = k + 1;
	uint8_t *e = codec_lit_dup(p, *n);
	free(p);
	return e;
}

/* Depth as mp.c counts it: the number of nested non-empty containers. A scalar is depth
 * 0, [nil] depth 1; max_depth is clamped to MP_MAX_DEPTH. */
static void test_codec_validate_depth(void **state)
{
	size_t n, used;
	uint8_t *p;
	struct mp_doc doc;
	(void)state;
	for (int maps = 0; maps < 2; maps++) {
		p = nested_nil(MP_MAX_DEPTH, maps, &n);
		assert_int_equal(mp_validate(p, n, MP_MAX_DEPTH, &used), 0);
		assert_int_equal(used, n);
		assert_int_equal(mp_doc_init(&doc, p, n), 0);
		const msgpack_object *o = doc.root;
		for (unsigned i = 0; i < MP_MAX_DEPTH; i++) {
			assert_int_equal(o->type, maps ? MSGPACK_OBJECT_MAP : MSGPACK_OBJECT_ARRAY);
			assert_int_equal(obj_size(o), 1);
			o = maps ? &o->via.map.ptr[0].val : &o->via.array.ptr[0];
		}
		assert_int_equal(o->type, MSGPACK_OBJECT_NIL);
		mp_doc_close(&doc);
		free(p);

		p = nested_nil(MP_MAX_DEPTH + 1, maps, &n);
		assert_int_equal(mp_validate(p, n, MP_MAX_DEPTH, &used), BERTH_EBADREQ);
		assert_int_equal(mp_doc_init(&doc, p, n), BERTH_EBADREQ);
		free(p);
	}
	/* Both edges for every max_depth, and the clamp above MP_MAX_DEPTH. */
	static const unsigned over[] = {MP_MAX_DEPTH + 1, 100, UINT32_MAX};
	for (unsigned md = 0; md <= MP_MAX_DEPTH + ARRAY_LEN(over); md++) {
		unsigned arg = md <= MP_MAX_DEPTH ? md : over[md - MP_MAX_DEPTH - 1];
		unsigned eff = md <= MP_MAX_DEPTH ? md : MP_MAX_DEPTH;
		p = nested_nil(eff, false, &n);
		assert_int_equal(mp_validate(p, n, arg, &used), 0);
		assert_int_equal(used, n);
		free(p);
		p = nested_nil(eff + 1, false, &n);
		assert_int_equal(mp_validate(p, n, arg, &used), BERTH_EBADREQ);
		free(p);
	}
	/* Coming back up: two siblings each MP_MAX_DEPTH deep, then a scalar. */
	size_t k;
	uint8_t *deep = nested_nil(MP_MAX_DEPTH - 1, false, &k);
	uint8_t *two = malloc(2 * k + 2);
	assert_non_null(two);
	two[0] = 0x93;
	memcpy(two + 1, deep, k);
	memcpy(two + 1 + k, deep, k);
	two[1 + 2 * k] = 0x05;
	assert_int_equal(mp_validate(two, 2 * k + 2, MP_MAX_DEPTH, &used), 0);
	assert_int_equal(used, 2 * k + 2);
	free(two);
	free(deep);
	/* Through a decoder: {T: 7, junk: <d arrays>} is d + 1 deep. */
	for (unsigned d = MP_MAX_DEPTH - 1; d <= MP_MAX_DEPTH; d++) {
		struct mp_buf b;
		struct msg_cmd c;
		p = nested_nil(d, false, &k);
		mp_buf_init(&b);
		msgpack_pack_map(&b.pk, 2);
		mp_pack_kv_u64(&b.pk, "T", MSG_CMD_TICK);
		mp_pack_cstr(&b.pk, "junk");
		mp_buf_append(&b, p, k);
		free(p);
		p = codec_lit_finish(&b, &n);
		if (d < MP_MAX_DEPTH) {
			assert_int_equal(msg_cmd_decode(p, n, &c), 0);
			assert_int_equal(c.type, MSG_CMD_TICK);
			msg_cmd_free(&c);
		} else {
			assert_int_equal(msg_cmd_decode(p, n, &c), BERTH_EBADREQ);
		}
		free(p);
	}
}

/* The same bound must hold when the innermost container is empty: [[]] is as deep as
 * [[nil]]. mp_validate checks the depth only when a container has children, so an empty
 * one may sit one level below max_depth. */
static void test_codec_validate_depth_empty_container(void **state)
{
	uint8_t deep[MP_MAX_DEPTH + 1];
	static const uint8_t two[] = {0x91, 0x90}; /* [[]] */
	static const uint8_t map0[] = {0x80};      /* {} */
	size_t used = 0;
	(void)state;
	memset(deep, 0x91, MP_MAX_DEPTH); /* 16 one-element arrays ... */
	deep[MP_MAX_DEPTH] = 0x90;        /* ... around []: 17 levels */
	assert_int_equal(mp_validate(deep, sizeof(deep), MP_MAX_DEPTH, &used), BERTH_EBADREQ);
	/* max_depth 1 refuses [[nil]] but takes [[]]; max_depth 0 refuses [nil] but takes {}. */
	assert_int_equal(mp_validate(two, sizeof(two), 1, &used), BERTH_EBADREQ);
	assert_int_equal(mp_validate(map0, sizeof(map0), 0, &used), BERTH_EBADREQ);
}

/* ---- mp_doc_init: padding ---------------------------------------------------------------- */

static void test_codec_doc_padding(void **state)
{
	static const uint8_t obj[] = {0x93, 0x01, 0xa1, 0x61, 0xc4, 0x01, 0xff};
	struct mp_doc doc;
	uint8_t buf[sizeof(obj) + 8];
	(void)state;
	for (size_t pad = 0; pad <= 8; pad++) {
		memcpy(buf, obj, sizeof(obj));
		memset(buf + sizeof(obj), 0, pad);
		uint8_t *d = codec_lit_dup(buf, sizeof(obj) + pad);
		int rv = mp_doc_init(&doc, d, sizeof(obj) + pad);
		if (pad == 8) {
			assert_int_equal(rv, BERTH_EBADREQ);
		} else {
			assert_int_equal(rv, 0);
			assert_int_equal(doc.root->type, MSGPACK_OBJECT_ARRAY);
			assert_int_equal(doc.root->via.array.size, 3);
			assert_int_equal(doc.root->via.array.ptr[0].via.u64, 1);
			/* Strings and binaries borrow from the input. */
			assert_ptr_equal(doc.root->via.array.ptr[1].via.str.ptr, (char *)d + 3);
			assert_ptr_equal(doc.root->via.array.ptr[2].via.bin.ptr, (char *)d + 6);
			mp_doc_close(&doc);
		}
		/* Any non-zero byte anywhere in the padding. */
		for (size_t at = 0; at < pad; at++) {
			static const uint8_t nz[] = {0x01, 0x80, 0xc0, 0xff};
			for (size_t v = 0; v < ARRAY_LEN(nz); v++) {
				d[sizeof(obj) + at] = nz[v];
				assert_int_equal(mp_doc_init(&doc, d, sizeof(obj) + pad),
						 BERTH_EBADREQ);
				d[sizeof(obj) + at] = 0;
			}
		}
		free(d);
	}
	/* A zero scalar followed by zeros: the object is the first byte. */
	uint8_t zeros[9] = {0};
	for (size_t n = 1; n <= 9; n++) {
		uint8_t *d = codec_lit_dup(zeros, n);
		int rv = mp_doc_init(&doc, d, n);
		assert_int_equal(rv, n <= 8 ? 0 : BERTH_EBADREQ);
		if (rv == 0) {
			assert_int_equal(doc.root->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
			mp_doc_close(&doc);
		}
		free(d);
	}
	assert_int_equal(mp_doc_init(&doc, zeros, 0), BERTH_EBADREQ);
	/* The three decoders, on a command, a request and a reply with 0..8 zero bytes. */
	static const char *const msgs[] = {"{T: 7, ts: 5}", "{T: 10, id: 5}", "{rev: 5}"};
	for (int which = 0; which < 3; which++) {
		for (size_t pad = 0; pad <= 8; pad++) {
			size_t n;
			uint8_t *p = codec_lit_pack(msgs[which], &n);
			uint8_t *d = calloc(1, n + pad);
			assert_non_null(d);
			memcpy(d, p, n);
			struct msg_cmd c;
			struct msg_req r;
			struct reply rp;
			int want = pad < 8 ? 0 : BERTH_EBADREQ;
			if (which == 0) {
				assert_int_equal(msg_cmd_decode(d, n + pad, &c), want);
				assert_int_equal(c.time_ms, pad < 8 ? 5 : c.time_ms);
				msg_cmd_free(&c);
			} else if (which == 1) {
				assert_int_equal(msg_req_decode(d, n + pad, &r), want);
				assert_int_equal(r.id, pad < 8 ? 5 : r.id);
				msg_req_free(&r);
			} else {
				assert_int_equal(reply_decode(d, n + pad, &rp), want);
				assert_int_equal(rp.rev, pad < 8 ? 5 : rp.rev);
				reply_free(&rp);
			}
			free(d);
			free(p);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_validate_every_type),
		cmocka_unit_test(test_codec_validate_ext_rejected),
		cmocka_unit_test(test_codec_validate_truncated),
		cmocka_unit_test(test_codec_validate_lying_counts),
		cmocka_unit_test(test_codec_validate_lying_counts_fast),
		cmocka_unit_test(test_codec_validate_depth),
		cmocka_unit_test(test_codec_validate_depth_empty_container),
		cmocka_unit_test(test_codec_doc_padding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
