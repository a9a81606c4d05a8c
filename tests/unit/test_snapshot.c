/* tests/unit/test_snapshot.c: compaction, snapshots, batches and failure paths of the state
 * machine (store/compact.c, store/snapshot.c, store/fsm.c): exact revisions, counts, error
 * codes and snapshot bytes. */
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
#include "tests/unit/support.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- snapshot streams in memory ---- */

struct sbuf {
	uint8_t *p;
	size_t n, cap;
	unsigned calls; /* write callbacks received */
};

static int sbuf_write(void *ctx, const void *buf, size_t n)
{
	struct sbuf *s = ctx;
	if (s->n + n > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->n + n)
			cap *= 2;
		s->p = realloc(s->p, cap);
		assert_non_null(s->p);
		s->cap = cap;
	}
	if (n > 0)
		memcpy(s->p + s->n, buf, n);
	s->n += n;
	s->calls++;
	return 0;
}

static void sbuf_free(struct sbuf *s)
{
	free(s->p);
	memset(s, 0, sizeof(*s));
}

/* The whole database of f as a snapshot stream (sbuf_free it). */
static void snap(struct fsm *f, struct sbuf *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(fsm_snapshot_write(f, sbuf_write, s), 0);
	assert_true(s->n >= 12 + 13);
}

static void sbuf_eq(const struct sbuf *a, const struct sbuf *b)
{
	assert_int_equal(a->n, b->n);
	assert_memory_equal(a->p, b->p, a->n);
}

/* ---- applying commands ---- */

/* Encodes c as a padded raft entry into b (reset first). */
static void encode_cmd(struct mp_buf *b, const struct msg_cmd *c)
{
	static const uint8_t zero[8];
	mp_buf_reset(b);
	msg_cmd_encode(b, c);
	mp_buf_append(b, zero, (8 - b->len % 8) % 8);
	assert_int_equal(mp_buf_error(b), 0);
}

/* Applies one command that must not fail fatally; r receives the reply. */
static void apply_ok(struct tfsm *t, const struct msg_cmd *c, struct reply *r)
{
	int rv = tfsm_apply(t, c, r);
	if (rv != 0)
		print_error("fatal apply error %s: %s\n", err_name(rv), t->f.kv.errmsg);
	assert_int_equal(rv, 0);
	assert_int_equal(fsm_applied(&t->f), t->index);
}

/* Applies cmds[0..n) in one batch at the indexes after t->index; replies go to out (NULL: a
 * scratch buffer). 0, or the first fatal error (the batch is then aborted). */
static int batch_apply(struct tfsm *t, const struct msg_cmd *cmds, size_t n, struct mp_buf *out)
{
	struct mp_buf cmd, scratch;
	mp_buf_init(&cmd);
	mp_buf_init(&scratch);
	int rv = fsm_batch_begin(&t->f);
	for (size_t i = 0; rv == 0 && i < n; i++) {
		encode_cmd(&cmd, &cmds[i]);
		rv = fsm_apply(&t->f, t->index + 1 + i, cmd.data, cmd.len, out ? out : &scratch);
		if (rv != 0)
			fsm_batch_abort(&t->f);
	}
	if (rv == 0 && (rv = fsm_batch_commit(&t->f)) == 0)
		t->index += n;
	mp_buf_close(&cmd);
	mp_buf_close(&scratch);
	return rv;
}

/* One put that must succeed; returns the revision it made. */
static uint64_t put1(struct tfsm *t, const char *k, const char *v)
{
	struct msg_op op = op_put(k, v);
	struct msg_cmd c = cmd_txn(NULL, 0, &op, 1, NULL, 0);
	struct reply r;
	uint64_t rev = fsm_revision(&t->f);
	apply_ok(t, &c, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, rev + 1);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), rev + 1);
	return rev + 1;
}

/* Deletes k (prefix: every key starting with k); returns the number deleted. */
static uint64_t del1(struct tfsm *t, const char *k, bool prefix)
{
	struct msg_op op = op_del(k);
	if (prefix)
		op.flags = MSG_F_PREFIX;
	struct msg_cmd c = cmd_txn(NULL, 0, &op, 1, NULL, 0);
	struct reply r;
	apply_ok(t, &c, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.nops, 1);
	uint64_t d = r.ops[0].deleted;
	reply_free(&r);
	return d;
}

/* A compaction at rev: returns the reply's error (0 = done) and checks its revision. */
static int compact(struct tfsm *t, uint64_t rev)
{
	struct msg_cmd c = {.type = MSG_CMD_COMPACT, .rev = rev};
	struct reply r;
	uint64_t cur = fsm_revision(&t->f);
	apply_ok(t, &c, &r);
	assert_int_equal(r.rev, cur);
	assert_int_equal(fsm_revision(&t->f), cur);
	int err = r.err;
	reply_free(&r);
	return err;
}

/* ---- reading ---- */

/* The reply bytes of a read-only txn of one op (owned by the caller); *err its error. */
static uint8_t *read_raw(struct tfsm *t, struct msg_op op, size_t *n, int *err)
{
	struct msg_txn x = {0, 1, 0, NULL, &op, NULL};
	struct reply r;
	int rv = tfsm_read(t, &x, &r);
	if (rv != 0)
		print_error("fatal read error %s: %s\n", err_name(rv), t->f.kv.errmsg);
	assert_int_equal(rv, 0);
	*err = r.err;
	reply_free(&r);
	uint8_t *p = malloc(t->last_len);
	assert_non_null(p);
	memcpy(p, t->last, t->last_len);
	*n = t->last_len;
	return p;
}

/* Every key at rev (0: now): the empty prefix. */
static struct msg_op all_at(uint64_t rev)
{
	struct msg_op op = op_range("", NULL);
	op.rev = rev;
	return op;
}

static struct msg_op get_at(const char *k, uint64_t rev)
{
	struct msg_op op = op_get(k);
	op.rev = rev;
	return op;
}

/* The error a read of op answers (0: answered). */
static int read_err(struct tfsm *t, struct msg_op op)
{
	size_t n;
	int err;
	free(read_raw(t, op, &n, &err));
	return err;
}

