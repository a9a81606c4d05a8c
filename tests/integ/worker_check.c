/* tests/integ/worker_check.c: the berth-worker tests' checks (tests/integ/worker_fix.h):
 * the tasks as stored, the store's state whole, and its history replayed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/worker_fix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Every key of the cluster (or under prefix kind) at the current revision. */
static void wf_range(struct worker_fix *f, int kind, struct berth_result *r)
{
	char prefix[MODEL_KEY_MAX];
	assert_int_equal(model_key_prefix(prefix, kind, f->cluster, NULL), 0);
	struct berth_range q = {.key = prefix, .klen = strlen(prefix), .prefix = true};
	int rc = berth_range(f->b, &q, r);
	if (rc != 0)
		printf("range %s: %s %s\n", prefix, err_name(rc), berth_errmsg(f->b));
	assert_int_equal(rc, 0);
	assert_int_equal(r->resp.reply.nops, 1);
	assert_false(r->resp.reply.ops[0].more);
}

void wf_read(struct worker_fix *f, struct wf_state *s)
{
	struct berth_result r = {0};
	char err[256];
	wf_range(f, MODEL_KEY_TASK, &r);
	const struct reply_op *op = &r.resp.reply.ops[0];
	s->n = op->nkvs;
	s->rev = r.resp.reply.rev;
	s->tasks = calloc(op->nkvs + 1, sizeof(*s->tasks));
	assert_non_null(s->tasks);
	for (size_t i = 0; i < op->nkvs; i++)
		assert_int_equal(model_task_decode(op->kvs[i].value.p, op->kvs[i].value.n,
						   &s->tasks[i], err, sizeof(err)),
				 0);
	berth_result_free(&r);
}

void wf_state_free(struct wf_state *s)
{
	for (size_t i = 0; i < s->n; i++)
		model_task_free(&s->tasks[i]);
	free(s->tasks);
	memset(s, 0, sizeof(*s));
}

size_t wf_count(const struct wf_state *s, enum model_task_status st, const char *iid)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		n += s->tasks[i].last_status == st &&
		     (iid == NULL ||
		      (s->tasks[i].instance != NULL && strcmp(s->tasks[i].instance, iid) == 0));
	return n;
}

static void wf_wait(struct worker_fix *f, enum model_task_status st, size_t n, bool at_least,
		    uint32_t timeout_ms)
{
	uint64_t deadline = cluster_now_ms() + timeout_ms;
	size_t seen = 0;
	for (unsigned round = 0; round < 100000; round++) {
		struct wf_state s;
		wf_read(f, &s);
		seen = wf_count(&s, st, NULL);
		wf_state_free(&s);
		if (seen == n || (at_least && seen > n) || cluster_now_ms() > deadline)
			break;
		/* The polling pace, not synchronisation: the loop ends at its deadline. */
		struct timespec ts = {0, 50 * 1000000};
		nanosleep(&ts, NULL);
	}
	if (seen != n && !(at_least && seen > n))
		fail_msg("%zu tasks in status %d after %u ms; want %s%zu", seen, (int)st,
			 timeout_ms, at_least ? "at least " : "", n);
}

void wf_wait_count(struct worker_fix *f, enum model_task_status st, size_t n, uint32_t timeout_ms)
{
	wf_wait(f, st, n, false, timeout_ms);
}

void wf_wait_least(struct worker_fix *f, enum model_task_status st, size_t n, uint32_t timeout_ms)
{
	wf_wait(f, st, n, true, timeout_ms);
}

static bool holds(const struct model_task *t)
{
	return t->instance != NULL &&
	       (t->last_status == MODEL_TASK_PENDING || t->last_status == MODEL_TASK_RUNNING);
}

static const struct model_task *find_task(const struct wf_state *s, const char *tid)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->tasks[i].id, tid) == 0)
			return &s->tasks[i];
	return NULL;
}

/* The totals of every instance: ids and cpu/memory into arrays of n entries. */
struct wf_insts {
	size_t n;
	char (*id)[MODEL_ID_MAX + 1];
	int64_t *cpu, *mem;
};

static void read_insts(struct worker_fix *f, struct wf_insts *in)
{
	struct berth_result r = {0};
	char err[256];
	wf_range(f, MODEL_KEY_INSTANCE, &r);
	const struct reply_op *op = &r.resp.reply.ops[0];
	in->n = op->nkvs;
	in->id = calloc(op->nkvs + 1, sizeof(*in->id));
	in->cpu = calloc(op->nkvs + 1, sizeof(int64_t));
	in->mem = calloc(op->nkvs + 1, sizeof(int64_t));
	assert_true(in->id && in->cpu && in->mem);
	for (size_t i = 0; i < op->nkvs; i++) {
		struct model_instance mi;
		assert_int_equal(model_instance_decode(op->kvs[i].value.p, op->kvs[i].value.n, &mi,
						       err, sizeof(err)),
				 0);
		snprintf(in->id[i], sizeof(in->id[i]), "%s", mi.id);
		in->cpu[i] = mi.cpu;
		in->mem[i] = mi.memory;
		model_instance_free(&mi);
	}
	berth_result_free(&r);
}

