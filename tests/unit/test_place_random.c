/* tests/unit/test_place_random.c: placement's randomness and its inputs: determinism for a
 * seed, random tie-breaks, random order covering everyone, refused inputs, and thousands
 * of random placements checked against a brute-force judge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "tests/unit/place_fleet.h"
#include "tests/unit/rng.h"
#include "worker/place.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct place_task small = {.cpu = 10, .mem = 10};

static struct place_input input(struct fleet *f, const struct place_task *t)
{
	return (struct place_input){.instances = f->inst, .ninstances = f->n, .task = t};
}

/* The same seed gives the same decisions; another seed others. */
static void test_place_random_determinism(void **state)
{
	(void)state;
	static struct fleet f1, f2;
	size_t a[200], b[200], placed;
	struct place_result res;
	char err[200];
	struct place_strategy chain[] = {{PLACE_SPREAD, PLACE_FIELD_ATTRIBUTE, "zone"},
					 {PLACE_BINPACK, PLACE_FIELD_CPU, NULL}};
	for (int run = 0; run < 3; run++) {
		struct fleet *f = run == 1 ? &f2 : &f1;
		memset(f, 0, sizeof(*f));
		for (int i = 0; i < 30; i++)
			fleet_add(f, i % 3 == 0 ? "a" : i % 3 == 1 ? "b" : "c", 1000, 1000);
		struct place_input in = input(f, &small);
		in.strategies = chain;
		in.nstrategies = 2;
		uint64_t rng = run == 2 ? 43 : 42;
		size_t *out = run == 1 ? b : a;
		if (run == 2)
			memcpy(b, a, sizeof(a));
		assert_int_equal(place_group(&in, 200, &rng, out, &placed, &res, err, sizeof(err)),
				 0);
		assert_int_equal(placed, 200);
		if (run == 1)
			assert_memory_equal(a, b, sizeof(a));
		if (run == 2)
			assert_memory_not_equal(a, b, sizeof(a));
	}
}

/* Equal instances: each decision picks at random among them, so workers that decide on
 * the same state with their own seeds mostly choose apart. */
static void test_place_random_tie_break(void **state)
{
	(void)state;
	static struct fleet f;
	memset(&f, 0, sizeof(f));
	for (int i = 0; i < 10; i++)
		fleet_add(&f, "a", 1000, 1000);
	struct place_strategy cpu = {PLACE_BINPACK, PLACE_FIELD_CPU, NULL};
	struct place_input in = input(&f, &small);
	in.strategies = &cpu;
	in.nstrategies = 1;
	struct place_result res;
	char err[200];
	size_t hits[10] = {0}, same = 0;
	for (uint64_t w = 0; w < 500; w++) {
		uint64_t r1 = w * 2 + 1, r2 = w * 2 + 2; /* two workers */
		assert_int_equal(place_choose(&in, &r1, NULL, 0, &res, err, sizeof(err)), 0);
		size_t c1 = res.chosen;
		assert_int_equal(place_choose(&in, &r2, NULL, 0, &res, err, sizeof(err)), 0);
		hits[c1]++;
		same += c1 == res.chosen;
	}
	for (int i = 0; i < 10; i++)
		assert_true(hits[i] >= 20); /* 50 expected each */
	assert_true(same < 100);            /* 50 expected */
	/* The tie-break never overrides the strategy: one instance with less left wins. */
	f.inst[6].cpu_used = 10;
	for (uint64_t seed = 0; seed < 50; seed++) {
		uint64_t r = seed;
		assert_int_equal(place_choose(&in, &r, NULL, 0, &res, err, sizeof(err)), 0);
		assert_int_equal(res.chosen, 6);
	}
}