/* Reads one key at rev and checks value and metadata; v NULL: must be absent. */
static void check_get_at(struct tfsm *t, const char *k, uint64_t rev, const char *v, int64_t c,
			 int64_t m, int64_t ver)
{
	struct msg_op op = get_at(k, rev);
	struct msg_txn x = {0, 1, 0, NULL, &op, NULL};
	struct reply r;
	assert_int_equal(tfsm_read(t, &x, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.nops, 1);
	if (v == NULL) {
		assert_int_equal(r.ops[0].nkvs, 0);
		assert_int_equal(r.ops[0].count, 0);
	} else {
		assert_int_equal(r.ops[0].nkvs, 1);
		const struct reply_kv *kv = &r.ops[0].kvs[0];
		assert_int_equal(kv->key.n, strlen(k));
		assert_memory_equal(kv->key.p, k, strlen(k));
		assert_int_equal(kv->value.n, strlen(v));
		assert_memory_equal(kv->value.p, v, strlen(v));
		assert_int_equal(kv->create_rev, c);
		assert_int_equal(kv->mod_rev, m);
		assert_int_equal(kv->version, ver);
	}
	reply_free(&r);
}

/* ---- looking into LMDB ---- */

static size_t table_entries(struct tfsm *t, MDB_dbi dbi)
{
	MDB_txn *txn;
	MDB_stat st;
	assert_int_equal(mdb_txn_begin(t->f.kv.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_stat(txn, dbi, &st), 0);
	mdb_txn_abort(txn);
	return st.ms_entries;
}

/* Number of hist entries whose encoded key is exactly ek (a short key is its own ek). */
static size_t hist_entries_of(struct tfsm *t, const char *ek)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	size_t n = 0, len = strlen(ek);
	assert_int_equal(mdb_txn_begin(t->f.kv.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_cursor_open(txn, t->f.kv.hist, &cur), 0);
	for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		if (k.mv_size == len + 8 && memcmp(k.mv_data, ek, len) == 0)
			n++;
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return n;
}

/* The smallest revision in the revs table (0 when it is empty). */
static uint64_t revs_min(struct tfsm *t)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t min = 0;
	assert_int_equal(mdb_txn_begin(t->f.kv.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_cursor_open(txn, t->f.kv.revs, &cur), 0);
	for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		assert_int_equal(k.mv_size, 12);
		uint64_t r = kv_be64_get(k.mv_data);
		if (min == 0 || r < min)
			min = r;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return min;
}

/* ---- 1. compaction ---- */

/* The history a, b, c below: revisions 1..6. */
static void small_history(struct tfsm *t)
{
	assert_int_equal(put1(t, "a", "1"), 1);
	assert_int_equal(put1(t, "a", "2"), 2);
	assert_int_equal(put1(t, "b", "1"), 3);
	assert_int_equal(put1(t, "a", "3"), 4);
	assert_int_equal(del1(t, "b", false), 1);
	assert_int_equal(fsm_revision(&t->f), 5);
	assert_int_equal(put1(t, "c", "1"), 6);
}

static void test_snapshot_compact_bounds(void **state)
{
	(void)state;
	struct tfsm t;
	tfsm_open(&t, NULL);
	small_history(&t);
	assert_int_equal(table_entries(&t, t.f.kv.hist), 6);
	assert_int_equal(table_entries(&t, t.f.kv.revs), 6);

	/* Nothing compacted yet: 0 is the compaction point, so compacting at 0 is refused. */
	assert_int_equal(fsm_compacted(&t.f), 0);
	assert_int_equal(compact(&t, 7), BERTH_EFUTUREREV);
	assert_int_equal(compact(&t, 100), BERTH_EFUTUREREV);
	assert_int_equal(compact(&t, 0), BERTH_ECOMPACTED);
	assert_int_equal(fsm_compacted(&t.f), 0);
	check_get_at(&t, "a", 1, "1", 1, 1, 1);

	uint64_t applied = fsm_applied(&t.f);
	assert_int_equal(compact(&t, 4), 0);
	assert_int_equal(fsm_compacted(&t.f), 4);
	assert_int_equal(fsm_revision(&t.f), 6);
	assert_int_equal(fsm_applied(&t.f), applied + 1);

	/* At C reads work; below it they answer E_COMPACTED; above current E_FUTUREREV. */
	check_get_at(&t, "a", 4, "3", 1, 4, 3);
	check_get_at(&t, "b", 4, "1", 3, 3, 1);
	check_get_at(&t, "b", 5, NULL, 0, 0, 0);
	check_get_at(&t, "c", 4, NULL, 0, 0, 0);
	check_get_at(&t, "c", 6, "1", 6, 6, 1);
	check_get_at(&t, "a", 0, "3", 1, 4, 3);
	assert_int_equal(read_err(&t, get_at("a", 3)), BERTH_ECOMPACTED);
	assert_int_equal(read_err(&t, get_at("a", 1)), BERTH_ECOMPACTED);
	assert_int_equal(read_err(&t, all_at(3)), BERTH_ECOMPACTED);
	assert_int_equal(read_err(&t, all_at(4)), 0);
	assert_int_equal(read_err(&t, all_at(7)), BERTH_EFUTUREREV);

	/* a@1, a@2 collapse into a@4; b@3 is b's newest at or before 4 and stays. */
	assert_int_equal(table_entries(&t, t.f.kv.hist), 4);
	assert_int_equal(hist_entries_of(&t, "a"), 1);
	assert_int_equal(hist_entries_of(&t, "b"), 2);
	assert_int_equal(hist_entries_of(&t, "c"), 1);
	assert_int_equal(table_entries(&t, t.f.kv.revs), 2);
	assert_int_equal(revs_min(&t), 5);

	/* At or below the compaction point: refused, nothing changes. */
	assert_int_equal(compact(&t, 4), BERTH_ECOMPACTED);
	assert_int_equal(compact(&t, 3), BERTH_ECOMPACTED);
	assert_int_equal(compact(&t, 1), BERTH_ECOMPACTED);
	assert_int_equal(compact(&t, 7), BERTH_EFUTUREREV);
	assert_int_equal(fsm_compacted(&t.f), 4);
	assert_int_equal(table_entries(&t, t.f.kv.hist), 4);

	/* At the current revision: b (deleted at 5) leaves no history at all. */
	assert_int_equal(compact(&t, 6), 0);
	assert_int_equal(fsm_compacted(&t.f), 6);
	assert_int_equal(fsm_revision(&t.f), 6);
	assert_int_equal(table_entries(&t, t.f.kv.hist), 2);
	assert_int_equal(hist_entries_of(&t, "a"), 1);
	assert_int_equal(hist_entries_of(&t, "b"), 0);
	assert_int_equal(hist_entries_of(&t, "c"), 1);
	assert_int_equal(table_entries(&t, t.f.kv.revs), 0);
	assert_int_equal(table_entries(&t, t.f.kv.keys), 2);
	check_get_at(&t, "a", 6, "3", 1, 4, 3);
	check_get_at(&t, "b", 6, NULL, 0, 0, 0);
	assert_int_equal(read_err(&t, get_at("c", 5)), BERTH_ECOMPACTED);
	assert_int_equal(read_err(&t, all_at(6)), 0);

	/* Writing goes on from the same revision; b is created anew. */
	assert_int_equal(put1(&t, "b", "2"), 7);
	check_get_at(&t, "b", 7, "2", 7, 7, 1);
	assert_int_equal(hist_entries_of(&t, "b"), 1);

	/* A tombstone on the last key in hist order, the last entry compaction sees. */
	assert_int_equal(put1(&t, "zz", "1"), 8);
	assert_int_equal(del1(&t, "zz", false), 1);
	assert_int_equal(table_entries(&t, t.f.kv.hist), 5);
	assert_int_equal(compact(&t, 9), 0);
	assert_int_equal(hist_entries_of(&t, "zz"), 0);
	assert_int_equal(table_entries(&t, t.f.kv.hist), 3);
	assert_int_equal(table_entries(&t, t.f.kv.revs), 0);
	check_get_at(&t, "zz", 9, NULL, 0, 0, 0);
	check_get_at(&t, "b", 9, "2", 7, 7, 1);
	tfsm_close(&t);
}

/* Applies a txn of ops (success branch) that must be accepted; returns its revision. */
static uint64_t txn_ok(struct tfsm *t, struct msg_compare *cmp, uint32_t ncmp, struct msg_op *succ,
		       uint32_t nsucc, struct msg_op *fail, uint32_t nfail)
{
	struct msg_cmd c = cmd_txn(cmp, ncmp, succ, nsucc, fail, nfail);
	struct reply r;
	apply_ok(t, &c, &r);
	assert_int_equal(r.err, 0);
	uint64_t rev = r.rev;
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), rev);
	return rev;
}

/* Applies a non-txn command that must succeed; returns the reply's id. */
static uint64_t cmd_ok(struct tfsm *t, struct msg_cmd c)
{
	struct reply r;
	apply_ok(t, &c, &r);
	assert_int_equal(r.err, 0);
	uint64_t id = r.id;
	reply_free(&r);
	return id;
}

/* Keys longer than KV_INLINE: with hash_mask 0 all three share one bucket and hash. */
static char long_keys[3][KV_INLINE + 16];

static void long_keys_init(void)
{
	static const char *tails[] = {"-one", "-two", "-three"};
	for (int i = 0; i < 3; i++) {
		memset(long_keys[i], 'L', KV_INLINE);
		strcpy(long_keys[i] + KV_INLINE, tails[i]);
	}
}

