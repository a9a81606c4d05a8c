/* store/session.c: the session table: open, check, record, expire. */
#include "store/session.h"

#include "common/err.h"
#include "common/reply.h"

#include <string.h>

#define SESSION_HDR 24 /* be64 last seq, be64 ttl ms, be64 deadline ms */

static int session_index(struct fsm *f, uint64_t deadline, uint64_t sid, bool on)
{
	uint8_t k[16];
	kv_be64_put(k, deadline);
	kv_be64_put(k + 8, sid);
	MDB_val key = {16, k}, val = {0, ""};
	int rc = on ? mdb_put(f->txn, f->kv.sessdl, &key, &val, 0)
		    : mdb_del(f->txn, f->kv.sessdl, &key, NULL);
	return rc ? kv_err(&f->kv, rc, "sessdl") : 0;
}

static int session_write(struct fsm *f, uint64_t sid, uint64_t seq, uint64_t ttl, uint64_t deadline,
			 const uint8_t *reply, size_t n)
{
	uint8_t k[8];
	kv_be64_put(k, sid);
	MDB_val key = {8, k}, val = {SESSION_HDR + n, NULL};
	int rc = mdb_put(f->txn, f->kv.sess, &key, &val, MDB_RESERVE);
	if (rc != 0)
		return kv_err(&f->kv, rc, "sess put");
	uint8_t *p = val.mv_data;
	kv_be64_put(p, seq);
	kv_be64_put(p + 8, ttl);
	kv_be64_put(p + 16, deadline);
	if (n > 0)
		memcpy(p + SESSION_HDR, reply, n);
	return 0;
}

int session_open(struct fsm *f, uint64_t sid, int64_t ttl_ms, struct mp_buf *out)
{
	int rv = 0;
	if (ttl_ms < 1 || ttl_ms > FSM_SESSION_MAX_TTL_MS)
		rv = BERTH_EBADREQ;
	else if (f->m.nsessions >= f->cfg.max_sessions)
		rv = BERTH_ETOOLARGE;
	if (rv != 0) {
		reply_pack_error(&out->pk, rv, f->m.rev);
		return mp_buf_error(out);
	}
	uint64_t deadline = f->m.clock_ms + (uint64_t)ttl_ms;
	if ((rv = session_write(f, sid, 0, (uint64_t)ttl_ms, deadline, NULL, 0)) != 0 ||
	    (rv = session_index(f, deadline, sid, true)) != 0)
		return rv;
	f->m.nsessions++;
	msgpack_pack_map(&out->pk, 3);
	mp_pack_kv_u64(&out->pk, "id", sid);
	mp_pack_kv_i64(&out->pk, "ttl", ttl_ms);
	mp_pack_kv_u64(&out->pk, "rev", f->m.rev);
	return mp_buf_error(out);
}

static int session_get(struct fsm *f, uint64_t sid, MDB_val *val)
{
	uint8_t k[8];
	kv_be64_put(k, sid);
	MDB_val key = {8, k};
	int rc = mdb_get(f->txn, f->kv.sess, &key, val);
	if (rc == MDB_NOTFOUND)
		return BERTH_ESESSION;
	if (rc != 0)
		return kv_err(&f->kv, rc, "sess get");
	return val->mv_size < SESSION_HDR ? BERTH_ECORRUPT : 0;
}

int session_check(struct fsm *f, uint64_t sid, uint64_t seq, struct mp_buf *out)
{
	MDB_val val;
	int rv = session_get(f, sid, &val);
	if (rv != 0)
		return rv;
	uint64_t last = kv_be64_get(val.mv_data);
	if (seq == 0)
		return BERTH_EBADREQ;
	if (seq < last)
		return BERTH_ESTALESEQ;
	if (seq > last)
		return 0;
	mp_buf_append(out, (const uint8_t *)val.mv_data + SESSION_HDR, val.mv_size - SESSION_HDR);
	return mp_buf_error(out) ? mp_buf_error(out) : BERTH_EEXISTS;
}

int session_record(struct fsm *f, uint64_t sid, uint64_t seq, const uint8_t *reply, size_t n)
{
	MDB_val val;
	int rv = session_get(f, sid, &val);
	if (rv != 0)
		return rv == BERTH_ESESSION ? BERTH_EINTERNAL : rv;
	uint64_t ttl = kv_be64_get((uint8_t *)val.mv_data + 8);
	uint64_t old = kv_be64_get((uint8_t *)val.mv_data + 16);
	uint64_t deadline = f->m.clock_ms + ttl;
	if ((rv = session_write(f, sid, seq, ttl, deadline, reply, n)) != 0)
		return rv;
	if (old != deadline && ((rv = session_index(f, old, sid, false)) != 0 ||
				(rv = session_index(f, deadline, sid, true)) != 0))
		return rv;
	return 0;
}

int session_expire(struct fsm *f)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(f->txn, f->kv.sessdl, &cur), rv = 0;
	if (rc != 0)
		return kv_err(&f->kv, rc, "sessdl cursor");
	MDB_val k, v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 16) {
			rv = BERTH_ECORRUPT;
			break;
		}
		if (kv_be64_get(k.mv_data) >= f->m.clock_ms)
			break;
		uint8_t sid[8];
		memcpy(sid, (uint8_t *)k.mv_data + 8, 8);
		MDB_val sk = {8, sid};
		if ((rc = mdb_del(f->txn, f->kv.sess, &sk, NULL)) != 0 ||
		    (rc = mdb_cursor_del(cur, 0)) != 0) {
			rv = kv_err(&f->kv, rc, "session expire");
			break;
		}
		f->m.nsessions--;
	}
	if (rv == 0 && rc != 0 && rc != MDB_NOTFOUND)
		rv = kv_err(&f->kv, rc, "session expire scan");
	mdb_cursor_close(cur);
	return rv;
}
