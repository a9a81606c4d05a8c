/* tests/integ/test_jepsen_net.c: the harness's nodes in network namespaces and its
 * nemesis on a real three-member cluster: writes from the host, the leader partitioned
 * away (the majority elects another and writes, the minority cannot), kill and restart,
 * pause and resume, packet loss rules, a faked clock jump; after teardown nothing of the
 * run remains; a leaked run (its process killed) is removed by netns_cleanup_all.
 *
 * Needs root with iproute2 and iptables (tools/install-deps). Without the right to make a
 * namespace it fails, saying so: it is never skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/jnet_fix.h"

#include "client/net.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The leader cut off: the majority elects another and writes, the minority cannot. */
static void check_partition(struct jfix *f)
{
	unsigned old = jfix_leader(f);
	assert_int_equal(nemesis_start(&f->nm, NEMESIS_PARTITION_LEADER), 0);
	assert_int_equal(nemesis_start(&f->nm, NEMESIS_LOSS), BERTH_EBUSY);
	json_t *v = jfix_last_event(f, "start-partition");
	assert_string_equal(json_string_value(json_object_get(v, "kind")), "partition-leader");
	assert_int_equal(json_array_size(json_array_get(json_object_get(v, "groups"), 1)), 1);
	assert_int_equal(json_array_size(json_object_get(v, "drops")), 4);
	assert_int_equal(jfix_rules(f, old), 2);
	assert_int_equal(jfix_rules(f, (old + 1) % 3), 1);
	unsigned now = old;
	uint64_t deadline = net_now_ms() + JNET_WAIT_MS;
	while (now == old && net_now_ms() < deadline)
		now = jfix_leader(f);
	assert_int_not_equal(now, old);
	const char *major[2], *minor[1] = {f->nodes.node[old].client};
	for (unsigned i = 0, k = 0; i < 3; i++)
		if (i != old)
			major[k++] = f->nodes.node[i].client;
	assert_int_equal(jfix_put(f, major, 2, 5000, "p/major", "1"), 0);
	assert_int_not_equal(jfix_put(f, minor, 1, 1500, "p/minor", "1"), 0);
	assert_int_equal(nemesis_heal(&f->nm, NEMESIS_F_PARTITION), 0);
	jfix_last_event(f, "stop-partition");
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(jfix_rules(f, i), 0);
	jfix_wait_value(f, old, "p/major", "1");
}

/* SIGKILL and restart one node; SIGSTOP the leader and resume it. */
static void check_kill_pause(struct jfix *f)
{
	assert_int_equal(nemesis_start(&f->nm, NEMESIS_KILL_ONE), 0);
	json_t *v = jfix_last_event(f, "start-kill");
	unsigned k = jfix_node(json_array_get(json_object_get(v, "nodes"), 0));
	assert_false(nodes_alive(&f->nodes, k));
	assert_int_equal(jfix_put(f, NULL, 0, 5000, "k/1", "after-kill"), 0);
	assert_int_equal(nemesis_heal(&f->nm, NEMESIS_F_KILL), 0);
	v = jfix_last_event(f, "stop-kill");
	assert_int_equal(json_array_size(json_object_get(v, "restarted")), 1);
	assert_true(nodes_alive(&f->nodes, k));
	jfix_note_pids(f);
	jfix_wait_value(f, k, "k/1", "after-kill");

	unsigned old = jfix_leader(f);
	assert_int_equal(nemesis_start(&f->nm, NEMESIS_PAUSE_LEADER), 0);
	assert_true(f->nodes.node[old].paused);
	unsigned now = jfix_leader(f); /* the paused one is not asked */
	assert_int_not_equal(now, old);
	assert_int_equal(jfix_put(f, (const char *[]){f->nodes.node[now].client}, 1, 5000, "k/2",
				  "after-pause"),
			 0);
	assert_int_equal(nemesis_heal(&f->nm, NEMESIS_F_PAUSE), 0);
	assert_false(f->nodes.node[old].paused);
	jfix_wait_value(f, old, "k/2", "after-pause");
}

