/* tests/unit/test_fsm_long_keys.c: keys longer than KV_INLINE (store/kv.c): buckets,
 * order against short keys, past revisions, hash collisions and slots kept across history. */
#include "tests/unit/fsm_check.h"

#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==== 1. long keys ==== */

#define NLONG 14

/* Short and long keys around one 448-byte prefix P = 'p' * 448. */
static void long_keys(struct fsm_check_lkey *k, struct bytes *out)
{
	uint8_t z[1024];
	memset(z, 'z', sizeof(z));
	size_t i = 0;
	out[i] = fsm_check_lkey(&k[i], 447, NULL, 0), i++;       /* short, prefix of P */
	out[i] = fsm_check_lkey(&k[i], KV_INLINE, NULL, 0), i++; /* P itself: short */
	out[i] = fsm_check_lkey(&k[i], KV_INLINE, "\0", 1), i++; /* P.0x00: long */
	out[i] = fsm_check_lkey(&k[i], KV_INLINE, "\0\0", 2), i++;
	out[i] = fsm_check_lkey(&k[i], KV_INLINE, "a", 1), i++;
	out[i] = fsm_check_lkey(&k[i], KV_INLINE, z, 1024 - KV_INLINE), i++; /* 1024 bytes */
	out[i] = fsm_check_lkey(&k[i], KV_INLINE, "b", 1), i++;
	out[i] = fsm_check_lkey(&k[i], KV_INLINE, "\xff", 1), i++;
	out[i] = fsm_check_lkey(&k[i], KV_INLINE, "\xff\xff", 2), i++;
	out[i] = fsm_check_lkey(&k[i], 1024, NULL, 0), i++; /* P . 'p' * 576 */
	out[i] = fsm_check_lkey(&k[i], 447, "q", 1), i++;   /* short, after P's bucket */
	out[i] = fsm_check_lkey(&k[i], 447, "qa", 2), i++;  /* another bucket */
	out[i] = fsm_check_lkey(&k[i], 100, "a", 1), i++;   /* short, before all */
	out[i] = fsm_check_lkey(&k[i], KV_INLINE, "a\0", 2), i++;
	assert_int_equal(i, NLONG);
}

static void test_fsm_long_keys_put_get_delete(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	static struct fsm_check_lkey k[NLONG];
	struct bytes keys[NLONG];
	char v[8];
	tfsm_open(t, NULL);
	long_keys(k, keys);
	for (size_t i = 0; i < NLONG; i++) {
		snprintf(v, sizeof(v), "v%zu", i);
		fsm_check_put_ok(t, keys[i], B(v));
	}
	for (size_t i = 0; i < NLONG; i++) {
		snprintf(v, sizeof(v), "v%zu", i);
		CHECK_GET(t, keys[i], 0, B(v), (int64_t)i + 1, (int64_t)i + 1, 1);
	}
	/* A long key 1 byte away from a stored one is another key. */
	struct fsm_check_lkey other;
	CHECK_MISSING(t, fsm_check_lkey(&other, KV_INLINE, "c", 1), 0);
	CHECK_MISSING(t, fsm_check_lkey(&other, 1023, NULL, 0), 0);

	/* Overwrite, delete and recreate a long key; its neighbours do not move. */
	fsm_check_put_ok(t, keys[4], B("again")); /* 15 */
	CHECK_GET(t, keys[4], 0, B("again"), 5, 15, 2);
	struct msg_op op = fsm_check_del_b(keys[4]);
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 16);
	assert_int_equal(r.ops[0].deleted, 1);
	reply_free(&r);
	CHECK_MISSING(t, keys[4], 0);
	CHECK_GET(t, keys[5], 0, B("v5"), 6, 6, 1);
	CHECK_GET(t, keys[13], 0, B("v13"), 14, 14, 1);
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.rev, 16);
	assert_int_equal(r.ops[0].deleted, 0);
	reply_free(&r);
	fsm_check_put_ok(t, keys[4], B("reborn")); /* 17 */
	CHECK_GET(t, keys[4], 0, B("reborn"), 17, 17, 1);
	CHECK_GET(t, keys[4], 15, B("again"), 5, 15, 2);
	CHECK_MISSING(t, keys[4], 16);

	/* A long key modified twice in one txn. */
	struct fsm_check_state s;
	struct msg_op twice[2] = {fsm_check_put_b(keys[5], B("1")), fsm_check_del_b(keys[5])};
	fsm_check_state_take(t, &s);
	fsm_check_run_ops(t, twice, 2, &r);
	CHECK_ERR(&r, BERTH_EDUPKEY, 17);
	CHECK_UNCHANGED(t, &s);
	fsm_check_close(t);
}

