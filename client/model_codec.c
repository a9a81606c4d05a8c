/* client/model_codec.c: the model's records in msgpack, from their field tables: versioned
 * encoding of checked records, and decoding of hostile bytes (client/model_field.h). */
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

int model_field_present(const struct mf *f, const void *rec)
{
	if (f->kind == MF_U16 && (f->flags & MF_ZERO))
		return *CAT(rec, f, uint16_t) != 0;
	if (f->kind == MF_STR)
		return *CAT(rec, f, char *) != NULL;
	if (f->kind == MF_I64)
		return *(const bool *)((const char *)rec + f->count_off);
	return 1;
}

static void mc_pack(const struct model_rec *r, const void *rec, msgpack_packer *pk, bool top)
{
	size_t n = top ? 1 : 0;
	for (size_t i = 0; i < r->nfields; i++)
		n += (size_t)model_field_present(&r->fields[i], rec);
	msgpack_pack_map(pk, n);
	if (top)
		mp_pack_kv_u64(pk, "v", MODEL_FORMAT_VERSION);
	for (size_t i = 0; i < r->nfields; i++) {
		const struct mf *f = &r->fields[i];
		if (!model_field_present(f, rec))
			continue;
		mp_pack_cstr(pk, f->name);
		switch (f->kind) {
		case MF_STR:
			mp_pack_cstr(pk, *CAT(rec, f, char *));
			break;
		case MF_U16:
		case MF_U32:
		case MF_U64:
			msgpack_pack_uint64(pk, model_field_uint(f, rec));
			break;
		case MF_I64:
			msgpack_pack_int64(pk, *CAT(rec, f, int64_t));
			break;
		case MF_BOOL:
			if (*CAT(rec, f, bool))
				msgpack_pack_true(pk);
			else
				msgpack_pack_false(pk);
			break;
		case MF_ENUM:
			mp_pack_cstr(pk, f->names[*CAT(rec, f, unsigned)]);
			break;
		case MF_STRS:
			msgpack_pack_array(pk, CCOUNT(rec, f));
			for (size_t k = 0; k < CCOUNT(rec, f); k++)
				mp_pack_cstr(pk, (*CAT(rec, f, char **))[k]);
			break;
		case MF_U16S:
			msgpack_pack_array(pk, CCOUNT(rec, f));
			for (size_t k = 0; k < CCOUNT(rec, f); k++)
				msgpack_pack_uint64(pk, (*CAT(rec, f, uint16_t *))[k]);
			break;
		case MF_ARRAY:
			msgpack_pack_array(pk, CCOUNT(rec, f));
			for (size_t k = 0; k < CCOUNT(rec, f); k++)
				mc_pack(f->sub, *CAT(rec, f, char *) + k * f->sub->size, pk, false);
			break;
		case MF_OBJ:
			mc_pack(f->sub, CAT(rec, f, char), pk, false);
			break;
		}
	}
}

int model_codec_encode(const struct model_rec *r, const void *rec, struct mp_buf *out, char *err,
		       size_t errlen)
{
	struct model_path p = {.err = err, .errlen = errlen};
	int rv;
	if ((rv = model_field_check(r, rec, &p)) != 0)
		return rv;
	size_t start = out->len;
	mc_pack(r, rec, &out->pk, true);
	if ((rv = mp_buf_error(out)) != 0) {
		out->len = start;
		snprintf(err, errlen, "%s", err_text(rv));
	}
	return rv;
}

static char *mc_strdup(const char *s, size_t n)
{
	char *c = malloc(n + 1);
	if (c != NULL) {
		memcpy(c, s, n);
		c[n] = '\0';
	}
	return c;
}

/* A msgpack string into a new C string; `max` bounds the copy. */
static int mc_str(const msgpack_object *o, char **out, struct model_path *p)
{
	if (o->type != MSGPACK_OBJECT_STR)
		return model_field_fail(p, "must be a string");
	if (memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL)
		return model_field_fail(p, "must not contain NUL bytes");
	if ((*out = mc_strdup(o->via.str.ptr, o->via.str.size)) == NULL)
		return BERTH_ENOMEM;
	return 0;
}

