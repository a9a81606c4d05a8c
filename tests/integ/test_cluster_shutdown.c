/* tests/integ/test_cluster_shutdown.c: SIGTERM to every member: each exits with status 0
 * within 10 s; restarted on the same data directories, the cluster elects a leader and
 * serves everything written before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/integ.h"

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#define SD_KEYS 50
#define SD_EXIT_MS 10000

static void test_cluster_shutdown_sigterm_and_restart(void **state)
{
	struct integ *f = *state;
	struct cluster *c = &f->c;
	unsigned leader;
	char key[32], val[32];
	uint64_t rev = 0;
	integ_start(f, 3, NULL, &leader);

	struct berth *b = cluster_client(c, 0, 5000);
	assert_non_null(b);
	for (unsigned i = 0; i < SD_KEYS; i++) {
		snprintf(key, sizeof(key), "sd/%02u", i);
		snprintf(val, sizeof(val), "v%u", i * i);
		rev = integ_put(b, key, val);
	}
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(cluster_wait_value(c, i, "sd/49", "v2401", 5000), 0);
	berth_close(b);

	/* SIGTERM to all three at once; each must exit 0 by itself. */
	uint64_t t0 = cluster_now_ms();
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(kill(c->m[i].pid, SIGTERM), 0);
	for (unsigned i = 0; i < 3; i++) {
		uint64_t now = cluster_now_ms();
		int st = -1;
		uint32_t left = now - t0 < SD_EXIT_MS ? (uint32_t)(SD_EXIT_MS - (now - t0)) : 1;
		/* One SIGTERM only: a second one after the member has closed its signal
		 * handles takes the default action and kills it. */
		assert_int_equal(cluster_wait_exit(c, i, left, &st), 0);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	printf("shutdown: all three members exited with status 0 within %llu ms of SIGTERM\n",
	       (unsigned long long)(cluster_now_ms() - t0));

	/* Back on the same data. */
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(cluster_restart(c, i), 0);
	assert_int_equal(cluster_wait_leader(c, INTEG_LEADER_WAIT_MS, &leader, NULL), 0);
	b = cluster_client(c, (leader + 1) % 3, 5000);
	assert_non_null(b);
	for (unsigned i = 0; i < SD_KEYS; i++) {
		snprintf(key, sizeof(key), "sd/%02u", i);
		snprintf(val, sizeof(val), "v%u", i * i);
		assert_int_equal(integ_expect(b, key, val, false), leader + 1);
	}
	integ_expect(b, "sd/50", NULL, false);
	/* The revision carried over, and the next write follows it. */
	assert_true(integ_put(b, "sd/after", "restart") > rev);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(cluster_wait_value(c, i, "sd/00", "v0", 5000), 0);
	berth_close(b);
	integ_finish(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cluster_shutdown_sigterm_and_restart,
						integ_setup, integ_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
