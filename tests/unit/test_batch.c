/* tests/unit/test_batch.c: batches of the state machine (store/fsm.c): entries commit
 * together with one reply each, an abort restores every counter, applied indexes are
 * skipped, any batch size gives the same replies and snapshot; a full LMDB map refuses the
 * whole batch and a restore too, and a larger map goes on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/mp.h"
#include "common/msg.h"
#include "common/reply.h"
#include "store/fsm.h"
#include "store/kv.h"
#include "tests/unit/snap_check.h"
#include "tests/unit/snap_history.h"
#include "tests/unit/snap_stream.h"
#include "tests/unit/support.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- batches ---- */

/* Decodes the reply at out[*pos..) that ends at `end`; advances *pos. */
static void reply_at(const struct mp_buf *out, size_t *pos, size_t end, struct reply *r)
{
	assert_true(end > *pos && end <= out->len);
	assert_int_equal(reply_decode(out->data + *pos, end - *pos, r), 0);
	*pos = end;
}

/* Applies c at index inside the open batch; returns how many bytes it appended. */
static size_t apply_in_batch(struct tfsm *t, uint64_t index, const struct msg_cmd *c,
			     struct mp_buf *out)
{
	struct mp_buf cmd;
	mp_buf_init(&cmd);
	snap_check_encode_cmd(&cmd, c);
	size_t before = out->len;
	assert_int_equal(fsm_apply(&t->f, index, cmd.data, cmd.len, out), 0);
	mp_buf_close(&cmd);
	return out->len - before;
}

static void test_snapshot_batch_commits_together(void **state)
{
	(void)state;
	struct tfsm t;
	struct mp_buf out;
	struct reply r;
	size_t ends[3], pos = 0;
	tfsm_open(&t, NULL);
	mp_buf_init(&out);
	snap_check_put1(&t, "pre", "0");

	struct msg_op px = op_put("x", "1"), py = op_put("y", "2");
	struct msg_op pz[2] = {op_put("z", "3"), op_del("pre")};
	struct msg_cmd cx = cmd_txn(NULL, 0, &px, 1, NULL, 0);
	struct msg_cmd cy = cmd_txn(NULL, 0, &py, 1, NULL, 0);
	struct msg_cmd cz = cmd_txn(NULL, 0, pz, 2, NULL, 0);
	assert_int_equal(fsm_batch_begin(&t.f), 0);
	assert_true(apply_in_batch(&t, 2, &cx, &out) > 0);
	ends[0] = out.len;
	assert_int_equal(t.f.m.applied, 2);
	assert_int_equal(t.f.m.rev, 2);
	assert_true(apply_in_batch(&t, 3, &cy, &out) > 0);
	ends[1] = out.len;
	assert_true(apply_in_batch(&t, 4, &cz, &out) > 0);
	ends[2] = out.len;
	assert_int_equal(t.f.m.applied, 4);
	assert_int_equal(t.f.m.rev, 4);
	/* Nothing is visible before the commit. */
	assert_int_equal(fsm_applied(&t.f), 1);
	assert_int_equal(fsm_revision(&t.f), 1);
	assert_null(t_get(&t, "x"));
	assert_null(t_get(&t, "z"));
	assert_string_equal(t_get(&t, "pre"), "0");

	assert_int_equal(fsm_batch_commit(&t.f), 0);
	t.index = 4;
	assert_null(t.f.batch);
	assert_int_equal(fsm_applied(&t.f), 4);
	assert_int_equal(fsm_revision(&t.f), 4);
	assert_memory_equal(&t.f.m, &t.f.saved, sizeof(t.f.m));
	assert_string_equal(t_get(&t, "x"), "1");
	assert_string_equal(t_get(&t, "y"), "2");
	assert_string_equal(t_get(&t, "z"), "3");
	assert_null(t_get(&t, "pre"));
	snap_check_value_at(&t, "y", 0, "2", 3, 3, 1);

	/* One reply per entry, in order, each with its own revision. */
	for (int i = 0; i < 3; i++) {
		reply_at(&out, &pos, ends[i], &r);
		assert_int_equal(r.err, 0);
		assert_int_equal(r.rev, 2 + i);
		assert_int_equal(r.nops, i == 2 ? 2 : 1);
		reply_free(&r);
	}
	assert_int_equal(pos, out.len);
	mp_buf_close(&out);
	tfsm_close(&t);
}

