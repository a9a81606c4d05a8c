/* tests/unit/test_lease.c: leases in the state machine: grant, attached keys, revoke,
 * expire, listing and restart (store/lease.c, store/mvcc.c, store/fsm.c), with exact ids,
 * revisions and error codes. */
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
#include "tests/unit/support.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Assertions that report the caller's line (the helpers below are called many times). */
#define EQ_AT(a, b, file, line)                                                                    \
	_assert_int_equal(cast_to_largest_integral_type(a), cast_to_largest_integral_type(b),      \
			  file, line)

/* Applies a lease grant and checks the reply's shape: on success id and ttl come back
 * and the revision does not move; on failure only {err, rev}. Returns the reply's err,
 * and the granted id in *id (0 on failure). */
static int grant_at(struct tfsm *t, uint64_t want_id, int64_t ttl_s, uint64_t *id, const char *file,
		    int line)
{
	struct msg_cmd c = {.type = MSG_CMD_LEASE_GRANT, .lease = want_id, .ttl = ttl_s};
	struct reply r;
	uint64_t rev = fsm_revision(&t->f);
	EQ_AT(tfsm_apply(t, &c, &r), 0, file, line);
	EQ_AT(r.rev, rev, file, line);
	EQ_AT(fsm_revision(&t->f), rev, file, line);
	EQ_AT(r.nops, 0, file, line);
	if (r.err == 0) {
		EQ_AT(r.ttl, ttl_s, file, line);
		if (want_id != 0)
			EQ_AT(r.id, want_id, file, line);
	} else {
		EQ_AT(r.id, 0, file, line);
	}
	*id = r.id;
	int err = r.err;
	reply_free(&r);
	return err;
}
#define grant(t, want_id, ttl_s, id) grant_at(t, want_id, ttl_s, id, __FILE__, __LINE__)

/* Grants and expects success; returns the id. */
static uint64_t grant_ok_at(struct tfsm *t, uint64_t want_id, int64_t ttl_s, const char *file,
			    int line)
{
	uint64_t id;
	EQ_AT(grant_at(t, want_id, ttl_s, &id, file, line), 0, file, line);
	return id;
}
#define grant_ok(t, want_id, ttl_s) grant_ok_at(t, want_id, ttl_s, __FILE__, __LINE__)

/* Puts k = v attached to `lease` (0: none) through a one-op txn. Returns the reply's err;
 * checks that the revision moved by one on success and not at all on failure. */
static int put_at(struct tfsm *t, const char *k, const char *v, uint64_t lease, const char *file,
		  int line)
{
	struct msg_op op = op_put(k, v);
	op.lease = lease;
	struct msg_cmd c = cmd_txn(NULL, 0, &op, 1, NULL, 0);
	struct reply r;
	uint64_t rev = fsm_revision(&t->f);
	EQ_AT(tfsm_apply(t, &c, &r), 0, file, line);
	int err = r.err;
	EQ_AT(r.rev, err ? rev : rev + 1, file, line);
	EQ_AT(fsm_revision(&t->f), err ? rev : rev + 1, file, line);
	reply_free(&r);
	return err;
}
#define put(t, k, v, lease) put_at(t, k, v, lease, __FILE__, __LINE__)
#define put_ok(t, k, v, lease) assert_int_equal(put(t, k, v, lease), 0)

/* The same for add(k, delta) naming `lease` (0: keep the key's). */
static int add_at(struct tfsm *t, const char *k, int64_t delta, uint64_t lease, const char *file,
		  int line)
{
	struct msg_op op = op_add(k, delta);
	op.lease = lease;
	struct msg_cmd c = cmd_txn(NULL, 0, &op, 1, NULL, 0);
	struct reply r;
	uint64_t rev = fsm_revision(&t->f);
	EQ_AT(tfsm_apply(t, &c, &r), 0, file, line);
	int err = r.err;
	EQ_AT(r.rev, err ? rev : rev + 1, file, line);
	reply_free(&r);
	return err;
}
#define add(t, k, delta, lease) add_at(t, k, delta, lease, __FILE__, __LINE__)

/* A key as read at revision rev (0: current). */
struct got {
	bool found;
	uint64_t lease;
	int64_t create_rev, mod_rev, version;
	char value[64];
};

