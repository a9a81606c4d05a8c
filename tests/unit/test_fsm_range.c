/* tests/unit/test_fsm_range.c: ranges, prefixes, limits and flags, delete ranges and
 * reads at past revisions (store/txn.c, store/mvcc.c), with the exact keys, counts and records. */
#include "tests/unit/fsm_check.h"

#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==== 1. ranges ==== */

/* Twelve keys, spelled out in bytewise order; range_setup puts them in a scrambled order,
 * key i with value "v<i>" at revision 1 + the position of i in range_order. */
static const struct bytes range_keys[] = {
	/* 0 "\0", 1 "\0\1", 2 a, 3 "a\0", 4 ab, 5 abc, 6 b, 7 "b\xff", 8 "b\xff\xff", 9 c,
	 * 10 "\xff", 11 "\xff\xff" */
	LITI("\x00"),      LITI("\x00\x01"), LITI("a"),    LITI("a\x00"),
	LITI("ab"),        LITI("abc"),      LITI("b"),    LITI("b\xff"),
	LITI("b\xff\xff"), LITI("c"),        LITI("\xff"), LITI("\xff\xff"),
};
static const size_t range_order[] = {9, 4, 11, 0, 7, 2, 10, 5, 1, 8, 3, 6};
#define NRANGE 12

static void range_setup(struct tfsm *t)
{
	char v[8];
	for (size_t i = 1; i < NRANGE; i++)
		assert_true(fsm_check_bytes_cmp(range_keys[i - 1], range_keys[i]) < 0);
	for (size_t i = 0; i < NRANGE; i++) {
		size_t k = range_order[i];
		snprintf(v, sizeof(v), "v%zu", k);
		fsm_check_put_ok(t, range_keys[k], B(v));
	}
	assert_int_equal(fsm_revision(&t->f), 12);
}

/* Keys [from, to) of range_keys. */
#define SK(from, to) (range_keys + (from)), ((to) - (from))

static void test_fsm_range_all_keys_in_order(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	char v[8];
	tfsm_open(t, NULL);
	range_setup(t);
	/* Every key, in bytewise order, with its record. */
	struct msg_op op = fsm_check_all_keys(MSG_OP_RANGE);
	fsm_check_read_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 12);
	assert_int_equal(r.ops[0].count, 12);
	assert_false(r.ops[0].more);
	assert_int_equal(r.ops[0].nkvs, 12);
	for (size_t i = 0; i < NRANGE; i++) {
		size_t k = i, pos = 0;
		while (range_order[pos] != k)
			pos++;
		snprintf(v, sizeof(v), "v%zu", k);
		CHECK_KV(&r.ops[0].kvs[i], range_keys[i], B(v), (int64_t)pos + 1, (int64_t)pos + 1,
			 1);
	}
	reply_free(&r);
	/* The same through the log. */
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 12);
	fsm_check_keys_at(__FILE__, __LINE__, &r.ops[0], range_keys, NRANGE);
	assert_int_equal(r.ops[0].count, 12);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), 12);
	fsm_check_close(t);
}

static void test_fsm_range_prefix(void **state)
{
	struct tfsm *t = *state;
	tfsm_open(t, NULL);
	range_setup(t);
	/* range_keys: 0 "\0", 1 "\0\1", 2 a, 3 "a\0", 4 ab, 5 abc, 6 b, 7 "b\xff",
	 * 8 "b\xff\xff", 9 c, 10 "\xff", 11 "\xff\xff" */
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, B("a")), SK(2, 6), 4, false);
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, B("ab")), SK(4, 6), 2, false);
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, B("abc")), SK(5, 6), 1, false);
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, B("abcd")), SK(0, 0), 0, false);
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, LIT("a\0")), SK(3, 4), 1, false);
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, B("b")), SK(6, 9), 3, false);
	/* Prefixes ending in 0xff bytes. */
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, LIT("b\xff")), SK(7, 9), 2, false);
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, LIT("b\xff\xff")), SK(8, 9), 1, false);
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, LIT("\xff")), SK(10, 12), 2, false);
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, LIT("\xff\xff")), SK(11, 12), 1, false);
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, LIT("\xff\xff\xff")), SK(0, 0), 0, false);
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, LIT("\0")), SK(0, 2), 2, false);
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, B("zz")), SK(0, 0), 0, false);
	CHECK_RANGE(t, fsm_check_all_keys(MSG_OP_RANGE), SK(0, 12), 12, false);
	fsm_check_close(t);
}

