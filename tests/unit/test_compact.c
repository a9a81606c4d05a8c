/* tests/unit/test_compact.c: history compaction (store/compact.c): the bounds and their
 * error codes, exact hist and revs contents against an expectation computed independently,
 * every read's answer unchanged at and above the compaction point, and a history of 20,000
 * changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/msg.h"
#include "common/reply.h"
#include "store/fsm.h"
#include "store/kv.h"
#include "tests/unit/snap_check.h"
#include "tests/unit/snap_history.h"
#include "tests/unit/support.h"

#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- compaction ---- */

static void test_snapshot_compact_bounds(void **state)
{
	(void)state;
	struct tfsm t;
	tfsm_open(&t, NULL);
	snap_history_small(&t);
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.hist), 6);
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.revs), 6);

	/* Nothing compacted yet: 0 is the compaction point, so compacting at 0 is refused. */
	assert_int_equal(fsm_compacted(&t.f), 0);
	assert_int_equal(snap_check_compact(&t, 7), BERTH_EFUTUREREV);
	assert_int_equal(snap_check_compact(&t, 100), BERTH_EFUTUREREV);
	assert_int_equal(snap_check_compact(&t, 0), BERTH_ECOMPACTED);
	assert_int_equal(fsm_compacted(&t.f), 0);
	snap_check_value_at(&t, "a", 1, "1", 1, 1, 1);

	uint64_t applied = fsm_applied(&t.f);
	assert_int_equal(snap_check_compact(&t, 4), 0);
	assert_int_equal(fsm_compacted(&t.f), 4);
	assert_int_equal(fsm_revision(&t.f), 6);
	assert_int_equal(fsm_applied(&t.f), applied + 1);

	/* At C reads work; below it they answer E_COMPACTED; above current E_FUTUREREV. */
	snap_check_value_at(&t, "a", 4, "3", 1, 4, 3);
	snap_check_value_at(&t, "b", 4, "1", 3, 3, 1);
	snap_check_value_at(&t, "b", 5, NULL, 0, 0, 0);
	snap_check_value_at(&t, "c", 4, NULL, 0, 0, 0);
	snap_check_value_at(&t, "c", 6, "1", 6, 6, 1);
	snap_check_value_at(&t, "a", 0, "3", 1, 4, 3);
	assert_int_equal(snap_check_read_err(&t, snap_check_get_at("a", 3)), BERTH_ECOMPACTED);
	assert_int_equal(snap_check_read_err(&t, snap_check_get_at("a", 1)), BERTH_ECOMPACTED);
	assert_int_equal(snap_check_read_err(&t, snap_check_all_at(3)), BERTH_ECOMPACTED);
	assert_int_equal(snap_check_read_err(&t, snap_check_all_at(4)), 0);
	assert_int_equal(snap_check_read_err(&t, snap_check_all_at(7)), BERTH_EFUTUREREV);

	/* a@1, a@2 collapse into a@4; b@3 is b's newest at or before 4 and stays. */
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.hist), 4);
	assert_int_equal(snap_check_hist_entries_of(&t, "a"), 1);
	assert_int_equal(snap_check_hist_entries_of(&t, "b"), 2);
	assert_int_equal(snap_check_hist_entries_of(&t, "c"), 1);
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.revs), 2);
	assert_int_equal(snap_check_revs_min(&t), 5);

	/* At or below the compaction point: refused, nothing changes. */
	assert_int_equal(snap_check_compact(&t, 4), BERTH_ECOMPACTED);
	assert_int_equal(snap_check_compact(&t, 3), BERTH_ECOMPACTED);
	assert_int_equal(snap_check_compact(&t, 1), BERTH_ECOMPACTED);
	assert_int_equal(snap_check_compact(&t, 7), BERTH_EFUTUREREV);
	assert_int_equal(fsm_compacted(&t.f), 4);
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.hist), 4);

	/* At the current revision: b (deleted at 5) leaves no history at all. */
	assert_int_equal(snap_check_compact(&t, 6), 0);
	assert_int_equal(fsm_compacted(&t.f), 6);
	assert_int_equal(fsm_revision(&t.f), 6);
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.hist), 2);
	assert_int_equal(snap_check_hist_entries_of(&t, "a"), 1);
	assert_int_equal(snap_check_hist_entries_of(&t, "b"), 0);
	assert_int_equal(snap_check_hist_entries_of(&t, "c"), 1);
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.revs), 0);
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.keys), 2);
	snap_check_value_at(&t, "a", 6, "3", 1, 4, 3);
	snap_check_value_at(&t, "b", 6, NULL, 0, 0, 0);
	assert_int_equal(snap_check_read_err(&t, snap_check_get_at("c", 5)), BERTH_ECOMPACTED);
	assert_int_equal(snap_check_read_err(&t, snap_check_all_at(6)), 0);

	/* Writing goes on from the same revision; b is created anew. */
	assert_int_equal(snap_check_put1(&t, "b", "2"), 7);
	snap_check_value_at(&t, "b", 7, "2", 7, 7, 1);
	assert_int_equal(snap_check_hist_entries_of(&t, "b"), 1);

	/* A tombstone on the last key in hist order, the last entry compaction sees. */
	assert_int_equal(snap_check_put1(&t, "zz", "1"), 8);
	assert_int_equal(snap_check_del1(&t, "zz", false), 1);
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.hist), 5);
	assert_int_equal(snap_check_compact(&t, 9), 0);
	assert_int_equal(snap_check_hist_entries_of(&t, "zz"), 0);
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.hist), 3);
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.revs), 0);
	snap_check_value_at(&t, "zz", 9, NULL, 0, 0, 0);
	snap_check_value_at(&t, "b", 9, "2", 7, 7, 1);
	tfsm_close(&t);
}

