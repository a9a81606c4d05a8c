/* jepsen/sched_rec.c: the sched workload's recorder: every revision of the cluster's keys
 * into the history (jepsen/sched.h). */
#include "jepsen/sched.h"

#include "common/err.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define REC_WAIT_MS 200

static const char *const rec_status[] = {"PROVISIONING", "PENDING", "RUNNING", "STOPPED"};
static const char *const rec_svc_status[] = {"ACTIVE", "DRAINING", "INACTIVE"};

static json_t *rec_task(const struct reply_kv *kv)
{
	struct model_task t;
	char err[256];
	if (model_task_decode(kv->value.p, kv->value.n, &t, err, sizeof(err)) != 0)
		return json_pack("{s:s}", "undecodable", err);
	json_t *ports = json_array();
	for (size_t i = 0; i < t.nhost_ports; i++)
		json_array_append_new(ports, json_integer(t.host_ports[i]));
	json_t *v = json_pack("{s:s,s:s,s:s?,s:I,s:I,s:o,s:s,s:s?}", "status",
			      rec_status[t.last_status], "desired", rec_status[t.desired_status],
			      "instance", t.instance, "cpu", (json_int_t)t.cpu, "memory",
			      (json_int_t)t.memory, "ports", ports, "group", t.group, "reason",
			      t.stop_reason);
	model_task_free(&t);
	return v;
}

static json_t *rec_value(const struct model_key *k, const struct reply_kv *kv)
{
	char err[256];
	int64_t x;
	switch (k->kind) {
	case MODEL_KEY_TASK:
		return rec_task(kv);
	case MODEL_KEY_INSTANCE: {
		struct model_instance in;
		if (model_instance_decode(kv->value.p, kv->value.n, &in, err, sizeof(err)) != 0)
			return json_pack("{s:s}", "undecodable", err);
		json_t *v = json_pack("{s:I,s:I}", "cpu", (json_int_t)in.cpu, "memory",
				      (json_int_t)in.memory);
		model_instance_free(&in);
		return v;
	}
	case MODEL_KEY_SERVICE: {
		struct model_service s;
		if (model_service_decode(kv->value.p, kv->value.n, &s, err, sizeof(err)) != 0)
			return json_pack("{s:s}", "undecodable", err);
		json_t *v = json_pack("{s:I,s:s}", "desired", (json_int_t)s.desired_count, "status",
				      rec_svc_status[s.status]);
		model_service_free(&s);
		return v;
	}
	case MODEL_KEY_ALLOC_CPU:
	case MODEL_KEY_ALLOC_MEM:
		if (mp_value_int(kv->value.p, kv->value.n, &x) != 0)
			return json_pack("{s:s}", "undecodable", "not an integer");
		return json_integer(x);
	case MODEL_KEY_ALLOC_PORT:
		return json_stringn((const char *)kv->value.p, kv->value.n);
	default:
		return NULL;
	}
}

json_t *sched_rec_event(const struct berth_event *e, size_t prefix_len)
{
	struct model_key k;
	if (model_key_parse((const char *)e->kv.key.p, e->kv.key.n, &k) != 0 ||
	    e->kv.key.n <= prefix_len)
		return NULL;
	switch (k.kind) {
	case MODEL_KEY_TASK:
	case MODEL_KEY_INSTANCE:
	case MODEL_KEY_SERVICE:
	case MODEL_KEY_ALLOC_CPU:
	case MODEL_KEY_ALLOC_MEM:
	case MODEL_KEY_ALLOC_PORT:
		break;
	default:
		return NULL; /* alive, placed, group: not what the checker judges */
	}
	json_t *v = e->type == MSG_OP_DEL ? json_null() : rec_value(&k, &e->kv);
	if (v == NULL)
		return NULL;
	json_t *key =
		json_stringn((const char *)e->kv.key.p + prefix_len, e->kv.key.n - prefix_len);
	return json_pack("[I,o,o]", (json_int_t)e->kv.mod_rev, key, v);
}

static int rec_open(struct sched_rec *r, struct berth_watch **w)
{
	struct berth_watch_options o = {.key = r->prefix,
					.klen = strlen(r->prefix),
					.prefix = true,
					.rev = atomic_load(&r->at)};
	return berth_watch_open(r->b, &o, w);
}