static void insts_free(struct wf_insts *in)
{
	free(in->id);
	free(in->cpu);
	free(in->mem);
}

static size_t inst_index(const struct wf_insts *in, const char *iid)
{
	for (size_t i = 0; i < in->n; i++)
		if (strcmp(in->id[i], iid) == 0)
			return i;
	fail_msg("instance %s is not registered", iid);
	return 0;
}

static int64_t value_int(const struct reply_kv *kv)
{
	int64_t v;
	assert_int_equal(mp_value_int(kv->value.p, kv->value.n, &v), 0);
	return v;
}

void wf_check_state(struct worker_fix *f, const char *distinct)
{
	struct wf_state s;
	struct wf_insts in;
	struct berth_result r = {0};
	struct model_key k;
	wf_read(f, &s);
	read_insts(f, &in);
	wf_range(f, -1, &r);
	int64_t *cpu = calloc(in.n + 1, sizeof(int64_t)), *mem = calloc(in.n + 1, sizeof(int64_t));
	assert_true(cpu && mem);
	size_t nholding = 0, nports = 0, nplaced = 0, nport_keys = 0;
	int64_t group_sum = 0;
	for (size_t i = 0; i < s.n; i++)
		if (holds(&s.tasks[i])) {
			size_t j = inst_index(&in, s.tasks[i].instance);
			cpu[j] += s.tasks[i].cpu;
			mem[j] += s.tasks[i].memory;
			nholding++;
			nports += s.tasks[i].nhost_ports;
		}
	const struct reply_op *op = &r.resp.reply.ops[0];
	for (size_t i = 0; i < op->nkvs; i++) {
		const struct reply_kv *kv = &op->kvs[i];
		assert_int_equal(model_key_parse((const char *)kv->key.p, kv->key.n, &k), 0);
		const struct model_task *t = NULL;
		switch (k.kind) {
		case MODEL_KEY_ALLOC_CPU:
		case MODEL_KEY_ALLOC_MEM: {
			size_t j = inst_index(&in, k.instance);
			int64_t want = k.kind == MODEL_KEY_ALLOC_CPU ? cpu[j] : mem[j];
			int64_t total = k.kind == MODEL_KEY_ALLOC_CPU ? in.cpu[j] : in.mem[j];
			if (value_int(kv) != want)
				fail_msg("%.*s = %lld; the tasks on it add up to %lld",
					 (int)kv->key.n, (const char *)kv->key.p,
					 (long long)value_int(kv), (long long)want);
			assert_true(want <= total);
			if (k.kind == MODEL_KEY_ALLOC_CPU)
				cpu[j] = -1; /* seen */
			else
				mem[j] = -1;
			break;
		}
		case MODEL_KEY_ALLOC_PORT: {
			char tid[MODEL_ID_MAX + 1];
			snprintf(tid, sizeof(tid), "%.*s", (int)kv->value.n,
				 (const char *)kv->value.p);
			t = find_task(&s, tid);
			assert_non_null(t);
			assert_true(holds(t));
			assert_string_equal(t->instance, k.instance);
			bool has = false;
			for (size_t p = 0; p < t->nhost_ports; p++)
				has |= t->host_ports[p] == k.port;
			assert_true(has);
			nport_keys++;
			break;
		}
		case MODEL_KEY_PLACED:
			t = find_task(&s, k.task);
			if (t == NULL || !holds(t) || strcmp(t->instance, k.instance) != 0)
				fail_msg("placed/%s/%s without its task there", k.instance, k.task);
			nplaced++;
			break;
		case MODEL_KEY_GROUP: {
			int64_t want = 0, v = value_int(kv);
			for (size_t i2 = 0; i2 < s.n; i2++)
				want += holds(&s.tasks[i2]) &&
					strcmp(s.tasks[i2].group, k.group) == 0 &&
					strcmp(s.tasks[i2].instance, k.instance) == 0;
			if (v != want)
				fail_msg("group/%s/%s = %lld; %lld tasks there", k.group,
					 k.instance, (long long)v, (long long)want);
			if (distinct != NULL && strcmp(k.group, distinct) == 0)
				assert_true(v <= 1);
			group_sum += v;
			break;
		}
		default:
			break;
		}
	}
	/* Counters missing must be for instances holding nothing. */
	for (size_t j = 0; j < in.n; j++) {
		assert_true(cpu[j] <= 0);
		assert_true(mem[j] <= 0);
	}
	assert_int_equal(nplaced, nholding);
	assert_int_equal(nport_keys, nports);
	assert_int_equal(group_sum, (int64_t)nholding);
	free(cpu);
	free(mem);
	insts_free(&in);
	berth_result_free(&r);
	wf_state_free(&s);
}

