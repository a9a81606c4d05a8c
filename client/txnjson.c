/* client/txnjson.c: the JSON transaction spec (jansson) and binary-safe JSON bytes. */
#include "client/txnjson.h"

#include "client/b64.h"
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The parse in progress. */
struct tj {
	struct txnjson *t;
	char *err;
	size_t errlen;
	char where[48]; /* "success[3]" */
};

__attribute__((format(printf, 2, 3))) static int tj_fail(struct tj *c, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->where[0] != '\0')
		snprintf(c->err, c->errlen, "%s: %s", c->where, msg);
	else
		snprintf(c->err, c->errlen, "%s", msg);
	return BERTH_EBADREQ;
}

/* Every field of obj must be one of allowed (NULL-terminated). */
static int tj_fields(struct tj *c, json_t *obj, const char *const *allowed)
{
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
	{
		const char *const *a = allowed;
		while (*a != NULL && strcmp(*a, k) != 0)
			a++;
		if (*a == NULL)
			return tj_fail(c, "unknown field \"%.40s\"", k);
	}
	return 0;
}

/* obj[name] as text or obj[name_b64] as base64; *present says whether either is there. */
static int tj_bytes(struct tj *c, json_t *obj, const char *name, bool required, struct bytes *out,
		    bool *present)
{
	char b64name[32];
	snprintf(b64name, sizeof(b64name), "%s_b64", name);
	json_t *s = json_object_get(obj, name), *b = json_object_get(obj, b64name);
	*present = s != NULL || b != NULL;
	out->p = NULL;
	out->n = 0;
	if (s != NULL && b != NULL)
		return tj_fail(c, "give \"%s\" or \"%s\", not both", name, b64name);
	if (s != NULL) {
		if (!json_is_string(s))
			return tj_fail(c, "\"%s\" must be a string", name);
		out->p = (const uint8_t *)json_string_value(s);
		out->n = json_string_length(s);
		return 0;
	}
	if (b != NULL) {
		if (!json_is_string(b))
			return tj_fail(c, "\"%s\" must be a base64 string", b64name);
		size_t len = json_string_length(b), n;
		uint8_t **bufs = realloc(c->t->bufs, (c->t->nbufs + 1) * sizeof(*bufs));
		if (bufs == NULL)
			return BERTH_ENOMEM;
		c->t->bufs = bufs;
		if ((bufs[c->t->nbufs] = malloc(len / 4 * 3 + 1)) == NULL)
			return BERTH_ENOMEM;
		uint8_t *p = bufs[c->t->nbufs++];
		if (b64_decode(json_string_value(b), len, p, &n) != 0)
			return tj_fail(c, "\"%s\" is not valid base64", b64name);
		out->p = p;
		out->n = n;
		return 0;
	}
	if (required)
		return tj_fail(c, "missing \"%s\"", name);
	return 0;
}

static int tj_int(struct tj *c, json_t *obj, const char *name, bool nonneg, int64_t *out)
{
	json_t *v = json_object_get(obj, name);
	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || (nonneg && json_integer_value(v) < 0))
		return tj_fail(c, "\"%s\" must be a%s integer", name,
			       nonneg ? " non-negative" : "n");
	*out = (int64_t)json_integer_value(v);
	return 0;
}

static int tj_u64(struct tj *c, json_t *obj, const char *name, uint64_t *out)
{
	int64_t v = 0;
	int rv = tj_int(c, obj, name, true, &v);
	*out = (uint64_t)v;
	return rv;
}

static int tj_flag(struct tj *c, json_t *obj, const char *name, uint8_t bit, uint8_t *flags)
{
	json_t *v = json_object_get(obj, name);
	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return tj_fail(c, "\"%s\" must be true or false", name);
	if (json_is_true(v))
		*flags |= bit;
	return 0;
}

static const char *const tj_op_fields[MSG_OP_TYPE_COUNT + 1][11] = {
	[MSG_OP_RANGE] = {"op", "key", "key_b64", "end", "end_b64", "prefix", "limit", "keys_only",
			  "count_only", "rev", NULL},
	[MSG_OP_PUT] = {"op", "key", "key_b64", "value", "value_b64", "lease", NULL},
	[MSG_OP_DEL] = {"op", "key", "key_b64", "end", "end_b64", "prefix", NULL},
	[MSG_OP_ADD] = {"op", "key", "key_b64", "delta", "lease", NULL},
	[MSG_OP_TYPE_COUNT] = {"op", "key", "key_b64", "rev", NULL}, /* get */
};

