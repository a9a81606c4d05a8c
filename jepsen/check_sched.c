/* jepsen/check_sched.c: the scheduling invariants on the sched workload's recorded
 * revisions and operations (jepsen/check.h, jepsen/sched.h). */
#include "jepsen/check.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHED_EXAMPLES 10

enum {
	K_CAPACITY,
	K_ACCOUNTING,
	K_PORT,
	K_TWICE,
	K_LOST,
	K_CONVERGE,
	K_RUN,
	K_STOP,
	K_SCALE,
	K_STREAM,
	K_COUNT
};
static const char *const kind_names[K_COUNT] = {"capacity", "accounting",  "port", "placed-twice",
						"lost",     "convergence", "run",  "stop",
						"scale",    "stream"};

struct chk {
	json_t *tasks;    /* id -> the latest record */
	json_t *placings; /* id -> placements seen */
	json_t *insts;    /* iid -> {"cpu", "memory"} */
	json_t *alloc;    /* "I/cpu", "I/mem" -> integer */
	json_t *ports;    /* "I/port/P" -> task id */
	json_t *services; /* name -> {"desired", "status"} */
	json_t *desireds; /* "N" -> true: every desired count the service had */
	json_t *errors;
	size_t counts[K_COUNT];
	int64_t first_desired; /* the service's count when first seen (-1: not yet) */
	uint64_t rev;          /* the last revision applied */
	size_t events;
};

