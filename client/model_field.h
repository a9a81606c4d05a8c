/* client/model_field.h: the model's records declared once as field tables, from which one
 * engine validates, encodes, decodes, prints and reads them (checks, defaults and freeing
 * in model_field.c, msgpack in model_codec.c, JSON in model_json.c). Internal to
 * client/model*.c; the contract is client/model.h.
 *
 * A table names each field (the same name in msgpack and JSON), its kind, where it lives
 * in the struct, its limits and whether it is required; a record adds its own rules in
 * `check` (and defaults that depend on other fields in `fill`, run after reading). */
#ifndef BERTH_CLIENT_MODEL_FIELD_H
#define BERTH_CLIENT_MODEL_FIELD_H

#include "client/model.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mf_kind {
	MF_STR,   /* char *; min..max bytes, charset `cs`; optional: NULL when absent */
	MF_U16,   /* uint16_t in min..max */
	MF_U32,   /* uint32_t in min..max */
	MF_U64,   /* uint64_t */
	MF_I64,   /* int64_t in [-(min), max]; presence in the bool at `count_off` */
	MF_BOOL,  /* bool */
	MF_ENUM,  /* an enum (unsigned-sized) stored by its name in `names` */
	MF_STRS,  /* char **, count at count_off; min..max elements of elem_max bytes */
	MF_U16S,  /* uint16_t *, count at count_off; elements 1..65535 */
	MF_ARRAY, /* sub-records (`sub`) at a pointer, count at count_off, min..max of them */
	MF_OBJ    /* one sub-record embedded in the struct */
};

enum mf_charset {
	MCS_TEXT,    /* valid UTF-8 */
	MCS_NAME,    /* [A-Za-z0-9_-] */
	MCS_ID,      /* [A-Za-z0-9_.-], not starting with '.' */
	MCS_GROUP,   /* service:NAME | family:NAME */
	MCS_IMAGE,   /* printable ASCII without spaces */
	MCS_ENV,     /* [A-Za-z_][A-Za-z0-9_]* */
	MCS_ATTR,    /* [A-Za-z0-9_./-] */
	MCS_ATTRVAL, /* [A-Za-z0-9_.@/:-] and spaces, not at either end */
	MCS_COUNT
};

#define MF_REQ 1u    /* required */
#define MF_OUT 2u    /* written by berth, refused in input JSON (taskdef register) */
#define MF_NUMSTR 4u /* JSON input may give the number as a string of digits */
#define MF_ZERO 8u   /* MF_U16: 0 means absent (not written, not checked; read: refused) */

struct model_rec;

struct mf {
	const char *name;
	enum mf_kind kind;
	unsigned flags;
	size_t off;
	size_t count_off;
	uint64_t min, max;
	uint64_t def; /* optional numbers, bools and enums when absent */
	enum mf_charset cs;
	size_t elem_max;             /* MF_STRS: bytes per element */
	const char *const *names;    /* MF_ENUM: the names, NULL-terminated */
	const struct model_rec *sub; /* MF_ARRAY, MF_OBJ */
};

/* Where a check failed, and the message buffer. */
struct model_path {
	char *err;
	size_t errlen;
	char at[200];
	size_t len;
};

struct model_rec {
	size_t size;
	const struct mf *fields;
	size_t nfields;
	void (*fill)(void *rec);
	int (*check)(const void *rec, struct model_path *p);
};

/* Path bookkeeping: push returns the previous length, pop restores it. */
size_t model_field_push(struct model_path *p, const char *name);
size_t model_field_push_index(struct model_path *p, size_t i);
void model_field_pop(struct model_path *p, size_t len);
/* Fails with BERTH_EBADREQ and "<path>: <message>". */
__attribute__((format(printf, 2, 3))) int model_field_fail(struct model_path *p, const char *fmt,
							   ...);
/* The path with one more field, for messages about a field of the current record. */
int model_field_fail_at(struct model_path *p, const char *field, const char *msg);

/* The value of an MF_U16, MF_U32 or MF_U64 field, and setting it (v must fit). */
uint64_t model_field_uint(const struct mf *f, const void *rec);
void model_field_set_uint(const struct mf *f, void *rec, uint64_t v);
/* 0 when n is within the list field's min..max, else fails with "must have ... entries". */
int model_field_count(const struct mf *f, size_t n, struct model_path *p);
/* "must be one of A, B, C" for an enum field. */
int model_field_enum_fail(struct model_path *p, const struct mf *f);
/* NULL when s (n bytes) is in the charset, else the complaint. */
const char *model_field_charset(enum mf_charset cs, const char *s, size_t n);

/* 0 when an optional field is absent from the record (NULL string, no exit code, MF_ZERO). */
int model_field_present(const struct mf *f, const void *rec);
/* Sets every optional number, bool and enum to its default (the record was zeroed). */
void model_field_defaults(const struct model_rec *r, void *rec);
/* Every field's limits, then the record's own rules (recursively). */
int model_field_check(const struct model_rec *r, const void *rec, struct model_path *p);
/* Frees every owned pointer (recursively) and zeroes the record. */
void model_field_free(const struct model_rec *r, void *rec);

/* Top level: a checked record as a versioned msgpack map appended to out. */
int model_codec_encode(const struct model_rec *r, const void *rec, struct mp_buf *out, char *err,
		       size_t errlen);
int model_codec_decode(const struct model_rec *r, const uint8_t *p, size_t n, void *rec, char *err,
		       size_t errlen);

/* JSON (model_json.c). to_json: NULL when out of memory. from_json: `input` refuses
 * MF_OUT fields and accepts MF_NUMSTR strings; fills, checks, frees on failure. */
json_t *model_json_to(const struct model_rec *r, const void *rec);
int model_json_from(const struct model_rec *r, const json_t *obj, bool input, void *rec,
		    struct model_path *p);
/* from_json at the top level with an error buffer. */
int model_json_decode(const struct model_rec *r, const json_t *obj, bool input, void *rec,
		      char *err, size_t errlen);

/* The record tables, for records that embed others. */
extern const struct model_rec model_strategy_rec;
extern const struct model_rec model_constraint_rec;
/* The placement rules shared by tasks and services: chain and constraints. */
int model_placement_check(const struct model_strategy *s, size_t ns,
			  const struct model_constraint *c, size_t nc, struct model_path *p);

#define MF_FIELD_(n, k, T, m) .name = (n), .kind = (k), .off = offsetof(T, m)

/* The public functions of a record type over its table (client/model.h): encode, decode,
 * to_json, from_json (a whole record) and free. */
#define MODEL_RECORD_API(name, T, table)                                                           \
	int model_##name##_encode(const T *r, struct mp_buf *out, char *err, size_t errlen)        \
	{                                                                                          \
		return model_codec_encode(&(table), r, out, err, errlen);                          \
	}                                                                                          \
	int model_##name##_decode(const uint8_t *p, size_t n, T *out, char *err, size_t errlen)    \
	{                                                                                          \
		return model_codec_decode(&(table), p, n, out, err, errlen);                       \
	}                                                                                          \
	json_t *model_##name##_to_json(const T *r)                                                 \
	{                                                                                          \
		return model_json_to(&(table), r);                                                 \
	}                                                                                          \
	int model_##name##_from_json(const json_t *obj, T *out, char *err, size_t errlen)          \
	{                                                                                          \
		return model_json_decode(&(table), obj, false, out, err, errlen);                  \
	}                                                                                          \
	void model_##name##_free(T *r)                                                             \
	{                                                                                          \
		model_field_free(&(table), r);                                                     \
	}

#endif
