/* client/model_placement.c: placement strategies and constraints: their tables and rules,
 * the ECS JSON objects and the compact command line forms. */
#include "client/model_field.h"

#include "common/err.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const mp_strategy_types[] = {"binpack", "spread", "random", NULL};
static const char *const mp_constraint_types[] = {"distinctInstance", "memberOf", NULL};

#define MP_ATTR_PREFIX "attribute:"
#define MP_ATTR_PREFIX_LEN 10

int model_strategy_field(const struct model_strategy *s, const char **attr)
{
	if (s->type == MODEL_RANDOM || s->field == NULL)
		return -1;
	if (strcmp(s->field, "cpu") == 0)
		return MODEL_FIELD_CPU;
	if (strcmp(s->field, "memory") == 0)
		return MODEL_FIELD_MEMORY;
	if (strcmp(s->field, "instanceId") == 0)
		return MODEL_FIELD_INSTANCE_ID;
	if (attr != NULL)
		*attr = s->field + MP_ATTR_PREFIX_LEN;
	return MODEL_FIELD_ATTR;
}

static int mp_strategy_check(const void *rec, struct model_path *p)
{
	const struct model_strategy *s = rec;
	const char *f = s->field;
	switch (s->type) {
	case MODEL_BINPACK:
		if (f == NULL || (strcmp(f, "cpu") != 0 && strcmp(f, "memory") != 0))
			return model_field_fail_at(p, "field", "binpack takes cpu or memory");
		return 0;
	case MODEL_SPREAD:
		if (f != NULL && strcmp(f, "instanceId") == 0)
			return 0;
		if (f == NULL || strncmp(f, MP_ATTR_PREFIX, MP_ATTR_PREFIX_LEN) != 0 ||
		    strlen(f) == MP_ATTR_PREFIX_LEN ||
		    strlen(f) > MP_ATTR_PREFIX_LEN + MODEL_ATTR_NAME_MAX ||
		    model_field_charset(MCS_ATTR, f + MP_ATTR_PREFIX_LEN,
					strlen(f) - MP_ATTR_PREFIX_LEN) != NULL)
			return model_field_fail_at(p, "field",
						   "spread takes instanceId or attribute:NAME");
		return 0;
	case MODEL_RANDOM:
		if (f != NULL)
			return model_field_fail_at(p, "field", "random takes no field");
		return 0;
	}
	return model_field_fail_at(p, "type", "unknown strategy");
}

static int mp_constraint_check(const void *rec, struct model_path *p)
{
	const struct model_constraint *c = rec;
	if (c->type == MODEL_DISTINCT_INSTANCE && c->expression != NULL)
		return model_field_fail_at(p, "expression", "distinctInstance takes no expression");
	if (c->type == MODEL_MEMBER_OF && c->expression == NULL)
		return model_field_fail_at(p, "expression", "required for memberOf");
	return 0;
}

static const struct mf mp_strategy_fields[] = {
	{MF_FIELD_("type", MF_ENUM, struct model_strategy, type), .flags = MF_REQ,
	 .names = mp_strategy_types},
	{MF_FIELD_("field", MF_STR, struct model_strategy, field), .min = 1,
	 .max = MP_ATTR_PREFIX_LEN + MODEL_ATTR_NAME_MAX, .cs = MCS_TEXT},
};

const struct model_rec model_strategy_rec = {
	.size = sizeof(struct model_strategy),
	.fields = mp_strategy_fields,
	.nfields = sizeof(mp_strategy_fields) / sizeof(mp_strategy_fields[0]),
	.check = mp_strategy_check,
};

static const struct mf mp_constraint_fields[] = {
	{MF_FIELD_("type", MF_ENUM, struct model_constraint, type), .flags = MF_REQ,
	 .names = mp_constraint_types},
	{MF_FIELD_("expression", MF_STR, struct model_constraint, expression), .min = 1,
	 .max = MODEL_EXPRESSION_MAX, .cs = MCS_TEXT},
};

