/* tests/integ/test_agent.c: berth-agent in sim mode on a real three-member cluster: it
 * registers its instances (records, zones round-robin, alive keys on its lease); a task
 * placed by hand with the Place transaction goes PENDING -> RUNNING -> STOPPED with its
 * resources released in the stopping transaction (counters, ports, placed index, group
 * counter); a stop request stops a running task; SIGKILL makes the alive keys go after the
 * lease TTL, and the restarted agent stops the task it no longer runs ("agent restarted");
 * a conflict is resolved by reading the task back; SIGTERM reports running tasks STOPPED and revokes the lease; a lease lost under the agent
 * is granted again and the instances registered again, a DRAINING one kept DRAINING; 520
 * tasks, more than a listing page, all found, started and stopped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/agent_fix.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#define TA_TTL "2"

static void ta_check_instance(struct agent_fix *f, const char *iid, const char *zone)
{
	char ik[MODEL_KEY_MAX], ak[MODEL_KEY_MAX], err[256];
	struct berth_result r = {0}, ra = {0};
	struct model_instance in = {0};
	model_key_instance(ik, f->cluster, iid);
	model_key_alive(ak, f->cluster, iid);
	assert_int_equal(berth_get(f->b, ik, strlen(ik), 0, false, &r), 0);
	assert_non_null(berth_result_kv(&r));
	const struct reply_kv *kv = berth_result_kv(&r);
	assert_int_equal(model_instance_decode(kv->value.p, kv->value.n, &in, err, sizeof(err)), 0);
	assert_string_equal(in.id, iid);
	assert_string_equal(in.cluster, f->cluster);
	assert_int_equal(in.cpu, 2048);
	assert_int_equal(in.memory, 4096);
	assert_int_equal(in.nports, 1);
	assert_int_equal(in.ports[0].from, 8000);
	assert_int_equal(in.ports[0].to, 8009);
	assert_int_equal(in.status, MODEL_INSTANCE_ACTIVE);
	assert_string_equal(model_instance_attr(&in, "zone"), zone);
	assert_string_equal(model_instance_attr(&in, "instance-type"), "sim.large");
	assert_int_equal(berth_get(f->b, ak, strlen(ak), 0, false, &ra), 0);
	assert_non_null(berth_result_kv(&ra));
	assert_int_not_equal(in.lease, 0);
	assert_int_equal(berth_result_kv(&ra)->lease, in.lease);
	model_instance_free(&in);
	berth_result_free(&r);
	berth_result_free(&ra);
}

static const char *const ta_args[] = {"--instances", "3",
				      "--id-prefix", "sim",
				      "--zones",     "a,b",
				      "--cpu",       "2048",
				      "--memory",    "4096",
				      "--ports",     "8000-8009",
				      "--attribute", "instance-type=sim.large",
				      "--lease-ttl", TA_TTL,
				      "--run-ms",    "0",
				      NULL};

static void test_agent_sim_lifecycle(void **state)
{
	struct agent_fix *f = *state;
	struct model_task t = {0};
	char a[MODEL_TASK_ID_LEN + 1], b[MODEL_TASK_ID_LEN + 1], c[MODEL_TASK_ID_LEN + 1],
		d[MODEL_TASK_ID_LEN + 1];
	char key[MODEL_KEY_MAX];
	const uint16_t pa[] = {8001, 8002}, pb[] = {8005};
	agent_fix_cluster(f);
	agent_fix_start(f, ta_args);
	agent_fix_wait_alive(f, 3, AGENT_FIX_WAIT_MS);
	ta_check_instance(f, "sim-0", "a");
	ta_check_instance(f, "sim-1", "b");
	ta_check_instance(f, "sim-2", "a");

	/* Placed by hand: RUNNING, holding what Place took. */
	agent_fix_place(f, "sim-1", "web", 1, 512, 256, pa, 2, a);
	agent_fix_wait_status(f, a, MODEL_TASK_RUNNING, AGENT_FIX_WAIT_MS, &t);
	assert_string_equal(t.instance, "sim-1");
	model_key_alloc_cpu(key, f->cluster, "sim-1");
	assert_int_equal(agent_fix_int(f, key), 512);
	model_key_alloc_port(key, f->cluster, "sim-1", 8002);
	assert_true(agent_fix_exists(f, key));
	/* A stop request: STOPPED with its reason, everything released in that transaction. */
	agent_fix_stop_request(f, a, "test: scale down");
	agent_fix_wait_status(f, a, MODEL_TASK_STOPPED, AGENT_FIX_WAIT_MS, &t);
	assert_string_equal(t.stop_reason, "test: scale down");
	assert_int_equal(t.desired_status, MODEL_TASK_STOPPED);
	agent_fix_released(f, "sim-1", "family:web");

	/* SIGKILL: the alive keys go after the lease TTL; the records and the task stay. */
	agent_fix_place(f, "sim-2", "web", 1, 256, 128, pb, 1, b);
	agent_fix_wait_status(f, b, MODEL_TASK_RUNNING, AGENT_FIX_WAIT_MS, &t);
	assert_int_equal(child_stop(&f->agent, SIGKILL, 5000, NULL), 0);
	uint64_t gone = agent_fix_wait_alive(f, 0, AGENT_FIX_WAIT_MS);
	printf("alive keys gone %llu ms after SIGKILL (lease TTL %s s)\n", (unsigned long long)gone,
	       TA_TTL);
	assert_true(gone >= 500);
	model_key_prefix(key, MODEL_KEY_INSTANCE, f->cluster, NULL);
	assert_int_equal(agent_fix_count(f, key), 3);
	agent_fix_task(f, b, &t);
	assert_int_equal(t.last_status, MODEL_TASK_RUNNING);

	/* Restarted, the agent stops the task it does not run, and registers again. */
	agent_fix_start(f, ta_args);
	agent_fix_wait_status(f, b, MODEL_TASK_STOPPED, AGENT_FIX_WAIT_MS, &t);
	assert_string_equal(t.stop_reason, "agent restarted");
	assert_false(t.has_exit_code);
	agent_fix_released(f, "sim-2", "family:web");
	agent_fix_wait_alive(f, 3, AGENT_FIX_WAIT_MS);

	/* A conflict: two stop requests while the agent is stopped (SIGSTOP). It acts on the
	 * first, its compare fails on the second (the failure branch reads the task back), and
	 * it stops the task as the second says. */
	agent_fix_place(f, "sim-0", "web", 1, 128, 128, NULL, 0, d);
	agent_fix_wait_status(f, d, MODEL_TASK_RUNNING, AGENT_FIX_WAIT_MS, &t);
	assert_int_equal(kill(f->agent.pid, SIGSTOP), 0);
	agent_fix_stop_request(f, d, "test: first");
	agent_fix_stop_request(f, d, "test: second");
	assert_int_equal(kill(f->agent.pid, SIGCONT), 0);
	agent_fix_wait_status(f, d, MODEL_TASK_STOPPED, AGENT_FIX_WAIT_MS, &t);
	assert_string_equal(t.stop_reason, "test: second");
	agent_fix_released(f, "sim-0", "family:web");

	/* SIGTERM: the running task is reported STOPPED, the lease revoked, exit status 0. */
	agent_fix_place(f, "sim-0", "api", 2, 100, 100, NULL, 0, c);
	agent_fix_wait_status(f, c, MODEL_TASK_RUNNING, AGENT_FIX_WAIT_MS, &t);
	agent_fix_stop(f, SIGTERM, AGENT_FIX_WAIT_MS);
	agent_fix_task(f, c, &t);
	assert_int_equal(t.last_status, MODEL_TASK_STOPPED);
	assert_string_equal(t.stop_reason, "agent stopped");
	agent_fix_released(f, "sim-0", "family:api");
	model_key_prefix(key, MODEL_KEY_ALIVE, f->cluster, NULL);
	assert_int_equal(agent_fix_count(f, key), 0);
	/* The second process: it started two runs, stopped three tasks, met one conflict. */
	assert_true(child_log_has(&f->agent, "counters (exit): instances=3 running=0 started=2 "
					     "stopped=3 failed=0 conflicts=1 retries=0"));
	model_task_free(&t);
	agent_fix_finish(f);
}

