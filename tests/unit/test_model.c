/* tests/unit/test_model.c: model-based randomized test of the state machine (store/fsm.h).
 *
 * Random commands go both to the LMDB state machine and to a small in-memory reference
 * model (model.c) written from the documented semantics (DESIGN.md section 3, docs/store.md,
 * store/txn.h, store/fsm.h, store/compact.h, store/lease.h, common/msg.h). Every reply is
 * compared, and after every step so are the whole key space (a prefix range of everything
 * through fsm_read, and every 8th step the same at a past revision), the revision, the
 * compaction point, the applied index and the lease table.
 *
 * The run prints "model: seed=N txns=M". BERTH_MODEL_SEED=N replays it exactly;
 * BERTH_MODEL_TXNS=M runs M commands in the main test instead of 20,000 (the long-key test
 * runs M/2, the determinism test M/4). On a mismatch it prints the seed, the step, the
 * command and the expected and actual replies, then fails. The end of the file keeps the
 * bugs the model found in store/, each as a regression test on its smallest input.
 *
 * The parts: the model (model.c) over a fixed key universe (model_keys.c), the generator
 * (model_gen.c) drawing from a seeded rng (model_rng.c), and the driver that runs them side
 * by side and reports a mismatch (model_run.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/msg.h"
#include "common/reply.h"
#include "store/fsm.h"
#include "tests/unit/model.h"
#include "tests/unit/model_gen.h"
#include "tests/unit/rng.h"
#include "tests/unit/model_run.h"
#include "tests/unit/support.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- The tests. ---- */

/* The main run: every kind of command, reads, batches, reopens. */
static void test_model_random(void **state)
{
	struct run *x = *state;
	model_run_start(x, "random", 1);
	model_run_random(x, true, true);
}

/* Long keys only collide in a bucket by hash when the hash is narrowed: with a mask of 0x3
 * every long key with the same 448-byte prefix lands in one of four hashes, so slots are
 * shared and reused. The mask is not persistent; run_reopen sets it again. */
static void test_model_long_key_collisions(void **state)
{
	struct run *x = *state;
	x->hash_mask = 0x3;
	x->long_pct = 60;
	x->txns = model_run_txns / 2;
	model_run_start(x, "long-key collisions", 2);
	model_run_random(x, true, true);
}

struct membuf {
	uint8_t *p;
	size_t n, cap;
};

static int membuf_write(void *ctx, const void *buf, size_t n)
{
	struct membuf *b = ctx;
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 1 << 16;
		while (cap < b->n + n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (p == NULL)
			return BERTH_ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, buf, n);
	b->n += n;
	return 0;
}

/* Determinism: the same commands applied one entry per batch and in batches of random
 * size give the same replies, byte for byte, and the same snapshot stream. */
static void test_model_batches_deterministic(void **state)
{
	struct run *x = *state;
	struct membuf sa = {0}, sb = {0};
	x->txns = model_run_txns / 4;
	model_run_start(x, "batches deterministic", 3);
	tfsm_open(&x->t2, &x->cfg);
	x->open2 = true;
	model_run_check_state(x);
	while (x->step < x->txns) {
		size_t k = 1 + rng_below(&x->rng, GEN_BATCH);
		uint64_t first = x->step;
		for (size_t i = 0; i < k; i++) {
			model_gen_cmd(x, &x->g, true);
			model_run_encode_cmd(&x->enc[i], &x->g.c);
			mp_buf_reset(&x->out);
			int rv = fsm_apply_one(&x->t.f, ++x->t.index, x->enc[i].data, x->enc[i].len,
					       &x->out);
			model_run_check_fatal(x, rv, &x->t.f, &x->g.c, false);
			reply_free(&x->exp);
			reply_free(&x->act);
			assert_int_equal(reply_decode(x->out.data, x->out.len, &x->act), 0);
			model_apply(&x->m, &x->g.c, &x->exp);
			model_run_expect(x, &x->g.c, false);
			free(x->arep[i]);
			x->arep[i] = malloc(x->out.len);
			assert_non_null(x->arep[i]);
			memcpy(x->arep[i], x->out.data, x->out.len);
			x->arep_n[i] = x->out.len;
			x->step++;
			model_run_check_state(x);
		}
		assert_int_equal(fsm_batch_begin(&x->t2.f), 0);
		for (size_t i = 0; i < k; i++) {
			mp_buf_reset(&x->out);
			assert_int_equal(fsm_apply(&x->t2.f, ++x->t2.index, x->enc[i].data,
						   x->enc[i].len, &x->out),
					 0);
			if (x->out.len != x->arep_n[i] ||
			    memcmp(x->out.data, x->arep[i], x->out.len) != 0)
				model_run_batch_differs(x, first + i, i, k);
		}
		assert_int_equal(fsm_batch_commit(&x->t2.f), 0);
		x->batches++;
	}
	assert_int_equal(fsm_applied(&x->t2.f), x->t.index);
	assert_int_equal(fsm_revision(&x->t2.f), x->m.rev);
	int rva = fsm_snapshot_write(&x->t.f, membuf_write, &sa);
	int rvb = fsm_snapshot_write(&x->t2.f, membuf_write, &sb);
	bool same = rva == 0 && rvb == 0 && sa.n == sb.n && memcmp(sa.p, sb.p, sa.n) == 0;
	size_t na = sa.n, nb = sb.n;
	free(sa.p);
	free(sb.p);
	assert_int_equal(rva, 0);
	assert_int_equal(rvb, 0);
	if (!same)
		fail_msg("seed=%" PRIu64 ": snapshots differ: %zu bytes one entry per batch, %zu "
			 "bytes in batches",
			 x->seed, na, nb);
	assert_true(na > 1000);
	model_run_report(x);
}

