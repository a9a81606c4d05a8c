/* client/model_field.c: the walks over the model's field tables that no format needs to
 * know: paths and messages, character sets, every field's checks, defaults, freeing. */
#include "client/model_field.h"

#include "client/txnjson.h"
#include "common/err.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(enum model_protocol) == sizeof(unsigned), "enums are unsigned-sized");
_Static_assert(sizeof(enum model_task_status) == sizeof(unsigned), "enums are unsigned-sized");

#define AT(rec, f, T) ((T *)((char *)(rec) + (f)->off))
#define CAT(rec, f, T) ((T const *)((const char *)(rec) + (f)->off))
#define COUNT(rec, f) ((size_t *)((char *)(rec) + (f)->count_off))
#define CCOUNT(rec, f) (*(const size_t *)((const char *)(rec) + (f)->count_off))

/* Appends n bytes of s to the path, cut to what the buffer holds (as snprintf cuts):
 * every decoded field pushes its name, so this runs for each field of each record a
 * worker reads (snprintf here was 40% of a worker's instructions, docs/performance.md). */
static void model_path_append(struct model_path *p, const char *s, size_t n)
{
	size_t room = sizeof(p->at) - 1 - p->len;
	if (n > room)
		n = room;
	memcpy(p->at + p->len, s, n);
	p->len += n;
	p->at[p->len] = '\0';
}

size_t model_field_push(struct model_path *p, const char *name)
{
	size_t old = p->len;
	if (p->len > 0)
		model_path_append(p, ".", 1);
	model_path_append(p, name, strlen(name));
	return old;
}

size_t model_field_push_index(struct model_path *p, size_t i)
{
	char buf[24];
	size_t n = sizeof(buf);
	buf[--n] = ']';
	do
		buf[--n] = (char)('0' + i % 10);
	while ((i /= 10) != 0);
	buf[--n] = '[';
	size_t old = p->len;
	model_path_append(p, buf + n, sizeof(buf) - n);
	return old;
}

void model_field_pop(struct model_path *p, size_t len)
{
	p->len = len;
	p->at[len] = '\0';
}

int model_field_fail(struct model_path *p, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->len > 0)
		snprintf(p->err, p->errlen, "%s: %s", p->at, msg);
	else
		snprintf(p->err, p->errlen, "%s", msg);
	return BERTH_EBADREQ;
}

int model_field_fail_at(struct model_path *p, const char *field, const char *msg)
{
	model_field_push(p, field);
	return model_field_fail(p, "%s", msg);
}

static int mc_in(const char *set, char c)
{
	return c != '\0' && strchr(set, c) != NULL;
}

static int mc_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

const char *model_field_charset(enum mf_charset cs, const char *s, size_t n)
{
	static const char *const what[MCS_COUNT] = {
		[MCS_TEXT] = "must be valid UTF-8",
		[MCS_NAME] = "must contain only letters, digits, '-' and '_'",
		[MCS_ID] = "must contain only letters, digits, '-', '_' and '.', and not start "
			   "with '.'",
		[MCS_GROUP] = "must be service:NAME or family:NAME",
		[MCS_IMAGE] = "must be printable ASCII without spaces",
		[MCS_ENV] = "must be a letter or '_' followed by letters, digits and '_'",
		[MCS_ATTR] = "must contain only letters, digits, '-', '_', '.' and '/'",
		[MCS_ATTRVAL] = "must contain only letters, digits, '-', '_', '.', '@', '/', ':' "
				"and inner spaces",
	};
	if (cs == MCS_TEXT)
		return txnjson_utf8((const uint8_t *)s, n) ? NULL : what[cs];
	if (cs == MCS_GROUP) {
		const char *name = strncmp(s, "service:", 8) == 0  ? s + 8
				   : strncmp(s, "family:", 7) == 0 ? s + 7
								   : NULL;
		size_t rest = name == NULL ? 0 : n - (size_t)(name - s);
		if (name == NULL || rest == 0 || rest > MODEL_NAME_MAX ||
		    model_field_charset(MCS_NAME, name, rest) != NULL)
			return what[cs];
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int ok = 0;
		switch (cs) {
		case MCS_NAME:
			ok = mc_alnum(c) || mc_in("-_", c);
			break;
		case MCS_ID:
			ok = mc_alnum(c) || mc_in("-_", c) || (c == '.' && i > 0);
			break;
		case MCS_IMAGE:
			ok = c > ' ' && c < 0x7f;
			break;
		case MCS_ENV:
			ok = mc_alnum(c) || c == '_';
			ok = ok && !(i == 0 && c >= '0' && c <= '9');
			break;
		case MCS_ATTR:
			ok = mc_alnum(c) || mc_in("-_./", c);
			break;
		case MCS_ATTRVAL:
			ok = mc_alnum(c) || mc_in("-_.@/:", c) || (c == ' ' && i > 0 && i + 1 < n);
			break;
		default:
			break;
		}
		if (!ok)
			return what[cs];
	}
	return NULL;
}

