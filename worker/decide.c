/* worker/decide.c: placement decisions: the cache's live instances, less what this
 * worker holds for commits the cache does not show yet, as place_input (built once for a
 * batch of tasks alike); the tasks' strategies and constraints as place's; place_choose
 * for one task, place_group for several. */
#include "worker/worker.h"

#include "common/err.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An instance another worker placed on this recently is a candidate of last resort (it
 * is most likely filling it: going there too would conflict). */
#define DECIDE_AVOID_MS 1000

void decide_task_free(struct cache_task *t)
{
	if (t->queries == NULL)
		return;
	for (size_t i = 0; i < t->rec.nconstraints; i++)
		query_free(t->queries[i]);
	free(t->queries);
	t->queries = NULL;
}

void decide_close(struct worker *w)
{
	free(w->pi);
	free(w->pc);
	free(w->pports);
	w->pi = NULL;
	w->pc = NULL;
	w->pports = NULL;
	w->pcap = 0;
	while (w->holds != NULL) {
		struct hold *h = w->holds;
		w->holds = h->next;
		free(h);
	}
}

int decide_hold(struct worker *w, const struct cache_task *t, const struct cache_inst *in,
		uint64_t attempt)
{
	struct hold *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return BERTH_ENOMEM;
	snprintf(h->tid, sizeof(h->tid), "%s", t->id);
	snprintf(h->iid, sizeof(h->iid), "%s", in->id);
	snprintf(h->group, sizeof(h->group), "%s", t->rec.group);
	h->cpu = t->rec.cpu;
	h->mem = t->rec.memory;
	h->nports = t->rec.nhost_ports;
	if (h->nports > 0)
		memcpy(h->ports, t->rec.host_ports, h->nports * sizeof(uint16_t));
	h->attempt = attempt;
	h->next = w->holds;
	w->holds = h;
	struct cache_inst *ci = cache_inst(&w->cache, in->id);
	if (ci != NULL)
		ci->held++;
	return 0;
}

/* A hold of this worker's stops being in flight: committed at rev (0: failed). */
static void decide_landed(struct worker *w, const struct hold *h, uint64_t rev)
{
	struct cache_inst *in = cache_inst(&w->cache, h->iid);
	if (in == NULL)
		return;
	if (in->held > 0) /* a list in between starts the instance again at 0 */
		in->held--;
	if (rev == 0)
		return;
	size_t n = sizeof(in->mine_rev) / sizeof(in->mine_rev[0]), i = 0;
	while (i < n && in->mine_rev[i] != (int64_t)rev)
		i++;
	if (i < n)
		return; /* a transaction of several tasks there */
	memmove(in->mine_rev + 1, in->mine_rev, (n - 1) * sizeof(in->mine_rev[0]));
	in->mine_rev[0] = (int64_t)rev;
}

/* Whether the cache shows what a hold holds: its task placed on its instance (the watch
 * brings a transaction's changes together, so its counters are there too). The watch
 * may bring a commit before its answer: a hold still counted then would count the task
 * twice, and the next decisions would see that instance and its zone fuller than they
 * are (one worker's spread ended 10 to 45 tasks apart between zones). */
static bool decide_shown(const struct worker *w, const struct hold *h)
{
	const struct cache_task *t = cache_task(&w->cache, h->tid);
	return t == NULL || (t->rec.last_status != MODEL_TASK_PROVISIONING &&
			     t->rec.instance != NULL && strcmp(t->rec.instance, h->iid) == 0);
}

void decide_unhold(struct worker *w, uint64_t attempt, uint64_t rev)
{
	for (struct hold **p = &w->holds; *p != NULL;) {
		struct hold *h = *p;
		if (h->attempt != attempt || h->until_rev != 0) {
			p = &h->next;
			continue;
		}
		decide_landed(w, h, rev);
		if (rev != 0 && !decide_shown(w, h)) {
			h->until_rev = rev;
			p = &h->next;
			continue;
		}
		/* A hold dropped after a failure gives back room that a parked task may use. */
		if (rev == 0)
			w->wake = true;
		*p = h->next;
		free(h);
	}
}

