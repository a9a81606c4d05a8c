/* worker/place_group.c: place_group (worker/place.h): many tasks alike decided one after
 * another, with an index so that a decision costs O(classes + log n) instead of O(n).
 *
 * Why it is exact: after a task lands on instance j, only j's own keys and filters change
 * (its usage, ports and group count), and the counts of spread by attribute change for
 * every instance sharing j's value, all by one. So the instances are split into classes
 * (the same value of every spread attribute of the chain): within a class the attribute
 * keys are equal, the order is the order of the instance keys (binpack, spread
 * instanceId, the random tie-break) and is kept in one binary heap per class; the best
 * instance overall is the best of the classes' heads. The random tie-break is drawn once
 * per instance per call instead of once per decision: equal instances still come in a
 * random order. A chain with `random` (or an empty chain) draws new keys for every
 * decision, so it takes place_choose's O(n) path for each task. */
#include "worker/place.h"
#include "worker/place_int.h"

#include "common/err.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The index over the candidates of one call. */
struct pg {
	const struct place_input *in;
	size_t n;                               /* instances */
	size_t nattr;                           /* spread-attribute strategies */
	size_t attr_slot[PLACE_MAX_STRATEGIES]; /* their positions in the chain */
	size_t attr_of[PLACE_MAX_STRATEGIES];   /* strategy -> its attribute's number */
	uint32_t *val; /* [n * nattr]: value id of instance i for attribute a */
	uint64_t *count[PLACE_MAX_STRATEGIES]; /* [values of a]: tasks of the group */
	uint32_t *cls;                         /* [n]: class of instance i */
	size_t ncls;
	size_t *heap;          /* candidates, class by class */
	size_t *hstart, *hlen; /* [ncls]: each class's heap in heap[] */
	size_t *pos;           /* [n]: position of i in heap[], SIZE_MAX when out */
	uint64_t *rnd;         /* [n]: tie-break */
	size_t candidates;
};

/* A small open-addressing table from byte strings to dense ids (values, then classes). */
struct ids {
	const void **keys;
	size_t *lens;
	uint32_t *id;
	size_t cap, n;
};

static uint64_t hash_bytes(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ s[i]) * 1099511628211ull;
	return h;
}

static int ids_init(struct ids *t, size_t n)
{
	t->cap = 16;
	while (t->cap < 2 * n)
		t->cap *= 2;
	t->n = 0;
	t->keys = calloc(t->cap, sizeof(*t->keys));
	t->lens = calloc(t->cap, sizeof(*t->lens));
	t->id = calloc(t->cap, sizeof(*t->id));
	return t->keys && t->lens && t->id ? 0 : BERTH_ENOMEM;
}

static void ids_close(struct ids *t)
{
	free(t->keys);
	free(t->lens);
	free(t->id);
}

/* The id of key (borrowed: it must outlive the table), a new one when first seen. */
static uint32_t ids_get(struct ids *t, const void *key, size_t len)
{
	size_t mask = t->cap - 1;
	for (size_t i = (size_t)hash_bytes(key, len) & mask;; i = (i + 1) & mask) {
		if (t->keys[i] == NULL) {
			t->keys[i] = key;
			t->lens[i] = len;
			t->id[i] = (uint32_t)t->n++;
			return t->id[i];
		}
		if (t->lens[i] == len && memcmp(t->keys[i], key, len) == 0)
			return t->id[i];
	}
}

/* Instance i's value of attr, "\x01" when it has none (values are text: never that). */
static const char *attr_value(const struct place_instance *inst, const char *attr)
{
	for (size_t a = 0; a < inst->nattrs; a++)
		if (inst->attrs[a].name != NULL && strcmp(inst->attrs[a].name, attr) == 0)
			return inst->attrs[a].value != NULL ? inst->attrs[a].value : "";
	return "\x01";
}

/* Strategy s's key for instance i (smaller ranks first). */
static uint64_t pg_key(const struct pg *g, size_t s, size_t i)
{
	const struct place_strategy *st = &g->in->strategies[s];
	const struct place_instance *inst = &g->in->instances[i];
	if (st->type == PLACE_BINPACK)
		return (uint64_t)(st->field == PLACE_FIELD_CPU ? inst->cpu_total - inst->cpu_used
							       : inst->mem_total - inst->mem_used);
	if (st->field == PLACE_FIELD_INSTANCE_ID)
		return inst->group_tasks;
	size_t a = g->attr_of[s];
	return g->count[a][g->val[i * g->nattr + a]];
}

/* Whether i ranks before j (avoid, the whole chain, then the tie-break, then the index).
 * Within one class the attribute keys are equal, so this also orders the heaps. */
