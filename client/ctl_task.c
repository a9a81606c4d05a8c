/* client/ctl_task.c: berthctl task run, list, describe and stop: tasks created
 * PROVISIONING for the workers to place (docs/commits.md, "Run"), and the stop request. */
#include "client/ctl_sched.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const ctl_status_names[] = {"PROVISIONING", "PENDING", "RUNNING", "STOPPED"};

/* Creates tasks like t (its id replaced) in one transaction: compare version 0 and put,
 * for each. *done: they were created (ids in ids[0..n)); false: an id was taken (the
 * caller draws new ones). */
static int ctl_run_batch(struct ctl *c, struct berth *b, struct model_task *t, size_t n,
			 uint64_t *rng, char (*ids)[MODEL_TASK_ID_LEN + 1], bool *done)
{
	char(*keys)[MODEL_KEY_MAX] = calloc(n, sizeof(*keys));
	struct msg_compare *cmp = calloc(n, sizeof(*cmp));
	struct msg_op *put = calloc(n, sizeof(*put));
	struct mp_buf *vals = calloc(n, sizeof(*vals));
	char err[256];
	int code = 0;
	if (keys == NULL || cmp == NULL || put == NULL || vals == NULL) {
		code = ctl_fail(c, BERTH_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && code == 0; i++) {
		model_id_new(rng, ids[i]);
		t->id = ids[i];
		model_key_task(keys[i], c->cluster, ids[i]);
		mp_buf_init(&vals[i]);
		int rv = model_task_encode(t, &vals[i], err, sizeof(err));
		t->id = NULL;
		if (rv != 0) {
			code = ctl_fail(c, rv, "%s", err);
			break;
		}
		cmp[i] = (struct msg_compare){.target = MSG_CMP_VERSION,
					      .op = MSG_EQ,
					      .key = {(const uint8_t *)keys[i], strlen(keys[i])}};
		put[i] = (struct msg_op){.type = MSG_OP_PUT,
					 .key = cmp[i].key,
					 .value = {vals[i].data, vals[i].len}};
	}
	if (code == 0) {
		struct msg_txn txn = {
			.ncmp = (uint32_t)n, .nsucc = (uint32_t)n, .cmp = cmp, .succ = put};
		struct berth_result r;
		if (berth_txn(b, &txn, false, &r) != 0 || !r.resp.has_reply)
			code = ctl_report_error(c, b, &r);
		else
			*done = r.resp.reply.succeeded;
		berth_result_free(&r);
	}
out:
	for (size_t i = 0; vals != NULL && i < n; i++)
		mp_buf_close(&vals[i]);
	free(keys);
	free(cmp);
	free(put);
	free(vals);
	return code;
}

/* The options of task run into the task every new one copies; 0 or exit 1. */
static int ctl_run_options(struct ctl *c, struct model_task *t, char *family, uint32_t *rev,
			   uint32_t *count)
{
	int code;
	if ((code = ctl_cluster_check(c)) != 0)
		return code;
	if (c->taskdef == NULL || c->count == NULL)
		return ctl_usage_error(c, "task run: --%s is required",
				       c->taskdef == NULL ? "taskdef" : "count");
	if ((code = ctl_taskdef_ref(c, c->taskdef, family, rev)) != 0 ||
	    (code = ctl_uint_arg(c, "--count", c->count, 1, MODEL_COUNT_MAX, count)) != 0)
		return code;
	if (c->started_by != NULL &&
	    (c->started_by[0] == '\0' || strlen(c->started_by) > MODEL_STARTED_BY_MAX))
		return ctl_usage_error(c, "--started-by: must be 1..%d bytes",
				       MODEL_STARTED_BY_MAX);
	char group[MODEL_GROUP_MAX + 8];
	if (c->group == NULL)
		snprintf(group, sizeof(group), "family:%s", family);
	const char *why = model_name_check(MODEL_NAME_GROUP, c->group ? c->group : group);
	if (why != NULL)
		return ctl_usage_error(c, "--group \"%s\": %s", c->group, why);
	t->strategies = calloc(MODEL_STRATEGIES_MAX, sizeof(*t->strategies));
	t->constraints = calloc(MODEL_CONSTRAINTS_MAX, sizeof(*t->constraints));
	t->group = strdup(c->group ? c->group : group);
	t->cluster = strdup(c->cluster);
	t->started_by = c->started_by ? strdup(c->started_by) : NULL;
	if (t->strategies == NULL || t->constraints == NULL || t->group == NULL ||
	    t->cluster == NULL || (c->started_by && t->started_by == NULL))
		return ctl_usage_error(c, "out of memory");
	return ctl_placement(c, t->strategies, &t->nstrategies, t->constraints, &t->nconstraints);
}

int ctl_task_run(struct ctl *c, struct berth *b)
{
	char family[MODEL_NAME_MAX + 1];
	uint32_t rev, count;
	struct model_task t = {0};
	struct model_taskdef td = {0};
	uint64_t rng = ctl_seed();
	json_t *list = json_array();
	size_t made = 0;
	int code = ctl_run_options(c, &t, family, &rev, &count);
	if (code == 0)
		code = ctl_taskdef_load(c, b, family, rev, &td);
	if (code == 0 && model_task_resources(&t, &td) != 0)
		code = ctl_fail(c, BERTH_ENOMEM, "out of memory");
	t.desired_status = MODEL_TASK_RUNNING;
	t.last_status = MODEL_TASK_PROVISIONING;
	t.created_ms = t.updated_ms = ctl_now_ms();
	while (code == 0 && made < count) {
		char ids[CTL_RUN_BATCH][MODEL_TASK_ID_LEN + 1];
		size_t n = count - made < CTL_RUN_BATCH ? count - made : CTL_RUN_BATCH;
		bool done = false;
		for (int attempt = 1; code == 0 && !done; attempt++) {
			if (attempt > CTL_CAS_ATTEMPTS)
				code = ctl_fail(c, BERTH_EBUSY, "task ids kept colliding");
			else
				code = ctl_run_batch(c, b, &t, n, &rng, ids, &done);
		}
		for (size_t i = 0; done && i < n; i++) {
			if (c->json)
				json_array_append_new(list, json_string(ids[i]));
			else
				printf("%s\n", ids[i]);
		}
		if (done)
			made += n;
	}
	if (code == 0 && c->json)
		ctl_json_print(json_pack("{sO ss sI}", "tasks", list, "taskDefinition", c->taskdef,
					 "revision", (json_int_t)t.revision));
	else if (code != 0 && made > 0)
		fprintf(stderr, "berthctl: task run: %zu of %" PRIu32 " tasks were created%s\n",
			made, count, c->json ? "" : " (their ids above)");
	json_decref(list);
	model_task_free(&t);
	model_taskdef_free(&td);
	return code;
}

struct ctl_task_filter {
	int status; /* -1: any */
	json_t *list;
};

static int ctl_task_row(struct ctl *c, void *arg, const struct reply_kv *kv)
{
	struct ctl_task_filter *f = arg;
	struct model_task t;
	char err[256];
	if (model_task_decode(kv->value.p, kv->value.n, &t, err, sizeof(err)) != 0) {
		ctl_warn_record(c, kv, err);
		return 0;
	}
	if ((f->status < 0 || (int)t.last_status == f->status) &&
	    (c->instance == NULL || (t.instance && strcmp(t.instance, c->instance) == 0)) &&
	    (c->group == NULL || strcmp(t.group, c->group) == 0)) {
		char td[MODEL_NAME_MAX + 16];
		snprintf(td, sizeof(td), "%s:%" PRIu32, t.family, t.revision);
		if (c->json)
			json_array_append_new(f->list, model_task_to_json(&t));
		else
			printf("%-16s %-20s %-12s %-8s %-20s %s\n", t.id, td,
			       ctl_status_names[t.last_status], ctl_status_names[t.desired_status],
			       t.instance ? t.instance : "-", t.group);
	}
	model_task_free(&t);
	return 0;
}

int ctl_task_list(struct ctl *c, struct berth *b)
{
	char prefix[MODEL_KEY_MAX];
	struct ctl_task_filter f = {.status = -1};
	const char *why;
	uint64_t rev;
	int code = ctl_cluster_check(c);
	if (code != 0)
		return code;
	for (int s = 0; c->status && s < 4; s++)
		if (strcasecmp(c->status, ctl_status_names[s]) == 0)
			f.status = s;
	if (c->status != NULL && f.status < 0)
		return ctl_usage_error(c,
				       "--status \"%s\": PROVISIONING, PENDING, RUNNING or "
				       "STOPPED",
				       c->status);
	if (c->instance && (why = model_name_check(MODEL_NAME_ID, c->instance)) != NULL)
		return ctl_usage_error(c, "--instance \"%s\": %s", c->instance, why);
	if (c->group && (why = model_name_check(MODEL_NAME_GROUP, c->group)) != NULL)
		return ctl_usage_error(c, "--group \"%s\": %s", c->group, why);
	f.list = json_array();
	if (!c->json)
		printf("%-16s %-20s %-12s %-8s %-20s %s\n", "ID", "TASKDEF", "LAST", "DESIRED",
		       "INSTANCE", "GROUP");
	model_key_prefix(prefix, MODEL_KEY_TASK, c->cluster, NULL);
	code = ctl_range_all(c, b, prefix, false, ctl_task_row, &f, &rev);
	if (code == 0 && c->json)
		ctl_json_print(json_pack("{sO sI}", "tasks", f.list, "revision", (json_int_t)rev));
	json_decref(f.list);
	return code;
}

/* The task pos[0] into *t with the key's mod_rev; exit status. */
static int ctl_task_check(struct ctl *c)
{
	const char *why = model_name_check(MODEL_NAME_ID, c->pos[0]);
	if (why != NULL)
		return ctl_usage_error(c, "task \"%s\": %s", c->pos[0], why);
	return ctl_cluster_check(c);
}

static int ctl_task_edit(struct ctl *c, struct berth *b, void *arg, const struct reply_kv *kv,
			 struct mp_buf *out)
{
	struct model_task *t = arg;
	char err[256];
	(void)b;
	model_task_free(t);
	if (kv == NULL)
		return ctl_fail(c, BERTH_ENOTFOUND, "task %s not found in cluster %s", c->pos[0],
				c->cluster);
	if (model_task_decode(kv->value.p, kv->value.n, t, err, sizeof(err)) != 0)
		return ctl_fail(c, BERTH_ECORRUPT, "task %s: %s", c->pos[0], err);
	if (out == NULL || t->desired_status == MODEL_TASK_STOPPED)
		return 0; /* describe, or already asked to stop: nothing to write */
	char *reason = strdup(c->reason ? c->reason : "stopped by user");
	if (reason == NULL)
		return ctl_fail(c, BERTH_ENOMEM, "out of memory");
	free(t->stop_reason);
	t->stop_reason = reason;
	t->desired_status = MODEL_TASK_STOPPED;
	if (t->last_status == MODEL_TASK_PROVISIONING)
		t->last_status = MODEL_TASK_STOPPED; /* never placed: stopped at once */
	t->updated_ms = ctl_now_ms();
	int rv = model_task_encode(t, out, err, sizeof(err));
	return rv == 0 ? 0 : ctl_fail(c, rv, "task %s: %s", c->pos[0], err);
}

static void ctl_task_print(const struct model_task *t)
{
	printf("task %s (cluster %s)\n  taskdef %s:%" PRIu32 "  cpu %" PRIu32 "  memory %" PRIu32
	       " MiB\n  status %s, desired %s\n  instance %s\n  group %s\n",
	       t->id, t->cluster, t->family, t->revision, t->cpu, t->memory,
	       ctl_status_names[t->last_status], ctl_status_names[t->desired_status],
	       t->instance ? t->instance : "-", t->group);
	printf("  host ports:");
	for (size_t i = 0; i < t->nhost_ports; i++)
		printf(" %" PRIu16, t->host_ports[i]);
	printf("%s\n", t->nhost_ports ? "" : " -");
	ctl_print_placement(t->strategies, t->nstrategies, t->constraints, t->nconstraints);
	if (t->stop_reason != NULL)
		printf("  stopped reason: %s\n", t->stop_reason);
	if (t->has_exit_code)
		printf("  exit code %" PRId64 "\n", t->exit_code);
	if (t->started_by != NULL)
		printf("  started by %s\n", t->started_by);
	printf("  created at %" PRIu64 " ms, updated at %" PRIu64 " ms\n", t->created_ms,
	       t->updated_ms);
}

int ctl_task_describe(struct ctl *c, struct berth *b)
{
	char key[MODEL_KEY_MAX];
	struct model_task t = {0};
	struct berth_result r;
	const struct reply_kv *kv;
	int code = ctl_task_check(c);
	if (code != 0)
		return code;
	model_key_task(key, c->cluster, c->pos[0]);
	if ((code = ctl_read(c, b, key, &r, &kv)) != 0)
		return code;
	code = ctl_task_edit(c, b, &t, kv, NULL);
	berth_result_free(&r);
	if (code == 0 && c->json)
		ctl_json_print(model_task_to_json(&t));
	else if (code == 0)
		ctl_task_print(&t);
	model_task_free(&t);
	return code;
}

int ctl_task_stop(struct ctl *c, struct berth *b)
{
	char key[MODEL_KEY_MAX];
	struct model_task t = {0};
	bool written;
	int code = ctl_task_check(c);
	if (code != 0)
		return code;
	if (c->reason != NULL && (c->reason[0] == '\0' || strlen(c->reason) > MODEL_REASON_MAX))
		return ctl_usage_error(c, "--reason: must be 1..%d bytes", MODEL_REASON_MAX);
	model_key_task(key, c->cluster, c->pos[0]);
	code = ctl_cas_edit(c, b, key, ctl_task_edit, &t, &written);
	if (code == 0 && c->json)
		ctl_json_print(model_task_to_json(&t));
	else if (code == 0)
		printf("task %s: %s (status %s)\n", t.id,
		       written ? "stop requested" : "already asked to stop",
		       ctl_status_names[t.last_status]);
	model_task_free(&t);
	return code;
}
