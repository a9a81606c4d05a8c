/* store/txn.c: compares and the range, put, delete and add operations. */
#include "store/txn.h"

#include "common/err.h"
#include "common/reply.h"
#include "store/mvcc.h"

#include <stdlib.h>
#include <string.h>

struct txn_ctx {
	struct fsm *f;
	MDB_txn *txn;
	bool write;
	uint64_t rev;       /* the revision reads see as current */
	uint64_t compacted; /* reads below this revision fail */
	struct mp_buf *out;
};

static int txn_check_op(const struct fsm_config *c, const struct msg_op *op, bool write_ok)
{
	bool ranged = op->type == MSG_OP_RANGE || op->type == MSG_OP_DEL;
	if (!write_ok && op->type != MSG_OP_RANGE)
		return BERTH_EBADREQ;
	if (op->key.n > c->max_key_bytes || op->end.n > c->max_key_bytes)
		return BERTH_ETOOLARGE;
	if (op->type == MSG_OP_PUT && op->value.n > c->max_value_bytes)
		return BERTH_ETOOLARGE;
	if (!ranged && (op->end.n > 0 || (op->flags & MSG_F_PREFIX)))
		return BERTH_EBADREQ;
	if (op->type != MSG_OP_RANGE && (op->flags & (MSG_F_KEYS_ONLY | MSG_F_COUNT_ONLY)))
		return BERTH_EBADREQ;
	if ((op->flags & MSG_F_PREFIX) && op->end.n > 0)
		return BERTH_EBADREQ;
	if (op->key.n == 0 && !(op->flags & MSG_F_PREFIX))
		return BERTH_EBADREQ;
	if (op->type != MSG_OP_RANGE && (op->limit != 0 || op->rev != 0))
		return BERTH_EBADREQ;
	return 0;
}

static int txn_check(const struct fsm_config *c, const struct msg_txn *t, bool write_ok)
{
	int rv;
	if (t->ncmp > c->max_txn_ops || t->nsucc > c->max_txn_ops || t->nfail > c->max_txn_ops)
		return BERTH_ETOOLARGE;
	for (uint32_t i = 0; i < t->ncmp; i++) {
		if (t->cmp[i].key.n == 0)
			return BERTH_EBADREQ;
		if (t->cmp[i].key.n > c->max_key_bytes || t->cmp[i].value.n > c->max_value_bytes)
			return BERTH_ETOOLARGE;
	}
	for (uint32_t i = 0; i < t->nsucc; i++)
		if ((rv = txn_check_op(c, &t->succ[i], write_ok)) != 0)
			return rv;
	for (uint32_t i = 0; i < t->nfail; i++)
		if ((rv = txn_check_op(c, &t->fail[i], write_ok)) != 0)
			return rv;
	return 0;
}

static bool txn_holds(int c, uint8_t op)
{
	switch (op) {
	case MSG_EQ:
		return c == 0;
	case MSG_NE:
		return c != 0;
	case MSG_LT:
		return c < 0;
	case MSG_LE:
		return c <= 0;
	case MSG_GT:
		return c > 0;
	default:
		return c >= 0;
	}
}

static int txn_cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int txn_cmp_bytes(struct bytes a, struct bytes b)
{
	size_t n = a.n < b.n ? a.n : b.n;
	int c = n ? memcmp(a.p, b.p, n) : 0;
	if (c != 0)
		return c < 0 ? -1 : 1;
	return a.n < b.n ? -1 : a.n > b.n;
}

/* *ok = whether the compare holds. A value compare on a missing key never holds (as in
 * etcd); the numeric targets read a missing key as 0. */
static int txn_compare(struct txn_ctx *x, const struct msg_compare *c, bool *ok)
{
	struct kv_rec r;
	int rv = kv_get(&x->f->kv, x->txn, c->key, &r);
	bool exists = rv == 0;
	int64_t have = 0;
	if (rv != 0 && rv != BERTH_ENOTFOUND)
		return rv;
	switch (c->target) {
	case MSG_CMP_VALUE:
		*ok = exists && txn_holds(txn_cmp_bytes(r.value, c->value), c->op);
		return 0;
	case MSG_CMP_VERSION:
		have = exists ? r.version : 0;
		break;
	case MSG_CMP_CREATE:
		have = exists ? r.create_rev : 0;
		break;
	case MSG_CMP_MOD:
		have = exists ? r.mod_rev : 0;
		break;
	default:
		if (exists && (rv = mp_value_int(r.value.p, r.value.n, &have)) != 0)
			return rv;
		break;
	}
	*ok = txn_holds(txn_cmp_i64(have, c->num), c->op);
	return 0;
}