/* Every status the task's key went through, from a watch opened before it was created. */
static void test_agent_sim_run_ends(void **state)
{
	struct agent_fix *f = *state;
	struct model_task t = {0};
	char tid[MODEL_TASK_ID_LEN + 1], key[MODEL_KEY_MAX], err[256];
	const char *const args[] = {"--ids",       "x1,x2", "--run-ms", "200-400",  "--fail-rate",
				    "1",           "--cpu", "1000",     "--memory", "1000",
				    "--lease-ttl", TA_TTL,  NULL};
	struct berth_watch *w = NULL;
	enum model_task_status seen[8];
	size_t nseen = 0;
	agent_fix_cluster(f);
	agent_fix_start(f, args);
	agent_fix_wait_alive(f, 2, AGENT_FIX_WAIT_MS);
	model_key_prefix(key, MODEL_KEY_TASK, f->cluster, NULL);
	struct berth_watch_options wo = {.key = key, .klen = strlen(key), .prefix = true};
	assert_int_equal(berth_watch_open(f->b, &wo, &w), 0);
	agent_fix_place(f, "x2", "batch", 7, 1000, 1000, NULL, 0, tid);
	uint64_t deadline = cluster_now_ms() + AGENT_FIX_WAIT_MS;
	while ((nseen == 0 || seen[nseen - 1] != MODEL_TASK_STOPPED) && nseen < 8) {
		struct berth_watch_batch batch = {0};
		assert_true(cluster_now_ms() < deadline);
		int rv = berth_watch_next(w, 500, &batch);
		if (rv == BERTH_ETIMEOUT)
			continue;
		assert_int_equal(rv, 0);
		for (size_t i = 0; i < batch.nevents && nseen < 8; i++) {
			const struct berth_event *e = &batch.events[i];
			assert_int_equal(e->type, MSG_OP_PUT);
			assert_int_equal(model_task_decode(e->kv.value.p, e->kv.value.n, &t, err,
							   sizeof(err)),
					 0);
			seen[nseen++] = t.last_status;
			model_task_free(&t);
		}
		berth_watch_batch_free(&batch);
	}
	berth_watch_close(w);
	assert_int_equal(nseen, 4);
	assert_int_equal(seen[0], MODEL_TASK_PROVISIONING);
	assert_int_equal(seen[1], MODEL_TASK_PENDING);
	assert_int_equal(seen[2], MODEL_TASK_RUNNING);
	assert_int_equal(seen[3], MODEL_TASK_STOPPED);
	agent_fix_task(f, tid, &t);
	assert_true(t.has_exit_code);
	assert_int_equal(t.exit_code, 1);
	assert_string_equal(t.stop_reason, "simulated failure");
	assert_int_equal(t.desired_status, MODEL_TASK_RUNNING);
	agent_fix_released(f, "x2", "family:batch");
	model_task_free(&t);
	agent_fix_stop(f, SIGTERM, AGENT_FIX_WAIT_MS);
	assert_true(child_log_has(&f->agent, "started=1 stopped=1 failed=1"));
	agent_fix_finish(f);
}