uint64_t model_field_uint(const struct mf *f, const void *rec)
{
	if (f->kind == MF_U16)
		return *CAT(rec, f, uint16_t);
	if (f->kind == MF_U32)
		return *CAT(rec, f, uint32_t);
	return *CAT(rec, f, uint64_t);
}

void model_field_set_uint(const struct mf *f, void *rec, uint64_t v)
{
	if (f->kind == MF_U16)
		*AT(rec, f, uint16_t) = (uint16_t)v;
	else if (f->kind == MF_U32)
		*AT(rec, f, uint32_t) = (uint32_t)v;
	else
		*AT(rec, f, uint64_t) = v;
}

int model_field_enum_fail(struct model_path *p, const struct mf *f)
{
	char list[160];
	size_t n = 0;
	list[0] = '\0';
	for (size_t k = 0; f->names[k] != NULL && n < sizeof(list); k++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", k > 0 ? ", " : "",
				      f->names[k]);
	return model_field_fail(p, "must be one of %s", list);
}

static int mc_check_str(const struct mf *f, const char *s, size_t max, struct model_path *p)
{
	size_t n = strlen(s);
	const char *why;
	if (n < f->min || n > max) {
		if (f->min == 0)
			return model_field_fail(p, "must be at most %zu characters", max);
		return model_field_fail(p, "must be %" PRIu64 "..%zu characters", f->min, max);
	}
	if ((why = model_field_charset(f->cs, s, n)) != NULL)
		return model_field_fail(p, "%s", why);
	return 0;
}

int model_field_count(const struct mf *f, size_t n, struct model_path *p)
{
	if (n >= f->min && n <= f->max)
		return 0;
	if (f->min == 0)
		return model_field_fail(p, "must have at most %" PRIu64 " entries", f->max);
	return model_field_fail(p, "must have %" PRIu64 "..%" PRIu64 " entries", f->min, f->max);
}

static size_t mc_names(const struct mf *f)
{
	size_t n = 0;
	while (f->names[n] != NULL)
		n++;
	return n;
}