static void test_snapshot_batch_abort_restores(void **state)
{
	(void)state;
	struct tfsm t;
	struct sbuf s0, s1;
	struct mp_buf out;
	tfsm_open(&t, NULL);
	mp_buf_init(&out);
	snap_history_small(&t);
	snap_check_cmd_ok(&t,
			  (struct msg_cmd){.type = MSG_CMD_LEASE_GRANT, .ttl = 10, .time_ms = 100});
	struct fsm_meta m0 = t.f.m;
	snap_stream_of(&t.f, &s0);

	/* A batch that moves every counter: rev, applied, compacted, clock, next_lease,
	 * nleases, nsessions. */
	struct msg_op ops[3] = {op_put("a", "new"), op_del("c"), op_put("fresh", "1")};
	struct msg_cmd cmds[] = {
		cmd_txn(NULL, 0, &ops[0], 1, NULL, 0),
		cmd_txn(NULL, 0, &ops[1], 2, NULL, 0),
		{.type = MSG_CMD_LEASE_GRANT, .ttl = 20},
		{.type = MSG_CMD_SESSION_OPEN, .ttl = 5000},
		{.type = MSG_CMD_COMPACT, .rev = 7},
		{.type = MSG_CMD_TICK, .time_ms = 999},
	};
	const size_t n = sizeof(cmds) / sizeof(cmds[0]);
	assert_int_equal(fsm_batch_begin(&t.f), 0);
	for (size_t i = 0; i < n; i++)
		apply_in_batch(&t, t.index + 1 + i, &cmds[i], &out);
	assert_int_equal(t.f.m.applied, m0.applied + n);
	assert_int_equal(t.f.m.rev, 8);
	assert_int_equal(t.f.m.compacted, 7);
	assert_int_equal(t.f.m.clock_ms, 999);
	assert_int_equal(t.f.m.next_lease, 2);
	assert_int_equal(t.f.m.nleases, 2);
	assert_int_equal(t.f.m.nsessions, 1);
	assert_memory_equal(&t.f.saved, &m0, sizeof(m0));

	fsm_batch_abort(&t.f);
	assert_null(t.f.batch);
	assert_null(t.f.txn);
	assert_memory_equal(&t.f.m, &m0, sizeof(m0));
	assert_memory_equal(&t.f.saved, &m0, sizeof(m0));
	assert_int_equal(fsm_revision(&t.f), 6);
	assert_int_equal(fsm_applied(&t.f), m0.applied);
	assert_int_equal(fsm_compacted(&t.f), 0);
	snap_stream_of(&t.f, &s1);
	snap_stream_eq(&s1, &s0);
	snap_stream_free(&s1);
	assert_string_equal(t_get(&t, "a"), "3");
	assert_null(t_get(&t, "fresh"));
	snap_check_value_at(&t, "a", 1, "1", 1, 1, 1);
	assert_int_equal(snap_check_leases_of(&t).n, 1);

	/* The same entries again, at the same indexes, commit normally. */
	assert_int_equal(snap_check_batch_apply(&t, cmds, n, NULL), 0);
	assert_int_equal(fsm_revision(&t.f), 8);
	assert_int_equal(fsm_compacted(&t.f), 7);
	assert_int_equal(fsm_applied(&t.f), m0.applied + n);
	assert_string_equal(t_get(&t, "a"), "new");
	assert_int_equal(snap_check_leases_of(&t).n, 2);
	/* Aborting with no batch open is harmless. */
	struct fsm_meta m1 = t.f.m;
	fsm_batch_abort(&t.f);
	assert_memory_equal(&t.f.m, &m1, sizeof(m1));
	snap_stream_free(&s0);
	mp_buf_close(&out);
	tfsm_close(&t);
}

