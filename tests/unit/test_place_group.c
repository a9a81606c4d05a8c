/* tests/unit/test_place_group.c: place_group's index (worker/place_group.c) against a
 * brute-force judge: on random fleets and chains, every decision of a group is one that
 * place_choose could have made (its strategy keys are the least of every instance that
 * passes the filters on the state the previous decisions left), the group stops exactly
 * where nothing fits with place_choose's reason and counts; and at the scheduler
 * benchmark's scale (10,000 instances, 100,000 tasks) zones stay even and instances full. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/place_fleet.h"
#include "tests/unit/rng.h"
#include "worker/place.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether inst passes every filter for in->task (the judge of tests/unit/place_fleet.c). */
static bool judge_fits(const struct place_input *in, const struct place_instance *inst)
{
	return fleet_fits(inst, in->task, in->constraints, in->nconstraints);
}

static const char *judge_attr(const struct place_instance *inst, const char *name)
{
	for (size_t a = 0; a < inst->nattrs; a++)
		if (strcmp(inst->attrs[a].name, name) == 0)
			return inst->attrs[a].value;
	return NULL;
}

/* Strategy s's key of instance i, counted the slow way. */
static uint64_t judge_key(const struct place_input *in, size_t s, size_t i)
{
	const struct place_strategy *st = &in->strategies[s];
	const struct place_instance *inst = &in->instances[i];
	if (st->type == PLACE_BINPACK)
		return (uint64_t)(st->field == PLACE_FIELD_CPU ? inst->cpu_total - inst->cpu_used
							       : inst->mem_total - inst->mem_used);
	if (st->field == PLACE_FIELD_INSTANCE_ID)
		return inst->group_tasks;
	const char *mine = judge_attr(inst, st->attribute);
	uint64_t sum = 0;
	for (size_t j = 0; j < in->ninstances; j++) {
		const char *theirs = judge_attr(&in->instances[j], st->attribute);
		if ((mine == NULL && theirs == NULL) ||
		    (mine != NULL && theirs != NULL && strcmp(mine, theirs) == 0))
			sum += in->instances[j].group_tasks;
	}
	return sum;
}

/* -1, 0, 1: i's keys against j's: avoid first, then the whole chain. */
static int judge_cmp(const struct place_input *in, size_t i, size_t j)
{
	if (in->instances[i].avoid != in->instances[j].avoid)
		return in->instances[i].avoid ? 1 : -1;
	for (size_t s = 0; s < in->nstrategies; s++) {
		uint64_t a = judge_key(in, s, i), b = judge_key(in, s, j);
		if (a != b)
			return a < b ? -1 : 1;
	}
	return 0;
}

/* A random fleet: zones a-c (some instances without one), draining ones, ports in use,
 * tasks of the group already placed, instances to avoid. */
static void random_fleet(struct fleet *f, struct rng *r)
{
	static const char *const zones[] = {"a", "b", "c"};
	memset(f, 0, sizeof(*f));
	size_t n = 1 + rng_below(r, 60);
	for (size_t i = 0; i < n; i++) {
		struct place_instance *p =
			fleet_add(f, zones[rng_below(r, 3)], 100 * (int64_t)(1 + rng_below(r, 8)),
				  100 * (int64_t)(1 + rng_below(r, 8)));
		p->cpu_used = 10 * (int64_t)rng_below(r, 20);
		p->mem_used = 10 * (int64_t)rng_below(r, 20);
		p->group_tasks = (uint32_t)rng_below(r, 3);
		if (rng_pct(r, 10))
			p->status = PLACE_DRAINING;
		if (rng_pct(r, 10))
			p->nattrs = 0; /* no zone, no type */
		p->avoid = rng_pct(r, 15);
		for (size_t q = 0; q < p->nports; q++)
			p->ports[q].used = rng_pct(r, 20);
	}
}

