/* jepsen/wl_sched.c: the sched workload's operations (run, scale, stop) and its final
 * step: the service back at its desired count within SCHED_CONVERGE_MS, and the recorder
 * drained to that revision (jepsen/wl.h, jepsen/sched.h). */
#include "jepsen/check.h"
#include "jepsen/sched.h"

#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCHED_POLL_MS 200
#define SCHED_REASON "stopped by berth-jepsen"

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct sched *sched_of(struct wl_client *c)
{
	return c->sh->priv;
}

/* A compare-and-swap of one record: its mod_rev as read, the new value. */
static int cas_put(struct berth *b, const char *key, uint64_t mod_rev, const struct mp_buf *v,
		   bool *won)
{
	struct bytes k = {(const uint8_t *)key, strlen(key)};
	struct msg_compare cmp = {
		.target = MSG_CMP_MOD, .op = MSG_EQ, .key = k, .num = (int64_t)mod_rev};
	struct msg_op put = {.type = MSG_OP_PUT, .key = k, .value = {v->data, v->len}};
	struct msg_txn t = {.ncmp = 1, .nsucc = 1, .cmp = &cmp, .succ = &put};
	struct berth_result r = {0};
	int rc = berth_txn(b, &t, false, &r);
	*won = rc == 0 && r.resp.reply.succeeded;
	berth_result_free(&r);
	return rc;
}

/* RunTask: n tasks of SCHED_RUN_FAMILY:1 created PROVISIONING in one transaction, as
 * berthctl task run writes them (docs/commits.md, "Run"). */
static void op_run(struct wl_client *c, size_t n)
{
	struct sched *s = sched_of(c);
	char ids[3][MODEL_TASK_ID_LEN + 1], keys[3][MODEL_KEY_MAX], err[256];
	char cluster[] = SCHED_CLUSTER, family[] = SCHED_RUN_FAMILY, group[] = "family:jrun";
	char by[] = "berth-jepsen", iid[] = "instanceId";
	uint16_t port = SCHED_PORT;
	struct model_strategy st = {MODEL_SPREAD, iid};
	struct model_task t = {.cluster = cluster,
			       .family = family,
			       .revision = 1,
			       .cpu = 128,
			       .memory = 128,
			       .host_ports = &port,
			       .nhost_ports = 1,
			       .group = group,
			       .strategies = &st,
			       .nstrategies = 1,
			       .desired_status = MODEL_TASK_RUNNING,
			       .last_status = MODEL_TASK_PROVISIONING,
			       .started_by = by,
			       .created_ms = unix_ms()};
	t.updated_ms = t.created_ms;
	struct mp_buf vals[3];
	struct msg_compare cmp[3];
	struct msg_op put[3];
	uint64_t seed = wl_rand(c, UINT64_MAX);
	json_t *list = json_array();
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		model_id_new(&seed, ids[i]);
		t.id = ids[i];
		model_key_task(keys[i], SCHED_CLUSTER, ids[i]);
		mp_buf_init(&vals[i]);
		if (rc == 0)
			rc = model_task_encode(&t, &vals[i], err, sizeof(err));
		struct bytes k = {(const uint8_t *)keys[i], strlen(keys[i])};
		cmp[i] = (struct msg_compare){.target = MSG_CMP_VERSION, .op = MSG_EQ, .key = k};
		put[i] = (struct msg_op){
			.type = MSG_OP_PUT, .key = k, .value = {vals[i].data, vals[i].len}};
		json_array_append_new(list, json_string(ids[i]));
	}
	json_t *v = json_pack("{s:o}", "tasks", list);
	wl_invoke(c, "run", NULL, v);
	bool won = false;
	if (rc == 0) {
		struct msg_txn txn = {
			.ncmp = (uint32_t)n, .nsucc = (uint32_t)n, .cmp = cmp, .succ = put};
		struct berth_result r = {0};
		rc = berth_txn(c->b, &txn, false, &r);
		won = rc == 0 && r.resp.reply.succeeded;
		berth_result_free(&r);
	} else {
		fprintf(stderr, "berth-jepsen: sched: a task: %s\n", err);
	}
	for (size_t i = 0; i < n; i++)
		mp_buf_close(&vals[i]);
	/* The tasks of an ok run are live; those of a run whose outcome is unknown may exist,
	 * so they count against run_live_max too (and may be stopped: a stop finds out). */
	bool maybe = !won && rc != 0 && err_indeterminate(rc);
	pthread_mutex_lock(&s->mu);
	s->run_inflight -= n;
	for (size_t i = 0; (won || maybe) && i < n; i++)
		if (sched_ids_add(&s->live, ids[i]) != 0 ||
		    (won && sched_ids_add(&s->acked, ids[i]) != 0))
			fprintf(stderr, "berth-jepsen: sched: out of memory\n");
	pthread_mutex_unlock(&s->mu);
	wl_complete(c, "run", NULL, rc, won, NULL);
	json_decref(v);
}