/* The empty prefix is every key (txn.c: "no bound when the prefix is empty"). */
static void test_fsm_range_empty_prefix(void **state)
{
	struct tfsm *t = *state;
	struct msg_op op;
	tfsm_open(t, NULL);
	range_setup(t);
	/* At a past revision: the keys put first (range_order 9, 4, 11, 0, 7, 2). */
	const struct bytes at6[] = {range_keys[0], range_keys[2], range_keys[4],
				    range_keys[7], range_keys[9], range_keys[11]};
	op = fsm_check_prefix(MSG_OP_RANGE, B(""));
	op.rev = 6;
	CHECK_RANGE(t, op, at6, 6, 6, false);
	/* Now. */
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, B("")), SK(0, 12), 12, false);
	op = fsm_check_prefix(MSG_OP_RANGE, B(""));
	op.limit = 2;
	CHECK_RANGE(t, op, SK(0, 2), 12, true);
	op.limit = 0;
	op.flags |= MSG_F_COUNT_ONLY;
	CHECK_RANGE(t, op, SK(0, 0), 12, false);
	fsm_check_close(t);
}

/* The same through the log, and as a delete. */
static void test_fsm_delete_empty_prefix(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct msg_op op;
	tfsm_open(t, NULL);
	range_setup(t);
	op = fsm_check_prefix(MSG_OP_RANGE, B(""));
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 12);
	assert_int_equal(r.ops[0].count, 12);
	fsm_check_keys_at(__FILE__, __LINE__, &r.ops[0], SK(0, 12));
	reply_free(&r);
	op = fsm_check_prefix(MSG_OP_DEL, B(""));
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 13);
	assert_int_equal(r.ops[0].deleted, 12);
	reply_free(&r);
	CHECK_RANGE(t, fsm_check_all_keys(MSG_OP_RANGE), SK(0, 0), 0, false);
	fsm_check_close(t);
}

