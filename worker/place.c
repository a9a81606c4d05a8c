/* worker/place.c: the placement decision: filters, keys for each strategy, ranking with
 * random tie-breaks, applying a decision. Inputs are checked by place_input.c first;
 * groups of tasks are placed by place_group.c. */
#include "worker/place.h"
#include "worker/place_int.h"

#include "common/err.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A candidate and its sort keys: avoid, one per strategy, then the random tie-break. */
struct cand {
	size_t idx;
	bool avoid;
	uint64_t key[PLACE_MAX_STRATEGIES + 1];
};

uint64_t place_random(uint64_t *rng)
{
	uint64_t z = (*rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The port's entry in the instance's sorted list, or NULL when not offered. */
static struct place_port *port_find(const struct place_instance *inst, uint16_t port)
{
	size_t lo = 0, hi = inst->nports;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (inst->ports[mid].port == port)
			return &inst->ports[mid];
		if (inst->ports[mid].port < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The first resource filter that refuses the task on inst, or PLACE_R_OK. */
static enum place_reason fits(const struct place_instance *inst, const struct place_task *t)
{
	/* used <= total is not promised by the caller: then nothing fits. */
	if (inst->cpu_used > inst->cpu_total || t->cpu > inst->cpu_total - inst->cpu_used)
		return PLACE_R_CPU;
	if (inst->mem_used > inst->mem_total || t->mem > inst->mem_total - inst->mem_used)
		return PLACE_R_MEMORY;
	for (size_t i = 0; i < t->nports; i++) {
		const struct place_port *p = port_find(inst, t->ports[i]);
		if (p == NULL || p->used)
			return PLACE_R_PORTS;
	}
	return PLACE_R_OK;
}

enum place_reason place_filter(const struct place_input *in, const struct place_instance *inst)
{
	if (inst->status != PLACE_ACTIVE)
		return PLACE_R_DRAINING;
	enum place_reason r = fits(inst, in->task);
	if (r != PLACE_R_OK)
		return r;
	for (size_t c = 0; c < in->nconstraints; c++) {
		const struct place_constraint *pc = &in->constraints[c];
		if (pc->type == PLACE_DISTINCT_INSTANCE && inst->group_tasks > 0)
			return PLACE_R_DISTINCT;
		if (pc->type == PLACE_MEMBER_OF &&
		    !query_match(pc->query, inst->id, inst->attrs, inst->nattrs))
			return PLACE_R_MEMBER_OF;
	}
	return PLACE_R_OK;
}

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->avoid != y->avoid)
		return x->avoid ? 1 : -1;
	for (size_t i = 0; i < PLACE_MAX_STRATEGIES + 1; i++)
		if (x->key[i] != y->key[i])
			return x->key[i] < y->key[i] ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Keys for strategy s in key[slot] of every candidate; smaller ranks first. */
static int strategy_keys(const struct place_input *in, const struct place_strategy *s, size_t slot,
			 struct cand *c, size_t nc, uint64_t *rng)
{
	uint64_t *groups = NULL;
	if (s->type == PLACE_SPREAD && s->field == PLACE_FIELD_ATTRIBUTE) {
		int rv = place_spread_counts(in->instances, in->ninstances, s->attribute, &groups);
		if (rv != 0)
			return rv;
	}
	for (size_t i = 0; i < nc; i++) {
		const struct place_instance *inst = &in->instances[c[i].idx];
		uint64_t k = 0;
		if (s->type == PLACE_RANDOM)
			k = place_random(rng);
		else if (s->type == PLACE_BINPACK && s->field == PLACE_FIELD_CPU)
			k = (uint64_t)(inst->cpu_total - inst->cpu_used);
		else if (s->type == PLACE_BINPACK)
			k = (uint64_t)(inst->mem_total - inst->mem_used);
		else if (s->field == PLACE_FIELD_INSTANCE_ID)
			k = inst->group_tasks;
		else
			k = groups[c[i].idx];
		c[i].key[slot] = k;
	}
	free(groups);
	return 0;
}

/* The main reason nothing fits: the filter that refused most (later ones win ties). */
enum place_reason place_main_reason(const struct place_result *out, size_t n)
{
	if (n == 0)
		return PLACE_R_NO_INSTANCES;
	enum place_reason best = PLACE_R_DRAINING;
	for (int r = PLACE_R_DRAINING; r < PLACE_R_COUNT; r++)
		if (out->rejected[r] >= out->rejected[best])
			best = (enum place_reason)r;
	return best;
}

int place_choose(const struct place_input *in, uint64_t *rng, size_t *ranked, size_t k,
		 struct place_result *out, char *err, size_t errlen)
{
	assert(in != NULL && rng != NULL && out != NULL && (k == 0 || ranked != NULL));
	memset(out, 0, sizeof(*out));
	out->chosen = PLACE_NONE;
	int rv = place_check(in, err, errlen);
	if (rv != 0)
		return rv;
	struct cand *c = malloc((in->ninstances ? in->ninstances : 1) * sizeof(*c));
	if (c == NULL)
		goto err_nomem;
	size_t nc = 0;
	for (size_t i = 0; i < in->ninstances; i++) {
		enum place_reason r = place_filter(in, &in->instances[i]);
		if (r == PLACE_R_OK)
			c[nc++] = (struct cand){.idx = i, .avoid = in->instances[i].avoid};
		else
			out->rejected[r]++;
	}
	out->candidates = nc;
	if (nc == 0) {
		out->reason = place_main_reason(out, in->ninstances);
		free(c);
		return 0;
	}
	/* Draw every random key from a copy: *rng moves only when the call succeeds. */
	uint64_t r = *rng;
	for (size_t s = 0; s < in->nstrategies; s++) {
		if ((rv = strategy_keys(in, &in->strategies[s], s, c, nc, &r)) != 0) {
			free(c);
			goto err_nomem;
		}
	}
	for (size_t i = 0; i < nc; i++)
		c[i].key[PLACE_MAX_STRATEGIES] = place_random(&r);
	if (k > 1) {
		qsort(c, nc, sizeof(*c), cand_cmp);
	} else {
		size_t best = 0;
		for (size_t i = 1; i < nc; i++)
			if (cand_cmp(&c[i], &c[best]) < 0)
				best = i;
		c[0] = c[best];
	}
	out->chosen = c[0].idx;
	out->reason = PLACE_R_OK;
	out->nranked = k < nc ? k : nc;
	for (size_t i = 0; i < out->nranked; i++)
		ranked[i] = c[i].idx;
	*rng = r;
	free(c);
	return 0;

err_nomem:
	if (errlen > 0)
		snprintf(err, errlen, "place: %s", err_text(BERTH_ENOMEM));
	return BERTH_ENOMEM;
}

int place_apply(struct place_instance *inst, const struct place_task *task)
{
	if (fits(inst, task) != PLACE_R_OK)
		return BERTH_EBADREQ;
	for (size_t i = 0; i < task->nports; i++)
		for (size_t j = 0; j < i; j++)
			if (task->ports[i] == task->ports[j])
				return BERTH_EBADREQ;
	inst->cpu_used += task->cpu;
	inst->mem_used += task->mem;
	for (size_t i = 0; i < task->nports; i++)
		port_find(inst, task->ports[i])->used = true;
	inst->group_tasks++;
	return 0;
}

const char *place_reason_name(enum place_reason r)
{
	static const char *const names[PLACE_R_COUNT] = {
		[PLACE_R_OK] = "ok",
		[PLACE_R_NO_INSTANCES] = "no instances",
		[PLACE_R_DRAINING] = "draining",
		[PLACE_R_CPU] = "cpu",
		[PLACE_R_MEMORY] = "memory",
		[PLACE_R_PORTS] = "ports",
		[PLACE_R_DISTINCT] = "distinctInstance",
		[PLACE_R_MEMBER_OF] = "memberOf",
	};
	return (unsigned)r < PLACE_R_COUNT ? names[r] : "unknown";
}

void place_explain(const struct place_input *in, const struct place_result *r, char *buf,
		   size_t len)
{
	static const char *const how[PLACE_R_COUNT] = {
		[PLACE_R_DRAINING] = "draining",
		[PLACE_R_CPU] = "short of cpu",
		[PLACE_R_MEMORY] = "short of memory",
		[PLACE_R_PORTS] = "without a free port",
		[PLACE_R_DISTINCT] = "already running the group (distinctInstance)",
		[PLACE_R_MEMBER_OF] = "outside memberOf",
	};
	if (len == 0)
		return;
	if (r->chosen != PLACE_NONE) {
		snprintf(buf, len, "placed on %s (one of %zu candidates)",
			 in->instances[r->chosen].id, r->candidates);
		return;
	}
	if (r->reason == PLACE_R_NO_INSTANCES) {
		snprintf(buf, len, "no instance fits: there are no instances");
		return;
	}
	size_t used = (size_t)snprintf(buf, len, "no instance fits:");
	const char *sep = " ";
	for (int i = PLACE_R_DRAINING; i < PLACE_R_COUNT && used < len; i++) {
		if (r->rejected[i] == 0)
			continue;
		used += (size_t)snprintf(buf + used, len - used, "%s%zu %s", sep, r->rejected[i],
					 how[i]);
		sep = ", ";
	}
}
