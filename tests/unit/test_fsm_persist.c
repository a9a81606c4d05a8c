/* tests/unit/test_fsm_persist.c: fsm_read beside a batch in progress, replayed log
 * entries, and reopening the database. */
#include "tests/unit/fsm_check.h"

#include "common/err.h"

#include <string.h>

/* ==== 1. fsm_read ==== */

static void test_fsm_read_refuses_writes(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct fsm_check_state s;
	tfsm_open(t, NULL);
	fsm_check_put_ok(t, B("a"), B("1"));
	fsm_check_put_ok(t, B("b"), B("1"));
	fsm_check_put_ok(t, B("a"), B("2"));
	struct msg_op writes[] = {op_put("c", "1"), op_del("a"), op_add("n", 1),
				  fsm_check_prefix(MSG_OP_DEL, B(""))};
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		fsm_check_state_take(t, &s);
		fsm_check_read_ops(t, &writes[i], 1, &r);
		CHECK_ERR(&r, BERTH_EBADREQ, 3);
		/* With a read before it, and only in the failure branch. */
		struct msg_op ops[2] = {op_get("a"), writes[i]};
		fsm_check_read_ops(t, ops, 2, &r);
		CHECK_ERR(&r, BERTH_EBADREQ, 3);
		struct msg_compare c = cmp_num(MSG_CMP_VERSION, "a", MSG_EQ, 2);
		fsm_check_read_txn(t, &c, 1, ops, 1, &writes[i], 1, &r);
		CHECK_ERR(&r, BERTH_EBADREQ, 3);
		CHECK_UNCHANGED(t, &s);
	}
	CHECK_GET(t, B("a"), 0, B("2"), 1, 3, 2);
	/* A compare-only txn answers with the committed revision. */
	struct msg_compare c = cmp_num(MSG_CMP_MOD, "a", MSG_EQ, 3);
	fsm_check_read_txn(t, &c, 1, NULL, 0, NULL, 0, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	assert_int_equal(r.rev, 3);
	assert_int_equal(r.nops, 0);
	reply_free(&r);
	fsm_check_close(t);
}

static void encode_put(struct mp_buf *b, const char *k, const char *v)
{
	struct msg_op op = op_put(k, v);
	struct msg_cmd c = cmd_txn(NULL, 0, &op, 1, NULL, 0);
	mp_buf_init(b);
	msg_cmd_encode(b, &c);
	assert_int_equal(mp_buf_error(b), 0);
}

