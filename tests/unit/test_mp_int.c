/* tests/unit/test_mp_int.c: msgpack integers (common/mp.c): the shortest encoding of every
 * width and boundary, agreement with msgpack-c, non-shortest forms accepted, everything
 * else refused, and random round trips.
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
#include "tests/unit/codec_cases.h"
#include "tests/unit/codec_lit.h"

#include <stdlib.h>

/* ---- integers -------------------------------------------------------------------------- */

struct int_case {
	int64_t v;
	const char *hex;
};

static const struct int_case int_cases[] = {
	{0, "00"},
	{1, "01"},
	{127, "7f"},
	{128, "cc 80"},
	{255, "cc ff"},
	{256, "cd 01 00"},
	{INT16_MAX, "cd 7f ff"},
	{65535, "cd ff ff"},
	{65536, "ce 00 01 00 00"},
	{INT32_MAX, "ce 7f ff ff ff"},
	{UINT32_MAX, "ce ff ff ff ff"},
	{(int64_t)UINT32_MAX + 1, "cf 00 00 00 01 00 00 00 00"},
	{INT64_MAX, "cf 7f ff ff ff ff ff ff ff"},
	{-1, "ff"},
	{-32, "e0"},
	{-33, "d0 df"},
	{INT8_MIN, "d0 80"},
	{INT8_MIN - 1, "d1 ff 7f"},
	{INT16_MIN, "d1 80 00"},
	{INT16_MIN - 1, "d2 ff ff 7f ff"},
	{INT32_MIN, "d2 80 00 00 00"},
	{(int64_t)INT32_MIN - 1, "d3 ff ff ff ff 7f ff ff ff"},
	{INT64_MIN, "d3 80 00 00 00 00 00 00 00"},
};

static void test_codec_int_boundaries(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(int_cases); i++) {
		size_t n;
		uint8_t out[9];
		int64_t v = 0x5a5a;
		uint8_t *want = codec_lit_hex(int_cases[i].hex, &n);
		assert_int_equal(mp_int_encode(int_cases[i].v, out), n);
		assert_memory_equal(out, want, n);
		assert_int_equal(mp_value_int(want, n, &v), 0);
		assert_true(v == int_cases[i].v);
		/* The same bytes as msgpack-c's own packer, and valid msgpack. */
		struct mp_buf b;
		mp_buf_init(&b);
		msgpack_pack_int64(&b.pk, int_cases[i].v);
		assert_int_equal(b.len, n);
		assert_memory_equal(b.data, want, n);
		mp_buf_close(&b);
		size_t used;
		assert_int_equal(mp_validate(want, n, 0, &used), 0);
		assert_int_equal(used, n);
		free(want);
	}
}

static void test_codec_int_non_shortest_accepted(void **state)
{
	static const struct int_case cases[] = {
		{5, "cc 05"},
		{5, "cd 00 05"},
		{5, "ce 00 00 00 05"},
		{5, "cf 00 00 00 00 00 00 00 05"},
		{5, "d0 05"},
		{-1, "d0 ff"},
		{-1, "d1 ff ff"},
		{-1, "d2 ff ff ff ff"},
		{-1, "d3 ff ff ff ff ff ff ff ff"},
		{127, "d0 7f"},
		{-32768, "d3 ff ff ff ff ff ff 80 00"},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t n;
		int64_t v = 0;
		uint8_t *p = codec_lit_hex(cases[i].hex, &n);
		assert_int_equal(mp_value_int(p, n, &v), 0);
		assert_true(v == cases[i].v);
		free(p);
	}
}

static void test_codec_int_rejects(void **state)
{
	static const char *const bad[] = {
		"c0",
		"c2",
		"c3",
		"c1",
		"ca 00 00 00 00",
		"cb 00 00 00 00 00 00 00 00",
		"a1 31",
		"a0",
		"c4 01 05",
		"90",
		"91 01",
		"80",
		"d4 00 01",
		"cf 80 00 00 00 00 00 00 00", /* INT64_MAX + 1 */
		"cf ff ff ff ff ff ff ff ff", /* UINT64_MAX */
		"01 00",
		"7f 7f",
		"cc 05 00",
		"d0 ff ff",
		"d3 00 00 00 00 00 00 00 00 00", /* trailing */
		"cc",
		"cd 01",
		"ce 00 00 00",
		"cf 00",
		"d0",
		"d1 00",
		"d2 00 00",
		"d3 00 00", /* short */
	};
	(void)state;
	int64_t v = 77;
	uint8_t one = 0;
	assert_int_equal(mp_value_int(&one, 0, &v), BERTH_ETYPE);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		size_t n;
		uint8_t *p = codec_lit_hex(bad[i], &n);
		assert_int_equal(mp_value_int(p, n, &v), BERTH_ETYPE);
		free(p);
	}
	assert_int_equal(v, 77); /* never written on failure */
}

/* Random values of every width: encode, compare with msgpack-c, decode. */
static void test_codec_int_random_round_trip(void **state)
{
	uint64_t s = 12345;
	(void)state;
	for (int i = 0; i < 100000; i++) {
		uint64_t r = codec_cases_rng_next(&s);
		int64_t v = (int64_t)(r >> (r & 63));
		if (i & 1)
			v = ~v; /* -v - 1, without overflow at INT64_MIN */
		uint8_t out[9];
		size_t n = mp_int_encode(v, out);
		struct mp_buf b;
		mp_buf_init(&b);
		msgpack_pack_int64(&b.pk, v);
		assert_int_equal(b.len, n);
		assert_memory_equal(b.data, out, n);
		mp_buf_close(&b);
		int64_t back;
		uint8_t *d = codec_lit_dup(out, n);
		assert_int_equal(mp_value_int(d, n, &back), 0);
		assert_true(back == v);
		free(d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_int_boundaries),
		cmocka_unit_test(test_codec_int_non_shortest_accepted),
		cmocka_unit_test(test_codec_int_rejects),
		cmocka_unit_test(test_codec_int_random_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