static void test_snapshot_batch_skips_applied(void **state)
{
	(void)state;
	struct tfsm t;
	struct sbuf s0, s1;
	struct mp_buf out;
	tfsm_open(&t, NULL);
	mp_buf_init(&out);
	snap_check_put1(&t, "k", "1");
	snap_check_put1(&t, "k", "2");
	snap_check_put1(&t, "j", "1");
	struct fsm_meta m0 = t.f.m;
	snap_stream_of(&t.f, &s0);

	struct msg_op op = op_put("k", "replayed");
	struct msg_cmd c = cmd_txn(NULL, 0, &op, 1, NULL, 0);
	assert_int_equal(fsm_batch_begin(&t.f), 0);
	for (uint64_t idx = 0; idx <= 3; idx++) {
		assert_int_equal(apply_in_batch(&t, idx, &c, &out), 0);
		assert_memory_equal(&t.f.m, &m0, sizeof(m0));
	}
	assert_int_equal(out.len, 0);
	assert_int_equal(fsm_batch_commit(&t.f), 0);
	assert_memory_equal(&t.f.m, &m0, sizeof(m0));
	snap_stream_of(&t.f, &s1);
	snap_stream_eq(&s1, &s0);
	snap_stream_free(&s1);
	assert_string_equal(t_get(&t, "k"), "2");

	/* fsm_apply_one skips the same way. */
	struct mp_buf cmd;
	mp_buf_init(&cmd);
	snap_check_encode_cmd(&cmd, &c);
	assert_int_equal(fsm_apply_one(&t.f, 2, cmd.data, cmd.len, &out), 0);
	assert_int_equal(out.len, 0);
	assert_memory_equal(&t.f.m, &m0, sizeof(m0));

	/* Inside one batch: index 4 applies, a second index 4 and a 3 are skipped. */
	assert_int_equal(fsm_batch_begin(&t.f), 0);
	op = op_put("k", "four");
	size_t first = apply_in_batch(&t, 4, &c, &out);
	assert_true(first > 0);
	op = op_put("k", "again");
	assert_int_equal(apply_in_batch(&t, 4, &c, &out), 0);
	assert_int_equal(apply_in_batch(&t, 3, &c, &out), 0);
	assert_int_equal(out.len, first);
	assert_int_equal(fsm_batch_commit(&t.f), 0);
	t.index = 4;
	assert_int_equal(fsm_applied(&t.f), 4);
	assert_int_equal(fsm_revision(&t.f), 4);
	snap_check_value_at(&t, "k", 0, "four", 1, 4, 3);
	mp_buf_close(&cmd);
	snap_stream_free(&s0);
	mp_buf_close(&out);
	tfsm_close(&t);
}

/* A mixed workload: every command type, session writes with retries and stale sequence
 * numbers, expiring sessions, leases, compactions that succeed and fail, failed
 * compares, business errors. */
#define MIX_N 300

struct mix {
	struct msg_cmd cmds[MIX_N];
	struct msg_op ops[MIX_N][2];
	struct msg_compare cmp[MIX_N];
	char keys[MIX_N][2][16];
	char vals[MIX_N][16];
	uint64_t expire[MIX_N][2];
	size_t nopens; /* sessions opened: the short-lived ones expire once abandoned */
};

