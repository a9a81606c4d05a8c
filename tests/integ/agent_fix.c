/* tests/integ/agent_fix.c: the berth-agent tests' fixture and store helpers
 * (tests/integ/agent_fix.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/agent_fix.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define AGENT_FIX_POLL_MS 30

/* The members, the folder and the signal handling are integ's (tests/integ/integ.h). */
int agent_fix_setup(void **state)
{
	struct agent_fix *f = calloc(1, sizeof(*f));
	void *in = NULL;
	if (f == NULL || integ_setup(&in) != 0) {
		free(f);
		return -1;
	}
	f->in = in;
	f->rng = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
	snprintf(f->cluster, sizeof(f->cluster), "c%d", (int)getpid());
	*state = f;
	return 0;
}

int agent_fix_teardown(void **state)
{
	struct agent_fix *f = *state;
	void *in = f->in;
	child_stop(&f->agent, SIGKILL, 5000, NULL);
	if (!f->in->passed && f->agent.log[0] != 0)
		child_dump_log(&f->agent, 60);
	berth_close(f->b);
	free(f);
	return integ_teardown(&in);
}

void agent_fix_cluster(struct agent_fix *f)
{
	unsigned leader;
	integ_start(f->in, 3, NULL, &leader);
	f->b = cluster_client(&f->in->c, leader, 5000);
	assert_non_null(f->b);
}

void agent_fix_start(struct agent_fix *f, const char *const *extra)
{
	char eps[256] = "", log[CHILD_PATH_BYTES];
	const char *bin = getenv("BERTH_AGENT_BIN");
	char *argv[64];
	unsigned k = 0;
	for (unsigned i = 0; i < f->in->c.n; i++)
		snprintf(eps + strlen(eps), sizeof(eps) - strlen(eps), "%s%s", i ? "," : "",
			 f->in->c.eps[i]);
	snprintf(log, sizeof(log), "%s/agent.log", f->in->c.root);
	argv[k++] = (char *)(bin != NULL ? bin : "build/berth-agent");
	argv[k++] = "--endpoints";
	argv[k++] = eps;
	argv[k++] = "--cluster";
	argv[k++] = f->cluster;
	argv[k++] = "--stats-ms";
	argv[k++] = "0";
	for (unsigned i = 0; extra != NULL && extra[i] != NULL && k < 63; i++)
		argv[k++] = (char *)extra[i];
	argv[k] = NULL;
	FILE *l = fopen(log, "a");
	if (l != NULL) {
		fprintf(l, "==== test: agent start at %llu ms\n",
			(unsigned long long)cluster_now_ms());
		fclose(l);
	}
	assert_int_equal(child_start(&f->agent, log, argv), 0);
}