/* Reads key (linearizable) and decodes its record with dec into rec; 0 with *mod_rev, or
 * non-zero (a failed read, a missing or undecodable record). */
typedef int (*dec_fn)(const uint8_t *p, size_t n, void *rec, char *err, size_t errlen);

static int read_record(struct berth *b, const char *key, dec_fn dec, void *rec, uint64_t *mod_rev)
{
	struct berth_result r = {0};
	char err[256];
	int rc = berth_get(b, key, strlen(key), 0, false, &r);
	const struct reply_kv *kv = rc == 0 ? berth_result_kv(&r) : NULL;
	if (rc == 0 && kv == NULL)
		rc = BERTH_ENOTFOUND;
	if (rc == 0 && dec(kv->value.p, kv->value.n, rec, err, sizeof(err)) != 0) {
		fprintf(stderr, "berth-jepsen: sched: %s: %s\n", key, err);
		rc = BERTH_ECORRUPT;
	}
	if (rc == 0)
		*mod_rev = kv->mod_rev;
	berth_result_free(&r);
	return rc;
}

static int dec_task(const uint8_t *p, size_t n, void *rec, char *err, size_t errlen)
{
	return model_task_decode(p, n, rec, err, errlen);
}

static int dec_service(const uint8_t *p, size_t n, void *rec, char *err, size_t errlen)
{
	return model_service_decode(p, n, rec, err, errlen);
}

/* Ends an operation that read a record and may have written it: a failed read wrote
 * nothing (fail); otherwise the write's outcome. */
static void complete_cas(struct wl_client *c, const char *f, int read_rc, int rc, bool won)
{
	if (read_rc != 0)
		wl_complete(c, f, NULL, 0, false, NULL);
	else
		wl_complete(c, f, NULL, rc, won, NULL);
}

/* A stop request for run task id, taken out of the live set by the caller under the lock
 * (docs/commits.md, "Stop request"). */
static void op_stop(struct wl_client *c, const char *id)
{
	struct sched *s = sched_of(c);
	char key[MODEL_KEY_MAX], err[256];
	model_key_task(key, SCHED_CLUSTER, id);
	json_t *v = json_pack("{s:s}", "task", id);
	wl_invoke(c, "stop", NULL, v);
	struct model_task t = {0};
	uint64_t mod_rev = 0;
	bool won = false;
	int rc = 0, read_rc = read_record(c->b, key, dec_task, &t, &mod_rev);
	if (read_rc == 0 && t.desired_status == MODEL_TASK_STOPPED) {
		won = true; /* stopped already (its instance was lost) */
	} else if (read_rc == 0) {
		free(t.stop_reason);
		t.stop_reason = strdup(SCHED_REASON);
		t.desired_status = MODEL_TASK_STOPPED;
		if (t.last_status == MODEL_TASK_PROVISIONING)
			t.last_status = MODEL_TASK_STOPPED;
		t.updated_ms = unix_ms();
		struct mp_buf buf;
		mp_buf_init(&buf);
		rc = model_task_encode(&t, &buf, err, sizeof(err));
		if (rc == 0)
			rc = cas_put(c->b, key, mod_rev, &buf, &won);
		mp_buf_close(&buf);
	}
	model_task_free(&t);
	pthread_mutex_lock(&s->mu);
	if (read_rc == 0 && rc == 0 && won)
		sched_ids_add(&s->stopped, id);
	else if (read_rc != BERTH_ENOTFOUND) /* not found: a run of unknown outcome that
						  * did not happen; nothing to stop */
		sched_ids_add(&s->live, id); /* may be stopped again */
	pthread_mutex_unlock(&s->mu);
	complete_cas(c, "stop", read_rc, rc, won);
	json_decref(v);
}

