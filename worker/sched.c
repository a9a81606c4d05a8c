/* worker/sched.c: the placement commits (the queue itself is worker/squeue.c).
 *
 * A task enters the pending queue when its record says PROVISIONING with desired status
 * RUNNING, and leaves it when it says anything else. Decisions are made only on a
 * complete cache (after the list, once the watch has caught up with it), while fewer than
 * --max-inflight commits are in flight: the next task and up to --batch - 1 queued tasks
 * alike are decided on one input and committed in as few Place transactions as
 * --max-txn-ops allows; each commit holds what it takes (worker/decide.c) until the
 * cache shows it, so the next decisions see it. A failed compare refreshes the cache from
 * the failure branch and the transaction's tasks go back to the queue after a jittered
 * backoff; after --max-retries, or when nothing fits, a task is parked until the cache
 * changes in a way that may give it room. */
#include "worker/ptxn.h"
#include "worker/worker.h"

#include "common/err.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHED_GANG_MAX 64 /* tasks in one group commit */
#define SCHED_SCAN 4096   /* queued tasks looked at for a batch */

struct attempt {
	struct worker *w;
	uint64_t id;
	size_t n;
	char (*tids)[MODEL_ID_MAX + 1]; /* owned */
	uint64_t sent_ns;
	bool inflight; /* its transaction has no answer yet */
	uv_timer_t timer;
};

static bool eligible(const struct cache_task *t)
{
	return t->rec.last_status == MODEL_TASK_PROVISIONING &&
	       t->rec.desired_status == MODEL_TASK_RUNNING;
}

static void hook_task(struct cache *c, struct cache_task *t, bool removed, void *data)
{
	struct worker *w = data;
	(void)c;
	decide_task_free(t);
	if (strncmp(t->rec.group, "service:", 8) == 0)
		w->svc_dirty = true;
	if (removed || !eligible(t)) {
		squeue_foreign(w, t);
		squeue_unlink(w, t);
		if (!removed && w->phase == WORKER_WATCHING)
			lost_check_task(w, t);
		return;
	}
	if (t->queue == Q_BAD)
		t->queue = Q_NONE;
	if (t->queue == Q_NONE && wmap_get(&w->busy, t->id) == NULL) {
		/* Front or back at random: workers that see the same new tasks take them in
		 * different orders, so they race less on the same task. */
		t->tries = 0;
		squeue_push(w, t, Q_PENDING, place_random(&w->rng) & 1);
	}
}

static void hook_capacity(struct cache *c, void *data)
{
	struct worker *w = data;
	(void)c;
	w->wake = true;
	w->svc_dirty = true;
}

static void hook_lost(struct cache *c, struct cache_inst *in, void *data)
{
	struct worker *w = data;
	(void)c;
	w->svc_dirty = true;
	if (w->phase == WORKER_WATCHING)
		lost_instance(w, in);
}

static void hook_service(struct cache *c, struct cache_svc *s, void *data)
{
	struct worker *w = data;
	(void)c;
	(void)s;
	w->svc_dirty = true;
}

static void hook_task_free(struct cache *c, struct cache_task *t, void *data)
{
	(void)c;
	squeue_unlink(data, t);
	decide_task_free(t);
}

/* An instance's usage went up: unless this worker wrote it (a commit in flight on it, or
 * one of its last commits there), another worker is filling it. */
static void hook_used(struct cache *c, struct cache_inst *in, int64_t rev, void *data)
{
	struct worker *w = data;
	(void)c;
	if (in->held > 0)
		return;
	for (size_t i = 0; i < sizeof(in->mine_rev) / sizeof(in->mine_rev[0]); i++)
		if (in->mine_rev[i] == rev)
			return;
	in->busy_ms = uv_now(w->loop);
}

const struct cache_hooks sched_hooks = {.task = hook_task,
					.capacity = hook_capacity,
					.lost = hook_lost,
					.service = hook_service,
					.task_free = hook_task_free,
					.used = hook_used};

void sched_init(struct worker *w)
{
	squeue_init(w);
	wmap_init(&w->busy);
}

static void attempt_free_cb(uv_handle_t *h)
{
	struct attempt *a = h->data;
	free(a->tids);
	free(a);
}

static void attempt_end(struct attempt *a)
{
	for (size_t i = 0; i < a->n; i++)
		if (wmap_get(&a->w->busy, a->tids[i]) == a)
			wmap_del(&a->w->busy, a->tids[i]);
	uv_close((uv_handle_t *)&a->timer, attempt_free_cb);
}