static void test_fsm_range_interval(void **state)
{
	struct tfsm *t = *state;
	tfsm_open(t, NULL);
	range_setup(t);
	/* Start inclusive, end exclusive. */
	CHECK_RANGE(t, fsm_check_span(MSG_OP_RANGE, B("a"), B("b")), SK(2, 6), 4, false);
	CHECK_RANGE(t, fsm_check_span(MSG_OP_RANGE, B("a"), B("c")), SK(2, 9), 7, false);
	CHECK_RANGE(t, fsm_check_span(MSG_OP_RANGE, B("ab"), B("abc")), SK(4, 5), 1, false);
	/* Keys that are prefixes of each other. */
	CHECK_RANGE(t, fsm_check_span(MSG_OP_RANGE, B("a"), LIT("a\0")), SK(2, 3), 1, false);
	CHECK_RANGE(t, fsm_check_span(MSG_OP_RANGE, LIT("a\0"), B("ab")), SK(3, 4), 1, false);
	CHECK_RANGE(t, fsm_check_span(MSG_OP_RANGE, LIT("a\0\0"), B("ab")), SK(0, 0), 0, false);
	CHECK_RANGE(t, fsm_check_span(MSG_OP_RANGE, B("aa"), B("abd")), SK(4, 6), 2, false);
	/* An end of one zero byte means "to the last key". */
	CHECK_RANGE(t, fsm_check_span(MSG_OP_RANGE, B("b"), LIT("\0")), SK(6, 12), 6, false);
	CHECK_RANGE(t, fsm_check_span(MSG_OP_RANGE, LIT("\0"), LIT("\0")), SK(0, 12), 12, false);
	CHECK_RANGE(t, fsm_check_span(MSG_OP_RANGE, LIT("\xff\xff"), LIT("\0")), SK(11, 12), 1,
		    false);
	CHECK_RANGE(t, fsm_check_span(MSG_OP_RANGE, LIT("\xff\xff\0"), LIT("\0")), SK(0, 0), 0,
		    false);
	/* Two zero bytes are an ordinary end. */
	CHECK_RANGE(t, fsm_check_span(MSG_OP_RANGE, LIT("\0"), LIT("\0\0")), SK(0, 1), 1, false);
	CHECK_RANGE(t, fsm_check_span(MSG_OP_RANGE, LIT("\0\x01"), B("a")), SK(1, 2), 1, false);
	/* Binary bounds. */
	CHECK_RANGE(t, fsm_check_span(MSG_OP_RANGE, LIT("b\xff\xff"), LIT("c\0")), SK(8, 10), 2,
		    false);
	CHECK_RANGE(t, fsm_check_span(MSG_OP_RANGE, B("c"), LIT("\xff\xff")), SK(9, 11), 2, false);
	CHECK_RANGE(t, fsm_check_span(MSG_OP_RANGE, LIT("\x01"), LIT("\xfe")), SK(2, 10), 8, false);
	/* Empty intervals. */
	CHECK_RANGE(t, fsm_check_span(MSG_OP_RANGE, B("b"), B("b")), SK(0, 0), 0, false);
	CHECK_RANGE(t, fsm_check_span(MSG_OP_RANGE, B("c"), B("a")), SK(0, 0), 0, false);
	CHECK_RANGE(t, fsm_check_span(MSG_OP_RANGE, B("d"), LIT("\xff")), SK(0, 0), 0, false);
	fsm_check_close(t);
}

static void test_fsm_range_limit_keys_count_only(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct msg_op op;
	tfsm_open(t, NULL);
	range_setup(t);

	/* Limit: the first keys, more = true, count = every match. */
	op = fsm_check_all_keys(MSG_OP_RANGE);
	op.limit = 3;
	CHECK_RANGE(t, op, SK(0, 3), 12, true);
	op.limit = 1;
	CHECK_RANGE(t, op, SK(0, 1), 12, true);
	op.limit = 11;
	CHECK_RANGE(t, op, SK(0, 11), 12, true);
	op.limit = 12;
	CHECK_RANGE(t, op, SK(0, 12), 12, false);
	op.limit = 13;
	CHECK_RANGE(t, op, SK(0, 12), 12, false);
	op = fsm_check_span(MSG_OP_RANGE, B("b"), LIT("\0"));
	op.limit = 2;
	CHECK_RANGE(t, op, SK(6, 8), 6, true);
	op = op_get("a");
	op.limit = 1;
	CHECK_RANGE(t, op, SK(2, 3), 1, false);

	/* Keys only: no values, the rest of the record stays. */
	op = fsm_check_prefix(MSG_OP_RANGE, B("a"));
	op.flags |= MSG_F_KEYS_ONLY;
	fsm_check_read_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.ops[0].count, 4);
	fsm_check_keys_at(__FILE__, __LINE__, &r.ops[0], SK(2, 6));
	for (size_t i = 0; i < 4; i++) {
		assert_null(r.ops[0].kvs[i].value.p);
		assert_int_equal(r.ops[0].kvs[i].value.n, 0);
		assert_int_equal(r.ops[0].kvs[i].version, 1);
	}
	/* "a" is range_keys[2], put 6th: revision 6. */
	assert_int_equal(r.ops[0].kvs[0].create_rev, 6);
	assert_int_equal(r.ops[0].kvs[0].mod_rev, 6);
	reply_free(&r);
	op = op_get("a");
	op.flags = MSG_F_KEYS_ONLY;
	fsm_check_read_ops(t, &op, 1, &r);
	assert_int_equal(r.ops[0].nkvs, 1);
	assert_null(r.ops[0].kvs[0].value.p);
	assert_int_equal(r.ops[0].kvs[0].mod_rev, 6);
	reply_free(&r);
	/* Without the flag the value is there. */
	op.flags = 0;
	fsm_check_read_ops(t, &op, 1, &r);
	assert_int_equal(r.ops[0].nkvs, 1);
	CHECK_KV(&r.ops[0].kvs[0], B("a"), B("v2"), 6, 6, 1);
	reply_free(&r);

	/* Count only: no records, the count right, never "more". */
	op = fsm_check_all_keys(MSG_OP_RANGE);
	op.flags |= MSG_F_COUNT_ONLY;
	CHECK_RANGE(t, op, SK(0, 0), 12, false);
	op.limit = 3;
	CHECK_RANGE(t, op, SK(0, 0), 12, false);
	op = fsm_check_span(MSG_OP_RANGE, B("a"), B("b"));
	op.flags = MSG_F_COUNT_ONLY;
	CHECK_RANGE(t, op, SK(0, 0), 4, false);
	op = op_get("abc");
	op.flags = MSG_F_COUNT_ONLY;
	CHECK_RANGE(t, op, SK(0, 0), 1, false);
	op = op_get("nokey");
	op.flags = MSG_F_COUNT_ONLY;
	CHECK_RANGE(t, op, SK(0, 0), 0, false);
	op = fsm_check_prefix(MSG_OP_RANGE, B("zz"));
	op.flags |= MSG_F_COUNT_ONLY;
	CHECK_RANGE(t, op, SK(0, 0), 0, false);
	fsm_check_close(t);
}

