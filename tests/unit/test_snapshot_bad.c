/* tests/unit/test_snapshot_bad.c: bad snapshots change nothing (store/snapshot.c): every
 * truncation and flipped byte, crafted streams (magic, version, record count, table ids and
 * order, key lengths, meta values, trailing bytes), a failing read callback and a restore
 * inside a batch are refused, and the target reads and snapshots exactly as before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/msg.h"
#include "store/fsm.h"
#include "tests/unit/snap_check.h"
#include "tests/unit/snap_history.h"
#include "tests/unit/snap_stream.h"
#include "tests/unit/support.h"

#include <lmdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- bad snapshots change nothing ---- */

/* A database that bad restores aim at, and what it looked like before. */
struct target {
	struct tfsm t;
	struct sbuf s0;
	struct fsm_meta m0;
	size_t checked;
};

static void target_open(struct target *g)
{
	tfsm_open(&g->t, NULL);
	snap_check_put1(&g->t, "target/1", "x");
	snap_check_put1(&g->t, "target/2", "y");
	snap_check_put1(&g->t, "target/1", "z");
	snap_check_cmd_ok(&g->t,
			  (struct msg_cmd){.type = MSG_CMD_LEASE_GRANT, .lease = 4, .ttl = 40});
	assert_int_equal(snap_check_compact(&g->t, 2), 0);
	g->m0 = g->t.f.m;
	g->checked = 0;
	snap_stream_of(&g->t.f, &g->s0);
}

static void target_unchanged(struct target *g)
{
	struct sbuf now;
	assert_memory_equal(&g->t.f.m, &g->m0, sizeof(g->m0));
	assert_memory_equal(&g->t.f.saved, &g->m0, sizeof(g->m0));
	assert_null(g->t.f.batch);
	snap_stream_of(&g->t.f, &now);
	snap_stream_eq(&now, &g->s0);
	snap_stream_free(&now);
	g->checked++;
}

static void target_close(struct target *g)
{
	/* The target still works after every refused restore. */
	assert_int_equal(snap_check_put1(&g->t, "target/3", "w"), 4);
	snap_stream_free(&g->s0);
	tfsm_close(&g->t);
}

/* Restores buf[0..n) into the target: must fail with want and change nothing. */
static void expect_bad(struct target *g, const uint8_t *buf, size_t n, int want)
{
	g->t.f.errmsg[0] = 0;
	int rv = fsm_restore_buf(&g->t.f, buf, n);
	if (rv != want)
		print_error("restore of %zu bytes: %s, want %s\n", n, err_name(rv), err_name(want));
	assert_int_equal(rv, want);
	if (want == BERTH_ECORRUPT)
		assert_string_equal(g->t.f.errmsg, "fsm restore: corrupt snapshot");
	target_unchanged(g);
}

/* A small source with a record in every table: snap_history_small, a lease with a key, a
 * session. */
static void small_source(struct tfsm *t, struct sbuf *s)
{
	tfsm_open(t, NULL);
	snap_history_small(t);
	snap_check_cmd_ok(t, (struct msg_cmd){.type = MSG_CMD_LEASE_GRANT, .lease = 3, .ttl = 10});
	struct msg_op op = op_put("l", "leased");
	op.lease = 3;
	snap_check_txn_ok(t, NULL, 0, &op, 1, NULL, 0);
	snap_check_cmd_ok(t, (struct msg_cmd){.type = MSG_CMD_SESSION_OPEN, .ttl = 1000});
	snap_stream_of(&t->f, s);
	MDB_dbi tables[] = {t->f.kv.meta,   t->f.kv.keys,  t->f.kv.hist, t->f.kv.revs,
			    t->f.kv.leases, t->f.kv.lkeys, t->f.kv.sess, t->f.kv.sessdl};
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		assert_true(snap_check_table_entries(t, tables[i]) > 0);
}

static void test_snapshot_bad_truncated(void **state)
{
	(void)state;
	struct tfsm t;
	struct sbuf s;
	struct target g;
	small_source(&t, &s);
	target_open(&g);
	assert_true(s.n < 2048);
	for (size_t n = 0; n < s.n; n++)
		expect_bad(&g, s.p, n, BERTH_ECORRUPT);
	assert_int_equal(g.checked, s.n);
	/* The whole stream is fine (and replaces the target). */
	assert_int_equal(fsm_restore_buf(&g.t.f, s.p, s.n), 0);
	assert_int_equal(fsm_revision(&g.t.f), 7);
	snap_stream_free(&g.s0);
	tfsm_close(&g.t);
	snap_stream_free(&s);
	tfsm_close(&t);
}