void sched_close(struct worker *w)
{
	const char *k;
	void *v;
	/* Attempts waiting for a retry end now; those in flight end in place_done. */
	for (size_t i = 0; (i = wmap_next(&w->busy, i, &k, &v)) != 0;) {
		struct attempt *a = v;
		wmap_del(&w->busy, k);
		for (size_t j = 0; j < a->n; j++)
			if (wmap_get(&w->busy, a->tids[j]) == a)
				wmap_del(&w->busy, a->tids[j]);
		if (!a->inflight && !uv_is_closing((uv_handle_t *)&a->timer))
			attempt_end(a);
	}
	wmap_close(&w->busy);
}

static struct attempt *attempt_new(struct worker *w, size_t n)
{
	struct attempt *a = calloc(1, sizeof(*a));
	if (a == NULL || (a->tids = calloc(n, sizeof(*a->tids))) == NULL) {
		free(a);
		return NULL;
	}
	a->w = w;
	a->id = ++w->next_attempt;
	uv_timer_init(w->loop, &a->timer);
	a->timer.data = a;
	return a;
}

static void park(struct worker *w, struct cache_task *t, const char *why)
{
	w->stats.parked++;
	log_debug("task %s parked: %s", t->id, why);
	squeue_push(w, t, Q_PARKED, false);
}

static void retry_cb(uv_timer_t *timer)
{
	struct attempt *a = timer->data;
	struct worker *w = a->w;
	for (size_t i = 0; i < a->n; i++) {
		if (wmap_get(&w->busy, a->tids[i]) != a)
			continue;
		wmap_del(&w->busy, a->tids[i]);
		struct cache_task *t = cache_task(&w->cache, a->tids[i]);
		if (t != NULL && eligible(t) && t->queue == Q_NONE)
			squeue_push(w, t, Q_PENDING, true);
	}
	attempt_end(a);
	sched_pump(w);
}

/* After a conflict or a failed call: each task still waiting goes back to the queue after
 * a jittered backoff, or is parked once out of retries. */
static void attempt_retry(struct attempt *a)
{
	struct worker *w = a->w;
	unsigned most = 0;
	for (size_t i = 0; i < a->n; i++) {
		struct cache_task *t = cache_task(&w->cache, a->tids[i]);
		if (t == NULL || !eligible(t) || t->queue != Q_NONE) {
			if (wmap_get(&w->busy, a->tids[i]) == a)
				wmap_del(&w->busy, a->tids[i]);
			continue;
		}
		if (++t->tries > w->cfg->max_retries) {
			if (wmap_get(&w->busy, a->tids[i]) == a)
				wmap_del(&w->busy, a->tids[i]);
			park(w, t, "out of retries");
			w->retry_parked = true;
			continue;
		}
		w->stats.retries++;
		if (t->tries > most)
			most = t->tries;
	}
	if (most == 0) {
		attempt_end(a);
		return;
	}
	uint64_t d = 2ull << (most < 7 ? most : 7); /* 4 ms .. 256 ms */
	uint64_t delay = d / 2 + place_random(&w->rng) % (d / 2 + 1);
	uv_timer_start(&a->timer, retry_cb, delay, 0);
}

/* After a conflict and its refresh: the buckets of the tasks another worker took
 * meanwhile are that worker's for a while; the debug log says how many there were (the
 * others lost on an instance's room). */
static void conflicted(struct worker *w, const struct attempt *a)
{
	size_t taken = 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct cache_task *t = cache_task(&w->cache, a->tids[i]);
		if (t != NULL && eligible(t))
			continue;
		taken++;
		squeue_taken(w, a->tids[i]);
	}
	log_debug("place %s (+%zu) conflicted: %zu of its tasks taken meanwhile", a->tids[0],
		  a->n - 1, taken);
}

static void place_done(struct berth_result *res, const char *errmsg, void *data)
{
	struct attempt *a = data;
	struct worker *w = a->w;
	int err = worker_result_err(res);
	bool ok = err == 0 && res->resp.reply.succeeded;
	w->inflight--;
	a->inflight = false;
	stats_record(&w->stats.commit, (uv_hrtime() - a->sent_ns) / 1000);
	decide_unhold(w, a->id, ok ? res->resp.reply.rev : 0);
	if (ok) {
		w->stats.commits++;
		w->stats.placements += a->n;
	} else {
		w->stats.conflicts += err == 0;
		w->stats.errors += err != 0;
	}
	if (w->phase == WORKER_STOPPING) {
		attempt_end(a); /* no retry: the worker is stopping */
	} else if (ok) {
		log_debug("placed %s (+%zu) at %llu", a->tids[0], a->n - 1,
			  (unsigned long long)res->resp.reply.rev);
		attempt_end(a);
	} else if (err == 0) {
		sync_refresh(w, &res->resp.reply);
		conflicted(w, a);
		attempt_retry(a);
	} else {
		log_warn("place %s: %s %s", a->tids[0], err_name(err), errmsg);
		attempt_retry(a);
	}
	worker_call_done(w);
	sched_pump(w);
}

