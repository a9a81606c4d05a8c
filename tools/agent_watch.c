/* tools/agent_watch.c: what berth-agent knows of the cluster's tasks: one listing of the
 * tasks/ prefix (paged, AGENT_LIST_PAGE keys a page, every page at the first page's
 * revision R), then one asynchronous watch from R; on BERTH_ECOMPACTED a new listing, after
 * which the tasks it did not see count as deleted. Every task record goes to
 * agent_task_seen (tools/agent_tasks.c). */
#include "tools/agent.h"

#include "common/err.h"
#include "common/log.h"

#include <inttypes.h>
#include <string.h>

static void tasks_list_page(struct agent *ag);
static void tasks_list(struct agent *ag);
static void tasks_watch(struct agent *ag);

static void tasks_page_cb(uv_timer_t *tm)
{
	tasks_list_page(tm->data);
}

static void tasks_list_cb(uv_timer_t *tm)
{
	tasks_list(tm->data);
}

static void tasks_listed(struct berth_result *res, const char *msg, void *data)
{
	struct agent *ag = data;
	if (ag->stopping || ag->a == NULL)
		return;
	if (res->err != 0) {
		log_warn("list tasks: %s: %s", err_name(res->err), msg);
		/* Compacted under the listing: from the start, at a newer revision. */
		uv_timer_start(&ag->list_timer,
			       res->err == BERTH_ECOMPACTED ? tasks_list_cb : tasks_page_cb, 500,
			       0);
		return;
	}
	const struct reply_op *op = res->resp.reply.nops == 1 ? &res->resp.reply.ops[0] : NULL;
	if (ag->list_rev == 0)
		ag->list_rev = res->resp.reply.rev;
	for (uint32_t i = 0; op != NULL && i < op->nkvs; i++)
		agent_task_seen(ag, op->kvs[i].key, &op->kvs[i].value,
				(uint64_t)op->kvs[i].mod_rev);
	if (op != NULL && op->more && op->nkvs > 0) {
		const struct reply_kv *last = &op->kvs[op->nkvs - 1];
		if (last->key.n < MODEL_KEY_MAX) {
			memcpy(ag->list_next, last->key.p, last->key.n);
			ag->list_next[last->key.n] = 0; /* next page: after the last key */
			tasks_list_page(ag);
			return;
		}
	}
	/* Tasks the listing did not see were deleted while no watch ran. */
	for (size_t i = ag->ntasks; i-- > 0;) {
		struct agent_task *t = ag->tasks[i];
		if (t->list_gen != ag->list_gen && !t->in_flight) {
			agent_task_update(t, NULL, 0);
			agent_task_step(t);
		}
	}
	ag->listing = false;
	log_info("listed the cluster's tasks at revision %" PRIu64 ": %zu on these instances",
		 ag->list_rev, ag->ntasks);
	tasks_watch(ag);
}

static void tasks_list_page(struct agent *ag)
{
	char prefix[MODEL_KEY_MAX], end[MODEL_KEY_MAX];
	model_key_prefix(prefix, MODEL_KEY_TASK, ag->cfg->cluster, NULL);
	size_t plen = strlen(prefix);
	memcpy(end, prefix, plen);
	end[plen - 1]++; /* '/' + 1: just past every key under the prefix */
	/* From the prefix, or just after the last key of the previous page. */
	size_t klen = ag->list_next[0] ? strlen(ag->list_next) + 1 : plen;
	struct berth_range r = {.key = ag->list_next[0] ? ag->list_next : prefix,
				.klen = klen,
				.end = end,
				.elen = plen,
				.limit = AGENT_LIST_PAGE,
				.rev = ag->list_rev};
	int rv = berth_async_range(ag->a, &r, tasks_listed, ag);
	if (rv != 0) {
		log_warn("list tasks: %s", err_name(rv));
		uv_timer_start(&ag->list_timer, tasks_page_cb, 500, 0);
	}
}

static void tasks_list(struct agent *ag)
{
	ag->listing = true;
	ag->list_gen++;
	ag->list_rev = 0;
	ag->list_next[0] = 0;
	tasks_list_page(ag);
}

static void tasks_watch_cb(struct berth_async_watch *w, int err, struct berth_watch_batch *batch,
			   void *data)
{
	struct agent *ag = data;
	if (err != 0) {
		ag->watch = NULL;
		ag->watching = false;
		if (ag->stopping || err == BERTH_ECLOSED)
			return;
		log_warn("watch tasks: %s (compacted at %" PRIu64 "); listing again", err_name(err),
			 err == BERTH_ECOMPACTED ? berth_async_watch_compacted(w) : 0);
		tasks_list(ag);
		return;
	}
	for (size_t i = 0; i < batch->nevents; i++) {
		const struct berth_event *e = &batch->events[i];
		agent_task_seen(ag, e->kv.key, e->type == MSG_OP_PUT ? &e->kv.value : NULL,
				(uint64_t)e->kv.mod_rev);
	}
}

static void tasks_watch(struct agent *ag)
{
	char prefix[MODEL_KEY_MAX];
	model_key_prefix(prefix, MODEL_KEY_TASK, ag->cfg->cluster, NULL);
	struct berth_async_watch_options o = {
		.w = {.key = prefix, .klen = strlen(prefix), .prefix = true, .rev = ag->list_rev}};
	int rv = berth_async_watch(ag->a, &o, tasks_watch_cb, ag, &ag->watch);
	if (rv != 0) {
		log_warn("watch tasks: %s; listing again", err_name(rv));
		uv_timer_start(&ag->list_timer, tasks_list_cb, 500, 0);
		return;
	}
	ag->watching = true;
}

void agent_tasks_start(struct agent *ag)
{
	tasks_list(ag);
}