static void mix_gen(struct mix *x)
{
	uint32_t r = 777;
	uint64_t sid = 0, seq = 0;
	memset(x, 0, sizeof(*x));
	for (size_t i = 0; i < MIX_N; i++) {
		struct msg_cmd *c = &x->cmds[i];
		r = r * 1103515245u + 12345u;
		uint32_t k = (r >> 16) % 24, kind = (r >> 8) % 100;
		snprintf(x->keys[i][0], 16, "m/%02u", k);
		snprintf(x->keys[i][1], 16, "m/%02u", (k + 5) % 24);
		snprintf(x->vals[i], 16, "v%zu", i);
		if (kind < 5) {
			*c = (struct msg_cmd){.type = MSG_CMD_LEASE_GRANT, .ttl = 10};
		} else if (kind < 8) {
			*c = (struct msg_cmd){.type = MSG_CMD_LEASE_REVOKE, .lease = 1 + k % 6};
		} else if (kind < 10) {
			x->expire[i][0] = 1 + k % 6;
			x->expire[i][1] = 2 + k % 6;
			*c = (struct msg_cmd){
				.type = MSG_CMD_LEASE_EXPIRE, .nleases = 2, .leases = x->expire[i]};
		} else if (kind < 13) {
			*c = (struct msg_cmd){.type = MSG_CMD_SESSION_OPEN,
					      .ttl = k % 2 ? 3000 : 100000};
			sid = i + 1; /* the entry's index */
			seq = 0;
			x->nopens++;
		} else if (kind < 16) {
			/* About half the revision so far: some succeed, some are refused as
			 * compacted; kind 15 is always in the future. */
			*c = (struct msg_cmd){.type = MSG_CMD_COMPACT,
					      .rev = kind == 15 ? i + 10 : i / 4 + k % 4};
		} else if (kind < 18) {
			*c = (struct msg_cmd){.type = MSG_CMD_TICK};
		} else {
			uint32_t nops = 1;
			x->ops[i][0] = op_put(x->keys[i][0], x->vals[i]);
			if (kind < 30)
				x->ops[i][0] = op_del(x->keys[i][0]);
			else if (kind < 40)
				x->ops[i][0] = op_add("m/counter", (int64_t)k - 12);
			else if (kind < 45)
				x->ops[i][0] = op_add(x->keys[i][0], 1); /* often not an integer */
			else if (kind < 55)
				x->ops[i][0].lease = 1 + k % 8; /* may not exist */
			if (kind >= 60 && kind < 75) {
				x->ops[i][1] = op_put(x->keys[i][1], x->vals[i]);
				nops = 2;
			}
			*c = cmd_txn(NULL, 0, x->ops[i], nops, NULL, 0);
			if (kind >= 75 && kind < 85) {
				x->cmp[i] = cmp_num(MSG_CMP_VERSION, x->keys[i][1], MSG_GT, 1);
				x->ops[i][1] = op_get(x->keys[i][1]);
				*c = cmd_txn(&x->cmp[i], 1, x->ops[i], 1, &x->ops[i][1], 1);
			}
			if (sid != 0 && kind % 3 == 0) {
				/* Now and then a session that was never opened. */
				c->session = kind % 7 == 0 ? 424242 : sid;
				/* Mostly the next seq; sometimes a retry or a stale one. */
				if (kind % 4 == 0 && seq > 0)
					c->seq = seq;
				else if (kind % 5 == 0 && seq > 1)
					c->seq = seq - 1;
				else
					c->seq = ++seq;
			}
		}
		c->time_ms = 1000 + i * 50;
	}
}