static struct got get_at(struct tfsm *t, const char *k, uint64_t rev, const char *file, int line)
{
	struct msg_op op = op_get(k);
	op.rev = rev;
	struct msg_txn txn = {0, 1, 0, NULL, &op, NULL};
	struct reply r;
	struct got g = {0};
	EQ_AT(tfsm_read(t, &txn, &r), 0, file, line);
	EQ_AT(r.err, 0, file, line);
	EQ_AT(r.nops, 1, file, line);
	EQ_AT(r.ops[0].count, r.ops[0].nkvs, file, line);
	if (r.ops[0].nkvs == 1) {
		const struct reply_kv *kv = &r.ops[0].kvs[0];
		g.found = true;
		g.lease = kv->lease;
		g.create_rev = kv->create_rev;
		g.mod_rev = kv->mod_rev;
		g.version = kv->version;
		EQ_AT(kv->value.n < sizeof(g.value), 1, file, line);
		memcpy(g.value, kv->value.p, kv->value.n);
	} else {
		EQ_AT(r.ops[0].nkvs, 0, file, line);
	}
	reply_free(&r);
	return g;
}
#define get(t, k, rev) get_at(t, k, rev, __FILE__, __LINE__)

/* Asserts that k exists at rev (0: current) attached to lease, with value v. */
#define assert_key(t, k, rev, v, lease_id)                                                         \
	do {                                                                                       \
		struct got g_ = get(t, k, rev);                                                    \
		assert_true(g_.found);                                                             \
		assert_string_equal(g_.value, v);                                                  \
		assert_int_equal(g_.lease, lease_id);                                              \
	} while (0)
#define assert_no_key(t, k, rev) assert_false(get(t, k, rev).found)

/* Revokes a lease; returns the reply's err, the reply's revision in *rev. */
static int revoke_at(struct tfsm *t, uint64_t id, uint64_t *rev, const char *file, int line)
{
	struct msg_cmd c = {.type = MSG_CMD_LEASE_REVOKE, .lease = id};
	struct reply r;
	EQ_AT(tfsm_apply(t, &c, &r), 0, file, line);
	EQ_AT(r.rev, fsm_revision(&t->f), file, line);
	EQ_AT(r.id, r.err ? 0 : id, file, line);
	*rev = r.rev;
	int err = r.err;
	reply_free(&r);
	return err;
}
#define revoke(t, id, rev) revoke_at(t, id, rev, __FILE__, __LINE__)

/* The revision log at one revision: the hist keys of its changes, in sub order. */
struct revs_at {
	size_t n;
	uint32_t sub[16];
	uint8_t hk[16][KV_HK_MAX];
	size_t hk_len[16];
	size_t total; /* entries in the whole table */
};

