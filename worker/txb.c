/* worker/txb.c: the transaction builder (worker/txb.h). */
#include "worker/txb.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

void txb_init(struct txb *b)
{
	memset(b, 0, sizeof(*b));
}

void txb_close(struct txb *b)
{
	void **owned = b->owned.items;
	for (size_t i = 0; i < b->owned.n; i++)
		free(owned[i]);
	free(b->cmp.items);
	free(b->succ.items);
	free(b->fail.items);
	free(b->owned.items);
	txb_init(b);
}

/* Room for one more item of size sz: its address, or NULL (and b->err set). */
static void *txb_slot(struct txb *b, struct txb_list *l, size_t sz)
{
	if (b->err != 0)
		return NULL;
	if (l->n == l->cap) {
		size_t cap = l->cap == 0 ? 8 : l->cap * 2;
		void *p = realloc(l->items, cap * sz);
		if (p == NULL) {
			b->err = BERTH_ENOMEM;
			return NULL;
		}
		l->items = p;
		l->cap = cap;
	}
	void *slot = (char *)l->items + l->n * sz;
	memset(slot, 0, sz);
	l->n++;
	return slot;
}

/* A copy of p[0..n) that the builder owns. */
static struct bytes txb_copy(struct txb *b, const void *p, size_t n)
{
	struct bytes out = {NULL, 0};
	void **slot = txb_slot(b, &b->owned, sizeof(void *));
	if (slot == NULL)
		return out;
	uint8_t *c = malloc(n > 0 ? n : 1);
	if (c == NULL) {
		b->owned.n--;
		b->err = BERTH_ENOMEM;
		return out;
	}
	if (n > 0)
		memcpy(c, p, n);
	*slot = c;
	out.p = c;
	out.n = n;
	return out;
}

void txb_cmp(struct txb *b, uint8_t target, uint8_t op, const char *key, int64_t num)
{
	struct bytes k = txb_copy(b, key, strlen(key));
	struct msg_compare *c = txb_slot(b, &b->cmp, sizeof(*c));
	if (c == NULL)
		return;
	c->target = target;
	c->op = op;
	c->key = k;
	c->num = num;
}

static struct msg_op *txb_op(struct txb *b, enum txb_branch br, uint8_t type, const char *key)
{
	struct bytes k = txb_copy(b, key, strlen(key));
	struct msg_op *o = txb_slot(b, br == TXB_SUCC ? &b->succ : &b->fail, sizeof(*o));
	if (o == NULL)
		return NULL;
	o->type = type;
	o->key = k;
	return o;
}

void txb_put(struct txb *b, enum txb_branch br, const char *key, const void *value, size_t n)
{
	struct bytes v = txb_copy(b, value, n);
	struct msg_op *o = txb_op(b, br, MSG_OP_PUT, key);
	if (o != NULL)
		o->value = v;
}

void txb_del(struct txb *b, enum txb_branch br, const char *key)
{
	txb_op(b, br, MSG_OP_DEL, key);
}

void txb_add(struct txb *b, enum txb_branch br, const char *key, int64_t delta)
{
	struct msg_op *o = txb_op(b, br, MSG_OP_ADD, key);
	if (o != NULL)
		o->delta = delta;
}

void txb_get(struct txb *b, enum txb_branch br, const char *key)
{
	txb_op(b, br, MSG_OP_RANGE, key);
}

size_t txb_ncmp(const struct txb *b)
{
	return b->cmp.n;
}

size_t txb_nops(const struct txb *b, enum txb_branch br)
{
	return br == TXB_SUCC ? b->succ.n : b->fail.n;
}

int txb_txn(struct txb *b, struct msg_txn *out)
{
	memset(out, 0, sizeof(*out));
	if (b->err != 0)
		return b->err;
	out->ncmp = (uint32_t)b->cmp.n;
	out->nsucc = (uint32_t)b->succ.n;
	out->nfail = (uint32_t)b->fail.n;
	out->cmp = b->cmp.items;
	out->succ = b->succ.items;
	out->fail = b->fail.items;
	return 0;
}
