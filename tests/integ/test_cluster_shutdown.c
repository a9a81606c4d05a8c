/* tests/integ/test_cluster_shutdown.c: SIGTERM to every member: each exits with status 0
 * within 10 s, its state database flushed and its unsynced marker removed; restarted on
 * the same data directories, the cluster elects a leader and serves everything written
 * before. And a member killed while the machine "restarts" (its marker names another
 * boot): it discards its state database and rebuilds it from its raft snapshot and log
 * (store/kvmark.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/integ.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SD_KEYS 50
#define SD_EXIT_MS 10000
#define SD_REBUILD_KEYS 300

static bool sd_exists(const struct cluster *c, unsigned i, const char *name)
{
	char path[CLUSTER_PATH_BYTES + 64];
	snprintf(path, sizeof(path), "%s/state/%s", c->m[i].dir, name);
	return access(path, F_OK) == 0;
}

/* The member's log holds `what`. */
static bool sd_log_has(const struct cluster *c, unsigned i, const char *what)
{
	static char buf[1 << 20];
	int fd = open(c->m[i].log, O_RDONLY);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return strstr(buf, what) != NULL;
}

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
	/* A clean close flushed the database and removed the marker. */
	for (unsigned i = 0; i < 3; i++) {
		assert_true(sd_exists(c, i, "data.mdb"));
		assert_false(sd_exists(c, i, "unsynced"));
	}

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

static void test_cluster_shutdown_machine_restart(void **state)
{
	struct integ *f = *state;
	struct cluster *c = &f->c;
	/* Small snapshots: the rebuild goes through a raft snapshot and the log after it. */
	const char *const extra[] = {"--snapshot-threshold", "64", "--snapshot-trailing", "16",
				     NULL};
	unsigned leader;
	char key[32], val[32];
	integ_start(f, 3, extra, &leader);
	struct berth *b = cluster_client(c, leader, 5000);
	assert_non_null(b);
	for (unsigned i = 0; i < SD_REBUILD_KEYS; i++) {
		snprintf(key, sizeof(key), "mr/%03u", i);
		snprintf(val, sizeof(val), "v%u", i);
		integ_put(b, key, val);
	}
	unsigned v = (leader + 1) % 3;
	assert_int_equal(cluster_wait_value(c, v, "mr/299", "v299", 5000), 0);
	assert_true(cluster_snapshot_files(c, v) > 0);
	/* Running: the marker is there. The process dies, and the marker now names a boot
	 * that is not this one: as if the machine had crashed and restarted. */
	assert_true(sd_exists(c, v, "unsynced"));
	assert_int_equal(cluster_crash_machine(c, v), 0);
	/* Writes go on while it is down. */
	integ_put(b, "mr/while-down", "yes");
	assert_int_equal(cluster_restart(c, v), 0);
	assert_true(sd_log_has(c, v, "discarded; rebuilding it from the raft snapshot and log"));
	for (unsigned i = 0; i < SD_REBUILD_KEYS; i += 37) {
		snprintf(key, sizeof(key), "mr/%03u", i);
		snprintf(val, sizeof(val), "v%u", i);
		assert_int_equal(cluster_wait_value(c, v, key, val, 10000), 0);
	}
	assert_int_equal(cluster_wait_value(c, v, "mr/299", "v299", 10000), 0);
	assert_int_equal(cluster_wait_value(c, v, "mr/while-down", "yes", 10000), 0);
	/* The rebuilt member's revision is the cluster's. */
	integ_put(b, "mr/after", "1");
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(cluster_wait_value(c, i, "mr/after", "1", 10000), 0);
	struct cluster_status a, r;
	assert_int_equal(cluster_status(c, leader, &a), 0);
	assert_int_equal(cluster_status(c, v, &r), 0);
	assert_int_equal(a.rev, r.rev);
	/* A marker from this boot (the process died, the machine did not) keeps the data. */
	cluster_kill(c, v);
	assert_true(sd_exists(c, v, "unsynced"));
	assert_int_equal(cluster_restart(c, v), 0);
	assert_int_equal(cluster_wait_value(c, v, "mr/after", "1", 10000), 0);
	berth_close(b);
	integ_finish(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cluster_shutdown_sigterm_and_restart,
						integ_setup, integ_teardown),
		cmocka_unit_test_setup_teardown(test_cluster_shutdown_machine_restart, integ_setup,
						integ_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