const struct model_rec model_constraint_rec = {
	.size = sizeof(struct model_constraint),
	.fields = mp_constraint_fields,
	.nfields = sizeof(mp_constraint_fields) / sizeof(mp_constraint_fields[0]),
	.check = mp_constraint_check,
};

int model_placement_check(const struct model_strategy *s, size_t ns,
			  const struct model_constraint *c, size_t nc, struct model_path *p)
{
	(void)s;
	(void)ns;
	for (size_t i = 0; i < nc; i++)
		for (size_t k = 0; k < i; k++)
			if (c[i].type == MODEL_DISTINCT_INSTANCE &&
			    c[k].type == MODEL_DISTINCT_INSTANCE) {
				model_field_push(p, "placementConstraints");
				model_field_push_index(p, i);
				return model_field_fail(p, "distinctInstance is already given");
			}
	return 0;
}

int model_strategy_from_json(const json_t *obj, struct model_strategy *out, char *err,
			     size_t errlen)
{
	return model_json_decode(&model_strategy_rec, obj, true, out, err, errlen);
}

int model_constraint_from_json(const json_t *obj, struct model_constraint *out, char *err,
			       size_t errlen)
{
	return model_json_decode(&model_constraint_rec, obj, true, out, err, errlen);
}

/* "TYPE[:REST]" into the record: type by name, REST as the record's text field. */
static int mp_parse(const struct model_rec *r, const char *what, const char *s, void *rec,
		    char **text, char *err, size_t errlen)
{
	const struct mf *type = &r->fields[0];
	const char *colon = strchr(s, ':');
	size_t tlen = colon != NULL ? (size_t)(colon - s) : strlen(s);
	struct model_path p = {.err = err, .errlen = errlen};
	unsigned k;
	int rv;

	memset(rec, 0, r->size);
	for (k = 0; type->names[k] != NULL; k++)
		if (strlen(type->names[k]) == tlen && strncmp(type->names[k], s, tlen) == 0)
			break;
	if (type->names[k] == NULL) {
		snprintf(err, errlen, "unknown %s \"%.*s\"", what, (int)(tlen > 40 ? 40 : tlen), s);
		return BERTH_EBADREQ;
	}
	*(unsigned *)((char *)rec + type->off) = k;
	if (colon != NULL && (*text = strdup(colon + 1)) == NULL) {
		snprintf(err, errlen, "%s", err_text(BERTH_ENOMEM));
		return BERTH_ENOMEM;
	}
	if ((rv = model_field_check(r, rec, &p)) != 0)
		model_field_free(r, rec);
	return rv;
}

int model_strategy_parse(const char *s, struct model_strategy *out, char *err, size_t errlen)
{
	return mp_parse(&model_strategy_rec, "strategy", s, out, &out->field, err, errlen);
}

int model_constraint_parse(const char *s, struct model_constraint *out, char *err, size_t errlen)
{
	return mp_parse(&model_constraint_rec, "constraint", s, out, &out->expression, err, errlen);
}

size_t model_strategy_format(const struct model_strategy *s, char *out, size_t n)
{
	assert(s->type <= MODEL_RANDOM);
	int rv = snprintf(out, n, "%s%s%s", mp_strategy_types[s->type], s->field ? ":" : "",
			  s->field ? s->field : "");
	return rv < 0 ? 0 : (size_t)rv;
}

size_t model_constraint_format(const struct model_constraint *c, char *out, size_t n)
{
	assert(c->type <= MODEL_MEMBER_OF);
	int rv = snprintf(out, n, "%s%s%s", mp_constraint_types[c->type], c->expression ? ":" : "",
			  c->expression ? c->expression : "");
	return rv < 0 ? 0 : (size_t)rv;
}

void model_strategy_free(struct model_strategy *s)
{
	model_field_free(&model_strategy_rec, s);
}

void model_constraint_free(struct model_constraint *c)
{
	model_field_free(&model_constraint_rec, c);
}