/* Loss rules in every member's chain, removed by the heal; writes still go through. */
static void check_loss(struct jfix *f)
{
	assert_int_equal(nemesis_start(&f->nm, NEMESIS_LOSS), 0);
	json_t *v = jfix_last_event(f, "start-loss");
	assert_true(json_real_value(json_object_get(v, "p")) == 0.1);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(jfix_rules(f, i), 1);
	assert_int_equal(jfix_put(f, NULL, 0, 10000, "l/1", "lossy"), 0);
	assert_int_equal(nemesis_heal_all(&f->nm), 0);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(jfix_rules(f, i), 0);
	assert_int_equal(netns_loss(&f->net, 0, 0, 0), BERTH_EBADREQ);
	assert_int_equal(netns_drop(&f->net, 0, 0), BERTH_EBADREQ);
	assert_int_equal(netns_drop(&f->net, 0, 7), BERTH_EBADREQ);
}

/* The day of the month of a log line's timestamp ("2026-11-25T..."). */
static int log_day(const char *line)
{
	return atoi(line + 8);
}

/* A node's wall clock jumped two days while it runs: its log says so at SIGTERM. */
static void check_clock(struct jfix *f)
{
	assert_int_equal(nemesis_start(&f->nm, NEMESIS_CLOCK_JUMP), 0);
	json_t *offs = json_object_get(jfix_last_event(f, "start-clock"), "offsets_ms");
	assert_int_equal(json_object_size(offs), 1);
	json_t *name = json_string(json_object_iter_key(json_object_iter(offs)));
	unsigned j = jfix_node(name);
	json_decref(name);
	int64_t off = json_integer_value(json_object_iter_value(json_object_iter(offs)));
	assert_true(off == 2LL * 86400000 || off == -2LL * 86400000);
	assert_int_equal(nodes_set_clock(&f->nodes, j, 11LL * 366 * 86400000), BERTH_EBADREQ);
	int st = -1;
	assert_int_equal(nodes_stop(&f->nodes, j, 5000, &st), 0);
	/* Its last line ("stopped") carries the faked date. */
	FILE *lf = fopen(f->nodes.node[j].log, "r");
	assert_non_null(lf);
	char line[512], last[512] = "";
	while (fgets(line, sizeof line, lf) != NULL)
		if (strstr(line, "stopped") != NULL)
			snprintf(last, sizeof last, "%s", line);
	fclose(lf);
	time_t want = time(NULL) + (time_t)(off / 1000);
	struct tm tm;
	gmtime_r(&want, &tm);
	assert_true(last[0] != '\0');
	if (log_day(last) != tm.tm_mday)
		fail_msg("n%u's clock at %+lld ms, but it logged: %s", j + 1, (long long)off, last);
	assert_int_equal(nemesis_heal(&f->nm, NEMESIS_F_CLOCK), 0);
	assert_int_equal(f->nodes.node[j].clock_ms, 0);
	assert_int_equal(nodes_start(&f->nodes, j), 0);
	jfix_note_pids(f);
}

static void test_jepsen_net_cluster(void **state)
{
	struct jfix *f = *state;
	struct netns bad;
	assert_int_equal(netns_create(&bad, "Bad-Id", 3), BERTH_EBADREQ);
	assert_int_equal(netns_create(&bad, "toolong1", 3), BERTH_EBADREQ);
	assert_int_equal(netns_create(&bad, "ok", 0), BERTH_EBADREQ);
	assert_int_equal(netns_create(&bad, "ok", NETNS_MAX_NODES + 1), BERTH_EBADREQ);
	jfix_start(f, 3, 3, 0);
	assert_int_equal(netns_create(&bad, f->id, 3), BERTH_EEXISTS); /* a live run's id */
	jfix_note_pids(f);
	jfix_leader(f);
	assert_int_equal(jfix_put(f, NULL, 0, 5000, "a", "1"), 0);
	jfix_wait_value(f, 2, "a", "1");
	check_partition(f);
	check_kill_pause(f);
	check_loss(f);
	check_clock(f);
	assert_int_equal(jfix_put(f, NULL, 0, 5000, "z", "end"), 0);

	char id[NETNS_ID_MAX + 1], report[1024];
	memcpy(id, f->id, sizeof id);
	assert_true(netns_leftovers(id, report, sizeof report) > 0);
	assert_int_equal(nodes_close(&f->nodes, 5000), 0);
	f->nodes_up = false;
	assert_int_equal(netns_destroy(&f->net), 0);
	unsigned left = netns_leftovers(id, report, sizeof report);
	if (left != 0)
		fail_msg("after teardown, run %s left: %s", id, report);
	for (unsigned i = 0; i < f->npids; i++)
		assert_true(kill(f->pids[i], 0) != 0 && errno == ESRCH);
}