static void test_fsm_read_sees_last_commit(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct mp_buf cmd, out;
	tfsm_open(t, NULL);
	fsm_check_put_ok(t, B("a"), B("1"));
	fsm_check_put_ok(t, B("a"), B("2"));

	/* A batch in progress: reads answer from the last commit, at its revision. */
	mp_buf_init(&out);
	assert_int_equal(fsm_batch_begin(&t->f), 0);
	encode_put(&cmd, "a", "3");
	assert_int_equal(fsm_apply(&t->f, ++t->index, cmd.data, cmd.len, &out), 0);
	mp_buf_close(&cmd);
	encode_put(&cmd, "b", "1");
	assert_int_equal(fsm_apply(&t->f, ++t->index, cmd.data, cmd.len, &out), 0);
	mp_buf_close(&cmd);
	assert_true(out.len > 0);
	assert_int_equal(fsm_revision(&t->f), 2);
	assert_int_equal(fsm_applied(&t->f), 2);
	CHECK_GET(t, B("a"), 0, B("2"), 1, 2, 2);
	CHECK_MISSING(t, B("b"), 0);
	struct msg_op op = fsm_check_get_at(B("a"), 3);
	fsm_check_read_ops(t, &op, 1, &r);
	CHECK_ERR(&r, BERTH_EFUTUREREV, 2);
	assert_int_equal(fsm_batch_commit(&t->f), 0);

	assert_int_equal(fsm_revision(&t->f), 4);
	assert_int_equal(fsm_applied(&t->f), 4);
	CHECK_GET(t, B("a"), 0, B("3"), 1, 3, 3);
	CHECK_GET(t, B("b"), 0, B("1"), 4, 4, 1);
	CHECK_GET(t, B("a"), 2, B("2"), 1, 2, 2);

	/* An aborted batch leaves nothing, and its indexes can be applied again. */
	assert_int_equal(fsm_batch_begin(&t->f), 0);
	encode_put(&cmd, "c", "1");
	assert_int_equal(fsm_apply(&t->f, t->index + 1, cmd.data, cmd.len, &out), 0);
	fsm_batch_abort(&t->f);
	assert_int_equal(fsm_revision(&t->f), 4);
	assert_int_equal(fsm_applied(&t->f), 4);
	CHECK_MISSING(t, B("c"), 0);
	mp_buf_reset(&out);
	assert_int_equal(fsm_apply_one(&t->f, ++t->index, cmd.data, cmd.len, &out), 0);
	assert_true(out.len > 0);
	mp_buf_close(&cmd);
	assert_int_equal(reply_decode(out.data, out.len, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 5);
	reply_free(&r);
	CHECK_GET(t, B("c"), 0, B("1"), 5, 5, 1);
	mp_buf_close(&out);
	fsm_check_close(t);
}

/* ==== 2. persistence ==== */

static void test_fsm_reopen_keeps_state(void **state)
{
	struct tfsm *t = *state;
	struct fsm_config cfg;
	struct fsm_check_state s;
	struct fsm_check_lkey lk;
	uint8_t b[9];
	tfsm_open(t, NULL);
	struct bytes klong = fsm_check_lkey(&lk, 700, NULL, 0);
	fsm_check_put_ok(t, B("a"), B("1"));              /* 1 */
	fsm_check_put_ok(t, B("b"), fsm_check_int(7, b)); /* 2 */
	fsm_check_put_ok(t, B("a"), B("2"));              /* 3 */
	t_del(t, "b");                                    /* 4 */
	fsm_check_put_ok(t, klong, B("long"));            /* 5 */
	t_del(t, "missing");                              /* applied, no revision */
	assert_int_equal(fsm_revision(&t->f), 5);
	assert_int_equal(fsm_applied(&t->f), 6);
	fsm_check_state_take(t, &s);

	fsm_close(&t->f);
	fsm_check_config(&cfg);
	assert_int_equal(fsm_open(&t->f, t->dir, &cfg), 0);
	assert_int_equal(fsm_revision(&t->f), 5);
	assert_int_equal(fsm_applied(&t->f), 6);
	assert_int_equal(fsm_compacted(&t->f), 0);
	CHECK_UNCHANGED(t, &s);
	CHECK_GET(t, B("a"), 0, B("2"), 1, 3, 2);
	CHECK_MISSING(t, B("b"), 0);
	CHECK_GET(t, B("b"), 3, fsm_check_int(7, b), 2, 2, 1);
	CHECK_GET(t, klong, 0, B("long"), 5, 5, 1);

	/* Applying goes on from there. */
	fsm_check_put_ok(t, B("c"), B("1"));
	CHECK_GET(t, B("c"), 0, B("1"), 6, 6, 1);
	assert_int_equal(fsm_applied(&t->f), 7);

	/* A second open of a directory in use is refused. */
	struct fsm f2;
	assert_int_equal(fsm_open(&f2, t->dir, &cfg), BERTH_EBUSY);
	assert_non_null(strstr(f2.errmsg, "in use"));
	fsm_check_close(t);
}

static void test_fsm_replayed_entry_skipped(void **state)
{
	struct tfsm *t = *state;
	struct fsm_config cfg;
	struct fsm_check_state s;
	struct mp_buf cmd, out;
	tfsm_open(t, NULL);
	fsm_check_put_ok(t, B("a"), B("1"));
	fsm_check_put_ok(t, B("a"), B("2"));
	fsm_check_put_ok(t, B("b"), B("1"));
	assert_int_equal(fsm_applied(&t->f), 3);

	mp_buf_init(&out);
	encode_put(&cmd, "a", "replayed");
	fsm_check_state_take(t, &s);
	for (uint64_t idx = 0; idx <= 3; idx++) {
		assert_int_equal(fsm_apply_one(&t->f, idx, cmd.data, cmd.len, &out), 0);
		assert_int_equal(out.len, 0);
		assert_int_equal(fsm_applied(&t->f), 3);
	}
	CHECK_UNCHANGED(t, &s);
	CHECK_GET(t, B("a"), 0, B("2"), 1, 2, 2);

	/* The same after a restart. */
	fsm_close(&t->f);
	fsm_check_config(&cfg);
	assert_int_equal(fsm_open(&t->f, t->dir, &cfg), 0);
	fsm_check_state_take(t, &s);
	assert_int_equal(fsm_apply_one(&t->f, 3, cmd.data, cmd.len, &out), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(fsm_apply_one(&t->f, 2, cmd.data, cmd.len, &out), 0);
	assert_int_equal(out.len, 0);
	CHECK_UNCHANGED(t, &s);
	assert_int_equal(fsm_applied(&t->f), 3);

	/* In one batch: old entries skipped, the new one applied once. */
	assert_int_equal(fsm_batch_begin(&t->f), 0);
	assert_int_equal(fsm_apply(&t->f, 2, cmd.data, cmd.len, &out), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(fsm_apply(&t->f, 4, cmd.data, cmd.len, &out), 0);
	size_t first = out.len;
	assert_true(first > 0);
	assert_int_equal(fsm_apply(&t->f, 4, cmd.data, cmd.len, &out), 0);
	assert_int_equal(out.len, first);
	assert_int_equal(fsm_batch_commit(&t->f), 0);
	t->index = 4;
	assert_int_equal(fsm_applied(&t->f), 4);
	assert_int_equal(fsm_revision(&t->f), 4);
	CHECK_GET(t, B("a"), 0, B("replayed"), 1, 4, 3);
	mp_buf_close(&cmd);
	mp_buf_close(&out);
	fsm_check_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fsm_read_refuses_writes, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_read_sees_last_commit, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_reopen_keeps_state, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_replayed_entry_skipped, fsm_check_setup,
						fsm_check_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
