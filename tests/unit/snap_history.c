/* tests/unit/snap_history.c: the histories of the snapshot and compaction tests, and the
 * record of their answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/snap_history.h"

#include "common/err.h"
#include "store/fsm.h"
#include "tests/unit/snap_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The history a, b, c below: revisions 1..6. */
void snap_history_small(struct tfsm *t)
{
	assert_int_equal(snap_check_put1(t, "a", "1"), 1);
	assert_int_equal(snap_check_put1(t, "a", "2"), 2);
	assert_int_equal(snap_check_put1(t, "b", "1"), 3);
	assert_int_equal(snap_check_put1(t, "a", "3"), 4);
	assert_int_equal(snap_check_del1(t, "b", false), 1);
	assert_int_equal(fsm_revision(&t->f), 5);
	assert_int_equal(snap_check_put1(t, "c", "1"), 6);
}

/* Keys longer than KV_INLINE: with hash_mask 0 all three share one bucket and hash. */
char snap_history_long_keys[3][KV_INLINE + 16];

static void long_keys_init(void)
{
	static const char *tails[] = {"-one", "-two", "-three"};
	for (int i = 0; i < 3; i++) {
		memset(snap_history_long_keys[i], 'L', KV_INLINE);
		strcpy(snap_history_long_keys[i] + KV_INLINE, tails[i]);
	}
}

/* Every key snap_history_rich touches, and one it never does. */
const char *snap_history_rich_keys[15];
size_t snap_history_rich_nkeys;

/* A history of 21 revisions: puts, multi-op and failed-compare txns, adds, single, prefix
 * and lease deletes, re-created keys, long keys colliding in one bucket, a session write,
 * a live lease with a key. The caller has set t->f.kv.hash_mask = 0. Returns the session
 * id (its last write was seq 1). */
uint64_t snap_history_rich(struct tfsm *t)
{
	long_keys_init();
	const char *L1 = snap_history_long_keys[0], *L2 = snap_history_long_keys[1],
		   *L3 = snap_history_long_keys[2];
	const char *const keys[] = {"a/1", "a/2", "a/3", "b", "c/1", "c/2", "d",
				    "n",   "s",   "zz",  L1,  L2,    L3};
	snap_history_rich_nkeys = sizeof(keys) / sizeof(keys[0]);
	memcpy(snap_history_rich_keys, keys, sizeof(keys));
	struct msg_op ops[3];

	assert_int_equal(snap_check_put1(t, "a/1", "1"), 1);
	assert_int_equal(snap_check_put1(t, "a/2", "1"), 2);
	assert_int_equal(snap_check_put1(t, L1, "1"), 3);
	assert_int_equal(snap_check_put1(t, L2, "1"), 4);
	ops[0] = op_put("a/3", "1");
	ops[1] = op_put("b", "1");
	ops[2] = op_put(L3, "1");
	assert_int_equal(snap_check_txn_ok(t, NULL, 0, ops, 3, NULL, 0), 5);
	assert_int_equal(snap_check_put1(t, "a/1", "2"), 6);
	assert_int_equal(snap_check_del1(t, L1, false), 1);
	assert_int_equal(snap_check_put1(t, L2, "2"), 8);
	uint64_t l1 =
		snap_check_cmd_ok(t, (struct msg_cmd){.type = MSG_CMD_LEASE_GRANT, .ttl = 60});
	assert_int_equal(l1, 1);
	ops[0] = op_put("c/1", "1");
	ops[0].lease = l1;
	assert_int_equal(snap_check_txn_ok(t, NULL, 0, ops, 1, NULL, 0), 9);
	ops[0] = op_put("c/2", "1");
	ops[0].lease = l1;
	assert_int_equal(snap_check_txn_ok(t, NULL, 0, ops, 1, NULL, 0), 10);
	ops[0] = op_add("n", 5);
	assert_int_equal(snap_check_txn_ok(t, NULL, 0, ops, 1, NULL, 0), 11);
	struct msg_compare cmp = cmp_val("a/1", MSG_EQ, "nope");
	ops[0] = op_put("a/2", "2");
	ops[1] = op_del("a/3");
	assert_int_equal(snap_check_txn_ok(t, &cmp, 1, NULL, 0, ops, 2), 12);
	assert_int_equal(snap_check_put1(t, L1, "again"), 13);
	snap_check_cmd_ok(t, (struct msg_cmd){.type = MSG_CMD_LEASE_REVOKE, .lease = l1});
	assert_int_equal(fsm_revision(&t->f), 14);
	assert_int_equal(snap_check_del1(t, "a/", true), 2);
	assert_int_equal(fsm_revision(&t->f), 15);
	uint64_t sid = snap_check_cmd_ok(
		t, (struct msg_cmd){.type = MSG_CMD_SESSION_OPEN, .time_ms = 5000, .ttl = 600000});
	assert_int_equal(sid, t->index);
	struct msg_op sop = op_put("s", "1");
	struct msg_cmd sc = cmd_txn(NULL, 0, &sop, 1, NULL, 0);
	sc.session = sid;
	sc.seq = 1;
	sc.time_ms = 6000;
	struct reply r;
	snap_check_apply_ok(t, &sc, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 16);
	reply_free(&r);
	ops[0] = op_add("n", 1);
	assert_int_equal(snap_check_txn_ok(t, NULL, 0, ops, 1, NULL, 0), 17);
	assert_int_equal(snap_check_put1(t, "a/1", "3"), 18);
	assert_int_equal(snap_check_del1(t, L2, false), 1);
	assert_int_equal(snap_check_put1(t, "b", "2"), 20);
	assert_int_equal(
		snap_check_cmd_ok(
			t, (struct msg_cmd){.type = MSG_CMD_LEASE_GRANT, .lease = 77, .ttl = 30}),
		77);
	ops[0] = op_put("d", "live");
	ops[0].lease = 77;
	assert_int_equal(snap_check_txn_ok(t, NULL, 0, ops, 1, NULL, 0), 21);
	snap_check_cmd_ok(t, (struct msg_cmd){.type = MSG_CMD_TICK, .time_ms = 7000});
	assert_int_equal(fsm_revision(&t->f), 21);
	return sid;
}

