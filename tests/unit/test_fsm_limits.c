/* tests/unit/test_fsm_limits.c: the limits on keys, values, operations per
 * transaction and result bytes, requests of a bad shape, and fsm_config_validate. */
#include "tests/unit/fsm_check.h"

#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==== 1. limits and bad requests ==== */

/* Applies a single-op txn that must be rejected with err; nothing may change. Also
 * checks the same op through fsm_read when it is a read. */
#define CHECK_REJECT(t, op, err) check_reject(__FILE__, __LINE__, (t), (op), (err))
static void check_reject(const char *file, int line, struct tfsm *t, struct msg_op op, int err)
{
	struct reply r;
	struct fsm_check_state s;
	uint64_t rev = fsm_revision(&t->f);
	fsm_check_state_take(t, &s);
	fsm_check_run_ops(t, &op, 1, &r);
	EQ_AT(r.err, err, file, line);
	EQ_AT(r.rev, rev, file, line);
	EQ_AT(r.nops, 0, file, line);
	reply_free(&r);
	fsm_check_unchanged(file, line, t, &s);
	if (op.type == MSG_OP_RANGE) {
		fsm_check_read_ops(t, &op, 1, &r);
		EQ_AT(r.err, err, file, line);
		EQ_AT(r.rev, rev, file, line);
		EQ_AT(r.nops, 0, file, line);
		reply_free(&r);
	}
}

/* Keys of n bytes: 'k' repeated, in a static buffer. */
static struct bytes kbytes(size_t n)
{
	static uint8_t buf[KV_KEY_HARD_MAX + 2];
	assert_true(n <= sizeof(buf));
	memset(buf, 'k', sizeof(buf));
	return fsm_check_bytes(buf, n);
}