static void test_snapshot_batch_sizes_identical(void **state)
{
	(void)state;
	static const size_t sizes[] = {1, 2, 7, 64, MIX_N};
	enum { NS = sizeof(sizes) / sizeof(sizes[0]) };
	struct mix *x = malloc(sizeof(*x));
	struct tfsm t[NS];
	struct mp_buf out[NS];
	struct sbuf s[NS];
	assert_non_null(x);
	mix_gen(x);
	for (size_t i = 0; i < NS; i++) {
		tfsm_open(&t[i], NULL);
		mp_buf_init(&out[i]);
		for (size_t base = 0; base < MIX_N; base += sizes[i]) {
			size_t n = MIX_N - base < sizes[i] ? MIX_N - base : sizes[i];
			assert_int_equal(snap_check_batch_apply(&t[i], x->cmds + base, n, &out[i]),
					 0);
		}
		assert_int_equal(fsm_applied(&t[i].f), MIX_N);
		snap_stream_of(&t[i].f, &s[i]);
	}
	/* The workload did something of everything: one reply per entry, among them
	 * business errors of every kind it aims at. */
	size_t pos = 0, nreplies = 0, errs[BERTH_EBUSY - BERTH_ERR_BASE + 1] = {0};
	while (pos < out[0].len) {
		size_t used;
		struct reply r;
		assert_int_equal(
			mp_validate(out[0].data + pos, out[0].len - pos, MP_MAX_DEPTH, &used), 0);
		reply_at(&out[0], &pos, pos + used, &r);
		if (r.err != 0)
			errs[r.err - BERTH_ERR_BASE]++;
		nreplies++;
		reply_free(&r);
	}
	assert_int_equal(nreplies, MIX_N);
	static const int seen[] = {BERTH_ECOMPACTED, BERTH_EFUTUREREV, BERTH_ENOTFOUND,
				   BERTH_ETYPE,      BERTH_ESESSION,   BERTH_ESTALESEQ};
	for (size_t i = 0; i < sizeof(seen) / sizeof(seen[0]); i++)
		if (errs[seen[i] - BERTH_ERR_BASE] == 0)
			fail_msg("the workload never met %s", err_name(seen[i]));
	assert_true(t[0].f.m.nsessions >= 1 && t[0].f.m.nsessions < x->nopens);
	assert_true(fsm_revision(&t[0].f) > 150);
	assert_true(fsm_compacted(&t[0].f) > 0);
	assert_true(t[0].f.m.next_lease > 5);
	assert_true(t[0].f.m.clock_ms == 1000 + (MIX_N - 1) * 50);
	for (size_t i = 1; i < NS; i++) {
		assert_memory_equal(&t[i].f.m, &t[0].f.m, sizeof(t[0].f.m));
		assert_int_equal(out[i].len, out[0].len);
		assert_memory_equal(out[i].data, out[0].data, out[0].len);
		snap_stream_eq(&s[i], &s[0]);
	}
	for (size_t i = 0; i < NS; i++) {
		snap_stream_free(&s[i]);
		mp_buf_close(&out[i]);
		tfsm_close(&t[i]);
	}
	free(x);
}

/* ---- a full LMDB map ---- */

#define FULL_VALUE 4096
#define FULL_MAX 200 /* far more 4 KiB values than a 256 KiB map holds */

/* Room for FULL_MAX, 40 more after the reopen, and the 3 full_check looks past. */
static char full_keys[FULL_MAX + 43][16];
static char full_vals[FULL_MAX + 43][FULL_VALUE + 1];

static void full_fill(size_t i)
{
	snprintf(full_keys[i], sizeof(full_keys[i]), "full/%03zu", i);
	memset(full_vals[i], 'a' + (char)(i % 26), FULL_VALUE);
	full_vals[i][FULL_VALUE] = 0;
}

/* Every committed key reads back; the rest are absent. */
static void full_check(struct tfsm *t, size_t committed)
{
	for (size_t i = 0; i < committed; i++) {
		const char *v = t_get(t, full_keys[i]);
		assert_non_null(v);
		assert_string_equal(v, full_vals[i]);
	}
	for (size_t i = committed; i < committed + 3; i++)
		assert_null(t_get(t, full_keys[i]));
}

