/* tests/unit/test_fsm_ops.c: put, get, delete and recreate, add, and the atomicity of
 * transactions (store/fsm.c, store/txn.c, store/mvcc.c), with exact revisions, versions and
 * error codes. */
#include "tests/unit/fsm_check.h"

#include "common/err.h"

/* ==== 1. put and get ==== */

static void test_fsm_put_get_versions(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct msg_op op;
	tfsm_open(t, NULL);
	assert_int_equal(fsm_revision(&t->f), 0);
	assert_int_equal(fsm_applied(&t->f), 0);
	CHECK_MISSING(t, B("a"), 0);

	op = op_put("a", "1");
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 1);
	assert_true(r.succeeded);
	assert_int_equal(r.nops, 1);
	assert_int_equal(r.ops[0].type, MSG_OP_PUT);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), 1);
	assert_int_equal(fsm_applied(&t->f), 1);
	CHECK_GET(t, B("a"), 0, B("1"), 1, 1, 1);

	fsm_check_put_ok(t, B("b"), B("x"));
	CHECK_GET(t, B("b"), 0, B("x"), 2, 2, 1);
	CHECK_GET(t, B("a"), 0, B("1"), 1, 1, 1);

	fsm_check_put_ok(t, B("a"), B("2"));
	CHECK_GET(t, B("a"), 0, B("2"), 1, 3, 2);
	/* The same value again is still a write. */
	fsm_check_put_ok(t, B("a"), B("2"));
	CHECK_GET(t, B("a"), 0, B("2"), 1, 4, 3);
	/* An empty value is a value. */
	fsm_check_put_ok(t, B("e"), B(""));
	CHECK_GET(t, B("e"), 0, B(""), 5, 5, 1);
	assert_int_equal(fsm_applied(&t->f), 5);

	/* A read-only transaction through the log: applied, but no new revision. */
	op = op_get("a");
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 5);
	assert_true(r.succeeded);
	assert_int_equal(r.ops[0].count, 1);
	assert_int_equal(r.ops[0].nkvs, 1);
	CHECK_KV(&r.ops[0].kvs[0], B("a"), B("2"), 1, 4, 3);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), 5);
	assert_int_equal(fsm_applied(&t->f), 6);

	/* A delete of a missing key changes nothing. */
	op = op_del("zz");
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 5);
	assert_int_equal(r.nops, 1);
	assert_int_equal(r.ops[0].type, MSG_OP_DEL);
	assert_int_equal(r.ops[0].deleted, 0);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), 5);

	/* A failed compare with an empty failure branch changes nothing. */
	struct msg_compare c = cmp_num(MSG_CMP_VERSION, "a", MSG_EQ, 99);
	op = op_put("a", "3");
	fsm_check_run(t, &c, 1, &op, 1, NULL, 0, &r);
	assert_int_equal(r.err, 0);
	assert_false(r.succeeded);
	assert_int_equal(r.nops, 0);
	assert_int_equal(r.rev, 5);
	reply_free(&r);

	/* Neither does an empty transaction. */
	fsm_check_run(t, NULL, 0, NULL, 0, NULL, 0, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	assert_int_equal(r.nops, 0);
	assert_int_equal(r.rev, 5);
	reply_free(&r);

	assert_int_equal(fsm_revision(&t->f), 5);
	assert_int_equal(fsm_applied(&t->f), 9);
	CHECK_GET(t, B("a"), 0, B("2"), 1, 4, 3);
	CHECK_MISSING(t, B("c"), 0);
	/* Keys near an existing one are other keys. */
	CHECK_MISSING(t, LIT("a\0"), 0);
	CHECK_MISSING(t, B("A"), 0);

	/* The next change takes exactly the next revision. */
	fsm_check_put_ok(t, B("c"), B("3"));
	CHECK_GET(t, B("c"), 0, B("3"), 6, 6, 1);
	fsm_check_close(t);
}

/* ==== 2. delete and recreate ==== */

