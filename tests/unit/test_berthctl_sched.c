/* tests/unit/test_berthctl_sched.c: berthctl's cluster commands on bad command lines: bad
 * task definition files (the model's exact messages), strategies, constraints, names,
 * counts and missing options all exit 1 before anything is sent (a fake node counts the
 * connections); the command table's help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/client_fake.h"
#include "tests/unit/ctl_run.h"
#include "tests/unit/support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define A(...) ((const char *const[]){"--endpoints", t_ep, __VA_ARGS__, NULL})

static const char *t_ep;

/* A task definition file with this text: the path (free it) in dir. */
static char *t_file(const char *dir, const char *name, const char *text)
{
	char *path = malloc(strlen(dir) + strlen(name) + 2);
	assert_non_null(path);
	sprintf(path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void test_berthctl_sched_taskdef_files(void **state)
{
	struct fake f = {0};
	char *dir = support_tmpdir(), *big, *p;
	(void)state;
	fake_start(&f, FAKE_OK);
	t_ep = f.addr;
	static const struct {
		const char *json, *msg;
	} bad[] = {
		{"{oops", "line 1"},
		{"{\"family\": \"web\"}", ": containerDefinitions: required"},
		{"{\"family\": \"a/b\", \"containerDefinitions\": [{\"name\": \"a\", \"image\": "
		 "\"i\", \"memory\": 8}]}",
		 ": family: must contain only letters, digits, '-' and '_'"},
		{"{\"family\": \"web\", \"revision\": 3, \"containerDefinitions\": [{\"name\": "
		 "\"a\", \"image\": \"i\", \"memory\": 8}]}",
		 ": revision: set by berth, not accepted here"},
		{"{\"family\": \"web\", \"networkMode\": \"host\", \"containerDefinitions\": "
		 "[{\"name\": \"a\", \"image\": \"i\", \"memory\": 8}]}",
		 ": unknown field \"networkMode\""},
		{"{\"family\": \"web\", \"containerDefinitions\": [{\"name\": \"a\", \"image\": "
		 "\"i\", \"memory\": 8, \"portMappings\": [{\"containerPort\": 80, \"hostPort\": "
		 "70000}]}]}",
		 ": containerDefinitions[0].portMappings[0].hostPort: must be 1..65535"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = t_file(dir, "td.json", bad[i].json);
		ctl_expect(NULL, A("taskdef", "register", p), 1, NULL, bad[i].msg);
		/* the same from stdin */
		ctl_expect(bad[i].json, A("taskdef", "register", "-"), 1, NULL, bad[i].msg);
		free(p);
	}
	ctl_expect(NULL, A("taskdef", "register", "/nonexistent/td.json"), 1, NULL,
		   "/nonexistent/td.json: No such file or directory");
	/* The file limit: one byte over 1 MiB is refused before parsing. */
	big = calloc(1, (1u << 20) + 2);
	assert_non_null(big);
	memset(big, ' ', (1u << 20) + 1);
	p = t_file(dir, "big.json", big);
	ctl_expect(NULL, A("taskdef", "register", p), 1, NULL, "larger than 1048576 bytes");
	free(p);
	free(big);
	ctl_expect(NULL, A("taskdef", "register"), 1, NULL,
		   "usage: berthctl taskdef register FILE");
	ctl_expect(NULL, A("taskdef", "describe", "web:0"), 1, NULL,
		   "task definition revision: \"0\" must be 1..999999999");
	ctl_expect(NULL, A("taskdef", "describe", "web:x"), 1, NULL, "must be 1..999999999");
	ctl_expect(NULL, A("taskdef", "describe", "we b"), 1, NULL, "family: must contain only");
	ctl_expect(NULL, A("taskdef", "list", "a/b"), 1, NULL, "family \"a/b\": must contain");
	support_rmrf(dir);
	free(dir);
	fake_stop(&f);
	assert_int_equal(f.conns, 0);
}

static void test_berthctl_sched_bad_options(void **state)
{
	struct fake f = {0};
	(void)state;
	fake_start(&f, FAKE_OK);
	t_ep = f.addr;
	/* Missing and malformed options of task run. */
	ctl_expect(NULL, A("task", "run", "--count", "1"), 1, NULL,
		   "task run: --taskdef is required");
	ctl_expect(NULL, A("task", "run", "--taskdef", "web"), 1, NULL,
		   "task run: --count is required");
	ctl_expect(NULL, A("task", "run", "--taskdef", "web", "--count", "0"), 1, NULL,
		   "--count: \"0\" must be 1..10000");
	ctl_expect(NULL, A("task", "run", "--taskdef", "web", "--count", "10001"), 1, NULL,
		   "must be 1..10000");
	ctl_expect(NULL, A("task", "run", "--taskdef", "web", "--count", "-1"), 1, NULL,
		   "must be 1..10000");
	ctl_expect(NULL, A("task", "run", "--taskdef", "web", "--count"), 1, NULL,
		   "--count needs a value");
	ctl_expect(NULL, A("task", "run", "--taskdef", "web", "--taskdef", "x", "--count", "1"), 1,
		   NULL, "--taskdef given twice");
	ctl_expect(NULL, A("task", "run", "--taskdef", "web:", "--count", "1"), 1, NULL,
		   "task definition revision: \"\" must be 1..999999999");
	/* Strategies and constraints: the model's messages. */
	ctl_expect(NULL, A("task", "run", "--taskdef", "web", "--count", "1", "--strategy", "pack"),
		   1, NULL, "--strategy \"pack\": unknown strategy \"pack\"");
	ctl_expect(
		NULL,
		A("task", "run", "--taskdef", "web", "--count", "1", "--strategy", "binpack:disk"),
		1, NULL, "field: binpack takes cpu or memory");
	ctl_expect(NULL,
		   A("service", "create", "s", "--taskdef", "web", "--count", "1", "--strategy",
		     "random:x"),
		   1, NULL, "field: random takes no field");
	ctl_expect(NULL,
		   A("task", "run", "--taskdef", "web", "--count", "1", "--constraint", "memberOf"),
		   1, NULL, "--constraint \"memberOf\": expression: required for memberOf");
	ctl_expect(NULL,
		   A("task", "run", "--taskdef", "web", "--count", "1", "--constraint",
		     "memberOf:attribute:zone =="),
		   1, NULL, "--constraint \"memberOf:attribute:zone ==\": column");
	ctl_expect(NULL,
		   A("service", "create", "s", "--taskdef", "web", "--count", "1", "--constraint",
		     "memberOf:(attribute:zone == a"),
		   1, NULL, "--constraint \"memberOf:(attribute:zone == a\": column");
	ctl_expect(NULL,
		   A("task", "run", "--taskdef", "web", "--count", "1", "--constraint",
		     "distinctInstance", "--constraint", "distinctInstance"),
		   1, NULL, "distinctInstance given twice");
	ctl_expect(NULL,
		   A("task", "run", "--taskdef", "web", "--count", "1", "--strategy", "random",
		     "--strategy", "random", "--strategy", "random", "--strategy", "random",
		     "--strategy", "random", "--strategy", "random"),
		   1, NULL, "--strategy: at most 5");
	ctl_expect(NULL, A("task", "run", "--taskdef", "web", "--count", "1", "--group", "web"), 1,
		   NULL, "--group \"web\"");
	ctl_expect(NULL, A("task", "run", "--taskdef", "web", "--count", "1", "--started-by", ""),
		   1, NULL, "--started-by: must be 1..255 bytes");
	ctl_expect(NULL, A("task", "run", "--taskdef", "web", "--count", "1", "--cluster", "a/b"),
		   1, NULL, "--cluster \"a/b\": must contain only");
	ctl_expect(NULL, A("task", "list", "--status", "DONE"), 1, NULL,
		   "--status \"DONE\": PROVISIONING, PENDING, RUNNING or STOPPED");
	ctl_expect(NULL, A("task", "list", "--instance", ".x"), 1, NULL, "--instance \".x\"");
	ctl_expect(NULL, A("task", "stop", "t1", "--reason", ""), 1, NULL,
		   "--reason: must be 1..1024 bytes");
	ctl_expect(NULL, A("task", "describe", "a/b"), 1, NULL, "task \"a/b\"");
	ctl_expect(NULL, A("task", "stop", "t1", "--count", "1"), 1, NULL,
		   "unknown option --count for task stop");
	/* Services. */
	ctl_expect(NULL, A("service", "create", "s", "--count", "1"), 1, NULL,
		   "service create: --taskdef is required");
	ctl_expect(NULL,
		   A("service", "create", "s", "--taskdef", "web", "--count", "1", "--min-healthy",
		     "101"),
		   1, NULL, "--min-healthy: \"101\" must be 0..100");
	ctl_expect(NULL,
		   A("service", "create", "s", "--taskdef", "web", "--count", "1", "--max-percent",
		     "99"),
		   1, NULL, "--max-percent: \"99\" must be 100..1000");
	ctl_expect(NULL,
		   A("service", "create", "s", "--taskdef", "web", "--count", "1", "--max-percent",
		     "100"),
		   1, NULL, "must be above 100 when --min-healthy is 100");
	ctl_expect(NULL, A("service", "create", "a.b", "--taskdef", "web", "--count", "1"), 1, NULL,
		   "service \"a.b\": must contain only");
	ctl_expect(NULL, A("service", "update", "s"), 1, NULL, "--count, --taskdef or both");
	ctl_expect(NULL, A("service", "update", "s", "--strategy", "random"), 1, NULL,
		   "unknown option --strategy for service update");
	/* Instances. */
	ctl_expect(NULL, A("instance", "attributes", "i-1", "zone"), 1, NULL,
		   "attribute \"zone\": NAME=VALUE expected");
	ctl_expect(NULL, A("instance", "attributes", "i-1", "=a"), 1, NULL, "NAME=VALUE expected");
	ctl_expect(NULL, A("instance", "drain"), 1, NULL, "usage: berthctl instance drain ID");
	ctl_expect(NULL, A("instance", "drain", "a/b"), 1, NULL, "instance \"a/b\": ");
	/* Groups of commands, and the table's help. */
	ctl_expect(NULL, A("task"), 1, NULL, "task: run, list, describe or stop?");
	ctl_expect(NULL, A("service", "scale"), 1, NULL, "unknown command \"service scale\"");
	ctl_expect(NULL, A("cluster"), 1, NULL, "cluster: describe?");
	ctl_expect(NULL, A("cluster", "describe", "x"), 1, NULL,
		   "usage: berthctl cluster describe");
	ctl_expect(NULL, A("get", "k", "--cluster", "x"), 1, NULL,
		   "unknown option --cluster for get");
	ctl_expect(NULL, A("--help"), 0, "task run --taskdef FAMILY[:REV] --count N", NULL);
	ctl_expect(NULL, A("instance", "drain", "--help"), 0, "DRAINING", NULL);
	fake_stop(&f);
	assert_int_equal(f.conns, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_berthctl_sched_taskdef_files),
		cmocka_unit_test(test_berthctl_sched_bad_options),
	};
	return cmocka_run_group_tests(tests, ctl_run_setup, NULL);
}
