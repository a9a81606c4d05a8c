/* client/model_json.c: the field-table engine for JSON (jansson): the model's records as
 * ECS-shaped objects and back, with the same checks as msgpack (client/model_field.h). */
#include "client/model_field.h"

#include "common/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AT(rec, f, T) ((T *)((char *)(rec) + (f)->off))
#define CAT(rec, f, T) ((T const *)((const char *)(rec) + (f)->off))
#define COUNT(rec, f) ((size_t *)((char *)(rec) + (f)->count_off))
#define CCOUNT(rec, f) (*(const size_t *)((const char *)(rec) + (f)->count_off))

static json_t *mj_value(const struct mf *f, const void *rec)
{
	json_t *a;
	switch (f->kind) {
	case MF_STR:
		return json_string(*CAT(rec, f, char *));
	case MF_U16:
	case MF_U32:
	case MF_U64:
		/* Times and lease ids too: their tables bound them to int64, jansson's range. */
		return json_integer((json_int_t)model_field_uint(f, rec));
	case MF_I64:
		return json_integer((json_int_t)*CAT(rec, f, int64_t));
	case MF_BOOL:
		return json_boolean(*CAT(rec, f, bool));
	case MF_ENUM:
		return json_string(f->names[*CAT(rec, f, unsigned)]);
	case MF_OBJ:
		return model_json_to(f->sub, CAT(rec, f, char));
	default:
		break;
	}
	if ((a = json_array()) == NULL)
		return NULL;
	for (size_t k = 0; k < CCOUNT(rec, f); k++) {
		json_t *e =
			f->kind == MF_STRS ? json_string((*CAT(rec, f, char **))[k])
			: f->kind == MF_U16S
				? json_integer((*CAT(rec, f, uint16_t *))[k])
				: model_json_to(f->sub, *CAT(rec, f, char *) + k * f->sub->size);
		if (json_array_append_new(a, e) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

json_t *model_json_to(const struct model_rec *r, const void *rec)
{
	json_t *o = json_object();
	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < r->nfields; i++) {
		const struct mf *f = &r->fields[i];
		if (!model_field_present(f, rec))
			continue;
		if (json_object_set_new(o, f->name, mj_value(f, rec)) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static int mj_str(const json_t *v, char **out, struct model_path *p)
{
	if (!json_is_string(v))
		return model_field_fail(p, "must be a string");
	size_t n = json_string_length(v);
	if (memchr(json_string_value(v), '\0', n) != NULL)
		return model_field_fail(p, "must not contain NUL characters");
	if ((*out = malloc(n + 1)) == NULL)
		return BERTH_ENOMEM;
	memcpy(*out, json_string_value(v), n + 1);
	return 0;
}

static int mj_uint(const struct mf *f, const json_t *v, bool input, uint64_t *out,
		   struct model_path *p)
{
	if (input && (f->flags & MF_NUMSTR) && json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		uint64_t x = 0;
		if (n == 0 || n > 19 || strspn(s, "0123456789") != n)
			return model_field_fail(p, "must be an integer or a string of digits");
		for (size_t i = 0; i < n; i++)
			x = x * 10 + (uint64_t)(s[i] - '0');
		if (x < f->min || x > f->max)
			return model_field_fail(p, "must be %" PRIu64 "..%" PRIu64, f->min, f->max);
		*out = x;
		return 0;
	}
	if (!json_is_integer(v))
		return model_field_fail(p, "must be an integer");
	json_int_t x = json_integer_value(v);
	if (x < 0 || (uint64_t)x < f->min || (uint64_t)x > f->max)
		return model_field_fail(p, "must be %" PRIu64 "..%" PRIu64, f->min, f->max);
	*out = (uint64_t)x;
	return 0;
}

static int mj_array(const struct mf *f, const json_t *v, size_t elem, void **out,
		    struct model_path *p)
{
	if (!json_is_array(v))
		return model_field_fail(p, "must be an array");
	size_t n = json_array_size(v);
	if (n > f->max)
		return model_field_count(f, n, p);
	if (n == 0)
		return 0;
	if ((*out = calloc(n, elem)) == NULL)
		return BERTH_ENOMEM;
	return 0;
}

static int mj_fields(const struct model_rec *r, const json_t *o, bool input, void *rec,
		     struct model_path *p);

static int mj_field(const struct mf *f, const json_t *v, bool input, void *rec,
		    struct model_path *p)
{
	struct mf port = {.min = 1, .max = 65535};
	uint64_t u;
	int rv;
	switch (f->kind) {
	case MF_STR:
		return mj_str(v, AT(rec, f, char *), p);
	case MF_U16:
	case MF_U32:
	case MF_U64:
		if ((rv = mj_uint(f, v, input, &u, p)) != 0)
			return rv;
		model_field_set_uint(f, rec, u);
		return 0;
	case MF_I64:
		if (!json_is_integer(v) || json_integer_value(v) < -(json_int_t)f->min ||
		    json_integer_value(v) > (json_int_t)f->max)
			return model_field_fail(p, "must be an integer in -%" PRIu64 "..%" PRIu64,
						f->min, f->max);
		*AT(rec, f, int64_t) = json_integer_value(v);
		*(bool *)((char *)rec + f->count_off) = true;
		return 0;
	case MF_BOOL:
		if (!json_is_boolean(v))
			return model_field_fail(p, "must be true or false");
		*AT(rec, f, bool) = json_is_true(v);
		return 0;
	case MF_ENUM:
		if (json_is_string(v))
			for (unsigned k = 0; f->names[k] != NULL; k++)
				if (strcmp(f->names[k], json_string_value(v)) == 0) {
					*AT(rec, f, unsigned) = k;
					return 0;
				}
		return model_field_enum_fail(p, f);
	case MF_OBJ:
		return mj_fields(f->sub, v, input, AT(rec, f, char), p);
	default:
		break;
	}
	size_t elem = f->kind == MF_STRS   ? sizeof(char *)
		      : f->kind == MF_U16S ? sizeof(uint16_t)
					   : f->sub->size;
	if ((rv = mj_array(f, v, elem, AT(rec, f, void *), p)) != 0 || json_array_size(v) == 0)
		return rv;
	*COUNT(rec, f) = json_array_size(v);
	for (size_t k = 0; k < json_array_size(v); k++) {
		size_t old = model_field_push_index(p, k);
		const json_t *e = json_array_get(v, k);
		if (f->kind == MF_STRS)
			rv = mj_str(e, &(*AT(rec, f, char **))[k], p);
		else if (f->kind == MF_U16S && (rv = mj_uint(&port, e, false, &u, p)) == 0)
			(*AT(rec, f, uint16_t *))[k] = (uint16_t)u;
		else if (f->kind == MF_ARRAY)
			rv = mj_fields(f->sub, e, input, *AT(rec, f, char *) + k * f->sub->size, p);
		if (rv != 0)
			return rv;
		model_field_pop(p, old);
	}
	return 0;
}

static int mj_fields(const struct model_rec *r, const json_t *o, bool input, void *rec,
		     struct model_path *p)
{
	const char *k;
	json_t *v;
	int rv;

	if (!json_is_object(o))
		return model_field_fail(p, "must be an object");
	model_field_defaults(r, rec);
	json_object_foreach((json_t *)o, k, v)
	{
		size_t j;
		for (j = 0; j < r->nfields; j++)
			if (strcmp(r->fields[j].name, k) == 0)
				break;
		if (j == r->nfields)
			return model_field_fail(p, "unknown field \"%.40s\"", k);
		size_t old = model_field_push(p, k);
		if (input && (r->fields[j].flags & MF_OUT))
			return model_field_fail(p, "set by berth, not accepted here");
		if ((rv = mj_field(&r->fields[j], v, input, rec, p)) != 0)
			return rv;
		model_field_pop(p, old);
	}
	for (size_t j = 0; j < r->nfields; j++)
		if ((r->fields[j].flags & MF_REQ) && json_object_get(o, r->fields[j].name) == NULL)
			return model_field_fail_at(p, r->fields[j].name, "required");
	return 0;
}

int model_json_from(const struct model_rec *r, const json_t *obj, bool input, void *rec,
		    struct model_path *p)
{
	int rv;
	memset(rec, 0, r->size);
	rv = mj_fields(r, obj, input, rec, p);
	if (rv == 0 && r->fill != NULL)
		r->fill(rec);
	if (rv == 0)
		rv = model_field_check(r, rec, p);
	if (rv != 0) {
		if (rv == BERTH_ENOMEM)
			snprintf(p->err, p->errlen, "%s", err_text(rv));
		model_field_free(r, rec);
	}
	return rv;
}

int model_json_decode(const struct model_rec *r, const json_t *obj, bool input, void *rec,
		      char *err, size_t errlen)
{
	struct model_path p = {.err = err, .errlen = errlen};
	return model_json_from(r, obj, input, rec, &p);
}