/* The end of a prefix range: the prefix with its last byte raised, trailing 0xff bytes
 * dropped; no bound (n = 0) when the prefix is empty or all 0xff. */
static struct bytes txn_prefix_end(struct bytes key, uint8_t *buf)
{
	size_t n = key.n;
	while (n > 0 && key.p[n - 1] == 0xff)
		n--;
	if (n == 0)
		return (struct bytes){NULL, 0};
	memcpy(buf, key.p, n);
	buf[n - 1]++;
	return (struct bytes){buf, n};
}

/* Resolves an op's key set into [start, end), or a single key (*single). */
static void txn_bounds(const struct msg_op *op, uint8_t *buf, struct bytes *start,
		       struct bytes *end, bool *single)
{
	*start = op->key;
	*single = false;
	if (op->flags & MSG_F_PREFIX)
		*end = txn_prefix_end(op->key, buf);
	else if (op->end.n == 0)
		*single = true;
	else if (op->end.n == 1 && op->end.p[0] == 0)
		*end = (struct bytes){NULL, 0};
	else
		*end = op->end;
}

struct txn_collect {
	struct kv_rec *kvs;
	size_t nkvs, cap;
	uint64_t count, limit;
	size_t bytes, max_bytes;
	bool want, full;
};

static int txn_collect_cb(void *ctx, const struct kv_rec *r)
{
	struct txn_collect *c = ctx;
	c->count++;
	if (!c->want || c->full || (c->limit && c->nkvs >= c->limit))
		return 0;
	size_t sz = r->key.n + r->value.n + 48;
	if (c->nkvs > 0 && c->bytes + sz > c->max_bytes) {
		c->full = true;
		return 0;
	}
	if (c->nkvs == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		struct kv_rec *k = realloc(c->kvs, cap * sizeof(*k));
		if (k == NULL)
			return BERTH_ENOMEM;
		c->kvs = k;
		c->cap = cap;
	}
	c->kvs[c->nkvs++] = *r;
	c->bytes += sz;
	return 0;
}

static int txn_range(struct txn_ctx *x, const struct msg_op *op)
{
	struct fsm *f = x->f;
	uint8_t ebuf[KV_KEY_HARD_MAX];
	struct bytes start, end;
	/* A read at the revision the transaction started from must not see the transaction's
	 * own writes (they are at rev + 1): once it has written, read history. */
	bool single, past = op->rev != 0 && (op->rev != x->rev || (x->write && f->changed));
	struct txn_collect c = {.limit = op->limit,
				.max_bytes = f->cfg.max_result_bytes,
				.want = !(op->flags & MSG_F_COUNT_ONLY)};
	int rv;

	if (op->rev > x->rev)
		return BERTH_EFUTUREREV;
	if (op->rev != 0 && op->rev < x->compacted)
		return BERTH_ECOMPACTED;
	txn_bounds(op, ebuf, &start, &end, &single);
	if (single) {
		struct kv_rec r;
		rv = past ? kv_get_at(&f->kv, x->txn, start, op->rev, &r)
			  : kv_get(&f->kv, x->txn, start, &r);
		if (rv == 0)
			rv = txn_collect_cb(&c, &r);
		else if (rv == BERTH_ENOTFOUND)
			rv = 0;
	} else if (past) {
		rv = kv_scan_at(&f->kv, x->txn, start, end, op->rev, txn_collect_cb, &c);
	} else {
		rv = kv_scan(&f->kv, x->txn, start, end, txn_collect_cb, &c);
	}
	if (rv == 0) {
		msgpack_packer *pk = &x->out->pk;
		msgpack_pack_map(pk, 4);
		mp_pack_kv_u64(pk, "t", MSG_OP_RANGE);
		mp_pack_kv_u64(pk, "n", c.count);
		mp_pack_kv_bool(pk, "more", c.want && c.count > c.nkvs);
		mp_pack_cstr(pk, "kvs");
		msgpack_pack_array(pk, (uint32_t)c.nkvs);
		for (size_t i = 0; i < c.nkvs; i++) {
			const struct kv_rec *r = &c.kvs[i];
			struct reply_kv kv = {r->key,     r->value,   r->create_rev,
					      r->mod_rev, r->version, r->lease};
			reply_pack_kv(pk, &kv, op->flags & MSG_F_KEYS_ONLY);
		}
	}
	free(c.kvs);
	return rv;
}

