/* tests/unit/model.c: the reference model of the state machine for the model-based test;
 * model.h says what it models and from which documents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "store/fsm.h"
#include "tests/unit/model.h"

#include <stdlib.h>
#include <string.h>

void model_free(struct model *m)
{
	for (size_t i = 0; i < MODEL_MAX_KEYS; i++) {
		for (size_t j = 0; j < m->hist[i].n; j++)
			free(m->hist[i].v[j].val);
		free(m->hist[i].v);
		if (m->changed[i])
			free(m->pend[i].val);
	}
	free(m->leases);
	memset(m, 0, sizeof(*m));
}

const struct mver *model_current(const struct model *m, size_t i)
{
	const struct mhist *h = &m->hist[i];
	return h->n > 0 && h->v[h->n - 1].live ? &h->v[h->n - 1] : NULL;
}

/* What the command being applied sees: its own earlier writes, then the committed state. */
static const struct mver *model_view(const struct model *m, size_t i)
{
	if (m->changed[i])
		return m->pend[i].live ? &m->pend[i] : NULL;
	return model_current(m, i);
}

/* Key i at revision rev (>= compacted), NULL when it did not exist then. */
static const struct mver *model_at(const struct model *m, size_t i, uint64_t rev)
{
	const struct mhist *h = &m->hist[i];
	for (size_t j = h->n; j > 0; j--)
		if (h->v[j - 1].rev <= rev)
			return h->v[j - 1].live ? &h->v[j - 1] : NULL;
	return NULL;
}

int model_lease_find(const struct model *m, uint64_t id)
{
	for (size_t i = 0; i < m->nleases; i++)
		if (m->leases[i].id == id)
			return (int)i;
	return -1;
}

static void model_lease_add(struct model *m, uint64_t id, int64_t ttl)
{
	if (m->nleases == m->lcap) {
		m->lcap = m->lcap ? 2 * m->lcap : 16;
		m->leases = realloc(m->leases, m->lcap * sizeof(*m->leases));
		assert_non_null(m->leases);
	}
	size_t at = m->nleases;
	while (at > 0 && m->leases[at - 1].id > id)
		at--;
	memmove(&m->leases[at + 1], &m->leases[at], (m->nleases - at) * sizeof(*m->leases));
	m->leases[at] = (struct mlease){id, ttl};
	m->nleases++;
}

/* Records a change of key i by the command being applied (a put when live). */
static void model_set(struct model *m, size_t i, bool live, const uint8_t *val, size_t vn,
		      uint64_t lease)
{
	const struct mver *cur = model_view(m, i);
	struct mver v = {.rev = m->rev + 1, .live = live};
	assert_false(m->changed[i]);
	if (live) {
		v.val = malloc(vn ? vn : 1);
		assert_non_null(v.val);
		if (vn > 0)
			memcpy(v.val, val, vn);
		v.vn = vn;
		v.create_rev = cur ? cur->create_rev : (int64_t)(m->rev + 1);
		v.version = cur ? cur->version + 1 : 1;
		v.lease = lease;
	}
	m->pend[i] = v;
	m->changed[i] = true;
	m->any_changed = true;
}

/* Ends a successful command: its changes (if any) become revision rev + 1. */
static uint64_t model_commit(struct model *m)
{
	if (!m->any_changed)
		return m->rev;
	m->rev++;
	for (size_t i = 0; i < model_keys_count(); i++) {
		if (!m->changed[i])
			continue;
		struct mhist *h = &m->hist[i];
		if (h->n == h->cap) {
			h->cap = h->cap ? 2 * h->cap : 4;
			h->v = realloc(h->v, h->cap * sizeof(*h->v));
			assert_non_null(h->v);
		}
		h->v[h->n++] = m->pend[i];
		m->changed[i] = false;
	}
	m->any_changed = false;
	return m->rev;
}

static void model_discard(struct model *m)
{
	for (size_t i = 0; i < model_keys_count(); i++) {
		if (m->changed[i])
			free(m->pend[i].val);
		m->changed[i] = false;
	}
	m->any_changed = false;
}