static void chk_error(struct chk *k, int kind, uint64_t rev, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void chk_error(struct chk *k, int kind, uint64_t rev, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	k->counts[kind]++;
	check_example(k->errors,
		      json_pack("{s:s,s:I,s:s}", "kind", kind_names[kind], "revision",
				(json_int_t)rev, "error", msg),
		      SCHED_EXAMPLES);
}

static const char *str_of(const json_t *o, const char *f)
{
	return json_string_value(json_object_get(o, f));
}

static int64_t int_of(const json_t *o, const char *f)
{
	return json_integer_value(json_object_get(o, f));
}

static bool holds(const json_t *t)
{
	const char *st = str_of(t, "status");
	return t != NULL && str_of(t, "instance") != NULL && st != NULL &&
	       (strcmp(st, "PENDING") == 0 || strcmp(st, "RUNNING") == 0);
}

static bool is_status(const json_t *t, const char *st)
{
	return t != NULL && str_of(t, "status") != NULL && strcmp(str_of(t, "status"), st) == 0;
}

/* A task record must have this shape, else the history is refused. */
static bool task_ok(const json_t *v)
{
	static const char *const st[] = {"PROVISIONING", "PENDING", "RUNNING", "STOPPED"};
	const char *s = str_of(v, "status");
	bool known = false;
	for (size_t i = 0; s != NULL && i < 4; i++)
		known |= strcmp(s, st[i]) == 0;
	json_t *inst = json_object_get(v, "instance"), *ports = json_object_get(v, "ports");
	return known && str_of(v, "desired") != NULL && str_of(v, "group") != NULL &&
	       json_is_integer(json_object_get(v, "cpu")) &&
	       json_is_integer(json_object_get(v, "memory")) && json_is_array(ports) &&
	       (inst == NULL || json_is_null(inst) || json_is_string(inst)) &&
	       (!(is_status(v, "PENDING") || is_status(v, "RUNNING")) || json_is_string(inst));
}

/* A task's new record: placement once, never moved, never back from STOPPED, never
 * unplaced without a stop. */
static void chk_task(struct chk *k, uint64_t rev, const char *id, json_t *v)
{
	json_t *prev = json_object_get(k->tasks, id);
	if (json_is_null(v)) {
		if (holds(prev))
			chk_error(k, K_LOST, rev, "task %s held %s and was deleted", id,
				  str_of(prev, "instance"));
		json_object_del(k->tasks, id);
		return;
	}
	if (prev != NULL && is_status(prev, "STOPPED") && !is_status(v, "STOPPED"))
		chk_error(k, K_TWICE, rev, "task %s went from STOPPED to %s", id,
			  str_of(v, "status"));
	if (holds(prev) && is_status(v, "PROVISIONING"))
		chk_error(k, K_LOST, rev, "task %s on %s went back to PROVISIONING", id,
			  str_of(prev, "instance"));
	if (holds(v)) {
		if (prev == NULL || is_status(prev, "PROVISIONING")) {
			int64_t n = json_integer_value(json_object_get(k->placings, id)) + 1;
			json_object_set_new(k->placings, id, json_integer(n));
			if (n > 1)
				chk_error(k, K_TWICE, rev,
					  "task %s placed %" PRId64 " times (now on %s)", id, n,
					  str_of(v, "instance"));
		}
		const char *was = prev ? str_of(prev, "instance") : NULL;
		if (was != NULL && strcmp(was, str_of(v, "instance")) != 0)
			chk_error(k, K_TWICE, rev, "task %s moved from %s to %s", id, was,
				  str_of(v, "instance"));
	}
	json_object_set(k->tasks, id, v);
}

/* Applies one [revision, key, value]; -1 for a malformed one (err says which). */
static int chk_apply(struct chk *k, const json_t *e, uint64_t index, char *err, size_t errlen)
{
	json_t *jr = json_array_get(e, 0), *jk = json_array_get(e, 1), *v = json_array_get(e, 2);
	const char *key = json_string_value(jk);
	if (json_array_size(e) != 3 || !json_is_integer(jr) || json_integer_value(jr) <= 0 ||
	    key == NULL || v == NULL) {
		snprintf(err, errlen, "index %" PRIu64 ": a state event is [revision, key, value]",
			 index);
		return -1;
	}
	uint64_t rev = (uint64_t)json_integer_value(jr);
	char name[600], *slash;
	snprintf(name, sizeof(name), "%s", key);
	slash = strchr(name, '/');
	if (slash == NULL) {
		snprintf(err, errlen, "index %" PRIu64 ": key \"%s\" is not recorded", index, key);
		return -1;
	}
	*slash = 0;
	const char *rest = slash + 1;
	if (json_object_get(v, "undecodable") != NULL) {
		chk_error(k, K_STREAM, rev, "%s: %s", key, str_of(v, "undecodable"));
		return 0;
	}
	bool del = json_is_null(v);
	if (strcmp(name, "tasks") == 0) {
		if (!del && !task_ok(v)) {
			snprintf(err, errlen, "index %" PRIu64 ": %s: not a task record", index,
				 key);
			return -1;
		}
		chk_task(k, rev, rest, v);
	} else if (strcmp(name, "instances") == 0) {
		if (del)
			json_object_del(k->insts, rest);
		else
			json_object_set(k->insts, rest, v);
	} else if (strcmp(name, "alloc") == 0) {
		if (del)
			json_object_del(strstr(rest, "/port/") ? k->ports : k->alloc, rest);
		else if (strstr(rest, "/port/") ? !json_is_string(v) : !json_is_integer(v)) {
			snprintf(err, errlen, "index %" PRIu64 ": %s: wrong type", index, key);
			return -1;
		} else
			json_object_set(strstr(rest, "/port/") ? k->ports : k->alloc, rest, v);
	} else if (strcmp(name, "services") == 0) {
		if (del) {
			json_object_del(k->services, rest);
		} else {
			char d[24];
			snprintf(d, sizeof(d), "%" PRId64, int_of(v, "desired"));
			json_object_set(k->services, rest, v);
			if (k->first_desired < 0)
				k->first_desired = int_of(v, "desired");
			json_object_set_new(k->desireds, d, json_true());
		}
	} else {
		snprintf(err, errlen, "index %" PRIu64 ": key \"%s\" is not recorded", index, key);
		return -1;
	}
	k->events++;
	return 0;
}

/* The invariants of one revision: instances within capacity, counters agreeing with the
 * tasks that hold them, no host port held twice. */
static void chk_revision(struct chk *k, uint64_t rev)
{
	const char *iid, *id;
	json_t *in, *t;
	json_t *used = json_object(); /* "I/cpu", "I/mem", "I/port/P" -> sum or task */
	json_object_foreach(k->tasks, id, t)
	{
		if (!holds(t))
			continue;
		const char *at = str_of(t, "instance");
		char key[600];
		if (json_object_get(k->insts, at) == NULL)
			chk_error(k, K_CAPACITY, rev, "task %s holds %s, which is not registered",
				  id, at);
		static const char *const res[2][2] = {{"cpu", "cpu"}, {"mem", "memory"}};
		for (int r = 0; r < 2; r++) {
			snprintf(key, sizeof(key), "%s/%s", at, res[r][0]);
			int64_t sum = json_integer_value(json_object_get(used, key));
			json_object_set_new(used, key, json_integer(sum + int_of(t, res[r][1])));
		}
		size_t pi;
		json_t *p;
		json_array_foreach(json_object_get(t, "ports"), pi, p)
		{
			snprintf(key, sizeof(key), "%s/port/%" PRId64, at,
				 (int64_t)json_integer_value(p));
			const char *other = str_of(used, key);
			if (other != NULL)
				chk_error(k, K_PORT, rev, "host port %s held by tasks %s and %s",
					  key, other, id);
			json_object_set_new(used, key, json_string(id));
			const char *owner = str_of(k->ports, key);
			if (owner == NULL || strcmp(owner, id) != 0)
				chk_error(k, K_ACCOUNTING, rev,
					  "task %s holds %s, whose key says %s", id, key,
					  owner ? owner : "nothing");
		}
	}
	json_object_foreach(k->ports, id, t)
	{
		const char *holder = str_of(used, id);
		if (holder == NULL || strcmp(holder, json_string_value(t)) != 0)
			chk_error(k, K_PORT, rev,
				  "port key %s names task %s, which does not hold it", id,
				  json_string_value(t));
	}
	json_object_foreach(k->insts, iid, in)
	{
		static const char *const res[2][2] = {{"cpu", "cpu"}, {"mem", "memory"}};
		for (int r = 0; r < 2; r++) {
			char key[600];
			snprintf(key, sizeof(key), "%s/%s", iid, res[r][0]);
			int64_t cap = int_of(in, res[r][1]);
			int64_t sum = json_integer_value(json_object_get(used, key));
			int64_t ctr = json_integer_value(json_object_get(k->alloc, key));
			if (sum > cap)
				chk_error(k, K_CAPACITY, rev,
					  "%s: its tasks hold %" PRId64 " of %" PRId64, key, sum,
					  cap);
			if (ctr > cap || ctr < 0)
				chk_error(k, K_CAPACITY, rev,
					  "alloc/%s = %" PRId64 ", outside 0..%" PRId64, key, ctr,
					  cap);
			if (ctr != sum)
				chk_error(k, K_ACCOUNTING, rev,
					  "alloc/%s = %" PRId64 ", its tasks hold %" PRId64, key,
					  ctr, sum);
		}
	}
	json_decref(used);
}

/* The service at the converge operation's revision: its desired count RUNNING. */
static void chk_converge(struct chk *k, const struct hist_op *conv)
{
	const json_t *v = conv->complete ? conv->complete->value : NULL;
	const char *name = str_of(v, "service");
	uint64_t rev = (uint64_t)int_of(v, "revision");
	if (conv->type != HIST_OK) {
		char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
		chk_error(k, K_CONVERGE, rev, "not converged within the bound: %s",
			  text ? text : "no answer");
		free(text);
		return;
	}
	json_t *svc = name ? json_object_get(k->services, name) : NULL;
	if (svc == NULL) {
		chk_error(k, K_CONVERGE, rev, "service %s is not in the stream", name ? name : "?");
		return;
	}
	char group[300];
	snprintf(group, sizeof(group), "service:%s", name);
	int64_t running = 0;
	const char *id;
	json_t *t;
	json_object_foreach(k->tasks, id, t)
	{
		running += strcmp(str_of(t, "group"), group) == 0 && is_status(t, "RUNNING") &&
			   strcmp(str_of(t, "desired"), "RUNNING") == 0;
	}
	if (running != int_of(svc, "desired"))
		chk_error(k, K_CONVERGE, rev,
			  "service %s: %" PRId64 " tasks RUNNING of %" PRId64 " desired", name,
			  running, int_of(svc, "desired"));
}

/* An instance with room for task t in the final state (cpu, memory and t's host ports
 * free), or NULL. A scheduler does not move running tasks, so a task may find no room. */
static const char *chk_room(const struct chk *k, const json_t *t)
{
	const char *iid;
	json_t *in;
	json_object_foreach((json_t *)k->insts, iid, in)
	{
		char key[256];
		snprintf(key, sizeof(key), "%s/cpu", iid);
		if (int_of(in, "cpu") - json_integer_value(json_object_get(k->alloc, key)) <
		    int_of(t, "cpu"))
			continue;
		snprintf(key, sizeof(key), "%s/mem", iid);
		if (int_of(in, "memory") - json_integer_value(json_object_get(k->alloc, key)) <
		    int_of(t, "memory"))
			continue;
		size_t j;
		json_t *port;
		bool free = true;
		json_array_foreach(json_object_get(t, "ports"), j, port)
		{
			snprintf(key, sizeof(key), "%s/port/%" JSON_INTEGER_FORMAT, iid,
				 json_integer_value(port));
			free = free && json_object_get(k->ports, key) == NULL;
		}
		if (free)
			return iid;
	}
	return NULL;
}

/* Every acknowledged RunTask's tasks placed or stopped with a reason (or, unplaced, with
 * no instance that could hold them); no task of a failed
 * one, or of none; every acknowledged stop done; the scale operations' counts. */
static void chk_end(struct chk *k, const struct hist_op *ops, size_t nops, json_t *seen)
{
	json_t *runs = json_object(), *scales = json_object();
	for (size_t i = 0; i < nops; i++) {
		const struct hist_event *in = ops[i].invoke;
		size_t j;
		json_t *id;
		if (strcmp(in->f, "run") == 0) {
			json_array_foreach(json_object_get(in->value, "tasks"), j, id)
			{
				const char *tid = json_string_value(id);
				json_t *t = json_object_get(k->tasks, tid);
				if (ops[i].type != HIST_FAIL)
					json_object_set_new(runs, tid, json_true());
				if (ops[i].type == HIST_FAIL && json_object_get(seen, tid))
					chk_error(k, K_RUN, k->rev,
						  "task %s of a failed run exists", tid);
				if (ops[i].type != HIST_OK)
					continue;
				const char *why = str_of(t, "reason"), *iid;
				if (t == NULL)
					chk_error(k, K_RUN, k->rev,
						  "task %s of an ok run is missing", tid);
				else if (is_status(t, "PROVISIONING") && (iid = chk_room(k, t)))
					chk_error(
						k, K_RUN, k->rev,
						"task %s of an ok run is unplaced though instance "
						"%s has room for it",
						tid, iid);
				else if (is_status(t, "STOPPED") && (why == NULL || why[0] == 0))
					chk_error(k, K_RUN, k->rev,
						  "task %s stopped without a reason", tid);
			}
		} else if (strcmp(in->f, "stop") == 0 && ops[i].type == HIST_OK) {
			const char *tid = str_of(in->value, "task");
			if (!is_status(json_object_get(k->tasks, tid), "STOPPED"))
				chk_error(k, K_STOP, k->rev,
					  "task %s: stop acknowledged, not STOPPED",
					  tid ? tid : "?");
		} else if (strcmp(in->f, "scale") == 0 && ops[i].type != HIST_FAIL) {
			char d[24];
			snprintf(d, sizeof(d), "%" PRId64, int_of(in->value, "desired"));
			json_object_set_new(scales, d, json_true());
			if (ops[i].type == HIST_OK && json_object_get(k->desireds, d) == NULL)
				chk_error(k, K_SCALE, k->rev,
					  "scale to %s acknowledged, never the desired count", d);
		}
	}
	const char *id;
	json_t *t;
	json_object_foreach(seen, id, t)
	{
		if (strncmp(json_string_value(t), "family:", 7) == 0 &&
		    json_object_get(runs, id) == NULL)
			chk_error(k, K_RUN, k->rev, "task %s (%s) was run by no operation", id,
				  json_string_value(t));
	}
	json_object_foreach(k->services, id, t)
	{
		char d[24];
		snprintf(d, sizeof(d), "%" PRId64, int_of(t, "desired"));
		if (json_object_get(scales, d) == NULL && int_of(t, "desired") != k->first_desired)
			chk_error(k, K_SCALE, k->rev, "service %s wants %s, which nobody asked for",
				  id, d);
	}
	json_decref(runs);
	json_decref(scales);
}

json_t *check_sched(const struct history *h, char *err, size_t errlen)
{
	struct hist_op *ops = NULL;
	size_t nops = 0, revisions = 0, gaps = 0, states = 0, placements = 0;
	const struct hist_op *conv = NULL;
	if (hist_pair(h, &ops, &nops, err, errlen) != 0)
		return NULL;
	struct chk k = {.tasks = json_object(),
			.placings = json_object(),
			.insts = json_object(),
			.alloc = json_object(),
			.ports = json_object(),
			.services = json_object(),
			.desireds = json_object(),
			.errors = json_array(),
			.first_desired = -1};
	json_t *seen = json_object(), *res = NULL;
	static const char *const fs[] = {"state", "gap", "run", "stop", "scale", "converge"};
	for (size_t i = 0; i < nops; i++) {
		bool known = false;
		for (size_t f = 0; f < sizeof(fs) / sizeof(fs[0]); f++)
			known |= strcmp(ops[i].invoke->f, fs[f]) == 0;
		if (!known) {
			snprintf(err, errlen,
				 "index %" PRIu64 ": f \"%s\" is not a sched operation",
				 ops[i].invoke->index, ops[i].invoke->f);
			goto out;
		}
		if (strcmp(ops[i].invoke->f, "converge") == 0)
			conv = &ops[i];
		gaps += strcmp(ops[i].invoke->f, "gap") == 0;
	}
	uint64_t conv_rev = conv && conv->type == HIST_OK
				    ? (uint64_t)int_of(conv->complete->value, "revision")
				    : 0;
	bool conv_done = false;
	for (size_t i = 0; i < nops; i++) {
		if (strcmp(ops[i].invoke->f, "state") != 0 || ops[i].type != HIST_OK)
			continue;
		size_t j;
		json_t *e;
		states++;
		json_array_foreach(ops[i].complete->value, j, e)
		{
			uint64_t rev = (uint64_t)json_integer_value(json_array_get(e, 0));
			if (rev < k.rev)
				chk_error(&k, K_STREAM, rev, "revision %" PRIu64 " after %" PRIu64,
					  rev, k.rev);
			if (rev > k.rev && k.rev > 0) {
				chk_revision(&k, k.rev);
				revisions++;
			}
			if (rev > conv_rev && conv_rev > 0 && !conv_done) {
				chk_converge(&k, conv);
				conv_done = true;
			}
			if (chk_apply(&k, e, ops[i].complete->index, err, errlen) != 0)
				goto out;
			const char *key = json_string_value(json_array_get(e, 1));
			json_t *v = json_array_get(e, 2);
			if (strncmp(key, "tasks/", 6) == 0 && json_is_object(v))
				json_object_set_new(seen, key + 6, json_string(str_of(v, "group")));
			if (rev > k.rev)
				k.rev = rev;
		}
	}
	if (k.rev > 0) {
		chk_revision(&k, k.rev);
		revisions++;
	}
	if (conv != NULL && !conv_done && states > 0)
		chk_converge(&k, conv);
	chk_end(&k, ops, nops, seen);
	const char *id;
	json_t *n;
	json_object_foreach(k.placings, id, n)
	{
		placements += (size_t)json_integer_value(n);
	}
	size_t nerr = 0;
	json_t *counts = json_object();
	for (int i = 0; i < K_COUNT; i++) {
		nerr += k.counts[i];
		json_object_set_new(counts, kind_names[i], json_integer((json_int_t)k.counts[i]));
	}
	enum check_verdict v = nerr                                  ? CHECK_INVALID
			       : gaps || states == 0 || conv == NULL ? CHECK_UNKNOWN
								     : CHECK_VALID;
	char summary[256];
	snprintf(summary, sizeof(summary),
		 "%zu revisions, %zu tasks, %zu placements, %zu errors%s%s", revisions,
		 json_object_size(seen), placements, nerr, gaps ? ", gaps in the stream" : "",
		 conv == NULL ? ", no final convergence" : "");
	res = json_pack("{s:o,s:s,s:I,s:I,s:I,s:I,s:I,s:O,s:O,s:o}", "valid", check_valid_json(v),
			"summary", summary, "revisions", (json_int_t)revisions, "events",
			(json_int_t)k.events, "tasks", (json_int_t)json_object_size(seen),
			"placements", (json_int_t)placements, "gaps", (json_int_t)gaps, "converge",
			conv && conv->complete ? conv->complete->value : json_null(), "errors",
			k.errors, "error_counts", counts);
	if (res == NULL)
		snprintf(err, errlen, "out of memory");
out:
	json_decref(k.tasks);
	json_decref(k.placings);
	json_decref(k.insts);
	json_decref(k.alloc);
	json_decref(k.ports);
	json_decref(k.services);
	json_decref(k.desireds);
	json_decref(k.errors);
	json_decref(seen);
	free(ops);
	return res;
}
