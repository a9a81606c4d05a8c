/* tests/integ/jrun_fix.c: one berth-jepsen run for a test (tests/integ/jrun_fix.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/jrun_fix.h"

#include "jepsen/netns.h"
#include "tests/integ/child.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int jrun_mkdir(char *dir, size_t n, const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, n, "%s/berth-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
	return mkdtemp(dir) == NULL ? -1 : 0;
}

void jrun_rmdir(const char *dir)
{
	const char *argv[] = {"/bin/rm", "-rf", dir, NULL};
	pid_t p = child_fork("/dev/null", (char *const *)argv);
	int st;
	if (p > 0)
		waitpid(p, &st, 0);
}

int jrun_run(const char *dir, const char *name, const char *store, const char *const *args,
	     uint32_t wait_ms)
{
	const char *bin = getenv("BERTH_JEPSEN_BIN");
	char out[512], log[600];
	char *argv[48];
	unsigned k = 0;
	snprintf(out, sizeof(out), "%s/%s", dir, name);
	snprintf(log, sizeof(log), "%s/%s.log", dir, name);
	argv[k++] = (char *)(bin != NULL ? bin : "build/berth-jepsen");
	argv[k++] = "run";
	argv[k++] = "--store-bin";
	argv[k++] = (char *)store;
	argv[k++] = "--out";
	argv[k++] = out;
	for (unsigned i = 0; args[i] != NULL && k < 47; i++)
		argv[k++] = (char *)args[i];
	argv[k] = NULL;
	struct child ch = {0};
	int st = -1;
	assert_int_equal(child_start(&ch, log, argv), 0);
	pid_t pid = ch.pid;
	if (child_wait(&ch, wait_ms, &st) != 0) {
		child_stop(&ch, SIGTERM, 30000, NULL);
		child_dump_log(&ch, 40);
		fail_msg("berth-jepsen run did not end in %u s", wait_ms / 1000);
	}
	/* Nothing of the run is left on the host. */
	char id[16], report[512];
	snprintf(id, sizeof(id), "j%llx", (unsigned long long)pid & 0xfffff);
	unsigned left = netns_leftovers(id, report, sizeof(report));
	if (left != 0)
		fail_msg("run %s left %u objects: %s", id, left, report);
	child_dump_log(&ch, 3);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

json_t *jrun_results(const char *dir, const char *name)
{
	char path[600];
	json_error_t e;
	snprintf(path, sizeof(path), "%s/%s/results.json", dir, name);
	json_t *r = json_load_file(path, 0, &e);
	if (r == NULL)
		fail_msg("%s: %s", path, e.text);
	return r;
}
