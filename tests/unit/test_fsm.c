/* tests/unit/test_fsm.c: the state machine's key operations, transactions and limits
 * (store/fsm.c, store/txn.c, store/mvcc.c, store/kv.c), with exact revisions, versions,
 * counts, bytes and error codes. */
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

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A byte string literal that may hold zero bytes: LIT("a\0") is two bytes long. */
#define LIT(s) ((struct bytes){(const uint8_t *)(s), sizeof(s) - 1})
/* The same as an initializer, for static tables. (clang-format would spread this one-line
 * brace list over four lines.) */
// clang-format off
#define LITI(s) {(const uint8_t *)(s), sizeof(s) - 1}
// clang-format on

/* Assertions that report the caller's line (the helpers below are called many times). */
#define EQ_AT(a, b, file, line)                                                                    \
	_assert_int_equal(cast_to_largest_integral_type(a), cast_to_largest_integral_type(b),      \
			  file, line)

static struct bytes bytes_of(const void *p, size_t n)
{
	return (struct bytes){p, n};
}

/* v as a stored msgpack integer (what `add` writes and `int` compares read). */
static struct bytes enc(int64_t v, uint8_t buf[9])
{
	return bytes_of(buf, mp_int_encode(v, buf));
}

static int bytes_cmp(struct bytes a, struct bytes b)
{
	size_t n = a.n < b.n ? a.n : b.n;
	int c = n ? memcmp(a.p, b.p, n) : 0;
	if (c != 0)
		return c;
	return a.n < b.n ? -1 : a.n > b.n;
}

static int bytes_qsort_cmp(const void *a, const void *b)
{
	return bytes_cmp(*(const struct bytes *)a, *(const struct bytes *)b);
}

static void bytes_eq_at(struct bytes got, struct bytes want, const char *file, int line)
{
	EQ_AT(got.n, want.n, file, line);
	if (want.n > 0)
		_assert_memory_equal(got.p, want.p, want.n, file, line);
}

/* ---- operation builders on byte strings ---- */

static struct msg_op put_b(struct bytes k, struct bytes v)
{
	return (struct msg_op){.type = MSG_OP_PUT, .key = k, .value = v};
}

static struct msg_op get_at(struct bytes k, uint64_t rev)
{
	return (struct msg_op){.type = MSG_OP_RANGE, .key = k, .rev = rev};
}

static struct msg_op del_b(struct bytes k)
{
	return (struct msg_op){.type = MSG_OP_DEL, .key = k};
}

static struct msg_op add_b(struct bytes k, int64_t delta)
{
	return (struct msg_op){.type = MSG_OP_ADD, .key = k, .delta = delta};
}

static struct msg_op span(uint8_t type, struct bytes start, struct bytes end)
{
	return (struct msg_op){.type = type, .key = start, .end = end};
}

static struct msg_op prefix(uint8_t type, struct bytes p)
{
	return (struct msg_op){.type = type, .key = p, .flags = MSG_F_PREFIX};
}

/* Every key: [one zero byte, end). Keys are never empty, so none sorts before it. (The
 * empty prefix means the same; test_fsm_range_empty_prefix tests it on its own.) */
static struct msg_op all_keys(uint8_t type)
{
	return span(type, LIT("\0"), LIT("\0"));
}

/* ---- applying and reading ---- */

/* Applies one txn at the next index; only a fatal apply error fails here. */
static void run(struct tfsm *t, struct msg_compare *cmp, uint32_t ncmp, struct msg_op *succ,
		uint32_t nsucc, struct msg_op *fail, uint32_t nfail, struct reply *r)
{
	struct msg_cmd c = cmd_txn(cmp, ncmp, succ, nsucc, fail, nfail);
	int rv = tfsm_apply(t, &c, r);
	if (rv != 0)
		print_error("fatal apply error %s: %s\n", err_name(rv), t->f.kv.errmsg);
	assert_int_equal(rv, 0);
	assert_int_equal(fsm_applied(&t->f), t->index);
}

/* No compares: the success branch runs, one result per op unless rejected. */
static void run_ops(struct tfsm *t, struct msg_op *ops, uint32_t n, struct reply *r)
{
	run(t, NULL, 0, ops, n, NULL, 0, r);
	assert_int_equal(r->nops, r->err == 0 ? n : 0);
}

static void read_txn(struct tfsm *t, struct msg_compare *cmp, uint32_t ncmp, struct msg_op *succ,
		     uint32_t nsucc, struct msg_op *fail, uint32_t nfail, struct reply *r)
{
	struct msg_txn x = {ncmp, nsucc, nfail, cmp, succ, fail};
	int rv = tfsm_read(t, &x, r);
	if (rv != 0)
		print_error("fatal read error %s: %s\n", err_name(rv), t->f.kv.errmsg);
	assert_int_equal(rv, 0);
}

static void read_ops(struct tfsm *t, struct msg_op *ops, uint32_t n, struct reply *r)
{
	read_txn(t, NULL, 0, ops, n, NULL, 0, r);
	assert_int_equal(r->nops, r->err == 0 ? n : 0);
}

/* Applies one write that must succeed and raise the revision by exactly one. */
static void put_ok(struct tfsm *t, struct bytes k, struct bytes v)
{
	struct msg_op op = put_b(k, v);
	struct reply r;
	uint64_t rev = fsm_revision(&t->f);
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, rev + 1);
	assert_int_equal(r.nops, 1);
	assert_int_equal(r.ops[0].type, MSG_OP_PUT);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), rev + 1);
}

/* A rejected command: {err, rev} and nothing else. */
#define CHECK_ERR(r, err, rev) check_err(__FILE__, __LINE__, (r), (err), (rev))
static void check_err(const char *file, int line, struct reply *r, int err, uint64_t rev)
{
	EQ_AT(r->err, err, file, line);
	EQ_AT(r->rev, rev, file, line);
	EQ_AT(r->nops, 0, file, line);
	EQ_AT(r->succeeded, false, file, line);
	reply_free(r);
}

#define CHECK_KV(kv, k, v, c, m, ver) check_kv(__FILE__, __LINE__, (kv), (k), (v), (c), (m), (ver))
static void check_kv(const char *file, int line, const struct reply_kv *kv, struct bytes k,
		     struct bytes v, int64_t c, int64_t m, int64_t ver)
{
	bytes_eq_at(kv->key, k, file, line);
	bytes_eq_at(kv->value, v, file, line);
	EQ_AT(kv->create_rev, c, file, line);
	EQ_AT(kv->mod_rev, m, file, line);
	EQ_AT(kv->version, ver, file, line);
	EQ_AT(kv->lease, 0, file, line);
}

/* Reads one key (at rev; 0 = current) through fsm_read and checks its one record. */
#define CHECK_GET(t, k, rev, v, c, m, ver)                                                         \
	check_get(__FILE__, __LINE__, (t), (k), (rev), (v), (c), (m), (ver))
static void check_get(const char *file, int line, struct tfsm *t, struct bytes k, uint64_t rev,
		      struct bytes v, int64_t c, int64_t m, int64_t ver)
{
	struct msg_op op = get_at(k, rev);
	struct reply r;
	read_ops(t, &op, 1, &r);
	EQ_AT(r.err, 0, file, line);
	EQ_AT(r.rev, fsm_revision(&t->f), file, line);
	EQ_AT(r.nops, 1, file, line);
	EQ_AT(r.ops[0].type, MSG_OP_RANGE, file, line);
	EQ_AT(r.ops[0].count, 1, file, line);
	EQ_AT(r.ops[0].more, false, file, line);
	EQ_AT(r.ops[0].nkvs, 1, file, line);
	check_kv(file, line, &r.ops[0].kvs[0], k, v, c, m, ver);
	reply_free(&r);
}

#define CHECK_MISSING(t, k, rev) check_missing(__FILE__, __LINE__, (t), (k), (rev))
static void check_missing(const char *file, int line, struct tfsm *t, struct bytes k, uint64_t rev)
{
	struct msg_op op = get_at(k, rev);
	struct reply r;
	read_ops(t, &op, 1, &r);
	EQ_AT(r.err, 0, file, line);
	EQ_AT(r.rev, fsm_revision(&t->f), file, line);
	EQ_AT(r.nops, 1, file, line);
	EQ_AT(r.ops[0].type, MSG_OP_RANGE, file, line);
	EQ_AT(r.ops[0].count, 0, file, line);
	EQ_AT(r.ops[0].more, false, file, line);
	EQ_AT(r.ops[0].nkvs, 0, file, line);
	reply_free(&r);
}

/* Checks the keys of one op result, in order. */
static void check_keys_at(const char *file, int line, const struct reply_op *o,
			  const struct bytes *keys, size_t n)
{
	EQ_AT(o->type, MSG_OP_RANGE, file, line);
	EQ_AT(o->nkvs, n, file, line);
	for (size_t i = 0; i < n; i++)
		bytes_eq_at(o->kvs[i].key, keys[i], file, line);
}

/* CHECK_RANGE(t, op, keys, n, count, more) runs one range op through fsm_read: exactly
 * keys[0..n) in order, then count and more. keys and n may come from SK(). */
#define CHECK_RANGE(t, op, ...) check_range(__FILE__, __LINE__, (t), (op), __VA_ARGS__)
static void check_range(const char *file, int line, struct tfsm *t, struct msg_op op,
			const struct bytes *keys, size_t n, uint64_t count, bool more)
{
	struct reply r;
	read_ops(t, &op, 1, &r);
	EQ_AT(r.err, 0, file, line);
	EQ_AT(r.rev, fsm_revision(&t->f), file, line);
	EQ_AT(r.nops, 1, file, line);
	EQ_AT(r.ops[0].count, count, file, line);
	EQ_AT(r.ops[0].more, more, file, line);
	check_keys_at(file, line, &r.ops[0], keys, n);
	reply_free(&r);
}

/* ---- whole-database state, to prove that a rejected command changed nothing ---- */

struct state {
	struct mp_buf db; /* every record of the data tables (not meta: the applied index
			   * moves on with every entry, even a rejected one) */
	uint64_t rev;
};

static void state_take(struct tfsm *t, struct state *s)
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

/* Asserts the database and revision equal the state taken before; releases it. */
#define CHECK_UNCHANGED(t, s) check_unchanged(__FILE__, __LINE__, (t), (s))
static void check_unchanged(const char *file, int line, struct tfsm *t, struct state *before)
{
	struct state now;
	state_take(t, &now);
	EQ_AT(now.rev, before->rev, file, line);
	EQ_AT(now.db.len, before->db.len, file, line);
	_assert_memory_equal(now.db.data, before->db.data, now.db.len, file, line);
	mp_buf_close(&now.db);
	mp_buf_close(&before->db);
}

/* Entries of the revision log (revs table) at revision rev; checks their sub numbers run
 * 0, 1, 2... and that each points at a hist key of that revision. */
static size_t revs_at(struct tfsm *t, uint64_t rev)
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

/* The configuration tfsm_open uses when given NULL. */
static void tfsm_like_config(struct fsm_config *cfg)
{
	fsm_config_default(cfg);
	cfg->sync = KV_SYNC_NONE;
	cfg->map_bytes = (size_t)1 << 30;
}

/* Each test's state machine lives in the fixture, so that a failing test (cmocka jumps
 * out of it) still has its database closed and its directory removed by the teardown. */
static int fx_setup(void **state)
{
	struct tfsm *t = calloc(1, sizeof(*t));
	*state = t;
	return t != NULL ? 0 : -1;
}

static int fx_teardown(void **state)
{
	struct tfsm *t = *state;
	if (t->dir != NULL)
		tfsm_close(t);
	free(t);
	return 0;
}

static void fx_close(struct tfsm *t)
{
	tfsm_close(t);
	memset(t, 0, sizeof(*t));
}

/* ==== 1. put and get ==== */

static void test_fsm_put_get_versions(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct msg_op op;
	tfsm_open(t, NULL);
	assert_int_equal(fsm_revision(&t->f), 0);
	assert_int_equal(fsm_applied(&t->f), 0);
	CHECK_MISSING(t, B("a"), 0);

	op = op_put("a", "1");
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 1);
	assert_true(r.succeeded);
	assert_int_equal(r.nops, 1);
	assert_int_equal(r.ops[0].type, MSG_OP_PUT);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), 1);
	assert_int_equal(fsm_applied(&t->f), 1);
	CHECK_GET(t, B("a"), 0, B("1"), 1, 1, 1);

	put_ok(t, B("b"), B("x"));
	CHECK_GET(t, B("b"), 0, B("x"), 2, 2, 1);
	CHECK_GET(t, B("a"), 0, B("1"), 1, 1, 1);

	put_ok(t, B("a"), B("2"));
	CHECK_GET(t, B("a"), 0, B("2"), 1, 3, 2);
	/* The same value again is still a write. */
	put_ok(t, B("a"), B("2"));
	CHECK_GET(t, B("a"), 0, B("2"), 1, 4, 3);
	/* An empty value is a value. */
	put_ok(t, B("e"), B(""));
	CHECK_GET(t, B("e"), 0, B(""), 5, 5, 1);
	assert_int_equal(fsm_applied(&t->f), 5);

	/* A read-only transaction through the log: applied, but no new revision. */
	op = op_get("a");
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 5);
	assert_true(r.succeeded);
	assert_int_equal(r.ops[0].count, 1);
	assert_int_equal(r.ops[0].nkvs, 1);
	CHECK_KV(&r.ops[0].kvs[0], B("a"), B("2"), 1, 4, 3);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), 5);
	assert_int_equal(fsm_applied(&t->f), 6);

	/* A delete of a missing key changes nothing. */
	op = op_del("zz");
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 5);
	assert_int_equal(r.nops, 1);
	assert_int_equal(r.ops[0].type, MSG_OP_DEL);
	assert_int_equal(r.ops[0].deleted, 0);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), 5);

	/* A failed compare with an empty failure branch changes nothing. */
	struct msg_compare c = cmp_num(MSG_CMP_VERSION, "a", MSG_EQ, 99);
	op = op_put("a", "3");
	run(t, &c, 1, &op, 1, NULL, 0, &r);
	assert_int_equal(r.err, 0);
	assert_false(r.succeeded);
	assert_int_equal(r.nops, 0);
	assert_int_equal(r.rev, 5);
	reply_free(&r);

	/* Neither does an empty transaction. */
	run(t, NULL, 0, NULL, 0, NULL, 0, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	assert_int_equal(r.nops, 0);
	assert_int_equal(r.rev, 5);
	reply_free(&r);

	assert_int_equal(fsm_revision(&t->f), 5);
	assert_int_equal(fsm_applied(&t->f), 9);
	CHECK_GET(t, B("a"), 0, B("2"), 1, 4, 3);
	CHECK_MISSING(t, B("c"), 0);
	/* Keys near an existing one are other keys. */
	CHECK_MISSING(t, LIT("a\0"), 0);
	CHECK_MISSING(t, B("A"), 0);

	/* The next change takes exactly the next revision. */
	put_ok(t, B("c"), B("3"));
	CHECK_GET(t, B("c"), 0, B("3"), 6, 6, 1);
	fx_close(t);
}

