/* tests/unit/test_fsm_compare.c: transaction compares (store/txn.c): every target and
 * operator on existing, missing and deleted keys, the ends of int64, and which branch runs. */
#include "tests/unit/fsm_check.h"

#include "common/err.h"

/* ==== 1. compares ==== */

/* Outcome of `have OP num` for have below, equal to and above num. */
static const bool holds_tab[MSG_CMP_OP_COUNT][3] = {
	[MSG_EQ] = {false, true, false}, [MSG_NE] = {true, false, true},
	[MSG_LT] = {true, false, false}, [MSG_LE] = {true, true, false},
	[MSG_GT] = {false, false, true}, [MSG_GE] = {false, true, true},
};

/* State for the compare tests:
 *   other = "x"        rev 1
 *   k     = "mid"      create 2, mod 3, version 2
 *   n     = int 5      rev 4
 *   neg   = int -300   rev 5
 *   e     = ""         rev 6
 *   hi    = "\x80"     rev 7
 *   wide  = int -5 in the 9-byte int64 encoding   rev 8
 *   max   = INT64_MAX  rev 9
 *   min   = INT64_MIN  rev 10 */
static void cmp_setup(struct tfsm *t)
{
	uint8_t b[9];
	static const uint8_t wide[9] = {0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb};
	fsm_check_put_ok(t, B("other"), B("x"));
	fsm_check_put_ok(t, B("k"), B("mid"));
	fsm_check_put_ok(t, B("k"), B("mid"));
	fsm_check_put_ok(t, B("n"), fsm_check_int(5, b));
	fsm_check_put_ok(t, B("neg"), fsm_check_int(-300, b));
	fsm_check_put_ok(t, B("e"), B(""));
	fsm_check_put_ok(t, B("hi"), LIT("\x80"));
	fsm_check_put_ok(t, B("wide"), fsm_check_bytes(wide, sizeof(wide)));
	fsm_check_put_ok(t, B("max"), fsm_check_int(INT64_MAX, b));
	fsm_check_put_ok(t, B("min"), fsm_check_int(INT64_MIN, b));
	assert_int_equal(fsm_revision(&t->f), 10);
}

/* Runs compare c through the log and through fsm_read: the success branch is one get of
 * "k", the failure branch two gets of "other", so the reply shows which one ran. */
#define CHECK_CMP(t, c, want) check_cmp(__FILE__, __LINE__, (t), (c), (want))
static void check_cmp(const char *file, int line, struct tfsm *t, struct msg_compare c, bool want)
{
	struct msg_op succ = op_get("k"), fail[2] = {op_get("other"), op_get("other")};
	uint64_t rev = fsm_revision(&t->f);
	struct reply r;
	for (int via_read = 0; via_read < 2; via_read++) {
		if (via_read)
			fsm_check_read_txn(t, &c, 1, &succ, 1, fail, 2, &r);
		else
			fsm_check_run(t, &c, 1, &succ, 1, fail, 2, &r);
		EQ_AT(r.err, 0, file, line);
		EQ_AT(r.succeeded, want, file, line);
		EQ_AT(r.rev, rev, file, line);
		EQ_AT(r.nops, want ? 1 : 2, file, line);
		for (uint32_t i = 0; i < r.nops; i++) {
			EQ_AT(r.ops[i].nkvs, 1, file, line);
			fsm_check_bytes_eq_at(r.ops[i].kvs[0].key, want ? B("k") : B("other"), file,
					      line);
		}
		reply_free(&r);
		EQ_AT(fsm_revision(&t->f), rev, file, line);
	}
}