void sched_caught_up(struct worker *w)
{
	for (struct hold **p = &w->holds; *p != NULL;) {
		struct hold *h = *p;
		if (h->until_rev != 0 && (h->until_rev <= w->cache.rev || decide_shown(w, h))) {
			*p = h->next;
			free(h);
		} else {
			p = &h->next;
		}
	}
}

static int decide_grow(struct worker *w, size_t n)
{
	if (n <= w->pcap)
		return 0;
	size_t cap = n > 16 ? n * 2 : 32;
	struct place_instance *pi = realloc(w->pi, cap * sizeof(*pi));
	if (pi == NULL)
		return BERTH_ENOMEM;
	w->pi = pi;
	struct cache_inst **pc = realloc(w->pc, cap * sizeof(*pc));
	if (pc == NULL)
		return BERTH_ENOMEM;
	w->pc = pc;
	struct place_port *pp = realloc(w->pports, cap * MODEL_HOST_PORTS_MAX * sizeof(*pp));
	if (pp == NULL)
		return BERTH_ENOMEM;
	w->pports = pp;
	w->pcap = cap;
	return 0;
}

/* The task's constraints and strategies in place's form; memberOf compiled once. */
static int decide_rules(struct cache_task *t, struct place_constraint *pc,
			struct place_strategy *ps, char *err, size_t errlen)
{
	const struct model_task *r = &t->rec;
	if (t->queries == NULL && r->nconstraints > 0) {
		t->queries = calloc(r->nconstraints, sizeof(*t->queries));
		if (t->queries == NULL)
			return BERTH_ENOMEM;
		for (size_t i = 0; i < r->nconstraints; i++) {
			if (r->constraints[i].type != MODEL_MEMBER_OF)
				continue;
			char qerr[200];
			int rc = query_compile(r->constraints[i].expression, &t->queries[i], qerr,
					       sizeof(qerr));
			if (rc != 0) {
				snprintf(err, errlen, "placementConstraints[%zu]: %s", i, qerr);
				decide_task_free(t);
				return rc == BERTH_ENOMEM ? rc : BERTH_EBADREQ;
			}
		}
	}
	for (size_t i = 0; i < r->nconstraints; i++) {
		pc[i].type = r->constraints[i].type == MODEL_MEMBER_OF ? PLACE_MEMBER_OF
								       : PLACE_DISTINCT_INSTANCE;
		pc[i].query = t->queries[i];
	}
	for (size_t i = 0; i < r->nstrategies; i++) {
		const char *attr = NULL;
		int f = model_strategy_field(&r->strategies[i], &attr);
		ps[i].attribute = NULL;
		switch (r->strategies[i].type) {
		case MODEL_BINPACK:
			ps[i].type = PLACE_BINPACK;
			ps[i].field = f == MODEL_FIELD_CPU ? PLACE_FIELD_CPU : PLACE_FIELD_MEMORY;
			break;
		case MODEL_SPREAD:
			ps[i].type = PLACE_SPREAD;
			ps[i].field = f == MODEL_FIELD_ATTR ? PLACE_FIELD_ATTRIBUTE
							    : PLACE_FIELD_INSTANCE_ID;
			ps[i].attribute = f == MODEL_FIELD_ATTR ? attr : NULL;
			break;
		case MODEL_RANDOM:
			ps[i].type = PLACE_RANDOM;
			ps[i].field = PLACE_FIELD_NONE;
			break;
		}
	}
	return 0;
}

/* Instance entry for in (with a record and alive) at index n, ports limited to the ones
 * the task asks for: place only checks those. */
