/* tests/unit/test_worker_ptxn.c: the worker's transactions (worker/ptxn.c) applied to a
 * real state machine, with the worker's cache (worker/cache.c) read from it: fine
 * compares let two placements share an instance while it has room and refuse the one
 * that would overcommit it; coarse compares refuse any change since the read; ports,
 * distinctInstance, group commits aggregated per instance; the failure branch refreshes
 * the cache; the lost-instance release gives everything back, and only once the alive
 * key is gone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "tests/unit/support.h"
#include "worker/ptxn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CL "cl"

struct fx {
	struct tfsm t;
	struct cache c;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	tfsm_open(&f->t, NULL);
	assert_int_equal(cache_init(&f->c, CL, NULL), 0);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	cache_close(&f->c);
	tfsm_close(&f->t);
	free(f);
	return 0;
}

/* The cache as a fresh list of the cluster would make it. */
static void fx_list(struct fx *f)
{
	struct msg_op op = op_range("/berth/c/" CL "/", NULL);
	struct msg_txn txn = {0, 1, 0, NULL, &op, NULL};
	struct reply r;
	cache_reset(&f->c);
	assert_int_equal(tfsm_read(&f->t, &txn, &r), 0);
	for (uint32_t i = 0; i < r.ops[0].nkvs; i++)
		assert_int_equal(cache_apply(&f->c, MSG_OP_PUT, &r.ops[0].kvs[i]), 0);
	f->c.rev = r.rev;
	reply_free(&r);
}

static void fx_put_bytes(struct fx *f, const char *key, const uint8_t *p, size_t n)
{
	struct msg_op op = {.type = MSG_OP_PUT, .key = B(key), .value = {p, n}};
	struct msg_cmd c = cmd_txn(NULL, 0, &op, 1, NULL, 0);
	struct reply r;
	assert_int_equal(tfsm_apply(&f->t, &c, &r), 0);
	assert_int_equal(r.err, 0);
	reply_free(&r);
}

static void fx_instance(struct fx *f, const char *iid, uint32_t cpu, uint32_t mem)
{
	char err[256], key[MODEL_KEY_MAX];
	struct model_port_range pr = {8000, 8010};
	struct model_instance in = {(char *)iid,           (char *)CL, cpu, mem, &pr, 1, NULL, 0,
				    MODEL_INSTANCE_ACTIVE, 1,          7};
	struct mp_buf out;
	mp_buf_init(&out);
	assert_int_equal(model_instance_encode(&in, &out, err, sizeof(err)), 0);
	model_key_instance(key, CL, iid);
	fx_put_bytes(f, key, out.data, out.len);
	model_key_alive(key, CL, iid);
	t_put(&f->t, key, "");
	mp_buf_close(&out);
}

static void fx_task(struct fx *f, const char *tid, uint32_t cpu, uint16_t port, bool distinct)
{
	char err[256], key[MODEL_KEY_MAX];
	struct model_constraint co = {MODEL_DISTINCT_INSTANCE, NULL};
	struct model_task t = {0};
	t.id = (char *)tid;
	t.cluster = (char *)CL;
	t.family = (char *)"web";
	t.revision = 1;
	t.cpu = cpu;
	t.memory = 10;
	t.host_ports = port ? &port : NULL;
	t.nhost_ports = port != 0;
	t.group = (char *)"family:web";
	t.constraints = distinct ? &co : NULL;
	t.nconstraints = distinct;
	t.desired_status = MODEL_TASK_RUNNING;
	t.last_status = MODEL_TASK_PROVISIONING;
	t.created_ms = t.updated_ms = 1;
	struct mp_buf out;
	mp_buf_init(&out);
	assert_int_equal(model_task_encode(&t, &out, err, sizeof(err)), 0);
	model_key_task(key, CL, tid);
	fx_put_bytes(f, key, out.data, out.len);
	mp_buf_close(&out);
}

/* Builds and applies the Place of tasks[i] on iids[i] from the cache as it is: whether
 * the compares held; the reply in *r when r is not NULL (reply_free it). */