static void test_fsm_limits_default_key_value(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct msg_op op;
	tfsm_open(t, NULL);
	assert_int_equal(t->f.cfg.max_key_bytes, 1024);
	assert_int_equal(t->f.cfg.max_value_bytes, 1024 * 1024);
	assert_int_equal(t->f.cfg.max_txn_ops, 128);

	/* Key: 1024 bytes is fine, 1025 is too large for every use. */
	fsm_check_put_ok(t, kbytes(1024), B("v"));
	CHECK_GET(t, kbytes(1024), 0, B("v"), 1, 1, 1);
	CHECK_REJECT(t, fsm_check_put_b(kbytes(1025), B("v")), BERTH_ETOOLARGE);
	CHECK_REJECT(t, fsm_check_get_at(kbytes(1025), 0), BERTH_ETOOLARGE);
	CHECK_REJECT(t, fsm_check_del_b(kbytes(1025)), BERTH_ETOOLARGE);
	CHECK_REJECT(t, fsm_check_add_b(kbytes(1025), 1), BERTH_ETOOLARGE);
	CHECK_REJECT(t, fsm_check_prefix(MSG_OP_RANGE, kbytes(1025)), BERTH_ETOOLARGE);
	CHECK_REJECT(t, fsm_check_prefix(MSG_OP_DEL, kbytes(1025)), BERTH_ETOOLARGE);
	CHECK_REJECT(t, fsm_check_span(MSG_OP_RANGE, B("a"), kbytes(1025)), BERTH_ETOOLARGE);
	CHECK_REJECT(t, fsm_check_span(MSG_OP_DEL, B("a"), kbytes(1025)), BERTH_ETOOLARGE);
	op = fsm_check_span(MSG_OP_RANGE, B("a"), kbytes(1024));
	fsm_check_read_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.ops[0].count, 0);
	reply_free(&r);
	op = fsm_check_span(MSG_OP_RANGE, B("k"), kbytes(1024)); /* keys before "kkk...k" */
	fsm_check_read_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.ops[0].count, 0);
	reply_free(&r);
	struct msg_compare c = {.target = MSG_CMP_VERSION, .op = MSG_EQ, .key = kbytes(1025)};
	struct msg_op get = op_get("a");
	fsm_check_read_txn(t, &c, 1, &get, 1, NULL, 0, &r);
	CHECK_ERR(&r, BERTH_ETOOLARGE, 1);
	fsm_check_run(t, &c, 1, &get, 1, NULL, 0, &r);
	CHECK_ERR(&r, BERTH_ETOOLARGE, 1);
	c.key = kbytes(1024);
	c.num = 1;
	fsm_check_read_txn(t, &c, 1, &get, 1, NULL, 0, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	reply_free(&r);

	/* Value: 1 MiB is fine, one byte more is not. */
	size_t mib = 1024 * 1024;
	uint8_t *v = malloc(mib + 1);
	assert_non_null(v);
	for (size_t i = 0; i <= mib; i++)
		v[i] = (uint8_t)(i * 7 + 3);
	fsm_check_put_ok(t, B("v"), fsm_check_bytes(v, mib));
	CHECK_GET(t, B("v"), 0, fsm_check_bytes(v, mib), 2, 2, 1);
	CHECK_REJECT(t, fsm_check_put_b(B("v"), fsm_check_bytes(v, mib + 1)), BERTH_ETOOLARGE);
	CHECK_REJECT(t, fsm_check_put_b(B("w"), fsm_check_bytes(v, mib + 1)), BERTH_ETOOLARGE);
	struct msg_compare cv = {.target = MSG_CMP_VALUE, .op = MSG_EQ, .key = B("v")};
	cv.value = fsm_check_bytes(v, mib + 1);
	fsm_check_read_txn(t, &cv, 1, &get, 1, NULL, 0, &r);
	CHECK_ERR(&r, BERTH_ETOOLARGE, 2);
	cv.value = fsm_check_bytes(v, mib);
	fsm_check_read_txn(t, &cv, 1, &get, 1, NULL, 0, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	reply_free(&r);
	free(v);
	assert_int_equal(fsm_revision(&t->f), 2);
	fsm_check_close(t);
}

/* A txn of ncmp compares (each holds when `hold`), nsucc puts and nfail puts. */
static void many_ops(struct tfsm *t, uint32_t ncmp, bool hold, uint32_t nsucc, uint32_t nfail,
		     struct reply *r)
{
	uint32_t nops = nsucc + nfail;
	struct msg_compare *cmp = calloc(ncmp ? ncmp : 1, sizeof(*cmp));
	struct msg_op *ops = calloc(nops ? nops : 1, sizeof(*ops));
	char(*names)[16] = calloc(nops ? nops : 1, 16);
	assert_non_null(cmp);
	assert_non_null(ops);
	assert_non_null(names);
	for (uint32_t i = 0; i < ncmp; i++)
		cmp[i] = cmp_num(MSG_CMP_VERSION, "nokey", hold ? MSG_EQ : MSG_NE, 0);
	for (uint32_t i = 0; i < nops; i++) {
		snprintf(names[i], 16, "%c%05u", i < nsucc ? 's' : 'f', i);
		ops[i] = op_put(names[i], "1");
	}
	fsm_check_run(t, cmp, ncmp, ops, nsucc, ops + nsucc, nfail, r);
	free(names);
	free(ops);
	free(cmp);
}

static void check_op_counts(struct tfsm *t, uint32_t max)
{
	struct reply r;
	struct fsm_check_state s;
	uint64_t rev = fsm_revision(&t->f);

	/* Compares: max hold, max + 1 are too many. */
	many_ops(t, max, true, 1, 0, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	assert_int_equal(r.rev, ++rev);
	reply_free(&r);
	fsm_check_state_take(t, &s);
	many_ops(t, max + 1, true, 1, 0, &r);
	CHECK_ERR(&r, BERTH_ETOOLARGE, rev);
	CHECK_UNCHANGED(t, &s);

	/* Success ops: max in one revision; max + 1 rejected. */
	many_ops(t, 0, true, max, 0, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.nops, max);
	assert_int_equal(r.rev, ++rev);
	reply_free(&r);
	assert_int_equal(fsm_check_revs_at(t, rev), max);
	fsm_check_state_take(t, &s);
	many_ops(t, 0, true, max + 1, 0, &r);
	CHECK_ERR(&r, BERTH_ETOOLARGE, rev);
	CHECK_UNCHANGED(t, &s);
	/* ... even when that branch is not the one taken. */
	fsm_check_state_take(t, &s);
	many_ops(t, 1, false, max + 1, 1, &r);
	CHECK_ERR(&r, BERTH_ETOOLARGE, rev);
	CHECK_UNCHANGED(t, &s);

	/* Failure ops: the same. */
	many_ops(t, 1, false, 0, max, &r);
	assert_int_equal(r.err, 0);
	assert_false(r.succeeded);
	assert_int_equal(r.nops, max);
	assert_int_equal(r.rev, ++rev);
	reply_free(&r);
	fsm_check_state_take(t, &s);
	many_ops(t, 1, false, 0, max + 1, &r);
	CHECK_ERR(&r, BERTH_ETOOLARGE, rev);
	CHECK_UNCHANGED(t, &s);
	fsm_check_state_take(t, &s);
	many_ops(t, 1, true, 1, max + 1, &r);
	CHECK_ERR(&r, BERTH_ETOOLARGE, rev);
	CHECK_UNCHANGED(t, &s);

	/* Reads count the same way. */
	struct msg_op *gets = calloc(max + 1, sizeof(*gets));
	assert_non_null(gets);
	for (uint32_t i = 0; i <= max; i++)
		gets[i] = op_get("s00000");
	fsm_check_read_ops(t, gets, max, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.nops, max);
	reply_free(&r);
	fsm_check_read_ops(t, gets, max + 1, &r);
	CHECK_ERR(&r, BERTH_ETOOLARGE, rev);
	free(gets);
	assert_int_equal(fsm_revision(&t->f), rev);
}

static void test_fsm_limits_default_ops(void **state)
{
	struct tfsm *t = *state;
	tfsm_open(t, NULL);
	check_op_counts(t, 128);
	fsm_check_close(t);
}

static void test_fsm_limits_small_config(void **state)
{
	struct tfsm *t = *state;
	struct fsm_config cfg;
	struct reply r;
	fsm_check_config(&cfg);
	cfg.max_key_bytes = 8;
	cfg.max_value_bytes = 16;
	cfg.max_txn_ops = 3;
	tfsm_open(t, &cfg);

	fsm_check_put_ok(t, B("12345678"), B("0123456789abcdef"));
	CHECK_GET(t, B("12345678"), 0, B("0123456789abcdef"), 1, 1, 1);
	CHECK_REJECT(t, fsm_check_put_b(B("123456789"), B("v")), BERTH_ETOOLARGE);
	CHECK_REJECT(t, fsm_check_put_b(B("1"), B("0123456789abcdefg")), BERTH_ETOOLARGE);
	CHECK_REJECT(t, fsm_check_get_at(B("123456789"), 0), BERTH_ETOOLARGE);
	CHECK_REJECT(t, fsm_check_add_b(B("123456789"), 1), BERTH_ETOOLARGE);
	CHECK_REJECT(t, fsm_check_del_b(B("123456789")), BERTH_ETOOLARGE);
	CHECK_REJECT(t, fsm_check_span(MSG_OP_RANGE, B("1"), B("123456789")), BERTH_ETOOLARGE);
	struct msg_compare c = cmp_val("12345678", MSG_EQ, "0123456789abcdefg");
	struct msg_op get = op_get("12345678");
	fsm_check_read_txn(t, &c, 1, &get, 1, NULL, 0, &r);
	CHECK_ERR(&r, BERTH_ETOOLARGE, 1);
	c = cmp_val("12345678", MSG_EQ, "0123456789abcdef");
	fsm_check_read_txn(t, &c, 1, &get, 1, NULL, 0, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	reply_free(&r);
	c = cmp_num(MSG_CMP_VERSION, "123456789", MSG_EQ, 0);
	fsm_check_read_txn(t, &c, 1, &get, 1, NULL, 0, &r);
	CHECK_ERR(&r, BERTH_ETOOLARGE, 1);

	check_op_counts(t, 3);
	fsm_check_close(t);
}

static void test_fsm_bad_requests(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct fsm_check_state s;
	struct msg_op op;
	tfsm_open(t, NULL);
	fsm_check_put_ok(t, B("a"), B("1"));

	/* Empty keys. */
	CHECK_REJECT(t, fsm_check_put_b(B(""), B("v")), BERTH_EBADREQ);
	CHECK_REJECT(t, fsm_check_get_at(B(""), 0), BERTH_EBADREQ);
	CHECK_REJECT(t, fsm_check_del_b(B("")), BERTH_EBADREQ);
	CHECK_REJECT(t, fsm_check_add_b(B(""), 1), BERTH_EBADREQ);
	struct msg_compare c = cmp_num(MSG_CMP_VERSION, "", MSG_EQ, 0);
	struct msg_op get = op_get("a");
	fsm_check_read_txn(t, &c, 1, &get, 1, NULL, 0, &r);
	CHECK_ERR(&r, BERTH_EBADREQ, 1);
	fsm_check_state_take(t, &s);
	struct msg_op put = op_put("b", "1");
	fsm_check_run(t, &c, 1, &put, 1, NULL, 0, &r);
	CHECK_ERR(&r, BERTH_EBADREQ, 1);
	CHECK_UNCHANGED(t, &s);

	/* Flags and fields that do not belong to the operation. */
	op = op_put("a", "2");
	op.flags = MSG_F_KEYS_ONLY;
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op.flags = MSG_F_COUNT_ONLY;
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op.flags = MSG_F_PREFIX;
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op.flags = 0;
	op.end = B("b");
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op.end = B("");
	op.limit = 1;
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op.limit = 0;
	op.rev = 1;
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op = op_add("a", 1);
	op.flags = MSG_F_PREFIX;
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op.flags = 0;
	op.end = B("b");
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op.end = B("");
	op.limit = 5;
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op = op_del("a");
	op.flags = MSG_F_KEYS_ONLY;
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op.flags = MSG_F_COUNT_ONLY;
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op.flags = 0;
	op.limit = 1;
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op.limit = 0;
	op.rev = 1;
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	/* A prefix and an end together. */
	op = fsm_check_prefix(MSG_OP_RANGE, B("a"));
	op.end = B("b");
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op = fsm_check_prefix(MSG_OP_DEL, B("a"));
	op.end = B("b");
	CHECK_REJECT(t, op, BERTH_EBADREQ);

	/* A bad op anywhere rejects the whole txn, even in the branch not taken. */
	struct msg_op bad = op_put("c", "1");
	bad.flags = MSG_F_KEYS_ONLY;
	struct msg_op good[2] = {op_put("b", "1"), op_put("c", "1")};
	c = cmp_num(MSG_CMP_VERSION, "a", MSG_EQ, 1);
	fsm_check_state_take(t, &s);
	fsm_check_run(t, &c, 1, good, 2, &bad, 1, &r);
	CHECK_ERR(&r, BERTH_EBADREQ, 1);
	CHECK_UNCHANGED(t, &s);
	struct msg_op mixed[3] = {op_put("b", "1"), op_put("c", "1"), bad};
	fsm_check_state_take(t, &s);
	fsm_check_run_ops(t, mixed, 3, &r);
	CHECK_ERR(&r, BERTH_EBADREQ, 1);
	CHECK_UNCHANGED(t, &s);

	/* A malformed log entry is an error result, and counts as applied. */
	static const uint8_t junk[8] = {0xc1};
	mp_buf_reset(&t->out);
	assert_int_equal(fsm_apply_one(&t->f, ++t->index, junk, sizeof(junk), &t->out), 0);
	assert_int_equal(reply_decode(t->out.data, t->out.len, &r), 0);
	CHECK_ERR(&r, BERTH_EBADREQ, 1);
	assert_int_equal(fsm_applied(&t->f), t->index);
	assert_int_equal(fsm_revision(&t->f), 1);
	CHECK_GET(t, B("a"), 0, B("1"), 1, 1, 1);
	fsm_check_close(t);
}

static void test_fsm_config_validate(void **state)
{
	struct fsm_config cfg;
	const char *why = "unset";
	(void)state;
	fsm_config_default(&cfg);
	assert_int_equal(cfg.max_key_bytes, 1024);
	assert_int_equal(cfg.max_value_bytes, 1024 * 1024);
	assert_int_equal(cfg.max_txn_ops, 128);
	assert_int_equal(fsm_config_validate(&cfg, &why), 0);
	assert_null(why);

	static const struct {
		size_t key, value;
		uint32_t ops;
		size_t result, map;
		int sync;
		int want;
	} rows[] = {
		{0, 1, 1, 1024, 65536, 0, BERTH_EBADREQ},
		{1, 0, 1, 1024, 65536, 0, 0},
		{KV_KEY_HARD_MAX, 1, 1, 1024, 65536, 0, 0},
		{KV_KEY_HARD_MAX + 1, 1, 1, 1024, 65536, 0, BERTH_EBADREQ},
		{8, (size_t)64 << 20, 1, 1024, 65536, 0, 0},
		{8, ((size_t)64 << 20) + 1, 1, 1024, 65536, 0, BERTH_EBADREQ},
		{8, 16, 0, 1024, 65536, 0, BERTH_EBADREQ},
		{8, 16, 65536, 1024, 65536, 0, 0},
		{8, 16, 65537, 1024, 65536, 0, BERTH_EBADREQ},
		{8, 16, 3, 1023, 65536, 0, BERTH_EBADREQ},
		{8, 16, 3, 1024, 65535, 0, BERTH_EBADREQ},
		{8, 16, 3, 1024, 65536, KV_SYNC_NONE, 0},
		{8, 16, 3, 1024, 65536, KV_SYNC_NONE + 1, BERTH_EBADREQ},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		fsm_config_default(&cfg);
		cfg.max_key_bytes = rows[i].key;
		cfg.max_value_bytes = rows[i].value;
		cfg.max_txn_ops = rows[i].ops;
		cfg.max_result_bytes = rows[i].result;
		cfg.map_bytes = rows[i].map;
		cfg.sync = (enum kv_sync)rows[i].sync;
		why = "unset";
		int rv = fsm_config_validate(&cfg, &why);
		if (rv != rows[i].want)
			print_error("row %zu: got %d\n", i, rv);
		assert_int_equal(rv, rows[i].want);
		if (rows[i].want == 0)
			assert_null(why);
		else
			assert_non_null(why);
	}
	fsm_config_default(&cfg);
	cfg.max_key_bytes = 0;
	assert_int_equal(fsm_config_validate(&cfg, &why), BERTH_EBADREQ);
	assert_string_equal(why, "max_key_bytes must be 1..4096");

	/* fsm_open refuses a bad configuration and leaves nothing open. */
	struct fsm f;
	char *dir = support_tmpdir();
	assert_int_equal(fsm_open(&f, dir, &cfg), BERTH_EBADREQ);
	assert_string_equal(f.errmsg, "fsm config: max_key_bytes must be 1..4096");
	support_rmrf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fsm_limits_default_key_value, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_limits_default_ops, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_limits_small_config, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_bad_requests, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_config_validate, fsm_check_setup,
						fsm_check_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