static void test_fsm_long_keys_range_order(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	static struct fsm_check_lkey k[NLONG];
	struct bytes keys[NLONG], sorted[NLONG];
	struct msg_op op;
	struct fsm_check_lkey lo, hi;
	tfsm_open(t, NULL);
	long_keys(k, keys);
	/* Put in reverse order so that insertion order is not key order. */
	for (size_t i = NLONG; i-- > 0;)
		fsm_check_put_ok(t, keys[i], B("v"));
	memcpy(sorted, keys, sizeof(keys));
	qsort(sorted, NLONG, sizeof(sorted[0]), fsm_check_bytes_qsort_cmp);
	/* Spelled out (P = 'p' * 448): 0 'p'*100 "a", 1 'p'*447, 2 P, 3 P "\0", 4 P "\0\0",
	 * 5 P "a", 6 P "a\0", 7 P "b", 8 P 'p'*576, 9 P 'z'*576, 10 P "\xff", 11 P "\xff\xff",
	 * 12 'p'*447 "q", 13 'p'*447 "qa". */
	static const size_t expect[NLONG] = {12, 0, 1, 2, 3, 4, 13, 6, 9, 5, 7, 8, 10, 11};
	for (size_t i = 0; i < NLONG; i++)
		assert_true(fsm_check_bytes_cmp(sorted[i], keys[expect[i]]) == 0);

	CHECK_RANGE(t, fsm_check_all_keys(MSG_OP_RANGE), sorted, NLONG, NLONG, false);
	/* Through the log too. */
	op = fsm_check_prefix(MSG_OP_RANGE, B("p"));
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	fsm_check_keys_at(__FILE__, __LINE__, &r.ops[0], sorted, NLONG);
	reply_free(&r);
	/* The prefix P: P and its whole bucket. */
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, fsm_check_lkey(&lo, KV_INLINE, NULL, 0)),
		    sorted + 2, 10, 10, false);
	/* A long prefix. */
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, fsm_check_lkey(&lo, KV_INLINE, "a", 1)),
		    sorted + 5, 2, 2, false);
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, fsm_check_lkey(&lo, KV_INLINE, "\xff", 1)),
		    sorted + 10, 2, 2, false);
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, fsm_check_lkey(&lo, KV_INLINE, "\0", 1)),
		    sorted + 3, 2, 2, false);
	/* Intervals with long bounds inside the bucket. */
	CHECK_RANGE(t,
		    fsm_check_span(MSG_OP_RANGE, fsm_check_lkey(&lo, KV_INLINE, "a", 1),
				   fsm_check_lkey(&hi, KV_INLINE, "b", 1)),
		    sorted + 5, 2, 2, false);
	CHECK_RANGE(t,
		    fsm_check_span(MSG_OP_RANGE, fsm_check_lkey(&lo, KV_INLINE, "\0\0", 2),
				   fsm_check_lkey(&hi, KV_INLINE, "a\0", 2)),
		    sorted + 4, 2, 2, false);
	CHECK_RANGE(t,
		    fsm_check_span(MSG_OP_RANGE, fsm_check_lkey(&lo, KV_INLINE, "\0\0", 2),
				   fsm_check_lkey(&hi, KV_INLINE, "a\0\0", 3)),
		    sorted + 4, 3, 3, false);
	CHECK_RANGE(t,
		    fsm_check_span(MSG_OP_RANGE, fsm_check_lkey(&lo, KV_INLINE, "b", 1), LIT("\0")),
		    sorted + 7, 7, 7, false);
	/* Short start, long end; long start, short end. */
	CHECK_RANGE(t,
		    fsm_check_span(MSG_OP_RANGE, fsm_check_lkey(&lo, 447, NULL, 0),
				   fsm_check_lkey(&hi, KV_INLINE, "a", 1)),
		    sorted + 1, 4, 4, false);
	CHECK_RANGE(t,
		    fsm_check_span(MSG_OP_RANGE, fsm_check_lkey(&lo, KV_INLINE, "c", 1),
				   fsm_check_lkey(&hi, 447, "q", 1)),
		    sorted + 8, 4, 4, false);
	CHECK_RANGE(t,
		    fsm_check_span(MSG_OP_RANGE, fsm_check_lkey(&lo, KV_INLINE, "c", 1),
				   fsm_check_lkey(&hi, 447, "qa", 2)),
		    sorted + 8, 5, 5, false);
	/* Limit inside the bucket. */
	op = fsm_check_prefix(MSG_OP_RANGE, fsm_check_lkey(&lo, KV_INLINE, NULL, 0));
	op.limit = 4;
	CHECK_RANGE(t, op, sorted + 2, 4, 10, true);
	/* Count only. */
	op.limit = 0;
	op.flags |= MSG_F_COUNT_ONLY;
	CHECK_RANGE(t, op, sorted, 0, 10, false);

	/* Delete a range inside the bucket, then read around it. */
	op = fsm_check_span(MSG_OP_DEL, fsm_check_lkey(&lo, KV_INLINE, "\0\0", 2),
			    fsm_check_lkey(&hi, KV_INLINE, "b", 1));
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, NLONG + 1);
	assert_int_equal(r.ops[0].deleted, 3);
	reply_free(&r);
	{
		struct bytes left[NLONG - 3];
		memcpy(left, sorted, 4 * sizeof(left[0]));
		memcpy(left + 4, sorted + 7, 7 * sizeof(left[0]));
		CHECK_RANGE(t, fsm_check_all_keys(MSG_OP_RANGE), left, NLONG - 3, NLONG - 3, false);
	}
	op = fsm_check_all_keys(MSG_OP_RANGE);
	op.rev = NLONG;
	CHECK_RANGE(t, op, sorted, NLONG, NLONG, false);
	/* Delete the bucket by prefix. */
	op = fsm_check_prefix(MSG_OP_DEL, fsm_check_lkey(&lo, KV_INLINE, "", 0));
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.ops[0].deleted, 7);
	reply_free(&r);
	struct bytes rest[4] = {sorted[0], sorted[1], sorted[12], sorted[13]};
	CHECK_RANGE(t, fsm_check_all_keys(MSG_OP_RANGE), rest, 4, 4, false);
	fsm_check_close(t);
}

