/* tests/integ/test_cluster_watch.c: watches on real processes (store/watch.h, client/watch.c):
 * every change once and in order with a transaction's changes together, ranges and history
 * replay, progress notifications, resumption across a leader change and the loss of the
 * watched member, compaction, bad requests and limits, and a client that stops reading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/integ.h"
#include "tests/integ/rawconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WT_EXTRA "--watch-progress-ms", "100"

/* Collects events from w until `want` events arrived (deadline ms). Returns how many; each
 * batch's revisions are checked to go up. */
struct wt_seen {
	size_t n;
	char key[512][32];
	char value[512][32];
	uint8_t type[512];
	int64_t rev[512];
	size_t batch[512]; /* which batch each event came in */
	uint64_t last_rev;
	size_t batches, progress;
};

static void wt_collect(struct berth_watch *w, struct wt_seen *s, size_t want, uint64_t ms)
{
	uint64_t end = cluster_now_ms() + ms;
	while (s->n < want && cluster_now_ms() < end) {
		struct berth_watch_batch bt;
		int rv = berth_watch_next(w, 200, &bt);
		if (rv == BERTH_ETIMEOUT || rv == BERTH_ENOCONN)
			continue;
		assert_int_equal(rv, 0);
		assert_true(bt.rev >= s->last_rev);
		s->batches++;
		s->progress += bt.nevents == 0;
		for (size_t i = 0; i < bt.nevents; i++) {
			const struct berth_event *e = &bt.events[i];
			assert_true(s->n < 512);
			assert_true(e->kv.key.n < 32 && e->kv.value.n < 32);
			/* Revisions never go back, and every event is at most the batch's rev. */
			assert_true(s->n == 0 || e->kv.mod_rev >= s->rev[s->n - 1]);
			assert_true(e->kv.mod_rev > (int64_t)s->last_rev);
			assert_true((uint64_t)e->kv.mod_rev <= bt.rev);
			memcpy(s->key[s->n], e->kv.key.p, e->kv.key.n);
			s->key[s->n][e->kv.key.n] = '\0';
			if (e->kv.value.n > 0) /* a delete has no value (and a NULL pointer) */
				memcpy(s->value[s->n], e->kv.value.p, e->kv.value.n);
			s->value[s->n][e->kv.value.n] = '\0';
			s->type[s->n] = e->type;
			s->rev[s->n] = e->kv.mod_rev;
			s->batch[s->n] = s->batches;
			s->n++;
		}
		s->last_rev = bt.rev;
		berth_watch_batch_free(&bt);
	}
}

static struct berth_watch *wt_open(struct berth *b, const char *key, const char *end, bool prefix,
				   uint64_t rev)
{
	struct berth_watch_options o = {
		.key = key, .klen = strlen(key), .prefix = prefix, .rev = rev};
	struct berth_watch *w = NULL;
	if (end != NULL) {
		o.end = end;
		o.elen = strlen(end);
	}
	int rv = berth_watch_open(b, &o, &w);
	if (rv != 0)
		fprintf(stderr, "watch open: %s\n", berth_errmsg(b));
	assert_int_equal(rv, 0);
	return w;
}

static uint64_t wt_txn_put_del(struct berth *b, const char *put, const char *del)
{
	struct msg_op ops[2] = {
		{.type = MSG_OP_PUT,
		 .key = {(const uint8_t *)put, strlen(put)},
		 .value = {(const uint8_t *)"t", 1}},
		{.type = MSG_OP_DEL, .key = {(const uint8_t *)del, strlen(del)}},
	};
	struct msg_txn t = {.nsucc = 2, .succ = ops};
	struct berth_result r = {0};
	assert_int_equal(berth_txn(b, &t, false, &r), 0);
	uint64_t rev = r.resp.reply.rev;
	berth_result_free(&r);
	return rev;
}