static int mc_check_field(const struct mf *f, const void *rec, struct model_path *p)
{
	int rv;
	switch (f->kind) {
	case MF_STR: {
		const char *s = *CAT(rec, f, char *);
		if (s == NULL)
			return (f->flags & MF_REQ) ? model_field_fail(p, "required") : 0;
		return mc_check_str(f, s, f->max, p);
	}
	case MF_U16:
	case MF_U32:
	case MF_U64: {
		uint64_t v = model_field_uint(f, rec);
		if ((v < f->min || v > f->max) && !(v == 0 && (f->flags & MF_ZERO)))
			return model_field_fail(p, "must be %" PRIu64 "..%" PRIu64, f->min, f->max);
		return 0;
	}
	case MF_I64: {
		int64_t v = *CAT(rec, f, int64_t);
		if (*(const bool *)((const char *)rec + f->count_off) &&
		    (v < -(int64_t)f->min || v > (int64_t)f->max))
			return model_field_fail(p, "must be an integer in -%" PRIu64 "..%" PRIu64,
						f->min, f->max);
		return 0;
	}
	case MF_BOOL:
		return 0;
	case MF_ENUM:
		if (*CAT(rec, f, unsigned) >= mc_names(f))
			return model_field_fail(p, "unknown value %u", *CAT(rec, f, unsigned));
		return 0;
	case MF_STRS: {
		char *const *v = *CAT(rec, f, char **);
		size_t n = CCOUNT(rec, f);
		if ((rv = model_field_count(f, n, p)) != 0)
			return rv;
		for (size_t i = 0; i < n; i++) {
			size_t old = model_field_push_index(p, i);
			if (v[i] == NULL)
				return model_field_fail(p, "required");
			if ((rv = mc_check_str(f, v[i], f->elem_max, p)) != 0)
				return rv;
			model_field_pop(p, old);
		}
		return 0;
	}
	case MF_U16S: {
		const uint16_t *v = *CAT(rec, f, uint16_t *);
		size_t n = CCOUNT(rec, f);
		if ((rv = model_field_count(f, n, p)) != 0)
			return rv;
		for (size_t i = 0; i < n; i++) {
			size_t old = model_field_push_index(p, i);
			if (v[i] == 0)
				return model_field_fail(p, "must be 1..65535");
			for (size_t k = 0; k < i; k++)
				if (v[k] == v[i])
					return model_field_fail(p, "%u appears twice", v[i]);
			model_field_pop(p, old);
		}
		return 0;
	}
	case MF_ARRAY: {
		const char *v = *CAT(rec, f, char *);
		size_t n = CCOUNT(rec, f);
		if ((rv = model_field_count(f, n, p)) != 0)
			return rv;
		for (size_t i = 0; i < n; i++) {
			size_t old = model_field_push_index(p, i);
			if ((rv = model_field_check(f->sub, v + i * f->sub->size, p)) != 0)
				return rv;
			model_field_pop(p, old);
		}
		return 0;
	}
	case MF_OBJ:
		return model_field_check(f->sub, CAT(rec, f, char), p);
	}
	return model_field_fail(p, "unknown field kind");
}

int model_field_check(const struct model_rec *r, const void *rec, struct model_path *p)
{
	int rv;
	for (size_t i = 0; i < r->nfields; i++) {
		size_t old = model_field_push(p, r->fields[i].name);
		if ((rv = mc_check_field(&r->fields[i], rec, p)) != 0)
			return rv;
		model_field_pop(p, old);
	}
	return r->check != NULL ? r->check(rec, p) : 0;
}

void model_field_free(const struct model_rec *r, void *rec)
{
	if (rec == NULL)
		return;
	for (size_t i = 0; i < r->nfields; i++) {
		const struct mf *f = &r->fields[i];
		switch (f->kind) {
		case MF_STR:
			free(*AT(rec, f, char *));
			break;
		case MF_STRS:
			for (size_t k = 0; k < *COUNT(rec, f); k++)
				free((*AT(rec, f, char **))[k]);
			free(*AT(rec, f, char **));
			break;
		case MF_U16S:
			free(*AT(rec, f, uint16_t *));
			break;
		case MF_ARRAY: {
			char *v = *AT(rec, f, char *);
			for (size_t k = 0; v != NULL && k < *COUNT(rec, f); k++)
				model_field_free(f->sub, v + k * f->sub->size);
			free(v);
			break;
		}
		case MF_OBJ:
			model_field_free(f->sub, AT(rec, f, char));
			break;
		default:
			break;
		}
	}
	memset(rec, 0, r->size);
}

void model_field_defaults(const struct model_rec *r, void *rec)
{
	for (size_t i = 0; i < r->nfields; i++) {
		const struct mf *f = &r->fields[i];
		if (f->kind == MF_U16 || f->kind == MF_U32 || f->kind == MF_U64)
			model_field_set_uint(f, rec, f->def);
		else if (f->kind == MF_BOOL)
			*AT(rec, f, bool) = f->def != 0;
		else if (f->kind == MF_ENUM)
			*AT(rec, f, unsigned) = (unsigned)f->def;
		else if (f->kind == MF_OBJ)
			model_field_defaults(f->sub, AT(rec, f, char));
	}
}
