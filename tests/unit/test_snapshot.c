/* tests/unit/test_snapshot.c: snapshots (store/snapshot.c): write and restore carry over
 * everything (keys, history, leases, sessions) byte for byte, a stream stays the state as of
 * its start while writes go on, a write callback's error stops it, and the stream may end
 * anywhere in a 64 KiB chunk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/msg.h"
#include "common/reply.h"
#include "store/fsm.h"
#include "tests/unit/snap_check.h"
#include "tests/unit/snap_history.h"
#include "tests/unit/snap_stream.h"
#include "tests/unit/support.h"

#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- snapshots ---- */

/* Everything a restore must carry over from src to dst. */
static void same_state(struct tfsm *src, struct tfsm *dst)
{
	assert_int_equal(fsm_revision(&dst->f), fsm_revision(&src->f));
	assert_int_equal(fsm_applied(&dst->f), fsm_applied(&src->f));
	assert_int_equal(fsm_compacted(&dst->f), fsm_compacted(&src->f));
	assert_memory_equal(&dst->f.m, &src->f.m, sizeof(src->f.m));
	assert_memory_equal(&dst->f.saved, &src->f.saved, sizeof(src->f.saved));
	struct lease_list a = snap_check_leases_of(src), b = snap_check_leases_of(dst);
	assert_int_equal(b.n, a.n);
	for (size_t i = 0; i < a.n; i++) {
		assert_int_equal(b.id[i], a.id[i]);
		assert_int_equal(b.ttl[i], a.ttl[i]);
	}
	size_t na, nb;
	int ea, eb;
	uint8_t *pa = snap_check_read_raw(src, snap_check_all_at(0), &na, &ea),
		*pb = snap_check_read_raw(dst, snap_check_all_at(0), &nb, &eb);
	assert_int_equal(ea, 0);
	assert_int_equal(eb, 0);
	assert_int_equal(nb, na);
	assert_memory_equal(pb, pa, na);
	free(pa);
	free(pb);
	struct sbuf s1, s2;
	snap_stream_of(&src->f, &s1);
	snap_stream_of(&dst->f, &s2);
	snap_stream_eq(&s1, &s2);
	snap_stream_free(&s1);
	snap_stream_free(&s2);
}

/* snap_history_rich compacted at 8, with its answers recorded; returns its session id. */
static uint64_t rich_source(struct tfsm *t, struct answers *a)
{
	tfsm_open(t, NULL);
	t->f.kv.hash_mask = 0;
	uint64_t sid = snap_history_rich(t);
	assert_int_equal(snap_check_compact(t, 8), 0);
	snap_history_answers_record(t, snap_history_rich_keys, snap_history_rich_nkeys, a);
	return sid;
}

static void test_snapshot_restore_roundtrip(void **state)
{
	(void)state;
	struct tfsm t, u;
	struct answers a;
	struct sbuf s, s2;
	rich_source(&t, &a);
	snap_stream_of(&t.f, &s);
	assert_int_equal(s.calls, 1); /* small: one chunk */
	assert_memory_equal(s.p, "BERTHSNP\0\0\0\1", 12);

	tfsm_open(&u, NULL);
	u.f.kv.hash_mask = 0;
	assert_int_equal(fsm_restore_buf(&u.f, s.p, s.n), 0);
	assert_int_equal(fsm_revision(&u.f), 21);
	assert_int_equal(fsm_compacted(&u.f), 8);
	assert_int_equal(fsm_applied(&u.f), t.index);
	struct lease_list l = snap_check_leases_of(&u);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.id[0], 77);
	assert_int_equal(l.ttl[0], 30);
	same_state(&t, &u);
	snap_history_answers_check(&u, snap_history_rich_keys, &a);
	snap_stream_of(&u.f, &s2);
	snap_stream_eq(&s, &s2);
	snap_stream_free(&s2);

	/* Both go on identically: same reply bytes, same streams. */
	u.index = fsm_applied(&u.f);
	assert_int_equal(snap_check_put1(&t, "after", "x"), 22);
	uint8_t *first = malloc(t.last_len);
	assert_non_null(first);
	memcpy(first, t.last, t.last_len);
	assert_int_equal(snap_check_put1(&u, "after", "x"), 22);
	assert_int_equal(u.last_len, t.last_len);
	assert_memory_equal(u.last, first, t.last_len);
	same_state(&t, &u);
	free(first);

	/* Leases carried over still work: revoking 77 deletes d on the restored machine. */
	snap_check_cmd_ok(&u, (struct msg_cmd){.type = MSG_CMD_LEASE_REVOKE, .lease = 77});
	assert_int_equal(fsm_revision(&u.f), 23);
	assert_null(t_get(&u, "d"));
	assert_int_equal(snap_check_leases_of(&u).n, 0);

	/* The same stream through fsm_restore and a read callback. */
	struct tfsm v;
	struct reader rd = {.p = s.p, .n = s.n, .fail_at = SIZE_MAX};
	tfsm_open(&v, NULL);
	v.f.kv.hash_mask = 0;
	assert_int_equal(fsm_restore(&v.f, snap_stream_read, &rd), 0);
	assert_int_equal(rd.pos, s.n);
	assert_true(rd.calls > 10);
	assert_int_equal(fsm_revision(&v.f), 21);
	snap_history_answers_check(&v, snap_history_rich_keys, &a);
	tfsm_close(&v);
	snap_stream_free(&s);
	snap_history_answers_free(&a);
	tfsm_close(&t);
	tfsm_close(&u);
}