static int mc_uint(const struct mf *f, const msgpack_object *o, uint64_t *v, struct model_path *p)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    o->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return model_field_fail(p, "must be an integer");
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER || o->via.u64 < f->min ||
	    o->via.u64 > f->max)
		return model_field_fail(p, "must be %" PRIu64 "..%" PRIu64, f->min, f->max);
	*v = o->via.u64;
	return 0;
}

static int mc_array(const struct mf *f, const msgpack_object *o, struct model_path *p)
{
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return model_field_fail(p, "must be an array");
	if (o->via.array.size > f->max)
		return model_field_count(f, o->via.array.size, p);
	return 0;
}

static int mc_unpack(const struct model_rec *r, const msgpack_object *o, void *rec, bool top,
		     struct model_path *p);

static int mc_field(const struct mf *f, const msgpack_object *o, void *rec, struct model_path *p)
{
	uint64_t u = 0;
	int rv;
	switch (f->kind) {
	case MF_STR:
		return mc_str(o, AT(rec, f, char *), p);
	case MF_U16:
	case MF_U32:
	case MF_U64:
		if ((rv = mc_uint(f, o, &u, p)) != 0)
			return rv;
		model_field_set_uint(f, rec, u);
		return 0;
	case MF_I64: {
		int64_t v;
		if (mp_get_i64(o, &v) != 0 || v < -(int64_t)f->min || v > (int64_t)f->max)
			return model_field_fail(p, "must be an integer in -%" PRIu64 "..%" PRIu64,
						f->min, f->max);
		*AT(rec, f, int64_t) = v;
		*(bool *)((char *)rec + f->count_off) = true;
		return 0;
	}
	case MF_BOOL:
		if (o->type != MSGPACK_OBJECT_BOOLEAN)
			return model_field_fail(p, "must be true or false");
		*AT(rec, f, bool) = o->via.boolean;
		return 0;
	case MF_ENUM:
		if (o->type == MSGPACK_OBJECT_STR)
			for (unsigned k = 0; f->names[k] != NULL; k++)
				if (strlen(f->names[k]) == o->via.str.size &&
				    memcmp(f->names[k], o->via.str.ptr, o->via.str.size) == 0) {
					*AT(rec, f, unsigned) = k;
					return 0;
				}
		return model_field_enum_fail(p, f);
	case MF_STRS:
		if ((rv = mc_array(f, o, p)) != 0)
			return rv;
		if (o->via.array.size == 0)
			return 0;
		if ((*AT(rec, f, char **) = calloc(o->via.array.size, sizeof(char *))) == NULL)
			return BERTH_ENOMEM;
		*COUNT(rec, f) = o->via.array.size;
		for (size_t k = 0; k < o->via.array.size; k++) {
			size_t old = model_field_push_index(p, k);
			if ((rv = mc_str(&o->via.array.ptr[k], &(*AT(rec, f, char **))[k], p)) != 0)
				return rv;
			model_field_pop(p, old);
		}
		return 0;
	case MF_U16S: {
		struct mf port = {.min = 1, .max = 65535};
		if ((rv = mc_array(f, o, p)) != 0)
			return rv;
		if (o->via.array.size == 0)
			return 0;
		if ((*AT(rec, f, uint16_t *) = calloc(o->via.array.size, sizeof(uint16_t))) == NULL)
			return BERTH_ENOMEM;
		*COUNT(rec, f) = o->via.array.size;
		for (size_t k = 0; k < o->via.array.size; k++) {
			size_t old = model_field_push_index(p, k);
			if ((rv = mc_uint(&port, &o->via.array.ptr[k], &u, p)) != 0)
				return rv;
			(*AT(rec, f, uint16_t *))[k] = (uint16_t)u;
			model_field_pop(p, old);
		}
		return 0;
	}
	case MF_ARRAY: {
		if ((rv = mc_array(f, o, p)) != 0)
			return rv;
		if (o->via.array.size == 0)
			return 0;
		char *v = calloc(o->via.array.size, f->sub->size);
		if (v == NULL)
			return BERTH_ENOMEM;
		*AT(rec, f, char *) = v;
		*COUNT(rec, f) = o->via.array.size;
		for (size_t k = 0; k < o->via.array.size; k++) {
			size_t old = model_field_push_index(p, k);
			if ((rv = mc_unpack(f->sub, &o->via.array.ptr[k], v + k * f->sub->size,
					    false, p)) != 0)
				return rv;
			model_field_pop(p, old);
		}
		return 0;
	}
	case MF_OBJ:
		return mc_unpack(f->sub, o, AT(rec, f, char), false, p);
	}
	return model_field_fail(p, "unknown field kind");
}