/* Every key rich_history touches, and one it never does. */
static const char *rich_keys[15];
static size_t rich_nkeys;

/* A history of 21 revisions: puts, multi-op and failed-compare txns, adds, single, prefix
 * and lease deletes, re-created keys, long keys colliding in one bucket, a session write,
 * a live lease with a key. The caller has set t->f.kv.hash_mask = 0. Returns the session
 * id (its last write was seq 1). */
static uint64_t rich_history(struct tfsm *t)
{
	long_keys_init();
	const char *const keys[] = {"a/1",        "a/2",        "a/3",       "b", "c/1",
				    "c/2",        "d",          "n",         "s", "zz",
				    long_keys[0], long_keys[1], long_keys[2]};
	rich_nkeys = sizeof(keys) / sizeof(keys[0]);
	memcpy(rich_keys, keys, sizeof(keys));
	const char *L1 = long_keys[0], *L2 = long_keys[1], *L3 = long_keys[2];
	struct msg_op ops[3];

	assert_int_equal(put1(t, "a/1", "1"), 1);
	assert_int_equal(put1(t, "a/2", "1"), 2);
	assert_int_equal(put1(t, L1, "1"), 3);
	assert_int_equal(put1(t, L2, "1"), 4);
	ops[0] = op_put("a/3", "1");
	ops[1] = op_put("b", "1");
	ops[2] = op_put(L3, "1");
	assert_int_equal(txn_ok(t, NULL, 0, ops, 3, NULL, 0), 5);
	assert_int_equal(put1(t, "a/1", "2"), 6);
	assert_int_equal(del1(t, L1, false), 1);
	assert_int_equal(put1(t, L2, "2"), 8);
	uint64_t l1 = cmd_ok(t, (struct msg_cmd){.type = MSG_CMD_LEASE_GRANT, .ttl = 60});
	assert_int_equal(l1, 1);
	ops[0] = op_put("c/1", "1");
	ops[0].lease = l1;
	assert_int_equal(txn_ok(t, NULL, 0, ops, 1, NULL, 0), 9);
	ops[0] = op_put("c/2", "1");
	ops[0].lease = l1;
	assert_int_equal(txn_ok(t, NULL, 0, ops, 1, NULL, 0), 10);
	ops[0] = op_add("n", 5);
	assert_int_equal(txn_ok(t, NULL, 0, ops, 1, NULL, 0), 11);
	struct msg_compare cmp = cmp_val("a/1", MSG_EQ, "nope");
	ops[0] = op_put("a/2", "2");
	ops[1] = op_del("a/3");
	assert_int_equal(txn_ok(t, &cmp, 1, NULL, 0, ops, 2), 12);
	assert_int_equal(put1(t, L1, "again"), 13);
	cmd_ok(t, (struct msg_cmd){.type = MSG_CMD_LEASE_REVOKE, .lease = l1});
	assert_int_equal(fsm_revision(&t->f), 14);
	assert_int_equal(del1(t, "a/", true), 2);
	assert_int_equal(fsm_revision(&t->f), 15);
	uint64_t sid = cmd_ok(
		t, (struct msg_cmd){.type = MSG_CMD_SESSION_OPEN, .time_ms = 5000, .ttl = 600000});
	assert_int_equal(sid, t->index);
	struct msg_op sop = op_put("s", "1");
	struct msg_cmd sc = cmd_txn(NULL, 0, &sop, 1, NULL, 0);
	sc.session = sid;
	sc.seq = 1;
	sc.time_ms = 6000;
	struct reply r;
	apply_ok(t, &sc, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 16);
	reply_free(&r);
	ops[0] = op_add("n", 1);
	assert_int_equal(txn_ok(t, NULL, 0, ops, 1, NULL, 0), 17);
	assert_int_equal(put1(t, "a/1", "3"), 18);
	assert_int_equal(del1(t, L2, false), 1);
	assert_int_equal(put1(t, "b", "2"), 20);
	assert_int_equal(
		cmd_ok(t, (struct msg_cmd){.type = MSG_CMD_LEASE_GRANT, .lease = 77, .ttl = 30}),
		77);
	ops[0] = op_put("d", "live");
	ops[0].lease = 77;
	assert_int_equal(txn_ok(t, NULL, 0, ops, 1, NULL, 0), 21);
	cmd_ok(t, (struct msg_cmd){.type = MSG_CMD_TICK, .time_ms = 7000});
	assert_int_equal(fsm_revision(&t->f), 21);
	return sid;
}

/* Every read's reply bytes at every revision 1..rev: [all keys, then each key]. Reads below
 * the compaction point are recorded as their E_COMPACTED replies. */
struct answers {
	uint64_t nrev;
	size_t nkeys;
	uint8_t **p;
	size_t *n;
};

static void answers_record(struct tfsm *t, const char *const *keys, size_t nkeys, struct answers *a)
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
			a->p[i] = read_raw(t, j == 0 ? all_at(r) : get_at(keys[j - 1], r), &a->n[i],
					   &err);
			assert_int_equal(err, r < fsm_compacted(&t->f) ? BERTH_ECOMPACTED : 0);
		}
	}
}

/* Every recorded read again: the same bytes at and above the compaction point, E_COMPACTED
 * below it. */
