/* jepsen/history.c: the history in memory: events appended and freed, an event as JSON,
 * and the pairing of invocations with their completions (jepsen/history.h). */
#include "jepsen/history.h"

#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const hist_type_names[] = {"invoke", "ok", "fail", "info"};

const char *hist_type_name(enum hist_type t)
{
	return (unsigned)t < 4 ? hist_type_names[t] : "?";
}

int hist_type_parse(const char *s, enum hist_type *t)
{
	for (unsigned i = 0; i < 4; i++) {
		if (strcmp(s, hist_type_names[i]) == 0) {
			*t = (enum hist_type)i;
			return 0;
		}
	}
	return -1;
}

int hist_add(struct history *h, const struct hist_event *ev, char *err, size_t errlen)
{
	if (h->n > 0 && ev->index <= h->ev[h->n - 1].index) {
		snprintf(err, errlen, "index %llu not greater than the previous %llu",
			 (unsigned long long)ev->index, (unsigned long long)h->ev[h->n - 1].index);
		return BERTH_EBADREQ;
	}
	if (ev->process < HIST_NEMESIS || ev->process > HIST_MAX_PROCESS) {
		snprintf(err, errlen, "process %d out of range (0 to %d, or \"nemesis\")",
			 ev->process, HIST_MAX_PROCESS);
		return BERTH_EBADREQ;
	}
	size_t flen = strnlen(ev->f, HIST_F_MAX);
	if (flen == 0 || flen == HIST_F_MAX) {
		snprintf(err, errlen, "f must be 1 to %d bytes", HIST_F_MAX - 1);
		return BERTH_EBADREQ;
	}
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 256;
		struct hist_event *p = realloc(h->ev, cap * sizeof(*p));
		if (p == NULL)
			goto nomem;
		h->ev = p;
		h->cap = cap;
	}
	struct hist_event *e = &h->ev[h->n];
	*e = *ev;
	e->key = NULL;
	if (ev->key != NULL && (e->key = strdup(ev->key)) == NULL)
		goto nomem;
	e->value = ev->value ? json_incref(ev->value) : json_null();
	h->n++;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return BERTH_ENOMEM;
}

void hist_free(struct history *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->ev[i].key);
		json_decref(h->ev[i].value);
	}
	free(h->ev);
	*h = (struct history){0};
}

json_t *hist_event_json(const struct hist_event *ev)
{
	json_t *o = json_object();
	json_t *proc =
		ev->process == HIST_NEMESIS ? json_string("nemesis") : json_integer(ev->process);
	int bad = o == NULL || proc == NULL;
	bad |= json_object_set_new(o, "index", json_integer((json_int_t)ev->index)) != 0;
	bad |= json_object_set_new(o, "time", json_integer(ev->time)) != 0;
	bad |= json_object_set_new(o, "process", proc) != 0;
	bad |= json_object_set_new(o, "type", json_string(hist_type_name(ev->type))) != 0;
	bad |= json_object_set_new(o, "f", json_string(ev->f)) != 0;
	if (ev->key != NULL)
		bad |= json_object_set_new(o, "key", json_string(ev->key)) != 0;
	bad |= json_object_set(o, "value", ev->value ? ev->value : json_null()) != 0;
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int same_key(const char *a, const char *b)
{
	return b == NULL || (a != NULL && strcmp(a, b) == 0);
}

int hist_pair(const struct history *h, struct hist_op **ops, size_t *nops, char *err, size_t errlen)
{
	int maxp = -1;
	for (size_t i = 0; i < h->n; i++)
		if (h->ev[i].process > maxp)
			maxp = h->ev[i].process;
	/* pending[p]: 1 + the position in out of p's operation in flight, or 0. */
	size_t *pending = calloc((size_t)maxp + 1, sizeof(*pending));
	struct hist_op *out = malloc((h->n ? h->n : 1) * sizeof(*out));
	size_t n = 0;
	if (pending == NULL || out == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < h->n; i++) {
		const struct hist_event *e = &h->ev[i];
		if (e->process == HIST_NEMESIS)
			continue;
		size_t *pp = &pending[e->process];
		if (e->type == HIST_INVOKE) {
			if (*pp != 0) {
				snprintf(err, errlen,
					 "index %llu: process %d invokes while its operation at "
					 "index %llu is pending",
					 (unsigned long long)e->index, e->process,
					 (unsigned long long)out[*pp - 1].invoke->index);
				goto bad;
			}
			out[n] = (struct hist_op){.invoke = e, .type = HIST_INFO};
			*pp = ++n;
			continue;
		}
		if (*pp == 0) {
			snprintf(err, errlen, "index %llu: %s of process %d without an invocation",
				 (unsigned long long)e->index, hist_type_name(e->type), e->process);
			goto bad;
		}
		struct hist_op *op = &out[*pp - 1];
		if (strcmp(op->invoke->f, e->f) != 0 || !same_key(op->invoke->key, e->key)) {
			snprintf(
				err, errlen,
				"index %llu: completion (f \"%s\") does not match its invocation at "
				"index %llu (f \"%s\"): f and key must be the same",
				(unsigned long long)e->index, e->f,
				(unsigned long long)op->invoke->index, op->invoke->f);
			goto bad;
		}
		op->complete = e;
		op->type = e->type;
		*pp = 0;
	}
	free(pending);
	*ops = out;
	*nops = n;
	return 0;
bad:
	free(pending);
	free(out);
	return BERTH_EBADREQ;
fail:
	free(pending);
	free(out);
	return BERTH_ENOMEM;
}
