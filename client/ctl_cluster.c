/* client/ctl_cluster.c: a cluster's instances as one read saw them (records, alive keys,
 * allocation counters, ports, placed tasks), and berthctl cluster describe. */
#include "client/ctl_sched.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char *const ctl_task_status_names[4] = {"PROVISIONING", "PENDING", "RUNNING",
						     "STOPPED"};

void ctl_view_free(struct ctl_view *v)
{
	for (size_t i = 0; i < v->ninst; i++) {
		struct ctl_inst *in = &v->inst[i];
		model_instance_free(&in->rec);
		free(in->ports);
		for (size_t k = 0; k < in->nplaced; k++)
			free(in->placed[k]);
		free(in->placed);
	}
	free(v->inst);
	memset(v, 0, sizeof(*v));
}

/* The entry of instance id, added when new; NULL when out of memory. */
static struct ctl_inst *ctl_view_inst(struct ctl_view *v, const char *id)
{
	for (size_t i = v->ninst; i > 0; i--) /* keys of one instance come together */
		if (strcmp(v->inst[i - 1].id, id) == 0)
			return &v->inst[i - 1];
	struct ctl_inst *p = realloc(v->inst, (v->ninst + 1) * sizeof(*p));
	if (p == NULL)
		return NULL;
	v->inst = p;
	p = &v->inst[v->ninst++];
	memset(p, 0, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "%s", id);
	return p;
}

static int ctl_grow(void **arr, size_t n, size_t size)
{
	void *p = realloc(*arr, (n + 1) * size);
	if (p == NULL)
		return -1;
	*arr = p;
	return 0;
}

/* One key of the cluster into the view. */
static int ctl_view_kv(struct ctl *c, void *arg, const struct reply_kv *kv)
{
	struct ctl_view *v = arg;
	struct model_key k;
	struct ctl_inst *in = NULL;
	char err[256];
	int64_t n;
	if (model_key_parse((const char *)kv->key.p, kv->key.n, &k) != 0)
		return 0; /* not a key of the model: none of berthctl's business */
	if (k.kind == MODEL_KEY_SERVICE) {
		v->nservices++;
		return 0;
	}
	if (k.kind == MODEL_KEY_TASK) {
		struct model_task t;
		if (model_task_decode(kv->value.p, kv->value.n, &t, err, sizeof(err)) != 0) {
			ctl_warn_record(c, kv, err);
			return 0;
		}
		v->tasks[t.last_status]++;
		bool oom = false;
		if (t.instance != NULL &&
		    (t.last_status == MODEL_TASK_PENDING || t.last_status == MODEL_TASK_RUNNING)) {
			if ((in = ctl_view_inst(v, t.instance)) == NULL)
				oom = true;
			else if (t.last_status == MODEL_TASK_PENDING)
				in->pending++;
			else
				in->running++;
		}
		model_task_free(&t);
		return oom ? ctl_fail(c, BERTH_ENOMEM, "out of memory") : 0;
	}
	if (k.kind == MODEL_KEY_FAMILY || k.kind == MODEL_KEY_TASKDEF || k.kind == MODEL_KEY_GROUP)
		return 0;
	if ((in = ctl_view_inst(v, k.instance)) == NULL)
		return ctl_fail(c, BERTH_ENOMEM, "out of memory");
	switch (k.kind) {
	case MODEL_KEY_INSTANCE:
		if (model_instance_decode(kv->value.p, kv->value.n, &in->rec, err, sizeof(err)))
			ctl_warn_record(c, kv, err);
		else
			in->has_rec = true;
		return 0;
	case MODEL_KEY_ALIVE:
		in->alive = true;
		return 0;
	case MODEL_KEY_ALLOC_CPU:
	case MODEL_KEY_ALLOC_MEM:
		if (mp_value_int(kv->value.p, kv->value.n, &n) != 0)
			ctl_warn_record(c, kv, "not an integer");
		else
			*(k.kind == MODEL_KEY_ALLOC_CPU ? &in->cpu_used : &in->mem_used) = n;
		return 0;
	case MODEL_KEY_ALLOC_PORT:
		if (ctl_grow((void **)&in->ports, in->nports, sizeof(*in->ports)) != 0)
			return ctl_fail(c, BERTH_ENOMEM, "out of memory");
		in->ports[in->nports++] = k.port;
		return 0;
	default: /* MODEL_KEY_PLACED */
		if (ctl_grow((void **)&in->placed, in->nplaced, sizeof(*in->placed)) != 0 ||
		    (in->placed[in->nplaced] = strdup(k.task)) == NULL)
			return ctl_fail(c, BERTH_ENOMEM, "out of memory");
		in->nplaced++;
		return 0;
	}
}

/* One instance's keys in one transaction: its record, alive, counters, ports, index. */
static int ctl_view_one(struct ctl *c, struct berth *b, const char *iid, struct ctl_view *v)
{
	char keys[6][MODEL_KEY_MAX];
	struct msg_op ops[6];
	struct berth_result r;
	int code = 0;
	model_key_instance(keys[0], c->cluster, iid);
	model_key_alive(keys[1], c->cluster, iid);
	model_key_alloc_cpu(keys[2], c->cluster, iid);
	model_key_alloc_mem(keys[3], c->cluster, iid);
	model_key_prefix(keys[4], MODEL_KEY_ALLOC_PORT, c->cluster, iid);
	model_key_prefix(keys[5], MODEL_KEY_PLACED, c->cluster, iid);
	for (int i = 0; i < 6; i++)
		ops[i] = (struct msg_op){.type = MSG_OP_RANGE,
					 .flags = i >= 4 ? MSG_F_PREFIX : 0,
					 .key = {(const uint8_t *)keys[i], strlen(keys[i])}};
	ops[5].flags |= MSG_F_KEYS_ONLY;
	struct msg_txn t = {.nsucc = 6, .succ = ops};
	if (berth_txn(b, &t, false, &r) != 0 || !r.resp.has_reply) {
		code = ctl_report_error(c, b, &r);
		berth_result_free(&r);
		return code;
	}
	v->rev = r.resp.reply.rev;
	for (uint32_t i = 0; i < r.resp.reply.nops && code == 0; i++)
		for (uint32_t k = 0; k < r.resp.reply.ops[i].nkvs && code == 0; k++)
			code = ctl_view_kv(c, v, &r.resp.reply.ops[i].kvs[k]);
	berth_result_free(&r);
	return code;
}