void agent_fix_stop(struct agent_fix *f, int sig, uint32_t timeout_ms)
{
	int st = -1;
	assert_int_equal(child_stop(&f->agent, sig, timeout_ms, &st), 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		printf("berth-agent: waitpid status 0x%x\n", st);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

void agent_fix_finish(struct agent_fix *f)
{
	static const char *const pats[] = {"ERROR: AddressSanitizer",
					   "runtime error:", "LeakSanitizer"};
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
		if (child_log_has(&f->agent, pats[i]))
			fail_msg("sanitizer report in %s: %s", f->agent.log, pats[i]);
	berth_close(f->b);
	f->b = NULL;
	integ_finish(f->in);
}

static int fix_get(struct agent_fix *f, const char *key, struct berth_result *r)
{
	int rv = berth_get(f->b, key, strlen(key), 0, false, r);
	assert_int_equal(rv, 0);
	return berth_result_kv(r) != NULL;
}

int64_t agent_fix_int(struct agent_fix *f, const char *key)
{
	struct berth_result r = {0};
	int64_t v = 0;
	if (fix_get(f, key, &r)) {
		struct mp_doc d;
		const struct reply_kv *kv = berth_result_kv(&r);
		assert_int_equal(mp_doc_init(&d, kv->value.p, kv->value.n), 0);
		assert_int_equal(mp_get_i64(d.root, &v), 0);
		mp_doc_close(&d);
	}
	berth_result_free(&r);
	return v;
}

bool agent_fix_exists(struct agent_fix *f, const char *key)
{
	struct berth_result r = {0};
	bool there = fix_get(f, key, &r);
	berth_result_free(&r);
	return there;
}

uint64_t agent_fix_count(struct agent_fix *f, const char *prefix)
{
	struct berth_result r = {0};
	struct berth_range q = {
		.key = prefix, .klen = strlen(prefix), .prefix = true, .count_only = true};
	assert_int_equal(berth_range(f->b, &q, &r), 0);
	uint64_t n = r.resp.reply.ops[0].count;
	berth_result_free(&r);
	return n;
}

/* Polls until the cluster has n alive keys; returns the milliseconds it took. */
uint64_t agent_fix_wait_alive(struct agent_fix *f, uint64_t n, uint32_t timeout_ms)
{
	char prefix[MODEL_KEY_MAX];
	uint64_t t0 = cluster_now_ms(), seen;
	model_key_prefix(prefix, MODEL_KEY_ALIVE, f->cluster, NULL);
	while ((seen = agent_fix_count(f, prefix)) != n) {
		if (cluster_now_ms() - t0 > timeout_ms)
			fail_msg("%llu alive keys, not %llu, after %u ms", (unsigned long long)seen,
				 (unsigned long long)n, timeout_ms);
		poll(NULL, 0, AGENT_FIX_POLL_MS);
	}
	return cluster_now_ms() - t0;
}

static uint64_t fix_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#define BS(s) ((struct bytes){(const uint8_t *)(s), strlen(s)})

static void fix_txn_ok(struct agent_fix *f, const struct msg_txn *t, const char *what)
{
	struct berth_result r = {0};
	int rv = berth_txn(f->b, t, false, &r);
	if (rv != 0 || !r.resp.reply.succeeded)
		fail_msg("%s: %s, succeeded %d", what, err_name(rv),
			 rv == 0 && r.resp.reply.succeeded);
	berth_result_free(&r);
}

void agent_fix_place(struct agent_fix *f, const char *iid, const char *family, uint32_t rev,
		     uint32_t cpu, uint32_t mem, const uint16_t *ports, size_t nports,
		     char tid[MODEL_TASK_ID_LEN + 1])
{
	char tk[MODEL_KEY_MAX], ik[MODEL_KEY_MAX], ak[MODEL_KEY_MAX], ck[MODEL_KEY_MAX],
		mk[MODEL_KEY_MAX], gk[MODEL_KEY_MAX], pk[MODEL_KEY_MAX], group[MODEL_GROUP_MAX + 1];
	char portk[MODEL_HOST_PORTS_MAX][MODEL_KEY_MAX], err[256];
	struct berth_result r = {0};
	struct model_instance in = {0};
	struct mp_buf b1, b2;
	model_id_new(&f->rng, tid);
	snprintf(group, sizeof(group), "family:%s", family);
	uint64_t now = fix_now_ms();
	struct model_task t = {.id = tid,
			       .cluster = f->cluster,
			       .family = (char *)family,
			       .revision = rev,
			       .cpu = cpu,
			       .memory = mem,
			       .host_ports = (uint16_t *)ports,
			       .nhost_ports = nports,
			       .group = group,
			       .desired_status = MODEL_TASK_RUNNING,
			       .last_status = MODEL_TASK_PROVISIONING,
			       .created_ms = now,
			       .updated_ms = now};
	assert_int_equal(model_key_task(tk, f->cluster, tid), 0);
	/* Run: compare version(tasks/T) = 0; put the task, PROVISIONING. */
	mp_buf_init(&b1);
	assert_int_equal(model_task_encode(&t, &b1, err, sizeof(err)), 0);
	struct msg_compare c0 = {.target = MSG_CMP_VERSION, .op = MSG_EQ, .key = BS(tk)};
	struct msg_op p0 = {.type = MSG_OP_PUT, .key = BS(tk), .value = {b1.data, b1.len}};
	struct msg_txn run = {.ncmp = 1, .nsucc = 1, .cmp = &c0, .succ = &p0};
	fix_txn_ok(f, &run, "run");
	mp_buf_close(&b1);
	struct model_task seen = {0};
	uint64_t r_t = agent_fix_task(f, tid, &seen);
	model_task_free(&seen);
	/* Place on iid, fine-grained, exactly docs/commits.md. */
	assert_int_equal(model_key_instance(ik, f->cluster, iid), 0);
	assert_true(fix_get(f, ik, &r));
	const struct reply_kv *kv = berth_result_kv(&r);
	uint64_t r_i = (uint64_t)kv->mod_rev;
	assert_int_equal(model_instance_decode(kv->value.p, kv->value.n, &in, err, sizeof(err)), 0);
	berth_result_free(&r);
	model_key_alive(ak, f->cluster, iid);
	model_key_alloc_cpu(ck, f->cluster, iid);
	model_key_alloc_mem(mk, f->cluster, iid);
	model_key_group(gk, f->cluster, group, iid);
	model_key_placed(pk, f->cluster, iid, tid);
	struct msg_compare cmp[5 + MODEL_HOST_PORTS_MAX] = {
		{.target = MSG_CMP_MOD, .op = MSG_EQ, .key = BS(tk), .num = (int64_t)r_t},
		{.target = MSG_CMP_MOD, .op = MSG_EQ, .key = BS(ik), .num = (int64_t)r_i},
		{.target = MSG_CMP_VERSION, .op = MSG_GT, .key = BS(ak), .num = 0},
		{.target = MSG_CMP_INT,
		 .op = MSG_LE,
		 .key = BS(ck),
		 .num = (int64_t)in.cpu - (int64_t)cpu},
		{.target = MSG_CMP_INT,
		 .op = MSG_LE,
		 .key = BS(mk),
		 .num = (int64_t)in.memory - (int64_t)mem},
	};
	struct msg_op ops[5 + MODEL_HOST_PORTS_MAX], fail[4];
	uint32_t nc = 5, no = 0;
	ops[no++] = (struct msg_op){.type = MSG_OP_ADD, .key = BS(ck), .delta = cpu};
	ops[no++] = (struct msg_op){.type = MSG_OP_ADD, .key = BS(mk), .delta = mem};
	for (size_t i = 0; i < nports; i++) {
		assert_int_equal(model_key_alloc_port(portk[i], f->cluster, iid, ports[i]), 0);
		cmp[nc++] = (struct msg_compare){
			.target = MSG_CMP_VERSION, .op = MSG_EQ, .key = BS(portk[i])};
		ops[no++] =
			(struct msg_op){.type = MSG_OP_PUT, .key = BS(portk[i]), .value = BS(tid)};
	}
	ops[no++] = (struct msg_op){.type = MSG_OP_ADD, .key = BS(gk), .delta = 1};
	t.last_status = MODEL_TASK_PENDING;
	t.instance = (char *)iid;
	t.updated_ms = fix_now_ms();
	mp_buf_init(&b2);
	assert_int_equal(model_task_encode(&t, &b2, err, sizeof(err)), 0);
	ops[no++] = (struct msg_op){.type = MSG_OP_PUT, .key = BS(tk), .value = {b2.data, b2.len}};
	ops[no++] = (struct msg_op){.type = MSG_OP_PUT, .key = BS(pk)};
	fail[0] = (struct msg_op){.type = MSG_OP_RANGE, .key = BS(tk)};
	fail[1] = (struct msg_op){.type = MSG_OP_RANGE, .key = BS(ik)};
	fail[2] = (struct msg_op){.type = MSG_OP_RANGE, .key = BS(ck)};
	fail[3] = (struct msg_op){.type = MSG_OP_RANGE, .key = BS(mk)};
	struct msg_txn place = {
		.ncmp = nc, .nsucc = no, .nfail = 4, .cmp = cmp, .succ = ops, .fail = fail};
	fix_txn_ok(f, &place, "place");
	mp_buf_close(&b2);
	model_instance_free(&in);
}

uint64_t agent_fix_task(struct agent_fix *f, const char *tid, struct model_task *out)
{
	char key[MODEL_KEY_MAX], err[256];
	struct berth_result r = {0};
	assert_int_equal(model_key_task(key, f->cluster, tid), 0);
	assert_true(fix_get(f, key, &r));
	const struct reply_kv *kv = berth_result_kv(&r);
	uint64_t rev = (uint64_t)kv->mod_rev;
	model_task_free(out);
	if (model_task_decode(kv->value.p, kv->value.n, out, err, sizeof(err)) != 0)
		fail_msg("task %s: %s", tid, err);
	berth_result_free(&r);
	return rev;
}

void agent_fix_wait_status(struct agent_fix *f, const char *tid, enum model_task_status st,
			   uint32_t timeout_ms, struct model_task *out)
{
	uint64_t deadline = cluster_now_ms() + timeout_ms;
	for (;;) {
		agent_fix_task(f, tid, out);
		if (out->last_status == st)
			return;
		if (cluster_now_ms() >= deadline)
			fail_msg("task %s: last status %d, not %d, after %u ms", tid,
				 (int)out->last_status, (int)st, timeout_ms);
		poll(NULL, 0, AGENT_FIX_POLL_MS);
	}
}

void agent_fix_stop_request(struct agent_fix *f, const char *tid, const char *reason)
{
	char key[MODEL_KEY_MAX], err[256];
	struct model_task t = {0};
	struct mp_buf b;
	uint64_t rev = agent_fix_task(f, tid, &t);
	model_key_task(key, f->cluster, tid);
	free(t.stop_reason);
	t.stop_reason = strdup(reason);
	t.desired_status = MODEL_TASK_STOPPED;
	mp_buf_init(&b);
	assert_int_equal(model_task_encode(&t, &b, err, sizeof(err)), 0);
	struct msg_compare c = {
		.target = MSG_CMP_MOD, .op = MSG_EQ, .key = BS(key), .num = (int64_t)rev};
	struct msg_op p = {.type = MSG_OP_PUT, .key = BS(key), .value = {b.data, b.len}};
	struct msg_txn txn = {.ncmp = 1, .nsucc = 1, .cmp = &c, .succ = &p};
	fix_txn_ok(f, &txn, "stop request");
	mp_buf_close(&b);
	model_task_free(&t);
}

void agent_fix_released(struct agent_fix *f, const char *iid, const char *group)
{
	char key[MODEL_KEY_MAX];
	model_key_alloc_cpu(key, f->cluster, iid);
	assert_int_equal(agent_fix_int(f, key), 0);
	model_key_alloc_mem(key, f->cluster, iid);
	assert_int_equal(agent_fix_int(f, key), 0);
	model_key_group(key, f->cluster, group, iid);
	assert_int_equal(agent_fix_int(f, key), 0);
	model_key_prefix(key, MODEL_KEY_ALLOC_PORT, f->cluster, iid);
	assert_int_equal(agent_fix_count(f, key), 0);
	model_key_prefix(key, MODEL_KEY_PLACED, f->cluster, iid);
	assert_int_equal(agent_fix_count(f, key), 0);
}
