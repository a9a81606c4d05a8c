/* tests/integ/test_jepsen_sched.c: `berth-jepsen run --workload sched` end to end
 * (docs/jepsen.md): two berth-workers and two berth-agents on the host, a service and
 * RunTasks under leader partitions and kills and the SIGKILL of a worker or an agent, for
 * 22 s: the scheduling invariants hold, the service converges, the workers' and agents'
 * logs are in the run's folder, and nothing of the run is left (no namespace, no process:
 * the workers and agents are stopped by pid). Needs root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/child.h"
#include "tests/integ/jrun_fix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define SCHED_WAIT_MS 150000

static char s_dir[256];

static int sched_setup(void **state)
{
	(void)state;
	return jrun_mkdir(s_dir, sizeof(s_dir), "jsched");
}

static int sched_teardown(void **state)
{
	(void)state;
	jrun_rmdir(s_dir);
	return 0;
}

/* No process of the run's workers and agents is left: their pids in the events. */
static void sched_no_helpers(const char *name)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s/worker1.log", s_dir, name);
	struct stat st;
	if (stat(path, &st) != 0 || st.st_size == 0)
		fail_msg("%s: missing or empty", path);
	snprintf(path, sizeof(path), "%s/%s/agent2.log", s_dir, name);
	if (stat(path, &st) != 0 || st.st_size == 0)
		fail_msg("%s: missing or empty", path);
	/* every agent said it stopped (SIGTERM at the end), none was left running */
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "grep -q 'counters (exit)' %s", path);
	assert_int_equal(system(cmd), 0);
}

static void test_jepsen_sched_valid(void **state)
{
	(void)state;
	const char *store = getenv("BERTH_STORE_BIN"), *worker = getenv("BERTH_WORKER_BIN"),
		   *agent = getenv("BERTH_AGENT_BIN");
	const char *const args[] = {
		"--workload",     "sched",
		"--nemesis",      "partition-leader,kill-leader,kill-worker,kill-agent",
		"--time-limit-s", "22",
		"--fault-ms",     "4000",
		"--calm-ms",      "1500",
		"--recovery-s",   "3",
		"--rate",         "12",
		"--concurrency",  "3",
		"--worker-bin",   worker ? worker : "build/berth-worker",
		"--agent-bin",    agent ? agent : "build/berth-agent",
		"--quiet",        NULL};
	int rc = jrun_run(s_dir, "sched", store ? store : "build/berth-store", args, SCHED_WAIT_MS);
	json_t *r = jrun_results(s_dir, "sched");
	if (rc != 0) {
		char *t = json_dumps(r, JSON_COMPACT);
		fail_msg("exit %d: %s", rc, t);
	}
	assert_true(json_is_true(json_object_get(r, "valid")));
	assert_true(json_integer_value(json_object_get(r, "faults")) >= 2);
	json_t *ck = json_object_get(r, "checker");
	assert_true(json_integer_value(json_object_get(ck, "placements")) >= 12);
	assert_true(json_integer_value(json_object_get(ck, "revisions")) >= 50);
	json_t *conv = json_object_get(ck, "converge");
	assert_int_equal(json_integer_value(json_object_get(conv, "running")),
			 json_integer_value(json_object_get(conv, "desired")));
	assert_int_equal(json_array_size(json_object_get(r, "logs")), 0);
	json_decref(r);
	sched_no_helpers("sched");
}

static void test_jepsen_sched_bad_programs(void **state)
{
	(void)state;
	const char *store = getenv("BERTH_STORE_BIN");
	const char *const args[] = {"--workload",     "sched", "--nemesis",   "none",
				    "--time-limit-s", "1",     "--agent-bin", "/nonexistent/agent",
				    "--quiet",        NULL};
	/* The setup fails (exit 70) and removes everything it made. */
	assert_int_equal(jrun_run(s_dir, "bad", store ? store : "build/berth-store", args, 60000),
			 70);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jepsen_sched_valid),
		cmocka_unit_test(test_jepsen_sched_bad_programs),
	};
	return cmocka_run_group_tests(tests, sched_setup, sched_teardown);
}
