/* worker/service.c: service reconciliation (docs/commits.md, "Services"), safe with any
 * number of workers: every write compares the service record's mod_rev and puts the
 * record back (deployments and their counters) in the same transaction as the tasks it
 * creates (version 0) or stops (their mod_rev), so of two workers acting on one state
 * only the first commits; the second re-reads and finds nothing left to do.
 *
 * One step for an ACTIVE service with desired count D (0 when the service is DRAINING or
 * INACTIVE), minimumHealthyPercent m and maximumPercent M:
 *   - the PRIMARY deployment runs the service's task definition; when it does not, a new
 *     PRIMARY is made and the old one becomes ACTIVE (its tasks are "old");
 *   - good tasks: of the PRIMARY deployment (startedBy = its id), not STOPPED, desired
 *     RUNNING, not on a DRAINING or lost instance; bad tasks: every other live task of
 *     the service (old deployments, draining instances);
 *   - start min(D - good, floor(D * M / 100) - live) new tasks (never above maximumPercent
 *     of D not STOPPED);
 *   - stop extras (good above D, those not RUNNING first), and bad tasks: those not
 *     RUNNING at once, RUNNING ones while ceil(D * m / 100) RUNNING tasks remain;
 *   - ACTIVE deployments without live tasks are removed; counters are recounted.
 * A step writes only when it creates or stops a task or changes the deployments, or
 * (from the periodic scan) when a counter is stale. Task definitions are read from the
 * store once per family and revision and kept. */
#include "worker/worker.h"

#include "common/err.h"
#include "common/log.h"
#include "worker/txb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SVC_MAX_CHANGES 40 /* tasks created or stopped per transaction */
#define SVC_FETCHING ((void *)1)

/* An entry of svc_busy: a write in flight, or the revision the cache must reach first. */
struct svc_wait {
	bool inflight;
	uint64_t until_rev;
};

struct svc_call {
	struct worker *w;
	char name[MODEL_NAME_MAX + 1];
	char tdkey[MODEL_NAME_MAX + 16];
};

static void svc_reconcile(struct worker *w, struct cache_svc *s, bool counters);

static void td_done(struct berth_result *res, const char *errmsg, void *data)
{
	struct svc_call *c = data;
	struct worker *w = c->w;
	char err[256];
	int rc = res->err;
	const struct reply_kv *kv = rc == 0 ? berth_result_kv(res) : NULL;
	wmap_del(&w->taskdefs, c->tdkey);
	if (w->phase == WORKER_STOPPING) /* service_close has emptied the table */
		kv = NULL, rc = 0;
	if (kv != NULL) {
		struct model_taskdef *td = calloc(1, sizeof(*td));
		rc = td == NULL
			     ? BERTH_ENOMEM
			     : model_taskdef_decode(kv->value.p, kv->value.n, td, err, sizeof(err));
		if (rc == 0 && wmap_put(&w->taskdefs, c->tdkey, td) != 0)
			rc = BERTH_ENOMEM;
		if (rc != 0) {
			log_warn("task definition %s: %s", c->tdkey,
				 rc == BERTH_EBADREQ ? err : err_text(rc));
			if (td != NULL)
				model_taskdef_free(td);
			free(td);
		}
	} else if (w->phase != WORKER_STOPPING) {
		log_warn("task definition %s: %s %s", c->tdkey, rc ? err_name(rc) : "not found",
			 errmsg);
	}
	free(c);
	w->svc_dirty = true;
	worker_call_done(w);
	service_run(w);
}

/* The task definition family:rev, or NULL (then a read is started, or under way). */
static const struct model_taskdef *svc_taskdef(struct worker *w, const char *family, uint32_t rev)
{
	char tdkey[MODEL_NAME_MAX + 16], key[MODEL_KEY_MAX];
	snprintf(tdkey, sizeof(tdkey), "%s/%u", family, rev);
	void *td = wmap_get(&w->taskdefs, tdkey);
	if (td != NULL)
		return td == SVC_FETCHING ? NULL : td;
	struct svc_call *c = calloc(1, sizeof(*c));
	if (c == NULL || model_key_taskdef(key, family, rev) != 0 ||
	    wmap_put(&w->taskdefs, tdkey, SVC_FETCHING) != 0) {
		free(c);
		return NULL;
	}
	c->w = w;
	snprintf(c->tdkey, sizeof(c->tdkey), "%s", tdkey);
	if (berth_async_get(w->a, key, strlen(key), 0, true, td_done, c) != 0) {
		wmap_del(&w->taskdefs, tdkey);
		free(c);
		return NULL;
	}
	w->calls++;
	return NULL;
}

/* The service's live tasks (not STOPPED, desired RUNNING), and what they are. */
struct svc_task {
	struct cache_task *t;
	int dep;   /* index into deployments, -1: none */
	bool good; /* of the PRIMARY, on a usable instance */
	bool running;
};

