/* tests/unit/test_jepsen_cli.c: the berth-jepsen program's check command: verdict lines,
 * exit statuses, results.json, and bad command lines and histories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/support.h"

#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char prog[PATH_MAX], *tmpdir, hist[PATH_MAX], outp[PATH_MAX], errp[PATH_MAX],
	results[PATH_MAX];
static char out[8192], err[8192];

static int setup(void **state)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	(void)state;
	assert_true(n > 0);
	exe[n] = '\0';
	snprintf(prog, sizeof(prog), "%s/../berth-jepsen", dirname(exe));
	assert_int_equal(access(prog, X_OK), 0);
	tmpdir = support_tmpdir();
	snprintf(hist, sizeof(hist), "%s/history.jsonl", tmpdir);
	snprintf(outp, sizeof(outp), "%s/out", tmpdir);
	snprintf(errp, sizeof(errp), "%s/err", tmpdir);
	snprintf(results, sizeof(results), "%s/results.json", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	support_rmrf(tmpdir);
	free(tmpdir);
	return 0;
}

static void slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Runs berth-jepsen with args (NULL-terminated) under `timeout 20`; returns its status. */
static int run(const char *const *args)
{
	const char *argv[32] = {"timeout", "20", prog};
	size_t n = 3;
	for (; *args != NULL; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&fa, 2, errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	pid_t pid;
	assert_int_equal(posix_spawnp(&pid, "timeout", &fa, NULL, (char *const *)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	slurp(outp, out, sizeof(out));
	slurp(errp, err, sizeof(err));
	return WEXITSTATUS(st);
}

static void write_hist(const char *text)
{
	FILE *f = fopen(hist, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

#define EV(i, p, t, f, rest)                                                                       \
	"{\"index\":" #i ",\"time\":" #i ",\"process\":" #p ",\"type\":\"" t "\",\"f\":\"" f       \
	"\"" rest "}\n"

static void test_jepsen_cli_register(void **state)
{
	(void)state;
	write_hist(
		EV(0, 0, "invoke", "write", ",\"key\":\"k\",\"value\":1") EV(
			1, 0, "ok", "write",
			",\"key\":\"k\",\"value\":1") EV(2, 1, "invoke", "read", ",\"key\":\"k\"")
			EV(3, 1, "ok", "read",
			   ",\"key\":\"k\",\"value\":1") "{\"index\":4,\"time\":400,\"process\":\"nemesis\",\"type\":\"info\","
							 "\"f\":\"kill\"}\n");
	const char *a[] = {"check", "--workload", "register", "--results", results, hist, NULL};
	assert_int_equal(run(a), 0);
	assert_non_null(strstr(out, "valid register: 1 keys, 2 operations checked, 0 invalid"));
	json_error_t je;
	json_t *r = json_load_file(results, 0, &je);
	assert_non_null(r);
	assert_true(json_is_true(json_object_get(r, "valid")));
	assert_string_equal(json_string_value(json_object_get(r, "workload")), "register");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "register"), "ops")),
			 2);
	json_decref(r);

	write_hist(EV(0, 0, "invoke", "write", ",\"key\":\"k\",\"value\":1")
			   EV(1, 0, "ok", "write", ",\"key\":\"k\",\"value\":1")
				   EV(2, 1, "invoke", "read", ",\"key\":\"k\"")
					   EV(3, 1, "ok", "read", ",\"key\":\"k\",\"value\":null"));
	assert_int_equal(run(a), 1);
	assert_non_null(strstr(out, "INVALID register: 1 keys"));
	r = json_load_file(results, 0, &je);
	assert_true(json_is_false(json_object_get(r, "valid")));
	json_decref(r);

	/* A search bound too small: unknown, exit 2. */
	write_hist(EV(0, 0, "invoke", "write", ",\"key\":\"k\",\"value\":1")
			   EV(1, 1, "invoke", "write", ",\"key\":\"k\",\"value\":2")
				   EV(2, 0, "ok", "write", ",\"key\":\"k\",\"value\":1")
					   EV(3, 1, "ok", "write", ",\"key\":\"k\",\"value\":2")
						   EV(4, 2, "invoke", "read", ",\"key\":\"k\"")
							   EV(5, 2, "ok", "read",
							      ",\"key\":\"k\",\"value\":1"));
	const char *u[] = {"check", "--workload", "register", "--max-states", "1", hist, NULL};
	assert_int_equal(run(u), 2);
	assert_non_null(strstr(out, "unknown register:"));
}

static void test_jepsen_cli_bank_set_watch(void **state)
{
	(void)state;
	write_hist(EV(0, 0, "invoke", "read", "")
			   EV(1, 0, "ok", "read", ",\"value\":{\"a\":60,\"b\":40}"));
	const char *b[] = {"check", "--workload", "bank", "--total", "100", hist, NULL};
	assert_int_equal(run(b), 0);
	const char *b2[] = {"check", "--workload", "bank", "--total", "99", hist, NULL};
	assert_int_equal(run(b2), 1);
	assert_non_null(strstr(out, "INVALID bank: 1 reads, 1 wrong"));
	write_hist(EV(0, 0, "invoke", "add", ",\"value\":1") EV(1, 0, "ok", "add", ",\"value\":1")
			   EV(2, 0, "invoke", "read", "") EV(3, 0, "ok", "read", ",\"value\":[]"));
	const char *s[] = {"check", "--workload", "set", hist, NULL};
	assert_int_equal(run(s), 1);
	assert_non_null(strstr(out, "1 lost"));
	write_hist(EV(0, 0, "invoke", "write", ",\"key\":\"k\",\"value\":1"));
	const char *w[] = {"check", "--workload", "watch", hist, NULL};
	assert_int_equal(run(w), 2);
	assert_non_null(strstr(out, "unknown watch: 0 watchers"));
}

static void test_jepsen_cli_bad(void **state)
{
	static const struct {
		const char *args[8];
		int status;
		const char *msg;
	} cases[] = {
		{{NULL}, 64, "usage:"},
		{{"frobnicate"}, 64, "unknown command \"frobnicate\""},
		{{"check"}, 64, "--workload is required"},
		{{"check", "--workload", "queue", "h"}, 64, "unknown workload \"queue\""},
		{{"check", "--workload", "bank", "h"}, 64, "--total is required by bank"},
		{{"check", "--workload", "set", "--total", "5", "h"}, 64, "only by bank"},
		{{"check", "--workload", "bank", "--total", "5x", "h"},
		 64,
		 "--total: \"5x\" is not an integer"},
		{{"check", "--workload", "set", "--max-states", "9", "h"}, 64, "for register only"},
		{{"check", "--workload", "register", "--max-states", "0", "h"}, 64, "--max-states"},
		{{"check", "--workload", "set"}, 64, "one history file expected"},
		{{"check", "--workload", "set", "a", "b"}, 64, "one history file expected"},
		{{"check", "--bogus"}, 64, "unknown option"},
		{{"check", "--workload", "set", "/nonexistent-history"},
		 65,
		 "/nonexistent-history: No such file"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int st = run(cases[i].args);
		if (st != cases[i].status || strstr(err, cases[i].msg) == NULL)
			fail_msg("case %zu: status %d, stderr \"%s\"", i, st, err);
	}
	/* A bad line, and a history the checker cannot read: 65, nothing written. */
	write_hist(EV(0, 0, "invoke", "read", "") "{\"index\":0}\n");
	const char *a[] = {"check", "--workload", "set", "--results", results, hist, NULL};
	unlink(results);
	assert_int_equal(run(a), 65);
	assert_non_null(strstr(err, "line 2: \"time\" missing"));
	assert_int_equal(access(results, F_OK), -1);
	write_hist(EV(0, 0, "invoke", "add", ",\"value\":\"x\""));
	assert_int_equal(run(a), 65);
	assert_non_null(strstr(err, "index 0: add value must be an integer"));
	/* Results that cannot be written: 74. */
	write_hist(EV(0, 0, "invoke", "read", "") EV(1, 0, "ok", "read", ",\"value\":[]"));
	const char *r[] = {"check", "--workload", "set", "--results", "/nonexistent/r.json",
			   hist,    NULL};
	assert_int_equal(run(r), 74);
	assert_non_null(strstr(err, "cannot write /nonexistent/r.json"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jepsen_cli_register),
		cmocka_unit_test(test_jepsen_cli_bank_set_watch),
		cmocka_unit_test(test_jepsen_cli_bad),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