static int txn_lease_exists(struct fsm *f, MDB_txn *txn, uint64_t lease)
{
	uint8_t k[8];
	MDB_val key = {8, k}, v;
	kv_be64_put(k, lease);
	int rc = mdb_get(txn, f->kv.leases, &key, &v);
	if (rc == MDB_NOTFOUND)
		return BERTH_ENOTFOUND;
	return rc ? kv_err(&f->kv, rc, "lease get") : 0;
}

static int txn_put(struct txn_ctx *x, const struct msg_op *op)
{
	int rv;
	if (op->lease != 0 && (rv = txn_lease_exists(x->f, x->txn, op->lease)) != 0)
		return rv;
	if ((rv = mvcc_put(x->f, op->key, op->value, op->lease)) != 0)
		return rv;
	msgpack_pack_map(&x->out->pk, 1);
	mp_pack_kv_u64(&x->out->pk, "t", MSG_OP_PUT);
	return 0;
}

static int txn_add(struct txn_ctx *x, const struct msg_op *op)
{
	struct kv_rec r;
	int64_t have = 0, sum;
	uint64_t lease = op->lease;
	uint8_t enc[9];
	int rv = kv_get(&x->f->kv, x->txn, op->key, &r);
	if (rv == 0) {
		if ((rv = mp_value_int(r.value.p, r.value.n, &have)) != 0)
			return rv;
		if (lease == 0)
			lease = r.lease; /* add keeps the key's lease unless it names one */
	} else if (rv != BERTH_ENOTFOUND) {
		return rv;
	}
	if (__builtin_add_overflow(have, op->delta, &sum))
		return BERTH_EOVERFLOW;
	if (op->lease != 0 && (rv = txn_lease_exists(x->f, x->txn, op->lease)) != 0)
		return rv;
	struct bytes v = {enc, mp_int_encode(sum, enc)};
	if ((rv = mvcc_put(x->f, op->key, v, lease)) != 0)
		return rv;
	msgpack_pack_map(&x->out->pk, 2);
	mp_pack_kv_u64(&x->out->pk, "t", MSG_OP_ADD);
	mp_pack_kv_i64(&x->out->pk, "v", sum);
	return 0;
}

struct txn_keys {
	uint8_t *buf; /* concatenated keys */
	size_t len, cap;
	size_t *offs; /* start of each key; offs[n] = len */
	size_t n, ocap;
};

static int txn_keys_cb(void *ctx, const struct kv_rec *r)
{
	struct txn_keys *k = ctx;
	if (k->len + r->key.n > k->cap) {
		size_t cap = k->cap ? k->cap : 1024;
		while (cap < k->len + r->key.n)
			cap *= 2;
		uint8_t *b = realloc(k->buf, cap);
		if (b == NULL)
			return BERTH_ENOMEM;
		k->buf = b;
		k->cap = cap;
	}
	if (k->n + 2 > k->ocap) {
		size_t cap = k->ocap ? 2 * k->ocap : 64;
		size_t *o = realloc(k->offs, cap * sizeof(*o));
		if (o == NULL)
			return BERTH_ENOMEM;
		k->offs = o;
		k->ocap = cap;
	}
	memcpy(k->buf + k->len, r->key.p, r->key.n);
	k->offs[k->n++] = k->len;
	k->len += r->key.n;
	k->offs[k->n] = k->len;
	return 0;
}

static int txn_del(struct txn_ctx *x, const struct msg_op *op)
{
	uint8_t ebuf[KV_KEY_HARD_MAX];
	struct bytes start, end;
	bool single;
	struct txn_keys keys = {0};
	int rv;
	uint64_t deleted = 0;

	txn_bounds(op, ebuf, &start, &end, &single);
	if (single) {
		struct kv_rec r;
		rv = kv_get(&x->f->kv, x->txn, start, &r);
		if (rv == 0 && (rv = mvcc_del(x->f, start)) == 0)
			deleted = 1;
		else if (rv == BERTH_ENOTFOUND)
			rv = 0;
	} else {
		/* Copy the keys first: deleting moves the pages the scan borrows from. */
		rv = kv_scan(&x->f->kv, x->txn, start, end, txn_keys_cb, &keys);
		for (size_t i = 0; rv == 0 && i < keys.n; i++) {
			struct bytes k = {keys.buf + keys.offs[i], keys.offs[i + 1] - keys.offs[i]};
			rv = mvcc_del(x->f, k);
		}
		deleted = keys.n;
		free(keys.buf);
		free(keys.offs);
	}
	if (rv == 0) {
		msgpack_pack_map(&x->out->pk, 2);
		mp_pack_kv_u64(&x->out->pk, "t", MSG_OP_DEL);
		mp_pack_kv_u64(&x->out->pk, "d", deleted);
	}
	return rv;
}