static void test_fsm_long_keys_past_revisions(void **state)
{
	struct tfsm *t = *state;
	struct fsm_check_lkey a, b, c, p;
	tfsm_open(t, NULL);
	struct bytes ka = fsm_check_lkey(&a, KV_INLINE, "a", 1),
		     kb = fsm_check_lkey(&b, KV_INLINE, "b", 1);
	struct bytes kc = fsm_check_lkey(&c, 600, NULL, 0);
	struct bytes kp = fsm_check_lkey(&p, KV_INLINE, NULL, 0);
	fsm_check_put_ok(t, ka, B("a1")); /* 1 */
	fsm_check_put_ok(t, kb, B("b1")); /* 2 */
	fsm_check_put_ok(t, ka, B("a2")); /* 3 */
	t_del(t, "x");                    /* missing: no revision */
	{
		struct msg_op op = fsm_check_del_b(kb);
		struct reply r;
		fsm_check_run_ops(t, &op, 1, &r); /* 4 */
		assert_int_equal(r.rev, 4);
		reply_free(&r);
	}
	fsm_check_put_ok(t, kc, B("c1")); /* 5 */
	fsm_check_put_ok(t, kb, B("b2")); /* 6 */
	fsm_check_put_ok(t, kp, B("p1")); /* 7 */

	CHECK_GET(t, ka, 1, B("a1"), 1, 1, 1);
	CHECK_GET(t, ka, 2, B("a1"), 1, 1, 1);
	CHECK_GET(t, ka, 3, B("a2"), 1, 3, 2);
	CHECK_MISSING(t, kb, 1);
	CHECK_GET(t, kb, 3, B("b1"), 2, 2, 1);
	CHECK_MISSING(t, kb, 4);
	CHECK_MISSING(t, kb, 5);
	CHECK_GET(t, kb, 6, B("b2"), 6, 6, 1);
	CHECK_MISSING(t, kc, 4);
	CHECK_GET(t, kc, 5, B("c1"), 5, 5, 1);
	CHECK_MISSING(t, kp, 6);
	CHECK_GET(t, kp, 7, B("p1"), 7, 7, 1);

	struct bytes at3[] = {ka, kb}, at5[] = {ka, kc}, at7[] = {kp, ka, kb, kc};
	struct msg_op op = fsm_check_prefix(MSG_OP_RANGE, kp);
	op.rev = 3;
	CHECK_RANGE(t, op, at3, 2, 2, false);
	op.rev = 5;
	CHECK_RANGE(t, op, at5, 2, 2, false);
	op.rev = 7;
	CHECK_RANGE(t, op, at7, 4, 4, false);
	op.rev = 0;
	CHECK_RANGE(t, op, at7, 4, 4, false);
	op = fsm_check_span(MSG_OP_RANGE, ka, LIT("\0"));
	op.rev = 4;
	CHECK_RANGE(t, op, at3, 1, 1, false);
	fsm_check_close(t);
}