/* ==== 2. delete and recreate ==== */

static void test_fsm_delete_recreate(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct msg_op op;
	tfsm_open(t, NULL);
	put_ok(t, B("k"), B("v1"));
	put_ok(t, B("k"), B("v2"));
	CHECK_GET(t, B("k"), 0, B("v2"), 1, 2, 2);

	op = op_del("k");
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 3);
	assert_int_equal(r.nops, 1);
	assert_int_equal(r.ops[0].type, MSG_OP_DEL);
	assert_int_equal(r.ops[0].deleted, 1);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), 3);
	CHECK_MISSING(t, B("k"), 0);

	/* Deleting it again: nothing to delete, no revision. */
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 3);
	assert_int_equal(r.ops[0].deleted, 0);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), 3);

	/* Recreated: a new life, version 1, created now. */
	put_ok(t, B("k"), B("v3"));
	CHECK_GET(t, B("k"), 0, B("v3"), 4, 4, 1);
	put_ok(t, B("k"), B("v4"));
	CHECK_GET(t, B("k"), 0, B("v4"), 4, 5, 2);
	/* The old life is still in history. */
	CHECK_GET(t, B("k"), 2, B("v2"), 1, 2, 2);
	CHECK_MISSING(t, B("k"), 3);
	CHECK_GET(t, B("k"), 4, B("v3"), 4, 4, 1);
	fx_close(t);
}

/* ==== 3. compares ==== */

/* Outcome of `have OP num` for have below, equal to and above num. */
static const bool holds_tab[MSG_CMP_OP_COUNT][3] = {
	[MSG_EQ] = {false, true, false}, [MSG_NE] = {true, false, true},
	[MSG_LT] = {true, false, false}, [MSG_LE] = {true, true, false},
	[MSG_GT] = {false, false, true}, [MSG_GE] = {false, true, true},
};

/* State for the compare tests:
 *   other = "x"        rev 1
 *   k     = "mid"      create 2, mod 3, version 2
 *   n     = int 5      rev 4
 *   neg   = int -300   rev 5
 *   e     = ""         rev 6
 *   hi    = "\x80"     rev 7
 *   wide  = int -5 in the 9-byte int64 encoding   rev 8
 *   max   = INT64_MAX  rev 9
 *   min   = INT64_MIN  rev 10 */
static void cmp_setup(struct tfsm *t)
{
	uint8_t b[9];
	static const uint8_t wide[9] = {0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb};
	put_ok(t, B("other"), B("x"));
	put_ok(t, B("k"), B("mid"));
	put_ok(t, B("k"), B("mid"));
	put_ok(t, B("n"), enc(5, b));
	put_ok(t, B("neg"), enc(-300, b));
	put_ok(t, B("e"), B(""));
	put_ok(t, B("hi"), LIT("\x80"));
	put_ok(t, B("wide"), bytes_of(wide, sizeof(wide)));
	put_ok(t, B("max"), enc(INT64_MAX, b));
	put_ok(t, B("min"), enc(INT64_MIN, b));
	assert_int_equal(fsm_revision(&t->f), 10);
}

/* Runs compare c through the log and through fsm_read: the success branch is one get of
 * "k", the failure branch two gets of "other", so the reply shows which one ran. */
#define CHECK_CMP(t, c, want) check_cmp(__FILE__, __LINE__, (t), (c), (want))
static void check_cmp(const char *file, int line, struct tfsm *t, struct msg_compare c, bool want)
{
	struct msg_op succ = op_get("k"), fail[2] = {op_get("other"), op_get("other")};
	uint64_t rev = fsm_revision(&t->f);
	struct reply r;
	for (int via_read = 0; via_read < 2; via_read++) {
		if (via_read)
			read_txn(t, &c, 1, &succ, 1, fail, 2, &r);
		else
			run(t, &c, 1, &succ, 1, fail, 2, &r);
		EQ_AT(r.err, 0, file, line);
		EQ_AT(r.succeeded, want, file, line);
		EQ_AT(r.rev, rev, file, line);
		EQ_AT(r.nops, want ? 1 : 2, file, line);
		for (uint32_t i = 0; i < r.nops; i++) {
			EQ_AT(r.ops[i].nkvs, 1, file, line);
			bytes_eq_at(r.ops[i].kvs[0].key, want ? B("k") : B("other"), file, line);
		}
		reply_free(&r);
		EQ_AT(fsm_revision(&t->f), rev, file, line);
	}
}

static void test_fsm_compare_numeric_existing(void **state)
{
	struct tfsm *t = *state;
	static const struct {
		uint8_t target;
		const char *key;
		int64_t have;
	} rows[] = {
		{MSG_CMP_VERSION, "k", 2},   {MSG_CMP_CREATE, "k", 2},   {MSG_CMP_MOD, "k", 3},
		{MSG_CMP_VERSION, "e", 1},   {MSG_CMP_CREATE, "e", 6},   {MSG_CMP_MOD, "e", 6},
		{MSG_CMP_INT, "n", 5},       {MSG_CMP_INT, "neg", -300}, {MSG_CMP_INT, "wide", -5},
		{MSG_CMP_INT, "other", 120}, /* "x" is one byte 0x78: a positive fixint */
	};
	tfsm_open(t, NULL);
	cmp_setup(t);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		for (uint8_t op = 0; op < MSG_CMP_OP_COUNT; op++)
			for (int j = 0; j < 3; j++) {
				/* j = 0: have below num; 1: equal; 2: above. */
				int64_t num = rows[i].have + 1 - j;
				CHECK_CMP(t, cmp_num(rows[i].target, rows[i].key, op, num),
					  holds_tab[op][j]);
			}
	/* The ends of int64: no overflow in the comparison. */
	CHECK_CMP(t, cmp_num(MSG_CMP_INT, "max", MSG_EQ, INT64_MAX), true);
	CHECK_CMP(t, cmp_num(MSG_CMP_INT, "max", MSG_GT, INT64_MAX - 1), true);
	CHECK_CMP(t, cmp_num(MSG_CMP_INT, "max", MSG_GT, INT64_MIN), true);
	CHECK_CMP(t, cmp_num(MSG_CMP_INT, "max", MSG_LT, INT64_MAX), false);
	CHECK_CMP(t, cmp_num(MSG_CMP_INT, "min", MSG_EQ, INT64_MIN), true);
	CHECK_CMP(t, cmp_num(MSG_CMP_INT, "min", MSG_LT, INT64_MIN + 1), true);
	CHECK_CMP(t, cmp_num(MSG_CMP_INT, "min", MSG_LT, INT64_MAX), true);
	CHECK_CMP(t, cmp_num(MSG_CMP_INT, "min", MSG_GE, INT64_MIN + 1), false);
	CHECK_CMP(t, cmp_num(MSG_CMP_MOD, "k", MSG_GT, INT64_MIN), true);
	CHECK_CMP(t, cmp_num(MSG_CMP_VERSION, "k", MSG_LT, INT64_MAX), true);
	assert_int_equal(fsm_revision(&t->f), 10);
	fx_close(t);
}

static void test_fsm_compare_missing_key(void **state)
{
	struct tfsm *t = *state;
	static const uint8_t targets[] = {MSG_CMP_VERSION, MSG_CMP_CREATE, MSG_CMP_MOD,
					  MSG_CMP_INT};
	tfsm_open(t, NULL);
	cmp_setup(t);
	/* Numeric targets read a missing key as 0. */
	for (size_t i = 0; i < sizeof(targets); i++)
		for (uint8_t op = 0; op < MSG_CMP_OP_COUNT; op++)
			for (int j = 0; j < 3; j++)
				CHECK_CMP(t, cmp_num(targets[i], "nokey", op, 1 - j),
					  holds_tab[op][j]);
	/* A value compare on a missing key never holds, whatever the operator. */
	for (uint8_t op = 0; op < MSG_CMP_OP_COUNT; op++) {
		CHECK_CMP(t, cmp_val("nokey", op, ""), false);
		CHECK_CMP(t, cmp_val("nokey", op, "x"), false);
		CHECK_CMP(t, cmp_val("nokey", op, "\xff"), false);
	}
	/* Nor on a deleted key; its numbers read 0 again. */
	t_del(t, "wide");
	CHECK_CMP(t, cmp_val("wide", MSG_NE, "x"), false);
	CHECK_CMP(t, cmp_val("wide", MSG_GT, ""), false);
	CHECK_CMP(t, cmp_num(MSG_CMP_VERSION, "wide", MSG_EQ, 0), true);
	CHECK_CMP(t, cmp_num(MSG_CMP_MOD, "wide", MSG_EQ, 0), true);
	CHECK_CMP(t, cmp_num(MSG_CMP_CREATE, "wide", MSG_EQ, 0), true);
	CHECK_CMP(t, cmp_num(MSG_CMP_INT, "wide", MSG_EQ, 0), true);
	fx_close(t);
}

static void test_fsm_compare_value(void **state)
{
	struct tfsm *t = *state;
	static const struct {
		const char *key;
		struct bytes value;
		int pos; /* 0: the stored value is below `value`; 1: equal; 2: above */
	} rows[] = {
		{"k", LITI("mie"), 0},   {"k", LITI("mid"), 1},   {"k", LITI("mic"), 2},
		{"k", LITI("mi"), 2},    {"k", LITI("mida"), 0},  {"k", LITI(""), 2},
		{"k", LITI("\xff"), 0},  {"k", LITI("Mid"), 2},   {"k", LITI("mid\0"), 0},
		{"hi", LITI("\x7f"), 2}, /* bytes compare unsigned */
		{"hi", LITI("\x80"), 1}, {"hi", LITI("\x81"), 0}, {"hi", LITI("\x80\x00"), 0},
		{"e", LITI(""), 1},      {"e", LITI("\x00"), 0},  {"e", LITI("a"), 0},
	};
	tfsm_open(t, NULL);
	cmp_setup(t);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		for (uint8_t op = 0; op < MSG_CMP_OP_COUNT; op++) {
			struct msg_compare c = {.target = MSG_CMP_VALUE,
						.op = op,
						.key = B(rows[i].key),
						.value = rows[i].value};
			CHECK_CMP(t, c, holds_tab[op][rows[i].pos]);
		}
	assert_int_equal(fsm_revision(&t->f), 10);
	fx_close(t);
}

