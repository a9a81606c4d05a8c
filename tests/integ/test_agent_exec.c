/* tests/integ/test_agent_exec.c: berth-agent --mode exec on a real cluster: a container's
 * command runs as a local process with the container's environment and its exit code is
 * reported (3); a stop request and SIGTERM to the agent end a long command with SIGTERM
 * (exit code 143); a command that cannot start is reported with exit code 127. And bad
 * options: each refused with status 2 and a message naming the option. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/agent_fix.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Registers family at revision 1 from ECS JSON: the family key and the revision, as
 * berthctl taskdef register writes them. */
static void te_taskdef(struct agent_fix *f, const char *json)
{
	struct model_taskdef td = {0};
	char err[256], fk[MODEL_KEY_MAX], tk[MODEL_KEY_MAX];
	uint8_t one[9];
	struct mp_buf b;
	struct berth_result r = {0};
	if (model_taskdef_parse_json(json, strlen(json), &td, err, sizeof(err)) != 0)
		fail_msg("taskdef: %s", err);
	td.revision = 1;
	mp_buf_init(&b);
	assert_int_equal(model_taskdef_encode(&td, &b, err, sizeof(err)), 0);
	model_key_family(fk, td.family);
	model_key_taskdef(tk, td.family, 1);
	size_t n = mp_int_encode(1, one);
	assert_int_equal(berth_put(f->b, fk, strlen(fk), one, n, 0, &r), 0);
	berth_result_free(&r);
	assert_int_equal(berth_put(f->b, tk, strlen(tk), b.data, b.len, 0, &r), 0);
	berth_result_free(&r);
	mp_buf_close(&b);
	model_taskdef_free(&td);
}

static void test_agent_exec_commands(void **state)
{
	struct agent_fix *f = *state;
	struct model_task t = {0};
	char a[MODEL_TASK_ID_LEN + 1], b[MODEL_TASK_ID_LEN + 1], c[MODEL_TASK_ID_LEN + 1],
		d[MODEL_TASK_ID_LEN + 1];
	const uint16_t ports[] = {9001};
	const char *const args[] = {
		"--mode",          "exec", "--ids",       "e1", "--ports", "9000-9009",
		"--stop-grace-ms", "3000", "--lease-ttl", "5",  NULL};
	agent_fix_cluster(f);
	te_taskdef(f, "{\"family\": \"three\", \"containerDefinitions\": [{\"name\": \"main\", "
		      "\"image\": \"busybox\", \"memory\": 64, \"command\": [\"/bin/sh\", \"-c\", "
		      "\"[ \\\"$GREETING\\\" = hello ] && [ -n \\\"$BERTH_TASK_ID\\\" ] && exit 3; "
		      "exit 9\"], \"environment\": [{\"name\": \"GREETING\", \"value\": "
		      "\"hello\"}], \"portMappings\": [{\"containerPort\": 80, \"hostPort\": "
		      "9001}]}]}");
	te_taskdef(f, "{\"family\": \"sleeper\", \"containerDefinitions\": [{\"name\": "
		      "\"main\", \"image\": \"busybox\", \"memory\": 32, \"command\": "
		      "[\"/bin/sleep\", \"30\"]}]}");
	te_taskdef(f, "{\"family\": \"missing\", \"containerDefinitions\": [{\"name\": "
		      "\"main\", \"image\": \"busybox\", \"memory\": 32, \"command\": "
		      "[\"/nonexistent/berth-test-program\"]}]}");
	agent_fix_start(f, args);
	agent_fix_wait_alive(f, 1, AGENT_FIX_WAIT_MS);

	/* The command's exit code, with the container's environment. */
	agent_fix_place(f, "e1", "three", 1, 0, 64, ports, 1, a);
	agent_fix_wait_status(f, a, MODEL_TASK_STOPPED, AGENT_FIX_WAIT_MS, &t);
	assert_true(t.has_exit_code);
	assert_int_equal(t.exit_code, 3);
	assert_string_equal(t.stop_reason, "essential container main exited");
	agent_fix_released(f, "e1", "family:three");

	/* A command that cannot start: 127. */
	agent_fix_place(f, "e1", "missing", 1, 0, 32, NULL, 0, d);
	agent_fix_wait_status(f, d, MODEL_TASK_STOPPED, AGENT_FIX_WAIT_MS, &t);
	assert_true(t.has_exit_code);
	assert_int_equal(t.exit_code, 127);
	assert_non_null(strstr(t.stop_reason, "cannot run container main"));
	agent_fix_released(f, "e1", "family:missing");

	/* A stop request: SIGTERM to the process, exit code 143, the request's reason. */
	agent_fix_place(f, "e1", "sleeper", 1, 0, 32, NULL, 0, b);
	agent_fix_wait_status(f, b, MODEL_TASK_RUNNING, AGENT_FIX_WAIT_MS, &t);
	agent_fix_stop_request(f, b, "test: stop");
	agent_fix_wait_status(f, b, MODEL_TASK_STOPPED, AGENT_FIX_WAIT_MS, &t);
	assert_true(t.has_exit_code);
	assert_int_equal(t.exit_code, 128 + SIGTERM);
	assert_string_equal(t.stop_reason, "test: stop");

	/* SIGTERM to the agent: its process stopped and reported first, then exit 0. */
	agent_fix_place(f, "e1", "sleeper", 1, 0, 32, NULL, 0, c);
	agent_fix_wait_status(f, c, MODEL_TASK_RUNNING, AGENT_FIX_WAIT_MS, &t);
	agent_fix_stop(f, SIGTERM, AGENT_FIX_WAIT_MS);
	agent_fix_task(f, c, &t);
	assert_int_equal(t.last_status, MODEL_TASK_STOPPED);
	assert_int_equal(t.exit_code, 128 + SIGTERM);
	assert_string_equal(t.stop_reason, "agent stopped");
	agent_fix_released(f, "e1", "family:sleeper");
	assert_true(child_log_has(&f->agent, "started=4 stopped=4 failed=2"));
	model_task_free(&t);
	agent_fix_finish(f);
}