/* The keys table's bucket entries for prefix 'p' * 448: (hash, slot) pairs in LMDB
 * order. Returns how many. */
static size_t bucket_entries(struct tfsm *t, uint64_t *hashes, uint32_t *slots, size_t max)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t seek[KV_INLINE + 1];
	size_t n = 0;
	int rc;
	memset(seek, 'p', KV_INLINE);
	seek[KV_INLINE] = 0;
	assert_int_equal(mdb_txn_begin(t->f.kv.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_cursor_open(txn, t->f.kv.keys, &cur), 0);
	k = (MDB_val){sizeof(seek), seek};
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < sizeof(seek) || memcmp(k.mv_data, seek, sizeof(seek)) != 0)
			break;
		const uint8_t *p = k.mv_data;
		assert_int_equal(k.mv_size, KV_EK_MAX);
		assert_true(n < max);
		hashes[n] = kv_be64_get(p + KV_INLINE + 1);
		slots[n] = ((uint32_t)p[KV_INLINE + 9] << 8) | p[KV_INLINE + 10];
		n++;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return n;
}

#define NCOLL 40

/* NCOLL long keys with the prefix 'p' * 448: tails of different lengths and bytes. */
static void colliding_keys(struct fsm_check_lkey *k, struct bytes *out)
{
	for (size_t i = 0; i < NCOLL; i++) {
		uint8_t tail[600];
		size_t tn = 1 + (i * 37) % 500;
		memset(tail, (int)('a' + i % 7), tn);
		tail[0] = i == 1 ? 0xff : (uint8_t)(i * 53 % 256); /* distinct; 0x00 and 0xff too */
		out[i] = fsm_check_lkey(&k[i], KV_INLINE, tail, tn);
	}
}

