/* tests/integ/worker_fix.c: the berth-worker tests' fixture (tests/integ/worker_fix.h):
 * the cluster, the worker processes, and what the tests write. */
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int wf_setup(void **state)
{
	struct worker_fix *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	snprintf(f->cluster, sizeof(f->cluster), "c%ld", (long)getpid());
	f->rng = (uint64_t)getpid() * 7919u;
	*state = f;
	return 0;
}

int wf_teardown(void **state)
{
	struct worker_fix *f = *state;
	for (unsigned i = 0; i < WF_MAX_WORKERS; i++) {
		if (f->workers[i].log[0] == 0)
			continue;
		child_stop(&f->workers[i], SIGKILL, 5000, NULL);
		if (!f->in.passed) {
			printf("worker %u's log:\n", i);
			child_dump_log(&f->workers[i], 60);
		}
	}
	berth_close(f->b);
	f->b = NULL;
	return integ_teardown((void **)&f);
}

void wf_cluster(struct worker_fix *f)
{
	integ_start(&f->in, 3, NULL, NULL);
	f->b = cluster_client(&f->in.c, 0, 5000);
	assert_non_null(f->b);
}

void wf_worker_start(struct worker_fix *f, unsigned i, const char *const *extra)
{
	char eps[256] = "", log[CLUSTER_PATH_BYTES + 32], name[16], seed[16];
	const char *bin = getenv("BERTH_WORKER_BIN");
	const char *argv[32];
	size_t n = 0;
	assert_true(i < WF_MAX_WORKERS);
	for (unsigned k = 0; k < f->in.c.n; k++)
		snprintf(eps + strlen(eps), sizeof(eps) - strlen(eps), "%s%s", k ? "," : "",
			 f->in.c.eps[k]);
	snprintf(log, sizeof(log), "%s/worker%u.log", f->in.c.root, i);
	snprintf(name, sizeof(name), "w%u", i);
	snprintf(seed, sizeof(seed), "%u", i + 1);
	argv[n++] = bin != NULL ? bin : "build/berth-worker";
	const char *fixed[] = {"--endpoints", eps,      "--cluster", f->cluster,   "--name",
			       name,          "--seed", seed,        "--stats-ms", "1000"};
	for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++)
		argv[n++] = fixed[k];
	for (size_t k = 0; extra != NULL && extra[k] != NULL && n < 31; k++)
		argv[n++] = extra[k];
	argv[n] = NULL;
	assert_int_equal(child_start(&f->workers[i], log, (char *const *)argv), 0);
}

void wf_worker_stop(struct worker_fix *f, unsigned i, int sig, uint32_t timeout_ms)
{
	int st = -1;
	if (f->workers[i].pid == 0)
		return;
	assert_int_equal(child_stop(&f->workers[i], sig, timeout_ms, &st), 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		printf("worker %u: waitpid status 0x%x\n", i, st);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_true(child_log_has(&f->workers[i], " final: placements "));
	assert_false(child_log_has(&f->workers[i], "runtime error:"));
	assert_false(child_log_has(&f->workers[i], "ERROR: AddressSanitizer"));
	assert_false(child_log_has(&f->workers[i], "LeakSanitizer"));
}

void wf_worker_kill(struct worker_fix *f, unsigned i)
{
	child_stop(&f->workers[i], SIGKILL, 5000, NULL);
}

long long wf_worker_stat(struct worker_fix *f, unsigned i, const char *name)
{
	char line[1024], pat[64];
	long long v = -1;
	FILE *fp = fopen(f->workers[i].log, "r");
	if (fp == NULL)
		return -1;
	snprintf(pat, sizeof(pat), " %s ", name);
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *p = strstr(line, pat);
		if (strncmp(line, "berth-worker ", 13) == 0 && p != NULL)
			v = strtoll(p + strlen(pat), NULL, 10);
	}
	fclose(fp);
	return v;
}

void wf_finish(struct worker_fix *f)
{
	for (unsigned i = 0; i < WF_MAX_WORKERS; i++)
		if (f->workers[i].pid != 0)
			wf_worker_stop(f, i, SIGTERM, 15000);
	integ_finish(&f->in);
}

uint64_t wf_lease(struct worker_fix *f, int64_t ttl_s)
{
	struct berth_result r = {0};
	assert_int_equal(berth_lease_grant(f->b, ttl_s, 0, &r), 0);
	uint64_t id = r.resp.reply.id;
	berth_result_free(&r);
	assert_true(id != 0);
	return id;
}

void wf_revoke(struct worker_fix *f, uint64_t lease)
{
	struct berth_result r = {0};
	assert_int_equal(berth_lease_revoke(f->b, lease, &r), 0);
	berth_result_free(&r);
}