/* The hist table as a list of (key, kind), in LMDB order. */
struct hent {
	uint8_t k[KV_HK_MAX];
	size_t n;
	uint8_t kind;
};

static struct hent *hist_list(struct tfsm *t, size_t *count)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	size_t n = 0, cap = 16;
	struct hent *h = malloc(cap * sizeof(*h));
	assert_non_null(h);
	assert_int_equal(mdb_txn_begin(t->f.kv.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_cursor_open(txn, t->f.kv.hist, &cur), 0);
	for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (n == cap) {
			cap *= 2;
			h = realloc(h, cap * sizeof(*h));
			assert_non_null(h);
		}
		assert_true(k.mv_size > 8 && k.mv_size <= KV_HK_MAX && v.mv_size >= 1);
		memcpy(h[n].k, k.mv_data, k.mv_size);
		h[n].n = k.mv_size;
		h[n].kind = ((uint8_t *)v.mv_data)[0];
		n++;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	*count = n;
	return h;
}

static uint64_t hent_rev(const struct hent *e)
{
	return kv_be64_get(e->k + e->n - 8);
}

static bool hent_same_key(const struct hent *a, const struct hent *b)
{
	return a->n == b->n && memcmp(a->k, b->k, a->n - 8) == 0;
}

/* What hist must hold after compacting at c, from the list before: every entry after c,
 * and each key's newest entry at or before c when that is a put. Written independently
 * of compact.c: one pass per key group. */
static struct hent *hist_expect(const struct hent *all, size_t n, uint64_t c, size_t *count)
{
	struct hent *out = malloc((n ? n : 1) * sizeof(*out));
	size_t m = 0;
	assert_non_null(out);
	for (size_t i = 0; i < n;) {
		size_t j = i, newest = SIZE_MAX;
		while (j < n && hent_same_key(&all[i], &all[j])) {
			if (hent_rev(&all[j]) <= c)
				newest = j;
			j++;
		}
		for (size_t x = i; x < j; x++)
			if (hent_rev(&all[x]) > c || (x == newest && all[x].kind == KV_PUT))
				out[m++] = all[x];
		i = j;
	}
	*count = m;
	return out;
}

static void hist_eq(const struct hent *got, size_t ngot, const struct hent *want, size_t nwant)
{
	assert_int_equal(ngot, nwant);
	for (size_t i = 0; i < nwant; i++) {
		assert_int_equal(got[i].n, want[i].n);
		assert_memory_equal(got[i].k, want[i].k, want[i].n);
		assert_int_equal(got[i].kind, want[i].kind);
	}
}

/* Entries in revs after revision c. */
static size_t revs_above(struct tfsm *t, uint64_t c)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	size_t n = 0;
	assert_int_equal(mdb_txn_begin(t->f.kv.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_cursor_open(txn, t->f.kv.revs, &cur), 0);
	for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		n += kv_be64_get(k.mv_data) > c;
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return n;
}

/* Compacts at c and checks hist, revs and every read against what was recorded. */
static void compact_and_check(struct tfsm *t, uint64_t c, const struct answers *a)
{
	size_t nbefore, nwant, ngot, revs_want = revs_above(t, c);
	struct hent *before = hist_list(t, &nbefore);
	struct hent *want = hist_expect(before, nbefore, c, &nwant);
	assert_true(nwant < nbefore);
	assert_int_equal(snap_check_compact(t, c), 0);
	assert_int_equal(fsm_compacted(&t->f), c);
	struct hent *got = hist_list(t, &ngot);
	hist_eq(got, ngot, want, nwant);
	assert_int_equal(snap_check_table_entries(t, t->f.kv.hist), nwant);
	assert_int_equal(snap_check_table_entries(t, t->f.kv.revs), revs_want);
	assert_true(revs_want == 0 || snap_check_revs_min(t) > c);
	snap_history_answers_check(t, snap_history_rich_keys, a);
	free(before);
	free(want);
	free(got);
}