static void test_snapshot_bad_flipped_byte(void **state)
{
	(void)state;
	struct tfsm t;
	struct sbuf s;
	struct target g;
	small_source(&t, &s);
	target_open(&g);
	uint8_t *copy = malloc(s.n);
	assert_non_null(copy);
	static const uint8_t flips[] = {0x01, 0x80, 0xff};
	for (size_t i = 0; i < s.n; i++) {
		for (size_t f = 0; f < sizeof(flips); f++) {
			memcpy(copy, s.p, s.n);
			copy[i] ^= flips[f];
			expect_bad(&g, copy, s.n, BERTH_ECORRUPT);
		}
	}
	free(copy);
	target_close(&g);
	snap_stream_free(&s);
	tfsm_close(&t);
}

/* The same on a stream of several 64 KiB chunks, at sampled offsets. */
static void test_snapshot_bad_big_stream(void **state)
{
	(void)state;
	struct tfsm t;
	struct sbuf s;
	struct target g;
	tfsm_open(&t, NULL);
	for (size_t i = 0; i < BUSY_KEYS; i++) {
		snap_history_busy_fill(i, '0');
		snap_check_put1(&t, snap_history_busy_keys[i], snap_history_busy_vals[i]);
	}
	snap_stream_of(&t.f, &s);
	assert_true(s.n > 4 * 64 * 1024);
	target_open(&g);
	size_t offs[256], n = 0;
	for (size_t o = 0; o < s.n; o += 7919)
		offs[n++] = o;
	for (size_t k = 1; k <= 4; k++)
		for (size_t d = 0; d < 3; d++)
			offs[n++] = k * 64 * 1024 - 1 + d;
	for (size_t d = 1; d <= 14; d++)
		offs[n++] = s.n - d;
	assert_true(n <= sizeof(offs) / sizeof(offs[0]));
	uint8_t *copy = malloc(s.n);
	assert_non_null(copy);
	for (size_t i = 0; i < n; i++) {
		expect_bad(&g, s.p, offs[i], BERTH_ECORRUPT);
		memcpy(copy, s.p, s.n);
		copy[offs[i]] ^= 0x10;
		expect_bad(&g, copy, s.n, BERTH_ECORRUPT);
	}
	free(copy);
	target_close(&g);
	snap_stream_free(&s);
	tfsm_close(&t);
}

/* Index of the first record of a table (1..8) in r[0..n). */
static size_t first_of(const struct srec *r, size_t n, uint8_t table)
{
	for (size_t i = 0; i < n; i++)
		if (r[i].table == table)
			return i;
	fail_msg("no record in table %u", table);
	return 0;
}

/* Builds magic/version/r with count = n, expects want, frees the stream. */
static void expect_built(struct target *g, const char *magic, uint32_t version,
			 const struct srec *r, size_t n, uint64_t count, int want)
{
	struct sbuf b;
	snap_stream_build(magic, version, r, n, count, &b);
	expect_bad(g, b.p, b.n, want);
	snap_stream_free(&b);
}