static int tj_op(struct tj *c, json_t *o, struct msg_op *op)
{
	json_t *name = json_object_get(o, "op");
	bool present, has_end;
	int rv, kind;

	if (!json_is_object(o))
		return tj_fail(c, "an operation must be an object");
	if (!json_is_string(name))
		return tj_fail(c, "missing \"op\" (put, get, range, delete or add)");
	const char *s = json_string_value(name);
	if (strcmp(s, "put") == 0)
		kind = MSG_OP_PUT;
	else if (strcmp(s, "get") == 0)
		kind = MSG_OP_TYPE_COUNT;
	else if (strcmp(s, "range") == 0)
		kind = MSG_OP_RANGE;
	else if (strcmp(s, "delete") == 0)
		kind = MSG_OP_DEL;
	else if (strcmp(s, "add") == 0)
		kind = MSG_OP_ADD;
	else
		return tj_fail(c, "unknown op \"%.20s\" (put, get, range, delete or add)", s);
	op->type = kind == MSG_OP_TYPE_COUNT ? MSG_OP_RANGE : (uint8_t)kind;
	if ((rv = tj_fields(c, o, tj_op_fields[kind])) != 0 ||
	    (rv = tj_bytes(c, o, "key", true, &op->key, &present)) != 0 ||
	    (rv = tj_bytes(c, o, "end", false, &op->end, &has_end)) != 0 ||
	    (rv = tj_bytes(c, o, "value", kind == MSG_OP_PUT, &op->value, &present)) != 0 ||
	    (rv = tj_u64(c, o, "lease", &op->lease)) != 0 ||
	    (rv = tj_u64(c, o, "limit", &op->limit)) != 0 ||
	    (rv = tj_u64(c, o, "rev", &op->rev)) != 0 ||
	    (rv = tj_int(c, o, "delta", false, &op->delta)) != 0 ||
	    (rv = tj_flag(c, o, "prefix", MSG_F_PREFIX, &op->flags)) != 0 ||
	    (rv = tj_flag(c, o, "keys_only", MSG_F_KEYS_ONLY, &op->flags)) != 0 ||
	    (rv = tj_flag(c, o, "count_only", MSG_F_COUNT_ONLY, &op->flags)) != 0)
		return rv;
	if (kind == MSG_OP_ADD && json_object_get(o, "delta") == NULL)
		return tj_fail(c, "missing \"delta\"");
	if (has_end && (op->flags & MSG_F_PREFIX))
		return tj_fail(c, "give \"end\" or \"prefix\", not both");
	return 0;
}

static int tj_cmp(struct tj *c, json_t *o, struct msg_compare *m)
{
	static const char *const fields[] = {"key",   "key_b64",   "target", "op",
					     "value", "value_b64", NULL};
	static const char *const targets[] = {"value", "version", "create", "mod", "int"};
	static const char *const ops[] = {"=", "!=", "<", "<=", ">", ">="};
	json_t *t = json_object_get(o, "target"), *op = json_object_get(o, "op");
	bool present;
	int rv;

	if (!json_is_object(o))
		return tj_fail(c, "a compare must be an object");
	if ((rv = tj_fields(c, o, fields)) != 0 ||
	    (rv = tj_bytes(c, o, "key", true, &m->key, &present)) != 0)
		return rv;
	if (!json_is_string(t))
		return tj_fail(c, "missing \"target\" (value, version, create, mod or int)");
	for (m->target = 0; m->target < MSG_CMP_TARGET_COUNT; m->target++)
		if (strcmp(json_string_value(t), targets[m->target]) == 0)
			break;
	if (m->target == MSG_CMP_TARGET_COUNT)
		return tj_fail(c, "unknown target \"%.20s\" (value, version, create, mod or int)",
			       json_string_value(t));
	if (!json_is_string(op))
		return tj_fail(c, "missing \"op\" (= != < <= > >=)");
	const char *os = strcmp(json_string_value(op), "==") == 0 ? "=" : json_string_value(op);
	for (m->op = 0; m->op < MSG_CMP_OP_COUNT; m->op++)
		if (strcmp(os, ops[m->op]) == 0)
			break;
	if (m->op == MSG_CMP_OP_COUNT)
		return tj_fail(c, "unknown op \"%.20s\" (= != < <= > >=)", os);
	if (m->target == MSG_CMP_VALUE)
		return tj_bytes(c, o, "value", true, &m->value, &present);
	if (json_object_get(o, "value_b64") != NULL)
		return tj_fail(c, "\"value_b64\" is for target value");
	if (!json_is_integer(json_object_get(o, "value")))
		return tj_fail(c, "\"value\" must be an integer for target %s", targets[m->target]);
	m->num = (int64_t)json_integer_value(json_object_get(o, "value"));
	return 0;
}

