/* worker/place.h: task placement as ECS does it: filter the instances, rank the ones left
 * with a strategy chain, choose (docs/scheduling.md).
 *
 * Pure functions: no I/O, no store, no clock, no globals. The only randomness comes from
 * the caller's generator state (place_random), so the same inputs and seed give the same
 * decision. The worker fills these plain structs from its cache of the cluster model.
 *
 * Filters, in this order; each refused instance is counted under the first that refused it:
 *	status      ACTIVE only (DRAINING instances get no new tasks)
 *	cpu, memory the task's demand fits in total - used
 *	ports       every host port the task needs is offered by the instance and free
 *	constraints in the order given: distinctInstance (no task of the group on it yet),
 *	            memberOf (the instance matches the cluster query)
 * Ranking: candidates the caller marks `avoid` (another worker is placing tasks on them)
 * come after all the others; then the candidates are ordered by the first strategy;
 * equals by the next; equals after the whole chain in random order (so that workers
 * deciding at once on the same state tend to choose different instances and conflict
 * less):
 *	binpack cpu|memory   least of that resource left first (fill instances up)
 *	spread instanceId    fewest tasks of the group on the instance first
 *	spread attribute:X   fewest tasks of the group on instances with the same value of X
 *	                     first (counted over every instance given, draining ones too;
 *	                     instances without X form one group of their own)
 *	random               random order (anything after it in the chain has no effect)
 * An empty chain is random order. */
#ifndef BERTH_WORKER_PLACE_H
#define BERTH_WORKER_PLACE_H

#include "client/query.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PLACE_MAX_STRATEGIES 5   /* as ECS */
#define PLACE_MAX_CONSTRAINTS 10 /* as ECS */
#define PLACE_MAX_TASK_PORTS 64  /* host ports one task may ask for */
#define PLACE_NONE SIZE_MAX

enum place_status { PLACE_ACTIVE, PLACE_DRAINING };

/* A host port an instance offers, and whether a task holds it. */
struct place_port {
	uint16_t port; /* 1..65535 */
	bool used;
};

/* One instance as placement sees it. Strings and arrays are borrowed from the caller;
 * place_apply and place_group update the usage fields and ports[].used in place. */
struct place_instance {
	const char *id;
	enum place_status status;
	int64_t cpu_total, cpu_used; /* cpu units */
	int64_t mem_total, mem_used; /* MiB */
	struct place_port *ports;    /* offered, strictly ascending by port */
	size_t nports;
	const struct query_attr *attrs; /* what memberOf and spread attribute:X read */
	size_t nattrs;
	uint32_t group_tasks; /* tasks of the placed task's group already on this instance */
	bool avoid;           /* a candidate of last resort (another scheduler is filling it) */
};

/* What one task needs. */
struct place_task {
	int64_t cpu;           /* >= 0 */
	int64_t mem;           /* >= 0, MiB */
	const uint16_t *ports; /* host ports, distinct, 1..65535 */
	size_t nports;
};

enum place_constraint_type { PLACE_DISTINCT_INSTANCE, PLACE_MEMBER_OF };

struct place_constraint {
	enum place_constraint_type type;
	const struct query *query; /* memberOf: required; distinctInstance: must be NULL */
};

enum place_strategy_type { PLACE_BINPACK, PLACE_SPREAD, PLACE_RANDOM };
enum place_field {
	PLACE_FIELD_NONE,        /* random */
	PLACE_FIELD_CPU,         /* binpack */
	PLACE_FIELD_MEMORY,      /* binpack */
	PLACE_FIELD_INSTANCE_ID, /* spread */
	PLACE_FIELD_ATTRIBUTE,   /* spread, by the attribute named */
};

struct place_strategy {
	enum place_strategy_type type;
	enum place_field field;
	const char *attribute; /* PLACE_FIELD_ATTRIBUTE: the name, else NULL */
};

struct place_input {
	struct place_instance *instances; /* read by place_choose, updated by place_group */
	size_t ninstances;
	const struct place_task *task;
	const struct place_constraint *constraints;
	size_t nconstraints;
	const struct place_strategy *strategies;
	size_t nstrategies;
};

/* Why nothing was chosen; also the index of place_result.rejected. */
enum place_reason {
	PLACE_R_OK,
	PLACE_R_NO_INSTANCES, /* none given */
	PLACE_R_DRAINING,
	PLACE_R_CPU,
	PLACE_R_MEMORY,
	PLACE_R_PORTS,
	PLACE_R_DISTINCT, /* distinctInstance */
	PLACE_R_MEMBER_OF,
	PLACE_R_COUNT
};

struct place_result {
	size_t chosen;                  /* index into instances, or PLACE_NONE */
	enum place_reason reason;       /* PLACE_R_OK when chosen, else the main reason (below) */
	size_t candidates;              /* instances that passed every filter */
	size_t rejected[PLACE_R_COUNT]; /* refused instances by the filter that refused them */
	size_t nranked;                 /* entries written to ranked */
};

/* Chooses an instance for in->task. On 0, out->chosen is the best candidate or
 * PLACE_NONE; then out->reason is the filter that refused the most instances (on a
 * tie, the one checked later), or PLACE_R_NO_INSTANCES for an empty list. When k > 0,
 * ranked[0..out->nranked) receives the best min(k, candidates) instance indexes, best
 * first (ranked[0] == chosen): the worker tries the next one after a conflict.
 * Advances *rng. Allocates scratch memory and frees it before returning.
 * BERTH_EBADREQ: an input is invalid (a negative resource, ports out of order, a
 * strategy with the wrong field, a memberOf without query...), message in err;
 * BERTH_ETOOLARGE: more than PLACE_MAX_STRATEGIES, _CONSTRAINTS or _TASK_PORTS;
 * BERTH_ENOMEM. Nothing is chosen on error and *rng is left alone. */
int place_choose(const struct place_input *in, uint64_t *rng, size_t *ranked, size_t k,
		 struct place_result *out, char *err, size_t errlen);

/* Records the task on the instance: cpu and memory used, its ports used, one more task
 * of the group. 0; BERTH_EBADREQ when it does not fit (a resource or a port), and then
 * nothing changes. */
int place_apply(struct place_instance *inst, const struct place_task *task);

/* Places count tasks like in->task one after another, each decision on the usage the
 * previous ones left (place_choose then place_apply): a RunTask of count tasks, or a
 * service's missing tasks. chosen[i] is task i's instance index. *placed is how many
 * were placed; it stops at the first that fits nowhere (usage only grows, so no later
 * one would fit), with that decision in *last (else *last is the final decision).
 * Errors as place_choose; tasks placed before an error stay applied. */
int place_group(const struct place_input *in, size_t count, uint64_t *rng, size_t *chosen,
		size_t *placed, struct place_result *last, char *err, size_t errlen);

/* "draining", "cpu", "memory", "ports", "distinctInstance", "memberOf", ... Never NULL. */
const char *place_reason_name(enum place_reason r);

/* One line for people: "no instance fits: 2 draining, 3 short of cpu, 1 outside memberOf"
 * or "placed on i-3 (one of 4 candidates)". */
void place_explain(const struct place_input *in, const struct place_result *r, char *buf,
		   size_t len);

/* The next value of the caller's generator (splitmix64): any seed, including 0. */
uint64_t place_random(uint64_t *rng);

#endif
