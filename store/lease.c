/* store/lease.c: lease grant, revoke and expiry as applied commands. */
#include "store/lease.h"

#include "common/err.h"
#include "common/reply.h"
#include "store/mvcc.h"

#include <stdlib.h>
#include <string.h>

static int lease_find(struct fsm *f, uint64_t id, bool *exists)
{
	uint8_t k[8];
	MDB_val key = {8, k}, v;
	kv_be64_put(k, id);
	int rc = mdb_get(f->txn, f->kv.leases, &key, &v);
	*exists = rc == 0;
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : kv_err(&f->kv, rc, "lease get");
}

int lease_grant(struct fsm *f, uint64_t id, int64_t ttl_s, struct mp_buf *out)
{
	bool exists = false;
	int rv = 0;
	if (ttl_s < 1 || ttl_s > FSM_LEASE_MAX_TTL_S)
		rv = BERTH_EBADREQ;
	else if (f->m.nleases >= f->cfg.max_leases)
		rv = BERTH_ETOOLARGE;
	if (rv == 0 && id == 0) {
		/* Pick the next free id; ids chosen by clients may sit in the way. */
		do {
			id = ++f->m.next_lease;
			if ((rv = lease_find(f, id, &exists)) != 0)
				return rv;
		} while (exists);
	} else if (rv == 0) {
		if ((rv = lease_find(f, id, &exists)) != 0)
			return rv;
		if (exists)
			rv = BERTH_EEXISTS;
	}
	if (rv != 0) {
		reply_pack_error(&out->pk, rv, f->m.rev);
		return mp_buf_error(out);
	}
	uint8_t k[8], v[8];
	kv_be64_put(k, id);
	kv_be64_put(v, (uint64_t)ttl_s);
	MDB_val key = {8, k}, val = {8, v};
	int rc = mdb_put(f->txn, f->kv.leases, &key, &val, 0);
	if (rc != 0)
		return kv_err(&f->kv, rc, "lease put");
	f->m.nleases++;
	msgpack_pack_map(&out->pk, 3);
	mp_pack_kv_u64(&out->pk, "id", id);
	mp_pack_kv_i64(&out->pk, "ttl", ttl_s);
	mp_pack_kv_u64(&out->pk, "rev", f->m.rev);
	return mp_buf_error(out);
}

/* Deletes the lease and every key attached to it (at f->rev_next). */
static int lease_drop(struct fsm *f, uint64_t id)
{
	uint8_t prefix[8];
	MDB_cursor *cur;
	kv_be64_put(prefix, id);
	int rc = mdb_cursor_open(f->txn, f->kv.lkeys, &cur), rv = 0;
	if (rc != 0)
		return kv_err(&f->kv, rc, "lkeys cursor");
	/* Take one attached key at a time: mvcc_del unlinks it, so the next seek finds the
	 * next one, and no borrowed page survives a write. */
	for (;;) {
		MDB_val k = {8, prefix}, v;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND ||
		    (rc == 0 && (k.mv_size < 8 || memcmp(k.mv_data, prefix, 8))))
			break;
		if (rc != 0) {
			rv = kv_err(&f->kv, rc, "lkeys scan");
			break;
		}
		MDB_val ek = {k.mv_size - 8, (uint8_t *)k.mv_data + 8}, rec;
		if ((rc = mdb_get(f->txn, f->kv.keys, &ek, &rec)) != 0) {
			rv = rc == MDB_NOTFOUND ? BERTH_ECORRUPT : kv_err(&f->kv, rc, "keys get");
			break;
		}
		struct kv_rec r;
		if ((rv = kv_rec_read(&rec, &r)) != 0)
			break;
		uint8_t *copy = malloc(r.key.n ? r.key.n : 1);
		if (copy == NULL) {
			rv = BERTH_ENOMEM;
			break;
		}
		memcpy(copy, r.key.p, r.key.n);
		rv = mvcc_del(f, (struct bytes){copy, r.key.n});
		free(copy);
		if (rv != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (rv != 0)
		return rv;
	MDB_val key = {8, prefix};
	if ((rc = mdb_del(f->txn, f->kv.leases, &key, NULL)) != 0)
		return kv_err(&f->kv, rc, "lease del");
	f->m.nleases--;
	return 0;
}

int lease_revoke(struct fsm *f, uint64_t id, struct mp_buf *out)
{
	bool exists;
	int rv = lease_find(f, id, &exists);
	if (rv != 0)
		return rv;
	if (!exists) {
		reply_pack_error(&out->pk, BERTH_ENOTFOUND, f->m.rev);
		return mp_buf_error(out);
	}
	if ((rv = lease_drop(f, id)) != 0)
		return rv;
	msgpack_pack_map(&out->pk, 2);
	mp_pack_kv_u64(&out->pk, "id", id);
	mp_pack_kv_u64(&out->pk, "rev", f->changed ? f->rev_next : f->m.rev);
	return mp_buf_error(out);
}

int lease_expire(struct fsm *f, const uint64_t *ids, uint32_t n, struct mp_buf *out)
{
	/* A lease may have been revoked since the leader decided: skip the missing ones.
	 * Every expired lease's keys go at the same revision. */
	for (uint32_t i = 0; i < n; i++) {
		bool exists;
		int rv = lease_find(f, ids[i], &exists);
		if (rv == 0 && exists)
			rv = lease_drop(f, ids[i]);
		if (rv != 0)
			return rv;
	}
	msgpack_pack_map(&out->pk, 1);
	mp_pack_kv_u64(&out->pk, "rev", f->changed ? f->rev_next : f->m.rev);
	return mp_buf_error(out);
}