static void test_fsm_compare_numeric_existing(void **state)
{
	struct tfsm *t = *state;
	static const struct {
		uint8_t target;
		const char *key;
		int64_t have;
	} rows[] = {
		{MSG_CMP_VERSION, "k", 2},   {MSG_CMP_CREATE, "k", 2},   {MSG_CMP_MOD, "k", 3},
		{MSG_CMP_VERSION, "e", 1},   {MSG_CMP_CREATE, "e", 6},   {MSG_CMP_MOD, "e", 6},
		{MSG_CMP_INT, "n", 5},       {MSG_CMP_INT, "neg", -300}, {MSG_CMP_INT, "wide", -5},
		{MSG_CMP_INT, "other", 120}, /* "x" is one byte 0x78: a positive fixint */
	};
	tfsm_open(t, NULL);
	cmp_setup(t);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		for (uint8_t op = 0; op < MSG_CMP_OP_COUNT; op++)
			for (int j = 0; j < 3; j++) {
				/* j = 0: have below num; 1: equal; 2: above. */
				int64_t num = rows[i].have + 1 - j;
				CHECK_CMP(t, cmp_num(rows[i].target, rows[i].key, op, num),
					  holds_tab[op][j]);
			}
	/* The ends of int64: no overflow in the comparison. */
	CHECK_CMP(t, cmp_num(MSG_CMP_INT, "max", MSG_EQ, INT64_MAX), true);
	CHECK_CMP(t, cmp_num(MSG_CMP_INT, "max", MSG_GT, INT64_MAX - 1), true);
	CHECK_CMP(t, cmp_num(MSG_CMP_INT, "max", MSG_GT, INT64_MIN), true);
	CHECK_CMP(t, cmp_num(MSG_CMP_INT, "max", MSG_LT, INT64_MAX), false);
	CHECK_CMP(t, cmp_num(MSG_CMP_INT, "min", MSG_EQ, INT64_MIN), true);
	CHECK_CMP(t, cmp_num(MSG_CMP_INT, "min", MSG_LT, INT64_MIN + 1), true);
	CHECK_CMP(t, cmp_num(MSG_CMP_INT, "min", MSG_LT, INT64_MAX), true);
	CHECK_CMP(t, cmp_num(MSG_CMP_INT, "min", MSG_GE, INT64_MIN + 1), false);
	CHECK_CMP(t, cmp_num(MSG_CMP_MOD, "k", MSG_GT, INT64_MIN), true);
	CHECK_CMP(t, cmp_num(MSG_CMP_VERSION, "k", MSG_LT, INT64_MAX), true);
	assert_int_equal(fsm_revision(&t->f), 10);
	fsm_check_close(t);
}

static void test_fsm_compare_missing_key(void **state)
{
	struct tfsm *t = *state;
	static const uint8_t targets[] = {MSG_CMP_VERSION, MSG_CMP_CREATE, MSG_CMP_MOD,
					  MSG_CMP_INT};
	tfsm_open(t, NULL);
	cmp_setup(t);
	/* Numeric targets read a missing key as 0. */
	for (size_t i = 0; i < sizeof(targets); i++)
		for (uint8_t op = 0; op < MSG_CMP_OP_COUNT; op++)
			for (int j = 0; j < 3; j++)
				CHECK_CMP(t, cmp_num(targets[i], "nokey", op, 1 - j),
					  holds_tab[op][j]);
	/* A value compare on a missing key never holds, whatever the operator. */
	for (uint8_t op = 0; op < MSG_CMP_OP_COUNT; op++) {
		CHECK_CMP(t, cmp_val("nokey", op, ""), false);
		CHECK_CMP(t, cmp_val("nokey", op, "x"), false);
		CHECK_CMP(t, cmp_val("nokey", op, "\xff"), false);
	}
	/* Nor on a deleted key; its numbers read 0 again. */
	t_del(t, "wide");
	CHECK_CMP(t, cmp_val("wide", MSG_NE, "x"), false);
	CHECK_CMP(t, cmp_val("wide", MSG_GT, ""), false);
	CHECK_CMP(t, cmp_num(MSG_CMP_VERSION, "wide", MSG_EQ, 0), true);
	CHECK_CMP(t, cmp_num(MSG_CMP_MOD, "wide", MSG_EQ, 0), true);
	CHECK_CMP(t, cmp_num(MSG_CMP_CREATE, "wide", MSG_EQ, 0), true);
	CHECK_CMP(t, cmp_num(MSG_CMP_INT, "wide", MSG_EQ, 0), true);
	fsm_check_close(t);
}