static void test_fsm_delete_recreate(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct msg_op op;
	tfsm_open(t, NULL);
	fsm_check_put_ok(t, B("k"), B("v1"));
	fsm_check_put_ok(t, B("k"), B("v2"));
	CHECK_GET(t, B("k"), 0, B("v2"), 1, 2, 2);

	op = op_del("k");
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 3);
	assert_int_equal(r.nops, 1);
	assert_int_equal(r.ops[0].type, MSG_OP_DEL);
	assert_int_equal(r.ops[0].deleted, 1);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), 3);
	CHECK_MISSING(t, B("k"), 0);

	/* Deleting it again: nothing to delete, no revision. */
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 3);
	assert_int_equal(r.ops[0].deleted, 0);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), 3);

	/* Recreated: a new life, version 1, created now. */
	fsm_check_put_ok(t, B("k"), B("v3"));
	CHECK_GET(t, B("k"), 0, B("v3"), 4, 4, 1);
	fsm_check_put_ok(t, B("k"), B("v4"));
	CHECK_GET(t, B("k"), 0, B("v4"), 4, 5, 2);
	/* The old life is still in history. */
	CHECK_GET(t, B("k"), 2, B("v2"), 1, 2, 2);
	CHECK_MISSING(t, B("k"), 3);
	CHECK_GET(t, B("k"), 4, B("v3"), 4, 4, 1);
	fsm_check_close(t);
}

/* ==== 3. add ==== */

static void test_fsm_add_integers(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct msg_op op;
	uint8_t b[9];
	tfsm_open(t, NULL);

	/* A missing key starts at 0. */
	op = op_add("c", 5);
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 1);
	assert_int_equal(r.nops, 1);
	assert_int_equal(r.ops[0].type, MSG_OP_ADD);
	assert_int_equal(r.ops[0].value, 5);
	reply_free(&r);
	CHECK_GET(t, B("c"), 0, LIT("\x05"), 1, 1, 1);

	/* Negative delta, through zero. */
	op = op_add("c", -8);
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 2);
	assert_int_equal(r.ops[0].value, -3);
	reply_free(&r);
	CHECK_GET(t, B("c"), 0, LIT("\xfd"), 1, 2, 2);

	op = op_add("c", -1000);
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.ops[0].value, -1003);
	reply_free(&r);
	CHECK_GET(t, B("c"), 0, LIT("\xd1\xfc\x15"), 1, 3, 3);

	/* On a value put by a client as a msgpack integer. */
	fsm_check_put_ok(t, B("n"), fsm_check_int(1000, b)); /* rev 4 */
	op = op_add("n", 24);
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 5);
	assert_int_equal(r.ops[0].value, 1024);
	reply_free(&r);
	CHECK_GET(t, B("n"), 0, LIT("\xcd\x04\x00"), 4, 5, 2);

	/* A longer-than-needed encoding is read, and the result is written shortest. */
	fsm_check_put_ok(t, B("w"), LIT("\xcc\x05")); /* rev 6 */
	op = op_add("w", 1);
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.ops[0].value, 6);
	reply_free(&r);
	CHECK_GET(t, B("w"), 0, LIT("\x06"), 6, 7, 2);

	/* Delta 0 still writes. */
	op = op_add("w", 0);
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 8);
	assert_int_equal(r.ops[0].value, 6);
	reply_free(&r);
	CHECK_GET(t, B("w"), 0, LIT("\x06"), 6, 8, 3);

	/* The result is an integer for `int` compares. */
	struct msg_compare c = cmp_num(MSG_CMP_INT, "c", MSG_EQ, -1003);
	struct msg_op get = op_get("c");
	fsm_check_read_txn(t, &c, 1, &get, 1, NULL, 0, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), 8);
	fsm_check_close(t);
}