/* Every read's reply bytes at every revision 1..rev: [all keys, then each key]. Reads below
 * the compaction point are recorded as their E_COMPACTED replies. */

void snap_history_answers_record(struct tfsm *t, const char *const *keys, size_t nkeys,
				 struct answers *a)
{
	a->nrev = fsm_revision(&t->f);
	a->nkeys = nkeys;
	a->p = calloc(a->nrev * (nkeys + 1), sizeof(*a->p));
	a->n = calloc(a->nrev * (nkeys + 1), sizeof(*a->n));
	assert_non_null(a->p);
	assert_non_null(a->n);
	for (uint64_t r = 1; r <= a->nrev; r++) {
		for (size_t j = 0; j <= nkeys; j++) {
			size_t i = (r - 1) * (nkeys + 1) + j;
			int err;
			a->p[i] = snap_check_read_raw(t,
						      j == 0 ? snap_check_all_at(r)
							     : snap_check_get_at(keys[j - 1], r),
						      &a->n[i], &err);
			assert_int_equal(err, r < fsm_compacted(&t->f) ? BERTH_ECOMPACTED : 0);
		}
	}
}

/* Every recorded read again: the same bytes at and above the compaction point, E_COMPACTED
 * below it. */
void snap_history_answers_check(struct tfsm *t, const char *const *keys, const struct answers *a)
{
	assert_int_equal(fsm_revision(&t->f), a->nrev);
	for (uint64_t r = 1; r <= a->nrev; r++) {
		for (size_t j = 0; j <= a->nkeys; j++) {
			size_t i = (r - 1) * (a->nkeys + 1) + j, n;
			int err;
			uint8_t *p = snap_check_read_raw(t,
							 j == 0 ? snap_check_all_at(r)
								: snap_check_get_at(keys[j - 1], r),
							 &n, &err);
			if (r < fsm_compacted(&t->f)) {
				assert_int_equal(err, BERTH_ECOMPACTED);
			} else {
				assert_int_equal(err, 0);
				assert_int_equal(n, a->n[i]);
				assert_memory_equal(p, a->p[i], n);
			}
			free(p);
		}
	}
}

void snap_history_answers_free(struct answers *a)
{
	for (size_t i = 0; i < a->nrev * (a->nkeys + 1); i++)
		free(a->p[i]);
	free(a->p);
	free(a->n);
}

char snap_history_busy_keys[BUSY_KEYS + 40][16];
char snap_history_busy_vals[BUSY_KEYS + 40][BUSY_VALUE + 1];

void snap_history_busy_fill(size_t i, char c)
{
	snprintf(snap_history_busy_keys[i], sizeof(snap_history_busy_keys[i]), "busy/%03zu", i);
	memset(snap_history_busy_vals[i], c + (char)(i % 20), BUSY_VALUE);
	snap_history_busy_vals[i][BUSY_VALUE] = 0;
}
