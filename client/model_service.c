/* client/model_service.c: services: their field tables (the service, its deployment
 * configuration and deployments) and their rules. */
#include "client/model_field.h"

#include <string.h>

static const char *const ms_statuses[] = {"ACTIVE", "DRAINING", "INACTIVE", NULL};
static const char *const ms_deployment_statuses[] = {"PRIMARY", "ACTIVE", NULL};

static const struct mf ms_deployment_fields[] = {
	{MF_FIELD_("id", MF_STR, struct model_deployment, id), .flags = MF_REQ, .min = 1,
	 .max = MODEL_ID_MAX, .cs = MCS_ID},
	{MF_FIELD_("family", MF_STR, struct model_deployment, family), .flags = MF_REQ, .min = 1,
	 .max = MODEL_NAME_MAX, .cs = MCS_NAME},
	{MF_FIELD_("revision", MF_U32, struct model_deployment, revision), .flags = MF_REQ,
	 .min = 1, .max = MODEL_REVISION_MAX},
	{MF_FIELD_("status", MF_ENUM, struct model_deployment, status), .flags = MF_REQ,
	 .names = ms_deployment_statuses},
	{MF_FIELD_("desiredCount", MF_U32, struct model_deployment, desired),
	 .max = MODEL_COUNT_MAX},
	{MF_FIELD_("runningCount", MF_U32, struct model_deployment, running),
	 .max = MODEL_COUNT_MAX},
	{MF_FIELD_("pendingCount", MF_U32, struct model_deployment, pending),
	 .max = MODEL_COUNT_MAX},
	{MF_FIELD_("createdAt", MF_U64, struct model_deployment, created_ms), .flags = MF_REQ,
	 .max = INT64_MAX},
};

static const struct model_rec ms_deployment_rec = {
	.size = sizeof(struct model_deployment),
	.fields = ms_deployment_fields,
	.nfields = sizeof(ms_deployment_fields) / sizeof(ms_deployment_fields[0]),
};

static int ms_config_check(const void *rec, struct model_path *p)
{
	const struct model_deployment_config *c = rec;
	if (c->min_healthy_percent == 100 && c->max_percent == 100)
		return model_field_fail_at(p, "maximumPercent",
					   "must be above 100 when minimumHealthyPercent is 100");
	return 0;
}

static const struct mf ms_config_fields[] = {
	{MF_FIELD_("minimumHealthyPercent", MF_U32, struct model_deployment_config,
		   min_healthy_percent),
	 .max = 100, .def = 100},
	{MF_FIELD_("maximumPercent", MF_U32, struct model_deployment_config, max_percent),
	 .min = 100, .max = 1000, .def = 200},
};

static const struct model_rec ms_config_rec = {
	.size = sizeof(struct model_deployment_config),
	.fields = ms_config_fields,
	.nfields = sizeof(ms_config_fields) / sizeof(ms_config_fields[0]),
	.check = ms_config_check,
};

static int ms_check(const void *rec, struct model_path *p)
{
	const struct model_service *s = rec;
	size_t primary = 0;
	for (size_t i = 0; i < s->ndeployments; i++) {
		primary += s->deployments[i].status == MODEL_DEPLOYMENT_PRIMARY;
		for (size_t k = 0; k < i; k++)
			if (strcmp(s->deployments[i].id, s->deployments[k].id) == 0) {
				model_field_push(p, "deployments");
				model_field_push_index(p, i);
				model_field_push(p, "id");
				return model_field_fail(p, "\"%s\" is used twice",
							s->deployments[i].id);
			}
	}
	if (s->ndeployments > 0 && primary != 1)
		return model_field_fail_at(p, "deployments", "exactly one must be PRIMARY");
	return model_placement_check(s->strategies, s->nstrategies, s->constraints, s->nconstraints,
				     p);
}

static const struct mf ms_fields[] = {
	{MF_FIELD_("name", MF_STR, struct model_service, name), .flags = MF_REQ, .min = 1,
	 .max = MODEL_NAME_MAX, .cs = MCS_NAME},
	{MF_FIELD_("cluster", MF_STR, struct model_service, cluster), .flags = MF_REQ, .min = 1,
	 .max = MODEL_NAME_MAX, .cs = MCS_NAME},
	{MF_FIELD_("family", MF_STR, struct model_service, family), .flags = MF_REQ, .min = 1,
	 .max = MODEL_NAME_MAX, .cs = MCS_NAME},
	{MF_FIELD_("revision", MF_U32, struct model_service, revision), .flags = MF_REQ, .min = 1,
	 .max = MODEL_REVISION_MAX},
	{MF_FIELD_("desiredCount", MF_U32, struct model_service, desired_count), .flags = MF_REQ,
	 .max = MODEL_COUNT_MAX},
	{MF_FIELD_("placementStrategy", MF_ARRAY, struct model_service, strategies),
	 .count_off = offsetof(struct model_service, nstrategies), .max = MODEL_STRATEGIES_MAX,
	 .sub = &model_strategy_rec},
	{MF_FIELD_("placementConstraints", MF_ARRAY, struct model_service, constraints),
	 .count_off = offsetof(struct model_service, nconstraints), .max = MODEL_CONSTRAINTS_MAX,
	 .sub = &model_constraint_rec},
	{MF_FIELD_("deploymentConfiguration", MF_OBJ, struct model_service, config),
	 .sub = &ms_config_rec},
	{MF_FIELD_("deployments", MF_ARRAY, struct model_service, deployments),
	 .count_off = offsetof(struct model_service, ndeployments), .max = MODEL_DEPLOYMENTS_MAX,
	 .sub = &ms_deployment_rec},
	{MF_FIELD_("status", MF_ENUM, struct model_service, status), .flags = MF_REQ,
	 .names = ms_statuses},
	{MF_FIELD_("createdAt", MF_U64, struct model_service, created_ms), .flags = MF_REQ,
	 .max = INT64_MAX},
};

static const struct model_rec ms_rec = {
	.size = sizeof(struct model_service),
	.fields = ms_fields,
	.nfields = sizeof(ms_fields) / sizeof(ms_fields[0]),
	.check = ms_check,
};

MODEL_RECORD_API(service, struct model_service, ms_rec)
