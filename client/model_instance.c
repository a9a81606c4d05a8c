/* client/model_instance.c: instances: their field table, their rules (sorted disjoint port
 * ranges, unique attributes) and lookups. */
#include "client/model_field.h"

#include <string.h>

static const char *const mi_statuses[] = {"ACTIVE", "DRAINING", NULL};

static int mi_range_check(const void *rec, struct model_path *p)
{
	const struct model_port_range *r = rec;
	if (r->from > r->to)
		return model_field_fail_at(p, "to", "must not be below from");
	return 0;
}

static const struct mf mi_range_fields[] = {
	{MF_FIELD_("from", MF_U16, struct model_port_range, from), .flags = MF_REQ, .min = 1,
	 .max = 65535},
	{MF_FIELD_("to", MF_U16, struct model_port_range, to), .flags = MF_REQ, .min = 1,
	 .max = 65535},
};

static const struct model_rec mi_range_rec = {
	.size = sizeof(struct model_port_range),
	.fields = mi_range_fields,
	.nfields = sizeof(mi_range_fields) / sizeof(mi_range_fields[0]),
	.check = mi_range_check,
};

static const struct mf mi_attr_fields[] = {
	{MF_FIELD_("name", MF_STR, struct model_pair, name), .flags = MF_REQ, .min = 1,
	 .max = MODEL_ATTR_NAME_MAX, .cs = MCS_ATTR},
	{MF_FIELD_("value", MF_STR, struct model_pair, value), .flags = MF_REQ, .min = 1,
	 .max = MODEL_ATTR_VALUE_MAX, .cs = MCS_ATTRVAL},
};

static const struct model_rec mi_attr_rec = {
	.size = sizeof(struct model_pair),
	.fields = mi_attr_fields,
	.nfields = sizeof(mi_attr_fields) / sizeof(mi_attr_fields[0]),
};

static int mi_check(const void *rec, struct model_path *p)
{
	const struct model_instance *in = rec;
	for (size_t i = 1; i < in->nports; i++)
		if (in->ports[i].from <= in->ports[i - 1].to) {
			model_field_push(p, "ports");
			model_field_push_index(p, i);
			return model_field_fail(p, "ranges must be sorted and must not overlap");
		}
	for (size_t i = 1; i < in->nattributes; i++)
		for (size_t k = 0; k < i; k++)
			if (strcmp(in->attributes[i].name, in->attributes[k].name) == 0) {
				model_field_push(p, "attributes");
				model_field_push_index(p, i);
				model_field_push(p, "name");
				return model_field_fail(p, "\"%s\" is used twice",
							in->attributes[i].name);
			}
	return 0;
}

static const struct mf mi_fields[] = {
	{MF_FIELD_("id", MF_STR, struct model_instance, id), .flags = MF_REQ, .min = 1,
	 .max = MODEL_ID_MAX, .cs = MCS_ID},
	{MF_FIELD_("cluster", MF_STR, struct model_instance, cluster), .flags = MF_REQ, .min = 1,
	 .max = MODEL_NAME_MAX, .cs = MCS_NAME},
	{MF_FIELD_("cpu", MF_U32, struct model_instance, cpu), .flags = MF_REQ,
	 .max = MODEL_CPU_MAX},
	{MF_FIELD_("memory", MF_U32, struct model_instance, memory), .flags = MF_REQ,
	 .max = MODEL_MEMORY_MAX},
	{MF_FIELD_("ports", MF_ARRAY, struct model_instance, ports),
	 .count_off = offsetof(struct model_instance, nports), .max = MODEL_PORT_RANGES_MAX,
	 .sub = &mi_range_rec},
	{MF_FIELD_("attributes", MF_ARRAY, struct model_instance, attributes),
	 .count_off = offsetof(struct model_instance, nattributes), .max = MODEL_ATTRS_MAX,
	 .sub = &mi_attr_rec},
	{MF_FIELD_("status", MF_ENUM, struct model_instance, status), .flags = MF_REQ,
	 .names = mi_statuses},
	{MF_FIELD_("registeredAt", MF_U64, struct model_instance, registered_ms), .flags = MF_REQ,
	 .max = INT64_MAX},
	{MF_FIELD_("lease", MF_U64, struct model_instance, lease), .flags = MF_REQ,
	 .max = INT64_MAX},
};

static const struct model_rec mi_rec = {
	.size = sizeof(struct model_instance),
	.fields = mi_fields,
	.nfields = sizeof(mi_fields) / sizeof(mi_fields[0]),
	.check = mi_check,
};

MODEL_RECORD_API(instance, struct model_instance, mi_rec)

const char *model_instance_attr(const struct model_instance *in, const char *name)
{
	for (size_t i = 0; i < in->nattributes; i++)
		if (strcmp(in->attributes[i].name, name) == 0)
			return in->attributes[i].value;
	return NULL;
}

int model_instance_offers(const struct model_instance *in, uint16_t port)
{
	for (size_t i = 0; i < in->nports; i++)
		if (port >= in->ports[i].from && port <= in->ports[i].to)
			return 1;
	return 0;
}