/* The instance record's lease, and its status. */
static uint64_t ta_instance(struct agent_fix *f, const char *iid, enum model_instance_status *st,
			    uint64_t *rev)
{
	char key[MODEL_KEY_MAX], err[256];
	struct berth_result r = {0};
	struct model_instance in = {0};
	model_key_instance(key, f->cluster, iid);
	assert_int_equal(berth_get(f->b, key, strlen(key), 0, false, &r), 0);
	const struct reply_kv *kv = berth_result_kv(&r);
	assert_non_null(kv);
	assert_int_equal(model_instance_decode(kv->value.p, kv->value.n, &in, err, sizeof(err)), 0);
	uint64_t lease = in.lease;
	*st = in.status;
	if (rev != NULL)
		*rev = (uint64_t)kv->mod_rev;
	model_instance_free(&in);
	berth_result_free(&r);
	return lease;
}

/* The lease revoked under the agent: it grants a new one and registers again, keeping a
 * DRAINING instance DRAINING (docs/commits.md, Register). */
static void test_agent_lease_lost(void **state)
{
	struct agent_fix *f = *state;
	const char *const args[] = {"--ids", "d1,d2", "--lease-ttl", TA_TTL, NULL};
	char key[MODEL_KEY_MAX], err[256];
	enum model_instance_status st;
	struct berth_result r = {0};
	struct model_instance in = {0};
	struct mp_buf b;
	uint64_t rev;
	agent_fix_cluster(f);
	agent_fix_start(f, args);
	agent_fix_wait_alive(f, 2, AGENT_FIX_WAIT_MS);
	/* Drain d1 as berthctl instance drain does: compare R(instances/d1), put DRAINING. */
	uint64_t old = ta_instance(f, "d1", &st, &rev);
	model_key_instance(key, f->cluster, "d1");
	assert_int_equal(berth_get(f->b, key, strlen(key), 0, false, &r), 0);
	assert_int_equal(model_instance_decode(berth_result_kv(&r)->value.p,
					       berth_result_kv(&r)->value.n, &in, err, sizeof(err)),
			 0);
	berth_result_free(&r);
	in.status = MODEL_INSTANCE_DRAINING;
	mp_buf_init(&b);
	assert_int_equal(model_instance_encode(&in, &b, err, sizeof(err)), 0);
	struct msg_compare c = {.target = MSG_CMP_MOD,
				.op = MSG_EQ,
				.key = {(const uint8_t *)key, strlen(key)},
				.num = (int64_t)rev};
	struct msg_op p = {.type = MSG_OP_PUT, .key = c.key, .value = {b.data, b.len}};
	struct msg_txn drain = {.ncmp = 1, .nsucc = 1, .cmp = &c, .succ = &p};
	assert_int_equal(berth_txn(f->b, &drain, false, &r), 0);
	assert_true(r.resp.reply.succeeded);
	berth_result_free(&r);
	mp_buf_close(&b);
	model_instance_free(&in);

	/* Revoked: the alive keys go at once, then come back on a new lease. */
	assert_int_equal(berth_lease_revoke(f->b, old, &r), 0);
	berth_result_free(&r);
	uint64_t t0 = cluster_now_ms(), now1 = old, now2 = old;
	while (now1 == old || now2 == old) {
		now1 = ta_instance(f, "d1", &st, NULL);
		now2 = ta_instance(f, "d2", &st, NULL);
		if (cluster_now_ms() - t0 > AGENT_FIX_WAIT_MS)
			fail_msg("the instances are still on lease %llx", (unsigned long long)old);
		poll(NULL, 0, 30);
	}
	agent_fix_wait_alive(f, 2, AGENT_FIX_WAIT_MS);
	assert_int_equal(ta_instance(f, "d1", &st, NULL), now1);
	assert_int_equal(st, MODEL_INSTANCE_DRAINING);
	assert_int_equal(ta_instance(f, "d2", &st, NULL), now1);
	assert_int_equal(st, MODEL_INSTANCE_ACTIVE);
	model_key_alive(key, f->cluster, "d1");
	assert_int_equal(berth_get(f->b, key, strlen(key), 0, false, &r), 0);
	assert_int_equal(berth_result_kv(&r)->lease, now1);
	berth_result_free(&r);
	agent_fix_stop(f, SIGTERM, AGENT_FIX_WAIT_MS);
	assert_true(child_log_has(&f->agent, "regrants=1"));
	agent_fix_finish(f);
}