static void check_collisions(struct tfsm *t, uint64_t hash_mask)
{
	struct reply r;
	static struct fsm_check_lkey k[NCOLL];
	struct bytes keys[NCOLL], sorted[NCOLL];
	uint64_t hashes[NCOLL + 1];
	uint32_t slots[NCOLL + 1];
	char v[16];
	tfsm_open(t, NULL);
	t->f.kv.hash_mask = hash_mask;
	colliding_keys(k, keys);
	memcpy(sorted, keys, sizeof(keys));
	qsort(sorted, NCOLL, sizeof(sorted[0]), fsm_check_bytes_qsort_cmp);
	for (size_t i = 1; i < NCOLL; i++)
		assert_true(fsm_check_bytes_cmp(sorted[i - 1], sorted[i]) < 0); /* all distinct */

	for (size_t i = 0; i < NCOLL; i++) {
		snprintf(v, sizeof(v), "v%zu", i);
		fsm_check_put_ok(t, keys[i], B(v));
	}
	/* Every key has its own slot; with one hash they are slots 0..NCOLL-1. */
	size_t n = bucket_entries(t, hashes, slots, NCOLL + 1);
	assert_int_equal(n, NCOLL);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(hashes[i] & ~hash_mask, 0);
		for (size_t j = 0; j < i; j++)
			assert_false(hashes[i] == hashes[j] && slots[i] == slots[j]);
		if (hash_mask == 0)
			assert_int_equal(slots[i], i);
	}
	for (size_t i = 0; i < NCOLL; i++) {
		snprintf(v, sizeof(v), "v%zu", i);
		CHECK_GET(t, keys[i], 0, B(v), (int64_t)i + 1, (int64_t)i + 1, 1);
	}
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, B("p")), sorted, NCOLL, NCOLL, false);
	struct msg_op op = fsm_check_span(MSG_OP_RANGE, sorted[10], sorted[30]);
	CHECK_RANGE(t, op, sorted + 10, 20, 20, false);
	op.limit = 5;
	CHECK_RANGE(t, op, sorted + 10, 5, 20, true);

	/* Delete every third key (one revision each), overwrite the others once. */
	uint64_t rev = NCOLL;
	for (size_t i = 0; i < NCOLL; i += 3) {
		op = fsm_check_del_b(keys[i]);
		fsm_check_run_ops(t, &op, 1, &r);
		assert_int_equal(r.err, 0);
		assert_int_equal(r.ops[0].deleted, 1);
		assert_int_equal(r.rev, ++rev);
		reply_free(&r);
	}
	uint64_t rev_deleted = rev;
	for (size_t i = 1; i < NCOLL; i += 3) {
		fsm_check_put_ok(t, keys[i], B("again"));
		rev++;
	}
	struct bytes live[NCOLL];
	size_t nlive = 0;
	for (size_t i = 0; i < NCOLL; i++) {
		size_t orig = 0;
		while (fsm_check_bytes_cmp(keys[orig], sorted[i]) != 0)
			orig++;
		if (orig % 3 != 0)
			live[nlive++] = sorted[i];
		else
			CHECK_MISSING(t, keys[orig], 0);
	}
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, B("p")), live, nlive, nlive, false);
	/* The history at NCOLL still has them all. */
	op = fsm_check_prefix(MSG_OP_RANGE, B("p"));
	op.rev = NCOLL;
	CHECK_RANGE(t, op, sorted, NCOLL, NCOLL, false);

	/* Recreate the deleted ones: version 1, created now, the same slots. */
	for (size_t i = 0; i < NCOLL; i += 3) {
		fsm_check_put_ok(t, keys[i], B("new"));
		rev++;
		CHECK_GET(t, keys[i], 0, B("new"), (int64_t)rev, (int64_t)rev, 1);
		snprintf(v, sizeof(v), "v%zu", i);
		CHECK_GET(t, keys[i], NCOLL, B(v), (int64_t)i + 1, (int64_t)i + 1, 1);
		CHECK_MISSING(t, keys[i], rev_deleted);
	}
	assert_int_equal(bucket_entries(t, hashes, slots, NCOLL + 1), NCOLL);
	if (hash_mask == 0)
		for (size_t i = 0; i < NCOLL; i++)
			assert_int_equal(slots[i], i);
	for (size_t i = 1; i < NCOLL; i += 3)
		CHECK_GET(t, keys[i], 0, B("again"), (int64_t)i + 1,
			  (int64_t)rev_deleted + 1 + i / 3, 2);
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, B("p")), sorted, NCOLL, NCOLL, false);
	fsm_check_close(t);
}

static void test_fsm_long_keys_hash_collisions(void **state)
{
	check_collisions(*state, 0);
}

static void test_fsm_long_keys_hash_mask_3(void **state)
{
	check_collisions(*state, 0x3);
}

/* A deleted long key keeps its slot (its history is there): a new key that collides with
 * it takes another slot, and reads at old revisions still find the old key. */
