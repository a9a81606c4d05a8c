/* jepsen/check_counter.c: counters whose adds are applied exactly once (jepsen/check.h). */
#include "jepsen/check.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNTER_EXAMPLES 10

static int key_cmp(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

/* The bounds of an ok read ops[r] of its key, over adds ops[0..n). */
static void counter_bounds(const struct hist_op *ops, size_t n, size_t r, int64_t *lo, int64_t *hi)
{
	const struct hist_op *rd = &ops[r];
	*lo = *hi = 0;
	for (size_t i = 0; i < n; i++) {
		const struct hist_op *a = &ops[i];
		if (strcmp(a->invoke->f, "add") != 0 ||
		    key_cmp(a->invoke->key, rd->invoke->key) != 0)
			continue;
		int64_t v = json_integer_value(a->invoke->value);
		if (a->type == HIST_OK && a->complete->time < rd->invoke->time)
			*lo += v;
		if (a->type != HIST_FAIL && a->invoke->time < rd->complete->time)
			*hi += v;
	}
}

json_t *check_counter(const struct history *h, char *err, size_t errlen)
{
	struct hist_op *ops = NULL;
	size_t nops = 0, reads = 0, bad = 0, adds[3] = {0};
	if (hist_pair(h, &ops, &nops, err, errlen) != 0)
		return NULL;
	json_t *keys = json_object(), *errors = json_array();
	for (size_t i = 0; i < nops; i++) {
		const struct hist_event *in = ops[i].invoke;
		bool add = strcmp(in->f, "add") == 0, read = strcmp(in->f, "read") == 0;
		if ((!add && !read) || in->key == NULL) {
			snprintf(err, errlen,
				 "index %" PRIu64 ": f \"%s\" is not add or read of a key",
				 in->index, in->f);
			goto fail;
		}
		if (add && (!json_is_integer(in->value) || json_integer_value(in->value) <= 0)) {
			snprintf(err, errlen, "index %" PRIu64 ": add value must be an integer > 0",
				 in->index);
			goto fail;
		}
		json_object_set_new(keys, in->key, json_true());
		if (add) {
			adds[ops[i].type == HIST_OK ? 0 : ops[i].type == HIST_FAIL ? 1 : 2]++;
			continue;
		}
		if (ops[i].type != HIST_OK)
			continue;
		const json_t *v = ops[i].complete->value;
		if (!json_is_integer(v) && !json_is_null(v)) {
			snprintf(err, errlen, "index %" PRIu64 ": read value must be an integer",
				 ops[i].complete->index);
			goto fail;
		}
		int64_t got = json_is_null(v) ? 0 : json_integer_value(v), lo, hi;
		counter_bounds(ops, nops, i, &lo, &hi);
		reads++;
		if (got < lo || got > hi) {
			bad++;
			check_example(errors,
				      json_pack("{s:I,s:s,s:I,s:I,s:I}", "index",
						(json_int_t)ops[i].complete->index, "key", in->key,
						"read", (json_int_t)got, "lo", (json_int_t)lo, "hi",
						(json_int_t)hi),
				      COUNTER_EXAMPLES);
		}
	}
	enum check_verdict verdict = bad ? CHECK_INVALID : reads ? CHECK_VALID : CHECK_UNKNOWN;
	char summary[256];
	snprintf(summary, sizeof(summary),
		 "%zu reads, %zu out of bounds; adds %zu ok, %zu failed, %zu unknown", reads, bad,
		 adds[0], adds[1], adds[2]);
	json_t *res = json_pack(
		"{s:o,s:s,s:I,s:{s:I,s:I,s:I},s:I,s:I,s:o}", "valid", check_valid_json(verdict),
		"summary", summary, "keys", (json_int_t)json_object_size(keys), "adds", "ok",
		(json_int_t)adds[0], "fail", (json_int_t)adds[1], "info", (json_int_t)adds[2],
		"reads", (json_int_t)reads, "bad_reads", (json_int_t)bad, "errors", errors);
	json_decref(keys);
	free(ops);
	if (res == NULL)
		snprintf(err, errlen, "out of memory");
	return res;
fail:
	json_decref(keys);
	json_decref(errors);
	free(ops);
	return NULL;
}