static void answers_check(struct tfsm *t, const char *const *keys, const struct answers *a)
{
	assert_int_equal(fsm_revision(&t->f), a->nrev);
	for (uint64_t r = 1; r <= a->nrev; r++) {
		for (size_t j = 0; j <= a->nkeys; j++) {
			size_t i = (r - 1) * (a->nkeys + 1) + j, n;
			int err;
			uint8_t *p =
				read_raw(t, j == 0 ? all_at(r) : get_at(keys[j - 1], r), &n, &err);
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

static void answers_free(struct answers *a)
{
	for (size_t i = 0; i < a->nrev * (a->nkeys + 1); i++)
		free(a->p[i]);
	free(a->p);
	free(a->n);
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
	assert_int_equal(compact(t, c), 0);
	assert_int_equal(fsm_compacted(&t->f), c);
	struct hent *got = hist_list(t, &ngot);
	hist_eq(got, ngot, want, nwant);
	assert_int_equal(table_entries(t, t->f.kv.hist), nwant);
	assert_int_equal(table_entries(t, t->f.kv.revs), revs_want);
	assert_true(revs_want == 0 || revs_min(t) > c);
	answers_check(t, rich_keys, a);
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
	rich_history(&t);
	assert_int_equal(table_entries(&t, t.f.kv.hist), 26);
	assert_int_equal(table_entries(&t, t.f.kv.revs), 26);
	answers_record(&t, rich_keys, rich_nkeys, &a);

	/* At 8: a/1@1 goes under a/1@6, L2@4 under L2@8, and L1's first life (put at 3,
	 * deleted at 7) entirely; it comes back at 13. */
	compact_and_check(&t, 8, &a);
	assert_int_equal(table_entries(&t, t.f.kv.hist), 22);
	assert_int_equal(hist_entries_of(&t, "a/1"), 3);
	/* At 15: a/3 (deleted at 12), the lease's c/1, c/2 (14) and the prefix-deleted a/1,
	 * a/2 (15) lose everything at or before 15. */
	compact_and_check(&t, 15, &a);
	assert_int_equal(table_entries(&t, t.f.kv.hist), 11);
	assert_int_equal(hist_entries_of(&t, "a/2"), 0);
	assert_int_equal(hist_entries_of(&t, "a/3"), 0);
	assert_int_equal(hist_entries_of(&t, "c/1"), 0);
	assert_int_equal(hist_entries_of(&t, "c/2"), 0);
	assert_int_equal(hist_entries_of(&t, "a/1"), 1);
	compact_and_check(&t, 21, &a);
	/* One entry per live key: b, d, n, s, L1, L3, a/1. */
	assert_int_equal(table_entries(&t, t.f.kv.hist), 7);
	assert_int_equal(table_entries(&t, t.f.kv.keys), 7);
	assert_int_equal(table_entries(&t, t.f.kv.revs), 0);

	/* Long keys after their bucket-mate L2 lost all history: still found, and a new
	 * write to L2 reads back right. */
	check_get_at(&t, long_keys[0], 21, "again", 13, 13, 1);
	check_get_at(&t, long_keys[2], 0, "1", 5, 5, 1);
	check_get_at(&t, long_keys[1], 0, NULL, 0, 0, 0);
	assert_int_equal(put1(&t, long_keys[1], "3"), 22);
	check_get_at(&t, long_keys[1], 22, "3", 22, 22, 1);
	check_get_at(&t, long_keys[0], 22, "again", 13, 13, 1);
	check_get_at(&t, long_keys[2], 22, "1", 5, 5, 1);
	answers_free(&a);
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
		assert_int_equal(batch_apply(t, cmds, BIG_BATCH, NULL), 0);
		assert_int_equal(fsm_revision(&t->f), base + BIG_BATCH);
	}
}

/* Reads every key at rev and compares with the model. */
static void big_check(struct tfsm *t, uint64_t rev, const struct big_model *m)
{
	struct msg_op op = all_at(rev);
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
	assert_int_equal(table_entries(&t, t.f.kv.hist), BIG_N);
	assert_int_equal(table_entries(&t, t.f.kv.revs), BIG_N);

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
	assert_int_equal(compact(&t, c), 0);
	assert_int_equal(fsm_revision(&t.f), BIG_N);
	assert_int_equal(fsm_compacted(&t.f), c);
	struct hent *got = hist_list(&t, &ngot);
	hist_eq(got, ngot, want, nwant);
	assert_int_equal(table_entries(&t, t.f.kv.hist), (BIG_N - c) + live_at_c);
	assert_int_equal(table_entries(&t, t.f.kv.revs), BIG_N - c);
	assert_int_equal(revs_min(&t), c + 1);

	/* Every retained revision reads right; the ones before answer E_COMPACTED. */
	memset(&m, 0, sizeof(m));
	for (uint64_t rev = 1; rev <= BIG_N; rev++) {
		big_step(&m, b, rev);
		if (rev >= c)
			big_check(&t, rev, &m);
		else if (rev == c - 1 || rev == 1 || rev % 4096 == 0)
			assert_int_equal(read_err(&t, all_at(rev)), BERTH_ECOMPACTED);
	}
	free(before);
	free(want);
	free(got);
	free(b);
	tfsm_close(&t);
}

/* ---- 2. snapshots ---- */

struct lease_list {
	size_t n;
	uint64_t id[8];
	int64_t ttl[8];
};

static int lease_collect(void *ctx, uint64_t id, int64_t ttl_s)
{
	struct lease_list *l = ctx;
	assert_true(l->n < 8);
	l->id[l->n] = id;
	l->ttl[l->n++] = ttl_s;
	return 0;
}

static struct lease_list leases_of(struct tfsm *t)
{
	struct lease_list l = {0};
	assert_int_equal(fsm_lease_foreach(&t->f, lease_collect, &l), 0);
	return l;
}

/* Everything a restore must carry over from src to dst. */
static void same_state(struct tfsm *src, struct tfsm *dst)
{
	assert_int_equal(fsm_revision(&dst->f), fsm_revision(&src->f));
	assert_int_equal(fsm_applied(&dst->f), fsm_applied(&src->f));
	assert_int_equal(fsm_compacted(&dst->f), fsm_compacted(&src->f));
	assert_memory_equal(&dst->f.m, &src->f.m, sizeof(src->f.m));
	assert_memory_equal(&dst->f.saved, &src->f.saved, sizeof(src->f.saved));
	struct lease_list a = leases_of(src), b = leases_of(dst);
	assert_int_equal(b.n, a.n);
	for (size_t i = 0; i < a.n; i++) {
		assert_int_equal(b.id[i], a.id[i]);
		assert_int_equal(b.ttl[i], a.ttl[i]);
	}
	size_t na, nb;
	int ea, eb;
	uint8_t *pa = read_raw(src, all_at(0), &na, &ea), *pb = read_raw(dst, all_at(0), &nb, &eb);
	assert_int_equal(ea, 0);
	assert_int_equal(eb, 0);
	assert_int_equal(nb, na);
	assert_memory_equal(pb, pa, na);
	free(pa);
	free(pb);
	struct sbuf s1, s2;
	snap(&src->f, &s1);
	snap(&dst->f, &s2);
	sbuf_eq(&s1, &s2);
	sbuf_free(&s1);
	sbuf_free(&s2);
}

/* A stream for fsm_restore: hands out p[0..n) and fails with fail_rv once a read would
 * go past fail_at. */
struct reader {
	const uint8_t *p;
	size_t n, pos, fail_at;
	int fail_rv;
	unsigned calls;
};

static int reader_read(void *ctx, void *buf, size_t n)
{
	struct reader *r = ctx;
	r->calls++;
	if (r->pos + n > r->fail_at)
		return r->fail_rv;
	if (n > r->n - r->pos)
		return BERTH_ECORRUPT;
	memcpy(buf, r->p + r->pos, n);
	r->pos += n;
	return 0;
}

/* rich_history compacted at 8, with its answers recorded; returns its session id. */
static uint64_t rich_source(struct tfsm *t, struct answers *a)
{
	tfsm_open(t, NULL);
	t->f.kv.hash_mask = 0;
	uint64_t sid = rich_history(t);
	assert_int_equal(compact(t, 8), 0);
	answers_record(t, rich_keys, rich_nkeys, a);
	return sid;
}

static void test_snapshot_restore_roundtrip(void **state)
{
	(void)state;
	struct tfsm t, u;
	struct answers a;
	struct sbuf s, s2;
	rich_source(&t, &a);
	snap(&t.f, &s);
	assert_int_equal(s.calls, 1); /* small: one chunk */
	assert_memory_equal(s.p, "BERTHSNP\0\0\0\1", 12);

	tfsm_open(&u, NULL);
	u.f.kv.hash_mask = 0;
	assert_int_equal(fsm_restore_buf(&u.f, s.p, s.n), 0);
	assert_int_equal(fsm_revision(&u.f), 21);
	assert_int_equal(fsm_compacted(&u.f), 8);
	assert_int_equal(fsm_applied(&u.f), t.index);
	struct lease_list l = leases_of(&u);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.id[0], 77);
	assert_int_equal(l.ttl[0], 30);
	same_state(&t, &u);
	answers_check(&u, rich_keys, &a);
	snap(&u.f, &s2);
	sbuf_eq(&s, &s2);
	sbuf_free(&s2);

	/* Both go on identically: same reply bytes, same streams. */
	u.index = fsm_applied(&u.f);
	assert_int_equal(put1(&t, "after", "x"), 22);
	uint8_t *first = malloc(t.last_len);
	assert_non_null(first);
	memcpy(first, t.last, t.last_len);
	assert_int_equal(put1(&u, "after", "x"), 22);
	assert_int_equal(u.last_len, t.last_len);
	assert_memory_equal(u.last, first, t.last_len);
	same_state(&t, &u);
	free(first);

	/* Leases carried over still work: revoking 77 deletes d on the restored machine. */
	cmd_ok(&u, (struct msg_cmd){.type = MSG_CMD_LEASE_REVOKE, .lease = 77});
	assert_int_equal(fsm_revision(&u.f), 23);
	assert_null(t_get(&u, "d"));
	assert_int_equal(leases_of(&u).n, 0);

	/* The same stream through fsm_restore and a read callback. */
	struct tfsm v;
	struct reader rd = {.p = s.p, .n = s.n, .fail_at = SIZE_MAX};
	tfsm_open(&v, NULL);
	v.f.kv.hash_mask = 0;
	assert_int_equal(fsm_restore(&v.f, reader_read, &rd), 0);
	assert_int_equal(rd.pos, s.n);
	assert_true(rd.calls > 10);
	assert_int_equal(fsm_revision(&v.f), 21);
	answers_check(&v, rich_keys, &a);
	tfsm_close(&v);
	sbuf_free(&s);
	answers_free(&a);
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
	snap(&t.f, &s);

	/* u has more of everything: keys t never had, its own lease and session, a later
	 * revision and compaction point. */
	tfsm_open(&u, NULL);
	u.f.kv.hash_mask = 0;
	for (int i = 0; i < 30; i++)
		put1(&u, i % 2 ? "old-only" : "b", i % 3 ? "x" : "y");
	assert_int_equal(
		cmd_ok(&u, (struct msg_cmd){.type = MSG_CMD_LEASE_GRANT, .lease = 5, .ttl = 9}), 5);
	cmd_ok(&u, (struct msg_cmd){.type = MSG_CMD_SESSION_OPEN, .ttl = 1000});
	assert_int_equal(compact(&u, 25), 0);
	assert_int_equal(fsm_revision(&u.f), 30);
	assert_true(fsm_applied(&u.f) != fsm_applied(&t.f));

	assert_int_equal(fsm_restore_buf(&u.f, s.p, s.n), 0);
	same_state(&t, &u);
	assert_int_equal(fsm_revision(&u.f), 21);
	assert_int_equal(fsm_compacted(&u.f), 8);
	assert_null(t_get(&u, "old-only"));
	assert_int_equal(hist_entries_of(&u, "old-only"), 0);
	assert_string_equal(t_get(&u, "b"), "2");
	struct lease_list l = leases_of(&u);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.id[0], 77);
	assert_int_equal(table_entries(&u, u.f.kv.sess), 1);
	assert_int_equal(table_entries(&u, u.f.kv.sessdl), 1);
	answers_check(&u, rich_keys, &a);

	/* An empty database's stream empties every table and zeroes every counter. */
	struct tfsm e;
	tfsm_open(&e, NULL);
	snap(&e.f, &empty);
	assert_int_equal(empty.n, 12 + 1 + 8 + 4);
	assert_int_equal(fsm_restore_buf(&u.f, empty.p, empty.n), 0);
	struct fsm_meta zero = {0};
	assert_memory_equal(&u.f.m, &zero, sizeof(zero));
	assert_memory_equal(&u.f.saved, &zero, sizeof(zero));
	MDB_dbi tables[] = {u.f.kv.meta,   u.f.kv.keys,  u.f.kv.hist, u.f.kv.revs,
			    u.f.kv.leases, u.f.kv.lkeys, u.f.kv.sess, u.f.kv.sessdl};
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		assert_int_equal(table_entries(&u, tables[i]), 0);
	same_state(&e, &u);
	sbuf_free(&empty);
	tfsm_close(&e);
	sbuf_free(&s);
	answers_free(&a);
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
	apply_ok(&t, &c, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 22);
	reply_free(&r);
	size_t first_len = t.last_len;
	uint8_t *first = malloc(first_len);
	assert_non_null(first);
	memcpy(first, t.last, first_len);
	snap(&t.f, &s);

	tfsm_open(&u, NULL);
	u.f.kv.hash_mask = 0;
	assert_int_equal(fsm_restore_buf(&u.f, s.p, s.n), 0);
	u.index = fsm_applied(&u.f);
	same_state(&t, &u);

	/* The retry: the first reply, byte for byte, and no new revision. */
	apply_ok(&u, &c, &r);
	reply_free(&r);
	assert_int_equal(u.last_len, first_len);
	assert_memory_equal(u.last, first, first_len);
	assert_int_equal(fsm_revision(&u.f), 22);
	assert_string_equal(t_get(&u, "s"), "2");
	/* Even with another body under the same (session, seq). */
	op = op_put("s", "other");
	apply_ok(&u, &c, &r);
	reply_free(&r);
	assert_int_equal(u.last_len, first_len);
	assert_memory_equal(u.last, first, first_len);
	assert_int_equal(fsm_revision(&u.f), 22);
	assert_string_equal(t_get(&u, "s"), "2");
	/* An older sequence is stale; the next one applies. */
	c.seq = 1;
	apply_ok(&u, &c, &r);
	assert_int_equal(r.err, BERTH_ESTALESEQ);
	reply_free(&r);
	c.seq = 3;
	apply_ok(&u, &c, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 23);
	reply_free(&r);
	assert_string_equal(t_get(&u, "s"), "other");

	free(first);
	sbuf_free(&s);
	answers_free(&a);
	tfsm_close(&t);
	tfsm_close(&u);
}