static void test_snapshot_restore_replaces_everything(void **state)
{
	(void)state;
	struct tfsm t, u;
	struct answers a;
	struct sbuf s, empty;
	rich_source(&t, &a);
	snap_stream_of(&t.f, &s);

	/* u has more of everything: keys t never had, its own lease and session, a later
	 * revision and compaction point. */
	tfsm_open(&u, NULL);
	u.f.kv.hash_mask = 0;
	for (int i = 0; i < 30; i++)
		snap_check_put1(&u, i % 2 ? "old-only" : "b", i % 3 ? "x" : "y");
	assert_int_equal(
		snap_check_cmd_ok(
			&u, (struct msg_cmd){.type = MSG_CMD_LEASE_GRANT, .lease = 5, .ttl = 9}),
		5);
	snap_check_cmd_ok(&u, (struct msg_cmd){.type = MSG_CMD_SESSION_OPEN, .ttl = 1000});
	assert_int_equal(snap_check_compact(&u, 25), 0);
	assert_int_equal(fsm_revision(&u.f), 30);
	assert_true(fsm_applied(&u.f) != fsm_applied(&t.f));

	assert_int_equal(fsm_restore_buf(&u.f, s.p, s.n), 0);
	same_state(&t, &u);
	assert_int_equal(fsm_revision(&u.f), 21);
	assert_int_equal(fsm_compacted(&u.f), 8);
	assert_null(t_get(&u, "old-only"));
	assert_int_equal(snap_check_hist_entries_of(&u, "old-only"), 0);
	assert_string_equal(t_get(&u, "b"), "2");
	struct lease_list l = snap_check_leases_of(&u);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.id[0], 77);
	assert_int_equal(snap_check_table_entries(&u, u.f.kv.sess), 1);
	assert_int_equal(snap_check_table_entries(&u, u.f.kv.sessdl), 1);
	snap_history_answers_check(&u, snap_history_rich_keys, &a);

	/* An empty database's stream empties every table and zeroes every counter. */
	struct tfsm e;
	tfsm_open(&e, NULL);
	snap_stream_of(&e.f, &empty);
	assert_int_equal(empty.n, 12 + 1 + 8 + 4);
	assert_int_equal(fsm_restore_buf(&u.f, empty.p, empty.n), 0);
	struct fsm_meta zero = {0};
	assert_memory_equal(&u.f.m, &zero, sizeof(zero));
	assert_memory_equal(&u.f.saved, &zero, sizeof(zero));
	MDB_dbi tables[] = {u.f.kv.meta,   u.f.kv.keys,  u.f.kv.hist, u.f.kv.revs,
			    u.f.kv.leases, u.f.kv.lkeys, u.f.kv.sess, u.f.kv.sessdl};
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		assert_int_equal(snap_check_table_entries(&u, tables[i]), 0);
	same_state(&e, &u);
	snap_stream_free(&empty);
	tfsm_close(&e);
	snap_stream_free(&s);
	snap_history_answers_free(&a);
	tfsm_close(&t);
	tfsm_close(&u);
}

/* A session write retried on a machine restored from a snapshot taken after it answers
 * the stored reply and changes nothing. */