static void test_snapshot_compact_keeps_answers(void **state)
{
	(void)state;
	struct tfsm t;
	struct answers a;
	tfsm_open(&t, NULL);
	t.f.kv.hash_mask = 0;
	snap_history_rich(&t);
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.hist), 26);
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.revs), 26);
	snap_history_answers_record(&t, snap_history_rich_keys, snap_history_rich_nkeys, &a);

	/* At 8: a/1@1 goes under a/1@6, L2@4 under L2@8, and L1's first life (put at 3,
	 * deleted at 7) entirely; it comes back at 13. */
	compact_and_check(&t, 8, &a);
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.hist), 22);
	assert_int_equal(snap_check_hist_entries_of(&t, "a/1"), 3);
	/* At 15: a/3 (deleted at 12), the lease's c/1, c/2 (14) and the prefix-deleted a/1,
	 * a/2 (15) lose everything at or before 15. */
	compact_and_check(&t, 15, &a);
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.hist), 11);
	assert_int_equal(snap_check_hist_entries_of(&t, "a/2"), 0);
	assert_int_equal(snap_check_hist_entries_of(&t, "a/3"), 0);
	assert_int_equal(snap_check_hist_entries_of(&t, "c/1"), 0);
	assert_int_equal(snap_check_hist_entries_of(&t, "c/2"), 0);
	assert_int_equal(snap_check_hist_entries_of(&t, "a/1"), 1);
	compact_and_check(&t, 21, &a);
	/* One entry per live key: b, d, n, s, L1, L3, a/1. */
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.hist), 7);
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.keys), 7);
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.revs), 0);

	/* Long keys after their bucket-mate L2 lost all history: still found, and a new
	 * write to L2 reads back right. */
	snap_check_value_at(&t, snap_history_long_keys[0], 21, "again", 13, 13, 1);
	snap_check_value_at(&t, snap_history_long_keys[2], 0, "1", 5, 5, 1);
	snap_check_value_at(&t, snap_history_long_keys[1], 0, NULL, 0, 0, 0);
	assert_int_equal(snap_check_put1(&t, snap_history_long_keys[1], "3"), 22);
	snap_check_value_at(&t, snap_history_long_keys[1], 22, "3", 22, 22, 1);
	snap_check_value_at(&t, snap_history_long_keys[0], 22, "again", 13, 13, 1);
	snap_check_value_at(&t, snap_history_long_keys[2], 22, "1", 5, 5, 1);
	snap_history_answers_free(&a);
	tfsm_close(&t);
}

/* ---- a big history: 20,000 changes over 50 keys ---- */

#define BIG_N 20000
#define BIG_KEYS 50
#define BIG_BATCH 1000

/* Change i (revision i + 1) deletes key[i] when del[i], else puts "v<i + 1>" there. */
struct big {
	uint8_t key[BIG_N];
	bool del[BIG_N];
};

/* A key's state as reads report it; value "v<rev>" is the revision that wrote it. */
struct big_model {
	bool live[BIG_KEYS];
	int64_t create[BIG_KEYS], mod[BIG_KEYS], ver[BIG_KEYS];
};

static void big_step(struct big_model *m, const struct big *b, uint64_t rev)
{
	unsigned k = b->key[rev - 1];
	if (b->del[rev - 1]) {
		assert_true(m->live[k]);
		m->live[k] = false;
		return;
	}
	if (!m->live[k]) {
		m->live[k] = true;
		m->create[k] = (int64_t)rev;
		m->ver[k] = 0;
	}
	m->mod[k] = (int64_t)rev;
	m->ver[k]++;
}

static void big_gen(struct big *b)
{
	struct big_model m = {0};
	uint32_t x = 12345;
	for (uint64_t i = 0; i < BIG_N; i++) {
		x = x * 1103515245u + 12345u;
		b->key[i] = (uint8_t)((x >> 16) % BIG_KEYS);
		b->del[i] = m.live[b->key[i]] && (x >> 8) % 5 == 0;
		big_step(&m, b, i + 1);
	}
}

