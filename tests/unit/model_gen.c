/* tests/unit/model_gen.c: the command generator of the model-based test: transactions,
 * reads, leases and compactions aimed at the model's keys and leases, a few of them invalid. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/mp.h"
#include "store/fsm.h"
#include "tests/unit/model.h"
#include "tests/unit/model_gen.h"
#include "tests/unit/model_keys.h"
#include "tests/unit/rng.h"
#include "tests/unit/model_run.h"

#include <string.h>

static uint8_t *gen_alloc(struct gcmd *g, size_t n)
{
	assert_true(g->used + n <= GEN_BUF);
	g->used += n;
	return g->buf + g->used - n;
}

static struct bytes gen_copy(struct gcmd *g, const uint8_t *p, size_t n)
{
	uint8_t *d = gen_alloc(g, n);
	if (n > 0)
		memcpy(d, p, n);
	return (struct bytes){d, n};
}

static struct bytes gen_key(struct run *x)
{
	if (rng_pct(&x->rng, x->long_pct))
		return model_keys_pick(MODEL_KEYS_LONG, &x->rng);
	return model_keys_pick(MODEL_KEYS_SHORT, &x->rng);
}

static struct bytes gen_bound(struct run *x)
{
	if (rng_pct(&x->rng, 60))
		return gen_key(x);
	return model_keys_pick(MODEL_KEYS_BOUND, &x->rng);
}

static int64_t gen_int(struct run *x)
{
	switch (rng_below(&x->rng, 10)) {
	case 0:
	case 1:
	case 2:
	case 3:
		return (int64_t)rng_below(&x->rng, 240) - 40;
	case 4:
		return INT64_MAX - (int64_t)rng_below(&x->rng, 3);
	case 5:
		return INT64_MIN + (int64_t)rng_below(&x->rng, 3);
	case 6:
		return (int64_t)rng_next(&x->rng);
	case 7:
		return ((int64_t)1 << (8 * (1 + rng_below(&x->rng, 4)))) - 2 +
		       (int64_t)rng_below(&x->rng, 4);
	case 8:
		return -((int64_t)1 << (8 * (1 + rng_below(&x->rng, 4)) - 1)) - 2 +
		       (int64_t)rng_below(&x->rng, 4);
	default:
		return 0;
	}
}

static int64_t gen_delta(struct run *x)
{
	switch (rng_below(&x->rng, 10)) {
	case 0:
		return INT64_MAX;
	case 1:
		return INT64_MIN;
	case 2:
		return (int64_t)rng_next(&x->rng);
	default:
		return (int64_t)rng_below(&x->rng, 7) - 3;
	}
}

/* Random bytes, canonical msgpack integers (mp_int_encode), and integer-looking odd ones. */
static struct bytes gen_value(struct run *x, struct gcmd *g)
{
	static const uint8_t alpha[] = {'a', 'b', 0, 0xff, 0x7f, 0xcc, 0xd3};
	uint64_t k = rng_below(&x->rng, 100);
	uint8_t *p;
	if (k < 45) {
		p = gen_alloc(g, 9);
		size_t n = mp_int_encode(gen_int(x), p);
		g->used -= 9 - n;
		return (struct bytes){p, n};
	}
	if (k < 52) {
		/* Wide encodings: d3 of a small number is an integer, cf above INT64_MAX is not. */
		int64_t v = (int64_t)rng_below(&x->rng, 200) - 100;
		p = gen_alloc(g, 9);
		p[0] = rng_pct(&x->rng, 50) ? 0xd3 : 0xcf;
		for (int i = 0; i < 8; i++)
			p[1 + i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
		return (struct bytes){p, 9};
	}
	if (k < 58)
		return (struct bytes){NULL, 0};
	size_t n = 1 + rng_below(&x->rng, 12);
	p = gen_alloc(g, n);
	for (size_t i = 0; i < n; i++)
		p[i] = rng_pct(&x->rng, 70) ? alpha[rng_below(&x->rng, sizeof(alpha))]
					    : (uint8_t)rng_next(&x->rng);
	return (struct bytes){p, n};
}

/* A live lease (when there is one and the dice say so), a missing one, or none. */
static uint64_t gen_lease(struct run *x, unsigned live_pct, unsigned missing_pct)
{
	uint64_t k = rng_below(&x->rng, 100);
	if (k < live_pct && x->m.nleases > 0)
		return x->m.leases[rng_below(&x->rng, x->m.nleases)].id;
	if (k < live_pct + missing_pct) {
		uint64_t id = x->m.next_lease + 50 + rng_below(&x->rng, 5);
		return model_lease_find(&x->m, id) < 0 ? id : 0;
	}
	return 0;
}

/* One key, a prefix, [start, end) or [start, no bound). */
static void gen_addr(struct run *x, struct msg_op *op, bool del)
{
	uint64_t k = rng_below(&x->rng, 100);
	if (k < (del ? 50u : 40u)) {
		op->key = gen_key(x);
	} else if (k < 70) {
		op->flags |= MSG_F_PREFIX;
		/* Deleting prefix "" empties the store: rarely. */
		do
			op->key = model_keys_pick(MODEL_KEYS_PREFIX, &x->rng);
		while (del && op->key.n == 0 && rng_pct(&x->rng, 90));
	} else {
		op->key = gen_bound(x);
		op->end = rng_pct(&x->rng, 25) ? (struct bytes){(const uint8_t *)"", 1}
					       : gen_bound(x);
	}
}

/* 0 (current), a past revision, the current one, a future one, or a compacted one. */
static uint64_t gen_read_rev(struct run *x)
{
	const struct model *m = &x->m;
	uint64_t k = rng_below(&x->rng, 100);
	uint64_t lo = m->compacted > 0 ? m->compacted : 1, hi = m->rev;
	if (k < 62 || hi < lo)
		return 0;
	if (k < 88)
		return lo + rng_below(&x->rng, hi - lo + 1);
	if (k < 92)
		return hi;
	if (k < 96 || m->compacted <= 1)
		return m->rev + 1 + rng_below(&x->rng, 2);
	return 1 + rng_below(&x->rng, m->compacted - 1);
}

static void gen_op(struct run *x, struct gcmd *g, struct msg_op *op, uint8_t type)
{
	memset(op, 0, sizeof(*op));
	op->type = type;
	switch (type) {
	case MSG_OP_RANGE:
		gen_addr(x, op, false);
		if (rng_pct(&x->rng, 15))
			op->flags |= MSG_F_KEYS_ONLY;
		if (rng_pct(&x->rng, 10))
			op->flags |= MSG_F_COUNT_ONLY;
		if (rng_pct(&x->rng, 30))
			op->limit = 1 + rng_below(&x->rng, 4);
		op->rev = gen_read_rev(x);
		break;
	case MSG_OP_PUT:
		op->key = gen_key(x);
		op->value = gen_value(x, g);
		op->lease = gen_lease(x, 20, 3);
		break;
	case MSG_OP_DEL:
		gen_addr(x, op, true);
		break;
	default:
		op->key = gen_key(x);
		op->delta = gen_delta(x);
		op->lease = gen_lease(x, 10, 2);
		break;
	}
}

static uint8_t gen_op_type(struct run *x)
{
	uint64_t k = rng_below(&x->rng, 100);
	return k < 35 ? MSG_OP_PUT : k < 50 ? MSG_OP_DEL : k < 70 ? MSG_OP_ADD : MSG_OP_RANGE;
}

/* Compares aimed at the key's real state half of the time, so both branches run. */
static void gen_cmp(struct run *x, struct gcmd *g, struct msg_compare *c)
{
	c->target = (uint8_t)rng_below(&x->rng, MSG_CMP_TARGET_COUNT);
	c->op = (uint8_t)rng_below(&x->rng, MSG_CMP_OP_COUNT);
	c->key = rng_pct(&x->rng, 95) ? gen_key(x) : gen_bound(x);
	int i = model_keys_find(c->key);
	const struct mver *v = i >= 0 ? model_current(&x->m, (size_t)i) : NULL;
	int64_t have = 0;
	switch (c->target) {
	case MSG_CMP_VALUE:
		c->value = v && rng_pct(&x->rng, 50) ? gen_copy(g, v->val, v->vn) : gen_value(x, g);
		return;
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
		if (v == NULL || !model_int(v->val, v->vn, &have))
			have = gen_int(x);
		break;
	}
	c->num =
		rng_pct(&x->rng, 50) ? have : (int64_t)((uint64_t)have + rng_below(&x->rng, 3) - 1);
}

/* Makes one thing about the transaction invalid (EBADREQ or ETOOLARGE). */
static void gen_invalid(struct run *x, struct gcmd *g)
{
	struct msg_txn *t = &g->c.txn;
	uint64_t k = rng_below(&x->rng, 6);
	if (k == 5 && t->ncmp > 0) {
		t->cmp[0].key = (struct bytes){NULL, 0};
		return;
	}
	if (t->nsucc == 0)
		gen_op(x, g, &g->succ[t->nsucc++], gen_op_type(x));
	struct msg_op *op = &g->succ[rng_below(&x->rng, t->nsucc)];
	switch (k) {
	case 0: /* an empty key, not a prefix */
		op->key = (struct bytes){NULL, 0};
		op->end = (struct bytes){NULL, 0};
		op->flags &= (uint8_t)~MSG_F_PREFIX;
		break;
	case 1: /* a prefix with an end */
		op->flags |= MSG_F_PREFIX;
		op->end = (struct bytes){(const uint8_t *)"z", 1};
		break;
	case 2: /* a key over the limit */
		op->key.p = gen_alloc(g, MODEL_MAX_KEY_BYTES + 1);
		memset((uint8_t *)op->key.p, 'k', MODEL_MAX_KEY_BYTES + 1);
		op->key.n = MODEL_MAX_KEY_BYTES + 1;
		break;
	case 3: /* count-only on a write, or a prefix put */
		if (op->type == MSG_OP_RANGE)
			op->type = MSG_OP_PUT;
		op->flags |= op->type == MSG_OP_PUT ? MSG_F_PREFIX : MSG_F_COUNT_ONLY;
		break;
	default: /* a limit on a write */
		if (op->type == MSG_OP_RANGE)
			op->type = MSG_OP_DEL;
		op->limit = 1;
		break;
	}
}

static void gen_txn(struct run *x, struct gcmd *g)
{
	struct msg_txn *t = &g->c.txn;
	uint64_t k = rng_below(&x->rng, 100);
	g->c.type = MSG_CMD_TXN;
	t->cmp = g->cmp;
	t->succ = g->succ;
	t->fail = g->fail;
	if (k < 66) {
		/* A single operation: the shape of get, range, put, delete and add. */
		uint8_t type = k < 28   ? MSG_OP_PUT
			       : k < 40 ? MSG_OP_DEL
			       : k < 52 ? MSG_OP_ADD
					: MSG_OP_RANGE;
		gen_op(x, g, &g->succ[t->nsucc++], type);
	} else {
		t->ncmp = (uint32_t)rng_below(&x->rng, GEN_MAX_CMP);
		t->nsucc = (uint32_t)rng_below(&x->rng, GEN_MAX_OPS);
		t->nfail = (uint32_t)rng_below(&x->rng, GEN_MAX_OPS - 1);
		for (uint32_t i = 0; i < t->ncmp; i++)
			gen_cmp(x, g, &g->cmp[i]);
		for (uint32_t i = 0; i < t->nsucc; i++)
			gen_op(x, g, &g->succ[i], gen_op_type(x));
		for (uint32_t i = 0; i < t->nfail; i++)
			gen_op(x, g, &g->fail[i], gen_op_type(x));
	}
	if (rng_pct(&x->rng, 2))
		gen_invalid(x, g);
}

/* A read-only transaction for fsm_read (sometimes with a write, which it must refuse). */
static void gen_read(struct run *x, struct gcmd *g)
{
	struct msg_txn *t = &g->c.txn;
	g->read = true;
	g->c.type = MSG_CMD_TXN;
	t->cmp = g->cmp;
	t->succ = g->succ;
	t->fail = g->fail;
	t->ncmp = (uint32_t)rng_below(&x->rng, 3);
	t->nsucc = 1 + (uint32_t)rng_below(&x->rng, 3);
	t->nfail = (uint32_t)rng_below(&x->rng, 3);
	for (uint32_t i = 0; i < t->ncmp; i++)
		gen_cmp(x, g, &g->cmp[i]);
	for (uint32_t i = 0; i < t->nsucc; i++)
		gen_op(x, g, &g->succ[i], MSG_OP_RANGE);
	for (uint32_t i = 0; i < t->nfail; i++)
		gen_op(x, g, &g->fail[i], MSG_OP_RANGE);
	if (rng_pct(&x->rng, 5))
		gen_op(x, g, &g->succ[rng_below(&x->rng, t->nsucc)], gen_op_type(x));
}

static void gen_compact(struct run *x, struct gcmd *g)
{
	const struct model *m = &x->m;
	uint64_t k = rng_below(&x->rng, 100);
	g->c.type = MSG_CMD_COMPACT;
	if (k < 75 && m->rev > m->compacted) /* keep a window of recent history readable */
		g->c.rev =
			m->rev -
			rng_below(&x->rng, m->rev - m->compacted < 60 ? m->rev - m->compacted : 60);
	else if (k < 85)
		g->c.rev = m->compacted;
	else if (k < 95)
		g->c.rev = m->rev + 1 + rng_below(&x->rng, 2);
	else
		g->c.rev = rng_below(&x->rng, m->compacted + 1);
}

void model_gen_cmd(struct run *x, struct gcmd *g, bool log_only)
{
	memset(g, 0, offsetof(struct gcmd, buf));
	g->used = 0;
	g->c.time_ms = 1000 + 7 * x->step;
	uint64_t k = rng_below(&x->rng, 1000);
	uint64_t revoke = x->m.nleases > 6 ? 60 : 25;
	if (k < 70) {
		if (log_only)
			gen_txn(x, g);
		else
			gen_read(x, g);
	} else if (k < 100) {
		g->c.type = MSG_CMD_LEASE_GRANT;
		g->c.ttl = 1 + (int64_t)rng_below(&x->rng, 100);
		if (rng_pct(&x->rng, 15)) /* a client-chosen id: may sit in the allocator's way */
			g->c.lease = rng_pct(&x->rng, 50)
					     ? gen_lease(x, 100, 0)
					     : 1 + rng_below(&x->rng, x->m.next_lease + 4);
		if (g->c.lease == 0 && rng_pct(&x->rng, 15))
			g->c.lease = 1 + rng_below(&x->rng, x->m.next_lease + 4);
		if (rng_pct(&x->rng, 5))
			g->c.ttl = rng_pct(&x->rng, 50) ? -(int64_t)rng_below(&x->rng, 2)
							: FSM_LEASE_MAX_TTL_S + 1;
	} else if (k < 100 + revoke) {
		g->c.type = MSG_CMD_LEASE_REVOKE;
		g->c.lease = gen_lease(x, 80, 20);
		if (g->c.lease == 0)
			g->c.lease = 1 + rng_below(&x->rng, x->m.next_lease + 3);
	} else if (k < 105 + revoke) {
		g->c.type = MSG_CMD_LEASE_EXPIRE;
		g->c.nleases = 1 + (uint32_t)rng_below(&x->rng, 3);
		g->c.leases = g->leases;
		for (uint32_t i = 0; i < g->c.nleases; i++)
			g->leases[i] = gen_lease(x, 70, 30);
	} else if (k < 125 + revoke) {
		gen_compact(x, g);
	} else {
		gen_txn(x, g);
	}
}