static void test_watch_events(void **state)
{
	struct integ *f = *state;
	const char *extra[] = {WT_EXTRA, NULL};
	integ_start(f, 3, extra, NULL);
	struct berth *b = cluster_client(&f->c, 0, 5000);
	assert_non_null(b);

	uint64_t r0 = integ_put(b, "other", "x");
	assert_int_equal(cluster_wait_value(&f->c, 0, "other", "x", 5000), 0);
	struct berth_watch *all = wt_open(b, "w/", NULL, true, 0);
	struct berth_watch *one = wt_open(b, "w/a", NULL, false, 0);
	struct berth_watch *rng = wt_open(b, "w/b", "w/d", false, 0);
	assert_true(berth_watch_rev(all) >= r0);

	uint64_t r1 = integ_put(b, "w/a", "1");
	integ_put(b, "x/b", "no");
	uint64_t r3 = wt_txn_put_del(b, "w/c", "w/a");
	uint64_t r4 = integ_put(b, "w/a", "2");

	struct wt_seen s = {0};
	wt_collect(all, &s, 4, 10000);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.key[0], "w/a");
	assert_string_equal(s.value[0], "1");
	assert_int_equal(s.rev[0], (int64_t)r1);
	assert_string_equal(s.key[1], "w/c");
	assert_int_equal(s.type[1], MSG_OP_PUT);
	assert_string_equal(s.key[2], "w/a");
	assert_int_equal(s.type[2], MSG_OP_DEL);
	assert_int_equal(s.rev[1], (int64_t)r3);
	assert_int_equal(s.rev[2], (int64_t)r3);
	assert_int_equal(s.batch[1], s.batch[2]); /* one transaction, one batch */
	assert_string_equal(s.value[3], "2");
	assert_int_equal(s.rev[3], (int64_t)r4);

	/* A single key, and a range [w/b, w/d). */
	struct wt_seen s1 = {0}, s2 = {0};
	wt_collect(one, &s1, 3, 10000);
	assert_int_equal(s1.n, 3);
	assert_int_equal(s1.rev[0], (int64_t)r1);
	assert_int_equal(s1.type[1], MSG_OP_DEL);
	assert_int_equal(s1.rev[2], (int64_t)r4);
	wt_collect(rng, &s2, 1, 10000);
	assert_int_equal(s2.n, 1);
	assert_string_equal(s2.key[0], "w/c");

	/* Idle: progress notifications carry the revision. */
	uint64_t end = cluster_now_ms() + 5000;
	bool got = false;
	while (!got && cluster_now_ms() < end) {
		struct berth_watch_batch bt;
		int rv = berth_watch_next(all, 500, &bt);
		if (rv == 0) {
			assert_int_equal(bt.nevents, 0);
			got = bt.rev >= r4;
			berth_watch_batch_free(&bt);
		}
	}
	assert_true(got);

	/* History replay: from before r1, the same four events again. */
	struct berth_watch *past = wt_open(b, "w/", NULL, true, r1 - 1);
	struct wt_seen s3 = {0};
	wt_collect(past, &s3, 4, 10000);
	assert_int_equal(s3.n, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_string_equal(s3.key[i], s.key[i]);
		assert_int_equal(s3.rev[i], s.rev[i]);
	}
	berth_watch_close(past);
	berth_watch_close(all);
	berth_watch_close(one);
	berth_watch_close(rng);
	berth_close(b);
	integ_finish(f);
}

/* A watch on member 0 while writes go on: member 0 is killed and restarted and the leader
 * is killed; every acknowledged write is seen once, in order. */
static void test_watch_failover(void **state)
{
	struct integ *f = *state;
	const char *extra[] = {WT_EXTRA, NULL};
	unsigned leader;
	enum { N = 150 };
	bool acked[N] = {false};
	integ_start(f, 3, extra, &leader);
	struct berth *b = cluster_client(&f->c, 1, 8000);
	struct berth *wb = cluster_client(&f->c, 0, 8000);
	assert_non_null(b);
	assert_non_null(wb);
	struct berth_watch *w = wt_open(wb, "f/", NULL, true, 0);
	struct wt_seen s = {0};

	for (unsigned i = 0; i < N; i++) {
		char k[32], v[32];
		struct berth_result r = {0};
		if (i == 40)
			cluster_kill(&f->c, 0); /* the watched member */
		if (i == 80) {
			assert_int_equal(cluster_restart(&f->c, 0), 0);
			assert_int_equal(
				cluster_wait_leader(&f->c, INTEG_LEADER_WAIT_MS, &leader, NULL), 0);
			cluster_kill(&f->c, leader);
		}
		if (i == 120 && !cluster_alive(&f->c, leader))
			assert_int_equal(cluster_restart(&f->c, leader), 0);
		snprintf(k, sizeof(k), "f/%04u", i);
		snprintf(v, sizeof(v), "%u", i);
		int rv = berth_put(b, k, strlen(k), v, strlen(v), 0, &r);
		acked[i] = rv == 0;
		berth_result_free(&r);
		if (i % 10 == 0) /* keep the watch's buffers small */
			wt_collect(w, &s, s.n + 1, 50);
	}
	unsigned nacked = 0;
	for (unsigned i = 0; i < N; i++)
		nacked += acked[i];
	assert_true(nacked >= N - 10);

	/* Every acknowledged write arrives; nothing twice; in order. */
	uint64_t end = cluster_now_ms() + 30000;
	bool all = false;
	while (!all && cluster_now_ms() < end) {
		wt_collect(w, &s, N, 500);
		all = true;
		for (unsigned i = 0; i < N && all; i++) {
			char k[32];
			bool found = false;
			snprintf(k, sizeof(k), "f/%04u", i);
			for (size_t j = 0; j < s.n && !found; j++)
				found = strcmp(s.key[j], k) == 0;
			all = found || !acked[i];
		}
	}
	assert_true(all);
	for (size_t i = 0; i < s.n; i++) {
		assert_int_equal(s.type[i], MSG_OP_PUT);
		assert_int_equal(atoi(s.value[i]), atoi(s.key[i] + 2));
		for (size_t j = i + 1; j < s.n; j++)
			assert_string_not_equal(s.key[i], s.key[j]);
		if (i > 0)
			assert_true(s.rev[i] > s.rev[i - 1]);
	}
	assert_true(berth_watch_resumes(w) >= 1);
	berth_watch_close(w);
	berth_close(wb);
	berth_close(b);
	integ_finish(f);
}