static void big_apply(struct tfsm *t, const struct big *b)
{
	static char keys[BIG_BATCH][8], vals[BIG_BATCH][12];
	static struct msg_op ops[BIG_BATCH];
	static struct msg_cmd cmds[BIG_BATCH];
	for (size_t base = 0; base < BIG_N; base += BIG_BATCH) {
		for (size_t j = 0; j < BIG_BATCH; j++) {
			size_t i = base + j;
			snprintf(keys[j], sizeof(keys[j]), "k%02u", (unsigned)b->key[i]);
			snprintf(vals[j], sizeof(vals[j]), "v%zu", i + 1);
			ops[j] = b->del[i] ? op_del(keys[j]) : op_put(keys[j], vals[j]);
			cmds[j] = cmd_txn(NULL, 0, &ops[j], 1, NULL, 0);
		}
		assert_int_equal(snap_check_batch_apply(t, cmds, BIG_BATCH, NULL), 0);
		assert_int_equal(fsm_revision(&t->f), base + BIG_BATCH);
	}
}

/* Reads every key at rev and compares with the model. */
static void big_check(struct tfsm *t, uint64_t rev, const struct big_model *m)
{
	struct msg_op op = snap_check_all_at(rev);
	struct msg_txn x = {0, 1, 0, NULL, &op, NULL};
	struct reply r;
	char key[8], val[12];
	assert_int_equal(tfsm_read(t, &x, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.nops, 1);
	uint32_t j = 0;
	for (unsigned k = 0; k < BIG_KEYS; k++) {
		if (!m->live[k])
			continue;
		assert_true(j < r.ops[0].nkvs);
		const struct reply_kv *kv = &r.ops[0].kvs[j++];
		snprintf(key, sizeof(key), "k%02u", k);
		snprintf(val, sizeof(val), "v%lld", (long long)m->mod[k]);
		assert_int_equal(kv->key.n, strlen(key));
		assert_memory_equal(kv->key.p, key, kv->key.n);
		assert_int_equal(kv->value.n, strlen(val));
		assert_memory_equal(kv->value.p, val, kv->value.n);
		assert_int_equal(kv->create_rev, m->create[k]);
		assert_int_equal(kv->mod_rev, m->mod[k]);
		assert_int_equal(kv->version, m->ver[k]);
	}
	assert_int_equal(r.ops[0].nkvs, j);
	assert_int_equal(r.ops[0].count, j);
	reply_free(&r);
}

static void test_snapshot_compact_big_history(void **state)
{
	(void)state;
	const uint64_t c = 18500;
	struct tfsm t;
	struct big *b = malloc(sizeof(*b));
	struct big_model m = {0};
	size_t live_at_c = 0;
	assert_non_null(b);
	big_gen(b);
	tfsm_open(&t, NULL);
	big_apply(&t, b);
	assert_int_equal(fsm_revision(&t.f), BIG_N);
	assert_int_equal(fsm_applied(&t.f), BIG_N);
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.hist), BIG_N);
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.revs), BIG_N);

	/* The model agrees with the store before compacting (spot checks around chunks). */
	for (uint64_t rev = 1; rev <= BIG_N; rev++) {
		big_step(&m, b, rev);
		if (rev == 1 || rev == 4096 || rev == 4097 || rev == 10000 || rev == c - 1 ||
		    rev == c || rev == BIG_N)
			big_check(&t, rev, &m);
		if (rev == c)
			for (unsigned k = 0; k < BIG_KEYS; k++)
				live_at_c += m.live[k];
	}
	assert_true(live_at_c > 0 && live_at_c < BIG_KEYS);

	size_t nbefore, nwant, ngot;
	struct hent *before = hist_list(&t, &nbefore);
	struct hent *want = hist_expect(before, nbefore, c, &nwant);
	assert_int_equal(nwant, (BIG_N - c) + live_at_c);
	assert_int_equal(snap_check_compact(&t, c), 0);
	assert_int_equal(fsm_revision(&t.f), BIG_N);
	assert_int_equal(fsm_compacted(&t.f), c);
	struct hent *got = hist_list(&t, &ngot);
	hist_eq(got, ngot, want, nwant);
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.hist), (BIG_N - c) + live_at_c);
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.revs), BIG_N - c);
	assert_int_equal(snap_check_revs_min(&t), c + 1);

	/* Every retained revision reads right; the ones before answer E_COMPACTED. */
	memset(&m, 0, sizeof(m));
	for (uint64_t rev = 1; rev <= BIG_N; rev++) {
		big_step(&m, b, rev);
		if (rev >= c)
			big_check(&t, rev, &m);
		else if (rev == c - 1 || rev == 1 || rev % 4096 == 0)
			assert_int_equal(snap_check_read_err(&t, snap_check_all_at(rev)),
					 BERTH_ECOMPACTED);
	}
	free(before);
	free(want);
	free(got);
	free(b);
	tfsm_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshot_compact_bounds),
		cmocka_unit_test(test_snapshot_compact_keeps_answers),
		cmocka_unit_test(test_snapshot_compact_big_history),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