/* How many of the cluster's tasks have last status st (one range, every record decoded). */
static size_t ta_count_status(struct agent_fix *f, enum model_task_status st)
{
	char prefix[MODEL_KEY_MAX], err[256];
	struct berth_result r = {0};
	size_t n = 0;
	model_key_prefix(prefix, MODEL_KEY_TASK, f->cluster, NULL);
	struct berth_range q = {.key = prefix, .klen = strlen(prefix), .prefix = true};
	assert_int_equal(berth_range(f->b, &q, &r), 0);
	for (uint32_t i = 0; i < r.resp.reply.ops[0].nkvs; i++) {
		const struct reply_kv *kv = &r.resp.reply.ops[0].kvs[i];
		struct model_task t = {0};
		assert_int_equal(model_task_decode(kv->value.p, kv->value.n, &t, err, sizeof(err)),
				 0);
		n += t.last_status == st;
		model_task_free(&t);
	}
	berth_result_free(&r);
	return n;
}

/* More tasks than one listing page (AGENT_LIST_PAGE, 500), placed before the agent starts:
 * every one is found, started, and on SIGTERM stopped with everything released. */
#define TA_MANY 520
static void test_agent_many_tasks(void **state)
{
	struct agent_fix *f = *state;
	const char *const args[] = {"--ids", "m0,m1,m2,m3", "--lease-ttl", "60", NULL};
	const char *ids[] = {"m0", "m1", "m2", "m3"};
	char tid[MODEL_TASK_ID_LEN + 1], key[MODEL_KEY_MAX];
	agent_fix_cluster(f);
	agent_fix_start(f, args);
	agent_fix_wait_alive(f, 4, AGENT_FIX_WAIT_MS);
	assert_int_equal(child_stop(&f->agent, SIGKILL, 5000, NULL), 0);
	/* The alive keys outlive the agent by one TTL (60 s): Place needs them. */
	uint64_t t0 = cluster_now_ms();
	for (unsigned i = 0; i < TA_MANY; i++)
		agent_fix_place(f, ids[i % 4], "many", 1, 1, 1, NULL, 0, tid);
	printf("placed %d tasks in %llu ms\n", TA_MANY,
	       (unsigned long long)(cluster_now_ms() - t0));
	assert_int_equal(ta_count_status(f, MODEL_TASK_PENDING), TA_MANY);
	agent_fix_start(f, args);
	t0 = cluster_now_ms();
	while (ta_count_status(f, MODEL_TASK_RUNNING) != TA_MANY) {
		if (cluster_now_ms() - t0 > 2 * AGENT_FIX_WAIT_MS)
			fail_msg("%zu of %d tasks RUNNING", ta_count_status(f, MODEL_TASK_RUNNING),
				 TA_MANY);
		poll(NULL, 0, 50);
	}
	model_key_alloc_cpu(key, f->cluster, "m3");
	assert_int_equal(agent_fix_int(f, key), TA_MANY / 4);
	agent_fix_stop(f, SIGTERM, 2 * AGENT_FIX_WAIT_MS);
	assert_int_equal(ta_count_status(f, MODEL_TASK_STOPPED), TA_MANY);
	for (unsigned i = 0; i < 4; i++)
		agent_fix_released(f, ids[i], "family:many");
	assert_true(child_log_has(&f->agent, "started=520 stopped=520 failed=0 conflicts=0"));
	agent_fix_finish(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_agent_sim_lifecycle, agent_fix_setup,
						agent_fix_teardown),
		cmocka_unit_test_setup_teardown(test_agent_sim_run_ends, agent_fix_setup,
						agent_fix_teardown),
		cmocka_unit_test_setup_teardown(test_agent_lease_lost, agent_fix_setup,
						agent_fix_teardown),
		cmocka_unit_test_setup_teardown(test_agent_many_tasks, agent_fix_setup,
						agent_fix_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