static void test_snapshot_bad_crafted(void **state)
{
	(void)state;
	struct tfsm t;
	struct sbuf s, b;
	struct target g;
	size_t n;
	small_source(&t, &s);
	target_open(&g);
	struct srec *r = snap_stream_parse(&s, &n);
	struct srec *m = malloc((n + 2) * sizeof(*m));
	assert_non_null(m);

	/* The builder reproduces a real stream exactly, so what follows differs from a
	 * good stream only where each case says. */
	snap_stream_build("BERTHSNP", 1, r, n, n, &b);
	snap_stream_eq(&b, &s);
	snap_stream_free(&b);

	expect_built(&g, "BERTHSNQ", 1, r, n, n, BERTH_ECORRUPT);
	expect_built(&g, "berthsnp", 1, r, n, n, BERTH_ECORRUPT);
	expect_built(&g, "BERTHSNP", 2, r, n, n, BERTH_ECORRUPT);
	expect_built(&g, "BERTHSNP", 0, r, n, n, BERTH_ECORRUPT);
	expect_built(&g, "BERTHSNP", 0x01000001, r, n, n, BERTH_ECORRUPT);

	/* Wrong record count. */
	expect_built(&g, "BERTHSNP", 1, r, n, n + 1, BERTH_ECORRUPT);
	expect_built(&g, "BERTHSNP", 1, r, n, n - 1, BERTH_ECORRUPT);
	expect_built(&g, "BERTHSNP", 1, r, n, 0, BERTH_ECORRUPT);
	expect_built(&g, "BERTHSNP", 1, r, n, UINT64_MAX, BERTH_ECORRUPT);
	/* A record missing, counted right: every table may be short, so this one is a
	 * valid (different) stream; it is tested last. */

	/* Table ids out of order: the first keys record moved before the meta records. */
	size_t k1 = first_of(r, n, 2);
	m[0] = r[k1];
	memcpy(m + 1, r, k1 * sizeof(*r));
	memcpy(m + 1 + k1, r + k1 + 1, (n - k1 - 1) * sizeof(*r));
	expect_built(&g, "BERTHSNP", 1, m, n, n, BERTH_ECORRUPT);
	/* The last table (sessdl) moved first. */
	m[0] = r[n - 1];
	memcpy(m + 1, r, (n - 1) * sizeof(*r));
	expect_built(&g, "BERTHSNP", 1, m, n, n, BERTH_ECORRUPT);
	/* Table ids 0, 9 and 0xfe. */
	static const uint8_t bad_tables[] = {0, 9, 0xfe};
	for (size_t i = 0; i < sizeof(bad_tables); i++) {
		memcpy(m, r, n * sizeof(*r));
		m[k1].table = bad_tables[i];
		expect_built(&g, "BERTHSNP", 1, m, n, n, BERTH_ECORRUPT);
		memcpy(m, r, n * sizeof(*r));
		m[0].table = bad_tables[i];
		expect_built(&g, "BERTHSNP", 1, m, n, n, BERTH_ECORRUPT);
	}

	/* Key lengths: 0 and 512 are refused (LMDB keys are 1..511 bytes). */
	static uint8_t big[4096];
	memset(big, 'z', sizeof(big));
	memcpy(m, r, n * sizeof(*r));
	m[k1].kn = 0;
	expect_built(&g, "BERTHSNP", 1, m, n, n, BERTH_ECORRUPT);
	memcpy(m, r, n * sizeof(*r));
	m[k1].k = big;
	m[k1].kn = 512;
	expect_built(&g, "BERTHSNP", 1, m, n, n, BERTH_ECORRUPT);
	m[k1].kn = 4096;
	expect_built(&g, "BERTHSNP", 1, m, n, n, BERTH_ECORRUPT);

	/* Records out of order or repeated inside a table. */
	size_t h1 = first_of(r, n, 3);
	assert_int_equal(r[h1 + 1].table, 3);
	memcpy(m, r, n * sizeof(*r));
	m[h1] = r[h1 + 1];
	m[h1 + 1] = r[h1];
	expect_built(&g, "BERTHSNP", 1, m, n, n, BERTH_ECORRUPT);
	memcpy(m, r, (h1 + 1) * sizeof(*r));
	memcpy(m + h1 + 1, r + h1, (n - h1) * sizeof(*r));
	expect_built(&g, "BERTHSNP", 1, m, n + 1, n + 1, BERTH_ECORRUPT);

	/* Meta values the state machine cannot read: another database format, a value
	 * that is not 8 bytes. */
	size_t fmt = SIZE_MAX, rev = SIZE_MAX;
	for (size_t i = 0; i < n && r[i].table == 1; i++) {
		if (r[i].kn == 6 && memcmp(r[i].k, "format", 6) == 0)
			fmt = i;
		if (r[i].kn == 3 && memcmp(r[i].k, "rev", 3) == 0)
			rev = i;
	}
	assert_true(fmt != SIZE_MAX && rev != SIZE_MAX);
	static const uint8_t format2[8] = {0, 0, 0, 0, 0, 0, 0, 2};
	memcpy(m, r, n * sizeof(*r));
	m[fmt].v = format2;
	expect_built(&g, "BERTHSNP", 1, m, n, n, BERTH_ECORRUPT);
	memcpy(m, r, n * sizeof(*r));
	m[rev].vn = 4;
	expect_built(&g, "BERTHSNP", 1, m, n, n, BERTH_ECORRUPT);

	/* Trailing bytes after a good stream. */
	uint8_t *longer = malloc(2 * s.n);
	assert_non_null(longer);
	memcpy(longer, s.p, s.n);
	memcpy(longer + s.n, s.p, s.n);
	expect_bad(&g, longer, s.n + 1, BERTH_ECORRUPT);
	expect_bad(&g, longer, s.n + 8, BERTH_ECORRUPT);
	expect_bad(&g, longer, 2 * s.n, BERTH_ECORRUPT);
	memset(longer + s.n, 0, s.n);
	expect_bad(&g, longer, s.n + 1, BERTH_ECORRUPT);
	free(longer);

	/* Controls: a 511-byte meta key sorting last is accepted, as is a stream with a
	 * record fewer, counted right. */
	memcpy(m, r, n * sizeof(*r));
	memmove(m + rev + 2, m + rev + 1, (n - rev - 1) * sizeof(*r));
	m[rev + 1] = (struct srec){.table = 1, .k = big, .kn = 511, .v = big, .vn = 8};
	snap_stream_build("BERTHSNP", 1, m, n + 1, n + 1, &b);
	assert_int_equal(fsm_restore_buf(&g.t.f, b.p, b.n), 0);
	assert_int_equal(fsm_revision(&g.t.f), 7);
	snap_stream_free(&b);
	snap_stream_build("BERTHSNP", 1, r, n - 1, n - 1, &b);
	assert_int_equal(fsm_restore_buf(&g.t.f, b.p, b.n), 0);
	assert_int_equal(fsm_revision(&g.t.f), 7);
	snap_stream_free(&b);

	free(m);
	free(r);
	snap_stream_free(&g.s0);
	tfsm_close(&g.t);
	snap_stream_free(&s);
	tfsm_close(&t);
}

