/* tests/unit/snap_check.c: applying, reading and counting on a test state machine, each
 * step asserted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/snap_check.h"

#include "common/err.h"
#include "store/fsm.h"
#include "store/kv.h"

#include <stdlib.h>
#include <string.h>

/* ---- applying commands ---- */

/* Encodes c as a padded raft entry into b (reset first). */
void snap_check_encode_cmd(struct mp_buf *b, const struct msg_cmd *c)
{
	static const uint8_t zero[8];
	mp_buf_reset(b);
	msg_cmd_encode(b, c);
	mp_buf_append(b, zero, (8 - b->len % 8) % 8);
	assert_int_equal(mp_buf_error(b), 0);
}

/* Applies one command that must not fail fatally; r receives the reply. */
void snap_check_apply_ok(struct tfsm *t, const struct msg_cmd *c, struct reply *r)
{
	int rv = tfsm_apply(t, c, r);
	if (rv != 0)
		print_error("fatal apply error %s: %s\n", err_name(rv), t->f.kv.errmsg);
	assert_int_equal(rv, 0);
	assert_int_equal(fsm_applied(&t->f), t->index);
}

/* Applies cmds[0..n) in one batch at the indexes after t->index; replies go to out (NULL: a
 * scratch buffer). 0, or the first fatal error (the batch is then aborted). */
int snap_check_batch_apply(struct tfsm *t, const struct msg_cmd *cmds, size_t n, struct mp_buf *out)
{
	struct mp_buf cmd, scratch;
	mp_buf_init(&cmd);
	mp_buf_init(&scratch);
	int rv = fsm_batch_begin(&t->f);
	for (size_t i = 0; rv == 0 && i < n; i++) {
		snap_check_encode_cmd(&cmd, &cmds[i]);
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
uint64_t snap_check_put1(struct tfsm *t, const char *k, const char *v)
{
	struct msg_op op = op_put(k, v);
	struct msg_cmd c = cmd_txn(NULL, 0, &op, 1, NULL, 0);
	struct reply r;
	uint64_t rev = fsm_revision(&t->f);
	snap_check_apply_ok(t, &c, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, rev + 1);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), rev + 1);
	return rev + 1;
}

/* Deletes k (prefix: every key starting with k); returns the number deleted. */
uint64_t snap_check_del1(struct tfsm *t, const char *k, bool prefix)
{
	struct msg_op op = op_del(k);
	if (prefix)
		op.flags = MSG_F_PREFIX;
	struct msg_cmd c = cmd_txn(NULL, 0, &op, 1, NULL, 0);
	struct reply r;
	snap_check_apply_ok(t, &c, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.nops, 1);
	uint64_t d = r.ops[0].deleted;
	reply_free(&r);
	return d;
}

/* A compaction at rev: returns the reply's error (0 = done) and checks its revision. */
int snap_check_compact(struct tfsm *t, uint64_t rev)
{
	struct msg_cmd c = {.type = MSG_CMD_COMPACT, .rev = rev};
	struct reply r;
	uint64_t cur = fsm_revision(&t->f);
	snap_check_apply_ok(t, &c, &r);
	assert_int_equal(r.rev, cur);
	assert_int_equal(fsm_revision(&t->f), cur);
	int err = r.err;
	reply_free(&r);
	return err;
}

/* Applies a txn of ops (success branch) that must be accepted; returns its revision. */
uint64_t snap_check_txn_ok(struct tfsm *t, struct msg_compare *cmp, uint32_t ncmp,
			   struct msg_op *succ, uint32_t nsucc, struct msg_op *fail, uint32_t nfail)
{
	struct msg_cmd c = cmd_txn(cmp, ncmp, succ, nsucc, fail, nfail);
	struct reply r;
	snap_check_apply_ok(t, &c, &r);
	assert_int_equal(r.err, 0);
	uint64_t rev = r.rev;
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), rev);
	return rev;
}

/* Applies a non-txn command that must succeed; returns the reply's id. */
uint64_t snap_check_cmd_ok(struct tfsm *t, struct msg_cmd c)
{
	struct reply r;
	snap_check_apply_ok(t, &c, &r);
	assert_int_equal(r.err, 0);
	uint64_t id = r.id;
	reply_free(&r);
	return id;
}

/* ---- reading ---- */

/* The reply bytes of a read-only txn of one op (owned by the caller); *err its error. */
uint8_t *snap_check_read_raw(struct tfsm *t, struct msg_op op, size_t *n, int *err)
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
struct msg_op snap_check_all_at(uint64_t rev)
{
	struct msg_op op = op_range("", NULL);
	op.rev = rev;
	return op;
}

struct msg_op snap_check_get_at(const char *k, uint64_t rev)
{
	struct msg_op op = op_get(k);
	op.rev = rev;
	return op;
}

/* The error a read of op answers (0: answered). */
int snap_check_read_err(struct tfsm *t, struct msg_op op)
{
	size_t n;
	int err;
	free(snap_check_read_raw(t, op, &n, &err));
	return err;
}

/* Reads one key at rev and checks value and metadata; v NULL: must be absent. */
void snap_check_value_at(struct tfsm *t, const char *k, uint64_t rev, const char *v, int64_t c,
			 int64_t m, int64_t ver)
{
	struct msg_op op = snap_check_get_at(k, rev);
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

static int lease_collect(void *ctx, uint64_t id, int64_t ttl_s)
{
	struct lease_list *l = ctx;
	assert_true(l->n < 8);
	l->id[l->n] = id;
	l->ttl[l->n++] = ttl_s;
	return 0;
}

struct lease_list snap_check_leases_of(struct tfsm *t)
{
	struct lease_list l = {0};
	assert_int_equal(fsm_lease_foreach(&t->f, lease_collect, &l), 0);
	return l;
}

/* ---- looking into LMDB ---- */

size_t snap_check_table_entries(struct tfsm *t, MDB_dbi dbi)
{
	MDB_txn *txn;
	MDB_stat st;
	assert_int_equal(mdb_txn_begin(t->f.kv.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_stat(txn, dbi, &st), 0);
	mdb_txn_abort(txn);
	return st.ms_entries;
}

/* Number of hist entries whose encoded key is exactly ek (a short key is its own ek). */
size_t snap_check_hist_entries_of(struct tfsm *t, const char *ek)
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
uint64_t snap_check_revs_min(struct tfsm *t)
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
