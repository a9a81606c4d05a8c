/* client/model_task.c: tasks: their field table and their rules (statuses, placement,
 * the resources copied from the task definition). */
#include "client/model_field.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

static const char *const mk_statuses[] = {"PROVISIONING", "PENDING", "RUNNING", "STOPPED", NULL};

static int mk_check(const void *rec, struct model_path *p)
{
	const struct model_task *t = rec;
	if (t->desired_status != MODEL_TASK_RUNNING && t->desired_status != MODEL_TASK_STOPPED)
		return model_field_fail_at(p, "desiredStatus", "must be RUNNING or STOPPED");
	if (t->last_status == MODEL_TASK_PROVISIONING && t->instance != NULL)
		return model_field_fail_at(p, "instanceId", "a PROVISIONING task is not placed");
	if ((t->last_status == MODEL_TASK_PENDING || t->last_status == MODEL_TASK_RUNNING) &&
	    t->instance == NULL)
		return model_field_fail_at(p, "instanceId", "required once the task is placed");
	return model_placement_check(t->strategies, t->nstrategies, t->constraints, t->nconstraints,
				     p);
}

static const struct mf mk_fields[] = {
	{MF_FIELD_("id", MF_STR, struct model_task, id), .flags = MF_REQ, .min = 1,
	 .max = MODEL_ID_MAX, .cs = MCS_ID},
	{MF_FIELD_("cluster", MF_STR, struct model_task, cluster), .flags = MF_REQ, .min = 1,
	 .max = MODEL_NAME_MAX, .cs = MCS_NAME},
	{MF_FIELD_("family", MF_STR, struct model_task, family), .flags = MF_REQ, .min = 1,
	 .max = MODEL_NAME_MAX, .cs = MCS_NAME},
	{MF_FIELD_("revision", MF_U32, struct model_task, revision), .flags = MF_REQ, .min = 1,
	 .max = MODEL_REVISION_MAX},
	{MF_FIELD_("cpu", MF_U32, struct model_task, cpu), .flags = MF_REQ, .max = MODEL_CPU_MAX},
	{MF_FIELD_("memory", MF_U32, struct model_task, memory), .flags = MF_REQ,
	 .max = MODEL_MEMORY_MAX},
	{MF_FIELD_("hostPorts", MF_U16S, struct model_task, host_ports),
	 .count_off = offsetof(struct model_task, nhost_ports), .max = MODEL_HOST_PORTS_MAX},
	{MF_FIELD_("group", MF_STR, struct model_task, group), .flags = MF_REQ, .min = 1,
	 .max = MODEL_GROUP_MAX, .cs = MCS_GROUP},
	{MF_FIELD_("placementStrategy", MF_ARRAY, struct model_task, strategies),
	 .count_off = offsetof(struct model_task, nstrategies), .max = MODEL_STRATEGIES_MAX,
	 .sub = &model_strategy_rec},
	{MF_FIELD_("placementConstraints", MF_ARRAY, struct model_task, constraints),
	 .count_off = offsetof(struct model_task, nconstraints), .max = MODEL_CONSTRAINTS_MAX,
	 .sub = &model_constraint_rec},
	{MF_FIELD_("desiredStatus", MF_ENUM, struct model_task, desired_status), .flags = MF_REQ,
	 .names = mk_statuses},
	{MF_FIELD_("lastStatus", MF_ENUM, struct model_task, last_status), .flags = MF_REQ,
	 .names = mk_statuses},
	{MF_FIELD_("instanceId", MF_STR, struct model_task, instance), .min = 1,
	 .max = MODEL_ID_MAX, .cs = MCS_ID},
	{MF_FIELD_("stoppedReason", MF_STR, struct model_task, stop_reason), .min = 1,
	 .max = MODEL_REASON_MAX, .cs = MCS_TEXT},
	{MF_FIELD_("exitCode", MF_I64, struct model_task, exit_code),
	 .count_off = offsetof(struct model_task, has_exit_code), .min = 2147483648u,
	 .max = 2147483647},
	{MF_FIELD_("startedBy", MF_STR, struct model_task, started_by), .min = 1,
	 .max = MODEL_STARTED_BY_MAX, .cs = MCS_TEXT},
	{MF_FIELD_("createdAt", MF_U64, struct model_task, created_ms), .flags = MF_REQ,
	 .max = INT64_MAX},
	{MF_FIELD_("updatedAt", MF_U64, struct model_task, updated_ms), .flags = MF_REQ,
	 .max = INT64_MAX},
};

static const struct model_rec mk_rec = {
	.size = sizeof(struct model_task),
	.fields = mk_fields,
	.nfields = sizeof(mk_fields) / sizeof(mk_fields[0]),
	.check = mk_check,
};

MODEL_RECORD_API(task, struct model_task, mk_rec)

int model_task_resources(struct model_task *t, const struct model_taskdef *td)
{
	uint16_t ports[MODEL_HOST_PORTS_MAX], *copy = NULL;
	size_t n = model_taskdef_host_ports(td, ports);
	char *family;

	if (td->revision == 0 || td->family == NULL)
		return BERTH_EBADREQ;
	if ((family = strdup(td->family)) == NULL)
		return BERTH_ENOMEM;
	if (n > 0 && (copy = malloc(n * sizeof(*copy))) == NULL) {
		free(family);
		return BERTH_ENOMEM;
	}
	if (n > 0)
		memcpy(copy, ports, n * sizeof(*copy));
	free(t->family);
	free(t->host_ports);
	t->family = family;
	t->revision = td->revision;
	t->cpu = td->cpu;
	t->memory = td->memory;
	t->host_ports = copy;
	t->nhost_ports = n;
	return 0;
}