/* A read callback that fails midway: its error comes back and nothing changes. */
static void test_snapshot_bad_read_callback(void **state)
{
	(void)state;
	struct tfsm t;
	struct sbuf s;
	struct target g;
	small_source(&t, &s);
	target_open(&g);
	const size_t at[] = {0, 1, 11, 12, 13, 17, s.n / 2, s.n - 13, s.n - 5, s.n - 4, s.n - 1};
	static const int errs[] = {BERTH_EIO, BERTH_ECANCELED, BERTH_ENOMEM};
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		for (size_t e = 0; e < sizeof(errs) / sizeof(errs[0]); e++) {
			struct reader rd = {
				.p = s.p, .n = s.n, .fail_at = at[i], .fail_rv = errs[e]};
			assert_int_equal(fsm_restore(&g.t.f, snap_stream_read, &rd), errs[e]);
			assert_true(rd.pos <= at[i]);
			target_unchanged(&g);
		}
	}
	/* The reader that fails nowhere. */
	struct reader ok = {.p = s.p, .n = s.n, .fail_at = SIZE_MAX};
	assert_int_equal(fsm_restore(&g.t.f, snap_stream_read, &ok), 0);
	assert_int_equal(ok.pos, s.n);
	assert_int_equal(fsm_revision(&g.t.f), 7);
	struct sbuf again;
	snap_stream_of(&g.t.f, &again);
	snap_stream_eq(&again, &s);
	snap_stream_free(&again);
	snap_stream_free(&g.s0);
	tfsm_close(&g.t);
	snap_stream_free(&s);
	tfsm_close(&t);
}

/* fsm_restore with a batch open is refused and leaves the batch alone. */
static void test_snapshot_restore_during_batch(void **state)
{
	(void)state;
	struct tfsm t;
	struct sbuf s;
	struct target g;
	small_source(&t, &s);
	target_open(&g);
	assert_int_equal(fsm_batch_begin(&g.t.f), 0);
	assert_int_equal(fsm_restore_buf(&g.t.f, s.p, s.n), BERTH_EINTERNAL);
	assert_non_null(g.t.f.batch);
	fsm_batch_abort(&g.t.f);
	target_unchanged(&g);
	target_close(&g);
	snap_stream_free(&s);
	tfsm_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshot_bad_truncated),
		cmocka_unit_test(test_snapshot_bad_flipped_byte),
		cmocka_unit_test(test_snapshot_bad_big_stream),
		cmocka_unit_test(test_snapshot_bad_crafted),
		cmocka_unit_test(test_snapshot_bad_read_callback),
		cmocka_unit_test(test_snapshot_restore_during_batch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
