/* tools/agent_tasks.c: berth-agent's tasks. Every task whose instanceId is one of this
 * agent's (as tools/agent_watch.c delivers them) is followed and moved on by
 * agent_task_step with the Start and Stopped transactions of docs/commits.md. Every
 * transaction compares the task's mod_rev; its failure branch reads the task back, so a
 * conflict costs one round trip, after which the task is judged again. */
#include "tools/agent.h"

#include "common/err.h"
#include "common/log.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static struct agent_task *task_find(struct agent *ag, const char *id)
{
	for (size_t i = 0; i < ag->ntasks; i++)
		if (strcmp(ag->tasks[i]->id, id) == 0)
			return ag->tasks[i];
	return NULL;
}

static void task_retry_cb(uv_timer_t *tm)
{
	agent_task_step(tm->data);
}

static struct agent_task *task_new(struct agent *ag, const char *id)
{
	struct agent_task *t;
	if (ag->ntasks == ag->cap) {
		size_t cap = ag->cap ? ag->cap * 2 : 64;
		struct agent_task **p = realloc(ag->tasks, cap * sizeof(*p));
		if (p == NULL)
			return NULL;
		ag->tasks = p;
		ag->cap = cap;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->ag = ag;
	snprintf(t->id, sizeof(t->id), "%s", id);
	uv_timer_init(ag->loop, &t->run_timer);
	uv_timer_init(ag->loop, &t->retry_timer);
	t->run_timer.data = t->retry_timer.data = t;
	t->open_handles = 2;
	ag->tasks[ag->ntasks++] = t;
	return t;
}

/* Removes t from the table and frees it (its handles first). */
static void task_drop(struct agent_task *t)
{
	struct agent *ag = t->ag;
	for (size_t i = 0; i < ag->ntasks; i++)
		if (ag->tasks[i] == t) {
			ag->tasks[i] = ag->tasks[--ag->ntasks];
			break;
		}
	agent_run_free(t);
	agent_shutdown_check(ag);
}

void agent_task_update(struct agent_task *t, struct model_task *rec, uint64_t rev)
{
	if (rev != 0 && rev <= t->rev) {
		if (rec != NULL)
			model_task_free(rec);
		return;
	}
	model_task_free(&t->rec);
	t->have_rec = rec != NULL && rec->id != NULL;
	if (t->have_rec) {
		t->rec = *rec;
		*rec = (struct model_task){0};
	}
	t->rev = rev;
	t->attempts = 0;
}

/* What a transaction's failure branch read back (kv NULL: the task is gone at rev). */
static void task_absorb(struct agent_task *t, const struct reply_kv *kv, uint64_t rev)
{
	struct model_task rec = {0};
	char merr[256];
	if (kv != NULL &&
	    model_task_decode(kv->value.p, kv->value.n, &rec, merr, sizeof(merr)) != 0) {
		t->ag->n.bad++;
		log_warn("task %s: record refused: %s", t->id, merr);
		return;
	}
	agent_task_update(t, &rec, kv != NULL ? (uint64_t)kv->mod_rev : rev);
}

void agent_task_seen(struct agent *ag, struct bytes key, const struct bytes *value, uint64_t rev)
{
	struct model_key k;
	struct model_task rec = {0};
	char merr[256];
	if (model_key_parse((const char *)key.p, key.n, &k) != 0 || k.kind != MODEL_KEY_TASK)
		return;
	struct agent_task *t = task_find(ag, k.task);
	if (value != NULL) {
		if (model_task_decode(value->p, value->n, &rec, merr, sizeof(merr)) != 0) {
			ag->n.bad++;
			log_warn("task %s: record refused: %s", k.task, merr);
			return;
		}
		bool ours = rec.instance != NULL && agent_instance_index(ag, rec.instance) >= 0;
		if (t == NULL && (!ours || rec.last_status == MODEL_TASK_STOPPED)) {
			model_task_free(&rec);
			return;
		}
		if (t == NULL && (t = task_new(ag, k.task)) == NULL) {
			model_task_free(&rec);
			log_error("task %s: %s", k.task, err_text(BERTH_ENOMEM));
			return;
		}
	} else if (t == NULL) {
		return;
	}
	t->list_gen = ag->list_gen;
	agent_task_update(t, value != NULL ? &rec : NULL, rev);
	if (!t->in_flight)
		agent_task_step(t);
}

/* ---- Transactions ---- */

static void task_retry(struct agent_task *t, bool conflict)
{
	struct agent *ag = t->ag;
	if (conflict)
		ag->n.conflicts++;
	else
		ag->n.retries++;
	if (++t->attempts >= AGENT_TXN_ATTEMPTS) {
		/* Bounded: the task waits for the next change the watch brings. */
		log_error("task %s: %u attempts failed; waiting for its next change", t->id,
			  t->attempts);
		return;
	}
	uv_timer_start(&t->retry_timer, task_retry_cb, agent_backoff_ms(ag, t->attempts), 0);
}

struct task_txn {
	struct agent_task *t;
	/* The record to write; it borrows from t->rec, which the watch may replace while the
	 * call is in flight: only read before the call is sent. */
	struct model_task next;
	uint8_t *bytes; /* owned: next, encoded, as the success branch puts it */
	size_t len;
	bool stopped;
};

static void task_txn_free(struct task_txn *x)
{
	free(x->bytes);
	free(x);
}

static void task_txn_done(struct berth_result *res, const char *msg, void *data)
{
	struct task_txn *x = data;
	struct agent_task *t = x->t;
	struct agent *ag = t->ag;
	t->in_flight = false;
	if (res->err == 0 && res->resp.reply.succeeded) {
		struct model_task rec = {0};
		char merr[256];
		/* What was written becomes what the agent knows, at the txn's revision. */
		if (model_task_decode(x->bytes, x->len, &rec, merr, sizeof(merr)) != 0)
			log_error("task %s: own record refused: %s", t->id, merr);
		if (x->stopped)
			ag->n.stopped++;
		log_info("task %s on %s: %s%s%s", t->id, rec.instance ? rec.instance : "?",
			 x->stopped ? "STOPPED" : "RUNNING", x->stopped ? ": " : "",
			 x->stopped && rec.stop_reason ? rec.stop_reason : "");
		agent_task_update(t, &rec, res->resp.reply.rev);
		if (x->stopped)
			t->forget = true;
	} else if (res->err == 0) {
		/* The task changed: the failure branch read it back. */
		const struct reply_kv *kv = NULL;
		if (res->resp.reply.nops == 1 && res->resp.reply.ops[0].nkvs == 1)
			kv = &res->resp.reply.ops[0].kvs[0];
		log_debug("task %s: changed since revision %" PRIu64, t->id, t->rev);
		unsigned attempts = t->attempts;
		task_absorb(t, kv, res->resp.reply.rev);
		t->attempts = attempts;
		task_txn_free(x);
		task_retry(t, true);
		return;
	} else {
		log_warn("task %s: %s%s: %s", t->id, err_name(res->err),
			 res->indeterminate ? " (may have been applied)" : "", msg);
		task_txn_free(x);
		task_retry(t, false);
		return;
	}
	task_txn_free(x);
	agent_task_step(t);
}

/* compare R(C/tasks/T) = rev; success: put the task as x->next (and, for Stopped, the
 * release of its resources); failure: get C/tasks/T. */
static void task_txn_send(struct agent_task *t, struct task_txn *x)
{
	struct agent *ag = t->ag;
	const struct model_task *r = &t->rec;
	const char *cl = r->cluster, *iid = r->instance;
	char keys[5 + MODEL_HOST_PORTS_MAX][MODEL_KEY_MAX], merr[256];
	struct msg_op ops[6 + MODEL_HOST_PORTS_MAX];
	struct mp_buf b;
	uint32_t n = 0;
	int rv = model_key_task(keys[0], cl, t->id);
	mp_buf_init(&b);
	if (rv == 0)
		rv = model_task_encode(&x->next, &b, merr, sizeof(merr));
	if (rv == 0 && (x->bytes = mp_buf_take(&b, &x->len)) == NULL)
		rv = BERTH_ENOMEM;
	struct bytes tk = {(const uint8_t *)keys[0], strlen(keys[0])};
	struct msg_compare cmp = {
		.target = MSG_CMP_MOD, .op = MSG_EQ, .key = tk, .num = (int64_t)t->rev};
	struct msg_op get = {.type = MSG_OP_RANGE, .key = tk};
	ops[n++] = (struct msg_op){.type = MSG_OP_PUT, .key = tk, .value = {x->bytes, x->len}};
	if (x->stopped && rv == 0) {
		rv = model_key_alloc_cpu(keys[1], cl, iid) | model_key_alloc_mem(keys[2], cl, iid) |
		     model_key_group(keys[3], cl, r->group, iid) |
		     model_key_placed(keys[4], cl, iid, t->id);
		ops[n++] = (struct msg_op){.type = MSG_OP_ADD,
					   .key = {(const uint8_t *)keys[1], strlen(keys[1])},
					   .delta = -(int64_t)r->cpu};
		ops[n++] = (struct msg_op){.type = MSG_OP_ADD,
					   .key = {(const uint8_t *)keys[2], strlen(keys[2])},
					   .delta = -(int64_t)r->memory};
		for (size_t p = 0; p < r->nhost_ports && rv == 0; p++) {
			rv = model_key_alloc_port(keys[5 + p], cl, iid, r->host_ports[p]);
			ops[n++] = (struct msg_op){
				.type = MSG_OP_DEL,
				.key = {(const uint8_t *)keys[5 + p], strlen(keys[5 + p])}};
		}
		ops[n++] = (struct msg_op){.type = MSG_OP_ADD,
					   .key = {(const uint8_t *)keys[3], strlen(keys[3])},
					   .delta = -1};
		ops[n++] = (struct msg_op){.type = MSG_OP_DEL,
					   .key = {(const uint8_t *)keys[4], strlen(keys[4])}};
	}
	struct msg_txn txn = {
		.ncmp = 1, .nsucc = n, .nfail = 1, .cmp = &cmp, .succ = ops, .fail = &get};
	if (rv == 0)
		rv = berth_async_txn(ag->a, &txn, false, task_txn_done, x);
	mp_buf_close(&b);
	if (rv != 0) {
		log_error("task %s: %s: %s", t->id, err_name(rv),
			  rv == BERTH_EBADREQ ? merr : err_text(rv));
		task_txn_free(x);
		task_retry(t, false);
		return;
	}
	t->in_flight = true;
}

/* Start: the task as it is, last RUNNING. */
static void task_send_start(struct agent_task *t)
{
	struct task_txn *x = malloc(sizeof(*x));
	if (x == NULL) {
		task_retry(t, false);
		return;
	}
	*x = (struct task_txn){.t = t, .next = t->rec};
	x->next.last_status = MODEL_TASK_RUNNING;
	x->next.updated_ms = agent_now_ms();
	task_txn_send(t, x);
}

/* Stopped: last STOPPED with a reason (the stop request's, when it gave one) and the
 * exit code when the run had one; the resources released in the same transaction. */
static void task_send_stopped(struct agent_task *t, const char *reason, bool has_exit, int code)
{
	struct task_txn *x = malloc(sizeof(*x));
	if (x == NULL) {
		task_retry(t, false);
		return;
	}
	*x = (struct task_txn){.t = t, .next = t->rec, .stopped = true};
	x->next.last_status = MODEL_TASK_STOPPED;
	if (t->rec.stop_reason == NULL || t->rec.desired_status != MODEL_TASK_STOPPED)
		x->next.stop_reason = (char *)reason;
	x->next.has_exit_code = has_exit;
	x->next.exit_code = code;
	x->next.updated_ms = agent_now_ms();
	task_txn_send(t, x);
}

/* ---- Each task's state ---- */

static void task_got_td(struct berth_result *res, const char *msg, void *data)
{
	struct agent_task *t = data;
	const struct reply_kv *kv = res->err == 0 ? berth_result_kv(res) : NULL;
	char merr[256] = "";
	t->in_flight = false;
	if (res->err != 0) {
		log_warn("task %s: task definition: %s: %s", t->id, err_name(res->err), msg);
		task_retry(t, false);
		return;
	}
	if (kv == NULL ||
	    model_taskdef_decode(kv->value.p, kv->value.n, &t->td, merr, sizeof(merr)) != 0) {
		/* Nothing to run: the run ends at once, reported with exit code 127. */
		snprintf(t->reason, sizeof(t->reason), "task definition %s:%" PRIu32 " %s%s",
			 t->rec.family, t->rec.revision,
			 kv == NULL ? "not found" : "refused: ", merr);
		t->has_exit = true;
		t->exit_code = 127;
		t->local = AGENT_LOCAL_ENDED;
		t->ag->n.failed++;
	} else {
		t->have_td = true;
	}
	agent_task_step(t);
}

static void task_fetch_td(struct agent_task *t)
{
	char key[MODEL_KEY_MAX];
	int rv = model_key_taskdef(key, t->rec.family, t->rec.revision);
	if (rv == 0)
		rv = berth_async_get(t->ag->a, key, strlen(key), 0, false, task_got_td, t);
	if (rv != 0) {
		task_retry(t, false);
		return;
	}
	t->in_flight = true;
}

void agent_task_ended(struct agent_task *t)
{
	if (!t->in_flight)
		agent_task_step(t);
}

void agent_task_step(struct agent_task *t)
{
	struct agent *ag = t->ag;
	const struct model_task *r = &t->rec;
	if (t->in_flight || uv_is_active((uv_handle_t *)&t->retry_timer) ||
	    t->attempts >= AGENT_TXN_ATTEMPTS)
		return;
	bool ours = t->have_rec && r->instance != NULL &&
		    agent_instance_index(ag, r->instance) >= 0 &&
		    (r->last_status == MODEL_TASK_PENDING || r->last_status == MODEL_TASK_RUNNING);
	if (!ours || t->forget) {
		/* Stopped (by this agent or by a worker: instance lost), deleted or moved. */
		t->forget = true;
		if (t->local == AGENT_LOCAL_RUNNING)
			agent_run_kill(t, "no longer placed here");
		if (t->local != AGENT_LOCAL_RUNNING && t->local != AGENT_LOCAL_KILLING)
			task_drop(t);
		return;
	}
	bool stop = r->desired_status == MODEL_TASK_STOPPED;
	switch (t->local) {
	case AGENT_LOCAL_NONE:
		if (r->last_status == MODEL_TASK_RUNNING) /* an earlier run of this agent */
			task_send_stopped(t, "agent restarted", false, 0);
		else if (stop)
			task_send_stopped(t, "stopped before it started", false, 0);
		else if (ag->stopping)
			return; /* left PENDING: it is not started while the agent stops */
		else if (ag->cfg->exec && !t->have_td)
			task_fetch_td(t);
		else {
			ag->n.started++;
			agent_run_start(t);
			agent_task_step(t);
		}
		return;
	case AGENT_LOCAL_RUNNING:
		if (stop)
			agent_run_kill(t, "stopped by request");
		else if (r->last_status == MODEL_TASK_PENDING)
			task_send_start(t);
		if (t->local == AGENT_LOCAL_ENDED) /* sim: a kill ends the run at once */
			task_send_stopped(t, t->reason, t->has_exit, t->exit_code);
		return;
	case AGENT_LOCAL_KILLING:
		return;
	case AGENT_LOCAL_ENDED:
		task_send_stopped(t, t->reason, t->has_exit, t->exit_code);
		return;
	}
}

size_t agent_tasks_busy(const struct agent *ag)
{
	size_t n = 0;
	for (size_t i = 0; i < ag->ntasks; i++) {
		const struct agent_task *t = ag->tasks[i];
		n += t->in_flight || t->local == AGENT_LOCAL_RUNNING ||
		     t->local == AGENT_LOCAL_KILLING || t->local == AGENT_LOCAL_ENDED;
	}
	return n;
}

void agent_tasks_stop_all(struct agent *ag)
{
	for (size_t i = ag->ntasks; i-- > 0;) {
		struct agent_task *t = ag->tasks[i];
		agent_run_kill(t, "agent stopped");
		if (t->local == AGENT_LOCAL_ENDED && !t->in_flight)
			agent_task_step(t);
	}
}

void agent_tasks_close(struct agent *ag)
{
	while (ag->ntasks > 0)
		agent_run_free(ag->tasks[--ag->ntasks]);
}