static void test_fsm_range_result_bytes_limit(void **state)
{
	struct tfsm *t = *state;
	struct fsm_config cfg;
	char v[201];
	fsm_check_config(&cfg);
	cfg.max_result_bytes = 1024;
	tfsm_open(t, &cfg);
	memset(v, 'v', 200);
	v[200] = 0;
	struct bytes keys[10];
	char names[10][2];
	for (int i = 0; i < 10; i++) {
		names[i][0] = 'k';
		names[i][1] = (char)('0' + i);
		keys[i] = fsm_check_bytes(names[i], 2);
		fsm_check_put_ok(t, keys[i], B(v));
	}
	/* 2 + 200 + 48 bytes each: four fit in 1024, the fifth would not. */
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, B("k")), keys, 4, 10, true);
	/* One record larger than the bound still comes back alone. */
	char *big = malloc(2000);
	assert_non_null(big);
	memset(big, 'b', 2000);
	fsm_check_put_ok(t, B("big"), fsm_check_bytes(big, 2000));
	CHECK_GET(t, B("big"), 0, fsm_check_bytes(big, 2000), 11, 11, 1);
	free(big);
	fsm_check_close(t);
}

/* ==== 2. delete ranges ==== */

static void test_fsm_delete_range(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct msg_op op;
	tfsm_open(t, NULL);
	range_setup(t);

	/* By prefix: a, a\0, ab, abc. */
	op = fsm_check_prefix(MSG_OP_DEL, B("a"));
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 13);
	assert_int_equal(r.ops[0].type, MSG_OP_DEL);
	assert_int_equal(r.ops[0].deleted, 4);
	reply_free(&r);
	assert_int_equal(fsm_check_revs_at(t, 13), 4);
	{
		struct bytes left[8] = {range_keys[0], range_keys[1]};
		memcpy(left + 2, range_keys + 6, 6 * sizeof(struct bytes));
		CHECK_RANGE(t, fsm_check_all_keys(MSG_OP_RANGE), left, 8, 8, false);
	}
	CHECK_MISSING(t, B("a"), 0);
	CHECK_MISSING(t, B("abc"), 0);
	CHECK_GET(t, B("ab"), 12, B("v4"), 2, 2, 1);

	/* [b, c): b, b\xff, b\xff\xff. */
	op = fsm_check_span(MSG_OP_DEL, B("b"), B("c"));
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 14);
	assert_int_equal(r.ops[0].deleted, 3);
	reply_free(&r);
	CHECK_RANGE(t, fsm_check_span(MSG_OP_RANGE, B("b"), LIT("\0")), SK(9, 12), 3, false);

	/* [c, end): c, \xff, \xff\xff. */
	op = fsm_check_span(MSG_OP_DEL, B("c"), LIT("\0"));
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 15);
	assert_int_equal(r.ops[0].deleted, 3);
	reply_free(&r);
	CHECK_RANGE(t, fsm_check_all_keys(MSG_OP_RANGE), SK(0, 2), 2, false);

	/* Nothing matched: no revision. */
	op = fsm_check_prefix(MSG_OP_DEL, B("zz"));
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 15);
	assert_int_equal(r.ops[0].deleted, 0);
	reply_free(&r);
	op = fsm_check_span(MSG_OP_DEL, B("a"), B("c"));
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.rev, 15);
	assert_int_equal(r.ops[0].deleted, 0);
	reply_free(&r);

	/* [\0, \0\0): only "\0". */
	op = fsm_check_span(MSG_OP_DEL, LIT("\0"), LIT("\0\0"));
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.rev, 16);
	assert_int_equal(r.ops[0].deleted, 1);
	reply_free(&r);
	/* The empty prefix: everything left. */
	op = fsm_check_all_keys(MSG_OP_DEL);
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.rev, 17);
	assert_int_equal(r.ops[0].deleted, 1);
	reply_free(&r);
	CHECK_RANGE(t, fsm_check_all_keys(MSG_OP_RANGE), SK(0, 0), 0, false);
	assert_int_equal(fsm_revision(&t->f), 17);

	/* History has them all. */
	struct msg_op past = fsm_check_all_keys(MSG_OP_RANGE);
	past.rev = 12;
	CHECK_RANGE(t, past, SK(0, 12), 12, false);
	past.rev = 15;
	CHECK_RANGE(t, past, SK(0, 2), 2, false);
	past.rev = 16;
	CHECK_RANGE(t, past, SK(1, 2), 1, false);

	/* Recreated keys start over. */
	fsm_check_put_ok(t, B("ab"), B("new"));
	CHECK_GET(t, B("ab"), 0, B("new"), 18, 18, 1);
	fsm_check_close(t);
}

