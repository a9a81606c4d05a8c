/* jepsen/lin_report.c: an invalid register history as JSON: the operation that could not
 * be placed and the operations concurrent with it (jepsen/lin.h). */
#include "jepsen/lin.h"

static const char *const lin_f_names[] = {"read", "write", "cas"};

static json_t *val(bool null, int64_t v)
{
	return null ? json_null() : json_integer(v);
}

json_t *lin_op_json(const struct lin_op *op)
{
	json_t *value = op->f == LIN_CAS ? json_pack("[o,I]", val(op->a_null, op->a), op->b)
					 : val(op->a_null, op->a);
	json_t *o = json_pack("{s:i,s:s,s:s,s:o,s:I,s:I}", "process", op->process, "f",
			      lin_f_names[op->f], "type", op->info ? "info" : "ok", "value", value,
			      "invoke_index", (json_int_t)op->invoke, "invoke_time",
			      (json_int_t)op->invoke_time);
	if (o == NULL || op->info)
		return o;
	if (json_object_set_new(o, "complete_index", json_integer((json_int_t)op->complete)) ||
	    json_object_set_new(o, "complete_time", json_integer(op->complete_time))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* a and b overlap: neither completed before the other was invoked. */
static bool overlap(const struct lin_op *a, const struct lin_op *b)
{
	return (a->info || b->invoke < a->complete) && (b->info || a->invoke < b->complete);
}

json_t *lin_failure_json(const struct lin_op *ops, size_t n, const struct lin_result *r)
{
	enum { MAX_SHOWN = 100 };
	const struct lin_op *bad = &ops[r->bad];
	json_t *conc = json_array();
	size_t total = 0;
	int fail = conc == NULL;
	/* In order of invocation: the caller's order is not promised. */
	uint64_t after = 0;
	bool first = true;
	for (;;) {
		const struct lin_op *next = NULL;
		for (size_t i = 0; i < n; i++) {
			const struct lin_op *o = &ops[i];
			if (o == bad || (o->f == LIN_READ && o->info) || !overlap(o, bad) ||
			    (!first && o->invoke <= after))
				continue;
			if (next == NULL || o->invoke < next->invoke)
				next = o;
		}
		if (next == NULL)
			break;
		first = false;
		after = next->invoke;
		if (++total <= MAX_SHOWN && !fail)
			fail |= json_array_append_new(conc, lin_op_json(next)) != 0;
	}
	json_t *o = json_pack("{s:o,s:I,s:o,s:s,s:o,s:I}", "op", lin_op_json(bad), "placed",
			      (json_int_t)r->placed, "state", val(r->state_null, r->state), "why",
			      r->why ? r->why : "", "concurrent", conc, "concurrent_total",
			      (json_int_t)total);
	if (fail) {
		json_decref(o);
		return NULL;
	}
	return o;
}