static int mc_unpack(const struct model_rec *r, const msgpack_object *o, void *rec, bool top,
		     struct model_path *p)
{
	uint64_t seen = 0;
	bool version = false;
	int rv;

	if (o->type != MSGPACK_OBJECT_MAP)
		return model_field_fail(p, "must be a map");
	model_field_defaults(r, rec);
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
		size_t j;
		if (k->type != MSGPACK_OBJECT_STR)
			return model_field_fail(p, "field names must be strings");
		if (top && k->via.str.size == 1 && k->via.str.ptr[0] == 'v') {
			if (version)
				return model_field_fail(p, "duplicate field \"v\"");
			version = true;
			if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
			    v->via.u64 != MODEL_FORMAT_VERSION)
				return model_field_fail(p,
							"unsupported format version (this is %d)",
							MODEL_FORMAT_VERSION);
			continue;
		}
		for (j = 0; j < r->nfields; j++)
			if (strlen(r->fields[j].name) == k->via.str.size &&
			    memcmp(r->fields[j].name, k->via.str.ptr, k->via.str.size) == 0)
				break;
		if (j == r->nfields)
			return model_field_fail(p, "unknown field \"%.*s\"",
						(int)(k->via.str.size > 40 ? 40 : k->via.str.size),
						k->via.str.ptr);
		if (seen & (1ull << j))
			return model_field_fail(p, "duplicate field \"%s\"", r->fields[j].name);
		seen |= 1ull << j;
		size_t old = model_field_push(p, r->fields[j].name);
		if ((rv = mc_field(&r->fields[j], v, rec, p)) != 0)
			return rv;
		model_field_pop(p, old);
	}
	if (top && !version)
		return model_field_fail(p, "missing format version \"v\"");
	for (size_t j = 0; j < r->nfields; j++)
		if ((r->fields[j].flags & MF_REQ) && !(seen & (1ull << j)))
			return model_field_fail_at(p, r->fields[j].name, "required");
	return 0;
}

int model_codec_decode(const struct model_rec *r, const uint8_t *buf, size_t n, void *rec,
		       char *err, size_t errlen)
{
	struct model_path p = {.err = err, .errlen = errlen};
	struct mp_doc d;
	int rv;

	memset(rec, 0, r->size);
	if ((rv = mp_doc_init(&d, buf, n)) != 0) {
		snprintf(err, errlen, "%s",
			 rv == BERTH_ENOMEM ? err_text(rv) : "not one well-formed msgpack object");
		return rv;
	}
	rv = mc_unpack(r, d.root, rec, true, &p);
	if (rv == 0 && r->fill != NULL)
		r->fill(rec);
	if (rv == 0)
		rv = model_field_check(r, rec, &p);
	mp_doc_close(&d);
	if (rv != 0) {
		if (rv == BERTH_ENOMEM)
			snprintf(err, errlen, "%s", err_text(rv));
		model_field_free(r, rec);
	}
	return rv;
}
