/* tests/integ/test_worker_service.c: service reconciliation by two berth-workers at once,
 * with a stand-in agent written here (Start and Stopped of docs/commits.md): a service
 * converges to its desired count; replaces the tasks of a lost instance and of a
 * DRAINING one; rolls to a new task definition keeping minimumHealthyPercent RUNNING
 * and at most maximumPercent not STOPPED at every step; scales down. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/worker_fix.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SVC_DESIRED 6
#define SVC_MIN_RUNNING 3 /* minimumHealthyPercent 50 */
#define SVC_MAX_LIVE 12   /* maximumPercent 200 */

/* What one look at the service's tasks found. */
struct svc_view {
	unsigned live;    /* not STOPPED, desired RUNNING */
	unsigned running; /* RUNNING, desired RUNNING */
	unsigned not_stopped;
	unsigned on_bad; /* live on the instance the test avoids */
	unsigned old;    /* live of another revision than want_rev */
};

/* The stand-in agent's transaction for one task: Start, or Stopped with the release. */
static void agent_txn(struct worker_fix *f, const struct model_task *t, int64_t rev)
{
	char err[256], key[MODEL_KEY_MAX], keys[5][MODEL_KEY_MAX];
	struct model_task copy = *t;
	struct mp_buf out;
	bool stop = t->desired_status == MODEL_TASK_STOPPED;
	copy.last_status = stop ? MODEL_TASK_STOPPED : MODEL_TASK_RUNNING;
	mp_buf_init(&out);
	assert_int_equal(model_task_encode(&copy, &out, err, sizeof(err)), 0);
	assert_int_equal(model_key_task(key, f->cluster, t->id), 0);
	struct msg_compare cmp = {.target = MSG_CMP_MOD,
				  .op = MSG_EQ,
				  .key = {(const uint8_t *)key, strlen(key)},
				  .num = rev};
	struct msg_op ops[5] = {{.type = MSG_OP_PUT,
				 .key = {(const uint8_t *)key, strlen(key)},
				 .value = {out.data, out.len}}};
	uint32_t n = 1;
	if (stop) {
		model_key_alloc_cpu(keys[0], f->cluster, t->instance);
		model_key_alloc_mem(keys[1], f->cluster, t->instance);
		model_key_group(keys[2], f->cluster, t->group, t->instance);
		model_key_placed(keys[3], f->cluster, t->instance, t->id);
		int64_t d[3] = {-(int64_t)t->cpu, -(int64_t)t->memory, -1};
		for (unsigned i = 0; i < 3; i++)
			ops[n++] =
				(struct msg_op){.type = MSG_OP_ADD,
						.key = {(const uint8_t *)keys[i], strlen(keys[i])},
						.delta = d[i]};
		ops[n++] = (struct msg_op){.type = MSG_OP_DEL,
					   .key = {(const uint8_t *)keys[3], strlen(keys[3])}};
	}
	struct msg_txn txn = {1, n, 0, &cmp, ops, NULL};
	struct berth_result r = {0};
	assert_int_equal(berth_txn(f->b, &txn, false, &r), 0); /* a lost compare: next round */
	berth_result_free(&r);
	mp_buf_close(&out);
}

/* One round of the agent (every instance but dead) and a look at the service. */
static void svc_round(struct worker_fix *f, const char *dead, const char *avoid, uint32_t want_rev,
		      struct svc_view *v)
{
	char prefix[MODEL_KEY_MAX], err[256];
	struct berth_result r = {0};
	memset(v, 0, sizeof(*v));
	assert_int_equal(model_key_prefix(prefix, MODEL_KEY_TASK, f->cluster, NULL), 0);
	struct berth_range q = {.key = prefix, .klen = strlen(prefix), .prefix = true};
	assert_int_equal(berth_range(f->b, &q, &r), 0);
	const struct reply_op *op = &r.resp.reply.ops[0];
	for (size_t i = 0; i < op->nkvs; i++) {
		struct model_task t;
		assert_int_equal(model_task_decode(op->kvs[i].value.p, op->kvs[i].value.n, &t, err,
						   sizeof(err)),
				 0);
		bool placed =
			t.last_status == MODEL_TASK_PENDING || t.last_status == MODEL_TASK_RUNNING;
		bool alive = placed && (dead == NULL || strcmp(t.instance, dead) != 0);
		bool live = t.last_status != MODEL_TASK_STOPPED &&
			    t.desired_status == MODEL_TASK_RUNNING;
		v->not_stopped += t.last_status != MODEL_TASK_STOPPED;
		v->live += live;
		v->running += live && t.last_status == MODEL_TASK_RUNNING;
		v->on_bad += live && avoid != NULL && t.instance != NULL &&
			     strcmp(t.instance, avoid) == 0;
		v->old += live && t.revision != want_rev;
		if (alive &&
		    (t.desired_status == MODEL_TASK_STOPPED || t.last_status == MODEL_TASK_PENDING))
			agent_txn(f, &t, op->kvs[i].mod_rev);
		model_task_free(&t);
	}
	berth_result_free(&r);
}