static void test_watch_compacted_and_bad(void **state)
{
	struct integ *f = *state;
	integ_start(f, 3, NULL, NULL);
	struct berth *b = cluster_client(&f->c, 0, 5000);
	struct berth_result r = {0};
	uint64_t rev = 0;
	for (int i = 0; i < 5; i++)
		rev = integ_put(b, "c/k", "v");
	assert_int_equal(berth_compact(b, rev - 1, &r), 0);
	berth_result_free(&r);
	/* Member 0, where the watch goes, has applied the compaction once it has this. */
	uint64_t sync = integ_put(b, "sync", "1");
	assert_int_equal(cluster_wait_value(&f->c, 0, "sync", "1", 5000), 0);

	/* Below the compaction: cancelled with the compaction revision. */
	struct berth_watch *w = wt_open(b, "c/", NULL, true, rev - 3);
	struct berth_watch_batch bt;
	int rv = BERTH_ETIMEOUT;
	uint64_t end = cluster_now_ms() + 5000;
	while (rv == BERTH_ETIMEOUT && cluster_now_ms() < end)
		rv = berth_watch_next(w, 200, &bt);
	assert_int_equal(rv, BERTH_ECOMPACTED);
	assert_int_equal(berth_watch_compacted(w), rev - 1);
	assert_int_equal(berth_watch_next(w, 10, &bt), BERTH_ECOMPACTED); /* stays ended */
	berth_watch_close(w);
	/* At the compaction revision itself: fine. */
	w = wt_open(b, "c/", NULL, true, rev - 1);
	struct wt_seen s = {0};
	wt_collect(w, &s, 1, 5000);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.rev[0], (int64_t)rev);
	assert_true(sync > rev);
	berth_watch_close(w);

	/* Bad requests are refused, definite. */
	static char big[1100];
	memset(big, 'k', sizeof(big) - 1);
	struct berth_watch_options o = {.key = big, .klen = strlen(big)};
	assert_int_equal(berth_watch_open(b, &o, &w), BERTH_ETOOLARGE);
	struct berth_watch_options o2 = {
		.key = "a", .klen = 1, .end = "b", .elen = 1, .prefix = true};
	assert_int_equal(berth_watch_open(b, &o2, &w), BERTH_EBADREQ);
	struct berth_watch_options o3 = {.key = "", .klen = 0};
	assert_int_equal(berth_watch_open(b, &o3, &w), BERTH_EBADREQ);

	/* Raw: a count-only watch, an unknown cancel, and the per-connection limit. */
	int fd = rawconn_open(f->c.m[0].client_port, 5000);
	assert_true(fd >= 0);
	assert_int_equal(rawconn_hello(fd, 1, NULL, 5000), 0);
	struct rawconn_resp rr;
	struct msg_req req = {.type = MSG_REQ_WATCH, .id = 2};
	req.watch.key = (struct bytes){(const uint8_t *)"x", 1};
	req.watch.flags = MSG_F_COUNT_ONLY;
	assert_int_equal(rawconn_send_req(fd, &req), 0);
	assert_int_equal(rawconn_recv(fd, 5000, &rr), RAWCONN_OK);
	assert_int_equal(rr.resp.err, BERTH_EBADREQ);
	rawconn_resp_free(&rr);
	struct msg_req cancel = {.type = MSG_REQ_WATCH_CANCEL, .id = 3, .watch_id = 999999};
	assert_int_equal(rawconn_send_req(fd, &cancel), 0);
	assert_int_equal(rawconn_recv(fd, 5000, &rr), RAWCONN_OK);
	assert_int_equal(rr.resp.err, BERTH_ENOTFOUND);
	rawconn_resp_free(&rr);
	req.watch.flags = MSG_F_PREFIX;
	unsigned ok = 0, refused = 0;
	for (unsigned i = 0; i < 1030; i++) {
		req.id = 10 + i;
		assert_int_equal(rawconn_send_req(fd, &req), 0);
		assert_int_equal(rawconn_recv(fd, 5000, &rr), RAWCONN_OK);
		if (rr.resp.err == 0)
			ok++;
		else if (rr.resp.err == BERTH_ETOOLARGE)
			refused++;
		rawconn_resp_free(&rr);
	}
	assert_int_equal(ok, 1024);
	assert_int_equal(refused, 6);
	close(fd);
	integ_expect(b, "c/k", "v", false); /* still serving */
	berth_close(b);
	integ_finish(f);
}