static void test_fsm_add_overflow(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct msg_op op;
	struct fsm_check_state s;
	uint8_t b[9];
	tfsm_open(t, NULL);
	fsm_check_put_ok(t, B("big"), fsm_check_int(INT64_MAX - 1, b));
	fsm_check_put_ok(t, B("small"), fsm_check_int(INT64_MIN + 1, b));

	op = op_add("big", 1);
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 3);
	assert_int_equal(r.ops[0].value, INT64_MAX);
	reply_free(&r);
	CHECK_GET(t, B("big"), 0, LIT("\xcf\x7f\xff\xff\xff\xff\xff\xff\xff"), 1, 3, 2);

	/* INT64_MAX + 1 */
	fsm_check_state_take(t, &s);
	fsm_check_run_ops(t, &op, 1, &r);
	CHECK_ERR(&r, BERTH_EOVERFLOW, 3);
	CHECK_UNCHANGED(t, &s);
	CHECK_GET(t, B("big"), 0, LIT("\xcf\x7f\xff\xff\xff\xff\xff\xff\xff"), 1, 3, 2);

	op = op_add("small", -1);
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 4);
	assert_int_equal(r.ops[0].value, INT64_MIN);
	reply_free(&r);
	CHECK_GET(t, B("small"), 0, LIT("\xd3\x80\x00\x00\x00\x00\x00\x00\x00"), 2, 4, 2);
	/* INT64_MIN - 1 */
	fsm_check_state_take(t, &s);
	fsm_check_run_ops(t, &op, 1, &r);
	CHECK_ERR(&r, BERTH_EOVERFLOW, 4);
	CHECK_UNCHANGED(t, &s);

	/* A missing key reads 0: adding INT64_MAX fits, INT64_MIN too. */
	op = op_add("fresh", INT64_MAX);
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.ops[0].value, INT64_MAX);
	reply_free(&r);
	op = op_add("fresh2", INT64_MIN);
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 6);
	assert_int_equal(r.ops[0].value, INT64_MIN);
	reply_free(&r);
	/* INT64_MIN + INT64_MIN */
	fsm_check_state_take(t, &s);
	fsm_check_run_ops(t, &op, 1, &r);
	CHECK_ERR(&r, BERTH_EOVERFLOW, 6);
	CHECK_UNCHANGED(t, &s);
	fsm_check_close(t);
}