static struct revs_at revs_walk(struct tfsm *t, uint64_t rev)
{
	struct revs_at ra = {0};
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	assert_int_equal(mdb_txn_begin(t->f.kv.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_cursor_open(txn, t->f.kv.revs, &cur), 0);
	int rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		assert_int_equal(k.mv_size, 12);
		ra.total++;
		const uint8_t *p = k.mv_data;
		if (kv_be64_get(p) != rev)
			continue;
		assert_true(ra.n < 16);
		assert_true(v.mv_size <= KV_HK_MAX);
		ra.sub[ra.n] =
			(uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
		memcpy(ra.hk[ra.n], v.mv_data, v.mv_size);
		ra.hk_len[ra.n] = v.mv_size;
		ra.n++;
	}
	assert_int_equal(rc, MDB_NOTFOUND);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return ra;
}

/* Entry i of ra is the change of short key k at rev, with sub number i. */
static void revs_entry_at(const struct revs_at *ra, size_t i, const char *k, uint64_t rev,
			  const char *file, int line)
{
	uint8_t want[64];
	size_t n = strlen(k);
	memcpy(want, k, n);
	kv_be64_put(want + n, rev);
	EQ_AT(ra->sub[i], i, file, line);
	EQ_AT(ra->hk_len[i], n + 8, file, line);
	_assert_memory_equal(ra->hk[i], want, n + 8, file, line);
}
#define revs_entry(ra, i, k, rev) revs_entry_at(ra, i, k, rev, __FILE__, __LINE__)

/* ---- grant ---- */

static void test_lease_grant_auto_ids(void **state)
{
	(void)state;
	struct tfsm t;
	tfsm_open(&t, NULL);
	assert_int_equal(grant_ok(&t, 0, 10), 1);
	assert_int_equal(grant_ok(&t, 0, 20), 2);
	assert_int_equal(grant_ok(&t, 0, 30), 3);
	assert_int_equal(t.f.m.nleases, 3);
	assert_int_equal(t.f.m.next_lease, 3);
	assert_int_equal(fsm_revision(&t.f), 0);
	tfsm_close(&t);
}

static void test_lease_grant_explicit_id(void **state)
{
	(void)state;
	struct tfsm t;
	uint64_t id = 99;
	tfsm_open(&t, NULL);
	assert_int_equal(grant_ok(&t, 1000, 5), 1000);
	assert_int_equal(grant_ok(&t, UINT64_MAX, 5), UINT64_MAX);
	/* An id in use, with another ttl: refused, and the first grant stands. */
	assert_int_equal(grant(&t, 1000, 7, &id), BERTH_EEXISTS);
	assert_int_equal(id, 0);
	assert_int_equal(t.f.m.nleases, 2);
	/* Explicit ids do not move the automatic counter. */
	assert_int_equal(t.f.m.next_lease, 0);
	assert_int_equal(grant_ok(&t, 0, 5), 1);
	/* An automatic id is in use as well. */
	assert_int_equal(grant(&t, 1, 5, &id), BERTH_EEXISTS);
	assert_int_equal(t.f.m.nleases, 3);
	tfsm_close(&t);
}

static void test_lease_grant_auto_skips_used(void **state)
{
	(void)state;
	struct tfsm t;
	tfsm_open(&t, NULL);
	assert_int_equal(grant_ok(&t, 2, 5), 2);
	assert_int_equal(grant_ok(&t, 3, 5), 3);
	assert_int_equal(grant_ok(&t, 5, 5), 5);
	assert_int_equal(grant_ok(&t, 0, 5), 1);
	assert_int_equal(grant_ok(&t, 0, 5), 4);
	assert_int_equal(grant_ok(&t, 0, 5), 6);
	assert_int_equal(grant_ok(&t, 0, 5), 7);
	assert_int_equal(t.f.m.next_lease, 7);
	assert_int_equal(t.f.m.nleases, 7);
	tfsm_close(&t);
}

static void test_lease_grant_bad_ttl(void **state)
{
	(void)state;
	struct tfsm t;
	uint64_t id;
	tfsm_open(&t, NULL);
	static const int64_t bad[] = {0, -1, INT64_MIN, FSM_LEASE_MAX_TTL_S + 1, INT64_MAX};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(grant(&t, 0, bad[i], &id), BERTH_EBADREQ);
		assert_int_equal(grant(&t, 77, bad[i], &id), BERTH_EBADREQ);
	}
	assert_int_equal(t.f.m.nleases, 0);
	/* A refused automatic grant does not use up an id. */
	assert_int_equal(t.f.m.next_lease, 0);
	/* The bounds themselves are valid. */
	assert_int_equal(grant_ok(&t, 0, 1), 1);
	assert_int_equal(grant_ok(&t, 0, FSM_LEASE_MAX_TTL_S), 2);
	assert_int_equal(grant_ok(&t, 77, 1), 77);
	assert_int_equal(t.f.m.nleases, 3);
	tfsm_close(&t);
}

static void test_lease_grant_max_leases(void **state)
{
	(void)state;
	struct tfsm t;
	struct fsm_config cfg;
	uint64_t id;
	tfsm_config(&cfg);
	cfg.max_leases = 3;
	tfsm_open(&t, &cfg);
	assert_int_equal(grant_ok(&t, 0, 5), 1);
	assert_int_equal(grant_ok(&t, 10, 5), 10);
	assert_int_equal(grant_ok(&t, 0, 5), 2);
	assert_int_equal(t.f.m.nleases, 3);
	/* One past the limit, automatic or explicit. */
	assert_int_equal(grant(&t, 0, 5, &id), BERTH_ETOOLARGE);
	assert_int_equal(grant(&t, 11, 5, &id), BERTH_ETOOLARGE);
	assert_int_equal(t.f.m.nleases, 3);
	assert_int_equal(t.f.m.next_lease, 2);
	tfsm_close(&t);
}

