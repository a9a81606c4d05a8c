/* tests/integ/test_cluster_async_watch.c: watches on the asynchronous handle, on real
 * processes: a watch sharing the handle's connection to the leader sees every
 * acknowledged put once and in order while that leader is killed with SIGKILL (it
 * resubscribes from its last revision; a watch on a connection the handle moved away from
 * stays there); a watch below the compaction ends with
 * BERTH_ECOMPACTED; a bad range is refused at once; closing the handle ends a watch with
 * BERTH_ECLOSED. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/berth_async.h"
#include "tests/integ/integ.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AW_PUTS 300
#define AW_WINDOW 30
#define AW_KILL_AFTER 100
#define AW_RUN_MS 60000

struct aw_run {
	struct integ *f;
	struct berth_async *a;
	struct berth_async_watch *w;
	unsigned submitted, ended, acked;
	bool acked_put[AW_PUTS];
	unsigned seen[AW_PUTS]; /* times each key was seen in the watch */
	int64_t last_rev;       /* of the last event seen */
	unsigned events, progress, out_of_order, foreign;
	bool killed;
	int ended_err; /* the watch's end, or 0 */
	bool ended_cb;
	uint64_t compacted;
	uint64_t deadline_ms;
	uv_timer_t tick;
};

static void aw_submit(struct aw_run *r);

struct aw_put {
	struct aw_run *r;
	unsigned i;
};

static void aw_put_done(struct berth_result *res, const char *errmsg, void *data)
{
	struct aw_put *p = data;
	struct aw_run *r = p->r;
	(void)errmsg;
	r->ended++;
	if (res->err == 0) {
		r->acked_put[p->i] = true;
		r->acked++;
	}
	free(p);
	aw_submit(r);
}

static void aw_submit(struct aw_run *r)
{
	while (r->submitted < AW_PUTS && r->submitted - r->ended < AW_WINDOW) {
		if (!r->killed && r->acked >= AW_KILL_AFTER) {
			unsigned leader;
			assert_int_equal(
				cluster_wait_leader(&r->f->c, INTEG_LEADER_WAIT_MS, &leader, NULL),
				0);
			cluster_kill(&r->f->c, leader);
			r->killed = true;
		}
		char k[32], v[32];
		struct aw_put *p = malloc(sizeof(*p));
		assert_non_null(p);
		p->r = r;
		p->i = r->submitted;
		snprintf(k, sizeof(k), "aw/%04u", p->i);
		snprintf(v, sizeof(v), "%u", p->i);
		assert_int_equal(
			berth_async_put(r->a, k, strlen(k), v, strlen(v), 0, aw_put_done, p), 0);
		r->submitted++;
	}
}

static void aw_watch_cb(struct berth_async_watch *w, int err, struct berth_watch_batch *b,
			void *data)
{
	struct aw_run *r = data;
	if (err != 0) {
		r->ended_cb = true;
		r->ended_err = err;
		r->compacted = berth_async_watch_compacted(w);
		r->w = NULL;
		return;
	}
	if (b->nevents == 0)
		r->progress++;
	for (size_t i = 0; i < b->nevents; i++) {
		const struct berth_event *e = &b->events[i];
		unsigned n;
		r->events++;
		if (e->kv.mod_rev <= r->last_rev)
			r->out_of_order++;
		r->last_rev = e->kv.mod_rev;
		if (e->kv.key.n == 7 && memcmp(e->kv.key.p, "aw/", 3) == 0 &&
		    sscanf((const char *)e->kv.key.p + 3, "%4u", &n) == 1 && n < AW_PUTS)
			r->seen[n]++;
		else
			r->foreign++;
	}
}

static bool aw_all_seen(const struct aw_run *r)
{
	for (unsigned i = 0; i < AW_PUTS; i++)
		if (r->acked_put[i] && r->seen[i] == 0)
			return false;
	return true;
}

/* The first put has found the leader: the watch subscribes on that connection (from the
 * put's revision), so killing the leader later cuts the watch too. */
static void aw_warm_done(struct berth_result *res, const char *errmsg, void *data)
{
	struct aw_run *r = data;
	(void)errmsg;
	assert_int_equal(res->err, 0);
	struct berth_async_watch_options wo = {
		.w = {.key = "aw/", .klen = 3, .prefix = true, .rev = res->resp.reply.rev},
		.idle_ms = 3000};
	assert_int_equal(berth_async_watch(r->a, &wo, aw_watch_cb, r, &r->w), 0);
	aw_submit(r);
}

static void aw_tick(uv_timer_t *t)
{
	struct aw_run *r = t->data;
	bool done = r->ended == AW_PUTS && aw_all_seen(r);
	if (done || cluster_now_ms() > r->deadline_ms || r->ended_cb)
		uv_stop(t->loop);
}

