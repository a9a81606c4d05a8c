/* tests/integ/test_worker_faults.c: berth-worker under failures: a worker killed with
 * SIGKILL while its commits are in flight leaves nothing half-done (every placed task has
 * exactly its counters, ports, placed key and group counter), one stopped with SIGTERM
 * while placing exits 0 once its commits have ended, and another worker places the rest; an instance whose lease is revoked is lost, and the workers release its tasks
 * (STOPPED, "instance lost", every counter and key given back) exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/worker_fix.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define KILL_TASKS 1000

static void test_worker_killed_mid_commit(void **state)
{
	struct worker_fix *f = *state;
	/* Few tasks in flight, so that it is still placing when it is killed. */
	const char *few[] = {"--max-inflight", "4", "--batch", "2", NULL};
	wf_cluster(f);
	uint64_t lease = wf_lease(f, 60);
	struct wf_fleet fleet = {"k", 10, 2, 65536, 131072, 9000, 9099};
	wf_instances(f, &fleet, lease, lease);
	struct wf_task t = {.cpu = 16, .mem = 16, .ports = {9001, 9002}, .nports = 2};
	struct wf_task u = {.cpu = 32, .mem = 64, .strategy = "binpack:memory"};
	struct wf_state s;
	wf_read(f, &s);
	uint64_t from = s.rev;
	wf_state_free(&s);
	wf_tasks(f, &t, 10, NULL); /* one per instance: the ports */
	wf_tasks(f, &u, KILL_TASKS - 10, NULL);
	wf_worker_start(f, 0, few);
	wf_wait_least(f, MODEL_TASK_PENDING, 1, WF_WAIT_MS);
	wf_worker_kill(f, 0);
	wf_read(f, &s);
	size_t at_kill = wf_count(&s, MODEL_TASK_PENDING, NULL);
	wf_state_free(&s);
	printf("killed with %zu of %d tasks placed\n", at_kill, KILL_TASKS);
	assert_true(at_kill < KILL_TASKS); /* killed while it was placing */
	wf_check_state(f, NULL);
	/* SIGTERM while placing: the commits in flight end, then it exits 0. */
	wf_worker_start(f, 1, few);
	wf_wait_least(f, MODEL_TASK_PENDING, at_kill + 1, WF_WAIT_MS);
	wf_worker_stop(f, 1, SIGTERM, 15000);
	wf_check_state(f, NULL);
	wf_worker_start(f, 2, NULL);
	wf_wait_count(f, MODEL_TASK_PENDING, KILL_TASKS, WF_WAIT_MS);
	wf_check_state(f, NULL);
	assert_int_equal(wf_check_history(f, from, NULL), KILL_TASKS);
	wf_finish(f);
}

static void test_worker_lost_instance(void **state)
{
	struct worker_fix *f = *state;
	wf_cluster(f);
	uint64_t keep = wf_lease(f, 60), doomed = wf_lease(f, 60);
	struct wf_fleet fleet = {"l", 4, 1, 4096, 8192, 7000, 7010};
	wf_instances(f, &fleet, keep, doomed);
	struct wf_task t = {.cpu = 64,
			    .mem = 64,
			    .ports = {7001},
			    .nports = 1,
			    .strategy = "spread:instanceId"};
	struct wf_task u = {.cpu = 64, .mem = 64, .strategy = "spread:instanceId"};
	wf_tasks(f, &t, 4, NULL);
	wf_tasks(f, &u, 60, NULL);
	wf_worker_start(f, 0, NULL);
	wf_worker_start(f, 1, NULL);
	wf_wait_count(f, MODEL_TASK_PENDING, 64, WF_WAIT_MS);
	struct wf_state s;
	wf_read(f, &s);
	size_t on_lost = wf_count(&s, MODEL_TASK_PENDING, "l-0");
	uint64_t from = s.rev;
	wf_state_free(&s);
	assert_true(on_lost >= 5); /* spread: about a quarter */
	wf_revoke(f, doomed);
	wf_wait_count(f, MODEL_TASK_STOPPED, on_lost, WF_WAIT_MS);
	wf_read(f, &s);
	assert_int_equal(wf_count(&s, MODEL_TASK_PENDING, "l-0"), 0);
	assert_int_equal(wf_count(&s, MODEL_TASK_PENDING, NULL), 64 - on_lost);
	for (size_t i = 0; i < s.n; i++)
		if (s.tasks[i].last_status == MODEL_TASK_STOPPED) {
			assert_string_equal(s.tasks[i].instance, "l-0");
			assert_string_equal(s.tasks[i].stop_reason, "instance lost");
			assert_int_equal(s.tasks[i].desired_status, MODEL_TASK_STOPPED);
		}
	wf_state_free(&s);
	wf_check_state(f, NULL);
	wf_check_history(f, from, NULL);
	wf_worker_stop(f, 0, SIGTERM, 15000);
	wf_worker_stop(f, 1, SIGTERM, 15000);
	/* Each task was released once: by one worker or the other. */
	long long released = wf_worker_stat(f, 0, "released") + wf_worker_stat(f, 1, "released");
	assert_int_equal(released, (long long)on_lost);
	wf_finish(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_worker_killed_mid_commit, wf_setup,
						wf_teardown),
		cmocka_unit_test_setup_teardown(test_worker_lost_instance, wf_setup, wf_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