/* ---- 3. consistency while writes go on ---- */

#define BUSY_KEYS 150
#define BUSY_VALUE 1024

static char busy_keys[BUSY_KEYS + 40][16];
static char busy_vals[BUSY_KEYS + 40][BUSY_VALUE + 1];

static void busy_fill(size_t i, char c)
{
	snprintf(busy_keys[i], sizeof(busy_keys[i]), "busy/%03zu", i);
	memset(busy_vals[i], c + (char)(i % 20), BUSY_VALUE);
	busy_vals[i][BUSY_VALUE] = 0;
}

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
			busy_fill(i, 'a');
			ops[nc] = op_put(busy_keys[i], busy_vals[i]);
			cmds[nc] = cmd_txn(NULL, 0, &ops[nc], 1, NULL, 0);
			nc++;
		}
		for (size_t i = 50; i < 70; i++) {
			ops[nc] = op_del(busy_keys[i]);
			cmds[nc] = cmd_txn(NULL, 0, &ops[nc], 1, NULL, 0);
			nc++;
		}
		for (size_t i = BUSY_KEYS; i < BUSY_KEYS + 40; i++) {
			busy_fill(i, 'A');
			ops[nc] = op_put(busy_keys[i], busy_vals[i]);
			cmds[nc] = cmd_txn(NULL, 0, &ops[nc], 1, NULL, 0);
			nc++;
		}
		cmds[nc++] = (struct msg_cmd){.type = MSG_CMD_LEASE_GRANT, .lease = 9, .ttl = 5};
		cmds[nc++] = (struct msg_cmd){.type = MSG_CMD_COMPACT, .rev = 200};
		m->batch_rv = batch_apply(m->t, cmds, nc, NULL);
	}
	return sbuf_write(&m->out, buf, n);
}

static void test_snapshot_consistent_during_writes(void **state)
{
	(void)state;
	struct tfsm t, u;
	struct sbuf before;
	struct meddler m = {0};
	tfsm_open(&t, NULL);
	for (size_t i = 0; i < BUSY_KEYS; i++) {
		busy_fill(i, '0');
		put1(&t, busy_keys[i], busy_vals[i]);
	}
	for (size_t i = 0; i < BUSY_KEYS; i += 3)
		put1(&t, busy_keys[i], "short");
	assert_int_equal(fsm_revision(&t.f), 200);
	struct fsm_meta meta = t.f.m;
	size_t now_len;
	int err;
	uint8_t *now = read_raw(&t, all_at(0), &now_len, &err);
	assert_int_equal(err, 0);
	snap(&t.f, &before);
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
	assert_int_equal(leases_of(&t).n, 1);
	assert_null(t_get(&t, busy_keys[50]));
	assert_non_null(t_get(&t, busy_keys[BUSY_KEYS]));
	/* ...and the stream is the state as of its start, byte for byte. */
	sbuf_eq(&m.out, &before);

	tfsm_open(&u, NULL);
	assert_int_equal(fsm_restore_buf(&u.f, m.out.p, m.out.n), 0);
	assert_memory_equal(&u.f.m, &meta, sizeof(meta));
	assert_int_equal(fsm_revision(&u.f), 200);
	assert_int_equal(fsm_compacted(&u.f), 0);
	assert_int_equal(leases_of(&u).n, 0);
	size_t got_len;
	uint8_t *got = read_raw(&u, all_at(0), &got_len, &err);
	assert_int_equal(err, 0);
	assert_int_equal(got_len, now_len);
	assert_memory_equal(got, now, now_len);
	assert_string_equal(t_get(&u, busy_keys[0]), "short");
	assert_null(t_get(&u, busy_keys[BUSY_KEYS]));
	check_get_at(&u, busy_keys[1], 1, NULL, 0, 0, 0);
	busy_fill(1, '0');
	check_get_at(&u, busy_keys[1], 2, busy_vals[1], 2, 2, 1);

	free(now);
	free(got);
	sbuf_free(&before);
	sbuf_free(&m.out);
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
	return sbuf_write(&f->out, buf, n);
}