/* ==== 3. reads at past revisions ==== */

static void test_fsm_past_revisions(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct fsm_check_state s;
	struct msg_op op;
	tfsm_open(t, NULL);
	fsm_check_put_ok(t, B("a"), B("1")); /* 1 */
	fsm_check_put_ok(t, B("b"), B("1")); /* 2 */
	fsm_check_put_ok(t, B("a"), B("2")); /* 3 */
	t_del(t, "b");                       /* 4 */
	fsm_check_put_ok(t, B("c"), B("1")); /* 5 */
	fsm_check_put_ok(t, B("b"), B("2")); /* 6 */
	assert_int_equal(fsm_revision(&t->f), 6);

	CHECK_GET(t, B("a"), 1, B("1"), 1, 1, 1);
	CHECK_GET(t, B("a"), 2, B("1"), 1, 1, 1);
	CHECK_GET(t, B("a"), 3, B("2"), 1, 3, 2);
	CHECK_GET(t, B("a"), 6, B("2"), 1, 3, 2);
	CHECK_MISSING(t, B("b"), 1);
	CHECK_GET(t, B("b"), 2, B("1"), 2, 2, 1);
	CHECK_GET(t, B("b"), 3, B("1"), 2, 2, 1);
	CHECK_MISSING(t, B("b"), 4);
	CHECK_MISSING(t, B("b"), 5);
	CHECK_GET(t, B("b"), 6, B("2"), 6, 6, 1);
	CHECK_MISSING(t, B("c"), 4);
	CHECK_GET(t, B("c"), 5, B("1"), 5, 5, 1);
	CHECK_MISSING(t, B("zz"), 3);

	static const struct bytes a = LITI("a"), b = LITI("b"), c = LITI("c");
	struct bytes at1[] = {a}, at2[] = {a, b}, at5[] = {a, c}, at6[] = {a, b, c};
	op = fsm_check_all_keys(MSG_OP_RANGE);
	op.rev = 1;
	CHECK_RANGE(t, op, at1, 1, 1, false);
	op.rev = 2;
	CHECK_RANGE(t, op, at2, 2, 2, false);
	op.rev = 3;
	fsm_check_read_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 6);
	assert_int_equal(r.ops[0].nkvs, 2);
	CHECK_KV(&r.ops[0].kvs[0], a, B("2"), 1, 3, 2);
	CHECK_KV(&r.ops[0].kvs[1], b, B("1"), 2, 2, 1);
	reply_free(&r);
	op.rev = 4;
	CHECK_RANGE(t, op, at1, 1, 1, false);
	op.rev = 5;
	CHECK_RANGE(t, op, at5, 2, 2, false);
	op.rev = 6;
	CHECK_RANGE(t, op, at6, 3, 3, false);
	op = fsm_check_span(MSG_OP_RANGE, B("b"), LIT("\0"));
	op.rev = 3;
	CHECK_RANGE(t, op, at2 + 1, 1, 1, false);
	/* With limit, keys-only and count-only. */
	op = fsm_check_all_keys(MSG_OP_RANGE);
	op.rev = 5;
	op.limit = 1;
	CHECK_RANGE(t, op, at5, 1, 2, true);
	op.limit = 0;
	op.flags |= MSG_F_COUNT_ONLY;
	op.rev = 2;
	CHECK_RANGE(t, op, at1, 0, 2, false);
	op.flags = MSG_F_KEYS_ONLY;
	op.rev = 3;
	fsm_check_read_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.nops, 1);
	assert_int_equal(r.ops[0].nkvs, 2);
	assert_null(r.ops[0].kvs[0].value.p);
	assert_int_equal(r.ops[0].kvs[0].mod_rev, 3);
	reply_free(&r);

	/* A revision after the current one. */
	op = fsm_check_get_at(B("a"), 7);
	fsm_check_read_ops(t, &op, 1, &r);
	CHECK_ERR(&r, BERTH_EFUTUREREV, 6);
	op = fsm_check_all_keys(MSG_OP_RANGE);
	op.rev = UINT64_MAX;
	fsm_check_read_ops(t, &op, 1, &r);
	CHECK_ERR(&r, BERTH_EFUTUREREV, 6);
	fsm_check_state_take(t, &s);
	op = fsm_check_get_at(B("a"), 7);
	fsm_check_run_ops(t, &op, 1, &r);
	CHECK_ERR(&r, BERTH_EFUTUREREV, 6);
	CHECK_UNCHANGED(t, &s);

	/* The current revision is a valid one. */
	CHECK_GET(t, B("b"), 6, B("2"), 6, 6, 1);
	op = fsm_check_all_keys(MSG_OP_RANGE);
	op.rev = 6;
	CHECK_RANGE(t, op, at6, 3, 3, false);

	/* Past reads inside a writing transaction. */
	struct msg_op ops[2] = {op_put("d", "1"), fsm_check_get_at(B("a"), 1)};
	fsm_check_run_ops(t, ops, 2, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 7);
	assert_int_equal(r.ops[1].nkvs, 1);
	CHECK_KV(&r.ops[1].kvs[0], a, B("1"), 1, 1, 1);
	reply_free(&r);
	CHECK_GET(t, B("a"), 7, B("2"), 1, 3, 2);
	fsm_check_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fsm_range_all_keys_in_order, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_range_prefix, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_range_empty_prefix, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_delete_empty_prefix, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_range_interval, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_range_limit_keys_count_only,
						fsm_check_setup, fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_range_result_bytes_limit, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_delete_range, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_past_revisions, fsm_check_setup,
						fsm_check_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
