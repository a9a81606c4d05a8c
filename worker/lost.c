/* worker/lost.c: lost instances (docs/commits.md): when an instance's alive key is gone,
 * every task placed on it that is not STOPPED is released, one transaction per task,
 * with reason "instance lost" and the compare version(alive/I) = 0 (an agent that came
 * back in between wins). Any number of workers may try at once: the task's mod_rev
 * compare lets one of them win; the others re-read and find nothing to do. */
#include "worker/ptxn.h"
#include "worker/worker.h"

#include "common/err.h"
#include "common/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOST_REASON "instance lost"
#define LOST_MAX_TRIES 5 /* in a row; the periodic scan tries again later */

struct release {
	struct worker *w;
	char tid[MODEL_ID_MAX + 1];
};

static bool placed(const struct cache_task *t)
{
	return t->rec.instance != NULL && (t->rec.last_status == MODEL_TASK_PENDING ||
					   t->rec.last_status == MODEL_TASK_RUNNING);
}

static void release_send(struct worker *w, struct cache_task *t);

static void release_done(struct berth_result *res, const char *errmsg, void *data)
{
	struct release *r = data;
	struct worker *w = r->w;
	int err = worker_result_err(res);
	uintptr_t tries = (uintptr_t)wmap_del(&w->releasing, r->tid);
	if (err == 0 && res->resp.reply.succeeded) {
		w->stats.released++;
		log_info("task %s released: %s", r->tid, LOST_REASON);
	} else if (err == 0) {
		sync_refresh(w, &res->resp.reply);
		struct cache_task *t = cache_task(&w->cache, r->tid);
		if (t != NULL && tries < LOST_MAX_TRIES && w->phase == WORKER_WATCHING) {
			struct cache_inst *in =
				cache_inst(&w->cache, t->rec.instance ? t->rec.instance : "");
			if (placed(t) && (in == NULL || !in->alive)) {
				if (wmap_put(&w->releasing, t->id, (void *)(tries + 1)) == 0)
					release_send(w, t);
			}
		}
	} else {
		w->stats.errors++;
		log_warn("release %s: %s %s", r->tid, err_name(err), errmsg);
	}
	free(r);
	worker_call_done(w);
}

/* Sends the release of t (its entry in releasing made by the caller). */
static void release_send(struct worker *w, struct cache_task *t)
{
	struct txb b;
	struct msg_txn txn;
	char err[256];
	struct release *r = calloc(1, sizeof(*r));
	int rc = r == NULL ? BERTH_ENOMEM : 0;
	txb_init(&b);
	if (rc == 0)
		rc = ptxn_release_lost(&b, w->cache.cluster, t, LOST_REASON, worker_now_ms(), err,
				       sizeof(err));
	if (rc == 0)
		rc = txb_txn(&b, &txn);
	if (rc == 0) {
		r->w = w;
		snprintf(r->tid, sizeof(r->tid), "%s", t->id);
		rc = berth_async_txn(w->a, &txn, false, release_done, r);
	}
	txb_close(&b);
	if (rc != 0) {
		log_warn("release %s: %s", t->id, rc == BERTH_EBADREQ ? err : err_text(rc));
		wmap_del(&w->releasing, t->id);
		free(r);
		return;
	}
	w->calls++;
}

void lost_check_task(struct worker *w, struct cache_task *t)
{
	if (w->phase != WORKER_WATCHING || !placed(t) || wmap_get(&w->releasing, t->id) != NULL)
		return;
	struct cache_inst *in = cache_inst(&w->cache, t->rec.instance);
	if (in != NULL && in->alive)
		return;
	if (wmap_put(&w->releasing, t->id, (void *)(uintptr_t)1) != 0)
		return;
	release_send(w, t);
}

void lost_instance(struct worker *w, struct cache_inst *in)
{
	const char *k;
	void *v;
	log_info("instance %s lost (its alive key is gone)", in->id);
	for (size_t i = 0; (i = wmap_next(&w->cache.tasks, i, &k, &v)) != 0;) {
		struct cache_task *t = v;
		if (placed(t) && strcmp(t->rec.instance, in->id) == 0)
			lost_check_task(w, t);
	}
}

void lost_scan(struct worker *w)
{
	const char *k;
	void *v;
	for (size_t i = 0; (i = wmap_next(&w->cache.tasks, i, &k, &v)) != 0;)
		lost_check_task(w, v);
}
