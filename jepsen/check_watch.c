/* jepsen/check_watch.c: the watch checker: every watcher's stream is in revision order,
 * agrees with every other stream where both cover the same revisions, delivers only
 * writes that were made, and skips none that it must hold (jepsen/check.h). */
#include "jepsen/check.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_ERRORS = 10 };

struct wwrite {
	const char *key;
	int64_t value;
	enum hist_type type;
	uint64_t invoke, complete; /* complete: UINT64_MAX unless ok or fail */
};

struct wevent {
	int64_t rev;
	const char *key;
	bool has_value;
	int64_t value;
	const struct wwrite *w; /* the write it delivers, or NULL */
};

struct stream {
	int process;
	struct wevent *ev;
	size_t n, cap;
};

struct wcheck {
	struct wwrite *w;
	size_t nw;
	struct stream *s;
	size_t ns;
	json_t *errors;
	size_t counts[4]; /* order, agreement, provenance, gap */
	char *err;
	size_t errlen;
};

static const char *const kinds[] = {"order", "agreement", "provenance", "gap"};

static int by_write(const void *x, const void *y)
{
	const struct wwrite *a = x, *b = y;
	int c = strcmp(a->key, b->key);
	return c ? c : (a->value < b->value ? -1 : a->value > b->value);
}

static json_t *event_json(const struct wevent *e)
{
	if (e == NULL)
		return json_null();
	return json_pack("[I,s,o]", (json_int_t)e->rev, e->key,
			 e->has_value ? json_integer(e->value) : json_null());
}

/* Counts an error of kind k; keeps detail (consumed) among the first MAX_ERRORS. */
static int report(struct wcheck *c, int k, json_t *detail)
{
	c->counts[k]++;
	if (detail == NULL || json_object_set_new(detail, "kind", json_string(kinds[k])))
		return json_decref(detail), -1;
	return check_example(c->errors, detail, MAX_ERRORS);
}

static struct stream *stream_of(struct wcheck *c, int process)
{
	for (size_t i = 0; i < c->ns; i++)
		if (c->s[i].process == process)
			return &c->s[i];
	c->s[c->ns] = (struct stream){.process = process};
	return &c->s[c->ns++];
}

/* Appends the events of one watch completion to its watcher's stream. */
static int add_events(struct wcheck *c, const struct hist_event *done)
{
	struct stream *s = stream_of(c, done->process);
	json_t *arr = done->value, *item;
	size_t i;
	if (json_is_null(arr) && done->type == HIST_INFO)
		return 0;
	if (!json_is_array(arr))
		goto shape;
	json_array_foreach(arr, i, item)
	{
		json_t *rev = json_array_get(item, 0), *key = json_array_get(item, 1);
		json_t *val = json_array_get(item, 2);
		if (json_array_size(item) != 3 || !json_is_integer(rev) || !json_is_string(key) ||
		    !(json_is_integer(val) || json_is_null(val)))
			goto shape;
		if (s->n == s->cap) {
			size_t cap = s->cap ? 2 * s->cap : 64;
			struct wevent *p = realloc(s->ev, cap * sizeof(*p));
			if (p == NULL) {
				snprintf(c->err, c->errlen, "out of memory");
				return -1;
			}
			s->ev = p;
			s->cap = cap;
		}
		struct wevent *e = &s->ev[s->n++];
		*e = (struct wevent){json_integer_value(rev), json_string_value(key),
				     json_is_integer(val), json_integer_value(val), NULL};
		if (e->has_value) {
			struct wwrite k = {.key = e->key, .value = e->value};
			e->w = bsearch(&k, c->w, c->nw, sizeof(k), by_write);
		}
	}
	return 0;
shape:
	snprintf(c->err, c->errlen,
		 "index %" PRIu64
		 ": watch value must be an array of [revision, key, value or null]",
		 done->index);
	return -1;
}