struct svc_plan {
	struct svc_task *tasks; /* owned */
	size_t n, good, running;
	struct model_deployment deps[MODEL_DEPLOYMENTS_MAX + 1];
	size_t ndeps;
	int primary;
};

static bool svc_instance_ok(struct worker *w, const struct cache_task *t)
{
	if (t->rec.instance == NULL)
		return true;
	struct cache_inst *in = cache_inst(&w->cache, t->rec.instance);
	return in != NULL && in->alive && in->has_rec && in->rec.status == MODEL_INSTANCE_ACTIVE;
}

static int svc_plan_tasks(struct worker *w, const struct cache_svc *s, struct svc_plan *p)
{
	char group[MODEL_GROUP_MAX + 1];
	const char *k;
	void *v;
	snprintf(group, sizeof(group), "service:%s", s->name);
	p->tasks = calloc(w->cache.tasks.n + 1, sizeof(*p->tasks));
	if (p->tasks == NULL)
		return BERTH_ENOMEM;
	for (size_t i = 0; (i = wmap_next(&w->cache.tasks, i, &k, &v)) != 0;) {
		struct cache_task *t = v;
		if (strcmp(t->rec.group, group) != 0 || t->rec.last_status == MODEL_TASK_STOPPED ||
		    t->rec.desired_status != MODEL_TASK_RUNNING)
			continue;
		struct svc_task *st = &p->tasks[p->n++];
		st->t = t;
		st->dep = -1;
		for (size_t d = 0; d < p->ndeps; d++)
			if (t->rec.started_by != NULL &&
			    strcmp(t->rec.started_by, p->deps[d].id) == 0)
				st->dep = (int)d;
		st->running = t->rec.last_status == MODEL_TASK_RUNNING;
		st->good = st->dep == p->primary && svc_instance_ok(w, t);
		p->good += st->good;
		p->running += st->running;
	}
	return 0;
}

/* Deployments: a PRIMARY running the service's task definition (made when missing). */
static void svc_plan_deployments(struct worker *w, const struct cache_svc *s, struct svc_plan *p,
				 bool *changed)
{
	const struct model_service *r = &s->rec;
	p->ndeps = r->ndeployments;
	if (p->ndeps > 0)
		memcpy(p->deps, r->deployments, p->ndeps * sizeof(p->deps[0]));
	p->primary = -1;
	for (size_t d = 0; d < p->ndeps; d++)
		if (p->deps[d].status == MODEL_DEPLOYMENT_PRIMARY)
			p->primary = (int)d;
	if (p->primary >= 0 && strcmp(p->deps[p->primary].family, r->family) == 0 &&
	    p->deps[p->primary].revision == r->revision)
		return;
	if (p->ndeps == MODEL_DEPLOYMENTS_MAX)
		return; /* full: svc_finish removes drained ones first */
	static char ids[MODEL_DEPLOYMENTS_MAX + 1][MODEL_TASK_ID_LEN + 1];
	if (p->primary >= 0)
		p->deps[p->primary].status = MODEL_DEPLOYMENT_ACTIVE;
	struct model_deployment *d = &p->deps[p->ndeps];
	memset(d, 0, sizeof(*d));
	model_id_new(&w->rng, ids[p->ndeps]);
	d->id = ids[p->ndeps];
	d->family = r->family;
	d->revision = r->revision;
	d->status = MODEL_DEPLOYMENT_PRIMARY;
	d->created_ms = worker_now_ms();
	p->primary = (int)p->ndeps++;
	*changed = true;
}

static void svc_done(struct berth_result *res, const char *errmsg, void *data)
{
	struct svc_call *c = data;
	struct worker *w = c->w;
	int err = worker_result_err(res);
	bool ok = err == 0 && res->resp.reply.succeeded;
	struct svc_wait *sw = wmap_get(&w->svc_busy, c->name);
	if (sw != NULL) {
		sw->inflight = false;
		sw->until_rev = ok ? res->resp.reply.rev : 0;
	}
	/* Nothing is refreshed from the failure branch: a service is reconciled only on a
	 * cache that holds every task written up to its record's revision (the watch's). */
	if (ok) {
		w->stats.svc_writes++;
	} else if (err == 0) {
		w->stats.svc_conflicts++;
	} else {
		w->stats.errors++;
		log_warn("service %s: %s %s", c->name, err_name(err), errmsg);
	}
	free(c);
	w->svc_dirty = true;
	worker_call_done(w);
	service_run(w);
}