/* ---- keys attached to leases ---- */

static void test_lease_put_missing_lease(void **state)
{
	(void)state;
	struct tfsm t;
	tfsm_open(&t, NULL);
	uint64_t l = grant_ok(&t, 0, 10);
	put_ok(&t, "a", "1", l);
	assert_int_equal(fsm_revision(&t.f), 1);
	assert_int_equal(put(&t, "b", "2", 42), BERTH_ENOTFOUND);
	assert_int_equal(put(&t, "a", "3", 42), BERTH_ENOTFOUND);
	assert_int_equal(add(&t, "c", 1, 42), BERTH_ENOTFOUND);
	assert_int_equal(fsm_revision(&t.f), 1);
	assert_no_key(&t, "b", 0);
	assert_no_key(&t, "c", 0);
	assert_key(&t, "a", 0, "1", l);
	/* In a transaction of several operations, the one that names a missing lease takes
	 * the writes before it down too. */
	struct msg_op ops[2] = {op_put("d", "4"), op_put("e", "5")};
	ops[1].lease = 42;
	struct msg_cmd c = cmd_txn(NULL, 0, ops, 2, NULL, 0);
	struct reply r;
	assert_int_equal(tfsm_apply(&t, &c, &r), 0);
	assert_int_equal(r.err, BERTH_ENOTFOUND);
	assert_int_equal(r.rev, 1);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t.f), 1);
	assert_no_key(&t, "d", 0);
	assert_no_key(&t, "e", 0);
	/* Nothing reached the revision log after revision 1. */
	struct revs_at ra = revs_walk(&t, 2);
	assert_int_equal(ra.n, 0);
	assert_int_equal(ra.total, 1);
	tfsm_close(&t);
}

static void test_lease_revoke_deletes_keys_at_one_rev(void **state)
{
	(void)state;
	struct tfsm t;
	uint64_t rev;
	tfsm_open(&t, NULL);
	uint64_t l = grant_ok(&t, 0, 10), other = grant_ok(&t, 0, 10);
	put_ok(&t, "b", "vb", l);     /* rev 1 */
	put_ok(&t, "free", "vf", 0);  /* rev 2 */
	put_ok(&t, "a", "va", l);     /* rev 3 */
	put_ok(&t, "o", "vo", other); /* rev 4 */
	put_ok(&t, "c", "vc", l);     /* rev 5 */
	assert_int_equal(revoke(&t, l, &rev), 0);
	assert_int_equal(rev, 6);
	assert_int_equal(fsm_revision(&t.f), 6);
	assert_int_equal(t.f.m.nleases, 1);
	/* At the previous revision the keys are there, attached; now they are gone. */
	assert_key(&t, "a", 5, "va", l);
	assert_key(&t, "b", 5, "vb", l);
	assert_key(&t, "c", 5, "vc", l);
	assert_no_key(&t, "a", 0);
	assert_no_key(&t, "b", 0);
	assert_no_key(&t, "c", 0);
	assert_no_key(&t, "a", 6);
	/* The others stay. */
	assert_key(&t, "free", 0, "vf", 0);
	assert_key(&t, "o", 0, "vo", other);
	struct got g = get(&t, "o", 0);
	assert_int_equal(g.mod_rev, 4);
	assert_int_equal(g.version, 1);
	/* One entry per deleted key at revision 6, in key order, subs 0, 1, 2. */
	struct revs_at ra = revs_walk(&t, 6);
	assert_int_equal(ra.n, 3);
	revs_entry(&ra, 0, "a", 6);
	revs_entry(&ra, 1, "b", 6);
	revs_entry(&ra, 2, "c", 6);
	assert_int_equal(ra.total, 8);
	/* Revoked once is gone. */
	assert_int_equal(revoke(&t, l, &rev), BERTH_ENOTFOUND);
	assert_int_equal(rev, 6);
	/* The lease cannot take keys any more. */
	assert_int_equal(put(&t, "a", "again", l), BERTH_ENOTFOUND);
	tfsm_close(&t);
}