static void test_fsm_compare_several(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	tfsm_open(t, NULL);
	cmp_setup(t);
	struct msg_op succ = op_get("k"), fail[2] = {op_get("other"), op_get("other")};
	/* Every compare must hold. */
	struct msg_compare all[3] = {cmp_num(MSG_CMP_VERSION, "k", MSG_EQ, 2),
				     cmp_val("k", MSG_EQ, "mid"),
				     cmp_num(MSG_CMP_INT, "n", MSG_GT, 4)};
	run(t, all, 3, &succ, 1, fail, 2, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	assert_int_equal(r.nops, 1);
	reply_free(&r);
	for (int bad = 0; bad < 3; bad++) {
		struct msg_compare c[3] = {all[0], all[1], all[2]};
		c[bad].op = MSG_LT; /* only this one fails */
		run(t, c, 3, &succ, 1, fail, 2, &r);
		assert_int_equal(r.err, 0);
		assert_false(r.succeeded);
		assert_int_equal(r.nops, 2);
		reply_free(&r);
		read_txn(t, c, 3, &succ, 1, fail, 2, &r);
		assert_int_equal(r.err, 0);
		assert_false(r.succeeded);
		assert_int_equal(r.nops, 2);
		reply_free(&r);
	}
	assert_int_equal(fsm_revision(&t->f), 10);
	fx_close(t);
}

static void test_fsm_compare_int_on_non_integer(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct state s;
	static const char *const keys[] = {"k", "e", "hi"}; /* "mid", "", "\x80" */
	tfsm_open(t, NULL);
	cmp_setup(t);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct msg_compare c = cmp_num(MSG_CMP_INT, keys[i], MSG_EQ, 0);
		struct msg_op succ = op_put("s", "1"), fail = op_put("f", "1");
		state_take(t, &s);
		run(t, &c, 1, &succ, 1, &fail, 1, &r);
		CHECK_ERR(&r, BERTH_ETYPE, 10);
		CHECK_UNCHANGED(t, &s);
		struct msg_op get = op_get("k");
		read_txn(t, &c, 1, &get, 1, NULL, 0, &r);
		CHECK_ERR(&r, BERTH_ETYPE, 10);
	}
	/* A value with bytes after the integer is not an integer either. */
	uint8_t b[9];
	size_t n = mp_int_encode(7, b);
	b[n] = 'x';
	put_ok(t, B("trail"), bytes_of(b, n + 1));
	struct msg_compare c = cmp_num(MSG_CMP_INT, "trail", MSG_EQ, 7);
	struct msg_op get = op_get("k");
	read_txn(t, &c, 1, &get, 1, NULL, 0, &r);
	CHECK_ERR(&r, BERTH_ETYPE, 11);
	/* Nor is a uint64 above INT64_MAX. */
	static const uint8_t huge[9] = {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	put_ok(t, B("huge"), bytes_of(huge, sizeof(huge)));
	c = cmp_num(MSG_CMP_INT, "huge", MSG_GT, 0);
	read_txn(t, &c, 1, &get, 1, NULL, 0, &r);
	CHECK_ERR(&r, BERTH_ETYPE, 12);
	fx_close(t);
}

static void test_fsm_txn_branches_run_their_ops(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	uint8_t b[9];
	tfsm_open(t, NULL);
	put_ok(t, B("guard"), B("1"));

	/* Compare fails: the failure branch runs, every op of it, in one revision. */
	struct msg_compare c = cmp_num(MSG_CMP_VERSION, "guard", MSG_EQ, 5);
	struct msg_op succ[1] = {op_put("s", "1")};
	struct msg_op fail[4] = {op_put("f", "1"), op_del("guard"), op_add("cnt", 3), op_get("f")};
	run(t, &c, 1, succ, 1, fail, 4, &r);
	assert_int_equal(r.err, 0);
	assert_false(r.succeeded);
	assert_int_equal(r.rev, 2);
	assert_int_equal(r.nops, 4);
	assert_int_equal(r.ops[0].type, MSG_OP_PUT);
	assert_int_equal(r.ops[1].type, MSG_OP_DEL);
	assert_int_equal(r.ops[1].deleted, 1);
	assert_int_equal(r.ops[2].type, MSG_OP_ADD);
	assert_int_equal(r.ops[2].value, 3);
	assert_int_equal(r.ops[3].type, MSG_OP_RANGE);
	assert_int_equal(r.ops[3].nkvs, 1);
	CHECK_KV(&r.ops[3].kvs[0], B("f"), B("1"), 2, 2, 1);
	reply_free(&r);
	CHECK_MISSING(t, B("s"), 0);
	CHECK_MISSING(t, B("guard"), 0);
	CHECK_GET(t, B("f"), 0, B("1"), 2, 2, 1);
	CHECK_GET(t, B("cnt"), 0, enc(3, b), 2, 2, 1);

	/* Compare holds: only the success branch runs. */
	c = cmp_num(MSG_CMP_VERSION, "f", MSG_EQ, 1);
	fail[0] = op_put("f", "2");
	run(t, &c, 1, succ, 1, fail, 1, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	assert_int_equal(r.rev, 3);
	assert_int_equal(r.nops, 1);
	assert_int_equal(r.ops[0].type, MSG_OP_PUT);
	reply_free(&r);
	CHECK_GET(t, B("s"), 0, B("1"), 3, 3, 1);
	CHECK_GET(t, B("f"), 0, B("1"), 2, 2, 1);

	/* Compares see the state before the transaction, not its own writes. */
	c = cmp_num(MSG_CMP_VERSION, "s", MSG_EQ, 1);
	struct msg_op both[2] = {op_put("s", "2"), op_put("t", "1")};
	run(t, &c, 1, both, 2, NULL, 0, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	assert_int_equal(r.rev, 4);
	reply_free(&r);
	CHECK_GET(t, B("s"), 0, B("2"), 3, 4, 2);
	CHECK_GET(t, B("t"), 0, B("1"), 4, 4, 1);
	fx_close(t);
}

/* ==== 4. add ==== */

static void test_fsm_add_integers(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct msg_op op;
	uint8_t b[9];
	tfsm_open(t, NULL);

	/* A missing key starts at 0. */
	op = op_add("c", 5);
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 1);
	assert_int_equal(r.nops, 1);
	assert_int_equal(r.ops[0].type, MSG_OP_ADD);
	assert_int_equal(r.ops[0].value, 5);
	reply_free(&r);
	CHECK_GET(t, B("c"), 0, LIT("\x05"), 1, 1, 1);

	/* Negative delta, through zero. */
	op = op_add("c", -8);
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 2);
	assert_int_equal(r.ops[0].value, -3);
	reply_free(&r);
	CHECK_GET(t, B("c"), 0, LIT("\xfd"), 1, 2, 2);

	op = op_add("c", -1000);
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.ops[0].value, -1003);
	reply_free(&r);
	CHECK_GET(t, B("c"), 0, LIT("\xd1\xfc\x15"), 1, 3, 3);

	/* On a value put by a client as a msgpack integer. */
	put_ok(t, B("n"), enc(1000, b)); /* rev 4 */
	op = op_add("n", 24);
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 5);
	assert_int_equal(r.ops[0].value, 1024);
	reply_free(&r);
	CHECK_GET(t, B("n"), 0, LIT("\xcd\x04\x00"), 4, 5, 2);

	/* A longer-than-needed encoding is read, and the result is written shortest. */
	put_ok(t, B("w"), LIT("\xcc\x05")); /* rev 6 */
	op = op_add("w", 1);
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.ops[0].value, 6);
	reply_free(&r);
	CHECK_GET(t, B("w"), 0, LIT("\x06"), 6, 7, 2);

	/* Delta 0 still writes. */
	op = op_add("w", 0);
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 8);
	assert_int_equal(r.ops[0].value, 6);
	reply_free(&r);
	CHECK_GET(t, B("w"), 0, LIT("\x06"), 6, 8, 3);

	/* The result is an integer for `int` compares. */
	struct msg_compare c = cmp_num(MSG_CMP_INT, "c", MSG_EQ, -1003);
	struct msg_op get = op_get("c");
	read_txn(t, &c, 1, &get, 1, NULL, 0, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), 8);
	fx_close(t);
}

static void test_fsm_add_overflow(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct msg_op op;
	struct state s;
	uint8_t b[9];
	tfsm_open(t, NULL);
	put_ok(t, B("big"), enc(INT64_MAX - 1, b));
	put_ok(t, B("small"), enc(INT64_MIN + 1, b));

	op = op_add("big", 1);
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 3);
	assert_int_equal(r.ops[0].value, INT64_MAX);
	reply_free(&r);
	CHECK_GET(t, B("big"), 0, LIT("\xcf\x7f\xff\xff\xff\xff\xff\xff\xff"), 1, 3, 2);

	/* INT64_MAX + 1 */
	state_take(t, &s);
	run_ops(t, &op, 1, &r);
	CHECK_ERR(&r, BERTH_EOVERFLOW, 3);
	CHECK_UNCHANGED(t, &s);
	CHECK_GET(t, B("big"), 0, LIT("\xcf\x7f\xff\xff\xff\xff\xff\xff\xff"), 1, 3, 2);

	op = op_add("small", -1);
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 4);
	assert_int_equal(r.ops[0].value, INT64_MIN);
	reply_free(&r);
	CHECK_GET(t, B("small"), 0, LIT("\xd3\x80\x00\x00\x00\x00\x00\x00\x00"), 2, 4, 2);
	/* INT64_MIN - 1 */
	state_take(t, &s);
	run_ops(t, &op, 1, &r);
	CHECK_ERR(&r, BERTH_EOVERFLOW, 4);
	CHECK_UNCHANGED(t, &s);

	/* A missing key reads 0: adding INT64_MAX fits, INT64_MIN too. */
	op = op_add("fresh", INT64_MAX);
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.ops[0].value, INT64_MAX);
	reply_free(&r);
	op = op_add("fresh2", INT64_MIN);
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 6);
	assert_int_equal(r.ops[0].value, INT64_MIN);
	reply_free(&r);
	/* INT64_MIN + INT64_MIN */
	state_take(t, &s);
	run_ops(t, &op, 1, &r);
	CHECK_ERR(&r, BERTH_EOVERFLOW, 6);
	CHECK_UNCHANGED(t, &s);
	fx_close(t);
}

static void test_fsm_add_non_integer_rejects_txn(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct state s;
	uint8_t b[9];
	static const uint8_t huge[9] = {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t dbl[9] = {0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}; /* 1.0 */
	size_t n = mp_int_encode(5, b);
	tfsm_open(t, NULL);
	put_ok(t, B("s"), B("hello"));
	put_ok(t, B("e"), B(""));
	put_ok(t, B("huge"), bytes_of(huge, sizeof(huge)));
	put_ok(t, B("dbl"), bytes_of(dbl, sizeof(dbl)));
	b[n] = 0;
	put_ok(t, B("trail"), bytes_of(b, n + 1)); /* 5 followed by a zero byte */
	put_ok(t, B("p"), B("0"));
	const char *bad[] = {"s", "e", "huge", "dbl", "trail"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* Alone. */
		struct msg_op op = op_add(bad[i], 1);
		state_take(t, &s);
		run_ops(t, &op, 1, &r);
		CHECK_ERR(&r, BERTH_ETYPE, 6);
		CHECK_UNCHANGED(t, &s);
		/* After a put in the same transaction: the put is undone too. */
		struct msg_op ops[3] = {op_put("p", "1"), op_put("q", "1"), op_add(bad[i], 1)};
		state_take(t, &s);
		run_ops(t, ops, 3, &r);
		CHECK_ERR(&r, BERTH_ETYPE, 6);
		CHECK_UNCHANGED(t, &s);
	}
	CHECK_GET(t, B("s"), 0, B("hello"), 1, 1, 1);
	CHECK_GET(t, B("p"), 0, B("0"), 6, 6, 1);
	CHECK_MISSING(t, B("q"), 0);
	/* The next change takes revision 7: nothing was used up. */
	put_ok(t, B("p"), B("1"));
	CHECK_GET(t, B("p"), 0, B("1"), 6, 7, 2);
	fx_close(t);
}

/* ==== 5. transaction atomicity ==== */

static void test_fsm_txn_type_error_applies_nothing(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct state s;
	tfsm_open(t, NULL);
	put_ok(t, B("a"), B("0"));
	put_ok(t, B("c"), B("not a number"));
	struct msg_op ops[4] = {op_put("a", "1"), op_put("b", "1"), op_del("a2"), op_add("c", 1)};
	state_take(t, &s);
	run_ops(t, ops, 4, &r);
	CHECK_ERR(&r, BERTH_ETYPE, 2);
	CHECK_UNCHANGED(t, &s);
	assert_int_equal(fsm_applied(&t->f), 3);
	CHECK_GET(t, B("a"), 0, B("0"), 1, 1, 1);
	CHECK_MISSING(t, B("b"), 0);
	fx_close(t);
}

static void test_fsm_txn_dupkey(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct state s;
	uint8_t b[9];
	tfsm_open(t, NULL);
	put_ok(t, B("x"), B("0"));
	put_ok(t, B("n"), enc(1, b));
	put_ok(t, B("a"), B("0"));
	struct msg_op cases[][4] = {
		{op_put("x", "1"), op_put("x", "2")},
		{op_put("x", "1"), op_del("x")},
		{op_put("x", "1"), prefix(MSG_OP_DEL, B("x"))},
		{op_put("x", "1"), span(MSG_OP_DEL, B("w"), B("y"))},
		{op_put("x", "1"), span(MSG_OP_DEL, B("w"), LIT("\0"))},
		{op_del("x"), op_put("x", "1")},
		{op_add("n", 1), op_add("n", 1)},
		{op_put("n", "1"), op_add("n", 1)},
		{op_put("y", "1"), op_put("y", "2")}, /* a key created in this txn */
		{op_put("y", "1"), op_get("y"), op_del("y")},
		{op_put("b", "1"), op_put("c", "1"), op_put("x", "1"), all_keys(MSG_OP_DEL)},
		{all_keys(MSG_OP_DEL), op_put("a", "1")},
	};
	static const uint32_t counts[] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 4, 2};
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		state_take(t, &s);
		run_ops(t, cases[i], counts[i], &r);
		CHECK_ERR(&r, BERTH_EDUPKEY, 3);
		CHECK_UNCHANGED(t, &s);
	}
	CHECK_GET(t, B("x"), 0, B("0"), 1, 1, 1);

	/* Not a second change: a delete of a missing key changes nothing. */
	struct msg_op ok[2] = {op_del("y"), op_put("y", "1")};
	run_ops(t, ok, 2, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 4);
	assert_int_equal(r.ops[0].deleted, 0);
	reply_free(&r);
	CHECK_GET(t, B("y"), 0, B("1"), 4, 4, 1);
	/* Neither is a read. */
	struct msg_op ok2[3] = {op_get("x"), op_put("x", "1"), op_get("x")};
	run_ops(t, ok2, 3, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 5);
	assert_int_equal(r.nops, 3);
	CHECK_KV(&r.ops[0].kvs[0], B("x"), B("0"), 1, 1, 1);
	CHECK_KV(&r.ops[2].kvs[0], B("x"), B("1"), 1, 5, 2);
	reply_free(&r);
	fx_close(t);
}

