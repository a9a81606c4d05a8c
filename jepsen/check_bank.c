/* jepsen/check_bank.c: the bank checker: every acknowledged read of the balances sums to the
 * total, and none is negative unless allowed (jepsen/check.h). */
#include "jepsen/check.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_ERRORS = 10 };

/* One read: 1 when its balances are wrong (then *why is a new object), 0 when right, -1
 * when the value has the wrong shape (message in err). */
static int check_read(const struct hist_event *c, int64_t total, bool negative_ok, json_t **why,
		      char *err, size_t errlen)
{
	const char *acct;
	json_t *bal, *neg = NULL;
	int64_t sum = 0;
	bool overflow = false;
	if (!json_is_object(c->value))
		goto shape;
	json_object_foreach(c->value, acct, bal)
	{
		if (!json_is_integer(bal))
			goto shape;
		int64_t b = json_integer_value(bal);
		overflow |= __builtin_add_overflow(sum, b, &sum);
		if (b < 0 && !negative_ok) {
			if (neg == NULL && (neg = json_array()) == NULL)
				return -1;
			json_array_append_new(neg, json_string(acct));
		}
	}
	if (!overflow && sum == total && neg == NULL)
		return 0;
	*why = json_pack("{s:I,s:o,s:b,s:o}", "index", (json_int_t)c->index, "sum",
			 overflow ? json_null() : json_integer(sum), "overflow", overflow,
			 "negative", neg ? neg : json_array());
	return 1;
shape:
	json_decref(neg);
	snprintf(err, errlen, "index %" PRIu64 ": read value must be an object of integer balances",
		 c->index);
	return -2;
}

json_t *check_bank(const struct history *h, int64_t total, bool negative_ok, char *err,
		   size_t errlen)
{
	struct hist_op *ops = NULL;
	size_t nops = 0, reads = 0, bad = 0, tr[3] = {0};
	json_t *errors = json_array();
	if (errors == NULL || hist_pair(h, &ops, &nops, err, errlen) != 0) {
		if (errors == NULL)
			snprintf(err, errlen, "out of memory");
		json_decref(errors);
		return NULL;
	}
	for (size_t i = 0; i < nops; i++) {
		const struct hist_op *op = &ops[i];
		if (strcmp(op->invoke->f, "transfer") == 0) {
			json_t *v = op->invoke->value;
			if (!json_is_integer(json_object_get(v, "amount")) ||
			    !json_is_string(json_object_get(v, "from")) ||
			    !json_is_string(json_object_get(v, "to"))) {
				snprintf(
					err, errlen,
					"index %" PRIu64 ": transfer value must be "
					"{\"from\": account, \"to\": account, \"amount\": integer}",
					op->invoke->index);
				goto fail;
			}
			tr[op->type == HIST_OK ? 0 : op->type == HIST_FAIL ? 1 : 2]++;
			continue;
		}
		if (strcmp(op->invoke->f, "read") != 0) {
			snprintf(err, errlen, "index %" PRIu64 ": f \"%s\" is not transfer or read",
				 op->invoke->index, op->invoke->f);
			goto fail;
		}
		if (op->type != HIST_OK)
			continue;
		reads++;
		json_t *why = NULL;
		int rv = check_read(op->complete, total, negative_ok, &why, err, errlen);
		if (rv == -2)
			goto fail;
		if (rv < 0 || (rv == 1 && check_example(errors, why, MAX_ERRORS) != 0))
			goto nomem;
		bad += (size_t)rv;
	}
	char summary[200];
	snprintf(summary, sizeof(summary),
		 "%zu reads, %zu wrong; %zu transfers ok, %zu failed, %zu unknown; total %" PRId64,
		 reads, bad, tr[0], tr[1], tr[2], total);
	enum check_verdict v = bad ? CHECK_INVALID : reads ? CHECK_VALID : CHECK_UNKNOWN;
	json_t *res = json_pack("{s:o,s:s,s:I,s:I,s:I,s:{s:I,s:I,s:I},s:o}", "valid",
				check_valid_json(v), "summary", summary, "total", (json_int_t)total,
				"reads", (json_int_t)reads, "bad_reads", (json_int_t)bad,
				"transfers", "ok", (json_int_t)tr[0], "fail", (json_int_t)tr[1],
				"info", (json_int_t)tr[2], "errors", errors);
	free(ops);
	if (res == NULL)
		snprintf(err, errlen, "out of memory");
	return res;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	json_decref(errors);
	free(ops);
	return NULL;
}