static uint64_t wf_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs a transaction: its revision, or 0 when its compares failed. */
static uint64_t wf_txn_try(struct worker_fix *f, struct msg_txn *t)
{
	struct berth_result r = {0};
	int rc = berth_txn(f->b, t, false, &r);
	if (rc != 0)
		printf("txn: %s %s\n", err_name(rc), berth_errmsg(f->b));
	assert_int_equal(rc, 0);
	uint64_t rev = r.resp.reply.succeeded ? r.resp.reply.rev : 0;
	berth_result_free(&r);
	return rev;
}

/* Runs a transaction and asserts that its compares held. */
static uint64_t wf_txn(struct worker_fix *f, struct msg_txn *t)
{
	uint64_t rev = wf_txn_try(f, t);
	assert_true(rev != 0);
	return rev;
}

void wf_instance(struct worker_fix *f, const char *iid, uint32_t cpu, uint32_t mem, uint16_t pfrom,
		 uint16_t pto, const char *zone, uint64_t lease, bool draining)
{
	char err[256], k1[MODEL_KEY_MAX], k2[MODEL_KEY_MAX];
	struct model_port_range pr = {pfrom, pto};
	struct model_pair attr = {(char *)"zone", (char *)zone};
	struct model_instance in = {
		(char *)iid, f->cluster, cpu,
		mem,         &pr,        1,
		&attr,       1,          draining ? MODEL_INSTANCE_DRAINING : MODEL_INSTANCE_ACTIVE,
		wf_now_ms(), lease};
	struct mp_buf out;
	mp_buf_init(&out);
	assert_int_equal(model_instance_encode(&in, &out, err, sizeof(err)), 0);
	assert_int_equal(model_key_instance(k1, f->cluster, iid), 0);
	assert_int_equal(model_key_alive(k2, f->cluster, iid), 0);
	struct msg_op ops[2] = {
		{.type = MSG_OP_PUT,
		 .key = {(const uint8_t *)k1, strlen(k1)},
		 .value = {out.data, out.len}},
		{.type = MSG_OP_PUT,
		 .key = {(const uint8_t *)k2, strlen(k2)},
		 .value = {(const uint8_t *)"", 0},
		 .lease = lease},
	};
	struct msg_txn t = {0, 2, 0, NULL, ops, NULL};
	wf_txn(f, &t);
	mp_buf_close(&out);
}

void wf_instances(struct worker_fix *f, const struct wf_fleet *fl, uint64_t lease, uint64_t lease0)
{
	char iid[64], zone[2] = "a";
	for (unsigned i = 0; i < fl->n; i++) {
		snprintf(iid, sizeof(iid), "%s-%u", fl->prefix, i);
		zone[0] = (char)('a' + i % fl->nzones);
		wf_instance(f, iid, fl->cpu, fl->mem, fl->pfrom, fl->pto, zone,
			    i == 0 ? lease0 : lease, false);
	}
}

uint64_t wf_tasks(struct worker_fix *f, const struct wf_task *t, size_t n,
		  char (*ids)[MODEL_TASK_ID_LEN + 1])
{
	enum { BATCH = 50 };
	char err[256], id[BATCH][MODEL_TASK_ID_LEN + 1], keys[BATCH][MODEL_KEY_MAX];
	struct model_strategy st;
	struct model_constraint co;
	struct msg_compare cmp[BATCH];
	struct msg_op ops[BATCH];
	struct mp_buf out[BATCH];
	uint64_t rev = 0;
	memset(&st, 0, sizeof(st));
	memset(&co, 0, sizeof(co));
	if (t->strategy != NULL)
		assert_int_equal(model_strategy_parse(t->strategy, &st, err, sizeof(err)), 0);
	if (t->constraint != NULL)
		assert_int_equal(model_constraint_parse(t->constraint, &co, err, sizeof(err)), 0);
	for (size_t done = 0; done < n;) {
		size_t b = n - done < BATCH ? n - done : BATCH;
		for (size_t i = 0; i < b; i++) {
			model_id_new(&f->rng, id[i]);
			if (ids != NULL)
				memcpy(ids[done + i], id[i], sizeof(id[i]));
			struct model_task task = {0};
			task.id = id[i];
			task.cluster = f->cluster;
			task.family = (char *)"web";
			task.revision = 1;
			task.cpu = t->cpu;
			task.memory = t->mem;
			task.host_ports = (uint16_t *)t->ports;
			task.nhost_ports = t->nports;
			task.group = (char *)(t->group != NULL ? t->group : "family:web");
			task.strategies = t->strategy != NULL ? &st : NULL;
			task.nstrategies = t->strategy != NULL;
			task.constraints = t->constraint != NULL ? &co : NULL;
			task.nconstraints = t->constraint != NULL;
			task.desired_status = MODEL_TASK_RUNNING;
			task.last_status = MODEL_TASK_PROVISIONING;
			task.started_by = (char *)t->started_by;
			task.created_ms = task.updated_ms = wf_now_ms();
			mp_buf_init(&out[i]);
			assert_int_equal(model_task_encode(&task, &out[i], err, sizeof(err)), 0);
			assert_int_equal(model_key_task(keys[i], f->cluster, id[i]), 0);
			cmp[i] = (struct msg_compare){
				.target = MSG_CMP_VERSION,
				.op = MSG_EQ,
				.key = {(const uint8_t *)keys[i], strlen(keys[i])}};
			ops[i] = (struct msg_op){.type = MSG_OP_PUT,
						 .key = {(const uint8_t *)keys[i], strlen(keys[i])},
						 .value = {out[i].data, out[i].len}};
		}
		struct msg_txn txn = {(uint32_t)b, (uint32_t)b, 0, cmp, ops, NULL};
		rev = wf_txn(f, &txn);
		for (size_t i = 0; i < b; i++)
			mp_buf_close(&out[i]);
		done += b;
	}
	model_strategy_free(&st);
	model_constraint_free(&co);
	return rev;
}