static void test_fsm_long_keys_identity_across_history(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct fsm_check_state s;
	struct fsm_check_lkey a, b, c;
	uint64_t hashes[4];
	uint32_t slots[4];
	tfsm_open(t, NULL);
	t->f.kv.hash_mask = 0;
	struct bytes k1 = fsm_check_lkey(&a, KV_INLINE, "one", 3),
		     k2 = fsm_check_lkey(&b, KV_INLINE, "two", 3);
	struct bytes k3 = fsm_check_lkey(&c, KV_INLINE, "three", 5);
	fsm_check_put_ok(t, k1, B("1")); /* 1 */
	t_del(t, "nothing");
	{
		struct msg_op op = fsm_check_del_b(k1);
		fsm_check_run_ops(t, &op, 1, &r); /* 2 */
		assert_int_equal(r.ops[0].deleted, 1);
		reply_free(&r);
	}
	fsm_check_put_ok(t, k2, B("2")); /* 3 */
	assert_int_equal(bucket_entries(t, hashes, slots, 4), 1);
	assert_int_equal(slots[0], 1);

	CHECK_GET(t, k1, 1, B("1"), 1, 1, 1);
	CHECK_MISSING(t, k2, 1);
	CHECK_MISSING(t, k1, 3);
	CHECK_GET(t, k2, 3, B("2"), 3, 3, 1);
	struct msg_op op = fsm_check_prefix(MSG_OP_RANGE, B("p"));
	op.rev = 1;
	CHECK_RANGE(t, op, &k1, 1, 1, false);
	op.rev = 2;
	CHECK_RANGE(t, op, &k1, 0, 0, false);
	op.rev = 3;
	CHECK_RANGE(t, op, &k2, 1, 1, false);

	/* k1 comes back in its old slot, as a new life. */
	fsm_check_put_ok(t, k1, B("1b")); /* 4 */
	assert_int_equal(bucket_entries(t, hashes, slots, 4), 2);
	assert_int_equal(slots[0], 0);
	assert_int_equal(slots[1], 1);
	CHECK_GET(t, k1, 0, B("1b"), 4, 4, 1);
	CHECK_GET(t, k1, 1, B("1"), 1, 1, 1);
	CHECK_GET(t, k2, 0, B("2"), 3, 3, 1);
	/* k1 < k2 bytewise ("one" < "two") although k2 was stored first. */
	struct bytes both[2] = {k1, k2};
	CHECK_RANGE(t, fsm_check_prefix(MSG_OP_RANGE, B("p")), both, 2, 2, false);

	/* A third colliding key, created and changed in one txn with the others. */
	struct msg_op ops[3] = {fsm_check_put_b(k3, B("3")), fsm_check_put_b(k2, B("2b")),
				fsm_check_del_b(k1)};
	fsm_check_run_ops(t, ops, 3, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 5);
	assert_int_equal(r.ops[2].deleted, 1);
	reply_free(&r);
	assert_int_equal(bucket_entries(t, hashes, slots, 4), 2);
	assert_int_equal(slots[0], 1); /* k2 */
	assert_int_equal(slots[1], 2); /* k3 */
	CHECK_GET(t, k3, 0, B("3"), 5, 5, 1);
	CHECK_GET(t, k2, 0, B("2b"), 3, 5, 2);
	CHECK_MISSING(t, k1, 0);
	struct bytes at4[2] = {k1, k2}, at5[2] = {k3, k2};
	op.rev = 4;
	CHECK_RANGE(t, op, at4, 2, 2, false);
	op.rev = 5;
	CHECK_RANGE(t, op, at5, 2, 2, false);

	/* Colliding keys are still told apart by the duplicate check. */
	struct msg_op dup[2] = {fsm_check_put_b(k3, B("x")), fsm_check_put_b(k3, B("y"))};
	fsm_check_state_take(t, &s);
	fsm_check_run_ops(t, dup, 2, &r);
	CHECK_ERR(&r, BERTH_EDUPKEY, 5);
	CHECK_UNCHANGED(t, &s);
	fsm_check_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fsm_long_keys_put_get_delete, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_long_keys_range_order, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_long_keys_past_revisions, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_long_keys_hash_collisions, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_long_keys_hash_mask_3, fsm_check_setup,
						fsm_check_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_long_keys_identity_across_history,
						fsm_check_setup, fsm_check_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