static void test_fsm_txn_one_revision(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	uint8_t b[9];
	tfsm_open(t, NULL);
	put_ok(t, B("c"), B("1"));
	put_ok(t, B("d"), enc(10, b));
	assert_int_equal(revs_at(t, 1), 1);
	assert_int_equal(revs_at(t, 2), 1);

	struct msg_op ops[5] = {op_put("a", "AA"), op_put("b", "BB"), op_del("c"), op_add("d", 5),
				op_get("a")};
	run_ops(t, ops, 5, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 3);
	assert_true(r.succeeded);
	assert_int_equal(r.nops, 5);
	assert_int_equal(r.ops[0].type, MSG_OP_PUT);
	assert_int_equal(r.ops[1].type, MSG_OP_PUT);
	assert_int_equal(r.ops[2].type, MSG_OP_DEL);
	assert_int_equal(r.ops[2].deleted, 1);
	assert_int_equal(r.ops[3].type, MSG_OP_ADD);
	assert_int_equal(r.ops[3].value, 15);
	/* Later ops see earlier writes of the same transaction. */
	assert_int_equal(r.ops[4].nkvs, 1);
	CHECK_KV(&r.ops[4].kvs[0], B("a"), B("AA"), 3, 3, 1);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), 3);

	CHECK_GET(t, B("a"), 0, B("AA"), 3, 3, 1);
	CHECK_GET(t, B("b"), 0, B("BB"), 3, 3, 1);
	CHECK_GET(t, B("d"), 0, enc(15, b), 2, 3, 2);
	CHECK_MISSING(t, B("c"), 0);
	CHECK_MISSING(t, B("c"), 3);
	CHECK_GET(t, B("c"), 2, B("1"), 1, 1, 1);
	CHECK_MISSING(t, B("a"), 2);
	/* Four changes, all at revision 3, numbered 0..3 in the revision log. */
	assert_int_equal(revs_at(t, 3), 4);
	assert_int_equal(revs_at(t, 4), 0);

	/* A rejected transaction leaves no entries; the next one starts at sub 0. */
	struct msg_op bad[3] = {op_put("e", "1"), op_put("f", "1"), op_add("a", 1)};
	run_ops(t, bad, 3, &r);
	CHECK_ERR(&r, BERTH_ETYPE, 3);
	assert_int_equal(revs_at(t, 4), 0);
	struct msg_op two[2] = {op_put("e", "1"), op_put("f", "1")};
	run_ops(t, two, 2, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 4);
	reply_free(&r);
	assert_int_equal(revs_at(t, 4), 2);
	fx_close(t);
}

/* A transaction with a single write and a read after it: the read fails, so the whole
 * transaction must be rejected, including the write. */
static void test_fsm_txn_write_then_failing_read(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct state s;
	tfsm_open(t, NULL);
	put_ok(t, B("x"), B("1"));
	put_ok(t, B("y"), B("1"));

	struct msg_op ops[2] = {op_put("x", "2"), get_at(B("x"), 99)};
	state_take(t, &s);
	run_ops(t, ops, 2, &r);
	CHECK_ERR(&r, BERTH_EFUTUREREV, 2);
	CHECK_UNCHANGED(t, &s);
	CHECK_GET(t, B("x"), 0, B("1"), 1, 1, 1);

	struct msg_op dels[2] = {op_del("y"), get_at(B("y"), 99)};
	state_take(t, &s);
	run_ops(t, dels, 2, &r);
	CHECK_ERR(&r, BERTH_EFUTUREREV, 2);
	CHECK_UNCHANGED(t, &s);
	CHECK_GET(t, B("y"), 0, B("1"), 2, 2, 1);

	/* The next write takes revision 3 and works. */
	put_ok(t, B("x"), B("3"));
	CHECK_GET(t, B("x"), 0, B("3"), 1, 3, 2);
	fx_close(t);
}

/* ==== 6. ranges ==== */

/* Twelve keys, spelled out in bytewise order; range_setup puts them in a scrambled order,
 * key i with value "v<i>" at revision 1 + the position of i in range_order. */
static const struct bytes range_keys[] = {
	/* 0 "\0", 1 "\0\1", 2 a, 3 "a\0", 4 ab, 5 abc, 6 b, 7 "b\xff", 8 "b\xff\xff", 9 c,
	 * 10 "\xff", 11 "\xff\xff" */
	LITI("\x00"),      LITI("\x00\x01"), LITI("a"),    LITI("a\x00"),
	LITI("ab"),        LITI("abc"),      LITI("b"),    LITI("b\xff"),
	LITI("b\xff\xff"), LITI("c"),        LITI("\xff"), LITI("\xff\xff"),
};
static const size_t range_order[] = {9, 4, 11, 0, 7, 2, 10, 5, 1, 8, 3, 6};
#define NRANGE 12

static void range_setup(struct tfsm *t)
{
	char v[8];
	for (size_t i = 1; i < NRANGE; i++)
		assert_true(bytes_cmp(range_keys[i - 1], range_keys[i]) < 0);
	for (size_t i = 0; i < NRANGE; i++) {
		size_t k = range_order[i];
		snprintf(v, sizeof(v), "v%zu", k);
		put_ok(t, range_keys[k], B(v));
	}
	assert_int_equal(fsm_revision(&t->f), 12);
}

/* Keys [from, to) of range_keys. */
#define SK(from, to) (range_keys + (from)), ((to) - (from))

static void test_fsm_range_all_keys_in_order(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	char v[8];
	tfsm_open(t, NULL);
	range_setup(t);
	/* Every key, in bytewise order, with its record. */
	struct msg_op op = all_keys(MSG_OP_RANGE);
	read_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 12);
	assert_int_equal(r.ops[0].count, 12);
	assert_false(r.ops[0].more);
	assert_int_equal(r.ops[0].nkvs, 12);
	for (size_t i = 0; i < NRANGE; i++) {
		size_t k = i, pos = 0;
		while (range_order[pos] != k)
			pos++;
		snprintf(v, sizeof(v), "v%zu", k);
		CHECK_KV(&r.ops[0].kvs[i], range_keys[i], B(v), (int64_t)pos + 1, (int64_t)pos + 1,
			 1);
	}
	reply_free(&r);
	/* The same through the log. */
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 12);
	check_keys_at(__FILE__, __LINE__, &r.ops[0], range_keys, NRANGE);
	assert_int_equal(r.ops[0].count, 12);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), 12);
	fx_close(t);
}

static void test_fsm_range_prefix(void **state)
{
	struct tfsm *t = *state;
	tfsm_open(t, NULL);
	range_setup(t);
	/* range_keys: 0 "\0", 1 "\0\1", 2 a, 3 "a\0", 4 ab, 5 abc, 6 b, 7 "b\xff",
	 * 8 "b\xff\xff", 9 c, 10 "\xff", 11 "\xff\xff" */
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, B("a")), SK(2, 6), 4, false);
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, B("ab")), SK(4, 6), 2, false);
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, B("abc")), SK(5, 6), 1, false);
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, B("abcd")), SK(0, 0), 0, false);
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, LIT("a\0")), SK(3, 4), 1, false);
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, B("b")), SK(6, 9), 3, false);
	/* Prefixes ending in 0xff bytes. */
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, LIT("b\xff")), SK(7, 9), 2, false);
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, LIT("b\xff\xff")), SK(8, 9), 1, false);
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, LIT("\xff")), SK(10, 12), 2, false);
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, LIT("\xff\xff")), SK(11, 12), 1, false);
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, LIT("\xff\xff\xff")), SK(0, 0), 0, false);
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, LIT("\0")), SK(0, 2), 2, false);
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, B("zz")), SK(0, 0), 0, false);
	CHECK_RANGE(t, all_keys(MSG_OP_RANGE), SK(0, 12), 12, false);
	fx_close(t);
}

/* The empty prefix is every key (txn.c: "no bound when the prefix is empty"). */
static void test_fsm_range_empty_prefix(void **state)
{
	struct tfsm *t = *state;
	struct msg_op op;
	tfsm_open(t, NULL);
	range_setup(t);
	/* At a past revision: the keys put first (range_order 9, 4, 11, 0, 7, 2). */
	const struct bytes at6[] = {range_keys[0], range_keys[2], range_keys[4],
				    range_keys[7], range_keys[9], range_keys[11]};
	op = prefix(MSG_OP_RANGE, B(""));
	op.rev = 6;
	CHECK_RANGE(t, op, at6, 6, 6, false);
	/* Now. */
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, B("")), SK(0, 12), 12, false);
	op = prefix(MSG_OP_RANGE, B(""));
	op.limit = 2;
	CHECK_RANGE(t, op, SK(0, 2), 12, true);
	op.limit = 0;
	op.flags |= MSG_F_COUNT_ONLY;
	CHECK_RANGE(t, op, SK(0, 0), 12, false);
	fx_close(t);
}

/* The same through the log, and as a delete. */
static void test_fsm_delete_empty_prefix(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct msg_op op;
	tfsm_open(t, NULL);
	range_setup(t);
	op = prefix(MSG_OP_RANGE, B(""));
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 12);
	assert_int_equal(r.ops[0].count, 12);
	check_keys_at(__FILE__, __LINE__, &r.ops[0], SK(0, 12));
	reply_free(&r);
	op = prefix(MSG_OP_DEL, B(""));
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 13);
	assert_int_equal(r.ops[0].deleted, 12);
	reply_free(&r);
	CHECK_RANGE(t, all_keys(MSG_OP_RANGE), SK(0, 0), 0, false);
	fx_close(t);
}

static void test_fsm_range_interval(void **state)
{
	struct tfsm *t = *state;
	tfsm_open(t, NULL);
	range_setup(t);
	/* Start inclusive, end exclusive. */
	CHECK_RANGE(t, span(MSG_OP_RANGE, B("a"), B("b")), SK(2, 6), 4, false);
	CHECK_RANGE(t, span(MSG_OP_RANGE, B("a"), B("c")), SK(2, 9), 7, false);
	CHECK_RANGE(t, span(MSG_OP_RANGE, B("ab"), B("abc")), SK(4, 5), 1, false);
	/* Keys that are prefixes of each other. */
	CHECK_RANGE(t, span(MSG_OP_RANGE, B("a"), LIT("a\0")), SK(2, 3), 1, false);
	CHECK_RANGE(t, span(MSG_OP_RANGE, LIT("a\0"), B("ab")), SK(3, 4), 1, false);
	CHECK_RANGE(t, span(MSG_OP_RANGE, LIT("a\0\0"), B("ab")), SK(0, 0), 0, false);
	CHECK_RANGE(t, span(MSG_OP_RANGE, B("aa"), B("abd")), SK(4, 6), 2, false);
	/* An end of one zero byte means "to the last key". */
	CHECK_RANGE(t, span(MSG_OP_RANGE, B("b"), LIT("\0")), SK(6, 12), 6, false);
	CHECK_RANGE(t, span(MSG_OP_RANGE, LIT("\0"), LIT("\0")), SK(0, 12), 12, false);
	CHECK_RANGE(t, span(MSG_OP_RANGE, LIT("\xff\xff"), LIT("\0")), SK(11, 12), 1, false);
	CHECK_RANGE(t, span(MSG_OP_RANGE, LIT("\xff\xff\0"), LIT("\0")), SK(0, 0), 0, false);
	/* Two zero bytes are an ordinary end. */
	CHECK_RANGE(t, span(MSG_OP_RANGE, LIT("\0"), LIT("\0\0")), SK(0, 1), 1, false);
	CHECK_RANGE(t, span(MSG_OP_RANGE, LIT("\0\x01"), B("a")), SK(1, 2), 1, false);
	/* Binary bounds. */
	CHECK_RANGE(t, span(MSG_OP_RANGE, LIT("b\xff\xff"), LIT("c\0")), SK(8, 10), 2, false);
	CHECK_RANGE(t, span(MSG_OP_RANGE, B("c"), LIT("\xff\xff")), SK(9, 11), 2, false);
	CHECK_RANGE(t, span(MSG_OP_RANGE, LIT("\x01"), LIT("\xfe")), SK(2, 10), 8, false);
	/* Empty intervals. */
	CHECK_RANGE(t, span(MSG_OP_RANGE, B("b"), B("b")), SK(0, 0), 0, false);
	CHECK_RANGE(t, span(MSG_OP_RANGE, B("c"), B("a")), SK(0, 0), 0, false);
	CHECK_RANGE(t, span(MSG_OP_RANGE, B("d"), LIT("\xff")), SK(0, 0), 0, false);
	fx_close(t);
}

static void test_fsm_range_limit_keys_count_only(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct msg_op op;
	tfsm_open(t, NULL);
	range_setup(t);

	/* Limit: the first keys, more = true, count = every match. */
	op = all_keys(MSG_OP_RANGE);
	op.limit = 3;
	CHECK_RANGE(t, op, SK(0, 3), 12, true);
	op.limit = 1;
	CHECK_RANGE(t, op, SK(0, 1), 12, true);
	op.limit = 11;
	CHECK_RANGE(t, op, SK(0, 11), 12, true);
	op.limit = 12;
	CHECK_RANGE(t, op, SK(0, 12), 12, false);
	op.limit = 13;
	CHECK_RANGE(t, op, SK(0, 12), 12, false);
	op = span(MSG_OP_RANGE, B("b"), LIT("\0"));
	op.limit = 2;
	CHECK_RANGE(t, op, SK(6, 8), 6, true);
	op = op_get("a");
	op.limit = 1;
	CHECK_RANGE(t, op, SK(2, 3), 1, false);

	/* Keys only: no values, the rest of the record stays. */
	op = prefix(MSG_OP_RANGE, B("a"));
	op.flags |= MSG_F_KEYS_ONLY;
	read_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.ops[0].count, 4);
	check_keys_at(__FILE__, __LINE__, &r.ops[0], SK(2, 6));
	for (size_t i = 0; i < 4; i++) {
		assert_null(r.ops[0].kvs[i].value.p);
		assert_int_equal(r.ops[0].kvs[i].value.n, 0);
		assert_int_equal(r.ops[0].kvs[i].version, 1);
	}
	/* "a" is range_keys[2], put 6th: revision 6. */
	assert_int_equal(r.ops[0].kvs[0].create_rev, 6);
	assert_int_equal(r.ops[0].kvs[0].mod_rev, 6);
	reply_free(&r);
	op = op_get("a");
	op.flags = MSG_F_KEYS_ONLY;
	read_ops(t, &op, 1, &r);
	assert_int_equal(r.ops[0].nkvs, 1);
	assert_null(r.ops[0].kvs[0].value.p);
	assert_int_equal(r.ops[0].kvs[0].mod_rev, 6);
	reply_free(&r);
	/* Without the flag the value is there. */
	op.flags = 0;
	read_ops(t, &op, 1, &r);
	assert_int_equal(r.ops[0].nkvs, 1);
	CHECK_KV(&r.ops[0].kvs[0], B("a"), B("v2"), 6, 6, 1);
	reply_free(&r);

	/* Count only: no records, the count right, never "more". */
	op = all_keys(MSG_OP_RANGE);
	op.flags |= MSG_F_COUNT_ONLY;
	CHECK_RANGE(t, op, SK(0, 0), 12, false);
	op.limit = 3;
	CHECK_RANGE(t, op, SK(0, 0), 12, false);
	op = span(MSG_OP_RANGE, B("a"), B("b"));
	op.flags = MSG_F_COUNT_ONLY;
	CHECK_RANGE(t, op, SK(0, 0), 4, false);
	op = op_get("abc");
	op.flags = MSG_F_COUNT_ONLY;
	CHECK_RANGE(t, op, SK(0, 0), 1, false);
	op = op_get("nokey");
	op.flags = MSG_F_COUNT_ONLY;
	CHECK_RANGE(t, op, SK(0, 0), 0, false);
	op = prefix(MSG_OP_RANGE, B("zz"));
	op.flags |= MSG_F_COUNT_ONLY;
	CHECK_RANGE(t, op, SK(0, 0), 0, false);
	fx_close(t);
}