void wf_taskdef(struct worker_fix *f, const char *family, uint32_t rev, uint32_t cpu, uint32_t mem)
{
	char err[256], k1[MODEL_KEY_MAX], k2[MODEL_KEY_MAX];
	uint8_t num[9];
	struct model_container c = {0};
	c.name = (char *)"app";
	c.image = (char *)"busybox";
	c.cpu = cpu;
	c.memory = mem;
	c.essential = true;
	struct model_taskdef td = {(char *)family, rev, &c, 1, cpu, mem};
	struct mp_buf out;
	mp_buf_init(&out);
	assert_int_equal(model_taskdef_encode(&td, &out, err, sizeof(err)), 0);
	assert_int_equal(model_key_family(k1, family), 0);
	assert_int_equal(model_key_taskdef(k2, family, rev), 0);
	size_t nlen = mp_int_encode(rev, num);
	struct msg_op ops[2] = {
		{.type = MSG_OP_PUT,
		 .key = {(const uint8_t *)k1, strlen(k1)},
		 .value = {num, nlen}},
		{.type = MSG_OP_PUT,
		 .key = {(const uint8_t *)k2, strlen(k2)},
		 .value = {out.data, out.len}},
	};
	struct msg_txn t = {0, 2, 0, NULL, ops, NULL};
	wf_txn(f, &t);
	mp_buf_close(&out);
}

/* One read-modify-write of the service: false when a worker wrote it meanwhile. */
static bool wf_service_once(struct worker_fix *f, const char *name, const char *family,
			    uint32_t rev, uint32_t desired)
{
	char err[256], key[MODEL_KEY_MAX];
	struct berth_result r = {0};
	struct model_service s;
	int64_t mod = 0;
	assert_int_equal(model_key_service(key, f->cluster, name), 0);
	assert_int_equal(berth_get(f->b, key, strlen(key), 0, false, &r), 0);
	const struct reply_kv *kv = berth_result_kv(&r);
	memset(&s, 0, sizeof(s));
	if (kv != NULL) {
		mod = kv->mod_rev;
		assert_int_equal(
			model_service_decode(kv->value.p, kv->value.n, &s, err, sizeof(err)), 0);
		free(s.family);
		s.family = strdup(family);
	} else {
		s.name = strdup(name);
		s.cluster = strdup(f->cluster);
		s.family = strdup(family);
		s.strategies = calloc(1, sizeof(*s.strategies));
		assert_non_null(s.strategies);
		assert_int_equal(model_strategy_parse("spread:attribute:zone", s.strategies, err,
						      sizeof(err)),
				 0);
		s.nstrategies = 1;
		s.config.min_healthy_percent = 50;
		s.config.max_percent = 200;
		s.status = MODEL_SERVICE_ACTIVE;
		s.created_ms = wf_now_ms();
	}
	berth_result_free(&r);
	assert_non_null(s.family);
	s.revision = rev;
	s.desired_count = desired;
	struct mp_buf out;
	mp_buf_init(&out);
	assert_int_equal(model_service_encode(&s, &out, err, sizeof(err)), 0);
	struct msg_compare cmp = {.target = MSG_CMP_MOD,
				  .op = MSG_EQ,
				  .key = {(const uint8_t *)key, strlen(key)},
				  .num = mod};
	struct msg_op op = {.type = MSG_OP_PUT,
			    .key = {(const uint8_t *)key, strlen(key)},
			    .value = {out.data, out.len}};
	struct msg_txn t = {1, 1, 0, &cmp, &op, NULL};
	uint64_t done = wf_txn_try(f, &t);
	mp_buf_close(&out);
	model_service_free(&s);
	return done != 0;
}

void wf_service(struct worker_fix *f, const char *name, const char *family, uint32_t rev,
		uint32_t desired)
{
	for (unsigned i = 0; i < 50; i++)
		if (wf_service_once(f, name, family, rev, desired))
			return;
	fail_msg("service %s: 50 compare failures in a row", name);
}