/* A write callback's error stops the stream and comes back; the database goes on. */
static void test_snapshot_write_error(void **state)
{
	(void)state;
	struct tfsm t;
	struct sbuf s0, s1;
	tfsm_open(&t, NULL);
	for (size_t i = 0; i < BUSY_KEYS; i++) {
		busy_fill(i, '0');
		put1(&t, busy_keys[i], busy_vals[i]);
	}
	snap(&t.f, &s0);
	unsigned chunks = s0.calls;
	assert_true(chunks >= 5);
	for (unsigned k = 1; k <= chunks; k++) {
		struct failing_sink f = {.fail_on = k, .rv = k % 2 ? BERTH_EIO : BERTH_ECANCELED};
		assert_int_equal(fsm_snapshot_write(&t.f, failing_write, &f), f.rv);
		/* Nothing after the failed call. */
		assert_int_equal(f.out.calls, k);
		assert_int_equal(f.out.n, (size_t)(k - 1) * 64 * 1024);
		sbuf_free(&f.out);
	}
	/* No read transaction was left behind: writes, and later snapshots, work. */
	assert_int_equal(put1(&t, "after", "1"), BUSY_KEYS + 1);
	snap(&t.f, &s1);
	assert_true(s1.n > s0.n);
	sbuf_free(&s0);
	sbuf_free(&s1);
	tfsm_close(&t);
}

/* ---- 4. bad snapshots change nothing ---- */

/* One record of a stream, borrowing its bytes. */
struct srec {
	uint8_t table;
	const uint8_t *k, *v;
	size_t kn, vn;
};

static uint32_t be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Splits a stream written by fsm_snapshot_write into records (free the array). */
static struct srec *stream_parse(const struct sbuf *s, size_t *count)
{
	size_t pos = 12, n = 0;
	struct srec *r = malloc(s->n * sizeof(*r) / 9 + 1);
	assert_non_null(r);
	assert_memory_equal(s->p, "BERTHSNP", 8);
	while (s->p[pos] != 0xff) {
		r[n].table = s->p[pos];
		r[n].kn = be32(s->p + pos + 1);
		r[n].k = s->p + pos + 5;
		pos += 5 + r[n].kn;
		r[n].vn = be32(s->p + pos);
		r[n].v = s->p + pos + 4;
		pos += 4 + r[n].vn;
		n++;
	}
	assert_int_equal(kv_be64_get(s->p + pos + 1), n);
	assert_int_equal(pos + 13, s->n);
	*count = n;
	return r;
}

/* Writes a stream: magic, version, records, then `count` and a correct CRC. */
static void stream_build(const char *magic, uint32_t version, const struct srec *r, size_t n,
			 uint64_t count, struct sbuf *out)
{
	uint8_t b[13];
	memset(out, 0, sizeof(*out));
	sbuf_write(out, magic, 8);
	put_be32(b, version);
	sbuf_write(out, b, 4);
	for (size_t i = 0; i < n; i++) {
		b[0] = r[i].table;
		put_be32(b + 1, (uint32_t)r[i].kn);
		sbuf_write(out, b, 5);
		sbuf_write(out, r[i].k, r[i].kn);
		put_be32(b, (uint32_t)r[i].vn);
		sbuf_write(out, b, 4);
		sbuf_write(out, r[i].v, r[i].vn);
	}
	b[0] = 0xff;
	kv_be64_put(b + 1, count);
	sbuf_write(out, b, 9);
	put_be32(b, (uint32_t)crc32(crc32(0, Z_NULL, 0), out->p, (uInt)out->n));
	sbuf_write(out, b, 4);
}

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
	put1(&g->t, "target/1", "x");
	put1(&g->t, "target/2", "y");
	put1(&g->t, "target/1", "z");
	cmd_ok(&g->t, (struct msg_cmd){.type = MSG_CMD_LEASE_GRANT, .lease = 4, .ttl = 40});
	assert_int_equal(compact(&g->t, 2), 0);
	g->m0 = g->t.f.m;
	g->checked = 0;
	snap(&g->t.f, &g->s0);
}

static void target_unchanged(struct target *g)
{
	struct sbuf now;
	assert_memory_equal(&g->t.f.m, &g->m0, sizeof(g->m0));
	assert_memory_equal(&g->t.f.saved, &g->m0, sizeof(g->m0));
	assert_null(g->t.f.batch);
	snap(&g->t.f, &now);
	sbuf_eq(&now, &g->s0);
	sbuf_free(&now);
	g->checked++;
}

static void target_close(struct target *g)
{
	/* The target still works after every refused restore. */
	assert_int_equal(put1(&g->t, "target/3", "w"), 4);
	sbuf_free(&g->s0);
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

/* A small source with a record in every table: small_history, a lease with a key, a
 * session. */
static void small_source(struct tfsm *t, struct sbuf *s)
{
	tfsm_open(t, NULL);
	small_history(t);
	cmd_ok(t, (struct msg_cmd){.type = MSG_CMD_LEASE_GRANT, .lease = 3, .ttl = 10});
	struct msg_op op = op_put("l", "leased");
	op.lease = 3;
	txn_ok(t, NULL, 0, &op, 1, NULL, 0);
	cmd_ok(t, (struct msg_cmd){.type = MSG_CMD_SESSION_OPEN, .ttl = 1000});
	snap(&t->f, s);
	MDB_dbi tables[] = {t->f.kv.meta,   t->f.kv.keys,  t->f.kv.hist, t->f.kv.revs,
			    t->f.kv.leases, t->f.kv.lkeys, t->f.kv.sess, t->f.kv.sessdl};
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		assert_true(table_entries(t, tables[i]) > 0);
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
	sbuf_free(&g.s0);
	tfsm_close(&g.t);
	sbuf_free(&s);
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
	sbuf_free(&s);
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
		busy_fill(i, '0');
		put1(&t, busy_keys[i], busy_vals[i]);
	}
	snap(&t.f, &s);
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
	sbuf_free(&s);
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
	stream_build(magic, version, r, n, count, &b);
	expect_bad(g, b.p, b.n, want);
	sbuf_free(&b);
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
	struct srec *r = stream_parse(&s, &n);
	struct srec *m = malloc((n + 2) * sizeof(*m));
	assert_non_null(m);

	/* The builder reproduces a real stream exactly, so what follows differs from a
	 * good stream only where each case says. */
	stream_build("BERTHSNP", 1, r, n, n, &b);
	sbuf_eq(&b, &s);
	sbuf_free(&b);

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
	stream_build("BERTHSNP", 1, m, n + 1, n + 1, &b);
	assert_int_equal(fsm_restore_buf(&g.t.f, b.p, b.n), 0);
	assert_int_equal(fsm_revision(&g.t.f), 7);
	sbuf_free(&b);
	stream_build("BERTHSNP", 1, r, n - 1, n - 1, &b);
	assert_int_equal(fsm_restore_buf(&g.t.f, b.p, b.n), 0);
	assert_int_equal(fsm_revision(&g.t.f), 7);
	sbuf_free(&b);

	free(m);
	free(r);
	sbuf_free(&g.s0);
	tfsm_close(&g.t);
	sbuf_free(&s);
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
			assert_int_equal(fsm_restore(&g.t.f, reader_read, &rd), errs[e]);
			assert_true(rd.pos <= at[i]);
			target_unchanged(&g);
		}
	}
	/* The reader that fails nowhere. */
	struct reader ok = {.p = s.p, .n = s.n, .fail_at = SIZE_MAX};
	assert_int_equal(fsm_restore(&g.t.f, reader_read, &ok), 0);
	assert_int_equal(ok.pos, s.n);
	assert_int_equal(fsm_revision(&g.t.f), 7);
	struct sbuf again;
	snap(&g.t.f, &again);
	sbuf_eq(&again, &s);
	sbuf_free(&again);
	sbuf_free(&g.s0);
	tfsm_close(&g.t);
	sbuf_free(&s);
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
	sbuf_free(&s);
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
		put1(t, key, val);
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
		put1(&t, "seed", "x");
		grow_to(&t, ends[i]);
		want = stream_len_expected(&t);
		assert_int_equal((want - 4) % 65536, ends[i]);
		snap(&t.f, &s);
		got = s.n;
		tfsm_open(&u, NULL);
		restored = fsm_restore_buf(&u.f, s.p, s.n);
		bool same_rev = fsm_revision(&u.f) == fsm_revision(&t.f);
		tfsm_close(&u);
		if (got == want && restored == 0 && same_rev) {
			size_t nrec;
			free(stream_parse(&s, &nrec));
		} else {
			bad_end = ends[i];
		}
		sbuf_free(&s);
		tfsm_close(&t);
	}
	if (bad_end != SIZE_MAX)
		fail_msg("stream whose CRC starts %zu bytes into a chunk: %zu bytes (want %zu), "
			 "restore %s",
			 bad_end, got, want, err_name(restored));
}