static bool pg_before(const struct pg *g, size_t i, size_t j)
{
	if (g->in->instances[i].avoid != g->in->instances[j].avoid)
		return g->in->instances[j].avoid;
	for (size_t s = 0; s < g->in->nstrategies; s++) {
		uint64_t a = pg_key(g, s, i), b = pg_key(g, s, j);
		if (a != b)
			return a < b;
	}
	if (g->rnd[i] != g->rnd[j])
		return g->rnd[i] < g->rnd[j];
	return i < j;
}

static void pg_swap(struct pg *g, size_t c, size_t x, size_t y)
{
	size_t *h = g->heap + g->hstart[c];
	size_t t = h[x];
	h[x] = h[y];
	h[y] = t;
	g->pos[h[x]] = g->hstart[c] + x;
	g->pos[h[y]] = g->hstart[c] + y;
}

static void pg_down(struct pg *g, size_t c, size_t x)
{
	size_t *h = g->heap + g->hstart[c], n = g->hlen[c];
	for (;;) {
		size_t l = 2 * x + 1, r = l + 1, m = x;
		if (l < n && pg_before(g, h[l], h[m]))
			m = l;
		if (r < n && pg_before(g, h[r], h[m]))
			m = r;
		if (m == x)
			return;
		pg_swap(g, c, x, m);
		x = m;
	}
}

static void pg_up(struct pg *g, size_t c, size_t x)
{
	size_t *h = g->heap + g->hstart[c];
	while (x > 0 && pg_before(g, h[x], h[(x - 1) / 2])) {
		pg_swap(g, c, x, (x - 1) / 2);
		x = (x - 1) / 2;
	}
}

static void pg_free(struct pg *g)
{
	free(g->val);
	for (size_t a = 0; a < g->nattr; a++)
		free(g->count[a]);
	free(g->cls);
	free(g->heap);
	free(g->hstart);
	free(g->hlen);
	free(g->pos);
	free(g->rnd);
}

/* Value ids and counts of each spread attribute, then classes (tuples of value ids). */
static int pg_classes(struct pg *g)
{
	const struct place_input *in = g->in;
	size_t n = g->n;
	struct ids t;
	for (size_t a = 0; a < g->nattr; a++) {
		const char *attr = in->strategies[g->attr_slot[a]].attribute;
		if (ids_init(&t, n) != 0) {
			ids_close(&t);
			return BERTH_ENOMEM;
		}
		for (size_t i = 0; i < n; i++) {
			const char *v = attr_value(&in->instances[i], attr);
			g->val[i * g->nattr + a] = ids_get(&t, v, strlen(v));
		}
		size_t nv = t.n;
		ids_close(&t);
		if ((g->count[a] = calloc(nv ? nv : 1, sizeof(uint64_t))) == NULL)
			return BERTH_ENOMEM;
		for (size_t i = 0; i < n; i++)
			g->count[a][g->val[i * g->nattr + a]] += in->instances[i].group_tasks;
	}
	if (ids_init(&t, n) != 0) {
		ids_close(&t);
		return BERTH_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		g->cls[i] = ids_get(&t, &g->val[i * g->nattr], g->nattr * sizeof(uint32_t));
	g->ncls = t.n;
	ids_close(&t);
	return 0;
}

/* Builds the index: filters every instance once (rejections counted in *out), heaps. */
static int pg_build(struct pg *g, const struct place_input *in, uint64_t *rng,
		    struct place_result *out)
{
	size_t n = in->ninstances, m = n ? n : 1;
	memset(g, 0, sizeof(*g));
	g->in = in;
	g->n = n;
	for (size_t s = 0; s < in->nstrategies; s++)
		if (in->strategies[s].type == PLACE_SPREAD &&
		    in->strategies[s].field == PLACE_FIELD_ATTRIBUTE) {
			g->attr_of[s] = g->nattr;
			g->attr_slot[g->nattr++] = s;
		}
	g->val = calloc(m * (g->nattr ? g->nattr : 1), sizeof(*g->val));
	g->cls = calloc(m, sizeof(*g->cls));
	g->heap = calloc(m, sizeof(*g->heap));
	g->pos = calloc(m, sizeof(*g->pos));
	g->rnd = calloc(m, sizeof(*g->rnd));
	if (!g->val || !g->cls || !g->heap || !g->pos || !g->rnd || pg_classes(g) != 0)
		return BERTH_ENOMEM;
	g->hstart = calloc(g->ncls ? g->ncls : 1, sizeof(size_t));
	g->hlen = calloc(g->ncls ? g->ncls : 1, sizeof(size_t));
	if (!g->hstart || !g->hlen)
		return BERTH_ENOMEM;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		g->rnd[i] = place_random(rng);
		enum place_reason r = place_filter(in, &in->instances[i]);
		g->pos[i] = r == PLACE_R_OK ? 0 : SIZE_MAX;
		if (r == PLACE_R_OK)
			g->hlen[g->cls[i]]++;
		else
			out->rejected[r]++;
	}
	for (size_t c = 1; c < g->ncls; c++)
		g->hstart[c] = g->hstart[c - 1] + g->hlen[c - 1];
	memset(g->hlen, 0, g->ncls * sizeof(size_t));
	for (size_t i = 0; i < n; i++) {
		if (g->pos[i] == SIZE_MAX)
			continue;
		size_t c = g->cls[i];
		g->pos[i] = g->hstart[c] + g->hlen[c];
		g->heap[g->pos[i]] = i;
		g->hlen[c]++;
		g->candidates++;
	}
	for (size_t c = 0; c < g->ncls; c++)
		for (size_t x = g->hlen[c] / 2; x-- > 0;)
			pg_down(g, c, x);
	return 0;
}