static struct berth_async *aw_open(struct integ *f, uv_loop_t *loop)
{
	struct berth_options o = {.endpoints = f->c.eps, .nendpoints = f->c.n, .timeout_ms = 10000};
	struct berth_async *a = NULL;
	char err[256];
	assert_int_equal(berth_async_open(&a, loop, &o, NULL, err, sizeof(err)), 0);
	return a;
}

static void aw_closed(void *data)
{
	*(bool *)data = true;
}

static void aw_finish_loop(uv_loop_t *loop, struct berth_async *a)
{
	bool closed = false;
	berth_async_close(a, aw_closed, &closed);
	for (int i = 0; i < 1000 && !closed; i++)
		uv_run(loop, UV_RUN_ONCE);
	assert_true(closed);
	uv_run(loop, UV_RUN_NOWAIT);
}

static void test_async_watch_failover(void **state)
{
	struct integ *f = *state;
	const char *extra[] = {"--watch-progress-ms", "100", NULL};
	uv_loop_t loop;
	struct aw_run *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	integ_start(f, 3, extra, NULL);
	assert_int_equal(uv_loop_init(&loop), 0);
	r->f = f;
	r->a = aw_open(f, &loop);
	assert_int_equal(berth_async_put(r->a, "warm", 4, "1", 1, 0, aw_warm_done, r), 0);
	r->deadline_ms = cluster_now_ms() + AW_RUN_MS;
	uv_timer_init(&loop, &r->tick);
	r->tick.data = r;
	uv_timer_start(&r->tick, aw_tick, 50, 50);
	uv_run(&loop, UV_RUN_DEFAULT);

	assert_true(r->killed);
	assert_int_equal(r->ended, AW_PUTS);
	assert_true(r->acked >= AW_PUTS - AW_WINDOW);
	assert_false(r->ended_cb);
	assert_true(aw_all_seen(r));
	for (unsigned i = 0; i < AW_PUTS; i++)
		assert_true(r->seen[i] <= 1); /* never twice */
	assert_int_equal(r->out_of_order, 0);
	assert_int_equal(r->foreign, 0);
	assert_true(berth_async_watch_resumes(r->w) >= 1);
	fprintf(stderr, "async watch: %u events, %u progress, %llu resumes, %u acked\n", r->events,
		r->progress, (unsigned long long)berth_async_watch_resumes(r->w), r->acked);

	/* Closing the handle ends the watch through its callback. */
	uv_close((uv_handle_t *)&r->tick, NULL);
	aw_finish_loop(&loop, r->a);
	assert_true(r->ended_cb);
	assert_int_equal(r->ended_err, BERTH_ECLOSED);
	assert_int_equal(uv_loop_close(&loop), 0);
	free(r);
	integ_finish(f);
}

static void test_async_watch_compacted_and_bad(void **state)
{
	struct integ *f = *state;
	uv_loop_t loop;
	struct aw_run *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	integ_start(f, 3, NULL, NULL);
	struct berth *b = cluster_client(&f->c, 0, 5000);
	uint64_t rev = 0;
	for (int i = 0; i < 4; i++)
		rev = integ_put(b, "cw/k", "v");
	struct berth_result res = {0};
	assert_int_equal(berth_compact(b, rev - 1, &res), 0);
	berth_result_free(&res);
	integ_put(b, "sync", "1");
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(cluster_wait_value(&f->c, i, "sync", "1", 5000), 0);

	assert_int_equal(uv_loop_init(&loop), 0);
	r->f = f;
	r->a = aw_open(f, &loop);
	/* A bad range is refused at once; the callback never runs. */
	struct berth_async_watch *bad = NULL;
	struct berth_async_watch_options wb = {
		.w = {.key = "a", .klen = 1, .end = "b", .elen = 1, .prefix = true}};
	assert_int_equal(berth_async_watch(r->a, &wb, aw_watch_cb, r, &bad), BERTH_EBADREQ);
	assert_null(bad);
	/* Below the compaction: the callback ends it with BERTH_ECOMPACTED. */
	struct berth_async_watch_options wo = {
		.w = {.key = "cw/", .klen = 3, .prefix = true, .rev = rev - 3}};
	assert_int_equal(berth_async_watch(r->a, &wo, aw_watch_cb, r, &r->w), 0);
	r->deadline_ms = cluster_now_ms() + 10000;
	uv_timer_init(&loop, &r->tick);
	r->tick.data = r;
	r->ended = AW_PUTS; /* no puts in this test: stop on the watch's end */
	uv_timer_start(&r->tick, aw_tick, 20, 20);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_true(r->ended_cb);
	assert_int_equal(r->ended_err, BERTH_ECOMPACTED);
	assert_int_equal(r->compacted, rev - 1);
	uv_close((uv_handle_t *)&r->tick, NULL);
	aw_finish_loop(&loop, r->a);
	assert_int_equal(uv_loop_close(&loop), 0);
	free(r);
	berth_close(b);
	integ_finish(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_async_watch_failover, integ_setup,
						integ_teardown),
		cmocka_unit_test_setup_teardown(test_async_watch_compacted_and_bad, integ_setup,
						integ_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