/* ---- 5. batches ---- */

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
	encode_cmd(&cmd, c);
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
	put1(&t, "pre", "0");

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
	check_get_at(&t, "y", 0, "2", 3, 3, 1);

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
	small_history(&t);
	cmd_ok(&t, (struct msg_cmd){.type = MSG_CMD_LEASE_GRANT, .ttl = 10, .time_ms = 100});
	struct fsm_meta m0 = t.f.m;
	snap(&t.f, &s0);

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
	snap(&t.f, &s1);
	sbuf_eq(&s1, &s0);
	sbuf_free(&s1);
	assert_string_equal(t_get(&t, "a"), "3");
	assert_null(t_get(&t, "fresh"));
	check_get_at(&t, "a", 1, "1", 1, 1, 1);
	assert_int_equal(leases_of(&t).n, 1);

	/* The same entries again, at the same indexes, commit normally. */
	assert_int_equal(batch_apply(&t, cmds, n, NULL), 0);
	assert_int_equal(fsm_revision(&t.f), 8);
	assert_int_equal(fsm_compacted(&t.f), 7);
	assert_int_equal(fsm_applied(&t.f), m0.applied + n);
	assert_string_equal(t_get(&t, "a"), "new");
	assert_int_equal(leases_of(&t).n, 2);
	/* Aborting with no batch open is harmless. */
	struct fsm_meta m1 = t.f.m;
	fsm_batch_abort(&t.f);
	assert_memory_equal(&t.f.m, &m1, sizeof(m1));
	sbuf_free(&s0);
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
	put1(&t, "k", "1");
	put1(&t, "k", "2");
	put1(&t, "j", "1");
	struct fsm_meta m0 = t.f.m;
	snap(&t.f, &s0);

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
	snap(&t.f, &s1);
	sbuf_eq(&s1, &s0);
	sbuf_free(&s1);
	assert_string_equal(t_get(&t, "k"), "2");

	/* fsm_apply_one skips the same way. */
	struct mp_buf cmd;
	mp_buf_init(&cmd);
	encode_cmd(&cmd, &c);
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
	check_get_at(&t, "k", 0, "four", 1, 4, 3);
	mp_buf_close(&cmd);
	sbuf_free(&s0);
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
			assert_int_equal(batch_apply(&t[i], x->cmds + base, n, &out[i]), 0);
		}
		assert_int_equal(fsm_applied(&t[i].f), MIX_N);
		snap(&t[i].f, &s[i]);
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
		sbuf_eq(&s[i], &s[0]);
	}
	for (size_t i = 0; i < NS; i++) {
		sbuf_free(&s[i]);
		mp_buf_close(&out[i]);
		tfsm_close(&t[i]);
	}
	free(x);
}

/* ---- 6. a full LMDB map ---- */

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
	snap(&t.f, &s0);

	/* A batch of several: refused at apply or at commit, and nothing of it stays. */
	struct msg_op ops[3];
	struct msg_cmd cmds[3];
	for (size_t i = 0; i < 3; i++) {
		ops[i] = op_put(full_keys[n + i], full_vals[n + i]);
		cmds[i] = cmd_txn(NULL, 0, &ops[i], 1, NULL, 0);
	}
	assert_int_equal(batch_apply(&t, cmds, 3, NULL), BERTH_ENOSPACE);
	assert_null(t.f.batch);
	assert_memory_equal(&t.f.m, &t.f.saved, sizeof(t.f.m));
	assert_int_equal(fsm_revision(&t.f), n);
	assert_int_equal(fsm_applied(&t.f), n);
	assert_int_equal(t.index, n);
	full_check(&t, n);
	check_get_at(&t, full_keys[0], 1, full_vals[0], 1, 1, 1);
	snap(&t.f, &s1);
	sbuf_eq(&s1, &s0);
	sbuf_free(&s1);

	/* A snapshot bigger than the map cannot be restored: nothing changes either. */
	struct tfsm src;
	tfsm_open(&src, NULL);
	for (size_t i = 0; i < 100; i++)
		put1(&src, full_keys[i], full_vals[i]);
	snap(&src.f, &big);
	assert_true(big.n > cfg.map_bytes);
	tfsm_close(&src);
	assert_int_equal(fsm_restore_buf(&t.f, big.p, big.n), BERTH_ENOSPACE);
	assert_memory_equal(&t.f.m, &t.f.saved, sizeof(t.f.m));
	assert_int_equal(fsm_revision(&t.f), n);
	snap(&t.f, &s1);
	sbuf_eq(&s1, &s0);
	sbuf_free(&s1);
	sbuf_free(&big);

	/* Reopened with a larger map: all committed data, and writes go on. */
	fsm_close(&t.f);
	cfg.map_bytes = 8 << 20;
	assert_int_equal(fsm_open(&t.f, t.dir, &cfg), 0);
	assert_int_equal(fsm_revision(&t.f), n);
	assert_int_equal(fsm_applied(&t.f), n);
	full_check(&t, n);
	snap(&t.f, &s1);
	sbuf_eq(&s1, &s0);
	sbuf_free(&s1);
	assert_int_equal(batch_apply(&t, cmds, 3, NULL), 0);
	for (size_t i = n + 3; i < n + 40; i++)
		put1(&t, full_keys[i], full_vals[i]);
	assert_int_equal(fsm_revision(&t.f), n + 40);
	assert_int_equal(fsm_applied(&t.f), n + 40);
	full_check(&t, n + 40);
	sbuf_free(&s0);
	tfsm_close(&t);
}

/* ---- 7. open errors ---- */

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static struct fsm_config test_config(void)
{
	struct fsm_config cfg;
	fsm_config_default(&cfg);
	cfg.sync = KV_SYNC_NONE;
	cfg.map_bytes = (size_t)64 << 20;
	return cfg;
}