/* ---- Bugs the model found in store/, each kept as a regression test on its smallest
 * input. The random generator produces both shapes too. ---- */

/* A range at revision R inside a write txn, where R is the revision the txn started from,
 * answers the state as of R (docs/store.md: "A read at revision R answers the state as of R
 * from the history"), which does not include the txn's own writes: they are at R + 1, and
 * etcd answers the same. txn_range once took R for "current" and showed them. */
static void test_model_range_at_start_rev_excludes_own_writes(void **state)
{
	struct tfsm t;
	struct reply r;
	(void)state;
	tfsm_open(&t, NULL);
	t_put(&t, "k", "v1"); /* rev 1 */
	t_put(&t, "j", "w1"); /* rev 2 */
	struct msg_op ops[4] = {op_put("k", "v2"), op_del("j"), op_get("k"), op_range("", NULL)};
	ops[2].rev = 2;
	ops[3].rev = 2;
	struct msg_cmd c = cmd_txn(NULL, 0, ops, 4, NULL, 0);
	assert_int_equal(tfsm_apply(&t, &c, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 3);
	assert_int_equal(r.nops, 4);
	assert_int_equal(r.ops[1].deleted, 1);
	assert_int_equal(r.ops[2].nkvs, 1);
	const struct reply_kv *k = &r.ops[2].kvs[0];
	bool k_ok = k->mod_rev == 1 && k->version == 1 && k->value.n == 2 &&
		    memcmp(k->value.p, "v1", 2) == 0;
	int64_t k_mod = k->mod_rev;
	uint64_t n = r.ops[3].count;
	reply_free(&r);
	tfsm_close(&t);
	if (!k_ok || n != 2)
		fail_msg("a range at rev 2 after put k, del j in the txn that makes rev 3: k has "
			 "mod_rev %" PRId64
			 " (expected 1, value \"v1\"), prefix \"\" counts %" PRIu64
			 " keys (expected 2: j and k as of rev 2)",
			 k_mod, n);
}

/* An empty byte string is often {NULL, 0} (the decoder leaves absent fields so, and so does
 * B(NULL)). A prefix range with key {NULL, 0} reached kv_scan_lower (store/kv.c), which
 * called memcpy(out, NULL, 0): undefined behaviour, which UBSan stops at. Only the sanitizer
 * build showed it. */
static void test_model_empty_prefix_null_key(void **state)
{
	struct tfsm t;
	struct reply r;
	(void)state;
	tfsm_open(&t, NULL);
	t_put(&t, "a", "1");
	t_put(&t, "b", "2");
	struct msg_op all = {.type = MSG_OP_RANGE, .flags = MSG_F_PREFIX, .key = {NULL, 0}};
	struct msg_txn txn = {0, 1, 0, NULL, &all, NULL};
	assert_int_equal(tfsm_read(&t, &txn, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 2);
	assert_int_equal(r.ops[0].count, 2);
	assert_int_equal(r.ops[0].nkvs, 2);
	reply_free(&r);
	tfsm_close(&t);
}

int main(void)
{
	const char *seed = getenv("BERTH_MODEL_SEED");
	const char *txns = getenv("BERTH_MODEL_TXNS");
	if (seed != NULL && *seed != 0) {
		model_run_seed = strtoull(seed, NULL, 10);
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		model_run_seed = ((uint64_t)ts.tv_sec * 1000000007ull) ^ (uint64_t)ts.tv_nsec;
	}
	if (txns != NULL && *txns != 0)
		model_run_txns = strtoull(txns, NULL, 10);
	if (model_run_txns < 8)
		model_run_txns = 8;
	printf("model: seed=%" PRIu64 " txns=%" PRIu64 "\n", model_run_seed, model_run_txns);
	fflush(stdout);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_model_random, model_run_setup,
						model_run_teardown),
		cmocka_unit_test_setup_teardown(test_model_long_key_collisions, model_run_setup,
						model_run_teardown),
		cmocka_unit_test_setup_teardown(test_model_batches_deterministic, model_run_setup,
						model_run_teardown),
		cmocka_unit_test(test_model_range_at_start_rev_excludes_own_writes),
		cmocka_unit_test(test_model_empty_prefix_null_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