static void test_fsm_compare_value(void **state)
{
	struct tfsm *t = *state;
	static const struct {
		const char *key;
		struct bytes value;
		int pos; /* 0: the stored value is below `value`; 1: equal; 2: above */
	} rows[] = {
		{"k", LITI("mie"), 0},   {"k", LITI("mid"), 1},   {"k", LITI("mic"), 2},
		{"k", LITI("mi"), 2},    {"k", LITI("mida"), 0},  {"k", LITI(""), 2},
		{"k", LITI("\xff"), 0},  {"k", LITI("Mid"), 2},   {"k", LITI("mid\0"), 0},
		{"hi", LITI("\x7f"), 2}, /* bytes compare unsigned */
		{"hi", LITI("\x80"), 1}, {"hi", LITI("\x81"), 0}, {"hi", LITI("\x80\x00"), 0},
		{"e", LITI(""), 1},      {"e", LITI("\x00"), 0},  {"e", LITI("a"), 0},
	};
	tfsm_open(t, NULL);
	cmp_setup(t);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		for (uint8_t op = 0; op < MSG_CMP_OP_COUNT; op++) {
			struct msg_compare c = {.target = MSG_CMP_VALUE,
						.op = op,
						.key = B(rows[i].key),
						.value = rows[i].value};
			CHECK_CMP(t, c, holds_tab[op][rows[i].pos]);
		}
	assert_int_equal(fsm_revision(&t->f), 10);
	fsm_check_close(t);
}