/* Parses root[name] (an array, maybe absent) with each(). */
static int tj_list(struct tj *c, const char *name, size_t size, uint32_t *n, void **out,
		   int (*each)(struct tj *, json_t *, void *))
{
	json_t *a = json_object_get(c->t->root, name);
	int rv;
	*n = 0;
	if (a == NULL)
		return 0;
	if (!json_is_array(a))
		return tj_fail(c, "\"%s\" must be an array", name);
	if (json_array_size(a) == 0)
		return 0;
	if (json_array_size(a) > UINT32_MAX || (*out = calloc(json_array_size(a), size)) == NULL)
		return BERTH_ENOMEM;
	*n = (uint32_t)json_array_size(a);
	for (size_t i = 0; i < *n; i++) {
		snprintf(c->where, sizeof(c->where), "%s[%zu]", name, i);
		if ((rv = each(c, json_array_get(a, i), (char *)*out + i * size)) != 0)
			return rv;
	}
	c->where[0] = '\0';
	return 0;
}

static int tj_each_cmp(struct tj *c, json_t *o, void *m)
{
	return tj_cmp(c, o, m);
}

static int tj_each_op(struct tj *c, json_t *o, void *m)
{
	return tj_op(c, o, m);
}

int txnjson_parse(const char *text, size_t len, struct txnjson *out, char *err, size_t errlen)
{
	static const char *const fields[] = {"compare", "success", "failure", "serializable", NULL};
	struct tj c = {.t = out, .err = err, .errlen = errlen};
	json_error_t jerr;
	json_t *ser;
	int rv;

	memset(out, 0, sizeof(*out));
	if ((out->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		snprintf(err, errlen, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		return BERTH_EBADREQ;
	}
	if (!json_is_object(out->root)) {
		rv = tj_fail(&c, "the spec must be a JSON object");
		goto err;
	}
	if ((rv = tj_fields(&c, out->root, fields)) != 0 ||
	    (rv = tj_list(&c, "compare", sizeof(struct msg_compare), &out->txn.ncmp,
			  (void **)&out->txn.cmp, tj_each_cmp)) != 0 ||
	    (rv = tj_list(&c, "success", sizeof(struct msg_op), &out->txn.nsucc,
			  (void **)&out->txn.succ, tj_each_op)) != 0 ||
	    (rv = tj_list(&c, "failure", sizeof(struct msg_op), &out->txn.nfail,
			  (void **)&out->txn.fail, tj_each_op)) != 0)
		goto err;
	if ((ser = json_object_get(out->root, "serializable")) != NULL) {
		if (!json_is_boolean(ser)) {
			rv = tj_fail(&c, "\"serializable\" must be true or false");
			goto err;
		}
		out->serializable = json_is_true(ser);
	}
	return 0;
err:
	if (rv == BERTH_ENOMEM)
		snprintf(err, errlen, "%s", err_text(rv));
	txnjson_free(out);
	return rv;
}

void txnjson_free(struct txnjson *t)
{
	free(t->txn.cmp);
	free(t->txn.succ);
	free(t->txn.fail);
	for (size_t i = 0; i < t->nbufs; i++)
		free(t->bufs[i]);
	free(t->bufs);
	if (t->root != NULL)
		json_decref(t->root);
	memset(t, 0, sizeof(*t));
}

int txnjson_utf8(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t c = p[i];
		size_t len;
		uint32_t cp;
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			len = 2, cp = c & 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
			len = 3, cp = c & 0x0F;
		else if (c >= 0xF0 && c <= 0xF4)
			len = 4, cp = c & 0x07;
		else
			return 0;
		if (n - i < len)
			return 0;
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3F);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
			return 0;
		i += len;
	}
	return 1;
}

int txnjson_set_bytes(json_t *obj, const char *name, const uint8_t *p, size_t n)
{
	char b64name[32];
	char *enc = malloc(b64_encoded_len(n) + 1);
	if (enc == NULL)
		return BERTH_ENOMEM;
	b64_encode(p, n, enc);
	snprintf(b64name, sizeof(b64name), "%s_b64", name);
	int rv = json_object_set_new(obj, b64name, json_string(enc));
	free(enc);
	if (rv == 0 && txnjson_utf8(p, n))
		rv = json_object_set_new(obj, name, json_stringn((const char *)p, n));
	return rv == 0 ? 0 : BERTH_ENOMEM;
}
