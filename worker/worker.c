/* worker/worker.c: berth-worker's lifecycle: the handle, the signals, the statistics and
 * scan timer, and the orderly stop (no new decisions; the commits in flight get their
 * answers; final statistics; the handle closed; the loop ends). */
#include "worker/worker.h"

#include "common/err.h"
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define WORKER_SCAN_MS 1000 /* lost instances and services looked at again this often */

uint64_t worker_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int worker_result_err(const struct berth_result *res)
{
	if (res->err != 0)
		return res->err;
	if (res->has_resp && res->resp.has_reply)
		return res->resp.reply.err;
	return 0;
}

static void worker_closed_cb(void *data)
{
	struct worker *w = data;
	w->a = NULL;
}

static void worker_finish(struct worker *w)
{
	if (w->closed)
		return;
	w->closed = true;
	stats_print(w, "final");
	berth_async_close(w->a, worker_closed_cb, w);
}

void worker_call_done(struct worker *w)
{
	w->calls--;
	if (w->phase == WORKER_STOPPING && w->calls == 0)
		worker_finish(w);
}

static void worker_tick(uv_timer_t *t)
{
	struct worker *w = t->data;
	uint64_t now = uv_now(w->loop);
	static uint64_t last_stats;
	if (w->phase == WORKER_WATCHING) {
		if (w->retry_parked) {
			w->retry_parked = false;
			w->wake = true;
		}
		lost_scan(w);
		service_scan(w);
		sched_pump(w);
	}
	if (w->cfg->stats_ms > 0 && now - last_stats >= w->cfg->stats_ms) {
		last_stats = now;
		stats_print(w, "stats");
	}
}

static void worker_signal(uv_signal_t *s, int signum)
{
	struct worker *w = s->data;
	log_info("signal %d: stopping once %d calls in flight have ended", signum, w->calls);
	worker_stop(w);
}

void worker_stop(struct worker *w)
{
	if (w->phase == WORKER_STOPPING)
		return;
	w->phase = WORKER_STOPPING;
	uv_close((uv_handle_t *)&w->stats_timer, NULL);
	uv_close((uv_handle_t *)&w->sigterm, NULL);
	uv_close((uv_handle_t *)&w->sigint, NULL);
	uv_close((uv_handle_t *)&w->sync_timer, NULL);
	sync_stop(w);
	sched_close(w);
	service_close(w);
	if (w->calls == 0)
		worker_finish(w);
}

int worker_start(struct worker *w, uv_loop_t *loop, const struct wconfig *cfg)
{
	char err[256];
	memset(w, 0, sizeof(*w));
	w->loop = loop;
	w->cfg = cfg;
	w->rng = cfg->seed;
	if (w->rng == 0 && getrandom(&w->rng, sizeof(w->rng), 0) != (ssize_t)sizeof(w->rng))
		w->rng = uv_hrtime();
	struct cache_hooks hooks = sched_hooks;
	hooks.data = w;
	if (cache_init(&w->cache, cfg->cluster, &hooks) != 0) {
		log_error("--cluster %s: not a cluster name", cfg->cluster);
		return BERTH_EBADREQ;
	}
	sched_init(w);
	wmap_init(&w->releasing);
	wmap_init(&w->svc_busy);
	wmap_init(&w->taskdefs);
	struct berth_options o;
	memset(&o, 0, sizeof(o));
	o.endpoints = (const char *const *)cfg->eps;
	o.nendpoints = cfg->neps;
	o.token = cfg->token;
	o.timeout_ms = (uint32_t)cfg->timeout_ms;
	struct berth_async_limits lim = {(uint32_t)cfg->max_inflight + 16, 0};
	int rc = berth_async_open(&w->a, loop, &o, &lim, err, sizeof(err));
	if (rc != 0) {
		log_error("%s", err);
		cache_close(&w->cache);
		return rc;
	}
	uv_timer_init(loop, &w->stats_timer);
	w->stats_timer.data = w;
	uv_timer_start(&w->stats_timer, worker_tick, WORKER_SCAN_MS, WORKER_SCAN_MS);
	uv_signal_init(loop, &w->sigterm);
	uv_signal_init(loop, &w->sigint);
	w->sigterm.data = w->sigint.data = w;
	uv_signal_start(&w->sigterm, worker_signal, SIGTERM);
	uv_signal_start(&w->sigint, worker_signal, SIGINT);
	log_info("%s: cluster %s, %s conflicts, %s commits, %llu in flight", cfg->name,
		 cfg->cluster, cfg->conflict, cfg->commit, (unsigned long long)cfg->max_inflight);
	return sync_start(w);
}

void worker_close(struct worker *w)
{
	cache_close(&w->cache);
	decide_close(w);
	wmap_close(&w->releasing);
	wmap_close(&w->svc_busy);
}
