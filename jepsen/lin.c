/* jepsen/lin.c: the Wing & Gong linearizability search with Lowe's memoisation, for one
 * register (jepsen/lin.h). */
#include "jepsen/lin.h"

#include "common/err.h"
#include "jepsen/lin_cache.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* An operation as the search sees it: values as dense ids (0: absent). */
struct sop {
	enum lin_f f;
	bool info;
	uint32_t a, b;
	uint32_t bit; /* its place in the bitset */
	size_t orig;  /* position in the caller's ops */
};

/* The events of the search: a call and a return per operation, linked in history order. */
struct ent {
	uint64_t at; /* event index; UINT64_MAX for an info operation's return */
	uint32_t op; /* position in search.ops */
	bool call;
	size_t match; /* the call's return */
	size_t prev, next;
};

struct search {
	struct sop *ops; /* definite operations first, then info ones */
	size_t nops, nreq;
	struct ent *ent; /* 2 * nops, then the head and tail sentinels */
	size_t head, tail;
	uint64_t *bits; /* definite operations' bits, then (from word split) info ones' */
	size_t nwords, split;
	struct lin_cache cache;
	int64_t *vals; /* the distinct values, sorted; id = position + 1 */
	size_t nvals;
};

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return a < b ? -1 : a > b;
}

static uint32_t val_id(const struct search *s, bool null, int64_t v)
{
	if (null)
		return 0;
	const int64_t *p = bsearch(&v, s->vals, s->nvals, sizeof(v), cmp_i64);
	assert(p != NULL);
	return (uint32_t)(p - s->vals) + 1;
}

static int cmp_ent(const void *x, const void *y)
{
	const struct ent *a = x, *b = y;
	if (a->at != b->at)
		return a->at < b->at ? -1 : 1;
	return (int)b->call - (int)a->call; /* a call before a return at the same place */
}

/* An info operation whose written value nothing observes (no read returns it, no cas
 * expects it) never needs to take effect: taking effect could only hide the value before
 * it from the operations after it. Such operations are left out of the search. */
static bool kept(const struct lin_op *o, const bool *observed, const struct search *s)
{
	if (o->f == LIN_READ)
		return !o->info;
	if (!o->info)
		return true;
	return observed[o->f == LIN_CAS ? val_id(s, false, o->b) : val_id(s, o->a_null, o->a)];
}

