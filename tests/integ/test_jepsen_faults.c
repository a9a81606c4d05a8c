/* tests/integ/test_jepsen_faults.c: the nemesis's membership, disk, ring and cycle faults
 * and its schedule on a real cluster of three members and two spares in network
 * namespaces: grow to five and shrink back, a member removed, wiped and added back, a
 * full tmpfs, the majority ring, leader kill cycles; names and bad arguments.
 *
 * Needs root with iproute2 and iptables (tools/install-deps); fails, saying so, without. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/jnet_fix.h"

#include "client/net.h"

#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

/* How many voters the leader lists. */
static unsigned voters(struct jfix *f)
{
	struct berth *b = nodes_client(&f->nodes, 5000);
	assert_non_null(b);
	struct berth_result res = {0};
	assert_int_equal(berth_member_list(b, false, &res), 0);
	unsigned n = 0;
	for (uint32_t k = 0; k < res.resp.status.nmembers; k++)
		n += res.resp.status.members[k].role == WIRE_VOTER;
	berth_result_free(&res);
	berth_close(b);
	return n;
}

static unsigned members(struct jfix *f)
{
	unsigned n = 0;
	for (unsigned i = 0; i < f->nodes.n; i++)
		n += f->nodes.node[i].member;
	return n;
}

static void check_grow_readd(struct jfix *f)
{
	assert_int_equal(jfix_put(f, NULL, 0, 5000, "a", "1"), 0);
	assert_int_equal(nemesis_start(&f->nm, NEMESIS_MEMBER_GROW), 0);
	json_t *v = jfix_last_event(f, "start-member");
	assert_int_equal(json_array_size(json_object_get(v, "nodes")), 2);
	assert_int_equal(members(f), 5);
	assert_int_equal(voters(f), 5);
	jfix_wait_value(f, 4, "a", "1");
	assert_int_equal(nemesis_heal(&f->nm, NEMESIS_F_MEMBER), 0);
	jfix_last_event(f, "stop-member");
	assert_int_equal(voters(f), 3);
	assert_false(nodes_alive(&f->nodes, 3));
	assert_false(nodes_alive(&f->nodes, 4));
	assert_int_equal(nemesis_start(&f->nm, NEMESIS_MEMBER_GROW), 0);
	assert_int_equal(nemesis_start(&f->nm, NEMESIS_MEMBER_READD), BERTH_EBUSY);
	assert_int_equal(nemesis_heal_all(&f->nm), 0);
	jfix_note_pids(f);

	assert_int_equal(nemesis_start(&f->nm, NEMESIS_MEMBER_READD), 0);
	unsigned k = jfix_node(
		json_array_get(json_object_get(jfix_last_event(f, "start-member"), "nodes"), 0));
	assert_false(f->nodes.node[k].member);
	assert_false(nodes_alive(&f->nodes, k));
	assert_int_equal(voters(f), 2);
	assert_int_equal(jfix_put(f, NULL, 0, 5000, "b", "2"), 0);
	assert_int_equal(nemesis_heal(&f->nm, NEMESIS_F_MEMBER), 0);
	assert_true(f->nodes.node[k].member);
	assert_int_equal(voters(f), 3);
	jfix_note_pids(f);
	jfix_wait_value(f, k, "b", "2");
}

static void check_disk(struct jfix *f)
{
	assert_int_equal(nemesis_start(&f->nm, NEMESIS_DISK_FULL), 0);
	json_t *v = jfix_last_event(f, "start-disk");
	unsigned k = jfix_node(json_array_get(json_object_get(v, "nodes"), 0));
	assert_true(json_integer_value(json_object_get(v, "balloon_bytes")) > 0);
	struct statvfs fs;
	assert_int_equal(statvfs(f->nodes.node[k].data, &fs), 0);
	assert_int_equal(fs.f_bavail, 0);
	/* The other two commit; the full one stops when it cannot apply (berth-store exits
	 * on a local I/O failure for its supervisor to restart it). */
	assert_int_equal(jfix_put(f, NULL, 0, 10000, "d", "full"), 0);
	uint64_t deadline = net_now_ms() + JNET_WAIT_MS;
	while (nodes_alive(&f->nodes, k) && net_now_ms() < deadline)
		net_sleep_ms(20);
	assert_false(nodes_alive(&f->nodes, k));
	assert_int_equal(nemesis_heal(&f->nm, NEMESIS_F_DISK), 0);
	v = jfix_last_event(f, "stop-disk");
	assert_int_equal(json_array_size(json_object_get(v, "restarted")), 1);
	assert_int_equal(statvfs(f->nodes.node[k].data, &fs), 0);
	assert_true(fs.f_bavail > 0);
	assert_true(nodes_alive(&f->nodes, k));
	jfix_note_pids(f);
	jfix_wait_value(f, k, "d", "full");
}