static void test_fsm_add_non_integer_rejects_txn(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct fsm_check_state s;
	uint8_t b[9];
	static const uint8_t huge[9] = {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t dbl[9] = {0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}; /* 1.0 */
	size_t n = mp_int_encode(5, b);
	tfsm_open(t, NULL);
	fsm_check_put_ok(t, B("s"), B("hello"));
	fsm_check_put_ok(t, B("e"), B(""));
	fsm_check_put_ok(t, B("huge"), fsm_check_bytes(huge, sizeof(huge)));
	fsm_check_put_ok(t, B("dbl"), fsm_check_bytes(dbl, sizeof(dbl)));
	b[n] = 0;
	fsm_check_put_ok(t, B("trail"), fsm_check_bytes(b, n + 1)); /* 5 followed by a zero byte */
	fsm_check_put_ok(t, B("p"), B("0"));
	const char *bad[] = {"s", "e", "huge", "dbl", "trail"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* Alone. */
		struct msg_op op = op_add(bad[i], 1);
		fsm_check_state_take(t, &s);
		fsm_check_run_ops(t, &op, 1, &r);
		CHECK_ERR(&r, BERTH_ETYPE, 6);
		CHECK_UNCHANGED(t, &s);
		/* After a put in the same transaction: the put is undone too. */
		struct msg_op ops[3] = {op_put("p", "1"), op_put("q", "1"), op_add(bad[i], 1)};
		fsm_check_state_take(t, &s);
		fsm_check_run_ops(t, ops, 3, &r);
		CHECK_ERR(&r, BERTH_ETYPE, 6);
		CHECK_UNCHANGED(t, &s);
	}
	CHECK_GET(t, B("s"), 0, B("hello"), 1, 1, 1);
	CHECK_GET(t, B("p"), 0, B("0"), 6, 6, 1);
	CHECK_MISSING(t, B("q"), 0);
	/* The next change takes revision 7: nothing was used up. */
	fsm_check_put_ok(t, B("p"), B("1"));
	CHECK_GET(t, B("p"), 0, B("1"), 6, 7, 2);
	fsm_check_close(t);
}

/* ==== 4. transaction atomicity ==== */

static void test_fsm_txn_type_error_applies_nothing(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct fsm_check_state s;
	tfsm_open(t, NULL);
	fsm_check_put_ok(t, B("a"), B("0"));
	fsm_check_put_ok(t, B("c"), B("not a number"));
	struct msg_op ops[4] = {op_put("a", "1"), op_put("b", "1"), op_del("a2"), op_add("c", 1)};
	fsm_check_state_take(t, &s);
	fsm_check_run_ops(t, ops, 4, &r);
	CHECK_ERR(&r, BERTH_ETYPE, 2);
	CHECK_UNCHANGED(t, &s);
	assert_int_equal(fsm_applied(&t->f), 3);
	CHECK_GET(t, B("a"), 0, B("0"), 1, 1, 1);
	CHECK_MISSING(t, B("b"), 0);
	fsm_check_close(t);
}

static void test_fsm_txn_dupkey(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct fsm_check_state s;
	uint8_t b[9];
	tfsm_open(t, NULL);
	fsm_check_put_ok(t, B("x"), B("0"));
	fsm_check_put_ok(t, B("n"), fsm_check_int(1, b));
	fsm_check_put_ok(t, B("a"), B("0"));
	struct msg_op cases[][4] = {
		{op_put("x", "1"), op_put("x", "2")},
		{op_put("x", "1"), op_del("x")},
		{op_put("x", "1"), fsm_check_prefix(MSG_OP_DEL, B("x"))},
		{op_put("x", "1"), fsm_check_span(MSG_OP_DEL, B("w"), B("y"))},
		{op_put("x", "1"), fsm_check_span(MSG_OP_DEL, B("w"), LIT("\0"))},
		{op_del("x"), op_put("x", "1")},
		{op_add("n", 1), op_add("n", 1)},
		{op_put("n", "1"), op_add("n", 1)},
		{op_put("y", "1"), op_put("y", "2")}, /* a key created in this txn */
		{op_put("y", "1"), op_get("y"), op_del("y")},
		{op_put("b", "1"), op_put("c", "1"), op_put("x", "1"),
		 fsm_check_all_keys(MSG_OP_DEL)},
		{fsm_check_all_keys(MSG_OP_DEL), op_put("a", "1")},
	};
	static const uint32_t counts[] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 4, 2};
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		fsm_check_state_take(t, &s);
		fsm_check_run_ops(t, cases[i], counts[i], &r);
		CHECK_ERR(&r, BERTH_EDUPKEY, 3);
		CHECK_UNCHANGED(t, &s);
	}
	CHECK_GET(t, B("x"), 0, B("0"), 1, 1, 1);

	/* Not a second change: a delete of a missing key changes nothing. */
	struct msg_op ok[2] = {op_del("y"), op_put("y", "1")};
	fsm_check_run_ops(t, ok, 2, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 4);
	assert_int_equal(r.ops[0].deleted, 0);
	reply_free(&r);
	CHECK_GET(t, B("y"), 0, B("1"), 4, 4, 1);
	/* Neither is a read. */
	struct msg_op ok2[3] = {op_get("x"), op_put("x", "1"), op_get("x")};
	fsm_check_run_ops(t, ok2, 3, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 5);
	assert_int_equal(r.nops, 3);
	CHECK_KV(&r.ops[0].kvs[0], B("x"), B("0"), 1, 1, 1);
	CHECK_KV(&r.ops[2].kvs[0], B("x"), B("1"), 1, 5, 2);
	reply_free(&r);
	fsm_check_close(t);
}