static void test_snapshot_map_full(void **state)
{
	(void)state;
	struct fsm_config cfg;
	struct tfsm t;
	struct sbuf s0, s1, big;
	fsm_config_default(&cfg);
	cfg.sync = KV_SYNC_NONE;
	cfg.map_bytes = 256 << 10;
	tfsm_open(&t, &cfg);
	for (size_t i = 0; i < FULL_MAX + 43; i++)
		full_fill(i);

	/* One entry per batch until the map is full. */
	size_t n = 0;
	int rv = 0;
	for (; n < FULL_MAX; n++) {
		struct msg_op op = op_put(full_keys[n], full_vals[n]);
		struct msg_cmd c = cmd_txn(NULL, 0, &op, 1, NULL, 0);
		struct reply r;
		if ((rv = tfsm_apply(&t, &c, &r)) != 0)
			break;
		assert_int_equal(r.err, 0);
		reply_free(&r);
	}
	assert_int_equal(rv, BERTH_ENOSPACE);
	assert_non_null(strstr(t.f.kv.errmsg, "MDB_MAP_FULL"));
	assert_true(n > 5 && n < FULL_MAX);
	assert_null(t.f.batch);
	assert_memory_equal(&t.f.m, &t.f.saved, sizeof(t.f.m));
	assert_int_equal(fsm_revision(&t.f), n);
	assert_int_equal(fsm_applied(&t.f), n);
	assert_int_equal(t.index, n);
	full_check(&t, n);
	snap_stream_of(&t.f, &s0);

	/* A batch of several: refused at apply or at commit, and nothing of it stays. */
	struct msg_op ops[3];
	struct msg_cmd cmds[3];
	for (size_t i = 0; i < 3; i++) {
		ops[i] = op_put(full_keys[n + i], full_vals[n + i]);
		cmds[i] = cmd_txn(NULL, 0, &ops[i], 1, NULL, 0);
	}
	assert_int_equal(snap_check_batch_apply(&t, cmds, 3, NULL), BERTH_ENOSPACE);
	assert_null(t.f.batch);
	assert_memory_equal(&t.f.m, &t.f.saved, sizeof(t.f.m));
	assert_int_equal(fsm_revision(&t.f), n);
	assert_int_equal(fsm_applied(&t.f), n);
	assert_int_equal(t.index, n);
	full_check(&t, n);
	snap_check_value_at(&t, full_keys[0], 1, full_vals[0], 1, 1, 1);
	snap_stream_of(&t.f, &s1);
	snap_stream_eq(&s1, &s0);
	snap_stream_free(&s1);

	/* A snapshot bigger than the map cannot be restored: nothing changes either. */
	struct tfsm src;
	tfsm_open(&src, NULL);
	for (size_t i = 0; i < 100; i++)
		snap_check_put1(&src, full_keys[i], full_vals[i]);
	snap_stream_of(&src.f, &big);
	assert_true(big.n > cfg.map_bytes);
	tfsm_close(&src);
	assert_int_equal(fsm_restore_buf(&t.f, big.p, big.n), BERTH_ENOSPACE);
	assert_memory_equal(&t.f.m, &t.f.saved, sizeof(t.f.m));
	assert_int_equal(fsm_revision(&t.f), n);
	snap_stream_of(&t.f, &s1);
	snap_stream_eq(&s1, &s0);
	snap_stream_free(&s1);
	snap_stream_free(&big);

	/* Reopened with a larger map: all committed data, and writes go on. */
	fsm_close(&t.f);
	cfg.map_bytes = 8 << 20;
	assert_int_equal(fsm_open(&t.f, t.dir, &cfg), 0);
	assert_int_equal(fsm_revision(&t.f), n);
	assert_int_equal(fsm_applied(&t.f), n);
	full_check(&t, n);
	snap_stream_of(&t.f, &s1);
	snap_stream_eq(&s1, &s0);
	snap_stream_free(&s1);
	assert_int_equal(snap_check_batch_apply(&t, cmds, 3, NULL), 0);
	for (size_t i = n + 3; i < n + 40; i++)
		snap_check_put1(&t, full_keys[i], full_vals[i]);
	assert_int_equal(fsm_revision(&t.f), n + 40);
	assert_int_equal(fsm_applied(&t.f), n + 40);
	full_check(&t, n + 40);
	snap_stream_free(&s0);
	tfsm_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshot_batch_commits_together),
		cmocka_unit_test(test_snapshot_batch_abort_restores),
		cmocka_unit_test(test_snapshot_batch_skips_applied),
		cmocka_unit_test(test_snapshot_batch_sizes_identical),
		cmocka_unit_test(test_snapshot_map_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