static bool fx_place(struct fx *f, enum ptxn_conflict mode, const char *const *tids,
		     const char *const *iids, size_t n, struct reply *r)
{
	struct ptxn_pick picks[8];
	struct txb b;
	struct msg_txn txn;
	struct reply mine;
	char err[256];
	for (size_t i = 0; i < n; i++) {
		picks[i].task = cache_task(&f->c, tids[i]);
		picks[i].inst = cache_inst(&f->c, iids[i]);
		assert_non_null(picks[i].task);
		assert_non_null(picks[i].inst);
	}
	txb_init(&b);
	assert_int_equal(ptxn_place(&b, CL, mode, picks, n, 5, err, sizeof(err)), 0);
	assert_int_equal(txb_txn(&b, &txn), 0);
	struct msg_cmd c = cmd_txn(txn.cmp, txn.ncmp, txn.succ, txn.nsucc, txn.fail, txn.nfail);
	if (r == NULL)
		r = &mine;
	assert_int_equal(tfsm_apply(&f->t, &c, r), 0);
	assert_int_equal(r->err, 0);
	bool ok = r->succeeded;
	if (r == &mine)
		reply_free(r);
	txb_close(&b);
	return ok;
}

/* The integer at key (missing: 0). */
static int64_t fx_int(struct fx *f, const char *key)
{
	struct msg_op op = op_get(key);
	struct msg_txn txn = {0, 1, 0, NULL, &op, NULL};
	struct reply r;
	int64_t v = 0;
	assert_int_equal(tfsm_read(&f->t, &txn, &r), 0);
	if (r.ops[0].nkvs == 1)
		assert_int_equal(mp_value_int(r.ops[0].kvs[0].value.p, r.ops[0].kvs[0].value.n, &v),
				 0);
	reply_free(&r);
	return v;
}

static void test_worker_ptxn_fine_room(void **state)
{
	struct fx *f = *state;
	fx_instance(f, "i-1", 100, 1000);
	fx_task(f, "t1", 40, 0, false);
	fx_task(f, "t2", 40, 0, false);
	fx_task(f, "t3", 40, 0, false);
	fx_list(f);
	/* The same cache for all three, as two workers deciding at once: room for two. */
	assert_true(
		fx_place(f, PTXN_FINE, (const char *[]){"t1"}, (const char *[]){"i-1"}, 1, NULL));
	assert_true(
		fx_place(f, PTXN_FINE, (const char *[]){"t2"}, (const char *[]){"i-1"}, 1, NULL));
	struct reply r;
	assert_false(
		fx_place(f, PTXN_FINE, (const char *[]){"t3"}, (const char *[]){"i-1"}, 1, &r));
	/* The failure branch tells the cache what changed (r borrows from the state machine's
	 * last reply: used before the next call). */
	struct cache_inst *in = cache_inst(&f->c, "i-1");
	assert_int_equal(in->cpu_used, 0);
	for (uint32_t i = 0; i < r.nops; i++)
		for (uint32_t j = 0; j < r.ops[i].nkvs; j++)
			assert_int_equal(cache_apply(&f->c, MSG_OP_PUT, &r.ops[i].kvs[j]), 0);
	reply_free(&r);
	assert_int_equal(in->cpu_used, 80);
	assert_int_equal(in->mem_used, 20);
	assert_int_equal(fx_int(f, "/berth/c/" CL "/alloc/i-1/cpu"), 80);
	assert_int_equal(fx_int(f, "/berth/c/" CL "/alloc/i-1/mem"), 20);
	assert_int_equal(fx_int(f, "/berth/c/" CL "/group/family:web/i-1"), 2);
	assert_non_null(t_get(&f->t, "/berth/c/" CL "/placed/i-1/t1"));
	/* A placed task cannot be placed again, whatever the room. */
	fx_list(f);
	struct cache_task *t1 = cache_task(&f->c, "t1");
	assert_int_equal(t1->rec.last_status, MODEL_TASK_PENDING);
	assert_string_equal(t1->rec.instance, "i-1");
	t1->rec.last_status = MODEL_TASK_PROVISIONING;
	t1->rev = 1; /* as read long ago */
	assert_false(
		fx_place(f, PTXN_FINE, (const char *[]){"t1"}, (const char *[]){"i-1"}, 1, NULL));
}

static void test_worker_ptxn_coarse(void **state)
{
	struct fx *f = *state;
	fx_instance(f, "i-1", 100, 1000);
	fx_task(f, "t1", 10, 0, false);
	fx_task(f, "t2", 10, 0, false);
	fx_list(f);
	assert_true(
		fx_place(f, PTXN_COARSE, (const char *[]){"t1"}, (const char *[]){"i-1"}, 1, NULL));
	/* Room enough, but the counters changed since the read. */
	assert_false(
		fx_place(f, PTXN_COARSE, (const char *[]){"t2"}, (const char *[]){"i-1"}, 1, NULL));
	fx_list(f);
	assert_true(
		fx_place(f, PTXN_COARSE, (const char *[]){"t2"}, (const char *[]){"i-1"}, 1, NULL));
	assert_int_equal(fx_int(f, "/berth/c/" CL "/alloc/i-1/cpu"), 20);
}