static void test_lease_revoke_long_keys(void **state)
{
	(void)state;
	struct tfsm t;
	uint64_t rev;
	char k1[KV_INLINE + 21], k2[KV_INLINE + 21];
	/* Two keys longer than KV_INLINE sharing their first KV_INLINE bytes: one bucket. */
	memset(k1, 'k', sizeof(k1) - 1);
	k1[sizeof(k1) - 1] = 0;
	memcpy(k2, k1, sizeof(k2));
	k2[sizeof(k2) - 2] = 'z';
	tfsm_open(&t, NULL);
	uint64_t l = grant_ok(&t, 0, 10);
	put_ok(&t, k1, "v1", l);
	put_ok(&t, k2, "v2", l);
	put_ok(&t, "short", "v3", l);
	assert_int_equal(revoke(&t, l, &rev), 0);
	assert_int_equal(rev, 4);
	assert_no_key(&t, k1, 0);
	assert_no_key(&t, k2, 0);
	assert_no_key(&t, "short", 0);
	assert_key(&t, k1, 3, "v1", l);
	assert_key(&t, k2, 3, "v2", l);
	/* Each change's hist key ends with the revision; the long keys' are bucket keys. */
	struct revs_at ra = revs_walk(&t, 4);
	assert_int_equal(ra.n, 3);
	size_t long_ones = 0;
	for (size_t i = 0; i < ra.n; i++) {
		assert_int_equal(ra.sub[i], i);
		assert_int_equal(kv_be64_get(ra.hk[i] + ra.hk_len[i] - 8), 4);
		long_ones += ra.hk_len[i] == KV_HK_MAX;
	}
	assert_int_equal(long_ones, 2);
	tfsm_close(&t);
}

static void test_lease_reput_without_lease_detaches(void **state)
{
	(void)state;
	struct tfsm t;
	uint64_t rev;
	tfsm_open(&t, NULL);
	uint64_t l = grant_ok(&t, 0, 10);
	put_ok(&t, "a", "1", l);
	put_ok(&t, "b", "2", l);
	put_ok(&t, "a", "3", 0); /* rev 3: detached */
	assert_key(&t, "a", 0, "3", 0);
	assert_key(&t, "a", 2, "1", l);
	assert_int_equal(revoke(&t, l, &rev), 0);
	assert_int_equal(rev, 4);
	assert_key(&t, "a", 0, "3", 0);
	assert_no_key(&t, "b", 0);
	struct revs_at ra = revs_walk(&t, 4);
	assert_int_equal(ra.n, 1);
	revs_entry(&ra, 0, "b", 4);
	tfsm_close(&t);
}

static void test_lease_move_to_other_lease(void **state)
{
	(void)state;
	struct tfsm t;
	uint64_t rev;
	tfsm_open(&t, NULL);
	uint64_t l1 = grant_ok(&t, 0, 10), l2 = grant_ok(&t, 0, 10);
	put_ok(&t, "a", "1", l1);
	put_ok(&t, "b", "2", l1);
	put_ok(&t, "a", "3", l2); /* rev 3: moved */
	assert_key(&t, "a", 0, "3", l2);
	/* The old lease lets it go. */
	assert_int_equal(revoke(&t, l1, &rev), 0);
	assert_int_equal(rev, 4);
	assert_no_key(&t, "b", 0);
	assert_key(&t, "a", 0, "3", l2);
	assert_int_equal(revs_walk(&t, 4).n, 1);
	/* The new one takes it. */
	assert_int_equal(revoke(&t, l2, &rev), 0);
	assert_int_equal(rev, 5);
	assert_no_key(&t, "a", 0);
	struct revs_at ra = revs_walk(&t, 5);
	assert_int_equal(ra.n, 1);
	revs_entry(&ra, 0, "a", 5);
	tfsm_close(&t);
}

