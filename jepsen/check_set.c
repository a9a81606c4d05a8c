/* jepsen/check_set.c: the set checker: every acknowledged add is in the final read, and
 * the read holds nothing that was not added (jepsen/check.h). */
#include "jepsen/check.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_EXAMPLES = 10 };

/* What became of one value. */
struct elem {
	int64_t v;
	enum hist_type add; /* HIST_OK, HIST_FAIL, HIST_INFO; HIST_INVOKE: never added */
	unsigned reads;     /* times in the final read */
};

static int by_value(const void *x, const void *y)
{
	const struct elem *a = x, *b = y;
	return a->v < b->v ? -1 : a->v > b->v;
}

static int bump(json_t *res, const char *name, json_t *examples, int64_t v)
{
	json_t *c = json_object_get(res, name);
	if (json_integer_set(c, json_integer_value(c) + 1) != 0)
		return -1;
	return examples ? check_example(examples, json_integer(v), MAX_EXAMPLES) : 0;
}

/* Tallies the elements (sorted) into res. 0 or -1 out of memory. */
static int tally(const struct elem *el, size_t n, json_t *res)
{
	json_t *lost = json_object_get(res, "lost_examples");
	json_t *unexp = json_object_get(res, "unexpected_examples");
	int bad = 0;
	for (size_t i = 0, j; i < n; i = j) {
		enum hist_type add = HIST_INVOKE;
		unsigned reads = 0;
		for (j = i; j < n && el[j].v == el[i].v; j++) {
			if (el[j].add != HIST_INVOKE)
				add = el[j].add;
			reads += el[j].reads;
		}
		int64_t v = el[i].v;
		if (add == HIST_OK && reads == 0)
			bad |= bump(res, "lost", lost, v);
		if (add == HIST_INVOKE && reads > 0)
			bad |= bump(res, "unexpected", unexp, v);
		if (add == HIST_FAIL && reads > 0)
			bad |= bump(res, "failed_present", unexp, v);
		if (add == HIST_INFO && reads > 0)
			bad |= bump(res, "recovered", NULL, v);
		if (reads > 1)
			bad |= bump(res, "duplicated", unexp, v);
	}
	return bad;
}

json_t *check_set(const struct history *h, char *err, size_t errlen)
{
	struct hist_op *ops = NULL;
	size_t nops = 0, n = 0, attempted = 0, acked = 0;
	const struct hist_op *final = NULL;
	struct elem *el = NULL;
	json_t *res = NULL;
	if (hist_pair(h, &ops, &nops, err, errlen) != 0)
		return NULL;
	for (size_t i = 0; i < nops; i++) {
		const struct hist_event *in = ops[i].invoke;
		if (strcmp(in->f, "read") == 0) {
			if (ops[i].type == HIST_OK)
				final = &ops[i];
		} else if (strcmp(in->f, "add") != 0) {
			snprintf(err, errlen, "index %" PRIu64 ": f \"%s\" is not add or read",
				 in->index, in->f);
			goto fail;
		} else if (!json_is_integer(in->value)) {
			snprintf(err, errlen, "index %" PRIu64 ": add value must be an integer",
				 in->index);
			goto fail;
		}
	}
	json_t *read = final ? final->complete->value : NULL;
	if (final != NULL && !json_is_array(read)) {
		snprintf(err, errlen, "index %" PRIu64 ": read value must be an array of integers",
			 final->complete->index);
		goto fail;
	}
	size_t nread = json_array_size(read);
	el = malloc((nops + nread + 1) * sizeof(*el));
	res = json_pack("{s:i,s:i,s:i,s:i,s:i,s:[],s:[]}", "lost", 0, "unexpected", 0,
			"failed_present", 0, "duplicated", 0, "recovered", 0, "lost_examples",
			"unexpected_examples");
	if (el == NULL || res == NULL)
		goto nomem;
	for (size_t i = 0; i < nops; i++) {
		if (strcmp(ops[i].invoke->f, "add") != 0)
			continue;
		el[n++] = (struct elem){json_integer_value(ops[i].invoke->value), ops[i].type, 0};
		attempted++;
		acked += ops[i].type == HIST_OK;
	}
	for (size_t i = 0; i < nread; i++) {
		json_t *v = json_array_get(read, i);
		if (!json_is_integer(v)) {
			snprintf(err, errlen,
				 "index %" PRIu64 ": read value must be an array of integers",
				 final->complete->index);
			goto fail;
		}
		el[n++] = (struct elem){json_integer_value(v), HIST_INVOKE, 1};
	}
	qsort(el, n, sizeof(*el), by_value);
	if (tally(el, n, res) != 0)
		goto nomem;
	int64_t lost = json_integer_value(json_object_get(res, "lost"));
	int64_t wrong = json_integer_value(json_object_get(res, "unexpected")) +
			json_integer_value(json_object_get(res, "failed_present")) +
			json_integer_value(json_object_get(res, "duplicated"));
	enum check_verdict v = final == NULL   ? CHECK_UNKNOWN
			       : lost || wrong ? CHECK_INVALID
					       : CHECK_VALID;
	char summary[256];
	snprintf(summary, sizeof(summary),
		 "%zu adds attempted, %zu acknowledged, %zu read, %" PRId64 " lost, %" PRId64
		 " unexpected%s",
		 attempted, acked, nread, lost, wrong, final ? "" : ", no final read");
	if (json_object_set_new(res, "valid", check_valid_json(v)) ||
	    json_object_set_new(res, "summary", json_string(summary)) ||
	    json_object_set_new(res, "attempted", json_integer((json_int_t)attempted)) ||
	    json_object_set_new(res, "acknowledged", json_integer((json_int_t)acked)) ||
	    json_object_set_new(res, "read", json_integer((json_int_t)nread)))
		goto nomem;
	free(ops);
	free(el);
	return res;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	json_decref(res);
	free(ops);
	free(el);
	return NULL;
}