/* A client that watches and never reads is cancelled with BERTH_EWATCHOVERFLOW once it is
 * --watch-max-lag revisions behind; everyone else is served meanwhile. */
static void test_watch_overflow(void **state)
{
	struct integ *f = *state;
	const char *extra[] = {"--watch-max-lag", "20", NULL};
	integ_start(f, 3, extra, NULL);
	struct berth *b = cluster_client(&f->c, 0, 10000);
	int fd = rawconn_open(f->c.m[0].client_port, 5000);
	assert_true(fd >= 0);
	assert_int_equal(rawconn_hello(fd, 1, NULL, 5000), 0);
	struct msg_req req = {.type = MSG_REQ_WATCH, .id = 2, .watch.flags = MSG_F_PREFIX};
	req.watch.key = (struct bytes){(const uint8_t *)"o/", 2};
	assert_int_equal(rawconn_send_req(fd, &req), 0);
	struct rawconn_resp rr;
	assert_int_equal(rawconn_recv(fd, 5000, &rr), RAWCONN_OK);
	assert_int_equal(rr.resp.err, 0);
	uint64_t wid = rr.resp.reply.id;
	rawconn_resp_free(&rr);

	size_t vlen = 128 * 1024;
	char *v = malloc(vlen);
	assert_non_null(v);
	memset(v, 'v', vlen);
	for (unsigned i = 0; i < 220; i++) {
		char k[32];
		struct berth_result r = {0};
		snprintf(k, sizeof(k), "o/%u", i % 8);
		assert_int_equal(berth_put(b, k, strlen(k), v, vlen, 0, &r), 0);
		berth_result_free(&r);
	}
	free(v);
	integ_put(b, "alive", "1");
	integ_expect(b, "alive", "1", false);

	/* Now read: frames of events, then the cancellation, then nothing for that watch. */
	bool cancelled = false;
	uint64_t end = cluster_now_ms() + 30000;
	for (unsigned i = 0; i < 100000 && !cancelled && cluster_now_ms() < end; i++) {
		int rv = rawconn_recv(fd, 5000, &rr);
		assert_int_equal(rv, RAWCONN_OK);
		assert_true(rr.resp.has_watch);
		assert_int_equal(rr.resp.watch.id, wid);
		if (rr.resp.watch.err != 0) {
			assert_int_equal(rr.resp.watch.err, BERTH_EWATCHOVERFLOW);
			cancelled = true;
		}
		rawconn_resp_free(&rr);
	}
	assert_true(cancelled);
	integ_put(b, "o/after", "1");
	assert_int_equal(rawconn_recv(fd, 500, &rr), RAWCONN_TIMEOUT);
	close(fd);
	berth_close(b);
	integ_finish(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_watch_events, integ_setup, integ_teardown),
		cmocka_unit_test_setup_teardown(test_watch_failover, integ_setup, integ_teardown),
		cmocka_unit_test_setup_teardown(test_watch_compacted_and_bad, integ_setup,
						integ_teardown),
		cmocka_unit_test_setup_teardown(test_watch_overflow, integ_setup, integ_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