static void test_lease_add_keeps_lease(void **state)
{
	(void)state;
	struct tfsm t;
	uint64_t rev;
	tfsm_open(&t, NULL);
	uint64_t l1 = grant_ok(&t, 0, 10), l2 = grant_ok(&t, 0, 10);
	assert_int_equal(add(&t, "n", 5, l1), 0);   /* rev 1: created on l1 */
	assert_int_equal(add(&t, "n", 2, 0), 0);    /* rev 2: stays on l1 */
	assert_int_equal(add(&t, "m", 1, l1), 0);   /* rev 3 */
	assert_int_equal(add(&t, "m", 1, l2), 0);   /* rev 4: moved to l2 */
	assert_int_equal(add(&t, "m", 1, 0), 0);    /* rev 5: stays on l2 */
	assert_int_equal(add(&t, "free", 1, 0), 0); /* rev 6: no lease */
	struct got n = get(&t, "n", 0), m = get(&t, "m", 0);
	assert_int_equal(n.lease, l1);
	assert_int_equal(n.version, 2);
	assert_int_equal(m.lease, l2);
	assert_int_equal(m.version, 3);
	assert_int_equal(get(&t, "free", 0).lease, 0);
	assert_int_equal(revoke(&t, l1, &rev), 0);
	assert_int_equal(rev, 7);
	assert_no_key(&t, "n", 0);
	assert_true(get(&t, "m", 0).found);
	assert_true(get(&t, "free", 0).found);
	assert_int_equal(revs_walk(&t, 7).n, 1);
	assert_int_equal(revoke(&t, l2, &rev), 0);
	assert_int_equal(rev, 8);
	assert_no_key(&t, "m", 0);
	assert_true(get(&t, "free", 0).found);
	tfsm_close(&t);
}

static void test_lease_deleted_key_leaves_lease(void **state)
{
	(void)state;
	struct tfsm t;
	uint64_t rev;
	tfsm_open(&t, NULL);
	uint64_t l = grant_ok(&t, 0, 10);
	put_ok(&t, "a", "1", l);
	t_del(&t, "a"); /* rev 2 */
	/* A key deleted and re-created without a lease is not the lease's any more. */
	put_ok(&t, "a", "2", 0); /* rev 3 */
	assert_int_equal(revoke(&t, l, &rev), 0);
	assert_int_equal(rev, 3);
	assert_int_equal(fsm_revision(&t.f), 3);
	assert_key(&t, "a", 0, "2", 0);
	tfsm_close(&t);
}

/* ---- revoke ---- */

static void test_lease_revoke_unknown(void **state)
{
	(void)state;
	struct tfsm t;
	uint64_t rev;
	tfsm_open(&t, NULL);
	put_ok(&t, "a", "1", 0);
	assert_int_equal(revoke(&t, 1, &rev), BERTH_ENOTFOUND);
	assert_int_equal(rev, 1);
	assert_int_equal(revoke(&t, 0, &rev), BERTH_ENOTFOUND);
	uint64_t l = grant_ok(&t, 0, 10);
	assert_int_equal(revoke(&t, l + 1, &rev), BERTH_ENOTFOUND);
	assert_int_equal(t.f.m.nleases, 1);
	assert_int_equal(fsm_revision(&t.f), 1);
	tfsm_close(&t);
}

static void test_lease_revoke_without_keys(void **state)
{
	(void)state;
	struct tfsm t;
	uint64_t rev;
	tfsm_open(&t, NULL);
	put_ok(&t, "a", "1", 0);
	uint64_t l = grant_ok(&t, 0, 10);
	uint64_t applied = fsm_applied(&t.f);
	assert_int_equal(revoke(&t, l, &rev), 0);
	assert_int_equal(rev, 1);
	assert_int_equal(fsm_revision(&t.f), 1);
	assert_int_equal(fsm_applied(&t.f), applied + 1);
	assert_int_equal(t.f.m.nleases, 0);
	assert_int_equal(revs_walk(&t, 2).total, 1);
	assert_int_equal(revoke(&t, l, &rev), BERTH_ENOTFOUND);
	tfsm_close(&t);
}

/* ---- expire ---- */