static void test_fsm_compare_several(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	tfsm_open(t, NULL);
	cmp_setup(t);
	struct msg_op succ = op_get("k"), fail[2] = {op_get("other"), op_get("other")};
	/* Every compare must hold. */
	struct msg_compare all[3] = {cmp_num(MSG_CMP_VERSION, "k", MSG_EQ, 2),
				     cmp_val("k", MSG_EQ, "mid"),
				     cmp_num(MSG_CMP_INT, "n", MSG_GT, 4)};
	fsm_check_run(t, all, 3, &succ, 1, fail, 2, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	assert_int_equal(r.nops, 1);
	reply_free(&r);
	for (int bad = 0; bad < 3; bad++) {
		struct msg_compare c[3] = {all[0], all[1], all[2]};
		c[bad].op = MSG_LT; /* only this one fails */
		fsm_check_run(t, c, 3, &succ, 1, fail, 2, &r);
		assert_int_equal(r.err, 0);
		assert_false(r.succeeded);
		assert_int_equal(r.nops, 2);
		reply_free(&r);
		fsm_check_read_txn(t, c, 3, &succ, 1, fail, 2, &r);
		assert_int_equal(r.err, 0);
		assert_false(r.succeeded);
		assert_int_equal(r.nops, 2);
		reply_free(&r);
	}
	assert_int_equal(fsm_revision(&t->f), 10);
	fsm_check_close(t);
}

static void test_fsm_compare_int_on_non_integer(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct fsm_check_state s;
	static const char *const keys[] = {"k", "e", "hi"}; /* "mid", "", "\x80" */
	tfsm_open(t, NULL);
	cmp_setup(t);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct msg_compare c = cmp_num(MSG_CMP_INT, keys[i], MSG_EQ, 0);
		struct msg_op succ = op_put("s", "1"), fail = op_put("f", "1");
		fsm_check_state_take(t, &s);
		fsm_check_run(t, &c, 1, &succ, 1, &fail, 1, &r);
		CHECK_ERR(&r, BERTH_ETYPE, 10);
		CHECK_UNCHANGED(t, &s);
		struct msg_op get = op_get("k");
		fsm_check_read_txn(t, &c, 1, &get, 1, NULL, 0, &r);
		CHECK_ERR(&r, BERTH_ETYPE, 10);
	}
	/* A value with bytes after the integer is not an integer either. */
	uint8_t b[9];
	size_t n = mp_int_encode(7, b);
	b[n] = 'x';
	fsm_check_put_ok(t, B("trail"), fsm_check_bytes(b, n + 1));
	struct msg_compare c = cmp_num(MSG_CMP_INT, "trail", MSG_EQ, 7);
	struct msg_op get = op_get("k");
	fsm_check_read_txn(t, &c, 1, &get, 1, NULL, 0, &r);
	CHECK_ERR(&r, BERTH_ETYPE, 11);
	/* Nor is a uint64 above INT64_MAX. */
	static const uint8_t huge[9] = {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	fsm_check_put_ok(t, B("huge"), fsm_check_bytes(huge, sizeof(huge)));
	c = cmp_num(MSG_CMP_INT, "huge", MSG_GT, 0);
	fsm_check_read_txn(t, &c, 1, &get, 1, NULL, 0, &r);
	CHECK_ERR(&r, BERTH_ETYPE, 12);
	fsm_check_close(t);
}

static void test_fsm_txn_branches_run_their_ops(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	uint8_t b[9];
	tfsm_open(t, NULL);
	fsm_check_put_ok(t, B("guard"), B("1"));

	/* Compare fails: the failure branch runs, every op of it, in one revision. */
	struct msg_compare c = cmp_num(MSG_CMP_VERSION, "guard", MSG_EQ, 5);
	struct msg_op succ[1] = {op_put("s", "1")};
	struct msg_op fail[4] = {op_put("f", "1"), op_del("guard"), op_add("cnt", 3), op_get("f")};
	fsm_check_run(t, &c, 1, succ, 1, fail, 4, &r);
	assert_int_equal(r.err, 0);
	assert_false(r.succeeded);
	assert_int_equal(r.rev, 2);
	assert_int_equal(r.nops, 4);
	assert_int_equal(r.ops[0].type, MSG_OP_PUT);
	assert_int_equal(r.ops[1].type, MSG_OP_DEL);
	assert_int_equal(r.ops[1].deleted, 1);
	assert_int_equal(r.ops[2].type, MSG_OP_ADD);
	assert_int_equal(r.ops[2].value, 3);
	assert_int_equal(r.ops[3].type, MSG_OP_RANGE);
	assert_int_equal(r.ops[3].nkvs, 1);
	CHECK_KV(&r.ops[3].kvs[0], B("f"), B("1"), 2, 2, 1);
	reply_free(&r);
	CHECK_MISSING(t, B("s"), 0);
	CHECK_MISSING(t, B("guard"), 0);
	CHECK_GET(t, B("f"), 0, B("1"), 2, 2, 1);
	CHECK_GET(t, B("cnt"), 0, fsm_check_int(3, b), 2, 2, 1);

	/* Compare holds: only the success branch runs. */
	c = cmp_num(MSG_CMP_VERSION, "f", MSG_EQ, 1);
	fail[0] = op_put("f", "2");
	fsm_check_run(t, &c, 1, succ, 1, fail, 1, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	assert_int_equal(r.rev, 3);
	assert_int_equal(r.nops, 1);
	assert_int_equal(r.ops[0].type, MSG_OP_PUT);
	reply_free(&r);
	CHECK_GET(t, B("s"), 0, B("1"), 3, 3, 1);
	CHECK_GET(t, B("f"), 0, B("1"), 2, 2, 1);

	/* Compares see the state before the transaction, not its own writes. */
	c = cmp_num(MSG_CMP_VERSION, "s", MSG_EQ, 1);
	struct msg_op both[2] = {op_put("s", "2"), op_put("t", "1")};
	fsm_check_run(t, &c, 1, both, 2, NULL, 0, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	assert_int_equal(r.rev, 4);
	reply_free(&r);
	CHECK_GET(t, B("s"), 0, B("2"), 3, 4, 2);
	CHECK_GET(t, B("t"), 0, B("1"), 4, 4, 1);
	fsm_check_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fsm_compare_numeric_existing, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_compare_missing_key, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_compare_value, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_compare_several, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_compare_int_on_non_integer,
						fsm_check_setup, fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_txn_branches_run_their_ops,
						fsm_check_setup, fsm_check_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
