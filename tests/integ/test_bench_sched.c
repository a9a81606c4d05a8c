/* tests/integ/test_bench_sched.c: `berth-bench sched` as the program against three real
 * members: a small run with two workers places every task, reports commits, conflicts
 * and quality consistent with its input, and leaves none of its keys behind; bad command
 * lines exit 2 with a message naming the option and write nothing; SIGINT during a run
 * stops the workers and removes the run's folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/model.h"
#include "tests/integ/child.h"
#include "tests/integ/integ.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char t_eps[256];

/* berth-bench sched's command line with args (NULL-terminated) after the common part. */
static void t_argv(const char *const *args, char *argv[40])
{
	const char *bin = getenv("BERTH_BENCH_BIN");
	const char *wbin = getenv("BERTH_WORKER_BIN");
	unsigned k = 0;
	argv[k++] = (char *)(bin != NULL ? bin : "build/berth-bench");
	argv[k++] = "sched";
	argv[k++] = "--endpoints";
	argv[k++] = t_eps;
	argv[k++] = "--worker-bin";
	argv[k++] = (char *)(wbin != NULL ? wbin : "build/berth-worker");
	for (unsigned i = 0; args[i] != NULL && k < 39; i++)
		argv[k++] = (char *)args[i];
	argv[k] = NULL;
}

/* Runs berth-bench sched with args (NULL-terminated) into log and asserts its exit status
 * (the log printed when it differs). */
static void t_bench(struct integ *f, const char *log, const char *const *args, int want)
{
	char *argv[40];
	t_argv(args, argv);
	char path[CHILD_PATH_BYTES];
	snprintf(path, sizeof(path), "%s/%s", f->c.root, log);
	assert_int_equal(child_run(path, argv, 120000, want), 0);
}