bool model_int(const uint8_t *p, size_t n, int64_t *out)
{
	if (n == 1 && (p[0] <= 0x7f || p[0] >= 0xe0)) {
		*out = p[0] >= 0xe0 ? (int8_t)p[0] : p[0];
		return true;
	}
	if (n == 0 || p[0] < 0xcc || p[0] > 0xd3)
		return false;
	bool is_signed = p[0] >= 0xd0;
	size_t w = (size_t)1 << ((p[0] - (is_signed ? 0xd0 : 0xcc)) & 3);
	if (n != 1 + w)
		return false;
	uint64_t u = 0;
	for (size_t i = 0; i < w; i++)
		u = (u << 8) | p[1 + i];
	if (!is_signed && u > INT64_MAX)
		return false;
	if (is_signed && w < 8 && (u >> (8 * w - 1)) & 1)
		u |= ~(uint64_t)0 << (8 * w);
	memcpy(out, &u, sizeof(u));
	return true;
}

/* The shortest msgpack encoding of v (what `add` stores). */
static size_t model_int_encode(int64_t v, uint8_t out[9])
{
	if ((v >= 0 && v <= 0x7f) || (v < 0 && v >= -32)) {
		out[0] = (uint8_t)v;
		return 1;
	}
	size_t w;
	uint8_t tag;
	if (v > 0) {
		w = v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffll ? 4 : 8;
		tag = 0xcc;
	} else {
		w = v >= INT8_MIN ? 1 : v >= INT16_MIN ? 2 : v >= INT32_MIN ? 4 : 8;
		tag = 0xd0;
	}
	out[0] = (uint8_t)(tag + (w == 1 ? 0 : w == 2 ? 1 : w == 4 ? 2 : 3));
	for (size_t i = 0; i < w; i++)
		out[1 + i] = (uint8_t)((uint64_t)v >> (8 * (w - 1 - i)));
	return 1 + w;
}

static bool model_holds(int c, uint8_t op)
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

/* Whether key k is addressed by the op (common/msg.h: one key, a prefix, or [key, end)
 * where an end of one zero byte has no bound). */
static bool model_in_range(const struct msg_op *op, struct bytes k)
{
	if (op->flags & MSG_F_PREFIX)
		return k.n >= op->key.n &&
		       (op->key.n == 0 || memcmp(k.p, op->key.p, op->key.n) == 0);
	if (op->end.n == 0)
		return model_keys_eq(k, op->key);
	if (model_keys_cmp(k, op->key) < 0)
		return false;
	if (op->end.n == 1 && op->end.p[0] == 0)
		return true;
	return model_keys_cmp(k, op->end) < 0;
}