static void test_fsm_range_result_bytes_limit(void **state)
{
	struct tfsm *t = *state;
	struct fsm_config cfg;
	char v[201];
	tfsm_like_config(&cfg);
	cfg.max_result_bytes = 1024;
	tfsm_open(t, &cfg);
	memset(v, 'v', 200);
	v[200] = 0;
	struct bytes keys[10];
	char names[10][2];
	for (int i = 0; i < 10; i++) {
		names[i][0] = 'k';
		names[i][1] = (char)('0' + i);
		keys[i] = bytes_of(names[i], 2);
		put_ok(t, keys[i], B(v));
	}
	/* 2 + 200 + 48 bytes each: four fit in 1024, the fifth would not. */
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, B("k")), keys, 4, 10, true);
	/* One record larger than the bound still comes back alone. */
	char *big = malloc(2000);
	assert_non_null(big);
	memset(big, 'b', 2000);
	put_ok(t, B("big"), bytes_of(big, 2000));
	CHECK_GET(t, B("big"), 0, bytes_of(big, 2000), 11, 11, 1);
	free(big);
	fx_close(t);
}

/* ==== 7. delete ranges ==== */

static void test_fsm_delete_range(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct msg_op op;
	tfsm_open(t, NULL);
	range_setup(t);

	/* By prefix: a, a\0, ab, abc. */
	op = prefix(MSG_OP_DEL, B("a"));
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 13);
	assert_int_equal(r.ops[0].type, MSG_OP_DEL);
	assert_int_equal(r.ops[0].deleted, 4);
	reply_free(&r);
	assert_int_equal(revs_at(t, 13), 4);
	{
		struct bytes left[8] = {range_keys[0], range_keys[1]};
		memcpy(left + 2, range_keys + 6, 6 * sizeof(struct bytes));
		CHECK_RANGE(t, all_keys(MSG_OP_RANGE), left, 8, 8, false);
	}
	CHECK_MISSING(t, B("a"), 0);
	CHECK_MISSING(t, B("abc"), 0);
	CHECK_GET(t, B("ab"), 12, B("v4"), 2, 2, 1);

	/* [b, c): b, b\xff, b\xff\xff. */
	op = span(MSG_OP_DEL, B("b"), B("c"));
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 14);
	assert_int_equal(r.ops[0].deleted, 3);
	reply_free(&r);
	CHECK_RANGE(t, span(MSG_OP_RANGE, B("b"), LIT("\0")), SK(9, 12), 3, false);

	/* [c, end): c, \xff, \xff\xff. */
	op = span(MSG_OP_DEL, B("c"), LIT("\0"));
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 15);
	assert_int_equal(r.ops[0].deleted, 3);
	reply_free(&r);
	CHECK_RANGE(t, all_keys(MSG_OP_RANGE), SK(0, 2), 2, false);

	/* Nothing matched: no revision. */
	op = prefix(MSG_OP_DEL, B("zz"));
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 15);
	assert_int_equal(r.ops[0].deleted, 0);
	reply_free(&r);
	op = span(MSG_OP_DEL, B("a"), B("c"));
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.rev, 15);
	assert_int_equal(r.ops[0].deleted, 0);
	reply_free(&r);

	/* [\0, \0\0): only "\0". */
	op = span(MSG_OP_DEL, LIT("\0"), LIT("\0\0"));
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.rev, 16);
	assert_int_equal(r.ops[0].deleted, 1);
	reply_free(&r);
	/* The empty prefix: everything left. */
	op = all_keys(MSG_OP_DEL);
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.rev, 17);
	assert_int_equal(r.ops[0].deleted, 1);
	reply_free(&r);
	CHECK_RANGE(t, all_keys(MSG_OP_RANGE), SK(0, 0), 0, false);
	assert_int_equal(fsm_revision(&t->f), 17);

	/* History has them all. */
	struct msg_op past = all_keys(MSG_OP_RANGE);
	past.rev = 12;
	CHECK_RANGE(t, past, SK(0, 12), 12, false);
	past.rev = 15;
	CHECK_RANGE(t, past, SK(0, 2), 2, false);
	past.rev = 16;
	CHECK_RANGE(t, past, SK(1, 2), 1, false);

	/* Recreated keys start over. */
	put_ok(t, B("ab"), B("new"));
	CHECK_GET(t, B("ab"), 0, B("new"), 18, 18, 1);
	fx_close(t);
}

/* ==== 8. reads at past revisions ==== */

static void test_fsm_past_revisions(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct state s;
	struct msg_op op;
	tfsm_open(t, NULL);
	put_ok(t, B("a"), B("1")); /* 1 */
	put_ok(t, B("b"), B("1")); /* 2 */
	put_ok(t, B("a"), B("2")); /* 3 */
	t_del(t, "b");             /* 4 */
	put_ok(t, B("c"), B("1")); /* 5 */
	put_ok(t, B("b"), B("2")); /* 6 */
	assert_int_equal(fsm_revision(&t->f), 6);

	CHECK_GET(t, B("a"), 1, B("1"), 1, 1, 1);
	CHECK_GET(t, B("a"), 2, B("1"), 1, 1, 1);
	CHECK_GET(t, B("a"), 3, B("2"), 1, 3, 2);
	CHECK_GET(t, B("a"), 6, B("2"), 1, 3, 2);
	CHECK_MISSING(t, B("b"), 1);
	CHECK_GET(t, B("b"), 2, B("1"), 2, 2, 1);
	CHECK_GET(t, B("b"), 3, B("1"), 2, 2, 1);
	CHECK_MISSING(t, B("b"), 4);
	CHECK_MISSING(t, B("b"), 5);
	CHECK_GET(t, B("b"), 6, B("2"), 6, 6, 1);
	CHECK_MISSING(t, B("c"), 4);
	CHECK_GET(t, B("c"), 5, B("1"), 5, 5, 1);
	CHECK_MISSING(t, B("zz"), 3);

	static const struct bytes a = LITI("a"), b = LITI("b"), c = LITI("c");
	struct bytes at1[] = {a}, at2[] = {a, b}, at5[] = {a, c}, at6[] = {a, b, c};
	op = all_keys(MSG_OP_RANGE);
	op.rev = 1;
	CHECK_RANGE(t, op, at1, 1, 1, false);
	op.rev = 2;
	CHECK_RANGE(t, op, at2, 2, 2, false);
	op.rev = 3;
	read_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 6);
	assert_int_equal(r.ops[0].nkvs, 2);
	CHECK_KV(&r.ops[0].kvs[0], a, B("2"), 1, 3, 2);
	CHECK_KV(&r.ops[0].kvs[1], b, B("1"), 2, 2, 1);
	reply_free(&r);
	op.rev = 4;
	CHECK_RANGE(t, op, at1, 1, 1, false);
	op.rev = 5;
	CHECK_RANGE(t, op, at5, 2, 2, false);
	op.rev = 6;
	CHECK_RANGE(t, op, at6, 3, 3, false);
	op = span(MSG_OP_RANGE, B("b"), LIT("\0"));
	op.rev = 3;
	CHECK_RANGE(t, op, at2 + 1, 1, 1, false);
	/* With limit, keys-only and count-only. */
	op = all_keys(MSG_OP_RANGE);
	op.rev = 5;
	op.limit = 1;
	CHECK_RANGE(t, op, at5, 1, 2, true);
	op.limit = 0;
	op.flags |= MSG_F_COUNT_ONLY;
	op.rev = 2;
	CHECK_RANGE(t, op, at1, 0, 2, false);
	op.flags = MSG_F_KEYS_ONLY;
	op.rev = 3;
	read_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.nops, 1);
	assert_int_equal(r.ops[0].nkvs, 2);
	assert_null(r.ops[0].kvs[0].value.p);
	assert_int_equal(r.ops[0].kvs[0].mod_rev, 3);
	reply_free(&r);

	/* A revision after the current one. */
	op = get_at(B("a"), 7);
	read_ops(t, &op, 1, &r);
	CHECK_ERR(&r, BERTH_EFUTUREREV, 6);
	op = all_keys(MSG_OP_RANGE);
	op.rev = UINT64_MAX;
	read_ops(t, &op, 1, &r);
	CHECK_ERR(&r, BERTH_EFUTUREREV, 6);
	state_take(t, &s);
	op = get_at(B("a"), 7);
	run_ops(t, &op, 1, &r);
	CHECK_ERR(&r, BERTH_EFUTUREREV, 6);
	CHECK_UNCHANGED(t, &s);

	/* The current revision is a valid one. */
	CHECK_GET(t, B("b"), 6, B("2"), 6, 6, 1);
	op = all_keys(MSG_OP_RANGE);
	op.rev = 6;
	CHECK_RANGE(t, op, at6, 3, 3, false);

	/* Past reads inside a writing transaction. */
	struct msg_op ops[2] = {op_put("d", "1"), get_at(B("a"), 1)};
	run_ops(t, ops, 2, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 7);
	assert_int_equal(r.ops[1].nkvs, 1);
	CHECK_KV(&r.ops[1].kvs[0], a, B("1"), 1, 1, 1);
	reply_free(&r);
	CHECK_GET(t, B("a"), 7, B("2"), 1, 3, 2);
	fx_close(t);
}

/* ==== 9. limits and bad requests ==== */

/* Applies a single-op txn that must be rejected with err; nothing may change. Also
 * checks the same op through fsm_read when it is a read. */
#define CHECK_REJECT(t, op, err) check_reject(__FILE__, __LINE__, (t), (op), (err))
static void check_reject(const char *file, int line, struct tfsm *t, struct msg_op op, int err)
{
	struct reply r;
	struct state s;
	uint64_t rev = fsm_revision(&t->f);
	state_take(t, &s);
	run_ops(t, &op, 1, &r);
	EQ_AT(r.err, err, file, line);
	EQ_AT(r.rev, rev, file, line);
	EQ_AT(r.nops, 0, file, line);
	reply_free(&r);
	check_unchanged(file, line, t, &s);
	if (op.type == MSG_OP_RANGE) {
		read_ops(t, &op, 1, &r);
		EQ_AT(r.err, err, file, line);
		EQ_AT(r.rev, rev, file, line);
		EQ_AT(r.nops, 0, file, line);
		reply_free(&r);
	}
}

/* Keys of n bytes: 'k' repeated, in a static buffer. */
static struct bytes kbytes(size_t n)
{
	static uint8_t buf[KV_KEY_HARD_MAX + 2];
	assert_true(n <= sizeof(buf));
	memset(buf, 'k', sizeof(buf));
	return bytes_of(buf, n);
}

