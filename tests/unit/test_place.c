/* tests/unit/test_place.c: placement: the filters and their reasons, distinctInstance,
 * memberOf, each strategy alone and chained, top-k, apply, and refused inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "tests/unit/place_fleet.h"
#include "worker/place.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint16_t port80[] = {80};
static const struct place_task small = {.cpu = 100, .mem = 128};
static const struct place_task web = {.cpu = 100, .mem = 128, .ports = port80, .nports = 1};

static struct place_input input(struct fleet *f, const struct place_task *t)
{
	return (struct place_input){.instances = f->inst, .ninstances = f->n, .task = t};
}

/* Chooses with no error expected; returns the chosen index. */
static size_t choose(const struct place_input *in, uint64_t *rng, struct place_result *res)
{
	char err[200];
	int rv = place_choose(in, rng, NULL, 0, res, err, sizeof(err));
	if (rv != 0)
		fail_msg("place_choose: %s", err);
	return res->chosen;
}

static void test_place_filters(void **state)
{
	(void)state;
	static struct fleet f;
	memset(&f, 0, sizeof(f));
	fleet_add(&f, "a", 1024, 4096)->cpu_used = 1000;         /* 0: 24 cpu left */
	fleet_add(&f, "a", 1024, 4096)->mem_used = 4000;         /* 1: 96 MiB left */
	fleet_add(&f, "a", 1024, 4096)->ports[0].used = true;    /* 2: port 80 taken */
	fleet_add(&f, "a", 1024, 4096)->status = PLACE_DRAINING; /* 3 */
	fleet_add(&f, "a", 1024, 4096)->nports = 0;              /* 4: offers no ports */
	fleet_add(&f, "a", 100, 128);                            /* 5: fits exactly */
	struct place_input in = input(&f, &web);
	struct place_result res;
	uint64_t rng = 1;
	assert_int_equal(choose(&in, &rng, &res), 5);
	assert_int_equal(res.reason, PLACE_R_OK);
	assert_int_equal(res.candidates, 1);
	assert_int_equal(res.rejected[PLACE_R_CPU], 1);
	assert_int_equal(res.rejected[PLACE_R_MEMORY], 1);
	assert_int_equal(res.rejected[PLACE_R_PORTS], 2);
	assert_int_equal(res.rejected[PLACE_R_DRAINING], 1);
	char msg[200];
	place_explain(&in, &res, msg, sizeof(msg));
	assert_string_equal(msg, "placed on i-5 (one of 1 candidates)");

	/* Without port 80 the task fits on 2 and 4 as well. */
	in.task = &small;
	assert_int_not_equal(choose(&in, &rng, &res), PLACE_NONE);
	assert_int_equal(res.candidates, 3);

	/* Applied: instance 5 is full; nothing fits; the main reason is ports (2). */
	in.task = &web;
	assert_int_equal(place_apply(&f.inst[5], &web), 0);
	assert_int_equal(choose(&in, &rng, &res), PLACE_NONE);
	assert_int_equal(res.reason, PLACE_R_PORTS);
	assert_int_equal(res.rejected[PLACE_R_CPU], 2);
	place_explain(&in, &res, msg, sizeof(msg));
	assert_string_equal(msg, "no instance fits: 1 draining, 2 short of cpu, 1 short of "
				 "memory, 2 without a free port");
	/* A tie goes to the filter checked later: cpu (2) over draining... and ports. */
	f.inst[4].nports = FLEET_PORTS;
	f.inst[4].cpu_used = 1024;
	assert_int_equal(choose(&in, &rng, &res), PLACE_NONE);
	assert_int_equal(res.reason, PLACE_R_CPU);
	/* A truncated explanation stays a string. */
	place_explain(&in, &res, msg, 20);
	assert_string_equal(msg, "no instance fits: 1");

	in.ninstances = 0;
	assert_int_equal(choose(&in, &rng, &res), PLACE_NONE);
	assert_int_equal(res.reason, PLACE_R_NO_INSTANCES);
	place_explain(&in, &res, msg, sizeof(msg));
	assert_string_equal(msg, "no instance fits: there are no instances");
	assert_string_equal(place_reason_name(PLACE_R_MEMBER_OF), "memberOf");
	assert_string_equal(place_reason_name(PLACE_R_COUNT), "unknown");
}

