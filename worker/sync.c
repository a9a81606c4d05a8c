/* worker/sync.c: the cache's feed: the cluster's keys listed at one revision R in pages
 * (serializable ranges at R), then a watch from R; when the watch ends with
 * BERTH_ECOMPACTED (it fell behind the compaction) or overflows, the cache is dropped and
 * listed again. */
#include "worker/worker.h"

#include "common/err.h"
#include "common/log.h"

#include <string.h>

#define SYNC_PAGE 10000   /* keys per list page (the store cuts a page at 3 MiB) */
#define SYNC_RETRY_MS 200 /* a failed page is asked for again after this */

static void sync_list_page(struct worker *w);

/* The end of the cluster's prefix: the prefix with its last byte ('/') raised by one. */
static void sync_prefix_end(const struct worker *w, char *out)
{
	memcpy(out, w->cache.prefix, w->cache.plen + 1);
	out[w->cache.plen - 1]++;
}

void sync_refresh(struct worker *w, const struct reply *r)
{
	for (uint32_t i = 0; i < r->nops; i++) {
		const struct reply_op *op = &r->ops[i];
		if (op->type != MSG_OP_RANGE)
			continue;
		for (uint32_t j = 0; j < op->nkvs; j++)
			if (cache_apply(&w->cache, MSG_OP_PUT, &op->kvs[j]) != 0)
				log_warn("out of memory applying a refresh");
	}
}

static void sync_watch_cb(struct berth_async_watch *aw, int err, struct berth_watch_batch *b,
			  void *data);

static void sync_watch_start(struct worker *w)
{
	struct berth_async_watch_options o;
	memset(&o, 0, sizeof(o));
	o.w.key = w->cache.prefix;
	o.w.klen = w->cache.plen;
	o.w.prefix = true;
	o.w.rev = w->cache.rev;
	int rc = berth_async_watch(w->a, &o, sync_watch_cb, w, &w->watch);
	if (rc != 0) {
		log_error("watch %s from %llu: %s", w->cache.prefix,
			  (unsigned long long)w->cache.rev, err_text(rc));
		w->watch = NULL;
		w->exit_code = 1;
		worker_stop(w);
	}
}

static void sync_relist(struct worker *w)
{
	sched_caught_up(w);
	cache_reset(&w->cache);
	w->phase = WORKER_LISTING;
	w->list_from_len = 0;
	w->list_rev = 0;
	w->ready_rev = 0;
	sync_list_page(w);
}

static void sync_watch_cb(struct berth_async_watch *aw, int err, struct berth_watch_batch *b,
			  void *data)
{
	struct worker *w = data;
	if (err != 0) {
		w->watch = NULL;
		if (w->phase == WORKER_STOPPING || err == BERTH_ECLOSED)
			return;
		log_info("watch ended at %llu: %s (compacted to %llu): listing again",
			 (unsigned long long)berth_async_watch_rev(aw), err_text(err),
			 (unsigned long long)berth_async_watch_compacted(aw));
		sync_relist(w);
		return;
	}
	for (size_t i = 0; i < b->nevents; i++)
		if (cache_apply(&w->cache, b->events[i].type, &b->events[i].kv) != 0) {
			log_error("out of memory applying the watch: listing again");
			berth_async_watch_close(w->watch);
			w->watch = NULL;
			sync_relist(w);
			return;
		}
	if (b->rev > w->cache.rev)
		w->cache.rev = b->rev;
	sched_caught_up(w);
	service_run(w);
	sched_pump(w);
}

static void sync_list_done(struct worker *w)
{
	w->cache.rev = w->list_rev;
	w->phase = WORKER_WATCHING;
	w->lists++;
	log_info("listed %s at revision %llu: %zu instances, %zu tasks, %zu services",
		 w->cache.prefix, (unsigned long long)w->list_rev, w->cache.insts.n,
		 w->cache.tasks.n, w->cache.svcs.n);
	sync_watch_start(w);
	sched_caught_up(w);
	lost_scan(w);
	service_scan(w);
	sched_pump(w);
}

static void sync_retry_cb(uv_timer_t *t)
{
	struct worker *w = t->data;
	if (w->phase == WORKER_LISTING)
		sync_list_page(w);
}

static void sync_page_cb(struct berth_result *res, const char *errmsg, void *data)
{
	struct worker *w = data;
	int err = worker_result_err(res);
	w->list_busy = false;
	worker_call_done(w);
	if (w->phase != WORKER_LISTING)
		return;
	if (err == BERTH_ECOMPACTED) {
		log_info("list at %llu compacted meanwhile: listing again",
			 (unsigned long long)w->list_rev);
		sync_relist(w);
		return;
	}
	if (err != 0 || !res->resp.has_reply || res->resp.reply.nops != 1) {
		log_warn("list %s: %s %s", w->cache.prefix, err_text(err ? err : BERTH_EPROTO),
			 errmsg);
		uv_timer_start(&w->sync_timer, sync_retry_cb, SYNC_RETRY_MS, 0);
		return;
	}
	const struct reply_op *op = &res->resp.reply.ops[0];
	if (w->list_rev == 0)
		w->list_rev = res->resp.reply.rev;
	w->ready_rev = res->resp.hdr.rev;
	for (uint32_t i = 0; i < op->nkvs; i++)
		if (cache_apply(&w->cache, MSG_OP_PUT, &op->kvs[i]) != 0) {
			log_error("out of memory listing %s", w->cache.prefix);
			w->exit_code = 1;
			worker_stop(w);
			return;
		}
	if (op->more && op->nkvs > 0) {
		const struct bytes *last = &op->kvs[op->nkvs - 1].key;
		if (last->n + 1 > sizeof(w->list_from)) {
			log_error("list: a key of %zu bytes", last->n);
			w->exit_code = 1;
			worker_stop(w);
			return;
		}
		if (last->n > 0)
			memcpy(w->list_from, last->p, last->n);
		w->list_from[last->n] = 0; /* the next key after it */
		w->list_from_len = last->n + 1;
		sync_list_page(w);
		return;
	}
	sync_list_done(w);
}

static void sync_list_page(struct worker *w)
{
	char end[MODEL_KEY_MAX];
	struct berth_range r;
	if (w->list_busy || w->phase != WORKER_LISTING)
		return;
	sync_prefix_end(w, end);
	memset(&r, 0, sizeof(r));
	if (w->list_from_len == 0) {
		r.key = w->cache.prefix;
		r.klen = w->cache.plen;
	} else {
		r.key = w->list_from;
		r.klen = w->list_from_len;
	}
	r.end = end;
	r.elen = w->cache.plen;
	r.limit = SYNC_PAGE;
	r.rev = w->list_rev;
	r.serializable = true;
	int rc = berth_async_range(w->a, &r, sync_page_cb, w);
	if (rc != 0) {
		log_warn("list %s: %s", w->cache.prefix, err_text(rc));
		uv_timer_start(&w->sync_timer, sync_retry_cb, SYNC_RETRY_MS, 0);
		return;
	}
	w->list_busy = true;
	w->calls++;
}

int sync_start(struct worker *w)
{
	uv_timer_init(w->loop, &w->sync_timer);
	w->sync_timer.data = w;
	w->phase = WORKER_LISTING;
	sync_list_page(w);
	return 0;
}

void sync_stop(struct worker *w)
{
	uv_timer_stop(&w->sync_timer);
	if (w->watch != NULL) {
		berth_async_watch_close(w->watch);
		w->watch = NULL;
	}
}