/* Fills s from ops: values, bit ids, the linked events. -1 when out of memory. */
static int search_init(struct search *s, const struct lin_op *ops, size_t n)
{
	size_t nreq = 0, ninfo = 0;
	s->vals = malloc((2 * n + 1) * sizeof(*s->vals));
	s->ops = malloc((n + 1) * sizeof(*s->ops));
	s->ent = malloc((2 * n + 2) * sizeof(*s->ent));
	if (s->vals == NULL || s->ops == NULL || s->ent == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (ops[i].f == LIN_READ && ops[i].info)
			continue;
		if (!ops[i].a_null)
			s->vals[s->nvals++] = ops[i].a;
		if (ops[i].f == LIN_CAS)
			s->vals[s->nvals++] = ops[i].b;
	}
	qsort(s->vals, s->nvals, sizeof(*s->vals), cmp_i64);
	size_t u = 0;
	for (size_t i = 0; i < s->nvals; i++)
		if (u == 0 || s->vals[u - 1] != s->vals[i])
			s->vals[u++] = s->vals[i];
	s->nvals = u;
	bool *observed = calloc(s->nvals + 1, sizeof(*observed));
	if (observed == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((ops[i].f == LIN_READ && !ops[i].info) || ops[i].f == LIN_CAS)
			observed[val_id(s, ops[i].a_null, ops[i].a)] = true;
	for (size_t i = 0; i < n; i++)
		if (kept(&ops[i], observed, s))
			ops[i].info ? ninfo++ : nreq++;
	s->nreq = nreq;
	s->nops = nreq + ninfo;
	s->split = (nreq + 63) / 64;
	s->nwords = s->split + (ninfo + 63) / 64;
	size_t req = 0, inf = nreq, ne = 0;
	for (size_t i = 0; i < n; i++) {
		const struct lin_op *o = &ops[i];
		if (!kept(o, observed, s))
			continue;
		size_t id = o->info ? inf++ : req++;
		s->ops[id] =
			(struct sop){.f = o->f,
				     .info = o->info,
				     .orig = i,
				     .bit = (uint32_t)(o->info ? 64 * s->split + id - nreq : id),
				     .a = val_id(s, o->a_null, o->a),
				     .b = o->f == LIN_CAS ? val_id(s, false, o->b) : 0};
		s->ent[ne++] = (struct ent){.at = o->invoke, .op = (uint32_t)id, .call = true};
		s->ent[ne++] =
			(struct ent){.at = o->info ? UINT64_MAX : o->complete, .op = (uint32_t)id};
	}
	free(observed);
	qsort(s->ent, ne, sizeof(*s->ent), cmp_ent);
	size_t *ret = malloc((s->nops + 1) * sizeof(*ret));
	if (ret == NULL)
		return -1;
	for (size_t i = 0; i < ne; i++)
		if (!s->ent[i].call)
			ret[s->ent[i].op] = i;
	for (size_t i = 0; i < ne; i++)
		if (s->ent[i].call)
			s->ent[i].match = ret[s->ent[i].op];
	free(ret);
	s->head = ne;
	s->tail = ne + 1;
	for (size_t i = 0; i < ne + 2; i++) {
		s->ent[i].prev = i == 0 ? s->head : i == s->head ? s->tail : i - 1;
		s->ent[i].next = i == ne - 1 ? s->tail : i == s->head ? (ne ? 0 : s->tail) : i + 1;
	}
	s->ent[s->tail].prev = ne ? ne - 1 : s->head;
	s->bits = calloc(s->nwords ? s->nwords : 1, sizeof(*s->bits));
	return s->bits ? 0 : -1;
}

static void search_free(struct search *s)
{
	free(s->vals);
	free(s->ops);
	free(s->ent);
	free(s->bits);
	lin_cache_free(&s->cache);
}

/* The register's step: true and *next when op can take effect on value cur. */
static bool step(const struct sop *op, uint32_t cur, uint32_t *next)
{
	switch (op->f) {
	case LIN_READ:
		*next = cur;
		return op->a == cur;
	case LIN_WRITE:
		*next = op->a;
		return true;
	case LIN_CAS:
		*next = op->b;
		return op->a == cur;
	}
	return false;
}

static void unlink_ent(struct search *s, size_t i)
{
	s->ent[s->ent[i].prev].next = s->ent[i].next;
	s->ent[s->ent[i].next].prev = s->ent[i].prev;
}

static void relink_ent(struct search *s, size_t i)
{
	s->ent[s->ent[i].prev].next = i;
	s->ent[s->ent[i].next].prev = i;
}

static void bit_flip(struct search *s, uint32_t id)
{
	uint32_t bit = s->ops[id].bit;
	s->bits[bit / 64] ^= 1ull << (bit % 64);
}

/* A read of a value that no write or cas ever wrote can never be placed: found without
 * searching. Returns the bit id, or SIZE_MAX. */
static size_t read_never_written(const struct search *s)
{
	bool *written = calloc(s->nvals + 1, sizeof(*written));
	size_t bad = SIZE_MAX;
	if (written == NULL)
		return SIZE_MAX; /* the search will find it */
	for (size_t i = 0; i < s->nops; i++)
		if (s->ops[i].f != LIN_READ)
			written[s->ops[i].f == LIN_WRITE ? s->ops[i].a : s->ops[i].b] = true;
	for (size_t i = 0; i < s->nops && bad == SIZE_MAX; i++)
		if (s->ops[i].f == LIN_READ && s->ops[i].a != 0 && !written[s->ops[i].a])
			bad = i;
	free(written);
	return bad;
}

struct frame {
	size_t call;
	uint32_t state;
};

int lin_check(const struct lin_op *ops, size_t n, uint64_t max_states, struct lin_result *out)
{
	struct search s = {0};
	struct frame *stack = NULL;
	struct lin_result deepest = {.verdict = LIN_INVALID};
	size_t depth = 0;
	uint32_t state = 0;
	bool have_deepest = false;
	*out = (struct lin_result){.verdict = LIN_UNKNOWN, .why = "out of memory"};
	if (max_states == 0)
		max_states = LIN_DEFAULT_MAX_STATES;
	if (search_init(&s, ops, n) != 0 || (stack = malloc((s.nops + 1) * sizeof(*stack))) == NULL)
		goto nomem;
	size_t never = read_never_written(&s);
	if (never != SIZE_MAX) {
		*out = (struct lin_result){.verdict = LIN_INVALID,
					   .bad = s.ops[never].orig,
					   .state_null = true,
					   .why = "reads a value never written"};
		goto done;
	}
	size_t left = s.nreq, e = s.ent[s.head].next;
	for (;;) {
		if (left == 0) {
			*out = (struct lin_result){.verdict = LIN_VALID};
			break;
		}
		assert(e != s.tail); /* a definite operation's return is still linked */
		const struct ent *en = &s.ent[e];
		if (en->call) {
			const struct sop *op = &s.ops[en->op];
			uint32_t next;
			if (step(op, state, &next)) {
				bit_flip(&s, en->op);
				int added =
					lin_cache_add(&s.cache, next, s.bits, s.nwords, s.split);
				if (added < 0)
					goto nomem;
				if (s.cache.bytes > LIN_MAX_CACHE_BYTES) {
					out->why = "the search's memory bound";
					break;
				}
				if (s.cache.count > max_states) {
					out->why = "the search's state bound";
					break;
				}
				if (added) {
					stack[depth++] = (struct frame){e, state};
					state = next;
					unlink_ent(&s, e);
					unlink_ent(&s, en->match);
					if (!op->info)
						left--;
					e = s.ent[s.head].next;
					continue;
				}
				bit_flip(&s, en->op);
			}
			e = en->next;
			continue;
		}
		/* The return of an operation not placed: what was placed last must move. */
		if (!have_deepest || depth > deepest.placed) {
			have_deepest = true;
			deepest.bad = s.ops[en->op].orig;
			deepest.placed = depth;
			deepest.state_null = state == 0;
			deepest.state = state ? s.vals[state - 1] : 0;
		}
		if (depth == 0) {
			*out = deepest;
			out->why = "no order of the operations fits their intervals";
			break;
		}
		struct frame fr = stack[--depth];
		const struct ent *ce = &s.ent[fr.call];
		relink_ent(&s, ce->match);
		relink_ent(&s, fr.call);
		bit_flip(&s, ce->op);
		if (!s.ops[ce->op].info)
			left++;
		state = fr.state;
		e = ce->next;
	}
done:
	out->states = s.cache.count;
	free(stack);
	search_free(&s);
	return 0;
nomem:
	*out = (struct lin_result){
		.verdict = LIN_UNKNOWN, .why = "out of memory", .states = s.cache.count};
	free(stack);
	search_free(&s);
	return BERTH_ENOMEM;
}
