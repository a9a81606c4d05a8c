/* tests/unit/test_model.c: model-based randomized test of the state machine (store/fsm.h).
 *
 * Random commands go both to the LMDB state machine and to a small in-memory reference
 * model written here from the documented semantics (DESIGN.md section 3, docs/store.md,
 * store/txn.h, store/fsm.h, store/compact.h, store/lease.h, common/msg.h). Every reply is
 * compared, and after every step so are the whole key space (a prefix range of everything
 * through fsm_read, and every 8th step the same at a past revision), the revision, the
 * compaction point, the applied index and the lease table.
 *
 * The run prints "model: seed=N txns=M". BERTH_MODEL_SEED=N replays it exactly;
 * BERTH_MODEL_TXNS=M runs M commands in the main test instead of 20,000 (the long-key test
 * runs M/2, the determinism test M/4). On a mismatch it prints the seed, the step, the
 * command and the expected and actual replies, then fails. The end of the file keeps the
 * bugs the model found in store/, each as a regression test on its smallest input.
 *
 * The model keeps, per key of a fixed universe, every version (or tombstone) back to the
 * compaction point, so a read at revision R is the newest version at or before R. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/mp.h"
#include "common/msg.h"
#include "common/reply.h"
#include "store/fsm.h"
#include "tests/unit/support.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MODEL_DEFAULT_TXNS 20000
#define MODEL_MAX_KEYS 64        /* the key universe */
#define MODEL_KEY_CAP 640        /* longest universe key or bound */
#define MODEL_MAX_KEY_BYTES 1024 /* fsm_config_default's key limit */
#define GEN_MAX_CMP 4            /* compares per generated txn */
#define GEN_MAX_OPS 6            /* operations per branch */
#define GEN_BATCH 8              /* entries per batch, at most */
#define GEN_BUF 4096             /* bytes a generated command may borrow */
#define STAT_ERRS 32             /* BERTH_E* codes counted, by code - BERTH_ERR_BASE */

static uint64_t model_seed;
static uint64_t model_txns = MODEL_DEFAULT_TXNS;

/* ---- A seeded generator (splitmix64): no rand(), the same sequence on every libc. ---- */

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rng_below(struct rng *r, uint64_t n)
{
	return n ? rng_next(r) % n : 0;
}

static bool rng_pct(struct rng *r, unsigned pct)
{
	return rng_below(r, 100) < pct;
}

/* ---- The key universe: few keys, so that collisions, prefixes and ranges interact. ---- */

struct ukey {
	uint8_t b[MODEL_KEY_CAP];
	size_t n;
};

/* A key is `run` bytes of 'm' followed by `tail`: runs of 447 and 448 put keys on both
 * sides of the 448-byte inline limit (KV_INLINE), and the longer ones share buckets. */
struct uspec {
	size_t run;
	const char *tail;
	size_t n;
};
#define US(run, lit)                                                                               \
	{                                                                                          \
		run, lit, sizeof(lit) - 1                                                          \
	}

static const struct uspec key_specs[] = {
	US(0, "a"),     US(0, "ab"),     US(0, "abc"),        US(0, "a\xff"),    US(0, "ac"),
	US(0, "b"),     US(0, "b\0"),    US(0, "b\0\0"),      US(0, "b\0a"),     US(0, "b\x01"),
	US(0, "ba"),    US(0, "b\xff"),  US(0, "b\xff\xff"),  US(0, "b\xff\0"),  US(0, "c"),
	US(0, "m"),     US(0, "x/"),     US(0, "x/1"),        US(0, "x/1/a"),    US(0, "x/10"),
	US(0, "x/2"),   US(0, "z"),      US(0, "zz"),         US(0, "\0"),       US(0, "\0\0"),
	US(0, "\x01"),  US(0, "\xff"),   US(0, "\xff\0"),     US(0, "\xff\xff"), US(447, ""),
	US(447, "l"),   US(447, "m"),    US(447, "n"),        US(447, "lx"),     US(447, "na"),
	US(447, "nb"),  US(448, "\0"),   US(448, "\0\0"),     US(448, "\0a"),    US(448, "a"),
	US(448, "a\0"), US(448, "ab"),   US(448, "b"),        US(448, "c"),      US(448, "m"),
	US(448, "m\0"), US(448, "\xff"), US(448, "\xff\xff"), US(598, "z"),
};

/* Range bounds that are never keys (ranges also use the keys themselves). */
static const struct uspec bound_specs[] = {
	US(0, "a\0"),   US(0, "aa"),      US(0, "b\0\x01"), US(0, "bz"),     US(0, "m\0"),
	US(0, "x/1\0"), US(0, "x0"),      US(0, "y"),       US(0, "\0\x01"), US(0, "\xfe"),
	US(100, ""),    US(448, "a\xff"), US(448, "b\0"),   US(447, "o"),    US(448, "\0\x01"),
	US(446, "n"),   US(448, "m\xff"),
};

static const struct uspec prefix_specs[] = {
	US(0, ""),         US(0, "a"),   US(0, "ab"),  US(0, "b"),   US(0, "b\0"),
	US(0, "b\xff"),    US(0, "x/"),  US(0, "x/1"), US(0, "\0"),  US(0, "\xff"),
	US(0, "\xff\xff"), US(0, "m"),   US(0, "zz"),  US(0, "q"),   US(447, ""),
	US(448, ""),       US(448, "a"), US(447, "n"), US(447, "l"), US(448, "\xff"),
};

#define NSPEC(a) (sizeof(a) / sizeof(a[0]))

static struct ukey ukeys[MODEL_MAX_KEYS]; /* sorted: index order is key order */
static size_t nukeys;
static struct ukey ubounds[NSPEC(bound_specs)];
static struct ukey uprefixes[NSPEC(prefix_specs)];
static size_t ushort_idx[MODEL_MAX_KEYS], ulong_idx[MODEL_MAX_KEYS], nshort, nlong;