static void test_fsm_limits_default_key_value(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct msg_op op;
	tfsm_open(t, NULL);
	assert_int_equal(t->f.cfg.max_key_bytes, 1024);
	assert_int_equal(t->f.cfg.max_value_bytes, 1024 * 1024);
	assert_int_equal(t->f.cfg.max_txn_ops, 128);

	/* Key: 1024 bytes is fine, 1025 is too large for every use. */
	put_ok(t, kbytes(1024), B("v"));
	CHECK_GET(t, kbytes(1024), 0, B("v"), 1, 1, 1);
	CHECK_REJECT(t, put_b(kbytes(1025), B("v")), BERTH_ETOOLARGE);
	CHECK_REJECT(t, get_at(kbytes(1025), 0), BERTH_ETOOLARGE);
	CHECK_REJECT(t, del_b(kbytes(1025)), BERTH_ETOOLARGE);
	CHECK_REJECT(t, add_b(kbytes(1025), 1), BERTH_ETOOLARGE);
	CHECK_REJECT(t, prefix(MSG_OP_RANGE, kbytes(1025)), BERTH_ETOOLARGE);
	CHECK_REJECT(t, prefix(MSG_OP_DEL, kbytes(1025)), BERTH_ETOOLARGE);
	CHECK_REJECT(t, span(MSG_OP_RANGE, B("a"), kbytes(1025)), BERTH_ETOOLARGE);
	CHECK_REJECT(t, span(MSG_OP_DEL, B("a"), kbytes(1025)), BERTH_ETOOLARGE);
	op = span(MSG_OP_RANGE, B("a"), kbytes(1024));
	read_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.ops[0].count, 0);
	reply_free(&r);
	op = span(MSG_OP_RANGE, B("k"), kbytes(1024)); /* keys before "kkk...k" */
	read_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.ops[0].count, 0);
	reply_free(&r);
	struct msg_compare c = {.target = MSG_CMP_VERSION, .op = MSG_EQ, .key = kbytes(1025)};
	struct msg_op get = op_get("a");
	read_txn(t, &c, 1, &get, 1, NULL, 0, &r);
	CHECK_ERR(&r, BERTH_ETOOLARGE, 1);
	run(t, &c, 1, &get, 1, NULL, 0, &r);
	CHECK_ERR(&r, BERTH_ETOOLARGE, 1);
	c.key = kbytes(1024);
	c.num = 1;
	read_txn(t, &c, 1, &get, 1, NULL, 0, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	reply_free(&r);

	/* Value: 1 MiB is fine, one byte more is not. */
	size_t mib = 1024 * 1024;
	uint8_t *v = malloc(mib + 1);
	assert_non_null(v);
	for (size_t i = 0; i <= mib; i++)
		v[i] = (uint8_t)(i * 7 + 3);
	put_ok(t, B("v"), bytes_of(v, mib));
	CHECK_GET(t, B("v"), 0, bytes_of(v, mib), 2, 2, 1);
	CHECK_REJECT(t, put_b(B("v"), bytes_of(v, mib + 1)), BERTH_ETOOLARGE);
	CHECK_REJECT(t, put_b(B("w"), bytes_of(v, mib + 1)), BERTH_ETOOLARGE);
	struct msg_compare cv = {.target = MSG_CMP_VALUE, .op = MSG_EQ, .key = B("v")};
	cv.value = bytes_of(v, mib + 1);
	read_txn(t, &cv, 1, &get, 1, NULL, 0, &r);
	CHECK_ERR(&r, BERTH_ETOOLARGE, 2);
	cv.value = bytes_of(v, mib);
	read_txn(t, &cv, 1, &get, 1, NULL, 0, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	reply_free(&r);
	free(v);
	assert_int_equal(fsm_revision(&t->f), 2);
	fx_close(t);
}

/* A txn of ncmp compares (each holds when `hold`), nsucc puts and nfail puts. */
static void many_ops(struct tfsm *t, uint32_t ncmp, bool hold, uint32_t nsucc, uint32_t nfail,
		     struct reply *r)
{
	uint32_t nops = nsucc + nfail;
	struct msg_compare *cmp = calloc(ncmp ? ncmp : 1, sizeof(*cmp));
	struct msg_op *ops = calloc(nops ? nops : 1, sizeof(*ops));
	char(*names)[16] = calloc(nops ? nops : 1, 16);
	assert_non_null(cmp);
	assert_non_null(ops);
	assert_non_null(names);
	for (uint32_t i = 0; i < ncmp; i++)
		cmp[i] = cmp_num(MSG_CMP_VERSION, "nokey", hold ? MSG_EQ : MSG_NE, 0);
	for (uint32_t i = 0; i < nops; i++) {
		snprintf(names[i], 16, "%c%05u", i < nsucc ? 's' : 'f', i);
		ops[i] = op_put(names[i], "1");
	}
	run(t, cmp, ncmp, ops, nsucc, ops + nsucc, nfail, r);
	free(names);
	free(ops);
	free(cmp);
}

static void check_op_counts(struct tfsm *t, uint32_t max)
{
	struct reply r;
	struct state s;
	uint64_t rev = fsm_revision(&t->f);

	/* Compares: max hold, max + 1 are too many. */
	many_ops(t, max, true, 1, 0, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	assert_int_equal(r.rev, ++rev);
	reply_free(&r);
	state_take(t, &s);
	many_ops(t, max + 1, true, 1, 0, &r);
	CHECK_ERR(&r, BERTH_ETOOLARGE, rev);
	CHECK_UNCHANGED(t, &s);

	/* Success ops: max in one revision; max + 1 rejected. */
	many_ops(t, 0, true, max, 0, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.nops, max);
	assert_int_equal(r.rev, ++rev);
	reply_free(&r);
	assert_int_equal(revs_at(t, rev), max);
	state_take(t, &s);
	many_ops(t, 0, true, max + 1, 0, &r);
	CHECK_ERR(&r, BERTH_ETOOLARGE, rev);
	CHECK_UNCHANGED(t, &s);
	/* ... even when that branch is not the one taken. */
	state_take(t, &s);
	many_ops(t, 1, false, max + 1, 1, &r);
	CHECK_ERR(&r, BERTH_ETOOLARGE, rev);
	CHECK_UNCHANGED(t, &s);

	/* Failure ops: the same. */
	many_ops(t, 1, false, 0, max, &r);
	assert_int_equal(r.err, 0);
	assert_false(r.succeeded);
	assert_int_equal(r.nops, max);
	assert_int_equal(r.rev, ++rev);
	reply_free(&r);
	state_take(t, &s);
	many_ops(t, 1, false, 0, max + 1, &r);
	CHECK_ERR(&r, BERTH_ETOOLARGE, rev);
	CHECK_UNCHANGED(t, &s);
	state_take(t, &s);
	many_ops(t, 1, true, 1, max + 1, &r);
	CHECK_ERR(&r, BERTH_ETOOLARGE, rev);
	CHECK_UNCHANGED(t, &s);

	/* Reads count the same way. */
	struct msg_op *gets = calloc(max + 1, sizeof(*gets));
	assert_non_null(gets);
	for (uint32_t i = 0; i <= max; i++)
		gets[i] = op_get("s00000");
	read_ops(t, gets, max, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.nops, max);
	reply_free(&r);
	read_ops(t, gets, max + 1, &r);
	CHECK_ERR(&r, BERTH_ETOOLARGE, rev);
	free(gets);
	assert_int_equal(fsm_revision(&t->f), rev);
}

static void test_fsm_limits_default_ops(void **state)
{
	struct tfsm *t = *state;
	tfsm_open(t, NULL);
	check_op_counts(t, 128);
	fx_close(t);
}

static void test_fsm_limits_small_config(void **state)
{
	struct tfsm *t = *state;
	struct fsm_config cfg;
	struct reply r;
	tfsm_like_config(&cfg);
	cfg.max_key_bytes = 8;
	cfg.max_value_bytes = 16;
	cfg.max_txn_ops = 3;
	tfsm_open(t, &cfg);

	put_ok(t, B("12345678"), B("0123456789abcdef"));
	CHECK_GET(t, B("12345678"), 0, B("0123456789abcdef"), 1, 1, 1);
	CHECK_REJECT(t, put_b(B("123456789"), B("v")), BERTH_ETOOLARGE);
	CHECK_REJECT(t, put_b(B("1"), B("0123456789abcdefg")), BERTH_ETOOLARGE);
	CHECK_REJECT(t, get_at(B("123456789"), 0), BERTH_ETOOLARGE);
	CHECK_REJECT(t, add_b(B("123456789"), 1), BERTH_ETOOLARGE);
	CHECK_REJECT(t, del_b(B("123456789")), BERTH_ETOOLARGE);
	CHECK_REJECT(t, span(MSG_OP_RANGE, B("1"), B("123456789")), BERTH_ETOOLARGE);
	struct msg_compare c = cmp_val("12345678", MSG_EQ, "0123456789abcdefg");
	struct msg_op get = op_get("12345678");
	read_txn(t, &c, 1, &get, 1, NULL, 0, &r);
	CHECK_ERR(&r, BERTH_ETOOLARGE, 1);
	c = cmp_val("12345678", MSG_EQ, "0123456789abcdef");
	read_txn(t, &c, 1, &get, 1, NULL, 0, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	reply_free(&r);
	c = cmp_num(MSG_CMP_VERSION, "123456789", MSG_EQ, 0);
	read_txn(t, &c, 1, &get, 1, NULL, 0, &r);
	CHECK_ERR(&r, BERTH_ETOOLARGE, 1);

	check_op_counts(t, 3);
	fx_close(t);
}

static void test_fsm_bad_requests(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct state s;
	struct msg_op op;
	tfsm_open(t, NULL);
	put_ok(t, B("a"), B("1"));

	/* Empty keys. */
	CHECK_REJECT(t, put_b(B(""), B("v")), BERTH_EBADREQ);
	CHECK_REJECT(t, get_at(B(""), 0), BERTH_EBADREQ);
	CHECK_REJECT(t, del_b(B("")), BERTH_EBADREQ);
	CHECK_REJECT(t, add_b(B(""), 1), BERTH_EBADREQ);
	struct msg_compare c = cmp_num(MSG_CMP_VERSION, "", MSG_EQ, 0);
	struct msg_op get = op_get("a");
	read_txn(t, &c, 1, &get, 1, NULL, 0, &r);
	CHECK_ERR(&r, BERTH_EBADREQ, 1);
	state_take(t, &s);
	struct msg_op put = op_put("b", "1");
	run(t, &c, 1, &put, 1, NULL, 0, &r);
	CHECK_ERR(&r, BERTH_EBADREQ, 1);
	CHECK_UNCHANGED(t, &s);

	/* Flags and fields that do not belong to the operation. */
	op = op_put("a", "2");
	op.flags = MSG_F_KEYS_ONLY;
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op.flags = MSG_F_COUNT_ONLY;
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op.flags = MSG_F_PREFIX;
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op.flags = 0;
	op.end = B("b");
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op.end = B("");
	op.limit = 1;
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op.limit = 0;
	op.rev = 1;
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op = op_add("a", 1);
	op.flags = MSG_F_PREFIX;
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op.flags = 0;
	op.end = B("b");
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op.end = B("");
	op.limit = 5;
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op = op_del("a");
	op.flags = MSG_F_KEYS_ONLY;
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op.flags = MSG_F_COUNT_ONLY;
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op.flags = 0;
	op.limit = 1;
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op.limit = 0;
	op.rev = 1;
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	/* A prefix and an end together. */
	op = prefix(MSG_OP_RANGE, B("a"));
	op.end = B("b");
	CHECK_REJECT(t, op, BERTH_EBADREQ);
	op = prefix(MSG_OP_DEL, B("a"));
	op.end = B("b");
	CHECK_REJECT(t, op, BERTH_EBADREQ);

	/* A bad op anywhere rejects the whole txn, even in the branch not taken. */
	struct msg_op bad = op_put("c", "1");
	bad.flags = MSG_F_KEYS_ONLY;
	struct msg_op good[2] = {op_put("b", "1"), op_put("c", "1")};
	c = cmp_num(MSG_CMP_VERSION, "a", MSG_EQ, 1);
	state_take(t, &s);
	run(t, &c, 1, good, 2, &bad, 1, &r);
	CHECK_ERR(&r, BERTH_EBADREQ, 1);
	CHECK_UNCHANGED(t, &s);
	struct msg_op mixed[3] = {op_put("b", "1"), op_put("c", "1"), bad};
	state_take(t, &s);
	run_ops(t, mixed, 3, &r);
	CHECK_ERR(&r, BERTH_EBADREQ, 1);
	CHECK_UNCHANGED(t, &s);

	/* A malformed log entry is an error result, and counts as applied. */
	static const uint8_t junk[8] = {0xc1};
	mp_buf_reset(&t->out);
	assert_int_equal(fsm_apply_one(&t->f, ++t->index, junk, sizeof(junk), &t->out), 0);
	assert_int_equal(reply_decode(t->out.data, t->out.len, &r), 0);
	CHECK_ERR(&r, BERTH_EBADREQ, 1);
	assert_int_equal(fsm_applied(&t->f), t->index);
	assert_int_equal(fsm_revision(&t->f), 1);
	CHECK_GET(t, B("a"), 0, B("1"), 1, 1, 1);
	fx_close(t);
}

static void test_fsm_config_validate(void **state)
{
	struct fsm_config cfg;
	const char *why = "unset";
	(void)state;
	fsm_config_default(&cfg);
	assert_int_equal(cfg.max_key_bytes, 1024);
	assert_int_equal(cfg.max_value_bytes, 1024 * 1024);
	assert_int_equal(cfg.max_txn_ops, 128);
	assert_int_equal(fsm_config_validate(&cfg, &why), 0);
	assert_null(why);

	static const struct {
		size_t key, value;
		uint32_t ops;
		size_t result, map;
		int sync;
		int want;
	} rows[] = {
		{0, 1, 1, 1024, 65536, 0, BERTH_EBADREQ},
		{1, 0, 1, 1024, 65536, 0, 0},
		{KV_KEY_HARD_MAX, 1, 1, 1024, 65536, 0, 0},
		{KV_KEY_HARD_MAX + 1, 1, 1, 1024, 65536, 0, BERTH_EBADREQ},
		{8, (size_t)64 << 20, 1, 1024, 65536, 0, 0},
		{8, ((size_t)64 << 20) + 1, 1, 1024, 65536, 0, BERTH_EBADREQ},
		{8, 16, 0, 1024, 65536, 0, BERTH_EBADREQ},
		{8, 16, 65536, 1024, 65536, 0, 0},
		{8, 16, 65537, 1024, 65536, 0, BERTH_EBADREQ},
		{8, 16, 3, 1023, 65536, 0, BERTH_EBADREQ},
		{8, 16, 3, 1024, 65535, 0, BERTH_EBADREQ},
		{8, 16, 3, 1024, 65536, KV_SYNC_NONE, 0},
		{8, 16, 3, 1024, 65536, KV_SYNC_NONE + 1, BERTH_EBADREQ},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		fsm_config_default(&cfg);
		cfg.max_key_bytes = rows[i].key;
		cfg.max_value_bytes = rows[i].value;
		cfg.max_txn_ops = rows[i].ops;
		cfg.max_result_bytes = rows[i].result;
		cfg.map_bytes = rows[i].map;
		cfg.sync = (enum kv_sync)rows[i].sync;
		why = "unset";
		int rv = fsm_config_validate(&cfg, &why);
		if (rv != rows[i].want)
			print_error("row %zu: got %d\n", i, rv);
		assert_int_equal(rv, rows[i].want);
		if (rows[i].want == 0)
			assert_null(why);
		else
			assert_non_null(why);
	}
	fsm_config_default(&cfg);
	cfg.max_key_bytes = 0;
	assert_int_equal(fsm_config_validate(&cfg, &why), BERTH_EBADREQ);
	assert_string_equal(why, "max_key_bytes must be 1..4096");

	/* fsm_open refuses a bad configuration and leaves nothing open. */
	struct fsm f;
	char *dir = support_tmpdir();
	assert_int_equal(fsm_open(&f, dir, &cfg), BERTH_EBADREQ);
	assert_string_equal(f.errmsg, "fsm config: max_key_bytes must be 1..4096");
	support_rmrf(dir);
	free(dir);
}

/* ==== 10. long keys ==== */

struct lkey {
	uint8_t b[KV_KEY_HARD_MAX];
	size_t n;
};

/* fill bytes of 'p', then tail[0..tn). */
static struct bytes lkey(struct lkey *k, size_t fill, const void *tail, size_t tn)
{
	assert_true(fill + tn <= sizeof(k->b));
	memset(k->b, 'p', fill);
	if (tn > 0)
		memcpy(k->b + fill, tail, tn);
	k->n = fill + tn;
	return bytes_of(k->b, k->n);
}

#define NLONG 14

/* Short and long keys around one 448-byte prefix P = 'p' * 448. */
static void long_keys(struct lkey *k, struct bytes *out)
{
	uint8_t z[1024];
	memset(z, 'z', sizeof(z));
	size_t i = 0;
	out[i] = lkey(&k[i], 447, NULL, 0), i++;       /* short, prefix of P */
	out[i] = lkey(&k[i], KV_INLINE, NULL, 0), i++; /* P itself: short */
	out[i] = lkey(&k[i], KV_INLINE, "\0", 1), i++; /* P.0x00: long */
	out[i] = lkey(&k[i], KV_INLINE, "\0\0", 2), i++;
	out[i] = lkey(&k[i], KV_INLINE, "a", 1), i++;
	out[i] = lkey(&k[i], KV_INLINE, z, 1024 - KV_INLINE), i++; /* 1024 bytes */
	out[i] = lkey(&k[i], KV_INLINE, "b", 1), i++;
	out[i] = lkey(&k[i], KV_INLINE, "\xff", 1), i++;
	out[i] = lkey(&k[i], KV_INLINE, "\xff\xff", 2), i++;
	out[i] = lkey(&k[i], 1024, NULL, 0), i++; /* P . 'p' * 576 */
	out[i] = lkey(&k[i], 447, "q", 1), i++;   /* short, after P's bucket */
	out[i] = lkey(&k[i], 447, "qa", 2), i++;  /* another bucket */
	out[i] = lkey(&k[i], 100, "a", 1), i++;   /* short, before all */
	out[i] = lkey(&k[i], KV_INLINE, "a\0", 2), i++;
	assert_int_equal(i, NLONG);
}

static void test_fsm_long_keys_put_get_delete(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	static struct lkey k[NLONG];
	struct bytes keys[NLONG];
	char v[8];
	tfsm_open(t, NULL);
	long_keys(k, keys);
	for (size_t i = 0; i < NLONG; i++) {
		snprintf(v, sizeof(v), "v%zu", i);
		put_ok(t, keys[i], B(v));
	}
	for (size_t i = 0; i < NLONG; i++) {
		snprintf(v, sizeof(v), "v%zu", i);
		CHECK_GET(t, keys[i], 0, B(v), (int64_t)i + 1, (int64_t)i + 1, 1);
	}
	/* A long key 1 byte away from a stored one is another key. */
	struct lkey other;
	CHECK_MISSING(t, lkey(&other, KV_INLINE, "c", 1), 0);
	CHECK_MISSING(t, lkey(&other, 1023, NULL, 0), 0);

	/* Overwrite, delete and recreate a long key; its neighbours do not move. */
	put_ok(t, keys[4], B("again")); /* 15 */
	CHECK_GET(t, keys[4], 0, B("again"), 5, 15, 2);
	struct msg_op op = del_b(keys[4]);
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 16);
	assert_int_equal(r.ops[0].deleted, 1);
	reply_free(&r);
	CHECK_MISSING(t, keys[4], 0);
	CHECK_GET(t, keys[5], 0, B("v5"), 6, 6, 1);
	CHECK_GET(t, keys[13], 0, B("v13"), 14, 14, 1);
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.rev, 16);
	assert_int_equal(r.ops[0].deleted, 0);
	reply_free(&r);
	put_ok(t, keys[4], B("reborn")); /* 17 */
	CHECK_GET(t, keys[4], 0, B("reborn"), 17, 17, 1);
	CHECK_GET(t, keys[4], 15, B("again"), 5, 15, 2);
	CHECK_MISSING(t, keys[4], 16);

	/* A long key modified twice in one txn. */
	struct state s;
	struct msg_op twice[2] = {put_b(keys[5], B("1")), del_b(keys[5])};
	state_take(t, &s);
	run_ops(t, twice, 2, &r);
	CHECK_ERR(&r, BERTH_EDUPKEY, 17);
	CHECK_UNCHANGED(t, &s);
	fx_close(t);
}

static void test_fsm_long_keys_range_order(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	static struct lkey k[NLONG];
	struct bytes keys[NLONG], sorted[NLONG];
	struct msg_op op;
	struct lkey lo, hi;
	tfsm_open(t, NULL);
	long_keys(k, keys);
	/* Put in reverse order so that insertion order is not key order. */
	for (size_t i = NLONG; i-- > 0;)
		put_ok(t, keys[i], B("v"));
	memcpy(sorted, keys, sizeof(keys));
	qsort(sorted, NLONG, sizeof(sorted[0]), bytes_qsort_cmp);
	/* Spelled out (P = 'p' * 448): 0 'p'*100 "a", 1 'p'*447, 2 P, 3 P "\0", 4 P "\0\0",
	 * 5 P "a", 6 P "a\0", 7 P "b", 8 P 'p'*576, 9 P 'z'*576, 10 P "\xff", 11 P "\xff\xff",
	 * 12 'p'*447 "q", 13 'p'*447 "qa". */
	static const size_t expect[NLONG] = {12, 0, 1, 2, 3, 4, 13, 6, 9, 5, 7, 8, 10, 11};
	for (size_t i = 0; i < NLONG; i++)
		assert_true(bytes_cmp(sorted[i], keys[expect[i]]) == 0);

	CHECK_RANGE(t, all_keys(MSG_OP_RANGE), sorted, NLONG, NLONG, false);
	/* Through the log too. */
	op = prefix(MSG_OP_RANGE, B("p"));
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	check_keys_at(__FILE__, __LINE__, &r.ops[0], sorted, NLONG);
	reply_free(&r);
	/* The prefix P: P and its whole bucket. */
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, lkey(&lo, KV_INLINE, NULL, 0)), sorted + 2, 10, 10,
		    false);
	/* A long prefix. */
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, lkey(&lo, KV_INLINE, "a", 1)), sorted + 5, 2, 2, false);
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, lkey(&lo, KV_INLINE, "\xff", 1)), sorted + 10, 2, 2,
		    false);
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, lkey(&lo, KV_INLINE, "\0", 1)), sorted + 3, 2, 2,
		    false);
	/* Intervals with long bounds inside the bucket. */
	CHECK_RANGE(t,
		    span(MSG_OP_RANGE, lkey(&lo, KV_INLINE, "a", 1), lkey(&hi, KV_INLINE, "b", 1)),
		    sorted + 5, 2, 2, false);
	CHECK_RANGE(
		t,
		span(MSG_OP_RANGE, lkey(&lo, KV_INLINE, "\0\0", 2), lkey(&hi, KV_INLINE, "a\0", 2)),
		sorted + 4, 2, 2, false);
	CHECK_RANGE(t,
		    span(MSG_OP_RANGE, lkey(&lo, KV_INLINE, "\0\0", 2),
			 lkey(&hi, KV_INLINE, "a\0\0", 3)),
		    sorted + 4, 3, 3, false);
	CHECK_RANGE(t, span(MSG_OP_RANGE, lkey(&lo, KV_INLINE, "b", 1), LIT("\0")), sorted + 7, 7,
		    7, false);
	/* Short start, long end; long start, short end. */
	CHECK_RANGE(t, span(MSG_OP_RANGE, lkey(&lo, 447, NULL, 0), lkey(&hi, KV_INLINE, "a", 1)),
		    sorted + 1, 4, 4, false);
	CHECK_RANGE(t, span(MSG_OP_RANGE, lkey(&lo, KV_INLINE, "c", 1), lkey(&hi, 447, "q", 1)),
		    sorted + 8, 4, 4, false);
	CHECK_RANGE(t, span(MSG_OP_RANGE, lkey(&lo, KV_INLINE, "c", 1), lkey(&hi, 447, "qa", 2)),
		    sorted + 8, 5, 5, false);
	/* Limit inside the bucket. */
	op = prefix(MSG_OP_RANGE, lkey(&lo, KV_INLINE, NULL, 0));
	op.limit = 4;
	CHECK_RANGE(t, op, sorted + 2, 4, 10, true);
	/* Count only. */
	op.limit = 0;
	op.flags |= MSG_F_COUNT_ONLY;
	CHECK_RANGE(t, op, sorted, 0, 10, false);

	/* Delete a range inside the bucket, then read around it. */
	op = span(MSG_OP_DEL, lkey(&lo, KV_INLINE, "\0\0", 2), lkey(&hi, KV_INLINE, "b", 1));
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, NLONG + 1);
	assert_int_equal(r.ops[0].deleted, 3);
	reply_free(&r);
	{
		struct bytes left[NLONG - 3];
		memcpy(left, sorted, 4 * sizeof(left[0]));
		memcpy(left + 4, sorted + 7, 7 * sizeof(left[0]));
		CHECK_RANGE(t, all_keys(MSG_OP_RANGE), left, NLONG - 3, NLONG - 3, false);
	}
	op = all_keys(MSG_OP_RANGE);
	op.rev = NLONG;
	CHECK_RANGE(t, op, sorted, NLONG, NLONG, false);
	/* Delete the bucket by prefix. */
	op = prefix(MSG_OP_DEL, lkey(&lo, KV_INLINE, "", 0));
	run_ops(t, &op, 1, &r);
	assert_int_equal(r.ops[0].deleted, 7);
	reply_free(&r);
	struct bytes rest[4] = {sorted[0], sorted[1], sorted[12], sorted[13]};
	CHECK_RANGE(t, all_keys(MSG_OP_RANGE), rest, 4, 4, false);
	fx_close(t);
}

