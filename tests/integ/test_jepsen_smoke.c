/* tests/integ/test_jepsen_smoke.c: `berth-jepsen run` end to end, as `make test` runs it on
 * every change (docs/jepsen.md): the register workload under partitions and leader kills
 * is valid on the normal build, and the broken build (build/berth-store-broken: reads
 * answered from any member's own state) is caught; a run interrupted with SIGINT still
 * cleans up and judges what it recorded. Each run leaves its history, results, logs and
 * plots, and nothing else: no namespace, link, mount or process. Needs root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jepsen/netns.h"
#include "tests/integ/child.h"
#include "tests/integ/jrun_fix.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SMOKE_WAIT_MS 150000

static char s_dir[256];

static int smoke_setup(void **state)
{
	(void)state;
	return jrun_mkdir(s_dir, sizeof(s_dir), "jsmoke");
}

static int smoke_teardown(void **state)
{
	(void)state;
	jrun_rmdir(s_dir);
	return 0;
}

static void smoke_files(const char *name)
{
	static const char *const files[] = {"history.jsonl", "results.json",   "n1.log",
					    "latency.png",   "throughput.png", NULL};
	for (unsigned i = 0; files[i] != NULL; i++) {
		char path[600];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s/%s", s_dir, name, files[i]);
		if (stat(path, &st) != 0 || st.st_size == 0)
			fail_msg("%s: missing or empty", path);
	}
}

static const char *const smoke_args[] = {
	"--workload",     "register", "--nemesis",     "partition-one,partition-leader,kill-leader",
	"--time-limit-s", "20",       "--fault-ms",    "4000",
	"--calm-ms",      "1500",     "--recovery-s",  "3",
	"--rate",         "150",      "--concurrency", "6",
	"--keys",         "4",        "--quiet",       NULL};

static void test_jepsen_smoke_valid(void **state)
{
	(void)state;
	const char *store = getenv("BERTH_STORE_BIN");
	assert_int_equal(jrun_run(s_dir, "normal", store ? store : "build/berth-store", smoke_args,
				  SMOKE_WAIT_MS),
			 0);
	smoke_files("normal");
	json_t *r = jrun_results(s_dir, "normal");
	assert_true(json_is_true(json_object_get(r, "valid")));
	/* faults happened and operations were checked */
	assert_true(json_integer_value(json_object_get(r, "faults")) >= 2);
	json_t *ck = json_object_get(r, "checker");
	assert_true(json_integer_value(json_object_get(ck, "ops")) >= 200);
	assert_int_equal(json_array_size(json_object_get(r, "logs")), 0);
	json_decref(r);
}

static void test_jepsen_smoke_broken_caught(void **state)
{
	(void)state;
	const char *store = getenv("BERTH_STORE_BROKEN_BIN");
	assert_int_equal(jrun_run(s_dir, "broken", store ? store : "build/berth-store-broken",
				  smoke_args, SMOKE_WAIT_MS),
			 1);
	json_t *r = jrun_results(s_dir, "broken");
	assert_true(json_is_false(json_object_get(r, "valid")));
	json_t *ck = json_object_get(r, "checker");
	assert_true(json_array_size(json_object_get(ck, "invalid_keys")) >= 1);
	assert_true(json_array_size(json_object_get(ck, "failures")) >= 1);
	json_decref(r);
}

/* SIGINT ends the client phase early: the run still heals, removes everything and judges
 * what was recorded. */
static void test_jepsen_smoke_interrupted(void **state)
{
	(void)state;
	const char *bin = getenv("BERTH_JEPSEN_BIN");
	const char *store = getenv("BERTH_STORE_BIN");
	char out[512], log[600], hist[600];
	snprintf(out, sizeof(out), "%s/interrupted", s_dir);
	snprintf(log, sizeof(log), "%s/interrupted.log", s_dir);
	snprintf(hist, sizeof(hist), "%s/history.jsonl", out);
	char *argv[] = {(char *)(bin != NULL ? bin : "build/berth-jepsen"),
			"run",
			"--store-bin",
			(char *)(store != NULL ? store : "build/berth-store"),
			"--out",
			out,
			"--workload",
			"set",
			"--nemesis",
			"partition-leader",
			"--fault-ms",
			"2000",
			"--calm-ms",
			"500",
			"--time-limit-s",
			"600",
			"--recovery-s",
			"1",
			"--quiet",
			NULL};
	struct child ch = {0};
	int st = -1;
	assert_int_equal(child_start(&ch, log, argv), 0);
	pid_t pid = ch.pid;
	/* Wait until operations are being recorded (bounded), then interrupt. */
	struct stat sb;
	for (unsigned i = 0; i < 300 && (stat(hist, &sb) != 0 || sb.st_size < 20000); i++)
		usleep(100 * 1000);
	assert_int_equal(kill(pid, SIGINT), 0);
	if (child_wait(&ch, 60000, &st) != 0) {
		child_stop(&ch, SIGKILL, 5000, NULL);
		child_dump_log(&ch, 40);
		fail_msg("berth-jepsen run did not stop within 60 s of SIGINT");
	}
	child_dump_log(&ch, 2);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0); /* what was recorded is valid */
	assert_true(child_log_has(&ch, "stopped by signal 2"));
	char id[16], report[512];
	snprintf(id, sizeof(id), "j%llx", (unsigned long long)pid & 0xfffff);
	unsigned left = netns_leftovers(id, report, sizeof(report));
	if (left != 0)
		fail_msg("run %s left %u objects: %s", id, left, report);
	json_t *r = jrun_results(s_dir, "interrupted");
	assert_true(json_is_true(json_object_get(r, "valid")));
	json_decref(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jepsen_smoke_valid),
		cmocka_unit_test(test_jepsen_smoke_broken_caught),
		cmocka_unit_test(test_jepsen_smoke_interrupted),
	};
	return cmocka_run_group_tests(tests, smoke_setup, smoke_teardown);
}