/* Request validation: limits, and the op shapes common/msg.h allows. */
static int model_check_op(const struct msg_op *op, bool write_ok)
{
	bool ranged = op->type == MSG_OP_RANGE || op->type == MSG_OP_DEL;
	if (!write_ok && op->type != MSG_OP_RANGE)
		return BERTH_EBADREQ; /* fsm_read answers only reads */
	if (op->key.n > MODEL_MAX_KEY_BYTES || op->end.n > MODEL_MAX_KEY_BYTES)
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

static int model_check(const struct msg_txn *t, bool write_ok)
{
	int rv = 0;
	for (uint32_t i = 0; rv == 0 && i < t->ncmp; i++)
		if (t->cmp[i].key.n == 0)
			rv = BERTH_EBADREQ;
		else if (t->cmp[i].key.n > MODEL_MAX_KEY_BYTES)
			rv = BERTH_ETOOLARGE;
	for (uint32_t i = 0; rv == 0 && i < t->nsucc; i++)
		rv = model_check_op(&t->succ[i], write_ok);
	for (uint32_t i = 0; rv == 0 && i < t->nfail; i++)
		rv = model_check_op(&t->fail[i], write_ok);
	return rv;
}

/* A value compare on a missing key never holds; numeric targets read a missing key as 0;
 * an INT compare on a value that is not an integer rejects the transaction. */
static int model_compare(const struct model *m, const struct msg_compare *c, bool *ok)
{
	int i = model_keys_find(c->key);
	const struct mver *v = i >= 0 ? model_view(m, (size_t)i) : NULL;
	int64_t have = 0;
	switch (c->target) {
	case MSG_CMP_VALUE:
		*ok = v != NULL &&
		      model_holds(model_keys_cmp((struct bytes){v->val, v->vn}, c->value), c->op);
		return 0;
	case MSG_CMP_VERSION:
		have = v ? v->version : 0;
		break;
	case MSG_CMP_CREATE:
		have = v ? v->create_rev : 0;
		break;
	case MSG_CMP_MOD:
		have = v ? (int64_t)v->rev : 0;
		break;
	default:
		if (v != NULL && !model_int(v->val, v->vn, &have))
			return BERTH_ETYPE;
		break;
	}
	*ok = model_holds(have < c->num ? -1 : have > c->num, c->op);
	return 0;
}

static int model_range(const struct model *m, const struct msg_op *op, struct reply_op *ro)
{
	bool want = !(op->flags & MSG_F_COUNT_ONLY);
	if (op->rev > m->rev)
		return BERTH_EFUTUREREV;
	if (op->rev != 0 && op->rev < m->compacted)
		return BERTH_ECOMPACTED;
	ro->type = MSG_OP_RANGE;
	ro->kvs = calloc(model_keys_count(), sizeof(*ro->kvs));
	assert_non_null(ro->kvs);
	for (size_t i = 0; i < model_keys_count(); i++) {
		if (!model_in_range(op, model_keys_get(i)))
			continue;
		/* A past revision reads the history: the state at that revision, which never
		 * includes this transaction's own writes (they are at rev + 1). */
		const struct mver *v = op->rev ? model_at(m, i, op->rev) : model_view(m, i);
		if (v == NULL)
			continue;
		ro->count++;
		if (!want || (op->limit != 0 && ro->nkvs >= op->limit))
			continue;
		struct reply_kv *kv = &ro->kvs[ro->nkvs++];
		kv->key = model_keys_get(i);
		if (!(op->flags & MSG_F_KEYS_ONLY))
			kv->value = (struct bytes){v->val, v->vn};
		kv->create_rev = v->create_rev;
		kv->mod_rev = (int64_t)v->rev;
		kv->version = v->version;
		kv->lease = v->lease;
	}
	ro->more = want && ro->count > ro->nkvs;
	return 0;
}

static size_t model_write_key(struct bytes k)
{
	int i = model_keys_find(k);
	assert_true(i >= 0); /* the generator writes universe keys only */
	return (size_t)i;
}

static int model_put(struct model *m, const struct msg_op *op, struct reply_op *ro)
{
	size_t i = model_write_key(op->key);
	if (op->lease != 0 && model_lease_find(m, op->lease) < 0)
		return BERTH_ENOTFOUND;
	if (m->changed[i])
		return BERTH_EDUPKEY;
	model_set(m, i, true, op->value.p, op->value.n, op->lease);
	ro->type = MSG_OP_PUT;
	return 0;
}

/* The store checks add in this order: type, overflow, lease, second change. */
static int model_add(struct model *m, const struct msg_op *op, struct reply_op *ro)
{
	size_t i = model_write_key(op->key);
	const struct mver *cur = model_view(m, i);
	int64_t have = 0, sum;
	uint64_t lease = op->lease;
	uint8_t enc[9];
	if (cur != NULL) {
		if (!model_int(cur->val, cur->vn, &have))
			return BERTH_ETYPE;
		if (lease == 0)
			lease = cur->lease; /* add keeps the key's lease unless it names one */
	}
	if (__builtin_add_overflow(have, op->delta, &sum))
		return BERTH_EOVERFLOW;
	if (op->lease != 0 && model_lease_find(m, op->lease) < 0)
		return BERTH_ENOTFOUND;
	if (m->changed[i])
		return BERTH_EDUPKEY;
	model_set(m, i, true, enc, model_int_encode(sum, enc), lease);
	ro->type = MSG_OP_ADD;
	ro->value = sum;
	return 0;
}

/* Deleting a key that does not exist (any more) changes nothing, so it is no second change. */
static int model_del(struct model *m, const struct msg_op *op, struct reply_op *ro)
{
	ro->type = MSG_OP_DEL;
	for (size_t i = 0; i < model_keys_count(); i++) {
		if (!model_in_range(op, model_keys_get(i)) || model_view(m, i) == NULL)
			continue;
		if (m->changed[i])
			return BERTH_EDUPKEY;
		model_set(m, i, false, NULL, 0, 0);
		ro->deleted++;
	}
	return 0;
}

static void model_error(struct model *m, int err, struct reply *r)
{
	model_discard(m);
	reply_free(r);
	memset(r, 0, sizeof(*r));
	r->err = err;
	r->rev = m->rev;
}

void model_txn(struct model *m, const struct msg_txn *t, bool write_ok, struct reply *r)
{
	bool ok = true;
	int err = model_check(t, write_ok);
	memset(r, 0, sizeof(*r));
	for (uint32_t i = 0; err == 0 && ok && i < t->ncmp; i++)
		err = model_compare(m, &t->cmp[i], &ok);
	if (err == 0) {
		const struct msg_op *ops = ok ? t->succ : t->fail;
		uint32_t n = ok ? t->nsucc : t->nfail;
		r->succeeded = ok;
		r->nops = n;
		r->ops = n ? calloc(n, sizeof(*r->ops)) : NULL;
		assert_true(n == 0 || r->ops != NULL);
		for (uint32_t i = 0; err == 0 && i < n; i++) {
			switch (ops[i].type) {
			case MSG_OP_RANGE:
				err = model_range(m, &ops[i], &r->ops[i]);
				break;
			case MSG_OP_PUT:
				err = model_put(m, &ops[i], &r->ops[i]);
				break;
			case MSG_OP_DEL:
				err = model_del(m, &ops[i], &r->ops[i]);
				break;
			default:
				err = model_add(m, &ops[i], &r->ops[i]);
				break;
			}
		}
	}
	if (err != 0)
		model_error(m, err, r);
	else
		r->rev = model_commit(m);
}

/* Deletes every key attached to the lease (at the command's revision) and the lease. */
static void model_lease_drop(struct model *m, uint64_t id)
{
	for (size_t i = 0; i < model_keys_count(); i++) {
		const struct mver *v = model_view(m, i);
		if (v != NULL && v->lease == id) {
			model_set(m, i, false, NULL, 0, 0);
			m->dropped++;
		}
	}
	int at = model_lease_find(m, id);
	memmove(&m->leases[at], &m->leases[at + 1],
		(m->nleases - (size_t)at - 1) * sizeof(*m->leases));
	m->nleases--;
}

static void model_compact(struct model *m, uint64_t rev, struct reply *r)
{
	r->rev = m->rev;
	if (rev > m->rev) {
		r->err = BERTH_EFUTUREREV;
		return;
	}
	if (rev <= m->compacted) {
		r->err = BERTH_ECOMPACTED;
		return;
	}
	/* Keep, per key, the newest version at or before rev unless it is a tombstone. */
	for (size_t i = 0; i < model_keys_count(); i++) {
		struct mhist *h = &m->hist[i];
		size_t drop = 0;
		for (size_t j = h->n; j > 0; j--) {
			if (h->v[j - 1].rev <= rev) {
				drop = h->v[j - 1].live ? j - 1 : j;
				break;
			}
		}
		if (drop == 0)
			continue;
		for (size_t j = 0; j < drop; j++)
			free(h->v[j].val);
		memmove(h->v, h->v + drop, (h->n - drop) * sizeof(*h->v));
		h->n -= drop;
	}
	m->compacted = rev;
}

void model_apply(struct model *m, const struct msg_cmd *c, struct reply *r)
{
	memset(r, 0, sizeof(*r));
	switch (c->type) {
	case MSG_CMD_TXN:
		model_txn(m, &c->txn, true, r);
		break;
	case MSG_CMD_COMPACT:
		model_compact(m, c->rev, r);
		break;
	case MSG_CMD_LEASE_GRANT: {
		uint64_t id = c->lease;
		r->rev = m->rev;
		if (c->ttl < 1 || c->ttl > FSM_LEASE_MAX_TTL_S) {
			r->err = BERTH_EBADREQ;
			break;
		}
		if (id == 0) {
			do
				id = ++m->next_lease; /* skipping ids clients took */
			while (model_lease_find(m, id) >= 0);
		} else if (model_lease_find(m, id) >= 0) {
			r->err = BERTH_EEXISTS;
			break;
		}
		model_lease_add(m, id, c->ttl);
		r->id = id;
		r->ttl = c->ttl;
		break;
	}
	case MSG_CMD_LEASE_REVOKE:
		if (model_lease_find(m, c->lease) < 0) {
			r->err = BERTH_ENOTFOUND;
			r->rev = m->rev;
			break;
		}
		model_lease_drop(m, c->lease);
		r->id = c->lease;
		r->rev = model_commit(m);
		break;
	case MSG_CMD_LEASE_EXPIRE:
		for (uint32_t i = 0; i < c->nleases; i++)
			if (model_lease_find(m, c->leases[i]) >= 0)
				model_lease_drop(m, c->leases[i]);
		r->rev = model_commit(m);
		break;
	default:
		fail_msg("model: command type %u not modelled", c->type);
	}
}