/* The service's desired count set within its bounds. */
static void op_scale(struct wl_client *c)
{
	struct sched *s = sched_of(c);
	char key[MODEL_KEY_MAX], err[256];
	uint32_t want = s->desired_min + (uint32_t)wl_rand(c, s->desired_max - s->desired_min + 1);
	model_key_service(key, SCHED_CLUSTER, SCHED_SERVICE);
	json_t *v = json_pack("{s:I}", "desired", (json_int_t)want);
	wl_invoke(c, "scale", NULL, v);
	struct model_service sv = {0};
	uint64_t mod_rev = 0;
	bool won = false;
	int rc = 0, read_rc = read_record(c->b, key, dec_service, &sv, &mod_rev);
	if (read_rc == 0) {
		sv.desired_count = want;
		for (size_t i = 0; i < sv.ndeployments; i++)
			if (sv.deployments[i].status == MODEL_DEPLOYMENT_PRIMARY)
				sv.deployments[i].desired = want;
		struct mp_buf buf;
		mp_buf_init(&buf);
		rc = model_service_encode(&sv, &buf, err, sizeof(err));
		if (rc == 0)
			rc = cas_put(c->b, key, mod_rev, &buf, &won);
		mp_buf_close(&buf);
	}
	model_service_free(&sv);
	complete_cas(c, "scale", read_rc, rc, won);
	json_decref(v);
}

/* Half runs, three in ten stops, two in ten scales; a run that would hold more than
 * run_live_max tasks becomes a stop, a stop with nothing to stop a run. */
static void sched_op(struct wl_client *c)
{
	struct sched *s = sched_of(c);
	uint64_t p = wl_rand(c, 10);
	if (p >= 8) {
		op_scale(c);
		return;
	}
	size_t n = 1 + (size_t)wl_rand(c, 3);
	char id[MODEL_TASK_ID_LEN + 1];
	bool run = false, stop = false;
	pthread_mutex_lock(&s->mu);
	size_t held = s->live.n + s->run_inflight;
	if (held < s->run_live_max && (p < 5 || s->live.n == 0)) {
		run = true;
		if (n > s->run_live_max - held)
			n = s->run_live_max - held;
		s->run_inflight += n;
	} else if (s->live.n > 0) {
		/* Chosen and taken in one critical section: another client may take one
		 * as soon as the lock is released. */
		stop = true;
		sched_ids_take(&s->live, (size_t)wl_rand(c, s->live.n), id);
	}
	pthread_mutex_unlock(&s->mu);
	if (run)
		op_run(c, n);
	else if (stop)
		op_stop(c, id);
	else
		op_scale(c);
}

/* What the final step waits for, from one read of the whole cluster. */
struct sched_view {
	uint64_t rev;
	int64_t desired;
	size_t running, unplaced, unstopped;
};