/* Puts t with desired STOPPED (and last STOPPED when it was never placed). */
static int svc_stop_task(struct txb *b, const char *cluster, const struct cache_task *t,
			 const char *reason, char *err, size_t errlen)
{
	char key[MODEL_KEY_MAX];
	struct mp_buf out;
	struct model_task copy = t->rec;
	copy.desired_status = MODEL_TASK_STOPPED;
	if (copy.last_status == MODEL_TASK_PROVISIONING)
		copy.last_status = MODEL_TASK_STOPPED;
	copy.stop_reason = (char *)reason;
	copy.updated_ms = worker_now_ms();
	if (model_key_task(key, cluster, t->id) != 0)
		return BERTH_EBADREQ;
	txb_cmp(b, MSG_CMP_MOD, MSG_EQ, key, t->rev);
	mp_buf_init(&out);
	int rc = model_task_encode(&copy, &out, err, errlen);
	if (rc == 0)
		txb_put(b, TXB_SUCC, key, out.data, out.len);
	mp_buf_close(&out);
	return rc;
}

static int svc_new_task(struct worker *w, struct txb *b, const struct cache_svc *s,
			const struct model_deployment *d, const struct model_taskdef *td, char *err,
			size_t errlen)
{
	char key[MODEL_KEY_MAX], id[MODEL_TASK_ID_LEN + 1], group[MODEL_GROUP_MAX + 1];
	struct model_task t;
	struct mp_buf out;
	memset(&t, 0, sizeof(t));
	model_id_new(&w->rng, id);
	snprintf(group, sizeof(group), "service:%s", s->name);
	if (model_task_resources(&t, td) != 0)
		return BERTH_ENOMEM;
	t.id = id;
	t.cluster = w->cache.cluster;
	t.group = group;
	t.strategies = s->rec.strategies;
	t.nstrategies = s->rec.nstrategies;
	t.constraints = s->rec.constraints;
	t.nconstraints = s->rec.nconstraints;
	t.desired_status = MODEL_TASK_RUNNING;
	t.last_status = MODEL_TASK_PROVISIONING;
	t.started_by = d->id;
	t.created_ms = t.updated_ms = worker_now_ms();
	int rc = model_key_task(key, w->cache.cluster, id);
	mp_buf_init(&out);
	if (rc == 0)
		rc = model_task_encode(&t, &out, err, errlen);
	if (rc == 0) {
		txb_cmp(b, MSG_CMP_VERSION, MSG_EQ, key, 0);
		txb_put(b, TXB_SUCC, key, out.data, out.len);
	}
	mp_buf_close(&out);
	free(t.family);
	free(t.host_ports);
	return rc;
}