static void test_lease_expire_many_at_one_rev(void **state)
{
	(void)state;
	struct tfsm t;
	tfsm_open(&t, NULL);
	uint64_t l1 = grant_ok(&t, 0, 10), l2 = grant_ok(&t, 0, 10), l3 = grant_ok(&t, 0, 10);
	uint64_t l4 = grant_ok(&t, 0, 10); /* no keys */
	put_ok(&t, "a1", "x", l1);         /* rev 1 */
	put_ok(&t, "b2", "x", l2);         /* rev 2 */
	put_ok(&t, "c3", "x", l3);         /* rev 3 */
	put_ok(&t, "d1", "x", l1);         /* rev 4 */
	put_ok(&t, "e2", "x", l2);         /* rev 5 */
	put_ok(&t, "f", "x", 0);           /* rev 6 */
	/* Unknown ids are skipped, a duplicate is dropped once. */
	uint64_t ids[] = {l2, 999, l1, l2, l4, 12345};
	struct msg_cmd c = {.type = MSG_CMD_LEASE_EXPIRE, .leases = ids, .nleases = 6};
	struct reply r;
	assert_int_equal(tfsm_apply(&t, &c, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 7);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t.f), 7);
	assert_int_equal(t.f.m.nleases, 1);
	assert_no_key(&t, "a1", 0);
	assert_no_key(&t, "b2", 0);
	assert_no_key(&t, "d1", 0);
	assert_no_key(&t, "e2", 0);
	assert_key(&t, "a1", 6, "x", l1);
	assert_key(&t, "e2", 6, "x", l2);
	assert_key(&t, "c3", 0, "x", l3);
	assert_key(&t, "f", 0, "x", 0);
	/* The leases' keys in the order the command named the leases: l2's, then l1's. */
	struct revs_at ra = revs_walk(&t, 7);
	assert_int_equal(ra.n, 4);
	revs_entry(&ra, 0, "b2", 7);
	revs_entry(&ra, 1, "e2", 7);
	revs_entry(&ra, 2, "a1", 7);
	revs_entry(&ra, 3, "d1", 7);
	assert_int_equal(ra.total, 10);
	uint64_t rev;
	assert_int_equal(revoke(&t, l1, &rev), BERTH_ENOTFOUND);
	assert_int_equal(revoke(&t, l4, &rev), BERTH_ENOTFOUND);
	tfsm_close(&t);
}

static void test_lease_expire_nothing(void **state)
{
	(void)state;
	struct tfsm t;
	tfsm_open(&t, NULL);
	uint64_t l = grant_ok(&t, 0, 10);
	put_ok(&t, "a", "x", 0);
	/* Only unknown leases or a lease without keys: no new revision. */
	uint64_t ids[] = {77, l, 78};
	struct msg_cmd c = {.type = MSG_CMD_LEASE_EXPIRE, .leases = ids, .nleases = 3};
	struct reply r;
	assert_int_equal(tfsm_apply(&t, &c, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 1);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t.f), 1);
	assert_int_equal(t.f.m.nleases, 0);
	/* An empty list as well. */
	c.nleases = 0;
	c.leases = NULL;
	assert_int_equal(tfsm_apply(&t, &c, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 1);
	reply_free(&r);
	assert_key(&t, "a", 0, "x", 0);
	tfsm_close(&t);
}

/* ---- listing ---- */

struct seen {
	size_t n, stop_after;
	uint64_t id[16];
	int64_t ttl[16];
};

static int seen_cb(void *ctx, uint64_t id, int64_t ttl_s)
{
	struct seen *s = ctx;
	assert_true(s->n < 16);
	s->id[s->n] = id;
	s->ttl[s->n] = ttl_s;
	s->n++;
	return s->stop_after && s->n == s->stop_after ? 42 : 0;
}