static int sched_look(struct wl_client *c, struct sched_view *v)
{
	struct sched *s = sched_of(c);
	char prefix[MODEL_KEY_MAX], err[256];
	struct berth_result r = {0};
	model_key_prefix(prefix, -1, SCHED_CLUSTER, NULL);
	struct berth_range q = {.key = prefix, .klen = strlen(prefix), .prefix = true};
	int rc = berth_range(c->b, &q, &r);
	if (rc == 0 && (r.resp.reply.nops != 1 || r.resp.reply.ops[0].more))
		rc = BERTH_ETOOLARGE;
	memset(v, 0, sizeof(*v));
	v->desired = -1;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; rc == 0 && i < r.resp.reply.ops[0].nkvs; i++) {
		const struct reply_kv *kv = &r.resp.reply.ops[0].kvs[i];
		struct model_key k;
		if (model_key_parse((const char *)kv->key.p, kv->key.n, &k) != 0)
			continue;
		if (k.kind == MODEL_KEY_SERVICE) {
			struct model_service sv;
			if (model_service_decode(kv->value.p, kv->value.n, &sv, err, sizeof(err)) ==
			    0)
				v->desired = sv.desired_count;
			model_service_free(&sv);
			continue;
		}
		struct model_task t;
		if (k.kind != MODEL_KEY_TASK ||
		    model_task_decode(kv->value.p, kv->value.n, &t, err, sizeof(err)) != 0)
			continue;
		v->running += strcmp(t.group, "service:" SCHED_SERVICE) == 0 &&
			      t.last_status == MODEL_TASK_RUNNING &&
			      t.desired_status == MODEL_TASK_RUNNING;
		v->unplaced +=
			t.last_status == MODEL_TASK_PROVISIONING && sched_ids_has(&s->acked, t.id);
		v->unstopped +=
			t.last_status != MODEL_TASK_STOPPED && sched_ids_has(&s->stopped, t.id);
		model_task_free(&t);
	}
	pthread_mutex_unlock(&s->mu);
	if (rc == 0)
		v->rev = r.resp.reply.rev;
	berth_result_free(&r);
	return rc;
}

/* Thread 0: waits until the service has its desired count RUNNING, no acknowledged run
 * task is unplaced and every acknowledged stop is STOPPED, or SCHED_CONVERGE_MS; the
 * "converge" operation is ok with the revision when the service and the stops got there
 * (unplaced run tasks are the checker's to judge), fail otherwise; then drains the
 * recorder to that revision. */
static int sched_final(struct wl_client *c)
{
	struct sched *s = sched_of(c);
	if (c->thread != 0)
		return 0;
	uint64_t start = mono_ms(), deadline = start + SCHED_CONVERGE_MS;
	struct sched_view v = {0};
	bool done = false, seen = false;
	json_t *in = json_pack("{s:s}", "service", SCHED_SERVICE);
	wl_invoke(c, "converge", NULL, in);
	while (!done && mono_ms() < deadline) {
		struct sched_view now;
		if (sched_look(c, &now) == 0) {
			v = now;
			seen = true;
			done = v.desired >= 0 && v.running == (size_t)v.desired &&
			       v.unplaced == 0 && v.unstopped == 0;
		}
		if (!done) {
			struct timespec ts = {0, SCHED_POLL_MS * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	/* Run tasks still unplaced at the deadline may have no instance that can hold them
	 * (a scheduler does not move running tasks): the checker judges them against the
	 * final state's room, so they do not fail the convergence. */
	bool converged = v.desired >= 0 && v.running == (size_t)v.desired && v.unstopped == 0;
	json_t *out =
		json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "service", SCHED_SERVICE, "revision",
			  (json_int_t)v.rev, "desired", (json_int_t)v.desired, "running",
			  (json_int_t)v.running, "unplaced", (json_int_t)v.unplaced, "unstopped",
			  (json_int_t)v.unstopped, "elapsed_ms", (json_int_t)(mono_ms() - start));
	wl_complete(c, "converge", NULL, 0, converged, out);
	json_decref(in);
	if (!seen) {
		fprintf(stderr, "berth-jepsen: sched: the cluster could not be read\n");
		return 1;
	}
	if (sched_rec_finish(&s->rec, v.rev, SCHED_CONVERGE_MS) != 0) {
		fprintf(stderr, "berth-jepsen: sched: the recorder did not reach revision %llu\n",
			(unsigned long long)v.rev);
		return 1;
	}
	return 0;
}

static json_t *sched_check(const struct history *h, const struct run_config *cfg, char *err,
			   size_t errlen)
{
	(void)cfg;
	return check_sched(h, err, errlen);
}

const struct workload wl_sched = {.name = "sched",
				  .setup = sched_setup,
				  .op = sched_op,
				  .final = sched_final,
				  .check = sched_check,
				  .close = sched_close};
