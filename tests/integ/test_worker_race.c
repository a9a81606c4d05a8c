/* tests/integ/test_worker_race.c: berth-worker processes racing on one cluster: three
 * workers on the same 330 pending tasks over 20 instances never place a task twice and
 * never overcommit an instance (the final state and every revision of the history), and
 * distinctInstance holds under the race; with fine-grained conflicts (the default) and
 * with --conflict coarse; --commit group places a RunTask's tasks all or nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/worker_fix.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define RACE_INSTANCES 20
#define RACE_WORKERS 3
#define RACE_DISTINCT 30 /* distinctInstance tasks: only one per instance fits */

/* 20 instances in three zones, 300 tasks with every strategy and host ports, 30
 * distinctInstance tasks; returns the revision before the tasks. */
static uint64_t race_setup(struct worker_fix *f)
{
	struct wf_fleet fleet = {"i", RACE_INSTANCES, 3, 2048, 4096, 8000, 8099};
	uint64_t lease = wf_lease(f, 60);
	wf_instances(f, &fleet, lease, lease);
	struct wf_task binpack = {.cpu = 48, .mem = 96, .strategy = "binpack:cpu"};
	struct wf_task spread = {.cpu = 48, .mem = 96, .strategy = "spread:attribute:zone"};
	struct wf_task plain = {.cpu = 48, .mem = 96};
	struct wf_task port = {.cpu = 48, .mem = 96, .ports = {8080}, .nports = 1};
	struct wf_task solo = {.cpu = 16,
			       .mem = 32,
			       .group = "family:solo",
			       .constraint = "distinctInstance",
			       .strategy = "binpack:memory"};
	struct wf_state s;
	wf_read(f, &s);
	uint64_t from = s.rev;
	wf_state_free(&s);
	wf_tasks(f, &binpack, 100, NULL);
	wf_tasks(f, &spread, 100, NULL);
	wf_tasks(f, &plain, 90, NULL);
	wf_tasks(f, &port, 10, NULL);
	wf_tasks(f, &solo, RACE_DISTINCT, NULL);
	return from;
}

static void race_run(struct worker_fix *f, const char *conflict)
{
	const char *extra[] = {"--conflict", conflict, NULL};
	wf_cluster(f);
	uint64_t from = race_setup(f);
	for (unsigned i = 0; i < RACE_WORKERS; i++)
		wf_worker_start(f, i, extra);
	/* Everything but the distinct tasks beyond one per instance. */
	wf_wait_count(f, MODEL_TASK_PENDING, 300 + RACE_INSTANCES, WF_WAIT_MS);
	struct wf_state s;
	wf_read(f, &s);
	assert_int_equal(wf_count(&s, MODEL_TASK_PROVISIONING, NULL),
			 RACE_DISTINCT - RACE_INSTANCES);
	wf_state_free(&s);
	wf_check_state(f, "family:solo");
	size_t placed = wf_check_history(f, from, "family:solo");
	assert_int_equal(placed, 300 + RACE_INSTANCES);
	long long sum = 0, conflicts = 0;
	for (unsigned i = 0; i < RACE_WORKERS; i++)
		wf_worker_stop(f, i, i % 2 ? SIGINT : SIGTERM, 15000);
	child_dump_log(&f->workers[0], 1); /* its final statistics line */
	for (unsigned i = 0; i < RACE_WORKERS; i++) {
		long long p = wf_worker_stat(f, i, "placements");
		assert_true(p >= 0);
		sum += p;
		conflicts += wf_worker_stat(f, i, "conflicts");
	}
	/* Each placement was made by exactly one worker's commit. */
	assert_int_equal(sum, 300 + RACE_INSTANCES);
	printf("%s: %lld placements, %lld conflicts over %d workers\n", conflict, sum, conflicts,
	       RACE_WORKERS);
	wf_finish(f);
}

static void test_worker_race_fine(void **state)
{
	race_run(*state, "fine");
}

static void test_worker_race_coarse(void **state)
{
	race_run(*state, "coarse");
}

/* --commit group: a RunTask's tasks (one group, one startedBy) all or nothing. */
static void test_worker_race_group_commit(void **state)
{
	struct worker_fix *f = *state;
	const char *extra[] = {"--commit", "group", NULL};
	wf_cluster(f);
	struct wf_fleet fleet = {"g", 10, 1, 1024, 1024, 8000, 8001};
	uint64_t lease = wf_lease(f, 60);
	wf_instances(f, &fleet, lease, lease);
	/* 12 distinct tasks cannot all fit on 10 instances: none is placed; 8 can. */
	struct wf_task big = {.cpu = 8,
			      .mem = 8,
			      .group = "family:big",
			      .started_by = "run-big",
			      .constraint = "distinctInstance"};
	struct wf_task fit = {.cpu = 8,
			      .mem = 8,
			      .group = "family:fit",
			      .started_by = "run-fit",
			      .constraint = "distinctInstance",
			      .strategy = "binpack:cpu"};
	wf_tasks(f, &big, 12, NULL);
	wf_tasks(f, &fit, 8, NULL);
	wf_worker_start(f, 0, extra);
	wf_worker_start(f, 1, extra);
	wf_wait_count(f, MODEL_TASK_PENDING, 8, WF_WAIT_MS);
	wf_check_state(f, "family:fit");
	struct wf_state s;
	wf_read(f, &s);
	for (size_t i = 0; i < s.n; i++)
		assert_int_equal(s.tasks[i].last_status, strcmp(s.tasks[i].group, "family:fit") == 0
								 ? MODEL_TASK_PENDING
								 : MODEL_TASK_PROVISIONING);
	wf_state_free(&s);
	wf_worker_stop(f, 0, SIGTERM, 15000);
	wf_worker_stop(f, 1, SIGTERM, 15000);
	/* The 8 went in one transaction, by one worker or the other. */
	assert_int_equal(wf_worker_stat(f, 0, "commits") + wf_worker_stat(f, 1, "commits"), 1);
	assert_int_equal(wf_worker_stat(f, 0, "placements") + wf_worker_stat(f, 1, "placements"),
			 8);
	wf_finish(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_worker_race_fine, wf_setup, wf_teardown),
		cmocka_unit_test_setup_teardown(test_worker_race_coarse, wf_setup, wf_teardown),
		cmocka_unit_test_setup_teardown(test_worker_race_group_commit, wf_setup,
						wf_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