/* The best candidate: the best of the classes' heads; SIZE_MAX when there is none. */
static size_t pg_best(const struct pg *g)
{
	size_t best = SIZE_MAX;
	for (size_t c = 0; c < g->ncls; c++) {
		if (g->hlen[c] == 0)
			continue;
		size_t i = g->heap[g->hstart[c]];
		if (best == SIZE_MAX || pg_before(g, i, best))
			best = i;
	}
	return best;
}

/* The task is on j now: its class's counts, its place in its heap (out of it when it no
 * longer passes the filters). */
static void pg_placed(struct pg *g, size_t j, struct place_result *out)
{
	for (size_t a = 0; a < g->nattr; a++)
		g->count[a][g->val[j * g->nattr + a]]++;
	size_t c = g->cls[j], x = g->pos[j] - g->hstart[c];
	enum place_reason r = place_filter(g->in, &g->in->instances[j]);
	if (r == PLACE_R_OK) { /* its keys moved: up (binpack) or down (spread instanceId) */
		pg_down(g, c, x);
		pg_up(g, c, g->pos[j] - g->hstart[c]);
		return;
	}
	out->rejected[r]++;
	g->candidates--;
	size_t last = --g->hlen[c];
	if (x != last) { /* the heap's last entry takes j's place, then finds its own */
		pg_swap(g, c, x, last);
		pg_down(g, c, x);
		pg_up(g, c, x);
	}
	g->pos[j] = SIZE_MAX;
}

/* One task after another through place_choose: for chains that draw random keys. */
static int group_each(const struct place_input *in, size_t count, uint64_t *rng, size_t *chosen,
		      size_t *placed, struct place_result *last, char *err, size_t errlen)
{
	for (size_t i = 0; i < count; i++) {
		int rv = place_choose(in, rng, NULL, 0, last, err, errlen);
		if (rv != 0)
			return rv;
		if (last->chosen == PLACE_NONE)
			return 0;
		rv = place_apply(&in->instances[last->chosen], in->task);
		assert(rv == 0); /* place_choose checked that it fits */
		chosen[i] = last->chosen;
		(*placed)++;
	}
	return 0;
}

int place_group(const struct place_input *in, size_t count, uint64_t *rng, size_t *chosen,
		size_t *placed, struct place_result *last, char *err, size_t errlen)
{
	*placed = 0;
	memset(last, 0, sizeof(*last));
	last->chosen = PLACE_NONE;
	int rv = place_check(in, err, errlen);
	if (rv != 0)
		return rv;
	bool random = in->nstrategies == 0;
	for (size_t s = 0; s < in->nstrategies; s++)
		random |= in->strategies[s].type == PLACE_RANDOM;
	if (random || count == 0)
		return group_each(in, count, rng, chosen, placed, last, err, errlen);
	struct pg g;
	uint64_t r = *rng;
	struct place_result res;
	if (pg_build(&g, in, &r, &res) != 0) {
		pg_free(&g);
		if (errlen > 0)
			snprintf(err, errlen, "place: %s", err_text(BERTH_ENOMEM));
		return BERTH_ENOMEM;
	}
	*rng = r;
	for (size_t i = 0; i < count; i++) {
		size_t j = pg_best(&g);
		if (j == SIZE_MAX)
			break;
		rv = place_apply(&in->instances[j], in->task);
		assert(rv == 0); /* a candidate passed the filters */
		res.chosen = j;
		res.reason = PLACE_R_OK;
		res.candidates = g.candidates;
		*last = res; /* the decision as place_choose reports it */
		chosen[i] = j;
		(*placed)++;
		pg_placed(&g, j, &res);
	}
	if (*placed < count) {
		/* Nothing fits: every instance is out of the heaps, each counted once under
		 * the filter that refused it. */
		*last = res;
		last->chosen = PLACE_NONE;
		last->candidates = 0;
		last->reason = place_main_reason(last, in->ninstances);
	}
	pg_free(&g);
	return 0;
}