static void decide_instance(struct worker *w, size_t n, struct cache_inst *in,
			    const struct model_task *t)
{
	struct place_instance *p = &w->pi[n];
	struct place_port *ports = &w->pports[n * MODEL_HOST_PORTS_MAX];
	size_t np = 0;
	char pk[8];
	/* The task's ports, ascending, as far as the instance offers them. */
	uint16_t sorted[MODEL_HOST_PORTS_MAX];
	size_t ns = t->nhost_ports;
	if (ns > 0)
		memcpy(sorted, t->host_ports, ns * sizeof(uint16_t));
	for (size_t i = 1; i < ns; i++)
		for (size_t j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
			uint16_t x = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = x;
		}
	for (size_t i = 0; i < ns; i++) {
		if (!model_instance_offers(&in->rec, sorted[i]))
			continue;
		snprintf(pk, sizeof(pk), "%u", sorted[i]);
		ports[np].port = sorted[i];
		ports[np].used = wmap_get(&in->ports, pk) != NULL;
		np++;
	}
	in->idx = n;
	w->pc[n] = in;
	p->id = in->id;
	p->status = in->rec.status == MODEL_INSTANCE_DRAINING ? PLACE_DRAINING : PLACE_ACTIVE;
	p->cpu_total = in->rec.cpu;
	p->cpu_used = in->cpu_used;
	p->mem_total = in->rec.memory;
	p->mem_used = in->mem_used;
	p->ports = ports;
	p->nports = np;
	p->attrs = in->attrs;
	p->nattrs = in->rec.nattributes;
	p->avoid = in->busy_ms != 0 && uv_now(w->loop) < in->busy_ms + DECIDE_AVOID_MS;
	int64_t g = cache_group(&w->cache, t->group, in->id);
	p->group_tasks = g > 0 ? (uint32_t)g : 0;
}

/* What this worker has committed or is committing, on the instances given. */
static void decide_apply_holds(struct worker *w, size_t n, const struct model_task *t)
{
	for (const struct hold *h = w->holds; h != NULL; h = h->next) {
		struct cache_inst *in = cache_inst(&w->cache, h->iid);
		if (in == NULL || in->idx >= n || w->pc[in->idx] != in || decide_shown(w, h))
			continue;
		struct place_instance *p = &w->pi[in->idx];
		p->cpu_used += h->cpu;
		p->mem_used += h->mem;
		for (size_t i = 0; i < h->nports; i++)
			for (size_t j = 0; j < p->nports; j++)
				if (p->ports[j].port == h->ports[i])
					p->ports[j].used = true;
		if (strcmp(h->group, t->group) == 0)
			p->group_tasks++;
	}
}

int decide_tasks(struct worker *w, struct cache_task **ts, size_t n, struct cache_inst **insts,
		 size_t *placed, struct place_result *res, char *err, size_t errlen)
{
	struct place_constraint pc[MODEL_CONSTRAINTS_MAX];
	struct place_strategy ps[MODEL_STRATEGIES_MAX];
	size_t chosen[WORKER_BATCH_MAX];
	const struct model_task *r = &ts[0]->rec;
	const char *k;
	void *v;
	size_t ni = 0;
	*placed = 0;
	if (n == 0 || n > WORKER_BATCH_MAX)
		return BERTH_EBADREQ;
	int rc = decide_rules(ts[0], pc, ps, err, errlen);
	if (rc != 0)
		return rc;
	if (decide_grow(w, w->cache.insts.n) != 0)
		return BERTH_ENOMEM;
	for (size_t i = 0; (i = wmap_next(&w->cache.insts, i, &k, &v)) != 0;) {
		struct cache_inst *in = v;
		in->idx = SIZE_MAX;
		if (in->has_rec && in->alive)
			decide_instance(w, ni++, in, r);
	}
	decide_apply_holds(w, ni, r);
	struct place_task pt = {r->cpu, r->memory, r->host_ports, r->nhost_ports};
	struct place_input in = {w->pi, ni, &pt, pc, r->nconstraints, ps, r->nstrategies};
	if (n == 1) {
		rc = place_choose(&in, &w->rng, chosen, 1, res, err, errlen);
		*placed = rc == 0 && res->chosen != PLACE_NONE;
	} else {
		rc = place_group(&in, n, &w->rng, chosen, placed, res, err, errlen);
	}
	for (size_t i = 0; rc == 0 && i < *placed; i++)
		insts[i] = w->pc[chosen[i]];
	return rc;
}