static void check_ring_cycle(struct jfix *f)
{
	assert_int_equal(nemesis_start(&f->nm, NEMESIS_PARTITION_RING), 0);
	json_t *v = jfix_last_event(f, "start-partition");
	assert_int_equal(json_array_size(json_object_get(v, "drops")), 3); /* one way each */
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(jfix_rules(f, i), 1);
	assert_int_equal(nemesis_heal(&f->nm, NEMESIS_F_PARTITION), 0);

	size_t before = json_array_size(f->events);
	assert_int_equal(nemesis_start(&f->nm, NEMESIS_KILL_LEADER_CYCLE), 0);
	assert_false(nemesis_active(&f->nm, NEMESIS_F_KILL));
	assert_int_equal(json_array_size(f->events), before + 4); /* two kills, two restarts */
	jfix_last_event(f, "stop-kill");
	for (unsigned i = 0; i < 3; i++)
		assert_true(nodes_alive(&f->nodes, i));
	jfix_note_pids(f);
	assert_int_equal(jfix_put(f, NULL, 0, 5000, "c", "cycled"), 0);

	/* A member down with no fault holding it (a crash): heal_all revives it. */
	assert_int_equal(nodes_kill(&f->nodes, 1), 0);
	assert_int_equal(nemesis_heal_all(&f->nm), 0);
	v = jfix_last_event(f, "revive");
	assert_int_equal(jfix_node(json_array_get(json_object_get(v, "nodes"), 0)), 1);
	assert_true(nodes_alive(&f->nodes, 1));
	jfix_note_pids(f);
}

static void check_schedule(struct jfix *f)
{
	struct nemesis_schedule sc;
	enum nemesis_kind kinds[] = {NEMESIS_PAUSE_ONE}, bad[] = {NEMESIS_KIND_COUNT};
	assert_int_equal(nemesis_schedule_init(&sc, kinds, 0, 100, 0, 0), BERTH_EBADREQ);
	assert_int_equal(nemesis_schedule_init(&sc, bad, 1, 100, 0, 0), BERTH_EBADREQ);
	assert_int_equal(nemesis_schedule_init(&sc, kinds, 1, 0, 0, 0), BERTH_EBADREQ);
	uint64_t t = 1000;
	assert_int_equal(nemesis_schedule_init(&sc, kinds, 1, 300, 200, t), 0);
	assert_int_equal(nemesis_schedule_step(&f->nm, &sc, t), 200); /* calm first */
	assert_int_equal(nemesis_schedule_step(&f->nm, &sc, t + 200), 300);
	assert_true(nemesis_active(&f->nm, NEMESIS_F_PAUSE));
	jfix_last_event(f, "start-pause");
	assert_int_equal(nemesis_schedule_step(&f->nm, &sc, t + 400), 100);
	assert_int_equal(nemesis_schedule_step(&f->nm, &sc, t + 500), 200);
	assert_false(nemesis_active(&f->nm, NEMESIS_F_PAUSE));
	jfix_last_event(f, "stop-pause");
	assert_int_equal(sc.started, 1);
	assert_int_equal(sc.failed, 0);
}

static void check_names(void)
{
	for (unsigned k = 0; k < NEMESIS_KIND_COUNT; k++) {
		enum nemesis_kind back;
		assert_int_equal(nemesis_kind_parse(nemesis_kind_name((enum nemesis_kind)k), &back),
				 0);
		assert_int_equal(back, k);
		assert_true(nemesis_kind_family((enum nemesis_kind)k) < NEMESIS_FAMILY_COUNT);
	}
	enum nemesis_kind k;
	assert_int_equal(nemesis_kind_parse("partition", &k), BERTH_EBADREQ);
	assert_int_equal(nemesis_kind_parse(NULL, &k), BERTH_EBADREQ);
	assert_string_equal(nemesis_kind_name(NEMESIS_KIND_COUNT), "?");
}

static void test_jepsen_faults(void **state)
{
	struct jfix *f = *state;
	check_names();
	jfix_start(f, 5, 3, 64);
	f->nm.cycles = 2;
	jfix_note_pids(f);
	jfix_leader(f);
	struct nemesis bad;
	struct nemesis_options o = {.nodes = &f->nodes, .loss_p = 1.5};
	assert_int_equal(nemesis_init(&bad, &o), BERTH_EBADREQ);
	o.loss_p = 0.5;
	o.cycles = 101;
	assert_int_equal(nemesis_init(&bad, &o), BERTH_EBADREQ);
	assert_int_equal(nemesis_heal(&f->nm, NEMESIS_FAMILY_COUNT), BERTH_EBADREQ);
	assert_int_equal(nemesis_start(&f->nm, NEMESIS_KIND_COUNT), BERTH_EBADREQ);
	/* No workload hooks: no worker or agent to kill. */
	assert_int_equal(nemesis_start(&f->nm, NEMESIS_KILL_AGENT), BERTH_EBADREQ);
	assert_false(nemesis_active(&f->nm, NEMESIS_F_HELPER));

	check_grow_readd(f);
	check_disk(f);
	check_ring_cycle(f);
	check_schedule(f);

	char id[NETNS_ID_MAX + 1], report[1024];
	memcpy(id, f->id, sizeof id);
	assert_int_equal(nodes_close(&f->nodes, 5000), 0);
	f->nodes_up = false;
	assert_int_equal(netns_destroy(&f->net), 0);
	if (netns_leftovers(id, report, sizeof report) != 0)
		fail_msg("after teardown, run %s left: %s", id, report);
	f->passed = true;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_jepsen_faults, jfix_setup, jfix_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