static void test_worker_ptxn_ports_distinct(void **state)
{
	struct fx *f = *state;
	fx_instance(f, "i-1", 1000, 1000);
	fx_instance(f, "i-2", 1000, 1000);
	fx_task(f, "p1", 1, 8001, false);
	fx_task(f, "p2", 1, 8001, false);
	fx_task(f, "d1", 1, 0, true);
	fx_task(f, "d2", 1, 0, true);
	fx_list(f);
	assert_true(
		fx_place(f, PTXN_FINE, (const char *[]){"p1"}, (const char *[]){"i-1"}, 1, NULL));
	assert_false(
		fx_place(f, PTXN_FINE, (const char *[]){"p2"}, (const char *[]){"i-1"}, 1, NULL));
	assert_true(
		fx_place(f, PTXN_FINE, (const char *[]){"p2"}, (const char *[]){"i-2"}, 1, NULL));
	const char *owner = t_get(&f->t, "/berth/c/" CL "/alloc/i-2/port/8001");
	assert_non_null(owner);
	assert_string_equal(owner, "p2");
	/* p1 and p2 are family:web too: the group counter is 1 on both instances. */
	assert_false(
		fx_place(f, PTXN_FINE, (const char *[]){"d1"}, (const char *[]){"i-1"}, 1, NULL));
	fx_instance(f, "i-3", 1000, 1000);
	fx_list(f);
	assert_true(
		fx_place(f, PTXN_FINE, (const char *[]){"d1"}, (const char *[]){"i-3"}, 1, NULL));
	assert_false(
		fx_place(f, PTXN_FINE, (const char *[]){"d2"}, (const char *[]){"i-3"}, 1, NULL));
}

static void test_worker_ptxn_group_commit(void **state)
{
	struct fx *f = *state;
	fx_instance(f, "i-1", 100, 1000);
	fx_instance(f, "i-2", 100, 1000);
	fx_task(f, "g1", 30, 8001, false);
	fx_task(f, "g2", 30, 8002, false);
	fx_task(f, "g3", 30, 0, false);
	fx_task(f, "g4", 90, 0, false);
	fx_list(f);
	/* Three on i-1 and one on i-2: one add per counter, one compare of the sum. */
	struct reply r;
	assert_true(fx_place(f, PTXN_FINE, (const char *[]){"g1", "g2", "g3"},
			     (const char *[]){"i-1", "i-1", "i-2"}, 3, &r));
	reply_free(&r);
	assert_int_equal(fx_int(f, "/berth/c/" CL "/alloc/i-1/cpu"), 60);
	assert_int_equal(fx_int(f, "/berth/c/" CL "/alloc/i-2/cpu"), 30);
	assert_int_equal(fx_int(f, "/berth/c/" CL "/group/family:web/i-1"), 2);
	fx_list(f);
	/* All or nothing: g4 does not fit on i-1, so nothing of the group is written. */
	fx_task(f, "g5", 10, 0, false);
	fx_list(f);
	assert_false(fx_place(f, PTXN_FINE, (const char *[]){"g5", "g4"},
			      (const char *[]){"i-2", "i-1"}, 2, NULL));
	assert_int_equal(fx_int(f, "/berth/c/" CL "/alloc/i-2/cpu"), 30);
	assert_null(t_get(&f->t, "/berth/c/" CL "/placed/i-2/g5"));
}

/* The compares and the operations of each branch of the Place of picks[0..n). */
static void fx_counts(const struct ptxn_pick *picks, size_t n, size_t *most)
{
	struct txb b;
	struct msg_txn txn;
	char err[256];
	txb_init(&b);
	assert_int_equal(ptxn_place(&b, CL, PTXN_FINE, picks, n, 5, err, sizeof(err)), 0);
	assert_int_equal(txb_txn(&b, &txn), 0);
	*most = txn.ncmp > txn.nsucc ? txn.ncmp : txn.nsucc;
	*most = txn.nfail > *most ? txn.nfail : *most;
	txb_close(&b);
}