static void test_fsm_txn_one_revision(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	uint8_t b[9];
	tfsm_open(t, NULL);
	fsm_check_put_ok(t, B("c"), B("1"));
	fsm_check_put_ok(t, B("d"), fsm_check_int(10, b));
	assert_int_equal(fsm_check_revs_at(t, 1), 1);
	assert_int_equal(fsm_check_revs_at(t, 2), 1);

	struct msg_op ops[5] = {op_put("a", "AA"), op_put("b", "BB"), op_del("c"), op_add("d", 5),
				op_get("a")};
	fsm_check_run_ops(t, ops, 5, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 3);
	assert_true(r.succeeded);
	assert_int_equal(r.nops, 5);
	assert_int_equal(r.ops[0].type, MSG_OP_PUT);
	assert_int_equal(r.ops[1].type, MSG_OP_PUT);
	assert_int_equal(r.ops[2].type, MSG_OP_DEL);
	assert_int_equal(r.ops[2].deleted, 1);
	assert_int_equal(r.ops[3].type, MSG_OP_ADD);
	assert_int_equal(r.ops[3].value, 15);
	/* Later ops see earlier writes of the same transaction. */
	assert_int_equal(r.ops[4].nkvs, 1);
	CHECK_KV(&r.ops[4].kvs[0], B("a"), B("AA"), 3, 3, 1);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), 3);

	CHECK_GET(t, B("a"), 0, B("AA"), 3, 3, 1);
	CHECK_GET(t, B("b"), 0, B("BB"), 3, 3, 1);
	CHECK_GET(t, B("d"), 0, fsm_check_int(15, b), 2, 3, 2);
	CHECK_MISSING(t, B("c"), 0);
	CHECK_MISSING(t, B("c"), 3);
	CHECK_GET(t, B("c"), 2, B("1"), 1, 1, 1);
	CHECK_MISSING(t, B("a"), 2);
	/* Four changes, all at revision 3, numbered 0..3 in the revision log. */
	assert_int_equal(fsm_check_revs_at(t, 3), 4);
	assert_int_equal(fsm_check_revs_at(t, 4), 0);

	/* A rejected transaction leaves no entries; the next one starts at sub 0. */
	struct msg_op bad[3] = {op_put("e", "1"), op_put("f", "1"), op_add("a", 1)};
	fsm_check_run_ops(t, bad, 3, &r);
	CHECK_ERR(&r, BERTH_ETYPE, 3);
	assert_int_equal(fsm_check_revs_at(t, 4), 0);
	struct msg_op two[2] = {op_put("e", "1"), op_put("f", "1")};
	fsm_check_run_ops(t, two, 2, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 4);
	reply_free(&r);
	assert_int_equal(fsm_check_revs_at(t, 4), 2);
	fsm_check_close(t);
}

/* A transaction with a single write and a read after it: the read fails, so the whole
 * transaction must be rejected, including the write. */
static void test_fsm_txn_write_then_failing_read(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct fsm_check_state s;
	tfsm_open(t, NULL);
	fsm_check_put_ok(t, B("x"), B("1"));
	fsm_check_put_ok(t, B("y"), B("1"));

	struct msg_op ops[2] = {op_put("x", "2"), fsm_check_get_at(B("x"), 99)};
	fsm_check_state_take(t, &s);
	fsm_check_run_ops(t, ops, 2, &r);
	CHECK_ERR(&r, BERTH_EFUTUREREV, 2);
	CHECK_UNCHANGED(t, &s);
	CHECK_GET(t, B("x"), 0, B("1"), 1, 1, 1);

	struct msg_op dels[2] = {op_del("y"), fsm_check_get_at(B("y"), 99)};
	fsm_check_state_take(t, &s);
	fsm_check_run_ops(t, dels, 2, &r);
	CHECK_ERR(&r, BERTH_EFUTUREREV, 2);
	CHECK_UNCHANGED(t, &s);
	CHECK_GET(t, B("y"), 0, B("1"), 2, 2, 1);

	/* The next write takes revision 3 and works. */
	fsm_check_put_ok(t, B("x"), B("3"));
	CHECK_GET(t, B("x"), 0, B("3"), 1, 3, 2);
	fsm_check_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fsm_put_get_versions, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_delete_recreate, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_add_integers, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_add_overflow, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_add_non_integer_rejects_txn,
						fsm_check_setup, fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_txn_type_error_applies_nothing,
						fsm_check_setup, fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_txn_dupkey, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_txn_one_revision, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_txn_write_then_failing_read,
						fsm_check_setup, fsm_check_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
