/* tests/unit/fsm_check.c: helpers shared by the state machine tests (test_fsm_*.c); the
 * header says what each one does. */
#include "tests/unit/fsm_check.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

struct bytes fsm_check_bytes(const void *p, size_t n)
{
	return (struct bytes){p, n};
}

struct bytes fsm_check_int(int64_t v, uint8_t buf[9])
{
	return fsm_check_bytes(buf, mp_int_encode(v, buf));
}

int fsm_check_bytes_cmp(struct bytes a, struct bytes b)
{
	size_t n = a.n < b.n ? a.n : b.n;
	int c = n ? memcmp(a.p, b.p, n) : 0;
	if (c != 0)
		return c;
	return a.n < b.n ? -1 : a.n > b.n;
}

int fsm_check_bytes_qsort_cmp(const void *a, const void *b)
{
	return fsm_check_bytes_cmp(*(const struct bytes *)a, *(const struct bytes *)b);
}

void fsm_check_bytes_eq_at(struct bytes got, struct bytes want, const char *file, int line)
{
	EQ_AT(got.n, want.n, file, line);
	if (want.n > 0)
		_assert_memory_equal(got.p, want.p, want.n, file, line);
}

/* ---- operation builders on byte strings ---- */

struct msg_op fsm_check_put_b(struct bytes k, struct bytes v)
{
	return (struct msg_op){.type = MSG_OP_PUT, .key = k, .value = v};
}

struct msg_op fsm_check_get_at(struct bytes k, uint64_t rev)
{
	return (struct msg_op){.type = MSG_OP_RANGE, .key = k, .rev = rev};
}

struct msg_op fsm_check_del_b(struct bytes k)
{
	return (struct msg_op){.type = MSG_OP_DEL, .key = k};
}

struct msg_op fsm_check_add_b(struct bytes k, int64_t delta)
{
	return (struct msg_op){.type = MSG_OP_ADD, .key = k, .delta = delta};
}

struct msg_op fsm_check_span(uint8_t type, struct bytes start, struct bytes end)
{
	return (struct msg_op){.type = type, .key = start, .end = end};
}

struct msg_op fsm_check_prefix(uint8_t type, struct bytes p)
{
	return (struct msg_op){.type = type, .key = p, .flags = MSG_F_PREFIX};
}

struct msg_op fsm_check_all_keys(uint8_t type)
{
	return fsm_check_span(type, LIT("\0"), LIT("\0"));
}

/* ---- applying and reading ---- */

void fsm_check_run(struct tfsm *t, struct msg_compare *cmp, uint32_t ncmp, struct msg_op *succ,
		   uint32_t nsucc, struct msg_op *fail, uint32_t nfail, struct reply *r)
{
	struct msg_cmd c = cmd_txn(cmp, ncmp, succ, nsucc, fail, nfail);
	int rv = tfsm_apply(t, &c, r);
	if (rv != 0)
		print_error("fatal apply error %s: %s\n", err_name(rv), t->f.kv.errmsg);
	assert_int_equal(rv, 0);
	assert_int_equal(fsm_applied(&t->f), t->index);
}

void fsm_check_run_ops(struct tfsm *t, struct msg_op *ops, uint32_t n, struct reply *r)
{
	fsm_check_run(t, NULL, 0, ops, n, NULL, 0, r);
	assert_int_equal(r->nops, r->err == 0 ? n : 0);
}

void fsm_check_read_txn(struct tfsm *t, struct msg_compare *cmp, uint32_t ncmp, struct msg_op *succ,
			uint32_t nsucc, struct msg_op *fail, uint32_t nfail, struct reply *r)
{
	struct msg_txn x = {ncmp, nsucc, nfail, cmp, succ, fail};
	int rv = tfsm_read(t, &x, r);
	if (rv != 0)
		print_error("fatal read error %s: %s\n", err_name(rv), t->f.kv.errmsg);
	assert_int_equal(rv, 0);
}