/* The whole log in a static buffer. */
static const char *t_log(struct integ *f, const char *log)
{
	static char buf[16384];
	char path[CHILD_PATH_BYTES];
	snprintf(path, sizeof(path), "%s/%s", f->c.root, log);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void t_absent(struct berth *b, const char *key)
{
	struct berth_result r;
	assert_int_equal(berth_get(b, key, strlen(key), 0, false, &r), 0);
	assert_null(berth_result_kv(&r));
	berth_result_free(&r);
}

/* The entries of dir other than . and .. */
static unsigned t_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

/* SIGINT while the workers place (slowly: one task per transaction, one in flight): the
 * bench stops them, removes its folder (under TMPDIR) and exits 1 saying why. */
static void t_interrupt(struct integ *f)
{
	char tmpd[CHILD_PATH_BYTES], log[CHILD_PATH_BYTES], *argv[40];
	snprintf(tmpd, sizeof(tmpd), "%s/tmpdir", f->c.root);
	snprintf(log, sizeof(log), "%s/interrupt.log", f->c.root);
	assert_int_equal(mkdir(tmpd, 0700), 0);
	t_argv((const char *const[]){"--instances", "100", "--tasks", "20000", "--workers", "1",
				     "--batch", "1", "--max-inflight", "1", "--cluster", "tint",
				     "--timeout", "120", NULL},
	       argv);
	const char *old = getenv("TMPDIR");
	char saved[CHILD_PATH_BYTES];
	snprintf(saved, sizeof(saved), "%s", old != NULL ? old : "");
	setenv("TMPDIR", tmpd, 1);
	struct child ch = {0};
	int rv = child_start(&ch, log, argv);
	if (old != NULL)
		setenv("TMPDIR", saved, 1);
	else
		unsetenv("TMPDIR");
	assert_int_equal(rv, 0);
	uint64_t deadline = cluster_now_ms() + 60000;
	while (t_entries(tmpd) == 0 && cluster_now_ms() < deadline &&
	       child_wait(&ch, 50, NULL) != 0)
		;
	assert_int_equal(t_entries(tmpd), 1); /* the workers' folder: they run */
	int st;
	assert_int_equal(child_stop(&ch, SIGINT, 30000, &st), 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 1 ||
	    !child_log_has(&ch, "interrupted by signal 2"))
		child_dump_log(&ch, 30);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	assert_true(child_log_has(&ch, "interrupted by signal 2"));
	assert_int_equal(t_entries(tmpd), 0);
	assert_int_equal(rmdir(tmpd), 0);
}

static void test_bench_sched_run(void **state)
{
	struct integ *f = *state;
	unsigned leader;
	integ_start(f, 3, NULL, &leader);
	snprintf(t_eps, sizeof(t_eps), "%s,%s,%s", f->c.eps[0], f->c.eps[1], f->c.eps[2]);
	t_bench(f, "run.log",
		(const char *const[]){"--instances", "30", "--tasks", "300", "--workers", "2",
				      "--conflict", "coarse", "--cluster", "tb", "--timeout", "60",
				      NULL},
		0);
	const char *out = t_log(f, "run.log");
	const char *at;
	unsigned long long placed, commits, conflicts, reporting, placements, used, diff;
	assert_non_null(at = strstr(out, "  placed "));
	assert_int_equal(sscanf(at, "  placed %llu of 300", &placed), 1);
	assert_int_equal(placed, 300);
	assert_non_null(at = strstr(out, "  commits "));
	assert_int_equal(sscanf(at,
				"  commits %llu  conflicts %llu  conflict fraction %*f  (workers "
				"reporting %llu of 2, placements %llu)",
				&commits, &conflicts, &reporting, &placements),
			 4);
	/* the workers decide up to 256 tasks alike at once and commit them in as few Place
	 * transactions as the store's 128 operations allow */
	assert_true(commits >= 300 / 64 && commits <= 300);
	assert_int_equal(reporting, 2);
	assert_int_equal(placements, 300);
	assert_non_null(at = strstr(out, "  quality: "));
	assert_int_equal(sscanf(at,
				"  quality: instances used %llu, largest difference between "
				"zones %llu",
				&used, &diff),
			 2);
	/* room for 15 tasks each (300 tasks, 30 instances, half again): at least 20 used */
	assert_true(used >= 20 && used <= 30);
	assert_true(diff <= 30); /* spread over 3 zones first: 100 each when even */
	assert_non_null(strstr(out, "time to place: p50 "));
	assert_non_null(strstr(out, "from the workers' start: "));
	assert_non_null(strstr(out, "  end to end (from the first task write, "));
	struct berth *b = cluster_client(&f->c, leader, 5000);
	assert_non_null(b);
	t_absent(b, "/berth/c/tb/instances/i000000");
	t_absent(b, "/berth/c/tb/tasks/t0000000");
	t_absent(b, "/berth/c/tb/alloc/i000000/cpu");
	berth_close(b);

	static const struct {
		const char *args[12];
		const char *msg;
	} bad[] = {
		{{"--conflict", "medium", "--cluster", "tbad", NULL}, "--conflict: fine or coarse"},
		{{"--tasks", "0", "--cluster", "tbad", NULL}, "--tasks: expected an integer"},
		{{"--workers", "65", "--cluster", "tbad", NULL}, "--workers: expected an integer"},
		{{"--batch", "0", "--cluster", "tbad", NULL}, "--batch: expected an integer"},
		{{"--max-inflight", "4097", "--cluster", "tbad", NULL},
		 "--max-inflight: expected an integer"},
		{{"--instances", "2", "--tasks", "100", "--slots", "1", "--cluster", "tbad", NULL},
		 "cannot hold 100 tasks"},
		{{"--strategy", "binpack:disk", "--cluster", "tbad", NULL}, "--strategy"},
		{{"--cluster", "no/slash", NULL}, "--cluster"},
		{{"--worker-bin", "/nonexistent/berth-worker", "--cluster", "tbad", NULL},
		 "is not an executable"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char log[32];
		snprintf(log, sizeof(log), "bad%zu.log", i);
		t_bench(f, log, bad[i].args, 2);
		if (strstr(t_log(f, log), bad[i].msg) == NULL)
			fail_msg("case %zu: no \"%s\" in: %s", i, bad[i].msg, t_log(f, log));
	}
	b = cluster_client(&f->c, leader, 5000);
	assert_non_null(b);
	t_absent(b, "/berth/c/tbad/instances/i000000");
	berth_close(b);
	t_interrupt(f);
	integ_finish(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bench_sched_run, integ_setup, integ_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