/* Sends the Place transaction of the picks (their holds taken under a->id). */
static void place_send(struct worker *w, struct attempt *a, const struct ptxn_pick *picks)
{
	struct txb b;
	struct msg_txn txn;
	char err[256];
	txb_init(&b);
	int rc = ptxn_place(&b, w->cache.cluster, w->cfg->coarse ? PTXN_COARSE : PTXN_FINE, picks,
			    a->n, worker_now_ms(), err, sizeof(err));
	if (rc == 0)
		rc = txb_txn(&b, &txn);
	if (rc == 0)
		rc = berth_async_txn(w->a, &txn, false, place_done, a);
	txb_close(&b);
	if (rc != 0) {
		log_warn("place %s: %s", a->tids[0], rc == BERTH_EBADREQ ? err : err_text(rc));
		decide_unhold(w, a->id, 0);
		w->stats.errors++;
		attempt_retry(a);
		return;
	}
	w->inflight++;
	w->calls++;
	a->inflight = true;
	a->sent_ns = uv_hrtime();
}

/* Decisions for ts[0..n) (tasks alike): picks[0..*placed) with their instances; the
 * others are parked (nothing holds them) or, when the first is unplaceable as written,
 * all of them are set aside until their records change. */
static void decide(struct worker *w, struct cache_task **ts, size_t n, struct ptxn_pick *picks,
		   size_t *placed)
{
	struct place_result res;
	struct cache_inst *insts[WORKER_BATCH_MAX];
	char err[256];
	uint64_t t0 = uv_hrtime();
	int rc = decide_tasks(w, ts, n, insts, placed, &res, err, sizeof(err));
	uint64_t each_us = (uv_hrtime() - t0) / 1000 / n;
	for (size_t i = 0; i < n; i++)
		stats_record(&w->stats.decision, each_us);
	if (rc != 0) {
		log_warn("task %s cannot be placed as written: %s", ts[0]->id,
			 rc == BERTH_ENOMEM ? err_text(rc) : err);
		for (size_t i = 0; i < n; i++) {
			squeue_unlink(w, ts[i]);
			ts[i]->queue = Q_BAD;
		}
		*placed = 0;
		return;
	}
	for (size_t i = 0; i < *placed; i++) {
		picks[i].task = ts[i];
		picks[i].inst = insts[i];
	}
	for (size_t i = *placed; i < n; i++)
		park(w, ts[i], place_reason_name(res.reason));
}

