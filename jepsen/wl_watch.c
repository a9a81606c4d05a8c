/* jepsen/wl_watch.c: writers put unique values, watchers record what their watch delivers
 * (jepsen/wl.h). */
#include "jepsen/check.h"
#include "jepsen/wl.h"

#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WATCH_PREFIX "j/w/"
#define WATCH_WAIT_MS 200    /* one berth_watch_next */
#define WATCH_DRAIN_MS 30000 /* the final drain */

static bool is_watcher(const struct wl_client *c)
{
	return c->thread < c->sh->cfg->watchers;
}

/* The revision now (a linearizable read's header). */
static int current_rev(struct berth *b, uint64_t *rev)
{
	struct berth_result res = {0};
	int rc = berth_get(b, WATCH_PREFIX, strlen(WATCH_PREFIX), 0, false, &res);
	if (rc == 0)
		*rev = res.resp.reply.rev;
	berth_result_free(&res);
	return rc;
}

static int watch_setup(struct wl_shared *sh, struct berth *b)
{
	if (sh->cfg->watchers == 0 || sh->cfg->watchers >= sh->cfg->concurrency) {
		fprintf(stderr, "berth-jepsen: watch: --watchers must be 1 to --concurrency - 1\n");
		return 1;
	}
	int rc = current_rev(b, &sh->start_rev);
	if (rc != 0)
		fprintf(stderr, "berth-jepsen: watch: reading the revision: %s\n", berth_errmsg(b));
	return rc;
}

static int watch_open(struct wl_client *c, uint64_t after)
{
	struct berth_watch_options o = {
		.key = WATCH_PREFIX, .klen = strlen(WATCH_PREFIX), .prefix = true, .rev = after};
	return berth_watch_open(c->b, &o, &c->watch);
}

/* One berth_watch_next; a batch with events is one "watch" operation. 0, BERTH_ETIMEOUT
 * (nothing), or the watch's error (it was reopened where it ended, or will be). */
static int watch_step(struct wl_client *c, uint32_t wait_ms)
{
	struct berth_watch_batch batch = {0};
	if (c->watch == NULL && watch_open(c, c->resume ? c->resume : c->sh->start_rev) != 0)
		return BERTH_ENOCONN;
	int rc = berth_watch_next(c->watch, wait_ms, &batch);
	if (rc == BERTH_ETIMEOUT || rc == BERTH_ENOCONN)
		return rc;
	if (rc != 0) {
		/* Compacted or overflowed: a new watch continues where this one ended (a
		 * compaction makes a gap the checker will see). */
		uint64_t at = rc == BERTH_ECOMPACTED ? berth_watch_compacted(c->watch)
						     : berth_watch_rev(c->watch);
		fprintf(stderr, "berth-jepsen: watcher %u: %s; resuming after %llu\n", c->thread,
			err_name(rc), (unsigned long long)at);
		berth_watch_close(c->watch);
		c->watch = NULL;
		c->resume = at;
		return rc;
	}
	if (batch.nevents > 0) {
		json_t *evs = json_array();
		for (size_t i = 0; i < batch.nevents; i++) {
			const struct berth_event *e = &batch.events[i];
			json_t *key = json_stringn((const char *)e->kv.key.p, e->kv.key.n);
			int64_t x;
			json_t *val =
				e->type == MSG_OP_DEL ? json_null()
				: wl_parse_int(&e->kv.value, &x)
					? json_integer(x)
					: json_stringn((const char *)e->kv.value.p, e->kv.value.n);
			json_array_append_new(
				evs, json_pack("[I,o,o]", (json_int_t)e->kv.mod_rev, key, val));
		}
		wl_invoke(c, "watch", NULL, NULL);
		wl_complete(c, "watch", NULL, 0, true, evs);
	}
	berth_watch_batch_free(&batch);
	return 0;
}

static void watch_write(struct wl_client *c)
{
	struct berth_result res = {0};
	char key[32], val[24];
	snprintf(key, sizeof(key), WATCH_PREFIX "%llu",
		 (unsigned long long)wl_rand(c, c->sh->cfg->keys));
	int64_t x = wl_unique(c);
	json_t *jv = json_integer(x);
	snprintf(val, sizeof(val), "%lld", (long long)x);
	wl_invoke(c, "write", key, jv);
	int rc = berth_put(c->b, key, strlen(key), val, strlen(val), 0, &res);
	berth_result_free(&res);
	wl_complete(c, "write", key, rc, true, jv);
}

static void watch_op(struct wl_client *c)
{
	if (is_watcher(c))
		watch_step(c, WATCH_WAIT_MS);
	else
		watch_write(c);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A watcher reads on until its watch has delivered the revision of now. */
static int watch_final(struct wl_client *c)
{
	uint64_t want = 0, deadline = now_ms() + WATCH_DRAIN_MS;
	if (!is_watcher(c))
		return 0;
	while (current_rev(c->b, &want) != 0)
		if (now_ms() > deadline) {
			fprintf(stderr, "berth-jepsen: watcher %u: no revision to drain to\n",
				c->thread);
			return 1;
		}
	while (c->watch == NULL || berth_watch_rev(c->watch) < want) {
		if (now_ms() > deadline) {
			fprintf(stderr, "berth-jepsen: watcher %u: drained to %llu of %llu\n",
				c->thread,
				(unsigned long long)(c->watch ? berth_watch_rev(c->watch) : 0),
				(unsigned long long)want);
			return 1;
		}
		watch_step(c, WATCH_WAIT_MS);
	}
	berth_watch_close(c->watch);
	c->watch = NULL;
	return 0;
}

static json_t *watch_check(const struct history *h, const struct run_config *cfg, char *err,
			   size_t errlen)
{
	(void)cfg;
	return check_watch(h, err, errlen);
}

const struct workload wl_watch = {"watch", watch_setup, watch_op, watch_final, watch_check, NULL};