static void test_snapshot_restore_keeps_sessions(void **state)
{
	(void)state;
	struct tfsm t, u;
	struct answers a;
	struct sbuf s;
	struct reply r;
	uint64_t sid = rich_source(&t, &a);
	assert_int_equal(t.f.m.nsessions, 1);

	struct msg_op op = op_put("s", "2");
	struct msg_cmd c = cmd_txn(NULL, 0, &op, 1, NULL, 0);
	c.session = sid;
	c.seq = 2;
	c.time_ms = 8000;
	snap_check_apply_ok(&t, &c, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 22);
	reply_free(&r);
	size_t first_len = t.last_len;
	uint8_t *first = malloc(first_len);
	assert_non_null(first);
	memcpy(first, t.last, first_len);
	snap_stream_of(&t.f, &s);

	tfsm_open(&u, NULL);
	u.f.kv.hash_mask = 0;
	assert_int_equal(fsm_restore_buf(&u.f, s.p, s.n), 0);
	u.index = fsm_applied(&u.f);
	same_state(&t, &u);

	/* The retry: the first reply, byte for byte, and no new revision. */
	snap_check_apply_ok(&u, &c, &r);
	reply_free(&r);
	assert_int_equal(u.last_len, first_len);
	assert_memory_equal(u.last, first, first_len);
	assert_int_equal(fsm_revision(&u.f), 22);
	assert_string_equal(t_get(&u, "s"), "2");
	/* Even with another body under the same (session, seq). */
	op = op_put("s", "other");
	snap_check_apply_ok(&u, &c, &r);
	reply_free(&r);
	assert_int_equal(u.last_len, first_len);
	assert_memory_equal(u.last, first, first_len);
	assert_int_equal(fsm_revision(&u.f), 22);
	assert_string_equal(t_get(&u, "s"), "2");
	/* An older sequence is stale; the next one applies. */
	c.seq = 1;
	snap_check_apply_ok(&u, &c, &r);
	assert_int_equal(r.err, BERTH_ESTALESEQ);
	reply_free(&r);
	c.seq = 3;
	snap_check_apply_ok(&u, &c, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 23);
	reply_free(&r);
	assert_string_equal(t_get(&u, "s"), "other");

	free(first);
	snap_stream_free(&s);
	snap_history_answers_free(&a);
	tfsm_close(&t);
	tfsm_close(&u);
}

/* ---- consistency while writes go on ---- */

/* A snapshot sink that, on its first call, applies a batch of writes to the same fsm. */
struct meddler {
	struct sbuf out;
	struct tfsm *t;
	int batch_rv;
	bool done;
};

static int meddler_write(void *ctx, const void *buf, size_t n)
{
	struct meddler *m = ctx;
	if (!m->done) {
		struct msg_op ops[BUSY_KEYS];
		struct msg_cmd cmds[BUSY_KEYS + 2];
		size_t nc = 0;
		m->done = true;
		/* Overwrite 50 keys, delete 20, create 40, grant a lease, compact. */
		for (size_t i = 0; i < 50; i++) {
			snap_history_busy_fill(i, 'a');
			ops[nc] = op_put(snap_history_busy_keys[i], snap_history_busy_vals[i]);
			cmds[nc] = cmd_txn(NULL, 0, &ops[nc], 1, NULL, 0);
			nc++;
		}
		for (size_t i = 50; i < 70; i++) {
			ops[nc] = op_del(snap_history_busy_keys[i]);
			cmds[nc] = cmd_txn(NULL, 0, &ops[nc], 1, NULL, 0);
			nc++;
		}
		for (size_t i = BUSY_KEYS; i < BUSY_KEYS + 40; i++) {
			snap_history_busy_fill(i, 'A');
			ops[nc] = op_put(snap_history_busy_keys[i], snap_history_busy_vals[i]);
			cmds[nc] = cmd_txn(NULL, 0, &ops[nc], 1, NULL, 0);
			nc++;
		}
		cmds[nc++] = (struct msg_cmd){.type = MSG_CMD_LEASE_GRANT, .lease = 9, .ttl = 5};
		cmds[nc++] = (struct msg_cmd){.type = MSG_CMD_COMPACT, .rev = 200};
		m->batch_rv = snap_check_batch_apply(m->t, cmds, nc, NULL);
	}
	return snap_stream_write(&m->out, buf, n);
}