void fsm_check_read_ops(struct tfsm *t, struct msg_op *ops, uint32_t n, struct reply *r)
{
	fsm_check_read_txn(t, NULL, 0, ops, n, NULL, 0, r);
	assert_int_equal(r->nops, r->err == 0 ? n : 0);
}

void fsm_check_put_ok(struct tfsm *t, struct bytes k, struct bytes v)
{
	struct msg_op op = fsm_check_put_b(k, v);
	struct reply r;
	uint64_t rev = fsm_revision(&t->f);
	fsm_check_run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, rev + 1);
	assert_int_equal(r.nops, 1);
	assert_int_equal(r.ops[0].type, MSG_OP_PUT);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), rev + 1);
}

void fsm_check_err(const char *file, int line, struct reply *r, int err, uint64_t rev)
{
	EQ_AT(r->err, err, file, line);
	EQ_AT(r->rev, rev, file, line);
	EQ_AT(r->nops, 0, file, line);
	EQ_AT(r->succeeded, false, file, line);
	reply_free(r);
}

void fsm_check_kv(const char *file, int line, const struct reply_kv *kv, struct bytes k,
		  struct bytes v, int64_t c, int64_t m, int64_t ver)
{
	fsm_check_bytes_eq_at(kv->key, k, file, line);
	fsm_check_bytes_eq_at(kv->value, v, file, line);
	EQ_AT(kv->create_rev, c, file, line);
	EQ_AT(kv->mod_rev, m, file, line);
	EQ_AT(kv->version, ver, file, line);
	EQ_AT(kv->lease, 0, file, line);
}

/* A get of k at rev through fsm_read: checks the reply's shape and that it found `found`
 * keys (0 or 1); the caller checks the kv and frees r. */
static void fsm_check_one(const char *file, int line, struct tfsm *t, struct bytes k, uint64_t rev,
			  uint64_t found, struct reply *r)
{
	struct msg_op op = fsm_check_get_at(k, rev);
	fsm_check_read_ops(t, &op, 1, r);
	EQ_AT(r->err, 0, file, line);
	EQ_AT(r->rev, fsm_revision(&t->f), file, line);
	EQ_AT(r->nops, 1, file, line);
	EQ_AT(r->ops[0].type, MSG_OP_RANGE, file, line);
	EQ_AT(r->ops[0].count, found, file, line);
	EQ_AT(r->ops[0].more, false, file, line);
	EQ_AT(r->ops[0].nkvs, found, file, line);
}

void fsm_check_get(const char *file, int line, struct tfsm *t, struct bytes k, uint64_t rev,
		   struct bytes v, int64_t c, int64_t m, int64_t ver)
{
	struct reply r;
	fsm_check_one(file, line, t, k, rev, 1, &r);
	fsm_check_kv(file, line, &r.ops[0].kvs[0], k, v, c, m, ver);
	reply_free(&r);
}

void fsm_check_missing(const char *file, int line, struct tfsm *t, struct bytes k, uint64_t rev)
{
	struct reply r;
	fsm_check_one(file, line, t, k, rev, 0, &r);
	reply_free(&r);
}

void fsm_check_keys_at(const char *file, int line, const struct reply_op *o,
		       const struct bytes *keys, size_t n)
{
	EQ_AT(o->type, MSG_OP_RANGE, file, line);
	EQ_AT(o->nkvs, n, file, line);
	for (size_t i = 0; i < n; i++)
		fsm_check_bytes_eq_at(o->kvs[i].key, keys[i], file, line);
}

void fsm_check_range(const char *file, int line, struct tfsm *t, struct msg_op op,
		     const struct bytes *keys, size_t n, uint64_t count, bool more)
{
	struct reply r;
	fsm_check_read_ops(t, &op, 1, &r);
	EQ_AT(r.err, 0, file, line);
	EQ_AT(r.rev, fsm_revision(&t->f), file, line);
	EQ_AT(r.nops, 1, file, line);
	EQ_AT(r.ops[0].count, count, file, line);
	EQ_AT(r.ops[0].more, more, file, line);
	fsm_check_keys_at(file, line, &r.ops[0], keys, n);
	reply_free(&r);
}