/* Used above total (a record the caller did not check) means nothing fits there. */
static void test_place_overcommitted_input(void **state)
{
	(void)state;
	static struct fleet f;
	memset(&f, 0, sizeof(f));
	fleet_add(&f, "a", 100, 100)->cpu_used = 200;
	fleet_add(&f, "a", 100, 100)->mem_used = INT64_MAX;
	struct place_task zero = {0};
	struct place_input in = input(&f, &zero);
	struct place_result res;
	uint64_t rng = 1;
	assert_int_equal(choose(&in, &rng, &res), PLACE_NONE);
	assert_int_equal(res.rejected[PLACE_R_CPU], 1);
	assert_int_equal(res.rejected[PLACE_R_MEMORY], 1);
	assert_int_equal(place_apply(&f.inst[0], &zero), BERTH_EBADREQ);
}

static void test_place_distinct_instance(void **state)
{
	(void)state;
	static struct fleet f;
	memset(&f, 0, sizeof(f));
	for (int i = 0; i < 3; i++)
		fleet_add(&f, "a", 4096, 4096);
	f.inst[1].group_tasks = 1;
	struct place_constraint distinct = {PLACE_DISTINCT_INSTANCE, NULL};
	struct place_input in = input(&f, &small);
	in.constraints = &distinct;
	in.nconstraints = 1;
	size_t chosen[5], placed;
	struct place_result last;
	uint64_t rng = 7;
	char err[200];
	assert_int_equal(place_group(&in, 5, &rng, chosen, &placed, &last, err, sizeof(err)), 0);
	assert_int_equal(placed, 2);
	assert_int_not_equal(chosen[0], 1);
	assert_int_not_equal(chosen[1], 1);
	assert_int_not_equal(chosen[0], chosen[1]);
	assert_int_equal(last.chosen, PLACE_NONE);
	assert_int_equal(last.reason, PLACE_R_DISTINCT);
	assert_int_equal(last.rejected[PLACE_R_DISTINCT], 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(f.inst[i].group_tasks, 1);
}

static void test_place_member_of(void **state)
{
	(void)state;
	static struct fleet f;
	memset(&f, 0, sizeof(f));
	for (int i = 0; i < 6; i++)
		fleet_add(&f, i % 3 == 0 ? "a" : i % 3 == 1 ? "b" : "c", i < 3 ? 1024 : 8192, 4096);
	struct query *q;
	char err[200];
	assert_int_equal(query_compile("attribute:zone != a and attribute:type =~ m5.*", &q, err,
				       sizeof(err)),
			 0);
	struct place_constraint member = {PLACE_MEMBER_OF, q};
	struct place_input in = input(&f, &small);
	in.constraints = &member;
	in.nconstraints = 1;
	struct place_result res;
	uint64_t rng = 3;
	for (int i = 0; i < 50; i++) {
		size_t c = choose(&in, &rng, &res);
		assert_true(c == 4 || c == 5);
		assert_int_equal(res.rejected[PLACE_R_MEMBER_OF], 4);
	}
	/* Both constraints, in order: an instance refused by distinctInstance first. */
	struct place_constraint both[] = {{PLACE_DISTINCT_INSTANCE, NULL}, member};
	in.constraints = both;
	in.nconstraints = 2;
	f.inst[4].group_tasks = f.inst[5].group_tasks = f.inst[0].group_tasks = 1;
	assert_int_equal(choose(&in, &rng, &res), PLACE_NONE);
	assert_int_equal(res.rejected[PLACE_R_DISTINCT], 3);
	assert_int_equal(res.rejected[PLACE_R_MEMBER_OF], 3);
	assert_int_equal(res.reason, PLACE_R_MEMBER_OF);
	/* The id is a subject too. */
	query_free(q);
	assert_int_equal(query_compile("instanceId in (i-2, i-3)", &q, err, sizeof(err)), 0);
	member.query = q;
	in.constraints = &member;
	in.nconstraints = 1;
	for (int i = 0; i < 20; i++) {
		size_t c = choose(&in, &rng, &res);
		assert_true(c == 2 || c == 3);
	}
	query_free(q);
}

static void test_place_binpack(void **state)
{
	(void)state;
	static struct fleet f;
	memset(&f, 0, sizeof(f));
	fleet_add(&f, "a", 1000, 4000)->cpu_used = 500;
	fleet_add(&f, "a", 1000, 4000)->cpu_used = 800;  /* least cpu left */
	fleet_add(&f, "a", 1000, 4000)->mem_used = 3800; /* least memory left */
	fleet_add(&f, "a", 1000, 4000)->cpu_used = 950;  /* too little */
	struct place_strategy cpu = {PLACE_BINPACK, PLACE_FIELD_CPU, NULL};
	struct place_strategy mem = {PLACE_BINPACK, PLACE_FIELD_MEMORY, NULL};
	struct place_input in = input(&f, &small);
	in.strategies = &cpu;
	in.nstrategies = 1;
	struct place_result res;
	uint64_t rng = 11;
	assert_int_equal(choose(&in, &rng, &res), 1);
	in.strategies = &mem;
	assert_int_equal(choose(&in, &rng, &res), 2);

	/* Packs: 25 tasks of 100 cpu on three empty 1000-cpu instances fill two, then 5. */
	memset(&f, 0, sizeof(f));
	for (int i = 0; i < 3; i++)
		fleet_add(&f, "a", 1000, 100000);
	in = input(&f, &small);
	in.strategies = &cpu;
	in.nstrategies = 1;
	size_t chosen[25], placed;
	char err[200];
	assert_int_equal(place_group(&in, 10, &rng, chosen, &placed, &res, err, sizeof(err)), 0);
	assert_int_equal(placed, 10);
	assert_int_equal(fleet_used(&f), 1);
	assert_int_equal(place_group(&in, 15, &rng, chosen, &placed, &res, err, sizeof(err)), 0);
	assert_int_equal(placed, 15);
	int full = 0;
	for (int i = 0; i < 3; i++)
		full += f.inst[i].cpu_used == 1000;
	assert_int_equal(full, 2);
	assert_int_equal(fleet_used(&f), 3);
	/* Then it stops at the first that fits nowhere. */
	assert_int_equal(place_group(&in, 25, &rng, chosen, &placed, &res, err, sizeof(err)), 0);
	assert_int_equal(placed, 5);
	assert_int_equal(res.reason, PLACE_R_CPU);
}

/* avoid: a candidate of last resort, whatever the strategies say. */
static void test_place_avoid(void **state)
{
	(void)state;
	static struct fleet f;
	memset(&f, 0, sizeof(f));
	fleet_add(&f, "a", 1000, 4000)->cpu_used = 800; /* binpack's pick... */
	f.inst[0].avoid = true;                         /* ...but another worker fills it */
	fleet_add(&f, "a", 1000, 4000)->cpu_used = 500;
	fleet_add(&f, "a", 1000, 4000);
	struct place_strategy cpu = {PLACE_BINPACK, PLACE_FIELD_CPU, NULL};
	struct place_input in = input(&f, &small);
	in.strategies = &cpu;
	in.nstrategies = 1;
	struct place_result res;
	uint64_t rng = 3;
	assert_int_equal(choose(&in, &rng, &res), 1);
	assert_int_equal(res.candidates, 3);
	f.inst[1].avoid = f.inst[2].avoid = true; /* all avoided: binpack again */
	assert_int_equal(choose(&in, &rng, &res), 0);
	f.inst[1].avoid = f.inst[2].avoid = false;
	f.inst[1].cpu_used = f.inst[2].cpu_used = 1000; /* the others full: the avoided one */
	assert_int_equal(choose(&in, &rng, &res), 0);
	size_t chosen[4], placed;
	char err[200];
	f.inst[1].cpu_used = f.inst[2].cpu_used = 900;
	assert_int_equal(place_group(&in, 4, &rng, chosen, &placed, &res, err, sizeof(err)), 0);
	assert_int_equal(placed, 4); /* 1 and 2 first (one slot each), then 0 (two) */
	assert_true(chosen[2] == 0 && chosen[3] == 0);
}

static void test_place_spread(void **state)
{
	(void)state;
	static const char *const zones[] = {"a", "b", "c"};
	static struct fleet f;
	memset(&f, 0, sizeof(f));
	/* Zone a has 1 instance, b 2, c 4: spread balances zones, not instances. */
	fleet_add(&f, "a", 100000, 100000);
	for (int i = 0; i < 2; i++)
		fleet_add(&f, "b", 100000, 100000);
	for (int i = 0; i < 4; i++)
		fleet_add(&f, "c", 100000, 100000);
	struct place_strategy zone = {PLACE_SPREAD, PLACE_FIELD_ATTRIBUTE, "zone"};
	struct place_input in = input(&f, &small);
	in.strategies = &zone;
	in.nstrategies = 1;
	size_t chosen[30], placed;
	struct place_result res;
	uint64_t rng = 5;
	char err[200];
	for (int round = 1; round <= 10; round++) {
		assert_int_equal(place_group(&in, 3, &rng, chosen, &placed, &res, err, sizeof(err)),
				 0);
		assert_int_equal(placed, 3);
		assert_int_equal(fleet_zone_spread(&f, zones, 3), 0);
	}
	assert_int_equal(f.inst[0].group_tasks, 10);

	/* Tasks already there count: zone a starts with 6 and c with 2, so 10 more even
	 * them out at 6 each. */
	memset(&f, 0, sizeof(f));
	fleet_add(&f, "a", 100000, 100000)->group_tasks = 6;
	fleet_add(&f, "b", 100000, 100000);
	fleet_add(&f, "c", 100000, 100000)->status = PLACE_DRAINING;
	fleet_add(&f, "c", 100000, 100000);
	f.inst[2].group_tasks = 2; /* on a draining instance, still counted for zone c */
	in = input(&f, &small);
	in.strategies = &zone;
	in.nstrategies = 1;
	assert_int_equal(place_group(&in, 10, &rng, chosen, &placed, &res, err, sizeof(err)), 0);
	assert_int_equal(f.inst[0].group_tasks, 6);
	assert_int_equal(f.inst[1].group_tasks, 6);
	assert_int_equal(f.inst[2].group_tasks, 2);
	assert_int_equal(f.inst[3].group_tasks, 4);

	/* By instance: 8 tasks on 4 instances, 2 each; instances without the attribute form
	 * a group of their own. */
	memset(&f, 0, sizeof(f));
	for (int i = 0; i < 4; i++)
		fleet_add(&f, "a", 100000, 100000);
	struct place_strategy byid = {PLACE_SPREAD, PLACE_FIELD_INSTANCE_ID, NULL};
	in = input(&f, &small);
	in.strategies = &byid;
	in.nstrategies = 1;
	assert_int_equal(place_group(&in, 8, &rng, chosen, &placed, &res, err, sizeof(err)), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(f.inst[i].group_tasks, 2);
	f.inst[3].nattrs = 0;
	f.inst[0].attrs = NULL;
	f.inst[0].nattrs = 0;
	f.inst[0].group_tasks = 3;
	f.inst[3].group_tasks = 0;
	in.strategies = &zone;
	for (int i = 0; i < 20; i++) { /* the no-zone group holds 3 tasks, zone a 4 */
		size_t c = choose(&in, &rng, &res);
		assert_true(c == 0 || c == 3);
	}
}

/* spread zone, then binpack memory: balanced across zones, packed within each. */
static void test_place_chain(void **state)
{
	(void)state;
	static const char *const zones[] = {"a", "b"};
	static struct fleet f;
	memset(&f, 0, sizeof(f));
	for (int i = 0; i < 6; i++)
		fleet_add(&f, i < 3 ? "a" : "b", 100000, 1024);
	struct place_strategy chain[] = {
		{PLACE_SPREAD, PLACE_FIELD_ATTRIBUTE, "zone"},
		{PLACE_BINPACK, PLACE_FIELD_MEMORY, NULL},
	};
	struct place_input in = input(&f, &small); /* 128 MiB: 8 per instance */
	in.strategies = chain;
	in.nstrategies = 2;
	size_t chosen[64], placed;
	struct place_result res;
	uint64_t rng = 9;
	char err[200];
	assert_int_equal(place_group(&in, 16, &rng, chosen, &placed, &res, err, sizeof(err)), 0);
	assert_int_equal(fleet_zone_spread(&f, zones, 2), 0);
	assert_int_equal(fleet_used(&f), 2); /* one full instance per zone */

	/* random first: the rest of the chain has no say, so all instances get tasks. */
	memset(&f, 0, sizeof(f));
	for (int i = 0; i < 6; i++)
		fleet_add(&f, "a", 100000, 100000);
	struct place_strategy rnd[] = {{PLACE_RANDOM, PLACE_FIELD_NONE, NULL},
				       {PLACE_BINPACK, PLACE_FIELD_CPU, NULL}};
	in = input(&f, &small);
	in.strategies = rnd;
	in.nstrategies = 2;
	assert_int_equal(place_group(&in, 60, &rng, chosen, &placed, &res, err, sizeof(err)), 0);
	assert_int_equal(fleet_used(&f), 6);
}

static void test_place_ranked(void **state)
{
	(void)state;
	static struct fleet f;
	memset(&f, 0, sizeof(f));
	for (int i = 0; i < 5; i++)
		fleet_add(&f, "a", 1000, 1000)->cpu_used = 100 * i; /* i-4 has least left */
	f.inst[2].status = PLACE_DRAINING;
	struct place_strategy cpu = {PLACE_BINPACK, PLACE_FIELD_CPU, NULL};
	struct place_input in = input(&f, &small);
	in.strategies = &cpu;
	in.nstrategies = 1;
	size_t ranked[8];
	struct place_result res;
	uint64_t rng = 1;
	char err[200];
	assert_int_equal(place_choose(&in, &rng, ranked, 3, &res, err, sizeof(err)), 0);
	assert_int_equal(res.nranked, 3);
	assert_int_equal(ranked[0], 4);
	assert_int_equal(ranked[1], 3);
	assert_int_equal(ranked[2], 1);
	assert_int_equal(res.chosen, 4);
	assert_int_equal(place_choose(&in, &rng, ranked, 8, &res, err, sizeof(err)), 0);
	assert_int_equal(res.nranked, 4);
	assert_int_equal(ranked[3], 0);
	assert_int_equal(place_choose(&in, &rng, ranked, 1, &res, err, sizeof(err)), 0);
	assert_int_equal(res.nranked, 1);
	assert_int_equal(ranked[0], 4);
}

static void test_place_apply(void **state)
{
	(void)state;
	static struct fleet f;
	memset(&f, 0, sizeof(f));
	struct place_instance *i = fleet_add(&f, "a", 200, 256);
	assert_int_equal(place_apply(i, &web), 0);
	assert_int_equal(i->cpu_used, 100);
	assert_int_equal(i->mem_used, 128);
	assert_true(i->ports[0].used);
	assert_false(i->ports[1].used);
	assert_int_equal(i->group_tasks, 1);
	/* Port 80 is taken now: refused, nothing changes. */
	assert_int_equal(place_apply(i, &web), BERTH_EBADREQ);
	assert_int_equal(i->cpu_used, 100);
	assert_int_equal(i->group_tasks, 1);
	static const uint16_t twice[] = {443, 443};
	struct place_task dup = {.cpu = 1, .mem = 1, .ports = twice, .nports = 2};
	assert_int_equal(place_apply(i, &dup), BERTH_EBADREQ);
	assert_false(i->ports[1].used);
	assert_int_equal(place_apply(i, &small), 0);
	assert_int_equal(place_apply(i, &small), BERTH_EBADREQ); /* cpu */
	assert_int_equal(i->cpu_used, 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_place_filters),
		cmocka_unit_test(test_place_overcommitted_input),
		cmocka_unit_test(test_place_distinct_instance),
		cmocka_unit_test(test_place_member_of),
		cmocka_unit_test(test_place_binpack),
		cmocka_unit_test(test_place_avoid),
		cmocka_unit_test(test_place_spread),
		cmocka_unit_test(test_place_chain),
		cmocka_unit_test(test_place_ranked),
		cmocka_unit_test(test_place_apply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