/* Rules 1 and 3 on one stream. */
static int check_order(struct wcheck *c, const struct stream *s)
{
	int bad = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct wevent *e = &s->ev[i];
		for (size_t j = i; j-- > 0 && s->ev[j].rev >= e->rev;) {
			if (s->ev[j].rev > e->rev || strcmp(s->ev[j].key, e->key) == 0) {
				bad |= report(c, 0,
					      json_pack("{s:i,s:I,s:o,s:o}", "watcher", s->process,
							"position", (json_int_t)i, "event",
							event_json(e), "after",
							event_json(&s->ev[j])));
				break;
			}
		}
		if (!e->has_value || (e->w != NULL && e->w->type != HIST_FAIL))
			continue;
		bad |= report(c, 2,
			      json_pack("{s:i,s:o,s:s}", "watcher", s->process, "event",
					event_json(e), "why",
					e->w ? "its write failed" : "no write of this value"));
	}
	return bad;
}

/* The events of s with revisions in [lo, hi]: the first and one past the last. */
static void range(const struct stream *s, int64_t lo, int64_t hi, size_t *from, size_t *to)
{
	*from = 0;
	while (*from < s->n && s->ev[*from].rev < lo)
		(*from)++;
	*to = *from;
	while (*to < s->n && s->ev[*to].rev <= hi)
		(*to)++;
}

static bool same_event(const struct wevent *a, const struct wevent *b)
{
	return a->rev == b->rev && strcmp(a->key, b->key) == 0 && a->has_value == b->has_value &&
	       (!a->has_value || a->value == b->value);
}

/* Rule 2 on two streams: the first difference over the revisions both cover. */
static int check_agree(struct wcheck *c, const struct stream *a, const struct stream *b)
{
	if (a->n == 0 || b->n == 0)
		return 0;
	int64_t lo = a->ev[0].rev > b->ev[0].rev ? a->ev[0].rev : b->ev[0].rev;
	int64_t hi = a->ev[a->n - 1].rev < b->ev[b->n - 1].rev ? a->ev[a->n - 1].rev
							       : b->ev[b->n - 1].rev;
	size_t af, at, bf, bt;
	range(a, lo, hi, &af, &at);
	range(b, lo, hi, &bf, &bt);
	for (size_t i = 0; af + i < at || bf + i < bt; i++) {
		const struct wevent *x = af + i < at ? &a->ev[af + i] : NULL;
		const struct wevent *y = bf + i < bt ? &b->ev[bf + i] : NULL;
		if (x != NULL && y != NULL && same_event(x, y))
			continue;
		return report(c, 1,
			      json_pack("{s:[i,i],s:I,s:I,s:I,s:o,s:o}", "watchers", a->process,
					b->process, "from_revision", (json_int_t)lo, "to_revision",
					(json_int_t)hi, "position", (json_int_t)i, "first",
					event_json(x), "second", event_json(y)));
	}
	return 0;
}

/* Rule 4 on one stream. */
static int check_gaps(struct wcheck *c, const struct stream *s)
{
	uint64_t min_complete = UINT64_MAX, max_invoke = 0;
	bool *has = calloc(c->nw + 1, sizeof(*has));
	int bad = 0;
	if (has == NULL)
		return -1;
	for (size_t i = 0; i < s->n; i++) {
		const struct wwrite *w = s->ev[i].w;
		if (w == NULL)
			continue;
		has[w - c->w] = true;
		if (w->type == HIST_OK && w->complete < min_complete)
			min_complete = w->complete;
		if (w->invoke > max_invoke)
			max_invoke = w->invoke;
	}
	for (size_t i = 0; i < c->nw; i++) {
		const struct wwrite *w = &c->w[i];
		if (w->type != HIST_OK || has[i] || !(min_complete < w->invoke) ||
		    !(max_invoke > w->complete))
			continue;
		bad |= report(c, 3,
			      json_pack("{s:i,s:s,s:I,s:I,s:I}", "watcher", s->process, "key",
					w->key, "value", (json_int_t)w->value, "write_invoke_index",
					(json_int_t)w->invoke, "write_complete_index",
					(json_int_t)w->complete));
	}
	free(has);
	return bad;
}