/* ---- whole-database state ---- */

void fsm_check_state_take(struct tfsm *t, struct fsm_check_state *s)
{
	MDB_dbi dbis[] = {t->f.kv.keys, t->f.kv.hist, t->f.kv.revs, t->f.kv.leases, t->f.kv.lkeys};
	MDB_txn *txn;
	mp_buf_init(&s->db);
	s->rev = fsm_revision(&t->f);
	assert_int_equal(mdb_txn_begin(t->f.kv.env, NULL, MDB_RDONLY, &txn), 0);
	for (size_t i = 0; i < sizeof(dbis) / sizeof(dbis[0]); i++) {
		MDB_cursor *cur;
		MDB_val k, v;
		uint8_t hdr[16];
		int rc;
		assert_int_equal(mdb_cursor_open(txn, dbis[i], &cur), 0);
		kv_be64_put(hdr, 0xeeeeeeee00000000ull + i); /* table separator */
		mp_buf_append(&s->db, hdr, 8);
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			kv_be64_put(hdr, k.mv_size);
			kv_be64_put(hdr + 8, v.mv_size);
			mp_buf_append(&s->db, hdr, 16);
			mp_buf_append(&s->db, k.mv_data, k.mv_size);
			mp_buf_append(&s->db, v.mv_data, v.mv_size);
		}
		assert_int_equal(rc, MDB_NOTFOUND);
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	assert_int_equal(mp_buf_error(&s->db), 0);
}

void fsm_check_unchanged(const char *file, int line, struct tfsm *t, struct fsm_check_state *before)
{
	struct fsm_check_state now;
	fsm_check_state_take(t, &now);
	EQ_AT(now.rev, before->rev, file, line);
	EQ_AT(now.db.len, before->db.len, file, line);
	_assert_memory_equal(now.db.data, before->db.data, now.db.len, file, line);
	mp_buf_close(&now.db);
	mp_buf_close(&before->db);
}

/* ---- the revision log, the configuration and the fixture ---- */

size_t fsm_check_revs_at(struct tfsm *t, uint64_t rev)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t seek[12] = {0};
	size_t n = 0;
	int rc;
	kv_be64_put(seek, rev);
	assert_int_equal(mdb_txn_begin(t->f.kv.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_cursor_open(txn, t->f.kv.revs, &cur), 0);
	k = (MDB_val){sizeof(seek), seek};
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *p = k.mv_data;
		assert_int_equal(k.mv_size, 12);
		if (kv_be64_get(p) != rev)
			break;
		uint32_t sub = ((uint32_t)p[8] << 24) | ((uint32_t)p[9] << 16) |
			       ((uint32_t)p[10] << 8) | p[11];
		assert_int_equal(sub, n);
		assert_true(v.mv_size > 8);
		assert_int_equal(kv_be64_get((const uint8_t *)v.mv_data + v.mv_size - 8), rev);
		n++;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return n;
}

void fsm_check_config(struct fsm_config *cfg)
{
	fsm_config_default(cfg);
	cfg->sync = KV_SYNC_NONE;
	cfg->map_bytes = (size_t)1 << 30;
}

int fsm_check_setup(void **state)
{
	struct tfsm *t = calloc(1, sizeof(*t));
	*state = t;
	return t != NULL ? 0 : -1;
}

int fsm_check_teardown(void **state)
{
	struct tfsm *t = *state;
	if (t->dir != NULL)
		tfsm_close(t);
	free(t);
	return 0;
}

void fsm_check_close(struct tfsm *t)
{
	tfsm_close(t);
	memset(t, 0, sizeof(*t));
}

/* ---- long keys ---- */

struct bytes fsm_check_lkey(struct fsm_check_lkey *k, size_t fill, const void *tail, size_t tn)
{
	assert_true(fill + tn <= sizeof(k->b));
	memset(k->b, 'p', fill);
	if (tn > 0)
		memcpy(k->b + fill, tail, tn);
	k->n = fill + tn;
	return fsm_check_bytes(k->b, k->n);
}