static void test_snapshot_consistent_during_writes(void **state)
{
	(void)state;
	struct tfsm t, u;
	struct sbuf before;
	struct meddler m = {0};
	tfsm_open(&t, NULL);
	for (size_t i = 0; i < BUSY_KEYS; i++) {
		snap_history_busy_fill(i, '0');
		snap_check_put1(&t, snap_history_busy_keys[i], snap_history_busy_vals[i]);
	}
	for (size_t i = 0; i < BUSY_KEYS; i += 3)
		snap_check_put1(&t, snap_history_busy_keys[i], "short");
	assert_int_equal(fsm_revision(&t.f), 200);
	struct fsm_meta meta = t.f.m;
	size_t now_len;
	int err;
	uint8_t *now = snap_check_read_raw(&t, snap_check_all_at(0), &now_len, &err);
	assert_int_equal(err, 0);
	snap_stream_of(&t.f, &before);
	assert_true(before.n > 4 * 64 * 1024);
	assert_true(before.calls >= 5);

	m.t = &t;
	assert_int_equal(fsm_snapshot_write(&t.f, meddler_write, &m), 0);
	assert_true(m.done);
	assert_int_equal(m.batch_rv, 0);
	assert_true(m.out.calls >= 5);
	/* The writes happened: 50 + 20 + 40 changes, the lease, the compaction. */
	assert_int_equal(fsm_revision(&t.f), 310);
	assert_int_equal(fsm_compacted(&t.f), 200);
	assert_int_equal(snap_check_leases_of(&t).n, 1);
	assert_null(t_get(&t, snap_history_busy_keys[50]));
	assert_non_null(t_get(&t, snap_history_busy_keys[BUSY_KEYS]));
	/* ...and the stream is the state as of its start, byte for byte. */
	snap_stream_eq(&m.out, &before);

	tfsm_open(&u, NULL);
	assert_int_equal(fsm_restore_buf(&u.f, m.out.p, m.out.n), 0);
	assert_memory_equal(&u.f.m, &meta, sizeof(meta));
	assert_int_equal(fsm_revision(&u.f), 200);
	assert_int_equal(fsm_compacted(&u.f), 0);
	assert_int_equal(snap_check_leases_of(&u).n, 0);
	size_t got_len;
	uint8_t *got = snap_check_read_raw(&u, snap_check_all_at(0), &got_len, &err);
	assert_int_equal(err, 0);
	assert_int_equal(got_len, now_len);
	assert_memory_equal(got, now, now_len);
	assert_string_equal(t_get(&u, snap_history_busy_keys[0]), "short");
	assert_null(t_get(&u, snap_history_busy_keys[BUSY_KEYS]));
	snap_check_value_at(&u, snap_history_busy_keys[1], 1, NULL, 0, 0, 0);
	snap_history_busy_fill(1, '0');
	snap_check_value_at(&u, snap_history_busy_keys[1], 2, snap_history_busy_vals[1], 2, 2, 1);

	free(now);
	free(got);
	snap_stream_free(&before);
	snap_stream_free(&m.out);
	tfsm_close(&t);
	tfsm_close(&u);
}

/* A sink that fails on its nth call. */
struct failing_sink {
	struct sbuf out;
	unsigned fail_on;
	int rv;
};

static int failing_write(void *ctx, const void *buf, size_t n)
{
	struct failing_sink *f = ctx;
	if (f->out.calls + 1 == f->fail_on) {
		f->out.calls++;
		return f->rv;
	}
	return snap_stream_write(&f->out, buf, n);
}

/* A write callback's error stops the stream and comes back; the database goes on. */
static void test_snapshot_write_error(void **state)
{
	(void)state;
	struct tfsm t;
	struct sbuf s0, s1;
	tfsm_open(&t, NULL);
	for (size_t i = 0; i < BUSY_KEYS; i++) {
		snap_history_busy_fill(i, '0');
		snap_check_put1(&t, snap_history_busy_keys[i], snap_history_busy_vals[i]);
	}
	snap_stream_of(&t.f, &s0);
	unsigned chunks = s0.calls;
	assert_true(chunks >= 5);
	for (unsigned k = 1; k <= chunks; k++) {
		struct failing_sink f = {.fail_on = k, .rv = k % 2 ? BERTH_EIO : BERTH_ECANCELED};
		assert_int_equal(fsm_snapshot_write(&t.f, failing_write, &f), f.rv);
		/* Nothing after the failed call. */
		assert_int_equal(f.out.calls, k);
		assert_int_equal(f.out.n, (size_t)(k - 1) * 64 * 1024);
		snap_stream_free(&f.out);
	}
	/* No read transaction was left behind: writes, and later snapshots, work. */
	assert_int_equal(snap_check_put1(&t, "after", "1"), BUSY_KEYS + 1);
	snap_stream_of(&t.f, &s1);
	assert_true(s1.n > s0.n);
	snap_stream_free(&s0);
	snap_stream_free(&s1);
	tfsm_close(&t);
}