/* Runs agent rounds until the service has SVC_DESIRED RUNNING tasks (want of them with
 * want_rev, none on avoid, desired live in all); with check, asserts the deployment
 * bounds at every round. */
static void svc_converge(struct worker_fix *f, const char *dead, const char *avoid,
			 uint32_t want_rev, unsigned desired, bool check)
{
	uint64_t deadline = cluster_now_ms() + WF_WAIT_MS;
	struct svc_view v;
	for (unsigned round = 0; round < 100000; round++) {
		svc_round(f, dead, avoid, want_rev, &v);
		if (check) {
			if (v.running < SVC_MIN_RUNNING || v.not_stopped > SVC_MAX_LIVE)
				fail_msg("round %u: %u RUNNING, %u not STOPPED", round, v.running,
					 v.not_stopped);
		}
		if (v.live == desired && v.running == desired && v.on_bad == 0 && v.old == 0)
			return;
		if (cluster_now_ms() > deadline)
			fail_msg("service: %u live, %u running, %u on %s, %u old after %d ms",
				 v.live, v.running, v.on_bad, avoid ? avoid : "-", v.old,
				 WF_WAIT_MS);
		/* The polling pace, not synchronisation: the loop ends at its deadline. */
		struct timespec ts = {0, 20 * 1000000};
		nanosleep(&ts, NULL);
	}
	fail_msg("service did not converge");
}

static void test_worker_service(void **state)
{
	struct worker_fix *f = *state;
	wf_cluster(f);
	uint64_t keep = wf_lease(f, 60), doomed = wf_lease(f, 60);
	struct wf_fleet fleet = {"s", 6, 2, 4096, 8192, 8000, 8010};
	wf_instances(f, &fleet, keep, doomed);
	wf_taskdef(f, "web", 1, 128, 128);
	wf_taskdef(f, "web", 2, 128, 256);
	wf_worker_start(f, 0, NULL);
	wf_worker_start(f, 1, NULL);
	wf_service(f, "svc", "web", 1, SVC_DESIRED);
	svc_converge(f, NULL, NULL, 1, SVC_DESIRED, false);
	/* Spread by zone, ties broken at random: s-0 may hold a task or not; either way no
	 * live task may stay on it once it is lost. */
	wf_revoke(f, doomed);
	svc_converge(f, "s-0", "s-0", 1, SVC_DESIRED, false);
	wf_instance(f, "s-1", 4096, 8192, 8000, 8010, "b", keep, true);
	svc_converge(f, "s-0", "s-1", 1, SVC_DESIRED, false);
	wf_service(f, "svc", "web", 2, SVC_DESIRED);
	svc_converge(f, "s-0", "s-1", 2, SVC_DESIRED, true);
	wf_service(f, "svc", "web", 2, 2);
	svc_converge(f, "s-0", "s-1", 2, 2, false);
	wf_check_state(f, NULL);
	wf_worker_stop(f, 0, SIGTERM, 15000);
	wf_worker_stop(f, 1, SIGTERM, 15000);
	long long writes =
		wf_worker_stat(f, 0, "service-writes") + wf_worker_stat(f, 1, "service-writes");
	long long conflicts = wf_worker_stat(f, 0, "service-conflicts") +
			      wf_worker_stat(f, 1, "service-conflicts");
	printf("service: %lld writes, %lld conflicts over 2 workers\n", writes, conflicts);
	assert_true(writes >= 5); /* create, replace, drain, roll, scale down: one each at least */
	wf_finish(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_worker_service, wf_setup, wf_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