static void test_lease_foreach(void **state)
{
	(void)state;
	struct tfsm t;
	uint64_t rev;
	tfsm_open(&t, NULL);
	struct seen s = {0};
	assert_int_equal(fsm_lease_foreach(&t.f, seen_cb, &s), 0);
	assert_int_equal(s.n, 0);
	grant_ok(&t, 300, 3);
	grant_ok(&t, 0, 11); /* 1 */
	grant_ok(&t, 20, 2);
	grant_ok(&t, (uint64_t)1 << 40, FSM_LEASE_MAX_TTL_S);
	grant_ok(&t, 0, 12);  /* 2 */
	grant_ok(&t, 256, 7); /* ids in byte order would put 256 before 20 */
	assert_int_equal(revoke(&t, 20, &rev), 0);
	assert_int_equal(fsm_lease_foreach(&t.f, seen_cb, &s), 0);
	assert_int_equal(s.n, 5);
	static const uint64_t want_id[] = {1, 2, 256, 300, (uint64_t)1 << 40};
	static const int64_t want_ttl[] = {11, 12, 7, 3, FSM_LEASE_MAX_TTL_S};
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(s.id[i], want_id[i]);
		assert_int_equal(s.ttl[i], want_ttl[i]);
	}
	/* A callback that returns non-zero stops the walk, and its value comes back. */
	struct seen stop = {.stop_after = 2};
	assert_int_equal(fsm_lease_foreach(&t.f, seen_cb, &stop), 42);
	assert_int_equal(stop.n, 2);
	assert_int_equal(stop.id[1], 2);
	stop = (struct seen){.stop_after = 1};
	assert_int_equal(fsm_lease_foreach(&t.f, seen_cb, &stop), 42);
	assert_int_equal(stop.n, 1);
	assert_int_equal(stop.id[0], 1);
	tfsm_close(&t);
}

/* ---- restart ---- */

static void test_lease_survives_reopen(void **state)
{
	(void)state;
	struct tfsm t;
	struct fsm_config cfg;
	uint64_t rev, id;
	tfsm_config(&cfg);
	cfg.max_leases = 4;
	tfsm_open(&t, &cfg);
	uint64_t l1 = grant_ok(&t, 0, 10), l2 = grant_ok(&t, 0, 20);
	grant_ok(&t, 3, 30);
	put_ok(&t, "a", "1", l1);
	put_ok(&t, "b", "2", l2);
	put_ok(&t, "c", "3", l1);
	assert_int_equal(tfsm_reopen(&t, &cfg), 0);
	assert_int_equal(t.f.m.nleases, 3);
	assert_int_equal(t.f.m.next_lease, 2);
	assert_int_equal(fsm_revision(&t.f), 3);
	struct seen s = {0};
	assert_int_equal(fsm_lease_foreach(&t.f, seen_cb, &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.id[0], 1);
	assert_int_equal(s.ttl[0], 10);
	assert_int_equal(s.id[1], 2);
	assert_int_equal(s.ttl[1], 20);
	assert_int_equal(s.id[2], 3);
	assert_int_equal(s.ttl[2], 30);
	/* The automatic ids go on after the ones in use; the count still limits. */
	assert_int_equal(grant_ok(&t, 0, 5), 4);
	assert_int_equal(grant(&t, 0, 5, &id), BERTH_ETOOLARGE);
	/* The attached keys are still attached. */
	assert_key(&t, "a", 0, "1", l1);
	assert_int_equal(revoke(&t, l1, &rev), 0);
	assert_int_equal(rev, 4);
	assert_no_key(&t, "a", 0);
	assert_no_key(&t, "c", 0);
	assert_key(&t, "b", 0, "2", l2);
	assert_int_equal(revs_walk(&t, 4).n, 2);
	assert_int_equal(grant(&t, 2, 5, &id), BERTH_EEXISTS);
	assert_int_equal(grant_ok(&t, 0, 5), 5);
	tfsm_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lease_grant_auto_ids),
		cmocka_unit_test(test_lease_grant_explicit_id),
		cmocka_unit_test(test_lease_grant_auto_skips_used),
		cmocka_unit_test(test_lease_grant_bad_ttl),
		cmocka_unit_test(test_lease_grant_max_leases),
		cmocka_unit_test(test_lease_put_missing_lease),
		cmocka_unit_test(test_lease_revoke_deletes_keys_at_one_rev),
		cmocka_unit_test(test_lease_revoke_long_keys),
		cmocka_unit_test(test_lease_reput_without_lease_detaches),
		cmocka_unit_test(test_lease_move_to_other_lease),
		cmocka_unit_test(test_lease_add_keeps_lease),
		cmocka_unit_test(test_lease_deleted_key_leaves_lease),
		cmocka_unit_test(test_lease_revoke_unknown),
		cmocka_unit_test(test_lease_revoke_without_keys),
		cmocka_unit_test(test_lease_expire_many_at_one_rev),
		cmocka_unit_test(test_lease_expire_nothing),
		cmocka_unit_test(test_lease_foreach),
		cmocka_unit_test(test_lease_survives_reopen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