static void test_place_group_matches_judge(void **state)
{
	(void)state;
	static struct fleet f;
	static const uint16_t port80[] = {80};
	struct rng r = {20261125};
	struct place_strategy pool[] = {
		{PLACE_SPREAD, PLACE_FIELD_ATTRIBUTE, "zone"},
		{PLACE_BINPACK, PLACE_FIELD_MEMORY, NULL},
		{PLACE_BINPACK, PLACE_FIELD_CPU, NULL},
		{PLACE_SPREAD, PLACE_FIELD_INSTANCE_ID, NULL},
		{PLACE_SPREAD, PLACE_FIELD_ATTRIBUTE, "type"},
	};
	struct place_constraint distinct = {PLACE_DISTINCT_INSTANCE, NULL};
	size_t chosen[200];
	char err[200];
	for (int round = 0; round < 400; round++) {
		random_fleet(&f, &r);
		struct place_strategy chain[3];
		size_t nchain = 1 + rng_below(&r, 3);
		for (size_t s = 0; s < nchain; s++)
			chain[s] = pool[rng_below(&r, 5)];
		struct place_task t = {.cpu = 10 * (int64_t)rng_below(&r, 5),
				       .mem = 10 * (int64_t)rng_below(&r, 5)};
		if (rng_pct(&r, 20))
			t.ports = port80, t.nports = 1;
		struct place_input in = {.instances = f.inst,
					 .ninstances = f.n,
					 .task = &t,
					 .strategies = chain,
					 .nstrategies = nchain};
		if (rng_pct(&r, 20))
			in.constraints = &distinct, in.nconstraints = 1;
		/* Decide the group on a copy, then replay it on the original: before each
		 * decision, the instance chosen must pass and have the least keys. */
		static struct fleet copy;
		copy = f;
		for (size_t i = 0; i < copy.n; i++) {
			copy.inst[i].ports = copy.ports[i];
			copy.inst[i].attrs = copy.attrs[i];
			copy.inst[i].id = copy.ids[i];
		}
		struct place_input cin = in;
		cin.instances = copy.inst;
		size_t count = 1 + rng_below(&r, 200), placed;
		struct place_result last;
		uint64_t seed = rng_next(&r);
		assert_int_equal(
			place_group(&cin, count, &seed, chosen, &placed, &last, err, sizeof(err)),
			0);
		assert_true(placed <= count);
		for (size_t k = 0; k < placed; k++) {
			size_t c = chosen[k];
			assert_true(c < f.n);
			assert_true(judge_fits(&in, &f.inst[c]));
			for (size_t j = 0; j < f.n; j++)
				if (judge_fits(&in, &f.inst[j]) && judge_cmp(&in, j, c) < 0) {
					print_error(
						"round %d decision %zu: %zu chosen, %zu better\n",
						round, k, c, j);
					fail();
				}
			assert_int_equal(place_apply(&f.inst[c], &t), 0);
		}
		for (size_t i = 0; i < f.n; i++) { /* the copy ends where the replay does */
			assert_int_equal(copy.inst[i].cpu_used, f.inst[i].cpu_used);
			assert_int_equal(copy.inst[i].group_tasks, f.inst[i].group_tasks);
		}
		/* Stopped early only when nothing fits, with place_choose's reason. */
		struct place_result now;
		uint64_t s2 = 1;
		assert_int_equal(place_choose(&in, &s2, NULL, 0, &now, err, sizeof(err)), 0);
		if (placed < count) {
			assert_int_equal(now.chosen, PLACE_NONE);
			assert_int_equal(last.chosen, PLACE_NONE);
			assert_int_equal(last.reason, now.reason);
			assert_memory_equal(last.rejected, now.rejected, sizeof(now.rejected));
		} else {
			assert_int_not_equal(last.chosen, PLACE_NONE);
			assert_int_equal(last.chosen, chosen[placed - 1]);
		}
	}
}

/* The benchmark's input: 10,000 instances in 3 zones with room for 15 tasks each,
 * 100,000 tasks placed in groups of 64 by spread zone then binpack memory: the zones end
 * at most 1 apart and every instance used but the last of each zone is full. */
static void test_place_group_bench_scale(void **state)
{
	(void)state;
	enum { N = 10000, SLOTS = 15, TASKS = 100000, GROUP = 64 };
	struct place_instance *inst = calloc(N, sizeof(*inst));
	struct query_attr *attrs = calloc(N, sizeof(*attrs));
	char(*ids)[16] = calloc(N, sizeof(*ids));
	size_t *chosen = calloc(GROUP, sizeof(*chosen));
	assert_true(inst && attrs && ids && chosen);
	static const char *const zones[] = {"zone-a", "zone-b", "zone-c"};
	for (size_t i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "i%06zu", i);
		attrs[i] = (struct query_attr){"zone", zones[i % 3]};
		inst[i] = (struct place_instance){.id = ids[i],
						  .cpu_total = 128 * SLOTS,
						  .mem_total = 256 * SLOTS,
						  .attrs = &attrs[i],
						  .nattrs = 1};
	}
	struct place_strategy chain[] = {{PLACE_SPREAD, PLACE_FIELD_ATTRIBUTE, "zone"},
					 {PLACE_BINPACK, PLACE_FIELD_MEMORY, NULL}};
	struct place_task t = {.cpu = 128, .mem = 256};
	struct place_input in = {.instances = inst,
				 .ninstances = N,
				 .task = &t,
				 .strategies = chain,
				 .nstrategies = 2};
	uint64_t rng = 7;
	char err[200];
	for (size_t at = 0; at < TASKS; at += GROUP) {
		size_t placed;
		struct place_result last;
		size_t count = TASKS - at < GROUP ? TASKS - at : GROUP;
		assert_int_equal(
			place_group(&in, count, &rng, chosen, &placed, &last, err, sizeof(err)), 0);
		assert_int_equal(placed, count);
	}
	uint64_t zone[3] = {0}, used = 0, partial = 0;
	for (size_t i = 0; i < N; i++) {
		zone[i % 3] += inst[i].group_tasks;
		used += inst[i].group_tasks > 0;
		partial += inst[i].group_tasks > 0 && inst[i].group_tasks < SLOTS;
	}
	uint64_t lo = zone[0], hi = zone[0];
	for (int z = 1; z < 3; z++) {
		lo = zone[z] < lo ? zone[z] : lo;
		hi = zone[z] > hi ? zone[z] : hi;
	}
	assert_true(hi - lo <= 1);
	assert_true(partial <= 3);
	assert_int_equal(used, (TASKS / 3 + SLOTS - 1) / SLOTS * 3); /* 2,223 per zone */
	free(inst);
	free(attrs);
	free(ids);
	free(chosen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_place_group_matches_judge),
		cmocka_unit_test(test_place_group_bench_scale),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