static struct bytes ub(const struct ukey *k)
{
	return (struct bytes){k->b, k->n};
}

static int bytes_cmp(struct bytes a, struct bytes b)
{
	size_t n = a.n < b.n ? a.n : b.n;
	int c = n ? memcmp(a.p, b.p, n) : 0;
	if (c != 0)
		return c < 0 ? -1 : 1;
	return a.n < b.n ? -1 : a.n > b.n;
}

static bool bytes_eq(struct bytes a, struct bytes b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static void ukey_make(struct ukey *k, const struct uspec *s)
{
	assert_true(s->run + s->n <= MODEL_KEY_CAP);
	memset(k->b, 'm', s->run);
	memcpy(k->b + s->run, s->tail, s->n);
	k->n = s->run + s->n;
}

static int ukey_qsort_cmp(const void *a, const void *b)
{
	return bytes_cmp(ub(a), ub(b));
}

static void universe_init(void)
{
	if (nukeys > 0)
		return;
	assert_true(NSPEC(key_specs) <= MODEL_MAX_KEYS);
	for (size_t i = 0; i < NSPEC(key_specs); i++)
		ukey_make(&ukeys[nukeys++], &key_specs[i]);
	qsort(ukeys, nukeys, sizeof(ukeys[0]), ukey_qsort_cmp);
	for (size_t i = 0; i < nukeys; i++) {
		assert_true(i == 0 || bytes_cmp(ub(&ukeys[i - 1]), ub(&ukeys[i])) < 0);
		if (ukeys[i].n > KV_INLINE)
			ulong_idx[nlong++] = i;
		else
			ushort_idx[nshort++] = i;
	}
	for (size_t i = 0; i < NSPEC(bound_specs); i++)
		ukey_make(&ubounds[i], &bound_specs[i]);
	for (size_t i = 0; i < NSPEC(prefix_specs); i++)
		ukey_make(&uprefixes[i], &prefix_specs[i]);
}

/* The universe index of key k, or -1 (then it never exists). */
static int ukey_find(struct bytes k)
{
	size_t lo = 0, hi = nukeys;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = bytes_cmp(ub(&ukeys[mid]), k);
		if (c == 0)
			return (int)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* ---- The reference model. ---- */

/* One version of a key: a value, or a tombstone. */
struct mver {
	uint64_t rev; /* the revision of this change: the version's mod_rev */
	bool live;
	uint8_t *val; /* owned */
	size_t vn;
	int64_t create_rev;
	int64_t version;
	uint64_t lease;
};

struct mhist {
	struct mver *v; /* oldest first, nothing older than needed for reads at >= compacted */
	size_t n, cap;
};

struct mlease {
	uint64_t id;
	int64_t ttl;
};

struct model {
	struct mhist hist[MODEL_MAX_KEYS]; /* by universe index */
	uint64_t rev;
	uint64_t compacted;
	uint64_t next_lease;   /* the last id the state machine picked */
	struct mlease *leases; /* by id */
	size_t nleases, lcap;
	/* The command being applied: its changes, committed at rev + 1 when it succeeds. */
	struct mver pend[MODEL_MAX_KEYS];
	bool changed[MODEL_MAX_KEYS];
	bool any_changed;
	uint64_t dropped; /* keys deleted by lease revoke or expiry, for the report */
};

static void model_free(struct model *m)
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

/* The committed current version of key i, NULL when absent. */
static const struct mver *model_current(const struct model *m, size_t i)
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

static int model_lease_find(const struct model *m, uint64_t id)
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
	for (size_t i = 0; i < nukeys; i++) {
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
	for (size_t i = 0; i < nukeys; i++) {
		if (m->changed[i])
			free(m->pend[i].val);
		m->changed[i] = false;
	}
	m->any_changed = false;
}

/* A stored value read as a msgpack integer (written here from the msgpack spec, not with
 * common/mp.c): exactly one integer that fits int64. */
static bool model_int(const uint8_t *p, size_t n, int64_t *out)
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
		return bytes_eq(k, op->key);
	if (bytes_cmp(k, op->key) < 0)
		return false;
	if (op->end.n == 1 && op->end.p[0] == 0)
		return true;
	return bytes_cmp(k, op->end) < 0;
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
	int i = ukey_find(c->key);
	const struct mver *v = i >= 0 ? model_view(m, (size_t)i) : NULL;
	int64_t have = 0;
	switch (c->target) {
	case MSG_CMP_VALUE:
		*ok = v != NULL &&
		      model_holds(bytes_cmp((struct bytes){v->val, v->vn}, c->value), c->op);
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
	ro->kvs = calloc(nukeys, sizeof(*ro->kvs));
	assert_non_null(ro->kvs);
	for (size_t i = 0; i < nukeys; i++) {
		if (!model_in_range(op, ub(&ukeys[i])))
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
		kv->key = ub(&ukeys[i]);
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
	int i = ukey_find(k);
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
	for (size_t i = 0; i < nukeys; i++) {
		if (!model_in_range(op, ub(&ukeys[i])) || model_view(m, i) == NULL)
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

/* Compares first (against the state before, stopping at the first that does not hold),
 * then one branch in order; any error rejects the whole transaction. */
static void model_txn(struct model *m, const struct msg_txn *t, bool write_ok, struct reply *r)
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
	for (size_t i = 0; i < nukeys; i++) {
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
	for (size_t i = 0; i < nukeys; i++) {
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

static void model_apply(struct model *m, const struct msg_cmd *c, struct reply *r)
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

/* ---- Readable commands and replies, for mismatch reports. ---- */

static void print_bytes(FILE *f, struct bytes b)
{
	fputc('"', f);
	for (size_t i = 0; i < b.n;) {
		size_t j = i;
		while (j < b.n && b.p[j] == b.p[i])
			j++;
		size_t rep = j - i >= 8 ? j - i : 1;
		if (rep > 1)
			fputc('<', f);
		if (b.p[i] >= 0x20 && b.p[i] < 0x7f && b.p[i] != '"' && b.p[i] != '\\' &&
		    b.p[i] != '<')
			fputc(b.p[i], f);
		else
			fprintf(f, "\\x%02x", b.p[i]);
		if (rep > 1)
			fprintf(f, "*%zu>", rep);
		i += rep;
	}
	fputc('"', f);
}

static void print_value(FILE *f, struct bytes b)
{
	int64_t v;
	print_bytes(f, b);
	if (model_int(b.p, b.n, &v))
		fprintf(f, "(=%" PRId64 ")", v);
}

static void print_op(FILE *f, const struct msg_op *op)
{
	static const char *names[] = {"range", "put", "del", "add"};
	fprintf(f, "%s ", op->type < MSG_OP_TYPE_COUNT ? names[op->type] : "?");
	if (op->flags & MSG_F_PREFIX)
		fputs("prefix ", f);
	print_bytes(f, op->key);
	if (op->end.n > 0) {
		fputs(" end ", f);
		print_bytes(f, op->end);
	}
	if (op->flags & MSG_F_KEYS_ONLY)
		fputs(" keys-only", f);
	if (op->flags & MSG_F_COUNT_ONLY)
		fputs(" count-only", f);
	if (op->type == MSG_OP_PUT) {
		fputc(' ', f);
		print_value(f, op->value);
	}
	if (op->type == MSG_OP_ADD)
		fprintf(f, " %+" PRId64, op->delta);
	if (op->lease != 0)
		fprintf(f, " lease=%" PRIu64, op->lease);
	if (op->limit != 0)
		fprintf(f, " limit=%" PRIu64, op->limit);
	if (op->rev != 0)
		fprintf(f, " rev=%" PRIu64, op->rev);
}

static void print_ops(FILE *f, const struct msg_op *ops, uint32_t n)
{
	fputc('[', f);
	for (uint32_t i = 0; i < n; i++) {
		fputs(i ? "; " : "", f);
		print_op(f, &ops[i]);
	}
	fputc(']', f);
}

static void print_cmd(FILE *f, const struct msg_cmd *c, bool read)
{
	static const char *targets[] = {"value", "version", "create", "mod", "int"};
	static const char *cmps[] = {"==", "!=", "<", "<=", ">", ">="};
	switch (c->type) {
	case MSG_CMD_TXN:
		fputs(read ? "fsm_read txn: if [" : "txn: if [", f);
		for (uint32_t i = 0; i < c->txn.ncmp; i++) {
			const struct msg_compare *m = &c->txn.cmp[i];
			fprintf(f, "%s%s(", i ? " && " : "",
				m->target < MSG_CMP_TARGET_COUNT ? targets[m->target] : "?");
			print_bytes(f, m->key);
			fprintf(f, ") %s ", m->op < MSG_CMP_OP_COUNT ? cmps[m->op] : "?");
			if (m->target == MSG_CMP_VALUE)
				print_value(f, m->value);
			else
				fprintf(f, "%" PRId64, m->num);
		}
		fputs("] then ", f);
		print_ops(f, c->txn.succ, c->txn.nsucc);
		fputs(" else ", f);
		print_ops(f, c->txn.fail, c->txn.nfail);
		break;
	case MSG_CMD_COMPACT:
		fprintf(f, "compact rev=%" PRIu64, c->rev);
		break;
	case MSG_CMD_LEASE_GRANT:
		fprintf(f, "lease grant id=%" PRIu64 " ttl=%" PRId64, c->lease, c->ttl);
		break;
	case MSG_CMD_LEASE_REVOKE:
		fprintf(f, "lease revoke id=%" PRIu64, c->lease);
		break;
	case MSG_CMD_LEASE_EXPIRE:
		fputs("lease expire [", f);
		for (uint32_t i = 0; i < c->nleases; i++)
			fprintf(f, "%s%" PRIu64, i ? " " : "", c->leases[i]);
		fputc(']', f);
		break;
	default:
		fprintf(f, "command type %u", c->type);
	}
	fputc('\n', f);
}

static void print_reply(FILE *f, const struct reply *r)
{
	static const char *names[] = {"range", "put", "del", "add"};
	if (r->err != 0) {
		fprintf(f, "{err %s rev %" PRIu64 "}\n", err_name(r->err), r->rev);
		return;
	}
	fprintf(f, "{rev %" PRIu64 " ok %d", r->rev, r->succeeded);
	if (r->id != 0 || r->ttl != 0)
		fprintf(f, " id %" PRIu64 " ttl %" PRId64, r->id, r->ttl);
	fputs(" r [", f);
	for (uint32_t i = 0; i < r->nops; i++) {
		const struct reply_op *o = &r->ops[i];
		fprintf(f, "%s%s", i ? "; " : "",
			o->type < MSG_OP_TYPE_COUNT ? names[o->type] : "?");
		if (o->type == MSG_OP_DEL)
			fprintf(f, " d=%" PRIu64, o->deleted);
		if (o->type == MSG_OP_ADD)
			fprintf(f, " v=%" PRId64, o->value);
		if (o->type != MSG_OP_RANGE)
			continue;
		fprintf(f, " n=%" PRIu64 " more=%d", o->count, o->more);
		for (uint32_t j = 0; j < o->nkvs; j++) {
			const struct reply_kv *kv = &o->kvs[j];
			fputs("\n      {k ", f);
			print_bytes(f, kv->key);
			fputs(" v ", f);
			print_value(f, kv->value);
			fprintf(f, " c %" PRId64 " m %" PRId64 " ver %" PRId64 " l %" PRIu64 "}",
				kv->create_rev, kv->mod_rev, kv->version, kv->lease);
		}
	}
	fputs("]}\n", f);
}

/* Describes the first difference in why; true when the replies are the same. */
static bool reply_same(const struct reply *e, const struct reply *a, char *why, size_t n)
{
#define DIFF(cond, ...)                                                                            \
	do {                                                                                       \
		if (cond) {                                                                        \
			snprintf(why, n, __VA_ARGS__);                                             \
			return false;                                                              \
		}                                                                                  \
	} while (0)
	DIFF(e->err != a->err, "err: expected %s, got %s", err_name(e->err), err_name(a->err));
	DIFF(e->rev != a->rev, "rev: expected %" PRIu64 ", got %" PRIu64, e->rev, a->rev);
	DIFF(e->succeeded != a->succeeded, "ok: expected %d, got %d", e->succeeded, a->succeeded);
	DIFF(e->id != a->id, "id: expected %" PRIu64 ", got %" PRIu64, e->id, a->id);
	DIFF(e->ttl != a->ttl, "ttl: expected %" PRId64 ", got %" PRId64, e->ttl, a->ttl);
	DIFF(e->nops != a->nops, "ops: expected %u, got %u", e->nops, a->nops);
	for (uint32_t i = 0; i < e->nops; i++) {
		const struct reply_op *x = &e->ops[i], *y = &a->ops[i];
		DIFF(x->type != y->type, "op %u: type %u, got %u", i, x->type, y->type);
		DIFF(x->count != y->count, "op %u: count %" PRIu64 ", got %" PRIu64, i, x->count,
		     y->count);
		DIFF(x->more != y->more, "op %u: more %d, got %d", i, x->more, y->more);
		DIFF(x->deleted != y->deleted, "op %u: deleted %" PRIu64 ", got %" PRIu64, i,
		     x->deleted, y->deleted);
		DIFF(x->value != y->value, "op %u: value %" PRId64 ", got %" PRId64, i, x->value,
		     y->value);
		DIFF(x->nkvs != y->nkvs, "op %u: %u kvs, got %u", i, x->nkvs, y->nkvs);
		for (uint32_t j = 0; j < x->nkvs; j++) {
			const struct reply_kv *p = &x->kvs[j], *q = &y->kvs[j];
			DIFF(!bytes_eq(p->key, q->key), "op %u kv %u: key differs", i, j);
			DIFF(!bytes_eq(p->value, q->value), "op %u kv %u: value differs", i, j);
			DIFF(p->create_rev != q->create_rev || p->mod_rev != q->mod_rev ||
				     p->version != q->version || p->lease != q->lease,
			     "op %u kv %u: create/mod/version/lease differ", i, j);
		}
	}
	return true;
#undef DIFF
}

/* ---- One run: a state machine (two for the determinism test), the model, the generator. */

/* A generated command and everything it borrows. */
struct gcmd {
	struct msg_cmd c;
	bool read; /* answered by fsm_read instead of being applied */
	struct msg_compare cmp[GEN_MAX_CMP];
	struct msg_op succ[GEN_MAX_OPS];
	struct msg_op fail[GEN_MAX_OPS];
	uint64_t leases[4];
	uint8_t buf[GEN_BUF];
	size_t used;
};

struct run {
	const char *name;
	uint64_t seed;
	uint64_t txns;
	uint64_t step; /* commands generated so far: the failing one is printed */
	struct rng rng;
	struct fsm_config cfg;
	uint64_t hash_mask;
	unsigned long_pct; /* chance that a written key is a long one */
	bool gen_readonly; /* generating a txn for fsm_read */
	struct tfsm t, t2;
	bool open, open2;
	struct model m;
	struct reply exp, act;
	struct gcmd g;
	struct mp_buf enc[GEN_BATCH];
	struct mp_buf out;
	uint8_t *arep[GEN_BATCH]; /* the single-entry machine's replies, for the batched one */
	size_t arep_n[GEN_BATCH];
	/* What the run covered, printed at the end. */
	uint64_t errs[STAT_ERRS];
	uint64_t else_branch, reopens, batches, compactions, past_reads, max_keys;
	/* For reports: whether the state is being checked after a step, and that step. */
	bool checking;
	bool reopened;  /* the step was a close and reopen */
	size_t batch_k; /* the step was a batch of this many entries */
};

static int run_setup(void **state)
{
	struct run *x = calloc(1, sizeof(*x));
	assert_non_null(x);
	universe_init();
	fsm_config_default(&x->cfg);
	x->cfg.sync = KV_SYNC_NONE;
	x->cfg.map_bytes = (size_t)1 << 30;
	x->hash_mask = UINT64_MAX;
	x->long_pct = 15;
	x->txns = model_txns;
	x->seed = model_seed;
	for (size_t i = 0; i < GEN_BATCH; i++)
		mp_buf_init(&x->enc[i]);
	mp_buf_init(&x->out);
	*state = x;
	return 0;
}

static int run_teardown(void **state)
{
	struct run *x = *state;
	if (x->open)
		tfsm_close(&x->t);
	if (x->open2)
		tfsm_close(&x->t2);
	model_free(&x->m);
	reply_free(&x->exp);
	reply_free(&x->act);
	for (size_t i = 0; i < GEN_BATCH; i++) {
		mp_buf_close(&x->enc[i]);
		free(x->arep[i]);
	}
	mp_buf_close(&x->out);
	free(x);
	return 0;
}

/* Each test draws from its own stream of the one printed seed. */
static void run_start(struct run *x, const char *name, uint64_t stream)
{
	x->name = name;
	x->rng.s = x->seed ^ (0xd1b54a32d192ed03ull * stream);
	tfsm_open(&x->t, &x->cfg);
	x->open = true;
	x->t.f.kv.hash_mask = x->hash_mask;
}

static void run_fail(struct run *x, const struct msg_cmd *c, bool read, const char *why)
{
	uint64_t step = x->checking && x->step > 0 ? x->step - 1 : x->step;
	fprintf(stderr,
		"model: MISMATCH in %s: seed=%" PRIu64 " %s step=%" PRIu64 " rev=%" PRIu64
		" compacted=%" PRIu64 ": %s\n",
		x->name, x->seed, x->checking ? "after" : "at", step, x->m.rev, x->m.compacted,
		why);
	fprintf(stderr, "  replay: BERTH_MODEL_SEED=%" PRIu64 " BERTH_MODEL_TXNS=%" PRIu64 "\n",
		x->seed, model_txns);
	if (x->checking && x->reopened) {
		fputs("  step:     close and reopen the database\n", stderr);
	} else if (x->checking && x->step > 0) {
		if (x->batch_k > 0)
			fprintf(stderr, "  step:     the last of a batch of %zu: ", x->batch_k);
		else
			fputs("  step:     ", stderr);
		print_cmd(stderr, &x->g.c, x->g.read);
	}
	if (c != NULL) {
		fputs(x->checking ? "  check:    " : "  command:  ", stderr);
		print_cmd(stderr, c, read);
		fputs("  expected: ", stderr);
		print_reply(stderr, &x->exp);
		fputs("  actual:   ", stderr);
		print_reply(stderr, &x->act);
	}
	fail_msg("model mismatch: seed=%" PRIu64 " step=%" PRIu64 ": %s", x->seed, step, why);
}

/* Compares x->exp (the model) with x->act (the store) and counts what was covered. */
static void run_expect(struct run *x, const struct msg_cmd *c, bool read)
{
	char why[256];
	if (!reply_same(&x->exp, &x->act, why, sizeof(why)))
		run_fail(x, c, read, why);
	const struct reply *r = &x->exp;
	if (r->err > BERTH_ERR_BASE && r->err < BERTH_ERR_BASE + STAT_ERRS)
		x->errs[r->err - BERTH_ERR_BASE]++;
	if (c->type == MSG_CMD_TXN && r->err == 0 && !r->succeeded)
		x->else_branch++;
	if (c->type == MSG_CMD_COMPACT && r->err == 0)
		x->compactions++;
	if (c->type == MSG_CMD_TXN && r->err == 0) {
		const struct msg_op *ops = r->succeeded ? c->txn.succ : c->txn.fail;
		for (uint32_t i = 0; i < r->nops; i++)
			x->past_reads += ops[i].type == MSG_OP_RANGE && ops[i].rev != 0;
	}
}

static void encode_cmd(struct mp_buf *b, const struct msg_cmd *c)
{
	static const uint8_t zero[8];
	mp_buf_reset(b);
	msg_cmd_encode(b, c);
	mp_buf_append(b, zero, (8 - b->len % 8) % 8); /* raft pads entries to 8 bytes */
	assert_int_equal(mp_buf_error(b), 0);
}

/* ---- The generator. It looks at the model to aim at keys and leases that exist. ---- */

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
		return ub(&ukeys[ulong_idx[rng_below(&x->rng, nlong)]]);
	return ub(&ukeys[ushort_idx[rng_below(&x->rng, nshort)]]);
}

static struct bytes gen_bound(struct run *x)
{
	if (rng_pct(&x->rng, 60))
		return gen_key(x);
	return ub(&ubounds[rng_below(&x->rng, NSPEC(bound_specs))]);
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
			op->key = ub(&uprefixes[rng_below(&x->rng, NSPEC(prefix_specs))]);
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
	int i = ukey_find(c->key);
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
	x->gen_readonly = true;
	for (uint32_t i = 0; i < t->ncmp; i++)
		gen_cmp(x, g, &g->cmp[i]);
	for (uint32_t i = 0; i < t->nsucc; i++)
		gen_op(x, g, &g->succ[i], MSG_OP_RANGE);
	for (uint32_t i = 0; i < t->nfail; i++)
		gen_op(x, g, &g->fail[i], MSG_OP_RANGE);
	x->gen_readonly = false;
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

/* Any command; `log_only` leaves out reads (inside a batch they would not see the batch). */
static void gen_cmd(struct run *x, struct gcmd *g, bool log_only)
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

/* ---- Driving the state machine and the model side by side. ---- */

/* fsm_apply and fsm_read fail only on fatal errors (store/fsm.h), never for a command. */
static void run_check_fatal(struct run *x, int rv, struct fsm *f, const struct msg_cmd *c,
			    bool read)
{
	char why[400];
	if (rv == 0)
		return;
	reply_free(&x->exp);
	reply_free(&x->act);
	snprintf(why, sizeof(why), "%s failed: %s: %s", read ? "fsm_read" : "fsm_apply",
		 err_name(rv), f->errmsg[0] ? f->errmsg : f->kv.errmsg);
	run_fail(x, c, read, why);
}

/* Applies (or reads) one command through the test helpers and checks its reply. */
static void run_one(struct run *x, struct gcmd *g)
{
	reply_free(&x->exp);
	reply_free(&x->act);
	if (g->read) {
		run_check_fatal(x, tfsm_read(&x->t, &g->c.txn, &x->act), &x->t.f, &g->c, true);
		model_txn(&x->m, &g->c.txn, false, &x->exp);
	} else {
		run_check_fatal(x, tfsm_apply(&x->t, &g->c, &x->act), &x->t.f, &g->c, false);
		model_apply(&x->m, &g->c, &x->exp);
	}
	run_expect(x, &g->c, g->read);
	x->step++;
}

/* Applies k commands in one LMDB batch, checking each reply as it is produced. */
static void run_batch(struct run *x, size_t k)
{
	assert_int_equal(fsm_batch_begin(&x->t.f), 0);
	mp_buf_reset(&x->out);
	for (size_t i = 0; i < k; i++) {
		gen_cmd(x, &x->g, true);
		encode_cmd(&x->enc[0], &x->g.c);
		size_t mark = x->out.len;
		int rv = fsm_apply(&x->t.f, ++x->t.index, x->enc[0].data, x->enc[0].len, &x->out);
		run_check_fatal(x, rv, &x->t.f, &x->g.c, false);
		reply_free(&x->exp);
		reply_free(&x->act);
		assert_int_equal(reply_decode(x->out.data + mark, x->out.len - mark, &x->act), 0);
		model_apply(&x->m, &x->g.c, &x->exp);
		run_expect(x, &x->g.c, false);
		x->step++;
	}
	assert_int_equal(fsm_batch_commit(&x->t.f), 0);
	x->batches++;
	x->batch_k = k;
}

/* Persistence: everything must survive closing and reopening the database. */
static void run_reopen(struct run *x)
{
	fsm_close(&x->t.f);
	int rv = fsm_open(&x->t.f, x->t.dir, &x->cfg);
	if (rv != 0)
		fail_msg("reopen: %s: %s", err_name(rv), x->t.f.errmsg);
	x->t.f.kv.hash_mask = x->hash_mask; /* not persistent: set again after each open */
	x->reopens++;
	x->reopened = true;
}

static void run_read_check(struct run *x, struct msg_cmd *c)
{
	reply_free(&x->exp);
	reply_free(&x->act);
	run_check_fatal(x, tfsm_read(&x->t, &c->txn, &x->act), &x->t.f, c, true);
	model_txn(&x->m, &c->txn, false, &x->exp);
	char why[256];
	if (!reply_same(&x->exp, &x->act, why, sizeof(why))) {
		char what[300];
		snprintf(what, sizeof(what), "state check after the step: %s", why);
		run_fail(x, c, true, what);
	}
}

struct lease_list {
	struct mlease l[256];
	size_t n;
	bool overflow;
};

static int lease_collect(void *ctx, uint64_t id, int64_t ttl_s)
{
	struct lease_list *ll = ctx;
	if (ll->n == 256)
		ll->overflow = true;
	else
		ll->l[ll->n++] = (struct mlease){id, ttl_s};
	return 0;
}

/* The whole state, after every step: every key (and every 8th step every key at a past
 * revision), the revision, the compaction point, the applied index and the leases. */
static void run_check_state(struct run *x)
{
	struct model *m = &x->m;
	/* Every key. (The key must not be {NULL, 0}: test_model_empty_prefix_null_key.) */
	struct msg_op all = {.type = MSG_OP_RANGE, .flags = MSG_F_PREFIX, .key = B("")};
	struct msg_cmd c = {.type = MSG_CMD_TXN, .txn = {0, 1, 0, NULL, &all, NULL}};
	char why[256];

	x->checking = true;
	if (fsm_revision(&x->t.f) != m->rev || fsm_compacted(&x->t.f) != m->compacted ||
	    fsm_applied(&x->t.f) != x->t.index) {
		snprintf(why, sizeof(why),
			 "fsm_revision %" PRIu64 " (model %" PRIu64 "), fsm_compacted %" PRIu64
			 " (model %" PRIu64 "), fsm_applied %" PRIu64 " (entries %" PRIu64 ")",
			 fsm_revision(&x->t.f), m->rev, fsm_compacted(&x->t.f), m->compacted,
			 fsm_applied(&x->t.f), x->t.index);
		run_fail(x, NULL, false, why);
	}
	run_read_check(x, &c);
	if (x->exp.nops == 1 && x->exp.ops[0].count > x->max_keys)
		x->max_keys = x->exp.ops[0].count;
	if (x->step % 8 == 0 && m->rev > 0) {
		uint64_t lo = m->compacted > 0 ? m->compacted : 1;
		all.rev = lo + rng_below(&x->rng, m->rev - lo + 1);
		run_read_check(x, &c);
	}

	struct lease_list ll = {.n = 0};
	assert_int_equal(fsm_lease_foreach(&x->t.f, lease_collect, &ll), 0);
	bool same = !ll.overflow && ll.n == m->nleases;
	for (size_t i = 0; same && i < ll.n; i++)
		same = ll.l[i].id == m->leases[i].id && ll.l[i].ttl == m->leases[i].ttl;
	if (!same) {
		snprintf(why, sizeof(why),
			 "lease table: %zu leases (first id %" PRIu64
			 "), model %zu (first id %" PRIu64 ")",
			 ll.n, ll.n ? ll.l[0].id : 0, m->nleases, m->nleases ? m->leases[0].id : 0);
		run_fail(x, NULL, false, why);
	}
	x->checking = false;
	x->reopened = false;
	x->batch_k = 0;
}

static void run_report(const struct run *x)
{
	const uint64_t *e = x->errs;
	printf("model: %s: %" PRIu64 " commands, rev %" PRIu64 ", compacted %" PRIu64
	       ", at most %" PRIu64 " keys, %" PRIu64 " else branches, %" PRIu64
	       " past reads, %" PRIu64 " compactions, %" PRIu64 " batches, %" PRIu64
	       " reopens, %" PRIu64 " keys dropped with their lease; rejected: EDUPKEY %" PRIu64
	       " ETYPE %" PRIu64 " EOVERFLOW %" PRIu64 " ENOTFOUND %" PRIu64 " ECOMPACTED %" PRIu64
	       " EFUTUREREV %" PRIu64 " EBADREQ %" PRIu64 " ETOOLARGE %" PRIu64 " EEXISTS %" PRIu64
	       "\n",
	       x->name, x->step, x->m.rev, x->m.compacted, x->max_keys, x->else_branch,
	       x->past_reads, x->compactions, x->batches, x->reopens, x->m.dropped,
	       e[BERTH_EDUPKEY - BERTH_ERR_BASE], e[BERTH_ETYPE - BERTH_ERR_BASE],
	       e[BERTH_EOVERFLOW - BERTH_ERR_BASE], e[BERTH_ENOTFOUND - BERTH_ERR_BASE],
	       e[BERTH_ECOMPACTED - BERTH_ERR_BASE], e[BERTH_EFUTUREREV - BERTH_ERR_BASE],
	       e[BERTH_EBADREQ - BERTH_ERR_BASE], e[BERTH_ETOOLARGE - BERTH_ERR_BASE],
	       e[BERTH_EEXISTS - BERTH_ERR_BASE]);
	fflush(stdout);
}

/* A long enough run must have met every kind of outcome, or the generator has rotted. */
static void run_assert_coverage(const struct run *x)
{
	static const int codes[] = {BERTH_EDUPKEY,   BERTH_ETYPE,      BERTH_EOVERFLOW,
				    BERTH_ENOTFOUND, BERTH_ECOMPACTED, BERTH_EFUTUREREV,
				    BERTH_EBADREQ,   BERTH_ETOOLARGE,  BERTH_EEXISTS};
	if (x->txns < 10000)
		return;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (x->errs[codes[i] - BERTH_ERR_BASE] == 0)
			fail_msg("%s: no command was rejected with %s", x->name,
				 err_name(codes[i]));
	assert_true(x->else_branch > 0);
	assert_true(x->past_reads > 0);
	assert_true(x->compactions > 0);
	assert_true(x->max_keys >= 20);
	assert_true(x->m.dropped > 0);
	assert_true(x->reopens > 0);
	assert_true(x->batches > 0);
}

static void run_random(struct run *x, bool reopen, bool batches)
{
	run_check_state(x);
	while (x->step < x->txns) {
		uint64_t k = rng_below(&x->rng, 1000);
		if (reopen && k < 3) {
			run_reopen(x);
		} else if (batches && k < 40) {
			run_batch(x, 2 + rng_below(&x->rng, 5));
		} else {
			gen_cmd(x, &x->g, false);
			run_one(x, &x->g);
		}
		run_check_state(x);
	}
	run_report(x);
	run_assert_coverage(x);
}

/* ---- The tests. ---- */

/* The main run: every kind of command, reads, batches, reopens. */
static void test_model_random(void **state)
{
	struct run *x = *state;
	run_start(x, "random", 1);
	run_random(x, true, true);
}

/* Long keys only collide in a bucket by hash when the hash is narrowed: with a mask of 0x3
 * every long key with the same 448-byte prefix lands in one of four hashes, so slots are
 * shared and reused. The mask is not persistent; run_reopen sets it again. */
static void test_model_long_key_collisions(void **state)
{
	struct run *x = *state;
	x->hash_mask = 0x3;
	x->long_pct = 60;
	x->txns = model_txns / 2;
	run_start(x, "long-key collisions", 2);
	run_random(x, true, true);
}

struct membuf {
	uint8_t *p;
	size_t n, cap;
};

static int membuf_write(void *ctx, const void *buf, size_t n)
{
	struct membuf *b = ctx;
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 1 << 16;
		while (cap < b->n + n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (p == NULL)
			return BERTH_ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, buf, n);
	b->n += n;
	return 0;
}

/* Reports a reply of the batched machine that differs from the same entry applied alone. */
static void run_batch_differs(struct run *x, uint64_t step, size_t i, size_t k)
{
	struct msg_cmd c;
	fprintf(stderr,
		"model: MISMATCH in %s: seed=%" PRIu64 " step=%" PRIu64 ": entry %zu of a batch of "
		"%zu replied differently from the same entry alone\n  command:  ",
		x->name, x->seed, step, i, k);
	if (msg_cmd_decode(x->enc[i].data, x->enc[i].len, &c) == 0) {
		print_cmd(stderr, &c, false);
		msg_cmd_free(&c);
	}
	reply_free(&x->act);
	if (reply_decode(x->arep[i], x->arep_n[i], &x->act) == 0) {
		fputs("  alone:    ", stderr);
		print_reply(stderr, &x->act);
	}
	reply_free(&x->act);
	if (reply_decode(x->out.data, x->out.len, &x->act) == 0) {
		fputs("  batched:  ", stderr);
		print_reply(stderr, &x->act);
	}
	fail_msg("seed=%" PRIu64 " step=%" PRIu64 ": batched reply differs", x->seed, step);
}

/* Determinism: the same commands applied one entry per batch and in batches of random
 * size give the same replies, byte for byte, and the same snapshot stream. */
static void test_model_batches_deterministic(void **state)
{
	struct run *x = *state;
	struct membuf sa = {0}, sb = {0};
	x->txns = model_txns / 4;
	run_start(x, "batches deterministic", 3);
	tfsm_open(&x->t2, &x->cfg);
	x->open2 = true;
	run_check_state(x);
	while (x->step < x->txns) {
		size_t k = 1 + rng_below(&x->rng, GEN_BATCH);
		uint64_t first = x->step;
		for (size_t i = 0; i < k; i++) {
			gen_cmd(x, &x->g, true);
			encode_cmd(&x->enc[i], &x->g.c);
			mp_buf_reset(&x->out);
			int rv = fsm_apply_one(&x->t.f, ++x->t.index, x->enc[i].data, x->enc[i].len,
					       &x->out);
			run_check_fatal(x, rv, &x->t.f, &x->g.c, false);
			reply_free(&x->exp);
			reply_free(&x->act);
			assert_int_equal(reply_decode(x->out.data, x->out.len, &x->act), 0);
			model_apply(&x->m, &x->g.c, &x->exp);
			run_expect(x, &x->g.c, false);
			free(x->arep[i]);
			x->arep[i] = malloc(x->out.len);
			assert_non_null(x->arep[i]);
			memcpy(x->arep[i], x->out.data, x->out.len);
			x->arep_n[i] = x->out.len;
			x->step++;
			run_check_state(x);
		}
		assert_int_equal(fsm_batch_begin(&x->t2.f), 0);
		for (size_t i = 0; i < k; i++) {
			mp_buf_reset(&x->out);
			assert_int_equal(fsm_apply(&x->t2.f, ++x->t2.index, x->enc[i].data,
						   x->enc[i].len, &x->out),
					 0);
			if (x->out.len != x->arep_n[i] ||
			    memcmp(x->out.data, x->arep[i], x->out.len) != 0)
				run_batch_differs(x, first + i, i, k);
		}
		assert_int_equal(fsm_batch_commit(&x->t2.f), 0);
		x->batches++;
	}
	assert_int_equal(fsm_applied(&x->t2.f), x->t.index);
	assert_int_equal(fsm_revision(&x->t2.f), x->m.rev);
	int rva = fsm_snapshot_write(&x->t.f, membuf_write, &sa);
	int rvb = fsm_snapshot_write(&x->t2.f, membuf_write, &sb);
	bool same = rva == 0 && rvb == 0 && sa.n == sb.n && memcmp(sa.p, sb.p, sa.n) == 0;
	size_t na = sa.n, nb = sb.n;
	free(sa.p);
	free(sb.p);
	assert_int_equal(rva, 0);
	assert_int_equal(rvb, 0);
	if (!same)
		fail_msg("seed=%" PRIu64 ": snapshots differ: %zu bytes one entry per batch, %zu "
			 "bytes in batches",
			 x->seed, na, nb);
	assert_true(na > 1000);
	run_report(x);
}

/* ---- Bugs the model found in store/, each kept as a regression test on its smallest
 * input. The random generator produces both shapes too. ---- */

/* A range at revision R inside a write txn, where R is the revision the txn started from,
 * answers the state as of R (docs/store.md: "A read at revision R answers the state as of R
 * from the history"), which does not include the txn's own writes: they are at R + 1, and
 * etcd answers the same. txn_range once took R for "current" and showed them. */
static void test_model_range_at_start_rev_excludes_own_writes(void **state)
{
	struct tfsm t;
	struct reply r;
	(void)state;
	tfsm_open(&t, NULL);
	t_put(&t, "k", "v1"); /* rev 1 */
	t_put(&t, "j", "w1"); /* rev 2 */
	struct msg_op ops[4] = {op_put("k", "v2"), op_del("j"), op_get("k"), op_range("", NULL)};
	ops[2].rev = 2;
	ops[3].rev = 2;
	struct msg_cmd c = cmd_txn(NULL, 0, ops, 4, NULL, 0);
	assert_int_equal(tfsm_apply(&t, &c, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 3);
	assert_int_equal(r.nops, 4);
	assert_int_equal(r.ops[1].deleted, 1);
	assert_int_equal(r.ops[2].nkvs, 1);
	const struct reply_kv *k = &r.ops[2].kvs[0];
	bool k_ok = k->mod_rev == 1 && k->version == 1 && k->value.n == 2 &&
		    memcmp(k->value.p, "v1", 2) == 0;
	int64_t k_mod = k->mod_rev;
	uint64_t n = r.ops[3].count;
	reply_free(&r);
	tfsm_close(&t);
	if (!k_ok || n != 2)
		fail_msg("a range at rev 2 after put k, del j in the txn that makes rev 3: k has "
			 "mod_rev %" PRId64
			 " (expected 1, value \"v1\"), prefix \"\" counts %" PRIu64
			 " keys (expected 2: j and k as of rev 2)",
			 k_mod, n);
}

/* An empty byte string is often {NULL, 0} (the decoder leaves absent fields so, and so does
 * B(NULL)). A prefix range with key {NULL, 0} reached kv_scan_lower (store/kv.c), which
 * called memcpy(out, NULL, 0): undefined behaviour, which UBSan stops at. Only the sanitizer
 * build showed it. */
static void test_model_empty_prefix_null_key(void **state)
{
	struct tfsm t;
	struct reply r;
	(void)state;
	tfsm_open(&t, NULL);
	t_put(&t, "a", "1");
	t_put(&t, "b", "2");
	struct msg_op all = {.type = MSG_OP_RANGE, .flags = MSG_F_PREFIX, .key = {NULL, 0}};
	struct msg_txn txn = {0, 1, 0, NULL, &all, NULL};
	assert_int_equal(tfsm_read(&t, &txn, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 2);
	assert_int_equal(r.ops[0].count, 2);
	assert_int_equal(r.ops[0].nkvs, 2);
	reply_free(&r);
	tfsm_close(&t);
}

int main(void)
{
	const char *seed = getenv("BERTH_MODEL_SEED");
	const char *txns = getenv("BERTH_MODEL_TXNS");
	if (seed != NULL && *seed != 0) {
		model_seed = strtoull(seed, NULL, 10);
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		model_seed = ((uint64_t)ts.tv_sec * 1000000007ull) ^ (uint64_t)ts.tv_nsec;
	}
	if (txns != NULL && *txns != 0)
		model_txns = strtoull(txns, NULL, 10);
	if (model_txns < 8)
		model_txns = 8;
	printf("model: seed=%" PRIu64 " txns=%" PRIu64 "\n", model_seed, model_txns);
	fflush(stdout);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_model_random, run_setup, run_teardown),
		cmocka_unit_test_setup_teardown(test_model_long_key_collisions, run_setup,
						run_teardown),
		cmocka_unit_test_setup_teardown(test_model_batches_deterministic, run_setup,
						run_teardown),
		cmocka_unit_test(test_model_range_at_start_rev_excludes_own_writes),
		cmocka_unit_test(test_model_empty_prefix_null_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