int ctl_view_load(struct ctl *c, struct berth *b, const char *iid, struct ctl_view *v)
{
	char prefix[MODEL_KEY_MAX];
	memset(v, 0, sizeof(*v));
	if (iid != NULL)
		return ctl_view_one(c, b, iid, v);
	model_key_prefix(prefix, -1, c->cluster, NULL);
	return ctl_range_all(c, b, prefix, false, ctl_view_kv, v, &v->rev);
}

const char *ctl_inst_zone(const struct ctl_inst *in)
{
	const char *z = model_instance_attr(&in->rec, "zone");
	return z ? z : model_instance_attr(&in->rec, "ecs.availability-zone");
}

static json_t *ctl_used(int64_t used, int64_t total)
{
	return json_pack("{sIsI}", "used", (json_int_t)used, "total", (json_int_t)total);
}

json_t *ctl_inst_json(const struct ctl_inst *in)
{
	const char *zone = ctl_inst_zone(in);
	json_t *ports = json_array(), *placed = json_array();
	for (size_t i = 0; i < in->nports; i++)
		json_array_append_new(ports, json_integer(in->ports[i]));
	for (size_t i = 0; i < in->nplaced; i++)
		json_array_append_new(placed, json_string(in->placed[i]));
	return json_pack("{ss ss sb so so so so s{sosIsI}}", "id", in->id, "status",
			 in->rec.status == MODEL_INSTANCE_DRAINING ? "DRAINING" : "ACTIVE", "alive",
			 in->alive, "zone", zone ? json_string(zone) : json_null(), "cpu",
			 ctl_used(in->cpu_used, in->rec.cpu), "memory",
			 ctl_used(in->mem_used, in->rec.memory), "ports", ports, "tasks", "placed",
			 placed, "pending", (json_int_t)in->pending, "running",
			 (json_int_t)in->running);
}

int ctl_cluster_describe(struct ctl *c, struct berth *b)
{
	struct ctl_view v;
	int64_t cpu = 0, mem = 0, cpu_total = 0, mem_total = 0;
	size_t alive = 0, shown = 0;
	int code = ctl_cluster_check(c);
	if (code != 0)
		return code;
	if ((code = ctl_view_load(c, b, NULL, &v)) != 0) {
		ctl_view_free(&v);
		return code;
	}
	json_t *list = json_array();
	if (!c->json)
		printf("%-20s %-8s %-5s %-12s %-17s %-19s %-5s %s\n", "INSTANCE", "STATUS", "ALIVE",
		       "ZONE", "CPU", "MEMORY (MiB)", "PORTS", "TASKS");
	for (size_t i = 0; i < v.ninst; i++) {
		const struct ctl_inst *in = &v.inst[i];
		char cu[32], mu[32], tasks[48];
		if (!in->has_rec)
			continue; /* counters of an instance whose record is gone */
		shown++;
		alive += in->alive;
		cpu += in->cpu_used;
		mem += in->mem_used;
		cpu_total += in->rec.cpu;
		mem_total += in->rec.memory;
		if (c->json) {
			json_array_append_new(list, ctl_inst_json(in));
			continue;
		}
		snprintf(cu, sizeof(cu), "%" PRId64 "/%" PRIu32, in->cpu_used, in->rec.cpu);
		snprintf(mu, sizeof(mu), "%" PRId64 "/%" PRIu32, in->mem_used, in->rec.memory);
		snprintf(tasks, sizeof(tasks), "%" PRIu32 " running, %" PRIu32 " pending",
			 in->running, in->pending);
		printf("%-20s %-8s %-5s %-12s %-17s %-19s %-5zu %s\n", in->id,
		       in->rec.status == MODEL_INSTANCE_DRAINING ? "DRAINING" : "ACTIVE",
		       in->alive ? "yes" : "no", ctl_inst_zone(in) ? ctl_inst_zone(in) : "-", cu,
		       mu, in->nports, tasks);
	}
	if (c->json) {
		json_t *by = json_object();
		for (int s = 0; s < 4; s++)
			json_object_set_new(by, ctl_task_status_names[s],
					    json_integer((json_int_t)v.tasks[s]));
		ctl_json_print(json_pack("{ss sI so so sI s{soso}}", "cluster", c->cluster,
					 "revision", (json_int_t)v.rev, "instances", list, "tasks",
					 by, "services", (json_int_t)v.nservices, "totals", "cpu",
					 ctl_used(cpu, cpu_total), "memory",
					 ctl_used(mem, mem_total)));
	} else {
		json_decref(list);
		printf("cluster %s at revision %" PRIu64 ": %zu instances (%zu alive), cpu %" PRId64
		       "/%" PRId64 ", memory %" PRId64 "/%" PRId64 " MiB; tasks: %zu provisioning, "
		       "%zu pending, %zu running, %zu stopped; %zu services\n",
		       c->cluster, v.rev, shown, alive, cpu, cpu_total, mem, mem_total, v.tasks[0],
		       v.tasks[1], v.tasks[2], v.tasks[3], v.nservices);
	}
	ctl_view_free(&v);
	return 0;
}
