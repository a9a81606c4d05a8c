/* store/fsm.c: the state machine: open, batches, command dispatch, reads. */
#include "store/fsm.h"

#include "common/err.h"
#include "common/mbatch.h"
#include "common/reply.h"
#include "store/addrbook.h"
#include "store/compact.h"
#include "store/lease.h"
#include "store/mvcc.h"
#include "store/session.h"
#include "store/txn.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

void fsm_config_default(struct fsm_config *c)
{
	c->max_key_bytes = 1024;
	c->max_value_bytes = 1024 * 1024;
	c->max_txn_ops = 128;
	c->max_result_bytes = 3 * 1024 * 1024;
	c->max_sessions = 65536;
	c->max_leases = 1024 * 1024;
	c->map_bytes = (size_t)64 << 30;
	c->sync = KV_SYNC_NONE;
	c->boot_id_path = NULL;
}

int fsm_config_validate(const struct fsm_config *c, const char **why)
{
	*why = NULL;
	if (c->max_key_bytes < 1 || c->max_key_bytes > KV_KEY_HARD_MAX)
		*why = "max_key_bytes must be 1..4096";
	else if (c->max_value_bytes > (size_t)64 << 20)
		*why = "max_value_bytes must be at most 64 MiB";
	else if (c->max_txn_ops < 1 || c->max_txn_ops > 65536)
		*why = "max_txn_ops must be 1..65536";
	else if (c->max_result_bytes < 1024)
		*why = "max_result_bytes must be at least 1 KiB";
	else if (c->map_bytes < (size_t)64 << 10)
		*why = "map_bytes must be at least 64 KiB";
	else if (c->sync > KV_SYNC_NONE)
		*why = "sync must be full, nometa or none";
	return *why ? BERTH_EBADREQ : 0;
}

static const struct {
	const char *name;
	size_t off;
} fsm_meta_fields[] = {
	{"applied", offsetof(struct fsm_meta, applied)},
	{"rev", offsetof(struct fsm_meta, rev)},
	{"compacted", offsetof(struct fsm_meta, compacted)},
	{"clock", offsetof(struct fsm_meta, clock_ms)},
	{"next_lease", offsetof(struct fsm_meta, next_lease)},
	{"nleases", offsetof(struct fsm_meta, nleases)},
	{"nsessions", offsetof(struct fsm_meta, nsessions)},
};
#define FSM_NMETA (sizeof(fsm_meta_fields) / sizeof(fsm_meta_fields[0]))

int fsm_meta_load(struct fsm *f, MDB_txn *txn, struct fsm_meta *m)
{
	uint64_t format;
	int rv = kv_meta_get(&f->kv, txn, "format", &format);
	if (rv != 0)
		return rv;
	if (format != 0 && format != FSM_FORMAT) {
		snprintf(f->errmsg, sizeof(f->errmsg),
			 "fsm: database format %llu, this build reads %d",
			 (unsigned long long)format, FSM_FORMAT);
		return BERTH_ECORRUPT;
	}
	for (size_t i = 0; i < FSM_NMETA; i++)
		if ((rv = kv_meta_get(&f->kv, txn, fsm_meta_fields[i].name,
				      (uint64_t *)((char *)m + fsm_meta_fields[i].off))) != 0)
			return rv;
	return 0;
}

static int fsm_meta_store(struct fsm *f, MDB_txn *txn)
{
	int rv = kv_meta_put(&f->kv, txn, "format", FSM_FORMAT);
	for (size_t i = 0; rv == 0 && i < FSM_NMETA; i++)
		rv = kv_meta_put(&f->kv, txn, fsm_meta_fields[i].name,
				 *(uint64_t *)((char *)&f->m + fsm_meta_fields[i].off));
	return rv;
}

int fsm_open(struct fsm *f, const char *dir, const struct fsm_config *cfg)
{
	const char *why;
	MDB_txn *txn;
	int rv, rc;

	memset(f, 0, sizeof(*f));
	if (fsm_config_validate(cfg, &why) != 0) {
		snprintf(f->errmsg, sizeof(f->errmsg), "fsm config: %s", why);
		return BERTH_EBADREQ;
	}
	f->cfg = *cfg;
	if ((rv = kv_open(&f->kv, dir, cfg->map_bytes, cfg->sync, cfg->boot_id_path)) != 0) {
		memcpy(f->errmsg, f->kv.errmsg, sizeof(f->errmsg));
		return rv;
	}
	if ((rc = mdb_txn_begin(f->kv.env, NULL, MDB_RDONLY, &txn)) != 0) {
		rv = kv_err(&f->kv, rc, "open read");
		goto err_after_kv_open;
	}
	rv = fsm_meta_load(f, txn, &f->m);
	mdb_txn_abort(txn);
	if (rv != 0)
		goto err_after_kv_open;
	f->saved = f->m;
	return 0;

err_after_kv_open:
	if (f->errmsg[0] == 0)
		memcpy(f->errmsg, f->kv.errmsg, sizeof(f->errmsg));
	kv_close(&f->kv);
	return rv;
}