/* ptxn_place_fit: the longest prefix whose Place stays within the bound, for every bound
 * (tasks with and without ports and distinctInstance, on two instances). */
static void test_worker_ptxn_fit(void **state)
{
	struct fx *f = *state;
	static const char *const tids[] = {"f1", "f2", "f3", "f4", "f5", "f6"};
	static const char *const iids[] = {"i-1", "i-1", "i-2", "i-1", "i-2", "i-2"};
	fx_instance(f, "i-1", 1000, 10000);
	fx_instance(f, "i-2", 1000, 10000);
	fx_task(f, "f1", 10, 8001, false);
	fx_task(f, "f2", 10, 0, true);
	fx_task(f, "f3", 10, 8003, true);
	fx_task(f, "f4", 10, 0, false);
	fx_task(f, "f5", 10, 8005, false);
	fx_task(f, "f6", 10, 0, false);
	fx_list(f);
	struct ptxn_pick picks[6];
	for (size_t i = 0; i < 6; i++) {
		picks[i].task = cache_task(&f->c, tids[i]);
		picks[i].inst = cache_inst(&f->c, iids[i]);
	}
	size_t whole;
	fx_counts(picks, 6, &whole);
	for (size_t max = 1; max <= whole + 1; max++) {
		size_t m = ptxn_place_fit(picks, 6, max), most;
		assert_true(m >= 1 && m <= 6);
		fx_counts(picks, m, &most);
		if (m > 1)
			assert_true(most <= max);
		if (m < 6) {
			fx_counts(picks, m + 1, &most);
			assert_true(most > max);
		}
	}
	assert_int_equal(ptxn_place_fit(picks, 6, whole), 6);
	assert_int_equal(ptxn_place_fit(picks, 0, 128), 0);
}

static void test_worker_ptxn_release_lost(void **state)
{
	struct fx *f = *state;
	struct txb b;
	struct msg_txn txn;
	struct reply r;
	char err[256];
	fx_instance(f, "i-1", 100, 1000);
	fx_task(f, "t1", 40, 8003, false);
	fx_list(f);
	assert_true(
		fx_place(f, PTXN_FINE, (const char *[]){"t1"}, (const char *[]){"i-1"}, 1, NULL));
	fx_list(f);
	for (int round = 0; round < 2; round++) {
		txb_init(&b);
		assert_int_equal(ptxn_release_lost(&b, CL, cache_task(&f->c, "t1"), "instance lost",
						   9, err, sizeof(err)),
				 0);
		assert_int_equal(txb_txn(&b, &txn), 0);
		struct msg_cmd c =
			cmd_txn(txn.cmp, txn.ncmp, txn.succ, txn.nsucc, txn.fail, txn.nfail);
		assert_int_equal(tfsm_apply(&f->t, &c, &r), 0);
		/* First with the instance alive: refused; then after its alive key is gone. */
		assert_int_equal(r.succeeded, round == 1);
		reply_free(&r);
		txb_close(&b);
		t_del(&f->t, "/berth/c/" CL "/alive/i-1");
	}
	assert_int_equal(fx_int(f, "/berth/c/" CL "/alloc/i-1/cpu"), 0);
	assert_int_equal(fx_int(f, "/berth/c/" CL "/alloc/i-1/mem"), 0);
	assert_int_equal(fx_int(f, "/berth/c/" CL "/group/family:web/i-1"), 0);
	assert_null(t_get(&f->t, "/berth/c/" CL "/alloc/i-1/port/8003"));
	assert_null(t_get(&f->t, "/berth/c/" CL "/placed/i-1/t1"));
	fx_list(f);
	struct cache_task *t = cache_task(&f->c, "t1");
	assert_int_equal(t->rec.last_status, MODEL_TASK_STOPPED);
	assert_string_equal(t->rec.stop_reason, "instance lost");
	/* A task never placed has nothing to release. */
	fx_task(f, "t2", 1, 0, false);
	fx_list(f);
	txb_init(&b);
	assert_int_equal(
		ptxn_release_lost(&b, CL, cache_task(&f->c, "t2"), "x", 9, err, sizeof(err)),
		BERTH_EBADREQ);
	txb_close(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_worker_ptxn_fine_room, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_worker_ptxn_coarse, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_worker_ptxn_ports_distinct, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_worker_ptxn_group_commit, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_worker_ptxn_fit, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_worker_ptxn_release_lost, fx_setup,
						fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