/* One task's history: how often it was placed and where. */
struct hist_task {
	char id[MODEL_ID_MAX + 1];
	char inst[MODEL_ID_MAX + 1];
	unsigned placements;
	enum model_task_status last;
};

size_t wf_check_history(struct worker_fix *f, uint64_t from, const char *distinct)
{
	struct wf_insts in;
	struct wf_state now;
	char prefix[MODEL_KEY_MAX], err[256];
	struct model_key k;
	struct berth_watch *w = NULL;
	size_t placements = 0, nt = 0;
	read_insts(f, &in);
	wf_read(f, &now);
	struct hist_task *ht = calloc(now.n + 1, sizeof(*ht));
	assert_non_null(ht);
	assert_int_equal(model_key_prefix(prefix, -1, f->cluster, NULL), 0);
	struct berth_watch_options o = {
		.key = prefix, .klen = strlen(prefix), .prefix = true, .rev = from};
	assert_int_equal(berth_watch_open(f->b, &o, &w), 0);
	uint64_t deadline = cluster_now_ms() + WF_WAIT_MS;
	while (berth_watch_rev(w) < now.rev) {
		struct berth_watch_batch b;
		assert_true(cluster_now_ms() < deadline);
		int rc = berth_watch_next(w, 1000, &b);
		if (rc == BERTH_ETIMEOUT)
			continue;
		assert_int_equal(rc, 0);
		for (size_t i = 0; i < b.nevents; i++) {
			const struct berth_event *e = &b.events[i];
			assert_int_equal(
				model_key_parse((const char *)e->kv.key.p, e->kv.key.n, &k), 0);
			if (e->type != MSG_OP_PUT)
				continue;
			if (k.kind == MODEL_KEY_ALLOC_CPU || k.kind == MODEL_KEY_ALLOC_MEM) {
				size_t j = inst_index(&in, k.instance);
				int64_t total =
					k.kind == MODEL_KEY_ALLOC_CPU ? in.cpu[j] : in.mem[j];
				if (value_int(&e->kv) > total)
					fail_msg("revision %lld: %.*s = %lld, outside 0..%lld",
						 (long long)e->kv.mod_rev, (int)e->kv.key.n,
						 (const char *)e->kv.key.p,
						 (long long)value_int(&e->kv), (long long)total);
			} else if (k.kind == MODEL_KEY_GROUP && distinct != NULL &&
				   strcmp(k.group, distinct) == 0) {
				if (value_int(&e->kv) > 1)
					fail_msg("revision %lld: group/%s/%s = %lld",
						 (long long)e->kv.mod_rev, k.group, k.instance,
						 (long long)value_int(&e->kv));
			} else if (k.kind == MODEL_KEY_TASK) {
				struct model_task t;
				assert_int_equal(model_task_decode(e->kv.value.p, e->kv.value.n, &t,
								   err, sizeof(err)),
						 0);
				size_t j = 0;
				while (j < nt && strcmp(ht[j].id, t.id) != 0)
					j++;
				if (j == nt) {
					assert_true(nt < now.n);
					snprintf(ht[nt].id, sizeof(ht[nt].id), "%s", t.id);
					ht[nt++].last = MODEL_TASK_PROVISIONING;
				}
				if (t.last_status == MODEL_TASK_PENDING &&
				    ht[j].last == MODEL_TASK_PROVISIONING) {
					ht[j].placements++;
					placements++;
					if (ht[j].placements > 1)
						fail_msg("task %s placed twice (revision %lld)",
							 t.id, (long long)e->kv.mod_rev);
				}
				if (t.instance != NULL) {
					if (ht[j].inst[0] != 0 &&
					    strcmp(ht[j].inst, t.instance) != 0)
						fail_msg("task %s moved from %s to %s", t.id,
							 ht[j].inst, t.instance);
					snprintf(ht[j].inst, sizeof(ht[j].inst), "%s", t.instance);
				}
				ht[j].last = t.last_status;
				model_task_free(&t);
			}
		}
		berth_watch_batch_free(&b);
	}
	berth_watch_close(w);
	free(ht);
	insts_free(&in);
	wf_state_free(&now);
	return placements;
}