static void rec_nap(void)
{
	struct timespec ts = {0, REC_WAIT_MS * 1000000L};
	nanosleep(&ts, NULL);
}

/* One batch into the history; the events of other keys are left out. */
static void rec_batch(struct sched_rec *r, const struct berth_watch_batch *b)
{
	size_t plen = strlen(r->prefix);
	json_t *evs = json_array();
	for (size_t i = 0; i < b->nevents; i++) {
		json_t *e = sched_rec_event(&b->events[i], plen);
		if (e != NULL)
			json_array_append_new(evs, e);
	}
	if (json_array_size(evs) > 0) {
		hist_append(r->hist, SCHED_REC_PROCESS, HIST_INVOKE, "state", NULL, NULL);
		hist_append(r->hist, SCHED_REC_PROCESS, HIST_OK, "state", NULL, evs);
	}
	json_decref(evs);
}

static void *rec_main(void *arg)
{
	struct sched_rec *r = arg;
	struct berth_watch *w = NULL;
	while (!atomic_load(&r->stop)) {
		uint64_t until = atomic_load(&r->until);
		if (until != 0 && atomic_load(&r->at) >= until)
			break;
		if (w == NULL && rec_open(r, &w) != 0) {
			w = NULL;
			rec_nap();
			continue;
		}
		struct berth_watch_batch b = {0};
		int rc = berth_watch_next(w, REC_WAIT_MS, &b);
		if (rc == 0) {
			rec_batch(r, &b);
			berth_watch_batch_free(&b);
			atomic_store(&r->at, berth_watch_rev(w));
		} else if (rc == BERTH_ECOMPACTED) {
			uint64_t c = berth_watch_compacted(w);
			json_t *v = json_pack("{s:I,s:I}", "after", (json_int_t)atomic_load(&r->at),
					      "compacted", (json_int_t)c);
			hist_append(r->hist, SCHED_REC_PROCESS, HIST_INVOKE, "gap", NULL, NULL);
			hist_append(r->hist, SCHED_REC_PROCESS, HIST_INFO, "gap", NULL, v);
			json_decref(v);
			atomic_fetch_add(&r->gaps, 1);
			atomic_store(&r->at, c);
			berth_watch_close(w);
			w = NULL;
		} else if (rc != BERTH_ETIMEOUT && rc != BERTH_ENOCONN) {
			/* Overflowed: a new watch from where this one ended, without a gap. */
			atomic_store(&r->at, berth_watch_rev(w));
			berth_watch_close(w);
			w = NULL;
		}
	}
	if (w != NULL)
		berth_watch_close(w);
	return NULL;
}

int sched_rec_start(struct sched_rec *r, struct berth *b, struct hist_writer *hist,
		    const char *prefix, uint64_t from)
{
	r->b = b;
	r->hist = hist;
	snprintf(r->prefix, sizeof(r->prefix), "%s", prefix);
	atomic_init(&r->stop, false);
	atomic_init(&r->until, 0);
	atomic_init(&r->at, from);
	atomic_init(&r->gaps, 0);
	if (pthread_create(&r->thread, NULL, rec_main, r) != 0) {
		berth_close(b);
		r->b = NULL;
		return BERTH_EIO;
	}
	r->running = true;
	return 0;
}

int sched_rec_finish(struct sched_rec *r, uint64_t rev, uint32_t timeout_ms)
{
	if (!r->running)
		return BERTH_ETIMEOUT;
	atomic_store(&r->until, rev);
	for (uint32_t t = 0; t < timeout_ms && atomic_load(&r->at) < rev; t += REC_WAIT_MS)
		rec_nap();
	int rc = atomic_load(&r->at) >= rev ? 0 : BERTH_ETIMEOUT;
	sched_rec_stop(r);
	return rc;
}

void sched_rec_stop(struct sched_rec *r)
{
	if (r->running) {
		atomic_store(&r->stop, true);
		pthread_join(r->thread, NULL);
		r->running = false;
	}
	berth_close(r->b);
	r->b = NULL;
}
