/* store/addrbook.c: member address records in the meta table (store/addrbook.h). */
#include "store/addrbook.h"

#include "common/err.h"
#include "common/reply.h"

#include <stdio.h>
#include <string.h>

#define ADDRBOOK_PREFIX "member/"
#define ADDRBOOK_PREFIX_LEN 7
#define ADDRBOOK_KEY_LEN (ADDRBOOK_PREFIX_LEN + 8)

static void addrbook_key(uint64_t id, uint8_t k[ADDRBOOK_KEY_LEN])
{
	memcpy(k, ADDRBOOK_PREFIX, ADDRBOOK_PREFIX_LEN);
	kv_be64_put(k + ADDRBOOK_PREFIX_LEN, id);
}

/* How many records the transaction holds. */
static int addrbook_count(struct fsm *f, MDB_txn *txn, unsigned *n)
{
	MDB_cursor *cur;
	MDB_val k = {ADDRBOOK_PREFIX_LEN, ADDRBOOK_PREFIX}, v;
	int rc = mdb_cursor_open(txn, f->kv.meta, &cur);
	if (rc != 0)
		return kv_err(&f->kv, rc, "addrbook cursor");
	*n = 0;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size == ADDRBOOK_KEY_LEN &&
	     memcmp(k.mv_data, ADDRBOOK_PREFIX, ADDRBOOK_PREFIX_LEN) == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		(*n)++;
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : kv_err(&f->kv, rc, "addrbook scan");
}

int addrbook_forget_all(struct fsm *f, MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_val k = {ADDRBOOK_PREFIX_LEN, ADDRBOOK_PREFIX}, v;
	int rc = mdb_cursor_open(txn, f->kv.meta, &cur);
	if (rc != 0)
		return kv_err(&f->kv, rc, "addrbook cursor");
	for (unsigned i = 0; i <= ADDRBOOK_MAX; i++) { /* the book never holds more */
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc != 0 || k.mv_size < ADDRBOOK_PREFIX_LEN ||
		    memcmp(k.mv_data, ADDRBOOK_PREFIX, ADDRBOOK_PREFIX_LEN) != 0)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		k = (MDB_val){ADDRBOOK_PREFIX_LEN, ADDRBOOK_PREFIX};
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : kv_err(&f->kv, rc, "addrbook forget");
}

static int addrbook_reply(struct fsm *f, int err, struct mp_buf *out)
{
	if (err != 0) {
		reply_pack_error(&out->pk, err, f->m.rev);
	} else {
		msgpack_pack_map(&out->pk, 1);
		mp_pack_kv_u64(&out->pk, "rev", f->m.rev);
	}
	return mp_buf_error(out);
}

int addrbook_apply(struct fsm *f, const struct msg_cmd *c, struct mp_buf *out)
{
	uint8_t key[ADDRBOOK_KEY_LEN], val[2 + 2 * MSG_MEMBER_ADDR_MAX];
	MDB_val k = {sizeof(key), key}, v;
	unsigned n = 0;
	int rc, rv;

	addrbook_key(c->member, key);
	if (c->peer.n == 0) {
		rc = mdb_del(f->txn, f->kv.meta, &k, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return kv_err(&f->kv, rc, "addrbook forget");
		return addrbook_reply(f, 0, out);
	}
	/* The decoder bounds both addresses; a command built elsewhere is checked again. */
	if (c->peer.n > MSG_MEMBER_ADDR_MAX || c->client.n == 0 ||
	    c->client.n > MSG_MEMBER_ADDR_MAX)
		return addrbook_reply(f, BERTH_EBADREQ, out);
	rc = mdb_get(f->txn, f->kv.meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		if ((rv = addrbook_count(f, f->txn, &n)) != 0)
			return rv;
		if (n >= ADDRBOOK_MAX)
			return addrbook_reply(f, BERTH_ETOOLARGE, out);
	} else if (rc != 0) {
		return kv_err(&f->kv, rc, "addrbook get");
	}
	val[0] = (uint8_t)c->peer.n;
	memcpy(val + 1, c->peer.p, c->peer.n);
	val[1 + c->peer.n] = (uint8_t)c->client.n;
	memcpy(val + 2 + c->peer.n, c->client.p, c->client.n);
	v = (MDB_val){2 + c->peer.n + c->client.n, val};
	if ((rc = mdb_put(f->txn, f->kv.meta, &k, &v, 0)) != 0)
		return kv_err(&f->kv, rc, "addrbook record");
	return addrbook_reply(f, 0, out);
}

/* One stored string: u8 length, bytes; no NUL inside, not empty. */
static int addrbook_str(const uint8_t **p, const uint8_t *end, char *out)
{
	if (*p >= end || **p == 0 || (size_t)(end - *p - 1) < **p)
		return BERTH_ECORRUPT;
	size_t len = **p;
	if (memchr(*p + 1, 0, len) != NULL)
		return BERTH_ECORRUPT;
	memcpy(out, *p + 1, len);
	out[len] = '\0';
	*p += 1 + len;
	return 0;
}

int addrbook_load(struct fsm *f, struct addrbook_entry *out, unsigned *n)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k = {ADDRBOOK_PREFIX_LEN, ADDRBOOK_PREFIX}, v;
	int rv = 0, rc = mdb_txn_begin(f->kv.env, NULL, MDB_RDONLY, &txn);
	*n = 0;
	if (rc != 0)
		return kv_err(&f->kv, rc, "addrbook read");
	if ((rc = mdb_cursor_open(txn, f->kv.meta, &cur)) != 0) {
		mdb_txn_abort(txn);
		return kv_err(&f->kv, rc, "addrbook cursor");
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && rv == 0 && k.mv_size >= ADDRBOOK_PREFIX_LEN &&
	     memcmp(k.mv_data, ADDRBOOK_PREFIX, ADDRBOOK_PREFIX_LEN) == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *p = v.mv_data, *end = p + v.mv_size;
		struct addrbook_entry *e = &out[*n];
		if (k.mv_size != ADDRBOOK_KEY_LEN || *n == ADDRBOOK_MAX) {
			rv = BERTH_ECORRUPT;
			break;
		}
		e->id = kv_be64_get((const uint8_t *)k.mv_data + ADDRBOOK_PREFIX_LEN);
		if ((rv = addrbook_str(&p, end, e->peer)) == 0 &&
		    (rv = addrbook_str(&p, end, e->client)) == 0 && p != end)
			rv = BERTH_ECORRUPT;
		if (rv == 0)
			(*n)++;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rv == 0 && rc != 0 && rc != MDB_NOTFOUND)
		rv = kv_err(&f->kv, rc, "addrbook scan");
	if (rv == BERTH_ECORRUPT)
		snprintf(f->errmsg, sizeof(f->errmsg), "addrbook: malformed member record");
	return rv;
}
