/* worker/place_input.c: placement's inputs: every check place_choose makes before it
 * decides, and the task counts per attribute value that spread ranks by. */
#include "worker/place_int.h"

#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 4, 5))) static int bad(char *err, size_t errlen, int code,
						     const char *fmt, ...)
{
	if (errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

static int check_task(const struct place_task *t, char *err, size_t errlen)
{
	if (t->cpu < 0 || t->mem < 0)
		return bad(err, errlen, BERTH_EBADREQ, "task: negative %s",
			   t->cpu < 0 ? "cpu" : "memory");
	if (t->nports > PLACE_MAX_TASK_PORTS)
		return bad(err, errlen, BERTH_ETOOLARGE, "task: %zu host ports; at most %d",
			   t->nports, PLACE_MAX_TASK_PORTS);
	for (size_t i = 0; i < t->nports; i++) {
		if (t->ports[i] == 0)
			return bad(err, errlen, BERTH_EBADREQ, "task: host port 0");
		for (size_t j = 0; j < i; j++)
			if (t->ports[i] == t->ports[j])
				return bad(err, errlen, BERTH_EBADREQ, "task: host port %u twice",
					   (unsigned)t->ports[i]);
	}
	return 0;
}

static int check_rules(const struct place_input *in, char *err, size_t errlen)
{
	if (in->nstrategies > PLACE_MAX_STRATEGIES)
		return bad(err, errlen, BERTH_ETOOLARGE, "%zu strategies; at most %d",
			   in->nstrategies, PLACE_MAX_STRATEGIES);
	if (in->nconstraints > PLACE_MAX_CONSTRAINTS)
		return bad(err, errlen, BERTH_ETOOLARGE, "%zu constraints; at most %d",
			   in->nconstraints, PLACE_MAX_CONSTRAINTS);
	for (size_t i = 0; i < in->nstrategies; i++) {
		const struct place_strategy *s = &in->strategies[i];
		bool ok = false;
		if (s->type == PLACE_BINPACK)
			ok = s->field == PLACE_FIELD_CPU || s->field == PLACE_FIELD_MEMORY;
		else if (s->type == PLACE_SPREAD)
			ok = s->field == PLACE_FIELD_INSTANCE_ID ||
			     (s->field == PLACE_FIELD_ATTRIBUTE && s->attribute != NULL &&
			      s->attribute[0] != '\0');
		else if (s->type == PLACE_RANDOM)
			ok = s->field == PLACE_FIELD_NONE;
		else
			return bad(err, errlen, BERTH_EBADREQ, "strategy %zu: unknown type %d", i,
				   (int)s->type);
		if (!ok)
			return bad(err, errlen, BERTH_EBADREQ, "strategy %zu: %s", i,
				   s->type == PLACE_BINPACK ? "binpack takes cpu or memory"
				   : s->type == PLACE_SPREAD
					   ? "spread takes instanceId or an attribute name"
					   : "random takes no field");
		if (s->field != PLACE_FIELD_ATTRIBUTE && s->attribute != NULL)
			return bad(err, errlen, BERTH_EBADREQ,
				   "strategy %zu: an attribute name "
				   "without spread by attribute",
				   i);
	}
	for (size_t i = 0; i < in->nconstraints; i++) {
		const struct place_constraint *c = &in->constraints[i];
		if (c->type == PLACE_MEMBER_OF && c->query == NULL)
			return bad(err, errlen, BERTH_EBADREQ,
				   "constraint %zu: memberOf needs an "
				   "expression",
				   i);
		if (c->type == PLACE_DISTINCT_INSTANCE && c->query != NULL)
			return bad(err, errlen, BERTH_EBADREQ,
				   "constraint %zu: distinctInstance "
				   "takes no expression",
				   i);
		if (c->type != PLACE_MEMBER_OF && c->type != PLACE_DISTINCT_INSTANCE)
			return bad(err, errlen, BERTH_EBADREQ, "constraint %zu: unknown type %d", i,
				   (int)c->type);
	}
	return 0;
}

static int check_instance(const struct place_instance *inst, size_t i, char *err, size_t errlen)
{
	if (inst->id == NULL)
		return bad(err, errlen, BERTH_EBADREQ, "instance %zu: no id", i);
	if (inst->status != PLACE_ACTIVE && inst->status != PLACE_DRAINING)
		return bad(err, errlen, BERTH_EBADREQ, "instance %s: unknown status %d", inst->id,
			   (int)inst->status);
	if (inst->cpu_total < 0 || inst->cpu_used < 0 || inst->mem_total < 0 || inst->mem_used < 0)
		return bad(err, errlen, BERTH_EBADREQ, "instance %s: negative cpu or memory",
			   inst->id);
	if (inst->nports > 0 && inst->ports == NULL)
		return bad(err, errlen, BERTH_EBADREQ, "instance %s: no port list", inst->id);
	if (inst->nattrs > 0 && inst->attrs == NULL)
		return bad(err, errlen, BERTH_EBADREQ, "instance %s: no attribute list", inst->id);
	for (size_t p = 0; p < inst->nports; p++) {
		if (inst->ports[p].port == 0)
			return bad(err, errlen, BERTH_EBADREQ, "instance %s: port 0", inst->id);
		if (p > 0 && inst->ports[p].port <= inst->ports[p - 1].port)
			return bad(err, errlen, BERTH_EBADREQ,
				   "instance %s: ports not strictly ascending at %u", inst->id,
				   (unsigned)inst->ports[p].port);
	}
	return 0;
}

int place_check(const struct place_input *in, char *err, size_t errlen)
{
	if (in->task == NULL)
		return bad(err, errlen, BERTH_EBADREQ, "no task");
	if (in->ninstances > 0 && in->instances == NULL)
		return bad(err, errlen, BERTH_EBADREQ, "no instance list");
	if ((in->nstrategies > 0 && in->strategies == NULL) ||
	    (in->nconstraints > 0 && in->constraints == NULL) ||
	    (in->task->nports > 0 && in->task->ports == NULL))
		return bad(err, errlen, BERTH_EBADREQ, "a count without its list");
	int rv = check_task(in->task, err, errlen);
	if (rv == 0)
		rv = check_rules(in, err, errlen);
	for (size_t i = 0; rv == 0 && i < in->ninstances; i++)
		rv = check_instance(&in->instances[i], i, err, errlen);
	return rv;
}

/* An instance's value of the spread attribute; present false when it has none. */
struct valref {
	const char *value;
	bool present;
	size_t idx;
};

static int valref_cmp(const void *a, const void *b)
{
	const struct valref *x = a, *y = b;
	if (x->present != y->present)
		return x->present ? 1 : -1;
	return x->present ? strcmp(x->value, y->value) : 0;
}

int place_spread_counts(const struct place_instance *insts, size_t n, const char *attr,
			uint64_t **out)
{
	struct valref *v = malloc((n ? n : 1) * sizeof(*v));
	uint64_t *sum = calloc(n ? n : 1, sizeof(*sum));
	if (v == NULL || sum == NULL) {
		free(v);
		free(sum);
		return BERTH_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		v[i] = (struct valref){.idx = i};
		for (size_t a = 0; a < insts[i].nattrs && !v[i].present; a++) {
			const struct query_attr *qa = &insts[i].attrs[a];
			if (qa->name != NULL && strcmp(qa->name, attr) == 0) {
				v[i].present = true;
				v[i].value = qa->value != NULL ? qa->value : "";
			}
		}
	}
	/* Sorted, equal values sit together: one pass sums each run, another hands it out. */
	qsort(v, n, sizeof(*v), valref_cmp);
	for (size_t start = 0, end; start < n; start = end) {
		uint64_t total = 0;
		for (end = start; end < n && valref_cmp(&v[start], &v[end]) == 0; end++)
			total += insts[v[end].idx].group_tasks;
		for (size_t i = start; i < end; i++)
			sum[v[i].idx] = total;
	}
	free(v);
	*out = sum;
	return 0;
}