int fsm_close(struct fsm *f)
{
	if (f->batch != NULL)
		fsm_batch_abort(f);
	int rv = kv_close(&f->kv);
	if (rv != 0)
		memcpy(f->errmsg, f->kv.errmsg, sizeof(f->errmsg));
	return rv;
}

int fsm_batch_begin(struct fsm *f)
{
	assert(f->batch == NULL);
	int rc = mdb_txn_begin(f->kv.env, NULL, 0, &f->batch);
	if (rc != 0) {
		f->batch = NULL;
		return kv_err(&f->kv, rc, "batch begin");
	}
	f->txn = f->batch;
	return 0;
}

int fsm_batch_commit(struct fsm *f)
{
	assert(f->batch != NULL);
	int rv = fsm_meta_store(f, f->batch), rc;
	if (rv != 0) {
		fsm_batch_abort(f);
		return rv;
	}
	rc = mdb_txn_commit(f->batch);
	f->batch = f->txn = NULL;
	if (rc != 0) {
		f->m = f->saved;
		return kv_err(&f->kv, rc, "batch commit");
	}
	f->saved = f->m;
	return 0;
}

void fsm_batch_abort(struct fsm *f)
{
	if (f->batch != NULL)
		mdb_txn_abort(f->batch);
	f->batch = f->txn = NULL;
	f->m = f->saved;
}

int fsm_reset_log(struct fsm *f)
{
	int rv, rc;
	if (f->batch != NULL)
		return BERTH_EINTERNAL;
	if ((rv = fsm_batch_begin(f)) != 0)
		return rv;
	if ((rc = mdb_drop(f->batch, f->kv.sess, 0)) != 0 ||
	    (rc = mdb_drop(f->batch, f->kv.sessdl, 0)) != 0) {
		fsm_batch_abort(f);
		return kv_err(&f->kv, rc, "reset sessions");
	}
	if ((rv = addrbook_forget_all(f, f->batch)) != 0) {
		fsm_batch_abort(f);
		return rv;
	}
	f->m.applied = 0;
	f->m.nsessions = 0;
	return fsm_batch_commit(f);
}

static int fsm_error_reply(struct fsm *f, int err, struct mp_buf *out)
{
	reply_pack_error(&out->pk, err, f->m.rev);
	return mp_buf_error(out);
}

static int fsm_dispatch(struct fsm *f, const struct msg_cmd *c, struct mp_buf *out)
{
	switch (c->type) {
	case MSG_CMD_TXN:
		return txn_apply(f, &c->txn, out);
	case MSG_CMD_COMPACT:
		return compact_apply(f, c->rev, out);
	case MSG_CMD_LEASE_GRANT:
		return lease_grant(f, c->lease, c->ttl, out);
	case MSG_CMD_LEASE_REVOKE:
		return lease_revoke(f, c->lease, out);
	case MSG_CMD_LEASE_EXPIRE:
		return lease_expire(f, c->leases, c->nleases, out);
	case MSG_CMD_SESSION_OPEN:
		/* The entry's index is the session id: unique and the same on every member. */
		return session_open(f, f->index, c->ttl, out);
	case MSG_CMD_MEMBER:
		return addrbook_apply(f, c, out);
	default: /* MSG_CMD_TICK */
		msgpack_pack_map(&out->pk, 1);
		mp_pack_kv_u64(&out->pk, "rev", f->m.rev);
		return mp_buf_error(out);
	}
}

/* One command of the entry at f->index; the applied index is the caller's business. */
static int fsm_apply_cmd(struct fsm *f, const uint8_t *buf, size_t n, struct mp_buf *out)
{
	struct msg_cmd c;
	int rv;

	f->rev_next = f->m.rev + 1;
	f->sub = 0;
	f->changed = false;
	f->txn = f->batch;
	size_t mark = out->len;

	rv = msg_cmd_decode(buf, n, &c);
	if (rv == BERTH_ENOMEM)
		return rv;
	if (rv != 0) {
		/* The leader proposes only what it decoded, so this is a bug or corruption
		 * upstream; the answer is still deterministic: an error result. */
		return fsm_error_reply(f, BERTH_EBADREQ, out);
	}
	if (c.time_ms > f->m.clock_ms)
		f->m.clock_ms = c.time_ms;
	if ((rv = session_expire(f)) != 0)
		goto out;
	bool sessioned = c.session != 0 && c.type != MSG_CMD_SESSION_OPEN && c.type != MSG_CMD_TICK;
	if (sessioned) {
		rv = session_check(f, c.session, c.seq, out);
		if (rv == BERTH_EEXISTS) {
			rv = 0; /* a retry: the first reply has been appended */
			goto out;
		}
		if (rv != 0 && !mvcc_fatal(rv)) {
			rv = fsm_error_reply(f, rv, out);
			goto out;
		}
		if (rv != 0)
			goto out;
	}
	if ((rv = fsm_dispatch(f, &c, out)) != 0)
		goto out;
	if (sessioned &&
	    (rv = session_record(f, c.session, c.seq, out->data + mark, out->len - mark)) != 0)
		goto out;
	if (f->changed)
		f->m.rev = f->rev_next;
out:
	msg_cmd_free(&c);
	return rv;
}

