/* store/compact.c: history compaction, in bounded chunks. */
#include "store/compact.h"

#include "common/err.h"
#include "common/reply.h"

#include <stdlib.h>
#include <string.h>

#define COMPACT_CHUNK 4096 /* hist keys examined before their deletions are carried out */

struct compact_victims {
	uint8_t (*keys)[KV_HK_MAX];
	size_t *lens;
	size_t n;
};

static int compact_delete(struct fsm *f, struct compact_victims *v)
{
	for (size_t i = 0; i < v->n; i++) {
		MDB_val k = {v->lens[i], v->keys[i]};
		int rc = mdb_del(f->txn, f->kv.hist, &k, NULL);
		if (rc != 0)
			return kv_err(&f->kv, rc, "compact hist del");
	}
	v->n = 0;
	return 0;
}

/* One pass over hist: an entry at or before rev is a victim when the next entry is the
 * same key at or before rev (superseded), or when it is a tombstone (the key's newest
 * entry at or before rev says "absent", which is also what no entry at all says). Deletions are collected and carried out every COMPACT_CHUNK entries, then
 * the scan seeks back to where it was, so no cursor lives across its own deletions. */
static int compact_hist(struct fsm *f, uint64_t rev)
{
	struct compact_victims v = {0};
	uint8_t prev[KV_HK_MAX], resume[KV_HK_MAX];
	size_t plen = 0, rlen = 0;
	bool have_prev = false, prev_del = false, started = false;
	MDB_cursor *cur = NULL;
	int rc = 0, rv = 0;

	v.keys = malloc(COMPACT_CHUNK * sizeof(*v.keys));
	v.lens = malloc(COMPACT_CHUNK * sizeof(*v.lens));
	if (v.keys == NULL || v.lens == NULL) {
		rv = BERTH_ENOMEM;
		goto out;
	}
	for (;;) {
		if ((rc = mdb_cursor_open(f->txn, f->kv.hist, &cur)) != 0)
			break;
		MDB_val k = {rlen, resume}, d;
		if (!started)
			rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
		else if ((rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE)) == 0 &&
			 k.mv_size == rlen && memcmp(k.mv_data, resume, rlen) == 0)
			rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
		started = true;
		size_t seen = 0;
		for (; rc == 0 && seen < COMPACT_CHUNK;
		     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
			if (k.mv_size < 8 || k.mv_size > KV_HK_MAX || d.mv_size < 1) {
				rv = BERTH_ECORRUPT;
				break;
			}
			seen++;
			size_t n = k.mv_size - 8;
			uint64_t r = kv_be64_get((uint8_t *)k.mv_data + n);
			bool same =
				have_prev && plen == k.mv_size && memcmp(prev, k.mv_data, n) == 0;
			if (have_prev && ((same && r <= rev) || prev_del)) {
				memcpy(v.keys[v.n], prev, plen);
				v.lens[v.n++] = plen;
			}
			have_prev = r <= rev;
			if (have_prev) {
				memcpy(prev, k.mv_data, k.mv_size);
				plen = k.mv_size;
				prev_del = ((uint8_t *)d.mv_data)[0] == KV_DEL;
			}
			memcpy(resume, k.mv_data, k.mv_size);
			rlen = k.mv_size;
		}
		mdb_cursor_close(cur);
		cur = NULL;
		if (rv != 0 || (rc != 0 && rc != MDB_NOTFOUND))
			break;
		/* The pending entry (prev) is never a victim yet: it is decided by the next. */
		if ((rv = compact_delete(f, &v)) != 0 || rc == MDB_NOTFOUND)
			break;
	}
	if (rv == 0 && rc != 0 && rc != MDB_NOTFOUND)
		rv = kv_err(&f->kv, rc, "compact hist");
	if (rv == 0 && have_prev && prev_del) {
		MDB_val k = {plen, prev};
		if ((rc = mdb_del(f->txn, f->kv.hist, &k, NULL)) != 0)
			rv = kv_err(&f->kv, rc, "compact hist del");
	}
out:
	free(v.keys);
	free(v.lens);
	return rv;
}

static int compact_revs(struct fsm *f, uint64_t rev)
{
	MDB_cursor *cur;
	MDB_val k, d;
	int rc = mdb_cursor_open(f->txn, f->kv.revs, &cur);
	if (rc != 0)
		return kv_err(&f->kv, rc, "compact revs cursor");
	while ((rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST)) == 0) {
		if (k.mv_size != 12 || kv_be64_get(k.mv_data) > rev)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : kv_err(&f->kv, rc, "compact revs");
}

int compact_apply(struct fsm *f, uint64_t rev, struct mp_buf *out)
{
	int rv = 0;
	if (rev > f->m.rev)
		rv = BERTH_EFUTUREREV;
	else if (rev <= f->m.compacted)
		rv = BERTH_ECOMPACTED;
	if (rv != 0) {
		reply_pack_error(&out->pk, rv, f->m.rev);
		return mp_buf_error(out);
	}
	if ((rv = compact_hist(f, rev)) != 0 || (rv = compact_revs(f, rev)) != 0)
		return rv;
	f->m.compacted = rev;
	msgpack_pack_map(&out->pk, 1);
	mp_pack_kv_u64(&out->pk, "rev", f->m.rev);
	return mp_buf_error(out);
}