/* A branch with a write and anything after or before it can meet a business error after
 * writing: such a branch runs in a nested LMDB transaction that an error aborts. A branch
 * of one operation needs none: every error it can meet comes before its write. */
static bool txn_needs_child(const struct msg_op *ops, uint32_t n)
{
	if (n < 2)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (ops[i].type != MSG_OP_RANGE)
			return true;
	return false;
}

static int txn_run_ops(struct txn_ctx *x, const struct msg_op *ops, uint32_t n, bool ok)
{
	int rv = 0;
	msgpack_packer *pk = &x->out->pk;
	msgpack_pack_map(pk, 3);
	mp_pack_kv_bool(pk, "ok", ok);
	mp_pack_cstr(pk, "r");
	msgpack_pack_array(pk, n);
	for (uint32_t i = 0; rv == 0 && i < n; i++) {
		switch (ops[i].type) {
		case MSG_OP_RANGE:
			rv = txn_range(x, &ops[i]);
			break;
		case MSG_OP_PUT:
			rv = txn_put(x, &ops[i]);
			break;
		case MSG_OP_DEL:
			rv = txn_del(x, &ops[i]);
			break;
		default:
			rv = txn_add(x, &ops[i]);
			break;
		}
	}
	return rv;
}

static int txn_run(struct txn_ctx *x, const struct msg_txn *t)
{
	struct fsm *f = x->f;
	MDB_txn *child = NULL;
	bool ok = true;
	int rc, rv = txn_check(&f->cfg, t, x->write);
	for (uint32_t i = 0; rv == 0 && ok && i < t->ncmp; i++)
		rv = txn_compare(x, &t->cmp[i], &ok);
	if (rv != 0)
		return rv;
	const struct msg_op *ops = ok ? t->succ : t->fail;
	uint32_t n = ok ? t->nsucc : t->nfail;
	if (x->write && txn_needs_child(ops, n)) {
		if ((rc = mdb_txn_begin(f->kv.env, f->batch, 0, &child)) != 0)
			return kv_err(&f->kv, rc, "txn child begin");
		f->txn = x->txn = child;
	}
	rv = txn_run_ops(x, ops, n, ok);
	if (child != NULL) {
		f->txn = x->txn = f->batch;
		if (rv == 0 && (rc = mdb_txn_commit(child)) != 0)
			rv = kv_err(&f->kv, rc, "txn child commit");
		else if (rv != 0)
			mdb_txn_abort(child);
	}
	return rv;
}

/* Packs the closing "rev" field, or replaces a partial reply with an error reply. */
static int txn_finish(struct mp_buf *out, size_t mark, int rv, uint64_t rev)
{
	if (rv != 0 && mvcc_fatal(rv))
		return rv;
	if (rv != 0) {
		out->len = mark;
		reply_pack_error(&out->pk, rv, rev);
	} else {
		mp_pack_kv_u64(&out->pk, "rev", rev);
	}
	return mp_buf_error(out);
}

int txn_apply(struct fsm *f, const struct msg_txn *t, struct mp_buf *out)
{
	size_t mark = out->len;
	struct txn_ctx x = {f, f->txn, true, f->m.rev, f->m.compacted, out};
	int rv = txn_run(&x, t);
	if (rv != 0) {
		f->sub = 0;
		f->changed = false;
	}
	return txn_finish(out, mark, rv, f->changed ? f->rev_next : f->m.rev);
}

int txn_read(struct fsm *f, MDB_txn *rtxn, uint64_t rev, uint64_t compacted,
	     const struct msg_txn *t, struct mp_buf *out)
{
	size_t mark = out->len;
	struct txn_ctx x = {f, rtxn, false, rev, compacted, out};
	return txn_finish(out, mark, txn_run(&x, t), rev);
}
