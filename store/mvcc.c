/* store/mvcc.c: versioned writes: keys, hist, revs and lkeys in step. */
#include "store/mvcc.h"

#include "common/err.h"

#include <string.h>

int mvcc_fatal(int rv)
{
	return rv == BERTH_ENOSPACE || rv == BERTH_EIO || rv == BERTH_ECORRUPT ||
	       rv == BERTH_ENOMEM || rv == BERTH_EINTERNAL;
}

static int mvcc_put_raw(struct fsm *f, MDB_dbi dbi, const void *k, size_t kn, const void *v,
			size_t vn, const char *what)
{
	MDB_val key = {kn, (void *)k}, val = {vn, (void *)v};
	int rc = mdb_put(f->txn, dbi, &key, &val, 0);
	return rc ? kv_err(&f->kv, rc, what) : 0;
}

static int mvcc_put_rec(struct fsm *f, MDB_dbi dbi, const void *k, size_t kn,
			const struct kv_rec *r, const char *what)
{
	MDB_val key = {kn, (void *)k}, val = {kv_rec_size(r), NULL};
	int rc = mdb_put(f->txn, dbi, &key, &val, MDB_RESERVE);
	if (rc != 0)
		return kv_err(&f->kv, rc, what);
	kv_rec_write(r, val.mv_data);
	return 0;
}

static int mvcc_del_raw(struct fsm *f, MDB_dbi dbi, const void *k, size_t kn, const char *what)
{
	MDB_val key = {kn, (void *)k};
	int rc = mdb_del(f->txn, dbi, &key, NULL);
	return rc && rc != MDB_NOTFOUND ? kv_err(&f->kv, rc, what) : 0;
}

static int mvcc_lease_link(struct fsm *f, uint64_t lease, const uint8_t *ek, size_t n, bool on)
{
	uint8_t lk[8 + KV_EK_MAX];
	kv_be64_put(lk, lease);
	memcpy(lk + 8, ek, n);
	if (on)
		return mvcc_put_raw(f, f->kv.lkeys, lk, 8 + n, "", 0, "lease link");
	return mvcc_del_raw(f, f->kv.lkeys, lk, 8 + n, "lease unlink");
}

/* Appends the change to the revision log and marks the command as a change. */
static int mvcc_log(struct fsm *f, const uint8_t *hk, size_t hn)
{
	uint8_t rk[12];
	kv_be64_put(rk, f->rev_next);
	rk[8] = (uint8_t)(f->sub >> 24);
	rk[9] = (uint8_t)(f->sub >> 16);
	rk[10] = (uint8_t)(f->sub >> 8);
	rk[11] = (uint8_t)f->sub;
	int rv = mvcc_put_raw(f, f->kv.revs, rk, sizeof(rk), hk, hn, "revs put");
	if (rv == 0) {
		f->sub++;
		f->changed = true;
	}
	return rv;
}

/* Looks up the key's encoding and its current record, and refuses a second change to the
 * same key at this revision (its history already has an entry at rev_next). */
static int mvcc_prepare(struct fsm *f, struct bytes key, uint8_t *ek, size_t *en, uint8_t *hk,
			size_t *hn, struct kv_rec *prev, bool *exists)
{
	int rv = kv_ek(&f->kv, f->txn, key, ek, en);
	if (rv != 0)
		return rv;
	*hn = kv_hk(ek, *en, f->rev_next, hk);
	MDB_val k = {*hn, hk}, v;
	int rc = mdb_get(f->txn, f->kv.hist, &k, &v);
	if (rc == 0)
		return BERTH_EDUPKEY;
	if (rc != MDB_NOTFOUND)
		return kv_err(&f->kv, rc, "hist get");
	k.mv_size = *en;
	k.mv_data = ek;
	rc = mdb_get(f->txn, f->kv.keys, &k, &v);
	if (rc == MDB_NOTFOUND) {
		*exists = false;
		return 0;
	}
	if (rc != 0)
		return kv_err(&f->kv, rc, "keys get");
	*exists = true;
	return kv_rec_read(&v, prev);
}

int mvcc_put(struct fsm *f, struct bytes key, struct bytes value, uint64_t lease)
{
	uint8_t ek[KV_EK_MAX], hk[KV_HK_MAX];
	size_t en, hn;
	struct kv_rec prev;
	bool exists;
	int rv = mvcc_prepare(f, key, ek, &en, hk, &hn, &prev, &exists);
	if (rv != 0)
		return rv;
	/* prev borrows LMDB pages that the first write below may move: copy what we need. */
	uint64_t old_lease = exists ? prev.lease : 0;
	struct kv_rec r = {
		.kind = KV_PUT,
		.create_rev = exists ? prev.create_rev : (int64_t)f->rev_next,
		.mod_rev = (int64_t)f->rev_next,
		.version = exists ? prev.version + 1 : 1,
		.lease = lease,
		.key = key,
		.value = value,
	};
	if ((rv = mvcc_put_rec(f, f->kv.keys, ek, en, &r, "keys put")) != 0 ||
	    (rv = mvcc_put_rec(f, f->kv.hist, hk, hn, &r, "hist put")) != 0 ||
	    (rv = mvcc_log(f, hk, hn)) != 0)
		return rv;
	if (old_lease != lease) {
		if (old_lease != 0 && (rv = mvcc_lease_link(f, old_lease, ek, en, false)) != 0)
			return rv;
		if (lease != 0 && (rv = mvcc_lease_link(f, lease, ek, en, true)) != 0)
			return rv;
	}
	return 0;
}

int mvcc_del(struct fsm *f, struct bytes key)
{
	uint8_t ek[KV_EK_MAX], hk[KV_HK_MAX];
	size_t en, hn;
	struct kv_rec prev;
	bool exists;
	int rv = mvcc_prepare(f, key, ek, &en, hk, &hn, &prev, &exists);
	if (rv != 0)
		return rv;
	if (!exists)
		return 0;
	uint64_t old_lease = prev.lease;
	struct kv_rec r = {.kind = KV_DEL, .mod_rev = (int64_t)f->rev_next, .key = key};
	if ((rv = mvcc_del_raw(f, f->kv.keys, ek, en, "keys del")) != 0 ||
	    (rv = mvcc_put_rec(f, f->kv.hist, hk, hn, &r, "hist put")) != 0 ||
	    (rv = mvcc_log(f, hk, hn)) != 0)
		return rv;
	if (old_lease != 0)
		return mvcc_lease_link(f, old_lease, ek, en, false);
	return 0;
}
