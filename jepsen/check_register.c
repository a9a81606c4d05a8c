/* jepsen/check_register.c: linearizable registers: the history's read, write and cas
 * operations split by key, each key's operations searched by jepsen/lin.c
 * (jepsen/check.h). */
#include "jepsen/check.h"

#include "jepsen/lin.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_FAILURES = 10 };

static int by_key(const void *x, const void *y)
{
	const struct hist_op *a = x, *b = y;
	int c = strcmp(a->invoke->key, b->invoke->key);
	if (c != 0)
		return c;
	return a->invoke->index < b->invoke->index ? -1 : a->invoke->index > b->invoke->index;
}

/* op as the search's operation; 1 when it takes part, 0 when it is dropped, -1 (message in
 * err) when it has the wrong shape. */
static int to_lin(const struct hist_op *op, struct lin_op *out, char *err, size_t errlen)
{
	const struct hist_event *in = op->invoke, *c = op->complete;
	json_t *v = in->value;
	*out = (struct lin_op){.info = op->type == HIST_INFO,
			       .invoke = in->index,
			       .invoke_time = in->time,
			       .process = in->process};
	if (c != NULL) {
		out->complete = c->index;
		out->complete_time = c->time;
	}
	if (strcmp(in->f, "read") == 0) {
		out->f = LIN_READ;
		if (op->type != HIST_OK)
			return 0;
		v = c->value;
		if (json_is_null(v))
			out->a_null = true;
		else if (json_is_integer(v))
			out->a = json_integer_value(v);
		else
			goto bad;
		return 1;
	}
	if (op->type == HIST_FAIL)
		return 0;
	if (strcmp(in->f, "write") == 0) {
		out->f = LIN_WRITE;
		if (!json_is_integer(v))
			goto bad;
		out->a = json_integer_value(v);
		return 1;
	}
	if (strcmp(in->f, "cas") == 0) {
		json_t *e = json_array_get(v, 0), *n = json_array_get(v, 1);
		out->f = LIN_CAS;
		if (json_array_size(v) != 2 || !(json_is_null(e) || json_is_integer(e)) ||
		    !json_is_integer(n))
			goto bad;
		out->a_null = json_is_null(e);
		out->a = json_integer_value(e);
		out->b = json_integer_value(n);
		return 1;
	}
	snprintf(err, errlen, "index %" PRIu64 ": f \"%s\" is not read, write or cas", in->index,
		 in->f);
	return -1;
bad:
	snprintf(err, errlen, "index %" PRIu64 ": %s value must be %s",
		 c && out->f == LIN_READ ? c->index : in->index, in->f,
		 out->f == LIN_READ  ? "an integer or null"
		 : out->f == LIN_CAS ? "[expected or null, new] of integers"
				     : "an integer");
	return -1;
}

/* Checks one key's operations and adds the outcome to res. 0, or -1 out of memory. */
static int check_key(const char *key, const struct lin_op *lops, size_t n, uint64_t max_states,
		     json_t *res, uint64_t *states)
{
	struct lin_result r;
	if (lin_check(lops, n, max_states, &r) != 0)
		return -1;
	*states += r.states;
	if (r.verdict == LIN_VALID)
		return 0;
	if (r.verdict == LIN_UNKNOWN)
		return json_array_append_new(json_object_get(res, "unknown_keys"),
					     json_pack("{s:s,s:s,s:I}", "key", key, "why", r.why,
						       "states", (json_int_t)r.states));
	if (json_array_append_new(json_object_get(res, "invalid_keys"), json_string(key)))
		return -1;
	json_t *f = lin_failure_json(lops, n, &r);
	if (f == NULL || json_object_set_new(f, "key", json_string(key)))
		return json_decref(f), -1;
	return check_example(json_object_get(res, "failures"), f, MAX_FAILURES);
}

json_t *check_register(const struct history *h, uint64_t max_states, char *err, size_t errlen)
{
	struct hist_op *ops = NULL;
	struct lin_op *lops = NULL;
	size_t nops = 0, nkeys = 0, nlin = 0;
	uint64_t states = 0;
	json_t *res = NULL;
	if (hist_pair(h, &ops, &nops, err, errlen) != 0)
		return NULL;
	for (size_t i = 0; i < nops; i++) {
		if (ops[i].invoke->key == NULL) {
			snprintf(err, errlen, "index %" PRIu64 ": %s without a key",
				 ops[i].invoke->index, ops[i].invoke->f);
			goto fail;
		}
	}
	qsort(ops, nops, sizeof(*ops), by_key);
	lops = malloc((nops + 1) * sizeof(*lops));
	res = json_pack("{s:[],s:[],s:[]}", "invalid_keys", "unknown_keys", "failures");
	if (lops == NULL || res == NULL)
		goto nomem;
	for (size_t i = 0, j; i < nops; i = j) {
		size_t n = 0;
		for (j = i; j < nops && strcmp(ops[j].invoke->key, ops[i].invoke->key) == 0; j++) {
			int rv = to_lin(&ops[j], &lops[n], err, errlen);
			if (rv < 0)
				goto fail;
			n += (size_t)rv;
		}
		nkeys++;
		nlin += n;
		if (check_key(ops[i].invoke->key, lops, n, max_states, res, &states) != 0)
			goto nomem;
	}
	size_t ninvalid = json_array_size(json_object_get(res, "invalid_keys"));
	size_t nunknown = json_array_size(json_object_get(res, "unknown_keys"));
	char summary[200];
	snprintf(summary, sizeof(summary),
		 "%zu keys, %zu operations checked, %zu invalid keys, %zu unknown keys, %" PRIu64
		 " states",
		 nkeys, nlin, ninvalid, nunknown, states);
	enum check_verdict v = ninvalid ? CHECK_INVALID : nunknown ? CHECK_UNKNOWN : CHECK_VALID;
	if (json_object_set_new(res, "valid", check_valid_json(v)) ||
	    json_object_set_new(res, "summary", json_string(summary)) ||
	    json_object_set_new(res, "keys", json_integer((json_int_t)nkeys)) ||
	    json_object_set_new(res, "ops", json_integer((json_int_t)nlin)) ||
	    json_object_set_new(res, "states", json_integer((json_int_t)states)))
		goto nomem;
	free(ops);
	free(lops);
	return res;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	json_decref(res);
	free(ops);
	free(lops);
	return NULL;
}
