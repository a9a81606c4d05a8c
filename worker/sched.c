/* worker/sched.c: the pending queue and the placement commits.
 *
 * A task enters the pending queue when its record says PROVISIONING with desired status
 * RUNNING, and leaves it when it says anything else. Decisions are made only on a
 * complete cache (after the list), as many as --max-inflight commits allow; each commit
 * holds what it takes (worker/decide.c) until the watch shows it, so the next decisions
 * see it. A failed compare refreshes the cache from the failure branch and the task goes
 * back to the queue after a jittered backoff; after --max-retries, or when nothing fits,
 * the task is parked until the cache changes in a way that may give it room. */
#include "worker/ptxn.h"
#include "worker/worker.h"

#include "common/err.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { Q_NONE, Q_PENDING, Q_PARKED, Q_BAD };

#define SCHED_GANG_MAX 64 /* tasks in one group commit */

struct attempt {
	struct worker *w;
	uint64_t id;
	size_t n;
	char (*tids)[MODEL_ID_MAX + 1]; /* owned */
	uint64_t sent_ns;
	bool inflight; /* its transaction has no answer yet */
	uv_timer_t timer;
};

static void q_unlink(struct worker *w, struct cache_task *t)
{
	if (t->queue == Q_PENDING || t->queue == Q_PARKED) {
		t->prev->next = t->next;
		t->next->prev = t->prev;
		t->prev = t->next = NULL;
		if (t->queue == Q_PENDING)
			w->npending--;
		else
			w->nparked--;
	}
	t->queue = Q_NONE;
}

static void q_push(struct worker *w, struct cache_task *t, int q, bool front)
{
	struct cache_task *head = q == Q_PENDING ? &w->pending : &w->parked;
	q_unlink(w, t);
	if (front) {
		t->prev = head;
		t->next = head->next;
	} else {
		t->next = head;
		t->prev = head->prev;
	}
	t->prev->next = t;
	t->next->prev = t;
	t->queue = q;
	if (q == Q_PENDING)
		w->npending++;
	else
		w->nparked++;
}

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
		q_unlink(w, t);
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
		q_push(w, t, Q_PENDING, place_random(&w->rng) & 1);
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
	q_unlink(data, t);
	decide_task_free(t);
}

const struct cache_hooks sched_hooks = {hook_task,    hook_capacity,  hook_lost,
					hook_service, hook_task_free, NULL};

void sched_init(struct worker *w)
{
	w->pending.prev = w->pending.next = &w->pending;
	w->parked.prev = w->parked.next = &w->parked;
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
	q_push(w, t, Q_PARKED, false);
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
			q_push(w, t, Q_PENDING, true);
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

/* One decision for t: an instance (and a hold on it under attempt) or a reason to park. */
static struct cache_inst *decide(struct worker *w, struct cache_task *t, uint64_t attempt)
{
	struct place_result res;
	struct cache_inst *in;
	char err[256];
	uint64_t t0 = uv_hrtime();
	int rc = decide_task(w, t, &in, &res, err, sizeof(err));
	stats_record(&w->stats.decision, (uv_hrtime() - t0) / 1000);
	if (rc != 0) {
		log_warn("task %s cannot be placed as written: %s", t->id,
			 rc == BERTH_ENOMEM ? err_text(rc) : err);
		q_unlink(w, t);
		t->queue = Q_BAD;
		return NULL;
	}
	if (in == NULL) {
		park(w, t, place_reason_name(res.reason));
		return NULL;
	}
	if (decide_hold(w, t, in, attempt) != 0) {
		park(w, t, "out of memory");
		return NULL;
	}
	return in;
}

/* The key of t's RunTask in group commits: group and startedBy (none: alone). */
static bool same_run(const struct cache_task *a, const struct cache_task *b)
{
	return a->rec.started_by != NULL && b->rec.started_by != NULL &&
	       strcmp(a->rec.group, b->rec.group) == 0 &&
	       strcmp(a->rec.started_by, b->rec.started_by) == 0;
}

/* A group commit takes tasks while the store's --max-txn-ops allows: a task costs at most
 * 6 compares and 5 operations, plus one of each per host port (worker/ptxn.h: its own,
 * its instance's four when the instance is new to the group, its group counter's). */
static void place_tasks(struct worker *w, struct cache_task *first)
{
	struct cache_task *gang[SCHED_GANG_MAX];
	struct ptxn_pick picks[SCHED_GANG_MAX];
	size_t n = 0, ops = 6 + first->rec.nhost_ports;
	gang[n++] = first;
	q_unlink(w, first);
	if (w->cfg->group && first->rec.started_by != NULL)
		for (struct cache_task *t = w->pending.next, *next; t != &w->pending; t = next) {
			next = t->next;
			if (n == SCHED_GANG_MAX ||
			    ops + 6 + t->rec.nhost_ports > w->cfg->max_txn_ops)
				break;
			if (!same_run(first, t))
				continue;
			ops += 6 + t->rec.nhost_ports;
			q_unlink(w, t);
			gang[n++] = t;
		}
	struct attempt *a = attempt_new(w, n);
	if (a == NULL) {
		for (size_t i = 0; i < n; i++)
			park(w, gang[i], "out of memory");
		return;
	}
	a->n = n;
	for (size_t i = 0; i < n; i++) {
		snprintf(a->tids[i], sizeof(a->tids[i]), "%s", gang[i]->id);
		picks[i].task = gang[i];
		picks[i].inst = decide(w, gang[i], a->id);
		if (picks[i].inst != NULL)
			continue;
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

void sched_pump(struct worker *w)
{
	if (w->phase != WORKER_WATCHING)
		return;
	if (w->wake) {
		w->wake = false;
		while (w->parked.next != &w->parked) {
			struct cache_task *t = w->parked.next;
			t->tries = 0;
			q_push(w, t, Q_PENDING, false);
		}
	}
	while (w->inflight < w->cfg->max_inflight && w->pending.next != &w->pending &&
	       w->phase == WORKER_WATCHING)
		place_tasks(w, w->pending.next);
}