/* ---- stream length at a chunk boundary ---- */

/* The stream length fsm_snapshot_write must produce, from the tables themselves: header,
 * one record (1 + 4 + key + 4 + value) per entry, trailer (9) and CRC (4). */
static size_t stream_len_expected(struct tfsm *t)
{
	MDB_dbi tables[] = {t->f.kv.meta,   t->f.kv.keys,  t->f.kv.hist, t->f.kv.revs,
			    t->f.kv.leases, t->f.kv.lkeys, t->f.kv.sess, t->f.kv.sessdl};
	MDB_txn *txn;
	size_t n = 12 + 9 + 4;
	assert_int_equal(mdb_txn_begin(t->f.kv.env, NULL, MDB_RDONLY, &txn), 0);
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		MDB_cursor *cur;
		MDB_val k, v;
		assert_int_equal(mdb_cursor_open(txn, tables[i], &cur), 0);
		for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
			n += 9 + k.mv_size + v.mv_size;
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	return n;
}

/* Grows t's database with puts of new keys until the bytes before the CRC end `at` bytes
 * into a 64 KiB chunk. A put of a new key of length kl with a value of v bytes adds
 * 125 + 5 kl + 2 v bytes (a keys, a hist and a revs record); the loop re-measures, so
 * it converges even if that estimate were off. */
static void grow_to(struct tfsm *t, size_t at)
{
	static char val[3 * 65536];
	char key[16];
	memset(val, 'g', sizeof(val));
	for (int attempt = 0; attempt < 20; attempt++) {
		size_t r = (stream_len_expected(t) - 4) % 65536;
		if (r == at)
			return;
		size_t d = (at + 65536 - r) % 65536;
		if (d < 1000)
			d += 65536;
		size_t kl = d % 2 ? 8 : 9; /* 125 + 5 kl has d's parity */
		size_t v = (d - 125 - 5 * kl) / 2;
		snprintf(key, sizeof(key), kl == 8 ? "grow/%03d" : "grow/%04d", attempt);
		assert_int_equal(strlen(key), kl);
		val[v] = 0;
		snap_check_put1(t, key, val);
		val[v] = 'g';
	}
	fail_msg("could not grow the stream to %zu bytes into a chunk", at);
}

/* The CRC is the last 4 bytes of the stream; the bytes before it may end anywhere in a
 * 64 KiB chunk, including its last 3 bytes. Each case cleans up before it asserts, and
 * the first bad case stops the loop: past it, a wrong final write length can read far
 * beyond the snapshot's buffer. */
static void test_snapshot_write_chunk_end(void **state)
{
	(void)state;
	static const size_t ends[] = {65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 2};
	size_t bad_end = SIZE_MAX, got = 0, want = 0;
	int restored = 0;
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]) && bad_end == SIZE_MAX; i++) {
		struct tfsm t, u;
		struct sbuf s;
		tfsm_open(&t, NULL);
		snap_check_put1(&t, "seed", "x");
		grow_to(&t, ends[i]);
		want = stream_len_expected(&t);
		assert_int_equal((want - 4) % 65536, ends[i]);
		snap_stream_of(&t.f, &s);
		got = s.n;
		tfsm_open(&u, NULL);
		restored = fsm_restore_buf(&u.f, s.p, s.n);
		bool same_rev = fsm_revision(&u.f) == fsm_revision(&t.f);
		tfsm_close(&u);
		if (got == want && restored == 0 && same_rev) {
			size_t nrec;
			free(snap_stream_parse(&s, &nrec));
		} else {
			bad_end = ends[i];
		}
		snap_stream_free(&s);
		tfsm_close(&t);
	}
	if (bad_end != SIZE_MAX)
		fail_msg("stream whose CRC starts %zu bytes into a chunk: %zu bytes (want %zu), "
			 "restore %s",
			 bad_end, got, want, err_name(restored));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshot_restore_roundtrip),
		cmocka_unit_test(test_snapshot_restore_replaces_everything),
		cmocka_unit_test(test_snapshot_restore_keeps_sessions),
		cmocka_unit_test(test_snapshot_consistent_during_writes),
		cmocka_unit_test(test_snapshot_write_error),
		cmocka_unit_test(test_snapshot_write_chunk_end),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
