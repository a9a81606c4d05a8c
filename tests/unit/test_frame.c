/* tests/unit/test_frame.c: the length-prefixed frame reader and header encoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/frame.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FRAME 4096

/* A byte stream of frames under construction. */
struct stream {
	uint8_t *data;
	size_t len;
	size_t cap;
};

static void stream_add(struct stream *s, const void *payload, size_t len)
{
	uint8_t hdr[FRAME_HEADER_BYTES];

	assert_int_equal(frame_encode_header(len, SIZE_MAX, hdr), 0);
	if (s->len + sizeof(hdr) + len > s->cap) {
		s->cap = (s->len + sizeof(hdr) + len) * 2;
		s->data = realloc(s->data, s->cap);
		assert_non_null(s->data);
	}
	memcpy(s->data + s->len, hdr, sizeof(hdr));
	memcpy(s->data + s->len + sizeof(hdr), payload, len);
	s->len += sizeof(hdr) + len;
}

/* Payload i of a test: length len, bytes derived from i so frames differ. */
static void fill(uint8_t *p, size_t len, unsigned i)
{
	for (size_t k = 0; k < len; k++)
		p[k] = (uint8_t)(i * 31 + k * 7 + 1);
}

/* Feeds all of data (any chunking the caller chose), collecting frames into *out. */
struct got {
	uint8_t *data; /* concatenated payloads */
	size_t len;
	size_t *lens;
	size_t count;
};

static void got_add(struct got *g, const uint8_t *p, size_t len)
{
	g->data = realloc(g->data, g->len + len);
	g->lens = realloc(g->lens, (g->count + 1) * sizeof(*g->lens));
	assert_non_null(g->data);
	assert_non_null(g->lens);
	memcpy(g->data + g->len, p, len);
	g->len += len;
	g->lens[g->count++] = len;
}

static void got_free(struct got *g)
{
	free(g->data);
	free(g->lens);
	memset(g, 0, sizeof(*g));
}

/* Feeds one chunk until it is all consumed, taking every frame it completes. */
static void feed_chunk(struct frame_reader *r, const uint8_t *p, size_t n, struct got *g)
{
	const uint8_t *payload;
	size_t len, used;
	int rv;

	do {
		assert_int_equal(frame_reader_feed(r, p, n, &used), 0);
		assert_true(used <= n);
		p += used;
		n -= used;
		while ((rv = frame_reader_next(r, &payload, &len)) == 0)
			got_add(g, payload, len);
		assert_int_equal(rv, BERTH_ENOTFOUND);
	} while (n > 0);
}