/* The key of t's RunTask in group commits: group and startedBy (none: alone). */
static bool same_run(const struct cache_task *a, const struct cache_task *b)
{
	return a->rec.started_by != NULL && b->rec.started_by != NULL &&
	       strcmp(a->rec.group, b->rec.group) == 0 &&
	       strcmp(a->rec.started_by, b->rec.started_by) == 0;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Whether placement sees a and b as the same task: resources, ports, group, strategies,
 * constraints (so one decision input serves both). */
static bool alike(const struct model_task *a, const struct model_task *b)
{
	if (a->cpu != b->cpu || a->memory != b->memory || a->nhost_ports != b->nhost_ports ||
	    a->nstrategies != b->nstrategies || a->nconstraints != b->nconstraints ||
	    strcmp(a->group, b->group) != 0 ||
	    (a->nhost_ports > 0 &&
	     memcmp(a->host_ports, b->host_ports, a->nhost_ports * sizeof(uint16_t)) != 0))
		return false;
	for (size_t i = 0; i < a->nstrategies; i++)
		if (a->strategies[i].type != b->strategies[i].type ||
		    !same_str(a->strategies[i].field, b->strategies[i].field))
			return false;
	for (size_t i = 0; i < a->nconstraints; i++)
		if (a->constraints[i].type != b->constraints[i].type ||
		    !same_str(a->constraints[i].expression, b->constraints[i].expression))
			return false;
	return true;
}

/* Sends picks[0..n) as one Place under a new attempt; on failure to start one, parks. */
static void commit_picks(struct worker *w, const struct ptxn_pick *picks, size_t n)
{
	struct attempt *a = attempt_new(w, n);
	if (a == NULL) {
		for (size_t i = 0; i < n; i++)
			park(w, (struct cache_task *)picks[i].task, "out of memory");
		return;
	}
	a->n = n;
	for (size_t i = 0; i < n; i++) {
		snprintf(a->tids[i], sizeof(a->tids[i]), "%s", picks[i].task->id);
		if (decide_hold(w, picks[i].task, picks[i].inst, a->id) != 0)
			log_warn("out of memory: a hold on %s is missing", picks[i].inst->id);
		if (wmap_put(&w->busy, a->tids[i], a) != 0)
			log_warn("out of memory: task %s may be decided twice", a->tids[i]);
	}
	place_send(w, a, picks);
}

static int take_alike(const struct cache_task *first, const struct cache_task *t, void *ctx)
{
	(void)ctx;
	return alike(&first->rec, &t->rec);
}

/* --commit incremental: the first task and up to --batch - 1 queued tasks alike, decided
 * on one input and committed in as few transactions as --max-txn-ops allows; each
 * transaction succeeds or conflicts on its own (the store checks every placement's room
 * in it). */
static void place_batch(struct worker *w, struct cache_task *first)
{
	struct cache_task *ts[WORKER_BATCH_MAX];
	struct ptxn_pick picks[WORKER_BATCH_MAX];
	size_t placed;
	size_t n = squeue_take(w, first, take_alike, NULL, ts, w->cfg->batch, SCHED_SCAN);
	decide(w, ts, n, picks, &placed);
	for (size_t at = 0; at < placed;) {
		size_t m = ptxn_place_fit(picks + at, placed - at, w->cfg->max_txn_ops);
		if (at > 0 && at + m == placed && n == w->cfg->batch) {
			/* A short last transaction while more tasks wait: they go back to the
			 * front, to be decided with more of their kind (every store commit costs a
			 * raft entry and an LMDB commit, whatever it holds). */
			for (size_t i = at; i < placed; i++)
				squeue_push(w, (struct cache_task *)picks[i].task, Q_PENDING, true);
			break;
		}
		commit_picks(w, picks + at, m);
		at += m;
	}
}

/* A group commit's budget: compares and operations so far. */
struct gang_ops {
	size_t ops, max;
};

static int take_run(const struct cache_task *first, const struct cache_task *t, void *ctx)
{
	struct gang_ops *g = ctx;
	if (g->ops + 6 + t->rec.nhost_ports > g->max)
		return -1;
	if (!same_run(first, t))
		return 0;
	g->ops += 6 + t->rec.nhost_ports;
	return 1;
}

/* --commit group: a group commit takes tasks while the store's --max-txn-ops allows: a
 * task costs at most 6 compares and 5 operations, plus one of each per host port
 * (worker/ptxn.h: its own, its instance's four when the instance is new to the group, its
 * group counter's). Decided one by one, each on what the previous ones hold. */
static void place_gang(struct worker *w, struct cache_task *first)
{
	struct cache_task *gang[SCHED_GANG_MAX];
	struct ptxn_pick picks[SCHED_GANG_MAX];
	struct gang_ops g = {6 + first->rec.nhost_ports, w->cfg->max_txn_ops};
	size_t n = squeue_take(w, first, take_run, &g, gang, SCHED_GANG_MAX, SIZE_MAX);
	struct attempt *a = attempt_new(w, n);
	if (a == NULL) {
		for (size_t i = 0; i < n; i++)
			park(w, gang[i], "out of memory");
		return;
	}
	a->n = n;
	for (size_t i = 0; i < n; i++) {
		size_t placed;
		snprintf(a->tids[i], sizeof(a->tids[i]), "%s", gang[i]->id);
		decide(w, &gang[i], 1, &picks[i], &placed);
		if (placed == 1 && decide_hold(w, gang[i], picks[i].inst, a->id) == 0)
			continue;
		if (placed == 1)
			park(w, gang[i], "out of memory");
		/* All or nothing: the tasks decided so far wait with it. */
		decide_unhold(w, a->id, 0);
		for (size_t j = 0; j < n; j++)
			if (j != i && gang[j]->queue == Q_NONE)
				park(w, gang[j], "its group does not fit");
		a->n = 0;
		attempt_end(a);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (wmap_put(&w->busy, a->tids[i], a) != 0)
			log_warn("out of memory: task %s may be decided twice", a->tids[i]);
	place_send(w, a, picks);
}

static void place_tasks(struct worker *w, struct cache_task *first)
{
	if (w->cfg->group && first->rec.started_by != NULL)
		place_gang(w, first);
	else
		place_batch(w, first);
}

void sched_pump(struct worker *w)
{
	/* Not on a cache older than the store was when the list ended: with a long list,
	 * other workers have placed many of the tasks it shows as pending. */
	if (w->phase != WORKER_WATCHING || w->cache.rev < w->ready_rev)
		return;
	if (w->wake) {
		w->wake = false;
		while (w->parked.next != &w->parked) {
			struct cache_task *t = w->parked.next;
			t->tries = 0;
			squeue_push(w, t, Q_PENDING, false);
		}
	}
	struct cache_task *t;
	while (w->inflight < w->cfg->max_inflight && w->phase == WORKER_WATCHING &&
	       (t = squeue_first(w)) != NULL)
		place_tasks(w, t);
}