/* random alone covers every instance, roughly evenly. */
static void test_place_random_covers(void **state)
{
	(void)state;
	static struct fleet f;
	memset(&f, 0, sizeof(f));
	for (int i = 0; i < 8; i++)
		fleet_add(&f, "a", 1000000, 1000000);
	struct place_strategy rnd = {PLACE_RANDOM, PLACE_FIELD_NONE, NULL};
	struct place_input in = input(&f, &small);
	in.strategies = &rnd;
	in.nstrategies = 1;
	size_t chosen[800], placed;
	struct place_result res;
	uint64_t rng = 99;
	char err[200];
	assert_int_equal(place_group(&in, 800, &rng, chosen, &placed, &res, err, sizeof(err)), 0);
	for (int i = 0; i < 8; i++)
		assert_true(f.inst[i].group_tasks >= 60 && f.inst[i].group_tasks <= 140);
	/* An empty chain is random order too. */
	in.nstrategies = 0;
	assert_int_equal(place_group(&in, 800, &rng, chosen, &placed, &res, err, sizeof(err)), 0);
	for (int i = 0; i < 8; i++)
		assert_true(f.inst[i].group_tasks >= 160);
}

struct bad_case {
	const char *what;
	int code;
	const char *msg;
};

static void test_place_random_bad_inputs(void **state)
{
	(void)state;
	static struct fleet f;
	static const uint16_t ports_bad0[] = {0}, ports_dup[] = {80, 81, 80};
	static uint16_t many[PLACE_MAX_TASK_PORTS + 1];
	struct place_strategy st[PLACE_MAX_STRATEGIES + 1];
	struct place_constraint cs[PLACE_MAX_CONSTRAINTS + 1];
	static const struct bad_case want[] = {
		{"negative cpu", BERTH_EBADREQ, "task: negative cpu"},
		{"negative memory", BERTH_EBADREQ, "task: negative memory"},
		{"port 0", BERTH_EBADREQ, "task: host port 0"},
		{"port twice", BERTH_EBADREQ, "task: host port 80 twice"},
		{"too many ports", BERTH_ETOOLARGE, "task: 65 host ports; at most 64"},
		{"too many strategies", BERTH_ETOOLARGE, "6 strategies; at most 5"},
		{"too many constraints", BERTH_ETOOLARGE, "11 constraints; at most 10"},
		{"binpack field", BERTH_EBADREQ, "strategy 0: binpack takes cpu or memory"},
		{"spread field", BERTH_EBADREQ,
		 "strategy 0: spread takes instanceId or an attribute name"},
		{"spread empty", BERTH_EBADREQ,
		 "strategy 0: spread takes instanceId or an attribute name"},
		{"random field", BERTH_EBADREQ, "strategy 0: random takes no field"},
		{"stray name", BERTH_EBADREQ,
		 "strategy 0: an attribute name without spread by attribute"},
		{"strategy type", BERTH_EBADREQ, "strategy 0: unknown type 9"},
		{"memberOf", BERTH_EBADREQ, "constraint 0: memberOf needs an expression"},
		{"distinct", BERTH_EBADREQ, "constraint 0: distinctInstance takes no expression"},
		{"constraint type", BERTH_EBADREQ, "constraint 0: unknown type 9"},
		{"no id", BERTH_EBADREQ, "instance 1: no id"},
		{"status", BERTH_EBADREQ, "instance i-1: unknown status 5"},
		{"negative total", BERTH_EBADREQ, "instance i-1: negative cpu or memory"},
		{"port order", BERTH_EBADREQ, "instance i-1: ports not strictly ascending at 80"},
		{"instance port 0", BERTH_EBADREQ, "instance i-1: port 0"},
		{"no task", BERTH_EBADREQ, "no task"},
	};
	struct query *q;
	char err[200];
	assert_int_equal(query_compile("instanceId exists", &q, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		memset(&f, 0, sizeof(f));
		fleet_add(&f, "a", 100, 100);
		fleet_add(&f, "a", 100, 100);
		struct place_task t = {.cpu = 1, .mem = 1};
		struct place_input in = input(&f, &t);
		memset(st, 0, sizeof(st));
		memset(cs, 0, sizeof(cs));
		in.strategies = st;
		in.constraints = cs;
		switch (i) {
		case 0:
			t.cpu = -1;
			break;
		case 1:
			t.mem = -1;
			break;
		case 2:
			t.ports = ports_bad0, t.nports = 1;
			break;
		case 3:
			t.ports = ports_dup, t.nports = 3;
			break;
		case 4:
			t.ports = many, t.nports = PLACE_MAX_TASK_PORTS + 1;
			break;
		case 5:
			in.nstrategies = PLACE_MAX_STRATEGIES + 1;
			break;
		case 6:
			in.nconstraints = PLACE_MAX_CONSTRAINTS + 1;
			break;
		case 7:
			st[0] = (struct place_strategy){PLACE_BINPACK, PLACE_FIELD_INSTANCE_ID,
							NULL};
			break;
		case 8:
			st[0] = (struct place_strategy){PLACE_SPREAD, PLACE_FIELD_CPU, NULL};
			break;
		case 9:
			st[0] = (struct place_strategy){PLACE_SPREAD, PLACE_FIELD_ATTRIBUTE, ""};
			break;
		case 10:
			st[0] = (struct place_strategy){PLACE_RANDOM, PLACE_FIELD_CPU, NULL};
			break;
		case 11:
			st[0] = (struct place_strategy){PLACE_BINPACK, PLACE_FIELD_CPU, "zone"};
			break;
		case 12:
			st[0].type = (enum place_strategy_type)9;
			break;
		case 13:
			cs[0] = (struct place_constraint){PLACE_MEMBER_OF, NULL};
			break;
		case 14:
			cs[0] = (struct place_constraint){PLACE_DISTINCT_INSTANCE, q};
			break;
		case 15:
			cs[0].type = (enum place_constraint_type)9;
			break;
		case 16:
			f.inst[1].id = NULL;
			break;
		case 17:
			f.inst[1].status = (enum place_status)5;
			break;
		case 18:
			f.inst[1].cpu_total = -5;
			break;
		case 19:
			f.ports[1][1].port = 80;
			break;
		case 20:
			f.ports[1][0].port = 0;
			break;
		case 21:
			in.task = NULL;
			break;
		}
		if (i < 5 || i > 15)
			in.nstrategies = 1, st[0] = (struct place_strategy){PLACE_RANDOM, 0, NULL};
		if (i == 5 || i == 6)
			for (size_t k = 0; k < PLACE_MAX_CONSTRAINTS + 1; k++)
				cs[k].type = PLACE_DISTINCT_INSTANCE;
		if (i >= 7 && i <= 12)
			in.nstrategies = 1;
		if (i >= 13 && i <= 15)
			in.nconstraints = 1;
		uint64_t rng = 5;
		struct place_result res;
		size_t ranked[2] = {77, 77};
		int rv = place_choose(&in, &rng, ranked, 2, &res, err, sizeof(err));
		if (rv != want[i].code || strcmp(err, want[i].msg) != 0)
			fail_msg("%s: got %s \"%s\", want %s \"%s\"", want[i].what, err_name(rv),
				 err, err_name(want[i].code), want[i].msg);
		assert_int_equal(rng, 5);
		assert_int_equal(res.chosen, PLACE_NONE);
		assert_int_equal(ranked[0], 77);
	}
	query_free(q);
}

/* Thousands of placements of random tasks with random rules on a random fleet: never
 * an instance over capacity or a port held twice; nothing chosen only when the judge
 * finds no instance either; a binpack choice has the least left of all that fit. */
static void test_place_random_never_overcommits(void **state)
{
	(void)state;
	static const char *const zones[] = {"a", "b", "c"};
	static const uint16_t port_sets[][2] = {{80, 0}, {443, 8080}, {9000, 0}};
	static struct fleet f;
	memset(&f, 0, sizeof(f));
	struct rng r = {20261125};
	for (int i = 0; i < 200; i++) {
		struct place_instance *inst = fleet_add(&f, zones[rng_below(&r, 3)],
							256 * (1 + (int64_t)rng_below(&r, 16)),
							512 * (1 + (int64_t)rng_below(&r, 16)));
		if (rng_pct(&r, 10))
			inst->status = PLACE_DRAINING;
	}
	struct query *q;
	char err[200];
	assert_int_equal(query_compile("attribute:zone != c or attribute:type == m5.large", &q, err,
				       sizeof(err)),
			 0);
	size_t placed = 0, refused = 0;
	uint64_t seed = 1;
	for (int n = 0; n < 6000; n++) {
		uint16_t ports[2];
		size_t set = rng_below(&r, 4); /* 3: no ports */
		struct place_task t = {.cpu = 16 * (int64_t)rng_below(&r, 32),
				       .mem = 32 * (int64_t)rng_below(&r, 32)};
		if (set < 3) {
			t.nports = port_sets[set][1] ? 2 : 1;
			memcpy(ports, port_sets[set], sizeof(ports));
			t.ports = ports;
		}
		struct place_strategy st[2];
		st[0] = rng_pct(&r, 50)
				? (struct place_strategy){PLACE_BINPACK, PLACE_FIELD_CPU, NULL}
				: (struct place_strategy){PLACE_SPREAD, PLACE_FIELD_ATTRIBUTE,
							  "zone"};
		st[1] = (struct place_strategy){PLACE_BINPACK, PLACE_FIELD_MEMORY, NULL};
		struct place_constraint cs[2] = {{PLACE_MEMBER_OF, q},
						 {PLACE_DISTINCT_INSTANCE, NULL}};
		struct place_input in = input(&f, &t);
		in.strategies = st;
		in.nstrategies = 1 + rng_below(&r, 2);
		in.constraints = cs;
		in.nconstraints = rng_below(&r, 3);
		for (size_t i = 0; i < f.n; i++) /* a new group now and then */
			if (n % 50 == 0)
				f.inst[i].group_tasks = 0;
		struct place_result res;
		assert_int_equal(place_choose(&in, &seed, NULL, 0, &res, err, sizeof(err)), 0);
		size_t fitting = 0;
		for (size_t i = 0; i < f.n; i++)
			fitting += fleet_fits(&f.inst[i], &t, cs, in.nconstraints);
		assert_int_equal(res.candidates, fitting);
		if (res.chosen == PLACE_NONE) {
			refused++;
			continue;
		}
		const struct place_instance *c = &f.inst[res.chosen];
		assert_true(fleet_fits(c, &t, cs, in.nconstraints));
		if (st[0].type == PLACE_BINPACK)
			for (size_t i = 0; i < f.n; i++)
				if (fleet_fits(&f.inst[i], &t, cs, in.nconstraints))
					assert_true(f.inst[i].cpu_total - f.inst[i].cpu_used >=
						    c->cpu_total - c->cpu_used);
		assert_int_equal(place_apply(&f.inst[res.chosen], &t), 0);
		placed++;
		/* Tasks end now and then, so the fleet does not just fill up. */
		if (rng_pct(&r, 30)) {
			struct place_instance *e = &f.inst[rng_below(&r, f.n)];
			e->cpu_used = e->mem_used = 0;
			for (size_t p = 0; p < e->nports; p++)
				e->ports[p].used = false;
		}
	}
	for (size_t i = 0; i < f.n; i++) {
		assert_true(f.inst[i].cpu_used <= f.inst[i].cpu_total);
		assert_true(f.inst[i].mem_used <= f.inst[i].mem_total);
	}
	assert_true(placed > 1000 && refused > 100); /* both paths were exercised */
	query_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_place_random_determinism),
		cmocka_unit_test(test_place_random_tie_break),
		cmocka_unit_test(test_place_random_covers),
		cmocka_unit_test(test_place_random_bad_inputs),
		cmocka_unit_test(test_place_random_never_overcommits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