/* The writes of the history, and every watcher's stream, into c. */
static int gather(struct wcheck *c, const struct hist_op *ops, size_t nops)
{
	for (size_t i = 0; i < nops; i++) {
		const struct hist_event *in = ops[i].invoke;
		if (strcmp(in->f, "watch") == 0)
			continue;
		if (strcmp(in->f, "write") != 0) {
			snprintf(c->err, c->errlen,
				 "index %" PRIu64 ": f \"%s\" is not watch or write", in->index,
				 in->f);
			return -1;
		}
		if (in->key == NULL || !json_is_integer(in->value)) {
			snprintf(c->err, c->errlen,
				 "index %" PRIu64 ": write needs a key and an integer value",
				 in->index);
			return -1;
		}
		const struct hist_event *done = ops[i].complete;
		c->w[c->nw++] = (struct wwrite){in->key, json_integer_value(in->value), ops[i].type,
						in->index, done ? done->index : UINT64_MAX};
	}
	qsort(c->w, c->nw, sizeof(*c->w), by_write);
	for (size_t i = 0; i < nops; i++) {
		const struct hist_event *done = ops[i].complete;
		if (strcmp(ops[i].invoke->f, "watch") != 0 || done == NULL ||
		    done->type == HIST_FAIL)
			continue;
		if (add_events(c, done) != 0)
			return -1;
	}
	return 0;
}

json_t *check_watch(const struct history *h, char *err, size_t errlen)
{
	struct hist_op *ops = NULL;
	size_t nops = 0, nevents = 0;
	struct wcheck c = {.err = err, .errlen = errlen};
	json_t *res = NULL;
	if (hist_pair(h, &ops, &nops, err, errlen) != 0)
		return NULL;
	c.w = malloc((nops + 1) * sizeof(*c.w));
	c.s = calloc(nops + 1, sizeof(*c.s));
	c.errors = json_array();
	if (c.w == NULL || c.s == NULL || c.errors == NULL)
		goto nomem;
	if (gather(&c, ops, nops) != 0)
		goto out;
	int bad = 0;
	for (size_t i = 0; i < c.ns; i++) {
		nevents += c.s[i].n;
		bad |= check_order(&c, &c.s[i]) | check_gaps(&c, &c.s[i]);
		for (size_t j = i + 1; j < c.ns; j++)
			bad |= check_agree(&c, &c.s[i], &c.s[j]);
	}
	if (bad)
		goto nomem;
	size_t nerr = c.counts[0] + c.counts[1] + c.counts[2] + c.counts[3];
	enum check_verdict v = nerr ? CHECK_INVALID : c.ns ? CHECK_VALID : CHECK_UNKNOWN;
	char summary[200];
	snprintf(summary, sizeof(summary), "%zu watchers, %zu events, %zu writes, %zu errors%s",
		 c.ns, nevents, c.nw, nerr, c.ns ? "" : " (no watcher)");
	res = json_pack("{s:o,s:s,s:I,s:I,s:I,s:O,s:{s:I,s:I,s:I,s:I}}", "valid",
			check_valid_json(v), "summary", summary, "watchers", (json_int_t)c.ns,
			"events", (json_int_t)nevents, "writes", (json_int_t)c.nw, "errors",
			c.errors, "error_counts", kinds[0], (json_int_t)c.counts[0], kinds[1],
			(json_int_t)c.counts[1], kinds[2], (json_int_t)c.counts[2], kinds[3],
			(json_int_t)c.counts[3]);
	if (res == NULL)
		goto nomem;
	goto out;
nomem:
	snprintf(err, errlen, "out of memory");
out:
	for (size_t i = 0; i < c.ns; i++)
		free(c.s[i].ev);
	free(c.s);
	free(c.w);
	free(ops);
	json_decref(c.errors);
	return res;
}