static void test_snapshot_open_busy(void **state)
{
	(void)state;
	struct tfsm t;
	struct fsm f2;
	struct fsm_config cfg = test_config();
	int fds0 = open_fds();
	tfsm_open(&t, NULL);
	put1(&t, "k", "1");
	int fds = open_fds();
	assert_int_equal(fsm_open(&f2, t.dir, &cfg), BERTH_EBUSY);
	assert_non_null(strstr(f2.errmsg, t.dir));
	assert_int_equal(open_fds(), fds);
	/* Again: the refused open left no lock behind. */
	assert_int_equal(fsm_open(&f2, t.dir, &cfg), BERTH_EBUSY);
	assert_int_equal(open_fds(), fds);
	/* The holder is undisturbed. */
	assert_int_equal(put1(&t, "k", "2"), 2);
	assert_string_equal(t_get(&t, "k"), "2");

	/* Once it closes, the directory opens, with its data. */
	fsm_close(&t.f);
	assert_int_equal(fsm_open(&f2, t.dir, &cfg), 0);
	assert_int_equal(fsm_revision(&f2), 2);
	assert_int_equal(fsm_applied(&f2), 2);
	fsm_close(&f2);
	assert_int_equal(open_fds(), fds0); /* every descriptor of both opens is closed */
	tfsm_close(&t);                     /* closing a closed fsm is harmless */
}

static void test_snapshot_open_bad_config(void **state)
{
	(void)state;
	char *base = support_tmpdir(), path[4200];
	struct fsm f;
	struct stat st;
	const char *why;
	snprintf(path, sizeof(path), "%s/never", base);
	struct fsm_config good = test_config(), bad[8];
	for (size_t i = 0; i < 8; i++)
		bad[i] = good;
	bad[0].max_key_bytes = 0;
	bad[1].max_key_bytes = KV_KEY_HARD_MAX + 1;
	bad[2].max_value_bytes = ((size_t)64 << 20) + 1;
	bad[3].max_txn_ops = 0;
	bad[4].max_txn_ops = 65537;
	bad[5].max_result_bytes = 1023;
	bad[6].map_bytes = ((size_t)64 << 10) - 1;
	bad[7].sync = (enum kv_sync)(KV_SYNC_NONE + 1);
	static const char *names[] = {"max_key_bytes", "max_key_bytes", "max_value_bytes",
				      "max_txn_ops",   "max_txn_ops",   "max_result_bytes",
				      "map_bytes",     "sync"};
	int fds = open_fds();
	for (size_t i = 0; i < 8; i++) {
		assert_int_equal(fsm_config_validate(&bad[i], &why), BERTH_EBADREQ);
		assert_non_null(why);
		assert_non_null(strstr(why, names[i]));
		assert_int_equal(fsm_open(&f, path, &bad[i]), BERTH_EBADREQ);
		assert_non_null(strstr(f.errmsg, "fsm config: "));
		assert_non_null(strstr(f.errmsg, why));
		/* Refused before touching the disk. */
		assert_int_equal(stat(path, &st), -1);
		assert_int_equal(errno, ENOENT);
	}
	assert_int_equal(open_fds(), fds);

	/* Each limit at its bound is accepted, and the smallest map opens. */
	good.max_key_bytes = KV_KEY_HARD_MAX;
	good.max_value_bytes = (size_t)64 << 20;
	good.max_txn_ops = 65536;
	good.max_result_bytes = 1024;
	good.map_bytes = (size_t)64 << 10;
	assert_int_equal(fsm_config_validate(&good, &why), 0);
	assert_null(why);
	int rv = fsm_open(&f, path, &good);
	if (rv != 0)
		print_error("fsm_open with a 64 KiB map: %s\n", f.errmsg);
	assert_int_equal(rv, 0);
	assert_int_equal(fsm_revision(&f), 0);
	fsm_close(&f);
	support_rmrf(base);
	free(base);
}

static void test_snapshot_open_bad_dir(void **state)
{
	(void)state;
	char *base = support_tmpdir(), file[4200], path[4300];
	struct fsm f;
	struct fsm_config cfg = test_config();
	snprintf(file, sizeof(file), "%s/file", base);
	int fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	int fds = open_fds();

	/* Under a regular file; the file itself; under a missing directory. */
	snprintf(path, sizeof(path), "%.4000s/db", file);
	assert_int_equal(fsm_open(&f, path, &cfg), BERTH_EIO);
	assert_non_null(strstr(f.errmsg, path));
	assert_int_equal(fsm_open(&f, file, &cfg), BERTH_EIO);
	assert_non_null(strstr(f.errmsg, file));
	snprintf(path, sizeof(path), "%s/missing/db", base);
	assert_int_equal(fsm_open(&f, path, &cfg), BERTH_EIO);
	assert_non_null(strstr(f.errmsg, path));
	assert_int_equal(open_fds(), fds);

	/* A data file that is not LMDB. */
	snprintf(path, sizeof(path), "%s/junk", base);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(file, sizeof(file), "%.4000s/data.mdb", path);
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	static char junk[16384];
	memset(junk, 0x5a, sizeof(junk));
	assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	int rv = fsm_open(&f, path, &cfg);
	assert_int_not_equal(rv, 0);
	assert_int_equal(rv, BERTH_ECORRUPT);
	assert_true(f.errmsg[0] != 0);
	assert_int_equal(open_fds(), fds);

	support_rmrf(base);
	free(base);
}

/* A database written in another format is refused with a message saying so. */
static void test_snapshot_open_other_format(void **state)
{
	(void)state;
	struct tfsm t;
	struct fsm_config cfg = test_config();
	MDB_txn *txn;
	tfsm_open(&t, NULL);
	put1(&t, "k", "1");
	assert_int_equal(mdb_txn_begin(t.f.kv.env, NULL, 0, &txn), 0);
	assert_int_equal(kv_meta_put(&t.f.kv, txn, "format", 2), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	fsm_close(&t.f);
	int fds = open_fds();
	assert_int_equal(fsm_open(&t.f, t.dir, &cfg), BERTH_ECORRUPT);
	assert_string_equal(t.f.errmsg, "fsm: database format 2, this build reads 1");
	assert_int_equal(open_fds(), fds);
	/* The refused open released the directory. */
	struct tfsm other;
	tfsm_open(&other, NULL);
	assert_int_equal(fsm_open(&t.f, t.dir, &cfg), BERTH_ECORRUPT);
	tfsm_close(&other);
	tfsm_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshot_compact_bounds),
		cmocka_unit_test(test_snapshot_compact_keeps_answers),
		cmocka_unit_test(test_snapshot_compact_big_history),
		cmocka_unit_test(test_snapshot_restore_roundtrip),
		cmocka_unit_test(test_snapshot_restore_replaces_everything),
		cmocka_unit_test(test_snapshot_restore_keeps_sessions),
		cmocka_unit_test(test_snapshot_consistent_during_writes),
		cmocka_unit_test(test_snapshot_write_error),
		cmocka_unit_test(test_snapshot_bad_truncated),
		cmocka_unit_test(test_snapshot_bad_flipped_byte),
		cmocka_unit_test(test_snapshot_bad_big_stream),
		cmocka_unit_test(test_snapshot_bad_crafted),
		cmocka_unit_test(test_snapshot_bad_read_callback),
		cmocka_unit_test(test_snapshot_restore_during_batch),
		cmocka_unit_test(test_snapshot_write_chunk_end),
		cmocka_unit_test(test_snapshot_batch_commits_together),
		cmocka_unit_test(test_snapshot_batch_abort_restores),
		cmocka_unit_test(test_snapshot_batch_skips_applied),
		cmocka_unit_test(test_snapshot_batch_sizes_identical),
		cmocka_unit_test(test_snapshot_map_full),
		cmocka_unit_test(test_snapshot_open_busy),
		cmocka_unit_test(test_snapshot_open_bad_config),
		cmocka_unit_test(test_snapshot_open_bad_dir),
		cmocka_unit_test(test_snapshot_open_other_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
