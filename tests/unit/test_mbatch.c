/* tests/unit/test_mbatch.c: batch log entries (common/mbatch.h) and their application
 * (fsm_apply_entry): each command its own revision and reply under one index, the same
 * state as the commands in entries of their own, a skipped entry answering nothing, and
 * every damaged framing answered deterministically without a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/mbatch.h"
#include "common/reply.h"
#include "store/fsm.h"
#include "tests/unit/support.h"

#include <stdio.h>
#include <string.h>

#define N 5

/* A batch of N puts k0..k4 = v0..v4 in b. */
static void batch_puts(struct mp_buf *b, struct msg_op ops[N], char keys[N][8], char vals[N][8])
{
	mbatch_begin(b);
	for (unsigned i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%u", i);
		snprintf(vals[i], sizeof(vals[i]), "v%u", i);
		ops[i] = op_put(keys[i], vals[i]);
		struct msg_cmd c = cmd_txn(NULL, 0, &ops[i], 1, NULL, 0);
		mbatch_add(b, &c);
	}
	mbatch_end(b, N);
	assert_int_equal(mp_buf_error(b), 0);
}

/* Applies buf as the entry at index in its own LMDB batch. */
static int apply_entry(struct tfsm *t, uint64_t index, const uint8_t *buf, size_t n,
		       struct mp_buf *out, size_t ends[MBATCH_MAX], unsigned *nends)
{
	assert_int_equal(fsm_batch_begin(&t->f), 0);
	int rv = fsm_apply_entry(&t->f, index, buf, n, out, ends, nends);
	assert_int_equal(rv, 0);
	assert_int_equal(fsm_batch_commit(&t->f), 0);
	return rv;
}

static void test_mbatch_roundtrip(void **state)
{
	(void)state;
	struct mp_buf b, one;
	struct msg_op ops[N];
	char keys[N][8], vals[N][8];
	mp_buf_init(&b);
	batch_puts(&b, ops, keys, vals);
	assert_true(mbatch_is(b.data, b.len));
	struct mbatch_iter it;
	struct bytes cmd;
	assert_int_equal(mbatch_open(b.data, b.len, &it), 0);
	assert_int_equal(it.count, N);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(mbatch_next(&it, &cmd), 0);
		/* Each element is exactly what msg_cmd_encode writes for that command. */
		struct msg_cmd c = cmd_txn(NULL, 0, &ops[i], 1, NULL, 0);
		mp_buf_init(&one);
		msg_cmd_encode(&one, &c);
		assert_int_equal(cmd.n, one.len);
		assert_memory_equal(cmd.p, one.data, one.len);
		mp_buf_close(&one);
	}
	assert_int_equal(mbatch_next(&it, &cmd), 1);
	/* A single command entry is a map: not a batch. */
	struct msg_cmd c = cmd_txn(NULL, 0, &ops[0], 1, NULL, 0);
	mp_buf_init(&one);
	msg_cmd_encode(&one, &c);
	assert_false(mbatch_is(one.data, one.len));
	mp_buf_close(&one);
	mp_buf_close(&b);
}

static void test_mbatch_apply(void **state)
{
	(void)state;
	struct tfsm t, u;
	struct mp_buf b, out;
	struct msg_op ops[N];
	char keys[N][8], vals[N][8];
	static size_t ends[MBATCH_MAX];
	unsigned nends;
	tfsm_open(&t, NULL);
	tfsm_open(&u, NULL);
	mp_buf_init(&b);
	mp_buf_init(&out);
	batch_puts(&b, ops, keys, vals);

	apply_entry(&t, 1, b.data, b.len, &out, ends, &nends);
	assert_int_equal(nends, N);
	assert_int_equal(fsm_applied(&t.f), 1);
	size_t start = 0;
	for (unsigned i = 0; i < N; i++) {
		struct reply r;
		assert_int_equal(reply_decode(out.data + start, ends[i] - start, &r), 0);
		assert_int_equal(r.err, 0);
		assert_true(r.succeeded);
		assert_int_equal(r.rev, i + 1); /* a revision per command */
		reply_free(&r);
		start = ends[i];
		assert_string_equal(t_get(&t, keys[i]), vals[i]);
	}
	assert_int_equal(start, out.len);

	/* The same commands one entry each: the same revisions and values. */
	for (unsigned i = 0; i < N; i++)
		t_put(&u, keys[i], vals[i]);
	for (unsigned i = 0; i < N; i++)
		assert_string_equal(t_get(&u, keys[i]), t_get(&t, keys[i]));
	assert_int_equal(u.f.m.rev, t.f.m.rev);

	/* Applied again at the same index (a restart's replay): skipped, no reply. */
	mp_buf_reset(&out);
	apply_entry(&t, 1, b.data, b.len, &out, ends, &nends);
	assert_int_equal(nends, 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(t.f.m.rev, N);
	mp_buf_close(&b);
	mp_buf_close(&out);
	tfsm_close(&t);
	tfsm_close(&u);
}

/* Each damage answers: the elements before it, then one error result; nothing crashes. */
static void test_mbatch_damaged(void **state)
{
	(void)state;
	struct mp_buf b, out;
	struct msg_op ops[N];
	char keys[N][8], vals[N][8];
	static size_t ends[MBATCH_MAX];
	static uint8_t bad[4096];
	unsigned nends;
	mp_buf_init(&b);
	mp_buf_init(&out);
	batch_puts(&b, ops, keys, vals);
	size_t first = 5 + 5 +
		       ((size_t)b.data[6] << 24 | (size_t)b.data[7] << 16 | (size_t)b.data[8] << 8 |
			b.data[9]); /* end of element 0 */
	assert_true(b.len <= sizeof(bad));
	struct {
		const char *what;
		size_t at;  /* byte to change, or SIZE_MAX */
		uint8_t to; /* its new value */
		size_t len; /* bytes of the entry kept */
		unsigned good;
	} cases[] = {
		{"count 0", 4, 0, b.len, 0},
		{"count past MBATCH_MAX", 2, 0x10, b.len, 0},
		{"count past the bytes", 4, 200, b.len, 0},
		{"first element not bin32", 5, 0xc4, b.len, 0},
		{"first element too long", 6, 0x7f, b.len, 0},
		{"second element not bin32", first, 0x90, b.len, 1},
		{"cut inside the second element", SIZE_MAX, 0, first + 7, 1},
		{"cut after the first element", SIZE_MAX, 0, first, 1},
		{"header only", SIZE_MAX, 0, 5, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tfsm t;
		tfsm_open(&t, NULL);
		memcpy(bad, b.data, b.len);
		if (cases[i].at != SIZE_MAX)
			bad[cases[i].at] = cases[i].to;
		mp_buf_reset(&out);
		apply_entry(&t, 7, bad, cases[i].len, &out, ends, &nends);
		if (nends != cases[i].good + 1)
			fail_msg("%s: %u replies", cases[i].what, nends);
		assert_int_equal(fsm_applied(&t.f), 7); /* the entry counts as applied */
		struct reply r;
		size_t start = nends > 1 ? ends[nends - 2] : 0;
		assert_int_equal(reply_decode(out.data + start, ends[nends - 1] - start, &r), 0);
		assert_int_equal(r.err, BERTH_EBADREQ);
		reply_free(&r);
		assert_int_equal(t.f.m.rev, cases[i].good);
		tfsm_close(&t);
	}
	mp_buf_close(&b);
	mp_buf_close(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mbatch_roundtrip),
		cmocka_unit_test(test_mbatch_apply),
		cmocka_unit_test(test_mbatch_damaged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