/* Picks the tasks to stop into stop[] (at most SVC_MAX_CHANGES): returns how many. */
static size_t svc_pick_stops(const struct svc_plan *p, uint32_t desired, uint32_t min_healthy,
			     struct svc_task **stop)
{
	size_t n = 0, running = p->running, extra = p->good > desired ? p->good - desired : 0;
	/* Two passes: tasks not RUNNING first, then RUNNING ones within minimumHealthy. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < p->n && n < SVC_MAX_CHANGES; i++) {
			struct svc_task *st = &p->tasks[i];
			if (st->running != (pass == 1))
				continue;
			bool is_extra = st->good && extra > 0;
			if (!st->good || is_extra) {
				if (st->running && running <= min_healthy)
					continue;
				if (st->running)
					running--;
				if (is_extra)
					extra--;
				stop[n++] = st;
			}
		}
	return n;
}

static void svc_reconcile(struct worker *w, struct cache_svc *s, bool counters)
{
	struct svc_plan p;
	struct svc_task *stop[SVC_MAX_CHANGES];
	const struct model_service *r = &s->rec;
	bool changed = false;
	char err[256], key[MODEL_KEY_MAX];
	memset(&p, 0, sizeof(p));
	svc_plan_deployments(w, s, &p, &changed);
	if (svc_plan_tasks(w, s, &p) != 0)
		return;
	uint32_t desired = r->status == MODEL_SERVICE_ACTIVE ? r->desired_count : 0;
	uint32_t min_healthy = (desired * r->config.min_healthy_percent + 99) / 100;
	uint32_t max_live = desired * r->config.max_percent / 100;
	size_t nstart = desired > p.good ? desired - p.good : 0;
	if (p.n + nstart > max_live)
		nstart = max_live > p.n ? max_live - p.n : 0;
	if (nstart > SVC_MAX_CHANGES)
		nstart = SVC_MAX_CHANGES;
	size_t nstop = svc_pick_stops(&p, desired, min_healthy, stop);
	const struct model_taskdef *td = NULL;
	if (p.primary < 0 || strcmp(p.deps[p.primary].family, r->family) != 0 ||
	    p.deps[p.primary].revision != r->revision)
		nstart = 0; /* no room for a new PRIMARY yet: drained deployments go first */
	if (nstart > 0 && (td = svc_taskdef(w, r->family, r->revision)) == NULL)
		nstart = 0; /* read under way: the step runs again once it is here */
	/* Counters and drained deployments. */
	size_t keep = 0;
	for (size_t d = 0; d < p.ndeps; d++) {
		struct model_deployment nd = p.deps[d];
		nd.desired = (int)d == p.primary ? desired : 0;
		nd.running = nd.pending = 0;
		for (size_t i = 0; i < p.n; i++)
			if (p.tasks[i].dep == (int)d) {
				nd.running += p.tasks[i].running;
				nd.pending += !p.tasks[i].running;
			}
		if ((int)d != p.primary && nd.running + nd.pending == 0) {
			changed = true;
			continue;
		}
		if (nd.desired != p.deps[d].desired || nd.running != p.deps[d].running ||
		    nd.pending != p.deps[d].pending)
			changed |= counters;
		if ((int)d == p.primary)
			p.primary = (int)keep;
		p.deps[keep++] = nd;
	}
	p.ndeps = keep;
	if (nstart == 0 && nstop == 0 && !changed) {
		free(p.tasks);
		return;
	}
	struct txb b;
	struct msg_txn txn;
	struct mp_buf out;
	struct model_service ns = *r; /* shallow: the encoder only reads */
	ns.deployments = p.deps;
	ns.ndeployments = p.ndeps;
	txb_init(&b);
	mp_buf_init(&out);
	int rc = model_key_service(key, w->cache.cluster, s->name);
	if (rc == 0) {
		txb_cmp(&b, MSG_CMP_MOD, MSG_EQ, key, s->rev);
		rc = model_service_encode(&ns, &out, err, sizeof(err));
	}
	if (rc == 0)
		txb_put(&b, TXB_SUCC, key, out.data, out.len);
	for (size_t i = 0; i < nstart && rc == 0; i++)
		rc = svc_new_task(w, &b, s, &p.deps[p.primary], td, err, sizeof(err));
	for (size_t i = 0; i < nstop && rc == 0; i++)
		rc = svc_stop_task(&b, w->cache.cluster, stop[i]->t,
				   stop[i]->good ? "service scaled down"
						 : "replaced by the service scheduler",
				   err, sizeof(err));
	mp_buf_close(&out);
	free(p.tasks);
	struct svc_call *c = rc == 0 ? calloc(1, sizeof(*c)) : NULL;
	if (rc == 0 && c == NULL)
		rc = BERTH_ENOMEM;
	if (rc == 0)
		rc = txb_txn(&b, &txn);
	if (rc == 0) {
		c->w = w;
		snprintf(c->name, sizeof(c->name), "%s", s->name);
		rc = berth_async_txn(w->a, &txn, false, svc_done, c);
	}
	txb_close(&b);
	if (rc != 0) {
		log_warn("service %s: %s", s->name, rc == BERTH_EBADREQ ? err : err_text(rc));
		free(c);
		return;
	}
	struct svc_wait *sw = wmap_get(&w->svc_busy, s->name);
	if (sw == NULL && (sw = calloc(1, sizeof(*sw))) != NULL &&
	    wmap_put(&w->svc_busy, s->name, sw) != 0) {
		free(sw);
		sw = NULL;
	}
	if (sw != NULL)
		sw->inflight = true;
	w->calls++;
	log_debug("service %s: %zu started, %zu stopped", s->name, nstart, nstop);
}

/* Reconciles the service unless a write of its own is in flight or not yet seen. */
static void svc_try(struct worker *w, struct cache_svc *s, bool counters)
{
	struct svc_wait *sw = wmap_get(&w->svc_busy, s->name);
	if (sw != NULL) {
		if (sw->inflight || sw->until_rev > w->cache.rev)
			return;
		free(wmap_del(&w->svc_busy, s->name));
	}
	svc_reconcile(w, s, counters);
}

static void svc_all(struct worker *w, bool counters)
{
	const char *k;
	void *v;
	if (w->phase != WORKER_WATCHING)
		return;
	w->svc_dirty = false;
	for (size_t i = 0; (i = wmap_next(&w->cache.svcs, i, &k, &v)) != 0;)
		svc_try(w, v, counters);
}

void service_run(struct worker *w)
{
	if (w->svc_dirty)
		svc_all(w, false);
}

void service_scan(struct worker *w)
{
	svc_all(w, true);
}

void service_close(struct worker *w)
{
	const char *k;
	void *v;
	for (size_t i = 0; (i = wmap_next(&w->svc_busy, i, &k, &v)) != 0;)
		free(v);
	/* Emptied, not just freed: a service write still in flight ends after this and looks
	 * its entry up (svc_done). */
	wmap_close(&w->svc_busy);
	for (size_t i = 0; (i = wmap_next(&w->taskdefs, i, &k, &v)) != 0;)
		if (v != SVC_FETCHING) {
			model_taskdef_free(v);
			free(v);
		}
	wmap_close(&w->taskdefs);
}