static void test_frame_one(void **state)
{
	struct frame_reader r;
	const uint8_t in[] = {0, 0, 0, 3, 'a', 'b', 'c'};
	const uint8_t *payload = NULL;
	size_t len = 0, used = 0;

	(void)state;
	assert_int_equal(frame_reader_init(&r, MAX_FRAME), 0);
	assert_int_equal(frame_reader_next(&r, &payload, &len), BERTH_ENOTFOUND);
	assert_int_equal(frame_reader_feed(&r, in, sizeof(in), &used), 0);
	assert_int_equal(used, sizeof(in));
	assert_int_equal(frame_reader_buffered(&r), sizeof(in));
	assert_int_equal(frame_reader_next(&r, &payload, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(payload, "abc", 3);
	/* Taken: the next call releases it and reports that more bytes are needed. */
	assert_int_equal(frame_reader_next(&r, &payload, &len), BERTH_ENOTFOUND);
	assert_int_equal(frame_reader_buffered(&r), 0);
	frame_reader_close(&r);
}

static void test_frame_many_in_one_feed(void **state)
{
	struct frame_reader r;
	struct stream s = {0};
	struct got g = {0};
	uint8_t buf[100];
	size_t cap_after_first = 0;

	(void)state;
	assert_int_equal(frame_reader_init(&r, MAX_FRAME), 0);
	for (unsigned i = 0; i < 50; i++) {
		fill(buf, 1 + i % 20, i);
		stream_add(&s, buf, 1 + i % 20);
	}

	/* Each feed stops at the end of a frame until that frame is taken. */
	const uint8_t *p = s.data;
	size_t n = s.len, used, len;
	const uint8_t *payload;
	unsigned i = 0;

	while (n > 0) {
		assert_int_equal(frame_reader_feed(&r, p, n, &used), 0);
		assert_int_equal(used, FRAME_HEADER_BYTES + 1 + i % 20);
		/* Not taken yet: a second feed consumes nothing. */
		size_t again;
		if (n > used) {
			assert_int_equal(frame_reader_feed(&r, p + used, n - used, &again), 0);
			assert_int_equal(again, 0);
		}
		p += used;
		n -= used;
		assert_int_equal(frame_reader_next(&r, &payload, &len), 0);
		fill(buf, 1 + i % 20, i);
		assert_int_equal(len, 1 + i % 20);
		assert_memory_equal(payload, buf, len);
		if (i == 0)
			cap_after_first = frame_reader_capacity(&r);
		i++;
	}
	assert_int_equal(i, 50);
	/* The buffer is reused and never grows past the largest frame (20 bytes). */
	assert_true(frame_reader_capacity(&r) <= 20);
	assert_true(cap_after_first >= 1);

	/* The same stream through the generic loop gives the same frames. */
	feed_chunk(&r, s.data, s.len, &g);
	assert_int_equal(g.count, 50);
	for (i = 0; i < 50; i++)
		assert_int_equal(g.lens[i], 1 + i % 20);
	got_free(&g);
	free(s.data);
	frame_reader_close(&r);
}

/* Every payload byte and header byte arrives in its own feed. */
static void test_frame_split_every_byte(void **state)
{
	struct frame_reader r;
	struct stream s = {0};
	struct got g = {0};
	uint8_t buf[300];
	size_t off = 0;

	(void)state;
	assert_int_equal(frame_reader_init(&r, MAX_FRAME), 0);
	for (unsigned i = 0; i < 6; i++) {
		size_t len = i == 5 ? 300 : 1 + i * 3;

		fill(buf, len, i);
		stream_add(&s, buf, len);
	}
	for (size_t k = 0; k < s.len; k++)
		feed_chunk(&r, s.data + k, 1, &g);
	assert_int_equal(g.count, 6);
	for (unsigned i = 0; i < 6; i++) {
		size_t len = i == 5 ? 300 : 1 + i * 3;

		fill(buf, len, i);
		assert_int_equal(g.lens[i], len);
		assert_memory_equal(g.data + off, buf, len);
		off += len;
	}
	got_free(&g);
	free(s.data);
	frame_reader_close(&r);
}

/* A two-frame stream split into two feeds at every position gives the same frames. */
static void test_frame_split_every_position(void **state)
{
	struct stream s = {0};
	uint8_t a[10], b[7];

	(void)state;
	fill(a, sizeof(a), 1);
	fill(b, sizeof(b), 2);
	stream_add(&s, a, sizeof(a));
	stream_add(&s, b, sizeof(b));
	for (size_t cut = 0; cut <= s.len; cut++) {
		struct frame_reader r;
		struct got g = {0};

		assert_int_equal(frame_reader_init(&r, MAX_FRAME), 0);
		feed_chunk(&r, s.data, cut, &g);
		feed_chunk(&r, s.data + cut, s.len - cut, &g);
		assert_int_equal(g.count, 2);
		assert_int_equal(g.lens[0], sizeof(a));
		assert_int_equal(g.lens[1], sizeof(b));
		assert_memory_equal(g.data, a, sizeof(a));
		assert_memory_equal(g.data + sizeof(a), b, sizeof(b));
		assert_int_equal(frame_reader_buffered(&r), 0);
		got_free(&g);
		frame_reader_close(&r);
	}
	free(s.data);
}

static void test_frame_header_split(void **state)
{
	struct frame_reader r;
	const uint8_t *payload;
	size_t len, used;
	/* Length 0x000102 = 258: every header byte matters. */
	uint8_t in[4 + 258];

	(void)state;
	in[0] = 0;
	in[1] = 0;
	in[2] = 1;
	in[3] = 2;
	fill(in + 4, 258, 9);
	assert_int_equal(frame_reader_init(&r, MAX_FRAME), 0);
	assert_int_equal(frame_reader_feed(&r, in, 2, &used), 0);
	assert_int_equal(used, 2);
	assert_int_equal(frame_reader_next(&r, &payload, &len), BERTH_ENOTFOUND);
	assert_int_equal(frame_reader_buffered(&r), 2);
	assert_int_equal(frame_reader_capacity(&r), 0);
	assert_int_equal(frame_reader_feed(&r, in + 2, 1, &used), 0);
	assert_int_equal(frame_reader_next(&r, &payload, &len), BERTH_ENOTFOUND);
	assert_int_equal(frame_reader_feed(&r, in + 3, sizeof(in) - 3, &used), 0);
	assert_int_equal(used, sizeof(in) - 3);
	assert_int_equal(frame_reader_next(&r, &payload, &len), 0);
	assert_int_equal(len, 258);
	assert_memory_equal(payload, in + 4, 258);
	frame_reader_close(&r);
}

static void test_frame_max_size(void **state)
{
	struct frame_reader r;
	const uint8_t *payload;
	size_t len, used;
	uint8_t hdr[4];
	uint8_t *body = malloc(MAX_FRAME);

	(void)state;
	assert_non_null(body);
	fill(body, MAX_FRAME, 3);
	assert_int_equal(frame_reader_init(&r, MAX_FRAME), 0);
	assert_int_equal(frame_encode_header(MAX_FRAME, MAX_FRAME, hdr), 0);
	assert_int_equal(frame_reader_feed(&r, hdr, 4, &used), 0);
	assert_int_equal(frame_reader_feed(&r, body, MAX_FRAME, &used), 0);
	assert_int_equal(used, MAX_FRAME);
	assert_int_equal(frame_reader_next(&r, &payload, &len), 0);
	assert_int_equal(len, MAX_FRAME);
	assert_memory_equal(payload, body, MAX_FRAME);
	assert_int_equal(frame_reader_capacity(&r), MAX_FRAME);

	/* max + 1: the encoder refuses, and a reader given such a header is poisoned. */
	assert_int_equal(frame_encode_header(MAX_FRAME + 1, MAX_FRAME, hdr), BERTH_ETOOLARGE);
	hdr[0] = 0;
	hdr[1] = 0;
	hdr[2] = (MAX_FRAME + 1) >> 8;
	hdr[3] = (MAX_FRAME + 1) & 0xff;
	assert_int_equal(frame_reader_feed(&r, hdr, 4, &used), BERTH_ETOOLARGE);
	assert_int_equal(used, 4);
	assert_int_equal(frame_reader_next(&r, &payload, &len), BERTH_ETOOLARGE);
	frame_reader_close(&r);
	free(body);
}

/* The default limit: a 4 MiB frame passes, one byte more is refused from its header. */
static void test_frame_default_limit(void **state)
{
	struct frame_reader r;
	const uint8_t *payload;
	size_t len, used;
	uint8_t hdr[4];
	uint8_t *body = malloc(FRAME_MAX_DEFAULT);

	(void)state;
	assert_non_null(body);
	assert_int_equal(FRAME_MAX_DEFAULT, 4 * 1024 * 1024);
	fill(body, FRAME_MAX_DEFAULT, 7);
	assert_int_equal(frame_reader_init(&r, FRAME_MAX_DEFAULT), 0);
	assert_int_equal(frame_encode_header(FRAME_MAX_DEFAULT, FRAME_MAX_DEFAULT, hdr), 0);
	assert_int_equal(frame_reader_feed(&r, hdr, 4, &used), 0);
	assert_int_equal(frame_reader_feed(&r, body, FRAME_MAX_DEFAULT, &used), 0);
	assert_int_equal(used, FRAME_MAX_DEFAULT);
	assert_int_equal(frame_reader_next(&r, &payload, &len), 0);
	assert_int_equal(len, FRAME_MAX_DEFAULT);
	assert_memory_equal(payload, body, FRAME_MAX_DEFAULT);
	assert_int_equal(frame_encode_header(FRAME_MAX_DEFAULT + 1, FRAME_MAX_DEFAULT, hdr),
			 BERTH_ETOOLARGE);
	hdr[0] = 0x00;
	hdr[1] = 0x40;
	hdr[2] = 0x00;
	hdr[3] = 0x01; /* 4 MiB + 1 */
	assert_int_equal(frame_reader_feed(&r, hdr, 4, &used), BERTH_ETOOLARGE);
	assert_int_equal(frame_reader_next(&r, &payload, &len), BERTH_ETOOLARGE);
	frame_reader_close(&r);
	free(body);
}

static void test_frame_zero_length(void **state)
{
	struct frame_reader r;
	const uint8_t *payload;
	size_t len, used;
	const uint8_t in[] = {0, 0, 0, 0, 0, 0, 0, 1, 'x'};
	uint8_t hdr[4] = {9, 9, 9, 9};

	(void)state;
	assert_int_equal(frame_encode_header(0, MAX_FRAME, hdr), BERTH_EBADREQ);
	assert_int_equal(hdr[0], 9); /* untouched on error */
	assert_int_equal(frame_reader_init(&r, MAX_FRAME), 0);
	assert_int_equal(frame_reader_feed(&r, in, sizeof(in), &used), BERTH_EBADREQ);
	assert_int_equal(used, 4);
	assert_int_equal(frame_reader_next(&r, &payload, &len), BERTH_EBADREQ);
	assert_int_equal(frame_reader_feed(&r, in + 4, 5, &used), BERTH_EBADREQ);
	assert_int_equal(used, 0);
	frame_reader_close(&r);
}

static void test_frame_poisoned(void **state)
{
	struct frame_reader r;
	const uint8_t *payload = NULL;
	size_t len = 0, used = 99;
	const uint8_t bad[] = {0x7f, 0xff, 0xff, 0xff, 'a'};
	const uint8_t good[] = {0, 0, 0, 1, 'a'};

	(void)state;
	assert_int_equal(frame_reader_init(&r, MAX_FRAME), 0);
	/* Header bytes one at a time: the error appears with the fourth. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(frame_reader_feed(&r, bad + i, 1, &used), 0);
		assert_int_equal(used, 1);
	}
	assert_int_equal(frame_reader_feed(&r, bad + 3, 2, &used), BERTH_ETOOLARGE);
	assert_int_equal(used, 1);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(frame_reader_feed(&r, good, sizeof(good), &used), BERTH_ETOOLARGE);
		assert_int_equal(used, 0);
		assert_int_equal(frame_reader_next(&r, &payload, &len), BERTH_ETOOLARGE);
	}
	assert_null(payload);
	assert_int_equal(frame_reader_capacity(&r), 0);
	frame_reader_close(&r);
}

/* A peer claiming a huge frame and sending a few bytes costs a few bytes. */
static void test_frame_huge_claim_small_buffer(void **state)
{
	struct frame_reader r;
	const uint8_t *payload;
	size_t len, used;
	const size_t max = 4 * 1024 * 1024;
	uint8_t hdr[4];
	uint8_t body[100];

	(void)state;
	fill(body, sizeof(body), 5);
	assert_int_equal(frame_reader_init(&r, max), 0);
	assert_int_equal(frame_encode_header(max, max, hdr), 0);
	assert_int_equal(frame_reader_feed(&r, hdr, 4, &used), 0);
	assert_int_equal(frame_reader_capacity(&r), 0);
	assert_int_equal(frame_reader_feed(&r, body, 1, &used), 0);
	assert_int_equal(used, 1);
	assert_int_equal(frame_reader_buffered(&r), 5);
	assert_true(frame_reader_capacity(&r) >= 1);
	assert_true(frame_reader_capacity(&r) <= 64);
	for (size_t i = 1; i < sizeof(body); i++)
		assert_int_equal(frame_reader_feed(&r, body + i, 1, &used), 0);
	assert_int_equal(frame_reader_buffered(&r), 4 + sizeof(body));
	/* Geometric growth: at most twice what arrived. */
	assert_true(frame_reader_capacity(&r) <= 2 * sizeof(body));
	assert_int_equal(frame_reader_next(&r, &payload, &len), BERTH_ENOTFOUND);
	frame_reader_close(&r);
}

/* After a large frame, a small one gives the memory back down to FRAME_KEEP_BYTES. */
static void test_frame_shrinks_after_big_frame(void **state)
{
	struct frame_reader r;
	struct stream s = {0};
	struct got g = {0};
	const size_t big = 3 * FRAME_KEEP_BYTES;
	uint8_t *body = malloc(big);

	(void)state;
	assert_non_null(body);
	fill(body, big, 1);
	stream_add(&s, body, big);
	assert_int_equal(frame_reader_init(&r, big), 0);
	feed_chunk(&r, s.data, s.len, &g);
	assert_int_equal(g.count, 1);
	assert_int_equal(frame_reader_capacity(&r), big);
	free(s.data);
	memset(&s, 0, sizeof(s));
	stream_add(&s, "hi", 2);
	feed_chunk(&r, s.data, s.len, &g);
	assert_int_equal(g.count, 2);
	assert_int_equal(g.lens[1], 2);
	assert_memory_equal(g.data + big, "hi", 2);
	assert_int_equal(frame_reader_capacity(&r), FRAME_KEEP_BYTES);
	got_free(&g);
	free(s.data);
	free(body);
	frame_reader_close(&r);
}

static void test_frame_init_rejects_bad_max(void **state)
{
	struct frame_reader r;

	(void)state;
	assert_int_equal(frame_reader_init(&r, 0), BERTH_EBADREQ);
	assert_int_equal(frame_reader_init(&r, (size_t)UINT32_MAX + 1), BERTH_EBADREQ);
	assert_int_equal(frame_reader_init(&r, UINT32_MAX), 0);
	frame_reader_close(&r);
}

static void test_frame_encode_header(void **state)
{
	uint8_t hdr[4];

	(void)state;
	assert_int_equal(frame_encode_header(0x01020304, SIZE_MAX, hdr), 0);
	assert_int_equal(hdr[0], 1);
	assert_int_equal(hdr[1], 2);
	assert_int_equal(hdr[2], 3);
	assert_int_equal(hdr[3], 4);
	assert_int_equal(frame_encode_header(UINT32_MAX, SIZE_MAX, hdr), 0);
	assert_int_equal(hdr[0], 0xff);
	assert_int_equal(hdr[3], 0xff);
	assert_int_equal(frame_encode_header((size_t)UINT32_MAX + 1, SIZE_MAX, hdr),
			 BERTH_ETOOLARGE);
}

/* xorshift64*: the same sequence on every libc. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* Many frames of random lengths, fed in random chunks, come out intact and in order.
 * BERTH_TEST_SEED=<n> replays one seed. */
static void test_frame_fuzz_random_splits(void **state)
{
	uint64_t seed = 0x5eed0001;
	const char *env = getenv("BERTH_TEST_SEED");
	int rounds = 20;

	(void)state;
	if (env != NULL) {
		seed = strtoull(env, NULL, 0);
		rounds = 1;
	}
	for (int round = 0; round < rounds; round++, seed++) {
		uint64_t rng = seed * 0x9E3779B97F4A7C15ULL + 1;
		struct frame_reader r;
		struct stream s = {0};
		struct got g = {0};
		size_t *lens;
		unsigned nframes = 200 + (unsigned)(rng_next(&rng) % 300);
		size_t pos = 0, off = 0;
		uint8_t *buf = malloc(MAX_FRAME);

		printf("frame fuzz: seed %" PRIu64 ", %u frames\n", seed, nframes);
		fflush(stdout); /* seen even if the test crashes */
		assert_non_null(buf);
		lens = calloc(nframes, sizeof(*lens));
		assert_non_null(lens);
		for (unsigned i = 0; i < nframes; i++) {
			/* Mostly small, some up to the maximum. */
			lens[i] = rng_next(&rng) % 8 == 0 ? 1 + rng_next(&rng) % MAX_FRAME
							  : 1 + rng_next(&rng) % 64;
			fill(buf, lens[i], i);
			stream_add(&s, buf, lens[i]);
		}
		assert_int_equal(frame_reader_init(&r, MAX_FRAME), 0);
		while (pos < s.len) {
			size_t chunk = rng_next(&rng) % 4 == 0 ? 1 + rng_next(&rng) % 8
							       : 1 + rng_next(&rng) % 9000;

			if (chunk > s.len - pos)
				chunk = s.len - pos;
			feed_chunk(&r, s.data + pos, chunk, &g);
			pos += chunk;
			assert_true(frame_reader_capacity(&r) <= MAX_FRAME);
		}
		assert_int_equal(g.count, nframes);
		for (unsigned i = 0; i < nframes; i++) {
			fill(buf, lens[i], i);
			assert_int_equal(g.lens[i], lens[i]);
			assert_memory_equal(g.data + off, buf, lens[i]);
			off += lens[i];
		}
		assert_int_equal(frame_reader_buffered(&r), 0);
		frame_reader_close(&r);
		got_free(&g);
		free(lens);
		free(buf);
		free(s.data);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_one),
		cmocka_unit_test(test_frame_many_in_one_feed),
		cmocka_unit_test(test_frame_split_every_byte),
		cmocka_unit_test(test_frame_split_every_position),
		cmocka_unit_test(test_frame_header_split),
		cmocka_unit_test(test_frame_max_size),
		cmocka_unit_test(test_frame_default_limit),
		cmocka_unit_test(test_frame_zero_length),
		cmocka_unit_test(test_frame_poisoned),
		cmocka_unit_test(test_frame_huge_claim_small_buffer),
		cmocka_unit_test(test_frame_shrinks_after_big_frame),
		cmocka_unit_test(test_frame_init_rejects_bad_max),
		cmocka_unit_test(test_frame_encode_header),
		cmocka_unit_test(test_frame_fuzz_random_splits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