static void test_fsm_long_keys_past_revisions(void **state)
{
	struct tfsm *t = *state;
	struct lkey a, b, c, p;
	tfsm_open(t, NULL);
	struct bytes ka = lkey(&a, KV_INLINE, "a", 1), kb = lkey(&b, KV_INLINE, "b", 1);
	struct bytes kc = lkey(&c, 600, NULL, 0);
	struct bytes kp = lkey(&p, KV_INLINE, NULL, 0);
	put_ok(t, ka, B("a1")); /* 1 */
	put_ok(t, kb, B("b1")); /* 2 */
	put_ok(t, ka, B("a2")); /* 3 */
	t_del(t, "x");          /* missing: no revision */
	{
		struct msg_op op = del_b(kb);
		struct reply r;
		run_ops(t, &op, 1, &r); /* 4 */
		assert_int_equal(r.rev, 4);
		reply_free(&r);
	}
	put_ok(t, kc, B("c1")); /* 5 */
	put_ok(t, kb, B("b2")); /* 6 */
	put_ok(t, kp, B("p1")); /* 7 */

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
	struct msg_op op = prefix(MSG_OP_RANGE, kp);
	op.rev = 3;
	CHECK_RANGE(t, op, at3, 2, 2, false);
	op.rev = 5;
	CHECK_RANGE(t, op, at5, 2, 2, false);
	op.rev = 7;
	CHECK_RANGE(t, op, at7, 4, 4, false);
	op.rev = 0;
	CHECK_RANGE(t, op, at7, 4, 4, false);
	op = span(MSG_OP_RANGE, ka, LIT("\0"));
	op.rev = 4;
	CHECK_RANGE(t, op, at3, 1, 1, false);
	fx_close(t);
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
static void colliding_keys(struct lkey *k, struct bytes *out)
{
	for (size_t i = 0; i < NCOLL; i++) {
		uint8_t tail[600];
		size_t tn = 1 + (i * 37) % 500;
		memset(tail, (int)('a' + i % 7), tn);
		tail[0] = i == 1 ? 0xff : (uint8_t)(i * 53 % 256); /* distinct; 0x00 and 0xff too */
		out[i] = lkey(&k[i], KV_INLINE, tail, tn);
	}
}

static void check_collisions(struct tfsm *t, uint64_t hash_mask)
{
	struct reply r;
	static struct lkey k[NCOLL];
	struct bytes keys[NCOLL], sorted[NCOLL];
	uint64_t hashes[NCOLL + 1];
	uint32_t slots[NCOLL + 1];
	char v[16];
	tfsm_open(t, NULL);
	t->f.kv.hash_mask = hash_mask;
	colliding_keys(k, keys);
	memcpy(sorted, keys, sizeof(keys));
	qsort(sorted, NCOLL, sizeof(sorted[0]), bytes_qsort_cmp);
	for (size_t i = 1; i < NCOLL; i++)
		assert_true(bytes_cmp(sorted[i - 1], sorted[i]) < 0); /* all distinct */

	for (size_t i = 0; i < NCOLL; i++) {
		snprintf(v, sizeof(v), "v%zu", i);
		put_ok(t, keys[i], B(v));
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
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, B("p")), sorted, NCOLL, NCOLL, false);
	struct msg_op op = span(MSG_OP_RANGE, sorted[10], sorted[30]);
	CHECK_RANGE(t, op, sorted + 10, 20, 20, false);
	op.limit = 5;
	CHECK_RANGE(t, op, sorted + 10, 5, 20, true);

	/* Delete every third key (one revision each), overwrite the others once. */
	uint64_t rev = NCOLL;
	for (size_t i = 0; i < NCOLL; i += 3) {
		op = del_b(keys[i]);
		run_ops(t, &op, 1, &r);
		assert_int_equal(r.err, 0);
		assert_int_equal(r.ops[0].deleted, 1);
		assert_int_equal(r.rev, ++rev);
		reply_free(&r);
	}
	uint64_t rev_deleted = rev;
	for (size_t i = 1; i < NCOLL; i += 3) {
		put_ok(t, keys[i], B("again"));
		rev++;
	}
	struct bytes live[NCOLL];
	size_t nlive = 0;
	for (size_t i = 0; i < NCOLL; i++) {
		size_t orig = 0;
		while (bytes_cmp(keys[orig], sorted[i]) != 0)
			orig++;
		if (orig % 3 != 0)
			live[nlive++] = sorted[i];
		else
			CHECK_MISSING(t, keys[orig], 0);
	}
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, B("p")), live, nlive, nlive, false);
	/* The history at NCOLL still has them all. */
	op = prefix(MSG_OP_RANGE, B("p"));
	op.rev = NCOLL;
	CHECK_RANGE(t, op, sorted, NCOLL, NCOLL, false);

	/* Recreate the deleted ones: version 1, created now, the same slots. */
	for (size_t i = 0; i < NCOLL; i += 3) {
		put_ok(t, keys[i], B("new"));
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
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, B("p")), sorted, NCOLL, NCOLL, false);
	fx_close(t);
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
	struct state s;
	struct lkey a, b, c;
	uint64_t hashes[4];
	uint32_t slots[4];
	tfsm_open(t, NULL);
	t->f.kv.hash_mask = 0;
	struct bytes k1 = lkey(&a, KV_INLINE, "one", 3), k2 = lkey(&b, KV_INLINE, "two", 3);
	struct bytes k3 = lkey(&c, KV_INLINE, "three", 5);
	put_ok(t, k1, B("1")); /* 1 */
	t_del(t, "nothing");
	{
		struct msg_op op = del_b(k1);
		run_ops(t, &op, 1, &r); /* 2 */
		assert_int_equal(r.ops[0].deleted, 1);
		reply_free(&r);
	}
	put_ok(t, k2, B("2")); /* 3 */
	assert_int_equal(bucket_entries(t, hashes, slots, 4), 1);
	assert_int_equal(slots[0], 1);

	CHECK_GET(t, k1, 1, B("1"), 1, 1, 1);
	CHECK_MISSING(t, k2, 1);
	CHECK_MISSING(t, k1, 3);
	CHECK_GET(t, k2, 3, B("2"), 3, 3, 1);
	struct msg_op op = prefix(MSG_OP_RANGE, B("p"));
	op.rev = 1;
	CHECK_RANGE(t, op, &k1, 1, 1, false);
	op.rev = 2;
	CHECK_RANGE(t, op, &k1, 0, 0, false);
	op.rev = 3;
	CHECK_RANGE(t, op, &k2, 1, 1, false);

	/* k1 comes back in its old slot, as a new life. */
	put_ok(t, k1, B("1b")); /* 4 */
	assert_int_equal(bucket_entries(t, hashes, slots, 4), 2);
	assert_int_equal(slots[0], 0);
	assert_int_equal(slots[1], 1);
	CHECK_GET(t, k1, 0, B("1b"), 4, 4, 1);
	CHECK_GET(t, k1, 1, B("1"), 1, 1, 1);
	CHECK_GET(t, k2, 0, B("2"), 3, 3, 1);
	/* k1 < k2 bytewise ("one" < "two") although k2 was stored first. */
	struct bytes both[2] = {k1, k2};
	CHECK_RANGE(t, prefix(MSG_OP_RANGE, B("p")), both, 2, 2, false);

	/* A third colliding key, created and changed in one txn with the others. */
	struct msg_op ops[3] = {put_b(k3, B("3")), put_b(k2, B("2b")), del_b(k1)};
	run_ops(t, ops, 3, &r);
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
	struct msg_op dup[2] = {put_b(k3, B("x")), put_b(k3, B("y"))};
	state_take(t, &s);
	run_ops(t, dup, 2, &r);
	CHECK_ERR(&r, BERTH_EDUPKEY, 5);
	CHECK_UNCHANGED(t, &s);
	fx_close(t);
}