int fsm_apply(struct fsm *f, uint64_t index, const uint8_t *buf, size_t n, struct mp_buf *out)
{
	assert(f->batch != NULL);
	if (index <= f->m.applied)
		return 0;
	f->index = index;
	int rv = fsm_apply_cmd(f, buf, n, out);
	if (rv == 0)
		f->m.applied = index;
	return rv;
}

int fsm_apply_entry(struct fsm *f, uint64_t index, const uint8_t *buf, size_t n, struct mp_buf *out,
		    size_t ends[MBATCH_MAX], unsigned *nends)
{
	struct mbatch_iter it;
	struct bytes cmd;
	int rv;

	assert(f->batch != NULL);
	*nends = 0;
	if (index <= f->m.applied)
		return 0;
	if (!mbatch_is(buf, n)) {
		if ((rv = fsm_apply(f, index, buf, n, out)) == 0)
			ends[(*nends)++] = out->len;
		return rv;
	}
	f->index = index;
	int bad = mbatch_open(buf, n, &it);
	while (bad == 0 && (bad = mbatch_next(&it, &cmd)) == 0) {
		if ((rv = fsm_apply_cmd(f, cmd.p, cmd.n, out)) != 0)
			return rv; /* fatal: the caller aborts the LMDB batch */
		ends[(*nends)++] = out->len;
	}
	if (bad != 1) {
		/* Damaged framing (never from a leader): the elements before the damage stand,
		 * the rest is one deterministic error result. At most count - 1 came first. */
		if ((rv = fsm_error_reply(f, BERTH_EBADREQ, out)) != 0)
			return rv;
		ends[(*nends)++] = out->len;
	}
	f->m.applied = index;
	return 0;
}

int fsm_apply_one(struct fsm *f, uint64_t index, const uint8_t *buf, size_t n, struct mp_buf *out)
{
	int rv = fsm_batch_begin(f);
	if (rv != 0)
		return rv;
	if ((rv = fsm_apply(f, index, buf, n, out)) != 0) {
		fsm_batch_abort(f);
		return rv;
	}
	return fsm_batch_commit(f);
}

int fsm_read(struct fsm *f, const struct msg_txn *t, struct mp_buf *out)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(f->kv.env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return kv_err(&f->kv, rc, "read begin");
	int rv = txn_read(f, txn, f->saved.rev, f->saved.compacted, t, out);
	mdb_txn_abort(txn);
	return rv;
}

uint64_t fsm_applied(const struct fsm *f)
{
	return f->saved.applied;
}

uint64_t fsm_revision(const struct fsm *f)
{
	return f->saved.rev;
}

uint64_t fsm_compacted(const struct fsm *f)
{
	return f->saved.compacted;
}

int fsm_lease_foreach(struct fsm *f, fsm_lease_fn fn, void *ctx)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_txn_begin(f->kv.env, NULL, MDB_RDONLY, &txn), rv = 0;
	if (rc != 0)
		return kv_err(&f->kv, rc, "lease list");
	if ((rc = mdb_cursor_open(txn, f->kv.leases, &cur)) != 0) {
		mdb_txn_abort(txn);
		return kv_err(&f->kv, rc, "lease cursor");
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && rv == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8 || v.mv_size != 8)
			rv = BERTH_ECORRUPT;
		else
			rv = fn(ctx, kv_be64_get(k.mv_data), (int64_t)kv_be64_get(v.mv_data));
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rv == 0 && rc != MDB_NOTFOUND)
		rv = kv_err(&f->kv, rc, "lease list");
	return rv;
}

int fsm_lease_get(struct fsm *f, uint64_t id, int64_t *ttl_s)
{
	MDB_txn *txn;
	uint8_t k[8];
	kv_be64_put(k, id);
	MDB_val key = {8, k}, v;
	int rc = mdb_txn_begin(f->kv.env, NULL, MDB_RDONLY, &txn), rv;
	if (rc != 0)
		return kv_err(&f->kv, rc, "lease get");
	rc = mdb_get(txn, f->kv.leases, &key, &v);
	if (rc == 0 && v.mv_size == 8) {
		*ttl_s = (int64_t)kv_be64_get(v.mv_data);
		rv = 0;
	} else if (rc == 0) {
		rv = BERTH_ECORRUPT;
	} else {
		rv = rc == MDB_NOTFOUND ? BERTH_ENOTFOUND : kv_err(&f->kv, rc, "lease get");
	}
	mdb_txn_abort(txn);
	return rv;
}