/* Each bad command line: exit status 2 and the message, and nothing registered. */
static void test_agent_bad_options(void **state)
{
	(void)state;
	static const struct {
		const char *args[6];
		const char *msg;
	} cases[] = {
		{{NULL}, "--endpoints (or BERTH_ENDPOINTS) is required"},
		{{"--endpoints", "nowhere"}, "--endpoints: 'nowhere' is not HOST:PORT"},
		{{"--endpoints", "127.0.0.1:abc"}, "--endpoints: endpoint \"127.0.0.1:abc\": port"},
		{{"--endpoints", "127.0.0.1:1", "--mode", "docker"}, "--mode: 'docker' is not"},
		{{"--endpoints", "127.0.0.1:1", "--instances", "1001"},
		 "--instances: '1001' is not a number in 1..1000"},
		{{"--endpoints", "127.0.0.1:1", "--ports", "9000-8000"}, "--ports: '9000-8000'"},
		{{"--endpoints", "127.0.0.1:1", "--ports", "1-10,5"},
		 "--ports: 1-10 and 5-5 overlap"},
		{{"--endpoints", "127.0.0.1:1", "--attribute", "zone"},
		 "--attribute: 'zone' is not NAME=VALUE"},
		{{"--endpoints", "127.0.0.1:1", "--attribute", "a=b!"}, "attributes[0].value"},
		{{"--endpoints", "127.0.0.1:1", "--zones", "a,,b"}, "--zones: 'a,,b' has an empty"},
		{{"--endpoints", "127.0.0.1:1", "--fail-rate", "1.5"}, "--fail-rate: '1.5'"},
		{{"--endpoints", "127.0.0.1:1", "--run-ms", "9-3"}, "--run-ms: '9-3'"},
		{{"--endpoints", "127.0.0.1:1", "--lease-ttl", "0"}, "--lease-ttl: '0'"},
		{{"--endpoints", "127.0.0.1:1", "--ids", "a,a"}, "--ids: 'a' twice"},
		{{"--endpoints", "127.0.0.1:1", "--ids", ".x"}, "--ids: '.x'"},
		{{"--endpoints", "127.0.0.1:1", "--cluster", "a/b"}, "--cluster: 'a/b'"},
		{{"--endpoints", "127.0.0.1:1", "--log-level", "loud"}, "--log-level"},
		{{"--endpoints", "127.0.0.1:1", "--what"}, "unknown option: '--what'"},
		{{"--endpoints", "127.0.0.1:1", "extra"}, "unexpected argument 'extra'"},
	};
	char dir[] = "/tmp/berth-agent-opts-XXXXXX", log[CHILD_PATH_BYTES];
	const char *bin = getenv("BERTH_AGENT_BIN");
	assert_non_null(mkdtemp(dir));
	snprintf(log, sizeof(log), "%s/agent.log", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[8] = {(char *)(bin ? bin : "build/berth-agent")};
		struct child ch = {0};
		int st = -1;
		for (size_t k = 0; cases[i].args[k] != NULL; k++)
			argv[k + 1] = (char *)cases[i].args[k];
		unlink(log);
		assert_int_equal(child_start(&ch, log, argv), 0);
		assert_int_equal(child_wait(&ch, 5000, &st), 0);
		if (!child_log_has(&ch, cases[i].msg) || !WIFEXITED(st) || WEXITSTATUS(st) != 2) {
			child_dump_log(&ch, 10);
			fail_msg("case %zu: status 0x%x, expected 2 and '%s'", i, st, cases[i].msg);
		}
	}
	/* --help: the table, status 0. */
	char *help[] = {(char *)(bin ? bin : "build/berth-agent"), "--help", NULL};
	struct child ch = {0};
	int st = -1;
	unlink(log);
	assert_int_equal(child_start(&ch, log, help), 0);
	assert_int_equal(child_wait(&ch, 5000, &st), 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_true(child_log_has(&ch, "--fail-rate"));
	unlink(log);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_agent_exec_commands, agent_fix_setup,
						agent_fix_teardown),
		cmocka_unit_test(test_agent_bad_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