/* A run whose process dies without cleaning up (SIGKILL): a namespace with a process in
 * it, links, the host rule, a tmpfs, the lock file. netns_cleanup_all removes it all. */
static void test_jepsen_net_leaked(void **state)
{
	struct jfix *f = *state;
	const char *tmp = getenv("TMPDIR");
	snprintf(f->dir, sizeof f->dir, "%s/berth-jnet-XXXXXX", tmp != NULL ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	char id[NETNS_ID_MAX + 1], mnt[300], report[1024] = "";
	jfix_id(id, 'l');
	snprintf(mnt, sizeof mnt, "%s/n1", f->dir);
	assert_int_equal(mkdir(mnt, 0700), 0);
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct netns net;
		if (netns_create(&net, id, 2) != 0) {
			fprintf(stderr, "leaked run: %s\n", net.errmsg);
			_exit(1);
		}
		if (mount(net.node[0].ns, mnt, "tmpfs", 0, "size=1m") != 0)
			_exit(2);
		pid_t sleeper = fork();
		if (sleeper == 0) {
			execlp("ip", "ip", "netns", "exec", net.node[0].ns, "sleep", "60",
			       (char *)NULL);
			_exit(127);
		}
		if (write(p[1], &sleeper, sizeof sleeper) != sizeof sleeper)
			_exit(3);
		raise(SIGKILL);
	}
	close(p[1]);
	pid_t sleeper = 0;
	assert_int_equal(read(p[0], &sleeper, sizeof sleeper), (ssize_t)sizeof sleeper);
	close(p[0]);
	int st;
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFSIGNALED(st));
	/* The sleeper enters its namespace when `ip netns exec` runs: wait for that. */
	uint64_t deadline = net_now_ms() + JNET_WAIT_MS;
	while (strstr(report, "pid ") == NULL && net_now_ms() < deadline) {
		netns_leftovers(id, report, sizeof report);
		net_sleep_ms(20);
	}
	if (strstr(report, "pid ") == NULL || strstr(report, "mount ") == NULL ||
	    strstr(report, "rule FORWARD") == NULL || strstr(report, "lock ") == NULL)
		fail_msg("the leaked run is not all there: %s", report);
	struct netns again;
	assert_int_equal(netns_create(&again, id, 2), BERTH_EEXISTS);
	unsigned removed = 0;
	char why[1024];
	if (netns_cleanup_all(&removed, why, sizeof why) != 0)
		fail_msg("cleanup: %s", why);
	assert_true(removed >= 1);
	unsigned left = netns_leftovers(id, report, sizeof report);
	if (left != 0)
		fail_msg("after cleanup, run %s left: %s", id, report);
	/* The sleeper was killed; it is gone or a zombie no one has reaped yet. */
	char stat[64], buf[256] = "";
	snprintf(stat, sizeof stat, "/proc/%d/stat", (int)sleeper);
	FILE *sf = fopen(stat, "r");
	if (sf != NULL) {
		if (fgets(buf, sizeof buf, sf) == NULL)
			buf[0] = '\0';
		fclose(sf);
		const char *rp = strrchr(buf, ')');
		assert_true(rp != NULL && rp[2] == 'Z');
	}
	rmdir(mnt);
	f->passed = true;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_jepsen_net_cluster, jfix_setup, jfix_teardown),
		cmocka_unit_test_setup_teardown(test_jepsen_net_leaked, jfix_setup, jfix_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