/* ==== 11. fsm_read ==== */

static void test_fsm_read_refuses_writes(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct state s;
	tfsm_open(t, NULL);
	put_ok(t, B("a"), B("1"));
	put_ok(t, B("b"), B("1"));
	put_ok(t, B("a"), B("2"));
	struct msg_op writes[] = {op_put("c", "1"), op_del("a"), op_add("n", 1),
				  prefix(MSG_OP_DEL, B(""))};
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		state_take(t, &s);
		read_ops(t, &writes[i], 1, &r);
		CHECK_ERR(&r, BERTH_EBADREQ, 3);
		/* With a read before it, and only in the failure branch. */
		struct msg_op ops[2] = {op_get("a"), writes[i]};
		read_ops(t, ops, 2, &r);
		CHECK_ERR(&r, BERTH_EBADREQ, 3);
		struct msg_compare c = cmp_num(MSG_CMP_VERSION, "a", MSG_EQ, 2);
		read_txn(t, &c, 1, ops, 1, &writes[i], 1, &r);
		CHECK_ERR(&r, BERTH_EBADREQ, 3);
		CHECK_UNCHANGED(t, &s);
	}
	CHECK_GET(t, B("a"), 0, B("2"), 1, 3, 2);
	/* A compare-only txn answers with the committed revision. */
	struct msg_compare c = cmp_num(MSG_CMP_MOD, "a", MSG_EQ, 3);
	read_txn(t, &c, 1, NULL, 0, NULL, 0, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	assert_int_equal(r.rev, 3);
	assert_int_equal(r.nops, 0);
	reply_free(&r);
	fx_close(t);
}

static void encode_put(struct mp_buf *b, const char *k, const char *v)
{
	struct msg_op op = op_put(k, v);
	struct msg_cmd c = cmd_txn(NULL, 0, &op, 1, NULL, 0);
	mp_buf_init(b);
	msg_cmd_encode(b, &c);
	assert_int_equal(mp_buf_error(b), 0);
}

static void test_fsm_read_sees_last_commit(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct mp_buf cmd, out;
	tfsm_open(t, NULL);
	put_ok(t, B("a"), B("1"));
	put_ok(t, B("a"), B("2"));

	/* A batch in progress: reads answer from the last commit, at its revision. */
	mp_buf_init(&out);
	assert_int_equal(fsm_batch_begin(&t->f), 0);
	encode_put(&cmd, "a", "3");
	assert_int_equal(fsm_apply(&t->f, ++t->index, cmd.data, cmd.len, &out), 0);
	mp_buf_close(&cmd);
	encode_put(&cmd, "b", "1");
	assert_int_equal(fsm_apply(&t->f, ++t->index, cmd.data, cmd.len, &out), 0);
	mp_buf_close(&cmd);
	assert_true(out.len > 0);
	assert_int_equal(fsm_revision(&t->f), 2);
	assert_int_equal(fsm_applied(&t->f), 2);
	CHECK_GET(t, B("a"), 0, B("2"), 1, 2, 2);
	CHECK_MISSING(t, B("b"), 0);
	struct msg_op op = get_at(B("a"), 3);
	read_ops(t, &op, 1, &r);
	CHECK_ERR(&r, BERTH_EFUTUREREV, 2);
	assert_int_equal(fsm_batch_commit(&t->f), 0);

	assert_int_equal(fsm_revision(&t->f), 4);
	assert_int_equal(fsm_applied(&t->f), 4);
	CHECK_GET(t, B("a"), 0, B("3"), 1, 3, 3);
	CHECK_GET(t, B("b"), 0, B("1"), 4, 4, 1);
	CHECK_GET(t, B("a"), 2, B("2"), 1, 2, 2);

	/* An aborted batch leaves nothing, and its indexes can be applied again. */
	assert_int_equal(fsm_batch_begin(&t->f), 0);
	encode_put(&cmd, "c", "1");
	assert_int_equal(fsm_apply(&t->f, t->index + 1, cmd.data, cmd.len, &out), 0);
	fsm_batch_abort(&t->f);
	assert_int_equal(fsm_revision(&t->f), 4);
	assert_int_equal(fsm_applied(&t->f), 4);
	CHECK_MISSING(t, B("c"), 0);
	mp_buf_reset(&out);
	assert_int_equal(fsm_apply_one(&t->f, ++t->index, cmd.data, cmd.len, &out), 0);
	assert_true(out.len > 0);
	mp_buf_close(&cmd);
	assert_int_equal(reply_decode(out.data, out.len, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 5);
	reply_free(&r);
	CHECK_GET(t, B("c"), 0, B("1"), 5, 5, 1);
	mp_buf_close(&out);
	fx_close(t);
}

/* ==== 12. persistence ==== */

static void test_fsm_reopen_keeps_state(void **state)
{
	struct tfsm *t = *state;
	struct fsm_config cfg;
	struct state s;
	struct lkey lk;
	uint8_t b[9];
	tfsm_open(t, NULL);
	struct bytes klong = lkey(&lk, 700, NULL, 0);
	put_ok(t, B("a"), B("1"));    /* 1 */
	put_ok(t, B("b"), enc(7, b)); /* 2 */
	put_ok(t, B("a"), B("2"));    /* 3 */
	t_del(t, "b");                /* 4 */
	put_ok(t, klong, B("long"));  /* 5 */
	t_del(t, "missing");          /* applied, no revision */
	assert_int_equal(fsm_revision(&t->f), 5);
	assert_int_equal(fsm_applied(&t->f), 6);
	state_take(t, &s);

	fsm_close(&t->f);
	tfsm_like_config(&cfg);
	assert_int_equal(fsm_open(&t->f, t->dir, &cfg), 0);
	assert_int_equal(fsm_revision(&t->f), 5);
	assert_int_equal(fsm_applied(&t->f), 6);
	assert_int_equal(fsm_compacted(&t->f), 0);
	CHECK_UNCHANGED(t, &s);
	CHECK_GET(t, B("a"), 0, B("2"), 1, 3, 2);
	CHECK_MISSING(t, B("b"), 0);
	CHECK_GET(t, B("b"), 3, enc(7, b), 2, 2, 1);
	CHECK_GET(t, klong, 0, B("long"), 5, 5, 1);

	/* Applying goes on from there. */
	put_ok(t, B("c"), B("1"));
	CHECK_GET(t, B("c"), 0, B("1"), 6, 6, 1);
	assert_int_equal(fsm_applied(&t->f), 7);

	/* A second open of a directory in use is refused. */
	struct fsm f2;
	assert_int_equal(fsm_open(&f2, t->dir, &cfg), BERTH_EBUSY);
	assert_non_null(strstr(f2.errmsg, "in use"));
	fx_close(t);
}

static void test_fsm_replayed_entry_skipped(void **state)
{
	struct tfsm *t = *state;
	struct fsm_config cfg;
	struct state s;
	struct mp_buf cmd, out;
	tfsm_open(t, NULL);
	put_ok(t, B("a"), B("1"));
	put_ok(t, B("a"), B("2"));
	put_ok(t, B("b"), B("1"));
	assert_int_equal(fsm_applied(&t->f), 3);

	mp_buf_init(&out);
	encode_put(&cmd, "a", "replayed");
	state_take(t, &s);
	for (uint64_t idx = 0; idx <= 3; idx++) {
		assert_int_equal(fsm_apply_one(&t->f, idx, cmd.data, cmd.len, &out), 0);
		assert_int_equal(out.len, 0);
		assert_int_equal(fsm_applied(&t->f), 3);
	}
	CHECK_UNCHANGED(t, &s);
	CHECK_GET(t, B("a"), 0, B("2"), 1, 2, 2);

	/* The same after a restart. */
	fsm_close(&t->f);
	tfsm_like_config(&cfg);
	assert_int_equal(fsm_open(&t->f, t->dir, &cfg), 0);
	state_take(t, &s);
	assert_int_equal(fsm_apply_one(&t->f, 3, cmd.data, cmd.len, &out), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(fsm_apply_one(&t->f, 2, cmd.data, cmd.len, &out), 0);
	assert_int_equal(out.len, 0);
	CHECK_UNCHANGED(t, &s);
	assert_int_equal(fsm_applied(&t->f), 3);

	/* In one batch: old entries skipped, the new one applied once. */
	assert_int_equal(fsm_batch_begin(&t->f), 0);
	assert_int_equal(fsm_apply(&t->f, 2, cmd.data, cmd.len, &out), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(fsm_apply(&t->f, 4, cmd.data, cmd.len, &out), 0);
	size_t first = out.len;
	assert_true(first > 0);
	assert_int_equal(fsm_apply(&t->f, 4, cmd.data, cmd.len, &out), 0);
	assert_int_equal(out.len, first);
	assert_int_equal(fsm_batch_commit(&t->f), 0);
	t->index = 4;
	assert_int_equal(fsm_applied(&t->f), 4);
	assert_int_equal(fsm_revision(&t->f), 4);
	CHECK_GET(t, B("a"), 0, B("replayed"), 1, 4, 3);
	mp_buf_close(&cmd);
	mp_buf_close(&out);
	fx_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fsm_put_get_versions, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_delete_recreate, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_compare_numeric_existing, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_compare_missing_key, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_compare_value, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_compare_several, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_compare_int_on_non_integer, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_txn_branches_run_their_ops, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_add_integers, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_add_overflow, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_add_non_integer_rejects_txn, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_txn_type_error_applies_nothing, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_txn_dupkey, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_txn_one_revision, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_txn_write_then_failing_read, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_range_all_keys_in_order, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_range_prefix, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_range_empty_prefix, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_delete_empty_prefix, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_range_interval, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_range_limit_keys_count_only, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_range_result_bytes_limit, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_delete_range, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_past_revisions, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_limits_default_key_value, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_limits_default_ops, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_limits_small_config, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_bad_requests, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_config_validate, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_long_keys_put_get_delete, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_long_keys_range_order, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_long_keys_past_revisions, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_long_keys_hash_collisions, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_long_keys_hash_mask_3, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_long_keys_identity_across_history,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_read_refuses_writes, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_read_sees_last_commit, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_reopen_keeps_state, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fsm_replayed_entry_skipped, fx_setup,
						fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
